#![cfg(feature = "testing")]
//! Property tests of every built-in activation, in `f32` and `f64`, with the `testing` kit; and
//! tests that the kit itself fails on wrong activations.
//!
//! Run with `cargo test --features testing --test activation_props`.

use approx::relative_eq;
use nalgebra::{DMatrix, RealField};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use vanishing_gradient::activation::{
    all_builtin, Activation, DerivativeSum, Elu, Gelu, Identity, LeakyRelu, Relu, Selu, Sigmoid,
    Silu, Softplus, Tanh,
};
use vanishing_gradient::testing::{
    batch_matrix_f32, batch_matrix_f64, central_difference, check_activation_bounds,
    check_activation_derivative, extreme_inputs_f32, extreme_inputs_f64, finite_difference_step,
    moderate_inputs_f32, moderate_inputs_f64, BoundsViolationKind, DerivativeMethod,
    DerivativeTolerance,
};

fn c<T: RealField + Copy>(v: f64) -> T {
    nalgebra::convert(v)
}

fn f64_of<T: RealField + Copy>(v: T) -> f64 {
    nalgebra::try_convert(v).unwrap_or(f64::NAN)
}

/// The activations with parameters, at values other than their defaults.
fn parameterised<T: RealField + Copy>(slope: f64, alpha: f64) -> Vec<Box<dyn Activation<T>>> {
    vec![
        Box::new(LeakyRelu { slope }),
        Box::new(LeakyRelu { slope: -slope }),
        Box::new(Elu { alpha }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Derivatives against the central finite difference, bounds over extreme inputs.

proptest! {
    #[test]
    fn derivative_matches_finite_difference_f64(x in moderate_inputs_f64()) {
        for act in all_builtin::<f64>() {
            check_activation_derivative(&*act, x, DerivativeTolerance::for_f64())?;
        }
    }

    #[test]
    fn derivative_matches_finite_difference_f32(x in moderate_inputs_f32()) {
        for act in all_builtin::<f32>() {
            check_activation_derivative(&*act, x, DerivativeTolerance::for_f32())?;
        }
    }

    #[test]
    fn parameterised_derivatives_match_finite_difference(
        x in moderate_inputs_f64(),
        slope in 0.0..1.0f64,
        alpha in 0.05..3.0f64,
    ) {
        for act in parameterised::<f64>(slope, alpha) {
            check_activation_derivative(&*act, x, DerivativeTolerance::for_f64())?;
        }
        for act in parameterised::<f32>(slope, alpha) {
            check_activation_derivative(&*act, x as f32, DerivativeTolerance::for_f32())?;
        }
    }

    #[test]
    fn bounds_hold_over_extreme_inputs_f64(x in extreme_inputs_f64()) {
        for act in all_builtin::<f64>() {
            check_activation_bounds(&*act, x)?;
        }
    }

    #[test]
    fn bounds_hold_over_extreme_inputs_f32(x in extreme_inputs_f32()) {
        for act in all_builtin::<f32>() {
            check_activation_bounds(&*act, x)?;
        }
    }

    #[test]
    fn parameterised_bounds_hold_over_extreme_inputs(
        x in extreme_inputs_f64(),
        slope in 0.0..1.0f64,
        alpha in 0.05..3.0f64,
    ) {
        for act in parameterised::<f64>(slope, alpha) {
            check_activation_bounds(&*act, x)?;
        }
        for act in parameterised::<f32>(slope, alpha) {
            check_activation_bounds(&*act, x as f32)?;
        }
    }
}

/// Every power of two of either sign, from the smallest subnormal to the largest finite value,
/// and the largest finite value itself: value and derivative are finite (or, for a function of
/// slope above one, an honest overflow to infinity, never NaN) and within the declared bounds.
fn finite_at_every_magnitude<T: RealField + Copy>() {
    let max = T::max_value().expect("f32 and f64 have a maximum");
    let mut magnitudes = vec![max];
    let mut m = max;
    while m > T::zero() {
        magnitudes.push(m);
        m /= c(2.0);
    }
    assert!(magnitudes.len() > 250, "the sweep reached the subnormals");
    for act in all_builtin::<T>() {
        for &m in &magnitudes {
            for x in [m, -m] {
                if let Err(violation) = check_activation_bounds(&*act, x) {
                    panic!("{violation}");
                }
                assert!(
                    !act.value(x).is_finite() || act.value(x).abs() <= max,
                    "{} at {x}",
                    act.name()
                );
            }
        }
    }
}

#[test]
fn value_and_derivative_finite_at_every_magnitude_f64() {
    finite_at_every_magnitude::<f64>();
}

#[test]
fn value_and_derivative_finite_at_every_magnitude_f32() {
    finite_at_every_magnitude::<f32>();
}

#[test]
fn only_slopes_above_one_may_overflow_and_then_to_infinity_not_nan() {
    for act in all_builtin::<f64>() {
        for x in [f64::MAX, f64::MIN] {
            let value = act.value(x);
            assert!(!value.is_nan(), "{} at {x} is NaN", act.name());
            if !value.is_finite() {
                // Only SELU (slope lambda = 1.0507 for x > 0) exceeds f64::MAX, at +MAX.
                assert_eq!(act.name(), "selu");
                assert_eq!(value, f64::INFINITY);
            }
        }
    }
    assert_eq!(Activation::<f64>::derivative(&Selu, f64::MAX), Selu::LAMBDA);
    assert!(Activation::<f64>::value(&Selu, 1e300).is_finite());
}

// ---------------------------------------------------------------------------------------------
// Numeric stability at specific points, with the mathematically expected values.

fn stability<T: RealField + Copy>(huge: f64, tiny_floor: f64) {
    let thousand: T = c(1000.0);
    let one = T::one();
    let zero = T::zero();

    // Sigmoid saturates to exactly 0 and 1, with a zero (not NaN) derivative.
    assert_eq!(Sigmoid.value(-thousand), zero);
    assert_eq!(Sigmoid.value(thousand), one);
    assert_eq!(Activation::<T>::derivative(&Sigmoid, -thousand), zero);
    assert_eq!(Activation::<T>::derivative(&Sigmoid, thousand), zero);
    // e^-20 / (1 + e^-20) keeps its full relative precision on the negative side.
    let expected = (-20.0f64).exp() / (1.0 + (-20.0f64).exp());
    let got = f64_of(Sigmoid.value(c::<T>(-20.0)));
    assert!(
        relative_eq!(got, expected, max_relative = 1e-5),
        "{got} vs {expected}"
    );

    // Softplus: ln(1 + e^1000) = 1000 + ln(1 + e^-1000) = 1000 to every precision.
    assert_eq!(Softplus.value(thousand), thousand);
    let low = Softplus.value(-thousand);
    assert!(
        low >= zero && f64_of(low) < tiny_floor,
        "softplus(-1000) = {low}"
    );
    // ln(1 + e^-30) = e^-30 (1 - e^-30 / 2 + ...), not 0 and not rounded to 1 + e^-30 - 1.
    let expected = (-30.0f64).exp();
    let got = f64_of(Softplus.value(c::<T>(-30.0)));
    assert!(
        relative_eq!(got, expected, max_relative = 1e-5),
        "{got} vs {expected}"
    );
    assert_eq!(Activation::<T>::derivative(&Softplus, thousand), one);

    // Tanh saturates to +-1 with derivative 0.
    assert_eq!(Tanh.value(thousand), one);
    assert_eq!(Tanh.value(-thousand), -one);
    assert_eq!(Activation::<T>::derivative(&Tanh, thousand), zero);
    assert_eq!(Activation::<T>::derivative(&Tanh, -thousand), zero);

    // ELU and SELU saturate to -alpha and -lambda alpha.
    assert_eq!(Elu { alpha: 1.0 }.value(-thousand), -one);
    let selu_floor = f64_of(Selu.value(-thousand));
    assert!(relative_eq!(
        selu_floor,
        -Selu::LAMBDA * Selu::ALPHA,
        max_relative = 1e-6
    ));

    // GELU and SiLU at +-huge: the asymptotes x and 0, slopes 1 and 0, never 0 * inf.
    let big: T = c(huge);
    for act in [&Gelu as &dyn Activation<T>, &Silu] {
        let name = act.name();
        assert_eq!(act.value(big), big, "{name}");
        assert_eq!(act.value(-big), zero, "{name}");
        assert_eq!(act.derivative(big), one, "{name}");
        assert_eq!(act.derivative(-big), zero, "{name}");
        assert_eq!(
            act.derivative_from_value(-big, act.value(-big)),
            zero,
            "{name}"
        );
        assert_eq!(act.value(thousand), thousand, "{name}");
        assert_eq!(act.value(-thousand), zero, "{name}");
    }
}

#[test]
fn numerically_stable_at_large_inputs_f64() {
    stability::<f64>(1e30, 1e-300);
    stability::<f64>(1e300, 1e-300);
}

#[test]
fn numerically_stable_at_large_inputs_f32() {
    stability::<f32>(1e30, 1e-40);
}

// ---------------------------------------------------------------------------------------------
// The declared derivative maxima are attained (or approached) and never exceeded.

struct DerivativeScan {
    max_abs: f64,
    min: f64,
}

/// `f'` on a grid of step 1e-4 over [-10, 10], plus points at and next to the kinks at 0.
fn scan_derivative<T: RealField + Copy>(act: &dyn Activation<T>) -> DerivativeScan {
    let mut xs: Vec<f64> = (0..=200_000).map(|i| -10.0 + i as f64 * 1e-4).collect();
    xs.extend([0.0, -1e-12, 1e-12, -1e-30, 1e-30]);
    let mut scan = DerivativeScan {
        max_abs: 0.0,
        min: f64::INFINITY,
    };
    for x in xs {
        let x: T = c(x);
        for d in [
            act.derivative(x),
            act.derivative_from_value(x, act.value(x)),
        ] {
            let d = f64_of(d);
            scan.max_abs = scan.max_abs.max(d.abs());
            scan.min = scan.min.min(d);
        }
    }
    scan
}

fn maxima_attained_and_never_exceeded<T: RealField + Copy>() {
    let slack = 64.0 * f64_of(T::default_epsilon());
    for act in all_builtin::<T>() {
        let declared = f64_of(act.derivative_max());
        let scan = scan_derivative(&*act);
        assert!(
            scan.max_abs <= declared * (1.0 + slack),
            "{}: scanned |f'| = {} exceeds derivative_max = {declared}",
            act.name(),
            scan.max_abs
        );
        assert!(
            declared - scan.max_abs < 1e-4,
            "{}: derivative_max = {declared} but the scan only reaches {}",
            act.name(),
            scan.max_abs
        );
        if act.derivative_is_nonnegative() {
            assert!(scan.min >= 0.0, "{}: f' dips to {}", act.name(), scan.min);
        } else {
            assert!(
                scan.min < 0.0,
                "{} claims a negative f' but none found",
                act.name()
            );
        }
    }
}

#[test]
fn derivative_maxima_attained_and_never_exceeded_f64() {
    maxima_attained_and_never_exceeded::<f64>();
}

#[test]
fn derivative_maxima_attained_and_never_exceeded_f32() {
    maxima_attained_and_never_exceeded::<f32>();
}

#[test]
fn derivative_maxima_at_their_known_places() {
    // Sigmoid: s(0)(1 - s(0)) = 1/4. Tanh: 1 - tanh(0)^2 = 1.
    assert_eq!(Activation::<f64>::derivative(&Sigmoid, 0.0), 0.25);
    assert_eq!(Activation::<f64>::derivative_max(&Sigmoid), 0.25);
    assert_eq!(Activation::<f64>::derivative(&Tanh, 0.0), 1.0);
    assert_eq!(Activation::<f32>::derivative(&Tanh, 0.0), 1.0);
    // SELU: lambda alpha e^x for x <= 0 tends to lambda alpha = 1.7581 as x -> 0-.
    let lambda_alpha = Selu::LAMBDA * Selu::ALPHA;
    assert!((lambda_alpha - 1.758_099_3).abs() < 1e-6);
    assert_eq!(Activation::<f64>::derivative_max(&Selu), lambda_alpha);
    let just_below = Activation::<f64>::derivative(&Selu, -1e-9);
    assert!(just_below < lambda_alpha && lambda_alpha - just_below < 1e-8);
    assert_eq!(Activation::<f64>::derivative(&Selu, 1.0), Selu::LAMBDA);
    // Softplus: sigmoid(x) -> 1 as x -> inf, never above.
    assert!(1.0 - Activation::<f64>::derivative(&Softplus, 15.0) < 1e-6);
    // ELU with alpha = 2: the maximum 2 sits at 0-, ReLU-side slope 1.
    let elu = Elu { alpha: 2.0 };
    assert_eq!(Activation::<f64>::derivative_max(&elu), 2.0);
    assert!(2.0 - Activation::<f64>::derivative(&elu, -1e-9) < 1e-8);
    // LeakyRelu with a negative slope below -1: |f'| at most |slope|, and f' may be negative.
    let leaky = LeakyRelu { slope: -1.5 };
    assert_eq!(Activation::<f64>::derivative_max(&leaky), 1.5);
    assert!(!Activation::<f64>::derivative_is_nonnegative(&leaky));
}

/// GELU (tanh form) peaks at 1.1289931 near x = 1.4185 and dips to -0.1289931 near x = -1.4185;
/// SiLU peaks at 1.0998393 near x = 2.3994 and dips to -0.0998393 (roots of f'' = 0, solved
/// independently by ternary search). The declared maxima must be those peaks, rounded up.
#[test]
fn gelu_and_silu_extrema_match_the_analytic_values() {
    for (act, peak, dip) in [
        (&Gelu as &dyn Activation<f64>, 1.128_993_07, -0.128_993_07),
        (&Silu, 1.099_839_32, -0.099_839_32),
    ] {
        let scan = scan_derivative(act);
        let declared = act.derivative_max();
        assert!(declared >= peak && declared - peak < 1e-7, "{}", act.name());
        assert!(
            (scan.max_abs - peak).abs() < 1e-7,
            "{}: {}",
            act.name(),
            scan.max_abs
        );
        assert!(
            (scan.min - dip).abs() < 1e-7,
            "{}: {}",
            act.name(),
            scan.min
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Batch methods against their element-wise definitions.

fn batch_agrees<T: RealField + Copy>(
    act: &dyn Activation<T>,
    pre: &DMatrix<T>,
    grad: &[T],
) -> Result<(), TestCaseError> {
    let name = act.name();
    let ulps: T = T::default_epsilon() * c(4.0);
    let rows = pre.nrows();
    for (column, upstream) in pre.as_slice().chunks(rows).zip(grad.chunks(rows)) {
        let mut post = vec![T::zero(); rows];
        act.value_slice(column, &mut post);
        for (&x, &y) in column.iter().zip(&post) {
            let expected = act.value(x);
            prop_assert!(
                relative_eq!(y, expected, epsilon = ulps, max_relative = ulps),
                "{name}: value_slice gave {y}, value({x}) = {expected}"
            );
        }

        let mut scaled = upstream.to_vec();
        let sum = act.scale_by_derivative(column, &post, &mut scaled);
        let derivatives: Vec<T> = column
            .iter()
            .zip(&post)
            .map(|(&x, &y)| act.derivative_from_value(x, y))
            .collect();
        for i in 0..rows {
            let expected = upstream[i] * derivatives[i];
            prop_assert!(
                relative_eq!(scaled[i], expected, epsilon = ulps, max_relative = ulps),
                "{name}: scaled gradient {} vs {} at x = {}",
                scaled[i],
                expected,
                column[i]
            );
            // The value-based derivative agrees with the direct one.
            let direct = act.derivative(column[i]);
            prop_assert!(
                relative_eq!(
                    derivatives[i],
                    direct,
                    epsilon = ulps,
                    max_relative = ulps * c(4.0)
                ),
                "{name}: derivative_from_value {} vs derivative {} at x = {}",
                derivatives[i],
                direct,
                column[i]
            );
        }
        let expected_sum = derivatives.iter().fold(T::zero(), |s, &d| s + d);
        let sum_tolerance = ulps * c(rows as f64);
        prop_assert!(
            relative_eq!(
                sum.sum,
                expected_sum,
                epsilon = sum_tolerance,
                max_relative = sum_tolerance
            ),
            "{name}: derivative sum {} vs {}",
            sum.sum,
            expected_sum
        );
        let expected_zeros = derivatives.iter().filter(|&&d| d == T::zero()).count();
        prop_assert_eq!(sum.zeros, expected_zeros, "{}: zero count", name);
    }

    // The block method (one call for all the units, as the layers use it) gives exactly what
    // one call per column gives.
    let mut post = vec![T::zero(); pre.len()];
    act.value_slice(pre.as_slice(), &mut post);
    let mut per_column = grad.to_vec();
    let expected_sums: Vec<DerivativeSum<T>> = pre
        .as_slice()
        .chunks(rows)
        .zip(post.chunks(rows))
        .zip(per_column.chunks_mut(rows))
        .map(|((column, post), g)| act.scale_by_derivative(column, post, g))
        .collect();
    let mut block = grad.to_vec();
    let unset = DerivativeSum {
        sum: c(-1.0),
        zeros: usize::MAX,
    };
    let mut sums = vec![unset; pre.ncols()];
    act.scale_columns_by_derivative(pre.as_slice(), &post, &mut block, rows, &mut sums);
    prop_assert_eq!(&block, &per_column, "{}: block-scaled gradient", name);
    prop_assert_eq!(&sums, &expected_sums, "{}: block derivative sums", name);
    // Zero rows: nothing to do, nothing touched.
    act.scale_columns_by_derivative(pre.as_slice(), &post, &mut block, 0, &mut sums);
    prop_assert_eq!(
        &block,
        &per_column,
        "{}: rows = 0 touched the gradient",
        name
    );
    Ok(())
}

fn batch_with_gradient_f64() -> impl Strategy<Value = (DMatrix<f64>, Vec<f64>)> {
    batch_matrix_f64(1..24, 1..5).prop_flat_map(|pre| {
        let n = pre.len();
        (Just(pre), proptest::collection::vec(-5.0..5.0f64, n))
    })
}

fn batch_with_gradient_f32() -> impl Strategy<Value = (DMatrix<f32>, Vec<f32>)> {
    batch_matrix_f32(1..24, 1..5).prop_flat_map(|pre| {
        let n = pre.len();
        (Just(pre), proptest::collection::vec(-5.0..5.0f32, n))
    })
}

proptest! {
    #[test]
    fn batch_methods_agree_with_elementwise_f64((pre, grad) in batch_with_gradient_f64()) {
        for act in all_builtin::<f64>() {
            batch_agrees(&*act, &pre, &grad)?;
        }
    }

    #[test]
    fn batch_methods_agree_with_elementwise_f32((pre, grad) in batch_with_gradient_f32()) {
        for act in all_builtin::<f32>() {
            batch_agrees(&*act, &pre, &grad)?;
        }
    }

    /// Slices of different lengths: only the common prefix is touched and counted.
    #[test]
    fn batch_methods_use_the_common_length(
        pre in proptest::collection::vec(moderate_inputs_f64(), 0..12),
        extra in 1..5usize,
    ) {
        for act in all_builtin::<f64>() {
            let n = pre.len();
            let sentinel = 12345.0;
            let mut post = vec![sentinel; n + extra];
            act.value_slice(&pre, &mut post);
            prop_assert!(post[n..].iter().all(|&v| v == sentinel), "{}", act.name());

            let post: Vec<f64> = pre.iter().map(|&x| act.value(x)).collect();
            let mut short_grad = vec![1.0; n.saturating_sub(extra)];
            let m = short_grad.len();
            let sum = act.scale_by_derivative(&pre, &post, &mut short_grad);
            let expected: f64 = pre[..m].iter().map(|&x| act.derivative(x)).sum();
            prop_assert!(
                relative_eq!(sum.sum, expected, epsilon = 1e-12, max_relative = 1e-12),
                "{}: sum over {} of {} elements is {} not {}", act.name(), m, n, sum.sum, expected
            );
            let zeros = pre[..m].iter().filter(|&&x| act.derivative(x) == 0.0).count();
            prop_assert_eq!(sum.zeros, zeros, "{}", act.name());
        }
    }
}

#[test]
fn identity_and_relu_batches_by_hand() {
    // ReLU: derivatives 0, 0, 1, 1 (0 at the kink by convention), sum 2, two zeros.
    let pre = [-2.0f64, 0.0, 0.5, 3.0];
    let post: Vec<f64> = pre.iter().map(|&x| Relu.value(x)).collect();
    assert_eq!(post, [0.0, 0.0, 0.5, 3.0]);
    let mut grad = [10.0, 20.0, 30.0, 40.0];
    let sum = Activation::<f64>::scale_by_derivative(&Relu, &pre, &post, &mut grad);
    assert_eq!(grad, [0.0, 0.0, 30.0, 40.0]);
    assert_eq!((sum.sum, sum.zeros), (2.0, 2));

    let mut grad = [10.0, 20.0, 30.0, 40.0];
    let sum = Activation::<f64>::scale_by_derivative(&Identity, &pre, &pre, &mut grad);
    assert_eq!(grad, [10.0, 20.0, 30.0, 40.0]);
    assert_eq!((sum.sum, sum.zeros), (4.0, 0));
}

// ---------------------------------------------------------------------------------------------
// The kit itself: the checks can fail, and the strategies deliver what they promise.

/// The sigmoid with its derivative 1% too large.
#[derive(Debug)]
struct SigmoidOnePercentOff;

impl Activation<f64> for SigmoidOnePercentOff {
    fn name(&self) -> &'static str {
        "sigmoid_one_percent_off"
    }
    fn value(&self, x: f64) -> f64 {
        Sigmoid.value(x)
    }
    fn derivative(&self, x: f64) -> f64 {
        1.01 * Activation::<f64>::derivative(&Sigmoid, x)
    }
    fn derivative_max(&self) -> f64 {
        0.2525
    }
}

/// Tanh whose value-based derivative forgets the square: `1 - y`. (Beyond x = 3 the error,
/// `y (1 - y)`, falls under the `f32` absolute floor of 1e-4.)
#[derive(Debug)]
struct TanhWrongFromValue;

impl Activation<f32> for TanhWrongFromValue {
    fn name(&self) -> &'static str {
        "tanh_wrong_from_value"
    }
    fn value(&self, x: f32) -> f32 {
        x.tanh()
    }
    fn derivative(&self, x: f32) -> f32 {
        1.0 - x.tanh() * x.tanh()
    }
    fn derivative_max(&self) -> f32 {
        1.0
    }
    fn derivative_from_value(&self, _x: f32, y: f32) -> f32 {
        1.0 - y
    }
}

/// `|x|`, with its kink at 0 not declared.
#[derive(Debug)]
struct AbsUndeclaredKink;

impl Activation<f64> for AbsUndeclaredKink {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn value(&self, x: f64) -> f64 {
        x.abs()
    }
    fn derivative(&self, x: f64) -> f64 {
        if x > 0.0 {
            1.0
        } else {
            -1.0
        }
    }
    fn derivative_max(&self) -> f64 {
        1.0
    }
    fn derivative_is_nonnegative(&self) -> bool {
        false
    }
}

/// The textbook softplus `ln(1 + e^x)`, which overflows to infinity at x = 1000.
#[derive(Debug)]
struct NaiveSoftplus;

impl Activation<f64> for NaiveSoftplus {
    fn name(&self) -> &'static str {
        "naive_softplus"
    }
    fn value(&self, x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }
    fn derivative(&self, x: f64) -> f64 {
        Activation::<f64>::derivative(&Sigmoid, x)
    }
    fn derivative_max(&self) -> f64 {
        1.0
    }
}

/// The textbook sigmoid derivative `e^-x / (1 + e^-x)^2`, which is `inf / inf` at x = -1000.
#[derive(Debug)]
struct NaiveSigmoid;

impl Activation<f64> for NaiveSigmoid {
    fn name(&self) -> &'static str {
        "naive_sigmoid"
    }
    fn value(&self, x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }
    fn derivative(&self, x: f64) -> f64 {
        let e = (-x).exp();
        e / ((1.0 + e) * (1.0 + e))
    }
    fn derivative_max(&self) -> f64 {
        0.25
    }
}

/// The negated sigmoid, with the default claim that the derivative is non-negative, and a
/// derivative maximum a fifth too small.
#[derive(Debug)]
struct NegatedSigmoid;

impl Activation<f64> for NegatedSigmoid {
    fn name(&self) -> &'static str {
        "negated_sigmoid"
    }
    fn value(&self, x: f64) -> f64 {
        -Sigmoid.value(x)
    }
    fn derivative(&self, x: f64) -> f64 {
        -Activation::<f64>::derivative(&Sigmoid, x)
    }
    fn derivative_max(&self) -> f64 {
        0.25
    }
}

/// The sigmoid with too small a declared maximum.
#[derive(Debug)]
struct SigmoidMaxTooSmall;

impl Activation<f64> for SigmoidMaxTooSmall {
    fn name(&self) -> &'static str {
        "sigmoid_max_too_small"
    }
    fn value(&self, x: f64) -> f64 {
        Sigmoid.value(x)
    }
    fn derivative(&self, x: f64) -> f64 {
        Activation::<f64>::derivative(&Sigmoid, x)
    }
    fn derivative_max(&self) -> f64 {
        0.2
    }
}

