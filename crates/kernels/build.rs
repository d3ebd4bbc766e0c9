//! Sets `cfg(x86_kernels)` where the hand-written x86-64 kernels are compiled: on x86-64 unless
//! the `portable` feature forces the portable path.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(x86_kernels)");
    println!("cargo::rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let portable = std::env::var_os("CARGO_FEATURE_PORTABLE").is_some();
    if arch == "x86_64" && !portable {
        println!("cargo::rustc-cfg=x86_kernels");
    }
}
