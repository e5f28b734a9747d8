//! The online monitor on the scenario corpus: an early warning for the deep sigmoid net, never
//! a warning for the healthy ReLU net over a long run; and its bookkeeping.

mod common;

use common::{run_online, Scenario, SEEDS};
use vanishing_gradient::diagnose::Problem;
use vanishing_gradient::history::{EpochRecord, GradientStats, LayerRecord};
use vanishing_gradient::monitor::Monitor;
use vanishing_gradient::{DiagnoseConfig, Error};

fn first_warning(scenario: Scenario, seed: u64, epochs: usize) -> Option<(usize, Problem)> {
    let mut monitor = Monitor::default();
    let mut first = None;
    run_online(scenario, seed, epochs, |_, record| {
        if let Some(warning) = monitor.observe(record).expect("same layers every epoch") {
            first.get_or_insert((warning.epoch, warning.finding.problem));
        }
    });
    assert_eq!(
        monitor
            .first_warning()
            .map(|w| (w.epoch, w.finding.problem)),
        first
    );
    first
}

#[test]
fn deep_sigmoid_is_flagged_within_the_first_few_epochs() {
    for seed in SEEDS {
        let warning = first_warning(Scenario::DeepSigmoid, seed, 8);
        assert_eq!(
            warning,
            Some((2, Problem::VanishingGradient)),
            "seed {seed}: three epochs agree at epoch 2"
        );
    }
}

#[test]
fn healthy_relu_net_is_never_flagged_over_a_long_run() {
    for seed in SEEDS {
        assert_eq!(
            first_warning(Scenario::DeepReluHe, seed, 200),
            None,
            "seed {seed}"
        );
    }
}

#[test]
fn other_scenarios_are_flagged_with_their_own_problem() {
    let seed = SEEDS[0];
    assert_eq!(
        first_warning(Scenario::HugeLearningRate, seed, 5).map(|w| w.1),
        Some(Problem::NonFinite)
    );
    assert_eq!(
        first_warning(Scenario::DeadRelu, seed, 10).map(|w| w.1),
        Some(Problem::DeadUnits)
    );
    assert_eq!(
        first_warning(Scenario::TinyLearningRate, seed, 10).map(|w| w.1),
        Some(Problem::LearningRateTooSmall)
    );
    assert_eq!(first_warning(Scenario::SmallConverging, seed, 40), None);
}

fn epoch(loss: f64, rms: &[f64]) -> EpochRecord {
    let mut record = EpochRecord::new(loss);
    for (depth, &r) in rms.iter().enumerate() {
        let mut layer = LayerRecord::new(format!("layer{depth}"));
        layer.gradient = Some(GradientStats {
            l2: r * 4.0,
            rms: r,
            max_abs: r,
            count: 16,
        });
        record.layers.push(layer);
    }
    record
}

#[test]
fn the_ring_buffer_forgets_epochs_older_than_the_window() {
    let mut monitor = Monitor::default();
    let window = monitor.window();
    let vanishing = [1e-6, 1e-5, 1e-4, 1e-3, 1.0];
    let healthy = [0.5, 0.6, 0.7, 0.8, 1.0];
    for _ in 0..window {
        monitor.observe(&epoch(0.7, &vanishing)).unwrap();
    }
    // once more than 40% of the window is healthy, the vanishing verdict no longer persists
    let mut last = None;
    for _ in 0..window {
        last = monitor.observe(&epoch(0.7, &healthy)).unwrap();
    }
    assert_eq!(last, None);
    assert_eq!(monitor.epochs_observed(), 2 * window);
    assert_eq!(
        monitor.first_warning().map(|w| w.finding.problem),
        Some(Problem::VanishingGradient)
    );
}

#[test]
fn a_changed_layer_list_is_a_typed_error() {
    let mut monitor = Monitor::default();
    monitor.observe(&epoch(0.7, &[1.0, 1.0])).unwrap();
    let error = monitor.observe(&epoch(0.7, &[1.0, 1.0, 1.0])).unwrap_err();
    assert!(matches!(error, Error::History { epoch: Some(1), .. }));
    assert_eq!(monitor.epochs_observed(), 1);
    let mut renamed = epoch(0.7, &[1.0, 1.0]);
    renamed.layers[1].name = "other".into();
    assert!(matches!(
        monitor.observe(&renamed),
        Err(Error::History { layer: Some(ref l), .. }) if l == "other"
    ));
}

#[test]
fn non_finite_and_growing_losses_warn_at_once() {
    let mut monitor = Monitor::default();
    assert_eq!(monitor.observe(&epoch(0.5, &[1.0, 1.0])).unwrap(), None);
    let warning = monitor.observe(&epoch(6.0, &[1.0, 1.0])).unwrap().unwrap();
    assert_eq!(warning.finding.problem, Problem::ExplodingGradient);
    assert_eq!(warning.epoch, 1);
    let warning = monitor
        .observe(&epoch(0.5, &[f64::NAN, 1.0]))
        .unwrap()
        .unwrap();
    assert_eq!(warning.finding.problem, Problem::NonFinite);
    assert_eq!(warning.finding.layers, vec!["layer0".to_owned()]);
    assert!(warning.to_string().contains("epoch 2"));
}

#[test]
fn an_invalid_configuration_is_refused() {
    let mut config = DiagnoseConfig::default();
    config.gradients.recent_epochs = 0;
    assert!(Monitor::new(config).is_err());
    assert!(Monitor::new(DiagnoseConfig::default()).is_ok());
}

mod properties {
    use proptest::prelude::*;
    use vanishing_gradient::history::{ActivityStats, EpochRecord, GradientStats, LayerRecord};
    use vanishing_gradient::monitor::Monitor;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => 0.0..10.0f64,
            1 => Just(0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => -1.0..0.0f64,
            1 => 1e200..1e300f64,
        ]
    }

    fn record(layers: usize) -> impl Strategy<Value = EpochRecord> {
        (
            value(),
            proptest::collection::vec(
                (
                    proptest::option::of(value()),
                    proptest::option::of(value()),
                    proptest::option::of((value(), value(), value())),
                ),
                layers,
            ),
        )
            .prop_map(|(loss, specs)| {
                let mut record = EpochRecord::new(loss);
                for (depth, (rms, update, activity)) in specs.into_iter().enumerate() {
                    let mut layer = LayerRecord::new(format!("layer{depth}"));
                    layer.gradient = rms.map(|rms| GradientStats {
                        l2: rms,
                        rms,
                        max_abs: rms,
                        count: 1,
                    });
                    layer.relative_update = update;
                    layer.activity = activity.map(|(m, s, d)| ActivityStats {
                        mean_derivative_ratio: m,
                        saturated_share: s,
                        dead_share: d,
                    });
                    record.layers.push(layer);
                }
                record
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_epochs_never_panic_and_warnings_are_well_formed(
            records in (0usize..6).prop_flat_map(|layers| proptest::collection::vec(record(layers), 0..40))
        ) {
            let mut monitor = Monitor::default();
            for (epoch, record) in records.iter().enumerate() {
                if let Some(warning) = monitor.observe(record).expect("same layers") {
                    prop_assert_eq!(warning.epoch, epoch);
                    prop_assert!((0.0..=1.0).contains(&warning.finding.confidence));
                    if let Some((first, last)) = warning.finding.epochs {
                        prop_assert!(first <= last && last == epoch);
                    }
                    prop_assert!(!warning.to_string().is_empty());
                }
            }
            prop_assert_eq!(monitor.epochs_observed(), records.len());
        }
    }
}
