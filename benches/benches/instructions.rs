//! Instruction counts of one training step on the peers' shapes S1–S3 and T1 (2-24-24-2,
//! batch 16) and of one gradient check, under valgrind's callgrind (through gungraun).
//!
//! Counts, not seconds: the same binary on the same inputs executes the same instructions
//! whatever else the machine is doing, so `.ci/instructions.sh` can compare them with the
//! committed baseline `benches/baseline/instructions.tsv` and fail on a small regression
//! (see `.ci/README.md`). Each benchmark runs once; its setup (the peers' data, the
//! [`Workspace`] buffers, one warm-up step) runs outside the measured region, so a count is
//! exactly one call of
//!
//! ```text
//! Workspace::step(&mut net, X, Y, m, Reduction::Sum)     (forward, backward, W_i ← W_i − m ∂E/∂W_i)
//! ```
//!
//! or of one `backprop_gradcheck::check_backprop` (S1 full, S2 sampled).
//!
//! valgrind 3.19 cannot execute AVX-512 instructions and reports an AVX2 CPU to the program:
//! a kernel with runtime dispatch takes its AVX2 path here, so these counts measure the AVX2
//! path (or the plain path, if no dispatch exists), never the AVX-512 one.
//!
//! Run: `bash .ci/instructions.sh` (needs valgrind and `gungraun-runner` at the library's
//! version); `bash .ci/instructions.sh --update` rewrites the baseline.

// gungraun's macros generate public items without docs.
#![allow(missing_docs)]

use std::hint::black_box;

use backprop::{Network, Reduction, Scalar, Workspace};
use backprop_benches::{LEARNING_RATE, peer_data, shape};
use backprop_gradcheck::{CheckConfig, Report, check_backprop};
use gungraun::prelude::*;
use nalgebra::DMatrix;

/// Everything a measured step needs, built outside the measured region.
struct Step<T: Scalar> {
    net: Network<T>,
    x: DMatrix<T>,
    y: DMatrix<T>,
    ws: Workspace<T>,
}

/// The peers' network and batch for `name`, a workspace for it, and one warm-up step on a copy
/// of the network (so lazily initialised state, such as a CPU-feature probe, is not counted).
/// The measured step then starts from the peers' initial weights.
fn setup_step<T: Scalar>(name: &str) -> Step<T> {
    let shape = shape(name).expect("S1..S5 and T1 exist");
    let (net, x, y) = peer_data::<T>(&shape);
    let mut ws = Workspace::new(&net, shape.batch).expect("peer shapes fit in memory");
    let mut warm = net.clone();
    ws.step(
        &mut warm,
        x.as_view(),
        y.as_view(),
        T::of_f64(LEARNING_RATE),
        Reduction::Sum,
    )
    .expect("peer data fit their network");
    Step { net, x, y, ws }
}

/// One SGD step; returns E before the update and the updated network.
/// One step; returns E and the whole `Step`, so that freeing the workspace and the batch
/// happens after the measured call (gungraun counts the benchmark function, drops of its
/// arguments included, not the drop of what it returns).
fn step<T: Scalar>(mut s: Step<T>) -> (T, Step<T>) {
    let e =
        s.ws.step(
            black_box(&mut s.net),
            black_box(s.x.as_view()),
            black_box(s.y.as_view()),
            T::of_f64(LEARNING_RATE),
            Reduction::Sum,
        )
        .expect("peer data fit their network");
    (e, s)
}

#[library_benchmark]
#[bench::s1(setup = setup_step::<f32>, args = ("S1"))]
#[bench::s2(setup = setup_step::<f32>, args = ("S2"))]
#[bench::s3(setup = setup_step::<f32>, args = ("S3"))]
#[bench::t1(setup = setup_step::<f32>, args = ("T1"))]
fn step_f32(s: Step<f32>) -> (f32, Step<f32>) {
    black_box(step(s))
}

#[library_benchmark]
#[bench::s1(setup = setup_step::<f64>, args = ("S1"))]
#[bench::s2(setup = setup_step::<f64>, args = ("S2"))]
#[bench::s3(setup = setup_step::<f64>, args = ("S3"))]
#[bench::t1(setup = setup_step::<f64>, args = ("T1"))]
fn step_f64(s: Step<f64>) -> (f64, Step<f64>) {
    black_box(step(s))
}

/// The peers' network and batch (f64) for `name`.
fn setup_check(name: &str) -> (Network<f64>, DMatrix<f64>, DMatrix<f64>) {
    peer_data::<f64>(&shape(name).expect("S1..S5 exist"))
}

// A full check of S1 (every element of every W_i) and a sampled check of S2 (8 seeded
// elements per layer), both with the default finite-difference oracle. (gungraun's attribute
// macro takes no doc comments.)
#[library_benchmark]
#[bench::s1_full(args = ("S1", CheckConfig::full()), setup = setup_check_with)]
#[bench::s2_sampled(args = ("S2", CheckConfig::sampled(8)), setup = setup_check_with)]
fn gradcheck_f64(data: CheckInput) -> Report {
    let (net, x, y, config) = data;
    black_box(
        check_backprop(
            black_box(&net),
            black_box(x.as_view()),
            black_box(y.as_view()),
            &config,
        )
        .expect("the peers' data check without error"),
    )
}

/// A check's network, inputs, targets and configuration.
type CheckInput = (Network<f64>, DMatrix<f64>, DMatrix<f64>, CheckConfig);

/// [`setup_check`] plus the configuration.
fn setup_check_with(name: &str, config: CheckConfig) -> CheckInput {
    let (net, x, y) = setup_check(name);
    (net, x, y, config)
}

library_benchmark_group!(name = training_step, benchmarks = [step_f32, step_f64]);
library_benchmark_group!(name = gradient_check, benchmarks = [gradcheck_f64]);

main!(library_benchmark_groups = training_step, gradient_check);
