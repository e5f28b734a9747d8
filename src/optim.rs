//! Optimizers: SGD, momentum (with Nesterov's variant), RMSProp and Adam, and gradient clipping
//! by global norm.
//!
//! An [`Optimizer`] updates one parameter tensor at a time, in place, identified by a stable
//! slot number; it keeps its state (velocities, moment estimates) per slot, allocated on the
//! first step, so a steady-state step allocates nothing.

use std::fmt::Debug;

use nalgebra::RealField;

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

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, learning_rate: f64);
}
