//! Memory that starts on a cache line: [`AlignedVec`], the buffers the kernels' callers own, and
//! [`CacheAligned`], an opt-in global allocator for everything else.
//!
//! The kernels stream the columns of their operands with 32- or 64-byte vector loads and
//! stores; a vector that straddles two cache lines costs two accesses. glibc's `malloc`, which
//! `Vec` and so nalgebra's matrices come from, aligns to 16 bytes only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::Real;

/// Bytes of a cache line (and of an AVX-512 vector), the alignment [`CacheAligned`] gives.
pub const CACHE_LINE: usize = 64;

/// A global allocator: the system's, except that every block of at least [`CACHE_LINE`] bytes
/// starts on a cache line.
///
/// The buffers a caller owns for the kernels can be [`AlignedVec`]s (`backprop`'s workspace
/// is); everything else — nalgebra's `Vec` storage of the weights W_i and of the batches —
/// comes from the global allocator, whose alignment is glibc's 16 bytes, so that a 32-byte
/// vector of a column straddles two cache lines once in every four loads or stores, and where
/// a matrix lands mod 64 changes from run to run. A program may install this allocator to
/// align those too (opt-in; no crate of the workspace needs it for its figures):
///
/// ```
/// #[global_allocator]
/// static GLOBAL: backprop_kernels::CacheAligned = backprop_kernels::CacheAligned;
/// ```
///
/// Smaller blocks keep the system's alignment, so that small strings cost no more than before.
/// The kernels give the same results either way; only their speed depends on alignment.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheAligned;

