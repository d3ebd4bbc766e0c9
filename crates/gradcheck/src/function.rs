//! The generic checker: any scalar function f(θ) of a parameter vector with an analytic gradient.
//!
//! The same rule as for networks (see the crate docs), with the rounding of f supplied by the
//! caller ([`Objective::value_rounding`]) instead of derived from a network's structure. Each
//! f evaluation is a full one: O(P) of them in full mode, 4 (or 6, refined) per direction in
//! projected mode.

use crate::config::{CheckConfig, Mode, Oracle};
use crate::error::{Error, Result};
use crate::report::{DirectionCheck, ElementCheck, LayerReport, Report, Status};
use crate::verdict::{Crossing, Eval, Sample, Verdict, finite_difference, gamma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A scalar function of a parameter vector with a claimed gradient.
///
/// ```
/// use backprop_gradcheck::{CheckConfig, Objective, check_objective};
///
/// /// f(θ) = Σ θ_p⁴ / 4, ∇f = θ³.
/// struct Quartic;
/// impl Objective for Quartic {
///     fn value(&self, t: &[f64]) -> f64 { t.iter().map(|t| t.powi(4) / 4.0).sum() }
///     fn gradient(&self, t: &[f64]) -> Vec<f64> { t.iter().map(|t| t.powi(3)).collect() }
/// }
/// let report = check_objective(&Quartic, &[0.5, -1.5, 2.0], &CheckConfig::full())?;
/// assert!(report.passed());
/// # Ok::<(), backprop_gradcheck::Error>(())
/// ```
pub trait Objective {
    /// f(θ).
    fn value(&self, theta: &[f64]) -> f64;
    /// The analytic ∇f(θ) under test.
    fn gradient(&self, theta: &[f64]) -> Vec<f64>;
    /// A bound on the rounding error of [`Objective::value`] at θ, given the value computed
    /// there. The default, 32 ε (|f| + 1)·… see [`default_value_rounding`], suits a function
    /// computed in a handful of well-conditioned operations; override it when f sums many terms
    /// or cancels.
    fn value_rounding(&self, theta: &[f64], value: f64) -> f64 {
        default_value_rounding(theta.len(), value)
    }
    /// A bound on the rounding error of the analytic ∂f/∂θ_p, given its value. Default:
    /// 32 ε |g|.
    fn gradient_rounding(&self, theta: &[f64], p: usize, g: f64) -> f64 {
        let _ = (theta, p);
        32.0 * f64::EPSILON * g.abs()
    }
}

/// The rounding bound [`check_function`] assumes for f: 32 ε |f| (a few dozen operations, each
/// good to half an ulp, none cancelling). `parameters` is unused by the default and there for
/// custom models.
pub fn default_value_rounding(parameters: usize, value: f64) -> f64 {
    let _ = parameters;
    32.0 * f64::EPSILON * value.abs()
}

struct Closure<F: Fn(&[f64]) -> f64> {
    f: F,
    g: Vec<f64>,
}

impl<F: Fn(&[f64]) -> f64> Objective for Closure<F> {
    fn value(&self, theta: &[f64]) -> f64 {
        (self.f)(theta)
    }
    fn gradient(&self, _: &[f64]) -> Vec<f64> {
        self.g.clone()
    }
}

/// Checks `analytic` against the derivatives of `f` at `theta`, with the default rounding model
/// ([`default_value_rounding`]). The report has one "layer" whose rows are the parameters.
///
/// ```
/// use backprop_gradcheck::{CheckConfig, check_function};
///
/// // f(θ) = sin θ_0 · θ_1², ∇f = (cos θ_0 θ_1², 2 sin θ_0 θ_1)
/// let f = |t: &[f64]| t[0].sin() * t[1] * t[1];
/// let theta = [0.7, -1.3];
/// let right = [0.7f64.cos() * 1.69, 2.0 * 0.7f64.sin() * -1.3];
/// assert!(check_function(f, &theta, &right, &CheckConfig::full())?.passed());
/// let wrong = [0.7f64.cos() * 1.69, 0.7f64.sin() * -1.3]; // the factor 2 dropped
/// let report = check_function(f, &theta, &wrong, &CheckConfig::full())?;
/// assert_eq!(report.failures().map(|e| e.row).collect::<Vec<_>>(), vec![1]);
/// # Ok::<(), backprop_gradcheck::Error>(())
/// ```
///
/// # Errors
/// [`Error::ParameterCount`] when the lengths differ, [`Error::NonFiniteValue`] when f(θ) is
/// not finite, [`Error::InvalidConfig`] for a bad configuration or the dual oracle (which needs
/// the network's structure).
pub fn check_function<F: Fn(&[f64]) -> f64>(
    f: F,
    theta: &[f64],
    analytic: &[f64],
    config: &CheckConfig,
) -> Result<Report> {
    let obj = Closure {
        f,
        g: analytic.to_vec(),
    };
    check_objective(&obj, theta, config)
}

/// Checks an [`Objective`]'s gradient at `theta`.
///
/// # Errors
/// As [`check_function`].
pub fn check_objective<O: Objective + ?Sized>(
    objective: &O,
    theta: &[f64],
    config: &CheckConfig,
) -> Result<Report> {
    config.validate()?;
    if config.oracle == Oracle::Dual {
        return Err(Error::InvalidConfig {
            name: "oracle",
            reason: "the dual oracle needs a network; functions are checked by finite differences"
                .into(),
        });
    }
    let analytic = objective.gradient(theta);
    let p = theta.len();
    if analytic.len() != p {
        return Err(Error::ParameterCount {
            expected: p,
            got: analytic.len(),
        });
    }
    let f0 = objective.value(theta);
    if !f0.is_finite() {
        return Err(Error::NonFiniteValue { value: f0 });
    }
    let mut ctx = FnCheck {
        obj: objective,
        theta: theta.to_vec(),
        f0,
        e0: objective.value_rounding(theta, f0),
        step_scale: f64::EPSILON.powf(0.2),
    };
    let mut layer = LayerReport::empty(0, p, 1);
    let mut elements: Vec<ElementCheck> = Vec::new();
    let full = |ctx: &mut FnCheck<'_, O>, elements: &mut Vec<ElementCheck>| {
        for (q, &g) in analytic.iter().enumerate() {
            elements.push(ctx.element(q, g));
        }
    };
    match config.mode {
        Mode::Full => full(&mut ctx, &mut elements),
        Mode::Sampled { per_layer } => {
            let mut idx: Vec<usize> = if per_layer >= p {
                (0..p).collect()
            } else {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rand::seq::index::sample(&mut rng, p, per_layer).into_vec()
            };
            idx.sort_unstable();
            for q in idx {
                elements.push(ctx.element(q, analytic[q]));
            }
        }
        Mode::Projected { directions } => {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let s = 1.0 / (p.max(1) as f64).sqrt();
            for index in 0..directions {
                let v: Vec<f64> = (0..p)
                    .map(|_| if rng.random::<bool>() { s } else { -s })
                    .collect();
                layer.directions.push(ctx.direction(index, &v, &analytic));
            }
            if layer.directions.iter().any(|d| d.status == Status::Failed) {
                layer.fell_back_to_full = true;
                full(&mut ctx, &mut elements);
            }
        }
    }
    for e in &elements {
        layer.count(e.status);
    }
    elements.sort_by(|a, b| {
        let ka = (a.status == Status::Failed, a.ratio());
        let kb = (b.status == Status::Failed, b.ratio());
        kb.partial_cmp(&ka).unwrap_or(std::cmp::Ordering::Equal)
    });
    elements.truncate(config.worst);
    layer.worst = elements;
    layer.coverage = if p == 0 {
        0.0
    } else {
        layer.checked as f64 / p as f64
    };
    Ok(Report {
        mode: config.mode,
        seed: config.seed,
        oracle: config.oracle,
        dtype: "F64".into(),
        evaluation_dtype: "F64".into(),
        activation: String::new(),
        sizes: vec![p],
        samples: 1,
        loss: f0,
        layers: vec![layer],
        min_judged: config.min_judged,
    })
}

