//! Files and standard output: atomic writes, the same-file checks that keep a command from
//! writing over its input, and printing. Depends on nothing else in the crate.
//!
//! A file is written atomically: a temporary file in the same directory, `fsync`, a rename over
//! the path, `fsync` of the directory, so that after a crash the path holds either its old or
//! its new contents, complete.

use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    fn sibling_paths() {
        assert_eq!(
            sibling(Path::new("m.safetensors"), "m.loss.png"),
            PathBuf::from("m.loss.png")
        );
        assert_eq!(
            sibling(Path::new("out/m.st"), "m.loss.png"),
            PathBuf::from("out/m.loss.png")
        );
    }
}
