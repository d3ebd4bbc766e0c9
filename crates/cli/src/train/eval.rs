//! The per-epoch evaluation: E/N and the accuracy of a network on a whole set, by the same
//! forward pass as [`Network::predict`] (nalgebra's product Z_{i+1} = W_i A_i, then
//! A_{i+1} = σ(Z_{i+1}) through the activation's slice method), into buffers allocated once
//! for the run rather than on every call.
//!
//! The numbers are those of [`Network::predict`] and [`backprop::loss`] bit for bit (the tests
//! below compare them). The core's batched [`backprop::Workspace::forward`] is not used: its
//! matrix products (backprop-kernels) round differently in the last place, and the history
//! CSV prints the losses in full.

use crate::classes::argmax;
use anyhow::Result;
use backprop::{Network, Scalar};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};

/// Evaluates networks of one shape on sets of up to `capacity` samples, each in one forward
/// pass (as `predict` does: chunks would change the rounding, nalgebra multiplying matrices of
/// at most 5 columns by another loop) into buffers allocated once.
pub struct Evaluator<T: Scalar> {
    /// The most samples of a set.
    capacity: usize,
    /// z[i] holds Z_{i+1} (l_{i+1} × capacity, column-major).
    z: Vec<Vec<T>>,
    /// a[i] holds A_{i+1} = σ(Z_{i+1}) for i + 1 = 1..n−1.
    a: Vec<Vec<T>>,
}

impl<T: Scalar> Evaluator<T> {
    /// An evaluator for `net`'s shape and sets of up to `samples` samples. Its buffers hold
    /// Z_1..Z_n and A_1..A_{n−1} of a pass over `samples` samples: less than the forward pass
    /// of that many samples that the plan checks against the memory budget
    /// ([`crate::budget::forward_bytes`]).
    pub fn new(net: &Network<T>, samples: usize) -> Self {
        let sizes = net.sizes();
        let capacity = samples.max(1);
        let n = sizes.len() - 1;
        let buf = |l: usize| vec![T::zero(); l * capacity];
        Self {
            capacity,
            z: sizes[1..=n].iter().map(|&l| buf(l)).collect(),
            a: sizes[1..n].iter().map(|&l| buf(l)).collect(),
        }
    }

