//! The `backprop` binary, run as a user runs it: results checked against the core crate, and bad
//! input (malformed CSV and safetensors, mismatched shapes) answered with one short error line,
//! exit code 2, no output file and no panic.

use backprop::gradient::{elementwise, numerator};
use backprop::model_file::load_matrices;
use backprop::{Activation, AnyNetwork, Network};
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a clean refusal: exit 2, one line `error: …` containing every `needles`, nothing on
/// stdout, no panic.
#[track_caller]
fn assert_refused(out: &Output, needles: &[&str]) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.len() < 400, "short: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} should mention {n:?}");
    }
    stderr
}

/// Files in `dir` other than `keep`: nothing written, no temporary file left behind.
#[track_caller]
fn assert_only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    keep.sort();
    assert_eq!(names, keep);
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// A 3-4-2 sigmoid network saved as `model.safetensors` (F64) and 5 rows of data for it.
fn model_and_data(dir: &Path) -> Network<f64> {
    let net = Network::<f64>::random(&[3, 4, 2], Activation::Sigmoid, 11).unwrap();
    net.save(dir.join("model.safetensors")).unwrap();
    write(
        dir,
        "data.csv",
        "x0,x1,x2,y0,y1\n\
         0.1,0.2,0.3,1,0\n\
         -0.5,0.25,1.5,0,1\n\
         2,-1,0.5,0.5,0.5\n\
         0,0,0,1,1\n\
         -1.25,3,-0.75,-1,2\n",
    );
    net
}

