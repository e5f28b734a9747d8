//! Gradient flow: dead units, a vanishing gradient (from gradients, or from weights alone),
//! saturated units.

use super::*;

pub(super) fn dead_units(a: &Analyses<'_>) -> Option<Finding> {
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
pub(super) fn weight_signature(a: &Analyses<'_>) -> (bool, Vec<Evidence>) {
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

pub(super) fn hidden_layer_count(a: &Analyses<'_>) -> usize {
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

pub(super) fn vanishing(
    a: &Analyses<'_>,
    loss: &LossSummary<'_>,
    diverged: bool,
) -> Option<Finding> {
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

pub(super) fn saturation(a: &Analyses<'_>, vanishing_found: bool) -> Option<Finding> {
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
