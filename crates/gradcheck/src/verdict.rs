//! The verdict rule: Richardson extrapolation of central differences, an error estimate per
//! element, and an allowed error built from that estimate and the rounding bounds.
//!
//! With D(h) = (E(w + h) − E(w − h)) / 2h = g + c₃h² + c₅h⁴ + …:
//!
//! ```text
//! numeric  R = D(h/2) + (D(h/2) − D(h)) / 3             (the h² term cancels: R = g + O(h⁴))
//! trunc      = |D(h/2) − D(h)| / 3                      (the h² error of D(h/2); bounds R's)
//! rounding_n = (4 ρ(h/2) + ρ(h)) / 3,  ρ(h) = (e(+h) + e(−h)) / 2h
//! allowed    = 2 trunc + 2 rounding_n + rounding_a
//! floor      = 2 rounding_n + rounding_a
//! ```
//!
//! When that verdict passes but its truncation estimate is the larger part of what it allows,
//! the estimate is one level of Romberg's table too coarse: the h² error of D(h/2) can exceed
//! g's own scale when E curves strongly along the weight (a small gradient beside a large third
//! derivative), and then a wrong element would pass. D(h/4) is evaluated too, and
//!
//! ```text
//! R' = D(h/4) + (D(h/4) − D(h/2)) / 3                   (= g + c₅h⁴/64 + …)
//! numeric  R'' = R' + (R' − R) / 15                     (the h⁴ term cancels too)
//! trunc        = |R' − R| / 15                          (the h⁴ error of R'; bounds R''’s)
//! rounding_n   = (64 ρ(h/4) + 20 ρ(h/2) + ρ(h)) / 45
//! ```
//!
//! Both estimates bound their own error; the refined verdict stands when it allows less (where
//! rounding dominates, R'' weighs the rounding of D(h/4) by 64/45 and can allow more than R).
//!
//! e(±h) bounds the rounding error of one loss difference E(w ± h) − E(w), propagated with the
//! evaluation; rounding_a bounds the rounding error of the analytic value (and of the point the
//! reference is taken at), from a running error analysis of backpropagation in the gradient's
//! own scalar.

use crate::report::{DirectionCheck, ElementCheck, Status};

/// One loss difference ΔE(t) = E(w + t) − E(w) with a bound on its rounding error.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Eval {
    /// ΔE(t).
    pub de: f64,
    /// A bound on the rounding error of `de`.
    pub err: f64,
}

/// Where a step went relative to the kinks of σ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Crossing {
    /// No pre-activation moved across, onto or near a kink.
    None,
    /// A pre-activation moved across (or onto) a kink: a smaller step may avoid it.
    Crossed,
    /// A changed pre-activation lies within its rounding error of a kink: no step avoids it.
    AtKink,
}

/// The extrapolated derivative and its error terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Estimate {
    pub numeric: f64,
    pub trunc: f64,
    pub rounding: f64,
    pub step: f64,
}

/// ΔE at one step t: the loss difference with its rounding bound, the step actually taken
/// (θ + t may round), and where the step went relative to the kinks of σ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub eval: Eval,
    pub taken: f64,
    pub crossing: Crossing,
}

impl Sample {
    /// ΔE at a step taken exactly as asked (a network's weight moves by t, representable).
    pub(crate) fn exact(eval: Eval, t: f64, crossing: Crossing) -> Self {
        Self {
            eval,
            taken: t,
            crossing,
        }
    }
}

/// The central difference D and its rounding bound ρ from the samples at +s and −s.
fn central(plus: &Sample, minus: &Sample) -> (f64, f64) {
    let width = plus.taken - minus.taken;
    (
        (plus.eval.de - minus.eval.de) / width,
        (plus.eval.err + minus.eval.err) / width,
    )
}

