//! Negative controls: wrong gradients a real developer could write, each caught in full and in
//! projected mode, with the report naming exactly the layers the bug corrupts.

mod common;

use backprop::{Activation, Scalar};
use backprop_gradcheck::{CheckConfig, Status, check_network};
use common::{Bug, backprop_with, problem};

/// Square hidden layers so that every bug type-checks (W not transposed, layers shifted).
const SIZES: [usize; 4] = [4, 4, 4, 4];
const BATCH: usize = 3;

fn caught<T: Scalar>(act: Activation) {
    let (net, x, y) = problem::<T>(&SIZES, act, BATCH, 11);
    // The hand-written backpropagation without a bug passes: the controls are meaningful.
    let right = backprop_with(&net, &x, &y, Bug::None);
    for config in [CheckConfig::full(), CheckConfig::projected(3)] {
        let report = check_network(&net, x.as_view(), y.as_view(), &right, &config).unwrap();
        assert!(report.passed(), "correct gradient failed:\n{report}");
    }
    for bug in Bug::ALL {
        let wrong = backprop_with(&net, &x, &y, bug);
        let expected = bug.wrong_layers(net.depth());
        for config in [CheckConfig::full(), CheckConfig::projected(3)] {
            let report = check_network(&net, x.as_view(), y.as_view(), &wrong, &config).unwrap();
            assert!(
                report.any_failed(),
                "{bug:?} not caught in {} mode ({}):\n{report}",
                config.mode,
                T::DTYPE
            );
            assert_eq!(
                report.failed_layers(),
                expected,
                "{bug:?}, {} mode, {}:\n{report}",
                config.mode,
                T::DTYPE
            );
            for layer in &report.layers {
                if expected.contains(&layer.layer) {
                    // The layer's wrong elements are named: every listed worst element failed
                    // there, with its place inside W_i.
                    let first = &layer.worst[0];
                    assert_eq!(first.status, Status::Failed);
                    assert_eq!(first.layer, layer.layer);
                    assert!(first.row < layer.rows && first.col < layer.cols);
                    assert!(first.difference > first.allowed);
                    if config.mode.name() == "projected" {
                        assert!(
                            layer.fell_back_to_full,
                            "{bug:?}: W_{} did not fall back",
                            layer.layer
                        );
                        assert_eq!(layer.checked, layer.elements());
                    }
                } else {
                    assert_eq!(layer.failed, 0);
                    if config.mode.name() == "projected" {
                        assert!(!layer.fell_back_to_full);
                        assert_eq!(layer.checked, 0);
                    }
                }
            }
        }
    }
}

#[test]
fn planted_bugs_are_caught_in_f64_sigmoid() {
    caught::<f64>(Activation::Sigmoid);
}

#[test]
fn planted_bugs_are_caught_in_f64_tanh() {
    caught::<f64>(Activation::Tanh);
}

#[test]
fn planted_bugs_are_caught_in_f32_sigmoid() {
    caught::<f32>(Activation::Sigmoid);
}

#[test]
fn planted_bugs_are_caught_in_f32_softplus() {
    caught::<f32>(Activation::Softplus);
}

#[test]
fn a_wrong_derivative_in_a_users_activation_is_caught() {
    use backprop::Network;
    use std::sync::Arc;
    let base = problem::<f64>(&[3, 5, 4, 2], Activation::Identity, 2, 5);
    let (x, y) = (base.1, base.2);
    let weights = base.0.into_weights();
    for wrong_prime in [false, true] {
        let net =
            Network::with_activation(weights.clone(), Arc::new(common::Cubic { wrong_prime }))
                .unwrap();
        let report = backprop_gradcheck::check_backprop(
            &net,
            x.as_view(),
            y.as_view(),
            &CheckConfig::full(),
        )
        .unwrap();
        if wrong_prime {
            // σ′ enters δ_1 and δ_2, so ∂E/∂W_0 and ∂E/∂W_1 are wrong; ∂E/∂W_2 = δ_3 a_2ᵀ is not.
            assert_eq!(report.failed_layers(), vec![0, 1], "{report}");
        } else {
            assert!(report.passed(), "{report}");
        }
    }
}
