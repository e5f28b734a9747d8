//! The gradient profile: does the gradient shrink (vanish) or grow (explode) with depth?
//!
//! Per epoch the detector reads each layer's gradient RMS (per-element, so layers of different
//! sizes compare), in depth order, and derives:
//!
//! - the **first/last ratio**: the RMS of the first layer with a gradient divided by the last
//!   one's (the output layer). Undefined (`None`, never NaN) when either is zero or non-finite.
//! - the **decay factor**: the factor by which the RMS is multiplied per layer as the gradient
//!   flows back one layer towards the input, `exp(-slope)` of a robust (Theil-Sen: median of
//!   pairwise slopes) fit of `ln RMS` against depth over the *hidden* layers. The output layer
//!   is left out by default: its gradient differs from the hidden layers' by the loss's own
//!   factor, in healthy runs too. Below 1 the gradient shrinks towards the input.
//! - the **first layer under the threshold, counting from the output**: walking from the
//!   output towards the input, the first layer whose RMS is under `vanishing_ratio` times the
//!   output layer's.
//!
//! **Vanishing** is reported when the first/last ratio is under
//! [`GradientConfig::vanishing_ratio`] in at least [`GradientConfig::min_persistence`] of the
//! recent epochs with gradients (and at least [`GradientConfig::min_epochs_observed`] of them).
//! The verdict depends on ratios only: scaling every gradient by a constant does not change it.
//!
//! **Exploding** evidence is listed separately: non-finite values (loss, weights, gradients,
//! naming the first epoch and layer), a first/last ratio above
//! [`GradientConfig::exploding_ratio`] that persists, or a loss that grows past
//! [`GradientConfig::loss_growth_factor`] times the first epoch's.
//!
//! Layers whose gradient is exactly zero (dead ReLU layers, disconnected layers) give ratios
//! `0/0`: they are left out of every ratio and named in [`ZeroGradientFinding`]s instead.
//!
//! ```
//! use vanishing_gradient::detect::gradients::{analyze_gradients, GradientConfig};
//! use vanishing_gradient::history::{EpochRecord, GradientStats, LayerRecord, TrainingHistory};
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! // five layers, the gradient RMS shrinking 4x per layer towards the input
//! let mut history = TrainingHistory::new();
//! for epoch in 0..5 {
//!     let mut record = EpochRecord::new(0.69);
//!     for depth in 0..5 {
//!         let rms = 0.25_f64.powi(4 - depth);
//!         let mut layer = LayerRecord::new(format!("dense{depth}"));
//!         layer.gradient = Some(GradientStats { l2: rms * 10.0, rms, max_abs: rms, count: 100 });
//!         record.layers.push(layer);
//!     }
//!     history.push(record)?;
//! }
//! let analysis = analyze_gradients(&history, &GradientConfig::default())?;
//! let vanishing = analysis.vanishing.expect("a 256x decay is vanishing");
//! assert!((vanishing.median_ratio - 0.25_f64.powi(4)).abs() < 1e-12);
//! assert!((analysis.median_decay_factor.unwrap() - 0.25).abs() < 1e-9);
//! // 0.25^3 = 0.016 is above 1e-2, 0.25^4 = 0.004 under it: layer 0, four layers back
//! assert_eq!(vanishing.first_under_threshold_from_output, Some(0));
//! # Ok(())
//! # }
//! ```

use crate::error::{Error, Result};
use crate::history::{EpochRecord, Quantity, TrainingHistory};

