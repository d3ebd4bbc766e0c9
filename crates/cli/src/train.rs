//! `backprop train`: mini-batch SGD with the seed's update W_i ← W_i − m ∂E/∂W_i.
//!
//! The loss shown is E/N, the seed's squared error E = Σ_s ‖y_s − z_n(x_s)‖² averaged over the
//! samples (for the training set: summed over an epoch's batches, each computed just before its
//! update). Classification targets are one-hot; the accuracy counts samples whose largest
//! output is at their class.

use crate::Outcome;
use crate::common::{
    self, DtypeArg, Layers, Loaded, ensure_parent, layers_arg, parse_activation, parse_positive,
    say, sibling, sizes_text,
};
use crate::data::{self, Table};
use crate::datasets::{self, Defaults};
use crate::plot::{self, Boundary, Fit, LossCurve};
use anyhow::{Result, anyhow, bail};
use backprop::{Activation, AnyNetwork, Network, Reduction, Scalar, TrainConfig};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nalgebra::DMatrix;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const TRAIN_HELP: &str = "\
With no arguments, trains a 2-24-24-2 tanh network on two interleaved spirals (a few seconds)
and writes model.safetensors, loss.png and boundary.png into the current directory.

The same data, options and --seed give a bit-identical model file. Ctrl-C stops before the
next mini-batch and writes the model of the last complete epoch (exit code 130). A loss that becomes NaN or infinite stops
training with an error naming the epoch; the last finite model is written.

Examples:
  backprop train
  backprop train --data circles --plot out/loss.svg --out out/circles.safetensors
  backprop train --data data.csv --layers 3,8,2 --activation sigmoid --lr 0.05 --epochs 500
  backprop train --init model.safetensors --out more.safetensors --epochs 100";

/// `--reduction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReductionArg {
    /// dW_i = −m Σ_s ∂E_s/∂W_i over the batch (the seed's rule).
    Sum,
    /// dW_i = −(m/B) Σ_s ∂E_s/∂W_i: the step does not grow with the batch size.
    Mean,
}

/// Train a network by backpropagation and SGD; write the model and pictures.
#[derive(clap::Args, Debug)]
// Negative numbers are values (so that `--lr -1` is refused as not positive, not as an
// unknown option).
#[command(after_help = TRAIN_HELP, allow_negative_numbers = true)]
pub struct TrainArgs {
    /// A CSV file (l_0 inputs then l_n targets per row, optional header) or a built-in set:
    /// spiral, circles, xor, sine, seeded (and with the `digits` feature: digits, iris,
    /// breast_cancer).
    #[arg(long, default_value = "spiral")]
    data: String,
    /// Layer sizes l_0,l_1,…,l_n, e.g. 2,16,16,2; l_0 and l_n must match the data's inputs and
    /// targets. Default for built-in sets: their own; required for a CSV file (unless --init).
    #[arg(long, value_parser = layers_arg)]
    layers: Option<Layers>,
    /// σ of the hidden layers: sigmoid, tanh, relu, leaky_relu, leaky_relu:ALPHA, softplus,
    /// identity. Default: the built-in set's, sigmoid for a CSV file.
    #[arg(long, value_parser = parse_activation)]
    activation: Option<Activation>,
    /// Learning rate m.
    #[arg(long, value_parser = parse_positive)]
    lr: Option<f64>,
    /// Passes over the training data.
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per mini-batch.
    #[arg(long)]
    batch: Option<usize>,
    /// How a batch's per-sample gradients combine.
    #[arg(long, value_enum)]
    reduction: Option<ReductionArg>,
    /// Seed of the initial weights, the shuffle, the test split and the built-in data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scalar type of a new network (with --init: the file's; a different --dtype is an error).
    #[arg(long, value_enum)]
    dtype: Option<DtypeArg>,
    /// The model file to write (safetensors) [default: model.safetensors].
    #[arg(long, value_name = "MODEL")]
    out: Option<PathBuf>,
    /// The loss-curve picture, .png or .svg [default: loss.png beside --out].
    #[arg(long, value_name = "PICTURE")]
    plot: Option<PathBuf>,
    /// The decision-boundary picture for 2-D inputs (a fitted curve for 1-D inputs), .png or
    /// .svg [default: boundary.png or fit.png beside --out, in --plot's format].
    #[arg(long, value_name = "PICTURE")]
    boundary: Option<PathBuf>,
    /// Write no pictures.
    #[arg(long)]
    no_plots: bool,
    /// Per-epoch loss and accuracy as CSV.
    #[arg(long, value_name = "CSV")]
    history: Option<PathBuf>,
    /// Continue training this model (its sizes, activation and dtype).
    #[arg(long, value_name = "MODEL")]
    init: Option<PathBuf>,
    /// Allow --out to name the --init model, overwriting it.
    #[arg(long)]
    force: bool,
    /// Fraction of the samples held out for testing, in [0, 1) [default: 0.2 for built-in
    /// sets, 0 for a CSV file].
    #[arg(long, value_name = "FRACTION")]
    test_split: Option<f64>,
    /// Print every N-th epoch [default: about 20 lines per run].
    #[arg(long, value_name = "N")]
    log_every: Option<usize>,
}

