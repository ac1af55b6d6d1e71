#!/usr/bin/python3
"""
Reference implementation, written from docs/scores.md section 3, of lib/score_nleep.c: the
deterministic N-LEEP `nleep_det` (PCA to > 80% of the variance by an exact SVD, K = 5C full
Gaussians from a farthest-point initialisation, sklearn's EM, LEEP on the posteriors).
Plain numpy/scipy, double precision; run with /usr/bin/python3. If sklearn is importable,
`check_sklearn` fits sklearn's GaussianMixture from the same initial parameters and compares.
"""
import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.special import logsumexp

import ref_prob

REG_COVAR, TOL, MAX_ITER = 1e-6, 1e-3, 100


def pca(x):
    """Scores on the top-k right singular vectors; k by sklearn's searchsorted rule."""
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    ratio = s ** 2 / np.sum(s ** 2)
    k = int(np.searchsorted(np.cumsum(ratio), 0.8, side="right")) + 1
    k = min(k, len(s))
    return xc @ vt[:k].T, k


def farthest_init(x, m):
    """Centre indices (nearest to the mean first, then farthest from the chosen) and labels."""
    d0 = np.sum((x - x.mean(axis=0)) ** 2, axis=1)
    centres = [int(np.argmin(d0))]
    mind = np.sum((x - x[centres[0]]) ** 2, axis=1)
    for _ in range(1, m):
        centres.append(int(np.argmax(mind)))
        mind = np.minimum(mind, np.sum((x - x[centres[-1]]) ** 2, axis=1))
    dist = np.stack([np.sum((x - x[c]) ** 2, axis=1) for c in centres], axis=1)
    return centres, np.argmin(dist, axis=1)


def m_step(x, resp):
    """sklearn's _estimate_gaussian_parameters (full) and precisions_cholesky."""
    n, k = x.shape
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ x / nk[:, None]
    prec_chol = []
    for j in range(resp.shape[1]):
        diff = x - means[j]
        cov = (resp[:, j] * diff.T) @ diff / nk[j]
        cov.flat[:: k + 1] += REG_COVAR
        try:
            chol = cholesky(cov, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError(f"component {j}: covariance not positive definite")
        prec_chol.append(solve_triangular(chol, np.eye(k), lower=True).T)
    return nk / n, means, np.array(prec_chol)


def e_step(x, w, means, prec_chol):
    """(mean log-sum-exp, responsibilities) as sklearn's _e_step computes them."""
    n, k = x.shape
    logp = np.empty((n, len(w)))
    for j in range(len(w)):
        y = x @ prec_chol[j] - means[j] @ prec_chol[j]
        log_det = np.sum(np.log(np.diag(prec_chol[j])))
        logp[:, j] = -0.5 * (k * np.log(2 * np.pi) + np.sum(y ** 2, axis=1)) + log_det + np.log(w[j])
    lse = logsumexp(logp, axis=1)
    return float(np.mean(lse)), np.exp(logp - lse[:, None])


def gmm_posteriors(x, m):
    """Returns (posteriors, iterations, init centre indices)."""
    centres, labels = farthest_init(x, m)
    resp = np.eye(m)[labels]
    params = m_step(x, resp)
    lower = -np.inf
    for it in range(1, MAX_ITER + 1):
        prev = lower
        lower, resp = e_step(x, *params)
        params = m_step(x, resp)
        if abs(lower - prev) < TOL:
            break
    return e_step(x, *params)[1], it, centres


def nleep(x, y):
    """Deterministic N-LEEP; also returns (k, K, iterations, init centres)."""
    z, k = pca(np.asarray(x, dtype=np.float64))
    m = 5 * (int(y.max()) + 1)
    post, it, centres = gmm_posteriors(z, m)
    return ref_prob.leep(post, y), (k, m, it, centres)


def check_sklearn(x, y):
    """Max |posterior difference| against sklearn from the same initial parameters, or None."""
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        return None
    z, _ = pca(np.asarray(x, dtype=np.float64))
    m = 5 * (int(y.max()) + 1)
    _, labels = farthest_init(z, m)
    w, means, prec_chol = m_step(z, np.eye(m)[labels])
    precisions = np.array([p @ p.T for p in prec_chol])
    gm = GaussianMixture(m, covariance_type="full", reg_covar=REG_COVAR, tol=TOL, max_iter=MAX_ITER,
                         weights_init=w / w.sum(), means_init=means, precisions_init=precisions)
    gm.fit(z)
    return float(np.max(np.abs(gm.predict_proba(z) - gmm_posteriors(z, m)[0])))
