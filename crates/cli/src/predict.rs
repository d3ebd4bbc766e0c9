//! `backprop predict`: the output z_n of the model for every row of a data file, as CSV, and for
//! a classifier the predicted class, argmax_k z_n^k.

use crate::budget;
use crate::classes::{argmax, one_hot};
use crate::data::{self, Table};
use crate::input;
use crate::io::{self, print_out, refuse_overwriting_inputs, say};
use crate::outcome::Outcome;
use anyhow::{Result, bail};
use backprop::{AnyNetwork, Network, Scalar};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const PREDICT_HELP: &str = "\
The data rows hold l_0 inputs, or l_0 inputs and l_n targets (the targets are not used for the
outputs). The output has a header z0,z1,… and one row of l_n outputs per data row, in the
model's precision. For a classifier a last column `class` holds the predicted class, the k of
the largest z_n^k (0-based, the order of the one-hot targets): it is added when the data's
targets are one-hot, or with --classify.

Examples:
  backprop train
  backprop data spiral --out spiral.csv
  backprop predict --model model.safetensors --data spiral.csv
  backprop predict --model model.safetensors --data spiral.csv --out predictions.csv";

/// Run the model on every row of a data file; write the outputs z_n as CSV.
#[derive(clap::Args, Debug)]
// Negative numbers are values (so that `--lr -1` is refused as not positive, not as an
// unknown option).
#[command(after_help = PREDICT_HELP, allow_negative_numbers = true)]
pub struct PredictArgs {
    /// The model file (safetensors).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// The data: CSV rows of l_0 inputs (optionally followed by l_n targets), or a built-in
    /// set's name.
    #[arg(long, value_name = "DATA")]
    data: OsString,
    /// Write the CSV here (atomically) instead of to standard output.
    #[arg(long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Seed of a built-in data set.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Add the predicted class (argmax_k z_n^k) even when the data has no one-hot targets.
    #[arg(long)]
    classify: bool,
}

/// A prediction whose model and data are loaded and checked.
pub struct Ready {
    args: PredictArgs,
    net: AnyNetwork,
    table: Table,
    /// Print the predicted class after z_n.
    classify: bool,
}

impl Ready {
    /// Computes z_n for every row and writes the CSV.
    pub fn run(self) -> Result<Outcome> {
        let text = match &self.net {
            AnyNetwork::F32(n) => predict_typed(n, &self.table, self.classify)?,
            AnyNetwork::F64(n) => predict_typed(n, &self.table, self.classify)?,
        };
        match &self.args.out {
            Some(out) => {
                // Written to standard output (--out /dev/stdout): no line after the CSV.
                let quiet = io::is_stdout(out);
                io::write_file(out, text.as_bytes())?;
                if !quiet {
                    say(&format!(
                        "wrote {} predictions to {}",
                        self.table.rows(),
                        out.display()
                    ));
                }
            }
            None => print_out(&text)?,
        }
        Ok(Outcome::Success)
    }

    /// The CSV file of `--out`, when given.
    pub fn outputs(&self) -> Vec<(String, PathBuf)> {
        self.args
            .out
            .iter()
            .map(|p| ("--out".to_string(), p.clone()))
            .collect()
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
pub fn prepare(args: PredictArgs) -> Result<Ready> {
    if let Some(out) = &args.out {
        io::check_outputs(&[("--out".to_string(), out.clone())])?;
        refuse_overwriting_inputs(
            "--out",
            out,
            &[
                ("--model file", &args.model),
                ("--data file", Path::new(&args.data)),
            ],
        )?;
    }
    let net = input::load_model(&args.model)?;
    let table = input::load_data(&args.data, args.seed)?.table;
    let sizes = net.sizes();
    let (l0, ln) = (sizes[0], sizes[sizes.len() - 1]);
    if table.cols != l0 && Some(table.cols) != l0.checked_add(ln) {
        bail!(
            "{}: rows have {} fields, but the model {} needs {l0} inputs (or {l0} inputs + {ln} \
             targets = {})",
            table.source,
            table.cols,
            args.model.display(),
            l0 as u128 + ln as u128
        );
    }
    // The inputs in the model's scalar, the outputs z_n, and their text (at most 32 bytes a
    // number); the forward pass goes in chunks of bounded size.
    let size = net.dtype().size() as u128;
    let rows = table.rows() as u128;
    budget::check(
        || {
            format!(
                "the predictions of {} for {} samples",
                args.model.display(),
                table.rows()
            )
        },
        rows * (l0 as u128 * size + ln as u128 * (size + 32)),
    )?;
    let targets = Some(table.cols) == l0.checked_add(ln);
    let classify = args.classify || (targets && one_hot(&table, l0));
    if classify && ln < 2 {
        bail!(
            "--classify: the model {} has l_n = {ln} output; classes need at least 2 (one per class)",
            args.model.display()
        );
    }
    Ok(Ready {
        args,
        net,
        table,
        classify,
    })
}

/// z_n for every row of `table` (whose width [`prepare`] checked) as CSV text, with the
/// predicted class argmax_k z_n^k last when `classify`.
fn predict_typed<T: Scalar>(net: &Network<T>, table: &Table, classify: bool) -> Result<String> {
    let (l0, ln) = (net.inputs(), net.outputs());
    let x = table.columns::<T>(0, l0)?;
    let z = budget::predict_in_chunks(net, &x)?;
    let mut names: Vec<String> = (0..ln).map(|k| format!("z{k}")).collect();
    if !classify {
        return Ok(data::to_csv(&names, &z));
    }
    names.push("class".into());
    let class = |s: usize| argmax(z.column(s).iter().copied()).to_string();
    Ok(data::to_csv_with(&names, &z, class))
}
