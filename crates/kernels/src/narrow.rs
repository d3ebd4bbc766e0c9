//! One sample through a layer of at most [`WIDTH`] rows and columns, with loops compiled for
//! the layer's exact shape and σ fused in:
//!
//! ```text
//! forward:   z = W a,  a' = σ(z)                                  (a' for a hidden layer)
//! backward:  d = Wᵀ δ (old W),  W ← W + α δ aᵀ,  d ← σ′ ⊙ d       (σ′ from a = σ(z))
//! ```
//!
//! A one-sample step through the seed's 3-4-5-2 network is about 150 flops in a chain of
//! layers, each waiting for the last; a [`crate::Product`] costs more to describe than that.
//! [`NarrowLayer::new`] picks, once, the functions compiled for (rows, cols) ≤ 8 × 8: their
//! loop bounds are constants, so the compiler unrolls them completely, and where the CPU has
//! AVX2 with FMA they are compiled for it (4 f64 or 8 f32 to a vector, 16 registers; the
//! x86-64 baseline has 2 or 4 and 16 registers, and the unrolled code spills). The sums run
//! over the columns of W in order, one multiply and one add each (no FMA), as
//! [`crate::reference`]. The sigmoid on AVX2 is the vectorised one of [`crate::sigmoid`],
//! applied to z where it is, in registers (one or two vectors); elsewhere, and tanh, the
//! scalar 1 / (1 + e^(−z)) or tanh z per element. σ′ = a (1 − a) or 1 − a² from the
//! activations a = σ(z) the forward pass stored.
//!
//! S1 (3-4-5-2, one sample), f64, one thread, AMD EPYC (Zen 4), alternated with the
//! plain-nalgebra step: 2.08–2.11× nalgebra's speed with the baseline's code and libm's `exp`,
//! 2.20× compiled for AVX2, 2.64–2.74× with the vectorised sigmoid in registers (the host in
//! its slower phase; 2.17–2.19× in its faster one).

use crate::Real;
use crate::product::{Isa, isa};

/// The widest layer these functions take.
pub const WIDTH: usize = 8;

/// A vector of up to [`WIDTH`] values: a layer's a, z, δ or d in its first l_i entries.
pub type Column<T> = [T; WIDTH];

/// The activation a layer applies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// None: the output layer, the input's d, or an activation the caller applies.
    Linear,
    /// σ(z) = 1 / (1 + e^(−z)), σ′ = a (1 − a).
    Sigmoid,
    /// σ(z) = tanh z, σ′ = 1 − a².
    Tanh,
}

/// z = W a and a' = σ(z): (W, a, z, a', σ).
type Forward<T> = fn(&[T], &Column<T>, &mut Column<T>, &mut Column<T>, Fused);
/// d = Wᵀ δ, W ← W + α δ aᵀ, d ← σ′ ⊙ d: (W, δ, a, α, d, σ).
type Backward<T> = fn(&mut [T], &Column<T>, &Column<T>, T, &mut Column<T>, Fused);

/// One layer's functions, for its shape and this CPU.
#[derive(Clone, Copy, Debug)]
pub struct NarrowLayer<T> {
    rows: usize,
    cols: usize,
    forward: Forward<T>,
    backward: Backward<T>,
}

impl<T: Real> NarrowLayer<T> {
    /// The functions for W of `rows` × `cols`, if both are 1..=[`WIDTH`].
    pub fn new(rows: usize, cols: usize) -> Option<Self> {
        Self::new_on(isa(), rows, cols)
    }

    /// [`NarrowLayer::new`] on the kernels of `isa` (supported by this CPU).
    pub(crate) fn new_on(isa: Isa, rows: usize, cols: usize) -> Option<Self> {
        if !(1..=WIDTH).contains(&rows) || !(1..=WIDTH).contains(&cols) {
            return None;
        }
        let (r, c) = (rows - 1, cols - 1);
        #[cfg(x86_kernels)]
        if isa != Isa::Portable {
            // Every instruction set but the portable one has AVX2 and FMA.
            return Some(Self {
                rows,
                cols,
                forward: avx2::forwards::<T>()[r][c],
                backward: avx2::backwards::<T>()[r][c],
            });
        }
        let _ = isa;
        Some(Self {
            rows,
            cols,
            forward: plain::forwards::<T>()[r][c],
            backward: plain::backwards::<T>()[r][c],
        })
    }

