//! The baseline of issue 19: the training step as a competent user writes it with nalgebra
//! alone, to time beside [`backprop::Workspace::step`] on the same shapes and data.
//!
//! The step is the project's (and the peers'): a bias-free sigmoid network, the batch as
//! columns (X: l_0 × B, Y: l_n × B), gradients summed over the batch, one SGD update:
//!
//! ```text
//! A_0 = X,  Z_{i+1} = W_i A_i,  A_i = σ(Z_i) = 1 / (1 + e^(−Z_i))   (hidden layers 1..n−1)
//! E = ‖Y − Z_n‖² = Σ_{k,s} (Y − Z_n)²                                 (a sum, no ½)
//! Δ_n = −2 (Y − Z_n) = 2 (Z_n − Y)
//! Δ_i = σ′(Z_i) ⊙ (W_iᵀ Δ_{i+1}),  σ′(Z_i) = A_i ⊙ (1 − A_i)        (i = n−1..1, old W_i)
//! G_i = Δ_{i+1} A_iᵀ,  W_i ← W_i − m G_i                             (i = n−1..0)
//! ```
//!
//! For the mean over the batch instead of the sum ([`backprop::Reduction::Mean`]) pass m / B.
//!
//! # What it does
//!
//! * Every buffer is allocated once, in [`NalgebraStep::new`]: A_i, Δ_i (Δ_n first holds Z_n),
//!   and contiguous copies of W_iᵀ (i ≥ 1) and A_iᵀ. [`NalgebraStep::step`] itself allocates
//!   nothing; nalgebra's products on large operands go to `matrixmultiply` (one thread here:
//!   the workspace does not enable its `threading` feature), which allocates and frees its
//!   packing buffer inside each such product, as it does for every nalgebra user.
//! * Products: [`nalgebra::Matrix::gemm`] only, which calls `matrixmultiply` when all of the
//!   output's and the left operand's dimensions exceed 5 and otherwise runs nalgebra's own
//!   column-by-column `gemv` (batch 1 and S1's small layers). The update is fused into the
//!   product the usual BLAS way, `W_i.gemm(−m, Δ_{i+1}, A_iᵀ, 1)`, after Δ_i has used the old
//!   W_i; no G_i buffer.
//! * Transposes: W_iᵀ and A_iᵀ are copied into preallocated contiguous matrices
//!   ([`nalgebra::Matrix::transpose_to`]) and then multiplied with `gemm`. nalgebra's own
//!   `gemm_tr` would avoid the copy, but it computes one dot product per output element
//!   instead of calling `matrixmultiply` (its source, nalgebra 0.35; not timed here);
//!   multiplying by a row-strided (transposed) view instead was reported to corrupt the heap
//!   in this project at small sizes (not reproduced for this baseline). The copies cost
//!   l_i l_{i+1} + l_i B element moves per layer against the product's 2 l_i l_{i+1} B flops.
//! * Element-wise passes by nalgebra's `apply` / `zip_apply` with the plain scalar formulas
//!   (the same formulas as the project's scalar code): σ(z) = 1 / (1 + e^(−z)), and
//!   Δ_i ⊙= A_i ⊙ (1 − A_i) from the stored activations. E by `norm_squared`.
//! * Generic over nalgebra's [`RealField`] (f32 and f64 here).
//!
//! # What it does not do
//!
//! No hand-written SIMD or kernels, no threads, no fusion of σ into a product, no special
//! cases by shape (batch 1 goes through the same `gemm` calls, which nalgebra turns into
//! `gemv`), no checks of finiteness, no activation but the sigmoid. Shapes are checked by
//! assertions (a panic, not an error value).

use std::hint::black_box;
use std::time::{Duration, Instant};

use nalgebra::{DMatrix, RealField};

/// Preallocated buffers for the plain-nalgebra training step of one network shape and batch.
#[derive(Clone, Debug)]
pub struct NalgebraStep<T: RealField + Copy> {
    sizes: Vec<usize>,
    batch: usize,
    /// act[i] holds A_{i+1} (l_{i+1} × B), for i + 1 = 1..n−1 (first Z_{i+1}, then σ in place).
    act: Vec<DMatrix<T>>,
    /// delta[i] holds Δ_{i+1} (l_{i+1} × B); delta[n−1] first holds Z_n.
    delta: Vec<DMatrix<T>>,
    /// wt[i] holds W_iᵀ (l_i × l_{i+1}) for i ≥ 1; wt[0] is empty (Δ_0 is not needed).
    wt: Vec<DMatrix<T>>,
    /// at[i] holds A_iᵀ (B × l_i), A_0 = X.
    at: Vec<DMatrix<T>>,
}

impl<T: RealField + Copy> NalgebraStep<T> {
    /// Buffers for layer sizes l_0..l_n (at least two) and batches of exactly `batch` samples.
    ///
    /// # Panics
    /// For fewer than two sizes or a zero batch.
    pub fn new(sizes: &[usize], batch: usize) -> Self {
        assert!(sizes.len() >= 2, "a network has at least one layer");
        assert!(batch > 0, "the batch has at least one sample");
        let n = sizes.len() - 1;
        Self {
            sizes: sizes.to_vec(),
            batch,
            act: (1..n).map(|i| DMatrix::zeros(sizes[i], batch)).collect(),
            delta: (1..=n).map(|i| DMatrix::zeros(sizes[i], batch)).collect(),
            wt: (0..n)
                .map(|i| {
                    if i == 0 {
                        DMatrix::zeros(0, 0)
                    } else {
                        DMatrix::zeros(sizes[i], sizes[i + 1])
                    }
                })
                .collect(),
            at: (0..n).map(|i| DMatrix::zeros(batch, sizes[i])).collect(),
        }
    }

