//! Training histories and the [`Recorder`] that any trainer feeds.
//!
//! A [`TrainingHistory`] is plain data: one [`EpochRecord`] per epoch (the loss, optionally a
//! validation loss, and per layer in depth order a [`LayerRecord`]). The detectors in
//! [`detect`](crate::detect) read it. There are two ways to get one:
//!
//! - feed a [`Recorder`] once per epoch (or every N steps) from your training loop: it takes the
//!   raw weights and gradients as `&[f32]` or `&[f64]` and derives the norms, the relative
//!   update `||W_t - W_{t-1}|| / ||W_{t-1}||` and the gradient statistics;
//! - build [`EpochRecord`]s yourself (from logs) and [`push`](TrainingHistory::push) them.
//!
//! Both ways go through the same validation: a duplicate layer name, a layer that changes size
//! or an epoch whose layer list differs from the first epoch's is an
//! [`Error::History`]. Non-finite values are *not* errors: a diverging
//! run is exactly what must be diagnosed. They are recorded as they are (NaN or infinite
//! statistics) and listed in [`TrainingHistory::non_finite_values`] with their epoch and layer.
//!
//! ```
//! use vanishing_gradient::history::{Recorder, Quantity};
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let mut recorder = Recorder::new();
//! let mut weights = vec![1.0_f32, 2.0, 2.0];
//! for (epoch, loss) in [0.9, 0.7, f64::NAN].into_iter().enumerate() {
//!     let gradient = vec![0.1_f32, -0.2, 0.2];
//!     let mut record = recorder.epoch(loss);
//!     record.layer("dense1")?.weights(&weights)?.gradient(&gradient)?;
//!     record.finish()?;
//!     weights[0] += 0.3 * (epoch as f32 + 1.0);
//! }
//! let history = recorder.into_history();
//! assert_eq!(history.len(), 3);
//! let first = &history.epochs()[0].layers[0];
//! assert_eq!(first.weight_l2, Some(3.0));
//! assert_eq!(first.relative_update, None); // nothing to compare with yet
//! let second = &history.epochs()[1].layers[0];
//! assert!((second.relative_update.unwrap() - 0.1).abs() < 1e-6); // |0.3| / 3
//! // the NaN loss of epoch 2 is recorded, and listed:
//! assert_eq!(history.non_finite_values()[0].epoch, 2);
//! assert_eq!(history.non_finite_values()[0].quantity, Quantity::Loss);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod json;
mod recorder;
mod sample;

use std::collections::HashSet;

pub use recorder::{EpochBuilder, LayerBuilder, Recorder, WeightElement};
pub use sample::sampled_update_relative_error;

use crate::error::{Error, Result};

/// A derivative under this fraction of the activation's maximum derivative counts as saturated
/// (1%, see [`ActivityStats::saturated_share`]).
pub const SATURATION_FRACTION: f64 = 0.01;

/// Statistics of one layer's weight gradient in one epoch.
///
/// Compare layers by [`rms`](GradientStats::rms), not by [`l2`](GradientStats::l2): the L2 norm
/// grows with the square root of the element count.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct GradientStats {
    /// The L2 norm `sqrt(sum g_i^2)`.
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub l2: f64,
    /// The root mean square `l2 / sqrt(count)`.
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub rms: f64,
    /// The largest absolute element (NaN if an element is NaN).
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub max_abs: f64,
    /// The number of elements.
    pub count: usize,
}