/// Set by Ctrl-C; checked before every mini-batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn install_ctrlc() {
    // A second Ctrl-C exits at once; the files are written atomically, so none is half-written.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// Everything decided before training starts.
struct Plan {
    name: String,
    train: Table,
    test: Option<Table>,
    inputs: usize,
    outputs: usize,
    classes: Option<Vec<String>>,
    config: TrainConfig,
    out: PathBuf,
    loss_picture: Option<PathBuf>,
    boundary_picture: Option<PathBuf>,
    history: Option<PathBuf>,
    log_every: usize,
    all_points: Table,
}

/// CSV targets are one-hot when every target row holds one 1 and otherwise 0s.
fn one_hot(table: &Table, inputs: usize) -> bool {
    let k = table.cols - inputs;
    k >= 2
        && (0..table.rows()).all(|s| {
            let y = &table.row(s)[inputs..];
            y.iter().all(|&v| v == 0.0 || v == 1.0) && y.iter().filter(|&&v| v == 1.0).count() == 1
        })
}

/// A training run whose data, network and buffers are ready; nothing written yet.
pub struct Ready {
    plan: Plan,
    session: AnySession,
}

enum AnySession {
    F32(Session<f32>),
    F64(Session<f64>),
}

/// The network, its data in its scalar type, and the trainer's buffers.
struct Session<T: Scalar> {
    net: Network<T>,
    x: DMatrix<T>,
    y: DMatrix<T>,
    test: Option<(DMatrix<T>, DMatrix<T>)>,
    trainer: backprop::Trainer<T>,
}

impl Ready {
    /// Trains and writes the outputs.
    pub fn run(self) -> Result<Outcome> {
        match self.session {
            AnySession::F32(s) => train_typed(self.plan, s),
            AnySession::F64(s) => train_typed(self.plan, s),
        }
    }

    /// l_0, …, l_n.
    pub fn network_sizes(&self) -> Vec<usize> {
        match &self.session {
            AnySession::F32(s) => s.net.sizes(),
            AnySession::F64(s) => s.net.sizes(),
        }
    }

    /// Training and test samples.
    pub fn samples(&self) -> usize {
        self.plan.all_points.rows()
    }
}

