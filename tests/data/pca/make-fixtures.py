#!/usr/bin/python3
"""
Writes the fixtures of tests/unit/test-pca.c into tests/data/pca/, one set per CASE:
  CASE-x.npy           float64 n x d input rows;
  CASE-mean.npy        float64 d column means;
  CASE-components.npy  float64 k x d principal axes, largest-|.| entry of each row positive;
  CASE-variance.npy    float64 k explained variances (ddof = 1), descending;
  CASE-total.npy       float64 [1]: the sum of all column variances (ddof = 1).
The reference is PCA through numpy's SVD of the centred rows (sklearn's 'full' solver), not
the covariance route that lib/pca.c takes. For the cases with a 1e6 offset the rows are
1e6 + y with y on a 2^-20 grid, so x holds them exactly, and the reference is computed from y:
the centred data is the same, without the cancellation.
Run with /usr/bin/python3 (numpy only); the output is deterministic.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OFFSET = 1e6
GRID = 2.0 ** -20


def rotation(rng, d):
    """A random orthogonal d x d matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def rows(rng, n, d, scales):
    """n rows whose covariance has roughly the given axis scales, in a random basis."""
    z = rng.standard_normal((n, d)) * np.asarray(scales)[:d]
    return z @ rotation(rng, d) + rng.standard_normal(d)


def on_grid(y):
    return np.round(y / GRID) * GRID


def reference(y, k):
    """Mean, components (sign rule), variances and total variance of y by SVD."""
    n = y.shape[0]
    mean = y.mean(axis=0)
    yc = y - mean
    _, s, vt = np.linalg.svd(yc, full_matrices=False)
    var = s ** 2 / (n - 1)
    comps = vt[:k].copy()
    for row in comps:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return mean, comps, var, yc.var(axis=0, ddof=1).sum()


def check_identifiable(name, comps, var, k):
    """The kept axes must be well defined: separated variances and a clear largest entry."""
    live = [i for i in range(k) if var[i] > 1e-9 * var[0]]
    for i in live:
        nxt = var[i + 1] if i + 1 < len(var) else 0.0
        assert var[i] - nxt > 1e-3 * var[i], f"{name}: variances {i} and {i + 1} too close"
        a = np.sort(np.abs(comps[i]))[::-1]
        assert len(a) == 1 or a[0] - a[1] > 1e-6, f"{name}: component {i} has two largest entries"


def save(name, x, mean, comps, var, total, k):
    check_identifiable(name, comps, var, k)
    arrays = {"x": x, "mean": mean, "components": comps, "variance": var[:k], "total": np.array([total])}
    for suffix, a in arrays.items():
        np.save(os.path.join(HERE, f"{name}-{suffix}.npy"), np.ascontiguousarray(a, dtype=np.float64))


def plain(rng, name, n, d, k, scales):
    x = rows(rng, n, d, scales)
    save(name, x, *reference(x, k), k)


def offset(rng, name, n, d, k, scales):
    y = on_grid(rows(rng, n, d, scales))
    x = OFFSET + y
    assert np.array_equal(x - OFFSET, y), "offset rows not exact"
    mean, comps, var, total = reference(y, k)
    save(name, x, OFFSET + mean, comps, var, total, k)


def main():
    rng = np.random.default_rng(20240611)
    scales = [5.0, 3.0, 2.0, 1.4, 1.0, 0.7, 0.5, 0.35] + [0.3 * 0.9 ** i for i in range(40)]
    plain(rng, "basic", 40, 7, 3, scales)          # n > d, exact primal path
    offset(rng, "offset", 60, 5, 2, scales)        # mean 1e6: Chan merge must not cancel
    plain(rng, "full", 20, 8, 8, scales)           # k = min(n, d) = d
    plain(rng, "wide", 12, 30, 5, scales)          # n < d: Gram of the rows
    offset(rng, "wideoffset", 15, 40, 4, scales)   # n < d with mean 1e6
    plain(rng, "widefull", 10, 25, 10, scales)     # k = min(n, d) = n: last variance is 0


if __name__ == "__main__":
    main()
