//! Optimizers: SGD, momentum (with Nesterov's variant), RMSProp and Adam, and gradient clipping
//! by global norm.
//!
//! An [`Optimizer`] updates one parameter tensor at a time, in place, identified by a stable
//! slot number; it keeps its state (velocities, moment estimates) per slot, allocated on the
//! first step, so a steady-state step allocates nothing.
//!
//! The update rules follow PyTorch's `torch.optim` (without weight decay or dampening), so a
//! run here and a run there with the same hyperparameters take the same steps:
//!
//! | optimizer | update of parameter `p` with gradient `g` |
//! | --- | --- |
//! | [`Sgd`] | `p -= lr g` |
//! | [`Momentum`] | `v = mu v + g`; `p -= lr v` (Nesterov: `p -= lr (g + mu v)`) |
//! | [`RmsProp`] | `s = alpha s + (1 - alpha) g^2`; `p -= lr g / (sqrt(s) + eps)` |
//! | [`Adam`] | `m = b1 m + (1 - b1) g`; `v = b2 v + (1 - b2) g^2`; `p -= lr m^ / (sqrt(v^) + eps)` with `m^ = m / (1 - b1^t)`, `v^ = v / (1 - b2^t)` |
//!
//! Every [`update`](Optimizer::update) returns the squared L2 norm of the change it made, from
//! which a report derives the update-to-weight ratio. [`ClipByGlobalNorm`] rescales all
//! gradients of a step together when their joint norm is too large (Pascanu et al. 2013), the
//! standard remedy for exploding gradients.
//!
//! # Lengths and slots
//!
//! `value` and `grad` should have the same length. If they do not, only the common prefix is
//! updated (the trait cannot return an error; the network never passes mismatched slices).
//! A slot's state is sized to `value.len()` on first use; if a later call brings a different
//! length, that slot's state is reset to zeros at the new length (one allocation), as if the
//! parameter were new. Slots are meant to be small consecutive numbers (`0..n`): the state
//! table grows to `slot + 1` entries. A slot number so large that this table cannot be
//! allocated leaves the parameter unchanged and returns zero rather than aborting.
//!
//! The stateful optimizers ([`Momentum`], [`RmsProp`], [`Adam`]) are generic over the scalar
//! type of their state; [`Sgd`] keeps no state and serves any scalar type.
//!
//! # Example
//!
//! A few Adam steps on the quadratic `f(x) = (x - 3)^2`, whose gradient is `2 (x - 3)`:
//!
//! ```
//! use vanishing_gradient::optim::{Adam, Optimizer};
//!
//! let mut adam = Adam::new(0.1)?;
//! let mut x = [0.0_f64];
//! for _ in 0..200 {
//!     let grad = [2.0 * (x[0] - 3.0)];
//!     adam.begin_step();
//!     let squared_change = adam.update(0, &mut x, &grad);
//!     assert!(squared_change.is_finite());
//! }
//! assert!((x[0] - 3.0).abs() < 0.05, "x = {}", x[0]);
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```

use std::fmt::Debug;

use nalgebra::RealField;

use crate::error::{Error, Result};

mod adam;
mod clip;
mod momentum;
mod rmsprop;
mod sgd;

pub use adam::Adam;
pub use clip::{global_norm, ClipByGlobalNorm};
pub use momentum::Momentum;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// Updates parameters from their gradients.
pub trait Optimizer<T: RealField + Copy>: Debug + Send {
    /// A short name for reports ("sgd", "adam", ...).
    fn name(&self) -> &'static str;

    /// Called once at the start of every step, before the step's [`update`](Optimizer::update)
    /// calls (Adam counts its time step here).
    fn begin_step(&mut self) {}

    /// Updates `value` in place from `grad` (same length) and returns the squared L2 norm of
    /// the change it made, `||value_new - value_old||^2`, from which the network reports the
    /// update ratio.
    ///
    /// `slot` numbers the parameter tensors `0..n` in a fixed order for the optimizer's whole
    /// life; the optimizer keeps per-slot state.
    fn update(&mut self, slot: usize, value: &mut [T], grad: &[T]) -> T;

    /// [`update`](Optimizer::update), and the gradient's and the parameter's statistics on
    /// the way: `||grad||^2`, `max |grad|` and `||value||^2` of the values *before* the update
    /// (over the common length of `value` and `grad`).
    ///
    /// [`Network::train_step`](crate::network::Network::train_step) calls this for weight
    /// tensors, so that its [`GradientReport`](crate::report::GradientReport) needs no pass
    /// over the weights of its own. The default measures in one vectorised pass and then calls
    /// [`update`](Optimizer::update); [`Sgd`] overrides it with a single fused pass. An
    /// override must return the same values as the default (up to rounding). The sums are
    /// `f64` (see [`UpdateMeasurement`]).
    ///
    /// ```
    /// use vanishing_gradient::optim::{Optimizer, Sgd};
    ///
    /// let mut sgd = Sgd::new(0.5)?;
    /// let mut weights = [1.0_f32, -2.0];
    /// let m = sgd.update_measured(0, &mut weights, &[2.0, -2.0]);
    /// assert_eq!(weights, [0.0, -1.0]);
    /// assert_eq!((m.grad_sq, m.grad_max_abs, m.value_sq), (8.0, 2.0, 5.0));
    /// assert_eq!(m.squared_change, 2.0);
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    fn update_measured(&mut self, slot: usize, value: &mut [T], grad: &[T]) -> UpdateMeasurement {
        let before = crate::weight_statistics::measure_weights(grad, value);
        let squared_change = self.update(slot, value, grad);
        UpdateMeasurement {
            squared_change: nalgebra::try_convert(squared_change).unwrap_or(f64::NAN),
            grad_sq: before.grad_sq,
            grad_max_abs: before.grad_max_abs,
            value_sq: before.value_sq,
        }
    }

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, learning_rate: f64);
}

