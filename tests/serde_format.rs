//! The versioned JSON history format and the serde implementations (feature `serde`).
#![cfg(feature = "serde")]

use proptest::prelude::*;
use vanishing_gradient::history::{
    ActivityStats, EpochRecord, GradientStats, LayerRecord, Recorder, TrainingHistory,
};
use vanishing_gradient::prelude::*;
use vanishing_gradient::Error;

/// Equal as numbers, NaN equal to NaN.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fn same_option(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn same_history(a: &TrainingHistory, b: &TrainingHistory) -> bool {
    a.len() == b.len()
        && a.epochs().iter().zip(b.epochs()).all(|(x, y)| {
            same(x.loss, y.loss)
                && same_option(x.validation_loss, y.validation_loss)
                && x.layers.len() == y.layers.len()
                && x.layers.iter().zip(&y.layers).all(|(l, m)| {
                    l.name == m.name
                        && l.weight_count == m.weight_count
                        && same_option(l.weight_l2, m.weight_l2)
                        && same_option(l.relative_update, m.relative_update)
                        && match (l.gradient, m.gradient) {
                            (Some(g), Some(h)) => {
                                same(g.l2, h.l2)
                                    && same(g.rms, h.rms)
                                    && same(g.max_abs, h.max_abs)
                                    && g.count == h.count
                            }
                            (None, None) => true,
                            _ => false,
                        }
                        && match (l.activity, m.activity) {
                            (Some(g), Some(h)) => {
                                same(g.mean_derivative_ratio, h.mean_derivative_ratio)
                                    && same(g.saturated_share, h.saturated_share)
                                    && same(g.dead_share, h.dead_share)
                            }
                            (None, None) => true,
                            _ => false,
                        }
                })
        })
}

fn history_error(
    result: vanishing_gradient::Result<TrainingHistory>,
) -> (Option<usize>, Option<String>, String) {
    match result {
        Err(Error::History {
            epoch,
            layer,
            reason,
        }) => (epoch, layer, reason),
        other => panic!("expected a history error, got {other:?}"),
    }
}

