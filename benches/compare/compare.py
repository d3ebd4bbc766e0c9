#!/usr/bin/env python3
"""Times the project's training step and the peers' (numpy, JAX; PyTorch when installed) on the
same shapes, alternately, in one run, and prints a markdown table with ratios and % of peak.

What is timed is one SGD step of a bias-free sigmoid MLP on the peers' shapes S1-S5 with the
deterministic splitmix64 data of ../shared/peers/README.md (reproduced here and in
backprop-benches, so every tool does the same arithmetic on the same numbers): forward, backward,
W_i -= m dE/dW_i with m = 1e-3; the weights are restored to W0 before every step, outside the
timed region. Per configuration: warm-up (>= 2 steps and >= --warmup-time s), then timed steps
until >= --min-reps and >= --target-time s (<= --max-reps); the median step time is reported.

The project is timed by its own binary (`cargo run --release -p backprop-benches --bin
step-timer`, JSON lines); each peer runs in a fresh child process of this script with its thread
settings fixed before the library is imported. A run makes --rounds rounds; in each round every
(tool, thread count) child runs once, the order rotating between rounds, so that a slow period of
the shared machine hits every tool. A row's number is the median over the rounds of the per-round
medians. Peak = the best square GEMM C = A B (n = 2048) of the peers (numpy, JAX, PyTorch) in the same run, per
dtype and thread count. After the rounds, `gemm-vs-blas` times the project's GEMM against the
OpenBLAS numpy loads and the MKL PyTorch carries, in one process, calls alternated
(--blas-pairs; 0 skips it).

Beside the peers, on one thread, the same run times the plain-nalgebra baseline of the step
(`backprop_benches::NalgebraStep`: nalgebra's gemm, buffers allocated once; `step-timer --impl
nalgebra`, its own child process in the rotation like every tool; --no-nalgebra skips it): the
`nalgebra µs` column and `nalgebra / backprop`. It is not a peer: "fastest peer" is over numpy, JAX
and PyTorch only. Without numpy, JAX and PyTorch installed (plain python3), a run times backprop and
the baseline only.

Setup (a venv outside the repo):
    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install numpy==2.4.6 threadpoolctl==3.8.0 "jax[cpu]==0.10.2"
Run (from the repository root):
    /tmp/peers-venv/bin/python benches/compare/compare.py --md /tmp/compare.md --out /tmp/compare.json
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

SHAPES = {
    "S1": ([3, 4, 5, 2], 1),
    "S2": ([784, 128, 10], 1),
    "S3": ([784, 128, 10], 64),
    "S4": ([784, 512, 512, 10], 256),
    "S5": ([1024, 1024, 1024, 1024], 1024),
    # Not a peers' shape (not in the default --shapes): the command line's spiral job, sigmoid here.
    "T1": ([2, 24, 24, 2], 16),
}
PEERS = ["numpy", "jax", "torch"]
M = 1e-3
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def step_flops(layers, b):
    prods = [layers[i] * layers[i + 1] for i in range(len(layers) - 1)]
    return 2 * b * (2 * sum(prods) + sum(prods[1:]))


# ----------------------------------------------------------------------------- data (peers README)

def peer_data(layers, b, np):
    def splitmix64(x):
        with np.errstate(over="ignore"):
            z = x + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

    def u(stream, count):
        k = np.arange(count, dtype=np.uint64) + np.uint64(stream << 32)
        return (splitmix64(k) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53

    ws = []
    for i in range(len(layers) - 1):
        r, c = layers[i + 1], layers[i]
        ws.append(((2.0 * u(i + 1, r * c) - 1.0) * (1.0 / np.sqrt(float(c)))).reshape(r, c))
    x = u(1000, layers[0] * b).reshape(layers[0], b)
    y = (2.0 * u(1001, layers[-1] * b) - 1.0).reshape(layers[-1], b)
    return ws, x, y


# ----------------------------------------------------------------------------- peer children

def time_loop(restore, step, opts):
    """Warm-up, then timed steps (restore untimed); returns sorted step times in seconds."""
    t0 = time.perf_counter()
    n = 0
    while n < 2 or time.perf_counter() - t0 < opts["warmup_time"]:
        restore()
        step()
        n += 1
    times = []
    total = 0.0
    while len(times) < opts["max_reps"] and (len(times) < opts["min_reps"] or total < opts["target_time"]):
        restore()
        t = time.perf_counter()
        step()
        d = time.perf_counter() - t
        total += d
        times.append(d)
    return sorted(times)


def child_numpy(layers, b, dtype, opts):
    import numpy as np
    ws0, x, y = peer_data(layers, b, np)
    dt = np.float64 if dtype == "f64" else np.float32
    ws0 = [w.astype(dt) for w in ws0]
    x, y = x.astype(dt), y.astype(dt)
    ws = [w.copy() for w in ws0]
    n = len(ws)
    m = dt(M)

    def restore():
        for w, w0 in zip(ws, ws0):
            np.copyto(w, w0)

    def step():
        a = [x]
        z = None
        for i in range(n):
            z = ws[i] @ a[i]
            if i + 1 < n:
                np.negative(z, out=z)
                np.exp(z, out=z)
                z += 1.0
                np.reciprocal(z, out=z)
                a.append(z)
        delta = z
        delta -= y
        delta *= 2.0
        grads = [None] * n
        for i in range(n - 1, -1, -1):
            grads[i] = delta @ a[i].T
            if i >= 1:
                da = ws[i].T @ delta
                ai = a[i]
                da *= ai
                np.subtract(1.0, ai, out=ai)
                da *= ai
                delta = da
        for w, g in zip(ws, grads):
            g *= m
            w -= g

    return time_loop(restore, step, opts)


def child_jax(layers, b, dtype, opts):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np
    ws0, x, y = peer_data(layers, b, np)
    dt = np.float64 if dtype == "f64" else np.float32
    ws0 = [w.astype(dt) for w in ws0]
    xj, yj = jnp.asarray(x.astype(dt)), jnp.asarray(y.astype(dt))

    def loss(ws, x, y):
        a = x
        for i, w in enumerate(ws):
            z = w @ a
            a = jax.nn.sigmoid(z) if i + 1 < len(ws) else z
        return jnp.sum((y - a) ** 2)

    @jax.jit
    def _step(ws, x, y):
        g = jax.grad(loss)(ws, x, y)
        return [w - M * gw for w, gw in zip(ws, g)]

    step_fn = jax.jit(_step, donate_argnums=0)
    state = {"ws": None}

    def restore():
        state["ws"] = [jax.device_put(w) for w in ws0]
        for w in state["ws"]:
            w.block_until_ready()

    def step():
        out = step_fn(state["ws"], xj, yj)
        for o in out:
            o.block_until_ready()

    return time_loop(restore, step, opts)


def child_torch(layers, b, dtype, opts):
    import numpy as np
    import torch
    ws0, x, y = peer_data(layers, b, np)
    dt = torch.float64 if dtype == "f64" else torch.float32
    ws0 = [torch.tensor(w, dtype=dt) for w in ws0]
    xt, yt = torch.tensor(x, dtype=dt), torch.tensor(y, dtype=dt)
    ws = [w.clone().requires_grad_(True) for w in ws0]

    def restore():
        with torch.no_grad():
            for w, w0 in zip(ws, ws0):
                w.copy_(w0)

    def step():
        a = xt
        for i, w in enumerate(ws):
            z = w @ a
            a = torch.sigmoid(z) if i + 1 < len(ws) else z
        loss = ((yt - a) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for w in ws:
                w.sub_(w.grad, alpha=M)
                w.grad = None

    return time_loop(restore, step, opts)


def child_gemm(peer, dtype, n):
    import numpy as np
    dt = np.float64 if dtype == "f64" else np.float32
    a = np.random.default_rng(1).random((n, n)).astype(dt)
    bm = np.random.default_rng(2).random((n, n)).astype(dt)
    if peer == "numpy":
        f = lambda: a @ bm  # noqa: E731
    elif peer == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        aj, bj = jnp.asarray(a), jnp.asarray(bm)
        mm = jax.jit(lambda p, q: p @ q)
        f = lambda: mm(aj, bj).block_until_ready()  # noqa: E731
    else:
        import torch
        at, bt = torch.tensor(a), torch.tensor(bm)
        f = lambda: at @ bt  # noqa: E731
    f()
    best = min(_timed(f) for _ in range(4))
    return 2.0 * n ** 3 / best / 1e9


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def child_main(peer, threads, cfg):
    if peer == "torch":
        import torch
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    fn = {"numpy": child_numpy, "jax": child_jax, "torch": child_torch}[peer]
    for n in cfg["peak_sizes"]:
        for dtype in cfg["dtypes"]:
            g = child_gemm(peer, dtype, n)
            print(json.dumps({"kind": "gemm", "lib": peer, "dtype": dtype, "threads": threads, "n": n,
                              "best_gflops": g}), flush=True)
    for s in cfg["shapes"]:
        layers, b = SHAPES[s]
        for dtype in cfg["dtypes"]:
            times = fn(layers, b, dtype, cfg["timing"])
            med = statistics.median(times)
            print(json.dumps({"kind": "step", "peer": peer, "shape": s, "layers": layers, "batch": b,
                              "dtype": dtype, "threads": threads, "median_s": med, "min_s": times[0],
                              "n": len(times), "flops": step_flops(layers, b)}), flush=True)


# ----------------------------------------------------------------------------- parent

def child_env(peer, threads, keep_openblas):
    env = dict(os.environ)
    if not keep_openblas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)
    if peer == "jax" and threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def run_child(cmd, env, pin):
    """Runs a child, returns (json rows, other CPUs' load during it)."""
    hz = os.sysconf("SC_CLK_TCK")
    before_busy, t0 = busy_jiffies(), time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    pre = (lambda: os.sched_setaffinity(0, pin)) if pin else None
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=pre, cwd=ROOT)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    other = max(0.0, ((busy_jiffies() - before_busy) / hz - own) / wall)
    if p.returncode != 0:
        sys.stderr.write(f"# child {cmd[:4]} failed ({p.returncode}):\n{p.stderr[-2000:]}\n")
        return [], other
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        r["other_load"] = other
    return rows, other