fn data_matrices() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_column_slice(
        3,
        5,
        &[
            0.1, 0.2, 0.3, -0.5, 0.25, 1.5, 2.0, -1.0, 0.5, 0.0, 0.0, 0.0, -1.25, 3.0, -0.75,
        ],
    );
    let y = DMatrix::from_column_slice(2, 5, &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0, 1.0, -1.0, 2.0]);
    (x, y)
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        vec![],
        vec!["train"],
        vec!["grad"],
        vec!["check"],
        vec!["predict"],
        vec!["data"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Example"), "{cmd:?}: {help}");
        assert!(help.contains("backprop "), "{cmd:?}");
    }
    // Usage errors are clap's: exit 2, no panic.
    let out = bin().args(["train", "--epochs", "many"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
    let out = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn train_without_arguments_learns_the_spirals_and_writes_model_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["train"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Not a terminal: no progress bar, just lines.
    assert!(
        !stdout.contains('\r') && !stdout.contains('\x1b'),
        "{stdout:?}"
    );
    assert!(stdout.contains("spiral: 400 samples (320 training, 80 test), network 2-24-24-2 tanh"));
    assert!(stdout.contains("epoch 500/500"));
    let last = stdout
        .lines()
        .find(|l| l.starts_with("trained 500 epochs"))
        .unwrap();
    // "…, accuracy 99.7%, test accuracy 100.0%": parse both and require real learning.
    let pcts: Vec<f64> = last
        .split("accuracy ")
        .skip(1)
        .map(|s| s.split('%').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pcts.len(), 2, "{last}");
    assert!(pcts.iter().all(|&p| p >= 95.0), "{last}");
    // What was written, and what each file holds, one line each.
    for line in [
        "wrote model.safetensors: the model",
        "wrote model.loss.png: loss and accuracy per epoch",
        "wrote model.boundary.png: the decision boundary",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}: {stdout}");
    }
    assert_only(
        dir.path(),
        &["model.safetensors", "model.loss.png", "model.boundary.png"],
    );
    for png in ["model.loss.png", "model.boundary.png"] {
        let bytes = std::fs::read(dir.path().join(png)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 20_000, "{png} has content");
    }
    match AnyNetwork::load(dir.path().join("model.safetensors")).unwrap() {
        AnyNetwork::F64(net) => {
            assert_eq!(net.sizes(), vec![2, 24, 24, 2]);
            assert_eq!(net.activation().name(), "tanh");
        }
        other => panic!("expected f64, got {other:?}"),
    }
}

#[test]
fn the_same_seed_and_options_give_a_bit_identical_model() {
    let dir = tempfile::tempdir().unwrap();
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    for dtype in ["f32", "f64"] {
        for (out, seed) in [("a.st", "3"), ("b.st", "3"), ("c.st", "4")] {
            let args = [
                "train",
                "--data",
                "circles",
                "--epochs",
                "20",
                "--seed",
                seed,
                "--out",
                out,
                "--dtype",
                dtype,
                "--no-plots",
            ];
            assert!(run_in(dir.path(), &args).status.success());
        }
        assert_eq!(read("a.st"), read("b.st"), "{dtype}");
        assert_ne!(read("a.st"), read("c.st"), "{dtype}");
    }
}

#[test]
fn svg_pictures_and_the_history_are_written_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "train",
            "--data",
            "sine",
            "--epochs",
            "5",
            "--out",
            "run/sine.safetensors",
            "--plot",
            "run/loss.svg",
            "--history",
            "run/history.csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = dir.path().join("run");
    // 1-D inputs: a fitted curve, named after the model, in --plot's format.
    assert_only(
        &run,
        &[
            "sine.safetensors",
            "loss.svg",
            "sine.fit.svg",
            "history.csv",
        ],
    );
    let svg = std::fs::read_to_string(run.join("sine.fit.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("network z0"));
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 6);
    assert!(history.starts_with("epoch,loss,accuracy,test_loss,test_accuracy\n1,"));
    // Three inputs: no boundary picture. The loss curve is named after the model, so that a
    // second run into the same directory keeps the first one's.
    let out = run_in(dir.path(), &["train", "--data", "seeded", "--epochs", "2"]);
    assert!(out.status.success());
    let out = run_in(
        dir.path(),
        &[
            "train",
            "--data",
            "xor",
            "--epochs",
            "2",
            "--out",
            "xor.safetensors",
        ],
    );
    assert!(out.status.success());
    assert_only(
        dir.path(),
        &[
            "run",
            "model.safetensors",
            "model.loss.png",
            "xor.safetensors",
            "xor.loss.png",
            "xor.boundary.png",
        ],
    );
}

#[test]
fn train_reads_a_csv_file_whose_columns_match_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    let out = run_in(
        dir.path(),
        &[
            "train",
            "--data",
            "data.csv",
            "--layers",
            "3,6,2",
            "--epochs",
            "30",
            "--out",
            "m.safetensors",
            "--no-plots",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("data.csv: 5 samples (5 training, 0 test), network 3-6-2 sigmoid"));
    assert!(!stdout.contains("accuracy"), "not one-hot: regression");
    // l_0 + l_n must equal the number of columns.
    let out = run_in(
        dir.path(),
        &[
            "train",
            "--data",
            "data.csv",
            "--layers",
            "2,6,2",
            "--out",
            "n.safetensors",
        ],
    );
    assert_refused(&out, &["data.csv", "5 fields", "2 inputs + 2 targets = 4"]);
    let out = run_in(
        dir.path(),
        &["train", "--data", "data.csv", "--out", "n.safetensors"],
    );
    assert_refused(&out, &["--layers is needed"]);
    assert!(!dir.path().join("n.safetensors").exists());
}

#[test]
fn init_continues_training_and_never_overwrites_its_input_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = ["--data", "xor", "--epochs", "3", "--no-plots"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["train"];
        v.extend(base);
        v.extend(extra);
        v
    };
    assert!(
        run_in(d, &with(&["--out", "first.safetensors"]))
            .status
            .success()
    );
    let first = std::fs::read(d.join("first.safetensors")).unwrap();

    let out = run_in(
        d,
        &with(&["--init", "first.safetensors", "--out", "second.safetensors"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("network 2-16-2 softplus"));
    let second = std::fs::read(d.join("second.safetensors")).unwrap();
    assert_ne!(first, second, "three more epochs changed the weights");

    // The default --out is model.safetensors: refuse when that is the --init model.
    std::fs::copy(d.join("first.safetensors"), d.join("model.safetensors")).unwrap();
    let out = run_in(d, &with(&["--init", "model.safetensors"]));
    assert_refused(&out, &["model.safetensors", "--init", "refusing"]);
    let out = run_in(
        d,
        &with(&[
            "--init",
            "first.safetensors",
            "--out",
            "./first.safetensors",
        ]),
    );
    assert_refused(&out, &["--force"]);
    assert_eq!(std::fs::read(d.join("first.safetensors")).unwrap(), first);
    let out = run_in(
        d,
        &with(&[
            "--init",
            "first.safetensors",
            "--out",
            "first.safetensors",
            "--force",
        ]),
    );
    assert!(out.status.success());
    assert_ne!(std::fs::read(d.join("first.safetensors")).unwrap(), first);

    // The --init model decides sizes, activation and dtype.
    let out = run_in(
        d,
        &with(&[
            "--init",
            "second.safetensors",
            "--layers",
            "2,8,2",
            "--out",
            "x",
        ]),
    );
    assert_refused(&out, &["--layers 2-8-2 differs", "2-16-2"]);
    let out = run_in(
        d,
        &with(&[
            "--init",
            "second.safetensors",
            "--activation",
            "tanh",
            "--out",
            "x",
        ]),
    );
    assert_refused(&out, &["--activation tanh differs", "softplus"]);
    let out = run_in(
        d,
        &with(&[
            "--init",
            "second.safetensors",
            "--dtype",
            "f32",
            "--out",
            "x",
        ]),
    );
    assert_refused(&out, &["--dtype f32 differs", "f64"]);
    let out = run_in(
        d,
        &[
            "train",
            "--data",
            "sine",
            "--init",
            "second.safetensors",
            "--out",
            "x",
            "--no-plots",
        ],
    );
    assert_refused(
        &out,
        &["built-in sine has 1 inputs and 1 targets", "2-16-2"],
    );
    assert!(!d.join("x").exists());
}

#[test]
fn a_loss_that_becomes_non_finite_stops_training_and_keeps_the_last_finite_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "train",
            "--data",
            "seeded",
            "--lr",
            "1e6",
            "--reduction",
            "sum",
            "--epochs",
            "50",
            "--out",
            "m.safetensors",
        ],
    );
    let err = assert_refused(&out, &["non-finite", "epoch", "m.safetensors", "--lr"]);
    assert!(err.contains("in epoch "), "{err}");
    // The model written is the last finite one: it loads (so every weight is finite).
    let net = Network::<f64>::load(dir.path().join("m.safetensors")).unwrap();
    assert_eq!(net.sizes(), vec![3, 4, 5, 2]);
    assert!(dir.path().join("m.loss.png").exists());
}

