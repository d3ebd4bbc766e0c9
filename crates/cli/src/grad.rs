//! `backprop grad`: ∂E/∂W_i over a whole data set (DESIGN.md §3).
//!
//! E = Σ_s ‖y_s − z_n(x_s)‖², summed over every row of the data. The denominator layout
//! (shape of W_i, the default) is computed by backpropagation with δ columns,
//! δ_n = −2(y − z_n), δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1}), ∂E/∂W_i = δ_{i+1} a_iᵀ; the numerator
//! layout (shape of W_iᵀ) by the seed's Jacobian chain ∂E/∂z_i = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)),
//! ∂E/∂W_i = a_i · ∂E/∂z_{i+1}. The file holds tensors `dW0`, `dW1`, … in the model's dtype and
//! the metadata key `layout`.

use crate::budget;
use crate::data::Table;
use crate::input;
use crate::io::{self, print_out, refuse_overwriting_inputs};
use crate::outcome::Outcome;
use crate::tensors;
use anyhow::{Result, anyhow};
use backprop::{AnyNetwork, Network, Scalar};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const GRAD_HELP: &str = "\
Prints E on standard output as `E = <value> (summed over N samples)`, the value in the
shortest text that reads back exactly: E itself, summed over the samples, where `backprop
train` prints the mean E/N.

Examples:
  backprop data spiral --out spiral.csv
  backprop grad --model model.safetensors --data spiral.csv --out grad.safetensors
  backprop grad --model model.safetensors --data spiral.csv --out grad.safetensors --layout numerator";

/// `--layout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// ∂E/∂W_i shaped like W_i (l_{i+1} × l_i).
    Denominator,
    /// ∂E/∂W_i shaped like W_iᵀ (l_i × l_{i+1}).
    Numerator,
}

/// Write ∂E/∂W_i, summed over the data set, to a safetensors file; print E.
#[derive(clap::Args, Debug)]
// Negative numbers are values (so that `--lr -1` is refused as not positive, not as an
// unknown option).
#[command(after_help = GRAD_HELP, allow_negative_numbers = true)]
pub struct GradArgs {
    /// The model file (safetensors: W0, W1, …; metadata "activation").
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// The data: CSV with l_0 inputs then l_n targets per row (or a built-in set's name).
    #[arg(long, value_name = "DATA")]
    data: OsString,
    /// The gradient file to write (tensors dW0, dW1, …).
    #[arg(long, value_name = "GRADIENT")]
    out: PathBuf,
    /// Layout of ∂E/∂W_i.
    #[arg(long, value_enum, default_value_t = LayoutArg::Denominator)]
    layout: LayoutArg,
    /// Seed of a built-in data set.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A gradient computation whose model and data are loaded and checked.
pub struct Ready {
    args: GradArgs,
    net: AnyNetwork,
    table: Table,
}

impl Ready {
    /// Computes ∂E/∂W_i, writes it and prints E.
    pub fn run(self) -> Result<Outcome> {
        let e = match &self.net {
            AnyNetwork::F32(n) => grad_typed(&self.args, n, &self.table)?,
            AnyNetwork::F64(n) => grad_typed(&self.args, n, &self.table)?,
        };
        print_out(&format!(
            "E = {e} (summed over {} samples)\n",
            self.table.rows()
        ))?;
        Ok(Outcome::Success)
    }

    /// The gradient file, as `--out`.
    pub fn outputs(&self) -> Vec<(String, PathBuf)> {
        vec![("--out".to_string(), self.args.out.clone())]
    }

    /// l_0, …, l_n.
    pub fn network_sizes(&self) -> Vec<usize> {
        self.net.sizes()
    }

    /// The data's rows.
    pub fn samples(&self) -> usize {
        self.table.rows()
    }
}

/// Loads the model and the data and checks that they fit each other and the memory limit.
pub fn prepare(args: GradArgs) -> Result<Ready> {
    io::check_outputs(&[("--out".to_string(), args.out.clone())])?;
    refuse_overwriting_inputs(
        "--out",
        &args.out,
        &[
            ("--model file", &args.model),
            ("--data file", Path::new(&args.data)),
        ],
    )?;
    let net = input::load_model(&args.model)?;
    let table = input::load_data(&args.data, args.seed)?.table;
    let what = format!("the model {}", args.model.display());
    let sizes = net.sizes();
    table.check_fields(sizes[0], sizes[sizes.len() - 1], &what)?;
    // The data in the model's scalar, the forward pass over all of it, and ∂E/∂W_i.
    let size = net.dtype().size();
    let weights: u128 = sizes.windows(2).map(|l| l[0] as u128 * l[1] as u128).sum();
    budget::check(
        || {
            format!(
                "the gradient of {} over {} samples",
                args.model.display(),
                table.rows()
            )
        },
        (table.values.len() as u128 + weights) * size as u128
            + budget::forward_bytes(&sizes, table.rows(), size),
    )?;
    Ok(Ready { args, net, table })
}

/// Computes and writes the gradient; returns E as text in the model's precision.
fn grad_typed<T: Scalar>(args: &GradArgs, net: &Network<T>, table: &Table) -> Result<String> {
    let what = format!("the model {}", args.model.display());
    let (x, y) = table.split::<T>(net.inputs(), net.outputs(), &what)?;
    let (e, layers, layout) = match args.layout {
        LayoutArg::Denominator => {
            let (e, g) = backprop::gradient::denominator::gradient(net, x.as_view(), y.as_view())?;
            (e, g.into_layers(), "denominator")
        }
        LayoutArg::Numerator => {
            let (e, g) = backprop::gradient::numerator::gradient(net, x.as_view(), y.as_view())?;
            (e, g.into_layers(), "numerator")
        }
    };
    if !e.finite() {
        return Err(anyhow!(
            "E = {e} is not finite for {} on {}; no gradient written",
            args.model.display(),
            table.source
        ));
    }
    tensors::write_matrices(&args.out, "dW", &layers, "layout", layout)?;
    Ok(crate::data::number(e))
}
