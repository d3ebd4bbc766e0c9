//! A running error bound for backpropagation: how far a computed ∂E/∂W_i may lie from the exact
//! one because of rounding alone, in a scalar with unit roundoff u.
//!
//! Magnitudes and error bounds travel with the forward and backward pass (first order in u;
//! γ_k = k u / (1 − k u) for a sum of k products; σ and σ′ good to a few ulps):
//!
//! ```text
//! e(z_{m+1}) = γ_{l_m} |W_m| |a_m| + |W_m| e(a_m)          e(a_0) = 0
//! e(a_m)     = c u |a_m| + |σ′(z_m)| e(z_m)
//! |δ|_n = 2 |r|,  e(δ_n) = 2 (e(z_n) + u |r|)
//! |δ|_m = |σ′(z_m)| ⊙ |W_m|ᵀ |δ|_{m+1}
//! e(δ_m) = |σ′| ⊙ (γ_{l_{m+1}} |W_m|ᵀ|δ|_{m+1} + |W_m|ᵀ e(δ_{m+1}))
//!          + (c u (|σ′| + 1) + |σ′'| e(z_m)) ⊙ |W_m|ᵀ|δ|_{m+1}
//! e(∂E/∂W_i) = 2 (γ_{B+1} |δ|_{i+1} |a_i|ᵀ + e(δ_{i+1}) |a_i|ᵀ + |δ|_{i+1} e(a_i)ᵀ)
//! ```
//!
//! σ′ is assumed good to a few ulps of max(|σ′|, 1), not of |σ′| alone: the usual formulas
//! 1 − tanh²z and s(1 − s) cancel where σ saturates, and their error there is absolute (a
//! property test found this: an f32 tanh network with σ′ ≈ 10⁻⁴ computes it to 3·10⁻⁴
//! relative). |σ′'| is estimated by a central difference of σ′. The factor 2 covers
//! second-order terms.

use crate::engine::{Engine, SIGMA_ULPS};
use crate::verdict::gamma;
use backprop::Scalar;
use nalgebra::DMatrix;

/// |σ′(z_m)| and an estimate of |σ′'(z_m)| for the hidden layers m = 1..n−1 (index m − 1).
pub(crate) struct Slopes {
    sp: Vec<DMatrix<f64>>,
    spp: Vec<DMatrix<f64>>,
}

impl Slopes {
    pub fn new<F: Scalar>(eng: &Engine<'_, F>) -> Self {
        let n = eng.n;
        let t0 = F::EPSILON.as_f64().sqrt();
        let mut sp = Vec::with_capacity(n.saturating_sub(1));
        let mut spp = Vec::with_capacity(n.saturating_sub(1));
        for m in 1..n {
            let z = &eng.z[m - 1];
            sp.push(z.map(|z| eng.act.sigma_prime(z).as_f64().abs()));
            spp.push(z.map(|z| {
                let t = t0 * (1.0 + z.as_f64().abs());
                let tt = F::of_f64(t);
                let hi = eng.act.sigma_prime(z + tt).as_f64();
                let lo = eng.act.sigma_prime(z - tt).as_f64();
                ((hi - lo) / (2.0 * t)).abs()
            }));
        }
        Self { sp, spp }
    }
}

/// Error bounds for a scalar with unit roundoff `u`.
pub(crate) struct Bounds {
    /// e(z_{m+1}), l_{m+1} × B.
    pub ez: Vec<DMatrix<f64>>,
    /// e(∂E/∂W_i), the shape of W_i.
    pub eg: Vec<DMatrix<f64>>,
}

pub(crate) fn bounds<F: Scalar>(eng: &Engine<'_, F>, slopes: &Slopes, u: f64) -> Bounds {
    let n = eng.n;
    let b = eng.b;
    let c = SIGMA_ULPS * u;
    let abs_a: Vec<DMatrix<f64>> = eng.a.iter().map(|a| a.map(|v| v.as_f64().abs())).collect();
    // Forward.
    let mut ea: Vec<DMatrix<f64>> = Vec::with_capacity(n);
    ea.push(DMatrix::zeros(eng.sizes[0], b));
    let mut ez = Vec::with_capacity(n);
    for m in 0..n {
        let aw = &eng.abs_w[m];
        let e = aw * &abs_a[m] * gamma(eng.sizes[m], u) + aw * &ea[m];
        if m + 1 < n {
            let next = &abs_a[m + 1] * c + slopes.sp[m].component_mul(&e);
            ea.push(next);
        }
        ez.push(e);
    }
    // Backward.
    let abs_r = eng.r.map(|v| v.as_f64().abs());
    let mut md = &abs_r * 2.0;
    let mut ed = (&ez[n - 1] + &abs_r * u) * 2.0;
    let mut eg = vec![DMatrix::zeros(0, 0); n];
    for i in (0..n).rev() {
        // e(∂E/∂W_i)^{jk} = 2 Σ_s ((γ |δ|^{js} + e(δ)^{js}) |a|^{ks} + |δ|^{js} e(a)^{ks}),
        // written as one product of stacked factors so it runs as a single GEMM:
        //   e(∂E/∂W_i) = 2 [γ|Δ| + e(Δ) | |Δ|] · [|A_i| | e(A_i)]ᵀ.
        let gb = gamma(b + 1, u);
        let (rows, cols) = (md.nrows(), abs_a[i].nrows());
        let mut left = DMatrix::zeros(rows, 2 * b);
        left.columns_mut(0, b).copy_from(&(&md * gb + &ed));
        left.columns_mut(b, b).copy_from(&md);
        let mut right_t = DMatrix::zeros(2 * b, cols);
        right_t.rows_mut(0, b).tr_copy_from(&abs_a[i]);
        right_t.rows_mut(b, b).tr_copy_from(&ea[i]);
        let mut g = DMatrix::zeros(rows, cols);
        g.gemm(2.0, &left, &right_t, 0.0);
        eg[i] = g;
        if i > 0 {
            let aw = &eng.abs_w[i];
            let mt = aw.tr_mul(&md);
            let et = &mt * gamma(eng.sizes[i + 1], u) + aw.tr_mul(&ed);
            let sp = &slopes.sp[i - 1];
            let spp = &slopes.spp[i - 1];
            let new_md = sp.component_mul(&mt);
            let new_ed = sp.component_mul(&et)
                + (sp.add_scalar(1.0) * c + spp.component_mul(&ez[i - 1])).component_mul(&mt)
                + &new_md * u;
            md = new_md;
            ed = new_ed;
        }
    }
    Bounds { ez, eg }
}
