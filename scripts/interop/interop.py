#!/usr/bin/env python3
"""Interop test: numpy + safetensors on one side, the `backprop` binary on the other.

1. Writes random models (safetensors, tensors W0, W1, ... of shape [l_{i+1}, l_i], metadata
   "activation") and data (CSV) with numpy, runs `backprop grad` in both layouts, and compares
   the gradient and E with this file's own numpy backpropagation:

       a_0 = x, z_{i+1} = W_i a_i, a_i = s(z_i), E = sum (y - z_n)^2
       delta_n = -2 (y - z_n), delta_i = s'(z_i) * (W_i^T delta_{i+1}), dE/dW_i = delta_{i+1} a_i^T

   to 1e-10 relative in f64 and 1e-4 in f32 (the reference runs in f64 on the same f32 values).
2. Runs `backprop train` and loads the model it wrote with safetensors.numpy: names, shapes,
   dtype and metadata as DESIGN.md section 3 says, and a numpy forward pass that matches
   `backprop predict`.

Usage: interop.py --bin PATH/TO/backprop   (scripts/interop/run.sh sets up the venv and runs it)
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

ACTIVATIONS = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: (1 / (1 + np.exp(-z))) * (1 - 1 / (1 + np.exp(-z)))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
}

failures = []
passed = []
WORST = {}  # dtype name -> (largest relative error, case)


def check(ok, what, quiet=False):
    if not ok:
        print("FAIL  " + what)
        failures.append(what)
    else:
        passed.append(what)
        if not quiet:
            print("ok    " + what)


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"FAIL  {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def forward(ws, act, x):
    """x: l_0 x B. Returns the a_i (i = 0..n-1), the z_i (i = 1..n)."""
    sigma = ACTIVATIONS[act][0]
    a, zs = [x], []
    for i, w in enumerate(ws):
        z = w @ a[-1]
        zs.append(z)
        if i + 1 < len(ws):
            a.append(sigma(z))
    return a, zs


def backprop(ws, act, x, y):
    """E and dE/dW_i (denominator layout), summed over the columns of x and y."""
    prime = ACTIVATIONS[act][1]
    a, zs = forward(ws, act, x)
    e = float(np.sum((y - zs[-1]) ** 2))
    delta = -2 * (y - zs[-1])
    grads = [None] * len(ws)
    for i in reversed(range(len(ws))):
        grads[i] = delta @ a[i].T
        if i > 0:
            delta = prime(zs[i - 1]) * (ws[i].T @ delta)
    return e, grads


def rel(a, b):
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a.astype(np.float64) - b))) / scale


def write_csv(path, x, y):
    """One sample a row: inputs, then targets; values as the shortest text that reads back."""
    with open(path, "w") as f:
        f.write(",".join([f"x{k}" for k in range(x.shape[0])] + [f"y{k}" for k in range(y.shape[0])]) + "\n")
        for s in range(x.shape[1]):
            f.write(",".join(repr(float(v)) for v in list(x[:, s]) + list(y[:, s])) + "\n")


def grad_case(binary, tmp, sizes, act, dtype, seed, tol):
    rng = np.random.default_rng(seed)
    ws = [rng.uniform(-1, 1, size=(sizes[i + 1], sizes[i])).astype(dtype) for i in range(len(sizes) - 1)]
    b = 9
    x = rng.normal(size=(sizes[0], b)).astype(dtype)
    y = rng.normal(size=(sizes[-1], b)).astype(dtype)
    name = f"{act}-{np.dtype(dtype).name}"
    model = os.path.join(tmp, f"{name}.safetensors")
    data = os.path.join(tmp, f"{name}.csv")
    save_file({f"W{i}": w for i, w in enumerate(ws)}, model, metadata={"activation": act})
    write_csv(data, x, y)
    # The reference in f64, on exactly the values the file and CSV hold.
    e_ref, g_ref = backprop([w.astype(np.float64) for w in ws], act, x.astype(np.float64), y.astype(np.float64))
    for layout in ["denominator", "numerator"]:
        out = os.path.join(tmp, f"{name}-{layout}-grad.safetensors")
        stdout = run([binary, "grad", "--model", model, "--data", data, "--out", out, "--layout", layout])
        # "E = <value> (summed over N samples)"
        e = float(stdout.strip().removeprefix("E = ").split(" ", 1)[0])
        g = load_file(out)
        with safe_open(out, "np") as f:
            meta = f.metadata() or {}
        ok = meta.get("layout") == layout and sorted(g) == [f"dW{i}" for i in range(len(ws))]
        worst = 0.0
        for i, ref in enumerate(g_ref):
            got = g[f"dW{i}"]
            want = ref if layout == "denominator" else ref.T
            ok = ok and got.dtype == np.dtype(dtype) and got.shape == want.shape
            if got.shape == want.shape:
                worst = max(worst, rel(got, want))
        e_err = abs(e - e_ref) / max(abs(e_ref), 1e-300)
        key = np.dtype(dtype).name
        err = max(worst, e_err)
        if err >= WORST.get(key, (0.0, ""))[0]:
            WORST[key] = (err, f"{sizes} {act} {layout}")
        check(ok and worst <= tol and e_err <= tol, quiet=True, what=
              f"grad {sizes} {name} {layout}: max rel. error {worst:.2e}, E {e:.10g} vs numpy {e_ref:.10g} "
              f"(rel. {e_err:.1e}, allowed {tol:g})")


def trained_model_case(binary, tmp, dtype):
    out = os.path.join(tmp, f"trained-{dtype}.safetensors")
    run([binary, "train", "--data", "xor", "--epochs", "5", "--dtype", dtype, "--out", out, "--no-plots"], cwd=tmp)
    tensors = load_file(out)
    with safe_open(out, "np") as f:
        meta = f.metadata() or {}
    want = np.float32 if dtype == "f32" else np.float64
    names = sorted(tensors)
    ws = [tensors[f"W{i}"] for i in range(len(names))]
    ok = names == ["W0", "W1"] and meta.get("activation") == "softplus"
    ok = ok and all(w.dtype == want for w in ws)
    ok = ok and ws[0].shape == (16, 2) and ws[1].shape == (2, 16)
    check(ok, f"train --dtype {dtype} wrote W0 {ws[0].shape}, W1 {ws[1].shape} {ws[0].dtype}, metadata {meta}")
    # numpy's forward pass on the file agrees with `backprop predict`.
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(2, 7)).astype(want)
    inputs = os.path.join(tmp, "inputs.csv")
    with open(inputs, "w") as f:
        for s in range(x.shape[1]):
            f.write(",".join(repr(float(v)) for v in x[:, s]) + "\n")
    text = run([binary, "predict", "--model", out, "--data", inputs])
    rows = text.strip().splitlines()
    z = np.array([[float(v) for v in r.split(",")] for r in rows[1:]]).T
    _, zs = forward([w.astype(np.float64) for w in ws], "softplus", x.astype(np.float64))
    err = rel(z, zs[-1])
    tol = 1e-5 if dtype == "f32" else 1e-12
    check(rows[0] == "z0,z1" and err <= tol, f"predict with the trained {dtype} model: rel. error {err:.1e} vs numpy")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the backprop binary")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory(prefix="backprop-interop-") as tmp:
        seed = 0
        for sizes in ([4, 7, 5, 3], [3, 4, 5, 2], [6, 1], [2, 9, 9, 9, 2]):
            for act in ACTIVATIONS:
                for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
                    seed += 1
                    grad_case(binary, tmp, sizes, act, dtype, seed, tol)
        print(f"ok    grad: {len(passed)} cases (4 shapes x 6 activations x f64/f32 x 2 layouts) agree with numpy")
        for key, tol in (("float64", 1e-10), ("float32", 1e-4)):
            err, case = WORST.get(key, (0.0, ""))
            print(f"      {key}: largest relative error {err:.2e} ({case}), allowed {tol:g}")
        for dtype in ("f64", "f32"):
            trained_model_case(binary, tmp, dtype)
    if failures:
        print(f"interop: {len(failures)} FAILED")
        sys.exit(1)
    print("interop: all passed")


if __name__ == "__main__":
    main()
