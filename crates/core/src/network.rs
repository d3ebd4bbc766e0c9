//! The network: layer sizes l_0..l_n and weights W_0..W_{n−1}, no biases.
//!
//! W_i ∈ R^{l_{i+1} × l_i} maps a_i to z_{i+1} = W_i a_i. One activation σ serves every hidden
//! layer; the output z_n has none.
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "The network and its notation".

use crate::activation::{Activation, ActivationFn};
use crate::error::{Error, Result};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// How [`Network::random`] draws the initial weights: uniform on [−r, r] with r from the fan-in
/// l_i and fan-out l_{i+1} of W_i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Glorot (Xavier) uniform: r = √(6 / (l_i + l_{i+1})). Keeps Var(z) steady for sigmoid,
    /// tanh, softplus and identity, which are close to linear around 0.
    Glorot,
    /// He (Kaiming) uniform: r = √(6 / l_i). Doubles Glorot's fan-in variance to make up for
    /// relu zeroing half of its inputs.
    He,
    /// LeCun uniform: r = √(3 / l_i), Var(W) = 1 / l_i.
    LeCun,
}

impl Init {
    /// The half-width r of the uniform interval for a matrix with `fan_in` columns and `fan_out`
    /// rows.
    pub fn radius(self, fan_in: usize, fan_out: usize) -> f64 {
        // Layer widths are far below 2^53, so the conversions are exact.
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match self {
            Init::Glorot => (6.0 / (fi + fo)).sqrt(),
            Init::He => (6.0 / fi).sqrt(),
            Init::LeCun => (3.0 / fi).sqrt(),
        }
    }
}

/// A bias-free feedforward network: z_{i+1} = W_i a_i, a_i = σ(z_i) for i = 1..n−1, output z_n.
///
/// The weights always chain (W_i is l_{i+1} × l_i) and are finite: every constructor checks.
#[derive(Clone)]
pub struct Network<T: Scalar> {
    weights: Vec<DMatrix<T>>,
    activation: Arc<dyn ActivationFn<T>>,
}

impl<T: Scalar> std::fmt::Debug for Network<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("sizes", &self.sizes())
            .field("activation", &self.activation.name())
            .field("dtype", &T::DTYPE)
            .finish()
    }
}

impl<T: Scalar> PartialEq for Network<T> {
    /// Equal when the activations have the same name and the weights are equal element by
    /// element.
    fn eq(&self, other: &Self) -> bool {
        self.activation.name() == other.activation.name() && self.weights == other.weights
    }
}

/// Empty vectors with room for each W_i's l_{i+1} l_i elements, allocated fallibly.
///
/// # Errors
/// [`Error::TooLarge`] when a count overflows or the allocator refuses.
fn weight_storage<T: Scalar>(sizes: &[usize]) -> Result<Vec<Vec<T>>> {
    let too_large = || Error::TooLarge {
        what: format!("a network of sizes {sizes:?} ({})", T::DTYPE),
        bytes: sizes
            .windows(2)
            .try_fold(0u128, |sum, l| {
                (l[0] as u128)
                    .checked_mul(l[1] as u128)?
                    .checked_mul(T::DTYPE.size() as u128)?
                    .checked_add(sum)
            })
            .unwrap_or(u128::MAX),
        limit: None,
    };
    sizes
        .windows(2)
        .map(|l| {
            let len = l[0].checked_mul(l[1]).ok_or_else(too_large)?;
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| too_large())?;
            Ok(v)
        })
        .collect()
}

/// Checks that `sizes` describe a network: at least two, none zero.
pub(crate) fn check_sizes(sizes: &[usize]) -> Result<()> {
    if sizes.len() < 2 {
        return Err(Error::TooFewLayers { got: sizes.len() });
    }
    if let Some(layer) = sizes.iter().position(|&l| l == 0) {
        return Err(Error::ZeroWidth { layer });
    }
    Ok(())
}

impl<T: Scalar> Network<T> {
    /// A network from given weight matrices W_0..W_{n−1} and a built-in activation.
    ///
    /// # Errors
    /// [`Error::TooFewLayers`] for no matrix, [`Error::ZeroWidth`] for an empty one,
    /// [`Error::WeightShape`] when W_{i+1} has not l_{i+1} columns, [`Error::NonFiniteWeight`]
    /// for a NaN or infinite weight.
    pub fn from_weights(weights: Vec<DMatrix<T>>, activation: Activation) -> Result<Self> {
        Self::with_activation(weights, Arc::new(activation))
    }

