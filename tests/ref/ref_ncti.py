#!/usr/bin/python3
"""
Reference implementation of NCTI (docs/scores.md section 10), written in plain numpy/scipy
from the official code (BUserName/NCTI metrics.py NCTI_Score and the min-max combination of
evaluate_metric_group1_cpu.py) and from scikit-learn 1.2.1, which is not needed: PCA (full
solver, svd_flip) and LinearDiscriminantAnalysis (_solve_svd, _solve_eigen, _cov,
shrunk_covariance, transform, decision_function, predict_proba) are re-written here literally,
with no shortcut taken from the C code. Run with /usr/bin/python3 (numpy, scipy).

Deliberate differences from the official code, as in the C library:
  - PCA is exact (np.linalg.svd) with k = min(64, N, D) components; the official PCA(64) is
    randomized for large inputs and fails when min(N, D) < 64.
  - Classes are the labels present (np.unique); probability columns and the per-class loop
    follow that order. The official code indexes the columns by the raw label and loops over
    range(number of classes), which breaks (or silently mixes classes) when a label is unused.

  ref_ncti.py FEATS.npy LABELS.npy     prints the three parts, the solver and the run time
"""
import sys
import time

import numpy as np
import scipy.linalg
import scipy.special

PCA_COMPONENTS = 64
TEMP_COMPONENTS = 32
TEMP_FLOOR = 1e-10
SVD_TOL = 1e-4                     # LinearDiscriminantAnalysis(tol=1e-4)


def pca(x, k):
    """sklearn PCA(k, svd_solver='full').fit_transform: Z = U S, explained variances (ddof 1)."""
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    cols = np.argmax(np.abs(u), axis=0)                  # svd_flip, u-based
    signs = np.sign(u[cols, range(u.shape[1])])
    u *= signs
    vt *= signs[:, None]
    ev = s ** 2 / (n - 1)
    return u[:, :k] * s[:k], ev[:k]


def shrunk_covariance(emp_cov, shrinkage):
    k = emp_cov.shape[0]
    mu = np.trace(emp_cov) / k
    out = (1.0 - shrinkage) * emp_cov
    out.flat[:: k + 1] += shrinkage * mu
    return out


def _cov(x, shrinkage):
    emp = np.atleast_2d(np.cov(x.T, bias=1))             # empirical_covariance
    return shrunk_covariance(emp, shrinkage)


def _class_means(x, y):
    classes, yi = np.unique(y, return_inverse=True)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, yi, x)
    return means / np.bincount(yi)[:, None]


