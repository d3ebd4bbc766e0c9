//! The network adapter: checks ∂E/∂W_i of a `backprop` network element by element, from cached
//! activations (see [`crate::engine`](crate) in the crate docs for the incremental evaluation).

use crate::bounds::{Slopes, bounds};
use crate::config::{CheckConfig, Evaluation, Mode, Oracle};
use crate::dual::{self, DualActivation, DualScratch};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::report::{DirectionCheck, ElementCheck, LayerReport, Report, Status};
use crate::verdict::{Estimate, Sample, Verdict, finite_difference, gamma, judge};
use backprop::{Activation, ActivationFn, DenominatorGradient, Network, Scalar};
use nalgebra::{DMatrix, DMatrixView};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::sync::Arc;

/// How many times a step is divided by 8 to get off a kink before the element is classified
/// [`Status::KinkCrossed`].
const MAX_SHRINKS: usize = 6;

/// Checks `analytic`, a claimed ∂E/∂W_i (denominator layout, summed over the batch) of `net`
/// on inputs `x` (l_0 × B) and targets `y` (l_n × B).
///
/// # Errors
/// [`Error::Core`] for a bad batch, [`Error::GradientDepth`] or [`Error::GradientShape`] for a
/// gradient that does not fit the network, [`Error::InvalidConfig`] for a bad configuration,
/// [`Error::NoDualActivation`] for the dual oracle with an activation it cannot evaluate.
pub fn check_network<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    analytic: &DenominatorGradient<T>,
    config: &CheckConfig,
) -> Result<Report> {
    config.validate()?;
    net.check_batch(x, y)?;
    if analytic.depth() != net.depth() {
        return Err(Error::GradientDepth {
            expected: net.depth(),
            got: analytic.depth(),
        });
    }
    for (i, w) in net.weights().iter().enumerate() {
        if analytic.layer(i).shape() != w.shape() {
            return Err(Error::GradientShape {
                layer: i,
                expected: w.shape(),
                got: analytic.layer(i).shape(),
            });
        }
    }
    let dual_act = if config.oracle == Oracle::Dual {
        Some(
            config
                .dual_activation
                .clone()
                .or_else(|| dual::builtin_for(net))
                .ok_or_else(|| Error::NoDualActivation {
                    activation: net.activation().name(),
                })?,
        )
    } else {
        None
    };
    let widen = config.evaluation == Evaluation::Widened || config.oracle == Oracle::Dual;
    let act64 = if widen {
        reference_activation(net, config)
    } else {
        None
    };
    match act64 {
        Some(act) => {
            let w = net
                .weights()
                .iter()
                .map(|w| w.map(|v| v.as_f64()))
                .collect();
            run::<T, f64>(net, x, y, analytic, config, w, &*act, dual_act.as_deref())
        }
        None if config.oracle == Oracle::Dual => Err(Error::InvalidConfig {
            name: "reference_activation",
            reason: format!(
                "the dual oracle evaluates in f64 and needs σ in f64 for activation '{}'",
                net.activation().name()
            ),
        }),
        None => run::<T, T>(
            net,
            x,
            y,
            analytic,
            config,
            net.weights().to_vec(),
            net.activation(),
            None,
        ),
    }
}

/// Checks the core crate's own batched backpropagation ([`backprop::Workspace::gradient`]).
///
/// # Errors
/// As [`check_network`].
pub fn check_backprop<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    config: &CheckConfig,
) -> Result<Report> {
    let mut ws = backprop::Workspace::new(net, x.ncols().max(1))?;
    ws.gradient(net, x, y)?;
    check_network(net, x, y, ws.gradient_ref(), config)
}

/// Checks the gradient that `gradient` computes for `(net, x, y)`: a closure around your own
/// backpropagation.
///
/// # Errors
/// The closure's error, or as [`check_network`].
pub fn check_network_with<T, G>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    gradient: G,
    config: &CheckConfig,
) -> Result<Report>
where
    T: Scalar,
    G: FnOnce(
        &Network<T>,
        DMatrixView<'_, T>,
        DMatrixView<'_, T>,
    ) -> Result<DenominatorGradient<T>>,
{
    let analytic = gradient(net, x, y)?;
    check_network(net, x, y, &analytic, config)
}

/// σ in f64 for evaluating `net` widened: the network's own for f64, else the configured one,
/// else the built-in activation of the same name.
fn reference_activation<T: Scalar>(
    net: &Network<T>,
    config: &CheckConfig,
) -> Option<Arc<dyn ActivationFn<f64>>> {
    if let Some(net64) = (net as &dyn Any).downcast_ref::<Network<f64>>() {
        return Some(net64.activation_arc());
    }
    if let Some(act) = &config.reference_activation {
        return Some(act.clone());
    }
    net.activation()
        .name()
        .parse::<Activation>()
        .ok()
        .map(|a| Arc::new(a) as Arc<dyn ActivationFn<f64>>)
}

/// The per-layer tally and the worst elements.
struct LayerAcc {
    report: LayerReport,
    keep: usize,
}

