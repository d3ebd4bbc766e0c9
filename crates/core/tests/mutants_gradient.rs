//! Known-value tests of the `Gradient` container's helpers (crates/core/src/gradient/mod.rs),
//! written to kill the mutants `scripts/mutants.sh` would otherwise leave alive there (see
//! docs/mutants.md): each helper is checked on small matrices whose answer is written beside
//! them, for f32 and f64.

use backprop::gradient::{Denominator, Gradient, Layout, Numerator};
use backprop::{Scalar, gradient::denominator};
use nalgebra::DMatrix;

fn m<T: Scalar>(rows: usize, cols: usize, v: &[f64]) -> DMatrix<T> {
    DMatrix::from_row_slice(
        rows,
        cols,
        &v.iter().map(|&x| T::of_f64(x)).collect::<Vec<_>>(),
    )
}

/// g = (∂E/∂W_0 = [[1, −2, 3], [0, 4, −1]], ∂E/∂W_1 = [[2], [−3]]) in denominator layout.
fn sample<T: Scalar>() -> Gradient<T, Denominator> {
    Gradient::from_layers(vec![
        m(2, 3, &[1.0, -2.0, 3.0, 0.0, 4.0, -1.0]),
        m(2, 1, &[2.0, -3.0]),
    ])
}

fn helpers<T: Scalar>() {
    let g = sample::<T>();
    assert_eq!(g.depth(), 2);
    assert_eq!(g.layout(), Layout::Denominator);
    assert_eq!(g.layers().len(), 2);
    assert_eq!(g.layer(0)[(0, 1)], T::of_f64(-2.0));
    assert_eq!(g.layer(1)[(1, 0)], T::of_f64(-3.0));

    // ‖g‖² = 1 + 4 + 9 + 0 + 16 + 1 + 4 + 9 = 44
    assert_eq!(g.norm_squared(), T::of_f64(44.0));

    // Transposing changes the layout and the shapes, and back again is the identity.
    let n = g.to_numerator();
    assert_eq!(n.layout(), Layout::Numerator);
    assert_eq!(n.layer(0).shape(), (3, 2));
    assert_eq!(n.layer(0)[(2, 0)], T::of_f64(3.0));
    assert_eq!(n.to_denominator(), g);
    let t: Gradient<T, Numerator> = g.transpose();
    assert_eq!(t, n);

    // max |g − h|: h differs from g by 0.5 in one element and by −2 in another.
    let mut h = g.clone();
    h.layer_mut(0)[(1, 2)] = T::of_f64(-0.5); // was −1: |Δ| = 0.5
    h.layer_mut(1)[(0, 0)] = T::of_f64(4.0); // was 2: |Δ| = 2
    assert_eq!(g.max_abs_diff(&h), T::of_f64(2.0));
    assert_eq!(h.max_abs_diff(&g), T::of_f64(2.0));
    assert_eq!(g.max_abs_diff(&g), T::zero());
    // Different depth or shape: the largest value, never a small number.
    let shallow: Gradient<T, Denominator> = Gradient::from_layers(vec![g.layer(0).clone()]);
    assert!(g.max_abs_diff(&shallow) >= T::of_f64(1e30));
    let reshaped: Gradient<T, Denominator> =
        Gradient::from_layers(vec![g.layer(0).clone(), m(1, 2, &[2.0, -3.0])]);
    assert!(g.max_abs_diff(&reshaped) >= T::of_f64(1e30));

    // A NaN or ±∞ on either side is the largest difference, never 0: one element, or all.
    for bad in [
        T::of_f64(f64::NAN),
        T::of_f64(f64::INFINITY),
        T::of_f64(f64::NEG_INFINITY),
    ] {
        let mut one = g.clone();
        one.layer_mut(1)[(1, 0)] = bad;
        let mut all = g.clone();
        all.scale(T::zero());
        for i in 0..2 {
            all.layer_mut(i).fill(bad);
        }
        for h in [&one, &all] {
            assert_eq!(g.max_abs_diff(h), T::of_f64(f64::INFINITY), "{bad}");
            assert_eq!(h.max_abs_diff(&g), T::of_f64(f64::INFINITY), "{bad}");
            assert_eq!(
                h.max_abs_diff(h),
                T::of_f64(f64::INFINITY),
                "{bad} vs itself"
            );
        }
    }

    // g + g = 2 g, then scaled by −0.25: −g/2.
    let mut s = g.clone();
    s.add_assign(&g);
    assert_eq!(s.layer(0)[(1, 1)], T::of_f64(8.0));
    assert_eq!(s.layer(1)[(1, 0)], T::of_f64(-6.0));
    s.scale(T::of_f64(-0.25));
    assert_eq!(s.layer(0)[(1, 1)], T::of_f64(-2.0));
    assert_eq!(s.layer(1)[(0, 0)], T::of_f64(-1.0));

    // zeros_like: shaped like W_i (denominator) or W_iᵀ (numerator), all zero.
    let w = [m::<T>(2, 3, &[0.0; 6]), m::<T>(4, 2, &[0.0; 8])];
    let zd = Gradient::<T, Denominator>::zeros_like(&w);
    let zn = Gradient::<T, Numerator>::zeros_like(&w);
    assert_eq!(zd.layer(1).shape(), (4, 2));
    assert_eq!(zn.layer(1).shape(), (2, 4));
    assert_eq!(zd.norm_squared(), T::zero());

    let layers = g.clone().into_layers();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0][(0, 2)], T::of_f64(3.0));
}

#[test]
fn gradient_helpers_give_the_written_values() {
    helpers::<f32>();
    helpers::<f64>();
}

#[test]
fn layouts_display_their_names() {
    assert_eq!(Layout::Numerator.to_string(), "numerator");
    assert_eq!(Layout::Denominator.to_string(), "denominator");
}

#[test]
fn denominator_gradient_of_a_one_weight_identity_network() {
    // W_0 = [w], identity activation (n = 1: no hidden layer), x = 2, y = 1:
    // z_1 = 2w, E = (1 − 2w)², ∂E/∂w = −2 (1 − 2w) · 2. With w = 0.75: E = 0.25, ∂E/∂w = 2.
    let net = backprop::Network::<f64>::from_weights(
        vec![DMatrix::from_element(1, 1, 0.75)],
        backprop::Activation::Identity,
    )
    .unwrap();
    let x = DMatrix::from_element(1, 1, 2.0);
    let y = DMatrix::from_element(1, 1, 1.0);
    let (e, g) = denominator::gradient(&net, x.as_view(), y.as_view()).unwrap();
    assert_eq!(e, 0.25);
    assert_eq!(g.layer(0)[(0, 0)], 2.0);
}
