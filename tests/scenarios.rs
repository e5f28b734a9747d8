//! The scenario corpus: networks trained with the crate's own core on synthetic data, with
//! fixed seeds, each asserting the primary verdict of `diagnose` over three seeds. The numbers
//! the thresholds were calibrated on are printed by the ignored test
//! `print_corpus_measurements` (`cargo test --test scenarios -- --ignored --nocapture`) and
//! listed in `docs/heuristics.md`.

mod common;

use common::{loss_only, run, weights_only, Scenario, SEEDS};
use vanishing_gradient::diagnose::{Diagnosis, Problem, Remedy, Severity};
use vanishing_gradient::history::TrainingHistory;
use vanishing_gradient::{diagnose, DiagnoseConfig};

fn diagnosed(history: &TrainingHistory) -> Diagnosis {
    diagnose(history).expect("the default configuration is valid")
}

fn for_each_seed(scenario: Scenario, check: impl Fn(u64, &TrainingHistory, &Diagnosis)) {
    for seed in SEEDS {
        let history = run(scenario, seed, scenario.epochs());
        let diagnosis = diagnosed(&history);
        check(seed, &history, &diagnosis);
    }
}

fn no_vanishing_claim(diagnosis: &Diagnosis) -> bool {
    !diagnosis.reports(Problem::VanishingGradient)
}

#[test]
fn deep_sigmoid_net_has_a_vanishing_gradient() {
    for_each_seed(Scenario::DeepSigmoid, |seed, _, d| {
        assert_eq!(d.problem, Problem::VanishingGradient, "seed {seed}:\n{d}");
        assert!(
            d.confidence >= 0.8,
            "seed {seed}: confidence {}",
            d.confidence
        );
        let finding = d.primary().expect("a primary finding");
        assert_eq!(finding.severity, Severity::Warning);
        // the first layer is named, the output layer is not among the starved layers
        assert_eq!(finding.layers.first().map(String::as_str), Some("dense1"));
        assert!(!finding.layers.iter().any(|l| l == "dense11"));
        // the key evidence: the ratio under its threshold, the hidden-layer decay under its own
        let ratio = d.gradients.median_first_to_last_ratio.expect("a ratio");
        assert!(ratio < DiagnoseConfig::default().gradients.vanishing_ratio);
        assert!(finding
            .evidence
            .iter()
            .all(|e| e.comparison.holds(e.value, e.threshold)));
        assert!(finding.remedies.contains(&Remedy::ReluFamilyActivation));
        assert!(d.has_problem());
        // no saturation: the vanishing comes from sigmoid's 0.25 factor, not saturated units
        assert!(!d.reports(Problem::Saturation), "seed {seed}:\n{d}");
    });
}

#[test]
fn deep_sigmoid_loss_only_is_a_low_confidence_plateau() {
    for_each_seed(Scenario::DeepSigmoid, |seed, history, full| {
        let d = diagnosed(&loss_only(history));
        assert_eq!(d.problem, Problem::Plateau, "seed {seed}:\n{d}");
        assert!(d.confidence <= 0.4, "seed {seed}: {}", d.confidence);
        assert!(d.confidence < full.confidence);
        assert!(no_vanishing_claim(&d));
        let remedies = &d.primary().expect("a finding").remedies;
        assert_eq!(remedies.first(), Some(&Remedy::RecordWeightsOrGradients));
        assert!(d.to_string().contains("possibly a vanishing gradient"));
    });
}

#[test]
fn deep_sigmoid_weights_only_is_a_moderate_vanishing_verdict() {
    for_each_seed(Scenario::DeepSigmoid, |seed, history, full| {
        let d = diagnosed(&weights_only(history));
        assert_eq!(d.problem, Problem::VanishingGradient, "seed {seed}:\n{d}");
        assert!(
            (0.3..0.7).contains(&d.confidence),
            "seed {seed}: {}",
            d.confidence
        );
        assert!(d.confidence < full.confidence);
        let finding = d.primary().expect("a finding");
        assert_eq!(finding.remedies.first(), Some(&Remedy::RecordGradients));
        assert_eq!(finding.layers.first().map(String::as_str), Some("dense1"));
        assert!(!d.available.gradients && d.available.weights);
    });
}

#[test]
fn deep_relu_with_he_init_is_healthy() {
    for_each_seed(Scenario::DeepReluHe, |seed, _, d| {
        assert_eq!(d.problem, Problem::Healthy, "seed {seed}:\n{d}");
        assert!(!d.has_problem());
        assert!(d
            .findings
            .iter()
            .all(|f| f.problem != Problem::VanishingGradient));
        assert!(d.gradients.vanishing.is_none());
        assert!(d.confidence >= 0.8);
    });
}

#[test]
fn tiny_learning_rate_is_not_a_vanishing_gradient() {
    for_each_seed(Scenario::TinyLearningRate, |seed, history, d| {
        assert_eq!(
            d.problem,
            Problem::LearningRateTooSmall,
            "seed {seed}:\n{d}"
        );
        assert!(no_vanishing_claim(d));
        let remedies = &d.primary().expect("a finding").remedies;
        assert_eq!(remedies.first(), Some(&Remedy::IncreaseLearningRate));
        assert!(d.confidence >= 0.7);
        // weights alone still tell it, with less confidence; the loss alone cannot
        let weights = diagnosed(&weights_only(history));
        assert_eq!(weights.problem, Problem::LearningRateTooSmall, "{weights}");
        assert!(weights.confidence < d.confidence);
        let losses = diagnosed(&loss_only(history));
        assert_eq!(losses.problem, Problem::Plateau, "{losses}");
    });
}

