/*
 * knn_approx: random-projection forest + NN-descent; see knn_approx.h and docs/tsne.md
 * section 2 ("For xfer").
 *
 * The working graph lives in the output array idx, as n lists of k keys, each key a float
 * distance's bits, a row number and two flags (see make_key), so that comparing keys as
 * integers orders by (distance, row). A list is kept sorted ascending: its last key is the
 * bar a candidate must pass, and a candidate that is already listed is found by binary
 * search. That rests on one invariant: a pair's distance has the same bits wherever it is
 * computed. column_distances() guarantees it: every lane sums the same float terms in the
 * same order, and (a - b)^2 == (b - a)^2 exactly.
 *
 * Determinism: a parallel phase either writes only rows it owns (the leaves of one tree are
 * disjoint; elsewhere rows are shared out by range), or only collects proposals into its own
 * buffer, which the owners of the target rows apply afterwards. A sorted list keeps the k
 * smallest (distance, index) pairs it is offered in any order, and a block's update count is
 * the number of entries that entered a list during the block and are still there at its
 * end -- exactly what applying the proposals sorted by (u, d, v) counts -- so nothing
 * depends on how rows, leaves or centres were shared among the threads.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "knn_approx.h"
#include "parallel.h"
#include "rng.h"
#include "rptree.h"

#define LANES 8                  /* floats per vector in the distance kernel */
#define LEAF_MAX 256             /* the largest leaf, hence columns of a task's block */
#define MAX_CANDIDATES 60        /* new, and old, candidates sampled per row and round */
#define JOIN_BLOCK 4096          /* centres whose proposals are applied together */
#define DELTA 0.001              /* stop when a round changes <= DELTA k n entries */
#define MAX_TASKS 256

#define MAX_ROWS ((1LL << 30) - 1) /* row numbers take 30 bits of a key; all ones is EMPTY */
#define FLAG_NEW UINT64_C(1)            /* entered since its row last sampled it as a new candidate */
#define FLAG_FRESH UINT64_C(2)          /* entered during the current join block (if epoch says so) */
#define EMPTY (UINT64_C(0x7f800000) << 32 | 0xffffffff) /* an unfilled slot: +inf, after every real key */

/* Independent random streams per stage: (stage, item) -> xf_rng_init(seed, stream). */
enum { STREAM_TREE = 1, STREAM_FILL = 2, STREAM_ROUND = 3, STREAM_RECALL = 4 };

typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));

/*
 * x86 machines with AVX2 run the distance kernel with 8-wide vectors natively (with the
 * same results: the lanes compute alike). Chosen per call rather than through an ifunc
 * (target_clones), whose resolver runs before sanitizer runtimes are up.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_KERNEL 1
#endif

struct proposal {
	int32_t u, v;            /* offer v to u's list */
	float d;                 /* at this distance */
};

struct task {                    /* one worker's scratch */
	float *cols;             /* d x LEAF_MAX: the rows being joined, one per column */
	float *dm;               /* LEAF_MAX x LEAF_MAX distances: a leaf's, or a centre's join */
	uint64_t *cand;          /* LEAF_MAX keys offered to one list */
	uint64_t *merged;        /* k keys: a list being merged */
	int32_t *list;           /* a centre's candidates: new ones first, then old */
	struct proposal *prop;   /* proposals of the current block */
	int64_t n_prop, cap_prop;
	int64_t updates;         /* net list changes applied in this round */
	struct xf_err err;
	bool failed;
};

struct approx {
	const double *x;         /* n x d input */
	double *mean, scale;     /* x -> float copy: (x - mean) * scale */
	float *xf;               /* n x dp float copy, zero padded, rows in `order` */
	int32_t *order;          /* the row of x behind each working row */
	int64_t n, d, dp, k;
	uint64_t *list;          /* n x k sorted keys while searching, in the output idx */
	double *dist2;           /* the output distances, written at the end */
	int64_t *idx;            /* the output indices, written at the end */
	uint64_t seed;
	int n_tasks;
	struct task *task;
	struct xf_rptree *trees; /* n_tasks trees built together */
	int64_t tree0, n_trees, leaf_size;
	const struct xf_rptree *tree;    /* the tree whose leaves are being joined */
	uint64_t *cand_new;      /* n x MAX_CANDIDATES: heaps of (priority << 32 | row), then sorted */
	uint64_t *cand_old;
	uint8_t *n_new, *n_old;  /* their sizes */
	uint32_t *epoch;         /* the block in which a row's FLAG_FRESH bits were last valid */
	uint32_t block;
	int64_t b0, b1;          /* centres of the current block */
	uint64_t round_key;      /* priorities of the current round */
};

static uint64_t stream(int stage, int64_t item)
{
	return (uint64_t)stage << 48 | (uint64_t)item;
}

static int64_t round_up(int64_t m, int64_t to)
{
	return (m + to - 1) / to * to;
}

/* Whether (da, ia) comes before (db, ib): nearer, or as near with a lower index. */
static inline bool before(double da, int64_t ia, double db, int64_t ib)
{
	return da < db || (da == db && ia < ib);
}

/*
 * A list entry: the bits of a float distance d >= 0 (ordered like the values), row v, and
 * flags in the two low bits; flags aside, integer order is (d, v) order.
 */
static inline uint64_t make_key(float d, int64_t v, uint64_t flags)
{
	uint32_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return (uint64_t)bits << 32 | (uint64_t)v << 2 | flags;
}

