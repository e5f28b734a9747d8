//! Gradient flow: gradient RMS against layer depth, one line per selected epoch.

use plotters::prelude::*;

use super::{
    drawing_error, finite_runs, missing, non_finite_note, title_with_notes, viridis, LogRange, FONT,
};
use crate::error::Result;
use crate::history::TrainingHistory;

/// At most this many epochs are drawn, evenly spaced from the first to the last with data.
pub const MAX_EPOCH_LINES: usize = 6;

/// The epochs to draw: all when few, else `MAX_EPOCH_LINES` evenly spaced including the first
/// and the last.
fn select(epochs: &[usize]) -> Vec<usize> {
    if epochs.len() <= MAX_EPOCH_LINES {
        return epochs.to_vec();
    }
    let last = epochs.len() - 1;
    let mut chosen: Vec<usize> = (0..MAX_EPOCH_LINES)
        .filter_map(|i| epochs.get((i * last + (MAX_EPOCH_LINES - 1) / 2) / (MAX_EPOCH_LINES - 1)))
        .copied()
        .collect();
    chosen.dedup();
    chosen
}

/// Gradient flow: the weight-gradient RMS of each layer against its depth (input side left,
/// output right), on a log scale, one line per selected epoch (all epochs up to
/// [`MAX_EPOCH_LINES`], else that many evenly spaced from the first to the last epoch with
/// gradients), coloured from dark (early epochs) to yellow (late). A vanishing gradient is a
/// line that falls steeply towards the left; a healthy one is roughly flat.
///
/// RMS (per element) is plotted, not the L2 norm, so layers of different sizes compare.
///
/// # Errors
/// [`Error::History`](crate::Error::History) if no epoch recorded a gradient.
pub fn gradient_flow_svg(history: &TrainingHistory) -> Result<String> {
    let names = history.layer_names();
    let with_gradients: Vec<usize> = history
        .epochs()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.layers.iter().any(|l| l.gradient.is_some()))
        .map(|(index, _)| index)
        .collect();
    if with_gradients.is_empty() {
        return Err(missing(
            "no epoch recorded gradient statistics (record gradients)",
        ));
    }
    let selected = select(&with_gradients);
    let profile = |epoch: usize| -> Vec<Option<f64>> {
        history.epochs().get(epoch).map_or_else(Vec::new, |e| {
            e.layers.iter().map(|l| l.gradient.map(|g| g.rms)).collect()
        })
    };
    let profiles: Vec<(usize, Vec<Option<f64>>)> =
        selected.iter().map(|&e| (e, profile(e))).collect();
    let values = profiles
        .iter()
        .flat_map(|(_, p)| p.iter().flatten().copied());
    let Some(range) = LogRange::of(values) else {
        return Err(missing("no finite gradient RMS was recorded"));
    };
    let skipped: usize = profiles
        .iter()
        .flat_map(|(_, p)| p.iter())
        .filter(|v| v.is_some_and(|v| !v.is_finite()))
        .count();

    let mut notes = Vec::new();
    if selected.len() < with_gradients.len() {
        notes.push(format!(
            "{} of {} epochs shown",
            selected.len(),
            with_gradients.len()
        ));
    }
    notes.extend(non_finite_note(skipped));
    notes.extend(range.note());
    let title = title_with_notes("Gradient flow: weight-gradient RMS by layer", &notes);

    let low = range.low.log10().floor();
    let high = range.high.log10().ceil().max(low + 1.0);
    let decades = (high - low) as usize;
    let layers = names.len().max(1);
    let x_range = if layers == 1 {
        -0.5..0.5
    } else {
        -0.2..(layers - 1) as f64 + 0.2
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, (FONT, 20))
            .margin(12)
            .x_label_area_size(70)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, low..high)
            .map_err(drawing_error)?;
        let names_for_axis = names.clone();
        let x_formatter = move |x: &f64| {
            let rounded = x.round();
            if (x - rounded).abs() < 1e-6 && rounded >= 0.0 {
                names_for_axis
                    .get(rounded as usize)
                    .map_or_else(String::new, |n| (*n).to_owned())
            } else {
                String::new()
            }
        };
        let y_formatter = |v: &f64| format!("{:.0e}", 10f64.powf(*v));
        chart
            .configure_mesh()
            .x_desc("layer (input side left, output right)")
            .y_desc("gradient RMS (log)")
            .x_labels(layers + 1)
            .x_label_formatter(&x_formatter)
            .y_labels(if decades > 12 {
                decades / 2 + 1
            } else {
                decades + 1
            })
            .y_label_formatter(&y_formatter)
            .label_style((FONT, 13))
            .disable_x_mesh()
            .draw()
            .map_err(drawing_error)?;
        let count = profiles.len();
        for (index, (epoch, profile)) in profiles.iter().enumerate() {
            let t = if count <= 1 {
                0.0
            } else {
                0.9 * index as f64 / (count - 1) as f64
            };
            let colour = viridis(t);
            let (runs, _) = finite_runs(profile.iter().enumerate().map(|(depth, rms)| {
                (
                    depth as f64,
                    rms.map(|v| {
                        if v.is_finite() {
                            range.clamp(v).log10()
                        } else {
                            v
                        }
                    }),
                )
            }));
            let mut first = true;
            for run in runs {
                let series = if run.len() == 1 {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                } else {
                    chart.draw_series(LineSeries::new(run, colour.stroke_width(2)))
                }
                .map_err(drawing_error)?;
                if first {
                    first = false;
                    series
                        .label(format!("epoch {epoch}"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                        });
                }
            }
        }
        super::draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 13)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_keeps_the_first_and_last_epochs_and_caps_the_count() {
        let all: Vec<usize> = (0..30).collect();
        let chosen = select(&all);
        assert_eq!(chosen.len(), MAX_EPOCH_LINES);
        assert_eq!(chosen.first(), Some(&0));
        assert_eq!(chosen.last(), Some(&29));
        assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(select(&[2, 5]), vec![2, 5]);
        let seven: Vec<usize> = (0..7).collect();
        let chosen = select(&seven);
        assert_eq!(chosen.len(), MAX_EPOCH_LINES);
        assert_eq!(chosen.last(), Some(&6));
    }
}
