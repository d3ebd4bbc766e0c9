//! The naive chain rule: every ∂E/∂W_i from scratch, O(n²) matrix products.
//!
//! ```text
//! ∂E/∂z_{i+1} = ∂E/∂z_n · W_{n−1} diag(σ′(z_{n−1})) · … · W_{i+1} diag(σ′(z_{i+1}))
//! ∂E/∂W_i     = (∂E/∂z_{i+1})ᵀ a_iᵀ
//! ```
//!
//! The chain for W_0 repeats the chain for W_1, which repeats the chain for W_2: written this way
//! the n gradients cost 0 + 1 + … + (n − 1) = n(n − 1)/2 Jacobian products per sample. This is the
//! repetition the seed points out and backpropagation ([`super::denominator`]) removes; it is kept
//! as a reference and a benchmark subject.
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "Why backprop is O(n)".

use super::{Denominator, Gradient, Products};
use crate::error::Result;
use crate::loss::loss;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::{DMatrixView, RowDVector};

/// ∂E/∂W_i (shaped like W_i) for the batch, with E, each chain multiplied from the output down.
///
/// # Errors
/// As [`Network::check_batch`].
pub fn gradient<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
) -> Result<(T, Gradient<T, Denominator>)> {
    gradient_counted(net, x, y).map(|(e, dw, _)| (e, dw))
}

/// [`gradient`], and the [`Products`] it performed, counted as they run: n(n − 1)/2 chain
/// products per sample (compare [`super::denominator::gradient_counted`]'s n − 1).
///
/// ```
/// use backprop::{Activation, Network, gradient::naive};
/// use nalgebra::DMatrix;
///
/// let net = Network::<f64>::random(&[2, 3, 3, 3, 3, 1], Activation::Tanh, 1)?; // n = 5
/// let (x, y) = (DMatrix::from_element(2, 1, 0.5), DMatrix::from_element(1, 1, 0.0));
/// let (_, _, products) = naive::gradient_counted(&net, x.as_view(), y.as_view())?;
/// assert_eq!(products.chain, 5 * 4 / 2);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`Network::check_batch`].
pub fn gradient_counted<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
) -> Result<(T, Gradient<T, Denominator>, Products)> {
    // The preamble the gradient forms share, repeated so that each form reads alone.
    net.check_batch(x, y)?;
    let n = net.depth();
    let trace = net.forward_unchecked(x);
    let mut dw = Gradient::<T, Denominator>::zeros_like(net.weights());
    // ANCHOR: counted_naive (the book's chapter "Why backprop is O(n)" includes these lines)
    let mut count = Products::default();
    let two = crate::loss::output_delta_factor::<T>(x.ncols());
    for s in 0..x.ncols() {
        let de_dzn: RowDVector<T> = (trace.output().column(s) - y.column(s)).transpose() * two;
        for i in 0..n {
            // From scratch: ∂E/∂z_{i+1} = ∂E/∂z_n · Π_{m=n−1}^{i+1} W_m diag(σ′(z_m)).
            let mut row = de_dzn.clone();
            for m in (i + 1..n).rev() {
                let w = net.weight(m);
                let mut d = row * w;
                for (c, &z) in trace.z(m).column(s).iter().enumerate() {
                    d[(0, c)] *= net.activation().sigma_prime(z);
                }
                row = d;
                count.chain += 1;
                count.multiplications += w.nrows() * w.ncols() + w.ncols();
            }
            // ∂E/∂W_i = (∂E/∂z_{i+1})ᵀ a_iᵀ
            *dw.layer_mut(i) += row.transpose() * trace.a(i).column(s).transpose();
            count.outer += 1;
            count.multiplications += net.weight(i).nrows() * net.weight(i).ncols();
        }
    }
    // ANCHOR_END: counted_naive
    // Test-only: a planted transposed update (feature `mutants`, see crate::mutants).
    #[cfg(feature = "mutants")]
    crate::mutants::transpose_square_layers(&mut dw);
    Ok((loss(y, trace.output().as_view()), dw, count))
}