static inline float key_dist(uint64_t key)
{
	uint32_t bits = (uint32_t)(key >> 32);
	float d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static inline int64_t key_row(uint64_t key)
{
	return (int64_t)(key >> 2 & MAX_ROWS);
}

/* Key order with the flags ignored. */
static inline bool key_before(uint64_t a, uint64_t b)
{
	return a >> 2 < b >> 2;
}

/* ---- tasks ---- */

typedef void task_fn(struct approx *a, struct task *s, int64_t t);

struct job {
	task_fn *fn;
	struct approx *a;
};

static void run_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct job *j = ctx;

	for (int64_t t = begin; t < end; t++)
		j->fn(j->a, &j->a->task[t], t);
}

/* fn for every task number, each with its own scratch, in parallel. */
static void run_tasks(struct approx *a, task_fn *fn)
{
	struct job j = { fn, a };

	xf_parallel_for(a->n_tasks, a->n_tasks, 1, run_chunk, &j);
}

/* Task t's share [lo, hi) of m items. */
static void span(const struct approx *a, int64_t m, int64_t t, int64_t *lo, int64_t *hi)
{
	*lo = m * t / a->n_tasks;
	*hi = m * (t + 1) / a->n_tasks;
}

static int check_tasks(const struct approx *a, struct xf_err *err)
{
	for (int t = 0; t < a->n_tasks; t++)
		if (a->task[t].failed) {
			*err = a->task[t].err;
			return -1;
		}
	return 0;
}

/* ---- distances and lists ---- */

/* Columns 0..m of the d x ld block cols become the rows ids[0..m); later columns are 0. */
static void gather(const struct approx *a, const int32_t *ids, int64_t m, int64_t ld, float *cols)
{
	for (int64_t b = 0; b < m; b++) {
		const float *row = a->xf + ids[b] * a->dp;

		for (int64_t j = 0; j < a->d; j++)
			cols[j * ld + b] = row[j];
	}
	for (int64_t j = 0; j < a->d; j++)
		for (int64_t b = m; b < ld; b++)
			cols[j * ld + b] = 0;
}

/*
 * out[b] = squared distance between columns c and b of the d x ld block cols, for every
 * column b from b0 (a multiple of LANES) to ld. Vectorised across columns, not dimensions:
 * each lane adds (cols[j][c] - cols[j][b])^2 for j = 0, 1, ... in float, the same sequence
 * whatever lane or loop computes it (see the top of the file).
 */
static inline __attribute__((always_inline)) void distances_body(const float *cols, int64_t d, int64_t ld, int64_t c,
								  int64_t b0, float *out)
{
	int64_t b = b0;

	for (; b + 4 * LANES <= ld; b += 4 * LANES) {
		v8f s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, e0, e1, e2, e3;

		for (int64_t j = 0; j < d; j++) {
			const float *r = cols + j * ld + b;
			float cj = cols[j * ld + c];

			memcpy(&e0, r, sizeof(e0));
			memcpy(&e1, r + LANES, sizeof(e1));
			memcpy(&e2, r + 2 * LANES, sizeof(e2));
			memcpy(&e3, r + 3 * LANES, sizeof(e3));
			e0 = cj - e0;
			e1 = cj - e1;
			e2 = cj - e2;
			e3 = cj - e3;
			s0 += e0 * e0;
			s1 += e1 * e1;
			s2 += e2 * e2;
			s3 += e3 * e3;
		}
		memcpy(out + b, &s0, sizeof(s0));
		memcpy(out + b + LANES, &s1, sizeof(s1));
		memcpy(out + b + 2 * LANES, &s2, sizeof(s2));
		memcpy(out + b + 3 * LANES, &s3, sizeof(s3));
	}
	for (; b < ld; b += LANES) {
		v8f s0 = { 0 }, e0;

		for (int64_t j = 0; j < d; j++) {
			memcpy(&e0, cols + j * ld + b, sizeof(e0));
			e0 = cols[j * ld + c] - e0;
			s0 += e0 * e0;
		}
		memcpy(out + b, &s0, sizeof(s0));
	}
}

#ifdef HAVE_AVX2_KERNEL
__attribute__((target("avx2")))
static void distances_avx2(const float *cols, int64_t d, int64_t ld, int64_t c, int64_t b0, float *out)
{
	distances_body(cols, d, ld, c, b0, out);
}
#endif

static void column_distances(const float *cols, int64_t d, int64_t ld, int64_t c, int64_t b0, float *out)
{
#ifdef HAVE_AVX2_KERNEL
	if (__builtin_cpu_supports("avx2")) {
		distances_avx2(cols, d, ld, c, b0, out);
		return;
	}
#endif
	distances_body(cols, d, ld, c, b0, out);
}

/*
 * Where key goes in the ascending list l of k keys: the first of l[0 .. k - 1) that is not
 * before it, else k - 1. Branch-free (the comparisons are coin flips to a predictor).
 */
static int64_t list_find(const uint64_t *l, int64_t k, uint64_t key)
{
	const uint64_t *base = l;
	int64_t len = k - 1;

	while (len > 1) {
		int64_t half = len / 2;

		base = key_before(base[half - 1], key) ? base + half : base;
		len -= half;
	}
	return base - l + (len == 1 && key_before(*base, key));
}

/* Whether key's (distance, row) is in the list (a pair always has the same distance). */
static bool listed(const uint64_t *l, int64_t k, uint64_t key)
{
	return l[list_find(l, k, key)] >> 2 == key >> 2;
}

