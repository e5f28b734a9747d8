//! Tests of the training history and the recorder.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use vanishing_gradient::history::{
    sampled_update_relative_error, ActivityStats, EpochRecord, GradientStats, LayerRecord,
    Quantity, Recorder, TrainingHistory,
};
use vanishing_gradient::Error;

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn record_weights_f32(recorder: &mut Recorder, loss: f64, weights: &[f32]) {
    let mut epoch = recorder.epoch(loss);
    epoch.layer("dense").unwrap().weights(weights).unwrap();
    epoch.finish().unwrap();
}

#[test]
fn exact_deltas_f32_by_hand() {
    let mut recorder = Recorder::new();
    record_weights_f32(&mut recorder, 1.0, &[3.0, 4.0]);
    record_weights_f32(&mut recorder, 0.9, &[6.0, 8.0]); // delta (3, 4): 5 / 5
    record_weights_f32(&mut recorder, 0.8, &[6.0, 8.0]); // no change
    record_weights_f32(&mut recorder, 0.7, &[6.0, 7.0]); // delta 1 / 10
    let history = recorder.history();
    let layers: Vec<&LayerRecord> = history.epochs().iter().map(|e| &e.layers[0]).collect();
    assert_eq!(layers[0].weight_l2, Some(5.0));
    assert_eq!(layers[0].weight_count, Some(2));
    assert_eq!(layers[0].relative_update, None, "first epoch has no delta");
    assert_eq!(layers[1].relative_update, Some(1.0));
    assert_eq!(layers[1].weight_l2, Some(10.0));
    assert_eq!(layers[2].relative_update, Some(0.0));
    assert!((layers[3].relative_update.unwrap() - 0.1).abs() < 1e-15);
}

#[test]
fn exact_deltas_f64_by_hand() {
    let mut recorder = Recorder::new();
    for weights in [[1.0_f64, 2.0, 2.0], [1.0, 2.0, 2.5], [0.0, 2.0, 2.5]] {
        let mut epoch = recorder.epoch(0.5);
        epoch.layer("w").unwrap().weights(&weights).unwrap();
        epoch.finish().unwrap();
    }
    let layers: Vec<&LayerRecord> = recorder
        .history()
        .epochs()
        .iter()
        .map(|e| &e.layers[0])
        .collect();
    assert_eq!(layers[0].weight_l2, Some(3.0));
    assert_eq!(layers[0].relative_update, None);
    assert!((layers[1].relative_update.unwrap() - 0.5 / 3.0).abs() < 1e-15);
    assert!((layers[1].weight_l2.unwrap() - 11.25_f64.sqrt()).abs() < 1e-15);
    assert!((layers[2].relative_update.unwrap() - 1.0 / 11.25_f64.sqrt()).abs() < 1e-15);
}

#[test]
fn switching_precision_keeps_the_delta() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("w").unwrap().weights(&[3.0_f32, 4.0]).unwrap();
    epoch.finish().unwrap();
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("w").unwrap().weights(&[3.0_f64, 4.5]).unwrap();
    epoch.finish().unwrap();
    let update = recorder.history().epochs()[1].layers[0].relative_update;
    assert!((update.unwrap() - 0.1).abs() < 1e-15);
}

#[test]
fn zero_previous_weights_give_a_unit_update_not_infinity() {
    let mut recorder = Recorder::new();
    for weights in [[0.0_f32, 0.0], [0.0, 0.0], [0.0, 0.5]] {
        record_weights_f32(&mut recorder, 1.0, &weights);
    }
    let history = recorder.history();
    assert_eq!(history.epochs()[1].layers[0].relative_update, Some(0.0));
    assert_eq!(history.epochs()[2].layers[0].relative_update, Some(1.0));
    assert!(history.non_finite_values().is_empty());
}

