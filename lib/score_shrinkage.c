/*
 * score_shrinkage: the shrinkage (regularised) H-score of Ibrahim et al. 2022, docs/scores.md
 * section 6, as TLlib's regularized_h_score computes it: sklearn's Ledoit-Wolf estimate
 * Sigma = (1-alpha) S + alpha mu I of the centred features (S = Fc^T Fc / N, biased), and
 *   H = tr(pinv(Sigma, rcond 1e-15) (1-alpha) cov(G)),  cov(G) unbiased (1/(N-1)).
 */
#include <math.h>
#include "score_metrics.h"

#define SHRINKAGE_RCOND 1e-15  /* numpy pinv's relative cut-off, as TLlib calls it */

/*
 * sklearn's ledoit_wolf_shrinkage on the centred rows fc, given their scatter Fc^T Fc.
 * Its beta_ is the sum of all entries of the Gram of Fc∘Fc; the entries of A^T A sum to
 * |A 1|^2, so that is sum_n |x_n|^4 and needs no D x D product. Its denominator
 * (delta_ - 2 mu tr S + D mu^2) / D is |S - mu I|_F^2 / D, summed in that form because the
 * expanded one cancels catastrophically when S is close to mu I. alpha is 0 when that
 * denominator is 0 (S is already mu I: the b = min(b, 0) = 0 branch of sklearn, which would
 * divide by zero if round-off made b negative), and never negative.
 */
static double ledoit_wolf_alpha(const double *fc, const double *scatter, int64_t n, int64_t d, double *mu)
{
	double beta = 0, frob = 0, dev = 0, trace = 0, b;

	for (int64_t i = 0; i < n; i++) {
		double r = 0;

		for (int64_t j = 0; j < d; j++)
			r += fc[i * d + j] * fc[i * d + j];
		beta += r * r;
	}
	for (int64_t j = 0; j < d; j++)
		trace += scatter[j * d + j];
	*mu = trace / (double)n / (double)d;
	for (int64_t j = 0; j < d * d; j++) {
		double s = scatter[j] / (double)n, e = j % (d + 1) ? s : s - *mu;

		frob += s * s;
		dev += e * e;
	}
	b = (beta / (double)n - frob) / ((double)d * (double)n);
	dev /= (double)d;
	b = fmin(b, dev);
	return dev > 0 && b > 0 ? b / dev : 0;
}

XF_METRIC_FN(xf_metric_hscore_shrinkage)
{
	const double *fc = xf_score_centred(cache, err), *scatter = xf_score_scatter(cache, err);
	double mu, alpha, trace = 0;

	if (!fc || !scatter)
		return -1;
	alpha = ledoit_wolf_alpha(fc, scatter, data->n, data->d, &mu);
	/* Sigma = (1-alpha) S / N + alpha mu I; cov(G) = between-class scatter / (N-1) */
	if (xf_score_between_trace(cache, (1 - alpha) / (double)data->n, alpha * mu, SHRINKAGE_RCOND, &trace, err) < 0)
		return -1;
	*out = (1 - alpha) * trace / (double)(data->n - 1);
	return 0;
}
