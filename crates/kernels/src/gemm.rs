//! The packed, blocked matrix product C ← α op(A) op(B) (+ C), after Goto and van de Geijn:
//!
//! ```text
//! for jc in steps of NC over the columns of C:
//!   for pc in steps of KC over k:            B̄ ← B[pc.., jc..] packed in NR-column panels (L3)
//!     for ic in steps of MC over the rows:   Ā ← A[ic.., pc..] packed in MR-row panels (L2)
//!       for each NR panel, each MR panel:    micro-kernel on one MR × NR tile of C (L1)
//! ```
//!
//! Where A is column-major and C has at most [`FUSE_N`] columns, Ā is not packed in a pass of
//! its own: the micro-kernels of the first NR panel read A and write Ā as they go; likewise
//! B̄ from a B with contiguous rows by the first MR panel where C has at most [`FUSE_M`] rows.
//!
//! A and B are read through strides (element (i, p) of A at `a[i rsa + p csa]`), so the three
//! products of the step (A B, Aᵀ B, A Bᵀ) are one routine. The packing buffers are per thread
//! and grow only: after the first product of a given size on a thread, none allocates.

use std::cell::RefCell;

use super::simd::{B_COLUMNS, B_PACKED, B_PACKS, Panel};
use std::ops::{Add, Mul};

