//! Memory: guards that refuse, before allocating, networks and data that would not fit, and
//! [`CacheAligned`], the global allocator that starts matrices on a cache line.
//!
//! The limit is the machine's available memory (`MemAvailable` in `/proc/meminfo`, or 8 GiB
//! where that cannot be read), overridable with the environment variable
//! `BACKPROP_MEMORY_LIMIT` (bytes).

use std::alloc::{GlobalAlloc, Layout, System};

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// The number of bytes the crate allows one network or data set to take.
pub fn limit() -> u128 {
    if let Some(bytes) = std::env::var("BACKPROP_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u128>().ok())
    {
        return bytes;
    }
    available().unwrap_or(8 << 30)
}

fn available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `bytes` for `what` when it exceeds [`limit`].
///
/// # Errors
/// [`Error::TooLarge`] stating the bytes needed and the limit.
pub fn check(what: impl FnOnce() -> String, bytes: u128) -> Result<()> {
    let limit = limit();
    if bytes > limit {
        return Err(Error::TooLarge {
            what: what(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// Bytes of the weights of a network with layer sizes `sizes`, Σ l_{i+1} l_i elements of T.
pub fn weight_bytes<T: Scalar>(sizes: &[usize]) -> u128 {
    sizes
        .windows(2)
        .map(|l| l[0] as u128 * l[1] as u128)
        .sum::<u128>()
        * T::DTYPE.size() as u128
}

/// Refuses a network whose weights alone would exceed the limit.
pub(crate) fn check_weights<T: Scalar>(sizes: &[usize]) -> Result<()> {
    check(
        || format!("a network of sizes {sizes:?} ({})", T::DTYPE),
        weight_bytes::<T>(sizes),
    )
}

/// Bytes of a cache line (and of an AVX-512 vector), the alignment [`CacheAligned`] gives.
pub const CACHE_LINE: usize = 64;

/// A global allocator: the system's, except that every block of at least [`CACHE_LINE`] bytes
/// starts on a cache line.
///
/// Matrices (nalgebra's `Vec` storage: weights W_i, batches, the workspace's Z_i, A_i, Δ_i)
/// come from the global allocator, and glibc's `malloc` aligns to 16 bytes only, so that a
/// 32-byte AVX vector of a column straddles two cache lines once in every four loads or
/// stores, and where a matrix lands mod 64 changes from run to run. The kernels stream the
/// columns of W_i with such vectors; aligned, the step runs faster and steadier (AMD EPYC,
/// AVX2, `step-timer`, medians of 3 alternated runs: S2 f64 31.8 → 27.9 µs, S2 f32 17.5 →
/// 14.2 µs, S3 f32 304 → 299 µs). The crate's binaries (the `backprop` command, the benches)
/// install it; a program that embeds the crate can too:
///
/// ```
/// #[global_allocator]
/// static GLOBAL: backprop::memory::CacheAligned = backprop::memory::CacheAligned;
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
    fn absurd_networks_are_refused_before_allocating() {
        let err =
            crate::Network::<f64>::random(&[100_000, 100_000, 100_000], crate::Activation::Tanh, 0)
                .unwrap_err();
        match err {
            Error::TooLarge { bytes, limit, .. } => {
                assert_eq!(bytes, 2 * 100_000u128 * 100_000 * 8);
                assert!(bytes > limit);
            }
            other => panic!("expected TooLarge, got {other}"),
        }
    }
}
