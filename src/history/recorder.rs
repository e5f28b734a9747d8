//! The [`Recorder`]: the one way a trainer (ours or yours) writes a [`TrainingHistory`].

use super::sample::{self, sealed::Sealed, Baseline, BaselineMode};
use super::{ActivityStats, EpochRecord, GradientStats, LayerRecord, TrainingHistory};
use crate::error::{Error, Result};

/// A weight or gradient element the recorder accepts: `f32` or `f64` (sealed).
pub trait WeightElement: Copy + Send + Sync + Sealed {
    /// The value as `f64` (exact for both types).
    fn to_f64(self) -> f64;
}

impl WeightElement for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl WeightElement for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

/// Builds a [`TrainingHistory`] from what a trainer sees once per epoch (or every N steps).
///
/// Per epoch: [`epoch`](Recorder::epoch) with the loss, then per layer in depth order
/// [`layer`](EpochBuilder::layer) and any of [`weights`](LayerBuilder::weights),
/// [`gradient`](LayerBuilder::gradient) (or precomputed
/// [`gradient_stats`](LayerBuilder::gradient_stats)) and [`activity`](LayerBuilder::activity),
/// then [`finish`](EpochBuilder::finish).
///
/// **Memory.** To compute `||W_t - W_{t-1}|| / ||W_{t-1}||` the recorder keeps each layer's
/// previous weights: [`Recorder::new`] keeps them whole (one extra copy of the model, in its own
/// precision); [`Recorder::with_sample_budget`] keeps a fixed, seeded sample of at most
/// `coordinates_per_layer` coordinates per layer and estimates the update from it (error in
/// [`sampled_update_relative_error`](super::sampled_update_relative_error)).
/// The baseline advances whenever a layer's weights are recorded, so the relative update is
/// always measured against the last weights seen for that layer.
///
/// ```
/// use vanishing_gradient::history::{GradientStats, Recorder};
///
/// # fn main() -> vanishing_gradient::Result<()> {
/// let mut recorder = Recorder::with_sample_budget(1000, 42)?;
/// let mut weights = vec![0.5_f64; 100_000];
/// for epoch in 0..3 {
///     let mut record = recorder.epoch(1.0 / (epoch as f64 + 1.0)).validation_loss(1.2);
///     record.layer("embedding")?.weights(&weights)?;
///     // precomputed statistics are accepted too
///     let stats = GradientStats { l2: 0.3, rms: 0.3 / 10.0, max_abs: 0.1, count: 100 };
///     record.layer("head")?.gradient_stats(stats)?;
///     record.finish()?;
///     weights.iter_mut().for_each(|w| *w *= 1.01);
/// }
/// assert_eq!(recorder.stored_coordinates(), 1000);
/// let update = recorder.history().epochs()[2].layers[0].relative_update.unwrap();
/// assert!((update - 0.01).abs() < 1e-9); // a uniform scaling is estimated exactly
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Recorder {
    history: TrainingHistory,
    baselines: Vec<Option<Baseline>>,
    mode: BaselineMode,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder that keeps each layer's previous weights whole: exact relative updates.
    pub fn new() -> Self {
        Self {
            history: TrainingHistory::new(),
            baselines: Vec::new(),
            mode: BaselineMode::Exact,
        }
    }

    /// A recorder that keeps at most `coordinates_per_layer` previous weight values per layer,
    /// chosen once per layer, uniformly, from a generator seeded by `seed` and the layer's depth.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `coordinates_per_layer` is zero.
    pub fn with_sample_budget(coordinates_per_layer: usize, seed: u64) -> Result<Self> {
        if coordinates_per_layer == 0 {
            return Err(Error::InvalidArgument {
                name: "coordinates_per_layer",
                reason: "the sample needs at least one coordinate per layer".into(),
            });
        }
        Ok(Self {
            history: TrainingHistory::new(),
            baselines: Vec::new(),
            mode: BaselineMode::Sampled {
                coordinates_per_layer,
                seed,
            },
        })
    }

    /// Starts recording an epoch with its training loss (NaN and infinities are recorded and
    /// listed, not rejected). Nothing is added to the history until
    /// [`finish`](EpochBuilder::finish).
    pub fn epoch(&mut self, loss: f64) -> EpochBuilder<'_> {
        EpochBuilder {
            recorder: self,
            record: EpochRecord::new(loss),
        }
    }

    /// The history recorded so far.
    pub fn history(&self) -> &TrainingHistory {
        &self.history
    }

    /// The history, consuming the recorder.
    pub fn into_history(self) -> TrainingHistory {
        self.history
    }

    /// How many previous weight values the recorder holds, over all layers.
    pub fn stored_coordinates(&self) -> usize {
        self.baselines
            .iter()
            .flatten()
            .map(Baseline::stored_coordinates)
            .sum()
    }
}

/// One epoch being recorded; see [`Recorder`].
#[derive(Debug)]
pub struct EpochBuilder<'r> {
    recorder: &'r mut Recorder,
    record: EpochRecord,
}

impl<'r> EpochBuilder<'r> {
    /// Sets the validation loss.
    pub fn validation_loss(mut self, loss: f64) -> Self {
        self.record.validation_loss = Some(loss);
        self
    }

    fn error(&self, layer: &str, reason: String) -> Error {
        Error::History {
            epoch: Some(self.recorder.history.len()),
            layer: Some(layer.to_owned()),
            reason,
        }
    }

