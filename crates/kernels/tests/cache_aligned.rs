//! With [`CacheAligned`] as the global allocator (as in the crate's binaries), matrices start on
//! a cache line; and the kernels' results do not depend on where their operands start, so the
//! allocator changes speed only.

use backprop::kernels::{self, Op};
use backprop::memory::{CACHE_LINE, CacheAligned};
use backprop::{Activation, Network, Reduction, Scalar, Workspace};
use nalgebra::DMatrix;

#[global_allocator]
static GLOBAL: CacheAligned = CacheAligned;

fn aligned<T>(p: *const T) -> bool {
    (p as usize).is_multiple_of(CACHE_LINE)
}

#[test]
fn weights_and_batches_start_on_a_cache_line() {
    // S2's network: W_0 (128 × 784) is the matrix the batch-1 step streams twice.
    let net = Network::<f64>::random(&[784, 128, 10], Activation::Sigmoid, 7).unwrap();
    for (i, w) in net.weights().iter().enumerate() {
        assert!(aligned(w.as_ptr()), "W_{i} at {:p}", w.as_ptr());
    }
    let copy = net.clone();
    assert!(copy.weights().iter().all(|w| aligned(w.as_ptr())));
    let x = DMatrix::<f32>::from_fn(784, 64, |r, c| ((r * 7 + c) % 13) as f32 / 13.0);
    assert!(aligned(x.as_ptr()));
}

/// op(A, B) through `kernels::product` on copies of A, B and C that start `shift` elements
/// past a cache line, for every shift of a vector: the same bits.
fn products_match_at_every_offset<T: Scalar>() {
    // (op, m, k, n): S2's forward gemv and rank-1 update, S3's forward and update, and a
    // transposed product.
    for (op, m, k, n) in [
        (Op::Nn, 128, 784, 1),
        (Op::Nt, 128, 1, 784),
        (Op::Nn, 128, 784, 64),
        (Op::Nt, 128, 64, 784),
        (Op::Tn, 128, 784, 10),
    ] {
        let (a_len, b_len, c_len) = (m * k, k * n, m * n);
        let value = |i: usize, s: usize| T::of_f64(((i * 37 + s * 11) % 101) as f64 / 50.0 - 1.0);
        let mut reference: Option<Vec<T>> = None;
        for shift in 0..CACHE_LINE / size_of::<T>() {
            let pad = CACHE_LINE / size_of::<T>();
            let mut a = vec![T::of_f64(0.0); a_len + pad];
            let mut b = vec![T::of_f64(0.0); b_len + pad];
            let mut c = vec![T::of_f64(0.0); c_len + pad];
            for i in 0..a_len {
                a[shift + i] = value(i, 1);
            }
            for i in 0..b_len {
                b[shift + i] = value(i, 2);
            }
            for i in 0..c_len {
                c[shift + i] = value(i, 3);
            }
            let alpha = T::of_f64(-1e-3);
            kernels::product(
                op,
                m,
                k,
                n,
                alpha,
                &a[shift..shift + a_len],
                &b[shift..shift + b_len],
                true,
                &mut c[shift..shift + c_len],
                None,
            );
            let out = c[shift..shift + c_len].to_vec();
            match &reference {
                None => reference = Some(out),
                Some(r) => {
                    let first = r
                        .iter()
                        .zip(&out)
                        .position(|(p, q)| p.as_f64().to_bits() != q.as_f64().to_bits());
                    assert_eq!(
                        first,
                        None,
                        "{op:?} {m}x{k}x{n} ({}) shifted by {shift} elements: first differing element",
                        T::DTYPE
                    );
                }
            }
        }
    }
}

#[test]
fn products_do_not_depend_on_alignment() {
    products_match_at_every_offset::<f64>();
    products_match_at_every_offset::<f32>();
}

#[test]
fn a_step_on_a_shifted_batch_equals_the_step_on_an_aligned_one() {
    // X read in place from a slice that starts 1..7 elements past a cache line.
    let (l0, b) = (784, 4);
    let start = Network::<f32>::random(&[l0, 128, 10], Activation::Sigmoid, 3).unwrap();
    let y = DMatrix::<f32>::from_fn(10, b, |r, c| ((r + c) % 3) as f32 - 1.0);
    let mut results = Vec::new();
    for shift in 0..CACHE_LINE / size_of::<f32>() {
        let mut buf = vec![0.0f32; l0 * b + 16];
        for i in 0..l0 * b {
            buf[shift + i] = ((i * 13) % 29) as f32 / 29.0;
        }
        let x = nalgebra::DMatrixView::from_slice(&buf[shift..shift + l0 * b], l0, b);
        let mut net = start.clone();
        let mut ws = Workspace::new(&net, b).unwrap();
        let e = ws
            .step(&mut net, x, y.as_view(), 1e-3, Reduction::Sum)
            .unwrap();
        let bits: Vec<u32> = net
            .weights()
            .iter()
            .flat_map(|w| w.iter().map(|v| v.to_bits()))
            .collect();
        results.push((e.to_bits(), bits));
    }
    for (shift, r) in results.iter().enumerate().skip(1) {
        assert!(
            r == &results[0],
            "X shifted by {shift} elements changed the step"
        );
    }
}
