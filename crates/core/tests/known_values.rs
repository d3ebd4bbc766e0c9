//! Known values: gradients derived by hand, the arithmetic beside the numbers, checked against
//! every gradient form of the crate.

use backprop::gradient::{denominator, elementwise, naive, numerator};
use backprop::{Activation, DenominatorGradient, Network, Reduction, Workspace};
use nalgebra::DMatrix;

/// All four reference forms and the batched path, in denominator layout, with their E.
fn every_form(
    net: &Network<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> Vec<(&'static str, f64, DenominatorGradient<f64>)> {
    let (x, y) = (x.as_view(), y.as_view());
    let (e_num, num) = numerator::gradient(net, x, y).unwrap();
    let (e_den, den) = denominator::gradient(net, x, y).unwrap();
    let (e_idx, idx) = elementwise::gradient(net, x, y).unwrap();
    let (e_nai, nai) = naive::gradient(net, x, y).unwrap();
    let mut ws = Workspace::new(net, x.ncols()).unwrap();
    let e_bat = ws.gradient(net, x, y).unwrap();
    vec![
        ("numerator (transposed)", e_num, num.to_denominator()),
        ("denominator", e_den, den),
        ("element-wise", e_idx, idx),
        ("naive chain", e_nai, nai),
        ("batched", e_bat, ws.gradient_ref().clone()),
    ]
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-15 * want.abs().max(1.0) * 4.0,
        "{what}: got {got:e}, want {want:e}"
    );
}

/// The seed's n = 3 network, 3-4-5-2 with sigmoid, one sample.
///
/// Weights constant per layer, so that every unit of a layer carries the same value and the
/// arithmetic fits in comments: W_0 = 0.1 (4×3), W_1 = 0.2 (5×4), W_2 = (0.3 …; −0.3 …) (2×5).
#[test]
fn seed_network_3_4_5_2_one_sample() {
    let w0 = DMatrix::from_element(4, 3, 0.1);
    let w1 = DMatrix::from_element(5, 4, 0.2);
    let w2 = DMatrix::from_fn(2, 5, |j, _| if j == 0 { 0.3 } else { -0.3 });
    let net = Network::from_weights(vec![w0, w1, w2], Activation::Sigmoid).unwrap();
    let x = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, 3.0]);
    let y = DMatrix::from_column_slice(2, 1, &[1.0, -1.0]);

    // Forward:
    // z_1^j = 0.1 (1 + 2 + 3) = 0.6                          for j = 0..3
    // a_1^j = σ(0.6) = 1 / (1 + e^−0.6) = 0.6456563062257954
    // z_2^j = 0.2 · 4 · a_1 = 0.5165250449806363             for j = 0..4
    // a_2^j = σ(0.5165250449806363) = 0.6263348472517264
    // z_3   = (0.3 · 5 · a_2, −0.3 · 5 · a_2) = (0.9395022708775895, −0.9395022708775895)
    // E     = (1 − 0.93950…)² + (−1 + 0.93950…)² = 0.007319950457937104
    let trace = net.forward(x.as_view()).unwrap();
    assert_close("a_1", trace.a(1)[(2, 0)], 0.6456563062257954);
    assert_close("a_2", trace.a(2)[(4, 0)], 0.6263348472517264);
    assert_close("z_3", trace.output()[(0, 0)], 0.9395022708775895);

    // Backward (denominator layout):
    // δ_3 = −2 (y − z_3) = (−0.12099545824482094, 0.12099545824482094)
    // ∂E/∂W_2 = δ_3 a_2ᵀ: row 0 = −0.12099545824482094 · 0.6263348472517264 = −0.07578367185792256,
    //                      row 1 = +0.07578367185792256 (each of the 5 columns)
    // δ_2^k = σ′(z_2) Σ_j W_2^{jk} δ_3^j = a_2 (1 − a_2) (0.3 δ_3^0 − 0.3 δ_3^1) = −0.016990630392369407
    // ∂E/∂W_1 = δ_2 a_1ᵀ: every element −0.016990630392369407 · 0.6456563062257954 = −0.010970107659584968
    // δ_1^k = a_1 (1 − a_1) Σ_j W_1^{jk} δ_2^j = a_1 (1 − a_1) (0.2 · 5 · δ_2) = −0.0038871884691980326
    // ∂E/∂W_0 = δ_1 xᵀ: columns δ_1 · (1, 2, 3) = (−0.0038871884691980326, −0.007774376938396065,
    //                                               −0.011661565407594098)
    let dw2_row = [-0.07578367185792256, 0.07578367185792256];
    let dw1 = -0.010970107659584968;
    let dw0_col = [
        -0.0038871884691980326,
        -0.007774376938396065,
        -0.011661565407594098,
    ];
    for (form, e, g) in every_form(&net, &x, &y) {
        assert_close(&format!("{form}: E"), e, 0.007319950457937104);
        assert_eq!(g.layer(2).shape(), (2, 5), "{form}");
        for j in 0..2 {
            for k in 0..5 {
                assert_close(
                    &format!("{form}: dW_2[{j},{k}]"),
                    g.layer(2)[(j, k)],
                    dw2_row[j],
                );
            }
        }
        for v in g.layer(1).iter() {
            assert_close(&format!("{form}: dW_1"), *v, dw1);
        }
        for j in 0..4 {
            for k in 0..3 {
                assert_close(
                    &format!("{form}: dW_0[{j},{k}]"),
                    g.layer(0)[(j, k)],
                    dw0_col[k],
                );
            }
        }
    }
}

