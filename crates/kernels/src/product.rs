//! The matrix product C ← α op(A) op(B) (+ C), column-major, on the fastest kernel for the CPU,
//! the shape and the element type.
//!
//! A [`Product`] describes one call: its two [`Operand`]s (each a column-major slice used as
//! itself or transposed), α, whether C is overwritten or accumulated into, and an optional
//! [`ThreadPool`]. The step of a network needs three forms:
//!
//! ```text
//! C ← α A B   (+ C)     Z_{i+1} = W_i A_i
//! C ← α Aᵀ B  (+ C)     W_iᵀ Δ_{i+1}
//! C ← α A Bᵀ  (+ C)     ∂E/∂W_i = Δ_{i+1} A_iᵀ, and the fused W_i ← W_i − m Δ_{i+1} A_iᵀ
//! ```
//!
//! By shape and path ([`Isa`]):
//!
//! | case | kernel |
//! |---|---|
//! | m·k·n < 256 (the seed's 3-4-5-2 network) | plain loops, no set-up cost |
//! | AVX-512 or AVX2: one sample, A B or Aᵀ B with n = 1 | matrix–vector (`gemv_n`, `gemv_t`) |
//! | AVX-512 or AVX2: one sample, A Bᵀ with k = 1 | rank-1 update (`ger`) |
//! | AVX-512 or AVX2: m·k·n ≤ 2¹⁴ (the main job's 2-24-24-2 network in batches of 16) | `small_gemm`: A's columns and B's elements read in place, nothing packed; Aᵀ copied to the stack for Aᵀ B |
//! | AVX-512 or AVX2: otherwise | packed, blocked GEMM with an MR × NR register-tile micro-kernel (module `gemm`) |
//! | portable | `matrixmultiply` (nalgebra's own product, with its SSE/AVX/NEON kernels), operands through their strides |
//! | Aᵀ Bᵀ, any path | plain loops (the step never asks for it) |
//!
//! Large products are split over the columns (or rows) of C between a pool's threads. Nothing
//! here allocates after a product of a given size has run once on a thread (the packing
//! buffers are per thread and only grow). Every path is tested against the plain reference
//! loops of [`crate::reference`].

use crate::Real;
use crate::pool::ThreadPool;
#[cfg(x86_kernels)]
use crate::{cast, cast_mut};
use std::sync::OnceLock;

/// The kernels a product runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// The portable path: `matrixmultiply` for products, plain loops for tiny ones and for the
    /// element-wise passes. Every target; the only path off x86-64, or with the `portable`
    /// feature.
    Portable,
    /// AVX2 with FMA (256-bit vectors, 16 registers), x86-64.
    Avx2,
    /// AVX-512F (512-bit vectors, 32 registers), x86-64.
    Avx512,
}

/// The kernels products run on, detected once: the best this CPU supports (always
/// [`Isa::Portable`] off x86-64 or with the `portable` feature). The environment variable
/// `BACKPROP_ISA` (`portable`, `avx2` or `avx512`) can lower it, e.g. to compare kernels; it
/// cannot raise it above what the CPU supports.
#[inline]
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detect();
        let wanted = match std::env::var("BACKPROP_ISA").as_deref() {
            Ok("portable" | "plain") => Isa::Portable,
            Ok("avx2") => Isa::Avx2,
            _ => best,
        };
        wanted.min(best)
    })
}

/// The best kernels this CPU supports.
pub fn detect() -> Isa {
    #[cfg(x86_kernels)]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// Which of the step's products C = op(A) op(B) is: A and B as stored, or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// C = A B with A m × k, B k × n.
    Nn,
    /// C = Aᵀ B with A stored k × m, B k × n.
    Tn,
    /// C = A Bᵀ with A m × k, B stored n × k.
    Nt,
    /// C = Aᵀ Bᵀ with A stored k × m, B stored n × k.
    Tt,
}

/// One operand of a [`Product`]: a column-major matrix of `rows × cols` elements, used as it is
/// or transposed ([`Operand::t`]).
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a, T> Operand<'a, T> {
    /// The matrix stored column-major in `data`, `rows × cols` (element (i, j) at
    /// `data[i + j rows]`).
    ///
    /// # Panics
    /// If `data` holds fewer than rows · cols elements.
    #[inline(always)]
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        let len = rows.checked_mul(cols).expect("rows · cols overflows usize");
        assert!(
            data.len() >= len,
            "operand of {rows} × {cols} needs {len} elements, the slice has {}",
            data.len()
        );
        Self {
            data: &data[..len],
            rows,
            cols,
            transposed: false,
        }
    }

    /// The transpose: the same storage, read as its transpose.
    #[inline(always)]
    pub fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }

    /// (rows, columns) of the operand as used (transposed when [`Operand::t`] was applied).
    pub fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
}

