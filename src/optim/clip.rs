//! Gradient clipping by global norm (Pascanu, Mikolov & Bengio 2013).

use nalgebra::RealField;

use crate::activation::cast;
use crate::error::{Error, Result};

/// Rescales a step's gradients together so that their joint L2 norm is at most `max_norm`.
///
/// All gradients are multiplied by the same factor `max_norm / norm` when the global norm
/// exceeds `max_norm`, so the step keeps its direction (Pascanu et al. 2013; PyTorch's
/// `clip_grad_norm_`). This is the standard remedy for exploding gradients.
///
/// ```
/// use vanishing_gradient::optim::ClipByGlobalNorm;
///
/// let clip = ClipByGlobalNorm::new(1.0)?;
/// let mut weights_grad = [3.0_f64, 0.0];
/// let mut bias_grad = [4.0_f64];
/// let norm = clip.clip(&mut [&mut weights_grad[..], &mut bias_grad[..]]);
/// assert_eq!(norm, 5.0); // the norm before clipping
/// assert!((weights_grad[0] - 0.6).abs() < 1e-15);
/// assert!((bias_grad[0] - 0.8).abs() < 1e-15);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipByGlobalNorm {
    /// The largest global L2 norm let through. [`ClipByGlobalNorm::new`] checks that it is
    /// finite and positive; if the field is set directly to a negative or NaN value,
    /// [`clip`](ClipByGlobalNorm::clip) leaves the gradients untouched.
    pub max_norm: f64,
}

impl ClipByGlobalNorm {
    /// Clipping at the given global norm.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `max_norm` is finite and `> 0`.
    pub fn new(max_norm: f64) -> Result<Self> {
        if max_norm.is_finite() && max_norm > 0.0 {
            Ok(Self { max_norm })
        } else {
            Err(Error::InvalidArgument {
                name: "max_norm",
                reason: format!("must be finite and > 0, got {max_norm}"),
            })
        }
    }

    /// Scales every gradient by `max_norm / norm` if their global norm exceeds `max_norm`,
    /// and returns the global norm before clipping.
    ///
    /// A non-finite norm (a NaN or infinite gradient) leaves the gradients untouched and is
    /// returned as it is, so the caller can report the explosion instead of hiding it.
    pub fn clip<T: RealField + Copy>(&self, grads: &mut [&mut [T]]) -> T {
        let norm = norm_of(grads.iter().map(|grad| &**grad));
        if !norm.is_finite() || self.max_norm.is_nan() || self.max_norm < 0.0 {
            return norm;
        }
        let max_norm: T = cast(self.max_norm);
        if norm > max_norm {
            let scale = max_norm / norm;
            for grad in grads.iter_mut() {
                for g in grad.iter_mut() {
                    *g *= scale;
                }
            }
        }
        norm
    }
}

/// The global L2 norm of several gradients, `sqrt(sum over all elements of g^2)`.
///
/// Computed with scaling by the largest magnitude, so it neither overflows for huge gradients
/// (`1e30` in `f32`) nor underflows to zero for tiny ones (`1e-30` in `f32`). NaN if any
/// element is NaN, infinity if any is infinite, zero for no elements.
///
/// ```
/// use vanishing_gradient::optim::global_norm;
///
/// assert_eq!(global_norm::<f64>(&[&[3.0], &[0.0, 4.0]]), 5.0);
/// assert_eq!(global_norm::<f32>(&[&[3e30, 4e30]]), 5e30);
/// ```
pub fn global_norm<T: RealField + Copy>(grads: &[&[T]]) -> T {
    norm_of(grads.iter().copied())
}

/// The global L2 norm over an iterator of slices (two passes: the largest magnitude, then the
/// sum of squares of the scaled elements).
fn norm_of<'a, T, I>(grads: I) -> T
where
    T: RealField + Copy,
    I: Iterator<Item = &'a [T]> + Clone,
{
    let mut largest = T::zero();
    for grad in grads.clone() {
        for &g in grad {
            if g.partial_cmp(&g).is_none() {
                // NaN, the only value not comparable with itself.
                return g;
            }
            let magnitude = g.abs();
            if magnitude > largest {
                largest = magnitude;
            }
        }
    }
    if largest == T::zero() || !largest.is_finite() {
        return largest;
    }
    let inverse = T::one() / largest;
    let mut sum = T::zero();
    if inverse.is_finite() {
        for grad in grads {
            for &g in grad {
                let scaled = g * inverse;
                sum += scaled * scaled;
            }
        }
    } else {
        // `largest` is subnormal: its reciprocal overflows, so divide instead.
        for grad in grads {
            for &g in grad {
                let scaled = g / largest;
                sum += scaled * scaled;
            }
        }
    }
    largest * sum.sqrt()
}
