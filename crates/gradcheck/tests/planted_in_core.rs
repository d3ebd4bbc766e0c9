//! Negative controls on the core's own code (needs the test-only feature `mutants`:
//! `cargo test -p backprop-gradcheck --features mutants --test planted_in_core`): each bug of
//! `backprop::mutants` is planted in the core's real paths, and `check_backprop` (which checks
//! the core's `Workspace`) must fail and name exactly the layers the bug corrupts, with both
//! oracles, for a tanh and a relu network, f64 and f32. Without a bug it passes.

mod common;

use backprop::Activation;
use backprop::mutants::{Mutant, plant};
use backprop_gradcheck::{CheckConfig, Oracle, Verdict, check_backprop};
use common::problem;

#[test]
fn check_backprop_fails_on_every_planted_bug_and_names_its_layers() {
    // W_1 is square (5 × 5): a transposed update corrupts it, and only it.
    let sizes = [4, 5, 5, 3];
    let n = sizes.len() - 1;
    for act in [Activation::Tanh, Activation::Relu] {
        for oracle in [Oracle::FiniteDifferences, Oracle::Dual] {
            let config = CheckConfig::full().with_oracle(oracle);
            let (net, x, y) = problem::<f64>(&sizes, act, 8, 17);
            let (net32, x32, y32) = problem::<f32>(&sizes, act, 8, 17);
            {
                let _none = plant(Mutant::None);
                let r = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
                assert_eq!(
                    r.verdict(),
                    Verdict::Passed,
                    "{act}, {oracle:?}, no bug: {r}"
                );
                let r = check_backprop(&net32, x32.as_view(), y32.as_view(), &config).unwrap();
                assert_eq!(
                    r.verdict(),
                    Verdict::Passed,
                    "{act}, {oracle:?}, f32, no bug: {r}"
                );
            }
            for mutant in Mutant::ALL {
                let expected: Vec<usize> = match mutant {
                    Mutant::SigmaPrimeScaled => (0..n - 1).collect(),
                    Mutant::TransposedUpdate => vec![1],
                    _ => (0..n).collect(),
                };
                let _planted = plant(mutant);
                let r = check_backprop(&net, x.as_view(), y.as_view(), &config).unwrap();
                assert_eq!(
                    r.verdict(),
                    Verdict::Failed,
                    "{act}, {oracle:?}, {mutant:?}: {r}"
                );
                assert_eq!(
                    r.failed_layers(),
                    expected,
                    "{act}, {oracle:?}, {mutant:?}: {r}"
                );
                // f32: a 0.1 % σ' error is within what f32 rounding explains for some
                // elements, but not for a whole layer; the other bugs are O(1).
                let r = check_backprop(&net32, x32.as_view(), y32.as_view(), &config).unwrap();
                assert_eq!(
                    r.verdict(),
                    Verdict::Failed,
                    "{act}, {oracle:?}, {mutant:?}, f32: {r}"
                );
                assert_eq!(
                    r.failed_layers(),
                    expected,
                    "{act}, {oracle:?}, {mutant:?}, f32: {r}"
                );
            }
        }
    }
}
