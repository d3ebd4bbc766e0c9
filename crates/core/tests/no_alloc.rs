//! After its first step, a training step allocates nothing: a counting global allocator proves
//! it.
//!
//! The counter is per thread, so tests running in parallel do not disturb each other.
//!
//! On the x86 kernels (AVX2 or AVX-512) the bound is zero. On the portable path (every other
//! target, or the `portable` feature) the products run on `matrixmultiply`, which allocates its
//! packing buffer on every call it does not take as tiny: there the bound is one allocation per
//! product of the step (n forward, n − 1 backward, n updates), and nothing else.

use backprop::{Activation, EpochConfig, Network, Reduction, Trainer, Workspace};
use nalgebra::DMatrix;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations `steps` training steps of a depth-n network may make: none on the x86
/// kernels; on the portable path, one packing buffer per product (3n − 1 per step).
fn allowed(depth: usize, steps: usize) -> usize {
    if backprop_kernels::isa() == backprop_kernels::Isa::Portable {
        steps * (3 * depth - 1)
    } else {
        0
    }
}

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn data(rows: usize, cols: usize, seed: f64) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |r, c| ((r * 31 + c * 17) as f64 * seed).sin())
}

#[test]
fn workspace_step_allocates_nothing_after_the_first() {
    for (sizes, batch) in [
        (vec![3, 4, 5, 2], 1),
        (vec![64, 32, 10], 16),
        (vec![20, 30, 30, 30, 5], 7),
    ] {
        let mut net = Network::<f64>::random(&sizes, Activation::Tanh, 3).unwrap();
        let x = data(sizes[0], batch, 0.37);
        let y = data(*sizes.last().unwrap(), batch, 0.11);
        let mut ws = Workspace::new(&net, batch).unwrap();
        ws.step(&mut net, x.as_view(), y.as_view(), 1e-3, Reduction::Sum)
            .unwrap();
        let n = allocations_during(|| {
            for _ in 0..5 {
                ws.step(&mut net, x.as_view(), y.as_view(), 1e-3, Reduction::Sum)
                    .unwrap();
            }
        });
        let depth = sizes.len() - 1;
        assert!(
            n <= allowed(depth, 5),
            "sizes {sizes:?}, batch {batch}: {n} allocations in 5 steps (allowed {})",
            allowed(depth, 5)
        );
        // A smaller batch in the same workspace (the last mini-batch of an epoch) too.
        let n = allocations_during(|| {
            ws.step(
                &mut net,
                x.columns(0, 1),
                y.columns(0, 1),
                1e-3,
                Reduction::Mean,
            )
            .unwrap();
        });
        assert!(
            n <= allowed(depth, 1),
            "sizes {sizes:?}: {n} allocations for a batch of 1"
        );
    }
}

#[test]
fn training_epochs_allocate_nothing_after_the_first() {
    let mut net = Network::<f32>::random(&[2, 16, 16, 3], Activation::Relu, 9).unwrap();
    let x = data(2, 50, 0.3).map(|v| v as f32);
    let y = data(3, 50, 0.7).map(|v| v as f32);
    let mut trainer = Trainer::new(&net, 8, 1).unwrap();
    trainer
        .epoch(
            &mut net,
            x.as_view(),
            y.as_view(),
            &EpochConfig {
                learning_rate: 1e-3,
                reduction: Reduction::Sum,
                shuffle: true,
            },
        )
        .unwrap();
    let n = allocations_during(|| {
        for _ in 0..3 {
            trainer
                .epoch(
                    &mut net,
                    x.as_view(),
                    y.as_view(),
                    &EpochConfig {
                        learning_rate: 1e-3,
                        reduction: Reduction::Sum,
                        shuffle: true,
                    },
                )
                .unwrap();
        }
    });
    // 50 samples in batches of 8: 7 steps an epoch, of a depth-3 network.
    assert!(
        n <= allowed(3, 3 * 7),
        "{n} allocations in 3 epochs (allowed {})",
        allowed(3, 3 * 7)
    );
}

#[test]
fn the_counter_sees_allocations() {
    // The negative control: the counter is live, so a zero above means something.
    let n = allocations_during(|| {
        std::hint::black_box(vec![1u8; 100]);
    });
    assert_eq!(n, 1);
}
