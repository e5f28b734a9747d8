//! Differential diagnosis of a training run: [`diagnose`] weighs what the detectors found and
//! names the most likely problem, with a confidence, the evidence and the remedies.
//!
//! The detectors ([`detect`](crate::detect)) each look at one kind of evidence: the loss curve,
//! the weights' movement, the gradient profile, the units' activity. [`diagnose`] runs them
//! all and weighs what the history holds:
//!
//! - **loss only**: a plateau can only be reported as [`Problem::Plateau`] ("possibly a
//!   vanishing gradient") with a low confidence and the remedy to record weights or gradients;
//! - **weights**: the depth order of frozen layers (early layers frozen while late ones move)
//!   suggests a vanishing gradient with a moderate confidence; every layer frozen with a stuck
//!   loss points to a learning rate that is too small, every layer frozen at a low loss to
//!   convergence;
//! - **gradients** decide: a first/last RMS ratio under the threshold, confirmed by the decay
//!   across the hidden layers (the output layer differs by the loss's own factor);
//! - **activity** adds the causes: saturated units, dead units.
//!
//! Non-finite values, a loss that grows without bound and a converged loss overrule the
//! gradient ratios (an exploding run can look "vanishing" by ratio, and a solved task ends with
//! tiny gradients). Overfitting is reported on its own, never as a gradient problem. The rules
//! and the confidence computation are documented in `docs/heuristics.md`.
//!
//! ```
//! use vanishing_gradient::diagnose::{diagnose, Problem, Remedy};
//! use vanishing_gradient::history::Recorder;
//!
//! # fn main() -> vanishing_gradient::Result<()> {
//! // Six layers: the gradient shrinks 4x per layer towards the input (a sigmoid stack),
//! // the first layers' weights barely move, and the loss stays put.
//! let mut recorder = Recorder::new();
//! let mut weights = vec![vec![0.5_f32; 64]; 6];
//! for epoch in 0..15 {
//!     let mut record = recorder.epoch(0.69 - 0.0001 * epoch as f64);
//!     for depth in 0..6 {
//!         let scale = 0.25_f32.powi(5 - depth as i32) * 0.1;
//!         let gradient = vec![scale; 64];
//!         record
//!             .layer(&format!("dense{depth}"))?
//!             .weights(&weights[depth])?
//!             .gradient(&gradient)?;
//!         // plain SGD with learning rate 0.1
//!         weights[depth].iter_mut().for_each(|w| *w -= 0.1 * scale);
//!     }
//!     record.finish()?;
//! }
//! let diagnosis = diagnose(recorder.history())?;
//! assert_eq!(diagnosis.problem, Problem::VanishingGradient);
//! assert!(diagnosis.has_problem());
//! let finding = &diagnosis.findings[0];
//! assert!(finding.remedies.contains(&Remedy::ReluFamilyActivation));
//! println!("{diagnosis}");
//! # Ok(())
//! # }
//! ```
//!
//! With the loss alone the same run is only a plateau:
//!
//! ```
//! use vanishing_gradient::diagnose::{diagnose, Problem, Remedy};
//! use vanishing_gradient::history::{EpochRecord, TrainingHistory};
//!
//! let history =
//!     TrainingHistory::from_epochs((0..30).map(|e| EpochRecord::new(0.69 - 1e-5 * e as f64)))?;
//! let diagnosis = diagnose(&history)?;
//! assert_eq!(diagnosis.problem, Problem::Plateau);
//! assert!(diagnosis.confidence < 0.5);
//! assert!(diagnosis.findings[0].remedies.contains(&Remedy::RecordWeightsOrGradients));
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```

mod config;
mod display;
mod finding;
mod rules;

pub use config::DiagnoseConfig;
pub use finding::{Comparison, Evidence, Finding, Problem, Remedy, Severity};

use crate::detect::activity::{analyze_activity, ActivityAnalysis};
use crate::detect::constancy::{analyze_constancy, ConstancyAnalysis};
use crate::detect::gradients::{analyze_gradients, GradientAnalysis};
use crate::detect::plateau::{detect_plateaus, PlateauAnalysis};
use crate::error::Result;
use crate::history::TrainingHistory;

/// Which kinds of evidence the history holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EvidenceAvailable {
    /// At least one finite training loss.
    pub loss: bool,
    /// At least one validation loss.
    pub validation_loss: bool,
    /// Relative weight updates for at least one layer (weights recorded in two epochs).
    pub weights: bool,
    /// Gradient statistics for at least one layer.
    pub gradients: bool,
    /// Activity statistics for at least one layer.
    pub activity: bool,
}

/// The result of [`diagnose`]: the most likely problem, how sure, every finding, and the
/// detectors' analyses for programs.
///
/// [`Display`](std::fmt::Display) prints a short report: the headline (problem and
/// confidence), the key evidence with numbers against thresholds, epochs and layers, then the
/// remedies and the other findings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Diagnosis {
    /// The most likely problem (or [`Problem::Healthy`], [`Problem::Converged`],
    /// [`Problem::InsufficientData`]).
    pub problem: Problem,
    /// How sure, in `[0, 1]`: the confidence of the primary finding.
    pub confidence: f64,
    /// Every finding, the primary one first, then by severity and confidence.
    pub findings: Vec<Finding>,
    /// The number of epochs in the history.
    pub epochs: usize,
    /// The layer names, in depth order.
    pub layers: Vec<String>,
    /// Which kinds of evidence the history held.
    pub available: EvidenceAvailable,
    /// The gradient-profile analysis.
    pub gradients: GradientAnalysis,
    /// The weight-constancy analysis.
    pub constancy: ConstancyAnalysis,
    /// The activity analysis.
    pub activity: ActivityAnalysis,
    /// The loss-plateau analysis (of the training loss).
    pub plateau: PlateauAnalysis,
}

impl Diagnosis {
    /// Whether the primary verdict names something to fix (not healthy, not converged, not
    /// "insufficient data"). Meant for exit codes.
    pub fn has_problem(&self) -> bool {
        self.problem.is_problem()
    }

    /// The primary finding (the first one).
    pub fn primary(&self) -> Option<&Finding> {
        self.findings.first()
    }

    /// The findings about `problem`.
    pub fn findings_about(&self, problem: Problem) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.problem == problem)
    }

    /// Whether some finding of at least [`Severity::Warning`] is about `problem`.
    pub fn reports(&self, problem: Problem) -> bool {
        self.findings_about(problem)
            .any(|f| f.severity >= Severity::Warning)
    }
}

/// Diagnoses a history with the default configuration; see [`diagnose_with`] and the
/// [module documentation](self).
///
/// ```
/// use vanishing_gradient::{diagnose, diagnose::Problem, history::Recorder};
///
/// # fn main() -> vanishing_gradient::Result<()> {
/// let mut recorder = Recorder::new();
/// let mut weights = vec![vec![0.1_f32; 100]; 6]; // six layers, input side first
/// for epoch in 0..12 {
///     let mut record = recorder.epoch(0.7 - 0.001 * epoch as f64); // the loss barely moves
///     for (depth, layer) in weights.iter_mut().enumerate() {
///         // the gradient shrinks 5x per layer on its way back to the input
///         let gradient = vec![0.05_f32 * 0.2_f32.powi(5 - depth as i32); 100];
///         record.layer(&format!("dense{depth}"))?.weights(layer)?.gradient(&gradient)?;
///         layer.iter_mut().zip(&gradient).for_each(|(w, g)| *w -= 0.5 * g); // SGD step
///     }
///     record.finish()?;
/// }
/// let diagnosis = diagnose(recorder.history())?;
/// assert_eq!(diagnosis.problem, Problem::VanishingGradient);
/// assert!(diagnosis.has_problem() && diagnosis.confidence > 0.5);
/// println!("{diagnosis}"); // headline, evidence against thresholds, remedies
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// None with the default configuration in practice; the signature matches [`diagnose_with`].
pub fn diagnose(history: &TrainingHistory) -> Result<Diagnosis> {
    diagnose_with(history, &DiagnoseConfig::default())
}

