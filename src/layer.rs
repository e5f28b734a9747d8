//! Layers: the [`Layer`] trait and the fully connected [`Dense`] layer.
//!
//! A batch is a matrix with one row per sample. A layer keeps its own forward buffers (sized for
//! the last batch size it saw), so a steady-state training step allocates nothing: the buffers
//! are reallocated only when the batch size changes.
//!
//! Matrix products go through `crate::matmul` (faer's GEMM for `f32` and `f64`). Transposed
//! operands are zero-copy strided views of the same storage, never copies.
//!
//! The element-wise work is arranged in as few passes over memory as possible: the forward pass
//! adds the bias and applies the activation column by column while the column is in cache; the
//! backward pass scales by the activation's derivative, sums the derivative statistics and the
//! bias gradient in one pass per column; the weight statistics (`||dW||^2`, `max |dW|`,
//! `||W||^2`) take one vectorised pass over the weights, or none when the network measures
//! them in the optimizer's pass instead (see [`StatisticsLevel`]).

use std::fmt::Debug;

use nalgebra::{DMatrix, DVector, RealField};
use rand_chacha::ChaCha8Rng;

use crate::activation::{cast, Activation, DerivativeSum};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::lanes;
use crate::matmul::multiply_into;
use crate::parallel_split;
use crate::vectorised::Kernel;
use crate::weight_statistics::{measure_weights, WeightMeasurement};

/// Share of the activation's maximum derivative under which a unit counts as saturated.
pub const SATURATION_THRESHOLD: f64 = 0.01;

/// About how many values one call of the activation gets in the forward and backward passes:
/// whole columns (units) adding up to a few thousand values, so that a block stays in L1 cache
/// between two passes over it, and a short column (a small batch) does not cost a call.
const COLUMN_BLOCK_VALUES: usize = 4096;

/// Columns of `rows` values in one block of about [`COLUMN_BLOCK_VALUES`] (at least one).
fn columns_per_block(rows: usize) -> usize {
    (COLUMN_BLOCK_VALUES / rows.max(1)).max(1)
}

/// Where to split a column-major matrix of `len` values in columns of `rows` for two threads
/// (in columns), or `None` to keep it on one.
fn column_halves(len: usize, rows: usize) -> Option<usize> {
    let columns = len / rows.max(1);
    parallel_split::split_point(len)
        .map(|_| columns / 2)
        .filter(|&middle| middle > 0 && middle < columns)
}

/// The forward pass's element-wise part on whole columns: `pre += bias` per column, then
/// `post = f(pre)`, block by block.
fn forward_columns<T: RealField + Copy>(
    activation: &dyn Activation<T>,
    pre: &mut [T],
    post: &mut [T],
    bias: &[T],
    rows: usize,
) {
    let block_columns = columns_per_block(rows);
    let block = block_columns * rows;
    let blocks = pre
        .chunks_mut(block)
        .zip(post.chunks_mut(block))
        .zip(bias.chunks(block_columns));
    for ((pre, post), bias) in blocks {
        crate::vectorised::run(AddColumnBias {
            values: &mut *pre,
            rows,
            bias,
        });
        activation.value_slice(pre, post);
    }
}

/// The backward pass's element-wise part on whole columns `(pre, post, grad)`: `grad *= f'`
/// with each unit's derivative sums, then the bias gradient, block by block.
fn backward_columns<T: RealField + Copy>(
    activation: &dyn Activation<T>,
    (pre, post, grad): (&[T], &[T], &mut [T]),
    sums: &mut [DerivativeSum<T>],
    bias_grad: &mut [T],
    rows: usize,
) {
    let block_columns = columns_per_block(rows);
    let block = block_columns * rows;
    let blocks = grad
        .chunks_mut(block)
        .zip(pre.chunks(block))
        .zip(post.chunks(block))
        .zip(sums.chunks_mut(block_columns))
        .zip(bias_grad.chunks_mut(block_columns));
    for ((((grad, pre), post), sums), bias_grad) in blocks {
        activation.scale_columns_by_derivative(pre, post, grad, rows, sums);
        crate::vectorised::run(ColumnSums {
            values: grad,
            rows,
            sums: bias_grad,
        });
    }
}

