//! Replays of the two plateau callbacks that users already run: Keras `EarlyStopping` and
//! PyTorch `ReduceLROnPlateau`, both in mode `"min"`, on a recorded loss history.
//!
//! Epochs are 0-based indices into the loss slice, as in Keras' `on_epoch_end(epoch)` (Keras
//! prints `epoch + 1`) and as in the order of PyTorch `scheduler.step(loss)` calls.
//!
//! Non-finite losses are replayed exactly as the frameworks compare them (every comparison with
//! NaN is false, so a NaN loss never improves; `-inf` improves on everything) and are also listed
//! in the outcome, so they are never silently dropped.

use crate::error::{Error, Result};

/// Which Keras implementation of `EarlyStopping` to replay. They differ only when a `baseline`
/// is given or when the very first monitored epoch does not improve (a NaN loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KerasVariant {
    /// Keras 3 (`keras/src/callbacks/early_stopping.py`): the best starts at `+inf`; every
    /// monitored epoch first increments `wait`; an improvement records the new best and resets
    /// `wait` to 0 only if it also improves on the `baseline`, and never stops training; a
    /// non-improvement stops training when `wait >= patience` and `epoch > 0`.
    #[default]
    Keras3,
    /// Keras 2.2-era `EarlyStopping`: the best starts at the `baseline` (or `+inf`); an
    /// improvement resets `wait` to 0; a non-improvement increments `wait` and stops training
    /// when `wait >= patience`.
    Keras2,
}

/// Configuration of a Keras `EarlyStopping(monitor="loss", mode="min")` replay.
///
/// Defaults are Keras' own: `min_delta = 0`, `patience = 0`, no baseline,
/// `start_from_epoch = 0`, [`KerasVariant::Keras3`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KerasEarlyStopping {
    /// Minimum decrease that counts as an improvement. As in Keras its sign is ignored: the
    /// loss improves on a reference iff `loss + |min_delta| < reference`.
    pub min_delta: f64,
    /// Number of epochs without improvement after which training stops.
    pub patience: usize,
    /// Optional baseline loss (see [`KerasVariant`] for how each version uses it).
    pub baseline: Option<f64>,
    /// Epochs with an index below this are not monitored at all (a warm-up).
    pub start_from_epoch: usize,
    /// Which implementation to replay.
    pub variant: KerasVariant,
}

impl Default for KerasEarlyStopping {
    fn default() -> Self {
        Self {
            min_delta: 0.0,
            patience: 0,
            baseline: None,
            start_from_epoch: 0,
            variant: KerasVariant::Keras3,
        }
    }
}

impl KerasEarlyStopping {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `min_delta` or the baseline is NaN or infinite.
    pub fn validate(&self) -> Result<()> {
        if !self.min_delta.is_finite() {
            return Err(Error::InvalidArgument {
                name: "min_delta",
                reason: format!("must be finite, got {}", self.min_delta),
            });
        }
        if let Some(baseline) = self.baseline {
            if !baseline.is_finite() {
                return Err(Error::InvalidArgument {
                    name: "baseline",
                    reason: format!("must be finite, got {baseline}"),
                });
            }
        }
        Ok(())
    }
}

/// The result of replaying Keras `EarlyStopping` on a loss history.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KerasOutcome {
    /// The epoch at whose end Keras would stop training, if it would.
    pub stopped_epoch: Option<usize>,
    /// The last epoch that improved on the best so far (the epoch `restore_best_weights` would
    /// restore), or `None` if no monitored epoch improved. Keras itself reports 0 in that case.
    pub best_epoch: Option<usize>,
    /// The best loss seen (`+inf`, or the baseline for [`KerasVariant::Keras2`], if none
    /// improved).
    pub best: f64,
    /// The `wait` counter when training stopped or the history ended.
    pub wait: usize,
    /// Number of epochs that would have run: `stopped_epoch + 1`, or the history length.
    pub epochs_run: usize,
    /// Epochs among those run whose loss is NaN or infinite.
    pub non_finite_epochs: Vec<usize>,
}

