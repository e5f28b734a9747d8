//! Weight baselines for the relative update, exact or on a fixed sample of coordinates.
//!
//! Exact mode keeps a copy of each layer's previous weights (in their own precision). Sampled
//! mode keeps, per layer, at most `m` coordinates chosen once (uniformly without replacement,
//! from a seeded generator) and estimates
//!
//! ```text
//! ||W_t - W_{t-1}||^2  ~  (n / m) * sum over the sample of (w_t,i - w_{t-1},i)^2
//! ```
//!
//! The denominator `||W_{t-1}||` is exact: the recorder sees the whole of `W_{t-1}` when it is
//! recorded and keeps its norm. The relative standard error of the squared estimate is
//! `CV(d^2) * sqrt((1 - m/n) / m)`, where `CV(d^2)` is the coefficient of variation of the
//! squared per-coordinate updates; the square root halves it. For Gaussian-like updates
//! `CV(d^2) = sqrt(2)`, so the relative error of the sampled relative update is about
//! `sqrt((1 - m/n) / (2m))` ([`sampled_update_relative_error`]): 1.1% for `m = 4096`. Heavy-tailed
//! or sparse updates (few coordinates move) have a larger `CV` and a larger error; a layer with
//! `n <= m` is stored whole and its relative update is exact.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::recorder::WeightElement;

/// The expected relative error (one standard deviation) of a sampled relative update with
/// `samples` coordinates out of `elements`, for Gaussian-like updates: `sqrt((1 - m/n) / (2m))`.
///
/// In sampled mode ([`Recorder::with_sample_budget`](super::Recorder::with_sample_budget)) the
/// recorder keeps `m` coordinates per layer, chosen once, and estimates
/// `||W_t - W_{t-1}||^2 ~ (n / m) * sum over the sample of (w_t,i - w_{t-1},i)^2`; the
/// denominator `||W_{t-1}||` is exact (the recorder saw all of `W_{t-1}`). The squared estimate
/// has relative standard error `CV(d^2) * sqrt((1 - m/n) / m)`, where `CV(d^2)` is the
/// coefficient of variation of the squared per-coordinate updates, and the square root halves
/// it. Gaussian-like updates have `CV(d^2) = sqrt(2)`, which gives this function: about 1.1%
/// for `m = 4096`. Heavy-tailed or sparse updates (few coordinates move) have a larger `CV` and
/// a larger error; scale the result by `CV(d^2) / sqrt(2)` for them.
///
/// Zero when the whole layer fits in the sample (`samples >= elements`: it is stored whole
/// and exact); infinite for `samples == 0`.
///
/// ```
/// use vanishing_gradient::history::sampled_update_relative_error;
/// let error = sampled_update_relative_error(4096, 100_000_000);
/// assert!((error - 0.011).abs() < 0.001);
/// assert_eq!(sampled_update_relative_error(10, 10), 0.0);
/// ```
pub fn sampled_update_relative_error(samples: usize, elements: usize) -> f64 {
    if samples >= elements {
        return 0.0;
    }
    if samples == 0 {
        return f64::INFINITY;
    }
    let m = samples as f64;
    ((1.0 - m / elements as f64) / (2.0 * m)).sqrt()
}

/// An L2 norm and the largest magnitude (NaN if any value is NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Norm {
    pub(crate) l2: f64,
    pub(crate) max_abs: f64,
}

/// The L2 norm of a weight slice, as [`l2_norm`], in one vectorised pass (16 lanes of `f64`
/// sums; the serial sum was a chain of dependent additions, about 1 ns per weight).
pub(crate) fn l2_norm_of<T: WeightElement>(values: &[T]) -> Norm {
    let (sum_squares, max_abs) = squares_and_maximum_split(values);
    if sum_squares.is_nan() {
        // Only a NaN value makes a sum of squares NaN.
        return Norm {
            l2: f64::NAN,
            max_abs: f64::NAN,
        };
    }
    if sum_squares.is_infinite() && max_abs.is_finite() && max_abs > 0.0 {
        return l2_norm(values.iter().map(|w| w.to_f64()));
    }
    Norm {
        l2: sum_squares.sqrt(),
        max_abs,
    }
}

