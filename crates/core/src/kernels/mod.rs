//! Fast kernels for the batched step, chosen at run time by the CPU's features.
//!
//! One entry point, [`product`], computes the three products of the step with a scale α and an
//! optional accumulation:
//!
//! ```text
//! Op::Nn:  C ← α A B   (+ C)     Z_{i+1} = W_i A_i
//! Op::Tn:  C ← α Aᵀ B  (+ C)     W_iᵀ Δ_{i+1}
//! Op::Nt:  C ← α A Bᵀ  (+ C)     ∂E/∂W_i = Δ_{i+1} A_iᵀ, and the fused W_i ← W_i − m Δ_{i+1} A_iᵀ
//! ```
//!
//! all column-major. By shape:
//!
//! | case | kernel |
//! |---|---|
//! | m·k·n < 256 (the seed's 3-4-5-2 network) | plain loops, no set-up cost |
//! | one sample: `Nn`/`Tn` with n = 1 | matrix–vector (`gemv_n`, `gemv_t`) |
//! | one sample: `Nt` with k = 1 | rank-1 update (`ger`) |
//! | otherwise | packed, blocked GEMM with an MR × NR register-tile micro-kernel (module `gemm`), split over the columns (or rows) of C between the threads of a [`ThreadPool`] when it is large |
//!
//! The vector kernels exist for AVX-512F and for AVX2 + FMA (`simd`), for f32 and f64; the
//! instruction set is detected once ([`isa`]); other CPUs and other scalar types take the plain
//! loops. Nothing here allocates after a product of a given size has run once on a thread
//! (the packing buffers are per thread and only grow). Every kernel is tested against the plain
//! reference loops of [`crate::matmul`].

mod gemm;
mod pool;
#[cfg(target_arch = "x86_64")]
mod simd;

pub use pool::ThreadPool;

use crate::scalar::Scalar;
use std::any::TypeId;
use std::sync::OnceLock;

/// The vector instruction set the kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (512-bit vectors, 32 registers).
    Avx512,
    /// AVX2 with FMA (256-bit vectors, 16 registers).
    Avx2,
    /// No vector kernels: the plain loops.
    Plain,
}

/// The instruction set of this CPU, detected once. The environment variable `BACKPROP_ISA`
/// (`plain`, `avx2` or `avx512`) can lower it, e.g. to compare kernels; it cannot raise it above
/// what the CPU supports.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detect();
        match std::env::var("BACKPROP_ISA").as_deref() {
            Ok("plain") => Isa::Plain,
            Ok("avx2") if best != Isa::Plain => Isa::Avx2,
            _ => best,
        }
    })
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
    }
    Isa::Plain
}

/// Which product [`product`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// C = A B with A m × k, B k × n.
    Nn,
    /// C = Aᵀ B with A stored k × m, B k × n.
    Tn,
    /// C = A Bᵀ with A m × k, B stored n × k.
    Nt,
}

/// Products smaller than this (m·k·n) take the plain loops.
const TINY: usize = 256;
/// Products with at least this many multiply-adds (m·k·n) are split between threads.
const PARALLEL: usize = 1 << 20;

/// C (m × n) ← α op(A, B) (+ C when `accumulate`), column-major, with the fastest kernel for
/// this CPU, shape and scalar type; split between `pool`'s threads when large.
///
/// # Panics
/// If a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn product<T: Scalar>(
    op: Op,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    accumulate: bool,
    c: &mut [T],
    pool: Option<&ThreadPool>,
) {
    product_with(isa(), op, m, k, n, alpha, a, b, accumulate, c, pool);
}

/// [`product`] with a given instruction set (which the CPU must support, or `Plain`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn product_with<T: Scalar>(
    isa: Isa,
    op: Op,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    accumulate: bool,
    c: &mut [T],
    pool: Option<&ThreadPool>,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "product {op:?}: slices of {}, {}, {} elements for m = {m}, k = {k}, n = {n}",
        a.len(),
        b.len(),
        c.len()
    );
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Plain && m * k * n >= TINY {
        if let (Some(a64), Some(b64)) = (cast::<T, f64>(a), cast::<T, f64>(b)) {
            let c64 = cast_mut::<T, f64>(c).expect("same type as a");
            // SAFETY: `isa` is supported (detected by `isa()` or checked by the caller), the
            // slices hold their shapes (asserted above), and c is a distinct &mut.
            unsafe {
                x86::product_f64(
                    isa,
                    op,
                    m,
                    k,
                    n,
                    alpha.as_f64(),
                    a64,
                    b64,
                    accumulate,
                    c64,
                    pool,
                )
            };
            return;
        }
        if let (Some(a32), Some(b32)) = (cast::<T, f32>(a), cast::<T, f32>(b)) {
            let c32 = cast_mut::<T, f32>(c).expect("same type as a");
            // f32 → f64 → f32 is exact.
            let alpha = alpha.as_f64() as f32;
            // SAFETY: as above.
            unsafe { x86::product_f32(isa, op, m, k, n, alpha, a32, b32, accumulate, c32, pool) };
            return;
        }
    }
    let _ = (isa, pool);
    plain(op, m, k, n, alpha, a, b, accumulate, c);
}