class LDA:
    """LinearDiscriminantAnalysis(solver='svd') or (solver='eigen', shrinkage=s), sklearn 1.2.1."""

    def __init__(self, shrinkage=None):
        self.shrinkage = shrinkage
        self.solver = "svd" if shrinkage is None else "eigen"

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        n, k = x.shape
        if n == len(self.classes_):
            raise ValueError("The number of samples must be more than the number of classes.")
        _, yt = np.unique(y, return_inverse=True)
        self.priors_ = np.bincount(yt) / float(len(y))
        self._max_components = min(len(self.classes_) - 1, k)
        if self.solver == "svd":
            self._solve_svd(x, y)
        else:
            self._solve_eigen(x, y)
        if len(self.classes_) == 2:
            self.coef_ = np.array(self.coef_[1, :] - self.coef_[0, :], ndmin=2)
            self.intercept_ = np.array(self.intercept_[1] - self.intercept_[0], ndmin=1)
        return self

    def _solve_eigen(self, x, y):
        s = self.shrinkage
        self.means_ = _class_means(x, y)
        sw = np.zeros((x.shape[1], x.shape[1]))
        for idx, group in enumerate(self.classes_):
            sw += self.priors_[idx] * _cov(x[y == group, :], s)
        st = _cov(x, s)
        evals, evecs = scipy.linalg.eigh(st - sw, sw)
        evecs = evecs[:, np.argsort(evals)[::-1]]
        self.scalings_ = evecs
        self.coef_ = self.means_ @ evecs @ evecs.T
        self.intercept_ = -0.5 * np.diag(self.means_ @ self.coef_.T) + np.log(self.priors_)

    def _solve_svd(self, x, y):
        n, _ = x.shape
        n_classes = len(self.classes_)
        self.means_ = _class_means(x, y)
        xc = np.concatenate([x[y == g] - self.means_[i] for i, g in enumerate(self.classes_)])
        self.xbar_ = self.priors_ @ self.means_
        std = xc.std(axis=0)
        std[std == 0] = 1.0
        fac = 1.0 / (n - n_classes)
        _, s, vt = scipy.linalg.svd(np.sqrt(fac) * (xc / std), full_matrices=False)
        rank = np.sum(s > SVD_TOL)
        if rank == 0:
            raise ValueError("within-class scatter is zero")
        scalings = (vt[:rank] / std).T / s[:rank]
        fac = 1.0 / (n_classes - 1)
        xb = ((np.sqrt((n * self.priors_) * fac)) * (self.means_ - self.xbar_).T).T @ scalings
        _, s, vt = scipy.linalg.svd(xb, full_matrices=False)
        rank = np.sum(s > SVD_TOL * s[0])
        self.scalings_ = scalings @ vt.T[:, :rank]
        coef = (self.means_ - self.xbar_) @ self.scalings_
        self.intercept_ = -0.5 * np.sum(coef ** 2, axis=1) + np.log(self.priors_)
        self.coef_ = coef @ self.scalings_.T
        self.intercept_ -= self.xbar_ @ self.coef_.T

    def transform(self, x):
        out = (x - self.xbar_) @ self.scalings_ if self.solver == "svd" else x @ self.scalings_
        return out[:, : self._max_components]

    def predict_proba(self, x):
        decision = x @ self.coef_.T + self.intercept_
        if len(self.classes_) == 2:
            p = scipy.special.expit(decision.reshape(-1))
            return np.vstack([1 - p, p]).T
        decision = decision - decision.max(axis=1, keepdims=True)     # sklearn softmax
        e = np.exp(decision)
        return e / e.sum(axis=1, keepdims=True)


def nuclear_norm(a):
    return float(np.linalg.svd(a, compute_uv=False).sum()) if a.size else 0.0


def ncti_parts(f, y):
    """(seli, ncc, vc) of one model, plus the solver and shrinkage used."""
    x = np.asarray(f, dtype=np.float64)
    n, d = x.shape
    classes, yi = np.unique(y, return_inverse=True)
    z, ev = pca(x, min(PCA_COMPONENTS, n, d))
    temp = max(np.exp(-ev[:TEMP_COMPONENTS].sum()), TEMP_FLOOR)
    lda = LDA(None if temp == TEMP_FLOOR else float(temp)).fit(z, y)
    low = lda.transform(z)
    low = low - low.mean(axis=0, keepdims=True)
    seli = nuclear_norm(low)
    pp = lda.predict_proba(z)
    ncc = float(np.sum(pp[np.arange(n), yi]) / n)
    vc = float(np.log(sum(nuclear_norm(pp[yi == c]) for c in range(len(classes)))))
    return (seli, ncc, vc), lda.solver, float(temp)


def combine(parts):
    """Min-max normalise each part across the models: mm(ncc) + mm(seli) - mm(vc), as the
    official loop adds them; a part equal across all models contributes 0 (officially NaN)."""
    a = np.asarray(parts, dtype=np.float64).reshape(-1, 3)

    def mm(v):
        span = v.max() - v.min()
        return (v - v.min()) / span if span != 0 else np.zeros_like(v)
    return mm(a[:, 1]) + mm(a[:, 0]) - mm(a[:, 2])


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: ref_ncti.py FEATS.npy LABELS.npy")
    f32, y = np.load(argv[1]), np.load(argv[2])
    t0 = time.perf_counter()
    (seli, ncc, vc), solver, temp = ncti_parts(f32.astype(np.float64), y)
    print(f"seli\t{seli!r}\nncc\t{ncc!r}\nvc\t{vc!r}\nsolver\t{solver} (shrinkage {temp!r})\n"
          f"time\t{time.perf_counter() - t0:.3f}s")


if __name__ == "__main__":
    main(sys.argv)
