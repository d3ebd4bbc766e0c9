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

/// Hyper-parameters of [`train`]; `TrainConfig::default()` is also what `backprop train`
/// uses for a CSV file.
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

/// How one epoch steps: the learning rate in the network's scalar, the reduction and the
/// shuffle ([`Trainer::epoch`]). [`TrainConfig::epoch_config`] derives it from a [`TrainConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochConfig<T: Scalar> {
    /// The learning rate m > 0.
    pub learning_rate: T,
    /// Sum (the seed's) or mean of the per-sample gradients.
    pub reduction: Reduction,
    /// Shuffle the samples before the epoch.
    pub shuffle: bool,
}

impl TrainConfig {
    /// The part of the configuration that every epoch uses, m converted to `T`.
    pub fn epoch_config<T: Scalar>(&self) -> EpochConfig<T> {
        EpochConfig {
            learning_rate: T::of_f64(self.learning_rate),
            reduction: self.reduction,
            shuffle: self.shuffle,
        }
    }
}

/// What one epoch did, passed to [`Hooks::on_epoch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// The epoch, 0-based.
    pub epoch: usize,
    /// Σ over the epoch's batches of E on each batch, computed before that batch's update.
    pub loss: f64,
    /// `loss` divided by the number of samples: E/N.
    pub mean_loss: f64,
}

/// What a training run may be told between mini-batches and after every epoch
/// ([`train_with`], [`Trainer::run`]). Both methods have defaults that change nothing. A
/// closure `FnMut(&EpochReport, &Network<T>) -> ControlFlow<()>` is hooks with that
/// [`Hooks::on_epoch`]; `()` is no hooks at all.
pub trait Hooks<T: Scalar> {
    /// Asked before every mini-batch: `true` ends training there. The updates of the epoch's
    /// earlier batches are discarded (the weights go back to the start of the epoch) and
    /// [`Trained::stopped`] says where it stopped. This is how a long epoch is interrupted
    /// promptly (the CLI's Ctrl-C).
    fn stop(&mut self) -> bool {
        false
    }

    /// Called after every complete epoch with its report and the network (to evaluate it, log
    /// or keep a copy); [`ControlFlow::Break`] ends training after this epoch.
    fn on_epoch(&mut self, report: &EpochReport, net: &Network<T>) -> ControlFlow<()> {
        let _ = (report, net);
        ControlFlow::Continue(())
    }
}

/// No hooks: every epoch runs.
impl<T: Scalar> Hooks<T> for () {}

impl<T: Scalar, F: FnMut(&EpochReport, &Network<T>) -> ControlFlow<()>> Hooks<T> for F {
    fn on_epoch(&mut self, report: &EpochReport, net: &Network<T>) -> ControlFlow<()> {
        self(report, net)
    }
}

/// Where [`Hooks::stop`] ended a run: before mini-batch `batch` (0-based) of `batches` in
/// epoch `epoch` (0-based). The weights are those at the start of that epoch, after `epoch`
/// complete epochs; `batch` is 0 when the stop came between two epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The epoch that was cut, 0-based.
    pub epoch: usize,
    /// The mini-batches of that epoch that had run (and whose updates were discarded).
    pub batch: usize,
    /// The mini-batches of a whole epoch.
    pub batches: usize,
}

/// The outcome of a run that ended without error.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// One report per complete epoch.
    pub reports: Vec<EpochReport>,
    /// `Some` when [`Hooks::stop`] ended the run; `None` when every epoch ran or
    /// [`Hooks::on_epoch`] ended it after an epoch.
    pub stopped: Option<Stopped>,
}

/// Trains `net` on the samples (columns) of `x` (l_0 × N) and `y` (l_n × N) by mini-batch SGD
/// for `config.epochs` epochs; returns one report per epoch.
///
/// At the start of each epoch the weights are copied aside (into a buffer allocated once): if
/// the loss of a batch becomes NaN or infinite, the network is restored to that copy, the last
/// model whose every loss was finite, and [`Error::NonFiniteLoss`] names the epoch and batch.
/// [`train_with`] does the same with [`Hooks`] (a stop flag, a per-epoch callback).
///
/// # Errors
/// [`Error::InvalidParameter`] for m ≤ 0 or non-finite, or a batch size of 0; the data errors
/// of [`Network::check_batch`]; [`Error::NonFiniteLoss`].
pub fn train<T: Scalar>(
    net: &mut Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    config: &TrainConfig,
) -> Result<Vec<EpochReport>> {
    Ok(train_with(net, x, y, config, &mut ())?.reports)
}

/// [`train`] with [`Hooks`]: asked before every mini-batch whether to stop, and told of every
/// complete epoch (a closure `|report, net| …` is such hooks).
///
/// # Errors
/// As [`train`].
pub fn train_with<T: Scalar>(
    net: &mut Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    config: &TrainConfig,
    hooks: &mut impl Hooks<T>,
) -> Result<Trained> {
    // Trainer::run's arguments: this is it, with a trainer made for the configuration.
    net.check_batch(x, y)?;
    let mut trainer = Trainer::new(net, config.batch_size.min(x.ncols()), config.seed)?;
    trainer.run(net, x, y, config, hooks)
}

