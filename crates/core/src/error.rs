//! The crate's error type: one `#[non_exhaustive]` enum whose variants carry the facts a user
//! needs to find the fault (which layer, which shape, which index, which file and why).

use std::path::PathBuf;

/// Everything that can go wrong in `backprop`. Every fallible public function returns it.
///
/// Layers are counted as in the seed: `W_i` maps layer i to layer i+1; elements are 0-based,
/// `W_i^{jk}` is row j, column k. Data matrices hold one sample per column.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network needs at least one weight matrix (two layer sizes).
    #[error("a network needs at least 2 layer sizes (l_0 and l_1), got {got}")]
    TooFewLayers {
        /// How many layer sizes were given.
        got: usize,
    },
    /// A layer of width zero.
    #[error("layer {layer} has width 0; every l_i must be at least 1")]
    ZeroWidth {
        /// The layer i with l_i = 0.
        layer: usize,
    },
    /// A weight matrix whose shape does not chain with its neighbours.
    #[error(
        "W_{layer} has shape {}×{}, expected {}×{} (l_{} × l_{layer})",
        got.0, got.1, expected.0, expected.1, layer + 1
    )]
    WeightShape {
        /// The index i of W_i.
        layer: usize,
        /// (rows, columns) required: (l_{i+1}, l_i).
        expected: (usize, usize),
        /// (rows, columns) found.
        got: (usize, usize),
    },
    /// A weight that is NaN or infinite.
    #[error("W_{layer}[{row},{col}] is not finite ({value})")]
    NonFiniteWeight {
        /// The index i of W_i.
        layer: usize,
        /// Row j.
        row: usize,
        /// Column k.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// Inputs or targets whose row count does not match the network.
    #[error("{what} have {got} rows, the network expects {expected}")]
    DataShape {
        /// `"inputs"` (l_0 rows) or `"targets"` (l_n rows).
        what: &'static str,
        /// The rows the network expects.
        expected: usize,
        /// The rows given.
        got: usize,
    },
    /// Inputs and targets with different numbers of samples (columns).
    #[error("inputs have {inputs} samples but targets have {targets}")]
    SampleCount {
        /// Columns of the input matrix.
        inputs: usize,
        /// Columns of the target matrix.
        targets: usize,
    },
    /// An empty data set or batch.
    #[error("no samples: the data set is empty")]
    NoSamples,
    /// An input or target value that is NaN or infinite.
    #[error("{what} value at row {row}, sample {sample} is not finite ({value})")]
    NonFiniteData {
        /// `"input"` or `"target"`.
        what: &'static str,
        /// The row (feature or output index).
        row: usize,
        /// The sample (column) index.
        sample: usize,
        /// The value found.
        value: f64,
    },
    /// An activation name that is not built in.
    #[error(
        "unknown activation '{name}' (known: sigmoid, tanh, relu, leaky_relu, leaky_relu:ALPHA, softplus, identity)"
    )]
    UnknownActivation {
        /// The name given.
        name: String,
    },
    /// A hyper-parameter outside its range (learning rate, batch size, …).
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Training produced a NaN or infinite loss; the network holds the last finite model.
    #[error(
        "loss became non-finite ({loss}) in epoch {epoch}, batch {batch}; the network was restored to the model at the start of epoch {epoch}"
    )]
    NonFiniteLoss {
        /// The epoch (0-based) in which the loss went non-finite.
        epoch: usize,
        /// The mini-batch (0-based, within the epoch).
        batch: usize,
        /// The loss value.
        loss: f64,
    },
    /// Something too large to hold: beyond a bound the caller gave (reading a model file), or
    /// an allocation whose size overflows or that the allocator refused.
    #[error("{what} needs {bytes} bytes, {}", too_large_why(*.limit))]
    TooLarge {
        /// What was to be allocated.
        what: String,
        /// Bytes needed (at least; `u128::MAX` when the count itself overflows).
        bytes: u128,
        /// The caller's bound in bytes, or `None` when the allocation itself failed.
        limit: Option<u128>,
    },
    /// A model file that cannot be read, written or understood.
    #[error("{}: {reason}", path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: ModelError,
    },
}

/// What is wrong with a model file (inside [`Error::Model`]).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a valid safetensors file (bad header, truncated data, overlapping offsets, …).
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// A tensor with a dtype other than F32 or F64, or tensors of mixed dtypes.
    #[error("tensor {tensor} has dtype {dtype}; expected {expected}")]
    Dtype {
        /// The tensor's name.
        tensor: String,
        /// The dtype found.
        dtype: String,
        /// What was expected (`F32 or F64`, or the dtype of `W0`).
        expected: String,
    },
    /// The file has no `W0`, or a gap in the sequence W0, W1, ….
    #[error("missing tensor {name}")]
    MissingTensor {
        /// The tensor that should be there.
        name: String,
    },
    /// A tensor named like a weight (`W` and digits) that does not continue the sequence
    /// W0, W1, … (it comes after a gap, or has a leading zero).
    #[error(
        "unexpected tensor {name} after {after} (there is no {missing}; the weights are \
         numbered from 0 without a gap)"
    )]
    UnexpectedTensor {
        /// The tensor's name.
        name: String,
        /// The weights that are in sequence, `W0..W2`.
        after: String,
        /// The first name missing from the sequence.
        missing: String,
    },
    /// A tensor named like a weight, but not 2-D.
    #[error("tensor {tensor} has {dims} dimensions {shape:?}; a weight matrix has 2")]
    Rank {
        /// The tensor's name.
        tensor: String,
        /// Its number of dimensions.
        dims: usize,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// The `__metadata__` map has no `activation` key.
    #[error("metadata has no \"activation\" key")]
    MissingActivation,
    /// The file's dtype differs from the scalar type it is loaded as.
    #[error("file holds {found} weights, loaded as {expected}")]
    DtypeMismatch {
        /// The file's dtype.
        found: crate::Dtype,
        /// The requested dtype.
        expected: crate::Dtype,
    },
    /// Shapes, activation or values that do not make a valid network.
    #[error("{0}")]
    Network(Box<Error>),
}

/// `Result<T, backprop::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The end of [`Error::TooLarge`]'s message.
fn too_large_why(limit: Option<u128>) -> String {
    match limit {
        Some(limit) => format!("more than the limit of {limit} bytes"),
        None => "which cannot be allocated".into(),
    }
}