/// C ← α op(A) op(B) (+ C when accumulating), column-major: one matrix product, described by
/// its operands and options, then run into C with [`Product::run`].
///
/// ```
/// use backprop_kernels::{Operand, Product};
/// // W (2 × 3) times two samples X (3 × 2), then the update W ← W − 0.5 Δ Xᵀ.
/// let w = [1.0, 0.0, 0.0, 1.0, 2.0, -1.0];
/// let x = [1.0, 2.0, 3.0, 0.0, 1.0, 0.0];
/// let mut z = [0.0; 4];
/// Product::new(Operand::new(&w, 2, 3), Operand::new(&x, 3, 2)).run(&mut z);
/// assert_eq!(z, [7.0, -1.0, 0.0, 1.0]);
///
/// let delta = [1.0, 0.0, 0.0, 1.0]; // 2 × 2
/// let mut w2 = w;
/// Product::new(Operand::new(&delta, 2, 2), Operand::new(&x, 3, 2).t())
///     .alpha(-0.5)
///     .accumulate(true)
///     .run(&mut w2);
/// assert_eq!(w2, [0.5, 0.0, -1.0, 0.5, 0.5, -1.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Product<'a, T> {
    a: Operand<'a, T>,
    b: Operand<'a, T>,
    alpha: T,
    accumulate: bool,
    pool: Option<&'a ThreadPool>,
    isa: Option<Isa>,
}

impl<'a, T: Real> Product<'a, T> {
    /// C = op(A) op(B): α = 1, C overwritten, one thread, the kernels of [`isa`].
    ///
    /// # Panics
    /// If op(A)'s columns are not op(B)'s rows.
    #[inline(always)]
    pub fn new(a: Operand<'a, T>, b: Operand<'a, T>) -> Self {
        let ((m, k), (kb, n)) = (a.shape(), b.shape());
        assert!(
            k == kb,
            "product of {m} × {k} and {kb} × {n}: the inner dimensions differ"
        );
        Self {
            a,
            b,
            alpha: T::one(),
            accumulate: false,
            pool: None,
            isa: None,
        }
    }

    /// Scales the product by α.
    #[inline(always)]
    pub fn alpha(self, alpha: T) -> Self {
        Self { alpha, ..self }
    }

    /// `true`: C ← C + α op(A) op(B); `false` (the default): C ← α op(A) op(B), whatever C held
    /// (NaN included).
    #[inline(always)]
    pub fn accumulate(self, accumulate: bool) -> Self {
        Self { accumulate, ..self }
    }

    /// Splits a large product between `pool`'s threads (`None`: the calling thread only).
    #[inline(always)]
    pub fn pool(self, pool: Option<&'a ThreadPool>) -> Self {
        Self { pool, ..self }
    }

    /// Runs on the kernels of `isa` instead of [`isa()`]'s, e.g. to compare them.
    ///
    /// # Panics
    /// In [`Product::run`], if this CPU does not support `isa` (above [`detect`]).
    pub fn isa(self, isa: Isa) -> Self {
        Self {
            isa: Some(isa),
            ..self
        }
    }

    /// (m, k, n): C is m × n, the sum runs over k.
    pub fn shape(&self) -> (usize, usize, usize) {
        let ((m, k), (_, n)) = (self.a.shape(), self.b.shape());
        (m, k, n)
    }

    /// Computes the product into C, column-major m × n (the first m · n elements of `c`).
    ///
    /// # Panics
    /// If `c` holds fewer than m · n elements, or the chosen [`Isa`] is not supported here.
    #[inline(always)]
    pub fn run(self, c: &mut [T]) {
        let (m, k, n) = self.shape();
        assert!(
            c.len() >= m * n,
            "product of {m} × {k} and {k} × {n}: C needs {} elements, the slice has {}",
            m * n,
            c.len()
        );
        let isa = match self.isa {
            Some(isa) => {
                assert!(isa <= detect(), "{isa:?} is not supported by this CPU");
                isa
            }
            None => isa(),
        };
        let op = match (self.a.transposed, self.b.transposed) {
            (false, false) => Op::Nn,
            (true, false) => Op::Tn,
            (false, true) => Op::Nt,
            (true, true) => Op::Tt,
        };
        let (a, b, alpha, acc, pool) = (
            self.a.data,
            self.b.data,
            self.alpha,
            self.accumulate,
            self.pool,
        );
        dispatch(isa, op, (m, k, n), alpha, a, b, acc, &mut c[..m * n], pool);
    }
}

