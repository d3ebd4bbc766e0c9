//! Training: the loss falls, the same seed gives bit-identical weights, a diverging run stops
//! with the last finite model, and bad hyper-parameters are refused.

use backprop::gradient::max_abs_difference;
use backprop::{
    Activation, EpochConfig, EpochReport, Error, Hooks, Network, Reduction, Stopped, TrainConfig,
    Trainer, train, train_with,
};
use nalgebra::DMatrix;
use std::ops::ControlFlow;

/// XOR-like data on [−1, 1]²: y = x_0 x_1, one sample per column.
fn data(n: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_fn(2, n, |r, c| (((c * 7 + r * 13) % 17) as f64 / 8.0) - 1.0);
    let y = DMatrix::from_fn(1, n, |_, c| x[(0, c)] * x[(1, c)]);
    (x, y)
}

fn run(seed: u64, config: &TrainConfig) -> (Network<f64>, Vec<backprop::EpochReport>) {
    let (x, y) = data(64);
    let mut net = Network::<f64>::random(&[2, 8, 8, 1], Activation::Tanh, seed).unwrap();
    let h = train(&mut net, x.as_view(), y.as_view(), config).unwrap();
    (net, h)
}

#[test]
fn loss_falls() {
    let config = TrainConfig {
        learning_rate: 0.01,
        epochs: 300,
        batch_size: 8,
        ..Default::default()
    };
    let (_, h) = run(1, &config);
    let first = h.first().unwrap().loss;
    let last = h.last().unwrap().loss;
    assert!(last < first / 5.0, "loss {first} → {last}");
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let config = TrainConfig {
        learning_rate: 0.01,
        epochs: 20,
        batch_size: 5,
        seed: 3,
        ..Default::default()
    };
    let (a, _) = run(1, &config);
    let (b, _) = run(1, &config);
    for (wa, wb) in a.weights().iter().zip(b.weights()) {
        assert!(
            wa.iter()
                .zip(wb.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits())
        );
    }
    // A different shuffle seed gives a different result: the seed is used.
    let (c, _) = run(1, &TrainConfig { seed: 4, ..config });
    assert_ne!(a, c);
}

#[test]
fn mean_reduction_divides_the_step_by_the_batch() {
    // One full batch of 64 with m = 0.64, mean == one full batch with m = 0.01, sum.
    let (x, y) = data(64);
    let start = Network::<f64>::random(&[2, 4, 1], Activation::Sigmoid, 2).unwrap();
    let mut a = start.clone();
    let mut b = start.clone();
    let base = TrainConfig {
        epochs: 1,
        batch_size: 64,
        shuffle: false,
        ..Default::default()
    };
    let go = |net: &mut Network<f64>, c: TrainConfig| {
        train(net, x.as_view(), y.as_view(), &c).unwrap();
    };
    go(
        &mut a,
        TrainConfig {
            learning_rate: 0.64,
            reduction: Reduction::Mean,
            ..base
        },
    );
    go(
        &mut b,
        TrainConfig {
            learning_rate: 0.01,
            reduction: Reduction::Sum,
            ..base
        },
    );
    for (wa, wb) in a.weights().iter().zip(b.weights()) {
        assert!(max_abs_difference(wa.as_view(), wb.as_view()) < 1e-15);
    }
}

#[test]
fn divergence_stops_with_the_last_finite_model() {
    let (x, y) = data(64);
    let y = y * 1e3;
    let mut net = Network::<f64>::random(&[2, 8, 1], Activation::Identity, 5).unwrap();
    let mut snapshots = Vec::new();
    let config = TrainConfig {
        learning_rate: 10.0,
        epochs: 1000,
        batch_size: 64,
        ..Default::default()
    };
    let mut keep = |_: &EpochReport, n: &Network<f64>| {
        snapshots.push(n.clone());
        ControlFlow::Continue(())
    };
    let err = train_with(&mut net, x.as_view(), y.as_view(), &config, &mut keep).unwrap_err();
    let Error::NonFiniteLoss { epoch, batch, .. } = err else {
        panic!("expected NonFiniteLoss, got {err}")
    };
    assert_eq!(batch, 0);
    assert!(epoch > 0 && epoch < 1000);
    // The network holds the weights at the start of the failing epoch: the end of the last
    // completed one, which are finite.
    net.check_finite().unwrap();
    assert_eq!(&net, snapshots.last().unwrap());
    assert_eq!(snapshots.len(), epoch);
}

