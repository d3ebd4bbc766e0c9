//! The plain-nalgebra baseline ([`backprop_benches::NalgebraStep`]) computes the project's
//! step: on every bench shape (S1–S5 and T1), in f64 and f32, a step of the baseline and one of
//! [`backprop::Workspace::step`] (m = 1e-3, [`Reduction::Sum`]) from the same weights and batch
//! give the same updated weights, element by element, and the same loss E, within a bound
//! derived from the rounding of each implementation.
//!
//! # The tolerance
//!
//! Both implementations compute the same formulas in a different order. For each, a bound on
//! the absolute rounding error of every quantity is propagated through the step (to first
//! order, computed in f64 from the magnitudes of the step's quantities; ε is the machine
//! epsilon of T, u = ε / 2, γ(k) bounds the relative error of a sum of k terms):
//!
//! ```text
//! e(Z_{i+1}) = γ(l_i) |W_i| |A_i| + (|W_i| e(A_i)),        e(A_0) = 0 (X is the same data)
//! e(A_i)     = σ′(Z_i) e(Z_i) + 16 ε |A_i|             (σ: e^x, +, ÷; the vector σ ≤ 8 ulp)
//! e(R)       = e(Z_n) + ε |R|,  R = Y − Z_n;   e(Δ_n) = 2 e(R)
//! e(E)       = (Σ 2 |R| e(R)) + γ(l_n B) Σ R²
//! e(T_i)     = γ(l_{i+1}) |W_i|ᵀ |Δ_{i+1}| + (|W_i|ᵀ e(Δ_{i+1})),  T_i = W_iᵀ Δ_{i+1}
//! e(σ′_i)    = e(A_i) + 4 ε σ′_i                       (σ′ = A (1 − A), |1 − 2A| ≤ 1)
//! e(Δ_i)     = σ′_i e(T_i) + |T_i| e(σ′_i) + ε |Δ_i|
//! e(W_i′)    = γ(B + 2) (|W_i| + m |Δ_{i+1}| |A_i|ᵀ) + m (e(Δ_{i+1}) |A_i|ᵀ + |Δ_{i+1}| e(A_i)ᵀ)
//! ```
//!
//! (the last line: W_i − m Σ_s Δ_{i+1} A_iᵀ is one sum of B + 1 terms, however it is fused).
//! The bracketed terms carry errors made earlier through a sum, under one of two models:
//!
//! * **f64, worst case**: γ(k) = k ε (twice the classical γ_k = k u / (1 − k u): any order of
//!   summation, FMA or not), and (|W| e) as written, errors adding up in absolute value.
//! * **f32, probabilistic** (Higham and Mary, "A new approach to probabilistic rounding error
//!   analysis", SIAM J. Sci. Comput. 41 (2019)): γ(k) = min(k ε, λ √k u) with λ = 8 (exceeded
//!   with probability ≤ 2 e^(−λ²/2) ≈ 3·10⁻¹⁴ per sum when rounding errors are independent
//!   and of mean zero), and propagated errors in quadrature, (|W| e) → √((W ∘ W)(e ∘ e)),
//!   Σ → √Σ². In f32 the worst case compounds over the 512- and 1024-term layers of S4 and
//!   S5 to more than W_0's update itself, so that it would check nothing there.
//!
//! Two implementations within these bounds differ by at most twice them: the test's tolerance
//! is 2 e(·), element by element. The comparison also requires that in every layer some
//! element's update |W_i′ − W_i| exceeds 10× its tolerance (so an update 10 % wrong there is
//! seen), and a test below checks that it catches a halved learning rate (the step of a
//! dropped factor 2 in Δ_n) on every shape but S5 in both precisions and m (1 + 10⁻⁴) in f64.
//!
//! Three steps per shape (two for S4, one for S5, whose steps in the test profile take
//! seconds), each from the same weights on both sides: the project's weights after the
//! previous step are copied into the baseline's, so the reuse of the buffers is tested too.
//! Run with `-- --nocapture` to see the margins: per layer the largest |difference| /
//! tolerance and the largest |update| / tolerance, and |ΔE| / tolerance.

use backprop::{Reduction, Scalar, Workspace};
use backprop_benches::{BASELINE_SHAPES, LEARNING_RATE, NalgebraStep, Shape, peer_data};
use nalgebra::DMatrix;

/// Bounds of the absolute rounding error of one implementation's step (see the module doc).
struct Bounds {
    e: f64,
    weights: Vec<DMatrix<f64>>,
}

