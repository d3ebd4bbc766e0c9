//! `backprop check`: the core's backpropagation ∂E/∂W_i against numerical oracles, element by
//! element (`backprop-gradcheck`), on a model file or a random network.

use crate::args::{DtypeArg, Layers, layers_arg, parse_activation, sizes_text};
use crate::budget;
use crate::data::Table;
use crate::datasets;
use crate::input;
use crate::io::print_out;
use crate::outcome::Outcome;
use anyhow::{Result, anyhow, bail};
use backprop::{Activation, AnyNetwork, Network, Scalar};
use backprop_gradcheck::{CheckConfig, Mode, Oracle, Verdict};
use nalgebra::DMatrix;
use std::ffi::OsString;
use std::path::PathBuf;

const CHECK_HELP: &str = "\
Exit codes: 0 passed: no element failed and every layer judged at least half of its elements;
1 some element failed (the report names layer, row, column, the analytic and numerical values
and the error allowed), or a --perturb control was not caught (a failed control: with
--perturb the exit code is never 0); 2 bad input, a loss or gradient that is not finite
included (the weights or data overflow: nothing to check); 3 inconclusive: nothing failed, but some layer judged less
than half of its elements (the rest below the float floor or across a relu kink; the report's
last line names the layers; check on more samples).

Examples:
  backprop check --layers 3,4,5,2 --activation sigmoid
  backprop check --model model.safetensors --data spiral.csv --mode sampled --per-layer 20
  backprop check --model model.safetensors --mode projected --json
  backprop check --layers 3,4,5,2 --perturb 1,2,3 --json   # a negative control: exit 1

--json prints one JSON object: \"verdict\" (passed, failed or inconclusive) first, the mode's fields, the
report, and with --perturb a \"negative_control\" object whose \"outcome\" is caught, not
caught or not judged.";

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Every element of every W_i.
    Full,
    /// --per-layer seeded elements of every W_i.
    Sampled,
    /// --directions seeded directional derivatives per W_i (a failing layer is then checked in
    /// full).
    Projected,
}

/// `--oracle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OracleArg {
    /// Central differences with Richardson extrapolation.
    FiniteDifferences,
    /// Forward-mode dual numbers (full and sampled modes).
    Dual,
}

/// Check ∂E/∂W_i from backpropagation against numerical derivatives; print the report.
#[derive(clap::Args, Debug)]
// Negative numbers are values (so that `--lr -1` is refused as not positive, not as an
// unknown option).
#[command(after_help = CHECK_HELP, allow_negative_numbers = true)]
#[command(group(clap::ArgGroup::new("network").required(true).args(["model", "layers"])))]
pub struct CheckArgs {
    /// The model file to check (safetensors).
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["layers", "dtype"])]
    model: Option<PathBuf>,
    /// Check a random network of these sizes l_0,…,l_n instead (drawn from --seed).
    #[arg(long, value_parser = layers_arg)]
    layers: Option<Layers>,
    /// σ of the random network's hidden layers.
    #[arg(long, value_parser = parse_activation, default_value = "sigmoid")]
    activation: Option<Activation>,
    /// Scalar type of the random network.
    #[arg(long, value_enum)]
    dtype: Option<DtypeArg>,
    /// The data: CSV with l_0 inputs then l_n targets per row, or a built-in set's name.
    /// Default: --samples rows of seeded standard-normal inputs and targets.
    #[arg(long, value_name = "DATA")]
    data: Option<OsString>,
    /// Samples of generated data.
    #[arg(long, default_value_t = 4, conflicts_with = "data")]
    samples: usize,
    /// Which elements are checked.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    mode: ModeArg,
    /// Elements per layer in sampled mode.
    #[arg(long, default_value_t = 16)]
    per_layer: usize,
    /// Directions per layer in projected mode.
    #[arg(long, default_value_t = 4)]
    directions: usize,
    /// The numerical reference.
    #[arg(long, value_enum, default_value_t = OracleArg::FiniteDifferences)]
    oracle: OracleArg,
    /// Seed of the random network, the generated data, the sampled elements and directions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// A negative control: add an error to element (j, k) of the analytic ∂E/∂W_i (given as
    /// i,j,k) before checking; the report must then name that element and the exit code be 1.
    /// The error is 1e-3 × max|∂E/∂W_i|, or twice what truncation and rounding explain at that
    /// element if that is more (f32 elements that are small remainders of cancelling terms);
    /// a line after the report says what was planted and whether it was caught.
    #[arg(long, value_name = "I,J,K", value_parser = parse_element)]
    perturb: Option<[usize; 3]>,
}

fn parse_element(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("{s:?}: give the layer, row and column as I,J,K (e.g. 1,0,2)");
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut v = [0; 3];
    for (slot, p) in v.iter_mut().zip(&parts) {
        *slot = p.parse().map_err(|_| bad())?;
    }
    Ok(v)
}

