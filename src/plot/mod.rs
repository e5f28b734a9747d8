//! SVG plots of a [`TrainingHistory`] (feature `plot`).
//!
//! Pure Rust (plotters' SVG backend): no system libraries and no font files. Text is written as
//! SVG `<text>` elements and drawn by whatever displays the SVG, in its `sans-serif` font.
//!
//! | function | shows |
//! | --- | --- |
//! | [`loss_svg`] | training (and validation) loss against epoch, loss plateaus shaded by kind |
//! | [`weights_svg`] | per layer: the weight L2 norm (left panel) and the relative update (right, log scale) against epoch |
//! | [`gradient_flow_svg`] | gradient RMS against layer depth, one line per selected epoch (log scale) |
//! | [`relative_updates_svg`] | heat map of the relative update by layer and epoch (log colour scale) |
//!
//! Every plot has a title, axis labels and a legend (or colour bar); layers are coloured from
//! dark blue (input side) to yellow (output side).
//!
//! **Missing and odd data.**
//! - A plot whose quantity was never recorded (no gradient statistics, no weights) is an
//!   [`Error::History`] naming what is missing; [`write_all`] skips such plots and writes the
//!   others.
//! - Non-finite values (NaN, infinities) are skipped: lines break around them, heat-map cells
//!   are grey, and the title says how many were skipped.
//! - On log scales, exact zeros are drawn at a floor (a decade under the smallest positive
//!   value) and the title says so.
//! - A single epoch (or a value isolated between gaps) is drawn as a dot.
//!
//! ```
//! use vanishing_gradient::history::Recorder;
//! use vanishing_gradient::plot;
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! let mut recorder = Recorder::new();
//! for epoch in 0..5 {
//!     let mut record = recorder.epoch(1.0 / (epoch as f64 + 1.0));
//!     let scale = 1.0 + epoch as f32 * 0.1;
//!     record.layer("hidden")?.weights(&[scale, 2.0 * scale])?.gradient(&[0.01_f32, 0.02])?;
//!     record.layer("output")?.weights(&[1.0, scale])?.gradient(&[0.1_f32, 0.2])?;
//!     record.finish()?;
//! }
//! let svg = plot::gradient_flow_svg(recorder.history())?;
//! assert!(svg.contains("<svg") && svg.contains("Gradient flow"));
//!
//! let directory = std::env::temp_dir().join("vanishing-gradient-plot-doc");
//! let written = plot::write_all(recorder.history(), &directory)?;
//! assert_eq!(written.len(), 4);
//! # Ok(())
//! # }
//! ```

mod gradient_flow;
mod loss;
mod updates;
mod weights;

use std::path::{Path, PathBuf};

use plotters::style::RGBColor;

pub use gradient_flow::{gradient_flow_svg, MAX_EPOCH_LINES};
pub use loss::loss_svg;
pub use updates::relative_updates_svg;
pub use weights::weights_svg;

use crate::error::{Error, Result};
use crate::history::TrainingHistory;

/// The font family of every text (resolved by the SVG viewer).
const FONT: &str = "sans-serif";

/// An error for a plot that has nothing to show.
fn missing(what: &str) -> Error {
    Error::History {
        epoch: None,
        layer: None,
        reason: format!("cannot plot: {what}"),
    }
}

/// A drawing failure from plotters (it does not happen with the string-backed SVG backend,
/// but is reported rather than hidden).
fn drawing_error(error: impl std::fmt::Display) -> Error {
    Error::InvalidState(format!("drawing the plot failed: {error}"))
}

/// Draws the legend box that every plot uses, at `position`, in `font_size`.
fn draw_legend<'a, DB, CT>(
    chart: &mut plotters::chart::ChartContext<'a, DB, CT>,
    position: plotters::chart::SeriesLabelPosition,
    font_size: u32,
) -> Result<()>
where
    DB: plotters::prelude::DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    use plotters::style::{Color, BLACK, WHITE};
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, font_size))
        .draw()
        .map_err(drawing_error)
}

