//! The inputs of a command: `--data` (a CSV file or a built-in set) and model files, read
//! within the memory budget.

use crate::budget;
use crate::data::{self, Table};
use crate::datasets::{self, Builtin};
use anyhow::{Result, anyhow, bail};
use backprop::AnyNetwork;
use std::ffi::OsStr;
use std::path::Path;

/// Data from `--data`: a CSV file, or the name of a built-in set.
pub struct Loaded {
    /// The samples.
    pub table: Table,
    /// The built-in set's description, when it is one.
    pub builtin: Option<Builtin>,
}

/// Reads `--data`: an existing file is read as CSV; otherwise the name of a built-in set
/// (generated from `seed`). A path need not be UTF-8 (as `--model` and `--out`); a built-in
/// set's name is.
pub fn load_data(spec: &OsStr, seed: u64) -> Result<Loaded> {
    let path = Path::new(spec);
    let shown = path.display();
    if path.exists() {
        if path.is_dir() {
            bail!("{shown}: is a directory, not a data file");
        }
        return Ok(Loaded {
            table: data::read_csv(path)?,
            builtin: None,
        });
    }
    let Some(name) = spec.to_str() else {
        bail!("{shown}: no such file (and not UTF-8, so not a built-in data set's name)");
    };
    match datasets::builtin(&name.to_ascii_lowercase(), seed)
        .map_err(|e| anyhow!("built-in {name}: {e}"))?
    {
        Some(b) => Ok(Loaded {
            table: b.table.clone(),
            builtin: Some(b),
        }),
        None => Err(anyhow!(
            "{name}: no such file, nor a built-in data set (built-in: {}){}",
            datasets::names().join(", "),
            datasets::feature_hint()
        )),
    }
}

/// Loads a model file of either dtype.
pub fn load_model(path: &Path) -> Result<AnyNetwork> {
    let bytes = budget::read_bounded(path, "model file")?;
    refuse_duplicate_keys(path, &bytes)?;
    // The core's errors start with the path and say what is wrong, layer and shape included.
    AnyNetwork::from_bytes(path, &bytes).map_err(|e| anyhow!("{e}"))
}

/// Marks the error [`Unique`] raises, to tell it from JSON that does not parse (which the core
/// reports).
const DUPLICATE: &str = "duplicate key: ";

/// Refuses a model file whose safetensors header (JSON) has a key twice in one object: a
/// `__metadata__` key such as `activation`, or a tensor's name. JSON readers keep one of the
/// two silently (safetensors the last), so which one was meant is unknown.
fn refuse_duplicate_keys(path: &Path, bytes: &[u8]) -> Result<()> {
    use serde::de::DeserializeSeed;
    let Some(len) = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
    else {
        return Ok(());
    };
    let Some(header) = bytes.get(8..8usize.saturating_add(len)) else {
        return Ok(());
    };
    let mut json = serde_json::Deserializer::from_slice(header);
    match Unique("the header").deserialize(&mut json) {
        Err(e) if e.to_string().starts_with(DUPLICATE) => {
            let text = e.to_string();
            let what = text[DUPLICATE.len()..]
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string();
            bail!(
                "{}: not a valid safetensors file: {what} (which one is meant is unknown)",
                path.display()
            )
        }
        _ => Ok(()),
    }
}

/// Walks any JSON value, failing on an object with a key twice; `.0` names the object.
struct Unique<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(serde::de::Error::custom(format!(
                    "{DUPLICATE}{} has the key {key:?} twice",
                    self.0
                )));
            }
            map.next_value_seed(Unique(&key))?;
            seen.insert(key);
        }
        Ok(())
    }
}
