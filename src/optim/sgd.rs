//! Plain stochastic gradient descent.

use nalgebra::RealField;

use super::{accept_learning_rate, apply, validate_learning_rate, Optimizer};
use crate::activation::cast;
use crate::error::Result;

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

impl<T: RealField + Copy> Optimizer<T> for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn update(&mut self, _slot: usize, value: &mut [T], grad: &[T]) -> T {
        let learning_rate: T = cast(self.learning_rate);
        let mut squared_change = T::zero();
        for (p, &g) in value.iter_mut().zip(grad) {
            squared_change += apply(p, *p - learning_rate * g);
        }
        squared_change
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate; a negative or non-finite rate is ignored (zero is allowed).
    fn set_learning_rate(&mut self, learning_rate: f64) {
        accept_learning_rate(&mut self.learning_rate, learning_rate);
    }
}
