//! The three products of a one-sample step on a small layer (W is rows × cols, column-major):
//!
//! ```text
//! z = W a               z_{i+1} = W_i a_i
//! d = Wᵀ δ              W_iᵀ δ_{i+1}
//! W ← W + α δ aᵀ        the fused update W_i ← W_i − m δ_{i+1} a_iᵀ
//! ```
//!
//! For the seed's 3-4-5-2 network a [`crate::Product`] costs more to describe and dispatch than
//! its dozen multiply-adds. Here a column of at most two vectors (AVX-512: 16 f64 or 32 f32
//! rows; AVX2: 8 or 16) is one or two vector operations, the last masked to the rows; any
//! other layer, or the portable path, takes plain loops. Every path is tested against
//! [`crate::reference`].

use crate::Real;
use crate::product::{Isa, isa};
#[cfg(x86_kernels)]
use std::any::TypeId;

/// Calls `simd::<module for v>::$kernel::<1 or 2>` (the vectors a column takes) with the f64
/// arguments or the f32 ones.
#[cfg(x86_kernels)]
macro_rules! small_kernel {
    ($v:expr, $kernel:ident, ($($a64:expr),*), ($($a32:expr),*)) => {{
        use crate::simd::{f32_avx2, f32_avx512, f64_avx2, f64_avx512};
        match $v {
            Small::F64Avx512(1) => f64_avx512::$kernel::<1>($($a64),*),
            Small::F64Avx512(_) => f64_avx512::$kernel::<2>($($a64),*),
            Small::F32Avx512(1) => f32_avx512::$kernel::<1>($($a32),*),
            Small::F32Avx512(_) => f32_avx512::$kernel::<2>($($a32),*),
            Small::F64Avx2(1) => f64_avx2::$kernel::<1>($($a64),*),
            Small::F64Avx2(_) => f64_avx2::$kernel::<2>($($a64),*),
            Small::F32Avx2(1) => f32_avx2::$kernel::<1>($($a32),*),
            Small::F32Avx2(_) => f32_avx2::$kernel::<2>($($a32),*),
        }
    }};
}

/// Panics unless W holds rows·cols elements, the input vector `input` ≥ its length and the
/// output `output` ≥ its.
#[inline(always)]
fn check(
    what: &str,
    (w, rows, cols): (usize, usize, usize),
    input: (usize, usize),
    output: (usize, usize),
) {
    assert!(
        w == rows * cols && input.0 >= input.1 && output.0 >= output.1,
        "{what}: W has {w} elements for {rows} × {cols}, the input {} of {}, the output {} of {}",
        input.0,
        input.1,
        output.0,
        output.1
    );
}

/// z (rows) ← W a, with W rows × cols column-major and a (cols).
///
/// # Panics
/// If W does not hold rows·cols elements, a has fewer than cols or z fewer than rows.
#[inline]
pub fn gemv<T: Real>(w: &[T], rows: usize, cols: usize, a: &[T], z: &mut [T]) {
    gemv_on(isa(), w, rows, cols, a, z);
}

/// [`gemv`] on the kernels of `isa` (supported by this CPU).
#[inline(always)]
pub(crate) fn gemv_on<T: Real>(isa: Isa, w: &[T], rows: usize, cols: usize, a: &[T], z: &mut [T]) {
    check(
        "z = W a",
        (w.len(), rows, cols),
        (a.len(), cols),
        (z.len(), rows),
    );
    #[cfg(not(x86_kernels))]
    let _ = isa;
    let (a, z) = (&a[..cols], &mut z[..rows]);
    #[cfg(x86_kernels)]
    if let Some(v) = vectors::<T>(isa, rows) {
        let (wp, ap, zp) = (w.as_ptr(), a.as_ptr(), z.as_mut_ptr());
        // SAFETY: `vectors` checked the CPU and that (v − 1)·LANES < rows ≤ v·LANES; the
        // slices hold rows·cols, cols and rows elements (checked above); T is the cast type.
        unsafe {
            small_kernel!(
                v,
                small_gemv,
                (rows, cols, wp.cast(), ap.cast(), zp.cast()),
                (rows, cols, wp.cast(), ap.cast(), zp.cast())
            );
        }
        return;
    }
    z.fill(T::zero());
    for (column, &a_p) in w.chunks_exact(rows).zip(a) {
        for (z, &w) in z.iter_mut().zip(column) {
            *z += w * a_p;
        }
    }
}

