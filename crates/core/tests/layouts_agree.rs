//! Property tests over random shapes: the four gradient forms and the batched path agree, and
//! all of them equal an oracle that shares neither their forward pass nor σ' (forward-mode dual
//! numbers through a forward pass of its own, `common::dual_gradient`), so that agreement is
//! also correctness: a σ' wrong in the same way in every form (they all call the crate's
//! `sigma_prime`/`mul_prime`) fails here. The batch gradient is the sum of the per-sample
//! gradients, and a small step along −g lowers E by m‖g‖² to first order.
//!
//! Every property runs from one generic body for f32 and f64. The case count comes from
//! `PROPTEST_CASES` (proptest's default, 256, when unset).
//!
//! # Tolerance rule
//!
//! Each element of ∂E/∂W_i is a sum of products accumulated through the n − i layers above it,
//! each layer a dot product of at most l_max terms, summed over B samples. Floating-point
//! summation of K terms errs by at most K·ε·Σ|terms| (Higham, §3.1), so two correctly rounded
//! evaluations in different orders differ by at most about 2·(n + 1)·(l_max + B)·ε times the
//! magnitude of the terms. We bound the magnitude by M = max(1, max |g|) and allow
//!
//! ```text
//! |g_a − g_b| ≤ 4 · (n + 1) · (l_max + B) · ε · M
//! ```
//!
//! which is a worst-case bound (a real bug shows up as an O(1) relative error).

mod common;

use backprop::gradient::{denominator, elementwise, naive, numerator};
use backprop::{Activation, DenominatorGradient, Network, Scalar, Workspace};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// Bounds of the random networks: 1..=MAX_DEPTH weight matrices, widths 1..=MAX_WIDTH,
/// batches 1..=MAX_BATCH.
const MAX_DEPTH: usize = 6;
const MAX_WIDTH: usize = 16;
const MAX_BATCH: usize = 8;

/// A random case: layer sizes, batch size, activation, seed for the weights and data.
#[derive(Clone, Debug)]
struct Case {
    sizes: Vec<usize>,
    batch: usize,
    activation: Activation,
    seed: u64,
}

prop_compose! {
    fn case()(
        sizes in prop::collection::vec(1..=MAX_WIDTH, 2..=MAX_DEPTH + 1),
        batch in 1..=MAX_BATCH,
        activation in prop::sample::select(Activation::ALL.to_vec()),
        seed in any::<u64>(),
    ) -> Case {
        Case { sizes, batch, activation, seed }
    }
}

/// The network and a batch with inputs in [−1, 1] and targets in [−1, 1], from the case's seed.
fn build<T: Scalar>(c: &Case) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
    let net = Network::<T>::random(&c.sizes, c.activation, c.seed).unwrap();
    // A cheap deterministic stream (splitmix64) for the data.
    let mut state = c.seed ^ 0x5EED;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        T::of_f64((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    };
    let n = c.sizes.len() - 1;
    let x = DMatrix::from_fn(c.sizes[0], c.batch, |_, _| next());
    let y = DMatrix::from_fn(c.sizes[n], c.batch, |_, _| next());
    (net, x, y)
}

fn tolerance<T: Scalar>(c: &Case, reference: &DenominatorGradient<T>) -> T {
    let n = c.sizes.len() - 1;
    let l_max = *c.sizes.iter().max().unwrap();
    let m = reference
        .layers()
        .iter()
        .flat_map(|g| g.iter().map(|v| v.abs()))
        .fold(T::one(), |a, b| a.max(b));
    T::of_f64((4 * (n + 1) * (l_max + c.batch)) as f64) * T::EPSILON * m
}

