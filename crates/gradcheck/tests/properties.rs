//! Property tests: correct backpropagation never fails the check, over random shapes (1–4
//! weight matrices, widths 1–8, batch 1–4), every built-in activation plus a user's own, and
//! both dtypes, in full and projected mode.
//!
//! 1000 cases by default; `PROPTEST_CASES=N` runs N.

mod common;

use backprop::{Activation, ActivationFn, Denominator, Gradient, Network, Scalar};
use backprop_gradcheck::{CheckConfig, Report, Status, Verdict, check_backprop};
use common::{Cubic, matrix};
use nalgebra::DMatrix;
use proptest::prelude::*;
use std::sync::Arc;

/// Widths and depths of the random networks.
const MAX_WIDTH: usize = 8;
const MAX_DEPTH: usize = 4;
const MAX_BATCH: usize = 4;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// An activation: one of the six built-ins, or (index 6) the user's cubic.
fn activation<T: Scalar>(index: usize) -> Arc<dyn ActivationFn<T>> {
    match Activation::ALL.get(index) {
        Some(a) => Arc::new(*a),
        None => Arc::new(Cubic { wrong_prime: false }),
    }
}

prop_compose! {
    fn shape()(depth in 1..=MAX_DEPTH)
        (sizes in prop::collection::vec(1..=MAX_WIDTH, depth + 1), batch in 1..=MAX_BATCH,
         act in 0usize..7, seed in any::<u64>(), scale in prop::sample::select(vec![0.1, 1.0, 3.0]))
        -> (Vec<usize>, usize, usize, u64, f64) {
        (sizes, batch, act, seed, scale)
    }
}

/// The reports of a full and a projected check, or `None` when E or ∂E/∂W overflows in T (the
/// cubic activation compounds through the layers): no checker can pass a gradient that is not
/// representable, and the check rightly fails it.
fn check<T: Scalar>(
    sizes: &[usize],
    batch: usize,
    act: usize,
    seed: u64,
    scale: f64,
) -> Option<Vec<Report>> {
    let weights: Vec<DMatrix<T>> = sizes
        .windows(2)
        .enumerate()
        .map(|(i, l)| {
            let r = scale / (l[0] as f64).sqrt();
            matrix(l[1], l[0], seed.wrapping_add(i as u64), -r, r)
        })
        .collect();
    let net = Network::with_activation(weights, activation::<T>(act)).expect("shapes chain");
    let x = matrix::<T>(sizes[0], batch, seed ^ 0xFEED, -2.0, 2.0);
    let y = matrix::<T>(sizes[sizes.len() - 1], batch, seed ^ 0xBEEF, -1.0, 1.0);
    let mut ws = backprop::Workspace::new(&net, batch).expect("small");
    let e = ws
        .gradient(&net, x.as_view(), y.as_view())
        .expect("valid input");
    if !e.finite()
        || ws
            .gradient_ref()
            .layers()
            .iter()
            .any(|g| g.iter().any(|v| !v.finite()))
    {
        return None;
    }
    let mut config_full = CheckConfig::full();
    let mut config_proj = CheckConfig::projected(2).with_seed(seed);
    // A user's activation on an f32 network is evaluated in f64 through its f64 version.
    if act >= Activation::ALL.len() {
        config_full.reference_activation = Some(Arc::new(Cubic { wrong_prime: false }));
        config_proj.reference_activation = config_full.reference_activation.clone();
    }
    Some(
        [config_full, config_proj]
            .iter()
            .map(|c| check_backprop(&net, x.as_view(), y.as_view(), c).expect("valid input"))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_global_rejects: cases(), ..ProptestConfig::default() })]

    #[test]
    fn correct_backprop_never_fails_the_check((sizes, batch, act, seed, scale) in shape(), f32_net in any::<bool>()) {
        let reports = if f32_net {
            check::<f32>(&sizes, batch, act, seed, scale)
        } else {
            check::<f64>(&sizes, batch, act, seed, scale)
        };
        prop_assume!(reports.is_some(), "E or ∂E/∂W overflows");
        // Never failed. Inconclusive exactly when some layer judged less than min_judged of its
        // values. With a smooth activation nothing crosses a kink, so a layer is left unjudged
        // only below the float floor (seen: a projected check of an f32 network whose every
        // direction is within rounding of 0); relu-like ones may also leave dead units and
        // kinks unjudged.
        let kinked = matches!(Activation::ALL.get(act), Some(Activation::Relu | Activation::LeakyRelu { .. }));
        for report in reports.into_iter().flatten() {
            prop_assert!(!report.any_failed(), "{report}");
            let short = report.layers.iter().any(|l| l.judged_share() < report.min_judged);
            let expected = if short { Verdict::Inconclusive } else { Verdict::Passed };
            prop_assert_eq!(report.verdict(), expected, "{}", report);
            if !kinked {
                let kinks = report.layers.iter().map(|l| {
                    l.kink_crossed + l.directions.iter().filter(|d| d.status == Status::KinkCrossed).count()
                });
                prop_assert_eq!(kinks.sum::<usize>(), 0, "{}", report);
            }
            prop_assert_eq!(report.evaluation_dtype.as_str(), "F64");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 4, max_global_rejects: cases(), ..ProptestConfig::default() })]

    /// The check is sharp, not just lenient: one element of ∂E/∂W_i off by a relative 1e-5 (f64)
    /// or 1e-2 (f32) is caught and named, and no other element fails, when the element is not
    /// small beside its layer's largest (smooth activations, so no kinks intervene).
    ///
    /// In f64 this holds for every such element: the test asserts that the allowed error stays
    /// below the planted one. In f32 it holds for every element whose analytic value rounding
    /// cannot move by 1e-2: an element that is the small remainder of large terms (sums over
    /// the batch and through the layers that cancel) may be off by a percent from rounding alone,
    /// and no checker can tell such an error from a bug. One case, found by this test in CI
    /// (`an_ill_conditioned_f32_element_cannot_be_judged_at_one_percent`), had terms of
    /// magnitude ~7 leave 1.1e-3: its f32 rounding bound is 2.0 % of the value.
    #[test]
    fn one_slightly_wrong_element_is_caught_and_named(
        (sizes, batch, act, seed, scale) in shape(),
        smooth in prop::sample::select(vec![0usize, 1, 4]),
        pick in any::<prop::sample::Index>(),
        f32_net in any::<bool>(),
    ) {
        let _ = act;
        if f32_net {
            sharp::<f32>(&sizes, batch, smooth, seed, scale, pick, 1e-2)?;
        } else {
            sharp::<f64>(&sizes, batch, smooth, seed, scale, pick, 1e-5)?;
        }
    }
}

