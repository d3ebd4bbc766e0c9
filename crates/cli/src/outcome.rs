//! What a successful command asks the process to exit with.

/// What a successful command asks the process to exit with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// `check` found a failing element, or a `--perturb` control was not caught: exit 1.
    CheckFailed,
    /// `check` found no failing element but judged too little of some layer to conclude
    /// (`backprop_gradcheck::Verdict::Inconclusive`): exit 3, distinct from bad usage's 2.
    CheckInconclusive,
    /// `train` stopped by Ctrl-C (or SIGTERM, SIGHUP) after writing its model: exit 130.
    Interrupted,
}

impl Outcome {
    /// The process exit code: 0, 1, 3 or 130.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::CheckFailed => 1,
            Outcome::CheckInconclusive => 3,
            Outcome::Interrupted => 130,
        }
    }
}
