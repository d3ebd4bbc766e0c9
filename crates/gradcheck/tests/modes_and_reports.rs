//! Modes (full, sampled with coverage, projected with fallback), reports as values (Display,
//! JSON), errors naming their place, and the generic function checker.

mod common;

use backprop::Activation;
use backprop_gradcheck::{
    CheckConfig, Error, Mode, Objective, Report, Status, check_backprop, check_function,
    check_network, check_objective,
};
use common::{Bug, backprop_with, problem};

#[test]
fn sampled_mode_checks_k_seeded_elements_per_layer_and_reports_coverage() {
    let (net, x, y) = problem::<f64>(&[10, 8, 3], Activation::Tanh, 2, 1);
    let config = CheckConfig {
        worst: 100,
        ..CheckConfig::sampled(6).with_seed(42)
    };
    let report = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.layers[0].checked, 6);
    assert_eq!(report.layers[0].coverage, 6.0 / 80.0);
    assert_eq!(report.layers[1].coverage, 6.0 / 24.0);
    let places = |r: &Report| -> Vec<(usize, usize, usize)> {
        let mut p: Vec<_> = r
            .layers
            .iter()
            .flat_map(|l| &l.worst)
            .map(|e| (e.layer, e.row, e.col))
            .collect();
        p.sort();
        p
    };
    // The same seed draws the same elements; another seed others.
    let again = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    assert_eq!(places(&report), places(&again));
    let other = check_backprop(
        &net,
        x.as_view(),
        y.as_view(),
        &config.clone().with_seed(43),
    )
    .unwrap();
    assert_ne!(places(&report), places(&other));
    // k ≥ the layer's size checks all of it.
    let all = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::sampled(1000)).unwrap();
    assert!(all.layers.iter().all(|l| l.coverage == 1.0));
}

