//! The book's chapter "The element-wise index form": one element (∂E/∂W_0)^{jk} from the sum
//! over r with the Kronecker delta, written as the seed writes it, against
//! `gradient::elementwise` and `gradient::denominator`.
//!
//! Run: `cargo run --release -p backprop --example book_elementwise`

use backprop::gradient::{denominator, elementwise};
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
    // ANCHOR: index
    // ∂E/∂z_1 as a row, by the chain of the previous chapters:
    // ∂E/∂z_i = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)), from ∂E/∂z_3 = −2 (y − z_3)ᵀ down to i = 1.
    let mut row = (trace.output() - &y).transpose() * 2.0;
    for i in (1..net.depth()).rev() {
        let sigma_prime = trace.z(i).map(|z| net.activation().sigma_prime(z));
        row = (row * net.weight(i)).component_mul(&sigma_prime.transpose());
    }
    let de_dz1: Vec<f64> = row.iter().copied().collect();
    let a_0 = trace.a(0);

    // (∂E/∂W_0)^{jk} = Σ_r ∂E/∂z_1^r · ∂z_1^r/∂W_0^{jk}, where z_1^r = Σ_c W_0^{rc} a_0^c gives
    // ∂z_1^r/∂W_0^{jk} = a_0^k δ_{rj} (only row r = j of W_0 touches z_1^r).
    let kronecker = |r: usize, j: usize| if r == j { 1.0 } else { 0.0 };
    let (j, k) = (2, 1);
    let sum: f64 = (0..4).map(|r| de_dz1[r] * a_0[k] * kronecker(r, j)).sum();
    // The sum keeps one term: (∂E/∂W_0)^{jk} = ∂E/∂z_1^j a_0^k.
    assert_eq!(sum, de_dz1[j] * a_0[k]);
    // ANCHOR_END: index
    println!("(∂E/∂W_0)^{{{j}{k}}} = Σ_r ∂E/∂z_1^r a_0^{k} δ_{{r{j}}} = {sum:.12}");

    // ANCHOR: check
    let (_, idx) = elementwise::gradient(&net, x.as_view(), y.as_view())?;
    let (_, den) = denominator::gradient(&net, x.as_view(), y.as_view())?;
    assert!((idx.layer(0)[(j, k)] - sum).abs() < 1e-15);
    assert!((0..net.depth()).all(|i| close(idx.layer(i), den.layer(i), 1e-15)));
    // In matrix form: ∂E/∂W_0 = (∂E/∂z_1)ᵀ a_0ᵀ, a column times a row.
    let outer = DMatrix::from_column_slice(4, 1, &de_dz1) * a_0.transpose();
    assert!(close(&outer, den.layer(0), 1e-15));
    println!(
        "element-wise = denominator, max |difference| {:.1e}",
        idx.max_abs_diff(&den)
    );
    // ANCHOR_END: check
    Ok(())
}
