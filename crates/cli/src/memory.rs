//! The command's memory limit: every large allocation a run makes is checked against it first,
//! so that an absurd size is refused with one line instead of exhausting the machine.
//!
//! The limit is the machine's available memory (`MemAvailable` in `/proc/meminfo`, or 8 GiB
//! where that cannot be read), or `BACKPROP_MEMORY_LIMIT` bytes when that variable is set.
//! This is the application's policy: the `backprop` library applies no limit of its own (it
//! refuses only sizes that overflow or that the allocator refuses).

use anyhow::{Result, bail};

/// The number of bytes one network, data set or set of buffers may take.
pub fn limit() -> u128 {
    if let Some(bytes) = std::env::var("BACKPROP_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u128>().ok())
    {
        return bytes;
    }
    available().unwrap_or(8 << 30)
}

fn available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `bytes` for `what` when it exceeds [`limit`].
///
/// # Errors
/// "{what} needs {bytes} bytes, more than the limit of {limit} bytes".
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
