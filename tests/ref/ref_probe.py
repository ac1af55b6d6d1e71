#!/usr/bin/python3
"""
Reference implementations, written from the contract in lib/score_probe.c (docs/train.md
section 6), of the task-similarity metrics knn (leave-one-out 5-nearest-neighbour accuracy)
and linprobe (5-fold cross-validated accuracy of a ridge probe on one-hot labels).
Plain numpy, double precision throughout; run with /usr/bin/python3 (Debian numpy).
Inputs: x (N x D features), y (N int labels, C = max(y) + 1).

Both are built differently from the C code on purpose: knn measures distances from
differences (not ||a||^2 + ||b||^2 - 2 a.b) and fully sorts them; linprobe centres each
training set directly and solves with LU, in the primal or the dual exactly as specified.
"""
import numpy as np


def knn(x, y, k=5):
    """Each row predicted by the majority label of its k nearest other rows (Euclidean;
    equal distances: lower index first); a label tie goes to the tied label met first,
    nearest first."""
    x = np.asarray(x, dtype=np.float64)
    n = len(y)
    correct = 0
    for i in range(n):
        d2 = np.sum((x - x[i]) ** 2, axis=1)
        d2[i] = np.inf
        nearest = np.lexsort((np.arange(n), d2))[:k]   # by distance, then by index
        labels = [int(y[j]) for j in nearest]
        best = max(labels.count(label) for label in labels)
        predicted = next(label for label in labels if labels.count(label) == best)
        correct += predicted == y[i]
    return correct / n


def linprobe(x, y, folds=5, ridge=1e-3):
    """Row i in fold i % folds; per fold, ridge regression of the centred one-hot labels on
    the centred training rows with lambda = ridge * tr(Xc^T Xc) / d, primal when d <= n_train,
    dual otherwise; held-out rows predicted by the first argmax."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    onehot = np.eye(int(y.max()) + 1)[y]
    fold = np.arange(n) % folds
    correct = 0
    for f in range(folds):
        train, test = fold != f, fold == f
        mu, ybar = x[train].mean(axis=0), onehot[train].mean(axis=0)
        xc, yc = x[train] - mu, onehot[train] - ybar
        trace = np.sum(xc * xc)
        if trace == 0:
            w = np.zeros((d, onehot.shape[1]))
        elif d <= train.sum():
            w = np.linalg.solve(xc.T @ xc + ridge * trace / d * np.eye(d), xc.T @ yc)
        else:
            w = xc.T @ np.linalg.solve(xc @ xc.T + ridge * trace / d * np.eye(len(xc)), yc)
        predicted = np.argmax((x[test] - mu) @ w + ybar, axis=1)
        correct += np.sum(predicted == y[test])
    return correct / n