/// Viridis, sampled at nine points and interpolated linearly: `t = 0` dark blue, `t = 1`
/// yellow. Readable in grey scale and by colour-blind readers.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let position = t * (STOPS.len() - 1) as f64;
    let index = (position.floor() as usize).min(STOPS.len() - 2);
    let fraction = position - index as f64;
    let (Some(a), Some(b)) = (STOPS.get(index), STOPS.get(index + 1)) else {
        return RGBColor(0, 0, 0);
    };
    let mix =
        |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * fraction).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour of layer `index` of `count`, input side dark blue, output side yellow-green
/// (the last tenth of viridis is too pale for lines on white).
fn layer_colour(index: usize, count: usize) -> RGBColor {
    if count <= 1 {
        return viridis(0.0);
    }
    viridis(0.88 * index as f64 / (count - 1) as f64)
}

/// The values of one series split into runs of consecutive finite values, as `(x, y)` points.
/// Returns the runs and the number of non-finite values skipped.
fn finite_runs(
    points: impl IntoIterator<Item = (f64, Option<f64>)>,
) -> (Vec<Vec<(f64, f64)>>, usize) {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    let mut skipped = 0;
    for (x, y) in points {
        match y {
            Some(y) if y.is_finite() => current.push((x, y)),
            other => {
                skipped += usize::from(other.is_some());
                if !current.is_empty() {
                    runs.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    (runs, skipped)
}

/// The range a log axis shows for non-negative values, and how it treats zeros.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LogRange {
    /// Zeros are drawn here: a decade under the smallest positive value.
    floor: f64,
    low: f64,
    high: f64,
    /// How many zeros were clamped to the floor.
    zeros: usize,
}

impl LogRange {
    /// The range of the finite non-negative values in `values`; `None` if there is none.
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut smallest_positive = f64::INFINITY;
        let mut largest = f64::NEG_INFINITY;
        let mut zeros = 0;
        let mut any = false;
        for v in values.into_iter().filter(|v| v.is_finite() && *v >= 0.0) {
            any = true;
            if v == 0.0 {
                zeros += 1;
            } else {
                smallest_positive = smallest_positive.min(v);
            }
            largest = largest.max(v);
        }
        if !any {
            return None;
        }
        if !smallest_positive.is_finite() {
            // only zeros: show one decade around an arbitrary floor
            return Some(Self {
                floor: 1e-12,
                low: 1e-13,
                high: 1e-11,
                zeros,
            });
        }
        let floor = 10f64.powf(smallest_positive.log10().floor() - 1.0);
        let low = if zeros > 0 {
            floor / 2.0
        } else {
            10f64.powf(smallest_positive.log10().floor())
        };
        let mut high = 10f64.powf(largest.log10().ceil());
        if high <= low * 10.0 {
            high = low * 100.0;
        }
        Some(Self {
            floor,
            low,
            high,
            zeros,
        })
    }

    /// The value as drawn: zeros at the floor.
    fn clamp(&self, value: f64) -> f64 {
        if value <= 0.0 {
            self.floor
        } else {
            value
        }
    }

    /// The note for the title, if zeros were clamped.
    fn note(&self) -> Option<String> {
        (self.zeros > 0).then(|| format!("{} zeros drawn at {:.0e}", self.zeros, self.floor))
    }
}

/// The title followed by the notes in parentheses.
fn title_with_notes(title: &str, notes: &[String]) -> String {
    if notes.is_empty() {
        title.to_owned()
    } else {
        format!("{title} ({})", notes.join("; "))
    }
}

/// A note counting skipped non-finite values, if any.
fn non_finite_note(skipped: usize) -> Option<String> {
    match skipped {
        0 => None,
        1 => Some("1 non-finite value skipped".into()),
        n => Some(format!("{n} non-finite values skipped")),
    }
}

/// The x range of epochs `0..epochs`, padded so a single epoch has room.
fn epoch_range(epochs: usize) -> std::ops::Range<f64> {
    if epochs <= 1 {
        -0.5..0.5
    } else {
        0.0..(epochs - 1) as f64
    }
}

/// An epoch tick label: whole epochs only.
fn epoch_label(x: &f64) -> String {
    let rounded = x.round();
    if (x - rounded).abs() < 1e-6 && rounded >= 0.0 {
        format!("{rounded:.0}")
    } else {
        String::new()
    }
}

/// Writes `svg` to `path`.
fn write_file(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).map_err(|e| Error::InvalidArgument {
        name: "path",
        reason: format!("cannot write {}: {e}", path.display()),
    })
}

/// Writes [`loss_svg`] to `path`.
///
/// # Errors
/// As [`loss_svg`], and [`Error::InvalidArgument`] if the file cannot be written.
pub fn write_loss(history: &TrainingHistory, path: impl AsRef<Path>) -> Result<()> {
    write_file(path.as_ref(), &loss_svg(history)?)
}

/// Writes [`weights_svg`] to `path`.
///
/// # Errors
/// As [`weights_svg`], and [`Error::InvalidArgument`] if the file cannot be written.
pub fn write_weights(history: &TrainingHistory, path: impl AsRef<Path>) -> Result<()> {
    write_file(path.as_ref(), &weights_svg(history)?)
}

/// Writes [`gradient_flow_svg`] to `path`.
///
/// # Errors
/// As [`gradient_flow_svg`], and [`Error::InvalidArgument`] if the file cannot be written.
pub fn write_gradient_flow(history: &TrainingHistory, path: impl AsRef<Path>) -> Result<()> {
    write_file(path.as_ref(), &gradient_flow_svg(history)?)
}

/// Writes [`relative_updates_svg`] to `path`.
///
/// # Errors
/// As [`relative_updates_svg`], and [`Error::InvalidArgument`] if the file cannot be written.
pub fn write_relative_updates(history: &TrainingHistory, path: impl AsRef<Path>) -> Result<()> {
    write_file(path.as_ref(), &relative_updates_svg(history)?)
}

/// The file names [`write_all`] uses, in the order it writes them.
pub const FILE_NAMES: [&str; 4] = [
    "loss.svg",
    "weights.svg",
    "gradient_flow.svg",
    "relative_updates.svg",
];

/// Writes every plot the history has data for into `directory` (created if missing), as
/// [`FILE_NAMES`]: `loss.svg`, `weights.svg`, `gradient_flow.svg`, `relative_updates.svg`.
/// A plot whose quantity was never recorded is skipped. Returns the paths written.
///
/// # Errors
/// [`Error::History`] if the history is empty, [`Error::InvalidArgument`] if the directory or
/// a file cannot be written.
pub fn write_all(history: &TrainingHistory, directory: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let directory = directory.as_ref();
    if history.is_empty() {
        return Err(missing("the history has no epoch"));
    }
    std::fs::create_dir_all(directory).map_err(|e| Error::InvalidArgument {
        name: "directory",
        reason: format!("cannot create {}: {e}", directory.display()),
    })?;
    let renderers: [fn(&TrainingHistory) -> Result<String>; 4] = [
        loss_svg,
        weights_svg,
        gradient_flow_svg,
        relative_updates_svg,
    ];
    let mut written = Vec::new();
    for (name, render) in FILE_NAMES.iter().zip(renderers) {
        match render(history) {
            Ok(svg) => {
                let path = directory.join(name);
                write_file(&path, &svg)?;
                written.push(path);
            }
            Err(Error::History { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_runs_break_at_gaps_and_count_non_finite_values() {
        let points = [
            (0.0, Some(1.0)),
            (1.0, Some(f64::NAN)),
            (2.0, Some(2.0)),
            (3.0, Some(3.0)),
            (4.0, None),
            (5.0, Some(f64::INFINITY)),
        ];
        let (runs, skipped) = finite_runs(points);
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn log_ranges_cover_the_values_and_clamp_zeros_under_them() {
        let range = LogRange::of([0.0, 3e-5, 0.2, f64::NAN]).unwrap();
        assert!(range.low <= range.floor && range.floor < 3e-5 && range.high >= 0.2);
        assert_eq!(range.clamp(0.0), range.floor);
        assert_eq!(range.zeros, 1);
        assert!(range.note().unwrap().contains("1 zeros"));
        let only_zero = LogRange::of([0.0]).unwrap();
        assert!(only_zero.low < only_zero.floor && only_zero.floor < only_zero.high);
        assert!(LogRange::of([f64::NAN]).is_none());
        let single = LogRange::of([0.5]).unwrap();
        assert!(single.low <= 0.5 && single.high >= 0.5 && single.high > single.low);
    }

    #[test]
    fn viridis_runs_from_dark_blue_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(2.0), viridis(1.0));
    }
}
