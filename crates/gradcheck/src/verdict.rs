//! The verdict rule: Richardson extrapolation of two central differences, an error estimate per
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
//! e(±h) bounds the rounding error of one loss difference E(w ± h) − E(w), propagated with the
//! evaluation; rounding_a bounds the rounding error of the analytic value (and of the point the
//! reference is taken at), from a running error analysis of backpropagation in the gradient's
//! own scalar.

use crate::report::Status;

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

/// The extrapolated derivative from ΔE(+h), ΔE(−h), ΔE(+h/2), ΔE(−h/2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Estimate {
    pub numeric: f64,
    pub trunc: f64,
    pub rounding: f64,
    pub step: f64,
}

pub(crate) fn richardson(h: f64, e: [Eval; 4]) -> Estimate {
    let d1 = (e[0].de - e[1].de) / (2.0 * h);
    let d2 = (e[2].de - e[3].de) / h;
    let rho1 = (e[0].err + e[1].err) / (2.0 * h);
    let rho2 = (e[2].err + e[3].err) / h;
    Estimate {
        numeric: d2 + (d2 - d1) / 3.0,
        trunc: (d2 - d1).abs() / 3.0,
        rounding: (4.0 * rho2 + rho1) / 3.0,
        step: h,
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

    #[test]
    fn richardson_is_exact_for_a_quartic_term_free_function() {
        // E(w + t) − E(w) = g t + c t³: D(h) = g + c h², R = g exactly.
        let (g, c, h) = (1.5, -2.0, 0.25);
        let de = |t: f64| Eval {
            de: g * t + c * t * t * t,
            err: 0.0,
        };
        let est = richardson(h, [de(h), de(-h), de(h / 2.0), de(-h / 2.0)]);
        assert!((est.numeric - g).abs() < 1e-15);
        // D(h/2) − D(h) = c (h²/4 − h²) → trunc = |c| h² / 4
        assert!((est.trunc - 2.0 * h * h / 4.0).abs() < 1e-15);
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
}
