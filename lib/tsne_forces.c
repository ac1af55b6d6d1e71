/*
 * tsne_forces: exact and Barnes-Hut repulsion, attraction and KL of t-SNE; see tsne_forces.h
 * and docs tsne.md §3, §4, §6.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhtree.h"
#include "tsne_forces.h"

#define MAX_THREADS 256
#define EXACT_CHUNK 16      /* points per work item: O(n) work each */
#define BH_CHUNK 8          /* point groups per work item (each allocates its list): up to GROUP_MAX points each */
#define ROW_CHUNK 1024      /* rows of P per work item */

#define INLINE static inline __attribute__((always_inline))

/* Multiversioned so that x86 machines with AVX2 divide 4 lanes at once; same results either way. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef MULTIVERSION
#define MULTIVERSION
#endif

typedef double v4d __attribute__((vector_size(4 * sizeof(double))));
typedef double v2d __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t v4i __attribute__((vector_size(4 * sizeof(int64_t))));
typedef float v4f __attribute__((vector_size(4 * sizeof(float))));

/* A loop over [0, n) handed out to workers in chunks, first come first served. */
struct par_for {
	void (*fn)(void *ctx, int64_t lo, int64_t hi);
	void *ctx;
	int64_t n, chunk;
	atomic_llong next;
};

static void *par_worker(void *arg)
{
	struct par_for *pf = arg;
	long long lo;

	while ((lo = atomic_fetch_add(&pf->next, pf->chunk)) < pf->n)
		pf->fn(pf->ctx, lo, lo + pf->chunk < pf->n ? lo + pf->chunk : pf->n);
	return NULL;
}

/*
 * Run fn over [0, n) on `threads` workers (0 or less: all cores), the caller being one of
 * them. Which worker takes which chunk does not matter: fn writes only the rows of its own
 * range, from read-only input. A thread that cannot be started leaves its chunks to the others.
 */
static void parallel_for(int64_t n, int64_t chunk, int threads, void (*fn)(void *, int64_t, int64_t),
			 void *ctx)
{
	struct par_for pf = { .fn = fn, .ctx = ctx, .n = n, .chunk = chunk };
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	int64_t chunks = (n + chunk - 1) / chunk;
	long t = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	t = t < 1 ? 1 : t > MAX_THREADS ? MAX_THREADS : t;
	t = t < chunks ? t : chunks > 0 ? chunks : 1;
	atomic_init(&pf.next, 0);
	for (long k = 1; k < t; k++)
		started[k] = !pthread_create(&tid[k], NULL, par_worker, &pf);
	par_worker(&pf);
	for (long k = 1; k < t; k++)
		if (started[k])
			pthread_join(tid[k], NULL);
}

static int check_args(int64_t n, int dim, double dof, struct xf_err *err)
{
	if (dim < 1 || dim > 3)
		return xf_err_set(err, XF_E_USAGE, "t-SNE output dimension %d is not 1, 2 or 3", dim);
	if (!(dof > 0) || !isfinite(dof))
		return xf_err_set(err, XF_E_USAGE, "kernel degrees of freedom %g is not positive and finite", dof);
	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "negative point count %lld", (long long)n);
	return 0;
}

/*
 * The kernel w = (1 + rho2/dof)^-dof, and in *fw the force weight w^((dof+1)/dof), which is
 * w / (1 + rho2/dof): one pow per pair, none when dof = 1 (`unit`).
 */
INLINE double kernel(double rho2, bool unit, double dof, double *fw)
{
	if (unit) {
		double q = 1 / (1 + rho2);

		*fw = q * q;
		return q;
	}
	double base = 1 + rho2 / dof, w = pow(base, -dof);

	*fw = w / base;
	return w;
}

/* ln w, without the underflow of w itself at large distances and large dof. */
static double log_kernel(double rho2, double dof)
{
	return -dof * log1p(rho2 / dof);
}

INLINE double diff2(const double *a, const double *b, int dim, double *d)
{
	double rho2 = 0;

	for (int c = 0; c < dim; c++) {
		d[c] = a[c] - b[c];
		rho2 += d[c] * d[c];
	}
	return rho2;
}