/// A check whose network, data and buffers are ready.
pub struct Ready {
    /// The network, for errors: "the model PATH" or "the random network SIZES".
    network: String,
    /// The data's source, for errors.
    data: String,
    json: bool,
    perturb: Option<[usize; 3]>,
    config: CheckConfig,
    bound: AnyBound,
}

/// The network with its data in its scalar, and the backpropagation buffers.
struct Bound<T: Scalar> {
    net: Network<T>,
    x: DMatrix<T>,
    y: DMatrix<T>,
    workspace: backprop::Workspace<T>,
}

enum AnyBound {
    F32(Bound<f32>),
    F64(Bound<f64>),
}

impl Ready {
    /// Runs the check and prints the report.
    pub fn run(self) -> Result<Outcome> {
        let names = self.names();
        let (report, planted) = match self.bound {
            AnyBound::F32(b) => check_typed(b, &self.config, self.perturb, &names)?,
            AnyBound::F64(b) => check_typed(b, &self.config, self.perturb, &names)?,
        };
        if self.json {
            print_out(&format!("{}\n", json(&report, planted.as_ref())))?;
        } else {
            print_out(&format!("{report}\n"))?;
            if let Some(planted) = &planted {
                print_out(&format!("{}\n", planted.describe(&report)))?;
            }
        }
        // A planted error that is not caught is a failed negative control: exit 1, never 0.
        if planted
            .as_ref()
            .is_some_and(|p| p.outcome(&report) != "caught")
        {
            return Ok(Outcome::CheckFailed);
        }
        Ok(match report.verdict() {
            Verdict::Passed => Outcome::Success,
            Verdict::Failed => Outcome::CheckFailed,
            Verdict::Inconclusive => Outcome::CheckInconclusive,
        })
    }

    /// "the model PATH on DATA", for errors.
    fn names(&self) -> String {
        format!("{} on {}", self.network, self.data)
    }

    /// l_0, …, l_n.
    pub fn network_sizes(&self) -> Vec<usize> {
        match &self.bound {
            AnyBound::F32(b) => b.net.sizes(),
            AnyBound::F64(b) => b.net.sizes(),
        }
    }

    /// The samples checked on.
    pub fn samples(&self) -> usize {
        match &self.bound {
            AnyBound::F32(b) => b.x.ncols(),
            AnyBound::F64(b) => b.x.ncols(),
        }
    }
}

/// Converts the data to the network's scalar and allocates the buffers, each checked against
/// the memory limit first.
fn bind<T: Scalar>(net: Network<T>, table: &Table) -> Result<Bound<T>> {
    budget::check(
        || {
            format!(
                "the data of {} as {}",
                table.source,
                T::DTYPE.name().to_ascii_lowercase()
            )
        },
        table.values.len() as u128 * T::DTYPE.size() as u128,
    )?;
    let (x, y) = table.split::<T>(net.inputs(), net.outputs(), "the network")?;
    let workspace = backprop::Workspace::new(&net, x.ncols())?;
    Ok(Bound {
        net,
        x,
        y,
        workspace,
    })
}

