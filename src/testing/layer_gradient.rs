//! A finite-difference check of a whole [`Layer`]: its parameter gradients and its input
//! gradient against central differences of a scalar loss.

use std::fmt;

use nalgebra::DMatrix;

use crate::layer::Layer;

/// Where a layer's backpropagated gradient disagrees with the finite difference.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerGradientMismatch {
    /// The parameter's name ("weights", "bias"), or "input" for the input gradient.
    pub parameter: String,
    /// The element's index (column-major).
    pub index: usize,
    /// The backpropagated value.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
    /// `|analytic - numeric| / max(|analytic|, |numeric|, 1e-3)`.
    pub relative_error: f64,
}

impl fmt::Display for LayerGradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradient of {} [{}]: backprop {:e}, finite difference {:e} (relative error {:e})",
            self.parameter, self.index, self.analytic, self.numeric, self.relative_error
        )
    }
}

/// What can stop a layer gradient check.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerGradientError {
    /// The layer itself returned an error (a shape it does not accept, ...).
    Layer(crate::Error),
    /// A gradient element disagrees with its finite difference.
    Mismatch(LayerGradientMismatch),
}

impl fmt::Display for LayerGradientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerGradientError::Layer(e) => write!(f, "the layer failed: {e}"),
            LayerGradientError::Mismatch(m) => m.fmt(f),
        }
    }
}

impl std::error::Error for LayerGradientError {}

impl From<crate::Error> for LayerGradientError {
    fn from(e: crate::Error) -> Self {
        LayerGradientError::Layer(e)
    }
}

/// The fixed weights of the scalar test loss `L = sum_ij c_ij y_ij`: varied, non-zero, and
/// the same on every call.
fn loss_weight(row: usize, column: usize) -> f64 {
    0.5 + ((row * 7 + column * 13 + 1) as f64).sin()
}

fn loss_of<L: Layer<f64> + ?Sized>(
    layer: &mut L,
    input: &DMatrix<f64>,
) -> Result<f64, crate::Error> {
    let output = layer.forward(input)?;
    let mut total = 0.0;
    for (c, column) in output.column_iter().enumerate() {
        for (r, &y) in column.iter().enumerate() {
            total += loss_weight(r, c) * y;
        }
    }
    Ok(total)
}

/// Sets element `index` of the parameter tensor number `slot` (in the layer's visiting order).
fn set_parameter<L: Layer<f64> + ?Sized>(layer: &mut L, slot: usize, index: usize, value: f64) {
    let mut seen = 0;
    layer.visit_parameters_mut(&mut |p| {
        if seen == slot {
            if let Some(v) = p.value.get_mut(index) {
                *v = value;
            }
        }
        seen += 1;
    });
}

/// Checks every parameter gradient of `layer` and its input gradient on the batch `input`
/// against central finite differences of the loss `L = sum_ij c_ij y_ij` (fixed, varied
/// weights `c`), and returns the largest relative error found.
///
/// The relative error of an element is `|analytic - numeric| / max(|analytic|, |numeric|,
/// 1e-3)`: elements near zero are compared absolutely. The step is `1e-5 * max(1, |x|)`.
/// Work in `f64`: `f32` finite differences are good to about 1e-3 at best. Keep
/// pre-activations away from kinks (ReLU at 0), where no finite difference is meaningful.
///
/// # Errors
/// [`LayerGradientError::Mismatch`] for the first element whose relative error exceeds
/// `tolerance`, [`LayerGradientError::Layer`] when the layer fails.
///
/// ```
/// use nalgebra::DMatrix;
/// use vanishing_gradient::activation::Tanh;
/// use vanishing_gradient::init::{seeded_rng, Init};
/// use vanishing_gradient::layer::Dense;
/// use vanishing_gradient::testing::check_layer_gradients;
///
/// let mut rng = seeded_rng(1);
/// let mut layer =
///     Dense::<f64>::new("d", 3, 4, Box::new(Tanh), &Init::glorot_normal(), &Init::Zeros, &mut rng)?;
/// let input = DMatrix::from_fn(5, 3, |r, c| ((r * 3 + c) as f64 * 0.37).cos());
/// let worst = check_layer_gradients(&mut layer, &input, 1e-6).unwrap();
/// assert!(worst < 1e-6);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn check_layer_gradients<L: Layer<f64> + ?Sized>(
    layer: &mut L,
    input: &DMatrix<f64>,
    tolerance: f64,
) -> Result<f64, LayerGradientError> {
    let (rows, columns) = (input.nrows(), layer.output_width());
    layer.forward(input)?;
    let mut output_grad = DMatrix::from_fn(rows, columns, loss_weight);
    let mut input_grad = DMatrix::zeros(rows, input.ncols());
    layer.backward(input, &mut output_grad, Some(&mut input_grad))?;
    let parameters: Vec<(&'static str, Vec<f64>, Vec<f64>)> = layer
        .parameters()
        .iter()
        .map(|p| (p.name, p.value.to_vec(), p.grad.to_vec()))
        .collect();

    let mut worst = 0.0f64;
    let mut compare = |parameter: &str, index: usize, analytic: f64, numeric: f64| {
        let relative_error =
            (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3);
        worst = worst.max(relative_error);
        if relative_error > tolerance || !relative_error.is_finite() {
            return Err(LayerGradientError::Mismatch(LayerGradientMismatch {
                parameter: parameter.to_string(),
                index,
                analytic,
                numeric,
                relative_error,
            }));
        }
        Ok(())
    };

    for (slot, (name, values, grads)) in parameters.iter().enumerate() {
        for (index, (&value, &analytic)) in values.iter().zip(grads).enumerate() {
            let h = 1e-5 * value.abs().max(1.0);
            set_parameter(layer, slot, index, value + h);
            let plus = loss_of(layer, input)?;
            set_parameter(layer, slot, index, value - h);
            let minus = loss_of(layer, input)?;
            set_parameter(layer, slot, index, value);
            compare(name, index, analytic, (plus - minus) / (2.0 * h))?;
        }
    }

    let mut shifted = input.clone();
    for (index, (&value, &analytic)) in input
        .as_slice()
        .iter()
        .zip(input_grad.as_slice())
        .enumerate()
    {
        let h = 1e-5 * value.abs().max(1.0);
        let mut loss_at = |x: f64| {
            if let Some(v) = shifted.as_mut_slice().get_mut(index) {
                *v = x;
            }
            loss_of(layer, &shifted)
        };
        let plus = loss_at(value + h)?;
        let minus = loss_at(value - h)?;
        loss_at(value)?;
        compare("input", index, analytic, (plus - minus) / (2.0 * h))?;
    }
    Ok(worst)
}