/// An element type with thread-local packing buffers.
pub(crate) trait Elem:
    Copy + Default + Add<Output = Self> + Mul<Output = Self> + Send + Sync + 'static
{
    /// Runs `f` with this thread's packing buffer of at least `len` elements.
    fn with_pack<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

thread_local! {
    static PACK_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    static PACK_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

macro_rules! elem {
    ($t:ty, $tls:ident) => {
        impl Elem for $t {
            fn with_pack<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                $tls.with(|cell| {
                    let mut buf = cell.borrow_mut();
                    if buf.len() < len {
                        buf.resize(len, 0.0);
                    }
                    f(&mut buf[..len])
                })
            }
        }
    };
}
elem!(f64, PACK_F64);
elem!(f32, PACK_F32);

/// A micro-kernel with its tile and block sizes.
pub(crate) trait Micro {
    type E: Elem;
    const MR: usize;
    const NR: usize;
    /// Depth of a block (Ā panel MR × KC and B̄ panel KC × NR stay in L1 together).
    const KC: usize;
    /// Rows of a block of A (Ā, MC × KC, stays in L2).
    const MC: usize;
    /// Columns of a block of B (B̄, KC × NC).
    const NC: usize;
    /// The work m·k·n from which a product runs `micro::<true>` (with software prefetches).
    const PREFETCH_WORK: usize;
    /// Packs one full Ā panel (MR rows) from a column-major A, dst[p·MR + i] = a[i + p·lda],
    /// with the micro-kernel's vector moves.
    ///
    /// # Safety
    /// The CPU supports the micro-kernel; a holds MR rows of kc columns at stride lda; dst
    /// holds MR·kc elements.
    unsafe fn pack_a_col_major(kc: usize, a: *const Self::E, lda: usize, dst: *mut Self::E);
    /// Packs one full B̄ panel (NR columns) from a B with contiguous rows, dst[p·NR + j] =
    /// b[p·ldb + j], with fixed-size copies.
    ///
    /// # Safety
    /// The CPU supports the micro-kernel; b holds kc rows of NR elements at stride ldb; dst
    /// holds NR·kc elements.
    unsafe fn pack_b_row_major(kc: usize, b: *const Self::E, ldb: usize, dst: *mut Self::E);
    /// Packs one full B̄ panel (NR columns) from a column-major B, dst[p·NR + j] = b[p + j·ldb]
    /// for p < kc, with a SIMD kernel; false (and nothing written) where there is none, and
    /// the caller copies element by element.
    ///
    /// # Safety
    /// The CPU supports the micro-kernel; b holds NR columns of kc elements at stride ldb;
    /// dst holds NR·kc elements.
    unsafe fn pack_b_col_major(
        _kc: usize,
        _b: *const Self::E,
        _ldb: usize,
        _dst: *mut Self::E,
    ) -> bool {
        false
    }
    /// Packs one full Ā panel (MR rows) from an A whose rows are contiguous (Aᵀ in Aᵀ B),
    /// dst[p·MR + i] = a[p + i·lda] for p < kc, with a SIMD kernel; false (and nothing
    /// written) where there is none, and the caller copies element by element.
    ///
    /// # Safety
    /// The CPU supports the micro-kernel; a holds MR rows of kc elements at stride lda; dst
    /// holds MR·kc elements.
    unsafe fn pack_a_row_major(
        _kc: usize,
        _a: *const Self::E,
        _lda: usize,
        _dst: *mut Self::E,
    ) -> bool {
        false
    }
    /// `simd::*::micro_panels` for columns 0..cols (1 ≤ cols ≤ NR) of `panels` tiles down one
    /// column panel of C (one tile: `simd::*::micro`), packing Ā's panels if PACK_A and
    /// reading B as B says (`simd::B_*`; cols = NR and one tile if it packs B̄).
    ///
    /// # Safety
    /// As `simd::*::micro_panels`, with N = cols.
    #[allow(clippy::too_many_arguments)]
    unsafe fn micro_panels<const PREFETCH: bool, const PACK_A: bool, const B: u8>(
        cols: usize,
        panels: usize,
        kc: usize,
        a: Panel<Self::E>,
        b: Panel<Self::E>,
        c: *mut Self::E,
        ldc: usize,
        alpha: Self::E,
        accumulate: bool,
    );
}

macro_rules! micro {
    ($name:ident, $module:ident, $e:ty, kc = $kc:expr, mc = $mc:expr, nc = $nc:expr,
     edges = [$($edge:literal),*]
     $(, pack_b = $packs:ident::$pack:ident)? $(, pack_a = $packas:ident::$packa:ident)?) => {
        pub(crate) struct $name;
        impl Micro for $name {
            type E = $e;
            const MR: usize = super::simd::$module::MR;
            const NR: usize = super::simd::$module::NR;
            const KC: usize = $kc;
            const MC: usize = $mc;
            const NC: usize = $nc;
            const PREFETCH_WORK: usize = super::simd::$module::PREFETCH_WORK;
            #[inline(always)]
            unsafe fn micro_panels<const PREFETCH: bool, const PACK_A: bool, const B: u8>(
                cols: usize,
                panels: usize,
                kc: usize,
                a: Panel<$e>,
                b: Panel<$e>,
                c: *mut $e,
                ldc: usize,
                alpha: $e,
                accumulate: bool,
            ) {
                use super::simd::$module::{micro_panels, NR};
                // SAFETY: forwarded contract, with N = cols.
                unsafe {
                    match cols {
                        // Partial panels: B̄ is packed (a B read in place or packed here
                        // comes in full panels only).
                        $($edge if B == B_PACKED => micro_panels::<PREFETCH, $edge, PACK_A, B_PACKED>(
                            panels, kc, a, b, c, ldc, alpha, accumulate,
                        ),)*
                        _ => {
                            debug_assert_eq!(cols, NR);
                            micro_panels::<PREFETCH, NR, PACK_A, B>(
                                panels, kc, a, b, c, ldc, alpha, accumulate,
                            )
                        }
                    }
                }
            }
            #[inline(always)]
            unsafe fn pack_a_col_major(kc: usize, a: *const $e, lda: usize, dst: *mut $e) {
                // SAFETY: forwarded contract.
                unsafe { super::simd::$module::pack_a_panel(kc, a, lda, dst) }
            }
            #[inline(always)]
            unsafe fn pack_b_row_major(kc: usize, b: *const $e, ldb: usize, dst: *mut $e) {
                // SAFETY: forwarded contract.
                unsafe { super::simd::$module::pack_b_panel(kc, b, ldb, dst) }
            }
            $(
            #[inline(always)]
            unsafe fn pack_b_col_major(kc: usize, b: *const $e, ldb: usize, dst: *mut $e) -> bool {
                const { assert!(super::simd::$packs::COLS == Self::NR) };
                // SAFETY: forwarded contract (this micro-kernel's CPU has the packing's
                // features: AVX-512F, or AVX2).
                unsafe { super::simd::$packs::$pack(kc, b, ldb, dst) };
                true
            }
            )?
            $(
            #[inline(always)]
            unsafe fn pack_a_row_major(kc: usize, a: *const $e, lda: usize, dst: *mut $e) -> bool {
                // SAFETY: forwarded contract (the packing checks at compile time that it
                // writes MR rows, and needs no feature beyond the micro-kernel's).
                unsafe { super::simd::$packas::$packa(kc, a, lda, dst) };
                true
            }
            )?
        }
    };
}
// KC·NR·size ≈ 24 KiB (the B̄ panel in L1 with an Ā panel), MC·KC·size ≈ 0.75 MiB (L2).
micro!(
    F64Avx512,
    f64_avx512,
    f64,
    kc = 256,
    mc = 384,
    nc = 3072,
    edges = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    pack_b = pack_avx512::b_col_major_f64,
    pack_a = pack_avx512::a_rows_f64
);
micro!(
    F32Avx512,
    f32_avx512,
    f32,
    kc = 512,
    mc = 384,
    nc = 3072,
    edges = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    pack_b = pack_avx512::b_col_major_f32,
    pack_a = pack_avx512::a_rows_f32
);
micro!(
    F64Avx2,
    f64_avx2,
    f64,
    kc = 256,
    mc = 384,
    nc = 3072,
    edges = [1, 2, 3, 4, 5],
    pack_b = pack_avx2::b_col_major_f64,
    pack_a = pack_avx2::a_rows_f64
);
micro!(
    F32Avx2,
    f32_avx2,
    f32,
    kc = 512,
    mc = 384,
    nc = 3072,
    edges = [1, 2, 3, 4, 5],
    pack_b = pack_avx2::b_col_major_f32,
    pack_a = pack_avx2::a_rows_f32
);

/// A strided read-only matrix: element (i, j) at `ptr[i rs + j cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<E> {
    pub ptr: *const E,
    pub rs: usize,
    pub cs: usize,
}