/// The network, data and correct gradient of one planted-error case (weights scaled by at
/// most 1, so smooth activations stay away from overflow).
fn planted_case<T: Scalar>(
    sizes: &[usize],
    batch: usize,
    act: usize,
    seed: u64,
    scale: f64,
) -> (Network<T>, DMatrix<T>, DMatrix<T>, Gradient<T, Denominator>) {
    let weights: Vec<DMatrix<T>> = sizes
        .windows(2)
        .enumerate()
        .map(|(i, l)| {
            let r = scale.min(1.0) / (l[0] as f64).sqrt();
            matrix(l[1], l[0], seed.wrapping_add(i as u64), -r, r)
        })
        .collect();
    let net = Network::with_activation(weights, activation::<T>(act)).expect("shapes chain");
    let x = matrix::<T>(sizes[0], batch, seed ^ 0xFEED, -2.0, 2.0);
    let y = matrix::<T>(sizes[sizes.len() - 1], batch, seed ^ 0xBEEF, -1.0, 1.0);
    let mut ws = backprop::Workspace::new(&net, batch).expect("small");
    ws.gradient(&net, x.as_view(), y.as_view())
        .expect("valid input");
    let g = ws.gradient_ref().clone();
    (net, x, y, g)
}

/// A full check of the claimed gradient `g`, every element kept in the report.
fn check_every_element<T: Scalar>(
    net: &Network<T>,
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    g: &Gradient<T, Denominator>,
) -> Report {
    let config = CheckConfig {
        worst: usize::MAX,
        ..CheckConfig::full()
    };
    backprop_gradcheck::check_network(net, x.as_view(), y.as_view(), g, &config)
        .expect("valid input")
}

/// The failed elements of a report, as (layer, row, column).
fn failed(report: &Report) -> Vec<(usize, usize, usize)> {
    report.failures().map(|e| (e.layer, e.row, e.col)).collect()
}

