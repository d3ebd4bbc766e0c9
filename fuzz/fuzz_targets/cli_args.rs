//! Any argument vector (the input's lines, one argument a line) through the `backprop` command
//! line: clap parses it, then `backprop_cli::prepare` reads the data and model files, builds
//! the network and checks every size against the memory limit, as the binary does before it
//! trains. It returns a prepared command or a one-line error, never panics, and never exhausts
//! memory. Nothing is trained and nothing is written (`prepare` writes no file).
//!
//! The target runs in a temporary directory holding a few data and model files (data.csv,
//! xy.csv, onehot.csv, model.safetensors, m32.safetensors, …); arguments naming other
//! directories (containing `/` or `..`) are skipped, so that the fuzzer reads only those.
#![no_main]

use backprop::{Activation, Network};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::OnceLock;

/// The fixture directory, created once and made the current directory.
fn setup() {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        if std::env::var_os("BACKPROP_MEMORY_LIMIT").is_none() {
            // SAFETY: set once, while the process has a single thread.
            unsafe { std::env::set_var("BACKPROP_MEMORY_LIMIT", (64u64 << 20).to_string()) };
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
        write(
            "data.csv",
            "x0,x1,x2,y0,y1\n0.1,0.2,0.3,1,0\n-0.5,0.25,1.5,0,1\n2,-1,0.5,0.5,0.5\n0,0,0,1,1\n",
        );
        write("xy.csv", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n");
        write("onehot.csv", "0,1,0,1\n1,0,1,0\n0.5,1,0,1\n");
        write("x.csv", "0.5,1,2\n-1,0,3\n");
        write("bad.csv", "1,2,3,4,5\n1,NaN,3,4,5\n");
        write("big.csv", "1e300,1,1,1,1\n");
        Network::<f64>::random(&[3, 4, 2], Activation::Sigmoid, 1)
            .unwrap()
            .save(d.join("model.safetensors"))
            .unwrap();
        Network::<f32>::random(&[2, 3, 1], Activation::Tanh, 2)
            .unwrap()
            .save(d.join("m32.safetensors"))
            .unwrap();
        std::fs::write(d.join("trunc.safetensors"), b"\x10\0\0\0\0\0\0\0{\"W0\":").unwrap();
        std::env::set_current_dir(d).unwrap();
        dir
    });
}

fuzz_target!(|data: &[u8]| {
    setup();
    let args: Vec<OsString> = data
        .split(|&b| b == b'\n')
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    if args.len() > 64
        || args.iter().any(|a| {
            let b = a.as_encoded_bytes();
            b.contains(&b'/') || b.windows(2).any(|w| w == b"..")
        })
    {
        return;
    }
    let cli = match backprop_cli::parse(std::iter::once(OsString::from("backprop")).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let line = backprop_cli::usage_error_line(&e);
            assert!(!line.contains('\n'), "one line: {line:?}");
            return;
        }
    };
    match backprop_cli::prepare(cli) {
        Ok(prepared) => {
            let sizes = prepared.network_sizes();
            assert!(sizes.len() >= 2 && sizes.iter().all(|&l| l > 0), "{sizes:?}");
            assert!(prepared.samples() >= 1);
        }
        Err(e) => {
            let text = format!("{e:#}");
            assert!(!text.contains('\n'), "one line: {text:?}");
            assert!(!text.is_empty());
        }
    }
});
