//! The x86-64 SIMD kernels, one module per (instruction set, element type), generated from one
//! body by [`simd_kernels!`]:
//!
//! | kernel | computes | used for |
//! |---|---|---|
//! | `micro` | C (MR × NR) = α Ā B̄ (+ C) from packed panels Ā (MR × kc) and B̄ (kc × NR) | every tile of the packed GEMM |
//! | `micro_panels` | `micro` on tiles stacked down one column panel of C, in one call | every call of a micro-kernel from the GEMM: a column panel's full tiles at once, the rest one by one |
//! | `gemv_n` | y = α A x (+ y), A column-major | z_{i+1} = W_i a_i for one sample |
//! | `gemv_t` | y = α Aᵀ x (+ y), A column-major | W_iᵀ δ_{i+1} for one sample |
//! | `ger` | C = α x yᵀ (+ C) | ∂E/∂W_i = δ_{i+1} a_iᵀ, and the fused W_i ← W_i − m δ_{i+1} a_iᵀ |
//! | `small_gemm` | C = α A B (+ C), A and B read in place through their strides | products of m·k·n ≤ 2¹⁴ (T1: 2-24-24-2, batch 16) |
//! | `small_gemv`, `small_gemv_t`, `small_ger` | the three above for a column of ≤ 2 vectors | one sample through a layer of < 256 weights (the seed's 3-4-5-2) |
//!
//! MR = 2 vectors, NR = 12 (AVX-512: 24 accumulators of the 32 registers) or 6 (AVX2: 12 of
//! 16). The AVX-512 `micro` prefetches its C tile before the k-loop and Ā, B̄ a few k-steps
//! ahead (2048² f64 GEMM against OpenBLAS's in one process: 0.86–0.93× without, 0.94–0.97×
//! with); the AVX2 one does so in products of m·k·n ≥ 2²⁵ (S4, S5), where it made 1024³ 0.5–2 %
//! faster on an AMD EPYC, and not in smaller ones (S3's: 0 to 1.5 % slower with it).
//! `gemv_n` and `ger` keep up to GEMV_BLOCK vectors of a column in registers; longer columns
//! (AVX2 on S2's 128 rows) are streamed column by column. A weight matrix from the global
//! allocator may start anywhere (glibc puts S2's 800 KB W_0 16 bytes past a cache line), and
//! then every 64-byte load and store of its columns straddles two lines: when all columns
//! start at the same such offset, `gemv_n` loads them in aligned vectors, two masked
//! (`gemv_n_rows_peeled`), and `ger` streams the whole matrix in aligned vectors (`ger_flat`).
//! S2 (batch 1, one thread, an AMD EPYC Zen 4 shared with two builds): f64 21.8 → 18.0 µs,
//! f32 10.1 → 9.1 µs, the speed of a W_0 on a cache line. `pack_avx512` and `pack_avx2`
//! transpose B̄ panels from a column-major B in registers. Every function is `unsafe`: it
//! needs its CPU features (checked by the caller through `is_x86_feature_detected!`) and valid
//! pointers for the extents its doc states.

#![allow(clippy::too_many_arguments)]

/// One operand of a micro-kernel call: its k-steps start every `step` elements from `src`,
/// the elements of one k-step `across` apart (1 but for [`B_COLUMNS`]); a call that packs the
/// operand also stores them, packed, to `dst` (null otherwise).
#[derive(Clone, Copy)]
pub(crate) struct Panel<E> {
    pub src: *const E,
    pub step: usize,
    pub across: usize,
    pub dst: *mut E,
}

impl<E> Panel<E> {
    /// An already packed panel of `width` elements per k-step.
    pub(crate) fn packed(src: *const E, width: usize) -> Self {
        Self {
            src,
            step: width,
            across: 1,
            dst: core::ptr::null_mut(),
        }
    }
}

/// How `micro` reads B: a packed B̄ panel.
pub(crate) const B_PACKED: u8 = 0;
/// How `micro` reads B: rows contiguous (a k-step every `b.step`), packing B̄ to `b.dst`.
pub(crate) const B_PACKS: u8 = 1;
/// How `micro` reads B: column-major, in place (k-steps contiguous, columns `b.across`
/// apart), nothing packed: the NR columns are NR sequential streams.
pub(crate) const B_COLUMNS: u8 = 2;