impl<E> Strided<E> {
    /// The sub-matrix starting at (i, j).
    ///
    /// # Safety
    /// (i, j) lies within the matrix.
    unsafe fn at(self, i: usize, j: usize) -> Self {
        Self {
            // SAFETY: the caller's.
            ptr: unsafe { self.ptr.add(i * self.rs + j * self.cs) },
            ..self
        }
    }
}

/// k-steps per block when packing strided rows of A (see [`pack_a`]).
pub(crate) const PACK_DEPTH: usize = 64;

/// Packs rows 0..mc, columns 0..kc of `a` into MR-row panels (panel-major, MR elements per
/// column step), padding the last panel's missing rows with zeros.
///
/// # Safety
/// `a` is valid for mc × kc; `dst` holds ⌈mc/MR⌉·MR·kc elements.
unsafe fn pack_a<K: Micro>(mc: usize, kc: usize, a: Strided<K::E>, dst: *mut K::E) {
    type E<K> = <K as Micro>::E;
    let mr = K::MR;
    // SAFETY: indices stay within mc × kc of `a` and the panels of `dst`; the CPU supports K.
    unsafe {
        let mut i0 = 0;
        let mut out = dst;
        while i0 < mc {
            let rows = mr.min(mc - i0);
            if a.rs == 1 && rows == mr {
                K::pack_a_col_major(kc, a.ptr.add(i0), a.cs, out);
            } else if a.rs == 1 {
                for p in 0..kc {
                    let src = a.ptr.add(i0 + p * a.cs);
                    let d = out.add(p * mr);
                    std::ptr::copy_nonoverlapping(src, d, rows);
                    for i in rows..mr {
                        *d.add(i) = E::<K>::default();
                    }
                }
            } else if !(a.cs == 1
                && rows == mr
                && K::pack_a_row_major(kc, a.ptr.add(i0 * a.rs), a.rs, out))
            {
                // A transposed (Aᵀ B, or Bᵀ of a product computed as Cᵀ = Bᵀ Aᵀ): rows of A
                // are strided. Full panels with contiguous rows go to the micro-kernel's
                // transposing pack where it has one (AVX2: Aᵀ B at 0.96× OpenBLAS before, 1.00×
                // after, f32); the rest element by element, in blocks of PACK_DEPTH k-steps,
                // so that the block of the panel being written (PACK_DEPTH · MR elements) stays
                // in L1 while every row fills its column of it; row by row over the whole kc,
                // an f32 panel (32 × 512, 64 KiB) left L1 before the next row came, and Aᵀ B ran
                // 30 % slower than A B.
                let mut p0 = 0;
                while p0 < kc {
                    let p1 = kc.min(p0 + PACK_DEPTH);
                    for i in 0..rows {
                        let src = a.ptr.add((i0 + i) * a.rs);
                        for p in p0..p1 {
                            *out.add(p * mr + i) = *src.add(p * a.cs);
                        }
                    }
                    for i in rows..mr {
                        for p in p0..p1 {
                            *out.add(p * mr + i) = E::<K>::default();
                        }
                    }
                    p0 = p1;
                }
            }
            out = out.add(mr * kc);
            i0 += mr;
        }
    }
}

