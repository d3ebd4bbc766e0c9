//! With [`CacheAligned`] installed as the global allocator, `Vec`s and nalgebra's matrices
//! start on a cache line; and the products' results do not depend on where their operands
//! start, so alignment changes speed only.

use backprop_kernels::{CACHE_LINE, CacheAligned, Operand, Product, Real};
use nalgebra::DMatrix;

#[global_allocator]
static GLOBAL: CacheAligned = CacheAligned;

fn aligned<T>(p: *const T) -> bool {
    (p as usize).is_multiple_of(CACHE_LINE)
}

#[test]
fn matrices_start_on_a_cache_line() {
    // S2's W_0 (128 × 784), the matrix the batch-1 step streams twice, and a batch.
    let w = DMatrix::<f64>::from_fn(128, 784, |r, c| (r + c) as f64);
    assert!(aligned(w.as_ptr()), "W_0 at {:p}", w.as_ptr());
    assert!(aligned(w.clone().as_ptr()));
    let x = DMatrix::<f32>::from_fn(784, 64, |r, c| ((r * 7 + c) % 13) as f32 / 13.0);
    assert!(aligned(x.as_ptr()));
}

/// op(A) op(B) through [`Product`] on copies of A, B and C that start `shift` elements
/// past a cache line, for every shift of a vector: the same bits.
fn products_match_at_every_offset<T: Real>() {
    // (op, m, k, n): S2's forward gemv and rank-1 update, S3's forward and update, and a
    // transposed product.
    for (op, m, k, n) in [
        ("nn", 128, 784, 1),
        ("nt", 128, 1, 784),
        ("nn", 128, 784, 64),
        ("nt", 128, 64, 784),
        ("tn", 128, 784, 10),
    ] {
        let (a_len, b_len, c_len) = (m * k, k * n, m * n);
        let value = |i: usize, s: usize| T::narrow(((i * 37 + s * 11) % 101) as f64 / 50.0 - 1.0);
        let mut reference: Option<Vec<T>> = None;
        for shift in 0..CACHE_LINE / size_of::<T>() {
            let pad = CACHE_LINE / size_of::<T>();
            let mut a = vec![T::narrow(0.0); a_len + pad];
            let mut b = vec![T::narrow(0.0); b_len + pad];
            let mut c = vec![T::narrow(0.0); c_len + pad];
            for i in 0..a_len {
                a[shift + i] = value(i, 1);
            }
            for i in 0..b_len {
                b[shift + i] = value(i, 2);
            }
            for i in 0..c_len {
                c[shift + i] = value(i, 3);
            }
            let alpha = T::narrow(-1e-3);
            let (a, b) = (&a[shift..shift + a_len], &b[shift..shift + b_len]);
            let a = match op {
                "tn" => Operand::new(a, k, m).t(),
                _ => Operand::new(a, m, k),
            };
            let b = match op {
                "nt" => Operand::new(b, n, k).t(),
                _ => Operand::new(b, k, n),
            };
            Product::new(a, b)
                .alpha(alpha)
                .accumulate(true)
                .run(&mut c[shift..shift + c_len]);
            let out = c[shift..shift + c_len].to_vec();
            match &reference {
                None => reference = Some(out),
                Some(r) => {
                    let first = r
                        .iter()
                        .zip(&out)
                        .position(|(p, q)| p.widen().to_bits() != q.widen().to_bits());
                    assert_eq!(
                        first,
                        None,
                        "{op} {m}x{k}x{n} ({}) shifted by {shift} elements: first differing element",
                        std::any::type_name::<T>()
                    );
                }
            }
        }
    }
}

#[test]
fn products_do_not_depend_on_alignment() {
    products_match_at_every_offset::<f64>();
    products_match_at_every_offset::<f32>();
}
