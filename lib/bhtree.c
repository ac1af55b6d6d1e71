/*
 * bhtree: the Barnes-Hut space-partitioning tree of t-SNE; see bhtree.h and docs tsne.md §4.
 *
 * Threaded build: the top of the tree, down to ranges of at most SUBTREE_MAX points, is laid
 * out serially; those ranges are built as independent subtrees, each into its own node
 * array, by several threads; then the top nodes and the subtrees are written out in preorder.
 * Every subtree is built exactly as the serial recursion would build it, so the tree, its
 * node numbers included, does not depend on the thread count.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhtree.h"

#define MAX_CHILDREN 8
#define SUBTREE_MIN 1024     /* ranges this small are built by one thread */
#define SUBTREE_PARTS 64     /* and ranges up to n / SUBTREE_PARTS too */
#define MAX_THREADS 64

struct builder {
	const double *y;
	int dim;
	uint32_t *leaf_of;   /* = t->leaf_of; node numbers local to `nodes` until placed */
	struct xf_bhnode *nodes;  /* where this builder's nodes go, in preorder */
	int64_t n_nodes;
	uint32_t *perm;      /* = t->order; each node owns a contiguous range of it */
	uint32_t *tmp;       /* scatter buffer, n */
	uint8_t *code;       /* child code of perm[k] at position k, for the range being split */
};

static const double *point(const struct builder *b, uint32_t k)
{
	return b->y + (size_t)b->perm[k] * b->dim;
}

static int check_points(const double *y, int64_t n, int dim, struct xf_err *err)
{
	for (int64_t i = 0; i < n * dim; i++)
		if (!isfinite(y[i]))
			return xf_err_set(err, XF_E_FORMAT, "point %lld: coordinate %d is not finite",
					  (long long)(i / dim), (int)(i % dim));
	return 0;
}

/* Square root cell centred on the bounding box, its half-side half the largest extent. */
static int root_cell(const double *y, int64_t n, int dim, double *c, double *hw, struct xf_err *err)
{
	double lo[3], hi[3], extent = 0;

	for (int d = 0; d < dim; d++)
		lo[d] = hi[d] = y[d];
	for (int64_t i = 1; i < n; i++)
		for (int d = 0; d < dim; d++) {
			lo[d] = fmin(lo[d], y[i * dim + d]);
			hi[d] = fmax(hi[d], y[i * dim + d]);
		}
	for (int d = 0; d < dim; d++) {
		c[d] = lo[d] / 2 + hi[d] / 2;     /* halves first: lo + hi may overflow */
		extent = fmax(extent, hi[d] - lo[d]);
	}
	*hw = extent / 2;
	if (!isfinite(*hw))
		return xf_err_set(err, XF_E_FORMAT, "the points span too wide a range to partition");
	return 0;
}

/* Bit d set when the range's points do not all share coordinate d; 0 means exact duplicates. */
static unsigned varying_dims(const struct builder *b, uint32_t lo, uint32_t hi)
{
	const double *first = point(b, lo);
	unsigned varying = 0;

	for (uint32_t k = lo + 1; k < hi; k++) {
		const double *p = point(b, k);

		for (int d = 0; d < b->dim; d++)
			varying |= (unsigned)(p[d] != first[d]) << d;
	}
	return varying;
}

/*
 * Whether halving the cell can still separate points: some dimension in which they differ
 * must have child centres that do not round back onto the parent's. Beyond that the split
 * planes stop moving, and the points are as close as their coordinates can resolve.
 */
static bool can_split(const double *c, double hw, int dim, unsigned varying)
{
	double q = hw / 2;

	if (!(q > 0))
		return false;
	for (int d = 0; d < dim; d++)
		if ((varying >> d & 1) && c[d] + q != c[d] && c[d] - q != c[d])
			return true;
	return false;
}

/* Child code of each point of the range (bit d: coordinate d >= centre); returns the non-empty children. */
static int child_codes(struct builder *b, uint32_t lo, uint32_t hi, const double *c, uint32_t *counts)
{
	int nonempty = 0;

	memset(counts, 0, MAX_CHILDREN * sizeof(*counts));
	for (uint32_t k = lo; k < hi; k++) {
		const double *p = point(b, k);
		unsigned code = 0;

		for (int d = 0; d < b->dim; d++)
			code |= (unsigned)(p[d] >= c[d]) << d;
		b->code[k] = (uint8_t)code;
		nonempty += counts[code]++ == 0;
	}
	return nonempty;
}

