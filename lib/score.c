/* score: the metric table, input checks and the shared cache; see score.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "score_metrics.h"

const struct xf_metric xf_metrics[] = {
	{ "logme", XF_NEEDS_F | XF_NEEDS_Y, true, "LogME, the official fixed-point algorithm (You et al. 2021)",
	  xf_metric_logme, true },
	{ "logme_exact", XF_NEEDS_F | XF_NEEDS_Y, true, "LogME maximised to convergence with the full log|A|",
	  xf_metric_logme_exact, true },
	{ "hscore", XF_NEEDS_F | XF_NEEDS_Y, true, "H-score, tr(pinv(cov F) cov E[F|y]) (Bao et al. 2019)",
	  xf_metric_hscore, true },
	{ "hscore_shrinkage", XF_NEEDS_F | XF_NEEDS_Y, true,
	  "H-score with the Ledoit-Wolf shrunk covariance (Ibrahim et al. 2022)", xf_metric_hscore_shrinkage, false },
	{ "sfda", XF_NEEDS_F | XF_NEEDS_Y, true, "SFDA, shrinkage-LDA probabilities after ConfMix (Shao et al. 2022)",
	  xf_metric_sfda, false },
	{ "leep", XF_NEEDS_P | XF_NEEDS_Y, true, "LEEP, mean log expected empirical prediction (Nguyen et al. 2020)",
	  xf_metric_leep, false },
	{ "nce", XF_NEEDS_P | XF_NEEDS_Y, true, "NCE, -H(y | argmax P) (Tran et al. 2019)", xf_metric_nce, true },
	{ "nleep", XF_NEEDS_F | XF_NEEDS_Y, true,
	  "N-LEEP: LEEP on a deterministic Gaussian mixture of the PCA-80% features (Li et al. 2021)", xf_metric_nleep,
	  false },
	{ "gbc", XF_NEEDS_F | XF_NEEDS_Y, true, "GBC, diagonal Gaussian Bhattacharyya class overlap (Pandy et al. 2022)",
	  xf_metric_gbc, true },
	{ "gbc_spherical", XF_NEEDS_F | XF_NEEDS_Y, true, "GBC as the official code's spherical default computes it",
	  xf_metric_gbc_spherical, true },
	{ "tmi", XF_NEEDS_F | XF_NEEDS_Y, true, "TMI, kNN estimate of H(X|Y) per kept class (Xu & Kang 2023)",
	  xf_metric_tmi, false },
	{ "knn", XF_NEEDS_F | XF_NEEDS_Y, true,
	  "leave-one-out accuracy of a 5-NN vote (Euclidean; a tie goes to the label of the nearest tied row)",
	  xf_metric_knn, false },
	{ "linprobe", XF_NEEDS_F | XF_NEEDS_Y, true,
	  "5-fold (fold = row mod 5) accuracy of ridge on one-hot y, centred, lambda = 1e-3 tr(Xc'Xc)/d",
	  xf_metric_linprobe, false },
	{ "accuracy", XF_NEEDS_P | XF_NEEDS_Y, true, "fraction of rows whose argmax P is the label",
	  xf_metric_accuracy, true },
	{ "nll", XF_NEEDS_P | XF_NEEDS_Y, false, "mean -log P[label], clipped as sklearn log_loss", xf_metric_nll, true },
	{ NULL, 0, false, NULL, NULL, false },
};

const struct xf_metric *xf_metric_find(const char *name)
{
	for (const struct xf_metric *m = xf_metrics; m->name; m++)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

struct xf_score_cache {
	const struct xf_score_data *data;
	int64_t *counts;
	double *mean, *class_means, *centred, *scatter, *class_m2;
	int64_t *joint;
	double *nll_sum;              /* 1 value: sum over rows of nll's term (NaN: a label without a probability) */
	double *eig_w, *eig_v;        /* of scatter */
	double *gram_w, *gram_z;      /* the uncentred Gram's eigenvalues, class sums projected */
	int verdict[3];               /* per need bit: 0 unchecked, 1 passed, -1 failed with... */
	struct xf_err why[3];         /* ...this message */
};

struct xf_score_cache *xf_score_cache_new(const struct xf_score_data *data, struct xf_err *err)
{
	struct xf_score_cache *c = calloc(1, sizeof(*c));

