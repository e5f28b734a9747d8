//! Properties of `diagnose` on synthetic histories: no panics on arbitrary input, non-finite
//! values always reported with their epoch and layer, flat losses give plateaus, and the
//! pitfalls of DESIGN.md (output-layer factor, converged runs, exploding runs, overfitting).

use proptest::prelude::*;
use vanishing_gradient::diagnose::{Comparison, Problem, Remedy, Severity};
use vanishing_gradient::history::{
    ActivityStats, EpochRecord, GradientStats, LayerRecord, TrainingHistory,
};
use vanishing_gradient::{diagnose, diagnose_with, DiagnoseConfig};

fn stats(rms: f64) -> GradientStats {
    GradientStats {
        l2: rms * 8.0,
        rms,
        max_abs: rms * 2.0,
        count: 64,
    }
}

/// Gradient-only history: `losses[e]` and the per-layer RMS profile `profile` every epoch.
fn gradient_history(losses: &[f64], profile: &[f64]) -> TrainingHistory {
    TrainingHistory::from_epochs(losses.iter().map(|&loss| {
        let mut record = EpochRecord::new(loss);
        for (depth, &rms) in profile.iter().enumerate() {
            let mut layer = LayerRecord::new(format!("dense{depth}"));
            layer.gradient = Some(stats(rms));
            record.layers.push(layer);
        }
        record
    }))
    .unwrap()
}

fn geometric(layers: usize, factor: f64) -> Vec<f64> {
    (0..layers)
        .map(|d| factor.powi((layers - 1 - d) as i32))
        .collect()
}

/// Any f64 a trainer might log, including the troublesome ones.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..10.0f64,
        1 => Just(0.0),
        1 => 1e-30..1e-10f64,
        1 => 1e10..1e300f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => -10.0..0.0f64,
    ]
}

fn non_negative_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..10.0f64,
        1 => Just(0.0),
        1 => 1e-30..1e-10f64,
        1 => 1e10..1e300f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn share() -> impl Strategy<Value = f64> {
    prop_oneof![4 => 0.0..=1.0f64, 1 => Just(0.0), 1 => Just(1.0), 1 => Just(f64::NAN)]
}

#[derive(Debug, Clone)]
struct LayerSpec {
    gradient: Option<f64>,
    update: Option<f64>,
    weight_l2: Option<f64>,
    activity: Option<(f64, f64, f64)>,
}

fn layer_spec() -> impl Strategy<Value = LayerSpec> {
    (
        proptest::option::of(non_negative_value()),
        proptest::option::of(non_negative_value()),
        proptest::option::of(non_negative_value()),
        proptest::option::of((share(), share(), share())),
    )
        .prop_map(|(gradient, update, weight_l2, activity)| LayerSpec {
            gradient,
            update,
            weight_l2,
            activity,
        })
}

