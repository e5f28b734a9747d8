//! Weight constancy: which layers stopped moving, and in what depth order?
//!
//! Per layer and epoch the history holds the relative update
//! `||W_t - W_{t-1}|| / ||W_{t-1}||`. A layer is *constant* in an epoch when it is under
//! [`ConstancyConfig::tolerance`]; the detector reports every run of at least
//! [`ConstancyConfig::patience`] constant epochs in a row ([`FrozenRun`]), and per layer the
//! median relative update over its recent epochs. A layer whose recent median is under the
//! tolerance is *frozen*, and the depth order of the frozen layers gives the
//! [`FreezeSignature`]:
//!
//! - [`EarlyFrozenLateMoving`](FreezeSignature::EarlyFrozenLateMoving): the frozen layers are
//!   exactly the first ones, the later ones still move. The signature of a vanishing gradient.
//! - [`AllFrozen`](FreezeSignature::AllFrozen): every layer is frozen. Points elsewhere: a
//!   learning rate too small, a converged run, or a disconnected graph.
//! - [`NoneFrozen`](FreezeSignature::NoneFrozen), [`Mixed`](FreezeSignature::Mixed).
//!
//! Non-finite relative updates are left out of the medians and break runs (they are listed by
//! [`TrainingHistory::non_finite_values`]).
//!
//! ```
//! use vanishing_gradient::detect::constancy::{analyze_constancy, ConstancyConfig, FreezeSignature};
//! use vanishing_gradient::history::{EpochRecord, LayerRecord, TrainingHistory};
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let updates = [1e-7, 1e-6, 1e-2, 3e-2]; // per layer, input side first
//! let mut history = TrainingHistory::new();
//! for _ in 0..6 {
//!     let mut record = EpochRecord::new(0.69);
//!     for (depth, &update) in updates.iter().enumerate() {
//!         let mut layer = LayerRecord::new(format!("dense{depth}"));
//!         layer.relative_update = Some(update);
//!         record.layers.push(layer);
//!     }
//!     history.push(record)?;
//! }
//! let analysis = analyze_constancy(&history, &ConstancyConfig::default())?;
//! assert_eq!(analysis.signature, FreezeSignature::EarlyFrozenLateMoving { frozen_layers: 2 });
//! assert_eq!(analysis.frozen_runs.len(), 2);
//! assert!((analysis.first_to_last_median_ratio.unwrap() - 1e-7 / 3e-2).abs() < 1e-12);
//! # Ok(())
//! # }
//! ```

use super::gradients::median;
use crate::error::{Error, Result};
use crate::history::TrainingHistory;

/// Thresholds of the constancy detector.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConstancyConfig {
    /// A relative update under this counts as "no change". Default `1e-4`.
    ///
    /// Why: f32 keeps 24 significant bits (machine epsilon 1.2e-7), so a relative update under
    /// about `1e-6` cannot be told from rounding noise at all; the tolerance must sit well above
    /// that floor. A layer that changes by under 0.01% per epoch changes by at most 10% over a
    /// thousand epochs, even if every step pointed the same way, while a learning layer
    /// typically moves by `1e-3` to `1e-1` per epoch. Must be finite and positive; to be
    /// calibrated on a corpus of runs.
    pub tolerance: f64,
    /// How many constant epochs in a row make a [`FrozenRun`]. Default `3`. At least 1.
    pub patience: usize,
    /// How many of each layer's most recent (finite) relative updates enter its median.
    /// Default `10`. At least 1.
    pub recent_epochs: usize,
}

impl Default for ConstancyConfig {
    fn default() -> Self {
        Self {
            tolerance: 1e-4,
            patience: 3,
            recent_epochs: 10,
        }
    }
}

impl ConstancyConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first field that is NaN, not positive or zero.
    pub fn validate(&self) -> Result<()> {
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::InvalidArgument {
                name: "tolerance",
                reason: format!("must be finite and positive, got {}", self.tolerance),
            });
        }
        if self.patience == 0 {
            return Err(Error::InvalidArgument {
                name: "patience",
                reason: "must be at least 1".into(),
            });
        }
        if self.recent_epochs == 0 {
            return Err(Error::InvalidArgument {
                name: "recent_epochs",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// A run of consecutive epochs in which a layer's relative update stayed under the tolerance.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FrozenRun {
    /// The layer's depth.
    pub layer_index: usize,
    /// The layer's name.
    pub layer: String,
    /// The run's first epoch.
    pub first_epoch: usize,
    /// The run's last epoch.
    pub last_epoch: usize,
    /// The number of epochs in the run.
    pub epochs: usize,
    /// The largest relative update within the run.
    pub max_relative_update: f64,
}

/// One layer's recent movement.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LayerConstancy {
    /// The layer's depth.
    pub layer_index: usize,
    /// The layer's name.
    pub layer: String,
    /// The median of its most recent finite relative updates; `None` without any.
    pub median_relative_update: Option<f64>,
    /// How many relative updates entered the median.
    pub epochs_observed: usize,
    /// Whether the median is under the tolerance.
    pub frozen: bool,
}

/// The depth order of the frozen layers (among the layers with relative updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FreezeSignature {
    /// The first `frozen_layers` layers are frozen, all later ones move: the vanishing-gradient
    /// signature.
    EarlyFrozenLateMoving {
        /// How many leading layers are frozen.
        frozen_layers: usize,
    },
    /// Every layer is frozen: learning rate too small, converged, or disconnected.
    AllFrozen,
    /// No layer is frozen.
    NoneFrozen,
    /// Some layers are frozen, but not as a leading block.
    Mixed,
    /// No layer has a relative update (no weights, or a single epoch): nothing to tell.
    NoWeightUpdates,
}