/*
 * Offer key to the ascending list l of k keys. It enters unless it does not come before
 * the last key or is already listed; the last key drops out into *out. Returns whether it
 * entered.
 */
static bool list_insert(uint64_t *l, int64_t k, uint64_t key, uint64_t *out)
{
	int64_t at;

	if (!key_before(key, l[k - 1]))
		return false;
	at = list_find(l, k, key);
	if (l[at] >> 2 == key >> 2)
		return false;
	*out = l[k - 1];
	memmove(l + at + 1, l + at, (size_t)(k - 1 - at) * sizeof(*l));
	l[at] = key;
	return true;
}

static uint64_t *row_list(const struct approx *a, int64_t u)
{
	return a->list + u * a->k;
}

static void insert_new(struct approx *a, int64_t u, int64_t v, float dd)
{
	uint64_t out;

	list_insert(row_list(a, u), a->k, make_key(dd, v, FLAG_NEW), &out);
}

static bool row_full(const struct approx *a, int64_t u)
{
	return row_list(a, u)[a->k - 1] != EMPTY;
}

/*
 * Check x and find the centre (mean, d doubles) and power-of-two scale of its float copies.
 * Neither changes which rows are nearest: centring keeps a large common offset from eating
 * float's 24 bits, and the scale keeps float squares away from overflow and underflow.
 * Values whose squared distances could overflow a double are refused, as knn.h does.
 */
static int scaling(struct approx *a, struct xf_err *err)
{
	const double *x = a->x;
	int64_t n = a->n, d = a->d;
	double big = 0;

	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++) {
			if (!isfinite(x[i * d + j]))
				return xf_err_set(err, XF_E_FORMAT, "row %lld, column %lld: not a finite value",
						  (long long)i, (long long)j);
			a->mean[j] += x[i * d + j] / (double)n;
		}
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++)
			big = fmax(big, fabs(x[i * d + j] - a->mean[j]));
	if (!(4 * big * big * (double)(d + 1) <= DBL_MAX))
		return xf_err_set(err, XF_E_FORMAT, "values up to %g: their squared distances would overflow", big);
	a->scale = big > 0 ? ldexp(1, -ilogb(big)) : 1;
	return 0;
}

/* Row i of the float copy is row order[i] of x (row i when order is NULL), padded with 0 to dp. */
static float *float_rows(const struct approx *a, const int32_t *order, struct xf_err *err)
{
	int64_t n = a->n, d = a->d, dp = a->dp;
	float *xf = malloc((size_t)(n * dp > 0 ? n * dp : 1) * sizeof(*xf));

	if (!xf) {
		xf_err_nomem(err, (size_t)(n * dp) * sizeof(*xf));
		return NULL;
	}
	for (int64_t i = 0; i < n; i++) {
		const double *row = a->x + (order ? order[i] : i) * d;

		for (int64_t j = 0; j < dp; j++)
			xf[i * dp + j] = j < d ? (float)((row[j] - a->mean[j]) * a->scale) : 0;
	}
	return xf;
}

/* ---- the forest ---- */

static void build_tree_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t tree = a->tree0 + t;

	if (tree < a->n_trees && xf_rptree_build(&a->trees[t], a->xf, a->n, a->dp, a->leaf_size, a->seed,
						  stream(STREAM_TREE, tree), &s->err) < 0)
		s->failed = true;
}

/*
 * Sort keys[0 .. n) ascending as far as the first `want` places go (a partial quicksort:
 * the keys after them are only known to be larger).
 */
static void sort_keys(uint64_t *keys, int64_t n, int64_t want)
{
	while (n > 16) {
		uint64_t x = keys[0], y = keys[n / 2], z = keys[n - 1], pivot;
		int64_t i = -1, j = n;

		pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
		for (;;) {              /* Hoare: keys[0 .. j] <= pivot <= keys[j + 1 .. n) */
			uint64_t t;

			do
				i++;
			while (keys[i] < pivot);
			do
				j--;
			while (keys[j] > pivot);
			if (i >= j)
				break;
			t = keys[i];
			keys[i] = keys[j];
			keys[j] = t;
		}
		if (j + 1 < want)
			sort_keys(keys + j + 1, n - j - 1, want - j - 1);
		n = j + 1;
	}
	for (int64_t i = 1; i < n; i++) {
		uint64_t key = keys[i];
		int64_t p = i;

		for (; p > 0 && keys[p - 1] > key; p--)
			keys[p] = keys[p - 1];
		keys[p] = key;
	}
}

/*
 * Merge the ascending, distinct candidate keys c[0 .. nc) (nc >= 1, all before the last
 * key) into the list l of k keys, which keeps its k smallest; a candidate equal to a listed
 * key is the same pair and is dropped. The keys before c[0] stay where they are.
 */
static void list_merge(uint64_t *l, int64_t k, const uint64_t *c, int64_t nc, uint64_t *tmp)
{
	int64_t at = list_find(l, k, c[0]), i = at, j = 0;

	for (int64_t o = at; o < k; o++) {
		if (j < nc && key_before(c[j], l[i])) {
			tmp[o - at] = c[j++];
		} else {
			if (j < nc && c[j] >> 2 == l[i] >> 2)
				j++;
			tmp[o - at] = l[i++];
		}
	}
	memcpy(l + at, tmp, (size_t)(k - at) * sizeof(*l));
}

