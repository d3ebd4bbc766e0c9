//! The chain products the naive chain and backpropagation perform for n = 2…32 weight matrices
//! (counted while they compute the gradient: `gradient::naive::gradient_counted` and
//! `gradient::denominator::gradient_counted`), one sample, layers 2-3-4-3-…-1. Prints a
//! Markdown table.
//!
//! Run: `cargo run --release -p backprop --example product_counts`

use backprop::gradient::{denominator, naive};
use backprop::{Activation, Network};
use nalgebra::DMatrix;

fn main() -> Result<(), backprop::Error> {
    println!(
        "| n | naive chain products | backprop chain products | naive multiplications | backprop multiplications |"
    );
    println!("|---|---|---|---|---|");
    for n in 2..=32 {
        let mut sizes = vec![2];
        sizes.extend((1..n).map(|i| 3 + i % 2));
        sizes.push(1);
        let net = Network::<f64>::random(&sizes, Activation::Tanh, n as u64)?;
        let (x, y) = (
            DMatrix::from_element(2, 1, 0.5),
            DMatrix::from_element(1, 1, 0.0),
        );
        let (_, _, slow) = naive::gradient_counted(&net, x.as_view(), y.as_view())?;
        let (_, _, fast) = denominator::gradient_counted(&net, x.as_view(), y.as_view())?;
        println!(
            "| {n} | {} | {} | {} | {} |",
            slow.chain, fast.chain, slow.multiplications, fast.multiplications
        );
    }
    Ok(())
}
