//! Model files: safetensors, readable and writable by numpy, PyTorch and JAX.
//!
//! A model file holds the tensors `W0`, `W1`, …, `W{n−1}`, W_i of shape [l_{i+1}, l_i] in
//! row-major order, all of dtype F32 or F64 (the file's dtype decides the scalar type), and in
//! its `__metadata__` map the key `activation` (a name [`crate::Activation`] parses). Other
//! tensors and metadata keys are ignored, so a file written by another tool with just these
//! tensors and that key loads; a tensor named `W` and digits that does not continue the
//! sequence (`W10` beside `W0..W2`, `W01`) is an error naming it.
//!
//! Files are written atomically: to a temporary file in the same directory, flushed to disk,
//! then renamed over the target, so a crash never leaves a half-written model.

use crate::activation::{Activation, ActivationFn};
use crate::error::{Error, ModelError, Result};
use crate::network::Network;
use crate::scalar::{Dtype, Scalar};
use nalgebra::DMatrix;
use safetensors::{SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The metadata key holding the activation's name.
pub const ACTIVATION_KEY: &str = "activation";

fn model_err(path: &Path, reason: impl Into<ModelError>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, `fsync`, a
/// rename over `path`, then `fsync` of the directory so the rename itself survives a crash.
/// On error `path` is untouched. The file gets the mode a plain create would (0666 less the
/// umask, on Unix), not the temporary file's private 0600.
///
/// # Errors
/// [`Error::Model`] with [`ModelError::Io`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| model_err(path, ModelError::Io(e));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".backprop-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Passed to open(2) with O_CREAT, so the umask applies as for any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(())
}

fn to_le_bytes<T: Scalar>(m: &DMatrix<T>) -> Vec<u8> {
    // Row-major: rows of W_i one after the other.
    let mut out = Vec::with_capacity(m.len() * T::DTYPE.size());
    for r in 0..m.nrows() {
        for c in 0..m.ncols() {
            let v = m[(r, c)];
            match T::DTYPE {
                // as_f64 is exact; narrowing back to f32 is exact for an f32 value.
                Dtype::F32 => out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes()),
                Dtype::F64 => out.extend_from_slice(&v.as_f64().to_le_bytes()),
            }
        }
    }
    out
}

/// Serialises matrices as safetensors tensors `{prefix}0`, `{prefix}1`, … (row-major, the
/// scalar's dtype) with `metadata`, and writes them atomically to `path`.
///
/// # Errors
/// [`Error::Model`] when serialising or writing fails.
pub fn save_matrices<T: Scalar>(
    path: &Path,
    prefix: &str,
    matrices: &[DMatrix<T>],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let dtype = match T::DTYPE {
        Dtype::F32 => safetensors::Dtype::F32,
        Dtype::F64 => safetensors::Dtype::F64,
    };
    let bytes: Vec<Vec<u8>> = matrices.iter().map(to_le_bytes).collect();
    let mut views = Vec::with_capacity(matrices.len());
    for (i, (m, b)) in matrices.iter().zip(&bytes).enumerate() {
        let view = TensorView::new(dtype, vec![m.nrows(), m.ncols()], b)
            .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
        views.push((format!("{prefix}{i}"), view));
    }
    let data = safetensors::serialize(views, Some(metadata))
        .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
    write_atomic(path, &data)
}

/// The bound on a model file's size that [`Network::load`], [`AnyNetwork::load`] and
/// [`load_matrices`] apply: 4 GiB (a billion f32 weights). [`AnyNetwork::load_within`] takes
/// another.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Reads a whole file of at most [`DEFAULT_MAX_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>> {
    read_file_within(path, u128::from(DEFAULT_MAX_BYTES))
}

