/*
 * kmeans: k-means for xfer-prune's methods (docs prune.md sections 2, 3.4 and 7); the contract
 * is in kmeans.h. Distances come from single-threaded SGEMM on fixed blocks of BLOCK rows
 * against tiles of TILE centres (||x||^2 - 2 x.c + ||c||^2); workers claim whole blocks, each
 * block's result depends on its own rows alone, and every sum over rows runs in row or block
 * order, so results are bit-identical for any thread count.
 *
 * Lloyd iterations keep Hamerly's bounds (G. Hamerly, "Making k-means even faster", SDM 2010):
 * per row an upper bound u on the distance to its own centre and a lower bound l on the
 * distance to every other centre, and per centre s = half the distance to its nearest other
 * centre. As centres move, u grows by the own centre's drift and l shrinks by the largest
 * drift of the others, counted since the bounds were set (Newling and Fleuret's refinement,
 * see refresh_bounds); a row is looked at again only when u is not below max(s, l), first
 * with its exact distance to its own centre, then against every centre. Centre sums are kept
 * in double and updated with the rows that changed, in row order. The loop and its stopping
 * rule are scikit-learn's _kmeans_single_lloyd: stop when no label changed, or when the
 * squared centre shift is at most tol times the mean per-feature variance; then assign once
 * more so that labels and inertia belong to the final centres. Rows within float rounding of
 * a tie between two centres may keep the one they had (SLACK makes that window tiny).
 *
 * Empty clusters (Lloyd only): after an assignment, each empty cluster in ascending order is
 * given the row farthest (exact distance, ties to the lower index) from the centre it was
 * assigned to, among rows whose cluster keeps at least one other row, so no row serves two
 * empty clusters; the row moves to that cluster and becomes its centre. scikit-learn does
 * the same with the farthest rows but leaves their labels alone.
 *
 * Mini-batch (Sculley, "Web-scale k-means clustering", WWW 2010): each step draws `batch` rows
 * with replacement (stream 1 of the seed), assigns them to the centres of the start of the
 * step, then moves each row's centre towards it with rate 1 / (rows that centre has had so
 * far), in batch order. A pass is ceil(n / batch) steps; it stops after max_iter passes or
 * when a whole pass moved the centres by at most the tolerance above (with rates 1 / count
 * that takes many passes: max_iter is the practical limit). Centres that never win a row
 * keep their initial value (no reseeding). Labels and inertia come from a final full
 * assignment.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "linalg.h"
#include "nn_linear.h"
#include "parallel.h"
#include "rng.h"

#define BLOCK 256             /* rows per GEMM block: fixed, so that no result depends on the split */
#define TILE 256              /* centres per GEMM tile */
#define MAX_WORKERS 256
#define HIST_BYTES (16 << 20) /* cumulative drifts kept for Hamerly's bounds: at most 16 MiB */
#define SLACK 1e-6            /* relative margin on Hamerly's tests: rows this near a tie are recomputed */
#define STREAM_INIT 0         /* rng stream of k-means++ and random init */
#define STREAM_BATCH 1        /* rng stream of mini-batch sampling */

/* Scratch of one worker. */
struct ws {
	float *tile;          /* BLOCK x TILE GEMM output */
	double *dtile;        /* BLOCK x TILE, for centre-to-centre distances */
	float *xb;            /* BLOCK x d gathered rows */
	double *xbn;          /* BLOCK squared norms of xb */
	int64_t *rows;        /* BLOCK indices of the gathered rows */
	int64_t *best;        /* BLOCK nearest centre */
	double *d1, *d2;      /* BLOCK smallest and second smallest squared distance */
};

struct km {
	const float *x;       /* n x d rows (the normalised copy when spherical) */
	int64_t n, d, k;
	bool spherical;
	double *xn;           /* n squared row norms */
	float *c;             /* k x d centres, the ones every distance uses */
	double *cn;           /* k squared norms of c */
	int64_t *a;           /* n assigned centre */
	double *u, *l;        /* n Hamerly bounds (distances, not squared) as of update stamp[i], or NULL */
	int32_t *stamp;       /* n update after which u and l were last set */
	int32_t t;            /* updates done */
	int32_t hist_len;     /* updates whose cumulative drifts are kept (at least 2) */
	double *hist;         /* hist_len x k cumulative drift of each centre, by update (t % hist_len) */
	double *top;          /* hist_len x 3: for stamp T, largest drift since T, its centre, second largest */
	double *s;            /* k half distance from each centre to its nearest other */
	double *p;            /* k drift of each centre in the last update */
	int64_t *moved;       /* rows given to empty clusters in the last update */
	int64_t n_moved;
	struct ws ws[MAX_WORKERS];
	int workers;
};

typedef void (*block_fn)(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg);

struct run {
	struct km *km;
	block_fn fn;
	void *arg;
	int64_t n_rows, n_blocks;
	atomic_llong next;    /* next unclaimed block */
};

static void run_worker(void *ctx, int64_t t0, int64_t t1)
{
	struct run *r = ctx;
	long long b;

	for (int64_t t = t0; t < t1; t++)
		while ((b = atomic_fetch_add(&r->next, 1)) < r->n_blocks) {
			int64_t r0 = b * BLOCK, r1 = r0 + BLOCK < r->n_rows ? r0 + BLOCK : r->n_rows;

			r->fn(r->km, &r->km->ws[t], b, r0, r1, r->arg);
		}
}

/*
 * fn over the blocks of [0, n_rows), claimed one at a time by the workers (worker t uses
 * scratch ws[t]); fn gets the block index b and its rows r0..r1.
 */
