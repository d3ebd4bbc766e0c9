//! A claimed gradient with NaN or ±∞ elements fails the check at exactly those elements, in
//! every mode and with both oracles, and the report names them: no comparison in the checker
//! lets a NaN through (`f64::max` drops one, and `NaN <= allowed` is merely false).

mod common;

use backprop::Activation;
use backprop_gradcheck::{CheckConfig, Oracle, Status, check_network};
use common::problem;

#[test]
fn a_nan_or_infinite_claimed_gradient_fails_and_is_named() {
    let (net, x, y) = problem::<f64>(&[3, 4, 2], Activation::Tanh, 2, 5);
    let (_, good) =
        backprop::gradient::denominator::gradient(&net, x.as_view(), y.as_view()).unwrap();
    let configs = [
        CheckConfig::full(),
        CheckConfig::full().with_oracle(Oracle::Dual),
        CheckConfig::sampled(100),
        CheckConfig::projected(3),
    ];
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        // One element, then the whole gradient.
        let mut one = good.clone();
        one.layer_mut(1)[(1, 2)] = bad;
        let mut all = good.clone();
        for i in 0..net.depth() {
            all.layer_mut(i).fill(bad);
        }
        for config in &configs {
            let config = CheckConfig {
                worst: usize::MAX,
                ..config.clone()
            };
            let r = check_network(&net, x.as_view(), y.as_view(), &one, &config).unwrap();
            assert!(!r.passed(), "{bad} at W_1[1,2], {}", config.mode);
            assert_eq!(r.failed_layers(), vec![1], "{bad}, {}", config.mode);
            let named: Vec<_> = r.failures().map(|e| (e.layer, e.row, e.col)).collect();
            assert_eq!(named, vec![(1, 1, 2)], "{bad}, {}", config.mode);

            let r = check_network(&net, x.as_view(), y.as_view(), &all, &config).unwrap();
            assert!(!r.passed(), "all {bad}, {}", config.mode);
            assert_eq!(r.failed_layers(), vec![0, 1], "all {bad}, {}", config.mode);
            let (checked, passed, failed, _, floor) = r.totals();
            assert_eq!((passed, floor), (0, 0), "all {bad}, {}", config.mode);
            assert_eq!(failed, checked, "all {bad}, {}", config.mode);
            assert!(
                r.failures()
                    .all(|e| e.status == Status::Failed && e.ratio().is_infinite())
            );
        }
    }
}
