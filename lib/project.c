/* project: PCA and t-SNE of feature rows; see project.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "knn_approx.h"
#include "project.h"
#include "tsne_affinity.h"

__attribute__((format(printf, 2, 3)))
static void note(const struct xf_project_opts *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!o->note)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->note(o->ctx, line);
}

/* The top k principal component scores of x into out (n x k). */
static int pca_scores(const double *x, int64_t n, int64_t d, int64_t k, const struct xf_project_opts *o,
		      double *out, double *explained, struct xf_err *err)
{
	struct xf_pca pca = { 0 };
	int rc = xf_pca_fit(x, n, d, k, o->solver, o->seed, &pca, err);

	if (rc == 0)
		rc = xf_pca_transform(&pca, x, n, out, err);
	if (rc == 0 && explained) {
		*explained = 0;
		for (int64_t i = 0; i < k; i++)
			*explained += pca.total_variance > 0 ? pca.variance[i] / pca.total_variance : 0;
	}
	xf_pca_release(&pca);
	return rc;
}

/* Rows scaled to unit length (zero rows stay zero), for the cosine metric. */
static double *unit_rows(const double *x, int64_t n, int64_t d, struct xf_err *err)
{
	double *u = malloc((size_t)(n * d) * sizeof(double) + 1);

	if (!u) {
		xf_err_nomem(err, (size_t)(n * d) * sizeof(double));
		return NULL;
	}
	for (int64_t i = 0; i < n; i++) {
		double norm = 0;

		for (int64_t j = 0; j < d; j++)
			norm += x[i * d + j] * x[i * d + j];
		norm = norm > 0 ? 1 / sqrt(norm) : 0;
		for (int64_t j = 0; j < d; j++)
			u[i * d + j] = x[i * d + j] * norm;
	}
	return u;
}

/* t-SNE's input: x itself or its PCA scores (a new array in *reduced, or NULL). */
static int pre_reduce(const double *x, int64_t n, int64_t d, const struct xf_project_opts *o, double **reduced,
		      int64_t *dims, struct xf_err *err)
{
	int64_t k = o->pca_dims < 0 ? (d > 50 ? 50 : 0) : o->pca_dims;
	double explained;

	*reduced = NULL;
	*dims = 0;
	if (o->metric == XF_METRIC_COSINE)
		return (*reduced = unit_rows(x, n, d, err)) ? 0 : -1;
	if (k == 0 || k >= d)
		return 0;
	k = k > n ? n : k;
	if (!(*reduced = malloc((size_t)(n * k) * sizeof(double))))
		return xf_err_nomem(err, (size_t)(n * k) * sizeof(double));
	if (pca_scores(x, n, d, k, o, *reduced, &explained, err) < 0) {
		free(*reduced);
		*reduced = NULL;
		return -1;
	}
	*dims = k;
	note(o, "PCA to %lld dimensions keeps %.1f%% of the variance", (long long)k, 100 * explained);
	return 0;
}

static int neighbours(const double *x, int64_t n, int64_t d, int64_t k, const struct xf_project_opts *o, int64_t *idx,
		      double *dist2, struct xf_err *err)
{
	bool exact = o->knn == XF_KNN_EXACT || (o->knn == XF_KNN_AUTO && n <= XF_KNN_EXACT_MAX);
	int rc;

	note(o, "%s search for %lld neighbours of %lld points", exact ? "exact" : "approximate", (long long)k,
	     (long long)n);
	rc = exact ? xf_knn_exact(x, n, d, k, o->tsne.threads, idx, dist2, err)
		   : xf_knn_approx(x, n, d, k, o->seed, o->tsne.threads, idx, dist2, err);
	/* unit rows: |a - b|^2 = 2 (1 - cos), and the cosine distance is squared as scikit-learn does */
	for (int64_t t = 0; rc == 0 && o->metric == XF_METRIC_COSINE && t < n * k; t++)
		dist2[t] = dist2[t] * dist2[t] / 4;
	return rc;
}

