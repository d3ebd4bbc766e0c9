//! Passes that only move memory, at the widest loads and stores this CPU has: the floor under
//! a kernel that must stream a matrix through the caches. A one-sample step reads W_0 once
//! for z_1 = W_0 a_0 and reads and writes it once for W_0 ← W_0 − m δ_1 a_0ᵀ; no
//! arithmetic makes those passes faster than
//!
//! ```text
//! read(W_0)        every byte loaded, folded by XOR        (z_1 = W_0 a_0's traffic)
//! flip(W_0, mask)  every byte loaded, XORed, stored back   (the rank-1 update's)
//! ```
//!
//! `step-timer --floor` times both beside the step and the plain-nalgebra baseline, to tell a
//! slow kernel from a memory-bound one. The bytes are bits, not numbers: nothing here rounds,
//! and `flip` twice with one mask restores the slice bit for bit. As the step's kernels do,
//! the vector passes start at the first cache line inside the slice (the bytes before it
//! and after the last whole line one at a time), so that no load or store straddles two
//! lines.

use crate::Real;
use crate::product::{Isa, isa};

/// Bytes per vector pass block: a cache line.
#[cfg(x86_kernels)]
const LINE: usize = 64;

/// `a`'s bytes, every element's.
fn bytes<T: Real>(a: &[T]) -> &[u8] {
    // SAFETY: f32 and f64 (the only `Real`s) have no padding and every bit pattern is a byte
    // pattern; the slice covers exactly `a`'s elements for `a`'s lifetime.
    unsafe { std::slice::from_raw_parts(a.as_ptr().cast::<u8>(), std::mem::size_of_val(a)) }
}

/// `a`'s bytes, every element's, writable.
fn bytes_mut<T: Real>(a: &mut [T]) -> &mut [u8] {
    let len = std::mem::size_of_val(a);
    // SAFETY: as `bytes`; every byte pattern written back is a valid f32 or f64 (possibly a
    // NaN), and the borrow of `a` is moved into the result.
    unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<u8>(), len) }
}

/// The XOR of every byte of `a`: one read of `a`, eight vectors in flight.
pub fn read<T: Real>(a: &[T]) -> u8 {
    read_with(isa(), a)
}

/// [`read`] on instruction set `i` (at most what the CPU has).
fn read_with<T: Real>(i: Isa, a: &[T]) -> u8 {
    let b = bytes(a);
    #[cfg(x86_kernels)]
    if i != Isa::Portable {
        let (head, body, tail) = lines(b);
        let p = b[head..].as_ptr();
        let folded = match i {
            // SAFETY: the CPU has AVX-512F; p..p + body is within b, on a cache line.
            Isa::Avx512 => unsafe { x86::read_avx512(p, body) },
            // SAFETY: the CPU has AVX2; as above.
            _ => unsafe { x86::read_avx2(p, body) },
        };
        return folded ^ read_bytes(&b[..head]) ^ read_bytes(&b[b.len() - tail..]);
    }
    let _ = i;
    read_bytes(b)
}

/// Every byte of `a` ← byte XOR `mask`: one read and one write of `a`.
pub fn flip<T: Real>(a: &mut [T], mask: u8) {
    flip_with(isa(), a, mask);
}

/// [`flip`] on instruction set `i` (at most what the CPU has).
fn flip_with<T: Real>(i: Isa, a: &mut [T], mask: u8) {
    let b = bytes_mut(a);
    #[cfg(x86_kernels)]
    if i != Isa::Portable {
        let (head, body, tail) = lines(b);
        let len = b.len();
        let p = b[head..].as_mut_ptr();
        match i {
            // SAFETY: the CPU has AVX-512F; p..p + body is within b, on a cache line.
            Isa::Avx512 => unsafe { x86::flip_avx512(p, body, mask) },
            // SAFETY: the CPU has AVX2; as above.
            _ => unsafe { x86::flip_avx2(p, body, mask) },
        }
        flip_bytes(&mut b[..head], mask);
        flip_bytes(&mut b[len - tail..], mask);
        return;
    }
    let _ = i;
    flip_bytes(b, mask);
}

/// (head, body, tail): the bytes of `b` before its first cache line, in its whole lines, and
/// after them.
#[cfg(x86_kernels)]
fn lines(b: &[u8]) -> (usize, usize, usize) {
    let head = b.as_ptr().align_offset(LINE).min(b.len());
    let body = (b.len() - head) / LINE * LINE;
    (head, body, b.len() - head - body)
}

/// [`read`] in plain code: eight bytes a step in a 64-bit word, folded to one at the end.
fn read_bytes(b: &[u8]) -> u8 {
    let mut words = b.chunks_exact(8);
    let mut acc = 0u64;
    for w in &mut words {
        acc ^= u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    }
    let folded = acc.to_ne_bytes().iter().fold(0, |x, &y| x ^ y);
    words.remainder().iter().fold(folded, |x, &y| x ^ y)
}

/// [`flip`] in plain code.
fn flip_bytes(b: &mut [u8], mask: u8) {
    for x in b {
        *x ^= mask;
    }
}

#[cfg(x86_kernels)]
mod x86 {
    #[allow(clippy::wildcard_imports)]
    use core::arch::x86_64::*;

