//! The weighing: each rule reads the detectors' analyses and returns findings with a
//! confidence. The numbers (base confidences, increments) are documented in
//! `docs/heuristics.md`; change them there too.

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

fn quantity_name(quantity: Quantity) -> &'static str {
    match quantity {
        Quantity::Loss => "loss",
        Quantity::ValidationLoss => "validation loss",
        Quantity::Weights => "weights",
        Quantity::Gradient => "gradient",
        Quantity::Activity => "activity",
    }
}

fn non_finite(a: &Analyses<'_>) -> Option<Finding> {
    let values = a.history.non_finite_values();
    let first = values.first()?;
    let last_epoch = values.iter().map(|v| v.epoch).max().unwrap_or(first.epoch);
    let mut layer_indices: Vec<usize> = values.iter().filter_map(|v| v.layer_index).collect();
    layer_indices.sort_unstable();
    layer_indices.dedup();
    let place = match &first.layer {
        Some(layer) => format!(" in layer {layer}"),
        None => String::new(),
    };
    let summary = format!(
        "non-finite {} first at epoch {}{place} ({} non-finite entries up to epoch {last_epoch})",
        quantity_name(first.quantity),
        first.epoch,
        values.len()
    );
    let loss_values = values
        .iter()
        .filter(|v| v.quantity == Quantity::Loss)
        .count();
    let mut finding = Finding::new(Problem::NonFinite, Severity::Critical, 1.0, summary)
        .epochs(first.epoch, last_epoch)
        .layers(layer_indices.into_iter().map(|i| name(a, i)))
        .evidence(Evidence::above(
            "non-finite entries (epoch, layer, quantity)",
            values.len() as f64,
            0.0,
        ));
    if loss_values > 0 {
        finding = finding.evidence(Evidence::above(
            "epochs with a non-finite loss",
            loss_values as f64,
            0.0,
        ));
    }
    Some(finding.remedies(&[
        Remedy::DecreaseLearningRate,
        Remedy::GradientClipping,
        Remedy::CheckInputs,
        Remedy::Normalisation,
    ]))
}

fn too_few_epochs(a: &Analyses<'_>) -> Finding {
    let needed = a.config.min_epochs - a.history.len();
    Finding::new(
        Problem::InsufficientData,
        Severity::Info,
        1.0,
        format!(
            "only {} epoch(s) recorded: at least {} are needed for a verdict",
            a.history.len(),
            a.config.min_epochs
        ),
    )
    .evidence(Evidence::below(
        "epochs recorded",
        a.history.len() as f64,
        a.config.min_epochs as f64,
    ))
    .remedies(&[Remedy::TrainLonger { epochs: needed }])
}

/// When the loss curve is shorter than a plateau window: the trend is unknown.
fn short_for_trend(a: &Analyses<'_>) -> Option<Finding> {
    let short = a.plateau.insufficient_data?;
    let needed = short.window.saturating_sub(short.longest_finite_run);
    if short.longest_finite_run == 0 || needed == 0 {
        return None;
    }
    Some(
        Finding::new(
            Problem::InsufficientData,
            Severity::Info,
            1.0,
            format!(
                "the loss trend needs {} consecutive finite epochs, {} recorded: {needed} more",
                short.window, short.longest_finite_run
            ),
        )
        .evidence(Evidence::below(
            "longest run of finite losses",
            short.longest_finite_run as f64,
            short.window as f64,
        ))
        .remedies(&[Remedy::TrainLonger { epochs: needed }]),
    )
}

