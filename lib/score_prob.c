/*
 * score_prob: the metrics that read source-model probabilities P (n x cs) and labels y:
 * LEEP, NCE (docs/scores.md sections 1 and 2), and the plain accuracy and negative
 * log-likelihood of P taken as a classifier of y.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "score_metrics.h"

/* A zeroed rows x cols table of elements of size bytes, or NULL with err. */
static void *alloc_table(int64_t rows, int64_t cols, size_t size, struct xf_err *err)
{
	void *t;

	if (rows <= 0 || cols <= 0 || (uint64_t)rows > SIZE_MAX / size / (uint64_t)cols) {
		xf_err_set(err, XF_E_LIMIT, "a %lld x %lld table is too large", (long long)rows, (long long)cols);
		return NULL;
	}
	if (!(t = calloc((size_t)rows * (size_t)cols, size)))
		xf_err_nomem(err, (size_t)rows * (size_t)cols * size);
	return t;
}

/*
 * Q[y,z] = J[y,z] / pz[z] with J the joint of section 1. J's factor 1/n cancels in the
 * ratio, so q starts as the per-class column sums of P and is normalised column-wise.
 * A column with pz[z] = 0 (all of P's column underflowed) gets Q[:,z] = 0, as scores.md
 * recommends, rather than thuml's NaN.
 */
static void leep_conditional(const struct xf_score_data *d, double *q)
{
	for (int64_t i = 0; i < d->n; i++) {
		const double *p = d->p + i * d->cs;
		double *row = q + d->y[i] * d->cs;

		for (int64_t z = 0; z < d->cs; z++)
			row[z] += p[z];
	}
	for (int64_t z = 0; z < d->cs; z++) {
		double pz = 0;

		for (int64_t c = 0; c < d->c; c++)
			pz += q[c * d->cs + z];
		for (int64_t c = 0; c < d->c; c++)
			q[c * d->cs + z] = pz > 0 ? q[c * d->cs + z] / pz : 0;
	}
}

int xf_score_leep_eep(const struct xf_score_data *data, double *eep, struct xf_err *err)
{
	double *q = alloc_table(data->c, data->cs, sizeof(*q), err);

	if (!q)
		return -1;
	leep_conditional(data, q);
	for (int64_t i = 0; i < data->n; i++) {
		const double *p = data->p + i * data->cs, *row = q + data->y[i] * data->cs;

		eep[i] = 0;
		for (int64_t z = 0; z < data->cs; z++)
			eep[i] += row[z] * p[z];
	}
	free(q);
	return 0;
}

XF_METRIC_FN(xf_metric_leep)
{
	double *eep = alloc_table(data->n, 1, sizeof(*eep), err), sum = 0;

	(void)cache;
	if (!eep || xf_score_leep_eep(data, eep, err) < 0) {
		free(eep);
		return -1;
	}
	for (int64_t i = 0; i < data->n; i++)
		sum += log(eep[i]);
	free(eep);
	*out = sum / (double)data->n;
	return 0;
}

/*
 * NCE = -H(Y|Z) = (1/n) sum_{y,z} n_yz log(n_yz / n_z) over the counts of (label, hard
 * source label); empty cells drop out (0 log 0 = 0), and so do columns with n_z = 0.
 */
XF_METRIC_FN(xf_metric_nce)
{
	const int64_t *joint = xf_score_joint(cache, err);
	int64_t *nz = joint ? alloc_table(1, data->cs, sizeof(*nz), err) : NULL;
	double sum = 0;

	if (!nz)
		return -1;
	for (int64_t c = 0; c < data->c; c++)
		for (int64_t z = 0; z < data->cs; z++)
			nz[z] += joint[c * data->cs + z];
	for (int64_t c = 0; c < data->c; c++)
		for (int64_t z = 0; z < data->cs; z++) {
			int64_t k = joint[c * data->cs + z];

			if (k > 0)
				sum += (double)k * log((double)k / (double)nz[z]);
		}
	free(nz);
	*out = sum / (double)data->n;
	return 0;
}

/* Labels are compared with source-class indices as integers; a label >= cs is never right. */
XF_METRIC_FN(xf_metric_accuracy)
{
	const int64_t *joint = xf_score_joint(cache, err);
	int64_t right = 0;

	if (!joint)
		return -1;
	for (int64_t c = 0; c < data->c && c < data->cs; c++)
		right += joint[c * data->cs + c];
	*out = (double)right / (double)data->n;
	return 0;
}

/*
 * Mean -log p[i, y_i], with sklearn.metrics.log_loss's convention on float64 input: every
 * probability is clipped to [eps, 1 - eps] (eps = DBL_EPSILON), and each row is divided by
 * its clipped sum before the log. A label with probability 0 therefore costs about 36 nats
 * instead of making the mean infinite.
 */
double xf_score_nll_rows(const struct xf_score_data *data)
{
	double sum = 0;

	for (int64_t i = 0; i < data->n; i++) {
		const double *p = data->p + i * data->cs;
		double row_sum = 0;

		if (data->y[i] >= data->cs)
			return NAN;
		for (int64_t z = 0; z < data->cs; z++)
			row_sum += fmin(fmax(p[z], DBL_EPSILON), 1 - DBL_EPSILON);
		sum -= log(fmin(fmax(p[data->y[i]], DBL_EPSILON), 1 - DBL_EPSILON) / row_sum);
	}
	return sum;
}

XF_METRIC_FN(xf_metric_nll)
{
	const double *sum = xf_score_nll_sum(cache, err);

	if (!sum)
		return -1;
	if (isnan(*sum))
		return xf_err_set(err, XF_E_FORMAT, "a label has no probability (the source model has %lld classes)",
				  (long long)data->cs);
	*out = *sum / (double)data->n;
	return 0;
}
