//! Online diagnosis: feed each epoch's record as it finishes, get an early warning.
//!
//! A [`Monitor`] applies the same thresholds as [`diagnose_with`](crate::diagnose_with) (one
//! [`DiagnoseConfig`]) to a sliding window, epoch by epoch, in `O(layers)` work and memory per
//! epoch: it keeps the last [`window`](Monitor::window) epochs' summary statistics in a ring
//! buffer and a few counters per layer, never the whole history.
//!
//! Each call to [`observe`](Monitor::observe) returns the most urgent [`Warning`] that holds at
//! that epoch, if any, checked in this order:
//!
//! 1. [`Problem::NonFinite`]: a NaN or infinite loss or statistic in this epoch;
//! 2. [`Problem::ExplodingGradient`]: the loss reached `loss_growth_factor` times the first
//!    epoch's;
//! 3. [`Problem::DeadUnits`]: a layer whose gradient was exactly zero, or whose dead-unit share
//!    was at or above the threshold, for `min_epochs_observed` epochs in a row;
//! 4. [`Problem::VanishingGradient`]: the first/last gradient RMS ratio under the vanishing
//!    ratio in at least `min_persistence` of the window's epochs (at least
//!    `min_epochs_observed` of them), confirmed by the hidden layers' decay as in
//!    [`diagnose`](crate::diagnose()), while the loss has not converged;
//! 5. [`Problem::Saturation`]: a layer with its saturated share at or above the threshold for
//!    `min_epochs_observed` epochs in a row;
//! 6. [`Problem::LearningRateTooSmall`]: every layer's relative update under the constancy
//!    tolerance for `patience` epochs in a row while the gradient flows and the loss improved
//!    by less than the stuck fraction.
//!
//! A loss plateau of unknown cause is not an early warning: call [`diagnose`](crate::diagnose())
//! on the recorded history for the full differential diagnosis.
//!
//! ```
//! use vanishing_gradient::diagnose::Problem;
//! use vanishing_gradient::history::{EpochRecord, GradientStats, LayerRecord};
//! use vanishing_gradient::monitor::Monitor;
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let mut monitor = Monitor::default();
//! let mut warned_at = None;
//! for epoch in 0..10 {
//!     let mut record = EpochRecord::new(0.69);
//!     for depth in 0..8 {
//!         let rms = 0.25_f64.powi(7 - depth); // 4x smaller per layer towards the input
//!         let mut layer = LayerRecord::new(format!("dense{depth}"));
//!         layer.gradient = Some(GradientStats { l2: rms * 8.0, rms, max_abs: rms, count: 64 });
//!         record.layers.push(layer);
//!     }
//!     if let Some(warning) = monitor.observe(&record)? {
//!         assert_eq!(warning.finding.problem, Problem::VanishingGradient);
//!         warned_at.get_or_insert(warning.epoch);
//!     }
//! }
//! assert_eq!(warned_at, Some(2)); // the third epoch: three epochs agree
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;

use crate::detect::gradients::median;
use crate::diagnose::{DiagnoseConfig, Evidence, Finding, Problem, Remedy, Severity};
use crate::error::{Error, Result};
use crate::history::EpochRecord;

/// An early warning: the epoch at which a condition held, and the finding.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Warning {
    /// The epoch (0-based count of observed epochs) at which the warning was raised.
    pub epoch: usize,
    /// What holds, with its evidence and remedies.
    pub finding: Finding,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {}: {}", self.epoch, self.finding)
    }
}

/// One epoch's summary, as kept in the ring buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
struct EpochSummary {
    first_to_last_ratio: Option<f64>,
    decay_factor: Option<f64>,
    hidden_layers: usize,
}

/// Feeds on epochs as they finish and warns early; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Monitor {
    config: DiagnoseConfig,
    observed: usize,
    layer_names: Vec<String>,
    first_loss: Option<f64>,
    recent: VecDeque<EpochSummary>,
    zero_gradient_run: Vec<usize>,
    dead_run: Vec<usize>,
    saturated_run: Vec<usize>,
    frozen_run: usize,
    scratch: Vec<f64>,
    first_warning: Option<Warning>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self::from_valid(DiagnoseConfig::default())
    }
}