/// What [`Optimizer::update_measured`] returns: the squared change and the statistics of the
/// gradient and of the parameter before the update.
///
/// The sums are in `f64` whatever the scalar type: the report is in `f64`, and the square of a
/// vanishing `f32` gradient (under about `1e-23`) is not representable in `f32`. Optimizers
/// that compute them in `T` convert at the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateMeasurement {
    /// `||value_new - value_old||^2`, what [`Optimizer::update`] returns.
    pub squared_change: f64,
    /// `||grad||^2`.
    pub grad_sq: f64,
    /// `max |grad|`; NaN when any gradient is NaN.
    pub grad_max_abs: f64,
    /// `||value_old||^2`: the parameter's norm at the time of the step, squared.
    pub value_sq: f64,
}

/// Checks that a learning rate is finite and positive.
fn validate_learning_rate(learning_rate: f64) -> Result<f64> {
    if learning_rate.is_finite() && learning_rate > 0.0 {
        Ok(learning_rate)
    } else {
        Err(Error::InvalidArgument {
            name: "learning_rate",
            reason: format!("must be finite and > 0, got {learning_rate}"),
        })
    }
}

/// Checks that a decay factor (momentum, RMSProp's alpha, Adam's betas) lies in `[0, 1)`.
fn validate_decay(name: &'static str, decay: f64) -> Result<f64> {
    if (0.0..1.0).contains(&decay) {
        Ok(decay)
    } else {
        Err(Error::InvalidArgument {
            name,
            reason: format!("must lie in [0, 1), got {decay}"),
        })
    }
}

/// Checks that a denominator guard `eps` is finite and positive.
fn validate_eps(eps: f64) -> Result<f64> {
    if eps.is_finite() && eps > 0.0 {
        Ok(eps)
    } else {
        Err(Error::InvalidArgument {
            name: "eps",
            reason: format!("must be finite and > 0, got {eps}"),
        })
    }
}

/// The rule shared by every `set_learning_rate`: finite, non-negative rates are taken (zero
/// pauses training), anything else is ignored and the previous rate kept, since the trait
/// method cannot report an error.
fn accept_learning_rate(current: &mut f64, requested: f64) {
    if requested.is_finite() && requested >= 0.0 {
        *current = requested;
    }
}

/// Per-slot state vectors (velocities, moment estimates), grown on first use of a slot.
#[derive(Debug, Clone, PartialEq)]
struct SlotStates<T> {
    slots: Vec<Vec<T>>,
}

impl<T> Default for SlotStates<T> {
    fn default() -> Self {
        Self { slots: Vec::new() }
    }
}

impl<T: RealField + Copy> SlotStates<T> {
    /// The state of `slot`, holding `len` values: zeros on first use or after a length change,
    /// otherwise the values the last step left. `None` only if the slot table cannot grow to
    /// `slot + 1` entries (an absurd slot number): the caller then leaves the parameter alone.
    fn get(&mut self, slot: usize, len: usize) -> Option<&mut Vec<T>> {
        if slot >= self.slots.len() {
            let additional = slot.checked_add(1)? - self.slots.len();
            self.slots.try_reserve(additional).ok()?;
            self.slots.resize_with(slot + 1, Vec::new);
        }
        let state = self.slots.get_mut(slot)?;
        if state.len() != len {
            state.clear();
            state.resize(len, T::zero());
        }
        Some(state)
    }

    /// Forgets every slot's state.
    fn clear(&mut self) {
        self.slots.clear();
    }
}

/// Writes `new` into `value` and returns `(new - old)^2`, the contribution to the squared
/// update norm, measured on the stored values so that it is the change actually made.
#[inline(always)]
fn apply<T: RealField + Copy>(value: &mut T, new: T) -> T {
    let change = new - *value;
    *value = new;
    change * change
}
