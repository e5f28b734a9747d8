//! Tests of the loss-plateau detector: the trend statistics against hand-worked examples, the
//! Keras and PyTorch replays against their documented semantics (worked by hand from the
//! frameworks' source), and the robust detector's properties.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vanishing_gradient::detect::plateau::{
    detect_plateaus, keras_early_stopping, torch_reduce_lr_on_plateau, KerasEarlyStopping,
    KerasVariant, PlateauAnalysis, PlateauConfig, PlateauKind, TorchReduceLrOnPlateau,
    TorchThresholdMode, WindowTrend,
};
use vanishing_gradient::detect::trend::{
    complementary_error_function, mann_kendall, median, smallest_one_sided_p_value,
    standard_normal_cdf, theil_sen_slope,
};
use vanishing_gradient::Error;

fn close(actual: f64, expected: f64, relative_tolerance: f64) -> bool {
    (actual - expected).abs() <= relative_tolerance * expected.abs().max(f64::MIN_POSITIVE)
}

// ---------------------------------------------------------------------------------------------
// Trend statistics
// ---------------------------------------------------------------------------------------------

#[test]
fn erfc_matches_reference_values() {
    // Reference values from an independent implementation (CPython's math.erfc).
    let cases = [
        (0.0, 1.0),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_13),
        (2.0, 0.004_677_734_981_047_265),
        (2.5, 0.000_406_952_017_444_958_9),
        (3.0, 2.209_049_699_858_543_8e-5),
        (5.0, 1.537_459_794_428_035_1e-12),
        (-1.0, 1.842_700_792_949_715),
        (10.0, 2.088_487_583_762_545e-45),
    ];
    for (x, expected) in cases {
        let actual = complementary_error_function(x);
        assert!(
            close(actual, expected, 1e-12),
            "erfc({x}) = {actual}, expected {expected}"
        );
    }
}

#[test]
fn normal_cdf_matches_known_quantiles() {
    assert!(close(
        standard_normal_cdf(1.0),
        0.841_344_746_068_542_9,
        1e-13
    ));
    assert!(close(
        standard_normal_cdf(-1.644_853_626_951_472_2),
        0.05,
        1e-12
    ));
    assert!(close(
        standard_normal_cdf(-1.959_963_984_540_054),
        0.025,
        1e-12
    ));
    assert_eq!(standard_normal_cdf(0.0), 0.5);
    assert_eq!(standard_normal_cdf(-40.0), 0.0);
    assert_eq!(standard_normal_cdf(40.0), 1.0);
}

fn normal_density(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

proptest! {
    #[test]
    fn normal_cdf_derivative_is_the_density(z in -6.0f64..6.0) {
        // Central finite difference of Phi against the closed-form density.
        let h = 1e-5;
        let numeric = (standard_normal_cdf(z + h) - standard_normal_cdf(z - h)) / (2.0 * h);
        prop_assert!((numeric - normal_density(z)).abs() < 1e-8);
    }

    #[test]
    fn normal_cdf_is_symmetric_and_monotone(z in -8.0f64..8.0, step in 1e-3f64..1.0) {
        prop_assert!((standard_normal_cdf(z) + standard_normal_cdf(-z) - 1.0).abs() < 1e-15);
        prop_assert!(standard_normal_cdf(z + step) > standard_normal_cdf(z));
    }
}

#[test]
fn mann_kendall_of_an_increasing_run() {
    // S = 10 concordant pairs; Var(S) = 5*4*15/18 = 50/3; z = (10 - 1)/sqrt(50/3).
    let test = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    assert_eq!(test.n, 5);
    assert_eq!(test.s, 10);
    assert!(close(test.variance, 50.0 / 3.0, 1e-14));
    assert!(close(test.z, 9.0 / (50.0f64 / 3.0).sqrt(), 1e-14));
    assert!(close(test.p_increasing, 0.013_743_168_055_755_177, 1e-11));
    assert!(close(test.p_decreasing, 0.986_256_831_944_244_8, 1e-12));
    assert!(close(
        test.p_two_sided,
        2.0 * 0.013_743_168_055_755_177,
        1e-11
    ));
}

#[test]
fn mann_kendall_with_ties() {
    // Pairs of [1, 2, 2, 3]: five increasing, one tie -> S = 5.
    // Var = (4*3*13 - 2*1*9)/18 = 138/18 = 23/3.
    let test = mann_kendall(&[1.0, 2.0, 2.0, 3.0]).unwrap();
    assert_eq!(test.s, 5);
    assert!(close(test.variance, 23.0 / 3.0, 1e-14));
    assert!(close(test.p_increasing, 0.074_280_887_445_934_35, 1e-11));

    // [3, 3, 1, 1, 2]: 6 decreasing, 2 increasing, 2 tied pairs -> S = -4;
    // two tie groups of 2: Var = (5*4*15 - 2*(2*1*9))/18 = 264/18.
    let test = mann_kendall(&[3.0, 3.0, 1.0, 1.0, 2.0]).unwrap();
    assert_eq!(test.s, -4);
    assert!(close(test.variance, 264.0 / 18.0, 1e-14));
    assert!(close(test.z, -3.0 / (264.0f64 / 18.0).sqrt(), 1e-14));
    assert!(close(test.p_decreasing, 0.216_710_965_478_036_87, 1e-11));
}

#[test]
fn mann_kendall_of_a_constant_series_has_no_evidence() {
    let test = mann_kendall(&[2.0; 6]).unwrap();
    assert_eq!(test.s, 0);
    assert_eq!(test.variance, 0.0);
    assert_eq!(test.z, 0.0);
    assert_eq!(test.p_decreasing, 1.0);
    assert_eq!(test.p_increasing, 1.0);
}

#[test]
fn trend_statistics_reject_bad_input() {
    assert!(matches!(median(&[]), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        theil_sen_slope(&[1.0]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        mann_kendall(&[1.0]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        mann_kendall(&[1.0, f64::NAN, 2.0]),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        theil_sen_slope(&[1.0, f64::INFINITY]),
        Err(Error::NonFinite { index: 1, .. })
    ));
}

#[test]
fn median_and_theil_sen_hand_examples() {
    assert_eq!(median(&[3.0, 1.0, 2.0]).unwrap(), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]).unwrap(), 2.5);
    assert_eq!(median(&[-7.0]).unwrap(), -7.0);
    assert_eq!(theil_sen_slope(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap(), 1.0);
    assert_eq!(theil_sen_slope(&[5.0, 4.0, 3.0]).unwrap(), -1.0);
    // [1, 3, 2, 4]: slopes 2, 0.5, 1, -1, 0.5, 2 -> sorted -1, .5, .5, 1, 2, 2 -> (0.5+1)/2.
    assert_eq!(theil_sen_slope(&[1.0, 3.0, 2.0, 4.0]).unwrap(), 0.75);
    // One outlier among five points: 6 of the 10 slopes are 1.
    assert_eq!(theil_sen_slope(&[0.0, 1.0, 2.0, 3.0, 100.0]).unwrap(), 1.0);
}

#[test]
fn smallest_p_value_decides_the_useful_window() {
    // n = 3: S_max = 3, Var = 3*2*11/18, z = 2/sqrt(11/3).
    let expected = standard_normal_cdf(-2.0 / (11.0f64 / 3.0).sqrt());
    assert!(close(smallest_one_sided_p_value(3), expected, 1e-14));
    assert!(smallest_one_sided_p_value(3) > 0.05);
    assert!(smallest_one_sided_p_value(4) < 0.05);
    assert_eq!(smallest_one_sided_p_value(1), 1.0);
}

fn naive_mann_kendall(values: &[f64]) -> (i64, f64) {
    let n = values.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += (values[j] - values[i])
                .partial_cmp(&0.0)
                .map_or(0, |o| o as i64);
        }
    }
    let mut tie_term = 0.0;
    let mut seen = vec![false; n];
    for i in 0..n {
        if seen[i] {
            continue;
        }
        let mut t = 0.0;
        for j in i..n {
            if values[j] == values[i] {
                seen[j] = true;
                t += 1.0;
            }
        }
        tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
    }
    let n = n as f64;
    (s, (n * (n - 1.0) * (2.0 * n + 5.0) - tie_term) / 18.0)
}

