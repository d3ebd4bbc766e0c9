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
    match datasets::builtin(&spec.to_ascii_lowercase(), seed)
        .map_err(|e| anyhow!("built-in {spec}: {e}"))?
    {
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
    let bytes = read_bounded(path, "model file")?;
    // The core's errors start with the path and say what is wrong, layer and shape included.
    AnyNetwork::from_bytes(path, &bytes).map_err(|e| anyhow!("{e}"))
}

/// Refuses `bytes` for `what` when it exceeds the memory limit ([`crate::memory`]), with an
/// error stating the bytes needed and the limit.
pub fn check_memory(what: impl FnOnce() -> String, bytes: u128) -> Result<()> {
    crate::memory::check(what, bytes)
}

/// Reads a whole file, refusing one larger than the memory limit before reading it.
///
/// The size is checked twice: from the file's metadata before reading, and while reading,
/// which catches what the metadata does not tell (`/dev/zero`, a pipe, a file still growing):
/// at most limit + 1 bytes are ever read.
pub fn read_bounded(path: &Path, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let source = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("{source}: cannot open {what}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow!("{source}: cannot open {what}: {e}"))?;
    if meta.is_dir() {
        bail!("{source}: is a directory, not a {what}");
    }
    let reading = || format!("reading {source}");
    check_memory(reading, u128::from(meta.len()))?;
    let limit = crate::memory::limit();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{source}: cannot read {what}: {e}"))?;
    if bytes.len() as u128 > limit {
        // Not all of it was read: say so, rather than quoting a size that is not known.
        bail!(
            "reading {source} needs more than {limit} bytes, more than the limit of {limit} \
             bytes (it is not a regular file, or it grew while being read)"
        );
    }
    Ok(bytes)
}

/// Bytes of a forward pass over `samples` samples through layers `sizes` in a scalar of
/// `size` bytes: z_i and a_i for every layer, Σ_i 2 l_i N elements.
pub fn forward_bytes(sizes: &[usize], samples: usize, size: usize) -> u128 {
    sizes.iter().map(|&l| l as u128).sum::<u128>() * 2 * samples as u128 * size as u128
}

/// The bytes one chunk of [`predict_in_chunks`] may use for its forward pass.
const CHUNK_BYTES: u128 = 64 << 20;

/// Samples per chunk of [`predict_in_chunks`] for layers `sizes`: as many as fit in
/// [`CHUNK_BYTES`], at least 1.
pub fn chunk_of(sizes: &[usize], size: usize) -> usize {
    let per_sample = forward_bytes(sizes, 1, size).max(1);
    usize::try_from(CHUNK_BYTES / per_sample)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// z_n for every column of `x`, computed a chunk of columns at a time so that the forward
/// pass stays within [`CHUNK_BYTES`] however many columns there are (one chunk, one call of
/// `predict`, when they fit).
pub fn predict_in_chunks<T: Scalar>(net: &Network<T>, x: &DMatrix<T>) -> Result<DMatrix<T>> {
    let chunk = chunk_of(&net.sizes(), T::DTYPE.size());
    if x.ncols() <= chunk {
        return Ok(net.predict(x.as_view())?);
    }
    let mut z = DMatrix::<T>::zeros(net.outputs(), x.ncols());
    let mut start = 0;
    while start < x.ncols() {
        let n = chunk.min(x.ncols() - start);
        let part = net.predict(x.columns(start, n))?;
        z.columns_mut(start, n).copy_from(&part);
        start += n;
    }
    Ok(z)
}

/// `true` when `a` and `b` name the same existing file (the same inode on Unix, so hard links
/// count too).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses to write `out` (given by `option`, e.g. `--out`) over one of the command's inputs.
pub fn refuse_overwriting_inputs(option: &str, out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    for (what, input) in inputs {
        if same_file(out, input) {
            bail!(
                "{}: is the {what}; refusing to overwrite an input, choose another {option}",
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

/// Moves a finished temporary file over `path`: `fsync` of the file, the rename, then `fsync`
/// of the directory, so that after a crash `path` holds either its old or its new contents,
/// complete.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
    }
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
