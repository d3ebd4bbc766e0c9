#!/usr/bin/env bash
# A fuzz pass over every target (or the ones named), one target at a time, on the stable
# toolchain. See docs/robustness.md for what the targets check and the figures of the long runs.
#
# cargo-fuzz drives libFuzzer and passes nightly-only flags (-Zsanitizer=address, …) to rustc.
# No nightly toolchain can be installed here, so we let the pinned stable rustc accept them with
# RUSTC_BOOTSTRAP=1 (the escape hatch the Rust project uses to build its own compiler with a
# stable one; it unlocks unstable flags, it does not change the compiler). The stable toolchain
# ships the AddressSanitizer runtime for x86_64-unknown-linux-gnu. cargo-fuzz builds with
# optimisations plus debug assertions and overflow checks, so an overflowing size is a crash.
#
# Usage: bash fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 30 s, every target;
#        the long runs used 600)
# Needs: cargo install cargo-fuzz --locked --version 0.13.2
# Logs:  $FUZZ_LOG_DIR/<target>.log (default: a new directory under /tmp, printed at the end).
#
# Every target is built before any runs, and a failed build stops the script with cargo's
# error: an earlier version only ran `cargo fuzz run` and kept the final stats, so a build
# failure (the crate under test did not compile at that moment) looked like a fuzzer exiting 1
# after 2 seconds with nothing in the log.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
export RUSTC_BOOTSTRAP=1
# The memory guard is under test: a small limit makes "too large" reachable without the
# fuzzer's own 2 GiB RSS limit tripping first.
export BACKPROP_MEMORY_LIMIT=$((64 * 1024 * 1024))
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
logs=${FUZZ_LOG_DIR:-$(mktemp -d /tmp/backprop-fuzz.XXXXXX)}
mkdir -p "$logs"
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

for target in "${targets[@]}"; do
  echo "== building $target"
  if ! cargo fuzz build "$target" >"$logs/build-$target.log" 2>&1; then
    cat "$logs/build-$target.log" >&2
    echo "fuzz/run.sh: building $target failed (log above, also $logs/build-$target.log)" >&2
    exit 2
  fi
done

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  # The seeds are in corpus/$target; new inputs go to a scratch corpus so the committed one
  # stays small.
  scratch=$(mktemp -d)
  dict=()
  if [ -f "dict/$target.dict" ]; then dict=("-dict=dict/$target.dict"); fi
  echo "== fuzzing $target for ${seconds}s (log: $logs/$target.log)"
  status=0
  cargo fuzz run "$target" "$scratch" "corpus/$target" -- \
    "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 >"$logs/$target.log" 2>&1 || status=$?
  rm -rf "$scratch"
  grep -E '^(Done|stat::)|ERROR|SUMMARY|panicked|Test unit written' "$logs/$target.log" || true
  echo "== $target: exit $status"
  if [ "$status" -ne 0 ]; then failed+=("$target"); fi
done

echo "logs: $logs"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: failed: ${failed[*]} (crash inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
