//! Prints the projected-mode and sampled-mode reports for a 784-128-10 sigmoid network, with
//! the median wall time of each. `cargo run --release -p backprop-gradcheck --example s2_projected`.

use backprop::{Activation, Network};
use backprop_gradcheck::{CheckConfig, check_backprop};
use nalgebra::DMatrix;
use std::time::Instant;

fn main() -> Result<(), backprop_gradcheck::Error> {
    let net = Network::<f64>::random(&[784, 128, 10], Activation::Sigmoid, 1)?;
    let x = DMatrix::from_fn(784, 1, |r, _| ((r * 37 % 101) as f64) / 101.0);
    let y = DMatrix::from_fn(10, 1, |r, _| (r as f64) / 5.0 - 1.0);
    for config in [CheckConfig::projected(4), CheckConfig::sampled(64)] {
        let report = check_backprop(&net, x.as_view(), y.as_view(), &config)?;
        let mut times: Vec<f64> = (0..11)
            .map(|_| {
                let t = Instant::now();
                let _ = check_backprop(&net, x.as_view(), y.as_view(), &config);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("{report}\nmedian {:.2} ms over 11 runs", times[5]);
    }
    Ok(())
}