macro_rules! simd_kernels {
    (
        $module:ident, $feature:literal, $elem:ty, lanes = $lanes:expr, nr = $nr:expr,
        block = $block:expr, prefetch_work = $prefetch_work:expr, small_nr = $small_nr:expr,
        zero = $zero:ident, load = $load:ident, store = $store:ident, splat = $splat:ident,
        fma = $fma:ident, add = $add:ident, mul = $mul:ident, mask = $mask:ident,
        mload = $mload:ident, mstore = $mstore:ident, blend = $blend:ident, hsum = $hsum:ident
    ) => {
        pub(crate) mod $module {
            #[allow(clippy::wildcard_imports)]
            use super::masks::*;
            #[allow(clippy::wildcard_imports)]
            use core::arch::x86_64::*;

            /// Elements per vector.
            pub(crate) const LANES: usize = $lanes;
            /// Rows of a micro-tile (two vectors).
            pub(crate) const MR: usize = 2 * $lanes;
            /// Columns of a micro-tile.
            pub(crate) const NR: usize = $nr;
            /// Vectors of rows the matrix–vector and rank-1 kernels keep in registers.
            const GEMV_BLOCK: usize = $block;
            /// The work m·k·n from which a product's `micro` calls prefetch (`micro::<true>`):
            /// its C tile into L1 before the k-loop (it is read and written after it), and Ā
            /// and B̄ [`PF_A`] and [`PF_B`] k-steps ahead.
            pub(crate) const PREFETCH_WORK: usize = $prefetch_work;
            /// k-steps ahead at which `micro` prefetches Ā (8 · MR elements: 1 KiB).
            const PF_A: usize = 8;
            /// k-steps ahead at which `micro` prefetches B̄ (16 · NR elements).
            const PF_B: usize = 16;

            /// C ← α Ā B̄ (+ C if `accumulate`) for columns 0..N ≤ NR of one MR × NR tile: Ā
            /// is packed MR per k-step, B̄ NR per k-step, C(i, j) is at `c + i + j ldc`; with
            /// software prefetches if PREFETCH. N < NR is the last, partial panel of a C
            /// whose columns are not a multiple of NR (S3–S5's 64, 256, 784 and 1024 all leave
            /// 4 of AVX2's 6), written in place with N / NR of the work.
            ///
            /// If PACK_A, Ā is read from a column-major A instead (MR rows, one column every
            /// `a.step`) and stored packed to `a.dst` as it is read; if B is [`B_PACKS`], B̄
            /// from a B with contiguous rows (NR elements, one row every `b.step`, N = NR) into
            /// `b.dst`. This saves the packing its own pass over A or B (see `gemm::FUSE_N` and
            /// `gemm::FUSE_M` for where it pays). If B is [`B_COLUMNS`], B is read where it
            /// lies, column-major, and never packed.
            ///
            /// # Safety
            /// The CPU has the module's features; `a` holds kc·MR elements (if PACK_A, MR
            /// rows of kc columns at stride a.step, and a.dst kc·MR), `b` kc·NR (if
            /// [`B_PACKS`], kc rows of NR at stride b.step, and b.dst kc·NR; if [`B_COLUMNS`],
            /// N columns of kc at stride b.across); C's MR × N tile is valid for reads and
            /// writes.
            #[target_feature(enable = $feature)]
            #[inline]
            pub(crate) unsafe fn micro<
                const PREFETCH: bool,
                const N: usize,
                const PACK_A: bool,
                const B: u8,
            >(
                kc: usize,
                a: super::Panel<$elem>,
                b: super::Panel<$elem>,
                c: *mut $elem,
                ldc: usize,
                alpha: $elem,
                accumulate: bool,
            ) {
                const { assert!(N <= NR && (N == NR || B != super::B_PACKS)) };
                // SAFETY: extents as documented; unaligned loads and stores throughout.
                unsafe {
                    let mut c0 = [$zero(); N];
                    let mut c1 = [$zero(); N];
                    let (a_step, b_step) = (
                        if PACK_A { a.step } else { MR },
                        if B == super::B_PACKED { NR } else { b.step },
                    );
                    let across = if B == super::B_COLUMNS { b.across } else { 1 };
                    let (mut ap, mut bp, mut ad, mut bd) = (a.src, b.src, a.dst, b.dst);
                    // Prefetches are hints: addresses past a panel's end (wrapping_add, never
                    // dereferenced) cannot fault.
                    if PREFETCH {
                        for j in 0..N {
                            let cj = c.wrapping_add(j * ldc);
                            _mm_prefetch::<_MM_HINT_T0>(cj.cast());
                            _mm_prefetch::<_MM_HINT_T0>(cj.wrapping_add(MR - 1).cast());
                        }
                    }
                    for _ in 0..kc {
                        if PREFETCH {
                            let ahead = ap.wrapping_add(PF_A * a_step);
                            _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(LANES).cast());
                            _mm_prefetch::<_MM_HINT_T0>(bp.wrapping_add(PF_B * b_step).cast());
                        }
                        let a0 = $load(ap);
                        let a1 = $load(ap.add(LANES));
                        if PACK_A {
                            $store(ad, a0);
                            $store(ad.add(LANES), a1);
                            ad = ad.add(MR);
                        }
                        if B == super::B_PACKS {
                            core::ptr::copy_nonoverlapping(bp, bd, NR);
                            bd = bd.add(NR);
                        }
                        for j in 0..N {
                            let bj = $splat(*bp.add(j * across));
                            c0[j] = $fma(a0, bj, c0[j]);
                            c1[j] = $fma(a1, bj, c1[j]);
                        }
                        ap = ap.add(a_step);
                        bp = bp.add(b_step);
                    }
                    let va = $splat(alpha);
                    for j in 0..N {
                        let cj = c.add(j * ldc);
                        let mut r0 = $mul(c0[j], va);
                        let mut r1 = $mul(c1[j], va);
                        if accumulate {
                            r0 = $add($load(cj), r0);
                            r1 = $add($load(cj.add(LANES)), r1);
                        }
                        $store(cj, r0);
                        $store(cj.add(LANES), r1);
                    }
                }
            }

            /// [`micro`] on `panels` full MR × N tiles stacked down one column panel of C:
            /// tile t reads Ā from `a.src + t·MR·kc`, or if PACK_A from A's rows t·MR on
            /// (`a.src + t·MR`, A column-major) packing it to `a.dst + t·MR·kc`, and writes C
            /// from row t·MR on, against the same B̄. The loop over the
            /// tiles runs here, where `micro` inlines, rather than one call per tile from the
            /// generic blocking loop (S3's k = 64 update makes about a thousand per step).
            ///
            /// # Safety
            /// As [`micro`] for every tile; one tile if `b` is [`B_PACKS`](super::B_PACKS)
            /// (each would pack B̄ again).
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn micro_panels<
                const PREFETCH: bool,
                const N: usize,
                const PACK_A: bool,
                const B: u8,
            >(
                panels: usize,
                kc: usize,
                a: super::Panel<$elem>,
                b: super::Panel<$elem>,
                c: *mut $elem,
                ldc: usize,
                alpha: $elem,
                accumulate: bool,
            ) {
                debug_assert!(B != super::B_PACKS || panels == 1);
                // SAFETY: the caller's, tile by tile.
                unsafe {
                    let mut a = a;
                    let mut c = c;
                    for _ in 0..panels {
                        micro::<PREFETCH, N, PACK_A, B>(kc, a, b, c, ldc, alpha, accumulate);
                        if PACK_A {
                            a.src = a.src.add(MR);
                            a.dst = a.dst.add(MR * kc);
                        } else {
                            a.src = a.src.add(MR * kc);
                        }
                        c = c.add(MR);
                    }
                }
            }

            /// Packs one full Ā panel from a column-major A: dst[p·MR + i] = a[i + p·lda] for
            /// i < MR, p < kc, two vector moves per k-step (the library `memcpy` this replaces,
            /// called per k-step for MR elements, moved 4 bytes a cycle here).
            ///
            /// # Safety
            /// The CPU has the module's features; `a` holds MR rows of kc columns at stride
            /// lda; `dst` holds kc·MR elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn pack_a_panel(
                kc: usize,
                a: *const $elem,
                lda: usize,
                dst: *mut $elem,
            ) {
                // SAFETY: extents as documented.
                unsafe {
                    for p in 0..kc {
                        let src = a.add(p * lda);
                        let d = dst.add(p * MR);
                        $store(d, $load(src));
                        $store(d.add(LANES), $load(src.add(LANES)));
                    }
                }
            }

            /// Packs one full B̄ panel from a B whose rows are contiguous (Aᵀ's in A Bᵀ):
            /// dst[p·NR + j] = b[p·ldb + j] for j < NR, p < kc, a fixed-size copy per k-step
            /// (vector moves) where a library `memcpy` was called.
            ///
            /// # Safety
            /// The CPU has the module's features; `b` holds kc rows of NR elements at stride
            /// ldb; `dst` holds kc·NR elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn pack_b_panel(
                kc: usize,
                b: *const $elem,
                ldb: usize,
                dst: *mut $elem,
            ) {
                // SAFETY: extents as documented.
                unsafe {
                    for p in 0..kc {
                        core::ptr::copy_nonoverlapping(b.add(p * ldb), dst.add(p * NR), NR);
                    }
                }
            }

            /// y[0..V·LANES] ← α A x (+ y) for V vectors of rows of A (m × k, leading
            /// dimension m): V independent FMA chains, each column read as one contiguous run.
            ///
            /// # Safety
            /// As [`gemv_n`], with rows 0..V·LANES of `a` and `y` within m.
            #[target_feature(enable = $feature)]
            #[inline]
            pub(crate) unsafe fn gemv_n_rows<const V: usize>(
                m: usize,
                k: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: rows < V·LANES ≤ m, columns < k.
                unsafe {
                    let mut acc = [$zero(); V];
                    let mut col = a;
                    for p in 0..k {
                        let s = $splat(*x.add(p));
                        for v in 0..V {
                            acc[v] = $fma($load(col.add(v * LANES)), s, acc[v]);
                        }
                        col = col.add(m);
                    }
                    let va = $splat(alpha);
                    for v in 0..V {
                        let yp = y.add(v * LANES);
                        let mut r = $mul(acc[v], va);
                        if accumulate {
                            r = $add($load(yp), r);
                        }
                        $store(yp, r);
                    }
                }
            }

            /// Bytes per vector.
            const VECTOR_BYTES: usize = LANES * core::mem::size_of::<$elem>();

            /// The elements by which every column of A (m × k, leading dimension m, from `a`)
            /// starts past a vector boundary, when they all start at the same such offset
            /// (m · size a multiple of the vector) and it is not 0: then
            /// [`gemv_n_rows_peeled`] and [`ger_rows_peeled`] read and write A in aligned
            /// vectors. `None` when A is aligned, or its columns are not all alike.
            #[inline(always)]
            pub(crate) fn column_shift(a: *const $elem, m: usize) -> Option<usize> {
                let offset = a as usize % VECTOR_BYTES;
                let size = core::mem::size_of::<$elem>();
                (offset != 0 && offset % size == 0 && (m * size) % VECTOR_BYTES == 0)
                    .then_some(offset / size)
            }

            /// [`gemv_n_rows`] for V = W − 1 vectors of rows of an A whose columns all start
            /// `shift` elements (0 < shift < LANES) past a vector boundary: the loads of A
            /// are the W aligned vectors that cover those rows, the first and the last masked
            /// to the rows within, so that no load of A straddles two vectors (two cache
            /// lines, with 64-byte vectors). Row r is in lane (r + shift) % LANES of vector
            /// (r + shift) / LANES; each row keeps its FMA chain (columns in order, from
            /// zero), so the result equals `gemv_n_rows::<V>`'s bit for bit.
            ///
            /// # Safety
            /// As [`gemv_n`], with rows 0..(W − 1)·LANES of `a` and `y` within m, and
            /// `shift` as [`column_shift`] returns for `a`.
            #[target_feature(enable = $feature)]
            #[inline]
            pub(crate) unsafe fn gemv_n_rows_peeled<const W: usize>(
                m: usize,
                k: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
                shift: usize,
            ) {
                // SAFETY: the masked lanes lie within rows 0..(W − 1)·LANES < m; the others
                // are not accessed (the pointers to them are formed with wrapping arithmetic).
                unsafe {
                    let (first, last) = ($mask(shift, LANES), $mask(0, shift));
                    let mut acc = [$zero(); W];
                    let mut col = a.wrapping_sub(shift);
                    for p in 0..k {
                        let s = $splat(*x.add(p));
                        acc[0] = $fma($mload(col, first), s, acc[0]);
                        for v in 1..W - 1 {
                            acc[v] = $fma($load(col.wrapping_add(v * LANES)), s, acc[v]);
                        }
                        acc[W - 1] = $fma(
                            $mload(col.wrapping_add((W - 1) * LANES), last),
                            s,
                            acc[W - 1],
                        );
                        col = col.wrapping_add(m);
                    }
                    let va = $splat(alpha);
                    let yb = y.wrapping_sub(shift);
                    for v in 0..W {
                        let yp = yb.wrapping_add(v * LANES);
                        let k = if v == 0 {
                            first
                        } else if v == W - 1 {
                            last
                        } else {
                            $mask(0, LANES)
                        };
                        let mut r = $mul(acc[v], va);
                        if accumulate {
                            r = $add($mload(yp, k), r);
                        }
                        $mstore(yp, k, r);
                    }
                }
            }

            /// C (m × n, m = V·LANES, leading dimension m) ← α x yᵀ (+ C) for a C whose
            /// columns all start `shift` elements (0 < shift < LANES) past a vector boundary:
            /// C is one contiguous run, streamed in aligned vectors. Each column holds V − 1
            /// whole ones; the vector at its start also holds the previous column's last
            /// `shift` rows (lanes 0..shift), so it is updated with x's last and first rows
            /// blended, and α y_{j−1} and α y_j blended likewise. Only C's first and last
            /// vectors are masked. The same FMA per element as `ger_rows`, so the same bits.
            ///
            /// Masked loads and stores at each column's ends, or unaligned vectors there, were
            /// tried first: on AMD Zen 4, masked stores are slower than the line-straddling
            /// ones they replace.
            ///
            /// # Safety
            /// As [`ger`], with m = V·LANES, V ≥ 2, and `shift` as [`column_shift`] returns
            /// for `c`.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn ger_flat<const V: usize>(
                m: usize,
                n: usize,
                alpha: $elem,
                x: *const $elem,
                y: *const $elem,
                c: *mut $elem,
                accumulate: bool,
                shift: usize,
            ) {
                debug_assert!(V >= 2 && m == V * LANES && 0 < shift && shift < LANES);
                // SAFETY: the aligned vectors from c − shift to c + m·n − shift + LANES cover
                // C; the lanes outside it, in the first and the last, are masked off (their
                // addresses formed with wrapping arithmetic, never accessed).
                unsafe {
                    let (head, tail) = ($mask(shift, LANES), $mask(0, shift));
                    // Lanes 0..shift: rows m − shift..m; lanes shift..: rows 0..LANES − shift.
                    let x_joint = $blend(
                        head,
                        $mload(x.wrapping_add(m - shift), tail),
                        $mload(x.wrapping_sub(shift), head),
                    );
                    let mut xr = [$zero(); V];
                    xr[0] = x_joint;
                    for u in 1..V {
                        xr[u] = $load(x.add(u * LANES - shift));
                    }
                    let update = |xv, s, cp: *mut $elem| {
                        if accumulate {
                            $fma(xv, s, $load(cp))
                        } else {
                            $mul(xv, s)
                        }
                    };
                    let base = c.wrapping_sub(shift);
                    let mut s_prev = $zero();
                    for j in 0..n {
                        let s = $splat(alpha * *y.add(j));
                        let col = base.wrapping_add(j * m);
                        if j == 0 {
                            let r = if accumulate {
                                $fma(xr[0], s, $mload(col, head))
                            } else {
                                $mul(xr[0], s)
                            };
                            $mstore(col, head, r);
                        } else {
                            $store(col, update(xr[0], $blend(head, s_prev, s), col));
                        }
                        for u in 1..V {
                            let cp = col.wrapping_add(u * LANES);
                            $store(cp, update(xr[u], s, cp));
                        }
                        s_prev = s;
                    }
                    // The last column's last `shift` rows.
                    let cp = base.wrapping_add(n * m);
                    let r = if accumulate {
                        $fma(xr[0], s_prev, $mload(cp, tail))
                    } else {
                        $mul(xr[0], s_prev)
                    };
                    $mstore(cp, tail, r);
                }
            }

            /// `gemv_n_rows::<V>`, or `gemv_n_rows_peeled::<W>` (W = V + 1) when the columns
            /// start `shift` elements past a vector boundary.
            ///
            /// # Safety
            /// As [`gemv_n_rows`].
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn gemv_n_block<const V: usize, const W: usize>(
                shift: Option<usize>,
                m: usize,
                k: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
            ) {
                debug_assert_eq!(W, V + 1);
                // SAFETY: the caller's; `shift` is column_shift's for `a`.
                unsafe {
                    match shift {
                        Some(s) => gemv_n_rows_peeled::<W>(m, k, alpha, a, x, y, accumulate, s),
                        None => gemv_n_rows::<V>(m, k, alpha, a, x, y, accumulate),
                    }
                }
            }

            /// [`ger_rows`] with one vector of rows, in [`ger_flat`]'s signature: a column of
            /// one vector has nothing to peel.
            ///
            /// # Safety
            /// As [`ger_rows`] with V = 1.
            #[target_feature(enable = $feature)]
            unsafe fn ger_rows_one(
                m: usize,
                n: usize,
                alpha: $elem,
                x: *const $elem,
                y: *const $elem,
                c: *mut $elem,
                accumulate: bool,
                _shift: usize,
            ) {
                // SAFETY: the caller's.
                unsafe { ger_rows::<1>(m, n, alpha, x, y, c, accumulate) }
            }

            /// z (rows) ← W a for a small W (rows × cols, leading dimension rows, rows ≤
            /// V·LANES) and one sample: each column in V vectors, the last masked to the rows.
            ///
            /// # Safety
            /// The CPU has the module's features; (V − 1)·LANES < rows ≤ V·LANES; `w` holds
            /// rows·cols elements, `a` cols, `z` rows.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn small_gemv<const V: usize>(
                rows: usize,
                cols: usize,
                w: *const $elem,
                a: *const $elem,
                z: *mut $elem,
            ) {
                // SAFETY: vectors 0..V − 1 of a column lie within it, the last is masked to
                // its rows.
                unsafe {
                    let lv = (V - 1) * LANES;
                    let last = $mask(0, rows - lv);
                    let mut acc = [$zero(); V];
                    let mut col = w;
                    for p in 0..cols {
                        let s = $splat(*a.add(p));
                        for v in 0..V - 1 {
                            acc[v] = $fma($load(col.add(v * LANES)), s, acc[v]);
                        }
                        acc[V - 1] = $fma($mload(col.add(lv), last), s, acc[V - 1]);
                        col = col.add(rows);
                    }
                    for v in 0..V - 1 {
                        $store(z.add(v * LANES), acc[v]);
                    }
                    $mstore(z.add(lv), last, acc[V - 1]);
                }
            }

            /// d (cols) ← Wᵀ δ for a small W (rows × cols, rows ≤ V·LANES) and one sample:
            /// d[c] is column c's dot product with δ, a vector product and a sum of its lanes.
            ///
            /// # Safety
            /// As [`small_gemv`], with `delta` holding rows and `d` cols elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn small_gemv_t<const V: usize>(
                rows: usize,
                cols: usize,
                w: *const $elem,
                delta: *const $elem,
                d: *mut $elem,
            ) {
                // SAFETY: as small_gemv's.
                unsafe {
                    let lv = (V - 1) * LANES;
                    let last = $mask(0, rows - lv);
                    let mut dv = [$zero(); V];
                    for v in 0..V - 1 {
                        dv[v] = $load(delta.add(v * LANES));
                    }
                    dv[V - 1] = $mload(delta.add(lv), last);
                    let mut col = w;
                    for c in 0..cols {
                        let mut s = $mul($mload(col.add(lv), last), dv[V - 1]);
                        for v in 0..V - 1 {
                            s = $fma($load(col.add(v * LANES)), dv[v], s);
                        }
                        *d.add(c) = $hsum(s);
                        col = col.add(rows);
                    }
                }
            }

            /// W ← W + α δ aᵀ for a small W (rows × cols, rows ≤ V·LANES) and one sample:
            /// column p gets (α a[p]) δ, δ held in V vectors, the last masked.
            ///
            /// # Safety
            /// As [`small_gemv`], with `delta` holding rows and `a` cols elements, `w` writable.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn small_ger<const V: usize>(
                rows: usize,
                cols: usize,
                alpha: $elem,
                delta: *const $elem,
                a: *const $elem,
                w: *mut $elem,
            ) {
                // SAFETY: as small_gemv's.
                unsafe {
                    let lv = (V - 1) * LANES;
                    let last = $mask(0, rows - lv);
                    let mut dv = [$zero(); V];
                    for v in 0..V - 1 {
                        dv[v] = $load(delta.add(v * LANES));
                    }
                    dv[V - 1] = $mload(delta.add(lv), last);
                    let mut col = w;
                    for p in 0..cols {
                        let s = $splat(alpha * *a.add(p));
                        for v in 0..V - 1 {
                            let cp = col.add(v * LANES);
                            $store(cp, $fma(dv[v], s, $load(cp)));
                        }
                        let cp = col.add(lv);
                        $mstore(cp, last, $fma(dv[V - 1], s, $mload(cp, last)));
                        col = col.add(rows);
                    }
                }
            }

            /// Columns of C per block of [`small_gemm`].
            pub(crate) const SMALL_NR: usize = $small_nr;

            /// Columns j..j + N of C ← α A B (+ C) for [`small_gemm`]: N · V accumulators,
            /// A's column p loaded (V vectors, the last masked unless `full`) and multiplied
            /// by N broadcasts of B's row p.
            ///
            /// # Safety
            /// As [`small_gemm`], with columns j..j + N within n.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn small_gemm_block<const V: usize, const N: usize>(
                (m, k, ldc): (usize, usize, usize),
                alpha: $elem,
                (a, lda): (*const $elem, usize),
                (b, rsb, csb): (*const $elem, usize, usize),
                (c, j): (*mut $elem, usize),
                accumulate: bool,
            ) {
                // SAFETY: rows < m (the last vector masked to them unless full), p < k, and
                // columns j..j + N < n.
                unsafe {
                    let lv = (V - 1) * LANES;
                    let full = m == V * LANES;
                    let last = $mask(0, m - lv);
                    let mut acc = [[$zero(); N]; V];
                    let mut ap = a;
                    let mut bp = b.add(j * csb);
                    for _ in 0..k {
                        let mut av = [$zero(); V];
                        for v in 0..V - 1 {
                            av[v] = $load(ap.add(v * LANES));
                        }
                        av[V - 1] = if full {
                            $load(ap.add(lv))
                        } else {
                            $mload(ap.add(lv), last)
                        };
                        for jj in 0..N {
                            let s = $splat(*bp.add(jj * csb));
                            for v in 0..V {
                                acc[v][jj] = $fma(av[v], s, acc[v][jj]);
                            }
                        }
                        ap = ap.add(lda);
                        bp = bp.add(rsb);
                    }
                    let va = $splat(alpha);
                    for jj in 0..N {
                        let cp = c.add((j + jj) * ldc);
                        for v in 0..V {
                            let ptr = cp.add(v * LANES);
                            let mut r = $mul(acc[v][jj], va);
                            if v + 1 < V || full {
                                if accumulate {
                                    r = $add($load(ptr), r);
                                }
                                $store(ptr, r);
                            } else {
                                if accumulate {
                                    r = $add($mload(ptr, last), r);
                                }
                                $mstore(ptr, last, r);
                            }
                        }
                    }
                }
            }

            /// Rows i..i + mb (mb ≤ V·LANES) of [`small_gemm`]'s C: [`SMALL_NR`] columns at a
            /// time, then one by one.
            ///
            /// # Safety
            /// As [`small_gemm`], with (V − 1)·LANES < mb ≤ V·LANES and rows i..i + mb < m.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn small_gemm_rows<const V: usize>(
                (mb, k, n, ldc): (usize, usize, usize, usize),
                alpha: $elem,
                a: (*const $elem, usize),
                b: (*const $elem, usize, usize),
                c: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: every block lies within the rows given and C's n columns.
                unsafe {
                    let shape = (mb, k, ldc);
                    let mut j = 0;
                    while j + SMALL_NR <= n {
                        small_gemm_block::<V, SMALL_NR>(shape, alpha, a, b, (c, j), accumulate);
                        j += SMALL_NR;
                    }
                    while j < n {
                        small_gemm_block::<V, 1>(shape, alpha, a, b, (c, j), accumulate);
                        j += 1;
                    }
                }
            }

            /// C (m × n, column-major, leading dimension m) ← α A B (+ C) for a small
            /// product, straight from the operands, nothing packed: A column-major (its
            /// columns `lda` apart), B's element (p, j) at b[p·rsb + j·csb] (B or a stored
            /// Bᵀ alike). Rows in blocks of up to three vectors (the last masked to the rows
            /// left), columns [`SMALL_NR`] at a time. Each element is one FMA chain over p in
            /// order, from zero, then scaled by α.
            ///
            /// # Safety
            /// The CPU has the module's features; A holds m rows of k columns, B k × n
            /// through its strides, C m·n elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn small_gemm(
                (m, k, n): (usize, usize, usize),
                alpha: $elem,
                (a, lda): (*const $elem, usize),
                b: (*const $elem, usize, usize),
                c: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: each block of rows lies within 0..m.
                unsafe {
                    let mut i = 0;
                    while i < m {
                        let mb = (3 * LANES).min(m - i);
                        let shape = (mb, k, n, m);
                        let (ai, ci) = ((a.add(i), lda), c.add(i));
                        match mb.div_ceil(LANES) {
                            1 => small_gemm_rows::<1>(shape, alpha, ai, b, ci, accumulate),
                            2 => small_gemm_rows::<2>(shape, alpha, ai, b, ci, accumulate),
                            _ => small_gemm_rows::<3>(shape, alpha, ai, b, ci, accumulate),
                        }
                        i += mb;
                    }
                }
            }

            /// Rows per block of [`gemv_n_stream`] (its sums, 4 KiB of f64, stay in L1).
            const STREAM_ROWS: usize = 512;

            /// y[0..rows] ← α A x (+ y) for `rows` (a multiple of LANES, ≤ [`STREAM_ROWS`])
            /// rows of A (m × k, leading dimension m), reading A column after column: the
            /// sums live in an L1 buffer, updated by eight columns at a time. For a column
            /// longer than [`gemv_n_rows`] can hold in registers, which would read A in strips
            /// a column stride apart. The same FMA chain per row as `gemv_n_rows` (p in
            /// order, from zero), so the same result bit for bit.
            ///
            /// # Safety
            /// As [`gemv_n`], with rows 0..rows of `a` and `y` within m.
            #[target_feature(enable = $feature)]
            #[inline]
            pub(crate) unsafe fn gemv_n_stream(
                m: usize,
                k: usize,
                rows: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: rows ≤ STREAM_ROWS and ≤ m, columns < k.
                unsafe {
                    let mut sums = [0.0 as $elem; STREAM_ROWS];
                    let s = sums.as_mut_ptr();
                    let mut p = 0;
                    while p + 8 <= k {
                        let c: [*const $elem; 8] = core::array::from_fn(|u| a.add((p + u) * m));
                        let xs: [_; 8] = core::array::from_fn(|u| $splat(*x.add(p + u)));
                        let mut o = 0;
                        while o < rows {
                            let mut r = $load(s.add(o));
                            r = $fma($load(c[0].add(o)), xs[0], r);
                            r = $fma($load(c[1].add(o)), xs[1], r);
                            r = $fma($load(c[2].add(o)), xs[2], r);
                            r = $fma($load(c[3].add(o)), xs[3], r);
                            r = $fma($load(c[4].add(o)), xs[4], r);
                            r = $fma($load(c[5].add(o)), xs[5], r);
                            r = $fma($load(c[6].add(o)), xs[6], r);
                            r = $fma($load(c[7].add(o)), xs[7], r);
                            $store(s.add(o), r);
                            o += LANES;
                        }
                        p += 8;
                    }
                    while p < k {
                        let c0 = a.add(p * m);
                        let x0 = $splat(*x.add(p));
                        let mut o = 0;
                        while o < rows {
                            $store(s.add(o), $fma($load(c0.add(o)), x0, $load(s.add(o))));
                            o += LANES;
                        }
                        p += 1;
                    }
                    let va = $splat(alpha);
                    let mut o = 0;
                    while o < rows {
                        let yp = y.add(o);
                        let mut r = $mul($load(s.add(o)), va);
                        if accumulate {
                            r = $add($load(yp), r);
                        }
                        $store(yp, r);
                        o += LANES;
                    }
                }
            }

            /// y (m) ← α A x (+ y) with A m × k column-major (leading dimension m), x (k).
            ///
            /// # Safety
            /// The CPU has the module's features; `a` holds m·k, `x` k, `y` m elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn gemv_n(
                m: usize,
                k: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: every block below lies within rows 0..m; columns < k.
                unsafe {
                    let mut i = 0;
                    if m > GEMV_BLOCK * LANES {
                        // Columns longer than the registers hold: stream A column by column.
                        let vector_rows = m - m % LANES;
                        while i < vector_rows {
                            let rows = STREAM_ROWS.min(vector_rows - i);
                            gemv_n_stream(m, k, rows, alpha, a.add(i), x, y.add(i), accumulate);
                            i += rows;
                        }
                    }
                    // Rows in registers, V vectors at a time; with columns that all start past a
                    // vector boundary, on aligned loads (V + 1 of them, two masked).
                    let shift = column_shift(a, m);
                    while i + GEMV_BLOCK * LANES <= m {
                        gemv_n_block::<GEMV_BLOCK, { GEMV_BLOCK + 1 }>(
                            shift,
                            m,
                            k,
                            alpha,
                            a.add(i),
                            x,
                            y.add(i),
                            accumulate,
                        );
                        i += GEMV_BLOCK * LANES;
                    }
                    let mut rest = (m - i) / LANES;
                    if rest >= 8 && GEMV_BLOCK > 8 {
                        gemv_n_block::<8, 9>(shift, m, k, alpha, a.add(i), x, y.add(i), accumulate);
                        i += 8 * LANES;
                        rest -= 8;
                    }
                    if rest >= 4 {
                        gemv_n_block::<4, 5>(shift, m, k, alpha, a.add(i), x, y.add(i), accumulate);
                        i += 4 * LANES;
                        rest -= 4;
                    }
                    if rest >= 2 {
                        gemv_n_block::<2, 3>(shift, m, k, alpha, a.add(i), x, y.add(i), accumulate);
                        i += 2 * LANES;
                        rest -= 2;
                    }
                    if rest >= 1 {
                        gemv_n_block::<1, 2>(shift, m, k, alpha, a.add(i), x, y.add(i), accumulate);
                        i += LANES;
                    }
                    // Remaining rows: scalar, four chains.
                    for r in i..m {
                        let mut s = [0.0 as $elem; 4];
                        let mut p = 0;
                        while p + 4 <= k {
                            for u in 0..4 {
                                s[u] += *a.add(r + (p + u) * m) * *x.add(p + u);
                            }
                            p += 4;
                        }
                        for q in p..k {
                            s[0] += *a.add(r + q * m) * *x.add(q);
                        }
                        let v = alpha * ((s[0] + s[1]) + (s[2] + s[3]));
                        *y.add(r) = if accumulate { *y.add(r) + v } else { v };
                    }
                }
            }

            /// y (m) ← α Aᵀ x (+ y) with A k × m column-major (leading dimension k), x (k):
            /// y_i is the dot product of column i of A with x, in vectors: the last k % LANES
            /// elements of a column in one masked vector (S2's W_1ᵀ δ_2 has k = 10, under one
            /// f32 vector), the lanes summed once at the end.
            ///
            /// # Safety
            /// The CPU has the module's features; `a` holds k·m, `x` k, `y` m elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn gemv_t(
                m: usize,
                k: usize,
                alpha: $elem,
                a: *const $elem,
                x: *const $elem,
                y: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: every index below is < k (rows of A) and < m (columns); the masked
                // loads read only lanes kv..k of a column and of x.
                unsafe {
                    let kv = k - k % LANES;
                    let tail = $mask(0, k - kv);
                    let x_tail = $mload(x.add(kv), tail);
                    // y_i ← α (column i · x) (+ y_i) from the column's vector of partial sums.
                    let finish = |i: usize, acc| {
                        let v = alpha * $hsum(acc);
                        let yp = y.add(i);
                        *yp = if accumulate { *yp + v } else { v };
                    };
                    let mut i = 0;
                    // Four columns at a time share the loads of x.
                    while i + 4 <= m {
                        let mut acc = [$zero(); 4];
                        let mut p = 0;
                        while p < kv {
                            let xv = $load(x.add(p));
                            for u in 0..4 {
                                acc[u] = $fma($load(a.add((i + u) * k + p)), xv, acc[u]);
                            }
                            p += LANES;
                        }
                        if kv < k {
                            for u in 0..4 {
                                let t = $mload(a.add((i + u) * k + kv), tail);
                                acc[u] = $fma(t, x_tail, acc[u]);
                            }
                        }
                        for u in 0..4 {
                            finish(i + u, acc[u]);
                        }
                        i += 4;
                    }
                    for i in i..m {
                        let mut acc = $zero();
                        let mut p = 0;
                        while p < kv {
                            acc = $fma($load(a.add(i * k + p)), $load(x.add(p)), acc);
                            p += LANES;
                        }
                        if kv < k {
                            acc = $fma($mload(a.add(i * k + kv), tail), x_tail, acc);
                        }
                        finish(i, acc);
                    }
                }
            }

            /// Rows 0..V·LANES of C (m × n, leading dimension m) ← α x yᵀ (+ C), with those
            /// V vectors of x held in registers while the columns stream past.
            ///
            /// # Safety
            /// As [`ger`], with rows 0..V·LANES within m.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn ger_rows<const V: usize>(
                m: usize,
                n: usize,
                alpha: $elem,
                x: *const $elem,
                y: *const $elem,
                c: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: rows < V·LANES ≤ m, columns < n.
                unsafe {
                    let mut xr = [$zero(); V];
                    for v in 0..V {
                        xr[v] = $load(x.add(v * LANES));
                    }
                    let mut col = c;
                    for j in 0..n {
                        let s = $splat(alpha * *y.add(j));
                        for v in 0..V {
                            let cp = col.add(v * LANES);
                            let r = if accumulate {
                                $fma(xr[v], s, $load(cp))
                            } else {
                                $mul(xr[v], s)
                            };
                            $store(cp, r);
                        }
                        col = col.add(m);
                    }
                }
            }

            /// C (m × n) ← α x yᵀ (+ C), column-major with leading dimension m: column j of C
            /// gets (α y_j) x.
            ///
            /// # Safety
            /// The CPU has the module's features; `x` holds m, `y` n, `c` m·n elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn ger(
                m: usize,
                n: usize,
                alpha: $elem,
                x: *const $elem,
                y: *const $elem,
                c: *mut $elem,
                accumulate: bool,
            ) {
                // SAFETY: every block below lies within rows 0..m; columns < n.
                unsafe {
                    let mut i = 0;
                    if m > GEMV_BLOCK * LANES {
                        // Columns longer than the registers hold: x from L1, C column by column
                        // in one sequential pass (the same FMA per element as `ger_rows`).
                        let vector_rows = m - m % LANES;
                        for j in 0..n {
                            let s = $splat(alpha * *y.add(j));
                            let col = c.add(j * m);
                            let mut o = 0;
                            while o < vector_rows {
                                let cp = col.add(o);
                                let r = if accumulate {
                                    $fma($load(x.add(o)), s, $load(cp))
                                } else {
                                    $mul($load(x.add(o)), s)
                                };
                                $store(cp, r);
                                o += LANES;
                            }
                        }
                        i = vector_rows;
                    }
                    // A column of one register block whose columns all start past a vector
                    // boundary: C streamed in aligned vectors.
                    if let Some(shift) = column_shift(c, m) {
                        if m % LANES == 0 && m / LANES <= GEMV_BLOCK {
                            let f = match m / LANES {
                                2 => ger_flat::<2>,
                                3 => ger_flat::<3>,
                                4 => ger_flat::<4>,
                                5 => ger_flat::<5>,
                                6 => ger_flat::<6>,
                                7 => ger_flat::<7>,
                                8 => ger_flat::<8>,
                                9 => ger_flat::<9>,
                                10 => ger_flat::<10>,
                                11 => ger_flat::<11>,
                                12 => ger_flat::<12>,
                                13 => ger_flat::<13>,
                                14 => ger_flat::<14>,
                                15 => ger_flat::<15>,
                                16 => ger_flat::<16>,
                                _ => ger_rows_one,
                            };
                            return f(m, n, alpha, x, y, c, accumulate, shift);
                        }
                    }
                    while i + GEMV_BLOCK * LANES <= m {
                        ger_rows::<GEMV_BLOCK>(m, n, alpha, x.add(i), y, c.add(i), accumulate);
                        i += GEMV_BLOCK * LANES;
                    }
                    let mut rest = (m - i) / LANES;
                    if rest >= 8 && GEMV_BLOCK > 8 {
                        ger_rows::<8>(m, n, alpha, x.add(i), y, c.add(i), accumulate);
                        i += 8 * LANES;
                        rest -= 8;
                    }
                    if rest >= 4 {
                        ger_rows::<4>(m, n, alpha, x.add(i), y, c.add(i), accumulate);
                        i += 4 * LANES;
                        rest -= 4;
                    }
                    if rest >= 2 {
                        ger_rows::<2>(m, n, alpha, x.add(i), y, c.add(i), accumulate);
                        i += 2 * LANES;
                        rest -= 2;
                    }
                    if rest >= 1 {
                        ger_rows::<1>(m, n, alpha, x.add(i), y, c.add(i), accumulate);
                        i += LANES;
                    }
                    if i < m {
                        for j in 0..n {
                            let sj = alpha * *y.add(j);
                            let col = c.add(j * m);
                            for r in i..m {
                                let v = *x.add(r) * sj;
                                *col.add(r) = if accumulate { *col.add(r) + v } else { v };
                            }
                        }
                    }
                }
            }
        }
    };
}