/* Everything a repulsion worker reads and the per-point rows it writes. */
struct rep_job {
	const double *y;
	int64_t n;
	int dim;
	bool unit;               /* dof == 1 */
	double dof, theta2;
	const struct xf_bhtree *tree;
	const uint32_t *groups;  /* Barnes-Hut: the nodes whose points share an interaction list */
	atomic_bool nomem;       /* a worker could not grow its list */
	double *frep;            /* n x dim */
	double *zi;              /* n: point i's share of z */
};

/* dim and unit are constants at every call site, so each combination gets its own loop. */
#define SPECIALISE(range_fn, job, lo, hi) do { \
	switch ((job)->dim * 2 + (job)->unit) { \
	case 2: range_fn(job, lo, hi, 1, false); break; \
	case 3: range_fn(job, lo, hi, 1, true); break; \
	case 4: range_fn(job, lo, hi, 2, false); break; \
	case 5: range_fn(job, lo, hi, 2, true); break; \
	case 6: range_fn(job, lo, hi, 3, false); break; \
	default: range_fn(job, lo, hi, 3, true); break; \
	} \
} while (0)

INLINE void exact_point(const struct rep_job *job, int64_t i, int dim, bool unit)
{
	const double *yi = job->y + i * dim;
	double f[3] = { 0, 0, 0 }, z = 0;

	for (int64_t j = 0; j < job->n; j++) {
		double d[3], fw, w;

		if (j == i)
			continue;
		w = kernel(diff2(yi, job->y + j * dim, dim, d), unit, job->dof, &fw);
		z += w;
		for (int c = 0; c < dim; c++)
			f[c] += fw * d[c];
	}
	for (int c = 0; c < dim; c++)
		job->frep[i * dim + c] = f[c];
	job->zi[i] = z;
}

INLINE void exact_range(const struct rep_job *job, int64_t lo, int64_t hi, int dim, bool unit)
{
	for (int64_t i = lo; i < hi; i++)
		exact_point(job, i, dim, unit);
}

static void exact_chunk(void *ctx, int64_t lo, int64_t hi)
{
	SPECIALISE(exact_range, (const struct rep_job *)ctx, lo, hi);
}

/*
 * Barnes-Hut by groups: the points of a small subtree (a group, at most GROUP_MAX points or
 * one leaf) share one interaction list, made by one walk of the tree, and are then summed
 * against it in a tight loop. A node is accepted for the whole group when it is accepted
 * for every point in it: width / d < theta with d the distance from its centre of mass to
 * the group's bounding box, so each point sees a list at least as fine as its own walk
 * would give. Nodes holding group points (the group's ancestors and its own subtree) are
 * opened down to leaves, so the group's own leaves enter the list as they are; for each
 * point its own leaf counts count - 1 (its twins).
 */
#define GROUP_MAX 32
#define LIST_START 1024   /* entries of a list before it first grows */

struct bh_list {
	double *x[3], *c;        /* accepted centres of mass by dimension, and their counts */
	int64_t len, cap;
	int n_own;               /* the group's own leaves: node ids and places in the list */
	uint32_t own_node[GROUP_MAX];
	int64_t own_at[GROUP_MAX];
};

static void free_list(struct bh_list *l)
{
	for (int d = 0; d < 3; d++)
		free(l->x[d]);
	free(l->c);
	l->x[0] = l->x[1] = l->x[2] = l->c = NULL;
	l->len = l->cap = 0;
}

/* Double the list's room; false if memory ran out (the list is then freed). */
static bool list_grow(struct bh_list *l, int dim)
{
	int64_t cap = l->cap ? 2 * l->cap : LIST_START;
	bool ok = true;

	for (int d = 0; d < dim; d++) {
		double *x = realloc(l->x[d], (size_t)cap * sizeof(double));

		ok = ok && x;
		l->x[d] = x ? x : l->x[d];
	}
	if (ok) {
		double *c = realloc(l->c, (size_t)cap * sizeof(double));

		ok = c != NULL;
		l->c = c ? c : l->c;
	}
	if (!ok)
		free_list(l);
	else
		l->cap = cap;
	return ok;
}

/* Squared distance from point p to the box [lo, hi] (0 inside). */
INLINE double box_dist2(const double *p, const double *lo, const double *hi, int dim)
{
	double s = 0;

	for (int d = 0; d < dim; d++) {
		double e = p[d] < lo[d] ? lo[d] - p[d] : p[d] > hi[d] ? p[d] - hi[d] : 0;

		s += e * e;
	}
	return s;
}