#[test]
fn gradient_statistics_from_slices_and_precomputed() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch
        .layer("a")
        .unwrap()
        .gradient(&[3.0_f32, -4.0])
        .unwrap();
    epoch
        .layer("b")
        .unwrap()
        .gradient(&[0.0_f64, 0.0, -2.0, 0.0])
        .unwrap();
    let given = GradientStats {
        l2: 1.0,
        rms: 0.5,
        max_abs: 0.9,
        count: 4,
    };
    epoch.layer("c").unwrap().gradient_stats(given).unwrap();
    epoch.finish().unwrap();
    let layers = &recorder.history().epochs()[0].layers;
    let a = layers[0].gradient.unwrap();
    assert_eq!((a.l2, a.max_abs, a.count), (5.0, 4.0, 2));
    assert!((a.rms - 5.0 / 2f64.sqrt()).abs() < 1e-15);
    let b = layers[1].gradient.unwrap();
    assert_eq!((b.l2, b.rms, b.max_abs, b.count), (2.0, 1.0, 2.0, 4));
    assert_eq!(layers[2].gradient, Some(given));
    assert_eq!(layers[2].weight_count, None);
}

#[test]
fn activity_statistics_from_derivatives_by_hand() {
    // 2 examples x 4 units, sigmoid-like maximum 0.25
    let derivatives = [0.25_f64, 0.0, 0.001, 0.1, 0.25, 0.0, 0.001, 0.2];
    let stats = ActivityStats::from_derivatives(&derivatives, 4, 0.25).unwrap();
    let mean = derivatives.iter().sum::<f64>() / 8.0;
    assert!((stats.mean_derivative_ratio - mean / 0.25).abs() < 1e-15);
    // unit 1 (0) and unit 2 (0.001 < 0.0025) are saturated; unit 1 is dead
    assert_eq!(stats.saturated_share, 0.5);
    assert_eq!(stats.dead_share, 0.25);
    assert!(ActivityStats::from_derivatives(&derivatives, 3, 0.25).is_err());
    assert!(ActivityStats::from_derivatives(&derivatives, 4, f64::NAN).is_err());
    let with_nan = [f32::NAN, 1.0];
    let nan_stats = ActivityStats::from_derivatives(&with_nan, 2, 1.0).unwrap();
    assert!(nan_stats.dead_share.is_nan());
}

#[test]
fn an_abandoned_epoch_is_not_recorded() {
    let mut recorder = Recorder::new();
    {
        let mut epoch = recorder.epoch(1.0);
        epoch.layer("a").unwrap();
    }
    assert!(recorder.history().is_empty());
    let mut epoch = recorder.epoch(2.0).validation_loss(3.0);
    epoch.layer("a").unwrap();
    epoch.finish().unwrap();
    let history = recorder.into_history();
    assert_eq!(history.losses(), vec![2.0]);
    assert_eq!(history.validation_losses(), vec![Some(3.0)]);
    assert_eq!(history.layer_names(), vec!["a"]);
}

fn assert_history_error(result: Result<impl std::fmt::Debug, Error>, epoch: usize, layer: &str) {
    match result {
        Err(Error::History {
            epoch: Some(e),
            layer: Some(l),
            ..
        }) => {
            assert_eq!(e, epoch);
            assert_eq!(l, layer);
        }
        other => panic!("expected a history error at epoch {epoch}, layer {layer}: {other:?}"),
    }
}

#[test]
fn duplicate_layer_name_is_a_typed_error() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap();
    assert_history_error(epoch.layer("a").map(|_| ()), 0, "a");
    // and through the plain-data route
    let mut record = EpochRecord::new(1.0);
    record.layers.push(LayerRecord::new("x"));
    record.layers.push(LayerRecord::new("x"));
    assert_history_error(TrainingHistory::from_epochs([record]), 0, "x");
}

