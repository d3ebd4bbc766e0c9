//! The three matrix products of the batched step, on column-major slices, allocation-free.
//!
//! | product | used for |
//! |---|---|
//! | C = A B | Z_{i+1} = W_i A_i |
//! | C = Aᵀ B | W_iᵀ Δ_{i+1} |
//! | C = A Bᵀ | ∂E/∂W_i = Δ_{i+1} A_iᵀ |
//!
//! These are plain loops ordered for column-major storage (the innermost loop runs down a
//! column, so it vectorises); they are the reference for any faster kernel.

use crate::scalar::Scalar;

/// C (m × n) = A (m × k) · B (k × n). Column-major; `c` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn gemm_nn<T: Scalar>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
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
pub fn gemm_tn<T: Scalar>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
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
pub fn gemm_nt<T: Scalar>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
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

/// Σ_p x_p y_p with eight independent partial sums (so the loop vectorises).
fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::max_abs_difference;
    use nalgebra::DMatrix;

    fn check<T: Scalar>() {
        for &(m, k, n) in &[(1, 1, 1), (3, 4, 5), (17, 9, 2), (8, 16, 8), (2, 33, 7)] {
            let a =
                DMatrix::<T>::from_fn(m, k, |i, j| T::of_f64((i * 7 + j * 3) as f64 * 0.1 - 1.0));
            let b =
                DMatrix::<T>::from_fn(k, n, |i, j| T::of_f64((i * 5 + j * 11) as f64 * 0.05 - 0.7));
            // Each element is a sum of k products: allow k ulps of the largest magnitude involved.
            let scale = (a.amax() * b.amax()).max(T::one()) * T::of_f64(k as f64);
            let tol = T::of_f64(4.0) * T::EPSILON * scale;
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
        }
    }

    #[test]
    fn products_match_nalgebra() {
        check::<f32>();
        check::<f64>();
    }
}
