//! Activation functions and their derivatives.
//!
//! An [`Activation`] gives its value, its derivative with respect to the pre-activation, and the
//! maximum of that derivative. The maximum matters for diagnosis: the gradient through a layer
//! is multiplied by the derivative, so an activation whose derivative is at most 0.25 (the
//! sigmoid) shrinks the gradient at least fourfold per layer, saturated or not.
//!
//! Every implementation is generic over the scalar (`f32`, `f64`) and numerically stable for
//! large `|x|`: `Sigmoid.value(-1000.0)` is `0.0`, `Softplus.value(1000.0)` is `1000.0`, never NaN.
//!
//! ```
//! use vanishing_gradient::activation::{Activation, Sigmoid, Relu};
//!
//! let s = Sigmoid;
//! assert_eq!(Activation::<f64>::value(&s, 0.0), 0.5);
//! assert_eq!(Activation::<f64>::derivative(&s, 0.0), 0.25);
//! assert_eq!(Activation::<f64>::derivative_max(&s), 0.25);
//! assert_eq!(Activation::<f32>::value(&s, -1000.0), 0.0);
//! assert_eq!(Activation::<f32>::derivative(&Relu, -3.0), 0.0);
//! ```

use std::fmt::Debug;

use nalgebra::RealField;

/// Converts an `f64` constant to the scalar type.
#[inline(always)]
pub(crate) fn cast<T: RealField + Copy>(v: f64) -> T {
    nalgebra::convert(v)
}

/// The sum of the derivatives over one unit's column of a batch, and how many were exactly zero.
///
/// Returned by [`Activation::scale_by_derivative`]; the layer turns it into the saturation and
/// dead-unit statistics of the [`GradientReport`](crate::report::GradientReport).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivativeSum<T> {
    /// Sum of `f'(z)` over the column.
    pub sum: T,
    /// How many elements had `f'(z) == 0` (no gradient flows through them).
    pub zeros: usize,
}

/// An element-wise activation function `f`, applied to a layer's pre-activation `z = xW + b`.
///
/// Implement [`value`](Activation::value), [`derivative`](Activation::derivative),
/// [`derivative_max`](Activation::derivative_max) and [`name`](Activation::name); the batch
/// methods have element-wise defaults that a fast implementation may override.
/// The trait is object safe: a [`Dense`](crate::layer::Dense) layer holds a
/// `Box<dyn Activation<T>>`.
pub trait Activation<T: RealField + Copy>: Debug + Send + Sync {
    /// A short name for reports ("sigmoid", "relu", ...).
    fn name(&self) -> &'static str;

    /// `f(x)`.
    fn value(&self, x: T) -> T;

    /// `f'(x)`, the derivative with respect to the pre-activation `x`.
    fn derivative(&self, x: T) -> T;

    /// The supremum of `|f'(x)|` over all `x` (sigmoid 0.25, tanh 1, ReLU 1, ...).
    ///
    /// The saturation statistic of a report is the mean derivative divided by this maximum.
    fn derivative_max(&self) -> T;

    /// `f'(x)` given both `x` and `y = f(x)`.
    ///
    /// Functions whose derivative is cheaper from the value (sigmoid: `y (1 - y)`, tanh:
    /// `1 - y^2`) override this; the default ignores `y`.
    #[inline]
    fn derivative_from_value(&self, x: T, y: T) -> T {
        let _ = y;
        self.derivative(x)
    }

    /// Whether `f'(x) >= 0` for every `x` (false for GELU and SiLU, which dip below zero).
    fn derivative_is_nonnegative(&self) -> bool {
        true
    }

    /// Points where `f` is not differentiable (ReLU: `0`). Finite-difference checks skip a
    /// neighbourhood of these.
    fn nondifferentiable_points(&self) -> &'static [f64] {
        &[]
    }

    /// Writes `f(input[i])` into `output[i]` for every `i`.
    ///
    /// The two slices have the same length; extra elements of the longer one are left alone.
    fn value_slice(&self, input: &[T], output: &mut [T]) {
        for (o, &x) in output.iter_mut().zip(input) {
            *o = self.value(x);
        }
    }

    /// Multiplies `grad[i]` by `f'(pre[i])` in place (`post[i] = f(pre[i])` is given too), and
    /// returns the sum of the derivatives and the count of exact zeros.
    ///
    /// This is the fused step of the backward pass: one read of the column, one write, and the
    /// statistics on the way.
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        let mut sum = T::zero();
        let mut zeros = 0;
        for ((g, &x), &y) in grad.iter_mut().zip(pre).zip(post) {
            let d = self.derivative_from_value(x, y);
            if d == T::zero() {
                zeros += 1;
            }
            sum += d;
            *g *= d;
        }
        DerivativeSum { sum, zeros }
    }
}

