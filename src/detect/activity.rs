//! Activity: saturated and dead units, persisting over the recent epochs.
//!
//! Reads each layer's [`ActivityStats`]:
//!
//! - **Saturation.** The share of units whose mean derivative is under 1% of the activation's
//!   maximum. A layer is saturated in an epoch when that share reaches
//!   [`ActivityConfig::saturated_share`] (default 0.5: DeepDiagnosis flags a layer when more
//!   than half its units sit at `|z| >= 5`). The mean derivative relative to its maximum is
//!   reported alongside: it tells how strongly the layer attenuates the gradient, saturated
//!   or not (a sigmoid layer in its linear range still passes at most 1/4 of it, which the
//!   ratio of the *mean* to the *maximum* hides; see the gradient profile for that).
//! - **Dead units.** The share of units that never activate over a batch. A layer is dead in
//!   an epoch when it reaches [`ActivityConfig::dead_share`] (default 0.7, as in AUTOTRAINER
//!   and DeepDiagnosis).
//!
//! A condition is reported for a layer when it holds in at least
//! [`ActivityConfig::min_persistence`] of the layer's recent epochs with activity data (and in
//! at least [`ActivityConfig::min_epochs_observed`] of them).
//!
//! ```
//! use vanishing_gradient::detect::activity::{analyze_activity, ActivityConfig, ActivityProblem};
//! use vanishing_gradient::history::{ActivityStats, EpochRecord, LayerRecord, TrainingHistory};
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let mut history = TrainingHistory::new();
//! for _ in 0..5 {
//!     let mut record = EpochRecord::new(2.3);
//!     let mut layer = LayerRecord::new("relu1");
//!     layer.activity = Some(ActivityStats {
//!         mean_derivative_ratio: 0.1,
//!         saturated_share: 0.9,
//!         dead_share: 0.9,
//!     });
//!     record.layers.push(layer);
//!     history.push(record)?;
//! }
//! let analysis = analyze_activity(&history, &ActivityConfig::default())?;
//! assert!(analysis
//!     .findings
//!     .iter()
//!     .any(|f| f.problem == ActivityProblem::Dead && f.layer == "relu1"));
//! # Ok(())
//! # }
//! ```

use super::gradients::{median, validate_window};
use crate::error::{Error, Result};
use crate::history::{ActivityStats, TrainingHistory};

/// Thresholds of the activity detector.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActivityConfig {
    /// The saturated share from which a layer counts as saturated. Default `0.5`. In `(0, 1]`.
    pub saturated_share: f64,
    /// The dead share from which a layer counts as dead. Default `0.7`. In `(0, 1]`.
    pub dead_share: f64,
    /// How many of each layer's most recent epochs with activity data are examined.
    /// Default `10`. At least 1.
    pub recent_epochs: usize,
    /// The share of the examined epochs on which a condition must hold. Default `0.6`.
    /// In `(0, 1]`.
    pub min_persistence: f64,
    /// The fewest examined epochs needed for a finding. Default `3`; at most `recent_epochs`.
    pub min_epochs_observed: usize,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            saturated_share: 0.5,
            dead_share: 0.7,
            recent_epochs: 10,
            min_persistence: 0.6,
            min_epochs_observed: 3,
        }
    }
}

impl ActivityConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first field that is NaN or out of range.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("saturated_share", self.saturated_share),
            ("dead_share", self.dead_share),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(Error::InvalidArgument {
                    name,
                    reason: format!("must lie in (0, 1], got {value}"),
                });
            }
        }
        validate_window(
            self.recent_epochs,
            self.min_persistence,
            self.min_epochs_observed,
        )
    }
}

/// Which activity problem a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ActivityProblem {
    /// Most units saturated: derivatives under 1% of the maximum.
    Saturated,
    /// Most units never active over a batch.
    Dead,
}

/// One layer's recent activity.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LayerActivity {
    /// The layer's depth.
    pub layer_index: usize,
    /// The layer's name.
    pub layer: String,
    /// How many recent epochs with finite activity data were examined.
    pub epochs_observed: usize,
    /// Median mean-derivative ratio over them.
    pub median_mean_derivative_ratio: Option<f64>,
    /// Median saturated share over them.
    pub median_saturated_share: Option<f64>,
    /// Median dead share over them.
    pub median_dead_share: Option<f64>,
}

