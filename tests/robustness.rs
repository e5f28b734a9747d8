//! Generative robustness suite: arbitrary raw training logs, fed through every public entry
//! that reads a history, must give a typed error or a result, never a panic, and every
//! non-finite input must be reported with its epoch and layer.
//!
//! The entries: [`Recorder`] (`epoch`, `validation_loss`, `layer`, `weights`, `gradient`,
//! `gradient_stats`, `activity`, `finish`, exact and `with_sample_budget`),
//! [`TrainingHistory::push`] and `from_epochs`, the detectors (`detect::plateau`,
//! `detect::trend`, `detect::constancy`, `detect::gradients`, `detect::activity`), `diagnose`
//! and `diagnose_with`, `Monitor::observe`, and the JSON loader (`from_json_str`, with valid
//! documents written from the generated histories and with mangled ones).
//!
//! The inputs go beyond `tests/diagnose_props.rs` (which generates valid histories only):
//! empty and one-epoch runs, NaN and +-inf anywhere, subnormals, 1e300 and 1e-300,
//! `f64::MAX`, constant values, ragged layer lists, renamed layers, zero-length layers,
//! layers that change size, and a handful of 10^6-element layers.
//!
//! Normal run: a few hundred cases per property (a few seconds). The long run, over
//! 1,000,000 cases in total, is ignored by default:
//!
//! ```text
//! cargo test --release --all-features --test robustness -- --ignored
//! ```
//!
//! (`ROBUSTNESS_LONG_CASES=N` overrides the long run's cases per property.)

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vanishing_gradient::detect::activity::{analyze_activity, ActivityConfig};
use vanishing_gradient::detect::constancy::{analyze_constancy, ConstancyConfig};
use vanishing_gradient::detect::gradients::{analyze_gradients, GradientConfig};
use vanishing_gradient::detect::plateau::{
    detect_plateaus, keras_early_stopping, torch_reduce_lr_on_plateau, KerasEarlyStopping,
    KerasVariant, PlateauConfig, TorchReduceLrOnPlateau, TorchThresholdMode,
};
use vanishing_gradient::detect::trend::{mann_kendall, median, theil_sen_slope};
use vanishing_gradient::diagnose::Problem;
use vanishing_gradient::history::{
    ActivityStats, EpochRecord, GradientStats, LayerRecord, Quantity, Recorder, TrainingHistory,
};
use vanishing_gradient::monitor::Monitor;
use vanishing_gradient::{diagnose, diagnose_with, DiagnoseConfig, Error};

// ---------------------------------------------------------------------------------------------
// Value strategies

/// Any f64 a log might hold, weighted towards the troublesome ones.
fn wild_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -10.0..10.0f64,
        2 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(1.0),
        1 => (1u64..1 << 52).prop_map(f64::from_bits), // subnormal
        1 => Just(f64::MIN_POSITIVE),
        1 => prop_oneof![Just(1e-300), Just(-1e-300)],
        1 => prop_oneof![Just(1e300), Just(-1e300), 1e299..1e300f64],
        1 => prop_oneof![Just(f64::MAX), Just(f64::MIN)],
        2 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// Like [`wild_f64`] without NaN and infinities: the extremes of clean runs.
fn finite_f64() -> impl Strategy<Value = f64> {
    wild_f64().prop_map(|v| if v.is_finite() { v } else { 0.5 })
}

fn finite_f32() -> impl Strategy<Value = f32> {
    wild_f32().prop_map(|v| if v.is_finite() { v } else { 0.5 })
}

/// A number of a run that may (`wild`) or may not hold NaN and infinities.
fn number(wild: bool) -> BoxedStrategy<f64> {
    if wild {
        wild_f64().boxed()
    } else {
        finite_f64().boxed()
    }
}

/// A loss: like [`wild_f64`] but at most 1e300 in magnitude (so trend slopes stay finite).
fn wild_loss() -> impl Strategy<Value = f64> {
    wild_f64().prop_map(|v| {
        if v.is_finite() {
            v.clamp(-1e300, 1e300)
        } else {
            v
        }
    })
}

fn wild_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0..10.0f32,
        2 => Just(0.0f32),
        1 => (1u32..1 << 23).prop_map(f32::from_bits), // subnormal
        1 => prop_oneof![Just(1e38f32), Just(-1e38f32), Just(f32::MAX)],
        1 => Just(1e-38f32),
        2 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
    ]
}

/// A statistic that should be non-negative, but sometimes is not (or is not finite).
fn wild_non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => wild_f64().prop_map(f64::abs),
        1 => -1.0..-1e-9f64,
    ]
}

/// A share that should lie in [0, 1], but sometimes does not.
fn wild_share() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0..=1.0f64,
        2 => Just(0.0),
        2 => Just(1.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => 1.0001..2.0f64,
        1 => -1.0..-1e-6f64,
    ]
}

#[derive(Debug, Clone)]
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn has_non_finite(&self) -> bool {
        match self {
            Values::F32(v) => v.iter().any(|x| !x.is_finite()),
            Values::F64(v) => v.iter().any(|x| !x.is_finite()),
        }
    }
}

/// `len` values: all alike (constant), or each drawn on its own.
fn values(len: usize, wild: bool) -> impl Strategy<Value = Values> {
    let single = if wild {
        wild_f32().boxed()
    } else {
        finite_f32().boxed()
    };
    prop_oneof![
        3 => prop::collection::vec(number(wild), len).prop_map(Values::F64),
        3 => prop::collection::vec(single.clone(), len).prop_map(Values::F32),
        1 => number(wild).prop_map(move |v| Values::F64(vec![v; len])),
        1 => single.prop_map(move |v| Values::F32(vec![v; len])),
    ]
}

