//! Times a full element-wise check of a 784-128-10 sigmoid network (batch 1, f64), the shape
//! of the peers' S2, and prints the report's totals, the wall time and the thread's CPU time.
//! `cargo run --release -p backprop-gradcheck --example s2_check [runs]`.

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
        .unwrap_or(11)
        .max(1);
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut report = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        report = Some(check_backprop(
            &net,
            x.as_view(),
            y.as_view(),
            &CheckConfig::full(),
        )?);
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push(thread_cpu_ns().saturating_sub(c) as f64 * 1e-6);
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    if let Some(r) = report {
        let (checked, passed, failed, kinks, floor) = r.totals();
        println!(
            "{checked} checked: {passed} passed, {failed} failed, {kinks} kink, {floor} floor"
        );
    }
    println!(
        "wall: median {:.2} ms, min {:.2} ms; thread CPU: median {:.2} ms ({runs} runs)",
        wall[runs / 2],
        wall[0],
        cpu[runs / 2]
    );
    Ok(())
}

/// This thread's CPU time in ns (Linux: the first field of /proc/thread-self/schedstat), 0
/// where unavailable.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