/* P of the perplexity (lowered, as openTSNE does, when 3 perplexity > n - 1). */
static int affinities(const double *x, int64_t n, int64_t d, const struct xf_project_opts *o, struct xf_csr *p,
		      struct xf_project_result *res, struct xf_err *err)
{
	double perplexity = o->perplexity, worst;
	int64_t k, *idx;
	double *dist2;
	int rc;

	if (3 * perplexity > (double)(n - 1)) {
		perplexity = (double)(n - 1) / 3;
		note(o, "perplexity %g needs %g neighbours, %lld points have %lld: using %g", o->perplexity,
		     3 * o->perplexity, (long long)n, (long long)(n - 1), perplexity);
	}
	k = (int64_t)floor(3 * perplexity);
	k = k < 1 ? 1 : k > n - 1 ? n - 1 : k;
	idx = malloc((size_t)(n * k) * sizeof(int64_t));
	dist2 = malloc((size_t)(n * k) * sizeof(double));
	rc = idx && dist2 ? neighbours(x, n, d, k, o, idx, dist2, err) : xf_err_nomem(err, (size_t)(n * k) * 16);
	if (rc == 0)
		rc = xf_tsne_affinities(idx, dist2, n, k, perplexity, o->tsne.threads, p, &worst, err);
	if (rc == 0)
		note(o, "P: %lld non-zeros; entropy within %.2g nats of ln(perplexity) everywhere",
		     (long long)p->rowptr[n], worst);
	free(idx), free(dist2);
	res->perplexity = perplexity;
	res->neighbours = k;
	return rc;
}

static int initial(const double *x, int64_t n, int64_t d, const struct xf_project_opts *o, double *y,
		   struct xf_err *err)
{
	int dim = o->tsne.dim;

	if (o->init == XF_INIT_RANDOM || d < dim) {
		xf_tsne_random_init(y, n, dim, o->seed);
		return 0;
	}
	if (pca_scores(x, n, d, dim, o, y, NULL, err) < 0)
		return -1;
	xf_tsne_scale_init(y, n, dim, o->seed);
	return 0;
}

static int tsne(const double *x, int64_t n, int64_t d, const struct xf_project_opts *o, double *y,
		struct xf_project_result *res, struct xf_err *err)
{
	struct xf_csr p = XF_CSR_INIT;
	double *reduced;
	int64_t dims;
	int rc = pre_reduce(x, n, d, o, &reduced, &dims, err);

	if (rc == 0) {
		res->pca_dims = dims;
		x = reduced ? reduced : x;
		d = dims ? dims : d;
		rc = affinities(x, n, d, o, &p, res, err);
	}
	if (rc == 0)
		rc = initial(x, n, d, o, y, err);
	res->method = o->tsne.method == XF_TSNE_AUTO ? xf_tsne_choose_method(n, o->tsne.dim) : o->tsne.method;
	if (rc == 0)
		rc = xf_tsne_optimize(&p, y, n, &o->tsne, &res->kl, err);
	xf_csr_release(&p);
	free(reduced);
	return rc;
}

int xf_project(const double *x, int64_t n, int64_t d, const struct xf_project_opts *opts, double *y,
	       struct xf_project_result *res, struct xf_err *err)
{
	struct xf_project_opts local = *opts, *o = &local;

	local.tsne.dim = opts->dim; /* one output dimension for every step */
	memset(res, 0, sizeof(*res));
	if (n < 2)
		return xf_err_set(err, XF_E_FORMAT, "%lld rows: a projection needs at least 2", (long long)n);
	if (o->method == XF_PROJECT_PCA) {
		if (o->dim > d || o->dim > n)
			return xf_err_set(err, XF_E_FORMAT, "%d components of %lld rows with %lld features", o->dim,
					  (long long)n, (long long)d);
		return pca_scores(x, n, d, o->dim, o, y, &res->explained, err);
	}
	return tsne(x, n, d, o, y, res, err);
}
