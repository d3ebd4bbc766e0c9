/*!
The machine room of [`backprop`](https://docs.rs/backprop): the matrix products and element-wise
passes of a training step, as fast as this CPU allows, and nothing of the network itself.

| item | what it does |
|---|---|
| [`Product`], [`Operand`] | C ← α op(A) op(B) (+ C), column-major, op = itself or transposed |
| [`isa`], [`detect`], [`Isa`] | which kernels run: AVX-512F or AVX2 + FMA (x86-64, detected at run time), or the portable path |
| [`sigmoid`] | σ and σ′ passes, vectorised, split between threads |
| [`ThreadPool`] | workers that split a large product or pass, without allocating per call |
| [`AlignedVec`] | buffers that start on a cache line, allocated fallibly |
| [`CacheAligned`] | an opt-in global allocator that starts every block ≥ 64 bytes on a cache line |
| [`mod@reference`] | the plain triple loops every kernel is tested against |
| [`stream`] | passes that only read, or read and write, a slice: the memory floor under a one-sample step |

# Paths

On x86-64 the products run on the crate's own kernels: a packed, blocked GEMM with MR × NR
register-tile micro-kernels for AVX-512F or AVX2 + FMA, chosen once at run time, and matrix–vector
and rank-1 kernels for batches of one. Everywhere else — another architecture, an x86-64 CPU
without AVX2 and FMA, or the `portable` cargo feature, which compiles the x86 kernels out — the
products run on `matrixmultiply`, the product behind nalgebra's own (with its SSE, AVX and NEON
kernels), reading transposed operands through their strides. `BACKPROP_ISA=portable` (or `avx2`)
lowers the choice at run time.

This is the only crate of the workspace with `unsafe` code or `target_arch`-specific code; every
kernel is tested against [`mod@reference`] with a rounding-derived tolerance on every path the CPU
runs.
*/

#[cfg(x86_kernels)]
mod gemm;
#[cfg(x86_kernels)]
mod simd;

pub mod aligned;
pub mod narrow;
pub mod pool;
pub mod product;
pub mod reference;
pub mod sigmoid;
pub mod small;
pub mod stream;

pub use aligned::{AlignedVec, CACHE_LINE, CacheAligned};
pub use pool::ThreadPool;
pub use product::{Isa, Operand, Product, detect, isa};

use nalgebra::{DMatrixView, RealField};
#[cfg(x86_kernels)]
use std::any::TypeId;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types the kernels compute in: `f32` and `f64` (sealed).
pub trait Real: RealField + Copy + Default + Send + Sync + sealed::Sealed + 'static {
    /// Machine epsilon: the gap between 1 and the next representable number.
    const EPS: Self;

    /// `x` rounded to the nearest value of this type.
    fn narrow(x: f64) -> Self;
    /// This value widened (exactly) to `f64`.
    fn widen(self) -> f64;
}

impl Real for f32 {
    const EPS: Self = f32::EPSILON;

    #[inline(always)]
    fn narrow(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    const EPS: Self = f64::EPSILON;

    #[inline(always)]
    fn narrow(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
}

/// The elements of `v` as one column-major slice, when the view is one contiguous block (a
/// whole matrix, or whole columns of one), so that a product can read it in place; `None`
/// otherwise (rows of a matrix, a transposed view, an empty one).
pub fn contiguous<T: Real>(v: DMatrixView<'_, T>) -> Option<&[T]> {
    let (rs, cs) = v.strides();
    let len = v.nrows() * v.ncols();
    (rs == 1 && (cs == v.nrows() || v.ncols() <= 1) && len > 0).then(|| {
        // SAFETY: with row stride 1 and column stride nrows (or a single column), the view's
        // nrows·ncols elements are consecutive from its first one, all inside the data the
        // view borrows for its lifetime.
        unsafe { std::slice::from_raw_parts(v.as_ptr(), len) }
    })
}

/// `s` as a slice of `U` when `T` is `U`.
#[cfg(x86_kernels)]
fn cast<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len()) })
}

/// `s` as a mutable slice of `U` when `T` is `U`.
#[cfg(x86_kernels)]
fn cast_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    (TypeId::of::<T>() == TypeId::of::<U>())
        // SAFETY: T and U are the same type; the borrow is moved into the result.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<U>(), s.len()) })
}

/// A pointer shared with the pool's threads, each of which uses a disjoint range of it.
#[derive(Clone, Copy)]
struct Disjoint<P>(P);
// SAFETY: the users of `Disjoint` hand each thread a disjoint range of the memory behind it,
// and wait for every thread before the borrow it came from ends.
unsafe impl<P> Sync for Disjoint<P> {}
// SAFETY: as above.
unsafe impl<P> Send for Disjoint<P> {}
impl<P: Copy> Disjoint<P> {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(self) -> P {
        self.0
    }
}

#[cfg(test)]
mod contiguous_tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn whole_columns_are_contiguous_and_rows_or_transposes_are_not() {
        let m = DMatrix::<f64>::from_fn(4, 5, |i, j| (i + 10 * j) as f64);
        assert_eq!(contiguous(m.as_view()), Some(m.as_slice()));
        assert_eq!(
            contiguous(m.columns(1, 3)),
            Some(&m.as_slice()[4..16]),
            "columns 1..4"
        );
        assert_eq!(contiguous(m.rows(1, 2)), None);
        let t = m.transpose();
        assert_eq!(contiguous(t.columns(0, 1)), Some(&t.as_slice()[..5]));
        assert_eq!(contiguous(m.columns(0, 0)), None);
    }
}

/// What the unit tests of every module share: the paths to check and a generator.
#[cfg(test)]
mod testing {
    use crate::{Isa, Real};

    /// The instruction sets this CPU can run, all checked.
    pub(crate) fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        match crate::detect() {
            Isa::Avx512 => v.extend([Isa::Avx2, Isa::Avx512]),
            Isa::Avx2 => v.push(Isa::Avx2),
            Isa::Portable => {}
        }
        v
    }

    /// A small deterministic generator (xorshift), values in [−1, 1).
    pub(crate) struct Gen(pub(crate) u64);
    impl Gen {
        pub(crate) fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            ((self.next() + 1.0) / 2.0 * n as f64) as usize % n
        }
        pub(crate) fn vec<T: Real>(&mut self, len: usize) -> Vec<T> {
            (0..len).map(|_| T::narrow(self.next())).collect()
        }
    }
}

/// The crate README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