static void child_centre(const double *c, double hw, unsigned code, int dim, double *out)
{
	for (int d = 0; d < dim; d++)
		out[d] = c[d] + (code >> d & 1 ? hw / 2 : -hw / 2);
}

/* Stable counting sort of the range by child code, so every child's points stay in index order. */
static void scatter(struct builder *b, uint32_t lo, uint32_t hi, const uint32_t *counts)
{
	uint32_t pos[MAX_CHILDREN], at = lo;

	for (int k = 0; k < MAX_CHILDREN; k++) {
		pos[k] = at;
		at += counts[k];
	}
	for (uint32_t k = lo; k < hi; k++)
		b->tmp[pos[b->code[k]]++] = b->perm[k];
	memcpy(b->perm + lo, b->tmp + lo, (size_t)(hi - lo) * sizeof(*b->perm));
}

static uint32_t make_leaf(struct builder *b, uint32_t lo, uint32_t hi)
{
	uint32_t node = (uint32_t)b->n_nodes++;
	struct xf_bhnode *nd = &b->nodes[node];

	*nd = (struct xf_bhnode){ .count = hi - lo, .skip = node + 1, .first = lo };
	memcpy(nd->com, point(b, lo), (size_t)b->dim * sizeof(double));
	for (uint32_t k = lo; k < hi; k++)
		b->leaf_of[b->perm[k]] = node;
	return node;
}

static uint32_t build_node(struct builder *b, uint32_t lo, uint32_t hi, double *c, double hw);

/* An internal node over the range, already sorted by child code; the children follow it in preorder. */
static uint32_t make_internal(struct builder *b, uint32_t lo, uint32_t hi, const double *c, double hw,
			      const uint32_t *counts)
{
	uint32_t node = (uint32_t)b->n_nodes++, at = lo;
	double sum[3] = { 0, 0, 0 };

	for (unsigned code = 0; code < MAX_CHILDREN; code++) {
		double cc[3];
		const struct xf_bhnode *child;

		if (!counts[code])
			continue;
		child_centre(c, hw, code, b->dim, cc);
		child = &b->nodes[build_node(b, at, at + counts[code], cc, hw / 2)];
		for (int d = 0; d < b->dim; d++)
			sum[d] += child->count * child->com[d];
		at += counts[code];
	}
	b->nodes[node] = (struct xf_bhnode){ .width2 = 4 * hw * hw, .count = hi - lo,
					     .skip = (uint32_t)b->n_nodes, .first = lo };
	for (int d = 0; d < b->dim; d++)
		b->nodes[node].com[d] = sum[d] / (hi - lo);
	return node;
}

/*
 * Split perm[lo, hi) in the cell (c, half-side *hw): while all points fall into one child,
 * descend (c and *hw are updated in place), so a node's cell is the smallest one that
 * actually splits its points. Then sort the range by child, counts[] per child. Returns
 * false if the range is a leaf instead: one point, exact duplicates, or points closer than
 * the cells can resolve.
 */
static bool split_range(struct builder *b, uint32_t lo, uint32_t hi, double *c, double *hw, uint32_t *counts)
{
	unsigned varying = 0;
	bool known = false;   /* varying is computed only for ranges that do not split at once */

	if (hi - lo == 1)
		return false;
	while (child_codes(b, lo, hi, c, counts) == 1) {
		if (!known) {
			varying = varying_dims(b, lo, hi);
			known = true;
		}
		if (!varying || !can_split(c, *hw, b->dim, varying))
			return false;
		child_centre(c, *hw, b->code[lo], b->dim, c);
		*hw /= 2;
	}
	scatter(b, lo, hi, counts);
	return true;
}

/* The subtree of perm[lo, hi) in the cell (c, half-side hw). */
static uint32_t build_node(struct builder *b, uint32_t lo, uint32_t hi, double *c, double hw)
{
	uint32_t counts[MAX_CHILDREN];

	if (!split_range(b, lo, hi, c, &hw, counts))
		return make_leaf(b, lo, hi);
	return make_internal(b, lo, hi, c, hw, counts);
}

/* ---- threaded build ---- */

