/*
 * pca: principal component analysis of row-major doubles, exact or randomized. The methods
 * follow docs tsne.md §8 (sklearn's covariance_eigh and randomized_svd).
 *
 *	struct xf_pca p;
 *	if (xf_pca_fit(x, n, d, 50, XF_PCA_AUTO, seed, &p, &err) < 0) return -1;
 *	if (xf_pca_transform(&p, x, n, y, &err) < 0) ...      (y: n x 50)
 *	xf_pca_release(&p);
 *
 * Ownership: a fitted struct xf_pca owns its arrays until xf_pca_release; x is only read.
 * Reproducibility: results depend on (seed, BLAS thread count, machine), as any BLAS result.
 */
#ifndef XF_PCA_H
#define XF_PCA_H

#include <stdint.h>

#include "err.h"

/*
 * XF_PCA_EXACT: the eigenproblem of the centred d x d scatter matrix, accumulated in one pass
 *   over row blocks with Chan's pairwise merge (a large common mean never cancels); when
 *   n < d, that of the n x n Gram matrix of the centred rows instead (same eigenvalues;
 *   components X_c^T u / s). Costs O(n d min(n, d)) flops and min(n, d)^2 doubles: fine up to
 *   min(n, d) of a few thousand.
 * XF_PCA_RANDOMIZED: Halko et al. 2011 as sklearn's randomized_svd: l = k + 10 columns
 *   (at most min(n, d)), 7 power iterations if k < 0.1 min(n, d) else 4, QR between them,
 *   a Gaussian test matrix drawn from `seed`, centring done implicitly, the range found on
 *   X^T when n < d. Costs O(n d l) flops per pass (16 or 10 passes) and (n + d) l doubles.
 *   Accurate when the spectrum decays past component k; approximate otherwise. The implicit
 *   centring loses about eps |mean| / spread in relative terms (1e-11 for means of 1e6).
 * XF_PCA_AUTO: exact when d <= 1000 or k >= 0.8 min(n, d), randomized otherwise.
 */
enum xf_pca_solver { XF_PCA_AUTO, XF_PCA_EXACT, XF_PCA_RANDOMIZED };

struct xf_pca {
	int64_t d, k;          /* input dimensions, components kept */
	double *mean;          /* d column means */
	double *components;    /* k x d; rows are unit principal axes, largest-|.| entry of each positive */
	double *variance;      /* k explained variances (ddof = 1), descending */
	double total_variance; /* sum of all d column variances (ddof = 1), for explained-variance ratios */
	int64_t n;             /* rows fitted */
};

/*
 * Fit k principal components to x (n x d, row-major, not copied). Variances below 0 from
 * rounding are clamped to 0. When the rows span fewer than k dimensions the surplus
 * components have variance ~0 and are some unit vectors orthogonal to the others.
 * `seed` matters only to the randomized solver: the same seed gives the same result.
 * On success *out is filled (release it with xf_pca_release) and 0 is returned; on failure
 * *out is left empty and -1 returned with err: XF_E_USAGE for n < 2 or k outside
 * 1..min(n, d); XF_E_FORMAT naming the row and column of a NaN or infinity; XF_E_LIMIT for
 * sizes beyond LAPACK's integers; XF_E_NOMEM; XF_E_FORMAT if LAPACK fails to converge.
 */
int xf_pca_fit(const double *x, int64_t n, int64_t d, int64_t k, enum xf_pca_solver solver, uint64_t seed,
	       struct xf_pca *out, struct xf_err *err);

/*
 * out (n x k) = (x - mean) components^T for x of n rows of p->d columns; n may be 0.
 * Rows are centred in blocks before the product, so a large mean does not cancel.
 * Errors: XF_E_USAGE for an unfitted p or n < 0, XF_E_FORMAT naming a NaN or infinity,
 * XF_E_NOMEM.
 */
int xf_pca_transform(const struct xf_pca *p, const double *x, int64_t n, double *out, struct xf_err *err);

/* Free the arrays of p and empty it; safe on an empty or released struct. */
void xf_pca_release(struct xf_pca *p);

#endif
