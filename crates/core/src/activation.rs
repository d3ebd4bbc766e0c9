//! Activation functions σ, with their derivatives σ′.
//!
//! The hidden layers compute a_i = σ(z_i) element by element (i = 1..n−1); the output z_n has no
//! activation. Backpropagation needs σ′(z_i) for the Jacobian ∂a_i/∂z_i = diag(σ′(z_i)).
//!
//! [`Activation`] lists the built-in functions; [`ActivationFn`] is the trait a user implements to
//! bring their own (and to check it with `backprop-gradcheck`).

use crate::error::Error;
use crate::scalar::Scalar;
use std::fmt::Debug;
use std::str::FromStr;

/// An element-wise activation σ with its derivative σ′.
///
/// Implement [`sigma`](ActivationFn::sigma) and [`sigma_prime`](ActivationFn::sigma_prime); the
/// slice methods default to loops over them and exist so that a network calls through a trait
/// object once per layer, not once per element.
///
/// ```
/// use backprop::{ActivationFn, Scalar};
///
/// /// σ(z) = z³ / 3, σ′(z) = z².
/// #[derive(Debug)]
/// struct Cubic;
///
/// impl<T: Scalar> ActivationFn<T> for Cubic {
///     fn name(&self) -> String { "cubic".into() }
///     fn sigma(&self, z: T) -> T { z * z * z / T::of_f64(3.0) }
///     fn sigma_prime(&self, z: T) -> T { z * z }
/// }
/// assert_eq!(ActivationFn::<f64>::sigma_prime(&Cubic, 3.0), 9.0);
/// ```
pub trait ActivationFn<T: Scalar>: Debug + Send + Sync {
    /// The name written to model files (`"activation"` metadata).
    fn name(&self) -> String;
    /// σ(z).
    fn sigma(&self, z: T) -> T;
    /// σ′(z) = dσ/dz.
    fn sigma_prime(&self, z: T) -> T;
    /// The points z at which σ′ is discontinuous (0 for relu), where a finite difference across
    /// the point does not estimate σ′. Smooth functions return an empty list (the default).
    fn kinks(&self) -> &[f64] {
        &[]
    }
    /// The built-in [`Activation`] this is, if any: lets the batched path use its vectorised
    /// kernels (the sigmoid's vectorised passes of `backprop-kernels`). `None` (the default) for
    /// other activations.
    fn builtin(&self) -> Option<Activation> {
        None
    }
    /// a = σ(z) element-wise. `z` and `a` have the same length.
    fn apply(&self, z: &[T], a: &mut [T]) {
        for (a, &z) in a.iter_mut().zip(z) {
            *a = self.sigma(z);
        }
    }
    /// d = σ′(z) element-wise. `z` and `d` have the same length.
    fn apply_prime(&self, z: &[T], d: &mut [T]) {
        for (d, &z) in d.iter_mut().zip(z) {
            *d = self.sigma_prime(z);
        }
    }
    /// d ← d ⊙ σ′(z) (the δ recursion's element-wise product). `z` and `d` have the same length.
    fn mul_prime(&self, z: &[T], d: &mut [T]) {
        for (d, &z) in d.iter_mut().zip(z) {
            *d *= self.sigma_prime(z);
        }
    }
}

/// The built-in activations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// σ(z) = 1 / (1 + e^(−z)), σ′(z) = σ(z)(1 − σ(z)). The seed's choice.
    Sigmoid,
    /// σ(z) = tanh z, σ′(z) = 1 − tanh² z.
    Tanh,
    /// σ(z) = max(0, z), σ′(z) = 1 for z > 0 and 0 otherwise (0 at the kink z = 0).
    Relu,
    /// σ(z) = z for z > 0 and αz otherwise, σ′(z) = 1 or α (α at the kink z = 0).
    LeakyRelu {
        /// The slope α for z ≤ 0 (0.01 by default).
        alpha: f64,
    },
    /// σ(z) = ln(1 + e^z), σ′(z) = 1 / (1 + e^(−z)).
    Softplus,
    /// σ(z) = z, σ′(z) = 1: the network is linear.
    Identity,
}

/// The default slope of [`Activation::LeakyRelu`].
pub const LEAKY_RELU_ALPHA: f64 = 0.01;

