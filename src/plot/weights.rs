//! Weights against epoch per layer: the weight norm and the relative update, side by side.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    drawing_error, epoch_range, finite_runs, layer_colour, missing, non_finite_note,
    title_with_notes, LogRange, FONT,
};
use crate::error::Result;
use crate::history::TrainingHistory;

/// How a panel's y axis maps values.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scale {
    /// Linear from `low` to `high`.
    Linear { low: f64, high: f64 },
    /// Logarithmic: values are drawn as `log10`, zeros at the range's floor.
    Log(LogRange),
}

impl Scale {
    /// The drawn y coordinate of a finite value.
    pub(super) fn position(&self, value: f64) -> f64 {
        match self {
            Scale::Linear { .. } => value,
            Scale::Log(range) => range.clamp(value).log10(),
        }
    }

    /// The drawn y range and the number of tick labels.
    fn axis(&self) -> (std::ops::Range<f64>, usize) {
        match self {
            Scale::Linear { low, high } => (*low..*high, 8),
            Scale::Log(range) => {
                let low = range.low.log10().floor();
                let high = range.high.log10().ceil().max(low + 1.0);
                let decades = (high - low) as usize;
                // one label per decade, or per second decade when there are many
                let labels = if decades > 12 {
                    decades / 2 + 1
                } else {
                    decades + 1
                };
                (low..high, labels)
            }
        }
    }
}

/// One panel of per-layer lines against epoch. `series[layer][epoch]`. Returns the number of
/// non-finite values skipped.
pub(super) fn draw_layer_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    y_label: &str,
    epochs: usize,
    names: &[&str],
    series: &[Vec<Option<f64>>],
    scale: Scale,
) -> Result<()> {
    let (y_range, y_labels) = scale.axis();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(epoch_range(epochs), y_range)
        .map_err(drawing_error)?;
    let is_log = matches!(scale, Scale::Log(_));
    let format_y = move |v: &f64| {
        if is_log {
            format!("{:.0e}", 10f64.powf(*v))
        } else {
            format!("{v:.3}")
        }
    };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&super::epoch_label)
        .y_desc(y_label)
        .y_labels(y_labels)
        .y_label_formatter(&format_y)
        .label_style((FONT, 13))
        .draw()
        .map_err(drawing_error)?;
    for (index, (name, values)) in names.iter().zip(series).enumerate() {
        let colour = layer_colour(index, names.len());
        let (runs, _) = finite_runs(values.iter().enumerate().map(|(epoch, v)| {
            (
                epoch as f64,
                v.map(|v| if v.is_finite() { scale.position(v) } else { v }),
            )
        }));
        let mut first = true;
        for run in runs {
            let series = if run.len() == 1 {
                chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            } else {
                chart.draw_series(LineSeries::new(run, colour.stroke_width(2)))
            }
            .map_err(drawing_error)?;
            if first {
                first = false;
                series.label(*name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            }
        }
    }
    super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;
    Ok(())
}

/// Counts the non-finite values among the recorded ones.
pub(super) fn count_non_finite(series: &[Vec<Option<f64>>]) -> usize {
    series
        .iter()
        .flatten()
        .filter(|v| v.is_some_and(|v| !v.is_finite()))
        .count()
}

/// Weights against epoch per layer, "the seed's graph": on the left the weight L2 norm
/// `||W_t||` of every layer, on the right the relative update `||W_t - W_{t-1}|| / ||W_{t-1}||`
/// on a log scale. Layers are coloured from dark blue (input side) to green (output side) and
/// named in both legends: in a vanishing-gradient run the early layers' lines are flat on the
/// left and at the bottom on the right.
///
/// # Errors
/// [`Error::History`](crate::Error::History) if no layer recorded a weight norm.
pub fn weights_svg(history: &TrainingHistory) -> Result<String> {
    let names = history.layer_names();
    let epochs = history.len();
    let column = |pick: fn(&crate::history::LayerRecord) -> Option<f64>| -> Vec<Vec<Option<f64>>> {
        (0..names.len())
            .map(|layer| {
                history
                    .epochs()
                    .iter()
                    .map(|e| e.layers.get(layer).and_then(pick))
                    .collect()
            })
            .collect()
    };
    let norms = column(|l| l.weight_l2);
    let updates = column(|l| l.relative_update);
    let finite = |series: &[Vec<Option<f64>>]| -> Vec<f64> {
        series
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect()
    };
    let norm_values = finite(&norms);
    if norm_values.is_empty() {
        return Err(missing(
            "no layer recorded a finite weight norm (record weights)",
        ));
    }
    let low = norm_values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = norm_values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = if high > low {
        0.05 * (high - low)
    } else {
        0.5 * high.abs().max(1.0)
    };
    let norm_scale = Scale::Linear {
        low: (low - pad).max(0.0),
        high: high + pad,
    };
    let update_range = LogRange::of(finite(&updates));

    let mut notes = Vec::new();
    notes.extend(non_finite_note(
        count_non_finite(&norms) + count_non_finite(&updates),
    ));
    notes.extend(update_range.and_then(|r| r.note()));
    if update_range.is_none() {
        notes.push("no relative update recorded".into());
    }
    let title = title_with_notes("Weights per layer", &notes);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1300, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let body = root.titled(&title, (FONT, 20)).map_err(drawing_error)?;
        let (left, right) = body.split_horizontally(650);
        draw_layer_panel(
            &left,
            "weight L2 norm ||W||",
            "||W||",
            epochs,
            &names,
            &norms,
            norm_scale,
        )?;
        if let Some(range) = update_range {
            draw_layer_panel(
                &right,
                "relative update ||W_t - W_t-1|| / ||W_t-1|| (log)",
                "relative update",
                epochs,
                &names,
                &updates,
                Scale::Log(range),
            )?;
        }
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}
