//! [`DiagnoseConfig`]: the detectors' configurations plus the thresholds of the weighing.

use crate::detect::activity::ActivityConfig;
use crate::detect::constancy::ConstancyConfig;
use crate::detect::gradients::GradientConfig;
use crate::detect::plateau::PlateauConfig;
use crate::error::{Error, Result};

/// Everything [`diagnose_with`](super::diagnose_with) and the [`Monitor`](crate::monitor::Monitor)
/// read: one configuration per detector, and the thresholds that weigh their results.
///
/// The defaults were calibrated on the scenario corpus (`tests/scenarios.rs`); the measured
/// numbers behind each are in `docs/heuristics.md`.
///
/// ```
/// use vanishing_gradient::DiagnoseConfig;
///
/// let mut config = DiagnoseConfig::default();
/// config.gradients.vanishing_ratio = 1e-3; // stricter
/// assert!(config.validate().is_ok());
/// config.decay_factor = 1.5;
/// assert!(config.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DiagnoseConfig {
    /// The gradient-profile detector (vanishing ratio `1e-2`, exploding ratio `70`, loss growth
    /// `10x`, 10 recent epochs, 60% persistence).
    pub gradients: GradientConfig,
    /// The weight-constancy detector (relative update tolerance `1e-4`).
    pub constancy: ConstancyConfig,
    /// The activity detector (saturated share `0.5`, dead share `0.7`).
    pub activity: ActivityConfig,
    /// The loss-plateau detector (robust mode, window 10).
    pub plateau: PlateauConfig,
    /// The fewest epochs for any verdict other than [`Problem::NonFinite`](super::Problem).
    /// Fewer give [`Problem::InsufficientData`](super::Problem) with the number of epochs
    /// still needed. Default `5`. At least 2.
    pub min_epochs: usize,
    /// Per-layer decay factor of the gradient RMS across the hidden layers under which the
    /// gradient counts as attenuated layer by layer. Default `0.5`: the corpus's deep sigmoid
    /// nets measure 0.23, the healthy ReLU nets 0.96 to 1.02, the ReLU nets at a tiny
    /// learning rate 0.86 to 0.93. In `(0, 1)`.
    ///
    /// A first/last ratio under the vanishing ratio is only confirmed as a vanishing gradient
    /// when the hidden layers show it too (this factor, or the factor raised to the number of
    /// hidden-layer steps under the vanishing ratio): the output layer's gradient differs from
    /// the hidden layers' by the loss's own factor.
    pub decay_factor: f64,
    /// The fewest hidden layers with a gradient for the decay factor to be used. Default `3`.
    /// At least 2.
    pub min_hidden_layers: usize,
    /// Ratio of the first to the last layer's median relative weight update under which the
    /// weights alone suggest a vanishing gradient (the early layers barely move while the late
    /// ones do). Default `1e-2` (corpus: deep sigmoid about `1e-6`, tiny learning rate `0.03`,
    /// healthy about `0.3`). In `(0, 1]`.
    pub update_ratio: f64,
    /// The final loss level (median of the last [`tail_epochs`](Self::tail_epochs)) at or
    /// under this fraction of the first epoch's loss counts as converged. Default `0.01`
    /// (99% of the loss gone; corpus: the converging net reaches 0.2% to 0.5%). In `(0, 1)`.
    pub converged_fraction: f64,
    /// Optional loss at or under which the run counts as converged, replacing
    /// `converged_fraction` (give one for losses that can be negative). Default `None`.
    pub target_loss: Option<f64>,
    /// Epochs whose median loss is the final loss level. Default `3`. At least 1.
    pub tail_epochs: usize,
    /// The validation loss must rise at least this fraction above its best for overfitting.
    /// Default `0.1`. Finite and positive.
    pub overfitting_rise: f64,
    /// The best validation loss must lie at least this many epochs back for overfitting (as
    /// Keras `EarlyStopping`'s patience). Default `5`. At least 1.
    pub overfitting_patience: usize,
    /// The most loss windows the plateau detector evaluates. On longer histories `diagnose`
    /// raises the plateau detector's stride (up to its window, so no epoch is skipped) to stay
    /// near this budget; plateau boundaries are then placed to within the stride. Default
    /// `2000` (histories up to about 2000 epochs are analysed at every epoch). At least 1.
    pub max_plateau_windows: usize,
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        Self {
            gradients: GradientConfig::default(),
            constancy: ConstancyConfig::default(),
            activity: ActivityConfig::default(),
            plateau: PlateauConfig::default(),
            min_epochs: 5,
            decay_factor: 0.5,
            min_hidden_layers: 3,
            update_ratio: 1e-2,
            converged_fraction: 0.01,
            target_loss: None,
            tail_epochs: 3,
            overfitting_rise: 0.1,
            overfitting_patience: 5,
            max_plateau_windows: 2000,
        }
    }
}

fn invalid(name: &'static str, reason: String) -> Error {
    Error::InvalidArgument { name, reason }
}

impl DiagnoseConfig {
    /// The plateau configuration used for a history of `epochs` epochs: the configured one,
    /// with the stride raised so that at most about
    /// [`max_plateau_windows`](Self::max_plateau_windows) windows are evaluated (never beyond
    /// the window length).
    pub fn plateau_for(&self, epochs: usize) -> PlateauConfig {
        let windows = epochs.saturating_sub(self.plateau.window) + 1;
        let needed = windows.div_ceil(self.max_plateau_windows.max(1));
        PlateauConfig {
            stride: self.plateau.stride.max(needed).min(self.plateau.window),
            ..self.plateau.clone()
        }
    }

    /// Checks every detector's configuration and every threshold of the weighing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        self.gradients.validate()?;
        self.constancy.validate()?;
        self.activity.validate()?;
        self.plateau.validate()?;
        if self.min_epochs < 2 {
            return Err(invalid(
                "min_epochs",
                format!("must be at least 2, got {}", self.min_epochs),
            ));
        }
        if !(self.decay_factor > 0.0 && self.decay_factor < 1.0) {
            return Err(invalid(
                "decay_factor",
                format!("must lie in (0, 1), got {}", self.decay_factor),
            ));
        }
        if self.min_hidden_layers < 2 {
            return Err(invalid(
                "min_hidden_layers",
                format!("must be at least 2, got {}", self.min_hidden_layers),
            ));
        }
        if !(self.update_ratio > 0.0 && self.update_ratio <= 1.0) {
            return Err(invalid(
                "update_ratio",
                format!("must lie in (0, 1], got {}", self.update_ratio),
            ));
        }
        if !(self.converged_fraction > 0.0 && self.converged_fraction < 1.0) {
            return Err(invalid(
                "converged_fraction",
                format!("must lie in (0, 1), got {}", self.converged_fraction),
            ));
        }
        if let Some(target) = self.target_loss {
            if !target.is_finite() {
                return Err(invalid(
                    "target_loss",
                    format!("must be finite, got {target}"),
                ));
            }
        }
        if self.tail_epochs == 0 {
            return Err(invalid("tail_epochs", "must be at least 1".into()));
        }
        if !(self.overfitting_rise.is_finite() && self.overfitting_rise > 0.0) {
            return Err(invalid(
                "overfitting_rise",
                format!("must be finite and positive, got {}", self.overfitting_rise),
            ));
        }
        if self.max_plateau_windows == 0 {
            return Err(invalid("max_plateau_windows", "must be at least 1".into()));
        }
        if self.overfitting_patience == 0 {
            return Err(invalid("overfitting_patience", "must be at least 1".into()));
        }
        Ok(())
    }
}
