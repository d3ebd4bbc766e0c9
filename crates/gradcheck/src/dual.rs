//! The third oracle: forward-mode dual numbers (num-dual) computing ∂E/∂W_i^{jk} exactly.
//!
//! Seeding W_i^{jk} with tangent 1 makes ż_{i+1}^j = a_i^k and every other ż_{i+1} zero; the
//! dual forward pass above layer i then carries ∂/∂W_i^{jk} of every z and a, and E's tangent is
//! (∂E/∂W_i)^{jk}, with no truncation error (rounding aside).

use backprop::Activation;
use num_dual::Dual64;

/// σ evaluated on dual numbers: σ(z + ε ż) = σ(z) + ε σ'(z) ż.
///
/// Built in for [`backprop::Activation`]. Implement it for your own activation to use
/// [`crate::Oracle::Dual`] with it: write σ with num-dual's operations and the derivative
/// follows, independent of your `sigma_prime`.
pub trait DualActivation: std::fmt::Debug + Send + Sync {
    /// σ(z) on a dual number.
    fn sigma_dual(&self, z: Dual64) -> Dual64;
}

impl DualActivation for Activation {
    fn sigma_dual(&self, z: Dual64) -> Dual64 {
        let _ = z;
        todo_dual()
    }
}

fn todo_dual() -> Dual64 {
    Dual64::new(0.0, 0.0)
}