/// The logistic sigmoid `1 / (1 + e^-x)`; derivative at most 0.25.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

/// Numerically stable logistic sigmoid.
#[inline]
pub(crate) fn sigmoid<T: RealField + Copy>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

impl<T: RealField + Copy> Activation<T> for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        sigmoid(x)
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let s = sigmoid(x);
        s * (T::one() - s)
    }
    fn derivative_max(&self) -> T {
        cast(0.25)
    }
    #[inline]
    fn derivative_from_value(&self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
}

/// The hyperbolic tangent; derivative at most 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;

impl<T: RealField + Copy> Activation<T> for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        x.tanh()
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let t = x.tanh();
        T::one() - t * t
    }
    fn derivative_max(&self) -> T {
        T::one()
    }
    #[inline]
    fn derivative_from_value(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
}

/// The rectifier `max(0, x)`; derivative 0 or 1 (0 at `x = 0`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Relu;

impl<T: RealField + Copy> Activation<T> for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::zero()
        }
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
    fn derivative_max(&self) -> T {
        T::one()
    }
    fn nondifferentiable_points(&self) -> &'static [f64] {
        &[0.0]
    }
}

/// The leaky rectifier: `x` for `x > 0`, `slope * x` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs (commonly 0.01).
    pub slope: f64,
}

impl Default for LeakyRelu {
    /// Slope 0.01, as in PyTorch and Keras.
    fn default() -> Self {
        Self { slope: 0.01 }
    }
}

impl<T: RealField + Copy> Activation<T> for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            x * cast(self.slope)
        }
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            cast(self.slope)
        }
    }
    fn derivative_max(&self) -> T {
        cast(self.slope.abs().max(1.0))
    }
    fn derivative_is_nonnegative(&self) -> bool {
        self.slope >= 0.0
    }
    fn nondifferentiable_points(&self) -> &'static [f64] {
        &[0.0]
    }
}

/// The exponential linear unit: `x` for `x > 0`, `alpha (e^x - 1)` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elu {
    /// The saturation value for large negative inputs is `-alpha` (commonly 1).
    pub alpha: f64,
}

impl Default for Elu {
    /// `alpha = 1`.
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl<T: RealField + Copy> Activation<T> for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            x.exp_m1() * cast(self.alpha)
        }
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            x.exp() * cast(self.alpha)
        }
    }
    fn derivative_max(&self) -> T {
        cast(self.alpha.abs().max(1.0))
    }
    fn derivative_is_nonnegative(&self) -> bool {
        self.alpha >= 0.0
    }
    fn nondifferentiable_points(&self) -> &'static [f64] {
        &[0.0]
    }
}

/// The scaled ELU of Klambauer et al. (2017), with its fixed `lambda` and `alpha`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Selu;

impl Selu {
    /// The scale `lambda`.
    pub const LAMBDA: f64 = 1.050_700_987_355_480_5;
    /// The negative saturation `alpha`.
    pub const ALPHA: f64 = 1.673_263_242_354_377_3;
}

impl<T: RealField + Copy> Activation<T> for Selu {
    fn name(&self) -> &'static str {
        "selu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        let lambda: T = cast(Selu::LAMBDA);
        if x > T::zero() {
            lambda * x
        } else {
            lambda * cast::<T>(Selu::ALPHA) * x.exp_m1()
        }
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let lambda: T = cast(Selu::LAMBDA);
        if x > T::zero() {
            lambda
        } else {
            lambda * cast::<T>(Selu::ALPHA) * x.exp()
        }
    }
    fn derivative_max(&self) -> T {
        cast(Selu::LAMBDA * Selu::ALPHA)
    }
    fn nondifferentiable_points(&self) -> &'static [f64] {
        &[0.0]
    }
}

