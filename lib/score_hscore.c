/*
 * score_hscore: H-score (Bao et al. 2019), docs/scores.md section 5: tr(pinv(cov F) cov G),
 * G holding each row's class mean. With the eigendecomposition of the centred scatter
 * (shared with other metrics), the trace is a sum over classes and eigenvectors:
 *   H = sum_c n_c sum_i (v_i . (mu_c - mu))^2 / w_i
 * over |w_i| > 1e-15 max|w| (numpy pinv's rule with TLlib's rcond); the 1/(N-1) factors cancel.
 */
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "score_metrics.h"

#define HSCORE_RCOND 1e-15

XF_METRIC_FN(xf_metric_hscore)
{
	const int64_t *counts = xf_score_counts(cache, err);
	const double *means = xf_score_class_means(cache, err), *mean = xf_score_mean(cache, err), *w, *v;
	int64_t d = data->d, c = data->c;
	double *dev, *proj, wmax = 0, h = 0;

	if (!counts || !means || !mean || xf_score_scatter_eig(cache, &w, &v, err) < 0)
		return -1;
	dev = malloc(c * d * sizeof(double));
	proj = malloc(c * d * sizeof(double));
	if (!dev || !proj) {
		free(dev), free(proj);
		return xf_err_nomem(err, 0);
	}
	for (int64_t j = 0; j < c; j++)
		for (int64_t i = 0; i < d; i++)
			dev[j * d + i] = counts[j] ? means[j * d + i] - mean[i] : 0;
	if (xf_linalg_gemm(false, false, c, d, d, 1.0, dev, d, v, d, 0.0, proj, d, err) < 0) {
		free(dev), free(proj);
		return -1;
	}
	for (int64_t i = 0; i < d; i++)
		wmax = fmax(wmax, fabs(w[i]));
	for (int64_t i = 0; i < d; i++)
		for (int64_t j = 0; fabs(w[i]) > HSCORE_RCOND * wmax && j < c; j++)
			h += (double)counts[j] * proj[j * d + i] * proj[j * d + i] / w[i];
	free(dev), free(proj);
	*out = h;
	return 0;
}