/// d (cols) ← Wᵀ δ, with W rows × cols column-major and δ (rows).
///
/// # Panics
/// If W does not hold rows·cols elements, δ has fewer than rows or d fewer than cols.
#[inline]
pub fn gemv_t<T: Real>(w: &[T], rows: usize, cols: usize, delta: &[T], d: &mut [T]) {
    gemv_t_on(isa(), w, rows, cols, delta, d);
}

/// [`gemv_t`] on the kernels of `isa` (supported by this CPU).
#[inline(always)]
pub(crate) fn gemv_t_on<T: Real>(
    isa: Isa,
    w: &[T],
    rows: usize,
    cols: usize,
    delta: &[T],
    d: &mut [T],
) {
    check(
        "d = Wᵀ δ",
        (w.len(), rows, cols),
        (delta.len(), rows),
        (d.len(), cols),
    );
    #[cfg(not(x86_kernels))]
    let _ = isa;
    let (delta, d) = (&delta[..rows], &mut d[..cols]);
    #[cfg(x86_kernels)]
    if let Some(v) = vectors::<T>(isa, rows) {
        let (wp, xp, dp) = (w.as_ptr(), delta.as_ptr(), d.as_mut_ptr());
        // SAFETY: as in `gemv`, with δ rows and d cols elements.
        unsafe {
            small_kernel!(
                v,
                small_gemv_t,
                (rows, cols, wp.cast(), xp.cast(), dp.cast()),
                (rows, cols, wp.cast(), xp.cast(), dp.cast())
            );
        }
        return;
    }
    for (d, column) in d.iter_mut().zip(w.chunks_exact(rows)) {
        let mut s = T::zero();
        for (&w, &delta) in column.iter().zip(delta) {
            s += w * delta;
        }
        *d = s;
    }
}

/// W ← W + α δ aᵀ, with W rows × cols column-major, δ (rows) and a (cols).
///
/// # Panics
/// If W does not hold rows·cols elements, δ has fewer than rows or a fewer than cols.
#[inline]
pub fn ger<T: Real>(w: &mut [T], rows: usize, cols: usize, alpha: T, delta: &[T], a: &[T]) {
    ger_on(isa(), w, rows, cols, alpha, delta, a);
}

/// [`ger`] on the kernels of `isa` (supported by this CPU).
#[inline(always)]
pub(crate) fn ger_on<T: Real>(
    isa: Isa,
    w: &mut [T],
    rows: usize,
    cols: usize,
    alpha: T,
    delta: &[T],
    a: &[T],
) {
    check(
        "W + α δ aᵀ",
        (w.len(), rows, cols),
        (delta.len(), rows),
        (a.len(), cols),
    );
    #[cfg(not(x86_kernels))]
    let _ = isa;
    let (delta, a) = (&delta[..rows], &a[..cols]);
    #[cfg(x86_kernels)]
    if let Some(v) = vectors::<T>(isa, rows) {
        let (wp, xp, ap) = (w.as_mut_ptr(), delta.as_ptr(), a.as_ptr());
        // f32 → f64 → f32 is exact.
        let al = alpha.widen();
        // SAFETY: as in `gemv`, with δ rows and a cols elements; W is a distinct &mut.
        unsafe {
            small_kernel!(
                v,
                small_ger,
                (rows, cols, al, xp.cast(), ap.cast(), wp.cast()),
                (rows, cols, al as f32, xp.cast(), ap.cast(), wp.cast())
            );
        }
        return;
    }
    for (column, &a_p) in w.chunks_exact_mut(rows).zip(a) {
        let s = alpha * a_p;
        for (w, &delta) in column.iter_mut().zip(delta) {
            *w += delta * s;
        }
    }
}

/// A small kernel and the vectors (1 or 2) a column of W takes.
#[cfg(x86_kernels)]
#[derive(Clone, Copy)]
enum Small {
    F64Avx512(usize),
    F32Avx512(usize),
    F64Avx2(usize),
    F32Avx2(usize),
}

