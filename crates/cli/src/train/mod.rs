//! `backprop train`: mini-batch SGD with the seed's update W_i ← W_i − m ∂E/∂W_i.
//!
//! [`args`] holds the command line; [`plan`] decides everything before training and writes
//! nothing; [`run`] trains on the core's [`backprop::Trainer`] with Ctrl-C and per-epoch
//! evaluation as hooks ([`eval`]: the forward passes into buffers allocated once); [`report`]
//! formats the epochs and writes the model and pictures.

pub mod args;
pub mod eval;
pub mod plan;
pub mod report;
pub mod run;

/// `backprop train` with `args` (after `train`), planned and ready to run.
#[cfg(test)]
pub(crate) fn ready(args: &[&str]) -> plan::Ready {
    use clap::Parser;
    let all = ["backprop", "train"].iter().chain(args);
    match crate::Cli::try_parse_from(all).unwrap().command {
        crate::Command::Train(args) => plan::prepare(args).unwrap(),
        _ => unreachable!(),
    }
}
