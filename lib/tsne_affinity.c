/* tsne_affinity: perplexity calibration and the symmetric sparse P; see tsne_affinity.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "tsne_affinity.h"

/* Entropy of exp(-beta (d2 - dmin)) / S; w receives the unnormalised terms, *sum their sum. */
static double entropy_at(const double *d2, double dmin, int64_t k, double beta, double *w, double *sum)
{
	double s = 0, sde = 0;

	for (int64_t j = 0; j < k; j++) {
		w[j] = exp(-beta * (d2[j] - dmin));
		s += w[j];
		sde += (d2[j] - dmin) * w[j];
	}
	*sum = s; /* >= 1: the nearest neighbour's term is exp(0) */
	return log(s) + beta * sde / s;
}

/*
 * The bisection starts from beta = 1 / mean(d2 - dmin), which tsne.md section 1 allows (the
 * fixed point does not depend on it): that is within a few doublings of the answer whatever
 * the scale of the distances, where beta = 1 took some 20 halvings on raw pixel distances.
 */
double xf_tsne_calibrate(const double *d2, int64_t k, double perplexity, double tol, int max_steps, double *w,
			 double *entropy)
{
	double target = log(perplexity), dmin = INFINITY, beta = 1, lo = -INFINITY, hi = INFINITY, sum, h, mean = 0;

	for (int64_t j = 0; j < k; j++)
		dmin = d2[j] < dmin ? d2[j] : dmin;
	for (int64_t j = 0; j < k; j++)
		mean += (d2[j] - dmin) / (double)k;
	if (mean > 0 && isfinite(1 / mean))
		beta = 1 / mean;
	h = entropy_at(d2, dmin, k, beta, w, &sum);
	for (int step = 1; step < max_steps && fabs(h - target) >= tol; step++) {
		if (h > target) { /* too flat: sharpen */
			lo = beta;
			beta = isinf(hi) ? beta * 2 : (beta + hi) / 2;
		} else {
			hi = beta;
			beta = isinf(lo) ? beta / 2 : (beta + lo) / 2;
		}
		h = entropy_at(d2, dmin, k, beta, w, &sum);
	}
	for (int64_t j = 0; j < k; j++)
		w[j] /= sum;
	*entropy = h;
	return beta;
}

struct calibration {
	const double *dist2;
	int64_t k;
	double perplexity, *cond, *miss;   /* n x k conditionals; per-point |H - target| */
};

static void calibrate_rows(void *ctx, int64_t begin, int64_t end)
{
	struct calibration *c = ctx;
	double h;

	for (int64_t i = begin; i < end; i++) {
		xf_tsne_calibrate(c->dist2 + i * c->k, c->k, c->perplexity, XF_TSNE_ENTROPY_TOL, XF_TSNE_BISECT_STEPS,
				  c->cond + i * c->k, &h);
		c->miss[i] = fabs(h - log(c->perplexity));
	}
}

struct entry {
	int32_t col;
	double val;
};

static int by_col(const void *a, const void *b)
{
	int32_t x = ((const struct entry *)a)->col, y = ((const struct entry *)b)->col;

	return (x > y) - (x < y);
}

/*
 * Both directions of every conditional, grouped by row (in index order: deterministic). Row
 * r receives the entries of rows i < r that have r as a neighbour (column i, ascending),
 * then its own k (in neighbour order), then those of rows i > r (ascending): before[r]
 * counts the first kind, so that compact need only sort the k in the middle.
 */
static struct entry *scatter_both(const int64_t *idx, const double *cond, int64_t n, int64_t k, int64_t *start,
				  int64_t *before)
{
	int64_t *fill = calloc((size_t)n + 1, sizeof(int64_t));
	struct entry *e = malloc((size_t)(2 * n * k) * sizeof(*e) + 1);

	if (!fill || !e) {
		free(fill), free(e);
		return NULL;
	}
	for (int64_t i = 0; i < n * k; i++)
		start[idx[i] + 1]++;
	for (int64_t i = 0; i < n; i++)
		start[i + 1] += start[i] + k;
	for (int64_t i = 0; i < n; i++) {
		before[i] = fill[i];
		for (int64_t j = 0; j < k; j++) {
			int64_t nb = idx[i * k + j];

			e[start[i] + fill[i]++] = (struct entry){ (int32_t)nb, cond[i * k + j] };
			e[start[nb] + fill[nb]++] = (struct entry){ (int32_t)i, cond[i * k + j] };
		}
	}
	free(fill);
	return e;
}

