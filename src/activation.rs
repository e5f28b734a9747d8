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

use std::any::Any;
use std::fmt::Debug;

use nalgebra::RealField;

use crate::lanes::{self, Lanes, LANES};
use crate::vectorised::Kernel;

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
        map_slice(input, output, |x| self.value(x));
    }

    /// Multiplies `grad[i]` by `f'(pre[i])` in place (`post[i] = f(pre[i])` is given too), and
    /// returns the sum of the derivatives and the count of exact zeros.
    ///
    /// This is the fused step of the backward pass: one read of the column, one write, and the
    /// statistics on the way.
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        scale_by_derivative_lanes(pre, post, grad, |x, y| self.derivative_from_value(x, y))
    }

    /// [`scale_by_derivative`](Activation::scale_by_derivative) on every column of a
    /// column-major block: `pre`, `post` and `grad` hold whole columns of `rows` values each,
    /// and `sums[j]` receives column `j`'s [`DerivativeSum`]. Columns beyond the shortest of the
    /// four are left alone; `rows == 0` does nothing.
    ///
    /// The layers call this once per block of units instead of once per unit; the built-ins
    /// override it with a single vectorised loop.
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        if rows == 0 {
            return;
        }
        let columns = pre
            .chunks_exact(rows)
            .zip(post.chunks_exact(rows))
            .zip(grad.chunks_exact_mut(rows))
            .zip(sums.iter_mut());
        for (((pre, post), grad), sum) in columns {
            *sum = self.scale_by_derivative(pre, post, grad);
        }
    }
}

/// The logistic sigmoid `1 / (1 + e^-x)`; derivative at most 0.25.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

/// Numerically stable logistic sigmoid.
///
/// `f32` and `f64` go through [`sigmoid_f32`] and [`sigmoid_f64`] (branch-free, vectorisable,
/// within a few ulp of the exact value); other scalar types use the standard `exp`.
#[inline(always)]
pub(crate) fn sigmoid<T: RealField + Copy>(x: T) -> T {
    dispatch_scalar(x, sigmoid_f32, sigmoid_f64, |x| {
        if x >= T::zero() {
            T::one() / (T::one() + (-x).exp())
        } else {
            let e = x.exp();
            e / (T::one() + e)
        }
    })
}

/// Calls `for_f32` or `for_f64` when `T` is that type, `generic` otherwise. The type test is
/// resolved at compile time, so the call inlines into a loop the compiler can vectorise.
#[inline(always)]
fn dispatch_scalar<T: RealField + Copy>(
    x: T,
    for_f32: fn(f32) -> f32,
    for_f64: fn(f64) -> f64,
    generic: impl FnOnce(T) -> T,
) -> T {
    let mut value = x;
    let any: &mut dyn Any = &mut value;
    if let Some(v) = any.downcast_mut::<f32>() {
        *v = for_f32(*v);
        return value;
    }
    if let Some(v) = any.downcast_mut::<f64>() {
        *v = for_f64(*v);
        return value;
    }
    generic(x)
}

/// `e^t` for `t <= 0` (and NaN), in `f32`: Cephes' `expf` (Cody-Waite range reduction
/// `t = n ln 2 + r`, `|r| <= ln 2 / 2`, then a degree-7 polynomial), with the rounding and the
/// power of two done by float and integer arithmetic instead of `floor` and `ldexp`, so that a
/// loop over it has no branches; the polynomial is in fused multiply-adds (one instruction each
/// in the crate's AVX2/AVX-512 kernels, where `exp` is 20 % cheaper with them). Within 2 ulp of the exact value (tested against
/// the standard library over the whole range); subnormal results are rounded once; below
/// `-104` the result is `0` (the exact value is under half the smallest subnormal).
#[inline(always)]
pub(crate) fn exp_nonpositive_f32(t: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUNDING_SHIFT: f32 = 12_582_912.0;
    const ROUNDING_SHIFT_BITS: i32 = 0x4B40_0000;
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    // Written as a comparison (not `max`) so that a NaN stays NaN.
    let t = if t < -104.0 { -104.0 } else { t };
    let shifted = t * std::f32::consts::LOG2_E + ROUNDING_SHIFT;
    let n_float = shifted - ROUNDING_SHIFT;
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUNDING_SHIFT_BITS);
    let r = (t - n_float * LN2_HIGH) - n_float * LN2_LOW;
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32
        .mul_add(r, 1.398_199_9e-3)
        .mul_add(r, 8.333_452e-3)
        .mul_add(r, 4.166_579_6e-2)
        .mul_add(r, 1.666_666_5e-1)
        .mul_add(r, 0.5)
        .mul_add(r2, r)
        + 1.0;
    // 2^n in two normal factors, so that results down to the subnormals are exact powers.
    let n_half = n >> 1;
    p * pow2_f32(n_half) * pow2_f32(n.wrapping_sub(n_half))
}