/// How rounding errors are bounded and combined (see the module doc).
#[derive(Clone, Copy, Debug)]
enum Model {
    /// Worst case: γ(k) = k ε per sum of k terms, propagated errors add up in absolute value.
    WorstCase,
    /// Higham and Mary's probabilistic bound: γ(k) = min(k ε, λ √k u), u = ε / 2, λ = 8;
    /// independent errors propagated in quadrature.
    Probabilistic,
}

/// λ of [`Model::Probabilistic`]: a sum's error exceeds λ √k u Σ |terms| with probability at
/// most 2 e^(−λ² / 2) ≈ 3·10⁻¹⁴ under the model.
const LAMBDA: f64 = 8.0;

/// The rules of a [`Model`] in precision ε.
struct Rules {
    eps: f64,
    model: Model,
}

impl Rules {
    /// The relative bound of a sum of `k` terms.
    fn gamma(&self, k: usize) -> f64 {
        let worst = k as f64 * self.eps;
        match self.model {
            Model::WorstCase => worst,
            Model::Probabilistic => worst.min(LAMBDA * (k as f64).sqrt() * self.eps / 2.0),
        }
    }

    /// The error of the product L R where `r` holds the errors of R's elements and `l` the
    /// magnitudes |L| (or the other way round): |L| e(R), or √((L ∘ L)(e(R) ∘ e(R))).
    fn through(&self, l: &DMatrix<f64>, r: &DMatrix<f64>) -> DMatrix<f64> {
        match self.model {
            Model::WorstCase => l * r,
            Model::Probabilistic => (l.map(|v| v * v) * r.map(|v| v * v)).map(f64::sqrt),
        }
    }

    /// Σ of the independent errors `e`: Σ e, or √(Σ e²).
    fn total(&self, e: &DMatrix<f64>) -> f64 {
        match self.model {
            Model::WorstCase => e.sum(),
            Model::Probabilistic => e.norm(),
        }
    }
}

