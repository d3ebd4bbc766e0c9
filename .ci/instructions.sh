#!/usr/bin/env bash
# The instruction-count gate: runs benches/benches/instructions.rs under valgrind's callgrind
# (through gungraun) and compares each benchmark's instruction count (callgrind's Ir) with the
# committed baseline benches/baseline/instructions.tsv.
#
#   bash .ci/instructions.sh              # compare; exit 1 if any count is > THRESHOLD % above
#   bash .ci/instructions.sh --update     # run and rewrite the baseline (commit it on purpose)
#
# THRESHOLD defaults to 3 (%); set INSTRUCTIONS_THRESHOLD to change it for one run. A count more
# than THRESHOLD % BELOW the baseline passes with a note: refresh the baseline to lock the gain in.
# A benchmark missing from the baseline, or a baseline entry with no benchmark, fails: the gate
# only protects what the baseline names.
#
# Needs valgrind and `gungraun-runner` at exactly the version of the `gungraun` library in
# Cargo.lock (.ci/run installs it; by hand:
#   cargo install gungraun-runner --version "$(bash .ci/instructions.sh --runner-version)" --locked).
# valgrind 3.19 cannot execute AVX-512 code and reports an AVX2 CPU to the program, so on an
# AVX-512 machine these counts measure the AVX2 path (see .ci/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=benches/baseline/instructions.tsv
threshold=${INSTRUCTIONS_THRESHOLD:-3}
mode=check

runner_version() {
  awk '/^name = "gungraun"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

case "${1:-}" in
  --update) mode=update ;;
  --runner-version) runner_version; exit 0 ;;
  "") ;;
  *) echo "usage: bash .ci/instructions.sh [--update | --runner-version]" >&2; exit 2 ;;
esac

want=$(runner_version)
if ! command -v valgrind >/dev/null; then
  echo "instructions: valgrind is not installed (apt-get install valgrind)" >&2
  exit 1
fi
have=$(gungraun-runner --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "instructions: need gungraun-runner $want (the gungraun library's version), found '${have:-none}':" >&2
  echo "  cargo install gungraun-runner --version $want --locked" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "instructions: $(valgrind --version), gungraun-runner $have, $(rustc --version)"
# JSON lines on stdout (one per benchmark); gungraun's progress goes to stderr.
cargo bench --locked -p backprop-benches --features bench --bench instructions -- --output-format=json \
  >"$out/run.jsonl"

python3 - "$mode" "$baseline" "$threshold" "$out/run.jsonl" "$have" <<'PY'
import json, sys, platform, subprocess

mode, baseline_path, threshold, run_path, runner = sys.argv[1:]
threshold = float(threshold)

# This run's counts, named group/function.id (e.g. training_step/step_f32.s3).
counts = {}
for line in open(run_path):
    line = line.strip()
    if not line:
        continue
    bench = json.loads(line)
    name = f"{bench['group']}/{bench['function_name']}.{bench['id']}"
    callgrind = [p for p in bench["profiles"] if p["tool"] == "Callgrind"]
    if not callgrind:
        sys.exit(f"instructions: {name}: no callgrind profile in gungraun's output")
    counts[name] = int(callgrind[0]["data"]["total"]["metrics"]["Ir"]["values"]["new"])
if not counts:
    sys.exit("instructions: gungraun reported no benchmark")

def tool(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"

if mode == "update":
    with open(baseline_path, "w") as f:
        f.write("# Instruction counts (callgrind Ir) of benches/benches/instructions.rs: one measured call each.\n")
        f.write("# Written by `bash .ci/instructions.sh --update`; the gate fails on any count more than\n")
        f.write("# INSTRUCTIONS_THRESHOLD (default 3) % above these. Counts are of the AVX2 path (valgrind\n")
        f.write("# reports no AVX-512). Recorded with:\n")
        f.write(f"#   {tool('valgrind', '--version')}, gungraun-runner {runner}, {tool('rustc', '--version')}, {platform.machine()}\n")
        f.write("# benchmark\tinstructions\n")
        for name in sorted(counts):
            f.write(f"{name}\t{counts[name]}\n")
    for name in sorted(counts):
        print(f"  {name:<40} {counts[name]:>14,}")
    print(f"instructions: wrote {len(counts)} counts to {baseline_path}; review and commit it")
    sys.exit(0)

baseline = {}
try:
    for line in open(baseline_path):
        if line.startswith("#") or not line.strip():
            continue
        name, count = line.split()
        baseline[name] = int(count)
except FileNotFoundError:
    sys.exit(f"instructions: no baseline {baseline_path}: run `bash .ci/instructions.sh --update`")

failures = []
print(f"  {'benchmark':<40} {'baseline':>14} {'this run':>14} {'change':>8}")
for name in sorted(set(counts) | set(baseline)):
    old, new = baseline.get(name), counts.get(name)
    if old is None:
        print(f"  {name:<40} {'-':>14} {new:>14,}")
        failures.append(f"{name}: not in the baseline (this run: {new:,} instructions); "
                        "run `bash .ci/instructions.sh --update` and commit the baseline")
        continue
    if new is None:
        print(f"  {name:<40} {old:>14,} {'-':>14}")
        failures.append(f"{name}: in the baseline ({old:,} instructions) but not run")
        continue
    change = (new - old) / old * 100.0
    verdict = ""
    if change > threshold:
        verdict = "  REGRESSION"
        failures.append(f"{name}: {new:,} instructions, baseline {old:,} "
                        f"(+{change:.2f}% > {threshold:g}%)")
    elif change < -threshold:
        verdict = "  improved: refresh the baseline to keep the gain"
    print(f"  {name:<40} {old:>14,} {new:>14,} {change:>+7.2f}%{verdict}")

if failures:
    print(f"instructions: FAILED, threshold {threshold:g}% above the baseline:")
    for f in failures:
        print(f"  {f}")
    print("If the change is intended, refresh the baseline: bash .ci/instructions.sh --update")
    sys.exit(1)
print(f"instructions: {len(counts)} benchmarks within {threshold:g}% of the baseline")
PY
