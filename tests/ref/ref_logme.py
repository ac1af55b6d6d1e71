"""Independent numpy references for LogME (official fixed point, and exact) and H-score,
written from docs/scores.md sections 4 and 5 (run with /usr/bin/python3)."""
import numpy as np


def _basis(f, y, c):
    n, d = f.shape
    t = np.eye(c)[y]                                    # n x c one-vs-rest targets
    if n > d:
        w, v = np.linalg.eigh(f.T @ f)
        thr = max(n, d) * np.finfo(float).eps * w.max()
        keep = w > thr
        x = np.zeros((d, c))
        x[keep] = (v[:, keep].T @ (f.T @ t)) / np.sqrt(w[keep])[:, None]
        sigma = np.where(keep, w, 0.0)
    else:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        x = u.T @ t
        sigma = s ** 2
    r0 = (t ** 2).sum(0) - (x ** 2).sum(0)
    return sigma, x, r0


def _moments(sigma, x, r0, tau):
    with np.errstate(over="ignore"):
        return _moments_raw(sigma, x, r0, tau)


def _moments_raw(sigma, x, r0, tau):
    gamma = (sigma / (sigma + tau)).sum()
    m2 = (sigma * x ** 2 / (tau + sigma) ** 2).sum()
    res2 = (x ** 2 / (1 + sigma / tau) ** 2).sum() + r0
    return gamma, m2, res2


def logme(f, y):
    f = np.asarray(f, np.float64)
    n, d = f.shape
    c = int(y.max()) + 1
    sigma, x, r0 = _basis(f, y, c)
    out = []
    for j in range(c):
        alpha = beta = 1.0
        for _ in range(11):
            tau = alpha / beta
            gamma, m2, res2 = _moments(sigma, x[:, j], r0[j], tau)
            alpha, beta = gamma / (m2 + 1e-5), (n - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - tau) / tau <= 1e-3:
                break
        ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * np.log(alpha + beta * sigma).sum()
              - beta / 2 * res2 - alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))
        out.append(ev / n)
    return float(np.mean(out))


def logme_exact(f, y):
    f = np.asarray(f, np.float64)
    n, d = f.shape
    c = int(y.max()) + 1
    sigma, x, r0 = _basis(f, y, c)
    k = len(sigma)
    out = []
    for j in range(c):
        alpha = beta = 1.0
        for _ in range(10000):
            tau = alpha / beta
            gamma, m2, res2 = _moments(sigma, x[:, j], r0[j], tau)
            with np.errstate(all="ignore"):
                na, nb = gamma / m2, (n - gamma) / res2
                ratio = na / nb
            # an optimum at infinity: stop where the next update is no longer finite
            if not (np.isfinite(na) and np.isfinite(nb) and na > 0 and nb > 0 and np.isfinite(ratio)):
                break
            alpha, beta = na, nb
            if abs(alpha / beta - tau) / tau <= 1e-12:
                break
        gamma, m2, res2 = _moments(sigma, x[:, j], r0[j], alpha / beta)
        logdet = np.log(alpha + beta * sigma).sum() + (d - k) * np.log(alpha)
        ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - logdet / 2 - beta / 2 * res2 - alpha / 2 * m2
              - n / 2 * np.log(2 * np.pi))
        out.append(ev / n)
    return float(np.mean(out))


def hscore(f, y):
    f = np.asarray(f, np.float64)
    covf = np.cov(f, rowvar=False)
    g = np.zeros_like(f)
    for c in np.unique(y):
        g[y == c] = f[y == c].mean(0)
    covg = np.cov(g, rowvar=False)
    return float(np.trace(np.linalg.pinv(covf, rcond=1e-15) @ covg))
