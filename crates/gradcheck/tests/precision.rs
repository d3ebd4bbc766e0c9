//! f32 networks checked against an f64 evaluation of the same weights: no false failures from
//! cancellation, and bounds tight enough to catch real bugs.

mod common;

use backprop::{Activation, Network};
use backprop_gradcheck::{CheckConfig, Evaluation, check_backprop, check_network};
use common::{Bug, backprop_with, problem};
use nalgebra::DMatrix;

/// The whole loss E = ‖y − z_n‖², computed in f32 from scratch.
fn loss_f32(net: &Network<f32>, x: &DMatrix<f32>, y: &DMatrix<f32>) -> f32 {
    (y - net.predict(x.as_view()).unwrap()).norm_squared()
}

#[test]
fn an_f32_network_is_checked_in_f64_and_passes_where_naive_f32_differences_fail() {
    let (net, x, y) = problem::<f32>(&[20, 16, 8], Activation::Tanh, 4, 3);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(
        (report.dtype.as_str(), report.evaluation_dtype.as_str()),
        ("F32", "F64")
    );

    // The usual recipe: one fixed step h = 1e-3 in f32 and a fixed tolerance (rtol 1e-3,
    // atol 1e-5) fails correct elements, because E(w ± h) cancel to a few significant bits.
    let mut ws = backprop::Workspace::new(&net, 4).unwrap();
    ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
    let g = ws.gradient_ref().clone();
    let h = 1e-3f32;
    let mut naive_failures = 0;
    for i in 0..net.depth() {
        for p in 0..net.weight(i).len() {
            let mut plus = net.clone();
            let mut minus = net.clone();
            let w = net.weight(i)[p];
            plus.weight_mut(i)[p] = w + h;
            minus.weight_mut(i)[p] = w - h;
            let numeric = (loss_f32(&plus, &x, &y) - loss_f32(&minus, &x, &y)) / (2.0 * h);
            let analytic = g.layer(i)[p];
            if (numeric - analytic).abs() > 1e-5 + 1e-3 * analytic.abs() {
                naive_failures += 1;
            }
        }
    }
    assert!(
        naive_failures > 0,
        "the naive f32 check passed everything here"
    );

    // The widened check stays sharp: the allowed error (dominated by the worst-case rounding
    // bound of the f32 backpropagation, some 100× the actual error) is under 1% of each
    // gradient that is not tiny.
    for layer in &report.layers {
        for e in &layer.worst {
            assert!(e.allowed <= 1e-2 * e.analytic.abs().max(1e-2), "{e:?}");
        }
    }
    // And it catches real bugs in f32.
    let wrong = backprop_with(&net, &x, &y, Bug::SigmaPrimeAtA);
    let report =
        check_network(&net, x.as_view(), y.as_view(), &wrong, &CheckConfig::full()).unwrap();
    assert_eq!(report.failed_layers(), vec![0], "{report}");
}

#[test]
fn native_f32_evaluation_does_not_fail_falsely_but_allows_far_more() {
    let (net, x, y) = problem::<f32>(&[20, 16, 8], Activation::Sigmoid, 4, 9);
    let all = CheckConfig {
        worst: usize::MAX,
        ..CheckConfig::full()
    };
    let wide = check_backprop(&net, x.as_view(), y.as_view(), &all).unwrap();
    let native = check_backprop(
        &net,
        x.as_view(),
        y.as_view(),
        &all.clone().with_evaluation(Evaluation::Native),
    )
    .unwrap();
    assert!(wide.passed() && native.passed(), "{wide}\n{native}");
    assert_eq!(native.evaluation_dtype, "F32");
    // The same elements, each allowed more when the differences are taken in f32: the step
    // is larger (ε_f32^(1/5) ≈ 0.04) and the loss differences lose bits to cancellation.
    let total_allowed = |r: &backprop_gradcheck::Report| {
        r.layers
            .iter()
            .flat_map(|l| &l.worst)
            .map(|e| e.allowed)
            .sum::<f64>()
    };
    assert_eq!(wide.totals().0, 448);
    assert!(
        total_allowed(&native) > 2.0 * total_allowed(&wide),
        "{} vs {}",
        total_allowed(&native),
        total_allowed(&wide)
    );
}

#[test]
fn an_f32_users_activation_is_widened_through_its_f64_version() {
    use std::sync::Arc;
    let (base, x, y) = problem::<f32>(&[3, 4, 2], Activation::Identity, 2, 4);
    let net = Network::with_activation(
        base.into_weights(),
        Arc::new(common::Cubic { wrong_prime: false }),
    )
    .unwrap();
    // Without an f64 σ the check runs in f32 (the name "cubic" is not built in).
    let native = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).unwrap();
    assert_eq!(native.evaluation_dtype, "F32");
    assert!(native.passed(), "{native}");
    let config = CheckConfig {
        reference_activation: Some(Arc::new(common::Cubic { wrong_prime: false })),
        ..CheckConfig::full()
    };
    let wide = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    assert_eq!(wide.evaluation_dtype, "F64");
    assert!(wide.passed(), "{wide}");
}