/* Fill the lower triangle of the m x m block dm (row stride ld) from the upper, in 8 x 8 tiles. */
static void mirror(float *dm, int64_t m, int64_t ld)
{
	for (int64_t i0 = 0; i0 < m; i0 += 8)
		for (int64_t j0 = 0; j0 <= i0; j0 += 8)
			for (int64_t i = i0; i < i0 + 8 && i < m; i++)
				for (int64_t j = j0; j < j0 + 8 && j < i; j++)
					dm[i * ld + j] = dm[j * ld + i];
}

/* Row ids[p] of a leaf of m receives the others that pass its bar, at the distances in dm[p]. */
static void update_from_leaf(struct approx *a, struct task *s, const int32_t *ids, int64_t m, int64_t ld, int64_t p)
{
	uint64_t *l = row_list(a, ids[p]), bar = l[a->k - 1];
	const float *dd = s->dm + p * ld;
	int64_t nc = 0;

	for (int64_t q = 0; q < m; q++) {       /* branch-free: most fail */
		uint64_t key = make_key(dd[q], ids[q], FLAG_NEW);

		s->cand[nc] = key;
		nc += key_before(key, bar) & (q != p);
	}
	if (nc == 0)
		return;
	sort_keys(s->cand, nc, a->k);
	list_merge(l, a->k, s->cand, nc < a->k ? nc : a->k, s->merged);
}

/*
 * Every pair of the m rows ids[] is offered to both rows' lists: all distances first, into
 * the upper triangle of dm, then one sorted merge per row rather than an insertion per pair.
 */
static void join_leaf(struct approx *a, struct task *s, const int32_t *ids, int64_t m)
{
	int64_t ld = round_up(m, LANES);

	gather(a, ids, m, ld, s->cols);
	for (int64_t p = 0; p + 1 < m; p++)
		column_distances(s->cols, a->d, ld, p, (p + 1) / LANES * LANES, s->dm + p * ld);
	mirror(s->dm, m, ld);
	for (int64_t p = 0; p < m; p++)
		update_from_leaf(a, s, ids, m, ld, p);
}

/* A row is in exactly one leaf of a tree, so tasks joining different leaves never meet. */
static void join_leaves_task(struct approx *a, struct task *s, int64_t t)
{
	const struct xf_rptree *tree = a->tree;
	int64_t lo, hi;

	span(a, tree->n_leaves, t, &lo, &hi);
	for (int64_t l = lo; l < hi; l++)
		join_leaf(a, s, tree->perm + tree->start[l], tree->start[l + 1] - tree->start[l]);
}

/*
 * The first tree also orders the working rows: leaf after leaf, so that rows which are near
 * each other are mostly near in memory too, and a centre's candidates, their float rows and
 * their lists share cache lines with the next centre's. Its leaves become ranges.
 */
static int first_tree(struct approx *a, struct xf_err *err)
{
	struct xf_rptree t;
	int rc = xf_rptree_build(&t, a->xf, a->n, a->dp, a->leaf_size, a->seed, stream(STREAM_TREE, 0), err);

	if (rc == 0) {
		a->order = t.perm;
		if (!(t.perm = malloc((size_t)a->n * sizeof(*t.perm))))
			rc = xf_err_nomem(err, (size_t)a->n * sizeof(*t.perm));
	}
	if (rc == 0) {
		for (int64_t i = 0; i < a->n; i++)
			t.perm[i] = (int32_t)i;
		free(a->xf);
		if (!(a->xf = float_rows(a, a->order, err)))
			rc = -1;
	}
	if (rc == 0) {
		a->tree = &t;
		run_tasks(a, join_leaves_task);
	}
	xf_rptree_release(&t);
	return rc;
}

/* Trees after the first are built n_tasks at a time, one per task, then joined one after the other. */
static int forest(struct approx *a, struct xf_err *err)
{
	int64_t n_trees = 5 + llround(sqrt((double)a->n) / 20);
	int rc;

	a->leaf_size = a->k * 5 < 256 ? a->k * 5 : 256;
	a->leaf_size = a->leaf_size > 60 ? a->leaf_size : 60;
	a->n_trees = a->n <= a->leaf_size ? 1 : n_trees < 64 ? n_trees : 64;
	if ((rc = first_tree(a, err)) < 0)
		return -1;
	if (!(a->trees = calloc((size_t)a->n_tasks, sizeof(*a->trees))))
		return xf_err_nomem(err, (size_t)a->n_tasks * sizeof(*a->trees));
	for (a->tree0 = 1; a->tree0 < a->n_trees && rc == 0; a->tree0 += a->n_tasks) {
		run_tasks(a, build_tree_task);
		rc = check_tasks(a, err);
		for (int t = 0; t < a->n_tasks && a->tree0 + t < a->n_trees && rc == 0; t++) {
			a->tree = &a->trees[t];
			run_tasks(a, join_leaves_task);
		}
		for (int t = 0; t < a->n_tasks; t++)
			xf_rptree_release(&a->trees[t]);
	}
	free(a->trees);
	a->trees = NULL;
	return rc;
}

/*
 * Complete a list the leaves left short (leaves can be smaller than k + 1) with the rows
 * that follow a random one, so that NN-descent starts from k neighbours everywhere.
 */
