//! Tests of the gradient, constancy and activity detectors on hand-built histories.

use proptest::prelude::*;
use vanishing_gradient::detect::activity::{analyze_activity, ActivityConfig, ActivityProblem};
use vanishing_gradient::detect::constancy::{analyze_constancy, ConstancyConfig, FreezeSignature};
use vanishing_gradient::detect::gradients::{
    analyze_gradients, ExplodingFinding, GradientAnalysis, GradientConfig,
};
use vanishing_gradient::history::{
    ActivityStats, EpochRecord, GradientStats, LayerRecord, Quantity, Recorder, TrainingHistory,
};

const COUNT: usize = 64;

fn stats(rms: f64) -> GradientStats {
    GradientStats {
        l2: rms * (COUNT as f64).sqrt(),
        rms,
        max_abs: rms * 3.0,
        count: COUNT,
    }
}

/// One epoch per entry of `losses`, every epoch with the gradient RMS profile `profile(epoch)`.
fn gradient_history(losses: &[f64], profile: impl Fn(usize) -> Vec<f64>) -> TrainingHistory {
    let records = losses.iter().enumerate().map(|(epoch, &loss)| {
        let mut record = EpochRecord::new(loss);
        for (depth, rms) in profile(epoch).into_iter().enumerate() {
            let mut layer = LayerRecord::new(format!("dense{depth}"));
            layer.gradient = Some(stats(rms));
            record.layers.push(layer);
        }
        record
    });
    TrainingHistory::from_epochs(records).unwrap()
}

fn geometric(layers: usize, factor: f64) -> Vec<f64> {
    (0..layers)
        .map(|depth| factor.powi((layers - 1 - depth) as i32))
        .collect()
}

fn gradients(history: &TrainingHistory) -> GradientAnalysis {
    analyze_gradients(history, &GradientConfig::default()).unwrap()
}

#[test]
fn geometric_decay_is_vanishing_with_the_right_layer_and_factor() {
    let history = gradient_history(&[0.69; 12], |_| geometric(10, 0.25));
    let analysis = gradients(&history);
    let vanishing = analysis
        .vanishing
        .expect("0.25 per layer over 10 layers vanishes");
    // 0.25^3 = 0.0156 >= 1e-2 > 0.25^4 = 0.0039: four layers back from the output (9)
    assert_eq!(vanishing.first_under_threshold_from_output, Some(5));
    assert_eq!(vanishing.layer.as_deref(), Some("dense5"));
    assert!((vanishing.median_ratio / 0.25_f64.powi(9) - 1.0).abs() < 1e-12);
    assert!((vanishing.decay_factor.unwrap() - 0.25).abs() < 1e-9);
    assert_eq!(
        vanishing.epochs_observed, 10,
        "the recent window holds 10 epochs"
    );
    assert_eq!(vanishing.epochs_under, 10);
    assert_eq!((vanishing.first_epoch, vanishing.last_epoch), (2, 11));
    assert!(analysis.exploding.is_empty());
    assert!(analysis.zero_gradients.is_empty());
    assert_eq!(analysis.recent.len(), 10);
    assert_eq!(analysis.recent[0].rms.len(), 10);
}

#[test]
fn the_output_layer_loss_factor_does_not_bias_the_decay_factor() {
    // the output layer's gradient is 50x larger than the hidden trend (the loss's own factor);
    // with only three hidden layers, the output's pairwise slopes are half of all slopes
    let history = gradient_history(&[0.69; 5], |_| {
        let mut profile = geometric(4, 0.5);
        profile[3] *= 50.0;
        profile
    });
    let analysis = gradients(&history);
    assert!((analysis.median_decay_factor.unwrap() - 0.5).abs() < 1e-9);
    let with_output = GradientConfig {
        exclude_output_layer: false,
        ..GradientConfig::default()
    };
    let biased = analyze_gradients(&history, &with_output).unwrap();
    assert!(biased.median_decay_factor.unwrap() < 0.5);
}

#[test]
fn a_robust_slope_ignores_one_outlying_hidden_layer() {
    let history = gradient_history(&[0.69; 5], |_| {
        let mut profile = geometric(10, 0.5);
        profile[3] *= 1e3;
        profile
    });
    let decay = gradients(&history).median_decay_factor.unwrap();
    assert!((decay - 0.5).abs() < 0.05, "decay {decay}");
}