/* The interaction list of group g, in preorder. false if memory ran out. */
INLINE bool group_list(const struct rep_job *job, uint32_t g, const double *lo, const double *hi, int dim,
		       struct bh_list *l)
{
	const struct xf_bhnode *nodes = job->tree->nodes;
	const uint32_t n_nodes = (uint32_t)job->tree->n_nodes, g_end = nodes[g].skip;
	uint32_t k = 0;

	l->len = 0;
	l->n_own = 0;
	while (k < n_nodes) {
		const struct xf_bhnode *nd = &nodes[k];

		if (nd->skip != k + 1 && ((k <= g && g < nd->skip) || (g < k && k < g_end) ||
					  !(nd->width2 < job->theta2 * box_dist2(nd->com, lo, hi, dim)))) {
			k++;
			continue;
		}
		if (l->len == l->cap && !list_grow(l, dim))
			return false;
		if (g <= k && k < g_end && l->n_own < GROUP_MAX) {   /* one of the group's own leaves */
			l->own_node[l->n_own] = k;
			l->own_at[l->n_own++] = l->len;
		}
		for (int d = 0; d < dim; d++)
			l->x[d][l->len] = nd->com[d];
		l->c[l->len++] = nd->count;
		k = nd->skip;
	}
	return true;
}

/* Four entries from e of the list: differences from p and counts. */
INLINE void list_diffs(const struct bh_list *l, int64_t e, const v4d *px, const v4d *py, v4d *dx, v4d *dy,
			v4d *c)
{
	v4d cx, cy;

	memcpy(&cx, l->x[0] + e, sizeof(cx));
	memcpy(&cy, l->x[1] + e, sizeof(cy));
	memcpy(c, l->c + e, sizeof(*c));
	*dx = *px - cx;
	*dy = *py - cy;
}

/*
 * The 2-D, dof = 1 lanes of list_sums as explicit vectors (GCC does not vectorise the
 * generic loop), eight entries a step with one division per pair (as attraction_row_2d):
 * lane l takes entries l and l + 4 of each step. Returns the entries done.
 */
INLINE int64_t list_sums_2d(const struct bh_list *l, const double *yi, double *z, double *fx, double *fy)
{
	v4d vz = { 0, 0, 0, 0 }, vx = vz, vy = vz, one = { 1, 1, 1, 1 };
	v4d px = one * yi[0], py = one * yi[1];
	int64_t e = 0;

	for (; e + 8 <= l->len; e += 8) {
		v4d dxa, dya, ca, dxb, dyb, cb, ta, tb, r, qa, qb;

		list_diffs(l, e, &px, &py, &dxa, &dya, &ca);
		list_diffs(l, e + 4, &px, &py, &dxb, &dyb, &cb);
		ta = one + (dxa * dxa + dya * dya);
		tb = one + (dxb * dxb + dyb * dyb);
		r = one / (ta * tb);
		qa = tb * r;
		qb = ta * r;
		vz += ca * qa + cb * qb;
		ca = ca * (qa * qa);
		cb = cb * (qb * qb);
		vx += ca * dxa + cb * dxb;
		vy += ca * dya + cb * dyb;
	}
	for (int t = 0; t < 4; t++)
		z[t] = vz[t], fx[t] = vx[t], fy[t] = vy[t];
	return e;
}

/*
 * Point i's sums over the list, its own leaf counted without it (count - 1, 0 if it has no
 * twins). Lanes of LANES entries are summed apart and then together in a fixed order, so
 * the result does not depend on threads.
 */
