//! The step's results do not depend on where the batch starts: X read in place from a slice at
//! any offset from a cache line gives the same bits (alignment changes speed only).

use backprop::{Activation, Network, Reduction, Workspace};
use nalgebra::DMatrix;

/// Bytes of a cache line.
const CACHE_LINE: usize = 64;

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
