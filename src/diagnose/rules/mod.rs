//! The weighing: each rule reads the detectors' analyses and returns findings with a
//! confidence. The numbers (base confidences, increments) are documented in
//! `docs/heuristics.md`; change them there too. One file per kind of evidence:
//! [`divergence`] (non-finite values, exploding), [`gradient_flow`] (dead units, vanishing
//! gradient, saturation) and [`loss_curve`] (learning rate, overfitting, plateau, convergence,
//! health, too few epochs).

mod divergence;
mod gradient_flow;
mod loss_curve;

use divergence::{exploding, non_finite};
use gradient_flow::{dead_units, saturation, vanishing};
use loss_curve::{
    converged, healthy, learning_rate_too_small, overfitting, plateau, short_for_trend,
    too_few_epochs,
};

use super::finding::{Evidence, Finding, Problem, Remedy, Severity};
use super::{DiagnoseConfig, EvidenceAvailable};
use crate::detect::activity::{ActivityAnalysis, ActivityFinding, ActivityProblem};
use crate::detect::constancy::{ConstancyAnalysis, FreezeSignature};
use crate::detect::gradients::{median, ExplodingFinding, GradientAnalysis};
use crate::detect::plateau::{Plateau, PlateauAnalysis, PlateauKind};
use crate::history::{Quantity, TrainingHistory};

/// Everything the rules read.
pub(crate) struct Analyses<'a> {
    pub(crate) history: &'a TrainingHistory,
    pub(crate) config: &'a DiagnoseConfig,
    pub(crate) losses: &'a [f64],
    pub(crate) names: &'a [String],
    pub(crate) available: EvidenceAvailable,
    pub(crate) gradients: &'a GradientAnalysis,
    pub(crate) constancy: &'a ConstancyAnalysis,
    pub(crate) activity: &'a ActivityAnalysis,
    pub(crate) plateau: &'a PlateauAnalysis,
}

/// The loss curve, summarised.
struct LossSummary<'a> {
    /// The first finite loss.
    initial: Option<f64>,
    /// The median of the last finite losses.
    final_level: Option<f64>,
    /// `(initial - final) / |initial|`.
    improvement: Option<f64>,
    converged: bool,
    /// Improved by less than the plateau detector's stuck fraction.
    stuck: bool,
    /// The plateau the run ends on, if any.
    plateau_at_end: Option<&'a Plateau>,
}

impl LossSummary<'_> {
    /// The loss has stopped improving (a plateau at the end that is not convergence, or
    /// barely any improvement since the start).
    fn stalled(&self) -> bool {
        !self.converged
            && (self.stuck
                || self
                    .plateau_at_end
                    .is_some_and(|p| p.kind != PlateauKind::Converged))
    }
}

const VANISHING_REMEDIES: [Remedy; 5] = [
    Remedy::ReluFamilyActivation,
    Remedy::HeInitialisation,
    Remedy::Normalisation,
    Remedy::ResidualConnections,
    Remedy::Adam,
];

fn summarise_loss<'a>(a: &Analyses<'a>) -> LossSummary<'a> {
    let config = a.config;
    let initial = a.losses.iter().copied().find(|l| l.is_finite());
    let mut tail: Vec<f64> = a
        .losses
        .iter()
        .rev()
        .take(config.tail_epochs)
        .copied()
        .filter(|l| l.is_finite())
        .collect();
    let last_finite = a.losses.last().is_some_and(|l| l.is_finite());
    let final_level = if last_finite { median(&mut tail) } else { None };
    let improvement = match (initial, final_level) {
        (Some(i), Some(f)) if i != 0.0 => Some((i - f) / i.abs()),
        _ => None,
    };
    // On a plateau at the end, or just off one: a single window at the very end that a noisy
    // loss makes look significant must not hide a long plateau.
    let grace = config.plateau.window / 2;
    let plateau_at_end = a
        .plateau
        .plateaus
        .last()
        .filter(|p| p.last_epoch + grace + 1 >= a.losses.len());
    let converged = match (config.target_loss, initial, final_level) {
        (Some(target), _, Some(f)) => f <= target,
        (None, Some(i), Some(f)) => i > 0.0 && f <= config.converged_fraction * i,
        _ => false,
    } || (last_finite
        && config.target_loss.is_none()
        && plateau_at_end.is_some_and(|p| p.kind == PlateauKind::Converged));
    let stuck = improvement.is_some_and(|i| i < config.plateau.stuck_fraction);
    LossSummary {
        initial,
        final_level,
        improvement,
        converged,
        stuck,
        plateau_at_end,
    }
}