/// The result of [`analyze_constancy`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConstancyAnalysis {
    /// The tolerance used.
    pub tolerance: f64,
    /// The patience used.
    pub patience: usize,
    /// Per layer in depth order, its recent movement.
    pub layers: Vec<LayerConstancy>,
    /// Every run of at least `patience` constant epochs, by layer then epoch.
    pub frozen_runs: Vec<FrozenRun>,
    /// The depth order of the frozen layers.
    pub signature: FreezeSignature,
    /// The first layer's median relative update divided by the last layer's (among layers
    /// with a median); `None` with fewer than two such layers or a zero last median.
    pub first_to_last_median_ratio: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct OpenRun {
    first_epoch: usize,
    last_epoch: usize,
    max_relative_update: f64,
}

/// Analyses weight constancy; see the [module documentation](self). Linear in epochs x layers.
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid.
pub fn analyze_constancy(
    history: &TrainingHistory,
    config: &ConstancyConfig,
) -> Result<ConstancyAnalysis> {
    config.validate()?;
    let names = history.layer_names();
    let layer_count = names.len();

    let mut frozen_runs = Vec::new();
    let mut layers = Vec::with_capacity(layer_count);
    let mut recent = Vec::with_capacity(config.recent_epochs);
    for (layer_index, name) in names.iter().enumerate() {
        let column = history.relative_update_column(layer_index).unwrap_or(&[]);
        // Runs: maximal stretches under the tolerance (NaN, missing or non-finite, breaks them).
        let mut open: Option<OpenRun> = None;
        let mut close = |run: OpenRun| {
            let epochs = run.last_epoch - run.first_epoch + 1;
            if epochs >= config.patience {
                frozen_runs.push(FrozenRun {
                    layer_index,
                    layer: (*name).to_owned(),
                    first_epoch: run.first_epoch,
                    last_epoch: run.last_epoch,
                    epochs,
                    max_relative_update: run.max_relative_update,
                });
            }
        };
        for (epoch, &update) in column.iter().enumerate() {
            if update < config.tolerance {
                match open.as_mut() {
                    Some(run) => {
                        run.last_epoch = epoch;
                        run.max_relative_update = run.max_relative_update.max(update);
                    }
                    None => {
                        open = Some(OpenRun {
                            first_epoch: epoch,
                            last_epoch: epoch,
                            max_relative_update: update,
                        })
                    }
                }
            } else if let Some(run) = open.take() {
                close(run);
            }
        }
        if let Some(run) = open {
            close(run);
        }
        // The median of the last `recent_epochs` recorded (finite) updates.
        recent.clear();
        recent.extend(
            column
                .iter()
                .rev()
                .filter(|u| !u.is_nan())
                .take(config.recent_epochs),
        );
        let median_relative_update = median(&mut recent);
        layers.push(LayerConstancy {
            layer_index,
            layer: (*name).to_owned(),
            median_relative_update,
            epochs_observed: recent.len(),
            frozen: median_relative_update.is_some_and(|m| m < config.tolerance),
        });
    }

    let observed: Vec<&LayerConstancy> = layers
        .iter()
        .filter(|l| l.median_relative_update.is_some())
        .collect();
    let frozen_count = observed.iter().filter(|l| l.frozen).count();
    let leading_frozen = observed.iter().take_while(|l| l.frozen).count();
    let signature = if observed.is_empty() {
        FreezeSignature::NoWeightUpdates
    } else if frozen_count == observed.len() {
        FreezeSignature::AllFrozen
    } else if frozen_count == 0 {
        FreezeSignature::NoneFrozen
    } else if leading_frozen == frozen_count {
        FreezeSignature::EarlyFrozenLateMoving {
            frozen_layers: frozen_count,
        }
    } else {
        FreezeSignature::Mixed
    };
    let first_to_last_median_ratio = match (observed.first(), observed.last()) {
        (Some(first), Some(last)) if first.layer_index != last.layer_index => {
            match (first.median_relative_update, last.median_relative_update) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            }
        }
        _ => None,
    };

    Ok(ConstancyAnalysis {
        tolerance: config.tolerance,
        patience: config.patience,
        layers,
        frozen_runs,
        signature,
        first_to_last_median_ratio,
    })
}
