//! The batched fast path: the whole batch at once, one matrix product per layer, into buffers
//! allocated once.
//!
//! With the samples as columns of X (l_0 × B) and Y (l_n × B):
//!
//! ```text
//! A_0 = X,  Z_{i+1} = W_i A_i,  A_i = σ(Z_i)
//! Δ_n = −2 (Y − Z_n),  Δ_i = σ′(Z_i) ⊙ (W_iᵀ Δ_{i+1})
//! ∂E/∂W_i = Δ_{i+1} A_iᵀ        (the product sums over the samples, the seed's Σ_s dW^(s))
//! ```
//!
//! A [`Workspace`] holds Z_i, A_i, Δ_i and ∂E/∂W_i for batches of up to `capacity` samples;
//! after it is built, [`Workspace::gradient`] and [`Workspace::step`] allocate nothing on the
//! x86 kernels (on the portable path, `matrixmultiply` allocates a packing buffer per product).

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::gradient::{Denominator, Gradient};
use crate::network::{self, Network};
use crate::scalar::Scalar;
use backprop_kernels::{AlignedVec, Operand, Product, ThreadPool, contiguous, sigmoid, small};
use nalgebra::DMatrixView;
use std::sync::Arc;

mod tiny;

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
    /// z[i] holds Z_{i+1} (l_{i+1} × capacity). Every buffer starts on a cache line.
    z: Vec<AlignedVec<T>>,
    /// a[i] holds A_{i+1} = σ(Z_{i+1}) for i + 1 = 1..n−1.
    a: Vec<AlignedVec<T>>,
    /// delta[i] holds Δ_{i+1}.
    delta: Vec<AlignedVec<T>>,
    dw: Gradient<T, Denominator>,
    /// The batch's inputs X (l_0 × capacity) and targets Y (l_n × capacity), copied in.
    x: AlignedVec<T>,
    y: AlignedVec<T>,
    batch: usize,
    /// Worker threads for the large products (None: one thread).
    pool: Option<Arc<ThreadPool>>,
    /// One-sample steps for networks of narrow layers (all l_i ≤ [`tiny::WIDTH`]), planned
    /// once here for the shape.
    tiny: Option<tiny::Tiny<T>>,
}

