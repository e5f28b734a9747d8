//! Every configuration has a valid `Default`, and `validate()` refuses NaN, negative, zero and
//! out-of-range values with an `Error::InvalidArgument` naming the field; the entry points that
//! take a configuration (`diagnose_with`, `Monitor::new`, the detectors, the replays) return
//! that error instead of running.

use vanishing_gradient::detect::activity::{analyze_activity, ActivityConfig};
use vanishing_gradient::detect::constancy::{analyze_constancy, ConstancyConfig};
use vanishing_gradient::detect::gradients::{analyze_gradients, GradientConfig};
use vanishing_gradient::detect::plateau::{
    detect_plateaus, keras_early_stopping, torch_reduce_lr_on_plateau, KerasEarlyStopping,
    PlateauConfig, TorchReduceLrOnPlateau, TorchThresholdMode, MAX_WINDOW,
};
use vanishing_gradient::history::{EpochRecord, TrainingHistory};
use vanishing_gradient::monitor::Monitor;
use vanishing_gradient::{diagnose_with, DiagnoseConfig, Error};

/// Asserts that `result` is an `InvalidArgument` about `field`.
fn refused(result: Result<(), Error>, field: &str, case: &str) {
    match result {
        Err(Error::InvalidArgument { name, reason }) => {
            assert_eq!(name, field, "{case}: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("{case}: expected InvalidArgument for `{field}`, got {other:?}"),
    }
}

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn history() -> TrainingHistory {
    TrainingHistory::from_epochs((0..12).map(|e| EpochRecord::new(1.0 / (1.0 + e as f64)))).unwrap()
}

type Mutation<C> = (&'static str, fn(&mut C));

fn gradient_cases() -> Vec<Mutation<GradientConfig>> {
    vec![
        ("vanishing_ratio", |c| c.vanishing_ratio = NAN),
        ("vanishing_ratio", |c| c.vanishing_ratio = 0.0),
        ("vanishing_ratio", |c| c.vanishing_ratio = -0.01),
        ("vanishing_ratio", |c| c.vanishing_ratio = 1.5),
        ("exploding_ratio", |c| c.exploding_ratio = NAN),
        ("exploding_ratio", |c| c.exploding_ratio = INF),
        ("exploding_ratio", |c| c.exploding_ratio = 0.5),
        ("loss_growth_factor", |c| c.loss_growth_factor = NAN),
        ("loss_growth_factor", |c| c.loss_growth_factor = 1.0),
        ("loss_growth_factor", |c| c.loss_growth_factor = -10.0),
        ("recent_epochs", |c| c.recent_epochs = 0),
        ("min_persistence", |c| c.min_persistence = NAN),
        ("min_persistence", |c| c.min_persistence = 0.0),
        ("min_persistence", |c| c.min_persistence = 1.01),
        ("min_epochs_observed", |c| c.min_epochs_observed = 0),
        ("min_epochs_observed", |c| c.min_epochs_observed = 11),
    ]
}

fn constancy_cases() -> Vec<Mutation<ConstancyConfig>> {
    vec![
        ("tolerance", |c| c.tolerance = NAN),
        ("tolerance", |c| c.tolerance = 0.0),
        ("tolerance", |c| c.tolerance = -1e-4),
        ("tolerance", |c| c.tolerance = INF),
        ("patience", |c| c.patience = 0),
        ("recent_epochs", |c| c.recent_epochs = 0),
    ]
}

fn activity_cases() -> Vec<Mutation<ActivityConfig>> {
    vec![
        ("saturated_share", |c| c.saturated_share = NAN),
        ("saturated_share", |c| c.saturated_share = 0.0),
        ("saturated_share", |c| c.saturated_share = 1.5),
        ("dead_share", |c| c.dead_share = -0.5),
        ("dead_share", |c| c.dead_share = NAN),
        ("recent_epochs", |c| c.recent_epochs = 0),
        ("min_persistence", |c| c.min_persistence = NAN),
        ("min_persistence", |c| c.min_persistence = -1.0),
        ("min_epochs_observed", |c| c.min_epochs_observed = 0),
        ("min_epochs_observed", |c| c.min_epochs_observed = 100),
    ]
}

fn plateau_cases() -> Vec<Mutation<PlateauConfig>> {
    vec![
        ("alpha", |c| c.alpha = NAN),
        ("alpha", |c| c.alpha = 0.0),
        ("alpha", |c| c.alpha = 1.0),
        ("alpha", |c| c.alpha = -0.05),
        ("window", |c| c.window = 0),
        ("window", |c| c.window = 2),
        ("window", |c| c.window = MAX_WINDOW + 1),
        ("window", |c| c.window = 3), // can never reach p < 0.05
        ("stride", |c| c.stride = 0),
        ("stride", |c| c.stride = 11),
        ("min_relative_change", |c| c.min_relative_change = NAN),
        ("min_relative_change", |c| c.min_relative_change = -0.01),
        ("scale_floor_fraction", |c| c.scale_floor_fraction = INF),
        ("scale_floor_fraction", |c| c.scale_floor_fraction = -1e-6),
        ("stuck_fraction", |c| c.stuck_fraction = NAN),
        ("stuck_fraction", |c| c.stuck_fraction = -0.1),
        ("initial_epochs", |c| c.initial_epochs = 0),
        ("converged_fraction", |c| c.converged_fraction = NAN),
        ("converged_fraction", |c| c.converged_fraction = 1.0),
        ("converged_fraction", |c| c.converged_fraction = -0.01),
        ("baseline", |c| c.baseline = Some(NAN)),
        ("baseline", |c| c.baseline = Some(-INF)),
        ("target", |c| c.target = Some(INF)),
        ("target", |c| {
            c.baseline = Some(1.0);
            c.target = Some(1.0)
        }),
    ]
}

fn diagnose_cases() -> Vec<Mutation<DiagnoseConfig>> {
    vec![
        ("min_epochs", |c| c.min_epochs = 1),
        ("decay_factor", |c| c.decay_factor = NAN),
        ("decay_factor", |c| c.decay_factor = 0.0),
        ("decay_factor", |c| c.decay_factor = 1.0),
        ("min_hidden_layers", |c| c.min_hidden_layers = 1),
        ("update_ratio", |c| c.update_ratio = NAN),
        ("update_ratio", |c| c.update_ratio = 0.0),
        ("update_ratio", |c| c.update_ratio = 1.5),
        ("converged_fraction", |c| c.converged_fraction = NAN),
        ("converged_fraction", |c| c.converged_fraction = 1.0),
        ("target_loss", |c| c.target_loss = Some(NAN)),
        ("target_loss", |c| c.target_loss = Some(-INF)),
        ("tail_epochs", |c| c.tail_epochs = 0),
        ("overfitting_rise", |c| c.overfitting_rise = NAN),
        ("overfitting_rise", |c| c.overfitting_rise = 0.0),
        ("overfitting_rise", |c| c.overfitting_rise = INF),
        ("overfitting_patience", |c| c.overfitting_patience = 0),
        ("max_plateau_windows", |c| c.max_plateau_windows = 0),
    ]
}

/// Every bad value of a detector's configuration is refused by its `validate`, by the
/// detector, and, nested in a `DiagnoseConfig`, by `diagnose_with` and `Monitor::new`.
fn check_nested<C: Default + Clone + std::fmt::Debug>(
    cases: Vec<Mutation<C>>,
    validate: fn(&C) -> Result<(), Error>,
    run: fn(&C) -> Result<(), Error>,
    nest: fn(&mut DiagnoseConfig) -> &mut C,
) {
    validate(&C::default()).expect("the default is valid");
    run(&C::default()).expect("the detector runs with its default");
    for (field, mutate) in cases {
        let mut config = C::default();
        mutate(&mut config);
        let case = format!("{config:?}");
        refused(validate(&config), field, &case);
        refused(run(&config), field, &case);
        let mut whole = DiagnoseConfig::default();
        *nest(&mut whole) = config;
        refused(whole.validate(), field, &case);
        refused(diagnose_with(&history(), &whole).map(drop), field, &case);
        refused(Monitor::new(whole).map(drop), field, &case);
    }
}

#[test]
fn gradient_config_refuses_bad_values() {
    check_nested(
        gradient_cases(),
        GradientConfig::validate,
        |c| analyze_gradients(&history(), c).map(drop),
        |d| &mut d.gradients,
    );
}

#[test]
fn constancy_config_refuses_bad_values() {
    check_nested(
        constancy_cases(),
        ConstancyConfig::validate,
        |c| analyze_constancy(&history(), c).map(drop),
        |d| &mut d.constancy,
    );
}

#[test]
fn activity_config_refuses_bad_values() {
    check_nested(
        activity_cases(),
        ActivityConfig::validate,
        |c| analyze_activity(&history(), c).map(drop),
        |d| &mut d.activity,
    );
}

#[test]
fn plateau_config_refuses_bad_values() {
    check_nested(
        plateau_cases(),
        PlateauConfig::validate,
        |c| detect_plateaus(&history().losses(), c).map(drop),
        |d| &mut d.plateau,
    );
}

#[test]
fn diagnose_config_refuses_bad_values() {
    DiagnoseConfig::default().validate().unwrap();
    assert!(Monitor::new(DiagnoseConfig::default()).is_ok());
    for (field, mutate) in diagnose_cases() {
        let mut config = DiagnoseConfig::default();
        mutate(&mut config);
        let case = format!("{config:?}");
        refused(config.validate(), field, &case);
        refused(diagnose_with(&history(), &config).map(drop), field, &case);
        refused(
            diagnose_with(&TrainingHistory::new(), &config).map(drop),
            field,
            &case,
        );
        refused(Monitor::new(config).map(drop), field, &case);
    }
}

#[test]
fn keras_and_torch_replays_refuse_bad_values() {
    let losses = history().losses();
    KerasEarlyStopping::default().validate().unwrap();
    let keras: Vec<Mutation<KerasEarlyStopping>> = vec![
        ("min_delta", |c| c.min_delta = NAN),
        ("min_delta", |c| c.min_delta = INF),
        ("min_delta", |c| c.min_delta = -INF),
        ("baseline", |c| c.baseline = Some(NAN)),
        ("baseline", |c| c.baseline = Some(INF)),
    ];
    for (field, mutate) in keras {
        let mut config = KerasEarlyStopping::default();
        mutate(&mut config);
        refused(config.validate(), field, &format!("{config:?}"));
        refused(
            keras_early_stopping(&losses, &config).map(drop),
            field,
            &format!("{config:?}"),
        );
    }

    TorchReduceLrOnPlateau::default().validate().unwrap();
    let torch: Vec<Mutation<TorchReduceLrOnPlateau>> = vec![
        ("threshold", |c| c.threshold = NAN),
        ("threshold", |c| c.threshold = INF),
        ("threshold", |c| c.threshold = -1e-4),
        ("threshold", |c| c.threshold = 1.0),
        ("threshold", |c| {
            c.threshold_mode = TorchThresholdMode::RelativeAsPyTorch;
            c.threshold = 2.0
        }),
        ("threshold", |c| {
            c.threshold_mode = TorchThresholdMode::Absolute;
            c.threshold = -0.5
        }),
    ];
    for (field, mutate) in torch {
        let mut config = TorchReduceLrOnPlateau::default();
        mutate(&mut config);
        refused(config.validate(), field, &format!("{config:?}"));
        refused(
            torch_reduce_lr_on_plateau(&losses, &config).map(drop),
            field,
            &format!("{config:?}"),
        );
    }
    // An absolute threshold may be 1 or more.
    let absolute = TorchReduceLrOnPlateau {
        threshold_mode: TorchThresholdMode::Absolute,
        threshold: 5.0,
        ..TorchReduceLrOnPlateau::default()
    };
    assert!(torch_reduce_lr_on_plateau(&losses, &absolute).is_ok());
}

/// The boundaries that are documented as valid are accepted.
#[test]
fn documented_boundary_values_are_accepted() {
    let gradients = GradientConfig {
        vanishing_ratio: 1.0,
        exploding_ratio: 1.0,
        min_persistence: 1.0,
        min_epochs_observed: 10,
        ..GradientConfig::default()
    };
    gradients.validate().unwrap();
    let plateau = PlateauConfig {
        window: MAX_WINDOW,
        stride: MAX_WINDOW,
        min_relative_change: 0.0,
        scale_floor_fraction: 0.0,
        stuck_fraction: 0.0,
        converged_fraction: 0.0,
        baseline: Some(1.0),
        target: Some(0.5),
        ..PlateauConfig::default()
    };
    plateau.validate().unwrap();
    let activity = ActivityConfig {
        saturated_share: 1.0,
        dead_share: 1.0,
        min_persistence: 1.0,
        ..ActivityConfig::default()
    };
    activity.validate().unwrap();
    let config = DiagnoseConfig {
        min_epochs: 2,
        min_hidden_layers: 2,
        update_ratio: 1.0,
        target_loss: Some(-3.0),
        tail_epochs: 1,
        overfitting_patience: 1,
        max_plateau_windows: 1,
        ..DiagnoseConfig::default()
    };
    diagnose_with(&history(), &config).unwrap();
}
