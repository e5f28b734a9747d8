//! Pure detectors over a training history, one concept per module.

pub mod activity;
pub mod constancy;
pub mod gradients;
pub mod plateau;
pub mod trend;