impl GradientStats {
    /// Computes the statistics of a gradient given element by element.
    ///
    /// Non-finite elements give non-finite statistics (they are recorded, not rejected).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `gradient` is empty.
    ///
    /// ```
    /// use vanishing_gradient::history::GradientStats;
    /// let stats = GradientStats::from_values(&[3.0_f32, -4.0])?;
    /// assert_eq!(stats.l2, 5.0);
    /// assert_eq!(stats.max_abs, 4.0);
    /// assert_eq!(stats.count, 2);
    /// assert!((stats.rms - 5.0 / 2f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn from_values<T: WeightElement>(gradient: &[T]) -> Result<Self> {
        if gradient.is_empty() {
            return Err(Error::InvalidArgument {
                name: "gradient",
                reason: "a gradient needs at least one element".into(),
            });
        }
        let norm = sample::l2_norm_of(gradient);
        Ok(Self {
            l2: norm.l2,
            rms: norm.l2 / (gradient.len() as f64).sqrt(),
            max_abs: norm.max_abs,
            count: gradient.len(),
        })
    }
}

/// Activation statistics of one layer in one epoch, all in `[0, 1]` (or NaN when non-finite
/// values were measured).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ActivityStats {
    /// The mean absolute activation derivative divided by the derivative's maximum (sigmoid:
    /// 0.25, tanh: 1). Near 1 the units pass the gradient on at full strength; near 0 they are
    /// saturated or inactive.
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub mean_derivative_ratio: f64,
    /// The share of units whose mean absolute derivative over the batch is under
    /// [`SATURATION_FRACTION`] (1%) of the maximum.
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub saturated_share: f64,
    /// The share of units whose derivative is exactly zero for every example of the batch
    /// (a dead ReLU unit: no gradient flows through it).
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub dead_share: f64,
}

impl ActivityStats {
    /// Computes the statistics from the activation derivatives `f'(z)` of a batch, stored row
    /// by row (`batch x units`, row-major), and the maximum of the derivative (sigmoid 0.25,
    /// tanh and ReLU 1).
    ///
    /// If any derivative is non-finite all three statistics are NaN (recorded, not rejected).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `units` is zero, the length is not a non-zero multiple of
    /// `units`, or `derivative_max` is not finite and positive.
    ///
    /// ```
    /// use vanishing_gradient::history::ActivityStats;
    /// // two examples, three ReLU units; the last unit never fires
    /// let derivatives = [1.0_f32, 0.0, 0.0, 1.0, 1.0, 0.0];
    /// let stats = ActivityStats::from_derivatives(&derivatives, 3, 1.0)?;
    /// assert!((stats.dead_share - 1.0 / 3.0).abs() < 1e-12);
    /// assert!((stats.mean_derivative_ratio - 0.5).abs() < 1e-12);
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn from_derivatives<T: WeightElement>(
        derivatives: &[T],
        units: usize,
        derivative_max: f64,
    ) -> Result<Self> {
        if units == 0 || derivatives.is_empty() || derivatives.len() % units != 0 {
            return Err(Error::InvalidArgument {
                name: "derivatives",
                reason: format!(
                    "expected a non-empty batch x {units} row-major array, got {} values",
                    derivatives.len()
                ),
            });
        }
        if !(derivative_max.is_finite() && derivative_max > 0.0) {
            return Err(Error::InvalidArgument {
                name: "derivative_max",
                reason: format!("must be finite and positive, got {derivative_max}"),
            });
        }
        if derivatives.iter().any(|d| !d.to_f64().is_finite()) {
            return Ok(Self {
                mean_derivative_ratio: f64::NAN,
                saturated_share: f64::NAN,
                dead_share: f64::NAN,
            });
        }
        let batch = derivatives.len() / units;
        let mut unit_sums = vec![0.0_f64; units];
        let mut unit_alive = vec![false; units];
        for row in derivatives.chunks_exact(units) {
            for ((sum, alive), d) in unit_sums.iter_mut().zip(unit_alive.iter_mut()).zip(row) {
                let magnitude = d.to_f64().abs();
                *sum += magnitude;
                *alive |= magnitude != 0.0;
            }
        }
        let saturation_cut = SATURATION_FRACTION * derivative_max;
        let saturated = unit_sums
            .iter()
            .filter(|&&sum| sum / (batch as f64) < saturation_cut)
            .count();
        let dead = unit_alive.iter().filter(|&&alive| !alive).count();
        let total: f64 = unit_sums.iter().sum();
        Ok(Self {
            mean_derivative_ratio: (total / derivatives.len() as f64 / derivative_max).min(1.0),
            saturated_share: saturated as f64 / units as f64,
            dead_share: dead as f64 / units as f64,
        })
    }
}

