//! The constancy detector.