/* Append entry x to row i of p (which ends at *nnz), adding it to an equal column before it. */
static void append(struct xf_csr *p, int64_t i, const struct entry *x, int64_t *nnz)
{
	if (*nnz > p->rowptr[i] && p->col[*nnz - 1] == x->col) {
		p->val[*nnz - 1] += x->val;   /* the other direction of a pair: a + b = b + a exactly */
		return;
	}
	p->col[*nnz] = x->col;
	p->val[(*nnz)++] = x->val;
}

/*
 * Row i into CSR: its own k entries sorted by column, then merged with the others, which
 * arrive sorted (scatter_both), the two directions of a pair added.
 */
static void compact_row(struct entry *e, int64_t lo, int64_t hi, int64_t own, int64_t k, int64_t i,
			struct xf_csr *p, int64_t *nnz)
{
	struct entry *f = e + own, *f_end = f + k;
	int64_t a = lo;

	qsort(f, (size_t)k, sizeof(*f), by_col);
	p->rowptr[i] = *nnz;
	for (;;) {
		if (a == own)
			a = own + k;   /* the sorted others continue after the own entries */
		if (a >= hi && f == f_end)
			break;
		if (f < f_end && (a >= hi || f->col <= e[a].col))
			append(p, i, f++, nnz);
		else
			append(p, i, &e[a++], nnz);
	}
}

/* Each row sorted and merged, the two directions of a pair added, and normalised into CSR. */
static int compact(struct entry *e, const int64_t *start, const int64_t *before, int64_t n, int64_t k,
		   struct xf_csr *p, struct xf_err *err)
{
	double total = 0;
	int64_t nnz = 0;

	p->n = n;
	p->rowptr = malloc(((size_t)n + 1) * sizeof(int64_t));
	p->col = malloc((size_t)start[n] * sizeof(int32_t) + 1);
	p->val = malloc((size_t)start[n] * sizeof(double) + 1);
	if (!p->rowptr || !p->col || !p->val) {
		xf_csr_release(p);
		return xf_err_nomem(err, (size_t)start[n] * 12);
	}
	for (int64_t i = 0; i < n; i++)
		compact_row(e, start[i], start[i + 1], start[i] + before[i], k, i, p, &nnz);
	p->rowptr[n] = nnz;
	for (int64_t t = 0; t < nnz; t++)
		total += p->val[t];
	for (int64_t t = 0; t < nnz; t++)
		p->val[t] /= total;
	return 0;
}

static int check_neighbours(const int64_t *idx, const double *dist2, int64_t n, int64_t k, struct xf_err *err)
{
	if (n > INT32_MAX)
		return xf_err_set(err, XF_E_LIMIT, "t-SNE: %lld points; at most %d", (long long)n, INT32_MAX);
	if (k < 1 || k >= n)
		return xf_err_set(err, XF_E_USAGE, "t-SNE: %lld neighbours of %lld points", (long long)k, (long long)n);
	for (int64_t i = 0; i < n * k; i++)
		if (idx[i] < 0 || idx[i] >= n || idx[i] == i / k || !(dist2[i] >= 0) || isinf(dist2[i]))
			return xf_err_set(err, XF_E_FORMAT, "t-SNE: neighbour %lld of point %lld is invalid",
					  (long long)(i % k), (long long)(i / k));
	return 0;
}

int xf_tsne_affinities(const int64_t *idx, const double *dist2, int64_t n, int64_t k, double perplexity,
		       int threads, struct xf_csr *p, double *worst, struct xf_err *err)
{
	struct calibration c = { dist2, k, perplexity, NULL, NULL };
	int64_t *start, *before;
	struct entry *e = NULL;
	int rc = check_neighbours(idx, dist2, n, k, err);

	if (rc < 0)
		return -1;
	c.cond = malloc((size_t)(n * k) * sizeof(double));
	c.miss = malloc((size_t)n * sizeof(double));
	start = calloc((size_t)n + 1, sizeof(int64_t));
	before = malloc((size_t)n * sizeof(int64_t));
	if (c.cond && c.miss && start && before) {
		xf_parallel_for(n, threads, 256, calibrate_rows, &c);
		e = scatter_both(idx, c.cond, n, k, start, before);
	}
	rc = e ? compact(e, start, before, n, k, p, err) : xf_err_nomem(err, (size_t)(2 * n * k) * sizeof(*e));
	for (int64_t i = 0; rc == 0 && worst && i < n; i++)
		*worst = i == 0 || c.miss[i] > *worst ? c.miss[i] : *worst;
	free(c.cond), free(c.miss), free(start), free(before), free(e);
	return rc;
}