fn file(epochs: &str) -> String {
    format!(r#"{{"format": "vanishing-gradient/history", "version": 1, "epochs": [{epochs}]}}"#)
}

#[test]
fn a_recorded_history_round_trips_with_non_finite_values() {
    let mut recorder = Recorder::new();
    let mut weights = vec![0.5_f32, -1.0, 2.0, 0.25];
    for epoch in 0..4 {
        let loss = if epoch == 3 {
            f64::NAN
        } else {
            1.0 / (epoch as f64 + 1.0)
        };
        let mut record =
            recorder
                .epoch(loss)
                .validation_loss(if epoch == 2 { f64::INFINITY } else { 0.9 });
        record
            .layer("dense1")
            .unwrap()
            .weights(&weights)
            .unwrap()
            .gradient(&[0.1_f32, f32::NEG_INFINITY])
            .unwrap();
        record
            .layer("dense2")
            .unwrap()
            .activity(ActivityStats {
                mean_derivative_ratio: 0.3,
                saturated_share: f64::NAN,
                dead_share: 0.0,
            })
            .unwrap();
        record.finish().unwrap();
        weights[epoch] *= 1.5;
    }
    let history = recorder.into_history();
    let text = history.to_json_string().unwrap();
    assert!(text.contains(r#""loss": "NaN""#), "{text}");
    assert!(text.contains(r#""validation_loss": "Infinity""#));
    assert!(text.contains(r#""l2": "Infinity""#));
    assert!(!text.contains("null"), "absent fields are left out: {text}");
    let back = TrainingHistory::from_json_str(&text).unwrap();
    assert!(same_history(&history, &back));
    // the validated constructor ran: the non-finite values are listed again
    assert_eq!(back.non_finite_values(), history.non_finite_values());
    // the writer path gives the same text
    let mut bytes = Vec::new();
    history.to_json_writer(&mut bytes).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), text);
    let from_reader = TrainingHistory::from_json_reader(text.as_bytes()).unwrap();
    assert!(same_history(&history, &from_reader));
    // and plain serde_json goes through the same format
    let via_serde: TrainingHistory = serde_json::from_str(&text).unwrap();
    assert!(same_history(&history, &via_serde));
    assert_eq!(serde_json::to_string_pretty(&history).unwrap(), text);
}

fn special_or(value: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => Just(value),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    (0.0_f64..1e6).prop_flat_map(special_or)
}

fn share() -> impl Strategy<Value = f64> {
    (0.0_f64..=1.0).prop_flat_map(special_or)
}

fn layer(name: String, count: usize) -> impl Strategy<Value = LayerRecord> {
    (
        any::<bool>(),
        proptest::option::of(number()),
        proptest::option::of(number()),
        proptest::option::of((number(), number(), number())),
        proptest::option::of((share(), share(), share())),
    )
        .prop_map(move |(weights, l2, update, gradient, activity)| {
            let mut record = LayerRecord::new(name.clone());
            record.weight_count = weights.then_some(count);
            record.weight_l2 = l2;
            record.relative_update = update;
            record.gradient = gradient.map(|(l2, rms, max_abs)| GradientStats {
                l2,
                rms,
                max_abs,
                count,
            });
            record.activity = activity.map(|(m, s, d)| ActivityStats {
                mean_derivative_ratio: m,
                saturated_share: s,
                dead_share: d,
            });
            record
        })
}

fn history() -> impl Strategy<Value = TrainingHistory> {
    (1_usize..4, 1_usize..6).prop_flat_map(|(layers, epochs)| {
        let epoch = (
            prop_oneof![Just(-2.5_f64), number()],
            proptest::option::of(number()),
            (0..layers)
                .map(|i| layer(format!("layer \"{i}\" é"), 10 + i))
                .collect::<Vec<_>>(),
        )
            .prop_map(|(loss, validation_loss, layers)| EpochRecord {
                loss,
                validation_loss,
                layers,
            });
        proptest::collection::vec(epoch, epochs)
            .prop_map(|epochs| TrainingHistory::from_epochs(epochs).expect("valid by construction"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_valid_history_round_trips(history in history()) {
        let text = history.to_json_string().unwrap();
        let back = TrainingHistory::from_json_str(&text).unwrap();
        prop_assert!(same_history(&history, &back), "{}", text);
        prop_assert_eq!(back.to_json_string().unwrap(), text);
    }

    #[test]
    fn a_whole_layer_sample_gives_the_recorders_exact_update(
        steps in proptest::collection::vec(proptest::collection::vec(-3.0_f64..3.0, 6), 2..5)
    ) {
        let mut recorder = Recorder::new();
        let mut epochs = Vec::new();
        for weights in &steps {
            let mut record = recorder.epoch(1.0);
            record.layer("dense").unwrap().weights(weights).unwrap();
            record.finish().unwrap();
            let sample: Vec<String> = weights.iter().map(|w| format!("{w:e}")).collect();
            epochs.push(format!(
                r#"{{"loss": 1, "layers": [{{"name": "dense", "weights_sample": [{}]}}]}}"#,
                sample.join(", ")
            ));
        }
        let loaded = TrainingHistory::from_json_str(&file(&epochs.join(","))).unwrap();
        for (expected, found) in recorder.history().epochs().iter().zip(loaded.epochs()) {
            let (e, f) = (&expected.layers[0], &found.layers[0]);
            prop_assert_eq!(e.weight_count, f.weight_count);
            prop_assert!((e.weight_l2.unwrap() - f.weight_l2.unwrap()).abs() <= 1e-12 * e.weight_l2.unwrap());
            match (e.relative_update, f.relative_update) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-12), "{} vs {}", a, b),
                (None, None) => {}
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}

#[test]
fn a_partial_sample_scales_the_update_by_the_sampling_ratio() {
    // 100 weights, 4 sampled; the full norm is given (as the Python writers do)
    let text = file(
        r#"{"loss": 1.0, "layers": [{"name": "d", "weight_count": 100, "weight_l2": 10.0,
                "weights_sample": [1.0, 2.0, 0.0, -1.0]}]},
           {"loss": 0.9, "layers": [{"name": "d", "weight_count": 100, "weight_l2": 10.5,
                "weights_sample": [1.0, 2.3, 0.4, -1.0]}]}"#,
    );
    let history = TrainingHistory::from_json_str(&text).unwrap();
    let layer = &history.epochs()[1].layers[0];
    // ||delta sample|| = 0.5, scaled by sqrt(100 / 4) = 5, over the previous full norm 10
    assert!((layer.relative_update.unwrap() - 0.25).abs() < 1e-12);
    assert_eq!(layer.weight_l2, Some(10.5));
    assert_eq!(history.epochs()[0].layers[0].relative_update, None);

    // without weight_l2 the norm is estimated from the sample: sqrt(6) * sqrt(25)
    let text = file(
        r#"{"loss": 1.0, "layers": [{"name": "d", "weight_count": 100,
                "weights_sample": [1.0, 2.0, 0.0, -1.0]}]}"#,
    );
    let history = TrainingHistory::from_json_str(&text).unwrap();
    let estimated = history.epochs()[0].layers[0].weight_l2.unwrap();
    assert!((estimated - 6.0_f64.sqrt() * 5.0).abs() < 1e-12);
}

#[test]
fn an_explicit_relative_update_wins_over_the_sample() {
    let text = file(
        r#"{"loss": 1.0, "layers": [{"name": "d", "weights_sample": [3.0, 4.0]}]},
           {"loss": 0.9, "layers": [{"name": "d", "weights_sample": [3.0, 9.0], "relative_update": 0.125}]}"#,
    );
    let history = TrainingHistory::from_json_str(&text).unwrap();
    assert_eq!(history.epochs()[1].layers[0].relative_update, Some(0.125));
}

#[test]
fn minimal_files_load_and_gradients_derive_their_missing_norm() {
    let history = TrainingHistory::from_json_str(&file(r#"{"loss": 2}"#)).unwrap();
    assert_eq!(history.losses(), vec![2.0]);
    assert_eq!(history.layer_count(), 0);

    let text = file(
        r#"{"epoch": 0, "loss": 1, "validation_loss": null, "layers": [
             {"name": "a", "gradient": {"rms": 0.5, "max_abs": 1, "count": 16}},
             {"name": "b", "gradient": {"l2": 2.0, "max_abs": 1, "count": 4}, "weight_l2": null}]}"#,
    );
    let history = TrainingHistory::from_json_str(&text).unwrap();
    let layers = &history.epochs()[0].layers;
    assert_eq!(layers[0].gradient.unwrap().l2, 2.0);
    assert_eq!(layers[1].gradient.unwrap().rms, 1.0);
    assert_eq!(layers[1].weight_l2, None);
    assert_eq!(history.epochs()[0].validation_loss, None);
}

#[test]
fn the_header_is_checked_with_clear_messages() {
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(
        r#"{"format": "keras/history", "version": 1, "epochs": []}"#,
    ));
    assert!(
        reason.contains("keras/history") && reason.contains("vanishing-gradient/history"),
        "{reason}"
    );
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(r#"{"epochs": []}"#));
    assert!(reason.contains("missing `format`"), "{reason}");
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(
        r#"{"format": "vanishing-gradient/history", "version": 2, "epochs": []}"#,
    ));
    assert!(reason.contains("newer") && reason.contains('2'), "{reason}");
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(
        r#"{"format": "vanishing-gradient/history", "epochs": []}"#,
    ));
    assert!(reason.contains("missing `version`"), "{reason}");
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(
        r#"{"format": "vanishing-gradient/history", "version": "one", "epochs": []}"#,
    ));
    assert!(reason.contains("version"), "{reason}");
    let (_, _, reason) = history_error(TrainingHistory::from_json_str("[1]"));
    assert!(reason.contains("JSON object"), "{reason}");
    // metadata is free-form and ignored
    let text = r#"{"format": "vanishing-gradient/history", "version": 1,
        "metadata": {"run": ["a", 1, null], "seed": 3}, "epochs": [{"loss": 1}]}"#;
    assert_eq!(TrainingHistory::from_json_str(text).unwrap().len(), 1);
    // an empty history is fine
    assert!(TrainingHistory::from_json_str(&file(""))
        .unwrap()
        .is_empty());
}