impl<T: Scalar> Workspace<T> {
    /// Buffers for `net`'s shape and batches of up to `capacity` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero capacity, [`Error::TooLarge`] when the buffers
    /// cannot be allocated (their size overflows, or the allocator refuses it). No memory limit
    /// is applied here: a program that has one checks it before.
    pub fn new(net: &Network<T>, capacity: usize) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::InvalidParameter {
                name: "batch size",
                reason: "must be at least 1".into(),
            });
        }
        let sizes = net.sizes();
        let n = sizes.len() - 1;
        let what = || format!("a workspace for sizes {sizes:?} and batch {capacity}");
        // Z_i, A_i, Δ_i and X, Y: at most 3 Σ l_i B elements; the gradient: as the weights.
        let elements = sizes.iter().map(|&l| l as u128).sum::<u128>() * 3 * capacity as u128
            + net.parameter_count() as u128;
        let bytes = elements.saturating_mul(T::DTYPE.size() as u128);
        let too_large = || Error::TooLarge {
            what: what(),
            bytes,
            limit: None,
        };
        let buf = |l: usize| {
            let len = l.checked_mul(capacity).ok_or_else(too_large)?;
            AlignedVec::zeros(len).map_err(|_| too_large())
        };
        let bufs = |layers: std::ops::Range<usize>| -> Result<Vec<AlignedVec<T>>> {
            layers.map(|i| buf(sizes[i])).collect()
        };
        let (z, a, delta) = (bufs(1..n + 1)?, bufs(1..n)?, bufs(1..n + 1)?);
        let (x, y) = (buf(sizes[0])?, buf(sizes[n])?);
        Ok(Self {
            z,
            a,
            delta,
            dw: Gradient::zeros_like(net.weights()),
            x,
            y,
            tiny: tiny::Tiny::new(&sizes),
            sizes,
            capacity,
            batch: 0,
            pool: None,
        })
    }

    /// Runs the large matrix products of [`Workspace::gradient`], [`Workspace::step`] and
    /// [`Workspace::forward`] on `threads` threads (the caller's and `threads − 1` workers
    /// started now and kept with the workspace; clones share them). 1, the default, runs
    /// everything on the calling thread. Handing work to the threads allocates nothing.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 threads or when a thread cannot be started.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if threads == 0 {
            return Err(Error::InvalidParameter {
                name: "threads",
                reason: "must be at least 1".into(),
            });
        }
        self.pool = if threads == 1 {
            None
        } else {
            Some(Arc::new(ThreadPool::new(threads).map_err(|e| {
                Error::InvalidParameter {
                    name: "threads",
                    reason: format!("cannot start {threads} threads: {e}"),
                }
            })?))
        };
        Ok(())
    }

    /// The number of threads the products run on.
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.threads())
    }

    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// ∂E/∂W_i from the last [`Workspace::gradient`] (or training epoch), summed over that
    /// batch. [`Workspace::step`] does not fill it: it adds −m Δ_{i+1} A_iᵀ to W_i directly.
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
        let (weights, sizes) = (net.weights(), &self.sizes[..]);
        if weights.len() + 1 != sizes.len()
            || weights
                .iter()
                .zip(sizes.windows(2))
                .any(|(w, l)| w.ncols() != l[0] || w.nrows() != l[1])
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

    /// The checks of [`Network::check_batch`] but the finiteness of X, which
    /// [`Workspace::check_inputs_through`] makes after the forward pass.
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
        net.check_batch_shapes(x, y)
    }

    /// After the forward pass of the batch `x`: X is finite if Z_1 = W_0 X is, since a NaN or
    /// ±∞ in sample s makes all of Z_1's column s NaN or ±∞ (0 · ∞ is NaN, and every term of
    /// W_0 x_s enters each sum); only a Z_1 that is not, l_1 × B values already in cache
    /// instead of the l_0 × B of X (S3: 8 192 instead of 50 176), sends X through
    /// [`Network::check_inputs`], which names the first culprit. A finite X with a Z_1 that
    /// is not (overflow, or weights made non-finite) passes here as before.
    ///
    /// # Errors
    /// [`Error::NonFiniteData`] for X, as [`Network::check_inputs`].
    fn check_inputs_through(&self, net: &Network<T>, x: DMatrixView<'_, T>) -> Result<()> {
        let len = self.sizes[1] * x.ncols();
        if network::all_finite(&self.z[0][..len]) {
            Ok(())
        } else {
            net.check_inputs(x)
        }
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
        let (e, xs) = self.forward_delta(net, x, y)?;
        self.backward(net, xs, x.ncols());
        // Test-only: a planted transposed update (feature `mutants`, see crate::mutants).
        #[cfg(feature = "mutants")]
        crate::mutants::transpose_square_layers(&mut self.dw);
        Ok(e)
    }

    /// The forward pass only: Z_{i+1} = W_i A_i, A_i = σ(Z_i) for the batch `x` (l_0 × B), into
    /// the workspace's buffers; returns the output Z_n (l_n × B, column-major). Allocates
    /// nothing.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a network of another shape or B > capacity; the errors
    /// of [`Network::check_inputs`].
    pub fn forward(&mut self, net: &Network<T>, x: DMatrixView<'_, T>) -> Result<&[T]> {
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
        net.check_inputs(x)?;
        let b = x.ncols();
        let xs = contiguous(x);
        if xs.is_none() {
            for (dst, src) in self.x.iter_mut().zip(x.iter()) {
                *dst = *src;
            }
        }
        self.batch = b;
        self.forward_pass(net, xs, b);
        Ok(self.output())
    }

    /// One SGD step: W_i ← W_i − m' ∂E/∂W_i with ∂E/∂W_i = Δ_{i+1} A_iᵀ on the batch, m' = m for
    /// [`Reduction::Sum`] and m / B for [`Reduction::Mean`]. Returns E before the update.
    ///
    /// The update is fused into the backward pass: once Δ_i = σ′(Z_i) ⊙ (W_iᵀ Δ_{i+1}) has
    /// used the old W_i, the product −m' Δ_{i+1} A_iᵀ is added to W_i in place, without the
    /// ∂E/∂W_i buffer (so [`Workspace::gradient_ref`] is not updated). It equals
    /// [`Workspace::gradient`] followed by W_i ← W_i − m' ∂E/∂W_i up to rounding.
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
        #[cfg(feature = "mutants")]
        let narrow = crate::mutants::planted() == crate::mutants::Mutant::None;
        #[cfg(not(feature = "mutants"))]
        let narrow = true;
        if narrow && x.ncols() == 1 && self.tiny.is_some() {
            return self.step_narrow(net, x, y, learning_rate);
        }
        let (e, xs) = self.forward_delta(net, x, y)?;
        let m = self.scaled_rate(learning_rate, reduction);
        self.backward_update(net, xs, x.ncols(), m);
        Ok(e)
    }

    /// [`Workspace::step`] for one sample through narrow layers ([`tiny`]): the same checks
    /// and the same formulas, with m' = m for either reduction. The finiteness checks are
    /// folded into the pass, before any weight changes: X's through z_1 (as the batched
    /// path), Y's through E, which is finite when y and z_n are; only a value that is not
    /// sends X or Y through the search that names the culprit, targets first as in
    /// [`Network::check_batch`].
    fn step_narrow(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        learning_rate: T,
    ) -> Result<T> {
        self.check_network(net)?;
        let n = self.sizes.len() - 1;
        if x.nrows() != self.sizes[0] || y.nrows() != self.sizes[n] || y.ncols() != 1 {
            net.check_batch_shapes(x, y)?;
        }
        let Some(tiny) = self.tiny.as_mut() else {
            unreachable!("step_narrow without a plan")
        };
        let mut x_copy = [T::zero(); tiny::WIDTH];
        let z_1 = tiny.forward(net, tiny::column(x, &mut x_copy));
        let x_finite = z_1.iter().fold(T::zero(), |acc, &z| acc + z * T::zero()) == T::zero();
        let mut y_copy = [T::zero(); tiny::WIDTH];
        let (e, delta) = tiny.output_delta(tiny::column(y, &mut y_copy));
        if !e.finite() {
            net.check_batch_shapes(x, y)?;
        }
        if !x_finite {
            net.check_inputs(x)?;
        }
        tiny.backward_update(net, delta, learning_rate);
        for (z, &t) in self.z[n - 1].iter_mut().zip(tiny.output()) {
            *z = t;
        }
        self.batch = 1;
        Ok(e)
    }

    /// What [`Workspace::gradient`] and [`Workspace::step`] share: checks the batch (X's
    /// finiteness through Z_1, [`Workspace::check_inputs_through`], after the forward pass),
    /// runs the forward pass and the output delta Δ_n; returns E and X where it is read in
    /// place (contiguous), `None` where the workspace holds a copy. No weight is changed.
    fn forward_delta<'a>(
        &mut self,
        net: &Network<T>,
        x: DMatrixView<'a, T>,
        y: DMatrixView<'_, T>,
    ) -> Result<(T, Option<&'a [T]>)> {
        self.check(net, x, y)?;
        let b = x.ncols();
        let (xs, ys) = (contiguous(x), contiguous(y));
        self.load(x, y, xs.is_none(), ys.is_none());
        self.batch = b;
        self.forward_pass(net, xs, b);
        self.check_inputs_through(net, x)?;
        Ok((self.output_delta(ys, b), xs))
    }

    /// m' = m, or m / B for [`Reduction::Mean`].
    fn scaled_rate(&self, learning_rate: T, reduction: Reduction) -> T {
        match reduction {
            Reduction::Sum => learning_rate,
            Reduction::Mean => learning_rate / T::of_f64(self.batch as f64),
        }
    }

    /// Copies the inputs (if `copy_x`) and targets (if `copy_y`) of the batch into the
    /// workspace's buffers: only views that are not one contiguous column-major block are
    /// copied; the others are read in place.
    fn load(&mut self, x: DMatrixView<'_, T>, y: DMatrixView<'_, T>, copy_x: bool, copy_y: bool) {
        if copy_x {
            for (dst, src) in self.x.iter_mut().zip(x.iter()) {
                *dst = *src;
            }
        }
        if copy_y {
            for (dst, src) in self.y.iter_mut().zip(y.iter()) {
                *dst = *src;
            }
        }
    }

    /// W_i ← W_i − m' ∂E/∂W_i with the gradient of the last pass.
    pub(crate) fn update(&mut self, net: &mut Network<T>, learning_rate: T, reduction: Reduction) {
        let m = self.scaled_rate(learning_rate, reduction);
        for (i, dw) in self.dw.layers().iter().enumerate() {
            // W_i ← W_i − m ∂E/∂W_i
            let mut w = net.weight_mut(i);
            for (w, &g) in w.iter_mut().zip(dw.iter()) {
                *w -= m * g;
            }
        }
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

    /// The pass over the first `b` samples already in the batch buffers; returns E and leaves
    /// ∂E/∂W_i in `dw`.
    pub(crate) fn compute(&mut self, net: &Network<T>, b: usize) -> T {
        self.batch = b;
        self.forward_pass(net, None, b);
        let e = self.output_delta(None, b);
        self.backward(net, None, b);
        e
    }

    /// Forward: Z_{i+1} = W_i A_i, A_{i+1} = σ(Z_{i+1}) for the first `b` samples; A_0 is `x`,
    /// or the copy in the workspace when `None`.
    fn forward_pass(&mut self, net: &Network<T>, x: Option<&[T]>, b: usize) {
        let n = net.depth();
        let sigma = net.activation();
        let pool = self.pool.as_deref();
        for i in 0..n {
            let (rows, cols) = (self.sizes[i + 1], self.sizes[i]);
            let hidden = self.a.len();
            let (before, after) = self.a.split_at_mut(i.min(hidden));
            let input: &[T] = if i == 0 {
                x.unwrap_or(&self.x[..])
            } else {
                &before[i - 1]
            };
            let z = &mut self.z[i];
            // Z_{i+1} = W_i A_i
            if b == 1 && rows * cols < ONE_SAMPLE_LOOPS {
                small::gemv(net.weight(i).as_slice(), rows, cols, &input[..cols], z);
            } else {
                Product::new(
                    Operand::new(net.weight(i).as_slice(), rows, cols),
                    Operand::new(input, cols, b),
                )
                .pool(pool)
                .run(z);
            }
            if i + 1 < n {
                let len = rows * b;
                if sigma.builtin() == Some(Activation::Sigmoid) {
                    sigmoid::sigmoid_on(&z[..len], &mut after[0][..len], pool);
                } else {
                    sigma.apply(&z[..len], &mut after[0][..len]);
                }
            }
        }
    }

    /// Δ_n = −2 (Y − Z_n); returns E = Σ (Y − Z_n)². Y is `y`, or the workspace's copy.
    fn output_delta(&mut self, y: Option<&[T]>, b: usize) -> T {
        let n = self.sizes.len() - 1;
        let two = crate::loss::output_delta_factor::<T>(b);
        let len = self.sizes[n] * b;
        let mut e = T::zero();
        for ((d, &z), &y) in self.delta[n - 1][..len]
            .iter_mut()
            .zip(&self.z[n - 1][..len])
            .zip(&y.unwrap_or(&self.y[..])[..len])
        {
            let r = y - z;
            e += r * r;
            *d = -two * r;
        }
        e
    }

    /// Δ_i = σ′(Z_i) ⊙ (W_iᵀ Δ_{i+1}) into `delta[i − 1]`, for i ≥ 1.
    fn propagate(&mut self, net: &Network<T>, i: usize, b: usize) {
        let (rows, cols) = (self.sizes[i + 1], self.sizes[i]);
        let (lower, upper) = self.delta.split_at_mut(i);
        let d_i = &mut lower[i - 1];
        // W_iᵀ Δ_{i+1}
        if b == 1 && rows * cols < ONE_SAMPLE_LOOPS {
            small::gemv_t(net.weight(i).as_slice(), rows, cols, &upper[0][..rows], d_i);
        } else {
            Product::new(
                Operand::new(net.weight(i).as_slice(), rows, cols).t(),
                Operand::new(&upper[0], rows, b),
            )
            .pool(self.pool.as_deref())
            .run(d_i);
        }
        let len = cols * b;
        let sigma = net.activation();
        if sigma.builtin() == Some(Activation::Sigmoid) {
            // σ'(Z_i) = A_i ⊙ (1 − A_i), from the activations the forward pass stored.
            sigmoid::sigmoid_output_mul_prime_on(
                &self.a[i - 1][..len],
                &mut d_i[..len],
                self.pool.as_deref(),
            );
        } else if sigma.builtin() == Some(Activation::Tanh) {
            // tanh′(Z_i) = 1 − A_i², from the stored A_i = tanh(Z_i): the values `mul_prime`
            // computes from Z_i, without a second tanh (two thirds of the main job's time
            // was the C library's tanh, half of it here).
            crate::activation::tanh_output_mul_prime(&self.a[i - 1][..len], &mut d_i[..len]);
        } else {
            sigma.mul_prime(&self.z[i - 1][..len], &mut d_i[..len]);
        }
    }

    /// Backward, from layer n down: ∂E/∂W_i = Δ_{i+1} A_iᵀ into `dw`, and Δ_i.
    fn backward(&mut self, net: &Network<T>, x: Option<&[T]>, b: usize) {
        for i in (0..net.depth()).rev() {
            let (rows, cols) = (self.sizes[i + 1], self.sizes[i]);
            let a_i: &[T] = if i == 0 {
                x.unwrap_or(&self.x[..])
            } else {
                &self.a[i - 1]
            };
            // ∂E/∂W_i = Δ_{i+1} A_iᵀ
            Product::new(
                Operand::new(&self.delta[i], rows, b),
                Operand::new(a_i, cols, b).t(),
            )
            .pool(self.pool.as_deref())
            .run(self.dw.layer_mut(i).as_mut_slice());
            if i > 0 {
                self.propagate(net, i, b);
            }
        }
    }

    /// Backward with the update fused: Δ_i from the old W_i, then W_i ← W_i − m Δ_{i+1} A_iᵀ.
    fn backward_update(&mut self, net: &mut Network<T>, x: Option<&[T]>, b: usize, m: T) {
        for i in (0..net.depth()).rev() {
            if i > 0 {
                self.propagate(net, i, b);
            }
            let (rows, cols) = (self.sizes[i + 1], self.sizes[i]);
            let a_i: &[T] = if i == 0 {
                x.unwrap_or(&self.x[..])
            } else {
                &self.a[i - 1]
            };
            // W_i ← W_i − m Δ_{i+1} A_iᵀ
            #[cfg(feature = "mutants")]
            let planted_transpose = rows == cols
                && crate::mutants::planted() == crate::mutants::Mutant::TransposedUpdate;
            #[cfg(not(feature = "mutants"))]
            let planted_transpose = false;
            if b == 1 && rows * cols < ONE_SAMPLE_LOOPS && !planted_transpose {
                small::ger(
                    net.weight_slice_mut(i),
                    rows,
                    cols,
                    -m,
                    &self.delta[i][..rows],
                    &a_i[..cols],
                );
                continue;
            }
            let update = Product::new(
                Operand::new(&self.delta[i], rows, b),
                Operand::new(a_i, cols, b).t(),
            );
            // Test-only: a planted transposed update, A_i Δ_{i+1}ᵀ (square layers; crate::mutants).
            #[cfg(feature = "mutants")]
            let update = if planted_transpose {
                Product::new(
                    Operand::new(a_i, cols, b),
                    Operand::new(&self.delta[i], rows, b).t(),
                )
            } else {
                update
            };
            update
                .alpha(-m)
                .accumulate(true)
                .pool(self.pool.as_deref())
                .run(net.weight_slice_mut(i));
        }
    }
}