/// Converts the data to the network's scalar, checks it against the network, and allocates
/// the trainer's buffers, each after checking its size against the memory limit.
fn session<T: Scalar>(plan: &Plan, net: Network<T>) -> Result<Session<T>> {
    let sizes = net.sizes();
    let size = T::DTYPE.size() as u128;
    let rows = plan.all_points.rows() as u128;
    common::check_memory(
        || {
            format!(
                "the data of {} ({} samples) as {}",
                plan.name,
                plan.all_points.rows(),
                T::DTYPE.name().to_ascii_lowercase()
            )
        },
        rows * plan.all_points.cols as u128 * size,
    )?;
    let (x, y) = plan
        .train
        .split::<T>(plan.inputs, plan.outputs, "the network")?;
    let test = match &plan.test {
        Some(t) => Some(t.split::<T>(plan.inputs, plan.outputs, "the network")?),
        None => None,
    };
    // Refuse a bad start (non-finite data, shapes) before printing anything.
    net.check_batch(x.as_view(), y.as_view())?;
    // The accuracy and the test loss are computed by forward passes over a whole set.
    if plan.classes.is_some() || test.is_some() {
        let n = x.ncols().max(test.as_ref().map_or(0, |t| t.0.ncols()));
        common::check_memory(
            || {
                format!(
                    "a forward pass of {n} samples through {}",
                    sizes_text(&sizes)
                )
            },
            common::forward_bytes(&sizes, n, T::DTYPE.size()),
        )?;
    }
    if let Some(p) = &plan.boundary_picture {
        plot_memory::<T>(plan, p, &sizes)?;
    }
    let trainer = backprop::Trainer::new(
        &net,
        plan.config.batch_size.min(x.ncols()),
        plan.config.seed,
    )?;
    Ok(Session {
        net,
        x,
        y,
        test,
        trainer,
    })
}

/// Checks that the picture of the network's answer (on a grid for 2 inputs, along a line for
/// 1) fits in memory: its forward passes go in chunks, its outputs are kept whole.
fn plot_memory<T: Scalar>(plan: &Plan, picture: &Path, sizes: &[usize]) -> Result<()> {
    let points = if plan.inputs == 2 {
        let cells = boundary_cells(picture);
        cells * cells
    } else {
        FIT_STEPS + 1
    };
    let outputs = plan.outputs as u128 * points as u128 * (8 + T::DTYPE.size() as u128);
    common::check_memory(
        || {
            format!(
                "the picture {} ({points} points × {} outputs)",
                picture.display(),
                plan.outputs
            )
        },
        outputs
            + common::forward_bytes(
                sizes,
                common::chunk_of(sizes, T::DTYPE.size()),
                T::DTYPE.size(),
            ),
    )
}

