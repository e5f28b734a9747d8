//! The plateau detector.
