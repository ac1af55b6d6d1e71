#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-score-nleep.c into tests/data/scores/nleep/: per case
NAME-x.npy (float32 features) and NAME-y.npy (int64 labels), and ref.json with the values of
tests/ref/ref_nleep.py (deterministic N-LEEP, docs/scores.md section 3) computed from the
arrays as saved, with PCA k, components K, EM iterations and the init centres.
Run from anywhere with /usr/bin/python3 (numpy, scipy); the output is deterministic.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_nleep  # noqa: E402
from ref_data import blobs  # noqa: E402

OUT = os.path.join(HERE, "nleep")


def cases():
    rng = np.random.default_rng(20240705)
    x, y = blobs(rng, [40, 40, 40], 6, 0.3, 0.2)
    x[:, 0] += (rng.standard_normal(len(y)) * 3.0 + y).astype(np.float32)   # one dominant direction
    yield "line", x, y, "N=120, D=6, C=3; one direction holds > 80% of the variance: PCA keeps 1"

    x, y = blobs(rng, [50, 45, 55, 50], 10, 1.0, 0.9)
    yield "generic", x, y, "N=200, D=10, C=4, overlapping classes"

    x, y = blobs(rng, [30, 30], 4, 1.0, 0.3)
    x += (y[:, None] * 8.0).astype(np.float32)
    yield "separated", x, y, "N=60, D=4, C=2, far apart: N-LEEP near 0"


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {"generator": "tests/data/scores/make-nleep-fixtures.py", "cases": []}
    for name, x, y, note in cases():
        np.save(os.path.join(OUT, f"{name}-x.npy"), x)
        np.save(os.path.join(OUT, f"{name}-y.npy"), y)
        x, y = (np.load(os.path.join(OUT, f"{name}-{s}.npy")) for s in "xy")
        value, (k, m, it, centres) = ref_nleep.nleep(x.astype(np.float64), y)
        case = {"name": name, "note": note, "n": len(y), "d": x.shape[1], "c": int(y.max()) + 1,
                "pca_k": k, "components": m, "iterations": it, "init_centres": centres,
                "values": {"nleep": value}}
        sk = ref_nleep.check_sklearn(x.astype(np.float64), y)
        if sk is not None:
            case["sklearn_max_posterior_diff"] = sk
        ref["cases"].append(case)
        print(f"{name}: nleep {value} k {k} K {m} iterations {it} sklearn {sk}", file=sys.stderr)
    with open(os.path.join(OUT, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