#[test]
fn syntax_errors_give_line_and_column() {
    // Python's json.dumps writes a bare NaN by default: not JSON
    let text = "{\"format\": \"vanishing-gradient/history\", \"version\": 1,\n \"epochs\": [{\"loss\": NaN}]}";
    let (epoch, layer, reason) = history_error(TrainingHistory::from_json_str(text));
    assert_eq!((epoch, layer), (None, None));
    assert!(reason.contains("line 2"), "{reason}");
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(&format!("{} x", file(""))));
    assert!(reason.contains("trailing"), "{reason}");
}

#[test]
fn field_errors_name_the_epoch_the_layer_and_the_field() {
    let text = file(
        r#"{"loss": 1, "layers": [{"name": "in"}, {"name": "hidden"}]},
           {"loss": 1, "layers": [{"name": "in"}, {"name": "hidden", "gradient": {"l2": "lots", "max_abs": 1, "count": 3}}]}"#,
    );
    let (epoch, layer, reason) = history_error(TrainingHistory::from_json_str(&text));
    assert_eq!(epoch, Some(1));
    assert_eq!(layer.as_deref(), Some("hidden"));
    assert!(
        reason.contains("epochs[1].layers[1].gradient.l2"),
        "{reason}"
    );
    assert!(
        reason.contains("lots") && reason.contains("line"),
        "{reason}"
    );

    // a misspelled field is not silently dropped
    let text = file(r#"{"loss": 1, "validaton_loss": 2}"#);
    let (epoch, layer, reason) = history_error(TrainingHistory::from_json_str(&text));
    assert_eq!((epoch, layer), (Some(0), None));
    assert!(reason.contains("validaton_loss"), "{reason}");

    // a missing loss
    let (epoch, _, reason) =
        history_error(TrainingHistory::from_json_str(&file(r#"{"layers": []}"#)));
    assert_eq!(epoch, Some(0));
    assert!(reason.contains("loss"), "{reason}");

    // a string that is not one of the non-finite forms
    let (_, _, reason) = history_error(TrainingHistory::from_json_str(&file(r#"{"loss": "nan"}"#)));
    assert!(reason.contains("\"NaN\""), "{reason}");
}

#[test]
fn invalid_histories_are_refused_by_the_validating_constructor() {
    // a layer that changes size
    let text = file(
        r#"{"loss": 1, "layers": [{"name": "a", "weight_count": 10}]},
           {"loss": 1, "layers": [{"name": "a", "weight_count": 12}]}"#,
    );
    let (epoch, layer, reason) = history_error(TrainingHistory::from_json_str(&text));
    assert_eq!((epoch, layer.as_deref()), (Some(1), Some("a")));
    assert!(reason.contains("changed size"), "{reason}");
    // and through plain serde too
    let error = serde_json::from_str::<TrainingHistory>(&text).unwrap_err();
    assert!(error.to_string().contains("changed size"), "{error}");

    // duplicate names
    let text = file(r#"{"loss": 1, "layers": [{"name": "a"}, {"name": "a"}]}"#);
    assert!(serde_json::from_str::<TrainingHistory>(&text).is_err());
    assert!(TrainingHistory::from_json_str(&text).is_err());

    // a negative norm
    let text = file(r#"{"loss": 1, "layers": [{"name": "a", "weight_l2": -1}]}"#);
    let (_, layer, reason) = history_error(TrainingHistory::from_json_str(&text));
    assert_eq!(layer.as_deref(), Some("a"));
    assert!(reason.contains("negative"), "{reason}");

    // a wrong epoch number
    let text = file(r#"{"epoch": 0, "loss": 1}, {"epoch": 2, "loss": 1}"#);
    let (epoch, _, reason) = history_error(TrainingHistory::from_json_str(&text));
    assert_eq!(epoch, Some(1));
    assert!(reason.contains("missing or out of order"), "{reason}");
}

#[test]
fn inconsistent_samples_and_gradients_are_refused() {
    let cases = [
        (
            r#"{"loss": 1, "layers": [{"name": "a", "weights_sample": [1, 2]}]},
               {"loss": 1, "layers": [{"name": "a", "weights_sample": [1, 2, 3]}]}"#,
            "changed length",
        ),
        (
            r#"{"loss": 1, "layers": [{"name": "a", "weight_count": 2, "weights_sample": [1, 2, 3]}]}"#,
            "weight_count",
        ),
        (
            r#"{"loss": 1, "layers": [{"name": "a", "weights_sample": []}]}"#,
            "empty",
        ),
        (
            r#"{"loss": 1, "layers": [{"name": "a", "weight_l2": 1, "weight_count": 9, "weights_sample": [3, 4]}]}"#,
            "exceeds",
        ),
        (
            r#"{"loss": 1, "layers": [{"name": "a", "gradient": {"max_abs": 1, "count": 4}}]}"#,
            "needs `l2` or `rms`",
        ),
    ];
    for (epochs, expected) in cases {
        let (_, layer, reason) = history_error(TrainingHistory::from_json_str(&file(epochs)));
        assert_eq!(layer.as_deref(), Some("a"), "{epochs}");
        assert!(reason.contains(expected), "{expected}: {reason}");
    }
}

#[test]
fn records_and_reports_serialize_with_derived_impls() {
    let data = Dataset::<f64>::teacher_regression(16, 3, 2, 1).unwrap();
    let mut net = NetworkBuilder::<f64>::new(3)
        .seed(3)
        .dense(4, Sigmoid)
        .dense(2, Identity)
        .loss(Mse)
        .build()
        .unwrap();
    let report = net.backward(data.inputs(), data.targets()).unwrap().clone();
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains(r#""activation":"sigmoid""#), "{text}");
    let back: GradientReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);

    // an activation the crate does not know reads back as "custom"
    let renamed = text.replacen("\"sigmoid\"", "\"my_swish\"", 1);
    let back: GradientReport = serde_json::from_str(&renamed).unwrap();
    assert_eq!(back.layers[0].activation, "custom");

    let mut layer = LayerRecord::new("x");
    layer.gradient = Some(GradientStats {
        l2: f64::NAN,
        rms: 1.0,
        max_abs: f64::NEG_INFINITY,
        count: 3,
    });
    let text = serde_json::to_string(&layer).unwrap();
    assert_eq!(
        text,
        r#"{"name":"x","gradient":{"l2":"NaN","rms":1.0,"max_abs":"-Infinity","count":3}}"#
    );
    let back: LayerRecord = serde_json::from_str(&text).unwrap();
    assert!(back.gradient.unwrap().l2.is_nan());
    assert_eq!(back.gradient.unwrap().max_abs, f64::NEG_INFINITY);
}