impl Activation {
    /// Every built-in activation (leaky relu with α = 0.01).
    pub const ALL: [Activation; 6] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu {
            alpha: LEAKY_RELU_ALPHA,
        },
        Activation::Softplus,
        Activation::Identity,
    ];

    /// The name used in model files and on the command line: `sigmoid`, `tanh`, `relu`,
    /// `leaky_relu` (or `leaky_relu:α` for another slope), `softplus`, `identity`.
    pub fn name(&self) -> String {
        match self {
            Activation::Sigmoid => "sigmoid".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Relu => "relu".into(),
            Activation::LeakyRelu { alpha } if *alpha == LEAKY_RELU_ALPHA => "leaky_relu".into(),
            Activation::LeakyRelu { alpha } => format!("leaky_relu:{alpha}"),
            Activation::Softplus => "softplus".into(),
            Activation::Identity => "identity".into(),
        }
    }

    /// The initialisation that keeps the variance of z_i steady through the layers for this
    /// activation: He for relu and leaky relu, Glorot (Xavier) for the others.
    pub fn default_init(&self) -> crate::Init {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } => crate::Init::He,
            _ => crate::Init::Glorot,
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parses a name from [`Activation::name`] (case-insensitive; `leaky-relu` and `linear` are
    /// accepted spellings).
    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || Error::UnknownActivation {
            name: s.to_string(),
        };
        Ok(match lower.as_str() {
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" | "leaky-relu" | "leakyrelu" => Activation::LeakyRelu {
                alpha: LEAKY_RELU_ALPHA,
            },
            "softplus" => Activation::Softplus,
            "identity" | "linear" | "none" => Activation::Identity,
            other => {
                let rest = other
                    .strip_prefix("leaky_relu:")
                    .or_else(|| other.strip_prefix("leaky-relu:"))
                    .ok_or_else(unknown)?;
                let alpha: f64 = rest.parse().map_err(|_| unknown())?;
                if !alpha.is_finite() {
                    return Err(unknown());
                }
                Activation::LeakyRelu { alpha }
            }
        })
    }
}

#[inline(always)]
fn sigmoid<T: Scalar>(z: T) -> T {
    T::one() / (T::one() + (-z).exp())
}

#[inline(always)]
fn softplus<T: Scalar>(z: T) -> T {
    // ln(1 + e^z) = max(z, 0) + ln(1 + e^(−|z|)), which neither overflows nor loses small values.
    z.max(T::zero()) + (-z.abs()).exp().ln_1p()
}

impl<T: Scalar> ActivationFn<T> for Activation {
    fn name(&self) -> String {
        Activation::name(self)
    }

    fn builtin(&self) -> Option<Activation> {
        Some(*self)
    }

    #[inline]
    fn sigma(&self, z: T) -> T {
        match *self {
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(T::zero()),
            Activation::LeakyRelu { alpha } => {
                if z > T::zero() {
                    z
                } else {
                    T::of_f64(alpha) * z
                }
            }
            Activation::Softplus => softplus(z),
            Activation::Identity => z,
        }
    }

    #[inline]
    // `let d = …; d` leaves room for the test-only hook below.
    #[allow(clippy::let_and_return)]
    fn sigma_prime(&self, z: T) -> T {
        let d = match *self {
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (T::one() - s)
            }
            Activation::Tanh => {
                let t = z.tanh();
                T::one() - t * t
            }
            Activation::Relu => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::of_f64(alpha)
                }
            }
            Activation::Softplus => sigmoid(z),
            Activation::Identity => T::one(),
        };
        // Test-only: a planted σ' error (feature `mutants`, see crate::mutants).
        #[cfg(feature = "mutants")]
        let d = d * crate::mutants::sigma_prime_factor::<T>();
        d
    }

    fn kinks(&self) -> &[f64] {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } => &[0.0],
            _ => &[],
        }
    }

    // The slice methods match once per call, so the loops below are monomorphic and vectorise.
    fn apply(&self, z: &[T], a: &mut [T]) {
        macro_rules! map {
            ($f:expr) => {
                for (a, &z) in a.iter_mut().zip(z) {
                    *a = $f(z);
                }
            };
        }
        match *self {
            Activation::Sigmoid => map!(sigmoid),
            Activation::Tanh => map!(|z: T| z.tanh()),
            Activation::Relu => map!(|z: T| z.max(T::zero())),
            Activation::LeakyRelu { alpha } => {
                let alpha = T::of_f64(alpha);
                map!(|z: T| if z > T::zero() { z } else { alpha * z })
            }
            Activation::Softplus => map!(softplus),
            Activation::Identity => a.copy_from_slice(z),
        }
    }

    fn apply_prime(&self, z: &[T], d: &mut [T]) {
        for (d, &z) in d.iter_mut().zip(z) {
            *d = <Self as ActivationFn<T>>::sigma_prime(self, z);
        }
    }

    fn mul_prime(&self, z: &[T], d: &mut [T]) {
        macro_rules! mul {
            ($f:expr) => {
                for (d, &z) in d.iter_mut().zip(z) {
                    *d *= $f(z);
                }
            };
        }
        match *self {
            Activation::Sigmoid => mul!(|z: T| {
                let s = sigmoid(z);
                s * (T::one() - s)
            }),
            Activation::Tanh => mul!(|z: T| {
                let t = z.tanh();
                T::one() - t * t
            }),
            Activation::Relu => mul!(|z: T| if z > T::zero() { T::one() } else { T::zero() }),
            Activation::LeakyRelu { alpha } => {
                let alpha = T::of_f64(alpha);
                mul!(|z: T| if z > T::zero() { T::one() } else { alpha })
            }
            Activation::Softplus => mul!(sigmoid),
            Activation::Identity => {}
        }
        // Test-only: a planted σ' error (feature `mutants`, see crate::mutants).
        #[cfg(feature = "mutants")]
        crate::mutants::scale_sigma_prime(d);
    }
}

