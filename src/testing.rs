//! Tools to property-test your own [`Activation`] and [`Layer`](crate::layer::Layer):
//! finite-difference checks of the derivative and of a layer's gradients
//! ([`check_layer_gradients`]), bound checks, and [`proptest`](mod@proptest) strategies for
//! inputs and batches.
//!
//! Enabled by the cargo feature `testing` (which pulls in `proptest` as a normal dependency):
//!
//! ```toml
//! [dev-dependencies]
//! vanishing-gradient = { version = "0.1", features = ["testing"] }
//! ```
//!
//! What the checks establish:
//!
//! - [`check_activation_derivative`]: [`Activation::derivative`] and
//!   [`Activation::derivative_from_value`] agree with a central finite difference of
//!   [`Activation::value`] at `x`, within a [`DerivativeTolerance`].
//! - [`check_activation_bounds`]: the value and the derivative are finite for a finite `x`, and
//!   the derivative respects the declared [`Activation::derivative_max`] (and its sign, when
//!   [`Activation::derivative_is_nonnegative`] says so). The crate's saturation statistics divide
//!   by `derivative_max`, so a wrong maximum gives wrong diagnoses.
//!
//! Drive them with [`moderate_inputs_f64`] (where a finite difference is meaningful) and
//! [`extreme_inputs_f64`] (anything finite, where only the bounds are checked), or their `f32`
//! twins.
//!
//! # Example: testing your own activation
//!
//! ```
//! use proptest::prelude::*;
//! use vanishing_gradient::activation::Activation;
//! use vanishing_gradient::testing::{
//!     check_activation_bounds, check_activation_derivative, extreme_inputs_f64,
//!     moderate_inputs_f64, DerivativeTolerance,
//! };
//!
//! /// `tanh(x / 2)`: derivative `(1 - tanh(x / 2)^2) / 2`, at most 1/2 (at `x = 0`).
//! #[derive(Debug)]
//! struct HalfTanh;
//!
//! impl Activation<f64> for HalfTanh {
//!     fn name(&self) -> &'static str {
//!         "half_tanh"
//!     }
//!     fn value(&self, x: f64) -> f64 {
//!         (x / 2.0).tanh()
//!     }
//!     fn derivative(&self, x: f64) -> f64 {
//!         let t = (x / 2.0).tanh();
//!         0.5 * (1.0 - t * t)
//!     }
//!     fn derivative_max(&self) -> f64 {
//!         0.5
//!     }
//! }
//!
//! // The closure form of `proptest!` runs the cases right here; in a test file, use the
//! // `proptest! { #[test] fn ... }` form instead.
//! proptest!(|(x in moderate_inputs_f64())| {
//!     check_activation_derivative(&HalfTanh, x, DerivativeTolerance::for_f64())?;
//! });
//! proptest!(|(x in extreme_inputs_f64())| {
//!     check_activation_bounds(&HalfTanh, x)?;
//! });
//!
//! // The check can fail: forgetting the chain rule's factor 1/2 is caught.
//! #[derive(Debug)]
//! struct ForgotChainRule;
//!
//! impl Activation<f64> for ForgotChainRule {
//!     fn name(&self) -> &'static str {
//!         "forgot_chain_rule"
//!     }
//!     fn value(&self, x: f64) -> f64 {
//!         (x / 2.0).tanh()
//!     }
//!     fn derivative(&self, x: f64) -> f64 {
//!         let t = (x / 2.0).tanh();
//!         1.0 - t * t
//!     }
//!     fn derivative_max(&self) -> f64 {
//!         1.0
//!     }
//! }
//!
//! let mismatch = check_activation_derivative(&ForgotChainRule, 0.3, DerivativeTolerance::for_f64())
//!     .unwrap_err();
//! assert!((mismatch.analytic / mismatch.numeric - 2.0).abs() < 1e-6);
//! ```

mod layer_gradient;
pub use layer_gradient::{check_layer_gradients, LayerGradientError, LayerGradientMismatch};

