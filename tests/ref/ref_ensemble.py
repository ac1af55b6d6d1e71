"""Independent numpy references for the ensemble metrics (docs/metrics.md): MS-LEEP (log of
the mean over models of each row's LEEP expected empirical prediction) and E-LEEP (LEEP of the
product model over tuples of labels), and greedy selection (run with /usr/bin/python3)."""
import itertools
import numpy as np


def eep(p, y):
    p = np.asarray(p, np.float64)
    c = int(y.max()) + 1
    joint = np.zeros((c, p.shape[1]))
    np.add.at(joint, y, p)
    pz = joint.sum(0)
    q = np.divide(joint, pz, out=np.zeros_like(joint), where=pz > 0)
    return (q[y] * p).sum(1)


def ms_leep(ps, y):
    return float(np.mean(np.log(np.mean([eep(p, y) for p in ps], axis=0))))


def e_leep(ps, y):
    n = len(y)
    prod = np.ones((n, 1))
    for p in ps:      # tuples in row-major order: the last model varies fastest
        prod = (prod[:, :, None] * np.asarray(p, np.float64)[:, None, :]).reshape(n, -1)
    return float(np.mean(np.log(eep(prod, y))))


def greedy(metric, ps, y, k):
    chosen = []
    best = None
    for _ in range(k):
        scores = [(metric([ps[j] for j in chosen + [j]], y), j) for j in range(len(ps)) if j not in chosen]
        best, pick = max(scores, key=lambda t: (t[0], -t[1]))
        chosen.append(pick)
    return chosen, best
