//! The naive chain rule: every ∂E/∂W_i from scratch, O(n²) matrix products.
//!
//! ```text
//! ∂E/∂z_{i+1} = ∂E/∂z_n · W_{n−1} diag(σ'(z_{n−1})) · … · W_{i+1} diag(σ'(z_{i+1}))
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

use super::{Denominator, Gradient};
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
    net.check_batch(x, y)?;
    let n = net.depth();
    let trace = net.forward_unchecked(x);
    let mut dw = Gradient::<T, Denominator>::zeros_like(net.weights());
    let two = T::of_f64(2.0);
    for s in 0..x.ncols() {
        let de_dzn: RowDVector<T> = (trace.output().column(s) - y.column(s)).transpose() * two;
        for i in 0..n {
            // From scratch: ∂E/∂z_{i+1} = ∂E/∂z_n · Π_{m=n−1}^{i+1} W_m diag(σ'(z_m)).
            let mut row = de_dzn.clone();
            for m in (i + 1..n).rev() {
                let mut d = row * net.weight(m);
                for (c, &z) in trace.z(m).column(s).iter().enumerate() {
                    d[(0, c)] *= net.activation().sigma_prime(z);
                }
                row = d;
            }
            // ∂E/∂W_i = (∂E/∂z_{i+1})ᵀ a_iᵀ
            *dw.layer_mut(i) += row.transpose() * trace.a(i).column(s).transpose();
        }
    }
    Ok((loss(y, trace.output().as_view()), dw))
}
