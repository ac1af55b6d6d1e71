/*
 * rptree: random-projection trees kept as their leaves; see rptree.h. A node is a range of
 * perm and is split in place, so a tree costs n + leaves integers and no allocation per
 * node. Pending nodes wait on a fixed stack: the larger child is pushed and the smaller one,
 * at most half its parent, is split next, so no more than log2(n) ranges ever wait at once.
 */
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "rptree.h"

#define STACK_MAX 64        /* > log2(INT32_MAX) */

typedef float v8f __attribute__((vector_size(32)));

/* a . b over ld floats (a multiple of 8), in eight partial sums. */
static float dot(const float *a, const float *b, int64_t ld)
{
	v8f s = { 0 };

	for (int64_t j = 0; j < ld; j += 8) {
		v8f p, q;

		memcpy(&p, a + j, sizeof(p));
		memcpy(&q, b + j, sizeof(q));
		s += p * q;
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void swap32(int32_t *a, int32_t *b)
{
	int32_t t = *a;

	*a = *b;
	*b = t;
}

static void shuffle32(struct xf_rng *r, int32_t *a, int64_t m)
{
	for (int64_t i = m - 1; i > 0; i--)
		swap32(&a[i], &a[xf_rng_below(r, (uint64_t)i + 1)]);
}

/*
 * Partition perm[lo, hi) (at least 2 rows) by the perpendicular bisector of two distinct
 * random rows of it; returns where the second side starts, strictly inside (lo, hi). The
 * margin is w . x - c with w = a - b and c = w . (a + b) / 2, positive on a's side. Each row
 * is looked at once (Lomuto), so a tie draws exactly one random bit.
 */
static int64_t split(const float *x, int64_t ld, int32_t *perm, int64_t lo, int64_t hi, float *w, struct xf_rng *r)
{
	int64_t m = hi - lo, i = (int64_t)xf_rng_below(r, (uint64_t)m), j = (int64_t)xf_rng_below(r, (uint64_t)m - 1);
	int64_t mid = lo;
	const float *a, *b;
	float c;

	j += j >= i;
	a = x + (int64_t)perm[lo + i] * ld;
	b = x + (int64_t)perm[lo + j] * ld;
	for (int64_t q = 0; q < ld; q++)
		w[q] = a[q] - b[q];
	c = (dot(w, a, ld) + dot(w, b, ld)) / 2;
	for (int64_t p = lo; p < hi; p++) {
		float margin = dot(w, x + (int64_t)perm[p] * ld, ld) - c;

		if (margin > 0 || (margin == 0 && (xf_rng_next(r) & 1)))
			swap32(&perm[p], &perm[mid++]);
	}
	if (mid == lo || mid == hi) {
		/* all on one side (duplicates, or a and b nearly so): halve at random */
		shuffle32(r, perm + lo, m);
		mid = lo + m / 2;
	}
	return mid;
}

static int add_leaf(struct xf_rptree *t, int64_t lo, struct xf_err *err)
{
	if (t->n_leaves + 1 >= t->cap) {
		int64_t cap = 2 * t->cap;
		int32_t *p = realloc(t->start, (size_t)cap * sizeof(*p));

		if (!p)
			return xf_err_nomem(err, (size_t)cap * sizeof(*p));
		t->start = p;
		t->cap = cap;
	}
	t->start[t->n_leaves++] = (int32_t)lo;
	return 0;
}

static int cmp32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* Split until every range is a leaf; leaves are found depth first, hence sorted at the end. */
static int grow(struct xf_rptree *t, const float *x, int64_t n, int64_t ld, int64_t leaf_size, float *w,
		struct xf_rng *r, struct xf_err *err)
{
	int64_t stack[STACK_MAX][2], top = 0, lo = 0, hi = n;

	for (;;) {
		if (hi - lo > leaf_size) {
			int64_t mid = split(x, ld, t->perm, lo, hi, w, r);
			int small_left = mid - lo <= hi - mid;

			stack[top][0] = small_left ? mid : lo;
			stack[top++][1] = small_left ? hi : mid;
			if (small_left)
				hi = mid;
			else
				lo = mid;
			continue;
		}
		if (add_leaf(t, lo, err) < 0)
			return -1;
		if (top == 0)
			break;
		top--;
		lo = stack[top][0];
		hi = stack[top][1];
	}
	qsort(t->start, (size_t)t->n_leaves, sizeof(*t->start), cmp32);
	t->start[t->n_leaves] = (int32_t)n;
	return 0;
}

int xf_rptree_build(struct xf_rptree *t, const float *x, int64_t n, int64_t ld, int64_t leaf_size, uint64_t seed,
		    uint64_t stream, struct xf_err *err)
{
	struct xf_rng r;
	float *w = malloc((size_t)(ld > 0 ? ld : 1) * sizeof(*w));
	int rc;

	*t = (struct xf_rptree)XF_RPTREE_INIT;
	t->cap = 64;
	t->perm = malloc((size_t)(n > 0 ? n : 1) * sizeof(*t->perm));
	t->start = malloc((size_t)t->cap * sizeof(*t->start));
	if (!w || !t->perm || !t->start) {
		free(w);
		return xf_err_nomem(err, (size_t)n * sizeof(*t->perm));
	}
	for (int64_t i = 0; i < n; i++)
		t->perm[i] = (int32_t)i;
	xf_rng_init(&r, seed, stream);
	rc = grow(t, x, n, ld, leaf_size, w, &r, err);
	free(w);
	return rc;
}

void xf_rptree_release(struct xf_rptree *t)
{
	free(t->perm);
	free(t->start);
	*t = (struct xf_rptree)XF_RPTREE_INIT;
}
