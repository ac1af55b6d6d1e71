#!/usr/bin/python3
"""
Reference implementations of two transferability scores, written in plain numpy/scipy from
docs/scores.md (section 6: shrinkage H-score; section 9: SFDA), for the C tests and timings.
They follow the formulas literally (no shortcuts from the C code) so that they are an
independent check: LedoitWolf from its defining sums, pinv by numpy, SFDA with per-class
covariances and scipy's generalised eigh. Run with /usr/bin/python3 (numpy, scipy).

  ref_sfda.py FEATS.npy LABELS.npy     prints both scores and their run times
"""
import sys
import time

import numpy as np
import scipy.linalg


def ledoit_wolf(xc):
    """Ledoit-Wolf shrunk covariance and shrinkage of centred rows xc (sklearn's formulas)."""
    n, d = xc.shape
    s = xc.T @ xc / n                        # biased covariance
    mu = np.trace(s) / d
    x2 = xc * xc
    beta_ = np.sum(x2.T @ x2)
    delta_ = np.sum((xc.T @ xc) ** 2) / n ** 2
    b = (beta_ / n - delta_) / (d * n)
    dd = (delta_ - 2 * mu * np.trace(s) + d * mu ** 2) / d
    b = min(b, dd)
    alpha = 0.0 if b == 0 else b / dd
    return (1 - alpha) * s + alpha * mu * np.eye(d), alpha


def hscore_shrinkage(f, y):
    """Regularised H-score (TLlib regularized_h_score): returns (score, alpha)."""
    f = np.asarray(f, dtype=np.float64)
    fc = f - f.mean(axis=0, keepdims=True)
    sigma, alpha = ledoit_wolf(fc)
    g = np.zeros_like(fc)
    for c in range(int(y.max()) + 1):
        if np.any(y == c):
            g[y == c] = fc[y == c].mean(axis=0)
    cov_g = np.cov(g, rowvar=False)          # unbiased, as the official code has it
    score = np.trace(np.linalg.pinv(sigma, rcond=1e-15) @ ((1 - alpha) * cov_g))
    return float(score), float(alpha)


def _cov_biased(x):
    """Biased covariance of the rows of x. Not np.cov(x, rowvar=False): for a single row that
    returns the scalar variance across the features (it only transposes when rows > 1)."""
    dev = x - x.mean(axis=0)
    return dev.T @ dev / len(x)


def _shrink(cov, lam):
    d = cov.shape[0]
    return (1 - lam) * cov + lam * np.trace(cov) / d * np.eye(d)


def _top_eigenvalue(a):
    """The official 3-step power iteration (SFDA utils.iterative_A)."""
    x = a.sum(axis=1)
    for _ in range(3):
        t = a @ x
        yv = t / np.linalg.norm(t)
        t = a @ yv
        x = t / np.linalg.norm(t)
    return x @ a @ yv


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sfda_fit(x, yi, n_classes, lam):
    """Shrinkage LDA fit + predict_proba on the training rows; returns (prob, lambda)."""
    n, d = x.shape
    priors = np.bincount(yi, minlength=n_classes) / n
    means = np.stack([x[yi == k].mean(axis=0) for k in range(n_classes)])
    sw = np.zeros((d, d))
    for k in range(n_classes):
        sw += priors[k] * _cov_biased(x[yi == k])
    if lam is None:
        lam = max(np.exp(-5 * _top_eigenvalue(sw)), 1e-10)
    st = _shrink(_cov_biased(x), lam)
    sw_s = _shrink(sw, lam)
    evals, evecs = scipy.linalg.eigh(st - sw_s, sw_s)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    return _softmax(x @ coef.T + intercept), lam


def sfda(f, y):
    """SFDA score (TencentARC SFDA_Score) with np.unique classes: returns (score, lambda)."""
    x = np.array(f, dtype=np.float64)        # a copy: ConfMix below overwrites it
    _, yi = np.unique(y, return_inverse=True)
    n, n_classes = len(yi), int(yi.max()) + 1
    prob, lam = sfda_fit(x, yi, n_classes, None)
    prob = np.exp(prob) / np.exp(prob).sum(axis=1, keepdims=True)    # "soften"
    means = np.stack([x[yi == k].mean(axis=0) for k in range(n_classes)])
    outer = (means.sum(axis=0, keepdims=True) - means) / (n_classes - 1)
    for k in range(n_classes):
        q = prob[yi == k, k][:, None]
        x[yi == k] = q * x[yi == k] + (1 - q) * outer[k]
    prob, _ = sfda_fit(x, yi, n_classes, lam)
    return float(np.mean(prob[np.arange(n), yi])), float(lam)


def sklearn_alpha(f):
    """sklearn's LedoitWolf shrinkage on the centred features, or None without sklearn."""
    try:
        from sklearn.covariance import LedoitWolf
    except ImportError:
        return None
    f = np.asarray(f, dtype=np.float64)
    return float(LedoitWolf().fit(f - f.mean(axis=0)).shrinkage_)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: ref_sfda.py FEATS.npy LABELS.npy")
    f32, y = np.load(argv[1]), np.load(argv[2])
    for name, fn in (("hscore_shrinkage", hscore_shrinkage), ("sfda", sfda)):
        t0 = time.perf_counter()
        value, extra = fn(f32.astype(np.float64), y)
        print(f"{name}\t{value!r}\t{time.perf_counter() - t0:.3f}s\t({extra!r})")


if __name__ == "__main__":
    main(sys.argv)
