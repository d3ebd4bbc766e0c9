/*!
The `backprop` command: train a bias-free feedforward network, write its gradient, check it
against numerical oracles, and predict with it.

```text
a_0 = x,   z_{i+1} = W_i a_i,   a_i = σ(z_i) (i = 1..n−1),   output z_n,   E = ‖y − z_n‖²
```

* `backprop train`: mini-batch SGD, W_i ← W_i − m ∂E/∂W_i, on a built-in data set or a CSV file;
  writes the model (safetensors), a loss curve and, for 2-D inputs, a decision-boundary picture.
* `backprop grad`: ∂E/∂W_i over a whole data set, summed over samples, as safetensors `dW0`, ….
* `backprop check`: every (or sampled, or projected) element of ∂E/∂W_i against finite
  differences, with a report.
* `backprop predict`: z_n for every row of a CSV file, as CSV, and for a classifier the
  predicted class, argmax_k z_n^k.
* `backprop data`: a built-in data set written as a CSV file.

Exit codes: 0 success; 1 `check` found a wrong gradient element (or a `--perturb` control was
not caught); 2 bad input, bad usage or a failed run (the message names the file, line, field or
layer at fault); 3 `check` inconclusive; 130 `train` stopped by Ctrl-C, SIGTERM or SIGHUP (the
model of the last complete epoch is written).

# The library

The binary is a thin `main` over this library (`backprop_cli`), so that tests and fuzz targets
drive exactly the code a user runs. [`parse`] turns arguments into a [`Cli`]; [`prepare`] does
everything a command does before its real work (read and check the data and model files, build
the network, check every size against the memory limit, refuse output paths that would
overwrite an input) and writes nothing; [`Prepared::run`] first proves every output writable (a temporary file created and removed in
each output's directory), then does the work and writes the outputs.
[`data`] is the CSV reader.

The modules, each one concept, with their uses pointing one way (`python3
scripts/module_cycles.py crates/cli` checks that there is no cycle):

| module | what | uses |
|---|---|---|
| `io` | atomic writes, same-file checks, printing | nothing in the crate |
| `budget` | the memory limit: every size checked before it is allocated | — |
| `args` | argument types and parsers shared by the commands | — |
| [`data`], `datasets`, `input` | the CSV reader, the built-in sets, loading `--data` and models | `budget` |
| `classes`, `tensors` | argmax and one-hot targets; writing safetensors | `data`, `io` |
| `plot::{draw, loss, boundary, fit}` | the pictures, each sampling what it shows | `io`, `budget`, `classes` |
| `train::{args, plan, run, report}`, `grad`, `check`, `predict`, `export` | the commands | the above |

Every error is one line naming the file, line, field, layer or option at fault (see
[`error_line`] and [`usage_error_line`]); sizes that would exceed the memory limit
(`budget`: the available memory, or `BACKPROP_MEMORY_LIMIT` bytes) are refused with
the bytes needed and the limit, before anything that large is allocated.
*/

mod args;
mod budget;
mod check;
mod classes;
pub mod data;
mod datasets;
mod export;
mod grad;
mod input;
mod io;
mod outcome;
mod plot;
mod predict;
mod tensors;
mod train;

pub use outcome::Outcome;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 `check` found a wrong gradient element (or a --perturb control was not
caught); 2 bad input, bad usage or a failed run (one line `error: ...` naming the file, line,
field or layer at fault); 3 `check` inconclusive; 130 `train` interrupted by Ctrl-C, SIGTERM or
SIGHUP (the last complete epoch's model is written).

Examples:
  backprop train                # two spirals, a 2-24-24-2 tanh network, under a second
  backprop data spiral --out spiral.csv
  backprop grad --model model.safetensors --data spiral.csv --out grad.safetensors
  backprop check --layers 3,4,5,2 --activation sigmoid
  backprop predict --model model.safetensors --data spiral.csv";

/// Backpropagation for bias-free feedforward networks: train, grad, check, predict, data.
#[derive(Parser, Debug)]
#[command(name = "backprop", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Train(train::args::TrainArgs),
    Grad(grad::GradArgs),
    Check(check::CheckArgs),
    Predict(predict::PredictArgs),
    Data(export::DataArgs),
}

/// Parses a command line as the binary does; `args` starts with the program's name.
///
/// # Errors
/// clap's error for bad usage (exit code 2, see [`usage_error_line`]), and for `--help` and
/// `--version`, whose text the error carries (exit code 0).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
}

/// A command whose inputs are read and checked and whose network is built, ready to run.
///
/// Nothing has been written yet: every output path has been checked (none names an input),
/// and every large allocation the run makes has been checked against the memory limit.
pub struct Prepared(Ready);