/// Products smaller than this (m·k·n) take the plain loops.
const TINY: usize = 256;
/// Products with at least this many multiply-adds (m·k·n) are split between threads.
const PARALLEL: usize = 1 << 20;

/// The kernel for `isa`, `op`, the shape and the element type.
#[allow(clippy::too_many_arguments)]
fn dispatch<T: Real>(
    isa: Isa,
    op: Op,
    (m, k, n): (usize, usize, usize),
    alpha: T,
    a: &[T],
    b: &[T],
    accumulate: bool,
    c: &mut [T],
    pool: Option<&ThreadPool>,
) {
    if op == Op::Tt || m * k * n < TINY {
        return plain(op, m, k, n, alpha, a, b, accumulate, c);
    }
    #[cfg(x86_kernels)]
    if isa != Isa::Portable {
        if let (Some(a64), Some(b64)) = (cast::<T, f64>(a), cast::<T, f64>(b)) {
            let c64 = cast_mut::<T, f64>(c).expect("same type as a");
            // SAFETY: `isa` is supported (checked in `run`), the slices hold their shapes
            // (checked by `Operand::new` and `run`), and c is a distinct &mut.
            unsafe {
                x86::product_f64(
                    isa,
                    op,
                    m,
                    k,
                    n,
                    alpha.widen(),
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
            let alpha = alpha.widen() as f32;
            // SAFETY: as above.
            unsafe { x86::product_f32(isa, op, m, k, n, alpha, a32, b32, accumulate, c32, pool) };
            return;
        }
    }
    let _ = isa;
    // One sample: W a, Wᵀ δ and the rank-1 update are an axpy or a dot product per column in
    // the plain loops, which the compiler vectorises, where matrixmultiply would pack the whole
    // matrix for one column (S2, 784-128-10 in batches of one, f64: 79.5 → 35.6 µs; for T1's small products the
    // plain loops were 2× slower than matrixmultiply).
    if (n == 1 && op != Op::Nt) || (k == 1 && op == Op::Nt) {
        return plain(op, m, k, n, alpha, a, b, accumulate, c);
    }
    portable::product(op, m, k, n, alpha, a, b, accumulate, c, pool);
}

/// The plain loops, for every scalar type: column-major, the innermost loop down a column.
#[allow(clippy::too_many_arguments)]
fn plain<T: Real>(
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
    if op == Op::Tt {
        return plain_tt(m, k, n, alpha, a, b, accumulate, c);
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
            Op::Tn | Op::Tt => {
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

/// The plain loop for C = α Aᵀ Bᵀ (+ C), A stored k × m, B stored n × k: C_ij = α Σ_p A_pi B_jp.
#[allow(clippy::too_many_arguments)]
#[cold]
fn plain_tt<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    accumulate: bool,
    c: &mut [T],
) {
    for (j, c_j) in c.chunks_exact_mut(m).enumerate() {
        for (i, c) in c_j.iter_mut().enumerate() {
            let mut s = T::zero();
            for (p, &a) in a[i * k..(i + 1) * k].iter().enumerate() {
                s += a * b[j + p * n];
            }
            let v = alpha * s;
            *c = if accumulate { *c + v } else { v };
        }
    }
}

/// The portable path: `matrixmultiply`'s `sgemm`/`dgemm` (the product behind nalgebra's), which
/// reads each operand through a row and a column stride, so that Aᵀ and Bᵀ cost nothing; split
/// over the columns of C between a pool's threads when large.
mod portable {
    use super::{Op, PARALLEL};
    use crate::pool::ThreadPool;
    use crate::{Disjoint, Real};

    /// C ← α op(A) op(B) (+ C) for `op` ≠ `Tt`, with matrixmultiply.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn product<T: Real>(
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
        // Element (i, p) of op(A) at a[i rsa + p csa], (p, j) of op(B) at b[p rsb + j csb].
        let ((rsa, csa), (rsb, csb)) = match op {
            Op::Nn => ((1, m), (1, k)),
            Op::Tn => ((k, 1), (1, k)),
            Op::Nt => ((1, m), (n, 1)),
            Op::Tt => ((k, 1), (n, 1)),
        };
        let threads = pool.map_or(1, ThreadPool::threads);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), Disjoint(c.as_mut_ptr()));
        let (a, b) = (Disjoint(a), Disjoint(b));
        // SAFETY (both calls below): the operands hold op(A) m × k and op(B) k × n at these
        // strides and C m × n column-major (checked by `Product`); each part writes its own
        // columns of C.
        let part = |j0: usize, cols: usize| unsafe {
            gemm(
                m,
                k,
                cols,
                alpha,
                a.get(),
                (rsa, csa),
                b.get().add(j0 * csb),
                (rsb, csb),
                accumulate,
                c.get().add(j0 * m),
            )
        };
        if threads < 2 || m * k * n < PARALLEL || n < 2 * threads {
            return part(0, n);
        }
        let pool = pool.expect("threads ≥ 2");
        let chunk = n.div_ceil(threads);
        pool.run(&|t| {
            let j0 = (t * chunk).min(n);
            let cols = chunk.min(n - j0);
            if cols > 0 {
                part(j0, cols);
            }
        });
    }

    /// One call of `sgemm` or `dgemm` for T.
    ///
    /// # Safety
    /// `a`, `b`, `c` hold m × k, k × n and m × n (column-major) elements at their strides.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm<T: Real>(
        m: usize,
        k: usize,
        n: usize,
        alpha: T,
        a: *const T,
        (rsa, csa): (usize, usize),
        b: *const T,
        (rsb, csb): (usize, usize),
        accumulate: bool,
        c: *mut T,
    ) {
        let s = |x: usize| x as isize;
        let beta = if accumulate { 1.0 } else { 0.0 };
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f64>() {
            // SAFETY: T is f64 (checked above); the caller's extents. With β = 0, dgemm does
            // not read C.
            unsafe {
                matrixmultiply::dgemm(
                    m,
                    k,
                    n,
                    alpha.widen(),
                    a.cast(),
                    s(rsa),
                    s(csa),
                    b.cast(),
                    s(rsb),
                    s(csb),
                    beta,
                    c.cast(),
                    1,
                    s(m),
                )
            }
        } else {
            // SAFETY: T is f32 (`Real` is sealed: f32 or f64); as above.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    alpha.widen() as f32,
                    a.cast(),
                    s(rsa),
                    s(csa),
                    b.cast(),
                    s(rsb),
                    s(csb),
                    beta as f32,
                    c.cast(),
                    1,
                    s(m),
                )
            }
        }
    }
}

