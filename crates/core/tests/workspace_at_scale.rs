//! The fast path element by element at real sizes: `Workspace::gradient` and `Workspace::step`
//! against `gradient::denominator` (one sample at a time, nalgebra's products) on shapes that
//! reach every regime of the kernels, for f32 and f64, every built-in activation, on 1 and 2
//! threads. Run with `--features portable` it checks the portable product path the same way.
//!
//! # The shapes
//!
//! Widths 1–16, 17–200 or 380–600 (non-multiples of the micro-tile MR × NR = 8 × 6, 16 × 6,
//! 8 × 12 or 16 × 12 in general), batches 1, 2–40 or 250–300, depth 1–4. That reaches the plain
//! loops (m·k·n < 256), matrix–vector and rank-1 kernels (B = 1), the packed GEMM with edge
//! tiles in both directions, more than one Ā block (m > MC = 384), more than one depth block
//! (k > KC: 256 in f64, 512 in f32, through the widths and through B > 256 in the update
//! product), the fused packing paths (C with at most 256 rows, B̄ at most 512 columns and
//! more) and, from 2^20 multiply-adds, the thread pool. One pass is capped at 1.5·10⁸
//! multiply-adds (Σ_i l_i l_{i+1} B) so a case takes at most about a second.
//!
//! # Tolerance rule
//!
//! Both sides compute the same sums in different orders, each in T with unit roundoff u
//! (`T::EPSILON`, taken as u to keep a margin of 2). A sum of k products computed in any order
//! errs by at most γ_k = k u / (1 − k u) times the sum of the products' magnitudes (Higham,
//! Accuracy and Stability of Numerical Algorithms, §3.1), FMA or not. The test propagates that
//! bound through the network in f64 with absolute values (a running error analysis):
//!
//! ```text
//! forward   F_{i+1} = γ_{l_i} |W_i| Ā_i + |W_i| FA_i        error of Z_{i+1}
//!           FA_i    = F_i + 16 u |A_i|,  Ā_i = |A_i| + FA_i  error of A_i (σ is 1-Lipschitz)
//! output    D̄_n = 2 (|Z_n| + |Y|),  FD_n = 2 F_n + 2 u D̄_n
//! backward  P̄_i = |W_i|ᵀ D̄_{i+1},  FP_i = γ_{l_{i+1}} P̄_i + |W_i|ᵀ FD_{i+1}
//!           S_i = the largest |σ'| on [Z_i − F_i, Z_i + F_i],  Eσ_i = how far σ' can move there
//!           D̄_i = S_i ⊙ P̄_i,  FD_i = S_i ⊙ FP_i + Eσ_i ⊙ P̄_i + 2 u D̄_i
//! gradient  EG_i = γ_B D̄_{i+1} Ā_iᵀ + FD_{i+1} Ā_iᵀ + D̄_{i+1} FA_iᵀ
//! ```
//!
//! Smooth σ have |σ''| ≤ 1 (sigmoid's σ' = A(1 − A) from the stored A included), so
//! Eσ = F + 16 u |σ'| and S = |σ'| + Eσ. For relu and leaky relu σ' is exact away from the kink,
//! but where |Z| ≤ F the two sides may fall on different sides of 0: there S = 1 and Eσ = 1 − α,
//! which bounds the jump. Each side is within EG_i of the exact ∂E/∂W_i, so
//!
//! ```text
//! |∂E/∂W_i (workspace) − ∂E/∂W_i (denominator)|^{jk} ≤ 2 EG_i^{jk}          (gradient)
//! |W_i' (workspace step) − (W_i − m' ∂E/∂W_i (denominator))|^{jk}
//!                                  ≤ 2 m' EG_i^{jk} + 4 u (|W_i| + m' |∂E/∂W_i|)^{jk}   (step)
//! ```
//!
//! element by element, and E within 2 e_E + 4 u |E|, e_E = 2 Σ F_n |Y − Z_n| + Σ F_n² +
//! γ_{l_n B} Σ (Y − Z_n)². A wrong packing edge, a lost block or a thread that writes the wrong
//! columns makes O(1) relative errors; this bound is about (Σ l + B)·u relative to the
//! magnitudes: a 10⁻⁶ relative error planted in the last element of an f64 ∂E/∂W_0 (21-182,
//! B = 275) was caught with 2.9·10⁻¹¹ allowed against a value of 11.
//!
//! # Cases
//!
//! 32 by default (9 s in the test profile, opt-level 2, on 2 shared cores); `PROPTEST_CASES=N`
//! runs N. `.ci/run` runs 1000 in release (78 s).

