//! The gradient forms side by side, and the naive chain against dynamic programming over depth.
//!
//! * `gradient_forms_{f64,f32}/{form}/{S1,S2,S3}`: ∂E/∂W_i for the peers' data, each form of
//!   [`backprop::gradient`] (numerator layout, the Jacobian chain ∂E/∂z_{i+1} W_i diag σ′(z_i);
//!   denominator layout, δ_i = σ′(z_i) ⊙ W_iᵀ δ_{i+1}; the element-wise index form
//!   (∂E/∂W_i)^{jk} = ∂E/∂z_{i+1}^j a_i^k; the naive O(n²) chain) and the batched
//!   [`backprop::Workspace::gradient`]. `Throughput::Elements(B)`.
//! * `depth_{naive,dp}/n`: a 16-wide sigmoid network of depth n = 2, 4, 8, 16, 32, one sample.
//!   The naive chain recomputes the product ∂E/∂z_n W_{n−1} … for every W_i: O(n²) products;
//!   backpropagation reuses the prefix: O(n). Doubling n roughly quadruples `depth_naive` and
//!   doubles `depth_dp`.
//!
//! Run: `cargo bench -p backprop-benches --features bench --bench gradient`.

use std::hint::black_box;
use std::time::Duration;

use backprop::gradient::{denominator, elementwise, naive, numerator};
use backprop::{Activation, Network, Scalar, Workspace};
use backprop_benches::{peer_data, shape};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;

fn forms<T: Scalar>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(300));
    for s in ["S1", "S2", "S3"] {
        let s = shape(s).expect("peer shape");
        let (net, x, y) = peer_data::<T>(&s);
        let (x, y) = (x.as_view(), y.as_view());
        group.throughput(Throughput::Elements(s.batch as u64));
        group.bench_function(BenchmarkId::new("numerator", s.name), |b| {
            b.iter(|| numerator::gradient(&net, black_box(x), y).expect("valid"))
        });
        group.bench_function(BenchmarkId::new("denominator", s.name), |b| {
            b.iter(|| denominator::gradient(&net, black_box(x), y).expect("valid"))
        });
        group.bench_function(BenchmarkId::new("elementwise", s.name), |b| {
            b.iter(|| elementwise::gradient(&net, black_box(x), y).expect("valid"))
        });
        group.bench_function(BenchmarkId::new("naive", s.name), |b| {
            b.iter(|| naive::gradient(&net, black_box(x), y).expect("valid"))
        });
        let mut ws = Workspace::new(&net, s.batch).expect("fits");
        group.bench_function(BenchmarkId::new("batched", s.name), |b| {
            b.iter(|| ws.gradient(&net, black_box(x), y).expect("valid"))
        });
    }
    group.finish();
}

fn bench_forms(c: &mut Criterion) {
    forms::<f64>(c, "gradient_forms_f64");
    forms::<f32>(c, "gradient_forms_f32");
}

/// Naive chain vs dynamic programming (backpropagation) for depth n = 2..32.
fn bench_depth(c: &mut Criterion) {
    const WIDTH: usize = 16;
    let x = DMatrix::<f64>::from_fn(WIDTH, 1, |r, _| (r as f64 * 0.37).sin());
    let y = DMatrix::<f64>::from_fn(WIDTH, 1, |r, _| (r as f64 * 0.11).cos());
    for (name, dp) in [("depth_naive", false), ("depth_dp", true)] {
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(1));
        group.warm_up_time(Duration::from_millis(200));
        group.throughput(Throughput::Elements(1));
        for n in [2usize, 4, 8, 16, 32] {
            let net = Network::<f64>::random(&vec![WIDTH; n + 1], Activation::Sigmoid, 5)
                .expect("valid sizes");
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| {
                    if dp {
                        denominator::gradient(&net, black_box(x.as_view()), y.as_view())
                    } else {
                        naive::gradient(&net, black_box(x.as_view()), y.as_view())
                    }
                    .expect("valid")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_forms, bench_depth);
criterion_main!(benches);
