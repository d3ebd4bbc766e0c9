//! What a check does: which elements, which oracle, in which precision.

use crate::dual::DualActivation;
pub use crate::method::{Mode, Oracle};
use backprop::ActivationFn;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The precision the numerical reference is computed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluation {
    /// f64, whatever the network's scalar: f32 weights and data are widened exactly, so an f32
    /// network is checked against an f64 evaluation of the same function. Needs σ in f64: the
    /// network's own for f64 networks, otherwise [`CheckConfig::reference_activation`] or the
    /// built-in activation of the same name.
    #[default]
    Widened,
    /// The network's own scalar. For f32 the error bounds are then those of f32 and far wider.
    Native,
}

/// How a check runs. `CheckConfig::default()` is a full finite-difference check with seed 0.
#[derive(Clone)]
pub struct CheckConfig {
    /// Which elements are checked.
    pub mode: Mode,
    /// The seed for sampled elements and projection directions.
    pub seed: u64,
    /// The numerical reference.
    pub oracle: Oracle,
    /// The precision of the numerical reference.
    pub evaluation: Evaluation,
    /// How many of the worst elements (largest |analytic − numeric| / allowed) each layer
    /// report keeps.
    pub worst: usize,
    /// σ in f64 for an f32 network whose activation is not built in (see [`Evaluation::Widened`]).
    pub reference_activation: Option<Arc<dyn ActivationFn<f64>>>,
    /// σ on dual numbers for [`Oracle::Dual`] when the activation is not built in.
    pub dual_activation: Option<Arc<dyn DualActivation>>,
    /// The smallest share of judged values (passed or failed, not below the float floor nor
    /// kink crossed) each layer needs for the check to conclude; below it, a check without
    /// failures is [`crate::Verdict::Inconclusive`]. In [0, 1]; default [`MIN_JUDGED`].
    pub min_judged: f64,
}

/// The default [`CheckConfig::min_judged`]: a layer must have judged at least half of what it
/// checked.
///
/// Why one half. Measured on random networks (`Network::random`, inputs in [−2, 2], full
/// check, 200 seeds per row; 2026-12-06): sigmoid, tanh, softplus, identity and leaky relu
/// judge every element of every layer (share 1.00, never inconclusive). Relu leaves units
/// dead, whose rows and columns are exact zeros below the floor, and steps across kinks:
/// the worst layer's judged share has median 0.23 for 3-8-8-2 on one sample (190 of 200
/// checks inconclusive), 0.61 on four (43 of 200), 0.75 for 4-16-3 on two (5 of 200) and
/// 0.79 for 2-24-24-2 on sixteen (none, lowest 0.58). A check that judged less than half of
/// a layer says little about that layer (a wrong value hides among the zeros it could not
/// judge), and a relu check on one or two samples is exactly such a check: it should say
/// so, and a batch of a dozen samples makes it conclusive. 0 restores the old rule (no
/// failure = passed); 1 demands that every value be judged.
pub const MIN_JUDGED: f64 = 0.5;

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Full,
            seed: 0,
            oracle: Oracle::FiniteDifferences,
            evaluation: Evaluation::Widened,
            worst: 5,
            reference_activation: None,
            dual_activation: None,
            min_judged: MIN_JUDGED,
        }
    }
}

impl std::fmt::Debug for CheckConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckConfig")
            .field("mode", &self.mode)
            .field("seed", &self.seed)
            .field("oracle", &self.oracle)
            .field("evaluation", &self.evaluation)
            .field("worst", &self.worst)
            .field(
                "reference_activation",
                &self.reference_activation.as_ref().map(|a| a.name()),
            )
            .field("dual_activation", &self.dual_activation)
            .field("min_judged", &self.min_judged)
            .finish()
    }
}

impl CheckConfig {
    /// Every element of every layer.
    pub fn full() -> Self {
        Self::default()
    }

    /// `per_layer` seeded elements from every layer.
    pub fn sampled(per_layer: usize) -> Self {
        Self {
            mode: Mode::Sampled { per_layer },
            ..Self::default()
        }
    }

    /// `directions` seeded directional derivatives per layer, full mode for a failing layer.
    pub fn projected(directions: usize) -> Self {
        Self {
            mode: Mode::Projected { directions },
            ..Self::default()
        }
    }

    /// The same configuration with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same configuration with another oracle.
    pub fn with_oracle(mut self, oracle: Oracle) -> Self {
        self.oracle = oracle;
        self
    }

    /// The same configuration with another [`CheckConfig::min_judged`].
    pub fn with_min_judged(mut self, min_judged: f64) -> Self {
        self.min_judged = min_judged;
        self
    }

    /// The same configuration with another evaluation precision.
    pub fn with_evaluation(mut self, evaluation: Evaluation) -> Self {
        self.evaluation = evaluation;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] for zero samples or directions, the dual oracle in
    /// projected mode, or a `min_judged` outside [0, 1].
    pub fn validate(&self) -> crate::Result<()> {
        if !(0.0..=1.0).contains(&self.min_judged) {
            return Err(crate::Error::InvalidConfig {
                name: "min_judged",
                reason: format!(
                    "{} is not a share in [0, 1] of the values judged per layer",
                    self.min_judged
                ),
            });
        }
        match self.mode {
            Mode::Sampled { per_layer: 0 } => Err(crate::Error::InvalidConfig {
                name: "samples",
                reason: "sampled mode needs at least 1 element per layer".into(),
            }),
            Mode::Projected { directions: 0 } => Err(crate::Error::InvalidConfig {
                name: "directions",
                reason: "projected mode needs at least 1 direction per layer".into(),
            }),
            Mode::Projected { .. } if self.oracle == Oracle::Dual => {
                Err(crate::Error::InvalidConfig {
                    name: "oracle",
                    reason: "the dual oracle works element by element; use full or sampled mode"
                        .into(),
                })
            }
            _ => Ok(()),
        }
    }
}
