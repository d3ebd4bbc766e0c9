//! The third oracle: forward-mode dual numbers (num-dual) computing ∂E/∂W_i^{jk} exactly.
//!
//! Seeding W_i^{jk} with tangent 1 makes ż_{i+1}^j = a_i^k and every other ż_{i+1} zero; the
//! dual forward pass above layer i carries ∂/∂W_i^{jk} of every z and a,
//!
//! ```text
//! ȧ_m = ε-part of σ(z_m + ε ż_m),   ż_{m+1} = W_m ȧ_m,   ∂E/∂W_i^{jk} = Σ_s −2 (y − z_n) · ż_n
//! ```
//!
//! with no truncation error: only rounding separates it from the exact derivative. The real
//! parts are the cached forward pass, so each element costs only the layers above it. σ comes
//! from a [`DualActivation`], written with num-dual's operations, so the derivative it yields
//! does not depend on the `sigma_prime` under test.

use crate::engine::Engine;
use crate::error::Result;
use crate::verdict::Crossing;
use backprop::{Activation, ActivationFn, DenominatorGradient, Gradient, Network, Scalar};
use nalgebra::{DMatrix, DMatrixView};
use num_dual::{Dual64, DualNum};
use std::sync::Arc;

/// σ evaluated on dual numbers: σ(z + ε ż) = σ(z) + ε σ′(z) ż.
///
/// Built in for [`backprop::Activation`]. Implement it for your own activation to use
/// [`crate::Oracle::Dual`] with it: write σ with num-dual's operations and its derivative
/// follows, independent of your `sigma_prime`.
///
/// ```
/// use backprop_gradcheck::DualActivation;
/// use num_dual::Dual64;
///
/// /// σ(z) = z³ / 3.
/// #[derive(Debug)]
/// struct Cubic;
/// impl DualActivation for Cubic {
///     fn sigma_dual(&self, z: Dual64) -> Dual64 { z * z * z / 3.0 }
/// }
/// assert_eq!(Cubic.sigma_dual(Dual64::new(2.0, 1.0)).eps, 4.0); // σ′(2) = 2² = 4
/// ```
pub trait DualActivation: std::fmt::Debug + Send + Sync {
    /// σ(z) on a dual number.
    fn sigma_dual(&self, z: Dual64) -> Dual64;
    /// The points where σ′ is discontinuous (as [`backprop::ActivationFn::kinks`]).
    fn kinks(&self) -> &[f64] {
        &[]
    }
}

impl DualActivation for Activation {
    fn sigma_dual(&self, z: Dual64) -> Dual64 {
        match *self {
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
            // ln(1 + e^z) = max(z, 0) + ln(1 + e^(−|z|)).
            Activation::Softplus => {
                if z.re > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                }
            }
            Activation::Identity => z,
            // Activation is exhaustive today; keep the compiler's exhaustiveness check.
        }
    }

    fn kinks(&self) -> &[f64] {
        ActivationFn::<f64>::kinks(self)
    }
}

/// A [`DualActivation`] as a real activation: σ(z) = re σ(z + 0ε), σ′(z) = eps σ(z + 1ε).
#[derive(Debug)]
pub(crate) struct DualAsReal(pub Arc<dyn DualActivation>);

impl ActivationFn<f64> for DualAsReal {
    fn name(&self) -> String {
        format!("{:?}", self.0)
    }
    fn sigma(&self, z: f64) -> f64 {
        self.0.sigma_dual(Dual64::new(z, 0.0)).re
    }
    fn sigma_prime(&self, z: f64) -> f64 {
        self.0.sigma_dual(Dual64::new(z, 1.0)).eps
    }
    fn kinks(&self) -> &[f64] {
        self.0.kinks()
    }
}

/// The built-in dual activation of the same name as `net`'s activation, if it is built in.
pub fn builtin_for<T: Scalar>(net: &Network<T>) -> Option<Arc<dyn DualActivation>> {
    net.activation()
        .name()
        .parse::<Activation>()
        .ok()
        .map(|a| Arc::new(a) as Arc<dyn DualActivation>)
}

