//! The book's chapter "Why backprop is O(n)": the naive chain, which multiplies every
//! ∂E/∂z_{i+1} from ∂E/∂z_n down afresh, against backpropagation, which reuses ∂E/∂z_{i+2} for
//! ∂E/∂z_{i+1}. Both run on networks of depth n = 2…32 with every product counted as it is
//! performed; the gradients are checked against `gradient::naive` and `gradient::denominator`,
//! and the table of counts is printed in Markdown (the book includes it as printed).
//!
//! Run: `cargo run --release -p backprop --example book_dynamic_programming`

use backprop::gradient::{denominator, naive};
use backprop::{Activation, Network, Trace};
use nalgebra::{DMatrix, RowDVector};

// ANCHOR: counter
// COUNTING WRAPPER, local to this example: it re-runs the two chains of `gradient::naive` and
// `gradient::denominator` (one sample) with a counter on every product. Replace it with the
// core's product-counting API once that lands (issue 17).
#[derive(Default)]
struct Products {
    /// Chain steps ∂E/∂z_i = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)).
    chain: usize,
    /// Outer products ∂E/∂W_i = (∂E/∂z_{i+1})ᵀ a_iᵀ.
    outer: usize,
    /// Scalar multiplications inside both.
    multiplications: usize,
}

impl Products {
    fn chain_step(
        &mut self,
        row: &RowDVector<f64>,
        net: &Network<f64>,
        trace: &Trace<f64>,
        i: usize,
    ) -> RowDVector<f64> {
        let w = net.weight(i);
        self.chain += 1;
        self.multiplications += w.nrows() * w.ncols() + w.ncols();
        let sigma_prime = trace
            .z(i)
            .column(0)
            .map(|z| net.activation().sigma_prime(z));
        (row * w).component_mul(&sigma_prime.transpose())
    }

    fn outer(&mut self, row: &RowDVector<f64>, trace: &Trace<f64>, i: usize) -> DMatrix<f64> {
        let a = trace.a(i).column(0);
        self.outer += 1;
        self.multiplications += row.len() * a.len();
        row.transpose() * a.transpose()
    }
}
// ANCHOR_END: counter

// ANCHOR: naive
/// Every ∂E/∂W_i from scratch: the chain for W_i has n − 1 − i steps, n(n − 1)/2 in all.
fn naive_chain(
    net: &Network<f64>,
    trace: &Trace<f64>,
    de_dzn: &RowDVector<f64>,
    p: &mut Products,
) -> Vec<DMatrix<f64>> {
    let n = net.depth();
    (0..n)
        .map(|i| {
            let mut row = de_dzn.clone();
            for m in (i + 1..n).rev() {
                row = p.chain_step(&row, net, trace, m);
            }
            p.outer(&row, trace, i)
        })
        .collect()
}
// ANCHOR_END: naive

// ANCHOR: backprop
/// The same chain once, from layer n down, each step reusing the last: n − 1 steps in all.
fn backprop_chain(
    net: &Network<f64>,
    trace: &Trace<f64>,
    de_dzn: &RowDVector<f64>,
    p: &mut Products,
) -> Vec<DMatrix<f64>> {
    let n = net.depth();
    let mut dw = vec![DMatrix::zeros(0, 0); n];
    let mut row = de_dzn.clone();
    for i in (0..n).rev() {
        dw[i] = p.outer(&row, trace, i);
        if i > 0 {
            row = p.chain_step(&row, net, trace, i);
        }
    }
    dw
}
// ANCHOR_END: backprop

fn agree(counted: &[DMatrix<f64>], reference: &backprop::DenominatorGradient<f64>) -> bool {
    let scale = reference
        .layers()
        .iter()
        .map(|m| m.amax())
        .fold(1e-300, f64::max);
    counted.len() == reference.depth()
        && counted
            .iter()
            .zip(reference.layers())
            .all(|(c, r)| close(c, r, 1e-12 * scale))
}

/// |a − b| ≤ tol in every element, shapes equal. False when either holds a NaN (a maximum of
/// differences would skip it).
fn close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

fn main() -> Result<(), backprop::Error> {
    const WIDTH: usize = 8;
    // ANCHOR: table
    println!(
        "| n | naive chain steps | backprop chain steps | ratio | naive multiplications | backprop multiplications |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut deepest = (0, 0.0);
    for n in [2, 3, 4, 8, 16, 32] {
        let net = Network::<f64>::random(&vec![WIDTH; n + 1], Activation::Tanh, n as u64)?;
        let x = DMatrix::from_fn(WIDTH, 1, |r, _| (r as f64 - 3.5) / 4.0);
        let y = DMatrix::from_fn(WIDTH, 1, |r, _| if r % 2 == 0 { 1.0 } else { -1.0 });
        let trace = net.forward(x.as_view())?;
        let de_dzn: RowDVector<f64> = (trace.output() - &y).transpose().row(0) * 2.0;
        let (mut slow, mut fast) = (Products::default(), Products::default());
        let dw_naive = naive_chain(&net, &trace, &de_dzn, &mut slow);
        let dw_backprop = backprop_chain(&net, &trace, &de_dzn, &mut fast);
        // The counted chains compute the crate's gradients, not a stand-in.
        assert!(agree(
            &dw_naive,
            &naive::gradient(&net, x.as_view(), y.as_view())?.1
        ));
        assert!(agree(
            &dw_backprop,
            &denominator::gradient(&net, x.as_view(), y.as_view())?.1
        ));
        // What the counts must be: 0 + 1 + … + (n − 1) steps against n − 1; n outer products each.
        assert_eq!((slow.chain, fast.chain), (n * (n - 1) / 2, n - 1));
        assert_eq!((slow.outer, fast.outer), (n, n));
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