/// The layout [`CacheAligned`] asks the system for in place of `layout`: its alignment raised
/// to [`CACHE_LINE`] when it holds at least a cache line (and the raised layout is valid).
fn cache_aligned(layout: Layout) -> Layout {
    if layout.size() >= CACHE_LINE && layout.align() < CACHE_LINE {
        Layout::from_size_align(layout.size(), CACHE_LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block is allocated, resized and freed by `System` with the same layout,
// `cache_aligned(layout)`, a function of the caller's layout only; its alignment is at least
// the caller's and its size the caller's, so each block meets `GlobalAlloc`'s contract.
unsafe impl GlobalAlloc for CacheAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `cache_aligned` keeps a non-zero size non-zero.
        unsafe { System.alloc(cache_aligned(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(cache_aligned(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `cache_aligned(layout)`.
        unsafe { System.dealloc(ptr, cache_aligned(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = cache_aligned(layout);
        // SAFETY: the caller guarantees that `new_size`, rounded up to `layout.align()`, does
        // not overflow isize.
        let new =
            cache_aligned(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) });
        if new.align() == old.align() {
            // SAFETY: `ptr` was allocated by `System` with `old`; same alignment after.
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // The block crosses CACHE_LINE bytes, and with it its alignment: move it.
        // SAFETY: `new` has a non-zero size; both blocks hold min(old, new) bytes; `ptr` was
        // allocated by `System` with `old`.
        unsafe {
            let moved = System.alloc(new);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(ptr, moved, old.size().min(new_size));
                System.dealloc(ptr, old);
            }
            moved
        }
    }
}

/// A fixed-length buffer of zero-initialised elements that starts on a cache line
/// ([`CACHE_LINE`]), allocated fallibly: a buffer that cannot be had is an error for the caller
/// to report, not an abort.
pub struct AlignedVec<T: Real> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: an AlignedVec owns its elements as a Vec does; T: Real is Send + Sync.
unsafe impl<T: Real> Send for AlignedVec<T> {}
// SAFETY: as above.
unsafe impl<T: Real> Sync for AlignedVec<T> {}

/// Why an [`AlignedVec`] could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError {
    /// The bytes asked for; `None` when `len · size_of::<T>()` overflows.
    pub bytes: Option<usize>,
}

impl std::fmt::Display for AllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bytes {
            Some(b) => write!(f, "{b} bytes could not be allocated"),
            None => f.write_str("the size overflows the address space"),
        }
    }
}

impl std::error::Error for AllocError {}

impl<T: Real> AlignedVec<T> {
    /// `len` zeros, starting on a cache line.
    ///
    /// # Errors
    /// [`AllocError`] when the size overflows `isize` or the allocator refuses it.
    pub fn zeros(len: usize) -> Result<Self, AllocError> {
        let overflow = AllocError { bytes: None };
        let bytes = len.checked_mul(size_of::<T>()).ok_or(overflow)?;
        if bytes == 0 {
            return Ok(Self {
                ptr: NonNull::dangling(),
                len,
            });
        }
        let layout = Layout::from_size_align(bytes, CACHE_LINE).map_err(|_| overflow)?;
        // SAFETY: the layout has a non-zero size. All-zero bits are 0.0 in f32 and f64, the
        // only `Real` types.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw.cast::<T>()).ok_or(AllocError { bytes: Some(bytes) })?;
        Ok(Self { ptr, len })
    }

    fn layout(&self) -> Layout {
        Layout::from_size_align(self.len * size_of::<T>(), CACHE_LINE)
            .expect("checked when allocated")
    }
}

impl<T: Real> Deref for AlignedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised elements (or is dangling with len · size 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Real> DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as `deref`, and `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Real> Drop for AlignedVec<T> {
    fn drop(&mut self) {
        if self.len * size_of::<T>() > 0 {
            // SAFETY: allocated in `zeros` with this layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), self.layout()) }
        }
    }
}

impl<T: Real> Clone for AlignedVec<T> {
    /// A copy, on a cache line of its own.
    ///
    /// # Panics
    /// Aborts through [`std::alloc::handle_alloc_error`] when the copy cannot be allocated, as
    /// `Vec::clone` does.
    fn clone(&self) -> Self {
        let mut copy =
            Self::zeros(self.len).unwrap_or_else(|_| std::alloc::handle_alloc_error(self.layout()));
        copy.copy_from_slice(self);
        copy
    }
}

impl<T: Real> std::fmt::Debug for AlignedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_aligned_blocks_start_on_a_cache_line_and_keep_their_bytes() {
        let a = CacheAligned;
        for size in [1, 8, 16, 63, 64, 100, 1000, 6272, 200_000, 803_000] {
            for align in [1, 8, 16, 128] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every block is freed with the layout it has.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    let want = if size >= CACHE_LINE {
                        CACHE_LINE.max(align)
                    } else {
                        align
                    };
                    assert_eq!(p as usize % want, 0, "size {size}, align {align}");
                    for i in 0..size {
                        *p.add(i) = (i % 251) as u8;
                    }
                    // Grow across the cache line (and across the mmap threshold), then shrink
                    // below it: the bytes move with the block, and its alignment follows.
                    let grown = a.realloc(p, layout, size * 3 + 70);
                    assert!(!grown.is_null());
                    assert_eq!(grown as usize % CACHE_LINE.max(align), 0);
                    for i in 0..size {
                        assert_eq!(*grown.add(i), (i % 251) as u8, "byte {i} after growing");
                    }
                    let grown_layout = Layout::from_size_align(size * 3 + 70, align).unwrap();
                    let keep = 40.min(size);
                    let shrunk = a.realloc(grown, grown_layout, keep);
                    assert!(!shrunk.is_null());
                    assert_eq!(shrunk as usize % align, 0);
                    for i in 0..keep {
                        assert_eq!(*shrunk.add(i), (i % 251) as u8, "byte {i} after shrinking");
                    }
                    a.dealloc(shrunk, Layout::from_size_align(keep, align).unwrap());

                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(z as usize % want, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn aligned_vecs_start_on_a_cache_line_hold_zeros_and_clone() {
        for len in [0, 1, 7, 8, 100, 100_003] {
            let mut v = AlignedVec::<f32>::zeros(len).unwrap();
            assert_eq!(v.len(), len);
            if len > 0 {
                assert_eq!(v.as_ptr() as usize % CACHE_LINE, 0, "len {len}");
            }
            assert!(v.iter().all(|&x| x == 0.0));
            for (i, x) in v.iter_mut().enumerate() {
                *x = i as f32;
            }
            let c = v.clone();
            assert_eq!(&c[..], &v[..]);
            if len > 0 {
                assert_eq!(c.as_ptr() as usize % CACHE_LINE, 0);
            }
        }
    }

    #[test]
    fn impossible_aligned_vecs_are_errors_not_aborts() {
        assert_eq!(
            AlignedVec::<f64>::zeros(usize::MAX).unwrap_err(),
            AllocError { bytes: None }
        );
        // Fits usize, not isize: the layout is refused.
        assert!(AlignedVec::<f64>::zeros(usize::MAX / 8).is_err());
    }
}
