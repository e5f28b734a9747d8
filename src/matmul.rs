//! Matrix products for the layers: nalgebra's `gemm` (which hands dynamic matrices to the
//! `matrixmultiply` kernels) with transposed operands as zero-copy strided views.
//!
//! nalgebra 0.35 takes the `matrixmultiply` path only when every dimension exceeds 5; below
//! that it falls back to a `gemv` loop that reads a strided (transposed) view past its column
//! (it iterates over the length of the column's underlying slice, not its row count). So for
//! small dimensions this module multiplies with a plain, bounds-checked loop instead: those
//! products are tiny.

use nalgebra::{DMatrix, Dyn, MatrixView, RealField};

/// nalgebra's threshold: `matrixmultiply` is used when every dimension is larger.
const NALGEBRA_SMALL_DIM: usize = 5;

/// A matrix view with run-time strides: a plain matrix or a transposed one.
pub(crate) type StridedView<'a, T> = MatrixView<'a, T, Dyn, Dyn, Dyn, Dyn>;

/// A view of a column-major matrix as it is.
pub(crate) fn plain<T: RealField + Copy>(m: &DMatrix<T>) -> StridedView<'_, T> {
    let (rows, cols) = m.shape();
    MatrixView::from_slice_with_strides_generic(m.as_slice(), Dyn(rows), Dyn(cols), Dyn(1), Dyn(rows))
}

/// A zero-copy transposed view of a column-major matrix.
pub(crate) fn transposed<T: RealField + Copy>(m: &DMatrix<T>) -> StridedView<'_, T> {
    let (rows, cols) = m.shape();
    // Element (i, j) of the transpose is element (j, i) of `m`, at j + i * rows.
    MatrixView::from_slice_with_strides_generic(m.as_slice(), Dyn(cols), Dyn(rows), Dyn(rows), Dyn(1))
}

/// `out = a * b`. The caller guarantees `out` is `a.nrows() x b.ncols()` and
/// `a.ncols() == b.nrows()`.
pub(crate) fn multiply_into<T: RealField + Copy>(out: &mut DMatrix<T>, a: &StridedView<'_, T>, b: &StridedView<'_, T>) {
    let (m, k) = a.shape();
    let n = b.ncols();
    if m > NALGEBRA_SMALL_DIM && k > NALGEBRA_SMALL_DIM && n > NALGEBRA_SMALL_DIM {
        out.gemm(T::one(), a, b, T::zero());
        return;
    }
    for j in 0..n {
        for i in 0..m {
            let mut sum = T::zero();
            for p in 0..k {
                sum += a[(i, p)] * b[(p, j)];
            }
            out[(i, j)] = sum;
        }
    }
}
