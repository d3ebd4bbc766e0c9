//! The cost of a gradient check against the number of weights P, for the three modes, and the
//! figure the issue asks for: a full element-wise check of S2 (784-128-10, batch 1, f64,
//! 101,632 weights) on one thread.
//!
//! The S2 figure is printed first (median of 31 runs: wall time from `std::time::Instant`, and
//! the thread's CPU time, which does not grow when other processes share the machine), then
//! criterion measures:
//!
//! * `gradcheck_s2/{full,sampled_64,projected_4}`: S2 with the peers' data
//!   (`backprop_benches::peer_data`);
//! * `gradcheck_cost_vs_p/{mode}/{P}`: 784-h-10 networks, h = 16..128, so P = 794 h, with
//!   `Throughput::Elements(P)`.
//!
//! Each measured call is one `check_backprop`: the batched backpropagation (the analytic
//! gradient under test) and the check itself.
//!
//! Run: `cargo bench -p backprop-benches --features bench --bench gradcheck`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backprop::{Activation, Network};
use backprop_benches::{peer_data, shape};
use backprop_gradcheck::{CheckConfig, check_backprop};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;

fn modes() -> [(&'static str, CheckConfig); 3] {
    [
        ("full", CheckConfig::full()),
        ("sampled_64", CheckConfig::sampled(64)),
        ("projected_4", CheckConfig::projected(4)),
    ]
}

/// The figure: median wall time of a full check of S2, printed before criterion runs.
fn s2_figure() {
    let s2 = shape("S2").expect("S2 is a peer shape");
    let (net, x, y) = peer_data::<f64>(&s2);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full())
        .expect("S2 is a valid network and batch");
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..31 {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        black_box(check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).ok());
        times.push(t.elapsed());
        cpu.push(thread_cpu_ns().saturating_sub(c));
    }
    times.sort();
    cpu.sort();
    let (checked, passed, failed, kinks, floor) = report.totals();
    println!(
        "S2 full element-wise check (784-128-10, B = 1, f64, {} weights), {} runs: wall median {:.2} ms \
         (min {:.2} ms), thread CPU median {:.2} ms [{checked} checked: {passed} passed, {failed} failed, \
         {kinks} kink, {floor} floor]",
        net.parameter_count(),
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        cpu[cpu.len() / 2] as f64 * 1e-6,
    );
}

/// This thread's CPU time in ns (Linux: the first field of /proc/thread-self/schedstat), 0
/// where unavailable. Unlike wall time it does not grow when other processes share the CPU.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn bench_s2(c: &mut Criterion) {
    s2_figure();
    let s2 = shape("S2").expect("S2 is a peer shape");
    let (net, x, y) = peer_data::<f64>(&s2);
    let mut group = c.benchmark_group("gradcheck_s2");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(net.parameter_count() as u64));
    for (name, config) in modes() {
        group.bench_function(name, |b| {
            b.iter(|| check_backprop(&net, black_box(x.as_view()), y.as_view(), &config))
        });
    }
    group.finish();
}

fn bench_cost_vs_p(c: &mut Criterion) {
    let mut group = c.benchmark_group("gradcheck_cost_vs_p");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    let x = DMatrix::from_fn(784, 1, |r, _| ((r * 37 % 101) as f64) / 101.0);
    let y = DMatrix::from_fn(10, 1, |r, _| (r as f64) / 5.0 - 1.0);
    for (name, config) in modes() {
        for h in [16, 32, 64, 128] {
            let net =
                Network::<f64>::random(&[784, h, 10], Activation::Sigmoid, 7).expect("valid sizes");
            let p = net.parameter_count();
            group.throughput(Throughput::Elements(p as u64));
            group.bench_with_input(BenchmarkId::new(name, p), &net, |b, net| {
                b.iter(|| check_backprop(net, black_box(x.as_view()), y.as_view(), &config))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_s2, bench_cost_vs_p);
criterion_main!(benches);
