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

use std::hint::black_box;
use std::time::{Duration, Instant};

use backprop::{Activation, Network, Reduction, Scalar, Workspace};
use nalgebra::DMatrix;

pub mod nalgebra_step;

pub use nalgebra_step::{NalgebraBench, NalgebraStep};

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

/// T1: the size of the command line's main job (`backprop train`'s spiral network 2-24-24-2,
/// batch 16). Not a peers' shape: the peers' tables iterate [`SHAPES`] and leave it out. Its
/// data follow the same recipe as S1–S5 ([`peer_data`]), with the sigmoid as every bench shape
/// (the command line trains it with tanh).
pub const T1: Shape = Shape {
    name: "T1",
    layers: &[2, 24, 24, 2],
    batch: 16,
};

/// The shapes on which the project's step is timed against the plain-nalgebra baseline
/// ([`nalgebra_step`]): S1–S5 and T1.
pub const BASELINE_SHAPES: [Shape; 6] = [SHAPES[0], SHAPES[1], SHAPES[2], SHAPES[3], SHAPES[4], T1];

/// The shape named `name` (`S1`..`S5`, `T1`).
pub fn shape(name: &str) -> Option<Shape> {
    BASELINE_SHAPES.iter().copied().find(|s| s.name == name)
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

impl Shape {
    /// GEMM floating-point operations of one training step, as the peers count them: forward
    /// 2 B Σ_i l_i l_{i+1}, ∂E/∂W_i 2 B Σ_i l_i l_{i+1}, W_iᵀ Δ_{i+1} 2 B Σ_{i≥1} l_i l_{i+1}
    /// (element-wise work and the update are not counted).
    pub fn step_flops(&self) -> u64 {
        let l = self.layers;
        let b = self.batch as u64;
        let prod = |i: usize| (l[i] * l[i + 1]) as u64;
        let all: u64 = (0..l.len() - 1).map(prod).sum();
        let back: u64 = (1..l.len() - 1).map(prod).sum();
        2 * b * (2 * all + back)
    }

    /// GEMM floating-point operations of the forward pass: 2 B Σ_i l_i l_{i+1}.
    pub fn forward_flops(&self) -> u64 {
        let l = self.layers;
        2 * self.batch as u64
            * (0..l.len() - 1)
                .map(|i| (l[i] * l[i + 1]) as u64)
                .sum::<u64>()
    }
}

/// One timed SGD step on the peers' data, as the peers time it: before every step the weights
/// are restored to W0 outside the timed region, so every timed step does the same arithmetic
/// on the same numbers.
pub struct StepBench<T: Scalar> {
    /// The peers' initial weights W0.
    pub initial: Network<T>,
    /// The network the step updates (restored from `initial` before each step).
    pub net: Network<T>,
    /// Inputs, l_0 × B.
    pub x: DMatrix<T>,
    /// Targets, l_n × B.
    pub y: DMatrix<T>,
    /// The batched workspace (buffers allocated once).
    pub ws: Workspace<T>,
}

impl<T: Scalar> StepBench<T> {
    /// The peers' network and batch for `shape`, a workspace using `threads` threads, and one
    /// warm-up step (so lazily initialised state is not timed).
    ///
    /// # Panics
    /// If the workspace cannot be built or a thread pool cannot be started.
    pub fn new(shape: &Shape, threads: usize) -> Self {
        let (initial, x, y) = peer_data::<T>(shape);
        let mut ws = Workspace::new(&initial, shape.batch).expect("peer shapes fit in memory");
        ws.set_threads(threads).expect("thread pool starts");
        let mut s = Self {
            net: initial.clone(),
            initial,
            x,
            y,
            ws,
        };
        s.timed_step();
        s
    }

    /// Restores W0 (untimed), then times one [`Workspace::step`] with m = 1e-3 and
    /// [`Reduction::Sum`]: [`StepBench::timed_steps`] with k = 1.
    ///
    /// # Panics
    /// Never for the peer shapes (their data fit their network).
    pub fn timed_step(&mut self) -> Duration {
        self.timed_steps(1)
    }

    /// Restores W0 (untimed), then times `k` consecutive [`Workspace::step`]s (m = 1e-3,
    /// [`Reduction::Sum`]; each from the weights the last one left); returns the time per
    /// step. k > 1 is for steps of well under a microsecond (S1), where reading the clock
    /// (about 26 ns here) would be a large part of one step's time.
    ///
    /// # Panics
    /// Never for the peer shapes (their data fit their network).
    // ANCHOR: timed_step (the book's performance chapter includes this function)
    pub fn timed_steps(&mut self, k: usize) -> Duration {
        self.net
            .copy_weights_from(&self.initial)
            .expect("same shape");
        let m = T::of_f64(LEARNING_RATE);
        let t = Instant::now();
        for _ in 0..k {
            let e = self
                .ws
                .step(
                    black_box(&mut self.net),
                    black_box(self.x.as_view()),
                    black_box(self.y.as_view()),
                    m,
                    Reduction::Sum,
                )
                .expect("peer data fit their network");
            black_box(e);
        }
        t.elapsed() / k.max(1) as u32
    }
    // ANCHOR_END: timed_step

    /// Times one forward pass ([`Workspace::forward`]) on the batch.
    ///
    /// # Panics
    /// Never for the peer shapes.
    pub fn timed_forward(&mut self) -> Duration {
        let t = Instant::now();
        let out = self
            .ws
            .forward(black_box(&self.net), black_box(self.x.as_view()))
            .expect("peer data fit their network");
        black_box(out);
        t.elapsed()
    }
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

    /// `results.md`'s reference values (numpy, f64) for every shape, through the fast path
    /// ([`Workspace::gradient`]: the SIMD matrix–vector, rank-1 and packed GEMM kernels on the
    /// peers' own data): E at W0, Σ X, Σ Y, Σ W0_i and Σ ∂E/∂W_i.
    #[test]
    fn every_shape_matches_the_peers_reference_values() {
        #[allow(clippy::type_complexity)]
        let table: [(&str, f64, f64, f64, &[f64], &[f64]); 5] = [
            (
                "S1",
                0.4593734350225077,
                2.070554044902719,
                0.5367632446130297,
                &[-0.03866977198035181, 0.4050890479214172, -4.836268648228095],
                &[
                    -1.9581838104193678,
                    0.013768756461395748,
                    -0.8936661772656226,
                ],
            ),
            (
                "S2",
                3.6599490770306646,
                388.8357331841812,
                -2.8625533196507553,
                &[446.80718234164783, 250.15063140821886],
                &[-3.805248688722766, -1.1738749725431525],
            ),
            (
                "S3",
                277.6513707839267,
                25024.140912441995,
                27.70645455002776,
                &[20832.74564834028, -9895.22295385372],
                &[-3.805248688722766, -1.1738749725431525],
            ),
            (
                "S4",
                1146.3193328333205,
                100064.73749190255,
                -1.7162301525351822,
                &[3085.141731662407, 68927.44043696235, -289083.50946929335],
                &[3.9903507612250695, 14.567037165231511, -4.063640143758471],
            ),
            (
                "S5",
                437342.1969766004,
                524269.3965751962,
                446.3737159632632,
                &[730780.64367977, 43481039.50768528, -10465782.356327314],
                &[14.008448455847947, -7.26951090652676, -14.347298315916909],
            ),
        ];
        let close = |got: f64, want: f64, scale: f64, what: &str| {
            assert!(
                (got - want).abs() <= 1e-9 * scale.max(want.abs()).max(1.0),
                "{what}: {got} vs {want}"
            );
        };
        for (name, e_want, x_sum, y_sum, grad_sums, w_sums) in table {
            let s = shape(name).unwrap();
            let (net, x, y) = peer_data::<f64>(&s);
            close(x.sum(), x_sum, 0.0, &format!("{name} Σ X"));
            close(y.sum(), y_sum, 0.0, &format!("{name} Σ Y"));
            for (i, want) in w_sums.iter().enumerate() {
                close(net.weight(i).sum(), *want, 0.0, &format!("{name} Σ W0_{i}"));
            }
            let mut ws = Workspace::new(&net, s.batch).unwrap();
            let e = ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
            close(e, e_want, 0.0, &format!("{name} E"));
            for (i, want) in grad_sums.iter().enumerate() {
                let g = ws.gradient_ref().layer(i);
                // Σ of many terms of both signs: relative to Σ |∂E/∂W_i|.
                let abs_sum: f64 = g.iter().map(|v| v.abs()).sum();
                close(g.sum(), *want, abs_sum, &format!("{name} Σ ∂E/∂W_{i}"));
            }
        }
    }

    #[test]
    fn step_flops_match_the_peers_count() {
        let want = [228u64, 409_088, 26_181_632, 821_559_296, 17_179_869_184];
        for (s, w) in SHAPES.iter().zip(want) {
            assert_eq!(s.step_flops(), w, "{}", s.name);
        }
    }
}

/// The workspace README's examples, compiled and run as doc tests. They live here, in the one
/// crate that depends on both `backprop` and `backprop-gradcheck` and is never published (a
/// published crate may include only files inside its package).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;