/// Thresholds of the gradient-profile detector. The defaults are starting points, to be
/// calibrated on a corpus of runs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GradientConfig {
    /// First/last gradient RMS ratio under which the gradient counts as vanished. Default
    /// `1e-2`: the first layer then gets under 1% of the output layer's per-element gradient,
    /// so under plain SGD it learns about 100x slower. (AUTOTRAINER flags an L2-norm ratio
    /// under `1e-3`; L2 ratios also carry the square root of the layers' size ratio, RMS ratios
    /// do not.) Must lie in `(0, 1]`.
    pub vanishing_ratio: f64,
    /// First/last RMS ratio above which the gradient counts as exploding towards the input.
    /// Default `70` (AUTOTRAINER's bound). Must be finite and at least 1.
    pub exploding_ratio: f64,
    /// A loss of at least this many times the first epoch's (positive) loss counts as
    /// exploding. Default `10`. Must be finite and above 1.
    pub loss_growth_factor: f64,
    /// How many of the most recent epochs with gradient data are examined. Default `10`.
    pub recent_epochs: usize,
    /// The share of the examined epochs on which a condition must hold to be reported.
    /// Default `0.6`. Must lie in `(0, 1]`.
    pub min_persistence: f64,
    /// The fewest examined epochs with a defined ratio needed for a verdict. Default `3`.
    pub min_epochs_observed: usize,
    /// Leave the output (last) layer out of the decay-factor fit. Default `true`.
    pub exclude_output_layer: bool,
}

impl Default for GradientConfig {
    fn default() -> Self {
        Self {
            vanishing_ratio: 1e-2,
            exploding_ratio: 70.0,
            loss_growth_factor: 10.0,
            recent_epochs: 10,
            min_persistence: 0.6,
            min_epochs_observed: 3,
            exclude_output_layer: true,
        }
    }
}

fn invalid(name: &'static str, reason: String) -> Error {
    Error::InvalidArgument { name, reason }
}

impl GradientConfig {
    /// Checks every threshold.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first field that is NaN, negative or out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.vanishing_ratio > 0.0 && self.vanishing_ratio <= 1.0) {
            return Err(invalid(
                "vanishing_ratio",
                format!("must lie in (0, 1], got {}", self.vanishing_ratio),
            ));
        }
        if !(self.exploding_ratio.is_finite() && self.exploding_ratio >= 1.0) {
            return Err(invalid(
                "exploding_ratio",
                format!(
                    "must be finite and at least 1, got {}",
                    self.exploding_ratio
                ),
            ));
        }
        if !(self.loss_growth_factor.is_finite() && self.loss_growth_factor > 1.0) {
            return Err(invalid(
                "loss_growth_factor",
                format!(
                    "must be finite and above 1, got {}",
                    self.loss_growth_factor
                ),
            ));
        }
        validate_window(
            self.recent_epochs,
            self.min_persistence,
            self.min_epochs_observed,
        )
    }
}

/// Shared checks of the persistence settings (also used by the activity detector).
pub(crate) fn validate_window(
    recent_epochs: usize,
    min_persistence: f64,
    min_epochs_observed: usize,
) -> Result<()> {
    if recent_epochs == 0 {
        return Err(invalid("recent_epochs", "must be at least 1".into()));
    }
    if !(min_persistence > 0.0 && min_persistence <= 1.0) {
        return Err(invalid(
            "min_persistence",
            format!("must lie in (0, 1], got {min_persistence}"),
        ));
    }
    if min_epochs_observed == 0 || min_epochs_observed > recent_epochs {
        return Err(invalid(
            "min_epochs_observed",
            format!("must lie in 1..={recent_epochs} (recent_epochs), got {min_epochs_observed}"),
        ));
    }
    Ok(())
}

/// The median of finite values (reorders the slice); `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    let len = values.len();
    if len == 0 {
        return None;
    }
    let mid = len / 2;
    let (lower, upper_middle, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper_middle = *upper_middle;
    if len % 2 == 1 {
        return Some(upper_middle);
    }
    let lower_middle = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(lower_middle / 2.0 + upper_middle / 2.0)
}

/// Theil-Sen slope of `(x, y)` points: the median of all pairwise slopes. `None` under two
/// points.
fn theil_sen_slope(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(x0, y0)) in points.iter().enumerate() {
        for &(x1, y1) in points.iter().skip(i + 1) {
            if x1 != x0 {
                slopes.push((y1 - y0) / (x1 - x0));
            }
        }
    }
    median(&mut slopes)
}

