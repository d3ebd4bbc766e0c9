//! The sigmoid's element-wise passes of the step, vectorised on AVX-512 and AVX2 and split
//! between a pool's threads when long:
//!
//! ```text
//! A_i = σ(Z_i),  σ(z) = 1 / (1 + e^(−z))                     sigmoid, sigmoid_on
//! Δ_i ← Δ_i ⊙ σ′(Z_i),  σ′(z) = σ(z) (1 − σ(z))               sigmoid_mul_prime(_on)
//! Δ_i ← Δ_i ⊙ A_i ⊙ (1 − A_i)  (σ′ from the stored output)    sigmoid_output_mul_prime(_on)
//! ```
//!
//! Each element is computed alone, so the result is the same bit for bit however a pass is
//! split; the vector σ is tested against the scalar formula.

use crate::pool::ThreadPool;
use crate::product::{Isa, isa};
#[cfg(x86_kernels)]
use crate::simd;
use crate::{Disjoint, Real};
#[cfg(x86_kernels)]
use crate::{cast, cast_mut};

/// a = σ(z) = 1 / (1 + e^(−z)) element-wise (the sigmoid), vectorised where the CPU allows.
///
/// # Panics
/// If `a` is shorter than `z`.
pub fn sigmoid<T: Real>(z: &[T], a: &mut [T]) {
    sigmoid_with(isa(), z, a);
}

/// d ← d ⊙ σ′(z) with σ′(z) = σ(z)(1 − σ(z)) (the sigmoid), vectorised where the CPU allows.
///
/// # Panics
/// If `d` is shorter than `z`.
pub fn sigmoid_mul_prime<T: Real>(z: &[T], d: &mut [T]) {
    sigmoid_mul_prime_with(isa(), z, d);
}

/// d ← d ⊙ σ′(z) for the sigmoid from its output a = σ(z): σ′(z) = a(1 − a), two
/// multiplications and a subtraction per element where [`sigmoid_mul_prime`] evaluates σ(z)
/// again. Where `a` was computed by [`sigmoid`], the result is the same, bit for bit.
///
/// # Panics
/// If `d` is shorter than `a`.
pub fn sigmoid_output_mul_prime<T: Real>(a: &[T], d: &mut [T]) {
    #[cfg(x86_kernels)]
    if isa() != Isa::Portable {
        // SAFETY: AVX2 is there (every instruction set but Plain has it).
        unsafe { output_mul_prime_avx2(a, d) };
        return;
    }
    output_mul_prime(a, d);
}

/// [`sigmoid_output_mul_prime`], split between `pool`'s threads for long slices.
///
/// # Panics
/// If `d` is shorter than `a`.
pub fn sigmoid_output_mul_prime_on<T: Real>(a: &[T], d: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(a, d, pool, sigmoid_output_mul_prime);
}

#[inline(always)]
fn output_mul_prime<T: Real>(a: &[T], d: &mut [T]) {
    let d = &mut d[..a.len()];
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= a * (T::one() - a);
    }
}

/// [`output_mul_prime`] compiled for AVX2 (the loop vectorises 8 f32 / 4 f64 wide).
///
/// # Safety
/// The CPU has AVX2.
#[cfg(x86_kernels)]
#[target_feature(enable = "avx2")]
unsafe fn output_mul_prime_avx2<T: Real>(a: &[T], d: &mut [T]) {
    output_mul_prime(a, d);
}

/// Element-wise passes at least this long are split between a pool's threads.
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// Runs the element-wise `f(z, out)` over `z` and `out[..z.len()]`, in contiguous parts on
/// `pool`'s threads when long enough. Each element is computed alone, so the result is the
/// same bit for bit however it is split.
fn split_elementwise<T: Real>(
    z: &[T],
    out: &mut [T],
    pool: Option<&ThreadPool>,
    f: fn(&[T], &mut [T]),
) {
    let len = z.len();
    let out = &mut out[..len];
    let pool = match pool {
        Some(p) if p.threads() > 1 && len >= PARALLEL_ELEMENTS => p,
        _ => return f(z, out),
    };
    // Parts of whole 64-byte lines, so that no two threads write the same cache line.
    let line = (64 / size_of::<T>()).max(1);
    let part = len.div_ceil(pool.threads()).div_ceil(line) * line;
    let (zp, op) = (Disjoint(z.as_ptr()), Disjoint(out.as_mut_ptr()));
    pool.run(&|t| {
        let start = (t * part).min(len);
        let end = (start + part).min(len);
        // SAFETY: [start, end) lies within both slices (of length len), the parts of
        // different t are disjoint, and `run` returns only when every part is done, while
        // `z` and `out` are still borrowed.
        let (z, out) = unsafe {
            (
                std::slice::from_raw_parts(zp.get().add(start), end - start),
                std::slice::from_raw_parts_mut(op.get().add(start), end - start),
            )
        };
        f(z, out);
    });
}