#[cfg(x86_kernels)]
mod x86 {
    use super::{Isa, Op, PARALLEL, ThreadPool};
    use crate::Disjoint;
    use crate::gemm::{self, Micro, Strided};
    use crate::simd::{f32_avx2, f32_avx512, f64_avx2, f64_avx512};

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
        // The threads read A and B and write disjoint blocks of C (`Disjoint`'s contract).
        let (a, b, c) = (Disjoint(a), Disjoint(b), Disjoint(c));
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

    /// The largest product (m·k·n) that [`small_product`] takes: T1's 24 × 24 × 16.
    const SMALL_WORK: usize = 1 << 14;
    /// The largest A (m·k) of a small Aᵀ B, copied transposed to the stack (16 KiB of f64).
    const SMALL_A: usize = 2048;

    /// Whether C = op(A) op(B) goes to `simd::*::small_gemm`, straight from the operands:
    /// little work (m·k·n ≤ SMALL_WORK), where the packed GEMM's packing and blocking cost
    /// more than the arithmetic (the main job's 2-24-24-2 network in batches of 16).
    fn small_product(op: Op, m: usize, k: usize, n: usize) -> bool {
        op != Op::Tt
            && m > 0
            && k > 0
            && n > 0
            && m * k * n <= SMALL_WORK
            && (op != Op::Tn || m * k <= SMALL_A)
    }

    /// Whether a small C (m × n) = α A Bᵀ runs faster transposed, as Cᵀ = α B Aᵀ: when A's
    /// m rows fill at most half a vector and B has more, and Cᵀ fits the buffer. T1's W_2
    /// update (m = 2, k = 16, n = 24): 265 → 87 ns.
    pub(super) fn few_rows<E>(avx512: bool, m: usize, n: usize) -> bool {
        let lanes = if avx512 { 64 } else { 32 } / core::mem::size_of::<E>();
        2 * m <= lanes && n > m && m * n <= SMALL_A
    }

