//! The seed's network, 3-4-5-2 with sigmoid hidden layers, trained by the seed's rule
//! (dW_i = −m Σ_s ∂E/∂W_i) on a small seeded data set; prints the loss falling and checks, before
//! training, that the four gradient forms agree (numerator, denominator, element-wise, naive).
//!
//! Run: `cargo run --release -p backprop --example seed_network`

use backprop::gradient::{denominator, elementwise, naive, numerator};
use backprop::{Activation, EpochReport, Network, TrainConfig, train_with};
use nalgebra::DMatrix;
use std::ops::ControlFlow;

fn main() -> Result<(), backprop::Error> {
    // 32 samples: x ∈ [0, 1]³, y = (x_0 − x_1, x_1 x_2 − 0.5); one sample per column.
    let x = DMatrix::from_fn(3, 32, |r, c| ((c * 5 + r * 11) % 32) as f64 / 31.0);
    let y = DMatrix::from_fn(2, 32, |r, c| {
        if r == 0 {
            x[(0, c)] - x[(1, c)]
        } else {
            x[(1, c)] * x[(2, c)] - 0.5
        }
    });
    let mut net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;

    let (e, num) = numerator::gradient(&net, x.as_view(), y.as_view())?;
    let (_, den) = denominator::gradient(&net, x.as_view(), y.as_view())?;
    let (_, idx) = elementwise::gradient(&net, x.as_view(), y.as_view())?;
    let (_, nai) = naive::gradient(&net, x.as_view(), y.as_view())?;
    println!("E at the start: {e:.6}");
    println!(
        "max |numeratorᵀ − denominator| = {:.1e}, max |element-wise − denominator| = {:.1e}, \
         max |naive − denominator| = {:.1e}",
        num.to_denominator().max_abs_diff(&den),
        idx.max_abs_diff(&den),
        nai.max_abs_diff(&den)
    );

    let config = TrainConfig {
        learning_rate: 0.05,
        epochs: 2000,
        batch_size: 8,
        seed: 1,
        ..Default::default()
    };
    let mut print = |r: &EpochReport, _: &Network<f64>| {
        if r.epoch.is_multiple_of(200) || r.epoch + 1 == config.epochs {
            println!("epoch {:>5}  E = {:.6}", r.epoch, r.loss);
        }
        ControlFlow::Continue(())
    };
    let history = train_with(&mut net, x.as_view(), y.as_view(), &config, &mut print)?.reports;
    let (first, last) = (history[0].loss, history[history.len() - 1].loss);
    println!(
        "E fell from {first:.6} to {last:.6} ({:.1}× lower)",
        first / last
    );
    Ok(())
}
