//! **Test-only** (cargo feature `mutants`): known bugs planted at run time in the crate's real
//! gradient paths, so that tests can show that they catch them. Never enable the feature in a
//! build that trains: a planted bug changes every gradient the crate computes.
//!
//! | [`Mutant`] | where | what the gradient becomes |
//! |---|---|---|
//! | [`Mutant::SigmaPrimeScaled`] | [`crate::Activation`]'s `sigma_prime`, `apply_prime`, `mul_prime` | σ′(z) · (1 + 10⁻³): δ_i for i < n, so ∂E/∂W_0..∂E/∂W_{n−2} |
//! | [`Mutant::FactorTwoDropped`] | δ_n = −2 (y − z_n) in every form and the [`crate::Workspace`] | δ_n = −(y − z_n): every ∂E/∂W_i halved |
//! | [`Mutant::MeanForSum`] | the same place | δ_n / B: the batch mean instead of the seed's sum |
//! | [`Mutant::TransposedUpdate`] | the result of every form and of [`crate::Workspace::gradient`], and the fused [`crate::Workspace::step`]'s update product | a_i δ_{i+1}ᵀ for δ_{i+1} a_iᵀ: every square ∂E/∂W_i transposed |
//!
//! The sigmoid's vectorised σ′ in [`crate::Workspace`] (σ′ = A ⊙ (1 − A) from the stored
//! activations) is not hooked: plant σ′ bugs on other activations.
//!
//! [`plant`] holds a process-wide lock until its guard drops, so tests that plant run one at a
//! time even in one test binary.

use crate::gradient::{Gradient, LayoutTag};
use crate::scalar::Scalar;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A bug to plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutant {
    /// No bug: the crate as written.
    None = 0,
    /// σ′(z) multiplied by 1 + 10⁻³ (a 0.1 % error in the derivative).
    SigmaPrimeScaled = 1,
    /// δ_n = −(y − z_n): the factor 2 of ∂E/∂z_n dropped.
    FactorTwoDropped = 2,
    /// δ_n = −2 (y − z_n) / B: the batch mean instead of the sum.
    MeanForSum = 3,
    /// ∂E/∂W_i = a_i δ_{i+1}ᵀ: the update transposed, which only square layers survive.
    TransposedUpdate = 4,
}

impl Mutant {
    /// Every bug (not [`Mutant::None`]).
    pub const ALL: [Mutant; 4] = [
        Mutant::SigmaPrimeScaled,
        Mutant::FactorTwoDropped,
        Mutant::MeanForSum,
        Mutant::TransposedUpdate,
    ];
}

static PLANTED: AtomicU8 = AtomicU8::new(0);
static LOCK: Mutex<()> = Mutex::new(());

/// While alive, `mutant` is planted; dropping it restores the crate as written.
#[derive(Debug)]
pub struct Planted {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Planted {
    fn drop(&mut self) {
        PLANTED.store(Mutant::None as u8, Ordering::SeqCst);
    }
}

/// Plants `mutant` until the returned guard drops (waiting for any other guard to drop first).
pub fn plant(mutant: Mutant) -> Planted {
    let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    PLANTED.store(mutant as u8, Ordering::SeqCst);
    Planted { _lock: lock }
}

/// The bug planted now.
pub fn planted() -> Mutant {
    match PLANTED.load(Ordering::Relaxed) {
        1 => Mutant::SigmaPrimeScaled,
        2 => Mutant::FactorTwoDropped,
        3 => Mutant::MeanForSum,
        4 => Mutant::TransposedUpdate,
        _ => Mutant::None,
    }
}

/// The factor σ′ is multiplied by: 1, or 1 + 10⁻³ under [`Mutant::SigmaPrimeScaled`].
pub(crate) fn sigma_prime_factor<T: Scalar>() -> T {
    if planted() == Mutant::SigmaPrimeScaled {
        T::of_f64(1.0 + 1e-3)
    } else {
        T::one()
    }
}

/// d ← d · [`sigma_prime_factor`], for the passes that multiply a whole slice by σ′.
pub(crate) fn scale_sigma_prime<T: Scalar>(d: &mut [T]) {
    let f = sigma_prime_factor::<T>();
    d.iter_mut().for_each(|d| *d *= f);
}

/// The factor of δ_n = factor · (z_n − y) for a batch of `b`: 2, 1 or 2 / B.
pub(crate) fn output_delta_factor<T: Scalar>(b: usize) -> T {
    match planted() {
        Mutant::FactorTwoDropped => T::one(),
        Mutant::MeanForSum => T::of_f64(2.0 / b as f64),
        _ => T::of_f64(2.0),
    }
}

/// Under [`Mutant::TransposedUpdate`], transposes every square ∂E/∂W_i of `g` in place.
pub(crate) fn transpose_square_layers<T: Scalar, L: LayoutTag>(g: &mut Gradient<T, L>) {
    if planted() == Mutant::TransposedUpdate {
        for i in 0..g.depth() {
            let m = g.layer_mut(i);
            if m.is_square() {
                m.transpose_mut();
            }
        }
    }
}
