//! `backprop predict`: the output z_n of the model for every row of a data file, as CSV.

use crate::Outcome;
use crate::common::{self, print_out};
use crate::data::{self, Table};
use anyhow::{Result, bail};
use backprop::{AnyNetwork, Network, Scalar};
use std::path::{Path, PathBuf};

const PREDICT_HELP: &str = "\
The data rows hold l_0 inputs, or l_0 inputs and l_n targets (the targets are ignored). The
output has a header z0,z1,… and one row of l_n outputs per data row, in the model's precision.

Examples:
  backprop predict --model model.safetensors --data data.csv
  backprop predict --model model.safetensors --data data.csv --out predictions.csv";

/// Run the model on every row of a data file; write the outputs z_n as CSV.
#[derive(clap::Args, Debug)]
#[command(after_help = PREDICT_HELP)]
pub struct PredictArgs {
    /// The model file (safetensors).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// The data: CSV rows of l_0 inputs (optionally followed by l_n targets), or a built-in
    /// set's name.
    #[arg(long, value_name = "DATA")]
    data: String,
    /// Write the CSV here (atomically) instead of to standard output.
    #[arg(long, value_name = "CSV")]
    out: Option<PathBuf>,
    /// Seed of a built-in data set.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: PredictArgs) -> Result<Outcome> {
    if let Some(out) = &args.out {
        common::refuse_overwriting_inputs(
            out,
            &[
                ("--model file", &args.model),
                ("--data file", Path::new(&args.data)),
            ],
        )?;
    }
    let net = common::load_model(&args.model)?;
    let loaded = common::load_data(&args.data, args.seed)?;
    let text = match net {
        AnyNetwork::F32(n) => predict_typed(&args, &n, &loaded.table)?,
        AnyNetwork::F64(n) => predict_typed(&args, &n, &loaded.table)?,
    };
    match &args.out {
        Some(out) => {
            common::write_file(out, text.as_bytes())?;
            common::say(&format!(
                "wrote {} predictions to {}",
                loaded.table.rows(),
                out.display()
            ));
        }
        None => print_out(&text)?,
    }
    Ok(Outcome::Success)
}

fn predict_typed<T: Scalar>(args: &PredictArgs, net: &Network<T>, table: &Table) -> Result<String> {
    let (l0, ln) = (net.inputs(), net.outputs());
    if table.cols != l0 && table.cols != l0 + ln {
        bail!(
            "{}: rows have {} fields, but the model {} needs {l0} inputs (or {l0} inputs + {ln} \
             targets = {})",
            table.source,
            table.cols,
            args.model.display(),
            l0 + ln
        );
    }
    let x = table.columns::<T>(0, l0)?;
    let z = net.predict(x.as_view())?;
    let names: Vec<String> = (0..ln).map(|k| format!("z{k}")).collect();
    Ok(data::to_csv(&names, &z))
}