/// A read-only view of one parameter tensor and its gradient.
#[derive(Debug, Clone, Copy)]
pub struct ParameterView<'a, T> {
    /// "weights" or "bias" for [`Dense`].
    pub name: &'static str,
    /// `(rows, columns)`; a bias is `(units, 1)`.
    pub shape: (usize, usize),
    /// The values, column-major.
    pub value: &'a [T],
    /// The gradient of the loss with respect to the values, from the last backward pass.
    pub grad: &'a [T],
}

/// A mutable view of one parameter tensor and its gradient, for optimizers and clipping.
#[derive(Debug)]
pub struct ParameterMut<'a, T> {
    /// "weights" or "bias" for [`Dense`].
    pub name: &'static str,
    /// The values, column-major.
    pub value: &'a mut [T],
    /// The gradient from the last backward pass.
    pub grad: &'a mut [T],
}

/// What a layer's backward pass measured, summed over the batch; the network turns it into a
/// [`LayerReport`](crate::report::LayerReport).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BackwardStats {
    /// `||dL/dW||^2`.
    pub weight_grad_sq: f64,
    /// `max |dL/dW|`.
    pub weight_grad_max_abs: f64,
    /// `||dL/db||^2`.
    pub bias_grad_sq: f64,
    /// `||W||^2`.
    pub weight_sq: f64,
    /// Mean over batch and units of `f'(z)`, divided by the activation's maximum derivative.
    pub mean_derivative_ratio: f64,
    /// Units whose mean derivative over the batch is under [`SATURATION_THRESHOLD`] of the maximum.
    pub saturated_units: usize,
    /// Units whose derivative is exactly zero for every sample of the batch.
    pub dead_units: usize,
}

/// Which of the [`BackwardStats`] a layer's backward pass computes; see
/// [`Layer::set_statistics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatisticsLevel {
    /// Every field of [`BackwardStats`] (the default).
    #[default]
    All,
    /// Every field except the three that need a pass over the weights and their gradient
    /// (`weight_grad_sq`, `weight_grad_max_abs`, `weight_sq`, left at zero).
    /// [`Network::train_step`](crate::network::Network::train_step) uses this and measures
    /// those three in the optimizer's pass over the same memory instead.
    WithoutWeightPass,
    /// None: every field is zero (for
    /// [`Network::set_report`](crate::network::Network::set_report)`(false)`).
    None,
}

/// A differentiable layer in a sequential network.
pub trait Layer<T: RealField + Copy>: Debug + Send {
    /// The layer's name, unique within its network.
    fn name(&self) -> &str;
    /// The activation's name, for reports.
    fn activation_name(&self) -> &'static str;
    /// Columns of the input batch.
    fn input_width(&self) -> usize;
    /// Columns of the output batch (the number of units).
    fn output_width(&self) -> usize;
    /// Number of weights, the bias excluded.
    fn weight_count(&self) -> usize;

    /// Computes the output for `input` (`batch x input_width`), keeps what the backward pass
    /// needs, and returns the output (`batch x output_width`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a wrong input width, [`Error::EmptyBatch`] for no rows.
    fn forward(&mut self, input: &DMatrix<T>) -> Result<&DMatrix<T>>;

    /// The output of the last forward pass.
    fn output(&self) -> &DMatrix<T>;

    /// The backward pass for the batch of the last [`forward`](Layer::forward), which was
    /// called with `input`.
    ///
    /// `output_grad` holds `dL/d output` on entry and is overwritten (with `dL/dz`, the
    /// gradient before the activation). The parameter gradients are stored in the layer; when
    /// `input_grad` is given, `dL/d input` is written into it (it must be `batch x
    /// input_width`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a matrix does not fit the last forward pass.
    fn backward(
        &mut self,
        input: &DMatrix<T>,
        output_grad: &mut DMatrix<T>,
        input_grad: Option<&mut DMatrix<T>>,
    ) -> Result<BackwardStats>;

    /// The parameters and their gradients, by name.
    fn parameters(&self) -> Vec<ParameterView<'_, T>>;