/* A node of the top layout: internal (its children other top entries) or a whole subtree. */
struct top {
	uint32_t lo, hi;
	double c[3], hw;
	bool subtree;
	int n_children;
	int32_t child[MAX_CHILDREN];
	struct xf_bhnode *nodes;   /* subtree: its nodes, numbered from 0 */
	int64_t n_nodes;
};

struct layout {
	struct builder *b;
	struct top *tops;
	int32_t n_tops, cap_tops;
	uint32_t cut;              /* ranges up to this many points become subtrees */
	int32_t *subtrees;         /* the subtree entries, in preorder */
	int32_t n_subtrees;
	atomic_int next;           /* next subtree to claim */
	atomic_bool nomem;
};

/* Lay out the top of perm[lo, hi); returns its entry, or -1 when out of memory. */
static int32_t lay_out(struct layout *L, uint32_t lo, uint32_t hi, const double *c, double hw)
{
	struct top *t;
	uint32_t counts[MAX_CHILDREN], at = lo;
	int32_t id;

	if (L->n_tops == L->cap_tops) {
		struct top *grown = realloc(L->tops, (size_t)(2 * L->cap_tops) * sizeof(*grown));

		if (!grown)
			return -1;
		L->tops = grown;
		L->cap_tops *= 2;
	}
	id = L->n_tops++;
	t = &L->tops[id];
	*t = (struct top){ .lo = lo, .hi = hi, .hw = hw };
	memcpy(t->c, c, sizeof(t->c));
	if (hi - lo <= L->cut || !split_range(L->b, lo, hi, t->c, &t->hw, counts)) {
		t->subtree = true;   /* a leaf too: building it alone is as cheap as anything */
		L->subtrees[L->n_subtrees++] = id;
		return id;
	}
	for (unsigned code = 0; code < MAX_CHILDREN; code++) {
		double cc[3];
		int32_t child;

		if (!counts[code])
			continue;
		child_centre(L->tops[id].c, L->tops[id].hw, code, L->b->dim, cc);
		if ((child = lay_out(L, at, at + counts[code], cc, L->tops[id].hw / 2)) < 0)
			return -1;
		t = &L->tops[id];   /* tops may have moved */
		t->child[t->n_children++] = child;
		at += counts[code];
	}
	return id;
}

static void *build_subtrees(void *arg)
{
	struct layout *L = arg;
	int k;

	while ((k = atomic_fetch_add(&L->next, 1)) < L->n_subtrees) {
		struct top *t = &L->tops[L->subtrees[k]];
		struct builder b = *L->b;
		double c[3];

		b.nodes = malloc((size_t)(2 * (t->hi - t->lo) - 1) * sizeof(*b.nodes));
		if (!b.nodes) {
			atomic_store(&L->nomem, true);
			continue;
		}
		b.n_nodes = 0;
		memcpy(c, t->c, sizeof(c));
		build_node(&b, t->lo, t->hi, c, t->hw);
		t->nodes = b.nodes;
		t->n_nodes = b.n_nodes;
	}
	return NULL;
}

/* Write entry id and what lies below it into the tree in preorder; returns its node. */
static uint32_t place(struct layout *L, struct xf_bhtree *tree, int32_t id)
{
	struct top *t = &L->tops[id];
	uint32_t node = (uint32_t)tree->n_nodes;
	double sum[3] = { 0, 0, 0 };

	if (t->subtree) {
		for (int64_t k = 0; k < t->n_nodes; k++) {
			struct xf_bhnode nd = t->nodes[k];

			nd.skip += node;
			tree->nodes[node + k] = nd;
		}
		for (uint32_t k = t->lo; k < t->hi; k++)
			tree->leaf_of[tree->order[k]] += node;
		tree->n_nodes += t->n_nodes;
		return node;
	}
	tree->n_nodes++;
	for (int k = 0; k < t->n_children; k++) {
		const struct xf_bhnode *child = &tree->nodes[place(L, tree, t->child[k])];

		for (int d = 0; d < tree->dim; d++)
			sum[d] += child->count * child->com[d];
	}
	tree->nodes[node] = (struct xf_bhnode){ .width2 = 4 * t->hw * t->hw, .count = t->hi - t->lo,
						.skip = (uint32_t)tree->n_nodes, .first = t->lo };
	for (int d = 0; d < tree->dim; d++)
		tree->nodes[node].com[d] = sum[d] / (t->hi - t->lo);
	return node;
}

