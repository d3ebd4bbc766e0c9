//! Everything `backprop train` decides before training: the data and its train/test split, the
//! network (new or `--init`), the hyper-parameters, the output paths (none of which may name an
//! input), and the sizes of everything the run will allocate, checked against the memory
//! budget. Nothing is written and nothing is printed here.

use super::args::{ReductionArg, TrainArgs};
use crate::args::{DtypeArg, Layers, sizes_text};
use crate::budget;
use crate::classes;
use crate::data::Table;
use crate::datasets::{self, Defaults};
use crate::input::{self, Loaded};
use crate::io::{self, refuse_overwriting_inputs, same_file, sibling};
use crate::plot;
use anyhow::{Result, anyhow, bail};
use backprop::{Activation, AnyNetwork, Network, Scalar, TrainConfig};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

/// Everything decided before training starts.
pub struct Plan {
    /// The data's name: the built-in set's, or the CSV file's path.
    pub name: String,
    /// The training samples.
    pub train: Table,
    /// The held-out samples, when there is a test split.
    pub test: Option<Table>,
    /// l_0.
    pub inputs: usize,
    /// l_n.
    pub outputs: usize,
    /// Class names when the targets are one-hot classes.
    pub classes: Option<Vec<String>>,
    /// The hyper-parameters.
    pub config: TrainConfig,
    /// The model file to write.
    pub out: PathBuf,
    /// The loss-curve picture, unless --no-plots.
    pub loss_picture: Option<PathBuf>,
    /// The decision-boundary (2 inputs) or fitted-curve (1 input) picture.
    pub boundary_picture: Option<PathBuf>,
    /// The per-epoch CSV.
    pub history: Option<PathBuf>,
    /// Every output file with the option (or default) that names it, `--out` first.
    pub files: Vec<(String, PathBuf)>,
    /// Print every `log_every`-th epoch.
    pub log_every: usize,
    /// Every sample, training and test (drawn on the pictures).
    pub all_points: Table,
    /// The loss E/N a network with an odd σ cannot go below on this data set (the spiral's ½).
    pub odd_floor: Option<f64>,
}

/// A training run whose data, network and buffers are ready; nothing written yet.
pub struct Ready {
    /// What was decided.
    pub plan: Plan,
    /// The network, its data and the trainer, in the network's scalar.
    pub session: AnySession,
}

/// A [`Session`] of either scalar.
pub enum AnySession {
    /// An f32 network.
    F32(Session<f32>),
    /// An f64 network.
    F64(Session<f64>),
}

/// The network, its data in its scalar type, and the trainer's buffers.
pub struct Session<T: Scalar> {
    /// The network W_0, …, W_{n−1}.
    pub net: Network<T>,
    /// The training inputs, l_0 × N.
    pub x: DMatrix<T>,
    /// The training targets, l_n × N.
    pub y: DMatrix<T>,
    /// The test inputs and targets.
    pub test: Option<(DMatrix<T>, DMatrix<T>)>,
    /// The SGD state (workspace, order, RNG), allocated here.
    pub trainer: backprop::Trainer<T>,
}