/// Lane masks and masked loads and stores for the peeled matrix–vector and rank-1 kernels
/// (`gemv_n_rows_peeled`, `ger_rows_peeled`): `mask_*(lo, hi)` selects lanes lo..hi, a masked
/// load reads only those lanes (zero elsewhere) and a masked store writes only those. Lanes
/// outside the mask are not accessed, so they may lie outside the slice.
pub(crate) mod masks {
    #[allow(clippy::wildcard_imports)]
    use core::arch::x86_64::*;

    /// Lanes lo..hi of 8 f64.
    #[inline(always)]
    pub(crate) fn mask_f64_avx512(lo: usize, hi: usize) -> __mmask8 {
        ((1u32 << hi) - (1u32 << lo)) as __mmask8
    }
    /// Lanes lo..hi of 16 f32.
    #[inline(always)]
    pub(crate) fn mask_f32_avx512(lo: usize, hi: usize) -> __mmask16 {
        ((1u32 << hi) - (1u32 << lo)) as __mmask16
    }
    /// Lanes lo..hi of 4 f64: all bits set in the selected lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn mask_f64_avx2(lo: usize, hi: usize) -> __m256i {
        let l = |i: usize| if lo <= i && i < hi { -1i64 } else { 0 };
        _mm256_setr_epi64x(l(0), l(1), l(2), l(3))
    }
    /// Lanes lo..hi of 8 f32.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn mask_f32_avx2(lo: usize, hi: usize) -> __m256i {
        let l = |i: usize| if lo <= i && i < hi { -1i32 } else { 0 };
        _mm256_setr_epi32(l(0), l(1), l(2), l(3), l(4), l(5), l(6), l(7))
    }

    /// # Safety
    /// AVX-512F; the lanes of `k` at `p` are readable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn mload_f64_avx512(p: *const f64, k: __mmask8) -> __m512d {
        // SAFETY: the caller's.
        unsafe { _mm512_maskz_loadu_pd(k, p) }
    }
    /// # Safety
    /// AVX-512F; the lanes of `k` at `p` are writable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn mstore_f64_avx512(p: *mut f64, k: __mmask8, v: __m512d) {
        // SAFETY: the caller's.
        unsafe { _mm512_mask_storeu_pd(p, k, v) }
    }
    /// # Safety
    /// AVX-512F; the lanes of `k` at `p` are readable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn mload_f32_avx512(p: *const f32, k: __mmask16) -> __m512 {
        // SAFETY: the caller's.
        unsafe { _mm512_maskz_loadu_ps(k, p) }
    }
    /// # Safety
    /// AVX-512F; the lanes of `k` at `p` are writable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn mstore_f32_avx512(p: *mut f32, k: __mmask16, v: __m512) {
        // SAFETY: the caller's.
        unsafe { _mm512_mask_storeu_ps(p, k, v) }
    }
    /// # Safety
    /// AVX2; the lanes of `k` at `p` are readable.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn mload_f64_avx2(p: *const f64, k: __m256i) -> __m256d {
        // SAFETY: the caller's.
        unsafe { _mm256_maskload_pd(p, k) }
    }
    /// # Safety
    /// AVX2; the lanes of `k` at `p` are writable.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn mstore_f64_avx2(p: *mut f64, k: __m256i, v: __m256d) {
        // SAFETY: the caller's.
        unsafe { _mm256_maskstore_pd(p, k, v) }
    }
    /// # Safety
    /// AVX2; the lanes of `k` at `p` are readable.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn mload_f32_avx2(p: *const f32, k: __m256i) -> __m256 {
        // SAFETY: the caller's.
        unsafe { _mm256_maskload_ps(p, k) }
    }
    /// # Safety
    /// AVX2; the lanes of `k` at `p` are writable.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn mstore_f32_avx2(p: *mut f32, k: __m256i, v: __m256) {
        // SAFETY: the caller's.
        unsafe { _mm256_maskstore_ps(p, k, v) }
    }
    /// Lanes of `k` from `b`, the others from `a`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn blend_f64_avx512(k: __mmask8, a: __m512d, b: __m512d) -> __m512d {
        _mm512_mask_blend_pd(k, a, b)
    }
    /// Lanes of `k` from `b`, the others from `a`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn blend_f32_avx512(k: __mmask16, a: __m512, b: __m512) -> __m512 {
        _mm512_mask_blend_ps(k, a, b)
    }
    /// Lanes of `k` from `b`, the others from `a`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn blend_f64_avx2(k: __m256i, a: __m256d, b: __m256d) -> __m256d {
        _mm256_blendv_pd(a, b, _mm256_castsi256_pd(k))
    }
    /// Lanes of `k` from `b`, the others from `a`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn blend_f32_avx2(k: __m256i, a: __m256, b: __m256) -> __m256 {
        _mm256_blendv_ps(a, b, _mm256_castsi256_ps(k))
    }
    /// The sum of the lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn hsum_f64_avx512(v: __m512d) -> f64 {
        _mm512_reduce_add_pd(v)
    }
    /// The sum of the lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn hsum_f32_avx512(v: __m512) -> f32 {
        _mm512_reduce_add_ps(v)
    }
    /// The sum of the lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn hsum_f64_avx2(v: __m256d) -> f64 {
        let h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)))
    }
    /// The sum of the lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn hsum_f32_avx2(v: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps::<1>(h, h)))
    }
}

