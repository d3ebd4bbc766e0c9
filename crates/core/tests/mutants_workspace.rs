//! The `Workspace`'s guards (crates/core/src/workspace.rs), written to kill the mutants
//! `scripts/mutants.sh` found alive there (see docs/mutants.md): a workspace refuses a network
//! of another shape (same depth but another width, or another depth) in every entry point, and
//! its forward pass takes a batch of exactly its capacity.

use backprop::gradient::max_abs_difference;
use backprop::{Activation, Error, Network, Reduction, Workspace};
use nalgebra::DMatrix;

fn data(l0: usize, ln: usize, b: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    (
        DMatrix::from_fn(l0, b, |r, c| 0.1 * r as f64 - 0.2 * c as f64 + 0.3),
        DMatrix::from_fn(ln, b, |r, c| 0.5 - 0.4 * r as f64 + 0.1 * c as f64),
    )
}

fn is_workspace_error<T>(r: backprop::Result<T>) -> bool {
    matches!(
        r,
        Err(Error::InvalidParameter {
            name: "workspace",
            ..
        })
    )
}

#[test]
fn a_workspace_refuses_a_network_of_another_shape() {
    let built_for = Network::<f64>::random(&[3, 4, 2], Activation::Tanh, 1).unwrap();
    let mut ws = Workspace::new(&built_for, 2).unwrap();
    let (x, y) = data(3, 2, 2);
    // Same depth, another hidden width; and another depth with the same ends.
    for sizes in [&[3, 5, 2][..], &[3, 4, 4, 2][..]] {
        let mut other = Network::<f64>::random(sizes, Activation::Tanh, 2).unwrap();
        let before = other.clone();
        assert!(
            is_workspace_error(ws.gradient(&other, x.as_view(), y.as_view())),
            "gradient, sizes {sizes:?}"
        );
        assert!(
            is_workspace_error(ws.step(&mut other, x.as_view(), y.as_view(), 0.1, Reduction::Sum)),
            "step, sizes {sizes:?}"
        );
        assert_eq!(other, before, "the weights are not changed on error");
        assert!(
            is_workspace_error(ws.forward(&other, x.as_view())),
            "forward, sizes {sizes:?}"
        );
    }
    // The network it was built for still works.
    assert!(ws.gradient(&built_for, x.as_view(), y.as_view()).is_ok());
}

#[test]
fn the_forward_pass_takes_a_batch_of_exactly_the_capacity() {
    let net = Network::<f64>::random(&[3, 4, 2], Activation::Sigmoid, 3).unwrap();
    let mut ws = Workspace::new(&net, 2).unwrap();
    let (x, _) = data(3, 2, 2);
    let want = net.forward(x.as_view()).unwrap().output().clone();
    let got = ws.forward(&net, x.as_view()).unwrap().to_vec();
    assert_eq!(got.len(), 4);
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    // One sample more than the capacity is an error naming the batch size.
    let (x3, _) = data(3, 2, 3);
    assert!(matches!(
        ws.forward(&net, x3.as_view()),
        Err(Error::InvalidParameter {
            name: "batch size",
            ..
        })
    ));
}

#[test]
fn a_trainer_epoch_gathers_the_right_targets_for_each_batch() {
    // 4 samples, 2 outputs. One epoch with a single shuffled batch of all 4 equals one step on
    // the whole batch (the sum over samples does not depend on their order); one epoch of
    // unshuffled batches of 2 equals a step on columns 0–1, then on columns 2–3.
    use backprop::{EpochConfig, Trainer};
    let net = Network::<f64>::random(&[3, 4, 2], Activation::Tanh, 5).unwrap();
    let (x, y) = data(3, 2, 4);
    let lr = 0.05;
    let close = |a: &Network<f64>, b: &Network<f64>| {
        a.weights()
            .iter()
            .zip(b.weights())
            .all(|(p, q)| max_abs_difference(p.as_view(), q.as_view()) < 1e-12)
    };

    let mut whole = net.clone();
    let e_whole = Workspace::new(&net, 4)
        .unwrap()
        .step(&mut whole, x.as_view(), y.as_view(), lr, Reduction::Sum)
        .unwrap();
    let mut trained = net.clone();
    let mut trainer = Trainer::new(&net, 4, 9).unwrap();
    let e = trainer
        .epoch(
            &mut trained,
            x.as_view(),
            y.as_view(),
            &EpochConfig {
                learning_rate: lr,
                reduction: Reduction::Sum,
                shuffle: true,
            },
        )
        .unwrap();
    assert!((e - e_whole).abs() < 1e-12, "E {e} vs {e_whole}");
    assert!(close(&trained, &whole));

    let mut by_hand = net.clone();
    let mut ws = Workspace::new(&net, 2).unwrap();
    let mut e_hand = 0.0;
    for c in [0, 2] {
        e_hand += ws
            .step(
                &mut by_hand,
                x.columns(c, 2),
                y.columns(c, 2),
                lr,
                Reduction::Sum,
            )
            .unwrap();
    }
    let mut trained = net.clone();
    let mut trainer = Trainer::new(&net, 2, 9).unwrap();
    let e = trainer
        .epoch(
            &mut trained,
            x.as_view(),
            y.as_view(),
            &EpochConfig {
                learning_rate: lr,
                reduction: Reduction::Sum,
                shuffle: false,
            },
        )
        .unwrap();
    assert!((e - e_hand).abs() < 1e-12, "E {e} vs {e_hand}");
    assert!(close(&trained, &by_hand));
}

#[test]
fn a_fresh_workspaces_fused_step_updates_every_layer_like_the_reference() {
    // W_i ← W_i − m ∂E/∂W_i with ∂E/∂W_i from the element-by-element reference, on a workspace
    // that has never computed a gradient (its Δ buffers hold nothing useful yet), for a network
    // with two hidden layers, so W_0's update needs Δ_1 propagated through W_1 and W_2.
    let net = Network::<f64>::random(&[3, 5, 4, 2], Activation::Tanh, 8).unwrap();
    let (x, y) = data(3, 2, 3);
    let lr = 0.1;
    let (e_ref, g) =
        backprop::gradient::elementwise::gradient(&net, x.as_view(), y.as_view()).unwrap();
    let mut stepped = net.clone();
    let e = Workspace::new(&net, 3)
        .unwrap()
        .step(&mut stepped, x.as_view(), y.as_view(), lr, Reduction::Sum)
        .unwrap();
    assert!((e - e_ref).abs() < 1e-12);
    for i in 0..3 {
        let want = net.weight(i) - g.layer(i) * lr;
        let moved = (net.weight(i) - stepped.weight(i)).amax();
        assert!(moved > 1e-6, "W_{i} did not move");
        assert!(
            max_abs_difference(stepped.weight(i).as_view(), want.as_view()) < 1e-12,
            "W_{i}"
        );
    }
}