/// One epoch's gradient profile.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochGradientProfile {
    /// The epoch index.
    pub epoch: usize,
    /// Per layer in depth order, the gradient RMS (`None` where no gradient was recorded).
    pub rms: Vec<Option<f64>>,
    /// First/last RMS ratio (see the [module documentation](self)); `None` when a side is zero
    /// or non-finite, or fewer than two layers have gradients.
    pub first_to_last_ratio: Option<f64>,
    /// Per-layer decay factor towards the input (`exp(-slope)` of `ln RMS` against depth, over
    /// the hidden layers with a positive finite RMS); `None` under two such layers.
    pub decay_factor: Option<f64>,
    /// Walking from the output towards the input, the first layer whose RMS is under the
    /// vanishing ratio times the output layer's.
    pub first_under_threshold_from_output: Option<usize>,
}

/// A vanishing gradient that persisted over the recent epochs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VanishingFinding {
    /// The first examined epoch whose ratio was under the threshold.
    pub first_epoch: usize,
    /// The last examined epoch whose ratio was under the threshold.
    pub last_epoch: usize,
    /// How many examined epochs had the ratio under the threshold.
    pub epochs_under: usize,
    /// How many examined epochs had a defined ratio.
    pub epochs_observed: usize,
    /// The median first/last ratio over the examined epochs.
    pub median_ratio: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// The median decay factor over the examined epochs.
    pub decay_factor: Option<f64>,
    /// In the last epoch under the threshold: the first layer under it, counting from the
    /// output.
    pub first_under_threshold_from_output: Option<usize>,
    /// That layer's name.
    pub layer: Option<String>,
}

/// Evidence of an exploding gradient.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ExplodingFinding {
    /// A non-finite value: the first occurrence of one quantity, and how many there are.
    NonFinite {
        /// The first epoch with a non-finite value of this quantity.
        epoch: usize,
        /// The layer's depth, `None` for the losses.
        layer_index: Option<usize>,
        /// The layer's name, `None` for the losses.
        layer: Option<String>,
        /// What was non-finite.
        quantity: Quantity,
        /// How many epoch-and-layer entries of this quantity are non-finite.
        occurrences: usize,
    },
    /// The first/last ratio stayed above the bound: the gradient grows towards the input.
    RatioAboveBound {
        /// The first examined epoch above the bound.
        first_epoch: usize,
        /// How many examined epochs were above it.
        epochs_over: usize,
        /// How many examined epochs had a defined ratio.
        epochs_observed: usize,
        /// The median first/last ratio over the examined epochs.
        median_ratio: f64,
        /// The bound.
        threshold: f64,
    },
    /// The loss grew past the growth factor times the first epoch's.
    LossGrowth {
        /// The first epoch whose loss reached the factor.
        epoch: usize,
        /// The first epoch's loss.
        initial_loss: f64,
        /// The loss at `epoch`.
        loss: f64,
        /// `loss / initial_loss`.
        growth: f64,
        /// The factor it was compared with.
        threshold: f64,
    },
}

/// A layer whose gradient was exactly zero: nothing flows back through it (dead ReLU units,
/// a disconnected layer). Its ratios would be `0/0`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ZeroGradientFinding {
    /// The layer's depth.
    pub layer_index: usize,
    /// The layer's name.
    pub layer: String,
    /// The first epoch with a zero gradient.
    pub first_epoch: usize,
    /// The last epoch with a zero gradient.
    pub last_epoch: usize,
    /// How many epochs had a zero gradient.
    pub epochs: usize,
    /// Whether the gradient was still zero in the last epoch that recorded it.
    pub still_zero: bool,
}

