//! The loss-plateau detector, over plain per-epoch losses (`&[f64]`, one value per epoch).
//!
//! Two modes:
//!
//! - **Robust (the default), [`detect_plateaus`]**: a trend test over sliding windows. Each
//!   window gets a Theil-Sen slope and a Mann-Kendall test (see [`crate::detect::trend`]). A
//!   window *decreases* when Mann-Kendall finds a significant decrease (one-sided
//!   `p < alpha`) **and** the Theil-Sen decrease over the window is at least
//!   `min_relative_change` of the loss scale; it *increases* under the mirror condition;
//!   otherwise it is *flat*. Plateaus are the maximal unions of overlapping flat windows. So a
//!   noisy but clearly falling loss is not a plateau (the test sees the trend through the
//!   noise), and a flat noisy loss is one (no significant trend, or a trend too small to
//!   matter). Each plateau is classified as [`PlateauKind::Stuck`], [`PlateauKind::Slowed`] or
//!   [`PlateauKind::Converged`]: a plateau at a low loss is convergence, not a problem.
//! - **Compatible, [`keras_early_stopping`] and [`torch_reduce_lr_on_plateau`]**: exact replays
//!   of Keras `EarlyStopping` and PyTorch `ReduceLROnPlateau` on a history, so users can see
//!   where their own callback fired (with one documented fix for negative losses, see
//!   [`TorchThresholdMode::Relative`]).
//!
//! ```
//! use vanishing_gradient::detect::plateau::{detect_plateaus, PlateauConfig, PlateauKind};
//!
//! // Falls for 30 epochs, then sits near 2.15 (close to its start of 2.3) for 40 epochs.
//! let losses: Vec<f64> = (0..70)
//!     .map(|epoch| {
//!         let wiggle = 0.001 * ((epoch * 7 % 5) as f64 - 2.0);
//!         if epoch < 30 { 2.3 - 0.005 * epoch as f64 + wiggle } else { 2.15 + wiggle }
//!     })
//!     .collect();
//! let analysis = detect_plateaus(&losses, &PlateauConfig::default())?;
//! let plateau = analysis.plateaus.last().expect("the flat tail is a plateau");
//! assert!(plateau.first_epoch >= 25 && plateau.last_epoch == 69);
//! assert_eq!(plateau.kind, PlateauKind::Stuck); // under 10% better than the start
//! assert!(analysis.on_plateau_at_end());
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```
//!
//! # Complexity
//!
//! [`detect_plateaus`] evaluates about `n / stride` windows of `window` epochs, each in
//! `O(window^2)` (Theil-Sen), so `O(n window^2 / stride)` overall: linear in the number of
//! epochs for a fixed window (the default 10 costs 45 pairwise slopes per window). Each plateau
//! found is then summarised once: median in `O(L)`, Mann-Kendall in `O(L log L)` and Theil-Sen in
//! `O(min(L, 512)^2)` for a plateau of `L` epochs (longer plateaus use 512 evenly spaced epochs
//! for the slope).

mod compat;

pub use compat::{
    keras_early_stopping, torch_reduce_lr_on_plateau, KerasEarlyStopping, KerasOutcome,
    KerasVariant, TorchOutcome, TorchReduceLrOnPlateau, TorchThresholdMode,
};

use crate::detect::trend::{smallest_one_sided_p_value, TrendScratch};
use crate::error::{Error, Result};

/// The longest window [`PlateauConfig::validate`] accepts.
pub const MAX_WINDOW: usize = 1000;

/// Plateaus longer than this use this many evenly spaced epochs for their Theil-Sen slope.
const MAX_SLOPE_POINTS: usize = 512;

/// Configuration of the robust plateau detector, [`detect_plateaus`].
///
/// The defaults are starting points, documented field by field.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlateauConfig {
    /// Epochs per window. Default 10 (PyTorch's default patience): long enough for the
    /// Mann-Kendall test to have power, short enough to place plateaus within a few epochs.
    /// At least 3, and long enough that a perfectly monotone window reaches `p < alpha`
    /// (4 for the default `alpha`); at most [`MAX_WINDOW`] (a window's Theil-Sen slope holds
    /// `window^2 / 2` pairwise slopes).
    pub window: usize,
    /// Distance between the starts of consecutive windows. Default 1 (every window). Larger
    /// strides divide the cost; at most `window`, so that no epoch is skipped.
    pub stride: usize,
    /// One-sided significance level of the Mann-Kendall test. Default 0.05. In `(0, 1)`.
    pub alpha: f64,
    /// Smallest change over a window, relative to the loss scale, that counts as movement.
    /// Default 0.01 (1% of the loss level per window). The change is the Theil-Sen slope times
    /// `window - 1` epochs; the scale is `|median of the window| + floor` (see
    /// `scale_floor_fraction`), so it is right for negative losses too. Finite, `>= 0`.
    pub min_relative_change: f64,
    /// The scale floor, as a fraction of the largest absolute finite loss of the run. Default
    /// 1e-6. It keeps the relative change finite when the loss level crosses zero, and makes a
    /// loss that is already a millionth of its largest value count as flat. Finite, `>= 0`.
    ///
    /// Limitation: where a plateau sits near a loss of zero far below the run's largest loss
    /// (losses that can be negative), the relative size of a change loses its meaning, and
    /// only the Mann-Kendall test separates flat from moving windows (wrong in about `alpha` of
    /// the flat windows). For such losses raise this fraction (for example to 0.1) so that the
    /// scale is set by the run's magnitude rather than by a level near zero.
    pub scale_floor_fraction: f64,
    /// Number of first finite epochs whose median is the initial loss level, the reference
    /// for [`PlateauKind`]. Default 3. At least 1.
    pub initial_epochs: usize,
    /// A plateau whose level improves on the initial level by less than this fraction of
    /// `|initial level|` is [`PlateauKind::Stuck`]. Default 0.1. Finite, `>= 0`.
    pub stuck_fraction: f64,
    /// Without a `target`, a plateau whose level is at most this fraction of a positive
    /// initial level is [`PlateauKind::Converged`]. Default 0.01. In `[0, 1)`.
    pub converged_fraction: f64,
    /// Optional chance-level loss, such as `ln(classes)` for softmax cross-entropy: a plateau
    /// at or above it is [`PlateauKind::Stuck`]. Default `None`. Finite.
    pub baseline: Option<f64>,
    /// Optional good-enough loss: a plateau at or below it is [`PlateauKind::Converged`]
    /// (replacing `converged_fraction`). Give one for losses that can be negative. Default
    /// `None`. Finite, and below `baseline` when both are given.
    pub target: Option<f64>,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        Self {
            window: 10,
            stride: 1,
            alpha: 0.05,
            min_relative_change: 0.01,
            scale_floor_fraction: 1e-6,
            initial_epochs: 3,
            stuck_fraction: 0.1,
            converged_fraction: 0.01,
            baseline: None,
            target: None,
        }
    }
}

fn invalid(name: &'static str, reason: String) -> Error {
    Error::InvalidArgument { name, reason }
}

fn require_non_negative(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("must be finite and non-negative, got {value}"),
        ))
    }
}

impl PlateauConfig {
    /// Checks every field against the ranges documented on it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first field out of range.
    ///
    /// ```
    /// use vanishing_gradient::detect::plateau::PlateauConfig;
    /// assert!(PlateauConfig::default().validate().is_ok());
    /// assert!(PlateauConfig { window: 2, ..PlateauConfig::default() }.validate().is_err());
    /// assert!(PlateauConfig { alpha: f64::NAN, ..PlateauConfig::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(invalid(
                "alpha",
                format!("must be in (0, 1), got {}", self.alpha),
            ));
        }
        if self.window < 3 {
            return Err(invalid(
                "window",
                format!("must be at least 3 epochs, got {}", self.window),
            ));
        }
        if self.window > MAX_WINDOW {
            return Err(invalid(
                "window",
                format!("must be at most {MAX_WINDOW} epochs, got {}", self.window),
            ));
        }
        let best_p = smallest_one_sided_p_value(self.window);
        if best_p >= self.alpha {
            return Err(invalid(
                "window",
                format!(
                    "{} epochs can never show a significant trend at alpha {}: the smallest \
                     possible p-value is {best_p:.4}; use a longer window or a larger alpha",
                    self.window, self.alpha
                ),
            ));
        }
        if self.stride == 0 || self.stride > self.window {
            return Err(invalid(
                "stride",
                format!(
                    "must be between 1 and the window ({}), got {}",
                    self.window, self.stride
                ),
            ));
        }
        require_non_negative("min_relative_change", self.min_relative_change)?;
        require_non_negative("scale_floor_fraction", self.scale_floor_fraction)?;
        require_non_negative("stuck_fraction", self.stuck_fraction)?;
        if self.initial_epochs == 0 {
            return Err(invalid(
                "initial_epochs",
                "must be at least 1, got 0".into(),
            ));
        }
        if !(self.converged_fraction >= 0.0 && self.converged_fraction < 1.0) {
            return Err(invalid(
                "converged_fraction",
                format!("must be in [0, 1), got {}", self.converged_fraction),
            ));
        }
        for (name, value) in [("baseline", self.baseline), ("target", self.target)] {
            if let Some(value) = value {
                if !value.is_finite() {
                    return Err(invalid(name, format!("must be finite, got {value}")));
                }
            }
        }
        if let (Some(target), Some(baseline)) = (self.target, self.baseline) {
            if target >= baseline {
                return Err(invalid(
                    "target",
                    format!("must be below the baseline {baseline}, got {target}"),
                ));
            }
        }
        Ok(())
    }
}