	if (!c)
		xf_err_nomem(err, sizeof(*c));
	else
		c->data = data;
	return c;
}

void xf_score_cache_free(struct xf_score_cache *c)
{
	if (!c)
		return;
	free(c->counts);
	free(c->mean);
	free(c->class_means);
	free(c->class_m2);
	free(c->joint);
	free(c->nll_sum);
	free(c->centred);
	free(c->scatter);
	free(c->eig_w);
	free(c->eig_v);
	free(c->gram_w);
	free(c->gram_z);
	free(c);
}

static double *alloc_doubles(int64_t n, struct xf_err *err)
{
	double *p = n > 0 && (uint64_t)n < SIZE_MAX / sizeof(double) ? calloc((size_t)n, sizeof(double)) : NULL;

	if (!p)
		xf_err_nomem(err, (size_t)n * sizeof(double));
	return p;
}

static int check_labels(const struct xf_score_data *d, struct xf_err *err)
{
	int64_t populated = 0, *seen;

	if (!d->y)
		return xf_err_set(err, XF_E_USAGE, "no labels (field y)");
	for (int64_t i = 0; i < d->n; i++)
		if (d->y[i] < 0 || d->y[i] >= d->c)
			return xf_err_set(err, XF_E_FORMAT, "label %lld of row %lld is out of range 0..%lld",
					  (long long)d->y[i], (long long)i, (long long)d->c - 1);
	if (!(seen = calloc(d->c + 1, sizeof(*seen))))
		return xf_err_nomem(err, 0);
	for (int64_t i = 0; i < d->n; i++)
		populated += !seen[d->y[i]]++;
	free(seen);
	if (populated < 2)
		return xf_err_set(err, XF_E_FORMAT, "all %lld rows have one label: scores need at least two classes",
				  (long long)d->n);
	return 0;
}

static int check_features(const struct xf_score_data *d, struct xf_err *err)
{
	if (!d->f || d->d == 0)
		return xf_err_set(err, XF_E_USAGE, "no features (field x)");
	for (int64_t i = 0; i < d->n * d->d; i++)
		if (!isfinite(d->f[i]))
			return xf_err_set(err, XF_E_FORMAT, "feature %lld of row %lld is %s", (long long)(i % d->d),
					  (long long)(i / d->d), isnan(d->f[i]) ? "NaN" : "infinite");
	return 0;
}

static int check_probabilities(const struct xf_score_data *d, struct xf_err *err)
{
	if (!d->p || d->cs == 0)
		return xf_err_set(err, XF_E_USAGE, "no probabilities (field p)");
	for (int64_t i = 0; i < d->n; i++) {
		double sum = 0;

		for (int64_t j = 0; j < d->cs; j++) {
			double v = d->p[i * d->cs + j];

			if (!(v >= 0 && v <= 1))
				return xf_err_set(err, XF_E_FORMAT, "probability %lld of row %lld is %g", (long long)j,
						  (long long)i, v);
			sum += v;
		}
		if (fabs(sum - 1) > XF_SCORE_P_TOLERANCE)
			return xf_err_set(err, XF_E_FORMAT, "probabilities of row %lld sum to %.6g, not 1 (tolerance %g)",
					  (long long)i, sum, XF_SCORE_P_TOLERANCE);
	}
	return 0;
}

int xf_score_check(const struct xf_score_data *data, unsigned needs, struct xf_err *err)
{
	if ((needs & XF_NEEDS_Y) && data->n < 2)
		return xf_err_set(err, XF_E_FORMAT, "%lld rows: scores need at least two", (long long)data->n);
	if ((needs & XF_NEEDS_Y) && check_labels(data, err) < 0)
		return -1;
	if ((needs & XF_NEEDS_F) && check_features(data, err) < 0)
		return -1;
	if ((needs & XF_NEEDS_P) && check_probabilities(data, err) < 0)
		return -1;
	return 0;
}

int xf_score_cache_check(struct xf_score_cache *c, unsigned needs, struct xf_err *err)
{
	for (int bit = 0; bit < 3; bit++) {
		if (!(needs & (1u << bit)))
			continue;
		if (c->verdict[bit] == 0) {
			c->why[bit] = (struct xf_err)XF_ERR_INIT;
			c->verdict[bit] = xf_score_check(c->data, 1u << bit, &c->why[bit]) < 0 ? -1 : 1;
		}
		if (c->verdict[bit] < 0) {
			if (err)
				*err = c->why[bit];
			return -1;
		}
	}
	return 0;
}