/// Layers with fewer weights than this (l_{i+1} l_i) take the kernels' one-sample products
/// ([`backprop_kernels::small`]) when the batch is one sample: a column of W_i is one or two
/// vector operations, without the cost of describing and dispatching a [`Product`] (the
/// seed's 3-4-5-2 network: 12, 20 and 10 weights).
const ONE_SAMPLE_LOOPS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::max_abs_difference;
    use nalgebra::DMatrix;

    fn data<T: Scalar>(rows: usize, cols: usize, seed: f64) -> DMatrix<T> {
        DMatrix::from_fn(rows, cols, |r, c| {
            T::of_f64(((r * 31 + c * 17) as f64 * seed).sin())
        })
    }

    /// The fused step (W_i ← W_i − m Δ_{i+1} A_iᵀ inside the backward pass) equals the unfused
    /// one (∂E/∂W_i from `gradient`, then W_i ← W_i − m ∂E/∂W_i) up to rounding, for batch 1
    /// (matrix–vector and rank-1 kernels), small and GEMM-sized batches, on 1 and 2 threads.
    fn fused_step_matches_gradient_then_update<T: Scalar>() {
        let cases: [(&[usize], usize); 5] = [
            (&[3, 4, 5, 2], 1),
            (&[70, 33, 9], 1),
            (&[70, 33, 9], 13),
            (&[50, 130, 140, 7], 96),
            (&[300, 200, 10], 64),
        ];
        for (sizes, batch) in cases {
            for threads in [1, 2] {
                for reduction in [Reduction::Sum, Reduction::Mean] {
                    let net0 = Network::<T>::random(sizes, Activation::Sigmoid, 11).unwrap();
                    let x = data::<T>(sizes[0], batch, 0.37);
                    let y = data::<T>(sizes[sizes.len() - 1], batch, 0.11);
                    let m = T::of_f64(0.05);
                    let mut ws = Workspace::new(&net0, batch).unwrap();
                    ws.set_threads(threads).unwrap();
                    let e_ref = ws.gradient(&net0, x.as_view(), y.as_view()).unwrap();
                    let mut reference = net0.clone();
                    ws.update(&mut reference, m, reduction);
                    let mut fused = net0.clone();
                    let e = ws
                        .step(&mut fused, x.as_view(), y.as_view(), m, reduction)
                        .unwrap();
                    let tol = T::of_f64(1e3) * T::EPSILON;
                    assert!(
                        (e - e_ref).abs() <= tol * e_ref.abs().max(T::one()),
                        "{sizes:?} B={batch}: E {e} vs {e_ref}"
                    );
                    for i in 0..net0.depth() {
                        let (w, r, w0) = (fused.weight(i), reference.weight(i), net0.weight(i));
                        let step = (r - w0).amax().max(T::EPSILON);
                        let diff = max_abs_difference(w.as_view(), r.as_view());
                        assert!(
                            diff <= tol * step + T::of_f64(4.0) * T::EPSILON * w0.amax(),
                            "{sizes:?} B={batch} threads={threads} {reduction:?}: W{i} differs by {diff} (step {step})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fused_step_matches_gradient_then_update_f64() {
        fused_step_matches_gradient_then_update::<f64>();
    }

    #[test]
    fn fused_step_matches_gradient_then_update_f32() {
        fused_step_matches_gradient_then_update::<f32>();
    }

    /// σ(z) = z³/3 + z, an activation the narrow path applies through [`ActivationFn`].
    #[derive(Debug)]
    struct CubicPlus;

    impl<T: Scalar> crate::ActivationFn<T> for CubicPlus {
        fn name(&self) -> String {
            "cubic_plus".into()
        }
        fn sigma(&self, z: T) -> T {
            z * z * z / T::of_f64(3.0) + z
        }
        fn sigma_prime(&self, z: T) -> T {
            z * z + T::one()
        }
    }

    /// One sample through narrow layers (every width ≤ 8: the monomorphised loops of
    /// `tiny`) gives the E and the W_i of the batched path's `gradient` and update, for
    /// every activation (fused sigmoid and tanh, the others through `ActivationFn`), a lone
    /// output layer, widths 1 and 8, both reductions, and an input read through a copy.
    fn narrow_step_matches_gradient_then_update<T: Scalar>() {
        let shapes: [&[usize]; 6] = [
            &[3, 4, 5, 2],
            &[8, 8, 8],
            &[1, 1],
            &[5, 2],
            &[2, 7, 1, 6, 3],
            &[8, 1, 8],
        ];
        let activations: Vec<std::sync::Arc<dyn crate::ActivationFn<T>>> = vec![
            std::sync::Arc::new(Activation::Sigmoid),
            std::sync::Arc::new(Activation::Tanh),
            std::sync::Arc::new(Activation::Relu),
            std::sync::Arc::new(Activation::Softplus),
            std::sync::Arc::new(CubicPlus),
        ];
        for sizes in shapes {
            for sigma in &activations {
                for reduction in [Reduction::Sum, Reduction::Mean] {
                    let random = Network::<T>::random(sizes, Activation::Sigmoid, 3).unwrap();
                    let net0 =
                        Network::with_activation(random.into_weights(), sigma.clone()).unwrap();
                    let n = sizes.len() - 1;
                    // data(0, 0) is sin 0: shift it, so that a lone input is not zero.
                    let x = data::<T>(sizes[0], 1, 0.37).add_scalar(T::of_f64(0.5));
                    let y = data::<T>(sizes[n], 1, 0.11);
                    let m = T::of_f64(0.1);
                    let mut ws = Workspace::new(&net0, 4).unwrap();
                    assert!(ws.tiny.is_some(), "{sizes:?}: no narrow plan");
                    let e_ref = ws.gradient(&net0, x.as_view(), y.as_view()).unwrap();
                    let z_ref = ws.output().to_vec();
                    let mut reference = net0.clone();
                    ws.update(&mut reference, m, reduction);
                    // X as rows of a taller matrix: not contiguous, so copied.
                    let mut tall = DMatrix::<T>::zeros(sizes[0] + 1, 1);
                    tall.rows_mut(1, sizes[0]).copy_from(&x);
                    for view in [x.as_view(), tall.rows(1, sizes[0])] {
                        let mut narrow = net0.clone();
                        let e = ws
                            .step(&mut narrow, view, y.as_view(), m, reduction)
                            .unwrap();
                        let what = format!("{sizes:?} {} {reduction:?}", sigma.name());
                        let mut changed = false;
                        let tol = T::of_f64(64.0) * T::EPSILON;
                        assert!(
                            (e - e_ref).abs() <= tol * e_ref.abs().max(T::one()),
                            "{what}: E {e} vs {e_ref}"
                        );
                        for (z, r) in ws.output().iter().zip(&z_ref) {
                            assert!(
                                (*z - *r).abs() <= tol * r.abs().max(T::one()),
                                "{what}: z_n"
                            );
                        }
                        for i in 0..n {
                            let (w, r, w0) =
                                (narrow.weight(i), reference.weight(i), net0.weight(i));
                            let step = (r - w0).amax();
                            let diff = max_abs_difference(w.as_view(), r.as_view());
                            assert!(
                                diff <= tol * (step + w0.amax()),
                                "{what}: W{i} differs by {diff} (step {step})"
                            );
                            changed |= step > T::zero();
                        }
                        assert!(changed, "{what}: no weight changed");
                    }
                }
            }
        }
    }

    #[test]
    fn narrow_step_matches_gradient_then_update_f64() {
        narrow_step_matches_gradient_then_update::<f64>();
    }

    #[test]
    fn narrow_step_matches_gradient_then_update_f32() {
        narrow_step_matches_gradient_then_update::<f32>();
    }

    /// The narrow path keeps the checks of the batched one: a NaN or ±∞ in x or y is named
    /// (the target first, as `Network::check_batch`), a wrong shape or another network is
    /// refused, and the weights stay unchanged; a finite x whose z_1 overflows is not called
    /// non-finite data.
    #[test]
    fn narrow_step_names_bad_input_and_changes_nothing() {
        let net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 7).unwrap();
        let mut ws = Workspace::new(&net, 1).unwrap();
        let (x, y) = (data::<f64>(3, 1, 0.3), data::<f64>(2, 1, 0.7));
        for (row, bad) in [(0, f64::NAN), (2, f64::INFINITY)] {
            let mut bad_x = x.clone();
            bad_x[(row, 0)] = bad;
            let mut w = net.clone();
            let err = ws
                .step(&mut w, bad_x.as_view(), y.as_view(), 0.1, Reduction::Sum)
                .unwrap_err();
            assert!(
                matches!(err, Error::NonFiniteData { what: "input", row: r, sample: 0, .. } if r == row),
                "{err:?}"
            );
            assert_eq!(w, net);
            let mut bad_y = y.clone();
            bad_y[(1, 0)] = bad;
            // Both bad: the target is named, as by `Network::check_batch`.
            for xs in [&x, &bad_x] {
                let err = ws
                    .step(&mut w, xs.as_view(), bad_y.as_view(), 0.1, Reduction::Sum)
                    .unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::NonFiniteData {
                            what: "target",
                            row: 1,
                            sample: 0,
                            ..
                        }
                    ),
                    "{err:?}"
                );
                assert_eq!(w, net);
            }
        }
        let mut w = net.clone();
        assert!(matches!(
            ws.step(
                &mut w,
                data::<f64>(4, 1, 0.3).as_view(),
                y.as_view(),
                0.1,
                Reduction::Sum
            ),
            Err(Error::DataShape {
                what: "inputs",
                expected: 3,
                got: 4
            })
        ));
        assert!(matches!(
            ws.step(
                &mut w,
                x.as_view(),
                data::<f64>(3, 1, 0.3).as_view(),
                0.1,
                Reduction::Sum
            ),
            Err(Error::DataShape {
                what: "targets",
                expected: 2,
                got: 3
            })
        ));
        let mut other = Network::<f64>::random(&[3, 5, 4, 2], Activation::Sigmoid, 7).unwrap();
        let before = other.clone();
        assert!(
            ws.step(&mut other, x.as_view(), y.as_view(), 0.1, Reduction::Sum)
                .is_err()
        );
        assert_eq!(other, before);
        assert_eq!(w, net);
        let huge = DMatrix::<f64>::from_element(3, 1, f64::MAX / 2.0);
        assert!(
            ws.step(&mut w, huge.as_view(), y.as_view(), 0.1, Reduction::Sum)
                .is_ok()
        );
    }

    #[test]
    fn threads_give_the_same_gradient() {
        let sizes = [300, 200, 10];
        let net = Network::<f64>::random(&sizes, Activation::Tanh, 5).unwrap();
        let x = data::<f64>(300, 64, 0.3);
        let y = data::<f64>(10, 64, 0.7);
        let mut one = Workspace::new(&net, 64).unwrap();
        let mut two = one.clone();
        two.set_threads(2).unwrap();
        assert_eq!(two.threads(), 2);
        let e1 = one.gradient(&net, x.as_view(), y.as_view()).unwrap();
        let e2 = two.gradient(&net, x.as_view(), y.as_view()).unwrap();
        assert!((e1 - e2).abs() <= 1e-12 * e1.abs());
        assert!(one.gradient_ref().max_abs_diff(two.gradient_ref()) <= 1e-12);
        assert!(two.set_threads(0).is_err());
    }

    #[test]
    fn forward_gives_the_output_of_network_forward() {
        let net = Network::<f32>::random(&[20, 30, 4], Activation::Relu, 2).unwrap();
        let x = data::<f32>(20, 5, 0.3);
        let mut ws = Workspace::new(&net, 8).unwrap();
        let out = ws.forward(&net, x.as_view()).unwrap().to_vec();
        let trace = net.forward(x.as_view()).unwrap();
        for (a, b) in out.iter().zip(trace.output().iter()) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(out.len(), 4 * 5);
        assert!(ws.forward(&net, data::<f32>(20, 9, 0.1).as_view()).is_err());
    }

    /// A batch given as a strided view (some rows of a taller matrix) is copied, a contiguous
    /// one read in place: both give the same E and ∂E/∂W_i.
    #[test]
    fn strided_and_contiguous_batches_agree() {
        let net = Network::<f64>::random(&[20, 30, 4], Activation::Sigmoid, 2).unwrap();
        let tall = data::<f64>(25, 40, 0.3);
        let y = data::<f64>(4, 40, 0.7);
        let strided = tall.rows(2, 20);
        let owned = strided.clone_owned();
        assert!(contiguous(strided).is_none());
        assert!(contiguous(owned.as_view()).is_some());
        let mut ws = Workspace::new(&net, 40).unwrap();
        let e1 = ws.gradient(&net, strided, y.as_view()).unwrap();
        let g1 = ws.gradient_ref().clone();
        let e2 = ws.gradient(&net, owned.as_view(), y.as_view()).unwrap();
        assert_eq!(e1, e2);
        assert_eq!(g1.max_abs_diff(ws.gradient_ref()), 0.0);
        let (mut a, mut b) = (net.clone(), net.clone());
        ws.step(&mut a, strided, y.as_view(), 0.1, Reduction::Mean)
            .unwrap();
        ws.step(&mut b, owned.as_view(), y.as_view(), 0.1, Reduction::Mean)
            .unwrap();
        assert_eq!(a, b);
    }

    /// A NaN or infinity anywhere in a batch (in a vectorised chunk or the tail of a column)
    /// is refused with its row and sample, and the weights stay unchanged.
    #[test]
    fn non_finite_batch_values_are_named() {
        let net = Network::<f64>::random(&[19, 5, 3], Activation::Tanh, 4).unwrap();
        let y = data::<f64>(3, 6, 0.7);
        let mut ws = Workspace::new(&net, 6).unwrap();
        for (row, sample, bad) in [
            (0, 0, f64::NAN),
            (7, 2, f64::INFINITY),
            (18, 5, f64::NEG_INFINITY),
        ] {
            let mut x = data::<f64>(19, 6, 0.3);
            x[(row, sample)] = bad;
            let mut w = net.clone();
            let err = ws
                .step(&mut w, x.as_view(), y.as_view(), 0.1, Reduction::Sum)
                .unwrap_err();
            match err {
                Error::NonFiniteData {
                    row: r, sample: s, ..
                } => assert_eq!((r, s), (row, sample)),
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(w, net);
        }
    }

    /// X's finiteness is checked through Z_1 = W_0 X after the forward pass: a NaN or ±∞ is
    /// still named where W_0's column for it is all zeros (0 · ∞ = NaN), through `gradient`
    /// as `step`, in f32, for a view the workspace copies, and a non-finite target too; a
    /// finite X whose Z_1 overflows is not called non-finite data.
    #[test]
    fn non_finite_inputs_are_named_through_the_first_layer() {
        let mut net = Network::<f32>::random(&[40, 24, 3], Activation::Sigmoid, 9).unwrap();
        net.weight_mut(0).column_mut(11).fill(0.0);
        let (b, wide) = (70, 75);
        let y = data::<f32>(3, b, 0.7);
        let mut ws = Workspace::new(&net, b).unwrap();
        for (row, sample, bad) in [
            (11, 0, f32::INFINITY),
            (11, 69, f32::NAN),
            (39, 33, f32::NEG_INFINITY),
        ] {
            let mut x = data::<f32>(40, wide, 0.3);
            x[(row, sample)] = bad;
            // Columns 0..b of a wider matrix are contiguous; rows 0..40 of a taller one not.
            let mut tall = DMatrix::<f32>::zeros(41, b);
            tall.rows_mut(0, 40).copy_from(&x.columns(0, b));
            for view in [x.columns(0, b), tall.rows(0, 40)] {
                let mut w = net.clone();
                let err = ws
                    .step(&mut w, view, y.as_view(), 0.1, Reduction::Mean)
                    .unwrap_err();
                assert!(
                    matches!(err, Error::NonFiniteData { what: "input", row: r, sample: s, .. }
                        if (r, s) == (row, sample)),
                    "step: {err:?}"
                );
                assert_eq!(w, net);
                let err = ws.gradient(&net, view, y.as_view()).unwrap_err();
                assert!(
                    matches!(err, Error::NonFiniteData { row: r, sample: s, .. }
                        if (r, s) == (row, sample)),
                    "gradient: {err:?}"
                );
            }
        }
        let mut bad_y = y.clone();
        bad_y[(2, 5)] = f32::NAN;
        let x = data::<f32>(40, b, 0.3);
        let err = ws.gradient(&net, x.as_view(), bad_y.as_view()).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteData {
                what: "target",
                row: 2,
                sample: 5,
                ..
            }
        ));
        // Finite inputs of f32::MAX / 2: Z_1 overflows to ±∞ (σ saturates), and that is not
        // the data's fault.
        let huge = DMatrix::<f32>::from_element(40, b, f32::MAX / 2.0);
        let result = ws.gradient(&net, huge.as_view(), y.as_view());
        assert!(result.is_ok(), "finite inputs refused: {result:?}");
        assert!(
            ws.z[0][..24 * b].iter().any(|v| !v.is_finite()),
            "Z_1 did not overflow"
        );
    }
}