/// Packs rows 0..kc, columns 0..nc of `b` into NR-column panels (NR elements per row step),
/// padding the last panel's missing columns with zeros.
///
/// # Safety
/// `b` is valid for kc × nc; `dst` holds ⌈nc/NR⌉·NR·kc elements.
unsafe fn pack_b<K: Micro>(kc: usize, nc: usize, b: Strided<K::E>, dst: *mut K::E) {
    type E<K> = <K as Micro>::E;
    let nr = K::NR;
    // SAFETY: indices stay within kc × nc of `b` and the panels of `dst`; the CPU supports K.
    unsafe {
        let mut j0 = 0;
        let mut out = dst;
        while j0 < nc {
            let cols = nr.min(nc - j0);
            if b.cs == 1 && cols == nr {
                K::pack_b_row_major(kc, b.ptr.add(j0), b.rs, out);
            } else if b.cs == 1 {
                for p in 0..kc {
                    let src = b.ptr.add(j0 + p * b.rs);
                    let d = out.add(p * nr);
                    std::ptr::copy_nonoverlapping(src, d, cols);
                    for j in cols..nr {
                        *d.add(j) = E::<K>::default();
                    }
                }
            } else if !(b.rs == 1
                && cols == nr
                && K::pack_b_col_major(kc, b.ptr.add(j0 * b.cs), b.cs, out))
            {
                for j in 0..cols {
                    let src = b.ptr.add((j0 + j) * b.cs);
                    for p in 0..kc {
                        *out.add(p * nr + j) = *src.add(p * b.rs);
                    }
                }
                for j in cols..nr {
                    for p in 0..kc {
                        *out.add(p * nr + j) = E::<K>::default();
                    }
                }
            }
            out = out.add(nr * kc);
            j0 += nr;
        }
    }
}

/// Elements to skip so that `ptr + offset` is 64-byte aligned.
fn align_offset<E>(ptr: *const E) -> usize {
    ptr.align_offset(64).min(64 / size_of::<E>())
}

