//! Plain stochastic gradient descent.

use nalgebra::RealField;

use super::{accept_learning_rate, validate_learning_rate, Optimizer, UpdateMeasurement};
use crate::activation::cast;
use crate::activation::sum_lanes;
use crate::error::Result;
use crate::layer::MeasurementLanes;

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

/// `p -= lr g` on up to eight elements, adding each squared change (measured on the stored
/// values, so that it is the change actually made) to its lane.
#[inline(always)]
fn step_lanes<T: RealField + Copy>(
    value: &mut [T],
    grad: &[T],
    learning_rate: T,
    changes: &mut [T; 8],
) {
    for ((p, &g), c) in value.iter_mut().zip(grad).zip(changes.iter_mut()) {
        let new = *p - learning_rate * g;
        let change = new - *p;
        *p = new;
        *c += change * change;
    }
}

impl<T: RealField + Copy> Optimizer<T> for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn update(&mut self, _slot: usize, value: &mut [T], grad: &[T]) -> T {
        let learning_rate: T = cast(self.learning_rate);
        let mut changes = [T::zero(); 8];
        let mut value_chunks = value.chunks_exact_mut(8);
        let mut grad_chunks = grad.chunks_exact(8);
        for (v, g) in (&mut value_chunks).zip(&mut grad_chunks) {
            step_lanes(v, g, learning_rate, &mut changes);
        }
        step_lanes(
            value_chunks.into_remainder(),
            grad_chunks.remainder(),
            learning_rate,
            &mut changes,
        );
        sum_lanes(changes)
    }

    /// One pass: the update, its squared change and the gradient's and weights' statistics.
    fn update_measured(
        &mut self,
        _slot: usize,
        value: &mut [T],
        grad: &[T],
    ) -> UpdateMeasurement<T> {
        let learning_rate: T = cast(self.learning_rate);
        let mut changes = [T::zero(); 8];
        let mut lanes = MeasurementLanes::new();
        let mut value_chunks = value.chunks_exact_mut(8);
        let mut grad_chunks = grad.chunks_exact(8);
        for (v, g) in (&mut value_chunks).zip(&mut grad_chunks) {
            lanes.add(g, v);
            step_lanes(v, g, learning_rate, &mut changes);
        }
        let (v, g) = (value_chunks.into_remainder(), grad_chunks.remainder());
        lanes.add(g, v);
        step_lanes(v, g, learning_rate, &mut changes);
        let before = lanes.finish();
        UpdateMeasurement {
            squared_change: sum_lanes(changes),
            grad_sq: before.grad_sq,
            grad_max_abs: before.grad_max_abs,
            value_sq: before.value_sq,
        }
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate; a negative or non-finite rate is ignored (zero is allowed).
    fn set_learning_rate(&mut self, learning_rate: f64) {
        accept_learning_rate(&mut self.learning_rate, learning_rate);
    }
}