    /// Z_n for the samples of `x`, as [`Network::predict`] computes it.
    ///
    /// # Panics
    /// If `x` has more than `capacity` samples.
    fn forward(&mut self, net: &Network<T>, x: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>> {
        net.check_inputs(x)?;
        let (n, b) = (net.depth(), x.ncols());
        assert!(
            b <= self.capacity,
            "{b} samples exceed the evaluator's {}",
            self.capacity
        );
        let hidden = self.a.len();
        for i in 0..n {
            let w = net.weight(i);
            let rows = w.nrows();
            let (before, after) = self.a.split_at_mut(i.min(hidden));
            let mut z = DMatrixViewMut::from_slice(&mut self.z[i][..rows * b], rows, b);
            // Z_{i+1} = W_i A_i: what `W_i * A_i` computes (nalgebra's gemm with β = 0).
            match i {
                0 => z.gemm(T::one(), w, &x, T::zero()),
                _ => {
                    let cols = w.ncols();
                    let input = DMatrixView::from_slice(&before[i - 1][..cols * b], cols, b);
                    z.gemm(T::one(), w, &input, T::zero());
                }
            }
            if i + 1 < n {
                // A_{i+1} = σ(Z_{i+1})
                let len = rows * b;
                net.activation()
                    .apply(&self.z[i][..len], &mut after[0][..len]);
            }
        }
        let outputs = net.outputs();
        Ok(DMatrixView::from_slice(
            &self.z[n - 1][..outputs * b],
            outputs,
            b,
        ))
    }

    /// E/N of `net` on (`x`, `y`) and, when `classify`, the fraction of samples whose largest
    /// output is at their class (their largest target): [`backprop::loss`] of
    /// [`Network::predict`], divided by N.
    ///
    /// # Errors
    /// The forward pass's: non-finite inputs or inputs of another size.
    ///
    /// # Panics
    /// If `x` has more than `capacity` samples.
    pub fn evaluate(
        &mut self,
        net: &Network<T>,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        classify: bool,
    ) -> Result<(f64, Option<f64>)> {
        let n = x.ncols();
        let z = self.forward(net, x.as_view())?;
        let e = backprop::loss(y.as_view(), z).as_f64() / n as f64;
        let acc = classify.then(|| {
            let right = (0..n)
                .filter(|&s| {
                    argmax(z.column(s).iter().copied()) == argmax(y.column(s).iter().copied())
                })
                .count();
            right as f64 / n as f64
        });
        Ok((e, acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backprop::Activation;

    /// The evaluation as it was before [`Evaluator`]: one allocating [`Network::predict`] over
    /// the whole set, then [`backprop::loss`].
    fn reference<T: Scalar>(
        net: &Network<T>,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        classify: bool,
    ) -> (f64, Option<f64>) {
        let z = net.predict(x.as_view()).unwrap();
        let e = backprop::loss(y.as_view(), z.as_view()).as_f64() / x.ncols() as f64;
        let acc = classify.then(|| {
            let right = (0..x.ncols())
                .filter(|&s| {
                    argmax(z.column(s).iter().copied()) == argmax(y.column(s).iter().copied())
                })
                .count();
            right as f64 / x.ncols() as f64
        });
        (e, acc)
    }

    /// A network, inputs and one-hot targets of `n` samples, from `seed`.
    fn case<T: Scalar>(
        sizes: &[usize],
        act: Activation,
        n: usize,
        seed: u64,
    ) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
        let net = Network::<T>::random(sizes, act, seed).unwrap();
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        };
        let x = DMatrix::<T>::from_fn(sizes[0], n, |_, _| T::of_f64(next()));
        let outputs = sizes[sizes.len() - 1];
        let y = DMatrix::<T>::from_fn(outputs, n, |r, c| {
            T::of_f64(if r == c % outputs { 1.0 } else { 0.0 })
        });
        (net, x, y)
    }

    /// The evaluator equals the reference on sets of `n` samples, for every built-in
    /// activation, the evaluator made for `capacity` ≥ n samples.
    fn same_as_predict<T: Scalar>(sizes: &[usize], n: usize, capacity: usize) {
        for (seed, act) in (0..).zip(Activation::ALL) {
            let (net, x, y) = case::<T>(sizes, act, n, seed);
            let mut eval = Evaluator::new(&net, capacity);
            for _ in 0..2 {
                let fast = eval.evaluate(&net, &x, &y, true).unwrap();
                let slow = reference(&net, &x, &y, true);
                let what = format!("{sizes:?} {act} {n} of {capacity}");
                assert_eq!(fast.0.to_bits(), slow.0.to_bits(), "{what}");
                assert_eq!(fast.1, slow.1, "{what}");
                let (l, a) = eval.evaluate(&net, &x, &y, false).unwrap();
                assert_eq!((l.to_bits(), a), (slow.0.to_bits(), None), "{what}");
            }
        }
    }

    #[test]
    fn evaluation_equals_predict_bit_for_bit() {
        // The main job's shape and set sizes, then other shapes and sizes: edge tiles of the
        // product, and sets of at most 5 samples (nalgebra's other product loop).
        same_as_predict::<f64>(&[2, 24, 24, 2], 320, 320);
        same_as_predict::<f32>(&[2, 24, 24, 2], 320, 320);
        same_as_predict::<f64>(&[3, 7, 5], 37, 37);
        same_as_predict::<f64>(&[64, 33, 10], 201, 201);
        same_as_predict::<f32>(&[1, 16, 16, 1], 9, 9);
        same_as_predict::<f64>(&[2, 8, 2], 3, 3);
    }

    #[test]
    fn one_evaluator_serves_sets_of_any_size_up_to_its_capacity() {
        // The test set (80) through the buffers made for the training set (320), as `train`
        // does; and the other way round, a smaller set after a larger one.
        same_as_predict::<f64>(&[2, 24, 24, 2], 80, 320);
        same_as_predict::<f64>(&[2, 24, 24, 2], 4, 320);
        let (net, x, y) = case::<f64>(&[2, 24, 24, 2], Activation::Tanh, 320, 7);
        let (small_x, small_y) = (x.columns(0, 80).into_owned(), y.columns(0, 80).into_owned());
        let mut eval = Evaluator::new(&net, 320);
        let big = eval.evaluate(&net, &x, &y, true).unwrap();
        let small = eval.evaluate(&net, &small_x, &small_y, true).unwrap();
        assert_eq!(big, reference(&net, &x, &y, true));
        assert_eq!(small, reference(&net, &small_x, &small_y, true));
        assert_eq!(eval.evaluate(&net, &x, &y, true).unwrap(), big);
    }

    #[test]
    #[should_panic(expected = "exceed")]
    fn a_set_larger_than_the_capacity_is_a_bug() {
        let (net, x, y) = case::<f64>(&[2, 3, 2], Activation::Tanh, 10, 0);
        let _ = Evaluator::new(&net, 9).evaluate(&net, &x, &y, true);
    }
}
