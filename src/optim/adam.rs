//! Adam (Kingma & Ba 2015).

use nalgebra::RealField;

use super::{
    accept_learning_rate, apply, validate_decay, validate_eps, validate_learning_rate, Optimizer,
    SlotStates,
};
use crate::activation::cast;
use crate::error::Result;

/// Adam with bias correction, in PyTorch's form: with `t` the step number (counted by
/// [`begin_step`](Optimizer::begin_step), starting at 1),
/// `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`, then
/// `p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`.
/// Defaults: `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`.
///
/// Call [`begin_step`](Optimizer::begin_step) once per training step, before that step's
/// updates; updates made before any `begin_step` are treated as step 1.
///
/// ```
/// use vanishing_gradient::optim::{Adam, Optimizer};
///
/// let mut adam = Adam::new(0.01)?;
/// let mut x = [0.0_f64];
/// adam.begin_step();
/// adam.update(0, &mut x, &[3.0]);
/// // After bias correction the first step is lr g / (|g| + eps): about lr against the gradient.
/// assert!((x[0] + 0.01 * 3.0 / (3.0 + 1e-8)).abs() < 1e-12);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Adam<T> {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    step: u64,
    first_moments: SlotStates<T>,
    second_moments: SlotStates<T>,
}

impl<T: RealField + Copy> Adam<T> {
    /// Adam with the given learning rate (1e-3 is the usual default), `b1 = 0.9`,
    /// `b2 = 0.999` and `eps = 1e-8`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `learning_rate` is
    /// finite and `> 0`.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Self {
            learning_rate: validate_learning_rate(learning_rate)?,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            first_moments: SlotStates::default(),
            second_moments: SlotStates::default(),
        })
    }

    /// Sets the decay rates `b1` (first moment) and `b2` (second moment).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless both lie in `[0, 1)`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Result<Self> {
        self.beta1 = validate_decay("beta1", beta1)?;
        self.beta2 = validate_decay("beta2", beta2)?;
        Ok(self)
    }

    /// Sets `eps`, added to the root of the second moment before dividing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless `eps` is finite and
    /// `> 0`.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = validate_eps(eps)?;
        Ok(self)
    }

    /// The decay rates `(b1, b2)`.
    pub fn betas(&self) -> (f64, f64) {
        (self.beta1, self.beta2)
    }

    /// The denominator guard `eps`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The number of steps begun so far (the `t` of the bias correction).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Forgets the moment estimates and the step count (the next step is step 1 again).
    pub fn reset(&mut self) {
        self.step = 0;
        self.first_moments.clear();
        self.second_moments.clear();
    }
}

/// `1 - beta^t`, the bias correction of a moment estimate after `t` steps.
fn bias_correction(beta: f64, step: u64) -> f64 {
    // Beyond 2^31 steps beta^t has long underflowed to zero for any beta < 1.
    let exponent = i32::try_from(step).unwrap_or(i32::MAX);
    1.0 - beta.powi(exponent)
}

impl<T: RealField + Copy> Optimizer<T> for Adam<T> {
    fn name(&self) -> &'static str {
        "adam"
    }

    fn begin_step(&mut self) {
        self.step = self.step.saturating_add(1);
    }

    fn update(&mut self, slot: usize, value: &mut [T], grad: &[T]) -> T {
        let step = self.step.max(1);
        // PyTorch's arrangement: step size lr / (1 - b1^t), denominator
        // sqrt(v) / sqrt(1 - b2^t) + eps.
        let step_size: T = cast(self.learning_rate / bias_correction(self.beta1, step));
        let inverse_root_correction: T = cast(1.0 / bias_correction(self.beta2, step).sqrt());
        let beta1: T = cast(self.beta1);
        let beta2: T = cast(self.beta2);
        let one_minus_beta1: T = cast(1.0 - self.beta1);
        let one_minus_beta2: T = cast(1.0 - self.beta2);
        let eps: T = cast(self.eps);
        let len = value.len();
        let (Some(first), Some(second)) = (
            self.first_moments.get(slot, len),
            self.second_moments.get(slot, len),
        ) else {
            return T::zero();
        };
        crate::vectorised::run_closure(
            #[inline(always)]
            || {
                let mut squared_change = T::zero();
                for (((p, &g), m), v) in value
                    .iter_mut()
                    .zip(grad)
                    .zip(first.iter_mut())
                    .zip(second.iter_mut())
                {
                    *m = beta1 * *m + one_minus_beta1 * g;
                    *v = beta2 * *v + one_minus_beta2 * g * g;
                    let denominator = v.sqrt() * inverse_root_correction + eps;
                    squared_change += apply(p, *p - step_size * *m / denominator);
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
