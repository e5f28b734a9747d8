//! Loss functions: mean squared error, binary cross-entropy and softmax cross-entropy, both
//! from logits.
//!
//! A [`Loss`] compares the network's output (a batch, one row per sample) with a target of the
//! same shape and gives the loss and its gradient with respect to the output. Targets are
//! matrices for every loss: real values for MSE, 0/1 (or probabilities) for binary
//! cross-entropy, one-hot rows (or probability rows) for softmax cross-entropy; [`one_hot`]
//! builds them from class labels.
//!
//! Every loss is a mean (over all elements, or over the batch for softmax cross-entropy), so
//! its value does not grow with the batch size. The cross-entropies take logits, never
//! probabilities, and are computed in forms that stay exact for logits of `+-1000`.
//! [`Loss::loss_and_gradient`] allocates nothing when the gradient buffer already has the
//! output's shape. Non-finite outputs (NaN, infinity) are not rejected: they give a non-finite
//! loss, which is what a diagnosis of an exploding run needs to see.
//!
//! ```
//! use nalgebra::DMatrix;
//! use vanishing_gradient::loss::{one_hot, Loss, SoftmaxCrossEntropy};
//!
//! // Three samples, two classes; the logits favour the right class in rows 0 and 2.
//! let logits = DMatrix::from_row_slice(3, 2, &[2.0_f64, -1.0, 0.5, 0.5, -3.0, 4.0]);
//! let target = one_hot(&[0, 1, 1], 2)?;
//! let mut gradient = DMatrix::zeros(3, 2);
//! let loss = SoftmaxCrossEntropy.loss_and_gradient(&logits, &target, &mut gradient)?;
//! assert!(loss > 0.0 && loss < 2.0_f64.ln());
//! // Each gradient row sums to zero for one-hot targets.
//! for row in gradient.row_iter() {
//!     assert!(row.sum().abs() < 1e-12);
//! }
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```

use std::fmt::Debug;

use nalgebra::{DMatrix, RealField};

use crate::activation::cast;
use crate::error::{Error, Result};

/// A loss over a batch: output and target are `batch x outputs` matrices of the same shape.
pub trait Loss<T: RealField + Copy>: Debug + Send + Sync {
    /// A short name for reports ("mse", ...).
    fn name(&self) -> &'static str;

    /// The loss of `output` against `target`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ,
    /// [`Error::EmptyBatch`] for zero rows, [`Error::ZeroWidth`] for zero columns.
    fn loss(&self, output: &DMatrix<T>, target: &DMatrix<T>) -> Result<T>;

    /// The loss, and `dL/d output` written into `gradient` (resized to the output's shape if
    /// it differs, which allocates; the network passes a buffer of the right shape).
    ///
    /// # Errors
    /// As [`Loss::loss`].
    fn loss_and_gradient(
        &self,
        output: &DMatrix<T>,
        target: &DMatrix<T>,
        gradient: &mut DMatrix<T>,
    ) -> Result<T>;
}

/// The context string of the shape and batch errors raised by every loss.
const CONTEXT: &str = "loss target";

/// Checks that `target` has the shape of `output` and that the batch is not empty, and returns
/// the number of rows and columns.
fn check_shapes<T: RealField + Copy>(
    output: &DMatrix<T>,
    target: &DMatrix<T>,
) -> Result<(usize, usize)> {
    if output.shape() != target.shape() {
        return Err(Error::ShapeMismatch {
            context: CONTEXT.to_string(),
            expected: output.shape(),
            found: target.shape(),
        });
    }
    let (rows, columns) = output.shape();
    if rows == 0 {
        return Err(Error::EmptyBatch {
            context: CONTEXT.to_string(),
        });
    }
    if columns == 0 {
        return Err(Error::ZeroWidth {
            context: "loss output".to_string(),
        });
    }
    Ok((rows, columns))
}

/// Gives `gradient` the shape `(rows, columns)`, allocating only if its shape differs.
fn shape_gradient<T: RealField + Copy>(gradient: &mut DMatrix<T>, rows: usize, columns: usize) {
    if gradient.shape() != (rows, columns) {
        *gradient = DMatrix::zeros(rows, columns);
    }
}

/// `1 / n` in the scalar type.
fn reciprocal_count<T: RealField + Copy>(n: usize) -> T {
    // Counts are far below 2^53, so the conversion through f64 is exact.
    T::one() / cast::<T>(n as f64)
}

/// Mean squared error: the mean over all `B x k` elements of `(y - t)^2`.
///
/// The gradient is `2 (y - t) / (B k)`.
///
/// ```
/// use nalgebra::DMatrix;
/// use vanishing_gradient::loss::{Loss, Mse};
///
/// let output = DMatrix::from_row_slice(1, 2, &[1.0_f64, 2.0]);
/// let target = DMatrix::zeros(1, 2);
/// let mut gradient = DMatrix::zeros(1, 2);
/// let loss = Mse.loss_and_gradient(&output, &target, &mut gradient)?;
/// assert_eq!(loss, 2.5); // (1 + 4) / 2
/// assert_eq!(gradient, DMatrix::from_row_slice(1, 2, &[1.0, 2.0])); // 2 (y - t) / 2
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mse;

