//! The book's chapter "More than one data point, and SGD": ∂E/∂W_i for t samples is the sum of
//! the per-sample gradients; the batched product Δ_{i+1} A_iᵀ performs that sum; one step
//! W_i ← W_i − m ∂E/∂W_i lowers E; and repeated steps train the network.
//!
//! Run: `cargo run --release -p backprop --example book_batches`

use backprop::gradient::denominator;
use backprop::{Activation, DenominatorGradient, Network, Reduction, Workspace};
use nalgebra::DMatrix;

/// |a − b| ≤ tol in every element, shapes equal. False when either holds a NaN (a maximum of
/// differences would skip it).
fn close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

fn main() -> Result<(), backprop::Error> {
    let mut net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    // t = 8 samples, one per column: x ∈ [0, 1]³, y = (x_0 − x_1, x_1 x_2 − 0.5).
    let t = 8;
    let x = DMatrix::from_fn(3, t, |r, c| ((c * 5 + r * 3) % 8) as f64 / 7.0);
    let y = DMatrix::from_fn(2, t, |r, c| match r {
        0 => x[(0, c)] - x[(1, c)],
        _ => x[(1, c)] * x[(2, c)] - 0.5,
    });

    // ANCHOR: sum
    // One sample at a time: dW_i^total = Σ_s ∂E^(s)/∂W_i.
    let mut total = DenominatorGradient::<f64>::zeros_like(net.weights());
    for s in 0..t {
        let (_, g) = denominator::gradient(&net, x.columns(s, 1), y.columns(s, 1))?;
        total.add_assign(&g);
    }
    // The batch at once: columns of X and Y are the samples, ∂E/∂W_i = Δ_{i+1} A_iᵀ, and the
    // matrix product's inner sum runs over the samples.
    let mut ws = Workspace::new(&net, t)?;
    let e = ws.gradient(&net, x.as_view(), y.as_view())?;
    let diff = ws.gradient_ref().max_abs_diff(&total);
    let agree = (0..net.depth()).all(|i| close(ws.gradient_ref().layer(i), total.layer(i), 1e-14));
    println!("E = {e:.6} over {t} samples; max |Σ_s per-sample − batched| = {diff:.1e}");
    assert!(agree);
    // ANCHOR_END: sum

    // ANCHOR: step
    // The update with learning rate m: W_i ← W_i + dW_i, dW_i = −m ∂E/∂W_i.
    let m = 0.05;
    let mut by_hand = net.clone();
    for i in 0..by_hand.depth() {
        let dw = total.layer(i) * -m;
        by_hand.weight_mut(i).zip_apply(&dw, |w, d| *w += d);
    }
    ws.step(&mut net, x.as_view(), y.as_view(), m, Reduction::Sum)?;
    for i in 0..net.depth() {
        assert!(close(net.weight(i), by_hand.weight(i), 1e-14));
    }
    let after = backprop::loss(y.as_view(), net.predict(x.as_view())?.as_view());
    println!("one step with m = {m}: E {e:.6} -> {after:.6}");
    assert!(after < e);
    // ANCHOR_END: step

    // ANCHOR: train
    // Repeating the step is training (here on the whole batch each time: gradient descent).
    let mut last = after;
    for epoch in 1..=2000 {
        last = ws.step(&mut net, x.as_view(), y.as_view(), m, Reduction::Sum)?;
        if epoch % 500 == 0 {
            println!("step {epoch:>4}: E = {last:.6}");
        }
    }
    assert!(last < e / 10.0);
    // ANCHOR_END: train
    Ok(())
}