#define LANES 4
INLINE void list_sums(const struct rep_job *job, struct bh_list *l, int64_t i, int dim, bool unit)
{
	const double *yi = job->y + i * dim;
	double f[3][LANES] = { { 0 } }, z[LANES] = { 0 }, d[3], fw, w;
	int64_t e = 0, own = 0;

	for (int t = 0; t < l->n_own; t++)
		if (l->own_node[t] == job->tree->leaf_of[i])
			own = l->own_at[t];
	l->c[own]--;
	if (dim == 2 && unit) {
		e = list_sums_2d(l, yi, z, f[0], f[1]);
		goto tail;
	}

	for (; e + LANES <= l->len; e += LANES)
		for (int t = 0; t < LANES; t++) {
			double rho2 = 0;

			for (int c = 0; c < dim; c++) {
				d[c] = yi[c] - l->x[c][e + t];
				rho2 += d[c] * d[c];
			}
			w = kernel(rho2, unit, job->dof, &fw);
			z[t] += l->c[e + t] * w;
			for (int c = 0; c < dim; c++)
				f[c][t] += l->c[e + t] * fw * d[c];
		}
tail:
	for (; e < l->len; e++) {
		double rho2 = 0;

		for (int c = 0; c < dim; c++) {
			d[c] = yi[c] - l->x[c][e];
			rho2 += d[c] * d[c];
		}
		w = kernel(rho2, unit, job->dof, &fw);
		z[0] += l->c[e] * w;
		for (int c = 0; c < dim; c++)
			f[c][0] += l->c[e] * fw * d[c];
	}
	l->c[own]++;
	job->zi[i] = (z[0] + z[1]) + (z[2] + z[3]);
	for (int c = 0; c < dim; c++)
		job->frep[i * dim + c] = (f[c][0] + f[c][1]) + (f[c][2] + f[c][3]);
}

/* The bounding box of group g's points. */
INLINE void group_box(const struct rep_job *job, uint32_t g, int dim, double *lo, double *hi)
{
	const struct xf_bhnode *nd = &job->tree->nodes[g];
	const uint32_t *order = job->tree->order;

	for (int c = 0; c < dim; c++)
		lo[c] = hi[c] = job->y[(int64_t)order[nd->first] * dim + c];
	for (uint32_t t = nd->first + 1; t < nd->first + nd->count; t++)
		for (int c = 0; c < dim; c++) {
			double v = job->y[(int64_t)order[t] * dim + c];

			lo[c] = v < lo[c] ? v : lo[c];
			hi[c] = v > hi[c] ? v : hi[c];
		}
}

INLINE void bh_range(const struct rep_job *job, int64_t lo, int64_t hi, int dim, bool unit)
{
	struct bh_list l = { .len = 0 };

	for (int64_t k = lo; k < hi; k++) {
		uint32_t g = job->groups[k];
		const struct xf_bhnode *nd = &job->tree->nodes[g];
		double blo[3], bhi[3];

		group_box(job, g, dim, blo, bhi);
		if (!group_list(job, g, blo, bhi, dim, &l)) {
			atomic_store((atomic_bool *)&job->nomem, true);
			return;
		}
		for (uint32_t t = nd->first; t < nd->first + nd->count; t++)
			list_sums(job, &l, job->tree->order[t], dim, unit);
	}
	free_list(&l);
}

MULTIVERSION static void bh_chunk(void *ctx, int64_t lo, int64_t hi)
{
	SPECIALISE(bh_range, (const struct rep_job *)ctx, lo, hi);
}

/* The groups in preorder: maximal subtrees of at most GROUP_MAX points, and leaves of more. */
static uint32_t *find_groups(const struct xf_bhtree *t, int64_t *count)
{
	uint32_t *groups = malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof(*groups)), k = 0;

	*count = 0;
	while (groups && k < (uint32_t)t->n_nodes) {
		const struct xf_bhnode *nd = &t->nodes[k];

		if (nd->count <= GROUP_MAX || nd->skip == k + 1) {
			groups[(*count)++] = k;
			k = nd->skip;
		} else {
			k++;
		}
	}
	return groups;
}

/* Run the repulsion loop over `items`, then z = sum of the per-point shares in index order. */
static int run_repulsion(struct rep_job *job, int64_t items, int64_t chunk, void (*fn)(void *, int64_t, int64_t),
			 int threads, double *z, struct xf_err *err)
{
	size_t bytes = (size_t)(job->n > 0 ? job->n : 1) * sizeof(double);
	double sum = 0;

	if (!(job->zi = malloc(bytes)))
		return xf_err_nomem(err, bytes);
	atomic_init(&job->nomem, false);
	parallel_for(items, chunk, threads, fn, job);
	for (int64_t i = 0; i < job->n; i++)
		sum += job->zi[i];
	*z = sum;
	free(job->zi);
	return atomic_load(&job->nomem) ? xf_err_nomem(err, (size_t)job->n * 4 * sizeof(double)) : 0;
}