proptest! {
    #[test]
    fn derivative_check_catches_a_one_percent_error(x in -8.0..8.0f64) {
        let mismatch = check_activation_derivative(&SigmoidOnePercentOff, x, DerivativeTolerance::for_f64());
        let mismatch = match mismatch {
            Err(m) => m,
            Ok(()) => return Err(TestCaseError::fail(format!("1% error at {x} passed"))),
        };
        prop_assert_eq!(mismatch.method, DerivativeMethod::Derivative);
        prop_assert!((mismatch.analytic / mismatch.numeric - 1.01).abs() < 1e-6);
        prop_assert_eq!(mismatch.x, x);
    }

    #[test]
    fn derivative_check_catches_a_wrong_value_based_derivative(x in 0.05..3.0f32) {
        let result = check_activation_derivative(&TanhWrongFromValue, x, DerivativeTolerance::for_f32());
        let mismatch = match result {
            Err(m) => m,
            Ok(()) => return Err(TestCaseError::fail(format!("1 - y passed at {x}"))),
        };
        prop_assert_eq!(mismatch.method, DerivativeMethod::DerivativeFromValue);
    }
}

#[test]
fn derivative_check_needs_kinks_declared() {
    let h = finite_difference_step(1e-9f64);
    // Straddling the undeclared kink of |x|, the difference quotient is x / h, not 1.
    let mismatch =
        check_activation_derivative(&AbsUndeclaredKink, h / 2.0, DerivativeTolerance::for_f64())
            .unwrap_err();
    assert!((mismatch.numeric - 0.5).abs() < 1e-6);
    // Away from it, |x| passes.
    assert!(
        check_activation_derivative(&AbsUndeclaredKink, 0.3, DerivativeTolerance::for_f64())
            .is_ok()
    );
    // ReLU declares its kink and is skipped there.
    assert!(check_activation_derivative(&Relu, h / 2.0, DerivativeTolerance::for_f64()).is_ok());
}

