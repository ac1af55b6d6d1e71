/*
 * score_sfda: SFDA (Shao et al. 2022), docs/scores.md section 9, as TencentARC's SFDA_Score
 * computes it: a shrinkage-LDA fit, its probabilities softened by a second softmax, ConfMix
 * towards the other classes' mean, a second fit with the same lambda, and the mean
 * probability of the true class. Classes are the populated labels (np.unique).
 *
 * Numerical choices (each exact in exact arithmetic):
 *  - Everything happens in the centred frame (rows Fc = F - mean). LDA probabilities, ConfMix
 *    and the refit are all translation invariant, while the literal logits x M^T A - diag(M A
 *    M^T)/2 cancel terms of size |offset|^2 |A| when the features share a large offset.
 *  - coef = M V V^T with all D generalised eigenvectors of (Sb, Sw') is M Sw'^{-1}: St and Sb
 *    do not enter the probabilities, so they are never formed; a Cholesky solve replaces eigh.
 *  - The first Sw is the shared scatter minus the between-class scatter, (Fc^T Fc - sum_c n_c
 *    m_c m_c^T) / N: no extra N D^2 pass. Its round-off, about eps |St|, matters only where Sw
 *    is ~0 (D > N, dead features); there the ridge lambda tr(Sw)/D >= 1e-10 tr(Sw)/D still
 *    dominates it while |St| < ~1e5 tr(Sw)/D, i.e. unless classes lie ~300 spreads apart.
 *  - The refit needs a Gram of the mixed rows anyway, so it takes it of their within-class
 *    residuals: Sw directly, with no cancellation at all.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "score_metrics.h"

#define SFDA_POWER_STEPS 3        /* the official iterative_A(Sw, max_iterations=3) */
#define SFDA_LAMBDA_FLOOR 1e-10   /* lambda = max(exp(-5 lmax), 1e-10) */

struct sfda {
	int64_t n, d, k;          /* rows, dimensions, populated classes */
	int64_t *cls;             /* n: class index of each row, in 0..k-1 (np.unique order) */
	int64_t *size;            /* k: rows per class */
	double *log_prior;        /* k: log(n_c / N) */
	double *means;            /* k x d: class means, centred frame */
	double *sw;               /* d x d: within-class covariance, then its shrunk Cholesky factor */
	double *coef;             /* d x k: Sw'^{-1} means^T */
	double *rows;             /* n x d: mixed rows, then their within-class residuals */
	double *prob;             /* n x k: probabilities of the first fit */
	double lambda;            /* shrinkage, set by the first fit and kept for the second */
};

static void sfda_free(struct sfda *s)
{
	free(s->cls), free(s->size), free(s->log_prior), free(s->means);
	free(s->sw), free(s->coef), free(s->rows), free(s->prob);
}

static int sfda_alloc(struct sfda *s, struct xf_err *err)
{
	int64_t n = s->n, d = s->d, k = s->k;

	s->cls = malloc(n * sizeof(*s->cls));
	s->size = calloc(k, sizeof(*s->size));
	s->log_prior = malloc(k * sizeof(double));
	s->means = malloc(k * d * sizeof(double));
	s->sw = malloc(d * d * sizeof(double));
	s->coef = malloc(d * k * sizeof(double));
	s->rows = malloc(n * d * sizeof(double));
	s->prob = malloc(n * k * sizeof(double));
	if (s->cls && s->size && s->log_prior && s->means && s->sw && s->coef && s->rows && s->prob)
		return 0;
	sfda_free(s);
	return xf_err_nomem(err, (size_t)(n + d + k) * (size_t)(d + k) * sizeof(double));
}

/* Number the populated labels 0..k-1 in increasing order, as np.unique does. */
static int sfda_init(struct sfda *s, const struct xf_score_data *data, const int64_t *counts, struct xf_err *err)
{
	int64_t *rank = malloc(data->c * sizeof(*rank));

	if (!rank)
		return xf_err_nomem(err, data->c * sizeof(*rank));
	s->n = data->n, s->d = data->d, s->k = 0;
	for (int64_t c = 0; c < data->c; c++)
		rank[c] = counts[c] ? s->k++ : -1;
	if (sfda_alloc(s, err) < 0) {
		free(rank);
		return -1;
	}
	for (int64_t i = 0; i < s->n; i++)
		s->size[s->cls[i] = rank[data->y[i]]]++;
	for (int64_t c = 0; c < s->k; c++)
		s->log_prior[c] = log((double)s->size[c] / (double)s->n);
	free(rank);
	return 0;
}