simd_kernels!(
    f64_avx512,
    "avx512f",
    f64,
    lanes = 8,
    nr = 12,
    block = 16,
    prefetch_work = 0,
    small_nr = 8,
    zero = _mm512_setzero_pd,
    load = _mm512_loadu_pd,
    store = _mm512_storeu_pd,
    splat = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    add = _mm512_add_pd,
    mul = _mm512_mul_pd,
    mask = mask_f64_avx512,
    mload = mload_f64_avx512,
    mstore = mstore_f64_avx512,
    blend = blend_f64_avx512,
    hsum = hsum_f64_avx512
);
simd_kernels!(
    f32_avx512,
    "avx512f",
    f32,
    lanes = 16,
    nr = 12,
    block = 16,
    prefetch_work = 0,
    small_nr = 8,
    zero = _mm512_setzero_ps,
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    splat = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    add = _mm512_add_ps,
    mul = _mm512_mul_ps,
    mask = mask_f32_avx512,
    mload = mload_f32_avx512,
    mstore = mstore_f32_avx512,
    blend = blend_f32_avx512,
    hsum = hsum_f32_avx512
);
simd_kernels!(
    f64_avx2,
    "avx2,fma",
    f64,
    lanes = 4,
    nr = 6,
    block = 8,
    prefetch_work = 1 << 25,
    small_nr = 4,
    zero = _mm256_setzero_pd,
    load = _mm256_loadu_pd,
    store = _mm256_storeu_pd,
    splat = _mm256_set1_pd,
    fma = _mm256_fmadd_pd,
    add = _mm256_add_pd,
    mul = _mm256_mul_pd,
    mask = mask_f64_avx2,
    mload = mload_f64_avx2,
    mstore = mstore_f64_avx2,
    blend = blend_f64_avx2,
    hsum = hsum_f64_avx2
);
simd_kernels!(
    f32_avx2,
    "avx2,fma",
    f32,
    lanes = 8,
    nr = 6,
    block = 8,
    prefetch_work = 1 << 25,
    small_nr = 4,
    zero = _mm256_setzero_ps,
    load = _mm256_loadu_ps,
    store = _mm256_storeu_ps,
    splat = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    add = _mm256_add_ps,
    mul = _mm256_mul_ps,
    mask = mask_f32_avx2,
    mload = mload_f32_avx2,
    mstore = mstore_f32_avx2,
    blend = blend_f32_avx2,
    hsum = hsum_f32_avx2
);

