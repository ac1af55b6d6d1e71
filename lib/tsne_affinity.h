/*
 * tsne_affinity: t-SNE's input affinities (docs: tsne.md section 1). Each point's conditional
 * Gaussian over its k nearest neighbours is calibrated by bisection on its precision so that
 * its entropy is ln(perplexity); the conditionals are then symmetrised into a sparse joint P
 * that sums to 1.
 */
#ifndef XF_TSNE_AFFINITY_H
#define XF_TSNE_AFFINITY_H

#include <stdint.h>

#include "csr.h"
#include "err.h"

#define XF_TSNE_ENTROPY_TOL 1e-5   /* |H - ln perplexity| in nats, as FIt-SNE and bhtsne */
#define XF_TSNE_BISECT_STEPS 200

/*
 * One point: squared distances d2[0..k) to its neighbours (any order) into probabilities
 * w[0..k) summing to 1 whose entropy (nats) is within tol of ln(perplexity), or the closest
 * the bisection reached in max_steps. Distances are shifted by their minimum before
 * exponentiating, which leaves w unchanged and keeps large precisions from underflowing.
 * Returns the precision beta of exp(-beta d2); *entropy receives the entropy reached.
 */
double xf_tsne_calibrate(const double *d2, int64_t k, double perplexity, double tol, int max_steps, double *w,
			 double *entropy);

/*
 * P from the k nearest neighbours of each of n points: idx[i * k + j] (never i itself) at
 * squared distance dist2[i * k + j]. p_ij = (p_j|i + p_i|j) / sum, over the union of both
 * directions, rows sorted by column, built deterministically for any thread count.
 * *worst receives the largest |H - ln perplexity| over the points (NULL: not wanted).
 */
int xf_tsne_affinities(const int64_t *idx, const double *dist2, int64_t n, int64_t k, double perplexity,
		       int threads, struct xf_csr *p, double *worst, struct xf_err *err);

#endif