    /// The layer sizes l_0..l_n.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// One SGD step on the batch `x` (l_0 × B), `y` (l_n × B): updates `weights` (W_i is
    /// l_{i+1} × l_i) in place by W_i ← W_i − m Δ_{i+1} A_iᵀ and returns E = ‖Y − Z_n‖²
    /// before the update. The equations are the module's.
    ///
    /// # Panics
    /// If the weights, `x` or `y` do not have the shapes this step was built for.
    pub fn step(&mut self, weights: &mut [DMatrix<T>], x: &DMatrix<T>, y: &DMatrix<T>, m: T) -> T {
        let n = self.sizes.len() - 1;
        let (l, b) = (&self.sizes, self.batch);
        assert_eq!(weights.len(), n, "one weight matrix per layer");
        for (i, w) in weights.iter().enumerate() {
            assert_eq!(w.shape(), (l[i + 1], l[i]), "W_{i}");
        }
        assert_eq!(x.shape(), (l[0], b), "X");
        assert_eq!(y.shape(), (l[n], b), "Y");
        let one = T::one();
        let zero = T::zero();

        // Forward.
        for i in 0..n {
            let (before, after) = self.act.split_at_mut(i.min(n - 1));
            // A_i: X for i = 0, else the previous layer's activations.
            let a_i = if i == 0 { x } else { &before[i - 1] };
            // Z_{i+1} into A_{i+1}'s buffer (hidden) or Δ_n's (output).
            let z = if i + 1 < n {
                &mut after[0]
            } else {
                &mut self.delta[n - 1]
            };
            // Z_{i+1} = W_i A_i
            z.gemm(one, &weights[i], a_i, zero);
            if i + 1 < n {
                // A_{i+1} = σ(Z_{i+1}) = 1 / (1 + e^(−Z_{i+1})), in place.
                z.apply(|v| *v = one / (one + (-*v).exp()));
            }
        }

        // Output: Δ_n = Z_n − Y (in Z_n's buffer), E = ‖Z_n − Y‖², then Δ_n = 2 (Z_n − Y).
        let d_n = &mut self.delta[n - 1];
        *d_n -= y;
        let e = d_n.norm_squared();
        *d_n *= one + one;

        // Backward, from layer n down, with the update fused.
        for i in (0..n).rev() {
            let (lower, upper) = self.delta.split_at_mut(i);
            let d_next = &upper[0]; // Δ_{i+1}
            if i > 0 {
                let d_i = &mut lower[i - 1];
                let a_i = &self.act[i - 1];
                // W_iᵀ, contiguous (before W_i is updated below).
                weights[i].transpose_to(&mut self.wt[i]);
                // Δ_i = W_iᵀ Δ_{i+1}
                d_i.gemm(one, &self.wt[i], d_next, zero);
                // Δ_i ⊙= σ′(Z_i) = A_i ⊙ (1 − A_i)
                d_i.zip_apply(a_i, |d, a| *d *= a * (one - a));
            }
            // A_iᵀ, contiguous.
            let a_i = if i == 0 { x } else { &self.act[i - 1] };
            a_i.transpose_to(&mut self.at[i]);
            // W_i ← W_i − m Δ_{i+1} A_iᵀ  (= W_i − m G_i)
            weights[i].gemm(-m, d_next, &self.at[i], one);
        }
        e
    }
}

/// The peers' timed step ([`crate::StepBench`]'s protocol) for the nalgebra baseline: before
/// every step the weights are restored to W0 outside the timed region.
pub struct NalgebraBench<T: RealField + Copy> {
    /// The peers' initial weights W0.
    pub initial: Vec<DMatrix<T>>,
    /// The weights the step updates (restored from `initial` before each step).
    pub weights: Vec<DMatrix<T>>,
    /// Inputs, l_0 × B.
    pub x: DMatrix<T>,
    /// Targets, l_n × B.
    pub y: DMatrix<T>,
    /// The baseline's buffers.
    pub step: NalgebraStep<T>,
}

impl<T: backprop::Scalar> NalgebraBench<T> {
    /// The peers' network and batch for `shape` ([`crate::peer_data`]) and one warm-up step.
    pub fn new(shape: &crate::Shape) -> Self {
        let (net, x, y) = crate::peer_data::<T>(shape);
        let initial = net.into_weights();
        let mut s = Self {
            weights: initial.clone(),
            step: NalgebraStep::new(shape.layers, shape.batch),
            initial,
            x,
            y,
        };
        s.timed_step();
        s
    }

    /// Restores W0 (untimed), then times one [`NalgebraStep::step`] with m = 1e-3:
    /// [`NalgebraBench::timed_steps`] with k = 1.
    pub fn timed_step(&mut self) -> Duration {
        self.timed_steps(1)
    }

    /// Restores W0 (untimed), then times `k` consecutive [`NalgebraStep::step`]s with
    /// m = 1e-3; returns the time per step (as [`crate::StepBench::timed_steps`]).
    pub fn timed_steps(&mut self, k: usize) -> Duration {
        for (w, w0) in self.weights.iter_mut().zip(&self.initial) {
            w.copy_from(w0);
        }
        let m = T::of_f64(crate::LEARNING_RATE);
        let t = Instant::now();
        for _ in 0..k {
            let e = self.step.step(
                black_box(&mut self.weights),
                black_box(&self.x),
                black_box(&self.y),
                m,
            );
            black_box(e);
        }
        t.elapsed() / k.max(1) as u32
    }
}
