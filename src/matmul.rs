//! Matrix products for the layers.
//!
//! For `f32` and `f64` the products go to faer's GEMM (sequential kernels, two of them side by
//! side on large products with the `parallel` feature): it reuses thread-local
//! packing memory, so a steady-state step allocates nothing, and it reads transposed operands
//! in place (a transposed view is a stride swap, never a copy). nalgebra's own `gemm` hands
//! dynamic matrices to `matrixmultiply`, which allocates a packing buffer on every call, and
//! for dimensions up to 5 it falls back to a loop that reads a strided (transposed) view past
//! its end; it is used here only for scalar types other than `f32` and `f64`, with plain
//! bounds-checked loops for small or transposed operands.

use std::any::Any;

use nalgebra::{DMatrix, RealField};

/// `out = op(a) * op(b)`, where `op` transposes when the flag says so.
///
/// The caller guarantees the shapes agree: `out` is `rows(op(a)) x cols(op(b))` and
/// `cols(op(a)) == rows(op(b))`.
pub(crate) fn multiply_into<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: &DMatrix<T>,
    a_transposed: bool,
    b: &DMatrix<T>,
    b_transposed: bool,
) {
    if faer_multiply::<f64, T>(out, a, a_transposed, b, b_transposed)
        || faer_multiply::<f32, T>(out, a, a_transposed, b, b_transposed)
    {
        return;
    }
    generic_multiply(out, a, a_transposed, b, b_transposed);
}

/// Runs the product in faer when `T` is `F`; returns whether it did.
fn faer_multiply<F, T>(
    out: &mut DMatrix<T>,
    a: &DMatrix<T>,
    a_transposed: bool,
    b: &DMatrix<T>,
    b_transposed: bool,
) -> bool
where
    F: faer::traits::RealField + Copy + 'static,
    T: RealField + Copy,
{
    let out_any: &mut dyn Any = out;
    let (Some(out), Some(a), Some(b)) = (
        out_any.downcast_mut::<DMatrix<F>>(),
        (a as &dyn Any).downcast_ref::<DMatrix<F>>(),
        (b as &dyn Any).downcast_ref::<DMatrix<F>>(),
    ) else {
        return false;
    };
    let (rows, cols) = out.shape();
    let lhs = faer_view(a, a_transposed);
    let rhs = faer_view(b, b_transposed);
    let dst = faer::MatMut::from_column_major_slice_mut(out.as_mut_slice(), rows, cols);
    faer_product(dst, lhs, rhs);
    true
}

/// Products with fewer multiply-adds than this stay on one thread: below it, waking a second
/// thread costs more than it saves.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_MULTIPLY_ADDS: usize = 1 << 21;

/// Whether a step on a batch of `batch` rows through layers of these `(inputs, units)` widths
/// has a product that [`multiply_into`] splits over two threads.
#[cfg(feature = "parallel")]
pub(crate) fn splits_products(
    batch: usize,
    mut layers: impl Iterator<Item = (usize, usize)>,
) -> bool {
    rayon::current_num_threads() > 1
        && layers.any(|(inputs, units)| {
            batch.saturating_mul(inputs).saturating_mul(units) >= PARALLEL_MIN_MULTIPLY_ADDS
                && units.max(inputs) >= 32
        })
}

/// `dst = lhs * rhs`. With the `parallel` feature and more than one rayon thread, a large
/// product is split into two halves of output columns computed by `rayon::join`, each by
/// faer's sequential kernel: faer's own rayon mode allocates on every call, this does not.
/// Every output element is computed by the same kernel either way.
fn faer_product<F: faer::traits::RealField + Copy>(
    dst: faer::MatMut<'_, F>,
    lhs: faer::MatRef<'_, F>,
    rhs: faer::MatRef<'_, F>,
) {
    #[cfg(feature = "parallel")]
    {
        let columns = dst.ncols();
        let work = dst
            .nrows()
            .saturating_mul(lhs.ncols())
            .saturating_mul(columns);
        if work >= PARALLEL_MIN_MULTIPLY_ADDS && columns >= 32 && rayon::current_num_threads() > 1 {
            // Halves on a multiple of 16 columns, so both keep whole register tiles.
            let half = ((columns / 2).div_ceil(16) * 16).min(columns);
            let (left, right) = dst.split_at_col_mut(half);
            let (rhs_left, rhs_right) = rhs.split_at_col(half);
            rayon::join(
                || {
                    faer::linalg::matmul::matmul(
                        left,
                        faer::Accum::Replace,
                        lhs,
                        rhs_left,
                        F::one_impl(),
                        faer::Par::Seq,
                    )
                },
                || {
                    faer::linalg::matmul::matmul(
                        right,
                        faer::Accum::Replace,
                        lhs,
                        rhs_right,
                        F::one_impl(),
                        faer::Par::Seq,
                    )
                },
            );
            return;
        }
    }
    faer::linalg::matmul::matmul(
        dst,
        faer::Accum::Replace,
        lhs,
        rhs,
        F::one_impl(),
        faer::Par::Seq,
    );
}

/// A faer view of a column-major matrix, transposed (a stride swap) when asked.
fn faer_view<F: faer::traits::RealField>(m: &DMatrix<F>, transposed: bool) -> faer::MatRef<'_, F> {
    let view = faer::MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols());
    if transposed {
        view.transpose()
    } else {
        view
    }
}

/// Any other real scalar: a plain loop (these types have no fast kernel anyway).
fn generic_multiply<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: &DMatrix<T>,
    a_transposed: bool,
    b: &DMatrix<T>,
    b_transposed: bool,
) {
    let at = |i: usize, p: usize| if a_transposed { a[(p, i)] } else { a[(i, p)] };
    let bt = |p: usize, j: usize| if b_transposed { b[(j, p)] } else { b[(p, j)] };
    let inner = if a_transposed { a.nrows() } else { a.ncols() };
    let (rows, cols) = out.shape();
    for j in 0..cols {
        for i in 0..rows {
            let mut sum = T::zero();
            for p in 0..inner {
                sum += at(i, p) * bt(p, j);
            }
            out[(i, j)] = sum;
        }
    }
}
