#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-score-osborn.c and test-assign.c into
tests/data/scores/osborn/:
  CASE-y.npy                         int64 target labels, shared by the case's models;
  CASE-mS-x.npy, -src.npy, -p.npy    float32 target features, source-domain features and
                                     target probabilities of model S;
  ref.json     per case: the terms, every subset's OSBORN (unit and weighted) and the greedy
               choices for k = 1..models, from tests/ref/ref_osborn.py on the arrays as saved;
  assign.json  totals of scipy's linear_sum_assignment on the LCG matrices of ref_osborn.
Run from anywhere with /usr/bin/python3 (numpy, scipy); the output is deterministic.
"""
import itertools
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_osborn  # noqa: E402
from ref_data import blobs  # noqa: E402

OUT = os.path.join(HERE, "osborn")
WEIGHTED = (0.05, 1.0, 0.5)


def probabilities(rng, y, cs, sharpness, ties):
    """Softmax rows leaning to column (y + 1) mod cs; `ties` rows get two exactly equal maxima."""
    logits = rng.standard_normal((len(y), cs))
    logits[np.arange(len(y)), (y + 1) % cs] += sharpness
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    for i in ties:
        p[i] = np.float32(0.5 / (cs - 1))
        p[i, 0] = p[i, cs - 1] = np.float32(0.25) if cs > 2 else np.float32(0.5)
        p[i] /= p[i].sum(dtype=np.float32)
    return p


def model(rng, x, y, d, source_n, cs, sharpness, ties):
    """Target features: a random projection of the shared x plus noise; source: shifted, scaled."""
    proj = rng.standard_normal((x.shape[1], d)) / np.sqrt(x.shape[1])
    target = x @ proj + 0.3 * rng.standard_normal((len(y), d))
    source = 1.5 * rng.standard_normal((source_n, d)) + rng.standard_normal(d)
    return target.astype(np.float32), source.astype(np.float32), probabilities(rng, y, cs, sharpness, ties)


def cases():
    rng = np.random.default_rng(20240719)
    x, y = blobs(rng, [80, 70, 75, 80], 6, 1.0, 0.6)
    m0 = model(rng, x, y, 3, 320, 4, 1.0, [5, 77])
    m1 = model(rng, x, y, 5, 150, 5, 0.5, [9])
    m2 = model(rng, x, y, 2, 305, 3, 60.0, [])       # Z is a function of Y: W_T = 0
    m3 = model(rng, x, y, 3, 310, 4, 0.0, [])[:2] + (m0[2],)   # m0's predictions: W_C(0, 3) = 0
    yield "pool", y, [m0, m1, m2, m3], "N=305, C=4; m = 300 (cap), 150 (source rows), 300, 300"

    x, y = blobs(rng, [14, 12, 14], 5, 1.0, 0.8)
    models = [model(rng, x, y, 4, 60, 3, 1.0, [2]), model(rng, x, y, 2, 30, 5, 0.3, []),
              model(rng, x, y, 6, 40, 2, 2.0, [7])]
    yield "small", y, models, "N=40, C=3; m = 40 (target rows), 30, 40"


def subsets(t, k):
    out = []
    for size in range(1, k + 1):
        for chosen in itertools.permutations(range(k), size):
            if size < 3 or list(chosen) == sorted(chosen):
                out.append({"chosen": list(chosen), "unit": ref_osborn.score(t, list(chosen)),
                            "weighted": ref_osborn.score(t, list(chosen), WEIGHTED)})
    return out


def osborn_case(name, y, models, note):
    np.save(os.path.join(OUT, f"{name}-y.npy"), y)
    for s, (tx, src, p) in enumerate(models):
        for suffix, arr in (("x", tx), ("src", src), ("p", p)):
            np.save(os.path.join(OUT, f"{name}-m{s}-{suffix}.npy"), arr)
    y = np.load(os.path.join(OUT, f"{name}-y.npy"))
    models = [tuple(np.load(os.path.join(OUT, f"{name}-m{s}-{suffix}.npy")) for suffix in ("x", "src", "p"))
              for s in range(len(models))]
    t = ref_osborn.terms(models, y)
    greedy = []
    for k in range(1, len(models) + 1):
        for label, w in (("unit", ref_osborn.UNIT), ("weighted", WEIGHTED)):
            chosen, best = ref_osborn.greedy(t, k, w)
            greedy.append({"k": k, "weights": label, "chosen": chosen, "score": best})
    print(f"{name}: {t}\n  greedy {greedy}", file=sys.stderr)
    return {"name": name, "note": note, "n": len(y), "models": len(models), "c": int(y.max()) + 1,
            "d": [m[0].shape[1] for m in models], "source_n": [len(m[1]) for m in models],
            "cs": [m[2].shape[1] for m in models], "terms": t, "subsets": subsets(t, len(models)),
            "greedy": greedy}


ASSIGN = [("uniform", 300, 1), ("integer", 300, 2), ("signed", 300, 3), ("binary", 300, 4),
          ("integer", 57, 5), ("uniform", 1, 6)]


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {"generator": "tests/data/scores/make-osborn-fixtures.py", "weighted": list(WEIGHTED), "cases": []}
    for case in cases():
        ref["cases"].append(osborn_case(*case))
    with open(os.path.join(OUT, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    assign = {"generator": "tests/data/scores/make-osborn-fixtures.py", "lcg": "tests/ref/ref_osborn.py lcg_matrix",
              "cases": [{"kind": kind, "m": m, "seed": seed,
                         "total": ref_osborn.assign_total(ref_osborn.lcg_matrix(seed, m, kind))}
                        for kind, m, seed in ASSIGN]}
    with open(os.path.join(OUT, "assign.json"), "w") as f:
        json.dump(assign, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
