//! The book's chapter "The loss": E = ‖y − z_n‖² and ∂E/∂z_n = −2 (y − z_n), the first factor of
//! every chain, checked against a central difference of E in each output.
//!
//! Run: `cargo run --release -p backprop --example book_loss`

use backprop::{loss, loss_gradient};
use nalgebra::DMatrix;

fn main() {
    // ANCHOR: loss
    let y = DMatrix::<f64>::from_column_slice(2, 1, &[1.0, -1.0]);
    let z_n = DMatrix::from_column_slice(2, 1, &[0.25, 0.5]);
    // E = Σ_k (y^k − z_n^k)² = 0.75² + 1.5² = 2.8125, with no ½ in front.
    let e = loss(y.as_view(), z_n.as_view());
    assert_eq!(e, 2.8125);
    // ∂E/∂z_n = −2 (y − z_n) = (−1.5, 3.0).
    let de_dzn = loss_gradient(y.as_view(), z_n.as_view());
    assert_eq!(de_dzn.as_slice(), &[-1.5, 3.0]);
    // ANCHOR_END: loss
    println!("E = {e}, ∂E/∂z_n = [{}, {}]", de_dzn[0], de_dzn[1]);

    // ANCHOR: check
    // A central difference of E in each output z_n^k agrees with the formula.
    let h = 1e-6;
    for k in 0..2 {
        let (mut up, mut down) = (z_n.clone(), z_n.clone());
        up[k] += h;
        down[k] -= h;
        let numeric =
            (loss(y.as_view(), up.as_view()) - loss(y.as_view(), down.as_view())) / (2.0 * h);
        println!(
            "k = {k}: formula {:+.6}, central difference {numeric:+.6}",
            de_dzn[k]
        );
        assert!((numeric - de_dzn[k]).abs() < 1e-8);
    }
    // ANCHOR_END: check
}
