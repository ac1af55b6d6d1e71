"""Synthetic data shared by the fixture generators under tests/data/scores."""
import numpy as np


def blobs(rng, counts, d, spread, noise):
    """Gaussian classes around random centres, rows shuffled; label values with count 0 stay unused."""
    centres = rng.standard_normal((len(counts), d)) * spread
    y = np.repeat(np.arange(len(counts)), counts)
    x = centres[y] + rng.standard_normal((len(y), d)) * noise
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32), y[perm].astype(np.int64)