fn naive_theil_sen(values: &[f64]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..values.len() {
        for j in i + 1..values.len() {
            slopes.push((values[j] - values[i]) / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    if m % 2 == 1 {
        slopes[m / 2]
    } else {
        (slopes[m / 2 - 1] + slopes[m / 2]) / 2.0
    }
}

proptest! {
    #[test]
    fn mann_kendall_matches_the_pairwise_definition(
        values in prop::collection::vec((-5i32..5).prop_map(f64::from), 2..60)
    ) {
        // Small integers: many ties.
        let (s, variance) = naive_mann_kendall(&values);
        let test = mann_kendall(&values).unwrap();
        prop_assert_eq!(test.s, s);
        prop_assert!((test.variance - variance).abs() <= 1e-9 * variance.max(1.0));
        prop_assert!(test.p_decreasing >= 0.0 && test.p_decreasing <= 1.0);
    }

    #[test]
    fn mann_kendall_reverses_sign_with_time(values in prop::collection::vec(-1e3f64..1e3, 2..80)) {
        let forward = mann_kendall(&values).unwrap();
        let reversed: Vec<f64> = values.iter().rev().copied().collect();
        let backward = mann_kendall(&reversed).unwrap();
        prop_assert_eq!(forward.s, -backward.s);
        prop_assert!((forward.p_decreasing - backward.p_increasing).abs() < 1e-15);
    }

    #[test]
    fn theil_sen_matches_the_definition_and_recovers_lines(
        values in prop::collection::vec(-1e3f64..1e3, 2..40),
        intercept in -100.0f64..100.0,
        slope in -10.0f64..10.0,
    ) {
        prop_assert!((theil_sen_slope(&values).unwrap() - naive_theil_sen(&values)).abs() < 1e-9);
        let line: Vec<f64> = (0..values.len()).map(|t| intercept + slope * t as f64).collect();
        prop_assert!((theil_sen_slope(&line).unwrap() - slope).abs() < 1e-9);
        // Equivariance: adding a line adds its slope (up to rounding).
        let sum: Vec<f64> = values.iter().zip(&line).map(|(v, l)| v + l).collect();
        let shifted = theil_sen_slope(&sum).unwrap();
        prop_assert!((shifted - (naive_theil_sen(&values) + slope)).abs() < 1e-6);
    }

    #[test]
    fn median_matches_sorting(values in prop::collection::vec(-1e6f64..1e6, 1..50)) {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let expected = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        prop_assert!((median(&values).unwrap() - expected).abs() <= 1e-9 * expected.abs().max(1.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Keras EarlyStopping (mode "min"), worked by hand from keras/src/callbacks/early_stopping.py
// ---------------------------------------------------------------------------------------------

fn keras(patience: usize) -> KerasEarlyStopping {
    KerasEarlyStopping {
        patience,
        ..KerasEarlyStopping::default()
    }
}

#[test]
fn keras_stops_after_patience_epochs_without_improvement() {
    // Epoch 0 and 1 improve (wait 0); epoch 2 wait 1; epoch 3 wait 2 >= 2: stop at 3.
    let outcome = keras_early_stopping(&[1.0, 0.9, 0.9, 0.9, 0.5], &keras(2)).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(3));
    assert_eq!(outcome.best_epoch, Some(1));
    assert_eq!(outcome.best, 0.9);
    assert_eq!(outcome.wait, 2);
    assert_eq!(outcome.epochs_run, 4);
    // One epoch short of the patience: no stop.
    let outcome = keras_early_stopping(&[1.0, 0.9, 0.9], &keras(2)).unwrap();
    assert_eq!(outcome.stopped_epoch, None);
    assert_eq!(outcome.epochs_run, 3);
}

#[test]
fn keras_patience_zero_stops_at_the_first_non_improvement() {
    let outcome = keras_early_stopping(&[1.0, 0.9, 0.95, 0.1], &keras(0)).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(2));
    assert_eq!(outcome.best_epoch, Some(1));
}

#[test]
fn keras_min_delta_boundary_is_strict_and_sign_free() {
    // Improvement iff current + |min_delta| < best. 0.5 + 0.5 < 1.0 is false.
    for min_delta in [0.5, -0.5] {
        let config = KerasEarlyStopping {
            min_delta,
            ..keras(0)
        };
        let at_boundary = keras_early_stopping(&[1.0, 0.5], &config).unwrap();
        assert_eq!(at_boundary.stopped_epoch, Some(1));
        assert_eq!(at_boundary.best_epoch, Some(0));
        let beyond = keras_early_stopping(&[1.0, 0.25], &config).unwrap();
        assert_eq!(beyond.stopped_epoch, None);
        assert_eq!(beyond.best_epoch, Some(1));
    }
}

#[test]
fn keras_start_from_epoch_skips_the_warm_up() {
    let losses = [5.0, 1.0, 1.0, 1.0];
    let plain = keras_early_stopping(&losses, &keras(1)).unwrap();
    assert_eq!(plain.stopped_epoch, Some(2));
    let warmed = KerasEarlyStopping {
        start_from_epoch: 2,
        ..keras(1)
    };
    // Epochs 0, 1 unseen; epoch 2 improves on +inf; epoch 3 waits 1 >= 1.
    let outcome = keras_early_stopping(&losses, &warmed).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(3));
    assert_eq!(outcome.best_epoch, Some(2));
}

#[test]
fn keras3_baseline_gates_the_reset_of_wait() {
    let config = KerasEarlyStopping {
        baseline: Some(0.5),
        ..keras(2)
    };
    // Every epoch improves on the best but not on the baseline: wait grows to 4, yet Keras 3
    // returns early on an improvement, so it never stops.
    let improving = keras_early_stopping(&[1.0, 0.9, 0.8, 0.7], &config).unwrap();
    assert_eq!(improving.stopped_epoch, None);
    assert_eq!(improving.wait, 4);
    assert_eq!(improving.best_epoch, Some(3));
    // The first non-improvement with wait >= patience stops.
    let stalled = keras_early_stopping(&[1.0, 0.9, 0.9], &config).unwrap();
    assert_eq!(stalled.stopped_epoch, Some(2));
    assert_eq!(stalled.wait, 3);
    // Beating the baseline resets wait.
    let beaten = KerasEarlyStopping {
        baseline: Some(0.95),
        ..keras(2)
    };
    let outcome = keras_early_stopping(&[1.0, 0.9, 0.9, 0.9], &beaten).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(3));
}

#[test]
fn keras2_baseline_is_the_initial_best() {
    let config = KerasEarlyStopping {
        baseline: Some(0.5),
        variant: KerasVariant::Keras2,
        ..keras(2)
    };
    let outcome = keras_early_stopping(&[1.0, 0.9, 0.8], &config).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(1));
    assert_eq!(outcome.best_epoch, None);
    assert_eq!(outcome.best, 0.5);
}

#[test]
fn keras_replays_non_finite_losses_and_lists_them() {
    let outcome = keras_early_stopping(&[1.0, f64::NAN, f64::NAN], &keras(1)).unwrap();
    assert_eq!(outcome.stopped_epoch, Some(1));
    assert_eq!(outcome.non_finite_epochs, vec![1]);
    // Keras 3 never stops at epoch 0; the Keras 2 code does.
    let first_nan = [f64::NAN, 1.0];
    let keras3 = keras_early_stopping(&first_nan, &keras(0)).unwrap();
    assert_eq!(keras3.stopped_epoch, None);
    assert_eq!(keras3.best_epoch, Some(1));
    let keras2 = KerasEarlyStopping {
        variant: KerasVariant::Keras2,
        ..keras(0)
    };
    assert_eq!(
        keras_early_stopping(&first_nan, &keras2)
            .unwrap()
            .stopped_epoch,
        Some(0)
    );
}

#[test]
fn keras_edge_cases() {
    let empty = keras_early_stopping(&[], &keras(3)).unwrap();
    assert_eq!(empty.stopped_epoch, None);
    assert_eq!(empty.epochs_run, 0);
    assert_eq!(empty.best, f64::INFINITY);
    let bad = KerasEarlyStopping {
        min_delta: f64::NAN,
        ..keras(0)
    };
    assert!(matches!(
        keras_early_stopping(&[1.0], &bad),
        Err(Error::InvalidArgument {
            name: "min_delta",
            ..
        })
    ));
    let bad = KerasEarlyStopping {
        baseline: Some(f64::INFINITY),
        ..keras(0)
    };
    assert!(matches!(
        bad.validate(),
        Err(Error::InvalidArgument {
            name: "baseline",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// PyTorch ReduceLROnPlateau (mode "min"), worked by hand from torch/optim/lr_scheduler.py
// ---------------------------------------------------------------------------------------------

fn torch(patience: usize) -> TorchReduceLrOnPlateau {
    TorchReduceLrOnPlateau {
        patience,
        ..TorchReduceLrOnPlateau::default()
    }
}

#[test]
fn torch_fires_when_bad_epochs_exceed_patience() {
    // Bad epochs 1, 2, 3 at indices 2, 3, 4; 3 > 2 first at index 4 (Keras would stop at 3).
    let outcome = torch_reduce_lr_on_plateau(&[1.0, 0.9, 0.9, 0.9, 0.9], &torch(2)).unwrap();
    assert_eq!(outcome.reductions, vec![4]);
    assert_eq!(outcome.best_epoch, Some(1));
    assert_eq!(outcome.num_bad_epochs, 0);
    let outcome = torch_reduce_lr_on_plateau(&[1.0, 0.9, 0.9, 0.9], &torch(2)).unwrap();
    assert!(outcome.reductions.is_empty());
    assert_eq!(outcome.num_bad_epochs, 2);
}

#[test]
fn torch_threshold_boundaries_are_strict() {
    let relative = TorchReduceLrOnPlateau {
        threshold: 0.5,
        ..torch(0)
    };
    // Better iff a < best * (1 - 0.5) = 0.5 exactly.
    let at = torch_reduce_lr_on_plateau(&[1.0, 0.5], &relative).unwrap();
    assert_eq!(at.reductions, vec![1]);
    assert_eq!(at.best, 1.0);
    let beyond = torch_reduce_lr_on_plateau(&[1.0, 0.4999], &relative).unwrap();
    assert!(beyond.reductions.is_empty());
    assert_eq!(beyond.best, 0.4999);

    let absolute = TorchReduceLrOnPlateau {
        threshold: 0.25,
        threshold_mode: TorchThresholdMode::Absolute,
        ..torch(0)
    };
    // Better iff a < best - 0.25 = 0.75 exactly.
    let at = torch_reduce_lr_on_plateau(&[1.0, 0.75], &absolute).unwrap();
    assert_eq!(at.reductions, vec![1]);
    let beyond = torch_reduce_lr_on_plateau(&[1.0, 0.74], &absolute).unwrap();
    assert!(beyond.reductions.is_empty());
}

#[test]
fn torch_cooldown_ignores_bad_epochs() {
    let config = TorchReduceLrOnPlateau {
        cooldown: 2,
        ..torch(0)
    };
    // Index 1 fires (cooldown 2); 2 and 3 are cooldown epochs; 4 fires; 5, 6 cool; 7 fires.
    let outcome = torch_reduce_lr_on_plateau(&[1.0; 8], &config).unwrap();
    assert_eq!(outcome.reductions, vec![1, 4, 7]);
    assert_eq!(outcome.cooldown_counter, 2);

    // An improvement during cooldown still updates the best.
    let config = TorchReduceLrOnPlateau {
        cooldown: 1,
        ..torch(0)
    };
    let outcome = torch_reduce_lr_on_plateau(&[1.0, 1.0, 0.5, 0.5, 0.5], &config).unwrap();
    assert_eq!(outcome.reductions, vec![1, 3]);
    assert_eq!(outcome.best, 0.5);
    assert_eq!(outcome.best_epoch, Some(2));
}

#[test]
fn torch_relative_mode_is_fixed_for_negative_losses() {
    // A flat negative loss: PyTorch's best * (1 - threshold) = -0.9999 lies above the best
    // -1.0, so every epoch "improves" and the scheduler never fires.
    let flat = [-1.0; 6];
    let as_pytorch = TorchReduceLrOnPlateau {
        threshold_mode: TorchThresholdMode::RelativeAsPyTorch,
        ..torch(2)
    };
    let literal = torch_reduce_lr_on_plateau(&flat, &as_pytorch).unwrap();
    assert!(literal.reductions.is_empty());
    assert_eq!(literal.best_epoch, Some(5));
    // The fixed rule sees three bad epochs at 1, 2, 3 and fires at 3.
    let fixed = torch_reduce_lr_on_plateau(&flat, &torch(2)).unwrap();
    assert_eq!(fixed.reductions, vec![3]);
    assert_eq!(fixed.best_epoch, Some(0));

    // A slowly worsening negative loss: PyTorch adopts each worse value as its best.
    let worsening = [-1.0, -0.99995, -0.9999, -0.99985];
    let literal = torch_reduce_lr_on_plateau(&worsening, &as_pytorch).unwrap();
    assert_eq!(literal.best, -0.99985);
    let fixed = torch_reduce_lr_on_plateau(&worsening, &torch(2)).unwrap();
    assert_eq!(fixed.best, -1.0);
    assert_eq!(fixed.reductions, vec![3]);
}

#[test]
fn torch_rejects_nonsense_thresholds() {
    for threshold in [f64::NAN, -0.1, f64::INFINITY, 1.0] {
        let config = TorchReduceLrOnPlateau {
            threshold,
            ..torch(1)
        };
        assert!(
            matches!(
                torch_reduce_lr_on_plateau(&[1.0], &config),
                Err(Error::InvalidArgument {
                    name: "threshold",
                    ..
                })
            ),
            "threshold {threshold} accepted"
        );
    }
    let absolute = TorchReduceLrOnPlateau {
        threshold: 2.0,
        threshold_mode: TorchThresholdMode::Absolute,
        ..torch(1)
    };
    assert!(absolute.validate().is_ok());
}

#[test]
fn torch_lists_non_finite_epochs_and_never_adopts_nan() {
    let outcome = torch_reduce_lr_on_plateau(&[1.0, f64::NAN, f64::NAN, 0.5], &torch(0)).unwrap();
    assert_eq!(outcome.non_finite_epochs, vec![1, 2]);
    assert_eq!(outcome.reductions, vec![1, 2]);
    assert_eq!(outcome.best, 0.5);
}

proptest! {
    #[test]
    fn torch_relative_agrees_with_pytorch_on_positive_losses(
        losses in prop::collection::vec(1e-6f64..1e3, 0..60),
        threshold in 0.0f64..0.5,
        patience in 0usize..5,
        cooldown in 0usize..4,
    ) {
        let fixed = TorchReduceLrOnPlateau { patience, threshold, cooldown, threshold_mode: TorchThresholdMode::Relative };
        let literal = TorchReduceLrOnPlateau { threshold_mode: TorchThresholdMode::RelativeAsPyTorch, ..fixed.clone() };
        prop_assert_eq!(
            torch_reduce_lr_on_plateau(&losses, &fixed).unwrap(),
            torch_reduce_lr_on_plateau(&losses, &literal).unwrap()
        );
    }

    #[test]
    fn torch_relative_never_adopts_a_worse_best(
        losses in prop::collection::vec(-1e3f64..1e3, 1..60),
        threshold in 0.0f64..0.5,
    ) {
        // A correct "min" rule only ever lowers its best, so the best is the running minimum
        // at the epoch it was set.
        let config = TorchReduceLrOnPlateau { threshold, ..torch(3) };
        let outcome = torch_reduce_lr_on_plateau(&losses, &config).unwrap();
        let best_epoch = outcome.best_epoch.unwrap();
        let running_min = losses[..=best_epoch].iter().copied().fold(f64::INFINITY, f64::min);
        prop_assert_eq!(outcome.best, running_min);
        prop_assert_eq!(outcome.best, losses[best_epoch]);
    }

    #[test]
    fn keras_stop_is_one_epoch_before_torch_with_one_less_patience(
        losses in prop::collection::vec(prop_oneof![(0i32..6).prop_map(f64::from), -10.0f64..10.0], 0..50),
        patience in 1usize..6,
    ) {
        // Keras stops when wait >= p; PyTorch fires when num_bad_epochs > p - 1. With no
        // min_delta/threshold and no cooldown both count the same bad epochs.
        let keras_outcome = keras_early_stopping(&losses, &keras(patience)).unwrap();
        let torch_config = TorchReduceLrOnPlateau {
            threshold: 0.0,
            threshold_mode: TorchThresholdMode::Absolute,
            ..torch(patience - 1)
        };
        let torch_outcome = torch_reduce_lr_on_plateau(&losses, &torch_config).unwrap();
        prop_assert_eq!(keras_outcome.stopped_epoch, torch_outcome.reductions.first().copied());
        // Without a baseline both Keras variants agree on finite losses.
        let keras2 = KerasEarlyStopping { variant: KerasVariant::Keras2, ..keras(patience) };
        prop_assert_eq!(keras_early_stopping(&losses, &keras2).unwrap(), keras_outcome);
    }
}

// ---------------------------------------------------------------------------------------------
// Robust detector
// ---------------------------------------------------------------------------------------------

fn default_analysis(losses: &[f64]) -> PlateauAnalysis {
    detect_plateaus(losses, &PlateauConfig::default()).unwrap()
}

fn spans(analysis: &PlateauAnalysis) -> Vec<(usize, usize)> {
    analysis
        .plateaus
        .iter()
        .map(|plateau| (plateau.first_epoch, plateau.last_epoch))
        .collect()
}

fn uniform_noise(seed: u64, n: usize, amplitude: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.random_range(-amplitude..=amplitude))
        .collect()
}

#[test]
fn config_validation_names_the_bad_field() {
    let base = PlateauConfig::default();
    let cases: Vec<(PlateauConfig, &str)> = vec![
        (
            PlateauConfig {
                window: 2,
                ..base.clone()
            },
            "window",
        ),
        (
            PlateauConfig {
                window: 3,
                ..base.clone()
            },
            "window",
        ), // never significant at 0.05
        (
            PlateauConfig {
                alpha: 0.0,
                ..base.clone()
            },
            "alpha",
        ),
        (
            PlateauConfig {
                alpha: 1.0,
                ..base.clone()
            },
            "alpha",
        ),
        (
            PlateauConfig {
                alpha: f64::NAN,
                ..base.clone()
            },
            "alpha",
        ),
        (
            PlateauConfig {
                stride: 0,
                ..base.clone()
            },
            "stride",
        ),
        (
            PlateauConfig {
                stride: 11,
                ..base.clone()
            },
            "stride",
        ),
        (
            PlateauConfig {
                min_relative_change: f64::NAN,
                ..base.clone()
            },
            "min_relative_change",
        ),
        (
            PlateauConfig {
                min_relative_change: -0.1,
                ..base.clone()
            },
            "min_relative_change",
        ),
        (
            PlateauConfig {
                scale_floor_fraction: f64::INFINITY,
                ..base.clone()
            },
            "scale_floor_fraction",
        ),
        (
            PlateauConfig {
                stuck_fraction: f64::NAN,
                ..base.clone()
            },
            "stuck_fraction",
        ),
        (
            PlateauConfig {
                converged_fraction: 1.0,
                ..base.clone()
            },
            "converged_fraction",
        ),
        (
            PlateauConfig {
                initial_epochs: 0,
                ..base.clone()
            },
            "initial_epochs",
        ),
        (
            PlateauConfig {
                baseline: Some(f64::NAN),
                ..base.clone()
            },
            "baseline",
        ),
        (
            PlateauConfig {
                target: Some(3.0),
                baseline: Some(2.0),
                ..base.clone()
            },
            "target",
        ),
    ];
    for (config, field) in cases {
        match detect_plateaus(&[1.0; 20], &config) {
            Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, field),
            other => panic!("{field}: expected InvalidArgument, got {other:?}"),
        }
    }
    assert!(PlateauConfig {
        window: 3,
        alpha: 0.2,
        ..base.clone()
    }
    .validate()
    .is_ok());
    assert!(PlateauConfig { window: 4, ..base }.validate().is_ok());
}

#[test]
fn short_and_empty_histories_are_insufficient_not_errors() {
    let empty = default_analysis(&[]);
    let missing = empty.insufficient_data.unwrap();
    assert_eq!(
        (missing.epochs, missing.longest_finite_run, missing.window),
        (0, 0, 10)
    );
    assert!(empty.plateaus.is_empty() && empty.trailing.is_none());
    assert_eq!(empty.initial_level, None);
    assert!(!empty.on_plateau_at_end());

    let short = default_analysis(&[1.0; 9]);
    assert_eq!(short.insufficient_data.unwrap().longest_finite_run, 9);
    assert_eq!(short.initial_level, Some(1.0));

    let exactly = default_analysis(&[1.0; 10]);
    assert!(exactly.insufficient_data.is_none());
    assert_eq!(spans(&exactly), vec![(0, 9)]);
}

#[test]
fn non_finite_losses_are_listed_and_split_the_history() {
    let mut losses = vec![1.0; 31];
    losses[15] = f64::NAN;
    let analysis = default_analysis(&losses);
    assert_eq!(analysis.non_finite_epochs, vec![15]);
    assert_eq!(spans(&analysis), vec![(0, 14), (16, 30)]);
    assert!(analysis.trailing.is_some());

    // Too few finite epochs between the non-finite ones: insufficient, and named.
    let broken = [1.0, f64::INFINITY, 1.0, f64::NAN, 1.0, f64::NEG_INFINITY];
    let analysis = default_analysis(&broken);
    assert_eq!(analysis.non_finite_epochs, vec![1, 3, 5]);
    assert_eq!(analysis.insufficient_data.unwrap().longest_finite_run, 1);
    assert!(analysis.trailing.is_none());

    let all_nan = default_analysis(&[f64::NAN; 12]);
    assert_eq!(all_nan.initial_level, None);
    assert_eq!(all_nan.non_finite_epochs.len(), 12);
    assert!(all_nan.insufficient_data.is_some());
}

#[test]
fn classification_stuck_slowed_converged() {
    let decay_then_flat = |start: f64, rate: f64, decay_epochs: usize, level: f64| -> Vec<f64> {
        let mut losses: Vec<f64> = (0..decay_epochs)
            .map(|t| level + (start - level) * rate.powi(t as i32))
            .collect();
        losses.extend(std::iter::repeat_n(level, 30));
        losses
    };
    let kind = |losses: &[f64], config: &PlateauConfig| {
        let analysis = detect_plateaus(losses, config).unwrap();
        assert_eq!(analysis.plateaus.len(), 1, "{:?}", analysis.plateaus);
        analysis.plateaus[0].kind
    };
    let default = PlateauConfig::default();

    // Never moved: stuck.
    assert_eq!(kind(&[2.3; 40], &default), PlateauKind::Stuck);
    // From 2 to 1 then flat: half the loss gone, far from 1% of it: slowed.
    let halfway = decay_then_flat(2.0, 0.8, 40, 1.0);
    assert_eq!(kind(&halfway, &default), PlateauKind::Slowed);
    // From 2 to 0.004 (0.2% of the start): converged.
    let solved = decay_then_flat(2.0, 0.8, 60, 0.004);
    assert_eq!(kind(&solved, &default), PlateauKind::Converged);
    // A target moves the line: 1.0 is good enough here.
    let with_target = PlateauConfig {
        target: Some(1.1),
        ..default.clone()
    };
    assert_eq!(kind(&halfway, &with_target), PlateauKind::Converged);

    // A chance-level baseline: from 5 to 2.5 is half the loss, but 2.5 >= ln(10) is not
    // better than guessing among 10 classes.
    let guessing = decay_then_flat(5.0, 0.8, 40, 2.5);
    assert_eq!(kind(&guessing, &default), PlateauKind::Slowed);
    let ten_classes = PlateauConfig {
        baseline: Some(10f64.ln()),
        ..default.clone()
    };
    assert_eq!(kind(&guessing, &ten_classes), PlateauKind::Stuck);
    let twenty_classes = PlateauConfig {
        baseline: Some(20f64.ln()),
        ..default.clone()
    };
    assert_eq!(kind(&guessing, &twenty_classes), PlateauKind::Slowed);

    // Negative losses: the level relative to zero says nothing, a target does.
    let negative = decay_then_flat(-1.0, 0.8, 40, -3.0);
    let analysis = detect_plateaus(&negative, &default).unwrap();
    assert_eq!(analysis.plateaus[0].kind, PlateauKind::Slowed);
    // Initial level: median of the first three epochs -1, -1.4, -1.72 = -1.4; floor 3e-6.
    let expected = (-1.4 - -3.0) / (1.4 + 3e-6);
    assert!(close(
        analysis.plateaus[0].improvement_since_start,
        expected,
        1e-9
    ));
    let negative_target = PlateauConfig {
        target: Some(-2.5),
        ..default
    };
    assert_eq!(kind(&negative, &negative_target), PlateauKind::Converged);
}

#[test]
fn plateau_fields_describe_the_span() {
    // 2.0 for 20 epochs, a fast fall to 1.0, 1.0 for 30 epochs.
    let mut losses = vec![2.0; 20];
    losses.extend((1..=10).map(|t| 2.0 - 0.1 * t as f64));
    losses.extend(std::iter::repeat_n(1.0, 30));
    let analysis = default_analysis(&losses);
    assert_eq!(analysis.plateaus.len(), 2);
    let (first, second) = (&analysis.plateaus[0], &analysis.plateaus[1]);
    assert_eq!(first.first_epoch, 0);
    assert!((19..=24).contains(&first.last_epoch), "{first:?}");
    assert_eq!(first.level, 2.0);
    assert_eq!(first.kind, PlateauKind::Stuck);
    assert!((26..=30).contains(&second.first_epoch), "{second:?}");
    assert_eq!(second.last_epoch, 59);
    assert_eq!(second.level, 1.0);
    assert_eq!(second.kind, PlateauKind::Slowed);
    assert!(close(second.improvement_since_start, 0.5, 1e-6));
    assert!(analysis.on_plateau_at_end());
    assert!(analysis.plateau_at(25).is_none());
    assert_eq!(analysis.plateau_at(59), Some(second));
    assert_eq!(analysis.trailing.as_ref().unwrap().trend, WindowTrend::Flat);
    assert_eq!(analysis.plateau_epochs(), first.epochs() + second.epochs());
}

#[test]
fn a_slow_crawl_is_flat_per_window_but_significant_overall() {
    // -0.05% of the level per epoch: 0.45% per 10-epoch window, under the 1% bar; over 2000
    // epochs the loss still falls by about 60%, which the plateau's own numbers show.
    let losses: Vec<f64> = (0..2000).map(|t| 10.0 * 0.9995f64.powi(t)).collect();
    let analysis = default_analysis(&losses);
    assert_eq!(spans(&analysis), vec![(0, 1999)]);
    let plateau = &analysis.plateaus[0];
    assert!(plateau.p_decreasing < 1e-10);
    assert!(plateau.relative_improvement > 0.5, "{plateau:?}");
    assert!(plateau.slope < 0.0);
}

#[test]
fn a_rising_loss_is_reported_as_rising_not_as_a_plateau() {
    let losses: Vec<f64> = (0..40).map(|t| 1.0 + 0.05 * t as f64).collect();
    let analysis = default_analysis(&losses);
    assert!(analysis.plateaus.is_empty());
    assert_eq!(analysis.rising.len(), 1);
    assert_eq!(
        (
            analysis.rising[0].first_epoch,
            analysis.rising[0].last_epoch
        ),
        (0, 39)
    );
    assert_eq!(analysis.trailing.unwrap().trend, WindowTrend::Increasing);
}

#[test]
fn stride_still_covers_every_epoch() {
    let config = PlateauConfig {
        stride: 3,
        ..PlateauConfig::default()
    };
    let analysis = detect_plateaus(&[0.7; 31], &config).unwrap();
    assert_eq!(spans(&analysis), vec![(0, 30)]);
    // Windows start at 0, 3, ..., 21 plus the last one at 21: 8 windows.
    assert_eq!(analysis.windows_evaluated, 8);
    let all = default_analysis(&[0.7; 31]);
    assert_eq!(all.windows_evaluated, 22);
}

#[test]
fn noisy_but_clearly_decreasing_loss_is_not_a_plateau() {
    // Gaussian-like noise with a spread equal to the per-epoch decrease.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let losses: Vec<f64> = (0..300)
        .map(|t| {
            let noise: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            5.0 - 0.01 * t as f64 + 0.01 * noise
        })
        .collect();
    let analysis = default_analysis(&losses);
    assert!(
        analysis.plateau_epochs() * 10 <= losses.len(),
        "{} of {} epochs on a plateau",
        analysis.plateau_epochs(),
        losses.len()
    );
}

#[test]
fn long_histories_finish() {
    // 100k epochs: a decay, then a long noisy plateau (exercises the subsampled slope).
    let noise = uniform_noise(3, 100_000, 1e-4);
    let losses: Vec<f64> = (0..100_000)
        .map(|t| 1.0 + 2.0 * 0.99f64.powi(t.min(5_000)) + noise[t as usize])
        .collect();
    let analysis = default_analysis(&losses);
    assert!(analysis.on_plateau_at_end());
    let last = analysis.plateaus.last().unwrap();
    assert!(last.epochs() > 90_000);
    assert!(last.slope.abs() < 1e-6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn constant_loss_is_one_plateau(
        level in prop_oneof![1e-3f64..1e3, -1e3f64..-1e-3],
        n in 10usize..200,
    ) {
        let analysis = default_analysis(&vec![level; n]);
        prop_assert_eq!(spans(&analysis), vec![(0, n - 1)]);
        prop_assert!(analysis.rising.is_empty());
        let plateau = &analysis.plateaus[0];
        prop_assert_eq!(plateau.level, level);
        prop_assert_eq!(plateau.relative_improvement, 0.0);
        prop_assert_eq!(plateau.kind, PlateauKind::Stuck);
    }

    #[test]
    fn geometric_decay_is_not_a_plateau(
        start in 1e-3f64..1e3,
        rate in 0.5f64..0.97,
        extra in 0usize..300,
    ) {
        // Only while the loss stays above 1e-4 of its start (before it is converged).
        let longest = (1e-4f64.ln() / rate.ln()).floor() as usize;
        let n = 10 + extra.min(longest.saturating_sub(10));
        let losses: Vec<f64> = (0..n).map(|t| start * rate.powi(t as i32)).collect();
        let analysis = default_analysis(&losses);
        prop_assert!(analysis.plateaus.is_empty(), "{:?}", analysis.plateaus);
        prop_assert!(analysis.rising.is_empty());
        prop_assert_eq!(analysis.trailing.unwrap().trend, WindowTrend::Decreasing);
    }

    #[test]
    fn decreasing_line_with_small_noise_is_not_a_plateau(
        start in -10.0f64..10.0,
        decrease in 0.05f64..1.0,
        n in 10usize..200,
        seed in any::<u64>(),
        noise_share in 0.0f64..0.45,
    ) {
        // Noise below half the per-epoch decrease keeps every pair in order. With |start| <= 10
        // the fall per window, 9 * decrease, is at least 2.2% of |level| <= 10 + 200 * decrease,
        // clear of the 1% bar (a fall under it is a plateau by definition).
        let noise = uniform_noise(seed, n, noise_share * decrease);
        let losses: Vec<f64> = (0..n).map(|t| start - decrease * t as f64 + noise[t]).collect();
        let analysis = default_analysis(&losses);
        prop_assert!(analysis.plateaus.is_empty(), "{:?}", analysis.plateaus);
    }

    #[test]
    fn flat_loss_with_small_noise_is_one_plateau(
        level in prop_oneof![1e-2f64..1e3, -1e3f64..-1e-2],
        n in 10usize..200,
        seed in any::<u64>(),
    ) {
        // Noise of 0.1% of the level moves the Theil-Sen slope by at most 0.6% per window.
        let noise = uniform_noise(seed, n, 1e-3 * level.abs());
        let losses: Vec<f64> = noise.iter().map(|e| level + e).collect();
        let analysis = default_analysis(&losses);
        prop_assert_eq!(spans(&analysis), vec![(0, n - 1)]);
    }

    #[test]
    fn flat_loss_with_large_noise_is_mostly_plateau(seed in any::<u64>(), level in 0.5f64..5.0) {
        // Noise of +-30%: windows only leave the plateau when Mann-Kendall errs (rate ~alpha).
        let n = 200;
        let noise = uniform_noise(seed, n, 0.3 * level);
        let losses: Vec<f64> = noise.iter().map(|e| level + e).collect();
        let analysis = default_analysis(&losses);
        prop_assert!(analysis.plateau_epochs() * 4 >= n * 3, "{:?}", spans(&analysis));
    }

    #[test]
    fn negative_losses_give_the_same_spans(
        decrease in 0.2f64..0.5,
        falling in 15usize..40,
        flat in 15usize..40,
        level in 1.0f64..5.0,
        shift_share in prop_oneof![0.0f64..0.5, 1.5f64..4.0],
        seed in any::<u64>(),
    ) {
        // A clear fall then a flat stretch, shifted down so that the flat level moves to
        // between -3 and 0.5 times itself: keeping at least half its size away from zero (see
        // the next test for a level near zero).
        let shift = shift_share * level;
        let noise = uniform_noise(seed, falling + flat, 1e-4);
        let losses: Vec<f64> = (0..falling + flat)
            .map(|t| level + decrease * falling.saturating_sub(t) as f64 + noise[t])
            .collect();
        let shifted: Vec<f64> = losses.iter().map(|loss| loss - shift).collect();
        let positive = default_analysis(&losses);
        let negative = default_analysis(&shifted);
        prop_assert_eq!(spans(&positive), spans(&negative));
        prop_assert_eq!(positive.plateaus.len(), 1);
        let plateau = &positive.plateaus[0];
        prop_assert!(plateau.first_epoch + 10 >= falling && plateau.first_epoch <= falling);
        prop_assert_eq!(plateau.last_epoch, falling + flat - 1);
    }

    #[test]
    fn a_plateau_near_zero_needs_a_larger_scale_floor(
        seed in any::<u64>(),
        offset in -0.002f64..0.002,
    ) {
        // Found by the test above: shifted to a level of about 0.001 with noise 1e-4, the
        // noise is ~10% of |median|, so only Mann-Kendall guards the plateau. A scale floor of
        // 10% of the largest loss restores the magnitude criterion.
        let (falling, flat, decrease, level) = (29, 15, 0.2, 4.765942047324709);
        let noise = uniform_noise(seed, falling + flat, 1e-4);
        let losses: Vec<f64> = (0..falling + flat)
            .map(|t| level + decrease * (falling - t.min(falling)) as f64 + noise[t])
            .collect();
        let near_zero: Vec<f64> = losses.iter().map(|loss| loss - level + offset).collect();
        let config = PlateauConfig { scale_floor_fraction: 0.1, ..PlateauConfig::default() };
        let positive = detect_plateaus(&losses, &config).unwrap();
        let shifted = detect_plateaus(&near_zero, &config).unwrap();
        prop_assert_eq!(spans(&positive), spans(&shifted));
        prop_assert_eq!(spans(&shifted).last().map(|span| span.1), Some(falling + flat - 1));
    }

    #[test]
    fn scaling_by_a_power_of_two_changes_nothing_but_the_levels(
        losses in prop::collection::vec(prop_oneof![-1e3f64..1e3, (0i32..4).prop_map(f64::from)], 0..120),
        exponent in -30i32..30,
    ) {
        // Scaling by 2^k is exact, so every decision must be identical.
        let factor = 2f64.powi(exponent);
        let scaled: Vec<f64> = losses.iter().map(|loss| loss * factor).collect();
        let original = default_analysis(&losses);
        let rescaled = default_analysis(&scaled);
        prop_assert_eq!(spans(&original), spans(&rescaled));
        prop_assert_eq!(&original.rising, &rescaled.rising);
        for (a, b) in original.plateaus.iter().zip(&rescaled.plateaus) {
            prop_assert_eq!(a.kind, b.kind);
            prop_assert_eq!(a.level * factor, b.level);
            prop_assert_eq!(a.relative_improvement, b.relative_improvement);
        }
    }

    #[test]
    fn clear_shapes_are_scale_invariant(factor in 1e-3f64..1e3, seed in any::<u64>()) {
        // Any positive factor (not only powers of two) on data far from every threshold.
        let noise = uniform_noise(seed, 80, 1e-4);
        let losses: Vec<f64> = (0..80)
            .map(|t| 1.0 + 0.05 * 40usize.saturating_sub(t) as f64 + noise[t])
            .collect();
        let scaled: Vec<f64> = losses.iter().map(|loss| loss * factor).collect();
        let original = default_analysis(&losses);
        prop_assert_eq!(spans(&original), spans(&default_analysis(&scaled)));
        prop_assert_eq!(original.plateaus.len(), 1);
    }

    #[test]
    fn detector_never_panics_and_keeps_invariants(
        losses in prop::collection::vec(
            prop_oneof![8 => -1e6f64..1e6, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY), 1 => Just(0.0)],
            0..150,
        ),
        window in 5usize..20,
        stride_share in 0.0f64..1.0,
    ) {
        let stride = 1 + ((window - 1) as f64 * stride_share) as usize;
        let config = PlateauConfig { window, stride, ..PlateauConfig::default() };
        let analysis = detect_plateaus(&losses, &config).unwrap();
        let non_finite: Vec<usize> = (0..losses.len()).filter(|&i| !losses[i].is_finite()).collect();
        prop_assert_eq!(&analysis.non_finite_epochs, &non_finite);
        let mut previous_end = None;
        for plateau in &analysis.plateaus {
            prop_assert!(plateau.epochs() >= window);
            prop_assert!(previous_end.is_none_or(|end| plateau.first_epoch > end + 1));
            prop_assert!((plateau.first_epoch..=plateau.last_epoch).all(|e| losses[e].is_finite()));
            previous_end = Some(plateau.last_epoch);
        }
    }
}