static void run_threads(struct layout *L, int threads)
{
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	long t = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	t = t < 1 ? 1 : t > MAX_THREADS ? MAX_THREADS : t;
	t = t < L->n_subtrees ? t : L->n_subtrees;
	atomic_init(&L->next, 0);
	for (long k = 1; k < t; k++)
		started[k] = !pthread_create(&tid[k], NULL, build_subtrees, L);
	build_subtrees(L);
	for (long k = 1; k < t; k++)
		if (started[k])
			pthread_join(tid[k], NULL);
}

/* The tree of perm[0, n) in the root cell, built by `threads` workers. */
static int build_threaded(struct builder *b, struct xf_bhtree *tree, const double *c, double hw, int threads)
{
	struct layout L = { .b = b, .cap_tops = 64, .cut = (uint32_t)(tree->n / SUBTREE_PARTS) };
	int rc = 0;

	L.cut = L.cut > SUBTREE_MIN ? L.cut : SUBTREE_MIN;
	L.tops = malloc((size_t)L.cap_tops * sizeof(*L.tops));
	L.subtrees = malloc((size_t)tree->n * sizeof(*L.subtrees));
	atomic_init(&L.nomem, false);
	if (!L.tops || !L.subtrees || lay_out(&L, 0, (uint32_t)tree->n, c, hw) < 0) {
		rc = -1;
	} else {
		run_threads(&L, threads);
		if (atomic_load(&L.nomem))
			rc = -1;
		else
			place(&L, tree, 0);
	}
	for (int32_t k = 0; L.tops && k < L.n_tops; k++)
		free(L.tops[k].nodes);
	free(L.tops), free(L.subtrees);
	return rc;
}

int xf_bhtree_build(struct xf_bhtree *t, const double *y, int64_t n, int dim, struct xf_err *err)
{
	return xf_bhtree_build_threads(t, y, n, dim, 1, err);
}

int xf_bhtree_build_threads(struct xf_bhtree *t, const double *y, int64_t n, int dim, int threads,
			    struct xf_err *err)
{
	struct builder b = { .y = y, .dim = dim };
	double c[3], hw;
	size_t max_nodes = n > 0 ? 2 * (size_t)n - 1 : 0;

	*t = (struct xf_bhtree){ .dim = dim, .n = n };
	if (dim < 1 || dim > 3)
		return xf_err_set(err, XF_E_USAGE, "tree dimension %d is not 1, 2 or 3", dim);
	if (n < 0 || n > XF_BHTREE_MAX_POINTS)
		return xf_err_set(err, XF_E_LIMIT, "%lld points: the tree takes 0 to %lld", (long long)n,
				  (long long)XF_BHTREE_MAX_POINTS);
	if (n == 0)
		return 0;
	if (check_points(y, n, dim, err) < 0 || root_cell(y, n, dim, c, &hw, err) < 0)
		return -1;
	t->nodes = malloc(max_nodes * sizeof(*t->nodes));
	t->leaf_of = malloc((size_t)n * sizeof(*t->leaf_of));
	t->order = malloc((size_t)n * sizeof(*t->order));
	b.tmp = malloc((size_t)n * sizeof(*b.tmp));
	b.code = malloc((size_t)n);
	if (!t->nodes || !t->leaf_of || !t->order || !b.tmp || !b.code) {
		free(b.tmp), free(b.code);
		xf_bhtree_release(t);
		return xf_err_nomem(err, max_nodes * sizeof(*t->nodes) + (size_t)n * 13);
	}
	b.perm = t->order;
	b.leaf_of = t->leaf_of;
	for (int64_t i = 0; i < n; i++)
		b.perm[i] = (uint32_t)i;
	if (threads == 1) {
		b.nodes = t->nodes;
		build_node(&b, 0, (uint32_t)n, c, hw);
		t->n_nodes = b.n_nodes;
	} else if (build_threaded(&b, t, c, hw, threads) < 0) {
		free(b.tmp), free(b.code);
		xf_bhtree_release(t);
		return xf_err_nomem(err, max_nodes * sizeof(*t->nodes));
	}
	free(b.tmp), free(b.code);
	return 0;
}

void xf_bhtree_release(struct xf_bhtree *t)
{
	free(t->nodes);
	free(t->leaf_of);
	free(t->order);
	*t = (struct xf_bhtree)XF_BHTREE_INIT;
}