/// The direction of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WindowTrend {
    /// Significant decrease (one-sided Mann-Kendall `p < alpha`) of at least
    /// `min_relative_change` of the scale.
    Decreasing,
    /// Neither a significant nor a large enough change: a plateau window.
    Flat,
    /// Significant increase of at least `min_relative_change` of the scale.
    Increasing,
}

/// The trend statistics of one window of epochs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowAssessment {
    /// First epoch of the window.
    pub first_epoch: usize,
    /// Last epoch of the window (inclusive).
    pub last_epoch: usize,
    /// Median loss over the window.
    pub level: f64,
    /// Theil-Sen slope, loss per epoch.
    pub slope: f64,
    /// `slope * (epochs - 1) / scale`, signed: negative when the loss falls.
    pub relative_change: f64,
    /// One-sided Mann-Kendall p-value for a decrease.
    pub p_decreasing: f64,
    /// One-sided Mann-Kendall p-value for an increase.
    pub p_increasing: f64,
    /// The verdict.
    pub trend: WindowTrend,
}

/// What a plateau means, judged by its level.
///
/// Checked in this order:
/// 1. **Converged**: the level is at or below the `target`, or, without a target, the initial
///    level is positive and the level is at most `converged_fraction` of it (99% of the loss
///    gone by default).
/// 2. **Stuck**: the level is at or above the `baseline` (chance level), or it improves on the
///    initial level by less than `stuck_fraction` of `|initial level|` (10% by default): training
///    has barely moved, the classic picture of a vanishing gradient.
/// 3. **Slowed**: anything in between: the loss fell, then stopped well above convergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PlateauKind {
    /// Barely below the starting loss, or above the chance-level baseline.
    Stuck,
    /// Well below the start but far from converged.
    Slowed,
    /// At a low loss: convergence, not a problem.
    Converged,
}