#[test]
fn projected_mode_uses_directions_and_falls_back_only_where_needed() {
    let (net, x, y) = problem::<f64>(&[4, 4, 4, 4], Activation::Sigmoid, 2, 3);
    let right = backprop_with(&net, &x, &y, Bug::None);
    let report = check_network(
        &net,
        x.as_view(),
        y.as_view(),
        &right,
        &CheckConfig::projected(5),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
    assert!(
        report
            .layers
            .iter()
            .all(|l| l.directions.len() == 5 && l.checked == 0 && !l.fell_back_to_full)
    );
    assert!(
        report
            .layers
            .iter()
            .flat_map(|l| &l.directions)
            .all(|d| d.status == Status::Passed)
    );
    // One wrong element in W_2: only W_2 falls back to full mode, and names it.
    let mut wrong = right.clone();
    wrong.layer_mut(2)[(1, 3)] += 1e-3;
    let report = check_network(
        &net,
        x.as_view(),
        y.as_view(),
        &wrong,
        &CheckConfig::projected(2),
    )
    .unwrap();
    assert_eq!(report.failed_layers(), vec![2]);
    assert!(report.layers[2].fell_back_to_full && report.layers[2].coverage == 1.0);
    let named: Vec<_> = report.failures().map(|e| (e.layer, e.row, e.col)).collect();
    assert_eq!(named, vec![(2, 1, 3)]);
}

#[test]
fn the_report_is_a_table_and_json() {
    let (net, x, y) = problem::<f64>(&[3, 4, 2], Activation::Sigmoid, 2, 7);
    let mut wrong = backprop_with(&net, &x, &y, Bug::None);
    wrong.layer_mut(0)[(2, 1)] *= -1.0;
    let report =
        check_network(&net, x.as_view(), y.as_view(), &wrong, &CheckConfig::full()).unwrap();
    let table = report.to_string();
    assert!(table.contains("W_0[2,1]"), "{table}");
    assert!(table.contains("FAILED"), "{table}");
    assert!(table.contains("W_1        2×4"), "{table}");
    let json = report.to_json();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    // The verdict first, the mode's fields at the top level (no "mode": {"mode": …}).
    assert_eq!(value["verdict"], "failed");
    assert!(
        json.trim_start()
            .starts_with("{\n  \"verdict\": \"failed\""),
        "{json}"
    );
    assert_eq!(value["mode"], "full");
    let sampled = check_network(
        &net,
        x.as_view(),
        y.as_view(),
        &wrong,
        &CheckConfig::sampled(3),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&sampled.to_json()).unwrap();
    assert_eq!(
        (v["mode"].as_str(), v["per_layer"].as_u64()),
        (Some("sampled"), Some(3))
    );
    assert_eq!(
        serde_json::from_str::<Report>(&sampled.to_json()).unwrap(),
        sampled
    );
    let worst = &value["layers"][0]["worst"][0];
    assert_eq!(
        (
            worst["layer"].as_u64(),
            worst["row"].as_u64(),
            worst["col"].as_u64()
        ),
        (Some(0), Some(2), Some(1))
    );
    assert_eq!(worst["status"], "failed");
    for key in ["analytic", "numeric", "allowed", "step", "difference"] {
        assert!(worst[key].is_number(), "{key}");
    }
    assert!(report.any_failed() && !report.passed());
    assert_eq!(report.layers[0].failed, 1);
}

#[test]
fn bad_input_is_an_error_naming_the_place() {
    let (net, x, y) = problem::<f64>(&[3, 4, 2], Activation::Sigmoid, 2, 7);
    let g = backprop_with(&net, &x, &y, Bug::None);
    let mut layers = g.clone().into_layers();
    layers[1] = nalgebra::DMatrix::zeros(4, 2);
    let bad = backprop::Gradient::from_layers(layers);
    let err =
        check_network(&net, x.as_view(), y.as_view(), &bad, &CheckConfig::full()).unwrap_err();
    assert!(matches!(
        err,
        Error::GradientShape {
            layer: 1,
            expected: (2, 4),
            got: (4, 2)
        }
    ));
    assert!(
        err.to_string()
            .contains("∂E/∂W_1 has shape 4×2, expected 2×4"),
        "{err}"
    );
    let short = backprop::Gradient::from_layers(vec![g.layer(0).clone()]);
    assert!(matches!(
        check_network(&net, x.as_view(), y.as_view(), &short, &CheckConfig::full()),
        Err(Error::GradientDepth {
            expected: 2,
            got: 1
        })
    ));
    let x_bad = nalgebra::DMatrix::<f64>::zeros(5, 2);
    assert!(matches!(
        check_network(&net, x_bad.as_view(), y.as_view(), &g, &CheckConfig::full()),
        Err(Error::Core(backprop::Error::DataShape { .. }))
    ));
    for config in [CheckConfig::sampled(0), CheckConfig::projected(0)] {
        assert!(matches!(
            check_network(&net, x.as_view(), y.as_view(), &g, &config),
            Err(Error::InvalidConfig { .. })
        ));
    }
    let dual_projected = CheckConfig::projected(2).with_oracle(backprop_gradcheck::Oracle::Dual);
    assert!(dual_projected.validate().is_err());
}

#[test]
fn mode_names_round_trip_through_json() {
    for mode in [
        Mode::Full,
        Mode::Sampled { per_layer: 7 },
        Mode::Projected { directions: 3 },
    ] {
        let json = serde_json::to_string(&mode).unwrap();
        assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), mode);
    }
}

/// f(θ) = Σ_p (θ_p − p)² e^{θ_0}: a smooth function with coupled parameters.
struct Bowl {
    /// Plant a bug in ∂f/∂θ_0 (the product rule's second term forgotten).
    bug: bool,
}