int xf_tsne_repulsion_exact(const double *y, int64_t n, int dim, double dof, int threads, double *frep,
			    double *z, struct xf_err *err)
{
	struct rep_job job = { .y = y, .n = n, .dim = dim, .unit = dof == 1, .dof = dof, .frep = frep };

	if (check_args(n, dim, dof, err) < 0)
		return -1;
	return run_repulsion(&job, n, EXACT_CHUNK, exact_chunk, threads, z, err);
}

int xf_tsne_repulsion_bh(const double *y, int64_t n, int dim, double dof, double theta, int threads,
			 double *frep, double *z, struct xf_err *err)
{
	struct xf_bhtree tree = XF_BHTREE_INIT;
	struct rep_job job = { .y = y, .n = n, .dim = dim, .unit = dof == 1, .dof = dof,
			       .theta2 = theta * theta, .tree = &tree, .frep = frep };
	uint32_t *groups;
	int64_t n_groups;
	int rc;

	if (check_args(n, dim, dof, err) < 0)
		return -1;
	if (!(theta >= 0) || !isfinite(theta))
		return xf_err_set(err, XF_E_USAGE, "Barnes-Hut theta %g is not a finite number >= 0", theta);
	if (xf_bhtree_build_threads(&tree, y, n, dim, threads, err) < 0)
		return -1;
	if (!(groups = find_groups(&tree, &n_groups)))
		rc = xf_err_nomem(err, (size_t)n * sizeof(*groups));
	else
		job.groups = groups, rc = run_repulsion(&job, n_groups, BH_CHUNK, bh_chunk, threads, z, err);
	free(groups);
	xf_bhtree_release(&tree);
	return rc;
}

struct attr_job {
	const struct xf_csr *p;
	const float *valf;       /* P's values as float, or NULL: p->val */
	const double *y;
	int dim;
	double dof, exaggeration;
	double *fattr;
};

/* Nonzero e of P, from whichever copy the job has. */
INLINE double p_at(const struct attr_job *job, int64_t e)
{
	return job->valf ? job->valf[e] : job->p->val[e];
}

/* Eight nonzeros from e, as two vectors. */
INLINE void p_vec(const struct attr_job *job, int64_t e, v4d *a, v4d *b)
{
	if (job->valf) {
		v4f fa, fb;

		memcpy(&fa, job->valf + e, sizeof(fa));
		memcpy(&fb, job->valf + e + 4, sizeof(fb));
		*a = __builtin_convertvector(fa, v4d);
		*b = __builtin_convertvector(fb, v4d);
		return;
	}
	memcpy(a, job->p->val + e, sizeof(*a));
	memcpy(b, job->p->val + e + 4, sizeof(*b));
}

INLINE void attraction_range(const struct attr_job *job, int64_t lo, int64_t hi, int dim)
{
	const struct xf_csr *p = job->p;

	for (int64_t i = lo; i < hi; i++) {
		const double *yi = job->y + i * dim;
		double f[3] = { 0, 0, 0 };

		for (int64_t e = p->rowptr[i]; e < p->rowptr[i + 1]; e++) {
			double d[3], rho2 = diff2(yi, job->y + (int64_t)p->col[e] * dim, dim, d);
			double pq = p_at(job, e) / (1 + rho2 / job->dof);

			for (int c = 0; c < dim; c++)
				f[c] += pq * d[c];
		}
		for (int c = 0; c < dim; c++)
			job->fattr[i * dim + c] = job->exaggeration * f[c];
	}
}


/*
 * Four lanes of yi - y[col[l]] (l < 4) into dx, dy: each neighbour's (x, y) pair is one
 * 16-byte load, and two shuffles sort the four pairs into an x and a y vector.
 */
