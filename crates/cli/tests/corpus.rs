//! The corpus of malformed inputs in `tests/corpus/` (models, CSV files, argument vectors), each
//! with the error it must produce; see `tests/corpus/README.md` for the format.
//!
//! Every case runs the real binary in a fresh directory and must end in exit code 2 (or the one
//! its `.expected` names), one line `error: …` holding the expected texts, nothing on standard
//! output, no panic, and no file created or changed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// What a case must produce, from its `.expected` file.
#[derive(Debug)]
struct Expected {
    errors: Vec<String>,
    exit: i32,
    env: Vec<(String, String)>,
    only: Option<String>,
}

fn parse_expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let mut expected = Expected {
        errors: vec![],
        exit: 2,
        env: vec![],
        only: None,
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}:{}: not `key: value`", path.display(), n + 1));
        match key {
            "error" => expected.errors.push(value.to_string()),
            "exit" => expected.exit = value.parse().expect("exit: a number"),
            "env" => {
                let (k, v) = value.split_once('=').expect("env: KEY=VALUE");
                expected.env.push((k.to_string(), v.to_string()));
            }
            "only" => expected.only = Some(value.to_string()),
            _ => panic!("{}:{}: unknown key {key:?}", path.display(), n + 1),
        }
    }
    assert!(
        !expected.errors.is_empty(),
        "{}: give at least one `error:` line",
        path.display()
    );
    expected
}

/// The cases of `dir`: every `NAME.ext` with its `NAME.expected`, sorted by name. A file with
/// another extension, or an `.expected` without its input, fails.
fn cases(dir: &str, ext: &str) -> Vec<(PathBuf, Expected)> {
    let dir = corpus().join(dir);
    let mut inputs = BTreeMap::new();
    let mut expecteds = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        match path.extension().and_then(|e| e.to_str()) {
            Some("expected") => expecteds.insert(stem, path),
            Some(e) if e == ext => inputs.insert(stem, path),
            _ => panic!("{}: neither .{ext} nor .expected", path.display()),
        };
    }
    let missing: Vec<_> = inputs
        .keys()
        .filter(|k| !expecteds.contains_key(*k))
        .collect();
    assert!(missing.is_empty(), "no .expected for {missing:?}");
    let orphans: Vec<_> = expecteds
        .keys()
        .filter(|k| !inputs.contains_key(*k))
        .collect();
    assert!(
        orphans.is_empty(),
        ".expected without a .{ext}: {orphans:?}"
    );
    assert!(!inputs.is_empty(), "{}: no cases", dir.display());
    inputs
        .into_iter()
        .map(|(stem, input)| (input, parse_expected(&expecteds[&stem])))
        .collect()
}

/// A fresh directory with the good model and data, plus `extra` under its own name.
fn workdir(extra: Option<&Path>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["model.safetensors", "data.csv"] {
        std::fs::copy(corpus().join("good").join(name), dir.path().join(name)).unwrap();
    }
    if let Some(p) = extra {
        std::fs::copy(p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// Every file in `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<OsString, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name(), std::fs::read(e.path()).unwrap_or_default())
        })
        .collect()
}

fn run(dir: &Path, args: &[OsString], expected: &Expected) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backprop"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        // The tests' own limit must not leak in; a case sets its own.
        .env_remove("BACKPROP_MEMORY_LIMIT");
    for (k, v) in &expected.env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// Runs `args` in a fresh directory and checks the refusal; returns a description of what is