    /// (rows, cols) of W.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// z = W a (z's first `rows` entries; the others are left as they are), and a' = σ(z)
    /// (a''s first `rows`) unless [`Fused::Linear`]; a''s other entries are then finite
    /// values that no layer of these reads (the vectorised sigmoid writes whole vectors).
    ///
    /// # Panics
    /// If W holds fewer than rows · cols elements.
    #[inline]
    pub fn forward(
        &self,
        w: &[T],
        a: &Column<T>,
        z: &mut Column<T>,
        next: &mut Column<T>,
        sigma: Fused,
    ) {
        (self.forward)(w, a, z, next, sigma);
    }

    /// d = Wᵀ δ with the old W, W ← W + α δ aᵀ, and then d ← σ′ ⊙ d with σ′ from a unless
    /// [`Fused::Linear`] (d's first `cols` entries; the others are left as they are).
    ///
    /// # Panics
    /// If W holds fewer than rows · cols elements.
    #[inline]
    pub fn backward(
        &self,
        w: &mut [T],
        delta: &Column<T>,
        a: &Column<T>,
        alpha: T,
        d: &mut Column<T>,
        sigma: Fused,
    ) {
        (self.backward)(w, delta, a, alpha, d, sigma);
    }
}

/// z = W a for W of R × C: z_r = Σ_c W_rc a_c over c in order; then a'_r = σ(z_r).
#[inline(always)]
fn forward<T: Real, const R: usize, const C: usize>(
    w: &[T],
    a: &Column<T>,
    z: &mut Column<T>,
    next: &mut Column<T>,
    sigma: Fused,
) {
    let sum = sum::<T, R, C>(w, a);
    z[..R].copy_from_slice(&sum);
    match sigma {
        Fused::Linear => {}
        Fused::Sigmoid => {
            for r in 0..R {
                next[r] = T::one() / (T::one() + (-sum[r]).exp());
            }
        }
        Fused::Tanh => {
            for r in 0..R {
                next[r] = sum[r].tanh();
            }
        }
    }
}

/// W a for W of R × C: Σ_c W_rc a_c over c in order.
#[inline(always)]
fn sum<T: Real, const R: usize, const C: usize>(w: &[T], a: &Column<T>) -> [T; R] {
    let w = &w[..R * C];
    let mut sum = [T::zero(); R];
    for c in 0..C {
        let a_c = a[c];
        for r in 0..R {
            sum[r] += w[c * R + r] * a_c;
        }
    }
    sum
}

/// d = Wᵀ δ with the old W and W ← W + α δ aᵀ in one pass over W (R × C); then
/// d_c ← σ′_c d_c with σ′ from a.
#[inline(always)]
fn backward<T: Real, const R: usize, const C: usize>(
    w: &mut [T],
    delta: &Column<T>,
    a: &Column<T>,
    alpha: T,
    d: &mut Column<T>,
    sigma: Fused,
) {
    let w = &mut w[..R * C];
    let mut dots = [T::zero(); C];
    for c in 0..C {
        let column = &mut w[c * R..(c + 1) * R];
        let mut dot = T::zero();
        for r in 0..R {
            dot += column[r] * delta[r];
        }
        dots[c] = dot;
        let s = alpha * a[c];
        for r in 0..R {
            column[r] += delta[r] * s;
        }
    }
    match sigma {
        Fused::Linear => {}
        Fused::Sigmoid => {
            for c in 0..C {
                dots[c] *= a[c] * (T::one() - a[c]);
            }
        }
        Fused::Tanh => {
            for c in 0..C {
                dots[c] *= T::one() - a[c] * a[c];
            }
        }
    }
    d[..C].copy_from_slice(&dots);
}

/// `[[$f::<T, R, C>; C = 1..=8]; R = 1..=8]` as function pointers of type `$ty`.
macro_rules! table {
    ($f:ident, $ty:ty, [$($r:literal)*], $cs:tt) => {
        [$(table!(@row $f, $ty, $r, $cs)),*]
    };
    (@row $f:ident, $ty:ty, $r:literal, [$($c:literal)*]) => {
        [$($f::<T, $r, $c> as $ty),*]
    };
}

/// The tables of one instruction set: `forwards::<T>()[R − 1][C − 1]` and `backwards`.
macro_rules! tables {
    () => {
        pub(super) fn forwards<T: Real>() -> [[Forward<T>; WIDTH]; WIDTH] {
            table!(forward, Forward<T>, [1 2 3 4 5 6 7 8], [1 2 3 4 5 6 7 8])
        }

        pub(super) fn backwards<T: Real>() -> [[Backward<T>; WIDTH]; WIDTH] {
            table!(backward, Backward<T>, [1 2 3 4 5 6 7 8], [1 2 3 4 5 6 7 8])
        }
    };
}