static void class_means(const struct sfda *s, const double *x)
{
	memset(s->means, 0, s->k * s->d * sizeof(double));
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < s->d; j++)
			s->means[s->cls[i] * s->d + j] += x[i * s->d + j];
	for (int64_t c = 0; c < s->k; c++)
		for (int64_t j = 0; j < s->d; j++)
			s->means[c * s->d + j] /= (double)s->size[c];
}

/* sw = (scatter - sum_c n_c m_c m_c^T) / N, the between part as one rank-k Gram update. */
static int within_from_scatter(struct sfda *s, const double *scatter, struct xf_err *err)
{
	int64_t d = s->d;
	double *weighted = malloc(s->k * d * sizeof(double));
	int rc;

	if (!weighted)
		return xf_err_nomem(err, s->k * d * sizeof(double));
	for (int64_t c = 0; c < s->k; c++)
		for (int64_t j = 0; j < d; j++)
			weighted[c * d + j] = sqrt((double)s->size[c]) * s->means[c * d + j];
	memcpy(s->sw, scatter, d * d * sizeof(double));
	rc = xf_linalg_gram(s->k, d, -1.0, weighted, d, 1.0, s->sw, err);
	for (int64_t j = 0; rc == 0 && j < d * d; j++)
		s->sw[j] /= (double)s->n;
	free(weighted);
	return rc;
}

static double norm2(const double *x, int64_t d)
{
	double sum = 0;

	for (int64_t j = 0; j < d; j++)
		sum += x[j] * x[j];
	return sqrt(sum);
}

/* t = a x / |a x|, with *norm = |a x| (t = a x = 0 left as is when the norm is 0). */
static int normalised_product(const double *a, const double *x, int64_t d, double *t, double *norm,
			      struct xf_err *err)
{
	if (xf_linalg_gemm(false, false, d, 1, d, 1.0, a, d, x, 1, 0.0, t, 1, err) < 0)
		return -1;
	*norm = norm2(t, d);
	for (int64_t j = 0; *norm > 0 && j < d; j++)
		t[j] /= *norm;
	return 0;
}

/*
 * The official 3-step power-iteration estimate of Sw's top eigenvalue, x^T Sw y, from the
 * row sums. Where numpy would divide by a zero norm (Sw maps the iterate to 0) we answer 0,
 * the Rayleigh quotient of that iterate, instead of NaN.
 */
static int top_eigenvalue(const double *a, int64_t d, double *out, struct xf_err *err)
{
	double *x = calloc(3 * d, sizeof(double)), *y = x + d, *t = x + 2 * d, norm = 1;
	int rc = 0;

	if (!x)
		return xf_err_nomem(err, 3 * d * sizeof(double));
	for (int64_t i = 0; i < d * d; i++)
		x[i / d] += a[i];
	for (int step = 0; rc == 0 && step < SFDA_POWER_STEPS && norm > 0; step++) {
		rc = normalised_product(a, x, d, y, &norm, err);
		if (rc == 0 && norm > 0)
			rc = normalised_product(a, y, d, x, &norm, err);
	}
	*out = 0;
	if (rc == 0 && norm > 0)
		rc = xf_linalg_gemm(false, false, d, 1, d, 1.0, a, d, y, 1, 0.0, t, 1, err);
	for (int64_t j = 0; rc == 0 && norm > 0 && j < d; j++)
		*out += x[j] * t[j];
	free(x);
	return rc;
}

/* Shrink sw towards tr(sw)/D I, factor it, and solve for coef = Sw'^{-1} means^T. */
static int solve_coef(struct sfda *s, struct xf_err *err)
{
	int64_t d = s->d;
	double trace = 0;

	for (int64_t j = 0; j < d; j++)
		trace += s->sw[j * d + j];
	for (int64_t j = 0; j < d * d; j++)
		s->sw[j] *= 1 - s->lambda;
	for (int64_t j = 0; j < d; j++)
		s->sw[j * d + j] += s->lambda * trace / (double)d;
	if (xf_linalg_cholesky(s->sw, d, err) < 0)
		return xf_err_prefix(err, "sfda: shrunk within-class covariance (lambda %g)", s->lambda);
	for (int64_t c = 0; c < s->k; c++)
		for (int64_t j = 0; j < d; j++)
			s->coef[j * s->k + c] = s->means[c * d + j];
	return xf_linalg_cholesky_solve(s->sw, d, s->coef, s->k, err);
}

/*
 * LDA logits x . coef_c - m_c . coef_c / 2 + log p_c. The rows x are z_i themselves, or, with
 * residuals, z_i + m_{cls_i} for within-class residuals z: then x coef = z coef + table[cls_i]
 * with table = means coef (k x k), so the mixed rows need not be kept.
 */