static void over_blocks(struct km *km, int64_t n_rows, block_fn fn, void *arg)
{
	struct run r = { km, fn, arg, n_rows, (n_rows + BLOCK - 1) / BLOCK, 0 };
	int64_t parts = km->workers < r.n_blocks ? km->workers : r.n_blocks;

	atomic_init(&r.next, 0);
	xf_parallel_for(parts, (int)parts, 1, run_worker, &r);
}

/*
 * Nearest and second nearest of the centres for m contiguous rows xr with squared norms xrn:
 * indices in best (ties to the lowest index), squared distances in d1 and d2 (d2 infinite
 * when k = 1).
 */
static void nearest_two(const struct km *km, struct ws *w, const float *xr, const double *xrn, int64_t m,
			int64_t *best, double *d1, double *d2)
{
	int64_t k = km->k, d = km->d;

	for (int64_t i = 0; i < m; i++) {
		best[i] = 0;
		d1[i] = d2[i] = INFINITY;
	}
	for (int64_t j0 = 0; j0 < k; j0 += TILE) {
		int64_t kb = k - j0 < TILE ? k - j0 : TILE;
		const double *cn = km->cn + j0;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)kb, (int)d, -2.0f, xr, (int)d,
			    km->c + j0 * d, (int)d, 0.0f, w->tile, (int)kb);
		for (int64_t i = 0; i < m; i++) {
			const float *t = w->tile + i * kb;
			double b1 = d1[i], b2 = d2[i], xi = xrn[i];
			int64_t bi = best[i];

			for (int64_t j = 0; j < kb; j++) {
				double v = xi + cn[j] + t[j];

				if (v < b1) {
					b2 = b1;
					b1 = v;
					bi = j0 + j;
				} else if (v < b2) {
					b2 = v;
				}
			}
			best[i] = bi;
			d1[i] = b1;
			d2[i] = b2;
		}
	}
	for (int64_t i = 0; i < m; i++) {
		d1[i] = d1[i] > 0 ? d1[i] : 0;
		d2[i] = d2[i] > 0 ? d2[i] : 0;
	}
}

/*
 * Row loops in double over float data, written as fixed runs of LANES with one partial sum per
 * lane so that -O2 vectorises them; the order of the additions is fixed.
 */
#define LANES 8

static double lanes_sum(const double *acc, double tail)
{
	for (int q = 0; q < LANES; q++)
		tail += acc[q];
	return tail;
}

/* Squared distance between two float vectors. */
static double dist2_direct(const float *x, const float *c, int64_t d)
{
	double acc[LANES] = { 0 }, s = 0;
	int64_t j = 0;

	for (; j + LANES <= d; j += LANES)
		for (int q = 0; q < LANES; q++)
			acc[q] += ((double)x[j + q] - c[j + q]) * ((double)x[j + q] - c[j + q]);
	for (; j < d; j++)
		s += ((double)x[j] - c[j]) * ((double)x[j] - c[j]);
	return lanes_sum(acc, s);
}

/* Squared norm of a float vector. */
static double norm2(const float *x, int64_t d)
{
	double acc[LANES] = { 0 }, s = 0;
	int64_t j = 0;

	for (; j + LANES <= d; j += LANES)
		for (int q = 0; q < LANES; q++)
			acc[q] += (double)x[j + q] * x[j + q];
	for (; j < d; j++)
		s += (double)x[j] * x[j];
	return lanes_sum(acc, s);
}

/* s += x (sign 1) or s -= x (sign -1), w elements. */
static void add_row(double *s, const float *x, int64_t w, double sign)
{
	int64_t j = 0;

	for (; j + LANES <= w; j += LANES)
		for (int q = 0; q < LANES; q++)
			s[j + q] += sign * x[j + q];
	for (; j < w; j++)
		s[j] += sign * x[j];
}

/*
 * Squared distance from row i to centre j, from the norms and a dot product accumulated in
 * double (as fast as the float one here: both wait for the row to come from memory).
 */
static double own_dist2(const struct km *km, int64_t i, int64_t j)
{
	double v = km->xn[i] + km->cn[j] - 2.0 * cblas_dsdot((int)km->d, km->x + i * km->d, 1, km->c + j * km->d, 1);

	return v > 0 ? v : 0;
}

/* ---- preparation: norms, finiteness, spherical copy, tolerance ---- */

struct prep {
	const float *src;     /* caller's rows */
	float *dst;           /* normalised copy (spherical) or NULL */
	int64_t *bad;         /* per block: first row that is not finite, or -1 */
};

/*
 * Block of rows: refuse non-finite values (a NaN or an infinity makes the double sum of
 * squares non-finite, and float squares cannot overflow it), normalise into the copy when
 * spherical, and store the squared norms of the rows distances will use.
 */
static void prep_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	struct prep *p = arg;
	int64_t d = km->d;

	(void)w;
	p->bad[b] = -1;
	for (int64_t i = r0; i < r1; i++) {
		const float *xi = p->src + i * d;
		double s = norm2(xi, d);

		if (!isfinite(s)) {
			p->bad[b] = i;
			return;
		}
		if (p->dst) {
			float *yi = p->dst + i * d;
			double inv = s > 0 ? 1 / sqrt(s) : 0;

			for (int64_t j = 0; j < d; j++)
				yi[j] = (float)(xi[j] * inv);
			s = s > 0 ? norm2(yi, d) : 0;
		}
		km->xn[i] = s;
	}
}

/*
 * tol times the mean over features of the per-feature variance (scikit-learn's _tolerance),
 * as (sum of squared norms / n - squared norm of the mean) / d from the column sums.
 */
