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

// Issue 18: no lost work, no clobbered files, bounded reading that stays fast.

/// Makes a FIFO with `mkfifo`; `None` (the caller skips, saying so) where it cannot.
#[cfg(unix)]
fn mkfifo(path: &Path) -> Option<()> {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: mkfifo {} failed", path.display());
    }
    ok.then_some(())
}

/// Item 1: a FIFO is written in place (its reader gets the CSV, the FIFO stays a FIFO); a
/// character device made with a private `mknod` (root only) stays a device; a path that is
/// standard output gets the CSV on standard output and no other line.
#[cfg(unix)]
#[test]
fn a_fifo_a_device_or_stdout_as_out_is_written_in_place_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.csv");
    if mkfifo(&fifo).is_some() {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        let out = run_in(dir.path(), &["data", "xor", "--out", "pipe.csv"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let csv = reader.join().unwrap();
        assert_eq!(csv.lines().count(), 401, "{csv:.200}");
        assert!(csv.starts_with("x0,x1,"), "{csv:.200}");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
        assert_only(dir.path(), &["pipe.csv"]);
    }
    // A private /dev/null (1, 3): only root may make one.
    let null = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let out = run_in(dir.path(), &["data", "xor", "--out", "null"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
        assert!(kind.is_char_device(), "the device was replaced: {kind:?}");
    } else {
        eprintln!("skipped: mknod needs root; the device case is covered by the FIFO above");
    }
    // A link to this process's standard output, as /dev/stdout is.
    let model = model_and_data(dir.path());
    std::os::unix::fs::symlink("/proc/self/fd/1", dir.path().join("stdout")).unwrap();
    if Path::new("/proc/self/fd/1").exists() {
        let out = run_in(
            dir.path(),
            &[
                "predict",
                "--model",
                "model.safetensors",
                "--data",
                "data.csv",
                "--out",
                "stdout",
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let csv = text(&out.stdout);
        assert!(csv.starts_with("z0,z1\n"), "{csv}");
        assert_eq!(csv.lines().count(), 6, "the CSV and no other line: {csv}");
        let kind = std::fs::symlink_metadata(dir.path().join("stdout"))
            .unwrap()
            .file_type();
        assert!(kind.is_symlink(), "the link was replaced");
    }
    drop(model);
}

/// Item 1: a symbolic link is written through (it stays a link, the file it names gets the
/// contents), and an existing file keeps its permission bits.
#[cfg(unix)]
#[test]
fn a_linked_out_is_written_through_the_link_and_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let file = write(dir.path(), "real/data.csv", "old\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real/data.csv", dir.path().join("link.csv")).unwrap();
    let out = run_in(dir.path(), &["data", "xor", "--out", "link.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let link = std::fs::symlink_metadata(dir.path().join("link.csv")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv.lines().count(), 401);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "mode {mode:o}");
    // A dangling link: the file it names is created, the link stays.
    std::os::unix::fs::symlink("real/new.csv", dir.path().join("new.csv")).unwrap();
    let out = run_in(dir.path(), &["data", "xor", "--out", "new.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("real/new.csv").is_file());
    assert!(
        std::fs::symlink_metadata(dir.path().join("new.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_only(&dir.path().join("real"), &["data.csv", "new.csv"]);
}

/// Item 1: a block device is refused, never written (the first one in /dev, if any).
#[cfg(unix)]
#[test]
fn a_block_device_as_out_is_refused() {
    use std::os::unix::fs::FileTypeExt;
    let Some(device) = std::fs::read_dir("/dev").ok().and_then(|d| {
        d.flatten()
            .find(|e| e.file_type().is_ok_and(|t| t.is_block_device()))
            .map(|e| e.path())
    }) else {
        eprintln!("skipped: no block device in /dev");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    let device = device.to_str().unwrap();
    let out = run_in(dir.path(), &["data", "xor", "--out", device]);
    assert_refused(
        &out,
        &[device, "is a block device; refusing to write over it"],
    );
}

/// Item 2: an output that cannot be written is refused before the first epoch, with nothing
/// trained and nothing written: a directory as --out or --history, two outputs naming one
/// file, a directory that cannot be written in (read-only for a user; under /proc for root).
#[test]
fn outputs_are_proven_writable_before_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--data", "xor", "--epochs", "100000000"];
        args.extend_from_slice(extra);
        let started = std::time::Instant::now();
        let out = run_in(dir.path(), &args);
        // 10^8 epochs would take hours: a refusal within seconds is one before training.
        assert!(started.elapsed().as_secs() < 60);
        out
    };
    assert_refused(&train(&["--out", "sub"]), &["--out sub: is a directory"]);
    assert_refused(
        &train(&["--history", "sub"]),
        &["--history sub: is a directory"],
    );
    assert_refused(
        &train(&["--plot", "h.svg", "--history", "h.svg"]),
        &["--history names the same file as --plot"],
    );
    assert_refused(
        &train(&["--out", "sub/m.st", "--boundary", "sub/../sub/m.loss.png"]),
        &["--boundary names the same file as the default --plot"],
    );
    let unwritable = if cfg!(target_os = "linux") {
        Some("/proc/backprop-test/m.safetensors".to_string())
    } else {
        None
    };
    if let Some(path) = unwritable {
        let out = train(&["--out", &path]);
        assert_refused(&out, &[&path, "cannot create directory"]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(ro.join("probe"), "").is_ok() {
            eprintln!("skipped: a read-only directory is writable here (root)");
            std::fs::remove_file(ro.join("probe")).unwrap();
        } else {
            let out = train(&["--out", "ro/m.safetensors"]);
            assert_refused(
                &out,
                &[
                    "--out ro/m.safetensors: cannot be written",
                    "cannot create a file in ro",
                ],
            );
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_only(&ro, &[]);
    }
    assert_only(dir.path(), &["ro", "sub"][..if cfg!(unix) { 2 } else { 1 }]);
    assert_only(&dir.path().join("sub"), &[]);
}

/// Item 3: reading a CSV file at the tightest limit it fits in takes O(log N) reallocations
/// and moves under twice the table's bytes (not one reallocation a row); one byte less is refused at the last row,
/// having done no more. Counted, not timed.
#[test]
fn reading_csv_near_the_memory_limit_stays_linear() {
    use backprop_cli::data::{Growth, read_csv_within};
    for rows in [10_000usize, 40_000, 100_000] {
        let mut csv = String::with_capacity(rows * 16);
        for i in 0..rows {
            csv.push_str(&format!("{},{}.5,{}\n", i % 97, i % 13, i % 7));
        }
        // The text, then 8 bytes a value and 8 a row (its line number): 3 values a row.
        let need = csv.len() as u128 + rows as u128 * 32;
        let mut growth = Growth::default();
        let t = read_csv_within(csv.as_bytes(), "big.csv".into(), need, &mut growth).unwrap();
        assert_eq!(t.rows(), rows);
        let doublings = (rows as f64 / 64.0).log2().ceil() as usize;
        assert!(
            growth.reallocations <= doublings + 2,
            "{rows} rows: {growth:?}, at most {} expected",
            doublings + 2
        );
        // Doubling: everything moved before the cap is less than twice the final table.
        assert!(
            growth.bytes_copied <= 2 * rows as u128 * 32,
            "{rows} rows: {growth:?} moves more than twice the table"
        );
        let mut growth = Growth::default();
        let err = read_csv_within(csv.as_bytes(), "big.csv".into(), need - 1, &mut growth)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("reading big.csv ({} rows so far) needs", rows - 1)),
            "{err}"
        );
        assert!(growth.reallocations <= doublings + 2, "{growth:?}");
        eprintln!("{rows} rows at the limit: {growth:?}");
    }
}

/// A 3-4-2 identity network whose weights are 1e200: its outputs overflow, so E = inf.
fn overflowing_model(dir: &Path) {
    Network::<f64>::from_weights(
        vec![
            DMatrix::from_element(4, 3, 1e200),
            DMatrix::from_element(2, 4, 1e200),
        ],
        Activation::Identity,
    )
    .unwrap()
    .save(dir.join("huge.safetensors"))
    .unwrap();
}

/// Item 4: a model whose loss is not finite is an input problem for `check` (exit 2, the
/// reason named, never FAILED) as for `grad`; `train --init` refuses it without blaming the
/// learning rate, and writes nothing.
#[test]
fn a_non_finite_loss_is_bad_input_for_check_and_train_not_a_wrong_gradient() {
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    overflowing_model(dir.path());
    let check = ["check", "--model", "huge.safetensors", "--data", "data.csv"];
    let err = assert_refused(
        &run_in(dir.path(), &check),
        &[
            "the model huge.safetensors on data.csv: E = ",
            "is not finite",
        ],
    );
    assert!(!err.contains("FAILED") && !err.contains("wrong"), "{err}");
    assert_refused(
        &run_in(dir.path(), &[&check[..], &["--json"]].concat()),
        &["is not finite"],
    );
    let grad = [
        "grad",
        "--model",
        "huge.safetensors",
        "--data",
        "data.csv",
        "--out",
        "g.st",
    ];
    assert_refused(&run_in(dir.path(), &grad), &["is not finite"]);
    let train = [
        "train",
        "--init",
        "huge.safetensors",
        "--data",
        "data.csv",
        "--out",
        "t.st",
    ];
    let err = assert_refused(
        &run_in(dir.path(), &train),
        &[
            "the --init model huge.safetensors: E = ",
            "before any training",
        ],
    );
    assert!(!err.contains("--lr"), "{err}");
    assert_only(
        dir.path(),
        &["data.csv", "huge.safetensors", "model.safetensors"],
    );
}

/// Item 5: a successful save removes the stale temporary files of the project's pattern in
/// its directory (writer gone and untouched for minutes, or untouched for a day), and keeps
/// every other file: fresh ones, ones of a running process, other names, links.
#[test]
fn a_save_removes_stale_temporary_files_and_nothing_else() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let aged = |name: &str, age: u64| {
        let p = write(dir.path(), name, "partial");
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age))
            .unwrap();
    };
    // 999999999 is above Linux's largest PID (2^22): never a running process.
    let gone_old = ".backprop-999999999-aB3dE9.tmp";
    let gone_png = ".backprop-999999999-Zz09Yy.tmp.png";
    let gone_fresh = ".backprop-999999999-fresh1.tmp";
    let legacy_old = ".backprop-x1Y2z3.tmp";
    let legacy_recent = ".backprop-q1W2e3.tmp";
    let running = format!(".backprop-{}-runnin.tmp", std::process::id());
    aged(gone_old, 600);
    aged(gone_png, 600);
    aged(gone_fresh, 10);
    aged(legacy_old, 2 * 86_400);
    aged(legacy_recent, 3_600);
    aged(&running, 3_600);
    aged(".backprop-notes.tmp", 2 * 86_400);
    aged("mine.tmp", 2 * 86_400);
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "mine.tmp",
        dir.path().join(".backprop-999999999-linked.tmp"),
    )
    .unwrap();
    let out = run_in(dir.path(), &["data", "xor", "--out", "d.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut keep = vec![
        "d.csv",
        gone_fresh,
        legacy_recent,
        &running,
        ".backprop-notes.tmp",
        "mine.tmp",
    ];
    if !cfg!(target_os = "linux") {
        // Without /proc a dead writer cannot be told: only the day-old file goes.
        keep.extend([gone_old, gone_png]);
    }
    if cfg!(unix) {
        keep.push(".backprop-999999999-linked.tmp");
    }
    assert_only(dir.path(), &keep);
}

/// Item 6: `--data` takes a path that is not UTF-8, as `--model` and `--out` do.
#[cfg(unix)]
#[test]
fn data_accepts_a_path_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    let name = std::ffi::OsStr::from_bytes(b"d\xff\xfe.csv");
    std::fs::copy(dir.path().join("data.csv"), dir.path().join(name)).unwrap();
    let out = bin()
        .args(["predict", "--model", "model.safetensors", "--data"])
        .arg(name)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 6);
    let out = bin()
        .args([
            "train",
            "--layers",
            "3,2",
            "--epochs",
            "1",
            "--no-plots",
            "--data",
        ])
        .arg(name)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Item 6: a `--perturb` control that is not caught (here: planted in W_0 of a relu network
/// whose every z_1 is at the kink, so the element is not judged) is a failed control: exit 1,
/// as a caught one; never 0.
#[test]
fn an_uncaught_perturb_control_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    model_and_data(dir.path());
    Network::<f64>::from_weights(
        vec![DMatrix::zeros(4, 3), DMatrix::from_element(2, 4, 0.5)],
        Activation::Relu,
    )
    .unwrap()
    .save(dir.path().join("dead.safetensors"))
    .unwrap();
    let args = [
        "check",
        "--model",
        "dead.safetensors",
        "--data",
        "data.csv",
        "--perturb",
        "0,1,1",
        "--json",
    ];
    let out = run_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["negative_control"]["outcome"], "not judged");
    // The same control on the good model is caught: exit 1 too.
    let args = [
        "check",
        "--model",
        "model.safetensors",
        "--data",
        "data.csv",
        "--perturb",
        "0,1,1",
        "--json",
    ];
    let out = run_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["negative_control"]["outcome"], "caught");
}

/// Item 6: SIGTERM stops training as Ctrl-C does: the model of the last complete epoch is
/// written, exit 130.
#[cfg(unix)]
#[test]
fn sigterm_writes_the_last_complete_epoch_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = spawn_lines(
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
    let mut epochs = 0;
    while epochs < 2 {
        let line = lines.next().expect("training prints epochs").unwrap();
        if line.starts_with("epoch ") {
            epochs += 1;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l == "wrote model.safetensors: the model"),
        "{rest:?}"
    );
    Network::<f64>::load(dir.path().join("model.safetensors")).unwrap();
}
