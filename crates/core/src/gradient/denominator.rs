//! Denominator layout: backpropagation with δ columns, one sample at a time.
//!
//! ```text
//! δ_n = ∂E/∂z_n = −2 (y − z_n)
//! δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1})          i = n−1..1
//! ∂E/∂W_i = δ_{i+1} a_iᵀ                  (the shape of W_i)
//! ```
//!
//! Each step reuses δ_{i+1} from the step above: the dynamic programming that makes the chain
//! O(n) (compare [`super::naive`]). Summed over the samples of the batch; the batched fast path
//! doing the same with matrices is [`crate::Workspace`].
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "Denominator layout and δ".

use super::{Denominator, Gradient, Products};
use crate::error::Result;
use crate::loss::loss;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::{DMatrixView, DVector};

/// ∂E/∂W_i in denominator layout for the batch (`x`: l_0 × B, `y`: l_n × B), with E, computed
/// sample by sample with δ vectors.
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

/// [`gradient`], and the [`Products`] it performed, counted as they run: n − 1 chain products
/// per sample, each δ_{i+1} reused for δ_i (compare [`super::naive::gradient_counted`]'s
/// n(n − 1)/2).
///
/// ```
/// use backprop::{Activation, Network, gradient::denominator};
/// use nalgebra::DMatrix;
///
/// let net = Network::<f64>::random(&[2, 3, 3, 3, 3, 1], Activation::Tanh, 1)?; // n = 5
/// let (x, y) = (DMatrix::from_element(2, 1, 0.5), DMatrix::from_element(1, 1, 0.0));
/// let (_, _, products) = denominator::gradient_counted(&net, x.as_view(), y.as_view())?;
/// assert_eq!(products.chain, 5 - 1);
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
    // ANCHOR: counted_backprop (the book's chapter "Why backprop is O(n)" includes these lines)
    let mut count = Products::default();
    let two = crate::loss::output_delta_factor::<T>(x.ncols());
    for s in 0..x.ncols() {
        // δ_n = −2 (y − z_n)
        let mut delta: DVector<T> = (trace.output().column(s) - y.column(s)) * two;
        for i in (0..n).rev() {
            let w = net.weight(i);
            // ∂E/∂W_i = δ_{i+1} a_iᵀ
            *dw.layer_mut(i) += &delta * trace.a(i).column(s).transpose();
            count.outer += 1;
            count.multiplications += w.nrows() * w.ncols();
            if i > 0 {
                // δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1})
                let mut next = w.tr_mul(&delta);
                let z_i = trace.z(i).column(s).into_owned();
                net.activation()
                    .mul_prime(z_i.as_slice(), next.as_mut_slice());
                delta = next;
                count.chain += 1;
                count.multiplications += w.nrows() * w.ncols() + w.ncols();
            }
        }
    }
    // ANCHOR_END: counted_backprop
    // Test-only: a planted transposed update (feature `mutants`, see crate::mutants).
    #[cfg(feature = "mutants")]
    crate::mutants::transpose_square_layers(&mut dw);
    Ok((loss(y, trace.output().as_view()), dw, count))
}
