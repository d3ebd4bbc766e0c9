//! An oracle for ∂E/∂W_i that shares nothing with the crate's gradient code: forward-mode dual
//! numbers (num-dual) through a forward pass written here, with σ written here on dual numbers.
//! Its derivative of σ comes from num-dual's chain rule on σ's formula, not from the crate's
//! `sigma_prime`, and its forward pass is not the crate's `Network::forward`.

#![allow(dead_code)]

use backprop::{Activation, Network, Scalar};
use nalgebra::DMatrix;
use num_dual::{Dual64, DualNum};

/// σ(z + ε ż) = σ(z) + ε σ'(z) ż, from σ's formula.
pub fn sigma_dual(act: Activation, z: Dual64) -> Dual64 {
    match act {
        Activation::Sigmoid => ((-z).exp() + 1.0).recip(),
        Activation::Tanh => z.tanh(),
        Activation::Relu => {
            if z.re > 0.0 {
                z
            } else {
                z * 0.0
            }
        }
        Activation::LeakyRelu { alpha } => {
            if z.re > 0.0 {
                z
            } else {
                z * alpha
            }
        }
        // ln(1 + e^z), written so that neither branch overflows.
        Activation::Softplus => {
            if z.re > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            }
        }
        Activation::Identity => z,
    }
}

/// ∂E/∂W_i (shaped like W_i, summed over the batch) of `net`'s weights and data widened to f64,
/// one dual forward pass per weight: E(W + ε e_{ijk}) = E + ε ∂E/∂W_i^{jk}. A pass starts at
/// layer i from a_i (the seeded weight changes nothing below), which this module's own plain
/// forward pass computes.
pub fn dual_gradient<T: Scalar>(
    net: &Network<T>,
    act: Activation,
    x: &DMatrix<T>,
    y: &DMatrix<T>,
) -> Vec<DMatrix<f64>> {
    let w: Vec<DMatrix<f64>> = net
        .weights()
        .iter()
        .map(|w| w.map(|v| v.as_f64()))
        .collect();
    let x = x.map(|v| v.as_f64());
    let y = y.map(|v| v.as_f64());
    let n = w.len();
    let b = x.ncols();
    // a[i] = a_i in f64: a_0 = x, z_{i+1} = W_i a_i, a_{i+1} = σ(z_{i+1}).
    let mut a = vec![x];
    for i in 0..n - 1 {
        let z = &w[i] * &a[i];
        a.push(z.map(|z| sigma_dual(act, Dual64::from_re(z)).re));
    }
    let mut g: Vec<DMatrix<f64>> = w
        .iter()
        .map(|w| DMatrix::zeros(w.nrows(), w.ncols()))
        .collect();
    for i in 0..n {
        for j in 0..w[i].nrows() {
            for k in 0..w[i].ncols() {
                let mut de = 0.0;
                for s in 0..b {
                    // z_{i+1} with W_i^{jk} + ε: only row j gets the ε term, a_i^k.
                    let mut v: Vec<Dual64> = (0..w[i].nrows())
                        .map(|r| {
                            let re: f64 =
                                (0..w[i].ncols()).map(|c| w[i][(r, c)] * a[i][(c, s)]).sum();
                            Dual64::new(re, if r == j { a[i][(k, s)] } else { 0.0 })
                        })
                        .collect();
                    for m in i + 1..n {
                        let act_v: Vec<Dual64> = v.iter().map(|&z| sigma_dual(act, z)).collect();
                        v = (0..w[m].nrows())
                            .map(|r| {
                                let mut sum = Dual64::from_re(0.0);
                                for (c, &av) in act_v.iter().enumerate() {
                                    sum += av * w[m][(r, c)];
                                }
                                sum
                            })
                            .collect();
                    }
                    // E_s = Σ_r (y^r − z_n^r)²
                    for (r, &z) in v.iter().enumerate() {
                        let d = z - y[(r, s)];
                        de += (d * d).eps;
                    }
                }
                g[i][(j, k)] = de;
            }
        }
    }
    g
}
