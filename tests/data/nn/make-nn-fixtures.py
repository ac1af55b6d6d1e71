#!/usr/bin/python3
"""
Writes the PyTorch fixtures of tests/unit/test-nn-ops.c into tests/data/nn/: per case
NAME-x.npy (input; cases that share an input share its file), NAME-ROLE.npy (weights),
NAME-y.npy (the output of tests/ref/ref_nn.py, float64 rounded to float32), all float32,
and cases.json listing each case's op, attrs (as the graph spells them, schemas/stream.md
9.3) and files.
Run from anywhere with /usr/bin/python3 (python3-torch, numpy); the output is deterministic.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_nn  # noqa: E402

rng = np.random.default_rng(20250611)


def arr(*shape, scale=1.0, offset=0.0):
    return (offset + scale * rng.standard_normal(shape)).astype(np.float32)


def cases():
    x, w, b = arr(3, 4, 9, 8), arr(6, 2, 3, 3, scale=0.3), arr(6)
    attrs = {"stride": [2, 1], "padding": [1, 2], "dilation": [2, 1], "groups": 2}
    yield "conv-groups", "conv2d", attrs, {"x": x, "weight": w, "bias": b}, ref_nn.conv2d(x, w, b, **attrs)

    x, w = arr(2, 4, 7, 7), arr(4, 1, 3, 3)
    attrs = {"stride": [2, 2], "padding": [1, 1], "groups": 4}
    yield "conv-depthwise", "conv2d", attrs, {"x": x, "weight": w}, ref_nn.conv2d(x, w, None, **attrs)

    x, w, b = arr(2, 8, 16, 16), arr(5, 8, 1, 1, scale=0.3), arr(5)
    yield "conv-1x1", "conv2d", {}, {"x": x, "weight": w, "bias": b}, ref_nn.conv2d(x, w, b)

    x, w, b = arr(2, 3, 17, 19), arr(7, 3, 5, 3, scale=0.2), arr(7)
    attrs = {"padding": [2, 0]}
    yield "conv-5x3", "conv2d", attrs, {"x": x, "weight": w, "bias": b}, ref_nn.conv2d(x, w, b, **attrs)

    x = arr(2, 3, 9, 8)
    attrs = {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]}
    yield "maxpool", "maxpool2d", attrs, {"x": x}, ref_nn.maxpool2d(x, **attrs)
    for inc in (True, False):
        a = dict(attrs, count_include_pad=inc)
        yield "avgpool-%s" % ("incl" if inc else "excl"), "avgpool2d", a, {"x": x}, ref_nn.avgpool2d(x, **a)
    yield "global-avgpool", "global_avgpool", {}, {"x": x}, ref_nn.global_avgpool(x)

    x, g, bb, m, v = arr(3, 4, 5, 5, offset=1), arr(4, offset=1), arr(4), arr(4), arr(4, scale=0.3, offset=1) ** 2
    yield "batchnorm", "batchnorm", {"eps": 1e-3}, {"x": x, "weight": g, "bias": bb, "running_mean": m,
                                                   "running_var": v}, ref_nn.batchnorm(x, g, bb, m, v, 1e-3)

    x = arr(5, 40, scale=4)
    for approx in ("none", "tanh"):
        yield "gelu-" + approx, "gelu", {"approximate": approx}, {"x": x}, ref_nn.gelu(x, approx)

    x = arr(2, 3, 4, 5, scale=10, offset=500)
    yield "softmax-axis1", "softmax", {"axis": 1}, {"x": x}, ref_nn.softmax(x, 1)
    yield "softmax-last", "softmax", {"axis": -1}, {"x": x}, ref_nn.softmax(x, -1)

    x, w, b = arr(3, 4, 6, scale=3, offset=20), arr(4, 6, offset=1), arr(4, 6)
    yield "layernorm-2d", "layernorm", {}, {"x": x, "weight": w, "bias": b}, ref_nn.layernorm(x, w, b)

    x, w, b = arr(3, 5, 7), arr(4, 7), arr(4)
    yield "linear", "linear", {}, {"x": x, "weight": w, "bias": b}, ref_nn.linear(x, w, b)


def main():
    listing, saved = [], {}
    for name, op, attrs, arrays, y in cases():
        files = {}
        for role, a in arrays.items():
            if id(a) not in saved:
                saved[id(a)] = (a, "%s-%s.npy" % (name, role))   # keep a alive: ids stay unique
                np.save(os.path.join(HERE, saved[id(a)][1]), a)
            files[role] = saved[id(a)][1]
        files["y"] = "%s-y.npy" % name
        np.save(os.path.join(HERE, files["y"]), y.astype(np.float32))
        listing.append({"name": name, "op": op, "attrs": attrs, "files": files})
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"generator": "tests/data/nn/make-nn-fixtures.py", "cases": listing}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