fn forms_agree<T: Scalar>(c: &Case) -> Result<(), TestCaseError> {
    let (net, x, y) = build::<T>(c);
    let (x, y) = (x.as_view(), y.as_view());
    let (e_den, den) = denominator::gradient(&net, x, y).unwrap();
    let (e_num, num) = numerator::gradient(&net, x, y).unwrap();
    let (e_idx, idx) = elementwise::gradient(&net, x, y).unwrap();
    let (e_nai, nai) = naive::gradient(&net, x, y).unwrap();
    let mut ws = Workspace::new(&net, c.batch).unwrap();
    let e_bat = ws.gradient(&net, x, y).unwrap();
    let tol = tolerance(c, &den);
    let e_tol =
        T::of_f64((4 * (c.sizes.len() + c.batch)) as f64) * T::EPSILON * e_den.max(T::one());
    for (name, e, g) in [
        ("numerator transposed", e_num, num.to_denominator()),
        ("element-wise", e_idx, idx),
        ("naive chain", e_nai, nai),
        ("batched", e_bat, ws.gradient_ref().clone()),
    ] {
        prop_assert!((e - e_den).abs() <= e_tol, "{name}: E = {e} vs {e_den}");
        for i in 0..net.depth() {
            prop_assert_eq!(
                g.layer(i).shape(),
                den.layer(i).shape(),
                "{} layer {}",
                name,
                i
            );
            for ((j, k), (a, b)) in den
                .layer(i)
                .iter()
                .zip(g.layer(i).iter())
                .enumerate()
                .map(|(p, v)| ((p % den.layer(i).nrows(), p / den.layer(i).nrows()), v))
            {
                prop_assert!(
                    (*a - *b).abs() <= tol,
                    "{name} vs denominator at W_{i}[{j},{k}]: {b} vs {a} (allowed {tol})"
                );
            }
        }
    }
    // The oracle that shares nothing: dual numbers on the same weights and data (widened to
    // f64, exactly), within the same rounding rule (the oracle's own f64 rounding is below it).
    // Relu-like σ' jumps at 0: where a hidden pre-activation lies within rounding of the kink
    // (1000 ε, with |W||a| of order 1 here), T's forward pass and the oracle's f64 one may take
    // different sides, and the comparison says nothing; such cases skip it.
    let kinked = !backprop::ActivationFn::<T>::kinks(&c.activation).is_empty();
    let trace = net.forward(x).unwrap();
    let near_kink = kinked
        && (1..net.depth()).any(|i| {
            trace
                .z(i)
                .iter()
                .any(|z| z.abs() <= T::of_f64(1e3) * T::EPSILON)
        });
    let exact = if near_kink {
        vec![]
    } else {
        common::dual_gradient(&net, c.activation, &x.clone_owned(), &y.clone_owned())
    };
    for i in 0..exact.len() {
        let rows = den.layer(i).nrows();
        for (p, (g, d)) in den.layer(i).iter().zip(exact[i].iter()).enumerate() {
            let tol = tol.as_f64();
            prop_assert!(
                (g.as_f64() - d).abs() <= tol,
                "denominator vs dual numbers at W_{i}[{},{}]: {g} vs {d} (allowed {tol})",
                p % rows,
                p / rows
            );
        }
    }
    // The numerator layout really is the transpose: l_i × l_{i+1}.
    for i in 0..net.depth() {
        let w = net.weight(i);
        prop_assert_eq!(num.layer(i).shape(), (w.ncols(), w.nrows()));
    }
    Ok(())
}

fn batch_is_sum_of_samples<T: Scalar>(c: &Case) -> Result<(), TestCaseError> {
    let (net, x, y) = build::<T>(c);
    let mut ws = Workspace::new(&net, c.batch).unwrap();
    ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
    let batched = ws.gradient_ref().clone();
    let mut sum = DenominatorGradient::<T>::zeros_like(net.weights());
    for s in 0..c.batch {
        let (_, g) = ws
            .gradient(&net, x.columns(s, 1), y.columns(s, 1))
            .map(|e| (e, ws.gradient_ref().clone()))
            .unwrap();
        sum.add_assign(&g);
    }
    let tol = tolerance(c, &batched);
    let diff = batched.max_abs_diff(&sum);
    prop_assert!(diff <= tol, "Σ_s g_s vs batched: max diff {diff} > {tol}");
    Ok(())
}

proptest! {
    #[test]
    fn all_forms_agree_and_equal_dual_numbers(c in case()) {
        forms_agree::<f64>(&c)?;
        forms_agree::<f32>(&c)?;
    }

    #[test]
    fn batched_gradient_is_the_sum_of_per_sample_gradients(c in case()) {
        batch_is_sum_of_samples::<f64>(&c)?;
        batch_is_sum_of_samples::<f32>(&c)?;
    }

    /// E(W − m g) − E(W) = −m‖g‖² + O(m²). With m ≤ 1e-5 the second-order term is about
    /// m · (curvature) relative to the first, and with m‖g‖² ≥ 1e-10 E the rounding of E (ε E)
    /// stays below 1e-5 of it, so 1 % is a wide margin. f64 only: in f32 the change of E would
    /// drown in the rounding of E itself.
    #[test]
    fn small_step_lowers_loss_by_m_times_gradient_norm_squared(c in case()) {
        let (mut net, x, y) = build::<f64>(&c);
        let mut ws = Workspace::new(&net, c.batch).unwrap();
        let e0 = ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
        let g = ws.gradient_ref().clone();
        let g2 = g.norm_squared();
        let m = (1e-6 * e0 / g2).min(1e-5);
        prop_assume!(g2 > 0.0 && m * g2 >= 1e-10 * e0);
        let before = net.forward(x.as_view()).unwrap();
        ws.step(&mut net, x.as_view(), y.as_view(), m, backprop::Reduction::Sum).unwrap();
        let after = net.forward(x.as_view()).unwrap();
        // Taylor's first order holds where E is smooth: for relu-like σ, no hidden
        // pre-activation may cross the kink at 0 during the step.
        if !backprop::ActivationFn::<f64>::kinks(&c.activation).is_empty() {
            for i in 1..net.depth() {
                let crossed = before.z(i).iter().zip(after.z(i).iter()).any(|(a, b)| (*a > 0.0) != (*b > 0.0));
                prop_assume!(!crossed);
            }
        }
        let e1 = backprop::loss(y.as_view(), after.output().as_view());
        let predicted = -m * g2;
        let rel = ((e1 - e0) - predicted).abs() / predicted.abs();
        prop_assert!(rel < 1e-2, "ΔE = {} vs −m‖g‖² = {predicted} (relative error {rel})", e1 - e0);
    }
}