/// Builds or loads the network, generates or reads the data, checks the options; prints
/// nothing.
pub fn prepare(args: CheckArgs) -> Result<Ready> {
    let net = match (&args.model, &args.layers) {
        (Some(p), _) => input::load_model(p)?,
        (None, Some(Layers(sizes))) => {
            let act = args.activation.unwrap_or(Activation::Sigmoid);
            let bad = |e: backprop::Error| anyhow!("--layers {}: {e}", sizes_text(sizes));
            let dtype = match args.dtype.unwrap_or(DtypeArg::F64) {
                DtypeArg::F32 => backprop::Dtype::F32,
                DtypeArg::F64 => backprop::Dtype::F64,
            };
            crate::budget::check_weights(sizes, dtype)
                .map_err(|e| anyhow!("--layers {}: {e}", sizes_text(sizes)))?;
            match args.dtype.unwrap_or(DtypeArg::F64) {
                DtypeArg::F32 => {
                    AnyNetwork::F32(Network::random(sizes, act, args.seed).map_err(bad)?)
                }
                DtypeArg::F64 => {
                    AnyNetwork::F64(Network::random(sizes, act, args.seed).map_err(bad)?)
                }
            }
        }
        (None, None) => bail!("give --model MODEL or --layers L0,…,Ln"),
    };
    let mode = match args.mode {
        ModeArg::Full => Mode::Full,
        ModeArg::Sampled => Mode::Sampled {
            per_layer: args.per_layer,
        },
        ModeArg::Projected => Mode::Projected {
            directions: args.directions,
        },
    };
    let mut config = CheckConfig {
        mode,
        ..CheckConfig::default()
    }
    .with_seed(args.seed);
    config.oracle = match args.oracle {
        OracleArg::FiniteDifferences => Oracle::FiniteDifferences,
        OracleArg::Dual => Oracle::Dual,
    };
    config.validate().map_err(|e| anyhow!("{e}"))?;
    let sizes = net.sizes();
    let (l0, ln) = (sizes[0], sizes[sizes.len() - 1]);
    if let Mode::Projected { directions } = mode {
        // Each direction costs what one element of full mode costs, and l_{i+1} l_i directions
        // already span W_i: more than the largest W_i has elements is full mode's work and more.
        let (i, elements) = sizes
            .windows(2)
            .map(|l| l[0] as u128 * l[1] as u128)
            .enumerate()
            .max_by_key(|&(i, e)| (e, std::cmp::Reverse(i)))
            .unwrap_or((0, 0));
        if directions as u128 > elements {
            bail!(
                "--directions {directions}: more than the {elements} elements of the largest \
                 weight matrix (W_{i}, {}×{}); --mode full checks every element for less",
                sizes[i + 1],
                sizes[i]
            );
        }
    }
    let table = match &args.data {
        Some(spec) => input::load_data(spec, args.seed)?.table,
        None => {
            if args.samples == 0 {
                bail!("--samples must be at least 1");
            }
            // l_0 + l_n values a sample, in f64.
            let width = l0 as u128 + ln as u128;
            budget::check(
                || format!("--samples {} of {} values each", args.samples, width),
                args.samples as u128 * width * 8,
            )?;
            Table {
                source: "generated data".into(),
                header: None,
                values: datasets::normal_values(args.samples * (l0 + ln), args.seed),
                cols: l0 + ln,
                lines: (1..=args.samples as u64).collect(),
            }
        }
    };
    if let Some([i, j, k]) = args.perturb {
        // W_i is l_{i+1} × l_i.
        if i >= sizes.len() - 1 {
            bail!(
                "--perturb {i},{j},{k}: there is no W_{i}; the network has W_0..W_{}",
                sizes.len() - 2
            );
        }
        let (rows, cols) = (sizes[i + 1], sizes[i]);
        if j >= rows || k >= cols {
            bail!(
                "--perturb {i},{j},{k}: W_{i} is {rows}×{cols}, so row j < {rows} and column k < {cols}"
            );
        }
    }
    let network = match &args.model {
        Some(p) => format!("the model {}", p.display()),
        None => format!(
            "the random network {} {}",
            sizes_text(&sizes),
            net.activation_name()
        ),
    };
    let data = table.source.clone();
    let bound = match net {
        AnyNetwork::F32(n) => AnyBound::F32(bind(n, &table)?),
        AnyNetwork::F64(n) => AnyBound::F64(bind(n, &table)?),
    };
    Ok(Ready {
        network,
        data,
        json: args.json,
        perturb: args.perturb,
        config,
        bound,
    })
}

/// The report as JSON (`backprop_gradcheck::Report::to_json`: the verdict first, then the
/// report), with the negative control's outcome last when one was planted.
fn json(report: &backprop_gradcheck::Report, planted: Option<&Planted>) -> String {
    #[derive(serde::Serialize)]
    struct Control {
        layer: usize,
        row: usize,
        col: usize,
        delta: f64,
        /// `caught` (the report names the element), `not caught`, or `not judged` (the
        /// unperturbed element could not be judged).
        outcome: &'static str,
        message: String,
    }
    #[derive(serde::Serialize)]
    struct Json<'a> {
        verdict: backprop_gradcheck::Verdict,
        inconclusive_layers: Vec<usize>,
        #[serde(flatten)]
        report: &'a backprop_gradcheck::Report,
        #[serde(skip_serializing_if = "Option::is_none")]
        negative_control: Option<Control>,
    }
    let control = planted.map(|p| Control {
        layer: p.layer,
        row: p.row,
        col: p.col,
        delta: p.delta,
        outcome: p.outcome(report),
        message: p.describe(report),
    });
    let json = Json {
        verdict: report.verdict(),
        inconclusive_layers: report.inconclusive_layers(),
        report,
        negative_control: control,
    };
    // Plain data: serde_json writes non-finite floats as null and cannot fail here.
    serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The error `--perturb` planted, and why it has that size.
struct Planted {
    layer: usize,
    row: usize,
    col: usize,
    delta: f64,
    /// 1e-3 × max|∂E/∂W_i| (1e-3 for an all-zero layer).
    base: f64,
    /// What truncation and rounding explain at the element: allowed + |analytic − numeric| of
    /// the unperturbed check, or `None` when the unperturbed element could not be judged.
    explained: Option<f64>,
}

