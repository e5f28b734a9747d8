//! The activity detector.