enum Ready {
    Train(Box<train::plan::Ready>),
    Grad(grad::Ready),
    Check(Box<check::Ready>),
    Predict(predict::Ready),
    Data(export::Ready),
}

/// Reads and checks the inputs of the command, builds its network and checks the sizes of
/// everything it will allocate; writes nothing.
///
/// # Errors
/// The first problem found, as one line naming the file, line, field, layer or option at
/// fault; [`backprop::Error::TooLarge`]'s text (bytes needed and the limit) for sizes beyond
/// the memory limit.
pub fn prepare(cli: Cli) -> anyhow::Result<Prepared> {
    Ok(Prepared(match cli.command {
        Command::Train(args) => Ready::Train(Box::new(train::plan::prepare(args)?)),
        Command::Grad(args) => Ready::Grad(grad::prepare(args)?),
        Command::Check(args) => Ready::Check(Box::new(check::prepare(args)?)),
        Command::Predict(args) => Ready::Predict(predict::prepare(args)?),
        Command::Data(args) => Ready::Data(export::prepare(args)?),
    }))
}

impl Prepared {
    /// Runs the command: first proves every output writable (`io::probe_outputs`: a
    /// temporary file created and removed in each output's directory), then trains, computes
    /// the gradient, checks or predicts, and writes its outputs (atomically).
    ///
    /// # Errors
    /// A failed run (a non-finite loss, a file that cannot be written), as one line.
    pub fn run(self) -> anyhow::Result<Outcome> {
        // Before any work: a run that cannot save its outputs never starts.
        io::probe_outputs(&self.outputs())?;
        match self.0 {
            Ready::Train(r) => train::run::run(*r),
            Ready::Grad(r) => r.run(),
            Ready::Check(r) => (*r).run(),
            Ready::Predict(r) => r.run(),
            Ready::Data(r) => r.run(),
        }
    }

    /// The files the command will write, each with the option (or default) naming it.
    pub fn outputs(&self) -> Vec<(String, std::path::PathBuf)> {
        match &self.0 {
            Ready::Train(r) => r.plan.files.clone(),
            Ready::Grad(r) => r.outputs(),
            Ready::Check(_) => vec![],
            Ready::Predict(r) => r.outputs(),
            Ready::Data(r) => r.outputs(),
        }
    }

    /// The layer sizes l_0, …, l_n of the command's network.
    pub fn network_sizes(&self) -> Vec<usize> {
        match &self.0 {
            Ready::Train(r) => r.network_sizes(),
            Ready::Grad(r) => r.network_sizes(),
            Ready::Check(r) => r.network_sizes(),
            Ready::Predict(r) => r.network_sizes(),
            Ready::Data(r) => r.network_sizes(),
        }
    }

    /// The number of samples the command will use (for `train`: training and test samples).
    pub fn samples(&self) -> usize {
        match &self.0 {
            Ready::Train(r) => r.samples(),
            Ready::Grad(r) => r.samples(),
            Ready::Check(r) => r.samples(),
            Ready::Predict(r) => r.samples(),
            Ready::Data(r) => r.samples(),
        }
    }
}

/// Prepares and runs a parsed command line.
///
/// # Errors
/// As [`prepare`] and [`Prepared::run`].
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    prepare(cli)?.run()
}

/// The one line the binary prints after `error: `: the chain of contexts joined by ": ",
/// line breaks flattened to spaces.
pub fn error_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}

/// A clap usage error as one line (after `error: `): its message, then its tips and usage,
/// joined by "; ", without the "For more information" line.
pub fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let line = parts.join("; ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    line.replace(":;", ":")
}

/// The `backprop` binary: parses the process's arguments, runs the command, prints an error
/// as one line `error: …` on standard error, and returns the exit code (0, 1, 2, 3 or 130).
pub fn main() -> ExitCode {
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap's text on standard output, exit 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        Err(e) => {
            eprintln!("error: {}", usage_error_line(&e));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_are_one_line() {
        let e = parse(["backprop", "grad", "--data", "d.csv"]).unwrap_err();
        let line = usage_error_line(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("the following required arguments were not provided: --model"),
            "{line}"
        );
        assert!(line.contains("Usage: backprop grad"), "{line}");
        let e = parse(["backprop", "train", "--layers", "2,0,2"]).unwrap_err();
        let line = usage_error_line(&e);
        assert!(line.contains("layer 1 has width 0"), "{line}");
        assert!(!line.contains("For more information"), "{line}");
    }
}