/// Reads the data and the --init model, builds the network and checks every option and output
/// path; writes nothing.
pub fn prepare(args: TrainArgs) -> Result<Ready> {
    let Loaded { table, builtin } = common::load_data(&args.data, args.seed)?;
    let init = match &args.init {
        Some(p) => Some(common::load_model(p)?),
        None => None,
    };

    // Sizes and activation: from --init, else --layers / --activation, else the set's defaults.
    let defaults = builtin
        .as_ref()
        .map(|b| b.defaults.clone())
        .unwrap_or(Defaults {
            hidden: vec![],
            activation: Activation::Sigmoid,
            learning_rate: 0.05,
            epochs: 200,
            batch: 16,
            reduction: Reduction::Mean,
        });
    let sizes = match (&init, &args.layers) {
        (Some(net), Some(Layers(l))) if *l != net.sizes() => bail!(
            "--layers {} differs from the --init model's sizes {}",
            sizes_text(l),
            sizes_text(&net.sizes())
        ),
        (Some(net), _) => net.sizes(),
        (None, Some(Layers(l))) => l.clone(),
        (None, None) => match &builtin {
            Some(b) => {
                let mut s = vec![b.inputs];
                s.extend(&b.defaults.hidden);
                s.push(b.outputs);
                s
            }
            None => bail!(
                "{}: --layers is needed with a CSV file, e.g. --layers {},8,{} for {} columns \
                 (l_0 inputs, then l_n targets)",
                args.data,
                table.cols.saturating_sub(1).max(1),
                1,
                table.cols
            ),
        },
    };
    let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
    if let Some(b) = &builtin
        && (b.inputs, b.outputs) != (inputs, outputs)
    {
        bail!(
            "built-in {} has {} inputs and {} targets, but the network is {} (l_0 = {inputs}, \
             l_n = {outputs})",
            args.data,
            b.inputs,
            b.outputs,
            sizes_text(&sizes)
        );
    }
    let what = match &args.init {
        Some(p) => format!("the --init model {}", p.display()),
        None => format!("the network {}", sizes_text(&sizes)),
    };
    table.check_fields(inputs, outputs, &what)?;
    let activation = match (&init, args.activation) {
        (Some(net), Some(a)) if a.name() != net.activation_name() => bail!(
            "--activation {} differs from the --init model's {}",
            a.name(),
            net.activation_name()
        ),
        (Some(_), _) => None,
        (None, a) => Some(a.unwrap_or(defaults.activation)),
    };

    // Output paths, checked before any work.
    let out_explicit = args.out.is_some();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("model.safetensors"));
    if let Some(init_path) = &args.init
        && common::same_file(&out, init_path)
    {
        if !out_explicit {
            bail!(
                "{}: the default --out is the --init model; refusing to overwrite it \
                 (pass --out NEW.safetensors, or --out {} --force)",
                out.display(),
                out.display()
            );
        }
        if !args.force {
            bail!(
                "{}: --out is the --init model; refusing to overwrite it without --force",
                out.display()
            );
        }
    }
    let data_path = Path::new(&args.data);
    if builtin.is_none() {
        common::refuse_overwriting_inputs("--out", &out, &[("data file", data_path)])?;
    }
    let (loss_picture, boundary_picture) = if args.no_plots {
        (None, None)
    } else {
        let loss = args
            .plot
            .clone()
            .unwrap_or_else(|| sibling(&out, "loss.png"));
        let ext = loss
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png")
            .to_ascii_lowercase();
        plot::format_of(&loss)?;
        let boundary = match inputs {
            1 | 2 => {
                let b = args.boundary.clone().unwrap_or_else(|| {
                    let stem = if inputs == 2 { "boundary" } else { "fit" };
                    sibling(&out, &format!("{stem}.{ext}"))
                });
                plot::format_of(&b)?;
                Some(b)
            }
            _ => {
                if args.boundary.is_some() {
                    bail!(
                        "--boundary needs 1 or 2 inputs; the data has {inputs} inputs (l_0 = {inputs})"
                    );
                }
                None
            }
        };
        (Some(loss), boundary)
    };
    for (option, p) in [
        ("--plot", &loss_picture),
        ("--boundary", &boundary_picture),
        ("--history", &args.history),
    ] {
        let Some(p) = p else { continue };
        if builtin.is_none() {
            common::refuse_overwriting_inputs(option, p, &[("data file", data_path)])?;
        }
        if let Some(init_path) = &args.init {
            common::refuse_overwriting_inputs(option, p, &[("--init model", init_path)])?;
        }
        if common::same_file(p, &out) || p == &out {
            bail!("{}: is also the model file --out", p.display());
        }
    }

    // Hyper-parameters.
    let epochs = args.epochs.unwrap_or(defaults.epochs);
    if epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let batch = args.batch.unwrap_or(defaults.batch);
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let reduction = match args.reduction {
        Some(ReductionArg::Sum) => Reduction::Sum,
        Some(ReductionArg::Mean) => Reduction::Mean,
        None => defaults.reduction,
    };
    let test_split = args
        .test_split
        .unwrap_or(if builtin.is_some() { 0.2 } else { 0.0 });
    if !(0.0..1.0).contains(&test_split) {
        bail!("--test-split must be in [0, 1), got {test_split}");
    }
    let n = table.rows();
    let n_test = (test_split * n as f64).round() as usize;
    if test_split > 0.0 && (n_test == 0 || n_test >= n) {
        bail!(
            "--test-split {test_split} of {n} samples leaves {} for testing and {} for training; \
             each needs at least 1",
            n_test,
            n - n_test.min(n)
        );
    }
    let (train, test) = if n_test > 0 {
        let perm = datasets::permutation(n, args.seed);
        let mut test_rows = perm[..n_test].to_vec();
        let mut train_rows = perm[n_test..].to_vec();
        test_rows.sort_unstable();
        train_rows.sort_unstable();
        (table.select(&train_rows), Some(table.select(&test_rows)))
    } else {
        (table.clone(), None)
    };
    let classes = match &builtin {
        Some(b) => b.classes.clone(),
        None if one_hot(&table, inputs) => Some((0..outputs).map(|k| k.to_string()).collect()),
        None => None,
    };
    let plan = Plan {
        name: builtin
            .as_ref()
            .map_or_else(|| args.data.clone(), |_| args.data.to_ascii_lowercase()),
        train,
        test,
        inputs,
        outputs,
        classes,
        config: TrainConfig {
            learning_rate: args.lr.unwrap_or(defaults.learning_rate),
            epochs,
            batch_size: batch,
            reduction,
            shuffle: true,
            seed: args.seed,
        },
        out,
        loss_picture,
        boundary_picture,
        history: args.history.clone(),
        log_every: args.log_every.unwrap_or(epochs.div_ceil(20)).max(1),
        all_points: table,
    };

    let dtype = args.dtype.map(DtypeArg::dtype);
    match init {
        Some(net) => {
            if let Some(d) = dtype
                && d != net.dtype()
            {
                bail!(
                    "--dtype {} differs from the --init model's dtype {}",
                    d.name().to_ascii_lowercase(),
                    net.dtype().name().to_ascii_lowercase()
                );
            }
            let session = match net {
                AnyNetwork::F32(n) => AnySession::F32(session(&plan, n)?),
                AnyNetwork::F64(n) => AnySession::F64(session(&plan, n)?),
            };
            Ok(Ready { plan, session })
        }
        None => {
            let activation = activation.unwrap_or(Activation::Sigmoid);
            let bad = |e| anyhow!("--layers {}: {e}", sizes_text(&sizes));
            crate::memory::check_weights(&sizes, dtype.unwrap_or(backprop::Dtype::F64))
                .map_err(|e| anyhow!("--layers {}: {e}", sizes_text(&sizes)))?;
            let session = match dtype.unwrap_or(backprop::Dtype::F64) {
                backprop::Dtype::F32 => AnySession::F32(session(
                    &plan,
                    Network::<f32>::random(&sizes, activation, args.seed).map_err(bad)?,
                )?),
                _ => AnySession::F64(session(
                    &plan,
                    Network::<f64>::random(&sizes, activation, args.seed).map_err(bad)?,
                )?),
            };
            Ok(Ready { plan, session })
        }
    }
}

