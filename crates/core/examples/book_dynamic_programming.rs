//! The book's chapter "Why backprop is O(n)": the naive chain, which multiplies every
//! ∂E/∂z_{i+1} from ∂E/∂z_n down afresh, against backpropagation, which reuses ∂E/∂z_{i+2} for
//! ∂E/∂z_{i+1}. Both run on networks of depth n = 2…32, and the products they perform are counted
//! by the core's own gradient functions as they compute the gradient
//! (`gradient::naive::gradient_counted` and `gradient::denominator::gradient_counted`, which
//! return a `gradient::Products` beside ∂E/∂W_i). The example asserts the counts, n(n − 1)/2
//! against n − 1 chain products, and that the counted runs return the gradients of
//! `gradient::naive::gradient` and `gradient::denominator::gradient`; it prints the table of
//! counts in Markdown (the book includes it as printed).
//!
//! Run: `cargo run --release -p backprop --example book_dynamic_programming`

use backprop::gradient::{Products, denominator, max_abs_difference, naive};
use backprop::{Activation, Network};
use nalgebra::DMatrix;

fn main() -> Result<(), backprop::Error> {
    // ANCHOR: table
    const WIDTH: usize = 8;
    // Scalar multiplications of one chain product (a row times W_m, l_{m+1} l_m, then times
    // diag(σ′(z_m)), l_m) and of one outer product (l_{i+1} l_i), every layer WIDTH wide.
    const STEP: usize = WIDTH * WIDTH + WIDTH;
    const OUTER: usize = WIDTH * WIDTH;
    println!(
        "| n | naive chain steps | backprop chain steps | ratio | naive multiplications | backprop multiplications |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut deepest = (0, 0.0);
    for n in [2, 3, 4, 8, 16, 32] {
        let net = Network::<f64>::random(&vec![WIDTH; n + 1], Activation::Tanh, n as u64)?;
        let x = DMatrix::from_fn(WIDTH, 1, |r, _| (r as f64 - 3.5) / 4.0);
        let y = DMatrix::from_fn(WIDTH, 1, |r, _| if r % 2 == 0 { 1.0 } else { -1.0 });
        // The core's gradient functions, counting every product as they perform it.
        let (e_slow, dw_slow, slow) = naive::gradient_counted(&net, x.as_view(), y.as_view())?;
        let (e_fast, dw_fast, fast) =
            denominator::gradient_counted(&net, x.as_view(), y.as_view())?;
        // The counted runs are the crate's gradients, not a stand-in: what `gradient` returns.
        assert_eq!(
            naive::gradient(&net, x.as_view(), y.as_view())?,
            (e_slow, dw_slow.clone())
        );
        assert_eq!(
            denominator::gradient(&net, x.as_view(), y.as_view())?,
            (e_fast, dw_fast.clone())
        );
        // Both forms compute the same ∂E/∂W_i, up to the order of their sums.
        for (slow_i, fast_i) in dw_slow.layers().iter().zip(dw_fast.layers()) {
            let scale = fast_i.amax().max(1e-300);
            assert!(max_abs_difference(slow_i.as_view(), fast_i.as_view()) <= 1e-12 * scale);
        }
        // What the counts must be: 0 + 1 + … + (n − 1) chain steps against n − 1; n outer
        // products each; and the multiplications inside them.
        let steps = (n * (n - 1) / 2, n - 1);
        assert_eq!(
            slow,
            Products {
                chain: steps.0,
                outer: n,
                multiplications: steps.0 * STEP + n * OUTER,
            }
        );
        assert_eq!(
            fast,
            Products {
                chain: steps.1,
                outer: n,
                multiplications: steps.1 * STEP + n * OUTER,
            }
        );
        println!(
            "| {n} | {} | {} | {:.1}× | {} | {} |",
            slow.chain,
            fast.chain,
            slow.chain as f64 / fast.chain as f64,
            slow.multiplications,
            fast.multiplications
        );
        deepest = (n, slow.multiplications as f64 / fast.multiplications as f64);
    }
    // ANCHOR_END: table
    println!();
    println!(
        "At n = {}, the naive chain performs {:.1}× the scalar multiplications of backprop.",
        deepest.0, deepest.1
    );
    Ok(())
}
