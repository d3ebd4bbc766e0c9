//! Property tests: correct backpropagation never fails the check, over random shapes (1–4
//! weight matrices, widths 1–8, batch 1–4), every built-in activation plus a user's own, and
//! both dtypes, in full and projected mode.
//!
//! 1000 cases by default; `PROPTEST_CASES=N` runs N.

mod common;

use backprop::{Activation, ActivationFn, Network, Scalar};
use backprop_gradcheck::{CheckConfig, Report, check_backprop};
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
        for report in reports.into_iter().flatten() {
            prop_assert!(report.passed(), "{report}");
            prop_assert_eq!(report.evaluation_dtype.as_str(), "F64");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 4, max_global_rejects: cases(), ..ProptestConfig::default() })]

    /// The check is sharp, not just lenient: one element of ∂E/∂W_i off by a relative 1e-5 (f64)
    /// or 1e-2 (f32) is caught and named, when the element is not small beside its layer's
    /// largest (smooth activations, so no kinks intervene).
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

fn sharp<T: Scalar>(
    sizes: &[usize],
    batch: usize,
    act: usize,
    seed: u64,
    scale: f64,
    pick: prop::sample::Index,
    relative: f64,
) -> Result<(), TestCaseError> {
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
    let mut g = ws.gradient_ref().clone();
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
    g.layer_mut(layer)[(j, k)] = v * T::of_f64(1.0 + relative);
    let report =
        backprop_gradcheck::check_network(&net, x.as_view(), y.as_view(), &g, &CheckConfig::full())
            .expect("valid input");
    prop_assert_eq!(report.failed_layers(), vec![layer], "{}", report);
    let failures: Vec<(usize, usize, usize)> =
        report.failures().map(|e| (e.layer, e.row, e.col)).collect();
    prop_assert_eq!(failures, vec![(layer, j, k)]);
    Ok(())
}
