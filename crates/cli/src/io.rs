//! Files and standard output: where an output goes (a regular file replaced atomically, a
//! device or FIFO written in place, standard output), the checks made before a command's work
//! (every output writable, no two outputs the same file, none an input), the removal of stale
//! temporary files, and printing. Depends on nothing else in the crate.
//!
//! An output path is written according to what it names ([`Target`]):
//!
//! * a regular file, or a name not yet taken, is written **atomically**: a temporary file in the
//!   same directory, `fsync`, a rename over the path, `fsync` of the directory, so that after a
//!   crash the path holds either its old or its new contents, complete. An existing file keeps
//!   its permission bits. A symbolic link is followed: the file it names is replaced and the
//!   link stays a link;
//! * a FIFO or a character device (`/dev/null`, a terminal) is opened and written **in place**,
//!   never renamed over;
//! * the process's own standard output (`/dev/stdout`, `/dev/fd/1`, or whatever file or pipe
//!   standard output is) is written to standard output;
//! * a directory, a block device or a socket is refused.
//!
//! Temporary files are named `.backprop-PID-XXXXXX.tmp` (`.tmp.png` for pictures), PID the
//! writing process's. After each successful atomic save, [`sweep_stale`] removes the stale
//! ones in that directory (see there).

use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What writing an output path means, decided from what the path names now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A regular file (existing or to be created) at `file`, the path with its symbolic links
    /// resolved; replaced atomically. `mode`: the permission bits of the existing file.
    File {
        /// The path with symbolic links resolved: the rename goes here.
        file: PathBuf,
        /// The existing file's permission bits, kept by the new contents (Unix).
        mode: Option<u32>,
    },
    /// A FIFO or a character device: opened and written in place.
    InPlace {
        /// `true` for a character device (`/dev/null`, a terminal), `false` for a FIFO.
        device: bool,
    },
    /// The process's standard output.
    Stdout,
}

/// `true` when `meta` is the file the process's standard output is (same device and inode).
#[cfg(unix)]
fn is_stdout_file(meta: &std::fs::Metadata) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(out) => out.dev() == meta.dev() && out.ino() == meta.ino(),
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn is_stdout(_: &std::fs::Metadata) -> bool {
    false
}

/// The file a chain of symbolic links ends at (which need not exist); `path` itself when it is
/// not a link.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)
                    .map_err(|e| anyhow!("{}: cannot read the link: {e}", p.display()))?;
                p = if to.is_absolute() {
                    to
                } else {
                    p.parent().unwrap_or(Path::new("")).join(to)
                };
            }
            _ => return Ok(p),
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// What `path` names, as an output: see [`Target`]. Reads metadata only; writes nothing.
///
/// # Errors
/// A directory, a block device, a socket, or a path whose metadata cannot be read, as one line
/// naming the path.
pub fn target(path: &Path) -> Result<Target> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Not there yet, or a link to a file not there yet: created where the links lead.
            return Ok(Target::File {
                file: resolve_links(path)?,
                mode: None,
            });
        }
        Err(e) => bail!("{shown}: cannot write: {e}"),
    };
    if is_stdout_file(&meta) {
        return Ok(Target::Stdout);
    }
    let kind = meta.file_type();
    if kind.is_dir() {
        bail!("{shown}: is a directory; give a file name");
    }
    if kind.is_file() {
        let file = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::canonicalize(path)
                .map_err(|e| anyhow!("{shown}: cannot resolve the link: {e}"))?
        } else {
            path.to_path_buf()
        };
        return Ok(Target::File {
            file,
            mode: permission_bits(&meta),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Ok(Target::InPlace { device: false });
        }
        if kind.is_char_device() {
            return Ok(Target::InPlace { device: true });
        }
        let what = if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        bail!("{shown}: is {what}; refusing to write over it, give a file name");
    }
    #[cfg(not(unix))]
    bail!("{shown}: is not a regular file; refusing to write over it, give a file name")
}

