/*
 * score_osborn: OSBORN's terms for a pool of models, ensemble scores and greedy selection; see
 * score_osborn.h and docs/scores.md section 12 (the reconstruction, with its open choices).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "linalg.h"
#include "score_metrics.h"
#include "score_osborn.h"

struct xf_osborn_terms {
	int n;               /* models in the pool */
	double *domain;      /* W_D[s] */
	int64_t *rows;       /* m of each W_D */
	double *task;        /* W_T[s] */
	double *cohesion;    /* W_C, n x n, symmetric, zero diagonal */
};

/* ---- input checks ---- */

static int check_source(const struct xf_osborn_model *mod, struct xf_err *err)
{
	int64_t d = mod->target->d;

	if (!mod->source_f || mod->source_n < 1)
		return xf_err_set(err, XF_E_USAGE, "no source-domain features (W_D needs them)");
	if (mod->source_n > INT64_MAX / d)
		return xf_err_set(err, XF_E_LIMIT, "%lld source-domain rows of %lld features are too many",
				  (long long)mod->source_n, (long long)d);
	for (int64_t i = 0; i < mod->source_n * d; i++)
		if (!isfinite(mod->source_f[i]))
			return xf_err_set(err, XF_E_FORMAT, "source-domain feature %lld of row %lld is %s", (long long)(i % d),
					  (long long)(i / d), isnan(mod->source_f[i]) ? "NaN" : "infinite");
	return 0;
}

/* Model s against itself, then against model 0: the entropies count over shared rows and labels. */
static int check_model(const struct xf_osborn_model *models, int s, struct xf_err *err)
{
	const struct xf_score_data *t = models[s].target, *first = models[0].target;

	if (!t)
		return xf_err_set(err, XF_E_USAGE, "model %d has no target data", s);
	if (xf_score_check(t, XF_NEEDS_F | XF_NEEDS_Y | XF_NEEDS_P, err) < 0 || check_source(&models[s], err) < 0)
		return xf_err_prefix(err, "model %d", s);
	if (t->n != first->n)
		return xf_err_set(err, XF_E_FORMAT, "model %d has %lld target rows, model 0 has %lld", s, (long long)t->n,
				  (long long)first->n);
	for (int64_t i = 0; t->y != first->y && i < t->n; i++)
		if (t->y[i] != first->y[i])
			return xf_err_set(err, XF_E_FORMAT, "model %d: label of target row %lld is %lld, model 0 has %lld",
					  s, (long long)i, (long long)t->y[i], (long long)first->y[i]);
	return 0;
}

/* ---- W_D: optimal transport between source and target samples ---- */

static void row_norms(const double *x, int64_t rows, int64_t d, double *out)
{
	for (int64_t i = 0; i < rows; i++) {
		out[i] = 0;
		for (int64_t j = 0; j < d; j++)
			out[i] += x[i * d + j] * x[i * d + j];
	}
}

/*
 * Squared distances as ||a||^2 + ||b||^2 - 2 a.b, so that the m x m x d work is one gemm;
 * rounding can make a near-zero distance slightly negative, hence the clip.
 */
static int squared_distances(const double *a, const double *b, int64_t m, int64_t d, double *cost,
			     struct xf_err *err)
{
	double *na = malloc((size_t)m * sizeof(double)), *nb = malloc((size_t)m * sizeof(double));
	int rc = na && nb ? 0 : xf_err_nomem(err, 2 * (size_t)m * sizeof(double));

	if (rc == 0)
		rc = xf_linalg_gemm(false, true, m, m, d, -2.0, a, d, b, d, 0.0, cost, m, err);
	if (rc == 0) {
		row_norms(a, m, d, na);
		row_norms(b, m, d, nb);
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < m; j++)
				cost[i * m + j] = fmax(0, cost[i * m + j] + na[i] + nb[j]);
	}
	free(na), free(nb);
	return rc;
}

/* W_D(s) over the first m rows of each side; with equal uniform weights the transport plan is a matching. */
static int domain_term(const struct xf_osborn_model *mod, double *out, int64_t *rows, struct xf_err *err)
{
	const struct xf_score_data *t = mod->target;
	int64_t m = XF_OSBORN_SAMPLE;
	double *cost, total;
	int rc;

	m = mod->source_n < m ? mod->source_n : m;
	m = t->n < m ? t->n : m;
	if (!(cost = malloc((size_t)(m * m) * sizeof(double))))
		return xf_err_nomem(err, (size_t)(m * m) * sizeof(double));
	rc = squared_distances(mod->source_f, t->f, m, t->d, cost, err);
	if (rc == 0)
		rc = xf_assign_min_cost(cost, m, NULL, &total, err);
	free(cost);
	if (rc < 0)
		return -1;
	*out = total / (double)m;
	*rows = m;
	return 0;
}

/* ---- W_T and W_C: conditional entropies of hard labels ---- */

