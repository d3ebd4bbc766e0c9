//! Memory guards: refuse, before allocating, networks and data that would not fit.
//!
//! The limit is the machine's available memory (`MemAvailable` in `/proc/meminfo`, or 8 GiB
//! where that cannot be read), overridable with the environment variable
//! `BACKPROP_MEMORY_LIMIT` (bytes).

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// The number of bytes the crate allows one network or data set to take.
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
/// [`Error::TooLarge`] stating the bytes needed and the limit.
pub fn check(what: impl FnOnce() -> String, bytes: u128) -> Result<()> {
    let limit = limit();
    if bytes > limit {
        return Err(Error::TooLarge {
            what: what(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// Bytes of the weights of a network with layer sizes `sizes`, Σ l_{i+1} l_i elements of T.
pub fn weight_bytes<T: Scalar>(sizes: &[usize]) -> u128 {
    sizes
        .windows(2)
        .map(|l| l[0] as u128 * l[1] as u128)
        .sum::<u128>()
        * T::DTYPE.size() as u128
}

/// Refuses a network whose weights alone would exceed the limit.
pub(crate) fn check_weights<T: Scalar>(sizes: &[usize]) -> Result<()> {
    check(
        || format!("a network of sizes {sizes:?} ({})", T::DTYPE),
        weight_bytes::<T>(sizes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_networks_are_refused_before_allocating() {
        let err =
            crate::Network::<f64>::random(&[100_000, 100_000, 100_000], crate::Activation::Tanh, 0)
                .unwrap_err();
        match err {
            Error::TooLarge { bytes, limit, .. } => {
                assert_eq!(bytes, 2 * 100_000u128 * 100_000 * 8);
                assert!(bytes > limit);
            }
            other => panic!("expected TooLarge, got {other}"),
        }
    }
}