static double scaled_tol(const struct km *km, double tol, const double *colsum)
{
	double total = 0, mean2 = 0, n = (double)km->n, v;

	for (int64_t i = 0; i < km->n; i++)
		total += km->xn[i];
	for (int64_t j = 0; j < km->d; j++)
		mean2 += (colsum[j] / n) * (colsum[j] / n);
	v = (total / n - mean2) / (double)km->d;
	return tol * (v > 0 ? v : 0);
}

struct colsum {
	const struct km *km;
	double *sum;          /* d column sums */
};

/* Columns [c0, c1) summed in row order. */
static void colsum_chunk(void *ctx, int64_t c0, int64_t c1)
{
	struct colsum *cs = ctx;

	for (int64_t j = c0; j < c1; j++)
		cs->sum[j] = 0;
	for (int64_t i = 0; i < cs->km->n; i++)
		add_row(cs->sum + c0, cs->km->x + i * cs->km->d + c0, c1 - c0, 1);
}

/* ---- initialisation ---- */

static void set_centre_norms(struct km *km)
{
	for (int64_t j = 0; j < km->k; j++)
		km->cn[j] = norm2(km->c + j * km->d, km->d);
}

struct cand {
	const float *cx;      /* trials x d candidate rows */
	const int64_t *id;    /* trials row indices */
	double *cxn;          /* trials squared norms */
	int64_t trials;
	double *closest;      /* n squared distance to the nearest chosen centre */
	double *pot;          /* per block x trials: potential if the candidate were added */
	bool update;          /* one candidate: lower closest and store the block's potential */
};

/* Candidates' distances to the rows of a block: potential sums per candidate, or the update. */
static void cand_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	struct cand *c = arg;
	int64_t m = r1 - r0, t = c->trials, d = km->d;
	double *pot = c->pot + b * t;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)t, (int)d, -2.0f, km->x + r0 * d, (int)d,
		    c->cx, (int)d, 0.0f, w->tile, (int)t);
	for (int64_t q = 0; q < t; q++)
		pot[q] = 0;
	for (int64_t i = r0; i < r1; i++)
		for (int64_t q = 0; q < t; q++) {
			double v = km->xn[i] + c->cxn[q] + w->tile[(i - r0) * t + q];

			v = i == c->id[q] || v < 0 ? 0 : v;
			v = v < c->closest[i] ? v : c->closest[i];
			if (c->update)
				c->closest[i] = v;
			pot[q] += v;
		}
}

/* Sum of the per-block potentials of candidate q, in block order. */
static double block_sum(const double *pot, int64_t n_blocks, int64_t trials, int64_t q)
{
	double s = 0;

	for (int64_t b = 0; b < n_blocks; b++)
		s += pot[b * trials + q];
	return s;
}

/*
 * k-means++ as scikit-learn's _kmeans_plusplus: the first centre uniformly, then for each
 * next one 2 + floor(ln k) candidates drawn with probability proportional to the squared
 * distance to the nearest chosen centre (the first index whose cumulative sum reaches the
 * draw), keeping the candidate that leaves the smallest potential (the first on ties).
 */
static int init_plusplus(struct km *km, struct xf_rng *rng, struct xf_err *err)
{
	int64_t n = km->n, d = km->d, k = km->k, trials = 2 + (int64_t)log((double)k);
	int64_t n_blocks = (n + BLOCK - 1) / BLOCK, id[64];
	double *closest = malloc((size_t)n * sizeof(double)), *cum = malloc((size_t)n * sizeof(double));
	double *pot = malloc((size_t)(n_blocks * trials) * sizeof(double)), cxn[64], total;
	float *cx = malloc((size_t)(trials * d) * sizeof(float));
	struct cand c = { cx, id, cxn, 1, closest, pot, true };
	int rc = -1;

	if (!closest || !cum || !pot || !cx) {
		xf_err_nomem(err, (size_t)n * 2 * sizeof(double));
		goto out;
	}
	for (int64_t i = 0; i < n; i++)
		closest[i] = INFINITY;
	id[0] = (int64_t)xf_rng_below(rng, (uint64_t)n);
	memcpy(cx, km->x + id[0] * d, (size_t)d * sizeof(float));
	cxn[0] = km->xn[id[0]];
	over_blocks(km, n, cand_block, &c);
	total = block_sum(pot, n_blocks, 1, 0);
	memcpy(km->c, cx, (size_t)d * sizeof(float));
	for (int64_t j = 1; j < k; j++) {
		double s = 0, best_pot = INFINITY;
		int64_t best = 0;

		for (int64_t i = 0; i < n; i++)
			cum[i] = s += closest[i];
		for (int64_t q = 0; q < trials; q++) {
			double r = xf_rng_uniform(rng) * total;
			int64_t lo = 0, hi = n - 1;

			while (lo < hi) {             /* first i with cum[i] >= r, clipped to n - 1 */
				int64_t mid = lo + (hi - lo) / 2;

				if (cum[mid] < r)
					lo = mid + 1;
				else
					hi = mid;
			}
			id[q] = lo;
			memcpy(cx + q * d, km->x + lo * d, (size_t)d * sizeof(float));
			cxn[q] = km->xn[lo];
		}
		c.trials = trials;
		c.update = false;
		over_blocks(km, n, cand_block, &c);
		for (int64_t q = 0; q < trials; q++) {
			double v = block_sum(pot, n_blocks, trials, q);

			if (v < best_pot) {
				best_pot = v;
				best = q;
			}
		}
		id[0] = id[best];
		cxn[0] = cxn[best];
		memmove(cx, cx + best * d, (size_t)d * sizeof(float));
		c.trials = 1;
		c.update = true;
		over_blocks(km, n, cand_block, &c);
		total = block_sum(pot, n_blocks, 1, 0);
		memcpy(km->c + j * d, cx, (size_t)d * sizeof(float));
	}
	rc = 0;
out:
	free(closest);
	free(cum);
	free(pot);
	free(cx);
	return rc;
}

