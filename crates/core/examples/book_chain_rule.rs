//! The book's chapter "The chain rule in numerator layout": the seed's Jacobian chain for the
//! 3-4-5-2 network, multiplied left to right with every factor an explicit matrix, printing the
//! shape of each factor and checking the result against `gradient::numerator`.
//!
//! Run: `cargo run --release -p backprop --example book_chain_rule`

use backprop::gradient::numerator;
use backprop::{Activation, Network};
use nalgebra::{DMatrix, RowDVector};

/// |a − b| ≤ tol in every element, shapes equal. False when either holds a NaN (a maximum of
/// differences would skip it).
fn close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

fn main() -> Result<(), backprop::Error> {
    let net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    let x = DMatrix::from_column_slice(3, 1, &[0.5, -0.1, 0.3]);
    let y = DMatrix::from_column_slice(2, 1, &[1.0, -1.0]);
    let trace = net.forward(x.as_view())?;
    let n = net.depth();

    // ANCHOR: chain
    // ∂E/∂z_n = −2 (y − z_n)ᵀ: the derivative of a scalar by a column is a row, 1 × l_n.
    let mut de_dz: RowDVector<f64> = (trace.output() - &y).transpose().row(0) * 2.0;
    println!("∂E/∂z_{n}: {} × {}", de_dz.nrows(), de_dz.ncols());
    let mut de_dw = vec![DMatrix::zeros(0, 0); n];
    for i in (0..n).rev() {
        // The pesky last factor, avoided: (∂E/∂W_i)^{jk} = ∂E/∂z_{i+1}^j a_i^k, so in numerator
        // layout ∂E/∂W_i = a_i · ∂E/∂z_{i+1}, a column times a row: l_i × l_{i+1}, like W_iᵀ.
        let a_i = trace.a(i).column(0);
        de_dw[i] = a_i * &de_dz;
        println!("∂E/∂W_{i}: {} × {}", de_dw[i].nrows(), de_dw[i].ncols());
        if i > 0 {
            // ∂z_{i+1}/∂a_i = W_i (l_{i+1} × l_i) and ∂a_i/∂z_i = diag(σ′(z_i)) (l_i × l_i).
            let w_i = net.weight(i);
            let sigma_prime = trace.z(i).map(|z| net.activation().sigma_prime(z));
            let diag = DMatrix::from_diagonal(&sigma_prime.column(0));
            print!("∂E/∂z_{} · W_{i} · diag(σ′(z_{i})): ", i + 1);
            print!(
                "(1 × {}) · ({} × {}) · ",
                de_dz.ncols(),
                w_i.nrows(),
                w_i.ncols()
            );
            // ∂E/∂z_i = ∂E/∂z_{i+1} · ∂z_{i+1}/∂a_i · ∂a_i/∂z_i: the shapes chain up.
            de_dz = &de_dz * w_i * &diag;
            println!(
                "({} × {}) = 1 × {}",
                diag.nrows(),
                diag.ncols(),
                de_dz.ncols()
            );
        }
    }
    // ANCHOR_END: chain

    // ANCHOR: check
    // The crate's numerator layout is the same chain; its gradients have the shape of W_iᵀ.
    let (_, num) = numerator::gradient(&net, x.as_view(), y.as_view())?;
    for i in 0..n {
        assert_eq!(num.layer(i).shape(), net.weight(i).transpose().shape());
        assert!(close(num.layer(i), &de_dw[i], 1e-15));
    }
    println!("the chain above equals numerator::gradient, layer by layer");
    // ANCHOR_END: check
    Ok(())
}
