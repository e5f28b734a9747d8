//! The Display text of typical errors names what was wrong and where: the expected and the
//! found shape, the layer, the epoch, the field. (`tests/serde_format.rs` checks the loader's
//! `reason` fields; this file checks the whole message a user reads.)

use nalgebra::DMatrix;
use rand::SeedableRng;
use vanishing_gradient::data::Dataset;
use vanishing_gradient::detect::gradients::GradientConfig;
use vanishing_gradient::detect::plateau::PlateauConfig;
use vanishing_gradient::history::TrainingHistory;
use vanishing_gradient::history::{EpochRecord, GradientStats, LayerRecord, Recorder};
use vanishing_gradient::loss::{Loss, Mse};
use vanishing_gradient::prelude::*;
use vanishing_gradient::{diagnose_with, DiagnoseConfig};

fn message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    result.expect_err("an error").to_string()
}

fn assert_contains_all(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

fn network() -> Network<f64> {
    NetworkBuilder::new(3)
        .dense(4, Tanh)
        .name("hidden")
        .dense(2, Identity)
        .name("output")
        .loss(Mse)
        .seed(1)
        .build()
        .unwrap()
}

#[test]
fn network_shape_errors_give_expected_and_found_shapes() {
    let mut net = network();
    let text = message(net.forward(&DMatrix::zeros(5, 7)));
    assert_eq!(
        text,
        "shape mismatch in network input: expected (5, 3) (rows, columns), found (5, 7)"
    );

    let text = message(net.backward(&DMatrix::zeros(5, 3), &DMatrix::zeros(5, 4)));
    assert_eq!(
        text,
        "shape mismatch in loss target: expected (5, 2) (rows, columns), found (5, 4)"
    );

    let text = message(net.forward(&DMatrix::zeros(0, 3)));
    assert_eq!(
        text,
        "empty batch in network input: a batch needs at least one row"
    );

    let mut input = DMatrix::zeros(2, 3);
    input[(1, 2)] = f64::NAN; // column-major index 2 * 2 + 1 = 5
    let text = message(net.forward(&input));
    assert_eq!(text, "non-finite value in network input at index 5: NaN");
    input[(1, 2)] = f64::NEG_INFINITY;
    let text = message(net.forward(&input));
    assert_eq!(text, "non-finite value in network input at index 5: -inf");
}

#[test]
fn builder_and_dataset_errors_name_the_part() {
    let text = message(NetworkBuilder::<f64>::new(0).dense(2, Relu).build());
    assert_eq!(
        text,
        "zero width in network input: every layer needs at least one unit"
    );
    let text = message(
        NetworkBuilder::<f64>::new(2)
            .dense(3, Relu)
            .name("twin")
            .dense(1, Identity)
            .name("twin")
            .build(),
    );
    assert_contains_all(&text, &["invalid layer name", "\"twin\"", "twice"]);
    let text = message(NetworkBuilder::<f64>::new(2).build());
    assert_contains_all(&text, &["invalid state", "at least one layer"]);

    let text = message(Dataset::new(
        DMatrix::<f64>::zeros(4, 2),
        DMatrix::zeros(3, 1),
    ));
    assert_eq!(
        text,
        "shape mismatch in dataset targets: expected (4, 1) (rows, columns), found (3, 1)"
    );

    // A dataset of the wrong width for the network.
    let mut net = network();
    let data = Dataset::new(DMatrix::<f64>::zeros(4, 2), DMatrix::zeros(4, 2)).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut sgd = Sgd::new(0.1).unwrap();
    let text = message(net.train_epoch(&data, 2, &mut sgd, &mut rng));
    assert_contains_all(&text, &["dataset", "expected (3, 2)", "found (2, 2)"]);
    let text = message(net.train_epoch(&data, 0, &mut sgd, &mut rng));
    assert_contains_all(&text, &["batch_size", "at least 1"]);
}

#[test]
fn loss_errors_give_both_shapes() {
    let text = message(Mse.loss(&DMatrix::<f64>::zeros(2, 3), &DMatrix::zeros(3, 2)));
    assert_eq!(
        text,
        "shape mismatch in loss target: expected (2, 3) (rows, columns), found (3, 2)"
    );
}

#[test]
fn recorder_errors_name_the_epoch_and_the_layer() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch
        .layer("dense1")
        .unwrap()
        .weights(&[1.0_f32, 2.0, 3.0])
        .unwrap();
    let text = message(epoch.layer("dense1"));
    assert_eq!(
        text,
        "history error at epoch 0, layer `dense1`: layer name appears twice in the epoch"
    );
    epoch.layer("dense2").unwrap();
    epoch.finish().unwrap();

    // Epoch 1: a layer that changed size, a renamed layer, a missing layer.
    let mut epoch = recorder.epoch(0.9);
    let text = message(
        epoch
            .layer("dense1")
            .unwrap()
            .weights(&[1.0_f32, 2.0, 3.0, 4.0]),
    );
    assert_eq!(
        text,
        "history error at epoch 1, layer `dense1`: layer changed size: weight count was 3, now 4"
    );
    let text = message(epoch.layer("dense_2"));
    assert_eq!(
        text,
        "history error at epoch 1, layer `dense_2`: layer list differs from epoch 0: \
         expected `dense2` at depth 1"
    );
    let text = message(epoch.finish());
    assert_contains_all(&text, &["at epoch 1", "`dense2`", "1 layers instead of 2"]);

    let mut epoch = recorder.epoch(0.9);
    let text = message(epoch.layer("dense1").unwrap().weights::<f64>(&[]));
    assert_eq!(
        text,
        "history error at epoch 1, layer `dense1`: weights are empty"
    );
    let stats = GradientStats {
        l2: -1.0,
        rms: 0.1,
        max_abs: 0.1,
        count: 4,
    };
    let text = message(epoch.layer("dense2").unwrap().gradient_stats(stats));
    assert_contains_all(
        &text,
        &[
            "at epoch 1, layer `dense2`",
            "negative gradient statistic",
            "l2: -1.0",
        ],
    );

    let text = message(Recorder::with_sample_budget(0, 1));
    assert_contains_all(&text, &["coordinates_per_layer", "at least one"]);
}