use std::fmt;
use std::ops::{Range, RangeInclusive};

use approx::relative_eq;
use nalgebra::{DMatrix, RealField, Scalar};
use proptest::prelude::*;

use crate::activation::{cast, Activation};

/// The step `h` of the central difference at `x`: `cbrt(eps) * max(1, |x|)`.
///
/// The cube root of the machine epsilon balances the truncation error of the central difference
/// (`h^2 f'''(x) / 6`) against the rounding error of `f(x + h) - f(x - h)` (`eps |f(x)| / h`); the
/// factor `max(1, |x|)` keeps `x + h` distinct from `x` for large `|x|`. For `f64` the step is
/// about `6.1e-6 max(1, |x|)`, for `f32` about `4.9e-3 max(1, |x|)`.
///
/// ```
/// use vanishing_gradient::testing::finite_difference_step;
///
/// let h = finite_difference_step(0.5f64);
/// assert!((h - f64::EPSILON.cbrt()).abs() < 1e-20);
/// assert_eq!(finite_difference_step(-100.0f64), 100.0 * h);
/// ```
pub fn finite_difference_step<T: RealField + Copy>(x: T) -> T {
    T::default_epsilon().cbrt() * x.abs().max(T::one())
}

/// The central finite difference `(f(x + h) - f(x - h)) / ((x + h) - (x - h))` with the step `h`
/// of [`finite_difference_step`].
///
/// Dividing by the difference of the two rounded abscissae (rather than by `2h`) removes the
/// error of rounding `x +- h`. The error is of order `eps^(2/3)` times the size of `f` and of its
/// third derivative near `x`: about `4e-11` for `f64` and `2.4e-5` for `f32`, relative. Near a
/// kink of `f` (closer than `h`) the result is meaningless.
///
/// ```
/// use vanishing_gradient::testing::central_difference;
///
/// let slope = central_difference(|x: f64| x * x * x, 2.0);
/// assert!((slope - 12.0).abs() < 1e-8);
/// ```
pub fn central_difference<T: RealField + Copy>(f: impl Fn(T) -> T, x: T) -> T {
    let h = finite_difference_step(x);
    let above = x + h;
    let below = x - h;
    (f(above) - f(below)) / (above - below)
}

/// How close an analytic derivative must be to the central difference: `approx`'s
/// `relative_eq!(analytic, numeric, epsilon = absolute, max_relative = relative)`, which accepts
/// `|analytic - numeric| <= absolute` or `|analytic - numeric| <= relative * max(|analytic|, |numeric|)`.
///
/// The absolute floor is needed where the derivative is tiny but the value is not: at `x = 10`
/// the sigmoid is `1 - 4.5e-5`, so in `f32` its central difference has an absolute error of about
/// one unit in the last place of 1 divided by `2h`, `6e-8 / 0.1 = 6e-7`, which is 1.3% of the true
/// derivative. [`for_f32`](DerivativeTolerance::for_f32) and
/// [`for_f64`](DerivativeTolerance::for_f64) give defaults that every built-in activation passes
/// over `[-30, 30]` with a wide margin; [`Default`] picks the one for the type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivativeTolerance<T> {
    /// Differences up to this are accepted whatever the derivative's size.
    pub absolute: T,
    /// Differences up to this fraction of the larger of the two derivatives are accepted.
    pub relative: T,
}

impl<T> DerivativeTolerance<T> {
    /// A tolerance with the given absolute floor and relative bound.
    ///
    /// ```
    /// use vanishing_gradient::testing::DerivativeTolerance;
    ///
    /// let strict = DerivativeTolerance::new(1e-10f64, 1e-8);
    /// assert_eq!(strict.relative, 1e-8);
    /// ```
    pub fn new(absolute: T, relative: T) -> Self {
        Self { absolute, relative }
    }
}