/// `(sum of squares, max |v|)` in `f64`: one vectorised pass, in two halves side by side for a
/// large slice (the pass streams through memory; two cores draw more bandwidth than one).
fn squares_and_maximum_split<T: WeightElement>(values: &[T]) -> (f64, f64) {
    if let Some((left, right)) = crate::parallel_split::split_point(values.len())
        .and_then(|middle| values.split_at_checked(middle))
    {
        let ((left_sum, left_max), (right_sum, right_max)) = crate::parallel_split::join(
            || crate::vectorised::run(SquaresAndMaximum { values: left }),
            || crate::vectorised::run(SquaresAndMaximum { values: right }),
        );
        return (left_sum + right_sum, left_max.max(right_max));
    }
    crate::vectorised::run(SquaresAndMaximum { values })
}

/// `(sum of squares, max |v|)` in `f64`, as a vectorised kernel.
struct SquaresAndMaximum<'a, T> {
    values: &'a [T],
}

impl<T: WeightElement> crate::vectorised::Kernel for SquaresAndMaximum<'_, T> {
    type Output = (f64, f64);

    #[inline(always)]
    fn run(self) -> (f64, f64) {
        squares_and_maximum(self.values)
    }
}

/// The loop of [`SquaresAndMaximum`]: blocks copied into local arrays, which the compiler
/// vectorises (see `crate::lanes`).
#[inline(always)]
fn squares_and_maximum<T: WeightElement>(values: &[T]) -> (f64, f64) {
    const LANES: usize = 16;
    let mut sums = [0.0_f64; LANES];
    let mut maxima = [0.0_f64; LANES];
    let mut blocks = values.chunks_exact(LANES);
    for block in &mut blocks {
        let mut wide = [0.0_f64; LANES];
        for (w, &v) in wide.iter_mut().zip(block) {
            *w = v.to_f64();
        }
        let (mut s, mut m) = (sums, maxima);
        for ((s, m), &v) in s.iter_mut().zip(m.iter_mut()).zip(&wide) {
            *s += v * v;
            let a = v.abs();
            *m = if a > *m { a } else { *m };
        }
        (sums, maxima) = (s, m);
    }
    for ((s, m), &v) in sums
        .iter_mut()
        .zip(maxima.iter_mut())
        .zip(blocks.remainder())
    {
        let v = v.to_f64();
        *s += v * v;
        let a = v.abs();
        *m = if a > *m { a } else { *m };
    }
    let sum = sums.iter().fold(0.0, |total, &s| total + s);
    let max = maxima
        .iter()
        .fold(0.0_f64, |max, &m| if m > max { m } else { max });
    (sum, max)
}

/// The L2 norm of `values`, without overflow for finite values near `f64::MAX`.
pub(crate) fn l2_norm<I: Iterator<Item = f64> + Clone>(values: I) -> Norm {
    let mut sum_squares = 0.0_f64;
    let mut max_abs = 0.0_f64;
    let mut saw_nan = false;
    for v in values.clone() {
        sum_squares += v * v;
        let magnitude = v.abs();
        saw_nan |= v.is_nan();
        if magnitude > max_abs {
            max_abs = magnitude;
        }
    }
    if saw_nan {
        return Norm {
            l2: f64::NAN,
            max_abs: f64::NAN,
        };
    }
    if sum_squares.is_infinite() && max_abs.is_finite() && max_abs > 0.0 {
        // Overflow of the squares only: rescale by the largest magnitude.
        let scaled_sum_squares: f64 = values.map(|v| (v / max_abs) * (v / max_abs)).sum();
        return Norm {
            l2: scaled_sum_squares.sqrt() * max_abs,
            max_abs,
        };
    }
    Norm {
        l2: sum_squares.sqrt(),
        max_abs,
    }
}