static int lda_logits(const struct sfda *s, const double *z, bool residuals, double *logits, struct xf_err *err)
{
	int64_t k = s->k;
	double *table = malloc(k * k * sizeof(double));

	if (!table)
		return xf_err_nomem(err, k * k * sizeof(double));
	if (xf_linalg_gemm(false, false, k, k, s->d, 1.0, s->means, s->d, s->coef, k, 0.0, table, k, err) < 0 ||
	    xf_linalg_gemm(false, false, s->n, k, s->d, 1.0, z, s->d, s->coef, k, 0.0, logits, k, err) < 0) {
		free(table);
		return -1;
	}
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t c = 0; c < k; c++)
			logits[i * k + c] += (residuals ? table[s->cls[i] * k + c] : 0) - table[c * k + c] / 2 +
					     s->log_prior[c];
	free(table);
	return 0;
}

/* Row-wise softmax in place, shifted by the row maximum so that exp never overflows. */
static void softmax_rows(double *x, int64_t n, int64_t k)
{
	for (int64_t i = 0; i < n; i++) {
		double *row = x + i * k, top = row[0], sum = 0;

		for (int64_t c = 1; c < k; c++)
			top = fmax(top, row[c]);
		for (int64_t c = 0; c < k; c++)
			sum += row[c] = exp(row[c] - top);
		for (int64_t c = 0; c < k; c++)
			row[c] /= sum;
	}
}

/* First fit on Fc: sets lambda, leaves the softened probabilities in s->prob. */
static int first_fit(struct sfda *s, const double *fc, const double *scatter, struct xf_err *err)
{
	double lmax = 0;

	class_means(s, fc);
	if (within_from_scatter(s, scatter, err) < 0 || top_eigenvalue(s->sw, s->d, &lmax, err) < 0)
		return -1;
	s->lambda = fmax(exp(-5 * lmax), SFDA_LAMBDA_FLOOR);
	if (solve_coef(s, err) < 0 || lda_logits(s, fc, false, s->prob, err) < 0)
		return -1;
	softmax_rows(s->prob, s->n, s->k);
	softmax_rows(s->prob, s->n, s->k);  /* the official "soften": softmax of probabilities */
	return 0;
}

/*
 * ConfMix: row i of class c moves to q_i x_i + (1 - q_i) mean of the other class means.
 * The class means are replaced by those outer means, which is all the refit needs of them.
 */
static void conf_mix(struct sfda *s, const double *fc)
{
	int64_t d = s->d, k = s->k;

	for (int64_t j = 0; j < d; j++) {
		double total = 0;

		for (int64_t c = 0; c < k; c++)
			total += s->means[c * d + j];
		for (int64_t c = 0; c < k; c++)
			s->means[c * d + j] = (total - s->means[c * d + j]) / (double)(k - 1);
	}
	for (int64_t i = 0; i < s->n; i++) {
		const double *outer = s->means + s->cls[i] * d;
		double q = s->prob[i * k + s->cls[i]];

		for (int64_t j = 0; j < d; j++)
			s->rows[i * d + j] = q * fc[i * d + j] + (1 - q) * outer[j];
	}
}

/* Second fit on the mixed rows with the first lambda; returns the mean true-class probability. */
static int second_fit(struct sfda *s, double *out, struct xf_err *err)
{
	int64_t d = s->d, k = s->k;
	double *logits = malloc(s->n * k * sizeof(double)), sum = 0;

	if (!logits)
		return xf_err_nomem(err, s->n * k * sizeof(double));
	class_means(s, s->rows);
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < d; j++)
			s->rows[i * d + j] -= s->means[s->cls[i] * d + j];
	if (xf_linalg_gram(s->n, d, 1.0 / (double)s->n, s->rows, d, 0.0, s->sw, err) < 0 || solve_coef(s, err) < 0 ||
	    lda_logits(s, s->rows, true, logits, err) < 0) {
		free(logits);
		return -1;
	}
	softmax_rows(logits, s->n, k);
	for (int64_t i = 0; i < s->n; i++)
		sum += logits[i * k + s->cls[i]];
	free(logits);
	*out = sum / (double)s->n;
	return 0;
}

XF_METRIC_FN(xf_metric_sfda)
{
	const int64_t *counts = xf_score_counts(cache, err);
	const double *fc = xf_score_centred(cache, err), *scatter = xf_score_scatter(cache, err);
	struct sfda s = { 0 };
	int rc;

	if (!counts || !fc || !scatter || sfda_init(&s, data, counts, err) < 0)
		return -1;
	rc = first_fit(&s, fc, scatter, err);
	if (rc == 0) {
		conf_mix(&s, fc);
		rc = second_fit(&s, out, err);
	}
	sfda_free(&s);
	return rc;
}
