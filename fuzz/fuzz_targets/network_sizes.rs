//! Layer sizes and an activation name as a user would type them (`--layers 3,4,5,2
//! --activation tanh`): constructing the network returns it or an error (too large, zero width,
//! unknown activation), never panics or exhausts memory.
#![no_main]

use backprop::{Activation, Network};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (layers, activation) = text.split_once(' ').unwrap_or((text, "sigmoid"));
    let Ok(sizes) = layers
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let Ok(activation) = activation.parse::<Activation>() else { return };
    // Keep the fuzzer's own memory bounded: the guard's limit is what is under test.
    if let Ok(net) = Network::<f32>::random(&sizes, activation, 0) {
        assert_eq!(net.sizes(), sizes);
    }
});