impl LayerAcc {
    fn new(layer: usize, rows: usize, cols: usize, keep: usize) -> Self {
        Self {
            report: LayerReport::empty(layer, rows, cols),
            keep,
        }
    }

    fn reset_elements(&mut self) {
        let r = &mut self.report;
        r.checked = 0;
        r.passed = 0;
        r.failed = 0;
        r.kink_crossed = 0;
        r.below_floor = 0;
        r.worst.clear();
    }

    fn push(&mut self, e: ElementCheck) {
        let r = &mut self.report;
        r.count(e.status);
        if self.keep == 0 {
            return;
        }
        let key = |e: &ElementCheck| (e.status == Status::Failed, e.ratio());
        // Failed first, then by difference / allowed.
        let worse = |a: &ElementCheck, b: &ElementCheck| key(a) > key(b);
        if r.worst.len() == self.keep {
            if !worse(&e, &r.worst[self.keep - 1]) {
                return;
            }
            r.worst.pop();
        }
        let pos = r
            .worst
            .iter()
            .position(|w| worse(&e, w))
            .unwrap_or(r.worst.len());
        r.worst.insert(pos, e);
    }

    fn finish(mut self) -> LayerReport {
        let total = self.report.elements();
        self.report.coverage = if total == 0 {
            0.0
        } else {
            self.report.checked as f64 / total as f64
        };
        self.report
    }
}

/// Everything one check needs, in evaluation scalar F.
struct Checker<'e, 'a, F: Scalar> {
    eng: &'e mut Engine<'a, F>,
    /// e(∂E/∂W_i) of the analytic gradient plus that of the reference point.
    rounding_a: Vec<DMatrix<f64>>,
    /// The reference's own rounding bound (for the dual oracle).
    rounding_ref: Vec<DMatrix<f64>>,
    analytic: Vec<DMatrix<f64>>,
    dual: Option<(&'e dyn DualActivation, DualScratch)>,
    /// ε^{1/5} of F: the Richardson step's scale.
    step_scale: f64,
}

impl<F: Scalar> Checker<'_, '_, F> {
    fn element(&mut self, i: usize, j: usize, k: usize) -> ElementCheck {
        let analytic = self.analytic[i][(j, k)];
        let rounding_a = self.rounding_a[i][(j, k)];
        if let Some((act, scratch)) = &mut self.dual {
            let (numeric, crossing) = dual::element(self.eng, *act, scratch, i, j, k);
            let rounding = rounding_a + self.rounding_ref[i][(j, k)];
            let (status, allowed) = judge(analytic, numeric, 0.0, 0.0, rounding, crossing);
            let est = Estimate {
                numeric,
                trunc: 0.0,
                rounding: 0.0,
                step: 0.0,
            };
            return Verdict {
                est,
                status,
                allowed,
            }
            .element(i, j, k, analytic);
        }
        let w = self.eng.w[i][(j, k)].as_f64();
        let a = &self.eng.a[i];
        let amax = (0..self.eng.b).fold(0.0f64, |m, s| m.max(a[(k, s)].as_f64().abs()));
        // A step representable in F; its halves, quarters and eighths are exact too.
        let h = F::of_f64(self.step_scale * w.abs().max(1.0) / amax.max(1.0)).as_f64();
        let eng = &mut *self.eng;
        finite_difference(analytic, rounding_a, h, MAX_SHRINKS, |t| {
            let (eval, crossing) = eng.element(i, j, k, F::of_f64(t));
            Sample::exact(eval, t, crossing)
        })
        .element(i, j, k, analytic)
    }

    fn direction(&mut self, i: usize, index: usize, v: &DMatrix<f64>) -> DirectionCheck {
        // Σ g ⊙ V and its rounding bound Σ |V| ⊙ e(g) + γ_P Σ |g ⊙ V|, in one pass.
        let g = &self.analytic[i];
        let e = &self.rounding_a[i];
        let (mut analytic, mut rounding_a, mut magnitude) = (0.0, 0.0, 0.0);
        for ((&gv, &ev), &vv) in g.iter().zip(e.iter()).zip(v.iter()) {
            analytic += gv * vv;
            rounding_a += ev * vv.abs();
            magnitude += (gv * vv).abs();
        }
        rounding_a += gamma(v.len(), f64::EPSILON / 2.0) * magnitude;
        let eng = &mut *self.eng;
        // VA = V a_i in F, and its rounding bound γ_{l_i+1} |V| |a_i|.
        let (rows, cols, b) = (v.nrows(), v.ncols(), eng.b);
        let mut va = DMatrix::<F>::zeros(rows, b);
        let mut err_va = DMatrix::<f64>::zeros(rows, b);
        let g_va = gamma(cols + 1, eng.u);
        for s in 0..b {
            for k in 0..cols {
                let a = eng.a[i][(k, s)];
                let abs_a = a.as_f64().abs();
                for j in 0..rows {
                    let vv = v[(j, k)];
                    va[(j, s)] += F::of_f64(vv) * a;
                    err_va[(j, s)] += g_va * vv.abs() * abs_a;
                }
            }
        }
        let vamax = va.iter().fold(0.0f64, |m, x| m.max(x.as_f64().abs()));
        let h = F::of_f64(self.step_scale / vamax.max(1.0)).as_f64();
        finite_difference(analytic, rounding_a, h, MAX_SHRINKS, |t| {
            let (eval, crossing) = eng.direction(i, &va, &err_va, F::of_f64(t));
            Sample::exact(eval, t, crossing)
        })
        .direction(index, analytic)
    }
}

/// A seeded unit direction with the shape of W_i: entries ±1/√(l_{i+1} l_i).
fn random_direction(
    seed: u64,
    layer: usize,
    index: usize,
    rows: usize,
    cols: usize,
) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((layer as u64) << 32) | index as u64);
    let s = 1.0 / ((rows * cols) as f64).sqrt();
    // One random bit per entry, 64 at a time (column-major order).
    let mut bits = 0u64;
    let mut left = 0;
    DMatrix::from_fn(rows, cols, |_, _| {
        if left == 0 {
            bits = rng.next_u64();
            left = 64;
        }
        let bit = bits & 1;
        bits >>= 1;
        left -= 1;
        if bit == 1 { s } else { -s }
    })
}