#[test]
fn small_net_that_solves_its_task_has_converged() {
    for_each_seed(Scenario::SmallConverging, |seed, history, d| {
        assert_eq!(d.problem, Problem::Converged, "seed {seed}:\n{d}");
        assert!(!d.has_problem());
        let losses = history.losses();
        assert!(losses[losses.len() - 1] < 0.01 * losses[0]);
        assert!(no_vanishing_claim(d));
    });
}

#[test]
fn huge_learning_rate_is_non_finite_or_exploding() {
    for_each_seed(Scenario::HugeLearningRate, |seed, history, d| {
        assert!(
            matches!(d.problem, Problem::NonFinite | Problem::ExplodingGradient),
            "seed {seed}:\n{d}"
        );
        assert!(no_vanishing_claim(d));
        // no "dead units" read off the NaN activations
        assert!(!d.reports(Problem::DeadUnits), "seed {seed}:\n{d}");
        if d.problem == Problem::NonFinite {
            let first = &history.non_finite_values()[0];
            let finding = d.primary().expect("a finding");
            assert_eq!(finding.epochs.map(|(first, _)| first), Some(first.epoch));
            assert!(finding.summary.contains(&format!("epoch {}", first.epoch)));
            assert!(!finding.layers.is_empty());
        }
    });
}

#[test]
fn strongly_negative_relu_biases_give_dead_units() {
    for_each_seed(Scenario::DeadRelu, |seed, _, d| {
        assert_eq!(d.problem, Problem::DeadUnits, "seed {seed}:\n{d}");
        assert!(no_vanishing_claim(d));
        assert!(!d.reports(Problem::LearningRateTooSmall));
        assert!(!d.reports(Problem::Saturation), "seed {seed}:\n{d}");
        let finding = d.primary().expect("a finding");
        assert!(finding.layers.iter().any(|l| l == "dense1"));
        assert_eq!(finding.remedies.first(), Some(&Remedy::ResetBiases));
    });
}

#[test]
fn dead_relu_weights_only_is_a_moderate_dead_units_verdict() {
    // weights that never change at all are not a small learning rate (that moves them a
    // little): without gradients the verdict is dead units (or a zero learning rate), moderate
    for_each_seed(Scenario::DeadRelu, |seed, history, full| {
        let d = diagnosed(&weights_only(history));
        assert_eq!(d.problem, Problem::DeadUnits, "seed {seed}:\n{d}");
        assert!(d.confidence < full.confidence);
        let finding = d.primary().expect("a finding");
        assert_eq!(finding.remedies.first(), Some(&Remedy::RecordGradients));
    });
}

/// Prints the numbers behind the defaults (see `docs/heuristics.md`).
#[test]
#[ignore = "prints the corpus measurements; run with --ignored --nocapture"]
fn print_corpus_measurements() {
    println!(
        "| scenario | seed | loss first -> final | final/first | first/last grad RMS | hidden decay | \
         largest median update | first/last update | verdict (confidence) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for scenario in Scenario::ALL {
        for seed in SEEDS {
            let history = run(scenario, seed, scenario.epochs());
            let d = diagnosed(&history);
            let losses = history.losses();
            let first = losses[0];
            let last = losses[losses.len() - 1];
            let largest_update = d
                .constancy
                .layers
                .iter()
                .filter_map(|l| l.median_relative_update)
                .fold(f64::NAN, f64::max);
            let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2e}"));
            println!(
                "| {scenario:?} | {seed} | {first:.3} -> {last:.3e} | {} | {} | {} | {} | {} | {} ({:.2}) |",
                show(Some(last / first)),
                show(d.gradients.median_first_to_last_ratio),
                d.gradients
                    .median_decay_factor
                    .map_or("-".to_owned(), |v| format!("{v:.2}")),
                show(Some(largest_update).filter(|v| v.is_finite())),
                show(d.constancy.first_to_last_median_ratio),
                d.problem,
                d.confidence
            );
            if seed == SEEDS[0] {
                for (what, h) in [
                    ("loss only", loss_only(&history)),
                    ("weights only", weights_only(&history)),
                ] {
                    let partial = diagnosed(&h);
                    println!(
                        "| {scenario:?} {what} | {seed} | | | | | | | {} ({:.2}) |",
                        partial.problem, partial.confidence
                    );
                }
            }
        }
    }
    let long = diagnosed(&run(Scenario::DeepReluHe, SEEDS[0], 200));
    println!(
        "| DeepReluHe, 200 epochs | {} | | | | | | | {} ({:.2}) |",
        SEEDS[0], long.problem, long.confidence
    );
    for scenario in Scenario::ALL {
        println!(
            "\n===== {scenario:?} seed {}\n{}",
            SEEDS[0],
            diagnosed(&run(scenario, SEEDS[0], scenario.epochs()))
        );
    }
}
