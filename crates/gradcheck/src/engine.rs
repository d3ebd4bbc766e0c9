//! Incremental loss evaluation: E(W + t·e_{jk}) − E(W) for one element of one W_i, from cached
//! activations, touching only what lies above.
//!
//! Perturbing W_i^{jk} by t changes z_{i+1} only in row j, by t·a_i^k (one value per sample).
//! Then, with r = y − z_n and ΔE = E(W + t) − E(W):
//!
//! ```text
//! i + 1 = n (output layer):        ΔE = Σ_s Δz_s (Δz_s − 2 r_{js})                 O(B)
//! i + 1 = n − 1 (last hidden):     Δa_s = σ(z_{n−1}^{js} + Δz_s) − a_{n−1}^{js}
//!                                  ΔE = Σ_s Δa_s (Δa_s c_j − 2 d_{js})             O(B)
//!                                  c_j = ‖W_{n−1}[:, j]‖², d = W_{n−1}ᵀ r          (cached)
//! deeper:                          Δz_{i+2} = W_{i+1}[:, j] Δa, then dense:
//!                                  Δa_m = σ(z_m + Δz_m) − a_m, Δz_{m+1} = W_m Δa_m, up to z_n
//! ```
//!
//! Computing the difference ΔE directly, rather than E(W + t) and E(W) and subtracting, avoids
//! the cancellation of two nearly equal losses. Each difference carries a bound on its own
//! rounding error, propagated alongside: err(Δa) from the evaluation of σ and of z + Δz,
//! err(Δz_{m+1}) = |W_m| err(Δa_m) + γ_{l_m} |W_m| |Δa_m|, and at the output
//! err(ΔE) = Σ |2Δz − 2r| err(Δz) + 3u |Δz| |Δz − 2r|.

use crate::verdict::{Crossing, Eval, gamma};
use backprop::{ActivationFn, Scalar};
use nalgebra::DMatrix;

/// Relative accuracy assumed of σ and σ′, in units of the unit roundoff u (a few ulps).
pub(crate) const SIGMA_ULPS: f64 = 8.0;

/// Cached forward pass and scratch buffers for incremental evaluation in scalar `F`.
pub(crate) struct Engine<'a, F: Scalar> {
    pub w: Vec<DMatrix<F>>,
    /// |W_m| in f64, for the error bounds.
    pub abs_w: Vec<DMatrix<f64>>,
    pub act: &'a dyn ActivationFn<F>,
    pub kinks: Vec<f64>,
    pub sizes: Vec<usize>,
    pub n: usize,
    pub b: usize,
    /// z[m] = z_{m+1}, l_{m+1} × B.
    pub z: Vec<DMatrix<F>>,
    /// a[m] = a_m, l_m × B (a_0 = x).
    pub a: Vec<DMatrix<F>>,
    /// r = y − z_n.
    pub r: DMatrix<F>,
    pub loss: F,
    /// c_j = ‖W_{n−1}[:, j]‖² (n ≥ 2).
    c: Vec<F>,
    /// d = W_{n−1}ᵀ r, l_{n−1} × B (n ≥ 2).
    d: DMatrix<F>,
    /// γ_{l_n} |W_{n−1}|ᵀ |r|: the rounding bound of d.
    d_err: DMatrix<f64>,
    /// tau[m]: how close z_{m+1} may come to a kink before its side is uncertain.
    pub tau: Vec<DMatrix<f64>>,
    /// The unit roundoff of F.
    pub u: f64,
    // Scratch for the dense path: dz[m] = Δz_{m+1}, ez[m] its error bound; za/da for σ.
    dz: Vec<DMatrix<F>>,
    ez: Vec<DMatrix<f64>>,
    zp: Vec<F>,
    ap: Vec<F>,
    da: Vec<F>,
    ea: Vec<f64>,
}

