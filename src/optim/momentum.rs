//! SGD with momentum, classical or Nesterov.

use nalgebra::RealField;

use super::{
    accept_learning_rate, apply, validate_decay, validate_learning_rate, Optimizer, SlotStates,
};
use crate::activation::cast;
use crate::error::Result;

/// SGD with momentum, in PyTorch's form (no dampening): the velocity `v = mu v + g` (zero
/// before the first step), then `p -= lr v`, or with Nesterov's variant `p -= lr (g + mu v)`.
///
/// ```
/// use vanishing_gradient::optim::{Momentum, Optimizer};
///
/// let mut momentum = Momentum::new(0.1, 0.9)?;
/// let mut x = [1.0_f64];
/// momentum.update(0, &mut x, &[1.0]); // v = 1,   x = 1 - 0.1
/// momentum.update(0, &mut x, &[1.0]); // v = 1.9, x = 0.9 - 0.19
/// assert!((x[0] - 0.71).abs() < 1e-12);
///
/// let mut nesterov = Momentum::new(0.1, 0.9)?.with_nesterov(true);
/// let mut y = [1.0_f64];
/// nesterov.update(0, &mut y, &[1.0]); // v = 1, y = 1 - 0.1 (1 + 0.9)
/// assert!((y[0] - 0.81).abs() < 1e-12);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Momentum<T> {
    learning_rate: f64,
    momentum: f64,
    nesterov: bool,
    velocities: SlotStates<T>,
}

impl<T: RealField + Copy> Momentum<T> {
    /// Classical momentum with the given learning rate and momentum factor `mu` (0.9 is the
    /// usual choice).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `learning_rate` is
    /// finite and `> 0` and `momentum` lies in `[0, 1)`.
    pub fn new(learning_rate: f64, momentum: f64) -> Result<Self> {
        Ok(Self {
            learning_rate: validate_learning_rate(learning_rate)?,
            momentum: validate_decay("momentum", momentum)?,
            nesterov: false,
            velocities: SlotStates::default(),
        })
    }

    /// Switches Nesterov's variant on or off.
    #[must_use]
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// The momentum factor `mu`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// Whether Nesterov's variant is used.
    pub fn nesterov(&self) -> bool {
        self.nesterov
    }

    /// Forgets the velocities (the next step starts from rest).
    pub fn reset(&mut self) {
        self.velocities.clear();
    }
}

impl<T: RealField + Copy> Optimizer<T> for Momentum<T> {
    fn name(&self) -> &'static str {
        if self.nesterov {
            "nesterov"
        } else {
            "momentum"
        }
    }

    fn update(&mut self, slot: usize, value: &mut [T], grad: &[T]) -> T {
        let learning_rate: T = cast(self.learning_rate);
        let momentum: T = cast(self.momentum);
        let Some(velocity) = self.velocities.get(slot, value.len()) else {
            return T::zero();
        };
        crate::vectorised::run_closure(
            #[inline(always)]
            || {
                let mut squared_change = T::zero();
                for ((p, &g), v) in value.iter_mut().zip(grad).zip(velocity.iter_mut()) {
                    *v = momentum * *v + g;
                    let direction = if self.nesterov { g + momentum * *v } else { *v };
                    squared_change += apply(p, *p - learning_rate * direction);
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
