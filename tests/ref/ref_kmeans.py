"""scikit-learn references for lib/kmeans.c (run with /usr/bin/python3; sklearn 1.2).

  ref_kmeans.py fixtures [DIR]        write the unit-test fixtures (default tests/data/kmeans)
  ref_kmeans.py prepare SET K OUT [NPY]
                                      data SET as OUT.x.f32 (raw float32 rows): "mnist" (the
                                      uint8 digits in NPY, / 255) or "blobs" (make_blobs, 100000
                                      x 64, 50 centres); k-means++ centres from sklearn
                                      (random_state=0) as OUT.initK.f32; prints "N D"
  ref_kmeans.py sklearn OUT K TOL MAX_ITER REPEAT [BATCH]
                                      time sklearn KMeans (lloyd, n_init=1) or, with BATCH,
                                      MiniBatchKMeans (its own stopping defaults; TOL unused)
                                      on OUT.x.f32 from OUT.initK.f32; the best of REPEAT fits;
                                      prints "seconds inertia n_iter", the inertia recomputed
                                      in float64; labels to OUT.sk.labels.npy
  ref_kmeans.py compare OUT K LABELS CENTRES
                                      inertia (float64) of xfer's labels and centres, and the
                                      fraction of labels equal to sklearn's

Fixtures: for each case, CASE-x.npy (float32 rows), CASE-init.npy (float32 initial centres),
CASE-labels.npy (int64), CASE-centres.npy (float64) and CASE-info.npy (float64: inertia,
n_iter, tol, max_iter), from KMeans(init=centres, n_init=1, algorithm="lloyd") run on the
float32 data converted to float64.
"""
import os
import sys
import time

import numpy as np


def _kmeans(x, init, tol, max_iter):
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=len(init), init=init, n_init=1, algorithm="lloyd", tol=tol, max_iter=max_iter)
    km.fit(x)
    return km


def _inertia(x, labels, centres):
    x = np.asarray(x, np.float64)
    c = np.asarray(centres, np.float64)
    return float(((x - c[labels]) ** 2).sum())


def fixtures(out):
    from sklearn.cluster import kmeans_plusplus
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240611)
    cases = {}
    # separated-ish Gaussian blobs: few iterations
    centres = rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 6, 400)
    cases["blobs"] = (centres[y] + rng.standard_normal((400, 5)), 6, 1e-4, 300)
    # one Gaussian cut into 10: many iterations, most rows skipped by the bounds late on
    cases["gauss"] = (rng.standard_normal((600, 8)) * np.linspace(2, 0.5, 8), 10, 1e-4, 300)
    # the same stopped after 3 iterations: the final assignment after max_iter
    cases["gauss3"] = (cases["gauss"][0], 10, 1e-4, 3)
    # strict convergence only (tol = 0)
    cases["strict"] = (rng.standard_normal((300, 3)) * np.array([3, 1, 0.3]), 7, 0.0, 300)
    for name, (x, k, tol, max_iter) in cases.items():
        x32 = x.astype(np.float32)
        x64 = x32.astype(np.float64)
        init, _ = kmeans_plusplus(x64, k, random_state=0)
        init32 = init.astype(np.float32)
        km = _kmeans(x64, init32.astype(np.float64), tol, max_iter)
        np.save(f"{out}/{name}-x.npy", x32)
        np.save(f"{out}/{name}-init.npy", init32)
        np.save(f"{out}/{name}-labels.npy", km.labels_.astype(np.int64))
        np.save(f"{out}/{name}-centres.npy", km.cluster_centers_.astype(np.float64))
        info = np.array([_inertia(x64, km.labels_, km.cluster_centers_), km.n_iter_, tol, max_iter], np.float64)
        np.save(f"{out}/{name}-info.npy", info)
        print(f"{name}: n={len(x)} k={k} n_iter={km.n_iter_} inertia={info[0]:.9g}")


def prepare(kind, k, out, npy=None):
    from sklearn.cluster import kmeans_plusplus
    if kind == "mnist":
        x = np.load(npy).reshape(-1, 784).astype(np.float32) / np.float32(255)
    elif kind == "blobs":
        from sklearn.datasets import make_blobs
        x, _ = make_blobs(n_samples=100000, n_features=64, centers=50, cluster_std=3.0,
                          center_box=(-10, 10), random_state=0)
        x = x.astype(np.float32)
    else:
        raise SystemExit(f"unknown data set {kind}")
    x = np.ascontiguousarray(x, np.float32)
    init, _ = kmeans_plusplus(x, k, random_state=0)
    x.tofile(out + ".x.f32")
    init.astype(np.float32).tofile(out + f".init{k}.f32")
    print(x.shape[0], x.shape[1])


def _load(out, k):
    x = np.fromfile(out + ".x.f32", np.float32)
    init = np.fromfile(out + f".init{k}.f32", np.float32)
    d = init.size // k
    return x.reshape(-1, d), init.reshape(k, d)


def sklearn_time(out, k, tol, max_iter, repeat, batch=0):
    from sklearn.cluster import KMeans, MiniBatchKMeans
    x, init = _load(out, k)
    best = None
    for _ in range(repeat):
        if batch:
            km = MiniBatchKMeans(n_clusters=k, init=init, n_init=1, batch_size=batch, max_iter=max_iter,
                                 random_state=0)
        else:
            km = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", tol=tol, max_iter=max_iter)
        t = time.perf_counter()
        km.fit(x)
        t = time.perf_counter() - t
        best = t if best is None or t < best else best
    np.save(out + ".sk.labels.npy", km.labels_.astype(np.int64))
    print(f"{best:.4f} {_inertia(x, km.labels_, km.cluster_centers_):.15g} {km.n_iter_}")


def compare(out, k, labels, centres):
    x, init = _load(out, k)
    lab = np.fromfile(labels, np.int64)
    c = np.fromfile(centres, np.float32).reshape(init.shape)
    sk = np.load(out + ".sk.labels.npy")
    print(f"{_inertia(x, lab, c):.15g} {(lab == sk).mean():.6f}")


def main(argv):
    if len(argv) >= 1 and argv[0] == "fixtures":
        fixtures(argv[1] if len(argv) > 1 else "tests/data/kmeans")
    elif len(argv) >= 4 and argv[0] == "prepare":
        prepare(argv[1], int(argv[2]), argv[3], argv[4] if len(argv) > 4 else None)
    elif len(argv) >= 6 and argv[0] == "sklearn":
        sklearn_time(argv[1], int(argv[2]), float(argv[3]), int(argv[4]), int(argv[5]),
                     int(argv[6]) if len(argv) > 6 else 0)
    elif len(argv) == 5 and argv[0] == "compare":
        compare(argv[1], int(argv[2]), argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