/// a = σ(z) = 1 / (1 + e^(−z)) element-wise (the sigmoid), vectorised where the CPU allows.
///
/// # Panics
/// If `a` is shorter than `z`.
pub fn sigmoid<T: Scalar>(z: &[T], a: &mut [T]) {
    sigmoid_with(isa(), z, a);
}

/// d ← d ⊙ σ'(z) with σ'(z) = σ(z)(1 − σ(z)) (the sigmoid), vectorised where the CPU allows.
///
/// # Panics
/// If `d` is shorter than `z`.
pub fn sigmoid_mul_prime<T: Scalar>(z: &[T], d: &mut [T]) {
    sigmoid_mul_prime_with(isa(), z, d);
}

/// d ← d ⊙ σ'(z) for the sigmoid from its output a = σ(z): σ'(z) = a(1 − a), two
/// multiplications and a subtraction per element where [`sigmoid_mul_prime`] evaluates σ(z)
/// again. Where `a` was computed by [`sigmoid`], the result is the same, bit for bit.
///
/// # Panics
/// If `d` is shorter than `a`.
pub fn sigmoid_output_mul_prime<T: Scalar>(a: &[T], d: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if isa() != Isa::Plain {
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
pub fn sigmoid_output_mul_prime_on<T: Scalar>(a: &[T], d: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(a, d, pool, sigmoid_output_mul_prime);
}

#[inline(always)]
fn output_mul_prime<T: Scalar>(a: &[T], d: &mut [T]) {
    let d = &mut d[..a.len()];
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= a * (T::one() - a);
    }
}

/// [`output_mul_prime`] compiled for AVX2 (the loop vectorises 8 f32 / 4 f64 wide).
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn output_mul_prime_avx2<T: Scalar>(a: &[T], d: &mut [T]) {
    output_mul_prime(a, d);
}

/// Element-wise passes at least this long are split between a pool's threads.
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// A pointer shared with the pool's threads, each of which uses a disjoint range of it.
#[derive(Clone, Copy)]
struct Disjoint<P>(P);
// SAFETY: `split_elementwise` hands each thread a disjoint range of the slices behind it.
unsafe impl<P> Sync for Disjoint<P> {}
// SAFETY: as above.
unsafe impl<P> Send for Disjoint<P> {}
impl<P: Copy> Disjoint<P> {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(self) -> P {
        self.0
    }
}

/// Runs the element-wise `f(z, out)` over `z` and `out[..z.len()]`, in contiguous parts on
/// `pool`'s threads when long enough. Each element is computed alone, so the result is the
/// same bit for bit however it is split.
fn split_elementwise<T: Scalar>(
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
pub fn sigmoid_on<T: Scalar>(z: &[T], a: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(z, a, pool, sigmoid);
}

/// [`sigmoid_mul_prime`], split between `pool`'s threads for long slices.
///
/// # Panics
/// If `d` is shorter than `z`.
pub fn sigmoid_mul_prime_on<T: Scalar>(z: &[T], d: &mut [T], pool: Option<&ThreadPool>) {
    split_elementwise(z, d, pool, sigmoid_mul_prime);
}

fn scalar_sigmoid<T: Scalar>(z: T) -> T {
    T::one() / (T::one() + (-z).exp())
}

macro_rules! sigmoid_dispatch {
    ($name:ident, $f512_64:path, $f2_64:path, $f512_32:path, $f2_32:path, $scalar:expr) => {
        fn $name<T: Scalar>(isa: Isa, z: &[T], out: &mut [T]) {
            let len = z.len();
            let out = &mut out[..len];
            #[cfg(target_arch = "x86_64")]
            if isa != Isa::Plain {
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

/// `s` as a slice of `U` when `T` is `U`.
fn cast<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len()) })
}

/// `s` as a mutable slice of `U` when `T` is `U`.
fn cast_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type; the borrow is moved into the result.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<U>(), s.len()) })
}