/// dst[p·STRIDE + j] = b[p + j·ldb] for p0 ≤ p < kc, j < COLS: the k-steps a transposing
/// pack leaves after its last whole block, element by element.
///
/// # Safety
/// b holds columns 0..COLS of kc elements at stride ldb; dst holds kc rows of STRIDE ≥ COLS
/// elements.
#[inline(always)]
unsafe fn copy_panel_rows<E: Copy, const COLS: usize, const STRIDE: usize>(
    p0: usize,
    kc: usize,
    b: *const E,
    ldb: usize,
    dst: *mut E,
) {
    for p in p0..kc {
        for j in 0..COLS {
            // SAFETY: p < kc, j < COLS ≤ STRIDE, as the caller's extents.
            unsafe { *dst.add(p * STRIDE + j) = *b.add(p + j * ldb) };
        }
    }
}

/// The index vector of one stage of an in-register transpose (`_mm512_permutex2var_*` with
/// sources a, b; element e of b is index e + L): for the pair (x_i, x_{i+d}),
/// `lo` = [a[0..d], b[0..d], a[2d..3d], b[2d..3d], …] and `hi` the same shifted by d.
/// After the stages d = L/2, …, 2, 1, vector q holds element q of every input vector.
const fn transpose_index<const L: usize>(d: usize, hi: bool) -> [i64; L] {
    let mut idx = [0i64; L];
    let mut t = 0;
    while t < L {
        let e = (t / (2 * d)) * 2 * d + t % d + if hi { d } else { 0 };
        idx[t] = (e + if (t / d) % 2 == 1 { L } else { 0 }) as i64;
        t += 1;
    }
    idx
}

/// Packing a B̄ panel (12 columns) from a column-major B: dst[p·12 + j] = b[p + j·ldb] for
/// p < kc, j < 12, a block of LANES k-steps at a time transposed in registers (12 column
/// vectors, padded with zeros to LANES, through log₂ LANES stages of two-source permutes);
/// the scalar element-by-element copy of the same panel took 3–5 % of an S3 / S4 step.
pub(crate) mod pack_avx512 {
    #[allow(clippy::wildcard_imports)]
    use core::arch::x86_64::*;

    use super::transpose_index;

    /// Columns of a panel (NR of both AVX-512 micro-kernels).
    pub(crate) const COLS: usize = 12;

    const fn index_f64(d: usize, hi: bool) -> [i64; 8] {
        transpose_index::<8>(d, hi)
    }

    const fn index_f32(d: usize, hi: bool) -> [i32; 16] {
        let wide = transpose_index::<16>(d, hi);
        let mut idx = [0i32; 16];
        let mut t = 0;
        while t < 16 {
            idx[t] = wide[t] as i32;
            t += 1;
        }
        idx
    }

    pub(crate) const F64_INDEX: [[[i64; 8]; 2]; 3] = [
        [index_f64(4, false), index_f64(4, true)],
        [index_f64(2, false), index_f64(2, true)],
        [index_f64(1, false), index_f64(1, true)],
    ];
    const F32_INDEX: [[[i32; 16]; 2]; 4] = [
        [index_f32(8, false), index_f32(8, true)],
        [index_f32(4, false), index_f32(4, true)],
        [index_f32(2, false), index_f32(2, true)],
        [index_f32(1, false), index_f32(1, true)],
    ];