    /// A network from given weights and any activation, such as a user's own [`ActivationFn`].
    ///
    /// # Errors
    /// As [`Network::from_weights`].
    pub fn with_activation(
        weights: Vec<DMatrix<T>>,
        activation: Arc<dyn ActivationFn<T>>,
    ) -> Result<Self> {
        let Some(first) = weights.first() else {
            return Err(Error::TooFewLayers { got: 0 });
        };
        let mut sizes = vec![first.ncols()];
        sizes.extend(weights.iter().map(|w| w.nrows()));
        check_sizes(&sizes)?;
        for (i, w) in weights.iter().enumerate() {
            let expected = (sizes[i + 1], sizes[i]);
            if w.shape() != expected {
                return Err(Error::WeightShape {
                    layer: i,
                    expected,
                    got: w.shape(),
                });
            }
            check_finite_weights(i, w.as_view())?;
        }
        Ok(Self {
            weights,
            activation,
        })
    }

    /// A network with layer sizes `sizes` = [l_0, …, l_n] and weights drawn uniformly on [−r, r]
    /// with r from the activation's default [`Init`] (He for relu-like, Glorot otherwise).
    ///
    /// The same seed gives the same weights, for f32 and f64 alike (drawn in f64, then rounded).
    ///
    /// # Errors
    /// [`Error::TooFewLayers`], [`Error::ZeroWidth`], or [`Error::TooLarge`] when the weights
    /// cannot be allocated (their size overflows, or the allocator refuses it); no memory
    /// limit is applied here, so a program that has one checks Σ l_{i+1} l_i elements first.
    pub fn random(sizes: &[usize], activation: Activation, seed: u64) -> Result<Self> {
        Self::random_with(sizes, Arc::new(activation), activation.default_init(), seed)
    }

    /// As [`Network::random`], with any activation and an explicit initialisation.
    ///
    /// # Errors
    /// As [`Network::random`].
    pub fn random_with(
        sizes: &[usize],
        activation: Arc<dyn ActivationFn<T>>,
        init: Init,
        seed: u64,
    ) -> Result<Self> {
        check_sizes(sizes)?;
        let storage = weight_storage::<T>(sizes)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let weights = sizes
            .windows(2)
            .zip(storage)
            .map(|(l, mut data)| {
                let r = init.radius(l[0], l[1]);
                // Column-major fill: each element drawn in order of storage.
                data.extend((0..l[0] * l[1]).map(|_| T::of_f64(rng.random_range(-1.0..=1.0) * r)));
                DMatrix::from_vec(l[1], l[0], data)
            })
            .collect();
        Ok(Self {
            weights,
            activation,
        })
    }

    /// The number n of weight matrices (the network has layers 0..n).
    pub fn depth(&self) -> usize {
        self.weights.len()
    }