impl<T: RealField + Copy> Loss<T> for Mse {
    fn name(&self) -> &'static str {
        "mse"
    }

    fn loss(&self, output: &DMatrix<T>, target: &DMatrix<T>) -> Result<T> {
        let (rows, columns) = check_shapes(output, target)?;
        let mut sum = T::zero();
        for (&y, &t) in output.iter().zip(target.iter()) {
            let difference = y - t;
            sum += difference * difference;
        }
        Ok(sum * reciprocal_count::<T>(rows * columns))
    }

    fn loss_and_gradient(
        &self,
        output: &DMatrix<T>,
        target: &DMatrix<T>,
        gradient: &mut DMatrix<T>,
    ) -> Result<T> {
        let (rows, columns) = check_shapes(output, target)?;
        shape_gradient(gradient, rows, columns);
        let inverse_count = reciprocal_count::<T>(rows * columns);
        let gradient_scale = (T::one() + T::one()) * inverse_count;
        let mut sum = T::zero();
        for ((g, &y), &t) in gradient.iter_mut().zip(output.iter()).zip(target.iter()) {
            let difference = y - t;
            sum += difference * difference;
            *g = difference * gradient_scale;
        }
        Ok(sum * inverse_count)
    }
}

/// Binary cross-entropy from logits: the mean over all `B x k` elements of
/// `-t ln s(z) - (1 - t) ln(1 - s(z))`, with `s` the logistic sigmoid and `z` the output
/// (a logit, not a probability).
///
/// Each element is computed in the stable form `max(z, 0) - z t + ln(1 + e^-|z|)`, so a logit of
/// `1000` with target `0` costs exactly `1000`, never infinity or NaN. Targets are usually 0 or
/// 1; probabilities in between are allowed. The gradient is `(s(z) - t) / (B k)`.
///
/// ```
/// use nalgebra::DMatrix;
/// use vanishing_gradient::loss::{BinaryCrossEntropy, Loss};
///
/// let logits = DMatrix::from_row_slice(2, 1, &[0.0_f64, 1000.0]);
/// let target = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
/// let loss = BinaryCrossEntropy.loss(&logits, &target)?;
/// assert!((loss - (2.0_f64.ln() + 1000.0) / 2.0).abs() < 1e-12);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryCrossEntropy;

/// The stable binary cross-entropy of one logit `z` against target `t`, and `e^-|z|`.
#[inline]
fn binary_cross_entropy_element<T: RealField + Copy>(z: T, t: T) -> (T, T) {
    let decay = (-z.abs()).exp();
    let loss = z.max(T::zero()) - z * t + decay.ln_1p();
    (loss, decay)
}