use backprop::gradient::denominator;
use backprop::{Activation, ActivationFn, Network, Reduction, Scalar, Workspace};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// Multiply-adds of one pass, Σ_i l_i l_{i+1} B, at most.
const MAX_WORK: usize = 250_000_000;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

#[derive(Clone, Debug)]
struct Case {
    sizes: Vec<usize>,
    batch: usize,
    activation: Activation,
    threads: usize,
    reduction: Reduction,
    seed: u64,
}

fn width() -> impl Strategy<Value = usize> {
    prop_oneof![1 => 1..=16usize, 1 => 17..=200usize, 2 => 380..=600usize]
}

fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(1usize), 1 => 2..=40usize, 2 => 250..=300usize]
}

prop_compose! {
    fn case()(
        sizes in prop::collection::vec(width(), 2..=5),
        batch in batch(),
        activation in prop::sample::select(Activation::ALL.to_vec()),
        threads in 1..=2usize,
        reduction in prop::sample::select(vec![Reduction::Sum, Reduction::Mean]),
        seed in any::<u64>(),
    ) -> Case {
        let mut c = Case { sizes, batch, activation, threads, reduction, seed };
        // Within the budget: the last layers go first (at least one weight matrix stays).
        while c.sizes.len() > 2 && work(&c) > MAX_WORK {
            c.sizes.pop();
        }
        c
    }
}

fn work(c: &Case) -> usize {
    c.sizes.windows(2).map(|l| l[0] * l[1] * c.batch).sum()
}