const int64_t *xf_score_counts(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;

	if (c->counts)
		return c->counts;
	if (!(c->counts = calloc(d->c + 1, sizeof(*c->counts)))) {
		xf_err_nomem(err, 0);
		return NULL;
	}
	for (int64_t i = 0; i < d->n; i++)
		c->counts[d->y[i]]++;
	return c->counts;
}

const double *xf_score_mean(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;

	if (c->mean || !(c->mean = alloc_doubles(d->d, err)))
		return c->mean;
	for (int64_t i = 0; i < d->n; i++)
		for (int64_t j = 0; j < d->d; j++)
			c->mean[j] += d->f[i * d->d + j];
	for (int64_t j = 0; j < d->d; j++)
		c->mean[j] /= (double)d->n;
	return c->mean;
}

const double *xf_score_class_means(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const int64_t *counts = xf_score_counts(c, err);

	if (c->class_means || !counts || !(c->class_means = alloc_doubles(d->c * d->d, err)))
		return c->class_means;
	for (int64_t i = 0; i < d->n; i++)
		for (int64_t j = 0; j < d->d; j++)
			c->class_means[d->y[i] * d->d + j] += d->f[i * d->d + j];
	for (int64_t k = 0; k < d->c; k++)
		for (int64_t j = 0; counts[k] && j < d->d; j++)
			c->class_means[k * d->d + j] /= (double)counts[k];
	return c->class_means;
}

const double *xf_score_centred(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const double *mean = xf_score_mean(c, err);

	if (c->centred || !mean)
		return c->centred;
	if (!d->f) {
		xf_err_set(err, XF_E_USAGE, "needs every row at once: it cannot be combined from partial statistics");
		return NULL;
	}
	if (!(c->centred = alloc_doubles(d->n * d->d, err)))
		return c->centred;
	for (int64_t i = 0; i < d->n; i++)
		for (int64_t j = 0; j < d->d; j++)
			c->centred[i * d->d + j] = d->f[i * d->d + j] - mean[j];
	return c->centred;
}

const double *xf_score_scatter(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const double *fc = c->scatter ? NULL : xf_score_centred(c, err);

	if (c->scatter || !fc || !(c->scatter = alloc_doubles(d->d * d->d, err)))
		return c->scatter;
	if (xf_linalg_gram(d->n, d->d, 1.0, fc, d->d, 0.0, c->scatter, err) < 0) {
		free(c->scatter);
		c->scatter = NULL;
	}
	return c->scatter;
}

/* Eigendecompose a copy of the d x d matrix m into *w and *v (allocated here). */
static int eig_of(const double *m, int64_t d, double **w, double **v, struct xf_err *err)
{
	if (!(*w = alloc_doubles(d, err)) || !(*v = alloc_doubles(d * d, err)))
		goto fail;
	memcpy(*v, m, d * d * sizeof(double));
	if (xf_linalg_eigh(*v, d, *w, err) == 0)
		return 0;
fail:
	free(*w), free(*v);
	*w = *v = NULL;
	return -1;
}

int xf_score_scatter_eig(struct xf_score_cache *c, const double **w, const double **v, struct xf_err *err)
{
	const double *s = c->eig_v ? NULL : xf_score_scatter(c, err);

	if (!c->eig_v && (!s || eig_of(s, c->data->d, &c->eig_w, &c->eig_v, err) < 0))
		return -1;
	*w = c->eig_w;
	*v = c->eig_v;
	return 0;
}