#[test]
fn changed_size_is_a_typed_error() {
    let mut recorder = Recorder::new();
    record_weights_f32(&mut recorder, 1.0, &[1.0, 2.0, 3.0]);
    let mut epoch = recorder.epoch(1.0);
    let result = epoch.layer("dense").unwrap().weights(&[1.0_f32, 2.0]);
    assert_history_error(result.map(|_| ()), 1, "dense");
    drop(epoch);
    // the baseline was not touched: the next valid epoch measures against epoch 0
    record_weights_f32(&mut recorder, 1.0, &[1.0, 2.0, 3.0]);
    assert_eq!(
        recorder.history().epochs()[1].layers[0].relative_update,
        Some(0.0)
    );

    let mut epoch = recorder.epoch(1.0);
    epoch
        .layer("dense")
        .unwrap()
        .gradient(&[1.0_f32; 4])
        .unwrap();
    epoch.finish().unwrap();
    let mut epoch = recorder.epoch(1.0);
    let result = epoch.layer("dense").unwrap().gradient(&[1.0_f32; 5]);
    assert_history_error(result.map(|_| ()), 3, "dense");
}

#[test]
fn changed_layer_list_is_a_typed_error() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap();
    epoch.layer("b").unwrap();
    epoch.finish().unwrap();
    // another name at depth 1
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap();
    assert_history_error(epoch.layer("c").map(|_| ()), 1, "c");
    // a missing layer, caught by finish
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap();
    assert_history_error(epoch.finish(), 1, "b");
    // an extra layer
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap();
    epoch.layer("b").unwrap();
    assert_history_error(epoch.layer("z").map(|_| ()), 1, "z");
    assert_eq!(recorder.history().len(), 1);
}

#[test]
fn recording_twice_or_empty_is_an_error() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    let layer = epoch.layer("a").unwrap().weights(&[1.0_f32]).unwrap();
    assert!(layer.weights(&[1.0_f32]).is_err());
    let empty: [f64; 0] = [];
    assert!(epoch.layer("b").unwrap().weights(&empty).is_err());
    assert!(epoch.layer("c").unwrap().gradient(&empty).is_err());
    assert!(Recorder::with_sample_budget(0, 1).is_err());
}

#[test]
fn plain_data_with_invalid_values_is_refused() {
    let mut layer = LayerRecord::new("a");
    layer.weight_l2 = Some(-1.0);
    let mut record = EpochRecord::new(1.0);
    record.layers.push(layer);
    assert!(matches!(
        TrainingHistory::from_epochs([record]),
        Err(Error::History { .. })
    ));
    let mut layer = LayerRecord::new("a");
    layer.activity = Some(ActivityStats {
        mean_derivative_ratio: 0.5,
        saturated_share: 1.5,
        dead_share: 0.0,
    });
    let mut record = EpochRecord::new(1.0);
    record.layers.push(layer);
    assert!(TrainingHistory::from_epochs([record]).is_err());
}

#[test]
fn non_finite_values_are_recorded_and_listed() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    epoch.layer("a").unwrap().weights(&[1.0_f32, 1.0]).unwrap();
    epoch.layer("b").unwrap().gradient(&[1.0_f64, 1.0]).unwrap();
    epoch.finish().unwrap();
    let mut epoch = recorder.epoch(f64::NAN).validation_loss(f64::INFINITY);
    epoch.layer("a").unwrap().weights(&[f32::NAN, 1.0]).unwrap();
    epoch
        .layer("b")
        .unwrap()
        .gradient(&[f64::INFINITY, 1.0])
        .unwrap();
    epoch.finish().unwrap();
    let history = recorder.history();
    assert_eq!(history.len(), 2);
    let epoch1 = &history.epochs()[1];
    assert!(epoch1.loss.is_nan());
    assert!(epoch1.layers[0].weight_l2.unwrap().is_nan());
    assert!(epoch1.layers[0].relative_update.unwrap().is_nan());
    assert_eq!(epoch1.layers[1].gradient.unwrap().l2, f64::INFINITY);
    let listed: Vec<(usize, Option<&str>, Quantity)> = history
        .non_finite_values()
        .iter()
        .map(|v| (v.epoch, v.layer.as_deref(), v.quantity))
        .collect();
    assert_eq!(
        listed,
        vec![
            (1, None, Quantity::Loss),
            (1, None, Quantity::ValidationLoss),
            (1, Some("a"), Quantity::Weights),
            (1, Some("b"), Quantity::Gradient),
        ]
    );
    // a NaN gradient element gives a NaN maximum, not a silently finite one
    let stats = GradientStats::from_values(&[1.0_f32, f32::NAN]).unwrap();
    assert!(stats.max_abs.is_nan() && stats.rms.is_nan());
}