#[cfg(unix)]
fn permission_bits(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn permission_bits(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// The directory a file is written in (`.` for a bare name).
fn dir_of(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Checks the outputs of a command before it reads anything large or does any work; writes
/// nothing. `outputs` pairs what names each output (`--out`, `--history`, …) with its path.
///
/// Refuses an output that is a directory, a block device or a socket, and two outputs that
/// name the same file (compared after resolving symbolic links, `.` and `..`; the same
/// character device, such as `/dev/null`, may take several).
///
/// # Errors
/// The first problem, as one line naming the path(s) and the options.
pub fn check_outputs(outputs: &[(String, PathBuf)]) -> Result<()> {
    let mut seen: Vec<(&str, &Path, Option<PathBuf>)> = Vec::new();
    for (option, path) in outputs {
        let id = match target(path).map_err(|e| anyhow!("{option} {e:#}"))? {
            Target::File { file, .. } => Some(identity(&file)),
            Target::Stdout => Some(PathBuf::from("/dev/stdout")),
            Target::InPlace { device: true } => None,
            Target::InPlace { device: false } => Some(identity(path)),
        };
        if let Some(id) = &id
            && let Some((other, other_path, _)) =
                seen.iter().find(|(_, _, o)| o.as_ref() == Some(id))
        {
            bail!(
                "{}: {option} names the same file as {other} ({}); give each output its own \
                 file",
                path.display(),
                other_path.display()
            );
        }
        seen.push((option, path, id));
    }
    Ok(())
}

/// A path that is the same for every spelling of one file: the canonical path of its longest
/// existing ancestor (links, `.` and `..` resolved), then the rest of it with `.` and `..`
/// resolved by name (the directories are created as named).
fn identity(file: &Path) -> PathBuf {
    let mut base = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let mut rest = Vec::new();
    loop {
        if let Ok(mut p) = std::fs::canonicalize(&base) {
            for part in rest.iter().rev() {
                if part == ".." {
                    p.pop();
                } else if part != "." {
                    p.push(part);
                }
            }
            return p;
        }
        let last = base.components().next_back();
        match (last, base.parent()) {
            (Some(last), Some(parent)) => {
                rest.push(last.as_os_str().to_os_string());
                base = parent.to_path_buf();
            }
            _ => return std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()),
        }
    }
}

/// Proves that every output can be written, before the command's work: for a regular file,
/// creates (and removes) a temporary file in its directory, creating the directory when
/// missing; for a FIFO or a device, checks write permission without opening it (opening a FIFO
/// would wake its reader). Standard output needs nothing.
///
/// # Errors
/// As [`target`]; a directory that cannot be created or written in, or a device or FIFO
/// without write permission, naming the option and the path.
pub fn probe_outputs(outputs: &[(String, PathBuf)]) -> Result<()> {
    for (option, path) in outputs {
        match target(path).map_err(|e| anyhow!("{option} {e:#}"))? {
            Target::File { file, .. } => {
                let fail = |e: anyhow::Error| {
                    anyhow!("{option} {}: cannot be written: {e:#}", path.display())
                };
                ensure_parent(&file).map_err(fail)?;
                let dir = dir_of(&file);
                temp_in(dir, ".tmp")
                    .map_err(|e| fail(anyhow!("cannot create a file in {}: {e}", dir.display())))?;
            }
            Target::InPlace { .. } => {
                #[cfg(unix)]
                rustix::fs::access(path, rustix::fs::Access::WRITE_OK).map_err(|e| {
                    anyhow!(
                        "{option} {}: cannot be written: {}",
                        path.display(),
                        std::io::Error::from(e)
                    )
                })?;
            }
            Target::Stdout => {}
        }
    }
    Ok(())
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

/// The start of every temporary file's name: `.backprop-PID-`.
fn temp_prefix() -> String {
    format!(".backprop-{}-", std::process::id())
}

/// A temporary file `.backprop-PID-XXXXXX{suffix}` in `dir`, created with the permissions of
/// an ordinary new file (0666 less the umask, not tempfile's private 0600).
fn temp_in(dir: &Path, suffix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let prefix = temp_prefix();
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// A temporary file that becomes the contents of an output path when committed.
pub struct Scratch {
    tmp: tempfile::NamedTempFile,
    target: Target,
}

impl Scratch {
    /// The temporary file's path, to write the contents to.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

/// A temporary file for the new contents of `path`: beside the file it names (same directory,
/// so that the rename is atomic), or, for a device, a FIFO or standard output, in the system's
/// temporary directory. `suffix` ends its name (`.tmp.png` keeps a picture's extension).
///
/// # Errors
/// As [`target`]; a directory that cannot be created or written in.
pub fn scratch(path: &Path, suffix: &str) -> Result<Scratch> {
    let target = target(path)?;
    let dir = match &target {
        Target::File { file, .. } => {
            ensure_parent(file)?;
            dir_of(file).to_path_buf()
        }
        _ => std::env::temp_dir(),
    };
    let tmp = temp_in(&dir, suffix).map_err(|e| {
        anyhow!(
            "{}: cannot create a file in {}: {e}",
            path.display(),
            dir.display()
        )
    })?;
    Ok(Scratch { tmp, target })
}

/// Makes the scratch file's contents those of `path`: for a regular file, `fsync`, the
/// existing file's permission bits, the rename, `fsync` of the directory, then
/// [`sweep_stale`] in that directory; otherwise the bytes are written in place.
///
/// # Errors
/// A file that cannot be written; `path` is then untouched (a regular file) and the scratch
/// file removed.
pub fn commit(scratch: Scratch, path: &Path) -> Result<()> {
    let Scratch { tmp, target } = scratch;
    let fail = |e: std::io::Error| anyhow!("{}: cannot write: {e}", path.display());
    match target {
        Target::File { file, mode } => {
            #[cfg(unix)]
            if let Some(mode) = mode {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(fail)?;
            }
            #[cfg(not(unix))]
            let _ = mode;
            tmp.as_file().sync_all().map_err(fail)?;
            tmp.persist(&file).map_err(|e| fail(e.error))?;
            let dir = dir_of(&file);
            #[cfg(unix)]
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
            sweep_stale(dir);
            Ok(())
        }
        target => {
            let bytes = std::fs::read(tmp.path()).map_err(fail)?;
            write_in_place(&target, path, &bytes)
        }
    }
}

/// Writes `bytes` to a device, a FIFO or standard output.
fn write_in_place(target: &Target, path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| anyhow!("{}: cannot write: {e}", path.display());
    if *target == Target::Stdout {
        let mut out = std::io::stdout().lock();
        return match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(fail(e)),
            _ => Ok(()),
        };
    }
    // No create, no truncate: the device or FIFO stays what it is.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(fail)?;
    f.write_all(bytes).and_then(|()| f.flush()).map_err(fail)
}

/// Writes `bytes` to `path` as its [`Target`] says: a regular file atomically (a temporary
/// file in the same directory, `fsync`, renamed over it; on error `path` is untouched), a
/// device or FIFO in place, standard output there.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    match target(path)? {
        Target::File { .. } => {
            let s = scratch(path, ".tmp")?;
            s.tmp
                .as_file()
                .write_all(bytes)
                .map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))?;
            commit(s, path)
        }
        t => write_in_place(&t, path, bytes),
    }
}

