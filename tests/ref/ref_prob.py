#!/usr/bin/python3
"""
Reference implementations, written from docs/scores.md, of the metrics in lib/score_prob.c,
lib/score_gbc.c and lib/score_tmi.c: LEEP (section 1), NCE (2), GBC diagonal and the
official spherical form (7), TMI (8), accuracy and the negative log-likelihood.
Plain numpy/scipy, double precision throughout; run with /usr/bin/python3 (Debian numpy,
scipy). Inputs: x (N x D features), y (N int labels, C = max(y) + 1), p (N x Cs probabilities).
"""
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def leep(p, y):
    """LEEP; a column with pz = 0 gets Q[:, z] = 0 (scores.md section 1 pitfall)."""
    p = np.asarray(p, dtype=np.float64)
    n, c = len(y), int(y.max()) + 1
    joint = np.stack([p[y == i].sum(axis=0) / n for i in range(c)])
    pz = joint.sum(axis=0)
    q = np.divide(joint, pz, out=np.zeros_like(joint), where=pz > 0)
    eep = np.sum(q[y] * p, axis=1)
    return float(np.mean(np.log(eep)))


def nce(p, y):
    """NCE = -H(Y|Z) with Z the first argmax of p; 0 log 0 = 0."""
    z = np.argmax(p, axis=1)
    n, c = len(y), int(y.max()) + 1
    joint = np.zeros((c, p.shape[1]))
    np.add.at(joint, (y, z), 1.0 / n)
    pz = joint.sum(axis=0)
    h = 0.0
    for zz in np.nonzero(pz > 0)[0]:
        q = joint[:, zz] / pz[zz]
        q = q[q > 0]
        h -= pz[zz] * np.sum(q * np.log(q))
    return float(-h)


def accuracy(p, y):
    return float(np.mean(np.argmax(p, axis=1) == y))


def nll(p, y):
    """sklearn.metrics.log_loss on float64 input: clip to [eps, 1 - eps], renormalise rows."""
    eps = np.finfo(np.float64).eps
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _bhattacharyya(mu1, mu2, s1, s2):
    """The official formula; with scalar s1, s2 the log terms are taken once (no factor D)."""
    avg = (s1 + s2) / 2
    first = np.sum((mu1 - mu2) ** 2 / avg) / 8
    second = np.sum(np.log(avg)) - 0.5 * np.sum(np.log(s1)) - 0.5 * np.sum(np.log(s2))
    return first + 0.5 * second


def gbc(x, y, gaussian="diagonal"):
    """GBC over the labels present (empty label values are skipped), ordered pairs."""
    x = np.asarray(x, dtype=np.float64)
    stats = {}
    for c in np.unique(y):
        xc = x[y == c]
        var = np.maximum(np.var(xc, axis=0), 1e-4)
        stats[c] = (xc.mean(axis=0), var.mean() if gaussian == "spherical" else var)
    total = 0.0
    for c1 in stats:
        for c2 in stats:
            if c1 != c2:
                total += np.exp(-_bhattacharyya(stats[c1][0], stats[c2][0], stats[c1][1], stats[c2][1]))
    return float(-total)


def _class_entropy(xc, k, min_dist):
    """Kozachenko-Leonenko entropy in the max-norm, as the official get_h with norm='max'."""
    n, d = xc.shape
    dist, _ = cKDTree(xc).query(xc, k + 1, p=np.inf)
    eps = np.maximum(dist[:, -1], min_dist)
    return -digamma(k) + digamma(n) + (d / n) * np.sum(np.log(2 * eps))


def tmi(x, y, k=3, min_dist=1.0):
    """TMI: mean over kept classes of p_c H_c; 0/1-sample classes count as 0, 2..k-sample ones drop."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    c = int(y.max()) + 1
    # with 2..k samples the tree pads the neighbours with inf distances, so H_c = inf
    h = np.array([_class_entropy(x[y == i], k, min_dist) if np.sum(y == i) > 1 else 0.0 for i in range(c)])
    pc = np.array([np.sum(y == i) / len(y) for i in range(c)])
    keep = np.isfinite(h)
    return float(np.mean(h[keep] * pc[keep]))


ALL = {
    "leep": lambda x, y, p: leep(p, y),
    "nce": lambda x, y, p: nce(p, y),
    "accuracy": lambda x, y, p: accuracy(p, y),
    "nll": lambda x, y, p: nll(p, y),
    "gbc": lambda x, y, p: gbc(x, y, "diagonal"),
    "gbc_spherical": lambda x, y, p: gbc(x, y, "spherical"),
    "tmi": lambda x, y, p: tmi(x, y),
}
