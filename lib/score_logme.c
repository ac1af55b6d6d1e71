/*
 * score_logme: LogME (You et al., ICML 2021), docs/scores.md section 4.
 *  logme        the official fixed-point algorithm (thuml LogME HEAD): at most 11 updates,
 *               stop at 1e-3 relative change of alpha/beta, 1e-5 in the updates, and the
 *               evidence without the (D-k) log alpha term the code omits;
 *  logme_exact  iterated to convergence (1e-12, at most 10000), no epsilon, full log|A|.
 * Both work in the eigenbasis of F: per class only k numbers x = U^T t are needed.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "score_metrics.h"

/* F in its eigenbasis: sigma (k squared singular values), x (k x c: U^T t_c), r0 (c: ||t_c||^2 - ||x_c||^2). */
struct basis {
	int64_t k, c;
	double *sigma, *x, *r0;
};

static void basis_free(struct basis *b)
{
	free(b->sigma), free(b->x), free(b->r0);
}

static int basis_alloc(struct basis *b, int64_t k, int64_t c, struct xf_err *err)
{
	b->k = k, b->c = c;
	b->sigma = calloc(k + 1, sizeof(double));
	b->x = calloc(k * c + 1, sizeof(double));
	b->r0 = calloc(c + 1, sizeof(double));
	if (b->sigma && b->x && b->r0)
		return 0;
	basis_free(b);
	return xf_err_nomem(err, (size_t)(k * c) * sizeof(double));
}

/* r0 = n_c - ||x_c||^2, with ||t_c||^2 = n_c for a one-vs-rest target. */
static void finish_r0(struct basis *b, const int64_t *counts)
{
	for (int64_t j = 0; j < b->c; j++) {
		double s = 0;

		for (int64_t i = 0; i < b->k; i++)
			s += b->x[i * b->c + j] * b->x[i * b->c + j];
		b->r0[j] = (double)counts[j] - s;
	}
}

/*
 * N > D: eigendecompose F^T F. x = V^T (F^T t) / s needs only the class sums projected on
 * the eigenvectors (shared, see xf_score_gram_projection); directions whose eigenvalue is at
 * round-off level count as sigma = 0 with x = 0 (forming F v / s for them gives garbage,
 * section 4.2).
 */
static int basis_from_gram(const struct xf_score_data *data, struct xf_score_cache *cache, struct basis *b,
			   struct xf_err *err)
{
	const int64_t *counts = xf_score_counts(cache, err);
	const double *w, *z;
	int64_t d = data->d, c = data->c;
	double thr;

	if (!counts || xf_score_gram_projection(cache, &w, &z, err) < 0 || basis_alloc(b, d, c, err) < 0)
		return -1;
	thr = (double)(data->n > d ? data->n : d) * DBL_EPSILON * w[d - 1];
	for (int64_t i = 0; i < d; i++) {
		b->sigma[i] = w[i] > thr ? w[i] : 0;
		for (int64_t j = 0; j < c; j++)
			b->x[i * c + j] = w[i] > thr ? z[i * c + j] / sqrt(w[i]) : 0;
	}
	finish_r0(b, counts);
	return 0;
}

/* N <= D: thin SVD of F; x = U^T t sums U's rows by class. */
static int basis_from_svd(const struct xf_score_data *data, struct xf_score_cache *cache, struct basis *b,
			  struct xf_err *err)
{
	const int64_t *counts = xf_score_counts(cache, err);
	int64_t n = data->n, k = n, c = data->c;
	double *a = malloc(n * data->d * sizeof(double)), *u = malloc(n * k * sizeof(double));
	double *vt = malloc(k * data->d * sizeof(double));
	int rc = -1;

	if (!data->f) {
		free(a), free(u), free(vt);
		return xf_err_set(err, XF_E_USAGE, "with N <= D LogME needs the rows themselves, not partial statistics");
	}
	if (!counts || !a || !u || !vt || basis_alloc(b, k, c, err) < 0) {
		free(a), free(u), free(vt);
		return counts ? xf_err_nomem(err, 0) : -1;
	}
	memcpy(a, data->f, n * data->d * sizeof(double));
	if (xf_linalg_svd(a, n, data->d, b->sigma, u, vt, err) == 0) {
		for (int64_t i = 0; i < k; i++)
			b->sigma[i] *= b->sigma[i];
		for (int64_t r = 0; r < n; r++)
			for (int64_t i = 0; i < k; i++)
				b->x[i * c + data->y[r]] += u[r * k + i];
		finish_r0(b, counts);
		rc = 0;
	} else {
		basis_free(b);
	}
	free(a), free(u), free(vt);
	return rc;
}