/// d ← d ⊙ (1 − a²) with a = tanh z already computed (the forward pass's activations): tanh′
/// from its output, the same values [`ActivationFn::mul_prime`] computes from z for
/// [`Activation::Tanh`] (t = tanh z, then 1 − t t), without evaluating tanh again.
pub(crate) fn tanh_output_mul_prime<T: Scalar>(a: &[T], d: &mut [T]) {
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= T::one() - a * a;
    }
    // Test-only: a planted σ' error (feature `mutants`, see crate::mutants).
    #[cfg(feature = "mutants")]
    crate::mutants::scale_sigma_prime(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_prime_from_the_output_equals_the_one_from_z_bit_for_bit() {
        let z: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) * 0.037).collect();
        let a: Vec<f64> = z.iter().map(|z| z.tanh()).collect();
        let d0: Vec<f64> = (0..200).map(|i| 1.0 + i as f64 * 0.01).collect();
        let (mut from_z, mut from_a) = (d0.clone(), d0);
        ActivationFn::<f64>::mul_prime(&Activation::Tanh, &z, &mut from_z);
        tanh_output_mul_prime(&a, &mut from_a);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&from_z), bits(&from_a));
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(act.name().parse::<Activation>().unwrap(), act);
        }
        let custom: Activation = "leaky_relu:0.2".parse().unwrap();
        assert_eq!(custom, Activation::LeakyRelu { alpha: 0.2 });
        assert_eq!(custom.name().parse::<Activation>().unwrap(), custom);
        assert!(matches!(
            "swish".parse::<Activation>(),
            Err(Error::UnknownActivation { .. })
        ));
        assert!("leaky_relu:nan".parse::<Activation>().is_err());
    }

    #[test]
    fn derivatives_match_central_differences() {
        // σ′(z) ≈ (σ(z + h) − σ(z − h)) / 2h with error O(h²); z avoids the kink at 0.
        let h = 1e-6;
        for act in Activation::ALL {
            for &z in &[-2.5, -0.7, 0.3, 1.9] {
                let fd = (ActivationFn::<f64>::sigma(&act, z + h)
                    - ActivationFn::<f64>::sigma(&act, z - h))
                    / (2.0 * h);
                let d = ActivationFn::<f64>::sigma_prime(&act, z);
                assert!((fd - d).abs() < 1e-8, "{act} at {z}: {fd} vs {d}");
            }
        }
    }

    #[test]
    fn slice_methods_agree_with_scalar_methods() {
        let z: Vec<f64> = (-8..=8).map(|k| f64::from(k) * 0.37).collect();
        for act in Activation::ALL {
            let mut a = vec![0.0; z.len()];
            let mut d = vec![0.0; z.len()];
            let mut m = vec![2.0; z.len()];
            act.apply(&z, &mut a);
            act.apply_prime(&z, &mut d);
            act.mul_prime(&z, &mut m);
            for k in 0..z.len() {
                assert_eq!(a[k], ActivationFn::<f64>::sigma(&act, z[k]), "{act}");
                assert_eq!(d[k], ActivationFn::<f64>::sigma_prime(&act, z[k]), "{act}");
                assert_eq!(m[k], 2.0 * d[k], "{act}");
            }
        }
    }

    #[test]
    fn softplus_is_stable_for_large_arguments() {
        let act = Activation::Softplus;
        assert_eq!(ActivationFn::<f64>::sigma(&act, 800.0), 800.0);
        assert!(ActivationFn::<f64>::sigma(&act, -800.0) >= 0.0);
        assert!((ActivationFn::<f64>::sigma(&act, 0.0) - 2f64.ln()).abs() < 1e-15);
    }
}
