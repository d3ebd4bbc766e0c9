//! The O(n²) of the naive chain and the O(n) of backpropagation, counted: for n = 2…32 weight
//! matrices, `naive::gradient_counted` performs n(n − 1)/2 chain products per sample and
//! `denominator::gradient_counted` n − 1, counted while they compute the same gradient.

use backprop::gradient::{Products, denominator, max_abs_difference, naive};
use backprop::{Activation, Network};
use nalgebra::DMatrix;

/// Sizes 2, 3, 4, 3, 4, …, 1: n weight matrices of varying shapes.
fn sizes(n: usize) -> Vec<usize> {
    let mut s = vec![2];
    s.extend((1..n).map(|i| 3 + i % 2));
    s.push(1);
    s
}

/// Σ over the layers of the multiplications a form performs per sample: the outer products
/// δ_{i+1} a_iᵀ (l_{i+1} l_i each) and `chains[i]` chain products through layer i ≥ 1
/// (l_{i+1} l_i for W_iᵀ δ and l_i for σ').
fn multiplications(sizes: &[usize], chains: &[usize]) -> usize {
    (0..sizes.len() - 1)
        .map(|i| sizes[i + 1] * sizes[i] + chains[i] * (sizes[i + 1] * sizes[i] + sizes[i]))
        .sum()
}

#[test]
fn the_naive_chain_performs_quadratically_many_products_and_backprop_linearly_many() {
    let b = 2;
    for n in 2..=32 {
        let s = sizes(n);
        let net = Network::<f64>::random(&s, Activation::Tanh, n as u64).unwrap();
        let x = DMatrix::from_fn(2, b, |r, c| 0.3 * r as f64 - 0.2 * c as f64 + 0.1);
        let y = DMatrix::from_fn(1, b, |_, c| 0.5 - c as f64);
        let (e_n, g_n, naive) = naive::gradient_counted(&net, x.as_view(), y.as_view()).unwrap();
        let (e_d, g_d, backprop) =
            denominator::gradient_counted(&net, x.as_view(), y.as_view()).unwrap();
        // The counted runs compute the gradient: they agree.
        assert!((e_n - e_d).abs() <= 1e-14 * e_d.abs().max(1.0));
        for i in 0..n {
            let d = max_abs_difference(g_n.layer(i).as_view(), g_d.layer(i).as_view());
            assert!(
                d <= 1e-12 * g_d.layer(i).amax().max(1e-300),
                "n = {n}, W_{i}: {d:e}"
            );
        }
        // Chain products through layer i: the naive form passes it once for each W_j below it
        // (j < i), i times; backprop once.
        let naive_chains: Vec<usize> = (0..n).collect();
        let backprop_chains: Vec<usize> = (0..n).map(|i| usize::from(i > 0)).collect();
        assert_eq!(
            naive,
            Products {
                chain: b * n * (n - 1) / 2,
                outer: b * n,
                multiplications: b * multiplications(&s, &naive_chains),
            },
            "naive, n = {n}"
        );
        assert_eq!(
            backprop,
            Products {
                chain: b * (n - 1),
                outer: b * n,
                multiplications: b * multiplications(&s, &backprop_chains),
            },
            "backprop, n = {n}"
        );
    }
}