/// What was recorded about one layer in one epoch. Every statistic is optional: record what
/// your trainer has.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LayerRecord {
    /// The layer's name, unique within an epoch and the same at the same depth in every epoch.
    pub name: String,
    /// The number of weights, when weights were recorded.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub weight_count: Option<usize>,
    /// The L2 norm of the weights `||W_t||`.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "json::optional_number"
        )
    )]
    pub weight_l2: Option<f64>,
    /// `||W_t - W_{t-1}|| / ||W_{t-1}||` against the layer's previously recorded weights;
    /// `None` the first time. (When `W_{t-1}` is all zeros the recorder divides by `||W_t||`
    /// instead: moving away from zero is an update of relative size 1.)
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "json::optional_number"
        )
    )]
    pub relative_update: Option<f64>,
    /// Statistics of the weight gradient.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub gradient: Option<GradientStats>,
    /// Activation statistics.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub activity: Option<ActivityStats>,
}

impl LayerRecord {
    /// A record with a name and nothing else yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            weight_count: None,
            weight_l2: None,
            relative_update: None,
            gradient: None,
            activity: None,
        }
    }
}

/// What was recorded in one epoch.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct EpochRecord {
    /// The training loss (any real number; NaN and infinities are recorded as such).
    #[cfg_attr(feature = "serde", serde(with = "json::number"))]
    pub loss: f64,
    /// The validation loss, if measured.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "json::optional_number"
        )
    )]
    pub validation_loss: Option<f64>,
    /// The layers, in depth order (input side first).
    #[cfg_attr(feature = "serde", serde(default))]
    pub layers: Vec<LayerRecord>,
}

impl EpochRecord {
    /// An epoch with a loss and no layers yet.
    pub fn new(loss: f64) -> Self {
        Self {
            loss,
            validation_loss: None,
            layers: Vec::new(),
        }
    }
}

/// Which recorded quantity was non-finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Quantity {
    /// The training loss.
    Loss,
    /// The validation loss.
    ValidationLoss,
    /// The weights (their norm or relative update).
    Weights,
    /// The gradient statistics.
    Gradient,
    /// The activation statistics.
    Activity,
}

/// One non-finite (NaN or infinite) value in a history: where it is and what it was.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NonFiniteValue {
    /// The epoch index (0-based position in the history).
    pub epoch: usize,
    /// The layer's depth index, `None` for the losses.
    pub layer_index: Option<usize>,
    /// The layer's name, `None` for the losses.
    pub layer: Option<String>,
    /// What was non-finite.
    pub quantity: Quantity,
}

/// Per layer, what the history derives as epochs are added: the last known element counts
/// (to catch a layer that changes size), the relative updates as one contiguous column, and
/// the span of epochs with an exactly zero gradient. Detectors read these instead of walking
/// every record, which keeps them fast on long histories.
#[derive(Debug, Clone, Default, PartialEq)]
struct LayerCounts {
    weights: Option<usize>,
    gradient: Option<usize>,
    relative_updates: Vec<f64>,
    zero_gradient: Option<ZeroGradientSpan>,
}

/// The epochs in which one layer's gradient was exactly zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ZeroGradientSpan {
    pub(crate) first_epoch: usize,
    pub(crate) last_epoch: usize,
    pub(crate) epochs: usize,
    /// Whether the gradient was zero in the last epoch that recorded it.
    pub(crate) still_zero: bool,
}

/// A whole training run: one [`EpochRecord`] per epoch, in order.
///
/// The epochs are validated when added (see [`push`](TrainingHistory::push)), so every epoch
/// has the same layers in the same order and each layer keeps its size; detectors rely on it.
///
/// Two histories are equal when their epochs are (the derived columns follow from them); as
/// with `f64`, a NaN recorded anywhere makes a history unequal to itself.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "json::HistoryFile"))]
pub struct TrainingHistory {
    epochs: Vec<EpochRecord>,
    layer_counts: Vec<LayerCounts>,
    non_finite: Vec<NonFiniteValue>,
}

