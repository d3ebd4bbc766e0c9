//! What the commands share: argument parsers, loading data and models, writing output.

use crate::data::{self, Table};
use crate::datasets::{self, Builtin};
use anyhow::{Result, anyhow, bail};
use backprop::{Activation, AnyNetwork, Network, Scalar};
use nalgebra::DMatrix;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--dtype`: the scalar the network computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DtypeArg {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl DtypeArg {
    /// The core crate's dtype.
    pub fn dtype(self) -> backprop::Dtype {
        match self {
            DtypeArg::F32 => backprop::Dtype::F32,
            DtypeArg::F64 => backprop::Dtype::F64,
        }
    }
}

/// `--layers`: l_0,…,l_n (a newtype, so that clap takes one value, not a list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layers(pub Vec<usize>);

/// Parses `--layers` into [`Layers`].
pub fn layers_arg(s: &str) -> Result<Layers, String> {
    parse_layers(s).map(Layers)
}

/// Parses `--layers`: sizes l_0..l_n separated by commas (or hyphens, as in 3-4-5-2).
pub fn parse_layers(s: &str) -> Result<Vec<usize>, String> {
    let parts: Vec<&str> = s.split([',', '-']).map(str::trim).collect();
    let mut sizes = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let l: usize = p
            .parse()
            .map_err(|_| format!("layer {i}: {p:?} is not a whole number (e.g. 2,16,16,2)"))?;
        if l == 0 {
            return Err(format!(
                "layer {i} has width 0; every l_i must be at least 1"
            ));
        }
        sizes.push(l);
    }
    if sizes.len() < 2 {
        return Err("give at least l_0 and l_n, e.g. 2,16,2".into());
    }
    Ok(sizes)
}

/// Parses `--activation` with the core crate's names.
pub fn parse_activation(s: &str) -> Result<Activation, String> {
    s.parse::<Activation>().map_err(|e| e.to_string())
}

/// A finite positive number (learning rate).
pub fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive finite number")),
    }
}

/// Sizes as `2-16-16-2`.
pub fn sizes_text(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

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
    match datasets::builtin(&spec.to_ascii_lowercase(), seed) {
        Some(b) => Ok(Loaded {
            table: b.table.clone(),
            builtin: Some(b),
        }),
        None => {
            let digits_hint = if cfg!(feature = "digits") {
                ""
            } else {
                " (digits, iris and breast_cancer need the `digits` feature)"
            };
            Err(anyhow!(
                "{spec}: no such file, nor a built-in data set (built-in: {}){digits_hint}",
                datasets::names().join(", ")
            ))
        }
    }
}

/// Loads a model file of either dtype.
pub fn load_model(path: &Path) -> Result<AnyNetwork> {
    // The core's errors start with the path and say what is wrong, layer and shape included.
    AnyNetwork::load(path).map_err(|e| anyhow!("{e}"))
}

/// `true` when `a` and `b` name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses to write `out` over one of the command's inputs.
pub fn refuse_overwriting_inputs(out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    for (what, input) in inputs {
        if same_file(out, input) {
            bail!(
                "{}: is the {what}; refusing to overwrite an input, choose another --out",
                out.display()
            );
        }
    }
    Ok(())
}

/// Creates the directory `path` will be written in, when it is missing.
pub fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow!("{}: cannot create directory: {e}", dir.display()))?;
    }
    Ok(())
}

/// A temporary file beside `path` (same directory, so the rename is atomic), created with the
/// permissions of an ordinary new file (0666 less the umask, not tempfile's private 0600).
pub fn temp_beside(path: &Path, suffix: &str) -> Result<tempfile::NamedTempFile> {
    ensure_parent(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".backprop-").suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).map_err(|e| {
        anyhow!(
            "{}: cannot create a file in {}: {e}",
            path.display(),
            dir.display()
        )
    })
}

/// Moves a finished temporary file over `path`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed, then
/// renamed over `path`. On error `path` is untouched.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = temp_beside(path, ".tmp")?;
    tmp.write_all(bytes)
        .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
    persist(tmp, path)
}

/// Writes matrices as safetensors tensors `{prefix}0`, `{prefix}1`, … (shape [rows, cols],
/// row-major, the scalar's dtype) with one metadata entry, atomically.
///
/// One metadata key keeps the bytes a function of the matrices alone: safetensors writes the
/// metadata map in hash order, which changes from run to run when it has several keys.
pub fn write_matrices<T: Scalar>(
    path: &Path,
    prefix: &str,
    matrices: &[DMatrix<T>],
    key: &str,
    value: &str,
) -> Result<()> {
    let dtype = match T::DTYPE {
        backprop::Dtype::F32 => safetensors::Dtype::F32,
        _ => safetensors::Dtype::F64,
    };
    let bytes: Vec<Vec<u8>> = matrices
        .iter()
        .map(|m| {
            let mut out = Vec::with_capacity(m.len() * T::DTYPE.size());
            for r in 0..m.nrows() {
                for c in 0..m.ncols() {
                    // Widening to f64 is exact, and so is narrowing an f32 value back.
                    let v = m[(r, c)].as_f64();
                    match T::DTYPE {
                        backprop::Dtype::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
                        _ => out.extend_from_slice(&v.to_le_bytes()),
                    }
                }
            }
            out
        })
        .collect();
    let mut views = Vec::with_capacity(matrices.len());
    for (i, (m, b)) in matrices.iter().zip(&bytes).enumerate() {
        let view = safetensors::tensor::TensorView::new(dtype, vec![m.nrows(), m.ncols()], b)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        views.push((format!("{prefix}{i}"), view));
    }
    let meta = HashMap::from([(key.to_string(), value.to_string())]);
    let data = safetensors::serialize(views, Some(meta))
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    write_file(path, &data)
}

/// Writes a network as a model file: tensors `W0`, `W1`, … and metadata `activation`.
pub fn save_model<T: Scalar>(path: &Path, net: &Network<T>) -> Result<()> {
    write_matrices(
        path,
        "W",
        net.weights(),
        backprop::model_file::ACTIVATION_KEY,
        &net.activation().name(),
    )
}

/// Writes text to standard output; a closed pipe (`| head`) is not an error.
pub fn print_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow!("cannot write to standard output: {e}")),
    }
}

/// Prints a line of progress or summary; output errors are ignored (the files hold the
/// results).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// The path `name` in the directory of `beside`.
pub fn sibling(beside: &Path, name: &str) -> PathBuf {
    match beside.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(name),
        _ => PathBuf::from(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_parse_with_commas_or_hyphens() {
        assert_eq!(parse_layers("2,16,16,2").unwrap(), vec![2, 16, 16, 2]);
        assert_eq!(parse_layers("3-4-5-2").unwrap(), vec![3, 4, 5, 2]);
        assert_eq!(parse_layers(" 3, 1 ").unwrap(), vec![3, 1]);
        assert!(parse_layers("3").unwrap_err().contains("at least"));
        assert!(
            parse_layers("3,0,2")
                .unwrap_err()
                .contains("layer 1 has width 0")
        );
        assert!(parse_layers("3,x,2").unwrap_err().contains("layer 1"));
        assert!(parse_layers("").is_err());
    }

    #[test]
    fn sibling_paths() {
        assert_eq!(
            sibling(Path::new("m.safetensors"), "loss.png"),
            PathBuf::from("loss.png")
        );
        assert_eq!(
            sibling(Path::new("out/m.st"), "loss.png"),
            PathBuf::from("out/loss.png")
        );
    }
}