#[test]
fn flat_profile_is_not_vanishing() {
    let history = gradient_history(&[0.69; 8], |_| vec![0.01; 6]);
    let analysis = gradients(&history);
    assert!(analysis.vanishing.is_none());
    assert_eq!(analysis.median_first_to_last_ratio, Some(1.0));
    assert!((analysis.median_decay_factor.unwrap() - 1.0).abs() < 1e-12);
    assert!(analysis.exploding.is_empty());
    assert_eq!(analysis.epochs_vanishing, 0);
}

#[test]
fn a_transient_dip_does_not_persist() {
    // only 2 of the last 10 epochs are under the threshold
    let history = gradient_history(&[0.69; 10], |epoch| {
        if epoch < 2 {
            geometric(6, 0.1)
        } else {
            vec![0.01; 6]
        }
    });
    let analysis = gradients(&history);
    assert_eq!(analysis.epochs_vanishing, 2);
    assert!(analysis.vanishing.is_none());
}

#[test]
fn exact_zero_gradients_are_named_not_nan() {
    let history = gradient_history(&[0.69; 5], |_| vec![0.0; 4]);
    let analysis = gradients(&history);
    assert_eq!(analysis.zero_gradients.len(), 4);
    for (index, finding) in analysis.zero_gradients.iter().enumerate() {
        assert_eq!(finding.layer_index, index);
        assert_eq!(finding.layer, format!("dense{index}"));
        assert_eq!(
            (finding.first_epoch, finding.last_epoch, finding.epochs),
            (0, 4, 5)
        );
        assert!(finding.still_zero);
    }
    assert!(analysis.vanishing.is_none());
    assert_eq!(analysis.median_first_to_last_ratio, None);
    for profile in &analysis.recent {
        assert_eq!(profile.first_to_last_ratio, None);
        assert_eq!(profile.decay_factor, None);
    }
}

#[test]
fn a_dead_first_layer_is_a_zero_gradient_finding_not_vanishing() {
    let history = gradient_history(&[0.69; 5], |epoch| {
        vec![if epoch < 3 { 0.0 } else { 0.01 }, 0.01, 0.01]
    });
    let analysis = gradients(&history);
    assert_eq!(analysis.zero_gradients.len(), 1);
    let finding = &analysis.zero_gradients[0];
    assert_eq!(
        (finding.layer_index, finding.first_epoch, finding.last_epoch),
        (0, 0, 2)
    );
    assert!(!finding.still_zero, "it recovered in epoch 3");
    assert!(analysis.vanishing.is_none());
}

#[test]
fn nan_gradient_in_epoch_7_layer_2_is_named() {
    let mut recorder = Recorder::new();
    for epoch in 0..10 {
        let mut record = recorder.epoch(0.5);
        for depth in 0..4 {
            let mut gradient = vec![0.01_f32; 16];
            if epoch == 7 && depth == 2 {
                gradient[5] = f32::NAN;
            }
            record
                .layer(&format!("dense{depth}"))
                .unwrap()
                .gradient(&gradient)
                .unwrap();
        }
        record.finish().unwrap();
    }
    let analysis = gradients(recorder.history());
    let expected = ExplodingFinding::NonFinite {
        epoch: 7,
        layer_index: Some(2),
        layer: Some("dense2".into()),
        quantity: Quantity::Gradient,
        occurrences: 1,
    };
    assert_eq!(analysis.exploding, vec![expected]);
    assert!(analysis
        .recent
        .iter()
        .all(|p| p.first_to_last_ratio.is_none_or(|r| r.is_finite())));
}