impl<T: RealField + Copy> Loss<T> for BinaryCrossEntropy {
    fn name(&self) -> &'static str {
        "binary_cross_entropy"
    }

    fn loss(&self, output: &DMatrix<T>, target: &DMatrix<T>) -> Result<T> {
        let (rows, columns) = check_shapes(output, target)?;
        let mut sum = T::zero();
        for (&z, &t) in output.iter().zip(target.iter()) {
            sum += binary_cross_entropy_element(z, t).0;
        }
        Ok(sum * reciprocal_count::<T>(rows * columns))
    }

    fn loss_and_gradient(
        &self,
        output: &DMatrix<T>,
        target: &DMatrix<T>,
        gradient: &mut DMatrix<T>,
    ) -> Result<T> {
        let (rows, columns) = check_shapes(output, target)?;
        shape_gradient(gradient, rows, columns);
        let inverse_count = reciprocal_count::<T>(rows * columns);
        let mut sum = T::zero();
        for ((g, &z), &t) in gradient.iter_mut().zip(output.iter()).zip(target.iter()) {
            let (loss, decay) = binary_cross_entropy_element(z, t);
            sum += loss;
            // The sigmoid from the same exponential: 1 / (1 + e^-z) for z >= 0,
            // e^z / (1 + e^z) otherwise; both forms only ever divide by a number in [1, 2].
            let sigmoid = if z >= T::zero() {
                T::one() / (T::one() + decay)
            } else {
                decay / (T::one() + decay)
            };
            *g = (sigmoid - t) * inverse_count;
        }
        Ok(sum * inverse_count)
    }
}

/// Softmax cross-entropy from logits: the mean over the batch of
/// `-sum_j t_j ln softmax(z)_j`, with `z` a row of the output (logits) and `t` the matching row
/// of the target.
///
/// Target rows are one-hot (see [`one_hot`]) or probability rows. The log-softmax is computed
/// through the log-sum-exp with the row maximum subtracted, so logits of `+-1000` give a finite,
/// exact loss. The gradient is `(softmax(z) sum_j t_j - t) / B`, which is the familiar
/// `(softmax(z) - t) / B` when the target rows sum to one (the exact gradient is used so that it
/// stays the derivative of the loss for any target).
///
/// ```
/// use nalgebra::DMatrix;
/// use vanishing_gradient::loss::{one_hot, Loss, SoftmaxCrossEntropy};
///
/// // Uniform logits over 4 classes: the loss is ln 4 whatever the label.
/// let logits = DMatrix::<f64>::zeros(2, 4);
/// let target = one_hot(&[3, 0], 4)?;
/// let mut gradient = DMatrix::zeros(2, 4);
/// let loss = SoftmaxCrossEntropy.loss_and_gradient(&logits, &target, &mut gradient)?;
/// assert!((loss - 4.0_f64.ln()).abs() < 1e-12);
/// // (0.25 - 1) / 2 for the labelled class, 0.25 / 2 for the others.
/// assert!((gradient[(0, 3)] + 0.375).abs() < 1e-12);
/// assert!((gradient[(0, 0)] - 0.125).abs() < 1e-12);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftmaxCrossEntropy;

