//! Times a full element-wise check of a 784-128-10 sigmoid network (batch 1, f64), the shape
//! of the peers' S2, and prints the report's totals. `cargo run --release --example s2_check`.

use backprop::{Activation, Network};
use backprop_gradcheck::{CheckConfig, check_backprop};
use nalgebra::DMatrix;
use std::time::Instant;

fn main() -> Result<(), backprop_gradcheck::Error> {
    let net = Network::<f64>::random(&[784, 128, 10], Activation::Sigmoid, 1)?;
    let x = DMatrix::from_fn(784, 1, |r, _| ((r * 37 % 101) as f64) / 101.0);
    let y = DMatrix::from_fn(10, 1, |r, _| (r as f64) / 5.0 - 1.0);
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..runs {
        let t = Instant::now();
        report = Some(check_backprop(
            &net,
            x.as_view(),
            y.as_view(),
            &CheckConfig::full(),
        )?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    if let Some(r) = report {
        println!("{:?}", r.totals());
    }
    println!(
        "median {:.2} ms, min {:.2} ms",
        times[times.len() / 2],
        times[0]
    );
    Ok(())
}