/* k distinct rows uniformly (partial Fisher-Yates), in the order drawn. */
static int init_random(struct km *km, struct xf_rng *rng, struct xf_err *err)
{
	int64_t *idx = malloc((size_t)km->n * sizeof(*idx));

	if (!idx)
		return xf_err_nomem(err, (size_t)km->n * sizeof(*idx));
	for (int64_t i = 0; i < km->n; i++)
		idx[i] = i;
	for (int64_t j = 0; j < km->k; j++) {
		int64_t r = j + (int64_t)xf_rng_below(rng, (uint64_t)(km->n - j)), t = idx[r];

		idx[r] = idx[j];
		idx[j] = t;
		memcpy(km->c + j * km->d, km->x + t * km->d, (size_t)km->d * sizeof(float));
	}
	free(idx);
	return 0;
}

/* Scale a double vector to unit length (a zero vector stays zero). */
static void unit(double *v, int64_t d)
{
	double s = 0;

	for (int64_t j = 0; j < d; j++)
		s += v[j] * v[j];
	if (s > 0) {
		s = 1 / sqrt(s);
		for (int64_t j = 0; j < d; j++)
			v[j] *= s;
	}
}

static int init_centres(struct km *km, const struct xf_kmeans_opts *o, struct xf_err *err)
{
	struct xf_rng rng;
	int64_t d = km->d;

	xf_rng_init(&rng, o->seed, STREAM_INIT);
	if (o->init == XF_KMEANS_PLUSPLUS && init_plusplus(km, &rng, err) < 0)
		return -1;
	if (o->init == XF_KMEANS_RANDOM && init_random(km, &rng, err) < 0)
		return -1;
	if (o->init == XF_KMEANS_GIVEN && km->spherical) {
		double *v = malloc((size_t)d * sizeof(*v));

		if (!v)
			return xf_err_nomem(err, (size_t)d * sizeof(*v));
		for (int64_t j = 0; j < km->k; j++) {
			for (int64_t t = 0; t < d; t++)
				v[t] = km->c[j * d + t];
			unit(v, d);
			for (int64_t t = 0; t < d; t++)
				km->c[j * d + t] = (float)v[t];
		}
		free(v);
	}
	set_centre_norms(km);
	return 0;
}

/* ---- Lloyd with Hamerly's bounds ---- */

/* First assignment of a block: every row against every centre. */
static void full_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	(void)b;
	(void)arg;
	nearest_two(km, w, km->x + r0 * km->d, km->xn + r0, r1 - r0, km->a + r0, w->d1, w->d2);
	if (km->u)
		for (int64_t i = r0; i < r1; i++) {
			km->u[i] = sqrt(w->d1[i - r0]);
			km->l[i] = sqrt(w->d2[i - r0]);
			km->stamp[i] = km->t;
		}
}

/* Row i's bounds brought to the current update: u by its centre's drift, l by the largest other. */
static inline void current_bounds(const struct km *km, int64_t i, int64_t a, double *u, double *l)
{
	int32_t h = km->hist_len, then = km->stamp[i] % h, now = km->t % h;
	const double *top = km->top + 3 * then;

	*u = km->u[i] + (km->hist[now * km->k + a] - km->hist[then * km->k + a]);
	*l = km->l[i] - (a == (int64_t)top[1] ? top[2] : top[0]);
}

/*
 * Hamerly's assignment of a block: rows whose bounds prove the own centre nearest are skipped
 * (and left as they are); the rest get an exact distance to their own centre, and those still
 * in doubt are gathered and compared with every centre by GEMM.
 */
static void hamerly_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	int64_t m = 0, d = km->d;

	(void)b;
	(void)arg;
	for (int64_t i = r0; i < r1; i++) {
		int64_t a = km->a[i];
		double u, l, bound;

		current_bounds(km, i, a, &u, &l);
		bound = (km->s[a] > l ? km->s[a] : l) * (1 - SLACK);
		if (u < bound)
			continue;
		u = sqrt(own_dist2(km, i, a));
		if (u < bound) {
			km->u[i] = u;
			km->l[i] = l;
			km->stamp[i] = km->t;
			continue;
		}
		w->rows[m] = i;
		memcpy(w->xb + m * d, km->x + i * d, (size_t)d * sizeof(float));
		w->xbn[m++] = km->xn[i];
	}
	if (!m)
		return;
	nearest_two(km, w, w->xb, w->xbn, m, w->best, w->d1, w->d2);
	for (int64_t q = 0; q < m; q++) {
		int64_t i = w->rows[q];

		km->a[i] = w->best[q];
		km->u[i] = sqrt(w->d1[q]);
		km->l[i] = sqrt(w->d2[q]);
		km->stamp[i] = km->t;
	}
}

/* Rows stamped `arg` (about to leave the history) get bounds as of the current update. */
static void rebase_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	int32_t old = *(const int32_t *)arg;

	(void)w;
	(void)b;
	for (int64_t i = r0; i < r1; i++)
		if (km->stamp[i] == old) {
			current_bounds(km, i, km->a[i], &km->u[i], &km->l[i]);
			km->stamp[i] = km->t;
		}
}