/// One loss plateau: a maximal run of epochs covered by flat windows.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Plateau {
    /// First epoch of the plateau.
    pub first_epoch: usize,
    /// Last epoch of the plateau (inclusive).
    pub last_epoch: usize,
    /// Median loss over the plateau.
    pub level: f64,
    /// Theil-Sen slope over the plateau, loss per epoch.
    pub slope: f64,
    /// Decrease over the whole plateau relative to its scale:
    /// `-slope * (epochs - 1) / (|level| + floor)`; positive when the loss still falls.
    pub relative_improvement: f64,
    /// One-sided Mann-Kendall p-value for a decrease over the whole plateau. A long plateau
    /// can be significant overall while every window is too small to matter: a slow crawl.
    pub p_decreasing: f64,
    /// `(initial level - level) / (|initial level| + floor)`: how much of the starting loss is
    /// gone (1 means all of it, for a loss bounded below by 0).
    pub improvement_since_start: f64,
    /// Stuck, slowed or converged.
    pub kind: PlateauKind,
}

impl Plateau {
    /// Number of epochs in the plateau.
    pub fn epochs(&self) -> usize {
        self.last_epoch.saturating_sub(self.first_epoch) + 1
    }

    /// Whether `epoch` lies in the plateau.
    pub fn contains(&self, epoch: usize) -> bool {
        (self.first_epoch..=self.last_epoch).contains(&epoch)
    }
}