/// `2^n` for `-126 <= n <= 127`.
#[inline(always)]
fn pow2_f32(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(127) as u32).wrapping_shl(23))
}

/// `e^t` for `t <= 0` (and NaN), in `f64`: Cephes' `exp` (Cody-Waite range reduction, then the
/// rational approximation `1 + 2 r P(r^2) / (Q(r^2) - r P(r^2))`), branch-free like
/// [`exp_nonpositive_f32`]. Within 2 ulp of the exact value; `0` below `-746`.
#[inline(always)]
pub(crate) fn exp_nonpositive_f64(t: f64) -> f64 {
    // 1.5 * 2^52.
    const ROUNDING_SHIFT: f64 = 6_755_399_441_055_744.0;
    const ROUNDING_SHIFT_BITS: i64 = 0x4338_0000_0000_0000;
    const LN2_HIGH: f64 = 6.931_457_519_531_25e-1;
    const LN2_LOW: f64 = 1.428_606_820_309_417_2e-6;
    let t = if t < -746.0 { -746.0 } else { t };
    let shifted = t * std::f64::consts::LOG2_E + ROUNDING_SHIFT;
    let n_float = shifted - ROUNDING_SHIFT;
    let n = (shifted.to_bits() as i64).wrapping_sub(ROUNDING_SHIFT_BITS);
    let r = (t - n_float * LN2_HIGH) - n_float * LN2_LOW;
    let r2 = r * r;
    let p = r * 1.261_771_930_748_105_9e-4_f64
        .mul_add(r2, 3.029_944_077_074_419_6e-2)
        .mul_add(r2, 1.0);
    let q = 3.001_985_051_386_644_5e-6_f64
        .mul_add(r2, 2.524_483_403_496_841e-3)
        .mul_add(r2, 2.272_655_482_081_550_3e-1)
        .mul_add(r2, 2.0);
    let e = 1.0 + 2.0 * (p / (q - p));
    let n_half = n >> 1;
    e * pow2_f64(n_half) * pow2_f64(n.wrapping_sub(n_half))
}

/// `2^n` for `-1022 <= n <= 1023`.
#[inline(always)]
fn pow2_f64(n: i64) -> f64 {
    f64::from_bits((n.wrapping_add(1023) as u64).wrapping_shl(52))
}

/// The sigmoid in `f32` from `e = e^-|x|`: `1 / (1 + e)` for `x >= 0`, `e / (1 + e)` below.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_nonpositive_f32(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