#[test]
fn growing_ratio_and_growing_loss_are_exploding() {
    let losses: Vec<f64> = (0..8).map(|e| 2.0 * 3.0_f64.powi(e)).collect();
    let history = gradient_history(&losses, |_| geometric(5, 4.0));
    let analysis = gradients(&history);
    assert!(analysis.vanishing.is_none());
    let ratio = analysis
        .exploding
        .iter()
        .find_map(|f| match f {
            ExplodingFinding::RatioAboveBound { median_ratio, .. } => Some(*median_ratio),
            _ => None,
        })
        .expect("a 256x growth towards the input is above 70");
    assert!((ratio - 256.0).abs() < 1e-9);
    // 2 * 3^3 = 54 >= 10 * 2 > 2 * 3^2 = 18
    let growth = analysis.exploding.iter().find_map(|f| match f {
        ExplodingFinding::LossGrowth { epoch, growth, .. } => Some((*epoch, *growth)),
        _ => None,
    });
    assert_eq!(growth, Some((3, 27.0)));
}

#[test]
fn empty_and_gradient_free_histories_give_no_verdict() {
    let empty = TrainingHistory::new();
    let analysis = gradients(&empty);
    assert!(analysis.vanishing.is_none() && analysis.exploding.is_empty());
    let constancy = analyze_constancy(&empty, &ConstancyConfig::default()).unwrap();
    assert_eq!(constancy.signature, FreezeSignature::NoWeightUpdates);
    let activity = analyze_activity(&empty, &ActivityConfig::default()).unwrap();
    assert!(activity.findings.is_empty());
    let loss_only =
        TrainingHistory::from_epochs([1.0, 0.9, f64::INFINITY].map(EpochRecord::new)).unwrap();
    let analysis = gradients(&loss_only);
    assert!(analysis.recent.is_empty());
    assert!(matches!(
        analysis.exploding.as_slice(),
        [ExplodingFinding::NonFinite {
            epoch: 2,
            layer: None,
            quantity: Quantity::Loss,
            ..
        }]
    ));
}

fn update_history(epochs: usize, updates: impl Fn(usize) -> Vec<f64>) -> TrainingHistory {
    let records = (0..epochs).map(|epoch| {
        let mut record = EpochRecord::new(0.5);
        for (depth, update) in updates(epoch).into_iter().enumerate() {
            let mut layer = LayerRecord::new(format!("dense{depth}"));
            layer.relative_update = (epoch > 0).then_some(update);
            record.layers.push(layer);
        }
        record
    });
    TrainingHistory::from_epochs(records).unwrap()
}

fn constancy(
    history: &TrainingHistory,
) -> vanishing_gradient::detect::constancy::ConstancyAnalysis {
    analyze_constancy(history, &ConstancyConfig::default()).unwrap()
}

#[test]
fn early_frozen_late_moving_signature() {
    let history = update_history(8, |_| vec![1e-7, 1e-7, 1e-7, 1e-2, 1e-2]);
    let analysis = constancy(&history);
    assert_eq!(
        analysis.signature,
        FreezeSignature::EarlyFrozenLateMoving { frozen_layers: 3 }
    );
    assert!((analysis.first_to_last_median_ratio.unwrap() - 1e-5).abs() < 1e-18);
    assert_eq!(analysis.frozen_runs.len(), 3);
    for (index, run) in analysis.frozen_runs.iter().enumerate() {
        assert_eq!(run.layer_index, index);
        assert_eq!((run.first_epoch, run.last_epoch, run.epochs), (1, 7, 7));
        assert_eq!(run.max_relative_update, 1e-7);
    }
    assert_eq!(analysis.layers[4].median_relative_update, Some(1e-2));
    assert!(!analysis.layers[4].frozen && analysis.layers[0].frozen);
}

#[test]
fn early_frozen_signature_end_to_end_through_the_recorder() {
    let mut recorder = Recorder::new();
    let mut early = vec![1.0_f64; 100];
    let mut late = vec![1.0_f64; 100];
    for epoch in 0..6 {
        let mut record = recorder.epoch(0.5);
        record.layer("early").unwrap().weights(&early).unwrap();
        record.layer("late").unwrap().weights(&late).unwrap();
        record.finish().unwrap();
        let sign = if epoch % 2 == 0 { 1.0 } else { -1.0 };
        early.iter_mut().for_each(|w| *w *= 1.0 + sign * 1e-7);
        late.iter_mut().for_each(|w| *w *= 1.0 + sign * 1e-2);
    }
    let analysis = constancy(recorder.history());
    assert_eq!(
        analysis.signature,
        FreezeSignature::EarlyFrozenLateMoving { frozen_layers: 1 }
    );
    let early_median = analysis.layers[0].median_relative_update.unwrap();
    assert!((early_median / 1e-7 - 1.0).abs() < 1e-3, "{early_median}");
}

