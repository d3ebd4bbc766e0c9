//! Model files: round trips are bit-exact, files written by Python's safetensors load, and
//! malformed files give the error variant that names the fault.

use backprop::{Activation, AnyNetwork, Dtype, Error, ModelError, Network, Scalar};
use safetensors::tensor::TensorView;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn round_trip<T: Scalar>() {
    let dir = tmp();
    let path = dir.path().join("m.safetensors");
    for act in Activation::ALL {
        let net = Network::<T>::random(&[5, 7, 3, 2], act, 11).unwrap();
        net.save(&path).unwrap();
        let back = Network::<T>::load(&path).unwrap();
        // Bit-exact: compare the bit patterns, not just values.
        for (a, b) in net.weights().iter().zip(back.weights()) {
            for (x, y) in a.iter().zip(b.iter()) {
                assert_eq!(x.as_f64().to_bits(), y.as_f64().to_bits());
            }
        }
        assert_eq!(net, back);
        assert_eq!(back.activation().name(), act.name());
    }
    let any = AnyNetwork::load(&path).unwrap();
    assert_eq!(any.dtype(), T::DTYPE);
    assert_eq!(any.sizes(), vec![5, 7, 3, 2]);
}

#[test]
fn save_load_round_trip_is_bit_exact_f32() {
    round_trip::<f32>();
}

#[test]
fn save_load_round_trip_is_bit_exact_f64() {
    round_trip::<f64>();
}

#[test]
fn saving_the_same_network_twice_gives_the_same_bytes() {
    // The header's metadata map is serialised in hash order; each save builds a new map with a
    // new random hash seed, so repeated saves would differ if the map had two keys.
    let dir = tmp();
    let net = Network::<f32>::random(&[4, 3, 2], Activation::Tanh, 5).unwrap();
    let first = dir.path().join("a.safetensors");
    net.save(&first).unwrap();
    let want = std::fs::read(&first).unwrap();
    for i in 0..16 {
        let path = dir.path().join(format!("b{i}.safetensors"));
        net.save(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want, "save {i} differs");
    }
}

#[cfg(unix)]
#[test]
fn saved_files_get_the_mode_of_a_plain_create_not_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"x").unwrap();
    let path = dir.path().join("m.safetensors");
    Network::<f64>::random(&[2, 2], Activation::Identity, 1)
        .unwrap()
        .save(&path)
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Equal to a plain create's under whatever umask runs the test (0644 under the usual 022).
    assert_eq!(mode(&path), mode(&plain));
}

#[test]
fn custom_leaky_relu_slope_survives_the_file() {
    let dir = tmp();
    let path = dir.path().join("m.safetensors");
    let net = Network::<f64>::random(&[2, 2, 1], Activation::LeakyRelu { alpha: 0.2 }, 1).unwrap();
    net.save(&path).unwrap();
    assert_eq!(
        Network::<f64>::load(&path).unwrap().activation().name(),
        "leaky_relu:0.2"
    );
}

