//! Runs element-wise kernels with the widest SIMD instruction set the CPU has.
//!
//! A crate compiled for the baseline `x86_64` target only has SSE2, and its loops vectorise
//! four `f32` lanes wide. Worse, faer's AVX-512 GEMM kernels return with the upper halves of
//! the vector registers dirty, and legacy-SSE code that runs after them is several times
//! slower (measured: the sigmoid over 64k values went from 1.4 to 6.2 ns per value after the
//! first GEMM; see docs/performance.md). [`run`] compiles a [`Kernel`] again with AVX2+FMA and
//! with AVX-512 enabled (pulp's runtime dispatch, the one faer uses) and runs the best version
//! the CPU supports.
//!
//! A kernel is a struct, not a closure: a closure reaches pulp's dispatch through
//! `FnOnce::call_once`, a shim the compiler did not inline, so the loop stayed baseline code
//! (measured: 0.11 against 0.033 ns per weight for the SGD step). [`Kernel::run`] and every
//! helper it calls must be `#[inline(always)]`, so that the target features reach the loop.

use std::sync::OnceLock;

/// An element-wise pass to run through [`run`]. Implement [`Kernel::run`] as
/// `#[inline(always)]`, with the slices as fields of the struct.
pub(crate) trait Kernel {
    /// What the pass returns (sums, statistics, or `()`).
    type Output;
    /// The pass.
    fn run(self) -> Self::Output;
}

/// The instruction set, detected once per process (detection reads a dozen CPU feature flags;
/// the layers run several kernels per layer and step).
static ARCH: OnceLock<pulp::Arch> = OnceLock::new();

/// Adapts a [`Kernel`] to pulp's dispatch.
struct Dispatch<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatch<K> {
    type Output = K::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the widest instruction set this CPU supports.
#[inline(always)]
pub(crate) fn run<K: Kernel>(kernel: K) -> K::Output {
    dispatch(Dispatch(kernel))
}

/// Runs a pulp operation (explicit SIMD code) with the widest instruction set.
#[inline(always)]
pub(crate) fn dispatch<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    ARCH.get_or_init(pulp::Arch::new).dispatch(op)
}

/// A [`Kernel`] from a closure, called through `FnMut` (a direct call that the compiler
/// inlines when the closure is `#[inline(always)]`, unlike the `FnOnce` shim).
struct Closure<F>(F);

impl<R, F: FnMut() -> R> Kernel for Closure<F> {
    type Output = R;

    #[inline(always)]
    fn run(mut self) -> R {
        (self.0)()
    }
}

/// Runs the `#[inline(always)]` closure `kernel` as a [`Kernel`]: for loops whose slices are
/// captured (the optimizers' state), where the compiler cannot see that they do not overlap.
#[inline(always)]
pub(crate) fn run_closure<R>(kernel: impl FnMut() -> R) -> R {
    run(Closure(kernel))
}
