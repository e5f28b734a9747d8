//! Loss functions: mean squared error, binary cross-entropy and softmax cross-entropy, both
//! from logits.
//!
//! A [`Loss`] compares the network's output (a batch, one row per sample) with a target of the
//! same shape and gives the loss and its gradient with respect to the output. Targets are
//! matrices for every loss: real values for MSE, 0/1 (or probabilities) for binary
//! cross-entropy, one-hot rows (or probability rows) for softmax cross-entropy; [`one_hot`]
//! builds them from class labels.

use std::fmt::Debug;

use nalgebra::{DMatrix, RealField};

use crate::error::Result;

/// A loss over a batch: output and target are `batch x outputs` matrices of the same shape.
pub trait Loss<T: RealField + Copy>: Debug + Send + Sync {
    /// A short name for reports ("mse", ...).
    fn name(&self) -> &'static str;

    /// The loss of `output` against `target`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when the shapes differ,
    /// [`Error::EmptyBatch`](crate::Error::EmptyBatch) for zero rows.
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
