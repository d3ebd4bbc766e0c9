//! Numerator layout: the seed's Jacobian chain rule, multiplied left to right.
//!
//! For one sample, ∂E/∂z_n = −2 (y − z_n)ᵀ is a 1 × l_n row. The Jacobians are
//! ∂z_{i+1}/∂a_i = W_i (l_{i+1} × l_i) and ∂a_i/∂z_i = diag(σ′(z_i)), so
//!
//! ```text
//! ∂E/∂z_i   = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i))        (1 × l_i)
//! ∂E/∂W_i   = a_i · ∂E/∂z_{i+1}                         (l_i × l_{i+1}, the shape of W_iᵀ)
//! ```
//!
//! Summed over the samples of the batch.
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "The chain rule in numerator layout".

use super::{Gradient, Numerator};
use crate::error::Result;
use crate::loss::loss;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView, RowDVector};

/// ∂E/∂W_i in numerator layout for the batch (`x`: l_0 × B, `y`: l_n × B), with E.
///
/// Builds every Jacobian as an explicit matrix, diag(σ′(z_i)) included: a reference, not a
/// training path.
///
/// # Errors
/// As [`Network::check_batch`].
pub fn gradient<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
) -> Result<(T, Gradient<T, Numerator>)> {
    // The preamble the gradient forms share, repeated so that each form reads alone.
    net.check_batch(x, y)?;
    let n = net.depth();
    let trace = net.forward_unchecked(x);
    let mut dw = Gradient::<T, Numerator>::zeros_like(net.weights());
    let two = crate::loss::output_delta_factor::<T>(x.ncols());
    for s in 0..x.ncols() {
        // ∂E/∂z_n = −2 (y − z_n)ᵀ, a row.
        let mut row: RowDVector<T> = (trace.output().column(s) - y.column(s)).transpose() * two;
        for i in (0..n).rev() {
            // ∂E/∂W_i = a_i · ∂E/∂z_{i+1}: column times row.
            let a_i = trace.a(i).column(s);
            *dw.layer_mut(i) += a_i * &row;
            if i > 0 {
                // ∂E/∂z_i = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)).
                let mut d = DMatrix::zeros(net.weight(i).ncols(), 1);
                let z_i = trace.z(i).column(s).into_owned();
                net.activation()
                    .apply_prime(z_i.as_slice(), d.as_mut_slice());
                let jac_a_z = DMatrix::from_diagonal(&d.column(0));
                row = row * net.weight(i) * jac_a_z;
            }
        }
    }
    // Test-only: a planted transposed update (feature `mutants`, see crate::mutants).
    #[cfg(feature = "mutants")]
    crate::mutants::transpose_square_layers(&mut dw);
    Ok((loss(y, trace.output().as_view()), dw))
}
