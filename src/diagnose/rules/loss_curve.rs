//! What the loss curve and the weights' movement say: a learning rate too small, overfitting,
//! a plateau of unknown cause, convergence, health, and too few epochs.

use super::gradient_flow::hidden_layer_count;
use super::*;

pub(super) fn too_few_epochs(a: &Analyses<'_>) -> Finding {
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
pub(super) fn short_for_trend(a: &Analyses<'_>) -> Option<Finding> {
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

pub(super) fn learning_rate_too_small(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Option<Finding> {
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

/// Weights that do not change at all (every relative update exactly zero) while the loss stays
/// put: a tiny learning rate still moves them a little, an exactly zero gradient (dead units, a
/// disconnected layer) or a zero learning rate does not. Without gradients this cannot be told
/// apart, so the confidence is moderate.
pub(super) fn weights_never_change(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
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

pub(super) fn overfitting(a: &Analyses<'_>) -> Option<Finding> {
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

pub(super) fn plateau(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Option<Finding> {
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

pub(super) fn converged(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
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

pub(super) fn healthy(a: &Analyses<'_>, loss: &LossSummary<'_>) -> Finding {
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
