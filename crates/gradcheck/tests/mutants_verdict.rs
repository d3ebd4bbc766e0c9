//! Exact-value tests of the verdict rule (crates/gradcheck/src/verdict.rs), written to kill the
//! mutants that `scripts/mutants.sh` found alive (see docs/mutants.md).
//!
//! Through the public [`check_objective`], with objectives whose finite differences are known
//! in closed form and whose rounding bounds are constants we choose, so the allowed error of the
//! rule
//!
//! ```text
//! ρ(h)    = (e(+h) + e(−h)) / 2h,   rounding_n = (4 ρ(h/2) + ρ(h)) / 3
//! allowed = 2 trunc + 2 rounding_n + rounding_a
//! ```
//!
//! (and its refinement with D(h/4) when the truncation estimate dominates: trunc = |R' − R| / 15,
//! rounding_n = (64 ρ(h/4) + 20 ρ(h/2) + ρ(h)) / 45)
//!
//! can be recomputed here, and a projected check's rounding_a = γ_P(u) Σ |g_q v_q| (+ Σ |v_q| r_q)
//! with γ_k(u) = k u / (1 − k u) can be recomputed bit for bit.

use backprop_gradcheck::{CheckConfig, Objective, Status, check_objective};

/// f(θ) = 0 with a claimed rounding bound `c` on every value and `r` on every analytic
/// component; the claimed gradient is `g`.
struct Flat {
    g: Vec<f64>,
    c: f64,
    r: f64,
}

impl Objective for Flat {
    fn value(&self, _: &[f64]) -> f64 {
        0.0
    }
    fn gradient(&self, _: &[f64]) -> Vec<f64> {
        self.g.clone()
    }
    fn value_rounding(&self, _: &[f64], _: f64) -> f64 {
        self.c
    }
    fn gradient_rounding(&self, _: &[f64], _: usize, _: f64) -> f64 {
        self.r
    }
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs()
}

#[test]
fn the_allowed_error_of_a_flat_function_is_twelve_c_over_h_plus_r() {
    // Every difference ΔE(t) = 0 with error e = c (at θ + t) + c (at θ) = 2c, so
    // ρ(h) = 4c / 2h = 2c/h, ρ(h/2) = 4c/h, rounding_n = (16c/h + 2c/h)/3 = 6c/h, trunc = 0,
    // numeric = 0, and allowed = 12 c/h + r.
    let (c, r) = (1e-9, 3e-7);
    for (g, want) in [(1.0, Status::Failed), (1e-12, Status::BelowFloor)] {
        let obj = Flat { g: vec![g], c, r };
        let report = check_objective(&obj, &[0.25], &CheckConfig::full()).unwrap();
        let e = report.layers[0].worst[0];
        assert!(e.step > 0.0);
        assert_eq!(e.numeric, 0.0);
        let want_allowed = 12.0 * c / e.step + r;
        assert!(
            close(e.allowed, want_allowed, 1e-12),
            "allowed {} vs 12 c/h + r = {want_allowed}",
            e.allowed
        );
        assert_eq!(e.status, want, "g = {g}");
    }
}

/// f(θ) = a θ + θ³ + b θ⁵: D(h) = a + h² + b h⁴ at θ = 0, so Richardson's R = a − b h⁴/4 with
/// trunc ≈ h²/4, and with D(h/4) too R' = a − b h⁴/64 and Romberg's R'' = a exactly, with
/// trunc = |R' − R| / 15 = b h⁴/64.
struct Quintic {
    a: f64,
    b: f64,
    g: f64,
}

impl Objective for Quintic {
    fn value(&self, t: &[f64]) -> f64 {
        self.a * t[0] + t[0].powi(3) + self.b * t[0].powi(5)
    }
    fn gradient(&self, _: &[f64]) -> Vec<f64> {
        vec![self.g]
    }
    fn value_rounding(&self, _: &[f64], _: f64) -> f64 {
        0.0
    }
    fn gradient_rounding(&self, _: &[f64], _: usize, _: f64) -> f64 {
        0.0
    }
}

