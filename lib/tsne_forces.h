/*
 * tsne_forces: the gradient terms and KL divergence of t-SNE without FFTs (docs tsne.md §3, §4,
 * §6): exact O(n^2) and Barnes-Hut repulsion, attraction over a sparse P, and KL.
 *
 * The kernel is w_ij = (1 + |y_i - y_j|^2 / dof)^-dof (dof = 1: the Cauchy kernel). The KL
 * gradient is 4 (fattr - frep / z); like bhtsne, FIt-SNE and openTSNE these functions leave
 * out the 4 and leave the division by z to the caller.
 *
 * y is n x dim row-major doubles, dim 1, 2 or 3. `threads` workers share the points (0 or
 * less: all cores); each point's result is computed by one worker alone, and every sum over
 * points goes through a per-point array added serially in index order, so results are
 * bit-identical for any thread count.
 *
 * Self and twins: a point never interacts with itself, but its exact duplicates (other points
 * at the same position) count as the other points they are: each adds w = 1 to z and nothing
 * to the force. The exact and Barnes-Hut paths agree on this.
 */
#ifndef XF_TSNE_FORCES_H
#define XF_TSNE_FORCES_H

#include <stdint.h>

#include "csr.h"
#include "err.h"

/*
 * Exact repulsion over all pairs i != j: *z = sum_{i != j} w_ij, and
 * frep[i] = sum_{j != i} w_ij^((dof+1)/dof) (y_i - y_j) (n x dim, NOT divided by z).
 * n = 0 or 1 gives z = 0 and zero forces. 0, or -1 with err (XF_E_USAGE: dim, dof <= 0 or not
 * finite, n < 0; XF_E_NOMEM). O(n^2): for tests and small n.
 */
int xf_tsne_repulsion_exact(const double *y, int64_t n, int dim, double dof, int threads, double *frep,
			    double *z, struct xf_err *err);

/*
 * The same sums by Barnes-Hut (bhtree.h), the tree rebuilt on every call (by `threads`
 * workers). A cell stands for its points, at their centre of mass, when width / d < theta
 * with width the cell's FULL side (openTSNE's and sklearn's convention: theta = 0.5 here is
 * as tight as 0.25 in bhtsne or FIt-SNE) and d the distance from the centre of mass to the
 * bounding box of y_i's group: the points of a subtree of at most 32 points (or one leaf),
 * which share one walk of the tree. That is at least as tight as the test at y_i itself.
 * Leaves are always taken as they are, and cells containing points of the group are always
 * opened. theta = 0 gives the exact sums (in another order). Coordinates must be finite.
 * Errors as xf_tsne_repulsion_exact, plus XF_E_USAGE for theta < 0, XF_E_FORMAT for a
 * non-finite coordinate, XF_E_LIMIT above XF_BHTREE_MAX_POINTS.
 */
int xf_tsne_repulsion_bh(const double *y, int64_t n, int dim, double dof, double theta, int threads,
			 double *frep, double *z, struct xf_err *err);

/*
 * Attraction over the sparse symmetric P (n = p->n points, summing to 1 before exaggeration):
 * fattr[i] = exaggeration * sum_j p_ij (1 + |y_i - y_j|^2 / dof)^-1 (y_i - y_j), n x dim.
 * P's columns must lie in [0, n). 0, or -1 with err (XF_E_USAGE: dim, dof).
 */
int xf_tsne_attraction(const struct xf_csr *p, const double *y, int dim, double dof, double exaggeration,
		       int threads, double *fattr, struct xf_err *err);

/*
 * The same with P's values val[0..nnz) as float instead of p->val (NULL: p->val), tsne.md
 * section 9's float32 P: the loop streams P every iteration, and at large n memory
 * bandwidth bounds it, so 8 bytes a nonzero instead of 12 are read. Results agree with the
 * double version to float rounding of P (about 6e-8 relative).
 */
int xf_tsne_attraction_f32(const struct xf_csr *p, const float *val, const double *y, int dim, double dof,
			   double exaggeration, int threads, double *fattr, struct xf_err *err);

/*
 * KL(P || Q) with q_ij = w_ij / z, from z as the repulsion returned it and the same p as
 * xf_tsne_attraction (not scaled): sum_{nnz, p > 0} p ln(p / w) + (sum p) ln z, over the
 * nonzeros only, since P vanishes elsewhere. As FIt-SNE and openTSNE do during early
 * exaggeration, the sum is taken for the exaggerated a p and reported as KL/a - ln a, which
 * is KL(P || Q) of the unscaled P, comparable across phases; it equals the a = 1 value up
 * to (sum p - 1) ln a. Row sums are added serially. NaN if dim, dof, a or z is out of range.
 */
double xf_tsne_kl(const struct xf_csr *p, const double *y, int dim, double dof, double exaggeration,
		  double z);

/*
 * The same KL in two parts, for repeated evaluation with the same P: sum p ln p over P's
 * positive entries once (xf_tsne_plogp), then the rest from y by `threads` workers over the
 * rows. Equal to xf_tsne_kl up to rounding, and bit-identical for any thread count (the
 * rows are summed in fixed blocks, serially).
 */
double xf_tsne_plogp(const struct xf_csr *p);
double xf_tsne_kl_threads(const struct xf_csr *p, double plogp, const double *y, int dim, double dof,
			  double exaggeration, double z, int threads);

/* KL(P || Q) over all pairs i != j from the dense n x n P (the diagonal is ignored): tests only. */
double xf_tsne_kl_exact(const double *p_dense, const double *y, int64_t n, int dim, double dof);

#endif
