//! The batched fast path: the whole batch at once, one matrix product per layer, into buffers
//! allocated once.
//!
//! With the samples as columns of X (l_0 × B) and Y (l_n × B):
//!
//! ```text
//! A_0 = X,  Z_{i+1} = W_i A_i,  A_i = σ(Z_i)
//! Δ_n = −2 (Y − Z_n),  Δ_i = σ'(Z_i) ⊙ (W_iᵀ Δ_{i+1})
//! ∂E/∂W_i = Δ_{i+1} A_iᵀ        (the product sums over the samples, the seed's Σ_s dW^(s))
//! ```
//!
//! A [`Workspace`] holds Z_i, A_i, Δ_i and ∂E/∂W_i for batches of up to `capacity` samples;
//! after it is built, [`Workspace::gradient`] and [`Workspace::step`] allocate nothing.

use crate::error::{Error, Result};
use crate::gradient::{Denominator, Gradient};
use crate::matmul;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::DMatrixView;

/// How the per-sample gradients of a batch are combined before the update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The seed's rule: dW_i = −m Σ_s ∂E^(s)/∂W_i, gradients summed over the batch.
    #[default]
    Sum,
    /// dW_i = −(m / B) Σ_s ∂E^(s)/∂W_i: the mean, so the step size does not grow with B.
    Mean,
}

/// Preallocated buffers for the batched forward and backward pass of one network shape.
#[derive(Clone, Debug)]
pub struct Workspace<T: Scalar> {
    sizes: Vec<usize>,
    capacity: usize,
    /// z[i] holds Z_{i+1} (l_{i+1} × capacity).
    z: Vec<Vec<T>>,
    /// a[i] holds A_{i+1} = σ(Z_{i+1}) for i + 1 = 1..n−1.
    a: Vec<Vec<T>>,
    /// delta[i] holds Δ_{i+1}.
    delta: Vec<Vec<T>>,
    dw: Gradient<T, Denominator>,
    /// The batch's inputs X (l_0 × capacity) and targets Y (l_n × capacity), copied in.
    x: Vec<T>,
    y: Vec<T>,
    batch: usize,
}

