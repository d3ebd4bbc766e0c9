//! The book's chapter "The network and its notation": the seed's 3-4-5-2 network, its weight
//! shapes W_i ∈ R^{l_{i+1} × l_i}, and one forward pass z_{i+1} = W_i a_i, a_i = σ(z_i),
//! recomputed by hand and compared with the crate's.
//!
//! Run: `cargo run --release -p backprop --example book_network`

use backprop::{Activation, Network};
use nalgebra::DMatrix;

/// |a − b| ≤ tol in every element, shapes equal. False when either holds a NaN (a maximum of
/// differences would skip it).
fn close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

fn main() -> Result<(), backprop::Error> {
    // ANCHOR: network
    // Layers 0..n with sizes l_0..l_n = 3, 4, 5, 2: n = 3 weight matrices, no biases.
    let net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    assert_eq!(net.depth(), 3);
    for (i, w) in net.weights().iter().enumerate() {
        // W_i maps a_i (l_i × 1) to z_{i+1} (l_{i+1} × 1).
        println!("W_{i}: {} × {}", w.nrows(), w.ncols());
        assert_eq!(w.shape(), (net.sizes()[i + 1], net.sizes()[i]));
    }
    // ANCHOR_END: network

    // ANCHOR: forward
    // a_0 = x; z_{i+1} = W_i a_i; a_i = σ(z_i); the output is z_n (no σ on it).
    let x = DMatrix::from_column_slice(3, 1, &[0.5, -0.1, 0.3]);
    let mut a = x.clone();
    let mut z = DMatrix::zeros(0, 0);
    for i in 0..net.depth() {
        z = net.weight(i) * &a;
        a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    }
    let z_n = z;
    // The crate's forward pass keeps every z_i and a_i for the backward pass.
    let trace = net.forward(x.as_view())?;
    assert!(close(trace.output(), &z_n, 1e-15));
    println!("z_3 = [{:.6}, {:.6}]", z_n[0], z_n[1]);
    // ANCHOR_END: forward
    for i in 1..net.depth() {
        println!(
            "z_{i}, a_{i}: {} × 1 (a_{i} = σ(z_{i}))",
            trace.z(i).nrows()
        );
    }
    Ok(())
}