/// `true` when `path` is the process's standard output (so that a command writing its output
/// there prints no other line after it).
pub fn is_stdout(path: &Path) -> bool {
    matches!(target(path), Ok(Target::Stdout))
}

/// A temporary file whose writer is known to be gone (its PID no longer runs) is removed once
/// it has been untouched this long.
pub const STALE_WRITER_GONE: Duration = Duration::from_secs(5 * 60);

/// Any other temporary file of the pattern is removed once untouched this long.
pub const STALE_ANY: Duration = Duration::from_secs(24 * 60 * 60);

/// For a name of the project's temporary files, `.backprop-[PID-]XXXXXX` then `.tmp`,
/// `.tmp.png` or `.png` (XXXXXX six letters or digits), the PID when there is one.
fn temp_file_pid(name: &str) -> Option<Option<u32>> {
    let rest = name.strip_prefix(".backprop-")?;
    let (pid, rest) = match rest.split_once('-') {
        Some((p, r)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(p.parse().ok()?), r)
        }
        _ => (None, rest),
    };
    let (random, suffix) = rest.split_at_checked(6)?;
    (random.bytes().all(|b| b.is_ascii_alphanumeric())
        && matches!(suffix, ".tmp" | ".tmp.png" | ".png"))
    .then_some(pid)
}

/// `true` when no process `pid` runs on this machine (Linux, with `/proc`); `false` when that
/// cannot be known.
fn writer_gone(pid: u32) -> bool {
    cfg!(target_os = "linux")
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the stale temporary files a killed save left in `dir`; returns how many. A file is
/// removed only when all of these hold: its name is the project's pattern
/// (`.backprop-PID-XXXXXX.tmp`, `.tmp.png`, or the older `.backprop-XXXXXX.tmp` and `.png`),
/// it is a regular file (not a link), it is not this process's, and either its PID no longer
/// runs here and it was last modified more than [`STALE_WRITER_GONE`] ago, or it was last
/// modified more than [`STALE_ANY`] ago. A save in progress in another process keeps its file:
/// its PID runs, and its file is being written. Errors are ignored (the save itself succeeded).
pub fn sweep_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let own = std::process::id();
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if pid == Some(own) {
            continue;
        }
        // DirEntry::metadata does not follow a link.
        let Ok(meta) = entry.metadata() else { continue };
        let Some(age) = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
        else {
            continue;
        };
        let stale = age > STALE_ANY || (age > STALE_WRITER_GONE && pid.is_some_and(writer_gone));
        if meta.file_type().is_file() && stale && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
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

    #[test]
    fn temporary_file_names_are_recognised_by_pattern_only() {
        assert_eq!(temp_file_pid(".backprop-123-aB3dE9.tmp"), Some(Some(123)));
        assert_eq!(temp_file_pid(".backprop-7-aB3dE9.tmp.png"), Some(Some(7)));
        assert_eq!(temp_file_pid(".backprop-aB3dE9.tmp"), Some(None));
        assert_eq!(temp_file_pid(".backprop-aB3dE9.png"), Some(None));
        for other in [
            ".backprop-123-aB3dE9.tmp~",
            ".backprop-123-aB3dE.tmp",
            ".backprop-123-aB3dE9x.tmp",
            ".backprop-notes.tmp",
            "backprop-aB3dE9.tmp",
            ".backprop-12a-aB3dE9.tmp",
            ".backprop-123-aB-dE9.tmp",
            "model.safetensors",
        ] {
            assert_eq!(temp_file_pid(other), None, "{other}");
        }
        // This process's own temporary files carry its PID.
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_in(dir.path(), ".tmp").unwrap();
        let name = tmp.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(temp_file_pid(name), Some(Some(std::process::id())));
    }
}
