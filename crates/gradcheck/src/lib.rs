//! Gradient checking for `backprop` networks (work in progress).
