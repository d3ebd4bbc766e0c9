//! Writing safetensors files: the model (`W0`, `W1`, … and the metadata key `activation`) and
//! the gradient (`dW0`, `dW1`, …), row-major in the scalar's dtype.

use crate::io;
use anyhow::{Result, anyhow};
use backprop::{Network, Scalar};
use nalgebra::DMatrix;
use std::collections::HashMap;
use std::path::Path;

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
    io::write_file(path, &data)
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