impl<T: Scalar> Workspace<T> {
    /// Buffers for `net`'s shape and batches of up to `capacity` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero capacity, [`Error::TooLarge`] when the buffers
    /// would not fit in memory.
    pub fn new(net: &Network<T>, capacity: usize) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::InvalidParameter {
                name: "batch size",
                reason: "must be at least 1".into(),
            });
        }
        let sizes = net.sizes();
        let n = sizes.len() - 1;
        let activations: u128 = sizes.iter().map(|&l| l as u128).sum::<u128>() * 3;
        let bytes = (activations * capacity as u128 + net.parameter_count() as u128)
            * T::DTYPE.size() as u128;
        crate::memory::check(
            || format!("a workspace for sizes {sizes:?} and batch {capacity}"),
            bytes,
        )?;
        let buf = |l: usize| vec![T::zero(); l * capacity];
        Ok(Self {
            z: (0..n).map(|i| buf(sizes[i + 1])).collect(),
            a: (1..n).map(|i| buf(sizes[i])).collect(),
            delta: (0..n).map(|i| buf(sizes[i + 1])).collect(),
            dw: Gradient::zeros_like(net.weights()),
            x: buf(sizes[0]),
            y: buf(sizes[n]),
            sizes,
            capacity,
            batch: 0,
        })
    }

    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// ∂E/∂W_i from the last [`Workspace::gradient`] or [`Workspace::step`], summed over that
    /// batch.
    pub fn gradient_ref(&self) -> &Gradient<T, Denominator> {
        &self.dw
    }

    /// The output Z_n of the last batch (l_n × B, column-major).
    pub fn output(&self) -> &[T] {
        let n = self.sizes.len() - 1;
        &self.z[n - 1][..self.sizes[n] * self.batch]
    }

    /// Checks that `net` has the shape this workspace was built for.
    pub(crate) fn check_network(&self, net: &Network<T>) -> Result<()> {
        if net.depth() + 1 != self.sizes.len()
            || net
                .weights()
                .iter()
                .enumerate()
                .any(|(i, w)| w.shape() != (self.sizes[i + 1], self.sizes[i]))
        {
            return Err(Error::InvalidParameter {
                name: "workspace",
                reason: format!(
                    "built for sizes {:?}, used with a network of sizes {:?}",
                    self.sizes,
                    net.sizes()
                ),
            });
        }
        Ok(())
    }

    fn check(&self, net: &Network<T>, x: DMatrixView<'_, T>, y: DMatrixView<'_, T>) -> Result<()> {
        self.check_network(net)?;
        if x.ncols() > self.capacity {
            return Err(Error::InvalidParameter {
                name: "batch size",
                reason: format!(
                    "{} samples exceed the workspace capacity {}",
                    x.ncols(),
                    self.capacity
                ),
            });
        }
        net.check_batch(x, y)
    }

    /// Computes E and ∂E/∂W_i (denominator layout, summed over the batch) for `x` (l_0 × B) and
    /// `y` (l_n × B); the gradient is then in [`Workspace::gradient_ref`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a network of another shape or B > capacity; the errors
    /// of [`Network::check_batch`].
    pub fn gradient(
        &mut self,
        net: &Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
    ) -> Result<T> {
        self.check(net, x, y)?;
        Ok(self.gradient_unchecked(net, x, y))
    }

    /// One SGD step: computes ∂E/∂W_i on the batch, then W_i ← W_i − m' ∂E/∂W_i with m' = m for
    /// [`Reduction::Sum`] and m / B for [`Reduction::Mean`]. Returns E before the update.
    ///
    /// # Errors
    /// As [`Workspace::gradient`]. The weights are not changed on error.
    pub fn step(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        learning_rate: T,
        reduction: Reduction,
    ) -> Result<T> {
        self.check(net, x, y)?;
        Ok(self.step_unchecked(net, x, y, learning_rate, reduction))
    }

    /// [`Workspace::step`] for a batch already checked against the network and capacity.
    pub(crate) fn step_unchecked(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        learning_rate: T,
        reduction: Reduction,
    ) -> T {
        let e = self.gradient_unchecked(net, x, y);
        self.update(net, learning_rate, reduction);
        e
    }

    /// W_i ← W_i − m' ∂E/∂W_i with the gradient of the last pass.
    pub(crate) fn update(&mut self, net: &mut Network<T>, learning_rate: T, reduction: Reduction) {
        let m = match reduction {
            Reduction::Sum => learning_rate,
            Reduction::Mean => learning_rate / T::of_f64(self.batch as f64),
        };
        for (i, dw) in self.dw.layers().iter().enumerate() {
            // W_i ← W_i − m ∂E/∂W_i
            let mut w = net.weight_mut(i);
            for (w, &g) in w.iter_mut().zip(dw.iter()) {
                *w -= m * g;
            }
        }
    }

    /// The batched forward and backward pass. `x` and `y` must already be checked.
    pub(crate) fn gradient_unchecked(
        &mut self,
        net: &Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
    ) -> T {
        let b = x.ncols();
        for (dst, src) in self.x.iter_mut().zip(x.iter()) {
            *dst = *src;
        }
        for (dst, src) in self.y.iter_mut().zip(y.iter()) {
            *dst = *src;
        }
        self.compute(net, b)
    }

    /// Copies samples `columns` of `x` and `y` into the batch buffers (the gather of a shuffled
    /// mini-batch). The caller has checked shapes and that `columns.len() ≤ capacity`.
    pub(crate) fn load_columns(
        &mut self,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        columns: &[usize],
    ) {
        let (l0, ln) = (x.nrows(), y.nrows());
        for (slot, &s) in columns.iter().enumerate() {
            for (dst, src) in self.x[slot * l0..(slot + 1) * l0]
                .iter_mut()
                .zip(x.column(s).iter())
            {
                *dst = *src;
            }
            for (dst, src) in self.y[slot * ln..(slot + 1) * ln]
                .iter_mut()
                .zip(y.column(s).iter())
            {
                *dst = *src;
            }
        }
    }

    /// The pass over the first `b` samples already in the batch buffers; returns E.
    pub(crate) fn compute(&mut self, net: &Network<T>, b: usize) -> T {
        let n = net.depth();
        self.batch = b;
        let sizes = &self.sizes;
        let sigma = net.activation();
        let x_slice: &[T] = &self.x;
        let y_slice: &[T] = &self.y;

        // Forward: Z_{i+1} = W_i A_i, A_{i+1} = σ(Z_{i+1}).
        for i in 0..n {
            let (rows, cols) = (sizes[i + 1], sizes[i]);
            let input: &[T] = if i == 0 { x_slice } else { &self.a[i - 1] };
            matmul::gemm_nn(
                rows,
                cols,
                b,
                net.weight(i).as_slice(),
                input,
                &mut self.z[i],
            );
            if i + 1 < n {
                let len = rows * b;
                sigma.apply(&self.z[i][..len], &mut self.a[i][..len]);
            }
        }

        // Δ_n = −2 (Y − Z_n) and E = Σ (Y − Z_n)².
        let two = T::of_f64(2.0);
        let len = sizes[n] * b;
        let mut e = T::zero();
        for ((d, &z), &y) in self.delta[n - 1][..len]
            .iter_mut()
            .zip(&self.z[n - 1][..len])
            .zip(&y_slice[..len])
        {
            let r = y - z;
            e += r * r;
            *d = -two * r;
        }

        // Backward, from layer n down: ∂E/∂W_i = Δ_{i+1} A_iᵀ, Δ_i = σ'(Z_i) ⊙ (W_iᵀ Δ_{i+1}).
        for i in (0..n).rev() {
            let (rows, cols) = (sizes[i + 1], sizes[i]);
            let a_i: &[T] = if i == 0 { x_slice } else { &self.a[i - 1] };
            matmul::gemm_nt(
                rows,
                b,
                cols,
                &self.delta[i],
                a_i,
                self.dw.layer_mut(i).as_mut_slice(),
            );
            if i > 0 {
                let (lower, upper) = self.delta.split_at_mut(i);
                let d_i = &mut lower[i - 1];
                matmul::gemm_tn(cols, rows, b, net.weight(i).as_slice(), &upper[0], d_i);
                let len = cols * b;
                sigma.mul_prime(&self.z[i - 1][..len], &mut d_i[..len]);
            }
        }
        e
    }
}
