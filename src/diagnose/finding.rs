//! What a diagnosis reports: the [`Problem`]s, the [`Finding`]s with their [`Evidence`], and
//! the [`Remedy`]s.

/// A problem (or a verdict of no problem) that a diagnosis can name.
///
/// The enum is `#[non_exhaustive]`: match it with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Problem {
    /// NaN or infinite values were recorded (loss, weights, gradients or activity).
    NonFinite,
    /// The gradient (or the loss) grows without bound.
    ExplodingGradient,
    /// Units (ReLU family) that never activate: their gradient is exactly zero.
    DeadUnits,
    /// The gradient shrinks on its way back to the input layers: the early layers stop
    /// learning.
    VanishingGradient,
    /// Most units of a layer sit where the activation's derivative is under 1% of its maximum.
    Saturation,
    /// The gradient flows, but every layer's weights barely move and the loss stays put.
    LearningRateTooSmall,
    /// The loss stopped improving well above convergence, cause not established (record
    /// weights or gradients to tell).
    Plateau,
    /// The validation loss rises while the training loss falls. Not a gradient problem.
    Overfitting,
    /// Too few epochs for a verdict.
    InsufficientData,
    /// The loss fell to a small fraction of its start: the task is solved. Tiny gradients are
    /// expected here.
    Converged,
    /// No problem found.
    Healthy,
}

impl Problem {
    /// Whether this names something to fix (everything except [`Problem::Healthy`],
    /// [`Problem::Converged`] and [`Problem::InsufficientData`]).
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            Problem::Healthy | Problem::Converged | Problem::InsufficientData
        )
    }

    /// Rank among equally confident findings: lower comes first. A non-finite value outranks
    /// every other finding, a cause (dead units, vanishing gradient) outranks its symptom (a
    /// plateau).
    pub(crate) fn priority(self) -> u8 {
        match self {
            Problem::NonFinite => 0,
            Problem::ExplodingGradient => 1,
            Problem::DeadUnits => 2,
            Problem::VanishingGradient => 3,
            Problem::Saturation => 4,
            Problem::LearningRateTooSmall => 5,
            Problem::Overfitting => 6,
            Problem::Plateau => 7,
            Problem::Converged => 8,
            Problem::InsufficientData => 9,
            Problem::Healthy => 10,
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Severity {
    /// Context: a note, a verdict of no problem, or evidence that was looked at and ruled out.
    Info,
    /// Training is impaired.
    Warning,
    /// Training is broken (non-finite values, divergence, dead network).
    Critical,
}

/// How a measured value compares with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Comparison {
    /// `value < threshold`
    Below,
    /// `value <= threshold`
    AtMost,
    /// `value > threshold`
    Above,
    /// `value >= threshold`
    AtLeast,
}

impl Comparison {
    /// The comparison of `value` with `threshold` that holds, choosing between strict and
    /// non-strict forms as `prefer_below` says which side is reported.
    pub(crate) fn of(value: f64, threshold: f64, prefer_below: bool) -> Self {
        match (prefer_below, value < threshold, value > threshold) {
            (true, true, _) => Comparison::Below,
            (true, false, false) => Comparison::AtMost,
            (_, _, true) => Comparison::Above,
            _ => Comparison::AtLeast,
        }
    }

    /// The operator: `<`, `<=`, `>` or `>=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
        }
    }

    /// Whether `value` compared with `threshold` this way holds (false for NaN).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
        }
    }
}

/// One measured number behind a finding, and the threshold it was compared with.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Evidence {
    /// What was measured ("first/last gradient RMS ratio", ...).
    pub quantity: String,
    /// The measured value.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// How `value` compares with `threshold`.
    pub comparison: Comparison,
}

impl Evidence {
    /// Evidence with the comparison that holds between `value` and `threshold` (`<` or `<=`
    /// when `value` is not above it and `prefer_below`, otherwise `>` or `>=`).
    pub(crate) fn new(
        quantity: impl Into<String>,
        value: f64,
        threshold: f64,
        prefer_below: bool,
    ) -> Self {
        Self {
            quantity: quantity.into(),
            value,
            threshold,
            comparison: Comparison::of(value, threshold, prefer_below),
        }
    }

    /// Evidence that `value < threshold` (or `<=` / `>` / `>=` if that is what holds).
    pub(crate) fn below(quantity: impl Into<String>, value: f64, threshold: f64) -> Self {
        Self::new(quantity, value, threshold, true)
    }

    /// Evidence that `value > threshold` (or `>=` / `<` / `<=` if that is what holds).
    pub(crate) fn above(quantity: impl Into<String>, value: f64, threshold: f64) -> Self {
        Self::new(quantity, value, threshold, false)
    }
}