/// Reads a whole file of at most `limit` bytes: one whose size is known to be larger is
/// refused before reading, and at most `limit + 1` bytes are read, so a stream
/// (`/dev/zero`, a pipe) or a file that grows while being read is refused at the limit
/// instead of filling memory.
fn read_file_within(path: &Path, limit: u128) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e| model_err(path, ModelError::Io(e));
    let file = std::fs::File::open(path).map_err(io)?;
    let len = u128::from(file.metadata().map_err(io)?.len());
    let too_large = |what: String, bytes: u128| Error::TooLarge {
        what,
        bytes,
        limit: Some(limit),
    };
    if len > limit {
        return Err(too_large(format!("reading {}", path.display()), len));
    }
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u128 > limit {
        return Err(too_large(
            format!(
                "reading {} (not a regular file, or it grew while being read)",
                path.display()
            ),
            bytes.len() as u128,
        ));
    }
    Ok(bytes)
}

/// The tensors `{prefix}0..{prefix}{n−1}` of a parsed file, with their common dtype.
fn weight_views<'a>(
    path: &Path,
    st: &SafeTensors<'a>,
    prefix: &str,
) -> Result<(Dtype, Vec<TensorView<'a>>)> {
    // The weights are {prefix}0, {prefix}1, … without a gap; any other name of that form (after
    // a gap, or with a leading zero) is named as unexpected, not taken for a missing one.
    let names = st.names();
    let numbered: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            n.strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    let mut count = 0;
    while numbered.contains(&format!("{prefix}{count}").as_str()) {
        count += 1;
    }
    if count == 0 {
        return Err(model_err(
            path,
            ModelError::MissingTensor {
                name: format!("{prefix}0"),
            },
        ));
    }
    if let Some(extra) = numbered
        .iter()
        .filter(|n| {
            n[prefix.len()..]
                .parse::<usize>()
                .ok()
                .is_none_or(|i| i >= count || n.len() != format!("{prefix}{i}").len())
        })
        .min_by_key(|n| (n.len(), **n))
    {
        return Err(model_err(
            path,
            ModelError::UnexpectedTensor {
                name: extra.to_string(),
                after: if count == 1 {
                    format!("{prefix}0")
                } else {
                    format!("{prefix}0..{prefix}{}", count - 1)
                },
                missing: format!("{prefix}{count}"),
            },
        ));
    }
    let mut views = Vec::with_capacity(count);
    let mut dtype = None;
    for i in 0..count {
        let name = format!("{prefix}{i}");
        let view = st
            .tensor(&name)
            .map_err(|_| model_err(path, ModelError::MissingTensor { name: name.clone() }))?;
        let this = match view.dtype() {
            safetensors::Dtype::F32 => Dtype::F32,
            safetensors::Dtype::F64 => Dtype::F64,
            other => {
                return Err(model_err(
                    path,
                    ModelError::Dtype {
                        tensor: name,
                        dtype: format!("{other:?}"),
                        expected: "F32 or F64".into(),
                    },
                ));
            }
        };
        match dtype {
            None => dtype = Some(this),
            Some(first) if first != this => {
                return Err(model_err(
                    path,
                    ModelError::Dtype {
                        tensor: name,
                        dtype: this.to_string(),
                        expected: format!("{first} (the dtype of {prefix}0)"),
                    },
                ));
            }
            Some(_) => {}
        }
        if view.shape().len() != 2 {
            return Err(model_err(
                path,
                ModelError::Rank {
                    tensor: name,
                    dims: view.shape().len(),
                    shape: view.shape().to_vec(),
                },
            ));
        }
        views.push(view);
    }
    Ok((dtype.expect("count > 0"), views))
}

fn matrix_from_view<T: Scalar>(view: &TensorView<'_>, file_dtype: Dtype) -> DMatrix<T> {
    let (rows, cols) = (view.shape()[0], view.shape()[1]);
    let data = view.data();
    let value = |idx: usize| -> f64 {
        match file_dtype {
            Dtype::F32 => {
                let b: [u8; 4] = data[idx * 4..idx * 4 + 4].try_into().expect("4 bytes");
                f64::from(f32::from_le_bytes(b))
            }
            Dtype::F64 => {
                let b: [u8; 8] = data[idx * 8..idx * 8 + 8].try_into().expect("8 bytes");
                f64::from_le_bytes(b)
            }
        }
    };
    DMatrix::from_fn(rows, cols, |r, c| T::of_f64(value(r * cols + c)))
}