/// Compiled for the x86-64 baseline, or whatever the target is: the generic functions
/// themselves.
mod plain {
    use super::{Backward, Forward, Real, WIDTH, backward, forward};

    tables!();
}

/// Compiled for AVX2 with FMA (the instructions available, not FMA contraction: the
/// rounding is the baseline's).
#[cfg(x86_kernels)]
mod avx2 {
    use super::{Backward, Column, Forward, Fused, Real, WIDTH};

    #[target_feature(enable = "avx2,fma")]
    fn forward_avx2<T: Real, const R: usize, const C: usize>(
        w: &[T],
        a: &Column<T>,
        z: &mut Column<T>,
        next: &mut Column<T>,
        sigma: Fused,
    ) {
        if sigma == Fused::Sigmoid {
            let sum = super::sum::<T, R, C>(w, a);
            z[..R].copy_from_slice(&sum);
            sigmoid_into::<T, R>(&sum, next);
        } else {
            super::forward::<T, R, C>(w, a, z, next, sigma);
        }
    }

    /// next = σ(sum) by the vectorised sigmoid on the values in registers; the lanes past R
    /// are σ(0).
    #[target_feature(enable = "avx2,fma")]
    fn sigmoid_into<T: Real, const R: usize>(sum: &[T; R], next: &mut Column<T>) {
        use core::any::Any;
        use core::arch::x86_64::*;
        let (s, n): (&dyn Any, &mut dyn Any) = (sum, next);
        if let (Some(s), Some(n)) = (
            s.downcast_ref::<[f64; R]>(),
            n.downcast_mut::<Column<f64>>(),
        ) {
            let mut p = [0.0; WIDTH];
            p[..R].copy_from_slice(s);
            // SAFETY: p and n hold 8 elements; the CPU has AVX2 (this function's features).
            unsafe {
                let v = _mm256_loadu_pd(p.as_ptr());
                _mm256_storeu_pd(n.as_mut_ptr(), crate::simd::sigmoid_f64_avx2::sigmoid_v(v));
                if R > 4 {
                    let v = _mm256_loadu_pd(p.as_ptr().add(4));
                    let a = crate::simd::sigmoid_f64_avx2::sigmoid_v(v);
                    _mm256_storeu_pd(n.as_mut_ptr().add(4), a);
                }
            }
        } else if let (Some(s), Some(n)) = (
            s.downcast_ref::<[f32; R]>(),
            n.downcast_mut::<Column<f32>>(),
        ) {
            let mut p = [0.0; WIDTH];
            p[..R].copy_from_slice(s);
            // SAFETY: as above.
            unsafe {
                let v = _mm256_loadu_ps(p.as_ptr());
                _mm256_storeu_ps(n.as_mut_ptr(), crate::simd::sigmoid_f32_avx2::sigmoid_v(v));
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn backward_avx2<T: Real, const R: usize, const C: usize>(
        w: &mut [T],
        delta: &Column<T>,
        a: &Column<T>,
        alpha: T,
        d: &mut Column<T>,
        sigma: Fused,
    ) {
        super::backward::<T, R, C>(w, delta, a, alpha, d, sigma);
    }

    fn forward<T: Real, const R: usize, const C: usize>(
        w: &[T],
        a: &Column<T>,
        z: &mut Column<T>,
        next: &mut Column<T>,
        sigma: Fused,
    ) {
        // SAFETY: these tables are handed out only where the CPU has AVX2 and FMA
        // (`NarrowLayer::new_on` with an instruction set other than the portable one).
        unsafe { forward_avx2::<T, R, C>(w, a, z, next, sigma) }
    }

    fn backward<T: Real, const R: usize, const C: usize>(
        w: &mut [T],
        delta: &Column<T>,
        a: &Column<T>,
        alpha: T,
        d: &mut Column<T>,
        sigma: Fused,
    ) {
        // SAFETY: as in `forward`.
        unsafe { backward_avx2::<T, R, C>(w, delta, a, alpha, d, sigma) }
    }

    tables!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::testing::{Gen, isas};

    fn close<T: Real>(got: T, want: f64, bound: f64, what: &str) {
        // The same operations in the same order as the reference but for σ: a few units in
        // the last place of the sums' magnitudes and of σ's value.
        let tol = 16.0 * T::EPS.widen() * (bound + 1.0);
        assert!(
            (got.widen() - want).abs() <= tol,
            "{what}: {} against {want} (tolerance {tol:e})",
            got.widen()
        );
    }

    fn every_shape<T: Real>(g: &mut Gen) {
        let name = std::any::type_name::<T>();
        let column = |g: &mut Gen| -> Column<T> { g.vec::<T>(WIDTH).try_into().unwrap() };
        for isa in isas() {
            for rows in 1..=WIDTH {
                for cols in 1..=WIDTH {
                    for sigma in [Fused::Linear, Fused::Sigmoid, Fused::Tanh] {
                        let what = |f: &str| format!("{isa:?} {name} {f} {rows}×{cols} {sigma:?}");
                        let layer = NarrowLayer::<T>::new_on(isa, rows, cols).unwrap();
                        assert_eq!(layer.shape(), (rows, cols));
                        let w = g.vec::<T>(rows * cols);
                        // a as a layer's activations σ(z) ∈ (0, 1).
                        let mut a = column(g);
                        for v in &mut a {
                            *v = T::narrow(0.5 + 0.4 * v.widen());
                        }
                        let (delta, mut z, mut next) = (column(g), column(g), column(g));
                        let (z0, next0) = (z, next);
                        layer.forward(&w, &a, &mut z, &mut next, sigma);
                        let mut want = vec![T::zero(); rows];
                        reference::gemm_nn(rows, cols, 1, &w, &a[..cols], &mut want);
                        for r in 0..rows {
                            let bound: f64 = (0..cols)
                                .map(|c| (w[c * rows + r].widen() * a[c].widen()).abs())
                                .sum();
                            close(z[r], want[r].widen(), bound, &what("z = W a"));
                            let zr = z[r].widen();
                            match sigma {
                                Fused::Linear => assert_eq!(next[r], next0[r]),
                                Fused::Sigmoid => {
                                    close(next[r], 1.0 / (1.0 + (-zr).exp()), 1.0, &what("σ"))
                                }
                                Fused::Tanh => close(next[r], zr.tanh(), 1.0, &what("tanh")),
                            }
                        }
                        assert_eq!(z[rows..], z0[rows..], "{}", what("z past rows"));
                        assert!(
                            next[rows..].iter().all(|v| v.is_finite()),
                            "{}",
                            what("a' past rows")
                        );
                        if sigma == Fused::Linear {
                            assert_eq!(next, next0, "{}", what("a' of a linear layer"));
                        }
                        let (mut updated, mut d) = (w.clone(), column(g));
                        let d0 = d;
                        let alpha = T::narrow(-0.75);
                        layer.backward(&mut updated, &delta, &a, alpha, &mut d, sigma);
                        let mut dots = vec![T::zero(); cols];
                        reference::gemm_tn(cols, rows, 1, &w, &delta[..rows], &mut dots);
                        for c in 0..cols {
                            let bound: f64 = (0..rows)
                                .map(|r| (w[c * rows + r].widen() * delta[r].widen()).abs())
                                .sum();
                            let a_c = a[c].widen();
                            let prime = match sigma {
                                Fused::Linear => 1.0,
                                Fused::Sigmoid => a_c * (1.0 - a_c),
                                Fused::Tanh => 1.0 - a_c * a_c,
                            };
                            close(d[c], dots[c].widen() * prime, bound, &what("d = σ′ ⊙ Wᵀ δ"));
                            for r in 0..rows {
                                let i = c * rows + r;
                                let want = w[i].widen() + alpha.widen() * (delta[r].widen() * a_c);
                                let bound = w[i].widen().abs() + (delta[r].widen() * a_c).abs();
                                close(updated[i], want, bound, &what("W + α δ aᵀ"));
                            }
                        }
                        assert_eq!(d[cols..], d0[cols..], "{}", what("d past cols"));
                    }
                }
            }
        }
    }

    #[test]
    fn narrow_layers_match_the_reference_loops_on_every_shape() {
        let mut g = Gen(47);
        every_shape::<f64>(&mut g);
        every_shape::<f32>(&mut g);
    }

    #[test]
    fn only_shapes_up_to_eight_by_eight_have_narrow_layers() {
        assert!(NarrowLayer::<f64>::new(8, 8).is_some());
        assert!(NarrowLayer::<f32>::new(1, 1).is_some());
        for (rows, cols) in [(0, 3), (3, 0), (9, 1), (1, 9)] {
            assert!(
                NarrowLayer::<f64>::new(rows, cols).is_none(),
                "{rows}×{cols}"
            );
        }
    }

    #[test]
    #[should_panic]
    fn a_short_w_panics() {
        let layer = NarrowLayer::<f64>::new(3, 3).unwrap();
        let mut c = [0.0; WIDTH];
        let mut n = [0.0; WIDTH];
        layer.forward(&[0.0; 8], &[0.0; WIDTH], &mut c, &mut n, Fused::Linear);
    }
}