/// The network, inputs and targets in [−1, 1] (splitmix64 from the seed).
fn build<T: Scalar>(c: &Case) -> (Network<T>, DMatrix<T>, DMatrix<T>) {
    let net = Network::<T>::random(&c.sizes, c.activation, c.seed).unwrap();
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

fn widen<T: Scalar>(m: &DMatrix<T>) -> DMatrix<f64> {
    m.map(|v| v.as_f64())
}

/// The running error bounds of the module docs: EG_i for every layer, and the bound on E.
fn bounds<T: Scalar>(net: &Network<T>, x: &DMatrix<T>, y: &DMatrix<T>) -> (Vec<DMatrix<f64>>, f64) {
    let u = T::EPSILON.as_f64();
    let gamma = |k: usize| {
        let ku = k as f64 * u;
        assert!(ku < 0.5, "γ_{k} undefined in this precision");
        ku / (1.0 - ku)
    };
    let n = net.depth();
    let b = x.ncols();
    let act = net.activation().builtin().expect("a built-in activation");
    let kinked = !ActivationFn::<f64>::kinks(&act).is_empty();
    let alpha = match act {
        Activation::LeakyRelu { alpha } => alpha,
        _ => 0.0,
    };
    let w: Vec<DMatrix<f64>> = net.weights().iter().map(widen).collect();
    let wa: Vec<DMatrix<f64>> = w.iter().map(|w| w.abs()).collect();
    // The forward pass in T, widened: the magnitudes the bounds scale.
    let trace = net.forward(x.as_view()).unwrap();
    let a: Vec<DMatrix<f64>> = (0..n).map(|i| widen(trace.a(i))).collect();
    let z: Vec<DMatrix<f64>> = (1..=n).map(|i| widen(trace.z(i))).collect(); // z[i] = Z_{i+1}
    let mut fa = vec![DMatrix::zeros(x.nrows(), b)]; // FA_0 = 0: X is exact
    let mut f = Vec::with_capacity(n); // f[i] = F_{i+1}
    for i in 0..n {
        let abar = a[i].abs() + &fa[i];
        let fi = &wa[i] * &abar * gamma(w[i].ncols()) + &wa[i] * &fa[i];
        if i + 1 < n {
            fa.push(&fi + a[i + 1].abs() * (16.0 * u));
        }
        f.push(fi);
    }
    let yw = widen(y);
    let mut dbar = (z[n - 1].abs() + yw.abs()) * 2.0;
    let mut fd = &f[n - 1] * 2.0 + &dbar * (2.0 * u);
    let e_bound = 2.0 * (f[n - 1].component_mul(&(&z[n - 1] - &yw).abs())).sum()
        + gamma(2 * yw.len()) * (&z[n - 1] - &yw).norm_squared()
        + f[n - 1].norm_squared();
    let mut eg = vec![DMatrix::zeros(0, 0); n];
    for i in (0..n).rev() {
        let abar = a[i].abs() + &fa[i];
        eg[i] = &dbar * abar.transpose() * gamma(b)
            + &fd * abar.transpose()
            + &dbar * fa[i].transpose();
        if i > 0 {
            let pbar = wa[i].transpose() * &dbar;
            let fp = &pbar * gamma(w[i].nrows()) + wa[i].transpose() * &fd;
            let zi = &z[i - 1];
            let fi = &f[i - 1];
            let mut s = DMatrix::zeros(zi.nrows(), b);
            let mut es = DMatrix::zeros(zi.nrows(), b);
            for p in 0..zi.len() {
                let sp = ActivationFn::<f64>::sigma_prime(&act, zi[p]).abs();
                if kinked {
                    // The reference's Z_i is this trace's (the same forward code); the
                    // workspace's is within 2 F_i of it, so only |Z_i| ≤ 2 F_i can flip σ'.
                    if zi[p].abs() <= 2.0 * fi[p] {
                        s[p] = 1.0;
                        es[p] = 1.0 - alpha;
                    } else {
                        s[p] = sp;
                    }
                } else {
                    es[p] = fi[p] + 16.0 * u * sp;
                    s[p] = sp + es[p];
                }
            }
            let next = s.component_mul(&pbar);
            fd = s.component_mul(&fp) + es.component_mul(&pbar) + &next * (2.0 * u);
            dbar = next;
        }
    }
    (eg, e_bound)
}

fn fast_path_matches_denominator<T: Scalar>(c: &Case) -> Result<(), TestCaseError> {
    let (net, x, y) = build::<T>(c);
    let (e_ref, g_ref) = denominator::gradient(&net, x.as_view(), y.as_view()).unwrap();
    let (eg, e_bound) = bounds(&net, &x, &y);
    let u = T::EPSILON.as_f64();
    let mut ws = Workspace::new(&net, c.batch).unwrap();
    ws.set_threads(c.threads).unwrap();
    let e = ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
    let what = format!(
        "{} {:?} B={} {} threads={}",
        T::DTYPE,
        c.sizes,
        c.batch,
        c.activation,
        c.threads
    );
    let de = (e.as_f64() - e_ref.as_f64()).abs();
    prop_assert!(
        de <= 2.0 * e_bound + 4.0 * u * e_ref.as_f64().abs(),
        "{what}: E = {e} vs {e_ref} (allowed {e_bound:e})"
    );
    for i in 0..net.depth() {
        let (got, want) = (ws.gradient_ref().layer(i), g_ref.layer(i));
        prop_assert_eq!(got.shape(), want.shape());
        for p in 0..got.len() {
            let (g, r) = (got[p].as_f64(), want[p].as_f64());
            let allowed = 2.0 * eg[i][p];
            let (j, k) = (p % got.nrows(), p / got.nrows());
            prop_assert!(
                g.is_finite() && (g - r).abs() <= allowed,
                "{what}: ∂E/∂W_{i}[{j},{k}] = {g:e} (workspace) vs {r:e} (denominator), |diff| {:e} > allowed {allowed:e}",
                (g - r).abs()
            );
        }
    }
    // The fused step against W_i − m' ∂E/∂W_i with the reference gradient.
    let m = 0.01;
    let m_eff = match c.reduction {
        Reduction::Sum => m,
        Reduction::Mean => m / c.batch as f64,
    };
    let mut stepped = net.clone();
    ws.step(
        &mut stepped,
        x.as_view(),
        y.as_view(),
        T::of_f64(m),
        c.reduction,
    )
    .unwrap();
    for i in 0..net.depth() {
        let (w0, w1, g) = (net.weight(i), stepped.weight(i), g_ref.layer(i));
        for p in 0..w0.len() {
            let want = w0[p].as_f64() - m_eff * g[p].as_f64();
            let got = w1[p].as_f64();
            let allowed = 2.0 * m_eff * eg[i][p]
                + 4.0 * u * (w0[p].as_f64().abs() + m_eff * g[p].as_f64().abs());
            let (j, k) = (p % w0.nrows(), p / w0.nrows());
            prop_assert!(
                got.is_finite() && (got - want).abs() <= allowed,
                "{what} {:?}: step W_{i}[{j},{k}] = {got:e} vs {want:e}, |diff| {:e} > allowed {allowed:e}",
                c.reduction,
                (got - want).abs()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_global_rejects: 10 * cases(), ..ProptestConfig::default() })]

    #[test]
    fn workspace_gradient_and_step_match_denominator_element_by_element(c in case()) {
        prop_assume!(work(&c) <= MAX_WORK);
        fast_path_matches_denominator::<f64>(&c)?;
        fast_path_matches_denominator::<f32>(&c)?;
    }
}
