#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-score-sfda.c into tests/data/scores/sfda/: per case
NAME-x.npy (float32 features), NAME-y.npy (int64 labels), and ref.json with the values of
tests/ref/ref_sfda.py (shrinkage H-score and SFDA, docs/scores.md sections 6 and 9).
Run from anywhere with /usr/bin/python3 (numpy, scipy); the output is deterministic.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_sfda  # noqa: E402

OUT = os.path.join(HERE, "sfda")
OFFSET = 1000.0


def blobs(rng, counts, d, spread, noise):
    """Gaussian classes around random centres, with unequal noise per dimension."""
    centres = rng.standard_normal((len(counts), d)) * spread
    y = np.repeat(np.arange(len(counts)), counts)
    scale = noise * np.linspace(0.5, 1.5, d)
    x = centres[y] + rng.standard_normal((len(y), d)) * scale
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def cases():
    rng = np.random.default_rng(20240611)
    x, y = blobs(rng, [30, 30, 30, 30], 16, 1.0, 1.0)
    yield "generic", x, y, "N=120, D=16, C=4, overlapping classes"
    x, y = blobs(rng, [8, 7, 8, 7], 64, 1.0, 1.5)
    yield "wide", x, y, "N=30, D=64 > N: lambda at its 1e-10 floor, SFDA saturates"
    x, y = blobs(rng, [8, 7, 8, 7], 64, 0.05, 0.05)
    yield "wide-small", x, y, "N=30, D=64, small scale: large lambda, no saturation"
    x, y = blobs(rng, [1, 29, 30], 8, 1.0, 1.0)
    yield "tiny-class", x, y, "class 0 has one sample (zero covariance)"
    x, y = blobs(rng, [70, 25, 5], 12, 0.8, 1.0)
    yield "unbalanced", x, y, "class sizes 70, 25, 5"
    x, y = blobs(rng, [30, 30, 30, 30], 16, 0.1, 0.1)
    yield "offset", x + OFFSET, y, "spread 0.1 plus 1000 on every value"
    x, y = blobs(rng, [20, 20, 20], 6, 1.0, 1.0)
    y = np.where(y == 2, 3, y)
    yield "label-gap", x, y, "labels 0, 1, 3: class 2 empty (H: C = max+1; SFDA: np.unique)"


def reference(name, x32, y):
    """Values in double from the float32 data; the offset case is scored on x - OFFSET."""
    x = x32.astype(np.float64)
    entry = {}
    if name == "offset":
        # Both scores are translation invariant and x - 1000 is exact in double, so this
        # is the same score without the cancellation the literal formulas suffer at +1000.
        for key, fn in (("hscore_shrinkage", ref_sfda.hscore_shrinkage), ("sfda", ref_sfda.sfda)):
            entry[key + "_literal"] = fn(x, y)[0]
        x = x - OFFSET
    entry["hscore_shrinkage"], entry["hscore_shrinkage_alpha"] = ref_sfda.hscore_shrinkage(x, y)
    entry["sfda"], entry["sfda_lambda"] = ref_sfda.sfda(x, y)
    alpha = ref_sfda.sklearn_alpha(x)
    if alpha is not None and abs(alpha - entry["hscore_shrinkage_alpha"]) > 1e-9 * max(alpha, 1e-300):
        sys.exit(f"{name}: sklearn LedoitWolf alpha {alpha!r} != {entry['hscore_shrinkage_alpha']!r}")
    return entry


def main():
    os.makedirs(OUT, exist_ok=True)
    table = []
    for name, x, y, note in cases():
        x32, y64 = x.astype(np.float32), y.astype(np.int64)
        np.save(os.path.join(OUT, name + "-x.npy"), x32)
        np.save(os.path.join(OUT, name + "-y.npy"), y64)
        entry = {"name": name, "note": note, "n": int(x32.shape[0]), "d": int(x32.shape[1])}
        entry.update(reference(name, x32, y64))
        table.append(entry)
    with open(os.path.join(OUT, "ref.json"), "w") as fp:
        json.dump({"generator": "tests/data/scores/make-sfda-fixtures.py",
                   "reference": "tests/ref/ref_sfda.py", "cases": table}, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
