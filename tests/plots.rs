//! The SVG plots (feature `plot`). Series are drawn 2 px wide and everything else (axes, ticks,
//! mesh) thinner, so `stroke-width="2"` polylines count the series and their legend marks.
#![cfg(feature = "plot")]

use std::collections::HashSet;

use vanishing_gradient::history::{
    EpochRecord, GradientStats, LayerRecord, Recorder, TrainingHistory,
};
use vanishing_gradient::plot;
use vanishing_gradient::Error;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Three layers, `epochs` epochs of weights and gradients, with the given losses.
fn history(losses: &[f64]) -> TrainingHistory {
    let mut recorder = Recorder::new();
    for (epoch, &loss) in losses.iter().enumerate() {
        let mut record = recorder.epoch(loss).validation_loss(loss + 0.1);
        for (depth, name) in NAMES.iter().enumerate() {
            let step = 1.0 + 0.01 * (depth as f64 + 1.0) * epoch as f64;
            let weights: Vec<f64> = (0..8).map(|i| step * (i as f64 + 1.0)).collect();
            let gradient: Vec<f64> = (0..8)
                .map(|i| 10f64.powi(depth as i32 - 3) * (i as f64 - 3.5))
                .collect();
            record
                .layer(name)
                .unwrap()
                .weights(&weights)
                .unwrap()
                .gradient(&gradient)
                .unwrap();
        }
        record.finish().unwrap();
    }
    recorder.into_history()
}

