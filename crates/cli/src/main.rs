//! The `backprop` command; everything but the process exit lives in the `backprop_cli` library
//! (so that the fuzz targets and tests can drive the same code).

use std::process::ExitCode;

fn main() -> ExitCode {
    backprop_cli::main()
}