    /// Aᵀ (m × k, column-major) into `dst` from A stored k × m.
    ///
    /// # Safety
    /// The CPU has AVX-512F if `avx512`, AVX2 otherwise; a holds k·m elements, dst m·k.
    unsafe fn transpose_f64(avx512: bool, m: usize, k: usize, a: *const f64, dst: *mut f64) {
        // SAFETY: the caller's.
        unsafe {
            if avx512 {
                crate::simd::transpose::f64_avx512(m, k, a, dst);
            } else {
                crate::simd::transpose::f64_avx2(m, k, a, dst);
            }
        }
    }

    /// As [`transpose_f64`] (AVX2's 8 × 8 blocks on both instruction sets).
    ///
    /// # Safety
    /// As [`transpose_f64`].
    unsafe fn transpose_f32(_avx512: bool, m: usize, k: usize, a: *const f32, dst: *mut f32) {
        // SAFETY: the caller's; every instruction set here has AVX2.
        unsafe { crate::simd::transpose::f32_avx2(m, k, a, dst) }
    }

    macro_rules! product_for {
        ($name:ident, $e:ty, $avx512:ident, $avx2:ident, $g512:ty, $g2:ty, $transpose:path) => {
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
                // A copy of Aᵀ or Bᵀ for the small products, written before it is read.
                let mut at = [core::mem::MaybeUninit::<$e>::uninit(); SMALL_A];
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
                        _ if op == Op::Nt
                            && small_product(op, m, k, n)
                            && few_rows::<$e>(avx512, m, n) =>
                        {
                            // C = α A Bᵀ with A's few rows in part of one vector: T = α B Aᵀ
                            // (n × m, B's n rows in whole vectors) into a buffer, then
                            // C ← Tᵀ (+ C). The same FMA chains over p in order and the same
                            // rounding, element by element. (For C = α A B the copy of Bᵀ
                            // this would need costs more than it saves: T1's Z_3, 155 →
                            // 250 ns.)
                            let tp = at.as_mut_ptr().cast::<$e>();
                            let shape = (n, k, m);
                            if avx512 {
                                $avx512::small_gemm(shape, alpha, (pb, n), (pa, m, 1), tp, false)
                            } else {
                                $avx2::small_gemm(shape, alpha, (pb, n), (pa, m, 1), tp, false)
                            }
                            for j in 0..n {
                                for i in 0..m {
                                    // (i, j) of C, (j, i) of T: i + j·m, j + i·n < m·n.
                                    let (ct, tt) = (pc.add(i + j * m), *tp.add(j + i * n));
                                    *ct = if accumulate { *ct + tt } else { tt };
                                }
                            }
                        }
                        _ if small_product(op, m, k, n) => {
                            // Aᵀ as a column-major m × k copy (at most SMALL_A elements),
                            // every element written before the kernel reads it.
                            let a_op = if op == Op::Tn {
                                let atp = at.as_mut_ptr().cast::<$e>();
                                // Column i of the stored A (k elements) is row i of Aᵀ;
                                // m·k ≤ SMALL_A.
                                $transpose(avx512, m, k, pa, atp);
                                (atp.cast_const(), m)
                            } else {
                                (pa, m)
                            };
                            let b_op = match op {
                                Op::Nt => (pb, n, 1),
                                _ => (pb, 1, k),
                            };
                            let shape = (m, k, n);
                            if avx512 {
                                $avx512::small_gemm(shape, alpha, a_op, b_op, pc, accumulate)
                            } else {
                                $avx2::small_gemm(shape, alpha, a_op, b_op, pc, accumulate)
                            }
                        }
                        _ => {
                            let (sa, sb) = match op {
                                Op::Nn => ((1, m), (1, k)),
                                Op::Tn => ((k, 1), (1, k)),
                                Op::Nt => ((1, m), (n, 1)),
                                Op::Tt => ((k, 1), (n, 1)),
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
        gemm::F64Avx2,
        transpose_f64
    );
    product_for!(
        product_f32,
        f32,
        f32_avx512,
        f32_avx2,
        gemm::F32Avx512,
        gemm::F32Avx2,
        transpose_f32
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference as matmul;
    use crate::testing::{Gen, isas};

    /// Checks one product against the reference loops: C_ref = α op(A, B) (+ C0), element by
    /// element, to 4 k ε Σ_p |A_ip B_pj| (+ |C0|), the rounding bound of a sum of k products.
    #[allow(clippy::too_many_arguments)]
    fn product_with<T: Real>(
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
        let a = match op {
            Op::Nn | Op::Nt => Operand::new(a, m, k),
            Op::Tn | Op::Tt => Operand::new(a, k, m).t(),
        };
        let b = match op {
            Op::Nn | Op::Tn => Operand::new(b, k, n),
            Op::Nt | Op::Tt => Operand::new(b, n, k).t(),
        };
        Product::new(a, b)
            .alpha(alpha)
            .accumulate(accumulate)
            .pool(pool)
            .isa(isa)
            .run(c);
    }

    #[allow(clippy::too_many_arguments)]
    fn check_one<T: Real>(
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
            Op::Tt => matmul::gemm_tt,
        };
        f(m, k, n, &a, &b, &mut reference);
        f(m, k, n, &abs(&a), &abs(&b), &mut bound);
        let alpha_t = T::narrow(alpha);
        let mut c = c0.clone();
        product_with(isa, op, m, k, n, alpha_t, &a, &b, accumulate, &mut c, pool);
        let eps = T::EPS.widen();
        for idx in 0..m * n {
            let want =
                alpha * reference[idx].widen() + if accumulate { c0[idx].widen() } else { 0.0 };
            let tol = 4.0
                * (k as f64 + 2.0)
                * eps
                * (alpha.abs() * bound[idx].widen()
                    + if accumulate {
                        c0[idx].widen().abs()
                    } else {
                        0.0
                    })
                + f64::MIN_POSITIVE;
            let got = c[idx].widen();
            assert!(
                (got - want).abs() <= tol,
                "{isa:?} {op:?} {} m={m} k={k} n={n} α={alpha} acc={accumulate}: C[{}, {}] = {got}, reference {want} (tolerance {tol:e})",
                std::any::type_name::<T>(),
                idx % m,
                idx / m
            );
        }
    }

    fn random_shapes<T: Real>(pool: Option<&ThreadPool>, cases: usize, seed: u64) {
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
                for op in [Op::Nn, Op::Tn, Op::Nt, Op::Tt] {
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
    fn small_products_transposed_or_with_a_transposed_copy_match() {
        // Small C = A Bᵀ with few rows is computed as Cᵀ = B Aᵀ (T1's W_2 update: 2 × 16 ×
        // 24); small C = Aᵀ B copies Aᵀ in register blocks (8 × 8 f64 on AVX-512, 4 × 4 on
        // AVX2, 8 × 8 f32) with element-by-element edges: full blocks, edges on either side,
        // and both.
        #[cfg(x86_kernels)]
        {
            assert!(x86::few_rows::<f64>(true, 2, 24));
            assert!(x86::few_rows::<f32>(false, 4, 9));
            assert!(!x86::few_rows::<f64>(false, 3, 24));
            assert!(!x86::few_rows::<f64>(true, 4, 4));
        }
        let mut g = Gen(5);
        for isa in isas() {
            for &(m, k, n) in &[(2, 16, 24), (1, 3, 40), (4, 5, 9), (8, 7, 17), (3, 16, 5)] {
                for accumulate in [false, true] {
                    check_one::<f64>(isa, Op::Nt, m, k, n, -0.25, accumulate, None, &mut g);
                    check_one::<f32>(isa, Op::Nt, m, k, n, 1.0, accumulate, None, &mut g);
                }
            }
            for &(m, k, n) in &[
                (24, 24, 16),
                (24, 2, 16),
                (9, 17, 3),
                (8, 8, 2),
                (16, 5, 4),
                (3, 40, 5),
            ] {
                for accumulate in [false, true] {
                    check_one::<f64>(isa, Op::Tn, m, k, n, 0.5, accumulate, None, &mut g);
                    check_one::<f32>(isa, Op::Tn, m, k, n, -1.0, accumulate, None, &mut g);
                }
            }
        }
    }

    #[test]
    fn one_sample_transposed_products_with_short_columns_match() {
        // y = α Aᵀ x (gemv_t) with k rows of A: under one vector (S2's W_1ᵀ δ_2, k = 10),
        // exactly one or two, and a whole number plus a tail of every length, in the groups
        // of four columns and the single columns after them.
        let mut g = Gen(30);
        for isa in isas() {
            for k in (1..=18).chain([31, 32, 33]) {
                for m in [1, 3, 4, 7, 128] {
                    for accumulate in [false, true] {
                        check_one::<f64>(isa, Op::Tn, m, k, 1, -0.5, accumulate, None, &mut g);
                        check_one::<f32>(isa, Op::Tn, m, k, 1, 1e-3, accumulate, None, &mut g);
                    }
                }
            }
        }
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
                for op in [Op::Nn, Op::Tn, Op::Nt, Op::Tt] {
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
        #[cfg(x86_kernels)]
        {
            use crate::gemm::{F32Avx2, F32Avx512, F64Avx2, F64Avx512};
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
                for op in [Op::Nn, Op::Tn, Op::Nt, Op::Tt] {
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
    #[cfg(x86_kernels)]
    fn streamed_gemv_equals_the_register_strips_bit_for_bit() {
        // gemv_n_stream keeps each row's FMA chain of gemv_n_rows (columns in order, from
        // zero, α after): the same bits, so the batch-1 step does not depend on m.
        use crate::simd::f64_avx2;
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

    /// gemv (A x) and the rank-1 update (C + α x yᵀ) of an m-row matrix placed `offset`
    /// elements past a 64-byte boundary, into fresh outputs.
    fn batch_one_at<T: Real>(
        isa: Isa,
        (m, k): (usize, usize),
        offset: usize,
        (a, x, y, c0): (&[T], &[T], &[T], &[T]),
        // x: k elements are the gemv's vector; its first m, the rank-1 update's column.
        accumulate: bool,
    ) -> (Vec<T>, Vec<T>) {
        let mut store = crate::AlignedVec::<T>::zeros(offset + m * k).unwrap();
        store[offset..].copy_from_slice(a);
        let mut gemv = c0[..m].to_vec();
        Product::new(
            Operand::new(&store[offset..], m, k),
            Operand::new(&x[..k], k, 1),
        )
        .alpha(T::narrow(-0.75))
        .accumulate(accumulate)
        .isa(isa)
        .run(&mut gemv);
        // The rank-1 update writes C in place: C is the matrix at the offset.
        Product::new(Operand::new(&x[..m], m, 1), Operand::new(y, k, 1).t())
            .alpha(T::narrow(1e-3))
            .accumulate(accumulate)
            .isa(isa)
            .run(&mut store[offset..]);
        (gemv, store[offset..].to_vec())
    }

    fn peeled_equals_aligned<T: Real>(g: &mut Gen) {
        let lanes = 64 / std::mem::size_of::<T>();
        for isa in isas() {
            // m · size a multiple of 64 bytes: every column starts at the matrix's offset.
            // 8 and 16 vectors: the register blocks of AVX-512 f32/f64 (S2's 128 rows).
            for m in [lanes, 2 * lanes, 3 * lanes, 128, 8 * lanes, 16 * lanes] {
                for k in [1, 3, 10, 784] {
                    let (a, c0) = (g.vec::<T>(m * k), g.vec::<T>(m * k));
                    let x = g.vec::<T>(m.max(k));
                    let y = g.vec::<T>(k);
                    for accumulate in [false, true] {
                        let aligned = batch_one_at(isa, (m, k), 0, (&a, &x, &y, &c0), accumulate);
                        let bits =
                            |v: &[T]| v.iter().map(|x| x.widen().to_bits()).collect::<Vec<_>>();
                        for offset in 1..lanes {
                            let moved =
                                batch_one_at(isa, (m, k), offset, (&a, &x, &y, &c0), accumulate);
                            let what = format!(
                                "{isa:?} {} m={m} k={k} offset={offset} accumulate={accumulate}",
                                std::any::type_name::<T>()
                            );
                            assert_eq!(bits(&moved.0), bits(&aligned.0), "A x: {what}");
                            assert_eq!(bits(&moved.1), bits(&aligned.1), "C + α x yᵀ: {what}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn batch_one_products_of_misaligned_matrices_equal_the_aligned_bit_for_bit() {
        // A weight matrix from the global allocator may start anywhere (glibc: 16 bytes past
        // a cache line for S2's W_0); gemv_n and ger then peel its columns to aligned vectors
        // (simd::gemv_n_rows_peeled, ger_rows_peeled). Same FMA chains: the same bits as the
        // matrix at a cache-line boundary, whose results the other tests check against the
        // reference loops.
        let mut g = Gen(77);
        peeled_equals_aligned::<f64>(&mut g);
        peeled_equals_aligned::<f32>(&mut g);
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
                for op in [Op::Nn, Op::Tn, Op::Nt, Op::Tt] {
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
        #[cfg(x86_kernels)]
        assert!(m * k * n >= crate::simd::f64_avx2::PREFETCH_WORK);
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
        #[cfg(x86_kernels)]
        let depth = crate::gemm::PACK_DEPTH;
        #[cfg(not(x86_kernels))]
        let depth = 64;
        let mut g = Gen(64);
        for isa in isas() {
            for k in [depth - 1, depth + 1, 2 * depth, 300, 600] {
                check_one::<f64>(isa, Op::Tn, 37, k, 29, -0.5, true, None, &mut g);
                check_one::<f32>(isa, Op::Tn, 45, k, 13, 1.0, false, None, &mut g);
            }
        }
    }

    /// A transposing pack (of a B̄ or an Ā panel).
    #[cfg(x86_kernels)]
    type Pack<E> = unsafe fn(usize, *const E, usize, *mut E);

    /// Checks a transposing pack of `cols` runs against the element copy
    /// dst[p·cols + j] = b[p + j·ldb], for each kc (leading dimensions above kc), and that it
    /// writes nothing past the panel.
    ///
    /// # Safety
    /// The CPU has the pack's features.
    #[cfg(x86_kernels)]
    unsafe fn check_transposing_pack<T: Real>(
        cols: usize,
        pack: Pack<T>,
        kcs: &[usize],
        g: &mut Gen,
    ) {
        for &kc in kcs {
            let ldb = kc + 5;
            let b: Vec<T> = (0..ldb * cols).map(|_| T::narrow(g.next())).collect();
            let expected: Vec<T> = (0..kc * cols)
                .map(|i| b[i / cols + (i % cols) * ldb])
                .collect();
            let mut dst = vec![T::narrow(f64::NAN); kc * cols + 1];
            // SAFETY: the caller's features; b holds `cols` runs of ldb ≥ kc; dst cols·kc (+1).
            unsafe { pack(kc, b.as_ptr(), ldb, dst.as_mut_ptr()) };
            assert_eq!(&dst[..kc * cols], &expected[..], "{cols} runs, kc {kc}");
            assert!(
                dst[kc * cols].widen().is_nan(),
                "{cols} runs, kc {kc}: wrote past the panel"
            );
        }
    }

    #[test]
    #[cfg(x86_kernels)]
    fn avx2_b_panel_packing_equals_the_element_copy() {
        // Six columns; k-step counts around the 4 (f64) and 8 (f32) of a transposed block.
        use crate::simd::pack_avx2::{COLS, b_col_major_f32, b_col_major_f64};
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
    #[cfg(x86_kernels)]
    fn avx2_a_panel_packing_from_rows_equals_the_element_copy() {
        // MR rows of Aᵀ (8 f64, 16 f32); k-step counts around the 4 (f64) and 8 (f32) of a
        // transposed block.
        use crate::simd::pack_avx2::{a_rows_f32, a_rows_f64};
        use crate::simd::{f32_avx2, f64_avx2};
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
    #[cfg(x86_kernels)]
    fn avx512_a_panel_packing_from_rows_equals_the_element_copy() {
        // MR rows of Aᵀ (16 f64, 32 f32); k-step counts around the 8 (f64) and 16 (f32) of a
        // transposed block.
        use crate::simd::pack_avx512::{a_rows_f32, a_rows_f64};
        use crate::simd::{f32_avx512, f64_avx512};
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512F: the packing kernel is not used on this CPU");
            return;
        }
        let kcs = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 256, 301, 512];
        // SAFETY: AVX-512F detected.
        unsafe {
            check_transposing_pack::<f64>(f64_avx512::MR, a_rows_f64, &kcs, &mut Gen(18));
            check_transposing_pack::<f32>(f32_avx512::MR, a_rows_f32, &kcs, &mut Gen(19));
        }
    }

    #[test]
    #[cfg(x86_kernels)]
    fn simd_b_panel_packing_equals_the_element_copy() {
        // Twelve columns; k-step counts around the 8 (f64) and 16 (f32) of a transposed block.
        use crate::simd::pack_avx512::{COLS, b_col_major_f32, b_col_major_f64};
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
    fn empty_inner_dimension_gives_zero_or_keeps_c() {
        for isa in isas() {
            for op in [Op::Nn, Op::Tn, Op::Nt, Op::Tt] {
                let mut c = vec![3.0f64; 6 * 50];
                product_with(isa, op, 6, 0, 50, 1.0, &[], &[], true, &mut c, None);
                assert!(c.iter().all(|&v| v == 3.0), "{isa:?} {op:?}");
                product_with(isa, op, 6, 0, 50, 1.0, &[], &[], false, &mut c, None);
                assert!(c.iter().all(|&v| v == 0.0), "{isa:?} {op:?}");
            }
        }
    }
}