fn series_lines(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|p| p.split('>').next())
        .filter(|tag| tag.contains(r#"stroke-width="2""#))
        .count()
}

fn series_colours(svg: &str) -> HashSet<String> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|p| p.split('>').next())
        .filter(|tag| tag.contains(r#"stroke-width="2""#))
        .filter_map(|tag| tag.split(r#"stroke=""#).nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn is_svg(svg: &str) {
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
}

fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_owned())
        .collect()
}

fn losses(count: usize) -> Vec<f64> {
    (0..count).map(|e| 1.0 / (e as f64 + 1.0)).collect()
}

#[test]
fn the_loss_plot_has_a_title_axes_and_one_line_per_loss() {
    let svg = plot::loss_svg(&history(&losses(5))).unwrap();
    is_svg(&svg);
    let texts = texts(&svg);
    assert!(
        texts.iter().any(|t| t.starts_with("Training loss")),
        "{texts:?}"
    );
    for label in ["epoch", "loss", "training loss", "validation loss"] {
        assert!(
            texts.iter().any(|t| t == label),
            "{label} missing in {texts:?}"
        );
    }
    // training and validation: a line and a legend mark each
    assert_eq!(series_lines(&svg), 4);
    // five epochs are too few for the plateau detector: said in the title
    assert!(texts.iter().any(|t| t.contains("too few epochs")));
}

#[test]
fn plateaus_are_shaded_and_named_in_the_legend() {
    let mut flat = vec![2.3, 2.2, 2.1];
    flat.extend((0..40).map(|e| 2.05 + 0.001 * ((e * 7 % 5) as f64 - 2.0)));
    let svg = plot::loss_svg(&history(&flat)).unwrap();
    assert!(
        texts(&svg).iter().any(|t| t == "plateau: stuck"),
        "{:?}",
        texts(&svg)
    );
    let falling: Vec<f64> = (0..40).map(|e| 2.0 * 0.9_f64.powi(e)).collect();
    let svg = plot::loss_svg(&history(&falling)).unwrap();
    assert!(!texts(&svg).iter().any(|t| t.starts_with("plateau")));
}

#[test]
fn non_finite_losses_break_the_line_and_are_counted_in_the_title() {
    let mut values = losses(6);
    values[3] = f64::NAN;
    let svg = plot::loss_svg(&history(&values)).unwrap();
    let texts = texts(&svg);
    // the training loss and the validation loss (NaN + 0.1) are both non-finite at epoch 3
    assert!(
        texts
            .iter()
            .any(|t| t.contains("2 non-finite values skipped")),
        "{texts:?}"
    );
    // each loss: two runs and a legend mark
    assert_eq!(series_lines(&svg), 6);
}

#[test]
fn the_weights_plot_has_two_panels_with_every_layer_named() {
    let svg = plot::weights_svg(&history(&losses(5))).unwrap();
    is_svg(&svg);
    let texts = texts(&svg);
    assert!(texts.iter().any(|t| t.starts_with("Weights per layer")));
    assert!(texts.iter().any(|t| t.starts_with("weight L2 norm")));
    assert!(texts.iter().any(|t| t.starts_with("relative update")));
    for name in NAMES {
        // one legend per panel
        assert_eq!(
            texts.iter().filter(|t| *t == name).count(),
            2,
            "{name} in {texts:?}"
        );
    }
    // per panel, per layer: a line and a legend mark
    assert_eq!(series_lines(&svg), 2 * 2 * NAMES.len());
    assert_eq!(series_colours(&svg).len(), NAMES.len());
}

#[test]
fn the_gradient_flow_has_one_line_per_epoch_across_the_layers() {
    let svg = plot::gradient_flow_svg(&history(&losses(4))).unwrap();
    is_svg(&svg);
    let texts = texts(&svg);
    assert!(texts.iter().any(|t| t.starts_with("Gradient flow")));
    for name in NAMES {
        assert!(
            texts.iter().any(|t| t == name),
            "{name} on the axis: {texts:?}"
        );
    }
    for epoch in 0..4 {
        assert!(texts.iter().any(|t| *t == format!("epoch {epoch}")));
    }
    assert_eq!(series_lines(&svg), 2 * 4);
    assert_eq!(series_colours(&svg).len(), 4);

    // many epochs: at most six lines, said in the title
    let svg = plot::gradient_flow_svg(&history(&losses(20))).unwrap();
    assert_eq!(series_lines(&svg), 2 * plot::MAX_EPOCH_LINES);
    assert!(texts_contain(&svg, "6 of 20 epochs shown"));
}

fn texts_contain(svg: &str, needle: &str) -> bool {
    texts(svg).iter().any(|t| t.contains(needle))
}

#[test]
fn the_update_heat_map_has_a_cell_per_layer_and_epoch() {
    let epochs = 5;
    let svg = plot::relative_updates_svg(&history(&losses(epochs))).unwrap();
    is_svg(&svg);
    assert!(texts_contain(&svg, "Relative update by layer and epoch"));
    for name in NAMES {
        assert!(texts(&svg).iter().any(|t| t == name));
    }
    // the first epoch has no update: one grey cell per layer
    let grey = svg.matches(r##"fill="#D7D7D7""##).count();
    assert_eq!(grey, NAMES.len());
}

#[test]
fn zeros_on_log_scales_are_clamped_and_said() {
    let mut epochs = Vec::new();
    for epoch in 0..3 {
        let mut record = EpochRecord::new(1.0);
        for (depth, name) in NAMES.iter().enumerate() {
            let mut layer = LayerRecord::new(*name);
            let rms = if depth == 0 {
                0.0
            } else {
                10f64.powi(-(depth as i32))
            };
            layer.gradient = Some(GradientStats {
                l2: rms * 2.0,
                rms,
                max_abs: rms,
                count: 4,
            });
            layer.weight_l2 = Some(1.0);
            layer.relative_update = (epoch > 0).then_some(if depth == 0 { 0.0 } else { 1e-3 });
            record.layers.push(layer);
        }
        epochs.push(record);
    }
    let history = TrainingHistory::from_epochs(epochs).unwrap();
    let svg = plot::gradient_flow_svg(&history).unwrap();
    assert!(texts_contain(&svg, "3 zeros drawn at"), "{:?}", texts(&svg));
    let svg = plot::weights_svg(&history).unwrap();
    assert!(texts_contain(&svg, "2 zeros drawn at"), "{:?}", texts(&svg));
    let svg = plot::relative_updates_svg(&history).unwrap();
    assert!(texts_contain(&svg, "2 zeros drawn at"));
}

#[test]
fn a_single_epoch_is_drawn_as_dots() {
    let history = history(&[0.7]);
    let svg = plot::loss_svg(&history).unwrap();
    assert_eq!(
        svg.matches("<circle").count(),
        2,
        "training and validation loss"
    );
    let svg = plot::gradient_flow_svg(&history).unwrap();
    assert_eq!(series_lines(&svg), 2);
    // no relative update exists after one epoch
    assert!(matches!(
        plot::relative_updates_svg(&history),
        Err(Error::History { .. })
    ));
}

#[test]
fn missing_data_is_a_clear_error_and_write_all_skips_it() {
    let history =
        TrainingHistory::from_epochs((0..4).map(|e| EpochRecord::new(1.0 - 0.1 * e as f64)))
            .unwrap();
    for result in [
        plot::weights_svg(&history),
        plot::gradient_flow_svg(&history),
        plot::relative_updates_svg(&history),
    ] {
        match result {
            Err(Error::History { reason, .. }) => {
                assert!(reason.starts_with("cannot plot"), "{reason}")
            }
            other => panic!("expected a history error, got {other:?}"),
        }
    }
    let directory = std::env::temp_dir().join(format!("vg-plots-missing-{}", std::process::id()));
    let written = plot::write_all(&history, &directory).unwrap();
    assert_eq!(written, vec![directory.join("loss.svg")]);
    assert!(plot::write_all(&TrainingHistory::new(), &directory).is_err());
    assert!(plot::loss_svg(&TrainingHistory::new()).is_err());
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn write_all_writes_the_four_plots() {
    let directory = std::env::temp_dir().join(format!("vg-plots-all-{}", std::process::id()));
    let written = plot::write_all(&history(&losses(6)), &directory).unwrap();
    let expected: Vec<_> = plot::FILE_NAMES.iter().map(|n| directory.join(n)).collect();
    assert_eq!(written, expected);
    for path in &written {
        let text = std::fs::read_to_string(path).unwrap();
        is_svg(&text);
    }
    plot::write_loss(&history(&losses(3)), directory.join("single.svg")).unwrap();
    assert!(directory.join("single.svg").exists());
    let _ = std::fs::remove_dir_all(&directory);
}