impl<'a, F: Scalar> Engine<'a, F> {
    /// The forward pass of `w` on `x`, with r = y − z_n, E, and the caches.
    pub fn new(
        w: Vec<DMatrix<F>>,
        act: &'a dyn ActivationFn<F>,
        x: DMatrix<F>,
        y: DMatrix<F>,
    ) -> Self {
        let n = w.len();
        let b = x.ncols();
        let mut sizes = vec![w[0].ncols()];
        sizes.extend(w.iter().map(|w| w.nrows()));
        let mut a = vec![x];
        let mut z = Vec::with_capacity(n);
        for m in 0..n {
            let zm = &w[m] * &a[m];
            if m + 1 < n {
                let mut am = DMatrix::zeros(zm.nrows(), zm.ncols());
                act.apply(zm.as_slice(), am.as_mut_slice());
                a.push(am);
            }
            z.push(zm);
        }
        let r = &y - &z[n - 1];
        let loss = r.iter().fold(F::zero(), |e, &r| e + r * r);
        let u = F::EPSILON.as_f64() / 2.0;
        let abs_w: Vec<DMatrix<f64>> = w.iter().map(|w| w.map(|v| v.as_f64().abs())).collect();
        let (c, d, d_err) = if n >= 2 {
            let last = &w[n - 1];
            let c = (0..last.ncols())
                .map(|j| last.column(j).norm_squared())
                .collect();
            let abs_r = r.map(|v| v.as_f64().abs());
            let d_err = abs_w[n - 1].tr_mul(&abs_r) * gamma(sizes[n] + 1, u);
            (c, last.tr_mul(&r), d_err)
        } else {
            (Vec::new(), DMatrix::zeros(0, 0), DMatrix::zeros(0, 0))
        };
        let max_l = sizes.iter().copied().max().unwrap_or(1);
        Self {
            abs_w,
            kinks: act.kinks().to_vec(),
            tau: z
                .iter()
                .map(|z| DMatrix::zeros(z.nrows(), z.ncols()))
                .collect(),
            dz: z
                .iter()
                .map(|z| DMatrix::zeros(z.nrows(), z.ncols()))
                .collect(),
            ez: z
                .iter()
                .map(|z| DMatrix::zeros(z.nrows(), z.ncols()))
                .collect(),
            zp: vec![F::zero(); max_l * b],
            ap: vec![F::zero(); max_l * b],
            da: vec![F::zero(); max_l * b],
            ea: vec![0.0; max_l * b],
            w,
            act,
            sizes,
            n,
            b,
            z,
            a,
            r,
            loss,
            c,
            d,
            d_err,
            u,
        }
    }

    /// Whether moving z from `z` to `zp` crosses, meets or starts near a kink (`tau`: the
    /// rounding uncertainty of z).
    #[inline]
    fn crossing(&self, z: f64, zp: f64, tau: f64) -> Crossing {
        let mut worst = Crossing::None;
        for &k in &self.kinks {
            if (z - k).abs() <= tau {
                return Crossing::AtKink;
            }
            if (z - k) * (zp - k) <= 0.0 || (zp - k).abs() <= tau {
                worst = Crossing::Crossed;
            }
        }
        worst
    }

    /// ΔE for W_i^{jk} ← W_i^{jk} + t, with its rounding bound and kink crossing.
    pub fn element(&mut self, i: usize, j: usize, k: usize, t: F) -> (Eval, Crossing) {
        let n = self.n;
        let b = self.b;
        let u = self.u;
        let two = F::of_f64(2.0);
        let a_i = &self.a[i];
        let rows = self.sizes[i + 1];
        if i + 1 == n {
            // Output layer: ΔE = Σ_s Δz (Δz − 2r).
            let mut de = F::zero();
            let mut err = 0.0;
            for s in 0..b {
                let dz = t * a_i[(k, s)];
                let q = dz - two * self.r[(j, s)];
                de += dz * q;
                let (dzf, qf) = (dz.as_f64().abs(), q.as_f64().abs());
                // Δz = t a rounded (u |Δz|, times |∂ΔE/∂Δz| ≤ |Δz| + |q|), then q, the product
                // and the sum over the batch.
                err += (dzf + qf) * u * dzf + (4.0 + b as f64) * u * dzf * qf;
            }
            return (
                Eval {
                    de: de.as_f64(),
                    err,
                },
                Crossing::None,
            );
        }
        // Hidden unit j of layer m = i + 1 changes: Δa_s = σ(z + Δz) − a.
        let m = i + 1;
        let mut crossing = Crossing::None;
        let zm = &self.z[i];
        let am = &self.a[m];
        for s in 0..b {
            let dz = t * a_i[(k, s)];
            if dz == F::zero() {
                self.da[s] = F::zero();
                self.ea[s] = 0.0;
                continue;
            }
            let z = zm[(j, s)];
            let zp = z + dz;
            if !self.kinks.is_empty() {
                crossing =
                    crossing.max(self.crossing(z.as_f64(), zp.as_f64(), self.tau[i][(j, s)]));
            }
            let sp = self.act.sigma(zp);
            let a = am[(j, s)];
            let da = sp - a;
            self.da[s] = da;
            // σ to SIGMA_ULPS, the subtraction, and z + Δz rounded (times the secant slope).
            let slope = (da.as_f64() / dz.as_f64()).abs();
            self.ea[s] = SIGMA_ULPS * u * (sp.as_f64().abs() + a.as_f64().abs())
                + u * da.as_f64().abs()
                + slope * u * (zp.as_f64().abs() + dz.as_f64().abs());
        }
        if m == n - 1 {
            // ΔE = Σ_s Δa (Δa c_j − 2 d_js).
            let c = self.c[j];
            let cf = c.as_f64();
            let gc = gamma(self.sizes[n] + 1, u);
            let mut de = F::zero();
            let mut err = 0.0;
            for s in 0..b {
                let da = self.da[s];
                let d = self.d[(j, s)];
                de += da * (da * c - two * d);
                let (daf, df) = (da.as_f64().abs(), d.as_f64().abs());
                // err(Δa) times |∂ΔE/∂Δa|; c and d rounded (d may cancel: its bound is
                // γ |W|ᵀ|r|); the products and the sum over the batch.
                err += (2.0 * daf * cf + 2.0 * df) * self.ea[s]
                    + daf * (daf * cf * gc + 2.0 * self.d_err[(j, s)])
                    + (4.0 + b as f64) * u * daf * (daf * cf + 2.0 * df);
            }
            return (
                Eval {
                    de: de.as_f64(),
                    err,
                },
                crossing,
            );
        }
        // Deeper: Δz_{m+1} = W_m[:, j] Δa, then the dense path.
        let _ = rows;
        let wm = &self.w[m];
        let awm = &self.abs_w[m];
        let next = self.sizes[m + 1];
        for s in 0..b {
            let da = self.da[s];
            let ea = self.ea[s];
            for r in 0..next {
                let v = wm[(r, j)] * da;
                self.dz[m][(r, s)] = v;
                self.ez[m][(r, s)] = awm[(r, j)] * ea + u * v.as_f64().abs();
            }
        }
        let (eval, c2) = self.dense_from(m + 1);
        (eval, crossing.max(c2))
    }