/// C (m × n, element (i, j) at `c[i rsc + j ldc]`) ← α A B (+ C if `accumulate`) with A m × k
/// and B k × n strided, on this thread. Tiles of a column-major C (rsc = 1) are written by
/// the micro-kernel in place; any other C (the transposed problem of `run_gemm`) through a
/// tile buffer.
///
/// # Safety
/// The CPU supports `K`'s micro-kernel; A, B and C are valid for their extents; C does not
/// overlap A or B.
///
/// The micro-kernel prefetches from `K::PREFETCH_WORK` (m·k·n) on. On the AVX2 host (AMD EPYC,
/// 512 KiB L2; `gemm-vs-blas`, medians of six runs of 15 pairs) prefetching made 1024³
/// products 0.5–2 % faster in every op and dtype, S4's within ±1 %; S3's (m·k·n = 6.4 M) it
/// left 0 to 1.5 % slower, so there the AVX2 kernel does not.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<K: Micro>(
    m: usize,
    n: usize,
    k: usize,
    alpha: K::E,
    a: Strided<K::E>,
    b: Strided<K::E>,
    accumulate: bool,
    c: *mut K::E,
    rsc: usize,
    ldc: usize,
) {
    // SAFETY: the caller's.
    unsafe {
        if m * n * k >= K::PREFETCH_WORK {
            gemm_with::<K, true>(m, n, k, alpha, a, b, accumulate, c, rsc, ldc);
        } else {
            gemm_with::<K, false>(m, n, k, alpha, a, b, accumulate, c, rsc, ldc);
        }
    }
}

