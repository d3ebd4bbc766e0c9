#!/usr/bin/env bash
# The portability proof: the kernels, core and gradcheck crates' unit and integration tests,
# compiled for aarch64-unknown-linux-gnu and run under qemu-user.
#
# Rust's rustup cannot fetch another target's standard library here, so the build uses Debian's
# rustc-web (1.96) with its arm64 standard library, gcc-aarch64-linux-gnu as the linker and
# qemu-aarch64 as the runner; each is installed with apt-get when missing. The test binaries are
# linked statically (+crt-static): under qemu-user a dynamically linked glibc hangs in
# pthread_create (seen here with qemu 7.2 and 10.0), and every test harness starts threads.
# Doc tests are not run (they would need the nightly -Zdoctest-xcompile). Property tests run
# PROPTEST_CASES_AARCH64 cases (default 32: emulation is 10–50× slower than the host).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/rustc ] || missing+=(rustc-web)
[ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] || missing+=(libstd-rust-web-dev:arm64)
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -f /usr/aarch64-linux-gnu/lib/libc.a ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/rustc --version
qemu-aarch64 --version | head -n 1

export RUSTC=/usr/bin/rustc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/aarch64"
export PROPTEST_CASES="${PROPTEST_CASES_AARCH64:-32}"
cargo test --release --locked --target aarch64-unknown-linux-gnu \
  -p backprop-kernels -p backprop -p backprop-gradcheck --lib --tests