/// The plain loops, for every scalar type: column-major, the innermost loop down a column.
#[allow(clippy::too_many_arguments)]
fn plain<T: Scalar>(
    op: Op,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    accumulate: bool,
    c: &mut [T],
) {
    let (a, c) = (&a[..m * k], &mut c[..m * n]);
    if m == 0 {
        return;
    }
    for (j, c_j) in c.chunks_exact_mut(m).enumerate() {
        if !accumulate && op != Op::Tn {
            c_j.fill(T::zero());
        }
        match op {
            Op::Nn | Op::Nt => {
                for (p, a_p) in a.chunks_exact(m).enumerate() {
                    let b_pj = if op == Op::Nn {
                        b[j * k + p]
                    } else {
                        b[p * n + j]
                    };
                    let s = alpha * b_pj;
                    for (c, &a) in c_j.iter_mut().zip(a_p) {
                        *c += a * s;
                    }
                }
            }
            Op::Tn => {
                let b_j = &b[j * k..(j + 1) * k];
                for (i, c) in c_j.iter_mut().enumerate() {
                    let mut s = T::zero();
                    for (&a, &b) in a[i * k..(i + 1) * k].iter().zip(b_j) {
                        s += a * b;
                    }
                    let v = alpha * s;
                    *c = if accumulate { *c + v } else { v };
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::gemm::{self, Micro, Strided};
    use super::simd::{f32_avx2, f32_avx512, f64_avx2, f64_avx512};
    use super::{Isa, Op, PARALLEL, ThreadPool};

    /// A value shared with the pool's threads: raw pointers into the caller's buffers, whose
    /// parts the threads read (A, B) or write disjointly (C).
    #[derive(Clone, Copy)]
    struct Shared<T>(T);
    // SAFETY: see the type's doc; `run_gemm` hands each thread a disjoint block of C.
    unsafe impl<T> Sync for Shared<T> {}
    // SAFETY: as above.
    unsafe impl<T> Send for Shared<T> {}
    impl<T: Copy> Shared<T> {
        fn get(self) -> T {
            self.0
        }
    }

    /// Whether C = A B is better computed as Cᵀ = Bᵀ Aᵀ: when C has fewer rows than columns
    /// and than two micro-tiles, and the swap fills the tiles at least a quarter better. The
    /// output layer's products have 10 rows: C = W_{n−1} A_{n−1} fills 10 of 16 rows of an
    /// AVX2 f32 or f64 tile pair (of 32 / 16 on AVX-512), Cᵀ 10 of 12 columns.
    pub(super) fn transposes<K: Micro>(m: usize, n: usize) -> bool {
        let fill = |len: usize, unit: usize| len as f64 / (len.div_ceil(unit) * unit) as f64;
        m < n.min(2 * K::MR)
            && fill(n, K::MR) * fill(m, K::NR) > 1.25 * fill(m, K::MR) * fill(n, K::NR)
    }

    /// The packed GEMM on one thread, or split over `pool`'s threads along the larger of m and
    /// n (in whole micro-tiles); C (m × n) is column-major, computed as Cᵀ = Bᵀ Aᵀ where
    /// [`transposes`] says so.
    ///
    /// # Safety
    /// As [`gemm::gemm`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_gemm<K: Micro>(
        m: usize,
        n: usize,
        k: usize,
        alpha: K::E,
        a: Strided<K::E>,
        b: Strided<K::E>,
        accumulate: bool,
        c: *mut K::E,
        pool: Option<&ThreadPool>,
    ) {
        // C's element (i, j) is at c[i rsc + j csc].
        let (m, n, a, b, rsc, csc) = if transposes::<K>(m, n) {
            let t = |s: Strided<K::E>| Strided {
                ptr: s.ptr,
                rs: s.cs,
                cs: s.rs,
            };
            (n, m, t(b), t(a), m, 1)
        } else {
            (m, n, a, b, 1, m)
        };
        let threads = pool.map_or(1, ThreadPool::threads);
        let (split_n, unit, len) = if n >= m {
            (true, K::NR, n)
        } else {
            (false, K::MR, m)
        };
        if threads < 2 || m * n * k < PARALLEL || len < 2 * unit {
            // SAFETY: the caller's.
            unsafe { gemm::gemm::<K>(m, n, k, alpha, a, b, accumulate, c, rsc, csc) };
            return;
        }
        let pool = pool.expect("threads ≥ 2");
        let chunk = len.div_ceil(threads).div_ceil(unit) * unit;
        let (a, b, c) = (Shared(a), Shared(b), Shared(c));
        pool.run(&move |t| {
            let start = t * chunk;
            if start >= len {
                return;
            }
            let part = chunk.min(len - start);
            let (a, b, c) = (a.get(), b.get(), c.get());
            // SAFETY: each part is a disjoint block of columns (or rows) of C, and the matching
            // columns of B (or rows of A), all within the caller's extents.
            unsafe {
                if split_n {
                    let b = Strided {
                        ptr: b.ptr.add(start * b.cs),
                        ..b
                    };
                    let c = c.add(start * csc);
                    gemm::gemm::<K>(m, part, k, alpha, a, b, accumulate, c, rsc, csc);
                } else {
                    let a = Strided {
                        ptr: a.ptr.add(start * a.rs),
                        ..a
                    };
                    let c = c.add(start * rsc);
                    gemm::gemm::<K>(part, n, k, alpha, a, b, accumulate, c, rsc, csc);
                }
            }
        });
    }

    macro_rules! product_for {
        ($name:ident, $e:ty, $avx512:ident, $avx2:ident, $g512:ty, $g2:ty) => {
            /// `super::product` for this element type with a vector instruction set.
            ///
            /// # Safety
            /// The CPU supports `isa` (not `Plain`); the slices hold their shapes.
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn $name(
                isa: Isa,
                op: Op,
                m: usize,
                k: usize,
                n: usize,
                alpha: $e,
                a: &[$e],
                b: &[$e],
                accumulate: bool,
                c: &mut [$e],
                pool: Option<&ThreadPool>,
            ) {
                let avx512 = isa == Isa::Avx512;
                let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
                // SAFETY: the caller guarantees the features and the extents; each kernel
                // reads and writes exactly the shapes given.
                unsafe {
                    match op {
                        Op::Nn if n == 1 => {
                            if avx512 {
                                $avx512::gemv_n(m, k, alpha, pa, pb, pc, accumulate)
                            } else {
                                $avx2::gemv_n(m, k, alpha, pa, pb, pc, accumulate)
                            }
                        }
                        Op::Tn if n == 1 => {
                            if avx512 {
                                $avx512::gemv_t(m, k, alpha, pa, pb, pc, accumulate)
                            } else {
                                $avx2::gemv_t(m, k, alpha, pa, pb, pc, accumulate)
                            }
                        }
                        Op::Nt if k == 1 => {
                            if avx512 {
                                $avx512::ger(m, n, alpha, pa, pb, pc, accumulate)
                            } else {
                                $avx2::ger(m, n, alpha, pa, pb, pc, accumulate)
                            }
                        }
                        _ => {
                            let (sa, sb) = match op {
                                Op::Nn => ((1, m), (1, k)),
                                Op::Tn => ((k, 1), (1, k)),
                                Op::Nt => ((1, m), (n, 1)),
                            };
                            let sa = Strided { ptr: pa, rs: sa.0, cs: sa.1 };
                            let sb = Strided { ptr: pb, rs: sb.0, cs: sb.1 };
                            if avx512 {
                                run_gemm::<$g512>(m, n, k, alpha, sa, sb, accumulate, pc, pool)
                            } else {
                                run_gemm::<$g2>(m, n, k, alpha, sa, sb, accumulate, pc, pool)
                            }
                        }
                    }
                }
            }
        };
    }
    product_for!(
        product_f64,
        f64,
        f64_avx512,
        f64_avx2,
        gemm::F64Avx512,
        gemm::F64Avx2
    );
    product_for!(
        product_f32,
        f32,
        f32_avx512,
        f32_avx2,
        gemm::F32Avx512,
        gemm::F32Avx2
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matmul;

    /// The instruction sets this CPU can run, all checked.
    fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Plain];
        match detect() {
            Isa::Avx512 => v.extend([Isa::Avx2, Isa::Avx512]),
            Isa::Avx2 => v.push(Isa::Avx2),
            Isa::Plain => {}
        }
        v
    }

    /// A small deterministic generator (xorshift), values in [−1, 1).
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        fn below(&mut self, n: usize) -> usize {
            ((self.next() + 1.0) / 2.0 * n as f64) as usize % n
        }
        fn vec<T: Scalar>(&mut self, len: usize) -> Vec<T> {
            (0..len).map(|_| T::of_f64(self.next())).collect()
        }
    }

    /// Checks one product against the reference loops: C_ref = α op(A, B) (+ C0), element by
    /// element, to 4 k ε Σ_p |A_ip B_pj| (+ |C0|), the rounding bound of a sum of k products.
    #[allow(clippy::too_many_arguments)]
    fn check_one<T: Scalar>(
        isa: Isa,
        op: Op,
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        accumulate: bool,
        pool: Option<&ThreadPool>,
        g: &mut Gen,
    ) {
        let a = g.vec::<T>(m * k);
        let b = g.vec::<T>(k * n);
        let c0 = g.vec::<T>(m * n);
        let mut reference = vec![T::zero(); m * n];
        let mut bound = vec![T::zero(); m * n];
        let abs = |v: &[T]| v.iter().map(|x| x.abs()).collect::<Vec<T>>();
        type Reference<T> = fn(usize, usize, usize, &[T], &[T], &mut [T]);
        let f: Reference<T> = match op {
            Op::Nn => matmul::gemm_nn,
            Op::Tn => matmul::gemm_tn,
            Op::Nt => matmul::gemm_nt,
        };
        f(m, k, n, &a, &b, &mut reference);
        f(m, k, n, &abs(&a), &abs(&b), &mut bound);
        let alpha_t = T::of_f64(alpha);
        let mut c = c0.clone();
        product_with(isa, op, m, k, n, alpha_t, &a, &b, accumulate, &mut c, pool);
        let eps = T::EPSILON.as_f64();
        for idx in 0..m * n {
            let want =
                alpha * reference[idx].as_f64() + if accumulate { c0[idx].as_f64() } else { 0.0 };
            let tol = 4.0
                * (k as f64 + 2.0)
                * eps
                * (alpha.abs() * bound[idx].as_f64()
                    + if accumulate {
                        c0[idx].as_f64().abs()
                    } else {
                        0.0
                    })
                + f64::MIN_POSITIVE;
            let got = c[idx].as_f64();
            assert!(
                (got - want).abs() <= tol,
                "{isa:?} {op:?} {} m={m} k={k} n={n} α={alpha} acc={accumulate}: C[{}, {}] = {got}, reference {want} (tolerance {tol:e})",
                std::any::type_name::<T>(),
                idx % m,
                idx / m
            );
        }
    }

    fn random_shapes<T: Scalar>(pool: Option<&ThreadPool>, cases: usize, seed: u64) {
        let mut g = Gen(seed);
        for isa in isas() {
            for case in 0..cases {
                // Mostly small odd sizes; some cross the blocks (MC = 384, KC = 256/512).
                let big = case % 8 == 0;
                let dim = |g: &mut Gen, max: usize| 1 + g.below(max);
                let (m, k, n) = if big {
                    (dim(&mut g, 420), dim(&mut g, 560), dim(&mut g, 40))
                } else {
                    (dim(&mut g, 70), dim(&mut g, 70), dim(&mut g, 40))
                };
                for op in [Op::Nn, Op::Tn, Op::Nt] {
                    let alpha = [1.0, -1e-3, 0.75][case % 3];
                    let accumulate = case % 2 == 1;
                    check_one::<T>(isa, op, m, k, n, alpha, accumulate, pool, &mut g);
                    // The batch-1 shapes: matrix–vector and rank-1.
                    check_one::<T>(isa, op, m, k, 1, alpha, accumulate, pool, &mut g);
                    check_one::<T>(isa, op, m, 1, n, alpha, accumulate, pool, &mut g);
                }
            }
        }
    }

    #[test]
    fn every_kernel_matches_the_reference_loops() {
        random_shapes::<f64>(None, 40, 0x1234_5678);
        random_shapes::<f32>(None, 40, 0x8765_4321);
    }

    #[test]
    fn threaded_products_match_the_reference_loops() {
        let pool = ThreadPool::new(3).unwrap();
        let mut g = Gen(99);
        for isa in isas() {
            for &(m, k, n) in &[
                (300, 200, 50),
                (40, 300, 700),
                (129, 257, 130),
                (1000, 3, 400),
            ] {
                for op in [Op::Nn, Op::Tn, Op::Nt] {
                    check_one::<f64>(isa, op, m, k, n, -0.5, true, Some(&pool), &mut g);
                    check_one::<f32>(isa, op, m, k, n, 1.0, false, Some(&pool), &mut g);
                }
            }
        }
    }

    #[test]
    fn ten_row_products_are_computed_transposed_and_match() {
        // The output layer's products (S3, S4: 10 rows) take Cᵀ = Bᵀ Aᵀ, C written through
        // the tile buffer with row stride m; with a pool, split over Cᵀ's rows. Wide ones
        // cross Cᵀ's row blocks (MC = 384) and KC.
        #[cfg(target_arch = "x86_64")]
        {
            use super::gemm::{F32Avx2, F32Avx512, F64Avx2, F64Avx512};
            assert!(x86::transposes::<F64Avx512>(10, 256));
            assert!(x86::transposes::<F32Avx512>(10, 64));
            assert!(x86::transposes::<F64Avx2>(2, 100));
            assert!(x86::transposes::<F64Avx2>(10, 256));
            assert!(x86::transposes::<F32Avx2>(10, 512));
            assert!(!x86::transposes::<F64Avx512>(128, 64));
            assert!(!x86::transposes::<F32Avx512>(10, 5));
        }
        let pool = ThreadPool::new(2).unwrap();
        let mut g = Gen(10);
        for isa in isas() {
            for &(m, k, n) in &[(10, 128, 64), (10, 512, 256), (10, 256, 512), (7, 600, 900)] {
                for op in [Op::Nn, Op::Tn, Op::Nt] {
                    for p in [None, Some(&pool)] {
                        check_one::<f64>(isa, op, m, k, n, -1e-3, true, p, &mut g);
                        check_one::<f32>(isa, op, m, k, n, 1.0, false, p, &mut g);
                    }
                }
            }
        }
    }

    #[test]
    fn long_batch_one_columns_are_streamed_and_match() {
        // Batch-1 products with columns longer than the registers hold (gemv_n and ger read
        // them column by column, gemv_n in blocks of 512 rows): rows across blocks, with a
        // scalar remainder, and k below and above the four columns gemv_n takes at a time.
        let mut g = Gen(21);
        for isa in isas() {
            for &(m, k) in &[(1027, 5), (513, 3), (700, 64), (129, 1), (300, 7)] {
                for accumulate in [false, true] {
                    check_one::<f64>(isa, Op::Nn, m, k, 1, -0.5, accumulate, None, &mut g);
                    check_one::<f32>(isa, Op::Nn, m, k, 1, 1.0, accumulate, None, &mut g);
                    check_one::<f64>(isa, Op::Nt, m, 1, k, 1.0, accumulate, None, &mut g);
                    check_one::<f32>(isa, Op::Nt, m, 1, k, -1e-3, accumulate, None, &mut g);
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn streamed_gemv_equals_the_register_strips_bit_for_bit() {
        // gemv_n_stream keeps each row's FMA chain of gemv_n_rows (columns in order, from
        // zero, α after): the same bits, so the batch-1 step does not depend on m.
        use super::simd::f64_avx2;
        if !(std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma"))
        {
            eprintln!("no AVX2 + FMA: the kernels are not used on this CPU");
            return;
        }
        let mut g = Gen(5);
        for k in [1, 3, 4, 9, 784] {
            let m = 96;
            let a: Vec<f64> = (0..m * k).map(|_| g.next()).collect();
            let x: Vec<f64> = (0..k).map(|_| g.next()).collect();
            let y0: Vec<f64> = (0..m).map(|_| g.next()).collect();
            for accumulate in [false, true] {
                let (mut strips, mut stream) = (y0.clone(), y0.clone());
                // SAFETY: AVX2 + FMA detected; a holds m·k, x k, y m elements; rows 0..32,
                // 32..64, 64..96 are within m.
                unsafe {
                    for i in [0, 32, 64] {
                        let (ai, yi) = (a.as_ptr().add(i), strips.as_mut_ptr().add(i));
                        f64_avx2::gemv_n_rows::<8>(m, k, 0.7, ai, x.as_ptr(), yi, accumulate);
                    }
                    let (ap, yp) = (a.as_ptr(), stream.as_mut_ptr());
                    f64_avx2::gemv_n_stream(m, k, m, 0.7, ap, x.as_ptr(), yp, accumulate);
                }
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&strips),
                    bits(&stream),
                    "k = {k}, accumulate {accumulate}"
                );
            }
        }
    }

    #[test]
    fn wide_products_cross_the_column_blocks() {
        // n > NC = 3072 and k > KC: every blocking loop runs more than once.
        let mut g = Gen(7);
        for isa in isas() {
            check_one::<f64>(isa, Op::Nn, 5, 300, 3100, 1.0, false, None, &mut g);
            check_one::<f32>(isa, Op::Nt, 3, 600, 3100, -2.0, true, None, &mut g);
        }
    }

    #[test]
    fn partial_column_panels_are_written_in_place_and_match() {
        // m a multiple of every MR (so each tile is a full-row one) and n = 1..=25: the last
        // panel of every width below NR (6 on AVX2, 12 on AVX-512) runs its own micro-kernel
        // straight into C; and once with prefetching (m·k·n ≥ 2²⁵).
        let mut g = Gen(26);
        for isa in isas() {
            for n in 1..=25 {
                check_one::<f64>(isa, Op::Nn, 64, 37, n, 1.0, false, None, &mut g);
                check_one::<f32>(isa, Op::Nt, 64, 37, n, -0.5, true, None, &mut g);
            }
            check_one::<f32>(isa, Op::Nn, 1024, 1024, 34, 1.0, true, None, &mut g);
        }
    }

    #[test]
    fn tiles_down_a_column_panel_in_one_call_match() {
        // The full tiles of a column panel go to `micro_panels` in one call, in each of its
        // forms: Ā packed by the first column panel or read packed, B̄ packed or B's columns
        // read in place (k ≥ 64); after the tile that packs B̄ (A Bᵀ with m ≤ 256); with
        // partial rows (m not a multiple of MR) and partial columns after them, tile by tile.
        let mut g = Gen(31);
        for isa in isas() {
            for &(m, k, n) in &[(100, 70, 13), (100, 40, 13), (96, 64, 12), (300, 90, 7)] {
                for op in [Op::Nn, Op::Tn, Op::Nt] {
                    check_one::<f64>(isa, op, m, k, n, -1e-3, true, None, &mut g);
                    check_one::<f32>(isa, op, m, k, n, 1.0, false, None, &mut g);
                }
            }
        }
    }

    #[test]
    fn large_products_prefetch_and_match() {
        // m·k·n ≥ 2²⁵: the AVX2 micro-kernel's prefetching variant (the smaller products of
        // the other tests run the one without), in each op, with a partial MC block and tile.
        let (m, k, n) = (390, 520, 170);
        #[cfg(target_arch = "x86_64")]
        assert!(m * k * n >= super::simd::f64_avx2::PREFETCH_WORK);
        let mut g = Gen(25);
        for isa in isas() {
            check_one::<f64>(isa, Op::Nn, m, k, n, 1.0, false, None, &mut g);
            check_one::<f32>(isa, Op::Tn, m, k, n, -0.5, true, None, &mut g);
            check_one::<f64>(isa, Op::Nt, m, k, n, 2.0, true, None, &mut g);
        }
    }

    #[test]
    fn transposed_a_is_packed_across_its_k_blocks() {
        // Aᵀ B packs A's strided rows PACK_DEPTH k-steps at a time: k just above one block,
        // two whole blocks, and a KC block that ends inside a PACK_DEPTH block; m with a
        // partial MR panel.
        let depth = super::gemm::PACK_DEPTH;
        let mut g = Gen(64);
        for isa in isas() {
            for k in [depth - 1, depth + 1, 2 * depth, 300, 600] {
                check_one::<f64>(isa, Op::Tn, 37, k, 29, -0.5, true, None, &mut g);
                check_one::<f32>(isa, Op::Tn, 45, k, 13, 1.0, false, None, &mut g);
            }
        }
    }

    /// A transposing pack (of a B̄ or an Ā panel).
    #[cfg(target_arch = "x86_64")]
    type Pack<E> = unsafe fn(usize, *const E, usize, *mut E);

    /// Checks a transposing pack of `cols` runs against the element copy
    /// dst[p·cols + j] = b[p + j·ldb], for each kc (leading dimensions above kc), and that it
    /// writes nothing past the panel.
    ///
    /// # Safety
    /// The CPU has the pack's features.
    #[cfg(target_arch = "x86_64")]
    unsafe fn check_transposing_pack<T: Scalar>(
        cols: usize,
        pack: Pack<T>,
        kcs: &[usize],
        g: &mut Gen,
    ) {
        for &kc in kcs {
            let ldb = kc + 5;
            let b: Vec<T> = (0..ldb * cols).map(|_| T::of_f64(g.next())).collect();
            let expected: Vec<T> = (0..kc * cols)
                .map(|i| b[i / cols + (i % cols) * ldb])
                .collect();
            let mut dst = vec![T::of_f64(f64::NAN); kc * cols + 1];
            // SAFETY: the caller's features; b holds `cols` runs of ldb ≥ kc; dst cols·kc (+1).
            unsafe { pack(kc, b.as_ptr(), ldb, dst.as_mut_ptr()) };
            assert_eq!(&dst[..kc * cols], &expected[..], "{cols} runs, kc {kc}");
            assert!(
                dst[kc * cols].as_f64().is_nan(),
                "{cols} runs, kc {kc}: wrote past the panel"
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_b_panel_packing_equals_the_element_copy() {
        // Six columns; k-step counts around the 4 (f64) and 8 (f32) of a transposed block.
        use super::simd::pack_avx2::{COLS, b_col_major_f32, b_col_major_f64};
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2: the packing kernel is not used on this CPU");
            return;
        }
        let kcs = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 256, 301, 512];
        // SAFETY: AVX2 detected.
        unsafe {
            check_transposing_pack::<f64>(COLS, b_col_major_f64, &kcs, &mut Gen(13));
            check_transposing_pack::<f32>(COLS, b_col_major_f32, &kcs, &mut Gen(14));
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_a_panel_packing_from_rows_equals_the_element_copy() {
        // MR rows of Aᵀ (8 f64, 16 f32); k-step counts around the 4 (f64) and 8 (f32) of a
        // transposed block.
        use super::simd::pack_avx2::{a_rows_f32, a_rows_f64};
        use super::simd::{f32_avx2, f64_avx2};
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2: the packing kernel is not used on this CPU");
            return;
        }
        let kcs = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 256, 301, 512];
        // SAFETY: AVX2 detected.
        unsafe {
            check_transposing_pack::<f64>(f64_avx2::MR, a_rows_f64, &kcs, &mut Gen(15));
            check_transposing_pack::<f32>(f32_avx2::MR, a_rows_f32, &kcs, &mut Gen(16));
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn simd_b_panel_packing_equals_the_element_copy() {
        // Twelve columns; k-step counts around the 8 (f64) and 16 (f32) of a transposed block.
        use super::simd::pack_avx512::{COLS, b_col_major_f32, b_col_major_f64};
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512F: the packing kernel is not used on this CPU");
            return;
        }
        let kcs = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 256, 301];
        // SAFETY: AVX-512F detected.
        unsafe {
            check_transposing_pack::<f64>(COLS, b_col_major_f64, &kcs, &mut Gen(12));
            check_transposing_pack::<f32>(COLS, b_col_major_f32, &kcs, &mut Gen(17));
        }
    }

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

    #[test]
    fn empty_inner_dimension_gives_zero_or_keeps_c() {
        for isa in isas() {
            for op in [Op::Nn, Op::Tn, Op::Nt] {
                let mut c = vec![3.0f64; 6 * 50];
                product_with(isa, op, 6, 0, 50, 1.0, &[], &[], true, &mut c, None);
                assert!(c.iter().all(|&v| v == 3.0), "{isa:?} {op:?}");
                product_with(isa, op, 6, 0, 50, 1.0, &[], &[], false, &mut c, None);
                assert!(c.iter().all(|&v| v == 0.0), "{isa:?} {op:?}");
            }
        }
    }

    /// The vector sigmoid against 1 / (1 + e^(−z)) in the same precision: a few units in the
    /// last place where σ is a normal number, and ≤ 1e-300 (f64) / 1e-37 (f32) absolutely in
    /// the far negative tail (where the vector version stops at the smallest normal exponent).
    fn sigmoid_matches_scalar<T: Scalar>(tail: f64) {
        let mut z: Vec<T> = [
            0.0, -0.0, 1e-10, -1e-10, 0.5, -0.5, 1.0, -3.0, 10.0, -20.0, 30.0, -36.0, 50.0, -80.0,
            86.0, -86.0, 100.0, -100.0, 700.0, -700.0, 708.5, -708.5, 800.0, -800.0,
        ]
        .iter()
        .map(|&v| T::of_f64(v))
        .collect();
        let mut g = Gen(5);
        z.extend((0..997).map(|_| T::of_f64(g.next() * 40.0)));
        z.extend([T::of_f64(f64::INFINITY), T::of_f64(f64::NEG_INFINITY)]);
        for isa in isas() {
            for len in [z.len(), z.len() - 3, 5, 1] {
                let z = &z[..len];
                let mut a = vec![T::zero(); len];
                sigmoid_with(isa, z, &mut a);
                let mut d: Vec<T> = (0..len).map(|i| T::of_f64(1.0 + i as f64 * 0.01)).collect();
                let d0 = d.clone();
                sigmoid_mul_prime_with(isa, z, &mut d);
                for i in 0..len {
                    let s = scalar_sigmoid(z[i]).as_f64();
                    let ds = d0[i].as_f64() * s * (1.0 - s);
                    for (what, got, want) in [("σ", a[i].as_f64(), s), ("d σ'", d[i].as_f64(), ds)]
                    {
                        let tol = 8.0 * T::EPSILON.as_f64() * want.abs() + tail;
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
        sigmoid_with(isa(), &[T::of_f64(f64::NAN); 9], &mut a);
        assert!(a.iter().all(|v| !v.finite()), "NaN in, NaN out");
    }

    #[test]
    fn sigmoid_prime_from_the_output_equals_the_one_from_z_bit_for_bit() {
        // a = σ(z) by `sigmoid`, then d ⊙ a(1 − a) against d ⊙ σ'(z) evaluating σ again: the
        // backward pass may use the stored activations only if nothing changes.
        fn check<T: Scalar>(g: &mut Gen) {
            for len in (0..40).chain([1000, 4099]) {
                let z: Vec<T> = (0..len).map(|_| T::of_f64(8.0 * g.next())).collect();
                let d: Vec<T> = (0..len).map(|_| T::of_f64(g.next())).collect();
                let mut a = vec![T::zero(); len];
                sigmoid(&z, &mut a);
                let (mut from_z, mut from_a) = (d.clone(), d);
                sigmoid_mul_prime(&z, &mut from_z);
                sigmoid_output_mul_prime(&a, &mut from_a);
                let bits = |v: &[T]| v.iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>();
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