/// n = 1: no hidden layer, z_1 = W_0 x, E = ‖y − W_0 x‖², ∂E/∂W_0 = −2 (y − W_0 x) xᵀ.
#[test]
fn one_layer_network() {
    // W_0 = (1 −1 2), x = (1, 2, 3): z_1 = 1 − 2 + 6 = 5; y = 3: E = (3 − 5)² = 4.
    // δ_1 = −2 (3 − 5) = 4; ∂E/∂W_0 = 4 · (1, 2, 3) = (4, 8, 12).
    let w0 = DMatrix::from_row_slice(1, 3, &[1.0, -1.0, 2.0]);
    let net = Network::from_weights(vec![w0], Activation::Sigmoid).unwrap();
    let x = DMatrix::from_column_slice(3, 1, &[1.0, 2.0, 3.0]);
    let y = DMatrix::from_column_slice(1, 1, &[3.0]);
    for (form, e, g) in every_form(&net, &x, &y) {
        assert_eq!(e, 4.0, "{form}");
        assert_eq!(g.layer(0).as_slice(), &[4.0, 8.0, 12.0], "{form}");
    }
    // The numerator layout has the shape of W_0ᵀ: 3 × 1.
    let (_, num) = numerator::gradient(&net, x.as_view(), y.as_view()).unwrap();
    assert_eq!(num.layer(0).shape(), (3, 1));
}

/// One SGD step with the seed's rule W ← W − m ∂E/∂W, summed over two samples, and with the
/// mean (m / B).
#[test]
fn sgd_step_sums_over_the_batch() {
    // Samples x = (1, 0) and (0, 1), y = 1 and 2, W_0 = (0 0): z = (0, 0),
    // δ = −2 (y − z) = (−2, −4); ∂E/∂W_0 = Σ_s δ_s x_sᵀ = (−2, −4); E = 1 + 4 = 5.
    // m = 0.1, sum: W_0 = (0.2, 0.4); mean: W_0 = (0.1, 0.2).
    let x = DMatrix::from_column_slice(2, 2, &[1.0, 0.0, 0.0, 1.0]);
    let y = DMatrix::from_column_slice(1, 2, &[1.0, 2.0]);
    for (reduction, want) in [(Reduction::Sum, [0.2, 0.4]), (Reduction::Mean, [0.1, 0.2])] {
        let mut net =
            Network::from_weights(vec![DMatrix::zeros(1, 2)], Activation::Identity).unwrap();
        let mut ws = Workspace::new(&net, 2).unwrap();
        let e = ws
            .step(&mut net, x.as_view(), y.as_view(), 0.1, reduction)
            .unwrap();
        assert_eq!(e, 5.0);
        assert_close("W_0[0,0]", net.weight(0)[(0, 0)], want[0]);
        assert_close("W_0[0,1]", net.weight(0)[(0, 1)], want[1]);
    }
}