impl PartialEq for TrainingHistory {
    fn eq(&self, other: &Self) -> bool {
        self.epochs == other.epochs
    }
}

fn history_error(epoch: usize, layer: Option<&str>, reason: String) -> Error {
    Error::History {
        epoch: Some(epoch),
        layer: layer.map(str::to_owned),
        reason,
    }
}

fn check_non_negative(epoch: usize, layer: &str, what: &str, value: f64) -> Result<()> {
    if value < 0.0 {
        return Err(history_error(
            epoch,
            Some(layer),
            format!("{what} must not be negative, got {value}"),
        ));
    }
    Ok(())
}

/// Whether a finite share lies outside `[0, 1]` (with a small tolerance for rounding in
/// ratios). Non-finite values are not "outside": they are recorded and listed.
fn outside_unit_interval(value: f64) -> bool {
    value.is_finite() && !(0.0..=1.0 + 1e-9).contains(&value)
}

fn check_share(epoch: usize, layer: &str, what: &str, value: f64) -> Result<()> {
    if outside_unit_interval(value) {
        return Err(history_error(
            epoch,
            Some(layer),
            format!("{what} must lie in [0, 1], got {value}"),
        ));
    }
    Ok(())
}

fn check_count(
    epoch: usize,
    layer: &str,
    what: &str,
    known: Option<usize>,
    found: Option<usize>,
) -> Result<()> {
    match (known, found) {
        (_, Some(0)) => Err(history_error(
            epoch,
            Some(layer),
            format!("{what} count is zero: a layer needs at least one element"),
        )),
        (Some(known), Some(found)) if known != found => Err(history_error(
            epoch,
            Some(layer),
            format!("layer changed size: {what} count was {known}, now {found}"),
        )),
        _ => Ok(()),
    }
}