    /// The XOR of the bytes of `len` bytes (a multiple of 64) from `p`, in eight 512-bit
    /// accumulators.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `p` is 64-byte aligned and holds `len` bytes.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn read_avx512(p: *const u8, len: usize) -> u8 {
        // SAFETY: every load lies within p..p + len, on a 64-byte boundary.
        unsafe {
            let mut acc = [_mm512_setzero_si512(); 8];
            let mut o = 0;
            while o + 512 <= len {
                for (u, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_xor_si512(*a, _mm512_load_si512(p.add(o + 64 * u).cast()));
                }
                o += 512;
            }
            while o < len {
                acc[0] = _mm512_xor_si512(acc[0], _mm512_load_si512(p.add(o).cast()));
                o += 64;
            }
            let mut x = acc[0];
            for a in &acc[1..] {
                x = _mm512_xor_si512(x, *a);
            }
            let mut w = [0u8; 64];
            _mm512_storeu_si512(w.as_mut_ptr().cast(), x);
            w.iter().fold(0, |s, &v| s ^ v)
        }
    }

    /// As [`read_avx512`], in eight 256-bit accumulators.
    ///
    /// # Safety
    /// The CPU has AVX2; `p` is 64-byte aligned and holds `len` bytes (a multiple of 64).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn read_avx2(p: *const u8, len: usize) -> u8 {
        // SAFETY: every load lies within p..p + len, on a 32-byte boundary.
        unsafe {
            let mut acc = [_mm256_setzero_si256(); 8];
            let mut o = 0;
            while o + 256 <= len {
                for (u, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_xor_si256(*a, _mm256_load_si256(p.add(o + 32 * u).cast()));
                }
                o += 256;
            }
            while o < len {
                acc[0] = _mm256_xor_si256(acc[0], _mm256_load_si256(p.add(o).cast()));
                o += 32;
            }
            let mut x = acc[0];
            for a in &acc[1..] {
                x = _mm256_xor_si256(x, *a);
            }
            let mut w = [0u8; 32];
            _mm256_storeu_si256(w.as_mut_ptr().cast(), x);
            w.iter().fold(0, |s, &v| s ^ v)
        }
    }

    /// Every byte of `len` bytes (a multiple of 64) from `p` ← byte XOR `mask`.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `p` is 64-byte aligned and holds `len` writable bytes.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn flip_avx512(p: *mut u8, len: usize, mask: u8) {
        // SAFETY: every load and store lies within p..p + len, on a 64-byte boundary.
        unsafe {
            let k = _mm512_set1_epi8(mask as i8);
            let mut o = 0;
            while o < len {
                let q = p.add(o).cast::<__m512i>();
                _mm512_store_si512(q, _mm512_xor_si512(_mm512_load_si512(q), k));
                o += 64;
            }
        }
    }

    /// As [`flip_avx512`], in 256-bit vectors.
    ///
    /// # Safety
    /// The CPU has AVX2; `p` is 64-byte aligned and holds `len` writable bytes (a multiple
    /// of 64).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn flip_avx2(p: *mut u8, len: usize, mask: u8) {
        // SAFETY: every load and store lies within p..p + len, on a 32-byte boundary.
        unsafe {
            let k = _mm256_set1_epi8(mask as i8);
            let mut o = 0;
            while o < len {
                let q = p.add(o).cast::<__m256i>();
                _mm256_store_si256(q, _mm256_xor_si256(_mm256_load_si256(q), k));
                o += 32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Gen, isas};

    #[test]
    fn read_and_flip_match_the_plain_bytes_on_every_path() {
        // The vector passes against the plain ones, from every offset within a cache line and
        // on lengths with and without partial 512-byte blocks and lines; flip twice restores
        // every bit.
        let mut g = Gen(77);
        let store = g.vec::<f32>(5000);
        let mask = 0xa5;
        for start in 0..16 {
            for len in [0, 1, 3, 15, 16, 17, 100, 127, 128, 129, 1000, 4099] {
                let a = &store[start..start + len];
                let want = a.iter().flat_map(|x| x.to_ne_bytes()).fold(0, |x, y| x ^ y);
                assert_eq!(read_bytes(bytes(a)), want, "plain read, {len} at {start}");
                let flipped: Vec<u32> = a.iter().map(|x| x.to_bits() ^ 0xa5a5_a5a5).collect();
                for i in isas() {
                    assert_eq!(read_with(i, a), want, "read, {i:?}, {len} at {start}");
                    let mut s = store.clone();
                    flip_with(i, &mut s[start..start + len], mask);
                    let x = &s[start..start + len];
                    assert!(
                        x.iter().zip(&flipped).all(|(p, &q)| p.to_bits() == q),
                        "flip, {i:?}, {len} at {start}"
                    );
                    let outside = s[..start].iter().chain(&s[start + len..]);
                    let kept = store[..start].iter().chain(&store[start + len..]);
                    assert!(
                        outside.zip(kept).all(|(p, q)| p.to_bits() == q.to_bits()),
                        "flip wrote outside, {i:?}, {len} at {start}"
                    );
                    flip_with(i, &mut s[start..start + len], mask);
                    assert!(
                        s.iter()
                            .zip(&store)
                            .all(|(p, q)| p.to_bits() == q.to_bits()),
                        "flip twice, {i:?}, {len} at {start}"
                    );
                }
                let d: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
                let want_d = d.iter().flat_map(|x| x.to_ne_bytes()).fold(0, |x, y| x ^ y);
                for i in isas() {
                    assert_eq!(read_with(i, &d), want_d, "read f64, {i:?}, {len}");
                }
            }
        }
    }
}