impl DerivativeTolerance<f32> {
    /// `absolute = 1e-4`, `relative = 2e-3`.
    ///
    /// An `f32` central difference is good to about `eps^(2/3) = 2.4e-5` relative at best, and
    /// worse where the function's value is large compared to its derivative (rounding error
    /// `eps |f(x)| / h`) or strongly curved (truncation `h^2 f'''(x) / 6`). The built-in
    /// activations stay within `1e-5` absolute or `2e-4` relative at every point of a
    /// 600 001-point grid on `[-30, 30]` (the largest relative errors, up to `7e-4`, occur where
    /// the derivative is small and the absolute floor applies); these bounds give a margin of ten
    /// without letting a wrong formula through (a missing factor or a wrong sign is wrong by far
    /// more than 0.2%).
    pub fn for_f32() -> Self {
        Self::new(1e-4, 2e-3)
    }
}

impl DerivativeTolerance<f64> {
    /// `absolute = 1e-8`, `relative = 1e-6`.
    ///
    /// An `f64` central difference is good to about `eps^(2/3) = 3.7e-11` relative; the built-in
    /// activations stay within `1.4e-11` absolute or `1.4e-9` relative at every point of a
    /// 600 001-point grid on `[-30, 30]`. These bounds leave a margin of several hundred for your
    /// own, less carefully evaluated functions, and still reject any derivative that is wrong by
    /// more than one part in a million.
    pub fn for_f64() -> Self {
        Self::new(1e-8, 1e-6)
    }
}

impl Default for DerivativeTolerance<f32> {
    /// [`DerivativeTolerance::for_f32`].
    fn default() -> Self {
        Self::for_f32()
    }
}

impl Default for DerivativeTolerance<f64> {
    /// [`DerivativeTolerance::for_f64`].
    fn default() -> Self {
        Self::for_f64()
    }
}

/// Which of the two derivative methods of an [`Activation`] a check refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DerivativeMethod {
    /// [`Activation::derivative`]`(x)`.
    Derivative,
    /// [`Activation::derivative_from_value`]`(x, value(x))`.
    DerivativeFromValue,
}

impl fmt::Display for DerivativeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DerivativeMethod::Derivative => f.write_str("derivative(x)"),
            DerivativeMethod::DerivativeFromValue => {
                f.write_str("derivative_from_value(x, value(x))")
            }
        }
    }
}

/// An analytic derivative that disagrees with the central finite difference; returned by
/// [`check_activation_derivative`].
///
/// It implements [`std::error::Error`], so `?` turns it into a failed case inside a
/// `proptest!` body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivativeMismatch<T> {
    /// The activation's [`name`](Activation::name).
    pub activation: &'static str,
    /// The input at which the two disagree.
    pub x: T,
    /// The activation's derivative at `x`, from `method`.
    pub analytic: T,
    /// The central finite difference of the value at `x`.
    pub numeric: T,
    /// Which method gave `analytic`.
    pub method: DerivativeMethod,
}

impl<T: RealField + Copy> fmt::Display for DerivativeMismatch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} = {} but the central finite difference is {} at x = {}",
            self.activation, self.method, self.analytic, self.numeric, self.x
        )
    }
}

impl<T: RealField + Copy> std::error::Error for DerivativeMismatch<T> {}