/* Scratch for cond_entropy: two row orders of n, and counts of up to n_keys + 1 keys. */
struct entropy_scratch {
	int64_t *by_a, *by_ba, *count;
};

/* Stable counting sort of the rows in[0..n) (NULL: 0..n-1) by key[row] in 0..n_keys-1, into out. */
static void sort_rows(const int64_t *key, int64_t n_keys, const int64_t *in, int64_t n, int64_t *count,
		      int64_t *out)
{
	memset(count, 0, (size_t)(n_keys + 1) * sizeof(*count));
	for (int64_t r = 0; r < n; r++)
		count[key[r] + 1]++;
	for (int64_t k = 1; k <= n_keys; k++)
		count[k] += count[k - 1];   /* count[k]: first slot of key k */
	for (int64_t r = 0; r < n; r++) {
		int64_t row = in ? in[r] : r;

		out[count[key[row]]++] = row;
	}
}

/* sum over the runs of equal a[row] in rows[0..len) of n_a log(n_a / len); each term is <= 0. */
static double runs_sum(const int64_t *a, const int64_t *rows, int64_t len)
{
	double sum = 0;

	for (int64_t start = 0, end; start < len; start = end) {
		for (end = start + 1; end < len && a[rows[end]] == a[rows[start]]; end++)
			;
		if (end - start < len)
			sum += (double)(end - start) * log((double)(end - start) / (double)len);
	}
	return sum;
}

/*
 * H(A|B) = -(1/n) sum_{a,b} n_ab log(n_ab / n_b), 0 log 0 = 0 (as NCE counts, scores.md section
 * 2). Two stable counting sorts group the rows by (b, a) in O(n + na + nb), with no na x nb
 * table, so large label spaces (21k-class heads) cost nothing extra.
 */
static double cond_entropy(const int64_t *a, int64_t na, const int64_t *b, int64_t nb, int64_t n,
			   struct entropy_scratch *s)
{
	double sum = 0;

	sort_rows(a, na, NULL, n, s->count, s->by_a);
	sort_rows(b, nb, s->by_a, n, s->count, s->by_ba);
	for (int64_t start = 0, end; start < n; start = end) {
		for (end = start + 1; end < n && b[s->by_ba[end]] == b[s->by_ba[start]]; end++)
			;
		sum += runs_sum(a, s->by_ba + start, end - start);
	}
	return sum < 0 ? -sum / (double)n : 0;   /* not -0 when A is a function of B */
}

/* ---- the pool ---- */

void xf_osborn_terms_free(struct xf_osborn_terms *t)
{
	if (!t)
		return;
	free(t->domain), free(t->rows), free(t->task), free(t->cohesion);
	free(t);
}

static struct xf_osborn_terms *terms_alloc(int n, struct xf_err *err)
{
	struct xf_osborn_terms *t = calloc(1, sizeof(*t));

	if (t) {
		t->n = n;
		t->domain = calloc((size_t)n, sizeof(double));
		t->rows = calloc((size_t)n, sizeof(int64_t));
		t->task = calloc((size_t)n, sizeof(double));
		t->cohesion = calloc((size_t)n * (size_t)n, sizeof(double));
	}
	if (t && t->domain && t->rows && t->task && t->cohesion)
		return t;
	xf_osborn_terms_free(t);
	xf_err_nomem(err, 0);
	return NULL;
}

/* Hard labels of every model, n_rows each, and the largest label space among them and y. */
static int64_t *hard_labels(const struct xf_osborn_model *models, int n, int64_t *n_keys, struct xf_err *err)
{
	int64_t rows = models[0].target->n, *z = malloc((size_t)n * (size_t)rows * sizeof(int64_t) + 1);

	if (!z) {
		xf_err_nomem(err, (size_t)n * (size_t)rows * sizeof(int64_t));
		return NULL;
	}
	*n_keys = models[0].target->c;
	for (int s = 0; s < n; s++) {
		const struct xf_score_data *t = models[s].target;

		for (int64_t i = 0; i < rows; i++)
			z[s * rows + i] = xf_score_argmax(t->p + i * t->cs, t->cs);
		*n_keys = t->cs > *n_keys ? t->cs : *n_keys;
		*n_keys = t->c > *n_keys ? t->c : *n_keys;
	}
	return z;
}

