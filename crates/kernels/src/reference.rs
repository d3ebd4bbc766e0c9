//! The three matrix products of the batched step, on column-major slices, allocation-free.
//!
//! | product | used for |
//! |---|---|
//! | C = A B | Z_{i+1} = W_i A_i |
//! | C = Aᵀ B | W_iᵀ Δ_{i+1} |
//! | C = A Bᵀ | ∂E/∂W_i = Δ_{i+1} A_iᵀ |
//! | C = Aᵀ Bᵀ | (for completeness of [`crate::Product`]) |
//!
//! These are plain loops ordered for column-major storage (the innermost loop runs down a
//! column, so it vectorises); they are the reference for any faster kernel.

use crate::Real;

/// C (m × n) = A (m × k) · B (k × n). Column-major; `c` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn gemm_nn<T: Real>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    let (a, b, c) = (&a[..m * k], &b[..k * n], &mut c[..m * n]);
    for j in 0..n {
        let c_j = &mut c[j * m..(j + 1) * m];
        c_j.fill(T::zero());
        for p in 0..k {
            let s = b[j * k + p];
            let a_p = &a[p * m..(p + 1) * m];
            for (c, &a) in c_j.iter_mut().zip(a_p) {
                *c += a * s;
            }
        }
    }
}

/// C (m × n) = Aᵀ · B with A stored k × m and B k × n. Column-major; `c` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn gemm_tn<T: Real>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    let (a, b, c) = (&a[..m * k], &b[..k * n], &mut c[..m * n]);
    for j in 0..n {
        let b_j = &b[j * k..(j + 1) * k];
        for i in 0..m {
            c[j * m + i] = dot(&a[i * k..(i + 1) * k], b_j);
        }
    }
}

/// C (m × n) = A · Bᵀ with A stored m × k and B n × k. Column-major; `c` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn gemm_nt<T: Real>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    let (a, b, c) = (&a[..m * k], &b[..n * k], &mut c[..m * n]);
    for j in 0..n {
        let c_j = &mut c[j * m..(j + 1) * m];
        c_j.fill(T::zero());
        for p in 0..k {
            let s = b[p * n + j];
            let a_p = &a[p * m..(p + 1) * m];
            for (c, &a) in c_j.iter_mut().zip(a_p) {
                *c += a * s;
            }
        }
    }
}

/// C (m × n) = Aᵀ · Bᵀ with A stored k × m and B n × k. Column-major; `c` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn gemm_tt<T: Real>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    let (a, b, c) = (&a[..m * k], &b[..n * k], &mut c[..m * n]);
    for j in 0..n {
        for i in 0..m {
            let mut s = T::zero();
            for p in 0..k {
                s += a[i * k + p] * b[p * n + j];
            }
            c[j * m + i] = s;
        }
    }
}

/// Σ_p x_p y_p with eight independent partial sums (so the loop vectorises).
fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = x.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += x[c * 8 + l] * y[c * 8 + l];
        }
    }
    let mut s = T::zero();
    for p in chunks * 8..x.len() {
        s += x[p] * y[p];
    }
    for a in acc {
        s += a;
    }
    s
}

/// max |ours − theirs| / max |theirs| (the denominator at least the smallest normal), or +∞
/// when any element of either side is NaN or ±∞ or the lengths differ: `f64::max` would drop a
/// NaN and let a product that wrote NaN pass.
pub fn relative_difference<E: Real>(ours: &[E], theirs: &[E]) -> f64 {
    if ours.len() != theirs.len() {
        return f64::INFINITY;
    }
    let (mut diff, mut scale) = (0.0f64, f64::MIN_POSITIVE);
    for (x, y) in ours.iter().zip(theirs) {
        let (x, y) = (x.widen(), y.widen());
        if !(x.is_finite() && y.is_finite()) {
            return f64::INFINITY;
        }
        diff = diff.max((x - y).abs());
        scale = scale.max(y.abs());
    }
    diff / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DMatrixView};

    /// max |a − b| over the elements, +∞ when either side has a NaN or ±∞ (so that a NaN
    /// result fails the comparison instead of vanishing in a `max`).
    fn max_abs_difference<T: Real>(a: DMatrixView<'_, T>, b: DMatrixView<'_, T>) -> T {
        let mut worst = T::zero();
        for (&x, &y) in a.iter().zip(b.iter()) {
            let d = (x - y).abs();
            if !d.widen().is_finite() {
                return T::narrow(f64::INFINITY);
            }
            worst = worst.max(d);
        }
        worst
    }

    fn check<T: Real>() {
        for &(m, k, n) in &[(1, 1, 1), (3, 4, 5), (17, 9, 2), (8, 16, 8), (2, 33, 7)] {
            let a =
                DMatrix::<T>::from_fn(m, k, |i, j| T::narrow((i * 7 + j * 3) as f64 * 0.1 - 1.0));
            let b =
                DMatrix::<T>::from_fn(k, n, |i, j| T::narrow((i * 5 + j * 11) as f64 * 0.05 - 0.7));
            // Each element is a sum of k products: allow k ulps of the largest magnitude involved.
            let scale = (a.amax() * b.amax()).max(T::one()) * T::narrow(k as f64);
            let tol = T::narrow(4.0) * T::EPS * scale;
            let mut c = vec![T::zero(); m * n];
            gemm_nn(m, k, n, a.as_slice(), b.as_slice(), &mut c);
            assert!(
                max_abs_difference(
                    DMatrix::from_column_slice(m, n, &c).as_view(),
                    (&a * &b).as_view()
                ) < tol
            );
            let at = a.transpose();
            gemm_tn(m, k, n, at.as_slice(), b.as_slice(), &mut c);
            assert!(
                max_abs_difference(
                    DMatrix::from_column_slice(m, n, &c).as_view(),
                    (&a * &b).as_view()
                ) < tol
            );
            let bt = b.transpose();
            gemm_nt(m, k, n, a.as_slice(), bt.as_slice(), &mut c);
            assert!(
                max_abs_difference(
                    DMatrix::from_column_slice(m, n, &c).as_view(),
                    (&a * &b).as_view()
                ) < tol
            );
            gemm_tt(m, k, n, at.as_slice(), bt.as_slice(), &mut c);
            assert!(
                max_abs_difference(
                    DMatrix::from_column_slice(m, n, &c).as_view(),
                    (&a * &b).as_view()
                ) < tol
            );
        }
    }

    #[test]
    fn products_match_nalgebra() {
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn a_nan_or_infinity_on_either_side_is_the_largest_difference() {
        let theirs = [1.0f64, -2.0, 4.0];
        assert_eq!(relative_difference(&[1.0, -2.0, 3.0], &theirs), 0.25);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut ours = theirs;
            ours[1] = bad;
            assert_eq!(relative_difference(&ours, &theirs), f64::INFINITY, "{bad}");
            assert_eq!(relative_difference(&theirs, &ours), f64::INFINITY, "{bad}");
        }
        assert_eq!(
            relative_difference(&[f32::NAN; 3], &[0.0f32; 3]),
            f64::INFINITY
        );
        assert_eq!(relative_difference(&[1.0f64], &theirs), f64::INFINITY);
    }
}