/// Checks that `act.derivative(x)` and `act.derivative_from_value(x, act.value(x))` both agree with
/// the [`central_difference`] of `act.value` at `x`, within `tolerance`.
///
/// Points within `2h` of one of [`Activation::nondifferentiable_points`] (with `h` the
/// [`finite_difference_step`] at `x`) pass without a comparison: the difference quotient
/// straddles the kink there. Use inputs where the central difference is meaningful, such as
/// [`moderate_inputs_f64`]; a non-finite derivative or difference is reported as a mismatch
/// (unless both are the same infinity).
///
/// # Errors
/// A [`DerivativeMismatch`] for the first method that disagrees.
///
/// ```
/// use vanishing_gradient::activation::{Sigmoid, Relu};
/// use vanishing_gradient::testing::{check_activation_derivative, DerivativeTolerance};
///
/// let tolerance = DerivativeTolerance::for_f64();
/// assert!(check_activation_derivative(&Sigmoid, 1.5, tolerance).is_ok());
/// // At ReLU's kink there is nothing to compare.
/// assert!(check_activation_derivative(&Relu, 0.0, tolerance).is_ok());
/// ```
pub fn check_activation_derivative<T, A>(
    act: &A,
    x: T,
    tolerance: DerivativeTolerance<T>,
) -> Result<(), DerivativeMismatch<T>>
where
    T: RealField + Copy,
    A: Activation<T> + ?Sized,
{
    let h = finite_difference_step(x);
    let two: T = cast(2.0);
    let near_kink = act
        .nondifferentiable_points()
        .iter()
        .any(|&point| (x - cast::<T>(point)).abs() <= two * h);
    if near_kink {
        return Ok(());
    }
    let numeric = central_difference(|z| act.value(z), x);
    let candidates = [
        (DerivativeMethod::Derivative, act.derivative(x)),
        (
            DerivativeMethod::DerivativeFromValue,
            act.derivative_from_value(x, act.value(x)),
        ),
    ];
    for (method, analytic) in candidates {
        let agrees = relative_eq!(
            analytic,
            numeric,
            epsilon = tolerance.absolute,
            max_relative = tolerance.relative
        );
        if !agrees {
            return Err(DerivativeMismatch {
                activation: act.name(),
                x,
                analytic,
                numeric,
                method,
            });
        }
    }
    Ok(())
}

/// What [`check_activation_bounds`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BoundsViolationKind {
    /// [`Activation::derivative_max`] is negative or not finite.
    InvalidDerivativeMax,
    /// The value is NaN, or infinite although `|f(0)| + derivative_max * |x|` is representable.
    NonFiniteValue,
    /// The derivative from this method is not finite.
    NonFiniteDerivative(DerivativeMethod),
    /// The derivative from this method is negative although
    /// [`Activation::derivative_is_nonnegative`] says it never is.
    NegativeDerivative(DerivativeMethod),
    /// The derivative's magnitude from this method exceeds [`Activation::derivative_max`].
    DerivativeAboveMax(DerivativeMethod),
}

/// A value or derivative outside what the activation declares; returned by
/// [`check_activation_bounds`].
///
/// It implements [`std::error::Error`], so `?` turns it into a failed case inside a
/// `proptest!` body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundsViolation<T> {
    /// The activation's [`name`](Activation::name).
    pub activation: &'static str,
    /// The input.
    pub x: T,
    /// `value(x)`.
    pub value: T,
    /// The offending derivative (for a value violation, `derivative(x)`).
    pub derivative: T,
    /// The declared [`Activation::derivative_max`].
    pub derivative_max: T,
    /// What is wrong.
    pub kind: BoundsViolationKind,
}

impl<T: RealField + Copy> fmt::Display for BoundsViolation<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (activation, x, d, max) = (
            self.activation,
            self.x,
            self.derivative,
            self.derivative_max,
        );
        match self.kind {
            BoundsViolationKind::InvalidDerivativeMax => {
                write!(
                    f,
                    "{activation}: derivative_max() = {max} is negative or not finite"
                )
            }
            BoundsViolationKind::NonFiniteValue => {
                write!(f, "{activation}: value({x}) = {} is not finite", self.value)
            }
            BoundsViolationKind::NonFiniteDerivative(method) => {
                write!(f, "{activation}: {method} = {d} is not finite at x = {x}")
            }
            BoundsViolationKind::NegativeDerivative(method) => write!(
                f,
                "{activation}: {method} = {d} is negative at x = {x}, \
                 but derivative_is_nonnegative() is true"
            ),
            BoundsViolationKind::DerivativeAboveMax(method) => write!(
                f,
                "{activation}: |{method}| = {} exceeds derivative_max() = {max} at x = {x}",
                d.abs()
            ),
        }
    }
}