static int make_basis(const struct xf_score_data *data, struct xf_score_cache *cache, struct basis *b,
		      struct xf_err *err)
{
	return data->n > data->d ? basis_from_gram(data, cache, b, err) : basis_from_svd(data, cache, b, err);
}

/* gamma, ||m||^2 and ||F m - t||^2 of class j at tau = alpha / beta (section 4.1). */
static void moments(const struct basis *b, int64_t j, double tau, double *gamma, double *m2, double *res2)
{
	*gamma = *m2 = 0;
	*res2 = b->r0[j];
	for (int64_t i = 0; i < b->k; i++) {
		double s = b->sigma[i], x2 = b->x[i * b->c + j] * b->x[i * b->c + j], q = s + tau;

		*gamma += s / q;
		*m2 += s * x2 / (q * q);
		*res2 += x2 * (tau / q) * (tau / q);
	}
}

static double log_det_sum(const struct basis *b, double alpha, double beta)
{
	double s = 0;

	for (int64_t i = 0; i < b->k; i++)
		s += log(alpha + beta * b->sigma[i]);
	return s;
}

/* Evidence per sample of class j, the official way (section 4.2). */
static double evidence_official(const struct basis *b, int64_t j, double n, double d)
{
	double alpha = 1, beta = 1, gamma, m2 = 0, res2 = 0;

	for (int it = 0; it < 11; it++) {
		double tau = alpha / beta;

		moments(b, j, tau, &gamma, &m2, &res2);
		alpha = gamma / (m2 + 1e-5);
		beta = (n - gamma) / (res2 + 1e-5);
		if (fabs(alpha / beta - tau) / tau <= 1e-3)
			break;
	}
	/* the updated alpha, beta with m2, res2 of the previous tau, as the official code does */
	return (d / 2 * log(alpha) + n / 2 * log(beta) - log_det_sum(b, alpha, beta) / 2 - beta / 2 * res2 -
		alpha / 2 * m2 - n / 2 * log(2 * M_PI)) / n;
}

/*
 * Evidence per sample of class j at the fixed point, with the full log|A| (section 4.4).
 * Where the optimum lies at infinity (alpha/beta growing without bound, as when D >= N or a
 * class is not linearly explained at all), iterate until the next update is no longer a
 * finite number and evaluate there: the evidence has converged long before.
 */
static double evidence_exact(const struct basis *b, int64_t j, double n, double d)
{
	double alpha = 1, beta = 1, gamma, m2, res2;

	for (int it = 0; it < 10000; it++) {
		double tau = alpha / beta, next_alpha, next_beta;

		moments(b, j, tau, &gamma, &m2, &res2);
		next_alpha = gamma / m2;
		next_beta = (n - gamma) / res2;
		if (!isfinite(next_alpha) || !isfinite(next_beta) || !(next_alpha > 0) || !(next_beta > 0) ||
		    !isfinite(next_alpha / next_beta))
			break;
		alpha = next_alpha, beta = next_beta;
		if (fabs(alpha / beta - tau) / tau <= 1e-12)
			break;
	}
	moments(b, j, alpha / beta, &gamma, &m2, &res2);
	return (d / 2 * log(alpha) + n / 2 * log(beta) -
		(log_det_sum(b, alpha, beta) + (d - (double)b->k) * log(alpha)) / 2 - beta / 2 * res2 -
		alpha / 2 * m2 - n / 2 * log(2 * M_PI)) / n;
}

XF_METRIC_FN(xf_metric_logme)
{
	struct basis b;
	double sum = 0;

	if (make_basis(data, cache, &b, err) < 0)
		return -1;
	for (int64_t j = 0; j < data->c; j++)
		sum += evidence_official(&b, j, (double)data->n, (double)data->d);
	basis_free(&b);
	*out = sum / (double)data->c;
	return 0;
}

XF_METRIC_FN(xf_metric_logme_exact)
{
	const int64_t *counts = xf_score_counts(cache, err);
	struct basis b;
	double sum = 0;

	for (int64_t j = 0; counts && j < data->c; j++)
		if (!counts[j])
			return xf_err_set(err, XF_E_FORMAT, "label %lld has no samples: logme_exact is undefined for it",
					  (long long)j);
	if (!counts || make_basis(data, cache, &b, err) < 0)
		return -1;
	for (int64_t j = 0; j < data->c; j++)
		sum += evidence_exact(&b, j, (double)data->n, (double)data->d);
	basis_free(&b);
	*out = sum / (double)data->c;
	return 0;
}