    /// The permute indices of [`transpose_f64`]'s three stages, in registers.
    #[target_feature(enable = "avx512f")]
    fn f64_index() -> [[__m512i; 2]; 3] {
        // SAFETY: each load reads one [i64; 8] constant, 64 bytes.
        core::array::from_fn(|s| {
            core::array::from_fn(|h| unsafe { _mm512_loadu_si512(F64_INDEX[s][h].as_ptr().cast()) })
        })
    }

    /// The permute indices of [`transpose_f32`]'s four stages, in registers.
    #[target_feature(enable = "avx512f")]
    fn f32_index() -> [[__m512i; 2]; 4] {
        // SAFETY: each load reads one [i32; 16] constant, 64 bytes.
        core::array::from_fn(|s| {
            core::array::from_fn(|h| unsafe { _mm512_loadu_si512(F32_INDEX[s][h].as_ptr().cast()) })
        })
    }

    /// Transposes the 8 × 8 block v (v.len() = 8) in registers: afterwards v[q] holds
    /// element q of every input vector, through the stages d = 4, 2, 1 of two-source
    /// permutes on the pairs (v[i], v[i + d]).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transpose_f64(v: &mut [__m512d], idx: &[[__m512i; 2]; 3]) {
        const L: usize = 8;
        for (s, d) in [4usize, 2, 1].into_iter().enumerate() {
            for i in 0..L {
                if i & d == 0 {
                    let (a, c) = (v[i], v[i + d]);
                    v[i] = _mm512_permutex2var_pd(a, idx[s][0], c);
                    v[i + d] = _mm512_permutex2var_pd(a, idx[s][1], c);
                }
            }
        }
    }

    /// [`transpose_f64`] for a 16 × 16 block of f32 (v.len() = 16; stages d = 8, 4, 2, 1).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transpose_f32(v: &mut [__m512], idx: &[[__m512i; 2]; 4]) {
        const L: usize = 16;
        for (s, d) in [8usize, 4, 2, 1].into_iter().enumerate() {
            for i in 0..L {
                if i & d == 0 {
                    let (a, c) = (v[i], v[i + d]);
                    v[i] = _mm512_permutex2var_ps(a, idx[s][0], c);
                    v[i + d] = _mm512_permutex2var_ps(a, idx[s][1], c);
                }
            }
        }
    }

    /// dst[p·12 + j] = b[p + j·ldb] for p < kc, j < 12 (f64).
    ///
    /// # Safety
    /// The CPU has AVX-512F; b holds columns 0..12 of kc elements at stride ldb; dst holds
    /// 12·kc elements.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn b_col_major_f64(kc: usize, b: *const f64, ldb: usize, dst: *mut f64) {
        const L: usize = 8;
        // SAFETY: loads within rows p..p+L of the 12 columns, stores within rows p..p+L of dst.
        unsafe {
            let idx = f64_index();
            let mut p = 0;
            while p + L <= kc {
                let mut x: [__m512d; 16] = [_mm512_setzero_pd(); 16];
                for j in 0..COLS {
                    x[j] = _mm512_loadu_pd(b.add(p + j * ldb));
                }
                // Two 8 × 8 transposes: columns 0..8, and 8..12 with four zero columns.
                for half in 0..2 {
                    transpose_f64(&mut x[half * L..half * L + L], &idx);
                }
                for q in 0..L {
                    let row = dst.add((p + q) * COLS);
                    _mm512_storeu_pd(row, x[q]);
                    _mm256_storeu_pd(row.add(L), _mm512_castpd512_pd256(x[L + q]));
                }
                p += L;
            }
            super::copy_panel_rows::<_, COLS, COLS>(p, kc, b, ldb, dst);
        }
    }

    /// dst[p·12 + j] = b[p + j·ldb] for p < kc, j < 12 (f32).
    ///
    /// # Safety
    /// As [`b_col_major_f64`].
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn b_col_major_f32(kc: usize, b: *const f32, ldb: usize, dst: *mut f32) {
        const L: usize = 16;
        // SAFETY: loads within rows p..p+L of the 12 columns, stores within rows p..p+L of dst.
        unsafe {
            let idx = f32_index();
            let mut p = 0;
            while p + L <= kc {
                let mut x: [__m512; 16] = [_mm512_setzero_ps(); 16];
                for j in 0..COLS {
                    x[j] = _mm512_loadu_ps(b.add(p + j * ldb));
                }
                transpose_f32(&mut x, &idx);
                for q in 0..L {
                    _mm512_mask_storeu_ps(dst.add((p + q) * COLS), 0x0FFF, x[q]);
                }
                p += L;
            }
            super::copy_panel_rows::<_, COLS, COLS>(p, kc, b, ldb, dst);
        }
    }

    /// Packs one Ā panel of the AVX-512 f64 micro-kernel (MR = 16 rows) from an A whose rows
    /// are contiguous (Wᵀ in Wᵀ Δ): dst[p·16 + i] = a[p + i·lda] for p < kc, i < 16, as two
    /// 8 × 8 register transposes per 8 k-steps; the element-by-element copy it replaces took
    /// 1.8 % of an S4 f64 step.
    ///
    /// # Safety
    /// The CPU has AVX-512F; a holds rows 0..16 of kc elements at stride lda; dst holds
    /// 16·kc elements.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn a_rows_f64(kc: usize, a: *const f64, lda: usize, dst: *mut f64) {
        const L: usize = 8;
        const ROWS: usize = 16;
        const { assert!(super::f64_avx512::MR == ROWS) };
        let idx = f64_index();
        // SAFETY: loads within elements p..p+L of the 16 rows, stores within k-steps p..p+L
        // of dst.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                for half in 0..ROWS / L {
                    let mut x: [__m512d; L] =
                        core::array::from_fn(|i| _mm512_loadu_pd(a.add(p + (half * L + i) * lda)));
                    transpose_f64(&mut x, &idx);
                    for (q, row) in x.iter().enumerate() {
                        _mm512_storeu_pd(dst.add((p + q) * ROWS + half * L), *row);
                    }
                }
                p += L;
            }
            super::copy_panel_rows::<_, ROWS, ROWS>(p, kc, a, lda, dst);
        }
    }

    /// Packs one Ā panel of the AVX-512 f32 micro-kernel (MR = 32 rows) from an A whose rows
    /// are contiguous: dst[p·32 + i] = a[p + i·lda] for p < kc, i < 32, as two 16 × 16
    /// register transposes per 16 k-steps.
    ///
    /// # Safety
    /// As [`a_rows_f64`], with 32 rows.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn a_rows_f32(kc: usize, a: *const f32, lda: usize, dst: *mut f32) {
        const L: usize = 16;
        const ROWS: usize = 32;
        const { assert!(super::f32_avx512::MR == ROWS) };
        let idx = f32_index();
        // SAFETY: as in `a_rows_f64`, with 32 rows of 16-element blocks.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                for half in 0..ROWS / L {
                    let mut x: [__m512; L] =
                        core::array::from_fn(|i| _mm512_loadu_ps(a.add(p + (half * L + i) * lda)));
                    transpose_f32(&mut x, &idx);
                    for (q, row) in x.iter().enumerate() {
                        _mm512_storeu_ps(dst.add((p + q) * ROWS + half * L), *row);
                    }
                }
                p += L;
            }
            super::copy_panel_rows::<_, ROWS, ROWS>(p, kc, a, lda, dst);
        }
    }
}

/// B̄ panels of the AVX2 micro-kernels (NR = 6) from a column-major B, transposed in
/// registers: 4 (f64) or 8 (f32) k-steps of the six columns are loaded as vectors and
/// interleaved with unpack / shuffle / lane permutes into rows of six.
pub(crate) mod pack_avx2 {
    #[allow(clippy::wildcard_imports)]
    use core::arch::x86_64::*;

    /// Columns of a panel (NR of both AVX2 micro-kernels).
    pub(crate) const COLS: usize = 6;

