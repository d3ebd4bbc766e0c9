//! The generic checker: any scalar function f(θ) of a parameter vector with an analytic gradient.

use crate::config::CheckConfig;
use crate::error::Result;
use crate::report::Report;

/// A scalar function of a parameter vector with a claimed gradient.
pub trait Objective {
    /// f(θ).
    fn value(&self, theta: &[f64]) -> f64;
    /// The analytic ∇f(θ) under test.
    fn gradient(&self, theta: &[f64]) -> Vec<f64>;
    /// A bound on the rounding error of [`Objective::value`] at θ, given the value computed.
    /// The default, 16 ε |f|, suits a function computed in a handful of well-conditioned
    /// operations; override it when f sums many terms or cancels.
    fn value_rounding(&self, theta: &[f64], value: f64) -> f64 {
        let _ = theta;
        16.0 * f64::EPSILON * value.abs()
    }
}

/// Checks `analytic` against the derivatives of `f` at `theta`. The report has one "layer" whose
/// rows are the parameters.
///
/// # Errors
/// [`crate::Error::ParameterCount`] when the lengths differ, [`crate::Error::NonFiniteValue`]
/// when f(θ) is not finite, [`crate::Error::InvalidConfig`] for a bad configuration.
pub fn check_function<F: Fn(&[f64]) -> f64>(
    f: F,
    theta: &[f64],
    analytic: &[f64],
    config: &CheckConfig,
) -> Result<Report> {
    let _ = (f, theta, analytic);
    config.validate()?;
    Err(crate::Error::InvalidConfig {
        name: "mode",
        reason: "not implemented yet".into(),
    })
}

/// Checks an [`Objective`]'s gradient at `theta`.
///
/// # Errors
/// As [`check_function`].
pub fn check_objective<O: Objective>(
    objective: &O,
    theta: &[f64],
    config: &CheckConfig,
) -> Result<Report> {
    let analytic = objective.gradient(theta);
    check_function(|t| objective.value(t), theta, &analytic, config)
}
