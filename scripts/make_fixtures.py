#!/usr/bin/env python3
"""Writes the model-file fixtures of crates/core/tests/fixtures with Python's safetensors + numpy.

A model file written by another tool, with just the tensors W0, W1, ... (row-major,
shape [l_{i+1}, l_i]) and the metadata key "activation", must load in backprop
(DESIGN.md section 3). These fixtures are such files, plus the values they hold as JSON so the
Rust test can compare element by element.

Run (needs numpy and safetensors):
    python3 -m venv /tmp/fixture-venv && /tmp/fixture-venv/bin/pip install numpy==2.4.6 safetensors==0.8.0
    /tmp/fixture-venv/bin/python scripts/make_fixtures.py
"""
import json
import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crates", "core", "tests", "fixtures")


def weights(sizes, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, size=(sizes[i + 1], sizes[i])) for i in range(len(sizes) - 1)]


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        "numpy_f64_sigmoid": ([3, 4, 5, 2], np.float64, "sigmoid"),
        "numpy_f32_tanh": ([2, 3, 1], np.float32, "tanh"),
    }
    for name, (sizes, dtype, act) in cases.items():
        ws = [w.astype(dtype) for w in weights(sizes, 7)]
        tensors = {f"W{i}": np.ascontiguousarray(w) for i, w in enumerate(ws)}
        save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"activation": act})
        # The values widened to float64 (exact for f32), row-major, as their IEEE bit patterns
        # (u64), so that no decimal round trip can blur a comparison.
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump({"activation": act, "dtype": np.dtype(dtype).name,
                       "weights": [{"shape": list(w.shape),
                                    "row_major_f64_bits": [int(v) for v in
                                                           w.astype(np.float64).ravel().view(np.uint64)]}
                                   for w in ws]}, f, indent=1)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