fn sharp<T: Scalar>(
    sizes: &[usize],
    batch: usize,
    act: usize,
    seed: u64,
    scale: f64,
    pick: prop::sample::Index,
    relative: f64,
) -> Result<(), TestCaseError> {
    let (net, x, y, mut g) = planted_case::<T>(sizes, batch, act, seed, scale);
    let layer = pick.index(net.depth());
    let gmax = g.layer(layer).amax();
    prop_assume!(gmax > T::of_f64(1e-3));
    let candidates: Vec<usize> = (0..g.layer(layer).len())
        .filter(|&p| g.layer(layer)[p].abs() >= T::of_f64(0.1) * gmax)
        .collect();
    let idx = candidates[pick.index(candidates.len())];
    let (rows, _) = g.layer(layer).shape();
    let (j, k) = (idx % rows, idx / rows);
    let v = g.layer(layer)[(j, k)];
    // What rounding and truncation can explain for this element: the unperturbed check's
    // allowed error plus its distance from the numeric value. A planted error beyond that must
    // be caught.
    let correct = check_every_element(&net, &x, &y, &g);
    prop_assert!(correct.passed(), "{}", correct);
    let element = correct.layers[layer]
        .worst
        .iter()
        .find(|e| (e.row, e.col) == (j, k))
        .expect("every element is reported");
    let planted = relative * v.as_f64().abs();
    let explained = element.allowed + element.difference;
    if T::EPSILON.as_f64() < 1e-10 {
        prop_assert!(
            planted > explained,
            "f64: {planted:e} planted, {explained:e} explained\n{correct}"
        );
    } else {
        prop_assume!(
            planted > explained,
            "f32 rounding can explain the planted error"
        );
    }
    g.layer_mut(layer)[(j, k)] = v * T::of_f64(1.0 + relative);
    let report = check_every_element(&net, &x, &y, &g);
    prop_assert_eq!(report.failed_layers(), vec![layer], "{}", report);
    prop_assert_eq!(failed(&report), vec![(layer, j, k)]);
    Ok(())
}

/// The case this property test found in CI (sizes 1-1-4-2, batch 3, softplus, f32): ∂E/∂W_0 is
/// −1.1e-3, the remainder of per-sample terms 6.9e-3, −18.3e-3 and 10.3e-3 whose own factors
/// (δ_1 = σ′(z_1) ⊙ W_1ᵀ δ_2, δ_2 = σ′(z_2) ⊙ W_2ᵀ δ_3) cancel as well. f32 rounding is
/// bounded by 2.0 % of the value there (in this run it moved it by 0.009 %), so a planted 1 %
/// error is within what rounding can explain; 5 % is beyond it, and is caught and named.
#[test]
fn an_ill_conditioned_f32_element_cannot_be_judged_at_one_percent() {
    let (net, x, y, mut g) =
        planted_case::<f32>(&[1, 1, 4, 2], 3, 4, 4_088_705_125_622_649_709, 1.0);
    assert_eq!(net.activation().name(), "softplus");
    let correct = check_every_element(&net, &x, &y, &g);
    assert!(correct.passed(), "{correct}");
    let e = &correct.layers[0].worst[0];
    let v = f64::from(g.layer(0)[(0, 0)]);
    assert!((-1.2e-3..-1.0e-3).contains(&v), "∂E/∂W_0 = {v:e}");
    let explained = (e.allowed + e.difference) / v.abs();
    assert!(
        (0.01..0.05).contains(&explained),
        "rounding explains {explained:e} of the value"
    );
    g.layer_mut(0)[(0, 0)] = (v * 1.05) as f32;
    let report = check_every_element(&net, &x, &y, &g);
    assert_eq!(failed(&report), vec![(0, 0, 0)], "{report}");
}

/// The f64 case the strict form of the property found (sizes 7-2-1-8, batch 1, tanh):
/// ∂E/∂W_1[0,0] = 2.0e-3 beside a third derivative of E along W_1[0,0] of order 1. Richardson's
/// two steps allowed 2.7e-7 there (1.3e-4 of the value), so a 1e-5 relative error passed; the
/// refined verdict allows less than 1e-9 of the value and names it.
#[test]
fn a_strongly_curved_f64_element_is_refined_and_its_1e5_error_named() {
    let (net, x, y, mut g) =
        planted_case::<f64>(&[7, 2, 1, 8], 1, 1, 8_887_574_985_815_450_531, 1.0);
    assert_eq!(net.activation().name(), "tanh");
    let correct = check_every_element(&net, &x, &y, &g);
    assert!(correct.passed(), "{correct}");
    let v = g.layer(1)[(0, 0)];
    assert!((1.9e-3..2.1e-3).contains(&v), "∂E/∂W_1[0,0] = {v:e}");
    let e = correct.layers[1]
        .worst
        .iter()
        .find(|e| (e.row, e.col) == (0, 0))
        .unwrap();
    assert!(e.allowed < 1e-9 * v, "allowed {:e}", e.allowed);
    g.layer_mut(1)[(0, 0)] = v * (1.0 + 1e-5);
    let report = check_every_element(&net, &x, &y, &g);
    assert_eq!(failed(&report), vec![(1, 0, 0)], "{report}");
}