/// The extrapolated derivative from (D, ρ) at steps h, h/2 (Richardson) or h, h/2, h/4
/// (Romberg): see the module docs.
pub(crate) fn extrapolate(h: f64, levels: &[(f64, f64)]) -> Estimate {
    let richardson = |(d0, r0): (f64, f64), (d1, r1): (f64, f64)| {
        (
            d1 + (d1 - d0) / 3.0,
            (d1 - d0).abs() / 3.0,
            (4.0 * r1 + r0) / 3.0,
        )
    };
    match *levels {
        [l0, l1] => {
            let (numeric, trunc, rounding) = richardson(l0, l1);
            Estimate {
                numeric,
                trunc,
                rounding,
                step: h,
            }
        }
        [l0, l1, l2] => {
            let (r, _, _) = richardson(l0, l1);
            let (r1, _, _) = richardson(l1, l2);
            Estimate {
                numeric: r1 + (r1 - r) / 15.0,
                trunc: (r1 - r).abs() / 15.0,
                rounding: (64.0 * l2.1 + 20.0 * l1.1 + l0.1) / 45.0,
                step: h,
            }
        }
        _ => unreachable!("two or three levels"),
    }
}

/// A finite-difference verdict: the estimate it rests on, the status and the allowed error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    pub est: Estimate,
    pub status: Status,
    pub allowed: f64,
}

impl Verdict {
    /// The report entry for element (layer, row, col) with analytic value `analytic`.
    pub(crate) fn element(
        &self,
        layer: usize,
        row: usize,
        col: usize,
        analytic: f64,
    ) -> ElementCheck {
        ElementCheck {
            layer,
            row,
            col,
            analytic,
            numeric: self.est.numeric,
            difference: (analytic - self.est.numeric).abs(),
            allowed: self.allowed,
            step: self.est.step,
            status: self.status,
        }
    }

    /// The report entry for direction `index` with analytic value `analytic`.
    // `element` again for DirectionCheck, whose fields are ElementCheck's without the place.
    pub(crate) fn direction(&self, index: usize, analytic: f64) -> DirectionCheck {
        DirectionCheck {
            index,
            analytic,
            numeric: self.est.numeric,
            difference: (analytic - self.est.numeric).abs(),
            allowed: self.allowed,
            step: self.est.step,
            status: self.status,
        }
    }
}

/// A finite-difference verdict on one value with analytic value `analytic` and analytic
/// rounding bound `rounding_a`, from `at(t)` = ΔE at step t, starting at step `h`.
///
/// A step that crosses a kink is divided by 8, up to `max_shrinks` times. A verdict that passes
/// with its truncation estimate above its floor is refined with ±h/4 (module docs), unless those
/// steps cross a kink; the refined verdict stands when it allows less.
pub(crate) fn finite_difference(
    analytic: f64,
    rounding_a: f64,
    mut h: f64,
    max_shrinks: usize,
    mut at: impl FnMut(f64) -> Sample,
) -> Verdict {
    let mut attempt = 0;
    loop {
        let s = [h, -h, h / 2.0, -h / 2.0].map(&mut at);
        let crossing = s.iter().map(|s| s.crossing).max().unwrap_or(Crossing::None);
        if crossing == Crossing::Crossed && attempt < max_shrinks {
            attempt += 1;
            h /= 8.0;
            continue;
        }
        let (l0, l1) = (central(&s[0], &s[1]), central(&s[2], &s[3]));
        let verdict = |est: Estimate| {
            let (status, allowed) = judge(
                analytic,
                est.numeric,
                est.trunc,
                est.rounding,
                rounding_a,
                crossing,
            );
            Verdict {
                est,
                status,
                allowed,
            }
        };
        let coarse = verdict(extrapolate(h, &[l0, l1]));
        let est = coarse.est;
        if coarse.status != Status::Passed || 2.0 * est.trunc <= 2.0 * est.rounding + rounding_a {
            return coarse;
        }
        let q = [h / 4.0, -h / 4.0].map(&mut at);
        if q.iter().any(|q| q.crossing != Crossing::None) {
            return coarse;
        }
        let fine = verdict(extrapolate(h, &[l0, l1, central(&q[0], &q[1])]));
        return if fine.allowed < coarse.allowed {
            fine
        } else {
            coarse
        };
    }
}