fn exploding(a: &Analyses<'_>, so_far: &[Finding]) -> Option<Finding> {
    let mut growth = None;
    let mut ratio = None;
    for finding in &a.gradients.exploding {
        match finding {
            ExplodingFinding::LossGrowth { .. } => growth = Some(finding),
            ExplodingFinding::RatioAboveBound { .. } => ratio = Some(finding),
            _ => {}
        }
    }
    if growth.is_none() && ratio.is_none() {
        return None;
    }
    let confidence = match (growth.is_some(), ratio.is_some()) {
        (true, true) => 0.9,
        (true, false) => 0.8,
        _ => 0.6,
    } + if so_far.iter().any(|f| f.problem == Problem::NonFinite) {
        0.05
    } else {
        0.0
    };
    let mut finding = Finding::new(
        Problem::ExplodingGradient,
        Severity::Critical,
        confidence,
        "the loss or the gradient grows without bound",
    );
    let mut first_epoch = usize::MAX;
    let mut last_epoch = 0;
    if let Some(&ExplodingFinding::LossGrowth {
        epoch,
        initial_loss,
        loss,
        growth,
        threshold,
    }) = growth
    {
        finding.summary = format!(
            "the loss grew {growth:.3}x from {initial_loss:.4} to {loss:.4e} by epoch {epoch}"
        );
        finding = finding.evidence(Evidence::above(
            "loss / first epoch's loss",
            growth,
            threshold,
        ));
        first_epoch = first_epoch.min(epoch);
        last_epoch = last_epoch.max(epoch);
    }
    if let Some(&ExplodingFinding::RatioAboveBound {
        first_epoch: first,
        epochs_over,
        epochs_observed,
        median_ratio,
        threshold,
    }) = ratio
    {
        if growth.is_none() {
            finding.summary = format!(
                "the gradient grows towards the input: first/last RMS ratio {median_ratio:.3e} \
                 in {epochs_over} of {epochs_observed} recent epochs"
            );
        }
        finding = finding.evidence(Evidence::above(
            "first/last gradient RMS ratio (median)",
            median_ratio,
            threshold,
        ));
        first_epoch = first_epoch.min(first);
        last_epoch = last_epoch.max(a.history.len().saturating_sub(1));
    }
    if first_epoch != usize::MAX {
        finding = finding.epochs(first_epoch, last_epoch.max(first_epoch));
    }
    Some(finding.remedies(&[
        Remedy::GradientClipping,
        Remedy::DecreaseLearningRate,
        Remedy::Normalisation,
        Remedy::GlorotInitialisation,
    ]))
}