fn name(a: &Analyses<'_>, index: usize) -> String {
    a.names
        .get(index)
        .cloned()
        .unwrap_or_else(|| format!("layer {index}"))
}

/// The epoch of the first non-finite value of any kind.
fn first_non_finite_epoch(history: &TrainingHistory) -> Option<usize> {
    history.non_finite_values().first().map(|v| v.epoch)
}

/// Activity findings of one kind that precede any non-finite value (after a NaN, a ReLU's
/// derivative reads 0 and every unit looks dead: that is the divergence, not dead units).
fn activity_findings<'a>(a: &Analyses<'a>, problem: ActivityProblem) -> Vec<&'a ActivityFinding> {
    let cutoff = first_non_finite_epoch(a.history);
    a.activity
        .findings
        .iter()
        .filter(|f| f.problem == problem && cutoff.is_none_or(|c| f.first_epoch < c))
        .collect()
}

/// All findings, the primary one first.
pub(crate) fn weigh(a: &Analyses<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(non_finite(a));
    if a.history.len() < a.config.min_epochs {
        findings.push(too_few_epochs(a));
        return order(findings);
    }
    let loss = summarise_loss(a);
    findings.extend(exploding(a, &findings));
    let dead = dead_units(a);
    let dead_everywhere = dead
        .as_ref()
        .is_some_and(|f| f.severity == Severity::Critical);
    findings.extend(dead);
    let diverged = findings
        .iter()
        .any(|f| matches!(f.problem, Problem::NonFinite | Problem::ExplodingGradient));
    findings.extend(vanishing(a, &loss, diverged));
    let vanishing_found = findings
        .iter()
        .any(|f| f.problem == Problem::VanishingGradient && f.severity >= Severity::Warning);
    findings.extend(saturation(a, vanishing_found));
    if !diverged && !dead_everywhere && !vanishing_found {
        findings.extend(learning_rate_too_small(a, &loss));
    }
    findings.extend(overfitting(a));
    let explained = findings.iter().any(|f| {
        f.severity >= Severity::Warning
            && matches!(
                f.problem,
                Problem::NonFinite
                    | Problem::ExplodingGradient
                    | Problem::DeadUnits
                    | Problem::VanishingGradient
                    | Problem::Saturation
                    | Problem::LearningRateTooSmall
            )
    });
    if !explained {
        findings.extend(plateau(a, &loss));
    }
    if loss.converged {
        findings.push(converged(a, &loss));
    }
    findings.extend(short_for_trend(a));
    if !findings
        .iter()
        .any(|f| f.severity >= Severity::Warning || f.problem == Problem::Converged)
    {
        findings.push(healthy(a, &loss));
    }
    order(findings)
}

/// Orders findings: the primary (the most confident problem of at least warning severity,
/// ties broken by priority; else converged, insufficient data, healthy) first, the others by
/// severity, confidence and priority.
fn order(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|x, y| {
        let rank = |f: &Finding| {
            if f.severity >= Severity::Warning {
                0
            } else {
                match f.problem {
                    Problem::Converged => 1,
                    Problem::InsufficientData => 2,
                    Problem::Healthy => 3,
                    _ => 4,
                }
            }
        };
        rank(x)
            .cmp(&rank(y))
            .then(y.confidence.total_cmp(&x.confidence))
            .then(y.severity.cmp(&x.severity))
            .then(x.problem.priority().cmp(&y.problem.priority()))
    });
    findings
}