/// The verdict on one value: (status, allowed error).
///
/// `rounding_a` bounds the rounding of the analytic value and of the reference point.
pub(crate) fn judge(
    analytic: f64,
    numeric: f64,
    trunc: f64,
    rounding_n: f64,
    rounding_a: f64,
    crossing: Crossing,
) -> (Status, f64) {
    let floor = 2.0 * rounding_n + rounding_a;
    let allowed = 2.0 * trunc + floor;
    let status = if !analytic.is_finite() {
        Status::Failed
    } else if crossing != Crossing::None {
        Status::KinkCrossed
    } else if !numeric.is_finite() || !allowed.is_finite() {
        Status::Failed
    } else if analytic.abs().max(numeric.abs()) <= floor {
        Status::BelowFloor
    } else if (analytic - numeric).abs() <= allowed {
        Status::Passed
    } else {
        Status::Failed
    };
    (status, allowed)
}

/// γ_k = k u / (1 − k u): the relative error bound of a sum or dot product of k terms.
pub(crate) fn gamma(k: usize, u: f64) -> f64 {
    let ku = k as f64 * u;
    if ku < 0.5 { ku / (1.0 - ku) } else { 2.0 * ku }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(de: impl Fn(f64) -> f64) -> impl FnMut(f64) -> Sample {
        move |t| Sample {
            eval: Eval {
                de: de(t),
                err: 0.0,
            },
            taken: t,
            crossing: Crossing::None,
        }
    }

    fn levels(h: f64, steps: &[f64], de: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        steps
            .iter()
            .map(|s| ((de(h * s) - de(-h * s)) / (2.0 * h * s), 0.0))
            .collect()
    }

    #[test]
    fn richardson_is_exact_for_a_quartic_term_free_function() {
        // E(w + t) − E(w) = g t + c t³: D(h) = g + c h², R = g exactly.
        let (g, c, h) = (1.5, -2.0, 0.25);
        let de = |t: f64| g * t + c * t * t * t;
        let est = extrapolate(h, &levels(h, &[1.0, 0.5], de));
        assert!((est.numeric - g).abs() < 1e-15);
        // D(h/2) − D(h) = c (h²/4 − h²) → trunc = |c| h² / 4
        assert!((est.trunc - 2.0 * h * h / 4.0).abs() < 1e-15);
    }

    #[test]
    fn romberg_is_exact_for_a_sextic_term_free_function() {
        // E(w + t) − E(w) = g t + c t³ + d t⁵: R = g − d h⁴/4, R' = g − d h⁴/64, R'' = g.
        let (g, c, d, h) = (1.5, -2.0, 3.0, 0.25);
        let de = |t: f64| g * t + c * t.powi(3) + d * t.powi(5);
        let coarse = extrapolate(h, &levels(h, &[1.0, 0.5], de));
        assert!((coarse.numeric - (g - d * h.powi(4) / 4.0)).abs() < 1e-14);
        let fine = extrapolate(h, &levels(h, &[1.0, 0.5, 0.25], de));
        assert!((fine.numeric - g).abs() < 1e-14);
        // trunc = |R' − R| / 15 = |d| h⁴ (1/4 − 1/64) / 15 = |d| h⁴ / 64
        assert!((fine.trunc - d * h.powi(4) / 64.0).abs() < 1e-15);
    }

    #[test]
    fn a_curved_function_is_refined_and_a_small_error_then_caught() {
        // g = 1e-3 beside a third derivative of 6: two levels allow 2 |c| h²/4 = 5e-5, three
        // allow 2 |d| h⁴/64 = 1.6e-10, below the planted 1e-8.
        let (g, c, h) = (1e-3, 1.0, 1e-2);
        let de = |t: f64| g * t + c * t.powi(3) + 0.5 * t.powi(5);
        let wrong = g * (1.0 + 1e-5);
        // Two levels alone would let the 1e-5 relative error pass:
        let coarse = extrapolate(h, &levels(h, &[1.0, 0.5], de));
        assert_eq!(
            judge(
                wrong,
                coarse.numeric,
                coarse.trunc,
                0.0,
                0.0,
                Crossing::None
            )
            .0,
            Status::Passed
        );
        let mut calls = 0;
        let mut at = sample(de);
        let v = finite_difference(wrong, 0.0, h, 0, |t| {
            calls += 1;
            at(t)
        });
        assert_eq!(calls, 6, "refined with ±h/4");
        assert_eq!(v.status, Status::Failed, "{v:?}");
        let v = finite_difference(g, 0.0, h, 0, sample(de));
        assert_eq!(v.status, Status::Passed);
        assert!(v.allowed < 1e-6 * g, "allowed {:e}", v.allowed);
    }

    #[test]
    fn a_verdict_bound_by_rounding_is_not_refined() {
        let de = |t: f64| 2.0 * t + t.powi(3);
        let mut calls = 0;
        let mut at = sample(de);
        let v = finite_difference(2.0, 1e-3, 1e-3, 0, |t| {
            calls += 1;
            at(t)
        });
        assert_eq!((v.status, calls), (Status::Passed, 4));
    }

    #[test]
    fn the_verdict_orders_its_cases() {
        assert_eq!(
            judge(1.0, 1.0 + 1e-9, 1e-9, 0.0, 0.0, Crossing::None).0,
            Status::Passed
        );
        assert_eq!(
            judge(1.0, 1.1, 1e-9, 0.0, 0.0, Crossing::None).0,
            Status::Failed
        );
        assert_eq!(
            judge(1.0, 1.1, 1e-9, 0.0, 0.0, Crossing::Crossed).0,
            Status::KinkCrossed
        );
        assert_eq!(
            judge(1e-17, -1e-17, 0.0, 1e-16, 0.0, Crossing::None).0,
            Status::BelowFloor
        );
        assert_eq!(
            judge(f64::NAN, 0.0, 0.0, 0.0, 0.0, Crossing::Crossed).0,
            Status::Failed
        );
        // allowed = 2 trunc + 2 ρ + rounding_a
        assert_eq!(judge(1.0, 1.0, 1.0, 2.0, 3.0, Crossing::None).1, 9.0);
    }

    /// A NaN or ±∞ on either side, or in the allowed error, fails (never passes, never falls
    /// below the floor): `f64::max` and `<=` would otherwise let a NaN slip through.
    #[test]
    fn a_nan_or_infinity_on_either_side_fails() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for (analytic, numeric) in [(bad, 1.0), (1.0, bad), (bad, bad), (bad, 0.0), (0.0, bad)]
            {
                let (status, _) = judge(analytic, numeric, 1e-9, 1e-12, 1e-12, Crossing::None);
                assert_eq!(
                    status,
                    Status::Failed,
                    "analytic {analytic}, numeric {numeric}"
                );
            }
            // A bad analytic value fails even where a kink would excuse a finite one.
            assert_eq!(
                judge(bad, 1.0, 0.0, 0.0, 0.0, Crossing::AtKink).0,
                Status::Failed
            );
            // An allowed error that is not finite judges nothing.
            assert_eq!(
                judge(1.0, 1.0, bad, 0.0, 0.0, Crossing::None).0,
                Status::Failed
            );
            assert_eq!(
                judge(0.0, 0.0, 0.0, bad, 0.0, Crossing::None).0,
                Status::Failed
            );
        }
        let v = Verdict {
            est: Estimate {
                numeric: 1.0,
                trunc: 0.0,
                rounding: 0.0,
                step: 1e-3,
            },
            status: Status::Failed,
            allowed: 1.0,
        };
        assert_eq!(v.element(0, 0, 0, f64::NAN).ratio(), f64::INFINITY);
    }
}