    /// dst[p·6 + j] = b[p + j·ldb] for p < kc, j < 6 (f64).
    ///
    /// # Safety
    /// The CPU has AVX2; b holds columns 0..6 of kc elements at stride ldb; dst holds 6·kc
    /// elements.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn b_col_major_f64(kc: usize, b: *const f64, ldb: usize, dst: *mut f64) {
        const L: usize = 4;
        // SAFETY: loads within rows p..p+L of the 6 columns, stores within rows p..p+L of dst.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                let c: [__m256d; COLS] =
                    core::array::from_fn(|j| _mm256_loadu_pd(b.add(p + j * ldb)));
                // Columns 0..4: a 4 × 4 transpose; columns 4, 5: pairs (c4[q], c5[q]).
                let t0 = _mm256_unpacklo_pd(c[0], c[1]);
                let t1 = _mm256_unpackhi_pd(c[0], c[1]);
                let t2 = _mm256_unpacklo_pd(c[2], c[3]);
                let t3 = _mm256_unpackhi_pd(c[2], c[3]);
                let u0 = _mm256_unpacklo_pd(c[4], c[5]);
                let u1 = _mm256_unpackhi_pd(c[4], c[5]);
                let rows = [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ];
                let pairs = [
                    _mm256_castpd256_pd128(u0),
                    _mm256_castpd256_pd128(u1),
                    _mm256_extractf128_pd::<1>(u0),
                    _mm256_extractf128_pd::<1>(u1),
                ];
                for q in 0..L {
                    let row = dst.add((p + q) * COLS);
                    _mm256_storeu_pd(row, rows[q]);
                    _mm_storeu_pd(row.add(4), pairs[q]);
                }
                p += L;
            }
            super::copy_panel_rows::<_, COLS, COLS>(p, kc, b, ldb, dst);
        }
    }

    /// dst[p·6 + j] = b[p + j·ldb] for p < kc, j < 6 (f32).
    ///
    /// # Safety
    /// As [`b_col_major_f64`].
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn b_col_major_f32(kc: usize, b: *const f32, ldb: usize, dst: *mut f32) {
        const L: usize = 8;
        // SAFETY: loads within rows p..p+L of the 6 columns, stores within rows p..p+L of dst.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                let c: [__m256; COLS] =
                    core::array::from_fn(|j| _mm256_loadu_ps(b.add(p + j * ldb)));
                // Within each 128-bit lane: t0 = (c0[0], c1[0], c0[1], c1[1]), …; quads[r]
                // holds (c0[r], c1[r], c2[r], c3[r]) in its low lane and the same for r + 4 in
                // its high lane; t4, t5 hold the pairs (c4[q], c5[q]).
                let t0 = _mm256_unpacklo_ps(c[0], c[1]);
                let t1 = _mm256_unpackhi_ps(c[0], c[1]);
                let t2 = _mm256_unpacklo_ps(c[2], c[3]);
                let t3 = _mm256_unpackhi_ps(c[2], c[3]);
                let t4 = _mm256_unpacklo_ps(c[4], c[5]);
                let t5 = _mm256_unpackhi_ps(c[4], c[5]);
                let quads = [
                    _mm256_shuffle_ps::<0x44>(t0, t2),
                    _mm256_shuffle_ps::<0xEE>(t0, t2),
                    _mm256_shuffle_ps::<0x44>(t1, t3),
                    _mm256_shuffle_ps::<0xEE>(t1, t3),
                ];
                let pairs = [t4, t5];
                for q in 0..L {
                    let row = dst.add((p + q) * COLS);
                    let (r, hi) = (q % 4, q >= 4);
                    let quad = if hi {
                        _mm256_extractf128_ps::<1>(quads[r])
                    } else {
                        _mm256_castps256_ps128(quads[r])
                    };
                    _mm_storeu_ps(row, quad);
                    // (c4[q], c5[q]) is 64-bit element q % 2 of lane q / 4 of t4 (q % 4 < 2)
                    // or t5.
                    let pv = pairs[r / 2];
                    let lane = if hi {
                        _mm256_extractf128_ps::<1>(pv)
                    } else {
                        _mm256_castps256_ps128(pv)
                    };
                    let pair = if r % 2 == 1 {
                        _mm_movehl_ps(lane, lane)
                    } else {
                        lane
                    };
                    _mm_storel_epi64(row.add(4).cast(), _mm_castps_si128(pair));
                }
                p += L;
            }
            super::copy_panel_rows::<_, COLS, COLS>(p, kc, b, ldb, dst);
        }
    }

    /// Packs one Ā panel of the AVX2 f64 micro-kernel (MR = 8 rows) from an A whose rows are
    /// contiguous (Wᵀ in Wᵀ Δ): dst[p·8 + i] = a[p + i·lda] for p < kc, i < 8, as two 4 × 4
    /// register transposes per 4 k-steps; the element-by-element gather it replaces moved
    /// one element per load and store.
    ///
    /// # Safety
    /// The CPU has AVX2; a holds rows 0..8 of kc elements at stride lda; dst holds 8·kc
    /// elements.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn a_rows_f64(kc: usize, a: *const f64, lda: usize, dst: *mut f64) {
        const { assert!(super::f64_avx2::MR == 8) };
        // SAFETY: rows 0..4 and 4..8 of a, into columns 0..4 and 4..8 of dst's k-steps.
        unsafe {
            four_f64::<8>(kc, a, lda, dst);
            four_f64::<8>(kc, a.add(4 * lda), lda, dst.add(4));
        }
    }

    /// Packs one Ā panel of the AVX2 f32 micro-kernel (MR = 16 rows) from an A whose rows are
    /// contiguous: dst[p·16 + i] = a[p + i·lda] for p < kc, i < 16, as two 8 × 8 register
    /// transposes per 8 k-steps.
    ///
    /// # Safety
    /// As [`a_rows_f64`], with 16 rows.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn a_rows_f32(kc: usize, a: *const f32, lda: usize, dst: *mut f32) {
        const { assert!(super::f32_avx2::MR == 16) };
        // SAFETY: rows 0..8 and 8..16 of a, into columns 0..8 and 8..16 of dst's k-steps.
        unsafe {
            eight_f32::<16>(kc, a, lda, dst);
            eight_f32::<16>(kc, a.add(8 * lda), lda, dst.add(8));
        }
    }

    /// dst[p·STRIDE + j] = b[p + j·ldb] for p < kc, j < 4 (f64): 4 × 4 blocks transposed by
    /// unpacking pairs and exchanging 128-bit lanes.
    ///
    /// # Safety
    /// The CPU has AVX2; b holds 4 runs of kc elements at stride ldb; dst holds kc rows of
    /// STRIDE ≥ 4 elements.
    #[target_feature(enable = "avx2")]
    unsafe fn four_f64<const STRIDE: usize>(kc: usize, b: *const f64, ldb: usize, dst: *mut f64) {
        const L: usize = 4;
        // SAFETY: loads within elements p..p+L of the 4 runs, stores within rows p..p+L.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                let c: [__m256d; L] = core::array::from_fn(|j| _mm256_loadu_pd(b.add(p + j * ldb)));
                let t0 = _mm256_unpacklo_pd(c[0], c[1]);
                let t1 = _mm256_unpackhi_pd(c[0], c[1]);
                let t2 = _mm256_unpacklo_pd(c[2], c[3]);
                let t3 = _mm256_unpackhi_pd(c[2], c[3]);
                let rows = [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ];
                for q in 0..L {
                    _mm256_storeu_pd(dst.add((p + q) * STRIDE), rows[q]);
                }
                p += L;
            }
            super::copy_panel_rows::<_, L, STRIDE>(p, kc, b, ldb, dst);
        }
    }

    /// The 8 × 8 transpose of eight vectors of 8 f32: vector q of the result holds element q
    /// of every input, by unpacking pairs, shuffling quads and exchanging 128-bit lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn transpose8_f32(c: [__m256; 8]) -> [__m256; 8] {
        const L: usize = 8;
        // t: pairs (c_{2h}[r], c_{2h+1}[r]); s[r]: quads of runs 0..4 (s[r]) and 4..8
        // (s[r + 4]) at k-steps r (low lane) and r + 4 (high lane).
        let t: [__m256; L] = core::array::from_fn(|i| {
            let (x, y) = (c[2 * (i / 2)], c[2 * (i / 2) + 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_ps(x, y)
            } else {
                _mm256_unpackhi_ps(x, y)
            }
        });
        let quads = |lo: __m256, hi: __m256| {
            [
                _mm256_shuffle_ps::<0x44>(lo, hi),
                _mm256_shuffle_ps::<0xEE>(lo, hi),
            ]
        };
        let [s0, s1] = quads(t[0], t[2]);
        let [s2, s3] = quads(t[1], t[3]);
        let [s4, s5] = quads(t[4], t[6]);
        let [s6, s7] = quads(t[5], t[7]);
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }

    /// dst[p·STRIDE + j] = b[p + j·ldb] for p < kc, j < 8 (f32): 8 × 8 blocks transposed by
    /// unpacking pairs, shuffling quads and exchanging 128-bit lanes.
    ///
    /// # Safety
    /// The CPU has AVX2; b holds 8 runs of kc elements at stride ldb; dst holds kc rows of
    /// STRIDE ≥ 8 elements.
    #[target_feature(enable = "avx2")]
    unsafe fn eight_f32<const STRIDE: usize>(kc: usize, b: *const f32, ldb: usize, dst: *mut f32) {
        const L: usize = 8;
        // SAFETY: loads within elements p..p+L of the 8 runs, stores within rows p..p+L.
        unsafe {
            let mut p = 0;
            while p + L <= kc {
                let c: [__m256; L] = core::array::from_fn(|j| _mm256_loadu_ps(b.add(p + j * ldb)));
                let rows = transpose8_f32(c);
                for q in 0..L {
                    _mm256_storeu_ps(dst.add((p + q) * STRIDE), rows[q]);
                }
                p += L;
            }
            super::copy_panel_rows::<_, L, STRIDE>(p, kc, b, ldb, dst);
        }
    }
}

/// σ(z) = 1 / (1 + e^(−z)) on vectors: e^x = 2^n e^r with n = round(x / ln 2) and
/// r = x − n ln 2 (|r| ≤ ln 2 / 2; ln 2 split in two parts), e^r by its Taylor polynomial of
/// degree `degree` (truncation error below one unit in the last place), 2^n built in the
/// exponent bits. x = −z is clamped to the range where 2^n is a normal number (a NaN passes
/// through the clamp and the arithmetic).
macro_rules! simd_sigmoid {
    (
        $module:ident, $feature:literal, $elem:ty, $v:ty, lanes = $lanes:expr, degree = $degree:expr,
        clamp = ($lo:expr, $hi:expr), magic = $magic:expr, ln2 = ($ln2hi:expr, $ln2lo:expr),
        shift = $shift:expr, bias = $bias:expr, int = $int:ty,
        slli = $slli:ident, addi = $addi:ident, set1i = $set1i:ident,
        tobits = $tobits:ident, frombits = $frombits:ident,
        load = $load:ident, store = $store:ident, splat = $splat:ident, fma = $fma:ident,
        add = $add:ident, sub = $sub:ident, mul = $mul:ident, div = $div:ident, min = $min:ident,
        max = $max:ident, mask = $mask:ident, mload = $mload:ident, mstore = $mstore:ident
    ) => {
        pub(crate) mod $module {
            #[allow(clippy::wildcard_imports)]
            use super::masks::*;
            #[allow(clippy::wildcard_imports)]
            use core::arch::x86_64::*;

            const LANES: usize = $lanes;

            /// 1/k! for k = 0..=degree.
            const COEF: [$elem; $degree + 1] = {
                let mut c = [0.0 as $elem; $degree + 1];
                let mut f = 1.0f64;
                let mut k = 0;
                while k <= $degree {
                    if k > 0 {
                        f *= k as f64;
                    }
                    c[k] = (1.0 / f) as $elem;
                    k += 1;
                }
                c
            };

            /// σ(z) for one vector.
            #[target_feature(enable = $feature)]
            #[inline]
            pub(crate) fn sigmoid_v(z: $v) -> $v {
                // x = −z, clamped; min/max return their second operand for a NaN, so x keeps it.
                let x = $max($splat($lo), $min($splat($hi), $sub($splat(0.0), z)));
                let magic = $splat($magic);
                let t = $fma(x, $splat(std::f64::consts::LOG2_E as $elem), magic);
                let n = $sub(t, magic);
                let r = $fma(n, $splat(-$ln2hi), x);
                let r = $fma(n, $splat(-$ln2lo), r);
                // Σ_k r^k / k! by Estrin's scheme: pairs c_2i + c_2i+1 r, then pairs of
                // those with r², r⁴, …: a chain of ⌈log2(degree + 1)⌉ FMAs (4 for f64's 13,
                // 3 for f32's 7) where Horner's has `degree`. A network of one sample waits for
                // every σ in turn (the seed's 3-4-5-2, S1: 0.255 → 0.242 µs per step).
                let mut q = [$splat(0.0); $degree + 1];
                for (q, &c) in q.iter_mut().zip(&COEF) {
                    *q = $splat(c);
                }
                let mut len: usize = $degree + 1;
                let mut power = r;
                while len > 1 {
                    let half = len.div_ceil(2);
                    for i in 0..half {
                        if 2 * i + 1 < len {
                            q[i] = $fma(q[2 * i + 1], power, q[2 * i]);
                        } else {
                            q[i] = q[2 * i];
                        }
                    }
                    len = half;
                    power = $mul(power, power);
                }
                let p = q[0];
                // 2^n: the low bits of t hold n; shift them into the exponent field.
                let bits = $addi(
                    $slli::<$shift>($tobits(t)),
                    $set1i(($bias as $int) << $shift),
                );
                let e = $mul(p, $frombits(bits));
                $div($splat(1.0), $add($splat(1.0), e))
            }

            /// a = σ(z) element-wise.
            ///
            /// # Safety
            /// The CPU has the module's features; `z` and `a` hold `len` elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn sigmoid(len: usize, z: *const $elem, a: *mut $elem) {
                // SAFETY: every offset is < len; the tail's vector is masked to it.
                unsafe {
                    let mut i = 0;
                    while i + LANES <= len {
                        $store(a.add(i), sigmoid_v($load(z.add(i))));
                        i += LANES;
                    }
                    if i < len {
                        // A masked vector, not a copy through a buffer: the seed's layers (4,
                        // 5 rows) are all tail.
                        let k = $mask(0, len - i);
                        $mstore(a.add(i), k, sigmoid_v($mload(z.add(i), k)));
                    }
                }
            }

            /// d ← d ⊙ σ′(z) with σ′(z) = σ(z)(1 − σ(z)), element-wise.
            ///
            /// # Safety
            /// The CPU has the module's features; `z` and `d` hold `len` elements.
            #[target_feature(enable = $feature)]
            pub(crate) unsafe fn sigmoid_mul_prime(len: usize, z: *const $elem, d: *mut $elem) {
                // SAFETY: every offset is < len; the tail's vector is masked to it.
                unsafe {
                    let one = $splat(1.0);
                    let mut i = 0;
                    while i + LANES <= len {
                        let s = sigmoid_v($load(z.add(i)));
                        let ds = $mul(s, $sub(one, s));
                        $store(d.add(i), $mul($load(d.add(i)), ds));
                        i += LANES;
                    }
                    if i < len {
                        let k = $mask(0, len - i);
                        let s = sigmoid_v($mload(z.add(i), k));
                        let ds = $mul(s, $sub(one, s));
                        $mstore(d.add(i), k, $mul($mload(d.add(i), k), ds));
                    }
                }
            }
        }
    };
}