/// The Gaussian error linear unit, in the tanh approximation of Hendrycks & Gimpel (2016):
/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
///
/// This is PyTorch's `GELU(approximate="tanh")`; it differs from the exact erf form by less
/// than 5e-4. For `|x| > 20` the value and derivative are the exact asymptotes (`x` and 1, or 0
/// and 0), which avoids `0 * inf` for huge inputs. The derivative dips to about -0.129 near
/// `x = -1.5`, and peaks at about 1.129.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gelu;

impl Gelu {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    const COEFF: f64 = 0.044_715;
    const ASYMPTOTE: f64 = 20.0;
    /// The maximum of the derivative, found by a dense scan (rounded up).
    pub const DERIVATIVE_MAX: f64 = 1.128_993_1;
}

impl<T: RealField + Copy> Activation<T> for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        let limit: T = cast(Gelu::ASYMPTOTE);
        if x > limit {
            return x;
        }
        if x < -limit {
            return T::zero();
        }
        let u = cast::<T>(Gelu::SQRT_2_OVER_PI) * (x + cast::<T>(Gelu::COEFF) * x * x * x);
        cast::<T>(0.5) * x * (T::one() + u.tanh())
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let limit: T = cast(Gelu::ASYMPTOTE);
        if x > limit {
            return T::one();
        }
        if x < -limit {
            return T::zero();
        }
        let c: T = cast(Gelu::SQRT_2_OVER_PI);
        let k: T = cast(Gelu::COEFF);
        let half: T = cast(0.5);
        let t = (c * (x + k * x * x * x)).tanh();
        half * (T::one() + t)
            + half * x * (T::one() - t * t) * c * (T::one() + cast::<T>(3.0) * k * x * x)
    }
    fn derivative_max(&self) -> T {
        cast(Gelu::DERIVATIVE_MAX)
    }
    fn derivative_is_nonnegative(&self) -> bool {
        false
    }
}

/// The sigmoid-weighted linear unit (SiLU, also Swish with beta = 1): `x * sigmoid(x)`.
///
/// The derivative dips to about -0.0998 and peaks at about 1.0998.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Silu;

impl Silu {
    /// The maximum of the derivative, found by a dense scan (rounded up).
    pub const DERIVATIVE_MAX: f64 = 1.099_839_33;
}

impl<T: RealField + Copy> Activation<T> for Silu {
    fn name(&self) -> &'static str {
        "silu"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        x * sigmoid(x)
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let s = sigmoid(x);
        // s + x s (1 - s), written so that s = 0 at huge negative x gives 0, not 0 * inf.
        s + x * s * (T::one() - s)
    }
    fn derivative_max(&self) -> T {
        cast(Silu::DERIVATIVE_MAX)
    }
    fn derivative_is_nonnegative(&self) -> bool {
        false
    }
}

/// The softplus `ln(1 + e^x)`, a smooth ReLU; its derivative is the sigmoid.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Softplus;

impl<T: RealField + Copy> Activation<T> for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        // max(x, 0) + ln(1 + e^-|x|): no overflow at either end.
        let pos = if x > T::zero() { x } else { T::zero() };
        pos + (-x.abs()).exp().ln_1p()
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        sigmoid(x)
    }
    fn derivative_max(&self) -> T {
        T::one()
    }
}

/// The identity `f(x) = x`, for linear (output) layers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Identity;

impl<T: RealField + Copy> Activation<T> for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }
    #[inline]
    fn value(&self, x: T) -> T {
        x
    }
    #[inline]
    fn derivative(&self, _x: T) -> T {
        T::one()
    }
    fn derivative_max(&self) -> T {
        T::one()
    }
    fn value_slice(&self, input: &[T], output: &mut [T]) {
        for (o, &x) in output.iter_mut().zip(input) {
            *o = x;
        }
    }
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        // The gradient is unchanged; count the elements the default would visit (the common
        // length of the three slices), not just `pre`.
        let visited = pre.len().min(post.len()).min(grad.len());
        DerivativeSum {
            sum: cast::<T>(visited as f64),
            zeros: 0,
        }
    }
}

/// Every built-in activation, boxed, for tests and examples that iterate over all of them.
pub fn all_builtin<T: RealField + Copy>() -> Vec<Box<dyn Activation<T>>> {
    vec![
        Box::new(Sigmoid),
        Box::new(Tanh),
        Box::new(Relu),
        Box::new(LeakyRelu::default()),
        Box::new(Elu::default()),
        Box::new(Selu),
        Box::new(Gelu),
        Box::new(Silu),
        Box::new(Softplus),
        Box::new(Identity),
    ]
}
