//! One training step and the forward pass of the batched fast path ([`backprop::Workspace`]) on
//! the peers' shapes S1–S5 and data (`../shared/peers/README.md`), in f32 and f64.
//!
//! A measured step is exactly what the peers time:
//!
//! ```text
//! Z_{i+1} = W_i A_i, A_i = σ(Z_i);  Δ_n = −2 (Y − Z_n);  Δ_i = σ′(Z_i) ⊙ (W_iᵀ Δ_{i+1});
//! W_i ← W_i − m Δ_{i+1} A_iᵀ        (m = 1e-3, gradients summed over the batch)
//! ```
//!
//! with the weights restored to W0 before every step, outside the timed region
//! ([`backprop_benches::StepBench::timed_step`]), so every timed step does the same arithmetic.
//! `Throughput::Elements(B)`: criterion prints samples/s.
//!
//! Groups: `step_{f64,f32}/S1..S5`, `forward_{f64,f32}/S1..S5`, `step_2threads_{f64,f32}/S4,S5`,
//! and `vs_nalgebra_{f64,f32}/{S1..S5,T1}` with two functions each, `backprop` (the project's
//! step, one thread) and `nalgebra` (the plain-nalgebra baseline of the same step,
//! [`backprop_benches::NalgebraStep`]), timed by the same protocol. T1 (2-24-24-2, batch 16, the
//! size of `backprop train`'s spiral job) is not a peers' shape and is timed with the sigmoid
//! like the others (the command line's job uses tanh).
//! Run: `cargo bench -p backprop-benches --features bench --bench step` (filter e.g. `-- step_f64/S2`
//! or `-- vs_nalgebra_f32/S3`).

use std::hint::black_box;
use std::time::Duration;

use backprop::Scalar;
use backprop_benches::{BASELINE_SHAPES, NalgebraBench, SHAPES, Shape, StepBench};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

/// Short measurement for the fast shapes, fewer samples for the GEMM-bound ones.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    s: &Shape,
) {
    if s.step_flops() > 100_000_000 {
        // One step per sample: criterion's linear sampling would run 55 steps of S5.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(4));
        group.warm_up_time(Duration::from_millis(500));
    } else {
        group.sampling_mode(SamplingMode::Auto);
        group.sample_size(30);
        group.measurement_time(Duration::from_secs(2));
        group.warm_up_time(Duration::from_millis(300));
    }
}

fn steps<T: Scalar>(c: &mut Criterion, name: &str, threads: usize, shapes: &[Shape]) {
    let mut group = c.benchmark_group(name);
    for s in shapes {
        configure(&mut group, s);
        group.throughput(Throughput::Elements(s.batch as u64));
        let mut bench = StepBench::<T>::new(s, threads);
        group.bench_function(BenchmarkId::from_parameter(s.name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| bench.timed_step()).sum())
        });
    }
    group.finish();
}

fn forwards<T: Scalar>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(name);
    for s in &SHAPES {
        configure(&mut group, s);
        group.throughput(Throughput::Elements(s.batch as u64));
        let mut bench = StepBench::<T>::new(s, 1);
        group.bench_function(BenchmarkId::from_parameter(s.name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| black_box(bench.timed_forward())).sum())
        });
    }
    group.finish();
}

fn bench_step(c: &mut Criterion) {
    steps::<f64>(c, "step_f64", 1, &SHAPES);
    steps::<f32>(c, "step_f32", 1, &SHAPES);
}

fn bench_forward(c: &mut Criterion) {
    forwards::<f64>(c, "forward_f64");
    forwards::<f32>(c, "forward_f32");
}

/// One group per shape: the project's step and the nalgebra baseline's, side by side.
fn versus_nalgebra<T: Scalar>(c: &mut Criterion, dtype: &str) {
    for s in &BASELINE_SHAPES {
        let mut group = c.benchmark_group(format!("vs_nalgebra_{dtype}/{}", s.name));
        configure(&mut group, s);
        group.throughput(Throughput::Elements(s.batch as u64));
        let mut ours = StepBench::<T>::new(s, 1);
        group.bench_function("backprop", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ours.timed_step()).sum())
        });
        drop(ours);
        let mut base = NalgebraBench::<T>::new(s);
        group.bench_function("nalgebra", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| base.timed_step()).sum())
        });
        group.finish();
    }
}

fn bench_versus_nalgebra(c: &mut Criterion) {
    versus_nalgebra::<f64>(c, "f64");
    versus_nalgebra::<f32>(c, "f32");
}

fn bench_two_threads(c: &mut Criterion) {
    let big: Vec<Shape> = SHAPES
        .iter()
        .copied()
        .filter(|s| s.name == "S4" || s.name == "S5")
        .collect();
    steps::<f64>(c, "step_2threads_f64", 2, &big);
    steps::<f32>(c, "step_2threads_f32", 2, &big);
}

criterion_group!(
    benches,
    bench_step,
    bench_forward,
    bench_two_threads,
    bench_versus_nalgebra
);
criterion_main!(benches);