impl Objective for Bowl {
    fn value(&self, t: &[f64]) -> f64 {
        t.iter()
            .enumerate()
            .map(|(p, v)| (v - p as f64).powi(2))
            .sum::<f64>()
            * t[0].exp()
    }
    fn gradient(&self, t: &[f64]) -> Vec<f64> {
        let s: f64 = t
            .iter()
            .enumerate()
            .map(|(p, v)| (v - p as f64).powi(2))
            .sum();
        let e = t[0].exp();
        t.iter()
            .enumerate()
            .map(|(p, v)| {
                let own = 2.0 * (v - p as f64) * e;
                if p == 0 && !self.bug {
                    own + s * e
                } else {
                    own
                }
            })
            .collect()
    }
}

#[test]
fn any_function_with_a_gradient_is_checkable() {
    let theta = [0.3, -1.2, 2.5, 0.1, 4.0];
    for config in [
        CheckConfig::full(),
        CheckConfig::projected(3),
        CheckConfig::sampled(2),
    ] {
        let report = check_objective(&Bowl { bug: false }, &theta, &config).unwrap();
        assert!(report.passed(), "{report}");
    }
    for config in [CheckConfig::full(), CheckConfig::projected(3)] {
        let report = check_objective(&Bowl { bug: true }, &theta, &config).unwrap();
        let named: Vec<usize> = report.failures().map(|e| e.row).collect();
        assert_eq!(named, vec![0], "{report}");
    }
    // A closure with a gradient of the wrong length is an error, not a verdict.
    let err = check_function(|t: &[f64]| t[0], &theta, &[1.0], &CheckConfig::full()).unwrap_err();
    assert!(matches!(
        err,
        Error::ParameterCount {
            expected: 5,
            got: 1
        }
    ));
    let err = check_function(
        |_: &[f64]| f64::NAN,
        &theta,
        &[0.0; 5],
        &CheckConfig::full(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFiniteValue { .. }));
}

/// The verdict's third outcome: a relu network whose W_0 = 0 puts every z_1 on the kink and
/// every a_1 at 0, so nothing can be judged. It is inconclusive at the default share (one
/// half), in the table and the JSON; `min_judged` = 0 gives the old rule (passed), and a share
/// outside [0, 1] is refused.
#[test]
fn a_check_that_judges_too_little_is_inconclusive() {
    use backprop_gradcheck::{MIN_JUDGED, Verdict};
    let net = backprop::Network::<f64>::from_weights(
        vec![
            nalgebra::DMatrix::zeros(4, 3),
            nalgebra::DMatrix::from_element(2, 4, 0.5),
        ],
        Activation::Relu,
    )
    .unwrap();
    let (_, x, y) = problem::<f64>(&[3, 4, 2], Activation::Relu, 3, 9);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full()).unwrap();
    assert_eq!(report.min_judged, MIN_JUDGED);
    assert_eq!(report.verdict(), Verdict::Inconclusive, "{report}");
    assert!(!report.passed() && !report.any_failed());
    assert_eq!(report.inconclusive_layers(), vec![0, 1]);
    assert_eq!(report.layers[0].judged_share(), 0.0);
    assert!(
        report.to_string().contains("INCONCLUSIVE: 20 checked"),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
    assert_eq!(json["inconclusive_layers"], serde_json::json!([0, 1]));
    let back: Report = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(back, report);

    let lenient = CheckConfig::full().with_min_judged(0.0);
    let report = check_backprop(&net, x.as_view(), y.as_view(), &lenient).unwrap();
    assert_eq!(report.verdict(), Verdict::Passed, "{report}");

    // A healthy network judges every element: passed even when all must be judged.
    let (good, x, y) = problem::<f64>(&[3, 4, 2], Activation::Tanh, 3, 9);
    let strict = CheckConfig::full().with_min_judged(1.0);
    let report = check_backprop(&good, x.as_view(), y.as_view(), &strict).unwrap();
    assert_eq!(report.verdict(), Verdict::Passed, "{report}");
    assert!(report.layers.iter().all(|l| l.judged_share() == 1.0));

    for bad in [-0.1, 1.5, f64::NAN] {
        let err = check_backprop(
            &good,
            x.as_view(),
            y.as_view(),
            &strict.clone().with_min_judged(bad),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    name: "min_judged",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}