#[test]
fn mismatch_display_names_the_activation_and_method() {
    let mismatch =
        check_activation_derivative(&SigmoidOnePercentOff, 1.0, DerivativeTolerance::for_f64())
            .unwrap_err();
    let text = mismatch.to_string();
    assert!(text.contains("sigmoid_one_percent_off"), "{text}");
    assert!(text.contains("derivative(x)"), "{text}");
}

#[test]
fn bounds_check_catches_overflow_nan_sign_and_maximum() {
    let overflow = check_activation_bounds(&NaiveSoftplus, 1000.0).unwrap_err();
    assert_eq!(overflow.kind, BoundsViolationKind::NonFiniteValue);

    assert!(check_activation_bounds(&NaiveSoftplus, -1000.0).is_ok());
    let nan = check_activation_bounds(&NaiveSigmoid, -1000.0).unwrap_err();
    assert_eq!(
        nan.kind,
        BoundsViolationKind::NonFiniteDerivative(DerivativeMethod::Derivative)
    );

    let negative = check_activation_bounds(&NegatedSigmoid, 0.0).unwrap_err();
    assert_eq!(
        negative.kind,
        BoundsViolationKind::NegativeDerivative(DerivativeMethod::Derivative)
    );
    assert!(negative.to_string().contains("negated_sigmoid"));

    let too_big = check_activation_bounds(&SigmoidMaxTooSmall, 0.0).unwrap_err();
    assert_eq!(
        too_big.kind,
        BoundsViolationKind::DerivativeAboveMax(DerivativeMethod::Derivative)
    );
    assert_eq!(too_big.derivative, 0.25);
    // Where the derivative is below 0.2 the same activation passes: the check is local.
    assert!(check_activation_bounds(&SigmoidMaxTooSmall, 3.0).is_ok());
}

