#!/usr/bin/env bash
# Mutation testing of the gradient code with cargo-mutants: every mutant (an operator flipped, a
# function body replaced by a default, a condition negated, ...) must make some test fail.
#
#   bash scripts/mutants.sh                 # the whole scope below (see docs/mutants.md for how long)
#   bash scripts/mutants.sh -f crates/gradcheck/src/verdict.rs   # a narrower run: extra args go
#                                           # to cargo-mutants; a -f replaces the default file list
#   bash scripts/mutants.sh --in-place      # mutate this tree itself and reuse its target dir
#                                           # (no copy, no cold build; only in a clean clone)
#
# Scope: the core's gradient forms (crates/core/src/gradient/*), its batched fast path
# (workspace.rs) and reference products (matmul.rs), and gradcheck's verdict rule (verdict.rs).
# Each mutant is tested with its own package's unit and integration tests (`--lib --tests`: no
# doc tests, examples or benches), one at a time (`--jobs 1`: the machine is shared).
#
# Results: target/mutants/mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt,
# outcomes.json), and the counts, run time and missed list are written into docs/mutants.md
# between its `mutants:begin`/`mutants:end` markers. The hand-written part of docs/mutants.md
# says, for every mutant a run missed, which test now kills it or why it is equivalent.
# Exit status: cargo-mutants' (0 all caught, 2 some missed, 3 some timed out, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -qw "$version"; then
  cargo install cargo-mutants --version "$version" --locked || exit 1
fi

scope=(
  -f 'crates/core/src/gradient/*.rs'
  -f crates/core/src/workspace.rs
  -f crates/core/src/matmul.rs
  -f crates/gradcheck/src/verdict.rs
)
jobs=(--jobs 1)
for arg in "$@"; do
  case "$arg" in
    -f | --file | --file=*) scope=() ;;
    --in-place) jobs=() ;; # one job anyway, and cargo-mutants refuses --jobs with it
  esac
done
scope+=("$@")

out=${MUTANTS_OUT:-target/mutants}
mkdir -p "$out"
started=$(date +%s)
cargo mutants --no-shuffle "${jobs[@]}" --timeout 300 --build-timeout 900 \
  --cargo-test-arg=--lib --cargo-test-arg=--tests \
  --output "$out" "${scope[@]}"
status=$?
elapsed=$(( $(date +%s) - started ))
# 0: all caught, 2: some missed, 3: some timed out; anything else (usage error, failing baseline)
# is no result to record.
case $status in 0 | 2 | 3) ;; *) echo "cargo-mutants failed (exit $status)" >&2; exit $status ;; esac

python3 - "$out/mutants.out" "$elapsed" "$status" "${scope[*]}" <<'PY'
import os, re, subprocess, sys, datetime

out, elapsed, status, scope = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def lines(name):
    try:
        return [l.rstrip("\n") for l in open(os.path.join(out, name)) if l.strip()]
    except FileNotFoundError:
        return []

caught, missed, timeout, unviable = (lines(f) for f in
                                     ("caught.txt", "missed.txt", "timeout.txt", "unviable.txt"))
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
total = len(caught) + len(missed) + len(timeout) + len(unviable)
block = [
    "<!-- mutants:begin (written by scripts/mutants.sh; edit outside the markers) -->",
    f"Last run: {datetime.date.today()}, commit `{commit}`{' (with uncommitted changes)' if dirty else ''}, "
    f"scope `{scope}`, cargo-mutants exit status {status}.",
    "",
    "| mutants | caught | missed | timeout | unviable | wall time (2 cores, shared, --jobs 1) |",
    "|---|---|---|---|---|---|",
    f"| {total} | {len(caught)} | {len(missed)} | {len(timeout)} | {len(unviable)} | "
    f"{elapsed // 60} min {elapsed % 60} s |",
    "",
]
if missed or timeout:
    block.append("Missed or timed out in this run:")
    block.append("")
    block += [f"- `{m}` (missed)" for m in missed] + [f"- `{m}` (timeout)" for m in timeout]
else:
    block.append("No mutant missed.")
block.append("<!-- mutants:end -->")

path = "docs/mutants.md"
text = open(path).read() if os.path.exists(path) else "# Mutation testing\n\n<!-- mutants:begin -->\n<!-- mutants:end -->\n"
text = re.sub(r"<!-- mutants:begin.*?<!-- mutants:end -->", "\n".join(block), text, flags=re.S)
open(path, "w").write(text)
print("\n".join(block))
PY
exit $status