#[test]
fn romberg_removes_the_h_fourth_term_and_allows_twice_its_size() {
    // d/dθ (a θ + θ³ + b θ⁵) at 0 = a. Richardson alone would allow ≈ h²/2 (2.7e-7 here);
    // that verdict passes with its truncation estimate above its floor (0: no rounding is
    // claimed), so the checker refines it with ±h/4.
    let (a, b) = (0.5, 1e3);
    let report = check_objective(&Quintic { a, b, g: a }, &[0.0], &CheckConfig::full()).unwrap();
    let e = report.layers[0].worst[0];
    let h = e.step;
    assert!(close(e.numeric, a, 1e-12), "numeric {} vs {a}", e.numeric);
    // allowed = 2 trunc = b h⁴ / 32 (+ rounding = 0).
    let want = b * h.powi(4) / 32.0;
    assert!(
        close(e.allowed, want, 1e-3),
        "allowed {} vs b h⁴/32 = {want}",
        e.allowed
    );
    assert_eq!(e.status, Status::Passed);
    // A claimed gradient off by 1.5 × allowed fails, one off by 0.5 × allowed passes.
    for (off, want_status) in [(1.5, Status::Failed), (0.5, Status::Passed)] {
        let g = a + off * want;
        let r = check_objective(&Quintic { a, b, g }, &[0.0], &CheckConfig::full()).unwrap();
        assert_eq!(
            r.layers[0].worst[0].status, want_status,
            "off by {off} × allowed"
        );
    }
}

#[test]
fn a_projected_checks_allowed_error_is_gamma_p_times_the_sum_of_abs_g_v() {
    // f = 0 with no value rounding: numeric = trunc = rounding_n = 0, so allowed = rounding_a
    // = Σ |v_q| r + γ_P(u) Σ |g_q v_q| with u = ε/2, v_q = ±1/√P, summed as the checker sums.
    let g = vec![1.0, -2.5, 0.75, 3.0];
    let p = g.len();
    let s = 1.0 / (p as f64).sqrt();
    for r in [0.0, 1e-10] {
        let obj = Flat {
            g: g.clone(),
            c: 0.0,
            r,
        };
        let report =
            check_objective(&obj, &[0.1, 0.2, 0.3, 0.4], &CheckConfig::projected(3)).unwrap();
        let ku = p as f64 * (f64::EPSILON / 2.0);
        let gamma = ku / (1.0 - ku);
        let sum_gv: f64 = g.iter().map(|g| (g * s).abs()).sum();
        let sum_vr: f64 = (0..p).map(|_| s * r).sum();
        let want = sum_vr + gamma * sum_gv;
        let dirs = &report.layers[0].directions;
        assert_eq!(dirs.len(), 3);
        for d in dirs {
            assert_eq!(d.numeric, 0.0);
            if r == 0.0 {
                // Bit for bit: γ_P = P u / (1 − P u), not P u / (1 + P u) or 2 P u.
                assert_eq!(d.allowed, want, "direction {}", d.index);
            } else {
                assert!(close(d.allowed, want, 1e-15), "direction {}", d.index);
            }
        }
    }
}

/// E(W) with W_i^{jk} moved by t, computed directly (forward pass and loss in f64).
fn loss_at(
    net: &backprop::Network<f64>,
    x: &nalgebra::DMatrix<f64>,
    y: &nalgebra::DMatrix<f64>,
    (i, j, k): (usize, usize, usize),
    t: f64,
) -> f64 {
    let mut moved = net.clone();
    moved.weight_mut(i)[(j, k)] += t;
    let trace = moved.forward(x.as_view()).unwrap();
    backprop::loss::loss(y.as_view(), trace.output().as_view())
}