/// [`gemm`] with the micro-kernel's prefetching on or off.
///
/// # Safety
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_with<K: Micro, const PREFETCH: bool>(
    m: usize,
    n: usize,
    k: usize,
    alpha: K::E,
    a: Strided<K::E>,
    b: Strided<K::E>,
    accumulate: bool,
    c: *mut K::E,
    rsc: usize,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for j in 0..n {
                for i in 0..m {
                    // SAFETY: (i, j) is within C.
                    unsafe { *c.add(i * rsc + j * ldc) = K::E::default() };
                }
            }
        }
        return;
    }
    let (mr, nr) = (K::MR, K::NR);
    let kc_max = K::KC.min(k);
    let mc_max = K::MC.min(m.div_ceil(mr) * mr);
    let nc_max = K::NC.min(n.div_ceil(nr) * nr);
    let a_len = mc_max * kc_max;
    let b_len = nc_max * kc_max;
    let slack = 2 * 64 / size_of::<K::E>();
    K::E::with_pack(a_len + b_len + slack, |buf| {
        let base = buf.as_mut_ptr();
        // SAFETY: both offsets leave a_len and b_len elements inside `buf` (slack covers the
        // alignment); every pointer below stays within A, B, C or the buffers.
        unsafe {
            let ap = base.add(align_offset(base));
            let bp0 = ap.add(a_len);
            let bp = bp0.add(align_offset(bp0));
            // Written by a micro-kernel (C overwritten, never read) before it is read: not
            // zeroed, which cost a 3 KiB memset per product (T1's step: 8 of them).
            let mut tile = [core::mem::MaybeUninit::<K::E>::uninit(); MAX_TILE];
            // A column-major A with few columns of C to amortise a packing pass over: the
            // micro-kernels of the first column panel read each Ā panel from A and pack it.
            // Likewise a B with contiguous rows and few rows of C: the micro-kernels of the
            // first row panel pack each full B̄ panel.
            let fuse_a = a.rs == 1 && n <= FUSE_N;
            let fuse_b = b.cs == 1 && m <= FUSE_M;
            // A column-major B, few rows of C and a long k: full B̄ panels are read in place,
            // as NR column streams, and never packed. S3's forward 128x784x64 (B = X) f32
            // 0.979 → 1.023×, f64 1.036 → 1.082× OpenBLAS (gemm-vs-blas, medians of 3 runs);
            // its output layer's Wᵀ Δ, 128x10x64, 1.11 → 1.08× and 1.09 → 1.02×, so not there.
            let b_columns = b.rs == 1 && b.cs != 1 && m <= FUSE_M && k >= COLUMNS_K;
            let mut jc = 0;
            while jc < n {
                let nc = K::NC.min(n - jc);
                let mut pc = 0;
                while pc < k {
                    let kc = K::KC.min(k - pc);
                    // With `fuse_b` or `b_columns`, only a last panel of fewer than NR columns
                    // is packed here.
                    let whole_b = if fuse_b || b_columns { nc / nr * nr } else { 0 };
                    if whole_b < nc {
                        pack_b::<K>(
                            kc,
                            nc - whole_b,
                            b.at(pc, jc + whole_b),
                            bp.add(whole_b * kc),
                        );
                    }
                    let acc = accumulate || pc > 0;
                    let mut ic = 0;
                    while ic < m {
                        let mc = K::MC.min(m - ic);
                        // With `fuse_a`, only a last panel of fewer than MR rows is packed here.
                        let whole_a = if fuse_a { mc / mr * mr } else { 0 };
                        if whole_a < mc {
                            pack_a::<K>(
                                mc - whole_a,
                                kc,
                                a.at(ic + whole_a, pc),
                                ap.add(whole_a * kc),
                            );
                        }
                        let mut jr = 0;
                        while jr < nc {
                            let cols = nr.min(nc - jr);
                            let b_panel = bp.add(jr * kc);
                            let columns_now = b_columns && cols == nr;
                            // Full tiles of a column-major C go down the column panel in one
                            // `micro_panels` call, after the tile that packs B̄ if this panel
                            // has one; the rest (partial rows, a transposed C) tile by tile.
                            let first = usize::from(fuse_b && ic == 0 && cols == nr);
                            let full = if rsc == 1 { mc / mr } else { 0 };
                            let (run_start, run_end) = if full > first {
                                (first * mr, full * mr)
                            } else {
                                (mc, mc)
                            };
                            // Ā for the tile at row ir: packed already, or read from A (one
                            // column every a.cs) and packed to its place as it goes.
                            let a_op = |ir: usize, pack: bool| {
                                let a_panel = ap.add(ir * kc);
                                if pack {
                                    Panel {
                                        src: a.at(ic + ir, pc).ptr,
                                        step: a.cs,
                                        across: 1,
                                        dst: a_panel,
                                    }
                                } else {
                                    Panel::packed(a_panel, mr)
                                }
                            };
                            // B̄ where no tile packs it: packed, or B's columns in place.
                            let b_op = if columns_now {
                                Panel {
                                    src: b.at(pc, jc + jr).ptr,
                                    step: 1,
                                    across: b.cs,
                                    dst: std::ptr::null_mut(),
                                }
                            } else {
                                Panel::packed(b_panel, nr)
                            };
                            let mut ir = 0;
                            while ir < mc {
                                if ir == run_start {
                                    let pack = fuse_a && jr == 0;
                                    let cij = c.add(ic + ir + (jc + jr) * ldc);
                                    let n_panels = (run_end - run_start) / mr;
                                    let args = (
                                        cols,
                                        n_panels,
                                        kc,
                                        a_op(ir, pack),
                                        b_op,
                                        cij,
                                        ldc,
                                        alpha,
                                        acc,
                                    );
                                    match (pack, columns_now) {
                                        (false, false) => {
                                            panels::<K, PREFETCH, false, B_PACKED>(args)
                                        }
                                        (true, false) => {
                                            panels::<K, PREFETCH, true, B_PACKED>(args)
                                        }
                                        (false, true) => {
                                            panels::<K, PREFETCH, false, B_COLUMNS>(args)
                                        }
                                        (true, true) => {
                                            panels::<K, PREFETCH, true, B_COLUMNS>(args)
                                        }
                                    }
                                    ir = run_end;
                                    continue;
                                }
                                let rows = mr.min(mc - ir);
                                let cij = c.add((ic + ir) * rsc + (jc + jr) * ldc);
                                // The tile is computed straight into C, or into `tile` and
                                // added from there (partial rows, or a transposed C).
                                let direct = rows == mr && rsc == 1;
                                let (out, ldo, width) = if direct {
                                    (cij, ldc, cols)
                                } else {
                                    (tile.as_mut_ptr().cast::<K::E>(), mr, nr)
                                };
                                // The first column panel packs the Ā panels it reads, the
                                // first row panel the full B̄ panels.
                                let pack_a_now = fuse_a && jr == 0 && rows == mr;
                                let pack_b_now = fuse_b && ic == 0 && ir == 0 && cols == nr;
                                let b_op = if pack_b_now {
                                    Panel {
                                        src: b.at(pc, jc + jr).ptr,
                                        step: b.rs,
                                        across: 1,
                                        dst: b_panel,
                                    }
                                } else {
                                    b_op
                                };
                                let acc_out = direct && acc;
                                let a_op = a_op(ir, pack_a_now);
                                let args = (width, 1, kc, a_op, b_op, out, ldo, alpha, acc_out);
                                match (pack_a_now, pack_b_now, columns_now) {
                                    (false, false, false) => {
                                        panels::<K, PREFETCH, false, B_PACKED>(args)
                                    }
                                    (true, false, false) => {
                                        panels::<K, PREFETCH, true, B_PACKED>(args)
                                    }
                                    (false, true, _) => panels::<K, PREFETCH, false, B_PACKS>(args),
                                    (true, true, _) => panels::<K, PREFETCH, true, B_PACKS>(args),
                                    (false, false, true) => {
                                        panels::<K, PREFETCH, false, B_COLUMNS>(args)
                                    }
                                    (true, false, true) => {
                                        panels::<K, PREFETCH, true, B_COLUMNS>(args)
                                    }
                                }
                                if !direct {
                                    for j in 0..cols {
                                        for i in 0..rows {
                                            let cp = cij.add(i * rsc + j * ldc);
                                            let v = *out.add(i + j * mr);
                                            *cp = if acc { *cp + v } else { v };
                                        }
                                    }
                                }
                                ir += mr;
                            }
                            jr += nr;
                        }
                        ic += mc;
                    }
                    pc += kc;
                }
                jc += nc;
            }
        }
    });
}