/// An inclusive run of epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochSpan {
    /// First epoch.
    pub first_epoch: usize,
    /// Last epoch (inclusive).
    pub last_epoch: usize,
}

/// Why no window could be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InsufficientData {
    /// Number of epochs given.
    pub epochs: usize,
    /// Longest run of consecutive finite losses.
    pub longest_finite_run: usize,
    /// The window length needed.
    pub window: usize,
}

/// Everything [`detect_plateaus`] found.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlateauAnalysis {
    /// Number of epochs given.
    pub epochs: usize,
    /// The plateaus, in epoch order, not overlapping.
    pub plateaus: Vec<Plateau>,
    /// Runs of epochs covered by significantly rising windows (not plateaus: a rising loss
    /// points to instability or divergence, not to a stalled gradient).
    pub rising: Vec<EpochSpan>,
    /// The window ending at the last epoch: is the run on a plateau now? `None` when the
    /// history is shorter than a window or that window holds a non-finite loss.
    pub trailing: Option<WindowAssessment>,
    /// Median of the first `initial_epochs` finite losses; `None` if no loss is finite.
    pub initial_level: Option<f64>,
    /// Number of windows evaluated.
    pub windows_evaluated: usize,
    /// Epochs whose loss is NaN or infinite. Windows never include them, so plateaus and
    /// rising runs never cross them.
    pub non_finite_epochs: Vec<usize>,
    /// Set when no window could be evaluated (fewer finite consecutive epochs than a window):
    /// an explicit outcome, not an error, so that callers can report it as a finding.
    pub insufficient_data: Option<InsufficientData>,
}

impl PlateauAnalysis {
    /// Whether the last epoch lies on a plateau.
    pub fn on_plateau_at_end(&self) -> bool {
        self.epochs > 0
            && self
                .plateaus
                .last()
                .is_some_and(|plateau| plateau.last_epoch + 1 == self.epochs)
    }

    /// The plateau containing `epoch`, if any.
    pub fn plateau_at(&self, epoch: usize) -> Option<&Plateau> {
        self.plateaus.iter().find(|plateau| plateau.contains(epoch))
    }

    /// Total number of epochs on a plateau.
    pub fn plateau_epochs(&self) -> usize {
        self.plateaus.iter().map(Plateau::epochs).sum()
    }
}

