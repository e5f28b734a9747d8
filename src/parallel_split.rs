//! Splits a large element-wise pass into two halves run side by side (`rayon::join`, with the
//! default feature `parallel`), as the matrix products are split.
//!
//! A wide layer's SGD step is a stream through megabytes of weights and gradients: on this
//! crate's 2-core test machine one core did not use the memory bandwidth up (see
//! docs/performance.md). Without the feature, or on a one-thread pool, the halves run in turn.

/// Passes over fewer elements than this stay on one thread: below it, waking a second thread
/// costs more than it saves.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;

/// Elements per alignment unit of the split: whole cache lines and SIMD blocks on both sides.
#[cfg(feature = "parallel")]
const SPLIT_ALIGNMENT: usize = 64;

/// Where to split a pass over `len` elements, or `None` to keep it on one thread.
pub(crate) fn split_point(len: usize) -> Option<usize> {
    #[cfg(feature = "parallel")]
    {
        if len >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
            return Some(((len / 2).div_ceil(SPLIT_ALIGNMENT) * SPLIT_ALIGNMENT).min(len));
        }
    }
    let _ = len;
    None
}

/// Runs `a` and `b`, side by side with the `parallel` feature.
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    #[cfg(feature = "parallel")]
    {
        rayon::join(a, b)
    }
    #[cfg(not(feature = "parallel"))]
    {
        (a(), b())
    }
}
