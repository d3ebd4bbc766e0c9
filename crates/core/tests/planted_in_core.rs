//! Negative controls on the crate's own code (needs the test-only feature `mutants`:
//! `cargo test -p backprop --features mutants --test planted_in_core`): each bug of
//! `backprop::mutants` is planted in the real gradient paths — the four forms, and the
//! `Workspace`'s gradient and fused step — and the comparison of `tests/layouts_agree.rs`
//! with the dual-number oracle (same rounding rule) must fail on each, on exactly the layers the
//! bug corrupts, for a tanh and a relu network. Without a bug, nothing differs.

mod common;

use backprop::gradient::{denominator, elementwise, naive, numerator};
use backprop::mutants::{Mutant, plant};
use backprop::{Activation, Network, Reduction, Workspace};
use nalgebra::DMatrix;

/// W_1 is square (5 × 5), so a transposed update corrupts it, and only it.
const SIZES: [usize; 4] = [4, 5, 5, 3];
const B: usize = 4;

fn problem(act: Activation) -> (Network<f64>, DMatrix<f64>, DMatrix<f64>) {
    let net = Network::<f64>::random(&SIZES, act, 3).unwrap();
    let x = DMatrix::from_fn(SIZES[0], B, |r, c| ((r * 7 + c * 3) as f64 * 0.37).sin());
    let y = DMatrix::from_fn(SIZES[3], B, |r, c| ((r * 5 + c * 11) as f64 * 0.21).cos());
    (net, x, y)
}

/// The layers where `g` differs from the dual-number gradient by more than layouts_agree's
/// rule 4 (n + 1)(l_max + B) ε max(1, max |g|) allows.
fn wrong_layers(g: &[DMatrix<f64>], exact: &[DMatrix<f64>]) -> Vec<usize> {
    let n = SIZES.len() - 1;
    let l_max = *SIZES.iter().max().unwrap();
    let m = exact
        .iter()
        .flat_map(|e| e.iter().map(|v| v.abs()))
        .fold(1.0f64, f64::max);
    let tol = (4 * (n + 1) * (l_max + B)) as f64 * f64::EPSILON * m;
    (0..n)
        .filter(|&i| {
            backprop::gradient::max_abs_difference(g[i].as_view(), exact[i].as_view()) > tol
        })
        .collect()
}

/// ∂E/∂W_i by every path of the crate, by name.
fn every_path(
    net: &Network<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> Vec<(&'static str, Vec<DMatrix<f64>>)> {
    let (xv, yv) = (x.as_view(), y.as_view());
    let mut ws = Workspace::new(net, B).unwrap();
    ws.gradient(net, xv, yv).unwrap();
    let batched = ws.gradient_ref().clone().into_layers();
    // The fused step's implied gradient: (W_i − W_i') / m.
    let m = 0.125;
    let mut stepped = net.clone();
    ws.step(&mut stepped, xv, yv, m, Reduction::Sum).unwrap();
    let implied = (0..net.depth())
        .map(|i| (net.weight(i) - stepped.weight(i)) / m)
        .collect();
    vec![
        (
            "numerator",
            numerator::gradient(net, xv, yv)
                .unwrap()
                .1
                .to_denominator()
                .into_layers(),
        ),
        (
            "denominator",
            denominator::gradient(net, xv, yv).unwrap().1.into_layers(),
        ),
        (
            "element-wise",
            elementwise::gradient(net, xv, yv).unwrap().1.into_layers(),
        ),
        (
            "naive",
            naive::gradient(net, xv, yv).unwrap().1.into_layers(),
        ),
        ("Workspace::gradient", batched),
        ("Workspace::step", implied),
    ]
}

#[test]
fn every_planted_bug_fails_the_dual_number_comparison_on_the_layers_it_corrupts() {
    let n = SIZES.len() - 1;
    for act in [Activation::Tanh, Activation::Relu] {
        let (net, x, y) = problem(act);
        let exact = common::dual_gradient(&net, act, &x, &y);
        {
            let _none = plant(Mutant::None);
            for (path, g) in every_path(&net, &x, &y) {
                assert_eq!(
                    wrong_layers(&g, &exact),
                    Vec::<usize>::new(),
                    "{act}, no bug, {path}"
                );
            }
        }
        for mutant in Mutant::ALL {
            let expected: Vec<usize> = match mutant {
                // δ_i for i = 1..n−1 feeds ∂E/∂W_{i−1}.
                Mutant::SigmaPrimeScaled => (0..n - 1).collect(),
                Mutant::TransposedUpdate => vec![1],
                _ => (0..n).collect(),
            };
            let _planted = plant(mutant);
            for (path, g) in every_path(&net, &x, &y) {
                assert_eq!(
                    wrong_layers(&g, &exact),
                    expected,
                    "{act}, {mutant:?}, {path}"
                );
            }
        }
    }
}
