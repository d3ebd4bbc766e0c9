//! The `backprop` command (work in progress).
fn main() {}
