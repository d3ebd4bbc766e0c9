/*!
Gradient checking for `backprop` networks and for any function with an analytic gradient
(work in progress: the API is fixed, the bodies are being filled in).
*/

mod bounds;
pub mod config;
pub mod dual;
mod engine;
pub mod error;
pub mod function;
pub mod network;
pub mod report;
mod verdict;

pub use config::{CheckConfig, Evaluation, Mode, Oracle};
pub use dual::DualActivation;
pub use error::{Error, Result};
pub use function::{Objective, check_function, check_objective};
pub use network::{check_backprop, check_network, check_network_with};
pub use report::{DirectionCheck, ElementCheck, LayerReport, Report, Status};