impl<T: RealField + Copy> std::error::Error for BoundsViolation<T> {}

/// The relative slack, in machine epsilons, that [`check_activation_bounds`] allows above
/// [`Activation::derivative_max`]: a maximum declared to the type's precision may be exceeded by
/// the rounding of the derivative's own formula.
const DERIVATIVE_MAX_SLACK_EPSILONS: f64 = 64.0;

/// Checks, at a finite `x`, that the activation keeps its declared bounds:
///
/// - [`derivative_max`](Activation::derivative_max) is finite and non-negative;
/// - `value(x)` is not NaN, and is finite unless `|f(0)| + derivative_max * |x|` overflows (a
///   function of slope above 1, such as SELU, may legitimately overflow near `T::MAX`);
/// - `derivative(x)` and `derivative_from_value(x, value(x))` are finite;
/// - both lie in `[0, derivative_max]` when
///   [`derivative_is_nonnegative`](Activation::derivative_is_nonnegative) is true, and in
///   `[-derivative_max, derivative_max]` otherwise, with a slack of 64 machine epsilons relative
///   to the maximum for rounding.
///
/// A NaN or infinite `x` is outside the contract and passes without a check.
///
/// # Errors
/// A [`BoundsViolation`] naming the first broken rule.
///
/// ```
/// use vanishing_gradient::activation::{Gelu, Sigmoid};
/// use vanishing_gradient::testing::check_activation_bounds;
///
/// for x in [-1e300, -1000.0, -1.5, 0.0, 5e-324, 1.41, 1e300] {
///     assert!(check_activation_bounds(&Sigmoid, x).is_ok());
///     assert!(check_activation_bounds(&Gelu, x).is_ok());
/// }
/// ```
pub fn check_activation_bounds<T, A>(act: &A, x: T) -> Result<(), BoundsViolation<T>>
where
    T: RealField + Copy,
    A: Activation<T> + ?Sized,
{
    if !x.is_finite() {
        return Ok(());
    }
    let max = act.derivative_max();
    let value = act.value(x);
    let derivative = act.derivative(x);
    let violation = |derivative: T, kind: BoundsViolationKind| BoundsViolation {
        activation: act.name(),
        x,
        value,
        derivative,
        derivative_max: max,
        kind,
    };
    if !(max.is_finite() && max >= T::zero()) {
        return Err(violation(
            derivative,
            BoundsViolationKind::InvalidDerivativeMax,
        ));
    }
    let lipschitz_bound = act.value(T::zero()).abs() + max * x.abs();
    let may_overflow = !lipschitz_bound.is_finite();
    // An infinity compares above zero; a NaN compares with nothing.
    let value_is_infinite = !value.is_finite() && value.abs() > T::zero();
    let value_ok = value.is_finite() || (may_overflow && value_is_infinite);
    if !value_ok {
        return Err(violation(derivative, BoundsViolationKind::NonFiniteValue));
    }
    let slack = T::default_epsilon() * cast::<T>(DERIVATIVE_MAX_SLACK_EPSILONS);
    let limit = max + max * slack;
    let candidates = [
        (DerivativeMethod::Derivative, derivative),
        (
            DerivativeMethod::DerivativeFromValue,
            act.derivative_from_value(x, value),
        ),
    ];
    for (method, d) in candidates {
        if !d.is_finite() {
            return Err(violation(
                d,
                BoundsViolationKind::NonFiniteDerivative(method),
            ));
        }
        if act.derivative_is_nonnegative() && d < T::zero() {
            return Err(violation(
                d,
                BoundsViolationKind::NegativeDerivative(method),
            ));
        }
        if d.abs() > limit {
            return Err(violation(
                d,
                BoundsViolationKind::DerivativeAboveMax(method),
            ));
        }
    }
    Ok(())
}

