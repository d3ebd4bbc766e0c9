//! Training by stochastic gradient descent, the seed's update rule:
//!
//! ```text
//! W_i ← W_i + dW_i,   dW_i = −m Σ_{s ∈ batch} ∂E^(s)/∂W_i
//! ```
//!
//! over mini-batches of a shuffled data set, for a number of epochs. The shuffle is seeded: the
//! same network, data, configuration and seed give a bit-identical result.

use crate::error::{Error, Result};
use crate::network::Network;
use crate::scalar::Scalar;
use crate::workspace::{Reduction, Workspace};
use nalgebra::DMatrixView;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

/// Hyper-parameters of [`train`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// The learning rate m > 0.
    pub learning_rate: f64,
    /// Passes over the data set.
    pub epochs: usize,
    /// Samples per mini-batch (the last batch of an epoch may be smaller); ≥ 1.
    pub batch_size: usize,
    /// Sum (the seed's) or mean of the per-sample gradients.
    pub reduction: Reduction,
    /// Shuffle the samples before every epoch.
    pub shuffle: bool,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// m = 0.01, 100 epochs, batches of 32 summed, shuffled with seed 0.
    fn default() -> Self {
        Self {
            learning_rate: 0.01,
            epochs: 100,
            batch_size: 32,
            reduction: Reduction::Sum,
            shuffle: true,
            seed: 0,
        }
    }
}

/// What one epoch did, passed to the callback of [`train`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// The epoch, 0-based.
    pub epoch: usize,
    /// Σ over the epoch's batches of E on each batch, computed before that batch's update.
    pub loss: f64,
    /// `loss` divided by the number of samples.
    pub mean_loss: f64,
}

/// Trains `net` on the samples (columns) of `x` (l_0 × N) and `y` (l_n × N) by mini-batch SGD.
///
/// After every epoch `on_epoch` is called; returning [`ControlFlow::Break`] stops training (the
/// network keeps the weights of the completed epochs). Returns the reports of the epochs run.
///
/// At the start of each epoch the weights are copied aside (into a buffer allocated once): if
/// the loss of a batch becomes NaN or infinite, the network is restored to that copy, the last
/// model whose every loss was finite, and [`Error::NonFiniteLoss`] names the epoch and batch.
///
/// # Errors
/// [`Error::InvalidParameter`] for m ≤ 0 or non-finite, or a batch size of 0; the data errors
/// of [`Network::check_batch`]; [`Error::NonFiniteLoss`].
pub fn train<T: Scalar>(
    net: &mut Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochReport, &Network<T>) -> ControlFlow<()>,
) -> Result<Vec<EpochReport>> {
    if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "learning rate",
            reason: format!("must be positive and finite, got {}", config.learning_rate),
        });
    }
    net.check_batch(x, y)?;
    let samples = x.ncols();
    let batch = config.batch_size.min(samples);
    let mut trainer = Trainer::new(net, batch, config.seed)?;
    let m = T::of_f64(config.learning_rate);
    let mut backup = net.clone();
    // Grown per epoch: `epochs` comes from the user and may be huge.
    let mut reports = Vec::new();
    for epoch in 0..config.epochs {
        backup.copy_weights_from(net)?;
        let loss = match trainer.epoch(net, x, y, m, config.reduction, config.shuffle) {
            Ok(loss) => loss,
            Err(err) => {
                if matches!(err, Error::NonFiniteLoss { .. }) {
                    net.copy_weights_from(&backup)?;
                }
                return Err(err);
            }
        };
        let report = EpochReport {
            epoch,
            loss: loss.as_f64(),
            mean_loss: loss.as_f64() / samples as f64,
        };
        reports.push(report);
        if on_epoch(&report, net).is_break() {
            break;
        }
    }
    Ok(reports)
}

/// The state of an SGD run between epochs: the workspace, the sample order and its RNG.
///
/// [`train`] is built on it; use it directly to interleave epochs with your own work. After
/// construction an epoch allocates nothing.
#[derive(Debug)]
pub struct Trainer<T: Scalar> {
    workspace: Workspace<T>,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    /// Epochs started so far.
    epochs: usize,
}

impl<T: Scalar> Trainer<T> {
    /// A trainer for `net`'s shape and mini-batches of `batch_size`, shuffling with `seed`.
    ///
    /// # Errors
    /// As [`Workspace::new`].
    pub fn new(net: &Network<T>, batch_size: usize, seed: u64) -> Result<Self> {
        Ok(Self {
            workspace: Workspace::new(net, batch_size)?,
            order: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            epochs: 0,
        })
    }

    /// One pass over the data (`x`: l_0 × N, `y`: l_n × N) in mini-batches, shuffled first when
    /// `shuffle` is set. Returns Σ_batches E, each E computed before that batch's update.
    ///
    /// The first call for a data set of N samples allocates the order of N indices; later calls
    /// with the same N allocate nothing.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a network of another shape than the trainer's; the data
    /// errors of [`Network::check_batch`]; [`Error::NonFiniteLoss`] at the first batch whose loss
    /// is NaN or infinite (that batch's update is not applied; earlier batches' are, so
    /// [`train`] restores the weights from the start of the epoch).
    pub fn epoch(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        learning_rate: T,
        reduction: Reduction,
        shuffle: bool,
    ) -> Result<T> {
        let total = self.epoch_until(net, x, y, learning_rate, reduction, shuffle, || false)?;
        Ok(total.expect("an epoch that is never stopped completes"))
    }

    /// [`Trainer::epoch`], asking `stop` before every mini-batch: when it answers true the
    /// epoch ends there and `Ok(None)` is returned, with the updates of the batches before it
    /// applied (restore the weights from the start of the epoch to discard them). `Ok(Some(Σ E))`
    /// when the whole epoch ran. This is how a long epoch is interrupted promptly (the CLI's
    /// Ctrl-C).
    ///
    /// # Errors
    /// As [`Trainer::epoch`].
    #[allow(clippy::too_many_arguments)]
    pub fn epoch_until(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        learning_rate: T,
        reduction: Reduction,
        shuffle: bool,
        mut stop: impl FnMut() -> bool,
    ) -> Result<Option<T>> {
        self.workspace.check_network(net)?;
        net.check_batch(x, y)?;
        let epoch = self.epochs;
        self.epochs += 1;
        let samples = x.ncols();
        if self.order.len() != samples {
            self.order.clear();
            self.order.extend(0..samples);
        }
        if shuffle {
            self.order.shuffle(&mut self.rng);
        }
        let mut total = T::zero();
        for (batch, columns) in self.order.chunks(self.workspace.capacity()).enumerate() {
            if stop() {
                return Ok(None);
            }
            self.workspace.load_columns(x, y, columns);
            let e = self.workspace.compute(net, columns.len());
            if !e.finite() {
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch,
                    loss: e.as_f64(),
                });
            }
            self.workspace.update(net, learning_rate, reduction);
            total += e;
        }
        Ok(Some(total))
    }
}
