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
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod activation;
pub mod data;
pub mod detect;
pub mod diagnose;
pub mod error;
pub mod history;
pub mod init;
pub mod layer;
pub mod loss;
mod matmul;
pub mod monitor;
pub mod network;
pub mod optim;
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub mod plot;
pub mod report;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use diagnose::{diagnose, diagnose_with, DiagnoseConfig, Diagnosis};
pub use error::{Error, Result};

// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The names most programs need, in one import.
pub mod prelude {
    pub use crate::activation::{
        Activation, Elu, Gelu, Identity, LeakyRelu, Relu, Selu, Sigmoid, Silu, Softplus, Tanh,
    };
    pub use crate::data::Dataset;
    pub use crate::error::{Error, Result};
    pub use crate::init::Init;
    pub use crate::layer::{Dense, Layer};
    pub use crate::loss::{Loss, Mse};
    pub use crate::network::{EpochSummary, Network, NetworkBuilder};
    pub use crate::optim::{Adam, Optimizer, Sgd};
    pub use crate::report::{GradientReport, LayerReport};
}