/// Replays Keras `EarlyStopping(monitor="loss", mode="min")` on `losses` (one per epoch) and
/// reports where it would stop and which epoch it considers best.
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid (see
/// [`KerasEarlyStopping::validate`]).
///
/// ```
/// use vanishing_gradient::detect::plateau::{keras_early_stopping, KerasEarlyStopping};
///
/// let config = KerasEarlyStopping { patience: 2, ..KerasEarlyStopping::default() };
/// let outcome = keras_early_stopping(&[1.0, 0.9, 0.9, 0.9, 0.8], &config)?;
/// assert_eq!(outcome.stopped_epoch, Some(3));
/// assert_eq!(outcome.best_epoch, Some(1));
/// assert_eq!(outcome.epochs_run, 4);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn keras_early_stopping(losses: &[f64], config: &KerasEarlyStopping) -> Result<KerasOutcome> {
    config.validate()?;
    let min_delta = config.min_delta.abs();
    // Keras: `monitor_op(current - min_delta, reference)` with `min_delta` negated for mode min.
    let improves = |current: f64, reference: f64| current + min_delta < reference;

    let mut best = match config.variant {
        KerasVariant::Keras3 => f64::INFINITY,
        KerasVariant::Keras2 => config.baseline.unwrap_or(f64::INFINITY),
    };
    let mut best_epoch = None;
    let mut wait = 0usize;
    let mut stopped_epoch = None;
    let mut non_finite_epochs = Vec::new();

    for (epoch, &current) in losses.iter().enumerate() {
        if !current.is_finite() {
            non_finite_epochs.push(epoch);
        }
        if epoch < config.start_from_epoch {
            continue;
        }
        match config.variant {
            KerasVariant::Keras3 => {
                wait += 1;
                if improves(current, best) {
                    best = current;
                    best_epoch = Some(epoch);
                    if config
                        .baseline
                        .is_none_or(|baseline| improves(current, baseline))
                    {
                        wait = 0;
                    }
                    continue;
                }
                if wait >= config.patience && epoch > 0 {
                    stopped_epoch = Some(epoch);
                    break;
                }
            }
            KerasVariant::Keras2 => {
                if improves(current, best) {
                    best = current;
                    best_epoch = Some(epoch);
                    wait = 0;
                } else {
                    wait += 1;
                    if wait >= config.patience {
                        stopped_epoch = Some(epoch);
                        break;
                    }
                }
            }
        }
    }

    Ok(KerasOutcome {
        stopped_epoch,
        best_epoch,
        best,
        wait,
        epochs_run: stopped_epoch.map_or(losses.len(), |epoch| epoch + 1),
        non_finite_epochs,
    })
}

/// How PyTorch `ReduceLROnPlateau` (mode `"min"`) decides that a loss `a` is better than the
/// best so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TorchThresholdMode {
    /// `threshold_mode="rel"`, made correct for negative losses: better iff
    /// `a < best - |best| * threshold`.
    ///
    /// **Deviation from PyTorch**: PyTorch computes `a < best * (1 - threshold)`, which for a
    /// negative `best` *raises* the bar above the best, so a slightly worse loss counts as an
    /// improvement and a flat negative loss never triggers a reduction. For `best >= 0` this
    /// mode computes exactly PyTorch's `best * (1 - threshold)` (bit for bit); for a negative
    /// `best` it computes `best * (1 + threshold)`.
    #[default]
    Relative,
    /// `threshold_mode="rel"` exactly as PyTorch computes it: better iff
    /// `a < best * (1 - threshold)`, including its wrong behaviour for negative losses. Use it
    /// to reproduce what a real run did.
    RelativeAsPyTorch,
    /// `threshold_mode="abs"`: better iff `a < best - threshold`.
    Absolute,
}

/// Configuration of a PyTorch `ReduceLROnPlateau(mode="min")` replay.
///
/// Defaults are PyTorch's own: `patience = 10`, `threshold = 1e-4`, relative threshold (here
/// the sign-correct [`TorchThresholdMode::Relative`]), `cooldown = 0`. `factor`, `min_lr` and
/// `eps` only change the learning rate itself, not when a reduction fires, so they are not
/// needed.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TorchReduceLrOnPlateau {
    /// Number of bad epochs tolerated: a reduction fires when `num_bad_epochs > patience`.
    pub patience: usize,
    /// Threshold for a significant improvement (relative or absolute, see `threshold_mode`).
    pub threshold: f64,
    /// How the threshold is applied.
    pub threshold_mode: TorchThresholdMode,
    /// Epochs after a reduction during which bad epochs are not counted.
    pub cooldown: usize,
}

impl Default for TorchReduceLrOnPlateau {
    fn default() -> Self {
        Self {
            patience: 10,
            threshold: 1e-4,
            threshold_mode: TorchThresholdMode::Relative,
            cooldown: 0,
        }
    }
}

impl TorchReduceLrOnPlateau {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `threshold` is NaN, infinite or negative, or is 1 or more
    /// in a relative mode (no finite loss could then ever improve on a positive best).
    pub fn validate(&self) -> Result<()> {
        if !self.threshold.is_finite() || self.threshold < 0.0 {
            return Err(Error::InvalidArgument {
                name: "threshold",
                reason: format!("must be finite and non-negative, got {}", self.threshold),
            });
        }
        let relative = matches!(
            self.threshold_mode,
            TorchThresholdMode::Relative | TorchThresholdMode::RelativeAsPyTorch
        );
        if relative && self.threshold >= 1.0 {
            return Err(Error::InvalidArgument {
                name: "threshold",
                reason: format!(
                    "a relative threshold must be below 1, got {}",
                    self.threshold
                ),
            });
        }
        Ok(())
    }

