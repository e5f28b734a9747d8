//! Robust trend statistics for one series of values taken at evenly spaced times (one loss per
//! epoch): the median, the Theil-Sen slope and the Mann-Kendall trend test.
//!
//! All three are rank or median based, so a few outliers neither hide nor fake a trend, and all
//! three are invariant (the slope equivariant) under a shift or a positive rescaling of the values.
//!
//! | function | cost for `n` values | notes |
//! | --- | --- | --- |
//! | [`median`] | `O(n)` expected | the mean of the two middle values for even `n` |
//! | [`theil_sen_slope`] | `O(n^2)` time and memory | median of the `n(n-1)/2` pairwise slopes |
//! | [`mann_kendall`] | `O(n log n)` | `S` by counting inversions with a merge sort |
//!
//! Ties are exact equality of `f64` values. The Mann-Kendall p-values use the normal
//! approximation with continuity correction and the tie-corrected variance
//! `Var(S) = [n(n-1)(2n+5) - sum over tie groups of t(t-1)(2t+5)] / 18`; for fewer than about
//! ten values the exact distribution of `S` differs noticeably from the normal one, so treat
//! p-values of very short series as rough.
//!
//! ```
//! use vanishing_gradient::detect::trend::{mann_kendall, median, theil_sen_slope};
//!
//! let losses = [5.0, 4.0, 4.5, 3.0, 2.0, 2.5, 1.0];
//! assert_eq!(median(&losses)?, 3.0);
//! let slope = theil_sen_slope(&losses)?;
//! assert!(slope < 0.0);
//! let test = mann_kendall(&losses)?;
//! assert!(test.s < 0);
//! assert!(test.p_decreasing < 0.05);
//! # Ok::<(), vanishing_gradient::Error>(())
//! ```

use crate::error::{check_finite, Error, Result};

/// The outcome of a Mann-Kendall trend test on a series in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MannKendall {
    /// Number of values tested.
    pub n: usize,
    /// The statistic `S`: the number of later-greater pairs minus the number of later-smaller
    /// pairs. Negative for a decreasing series.
    pub s: i64,
    /// The variance of `S` under the null hypothesis of no trend, corrected for ties.
    pub variance: f64,
    /// The standardised statistic with continuity correction: `(S - 1)/sd` for `S > 0`,
    /// `(S + 1)/sd` for `S < 0`, `0` for `S = 0`. Zero when the variance is zero.
    pub z: f64,
    /// One-sided p-value against the alternative "the series decreases": `Phi(z)`.
    pub p_decreasing: f64,
    /// One-sided p-value against the alternative "the series increases": `Phi(-z)`.
    pub p_increasing: f64,
    /// Two-sided p-value: `2 min(Phi(z), Phi(-z))`, at most 1.
    pub p_two_sided: f64,
}

/// The median of `values`: the middle value, or the mean of the two middle values for an even
/// count.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty slice, [`Error::NonFinite`] for a NaN or infinite
/// value.
///
/// ```
/// use vanishing_gradient::detect::trend::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0])?, 2.0);
/// assert_eq!(median(&[4.0, 1.0, 3.0, 2.0])?, 2.5);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn median(values: &[f64]) -> Result<f64> {
    require_len(values, 1, "values")?;
    check_finite(values, || "median input".to_string())?;
    let mut buffer = values.to_vec();
    Ok(median_in_place(&mut buffer))
}

/// The Theil-Sen slope of `values` against their index `0, 1, 2, ...`: the median of the
/// slopes `(values[j] - values[i]) / (j - i)` over all pairs `i < j`.
///
/// Up to 29% of the values can be arbitrary outliers without moving the estimate arbitrarily.
/// Costs `O(n^2)` time and memory: meant for windows of tens to a few hundred values.
///
/// # Errors
/// [`Error::InvalidArgument`] for fewer than two values, [`Error::NonFinite`] for a NaN or
/// infinite value.
///
/// ```
/// use vanishing_gradient::detect::trend::theil_sen_slope;
/// // One wild outlier does not move the slope of an otherwise exact line.
/// assert_eq!(theil_sen_slope(&[0.0, 1.0, 2.0, 3.0, 100.0])?, 1.0);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn theil_sen_slope(values: &[f64]) -> Result<f64> {
    require_len(values, 2, "values")?;
    check_finite(values, || "Theil-Sen input".to_string())?;
    Ok(TrendScratch::default().theil_sen_evenly_spaced(values))
}

/// The Mann-Kendall trend test of `values` in time order, with tie correction.
///
/// # Errors
/// [`Error::InvalidArgument`] for fewer than two values, [`Error::NonFinite`] for a NaN or
/// infinite value.
///
/// ```
/// use vanishing_gradient::detect::trend::mann_kendall;
/// let test = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0])?;
/// assert_eq!(test.s, 10);
/// assert!((test.variance - 50.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), vanishing_gradient::Error>(())
/// ```
pub fn mann_kendall(values: &[f64]) -> Result<MannKendall> {
    require_len(values, 2, "values")?;
    check_finite(values, || "Mann-Kendall input".to_string())?;
    Ok(TrendScratch::default().mann_kendall(values))
}