/// Inputs where a finite-difference check is meaningful: mostly uniform on `[-30, 30]` (which
/// covers the saturated tails of sigmoid and tanh), a tenth dense on `[-1, 1]` where most
/// activations bend, and now and then exactly zero.
pub fn moderate_inputs_f64() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        8 => -30.0..30.0f64,
        1 => -1.0..1.0f64,
        1 => Just(0.0f64),
    ]
}

/// The `f32` twin of [`moderate_inputs_f64`].
pub fn moderate_inputs_f32() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        8 => -30.0..30.0f32,
        1 => -1.0..1.0f32,
        1 => Just(0.0f32),
    ]
}

/// Any finite `f64`, with the dangerous ones often: zeros of both signs, subnormals, `+-MAX`,
/// `+-1e300`, `+-1000`, the arguments where `exp` overflows (709.8) or underflows (-745), and
/// values uniform on `[-1000, 1000]`. Never NaN or infinite.
pub fn extreme_inputs_f64() -> impl Strategy<Value = f64> + Clone {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let special = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1000.0,
        -1000.0,
        709.8,
        -709.8,
        745.2,
        -745.2,
        1e30,
        -1e30,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
    ];
    prop_oneof![
        4 => POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
        2 => proptest::sample::select(special),
        2 => -1000.0..1000.0f64,
        1 => moderate_inputs_f64(),
    ]
}

/// Any finite `f32`, with the dangerous ones often: zeros of both signs, subnormals, `+-MAX`,
/// `+-1e30`, `+-1000`, the arguments where `exp` overflows (88.8) or underflows (-103.9), and
/// values uniform on `[-1000, 1000]`. Never NaN or infinite.
pub fn extreme_inputs_f32() -> impl Strategy<Value = f32> + Clone {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let special = vec![
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        1000.0,
        -1000.0,
        88.8,
        -88.8,
        103.9,
        -103.9,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
    ];
    prop_oneof![
        4 => POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
        2 => proptest::sample::select(special),
        2 => -1000.0..1000.0f32,
        1 => moderate_inputs_f32(),
    ]
}

/// A `rows x cols` matrix (a batch of pre-activations, one row per sample) with a shape drawn
/// from the two ranges and elements drawn from `elements`.
///
/// An empty range `a..b` with `b <= a` is read as the single size `a`.
pub fn batch_matrix<T, S>(
    elements: S,
    rows: Range<usize>,
    cols: Range<usize>,
) -> impl Strategy<Value = DMatrix<T>>
where
    T: Scalar,
    S: Strategy<Value = T> + Clone,
{
    (size_range(rows), size_range(cols)).prop_flat_map(move |(r, c)| {
        proptest::collection::vec(elements.clone(), r * c)
            .prop_map(move |data| DMatrix::from_vec(r, c, data))
    })
}

/// A batch matrix with a shape drawn from the two ranges and elements from
/// [`moderate_inputs_f64`].
///
/// ```
/// use proptest::prelude::*;
/// use vanishing_gradient::testing::batch_matrix_f64;
///
/// proptest!(|(batch in batch_matrix_f64(1..8, 1..4))| {
///     prop_assert!((1..8).contains(&batch.nrows()) && (1..4).contains(&batch.ncols()));
///     prop_assert!(batch.iter().all(|x| x.abs() <= 30.0));
/// });
/// ```
pub fn batch_matrix_f64(
    rows: Range<usize>,
    cols: Range<usize>,
) -> impl Strategy<Value = DMatrix<f64>> {
    batch_matrix(moderate_inputs_f64(), rows, cols)
}

/// The `f32` twin of [`batch_matrix_f64`].
pub fn batch_matrix_f32(
    rows: Range<usize>,
    cols: Range<usize>,
) -> impl Strategy<Value = DMatrix<f32>> {
    batch_matrix(moderate_inputs_f32(), rows, cols)
}

fn size_range(range: Range<usize>) -> RangeInclusive<usize> {
    let last = range.end.saturating_sub(1).max(range.start);
    range.start..=last
}
