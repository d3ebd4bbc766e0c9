//! The seed's index form, element by element, with no matrix products.
//!
//! ```text
//! (∂E/∂W_i)^{jk} = Σ_r ∂E/∂z_{i+1}^r · ∂z_{i+1}^r/∂W_i^{jk},   ∂z_{i+1}^r/∂W_i^{jk} = a_i^k δ_{rj}
//!                = ∂E/∂z_{i+1}^j a_i^k
//! ∂E/∂z_i^j      = Σ_r ∂E/∂z_{i+1}^r W_i^{rj} σ′(z_i^j)
//! ∂E/∂z_n^j      = −2 (y^j − z_n^j)
//! ```
//!
//! The sum over r with the Kronecker delta δ_{rj} is computed as written (O(l³) per layer), so
//! the code can be read beside the seed's derivation. A reference, not a training path.
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "The element-wise index form".

use super::{Denominator, Gradient};
use crate::error::Result;
use crate::loss::loss;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::DMatrixView;

/// The Kronecker delta δ_{rj}: 1 when r = j, else 0.
fn kronecker<T: Scalar>(r: usize, j: usize) -> T {
    if r == j { T::one() } else { T::zero() }
}

/// ∂E/∂W_i (shaped like W_i) for the batch, with E, by the seed's element-wise formula.
///
/// # Errors
/// As [`Network::check_batch`].
pub fn gradient<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
) -> Result<(T, Gradient<T, Denominator>)> {
    // The preamble the gradient forms share, repeated so that each form reads alone.
    net.check_batch(x, y)?;
    let n = net.depth();
    let trace = net.forward_unchecked(x);
    let mut dw = Gradient::<T, Denominator>::zeros_like(net.weights());
    let sigma = net.activation();
    let two = crate::loss::output_delta_factor::<T>(x.ncols());
    for s in 0..x.ncols() {
        // de_dz[j] = ∂E/∂z_{i+1}^j, starting at i + 1 = n.
        let z_n = trace.output();
        let mut de_dz: Vec<T> = (0..net.outputs())
            .map(|j| -two * (y[(j, s)] - z_n[(j, s)]))
            .collect();
        for i in (0..n).rev() {
            let w = net.weight(i);
            let a = trace.a(i);
            let g = dw.layer_mut(i);
            for j in 0..w.nrows() {
                for k in 0..w.ncols() {
                    let mut sum = T::zero();
                    for (r, &de) in de_dz.iter().enumerate() {
                        sum += de * a[(k, s)] * kronecker::<T>(r, j);
                    }
                    g[(j, k)] += sum;
                }
            }
            if i > 0 {
                let z = trace.z(i);
                de_dz = (0..w.ncols())
                    .map(|j| {
                        let mut sum = T::zero();
                        for (r, &de) in de_dz.iter().enumerate() {
                            sum += de * w[(r, j)];
                        }
                        sum * sigma.sigma_prime(z[(j, s)])
                    })
                    .collect();
            }
        }
    }
    // Test-only: a planted transposed update (feature `mutants`, see crate::mutants).
    #[cfg(feature = "mutants")]
    crate::mutants::transpose_square_layers(&mut dw);
    Ok((loss(y, trace.output().as_view()), dw))
}
