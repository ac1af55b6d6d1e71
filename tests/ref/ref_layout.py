#!/usr/bin/python3
"""
Reference DeepInsight feature layout (deepinsight.md section 4), in plain numpy + scipy, for
the fixtures of tests/unit/test-layout.c. Written from the doc, not from lib/layout.c: the hull
is scipy's qhull, and the rectangle is a brute-force search over every candidate angle (the C
code uses its own hull and rotating calipers). Run with /usr/bin/python3.

Where the doc leaves a choice, this follows the choices documented in lib/layout.h:
  turn="align"          rotate by -theta (the true minimum-area rectangle);
  turn="pydeepinsight"  rotate by +theta, R = [[cos, -sin], [sin, cos]] (pyDeepInsight's code);
  both include the closing hull edge; an angle whose modulo rounds to pi/2 counts as 0;
  an axis whose extent is <= FLAT_REL * max|rotated| puts every feature in cell floor(P/2);
  normalised values: NaN -> 0, clipped to [0, 1].
atan2, cos and sin come from Python's math module (the C library's libm, as the C code uses):
numpy's own SIMD versions (SVML on AVX-512 machines) differ in the last bit, and a last-bit
change in R can swap which end of the aligned hull edge is the extreme, which moves a feature
across a bin edge under bin-legacy. Everything else is numpy arithmetic, operation by operation.

  ref_layout.py COORDS.npy H W [align|pydeepinsight] [bin|bin-legacy]   prints the pixel map
"""
import math
import sys

import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial import QhullError

FLAT_REL = 1e-12


def hull_points(coords):
    """Hull vertices in order; a degenerate set gives its extreme point(s) (1 or 2 rows)."""
    uniq = np.unique(coords, axis=0)
    if len(uniq) == 1:
        return uniq
    try:
        return coords[ConvexHull(coords).vertices]
    except QhullError:
        # collinear: the ends of the segment are the lexicographically first and last points
        return uniq[[0, -1]]


def edge_angles(hull):
    """Step 3: |atan2 mod pi/2| of every edge, the closing edge included, de-duplicated."""
    pi2 = np.pi / 2
    edges = np.roll(hull, -1, axis=0) - hull
    # Python's % on floats is numpy's np.mod: a floored modulo
    angles = np.array([abs(math.atan2(dy, dx) % pi2) for dx, dy in edges])
    angles[angles >= pi2] = 0.0
    return np.unique(angles)


def rotation(theta, turn):
    c, s = math.cos(theta), math.sin(theta)
    if turn == "align":
        return np.array([[c, s], [-s, c]])
    return np.array([[c, -s], [s, c]])


def rotate(r, pts):
    """R p for each point, written out elementwise (no BLAS, so no fused multiply-add)."""
    return np.stack([r[0, 0] * pts[:, 0] + r[0, 1] * pts[:, 1],
                     r[1, 0] * pts[:, 0] + r[1, 1] * pts[:, 1]], axis=1)


def min_rect(hull, turn="align"):
    """(theta, R, area) of the first smallest box over the ascending candidate angles."""
    best = None
    for theta in edge_angles(hull):
        r = rotation(theta, turn)
        z = rotate(r, hull)
        area = (z[:, 0].max() - z[:, 0].min()) * (z[:, 1].max() - z[:, 1].min())
        if best is None or area < best[2]:
            best = (theta, r, area)
    if best is None:  # a single point: no edges
        best = (0.0, rotation(0.0, turn), 0.0)
    return best


def bin_axis(z, p, flat, legacy):
    lo, hi = z.min(), z.max()
    if hi - lo <= flat:
        return np.full(len(z), p // 2, dtype=np.int64)
    u = (z - lo) / (hi - lo) * (p - 1 if legacy else p)
    cell = np.floor(u).astype(np.int64)
    cell[cell == p] = p - 1
    return cell


def discretize(zrot, height, width, legacy=False):
    """Step 5: rows from axis 0, columns from axis 1; returns row * width + col."""
    flat = FLAT_REL * np.abs(zrot).max()
    rows = bin_axis(zrot[:, 0], height, flat, legacy)
    cols = bin_axis(zrot[:, 1], width, flat, legacy)
    return rows * width + cols


def fit(coords, height, width, turn="align", how="bin"):
    """Pixel map (int64, row * width + col), the rectangle (theta, R, area) and the rotated points."""
    coords = np.asarray(coords, dtype=np.float64)
    theta, r, area = min_rect(hull_points(coords), turn)
    zrot = rotate(r, coords)
    return discretize(zrot, height, width, how == "bin-legacy"), (theta, r, area), zrot


def clip01(v):
    return np.clip(np.nan_to_num(v, nan=0.0, posinf=np.inf, neginf=-np.inf), 0.0, 1.0)


def norm_fit(x, kind):
    """Section 4.3 parameters: minmax -> (min, max, None); log -> (m, None, M)."""
    if kind == "minmax":
        return x.min(axis=0), x.max(axis=0), None
    m = x.min(axis=0)
    return m, None, np.log(x + np.abs(m) + 1).max()


def norm_apply(x, kind, params):
    lo, hi, scale = params
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "minmax":
            return clip01((x - lo) / (hi - lo))
        v = np.log(x + np.abs(lo) + 1)
        v = np.where(v < 0, 0.0, v)
        return clip01(v / scale)


def transform(x, pixel, height, width):
    """Section 4.2: each pixel the mean of its features' values, empty pixels 0."""
    images = np.zeros((x.shape[0], height * width))
    for p in np.unique(pixel):
        images[:, p] = x[:, pixel == p].mean(axis=1)
    return images.reshape(x.shape[0], height, width)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    coords = np.load(argv[1])
    turn = argv[4] if len(argv) > 4 else "align"
    how = argv[5] if len(argv) > 5 else "bin"
    pixel, (theta, _, area), _ = fit(coords, int(argv[2]), int(argv[3]), turn, how)
    print(f"# theta {theta!r} area {area!r}")
    print(" ".join(str(int(p)) for p in pixel))


if __name__ == "__main__":
    main(sys.argv)
