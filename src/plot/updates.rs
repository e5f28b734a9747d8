//! The relative update per layer and epoch, as a heat map.

use plotters::prelude::*;

use super::{drawing_error, missing, non_finite_note, title_with_notes, viridis, LogRange, FONT};
use crate::error::Result;
use crate::history::TrainingHistory;

/// Cells with no value (the first epoch, a layer without weights) or a non-finite one.
const NO_VALUE: RGBColor = RGBColor(215, 215, 215);

/// A heat map of the relative update `||W_t - W_{t-1}|| / ||W_{t-1}||`: one row per layer
/// (input side at the bottom), one column per epoch, the colour the update's `log10` (dark:
/// the layer barely moves; yellow: it moves most), with a colour bar. Grey cells have no value
/// (the first epoch has nothing to compare with) or a non-finite one (counted in the title).
/// In a vanishing-gradient run the bottom rows are dark.
///
/// # Errors
/// [`Error::History`](crate::Error::History) if no finite relative update was recorded (a
/// single epoch never has one).
pub fn relative_updates_svg(history: &TrainingHistory) -> Result<String> {
    let names = history.layer_names();
    let epochs = history.len();
    let cells: Vec<(usize, usize, Option<f64>)> = history
        .epochs()
        .iter()
        .enumerate()
        .flat_map(|(epoch, record)| {
            record
                .layers
                .iter()
                .enumerate()
                .map(move |(layer, l)| (epoch, layer, l.relative_update))
        })
        .collect();
    let Some(range) = LogRange::of(cells.iter().filter_map(|c| c.2)) else {
        return Err(missing(
            "no finite relative update was recorded (record weights in at least two epochs)",
        ));
    };
    let skipped = cells
        .iter()
        .filter(|c| c.2.is_some_and(|v| !v.is_finite()))
        .count();
    // the colour range: the data's own, so the map uses the whole scale
    let finite_logs: Vec<f64> = cells
        .iter()
        .filter_map(|c| c.2)
        .filter(|v| v.is_finite())
        .map(|v| range.clamp(v).log10())
        .collect();
    let data_low = finite_logs.iter().copied().fold(f64::INFINITY, f64::min);
    let data_high = finite_logs
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let (colour_low, colour_high) = if data_high > data_low {
        (data_low, data_high)
    } else {
        (data_low - 0.5, data_high + 0.5)
    };
    let colour_of = |log: f64| viridis((log - colour_low) / (colour_high - colour_low));

    let mut notes = Vec::new();
    notes.extend(non_finite_note(skipped));
    notes.extend(range.note());
    let title = title_with_notes(
        "Relative update by layer and epoch (log colour scale)",
        &notes,
    );

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let body = root.titled(&title, (FONT, 20)).map_err(drawing_error)?;
        let (map_area, bar_area) = body.split_horizontally(880);
        let layers = names.len().max(1);
        let mut chart = ChartBuilder::on(&map_area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(-0.5..epochs as f64 - 0.5, -0.5..layers as f64 - 0.5)
            .map_err(drawing_error)?;
        let layer_names = names.clone();
        let y_formatter = move |y: &f64| {
            let rounded = y.round();
            if (y - rounded).abs() < 1e-6 && rounded >= 0.0 {
                layer_names
                    .get(rounded as usize)
                    .map_or_else(String::new, |n| (*n).to_owned())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("epoch")
            .y_desc("layer (input side at the bottom)")
            .y_labels(layers.min(40) + 1)
            .y_label_formatter(&y_formatter)
            .x_label_formatter(&super::epoch_label)
            .label_style((FONT, 13))
            .draw()
            .map_err(drawing_error)?;
        chart
            .draw_series(cells.iter().map(|&(epoch, layer, value)| {
                let colour = match value {
                    Some(v) if v.is_finite() => colour_of(range.clamp(v).log10()),
                    _ => NO_VALUE,
                };
                let (x, y) = (epoch as f64, layer as f64);
                Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], colour.filled())
            }))
            .map_err(drawing_error)?;

        // the colour bar
        let mut bar = ChartBuilder::on(&bar_area)
            .margin_top(10)
            .margin_bottom(50)
            .margin_right(10)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, colour_low..colour_high)
            .map_err(drawing_error)?;
        let bar_formatter = |v: &f64| format!("{:.0e}", 10f64.powf(*v));
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_formatter(&bar_formatter)
            .label_style((FONT, 12))
            .draw()
            .map_err(drawing_error)?;
        const STEPS: usize = 64;
        let step = (colour_high - colour_low) / STEPS as f64;
        bar.draw_series((0..STEPS).map(|i| {
            let y = colour_low + i as f64 * step;
            Rectangle::new(
                [(0.0, y), (1.0, y + step)],
                colour_of(y + step / 2.0).filled(),
            )
        }))
        .map_err(drawing_error)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}