/* W_T of every model and W_C of every pair, from the hard labels z (n x rows). */
static int entropy_terms(struct xf_osborn_terms *t, const struct xf_osborn_model *models, const int64_t *z,
			 int64_t n_keys, struct xf_err *err)
{
	const struct xf_score_data *first = models[0].target;
	int64_t rows = first->n;
	struct entropy_scratch s = {
		malloc((size_t)rows * sizeof(int64_t)), malloc((size_t)rows * sizeof(int64_t)),
		malloc((size_t)(n_keys + 1) * sizeof(int64_t)),
	};
	int rc = s.by_a && s.by_ba && s.count ? 0 : xf_err_nomem(err, (size_t)(2 * rows + n_keys) * sizeof(int64_t));

	for (int i = 0; rc == 0 && i < t->n; i++) {
		const struct xf_score_data *di = models[i].target;

		t->task[i] = cond_entropy(z + i * rows, di->cs, di->y, di->c, rows, &s);
		for (int j = 0; j < i; j++) {
			const int64_t *zi = z + i * rows, *zj = z + j * rows;
			int64_t ci = di->cs, cj = models[j].target->cs;
			double w = cond_entropy(zi, ci, zj, cj, rows, &s) + cond_entropy(zj, cj, zi, ci, rows, &s);

			t->cohesion[(size_t)i * (size_t)t->n + (size_t)j] = w;
			t->cohesion[(size_t)j * (size_t)t->n + (size_t)i] = w;
		}
	}
	free(s.by_a), free(s.by_ba), free(s.count);
	return rc;
}

struct xf_osborn_terms *xf_osborn_terms_new(const struct xf_osborn_model *models, int n, struct xf_err *err)
{
	struct xf_osborn_terms *t;
	int64_t *z = NULL, n_keys;
	int rc = 0;

	if (!models || n < 1) {
		xf_err_set(err, XF_E_USAGE, "OSBORN needs at least one model");
		return NULL;
	}
	for (int s = 0; s < n; s++)
		if (check_model(models, s, err) < 0)
			return NULL;
	if (!(t = terms_alloc(n, err)))
		return NULL;
	for (int s = 0; rc == 0 && s < n; s++)
		if ((rc = domain_term(&models[s], &t->domain[s], &t->rows[s], err)) < 0)
			xf_err_prefix(err, "model %d: W_D", s);
	if (rc == 0 && !(z = hard_labels(models, n, &n_keys, err)))
		rc = -1;
	if (rc == 0)
		rc = entropy_terms(t, models, z, n_keys, err);
	free(z);
	if (rc < 0) {
		xf_osborn_terms_free(t);
		return NULL;
	}
	return t;
}

/* ---- ensembles ---- */

int xf_osborn_count(const struct xf_osborn_terms *t)
{
	return t ? t->n : 0;
}

static const struct xf_osborn_weights unit_weights = XF_OSBORN_WEIGHTS_INIT;

double xf_osborn_score(const struct xf_osborn_terms *t, const struct xf_osborn_weights *w, const int *chosen, int k)
{
	double unary = 0, pairs = 0;

	if (!t || k < 0 || (k > 0 && !chosen))
		return NAN;
	w = w ? w : &unit_weights;
	for (int a = 0; a < k; a++) {
		int s = chosen[a];

		if (s < 0 || s >= t->n)
			return NAN;
		unary += w->domain * t->domain[s] + w->task * t->task[s];
	}
	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++)
			pairs += t->cohesion[(size_t)chosen[a] * (size_t)t->n + (size_t)chosen[b]];
	return unary + w->cohesion * pairs;
}

int xf_osborn_greedy(const struct xf_osborn_terms *t, const struct xf_osborn_weights *w, int k, int *chosen,
		     double *out, struct xf_err *err)
{
	bool *used;

	w = w ? w : &unit_weights;
	if (!isfinite(w->domain) || !isfinite(w->task) || !isfinite(w->cohesion))
		return xf_err_set(err, XF_E_USAGE, "OSBORN weights must be finite (got %g, %g, %g)", w->domain, w->task,
				  w->cohesion);
	if (!t || k < 1 || k > t->n)
		return xf_err_set(err, XF_E_USAGE, "cannot choose %d of %d models", k, xf_osborn_count(t));
	if (!(used = calloc((size_t)t->n, sizeof(*used))))
		return xf_err_nomem(err, (size_t)t->n);
	for (int size = 0; size < k; size++) {
		double best = INFINITY;
		int pick = -1;

		for (int j = 0; j < t->n; j++) {
			double v;

			if (used[j])
				continue;
			chosen[size] = j;   /* the candidate ensemble is chosen[0..size] */
			v = xf_osborn_score(t, w, chosen, size + 1);
			if (pick < 0 || v < best)
				best = v, pick = j;
		}
		used[pick] = true;
		chosen[size] = pick;
		*out = best;
	}
	free(used);
	return 0;
}

/* ---- accessors ---- */

double xf_osborn_domain(const struct xf_osborn_terms *t, int s)
{
	return t && s >= 0 && s < t->n ? t->domain[s] : NAN;
}

int64_t xf_osborn_domain_rows(const struct xf_osborn_terms *t, int s)
{
	return t && s >= 0 && s < t->n ? t->rows[s] : -1;
}

double xf_osborn_task(const struct xf_osborn_terms *t, int s)
{
	return t && s >= 0 && s < t->n ? t->task[s] : NAN;
}

double xf_osborn_cohesion(const struct xf_osborn_terms *t, int i, int j)
{
	return t && i >= 0 && i < t->n && j >= 0 && j < t->n ? t->cohesion[(size_t)i * (size_t)t->n + (size_t)j] : NAN;
}
