//! Divergence: non-finite values and a loss or gradient that grows without bound.

use super::*;

pub(super) fn quantity_name(quantity: Quantity) -> &'static str {
    match quantity {
        Quantity::Loss => "loss",
        Quantity::ValidationLoss => "validation loss",
        Quantity::Weights => "weights",
        Quantity::Gradient => "gradient",
        Quantity::Activity => "activity",
    }
}

pub(super) fn non_finite(a: &Analyses<'_>) -> Option<Finding> {
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

pub(super) fn exploding(a: &Analyses<'_>, so_far: &[Finding]) -> Option<Finding> {
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
