//! The third oracle: forward-mode dual numbers agree with backpropagation to near machine
//! precision in f64, and with the finite differences.

mod common;

use backprop::Activation;
use backprop::gradient::max_abs_difference;
use backprop_gradcheck::{CheckConfig, DualActivation, Error, Oracle, check_backprop, dual};
use common::problem;
use num_dual::Dual64;
use std::sync::Arc;

#[test]
fn dual_numbers_agree_with_backprop_to_machine_precision() {
    for act in Activation::ALL {
        for (sizes, b) in [
            (vec![3usize, 4, 5, 2], 1usize),
            (vec![6, 5, 4, 3, 2], 3),
            (vec![4, 3], 2),
        ] {
            let (net, x, y) = problem::<f64>(&sizes, act, b, 21);
            let (e, exact) = dual::gradient(&net, x.as_view(), y.as_view(), Arc::new(act)).unwrap();
            let (e_bp, bp) =
                backprop::gradient::denominator::gradient(&net, x.as_view(), y.as_view()).unwrap();
            assert!((e - e_bp).abs() <= 1e-14 * e_bp.abs().max(1.0));
            for i in 0..net.depth() {
                let scale = bp.layer(i).amax().max(1e-300);
                let diff = max_abs_difference(exact.layer(i).as_view(), bp.layer(i).as_view());
                // Near machine precision: a few dozen ulps of the layer's largest entry.
                assert!(
                    diff <= 64.0 * f64::EPSILON * scale,
                    "{act}, {sizes:?}, W_{i}: {diff:e} vs {scale:e}"
                );
            }
        }
    }
}

#[test]
fn the_dual_oracle_passes_backprop_and_catches_a_bug() {
    let (net, x, y) = problem::<f64>(&[4, 4, 4, 4], Activation::Sigmoid, 3, 2);
    let config = CheckConfig::full().with_oracle(Oracle::Dual);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    assert!(report.passed(), "{report}");
    for bug in common::Bug::ALL {
        let wrong = common::backprop_with(&net, &x, &y, bug);
        let report =
            backprop_gradcheck::check_network(&net, x.as_view(), y.as_view(), &wrong, &config)
                .unwrap();
        assert_eq!(
            report.failed_layers(),
            bug.wrong_layers(3),
            "{bug:?}: {report}"
        );
    }
}

/// σ(z) = z³/3 + z on dual numbers: the user's cubic.
#[derive(Debug)]
struct DualCubic;
impl DualActivation for DualCubic {
    fn sigma_dual(&self, z: Dual64) -> Dual64 {
        z * z * z / 3.0 + z
    }
}

#[test]
fn a_users_activation_needs_its_dual_form_for_the_dual_oracle() {
    let (base, x, y) = problem::<f64>(&[3, 4, 2], Activation::Identity, 2, 8);
    let net = backprop::Network::with_activation(
        base.into_weights(),
        Arc::new(common::Cubic { wrong_prime: false }),
    )
    .unwrap();
    let config = CheckConfig::full().with_oracle(Oracle::Dual);
    assert!(matches!(
        check_backprop(&net, x.as_view(), y.as_view(), &config),
        Err(Error::NoDualActivation { .. })
    ));
    let config = CheckConfig {
        dual_activation: Some(Arc::new(DualCubic)),
        ..config
    };
    assert!(
        check_backprop(&net, x.as_view(), y.as_view(), &config)
            .unwrap()
            .passed()
    );
    let wrong = backprop::Network::with_activation(
        net.weights().to_vec(),
        Arc::new(common::Cubic { wrong_prime: true }),
    )
    .unwrap();
    let report = check_backprop(&wrong, x.as_view(), y.as_view(), &config).unwrap();
    assert_eq!(report.failed_layers(), vec![0], "{report}");
}

#[test]
fn the_dual_oracle_checks_f32_networks_in_f64() {
    let (net, x, y) = problem::<f32>(&[5, 6, 3], Activation::Softplus, 2, 5);
    let report = check_backprop(
        &net,
        x.as_view(),
        y.as_view(),
        &CheckConfig::full().with_oracle(Oracle::Dual),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.evaluation_dtype, "F64");
}