    /// The layer sizes [l_0, l_1, …, l_n].
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.weights[0].ncols()];
        sizes.extend(self.weights.iter().map(|w| w.nrows()));
        sizes
    }

    /// l_0, the width of the input.
    pub fn inputs(&self) -> usize {
        self.weights[0].ncols()
    }

    /// l_n, the width of the output.
    pub fn outputs(&self) -> usize {
        self.weights[self.weights.len() - 1].nrows()
    }

    /// The number of weights, Σ_i l_{i+1} l_i.
    pub fn parameter_count(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum()
    }

    /// The weights W_0..W_{n−1}.
    pub fn weights(&self) -> &[DMatrix<T>] {
        &self.weights
    }

    /// W_i.
    ///
    /// # Panics
    /// If i ≥ n.
    pub fn weight(&self, i: usize) -> &DMatrix<T> {
        &self.weights[i]
    }

    /// A mutable view of W_i: its elements can change, its shape cannot. The caller keeps the
    /// weights finite (the training functions check).
    ///
    /// # Panics
    /// If i ≥ n.
    pub fn weight_mut(&mut self, i: usize) -> DMatrixViewMut<'_, T> {
        self.weights[i].as_view_mut()
    }

    /// W_i as a column-major slice (l_{i+1} · l_i elements), for the in-place kernels.
    ///
    /// # Panics
    /// If i ≥ n.
    pub(crate) fn weight_slice_mut(&mut self, i: usize) -> &mut [T] {
        self.weights[i].as_mut_slice()
    }

    /// The weights to change, beside the activation to read.
    pub(crate) fn weights_mut_and_activation(
        &mut self,
    ) -> (&mut [DMatrix<T>], &dyn ActivationFn<T>) {
        (&mut self.weights, &*self.activation)
    }

    /// Copies all weights from `other`, a network of the same sizes, without allocating.
    ///
    /// # Errors
    /// [`Error::WeightShape`] when the sizes differ.
    pub fn copy_weights_from(&mut self, other: &Network<T>) -> Result<()> {
        self.check_same_sizes(other.weights())?;
        for (w, o) in self.weights.iter_mut().zip(&other.weights) {
            w.copy_from(o);
        }
        Ok(())
    }

    /// Checks that `matrices` have the shapes of W_0..W_{n−1}.
    pub(crate) fn check_same_sizes(&self, matrices: &[DMatrix<T>]) -> Result<()> {
        if matrices.len() != self.weights.len() {
            return Err(Error::InvalidParameter {
                name: "weights",
                reason: format!(
                    "{} matrices given for a network with {} weight matrices",
                    matrices.len(),
                    self.weights.len()
                ),
            });
        }
        for (i, (w, o)) in self.weights.iter().zip(matrices).enumerate() {
            if w.shape() != o.shape() {
                return Err(Error::WeightShape {
                    layer: i,
                    expected: w.shape(),
                    got: o.shape(),
                });
            }
        }
        Ok(())
    }

    /// The activation σ of the hidden layers.
    pub fn activation(&self) -> &dyn ActivationFn<T> {
        &*self.activation
    }

    /// The activation as a shared pointer, to build another network with it.
    pub fn activation_arc(&self) -> Arc<dyn ActivationFn<T>> {
        Arc::clone(&self.activation)
    }

    /// Consumes the network, returning its weights.
    pub fn into_weights(self) -> Vec<DMatrix<T>> {
        self.weights
    }

    /// The first non-finite weight, as an error, or `Ok`.
    ///
    /// # Errors
    /// [`Error::NonFiniteWeight`] naming layer, row and column.
    pub fn check_finite(&self) -> Result<()> {
        for (i, w) in self.weights.iter().enumerate() {
            check_finite_weights(i, w.as_view())?;
        }
        Ok(())
    }

    /// Checks a batch against the network: `x` is l_0 × B, `y` is l_n × B with B ≥ 1, all finite.
    ///
    /// # Errors
    /// [`Error::DataShape`], [`Error::SampleCount`], [`Error::NoSamples`],
    /// [`Error::NonFiniteData`].
    pub fn check_batch(&self, x: DMatrixView<'_, T>, y: DMatrixView<'_, T>) -> Result<()> {
        self.check_inputs(x)?;
        self.check_targets(x, y)
    }

    /// [`Network::check_batch`] but for the finiteness of `x`, which the caller checks itself
    /// (the batched step, through Z_1 = W_0 X: see `Workspace::step`).
    pub(crate) fn check_batch_shapes(
        &self,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
    ) -> Result<()> {
        // check_batch's twin for the shapes alone.
        self.check_input_shape(x)?;
        self.check_targets(x, y)
    }

    /// `y` is l_n × B for the B samples of `x`, all finite.
    fn check_targets(&self, x: DMatrixView<'_, T>, y: DMatrixView<'_, T>) -> Result<()> {
        if y.nrows() != self.outputs() {
            return Err(Error::DataShape {
                what: "targets",
                expected: self.outputs(),
                got: y.nrows(),
            });
        }
        if y.ncols() != x.ncols() {
            return Err(Error::SampleCount {
                inputs: x.ncols(),
                targets: y.ncols(),
            });
        }
        check_finite_data("target", y)
    }

    /// Checks inputs against the network: `x` is l_0 × B with B ≥ 1, all finite.
    ///
    /// # Errors
    /// [`Error::DataShape`], [`Error::NoSamples`], [`Error::NonFiniteData`].
    pub fn check_inputs(&self, x: DMatrixView<'_, T>) -> Result<()> {
        self.check_input_shape(x)?;
        check_finite_data("input", x)
    }

    /// `x` is l_0 × B with B ≥ 1.
    fn check_input_shape(&self, x: DMatrixView<'_, T>) -> Result<()> {
        if x.nrows() != self.inputs() {
            return Err(Error::DataShape {
                what: "inputs",
                expected: self.inputs(),
                got: x.nrows(),
            });
        }
        if x.ncols() == 0 {
            return Err(Error::NoSamples);
        }
        Ok(())
    }
}

fn check_finite_weights<T: Scalar>(layer: usize, w: DMatrixView<'_, T>) -> Result<()> {
    for col in 0..w.ncols() {
        for row in 0..w.nrows() {
            let value = w[(row, col)];
            if !value.finite() {
                return Err(Error::NonFiniteWeight {
                    layer,
                    row,
                    col,
                    value: value.as_f64(),
                });
            }
        }
    }
    Ok(())
}