#[test]
fn all_frozen_none_frozen_and_mixed() {
    let all = constancy(&update_history(6, |_| vec![1e-8; 4]));
    assert_eq!(all.signature, FreezeSignature::AllFrozen);
    let none = constancy(&update_history(6, |_| vec![1e-2; 4]));
    assert_eq!(none.signature, FreezeSignature::NoneFrozen);
    assert!(none.frozen_runs.is_empty());
    let mixed = constancy(&update_history(6, |_| vec![1e-2, 1e-8, 1e-2, 1e-8]));
    assert_eq!(mixed.signature, FreezeSignature::Mixed);
}

#[test]
fn runs_need_patience_and_break_on_movement() {
    // layer 0: constant in epochs 1-2, moves in 3, constant in 4-8
    let history = update_history(9, |epoch| vec![if epoch == 3 { 1e-2 } else { 1e-6 }, 1e-2]);
    let analysis = constancy(&history);
    assert_eq!(
        analysis.frozen_runs.len(),
        1,
        "epochs 1-2 are under the patience of 3"
    );
    let run = &analysis.frozen_runs[0];
    assert_eq!(
        (run.layer_index, run.first_epoch, run.last_epoch, run.epochs),
        (0, 4, 8, 5)
    );
}

fn activity_history(
    epochs: usize,
    activity: impl Fn(usize) -> Vec<ActivityStats>,
) -> TrainingHistory {
    let records = (0..epochs).map(|epoch| {
        let mut record = EpochRecord::new(1.0);
        for (depth, stats) in activity(epoch).into_iter().enumerate() {
            let mut layer = LayerRecord::new(format!("dense{depth}"));
            layer.activity = Some(stats);
            record.layers.push(layer);
        }
        record
    });
    TrainingHistory::from_epochs(records).unwrap()
}

fn activity(ratio: f64, saturated: f64, dead: f64) -> ActivityStats {
    ActivityStats {
        mean_derivative_ratio: ratio,
        saturated_share: saturated,
        dead_share: dead,
    }
}

#[test]
fn dead_share_of_0_9_is_a_dead_finding() {
    let history = activity_history(6, |_| {
        vec![activity(0.5, 0.0, 0.0), activity(0.1, 0.9, 0.9)]
    });
    let analysis = analyze_activity(&history, &ActivityConfig::default()).unwrap();
    let dead: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.problem == ActivityProblem::Dead)
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].layer_index, dead[0].layer.as_str()), (1, "dense1"));
    assert_eq!((dead[0].median_share, dead[0].threshold), (0.9, 0.7));
    assert_eq!((dead[0].epochs_flagged, dead[0].epochs_observed), (6, 6));
    assert_eq!(dead[0].first_epoch, 0);
    assert!(analysis
        .findings
        .iter()
        .any(|f| f.problem == ActivityProblem::Saturated && f.layer_index == 1));
    assert!(analysis.findings.iter().all(|f| f.layer_index == 1));
    assert_eq!(analysis.layers[0].median_mean_derivative_ratio, Some(0.5));
}

#[test]
fn a_single_dead_epoch_does_not_persist() {
    let history = activity_history(6, |epoch| {
        vec![activity(0.5, 0.0, if epoch == 5 { 0.9 } else { 0.1 })]
    });
    let analysis = analyze_activity(&history, &ActivityConfig::default()).unwrap();
    assert!(analysis.findings.is_empty());
    assert_eq!(analysis.layers[0].median_dead_share, Some(0.1));
}