/// Previous weights kept in their own precision (public only inside a private module).
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValues {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl StoredValues {
    fn len(&self) -> usize {
        match self {
            StoredValues::F32(v) => v.len(),
            StoredValues::F64(v) => v.len(),
        }
    }
}

/// What the recorder keeps of one layer's previous weights.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Baseline {
    /// Every coordinate.
    Exact { values: StoredValues, l2: f64 },
    /// A fixed sample of coordinates (sorted indices) and their previous values.
    Sampled {
        indices: Vec<usize>,
        values: Vec<f64>,
        element_count: usize,
        l2: f64,
    },
}

impl Baseline {
    /// The number of stored weight values.
    pub(crate) fn stored_coordinates(&self) -> usize {
        match self {
            Baseline::Exact { values, .. } => values.len(),
            Baseline::Sampled { values, .. } => values.len(),
        }
    }

    /// The number of elements of the layer the baseline describes.
    pub(crate) fn element_count(&self) -> usize {
        match self {
            Baseline::Exact { values, .. } => values.len(),
            Baseline::Sampled { element_count, .. } => *element_count,
        }
    }
}

/// How the recorder keeps previous weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BaselineMode {
    Exact,
    Sampled {
        coordinates_per_layer: usize,
        seed: u64,
    },
}

/// The weight norm and relative update derived from one observation of a layer's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WeightSummary {
    pub(crate) l2: f64,
    pub(crate) relative_update: Option<f64>,
}

/// `||delta|| / ||previous||`, or `||delta|| / ||current||` when the previous weights were all
/// zero (moving away from zero is a relative update of 1; staying at zero is 0).
fn relative_update(delta_l2: f64, previous_l2: f64, current_l2: f64) -> f64 {
    if previous_l2 == 0.0 {
        if current_l2 == 0.0 {
            0.0
        } else {
            delta_l2 / current_l2
        }
    } else {
        delta_l2 / previous_l2
    }
}

/// Records `weights` against `baseline` (creating or replacing it as needed) and returns the
/// norm and relative update. The caller has checked the size against the history.
pub(crate) fn observe<T: WeightElement>(
    baseline: &mut Option<Baseline>,
    weights: &[T],
    mode: BaselineMode,
    layer_index: usize,
) -> WeightSummary {
    let current = l2_norm_of(weights);
    let usable = baseline
        .as_ref()
        .is_some_and(|b| b.element_count() == weights.len());
    let relative = match baseline.as_mut() {
        Some(Baseline::Exact { values, l2 }) if usable => {
            let delta = match values {
                StoredValues::F32(prev) => delta_norm(prev, weights),
                StoredValues::F64(prev) => delta_norm(prev, weights),
            };
            let relative = relative_update(delta, *l2, current.l2);
            // Overwrite in place when the precision is unchanged: no new allocation.
            if !T::overwrite(values, weights) {
                *values = T::store(weights);
            }
            *l2 = current.l2;
            Some(relative)
        }
        Some(Baseline::Sampled {
            indices,
            values,
            element_count,
            l2,
        }) if usable => {
            let mut sum_squares = 0.0;
            for (&index, previous) in indices.iter().zip(values.iter_mut()) {
                let now = weights.get(index).map_or(f64::NAN, |w| w.to_f64());
                let d = now - *previous;
                sum_squares += d * d;
                *previous = now;
            }
            let scale = *element_count as f64 / indices.len().max(1) as f64;
            let delta = (sum_squares * scale).sqrt();
            let relative = relative_update(delta, *l2, current.l2);
            *l2 = current.l2;
            Some(relative)
        }
        _ => {
            *baseline = Some(new_baseline(weights, mode, layer_index, current.l2));
            None
        }
    };
    WeightSummary {
        l2: current.l2,
        relative_update: relative,
    }
}