    /// Whether `loss` counts as better than `best` under this configuration.
    ///
    /// ```
    /// use vanishing_gradient::detect::plateau::{TorchReduceLrOnPlateau, TorchThresholdMode};
    /// let pytorch = TorchReduceLrOnPlateau {
    ///     threshold: 0.1,
    ///     threshold_mode: TorchThresholdMode::RelativeAsPyTorch,
    ///     ..TorchReduceLrOnPlateau::default()
    /// };
    /// let fixed = TorchReduceLrOnPlateau { threshold_mode: TorchThresholdMode::Relative, ..pytorch.clone() };
    /// // -0.95 is worse than the best -1.0, yet PyTorch's formula calls it better.
    /// assert!(pytorch.is_better(-0.95, -1.0));
    /// assert!(!fixed.is_better(-0.95, -1.0));
    /// assert!(fixed.is_better(-1.2, -1.0));
    /// ```
    pub fn is_better(&self, loss: f64, best: f64) -> bool {
        match self.threshold_mode {
            TorchThresholdMode::Absolute => loss < best - self.threshold,
            TorchThresholdMode::RelativeAsPyTorch => loss < best * (1.0 - self.threshold),
            TorchThresholdMode::Relative => {
                if best >= 0.0 {
                    loss < best * (1.0 - self.threshold)
                } else {
                    loss < best * (1.0 + self.threshold)
                }
            }
        }
    }
}

/// The result of replaying PyTorch `ReduceLROnPlateau` on a loss history.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TorchOutcome {
    /// Every epoch at which the scheduler reduces the learning rate (calls `_reduce_lr`).
    /// Whether the rate actually changes then also depends on `min_lr` and `eps`.
    pub reductions: Vec<usize>,
    /// The scheduler's `best` at the end (`+inf` if no epoch was better).
    pub best: f64,
    /// The last epoch that set `best`, or `None` if none did.
    pub best_epoch: Option<usize>,
    /// `num_bad_epochs` at the end of the history.
    pub num_bad_epochs: usize,
    /// `cooldown_counter` at the end of the history.
    pub cooldown_counter: usize,
    /// Epochs whose loss is NaN or infinite.
    pub non_finite_epochs: Vec<usize>,
}

/// Replays PyTorch `ReduceLROnPlateau(mode="min")` on `losses` (one `scheduler.step(loss)` per
/// epoch) and reports every epoch at which it reduces the learning rate.
///
/// Each step, in PyTorch's order: if the loss is better than `best`, it becomes `best` and
/// `num_bad_epochs = 0`, else `num_bad_epochs += 1`; then, while in cooldown
/// (`cooldown_counter > 0`), `cooldown_counter -= 1` and `num_bad_epochs = 0`; then, if
/// `num_bad_epochs > patience`, the rate is reduced, `cooldown_counter = cooldown` and
/// `num_bad_epochs = 0`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid (see
/// [`TorchReduceLrOnPlateau::validate`]).
///
/// ```
/// use vanishing_gradient::detect::plateau::{torch_reduce_lr_on_plateau, TorchReduceLrOnPlateau};
///
/// let config = TorchReduceLrOnPlateau { patience: 2, ..TorchReduceLrOnPlateau::default() };
/// let outcome = torch_reduce_lr_on_plateau(&[1.0, 0.9, 0.9, 0.9, 0.9], &config)?;
/// assert_eq!(outcome.reductions, vec![4]);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn torch_reduce_lr_on_plateau(
    losses: &[f64],
    config: &TorchReduceLrOnPlateau,
) -> Result<TorchOutcome> {
    config.validate()?;
    let mut best = f64::INFINITY;
    let mut best_epoch = None;
    let mut num_bad_epochs = 0usize;
    let mut cooldown_counter = 0usize;
    let mut reductions = Vec::new();
    let mut non_finite_epochs = Vec::new();

    for (epoch, &loss) in losses.iter().enumerate() {
        if !loss.is_finite() {
            non_finite_epochs.push(epoch);
        }
        if config.is_better(loss, best) {
            best = loss;
            best_epoch = Some(epoch);
            num_bad_epochs = 0;
        } else {
            num_bad_epochs += 1;
        }
        if cooldown_counter > 0 {
            cooldown_counter -= 1;
            num_bad_epochs = 0;
        }
        if num_bad_epochs > config.patience {
            reductions.push(epoch);
            cooldown_counter = config.cooldown;
            num_bad_epochs = 0;
        }
    }

    Ok(TorchOutcome {
        reductions,
        best,
        best_epoch,
        num_bad_epochs,
        cooldown_counter,
        non_finite_epochs,
    })
}
