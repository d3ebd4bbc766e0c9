/*!
Gradient checking for `backprop` networks, and for any function with an analytic gradient:
the claimed ∂E/∂W_i is compared with numerical oracles element by element, each comparison gets
its own allowed error, and the report names every wrong element by layer, row and column.
The book (`docs/book` in the source repository), chapter "Gradient checking", derives the
central difference, Richardson's step and the allowed error with a worked example.

# What is checked

For a network z_{i+1} = W_i a_i, a_i = σ(z_i), E = ‖y − z_n‖² summed over the batch (the core
crate's equations), [`check_network`] takes a claimed gradient ∂E/∂W_i (denominator layout,
the shape of W_i) — yours, with a bug or without — and compares every element (W_i^{jk}: layer
i, row j, column k) with

* **central differences** with Richardson extrapolation (the default oracle), or
* **forward-mode dual numbers** ([`Oracle::Dual`], via num-dual): the exact derivative,
  rounding aside, independent of the `sigma_prime` under test ([`dual`]).

[`check_backprop`] checks the core's own batched backpropagation; [`check_network_with`] takes a
closure; [`check_function`] and [`check_objective`] check any f(θ) with a gradient.

# Check a custom activation in a few lines

```
use backprop::{ActivationFn, Init, Network, Scalar};
use backprop_gradcheck::{CheckConfig, check_backprop};
use nalgebra::DMatrix;
use std::sync::Arc;

/// softsign: σ(z) = z / (1 + |z|), σ′(z) = 1 / (1 + |z|)².
#[derive(Debug)]
struct Softsign;
impl<T: Scalar> ActivationFn<T> for Softsign {
    fn name(&self) -> String { "softsign".into() }
    fn sigma(&self, z: T) -> T { z / (T::one() + z.abs()) }
    fn sigma_prime(&self, z: T) -> T { let d = T::one() + z.abs(); T::one() / (d * d) }
}

let net = Network::<f64>::random_with(&[4, 8, 3], Arc::new(Softsign), Init::Glorot, 7)?;
let x = DMatrix::from_fn(4, 2, |r, c| (r + c) as f64 / 4.0 - 0.5);
let y = DMatrix::from_fn(3, 2, |r, c| r as f64 - c as f64);
let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full())?;
println!("{report}"); // per-layer table and the worst elements; report.to_json() for JSON
assert!(report.passed());
# Ok::<(), backprop_gradcheck::Error>(())
```

For an f32 network with your own activation, give its f64 version in
[`CheckConfig::reference_activation`] so the reference is computed in f64 (below); for the dual
oracle, implement [`DualActivation`] and pass it in [`CheckConfig::dual_activation`].

# The verdict rule

For each element the step is chosen from the evaluation scalar's ε and the weight's magnitude,

```text
h = ε^(1/5) · max(|W_i^{jk}|, 1) / max(1, max_s |a_i^{k,s}|)
```

(ε^(1/5) balances the O(h⁴) truncation of the extrapolated difference against the O(ε/h)
rounding; dividing by |a_i^k| keeps the change h·a_i^k of z_{i+1}^j moderate). Then, with
D(h) = (E(w + h) − E(w − h)) / 2h = g + c₃h² + c₅h⁴ + …:

```text
numeric     R = D(h/2) + (D(h/2) − D(h)) / 3        Richardson: the h² term cancels
trunc         = |D(h/2) − D(h)| / 3                 estimated error of D(h/2), which bounds R's
rounding_n    = (4 ρ(h/2) + ρ(h)) / 3,   ρ(h) = (e(+h) + e(−h)) / 2h
rounding_a    = e_T(∂E/∂W_i^{jk}) + e_ref(∂E/∂W_i^{jk})
allowed       = 2 trunc + 2 rounding_n + rounding_a
floor         = 2 rounding_n + rounding_a
```

When that verdict passes and its truncation estimate is the larger part of what it allows, it
is refined with D(h/4) (one more level of Romberg's table: two more evaluations):

```text
R'          = D(h/4) + (D(h/4) − D(h/2)) / 3
numeric     R'' = R' + (R' − R) / 15                the h⁴ term cancels too
trunc           = |R' − R| / 15
rounding_n      = (64 ρ(h/4) + 20 ρ(h/2) + ρ(h)) / 45
```

and the refined verdict stands when it allows less. Without it the allowed error is at least the
h² error of D(h/2), which exceeds 10⁻⁵ of a small element when E curves strongly along its
weight (a gradient of 2·10⁻³ beside a third derivative of order 1: 1.3·10⁻⁴ relative allowed);
with it, 1.8·10⁻¹³ (9·10⁻¹¹ relative) for that element, mostly rounding (the test
`a_strongly_curved_f64_element_is_refined_and_its_1e5_error_named`).

* e(±h) bounds the rounding error of one loss difference E(w ± h) − E(w). It is propagated
  with the evaluation itself (σ good to a few ulps, γ_k = k u / (1 − k u) for sums of k
  products), so it is as small as the arithmetic allows — no fixed tolerance anywhere.
* e_T bounds the rounding of the analytic value in its own scalar T, from a running error
  analysis of backpropagation (magnitudes |W|, |a|, |σ′|·|W|ᵀ|δ| carried through the layers);
  e_ref is the same bound in the evaluation scalar, for the rounding of the point itself.
* The element **passes** when |analytic − numeric| ≤ allowed; it **fails** otherwise (or when
  the analytic value is NaN or ∞). It is **below the float floor** when both values are within
  `floor` of zero: rounding alone could produce them, so they cannot be judged. It is **kink
  crossed** when a step moved a pre-activation across a kink of σ (relu's 0) and shrinking the
  step by 8, up to six times, did not avoid it, or when a pre-activation lies within its
  rounding error of the kink: a difference across a kink does not estimate the derivative.

Why this rule: one fixed tolerance is either too tight (float32, large sums, saturated units:
false failures) or too loose (a 1e-5 relative error in f64 passes unseen). The allowed error
here is what truncation and rounding can explain for *this* element and nothing more, so
correct gradients pass (property-tested over random shapes, activations and both dtypes) and a
relative error of 1e-5 in one f64 element is caught and named. In f32 the analytic value's own
rounding bounds what can be caught: an element that is the small remainder of large terms that
cancel (over the batch, and through W_iᵀ δ_{i+1} in the layers above) can be a percent off from
rounding alone, and the report's `allowed` column says so.

# f32 networks

By default ([`Evaluation::Widened`]) an f32 network is checked against an **f64 evaluation of
the same weights and data** (widening is exact): the finite differences do not suffer f32's
cancellation, and the allowed error includes the f32 rounding bound of the analytic gradient.
[`Evaluation::Native`] evaluates in f32 instead, with correspondingly wider bounds.

# Modes and cost

[`Mode::Full`] checks every element; [`Mode::Sampled`] k seeded elements per layer (coverage
reported); [`Mode::Projected`] seeded random directions V per layer, comparing
Σ (∂E/∂W_i) ⊙ V with the directional difference, and falls back to full mode for a layer whose
direction fails, so the wrong elements are still named.

Evaluations exploit the structure: perturbing W_i^{jk} by t changes only z_{i+1}^j, by t·a_i^k.
From cached activations, only what lies above is recomputed: O(B) for the last two layers
(with c_j = ‖W_{n−1}[:, j]‖² and d = W_{n−1}ᵀ(y − z_n) cached, ΔE = Σ_s Δa (Δa c_j − 2 d_js)),
one dense pass over the layers above otherwise. ΔE is computed directly, never as a difference
of two losses. A full check of the peers' S2 (784-128-10, 101,632 weights) takes milliseconds:
see `benches/benches/gradcheck.rs`.

# Reports

A [`Report`] is a value: per layer the counts (passed, failed, kink crossed, below the float
floor, coverage), the projected directions, and the worst elements with layer, row, column,
analytic, numeric, allowed error and step. It prints as a table ([`std::fmt::Display`]) and
serialises to JSON ([`Report::to_json`], serde).

Its [`Verdict`] has three outcomes: **failed** when any element or direction failed;
**inconclusive** when none failed but some layer judged (passed or failed) less than
[`CheckConfig::min_judged`] of what it checked — the rest below the float floor or across a
kink, values that could not have failed — so that a check that judged nothing never says
PASSED; **passed** otherwise. The default share, one half ([`MIN_JUDGED`]), is justified there.
*/

mod bounds;
pub mod config;
pub mod dual;
mod engine;
pub mod error;
pub mod function;
pub mod method;
pub mod network;
pub mod report;
mod verdict;

pub use config::{CheckConfig, Evaluation, MIN_JUDGED, Mode, Oracle};
pub use dual::DualActivation;
pub use error::{Error, Result};
pub use function::{Objective, check_function, check_objective, default_value_rounding};
pub use network::{check_backprop, check_network, check_network_with};
pub use report::{DirectionCheck, ElementCheck, LayerReport, Report, Status, Verdict};

/// The crate README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