fn dead_units(a: &Analyses<'_>) -> Option<Finding> {
    let min_epochs = a.config.gradients.min_epochs_observed;
    let zero: Vec<_> = a
        .gradients
        .zero_gradients
        .iter()
        .filter(|z| z.still_zero && z.epochs >= min_epochs)
        .collect();
    let dead = activity_findings(a, ActivityProblem::Dead);
    if zero.is_empty() && dead.is_empty() {
        return None;
    }
    let confidence = match (zero.is_empty(), dead.is_empty()) {
        (false, false) => 0.95,
        (false, true) => 0.85,
        _ => 0.75,
    };
    let mut indices: Vec<usize> = zero
        .iter()
        .map(|z| z.layer_index)
        .chain(dead.iter().map(|d| d.layer_index))
        .collect();
    indices.sort_unstable();
    indices.dedup();
    let layers_with_gradients = a
        .gradients
        .recent
        .last()
        .map_or(0, |p| p.rms.iter().filter(|r| r.is_some()).count());
    let all_zero = layers_with_gradients > 0 && zero.len() >= layers_with_gradients;
    let severity = if all_zero {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let first_epoch = zero
        .iter()
        .map(|z| z.first_epoch)
        .chain(dead.iter().map(|d| d.first_epoch))
        .min()
        .unwrap_or(0);
    let last_epoch = a.history.len().saturating_sub(1);
    let summary = if all_zero {
        format!(
            "every layer's weight gradient is exactly zero since epoch {first_epoch}: dead units \
             pass no gradient, the network cannot learn"
        )
    } else {
        format!(
            "{} layer(s) with dead units (exactly zero gradient or units that never activate)",
            indices.len()
        )
    };
    let mut finding = Finding::new(Problem::DeadUnits, severity, confidence, summary)
        .epochs(first_epoch, last_epoch)
        .layers(indices.iter().map(|&i| name(a, i)));
    if !zero.is_empty() {
        finding = finding.evidence(Evidence::above(
            "layers with an exactly zero weight gradient",
            zero.len() as f64,
            0.0,
        ));
        if let Some(longest) = zero.iter().max_by_key(|z| z.epochs) {
            finding = finding.evidence(Evidence::above(
                format!("epochs with a zero gradient in {}", longest.layer),
                longest.epochs as f64,
                min_epochs as f64,
            ));
        }
    }
    for d in dead.iter().take(3) {
        finding = finding.evidence(Evidence::above(
            format!("dead unit share in {} (median)", d.layer),
            d.median_share,
            d.threshold,
        ));
    }
    Some(finding.remedies(&[
        Remedy::ResetBiases,
        Remedy::LeakyActivation,
        Remedy::HeInitialisation,
        Remedy::DecreaseLearningRate,
    ]))
}

/// Whether the weights show the vanishing signature, and the evidence.
fn weight_signature(a: &Analyses<'_>) -> (bool, Vec<Evidence>) {
    let config = a.config;
    let mut evidence = Vec::new();
    let mut agrees = false;
    if let FreezeSignature::EarlyFrozenLateMoving { frozen_layers } = a.constancy.signature {
        agrees = true;
        evidence.push(Evidence::above(
            format!(
                "leading layers frozen (median relative update < {:.0e}) while later ones move",
                a.constancy.tolerance
            ),
            frozen_layers as f64,
            0.0,
        ));
    }
    if let Some(ratio) = a.constancy.first_to_last_median_ratio {
        if ratio < config.update_ratio && a.constancy.signature != FreezeSignature::AllFrozen {
            agrees = true;
            evidence.push(Evidence::below(
                "first/last relative weight update ratio (median)",
                ratio,
                config.update_ratio,
            ));
        }
    }
    (agrees, evidence)
}

fn hidden_layer_count(a: &Analyses<'_>) -> usize {
    let with_gradient = a.gradients.recent.last().map_or(0, |p| {
        p.rms
            .iter()
            .filter(|r| r.is_some_and(|v| v.is_finite() && v > 0.0))
            .count()
    });
    if a.config.gradients.exclude_output_layer {
        with_gradient.saturating_sub(1)
    } else {
        with_gradient
    }
}

fn vanishing(a: &Analyses<'_>, loss: &LossSummary<'_>, diverged: bool) -> Option<Finding> {
    let config = a.config;
    if a.available.gradients {
        let v = a.gradients.vanishing.as_ref()?;
        let hidden = hidden_layer_count(a);
        let decay = a
            .gradients
            .median_decay_factor
            .filter(|_| hidden >= config.min_hidden_layers);
        let steps = hidden.saturating_sub(1) as i32;
        let decay_attenuates = decay.is_some_and(|d| d < config.decay_factor);
        let hidden_confirms = match decay {
            None => true,
            Some(d) => decay_attenuates || d.powi(steps) < config.gradients.vanishing_ratio,
        };
        let layers_under: Vec<String> = match v.first_under_threshold_from_output {
            Some(index) => (0..=index).map(|i| name(a, i)).collect(),
            None => vec![name(a, 0)],
        };
        let ratio_evidence = Evidence::below(
            "first/last gradient RMS ratio (median)",
            v.median_ratio,
            v.threshold,
        );
        let decay_evidence = decay.map(|d| {
            Evidence::below(
                format!("hidden-layer gradient decay factor per layer ({hidden} layers)"),
                d,
                config.decay_factor,
            )
        });
        let mut finding = Finding::new(Problem::VanishingGradient, Severity::Info, 0.2, "")
            .epochs(v.first_epoch, v.last_epoch)
            .evidence(ratio_evidence);
        if let Some(e) = decay_evidence {
            finding = finding.evidence(e);
        }
        if diverged {
            finding.summary = "small first/last gradient ratio, but the run diverges: an \
                               exploding run can look vanishing by ratio; the divergence decides"
                .into();
            return Some(finding);
        }
        if loss.converged {
            finding.summary = "small first/last gradient ratio, but the loss converged: a \
                               solved task ends with small gradients"
                .into();
            return Some(finding);
        }
        if !hidden_confirms {
            finding.summary = "small first/last gradient ratio, but the hidden layers do not \
                               decay: the output layer differs by the loss's own factor"
                .into();
            return Some(finding);
        }
        let persistence = v.epochs_under as f64 / v.epochs_observed.max(1) as f64;
        let (weights_agree, weight_evidence) = weight_signature(a);
        let saturated = !activity_findings(a, ActivityProblem::Saturated).is_empty();
        let mut confidence = 0.6 * persistence;
        if decay_attenuates {
            confidence += 0.15;
        }
        if weights_agree {
            confidence += 0.1;
        }
        if loss.stalled() {
            confidence += 0.1;
        }
        let cause = if saturated {
            "saturated units"
        } else if a.available.activity {
            "not saturation: each sigmoid-like layer passes at most a fraction of the gradient"
        } else {
            "cause not recorded (record activity)"
        };
        finding.severity = Severity::Warning;
        finding.confidence = confidence.min(0.95);
        finding.summary = match decay {
            Some(d) => format!(
                "the first layer's gradient RMS is {:.1e} of the output layer's, shrinking \
                 {d:.2}x per hidden layer ({cause})",
                v.median_ratio
            ),
            None => format!(
                "the first layer's gradient RMS is {:.1e} of the output layer's ({cause})",
                v.median_ratio
            ),
        };
        finding.evidence.push(Evidence::above(
            "recent epochs under the ratio threshold (share)",
            persistence,
            config.gradients.min_persistence,
        ));
        finding.evidence.extend(weight_evidence);
        if let (Some(initial), Some(level)) = (loss.initial, loss.final_level) {
            if initial > 0.0 && config.target_loss.is_none() {
                finding.evidence.push(Evidence::above(
                    "final loss / first epoch's loss (not converged)",
                    level / initial,
                    config.converged_fraction,
                ));
            }
        }
        let remedies: &[Remedy] = if saturated {
            &[
                Remedy::ReluFamilyActivation,
                Remedy::GlorotInitialisation,
                Remedy::Normalisation,
                Remedy::ResidualConnections,
                Remedy::Adam,
            ]
        } else {
            &VANISHING_REMEDIES
        };
        return Some(finding.layers(layers_under).remedies(remedies));
    }
    // Weights only: the depth order of the frozen layers.
    if !a.available.weights || loss.converged || diverged {
        return None;
    }
    let (agrees, evidence) = weight_signature(a);
    if !agrees {
        return None;
    }
    let early_frozen = matches!(
        a.constancy.signature,
        FreezeSignature::EarlyFrozenLateMoving { .. }
    );
    let mut confidence = if early_frozen { 0.45 } else { 0.35 };
    if loss.stalled() {
        confidence += 0.1;
    }
    let frozen: Vec<String> = a
        .constancy
        .layers
        .iter()
        .take_while(|l| l.frozen)
        .map(|l| l.layer.clone())
        .collect();
    let summary = if early_frozen {
        format!(
            "the first {} layer(s) stopped moving while later layers still learn: the signature \
             of a vanishing gradient (record gradients to confirm)",
            frozen.len()
        )
    } else {
        "the first layer moves far less than the last: possibly a vanishing gradient (record \
         gradients to confirm)"
            .to_owned()
    };
    let first_layer = if frozen.is_empty() {
        vec![name(a, 0)]
    } else {
        frozen
    };
    let mut finding = Finding::new(
        Problem::VanishingGradient,
        Severity::Warning,
        confidence,
        summary,
    )
    .layers(first_layer);
    finding.evidence.extend(evidence);
    if let Some(run) = a
        .constancy
        .frozen_runs
        .iter()
        .filter(|r| r.layer_index == 0)
        .max_by_key(|r| r.epochs)
    {
        finding = finding.epochs(run.first_epoch, run.last_epoch);
    }
    let mut remedies = vec![Remedy::RecordGradients];
    remedies.extend(VANISHING_REMEDIES);
    Some(finding.remedies(&remedies))
}

fn saturation(a: &Analyses<'_>, vanishing_found: bool) -> Option<Finding> {
    // A dead unit's derivative is zero, so it also counts as saturated: report it as dead.
    let dead: Vec<usize> = activity_findings(a, ActivityProblem::Dead)
        .iter()
        .map(|f| f.layer_index)
        .collect();
    let saturated: Vec<&ActivityFinding> = activity_findings(a, ActivityProblem::Saturated)
        .into_iter()
        .filter(|f| !dead.contains(&f.layer_index))
        .collect();
    let first = saturated.first()?;
    let confidence = if vanishing_found { 0.8 } else { 0.6 };
    let first_epoch = saturated
        .iter()
        .map(|f| f.first_epoch)
        .min()
        .unwrap_or(first.first_epoch);
    let mut finding = Finding::new(
        Problem::Saturation,
        Severity::Warning,
        confidence,
        format!(
            "{} layer(s) with most units saturated (derivative under 1% of its maximum)",
            saturated.len()
        ),
    )
    .epochs(first_epoch, a.history.len().saturating_sub(1))
    .layers(saturated.iter().map(|f| f.layer.clone()));
    for f in saturated.iter().take(3) {
        finding = finding.evidence(Evidence::above(
            format!("saturated unit share in {} (median)", f.layer),
            f.median_share,
            f.threshold,
        ));
    }
    Some(finding.remedies(&[
        Remedy::ReluFamilyActivation,
        Remedy::GlorotInitialisation,
        Remedy::Normalisation,
        Remedy::CheckInputs,
    ]))
}

fn learning_rate_too_small(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Option<Finding> {
    if a.constancy.signature != FreezeSignature::AllFrozen || loss.converged || !loss.stalled() {
        return None;
    }
    let config = a.config;
    let largest_update = a
        .constancy
        .layers
        .iter()
        .filter_map(|l| l.median_relative_update)
        .fold(0.0_f64, f64::max);
    if largest_update == 0.0 && !a.available.gradients {
        return Some(weights_never_change(a, loss));
    }
    let gradient_flows = a.available.gradients
        && a.gradients.vanishing.is_none()
        && a.gradients.zero_gradients.iter().all(|z| !z.still_zero)
        && a.gradients.median_first_to_last_ratio.is_some();
    let mut confidence = 0.45;
    if gradient_flows {
        confidence += 0.25;
    }
    if loss.stuck {
        confidence += 0.15;
    }
    let mut finding = Finding::new(
        Problem::LearningRateTooSmall,
        Severity::Warning,
        confidence,
        format!(
            "every layer's weights are frozen (largest median relative update {largest_update:.1e}) \
             while the loss stays put{}",
            if gradient_flows {
                " and the gradient flows: the steps are too small"
            } else {
                ""
            }
        ),
    )
    .layers(a.names.iter().cloned())
    .evidence(Evidence::below(
        "largest per-layer median relative weight update",
        largest_update,
        config.constancy.tolerance,
    ));
    if let Some(improvement) = loss.improvement {
        finding = finding.evidence(Evidence::below(
            "loss improvement since the first epoch (fraction)",
            improvement,
            config.plateau.stuck_fraction,
        ));
    }
    if let (true, Some(ratio)) = (gradient_flows, a.gradients.median_first_to_last_ratio) {
        finding = finding.evidence(Evidence::above(
            "first/last gradient RMS ratio (median)",
            ratio,
            config.gradients.vanishing_ratio,
        ));
    }
    if let Some(p) = loss.plateau_at_end {
        finding = finding.epochs(p.first_epoch, p.last_epoch);
    }
    let mut remedies = vec![Remedy::IncreaseLearningRate, Remedy::Adam];
    if !a.available.gradients {
        remedies.push(Remedy::RecordGradients);
    }
    Some(finding.remedies(&remedies))
}

fn overfitting(a: &Analyses<'_>) -> Option<Finding> {
    let config = a.config;
    let epochs = a.history.epochs();
    let (best_epoch, best) = epochs
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.validation_loss.filter(|v| v.is_finite()).map(|v| (i, v)))
        .min_by(|x, y| x.1.total_cmp(&y.1))?;
    let (last_epoch, last) = epochs
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| e.validation_loss.filter(|v| v.is_finite()).map(|v| (i, v)))?;
    if last_epoch < best_epoch + config.overfitting_patience {
        return None;
    }
    let rise = (last - best) / best.abs().max(f64::MIN_POSITIVE);
    let train_at_best = epochs.get(best_epoch).map(|e| e.loss)?;
    let train_at_last = epochs.get(last_epoch).map(|e| e.loss)?;
    if !(rise >= config.overfitting_rise && train_at_last < train_at_best) {
        return None;
    }
    Some(
        Finding::new(
            Problem::Overfitting,
            Severity::Warning,
            0.7,
            format!(
                "the validation loss rose {:.0}% above its best (epoch {best_epoch}) while the \
                 training loss fell: overfitting, not a gradient problem",
                rise * 100.0
            ),
        )
        .epochs(best_epoch, last_epoch)
        .evidence(Evidence::above(
            "validation loss rise above its best (fraction)",
            rise,
            config.overfitting_rise,
        ))
        .evidence(Evidence::above(
            "epochs since the best validation loss",
            (last_epoch - best_epoch) as f64,
            config.overfitting_patience as f64,
        ))
        .remedies(&[Remedy::EarlyStopping, Remedy::Regularisation]),
    )
}