/* s for centres r0..r1: half the distance to the nearest other centre, by DGEMM on a double copy. */
static void sep_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	const double *cd = arg;
	int64_t k = km->k, d = km->d, m = r1 - r0;

	(void)b;
	for (int64_t i = r0; i < r1; i++)
		w->d1[i - r0] = INFINITY;
	for (int64_t j0 = 0; j0 < k; j0 += TILE) {
		int64_t kb = k - j0 < TILE ? k - j0 : TILE;

		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)kb, (int)d, -2.0, cd + r0 * d, (int)d,
			    cd + j0 * d, (int)d, 0.0, w->dtile, (int)kb);
		for (int64_t i = r0; i < r1; i++)
			for (int64_t j = 0; j < kb; j++) {
				double v = km->cn[i] + km->cn[j0 + j] + w->dtile[(i - r0) * kb + j];

				if (j0 + j != i && v < w->d1[i - r0])
					w->d1[i - r0] = v;
			}
	}
	for (int64_t i = r0; i < r1; i++)
		km->s[i] = 0.5 * sqrt(w->d1[i - r0] > 0 ? w->d1[i - r0] : 0);
}

struct sums {
	const struct km *km;
	double *sum;          /* k x d sums of the rows of each cluster */
	const int64_t *rows;  /* rows whose label changed, ascending */
	const int64_t *from;  /* their previous labels (-1: none) */
	int64_t n_rows;
};

/* Columns [c0, c1) of the cluster sums: changed rows leave their old sum and join the new, in row order. */
static void sums_chunk(void *ctx, int64_t c0, int64_t c1)
{
	struct sums *s = ctx;
	int64_t d = s->km->d;

	for (int64_t q = 0; q < s->n_rows; q++) {
		int64_t i = s->rows[q], to = s->km->a[i], from = s->from[i];
		const float *xi = s->km->x + i * d;

		if (from >= 0)
			add_row(s->sum + from * d + c0, xi + c0, c1 - c0, -1);
		add_row(s->sum + to * d + c0, xi + c0, c1 - c0, 1);
	}
}

/* A row and its squared distance to its centre, for choosing rows for empty clusters. */
struct far {
	double d;
	int64_t i;
};

struct lloyd {
	struct km *km;
	int threads;
	double *sum;          /* k x d cluster sums */
	int64_t *count;       /* k rows per cluster */
	int64_t *prev;        /* n labels the sums hold */
	int64_t *changed;     /* n scratch: rows whose label changed */
	float *old;           /* k x d centres before the update */
	double *cd;           /* k x d centres in double */
	struct far *far;      /* n rows by distance to their centre, allocated at the first empty cluster */
};

/* Bring sums and counts up to date with the labels; returns how many rows changed. */
static int64_t apply_changes(struct lloyd *L)
{
	struct km *km = L->km;
	struct sums s = { km, L->sum, L->changed, L->prev, 0 };

	for (int64_t i = 0; i < km->n; i++)
		if (km->a[i] != L->prev[i])
			L->changed[s.n_rows++] = i;
	if (s.n_rows * km->d >= (1 << 16))
		xf_parallel_for(km->d, L->threads, 16, sums_chunk, &s);
	else
		sums_chunk(&s, 0, km->d);
	for (int64_t q = 0; q < s.n_rows; q++) {
		int64_t i = L->changed[q];

		if (L->prev[i] >= 0)
			L->count[L->prev[i]]--;
		L->count[km->a[i]]++;
		L->prev[i] = km->a[i];
	}
	return s.n_rows;
}

static void far_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	struct far *far = arg;

	(void)w;
	(void)b;
	for (int64_t i = r0; i < r1; i++)
		far[i] = (struct far){ dist2_direct(km->x + i * km->d, km->c + km->a[i] * km->d, km->d), i };
}

