//! The passes that carry the report's weight statistics, in explicit SIMD for `f32` and
//! `f64`: the SGD step fused with them, and the statistics alone.
//!
//! The same loops written with lane arrays for the compiler to vectorise ran at 0.05 ns per
//! weight in one binary and at 0.6 ns in another (the vectoriser's choice depended on what was
//! inlined around it), which made the report cost anywhere from 2 % to 40 % of a step. Here
//! the vector operations are pulp's, so the code is the same wherever it is compiled; other
//! scalar types keep the lane-array loops (`crate::weight_statistics`, `crate::optim`). The
//! squares are split as `crate::weight_statistics` explains.

use nalgebra::RealField;
use pulp::Simd;

use crate::optim::UpdateMeasurement;
use crate::weight_statistics::{join_split_squares, WeightMeasurement, SPLIT_LIMIT};

/// The five sums of one fused pass.
#[derive(Debug, Clone, Copy, Default)]
struct FusedSums<F> {
    change_sq: F,
    grad_sq: F,
    grad_sq_small: F,
    grad_max: F,
    value_sq: F,
}

/// `value -= learning_rate * grad` with the statistics of the values before the step, when
/// `T` is `f32` or `f64`; `None` for other scalar types.
pub(crate) fn step_measured<T: RealField + Copy>(
    value: &mut [T],
    grad: &[T],
    learning_rate: T,
) -> Option<UpdateMeasurement> {
    let value = match castaway::cast!(value, &mut [f32]) {
        Ok(value) => {
            let grad = castaway::cast!(grad, &[f32]).ok()?;
            let learning_rate = castaway::cast!(learning_rate, f32).ok()?;
            let sums = crate::vectorised::dispatch(FusedF32 {
                value,
                grad,
                learning_rate,
            });
            return Some(measurement(sums, f64::from));
        }
        Err(value) => value,
    };
    let value = castaway::cast!(value, &mut [f64]).ok()?;
    let grad = castaway::cast!(grad, &[f64]).ok()?;
    let learning_rate = castaway::cast!(learning_rate, f64).ok()?;
    let sums = crate::vectorised::dispatch(FusedF64 {
        value,
        grad,
        learning_rate,
    });
    Some(measurement(sums, |x| x))
}

/// `||grad||^2`, `max |grad|` and `||value||^2` when `T` is `f32` or `f64`; `None` for other
/// scalar types.
pub(crate) fn measure<T: RealField + Copy>(grad: &[T], value: &[T]) -> Option<WeightMeasurement> {
    let sums = if let (Ok(grad), Ok(value)) = (
        castaway::cast!(grad, &[f32]),
        castaway::cast!(value, &[f32]),
    ) {
        statistics(
            crate::vectorised::dispatch(MeasureF32 { grad, value }),
            f64::from,
        )
    } else {
        let grad = castaway::cast!(grad, &[f64]).ok()?;
        let value = castaway::cast!(value, &[f64]).ok()?;
        statistics(
            crate::vectorised::dispatch(MeasureF64 { grad, value }),
            |x| x,
        )
    };
    Some(sums)
}

/// The [`WeightMeasurement`] from the sums, joined in `f64`.
fn statistics<F: Copy>(sums: FusedSums<F>, to_f64: impl Fn(F) -> f64) -> WeightMeasurement {
    let grad_sq = join_split_squares(to_f64(sums.grad_sq), to_f64(sums.grad_sq_small));
    let grad_max = to_f64(sums.grad_max);
    WeightMeasurement {
        grad_sq,
        // A sum of squares is never negative: only a NaN fails this.
        grad_max_abs: if grad_sq >= 0.0 { grad_max } else { grad_sq },
        value_sq: to_f64(sums.value_sq),
    }
}

