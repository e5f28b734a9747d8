//! Loss against epoch, with the loss plateaus shaded.

use plotters::prelude::*;

use super::{
    drawing_error, epoch_range, finite_runs, missing, non_finite_note, title_with_notes, FONT,
};
use crate::detect::plateau::{detect_plateaus, PlateauConfig, PlateauKind};
use crate::error::Result;
use crate::history::TrainingHistory;

const TRAINING: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);

fn plateau_colour(kind: PlateauKind) -> RGBColor {
    match kind {
        PlateauKind::Stuck => RGBColor(214, 39, 40),
        PlateauKind::Slowed => RGBColor(255, 187, 60),
        PlateauKind::Converged => RGBColor(44, 160, 44),
    }
}

fn plateau_label(kind: PlateauKind) -> &'static str {
    match kind {
        PlateauKind::Stuck => "plateau: stuck",
        PlateauKind::Slowed => "plateau: slowed",
        PlateauKind::Converged => "plateau: converged",
    }
}

/// The training loss (and the validation loss, where recorded) against epoch, with the
/// plateaus that [`detect_plateaus`] finds with its default configuration shaded: red for
/// stuck, amber for slowed, green for converged. Epochs are numbered from 0, as in the
/// history.
///
/// Non-finite losses are skipped (the line breaks) and counted in the title; a history shorter
/// than the plateau detector's window is plotted without shading, and the title says so.
///
/// # Errors
/// [`Error::History`](crate::Error::History) if the history is empty or no loss is finite.
pub fn loss_svg(history: &TrainingHistory) -> Result<String> {
    if history.is_empty() {
        return Err(missing("the history has no epoch"));
    }
    let losses = history.losses();
    let analysis = detect_plateaus(&losses, &PlateauConfig::default())?;
    let (training, training_skipped) =
        finite_runs(losses.iter().enumerate().map(|(e, l)| (e as f64, Some(*l))));
    let (validation, validation_skipped) = finite_runs(
        history
            .validation_losses()
            .into_iter()
            .enumerate()
            .map(|(e, l)| (e as f64, l)),
    );
    let finite = training.iter().chain(&validation).flatten().map(|p| p.1);
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    if !low.is_finite() {
        return Err(missing("no finite loss was recorded"));
    }
    let pad = if high > low {
        0.05 * (high - low)
    } else {
        0.5 * low.abs().max(1.0)
    };
    let y_range = (low - pad)..(high + pad);

    let mut notes = Vec::new();
    notes.extend(non_finite_note(training_skipped + validation_skipped));
    if analysis.insufficient_data.is_some() {
        notes.push("too few epochs to look for plateaus".into());
    }
    let title = title_with_notes("Training loss, plateaus shaded", &notes);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(epoch_range(history.len()), y_range.clone())
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&super::epoch_label)
            .y_desc("loss")
            .label_style((FONT, 14))
            .draw()
            .map_err(drawing_error)?;

        let mut labelled = Vec::new();
        for plateau in &analysis.plateaus {
            let colour = plateau_colour(plateau.kind);
            let area = [
                (plateau.first_epoch as f64 - 0.5, y_range.start),
                (plateau.last_epoch as f64 + 0.5, y_range.end),
            ];
            let series = chart
                .draw_series(std::iter::once(Rectangle::new(
                    area,
                    colour.mix(0.18).filled(),
                )))
                .map_err(drawing_error)?;
            if !labelled.contains(&plateau.kind) {
                labelled.push(plateau.kind);
                series
                    .label(plateau_label(plateau.kind))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 18, y + 6)], colour.mix(0.35).filled())
                    });
            }
        }

        for (runs, colour, label) in [
            (&training, TRAINING, "training loss"),
            (&validation, VALIDATION, "validation loss"),
        ] {
            let mut first = true;
            for run in runs {
                let style = colour.stroke_width(2);
                let series = if run.len() == 1 {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                } else {
                    chart.draw_series(LineSeries::new(run.iter().copied(), style))
                }
                .map_err(drawing_error)?;
                if first {
                    first = false;
                    series.label(label).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                }
            }
        }

        super::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}