/// Starts `backprop ARGS…` in `dir` with stdout piped, and returns it with its stdout lines.
#[cfg(unix)]
fn spawn_lines(
    dir: &Path,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Sends SIGINT to `child`, then returns the rest of its stdout and its exit code.
#[cfg(unix)]
fn interrupt(
    mut child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> (Vec<String>, Option<i32>) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    (rest, child.wait().unwrap().code())
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_the_last_complete_epoch_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let (child, mut lines) = spawn_lines(
        dir.path(),
        &[
            "train",
            "--data",
            "xor",
            "--epochs",
            "100000000",
            "--log-every",
            "1",
            "--no-plots",
        ],
    );
    // Wait until three epochs are done (the handler is installed before the first epoch).
    let mut epochs = 0;
    while epochs < 3 {
        let line = lines.next().expect("training prints epochs").unwrap();
        if line.starts_with("epoch ") {
            epochs += 1;
        }
    }
    let (rest, code) = interrupt(child, lines);
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("interrupted after")),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l == "wrote model.safetensors: the model"),
        "{rest:?}"
    );
    Network::<f64>::load(dir.path().join("model.safetensors")).unwrap();
}

#[cfg(unix)]
#[test]
fn ctrl_c_in_a_long_epoch_stops_before_the_next_mini_batch_and_keeps_the_last_whole_model() {
    let dir = tempfile::tempdir().unwrap();
    // One epoch is 320 mini-batches of one sample through 16.8 M weights: seconds to minutes,
    // so the signal sent as soon as training starts arrives in the middle of epoch 1.
    let sizes = [2, 4096, 4096, 2];
    let (child, mut lines) = spawn_lines(
        dir.path(),
        &[
            "train",
            "--layers",
            "2,4096,4096,2",
            "--dtype",
            "f32",
            "--batch",
            "1",
            "--epochs",
            "3",
            "--seed",
            "5",
            "--no-plots",
        ],
    );
    // The handler is installed before the first line; "SGD: …" is the last before training.
    loop {
        let line = lines.next().expect("train prints its plan").unwrap();
        if line.starts_with("SGD: ") {
            break;
        }
    }
    let (rest, code) = interrupt(child, lines);
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("interrupted in epoch 1 after ")
                && l.ends_with(" of 320 mini-batches; the initial model is written")),
        "{rest:?}"
    );
    assert!(!rest.iter().any(|l| l.starts_with("epoch ")), "{rest:?}");
    // The partial epoch's updates are discarded: the file holds the initial weights.
    let written = Network::<f32>::load(dir.path().join("model.safetensors")).unwrap();
    let initial = Network::<f32>::random(&sizes, Activation::Tanh, 5).unwrap();
    assert!(
        written == initial,
        "the model written is not the initial one"
    );
}

