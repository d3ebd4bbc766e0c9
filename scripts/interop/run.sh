#!/usr/bin/env bash
# The Python interop test: numpy + safetensors (pinned) in a venv outside the tracked tree, the
# release `backprop` binary, and scripts/interop/interop.py comparing the two.
#
#   bash scripts/interop/run.sh
#
# Skipped (exit 0, a line starting with SKIPPED) when python3 or its venv module is missing.
# The venv goes to $BACKPROP_VENV, default target/interop-venv (target/ is ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."

NUMPY=numpy==2.4.6
SAFETENSORS=safetensors==0.8.0

if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIPPED: interop test: python3 is not installed"
  exit 0
fi
venv=${BACKPROP_VENV:-target/interop-venv}
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "SKIPPED: interop test: python3 cannot create a venv (install python3-venv)"
    exit 0
  fi
fi
if ! "$venv/bin/python" -c "import numpy, safetensors" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$NUMPY" "$SAFETENSORS"
fi

cargo build --release --locked -p backprop-cli --quiet
target_dir=${CARGO_TARGET_DIR:-target}
exec "$venv/bin/python" scripts/interop/interop.py --bin "$target_dir/release/backprop"