static int by_distance_desc(const void *pa, const void *pb)
{
	const struct far *a = pa, *b = pb;

	if (a->d != b->d)
		return a->d > b->d ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* Give each empty cluster the farthest row (see the file comment); returns how many were given one. */
static int64_t reseed_empty(struct lloyd *L, struct xf_err *err)
{
	struct km *km = L->km;
	int64_t d = km->d, pos = 0, given = 0;

	km->n_moved = 0;
	for (int64_t j = 0; j < km->k; j++) {
		if (L->count[j] > 0)
			continue;
		if (!given++) {
			if (!L->far && !(L->far = malloc((size_t)km->n * sizeof(*L->far))))
				return xf_err_nomem(err, (size_t)km->n * sizeof(*L->far));
			over_blocks(km, km->n, far_block, L->far);
			qsort(L->far, (size_t)km->n, sizeof(*L->far), by_distance_desc);
		}
		while (pos < km->n && L->count[km->a[L->far[pos].i]] < 2)
			pos++;
		if (pos == km->n)
			break;    /* cannot happen with k <= n: some other cluster holds two rows */
		int64_t i = L->far[pos++].i, from = km->a[i];
		const float *xi = km->x + i * d;

		for (int64_t t = 0; t < d; t++) {
			L->sum[from * d + t] -= xi[t];
			L->sum[j * d + t] = xi[t];
		}
		L->count[from]--;
		L->count[j] = 1;
		km->a[i] = L->prev[i] = j;
		km->moved[km->n_moved++] = i;
	}
	return given;
}

/* Centres from the sums (unit length when spherical); drifts in km->p; returns the squared shift. */
static double update_centres(struct lloyd *L)
{
	struct km *km = L->km;
	int64_t d = km->d;
	double shift = 0;

	memcpy(L->old, km->c, (size_t)(km->k * d) * sizeof(float));
	for (int64_t j = 0; j < km->k; j++) {
		double *cj = L->cd + j * d, p = 0;

		if (L->count[j] == 0) {
			km->p[j] = 0;
			continue;
		}
		for (int64_t t = 0; t < d; t++)
			cj[t] = L->sum[j * d + t] / (double)L->count[j];
		if (km->spherical)
			unit(cj, d);
		for (int64_t t = 0; t < d; t++) {
			float v = (float)cj[t];
			double e = (double)v - L->old[j * d + t];

			km->c[j * d + t] = v;
			p += e * e;
		}
		km->p[j] = sqrt(p);
		shift += p;
	}
	set_centre_norms(km);
	return shift;
}

/*
 * Record the update's drifts: rows stamped with the update about to drop out of the history
 * are rebased first; then the cumulative drifts, and for every stamp still in the history the
 * largest drift since (and the second largest, for rows of that centre). The reseeded rows
 * are pinned (own centre at distance 0), and s is recomputed (left at 0, so that only l
 * counts, when k > n / 8).
 *
 * Bounds drift by the largest total drift since they were set rather than by the sum of each
 * update's largest drift (the "sn" bounds of Newling and Fleuret, ICML 2016): much tighter
 * when different centres move in different updates.
 */
static void refresh_bounds(struct lloyd *L)
{
	struct km *km = L->km;
	int64_t k = km->k;
	int32_t h = km->hist_len, old = km->t + 1 - h, now;
	const double *prev = km->hist + (km->t % h) * k;
	double *cur;

	if (old >= 0)
		over_blocks(km, km->n, rebase_block, &old);
	km->t++;
	now = km->t % h;
	cur = km->hist + now * k;
	for (int64_t j = 0; j < k; j++)
		cur[j] = prev[j] + km->p[j];
	for (int32_t then = km->t > h - 1 ? km->t - h + 1 : 0; then <= km->t; then++) {
		const double *past = km->hist + (then % h) * k;
		double *top = km->top + 3 * (then % h);

		top[0] = top[2] = 0;
		top[1] = -1;
		for (int64_t j = 0; j < k; j++) {
			double v = cur[j] - past[j];

			if (v > top[0]) {
				top[2] = top[0];
				top[0] = v;
				top[1] = (double)j;
			} else if (v > top[2]) {
				top[2] = v;
			}
		}
	}
	for (int64_t q = 0; q < km->n_moved; q++) {
		km->u[km->moved[q]] = 0;
		km->l[km->moved[q]] = 0;
		km->stamp[km->moved[q]] = km->t;
	}
	if (km->k == 1) {
		km->s[0] = INFINITY;
	} else if (km->k * 8 <= km->n) {
		for (int64_t t = 0; t < km->k * km->d; t++)
			L->cd[t] = km->c[t];
		over_blocks(km, km->k, sep_block, L->cd);
	} else {
		for (int64_t j = 0; j < km->k; j++)   /* k^2 d work for s would rival assigning the rows */
			km->s[j] = 0;
	}
}

static int lloyd(struct km *km, const struct xf_kmeans_opts *o, int threads, struct xf_kmeans_result *res,
		 struct xf_err *err)
{
	double tol;
	int64_t n = km->n, k = km->k, d = km->d, changed, reseeded;
	struct lloyd L = { km, threads, calloc((size_t)(k * d), sizeof(double)), calloc((size_t)k, sizeof(int64_t)),
			   malloc((size_t)n * sizeof(int64_t)), malloc((size_t)n * sizeof(int64_t)),
			   malloc((size_t)(k * d) * sizeof(float)), malloc((size_t)(k * d) * sizeof(double)), NULL };
	bool strict = false;
	int it = 0, rc = -1;

	if (!L.sum || !L.count || !L.prev || !L.changed || !L.old || !L.cd) {
		xf_err_nomem(err, (size_t)n * 16 + (size_t)(k * d) * 20);
		goto out;
	}
	for (int64_t i = 0; i < n; i++)
		L.prev[i] = -1;
	km->top[1] = -1;
	over_blocks(km, n, full_block, NULL);
	changed = apply_changes(&L);
	memset(L.cd, 0, (size_t)d * sizeof(double));   /* column sums = the clusters' sums added up */
	for (int64_t j = 0; j < k; j++)
		for (int64_t t = 0; t < d; t++)
			L.cd[t] += L.sum[j * d + t];
	tol = scaled_tol(km, o->tol, L.cd);
	for (;;) {
		double shift;

		it++;
		if ((reseeded = reseed_empty(&L, err)) < 0)
			goto out;
		res->empty_reseeded += reseeded;
		shift = update_centres(&L);
		refresh_bounds(&L);
		if (it > 1 && changed == 0 && reseeded == 0) {
			strict = true;
			break;
		}
		if (shift <= tol || it >= o->max_iter)
			break;
		over_blocks(km, n, hamerly_block, NULL);
		changed = apply_changes(&L);
	}
	if (!strict)
		over_blocks(km, n, hamerly_block, NULL);
	res->iterations = it;
	rc = 0;
out:
	free(L.sum);
	free(L.count);
	free(L.prev);
	free(L.changed);
	free(L.old);
	free(L.cd);
	free(L.far);
	return rc;
}

/* ---- mini-batch ---- */

struct batch {
	const float *xb;      /* rows of the batch */
	const double *xbn;
	int64_t *ab;          /* their nearest centres */
};

static void batch_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	struct batch *bt = arg;

	(void)b;
	nearest_two(km, w, bt->xb + r0 * km->d, bt->xbn + r0, r1 - r0, bt->ab + r0, w->d1, w->d2);
}