/// Finds the loss plateaus in `losses` (one loss per epoch) with the robust trend test and
/// classifies each (see the [module documentation](self) and [`PlateauConfig`]).
///
/// Non-finite losses are listed in [`PlateauAnalysis::non_finite_epochs`] and split the history
/// into finite segments that are analysed separately. Too short a history yields
/// [`PlateauAnalysis::insufficient_data`], not an error.
///
/// # Errors
/// [`Error::InvalidArgument`] if the configuration is invalid (see [`PlateauConfig::validate`]).
///
/// ```
/// use vanishing_gradient::detect::plateau::{detect_plateaus, PlateauConfig, PlateauKind};
///
/// // A healthy run: geometric decay to a hundredth of the start, then flat.
/// let mut losses: Vec<f64> = (0..60).map(|t| 2.0 * 0.9_f64.powi(t)).collect();
/// losses.extend(std::iter::repeat(0.004).take(30));
/// let analysis = detect_plateaus(&losses, &PlateauConfig::default())?;
/// assert_eq!(analysis.plateaus.len(), 1);
/// assert_eq!(analysis.plateaus[0].kind, PlateauKind::Converged);
///
/// let short = detect_plateaus(&[1.0, 0.9], &PlateauConfig::default())?;
/// assert!(short.insufficient_data.is_some());
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn detect_plateaus(losses: &[f64], config: &PlateauConfig) -> Result<PlateauAnalysis> {
    config.validate()?;
    let window = config.window;

    let non_finite_epochs: Vec<usize> = losses
        .iter()
        .enumerate()
        .filter(|(_, loss)| !loss.is_finite())
        .map(|(epoch, _)| epoch)
        .collect();
    let segments = finite_segments(losses);
    let longest_finite_run = segments
        .iter()
        .map(|(start, end)| end - start)
        .max()
        .unwrap_or(0);

    let largest_magnitude = losses
        .iter()
        .filter(|loss| loss.is_finite())
        .fold(0.0_f64, |largest, loss| largest.max(loss.abs()));
    let floor = config.scale_floor_fraction * largest_magnitude;

    let mut scratch = TrendScratch::default();
    let initial_values: Vec<f64> = losses
        .iter()
        .copied()
        .filter(|loss| loss.is_finite())
        .take(config.initial_epochs)
        .collect();
    let initial_level = (!initial_values.is_empty()).then(|| scratch.median(&initial_values));

    // Evaluate every window of every finite segment; keep only the verdicts.
    let mut flat_windows: Vec<(usize, usize)> = Vec::new();
    let mut rising_windows: Vec<(usize, usize)> = Vec::new();
    let mut windows_evaluated = 0usize;
    for &(segment_start, segment_end) in &segments {
        if segment_end - segment_start < window {
            continue;
        }
        let last_start = segment_end - window;
        let mut starts: Vec<usize> = (segment_start..=last_start)
            .step_by(config.stride)
            .collect();
        if starts.last() != Some(&last_start) {
            starts.push(last_start);
        }
        for start in starts {
            let Some(values) = losses.get(start..start + window) else {
                continue;
            };
            let assessment = assess_window(&mut scratch, values, start, config, floor);
            windows_evaluated += 1;
            let interval = (start, start + window - 1);
            match assessment.trend {
                WindowTrend::Flat => flat_windows.push(interval),
                WindowTrend::Increasing => rising_windows.push(interval),
                WindowTrend::Decreasing => {}
            }
        }
    }

    let trailing = losses
        .len()
        .checked_sub(window)
        .and_then(|start| losses.get(start..).map(|values| (start, values)))
        .filter(|(_, values)| values.iter().all(|loss| loss.is_finite()))
        .map(|(start, values)| assess_window(&mut scratch, values, start, config, floor));

    let plateaus = merge_intervals(&flat_windows)
        .into_iter()
        .filter_map(|(first, last)| {
            let values = losses.get(first..=last)?;
            Some(summarise_plateau(
                &mut scratch,
                values,
                first,
                config,
                floor,
                initial_level,
            ))
        })
        .collect();
    let rising = merge_intervals(&rising_windows)
        .into_iter()
        .map(|(first_epoch, last_epoch)| EpochSpan {
            first_epoch,
            last_epoch,
        })
        .collect();

    let insufficient_data = (windows_evaluated == 0).then_some(InsufficientData {
        epochs: losses.len(),
        longest_finite_run,
        window,
    });

    Ok(PlateauAnalysis {
        epochs: losses.len(),
        plateaus,
        rising,
        trailing,
        initial_level,
        windows_evaluated,
        non_finite_epochs,
        insufficient_data,
    })
}

