#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-score-prob.c into tests/data/scores/prob/: per case
NAME-x.npy (float32 features), NAME-y.npy (int64 labels), NAME-p.npy (float32 probabilities),
and ref.json with the values of tests/ref/ref_prob.py (LEEP, NCE, accuracy, nll, GBC, TMI;
docs/scores.md sections 1, 2, 7, 8), computed from the arrays as saved.
Run from anywhere with /usr/bin/python3 (numpy, scipy); the output is deterministic.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_prob  # noqa: E402
from ref_data import blobs  # noqa: E402

OUT = os.path.join(HERE, "prob")


def probabilities(rng, y, cs, sharpness):
    """Softmax rows that lean towards column y mod cs, as float32 rows summing to 1."""
    logits = rng.standard_normal((len(y), cs))
    logits[np.arange(len(y)), y % cs] += sharpness
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    return p / p.sum(axis=1, keepdims=True, dtype=np.float32)


def with_ties(p, rows):
    """Rows whose two largest entries are exactly equal: argmax must take the first."""
    for i in rows:
        p[i] = 0
        p[i, [1, 3]] = np.float32(0.375)
        p[i, 2] = np.float32(0.25)
    return p


def cases():
    rng = np.random.default_rng(20240612)
    x, y = blobs(rng, [30, 25, 35, 30], 16, 1.0, 0.55)
    p = with_ties(probabilities(rng, y, 6, 1.5), [3, 50, 77])
    yield "generic", x, y, p, "N=120, D=16, C=4, Cs=6; TMI distances on both sides of the 1.0 floor"

    x, y = blobs(rng, [10, 12, 8], 64, 0.5, 1.0)
    x[:, 0] = 0.5                      # a constant feature: GBC's variance floor
    x[np.nonzero(y == 0)[0][1]] = x[np.nonzero(y == 0)[0][0]]   # a duplicated row
    yield "wide", x, y, probabilities(rng, y, 5, 0.5), "N=30, D=64 > N, a constant feature, a duplicate row"

    x, y = blobs(rng, [20, 1, 0, 2, 17], 8, 1.0, 0.8)
    p = probabilities(rng, y, 6, 2.0)
    p[:, 5] = 0                        # a column with pz = 0: LEEP's Q[:, z] = 0 rule
    p /= p.sum(axis=1, keepdims=True, dtype=np.float32)
    i = np.nonzero(y == 0)[0][0]
    p[i] = 0                           # probability 0 on the label: nll clips
    p[i, 1] = 1
    p = with_ties(p, [np.nonzero(y == 4)[0][0]])
    yield "tiny", x, y, p, "N=40, D=8; a 1-sample class, an empty label 2, a 2-sample class (TMI drops it)"

    x, y = blobs(rng, [20, 20, 20], 12, 1.0, 1.0)
    x += (y[:, None] * 4.0).astype(np.float32)
    yield "separated", x, y, probabilities(rng, y, 3, 4.0), "N=60, D=12, C=3, far apart: GBC near 0"

    x, y = blobs(rng, [15, 20, 15], 10, 0.01, 0.01)
    yield "small", x, y, probabilities(rng, y, 4, 0.2), "N=50, D=10, scale 0.01: every TMI distance floored"


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {"generator": "tests/data/scores/make-prob-fixtures.py", "cases": []}
    for name, x, y, p, note in cases():
        for suffix, arr in (("x", x), ("y", y), ("p", p)):
            np.save(os.path.join(OUT, f"{name}-{suffix}.npy"), arr)
        x, y, p = (np.load(os.path.join(OUT, f"{name}-{s}.npy")) for s in "xyp")
        values = {m: f(x, y, p) for m, f in ref_prob.ALL.items()}
        case = {"name": name, "note": note, "n": len(y), "d": x.shape[1], "c": int(y.max()) + 1,
                "cs": p.shape[1], "values": values}
        if abs(values["gbc"]) < 1e-6:
            case["abs_tol"] = {"gbc": 1e-14, "gbc_spherical": 1e-14}
        ref["cases"].append(case)
        print(f"{name}: {values}", file=sys.stderr)
    with open(os.path.join(OUT, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
