//! The gradients detector.