#[test]
fn early_stop_from_the_callback() {
    let config = TrainConfig {
        epochs: 50,
        ..Default::default()
    };
    let (x, y) = data(16);
    let mut net = Network::<f64>::random(&[2, 3, 1], Activation::Tanh, 0).unwrap();
    let mut until_4 = |r: &EpochReport, _: &Network<f64>| {
        if r.epoch == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let h = train_with(&mut net, x.as_view(), y.as_view(), &config, &mut until_4).unwrap();
    assert_eq!(h.reports.len(), 5);
    assert_eq!(h.stopped, None, "a break after an epoch is not a cut epoch");
}

#[test]
fn bad_hyper_parameters_and_data_are_refused() {
    let (x, y) = data(8);
    let mut net = Network::<f64>::random(&[2, 3, 1], Activation::Tanh, 0).unwrap();
    let go = |net: &mut Network<f64>, c: TrainConfig, x: &DMatrix<f64>, y: &DMatrix<f64>| {
        train(net, x.as_view(), y.as_view(), &c)
    };
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = go(
            &mut net,
            TrainConfig {
                learning_rate: lr,
                ..Default::default()
            },
            &x,
            &y,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    name: "learning rate",
                    ..
                }
            ),
            "{lr}"
        );
    }
    let err = go(
        &mut net,
        TrainConfig {
            batch_size: 0,
            ..Default::default()
        },
        &x,
        &y,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidParameter {
            name: "batch size",
            ..
        }
    ));
    let mut bad = x.clone();
    bad[(1, 5)] = f64::NAN;
    let err = go(&mut net, TrainConfig::default(), &bad, &y).unwrap_err();
    assert!(matches!(
        err,
        Error::NonFiniteData {
            what: "input",
            row: 1,
            sample: 5,
            ..
        }
    ));
    let err = go(&mut net, TrainConfig::default(), &DMatrix::zeros(3, 8), &y).unwrap_err();
    assert!(matches!(
        err,
        Error::DataShape {
            what: "inputs",
            expected: 2,
            got: 3
        }
    ));
    let err = go(
        &mut net,
        TrainConfig::default(),
        &DMatrix::zeros(2, 0),
        &DMatrix::zeros(1, 0),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoSamples));
}

#[test]
fn an_epoch_stopped_after_k_batches_applies_exactly_those_k_updates() {
    let (x, y) = data(64);
    let net0 = Network::<f64>::random(&[2, 8, 8, 1], Activation::Tanh, 3).unwrap();
    let (m, b) = (0.01, 8);
    // Stopped before the fourth of eight mini-batches (unshuffled: columns 0..24 are used).
    let mut stopped = net0.clone();
    let mut asked = 0;
    let mut trainer = Trainer::new(&stopped, b, 0).unwrap();
    let out = trainer
        .epoch_until(
            &mut stopped,
            x.as_view(),
            y.as_view(),
            &sum(m, false),
            || {
                asked += 1;
                asked > 3
            },
        )
        .unwrap();
    assert_eq!(out, None, "a stopped epoch reports no loss");
    assert_eq!(
        asked, 4,
        "stop is asked before every batch, up to the one it stops"
    );
    // The reference: a whole epoch over exactly those 24 samples, same batches, same order.
    let mut whole = net0.clone();
    let mut reference = Trainer::new(&whole, b, 0).unwrap();
    let (x3, y3) = (x.columns(0, 24), y.columns(0, 24));
    reference.epoch(&mut whole, x3, y3, &sum(m, false)).unwrap();
    for i in 0..net0.depth() {
        assert_eq!(stopped.weight(i), whole.weight(i), "W_{i}");
        assert_ne!(stopped.weight(i), net0.weight(i), "W_{i} was updated");
    }
    // Never stopped: the same as `epoch`.
    let (mut a, mut c) = (net0.clone(), net0.clone());
    let ea = Trainer::new(&a, b, 0)
        .unwrap()
        .epoch_until(&mut a, x.as_view(), y.as_view(), &sum(m, true), || false)
        .unwrap();
    let ec = Trainer::new(&c, b, 0)
        .unwrap()
        .epoch(&mut c, x.as_view(), y.as_view(), &sum(m, true))
        .unwrap();
    assert_eq!(ea, Some(ec));
    assert_eq!(a, c);
}

