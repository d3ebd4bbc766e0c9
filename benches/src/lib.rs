//! Shared inputs for the benches: the peers' shapes S1–S5 and their deterministic data.
//!
//! The data recipe is `../shared/peers/README.md`'s, reproduced bit for bit so that a Rust step
//! and a numpy, PyTorch or JAX step do the same arithmetic on the same numbers:
//!
//! ```text
//! splitmix64(x): z = x + 0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//!                z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)   (wrapping)
//! u(stream, k) = (splitmix64((stream << 32) + k) >> 11) as f64 * 2^-53
//! W_i[r][c] = (2 u(i + 1, r l_i + c) − 1) / √l_i,   X[r][b] = u(1000, r B + b),
//! Y[r][b]   = 2 u(1001, r B + b) − 1
//! ```
//!
//! computed in f64; the f32 data are those values rounded to nearest.

use backprop::{Activation, Network, Scalar};
use nalgebra::DMatrix;

/// A shared shape: layer sizes and batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The peers' name, `S1`..`S5`.
    pub name: &'static str,
    /// l_0..l_n.
    pub layers: &'static [usize],
    /// B, samples per step.
    pub batch: usize,
}

/// S1–S5 of `../shared/peers/README.md`.
pub const SHAPES: [Shape; 5] = [
    Shape {
        name: "S1",
        layers: &[3, 4, 5, 2],
        batch: 1,
    },
    Shape {
        name: "S2",
        layers: &[784, 128, 10],
        batch: 1,
    },
    Shape {
        name: "S3",
        layers: &[784, 128, 10],
        batch: 64,
    },
    Shape {
        name: "S4",
        layers: &[784, 512, 512, 10],
        batch: 256,
    },
    Shape {
        name: "S5",
        layers: &[1024, 1024, 1024, 1024],
        batch: 1024,
    },
];

/// The shape named `name` (`S1`..`S5`).
pub fn shape(name: &str) -> Option<Shape> {
    SHAPES.iter().copied().find(|s| s.name == name)
}

/// The peers' learning rate m = 1e-3.
pub const LEARNING_RATE: f64 = 1e-3;

/// splitmix64, wrapping.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// u(stream, k) ∈ [0, 1): 53 random bits of splitmix64((stream << 32) + k).
pub fn uniform(stream: u64, k: u64) -> f64 {
    (splitmix64((stream << 32).wrapping_add(k)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The peers' network (sigmoid hidden layers) and batch (X: l_0 × B, Y: l_n × B) for `shape`.
///
/// # Panics
/// Never for the shapes in [`SHAPES`] (their weights are finite and chain).
pub fn peer_data<T: Scalar>(shape: &Shape) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
    let l = shape.layers;
    let b = shape.batch;
    let weights = (0..l.len() - 1)
        .map(|i| {
            let scale = 1.0 / (l[i] as f64).sqrt();
            DMatrix::from_fn(l[i + 1], l[i], |r, c| {
                T::of_f64((2.0 * uniform(i as u64 + 1, (r * l[i] + c) as u64) - 1.0) * scale)
            })
        })
        .collect();
    let net = Network::from_weights(weights, Activation::Sigmoid).expect("peer shapes chain");
    let x = DMatrix::from_fn(l[0], b, |r, c| T::of_f64(uniform(1000, (r * b + c) as u64)));
    let y = DMatrix::from_fn(l[l.len() - 1], b, |r, c| {
        T::of_f64(2.0 * uniform(1001, (r * b + c) as u64) - 1.0)
    });
    (net, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `results.md`'s reference values (f64, numpy) for S1: E at W0, Σ X, Σ Y, Σ ∂E/∂W_i.
    #[test]
    fn s1_matches_the_peers_reference_values() {
        let (net, x, y) = peer_data::<f64>(&SHAPES[0]);
        assert_eq!(x.sum(), 2.070554044902719);
        assert_eq!(y.sum(), 0.5367632446130297);
        let w_sums: Vec<f64> = net.weights().iter().map(|w| w.sum()).collect();
        let expected = [
            -1.9581838104193678,
            0.013768756461395748,
            -0.8936661772656226,
        ];
        for (got, want) in w_sums.iter().zip(expected) {
            assert!(
                (got - want).abs() <= 1e-15 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
        let (e, g) =
            backprop::gradient::denominator::gradient(&net, x.as_view(), y.as_view()).unwrap();
        assert!((e - 0.4593734350225077).abs() < 1e-14, "E = {e}");
        let sums = [-0.03866977198035181, 0.4050890479214172, -4.836268648228095];
        for (i, want) in sums.into_iter().enumerate() {
            let got = g.layer(i).sum();
            assert!(
                (got - want).abs() < 1e-13 * want.abs().max(1.0),
                "dW{i}: {got} vs {want}"
            );
        }
    }
}