/// The sigmoid in `f64`, as [`sigmoid_f32`].
#[inline(always)]
pub(crate) fn sigmoid_f64(x: f64) -> f64 {
    let e = exp_nonpositive_f64(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

/// `tanh` in `f32`, branch-free: Cephes' `tanhf` odd polynomial for `|x| < 0.625`, and
/// `sign(x) (1 - e) / (1 + e)` with `e = e^-2|x|` above (no cancellation there: `e < 0.29`).
/// Exactly `+-1` from `|x| > 9.1` on.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small = (-5.704_988_7e-3_f32)
        .mul_add(z, 2.063_909e-2)
        .mul_add(z, -5.373_971_6e-2)
        .mul_add(z, 1.333_144_2e-1)
        .mul_add(z, -3.333_328e-1)
        * z
        * x
        + x;
    // The same sign as x (also for -0.0).
    let small = small.copysign(x);
    let e = exp_nonpositive_f32(-2.0 * a);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// `tanh` in `f64`, as [`tanh_f32`] with Cephes' rational approximation `x + x z P(z) / Q(z)`
/// (`z = x^2`) below `0.625`.
#[inline(always)]
pub(crate) fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    let z = x * x;
    let p =
        (-9.643_991_794_250_523e-1 * z - 9.928_772_310_019_186e1) * z - 1.614_687_684_417_084_5e3;
    let q = ((z + 1.128_116_784_916_329_3e2) * z + 2.235_488_390_601_004_5e3) * z
        + 4.844_063_053_251_255e3;
    let small = (x * z * (p / q) + x).copysign(x);
    let e = exp_nonpositive_f64(-2.0 * a);
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// `tanh`, through [`tanh_f32`] / [`tanh_f64`] for those types.
#[inline(always)]
fn tanh<T: RealField + Copy>(x: T) -> T {
    dispatch_scalar(x, tanh_f32, tanh_f64, |x| x.tanh())
}

/// Multiplies `grad[i]` by `derivative(pre[i], post[i])` over the common length, summing the
/// derivatives and counting exact zeros in 16 independent lanes so that the loop
/// vectorises (a single running sum is a serial dependency the compiler must keep in order).
#[inline(always)]
fn scale_by_derivative_lanes<T: RealField + Copy>(
    pre: &[T],
    post: &[T],
    grad: &mut [T],
    derivative: impl Fn(T, T) -> T,
) -> DerivativeSum<T> {
    crate::vectorised::run(ScaleByDerivative {
        pre,
        post,
        grad,
        derivative,
    })
}

/// [`scale_by_derivative_lanes`] on every column of a column-major block (see
/// [`Activation::scale_columns_by_derivative`]), in one vectorised region.
#[inline(always)]
fn scale_columns_lanes<T: RealField + Copy>(
    pre: &[T],
    post: &[T],
    grad: &mut [T],
    rows: usize,
    sums: &mut [DerivativeSum<T>],
    derivative: impl Fn(T, T) -> T,
) {
    if rows == 0 {
        return;
    }
    crate::vectorised::run(ScaleColumnsByDerivative {
        pre,
        post,
        grad,
        rows,
        sums,
        derivative,
    });
}

/// `output[i] = f(input[i])` over the common length, vectorised.
#[inline(always)]
fn map_slice<T: RealField + Copy>(input: &[T], output: &mut [T], f: impl Fn(T) -> T) {
    crate::vectorised::run(Map { input, output, f });
}

/// The [`Kernel`] of [`map_slice`].
struct Map<'a, T, F> {
    input: &'a [T],
    output: &'a mut [T],
    f: F,
}

impl<T: RealField + Copy, F: Fn(T) -> T> Kernel for Map<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        map_kernel(self.input, self.output, &self.f);
    }
}

/// The loop of [`map_slice`].
#[inline(always)]
fn map_kernel<T: RealField + Copy>(input: &[T], output: &mut [T], f: &impl Fn(T) -> T) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f(x);
    }
}

/// The [`Kernel`] of [`scale_by_derivative_lanes`].
struct ScaleByDerivative<'a, T, F> {
    pre: &'a [T],
    post: &'a [T],
    grad: &'a mut [T],
    derivative: F,
}

impl<T: RealField + Copy, F: Fn(T, T) -> T> Kernel for ScaleByDerivative<'_, T, F> {
    type Output = DerivativeSum<T>;

    #[inline(always)]
    fn run(self) -> DerivativeSum<T> {
        scale_by_derivative_kernel(self.pre, self.post, self.grad, &self.derivative)
    }
}

/// The [`Kernel`] of [`scale_columns_lanes`].
struct ScaleColumnsByDerivative<'a, T, F> {
    pre: &'a [T],
    post: &'a [T],
    grad: &'a mut [T],
    rows: usize,
    sums: &'a mut [DerivativeSum<T>],
    derivative: F,
}