/// Matrices read from a safetensors file by [`load_matrices`].
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixFile<T: Scalar> {
    /// The tensors `{prefix}0`, `{prefix}1`, …, converted to `T`.
    pub matrices: Vec<DMatrix<T>>,
    /// The dtype the file stores them in.
    pub dtype: Dtype,
    /// The `__metadata__` map (empty when absent).
    pub metadata: HashMap<String, String>,
}

/// Reads matrices `{prefix}0..` from a safetensors file, converting them to `T`; returns them
/// with the file's dtype and metadata.
///
/// # Errors
/// [`Error::Model`] for an unreadable or malformed file, a missing tensor, a dtype other than
/// F32/F64, a tensor that is not 2-D.
pub fn load_matrices<T: Scalar>(path: &Path, prefix: &str) -> Result<MatrixFile<T>> {
    let bytes = read_file(path)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
    let (dtype, views) = weight_views(path, &st, prefix)?;
    let matrices = views.iter().map(|v| matrix_from_view(v, dtype)).collect();
    Ok(MatrixFile {
        matrices,
        dtype,
        metadata: meta.metadata().clone().unwrap_or_default(),
    })
}

impl<T: Scalar> Network<T> {
    /// Writes the network to `path` as safetensors (tensors `W0..`, metadata `activation`),
    /// atomically.
    ///
    /// # Errors
    /// [`Error::Model`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        // One key only: safetensors writes the metadata map in hash order, so a second key
        // would make the bytes of two saves of the same network differ.
        let meta = HashMap::from([(ACTIVATION_KEY.to_string(), self.activation().name())]);
        save_matrices(path.as_ref(), "W", self.weights(), meta)
    }

    /// Reads a network with a built-in activation from a safetensors file whose dtype is `T`'s.
    ///
    /// # Errors
    /// [`Error::Model`] for an unreadable or malformed file, with [`ModelError::DtypeMismatch`]
    /// when the file's dtype is not `T`'s (use [`AnyNetwork::load`] to accept either), and
    /// [`ModelError::Network`] for shapes that do not chain, non-finite weights or an unknown
    /// activation.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, |name| {
            name.parse::<Activation>()
                .ok()
                .map(|a| Arc::new(a) as Arc<dyn ActivationFn<T>>)
        })
    }

    /// As [`Network::load`], resolving the activation's name with `resolve` (return `None` for
    /// an unknown name), so that networks with a user's own activation can be loaded.
    ///
    /// # Errors
    /// As [`Network::load`].
    pub fn load_with(
        path: impl AsRef<Path>,
        resolve: impl Fn(&str) -> Option<Arc<dyn ActivationFn<T>>>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let MatrixFile {
            matrices: weights,
            dtype,
            metadata: meta,
        } = load_matrices::<T>(path, "W")?;
        if dtype != T::DTYPE {
            return Err(model_err(
                path,
                ModelError::DtypeMismatch {
                    found: dtype,
                    expected: T::DTYPE,
                },
            ));
        }
        from_parts(path, weights, &meta, resolve)
    }
}

fn from_parts<T: Scalar>(
    path: &Path,
    weights: Vec<DMatrix<T>>,
    meta: &HashMap<String, String>,
    resolve: impl Fn(&str) -> Option<Arc<dyn ActivationFn<T>>>,
) -> Result<Network<T>> {
    let name = meta
        .get(ACTIVATION_KEY)
        .ok_or_else(|| model_err(path, ModelError::MissingActivation))?;
    let activation = resolve(name).ok_or_else(|| {
        model_err(
            path,
            ModelError::Network(Box::new(Error::UnknownActivation { name: name.clone() })),
        )
    })?;
    Network::with_activation(weights, activation)
        .map_err(|e| model_err(path, ModelError::Network(Box::new(e))))
}