fn usable(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

impl Monitor {
    /// A monitor with the thresholds of `config`; the window is
    /// `config.gradients.recent_epochs`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the configuration is invalid
    /// (see [`DiagnoseConfig::validate`]).
    pub fn new(config: DiagnoseConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::from_valid(config))
    }

    fn from_valid(config: DiagnoseConfig) -> Self {
        let window = config.gradients.recent_epochs;
        Self {
            config,
            observed: 0,
            layer_names: Vec::new(),
            first_loss: None,
            recent: VecDeque::with_capacity(window),
            zero_gradient_run: Vec::new(),
            dead_run: Vec::new(),
            saturated_run: Vec::new(),
            frozen_run: 0,
            scratch: Vec::new(),
            first_warning: None,
        }
    }

    /// The number of epochs whose statistics the ring buffer keeps.
    pub fn window(&self) -> usize {
        self.config.gradients.recent_epochs
    }

    /// The configuration.
    pub fn config(&self) -> &DiagnoseConfig {
        &self.config
    }

    /// How many epochs were observed.
    pub fn epochs_observed(&self) -> usize {
        self.observed
    }

    /// The first warning raised, if any.
    pub fn first_warning(&self) -> Option<&Warning> {
        self.first_warning.as_ref()
    }

    /// Observes the next epoch and returns the most urgent warning that holds now, if any
    /// (a warning is returned for every epoch in which its condition holds; see
    /// [`first_warning`](Monitor::first_warning) for the earliest). `O(layers)` work.
    ///
    /// # Errors
    /// [`Error::History`] if the epoch's layer list differs from the first observed epoch's;
    /// the epoch is then not counted.
    pub fn observe(&mut self, record: &EpochRecord) -> Result<Option<Warning>> {
        self.check_layers(record)?;
        let epoch = self.observed;
        self.observed += 1;
        if self.first_loss.is_none() && record.loss.is_finite() {
            self.first_loss = Some(record.loss);
        }
        let summary = self.summarise(record);
        if self.recent.len() == self.window() {
            self.recent.pop_front();
        }
        self.recent.push_back(summary);
        self.update_runs(record);
        let warning = self
            .non_finite(record)
            .or_else(|| self.exploding(record))
            .or_else(|| self.dead_units())
            .or_else(|| self.vanishing(record))
            .or_else(|| self.saturation(record))
            .or_else(|| self.learning_rate_too_small(record))
            .map(|finding| Warning { epoch, finding });
        if self.first_warning.is_none() {
            self.first_warning.clone_from(&warning);
        }
        Ok(warning)
    }

    fn check_layers(&mut self, record: &EpochRecord) -> Result<()> {
        let error = |reason: String, layer: Option<String>| Error::History {
            epoch: Some(self.observed),
            layer,
            reason,
        };
        if self.observed == 0 {
            let mut seen = std::collections::HashSet::with_capacity(record.layers.len());
            for layer in &record.layers {
                if !seen.insert(layer.name.as_str()) {
                    return Err(error(
                        "layer name appears twice in the epoch".into(),
                        Some(layer.name.clone()),
                    ));
                }
            }
            self.layer_names = record.layers.iter().map(|l| l.name.clone()).collect();
            let layers = self.layer_names.len();
            self.zero_gradient_run = vec![0; layers];
            self.dead_run = vec![0; layers];
            self.saturated_run = vec![0; layers];
            self.scratch = Vec::with_capacity(layers);
            return Ok(());
        }
        if record.layers.len() != self.layer_names.len() {
            return Err(error(
                format!(
                    "layer list differs from the first epoch: {} layers instead of {}",
                    record.layers.len(),
                    self.layer_names.len()
                ),
                None,
            ));
        }
        for (expected, found) in self.layer_names.iter().zip(&record.layers) {
            if *expected != found.name {
                return Err(error(
                    format!("layer list differs from the first epoch: expected `{expected}`"),
                    Some(found.name.clone()),
                ));
            }
        }
        Ok(())
    }

    /// The first/last ratio and the hidden-layer decay factor: the median of the per-layer
    /// log-RMS steps between consecutive hidden layers (a robust slope in `O(layers)`).
    fn summarise(&mut self, record: &EpochRecord) -> EpochSummary {
        let rms = |i: usize| record.layers.get(i).and_then(|l| l.gradient).map(|g| g.rms);
        let first = (0..record.layers.len()).find_map(|i| rms(i).map(|r| (i, r)));
        let last = (0..record.layers.len())
            .rev()
            .find_map(|i| rms(i).map(|r| (i, r)));
        let first_to_last_ratio = match (first, last) {
            (Some((i, a)), Some((j, b))) if i != j && usable(a) && usable(b) => Some(a / b),
            _ => None,
        };
        let hidden_end = if self.config.gradients.exclude_output_layer {
            record.layers.len().saturating_sub(1)
        } else {
            record.layers.len()
        };
        self.scratch.clear();
        let mut previous: Option<(usize, f64)> = None;
        let mut hidden_layers = 0;
        for i in 0..hidden_end {
            if let Some(r) = rms(i).filter(|&r| usable(r)) {
                hidden_layers += 1;
                if let Some((j, p)) = previous {
                    self.scratch.push((r.ln() - p.ln()) / (i - j) as f64);
                }
                previous = Some((i, r));
            }
        }
        let decay_factor = median(&mut self.scratch).map(|slope| (-slope).exp());
        EpochSummary {
            first_to_last_ratio,
            decay_factor,
            hidden_layers,
        }
    }

    fn update_runs(&mut self, record: &EpochRecord) {
        let activity = &self.config.activity;
        let mut all_frozen = true;
        let mut any_update = false;
        for (i, layer) in record.layers.iter().enumerate() {
            let zero = layer.gradient.is_some_and(|g| g.l2 == 0.0 || g.rms == 0.0);
            let dead = layer
                .activity
                .is_some_and(|a| a.dead_share >= activity.dead_share);
            let saturated = layer
                .activity
                .is_some_and(|a| a.saturated_share >= activity.saturated_share);
            for (run, holds) in [
                (&mut self.zero_gradient_run, zero),
                (&mut self.dead_run, dead),
                (&mut self.saturated_run, saturated),
            ] {
                if let Some(count) = run.get_mut(i) {
                    *count = if holds { *count + 1 } else { 0 };
                }
            }
            if let Some(update) = layer.relative_update {
                any_update = true;
                all_frozen &= update < self.config.constancy.tolerance;
            }
        }
        self.frozen_run = if any_update && all_frozen {
            self.frozen_run + 1
        } else {
            0
        };
    }

    fn loss_improvement(&self, record: &EpochRecord) -> Option<f64> {
        match self.first_loss {
            Some(first) if first != 0.0 && record.loss.is_finite() => {
                Some((first - record.loss) / first.abs())
            }
            _ => None,
        }
    }

    fn converged(&self, record: &EpochRecord) -> bool {
        match (self.config.target_loss, self.first_loss) {
            (Some(target), _) => record.loss <= target,
            (None, Some(first)) => {
                first > 0.0 && record.loss <= self.config.converged_fraction * first
            }
            _ => false,
        }
    }

    fn non_finite(&self, record: &EpochRecord) -> Option<Finding> {
        let loss_bad =
            !record.loss.is_finite() || record.validation_loss.is_some_and(|v| !v.is_finite());
        let layers: Vec<String> = record
            .layers
            .iter()
            .filter(|l| {
                let weights = [l.weight_l2, l.relative_update];
                weights.iter().flatten().any(|v| !v.is_finite())
                    || l.gradient.is_some_and(|g| {
                        !(g.l2.is_finite() && g.rms.is_finite() && g.max_abs.is_finite())
                    })
                    || l.activity.is_some_and(|a| {
                        !(a.mean_derivative_ratio.is_finite()
                            && a.saturated_share.is_finite()
                            && a.dead_share.is_finite())
                    })
            })
            .map(|l| l.name.clone())
            .collect();
        if !loss_bad && layers.is_empty() {
            return None;
        }
        let epoch = self.observed - 1;
        let place = match layers.first() {
            Some(layer) if !loss_bad => format!(" in layer {layer}"),
            Some(layer) => format!(" (loss, and layer {layer})"),
            None => " (loss)".to_owned(),
        };
        Some(
            Finding::new(
                Problem::NonFinite,
                Severity::Critical,
                1.0,
                format!("non-finite values at epoch {epoch}{place}"),
            )
            .epochs(epoch, epoch)
            .layers(layers.iter().cloned())
            .evidence(Evidence::above(
                "layers with non-finite statistics",
                layers.len() as f64,
                0.0,
            ))
            .remedies(&[
                Remedy::DecreaseLearningRate,
                Remedy::GradientClipping,
                Remedy::CheckInputs,
            ]),
        )
    }

    fn exploding(&self, record: &EpochRecord) -> Option<Finding> {
        let first = self.first_loss.filter(|&f| f > 0.0)?;
        let growth = record.loss / first;
        let threshold = self.config.gradients.loss_growth_factor;
        if growth.is_nan() || growth < threshold {
            return None;
        }
        let epoch = self.observed - 1;
        Some(
            Finding::new(
                Problem::ExplodingGradient,
                Severity::Critical,
                0.8,
                format!("the loss grew {growth:.3}x since the first epoch by epoch {epoch}"),
            )
            .epochs(0, epoch)
            .evidence(Evidence::above(
                "loss / first epoch's loss",
                growth,
                threshold,
            ))
            .remedies(&[
                Remedy::GradientClipping,
                Remedy::DecreaseLearningRate,
                Remedy::Normalisation,
            ]),
        )
    }

    fn persistent_layers(&self, runs: &[usize]) -> Vec<String> {
        let needed = self.config.gradients.min_epochs_observed;
        runs.iter()
            .zip(&self.layer_names)
            .filter(|(run, _)| **run >= needed)
            .map(|(_, name)| name.clone())
            .collect()
    }

    fn dead_units(&self) -> Option<Finding> {
        let needed = self.config.gradients.min_epochs_observed;
        let mut layers = Vec::new();
        for ((zero, dead), name) in self
            .zero_gradient_run
            .iter()
            .zip(&self.dead_run)
            .zip(&self.layer_names)
        {
            if *zero >= needed || *dead >= needed {
                layers.push(name.clone());
            }
        }
        if layers.is_empty() {
            return None;
        }
        let epoch = self.observed - 1;
        let longest = self
            .zero_gradient_run
            .iter()
            .chain(&self.dead_run)
            .copied()
            .max()
            .unwrap_or(0);
        Some(
            Finding::new(
                Problem::DeadUnits,
                Severity::Warning,
                0.85,
                format!(
                    "{} layer(s) with dead units (exactly zero gradient or most units never \
                     active) for {longest} epochs in a row",
                    layers.len()
                ),
            )
            .epochs((epoch + 1).saturating_sub(longest), epoch)
            .layers(layers)
            .evidence(Evidence::above(
                "consecutive epochs with a zero gradient or dead units",
                longest as f64,
                needed as f64,
            ))
            .remedies(&[
                Remedy::ResetBiases,
                Remedy::LeakyActivation,
                Remedy::HeInitialisation,
                Remedy::DecreaseLearningRate,
            ]),
        )
    }

    fn vanishing(&mut self, record: &EpochRecord) -> Option<Finding> {
        let config = &self.config;
        let threshold = config.gradients.vanishing_ratio;
        let observed = self
            .recent
            .iter()
            .filter(|s| s.first_to_last_ratio.is_some())
            .count();
        let under = self
            .recent
            .iter()
            .filter(|s| s.first_to_last_ratio.is_some_and(|r| r < threshold))
            .count();
        if observed < config.gradients.min_epochs_observed
            || (under as f64) < config.gradients.min_persistence * observed as f64
            || self.converged(record)
        {
            return None;
        }
        let hidden = self.recent.back().map_or(0, |s| s.hidden_layers);
        self.scratch.clear();
        self.scratch
            .extend(self.recent.iter().filter_map(|s| s.first_to_last_ratio));
        let median_ratio = median(&mut self.scratch)?;
        self.scratch.clear();
        self.scratch
            .extend(self.recent.iter().filter_map(|s| s.decay_factor));
        let decay = median(&mut self.scratch).filter(|_| hidden >= config.min_hidden_layers);
        let steps = hidden.saturating_sub(1) as i32;
        let decay_attenuates = decay.is_some_and(|d| d < config.decay_factor);
        let confirmed = decay.is_none_or(|d| decay_attenuates || d.powi(steps) < threshold);
        if !confirmed {
            return None;
        }
        let persistence = under as f64 / observed as f64;
        let stuck = self
            .loss_improvement(record)
            .is_some_and(|i| i < config.plateau.stuck_fraction);
        let mut confidence = 0.6 * persistence;
        if decay_attenuates {
            confidence += 0.15;
        }
        if stuck {
            confidence += 0.1;
        }
        let epoch = self.observed - 1;
        let mut finding = Finding::new(
            Problem::VanishingGradient,
            Severity::Warning,
            confidence,
            format!(
                "the first layer's gradient RMS is {median_ratio:.1e} of the output layer's in \
                 {under} of the last {observed} epochs"
            ),
        )
        .epochs((epoch + 1).saturating_sub(self.recent.len()), epoch)
        .layers(self.layer_names.first().cloned())
        .evidence(Evidence::below(
            "first/last gradient RMS ratio (median)",
            median_ratio,
            threshold,
        ));
        if let Some(d) = decay {
            finding = finding.evidence(Evidence::below(
                format!("hidden-layer gradient decay factor per layer ({hidden} layers)"),
                d,
                config.decay_factor,
            ));
        }
        Some(finding.remedies(&[
            Remedy::ReluFamilyActivation,
            Remedy::HeInitialisation,
            Remedy::Normalisation,
            Remedy::ResidualConnections,
            Remedy::Adam,
        ]))
    }

    fn saturation(&self, record: &EpochRecord) -> Option<Finding> {
        let layers = self.persistent_layers(&self.saturated_run);
        if layers.is_empty() {
            return None;
        }
        let largest_share = record
            .layers
            .iter()
            .filter_map(|l| l.activity.map(|a| a.saturated_share))
            .fold(0.0_f64, f64::max);
        let epoch = self.observed - 1;
        let needed = self.config.gradients.min_epochs_observed;
        Some(
            Finding::new(
                Problem::Saturation,
                Severity::Warning,
                0.6,
                format!(
                    "{} layer(s) with most units saturated for {needed}+ epochs in a row",
                    layers.len()
                ),
            )
            .epochs((epoch + 1).saturating_sub(needed), epoch)
            .layers(layers)
            .evidence(Evidence::above(
                "largest saturated unit share this epoch",
                largest_share,
                self.config.activity.saturated_share,
            ))
            .remedies(&[
                Remedy::ReluFamilyActivation,
                Remedy::GlorotInitialisation,
                Remedy::Normalisation,
            ]),
        )
    }

    fn learning_rate_too_small(&self, record: &EpochRecord) -> Option<Finding> {
        let config = &self.config;
        let patience = config
            .constancy
            .patience
            .max(config.gradients.min_epochs_observed);
        let improvement = self.loss_improvement(record)?;
        if self.frozen_run < patience
            || improvement >= config.plateau.stuck_fraction
            || self.converged(record)
        {
            return None;
        }
        let epoch = self.observed - 1;
        Some(
            Finding::new(
                Problem::LearningRateTooSmall,
                Severity::Warning,
                0.7,
                format!(
                    "every layer's relative update stayed under {:.0e} for {} epochs while the \
                     loss improved by {:.1}%",
                    config.constancy.tolerance,
                    self.frozen_run,
                    improvement * 100.0
                ),
            )
            .epochs((epoch + 1).saturating_sub(self.frozen_run), epoch)
            .layers(self.layer_names.iter().cloned())
            .evidence(Evidence::above(
                "consecutive epochs with every layer frozen",
                self.frozen_run as f64,
                patience as f64,
            ))
            .evidence(Evidence::below(
                "loss improvement since the first epoch (fraction)",
                improvement,
                config.plateau.stuck_fraction,
            ))
            .remedies(&[Remedy::IncreaseLearningRate, Remedy::Adam]),
        )
    }
}