fn widen<T: Scalar>(m: &DMatrix<T>) -> DMatrix<f64> {
    m.map(|v| v.as_f64())
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// [a | b], side by side.
fn beside(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(a.nrows(), a.ncols() + b.ncols());
    m.columns_mut(0, a.ncols()).copy_from(a);
    m.columns_mut(a.ncols(), b.ncols()).copy_from(b);
    m
}

/// The module doc's bounds for a step of T-precision arithmetic from `weights` on `x`, `y`.
fn bounds<T: Scalar>(
    weights: &[DMatrix<T>],
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    m: T,
    model: Model,
) -> Bounds {
    let eps = T::EPSILON.as_f64();
    let rules = Rules { eps, model };
    let gamma = |k: usize| rules.gamma(k);
    let m = m.as_f64();
    let n = weights.len();
    let w: Vec<DMatrix<f64>> = weights.iter().map(widen).collect();
    let w_abs: Vec<DMatrix<f64>> = w.iter().map(|w| w.abs()).collect();
    let b = x.ncols();

    // Forward: A_i, e(A_i), σ′_i for i = 0..n−1; Z_n and e(Z_n).
    let mut a = vec![widen(x)];
    let mut ea = vec![DMatrix::zeros(x.nrows(), b)];
    let mut sp = vec![DMatrix::zeros(0, 0)];
    let (mut z_n, mut ez_n) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    for i in 0..n {
        let l_i = w[i].ncols();
        let z = &w[i] * &a[i];
        // e(Z_{i+1}) = γ(l_i) |W_i| |A_i| + (|W_i| e(A_i))
        let ez = (&w_abs[i] * a[i].abs()) * gamma(l_i) + rules.through(&w_abs[i], &ea[i]);
        if i + 1 < n {
            let act = z.map(sigmoid);
            let s = act.map(|a| a * (1.0 - a));
            // e(A) = σ′ e(Z) + 16 ε |A|
            let e = s.component_mul(&ez) + act.abs() * (16.0 * eps);
            a.push(act);
            ea.push(e);
            sp.push(s);
        } else {
            (z_n, ez_n) = (z, ez);
        }
    }

    // Output: R = Y − Z_n, Δ_n = −2 R, E = Σ R².
    let r = widen(y) - &z_n;
    let er = &ez_n + r.abs() * eps;
    let e_bound =
        rules.total(&(r.abs().component_mul(&er) * 2.0)) + gamma(r.len()) * r.norm_squared();
    let mut delta = vec![DMatrix::zeros(0, 0); n + 1];
    let mut ed = vec![DMatrix::zeros(0, 0); n + 1];
    delta[n] = &r * -2.0;
    ed[n] = &er * 2.0;

    // Backward: Δ_i, e(Δ_i), and e(W_i′).
    let mut ew = vec![DMatrix::zeros(0, 0); n];
    for i in (0..n).rev() {
        let d_abs = delta[i + 1].abs();
        let a_abs = a[i].abs();
        // |Δ_{i+1}| |A_i|ᵀ and (e(Δ_{i+1}) |A_i|ᵀ + |Δ_{i+1}| e(A_i)ᵀ)
        let p = &d_abs * a_abs.transpose();
        let q = rules.through(
            &beside(&ed[i + 1], &d_abs),
            &beside(&a_abs, &ea[i]).transpose(),
        );
        ew[i] = (w_abs[i].clone() + p * m) * gamma(b + 2) + q * m;
        if i > 0 {
            let l_next = w[i].nrows();
            let wt_abs = w_abs[i].transpose();
            let t = w[i].transpose() * &delta[i + 1];
            // e(T_i) = γ(l_{i+1}) |W_i|ᵀ |Δ_{i+1}| + (|W_i|ᵀ e(Δ_{i+1}))
            let et = (&wt_abs * &d_abs) * gamma(l_next) + rules.through(&wt_abs, &ed[i + 1]);
            let esp = &ea[i] + &sp[i] * (4.0 * eps);
            let d = t.component_mul(&sp[i]);
            ed[i] = sp[i].component_mul(&et) + t.abs().component_mul(&esp) + d.abs() * eps;
            delta[i] = d;
        }
    }
    Bounds {
        e: e_bound,
        weights: ew,
    }
}

/// f64: the worst case; f32: the probabilistic bound (the worst case compounds over S4's and
/// S5's layers of 512 and 1024 terms to more than W_0's update itself).
fn model<T: Scalar>() -> Model {
    if T::DTYPE == backprop::Dtype::F64 {
        Model::WorstCase
    } else {
        Model::Probabilistic
    }
}

/// How a comparison went: per layer, the largest |difference| / tolerance and the largest
/// |update| / tolerance of an element (a wrong update is caught where it is off by more
/// than tolerance / |update|).
#[derive(Debug)]
struct Margins {
    worst_ratio: Vec<f64>,
    update_over_tolerance: Vec<f64>,
    e_ratio: f64,
}

/// Compares one step of the project and of the baseline from `weights` on `x`, `y` with the
/// baseline's learning rate `m_base` (the project's is m = 1e-3).
#[allow(clippy::too_many_arguments)]
fn compare_one_step<T: Scalar>(
    what: &str,
    ws: &mut Workspace<T>,
    net: &mut backprop::Network<T>,
    base: &mut NalgebraStep<T>,
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    m_base: T,
) -> Result<Margins, String> {
    let m = T::of_f64(LEARNING_RATE);
    let before: Vec<DMatrix<T>> = net.weights().to_vec();
    let mut w_base = before.clone();
    let bounds = bounds(&before, x, y, m, model::<T>());
    let e_proj = ws
        .step(net, x.as_view(), y.as_view(), m, Reduction::Sum)
        .map_err(|e| format!("{what}: the project's step failed: {e}"))?;
    let e_base = base.step(&mut w_base, x, y, m_base);

    let e_diff = (e_proj.as_f64() - e_base.as_f64()).abs();
    let e_tol = 2.0 * bounds.e;
    if e_diff.is_nan() || e_diff > e_tol {
        return Err(format!(
            "{what}: E differs: project {e_proj:e}, nalgebra {e_base:e}, |diff| {e_diff:e} > tolerance {e_tol:e}"
        ));
    }
    let mut margins = Margins {
        worst_ratio: Vec::new(),
        update_over_tolerance: Vec::new(),
        e_ratio: e_diff / e_tol,
    };
    for (i, (w_proj, w_base)) in net.weights().iter().zip(&w_base).enumerate() {
        let (mut worst, mut update_over_tol) = (0.0f64, 0.0f64);
        for c in 0..w_proj.ncols() {
            for r in 0..w_proj.nrows() {
                let (p, b) = (w_proj[(r, c)].as_f64(), w_base[(r, c)].as_f64());
                let tol = 2.0 * bounds.weights[i][(r, c)];
                let diff = (p - b).abs();
                if diff.is_nan() || diff > tol {
                    return Err(format!(
                        "{what}: W_{i}[{r}, {c}] differs: project {p:e}, nalgebra {b:e}, \
                         |diff| {diff:e} > tolerance {tol:e} (W_{i} before: {:e})",
                        before[i][(r, c)].as_f64()
                    ));
                }
                worst = worst.max(diff / tol);
                let update = (p - before[i][(r, c)].as_f64()).abs();
                update_over_tol = update_over_tol.max(update / tol);
            }
        }
        margins.worst_ratio.push(worst);
        margins.update_over_tolerance.push(update_over_tol);
    }
    Ok(margins)
}

/// `steps` steps of both from the peers' W0 for `shape`, each from the same weights; the
/// baseline's learning rate is `m_factor` m. Returns the first failure, if any.
fn run<T: Scalar>(shape: &Shape, steps: usize, m_factor: f64) -> Result<Vec<Margins>, String> {
    let (mut net, x, y) = peer_data::<T>(shape);
    let mut ws = Workspace::new(&net, shape.batch).expect("the workspace fits");
    let mut base = NalgebraStep::<T>::new(shape.layers, shape.batch);
    let m_base = T::of_f64(LEARNING_RATE * m_factor);
    (0..steps)
        .map(|k| {
            let what = format!("{} {} step {}", shape.name, T::DTYPE, k + 1);
            let margins = compare_one_step(&what, &mut ws, &mut net, &mut base, &x, &y, m_base)?;
            let list = |v: &[f64]| v.iter().map(|r| format!("{r:.2e}")).collect::<Vec<_>>();
            eprintln!(
                "{what}: largest |diff| / tolerance by layer {:?}, |ΔE| / tolerance {:.2e}, \
                 largest |update| / tolerance by layer {:?}",
                list(&margins.worst_ratio),
                margins.e_ratio,
                list(&margins.update_over_tolerance)
            );
            Ok(margins)
        })
        .collect()
}

fn agrees<T: Scalar>(name: &str, steps: usize) {
    let shape = *BASELINE_SHAPES
        .iter()
        .find(|s| s.name == name)
        .expect("a bench shape");
    let all = run::<T>(&shape, steps, 1.0).unwrap_or_else(|e| panic!("{e}"));
    for (k, m) in all.iter().enumerate() {
        for (i, &u) in m.update_over_tolerance.iter().enumerate() {
            assert!(
                u >= 10.0,
                "{name} {} step {}: no update of W_{i} exceeds 10× its tolerance (at most {u:.2}×): \
                 the comparison would not see a wrong update",
                T::DTYPE,
                k + 1
            );
        }
    }
}

#[test]
fn s1_baseline_equals_the_project_step() {
    agrees::<f64>("S1", 3);
    agrees::<f32>("S1", 3);
}

#[test]
fn s2_baseline_equals_the_project_step() {
    agrees::<f64>("S2", 3);
    agrees::<f32>("S2", 3);
}

#[test]
fn s3_baseline_equals_the_project_step() {
    agrees::<f64>("S3", 3);
    agrees::<f32>("S3", 3);
}

#[test]
fn s4_baseline_equals_the_project_step() {
    agrees::<f64>("S4", 2);
    agrees::<f32>("S4", 2);
}

#[test]
fn s5_baseline_equals_the_project_step() {
    agrees::<f64>("S5", 1);
    agrees::<f32>("S5", 1);
}

#[test]
fn t1_baseline_equals_the_project_step() {
    agrees::<f64>("T1", 3);
    agrees::<f32>("T1", 3);
}

/// The negative control: a baseline stepping with m / 2 (what dropping the factor 2 of Δ_n
/// does) fails the comparison on every shape but S5 (too slow to repeat here) in f64 and f32,
/// and one with m (1 + 10⁻⁴) does in f64.
#[test]
fn the_comparison_catches_a_wrong_update() {
    for shape in BASELINE_SHAPES.iter().filter(|s| s.name != "S5") {
        for (factor, f32_too) in [(0.5, true), (1.0 + 1e-4, false)] {
            let err = run::<f64>(shape, 1, factor).expect_err("f64 caught");
            assert!(err.contains("differs"), "{err}");
            if f32_too {
                let err = run::<f32>(shape, 1, factor).expect_err("f32 caught");
                assert!(err.contains("differs"), "{err}");
            }
        }
    }
}