/// The result of [`analyze_gradients`]: the profiles and the numbers behind every finding.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GradientAnalysis {
    /// The vanishing threshold used.
    pub vanishing_ratio_threshold: f64,
    /// The exploding bound used.
    pub exploding_ratio_threshold: f64,
    /// The examined epochs (the most recent ones with gradient data), in epoch order.
    pub recent: Vec<EpochGradientProfile>,
    /// How many examined epochs had a defined first/last ratio.
    pub epochs_observed: usize,
    /// How many of them were under the vanishing threshold.
    pub epochs_vanishing: usize,
    /// How many of them were above the exploding bound.
    pub epochs_exploding_ratio: usize,
    /// The median first/last ratio over the examined epochs.
    pub median_first_to_last_ratio: Option<f64>,
    /// The median decay factor over the examined epochs.
    pub median_decay_factor: Option<f64>,
    /// A persistent vanishing gradient, if found.
    pub vanishing: Option<VanishingFinding>,
    /// Evidence of an exploding gradient (possibly several kinds).
    pub exploding: Vec<ExplodingFinding>,
    /// Layers with exactly zero gradients.
    pub zero_gradients: Vec<ZeroGradientFinding>,
}

fn profile(epoch: usize, record: &EpochRecord, config: &GradientConfig) -> EpochGradientProfile {
    let rms: Vec<Option<f64>> = record
        .layers
        .iter()
        .map(|l| l.gradient.map(|g| g.rms))
        .collect();
    let usable = |v: f64| v.is_finite() && v > 0.0;
    let with_data: Vec<(usize, f64)> = rms
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    let first_to_last_ratio = match (with_data.first(), with_data.last()) {
        (Some(&(i, first)), Some(&(j, last))) if i != j && usable(first) && usable(last) => {
            Some(first / last)
        }
        _ => None,
    };
    let output_layer = record.layers.len().saturating_sub(1);
    let points: Vec<(f64, f64)> = with_data
        .iter()
        .filter(|&&(i, r)| usable(r) && !(config.exclude_output_layer && i == output_layer))
        .map(|&(i, r)| (i as f64, r.ln()))
        .collect();
    let decay_factor = theil_sen_slope(&points).map(|slope| (-slope).exp());
    let first_under_threshold_from_output = match with_data.last() {
        Some(&(last_index, reference)) if usable(reference) => with_data
            .iter()
            .rev()
            .filter(|&&(i, r)| i != last_index && usable(r))
            .find(|&&(_, r)| r / reference < config.vanishing_ratio)
            .map(|&(i, _)| i),
        _ => None,
    };
    EpochGradientProfile {
        epoch,
        rms,
        first_to_last_ratio,
        decay_factor,
        first_under_threshold_from_output,
    }
}

fn zero_gradient_findings(history: &TrainingHistory) -> Vec<ZeroGradientFinding> {
    let names = history.layer_names();
    history
        .zero_gradient_spans()
        .zip(names)
        .enumerate()
        .filter_map(|(layer_index, (span, name))| {
            span.map(|span| ZeroGradientFinding {
                layer_index,
                layer: name.to_owned(),
                first_epoch: span.first_epoch,
                last_epoch: span.last_epoch,
                epochs: span.epochs,
                still_zero: span.still_zero,
            })
        })
        .collect()
}

fn non_finite_findings(history: &TrainingHistory) -> Vec<ExplodingFinding> {
    let mut findings: Vec<ExplodingFinding> = Vec::new();
    for value in history.non_finite_values() {
        let existing = findings.iter_mut().find(|f| {
            matches!(f, ExplodingFinding::NonFinite { quantity, .. } if *quantity == value.quantity)
        });
        match existing {
            Some(ExplodingFinding::NonFinite { occurrences, .. }) => *occurrences += 1,
            _ => findings.push(ExplodingFinding::NonFinite {
                epoch: value.epoch,
                layer_index: value.layer_index,
                layer: value.layer.clone(),
                quantity: value.quantity,
                occurrences: 1,
            }),
        }
    }
    findings
}