/// Files written by `scripts/make_fixtures.py` (numpy arrays, Python's safetensors) load with
/// the values numpy wrote.
#[test]
fn files_written_by_python_safetensors_load() {
    for (name, dtype) in [
        ("numpy_f64_sigmoid", Dtype::F64),
        ("numpy_f32_tanh", Dtype::F32),
    ] {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let any = AnyNetwork::load(fixture(&format!("{name}.safetensors"))).unwrap();
        assert_eq!(any.dtype(), dtype, "{name}");
        assert_eq!(any.activation_name(), json["activation"].as_str().unwrap());
        let weights: Vec<Vec<f64>> = match &any {
            AnyNetwork::F64(n) => n.weights().iter().map(row_major).collect(),
            AnyNetwork::F32(n) => n.weights().iter().map(row_major).collect(),
        };
        for (i, w) in json["weights"].as_array().unwrap().iter().enumerate() {
            let want: Vec<f64> = w["row_major_f64_bits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| f64::from_bits(v.as_u64().unwrap()))
                .collect();
            assert_eq!(weights[i], want, "{name} W{i}");
        }
    }
    // And the dtype is enforced when loading as a fixed scalar type.
    let err = Network::<f32>::load(fixture("numpy_f64_sigmoid.safetensors")).unwrap_err();
    assert!(matches!(
        err,
        Error::Model {
            reason: ModelError::DtypeMismatch {
                found: Dtype::F64,
                expected: Dtype::F32
            },
            ..
        }
    ));
}

fn row_major<T: Scalar>(m: &nalgebra::DMatrix<T>) -> Vec<f64> {
    let mut out = Vec::new();
    for r in 0..m.nrows() {
        for c in 0..m.ncols() {
            out.push(m[(r, c)].as_f64());
        }
    }
    out
}

/// Writes tensors (name, dtype, shape, raw bytes) and metadata as a safetensors file.
fn write_raw(
    path: &Path,
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)],
    activation: Option<&str>,
) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let meta = activation.map(|a| HashMap::from([("activation".to_string(), a.to_string())]));
    std::fs::write(path, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn load_err(path: &Path) -> (Error, String) {
    let err = AnyNetwork::load(path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name the file: {text}"
    );
    assert!(!text.contains('\n'), "error is not one line: {text}");
    (err, text)
}

fn reason(err: Error) -> ModelError {
    match err {
        Error::Model { reason, .. } => reason,
        other => panic!("expected a model-file error, got {other}"),
    }
}

#[test]
fn truncated_file_is_a_format_error() {
    let dir = tmp();
    let good = dir.path().join("good.safetensors");
    Network::<f64>::random(&[3, 4, 2], Activation::Tanh, 0)
        .unwrap()
        .save(&good)
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 4, 8, 20, bytes.len() - 1] {
        let path = dir.path().join(format!("cut{cut}.safetensors"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (err, _) = load_err(&path);
        assert!(matches!(reason(err), ModelError::Format(_)), "cut at {cut}");
    }
}

#[test]
fn garbage_and_absurd_header_length_are_format_errors() {
    let dir = tmp();
    let path = dir.path().join("garbage.safetensors");
    std::fs::write(&path, b"this is not a safetensors file at all").unwrap();
    assert!(matches!(reason(load_err(&path).0), ModelError::Format(_)));
    // A header length of 2^60 bytes in a 16-byte file.
    let mut absurd = (1u64 << 60).to_le_bytes().to_vec();
    absurd.extend_from_slice(b"{}      ");
    std::fs::write(&path, &absurd).unwrap();
    assert!(matches!(reason(load_err(&path).0), ModelError::Format(_)));
}

#[test]
fn integer_dtype_is_refused_naming_the_tensor() {
    let dir = tmp();
    let path = dir.path().join("int.safetensors");
    write_raw(
        &path,
        &[("W0", safetensors::Dtype::I32, vec![2, 3], vec![0u8; 24])],
        Some("relu"),
    );
    match reason(load_err(&path).0) {
        ModelError::Dtype { tensor, dtype, .. } => {
            assert_eq!(tensor, "W0");
            assert_eq!(dtype, "I32");
        }
        other => panic!("expected Dtype, got {other}"),
    }
}

#[test]
fn shapes_that_do_not_chain_name_the_layer() {
    let dir = tmp();
    let path = dir.path().join("chain.safetensors");
    write_raw(
        &path,
        &[
            (
                "W0",
                safetensors::Dtype::F64,
                vec![4, 3],
                f64_bytes(&[0.5; 12]),
            ),
            (
                "W1",
                safetensors::Dtype::F64,
                vec![2, 5],
                f64_bytes(&[0.5; 10]),
            ),
        ],
        Some("tanh"),
    );
    let (err, text) = load_err(&path);
    match reason(err) {
        ModelError::Network(inner) => assert!(matches!(
            *inner,
            Error::WeightShape {
                layer: 1,
                expected: (2, 4),
                got: (2, 5)
            }
        )),
        other => panic!("expected Network(WeightShape), got {other}"),
    }
    assert!(text.contains("W_1 has shape 2×5, expected 2×4"), "{text}");
}

#[test]
fn missing_tensor_is_named() {
    let dir = tmp();
    let path = dir.path().join("gap.safetensors");
    write_raw(
        &path,
        &[
            (
                "W0",
                safetensors::Dtype::F64,
                vec![4, 3],
                f64_bytes(&[0.5; 12]),
            ),
            (
                "W2",
                safetensors::Dtype::F64,
                vec![2, 4],
                f64_bytes(&[0.5; 8]),
            ),
        ],
        Some("tanh"),
    );
    // W2 after a gap is named as unexpected, with the first missing name.
    match reason(load_err(&path).0) {
        ModelError::UnexpectedTensor {
            name,
            after,
            missing,
        } => assert_eq!((&*name, &*after, &*missing), ("W2", "W0", "W1")),
        other => panic!("expected UnexpectedTensor, got {other}"),
    }
    // W10 beside W0..W1, and a leading zero: named, not "missing W2".
    for extra in ["W10", "W01"] {
        write_raw(
            &path,
            &[
                (
                    "W0",
                    safetensors::Dtype::F64,
                    vec![4, 3],
                    f64_bytes(&[0.5; 12]),
                ),
                (
                    "W1",
                    safetensors::Dtype::F64,
                    vec![2, 4],
                    f64_bytes(&[0.5; 8]),
                ),
                (
                    extra,
                    safetensors::Dtype::F64,
                    vec![1, 1],
                    f64_bytes(&[0.5]),
                ),
            ],
            Some("tanh"),
        );
        let err = load_err(&path).0;
        assert!(
            err.to_string()
                .ends_with(&format!("unexpected tensor {extra} after W0..W1 (there is no W2; the weights are numbered from 0 without a gap)")),
            "{err}"
        );
    }
    write_raw(
        &path,
        &[(
            "bias",
            safetensors::Dtype::F64,
            vec![1, 1],
            f64_bytes(&[0.5]),
        )],
        Some("tanh"),
    );
    match reason(load_err(&path).0) {
        ModelError::MissingTensor { name } => assert_eq!(name, "W0"),
        other => panic!("expected MissingTensor, got {other}"),
    }
}

#[test]
fn unknown_or_missing_activation_is_refused() {
    let dir = tmp();
    let path = dir.path().join("act.safetensors");
    let w0 = (
        "W0",
        safetensors::Dtype::F64,
        vec![1, 2],
        f64_bytes(&[0.5, 0.25]),
    );
    write_raw(&path, std::slice::from_ref(&w0), Some("swish"));
    match reason(load_err(&path).0) {
        ModelError::Network(inner) => {
            assert!(matches!(*inner, Error::UnknownActivation { ref name } if name == "swish"))
        }
        other => panic!("expected UnknownActivation, got {other}"),
    }
    write_raw(&path, &[w0], None);
    assert!(matches!(
        reason(load_err(&path).0),
        ModelError::MissingActivation
    ));
}

#[test]
fn non_finite_weights_are_refused_with_their_place() {
    let dir = tmp();
    let path = dir.path().join("nan.safetensors");
    // Row-major [2, 3]: index 4 is row 1, column 1.
    let mut values = [0.5; 6];
    values[4] = f64::NAN;
    write_raw(
        &path,
        &[(
            "W0",
            safetensors::Dtype::F64,
            vec![2, 3],
            f64_bytes(&values),
        )],
        Some("relu"),
    );
    match reason(load_err(&path).0) {
        ModelError::Network(inner) => assert!(matches!(
            *inner,
            Error::NonFiniteWeight {
                layer: 0,
                row: 1,
                col: 1,
                ..
            }
        )),
        other => panic!("expected NonFiniteWeight, got {other}"),
    }
}

#[test]
fn wrong_rank_and_mixed_dtypes_are_refused() {
    let dir = tmp();
    let path = dir.path().join("rank.safetensors");
    write_raw(
        &path,
        &[(
            "W0",
            safetensors::Dtype::F64,
            vec![2, 1, 3],
            f64_bytes(&[0.5; 6]),
        )],
        Some("relu"),
    );
    assert!(matches!(
        reason(load_err(&path).0),
        ModelError::Rank { dims: 3, .. }
    ));
    write_raw(
        &path,
        &[
            (
                "W0",
                safetensors::Dtype::F64,
                vec![2, 2],
                f64_bytes(&[0.5; 4]),
            ),
            ("W1", safetensors::Dtype::F32, vec![1, 2], vec![0u8; 8]),
        ],
        Some("relu"),
    );
    assert!(
        matches!(reason(load_err(&path).0), ModelError::Dtype { ref tensor, .. } if tensor == "W1")
    );
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let dir = tmp();
    let (err, _) = load_err(&dir.path().join("nope.safetensors"));
    assert!(matches!(reason(err), ModelError::Io(_)));
}

#[test]
fn a_failed_save_leaves_the_old_file_intact() {
    let dir = tmp();
    let path = dir.path().join("m.safetensors");
    let net = Network::<f64>::random(&[3, 2], Activation::Tanh, 0).unwrap();
    net.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Saving into a directory that does not exist fails without touching anything else.
    assert!(
        net.save(dir.path().join("no/such/dir/m.safetensors"))
            .is_err()
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}