/// The standard normal cumulative distribution function `Phi(z) = P(Z <= z)`.
///
/// Accurate to about 1e-13 relative error over the whole range (series and continued fraction
/// for the complementary error function); returns 0 or 1 where the result under- or overflows,
/// and NaN for NaN.
///
/// ```
/// use vanishing_gradient::detect::trend::standard_normal_cdf;
/// assert!((standard_normal_cdf(-1.959963984540054) - 0.025).abs() < 1e-12);
/// ```
pub fn standard_normal_cdf(z: f64) -> f64 {
    0.5 * complementary_error_function(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function `erfc(x) = 1 - erf(x)`, computed without cancellation for
/// large `x`.
///
/// ```
/// use vanishing_gradient::detect::trend::complementary_error_function;
/// assert!((complementary_error_function(1.0) - 0.157_299_207_050_285_1).abs() < 1e-13);
/// ```
pub fn complementary_error_function(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - complementary_error_function(-x);
    }
    if x < 2.5 {
        // erf(x) = 2/sqrt(pi) exp(-x^2) sum_{k>=0} 2^k x^(2k+1) / (1*3*...*(2k+1)):
        // every term is positive, so the sum has no cancellation.
        let two_x_squared = 2.0 * x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0_f64;
        while term > sum * 1e-17 {
            k += 1.0;
            term *= two_x_squared / (2.0 * k + 1.0);
            sum += term;
        }
        let erf = std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp() * sum;
        return 1.0 - erf;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
    // evaluated backwards from a fixed depth: for x >= 2.5 the tail beyond 120 levels is far
    // below double precision.
    let mut fraction = x;
    for k in (1..=120).rev() {
        fraction = x + (f64::from(k) / 2.0) / fraction;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * fraction)
}

/// The smallest one-sided Mann-Kendall p-value that `n` distinct values can produce (a strictly
/// monotone series), under the normal approximation used by [`mann_kendall`].
///
/// A window shorter than the first `n` for which this is under the significance level can never
/// report a significant trend.
///
/// ```
/// use vanishing_gradient::detect::trend::smallest_one_sided_p_value;
/// assert!(smallest_one_sided_p_value(3) > 0.05); // three points are never significant
/// assert!(smallest_one_sided_p_value(5) < 0.05);
/// ```
pub fn smallest_one_sided_p_value(n: usize) -> f64 {
    if n < 2 {
        return 1.0;
    }
    let n_f = n as f64;
    let s_max = n_f * (n_f - 1.0) / 2.0;
    let variance = n_f * (n_f - 1.0) * (2.0 * n_f + 5.0) / 18.0;
    standard_normal_cdf(-(s_max - 1.0) / variance.sqrt())
}

fn require_len(values: &[f64], minimum: usize, name: &'static str) -> Result<()> {
    if values.len() < minimum {
        return Err(Error::InvalidArgument {
            name,
            reason: format!("needs at least {minimum} value(s), got {}", values.len()),
        });
    }
    Ok(())
}

/// Median of a finite, non-empty buffer, reordering it. Returns NaN for an empty buffer.
pub(crate) fn median_in_place(buffer: &mut [f64]) -> f64 {
    let n = buffer.len();
    if n == 0 {
        return f64::NAN;
    }
    let middle = n / 2;
    let (lower_part, upper, _) = buffer.select_nth_unstable_by(middle, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = lower_part
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    // Halve first so that two huge values of one sign cannot overflow.
    lower / 2.0 + upper / 2.0
}

/// Reusable buffers, so that sliding-window statistics allocate once.
#[derive(Debug, Default)]
pub(crate) struct TrendScratch {
    pairs: Vec<f64>,
    sorted: Vec<f64>,
    merge: Vec<f64>,
}

impl TrendScratch {
    /// Median of `values` (finite, any length; NaN for empty).
    pub(crate) fn median(&mut self, values: &[f64]) -> f64 {
        self.sorted.clear();
        self.sorted.extend_from_slice(values);
        median_in_place(&mut self.sorted)
    }

    /// Theil-Sen slope against the index (finite values; NaN for fewer than two).
    pub(crate) fn theil_sen_evenly_spaced(&mut self, values: &[f64]) -> f64 {
        self.pairs.clear();
        for (i, &earlier) in values.iter().enumerate() {
            for (offset, &later) in values.iter().skip(i + 1).enumerate() {
                self.pairs.push((later - earlier) / (offset + 1) as f64);
            }
        }
        median_in_place(&mut self.pairs)
    }

    /// Theil-Sen slope of `values` against `times` (same length, strictly increasing times;
    /// NaN for fewer than two points).
    pub(crate) fn theil_sen(&mut self, times: &[f64], values: &[f64]) -> f64 {
        self.pairs.clear();
        for (i, (&t_i, &y_i)) in times.iter().zip(values).enumerate() {
            for (&t_j, &y_j) in times.iter().zip(values).skip(i + 1) {
                self.pairs.push((y_j - y_i) / (t_j - t_i));
            }
        }
        median_in_place(&mut self.pairs)
    }

    /// Mann-Kendall test of finite `values` in time order.
    pub(crate) fn mann_kendall(&mut self, values: &[f64]) -> MannKendall {
        let n = values.len();
        self.sorted.clear();
        self.sorted.extend_from_slice(values);
        self.merge.clear();
        self.merge.resize(n, 0.0);
        // Pairs i < j with values[i] > values[j] (strictly): the decreasing pairs.
        let decreasing_pairs = sort_counting_inversions(&mut self.sorted, &mut self.merge);

        let mut tied_pairs: u64 = 0;
        let mut tie_variance_term = 0.0_f64;
        let mut run_start = 0;
        while run_start < n {
            let value = self.sorted.get(run_start).copied().unwrap_or(f64::NAN);
            let run_length = self
                .sorted
                .iter()
                .skip(run_start)
                .take_while(|&&v| v == value)
                .count()
                .max(1);
            let t = run_length as u64;
            tied_pairs += t * (t - 1) / 2;
            let t_f = run_length as f64;
            tie_variance_term += t_f * (t_f - 1.0) * (2.0 * t_f + 5.0);
            run_start += run_length;
        }

        let n_u = n as u64;
        let all_pairs = n_u * n_u.saturating_sub(1) / 2;
        let increasing_pairs = all_pairs - tied_pairs - decreasing_pairs;
        let s = increasing_pairs as i64 - decreasing_pairs as i64;

        let n_f = n as f64;
        let variance =
            ((n_f * (n_f - 1.0) * (2.0 * n_f + 5.0) - tie_variance_term) / 18.0).max(0.0);
        if variance <= 0.0 {
            return MannKendall {
                n,
                s,
                variance,
                z: 0.0,
                p_decreasing: 1.0,
                p_increasing: 1.0,
                p_two_sided: 1.0,
            };
        }
        let sd = variance.sqrt();
        let z = match s {
            s if s > 0 => (s as f64 - 1.0) / sd,
            s if s < 0 => (s as f64 + 1.0) / sd,
            _ => 0.0,
        };
        let p_decreasing = standard_normal_cdf(z);
        let p_increasing = standard_normal_cdf(-z);
        MannKendall {
            n,
            s,
            variance,
            z,
            p_decreasing,
            p_increasing,
            p_two_sided: (2.0 * p_decreasing.min(p_increasing)).min(1.0),
        }
    }
}

/// Sorts `values` ascending (finite values) and returns the number of pairs `i < j` with
/// `values[i] > values[j]` in the original order. `scratch` must be at least as long.
fn sort_counting_inversions(values: &mut [f64], scratch: &mut [f64]) -> u64 {
    let n = values.len();
    if n < 2 || scratch.len() < n {
        return 0;
    }
    let middle = n / 2;
    let mut inversions = {
        let (left, right) = values.split_at_mut(middle);
        let (scratch_left, scratch_right) = scratch.split_at_mut(middle);
        sort_counting_inversions(left, scratch_left)
            + sort_counting_inversions(right, scratch_right)
    };
    let (left, right) = values.split_at(middle);
    let mut left_iter = left.iter().peekable();
    let mut right_iter = right.iter().peekable();
    let mut left_remaining = left.len() as u64;
    for slot in scratch.iter_mut().take(n) {
        match (left_iter.peek(), right_iter.peek()) {
            (Some(&&l), Some(&&r)) => {
                if l <= r {
                    *slot = l;
                    left_iter.next();
                    left_remaining -= 1;
                } else {
                    // Every remaining left value is strictly greater than r.
                    *slot = r;
                    right_iter.next();
                    inversions += left_remaining;
                }
            }
            (Some(&&l), None) => {
                *slot = l;
                left_iter.next();
                left_remaining -= 1;
            }
            (None, Some(&&r)) => {
                *slot = r;
                right_iter.next();
            }
            (None, None) => break,
        }
    }
    for (value, &sorted) in values.iter_mut().zip(scratch.iter()) {
        *value = sorted;
    }
    inversions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_s(values: &[f64]) -> i64 {
        let mut s = 0;
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                if values[j] > values[i] {
                    s += 1;
                } else if values[j] < values[i] {
                    s -= 1;
                }
            }
        }
        s
    }

    #[test]
    fn merge_sort_s_matches_the_pair_count() {
        let series = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
        let test = mann_kendall(&series).unwrap();
        assert_eq!(test.s, naive_s(&series));
    }

    #[test]
    fn median_of_even_count_averages_the_middle_pair() {
        assert_eq!(median_in_place(&mut [1.0, 10.0]), 5.5);
        assert!(median_in_place(&mut []).is_nan());
    }

    #[test]
    fn erfc_is_continuous_at_the_method_switch() {
        let below = complementary_error_function(2.5 - 1e-12);
        let above = complementary_error_function(2.5);
        assert!((below - above).abs() / above < 1e-9);
    }
}
