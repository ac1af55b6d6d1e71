#!/usr/bin/python3
"""
Independent reference, written from docs/scores.md section 12, for lib/score_osborn.c (OSBORN,
lower is better) and lib/assign.c (the assignment problem behind its W_D):
  W_D(s)   = (1/m) min_pi sum ||a_i - b_pi(i)||^2, first m = min(300, source rows, target rows)
             rows of each side, by scipy.optimize.linear_sum_assignment on scipy's cdist;
  W_T(s)   = H(Z_s | Y), Z_s = first argmax of p, dense joint counts, natural log;
  W_C(i,j) = H(Z_i | Z_j) + H(Z_j | Z_i);
  OSBORN(S) and the greedy choice (smallest score, lowest index on ties).
Also the LCG that tests/unit/test-assign.c shares, so its large matrices need no fixture.
Plain numpy/scipy in double precision; run with /usr/bin/python3 (Debian numpy, scipy).
"""
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

SAMPLE = 300
UNIT = (1.0, 1.0, 1.0)


def domain(source_f, target_f, sample=SAMPLE):
    """(W_D, m): exact optimal transport between equal uniform samples is an assignment."""
    m = min(sample, len(source_f), len(target_f))
    cost = cdist(np.asarray(source_f[:m], np.float64), np.asarray(target_f[:m], np.float64), "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum() / m), m


def cond_entropy(a, b):
    """H(A|B) from the dense joint of counts; 0 log 0 = 0."""
    n = len(a)
    joint = np.zeros((int(a.max()) + 1, int(b.max()) + 1))
    np.add.at(joint, (a, b), 1.0)
    nb = joint.sum(axis=0)
    h = 0.0
    for col in np.nonzero(nb > 0)[0]:
        q = joint[:, col] / nb[col]
        q = q[q > 0]
        h -= nb[col] / n * np.sum(q * np.log(q))
    return float(h)


def hard(p):
    return np.argmax(np.asarray(p, np.float64), axis=1)


def terms(models, y):
    """models: list of (target_f, source_f, p). Returns dict of domain, rows, task, cohesion."""
    z = [hard(p) for _, _, p in models]
    dom = [domain(s, t) for t, s, _ in models]
    k = len(models)
    coh = np.zeros((k, k))
    for i in range(k):
        for j in range(i):
            coh[i, j] = coh[j, i] = cond_entropy(z[i], z[j]) + cond_entropy(z[j], z[i])
    return {"domain": [d for d, _ in dom], "rows": [m for _, m in dom],
            "task": [cond_entropy(zz, y) for zz in z], "cohesion": coh.tolist()}


def score(t, chosen, w=UNIT):
    """Unary terms in the order given, then the pairs: the C code's order of additions."""
    unary = 0.0
    for s in chosen:
        unary += w[0] * t["domain"][s] + w[1] * t["task"][s]
    pairs = 0.0
    for a in range(len(chosen)):
        for b in range(a + 1, len(chosen)):
            pairs += t["cohesion"][chosen[a]][chosen[b]]
    return unary + w[2] * pairs


def greedy(t, k, w=UNIT):
    chosen, best = [], None
    for _ in range(k):
        cands = [(score(t, chosen + [j], w), j) for j in range(len(t["task"])) if j not in chosen]
        best, pick = min(cands)          # ties: the lowest index
        chosen.append(pick)
    return chosen, best


# ---- the assignment tests' matrices ----

MASK = (1 << 64) - 1


def lcg_matrix(seed, m, kind):
    """m x m costs from x <- 6364136223846793005 x + 1442695040888963407 (mod 2^64), u = (x >> 11) / 2^53."""
    x, out = seed, np.empty(m * m)
    for k in range(m * m):
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK
        out[k] = (x >> 11) * 2.0 ** -53
    if kind == "integer":
        out = np.floor(out * 50)
    elif kind == "binary":
        out = np.floor(out * 2)
    elif kind == "signed":
        out = (out - 0.5) * 1e6
    return out.reshape(m, m)


def assign_total(cost):
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum())