/// The state of an SGD run between epochs: the workspace, the sample order and its RNG.
///
/// [`train`] is built on it; use it directly to allocate the buffers before training starts
/// ([`Trainer::run`]) or to interleave epochs with your own work ([`Trainer::epoch`]). After
/// construction an epoch allocates nothing.
#[derive(Debug)]
pub struct Trainer<T: Scalar> {
    workspace: Workspace<T>,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    /// The seed the RNG started from.
    seed: u64,
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
            seed,
            epochs: 0,
        })
    }

    /// Runs `config.epochs` epochs of [`Trainer::epoch`] with the configuration's m, reduction
    /// and shuffle, copying the weights aside at the start of every epoch: a non-finite loss
    /// restores that copy and returns [`Error::NonFiniteLoss`]; a [`Hooks::stop`] restores it
    /// and returns the epochs done with [`Trained::stopped`] set. The copy is the only
    /// allocation of the run besides the reports.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for m ≤ 0 or non-finite, or a `config` whose batch size
    /// (at most N) or seed is not the trainer's; the data errors of [`Network::check_batch`];
    /// [`Error::NonFiniteLoss`].
    pub fn run(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        config: &TrainConfig,
        hooks: &mut impl Hooks<T>,
    ) -> Result<Trained> {
        if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "learning rate",
                reason: format!("must be positive and finite, got {}", config.learning_rate),
            });
        }
        self.workspace.check_network(net)?;
        net.check_batch(x, y)?;
        let samples = x.ncols();
        let batch = config.batch_size.min(samples);
        if batch != self.workspace.capacity() || config.seed != self.seed {
            return Err(Error::InvalidParameter {
                name: "training configuration",
                reason: format!(
                    "batch size {batch} and seed {} differ from the trainer's {} and {}",
                    config.seed,
                    self.workspace.capacity(),
                    self.seed
                ),
            });
        }
        let step = config.epoch_config::<T>();
        let batches = samples.div_ceil(batch);
        let mut backup = net.clone();
        // Grown per epoch: `epochs` comes from the user and may be huge.
        let mut reports = Vec::new();
        for epoch in 0..config.epochs {
            backup.copy_weights_from(net)?;
            let mut done = 0;
            let outcome = self.epoch_until(net, x, y, &step, || {
                let stop = hooks.stop();
                done += usize::from(!stop);
                stop
            });
            let loss = match outcome {
                Ok(Some(loss)) => loss.as_f64(),
                Ok(None) => {
                    // A part of an epoch is not a model anyone asked for: keep the last whole one.
                    net.copy_weights_from(&backup)?;
                    let stopped = Stopped {
                        epoch,
                        batch: done,
                        batches,
                    };
                    return Ok(Trained {
                        reports,
                        stopped: Some(stopped),
                    });
                }
                Err(err) => {
                    if matches!(err, Error::NonFiniteLoss { .. }) {
                        net.copy_weights_from(&backup)?;
                    }
                    return Err(err);
                }
            };
            let report = EpochReport {
                epoch,
                loss,
                mean_loss: loss / samples as f64,
            };
            reports.push(report);
            if hooks.on_epoch(&report, net).is_break() {
                break;
            }
        }
        Ok(Trained {
            reports,
            stopped: None,
        })
    }

    /// One pass over the data (`x`: l_0 × N, `y`: l_n × N) in mini-batches, shuffled first when
    /// `config.shuffle` is set, each batch's update W_i ← W_i − m ∂E/∂W_i applied in turn.
    /// Returns Σ_batches E, each E computed before that batch's update.
    ///
    /// The first call for a data set of N samples allocates the order of N indices; later calls
    /// with the same N allocate nothing.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a network of another shape than the trainer's; the data
    /// errors of [`Network::check_batch`]; [`Error::NonFiniteLoss`] at the first batch whose loss
    /// is NaN or infinite (that batch's update is not applied; earlier batches' are, so
    /// [`Trainer::run`] restores the weights from the start of the epoch).
    pub fn epoch(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        config: &EpochConfig<T>,
    ) -> Result<T> {
        let total = self.epoch_until(net, x, y, config, || false)?;
        Ok(total.expect("an epoch that is never stopped completes"))
    }

    /// [`Trainer::epoch`], asking `stop` before every mini-batch: when it answers true the
    /// epoch ends there and `Ok(None)` is returned, with the updates of the batches before it
    /// applied (restore the weights from the start of the epoch to discard them, as
    /// [`Trainer::run`] does). `Ok(Some(Σ E))` when the whole epoch ran.
    ///
    /// # Errors
    /// As [`Trainer::epoch`].
    pub fn epoch_until(
        &mut self,
        net: &mut Network<T>,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        config: &EpochConfig<T>,
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
        if config.shuffle {
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
            self.workspace
                .update(net, config.learning_rate, config.reduction);
            total += e;
        }
        Ok(Some(total))
    }
}