/// Maximal runs `[start, end)` of finite losses.
fn finite_segments(losses: &[f64]) -> Vec<(usize, usize)> {
    let mut segments = Vec::new();
    let mut start = None;
    for (epoch, loss) in losses.iter().enumerate() {
        match (loss.is_finite(), start) {
            (true, None) => start = Some(epoch),
            (false, Some(segment_start)) => {
                segments.push((segment_start, epoch));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(segment_start) = start {
        segments.push((segment_start, losses.len()));
    }
    segments
}

/// Merges inclusive intervals sorted by start that overlap or touch.
fn merge_intervals(intervals: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &(first, last) in intervals {
        match merged.last_mut() {
            Some(current) if first <= current.1 + 1 => current.1 = current.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// `change / scale`, defined as 0 when both are 0 and as an infinite change when only the scale
/// is 0.
fn relative(change: f64, scale: f64) -> f64 {
    if scale > 0.0 {
        change / scale
    } else if change == 0.0 {
        0.0
    } else {
        change.signum() * f64::INFINITY
    }
}

fn assess_window(
    scratch: &mut TrendScratch,
    values: &[f64],
    first_epoch: usize,
    config: &PlateauConfig,
    floor: f64,
) -> WindowAssessment {
    let level = scratch.median(values);
    let slope = scratch.theil_sen_evenly_spaced(values);
    let test = scratch.mann_kendall(values);
    let steps = values.len().saturating_sub(1) as f64;
    let relative_change = relative(slope * steps, level.abs() + floor);
    let trend = if test.p_decreasing < config.alpha
        && -relative_change >= config.min_relative_change
    {
        WindowTrend::Decreasing
    } else if test.p_increasing < config.alpha && relative_change >= config.min_relative_change {
        WindowTrend::Increasing
    } else {
        WindowTrend::Flat
    };
    WindowAssessment {
        first_epoch,
        last_epoch: first_epoch + values.len().saturating_sub(1),
        level,
        slope,
        relative_change,
        p_decreasing: test.p_decreasing,
        p_increasing: test.p_increasing,
        trend,
    }
}

fn summarise_plateau(
    scratch: &mut TrendScratch,
    values: &[f64],
    first_epoch: usize,
    config: &PlateauConfig,
    floor: f64,
    initial_level: Option<f64>,
) -> Plateau {
    let length = values.len();
    let level = scratch.median(values);
    let test = scratch.mann_kendall(values);
    let slope = if length <= MAX_SLOPE_POINTS {
        scratch.theil_sen_evenly_spaced(values)
    } else {
        // Evenly spaced epochs, first and last included, with their true epoch offsets.
        let last = (length - 1) as f64;
        let denominator = (MAX_SLOPE_POINTS - 1) as f64;
        let mut times = Vec::with_capacity(MAX_SLOPE_POINTS);
        let mut sampled = Vec::with_capacity(MAX_SLOPE_POINTS);
        let mut previous = None;
        for k in 0..MAX_SLOPE_POINTS {
            let offset = (k as f64 * last / denominator).round() as usize;
            if previous == Some(offset) {
                continue;
            }
            if let Some(&value) = values.get(offset) {
                times.push(offset as f64);
                sampled.push(value);
                previous = Some(offset);
            }
        }
        scratch.theil_sen(&times, &sampled)
    };
    let steps = length.saturating_sub(1) as f64;
    let relative_improvement = relative(-slope * steps, level.abs() + floor);
    let initial = initial_level.unwrap_or(level);
    let improvement_since_start = relative(initial - level, initial.abs() + floor);
    let kind = classify(level, initial, improvement_since_start, config);
    Plateau {
        first_epoch,
        last_epoch: first_epoch + length.saturating_sub(1),
        level,
        slope,
        relative_improvement,
        p_decreasing: test.p_decreasing,
        improvement_since_start,
        kind,
    }
}

fn classify(
    level: f64,
    initial_level: f64,
    improvement_since_start: f64,
    config: &PlateauConfig,
) -> PlateauKind {
    let converged = match config.target {
        Some(target) => level <= target,
        None => initial_level > 0.0 && level <= config.converged_fraction * initial_level,
    };
    if converged {
        return PlateauKind::Converged;
    }
    let above_baseline = config.baseline.is_some_and(|baseline| level >= baseline);
    if above_baseline || improvement_since_start < config.stuck_fraction {
        PlateauKind::Stuck
    } else {
        PlateauKind::Slowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_joins_overlapping_and_touching_intervals() {
        assert_eq!(
            merge_intervals(&[(0, 9), (1, 10), (11, 20), (30, 39)]),
            vec![(0, 20), (30, 39)]
        );
    }

    #[test]
    fn finite_segments_split_at_non_finite_values() {
        let losses = [1.0, f64::NAN, 2.0, 3.0, f64::INFINITY];
        assert_eq!(finite_segments(&losses), vec![(0, 1), (2, 4)]);
    }

    #[test]
    fn relative_handles_a_zero_scale() {
        assert_eq!(relative(0.0, 0.0), 0.0);
        assert_eq!(relative(-1.0, 0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn subsampled_slope_of_a_long_exact_line_is_exact() {
        let values: Vec<f64> = (0..2000).map(|t| 5.0 - 0.001 * t as f64).collect();
        let plateau = summarise_plateau(
            &mut TrendScratch::default(),
            &values,
            0,
            &PlateauConfig::default(),
            0.0,
            Some(5.0),
        );
        assert!((plateau.slope + 0.001).abs() < 1e-12);
    }
}