/// Depth from which a column-major B is read in place (see [`gemm_with`]).
const COLUMNS_K: usize = 64;

/// The arguments of [`Micro::micro_panels`] after its const parameters.
type PanelsArgs<E> = (
    usize,
    usize,
    usize,
    Panel<E>,
    Panel<E>,
    *mut E,
    usize,
    E,
    bool,
);

/// [`Micro::micro_panels`] on a tuple of its arguments.
///
/// # Safety
/// As [`Micro::micro_panels`].
#[inline(always)]
unsafe fn panels<K: Micro, const PREFETCH: bool, const PACK_A: bool, const B: u8>(
    (cols, n, kc, a, b, c, ldc, alpha, accumulate): PanelsArgs<K::E>,
) {
    // SAFETY: the caller's.
    unsafe { K::micro_panels::<PREFETCH, PACK_A, B>(cols, n, kc, a, b, c, ldc, alpha, accumulate) }
}

/// Columns of C up to which a column-major A is packed by the micro-kernels of the first
/// column panel instead of by a pass of its own (see [`gemm_with`]). `gemm-vs-blas`, medians
/// of 3 runs: S3's forward 128x784x64 f32 0.936 → 0.983× OpenBLAS, f64 0.979 → 1.039×; S4's
/// 512x512x256 +1.3 % / +2.7 %; at 1024 columns −0.4 to −1.1 %.
const FUSE_N: usize = 512;

/// Rows of C up to which a B with contiguous rows is packed by the micro-kernels of the first
/// row panel instead of by a pass of its own. S3's update 128x64x784 (C = W_0, B = Xᵀ) f32
/// 0.966 → 0.991×, f64 0.972 → 1.016×; S4's with 512 rows −0.3 to −1.8 %.
const FUSE_M: usize = 256;

/// The largest MR·NR of the micro-kernels (32 × 12).
const MAX_TILE: usize = 32 * 12;
