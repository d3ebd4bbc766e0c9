//! Kinks: for relu and leaky relu, a step that moves a pre-activation across 0 is classified
//! "kink crossed" instead of failing, and a step is shrunk first to stay on one side when it can.

mod common;

use backprop::{Activation, Network};
use backprop_gradcheck::{CheckConfig, Oracle, Status, Verdict, check_backprop};
use nalgebra::DMatrix;

/// A 2-3-1 network whose hidden unit 0 has z_1^0 = `z0` exactly (inputs 1 and 1).
fn near_kink(act: Activation, z0: f64) -> (Network<f64>, DMatrix<f64>, DMatrix<f64>) {
    // z_1 = W_0 x with x = (1, 1): unit 0 gets 0.5 + (z0 − 0.5) = z0.
    let w0 = DMatrix::from_row_slice(3, 2, &[0.5, z0 - 0.5, 0.3, 0.4, -0.7, 0.2]);
    let w1 = DMatrix::from_row_slice(1, 3, &[1.5, -0.8, 0.6]);
    let net = Network::from_weights(vec![w0, w1], act).unwrap();
    let x = DMatrix::from_column_slice(2, 1, &[1.0, 1.0]);
    let y = DMatrix::from_column_slice(1, 1, &[0.25]);
    (net, x, y)
}

fn element(
    report: &backprop_gradcheck::Report,
    layer: usize,
    row: usize,
    col: usize,
) -> Option<backprop_gradcheck::ElementCheck> {
    report.layers[layer]
        .worst
        .iter()
        .copied()
        .find(|e| (e.row, e.col) == (row, col))
}

#[test]
fn a_pre_activation_on_the_kink_is_classified_not_failed() {
    for act in [Activation::Relu, Activation::LeakyRelu { alpha: 0.01 }] {
        // z_1^0 = 1e-13 > 0: every usable step crosses 0, even shrunk 8⁶ times.
        let (net, x, y) = near_kink(act, 1e-13);
        let config = CheckConfig {
            worst: 20,
            ..CheckConfig::full()
        };
        let report = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
        // Nothing failed. With relu W_0 judged only unit 1's row: unit 0's is at the kink and
        // unit 2 (z = −0.5) is dead, its row below the floor; 2 of 6 < one half, so the check
        // is inconclusive. Leaky relu's unit 2 still has slope α: 4 of 6 judged, passed.
        assert!(!report.any_failed(), "{report}");
        if act == Activation::Relu {
            assert_eq!(report.verdict(), Verdict::Inconclusive, "{report}");
            assert_eq!(report.inconclusive_layers(), vec![0], "{report}");
            assert!(report.to_string().contains("INCONCLUSIVE"), "{report}");
        } else {
            assert_eq!(report.verdict(), Verdict::Passed, "{report}");
        }
        assert_eq!(report.layers[0].kink_crossed, 2, "{report}");
        for k in 0..2 {
            let e = element(&report, 0, 0, k).unwrap();
            assert_eq!(e.status, Status::KinkCrossed);
            // Without the classification this element would have failed: the central
            // difference across the kink averages the two slopes.
            assert!(e.difference > e.allowed, "{e:?}");
        }
        // The other units are far from the kink and pass.
        assert_eq!(report.layers[0].failed, 0);
        assert!(report.layers[0].passed + report.layers[0].below_floor >= 4);
        // The dual oracle takes the derivative on the side of z; it only classifies a unit
        // within rounding of the kink. 1e-13 is further than that: it agrees and passes.
        let dual = check_backprop(
            &net,
            x.as_view(),
            y.as_view(),
            &CheckConfig::full().with_oracle(Oracle::Dual),
        )
        .unwrap();
        assert!(
            !dual.any_failed() && dual.layers[0].kink_crossed == 0,
            "{dual}"
        );
    }
}

#[test]
fn a_step_is_shrunk_to_stay_off_a_nearby_kink() {
    // z_1^0 = 1e-5: the first step (≈ 7e-4) crosses, a step shrunk by 8³ does not.
    let (net, x, y) = near_kink(Activation::Relu, 1e-5);
    let config = CheckConfig {
        worst: 20,
        ..CheckConfig::full()
    };
    let report = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.layers[0].kink_crossed, 0, "{report}");
    let e = element(&report, 0, 0, 0).unwrap();
    assert_eq!(e.status, Status::Passed);
    assert!(e.step < 1e-5, "{e:?}");
}

#[test]
fn a_pre_activation_exactly_at_the_kink_is_classified() {
    let (net, x, y) = near_kink(Activation::Relu, 0.0);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).unwrap();
    assert!(!report.any_failed(), "{report}");
    assert_eq!(report.verdict(), Verdict::Inconclusive, "{report}");
    assert_eq!(report.layers[0].kink_crossed, 2, "{report}");
    // W_1^{00} multiplies a_1^0 = relu(0) = 0: no pre-activation moves, nothing to classify.
    assert_eq!(report.layers[1].kink_crossed, 0, "{report}");
}

#[test]
fn smooth_activations_never_report_kinks() {
    for act in [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Identity,
    ] {
        let (net, x, y) = near_kink(act, 0.0);
        let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).unwrap();
        assert!(report.passed(), "{report}");
        assert_eq!(report.totals().3, 0, "{act}: {report}");
    }
}