static void fill_row(struct approx *a, struct task *s, int64_t u)
{
	struct xf_rng r;
	int64_t v;

	xf_rng_init(&r, a->seed, stream(STREAM_FILL, u));
	v = (int64_t)xf_rng_below(&r, (uint64_t)a->n);
	for (int64_t c = 0; c < a->n && !row_full(a, u); c++, v = (v + 1) % a->n) {
		int32_t ids[2] = { (int32_t)u, (int32_t)v };

		if (v == u)
			continue;
		gather(a, ids, 2, LANES, s->cols);
		column_distances(s->cols, a->d, LANES, 0, 0, s->dm);
		insert_new(a, u, v, s->dm[1]);
	}
}

static void fill_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	span(a, a->n, t, &lo, &hi);
	for (int64_t u = lo; u < hi; u++)
		if (!row_full(a, u))
			fill_row(a, s, u);
}

/* ---- NN-descent: sampling candidates ---- */

/*
 * The round's random priority of the edge {i, v}: a pure function of the pair (SplitMix64's
 * finaliser), so that the two copies of an edge listed both ways rank alike, and the same
 * whichever task computes it.
 */
static uint64_t priority(uint64_t key, int64_t i, int64_t v)
{
	uint64_t lo = (uint64_t)(i < v ? i : v), hi = (uint64_t)(i < v ? v : i);
	uint64_t z = key + (lo << 32 | hi) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31)) >> 32;
}

static void sift_down64(uint64_t *h, int64_t m, int64_t p)
{
	uint64_t key = h[p];

	for (int64_t c; (c = 2 * p + 1) < m; p = c) {
		if (c + 1 < m && h[c + 1] > h[c])
			c++;
		if (h[c] <= key)
			break;
		h[p] = h[c];
	}
	h[p] = key;
}

/* Keep the MAX_CANDIDATES smallest keys offered, in a max-heap. */
static void candidate_push(uint64_t *h, uint8_t *count, uint64_t key)
{
	int64_t p = *count;

	if (p == MAX_CANDIDATES) {
		if (key < h[0]) {
			h[0] = key;
			sift_down64(h, MAX_CANDIDATES, 0);
		}
		return;
	}
	for (; p > 0 && h[(p - 1) / 2] < key; p = (p - 1) / 2)
		h[p] = h[(p - 1) / 2];
	h[p] = key;
	(*count)++;
}

/*
 * Candidates of the rows task t owns, from every list entry i -> v: v for i (forward) and
 * i for v (reverse), into the new or old heap after the entry's flag. Every task reads the
 * whole graph; each heap hears its offers in the same order whatever the task count.
 */
static void sample_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	(void)s;
	span(a, a->n, t, &lo, &hi);
	memset(a->n_new + lo, 0, (size_t)(hi - lo));
	memset(a->n_old + lo, 0, (size_t)(hi - lo));
	for (int64_t i = 0; i < a->n; i++)
		for (int64_t j = 0; j < a->k; j++) {
			uint64_t w = a->list[i * a->k + j];
			int64_t v = key_row(w);
			bool fwd = i >= lo && i < hi, rev = v >= lo && v < hi;
			uint64_t *heaps = w & FLAG_NEW ? a->cand_new : a->cand_old;
			uint8_t *count = w & FLAG_NEW ? a->n_new : a->n_old;
			uint64_t pri;

			if (!fwd && !rev)
				continue;
			pri = priority(a->round_key, i, v) << 32;
			if (fwd)
				candidate_push(heaps + i * MAX_CANDIDATES, &count[i], pri | (uint64_t)v);
			if (rev)
				candidate_push(heaps + v * MAX_CANDIDATES, &count[v], pri | (uint64_t)i);
		}
}

/* Sort a heap's keys ascending and drop repeats (an edge listed both ways); returns the count left. */
static uint8_t sort_unique(uint64_t *h, int64_t m)
{
	int64_t u = 0;

	for (int64_t end = m - 1; end > 0; end--) {
		uint64_t top = h[0];

		h[0] = h[end];
		h[end] = top;
		sift_down64(h, end, 0);
	}
	for (int64_t i = 0; i < m; i++)
		if (u == 0 || h[i] != h[u - 1])
			h[u++] = h[i];
	return (uint8_t)u;
}

/*
 * A new entry i -> v sampled as a candidate of i becomes old (pynndescent's rule). Its key
 * is in i's heap exactly when the heap is not full or the key is not above the root.
 */
static void select_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	(void)s;
	span(a, a->n, t, &lo, &hi);
	for (int64_t i = lo; i < hi; i++) {
		uint64_t *hn = a->cand_new + i * MAX_CANDIDATES;

		for (int64_t j = 0; j < a->k; j++) {
			uint64_t *w = &a->list[i * a->k + j];
			int64_t v = key_row(*w);

			if ((*w & FLAG_NEW) &&
			    (a->n_new[i] < MAX_CANDIDATES || (priority(a->round_key, i, v) << 32 | (uint64_t)v) <= hn[0]))
				*w &= ~FLAG_NEW;
		}
		a->n_new[i] = sort_unique(hn, a->n_new[i]);
		a->n_old[i] = sort_unique(a->cand_old + i * MAX_CANDIDATES, a->n_old[i]);
	}
}

/* ---- NN-descent: the local join ---- */

