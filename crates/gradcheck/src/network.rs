//! The network adapter: checks ∂E/∂W_i of a `backprop` network element by element.

use crate::config::CheckConfig;
use crate::error::Result;
use crate::report::Report;
use backprop::{DenominatorGradient, Network, Scalar};
use nalgebra::DMatrixView;

/// Checks `analytic`, a claimed ∂E/∂W_i (denominator layout, summed over the batch) of `net`
/// on inputs `x` (l_0 × B) and targets `y` (l_n × B).
///
/// # Errors
/// [`crate::Error::Core`] for a bad batch, [`crate::Error::GradientDepth`] or
/// [`crate::Error::GradientShape`] for a gradient that does not fit the network,
/// [`crate::Error::InvalidConfig`] for a bad configuration.
pub fn check_network<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    analytic: &DenominatorGradient<T>,
    config: &CheckConfig,
) -> Result<Report> {
    let _ = (net, x, y, analytic);
    config.validate()?;
    Err(crate::Error::InvalidConfig {
        name: "mode",
        reason: "not implemented yet".into(),
    })
}

/// Checks the core crate's own batched backpropagation ([`backprop::Workspace::gradient`]).
///
/// # Errors
/// As [`check_network`].
pub fn check_backprop<T: Scalar>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    config: &CheckConfig,
) -> Result<Report> {
    let mut ws = backprop::Workspace::new(net, x.ncols().max(1))?;
    ws.gradient(net, x, y)?;
    check_network(net, x, y, ws.gradient_ref(), config)
}

/// Checks the gradient that `gradient` computes for `(net, x, y)`: a closure around your own
/// backpropagation.
///
/// # Errors
/// The closure's error, or as [`check_network`].
pub fn check_network_with<T, G>(
    net: &Network<T>,
    x: DMatrixView<'_, T>,
    y: DMatrixView<'_, T>,
    gradient: G,
    config: &CheckConfig,
) -> Result<Report>
where
    T: Scalar,
    G: FnOnce(
        &Network<T>,
        DMatrixView<'_, T>,
        DMatrixView<'_, T>,
    ) -> Result<DenominatorGradient<T>>,
{
    let analytic = gradient(net, x, y)?;
    check_network(net, x, y, &analytic, config)
}
