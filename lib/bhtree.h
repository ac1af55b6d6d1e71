/*
 * bhtree: the space-partitioning tree of Barnes-Hut t-SNE (docs tsne.md §4): a binary tree,
 * quad-tree or oct-tree over n points in 1, 2 or 3 dimensions, with square (cubic) cells cut
 * from the bounding box. Nodes live in one flat array in preorder, so a traversal needs no
 * stack: the first child of node k is k + 1, and skip jumps over k's subtree.
 *
 * Built serially, points taken in index order, so the same points always give the same tree.
 * Exact duplicates share one leaf with a count. A chain of cells that would each hold all of a
 * node's points collapses into the smallest of them (an internal node always has at least two
 * children, so there are at most 2n - 1 nodes). Cells stop being split once halving them no
 * longer moves their centres in any dimension in which their points differ (the rounding
 * resolution of the coordinates, about 2^-52 of their magnitude): points that close share a
 * leaf too, represented by its first point.
 */
#ifndef XF_BHTREE_H
#define XF_BHTREE_H

#include <stdint.h>

#include "err.h"

#define XF_BHTREE_MAX_POINTS ((int64_t)1 << 30)   /* node indices and counts are 32-bit */

struct xf_bhnode {
	double com[3];       /* centre of mass; a leaf's first point exactly (unused dims are 0) */
	double width2;       /* squared full side of the node's cell; 0 for a leaf */
	uint32_t count;      /* points under the node, duplicates included */
	uint32_t skip;       /* the node after this subtree; k + 1 for a leaf k */
	uint32_t first;      /* its points are order[first, first + count) */
};

struct xf_bhtree {
	int dim;                   /* 1, 2 or 3 */
	int64_t n;                 /* points */
	int64_t n_nodes;           /* used entries of nodes */
	struct xf_bhnode *nodes;   /* preorder, nodes[0] is the root */
	uint32_t *leaf_of;         /* n: the leaf holding point i */
	uint32_t *order;           /* n: the points in leaf order, a cache-friendly order to visit them */
};

#define XF_BHTREE_INIT { 0, 0, 0, NULL, NULL, NULL }

/*
 * Build the tree of the n points y (n x dim, row-major, finite) into t, which must be released
 * (or XF_BHTREE_INIT). 0, or -1 with err: XF_E_USAGE for dim, XF_E_LIMIT above
 * XF_BHTREE_MAX_POINTS, XF_E_FORMAT for a coordinate that is not finite, XF_E_NOMEM. The
 * build recurses once per level that splits a node, about log2(extent / closest pair) deep.
 */
int xf_bhtree_build(struct xf_bhtree *t, const double *y, int64_t n, int dim, struct xf_err *err);

/*
 * The same tree, node for node, built by `threads` workers (0 or less: all cores; 1: in the
 * calling thread alone): below its top levels the tree splits into subtrees that are built
 * apart. The top levels are still built serially.
 */
int xf_bhtree_build_threads(struct xf_bhtree *t, const double *y, int64_t n, int dim, int threads,
			    struct xf_err *err);

/* Free the arrays; t becomes XF_BHTREE_INIT. */
void xf_bhtree_release(struct xf_bhtree *t);

#endif