#[test]
fn pushed_records_are_refused_with_epoch_layer_and_value() {
    let mut first = EpochRecord::new(1.0);
    first.layers.push(LayerRecord::new("in"));
    let mut second = EpochRecord::new(1.0);
    let mut layer = LayerRecord::new("in");
    layer.relative_update = Some(-0.5);
    second.layers.push(layer);
    let text = message(TrainingHistory::from_epochs([first, second]));
    assert_eq!(
        text,
        "history error at epoch 1, layer `in`: relative update must not be negative, got -0.5"
    );
}

fn file(epochs: &str) -> String {
    format!(r#"{{"format": "vanishing-gradient/history", "version": 1, "epochs": [{epochs}]}}"#)
}

#[test]
fn json_errors_name_the_epoch_the_layer_and_the_field() {
    let text = file(
        r#"{"loss": 1, "layers": [{"name": "in"}]},
           {"loss": 1, "layers": [{"name": "in", "weight_count": "many"}]}"#,
    );
    let text = message(TrainingHistory::from_json_str(&text));
    assert_contains_all(
        &text,
        &[
            "history error at epoch 1, layer `in`: invalid history file at",
            "`epochs[1].layers[0].weight_count`",
            "\"many\"",
            "line 2",
        ],
    );

    // a missing field
    let text = message(TrainingHistory::from_json_str(&file(
        r#"{"loss": 1}, {"layers": []}"#,
    )));
    assert_contains_all(&text, &["at epoch 1", "missing field `loss`"]);

    // a truncated file
    let whole = file(r#"{"loss": 1, "layers": [{"name": "in"}]}"#);
    let text = message(TrainingHistory::from_json_str(&whole[..whole.len() - 8]));
    assert_contains_all(
        &text,
        &["history error: invalid history file", "EOF", "line 1"],
    );

    // a version this crate does not read
    let text = message(TrainingHistory::from_json_str(
        &file("").replace("\"version\": 1", "\"version\": 7"),
    ));
    assert_eq!(
        text,
        "history error: `version` 7 is newer than this crate reads (1): upgrade vanishing-gradient"
    );

    // a checked value inside a file
    let text = message(TrainingHistory::from_json_str(&file(
        r#"{"loss": 1, "layers": [{"name": "in", "activity": {"mean_derivative_ratio": 2, "saturated_share": 0, "dead_share": 0}}]}"#,
    )));
    assert_eq!(
        text,
        "history error at epoch 0, layer `in`: mean derivative ratio must lie in [0, 1], got 2"
    );
}

#[test]
fn configuration_errors_name_the_field_and_the_value() {
    let config = DiagnoseConfig {
        gradients: GradientConfig {
            vanishing_ratio: f64::NAN,
            ..GradientConfig::default()
        },
        ..DiagnoseConfig::default()
    };
    let text = message(diagnose_with(&TrainingHistory::new(), &config));
    assert_eq!(text, "invalid vanishing_ratio: must lie in (0, 1], got NaN");

    let config = DiagnoseConfig {
        plateau: PlateauConfig {
            window: 0,
            ..PlateauConfig::default()
        },
        ..DiagnoseConfig::default()
    };
    let text = message(config.validate());
    assert_eq!(text, "invalid window: must be at least 3 epochs, got 0");
}
