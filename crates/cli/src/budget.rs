//! The memory budget: every size a command will allocate (data, networks, buffers, pictures)
//! is checked against the memory limit before it is allocated, and refused with the bytes
//! needed and the limit. Every use of the limit in the crate goes through this module.
//!
//! The limit is the machine's available memory (`MemAvailable` in `/proc/meminfo`, or 8 GiB
//! where that cannot be read), or `BACKPROP_MEMORY_LIMIT` bytes when that variable is set.
//! This is the application's policy: the `backprop` library applies no limit of its own (it
//! refuses only sizes that overflow or that the allocator refuses).

use anyhow::{Result, anyhow, bail};
use backprop::{Network, Scalar};
use nalgebra::DMatrix;
use std::path::Path;

/// The number of bytes one network, data set or buffer may take.
pub fn limit() -> u128 {
    if let Some(bytes) = std::env::var("BACKPROP_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u128>().ok())
    {
        return bytes;
    }
    available().unwrap_or(8 << 30)
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `bytes` for `what` when it exceeds the memory limit, with an error stating the bytes
/// needed and the limit.
pub fn check(what: impl FnOnce() -> String, bytes: u128) -> Result<()> {
    let limit = limit();
    if bytes > limit {
        bail!(
            "{} needs {bytes} bytes, more than the limit of {limit} bytes",
            what()
        );
    }
    Ok(())
}

/// Refuses a network of layer sizes `sizes` whose weights, Σ l_{i+1} l_i elements of `dtype`,
/// exceed the limit; run before `Network::random`.
///
/// # Errors
/// As [`check`].
pub fn check_weights(sizes: &[usize], dtype: backprop::Dtype) -> Result<()> {
    let elements = sizes
        .windows(2)
        .map(|l| l[0] as u128 * l[1] as u128)
        .fold(0u128, u128::saturating_add);
    check(
        || format!("a network of sizes {sizes:?} ({dtype})"),
        elements.saturating_mul(dtype.size() as u128),
    )
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
    check(reading, u128::from(meta.len()))?;
    let limit = limit();
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
