//! Shared data for the benches (work in progress).