    /// Adds the next layer (in depth order) and returns a builder for its data.
    ///
    /// # Errors
    /// [`Error::History`] if the name was already used in this epoch, or differs from the name
    /// recorded at this depth in the first epoch.
    pub fn layer(&mut self, name: &str) -> Result<LayerBuilder<'_, 'r>> {
        if self.record.layers.iter().any(|l| l.name == name) {
            return Err(self.error(name, "layer name appears twice in the epoch".into()));
        }
        let index = self.record.layers.len();
        if let Some(first) = self.recorder.history.epochs().first() {
            match first.layers.get(index) {
                Some(expected) if expected.name != name => {
                    return Err(self.error(
                        name,
                        format!(
                            "layer list differs from epoch 0: expected `{}` at depth {index}",
                            expected.name
                        ),
                    ))
                }
                None => {
                    return Err(self.error(
                        name,
                        format!(
                            "layer list differs from epoch 0, which has only {} layers",
                            first.layers.len()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        self.record.layers.push(LayerRecord::new(name));
        Ok(LayerBuilder { epoch: self, index })
    }

    /// Validates the epoch against the earlier ones and appends it to the history.
    ///
    /// # Errors
    /// [`Error::History`] if the layer list differs from the first epoch's (see
    /// [`TrainingHistory::push`]).
    pub fn finish(self) -> Result<()> {
        self.recorder.history.push(self.record)
    }
}

/// The data of one layer in the epoch being recorded; see [`Recorder`]. Each method may be
/// called once per layer and epoch.
#[derive(Debug)]
pub struct LayerBuilder<'e, 'r> {
    epoch: &'e mut EpochBuilder<'r>,
    index: usize,
}

impl LayerBuilder<'_, '_> {
    /// The record being built. It exists: `EpochBuilder::layer` pushed it at `index`, and
    /// layers are never removed.
    fn record(&self) -> Option<&LayerRecord> {
        self.epoch.record.layers.get(self.index)
    }

    fn update(&mut self, change: impl FnOnce(&mut LayerRecord)) {
        if let Some(record) = self.epoch.record.layers.get_mut(self.index) {
            change(record);
        }
    }

    fn error(&self, reason: String) -> Error {
        let name = self.record().map_or("", |r| r.name.as_str());
        self.epoch.error(name, reason)
    }

    /// Records the layer's weights: their L2 norm, element count and relative update against
    /// the weights recorded for this layer before.
    ///
    /// # Errors
    /// [`Error::History`] if the weights are empty, were already recorded for this layer in
    /// this epoch, or their count differs from an earlier epoch's.
    pub fn weights<T: WeightElement>(mut self, weights: &[T]) -> Result<Self> {
        if self.record().is_some_and(|r| r.weight_count.is_some()) {
            return Err(self.error("weights recorded twice for the layer".into()));
        }
        if weights.is_empty() {
            return Err(self.error("weights are empty".into()));
        }
        if let Some(known) = self.epoch.recorder.history.known_weight_count(self.index) {
            if known != weights.len() {
                return Err(self.error(format!(
                    "layer changed size: weight count was {known}, now {}",
                    weights.len()
                )));
            }
        }
        let recorder = &mut *self.epoch.recorder;
        if recorder.baselines.len() <= self.index {
            recorder.baselines.resize(self.index + 1, None);
        }
        let mode = recorder.mode;
        let summary = match recorder.baselines.get_mut(self.index) {
            Some(baseline) => sample::observe(baseline, weights, mode, self.index),
            None => return Err(self.error("internal: no baseline slot".into())),
        };
        self.update(|record| {
            record.weight_count = Some(weights.len());
            record.weight_l2 = Some(summary.l2);
            record.relative_update = summary.relative_update;
        });
        Ok(self)
    }

    /// Records the layer's weight gradient, element by element (see
    /// [`GradientStats::from_values`]).
    ///
    /// # Errors
    /// As [`gradient_stats`](LayerBuilder::gradient_stats), and if the gradient is empty.
    pub fn gradient<T: WeightElement>(self, gradient: &[T]) -> Result<Self> {
        let stats = match GradientStats::from_values(gradient) {
            Ok(stats) => stats,
            Err(_) => return Err(self.error("gradient is empty".into())),
        };
        self.gradient_stats(stats)
    }

    /// Records precomputed gradient statistics (as a backward pass computes them).
    ///
    /// # Errors
    /// [`Error::History`] if a gradient was already recorded for this layer in this epoch, the
    /// count is zero or differs from an earlier epoch's, or a statistic is negative.
    pub fn gradient_stats(mut self, stats: GradientStats) -> Result<Self> {
        if self.record().is_some_and(|r| r.gradient.is_some()) {
            return Err(self.error("gradient recorded twice for the layer".into()));
        }
        if stats.count == 0 {
            return Err(self.error("gradient count is zero".into()));
        }
        if let Some(known) = self.epoch.recorder.history.known_gradient_count(self.index) {
            if known != stats.count {
                return Err(self.error(format!(
                    "layer changed size: gradient count was {known}, now {}",
                    stats.count
                )));
            }
        }
        if stats.l2 < 0.0 || stats.rms < 0.0 || stats.max_abs < 0.0 {
            return Err(self.error(format!("negative gradient statistic in {stats:?}")));
        }
        self.update(|record| record.gradient = Some(stats));
        Ok(self)
    }

    /// Records activation statistics.
    ///
    /// # Errors
    /// [`Error::History`] if activity was already recorded for this layer in this epoch or a
    /// finite statistic lies outside `[0, 1]`.
    pub fn activity(mut self, stats: ActivityStats) -> Result<Self> {
        if self.record().is_some_and(|r| r.activity.is_some()) {
            return Err(self.error("activity recorded twice for the layer".into()));
        }
        let shares = [
            stats.mean_derivative_ratio,
            stats.saturated_share,
            stats.dead_share,
        ];
        if shares.iter().any(|&s| super::outside_unit_interval(s)) {
            return Err(self.error(format!("activity statistics must lie in [0, 1]: {stats:?}")));
        }
        self.update(|record| record.activity = Some(stats));
        Ok(self)
    }
}