#[test]
fn a_network_elements_numeric_value_is_sixth_order_and_its_allowance_refined() {
    // tanh network (smooth, with a third derivative everywhere), f64 throughout. Richardson's
    // verdict on the first layer's elements allows 2 |D(h/2) − D(h)| / 3 (up to 1e-7 here), far
    // above its rounding floor, so each is refined with ±h/4 and then allows little more than
    // the rounding floor (≈ 2e-11).
    use backprop::{Activation, Network};
    use nalgebra::DMatrix;
    let net = Network::<f64>::random(&[3, 4, 2], Activation::Tanh, 11).unwrap();
    let x = DMatrix::from_fn(3, 2, |r, c| 0.3 * r as f64 - 0.4 * c as f64 + 0.2);
    let y = DMatrix::from_fn(2, 2, |r, c| 0.5 - 0.7 * r as f64 + 0.3 * c as f64);
    let config = CheckConfig {
        worst: usize::MAX,
        ..CheckConfig::full()
    };
    let report =
        backprop_gradcheck::check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
    let mut refined = 0;
    for layer in &report.layers {
        assert_eq!(layer.worst.len(), layer.elements());
        for e in &layer.worst {
            let at = (e.layer, e.row, e.col);
            let scale = e.analytic.abs().max(1.0);
            // Romberg's R'' = g + O(h⁶): far closer than a central difference (O(h²)).
            assert!(
                (e.numeric - e.analytic).abs() <= 1e-12 * scale,
                "{at:?}: numeric {} vs analytic {}",
                e.numeric,
                e.analytic
            );
            // Richardson's allowance 2 trunc from our own evaluations.
            let h = e.step;
            let d =
                |t: f64| (loss_at(&net, &x, &y, at, t) - loss_at(&net, &x, &y, at, -t)) / (2.0 * t);
            let twice_trunc = 2.0 * (d(h / 2.0) - d(h)).abs() / 3.0;
            if twice_trunc > 1e-10 * scale {
                assert!(
                    e.allowed < 0.2 * twice_trunc && e.allowed < 1e-10 * scale,
                    "{at:?}: allowed {:e}, Richardson's 2 trunc {twice_trunc:e}",
                    e.allowed
                );
                refined += 1;
            }
            assert_eq!(e.status, Status::Passed, "{at:?}");
        }
    }
    assert!(refined >= 10, "only {refined} elements refined");
}

#[test]
fn a_refined_verdicts_rounding_weighs_the_quarter_step_by_64_over_45() {
    // f = a θ + K θ³ with value rounding c: D(h/2^l) = a + K h²/4^l exactly, so R = R' = a,
    // trunc = 0 after refinement, and with ρ(s) = 4c / 2s the refined rounding is
    // (64 · 8c/h + 20 · 4c/h + 2c/h) / 45 = 13.2 c/h: allowed = 26.4 c/h + r. Richardson's
    // would be K h²/2 + 12 c/h + r, about 8 times more here.
    struct Cubic {
        c: f64,
        r: f64,
    }
    impl Objective for Cubic {
        fn value(&self, t: &[f64]) -> f64 {
            0.5 * t[0] + t[0].powi(3)
        }
        fn gradient(&self, _: &[f64]) -> Vec<f64> {
            vec![0.5]
        }
        fn value_rounding(&self, _: &[f64], _: f64) -> f64 {
            self.c
        }
        fn gradient_rounding(&self, _: &[f64], _: usize, _: f64) -> f64 {
            self.r
        }
    }
    let (c, r) = (1e-12, 2e-9);
    let report = check_objective(&Cubic { c, r }, &[0.0], &CheckConfig::full()).unwrap();
    let e = report.layers[0].worst[0];
    let want = 2.0 * 594.0 / 45.0 * c / e.step + r;
    assert!(
        close(e.allowed, want, 1e-6),
        "allowed {:e} vs 26.4 c/h + r = {want:e}",
        e.allowed
    );
    assert_eq!(e.status, Status::Passed);
}