#[test]
fn huge_finite_f64_weights_do_not_overflow_the_norm() {
    let stats = GradientStats::from_values(&[1e200_f64, 1e200]).unwrap();
    assert!((stats.l2 / (2f64.sqrt() * 1e200) - 1.0).abs() < 1e-12);
}

/// Weights `N(0, 1)` and a Gaussian update of relative size about `scale`.
fn random_step(n: usize, scale: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let before: Vec<f32> = (0..n).map(|_| normal.sample(&mut rng) as f32).collect();
    let after = before
        .iter()
        .map(|&w| w + (scale * normal.sample(&mut rng)) as f32)
        .collect();
    (before, after)
}

fn relative_updates(recorder: &mut Recorder, before: &[f32], after: &[f32]) -> f64 {
    record_weights_f32(recorder, 1.0, before);
    record_weights_f32(recorder, 1.0, after);
    recorder.history().epochs()[1].layers[0]
        .relative_update
        .unwrap()
}

#[test]
fn sampled_estimate_is_within_its_documented_error() {
    let n = 100_000;
    let m = 2_000;
    let predicted = sampled_update_relative_error(m, n);
    assert!((predicted - ((1.0 - 0.02) / 4000.0_f64).sqrt()).abs() < 1e-15);
    let mut squared_errors = 0.0;
    let trials = 30;
    for trial in 0..trials {
        let (before, after) = random_step(n, 1e-2, 1000 + trial);
        let exact = relative_updates(&mut Recorder::new(), &before, &after);
        let mut sampled_recorder = Recorder::with_sample_budget(m, trial).unwrap();
        let sampled = relative_updates(&mut sampled_recorder, &before, &after);
        let error = sampled / exact - 1.0;
        assert!(
            error.abs() < 5.0 * predicted,
            "trial {trial}: relative error {error} beyond 5 sigma ({predicted})"
        );
        squared_errors += error * error;
    }
    let observed = (squared_errors / trials as f64).sqrt();
    assert!(
        observed > 0.5 * predicted && observed < 1.6 * predicted,
        "observed RMS error {observed}, predicted {predicted}"
    );
}

#[test]
fn sampled_mode_stores_only_the_budget() {
    let budget = 1_000;
    let mut sampled = Recorder::with_sample_budget(budget, 7).unwrap();
    let mut exact = Recorder::new();
    let big = vec![0.5_f32; 50_000];
    let small = vec![0.5_f64; 300];
    for recorder in [&mut sampled, &mut exact] {
        for _ in 0..2 {
            let mut epoch = recorder.epoch(1.0);
            epoch.layer("big").unwrap().weights(&big).unwrap();
            epoch.layer("small").unwrap().weights(&small).unwrap();
            epoch.finish().unwrap();
        }
    }
    assert_eq!(sampled.stored_coordinates(), budget + 300);
    assert_eq!(exact.stored_coordinates(), 50_300);
}

#[test]
fn sampled_mode_is_reproducible_and_seeded() {
    let (before, after) = random_step(20_000, 1e-2, 3);
    let estimate = |seed| {
        relative_updates(
            &mut Recorder::with_sample_budget(500, seed).unwrap(),
            &before,
            &after,
        )
    };
    assert_eq!(estimate(11), estimate(11));
    assert_ne!(estimate(11), estimate(12));
}