/* The uncentred Gram as scatter + n mean mean^T: one O(n d^2) product serves both. */
int xf_score_gram_projection(struct xf_score_cache *c, const double **w, const double **z, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const double *s = c->gram_z ? NULL : xf_score_scatter(c, err), *mean = xf_score_mean(c, err);
	const double *means = xf_score_class_means(c, err);
	const int64_t *counts = xf_score_counts(c, err);
	double *g = NULL, *sums = NULL;
	int rc = 0;

	if (!c->gram_z) {
		if (!s || !mean || !means || !counts || !(g = alloc_doubles(d->d * d->d, err)) ||
		    !(sums = alloc_doubles(d->d * d->c, err)) || !(c->gram_w = alloc_doubles(d->d, err)) ||
		    !(c->gram_z = alloc_doubles(d->d * d->c, err)))
			rc = -1;
		for (int64_t i = 0; rc == 0 && i < d->d; i++) {
			for (int64_t j = 0; j < d->d; j++)
				g[i * d->d + j] = s[i * d->d + j] + (double)d->n * mean[i] * mean[j];
			for (int64_t k = 0; k < d->c; k++)
				sums[i * d->c + k] = means[k * d->d + i] * (double)counts[k];
		}
		if (rc == 0)
			rc = xf_linalg_eigh_project(g, d->d, c->gram_w, sums, d->c, c->gram_z, err);
		free(g), free(sums);
		if (rc < 0) {
			free(c->gram_w), free(c->gram_z);
			c->gram_w = c->gram_z = NULL;
			return -1;
		}
	}
	*w = c->gram_w;
	*z = c->gram_z;
	return 0;
}

/* Centred class means, c x d (rows of empty classes are zero). */
static double *deviations(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const int64_t *counts = xf_score_counts(c, err);
	const double *means = xf_score_class_means(c, err), *mean = xf_score_mean(c, err);
	double *dev = counts && means && mean ? alloc_doubles(d->c * d->d, err) : NULL;

	for (int64_t k = 0; dev && k < d->c; k++)
		for (int64_t j = 0; counts[k] && j < d->d; j++)
			dev[k * d->d + j] = means[k * d->d + j] - mean[j];
	return dev;
}

/*
 * Well conditioned (reciprocal condition above 1e-10, so no eigenvalue is anywhere near a
 * 1e-15 cut-off): pinv is the inverse, and a Cholesky solve costs a fraction of an
 * eigendecomposition. Returns 1 when it answered, 0 to fall back, -1 on error.
 */
static int between_by_cholesky(struct xf_score_cache *c, double a, double b, const double *dev, double *out,
			       struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const int64_t *counts = xf_score_counts(c, err);
	const double *s = xf_score_scatter(c, err);
	double *m = s ? alloc_doubles(d->d * d->d, err) : NULL, *x = m ? alloc_doubles(d->d * d->c, err) : NULL;
	double rcond = 0, sum = 0;
	int rc = x ? 0 : -1;

	for (int64_t i = 0; rc == 0 && i < d->d * d->d; i++)
		m[i] = a * s[i] + (i % (d->d + 1) ? 0 : b);
	if (rc == 0)
		rc = xf_linalg_cholesky_rcond(m, d->d, &rcond, err);
	if (rc == 0 && rcond > 1e-10) {
		for (int64_t k = 0; k < d->c; k++)
			for (int64_t j = 0; j < d->d; j++)
				x[j * d->c + k] = dev[k * d->d + j];
		rc = xf_linalg_cholesky_solve(m, d->d, x, d->c, err);
		for (int64_t k = 0; rc == 0 && k < d->c; k++)
			for (int64_t j = 0; j < d->d; j++)
				sum += (double)counts[k] * dev[k * d->d + j] * x[j * d->c + k];
		*out = sum;
		rc = rc == 0 ? 1 : -1;
	}
	free(m), free(x);
	return rc;
}

/* pinv through the shared eigendecomposition of S: sum_c n_c sum_i (v_i . m_c)^2 / (a w_i + b). */
static int between_by_eig(struct xf_score_cache *c, double a, double b, double rcond, const double *dev,
			  double *out, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const int64_t *counts = xf_score_counts(c, err);
	const double *w, *v;
	double *proj, smax = 0, sum = 0;

	if (xf_score_scatter_eig(c, &w, &v, err) < 0 || !(proj = alloc_doubles(d->c * d->d, err)))
		return -1;
	if (xf_linalg_gemm(false, false, d->c, d->d, d->d, 1.0, dev, d->d, v, d->d, 0.0, proj, d->d, err) < 0) {
		free(proj);
		return -1;
	}
	for (int64_t i = 0; i < d->d; i++)
		smax = fmax(smax, fabs(a * w[i] + b));
	for (int64_t i = 0; i < d->d; i++)
		for (int64_t k = 0; fabs(a * w[i] + b) > rcond * smax && k < d->c; k++)
			sum += (double)counts[k] * proj[k * d->d + i] * proj[k * d->d + i] / (a * w[i] + b);
	free(proj);
	*out = sum;
	return 0;
}

