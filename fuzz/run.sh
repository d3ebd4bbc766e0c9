#!/usr/bin/env bash
# A fuzz pass over every target, on the stable toolchain.
#
# cargo-fuzz drives libFuzzer and passes nightly-only flags (-Zsanitizer=address, …) to rustc.
# No nightly toolchain can be installed here, so we let the pinned stable rustc accept them with
# RUSTC_BOOTSTRAP=1 (the documented escape hatch the Rust project uses to build itself). The
# stable toolchain ships the AddressSanitizer runtime for x86_64-unknown-linux-gnu.
#
# Usage: bash fuzz/run.sh [SECONDS_PER_TARGET]   (default 30; the long runs used 600)
# Needs: cargo install cargo-fuzz --locked --version 0.13.2
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
export RUSTC_BOOTSTRAP=1
# The memory guard is under test: a small limit makes "too large" reachable without the
# fuzzer's own 2 GiB RSS limit tripping first.
export BACKPROP_MEMORY_LIMIT=$((64 * 1024 * 1024))
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "artifacts/$target"
  # The seeds are in corpus/$target; new inputs go to a scratch corpus so the committed one
  # stays small.
  scratch=$(mktemp -d)
  echo "== fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
  rm -rf "$scratch"
done