/// wrong, or `None`.
fn refusal_problem(
    case: &str,
    extra: Option<&Path>,
    args: &[OsString],
    expected: &Expected,
    name_in_error: Option<&str>,
) -> Option<String> {
    let dir = workdir(extra);
    let before = snapshot(dir.path());
    let out = run(dir.path(), args, expected);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shown = format!(
        "{case} ({args:?}): exit {:?}, stderr {stderr:?}",
        out.status.code()
    );
    let mut problems = vec![];
    if out.status.code() != Some(expected.exit) {
        problems.push(format!("exit code is not {}", expected.exit));
    }
    if stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    if !stderr.starts_with("error: ") || stderr.trim_end().lines().count() != 1 {
        problems.push("stderr is not one line `error: …`".into());
    }
    for e in expected
        .errors
        .iter()
        .map(String::as_str)
        .chain(name_in_error)
    {
        if !stderr.contains(e) {
            problems.push(format!("the error does not contain {e:?}"));
        }
    }
    if !stdout.is_empty() {
        problems.push(format!("stdout is not empty: {stdout:?}"));
    }
    let after = snapshot(dir.path());
    if after != before {
        let names = |m: &BTreeMap<OsString, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
        problems.push(format!(
            "the directory changed: {:?} -> {:?}",
            names(&before),
            names(&after)
        ));
    }
    (!problems.is_empty()).then(|| format!("{shown}: {}", problems.join("; ")))
}

fn skipped(expected: &Expected) -> bool {
    expected
        .only
        .as_deref()
        .is_some_and(|os| os != std::env::consts::OS)
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs every case with every command line `commands` makes from its file name; panics with
/// every failure at once.
fn check_all(dir: &str, ext: &str, commands: impl Fn(&str) -> Vec<Vec<OsString>>) {
    let mut failures = vec![];
    let mut runs = 0;
    for (input, expected) in cases(dir, ext) {
        if skipped(&expected) {
            continue;
        }
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        for args in commands(&name) {
            runs += 1;
            let case = format!("{dir}/{name}");
            if let Some(p) = refusal_problem(&case, Some(&input), &args, &expected, Some(&name)) {
                failures.push(p);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_model_files_are_refused_by_every_command() {
    check_all("models", "safetensors", |m| {
        vec![
            os(&[
                "predict", "--model", m, "--data", "data.csv", "--out", "z.csv",
            ]),
            os(&["grad", "--model", m, "--data", "data.csv", "--out", "g.st"]),
            os(&["check", "--model", m, "--data", "data.csv"]),
            os(&[
                "train", "--init", m, "--data", "data.csv", "--out", "t.st", "--epochs", "1",
            ]),
        ]
    });
}

#[test]
fn malformed_csv_files_are_refused_by_every_command() {
    check_all("csv", "csv", |d| {
        vec![
            os(&[
                "predict",
                "--model",
                "model.safetensors",
                "--data",
                d,
                "--out",
                "z.csv",
            ]),
            os(&[
                "grad",
                "--model",
                "model.safetensors",
                "--data",
                d,
                "--out",
                "g.st",
            ]),
            os(&["check", "--model", "model.safetensors", "--data", d]),
            os(&[
                "train", "--data", d, "--layers", "3,4,2", "--out", "t.st", "--epochs", "1",
            ]),
        ]
    });
}

#[test]
fn bad_arguments_are_refused() {
    let mut failures = vec![];
    let mut runs = 0;
    for (input, expected) in cases("args", "args") {
        if skipped(&expected) {
            continue;
        }
        // One argument a line, bytes as they are (a case may hold non-UTF-8 arguments).
        let bytes = std::fs::read(&input).unwrap();
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let args: Vec<OsString> = bytes.split(|&b| b == b'\n').map(os_string).collect();
        runs += 1;
        let case = format!("args/{}", input.file_name().unwrap().to_string_lossy());
        if let Some(p) = refusal_problem(&case, None, &args, &expected, None) {
            failures.push(p);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

#[test]
fn the_good_files_are_accepted() {
    // The corpus's baseline: with the good model and data every command succeeds, so each
    // case's refusal is due to its one defect.
    let dir = workdir(None);
    let none = Expected {
        errors: vec![],
        exit: 0,
        env: vec![],
        only: None,
    };
    for args in [
        os(&[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
        ]),
        os(&[
            "grad",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "g.st",
        ]),
        os(&[
            "check",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
        ]),
        os(&[
            "train",
            "--init",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "t.st",
            "--epochs",
            "1",
            "--no-plots",
        ]),
    ] {
        let out = run(dir.path(), &args, &none);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
