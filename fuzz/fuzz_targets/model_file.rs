//! Any bytes as a model file: loading returns a network or an error, never panics, and never
//! allocates more than the bytes justify.
#![no_main]

use backprop::AnyNetwork;
use libfuzzer_sys::fuzz_target;
use nalgebra::DMatrix;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(net) = AnyNetwork::from_bytes(Path::new("fuzz.safetensors"), data) {
        // A loaded network is usable: its sizes chain and it runs forward.
        let sizes = net.sizes();
        assert!(sizes.len() >= 2 && sizes.iter().all(|&l| l > 0));
        if sizes[0] <= 4096 {
            match &net {
                AnyNetwork::F64(n) => {
                    let y = n.predict(DMatrix::from_element(sizes[0], 1, 0.5).as_view());
                    assert!(y.is_ok());
                }
                AnyNetwork::F32(n) => {
                    let y = n.predict(DMatrix::from_element(sizes[0], 1, 0.5f32).as_view());
                    assert!(y.is_ok());
                }
            }
        }
    }
});