impl<T: RealField + Copy, F: Fn(T, T) -> T> Kernel for ScaleColumnsByDerivative<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let columns = self
            .pre
            .chunks_exact(self.rows)
            .zip(self.post.chunks_exact(self.rows))
            .zip(self.grad.chunks_exact_mut(self.rows))
            .zip(self.sums.iter_mut());
        for (((pre, post), grad), sum) in columns {
            *sum = scale_by_derivative_kernel(pre, post, grad, &self.derivative);
        }
    }
}

/// The loop of [`scale_by_derivative_lanes`], for callers already inside a vectorised region.
#[inline(always)]
fn scale_by_derivative_kernel<T: RealField + Copy>(
    pre: &[T],
    post: &[T],
    grad: &mut [T],
    derivative: &impl Fn(T, T) -> T,
) -> DerivativeSum<T> {
    // Zeros are counted in `T` lanes (a vector compare and add, like the sums) and flushed to
    // an integer every chunk, where every lane's count is still exact (at most 1024).
    const CHUNK: usize = LANES * 1024;
    let len = pre.len().min(post.len()).min(grad.len());
    let pre = pre.get(..len).unwrap_or_default();
    let post = post.get(..len).unwrap_or_default();
    let grad = grad.get_mut(..len).unwrap_or_default();
    let mut sums = lanes::zeros();
    let mut zeros = 0_usize;
    let chunks = grad
        .chunks_mut(CHUNK)
        .zip(pre.chunks(CHUNK))
        .zip(post.chunks(CHUNK));
    for ((grad, pre), post) in chunks {
        let mut zero_lanes = lanes::zeros();
        let mut grad_blocks = grad.chunks_exact_mut(LANES);
        let mut pre_blocks = pre.chunks_exact(LANES);
        let mut post_blocks = post.chunks_exact(LANES);
        for ((g, x), y) in (&mut grad_blocks)
            .zip(&mut pre_blocks)
            .zip(&mut post_blocks)
        {
            if let (Ok(g), Ok(x), Ok(y)) = (
                <&mut Lanes<T>>::try_from(g),
                <&Lanes<T>>::try_from(x),
                <&Lanes<T>>::try_from(y),
            ) {
                scale_block(g, x, y, &mut sums, &mut zero_lanes, derivative);
            }
        }
        // The tail, one element per lane (not padded: a padded lane's derivative would count).
        let tail = grad_blocks
            .into_remainder()
            .iter_mut()
            .zip(pre_blocks.remainder())
            .zip(post_blocks.remainder());
        for (((g, &x), &y), (sum, zero)) in tail.zip(sums.iter_mut().zip(zero_lanes.iter_mut())) {
            let d = derivative(x, y);
            *sum += d;
            *zero += if d == T::zero() { T::one() } else { T::zero() };
            *g *= d;
        }
        let chunk_zeros: f64 = nalgebra::try_convert(lanes::sum(zero_lanes)).unwrap_or(0.0);
        zeros += chunk_zeros as usize;
    }
    DerivativeSum {
        sum: lanes::sum(sums),
        zeros,
    }
}

