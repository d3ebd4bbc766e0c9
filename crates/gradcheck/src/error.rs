//! The crate's error type: bad input to a check, named by layer, shape or parameter.
//!
//! A wrong gradient is never an error: it is a [`crate::Status::Failed`] element in the report.
//! Errors are inputs the check cannot run on at all.

/// Why a check could not run.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network, the data or the batch was refused by the core crate.
    #[error(transparent)]
    Core(#[from] backprop::Error),
    /// The analytic gradient has a different number of layers than the network.
    #[error("the analytic gradient has {got} layers, the network has {expected} weight matrices")]
    GradientDepth {
        /// n, the network's number of weight matrices.
        expected: usize,
        /// The gradient's number of layers.
        got: usize,
    },
    /// ∂E/∂W_i does not have the shape of W_i (denominator layout).
    // Shaped like the core's WeightShape: each error carries its own (rows, columns) facts.
    #[error(
        "the analytic ∂E/∂W_{layer} has shape {}×{}, expected {}×{} (the shape of W_{layer})",
        got.0, got.1, expected.0, expected.1
    )]
    GradientShape {
        /// The layer i.
        layer: usize,
        /// (rows, columns) of W_i.
        expected: (usize, usize),
        /// (rows, columns) given.
        got: (usize, usize),
    },
    /// A function check got an analytic gradient of the wrong length.
    #[error("the analytic gradient has {got} entries, the parameter vector has {expected}")]
    ParameterCount {
        /// The number of parameters.
        expected: usize,
        /// The gradient's length.
        got: usize,
    },
    /// The function to check returned NaN or ∞ at the point itself.
    #[error("the function value at the point is not finite ({value})")]
    NonFiniteValue {
        /// The value returned.
        value: f64,
    },
    /// A parameter of the check itself is out of range.
    #[error("invalid check setting {name}: {reason}")]
    InvalidConfig {
        /// The setting's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The dual-number oracle was asked for an activation it cannot evaluate on dual numbers.
    #[error(
        "the dual-number oracle cannot evaluate activation '{activation}': pass a DualActivation in CheckConfig::dual_activation"
    )]
    NoDualActivation {
        /// The activation's name.
        activation: String,
    },
}

/// `Result<T, backprop_gradcheck::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