impl Planted {
    /// `caught` when the report names the planted element as failed, `not judged` when the
    /// unperturbed element could not be judged, `not caught` otherwise.
    fn outcome(&self, report: &backprop_gradcheck::Report) -> &'static str {
        let (i, j, k) = (self.layer, self.row, self.col);
        if report
            .failures()
            .any(|e| (e.layer, e.row, e.col) == (i, j, k))
        {
            "caught"
        } else if self.explained.is_none() {
            "not judged"
        } else {
            "not caught"
        }
    }

    /// One line for the user: what was added where, and whether the report caught it.
    fn describe(&self, report: &backprop_gradcheck::Report) -> String {
        let Self {
            layer: i,
            row: j,
            col: k,
            delta,
            ..
        } = *self;
        let size = match self.explained {
            Some(e) if delta > self.base => format!(
                "twice the {e:.2e} that truncation and rounding explain there, more than \
                 1e-3·max|∂E/∂W_{i}| = {:.2e}",
                self.base
            ),
            _ => format!("1e-3·max|∂E/∂W_{i}|"),
        };
        let verdict = match self.outcome(report) {
            "caught" => "caught and named",
            "not judged" => {
                "not caught: the unperturbed element could not be judged (a kink of σ crossed, or \
                 both values below the float floor); plant it in another element"
            }
            _ => "not caught",
        };
        format!("negative control: W_{i}[{j},{k}] += {delta:.3e} ({size}): {verdict}")
    }
}

/// Checks the core's batched backpropagation (optionally with a planted error) on the table.
fn check_typed<T: Scalar>(
    bound: Bound<T>,
    config: &CheckConfig,
    perturb: Option<[usize; 3]>,
    names: &str,
) -> Result<(backprop_gradcheck::Report, Option<Planted>)> {
    let Bound {
        net,
        x,
        y,
        mut workspace,
    } = bound;
    let net = &net;
    // A loss or gradient that is not finite is a property of the input (weights and data so
    // large that the outputs or their squares overflow), not a wrong gradient: refused with
    // exit 2, never reported as a failed check.
    let e = workspace.gradient(net, x.as_view(), y.as_view())?;
    if !e.finite() {
        bail!(
            "{names}: E = {e} is not finite (the outputs or their squared errors overflow \
             {}); a gradient check needs a finite loss: scale the data or the weights down",
            T::DTYPE.name().to_ascii_lowercase()
        );
    }
    for (i, g) in workspace.gradient_ref().layers().iter().enumerate() {
        if let Some(p) = g.iter().position(|v| !v.finite()) {
            let (j, k) = (p % g.nrows(), p / g.nrows());
            bail!(
                "{names}: ∂E/∂W_{i}[{j},{k}] = {} is not finite (E = {e} is, but its \
                 derivative overflows {}); a gradient check needs a finite gradient: scale \
                 the data or the weights down",
                g[(j, k)],
                T::DTYPE.name().to_ascii_lowercase()
            );
        }
    }
    let mut analytic = workspace.gradient_ref().clone();
    let mut planted = None;
    if let Some([i, j, k]) = perturb {
        // In range: checked by `prepare`. What the check allows at (i, j, k) for the correct
        // gradient, from a full check of it (every element, so (i, j, k) is among them).
        let full = CheckConfig {
            mode: backprop_gradcheck::Mode::Full,
            worst: usize::MAX,
            ..config.clone()
        };
        let correct =
            backprop_gradcheck::check_network(net, x.as_view(), y.as_view(), &analytic, &full)
                .map_err(|e| anyhow!("{e}"))?;
        let explained = correct.layers[i]
            .worst
            .iter()
            .find(|e| (e.row, e.col) == (j, k))
            .filter(|e| e.status == backprop_gradcheck::Status::Passed)
            .map(|e| e.allowed + e.difference);
        let g = analytic.layer_mut(i);
        let scale = g.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
        let base = 1e-3 * if scale > 0.0 { scale } else { 1.0 };
        let delta = base.max(2.0 * explained.unwrap_or(0.0));
        g[(j, k)] += T::of_f64(delta);
        planted = Some(Planted {
            layer: i,
            row: j,
            col: k,
            delta,
            base,
            explained,
        });
    }
    let report =
        backprop_gradcheck::check_network(net, x.as_view(), y.as_view(), &analytic, config)
            .map_err(|e| anyhow!("{e}"))?;
    // E finite at W but not at W ± h: the loss overflows next to the point, an input problem.
    if let Some(f) = report.failures().find(|f| !f.numeric.is_finite()) {
        bail!(
            "{names}: E is finite, but not next to W_{}[{},{}] (the numerical derivative is \
             {}): the loss is at the edge of overflow; scale the data or the weights down",
            f.layer,
            f.row,
            f.col,
            f.numeric
        );
    }
    Ok((report, planted))
}