/// One block of [`scale_by_derivative_kernel`], one element per lane.
#[inline(always)]
fn scale_block<T: RealField + Copy>(
    grad: &mut Lanes<T>,
    pre: &Lanes<T>,
    post: &Lanes<T>,
    sums: &mut Lanes<T>,
    zeros: &mut Lanes<T>,
    derivative: &impl Fn(T, T) -> T,
) {
    let mut d = lanes::zeros();
    for ((d, &x), &y) in d.iter_mut().zip(pre).zip(post) {
        *d = derivative(x, y);
    }
    for (sum, &d) in sums.iter_mut().zip(&d) {
        *sum += d;
    }
    for (zero, &d) in zeros.iter_mut().zip(&d) {
        *zero += if d == T::zero() { T::one() } else { T::zero() };
    }
    let mut scaled = *grad;
    for (g, &d) in scaled.iter_mut().zip(&d) {
        *g *= d;
    }
    *grad = scaled;
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
    fn value_slice(&self, input: &[T], output: &mut [T]) {
        map_slice(input, output, sigmoid);
    }
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        scale_by_derivative_lanes(pre, post, grad, |_, y| y * (T::one() - y))
    }
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |_, y| y * (T::one() - y))
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
        tanh(x)
    }
    #[inline]
    fn derivative(&self, x: T) -> T {
        let t = tanh(x);
        T::one() - t * t
    }
    fn derivative_max(&self) -> T {
        T::one()
    }
    #[inline]
    fn derivative_from_value(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
    fn value_slice(&self, input: &[T], output: &mut [T]) {
        map_slice(input, output, tanh);
    }
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        scale_by_derivative_lanes(pre, post, grad, |_, y| T::one() - y * y)
    }
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |_, y| T::one() - y * y)
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
    fn value_slice(&self, input: &[T], output: &mut [T]) {
        map_slice(input, output, |x| if x > T::zero() { x } else { T::zero() });
    }
    fn scale_by_derivative(&self, pre: &[T], post: &[T], grad: &mut [T]) -> DerivativeSum<T> {
        scale_by_derivative_lanes(pre, post, grad, |x, _| {
            if x > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        })
    }
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, _| {
            if x > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
    fn scale_columns_by_derivative(
        &self,
        pre: &[T],
        post: &[T],
        grad: &mut [T],
        rows: usize,
        sums: &mut [DerivativeSum<T>],
    ) {
        scale_columns_lanes(pre, post, grad, rows, sums, |x, y| {
            self.derivative_from_value(x, y)
        })
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
        map_slice(input, output, |x| x);
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

#[cfg(test)]
mod fast_math_tests {
    use super::*;

    /// Distance in units in the last place, on the ordered integer line of the bit patterns.
    fn ulps_f32(a: f32, b: f32) -> u64 {
        let key = |v: f32| {
            let bits = v.to_bits() as i64;
            if bits < 0 {
                i64::from(i32::MIN) - bits
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b))
    }

    fn ulps_f64(a: f64, b: f64) -> u128 {
        let key = |v: f64| {
            let bits = i128::from(v.to_bits() as i64);
            if bits < 0 {
                i128::from(i64::MIN) - bits
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b))
    }

    /// Every f32 in [-110, 0] with a stride of 97 bit patterns (~11 million values), plus
    /// the ends: normal, subnormal and zero results.
    #[test]
    fn exp_f32_within_two_ulp_of_std_over_the_whole_range() {
        let mut worst = (0, 0.0_f32);
        let mut bits = 0x8000_0000_u32; // -0.0
        while f32::from_bits(bits) >= -110.0 {
            let t = f32::from_bits(bits);
            // The reference: f64 exp rounded to f32 (correctly rounded except on ties).
            let exact = (f64::from(t)).exp() as f32;
            let got = exp_nonpositive_f32(t);
            let d = ulps_f32(got, exact);
            if d > worst.0 {
                worst = (d, t);
            }
            bits += 97;
        }
        assert!(worst.0 <= 2, "{} ulp at {}", worst.0, worst.1);
        assert_eq!(exp_nonpositive_f32(0.0), 1.0);
        assert_eq!(exp_nonpositive_f32(-0.0), 1.0);
        assert_eq!(exp_nonpositive_f32(-1000.0), 0.0);
        assert_eq!(exp_nonpositive_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
        // The last subnormals and the underflow to zero.
        assert_eq!(exp_nonpositive_f32(-103.0), (-103.0_f64).exp() as f32);
        assert!(exp_nonpositive_f32(-103.0) > 0.0);
        assert_eq!(exp_nonpositive_f32(-104.0), 0.0);
    }

    #[test]
    fn exp_f64_within_two_ulp_of_std_over_the_whole_range() {
        let mut worst = (0, 0.0_f64);
        // 2 million points spread over [-750, 0], plus a dense walk near 0.
        let points = 2_000_000;
        for i in 0..=points {
            let t = -750.0 * f64::from(i) / f64::from(points) - 1e-3 * f64::from(i % 7);
            let exact = t.exp();
            let got = exp_nonpositive_f64(t);
            let d = ulps_f64(got, exact);
            if d > worst.0 {
                worst = (d, t);
            }
        }
        let mut t = -0.0_f64;
        for _ in 0..100_000 {
            let d = ulps_f64(exp_nonpositive_f64(t), t.exp());
            if d > worst.0 {
                worst = (d, t);
            }
            t = f64::from_bits(t.to_bits() + 1_000_000_007);
        }
        assert!(worst.0 <= 2, "{} ulp at {}", worst.0, worst.1);
        assert_eq!(exp_nonpositive_f64(0.0), 1.0);
        assert_eq!(exp_nonpositive_f64(-1000.0), 0.0);
        assert_eq!(exp_nonpositive_f64(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive_f64(f64::NAN).is_nan());
        assert!(exp_nonpositive_f64(-744.0) > 0.0);
        assert_eq!(exp_nonpositive_f64(-746.0), 0.0);
    }

    #[test]
    fn sigmoid_and_tanh_close_to_the_reference_and_exact_at_the_limits() {
        let mut worst_sigmoid = (0, 0.0);
        let mut worst_tanh = (0, 0.0);
        for i in -400_000..=400_000 {
            let x = f64::from(i) * 1e-4 + 1e-7 * f64::from(i % 13);
            let reference_sigmoid = if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.exp() / (1.0 + x.exp())
            };
            let d = ulps_f64(sigmoid_f64(x), reference_sigmoid);
            if d > worst_sigmoid.0 {
                worst_sigmoid = (d, x);
            }
            let d = ulps_f64(tanh_f64(x), x.tanh());
            if d > worst_tanh.0 {
                worst_tanh = (d, x);
            }
            let xf = x as f32;
            let d32 = ulps_f32(sigmoid_f32(xf), {
                let x = f64::from(xf);
                (1.0 / (1.0 + (-x).exp())) as f32
            });
            assert!(d32 <= 3, "sigmoid_f32({xf}): {d32} ulp");
            let d32 = ulps_f32(tanh_f32(xf), f64::from(xf).tanh() as f32);
            assert!(d32 <= 3, "tanh_f32({xf}): {d32} ulp");
        }
        assert!(worst_sigmoid.0 <= 4, "sigmoid: {worst_sigmoid:?}");
        assert!(worst_tanh.0 <= 4, "tanh: {worst_tanh:?}");
        for x in [1000.0, f64::INFINITY] {
            assert_eq!(sigmoid_f64(x), 1.0);
            assert_eq!(sigmoid_f64(-x), 0.0);
            assert_eq!(tanh_f64(x), 1.0);
            assert_eq!(tanh_f64(-x), -1.0);
            assert_eq!(sigmoid_f32(x as f32), 1.0);
            assert_eq!(sigmoid_f32(-x as f32), 0.0);
            assert_eq!(tanh_f32(x as f32), 1.0);
            assert_eq!(tanh_f32(-x as f32), -1.0);
        }
        assert_eq!(sigmoid_f32(0.0), 0.5);
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0_f32).to_bits());
        assert!(sigmoid_f32(f32::NAN).is_nan() && tanh_f64(f64::NAN).is_nan());
    }

    #[test]
    fn lanes_agree_with_the_elementwise_default() {
        for len in [0, 1, 7, 8, 9, 33] {
            let pre: Vec<f64> = (0..len).map(|i| f64::from(i) * 0.37 - 5.0).collect();
            let post: Vec<f64> = pre.iter().map(|&x| sigmoid_f64(x)).collect();
            let mut grad: Vec<f64> = (0..len).map(|i| 1.0 + f64::from(i)).collect();
            let mut expected = grad.clone();
            let mut sum = 0.0;
            for (g, &y) in expected.iter_mut().zip(&post) {
                sum += y * (1.0 - y);
                *g *= y * (1.0 - y);
            }
            let got = Activation::<f64>::scale_by_derivative(&Sigmoid, &pre, &post, &mut grad);
            assert_eq!(grad, expected);
            assert!((got.sum - sum).abs() <= 1e-12 * (1.0 + sum));
            let mut relu_grad = vec![1.0; len as usize];
            let got = Activation::<f64>::scale_by_derivative(&Relu, &pre, &post, &mut relu_grad);
            assert_eq!(got.zeros, pre.iter().filter(|&&x| x <= 0.0).count());
        }
    }
}
