//! `step-timer` runs its modes end to end on tiny budgets: the JSON lines and the table a
//! user (and `compare.py`) reads are there and hold finite, positive times, and a bad option
//! is a one-line error with exit status 2. Nothing here asserts a speed.

use std::process::Command;

/// Runs step-timer with `args`; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_step-timer"))
        .args(args)
        .output()
        .expect("step-timer runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `"key": ` in a JSON line.
fn field(line: &str, key: &str) -> f64 {
    let start = line
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 4;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

const TINY: [&str; 8] = [
    "--min-reps",
    "3",
    "--max-reps",
    "3",
    "--target-time",
    "0",
    "--warmup-time",
    "0",
];

#[test]
fn floor_prints_the_passes_both_steps_and_their_ratios() {
    let mut args = vec!["--floor", "--shapes", "S1", "--dtypes", "f64,f32"];
    args.extend(TINY);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\"kind\": \"floor\""))
        .collect();
    assert_eq!(lines.len(), 2, "one floor line per dtype:\n{out}");
    for (line, size) in lines.iter().zip([8.0, 4.0]) {
        // S1's weights: 3·4 + 4·5 + 5·2 = 42 elements.
        assert_eq!(field(line, "weight_bytes"), 42.0 * size, "{line}");
        for key in [
            "read_median_s",
            "read_write_median_s",
            "backprop_median_s",
            "nalgebra_median_s",
            "nalgebra_over_backprop",
            "nalgebra_over_floor",
            "backprop_over_floor",
        ] {
            let v = field(line, key);
            assert!(v.is_finite() && v > 0.0, "{key} = {v} in {line}");
        }
        assert_eq!(field(line, "rounds"), 3.0, "{line}");
    }
    let rows = out.lines().filter(|l| l.starts_with("| S1 |")).count();
    assert_eq!(rows, 2, "a table row per dtype:\n{out}");
}

#[test]
fn versus_prints_both_steps_and_a_table() {
    let mut args = vec![
        "--impl",
        "backprop,nalgebra",
        "--shapes",
        "S1",
        "--dtypes",
        "f32",
    ];
    args.extend(TINY);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let steps = out
        .lines()
        .filter(|l| l.contains("\"kind\": \"step\""))
        .count();
    assert_eq!(steps, 2, "{out}");
    let versus = out
        .lines()
        .find(|l| l.contains("\"kind\": \"versus\""))
        .unwrap_or_else(|| panic!("no versus line:\n{out}"));
    assert!(field(versus, "round_ratio_median") > 0.0, "{versus}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("| S1 | 3-4-5-2 | 1 | f32 |")),
        "{out}"
    );
}

#[test]
fn a_bad_option_is_a_one_line_error() {
    for (args, says) in [
        (&["--shapes", "S9"][..], "unknown shape S9"),
        (&["--floor", "--dtypes", "f16"][..], "unknown dtype f16"),
        (&["--frobnicate", "1"][..], "unknown option --frobnicate"),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
