//! The book's chapter "Denominator layout and δ": backpropagation with δ columns,
//! δ_n = −2 (y − z_n), δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1}), ∂E/∂W_i = δ_{i+1} a_iᵀ, written out and
//! checked against `gradient::denominator` and against the transposed numerator layout.
//!
//! Run: `cargo run --release -p backprop --example book_denominator`

use backprop::gradient::{denominator, numerator};
use backprop::{Activation, Network};
use nalgebra::DMatrix;

/// |a − b| ≤ tol in every element, shapes equal. False when either holds a NaN (a maximum of
/// differences would skip it).
fn close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

fn main() -> Result<(), backprop::Error> {
    let net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    let x = DMatrix::from_column_slice(3, 1, &[0.5, -0.1, 0.3]);
    let y = DMatrix::from_column_slice(2, 1, &[1.0, -1.0]);
    let trace = net.forward(x.as_view())?;
    let n = net.depth();

    // ANCHOR: delta
    // δ_n = ∂E/∂z_n as a column (l_n × 1): the transpose of the numerator row.
    let mut delta = (trace.output() - &y) * 2.0;
    let mut de_dw = vec![DMatrix::zeros(0, 0); n];
    for i in (0..n).rev() {
        // ∂E/∂W_i = δ_{i+1} a_iᵀ: l_{i+1} × l_i, the shape of W_i, ready for W_i − m ∂E/∂W_i.
        de_dw[i] = &delta * trace.a(i).transpose();
        if i > 0 {
            // δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1}): diag(σ′) becomes an element-wise product.
            let back = net.weight(i).transpose() * &delta;
            let sigma_prime = trace.z(i).map(|z| net.activation().sigma_prime(z));
            delta = sigma_prime.component_mul(&back);
        }
        println!(
            "∂E/∂W_{i}: {} × {} (W_{i}: {} × {})",
            de_dw[i].nrows(),
            de_dw[i].ncols(),
            net.weight(i).nrows(),
            net.weight(i).ncols()
        );
    }
    // ANCHOR_END: delta

    // ANCHOR: check
    let (_, den) = denominator::gradient(&net, x.as_view(), y.as_view())?;
    let (_, num) = numerator::gradient(&net, x.as_view(), y.as_view())?;
    for i in 0..n {
        assert!(close(den.layer(i), &de_dw[i], 1e-15));
        // The same numbers as the numerator layout, transposed.
        assert!(close(&num.layer(i).transpose(), &de_dw[i], 1e-15));
    }
    println!(
        "δ form = denominator::gradient = numerator::gradientᵀ, max |difference| {:.1e}",
        num.to_denominator().max_abs_diff(&den)
    );
    // ANCHOR_END: check
    Ok(())
}