/// The [`UpdateMeasurement`] from the sums, joined in `f64`.
fn measurement<F: Copy>(sums: FusedSums<F>, to_f64: impl Fn(F) -> f64) -> UpdateMeasurement {
    let before = statistics(sums, &to_f64);
    UpdateMeasurement {
        squared_change: to_f64(sums.change_sq),
        grad_sq: before.grad_sq,
        grad_max_abs: before.grad_max_abs,
        value_sq: before.value_sq,
    }
}

/// Adds one gradient and value to the statistics (the scalar tail of the SIMD loops).
#[inline(always)]
fn add_scalar<F: RealField + Copy>(
    sums: &mut FusedSums<F>,
    g: F,
    w: F,
    limit: F,
    inverse_limit: F,
) {
    let magnitude = g.abs();
    if magnitude < limit {
        let scaled = g * inverse_limit;
        sums.grad_sq_small += scaled * scaled;
    } else {
        sums.grad_sq += g * g;
    }
    if magnitude > sums.grad_max {
        sums.grad_max = magnitude;
    }
    sums.value_sq += w * w;
}

/// The kernels per float type; the two differ only in the names of pulp's operations.
macro_rules! fused_kernel {
    (
        $name:ident, $measure_name:ident, $accumulate:ident, $float:ty, $floats:ident,
        $as_mut_simd:ident, $as_simd:ident, $splat:ident, $sub:ident, $mul:ident,
        $mul_add:ident, $abs:ident, $max:ident, $less_than:ident, $select:ident,
        $reduce_sum:ident, $reduce_max:ident
    ) => {
        /// Adds one vector of gradients `g` and values `w` to the statistics' accumulators
        /// `[grad_sq, grad_sq_small, grad_max, value_sq]` (the squares split at `limit`).
        #[inline(always)]
        fn $accumulate<S: Simd>(
            simd: S,
            accumulators: &mut [S::$floats; 4],
            (g, w): (S::$floats, S::$floats),
            (limit, inverse_limit): (S::$floats, S::$floats),
        ) {
            let zero = simd.$splat(0.0);
            let magnitude = simd.$abs(g);
            let small = simd.$less_than(magnitude, limit);
            let large = simd.$select(small, zero, g);
            let scaled = simd.$select(small, simd.$mul(g, inverse_limit), zero);
            let [grad_sq, grad_sq_small, grad_max, value_sq] = accumulators;
            *grad_sq = simd.$mul_add(large, large, *grad_sq);
            *grad_sq_small = simd.$mul_add(scaled, scaled, *grad_sq_small);
            *grad_max = simd.$max(*grad_max, magnitude);
            *value_sq = simd.$mul_add(w, w, *value_sq);
        }

        /// The fused pass over one tensor (see the module docs).
        struct $name<'a> {
            value: &'a mut [$float],
            grad: &'a [$float],
            learning_rate: $float,
        }

        impl pulp::WithSimd for $name<'_> {
            type Output = FusedSums<$float>;

            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> FusedSums<$float> {
                let len = self.value.len().min(self.grad.len());
                let value = self.value.get_mut(..len).unwrap_or_default();
                let grad = self.grad.get(..len).unwrap_or_default();
                let (value_head, value_tail) = S::$as_mut_simd(value);
                let (grad_head, grad_tail) = S::$as_simd(grad);
                let (limit, inverse_limit) = (SPLIT_LIMIT as $float, 1.0 / SPLIT_LIMIT as $float);
                let split = (simd.$splat(limit), simd.$splat(inverse_limit));
                let learning_rate = simd.$splat(self.learning_rate);
                let mut change_sq = simd.$splat(0.0);
                let mut accumulators = [change_sq; 4];
                for (v, &g) in value_head.iter_mut().zip(grad_head) {
                    let old = *v;
                    let new = simd.$sub(old, simd.$mul(learning_rate, g));
                    let change = simd.$sub(new, old);
                    change_sq = simd.$mul_add(change, change, change_sq);
                    $accumulate(simd, &mut accumulators, (g, old), split);
                    *v = new;
                }
                let [grad_sq, grad_sq_small, grad_max, value_sq] = accumulators;
                let mut sums = FusedSums {
                    change_sq: simd.$reduce_sum(change_sq),
                    grad_sq: simd.$reduce_sum(grad_sq),
                    grad_sq_small: simd.$reduce_sum(grad_sq_small),
                    grad_max: simd.$reduce_max(grad_max),
                    value_sq: simd.$reduce_sum(value_sq),
                };
                for (v, &g) in value_tail.iter_mut().zip(grad_tail) {
                    let old = *v;
                    let new = old - self.learning_rate * g;
                    let change = new - old;
                    sums.change_sq += change * change;
                    add_scalar(&mut sums, g, old, limit, inverse_limit);
                    *v = new;
                }
                sums
            }
        }

        /// The statistics alone (see the module docs).
        struct $measure_name<'a> {
            grad: &'a [$float],
            value: &'a [$float],
        }

        impl pulp::WithSimd for $measure_name<'_> {
            type Output = FusedSums<$float>;

            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> FusedSums<$float> {
                let len = self.value.len().min(self.grad.len());
                let value = self.value.get(..len).unwrap_or_default();
                let grad = self.grad.get(..len).unwrap_or_default();
                let (value_head, value_tail) = S::$as_simd(value);
                let (grad_head, grad_tail) = S::$as_simd(grad);
                let (limit, inverse_limit) = (SPLIT_LIMIT as $float, 1.0 / SPLIT_LIMIT as $float);
                let split = (simd.$splat(limit), simd.$splat(inverse_limit));
                let mut accumulators = [simd.$splat(0.0); 4];
                for (&w, &g) in value_head.iter().zip(grad_head) {
                    $accumulate(simd, &mut accumulators, (g, w), split);
                }
                let [grad_sq, grad_sq_small, grad_max, value_sq] = accumulators;
                let mut sums = FusedSums {
                    change_sq: 0.0,
                    grad_sq: simd.$reduce_sum(grad_sq),
                    grad_sq_small: simd.$reduce_sum(grad_sq_small),
                    grad_max: simd.$reduce_max(grad_max),
                    value_sq: simd.$reduce_sum(value_sq),
                };
                for (&w, &g) in value_tail.iter().zip(grad_tail) {
                    add_scalar(&mut sums, g, w, limit, inverse_limit);
                }
                sums
            }
        }
    };
}