#[test]
fn configurations_reject_nan_and_negative_thresholds() {
    let bad_gradients = [
        GradientConfig {
            vanishing_ratio: f64::NAN,
            ..Default::default()
        },
        GradientConfig {
            vanishing_ratio: -0.1,
            ..Default::default()
        },
        GradientConfig {
            exploding_ratio: f64::NAN,
            ..Default::default()
        },
        GradientConfig {
            loss_growth_factor: -1.0,
            ..Default::default()
        },
        GradientConfig {
            min_persistence: f64::NAN,
            ..Default::default()
        },
        GradientConfig {
            recent_epochs: 0,
            ..Default::default()
        },
        GradientConfig {
            min_epochs_observed: 11,
            ..Default::default()
        },
    ];
    for config in bad_gradients {
        assert!(config.validate().is_err(), "{config:?}");
        assert!(analyze_gradients(&TrainingHistory::new(), &config).is_err());
    }
    assert!(GradientConfig::default().validate().is_ok());
    for config in [
        ConstancyConfig {
            tolerance: f64::NAN,
            ..Default::default()
        },
        ConstancyConfig {
            tolerance: -1e-4,
            ..Default::default()
        },
        ConstancyConfig {
            patience: 0,
            ..Default::default()
        },
    ] {
        assert!(config.validate().is_err(), "{config:?}");
    }
    assert!(ConstancyConfig::default().validate().is_ok());
    for config in [
        ActivityConfig {
            dead_share: f64::NAN,
            ..Default::default()
        },
        ActivityConfig {
            saturated_share: -0.5,
            ..Default::default()
        },
        ActivityConfig {
            min_persistence: 0.0,
            ..Default::default()
        },
    ] {
        assert!(config.validate().is_err(), "{config:?}");
    }
    assert!(ActivityConfig::default().validate().is_ok());
}

fn assert_no_nan(analysis: &GradientAnalysis) -> Result<(), TestCaseError> {
    let mut values: Vec<Option<f64>> = vec![
        analysis.median_first_to_last_ratio,
        analysis.median_decay_factor,
    ];
    for profile in &analysis.recent {
        values.push(profile.first_to_last_ratio);
        values.push(profile.decay_factor);
    }
    if let Some(v) = &analysis.vanishing {
        values.push(Some(v.median_ratio));
        values.push(v.decay_factor);
    }
    for value in values.into_iter().flatten() {
        prop_assert!(
            value.is_finite(),
            "non-finite ratio {value} in {analysis:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn scaling_all_gradients_keeps_the_vanishing_verdict(
        profiles in prop::collection::vec(prop::collection::vec(-12.0_f64..2.0, 5), 3..12),
        log_scale in -6.0_f64..6.0,
    ) {
        let scale = 10f64.powf(log_scale);
        let losses = vec![0.5; profiles.len()];
        let base = gradient_history(&losses, |e| profiles[e].iter().map(|l| 10f64.powf(*l)).collect());
        let scaled = gradient_history(&losses, |e| {
            profiles[e].iter().map(|l| scale * 10f64.powf(*l)).collect()
        });
        let (a, b) = (gradients(&base), gradients(&scaled));
        prop_assert_eq!(a.vanishing.is_some(), b.vanishing.is_some());
        prop_assert_eq!(a.epochs_vanishing, b.epochs_vanishing);
        prop_assert_eq!(
            a.vanishing.and_then(|v| v.first_under_threshold_from_output),
            b.vanishing.and_then(|v| v.first_under_threshold_from_output)
        );
        if let (Some(x), Some(y)) = (a.median_decay_factor, b.median_decay_factor) {
            prop_assert!((x / y - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn finite_input_never_gives_nan_ratios(
        profiles in prop::collection::vec(
            prop::collection::vec(prop_oneof![Just(0.0), 1e-30_f64..1e30], 1..8), 1..15),
        layers in 1_usize..8,
    ) {
        let losses = vec![1.0; profiles.len()];
        let history = gradient_history(&losses, |e| {
            (0..layers).map(|d| profiles[e].get(d).copied().unwrap_or(0.0)).collect()
        });
        assert_no_nan(&gradients(&history))?;
        let updates = update_history(profiles.len(), |e| {
            (0..layers).map(|d| profiles[e].get(d).copied().unwrap_or(0.0)).collect()
        });
        let analysis = constancy(&updates);
        if let Some(ratio) = analysis.first_to_last_median_ratio {
            prop_assert!(ratio.is_finite());
        }
        for layer in &analysis.layers {
            prop_assert!(layer.median_relative_update.is_none_or(f64::is_finite));
        }
    }
}
