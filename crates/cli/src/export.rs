//! `backprop data`: a built-in data set written as a CSV file, one sample a row (the l_0 inputs
//! x0, x1, … then the l_n targets, y0, … or one-hot class_NAME, …), ready for `train`, `grad`, `check` and
//! `predict --data FILE`.

use crate::datasets::{self, Builtin};
use crate::io::{self, say};
use crate::outcome::Outcome;
use anyhow::{Result, anyhow};
use std::path::PathBuf;

const DATA_HELP: &str = "\
Classification sets have one-hot targets (1 at the sample's class, 0 elsewhere), which
`backprop train` recognises as classes. The same --seed gives the same rows as
`backprop train --data NAME --seed S` (before its train/test split).

Examples:
  backprop data spiral --out spiral.csv
  backprop train --data spiral.csv --layers 2,24,24,2 --activation tanh --lr 0.05 --reduction mean \\
    --batch 16 --epochs 500
  backprop data seeded --seed 3 --out seeded.csv";

/// Write a built-in data set as CSV (inputs x0,x1,…, then targets y0,… or class_NAME,…).
#[derive(clap::Args, Debug)]
#[command(after_help = DATA_HELP)]
pub struct DataArgs {
    /// The built-in set: spiral, circles, xor, sine, seeded (and with the `digits` feature:
    /// digits, iris, breast_cancer).
    #[arg(value_name = "SET")]
    set: String,
    /// The CSV file to write.
    #[arg(long, value_name = "CSV")]
    out: PathBuf,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A data set generated and ready to write.
pub struct Ready {
    out: PathBuf,
    set: Builtin,
}

impl Ready {
    /// Writes the CSV file.
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn run(self) -> Result<Outcome> {
        let t = &self.set.table;
        // The set's own header: x0, x1, … then y0, … or class_NAME, ….
        let names = t.header.clone().unwrap_or_else(|| {
            (0..self.set.inputs)
                .map(|k| format!("x{k}"))
                .chain((0..self.set.outputs).map(|k| format!("y{k}")))
                .collect()
        });
        let mut text = names.join(",");
        text.push('\n');
        for s in 0..t.rows() {
            let row: Vec<String> = t.row(s).iter().map(|&v| crate::data::number(v)).collect();
            text.push_str(&row.join(","));
            text.push('\n');
        }
        // Written to standard output (--out /dev/stdout): no line after the CSV.
        let quiet = io::is_stdout(&self.out);
        io::write_file(&self.out, text.as_bytes())?;
        if quiet {
            return Ok(Outcome::Success);
        }
        say(&format!(
            "wrote {}: {} samples of {} inputs and {} targets{}",
            self.out.display(),
            t.rows(),
            self.set.inputs,
            self.set.outputs,
            match &self.set.classes {
                Some(c) => format!(" (one-hot, {} classes)", c.len()),
                None => String::new(),
            }
        ));
        Ok(Outcome::Success)
    }

    /// The CSV file, as `--out`.
    pub fn outputs(&self) -> Vec<(String, PathBuf)> {
        vec![("--out".to_string(), self.out.clone())]
    }

    /// l_0 and l_n of the set.
    pub fn network_sizes(&self) -> Vec<usize> {
        vec![self.set.inputs, self.set.outputs]
    }

    /// The set's rows.
    pub fn samples(&self) -> usize {
        self.set.table.rows()
    }
}

/// Generates the set; writes nothing.
///
/// # Errors
/// An unknown set's name (the message lists the built-in ones).
pub fn prepare(args: DataArgs) -> Result<Ready> {
    io::check_outputs(&[("--out".to_string(), args.out.clone())])?;
    let set = datasets::builtin(&args.set.to_ascii_lowercase(), args.seed)
        .map_err(|e| anyhow!("built-in {}: {e}", args.set))?
        .ok_or_else(|| {
            anyhow!(
                "{}: no such built-in data set (built-in: {}){}",
                args.set,
                datasets::names().join(", "),
                datasets::feature_hint()
            )
        })?;
    Ok(Ready { out: args.out, set })
}