static void propose(struct task *s, int32_t u, int32_t v, float dd)
{
	if (s->n_prop == s->cap_prop) {
		int64_t cap = s->cap_prop ? 2 * s->cap_prop : 65536;
		struct proposal *p = realloc(s->prop, (size_t)cap * sizeof(*p));

		if (!p) {
			s->failed = true;
			xf_err_nomem(&s->err, (size_t)cap * sizeof(*p));
			return;
		}
		s->prop = p;
		s->cap_prop = cap;
	}
	s->prop[s->n_prop++] = (struct proposal){ u, v, dd };
}

/*
 * Candidate r of the centre against each partner the join gave it (every other candidate if
 * r is new, the new ones if r is old): a partner is proposed for r's list when it passes
 * the bar and is not listed yet. In a graph that is nearly right most partners that pass
 * are listed already, so the test matters, and taking one row at a time keeps its list in
 * L1 while it is searched.
 */
static void check_row(const struct approx *a, struct task *s, int64_t nn, int64_t m, int64_t ld, int64_t r)
{
	int32_t u = s->list[r];
	const uint64_t *l = row_list(a, u);
	uint64_t bar = l[a->k - 1];
	float bar_dist = key_dist(bar);

	for (int64_t x = 0; x < (r < nn ? m : nn); x++) {
		float dd;
		uint64_t key;

		if (x == r)     /* r itself: dm's diagonal is not always computed */
			continue;
		dd = x < r ? s->dm[x * ld + r] : s->dm[r * ld + x];
		key = make_key(dd, s->list[x], 0);
		if (dd <= bar_dist && key_before(key, bar) && s->list[x] != u && !listed(l, a->k, key))
			propose(s, u, s->list[x], dd);
	}
}

/*
 * Centre c's local join: new x new and new x old, i.e. each new candidate with every later
 * one. The distances go to dm (row p: new candidate p to the later ones), then each
 * candidate's partners are checked against its list.
 */
static void join_centre(struct approx *a, struct task *s, int64_t c)
{
	const uint64_t *hn = a->cand_new + c * MAX_CANDIDATES, *ho = a->cand_old + c * MAX_CANDIDATES;
	int64_t nn = a->n_new[c], m = 0, ld;

	if (nn == 0)
		return;
	for (int64_t q = 0; q < nn; q++)
		s->list[m++] = (int32_t)(uint32_t)hn[q];
	for (int64_t q = 0; q < a->n_old[c]; q++)
		s->list[m++] = (int32_t)(uint32_t)ho[q];
	ld = round_up(m, LANES);
	gather(a, s->list, m, ld, s->cols);
	for (int64_t p = 0; p < nn; p++)
		column_distances(s->cols, a->d, ld, p, (p + 1) / LANES * LANES, s->dm + p * ld);
	for (int64_t r = 0; r < m; r++)
		check_row(a, s, nn, m, ld, r);
}

/* Lists are only read while proposals are collected, so every bar is the block's start value. */
static void propose_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	s->n_prop = 0;
	span(a, a->b1 - a->b0, t, &lo, &hi);
	for (int64_t c = a->b0 + lo; c < a->b0 + hi; c++)
		join_centre(a, s, c);
}

/* Counts +1 for an entry that went in and -1 when it is pushed out again in the same block. */
static void apply_one(struct approx *a, struct task *s, const struct proposal *p)
{
	uint64_t *l = row_list(a, p->u), key = make_key(p->d, p->v, FLAG_NEW | FLAG_FRESH), out;

	if (!key_before(key, l[a->k - 1]))
		return;
	if (a->epoch[p->u] != a->block) {
		for (int64_t j = 0; j < a->k; j++)
			l[j] &= ~FLAG_FRESH;
		a->epoch[p->u] = a->block;
	}
	if (list_insert(l, a->k, key, &out))
		s->updates += !(out & FLAG_FRESH);
}

/* Task t applies every buffer's proposals for the rows it owns. */
static void apply_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	span(a, a->n, t, &lo, &hi);
	for (int r = 0; r < a->n_tasks; r++) {
		const struct task *o = &a->task[r];

		for (int64_t i = 0; i < o->n_prop; i++)
			if (o->prop[i].u >= lo && o->prop[i].u < hi)
				apply_one(a, s, &o->prop[i]);
	}
}

/* One round over all centres, JOIN_BLOCK at a time; returns the net list changes or -1. */
static int64_t round_of_joins(struct approx *a, struct xf_err *err)
{
	int64_t updates = 0;

	run_tasks(a, sample_task);
	run_tasks(a, select_task);
	for (a->b0 = 0; a->b0 < a->n; a->b0 = a->b1) {
		a->b1 = a->n - a->b0 < JOIN_BLOCK ? a->n : a->b0 + JOIN_BLOCK;
		a->block++;
		run_tasks(a, propose_task);
		if (check_tasks(a, err) < 0)
			return -1;
		run_tasks(a, apply_task);
	}
	for (int t = 0; t < a->n_tasks; t++) {
		updates += a->task[t].updates;
		a->task[t].updates = 0;
	}
	return updates;
}