/// An arbitrary valid history: up to 40 epochs, up to 5 layers, every statistic optional.
fn any_history() -> impl Strategy<Value = TrainingHistory> {
    (0usize..6, 0usize..40).prop_flat_map(|(layers, epochs)| {
        proptest::collection::vec(
            (
                any_value(),
                proptest::option::of(any_value()),
                proptest::collection::vec(layer_spec(), layers),
            ),
            epochs,
        )
        .prop_map(|epochs| {
            let records = epochs.into_iter().map(|(loss, validation, layers)| {
                let mut record = EpochRecord::new(loss);
                record.validation_loss = validation;
                for (depth, spec) in layers.into_iter().enumerate() {
                    let mut layer = LayerRecord::new(format!("layer{depth}"));
                    layer.gradient = spec.gradient.map(stats);
                    layer.relative_update = spec.update;
                    layer.weight_l2 = spec.weight_l2;
                    layer.activity = spec.activity.map(|(m, s, d)| ActivityStats {
                        mean_derivative_ratio: m,
                        saturated_share: s,
                        dead_share: d,
                    });
                    record.layers.push(layer);
                }
                record
            });
            TrainingHistory::from_epochs(records).expect("generated histories are valid")
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_histories_give_a_consistent_diagnosis(history in any_history()) {
        let d = diagnose(&history).expect("the default configuration is valid");
        prop_assert!(!d.findings.is_empty());
        prop_assert_eq!(d.findings[0].problem, d.problem);
        prop_assert!((0.0..=1.0).contains(&d.confidence));
        prop_assert_eq!(d.has_problem(), d.problem.is_problem());
        for finding in &d.findings {
            prop_assert!((0.0..=1.0).contains(&finding.confidence), "{:?}", finding);
            if let Some((first, last)) = finding.epochs {
                prop_assert!(first <= last && last < history.len().max(1), "{:?}", finding);
            }
            for layer in &finding.layers {
                prop_assert!(history.layer_names().contains(&layer.as_str()));
            }
        }
        // the primary finding is the most confident one of at least warning severity
        let warnings: Vec<_> =
            d.findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
        if let Some(best) = warnings.iter().map(|f| f.confidence).reduce(f64::max) {
            prop_assert_eq!(d.confidence, best);
            prop_assert!(d.has_problem());
        }
        prop_assert!(!d.to_string().is_empty());
    }

    #[test]
    fn non_finite_values_are_always_reported_with_epoch_and_layer(
        epochs in 1usize..30,
        layers in 1usize..6,
        at_epoch in 0usize..30,
        at_layer in 0usize..6,
        value in prop_oneof![Just(f64::NAN), Just(f64::INFINITY)],
        in_loss in any::<bool>(),
    ) {
        let at_epoch = at_epoch % epochs;
        let at_layer = at_layer % layers;
        let mut records: Vec<EpochRecord> = (0..epochs)
            .map(|_| {
                let mut record = EpochRecord::new(0.5);
                for depth in 0..layers {
                    let mut layer = LayerRecord::new(format!("dense{depth}"));
                    layer.gradient = Some(stats(0.1));
                    record.layers.push(layer);
                }
                record
            })
            .collect();
        if in_loss {
            records[at_epoch].loss = value;
        } else {
            records[at_epoch].layers[at_layer].gradient = Some(stats(value));
        }
        let history = TrainingHistory::from_epochs(records).unwrap();
        let d = diagnose(&history).unwrap();
        prop_assert_eq!(d.problem, Problem::NonFinite);
        prop_assert_eq!(d.confidence, 1.0);
        let finding = d.primary().unwrap();
        prop_assert_eq!(finding.epochs, Some((at_epoch, at_epoch)));
        let epoch_text = format!("epoch {}", at_epoch);
        prop_assert!(finding.summary.contains(&epoch_text));
        if !in_loss {
            let name = format!("dense{at_layer}");
            prop_assert_eq!(&finding.layers, &vec![name.clone()]);
            prop_assert!(finding.summary.contains(&name));
        }
    }

    #[test]
    fn a_constant_loss_is_a_plateau(level in 0.01..100.0f64, epochs in 15usize..60) {
        let history =
            TrainingHistory::from_epochs((0..epochs).map(|_| EpochRecord::new(level))).unwrap();
        let d = diagnose(&history).unwrap();
        prop_assert_eq!(d.problem, Problem::Plateau);
        prop_assert!(d.confidence < 0.5);
        prop_assert!(d.primary().unwrap().remedies.contains(&Remedy::RecordWeightsOrGradients));
    }

    #[test]
    fn too_few_epochs_say_how_many_more_are_needed(epochs in 0usize..5) {
        let history = gradient_history(&vec![0.7; epochs], &geometric(6, 0.25));
        let d = diagnose(&history).unwrap();
        prop_assert_eq!(d.problem, Problem::InsufficientData);
        prop_assert!(!d.has_problem());
        let needed = DiagnoseConfig::default().min_epochs - epochs;
        let wanted = Remedy::TrainLonger { epochs: needed };
        prop_assert!(d.primary().unwrap().remedies.contains(&wanted));
    }

    #[test]
    fn the_verdict_does_not_depend_on_the_gradient_scale(
        factor in 0.05..1.5f64,
        layers in 3usize..10,
        scale in -20.0..20.0f64,
    ) {
        let profile = geometric(layers, factor);
        let scaled: Vec<f64> = profile.iter().map(|r| r * 2f64.powf(scale)).collect();
        let losses = vec![0.7; 20];
        let a = diagnose(&gradient_history(&losses, &profile)).unwrap();
        let b = diagnose(&gradient_history(&losses, &scaled)).unwrap();
        prop_assert_eq!(a.problem, b.problem);
        prop_assert!((a.confidence - b.confidence).abs() < 1e-9);
    }

    #[test]
    fn steep_geometric_decay_over_depth_is_vanishing(factor in 0.05..0.4f64, layers in 6usize..14) {
        let d = diagnose(&gradient_history(&[0.7; 20], &geometric(layers, factor))).unwrap();
        prop_assert_eq!(d.problem, Problem::VanishingGradient);
        let finding = d.primary().unwrap();
        prop_assert!(finding.evidence.iter().all(|e| e.comparison.holds(e.value, e.threshold)));
        prop_assert_eq!(finding.layers.first().map(String::as_str), Some("dense0"));
    }

    #[test]
    fn evidence_comparisons_hold(history in any_history()) {
        let d = diagnose(&history).unwrap();
        for finding in d.findings.iter().filter(|f| f.severity >= Severity::Warning) {
            for e in &finding.evidence {
                prop_assert!(e.comparison.holds(e.value, e.threshold), "{} in {:?}", e, finding);
            }
        }
    }
}

#[test]
fn output_layer_factor_alone_is_not_vanishing() {
    // hidden layers all equal, the output layer 1000x larger: first/last 1e-3 < 1e-2
    let mut profile = vec![1e-3; 8];
    profile.push(1.0);
    let d = diagnose(&gradient_history(&[0.7; 20], &profile)).unwrap();
    assert!(
        d.gradients.vanishing.is_some(),
        "the ratio alone says vanishing"
    );
    assert!(!d.reports(Problem::VanishingGradient), "{d}");
    let note = d.findings_about(Problem::VanishingGradient).next().unwrap();
    assert_eq!(note.severity, Severity::Info);
    assert!(note.summary.contains("output layer"));
}

#[test]
fn converged_run_with_tiny_early_gradients_is_converged() {
    let losses: Vec<f64> = (0..30).map(|e| 1.0 * 0.7_f64.powi(e)).collect();
    let d = diagnose(&gradient_history(&losses, &geometric(8, 0.2))).unwrap();
    assert_eq!(d.problem, Problem::Converged, "{d}");
    assert!(!d.has_problem());
    assert!(!d.reports(Problem::VanishingGradient));
}

#[test]
fn exploding_loss_overrules_a_vanishing_looking_ratio() {
    let losses: Vec<f64> = (0..20).map(|e| 0.5 * 1.5_f64.powi(e)).collect();
    let d = diagnose(&gradient_history(&losses, &geometric(8, 0.2))).unwrap();
    assert_eq!(d.problem, Problem::ExplodingGradient, "{d}");
    assert!(!d.reports(Problem::VanishingGradient));
    let evidence = &d.primary().unwrap().evidence[0];
    assert_eq!(evidence.comparison, Comparison::Above);
    assert!(evidence.value >= 10.0);
}

#[test]
fn overfitting_is_its_own_finding_never_vanishing() {
    let records = (0..30).map(|e| {
        let mut record = EpochRecord::new(1.0 / (1.0 + e as f64));
        let e = e as f64;
        record.validation_loss = Some(0.5 + 0.002 * (e - 10.0).powi(2));
        for depth in 0..4 {
            let mut layer = LayerRecord::new(format!("dense{depth}"));
            layer.gradient = Some(stats(0.1));
            record.layers.push(layer);
        }
        record
    });
    let d = diagnose(&TrainingHistory::from_epochs(records).unwrap()).unwrap();
    assert_eq!(d.problem, Problem::Overfitting, "{d}");
    assert_eq!(d.primary().unwrap().epochs, Some((10, 29)));
    assert!(d
        .findings
        .iter()
        .all(|f| f.problem != Problem::VanishingGradient));
}

#[test]
fn dead_layer_with_zero_gradient_is_named() {
    let d = diagnose(&gradient_history(&[0.7; 20], &[0.1, 0.0, 0.1, 0.2])).unwrap();
    assert_eq!(d.problem, Problem::DeadUnits, "{d}");
    assert_eq!(d.primary().unwrap().layers, vec!["dense1".to_owned()]);
}

#[test]
fn an_empty_history_is_insufficient_data() {
    let d = diagnose(&TrainingHistory::new()).unwrap();
    assert_eq!(d.problem, Problem::InsufficientData);
    assert!(d.to_string().contains("INSUFFICIENT DATA"));
}

#[test]
fn invalid_configurations_are_typed_errors() {
    let history = TrainingHistory::new();
    let config = DiagnoseConfig {
        converged_fraction: f64::NAN,
        ..DiagnoseConfig::default()
    };
    assert!(diagnose_with(&history, &config).is_err());
    let mut config = DiagnoseConfig::default();
    config.plateau.window = 1;
    assert!(diagnose_with(&history, &config).is_err());
    let config = DiagnoseConfig {
        min_epochs: 0,
        ..DiagnoseConfig::default()
    };
    assert!(config.validate().is_err());
}
