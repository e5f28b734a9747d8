//! The short report people read: [`Display`](fmt::Display) for [`Diagnosis`], [`Finding`],
//! [`Evidence`] and [`Problem`].

use std::fmt;

use super::finding::{Evidence, Finding, Problem, Severity};
use super::Diagnosis;

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::NonFinite => "non-finite values",
            Problem::ExplodingGradient => "exploding gradient",
            Problem::DeadUnits => "dead units",
            Problem::VanishingGradient => "vanishing gradient",
            Problem::Saturation => "saturated units",
            Problem::LearningRateTooSmall => "learning rate too small",
            Problem::Plateau => "loss plateau (cause unknown)",
            Problem::Overfitting => "overfitting",
            Problem::InsufficientData => "insufficient data",
            Problem::Converged => "converged",
            Problem::Healthy => "healthy",
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// A number in a short form: plain for moderate magnitudes, scientific otherwise.
pub(crate) fn number(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || value.fract() == 0.0 && magnitude < 1e6 {
        format!("{value}")
    } else if (1e-2..1e4).contains(&magnitude) {
        format!("{value:.3}")
    } else {
        format!("{value:.2e}")
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {} {} {}",
            self.quantity,
            number(self.value),
            self.comparison.symbol(),
            number(self.threshold)
        )
    }
}

fn layer_list(layers: &[String]) -> String {
    match layers {
        [] => String::new(),
        [one] => one.clone(),
        [first, .., last] if layers.len() > 4 => {
            format!("{first} .. {last} ({} layers)", layers.len())
        }
        _ => layers.join(", "),
    }
}

/// The "epochs a-b; layers x, y" line, if either is known.
fn place(finding: &Finding) -> Option<String> {
    let epochs = finding.epochs.map(|(first, last)| {
        if first == last {
            format!("epoch {first}")
        } else {
            format!("epochs {first}-{last}")
        }
    });
    let layers =
        (!finding.layers.is_empty()).then(|| format!("layers {}", layer_list(&finding.layers)));
    match (epochs, layers) {
        (Some(e), Some(l)) => Some(format!("{e}; {l}")),
        (Some(e), None) => Some(e),
        (None, Some(l)) => Some(l),
        (None, None) => None,
    }
}

impl fmt::Display for Finding {
    /// One finding: `[severity] problem (confidence): summary`, then the evidence, the epochs
    /// and layers, and the remedies, indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[{}] {} ({:.2}): {}",
            self.severity, self.problem, self.confidence, self.summary
        )?;
        for evidence in &self.evidence {
            writeln!(f, "    - {evidence}")?;
        }
        if let Some(place) = place(self) {
            writeln!(f, "    at {place}")?;
        }
        for remedy in &self.remedies {
            writeln!(f, "    -> {remedy}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut recorded = Vec::new();
        let available = self.available;
        for (present, what) in [
            (available.loss, "loss"),
            (available.validation_loss, "validation loss"),
            (available.weights, "weights"),
            (available.gradients, "gradients"),
            (available.activity, "activity"),
        ] {
            if present {
                recorded.push(what);
            }
        }
        let recorded = if recorded.is_empty() {
            "nothing".to_owned()
        } else {
            recorded.join(", ")
        };
        writeln!(
            f,
            "{} (confidence {:.2}) after {} epochs, {} layers; recorded: {recorded}",
            self.problem.to_string().to_uppercase(),
            self.confidence,
            self.epochs,
            self.layers.len(),
        )?;
        let Some((primary, others)) = self.findings.split_first() else {
            return Ok(());
        };
        writeln!(f, "  {}", primary.summary)?;
        for evidence in &primary.evidence {
            writeln!(f, "  - {evidence}")?;
        }
        if let Some(place) = place(primary) {
            writeln!(f, "  at {place}")?;
        }
        if !primary.remedies.is_empty() {
            writeln!(f, "remedies:")?;
            for (i, remedy) in primary.remedies.iter().enumerate() {
                writeln!(f, "  {}. {remedy}", i + 1)?;
            }
        }
        if !others.is_empty() {
            writeln!(f, "other findings:")?;
            for finding in others {
                write!(f, "  {finding}")?;
            }
        }
        Ok(())
    }
}