/// The seed's summed step with learning rate `m`.
fn sum(m: f64, shuffle: bool) -> EpochConfig<f64> {
    EpochConfig {
        learning_rate: m,
        reduction: Reduction::Sum,
        shuffle,
    }
}

/// Stops before mini-batch `at` of epoch `epoch` (counting the batches it is asked about), and
/// records the epochs it was told of.
struct StopAt {
    epoch: usize,
    at: usize,
    asked: usize,
    told: Vec<usize>,
}

impl Hooks<f64> for StopAt {
    fn stop(&mut self) -> bool {
        let per_epoch = 8;
        let stop = self.asked == self.epoch * per_epoch + self.at;
        self.asked += 1;
        stop
    }

    fn on_epoch(&mut self, report: &EpochReport, _: &Network<f64>) -> ControlFlow<()> {
        self.told.push(report.epoch);
        ControlFlow::Continue(())
    }
}

#[test]
fn a_stop_in_the_middle_of_an_epoch_restores_the_start_of_that_epoch() {
    let (x, y) = data(64);
    let config = TrainConfig {
        epochs: 10,
        batch_size: 8,
        ..Default::default()
    };
    let net0 = Network::<f64>::random(&[2, 8, 8, 1], Activation::Tanh, 3).unwrap();
    // Stopped before batch 5 of epoch 2 (0-based): the weights are those after 2 whole epochs.
    let mut stopped = net0.clone();
    let mut hooks = StopAt {
        epoch: 2,
        at: 5,
        asked: 0,
        told: vec![],
    };
    let out = train_with(&mut stopped, x.as_view(), y.as_view(), &config, &mut hooks).unwrap();
    assert_eq!(
        out.stopped,
        Some(Stopped {
            epoch: 2,
            batch: 5,
            batches: 8
        })
    );
    assert_eq!(out.reports.len(), 2);
    assert_eq!(hooks.told, vec![0, 1]);
    let mut two = net0.clone();
    let h = train(
        &mut two,
        x.as_view(),
        y.as_view(),
        &TrainConfig {
            epochs: 2,
            ..config
        },
    )
    .unwrap();
    assert_eq!(stopped, two, "the cut epoch's updates are discarded");
    assert_eq!(h, out.reports);
    assert_ne!(stopped, net0);
}

#[test]
fn a_trainer_refuses_a_config_with_another_batch_size_or_seed() {
    let (x, y) = data(16);
    let mut net = Network::<f64>::random(&[2, 3, 1], Activation::Tanh, 0).unwrap();
    let config = TrainConfig {
        batch_size: 4,
        seed: 7,
        ..Default::default()
    };
    for (batch, seed) in [(8, 7), (4, 8)] {
        let mut trainer = Trainer::new(&net, batch, seed).unwrap();
        let err = trainer
            .run(&mut net, x.as_view(), y.as_view(), &config, &mut ())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    name: "training configuration",
                    ..
                }
            ),
            "{err}"
        );
    }
    // The same batch size (a larger one is capped at N) and seed: the same as `train`.
    let mut a = net.clone();
    let mut trainer = Trainer::new(&a, 4, 7).unwrap();
    let ra = trainer
        .run(&mut a, x.as_view(), y.as_view(), &config, &mut ())
        .unwrap();
    let rb = train(&mut net, x.as_view(), y.as_view(), &config).unwrap();
    assert_eq!(ra.reports, rb);
    assert_eq!(a, net);
}