/// A network whose scalar type was decided by its model file.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyNetwork {
    /// A file of F32 tensors.
    F32(Network<f32>),
    /// A file of F64 tensors.
    F64(Network<f64>),
}

impl AnyNetwork {
    /// Reads a model file of either dtype (built-in activations).
    ///
    /// # Errors
    /// As [`Network::load`], without the dtype mismatch.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_within(path, DEFAULT_MAX_BYTES)
    }

    /// As [`AnyNetwork::load`], refusing a file of more than `max_bytes` before reading it (or,
    /// for a stream or a file that grows, once `max_bytes + 1` bytes have been read).
    ///
    /// # Errors
    /// As [`AnyNetwork::load`]; [`Error::TooLarge`] beyond `max_bytes`.
    pub fn load_within(path: impl AsRef<Path>, max_bytes: u64) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_file_within(path, u128::from(max_bytes))?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses the bytes of a model file already in memory; `path` only names the source in
    /// errors.
    ///
    /// # Errors
    /// As [`AnyNetwork::load`].
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
        let (dtype, views) = weight_views(path, &st, "W")?;
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| model_err(path, ModelError::Format(e.to_string())))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        fn builtin<T: Scalar>(name: &str) -> Option<Arc<dyn ActivationFn<T>>> {
            name.parse::<Activation>()
                .ok()
                .map(|a| Arc::new(a) as Arc<dyn ActivationFn<T>>)
        }
        Ok(match dtype {
            Dtype::F32 => {
                let w = views.iter().map(|v| matrix_from_view(v, dtype)).collect();
                AnyNetwork::F32(from_parts(path, w, &meta, builtin::<f32>)?)
            }
            Dtype::F64 => {
                let w = views.iter().map(|v| matrix_from_view(v, dtype)).collect();
                AnyNetwork::F64(from_parts(path, w, &meta, builtin::<f64>)?)
            }
        })
    }

    /// Writes the network (in its own dtype) atomically.
    ///
    /// # Errors
    /// As [`Network::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            AnyNetwork::F32(n) => n.save(path),
            AnyNetwork::F64(n) => n.save(path),
        }
    }

    /// The dtype of the weights.
    pub fn dtype(&self) -> Dtype {
        match self {
            AnyNetwork::F32(_) => Dtype::F32,
            AnyNetwork::F64(_) => Dtype::F64,
        }
    }

    /// The layer sizes [l_0, …, l_n].
    pub fn sizes(&self) -> Vec<usize> {
        match self {
            AnyNetwork::F32(n) => n.sizes(),
            AnyNetwork::F64(n) => n.sizes(),
        }
    }

    /// The activation's name.
    pub fn activation_name(&self) -> String {
        match self {
            AnyNetwork::F32(n) => n.activation().name(),
            AnyNetwork::F64(n) => n.activation().name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_large(err: Error) -> (String, u128, u128) {
        match err {
            Error::TooLarge {
                what,
                bytes,
                limit: Some(limit),
            } => (what, bytes, limit),
            other => panic!("expected TooLarge, got {other}"),
        }
    }

    #[test]
    fn a_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.bin");
        std::fs::write(&path, [7u8; 100]).unwrap();
        assert_eq!(read_file_within(&path, 100).unwrap(), vec![7u8; 100]);
    }

    #[test]
    fn a_file_larger_than_the_limit_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        std::fs::write(&path, [0u8; 101]).unwrap();
        let (what, bytes, limit) = too_large(read_file_within(&path, 100).unwrap_err());
        assert_eq!((bytes, limit), (101, 100));
        assert!(what.contains("big.bin"), "{what}");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_stream_is_refused_at_the_limit_not_read_to_the_end() {
        let path = Path::new("/dev/zero");
        let (what, bytes, limit) = too_large(read_file_within(path, 1 << 20).unwrap_err());
        assert_eq!((bytes, limit), ((1 << 20) + 1, 1 << 20));
        assert!(
            what.contains("/dev/zero") && what.contains("not a regular file"),
            "{what}"
        );
    }
}