simd_sigmoid!(
    sigmoid_f64_avx512,
    "avx512f",
    f64,
    __m512d,
    lanes = 8,
    degree = 13,
    clamp = (-708.0, 709.0),
    magic = 6755399441055744.0,
    ln2 = (6.931_471_803_691_238e-1, 1.908_214_929_270_587_7e-10),
    shift = 52,
    bias = 1023,
    int = i64,
    slli = _mm512_slli_epi64,
    addi = _mm512_add_epi64,
    set1i = _mm512_set1_epi64,
    tobits = _mm512_castpd_si512,
    frombits = _mm512_castsi512_pd,
    load = _mm512_loadu_pd,
    store = _mm512_storeu_pd,
    splat = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    add = _mm512_add_pd,
    sub = _mm512_sub_pd,
    mul = _mm512_mul_pd,
    div = _mm512_div_pd,
    min = _mm512_min_pd,
    max = _mm512_max_pd,
    mask = mask_f64_avx512,
    mload = mload_f64_avx512,
    mstore = mstore_f64_avx512
);
simd_sigmoid!(
    sigmoid_f32_avx512,
    "avx512f",
    f32,
    __m512,
    lanes = 16,
    degree = 7,
    clamp = (-87.0, 88.0),
    magic = 12582912.0,
    ln2 = (0.693_359_4, -2.121_944_4e-4),
    shift = 23,
    bias = 127,
    int = i32,
    slli = _mm512_slli_epi32,
    addi = _mm512_add_epi32,
    set1i = _mm512_set1_epi32,
    tobits = _mm512_castps_si512,
    frombits = _mm512_castsi512_ps,
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    splat = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    add = _mm512_add_ps,
    sub = _mm512_sub_ps,
    mul = _mm512_mul_ps,
    div = _mm512_div_ps,
    min = _mm512_min_ps,
    max = _mm512_max_ps,
    mask = mask_f32_avx512,
    mload = mload_f32_avx512,
    mstore = mstore_f32_avx512
);
simd_sigmoid!(
    sigmoid_f64_avx2,
    "avx2,fma",
    f64,
    __m256d,
    lanes = 4,
    degree = 13,
    clamp = (-708.0, 709.0),
    magic = 6755399441055744.0,
    ln2 = (6.931_471_803_691_238e-1, 1.908_214_929_270_587_7e-10),
    shift = 52,
    bias = 1023,
    int = i64,
    slli = _mm256_slli_epi64,
    addi = _mm256_add_epi64,
    set1i = _mm256_set1_epi64x,
    tobits = _mm256_castpd_si256,
    frombits = _mm256_castsi256_pd,
    load = _mm256_loadu_pd,
    store = _mm256_storeu_pd,
    splat = _mm256_set1_pd,
    fma = _mm256_fmadd_pd,
    add = _mm256_add_pd,
    sub = _mm256_sub_pd,
    mul = _mm256_mul_pd,
    div = _mm256_div_pd,
    min = _mm256_min_pd,
    max = _mm256_max_pd,
    mask = mask_f64_avx2,
    mload = mload_f64_avx2,
    mstore = mstore_f64_avx2
);
simd_sigmoid!(
    sigmoid_f32_avx2,
    "avx2,fma",
    f32,
    __m256,
    lanes = 8,
    degree = 7,
    clamp = (-87.0, 88.0),
    magic = 12582912.0,
    ln2 = (0.693_359_4, -2.121_944_4e-4),
    shift = 23,
    bias = 127,
    int = i32,
    slli = _mm256_slli_epi32,
    addi = _mm256_add_epi32,
    set1i = _mm256_set1_epi32,
    tobits = _mm256_castps_si256,
    frombits = _mm256_castsi256_ps,
    load = _mm256_loadu_ps,
    store = _mm256_storeu_ps,
    splat = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    add = _mm256_add_ps,
    sub = _mm256_sub_ps,
    mul = _mm256_mul_ps,
    div = _mm256_div_ps,
    min = _mm256_min_ps,
    max = _mm256_max_ps,
    mask = mask_f32_avx2,
    mload = mload_f32_avx2,
    mstore = mstore_f32_avx2
);

/// Aᵀ into a column-major m × k buffer from A stored k × m (column i of A, k elements, is row
/// i of Aᵀ): dst[i + p·m] = a[p + i·k]. The small products' C = Aᵀ B reads Aᵀ's columns as
/// vectors. Blocks of L × L (L elements to a vector) are transposed in registers, the edges
/// element by element: T1's 24 × 24 W_1ᵀ took 260 ns element by element, a quarter of the
/// product it feeds.
pub(crate) mod transpose {
    #[allow(clippy::wildcard_imports)]
    use core::arch::x86_64::*;

    /// Every whole L × L block by `block(src, out)` (src: the block's first element in A, its
    /// L columns k apart; out: its first in Aᵀ, its L rows m apart), then the edges (i, p) for
    /// i ≥ m − m mod L or p ≥ k − k mod L element by element. Inlined into each kernel, whose
    /// instructions the closure then uses.
    ///
    /// # Safety
    /// a holds k·m elements, dst m·k; `block` reads and writes only the L × L block it is given.
    #[inline(always)]
    unsafe fn blocks<E: Copy, const L: usize>(
        m: usize,
        k: usize,
        a: *const E,
        dst: *mut E,
        mut block: impl FnMut(*const E, *mut E),
    ) {
        let (mb, kb) = (m / L * L, k / L * L);
        // SAFETY: every block lies within columns i0..i0+L ≤ m and elements p0..p0+L ≤ k; the
        // edges' i < m, p < k.
        unsafe {
            for i0 in (0..mb).step_by(L) {
                for p0 in (0..kb).step_by(L) {
                    block(a.add(p0 + i0 * k), dst.add(i0 + p0 * m));
                }
            }
            for i in 0..m {
                let from = if i < mb { kb } else { 0 };
                for p in from..k {
                    *dst.add(i + p * m) = *a.add(p + i * k);
                }
            }
        }
    }

    /// f64 in 8 × 8 blocks (AVX-512).
    ///
    /// # Safety
    /// The CPU has AVX-512F; a holds k·m elements, dst m·k.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn f64_avx512(m: usize, k: usize, a: *const f64, dst: *mut f64) {
        const L: usize = 8;
        // SAFETY: the loads and stores stay within the block `blocks` hands over.
        unsafe {
            let idx: [[__m512i; 2]; 3] = core::array::from_fn(|s| {
                core::array::from_fn(|h| {
                    _mm512_loadu_si512(super::pack_avx512::F64_INDEX[s][h].as_ptr().cast())
                })
            });
            blocks::<f64, L>(m, k, a, dst, |src, out| {
                let mut v: [__m512d; L] = core::array::from_fn(|j| _mm512_loadu_pd(src.add(j * k)));
                for (s, d) in [4usize, 2, 1].into_iter().enumerate() {
                    for i in 0..L {
                        if i & d == 0 {
                            let (x, y) = (v[i], v[i + d]);
                            v[i] = _mm512_permutex2var_pd(x, idx[s][0], y);
                            v[i + d] = _mm512_permutex2var_pd(x, idx[s][1], y);
                        }
                    }
                }
                for (q, row) in v.iter().enumerate() {
                    _mm512_storeu_pd(out.add(q * m), *row);
                }
            });
        }
    }

    /// f64 in 4 × 4 blocks (AVX2).
    ///
    /// # Safety
    /// The CPU has AVX2; a holds k·m elements, dst m·k.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn f64_avx2(m: usize, k: usize, a: *const f64, dst: *mut f64) {
        const L: usize = 4;
        // SAFETY: as in `f64_avx512`.
        unsafe {
            blocks::<f64, L>(m, k, a, dst, |src, out| {
                let c: [__m256d; L] = core::array::from_fn(|j| _mm256_loadu_pd(src.add(j * k)));
                let t0 = _mm256_unpacklo_pd(c[0], c[1]);
                let t1 = _mm256_unpackhi_pd(c[0], c[1]);
                let t2 = _mm256_unpacklo_pd(c[2], c[3]);
                let t3 = _mm256_unpackhi_pd(c[2], c[3]);
                let rows = [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ];
                for (q, row) in rows.iter().enumerate() {
                    _mm256_storeu_pd(out.add(q * m), *row);
                }
            });
        }
    }

    /// f32 in 8 × 8 blocks (AVX2; also on AVX-512).
    ///
    /// # Safety
    /// The CPU has AVX2; a holds k·m elements, dst m·k.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn f32_avx2(m: usize, k: usize, a: *const f32, dst: *mut f32) {
        const L: usize = 8;
        // SAFETY: as in `f64_avx512`.
        unsafe {
            blocks::<f32, L>(m, k, a, dst, |src, out| {
                let c: [__m256; L] = core::array::from_fn(|j| _mm256_loadu_ps(src.add(j * k)));
                let rows = super::pack_avx2::transpose8_f32(c);
                for (q, row) in rows.iter().enumerate() {
                    _mm256_storeu_ps(out.add(q * m), *row);
                }
            });
        }
    }
}