/// A concrete change to try.
///
/// The enum is `#[non_exhaustive]`; its [`Display`](std::fmt::Display) is one imperative
/// sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Remedy {
    /// Use a ReLU-family activation (ReLU, LeakyReLU, GELU) in the hidden layers.
    ReluFamilyActivation,
    /// Use a leaky activation (LeakyReLU, ELU) that never outputs an exactly zero gradient.
    LeakyActivation,
    /// He (Kaiming) initialisation for ReLU-family layers.
    HeInitialisation,
    /// Glorot (Xavier) initialisation for sigmoid/tanh layers.
    GlorotInitialisation,
    /// Start the biases at zero or a small positive value.
    ResetBiases,
    /// Batch or layer normalisation between the layers.
    Normalisation,
    /// Residual (skip) connections around blocks of layers.
    ResidualConnections,
    /// An adaptive optimizer (Adam), which rescales each parameter's step.
    Adam,
    /// Raise the learning rate (try 10x).
    IncreaseLearningRate,
    /// Lower the learning rate (try 10x smaller).
    DecreaseLearningRate,
    /// Clip the gradient norm (Pascanu et al. 2013).
    GradientClipping,
    /// Check the inputs and targets for NaN or infinite values and for extreme scales.
    CheckInputs,
    /// Record the per-layer weights or gradients too, so the cause can be told.
    RecordWeightsOrGradients,
    /// Record the per-layer gradients too, to confirm.
    RecordGradients,
    /// Train (and record) this many more epochs before judging.
    TrainLonger {
        /// How many more epochs are needed at least.
        epochs: usize,
    },
    /// Stop at the best validation loss (early stopping).
    EarlyStopping,
    /// Regularise: weight decay, dropout, more data or augmentation.
    Regularisation,
    /// Nothing to fix: stop training, or lower the learning rate to fine-tune.
    NoActionNeeded,
}

impl std::fmt::Display for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Remedy::ReluFamilyActivation => {
                "use a ReLU-family activation (ReLU, LeakyReLU, GELU) in the hidden layers"
            }
            Remedy::LeakyActivation => {
                "use a leaky activation (LeakyReLU, ELU) that keeps a gradient for negative inputs"
            }
            Remedy::HeInitialisation => "initialise ReLU-family layers with He (Kaiming) init",
            Remedy::GlorotInitialisation => {
                "initialise sigmoid/tanh layers with Glorot (Xavier) init"
            }
            Remedy::ResetBiases => "start the biases at zero or a small positive value",
            Remedy::Normalisation => "add batch or layer normalisation between layers",
            Remedy::ResidualConnections => "add residual (skip) connections around layer blocks",
            Remedy::Adam => "use an adaptive optimizer such as Adam",
            Remedy::IncreaseLearningRate => "increase the learning rate (try 10x)",
            Remedy::DecreaseLearningRate => "decrease the learning rate (try 10x smaller)",
            Remedy::GradientClipping => "clip the gradient norm (e.g. to 1.0)",
            Remedy::CheckInputs => {
                "check inputs and targets for NaN, infinities and extreme scales"
            }
            Remedy::RecordWeightsOrGradients => {
                "record per-layer weights or gradients to confirm the cause"
            }
            Remedy::RecordGradients => "record per-layer gradients to confirm",
            Remedy::TrainLonger { epochs } => {
                return write!(f, "train and record at least {epochs} more epoch(s)");
            }
            Remedy::EarlyStopping => "stop at the best validation loss (early stopping)",
            Remedy::Regularisation => {
                "regularise: weight decay, dropout, more data or augmentation"
            }
            Remedy::NoActionNeeded => {
                "nothing to fix: stop training or lower the learning rate to fine-tune"
            }
        };
        f.write_str(text)
    }
}

/// One finding of a diagnosis: what, how bad, how sure, where, why, and what to do.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Finding {
    /// The problem (or verdict) this finding is about.
    pub problem: Problem,
    /// How much it matters.
    pub severity: Severity,
    /// How sure the diagnosis is, in `[0, 1]` (see `docs/heuristics.md` for the rules).
    pub confidence: f64,
    /// One sentence for people.
    pub summary: String,
    /// The first and last epoch concerned, if the finding is tied to epochs.
    pub epochs: Option<(usize, usize)>,
    /// The layers concerned, by name, in depth order.
    pub layers: Vec<String>,
    /// The numbers behind the finding, each against its threshold.
    pub evidence: Vec<Evidence>,
    /// What to try, most promising first.
    pub remedies: Vec<Remedy>,
}

impl Finding {
    /// A finding with no epochs, layers, evidence or remedies yet.
    pub(crate) fn new(
        problem: Problem,
        severity: Severity,
        confidence: f64,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            problem,
            severity,
            confidence: clamp_confidence(confidence),
            summary: summary.into(),
            epochs: None,
            layers: Vec::new(),
            evidence: Vec::new(),
            remedies: Vec::new(),
        }
    }

    pub(crate) fn epochs(mut self, first: usize, last: usize) -> Self {
        self.epochs = Some((first.min(last), first.max(last)));
        self
    }

    pub(crate) fn layers(mut self, layers: impl IntoIterator<Item = String>) -> Self {
        self.layers.extend(layers);
        self
    }

    pub(crate) fn evidence(mut self, evidence: Evidence) -> Self {
        self.evidence.push(evidence);
        self
    }

    pub(crate) fn remedies(mut self, remedies: &[Remedy]) -> Self {
        for remedy in remedies {
            if !self.remedies.contains(remedy) {
                self.remedies.push(*remedy);
            }
        }
        self
    }
}

/// Clamps to `[0, 1]`; NaN becomes 0.
pub(crate) fn clamp_confidence(confidence: f64) -> f64 {
    if confidence.is_nan() {
        0.0
    } else {
        confidence.clamp(0.0, 1.0)
    }
}
