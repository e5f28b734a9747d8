//! # vanishing-gradient
//!
//! Tells, with evidence, whether a stalled training run suffers from a vanishing (or exploding)
//! gradient, and what to change. Two halves:
//!
//! - a backprop core on `nalgebra` ([`activation`], [`init`], [`loss`], [`optim`]), generic over
//!   `f32` and `f64`, that reproduces the problem and its fixes end to end;
//! - pure detectors over a training history ([`history`], [`detect`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod detect;
pub mod error;
pub mod history;
pub mod init;
pub mod loss;
pub mod optim;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use error::{Error, Result};
