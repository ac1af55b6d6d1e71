#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-score-ncti.c into tests/data/scores/ncti/. NCTI is
defined over a set of models that embed the same rows, so a fixture is a set: SET-y.npy (int64
labels) and SET-MODEL-x.npy (float32 features) per model, and ref.json with, per model, the
three parts (seli, ncc, vc), the LDA solver and shrinkage the official rule picks, and the
combined score over the set, all from tests/ref/ref_ncti.py (docs/scores.md section 10)
computed on the arrays as saved. Run with /usr/bin/python3 (numpy, scipy); deterministic.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_ncti  # noqa: E402

OUT = os.path.join(HERE, "ncti")


def model(rng, y, d, spread, noise):
    """Features of one model for fixed labels y: class centres plus noise whose scale falls
    from 1.5 to 0.5 across the dimensions, so that the PCA spectrum has no ties."""
    c = int(y.max()) + 1
    centres = rng.standard_normal((c, d)) * spread
    x = centres[y] + rng.standard_normal((len(y), d)) * noise * np.linspace(1.5, 0.5, d)
    return x.astype(np.float32)


def labels(rng, counts):
    y = np.repeat(np.arange(len(counts)), counts)
    return rng.permutation(y).astype(np.int64)


def sets():
    rng = np.random.default_rng(20240806)
    y = labels(rng, [24, 20, 16, 12])
    yield "main", y, "N=72, C=4 (24/20/16/12)", [
        ("wide-svd", model(rng, y, 66, 0.3, 1.0),
         "D=66 > 64: PCA keeps 64; top-32 variance >> 23: svd solver; 64 dims separate 72 rows (ncc 1)"),
        ("small-eigen", model(rng, y, 24, 0.1, 0.1), "D=24, variance ~0.01 per dim: eigen, shrinkage ~0.6"),
        ("mid-eigen", model(rng, y, 20, 0.6, 0.6), "D=20: eigen with small shrinkage"),
        ("narrow-svd", model(rng, y, 8, 3.0, 2.0), "D=8 < 32: the variance of all 8 components: svd"),
    ]
    y = labels(rng, [20, 20, 0, 20])
    yield "gap", y, "N=60, labels 0, 1, 3: class id 2 empty", [
        ("svd", model(rng, y, 10, 0.8, 2.0), "D=10, svd solver"),
        ("eigen", model(rng, y, 8, 0.3, 0.3), "D=8, eigen solver"),
    ]
    y = labels(rng, [22, 18])
    yield "binary", y, "N=40, C=2: predict_proba is expit(decision), 1 - expit", [
        ("svd", model(rng, y, 6, 2.0, 2.0), "D=6, svd solver"),
        ("eigen", model(rng, y, 5, 0.4, 0.4), "D=5, eigen solver"),
    ]


def reference(name, y, models):
    entries, parts = [], []
    for mname, x, note in models:
        x = np.load(os.path.join(OUT, f"{name}-{mname}-x.npy")).astype(np.float64)
        (seli, ncc, vc), solver, temp = ref_ncti.ncti_parts(x, y)
        k = min(ref_ncti.PCA_COMPONENTS, x.shape[0], x.shape[1])
        entries.append({"name": mname, "note": note, "d": int(x.shape[1]), "pca_k": k, "solver": solver,
                        "shrinkage": temp, "seli": seli, "ncc": ncc, "vc": vc})
        parts.append((seli, ncc, vc))
        print(f"{name}/{mname}: {solver} {temp:.3g} seli {seli:.6g} ncc {ncc:.6g} vc {vc:.6g}", file=sys.stderr)
    for entry, score in zip(entries, ref_ncti.combine(parts)):
        entry["ncti"] = float(score)
    return entries


def main():
    os.makedirs(OUT, exist_ok=True)
    table = []
    for name, y, note, models in sets():
        np.save(os.path.join(OUT, f"{name}-y.npy"), y)
        for mname, x, _ in models:
            np.save(os.path.join(OUT, f"{name}-{mname}-x.npy"), x)
        y = np.load(os.path.join(OUT, f"{name}-y.npy"))
        table.append({"name": name, "note": note, "n": int(len(y)), "c": int(y.max()) + 1,
                      "models": reference(name, y, models)})
    with open(os.path.join(OUT, "ref.json"), "w") as fp:
        json.dump({"generator": "tests/data/scores/make-ncti-fixtures.py",
                   "reference": "tests/ref/ref_ncti.py", "sets": table}, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