impl TrainingHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a history from epochs, validating each as [`push`](TrainingHistory::push) does.
    ///
    /// # Errors
    /// The first [`Error::History`] that [`push`](TrainingHistory::push) reports.
    pub fn from_epochs(epochs: impl IntoIterator<Item = EpochRecord>) -> Result<Self> {
        let mut history = Self::new();
        for epoch in epochs {
            history.push(epoch)?;
        }
        Ok(history)
    }

    /// Appends an epoch after checking it against the epochs before.
    ///
    /// Non-finite values are accepted and listed in
    /// [`non_finite_values`](TrainingHistory::non_finite_values).
    ///
    /// # Errors
    /// [`Error::History`] (naming the epoch and the layer) if a layer name appears twice in the
    /// epoch, the layer list differs from the first epoch's, a layer's weight or gradient
    /// element count is zero or differs from an earlier epoch's, a gradient count disagrees
    /// between epochs, a norm or relative update is negative, or an activity statistic lies
    /// outside `[0, 1]`.
    ///
    /// ```
    /// use vanishing_gradient::history::{EpochRecord, LayerRecord, TrainingHistory};
    /// let mut history = TrainingHistory::new();
    /// let mut epoch = EpochRecord::new(0.5);
    /// epoch.layers.push(LayerRecord::new("hidden"));
    /// history.push(epoch)?;
    /// // an epoch with another layer list is refused
    /// let mut other = EpochRecord::new(0.4);
    /// other.layers.push(LayerRecord::new("output"));
    /// assert!(history.push(other).is_err());
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn push(&mut self, record: EpochRecord) -> Result<()> {
        let epoch = self.epochs.len();
        self.validate_layer_list(&record)?;
        for (index, layer) in record.layers.iter().enumerate() {
            let name = layer.name.as_str();
            let known = self.layer_counts.get(index).cloned().unwrap_or_default();
            check_count(epoch, name, "weight", known.weights, layer.weight_count)?;
            let gradient_count = layer.gradient.map(|g| g.count);
            check_count(epoch, name, "gradient", known.gradient, gradient_count)?;
            if let Some(l2) = layer.weight_l2 {
                check_non_negative(epoch, name, "weight L2 norm", l2)?;
            }
            if let Some(update) = layer.relative_update {
                check_non_negative(epoch, name, "relative update", update)?;
            }
            if let Some(g) = layer.gradient {
                check_non_negative(epoch, name, "gradient L2 norm", g.l2)?;
                check_non_negative(epoch, name, "gradient RMS", g.rms)?;
                check_non_negative(epoch, name, "gradient max abs", g.max_abs)?;
            }
            if let Some(a) = layer.activity {
                check_share(
                    epoch,
                    name,
                    "mean derivative ratio",
                    a.mean_derivative_ratio,
                )?;
                check_share(epoch, name, "saturated share", a.saturated_share)?;
                check_share(epoch, name, "dead share", a.dead_share)?;
            }
        }
        // Validated: now update the known sizes and the non-finite list.
        self.layer_counts
            .resize(record.layers.len(), LayerCounts::default());
        for (counts, layer) in self.layer_counts.iter_mut().zip(&record.layers) {
            counts.weights = layer.weight_count.or(counts.weights);
            counts.gradient = layer.gradient.map(|g| g.count).or(counts.gradient);
            let update = layer.relative_update.filter(|u| u.is_finite());
            counts.relative_updates.push(update.unwrap_or(f64::NAN));
            if let Some(gradient) = layer.gradient {
                let zero = gradient.l2 == 0.0 || gradient.rms == 0.0;
                match (counts.zero_gradient.as_mut(), zero) {
                    (Some(span), true) => {
                        span.last_epoch = epoch;
                        span.epochs += 1;
                        span.still_zero = true;
                    }
                    (Some(span), false) => span.still_zero = false,
                    (None, true) => {
                        counts.zero_gradient = Some(ZeroGradientSpan {
                            first_epoch: epoch,
                            last_epoch: epoch,
                            epochs: 1,
                            still_zero: true,
                        })
                    }
                    (None, false) => {}
                }
            }
        }
        self.list_non_finite(epoch, &record);
        self.epochs.push(record);
        Ok(())
    }

    fn validate_layer_list(&self, record: &EpochRecord) -> Result<()> {
        let epoch = self.epochs.len();
        let mut seen = HashSet::with_capacity(record.layers.len());
        for layer in &record.layers {
            if !seen.insert(layer.name.as_str()) {
                return Err(history_error(
                    epoch,
                    Some(&layer.name),
                    "layer name appears twice in the epoch".into(),
                ));
            }
        }
        let Some(first) = self.epochs.first() else {
            return Ok(());
        };
        for (index, (expected, found)) in first.layers.iter().zip(&record.layers).enumerate() {
            if expected.name != found.name {
                return Err(history_error(
                    epoch,
                    Some(&found.name),
                    format!(
                        "layer list differs from epoch 0: expected `{}` at depth {index}",
                        expected.name
                    ),
                ));
            }
        }
        if first.layers.len() != record.layers.len() {
            let layer = first
                .layers
                .get(record.layers.len())
                .or(record.layers.get(first.layers.len()))
                .map(|l| l.name.as_str());
            return Err(history_error(
                epoch,
                layer,
                format!(
                    "layer list differs from epoch 0: {} layers instead of {}",
                    record.layers.len(),
                    first.layers.len()
                ),
            ));
        }
        Ok(())
    }

    fn list_non_finite(&mut self, epoch: usize, record: &EpochRecord) {
        let mut add = |layer: Option<(usize, &str)>, quantity| {
            self.non_finite.push(NonFiniteValue {
                epoch,
                layer_index: layer.map(|(index, _)| index),
                layer: layer.map(|(_, name)| name.to_owned()),
                quantity,
            })
        };
        if !record.loss.is_finite() {
            add(None, Quantity::Loss);
        }
        if record.validation_loss.is_some_and(|v| !v.is_finite()) {
            add(None, Quantity::ValidationLoss);
        }
        for (index, layer) in record.layers.iter().enumerate() {
            let at = Some((index, layer.name.as_str()));
            let weights = [layer.weight_l2, layer.relative_update];
            if weights.iter().flatten().any(|v| !v.is_finite()) {
                add(at, Quantity::Weights);
            }
            if let Some(g) = layer.gradient {
                if ![g.l2, g.rms, g.max_abs].iter().all(|v| v.is_finite()) {
                    add(at, Quantity::Gradient);
                }
            }
            if let Some(a) = layer.activity {
                let values = [a.mean_derivative_ratio, a.saturated_share, a.dead_share];
                if !values.iter().all(|v| v.is_finite()) {
                    add(at, Quantity::Activity);
                }
            }
        }
    }

    /// One layer's relative updates across all epochs, as a contiguous column: `NaN` where
    /// none was recorded (such as the first epoch) or the value was non-finite (see
    /// [`non_finite_values`](TrainingHistory::non_finite_values)). `None` for a layer index
    /// out of range.
    ///
    /// ```
    /// use vanishing_gradient::history::Recorder;
    /// # fn main() -> vanishing_gradient::Result<()> {
    /// let mut recorder = Recorder::new();
    /// for weights in [[3.0_f32, 4.0], [3.0, 4.5]] {
    ///     let mut epoch = recorder.epoch(1.0);
    ///     epoch.layer("dense")?.weights(&weights)?;
    ///     epoch.finish()?;
    /// }
    /// let column = recorder.history().relative_update_column(0).unwrap();
    /// assert!(column[0].is_nan());
    /// assert!((column[1] - 0.1).abs() < 1e-12);
    /// # Ok(())
    /// # }
    /// ```
    pub fn relative_update_column(&self, layer_index: usize) -> Option<&[f64]> {
        self.layer_counts
            .get(layer_index)
            .map(|c| c.relative_updates.as_slice())
    }

    /// The weight count last recorded for a layer.
    pub(crate) fn known_weight_count(&self, layer_index: usize) -> Option<usize> {
        self.layer_counts.get(layer_index).and_then(|c| c.weights)
    }

    /// The gradient element count last recorded for a layer.
    pub(crate) fn known_gradient_count(&self, layer_index: usize) -> Option<usize> {
        self.layer_counts.get(layer_index).and_then(|c| c.gradient)
    }

    /// Per layer, the epochs in which its gradient was exactly zero.
    pub(crate) fn zero_gradient_spans(
        &self,
    ) -> impl Iterator<Item = Option<ZeroGradientSpan>> + '_ {
        self.layer_counts.iter().map(|c| c.zero_gradient)
    }

    /// The epochs, in order.
    pub fn epochs(&self) -> &[EpochRecord] {
        &self.epochs
    }

    /// The number of epochs.
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch was recorded.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The number of layers per epoch (0 for an empty history or a loss-only one).
    pub fn layer_count(&self) -> usize {
        self.epochs.first().map_or(0, |e| e.layers.len())
    }

    /// The layer names in depth order (the same in every epoch).
    pub fn layer_names(&self) -> Vec<&str> {
        self.epochs.first().map_or_else(Vec::new, |e| {
            e.layers.iter().map(|l| l.name.as_str()).collect()
        })
    }

    /// The training loss of every epoch.
    pub fn losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// The validation loss of every epoch, where measured.
    pub fn validation_losses(&self) -> Vec<Option<f64>> {
        self.epochs.iter().map(|e| e.validation_loss).collect()
    }

    /// Every non-finite value, in epoch then depth order: one entry per epoch, layer and
    /// [`Quantity`].
    pub fn non_finite_values(&self) -> &[NonFiniteValue] {
        &self.non_finite
    }
}