impl SoftmaxCrossEntropy {
    /// The summed (not yet averaged) loss over the batch; writes the unscaled gradient
    /// `softmax(z) sum_j t_j - t` into `gradient` when one is given (already of the right
    /// shape).
    ///
    /// Rows are strided in column-major storage; the row views iterate them without copying.
    fn summed_loss<T: RealField + Copy>(
        output: &DMatrix<T>,
        target: &DMatrix<T>,
        mut gradient: Option<&mut DMatrix<T>>,
        gradient_scale: T,
    ) -> T {
        let mut total = T::zero();
        for row in 0..output.nrows() {
            let logits = output.row(row);
            let targets = target.row(row);
            // Row maximum; a NaN logit never wins the comparison and then shows up in the
            // loss itself.
            let mut maximum = T::min_value().unwrap_or(-T::one() / T::zero());
            for &z in logits.iter() {
                if z > maximum {
                    maximum = z;
                }
            }
            let mut exponential_sum = T::zero();
            let mut target_sum = T::zero();
            let mut weighted_shifted_logits = T::zero();
            match gradient.as_deref_mut() {
                Some(gradient) => {
                    for ((g, &z), &t) in gradient
                        .row_mut(row)
                        .iter_mut()
                        .zip(logits.iter())
                        .zip(targets.iter())
                    {
                        let e = (z - maximum).exp();
                        *g = e;
                        exponential_sum += e;
                        target_sum += t;
                        weighted_shifted_logits += t * (z - maximum);
                    }
                    let scale = target_sum / exponential_sum;
                    for (g, &t) in gradient.row_mut(row).iter_mut().zip(targets.iter()) {
                        *g = (*g * scale - t) * gradient_scale;
                    }
                }
                None => {
                    for (&z, &t) in logits.iter().zip(targets.iter()) {
                        exponential_sum += (z - maximum).exp();
                        target_sum += t;
                        weighted_shifted_logits += t * (z - maximum);
                    }
                }
            }
            // -sum_j t_j (z_j - max - ln sum_i e^(z_i - max)).
            total += target_sum * exponential_sum.ln() - weighted_shifted_logits;
        }
        total
    }
}

impl<T: RealField + Copy> Loss<T> for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }

    fn loss(&self, output: &DMatrix<T>, target: &DMatrix<T>) -> Result<T> {
        let (rows, _) = check_shapes(output, target)?;
        let inverse_rows = reciprocal_count::<T>(rows);
        Ok(Self::summed_loss(output, target, None, inverse_rows) * inverse_rows)
    }

    fn loss_and_gradient(
        &self,
        output: &DMatrix<T>,
        target: &DMatrix<T>,
        gradient: &mut DMatrix<T>,
    ) -> Result<T> {
        let (rows, columns) = check_shapes(output, target)?;
        shape_gradient(gradient, rows, columns);
        let inverse_rows = reciprocal_count::<T>(rows);
        Ok(Self::summed_loss(output, target, Some(gradient), inverse_rows) * inverse_rows)
    }
}

/// One-hot target rows: a `labels.len() x classes` matrix with a one in column `labels[i]` of
/// row `i` and zeros elsewhere, for [`SoftmaxCrossEntropy`].
///
/// An empty `labels` gives a matrix with no rows (which every loss rejects as an empty batch).
///
/// # Errors
/// [`Error::InvalidArgument`] when `classes` is zero or a label is `>= classes`.
///
/// ```
/// use vanishing_gradient::loss::one_hot;
///
/// let target = one_hot::<f32>(&[2, 0], 3)?;
/// assert_eq!(target.row(0).iter().copied().collect::<Vec<_>>(), vec![0.0, 0.0, 1.0]);
/// assert_eq!(target.row(1).iter().copied().collect::<Vec<_>>(), vec![1.0, 0.0, 0.0]);
/// assert!(one_hot::<f32>(&[3], 3).is_err());
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn one_hot<T: RealField + Copy>(labels: &[usize], classes: usize) -> Result<DMatrix<T>> {
    if classes == 0 {
        return Err(Error::InvalidArgument {
            name: "classes",
            reason: "one-hot targets need at least one class, got 0".to_string(),
        });
    }
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| label >= classes)
    {
        return Err(Error::InvalidArgument {
            name: "labels",
            reason: format!(
                "label {label} at index {index} is not below the class count {classes}"
            ),
        });
    }
    Ok(DMatrix::from_fn(labels.len(), classes, |row, column| {
        if labels.get(row) == Some(&column) {
            T::one()
        } else {
            T::zero()
        }
    }))
}