/// Diagnoses a history: runs every detector, weighs their evidence (see the
/// [module documentation](self) and `docs/heuristics.md`) and names the most likely problem.
///
/// Empty, short and non-finite histories give a [`Diagnosis`] that says so
/// ([`Problem::InsufficientData`], [`Problem::NonFinite`]), never an error or a panic. Linear
/// in epochs times layers.
///
/// # Errors
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if the configuration is invalid
/// (see [`DiagnoseConfig::validate`]).
pub fn diagnose_with(history: &TrainingHistory, config: &DiagnoseConfig) -> Result<Diagnosis> {
    config.validate()?;
    let gradients = analyze_gradients(history, &config.gradients)?;
    let constancy = analyze_constancy(history, &config.constancy)?;
    let activity = analyze_activity(history, &config.activity)?;
    let losses = history.losses();
    let plateau = detect_plateaus(&losses, &config.plateau_for(losses.len()))?;
    let available = EvidenceAvailable {
        loss: losses.iter().any(|l| l.is_finite()),
        validation_loss: history.epochs().iter().any(|e| e.validation_loss.is_some()),
        weights: constancy
            .layers
            .iter()
            .any(|l| l.median_relative_update.is_some()),
        gradients: !gradients.recent.is_empty(),
        activity: activity.layers.iter().any(|l| l.epochs_observed > 0),
    };
    let layers: Vec<String> = history
        .layer_names()
        .into_iter()
        .map(String::from)
        .collect();
    let analyses = rules::Analyses {
        history,
        config,
        losses: &losses,
        names: &layers,
        available,
        gradients: &gradients,
        constancy: &constancy,
        activity: &activity,
        plateau: &plateau,
    };
    let findings = rules::weigh(&analyses);
    let (problem, confidence) = findings
        .first()
        .map_or((Problem::Healthy, 0.0), |f| (f.problem, f.confidence));
    Ok(Diagnosis {
        problem,
        confidence,
        findings,
        epochs: history.len(),
        layers,
        available,
        gradients,
        constancy,
        activity,
        plateau,
    })
}