struct FnCheck<'o, O: Objective + ?Sized> {
    obj: &'o O,
    theta: Vec<f64>,
    f0: f64,
    e0: f64,
    step_scale: f64,
}

impl<O: Objective + ?Sized> FnCheck<'_, O> {
    /// f(θ + t v) − f(θ) with its rounding bound, for the steps actually taken.
    fn diff(&mut self, v: &[(usize, f64)], t: f64) -> (Eval, f64) {
        let saved: Vec<f64> = v.iter().map(|&(q, _)| self.theta[q]).collect();
        // The step actually taken along the first coordinate, (θ + t v) − θ, exact in f64 for
        // the small steps used here; for a direction, t itself.
        let mut taken = t;
        for &(q, vq) in v {
            self.theta[q] += t * vq;
        }
        if let [(q, vq)] = v {
            taken = (self.theta[*q] - saved[0]) / vq;
        }
        let f = self.obj.value(&self.theta);
        let err =
            self.obj.value_rounding(&self.theta, f) + self.e0 + f64::EPSILON * (f - self.f0).abs();
        for (&(q, _), s) in v.iter().zip(saved) {
            self.theta[q] = s;
        }
        (
            Eval {
                de: f - self.f0,
                err,
            },
            taken,
        )
    }

    /// The verdict along v from step h (θ has no kinks to avoid here).
    fn verdict(&mut self, v: &[(usize, f64)], h: f64, analytic: f64, rounding_a: f64) -> Verdict {
        finite_difference(analytic, rounding_a, h, 0, |t| {
            let (eval, taken) = self.diff(v, t);
            Sample {
                eval,
                taken,
                crossing: Crossing::None,
            }
        })
    }

    fn element(&mut self, q: usize, analytic: f64) -> ElementCheck {
        let h = self.step_scale * self.theta[q].abs().max(1.0);
        let rounding_a = self.obj.gradient_rounding(&self.theta, q, analytic);
        self.verdict(&[(q, 1.0)], h, analytic, rounding_a)
            .element(0, q, 0, analytic)
    }

    fn direction(&mut self, index: usize, v: &[f64], g: &[f64]) -> DirectionCheck {
        let analytic: f64 = g.iter().zip(v).map(|(g, v)| g * v).sum();
        let rounding_a: f64 = (0..g.len())
            .map(|q| v[q].abs() * self.obj.gradient_rounding(&self.theta, q, g[q]))
            .sum::<f64>()
            + gamma(g.len(), f64::EPSILON / 2.0)
                * g.iter().zip(v).map(|(g, v)| (g * v).abs()).sum::<f64>();
        let scale = self.theta.iter().fold(1.0f64, |m, t| m.max(t.abs()));
        let h = self.step_scale * scale;
        let pairs: Vec<(usize, f64)> = v.iter().copied().enumerate().collect();
        self.verdict(&pairs, h, analytic, rounding_a)
            .direction(index, analytic)
    }
}