static int minibatch(struct km *km, const struct xf_kmeans_opts *o, int threads, struct xf_kmeans_result *res,
		     struct xf_err *err)
{
	int64_t n = km->n, k = km->k, d = km->d, nb = o->batch, steps = (n + nb - 1) / nb;
	float *xb = malloc((size_t)(nb * d) * sizeof(float)), *old = malloc((size_t)(k * d) * sizeof(float));
	double *xbn = malloc((size_t)nb * sizeof(double)), *cd = malloc((size_t)(k * d) * sizeof(double));
	int64_t *ab = malloc((size_t)nb * sizeof(int64_t)), *count = calloc((size_t)k, sizeof(int64_t));
	bool *touched = malloc((size_t)k);
	struct batch bt = { xb, xbn, ab };
	struct xf_rng rng;
	int it = 0, rc = -1;
	double tol;

	if (!xb || !old || !xbn || !cd || !ab || !count || !touched) {
		xf_err_nomem(err, (size_t)(nb * d) * sizeof(float) + (size_t)(k * d) * 12);
		goto out;
	}
	{
		struct colsum cs = { km, cd };   /* cd is free until the centres are copied in */

		xf_parallel_for(d, threads, 16, colsum_chunk, &cs);
		tol = scaled_tol(km, o->tol, cd);
	}
	xf_rng_init(&rng, o->seed, STREAM_BATCH);
	for (int64_t t = 0; t < k * d; t++)
		cd[t] = km->c[t];
	while (it < o->max_iter) {
		double shift = 0;

		it++;
		memcpy(old, km->c, (size_t)(k * d) * sizeof(float));
		for (int64_t step = 0; step < steps; step++) {
			for (int64_t q = 0; q < nb; q++) {
				int64_t i = (int64_t)xf_rng_below(&rng, (uint64_t)n);

				memcpy(xb + q * d, km->x + i * d, (size_t)d * sizeof(float));
				xbn[q] = km->xn[i];
			}
			over_blocks(km, nb, batch_block, &bt);
			memset(touched, 0, (size_t)k);
			for (int64_t q = 0; q < nb; q++) {
				int64_t j = ab[q];
				double eta = 1.0 / (double)++count[j], *cj = cd + j * d;
				const float *xq = xb + q * d;

				for (int64_t t = 0; t < d; t++)
					cj[t] += eta * (xq[t] - cj[t]);
				touched[j] = true;
			}
			for (int64_t j = 0; j < k; j++) {
				if (!touched[j])
					continue;
				if (km->spherical)
					unit(cd + j * d, d);
				for (int64_t t = 0; t < d; t++)
					km->c[j * d + t] = (float)cd[j * d + t];
				km->cn[j] = norm2(km->c + j * d, d);
			}
		}
		for (int64_t t = 0; t < k * d; t++) {
			double e = (double)km->c[t] - old[t];

			shift += e * e;
		}
		if (shift <= tol)
			break;
	}
	over_blocks(km, n, full_block, NULL);
	res->iterations = it;
	rc = 0;
out:
	free(xb);
	free(old);
	free(xbn);
	free(cd);
	free(ab);
	free(count);
	free(touched);
	return rc;
}

/* ---- entry point ---- */

static void inertia_block(struct km *km, struct ws *w, int64_t b, int64_t r0, int64_t r1, void *arg)
{
	double *part = arg, s = 0;

	(void)w;
	for (int64_t i = r0; i < r1; i++)
		s += dist2_direct(km->x + i * km->d, km->c + km->a[i] * km->d, km->d);
	part[b] = s;
}

static int check_opts(const float *x, int64_t n, int64_t d, const struct xf_kmeans_opts *o, const float *centres,
		      struct xf_err *err)
{
	if (!o || !x || !centres)
		return xf_err_set(err, XF_E_USAGE, "k-means: missing data, options or centres");
	if (n < 1 || o->k < 1 || o->k > n)
		return xf_err_set(err, XF_E_USAGE, "k-means: k = %lld clusters outside 1..%lld (the rows)",
				  (long long)o->k, (long long)n);
	if (d < 1 || d > INT_MAX || n > INT64_MAX / 8 / d || o->k > INT64_MAX / 8 / d)
		return xf_err_set(err, XF_E_USAGE, "k-means: bad row size %lld for %lld rows", (long long)d,
				  (long long)n);
	if (o->init != XF_KMEANS_PLUSPLUS && o->init != XF_KMEANS_RANDOM && o->init != XF_KMEANS_GIVEN)
		return xf_err_set(err, XF_E_USAGE, "k-means: unknown init %d", (int)o->init);
	if (o->max_iter < 1)
		return xf_err_set(err, XF_E_USAGE, "k-means: max_iter %d is not positive", o->max_iter);
	if (!(o->tol >= 0) || isinf(o->tol))
		return xf_err_set(err, XF_E_USAGE, "k-means: tolerance %g is not a finite number >= 0", o->tol);
	if (o->batch < 0 || o->batch > INT64_MAX / 8 / d)
		return xf_err_set(err, XF_E_USAGE, "k-means: bad batch size %lld", (long long)o->batch);
	if (o->init == XF_KMEANS_GIVEN)
		for (int64_t j = 0; j < o->k; j++)
			if (!isfinite(norm2(centres + j * d, d)))
				return xf_err_set(err, XF_E_USAGE, "k-means: given centre %lld is not finite",
						  (long long)j);
	return 0;
}