    /// ΔE for W_i ← W_i + t V, given VA = V a_i (l_{i+1} × B) and a bound on its rounding.
    pub fn direction(
        &mut self,
        i: usize,
        va: &DMatrix<F>,
        err_va: &DMatrix<f64>,
        t: F,
    ) -> (Eval, Crossing) {
        let u = self.u;
        let tf = t.as_f64().abs();
        for (idx, (&v, &e)) in va.iter().zip(err_va.iter()).enumerate() {
            let dz = t * v;
            self.dz[i].as_mut_slice()[idx] = dz;
            self.ez[i].as_mut_slice()[idx] = tf * e + u * dz.as_f64().abs();
        }
        self.dense_from(i + 1)
    }

    /// Propagates Δz_m (in `dz[m − 1]`, with error bound `ez[m − 1]`) up to the loss.
    fn dense_from(&mut self, m: usize) -> (Eval, Crossing) {
        let n = self.n;
        let b = self.b;
        let u = self.u;
        let mut crossing = Crossing::None;
        let mut m = m;
        while m < n {
            // Δa_m = σ(z_m + Δz_m) − a_m.
            let len = self.sizes[m] * b;
            {
                let z = self.z[m - 1].as_slice();
                let dz = self.dz[m - 1].as_slice();
                for p in 0..len {
                    self.zp[p] = z[p] + dz[p];
                }
            }
            self.act.apply(&self.zp[..len], &mut self.ap[..len]);
            {
                let z = self.z[m - 1].as_slice();
                let dz = self.dz[m - 1].as_slice();
                let ez = self.ez[m - 1].as_slice();
                let tau = self.tau[m - 1].as_slice();
                let a = self.a[m].as_slice();
                for p in 0..len {
                    if dz[p] == F::zero() && ez[p] == 0.0 {
                        self.da[p] = F::zero();
                        self.ea[p] = 0.0;
                        continue;
                    }
                    if !self.kinks.is_empty() {
                        crossing = crossing.max(self.crossing(
                            z[p].as_f64(),
                            self.zp[p].as_f64(),
                            tau[p] + ez[p],
                        ));
                    }
                    let da = self.ap[p] - a[p];
                    self.da[p] = da;
                    let dzf = dz[p].as_f64();
                    let slope = if dzf != 0.0 {
                        (da.as_f64() / dzf).abs()
                    } else {
                        0.0
                    };
                    let slope = slope.max(1.0);
                    self.ea[p] = SIGMA_ULPS * u * (self.ap[p].as_f64().abs() + a[p].as_f64().abs())
                        + u * da.as_f64().abs()
                        + slope * (ez[p] + u * self.zp[p].as_f64().abs());
                }
            }
            // Δz_{m+1} = W_m Δa_m, err = |W_m| err(Δa) + γ_{l_m} |W_m| |Δa|.
            let (rows, cols) = (self.sizes[m + 1], self.sizes[m]);
            let g = gamma(cols, u);
            let w = self.w[m].as_slice();
            let aw = self.abs_w[m].as_slice();
            let (dz, ez) = (&mut self.dz[m], &mut self.ez[m]);
            let (dz, ez) = (dz.as_mut_slice(), ez.as_mut_slice());
            dz.fill(F::zero());
            ez.fill(0.0);
            for s in 0..b {
                let dzs = &mut dz[s * rows..(s + 1) * rows];
                let ezs = &mut ez[s * rows..(s + 1) * rows];
                for q in 0..cols {
                    let da = self.da[s * cols + q];
                    let ea = self.ea[s * cols + q];
                    if da == F::zero() && ea == 0.0 {
                        continue;
                    }
                    let daf = da.as_f64().abs();
                    let wq = &w[q * rows..(q + 1) * rows];
                    let awq = &aw[q * rows..(q + 1) * rows];
                    for r in 0..rows {
                        dzs[r] += wq[r] * da;
                        ezs[r] += awq[r] * (ea + g * daf);
                    }
                }
            }
            m += 1;
        }
        // Output: ΔE = Σ Δz (Δz − 2r).
        let two = F::of_f64(2.0);
        let mut de = F::zero();
        let mut err = 0.0;
        let dz = self.dz[n - 1].as_slice();
        let ez = self.ez[n - 1].as_slice();
        for (p, &r) in self.r.as_slice().iter().enumerate() {
            let q = dz[p] - two * r;
            de += dz[p] * q;
            let (dzf, qf) = (dz[p].as_f64().abs(), q.as_f64().abs());
            err += (2.0 * dzf + qf) * ez[p] + 4.0 * u * dzf * qf;
        }
        (
            Eval {
                de: de.as_f64(),
                err,
            },
            crossing,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backprop::Activation;
    use proptest::prelude::*;

    /// E(W) by a plain forward pass from scratch: the slow, obviously correct reference.
    fn loss(w: &[DMatrix<f64>], act: &Activation, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
        let mut a = x.clone();
        for (m, wm) in w.iter().enumerate() {
            let z = wm * &a;
            if m + 1 == w.len() {
                return (y - z).norm_squared();
            }
            a = z.map(|v| ActivationFn::<f64>::sigma(act, v));
        }
        unreachable!("a network has at least one layer")
    }

    prop_compose! {
        fn case()(sizes in prop::collection::vec(1usize..6, 2..6), b in 1usize..4, act in 0usize..6, seed in any::<u64>())
            -> (Vec<usize>, usize, Activation, u64) {
            (sizes, b, Activation::ALL[act], seed)
        }
    }

    fn data(
        sizes: &[usize],
        b: usize,
        seed: u64,
    ) -> (Vec<DMatrix<f64>>, DMatrix<f64>, DMatrix<f64>) {
        let mut s = seed;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let w = sizes
            .windows(2)
            .map(|l| DMatrix::from_fn(l[1], l[0], |_, _| next()))
            .collect();
        let x = DMatrix::from_fn(sizes[0], b, |_, _| next());
        let y = DMatrix::from_fn(sizes[sizes.len() - 1], b, |_, _| next());
        (w, x, y)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The incremental ΔE (one element, or one direction) equals E(W + t) − E(W) recomputed
        /// from scratch, to within the rounding bound the engine reports (plus the reference's
        /// own rounding, a few ulps of E).
        #[test]
        fn incremental_difference_matches_full_reevaluation((sizes, b, act, seed) in case(), t in -0.5f64..0.5) {
            let (w, x, y) = data(&sizes, b, seed);
            let e0 = loss(&w, &act, &x, &y);
            let mut eng = Engine::new(w.clone(), &act, x.clone(), y.clone());
            prop_assert!((eng.loss - e0).abs() <= 1e-12 * (1.0 + e0));
            for i in 0..w.len() {
                let (j, k) = ((seed as usize) % w[i].nrows(), (seed as usize / 7) % w[i].ncols());
                let mut wp = w.clone();
                wp[i][(j, k)] += t;
                let want = loss(&wp, &act, &x, &y) - e0;
                let (got, _) = eng.element(i, j, k, t);
                let slack = got.err + 64.0 * f64::EPSILON * (1.0 + e0 + want.abs());
                prop_assert!((got.de - want).abs() <= slack, "layer {i}: {} vs {want} (err {})", got.de, got.err);

                let v = DMatrix::from_fn(w[i].nrows(), w[i].ncols(), |r, c| ((r * 3 + c * 5) % 7) as f64 / 7.0 - 0.4);
                let va = &v * &eng.a[i];
                let err_va = (v.abs() * eng.a[i].abs()) * gamma(sizes[i] + 1, eng.u);
                let mut wp = w.clone();
                wp[i] += &v * t;
                let want = loss(&wp, &act, &x, &y) - e0;
                let (got, _) = eng.direction(i, &va, &err_va, t);
                let slack = got.err + 64.0 * f64::EPSILON * (1.0 + e0 + want.abs()) * (1.0 + w[i].len() as f64);
                prop_assert!((got.de - want).abs() <= slack, "layer {i} direction: {} vs {want} (err {})", got.de, got.err);
            }
        }
    }
}