impl Ready {
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
///
/// `start` names the starting weights in errors ("the --init model PATH", or "the random
/// weights of seed S").
fn session<T: Scalar>(plan: &Plan, net: Network<T>, start: &str) -> Result<Session<T>> {
    let sizes = net.sizes();
    let size = T::DTYPE.size() as u128;
    let rows = plan.all_points.rows() as u128;
    budget::check(
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
    // A loss that is not finite before the first step is the input's problem (weights or data
    // so large that the outputs overflow), not the learning rate's: refused, nothing written.
    let e = backprop::loss(y.as_view(), budget::predict_in_chunks(&net, &x)?.as_view());
    if !e.finite() {
        bail!(
            "{start}: E = {e} is not finite on {} before any training (the outputs or their \
             squared errors overflow {}); no learning rate can fix that: scale the data or the \
             weights down",
            plan.name,
            T::DTYPE.name().to_ascii_lowercase()
        );
    }
    // The accuracy and the test loss are computed by forward passes over a whole set.
    if plan.classes.is_some() || test.is_some() {
        let n = x.ncols().max(test.as_ref().map_or(0, |t| t.0.ncols()));
        budget::check(
            || {
                format!(
                    "a forward pass of {n} samples through {}",
                    sizes_text(&sizes)
                )
            },
            budget::forward_bytes(&sizes, n, T::DTYPE.size()),
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
        let cells = plot::boundary::cells(plot::draw::format_of(picture)?);
        cells * cells
    } else {
        plot::fit::STEPS + 1
    };
    let outputs = plan.outputs as u128 * points as u128 * (8 + T::DTYPE.size() as u128);
    budget::check(
        || {
            format!(
                "the picture {} ({points} points × {} outputs)",
                picture.display(),
                plan.outputs
            )
        },
        outputs
            + budget::forward_bytes(
                sizes,
                budget::chunk_of(sizes, T::DTYPE.size()),
                T::DTYPE.size(),
            ),
    )
}

/// Reads the data and the --init model, builds the network and checks every option and output
/// path; writes nothing.
///
/// # Errors
/// The first problem found, as one line naming the option, file, line or layer at fault.
pub fn prepare(args: TrainArgs) -> Result<Ready> {
    let Loaded { table, builtin } = input::load_data(&args.data, args.seed)?;
    let data_path = Path::new(&args.data);
    let init = match &args.init {
        Some(p) => Some(input::load_model(p)?),
        None => None,
    };

    // Sizes and activation: from --init, else --layers / --activation, else the set's defaults.
    let defaults = builtin
        .as_ref()
        .map(|b| b.defaults.clone())
        .unwrap_or_else(|| {
            // A CSV file trains with the library's defaults.
            let library = TrainConfig::default();
            Defaults {
                hidden: vec![],
                activation: Activation::Sigmoid,
                learning_rate: library.learning_rate,
                epochs: library.epochs,
                batch: library.batch_size,
                reduction: library.reduction,
            }
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
                data_path.display(),
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
            data_path.display(),
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
        && same_file(&out, init_path)
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
    if builtin.is_none() {
        refuse_overwriting_inputs("--out", &out, &[("data file", data_path)])?;
    }
    let (loss_picture, boundary_picture) = if args.no_plots {
        (None, None)
    } else {
        // Named after the model, so that runs into one directory keep their own pictures.
        let stem = out
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        let loss = args
            .plot
            .clone()
            .unwrap_or_else(|| sibling(&out, &format!("{stem}.loss.png")));
        let ext = loss
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png")
            .to_ascii_lowercase();
        plot::draw::format_of(&loss)?;
        let boundary = match inputs {
            1 | 2 => {
                let b = args.boundary.clone().unwrap_or_else(|| {
                    let kind = if inputs == 2 { "boundary" } else { "fit" };
                    sibling(&out, &format!("{stem}.{kind}.{ext}"))
                });
                plot::draw::format_of(&b)?;
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
    // Every output, named as the user knows it (a picture's default name is --out's, see
    // TRAIN_HELP): none may be an input, a directory or another output.
    let label = |given: bool, option: &str| {
        if given {
            option.to_string()
        } else {
            format!("the default {option}")
        }
    };
    let mut files = vec![("--out".to_string(), out.clone())];
    for (option, p) in [
        (label(args.plot.is_some(), "--plot"), &loss_picture),
        (
            label(args.boundary.is_some(), "--boundary"),
            &boundary_picture,
        ),
        ("--history".to_string(), &args.history),
    ] {
        let Some(p) = p else { continue };
        if builtin.is_none() {
            refuse_overwriting_inputs(&option, p, &[("data file", data_path)])?;
        }
        if let Some(init_path) = &args.init {
            refuse_overwriting_inputs(&option, p, &[("--init model", init_path)])?;
        }
        files.push((option, p.clone()));
    }
    io::check_outputs(&files)?;

    // Hyper-parameters.
    let epochs = args.epochs.unwrap_or(defaults.epochs);
    if epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let batch = args.batch.unwrap_or(defaults.batch);
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let reduction = args
        .reduction
        .map_or(defaults.reduction, ReductionArg::reduction);
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
        None if classes::one_hot(&table, inputs) => {
            Some((0..outputs).map(|k| k.to_string()).collect())
        }
        None => None,
    };
    let plan = Plan {
        name: builtin.as_ref().map_or_else(
            || table.source.clone(),
            |_| args.data.to_string_lossy().to_ascii_lowercase(),
        ),
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
        files,
        log_every: args.log_every.unwrap_or(epochs.div_ceil(20)).max(1),
        all_points: table,
        odd_floor: builtin.as_ref().and_then(|b| b.odd_floor),
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
            let start = format!(
                "the --init model {}",
                args.init.as_deref().unwrap_or(Path::new("")).display()
            );
            let session = match net {
                AnyNetwork::F32(n) => AnySession::F32(session(&plan, n, &start)?),
                AnyNetwork::F64(n) => AnySession::F64(session(&plan, n, &start)?),
            };
            Ok(Ready { plan, session })
        }
        None => {
            let activation = activation.unwrap_or(Activation::Sigmoid);
            let bad = |e| anyhow!("--layers {}: {e}", sizes_text(&sizes));
            crate::budget::check_weights(&sizes, dtype.unwrap_or(backprop::Dtype::F64))
                .map_err(|e| anyhow!("--layers {}: {e}", sizes_text(&sizes)))?;
            let start = format!(
                "the random weights of {} (seed {})",
                sizes_text(&sizes),
                args.seed
            );
            let session = match dtype.unwrap_or(backprop::Dtype::F64) {
                backprop::Dtype::F32 => AnySession::F32(session(
                    &plan,
                    Network::<f32>::random(&sizes, activation, args.seed).map_err(bad)?,
                    &start,
                )?),
                _ => AnySession::F64(session(
                    &plan,
                    Network::<f64>::random(&sizes, activation, args.seed).map_err(bad)?,
                    &start,
                )?),
            };
            Ok(Ready { plan, session })
        }
    }
}
