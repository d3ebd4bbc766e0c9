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
* `backprop predict`: z_n for every row of a CSV file, as CSV.

Exit codes: 0 success; 1 `check` found a wrong gradient element; 2 bad input, bad usage or a
failed run (the message names the file, line, field or layer at fault); 130 `train` stopped by
Ctrl-C (the model of the last complete epoch is written).
*/

mod check;
mod common;
mod data;
mod datasets;
mod grad;
mod plot;
mod predict;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 `check` found a wrong gradient element; 2 bad input, bad usage or a
failed run (one line `error: ...` naming the file, line, field or layer at fault); 130 `train`
interrupted by Ctrl-C (the last complete epoch's model is written).

Examples:
  backprop train                # two spirals, a 2-24-24-2 tanh network, about a second
  backprop grad --model model.safetensors --data data.csv --out grad.safetensors
  backprop check --layers 3,4,5,2 --activation sigmoid
  backprop predict --model model.safetensors --data data.csv";

/// Backpropagation for bias-free feedforward networks: train, grad, check, predict.
#[derive(Parser, Debug)]
#[command(name = "backprop", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Train(train::TrainArgs),
    Grad(grad::GradArgs),
    Check(check::CheckArgs),
    Predict(predict::PredictArgs),
}

/// What a successful command asks `main` to exit with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Exit 0.
    Success,
    /// `check` found a failing element: exit 1.
    CheckFailed,
    /// `train` stopped by Ctrl-C after writing its model: exit 130.
    Interrupted,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Grad(args) => grad::run(args),
        Command::Check(args) => check::run(args),
        Command::Predict(args) => predict::run(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) => {
            // One line: the chain of contexts joined by ": ", newlines flattened.
            let msg = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_argument_definitions_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