/// The index of the largest value in column `s` of `m`.
fn argmax_col<T: Scalar>(m: &DMatrix<T>, s: usize) -> usize {
    let col = m.column(s);
    let mut best = 0;
    for k in 1..col.len() {
        if col[k] > col[best] {
            best = k;
        }
    }
    best
}

/// E/N and, for classification, the fraction of samples classified right.
fn evaluate<T: Scalar>(
    net: &Network<T>,
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    classify: bool,
) -> Result<(f64, Option<f64>)> {
    let z = net.predict(x.as_view())?;
    let e = backprop::loss(y.as_view(), z.as_view()).as_f64() / x.ncols() as f64;
    let acc = classify.then(|| {
        let right = (0..x.ncols())
            .filter(|&s| argmax_col(&z, s) == argmax_col(y, s))
            .count();
        right as f64 / x.ncols() as f64
    });
    Ok((e, acc))
}

/// One epoch's numbers.
#[derive(Clone, Copy, Debug)]
struct Row {
    epoch: usize,
    loss: f64,
    accuracy: Option<f64>,
    test_loss: Option<f64>,
    test_accuracy: Option<f64>,
}

/// A loss: six decimals for ordinary values, scientific for very large or small ones.
fn loss_text(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.6e}")
    }
}

fn pct(a: f64) -> String {
    format!("{:.1}%", 100.0 * a)
}

fn line(row: &Row, epochs: usize) -> String {
    let width = epochs.to_string().len();
    let mut s = format!(
        "epoch {:>width$}/{epochs}  loss {}",
        row.epoch,
        loss_text(row.loss)
    );
    if let Some(a) = row.accuracy {
        s.push_str(&format!("  accuracy {:>6}", pct(a)));
    }
    if let Some(l) = row.test_loss {
        s.push_str(&format!("  test loss {}", loss_text(l)));
    }
    if let Some(a) = row.test_accuracy {
        s.push_str(&format!("  test accuracy {:>6}", pct(a)));
    }
    s
}

