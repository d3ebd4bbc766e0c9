//! The loss E = ‖y − z_n‖² = Σ_k (y^k − z_n^k)², summed over outputs and samples (no ½), and its
//! gradient ∂E/∂z_n = −2 (y − z_n).
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "The loss".

use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView};

/// E = Σ_{k,s} (y^{ks} − z_n^{ks})², the seed's squared error summed over outputs k and samples s.
///
/// # Panics
/// If `y` and `z_n` differ in shape.
pub fn loss<T: Scalar>(y: DMatrixView<'_, T>, z_n: DMatrixView<'_, T>) -> T {
    assert_eq!(y.shape(), z_n.shape(), "loss: y and z_n differ in shape");
    let mut e = T::zero();
    for (y, z) in y.iter().zip(z_n.iter()) {
        let r = *y - *z;
        e += r * r;
    }
    e
}

/// δ_n = ∂E/∂z_n = −2 (y − z_n) = 2 (z_n − y), one column per sample (denominator layout).
///
/// # Panics
/// If `y` and `z_n` differ in shape.
pub fn loss_gradient<T: Scalar>(y: DMatrixView<'_, T>, z_n: DMatrixView<'_, T>) -> DMatrix<T> {
    assert_eq!(
        y.shape(),
        z_n.shape(),
        "loss_gradient: y and z_n differ in shape"
    );
    let two = T::of_f64(2.0);
    z_n.zip_map(&y, |z, y| two * (z - y))
}

/// The factor 2 of δ_n = −2 (y − z_n) = 2 (z_n − y), as the gradient forms and the
/// [`crate::Workspace`] apply it to a batch of `b` samples: always 2, except that a test built
/// with the test-only feature `mutants` can plant a dropped factor or the batch mean here.
#[inline(always)]
pub(crate) fn output_delta_factor<T: Scalar>(b: usize) -> T {
    #[cfg(feature = "mutants")]
    return crate::mutants::output_delta_factor(b);
    #[cfg(not(feature = "mutants"))]
    {
        let _ = b;
        T::of_f64(2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_the_sum_of_squares_without_a_half() {
        // y − z = (1, −2; 0.5, 0) → E = 1 + 4 + 0.25 + 0 = 5.25
        let y = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.5, 1.0]);
        let z = DMatrix::from_row_slice(2, 2, &[0.0, 2.0, 0.0, 1.0]);
        assert_eq!(loss(y.as_view(), z.as_view()), 5.25);
        // ∂E/∂z = 2 (z − y) = (−2, 4; −1, 0)
        let g = loss_gradient(y.as_view(), z.as_view());
        assert_eq!(g, DMatrix::from_row_slice(2, 2, &[-2.0, 4.0, -1.0, 0.0]));
    }
}