/// Tangent buffers for one element's dual pass.
pub(crate) struct DualScratch {
    dz: Vec<f64>,
    da: Vec<f64>,
}

impl DualScratch {
    pub fn new(sizes: &[usize], b: usize) -> Self {
        let max_l = sizes.iter().copied().max().unwrap_or(1);
        Self {
            dz: vec![0.0; max_l * b],
            da: vec![0.0; max_l * b],
        }
    }
}

/// ∂E/∂W_i^{jk} by one forward-mode pass above layer i, and whether a pre-activation with a
/// non-zero tangent lies within its rounding error of a kink.
pub(crate) fn element<F: Scalar>(
    eng: &Engine<'_, F>,
    act: &dyn DualActivation,
    scratch: &mut DualScratch,
    i: usize,
    j: usize,
    k: usize,
) -> (f64, Crossing) {
    let n = eng.n;
    let b = eng.b;
    let kinks = act.kinks();
    let mut crossing = Crossing::None;
    // ż_{i+1}: row j is a_i^k, the rest 0.
    let mut m = i + 1;
    let mut rows = eng.sizes[m];
    scratch.dz[..rows * b].fill(0.0);
    for s in 0..b {
        scratch.dz[s * rows + j] = eng.a[i][(k, s)].as_f64();
    }
    while m < n {
        let z = eng.z[m - 1].as_slice();
        let tau = eng.tau[m - 1].as_slice();
        for p in 0..rows * b {
            let dz = scratch.dz[p];
            if dz == 0.0 {
                scratch.da[p] = 0.0;
                continue;
            }
            let zp = z[p].as_f64();
            if kinks.iter().any(|&kk| (zp - kk).abs() <= tau[p]) {
                crossing = Crossing::AtKink;
            }
            scratch.da[p] = act.sigma_dual(Dual64::new(zp, dz)).eps;
        }
        // ż_{m+1} = W_m ȧ_m.
        let next = eng.sizes[m + 1];
        let w = eng.w[m].as_slice();
        for s in 0..b {
            let out = &mut scratch.dz[s * next..(s + 1) * next];
            out.fill(0.0);
            for q in 0..rows {
                let da = scratch.da[s * rows + q];
                if da == 0.0 {
                    continue;
                }
                for (o, wv) in out.iter_mut().zip(&w[q * next..(q + 1) * next]) {
                    *o += wv.as_f64() * da;
                }
            }
        }
        m += 1;
        rows = next;
    }
    // Ė = Σ −2 r ż_n.
    let mut de = 0.0;
    for (p, r) in eng.r.as_slice().iter().enumerate() {
        de -= 2.0 * r.as_f64() * scratch.dz[p];
    }
    (de, crossing)
}

/// ∂E/∂W_i for every element by forward-mode dual numbers, in f64 (an f32 network's weights and
/// data are widened exactly), with E. σ comes from `act` alone, real parts included.
///
/// # Errors
/// [`crate::Error::Core`] for a batch that does not fit the network.
pub fn gradient<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    act: Arc<dyn DualActivation>,
) -> Result<(f64, DenominatorGradient<f64>)> {
    net.check_batch(x, y)?;
    let real = DualAsReal(act.clone());
    let w: Vec<DMatrix<f64>> = net
        .weights()
        .iter()
        .map(|w| w.map(|v| v.as_f64()))
        .collect();
    let eng = Engine::new(w, &real, x.map(|v| v.as_f64()), y.map(|v| v.as_f64()));
    let mut scratch = DualScratch::new(&eng.sizes, eng.b);
    let mut layers = Vec::with_capacity(eng.n);
    for i in 0..eng.n {
        let (rows, cols) = (eng.sizes[i + 1], eng.sizes[i]);
        let mut g = DMatrix::zeros(rows, cols);
        for k in 0..cols {
            for j in 0..rows {
                g[(j, k)] = element(&eng, &*act, &mut scratch, i, j, k).0;
            }
        }
        layers.push(g);
    }
    Ok((eng.loss, Gradient::from_layers(layers)))
}