int xf_score_between_trace(struct xf_score_cache *c, double a, double b, double rcond, double *out,
			   struct xf_err *err)
{
	double *dev = deviations(c, err);
	int rc = dev ? between_by_cholesky(c, a, b, dev, out, err) : -1;

	if (rc == 0)
		rc = between_by_eig(c, a, b, rcond, dev, out, err);
	free(dev);
	return rc < 0 ? -1 : 0;
}

int64_t xf_score_argmax(const double *p, int64_t n)
{
	int64_t best = 0;

	for (int64_t j = 1; j < n; j++)
		if (p[j] > p[best])
			best = j;
	return best;
}

const double *xf_score_class_m2(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	const double *means = c->class_m2 ? NULL : xf_score_class_means(c, err);

	if (c->class_m2 || !means || !(c->class_m2 = alloc_doubles(d->c * d->d, err)))
		return c->class_m2;
	for (int64_t i = 0; i < d->n; i++) {
		const double *x = d->f + i * d->d, *mu = means + d->y[i] * d->d;
		double *m2 = c->class_m2 + d->y[i] * d->d;

		for (int64_t j = 0; j < d->d; j++)
			m2[j] += (x[j] - mu[j]) * (x[j] - mu[j]);
	}
	return c->class_m2;
}

const int64_t *xf_score_joint(struct xf_score_cache *c, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;

	if (c->joint)
		return c->joint;
	if (!(c->joint = calloc(d->c * d->cs + 1, sizeof(*c->joint)))) {
		xf_err_nomem(err, 0);
		return NULL;
	}
	for (int64_t i = 0; i < d->n; i++)
		c->joint[d->y[i] * d->cs + xf_score_argmax(d->p + i * d->cs, d->cs)]++;
	return c->joint;
}

const double *xf_score_nll_sum(struct xf_score_cache *c, struct xf_err *err)
{
	if (c->nll_sum)
		return c->nll_sum;
	if (!(c->nll_sum = malloc(sizeof(double)))) {
		xf_err_nomem(err, sizeof(double));
		return NULL;
	}
	*c->nll_sum = xf_score_nll_rows(c->data);
	return c->nll_sum;
}

void xf_score_stats_release(struct xf_score_stats *s)
{
	free(s->counts), free(s->mean), free(s->class_means), free(s->scatter), free(s->class_m2), free(s->joint);
	free(s->nll_sum);
	memset(s, 0, sizeof(*s));
}

static void *duplicate(const void *p, size_t bytes, struct xf_err *err)
{
	void *q = p ? malloc(bytes ? bytes : 1) : NULL;

	if (p && !q)
		xf_err_nomem(err, bytes);
	else if (q)
		memcpy(q, p, bytes);
	return q;
}

int xf_score_stats_take(struct xf_score_cache *c, struct xf_score_stats *out, struct xf_err *err)
{
	const struct xf_score_data *d = c->data;
	size_t dd = (size_t)(d->d * d->d) * sizeof(double), cd = (size_t)(d->c * d->d) * sizeof(double);
	const int64_t *counts = xf_score_counts(c, err);

	memset(out, 0, sizeof(*out));
	out->n = d->n, out->c = d->c, out->d = d->f ? d->d : 0, out->cs = d->p ? d->cs : 0;
	if (!counts || !(out->counts = duplicate(counts, d->c * sizeof(*counts), err)))
		goto fail;
	if (d->f && (!xf_score_scatter(c, err) || !xf_score_class_m2(c, err) ||
		     !(out->mean = duplicate(c->mean, d->d * sizeof(double), err)) ||
		     !(out->class_means = duplicate(c->class_means, cd, err)) ||
		     !(out->scatter = duplicate(c->scatter, dd, err)) || !(out->class_m2 = duplicate(c->class_m2, cd, err))))
		goto fail;
	if (d->p && (!xf_score_joint(c, err) ||
		     !(out->joint = duplicate(c->joint, (size_t)(d->c * d->cs) * sizeof(int64_t), err)) ||
		     !xf_score_nll_sum(c, err) || !(out->nll_sum = duplicate(c->nll_sum, sizeof(double), err))))
		goto fail;
	return 0;
fail:
	xf_score_stats_release(out);
	return -1;
}

