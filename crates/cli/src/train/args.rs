//! The arguments of `backprop train` and their help.

use crate::args::{DtypeArg, Layers, layers_arg, parse_activation, parse_positive};
use backprop::{Activation, Reduction};
use std::ffi::OsString;
use std::path::PathBuf;

pub(super) const TRAIN_HELP: &str = "\
With no arguments, trains a 2-24-24-2 tanh network on two interleaved spirals (under a second)
and writes model.safetensors, model.loss.png and model.boundary.png into the current directory.
The pictures are named after the model: --out circles.safetensors writes circles.loss.png and
circles.boundary.png beside it.

The loss printed is E/N: the squared error E = Σ_s ‖y_s − z_n(x_s)‖² over the N samples,
divided by N (backprop grad prints E itself). Built-in sets train with their own defaults; a
CSV file with the library's TrainConfig::default(): m = 0.01, 100 epochs, batches of 32, the
seed's summed gradients, sigmoid.

The same data, options and --seed give a bit-identical model file. Ctrl-C (or SIGTERM, or
SIGHUP) stops before the next mini-batch and writes the model of the last complete epoch (exit
code 130). A loss that becomes NaN or infinite stops training with an error naming the epoch;
the last finite model is written. Every output is checked before the first epoch: a directory,
two outputs naming one file, or a directory that cannot be written in is refused up front.

Examples:
  backprop train
  backprop train --data circles --plot out/loss.svg --out out/circles.safetensors
  backprop data spiral --out spiral.csv
  backprop train --data spiral.csv --layers 2,24,24,2 --activation tanh --lr 0.05 --reduction mean \\
    --batch 16 --epochs 500
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

impl ReductionArg {
    /// The core's reduction.
    pub fn reduction(self) -> Reduction {
        match self {
            ReductionArg::Sum => Reduction::Sum,
            ReductionArg::Mean => Reduction::Mean,
        }
    }
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
    pub(super) data: OsString,
    /// Layer sizes l_0,l_1,…,l_n, e.g. 2,16,16,2; l_0 and l_n must match the data's inputs and
    /// targets. Default for built-in sets: their own; required for a CSV file (unless --init).
    #[arg(long, value_parser = layers_arg)]
    pub(super) layers: Option<Layers>,
    /// σ of the hidden layers: sigmoid, tanh, relu, leaky_relu, leaky_relu:ALPHA, softplus,
    /// identity. Default: the built-in set's, sigmoid for a CSV file.
    #[arg(long, value_parser = parse_activation)]
    pub(super) activation: Option<Activation>,
    /// Learning rate m [default: the built-in set's; 0.01 for a CSV file].
    #[arg(long, value_parser = parse_positive)]
    pub(super) lr: Option<f64>,
    /// Passes over the training data [default: the built-in set's; 100 for a CSV file].
    #[arg(long)]
    pub(super) epochs: Option<usize>,
    /// Samples per mini-batch [default: the built-in set's; 32 for a CSV file].
    #[arg(long)]
    pub(super) batch: Option<usize>,
    /// How a batch's per-sample gradients combine [default: the built-in set's; sum for a CSV
    /// file].
    #[arg(long, value_enum)]
    pub(super) reduction: Option<ReductionArg>,
    /// Seed of the initial weights, the shuffle, the test split and the built-in data.
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,
    /// Scalar type of a new network (with --init: the file's; a different --dtype is an error).
    #[arg(long, value_enum)]
    pub(super) dtype: Option<DtypeArg>,
    /// The model file to write (safetensors) [default: model.safetensors].
    #[arg(long, value_name = "MODEL")]
    pub(super) out: Option<PathBuf>,
    // The picture options, alike in shape only: one clap field each.
    /// The loss-curve picture, .png or .svg [default: MODEL.loss.png beside --out, named after
    /// it].
    #[arg(long, value_name = "PICTURE")]
    pub(super) plot: Option<PathBuf>,
    /// The decision-boundary picture for 2-D inputs (a fitted curve for 1-D inputs), .png or
    /// .svg [default: MODEL.boundary.png or MODEL.fit.png beside --out, in --plot's format].
    #[arg(long, value_name = "PICTURE")]
    pub(super) boundary: Option<PathBuf>,
    /// Write no pictures.
    #[arg(long)]
    pub(super) no_plots: bool,
    /// Per-epoch loss and accuracy as CSV.
    #[arg(long, value_name = "CSV")]
    pub(super) history: Option<PathBuf>,
    /// Continue training this model (its sizes, activation and dtype).
    #[arg(long, value_name = "MODEL")]
    pub(super) init: Option<PathBuf>,
    /// Allow --out to name the --init model, overwriting it.
    #[arg(long)]
    pub(super) force: bool,
    /// Fraction of the samples held out for testing, in [0, 1) [default: 0.2 for built-in
    /// sets, 0 for a CSV file].
    #[arg(long, value_name = "FRACTION")]
    pub(super) test_split: Option<f64>,
    /// Print every N-th epoch [default: about 20 lines per run].
    #[arg(long, value_name = "N")]
    pub(super) log_every: Option<usize>,
}