/// A persistent activity problem in one layer.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActivityFinding {
    /// What the problem is.
    pub problem: ActivityProblem,
    /// The layer's depth.
    pub layer_index: usize,
    /// The layer's name.
    pub layer: String,
    /// The first examined epoch where the condition held.
    pub first_epoch: usize,
    /// How many examined epochs it held in.
    pub epochs_flagged: usize,
    /// How many epochs were examined.
    pub epochs_observed: usize,
    /// The median share (saturated or dead) over the examined epochs.
    pub median_share: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
}

/// The result of [`analyze_activity`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActivityAnalysis {
    /// The saturated-share threshold used.
    pub saturated_share_threshold: f64,
    /// The dead-share threshold used.
    pub dead_share_threshold: f64,
    /// Per layer in depth order.
    pub layers: Vec<LayerActivity>,
    /// Persistent problems, by layer (saturation before death within a layer).
    pub findings: Vec<ActivityFinding>,
}

fn finite(stats: &ActivityStats) -> bool {
    stats.mean_derivative_ratio.is_finite()
        && stats.saturated_share.is_finite()
        && stats.dead_share.is_finite()
}

/// Analyses activation saturation and dead units; see the [module documentation](self).
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid.
pub fn analyze_activity(
    history: &TrainingHistory,
    config: &ActivityConfig,
) -> Result<ActivityAnalysis> {
    config.validate()?;
    let names = history.layer_names();
    // Each layer's last `recent_epochs` finite observations, newest first.
    let mut recent: Vec<Vec<(usize, ActivityStats)>> =
        vec![Vec::with_capacity(config.recent_epochs); names.len()];
    let mut complete = 0;
    for (epoch, record) in history.epochs().iter().enumerate().rev() {
        if complete == names.len() {
            break;
        }
        for (observed, layer) in recent.iter_mut().zip(&record.layers) {
            if observed.len() < config.recent_epochs {
                if let Some(stats) = layer.activity.filter(finite) {
                    observed.push((epoch, stats));
                    if observed.len() == config.recent_epochs {
                        complete += 1;
                    }
                }
            }
        }
    }

    let mut layers = Vec::with_capacity(names.len());
    let mut findings = Vec::new();
    let mut buffer = Vec::with_capacity(config.recent_epochs);
    for (index, (observed, name)) in recent.iter().zip(&names).enumerate() {
        let mut median_of = |field: fn(&ActivityStats) -> f64| {
            buffer.clear();
            buffer.extend(observed.iter().map(|(_, s)| field(s)));
            median(&mut buffer)
        };
        let median_mean_derivative_ratio = median_of(|s| s.mean_derivative_ratio);
        let median_saturated_share = median_of(|s| s.saturated_share);
        let median_dead_share = median_of(|s| s.dead_share);
        let checks = [
            (
                ActivityProblem::Saturated,
                config.saturated_share,
                median_saturated_share,
                (|s| s.saturated_share) as fn(&ActivityStats) -> f64,
            ),
            (
                ActivityProblem::Dead,
                config.dead_share,
                median_dead_share,
                |s| s.dead_share,
            ),
        ];
        for (problem, threshold, median_share, field) in checks {
            let flagged: Vec<usize> = observed
                .iter()
                .filter(|(_, s)| field(s) >= threshold)
                .map(|&(epoch, _)| epoch)
                .collect();
            let persists = observed.len() >= config.min_epochs_observed
                && flagged.len() as f64 >= config.min_persistence * observed.len() as f64;
            if let (true, Some(&first_epoch), Some(median_share)) =
                (persists, flagged.iter().min(), median_share)
            {
                findings.push(ActivityFinding {
                    problem,
                    layer_index: index,
                    layer: (*name).to_owned(),
                    first_epoch,
                    epochs_flagged: flagged.len(),
                    epochs_observed: observed.len(),
                    median_share,
                    threshold,
                });
            }
        }
        layers.push(LayerActivity {
            layer_index: index,
            layer: (*name).to_owned(),
            epochs_observed: observed.len(),
            median_mean_derivative_ratio,
            median_saturated_share,
            median_dead_share,
        });
    }
    Ok(ActivityAnalysis {
        saturated_share_threshold: config.saturated_share,
        dead_share_threshold: config.dead_share,
        layers,
        findings,
    })
}
