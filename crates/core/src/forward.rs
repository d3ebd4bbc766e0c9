//! The forward pass: z_{i+1} = W_i a_i, a_i = σ(z_i), output z_n, for one sample or a batch.
//!
//! Derived step by step in the book (`docs/book` in the source repository), chapter
//! "The network and its notation".

use crate::error::Result;
use crate::network::Network;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView, DVector};

/// Everything the forward pass computed: z_1..z_n and a_0..a_{n−1}, one column per sample.
///
/// z_0 and a_n are never used (the seed's convention) and are not stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace<T: Scalar> {
    /// z[i − 1] = z_i for i = 1..n.
    z: Vec<DMatrix<T>>,
    /// a[i] = a_i for i = 0..n−1 (a_0 = x).
    a: Vec<DMatrix<T>>,
}

impl<T: Scalar> Trace<T> {
    /// The number n of weight matrices the trace went through.
    pub fn depth(&self) -> usize {
        self.z.len()
    }

    /// z_i = W_{i−1} a_{i−1}, l_i × B.
    ///
    /// # Panics
    /// If i = 0 (z_0 is never used) or i > n.
    pub fn z(&self, i: usize) -> &DMatrix<T> {
        assert!(
            i >= 1 && i <= self.z.len(),
            "z_{i} is not in a trace of depth {}",
            self.z.len()
        );
        &self.z[i - 1]
    }

    /// a_i: a_0 = x, a_i = σ(z_i) for i = 1..n−1. l_i × B.
    ///
    /// # Panics
    /// If i ≥ n (a_n is never used).
    pub fn a(&self, i: usize) -> &DMatrix<T> {
        assert!(
            i < self.a.len(),
            "a_{i} is not in a trace of depth {}",
            self.a.len()
        );
        &self.a[i]
    }

    /// The output z_n, l_n × B.
    pub fn output(&self) -> &DMatrix<T> {
        &self.z[self.z.len() - 1]
    }
}

impl<T: Scalar> Network<T> {
    /// The forward pass for a batch `x` (l_0 × B, one sample per column), keeping every z_i and
    /// a_i for the backward pass.
    ///
    /// # Errors
    /// [`crate::Error::DataShape`], [`crate::Error::NoSamples`] or
    /// [`crate::Error::NonFiniteData`] for a bad `x`.
    pub fn forward(&self, x: DMatrixView<'_, T>) -> Result<Trace<T>> {
        self.check_inputs(x)?;
        Ok(self.forward_unchecked(x))
    }

    /// The forward pass for one sample x (an l_0 vector).
    ///
    /// # Errors
    /// As [`Network::forward`].
    pub fn forward_sample(&self, x: &DVector<T>) -> Result<Trace<T>> {
        let x = DMatrix::from_column_slice(x.len(), 1, x.as_slice());
        self.forward(x.as_view())
    }

    /// The output z_n for a batch `x` (l_0 × B); l_n × B.
    ///
    /// # Errors
    /// As [`Network::forward`].
    pub fn predict(&self, x: DMatrixView<'_, T>) -> Result<DMatrix<T>> {
        let mut trace = self.forward(x)?;
        Ok(trace.z.pop().expect("a network has at least one layer"))
    }

    pub(crate) fn forward_unchecked(&self, x: DMatrixView<'_, T>) -> Trace<T> {
        let n = self.depth();
        let mut z = Vec::with_capacity(n);
        let mut a: Vec<DMatrix<T>> = Vec::with_capacity(n);
        a.push(x.into_owned());
        for i in 0..n {
            let zi = self.weight(i) * &a[i]; // z_{i+1} = W_i a_i
            if i + 1 < n {
                let mut ai = DMatrix::zeros(zi.nrows(), zi.ncols());
                self.activation().apply(zi.as_slice(), ai.as_mut_slice()); // a_{i+1} = σ(z_{i+1})
                a.push(ai);
            }
            z.push(zi);
        }
        Trace { z, a }
    }
}