#[derive(Debug, Clone)]
enum GradientInput {
    Values(Values),
    Stats(GradientStats),
}

#[derive(Debug, Clone)]
enum ActivityInput {
    Stats(ActivityStats),
    /// Derivatives, units, derivative maximum.
    Derivatives(Vec<f64>, usize, f64),
}

#[derive(Debug, Clone)]
struct LayerInput {
    name: String,
    weights: Option<Values>,
    gradient: Option<GradientInput>,
    activity: Option<ActivityInput>,
}

#[derive(Debug, Clone)]
struct EpochInput {
    loss: f64,
    validation_loss: Option<f64>,
    layers: Vec<LayerInput>,
}

#[derive(Debug, Clone)]
struct RunInput {
    /// `Some((coordinates_per_layer, seed))` for a sampling recorder (0 coordinates is refused).
    sample_budget: Option<(usize, u64)>,
    epochs: Vec<EpochInput>,
}

fn gradient_input(len: usize, wild: bool) -> impl Strategy<Value = GradientInput> {
    prop_oneof![
        3 => values(len, wild).prop_map(GradientInput::Values),
        1 => (wild_non_negative(), wild_non_negative(), wild_non_negative(), 0usize..4)
            .prop_map(move |(l2, rms, max_abs, extra)| GradientInput::Stats(GradientStats {
                l2,
                rms,
                max_abs,
                // mostly the layer's size, sometimes zero or another size
                count: if extra == 0 { len.saturating_sub(1) } else { len },
            })),
    ]
}

fn activity_input() -> impl Strategy<Value = ActivityInput> {
    prop_oneof![
        2 => (wild_share(), wild_share(), wild_share()).prop_map(|(m, s, d)| {
            ActivityInput::Stats(ActivityStats {
                mean_derivative_ratio: m,
                saturated_share: s,
                dead_share: d,
            })
        }),
        1 => (prop::collection::vec(wild_f64(), 0..9), 0usize..4, prop_oneof![
            Just(0.25), Just(1.0), Just(0.0), Just(f64::NAN), Just(-1.0)
        ])
        .prop_map(|(d, units, max)| ActivityInput::Derivatives(d, units, max)),
    ]
}

/// One layer of one epoch. `size` is the layer's usual size; the strategy sometimes changes
/// it (a layer that changes size) or renames the layer.
fn layer_input(depth: usize, size: usize, style: Style) -> impl Strategy<Value = LayerInput> {
    let odd = u32::from(style.ragged);
    let size_now = prop_oneof![40 => Just(size), odd => 0usize..5];
    let name = prop_oneof![
        80 => Just(format!("dense{depth}")),
        odd => Just(format!("renamed{depth}")),
        odd => Just("dense0".to_string()), // a duplicate name at any depth but the first
        odd => Just(String::new()),
    ];
    (name, size_now).prop_flat_map(move |(name, len)| {
        (
            Just(name),
            prop::option::weighted(0.7, values(len, style.wild)),
            prop::option::weighted(0.7, gradient_input(len, style.wild)),
            prop::option::weighted(0.4, activity_input()),
        )
            .prop_map(|(name, weights, gradient, activity)| LayerInput {
                name,
                weights,
                gradient,
                activity,
            })
    })
}

/// How a generated run misbehaves: non-finite values (`wild`), layer lists and sizes that
/// change between epochs (`ragged`).
#[derive(Debug, Clone, Copy)]
struct Style {
    wild: bool,
    ragged: bool,
}