static int descend(struct approx *a, struct xf_err *err)
{
	int64_t rounds = llround(log2((double)a->n)), n = a->n, updates;
	size_t heaps = (size_t)n * MAX_CANDIDATES * sizeof(uint64_t);
	struct xf_rng r;
	int rc = 0;

	a->cand_new = malloc(heaps);
	a->cand_old = malloc(heaps);
	a->n_new = malloc((size_t)n);
	a->n_old = malloc((size_t)n);
	a->epoch = calloc((size_t)n, sizeof(*a->epoch));
	if (!a->cand_new || !a->cand_old || !a->n_new || !a->n_old || !a->epoch)
		rc = xf_err_nomem(err, 2 * heaps);
	xf_rng_init(&r, a->seed, stream(STREAM_ROUND, 0));
	for (int64_t i = 0; i < (rounds > 5 ? rounds : 5) && rc == 0; i++) {
		a->round_key = xf_rng_next(&r);
		if ((updates = round_of_joins(a, err)) < 0)
			rc = -1;
		else if (updates <= DELTA * (double)a->k * (double)n)
			break;
	}
	free(a->cand_new);
	free(a->cand_old);
	free(a->n_new);
	free(a->n_old);
	free(a->epoch);
	return rc;
}

/* ---- results ---- */

static double sqdist(const double *a, const double *b, int64_t d)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int64_t j = 0;

	for (; j + 4 <= d; j += 4) {
		s0 += (a[j] - b[j]) * (a[j] - b[j]);
		s1 += (a[j + 1] - b[j + 1]) * (a[j + 1] - b[j + 1]);
		s2 += (a[j + 2] - b[j + 2]) * (a[j + 2] - b[j + 2]);
		s3 += (a[j + 3] - b[j + 3]) * (a[j + 3] - b[j + 3]);
	}
	for (; j < d; j++)
		s0 += (a[j] - b[j]) * (a[j] - b[j]);
	return (s0 + s1) + (s2 + s3);
}

/*
 * Working row u is row order[u] of x: its neighbours' rows of x with exact distances, sorted
 * by (distance, index). The distances go to their final place in dist2; the indices
 * overwrite u's list, for permute_rows() to move.
 */
static void finish_row(const struct approx *a, int64_t u, int64_t *li)
{
	int64_t k = a->k, self = a->order[u];
	double *ld = a->dist2 + self * k;

	for (int64_t j = 0; j < k; j++) {
		li[j] = a->order[key_row(a->list[u * k + j])];
		ld[j] = sqdist(a->x + self * a->d, a->x + li[j] * a->d, a->d);
	}
	for (int64_t j = 1; j < k; j++) {       /* insertion sort: the float order is nearly right */
		double dd = ld[j];
		int64_t v = li[j], p = j;

		for (; p > 0 && before(dd, v, ld[p - 1], li[p - 1]); p--) {
			ld[p] = ld[p - 1];
			li[p] = li[p - 1];
		}
		ld[p] = dd;
		li[p] = v;
	}
}

static void finish_task(struct approx *a, struct task *s, int64_t t)
{
	int64_t lo, hi;

	(void)s;
	span(a, a->n, t, &lo, &hi);
	for (int64_t u = lo; u < hi; u++)
		finish_row(a, u, a->idx + u * a->k);
}

/* Move row u of the n x k array m to row to[u], for every u, along the permutation's cycles. */
static int permute_rows(int64_t *m, int64_t n, int64_t k, const int32_t *to, struct xf_err *err)
{
	bool *moved = calloc((size_t)n, sizeof(*moved));
	int64_t *carry = malloc((size_t)k * sizeof(*carry)), *next = malloc((size_t)k * sizeof(*next));
	size_t row = (size_t)k * sizeof(*m);

	if (!moved || !carry || !next) {
		free(moved);
		free(carry);
		free(next);
		return xf_err_nomem(err, (size_t)n);
	}
	for (int64_t start = 0; start < n; start++) {
		if (moved[start])
			continue;
		memcpy(carry, m + start * k, row);
		for (int64_t u = start; !moved[u]; u = to[u]) {      /* carry holds what was row u */
			memcpy(next, m + to[u] * k, row);
			memcpy(m + to[u] * k, carry, row);
			memcpy(carry, next, row);
			moved[u] = true;
		}
	}
	free(moved);
	free(carry);
	free(next);
	return 0;
}

/* ---- setup ---- */

static int alloc_tasks(struct approx *a, struct xf_err *err)
{
	size_t cols = (size_t)(a->d > 0 ? a->d : 1) * LEAF_MAX * sizeof(float);

	if (!(a->task = calloc((size_t)a->n_tasks, sizeof(*a->task))))
		return xf_err_nomem(err, (size_t)a->n_tasks * sizeof(*a->task));
	for (int t = 0; t < a->n_tasks; t++) {
		struct task *s = &a->task[t];

		s->err = (struct xf_err)XF_ERR_INIT;
		s->cols = malloc(cols);
		s->list = malloc(2 * MAX_CANDIDATES * sizeof(*s->list));
		s->dm = malloc(LEAF_MAX * LEAF_MAX * sizeof(*s->dm));
		s->cand = malloc(LEAF_MAX * sizeof(*s->cand));
		s->merged = malloc((size_t)a->k * sizeof(*s->merged));
		if (!s->cols || !s->list || !s->dm || !s->cand || !s->merged)
			return xf_err_nomem(err, cols);
	}
	return 0;
}

static void free_tasks(struct approx *a)
{
	for (int t = 0; a->task && t < a->n_tasks; t++) {
		free(a->task[t].cols);
		free(a->task[t].list);
		free(a->task[t].dm);
		free(a->task[t].cand);
		free(a->task[t].merged);
		free(a->task[t].prop);
	}
	free(a->task);
}

