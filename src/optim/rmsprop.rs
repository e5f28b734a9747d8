//! RMSProp.

use nalgebra::RealField;

use super::{
    accept_learning_rate, apply, validate_decay, validate_eps, validate_learning_rate, Optimizer,
    SlotStates,
};
use crate::activation::cast;
use crate::error::Result;

/// RMSProp in PyTorch's form (not centred, no momentum): the running mean of squared gradients
/// `s = alpha s + (1 - alpha) g^2` (zero before the first step), then
/// `p -= lr g / (sqrt(s) + eps)`. Defaults: `alpha = 0.99`, `eps = 1e-8`.
///
/// ```
/// use vanishing_gradient::optim::{Optimizer, RmsProp};
///
/// let mut rmsprop = RmsProp::new(0.01)?;
/// let mut x = [0.0_f64];
/// rmsprop.update(0, &mut x, &[2.0]);
/// // s = 0.01 * 4, so the step is 0.01 * 2 / (0.2 + 1e-8).
/// assert!((x[0] + 0.01 * 2.0 / (0.2 + 1e-8)).abs() < 1e-15);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RmsProp<T> {
    learning_rate: f64,
    alpha: f64,
    eps: f64,
    mean_squares: SlotStates<T>,
}

impl<T: RealField + Copy> RmsProp<T> {
    /// RMSProp with the given learning rate, `alpha = 0.99` and `eps = 1e-8`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `learning_rate` is
    /// finite and `> 0`.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Self {
            learning_rate: validate_learning_rate(learning_rate)?,
            alpha: 0.99,
            eps: 1e-8,
            mean_squares: SlotStates::default(),
        })
    }

    /// Sets the smoothing factor `alpha` of the running mean of squared gradients.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `alpha` lies in
    /// `[0, 1)`.
    pub fn with_alpha(mut self, alpha: f64) -> Result<Self> {
        self.alpha = validate_decay("alpha", alpha)?;
        Ok(self)
    }

    /// Sets `eps`, added to the root mean square before dividing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `eps` is finite and
    /// `> 0`.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = validate_eps(eps)?;
        Ok(self)
    }

    /// The smoothing factor `alpha`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The denominator guard `eps`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// Forgets the running means (the next step starts afresh).
    pub fn reset(&mut self) {
        self.mean_squares.clear();
    }
}

impl<T: RealField + Copy> Optimizer<T> for RmsProp<T> {
    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn update(&mut self, slot: usize, value: &mut [T], grad: &[T]) -> T {
        let learning_rate: T = cast(self.learning_rate);
        let alpha: T = cast(self.alpha);
        let one_minus_alpha: T = cast(1.0 - self.alpha);
        let eps: T = cast(self.eps);
        let Some(mean_square) = self.mean_squares.get(slot, value.len()) else {
            return T::zero();
        };
        crate::vectorised::run_closure(
            #[inline(always)]
            || {
                let mut squared_change = T::zero();
                for ((p, &g), s) in value.iter_mut().zip(grad).zip(mean_square.iter_mut()) {
                    *s = alpha * *s + one_minus_alpha * g * g;
                    squared_change += apply(p, *p - learning_rate * g / (s.sqrt() + eps));
                }
                squared_change
            },
        )
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Sets the learning rate; a negative or non-finite rate is ignored (zero is allowed).
    fn set_learning_rate(&mut self, learning_rate: f64) {
        accept_learning_rate(&mut self.learning_rate, learning_rate);
    }
}
