//! The per-layer evidence of one backward pass: [`GradientReport`].
//!
//! [`Network::backward`](crate::network::Network::backward) fills a report in the same passes
//! that compute the gradients, so reading it costs nothing extra. Statistics are kept in `f64`
//! whatever the network's scalar, so reports from `f32` and `f64` networks compare directly.
//!
//! Compare layers by the scale-free fields ([`LayerReport::weight_grad_rms`], the ratios), not by
//! raw L2 norms: an L2 norm grows with the square root of the parameter count.

use std::fmt;

/// The built-in activation names, to read a report's activation back as a `&'static str`.
#[cfg(feature = "serde")]
const BUILT_IN_ACTIVATIONS: [&str; 10] = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
    "identity",
];

/// Reads an activation name: a built-in name as itself, any other as `"custom"` (a report
/// cannot hold a name it does not own).
#[cfg(feature = "serde")]
fn activation_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<&'static str, D::Error> {
    let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(BUILT_IN_ACTIVATIONS
        .iter()
        .find(|known| **known == name)
        .copied()
        .unwrap_or("custom"))
}

/// `&'static str`. Spelled through an alias because serde's derive ties every field written
/// `&'static str` to input that lives forever; the name is read by `activation_name` instead.
type StaticName = &'static str;

/// What one backward pass saw in one layer.
///
/// With the `serde` feature it serializes field by field, non-finite numbers as the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"`. The activation name is read back as the built-in
/// activation's name (`"sigmoid"`, `"relu"`, ...); any other name reads back as `"custom"`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LayerReport {
    /// The layer's name ("dense1", ...), unique in its network.
    pub name: String,
    /// Position from the input: 0 is the first layer.
    pub depth: usize,
    /// The activation's name ("sigmoid", ...).
    #[cfg_attr(feature = "serde", serde(deserialize_with = "activation_name"))]
    pub activation: StaticName,
    /// Number of weights (the bias excluded).
    pub weight_count: usize,
    /// Number of units (output width).
    pub units: usize,
    /// L2 norm of the weight gradient.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub weight_grad_l2: f64,
    /// Root mean square of the weight gradient: `weight_grad_l2 / sqrt(weight_count)`.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub weight_grad_rms: f64,
    /// Largest absolute element of the weight gradient.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub weight_grad_max_abs: f64,
    /// L2 norm of the bias gradient.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub bias_grad_l2: f64,
    /// L2 norm of the weights.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub weight_l2: f64,
    /// Mean of `f'(z)` over the batch and the units, divided by the activation's
    /// [`derivative_max`](crate::activation::Activation::derivative_max): 1.0 means every unit
    /// passes the gradient at the largest factor the activation allows, near 0 means saturated.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub mean_derivative_ratio: f64,
    /// Share of units whose mean derivative over the batch is under 1% of the maximum.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub saturated_share: f64,
    /// Share of units whose derivative is exactly zero for every sample of the batch (a dead
    /// ReLU passes no gradient at all).
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub dead_share: f64,
    /// `||W_new - W_old|| / ||W_old||` of the last optimizer step, if a step was taken after
    /// this report's backward pass; `None` before.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::history::json::optional_number")
    )]
    pub update_ratio: Option<f64>,
}

impl LayerReport {
    /// An empty report for a layer, filled by the backward pass.
    pub(crate) fn new(
        name: String,
        depth: usize,
        activation: &'static str,
        weight_count: usize,
        units: usize,
    ) -> Self {
        Self {
            name,
            depth,
            activation,
            weight_count,
            units,
            weight_grad_l2: 0.0,
            weight_grad_rms: 0.0,
            weight_grad_max_abs: 0.0,
            bias_grad_l2: 0.0,
            weight_l2: 0.0,
            mean_derivative_ratio: 0.0,
            saturated_share: 0.0,
            dead_share: 0.0,
            update_ratio: None,
        }
    }

    /// Whether every statistic is finite (a NaN or infinite gradient makes it false).
    pub fn is_finite(&self) -> bool {
        [
            self.weight_grad_l2,
            self.weight_grad_rms,
            self.weight_grad_max_abs,
            self.bias_grad_l2,
            self.weight_l2,
            self.mean_derivative_ratio,
        ]
        .iter()
        .all(|v| v.is_finite())
            && self.update_ratio.is_none_or(f64::is_finite)
    }
}

/// The loss and the per-layer statistics of one backward pass, layers in depth order.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct GradientReport {
    /// The batch loss.
    #[cfg_attr(feature = "serde", serde(with = "crate::history::json::number"))]
    pub loss: f64,
    /// Rows in the batch.
    pub batch_size: usize,
    /// One entry per layer, the input side first.
    pub layers: Vec<LayerReport>,
}

impl GradientReport {
    /// The ratio of the first layer's weight-gradient RMS to the last layer's: well under 1 in
    /// a network whose gradient vanishes towards the input. `None` for fewer than two layers or
    /// a zero last-layer gradient.
    pub fn first_to_last_rms_ratio(&self) -> Option<f64> {
        let first = self.layers.first()?;
        let last = self.layers.last()?;
        if self.layers.len() < 2 || last.weight_grad_rms == 0.0 {
            return None;
        }
        Some(first.weight_grad_rms / last.weight_grad_rms)
    }

    /// The global L2 norm of every weight and bias gradient.
    pub fn global_grad_norm(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| l.weight_grad_l2 * l.weight_grad_l2 + l.bias_grad_l2 * l.bias_grad_l2)
            .sum::<f64>()
            .sqrt()
    }

    /// Whether the loss and every layer's statistics are finite.
    pub fn is_finite(&self) -> bool {
        self.loss.is_finite() && self.layers.iter().all(LayerReport::is_finite)
    }
}

impl fmt::Display for GradientReport {
    /// A table: one line per layer with gradient RMS, weight norm, derivative ratio,
    /// saturated and dead shares and update ratio.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "loss {:.6} (batch {})", self.loss, self.batch_size)?;
        writeln!(
            f,
            "{:<12} {:<10} {:>11} {:>11} {:>9} {:>7} {:>7} {:>11}",
            "layer", "activation", "grad rms", "|W|", "f'/max", "sat", "dead", "update"
        )?;
        for l in &self.layers {
            let update = l
                .update_ratio
                .map_or_else(|| "-".to_string(), |u| format!("{u:.3e}"));
            writeln!(
                f,
                "{:<12} {:<10} {:>11.3e} {:>11.3e} {:>9.3} {:>6.1}% {:>6.1}% {:>11}",
                l.name,
                l.activation,
                l.weight_grad_rms,
                l.weight_l2,
                l.mean_derivative_ratio,
                100.0 * l.saturated_share,
                100.0 * l.dead_share,
                update
            )?;
        }
        Ok(())
    }
}