INLINE void gather_diffs(const double *y, const int32_t *col, const v4d *px, const v4d *py, v4d *dx, v4d *dy)
{
	v2d a0, a1, a2, a3;
	v4d lo, hi;

	memcpy(&a0, y + 2 * (int64_t)col[0], sizeof(a0));
	memcpy(&a1, y + 2 * (int64_t)col[1], sizeof(a1));
	memcpy(&a2, y + 2 * (int64_t)col[2], sizeof(a2));
	memcpy(&a3, y + 2 * (int64_t)col[3], sizeof(a3));
	lo = __builtin_shufflevector(a0, a1, 0, 1, 2, 3);
	hi = __builtin_shufflevector(a2, a3, 0, 1, 2, 3);
	*dx = *px - __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
	*dy = *py - __builtin_shufflevector(lo, hi, 1, 3, 5, 7);
}

/*
 * The 2-D attraction of row i, eight nonzeros at a time. Division bounds this loop, so the
 * two weights p_a / t_a and p_b / t_b of a lane come from one: r = 1 / (t_a t_b), then
 * p_a t_b r and p_b t_a r (within 2 ulps of the quotients; t >= 1, so nothing overflows
 * below |y| ~ 1e77). Lane l sums the nonzeros l and l + 4 of each step; the lanes and the
 * remainder are added in a fixed order, so the result depends only on P.
 */
INLINE void attraction_row_2d(const struct attr_job *job, int64_t i, bool unit, double *out)
{
	const struct xf_csr *p = job->p;
	const double *y = job->y, yx = y[2 * i], yy = y[2 * i + 1];
	int64_t e = p->rowptr[i], end = p->rowptr[i + 1];
	v4d fx = { 0, 0, 0, 0 }, fy = fx, one = { 1, 1, 1, 1 }, dof = one * job->dof, px = one * yx, py = one * yy;
	double rx = 0, ry = 0;

	for (; e + 8 <= end; e += 8) {
		v4d dxa, dya, dxb, dyb, pa, pb, ta, tb, r;

		gather_diffs(y, p->col + e, &px, &py, &dxa, &dya);
		gather_diffs(y, p->col + e + 4, &px, &py, &dxb, &dyb);
		p_vec(job, e, &pa, &pb);
		ta = dxa * dxa + dya * dya;
		tb = dxb * dxb + dyb * dyb;
		ta = one + (unit ? ta : ta / dof);
		tb = one + (unit ? tb : tb / dof);
		r = one / (ta * tb);
		pa = pa * (tb * r);
		pb = pb * (ta * r);
		fx += pa * dxa + pb * dxb;
		fy += pa * dya + pb * dyb;
	}
	for (; e < end; e++) {
		int64_t j = p->col[e];
		double dx = yx - y[2 * j], dy = yy - y[2 * j + 1], rho2 = dx * dx + dy * dy;
		double pq = p_at(job, e) / (1 + (unit ? rho2 : rho2 / job->dof));

		rx += pq * dx;
		ry += pq * dy;
	}
	out[0] = job->exaggeration * (((fx[0] + fx[1]) + (fx[2] + fx[3])) + rx);
	out[1] = job->exaggeration * (((fy[0] + fy[1]) + (fy[2] + fy[3])) + ry);
}

MULTIVERSION static void attraction_range_2d(const struct attr_job *job, int64_t lo, int64_t hi)
{
	if (job->dof == 1)   /* two loops, each without the test */
		for (int64_t i = lo; i < hi; i++)
			attraction_row_2d(job, i, true, job->fattr + 2 * i);
	else
		for (int64_t i = lo; i < hi; i++)
			attraction_row_2d(job, i, false, job->fattr + 2 * i);
}

static void attraction_chunk(void *ctx, int64_t lo, int64_t hi)
{
	const struct attr_job *job = ctx;

	if (job->dim == 1)
		attraction_range(job, lo, hi, 1);
	else if (job->dim == 2)
		attraction_range_2d(job, lo, hi);
	else
		attraction_range(job, lo, hi, 3);
}

int xf_tsne_attraction(const struct xf_csr *p, const double *y, int dim, double dof, double exaggeration,
		       int threads, double *fattr, struct xf_err *err)
{
	return xf_tsne_attraction_f32(p, NULL, y, dim, dof, exaggeration, threads, fattr, err);
}

