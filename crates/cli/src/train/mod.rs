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