/// The small kernel for T, this CPU and a column of `rows`, if one applies (at most two
/// vectors, not the portable path).
#[cfg(x86_kernels)]
#[inline(always)]
fn vectors<T: Real>(isa: Isa, rows: usize) -> Option<Small> {
    let f64s = TypeId::of::<T>() == TypeId::of::<f64>();
    let lanes = match (isa, f64s) {
        (Isa::Avx512, true) => 8,
        (Isa::Avx512, false) => 16,
        (Isa::Avx2, true) => 4,
        (Isa::Avx2, false) => 8,
        (Isa::Portable, _) => return None,
    };
    if rows == 0 {
        return None;
    }
    let v = rows.div_ceil(lanes);
    if !(1..=2).contains(&v) {
        return None;
    }
    Some(match (isa, f64s) {
        (Isa::Avx512, true) => Small::F64Avx512(v),
        (Isa::Avx512, false) => Small::F32Avx512(v),
        (_, true) => Small::F64Avx2(v),
        (_, false) => Small::F32Avx2(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::testing::{Gen, isas};

    fn close<T: Real>(got: &[T], want: &[T], bound: &[T], k: usize, what: &str) {
        let eps = T::EPS.widen();
        for (i, ((g, w), b)) in got.iter().zip(want).zip(bound).enumerate() {
            let tol = 4.0 * (k as f64 + 2.0) * eps * b.widen() + f64::MIN_POSITIVE;
            assert!(
                (g.widen() - w.widen()).abs() <= tol,
                "{what}: element {i} = {}, reference {} (tolerance {tol:e})",
                g.widen(),
                w.widen()
            );
        }
    }

    fn every_shape<T: Real>(g: &mut Gen) {
        let abs = |v: &[T]| v.iter().map(|x| x.abs()).collect::<Vec<T>>();
        for isa in isas() {
            for rows in 1..=40 {
                for cols in [1, 2, 3, 5, 17] {
                    let name = std::any::type_name::<T>();
                    let what = |f: &str| format!("{isa:?} {name} {f} rows={rows} cols={cols}");
                    let w = g.vec::<T>(rows * cols);
                    let (a, delta) = (g.vec::<T>(cols), g.vec::<T>(rows));
                    // z = W a
                    let (mut z, mut want, mut bound) = (
                        g.vec::<T>(rows),
                        vec![T::zero(); rows],
                        vec![T::zero(); rows],
                    );
                    gemv_on(isa, &w, rows, cols, &a, &mut z);
                    reference::gemm_nn(rows, cols, 1, &w, &a, &mut want);
                    reference::gemm_nn(rows, cols, 1, &abs(&w), &abs(&a), &mut bound);
                    close(&z, &want, &bound, cols, &what("W a"));
                    // d = Wᵀ δ
                    let (mut d, mut want, mut bound) = (
                        g.vec::<T>(cols),
                        vec![T::zero(); cols],
                        vec![T::zero(); cols],
                    );
                    gemv_t_on(isa, &w, rows, cols, &delta, &mut d);
                    reference::gemm_tn(cols, rows, 1, &w, &delta, &mut want);
                    reference::gemm_tn(cols, rows, 1, &abs(&w), &abs(&delta), &mut bound);
                    close(&d, &want, &bound, rows, &what("Wᵀ δ"));
                    // W + α δ aᵀ
                    let alpha = T::narrow(-0.75);
                    let mut updated = w.clone();
                    ger_on(isa, &mut updated, rows, cols, alpha, &delta, &a);
                    let mut outer = vec![T::zero(); rows * cols];
                    reference::gemm_nt(rows, 1, cols, &delta, &a, &mut outer);
                    let want: Vec<T> = w.iter().zip(&outer).map(|(&w, &o)| w + alpha * o).collect();
                    let bound: Vec<T> = w
                        .iter()
                        .zip(&outer)
                        .map(|(&w, &o)| w.abs() + o.abs())
                        .collect();
                    close(&updated, &want, &bound, 1, &what("W + α δ aᵀ"));
                }
            }
        }
    }

    #[test]
    fn small_one_sample_products_match_the_reference_loops() {
        // Rows 1..=40: one and two vectors on every ISA (masked last vector at every
        // remainder) and the plain loops beyond.
        let mut g = Gen(31);
        every_shape::<f64>(&mut g);
        every_shape::<f32>(&mut g);
    }
}