fn epoch_input(sizes: Vec<usize>, style: Style) -> impl Strategy<Value = EpochInput> {
    // Ragged layer lists: sometimes a layer is missing, sometimes one is added.
    let odd = u32::from(style.ragged);
    let layers = prop_oneof![
        40 => Just(sizes.clone()),
        odd => Just(sizes.iter().copied().skip(1).collect::<Vec<_>>()),
        odd => Just({
            let mut more = sizes.clone();
            more.push(2);
            more
        }),
    ];
    let loss = move || {
        if style.wild {
            wild_loss().boxed()
        } else {
            finite_f64().prop_map(|v| v.clamp(-1e300, 1e300)).boxed()
        }
    };
    (
        loss(),
        prop::option::weighted(0.3, loss()),
        layers.prop_flat_map(move |sizes| {
            sizes
                .into_iter()
                .enumerate()
                .map(|(depth, size)| layer_input(depth, size, style))
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(loss, validation_loss, layers)| EpochInput {
            loss,
            validation_loss,
            layers,
        })
}

fn run_input() -> impl Strategy<Value = RunInput> {
    (
        prop::collection::vec(prop_oneof![8 => 1usize..7, 1 => Just(0usize)], 0..5),
        prop_oneof![2 => 0usize..4, 5 => 4usize..14, 2 => 14usize..30],
        prop::option::weighted(0.3, (0usize..4, any::<u64>())),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(sizes, epochs, sample_budget, wild, ragged)| {
            let style = Style { wild, ragged };
            (
                Just(sample_budget),
                prop::collection::vec(epoch_input(sizes.clone(), style), epochs),
            )
        })
        .prop_map(|(sample_budget, epochs)| RunInput {
            sample_budget,
            epochs,
        })
}

// ---------------------------------------------------------------------------------------------
// Checks shared by every property

type CheckResult = Result<(), TestCaseError>;

fn is_history_error(error: &Error, epoch: Option<usize>, layer: Option<&str>) -> bool {
    match error {
        Error::History {
            epoch: e,
            layer: l,
            reason,
        } => {
            !reason.is_empty()
                && (epoch.is_none() || *e == epoch)
                && (layer.is_none() || l.as_deref() == layer)
        }
        _ => false,
    }
}

/// The non-finite entries of a history recomputed from its records, independently of the
/// history's own list: `(epoch, layer index, quantity)`.
fn expected_non_finite(history: &TrainingHistory) -> BTreeSet<(usize, Option<usize>, String)> {
    let bad = |v: f64| !v.is_finite();
    let mut set = BTreeSet::new();
    for (epoch, record) in history.epochs().iter().enumerate() {
        if bad(record.loss) {
            set.insert((epoch, None, "Loss".to_string()));
        }
        if record.validation_loss.is_some_and(bad) {
            set.insert((epoch, None, "ValidationLoss".to_string()));
        }
        for (index, layer) in record.layers.iter().enumerate() {
            if layer.weight_l2.is_some_and(bad) || layer.relative_update.is_some_and(bad) {
                set.insert((epoch, Some(index), "Weights".to_string()));
            }
            if layer
                .gradient
                .is_some_and(|g| bad(g.l2) || bad(g.rms) || bad(g.max_abs))
            {
                set.insert((epoch, Some(index), "Gradient".to_string()));
            }
            if layer.activity.is_some_and(|a| {
                bad(a.mean_derivative_ratio) || bad(a.saturated_share) || bad(a.dead_share)
            }) {
                set.insert((epoch, Some(index), "Activity".to_string()));
            }
        }
    }
    set
}

fn listed_non_finite(history: &TrainingHistory) -> BTreeSet<(usize, Option<usize>, String)> {
    history
        .non_finite_values()
        .iter()
        .map(|v| (v.epoch, v.layer_index, format!("{:?}", v.quantity)))
        .collect()
}

/// Bitwise equality of two f64 (NaN equals NaN).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_epochs(a: &TrainingHistory, b: &TrainingHistory) -> bool {
    // Debug prints every f64 exactly (shortest round-trip form) and NaN as "NaN".
    a.len() == b.len() && format!("{:?}", a.epochs()) == format!("{:?}", b.epochs())
}

/// Everything that reads a valid history: consistency of its non-finite list, every
/// detector, `diagnose`, the monitor, and the JSON round trip.
fn check_history(history: &TrainingHistory) -> CheckResult {
    // The history's own invariants.
    let names = history.layer_names();
    for record in history.epochs() {
        let these: Vec<&str> = record.layers.iter().map(|l| l.name.as_str()).collect();
        prop_assert_eq!(&these, &names, "every epoch has the first epoch's layers");
    }
    for (index, value) in history.non_finite_values().iter().enumerate() {
        prop_assert!(value.epoch < history.len());
        if let Some(layer) = value.layer_index {
            prop_assert_eq!(value.layer.as_deref(), names.get(layer).copied());
        } else {
            prop_assert!(matches!(
                value.quantity,
                Quantity::Loss | Quantity::ValidationLoss
            ));
        }
        if let Some(previous) = index
            .checked_sub(1)
            .and_then(|i| history.non_finite_values().get(i))
        {
            prop_assert!(previous.epoch <= value.epoch, "listed in epoch order");
        }
    }
    // Every non-finite value is listed, and only those.
    prop_assert_eq!(expected_non_finite(history), listed_non_finite(history));
    for layer in 0..history.layer_count() {
        let column = history.relative_update_column(layer).unwrap();
        prop_assert_eq!(column.len(), history.len());
    }
    prop_assert!(history
        .relative_update_column(history.layer_count())
        .is_none());

    // diagnose: a result, the non-finite values reported with their epochs and layers.
    let diagnosis = diagnose(history).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(!diagnosis.findings.is_empty());
    prop_assert_eq!(diagnosis.epochs, history.len());
    prop_assert!((0.0..=1.0).contains(&diagnosis.confidence));
    let non_finite = history.non_finite_values();
    let finding = diagnosis.findings_about(Problem::NonFinite).next();
    match non_finite.first() {
        None => prop_assert!(finding.is_none(), "NonFinite without a non-finite value"),
        Some(first) => {
            prop_assert_eq!(diagnosis.problem, Problem::NonFinite);
            let finding = finding.expect("a NonFinite finding");
            let (from, to) = finding.epochs.expect("the finding names its epochs");
            let last = non_finite.iter().map(|v| v.epoch).max().unwrap();
            prop_assert_eq!((from, to), (first.epoch, last));
            let first_epoch = format!("epoch {}", first.epoch);
            prop_assert!(
                finding.summary.contains(&first_epoch),
                "{}",
                finding.summary
            );
            for value in non_finite {
                if let Some(layer) = &value.layer {
                    prop_assert!(finding.layers.contains(layer), "{:?} not named", value);
                }
            }
        }
    }
    let text = diagnosis.to_string();
    prop_assert!(!text.is_empty());
    // The same history diagnosed again gives the same diagnosis, bit for bit.
    let again = diagnose_with(history, &DiagnoseConfig::default()).unwrap();
    prop_assert_eq!(format!("{diagnosis:?}"), format!("{again:?}"));

    // Every detector on its own.
    analyze_gradients(history, &GradientConfig::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    analyze_constancy(history, &ConstancyConfig::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    analyze_activity(history, &ActivityConfig::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_losses(&history.losses())?;

    // The monitor: every epoch is accepted (the history is valid); an epoch with a
    // non-finite value warns at once, naming the epoch and the layers.
    let mut monitor = Monitor::default();
    for (epoch, record) in history.epochs().iter().enumerate() {
        let warning = monitor
            .observe(record)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let here: Vec<&str> = non_finite
            .iter()
            .filter(|v| v.epoch == epoch)
            .filter_map(|v| v.layer.as_deref())
            .collect();
        if non_finite.iter().any(|v| v.epoch == epoch) {
            let warning = warning.expect("a warning at a non-finite epoch");
            prop_assert_eq!(warning.epoch, epoch);
            prop_assert_eq!(warning.finding.problem, Problem::NonFinite);
            for layer in here {
                prop_assert!(warning.finding.layers.iter().any(|l| l == layer));
            }
        } else if let Some(warning) = warning {
            prop_assert_ne!(warning.finding.problem, Problem::NonFinite);
        }
    }
    prop_assert_eq!(monitor.epochs_observed(), history.len());

    // The JSON round trip gives the same epochs, bit for bit, NaN and infinities included.
    let text = history
        .to_json_string()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let loaded = TrainingHistory::from_json_str(&text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    prop_assert!(
        same_epochs(history, &loaded),
        "round trip changed the history"
    );
    prop_assert_eq!(listed_non_finite(history), listed_non_finite(&loaded));
    Ok(())
}

/// The loss-only detectors: plateaus, the Keras and PyTorch replays, the trend statistics.
fn check_losses(losses: &[f64]) -> CheckResult {
    let non_finite: Vec<usize> = (0..losses.len())
        .filter(|&i| !losses[i].is_finite())
        .collect();
    let plateaus = detect_plateaus(losses, &PlateauConfig::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&plateaus.non_finite_epochs, &non_finite);
    for plateau in &plateaus.plateaus {
        for epoch in plateau.first_epoch..=plateau.last_epoch {
            prop_assert!(
                !non_finite.contains(&epoch),
                "plateau over a non-finite loss"
            );
        }
    }
    for variant in [KerasVariant::Keras3, KerasVariant::Keras2] {
        let config = KerasEarlyStopping {
            patience: 2,
            variant,
            ..KerasEarlyStopping::default()
        };
        let outcome = keras_early_stopping(losses, &config)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let run: Vec<usize> = non_finite
            .iter()
            .copied()
            .filter(|&e| e < outcome.epochs_run)
            .collect();
        prop_assert_eq!(&outcome.non_finite_epochs, &run);
        prop_assert!(outcome.epochs_run <= losses.len());
    }
    for threshold_mode in [
        TorchThresholdMode::Relative,
        TorchThresholdMode::RelativeAsPyTorch,
        TorchThresholdMode::Absolute,
    ] {
        let config = TorchReduceLrOnPlateau {
            patience: 2,
            threshold_mode,
            ..TorchReduceLrOnPlateau::default()
        };
        let outcome = torch_reduce_lr_on_plateau(losses, &config)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&outcome.non_finite_epochs, &non_finite);
        prop_assert!(outcome.reductions.iter().all(|&e| e < losses.len()));
    }
    // The trend statistics refuse non-finite input, naming the first one's index.
    let expect_trend = |result: Result<f64, Error>, minimum: usize| -> CheckResult {
        match (result, non_finite.first()) {
            (Err(Error::NonFinite { index, .. }), Some(&first)) if losses.len() >= minimum => {
                prop_assert_eq!(index, first)
            }
            (Err(Error::InvalidArgument { .. }), _) if losses.len() < minimum => {}
            (Ok(value), None) if losses.len() >= minimum => {
                prop_assert!(value.is_finite(), "finite losses gave {}", value)
            }
            (other, _) => prop_assert!(false, "unexpected {:?} for {:?}", other, losses),
        }
        Ok(())
    };
    expect_trend(median(losses), 1)?;
    expect_trend(theil_sen_slope(losses), 2)?;
    expect_trend(mann_kendall(losses).map(|t| t.p_two_sided), 2)?;
    if let Ok(test) = mann_kendall(losses) {
        for p in [test.p_decreasing, test.p_increasing, test.p_two_sided] {
            prop_assert!((0.0..=1.0).contains(&p), "p-value {}", p);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Property 1: raw logs through the Recorder

fn record_values<'e, 'r>(
    builder: vanishing_gradient::history::LayerBuilder<'e, 'r>,
    values: &Values,
) -> vanishing_gradient::Result<vanishing_gradient::history::LayerBuilder<'e, 'r>> {
    match values {
        Values::F32(v) => builder.weights(v),
        Values::F64(v) => builder.weights(v),
    }
}

fn check_recorder_run(run: RunInput) -> CheckResult {
    let mut recorder = match run.sample_budget {
        None => Recorder::new(),
        Some((0, seed)) => {
            let error = Recorder::with_sample_budget(0, seed).unwrap_err();
            prop_assert!(
                matches!(error, Error::InvalidArgument { .. }),
                "{:?}",
                error
            );
            Recorder::default()
        }
        Some((budget, seed)) => Recorder::with_sample_budget(budget, seed).unwrap(),
    };
    for input in &run.epochs {
        let epoch = recorder.history().len();
        // What this epoch must list as non-finite if it is accepted.
        let mut must_list: BTreeSet<(Option<usize>, String)> = BTreeSet::new();
        if !input.loss.is_finite() {
            must_list.insert((None, "Loss".into()));
        }
        if input.validation_loss.is_some_and(|v| !v.is_finite()) {
            must_list.insert((None, "ValidationLoss".into()));
        }
        let mut builder = recorder.epoch(input.loss);
        if let Some(v) = input.validation_loss {
            builder = builder.validation_loss(v);
        }
        let mut abandoned = false;
        for (depth, layer) in input.layers.iter().enumerate() {
            let named = Some(layer.name.as_str());
            let mut entry = match builder.layer(&layer.name) {
                Ok(entry) => entry,
                Err(error) => {
                    prop_assert!(is_history_error(&error, Some(epoch), named), "{error:?}");
                    abandoned = true;
                    break;
                }
            };
            // Each step consumes the layer builder; after an error the layer keeps what it
            // had and the epoch goes on with the next layer.
            if let Some(weights) = &layer.weights {
                match record_values(entry, weights) {
                    Ok(next) => {
                        if weights.has_non_finite() {
                            must_list.insert((Some(depth), "Weights".into()));
                        }
                        entry = next;
                    }
                    Err(error) => {
                        prop_assert!(is_history_error(&error, Some(epoch), named), "{error:?}");
                        continue;
                    }
                }
            }
            if let Some(gradient) = &layer.gradient {
                let (result, non_finite) = match gradient {
                    GradientInput::Values(Values::F32(v)) => {
                        (entry.gradient(v), v.iter().any(|x| !x.is_finite()))
                    }
                    GradientInput::Values(Values::F64(v)) => {
                        (entry.gradient(v), v.iter().any(|x| !x.is_finite()))
                    }
                    GradientInput::Stats(stats) => (
                        entry.gradient_stats(*stats),
                        ![stats.l2, stats.rms, stats.max_abs]
                            .iter()
                            .all(|v| v.is_finite()),
                    ),
                };
                match result {
                    Ok(next) => {
                        if non_finite {
                            must_list.insert((Some(depth), "Gradient".into()));
                        }
                        entry = next;
                    }
                    Err(error) => {
                        prop_assert!(is_history_error(&error, Some(epoch), named), "{error:?}");
                        continue;
                    }
                }
            }
            if let Some(activity) = &layer.activity {
                let stats = match activity {
                    ActivityInput::Stats(stats) => *stats,
                    ActivityInput::Derivatives(derivatives, units, max) => {
                        match ActivityStats::from_derivatives(derivatives, *units, *max) {
                            Ok(stats) => {
                                if derivatives.iter().any(|d| !d.is_finite()) {
                                    prop_assert!(stats.mean_derivative_ratio.is_nan());
                                }
                                stats
                            }
                            Err(error) => {
                                prop_assert!(
                                    matches!(error, Error::InvalidArgument { .. }),
                                    "{error:?}"
                                );
                                continue;
                            }
                        }
                    }
                };
                match entry.activity(stats) {
                    Ok(_) => {
                        let shares = [
                            stats.mean_derivative_ratio,
                            stats.saturated_share,
                            stats.dead_share,
                        ];
                        if shares.iter().any(|s| !s.is_finite()) {
                            must_list.insert((Some(depth), "Activity".into()));
                        }
                    }
                    Err(error) => {
                        prop_assert!(is_history_error(&error, Some(epoch), named), "{error:?}");
                    }
                }
            }
        }
        if abandoned {
            drop(builder);
            prop_assert_eq!(
                recorder.history().len(),
                epoch,
                "an abandoned epoch is dropped"
            );
            continue;
        }
        match builder.finish() {
            Ok(()) => {
                prop_assert_eq!(recorder.history().len(), epoch + 1);
                let listed: BTreeSet<(Option<usize>, String)> = recorder
                    .history()
                    .non_finite_values()
                    .iter()
                    .filter(|v| v.epoch == epoch)
                    .map(|v| (v.layer_index, format!("{:?}", v.quantity)))
                    .collect();
                for expected in &must_list {
                    prop_assert!(
                        listed.contains(expected),
                        "non-finite input {:?} at epoch {} not listed in {:?}",
                        expected,
                        epoch,
                        listed
                    );
                }
            }
            Err(error) => {
                prop_assert!(is_history_error(&error, Some(epoch), None), "{error:?}");
                prop_assert_eq!(
                    recorder.history().len(),
                    epoch,
                    "a refused epoch is dropped"
                );
            }
        }
    }
    if let Some((budget @ 1.., _)) = run.sample_budget {
        let layers = recorder.history().layer_count().max(6);
        prop_assert!(recorder.stored_coordinates() <= budget * layers);
    }
    check_history(recorder.history())
}

// ---------------------------------------------------------------------------------------------
// Property 2: plain records through TrainingHistory::push and from_epochs

fn layer_record(depth: usize) -> impl Strategy<Value = LayerRecord> {
    let name = prop_oneof![
        20 => Just(format!("dense{depth}")),
        1 => Just(format!("renamed{depth}")),
        1 => Just("dense0".to_string()),
    ];
    (
        name,
        prop::option::weighted(
            0.5,
            prop_oneof![8 => Just(16usize), 1 => Just(0), 1 => Just(3)],
        ),
        prop::option::weighted(0.6, wild_non_negative()),
        prop::option::weighted(0.6, wild_non_negative()),
        prop::option::weighted(
            0.6,
            (
                wild_non_negative(),
                wild_non_negative(),
                wild_non_negative(),
                prop_oneof![8 => Just(16usize), 1 => Just(0), 1 => Just(5)],
            ),
        ),
        prop::option::weighted(0.4, (wild_share(), wild_share(), wild_share())),
    )
        .prop_map(
            |(name, weight_count, weight_l2, relative_update, gradient, activity)| LayerRecord {
                name,
                weight_count,
                weight_l2,
                relative_update,
                gradient: gradient.map(|(l2, rms, max_abs, count)| GradientStats {
                    l2,
                    rms,
                    max_abs,
                    count,
                }),
                activity: activity.map(|(m, s, d)| ActivityStats {
                    mean_derivative_ratio: m,
                    saturated_share: s,
                    dead_share: d,
                }),
            },
        )
}

fn epoch_record(layers: usize) -> impl Strategy<Value = EpochRecord> {
    let count = prop_oneof![12 => Just(layers), 1 => 0usize..6];
    (
        wild_loss(),
        prop::option::weighted(0.3, wild_loss()),
        count.prop_flat_map(|count| (0..count).map(layer_record).collect::<Vec<_>>()),
    )
        .prop_map(|(loss, validation_loss, layers)| EpochRecord {
            loss,
            validation_loss,
            layers,
        })
}

/// Replaces every non-finite number of a record by 0.5 (for runs without NaN).
fn sanitize(mut record: EpochRecord) -> EpochRecord {
    let clean = |v: &mut f64| {
        if !v.is_finite() {
            *v = 0.5;
        }
    };
    clean(&mut record.loss);
    record.validation_loss.iter_mut().for_each(clean);
    for layer in &mut record.layers {
        layer.weight_l2.iter_mut().for_each(clean);
        layer.relative_update.iter_mut().for_each(clean);
        for g in layer.gradient.iter_mut() {
            [&mut g.l2, &mut g.rms, &mut g.max_abs]
                .into_iter()
                .for_each(clean);
        }
        for a in layer.activity.iter_mut() {
            [
                &mut a.mean_derivative_ratio,
                &mut a.saturated_share,
                &mut a.dead_share,
            ]
            .into_iter()
            .for_each(clean);
        }
    }
    record
}

fn records() -> impl Strategy<Value = Vec<EpochRecord>> {
    (
        0usize..5,
        prop_oneof![1 => 0usize..3, 3 => 3usize..16],
        any::<bool>(),
    )
        .prop_flat_map(|(layers, epochs, wild)| {
            prop::collection::vec(epoch_record(layers), epochs).prop_map(move |records| {
                if wild {
                    records
                } else {
                    records.into_iter().map(sanitize).collect()
                }
            })
        })
}

fn check_pushed_records(records: Vec<EpochRecord>) -> CheckResult {
    let mut history = TrainingHistory::new();
    let mut first_error = None;
    for record in &records {
        let before = history.len();
        match history.push(record.clone()) {
            Ok(()) => prop_assert_eq!(history.len(), before + 1),
            Err(error) => {
                prop_assert!(is_history_error(&error, Some(before), None), "{error:?}");
                prop_assert_eq!(history.len(), before, "a refused epoch is not added");
                first_error.get_or_insert(error);
            }
        }
    }
    // from_epochs stops at the first refusal, with the same error as push.
    match (TrainingHistory::from_epochs(records.clone()), first_error) {
        (Ok(built), None) => prop_assert!(same_epochs(&built, &history)),
        (Err(error), Some(first)) => prop_assert_eq!(error, first),
        (built, first) => prop_assert!(false, "from_epochs {:?} vs push {:?}", built, first),
    }
    check_history(&history)
}

// ---------------------------------------------------------------------------------------------
// Property 3: the JSON loader on valid and mangled documents

#[derive(Debug, Clone)]
enum Mangle {
    /// Cut the text at this fraction of its length.
    Truncate(f64),
    /// Replace the `version` value.
    Version(serde_json::Value),
    /// Replace the node at this position (pre-order, modulo the node count) by a value.
    Replace(usize, serde_json::Value),
    /// Remove the key at this position (among all object keys, modulo their count).
    RemoveKey(usize),
    /// Arbitrary text instead of the document.
    Garbage(String),
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e300..1e300f64).prop_map(|f| json!(f)),
        Just(json!(1.5)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(u64::MAX)),
        prop_oneof![
            Just("NaN"),
            Just("Infinity"),
            Just("-Infinity"),
            Just("nan"),
            Just("dense0"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1.0, "NaN", null])),
        Just(json!({"loss": 1.0})),
        Just(json!({"name": "dense0"})),
    ]
}

fn mangle() -> impl Strategy<Value = Mangle> {
    use serde_json::json;
    prop_oneof![
        2 => (0.0..1.0f64).prop_map(Mangle::Truncate),
        1 => prop_oneof![
            Just(json!(0)), Just(json!(2)), Just(json!(u64::MAX)), Just(json!(-1)),
            Just(json!("1")), Just(json!(1.5)), Just(json!(null)), Just(json!([1]))
        ].prop_map(Mangle::Version),
        4 => (any::<usize>(), json_value()).prop_map(|(at, v)| Mangle::Replace(at, v)),
        3 => any::<usize>().prop_map(Mangle::RemoveKey),
        1 => prop_oneof![
            ".{0,40}",
            r#"\{"format": ?"vanishing-gradient/history", ?"version": ?1, ?"epochs": ?\[.{0,30}"#,
            r#"[\{\}\[\]",:0-9a-z ]{0,40}"#,
        ].prop_map(Mangle::Garbage),
    ]
}

/// Visits every node in pre-order; `f` sees each node once and may change it.
fn nodes_mut(value: &mut serde_json::Value, visit: &mut dyn FnMut(&mut serde_json::Value)) {
    visit(value);
    match value {
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| nodes_mut(v, visit)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| nodes_mut(v, visit)),
        _ => {}
    }
}

fn apply(mangle: &Mangle, text: &str) -> String {
    let mut document: serde_json::Value = serde_json::from_str(text).expect("written JSON");
    match mangle {
        Mangle::Truncate(fraction) => {
            let trimmed = text.trim_end();
            let mut cut = ((trimmed.len() as f64) * fraction) as usize;
            while !trimmed.is_char_boundary(cut) {
                cut -= 1;
            }
            return trimmed[..cut].to_string();
        }
        Mangle::Version(value) => {
            document["version"] = value.clone();
        }
        Mangle::Replace(at, replacement) => {
            let mut count = 0usize;
            nodes_mut(&mut document, &mut |_| count += 1);
            let target = at % count;
            let mut index = 0usize;
            let mut replaced = false;
            nodes_mut(&mut document, &mut |node| {
                if index == target && !replaced {
                    *node = replacement.clone();
                    replaced = true;
                }
                index += 1;
            });
        }
        Mangle::RemoveKey(at) => {
            let mut keys = 0usize;
            nodes_mut(&mut document, &mut |node| {
                if let serde_json::Value::Object(map) = node {
                    keys += map.len();
                }
            });
            if keys > 0 {
                let target = at % keys;
                let mut index = 0usize;
                nodes_mut(&mut document, &mut |node| {
                    if let serde_json::Value::Object(map) = node {
                        if target >= index && target < index + map.len() {
                            let key = map.keys().nth(target - index).cloned();
                            if let Some(key) = key {
                                map.remove(&key);
                            }
                            index = usize::MAX / 2; // done
                        } else {
                            index += map.len();
                        }
                    }
                });
            }
        }
        Mangle::Garbage(text) => return text.clone(),
    }
    serde_json::to_string(&document).expect("a Value serializes")
}

fn check_json_mangled((records, mangle): (Vec<EpochRecord>, Mangle)) -> CheckResult {
    // A valid history to start from: the accepted prefix of the records.
    let mut history = TrainingHistory::new();
    for record in records {
        let _ = history.push(record);
    }
    let text = history.to_json_string().unwrap();
    let loaded = TrainingHistory::from_json_str(&text).unwrap();
    prop_assert!(same_epochs(&history, &loaded));
    let mangled = apply(&mangle, &text);
    match TrainingHistory::from_json_str(&mangled) {
        Ok(loaded) => {
            // Only mangles that keep a valid document may load, and what loads is valid.
            prop_assert!(
                !matches!(mangle, Mangle::Truncate(_) | Mangle::Version(_)),
                "a truncated or re-versioned file loaded: {}",
                mangled
            );
            prop_assert_eq!(expected_non_finite(&loaded), listed_non_finite(&loaded));
            let diagnosis = diagnose(&loaded).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                diagnosis.problem == Problem::NonFinite,
                !loaded.non_finite_values().is_empty()
            );
        }
        Err(error) => {
            prop_assert!(is_history_error(&error, None, None), "{error:?}");
            let message = error.to_string();
            prop_assert!(message.len() > 20, "uninformative: {}", message);
            if let Mangle::Version(_) = mangle {
                prop_assert!(message.contains("version"), "{}", message);
            }
            // Errors found inside an epoch or layer name them.
            if let Error::History {
                epoch: Some(epoch),
                layer,
                ..
            } = &error
            {
                prop_assert!(*epoch <= history.len().max(1) + 1, "{error:?}");
                if let Some(layer) = layer {
                    prop_assert!(!layer.is_empty() || message.contains("layer"));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Runners

fn run_property<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value) -> CheckResult)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, check) {
        panic!("{failure}");
    }
}

/// Cases per property in the long run: 350,000 each over three properties (1,050,000).
fn long_cases() -> u32 {
    std::env::var("ROBUSTNESS_LONG_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(350_000)
}

#[test]
fn recorder_never_panics_and_reports_non_finite_input() {
    run_property(512, run_input(), check_recorder_run);
}

#[test]
fn pushed_records_never_panic_and_refusals_name_the_epoch() {
    run_property(512, records(), check_pushed_records);
}

#[test]
fn json_loader_never_panics_on_valid_or_mangled_documents() {
    run_property(512, (records(), mangle()), check_json_mangled);
}

#[test]
#[ignore = "long run (over 1,000,000 cases): cargo test --release --all-features --test robustness -- --ignored"]
fn long_recorder_runs() {
    run_property(long_cases(), run_input(), check_recorder_run);
}

#[test]
#[ignore = "long run (over 1,000,000 cases): cargo test --release --all-features --test robustness -- --ignored"]
fn long_pushed_records() {
    run_property(long_cases(), records(), check_pushed_records);
}

#[test]
#[ignore = "long run (over 1,000,000 cases): cargo test --release --all-features --test robustness -- --ignored"]
fn long_json_mangling() {
    run_property(long_cases(), (records(), mangle()), check_json_mangled);
}

// ---------------------------------------------------------------------------------------------
// Fixed edge cases

#[test]
fn empty_and_one_epoch_histories_are_diagnosed() {
    check_history(&TrainingHistory::new()).unwrap();
    let diagnosis = diagnose(&TrainingHistory::new()).unwrap();
    assert_eq!(diagnosis.problem, Problem::InsufficientData);
    for loss in [0.5, f64::NAN, f64::INFINITY, -1e300, 5e-324] {
        let mut record = EpochRecord::new(loss);
        record.layers.push(LayerRecord::new("dense0"));
        let history = TrainingHistory::from_epochs([record]).unwrap();
        check_history(&history).unwrap();
        let expected = if loss.is_finite() {
            Problem::InsufficientData
        } else {
            Problem::NonFinite
        };
        assert_eq!(diagnose(&history).unwrap().problem, expected, "loss {loss}");
    }
}

#[test]
fn zero_length_layers_are_typed_errors() {
    let mut recorder = Recorder::new();
    let mut epoch = recorder.epoch(1.0);
    let error = epoch
        .layer("dense0")
        .unwrap()
        .weights::<f32>(&[])
        .unwrap_err();
    assert!(
        is_history_error(&error, Some(0), Some("dense0")),
        "{error:?}"
    );
    let error = epoch
        .layer("dense1")
        .unwrap()
        .gradient::<f64>(&[])
        .unwrap_err();
    assert!(
        is_history_error(&error, Some(0), Some("dense1")),
        "{error:?}"
    );
    let stats = GradientStats {
        l2: 0.0,
        rms: 0.0,
        max_abs: 0.0,
        count: 0,
    };
    let error = epoch
        .layer("dense2")
        .unwrap()
        .gradient_stats(stats)
        .unwrap_err();
    assert!(
        is_history_error(&error, Some(0), Some("dense2")),
        "{error:?}"
    );
    epoch.finish().unwrap();
    let mut record = EpochRecord::new(1.0);
    let mut layer = LayerRecord::new("dense0");
    layer.weight_count = Some(0);
    record.layers.push(layer);
    let error = TrainingHistory::from_epochs([record]).unwrap_err();
    assert!(
        is_history_error(&error, Some(0), Some("dense0")),
        "{error:?}"
    );
}

/// 10^6-element layers: a handful of cases, exact and sampled, f32 and f64, with a NaN or an
/// infinity at an arbitrary position (or none).
#[test]
fn million_element_layers_report_non_finite_values() {
    const LEN: usize = 1_000_000;
    let strategy = (
        any::<bool>(),
        any::<bool>(),
        prop::option::of((0..LEN, prop_oneof![Just(f64::NAN), Just(f64::INFINITY)])),
        0usize..3,
    );
    run_property(6, strategy, |(sampled, single, poison, poisoned_epoch)| {
        let mut recorder = if sampled {
            Recorder::with_sample_budget(4096, 7).unwrap()
        } else {
            Recorder::new()
        };
        let mut record_all = || -> Result<(), Error> {
            for epoch in 0..3 {
                let scale = 1.0 + 0.01 * epoch as f64;
                let mut weights: Vec<f64> =
                    (0..LEN).map(|i| (i % 97) as f64 * 1e-3 * scale).collect();
                let mut gradient: Vec<f64> = (0..LEN).map(|i| (i % 13) as f64 * 1e-6).collect();
                if let Some((at, value)) = poison {
                    if epoch == poisoned_epoch {
                        weights[at] = value;
                        gradient[at] = -value;
                    }
                }
                let mut record = recorder.epoch(1.0 / scale);
                if single {
                    let weights: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
                    let gradient: Vec<f32> = gradient.iter().map(|&g| g as f32).collect();
                    record
                        .layer("big")?
                        .weights(&weights)?
                        .gradient(&gradient)?;
                } else {
                    record
                        .layer("big")?
                        .weights(&weights)?
                        .gradient(&gradient)?;
                }
                record.finish()?;
            }
            Ok(())
        };
        record_all().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let history = recorder.history();
        let listed = listed_non_finite(history);
        if poison.is_some() {
            for quantity in ["Weights", "Gradient"] {
                prop_assert!(listed.contains(&(poisoned_epoch, Some(0), quantity.to_string())));
            }
        } else {
            prop_assert!(listed.is_empty(), "{:?}", listed);
        }
        check_history(history)
    });
}

/// The trend functions on extreme finite values: finite results.
#[test]
fn trend_statistics_of_extreme_finite_values_are_finite() {
    let series = [
        vec![1e300, -1e300, 1e300, -1e300],
        vec![5e-324, 0.0, -5e-324, 1e-300],
        vec![1e300; 20],
        vec![f64::MIN_POSITIVE, 1e300],
    ];
    for values in series {
        assert!(median(&values).unwrap().is_finite());
        assert!(theil_sen_slope(&values).unwrap().is_finite(), "{values:?}");
        let test = mann_kendall(&values).unwrap();
        assert!((0.0..=1.0).contains(&test.p_two_sided));
        check_losses(&values).unwrap();
    }
    assert!(same(median(&[1e300, 1e300]).unwrap(), 1e300));
}
