#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-layout.c into tests/data/layout/, with the values of
tests/ref/ref_layout.py (deepinsight.md section 4). Run with /usr/bin/python3 (numpy, scipy);
the output is deterministic.

  coords-CASE.npy      d x 2 float64 feature coordinates, d = 200, for two cases:
                         gauss: an anisotropic Gaussian cloud tilted by 35 degrees
                         pca:   the first two principal components of the transposed,
                                min-max normalised training matrix (the doc's 'pca' layout)
  hull-CASE.npy        int64 scipy ConvexHull vertex indices, ascending
  pixel-CASE-HxW-VARIANT.npy  int32 pixel maps (row * W + col), VARIANT = align (default fit),
                       legacy (bin-legacy), pydeepinsight (pyDeepInsight's rotation sign)
  train.npy, test.npy  12 x 200 and 4 x 200 float64 values; test has values beyond the
                       training range and a NaN, to exercise the clipping
  images-NORM.npy      4 x 7 x 11 float32: test.npy through NORM (minmax, log) fitted on
                       train.npy, laid out by pixel-pca-7x11-align
  ref.json             per case and turn: theta, area, R; the log scale M
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "ref"))
import ref_layout  # noqa: E402

D = 200
GRIDS = [(16, 16), (7, 11)]


def gauss_coords(rng):
    pts = rng.standard_normal((D, 2)) * np.array([3.0, 0.7])
    t = np.deg2rad(35.0)
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return pts @ r.T + np.array([5.0, -2.0])


def pca_coords(train):
    """Features as points: rows of the normalised matrix transposed, projected on 2 PCs."""
    params = ref_layout.norm_fit(train, "minmax")
    xt = ref_layout.norm_apply(train, "minmax", params).T
    xt = xt - xt.mean(axis=0)
    _, _, vt = np.linalg.svd(xt, full_matrices=False)
    return xt @ vt[:2].T


def matrices(rng):
    scale = rng.uniform(0.5, 5.0, D)
    train = rng.standard_normal((12, D)) * scale + rng.uniform(-3, 3, D)
    test = rng.standard_normal((4, D)) * scale * 1.5 + rng.uniform(-3, 3, D)
    test[0, 3] = np.nan
    test[1, 5] = -1e6
    test[2, 7] = 1e6
    return train, test


def save(name, array):
    np.save(os.path.join(HERE, name), array)


def write_case(name, coords, ref):
    save(f"coords-{name}.npy", coords)
    save(f"hull-{name}.npy", np.sort(ref_layout.ConvexHull(coords).vertices).astype(np.int64))
    entry = {}
    for turn, how, variant in (("align", "bin", "align"), ("align", "bin-legacy", "legacy"),
                               ("pydeepinsight", "bin", "pydeepinsight")):
        for h, w in GRIDS:
            pixel, (theta, r, area), _ = ref_layout.fit(coords, h, w, turn, how)
            save(f"pixel-{name}-{h}x{w}-{variant}.npy", pixel.astype(np.int32))
        entry[turn] = {"theta": float(theta), "area": float(area), "rot": [float(v) for v in r.ravel()]}
    ref[name] = entry


def main():
    rng = np.random.default_rng(20240917)
    train, test = matrices(rng)
    save("train.npy", train)
    save("test.npy", test)
    ref = {"generator": "tests/data/layout/make-fixtures.py", "reference": "tests/ref/ref_layout.py"}
    write_case("gauss", gauss_coords(rng), ref)
    coords = pca_coords(train)
    write_case("pca", coords, ref)
    pixel, _, _ = ref_layout.fit(coords, 7, 11)
    for kind in ("minmax", "log"):
        params = ref_layout.norm_fit(train, kind)
        values = ref_layout.norm_apply(test, kind, params)
        save(f"images-{kind}.npy", ref_layout.transform(values, pixel, 7, 11).astype(np.float32))
        if kind == "log":
            ref["log_scale"] = float(params[2])
    with open(os.path.join(HERE, "ref.json"), "w") as fp:
        json.dump(ref, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