fn plateau(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Option<Finding> {
    if !loss.stalled() {
        return None;
    }
    let loss_only = !a.available.weights && !a.available.gradients;
    let confidence = if loss_only { 0.3 } else { 0.4 };
    let level = loss.final_level.unwrap_or(f64::NAN);
    let summary = if loss_only {
        format!(
            "the loss stopped improving at {level:.4}: possibly a vanishing gradient; record \
             weights or gradients to confirm"
        )
    } else {
        format!(
            "the loss stopped improving at {level:.4}; the recorded weights and gradients show \
             no cause"
        )
    };
    let mut finding = Finding::new(Problem::Plateau, Severity::Warning, confidence, summary);
    if let Some(p) = loss.plateau_at_end {
        finding = finding
            .epochs(p.first_epoch, p.last_epoch)
            .evidence(Evidence::below(
                "relative loss decrease over the plateau",
                p.relative_improvement,
                a.config.plateau.min_relative_change * p.epochs() as f64
                    / a.config.plateau.window as f64,
            ));
    }
    if let Some(improvement) = loss.improvement {
        finding = finding.evidence(Evidence::new(
            "loss improvement since the first epoch (fraction)",
            improvement,
            a.config.plateau.stuck_fraction,
            true,
        ));
    }
    let remedies: &[Remedy] = if loss_only {
        &[
            Remedy::RecordWeightsOrGradients,
            Remedy::Adam,
            Remedy::IncreaseLearningRate,
        ]
    } else if !a.available.gradients {
        &[
            Remedy::RecordGradients,
            Remedy::Adam,
            Remedy::IncreaseLearningRate,
        ]
    } else {
        &[
            Remedy::IncreaseLearningRate,
            Remedy::Adam,
            Remedy::Normalisation,
        ]
    };
    Some(finding.remedies(remedies))
}

fn converged(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
    let level = loss.final_level.unwrap_or(f64::NAN);
    let mut confidence = 0.8;
    if loss.plateau_at_end.is_some() {
        confidence += 0.1;
    }
    let mut finding = Finding::new(
        Problem::Converged,
        Severity::Info,
        confidence,
        format!("the loss fell to {level:.3e}: the task is solved, small gradients are expected"),
    );
    match (a.config.target_loss, loss.initial) {
        (Some(target), _) => {
            finding = finding.evidence(Evidence::below("final loss", level, target));
        }
        (None, Some(initial)) if initial > 0.0 => {
            finding = finding.evidence(Evidence::below(
                "final loss / first epoch's loss",
                level / initial,
                a.config.converged_fraction,
            ));
        }
        _ => {}
    }
    let last = a.history.len().saturating_sub(1);
    let first = loss.plateau_at_end.map_or(last, |p| p.first_epoch);
    finding
        .epochs(first, last)
        .remedies(&[Remedy::NoActionNeeded])
}

fn healthy(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
    let available = a.available;
    let mut confidence = 0.4;
    if available.weights {
        confidence += 0.2;
    }
    if available.gradients {
        confidence += 0.25;
    }
    if available.activity {
        confidence += 0.1;
    }
    let mut finding = Finding::new(
        Problem::Healthy,
        Severity::Info,
        confidence,
        "no problem found: the loss improves and the recorded evidence is unremarkable",
    );
    if let Some(improvement) = loss.improvement {
        finding = finding.evidence(Evidence::above(
            "loss improvement since the first epoch (fraction)",
            improvement,
            a.config.plateau.stuck_fraction,
        ));
    }
    if let Some(ratio) = a.gradients.median_first_to_last_ratio {
        finding = finding.evidence(Evidence::above(
            "first/last gradient RMS ratio (median)",
            ratio,
            a.config.gradients.vanishing_ratio,
        ));
    }
    if let Some(decay) = a
        .gradients
        .median_decay_factor
        .filter(|_| hidden_layer_count(a) >= a.config.min_hidden_layers)
    {
        finding = finding.evidence(Evidence::above(
            "hidden-layer gradient decay factor per layer",
            decay,
            a.config.decay_factor,
        ));
    }
    finding
}

/// Weights that do not change at all (every relative update exactly zero) while the loss stays
/// put: a tiny learning rate still moves them a little, an exactly zero gradient (dead units, a
/// disconnected layer) or a zero learning rate does not. Without gradients this cannot be told
/// apart, so the confidence is moderate.
fn weights_never_change(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
    let mut finding = Finding::new(
        Problem::DeadUnits,
        Severity::Warning,
        0.5,
        "no layer's weights change at all: the gradient is exactly zero (dead units or a \
         disconnected layer) or the learning rate is zero; record gradients to confirm",
    )
    .layers(a.names.iter().cloned())
    .evidence(Evidence::new(
        "largest per-layer median relative weight update",
        0.0,
        0.0,
        true,
    ));
    if let Some(p) = loss.plateau_at_end {
        finding = finding.epochs(p.first_epoch, p.last_epoch);
    }
    finding.remedies(&[
        Remedy::RecordGradients,
        Remedy::ResetBiases,
        Remedy::LeakyActivation,
        Remedy::IncreaseLearningRate,
    ])
}
