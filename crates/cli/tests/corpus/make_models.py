#!/usr/bin/env python3
"""Writes the malformed model files of models/ (and good/model.safetensors) byte by byte.

The files are committed; this script only documents how each was made. Run it from this
directory: python3 make_models.py
"""
import json
import math
import struct


def f64s(values):
    return b"".join(struct.pack("<d", v) for v in values)


def safetensors(header, data, pad=True):
    """A safetensors file: 8-byte little-endian header length, JSON header, data."""
    h = json.dumps(header, separators=(",", ":")).encode() if isinstance(header, dict) else header
    while pad and len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + data


META = {"__metadata__": {"activation": "sigmoid"}}


def w(name, dtype, shape, start, size=8):
    n = 1
    for d in shape:
        n *= d
    return {name: {"dtype": dtype, "shape": shape, "data_offsets": [start, start + n * size]}}


def model(*tensors, meta=META):
    h = dict(meta)
    for t in tensors:
        h.update(t)
    return h


# A good 3-4-2 sigmoid network in f64 (W0: 4×3, W1: 2×4).
good_w = [0.1 * (i % 7) - 0.3 for i in range(12 + 8)]
good = safetensors(model(w("W0", "F64", [4, 3], 0), w("W1", "F64", [2, 4], 96)), f64s(good_w))
files = {
    "good/model.safetensors": good,
    "truncated.safetensors": good[:-9],
    "garbage.safetensors": b"this is not a model at all\n",
    "empty.safetensors": b"",
    "short-length.safetensors": b"\x10\x00\x00",
    "absurd-header-length.safetensors": struct.pack("<Q", 2**64 - 1) + b"{}",
    "header-longer-than-file.safetensors": struct.pack("<Q", 1 << 40) + b'{"W0":',
    "header-not-json.safetensors": safetensors(b"{not json at all}", b""),
    "integer-dtype.safetensors": safetensors(
        model(w("W0", "I32", [2, 3], 0, size=4)), b"\x00" * 24
    ),
    "f16-dtype.safetensors": safetensors(model(w("W0", "F16", [2, 3], 0, size=2)), b"\x00" * 12),
    "mixed-dtypes.safetensors": safetensors(
        model(w("W0", "F64", [4, 3], 0), w("W1", "F32", [2, 4], 96, size=4)),
        f64s([0.5] * 12) + b"\x00" * 32,
    ),
    "non-chaining.safetensors": safetensors(
        model(w("W0", "F64", [4, 3], 0), w("W1", "F64", [2, 5], 96)), f64s([0.5] * 22)
    ),
    "missing-w1.safetensors": safetensors(
        model(w("W0", "F64", [4, 3], 0), w("W2", "F64", [2, 4], 96)), f64s([0.5] * 20)
    ),
    # Issue 18: W10 beside W0..W2 is named as unexpected, not taken for a missing W3.
    "extra-w10.safetensors": safetensors(
        model(
            w("W0", "F64", [4, 3], 0),
            w("W1", "F64", [5, 4], 96),
            w("W2", "F64", [2, 5], 256),
            w("W10", "F64", [1, 1], 336),
        ),
        f64s([0.5] * 43),
    ),
    # Issue 18: a metadata key twice (JSON readers keep one silently): refused.
    "duplicate-activation.safetensors": safetensors(
        b'{"__metadata__":{"activation":"sigmoid","activation":"relu"},'
        + json.dumps(w("W0", "F64", [2, 3], 0), separators=(",", ":")).encode()[1:],
        f64s([0.5] * 6),
    ),
    "no-weights.safetensors": safetensors(model(w("B0", "F64", [2, 3], 0)), f64s([0.5] * 6)),
    "unknown-activation.safetensors": safetensors(
        model(w("W0", "F64", [2, 3], 0), meta={"__metadata__": {"activation": "swish"}}),
        f64s([0.5] * 6),
    ),
    "no-activation.safetensors": safetensors(model(w("W0", "F64", [2, 3], 0), meta={}), f64s([0.5] * 6)),
    "nan-weight.safetensors": safetensors(
        model(w("W0", "F64", [2, 3], 0)), f64s([0.5, 0.5, 0.5, 0.5, math.nan, 0.5])
    ),
    "inf-weight.safetensors": safetensors(
        model(w("W0", "F64", [2, 3], 0)), f64s([-math.inf, 0.5, 0.5, 0.5, 0.5, 0.5])
    ),
    "rank-3.safetensors": safetensors(model(w("W0", "F64", [2, 3, 1], 0)), f64s([0.5] * 6)),
    "zero-width.safetensors": safetensors(model(w("W0", "F64", [0, 3], 0)), b""),
    "offsets-beyond-file.safetensors": safetensors(
        model({"W0": {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 1000000]}}),
        f64s([0.5] * 6),
    ),
    "huge-shape.safetensors": safetensors(
        model(w("W0", "F64", [100000, 100000], 0)), f64s([0.5] * 6)
    ),
}
for name, data in files.items():
    path = name if name.startswith("good/") else "models/" + name
    with open(path, "wb") as f:
        f.write(data)