int xf_tsne_attraction_f32(const struct xf_csr *p, const float *val, const double *y, int dim, double dof,
			   double exaggeration, int threads, double *fattr, struct xf_err *err)
{
	struct attr_job job = { .p = p, .valf = val, .y = y, .dim = dim, .dof = dof, .exaggeration = exaggeration,
				.fattr = fattr };

	if (check_args(p->n, dim, dof, err) < 0)
		return -1;
	parallel_for(p->n, ROW_CHUNK, threads, attraction_chunk, &job);
	return 0;
}

/*
 * With P' = a P: sum P' ln(P'/w) + (sum P') ln z = a [sum P ln(P/w) + (sum P)(ln z + ln a)],
 * so KL'/a - ln a = sum P ln(P/w) + (sum P) ln z + (sum P - 1) ln a, taken in that form to
 * avoid rounding through a.
 */
double xf_tsne_kl(const struct xf_csr *p, const double *y, int dim, double dof, double exaggeration,
		  double z)
{
	double total = 0, p_sum = 0;

	if (check_args(p->n, dim, dof, NULL) < 0 || !(exaggeration > 0) || !(z > 0))
		return NAN;
	for (int64_t i = 0; i < p->n; i++) {
		double row = 0, row_p = 0, d[3];

		for (int64_t e = p->rowptr[i]; e < p->rowptr[i + 1]; e++) {
			double pij = p->val[e];
			double rho2 = diff2(y + i * dim, y + (int64_t)p->col[e] * dim, dim, d);

			if (pij > 0) {       /* 0 ln 0 = 0 */
				row += pij * (log(pij) - log_kernel(rho2, dof));
				row_p += pij;
			}
		}
		total += row;
		p_sum += row_p;
	}
	return total + p_sum * log(z) + (p_sum - 1) * log(exaggeration);
}

double xf_tsne_plogp(const struct xf_csr *p)
{
	double total = 0;

	for (int64_t i = 0; i < p->n; i++) {
		double row = 0;

		for (int64_t e = p->rowptr[i]; e < p->rowptr[i + 1]; e++)
			if (p->val[e] > 0)
				row += p->val[e] * log(p->val[e]);
		total += row;
	}
	return total;
}

struct kl_job {
	const struct xf_csr *p;
	const double *y;
	int dim;
	double dof;
	double *part;            /* per ROW_CHUNK rows: -sum p ln w, then sum p */
};

/*
 * ln t for finite t >= 1 in 4 lanes, within a few ulps: t = 2^e m with m in [sqrt(1/2),
 * sqrt(2)), and ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^23
 * (the next term is below 2^-60). glibc's log1p, one lane at a time, took most of the KL's time.
 */