def peer_available(peer, py):
    mod = {"numpy": "numpy", "jax": "jax", "torch": "torch"}[peer]
    return subprocess.run([py, "-c", f"import {mod}"], capture_output=True).returncode == 0


def build_timer():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "backprop-benches", "--bin", "step-timer"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "step-timer")


def build_gemm_vs_blas():
    """Builds the kernels crate's `gemm_vs_blas` bench (harness = false) and returns its path."""
    out = subprocess.run(["cargo", "bench", "-q", "--no-run", "-p", "backprop-kernels", "--bench", "gemm_vs_blas",
                          "--message-format=json"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "gemm_vs_blas":
            return msg["executable"]
    raise RuntimeError("cargo bench --no-run did not report the gemm_vs_blas executable")


def numpy_openblas(py):
    """The path of the OpenBLAS numpy loads (threadpoolctl's report), or None."""
    code = ("import json, numpy, threadpoolctl\n"
            "info = threadpoolctl.threadpool_info()\n"
            "print(json.dumps([i['filepath'] for i in info if i.get('internal_api') == 'openblas']))")
    try:
        out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout
        paths = json.loads(out)
    except (subprocess.CalledProcessError, json.JSONDecodeError, OSError):
        return None
    return paths[0] if paths else None


def torch_mkl(py):
    """PyTorch's libtorch_cpu.so (which carries MKL and exports its Fortran dgemm_), or None."""
    code = "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib', 'libtorch_cpu.so'))"
    try:
        path = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return None
    return path if os.path.exists(path) else None


def render_blas(pairs):
    """The table of gemm-vs-blas rows."""
    out = ["| BLAS (from) | op | dtype | threads | n | backprop GFLOP/s | BLAS GFLOP/s | backprop / BLAS (median of pairs) "
           "| quartiles | max rel. diff |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in pairs:
        out.append(f"| {r['blas']} | {r['op']} | {r['dtype']} | {r['threads']} | {r['n']} | {r['ours_gflops']:.1f} | "
                   f"{r['blas_gflops']:.1f} | {r['ours_over_blas']:.3f} | {r['q25']:.3f}–{r['q75']:.3f} | "
                   f"{r['max_rel_diff']:.1e} |")
    return "\n".join(out)


def render(rows, gemms, peers, nrounds, threads_list, nalgebra=False):
    peak = {}
    for g in gemms:
        if g["lib"] == "backprop":
            continue
        k = (g["dtype"], g["threads"])
        if g["best_gflops"] > peak.get(k, (0, ""))[0]:
            peak[k] = (g["best_gflops"], f"{g['lib']} n={g['n']}")
    own_gemm = {}
    for g in gemms:
        if g["lib"] == "backprop":
            k = (g["dtype"], g["threads"])
            own_gemm[k] = max(own_gemm.get(k, 0), g["best_gflops"])
    med = {}
    for r in rows:
        med.setdefault((r["shape"], r["dtype"], r["threads"], r["peer"]), []).append(r["median_s"])
    out = []
    base = ["nalgebra"] if nalgebra else []
    out.append("| shape | layers | B | dtype | thr | backprop µs | " + " | ".join(f"{p} µs" for p in base + peers)
               + " | fastest peer / backprop | " + "".join(f"{p} / backprop | " for p in base)
               + "backprop GFLOP/s | % of peak |")
    out.append("|" + "---|" * (9 + 2 * len(base) + len(peers)))
    for s in SHAPES:
        layers, b = SHAPES[s]
        for dtype in ("f64", "f32"):
            for t in threads_list:
                key = (s, dtype, t)
                if (s, dtype, t, "backprop") not in med:
                    continue
                ours = statistics.median(med[key + ("backprop",)])
                cells, best, versus = [], None, []
                for p in base:
                    v = med.get(key + (p,))
                    cells.append(_us(statistics.median(v)) if v else "–")
                    versus.append(f"{statistics.median(v) / ours:.2f}×" if v else "–")
                for p in peers:
                    v = med.get(key + (p,))
                    if v:
                        v = statistics.median(v)
                        cells.append(_us(v))
                        if best is None or v < best[0]:
                            best = (v, p)
                    else:
                        cells.append("–")
                ratio = f"{best[0] / ours:.2f}× ({best[1]})" if best else "–"
                gf = step_flops(layers, b) / ours / 1e9
                pk = peak.get((dtype, t))
                pct = f"{100 * gf / pk[0]:.0f}" if pk else "–"
                out.append(f"| {s} | {'-'.join(map(str, layers))} | {b} | {dtype} | {t} | {_us(ours)} | "
                           + "".join(f"{c} | " for c in cells) + f"{ratio} | " + "".join(f"{v} | " for v in versus)
                           + f"{gf:.3g} | {pct} |")
    out.append("")
    out.append(f"Median over {nrounds} round(s) of each round's median step time (tools alternated in a rotating order). "
               + ("nalgebra: the plain-nalgebra baseline (`backprop_benches::NalgebraStep`), one thread only. "
                  if nalgebra else "")
               + "Peak (best square GEMM of the peers in this run, size in the from column) and the project's own GEMM:")
    out.append("")
    out.append("| dtype | threads | peak GFLOP/s | from | backprop GEMM GFLOP/s |")
    out.append("|---|---|---|---|---|")
    for k in sorted(set(peak) | set(own_gemm), key=lambda k: (k[0] != "f64", k[1])):
        pk = peak.get(k, (float("nan"), "–"))
        og = own_gemm.get(k)
        out.append(f"| {k[0]} | {k[1]} | {pk[0]:.1f} | {pk[1]} | {og:.1f} |" if og else
                   f"| {k[0]} | {k[1]} | {pk[0]:.1f} | {pk[1]} | – |")
    return "\n".join(out)


def _us(s):
    us = s * 1e6
    return f"{us:.2f}" if us < 100 else (f"{us:.1f}" if us < 10000 else f"{us:.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="S1,S2,S3,S4,S5")
    ap.add_argument("--dtypes", default="f64,f32")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--peers", default="numpy,jax,torch")
    ap.add_argument("--nalgebra", action=argparse.BooleanOptionalAction, default=True,
                    help="time the plain-nalgebra baseline (one thread) beside the peers (default: on)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interleave", choices=["shape", "tool"], default="shape",
                    help="alternate the tools per shape (default) or run each tool over all shapes")
    ap.add_argument("--target-time", type=float, default=1.0)
    ap.add_argument("--warmup-time", type=float, default=0.3)
    ap.add_argument("--min-reps", type=int, default=15)
    ap.add_argument("--max-reps", type=int, default=5000)
    ap.add_argument("--peak-sizes", default="2048", help="square GEMM sizes for the peak ('' = none)")
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for numpy (default: unset, as the peers' harness)")
    ap.add_argument("--blas-pairs", type=int, default=8,
                    help="after the rounds, time the project's GEMM against numpy's OpenBLAS in one process "
                         "(gemm-vs-blas) with this many alternated pairs per case (0 = skip)")
    ap.add_argument("--timer", default=None, help="path of a built step-timer (default: cargo build --release)")
    ap.add_argument("--out", default=None, help="write all raw rows as JSON here")
    ap.add_argument("--md", default=None, help="write the markdown table here")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        child_main(args.child[0], int(args.child[1]), json.loads(args.child[2]))
        return 0

    shapes = [s for s in args.shapes.split(",") if s]
    dtypes = [d for d in args.dtypes.split(",") if d]
    threads_list = [int(t) for t in args.threads.split(",") if t]
    peak_sizes = [int(n) for n in args.peak_sizes.split(",") if n]
    py = sys.executable
    peers = [p for p in args.peers.split(",") if p and peer_available(p, py)]
    skipped = [p for p in args.peers.split(",") if p and p not in peers]
    if skipped:
        print(f"# peers not installed, skipped: {skipped}", flush=True)
    timer = args.timer or build_timer()
    timing = {"target_time": args.target_time, "warmup_time": args.warmup_time,
              "min_reps": args.min_reps, "max_reps": args.max_reps}
    tools = ["backprop"] + (["nalgebra"] if args.nalgebra else []) + peers
    rows, gemms = [], []
    t_start = time.perf_counter()
    # Groups of shapes timed by one child per tool: with --interleave shape (the default) every
    # shape is its own group, so all tools time a shape within seconds of each other and a slow
    # phase of a shared host (minutes long here) hits them alike; with --interleave tool one
    # child per tool times every shape (fewer process starts, ratios exposed to such phases).
    groups = [[s] for s in shapes] if args.interleave == "shape" else [shapes]
    for rnd in range(args.rounds):
        order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]
        for t in threads_list:
            for g_index, group in enumerate(groups):
                # The GEMM peak: in every round, with the first group; the table takes the best.
                peak_now = peak_sizes if g_index == 0 else []
                for tool in order:
                    if tool == "nalgebra":
                        if t != 1:
                            continue  # the baseline runs on one thread only
                        cmd = [timer, "--impl", "nalgebra", "--shapes", ",".join(group), "--dtypes",
                               ",".join(dtypes), "--threads", "1", "--target-time", str(args.target_time),
                               "--warmup-time", str(args.warmup_time), "--min-reps", str(args.min_reps),
                               "--max-reps", str(args.max_reps)]
                        got, other = run_child(cmd, dict(os.environ), None)
                    elif tool == "backprop":
                        cmd = [timer, "--shapes", ",".join(group), "--dtypes", ",".join(dtypes), "--threads",
                               str(t), "--target-time", str(args.target_time), "--warmup-time",
                               str(args.warmup_time), "--min-reps", str(args.min_reps), "--max-reps",
                               str(args.max_reps)]
                        got, other = run_child(cmd, dict(os.environ), None)
                        if peak_now:
                            g, _ = run_child([timer, "--gemm", ",".join(map(str, peak_now)), "--dtypes",
                                              ",".join(dtypes), "--threads", str(t)], dict(os.environ), None)
                            got += g
                    else:
                        cfg = {"shapes": group, "dtypes": dtypes, "timing": timing,
                               "peak_sizes": peak_now}
                        pin = {0} if (tool == "jax" and t == 1) else None
                        got, other = run_child([py, os.path.abspath(__file__), "--child", tool, str(t),
                                                json.dumps(cfg)], child_env(tool, t, args.keep_openblas_env), pin)
                    for r in got:
                        r["round"] = rnd
                        if r["kind"] == "versus":
                            continue  # only with --impl backprop,nalgebra, which this script does not pass
                        if r["kind"] == "gemm":
                            gemms.append(r)
                            print(f"  round {rnd} peak {r['lib']:8s} {r['dtype']} t={t} n={r['n']}: "
                                  f"{r['best_gflops']:.1f} GFLOP/s", flush=True)
                        else:
                            rows.append(r)
                            print(f"  round {rnd} {r['shape']} {r['dtype']} t={t} {tool:8s}: "
                                  f"{r['median_s'] * 1e6:11.2f} µs (n={r['n']}, other load {other:.2f})",
                                  flush=True)
    md = render(rows, gemms, peers, args.rounds, threads_list, nalgebra=args.nalgebra)
    blas_rows = []
    libs = []
    if args.blas_pairs > 0 and peak_sizes:
        if "numpy" in peers and (lib := numpy_openblas(py)):
            libs.append(("numpy", lib))
        if "torch" in peers and (lib := torch_mkl(py)):
            libs.append(("torch", lib))
    if args.keep_openblas_env and libs:
        print("# --keep-openblas-env: gemm-vs-blas still unsets OPENBLAS_CORETYPE/L2_SIZE", flush=True)
    gemm_vs_blas = build_gemm_vs_blas() if libs else None
    for peer, lib in libs:
        cmd = [gemm_vs_blas, "--lib", lib, "--sizes",
               ",".join(map(str, peak_sizes)), "--dtypes", ",".join(dtypes), "--threads",
               ",".join(map(str, threads_list)), "--ops", "nn,tn,nt", "--rounds", str(args.blas_pairs)]
        got, _ = run_child(cmd, dict(os.environ), None)
        for r in got:
            core = r["blas_core"]
            r["blas"] = f"{'MKL' if 'Math Kernel' in core else 'OpenBLAS ' + core} ({peer})"
            print(f"  gemm-vs-blas {r['blas']} {r['op']} {r['dtype']} t={r['threads']} n={r['n']}: "
                  f"{r['ours_over_blas']:.3f} (max rel diff {r['max_rel_diff']:.1e})", flush=True)
        blas_rows += got
    if blas_rows:
        md += ("\n\nThe project's GEMM against the peers' BLAS (numpy's OpenBLAS, PyTorch's MKL) loaded into "
               f"one process, calls alternated pair by pair ({args.blas_pairs} pairs, `gemm-vs-blas`): op nn is "
               "C = A B, tn Aᵀ B, nt A Bᵀ, as in the step.\n\n" + render_blas(blas_rows))
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    header = (f"Machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
              f"kernels: {next((r.get('isa') for r in rows if r.get('isa') and r['peer'] == 'backprop'), '?')}; "
              f"{time.strftime('%Y-%m-%d %H:%M')}, {time.perf_counter() - t_start:.0f} s.\n")
    print()
    print(header)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(header + "\n" + md + "\n")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rows": rows, "gemm": gemms, "gemm_vs_blas": blas_rows, "peers": peers, "skipped": skipped,
                       "args": vars(args)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