/// [`sigmoid`], split between `pool`'s threads for long slices.
///
/// # Panics
/// If `a` is shorter than `z`.
pub fn sigmoid_on<T: Real>(z: &[T], a: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(z, a, pool, sigmoid);
}

/// [`sigmoid_mul_prime`], split between `pool`'s threads for long slices.
///
/// # Panics
/// If `d` is shorter than `z`.
pub fn sigmoid_mul_prime_on<T: Real>(z: &[T], d: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(z, d, pool, sigmoid_mul_prime);
}

fn scalar_sigmoid<T: Real>(z: T) -> T {
    T::one() / (T::one() + (-z).exp())
}

macro_rules! sigmoid_dispatch {
    ($name:ident, $f512_64:path, $f2_64:path, $f512_32:path, $f2_32:path, $scalar:expr) => {
        fn $name<T: Real>(isa: Isa, z: &[T], out: &mut [T]) {
            let len = z.len();
            let out = &mut out[..len];
            #[cfg(x86_kernels)]
            if isa != Isa::Portable {
                if let (Some(z), Some(o)) = (cast::<T, f64>(z), cast_mut::<T, f64>(out)) {
                    // SAFETY: `isa` is supported; both slices hold `len` elements.
                    unsafe {
                        if isa == Isa::Avx512 {
                            $f512_64(len, z.as_ptr(), o.as_mut_ptr())
                        } else {
                            $f2_64(len, z.as_ptr(), o.as_mut_ptr())
                        }
                    }
                    return;
                }
                let out: &mut [T] = out;
                if let (Some(z), Some(o)) = (cast::<T, f32>(z), cast_mut::<T, f32>(out)) {
                    // SAFETY: as above.
                    unsafe {
                        if isa == Isa::Avx512 {
                            $f512_32(len, z.as_ptr(), o.as_mut_ptr())
                        } else {
                            $f2_32(len, z.as_ptr(), o.as_mut_ptr())
                        }
                    }
                    return;
                }
            }
            let _ = isa;
            let scalar: fn(T, &mut T) = $scalar;
            for (o, &z) in out.iter_mut().zip(z) {
                scalar(z, o);
            }
        }
    };
}
sigmoid_dispatch!(
    sigmoid_with,
    simd::sigmoid_f64_avx512::sigmoid,
    simd::sigmoid_f64_avx2::sigmoid,
    simd::sigmoid_f32_avx512::sigmoid,
    simd::sigmoid_f32_avx2::sigmoid,
    |z, a| *a = scalar_sigmoid(z)
);
sigmoid_dispatch!(
    sigmoid_mul_prime_with,
    simd::sigmoid_f64_avx512::sigmoid_mul_prime,
    simd::sigmoid_f64_avx2::sigmoid_mul_prime,
    simd::sigmoid_f32_avx512::sigmoid_mul_prime,
    simd::sigmoid_f32_avx2::sigmoid_mul_prime,
    |z, d| {
        let s = scalar_sigmoid(z);
        *d *= s * (T::one() - s)
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Gen, isas};

    #[test]
    fn threaded_sigmoid_passes_equal_the_single_thread_ones_bit_for_bit() {
        let pool = ThreadPool::new(3).unwrap();
        let mut g = Gen(5);
        for len in [
            0,
            7,
            PARALLEL_ELEMENTS - 1,
            PARALLEL_ELEMENTS,
            PARALLEL_ELEMENTS * 3 + 13,
        ] {
            let z: Vec<f64> = (0..len).map(|_| 4.0 * g.next()).collect();
            let (mut a1, mut a3) = (vec![0.0; len + 2], vec![0.0; len + 2]);
            sigmoid_on(&z, &mut a1, None);
            sigmoid_on(&z, &mut a3, Some(&pool));
            assert_eq!(a1, a3, "σ, len {len}");
            let d0: Vec<f64> = (0..len).map(|_| g.next()).collect();
            let (mut d1, mut d3) = (d0.clone(), d0.clone());
            sigmoid_mul_prime_on(&z, &mut d1, None);
            sigmoid_mul_prime_on(&z, &mut d3, Some(&pool));
            assert_eq!(d1, d3, "σ', len {len}");
            if len > 0 {
                assert_ne!(d1, d0, "σ' was applied");
            }
            let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            let (mut b1, mut b3) = (vec![0.0f32; len], vec![0.0f32; len]);
            sigmoid_on(&z32, &mut b1, None);
            sigmoid_on(&z32, &mut b3, Some(&pool));
            assert_eq!(b1, b3, "σ f32, len {len}");
        }
    }

    /// The vector sigmoid against 1 / (1 + e^(−z)) in the same precision: a few units in the
    /// last place where σ is a normal number, and ≤ 1e-300 (f64) / 1e-37 (f32) absolutely in
    /// the far negative tail (where the vector version stops at the smallest normal exponent).
    fn sigmoid_matches_scalar<T: Real>(tail: f64) {
        let mut z: Vec<T> = [
            0.0, -0.0, 1e-10, -1e-10, 0.5, -0.5, 1.0, -3.0, 10.0, -20.0, 30.0, -36.0, 50.0, -80.0,
            86.0, -86.0, 100.0, -100.0, 700.0, -700.0, 708.5, -708.5, 800.0, -800.0,
        ]
        .iter()
        .map(|&v| T::narrow(v))
        .collect();
        let mut g = Gen(5);
        z.extend((0..997).map(|_| T::narrow(g.next() * 40.0)));
        z.extend([T::narrow(f64::INFINITY), T::narrow(f64::NEG_INFINITY)]);
        for isa in isas() {
            for len in [z.len(), z.len() - 3, 5, 1] {
                let z = &z[..len];
                let mut a = vec![T::zero(); len];
                sigmoid_with(isa, z, &mut a);
                let mut d: Vec<T> = (0..len).map(|i| T::narrow(1.0 + i as f64 * 0.01)).collect();
                let d0 = d.clone();
                sigmoid_mul_prime_with(isa, z, &mut d);
                for i in 0..len {
                    let s = scalar_sigmoid(z[i]).widen();
                    let ds = d0[i].widen() * s * (1.0 - s);
                    for (what, got, want) in [("σ", a[i].widen(), s), ("d σ'", d[i].widen(), ds)]
                    {
                        let tol = 8.0 * T::EPS.widen() * want.abs() + tail;
                        assert!(
                            (got - want).abs() <= tol,
                            "{isa:?} {}: {what}({}) = {got}, scalar {want}",
                            std::any::type_name::<T>(),
                            z[i]
                        );
                    }
                }
            }
        }
        let mut a = [T::zero(); 9];
        sigmoid_with(isa(), &[T::narrow(f64::NAN); 9], &mut a);
        assert!(a.iter().all(|v| v.widen().is_nan()), "NaN in, NaN out");
    }

    #[test]
    fn sigmoid_prime_from_the_output_equals_the_one_from_z_bit_for_bit() {
        // a = σ(z) by `sigmoid`, then d ⊙ a(1 − a) against d ⊙ σ'(z) evaluating σ again: the
        // backward pass may use the stored activations only if nothing changes.
        fn check<T: Real>(g: &mut Gen) {
            for len in (0..40).chain([1000, 4099]) {
                let z: Vec<T> = (0..len).map(|_| T::narrow(8.0 * g.next())).collect();
                let d: Vec<T> = (0..len).map(|_| T::narrow(g.next())).collect();
                let mut a = vec![T::zero(); len];
                sigmoid(&z, &mut a);
                let (mut from_z, mut from_a) = (d.clone(), d);
                sigmoid_mul_prime(&z, &mut from_z);
                sigmoid_output_mul_prime(&a, &mut from_a);
                let bits = |v: &[T]| v.iter().map(|x| x.widen().to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&from_z), bits(&from_a), "length {len}");
            }
        }
        check::<f64>(&mut Gen(31));
        check::<f32>(&mut Gen(32));
    }

    #[test]
    fn vector_sigmoid_matches_the_scalar_formula() {
        sigmoid_matches_scalar::<f64>(1e-300);
        sigmoid_matches_scalar::<f32>(1e-37);
    }
}
