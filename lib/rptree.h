/*
 * rptree: random-projection trees (Dasgupta & Freund; pynndescent's rp_trees) over float
 * rows, used by knn_approx.c to seed its neighbour graph. Only the leaves are kept: the
 * approximate search joins the rows within each leaf and never queries the tree.
 *
 *	struct xf_rptree t = XF_RPTREE_INIT;
 *	if (xf_rptree_build(&t, xf, n, ld, 256, seed, tree_no, &err) < 0) ...
 *	for (int64_t l = 0; l < t.n_leaves; l++)
 *		use(t.perm + t.start[l], t.start[l + 1] - t.start[l]);
 *	xf_rptree_release(&t);
 */
#ifndef XF_RPTREE_H
#define XF_RPTREE_H

#include <stdint.h>

#include "err.h"

struct xf_rptree {
	int32_t *perm;      /* the n row numbers, leaf after leaf */
	int32_t *start;     /* n_leaves + 1 ascending offsets into perm: leaf l is perm[start[l] .. start[l + 1]) */
	int64_t n_leaves;   /* at least 1 */
	int64_t cap;        /* entries allocated in start */
};

#define XF_RPTREE_INIT { NULL, NULL, 0, 0 }

/*
 * Split the rows of x (n x ld floats, row-major; ld is a multiple of 8 and any padding
 * after the coordinates is 0) until no leaf holds more than
 * leaf_size rows. A node is split on the perpendicular bisector of two of its rows picked
 * at random; rows on the plane go to a random side, and when one side would be empty the
 * node is halved at random instead. Everything random comes from xf_rng_init(seed, stream),
 * so one (seed, stream) pair always gives the same tree, whichever thread builds it.
 * Requires n <= INT32_MAX and leaf_size >= 1. Returns 0, or -1 with err (XF_E_NOMEM);
 * release t either way.
 */
int xf_rptree_build(struct xf_rptree *t, const float *x, int64_t n, int64_t ld, int64_t leaf_size, uint64_t seed,
		    uint64_t stream, struct xf_err *err);

/* Free the arrays and reset t to XF_RPTREE_INIT. */
void xf_rptree_release(struct xf_rptree *t);

#endif