/* Grow a's per-class arrays to c classes (new classes empty). */
static int widen(struct xf_score_stats *a, int64_t c, struct xf_err *err)
{
	struct xf_score_stats w = *a;

	if (c <= a->c)
		return 0;
	w.counts = calloc(c, sizeof(int64_t));
	w.class_means = a->d ? calloc(c * a->d, sizeof(double)) : NULL;
	w.class_m2 = a->d ? calloc(c * a->d, sizeof(double)) : NULL;
	w.joint = a->cs ? calloc(c * a->cs, sizeof(int64_t)) : NULL;
	if (!w.counts || (a->d && (!w.class_means || !w.class_m2)) || (a->cs && !w.joint)) {
		free(w.counts), free(w.class_means), free(w.class_m2), free(w.joint);
		return xf_err_nomem(err, 0);
	}
	memcpy(w.counts, a->counts, a->c * sizeof(int64_t));
	if (a->d) {
		memcpy(w.class_means, a->class_means, a->c * a->d * sizeof(double));
		memcpy(w.class_m2, a->class_m2, a->c * a->d * sizeof(double));
	}
	if (a->cs)
		memcpy(w.joint, a->joint, a->c * a->cs * sizeof(int64_t));
	free(a->counts), free(a->class_means), free(a->class_m2), free(a->joint);
	w.c = c;
	*a = w;
	return 0;
}

/*
 * The pairwise update (Chan, Golub and LeVeque): with delta = mean_b - mean_a,
 * mean = mean_a + delta n_b / n and M2 = M2_a + M2_b + delta delta^T n_a n_b / n.
 * Summing deviations rather than raw moments keeps features with a large offset exact.
 */
static void merge_moments(int64_t na, int64_t nb, const double *mb, const double *m2b, double *ma, double *m2a,
			  int64_t d, bool outer)
{
	double n = (double)(na + nb), w = (double)na * (double)nb / n;

	for (int64_t i = 0; outer && nb && i < d; i++)
		for (int64_t j = 0; j < d; j++)
			m2a[i * d + j] += m2b[i * d + j] + (mb[i] - ma[i]) * (mb[j] - ma[j]) * w;
	for (int64_t i = 0; !outer && nb && i < d; i++)
		m2a[i] += m2b[i] + (mb[i] - ma[i]) * (mb[i] - ma[i]) * w;
	for (int64_t i = 0; nb && i < d; i++)
		ma[i] += (mb[i] - ma[i]) * (double)nb / n;
}

int xf_score_stats_merge(struct xf_score_stats *a, const struct xf_score_stats *b, struct xf_err *err)
{
	if (a->d != b->d || a->cs != b->cs)
		return xf_err_set(err, XF_E_FORMAT, "partial statistics disagree: %lld and %lld feature dimensions, "
				  "%lld and %lld source classes", (long long)a->d, (long long)b->d, (long long)a->cs,
				  (long long)b->cs);
	if (widen(a, b->c, err) < 0)
		return -1;
	if (a->d)
		merge_moments(a->n, b->n, b->mean, b->scatter, a->mean, a->scatter, a->d, true);
	for (int64_t k = 0; k < b->c; k++) {
		if (a->d)
			merge_moments(a->counts[k], b->counts[k], b->class_means + k * b->d, b->class_m2 + k * b->d,
				      a->class_means + k * a->d, a->class_m2 + k * a->d, a->d, false);
		for (int64_t z = 0; z < a->cs; z++)
			a->joint[k * a->cs + z] += b->joint[k * b->cs + z];
		a->counts[k] += b->counts[k];
	}
	if (a->cs)
		*a->nll_sum += *b->nll_sum;
	a->n += b->n;
	return 0;
}

struct xf_score_cache *xf_score_cache_from_stats(struct xf_score_stats *s, struct xf_score_data *data,
						 struct xf_err *err)
{
	struct xf_score_cache *c;

	memset(data, 0, sizeof(*data));
	data->n = s->n, data->c = s->c, data->d = s->d, data->cs = s->cs;
	if (!(c = xf_score_cache_new(data, err)))
		return NULL;
	c->counts = s->counts, c->mean = s->mean, c->class_means = s->class_means;
	c->scatter = s->scatter, c->class_m2 = s->class_m2, c->joint = s->joint, c->nll_sum = s->nll_sum;
	memset(s, 0, sizeof(*s));
	return c;
}
