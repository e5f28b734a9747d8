//! # vanishing-gradient
//!
//! Tells, with evidence, whether a stalled training run suffers from a vanishing (or exploding)
//! gradient, and what to change. Record what your trainer sees each epoch — the loss, each
//! layer's weights, its gradient if you have it — and call [`diagnose()`]:
//!
//! ```
//! use vanishing_gradient::diagnose::{Problem, Remedy};
//! use vanishing_gradient::history::Recorder;
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let mut recorder = Recorder::new();
//! // Your model: six layers of 64 weights. Here the gradient shrinks fourfold per layer on its
//! // way back to the input, as it does through a sigmoid stack, and the loss hardly moves.
//! let mut weights = vec![vec![0.5_f32; 64]; 6];
//! for epoch in 0..15 {
//!     let mut record = recorder.epoch(0.69 - 1e-4 * epoch as f64);
//!     for (depth, layer) in weights.iter_mut().enumerate() {
//!         let gradient = vec![0.1 * 0.25_f32.powi(5 - depth as i32); 64];
//!         record.layer(&format!("dense{depth}"))?.weights(layer)?.gradient(&gradient)?;
//!         layer.iter_mut().zip(&gradient).for_each(|(w, g)| *w -= 0.1 * g); // SGD
//!     }
//!     record.finish()?;
//! }
//! let diagnosis = vanishing_gradient::diagnose(recorder.history())?;
//! assert_eq!(diagnosis.problem, Problem::VanishingGradient);
//! assert!(diagnosis.findings[0].remedies.contains(&Remedy::ReluFamilyActivation));
//! println!("{diagnosis}"); // the verdict, the numbers against their thresholds, the remedies
//! # Ok(())
//! # }
//! ```
//!
//! The crate has two halves, usable on their own:
//!
//! - **Diagnosis** over a [`TrainingHistory`](history::TrainingHistory) that any trainer
//!   records through a [`Recorder`](history::Recorder) from plain `&[f32]`/`&[f64]` slices:
//!   the pure detectors in [`detect`] (loss plateau, weight constancy, gradient profile,
//!   activity), combined by [`diagnose()`] into a [`Diagnosis`] (most likely
//!   [`Problem`](diagnose::Problem), confidence, findings with evidence and remedies), and the
//!   online [`Monitor`](monitor::Monitor) for early warnings.
//! - **A backprop core** on `nalgebra`, generic over `f32` and `f64` ([`activation`], [`init`],
//!   [`loss`], [`optim`], [`layer`], [`network`]), that reproduces the problem and its fixes:
//!   its backward pass returns a [`GradientReport`](report::GradientReport) and it records
//!   into the same `Recorder` ([`Network::record_epoch`](network::Network::record_epoch)).
//!
//! `cargo run --release --example quickstart` trains a deep sigmoid network and the same depth
//! with ReLU and He initialisation on built-in synthetic data and prints both diagnoses.
//!
//! # Crate features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `parallel` | yes | large matrix products and element-wise passes of the core on two rayon threads |
//! | `serde` | no | `Serialize`/`Deserialize` for histories, reports and diagnoses; the versioned JSON history format (`TrainingHistory::from_json_str`, docs/history-format.md) |
//! | `plot` | no | [`plot`]: SVG plots of a history (loss with plateaus, weights per layer, gradient flow, updates) |
//! | `cli` | no | the `vanishing-gradient` command line (`vanishing-gradient diagnose history.json`) |
//! | `testing` | no | [`testing`]: finite-difference checks and proptest strategies for your own activations |
#![forbid(unsafe_code)]
#![deny(missing_docs)]
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
mod explicit_simd;
pub mod history;
pub mod init;
mod lanes;
pub mod layer;
pub mod loss;
mod matmul;
pub mod monitor;
pub mod network;
pub mod optim;
mod parallel_split;
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub mod plot;
pub mod report;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod vectorised;
mod weight_statistics;

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