fn train_typed<T: Scalar>(plan: Plan, session: Session<T>) -> Result<Outcome> {
    let Session {
        mut net,
        x,
        y,
        test,
        mut trainer,
    } = session;
    // Before the first line is printed: whoever sees it may press Ctrl-C.
    install_ctrlc();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let classify = plan.classes.is_some();
    let config = plan.config;
    let sizes = net.sizes();
    let activation = net.activation().name();
    say(&format!(
        "{}: {} samples ({} training, {} test), network {} {activation}, {}, {} weights",
        plan.name,
        plan.all_points.rows(),
        x.ncols(),
        test.as_ref().map_or(0, |t| t.0.ncols()),
        sizes_text(&sizes),
        T::DTYPE.name().to_ascii_lowercase(),
        net.parameter_count()
    ));
    say(&format!(
        "SGD: m = {}, {} epochs, batches of {} ({}), seed {}",
        data::number(config.learning_rate),
        config.epochs,
        config.batch_size,
        match config.reduction {
            Reduction::Sum => "summed",
            Reduction::Mean => "mean",
        },
        config.seed
    ));

    let bar = if std::io::stdout().is_terminal() {
        let bar =
            ProgressBar::with_draw_target(Some(config.epochs as u64), ProgressDrawTarget::stdout());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:24.cyan/blue} {pos}/{len}  {msg}  {elapsed}<{eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let visible = !bar.is_hidden();
    let print = |s: &str| {
        if visible {
            bar.println(s);
        } else {
            say(s);
        }
    };

    let started = Instant::now();
    // The epochs are run here, on the core's Trainer, rather than by backprop::train: the run
    // may be long (until Ctrl-C), so nothing is allocated per epoch in advance.
    let samples = x.ncols();
    let m = T::of_f64(config.learning_rate);
    // W_i at the start of the current epoch: the last model whose every loss was finite.
    let mut backup = net.clone();
    let mut rows: Vec<Row> = Vec::new();
    let mut diverged = None;
    // (epoch, mini-batches done, of how many) when Ctrl-C came in the middle of an epoch.
    let mut cut = None;
    let batches = samples.div_ceil(config.batch_size);
    for epoch in 0..config.epochs {
        backup.copy_weights_from(&net)?;
        // Ctrl-C is looked at before every mini-batch, so a long epoch stops promptly.
        let mut done = 0;
        let e = trainer.epoch_until(
            &mut net,
            x.as_view(),
            y.as_view(),
            m,
            config.reduction,
            config.shuffle,
            || {
                let stop = INTERRUPTED.load(Ordering::SeqCst);
                done += usize::from(!stop);
                stop
            },
        );
        let loss = match e {
            Ok(Some(e)) => e.as_f64(),
            Ok(None) => {
                // A part of an epoch is not a model anyone asked for: keep the last whole one.
                net.copy_weights_from(&backup)?;
                cut = Some((epoch + 1, done, batches));
                break;
            }
            Err(backprop::Error::NonFiniteLoss { batch, loss, .. }) => {
                net.copy_weights_from(&backup)?;
                diverged = Some((epoch, batch, loss));
                break;
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.into());
            }
        };
        let accuracy = if classify {
            evaluate(&net, &x, &y, true)?.1
        } else {
            None
        };
        let (test_loss, test_accuracy) = match &test {
            Some((tx, ty)) => {
                let (l, a) = evaluate(&net, tx, ty, classify)?;
                (Some(l), a)
            }
            None => (None, None),
        };
        let row = Row {
            epoch: epoch + 1,
            loss: loss / samples as f64,
            accuracy,
            test_loss,
            test_accuracy,
        };
        rows.push(row);
        if row.epoch == 1 || row.epoch.is_multiple_of(plan.log_every) || row.epoch == config.epochs
        {
            print(&line(&row, config.epochs));
        }
        bar.set_message(format!(
            "loss {}{}",
            loss_text(row.loss),
            row.accuracy
                .map_or(String::new(), |a| format!("  accuracy {}", pct(a)))
        ));
        bar.inc(1);
        if INTERRUPTED.load(Ordering::SeqCst) {
            break;
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    match diverged {
        None => {
            if interrupted
                && let Some(last) = rows.last()
                && !last.epoch.is_multiple_of(plan.log_every)
            {
                print(&line(last, config.epochs));
            }
            if let Some((epoch, done, of)) = cut {
                say(&format!(
                    "interrupted in epoch {epoch} after {done} of {of} mini-batches; {} is written",
                    if epoch == 1 {
                        "the initial model".to_string()
                    } else {
                        format!("the model of epoch {}", epoch - 1)
                    }
                ));
            }
            let written = write_outputs(&plan, &net, &rows)?;
            if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
                let mut s = format!(
                    "{} {} epochs in {seconds:.1} s: loss {} -> {}",
                    if interrupted {
                        "interrupted after"
                    } else {
                        "trained"
                    },
                    last.epoch,
                    loss_text(first.loss),
                    loss_text(last.loss)
                );
                if let Some(a) = last.accuracy {
                    s.push_str(&format!(", accuracy {}", pct(a)));
                }
                if let Some(a) = last.test_accuracy {
                    s.push_str(&format!(", test accuracy {}", pct(a)));
                } else if let Some(l) = last.test_loss {
                    s.push_str(&format!(", test loss {}", loss_text(l)));
                }
                say(&s);
            }
            say(&format!("wrote {}", written.join(", ")));
            Ok(if interrupted {
                Outcome::Interrupted
            } else {
                Outcome::Success
            })
        }
        Some((epoch, batch, loss)) => {
            // The weights are those of the start of this epoch: the last finite model.
            let written = write_outputs(&plan, &net, &rows)?;
            let kept = if epoch == 0 {
                "the initial model".to_string()
            } else {
                format!("the model after epoch {epoch}")
            };
            Err(anyhow!(
                "training stopped: the loss became non-finite ({loss}) in epoch {}, batch {}; \
                 wrote {kept} (the last finite one) to {}{}; try an --lr smaller than {}",
                epoch + 1,
                batch + 1,
                plan.out.display(),
                if written.len() > 1 {
                    format!(" (and {})", written[1..].join(", "))
                } else {
                    String::new()
                },
                data::number(config.learning_rate)
            ))
        }
    }
}

/// Writes the model, the pictures and the history; returns the paths written.
fn write_outputs<T: Scalar>(plan: &Plan, net: &Network<T>, rows: &[Row]) -> Result<Vec<String>> {
    let mut written = Vec::new();
    common::save_model(&plan.out, net)?;
    written.push(plan.out.display().to_string());
    if let Some(p) = &plan.history {
        let mut text = String::from("epoch,loss,accuracy,test_loss,test_accuracy\n");
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for r in rows {
            text.push_str(&format!(
                "{},{},{},{},{}\n",
                r.epoch,
                r.loss,
                opt(r.accuracy),
                opt(r.test_loss),
                opt(r.test_accuracy)
            ));
        }
        common::write_file(p, text.as_bytes())?;
        written.push(p.display().to_string());
    }
    let title = format!(
        "{}: {} {}, m = {}, batch {}",
        plan.name,
        sizes_text(&net.sizes()),
        net.activation().name(),
        data::number(plan.config.learning_rate),
        plan.config.batch_size
    );
    if let Some(p) = &plan.loss_picture {
        ensure_parent(p)?;
        let curve = LossCurve {
            title: title.clone(),
            train: rows.iter().map(|r| r.loss).collect(),
            test: rows.iter().filter_map(|r| r.test_loss).collect(),
            train_accuracy: rows.iter().filter_map(|r| r.accuracy).collect(),
            test_accuracy: rows.iter().filter_map(|r| r.test_accuracy).collect(),
        };
        plot::render(p, &curve)?;
        written.push(p.display().to_string());
    }
    if let Some(p) = &plan.boundary_picture {
        ensure_parent(p)?;
        let last = rows.last();
        let caption = match (
            last.and_then(|r| r.accuracy),
            last.and_then(|r| r.test_accuracy),
        ) {
            (Some(a), Some(t)) => format!("{title}, accuracy {} (test {})", pct(a), pct(t)),
            (Some(a), None) => format!("{title}, accuracy {}", pct(a)),
            _ => title.clone(),
        };
        if plan.inputs == 2 {
            plot::render(p, &boundary(plan, net, caption)?)?;
        } else {
            plot::render(p, &fit(plan, net, caption)?)?;
        }
        written.push(p.display().to_string());
    }
    Ok(written)
}

fn range_of(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let span = (hi - lo).max(1e-9);
    (lo - 0.1 * span, hi + 0.1 * span)
}

/// Cells per side of the decision-boundary grid: fine for a bitmap, fewer for SVG, where each
/// cell is an element of the file.
fn boundary_cells(picture: &Path) -> usize {
    match plot::format_of(picture) {
        Ok(plot::Format::Svg) => 60,
        _ => 150,
    }
}

/// Intervals of the fitted curve of a 1-input network.
const FIT_STEPS: usize = 300;

fn boundary<T: Scalar>(plan: &Plan, net: &Network<T>, title: String) -> Result<Boundary> {
    let t = &plan.all_points;
    let x_range = range_of((0..t.rows()).map(|s| t.row(s)[0]));
    let y_range = range_of((0..t.rows()).map(|s| t.row(s)[1]));
    let cells = boundary_cells(&plan.boundary_picture.clone().unwrap_or_default());
    let centres = Boundary::centres(x_range, y_range, cells);
    let grid_x = DMatrix::<T>::from_fn(2, centres.len(), |r, c| T::of_f64(centres[c][r]));
    let z = common::predict_in_chunks(net, &grid_x)?;
    let grid = z.iter().map(|v| v.as_f64()).collect();
    let points = (0..t.rows())
        .map(|s| {
            let row = t.row(s);
            let v = if plan.classes.is_some() {
                let y = &row[2..];
                let mut best = 0;
                for k in 1..y.len() {
                    if y[k] > y[best] {
                        best = k;
                    }
                }
                best as f64
            } else {
                row[2]
            };
            (row[0], row[1], v)
        })
        .collect();
    Ok(Boundary {
        title,
        x_range,
        y_range,
        cells,
        grid,
        outputs: plan.outputs,
        points,
        classes: plan.classes.clone(),
    })
}

fn fit<T: Scalar>(plan: &Plan, net: &Network<T>, title: String) -> Result<Fit> {
    let t = &plan.all_points;
    let (lo, hi) = range_of((0..t.rows()).map(|s| t.row(s)[0]));
    let xs: Vec<f64> = (0..=FIT_STEPS)
        .map(|i| lo + (hi - lo) * i as f64 / FIT_STEPS as f64)
        .collect();
    let grid_x = DMatrix::<T>::from_fn(1, xs.len(), |_, c| T::of_f64(xs[c]));
    let z = common::predict_in_chunks(net, &grid_x)?;
    let curve = xs
        .iter()
        .enumerate()
        .map(|(c, &x)| (x, z.column(c).iter().map(|v| v.as_f64()).collect()))
        .collect();
    let points = (0..t.rows())
        .map(|s| (t.row(s)[0], t.row(s)[1..].to_vec()))
        .collect();
    Ok(Fit {
        title,
        points,
        curve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_print_compactly_at_any_magnitude() {
        assert_eq!(loss_text(0.5), "0.500000");
        assert_eq!(loss_text(0.0), "0.000000");
        assert_eq!(loss_text(3.6e252), "3.600000e252");
        assert_eq!(loss_text(2.5e-7), "2.500000e-7");
        assert_eq!(loss_text(f64::INFINITY), "inf");
    }

    #[test]
    fn one_hot_targets_are_recognised() {
        let t = data::read_csv_from("1,0,1\n2,1,0\n".as_bytes(), "d".into()).unwrap();
        assert!(one_hot(&t, 1));
        let t = data::read_csv_from("1,0,1\n2,1,1\n".as_bytes(), "d".into()).unwrap();
        assert!(!one_hot(&t, 1));
        let t = data::read_csv_from("1,0.5\n".as_bytes(), "d".into()).unwrap();
        assert!(!one_hot(&t, 1));
    }
}
