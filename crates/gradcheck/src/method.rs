//! The method of a check, shared by its configuration and its report: which elements are
//! checked ([`Mode`]) and against which numerical reference ([`Oracle`]). Depends on nothing
//! else in the crate.

use serde::{Deserialize, Serialize};

/// Which elements of each W_i are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// Every element W_i^{jk} of every layer.
    Full,
    /// `per_layer` distinct elements drawn (seeded) from every layer; all of a layer when it has
    /// fewer. The report states the coverage.
    Sampled {
        /// k, the number of elements checked per layer.
        per_layer: usize,
    },
    /// `directions` seeded random directions V per layer: the directional derivative
    /// Σ_{jk} (∂E/∂W_i)^{jk} V^{jk} against (E(W_i + hV) − E(W_i − hV)) / 2h, a few loss
    /// evaluations per direction whatever the layer's size. A layer with a failing direction is
    /// then checked in full, so that the report names its wrong elements.
    Projected {
        /// The number of directions per layer.
        directions: usize,
    },
}

impl Mode {
    /// The name used on the command line and in reports: `full`, `sampled`, `projected`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Sampled { .. } => "sampled",
            Mode::Projected { .. } => "projected",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Full => f.write_str("full"),
            Mode::Sampled { per_layer } => write!(f, "sampled ({per_layer} per layer)"),
            Mode::Projected { directions } => write!(f, "projected ({directions} per layer)"),
        }
    }
}

/// The numerical reference the analytic gradient is compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Oracle {
    /// Central differences with Richardson extrapolation and an error estimate per element.
    #[default]
    FiniteDifferences,
    /// Forward-mode dual numbers (num-dual): exact derivatives, rounding aside. Needs a
    /// [`crate::DualActivation`] (built in for [`backprop::Activation`]). Not available in
    /// [`Mode::Projected`], whose point is to avoid per-element work.
    Dual,
}