fused_kernel!(
    FusedF32,
    MeasureF32,
    accumulate_f32,
    f32,
    f32s,
    as_mut_simd_f32s,
    as_simd_f32s,
    splat_f32s,
    sub_f32s,
    mul_f32s,
    mul_add_f32s,
    abs_f32s,
    max_f32s,
    less_than_f32s,
    select_f32s,
    reduce_sum_f32s,
    reduce_max_f32s
);

fused_kernel!(
    FusedF64,
    MeasureF64,
    accumulate_f64,
    f64,
    f64s,
    as_mut_simd_f64s,
    as_simd_f64s,
    splat_f64s,
    sub_f64s,
    mul_f64s,
    mul_add_f64s,
    abs_f64s,
    max_f64s,
    less_than_f64s,
    select_f64s,
    reduce_sum_f64s,
    reduce_max_f64s
);

/// Weights and gradients of `len` elements for the tests that compare the lane loops with these
/// kernels: lengths around the block and vector widths, gradients down to `1e-29` (into the
/// split squares).
#[cfg(test)]
pub(crate) fn test_tensors(len: i32) -> (Vec<f64>, Vec<f64>) {
    let values = (0..len)
        .map(|i| f64::from(i * 37 % 11) / 3.0 - 1.5)
        .collect();
    let grads = (0..len)
        .map(|i| f64::from(i * 13 % 7 - 3) * 10f64.powi(-(i % 30)))
        .collect();
    (values, grads)
}