/// The seeded sample of `k` distinct elements (row-major indices, sorted) of an r × c layer.
fn sample_elements(
    seed: u64,
    layer: usize,
    rows: usize,
    cols: usize,
    k: usize,
) -> Vec<(usize, usize)> {
    let total = rows * cols;
    if k >= total {
        return (0..total).map(|p| (p / cols, p % cols)).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - layer as u64);
    let mut idx = rand::seq::index::sample(&mut rng, total, k).into_vec();
    idx.sort_unstable();
    idx.into_iter().map(|p| (p / cols, p % cols)).collect()
}

#[allow(clippy::too_many_arguments)]
fn run<T: Scalar, F: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    analytic: &DenominatorGradient<T>,
    config: &CheckConfig,
    w: Vec<DMatrix<F>>,
    act: &dyn ActivationFn<F>,
    dual_act: Option<&dyn DualActivation>,
) -> Result<Report> {
    let widen = |m: DMatrixView<'_, T>| m.map(|v| F::of_f64(v.as_f64()));
    let mut eng = Engine::new(w, act, widen(x), widen(y));
    let slopes = Slopes::new(&eng);
    let b_an = bounds(&eng, &slopes, T::EPSILON.as_f64() / 2.0);
    let b_ref = bounds(&eng, &slopes, eng.u);
    eng.tau = b_an.ez.iter().zip(&b_ref.ez).map(|(a, b)| a + b).collect();
    let mut rounding_a = b_an.eg;
    for (a, b) in rounding_a.iter_mut().zip(&b_ref.eg) {
        *a += b;
    }
    let sizes = eng.sizes.clone();
    let n = eng.n;
    let loss = eng.loss.as_f64();
    let eval_dtype = F::DTYPE.name().to_string();
    let step_scale = F::EPSILON.as_f64().powf(0.2);
    let mut checker = Checker {
        rounding_a,
        rounding_ref: b_ref.eg,
        analytic: analytic
            .layers()
            .iter()
            .map(|g| g.map(|v| v.as_f64()))
            .collect(),
        dual: dual_act.map(|a| (a, DualScratch::new(&sizes, eng.b))),
        eng: &mut eng,
        step_scale,
    };
    let mut layers = Vec::with_capacity(n);
    for i in 0..n {
        let (rows, cols) = (sizes[i + 1], sizes[i]);
        let mut acc = LayerAcc::new(i, rows, cols, config.worst);
        let full = |checker: &mut Checker<'_, '_, F>, acc: &mut LayerAcc| {
            for k in 0..cols {
                for j in 0..rows {
                    acc.push(checker.element(i, j, k));
                }
            }
        };
        match config.mode {
            Mode::Full => full(&mut checker, &mut acc),
            Mode::Sampled { per_layer } => {
                for (j, k) in sample_elements(config.seed, i, rows, cols, per_layer) {
                    acc.push(checker.element(i, j, k));
                }
            }
            Mode::Projected { directions } => {
                for d in 0..directions {
                    let v = random_direction(config.seed, i, d, rows, cols);
                    let check = checker.direction(i, d, &v);
                    acc.report.directions.push(check);
                }
                if acc
                    .report
                    .directions
                    .iter()
                    .any(|d| d.status == Status::Failed)
                {
                    acc.reset_elements();
                    acc.report.fell_back_to_full = true;
                    full(&mut checker, &mut acc);
                }
            }
        }
        layers.push(acc.finish());
    }
    Ok(Report {
        mode: config.mode,
        seed: config.seed,
        oracle: config.oracle,
        dtype: T::DTYPE.name().to_string(),
        evaluation_dtype: eval_dtype,
        activation: net.activation().name(),
        sizes,
        samples: x.ncols(),
        loss,
        layers,
        min_judged: config.min_judged,
    })
}
