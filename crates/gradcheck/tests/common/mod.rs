//! Shared helpers for the integration tests: seeded data, and a hand-written backpropagation
//! with switchable planted bugs.

#![allow(dead_code)]

use backprop::{Activation, ActivationFn, DenominatorGradient, Gradient, Network, Scalar};
use nalgebra::DMatrix;

/// A seeded matrix with entries uniform on [lo, hi) (a small LCG; f32 gets the f64 values
/// rounded).
pub fn matrix<T: Scalar>(rows: usize, cols: usize, seed: u64, lo: f64, hi: f64) -> DMatrix<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    DMatrix::from_fn(rows, cols, |_, _| {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        T::of_f64(lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64))
    })
}

/// A network of `sizes` with `act`, inputs (l_0 × b) and targets (l_n × b), all seeded.
pub fn problem<T: Scalar>(
    sizes: &[usize],
    act: Activation,
    b: usize,
    seed: u64,
) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
    let net = Network::random(sizes, act, seed).expect("valid sizes");
    let x = matrix(sizes[0], b, seed ^ 0xA5A5, -1.0, 1.0);
    let y = matrix(sizes[sizes.len() - 1], b, seed ^ 0x5A5A, -1.0, 1.0);
    (net, x, y)
}

/// Mistakes a real developer makes in backpropagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// None: the correct gradient.
    None,
    /// δ_i = σ′(z_i) ⊙ (W_i δ_{i+1}): W not transposed (needs square W_i).
    WNotTransposed,
    /// δ_i = W_iᵀ δ_{i+1}: σ′ forgotten.
    SigmaPrimeMissing,
    /// δ_i = σ′(a_i) ⊙ (W_iᵀ δ_{i+1}): σ′ taken at a instead of z.
    SigmaPrimeAtA,
    /// ∂E/∂W_i = δ_{i+1} z_iᵀ for i ≥ 1: a_i and z_i swapped.
    ZInsteadOfA,
    /// ∂E/∂W_i divided by B: the batch mean instead of the seed's sum.
    BatchMean,
    /// δ_n = −(y − z_n): the factor 2 of E = ‖y − z_n‖² dropped.
    FactorTwoDropped,
    /// ∂E/∂W_i reported for W_{i−1}: layer i gets layer (i + 1) mod n's gradient (needs equal
    /// shapes).
    ShiftedByOneLayer,
}

impl Bug {
    /// Every planted bug (not `None`).
    pub const ALL: [Bug; 7] = [
        Bug::WNotTransposed,
        Bug::SigmaPrimeMissing,
        Bug::SigmaPrimeAtA,
        Bug::ZInsteadOfA,
        Bug::BatchMean,
        Bug::FactorTwoDropped,
        Bug::ShiftedByOneLayer,
    ];

    /// The layers whose ∂E/∂W_i the bug corrupts, for a network of depth n.
    pub fn wrong_layers(self, n: usize) -> Vec<usize> {
        match self {
            Bug::None => vec![],
            // δ_i for i = 1..n−1 feeds ∂E/∂W_{i−1}: layers 0..n−2.
            Bug::WNotTransposed | Bug::SigmaPrimeMissing | Bug::SigmaPrimeAtA => {
                (0..n - 1).collect()
            }
            // a_i = z_i only differ for i ≥ 1 (a_0 = x).
            Bug::ZInsteadOfA => (1..n).collect(),
            Bug::BatchMean | Bug::FactorTwoDropped | Bug::ShiftedByOneLayer => (0..n).collect(),
        }
    }
}

/// Backpropagation written out by hand, sample by sample, with `bug` planted.
pub fn backprop_with<T: Scalar>(
    net: &Network<T>,
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    bug: Bug,
) -> DenominatorGradient<T> {
    let n = net.depth();
    let act = net.activation();
    let b = x.ncols();
    let mut dw: Vec<DMatrix<T>> = net
        .weights()
        .iter()
        .map(|w| DMatrix::zeros(w.nrows(), w.ncols()))
        .collect();
    for s in 0..b {
        // Forward: z[m] = z_{m+1}, a[m] = a_m.
        let mut a = vec![x.column(s).into_owned()];
        let mut z = Vec::new();
        for m in 0..n {
            let zm = net.weight(m) * &a[m];
            if m + 1 < n {
                a.push(zm.map(|v| act.sigma(v)));
            }
            z.push(zm);
        }
        let two = if bug == Bug::FactorTwoDropped {
            T::one()
        } else {
            T::of_f64(2.0)
        };
        let mut delta = (&z[n - 1] - y.column(s)) * two; // δ_n = −2 (y − z_n)
        for i in (0..n).rev() {
            // ∂E/∂W_i = δ_{i+1} a_iᵀ
            let right = if bug == Bug::ZInsteadOfA && i >= 1 {
                &z[i - 1]
            } else {
                &a[i]
            };
            dw[i] += &delta * right.transpose();
            if i > 0 {
                let back = if bug == Bug::WNotTransposed {
                    net.weight(i) * &delta
                } else {
                    net.weight(i).tr_mul(&delta)
                };
                let zi = &z[i - 1];
                let ai = &a[i];
                delta = nalgebra::DVector::from_fn(back.nrows(), |r, _| {
                    let sp = match bug {
                        Bug::SigmaPrimeMissing => T::one(),
                        Bug::SigmaPrimeAtA => act.sigma_prime(ai[r]),
                        _ => act.sigma_prime(zi[r]),
                    };
                    sp * back[r]
                });
            }
        }
    }
    if bug == Bug::BatchMean {
        let inv = T::one() / T::of_f64(b as f64);
        for g in &mut dw {
            *g *= inv;
        }
    }
    if bug == Bug::ShiftedByOneLayer {
        dw.rotate_left(1);
    }
    Gradient::from_layers(dw)
}

/// σ(z) = z³/3 + z, σ′(z) = z² + 1: a user's own activation (smooth, no kinks).
#[derive(Debug)]
pub struct Cubic {
    /// Plant a wrong derivative: σ′(z) = z² (the + 1 forgotten).
    pub wrong_prime: bool,
}

impl<T: Scalar> ActivationFn<T> for Cubic {
    fn name(&self) -> String {
        "cubic".into()
    }
    fn sigma(&self, z: T) -> T {
        z * z * z / T::of_f64(3.0) + z
    }
    fn sigma_prime(&self, z: T) -> T {
        if self.wrong_prime {
            z * z
        } else {
            z * z + T::one()
        }
    }
}