/// Whether every value is finite: a fast scan (eight independent sums, so it vectorises) of
/// 0 · v, which is 0 for a finite v and NaN otherwise.
pub(crate) fn all_finite<T: Scalar>(values: &[T]) -> bool {
    let mut acc = [T::zero(); 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v * T::zero();
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a += v * T::zero();
    }
    acc.iter().all(|&a| a == T::zero())
}

fn check_finite_data<T: Scalar>(what: &'static str, m: DMatrixView<'_, T>) -> Result<()> {
    // A contiguous batch is scanned whole first (T1's targets: 16 columns of 2), and only
    // one that fails is searched column by column.
    if backprop_kernels::contiguous(m).is_some_and(all_finite) {
        return Ok(());
    }
    for sample in 0..m.ncols() {
        let column = m.column(sample);
        let values = column.as_slice();
        // Only a column that fails the fast scan is searched for the culprit.
        if all_finite(values) {
            continue;
        }
        for (row, &value) in values.iter().enumerate() {
            if !value.finite() {
                return Err(Error::NonFiniteData {
                    what,
                    row,
                    sample,
                    value: value.as_f64(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_has_the_requested_shapes_and_is_seeded() {
        let a = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 7).unwrap();
        assert_eq!(a.sizes(), vec![3, 4, 5, 2]);
        assert_eq!(a.weight(1).shape(), (5, 4));
        assert_eq!(a.parameter_count(), 12 + 20 + 10);
        let b = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 7).unwrap();
        assert_eq!(a, b);
        let c = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 8).unwrap();
        assert_ne!(a, c);
        let r = Init::Glorot.radius(3, 4);
        assert!(a.weight(0).iter().all(|w| w.abs() <= r));
    }

    #[test]
    fn f32_and_f64_draw_the_same_weights() {
        let a = Network::<f64>::random(&[4, 3, 2], Activation::Relu, 1).unwrap();
        let b = Network::<f32>::random(&[4, 3, 2], Activation::Relu, 1).unwrap();
        for (wa, wb) in a.weights().iter().zip(b.weights()) {
            for (x, y) in wa.iter().zip(wb.iter()) {
                assert_eq!(*x as f32, *y);
            }
        }
    }

    #[test]
    fn shapes_that_do_not_chain_are_refused() {
        let w0 = DMatrix::<f64>::zeros(4, 3);
        let w1 = DMatrix::<f64>::zeros(2, 5);
        let err = Network::from_weights(vec![w0, w1], Activation::Tanh).unwrap_err();
        assert!(matches!(
            err,
            Error::WeightShape {
                layer: 1,
                expected: (2, 4),
                got: (2, 5)
            }
        ));
        assert!(err.to_string().contains("W_1 has shape 2×5, expected 2×4"));
        assert!(matches!(
            Network::<f64>::from_weights(vec![], Activation::Tanh),
            Err(Error::TooFewLayers { got: 0 })
        ));
        assert!(matches!(
            Network::<f64>::random(&[3, 0, 2], Activation::Tanh, 0),
            Err(Error::ZeroWidth { layer: 1 })
        ));
    }

    #[test]
    fn non_finite_weights_are_refused_with_their_place() {
        let mut w = DMatrix::<f32>::zeros(2, 3);
        w[(1, 2)] = f32::NAN;
        let err = Network::from_weights(vec![w], Activation::Identity).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteWeight {
                layer: 0,
                row: 1,
                col: 2,
                ..
            }
        ));
    }

    #[test]
    fn bad_batches_are_refused() {
        let net = Network::<f64>::random(&[3, 2], Activation::Identity, 0).unwrap();
        let x = DMatrix::<f64>::zeros(3, 2);
        let y = DMatrix::<f64>::zeros(2, 2);
        net.check_batch(x.as_view(), y.as_view()).unwrap();
        let err = net
            .check_batch(DMatrix::zeros(4, 2).as_view(), y.as_view())
            .unwrap_err();
        assert!(matches!(
            err,
            Error::DataShape {
                what: "inputs",
                expected: 3,
                got: 4
            }
        ));
        let err = net
            .check_batch(x.as_view(), DMatrix::zeros(2, 3).as_view())
            .unwrap_err();
        assert!(matches!(
            err,
            Error::SampleCount {
                inputs: 2,
                targets: 3
            }
        ));
        let mut bad = y.clone();
        bad[(0, 1)] = f64::INFINITY;
        let err = net.check_batch(x.as_view(), bad.as_view()).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteData {
                what: "target",
                row: 0,
                sample: 1,
                ..
            }
        ));
    }
}