#[test]
fn grad_writes_the_summed_gradient_in_both_layouts_and_prints_e() {
    let dir = tempfile::tempdir().unwrap();
    let net = model_and_data(dir.path());
    let (x, y) = data_matrices();
    // The reference: the seed's element-wise form, summed over the five samples.
    let (e, expected) = elementwise::gradient(&net, x.as_view(), y.as_view()).unwrap();
    let out = run_in(
        dir.path(),
        &[
            "grad",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "g.safetensors",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // "E = <value> (summed over 5 samples)": E itself, not E/N.
    let (value, label) = stdout
        .trim()
        .strip_prefix("E = ")
        .unwrap()
        .split_once(' ')
        .unwrap();
    assert_eq!(label, "(summed over 5 samples)");
    let printed: f64 = value.parse().unwrap();
    assert!((printed - e).abs() <= 1e-12 * e.abs(), "{printed} vs {e}");
    let g = load_matrices::<f64>(&dir.path().join("g.safetensors"), "dW").unwrap();
    assert_eq!(
        g.metadata.get("layout").map(String::as_str),
        Some("denominator")
    );
    assert_eq!(g.matrices.len(), 2);
    for i in 0..2 {
        assert_eq!(g.matrices[i].shape(), net.weight(i).shape());
        let diff = backprop::gradient::max_abs_difference(
            g.matrices[i].as_view(),
            expected.layer(i).as_view(),
        );
        assert!(diff < 1e-12, "dW{i} off by {diff}");
    }

    let out = run_in(
        dir.path(),
        &[
            "grad",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "gn.safetensors",
            "--layout",
            "numerator",
        ],
    );
    assert!(out.status.success());
    let (_, num) = numerator::gradient(&net, x.as_view(), y.as_view()).unwrap();
    let gn = load_matrices::<f64>(&dir.path().join("gn.safetensors"), "dW").unwrap();
    assert_eq!(
        gn.metadata.get("layout").map(String::as_str),
        Some("numerator")
    );
    for i in 0..2 {
        assert_eq!(gn.matrices[i].shape(), (net.sizes()[i], net.sizes()[i + 1]));
        assert_eq!(gn.matrices[i], *num.layer(i));
    }

    // An f32 model gives an f32 gradient file.
    let net32 = Network::<f32>::random(&[3, 4, 2], Activation::Tanh, 2).unwrap();
    net32.save(dir.path().join("m32.safetensors")).unwrap();
    let out = run_in(
        dir.path(),
        &[
            "grad",
            "--model",
            "m32.safetensors",
            "--data",
            "data.csv",
            "--out",
            "g32.safetensors",
        ],
    );
    assert!(out.status.success());
    let g32 = load_matrices::<f32>(&dir.path().join("g32.safetensors"), "dW").unwrap();
    assert_eq!(g32.dtype, backprop::Dtype::F32);
}

#[test]
fn data_writes_a_built_in_set_that_train_and_predict_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["data", "spiral", "--out", "spiral.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "wrote spiral.csv: 400 samples of 2 inputs and 2 targets (one-hot, 2 classes)\n"
    );
    let csv = std::fs::read_to_string(dir.path().join("spiral.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("x0,x1,class_a,class_b"));
    assert_eq!(csv.lines().count(), 401);
    // Training on the file is training on the built-in set: the same model, bit for bit.
    let args = |data: &str, out: &str| {
        let v: Vec<String> = [
            "train",
            "--data",
            data,
            "--layers",
            "2,24,24,2",
            "--activation",
            "tanh",
            "--lr",
            "0.05",
            "--reduction",
            "mean",
            "--batch",
            "16",
            "--epochs",
            "3",
            "--test-split",
            "0.2",
            "--no-plots",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v
    };
    for (data, out) in [("spiral", "a.st"), ("spiral.csv", "b.st")] {
        let a = args(data, out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let run = run_in(dir.path(), &a);
        assert!(run.status.success(), "{}", text(&run.stderr));
    }
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    assert_eq!(read("a.st"), read("b.st"));
    // One-hot targets: predict adds the class, argmax_k z_n^k, after z0 and z1.
    let out = run_in(
        dir.path(),
        &["predict", "--model", "a.st", "--data", "spiral.csv"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("z0,z1,class"));
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (z0, z1): (f64, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert_eq!(f[2], if z1 > z0 { "1" } else { "0" }, "{line}");
    }
    // An unknown set is refused with the list of the built-in ones; nothing is written.
    let out = run_in(dir.path(), &["data", "spirals2", "--out", "x.csv"]);
    assert_refused(&out, &["spirals2", "no such built-in data set", "circles"]);
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn predict_prints_the_outputs_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let net = model_and_data(dir.path());
    let (x, _) = data_matrices();
    let z = net.predict(x.as_view()).unwrap();
    let check = |csv: &str| {
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("z0,z1"));
        for s in 0..5 {
            let row: Vec<f64> = lines
                .next()
                .unwrap()
                .split(',')
                .map(|v| v.parse().unwrap())
                .collect();
            // Printed as the shortest text that reads back: exact.
            assert_eq!(row, vec![z[(0, s)], z[(1, s)]]);
        }
        assert_eq!(lines.next(), None);
    };
    let out = run_in(
        dir.path(),
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    check(&text(&out.stdout));
    // Inputs only (3 columns) work too; --out writes a file.
    let inputs: String = std::fs::read_to_string(dir.path().join("data.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    write(dir.path(), "inputs.csv", inputs);
    let out = run_in(
        dir.path(),
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "inputs.csv",
            "--out",
            "z.csv",
        ],
    );
    assert!(out.status.success());
    check(&std::fs::read_to_string(dir.path().join("z.csv")).unwrap());
    // --classify adds the predicted class to data without one-hot targets.
    let out = run_in(
        dir.path(),
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "inputs.csv",
            "--classify",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let classes: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    let expected: Vec<String> = (0..5)
        .map(|s| usize::from(z[(1, s)] > z[(0, s)]).to_string())
        .collect();
    assert_eq!(stdout.lines().next(), Some("z0,z1,class"));
    assert_eq!(classes, expected);
}

#[test]
fn check_passes_on_the_core_gradient_and_fails_on_a_planted_error() {
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("PASSED: 20 checked, 20 passed, 0 failed"),
        "{report}"
    );

    for mode in ["full", "sampled", "projected"] {
        let out = run_in(
            dir.path(),
            &[
                "check", "--layers", "3,4,5,2", "--mode", mode, "--json", "--seed", "5",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["verdict"], "passed");
        assert_eq!(json["mode"], mode);
        assert_eq!(json["sizes"], serde_json::json!([3, 4, 5, 2]));
        assert!(json.get("negative_control").is_none());
    }
    // With a negative control, its outcome is in the JSON (and nothing on standard error).
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--layers",
            "3,4,5,2",
            "--perturb",
            "1,2,3",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "failed");
    let control = &json["negative_control"];
    assert_eq!(
        (&control["layer"], &control["row"], &control["col"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(2),
            &serde_json::json!(3)
        )
    );
    assert_eq!(control["outcome"], "caught");
    assert!(control["delta"].as_f64().unwrap() > 0.0);
    assert!(
        control["message"]
            .as_str()
            .unwrap()
            .ends_with("caught and named")
    );

    // A negative control: the report names the planted element, exit code 1.
    for dtype in ["f64", "f32"] {
        let out = run_in(
            dir.path(),
            &[
                "check",
                "--layers",
                "3,4,5,2",
                "--dtype",
                dtype,
                "--perturb",
                "1,2,3",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{dtype}");
        let report = text(&out.stdout);
        let failed: Vec<&str> = report.lines().filter(|l| l.ends_with("FAILED")).collect();
        assert_eq!(failed.len(), 1, "{report}");
        assert!(failed[0].trim_start().starts_with("W_1[2,3]"), "{report}");
        let last = report.lines().last().unwrap();
        assert!(
            last.starts_with("negative control: W_1[2,3] += ")
                && last.ends_with("(1e-3·max|∂E/∂W_1|): caught and named"),
            "{report}"
        );
    }

    // An f32 element that is the small remainder of cancelling terms: 1e-3·max|∂E/∂W_0| lies
    // within what f32 rounding explains there (the check passed it, exit 0, before the planted
    // error was sized from the element's allowed error), so twice that is planted and caught.
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--layers",
            "1,1,4,2",
            "--activation",
            "softplus",
            "--dtype",
            "f32",
            "--samples",
            "3",
            "--seed",
            "111",
            "--perturb",
            "0,0,0",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    let failed: Vec<&str> = report.lines().filter(|l| l.ends_with("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(failed[0].trim_start().starts_with("W_0[0,0]"), "{report}");
    let last = report.lines().last().unwrap();
    assert!(
        last.contains("that truncation and rounding explain there, more than 1e-3·max|∂E/∂W_0|")
            && last.ends_with("caught and named"),
        "{report}"
    );

    let out = run_in(
        dir.path(),
        &["check", "--model", "model.safetensors", "--data", "spiral"],
    );
    assert_refused(&out, &["built-in spiral", "3 inputs + 2 targets"]);
    let out = run_in(
        dir.path(),
        &["check", "--layers", "3,4,2", "--perturb", "2,0,0"],
    );
    assert_refused(&out, &["no W_2"]);
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--layers",
            "3,4,2",
            "--mode",
            "sampled",
            "--per-layer",
            "0",
        ],
    );
    assert_refused(&out, &["at least 1"]);
}

/// A check that judged too little is inconclusive, exit 3 (not 0, and not bad usage's 2): a
/// relu 3-4-2 network with W_0 = 0 has every z_1 exactly at the kink (W_0's elements are
/// kink-crossed) and a_1 = 0 (∂E/∂W_1 = 0 = its numerical value, below the float floor).
/// With `--json` the verdict and the layers are in the JSON.
#[test]
fn check_is_inconclusive_with_exit_3_when_it_judges_too_little() {
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    let dead = Network::<f64>::from_weights(
        vec![DMatrix::zeros(4, 3), DMatrix::from_element(2, 4, 0.5)],
        Activation::Relu,
    )
    .unwrap();
    dead.save(dir.path().join("dead.safetensors")).unwrap();
    let args = ["check", "--model", "dead.safetensors", "--data", "data.csv"];
    let out = run_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let last = report.lines().last().unwrap();
    assert!(
        last.starts_with("INCONCLUSIVE: 20 checked, 0 passed, 0 failed, 12 kink crossed, 8 below")
            && last.ends_with("judged less than 50.0% of the values in W_0 0.0%, W_1 0.0%"),
        "{report}"
    );
    let out = run_in(dir.path(), &[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
    assert_eq!(json["inconclusive_layers"], serde_json::json!([0, 1]));
    assert_eq!(json["min_judged"], 0.5);
    // The good model on the same data is conclusive: exit 0.
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "passed");
}

/// Bad CSV files, each with the words its error must contain.
fn bad_csvs() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        (
            "text.csv",
            "1,2,3,4,5\n1,2,abc,4,5\n",
            vec!["text.csv", "line 2", "field 3", "abc"],
        ),
        (
            "ragged.csv",
            "1,2,3,4,5\n1,2,3,4,5,6\n1,2\n",
            vec!["ragged.csv", "line 2", "6 fields"],
        ),
        (
            "few.csv",
            "1,2,3,4\n5,6,7,8\n",
            vec!["few.csv", "4 fields", "3 inputs + 2 targets"],
        ),
        (
            "many.csv",
            "1,2,3,4,5,6\n",
            vec!["many.csv", "6 fields", "3 inputs + 2 targets"],
        ),
        ("empty.csv", "", vec!["empty.csv", "no data rows"]),
        (
            "header.csv",
            "a,b,c,d,e\n",
            vec!["header.csv", "header row but no data"],
        ),
        (
            "nan.csv",
            "1,2,3,4,5\n1,NaN,3,4,5\n",
            vec!["nan.csv", "line 2", "field 2", "NaN"],
        ),
        (
            "inf.csv",
            "x,y,z,u,v\n1,2,3,4,inf\n",
            vec!["inf.csv", "line 2", "field 5", "inf"],
        ),
        (
            "blank.csv",
            "1,2,3,4,5\n1,2,,4,5\n",
            vec!["blank.csv", "line 2", "field 3", "empty"],
        ),
        (
            "binary.csv",
            "1,2,3,4,5\n\u{0}\u{1}\u{2}\n",
            vec!["binary.csv", "line 2"],
        ),
    ]
}

#[test]
fn malformed_csv_files_are_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_data(d);
    let mut present = vec!["model.safetensors".to_string(), "data.csv".to_string()];
    for (name, contents, needles) in bad_csvs() {
        write(d, name, contents);
        present.push(name.to_string());
        let runs: Vec<Vec<&str>> = vec![
            vec![
                "train", "--data", name, "--layers", "3,4,2", "--epochs", "2",
            ],
            vec![
                "grad",
                "--model",
                "model.safetensors",
                "--data",
                name,
                "--out",
                "g.st",
            ],
            vec!["check", "--model", "model.safetensors", "--data", name],
        ];
        for args in runs {
            let out = run_in(d, &args);
            assert_refused(&out, &needles);
        }
        let keep: Vec<&str> = present.iter().map(String::as_str).collect();
        assert_only(d, &keep);
    }
    // predict accepts 3 (inputs only) or 5 columns.
    let out = run_in(
        d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "many.csv",
        ],
    );
    assert_refused(
        &out,
        &[
            "many.csv",
            "6 fields",
            "3 inputs (or 3 inputs + 2 targets = 5)",
        ],
    );
    let out = run_in(
        d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "text.csv",
        ],
    );
    assert_refused(&out, &["text.csv", "line 2", "field 3"]);
    let out = run_in(d, &["train", "--data", "missing.csv", "--layers", "3,2"]);
    assert_refused(&out, &["missing.csv", "no such file", "built-in"]);
}

/// A safetensors file from a header (JSON) and data bytes.
fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Bad model files, each with the words its error must contain.
fn bad_models(good: &[u8]) -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let meta = r#""__metadata__":{"activation":"sigmoid"}"#;
    let w0 = |rows: usize, cols: usize, start: usize| {
        format!(
            r#""W0":{{"dtype":"F64","shape":[{rows},{cols}],"data_offsets":[{start},{}]}}"#,
            start + rows * cols * 8
        )
    };
    let mut absurd = u64::MAX.to_le_bytes().to_vec();
    absurd.extend(b"{}");
    let mut huge = (1u64 << 40).to_le_bytes().to_vec();
    huge.extend(b"{\"W0\":");
    vec![
        (
            "truncated.safetensors",
            good[..good.len() - 9].to_vec(),
            vec!["truncated.safetensors"],
        ),
        (
            "garbage.safetensors",
            b"this is not a model at all".to_vec(),
            vec!["garbage.safetensors"],
        ),
        ("absurd.safetensors", absurd, vec!["absurd.safetensors"]),
        ("huge.safetensors", huge, vec!["huge.safetensors"]),
        ("empty.safetensors", vec![], vec!["empty.safetensors"]),
        (
            "int.safetensors",
            safetensors_file(
                &format!(
                    r#"{{{meta},"W0":{{"dtype":"I32","shape":[2,3],"data_offsets":[0,24]}}}}"#
                ),
                &[0u8; 24],
            ),
            vec!["int.safetensors", "W0", "I32"],
        ),
        (
            "chain.safetensors",
            safetensors_file(
                &format!(
                    r#"{{{meta},{},"W1":{{"dtype":"F64","shape":[2,5],"data_offsets":[96,176]}}}}"#,
                    w0(4, 3, 0)
                ),
                &f64_bytes(&[0.5; 22]),
            ),
            vec!["chain.safetensors", "W_1", "2×5", "2×4"],
        ),
        (
            "nowone.safetensors",
            safetensors_file(
                &format!(
                    r#"{{{meta},{},"W2":{{"dtype":"F64","shape":[2,4],"data_offsets":[96,160]}}}}"#,
                    w0(4, 3, 0)
                ),
                &f64_bytes(&[0.5; 20]),
            ),
            vec!["nowone.safetensors", "W1"],
        ),
        (
            "activation.safetensors",
            safetensors_file(
                &format!(
                    r#"{{"__metadata__":{{"activation":"swish"}},{}}}"#,
                    w0(2, 3, 0)
                ),
                &f64_bytes(&[0.5; 6]),
            ),
            vec!["activation.safetensors", "swish"],
        ),
        (
            "noactivation.safetensors",
            safetensors_file(&format!("{{{}}}", w0(2, 3, 0)), &f64_bytes(&[0.5; 6])),
            vec!["noactivation.safetensors", "activation"],
        ),
        (
            "nan.safetensors",
            safetensors_file(
                &format!("{{{meta},{}}}", w0(2, 3, 0)),
                &f64_bytes(&[0.5, 0.5, 0.5, 0.5, f64::NAN, 0.5]),
            ),
            vec!["nan.safetensors", "W_0[1,1]", "not finite"],
        ),
        (
            "inf.safetensors",
            safetensors_file(
                &format!("{{{meta},{}}}", w0(2, 3, 0)),
                &f64_bytes(&[f64::NEG_INFINITY, 0.5, 0.5, 0.5, 0.5, 0.5]),
            ),
            vec!["inf.safetensors", "W_0[0,0]", "not finite"],
        ),
        (
            "rank.safetensors",
            safetensors_file(
                &format!(
                    r#"{{{meta},"W0":{{"dtype":"F64","shape":[2,3,1],"data_offsets":[0,48]}}}}"#
                ),
                &f64_bytes(&[0.5; 6]),
            ),
            vec!["rank.safetensors", "W0", "dimensions"],
        ),
    ]
}

#[test]
fn malformed_model_files_are_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_data(d);
    let good = std::fs::read(d.join("model.safetensors")).unwrap();
    let mut present = vec!["model.safetensors".to_string(), "data.csv".to_string()];
    for (name, bytes, needles) in bad_models(&good) {
        write(d, name, bytes);
        present.push(name.to_string());
        let runs: Vec<Vec<&str>> = vec![
            vec![
                "grad", "--model", name, "--data", "data.csv", "--out", "g.st",
            ],
            vec![
                "predict", "--model", name, "--data", "data.csv", "--out", "z.csv",
            ],
            vec!["check", "--model", name, "--data", "data.csv"],
            vec![
                "train", "--init", name, "--data", "data.csv", "--out", "t.st",
            ],
        ];
        for args in runs {
            let out = run_in(d, &args);
            assert_refused(&out, &needles);
        }
        let keep: Vec<&str> = present.iter().map(String::as_str).collect();
        assert_only(d, &keep);
    }
    let out = run_in(
        d,
        &[
            "predict",
            "--model",
            "nothere.safetensors",
            "--data",
            "data.csv",
        ],
    );
    assert_refused(&out, &["nothere.safetensors"]);
}

#[test]
fn a_model_whose_l0_does_not_match_the_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_data(d);
    Network::<f64>::random(&[4, 3, 2], Activation::Tanh, 1)
        .unwrap()
        .save(d.join("wide.safetensors"))
        .unwrap();
    for args in [
        vec![
            "grad",
            "--model",
            "wide.safetensors",
            "--data",
            "data.csv",
            "--out",
            "g.st",
        ],
        vec!["check", "--model", "wide.safetensors", "--data", "data.csv"],
        vec![
            "train",
            "--init",
            "wide.safetensors",
            "--data",
            "data.csv",
            "--out",
            "t.st",
        ],
    ] {
        let out = run_in(d, &args);
        assert_refused(&out, &["data.csv", "5 fields", "4 inputs + 2 targets = 6"]);
    }
    let out = run_in(
        d,
        &[
            "predict",
            "--model",
            "wide.safetensors",
            "--data",
            "data.csv",
        ],
    );
    assert_refused(&out, &["data.csv", "5 fields", "4 inputs"]);
    assert_only(d, &["model.safetensors", "data.csv", "wide.safetensors"]);
}

#[test]
fn outputs_never_overwrite_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    model_and_data(d);
    let before = std::fs::read(d.join("data.csv")).unwrap();
    let out = run_in(
        d,
        &[
            "grad",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "data.csv",
        ],
    );
    assert_refused(&out, &["data.csv", "refusing"]);
    let out = run_in(
        d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "data.csv",
            "--out",
            "model.safetensors",
        ],
    );
    assert_refused(&out, &["model.safetensors", "refusing"]);
    let out = run_in(
        d,
        &[
            "train", "--data", "data.csv", "--layers", "3,2", "--out", "data.csv",
        ],
    );
    assert_refused(&out, &["data.csv", "refusing"]);
    assert_eq!(std::fs::read(d.join("data.csv")).unwrap(), before);
}

#[test]
fn bad_options_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["train", "--data", "nosuch"],
            vec!["nosuch", "built-in: spiral"],
        ),
        (vec!["train", "--epochs", "0"], vec!["--epochs"]),
        (vec!["train", "--batch", "0"], vec!["--batch"]),
        (vec!["train", "--test-split", "1.5"], vec!["--test-split"]),
        (
            vec!["train", "--plot", "loss.jpg"],
            vec!["loss.jpg", ".png or .svg"],
        ),
        (
            vec!["train", "--data", "seeded", "--boundary", "b.png"],
            vec!["--boundary", "3 inputs"],
        ),
        (
            vec!["train", "--layers", "3,4,2"],
            vec!["built-in spiral has 2 inputs"],
        ),
        (
            vec!["check", "--layers", "3,4,2", "--data", "nosuch.csv"],
            vec!["nosuch.csv"],
        ),
    ];
    for (args, needles) in cases {
        let out = run_in(d, &args);
        assert_refused(&out, &needles);
    }
    // clap refuses what it can parse itself (exit 2, its own message).
    for args in [
        vec!["train", "--lr", "-1"],
        vec!["train", "--layers", "2,0,2"],
        vec!["train", "--activation", "swish"],
        vec!["train", "--dtype", "f16"],
        vec!["check"],
    ] {
        let out = run_in(d, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!text(&out.stderr).contains("panicked"));
    }
    assert_only(d, &[]);
}

#[cfg(feature = "digits")]
#[test]
fn the_real_digits_are_learned() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["train", "--data", "digits", "--no-plots"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("digits: 1797 samples (1438 training, 359 test), network 64-64-10 relu")
    );
    let last = stdout
        .lines()
        .find(|l| l.starts_with("trained 40 epochs"))
        .unwrap();
    let test_accuracy: f64 = last
        .rsplit("test accuracy ")
        .next()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(test_accuracy > 90.0, "{last}");
}

#[cfg(not(feature = "digits"))]
#[test]
fn the_real_data_sets_name_the_feature_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["train", "--data", "digits"]);
    assert_refused(&out, &["digits", "`digits` feature"]);
}