fn loss_growth_finding(history: &TrainingHistory, factor: f64) -> Option<ExplodingFinding> {
    let initial_loss = history.epochs().first()?.loss;
    if !(initial_loss.is_finite() && initial_loss > 0.0) {
        return None;
    }
    history
        .epochs()
        .iter()
        .enumerate()
        .find(|(_, e)| e.loss.is_finite() && e.loss >= factor * initial_loss)
        .map(|(epoch, e)| ExplodingFinding::LossGrowth {
            epoch,
            initial_loss,
            loss: e.loss,
            growth: e.loss / initial_loss,
            threshold: factor,
        })
}

/// Analyses the gradient profile of a history; see the [module documentation](self).
///
/// A history without gradients gives an analysis with no profile and no verdict (the
/// non-finite and loss-growth evidence is still examined).
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid.
pub fn analyze_gradients(
    history: &TrainingHistory,
    config: &GradientConfig,
) -> Result<GradientAnalysis> {
    config.validate()?;
    let mut recent: Vec<EpochGradientProfile> = history
        .epochs()
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, e)| e.layers.iter().any(|l| l.gradient.is_some()))
        .take(config.recent_epochs)
        .map(|(epoch, record)| profile(epoch, record, config))
        .collect();
    recent.reverse();

    let mut ratios: Vec<f64> = recent
        .iter()
        .filter_map(|p| p.first_to_last_ratio)
        .collect();
    let epochs_observed = ratios.len();
    let under = |p: &&EpochGradientProfile| {
        p.first_to_last_ratio
            .is_some_and(|r| r < config.vanishing_ratio)
    };
    let over = |p: &&EpochGradientProfile| {
        p.first_to_last_ratio
            .is_some_and(|r| r > config.exploding_ratio)
    };
    let epochs_vanishing = recent.iter().filter(under).count();
    let epochs_exploding_ratio = recent.iter().filter(over).count();
    let median_first_to_last_ratio = median(&mut ratios);
    let mut decays: Vec<f64> = recent.iter().filter_map(|p| p.decay_factor).collect();
    let median_decay_factor = median(&mut decays);

    let persists = |count: usize| {
        epochs_observed >= config.min_epochs_observed
            && count as f64 >= config.min_persistence * epochs_observed as f64
    };
    let names = history.layer_names();
    let vanishing = match (
        recent.iter().find(under),
        recent.iter().rev().find(under),
        median_first_to_last_ratio,
    ) {
        (Some(first), Some(last), Some(median_ratio)) if persists(epochs_vanishing) => {
            Some(VanishingFinding {
                first_epoch: first.epoch,
                last_epoch: last.epoch,
                epochs_under: epochs_vanishing,
                epochs_observed,
                median_ratio,
                threshold: config.vanishing_ratio,
                decay_factor: median_decay_factor,
                first_under_threshold_from_output: last.first_under_threshold_from_output,
                layer: last
                    .first_under_threshold_from_output
                    .and_then(|i| names.get(i))
                    .map(|n| (*n).to_owned()),
            })
        }
        _ => None,
    };

    let mut exploding = non_finite_findings(history);
    if let (Some(first), Some(median_ratio)) =
        (recent.iter().find(over), median_first_to_last_ratio)
    {
        if persists(epochs_exploding_ratio) {
            exploding.push(ExplodingFinding::RatioAboveBound {
                first_epoch: first.epoch,
                epochs_over: epochs_exploding_ratio,
                epochs_observed,
                median_ratio,
                threshold: config.exploding_ratio,
            });
        }
    }
    exploding.extend(loss_growth_finding(history, config.loss_growth_factor));

    Ok(GradientAnalysis {
        vanishing_ratio_threshold: config.vanishing_ratio,
        exploding_ratio_threshold: config.exploding_ratio,
        recent,
        epochs_observed,
        epochs_vanishing,
        epochs_exploding_ratio,
        median_first_to_last_ratio,
        median_decay_factor,
        vanishing,
        exploding,
        zero_gradients: zero_gradient_findings(history),
    })
}
