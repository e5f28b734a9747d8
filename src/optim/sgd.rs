//! Plain stochastic gradient descent.

use nalgebra::RealField;

use super::{accept_learning_rate, validate_learning_rate, Optimizer, UpdateMeasurement};
use crate::activation::cast;
use crate::error::Result;
use crate::lanes::{self, Lanes};
use crate::parallel_split;
use crate::vectorised::Kernel;
use crate::weight_statistics::measure_weights_kernel;

/// Stochastic gradient descent: `p -= lr g`. Keeps no state, so one `Sgd` serves any scalar
/// type.
///
/// ```
/// use vanishing_gradient::optim::{Optimizer, Sgd};
///
/// let mut sgd = Sgd::new(0.5)?;
/// let mut weights = [1.0_f64, -2.0];
/// let squared_change = sgd.update(0, &mut weights, &[2.0, -2.0]);
/// assert_eq!(weights, [0.0, -1.0]);
/// assert_eq!(squared_change, 2.0);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    learning_rate: f64,
}

impl Sgd {
    /// SGD with the given learning rate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `learning_rate` is
    /// finite and `> 0`.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Self {
            learning_rate: validate_learning_rate(learning_rate)?,
        })
    }
}

/// `p -= lr g` on one block, adding each squared change (measured on the stored values, so
/// that it is the change actually made) to its lane. A zero-padded lane changes nothing.
#[inline(always)]
fn step_block<T: RealField + Copy>(
    value: &mut Lanes<T>,
    grad: &Lanes<T>,
    learning_rate: T,
    changes: &mut Lanes<T>,
) {
    // Copied in and out: on local arrays the compiler vectorises the block (see
    // `crate::lanes`).
    let (old, grad) = (*value, *grad);
    let mut new = old;
    let mut sums = *changes;
    for (((n, &o), &g), c) in new.iter_mut().zip(&old).zip(&grad).zip(sums.iter_mut()) {
        *n = o - learning_rate * g;
        let change = *n - o;
        *c += change * change;
    }
    *changes = sums;
    *value = new;
}

/// `p -= lr g` over the common length, returning the squared change.
#[inline(always)]
fn step_kernel<T: RealField + Copy>(value: &mut [T], grad: &[T], learning_rate: T) -> T {
    let mut changes = lanes::zeros();
    lanes::for_each_block_mut(
        value,
        grad,
        #[inline(always)]
        |v, g| {
            step_block(v, g, learning_rate, &mut changes);
        },
    );
    lanes::sum(changes)
}

/// [`step_kernel`] with the gradient's and the weights' statistics taken before the update,
/// for scalar types other than `f32` and `f64` (those have the single fused pass of
/// `crate::explicit_simd`): the statistics' pass, then the step's.
#[inline(always)]
fn step_measured_kernel<T: RealField + Copy>(
    value: &mut [T],
    grad: &[T],
    learning_rate: T,
) -> UpdateMeasurement {
    let before = measure_weights_kernel(grad, value);
    let squared_change = step_kernel(value, grad, learning_rate);
    UpdateMeasurement {
        squared_change: nalgebra::try_convert(squared_change).unwrap_or(f64::NAN),
        grad_sq: before.grad_sq,
        grad_max_abs: before.grad_max_abs,
        value_sq: before.value_sq,
    }
}

/// `p -= lr g` over the common length, vectorised; returns the squared change.
fn step<T: RealField + Copy>(value: &mut [T], grad: &[T], learning_rate: T) -> T {
    crate::vectorised::run(SgdStep {
        value,
        grad,
        learning_rate,
    })
}

/// [`step`] with the statistics of the values before it (explicit SIMD for `f32` and `f64`).
fn step_measured<T: RealField + Copy>(
    value: &mut [T],
    grad: &[T],
    learning_rate: T,
) -> UpdateMeasurement {
    if let Some(measurement) = crate::explicit_simd::step_measured(&mut *value, grad, learning_rate)
    {
        return measurement;
    }
    crate::vectorised::run(SgdStepMeasured(SgdStep {
        value,
        grad,
        learning_rate,
    }))
}

/// Two halves of a tensor, each with its gradient.
type Halves<'a, T> = ((&'a mut [T], &'a [T]), (&'a mut [T], &'a [T]));