INLINE void log4(const v4d *tp, v4d *out)
{
	const v4d t = *tp;
	const v4d one = { 1, 1, 1, 1 }, half = one * 0.5, sqrt2 = one * 1.4142135623730951;
	const v4d ln2_hi = one * 6.93147180369123816490e-01, ln2_lo = one * 1.90821492927058770002e-10;
	v4i bits, mask, mbits, hbits;
	v4d m, mh, e, s, s2, poly = one * (1.0 / 23);

	memcpy(&bits, &t, sizeof(bits));
	mbits = (bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000;
	memcpy(&m, &mbits, sizeof(m));
	e = __builtin_convertvector((bits >> 52) - 1023, v4d);
	mask = m > sqrt2;                     /* lanes to halve: m in [sqrt 2, 2) */
	mh = m * half;
	memcpy(&hbits, &mh, sizeof(hbits));
	mbits = (mbits & ~mask) | (hbits & mask);
	memcpy(&m, &mbits, sizeof(m));
	e -= __builtin_convertvector(mask, v4d);   /* mask lanes are -1 */
	s = (m - one) / (m + one);
	s2 = s * s;
	for (int k = 10; k >= 1; k--)
		poly = poly * s2 + one * (1.0 / (2 * k + 1));
	*out = e * ln2_hi + (e * ln2_lo + 2 * (s + s * s2 * poly));
}

/*
 * Rows lo..hi of the 2-D, dof = 1 KL sums: -sum p ln w = sum p ln(1 + rho2) over p > 0, four
 * nonzeros at a time (lanes summed apart, then in a fixed order), into *sum and *p_sum.
 */
INLINE void kl_rows_2d(const struct kl_job *job, int64_t lo, int64_t hi, double *sum, double *p_sum)
{
	const struct xf_csr *p = job->p;
	const v4d one = { 1, 1, 1, 1 }, zero = one * 0;

	for (int64_t i = lo; i < hi; i++) {
		v4d px = one * job->y[2 * i], py = one * job->y[2 * i + 1], acc = zero, pacc = zero;
		int64_t e = p->rowptr[i], end = p->rowptr[i + 1];
		double row = 0, row_p = 0;

		for (; e + 4 <= end; e += 4) {
			v4d dx, dy, pv, l;
			v4i pos;

			gather_diffs(job->y, p->col + e, &px, &py, &dx, &dy);
			memcpy(&pv, p->val + e, sizeof(pv));
			l = one + (dx * dx + dy * dy);
			log4(&l, &l);
			pos = pv > zero;
			pv = (v4d)((v4i)pv & pos);   /* 0 ln 0 = 0; and no NaN from a negative p */
			acc += pv * l;
			pacc += pv;
		}
		for (; e < end; e++) {
			double dx = job->y[2 * i] - job->y[2 * (int64_t)p->col[e]];
			double dy = job->y[2 * i + 1] - job->y[2 * (int64_t)p->col[e] + 1];

			if (p->val[e] > 0) {
				row += p->val[e] * log1p(dx * dx + dy * dy);
				row_p += p->val[e];
			}
		}
		*sum += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + row;
		*p_sum += ((pacc[0] + pacc[1]) + (pacc[2] + pacc[3])) + row_p;
	}
}

MULTIVERSION static void kl_chunk(void *ctx, int64_t lo, int64_t hi)
{
	const struct kl_job *job = ctx;
	const struct xf_csr *p = job->p;
	double sum = 0, p_sum = 0, d[3];
	int64_t chunk = lo / ROW_CHUNK;

	if (job->dim == 2 && job->dof == 1) {
		kl_rows_2d(job, lo, hi, &sum, &p_sum);
		lo = hi;
	}
	for (int64_t i = lo; i < hi; i++) {
		double row = 0, row_p = 0;

		for (int64_t e = p->rowptr[i]; e < p->rowptr[i + 1]; e++) {
			double pij = p->val[e];

			if (pij > 0) {
				const double *yj = job->y + (int64_t)p->col[e] * job->dim;

				row -= pij * log_kernel(diff2(job->y + i * job->dim, yj, job->dim, d), job->dof);
				row_p += pij;
			}
		}
		sum += row;
		p_sum += row_p;
	}
	job->part[2 * chunk] = sum;
	job->part[2 * chunk + 1] = p_sum;
}

double xf_tsne_kl_threads(const struct xf_csr *p, double plogp, const double *y, int dim, double dof,
			  double exaggeration, double z, int threads)
{
	int64_t chunks = (p->n + ROW_CHUNK - 1) / ROW_CHUNK;
	struct kl_job job = { p, y, dim, dof, malloc((size_t)(2 * chunks + 1) * sizeof(double)) };
	double total = plogp, p_sum = 0;

	if (check_args(p->n, dim, dof, NULL) < 0 || !(exaggeration > 0) || !(z > 0)) {
		free(job.part);
		return NAN;
	}
	if (!job.part)
		return xf_tsne_kl(p, y, dim, dof, exaggeration, z);
	parallel_for(p->n, ROW_CHUNK, threads, kl_chunk, &job);
	for (int64_t c = 0; c < chunks; c++) {
		total += job.part[2 * c];
		p_sum += job.part[2 * c + 1];
	}
	free(job.part);
	return total + p_sum * log(z) + (p_sum - 1) * log(exaggeration);
}

double xf_tsne_kl_exact(const double *p_dense, const double *y, int64_t n, int dim, double dof)
{
	double z = 0, kl = 0, fw, d[3];

	if (check_args(n, dim, dof, NULL) < 0)
		return NAN;
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < n; j++)
			if (j != i)
				z += kernel(diff2(y + i * dim, y + j * dim, dim, d), false, dof, &fw);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < n; j++) {
			double pij = p_dense[i * n + j];

			if (j != i && pij > 0)
				kl += pij * (log(pij) - log_kernel(diff2(y + i * dim, y + j * dim, dim, d), dof) +
					     log(z));
		}
	return kl;
}