/* The whole search, once the task scratch is there; a's arrays are freed by the caller. */
static int search(struct approx *a, struct xf_err *err)
{
	if (scaling(a, err) < 0 || !(a->xf = float_rows(a, NULL, err)))
		return -1;
	for (int64_t i = 0; i < a->n * a->k; i++)
		a->list[i] = EMPTY;
	if (forest(a, err) < 0)
		return -1;
	run_tasks(a, fill_task);
	if (descend(a, err) < 0)
		return -1;
	run_tasks(a, finish_task);
	return permute_rows(a->idx, a->n, a->k, a->order, err);
}

int xf_knn_approx(const double *x, int64_t n, int64_t d, int64_t k, uint64_t seed, int threads, int64_t *idx,
		  double *dist2, struct xf_err *err)
{
	struct approx a = { .x = x, .n = n, .d = d, .dp = round_up(d, LANES), .k = k, .list = (uint64_t *)idx,
			    .dist2 = dist2, .idx = idx, .seed = seed };
	int rc;

	if (n < 2 || k < 1 || k >= n)
		return xf_err_set(err, XF_E_USAGE, "%lld nearest neighbours of %lld rows: need 1 <= k < rows",
				  (long long)k, (long long)n);
	if (d < 0)
		return xf_err_set(err, XF_E_USAGE, "rows of %lld values", (long long)d);
	if (n > MAX_ROWS)
		return xf_err_set(err, XF_E_LIMIT, "%lld rows: approximate neighbours take at most %lld",
				  (long long)n, MAX_ROWS);
	a.n_tasks = threads > 0 ? (threads < MAX_TASKS ? threads : MAX_TASKS) : xf_cores();
	if (!(a.mean = calloc((size_t)(d > 0 ? d : 1), sizeof(*a.mean))))
		return xf_err_nomem(err, (size_t)d * sizeof(*a.mean));
	rc = alloc_tasks(&a, err);
	if (rc == 0)
		rc = search(&a, err);
	free_tasks(&a);
	free(a.xf);
	free(a.order);
	free(a.mean);
	return rc;
}

/* ---- recall ---- */

#define RECALL_GROUP 16          /* queries sharing one pass over x */

struct recall_job {
	const double *x;
	int64_t n, d, k;
	const int64_t *idx;
	const int64_t *query;    /* the sampled rows */
	double *hits;            /* per query: listed neighbours within the exact k-th distance */
};

/* Offer dd to the max-heap h of the k smallest distances so far. */
static void keep_smallest(double *h, int64_t k, double dd)
{
	int64_t p = 0;

	if (!(dd < h[0]))
		return;
	for (int64_t c; (c = 2 * p + 1) < k; p = c) {
		if (c + 1 < k && h[c + 1] > h[c])
			c++;
		if (h[c] <= dd)
			break;
		h[p] = h[c];
	}
	h[p] = dd;
}

/*
 * Queries q0..q1 (at most RECALL_GROUP) share one pass over the rows, so that x is read once
 * per group rather than once per query. heaps: RECALL_GROUP x k.
 */
static void recall_group(struct recall_job *job, int64_t q0, int64_t q1, double *heaps)
{
	int64_t n = job->n, d = job->d, k = job->k;

	for (int64_t i = 0; i < (q1 - q0) * k; i++)
		heaps[i] = INFINITY;
	for (int64_t j = 0; j < n; j++)
		for (int64_t q = q0; q < q1; q++)
			if (job->query[q] != j)
				keep_smallest(heaps + (q - q0) * k, k,
					      sqdist(job->x + job->query[q] * d, job->x + j * d, d));
	for (int64_t q = q0; q < q1; q++) {
		int64_t i = job->query[q], hits = 0;

		for (int64_t j = 0; j < k; j++) {
			int64_t v = job->idx[i * k + j];

			hits += v >= 0 && v < n && v != i && sqdist(job->x + i * d, job->x + v * d, d) <= heaps[(q - q0) * k];
		}
		job->hits[q] = (double)hits;
	}
}

static void recall_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct recall_job *job = ctx;
	double *heaps = malloc((size_t)(RECALL_GROUP * job->k) * sizeof(*heaps));

	for (int64_t q = begin; q < end; q += RECALL_GROUP) {
		int64_t q1 = end - q < RECALL_GROUP ? end : q + RECALL_GROUP;

		if (heaps)
			recall_group(job, q, q1, heaps);
		else
			for (int64_t i = q; i < q1; i++)
				job->hits[i] = NAN;
	}
	free(heaps);
}

double xf_knn_recall(const double *x, int64_t n, int64_t d, int64_t k, const int64_t *idx, int64_t sample,
		     uint64_t seed)
{
	int64_t m = sample < n ? sample : n, *rows;
	struct recall_job job = { .x = x, .n = n, .d = d, .k = k, .idx = idx };
	struct xf_rng r;
	double total = 0;

	if (k < 1 || k >= n || sample < 1)
		return NAN;
	rows = malloc((size_t)n * sizeof(*rows));
	job.hits = malloc((size_t)m * sizeof(*job.hits));
	if (!rows || !job.hits) {
		free(rows);
		free(job.hits);
		return NAN;
	}
	for (int64_t i = 0; i < n; i++)
		rows[i] = i;
	xf_rng_init(&r, seed, stream(STREAM_RECALL, 0));
	xf_rng_shuffle(&r, rows, n);
	job.query = rows;
	xf_parallel_for(m, 0, RECALL_GROUP, recall_chunk, &job);
	for (int64_t q = 0; q < m; q++)
		total += job.hits[q];
	free(rows);
	free(job.hits);
	return total / ((double)m * (double)k);
}