/// The two halves of a large tensor and its gradient (over their common length), when the
/// pass is worth two threads.
fn halves<'a, T>(value: &'a mut [T], grad: &'a [T]) -> Option<Halves<'a, T>> {
    let len = value.len().min(grad.len());
    let middle = parallel_split::split_point(len)?;
    let (left, rest) = value.split_at_mut_checked(middle)?;
    let right = rest.get_mut(..len - middle)?;
    let (left_grad, rest_grad) = grad.split_at_checked(middle)?;
    let right_grad = rest_grad.get(..len - middle)?;
    Some(((left, left_grad), (right, right_grad)))
}

/// The measurement of a whole tensor from those of its two halves.
fn combine(a: UpdateMeasurement, b: UpdateMeasurement) -> UpdateMeasurement {
    let grad_sq = a.grad_sq + b.grad_sq;
    UpdateMeasurement {
        squared_change: a.squared_change + b.squared_change,
        grad_sq,
        // NaN in either half shows in the sum of squares, and then in the maximum.
        grad_max_abs: if grad_sq >= 0.0 {
            a.grad_max_abs.max(b.grad_max_abs)
        } else {
            grad_sq
        },
        value_sq: a.value_sq + b.value_sq,
    }
}

/// The [`Kernel`] of [`Sgd::update`].
struct SgdStep<'a, T> {
    value: &'a mut [T],
    grad: &'a [T],
    learning_rate: T,
}

impl<T: RealField + Copy> Kernel for SgdStep<'_, T> {
    type Output = T;

    #[inline(always)]
    fn run(self) -> T {
        step_kernel(self.value, self.grad, self.learning_rate)
    }
}

/// The [`Kernel`] of [`Sgd::update_measured`](Optimizer::update_measured).
struct SgdStepMeasured<'a, T>(SgdStep<'a, T>);

impl<T: RealField + Copy> Kernel for SgdStepMeasured<'_, T> {
    type Output = UpdateMeasurement;

    #[inline(always)]
    fn run(self) -> UpdateMeasurement {
        let SgdStep {
            value,
            grad,
            learning_rate,
        } = self.0;
        step_measured_kernel(value, grad, learning_rate)
    }
}

impl<T: RealField + Copy> Optimizer<T> for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn update(&mut self, _slot: usize, value: &mut [T], grad: &[T]) -> T {
        let learning_rate: T = cast(self.learning_rate);
        if let Some((value, grad)) = halves(value, grad) {
            let ((left, left_grad), (right, right_grad)) = (value, grad);
            let (a, b) = parallel_split::join(
                || step(left, left_grad, learning_rate),
                || step(right, right_grad, learning_rate),
            );
            return a + b;
        }
        step(value, grad, learning_rate)
    }

    /// One pass: the update, its squared change and the gradient's and weights' statistics.
    fn update_measured(&mut self, _slot: usize, value: &mut [T], grad: &[T]) -> UpdateMeasurement {
        let learning_rate: T = cast(self.learning_rate);
        if let Some((value, grad)) = halves(value, grad) {
            let ((left, left_grad), (right, right_grad)) = (value, grad);
            let (a, b) = parallel_split::join(
                || step_measured(left, left_grad, learning_rate),
                || step_measured(right, right_grad, learning_rate),
            );
            return combine(a, b);
        }
        step_measured(value, grad, learning_rate)
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate; a negative or non-finite rate is ignored (zero is allowed).
    fn set_learning_rate(&mut self, learning_rate: f64) {
        accept_learning_rate(&mut self.learning_rate, learning_rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane-array loop (kept for scalar types other than `f32` and `f64`) and the explicit
    /// SIMD kernel agree, on lengths around the block and vector widths and on gradients small
    /// enough for the split squares.
    #[test]
    fn lane_loop_and_simd_kernel_agree() {
        for len in [0_i32, 1, 7, 15, 16, 17, 31, 33, 64, 100, 1000] {
            let (values, grads) = crate::explicit_simd::test_tensors(len);
            let (mut a, mut b) = (values.clone(), values.clone());
            let lanes = step_measured_kernel(&mut a, &grads, 0.01);
            let simd = crate::explicit_simd::step_measured(&mut b, &grads, 0.01)
                .unwrap_or_else(|| panic!("f64 has a SIMD kernel"));
            assert_eq!(a, b, "length {len}: the weights differ");
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
            assert!(close(lanes.grad_sq, simd.grad_sq), "length {len}");
            assert!(close(lanes.value_sq, simd.value_sq), "length {len}");
            assert!(
                close(lanes.squared_change, simd.squared_change),
                "length {len}"
            );
            assert_eq!(lanes.grad_max_abs, simd.grad_max_abs, "length {len}");
        }
    }
}