    /// Calls `visit` with each parameter and its gradient, mutably, in a fixed order.
    fn visit_parameters_mut(&mut self, visit: &mut dyn FnMut(ParameterMut<'_, T>));

    /// Chooses which statistics later [`backward`](Layer::backward) calls compute, and returns
    /// whether the layer honours the choice.
    ///
    /// The default ignores it and returns `false`: the layer keeps computing every statistic,
    /// and the network takes them from its backward pass. A layer that returns `true` must
    /// name its weight tensor `"weights"` in
    /// [`visit_parameters_mut`](Layer::visit_parameters_mut), where the network then measures
    /// the weight statistics it skipped.
    fn set_statistics(&mut self, level: StatisticsLevel) -> bool {
        let _ = level;
        false
    }
}

/// A fully connected layer: `y = f(x W + b)`, with `W` of shape `inputs x units`.
#[derive(Debug)]
pub struct Dense<T: RealField + Copy> {
    name: String,
    weights: DMatrix<T>,
    bias: DVector<T>,
    activation: Box<dyn Activation<T>>,
    weight_grad: DMatrix<T>,
    bias_grad: DVector<T>,
    pre_activation: DMatrix<T>,
    output: DMatrix<T>,
    /// Per-unit derivative sums of the last backward pass (scratch, one per unit).
    derivative_sums: Vec<DerivativeSum<T>>,
    statistics: StatisticsLevel,
}

impl<T: RealField + Copy> Dense<T> {
    /// A layer with `inputs` inputs and `units` units, weights drawn by `weight_init` from
    /// `rng`, bias filled by `bias_init`.
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] when `inputs` or `units` is zero; the initialisers' errors.
    pub fn new(
        name: impl Into<String>,
        inputs: usize,
        units: usize,
        activation: Box<dyn Activation<T>>,
        weight_init: &Init,
        bias_init: &Init,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let name = name.into();
        if inputs == 0 || units == 0 {
            return Err(Error::ZeroWidth {
                context: format!("layer {name:?} ({inputs} inputs, {units} units)"),
            });
        }
        let mut weights = DMatrix::zeros(inputs, units);
        weight_init.fill(weights.as_mut_slice(), inputs, units, rng)?;
        let mut bias = DVector::zeros(units);
        bias_init.fill(bias.as_mut_slice(), inputs, units, rng)?;
        Self::from_parameters(name, weights, bias, activation)
    }

    /// A layer from given weights (`inputs x units`) and bias (`units`).
    ///
    /// # Errors
    /// [`Error::ZeroWidth`] for an empty matrix, [`Error::ShapeMismatch`] when the bias length
    /// is not the number of units, [`Error::NonFinite`] for a NaN or infinite parameter.
    pub fn from_parameters(
        name: impl Into<String>,
        weights: DMatrix<T>,
        bias: DVector<T>,
        activation: Box<dyn Activation<T>>,
    ) -> Result<Self> {
        let name = name.into();
        let (inputs, units) = weights.shape();
        if inputs == 0 || units == 0 {
            return Err(Error::ZeroWidth {
                context: format!("layer {name:?} ({inputs} inputs, {units} units)"),
            });
        }
        if bias.len() != units {
            return Err(Error::ShapeMismatch {
                context: format!("bias of layer {name:?}"),
                expected: (units, 1),
                found: (bias.len(), 1),
            });
        }
        crate::error::check_finite(weights.as_slice(), || format!("weights of layer {name:?}"))?;
        crate::error::check_finite(bias.as_slice(), || format!("bias of layer {name:?}"))?;
        Ok(Self {
            name,
            weight_grad: DMatrix::zeros(inputs, units),
            bias_grad: DVector::zeros(units),
            pre_activation: DMatrix::zeros(0, units),
            output: DMatrix::zeros(0, units),
            derivative_sums: vec![
                DerivativeSum {
                    sum: T::zero(),
                    zeros: 0,
                };
                units
            ],
            statistics: StatisticsLevel::All,
            weights,
            bias,
            activation,
        })
    }

    /// The weights, `inputs x units`.
    pub fn weights(&self) -> &DMatrix<T> {
        &self.weights
    }

    /// The bias, one per unit.
    pub fn bias(&self) -> &DVector<T> {
        &self.bias
    }

    /// The weight gradient of the last backward pass.
    pub fn weight_grad(&self) -> &DMatrix<T> {
        &self.weight_grad
    }

    /// The bias gradient of the last backward pass.
    pub fn bias_grad(&self) -> &DVector<T> {
        &self.bias_grad
    }

    /// The activation.
    pub fn activation(&self) -> &dyn Activation<T> {
        self.activation.as_ref()
    }

    fn shape_error(&self, what: &str, expected: (usize, usize), found: (usize, usize)) -> Error {
        Error::ShapeMismatch {
            context: format!("{what} of layer {:?}", self.name),
            expected,
            found,
        }
    }
}

fn to_f64<T: RealField + Copy>(v: T) -> f64 {
    nalgebra::try_convert(v).unwrap_or(f64::NAN)
}

impl<T: RealField + Copy> Layer<T> for Dense<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn activation_name(&self) -> &'static str {
        self.activation.name()
    }

    fn input_width(&self) -> usize {
        self.weights.nrows()
    }

    fn output_width(&self) -> usize {
        self.weights.ncols()
    }

    fn weight_count(&self) -> usize {
        self.weights.len()
    }

    fn forward(&mut self, input: &DMatrix<T>) -> Result<&DMatrix<T>> {
        let (batch, width) = input.shape();
        if width != self.input_width() {
            return Err(self.shape_error("input", (batch, self.input_width()), input.shape()));
        }
        if batch == 0 {
            return Err(Error::EmptyBatch {
                context: format!("input of layer {:?}", self.name),
            });
        }
        let units = self.output_width();
        if self.pre_activation.nrows() != batch {
            self.pre_activation = DMatrix::zeros(batch, units);
            self.output = DMatrix::zeros(batch, units);
        }
        multiply_into(&mut self.pre_activation, input, false, &self.weights, false);
        // Bias and activation over blocks of whole columns that stay in cache between the
        // two passes (one call per block, not per unit: a unit's column can be short); a
        // large matrix in two halves of whole columns side by side.
        let activation = &*self.activation;
        let (pre, post) = (
            self.pre_activation.as_mut_slice(),
            self.output.as_mut_slice(),
        );
        let bias = self.bias.as_slice();
        match column_halves(pre.len(), batch) {
            Some(middle) => {
                let (pre_left, pre_right) = pre.split_at_mut(middle * batch);
                let (post_left, post_right) = post.split_at_mut(middle * batch);
                let (bias_left, bias_right) = bias.split_at(middle);
                parallel_split::join(
                    || forward_columns(activation, pre_left, post_left, bias_left, batch),
                    || forward_columns(activation, pre_right, post_right, bias_right, batch),
                );
            }
            None => forward_columns(activation, pre, post, bias, batch),
        }
        Ok(&self.output)
    }

    fn output(&self) -> &DMatrix<T> {
        &self.output
    }

    fn backward(
        &mut self,
        input: &DMatrix<T>,
        output_grad: &mut DMatrix<T>,
        input_grad: Option<&mut DMatrix<T>>,
    ) -> Result<BackwardStats> {
        let batch = self.pre_activation.nrows();
        let units = self.output_width();
        if batch == 0 {
            return Err(Error::InvalidState(format!(
                "backward before forward in layer {:?}",
                self.name
            )));
        }
        if input.shape() != (batch, self.input_width()) {
            return Err(self.shape_error("input", (batch, self.input_width()), input.shape()));
        }
        if output_grad.shape() != (batch, units) {
            return Err(self.shape_error("output gradient", (batch, units), output_grad.shape()));
        }
        if let Some(g) = &input_grad {
            if g.shape() != input.shape() {
                return Err(self.shape_error("input gradient", input.shape(), g.shape()));
            }
        }

        // dL/dz = dL/dy * f'(z), fused with the activity statistics and the bias gradient.
        let batch_t: T = cast(batch as f64);
        let saturation_floor = self.activation.derivative_max() * cast::<T>(SATURATION_THRESHOLD);
        let mut derivative_total = T::zero();
        let mut saturated_units = 0;
        let mut dead_units = 0;
        let mut bias_grad_sq = T::zero();
        if self.derivative_sums.len() != units {
            self.derivative_sums = vec![
                DerivativeSum {
                    sum: T::zero(),
                    zeros: 0,
                };
                units
            ];
        }
        // Block by block (whole units), while the block is in cache: the derivative, then the
        // bias gradient (the column sums of dL/dz); a large matrix in two halves side by side.
        let activation = &*self.activation;
        let (grad, pre, post) = (
            output_grad.as_mut_slice(),
            self.pre_activation.as_slice(),
            self.output.as_slice(),
        );
        let (sums, bias_grad) = (
            self.derivative_sums.as_mut_slice(),
            self.bias_grad.as_mut_slice(),
        );
        match column_halves(grad.len(), batch) {
            Some(middle) => {
                let values = middle * batch;
                let (grad_left, grad_right) = grad.split_at_mut(values);
                let (pre_left, pre_right) = pre.split_at(values);
                let (post_left, post_right) = post.split_at(values);
                let (sums_left, sums_right) = sums.split_at_mut(middle);
                let (bias_left, bias_right) = bias_grad.split_at_mut(middle);
                parallel_split::join(
                    || {
                        let columns = (pre_left, post_left, grad_left);
                        backward_columns(activation, columns, sums_left, bias_left, batch)
                    },
                    || {
                        let columns = (pre_right, post_right, grad_right);
                        backward_columns(activation, columns, sums_right, bias_right, batch)
                    },
                );
            }
            None => backward_columns(activation, (pre, post, grad), sums, bias_grad, batch),
        }
        // The unit statistics.
        for (sums, &b) in self.derivative_sums.iter().zip(self.bias_grad.iter()) {
            derivative_total += sums.sum;
            if sums.sum / batch_t < saturation_floor {
                saturated_units += 1;
            }
            if sums.zeros == batch {
                dead_units += 1;
            }
            bias_grad_sq += b * b;
        }

        // dL/dW = x^T dL/dz ; dL/dx = dL/dz W^T.
        multiply_into(&mut self.weight_grad, input, true, output_grad, false);
        if let Some(input_grad) = input_grad {
            multiply_into(input_grad, output_grad, false, &self.weights, true);
        }

        let statistics = self.statistics;
        if statistics == StatisticsLevel::None {
            return Ok(BackwardStats::default());
        }
        let weights = if statistics == StatisticsLevel::All {
            measure_weights(self.weight_grad.as_slice(), self.weights.as_slice())
        } else {
            WeightMeasurement::default()
        };
        let max_derivative = to_f64(self.activation.derivative_max());
        Ok(BackwardStats {
            weight_grad_sq: weights.grad_sq,
            weight_grad_max_abs: weights.grad_max_abs,
            bias_grad_sq: to_f64(bias_grad_sq),
            weight_sq: weights.value_sq,
            mean_derivative_ratio: to_f64(derivative_total)
                / ((batch * units) as f64 * max_derivative),
            saturated_units,
            dead_units,
        })
    }

    fn parameters(&self) -> Vec<ParameterView<'_, T>> {
        vec![
            ParameterView {
                name: "weights",
                shape: self.weights.shape(),
                value: self.weights.as_slice(),
                grad: self.weight_grad.as_slice(),
            },
            ParameterView {
                name: "bias",
                shape: (self.bias.len(), 1),
                value: self.bias.as_slice(),
                grad: self.bias_grad.as_slice(),
            },
        ]
    }

    fn visit_parameters_mut(&mut self, visit: &mut dyn FnMut(ParameterMut<'_, T>)) {
        visit(ParameterMut {
            name: "weights",
            value: self.weights.as_mut_slice(),
            grad: self.weight_grad.as_mut_slice(),
        });
        visit(ParameterMut {
            name: "bias",
            value: self.bias.as_mut_slice(),
            grad: self.bias_grad.as_mut_slice(),
        });
    }

    fn set_statistics(&mut self, level: StatisticsLevel) -> bool {
        self.statistics = level;
        true
    }
}

/// Adds `bias[j]` to column `j` (of `rows` values) of a column-major block.
struct AddColumnBias<'a, T> {
    values: &'a mut [T],
    rows: usize,
    bias: &'a [T],
}

impl<T: RealField + Copy> Kernel for AddColumnBias<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        add_column_bias(self.values, self.rows, self.bias);
    }
}

/// The loop of [`AddColumnBias`].
#[inline(always)]
fn add_column_bias<T: RealField + Copy>(values: &mut [T], rows: usize, bias: &[T]) {
    for (column, &b) in values.chunks_exact_mut(rows.max(1)).zip(bias) {
        for z in column {
            *z += b;
        }
    }
}

/// Writes the sum of column `j` (of `rows` values) of a column-major block into `sums[j]`.
struct ColumnSums<'a, T> {
    values: &'a [T],
    rows: usize,
    sums: &'a mut [T],
}

impl<T: RealField + Copy> Kernel for ColumnSums<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        for (column, sum) in self.values.chunks_exact(self.rows.max(1)).zip(self.sums) {
            *sum = lanes::sum_of(column);
        }
    }
}
