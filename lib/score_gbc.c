/*
 * score_gbc: GBC, the Gaussian Bhattacharyya coefficient (Pándy et al. 2022), in the
 * diagonal form (gbc) and in the official code's spherical form (gbc_spherical); see
 * docs/scores.md section 7. Label values without samples are skipped, as the official code
 * does by iterating over the labels present, so the range is [-C'(C'-1), 0] for the C'
 * populated classes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "score_metrics.h"

#define GBC_MIN_VAR 1e-4  /* variance floor: a constant feature or a one-sample class */

/*
 * Population variance (divide by n_c) per class and dimension, floored at GBC_MIN_VAR, from
 * the shared sums of squared deviations to the class means (no cancellation). Rows of empty
 * classes are left 0 and must not be used.
 */
static double *class_variances(const struct xf_score_data *d, struct xf_score_cache *cache, const int64_t *counts,
			       struct xf_err *err)
{
	const double *m2 = xf_score_class_m2(cache, err);
	double *var;

	if (!m2)
		return NULL;
	if (!(var = calloc((size_t)d->c * (size_t)d->d, sizeof(*var)))) {
		xf_err_nomem(err, (size_t)d->c * (size_t)d->d * sizeof(*var));
		return NULL;
	}
	for (int64_t c = 0; c < d->c; c++)
		for (int64_t j = 0; counts[c] && j < d->d; j++)
			var[c * d->d + j] = fmax(m2[c * d->d + j] / (double)counts[c], GBC_MIN_VAR);
	return var;
}

/*
 * The spherical form replaces each class's variances by their mean, kept in the first
 * column of the row so that the pair loop reads it with a stride of 0.
 */
static void make_spherical(double *var, const int64_t *counts, int64_t n_classes, int64_t d)
{
	for (int64_t c = 0; c < n_classes; c++) {
		double sum = 0;

		for (int64_t j = 0; counts[c] && j < d; j++)
			sum += var[c * d + j];
		var[c * d] = sum / (double)d;
	}
}

/*
 * Bhattacharyya distance between two Gaussians with diagonal variances s1, s2 read at
 * index j * s_stride. With s_stride 0 (spherical) the log-determinant terms are taken
 * once, not d times: that is the official code's formula, reproduced on purpose.
 * log1, log2 are the sums of log s1, log s2 over the n_s = (s_stride ? d : 1) entries.
 */
static double bhattacharyya(const double *mu1, const double *mu2, const double *s1, const double *s2,
			    int64_t s_stride, int64_t d, double log1, double log2)
{
	int64_t n_s = s_stride ? d : 1;
	double first = 0, second = 0;

	for (int64_t j = 0; j < d; j++) {
		double diff = mu1[j] - mu2[j];

		first += diff * diff / ((s1[j * s_stride] + s2[j * s_stride]) / 2);
	}
	for (int64_t j = 0; j < n_s; j++)
		second += log((s1[j] + s2[j]) / 2);
	second -= 0.5 * log1;
	second -= 0.5 * log2;
	return first / 8 + 0.5 * second;
}

/* -sum over ordered pairs of populated classes of exp(-D_B); D_B is symmetric, so each unordered pair counts twice. */
static double gbc_sum(const struct xf_score_data *d, const double *means, const double *var, const double *log_det,
		      const int64_t *counts, int64_t s_stride)
{
	double sum = 0;

	for (int64_t a = 0; a < d->c; a++)
		for (int64_t b = a + 1; counts[a] && b < d->c; b++)
			if (counts[b])
				sum += 2 * exp(-bhattacharyya(means + a * d->d, means + b * d->d, var + a * d->d,
							      var + b * d->d, s_stride, d->d, log_det[a], log_det[b]));
	return -sum;
}

static int gbc(const struct xf_score_data *d, struct xf_score_cache *cache, bool spherical, double *out,
	       struct xf_err *err)
{
	const int64_t *counts = xf_score_counts(cache, err);
	const double *means = counts ? xf_score_class_means(cache, err) : NULL;
	int64_t s_stride = spherical ? 0 : 1, n_s = spherical ? 1 : d->d;
	double *var, *log_det;

	if (!means || !(var = class_variances(d, cache, counts, err)))
		return -1;
	if (!(log_det = calloc((size_t)d->c, sizeof(*log_det)))) {
		free(var);
		return xf_err_nomem(err, (size_t)d->c * sizeof(*log_det));
	}
	if (spherical)
		make_spherical(var, counts, d->c, d->d);
	for (int64_t c = 0; c < d->c; c++)
		for (int64_t j = 0; counts[c] && j < n_s; j++)
			log_det[c] += log(var[c * d->d + j]);
	*out = gbc_sum(d, means, var, log_det, counts, s_stride);
	free(var);
	free(log_det);
	return 0;
}

XF_METRIC_FN(xf_metric_gbc)
{
	return gbc(data, cache, false, out, err);
}

XF_METRIC_FN(xf_metric_gbc_spherical)
{
	return gbc(data, cache, true, out, err);
}