proptest! {
    #[test]
    fn exact_relative_update_matches_its_definition(
        pairs in prop::collection::vec((-100.0_f64..100.0, -1.0_f64..1.0), 1..200)
    ) {
        let before: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let after: Vec<f64> = pairs.iter().map(|p| p.0 + p.1).collect();
        prop_assume!(norm(&before) > 1e-6);
        let delta: Vec<f64> = pairs.iter().map(|p| (p.0 + p.1) - p.0).collect();
        let expected = norm(&delta) / norm(&before);
        for mut recorder in [Recorder::new(), Recorder::with_sample_budget(200, 1).unwrap()] {
            for weights in [&before, &after] {
                let mut epoch = recorder.epoch(0.0);
                epoch.layer("w").unwrap().weights(weights).unwrap();
                epoch.finish().unwrap();
            }
            let layer = &recorder.history().epochs()[1].layers[0];
            // a budget at least the layer size stores it whole: exact too
            prop_assert!((layer.relative_update.unwrap() - expected).abs() <= 1e-12 * expected.max(1e-300));
            prop_assert!((layer.weight_l2.unwrap() - norm(&after)).abs() <= 1e-12 * norm(&after));
        }
    }

    #[test]
    fn gradient_rms_is_l2_over_root_count(values in prop::collection::vec(-1e3_f32..1e3, 1..300)) {
        let stats = GradientStats::from_values(&values).unwrap();
        let as_f64: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        let l2 = norm(&as_f64);
        prop_assert!((stats.l2 - l2).abs() <= 1e-12 * l2.max(1.0));
        prop_assert!((stats.rms - l2 / (values.len() as f64).sqrt()).abs() <= 1e-12 * l2.max(1.0));
        let max_abs = as_f64.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        prop_assert_eq!(stats.max_abs, max_abs);
        prop_assert_eq!(stats.count, values.len());
    }
}

#[test]
fn relative_update_column_mirrors_the_records() {
    let mut records = Vec::new();
    for (epoch, update) in [None, Some(0.5), Some(f64::INFINITY), None, Some(0.0)]
        .into_iter()
        .enumerate()
    {
        let mut record = EpochRecord::new(epoch as f64);
        let mut layer = LayerRecord::new("a");
        layer.relative_update = update;
        record.layers.push(layer);
        record.layers.push(LayerRecord::new("b"));
        records.push(record);
    }
    let history = TrainingHistory::from_epochs(records).unwrap();
    let column = history.relative_update_column(0).unwrap();
    assert_eq!(column.len(), 5);
    assert!(column[0].is_nan() && column[2].is_nan() && column[3].is_nan());
    assert_eq!((column[1], column[4]), (0.5, 0.0));
    assert!(history
        .relative_update_column(1)
        .unwrap()
        .iter()
        .all(|u| u.is_nan()));
    assert_eq!(history.relative_update_column(2), None);
    assert_eq!(history.non_finite_values().len(), 1);
    assert_eq!(history.non_finite_values()[0].epoch, 2);
}

#[test]
fn a_history_equals_itself_when_updates_are_missing() {
    // The first epoch has no relative update: the history must still equal its clone.
    let mut recorder = vanishing_gradient::history::Recorder::new();
    for loss in [1.0, 0.5] {
        let mut epoch = recorder.epoch(loss);
        epoch.layer("a").unwrap().weights(&[1.0f32, 2.0]).unwrap();
        epoch.finish().unwrap();
    }
    let history = recorder.into_history();
    assert_eq!(history, history.clone());
    let mut other = vanishing_gradient::history::Recorder::new();
    let mut epoch = other.epoch(1.0);
    epoch.layer("a").unwrap().weights(&[1.0f32, 2.0]).unwrap();
    epoch.finish().unwrap();
    assert_ne!(history, other.into_history());
}
