//! One sample through a network whose layers are all at most [`WIDTH`] wide (the seed's
//! 3-4-5-2), planned once when the [`super::Workspace`] is built: each layer's functions are
//! the [`NarrowLayer`] compiled for its exact (l_{i+1}, l_i) by `backprop_kernels`.
//!
//! ```text
//! z_{i+1} = W_i a_i,  a_{i+1} = σ(z_{i+1})                        forward, a_0 = x
//! E = ‖y − z_n‖²,  δ_n = −2 (y − z_n)
//! d_i = W_iᵀ δ_{i+1} (old W_i),  W_i ← W_i − m δ_{i+1} a_iᵀ       one pass over W_i
//! δ_i = σ′(z_i) ⊙ d_i
//! ```
//!
//! A step of the seed's network is about 150 flops in a chain of layers, each waiting for
//! the last; the batched path spends more than that describing its products. Here each
//! layer is one call, with the sigmoid and tanh fused into it (σ′ from the stored a_i, as in
//! the batched path); any other activation is applied here through [`ActivationFn`]. The
//! vectors live in fixed-size arrays, and δ_{i+1} and δ_i alternate between two of them
//! without copies.

use crate::activation::{Activation, ActivationFn};
use crate::network::Network;
use crate::scalar::Scalar;
use backprop_kernels::narrow::{Column, Fused, NarrowLayer};
use nalgebra::DMatrixView;

pub(crate) use backprop_kernels::narrow::WIDTH;

/// The plan and the vectors of one-sample steps through a network of narrow layers.
#[derive(Clone, Debug)]
pub(crate) struct Tiny<T> {
    layers: Vec<NarrowLayer<T>>,
    /// a[i] holds a_i (a[0] = x; a[n] is not used), z[i] holds z_{i+1}. Entries past a
    /// layer's width are never read.
    a: Vec<Column<T>>,
    z: Vec<Column<T>>,
}

impl<T: Scalar> Tiny<T> {
    /// The plan for `sizes` (l_0, …, l_n), if every width is 1..=[`WIDTH`].
    pub(crate) fn new(sizes: &[usize]) -> Option<Self> {
        let layers = sizes
            .windows(2)
            .map(|l| NarrowLayer::new(l[1], l[0]))
            .collect::<Option<Vec<_>>>()?;
        let n = layers.len();
        Some(Self {
            layers,
            a: vec![[T::zero(); WIDTH]; n + 1],
            z: vec![[T::zero(); WIDTH]; n],
        })
    }

    /// The forward pass of the sample `x` (l_0 values) through `net`, which has the sizes of
    /// the plan; returns z_1, for the caller's check of x.
    pub(crate) fn forward(&mut self, net: &Network<T>, x: &[T]) -> &[T] {
        for (a, &x) in self.a[0].iter_mut().zip(x) {
            *a = x;
        }
        let sigma = net.activation();
        let fused = fused(sigma);
        let n = self.layers.len();
        let (a, z) = (&mut self.a, &mut self.z);
        for (i, (layer, w)) in self.layers.iter().zip(net.weights()).enumerate() {
            let hidden = i + 1 < n;
            // z_{i+1} = W_i a_i, and a_{i+1} = σ(z_{i+1}) if σ is fused.
            let (now, next) = a.split_at_mut(i + 1);
            let (now, next) = (&now[i], &mut next[0]);
            let act = if hidden { fused } else { Fused::Linear };
            layer.forward(w.as_slice(), now, &mut z[i], next, act);
            if hidden && fused == Fused::Linear {
                let rows = layer.shape().0;
                sigma.apply(&z[i][..rows], &mut next[..rows]);
            }
        }
        &self.z[0][..self.layers[0].shape().0]
    }

    /// z_n, the output of the last forward pass.
    pub(crate) fn output(&self) -> &[T] {
        let n = self.layers.len();
        &self.z[n - 1][..self.layers[n - 1].shape().0]
    }

    /// E = ‖y − z_n‖² and δ_n = −2 (y − z_n) for the target `y` (l_n values).
    pub(crate) fn output_delta(&self, y: &[T]) -> (T, Column<T>) {
        let two = T::of_f64(2.0);
        let mut delta = [T::zero(); WIDTH];
        let mut e = T::zero();
        for ((d, &z), &y) in delta.iter_mut().zip(self.output()).zip(y) {
            let r = y - z;
            e += r * r;
            *d = -two * r;
        }
        (e, delta)
    }

    /// The backward pass from δ_n with the update fused: W_i ← W_i − m δ_{i+1} a_iᵀ after
    /// d_i = W_iᵀ δ_{i+1} has read the old W_i, for i = n−1, …, 0; δ_i = σ′(z_i) ⊙ d_i.
    pub(crate) fn backward_update(&self, net: &mut Network<T>, mut delta: Column<T>, m: T) {
        let (weights, sigma) = net.weights_mut_and_activation();
        let fused = fused(sigma);
        // δ_{i+1} and δ_i in turn, never copied: a copy would load whole vectors just
        // stored element by element, which the CPU cannot forward from its store buffer.
        let mut d = [T::zero(); WIDTH];
        let (mut upper, mut lower) = (&mut delta, &mut d);
        for (i, (layer, w)) in self.layers.iter().zip(weights).enumerate().rev() {
            let act = if i > 0 { fused } else { Fused::Linear };
            layer.backward(w.as_mut_slice(), upper, &self.a[i], -m, lower, act);
            if i > 0 && fused == Fused::Linear {
                // δ_i = σ′(z_i) ⊙ d_i through the activation's own σ′.
                let z = &self.z[i - 1];
                for r in 0..layer.shape().1 {
                    lower[r] *= sigma.sigma_prime(z[r]);
                }
            }
            std::mem::swap(&mut upper, &mut lower);
        }
    }
}

/// How the layer functions apply σ: the sigmoid and tanh themselves, any other activation
/// through the caller.
fn fused<T: Scalar>(sigma: &dyn ActivationFn<T>) -> Fused {
    match sigma.builtin() {
        Some(Activation::Sigmoid) => Fused::Sigmoid,
        Some(Activation::Tanh) => Fused::Tanh,
        _ => Fused::Linear,
    }
}

/// The one sample of `v` (a single column of at most [`WIDTH`] rows) as a slice: read in place
/// where contiguous, else copied into `copy`.
#[inline(always)]
pub(crate) fn column<'a, T: Scalar>(v: DMatrixView<'a, T>, copy: &'a mut Column<T>) -> &'a [T] {
    match backprop_kernels::contiguous(v) {
        Some(values) => values,
        None => {
            for (c, &value) in copy.iter_mut().zip(v.iter()) {
                *c = value;
            }
            &copy[..v.nrows()]
        }
    }
}
