#!/usr/bin/python3
"""Write the golden example streams of schemas/stream.md with Python's msgpack and
msgpack-numpy alone (an implementation independent of libxfer). Run from this directory:
    /usr/bin/python3 make-examples.py
then refresh the dumps with `xf-tool dump FILE > FILE.dump` (tests compare both)."""
import subprocess
import msgpack
import msgpack_numpy as m
import numpy as np


def pack(frames):
    return b"".join(msgpack.packb(f, default=m.encode, use_bin_type=True) for f in frames)


worked = pack([
    {"t": "header", "xfer": 1, "kind": "samples",
     "fields": {"x": {"dtype": "<f4", "shape": [2]}, "y": {"dtype": "|u1", "shape": []},
                "id": {"dtype": "str", "shape": []}},
     "meta": {"classes": ["cat", "dog"]}},
    {"t": "batch", "n": 2, "cols": {"x": np.array([[1, 2], [0.5, -1]], dtype="<f4"),
                                    "y": np.array([0, 1], dtype="|u1"), "id": ["a", "b"]}},
    {"t": "end", "rows": 2},
])

weight = np.array([[1, -2, 0.5], [0.25, 3, -0.125]], dtype="<f4")
bits = m.encode((weight.view("<u4") >> 16).astype("<u2"))
bits[b"xfer_dtype"] = "bf16"
model = pack([
    {"t": "header", "xfer": 1, "kind": "model",
     "fields": {"fc.weight": {"dtype": "bf16", "shape": [2, 3]}, "fc.bias": {"dtype": "<f4", "shape": [2]}},
     "meta": {"history": [{"prog": "xfer-train", "version": "0.1.0", "args": ["--seed", "1"]}], "seed": 1},
     "graph": {"inputs": {"x": {"shape": [3]}},
               "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"],
                          "weights": {"weight": "fc.weight", "bias": "fc.bias"}}],
               "outputs": ["fc"]}},
    {"t": "tensor", "name": "fc.weight", "data": bits},
    {"t": "tensor", "name": "fc.bias", "data": np.array([0.5, -0.5], dtype="<f4")},
    {"t": "end", "tensors": 2},
])

open("worked.msgpack", "wb").write(worked)
open("two-segments.msgpack", "wb").write(worked + worked)
open("model-bf16.msgpack", "wb").write(model)
zst = subprocess.run(["zstd", "-q", "-19", "-c"], input=worked, capture_output=True, check=True).stdout
open("worked.msgpack.zst", "wb").write(zst)