fn delta_norm<P: WeightElement, C: WeightElement>(previous: &[P], current: &[C]) -> f64 {
    l2_norm(
        previous
            .iter()
            .zip(current)
            .map(|(p, c)| c.to_f64() - p.to_f64()),
    )
    .l2
}

fn new_baseline<T: WeightElement>(
    weights: &[T],
    mode: BaselineMode,
    layer_index: usize,
    l2: f64,
) -> Baseline {
    match mode {
        BaselineMode::Sampled {
            coordinates_per_layer,
            seed,
        } if coordinates_per_layer < weights.len() => {
            // A distinct, reproducible stream per layer.
            let layer_seed = seed ^ (layer_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = ChaCha8Rng::seed_from_u64(layer_seed);
            let mut indices =
                rand::seq::index::sample(&mut rng, weights.len(), coordinates_per_layer).into_vec();
            indices.sort_unstable();
            let values = indices
                .iter()
                .map(|&i| weights.get(i).map_or(f64::NAN, |w| w.to_f64()))
                .collect();
            Baseline::Sampled {
                indices,
                values,
                element_count: weights.len(),
                l2,
            }
        }
        _ => Baseline::Exact {
            values: T::store(weights),
            l2,
        },
    }
}

pub(crate) mod sealed {
    use super::StoredValues;

    /// Restricts [`WeightElement`](super::WeightElement) to `f32` and `f64`, and stores them.
    pub trait Sealed: Sized {
        /// A copy of `values` in their own precision.
        fn store(values: &[Self]) -> StoredValues;
        /// Overwrites `stored` with `values` if it holds this precision and length.
        fn overwrite(stored: &mut StoredValues, values: &[Self]) -> bool;
    }

    impl Sealed for f32 {
        fn store(values: &[Self]) -> StoredValues {
            StoredValues::F32(values.to_vec())
        }
        fn overwrite(stored: &mut StoredValues, values: &[Self]) -> bool {
            match stored {
                StoredValues::F32(previous) if previous.len() == values.len() => {
                    previous.copy_from_slice(values);
                    true
                }
                _ => false,
            }
        }
    }

    impl Sealed for f64 {
        fn store(values: &[Self]) -> StoredValues {
            StoredValues::F64(values.to_vec())
        }
        fn overwrite(stored: &mut StoredValues, values: &[Self]) -> bool {
            match stored {
                StoredValues::F64(previous) if previous.len() == values.len() => {
                    previous.copy_from_slice(values);
                    true
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(values: &[f64]) -> Norm {
        l2_norm(values.iter().copied())
    }

    /// The vectorised (and, from 2^18 values, two-thread) norm against the serial definition,
    /// on tails around the lane width, NaN, infinity and squares that overflow.
    #[test]
    fn vectorised_norm_agrees_with_the_serial_one() {
        let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        for len in [1_usize, 15, 16, 17, 33, 1000, (1 << 18) + 5] {
            let values: Vec<f64> = (0..len)
                .map(|i| ((i * 7919) % 1013) as f64 - 506.5)
                .collect();
            let (a, b) = (l2_norm_of(&values), serial(&values));
            assert!(close(a.l2, b.l2), "length {len}: {} vs {}", a.l2, b.l2);
            assert_eq!(a.max_abs, b.max_abs, "length {len}");
            let single: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            assert!(close(l2_norm_of(&single).l2, b.l2), "f32, length {len}");
        }
        let mut special = vec![1.0_f64; 40];
        special[33] = f64::NAN;
        assert!(l2_norm_of(&special).l2.is_nan());
        special[33] = f64::INFINITY;
        assert_eq!(l2_norm_of(&special).l2, f64::INFINITY);
        // Squares overflow, the values do not: the rescaled path.
        let huge = vec![1e300_f64; 20];
        let expected = 1e300 * 20f64.sqrt();
        assert!(close(l2_norm_of(&huge).l2, expected));
    }
}