static int alloc_workers(struct km *km, int threads, struct xf_err *err)
{
	km->workers = threads < MAX_WORKERS ? threads : MAX_WORKERS;
	for (int t = 0; t < km->workers; t++) {
		struct ws *w = &km->ws[t];

		w->tile = malloc((size_t)(BLOCK * TILE) * sizeof(float));
		w->dtile = malloc((size_t)(BLOCK * TILE) * sizeof(double));
		w->xb = malloc((size_t)(BLOCK * km->d) * sizeof(float));
		w->xbn = malloc(BLOCK * sizeof(double));
		w->rows = malloc(BLOCK * sizeof(int64_t));
		w->best = malloc(BLOCK * sizeof(int64_t));
		w->d1 = malloc(BLOCK * sizeof(double));
		w->d2 = malloc(BLOCK * sizeof(double));
		if (!w->tile || !w->dtile || !w->xb || !w->xbn || !w->rows || !w->best || !w->d1 || !w->d2)
			return xf_err_nomem(err, (size_t)(BLOCK * km->d) * sizeof(float));
	}
	return 0;
}

static void free_workers(struct km *km)
{
	for (int t = 0; t < km->workers; t++) {
		struct ws *w = &km->ws[t];

		free(w->tile);
		free(w->dtile);
		free(w->xb);
		free(w->xbn);
		free(w->rows);
		free(w->best);
		free(w->d1);
		free(w->d2);
	}
}

/* Squared norms, finiteness and the spherical copy; -1 naming the first row that is not finite. */
static int prepare_rows(struct km *km, const float *x, float *copy, struct xf_err *err)
{
	int64_t n_blocks = (km->n + BLOCK - 1) / BLOCK;
	struct prep p = { x, copy, malloc((size_t)n_blocks * sizeof(int64_t)) };

	if (!p.bad)
		return xf_err_nomem(err, (size_t)n_blocks * sizeof(int64_t));
	over_blocks(km, km->n, prep_block, &p);
	for (int64_t b = 0; b < n_blocks; b++)
		if (p.bad[b] >= 0) {
			int64_t i = p.bad[b];

			free(p.bad);
			return xf_err_set(err, XF_E_FORMAT, "k-means: row %lld has a NaN or infinite value", (long long)i);
		}
	free(p.bad);
	return 0;
}

int xf_kmeans(const float *x, int64_t n, int64_t d, const struct xf_kmeans_opts *o, float *centres, int64_t *assign,
	      struct xf_kmeans_result *res, struct xf_err *err)
{
	struct km km = { 0 };
	struct xf_kmeans_result r = { 0, 0, 0 };
	int threads, blas_threads, rc = -1;
	float *copy = NULL;
	double *part = NULL;

	if (check_opts(x, n, d, o, centres, err) < 0)
		return -1;
	threads = o->threads > 0 ? o->threads : xf_cores();
	km = (struct km){ .x = x, .n = n, .d = d, .k = o->k, .spherical = o->spherical, .c = centres };
	blas_threads = xf_nn_blas_threads(1);
	if (alloc_workers(&km, threads, err) < 0)
		goto out;
	km.xn = malloc((size_t)n * sizeof(double));
	km.cn = malloc((size_t)o->k * sizeof(double));
	km.s = malloc((size_t)o->k * sizeof(double));
	km.p = malloc((size_t)o->k * sizeof(double));
	km.a = assign ? assign : malloc((size_t)n * sizeof(int64_t));
	km.moved = malloc((size_t)o->k * sizeof(int64_t));
	part = malloc((size_t)((n + BLOCK - 1) / BLOCK) * sizeof(double));
	if (o->spherical)
		copy = malloc((size_t)(n * d) * sizeof(float));
	if (o->batch == 0) {
		int64_t h = HIST_BYTES / 8 / o->k;

		km.hist_len = (int32_t)(h < 2 ? 2 : h > o->max_iter ? (int64_t)o->max_iter + 1 : h);
		km.u = malloc((size_t)n * sizeof(double));
		km.l = malloc((size_t)n * sizeof(double));
		km.stamp = malloc((size_t)n * sizeof(int32_t));
		km.hist = calloc((size_t)(km.hist_len * o->k), sizeof(double));
		km.top = calloc((size_t)km.hist_len * 3, sizeof(double));
	}
	if (!km.xn || !km.cn || !km.s || !km.p || !km.a || !km.moved || !part || (o->spherical && !copy) ||
	    (o->batch == 0 && (!km.u || !km.l || !km.stamp || !km.hist || !km.top))) {
		xf_err_nomem(err, (size_t)n * (32 + (o->spherical ? 4 * (size_t)d : 0)));
		goto out;
	}
	if (prepare_rows(&km, x, copy, err) < 0)
		goto out;
	if (copy)
		km.x = copy;
	if (init_centres(&km, o, err) < 0)
		goto out;
	if ((o->batch > 0 ? minibatch(&km, o, threads, &r, err) : lloyd(&km, o, threads, &r, err)) < 0)
		goto out;
	over_blocks(&km, n, inertia_block, part);
	for (int64_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++)
		r.inertia += part[b];
	if (res)
		*res = r;
	rc = 0;
out:
	xf_linalg_set_threads(blas_threads);
	free_workers(&km);
	free(km.xn);
	free(km.cn);
	free(km.s);
	free(km.p);
	if (km.a != assign)
		free(km.a);
	free(km.moved);
	free(km.u);
	free(km.l);
	free(km.stamp);
	free(km.hist);
	free(km.top);
	free(part);
	free(copy);
	return rc;
}
