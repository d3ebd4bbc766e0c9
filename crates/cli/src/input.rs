//! The inputs of a command: `--data` (a CSV file or a built-in set) and model files, read
//! within the memory budget.

use crate::budget;
use crate::data::{self, Table};
use crate::datasets::{self, Builtin};
use anyhow::{Result, anyhow, bail};
use backprop::AnyNetwork;
use std::path::Path;

/// Data from `--data`: a CSV file, or the name of a built-in set.
pub struct Loaded {
    /// The samples.
    pub table: Table,
    /// The built-in set's description, when it is one.
    pub builtin: Option<Builtin>,
}

/// Reads `--data`: an existing file is read as CSV; otherwise the name of a built-in set
/// (generated from `seed`).
pub fn load_data(spec: &str, seed: u64) -> Result<Loaded> {
    let path = Path::new(spec);
    if path.exists() {
        if path.is_dir() {
            bail!("{spec}: is a directory, not a data file");
        }
        return Ok(Loaded {
            table: data::read_csv(path)?,
            builtin: None,
        });
    }
    match datasets::builtin(&spec.to_ascii_lowercase(), seed)
        .map_err(|e| anyhow!("built-in {spec}: {e}"))?
    {
        Some(b) => Ok(Loaded {
            table: b.table.clone(),
            builtin: Some(b),
        }),
        None => Err(anyhow!(
            "{spec}: no such file, nor a built-in data set (built-in: {}){}",
            datasets::names().join(", "),
            datasets::feature_hint()
        )),
    }
}

/// Loads a model file of either dtype.
pub fn load_model(path: &Path) -> Result<AnyNetwork> {
    let bytes = budget::read_bounded(path, "model file")?;
    // The core's errors start with the path and say what is wrong, layer and shape included.
    AnyNetwork::from_bytes(path, &bytes).map_err(|e| anyhow!("{e}"))
}