#[test]
fn central_difference_is_accurate_on_known_functions() {
    assert_eq!(finite_difference_step(0.0f64), f64::EPSILON.cbrt());
    assert_eq!(finite_difference_step(-8.0f32), 8.0 * f32::EPSILON.cbrt());
    let e = std::f64::consts::E;
    assert!(relative_eq!(
        central_difference(f64::exp, 1.0),
        e,
        max_relative = 1e-9
    ));
    assert!(relative_eq!(
        central_difference(f64::sin, 1.0),
        1f64.cos(),
        max_relative = 1e-9
    ));
    assert!(relative_eq!(
        central_difference(f32::ln, 3.0),
        1.0 / 3.0,
        max_relative = 1e-4
    ));
    // Exact for a line, up to rounding.
    assert!(relative_eq!(
        central_difference(|x: f64| 3.0 * x - 2.0, 1e10),
        3.0,
        max_relative = 1e-9
    ));
}

fn sample<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("strategy").current())
        .collect()
}

#[test]
fn strategies_deliver_their_promised_inputs() {
    let moderate = sample(moderate_inputs_f64(), 2000);
    assert!(moderate.iter().all(|x| (-30.0..=30.0).contains(x)));
    assert!(moderate.iter().any(|&x| x < -20.0) && moderate.iter().any(|&x| x > 20.0));

    let extreme = sample(extreme_inputs_f64(), 4000);
    assert!(extreme.iter().all(|x| x.is_finite()));
    assert!(extreme.iter().any(|x| x.is_subnormal()));
    assert!(extreme.iter().any(|&x| x >= 1e300) && extreme.iter().any(|&x| x <= -1e300));
    assert!(extreme.contains(&1000.0) && extreme.contains(&-1000.0));

    let extreme = sample(extreme_inputs_f32(), 4000);
    assert!(extreme.iter().all(|x| x.is_finite()));
    assert!(extreme.iter().any(|x| x.is_subnormal()));
    assert!(extreme.iter().any(|&x| x >= 1e30) && extreme.iter().any(|&x| x <= -1e30));

    let batches = sample(batch_matrix_f32(2..5, 3..4), 200);
    assert!(batches
        .iter()
        .all(|m| (2..5).contains(&m.nrows()) && m.ncols() == 3));
    assert!(batches.iter().any(|m| m.nrows() == 2) && batches.iter().any(|m| m.nrows() == 4));
    // An empty range is read as its start.
    #[allow(clippy::reversed_empty_ranges)]
    let fixed = sample(batch_matrix_f64(3..3, 7..0), 20);
    assert!(fixed.iter().all(|m| m.shape() == (3, 7)));
}
