/*
 * score_nleep: N-LEEP (docs/scores.md section 3), the deterministic variant nleep_det: PCA to
 * 80% of the variance, a full-covariance Gaussian mixture of 5C components fitted by sklearn's
 * EM from a farthest-point initialisation, then LEEP on the posterior responsibilities.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "score_metrics.h"

#define NLEEP_VARIANCE 0.8          /* PCA keeps variance strictly above this fraction */
#define NLEEP_PER_CLASS 5           /* mixture components per class */
#define NLEEP_REG_COVAR 1e-6        /* sklearn's reg_covar, added to each covariance diagonal */
#define NLEEP_TOL 1e-3              /* sklearn's tol on the change of the lower bound */
#define NLEEP_MAX_ITER 100          /* sklearn's max_iter */
#define NLEEP_MAX_COV ((int64_t)1 << 26) /* doubles in all K covariances together */

/* A mixture of m components over n rows of k dimensions, and its scratch space. */
struct gmm {
	int64_t n, k, m;
	const double *x;    /* n x k PCA scores */
	double *resp;       /* n x m responsibilities */
	double *logp;       /* n x m weighted log-probabilities */
	double *w;          /* m weights */
	double *mu;         /* m x k means */
	double *linv;       /* m x k x k inverse Cholesky factors of the covariances (lower) */
	double *logdet;     /* m: log det of the precision Cholesky factor, -sum log diag L */
	double *diff;       /* n x k scratch */
	double *proj;       /* n x k scratch */
};

int64_t xf_score_pca_keep(const double *w, int64_t d)
{
	double total = 0, cum = 0;

	for (int64_t j = 0; j < d; j++)
		total += w[j] > 0 ? w[j] : 0;
	for (int64_t j = d - 1; j >= 0; j--) {
		cum += (w[j] > 0 ? w[j] : 0) / total;
		if (cum > NLEEP_VARIANCE)
			return d - j;
	}
	return d;
}

static double sqdist(const double *a, const double *b, int64_t k)
{
	double s = 0;

	for (int64_t j = 0; j < k; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return s;
}

/* The first index of the largest of v[0..n). */
static int64_t first_max(const double *v, int64_t n)
{
	int64_t best = 0;

	for (int64_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/*
 * The first centre is the row nearest the mean of x; mind[] holds each row's squared
 * distance to its nearest chosen centre, so chosen rows sit at 0 and are not taken again
 * while any row is farther. Negating the distances for the first pick reuses first_max's
 * tie rule. scratch holds n + k doubles: the distances, then the mean.
 */
void xf_score_nleep_init(const double *x, int64_t n, int64_t k, int64_t m, double *scratch, int64_t *centres,
			 int64_t *assign)
{
	double *mind = scratch, *mean = scratch + n;

	for (int64_t j = 0; j < k; j++)
		mean[j] = 0;
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < k; j++)
			mean[j] += x[i * k + j];
	for (int64_t j = 0; j < k; j++)
		mean[j] /= (double)n;
	for (int64_t i = 0; i < n; i++)
		mind[i] = -sqdist(x + i * k, mean, k);
	centres[0] = first_max(mind, n);
	for (int64_t i = 0; i < n; i++)
		mind[i] = sqdist(x + i * k, x + centres[0] * k, k);
	for (int64_t c = 1; c < m; c++) {
		centres[c] = first_max(mind, n);
		for (int64_t i = 0; i < n; i++)
			mind[i] = fmin(mind[i], sqdist(x + i * k, x + centres[c] * k, k));
	}
	for (int64_t i = 0; i < n; i++) {
		double best = sqdist(x + i * k, x + centres[0] * k, k);

		assign[i] = 0;
		for (int64_t c = 1; c < m; c++) {
			double dist = sqdist(x + i * k, x + centres[c] * k, k);

			if (dist < best)
				best = dist, assign[i] = c;
		}
	}
}

/* The inverse of the lower-triangular l (k x k) into inv, by forward substitution. */
static void invert_lower(const double *l, int64_t k, double *inv)
{
	memset(inv, 0, (size_t)(k * k) * sizeof(*inv));
	for (int64_t c = 0; c < k; c++)
		for (int64_t r = c; r < k; r++) {
			double s = r == c ? 1.0 : 0.0;

			for (int64_t j = c; j < r; j++)
				s -= l[r * k + j] * inv[j * k + c];
			inv[r * k + c] = s / l[r * k + r];
		}
}

/*
 * Component j's covariance from the responsibilities, as sklearn's M-step forms it, then its
 * Cholesky factor inverted (sklearn's precisions_cholesky_, transposed). cov is k x k scratch.
 */
static int m_step_one(struct gmm *g, int64_t j, double *cov, struct xf_err *err)
{
	double nk = 10 * DBL_EPSILON, *mu = g->mu + j * g->k;

	for (int64_t i = 0; i < g->n; i++)
		nk += g->resp[i * g->m + j];
	g->w[j] = nk / (double)g->n;
	memset(mu, 0, (size_t)g->k * sizeof(*mu));
	for (int64_t i = 0; i < g->n; i++)
		for (int64_t d = 0; d < g->k; d++)
			mu[d] += g->resp[i * g->m + j] * g->x[i * g->k + d];
	for (int64_t d = 0; d < g->k; d++)
		mu[d] /= nk;
	for (int64_t i = 0; i < g->n; i++) {
		double s = sqrt(g->resp[i * g->m + j]);

		for (int64_t d = 0; d < g->k; d++)
			g->diff[i * g->k + d] = s * (g->x[i * g->k + d] - mu[d]);
	}
	if (xf_linalg_gram(g->n, g->k, 1.0 / nk, g->diff, g->k, 0.0, cov, err) < 0)
		return -1;
	for (int64_t d = 0; d < g->k; d++)
		cov[d * g->k + d] += NLEEP_REG_COVAR;
	if (xf_linalg_cholesky(cov, g->k, err) < 0)
		return xf_err_set(err, XF_E_FORMAT, "N-LEEP: the covariance of mixture component %lld is not positive "
				  "definite even with reg_covar %g", (long long)j, NLEEP_REG_COVAR);
	g->logdet[j] = 0;
	for (int64_t d = 0; d < g->k; d++)
		g->logdet[j] -= log(cov[d * g->k + d]);
	invert_lower(cov, g->k, g->linv + j * g->k * g->k);
	return 0;
}

static int m_step(struct gmm *g, struct xf_err *err)
{
	double *cov = malloc((size_t)(g->k * g->k) * sizeof(*cov));
	int rc = 0;

	if (!cov)
		return xf_err_nomem(err, (size_t)(g->k * g->k) * sizeof(*cov));
	for (int64_t j = 0; j < g->m && rc == 0; j++)
		rc = m_step_one(g, j, cov, err);
	free(cov);
	return rc;
}

/* logp[:, j] = log w_j + log N(x | mu_j, S_j), with L^-1 (x - mu_j) formed by one product. */
static int log_prob_one(struct gmm *g, int64_t j, struct xf_err *err)
{
	const double *mu = g->mu + j * g->k;
	double base = log(g->w[j]) + g->logdet[j] - 0.5 * (double)g->k * log(2 * M_PI);

	for (int64_t i = 0; i < g->n; i++)
		for (int64_t d = 0; d < g->k; d++)
			g->diff[i * g->k + d] = g->x[i * g->k + d] - mu[d];
	if (xf_linalg_gemm(false, true, g->n, g->k, g->k, 1.0, g->diff, g->k, g->linv + j * g->k * g->k, g->k,
			   0.0, g->proj, g->k, err) < 0)
		return -1;
	for (int64_t i = 0; i < g->n; i++) {
		double s = 0;

		for (int64_t d = 0; d < g->k; d++)
			s += g->proj[i * g->k + d] * g->proj[i * g->k + d];
		g->logp[i * g->m + j] = base - 0.5 * s;
	}
	return 0;
}

/* Responsibilities from the current parameters; *lower = mean over rows of the log-sum-exp. */
static int e_step(struct gmm *g, double *lower, struct xf_err *err)
{
	double sum = 0;

	for (int64_t j = 0; j < g->m; j++)
		if (log_prob_one(g, j, err) < 0)
			return -1;
	for (int64_t i = 0; i < g->n; i++) {
		const double *lp = g->logp + i * g->m;
		double top = lp[first_max(lp, g->m)], s = 0, lse;

		for (int64_t j = 0; j < g->m; j++)
			s += exp(lp[j] - top);
		lse = top + log(s);
		for (int64_t j = 0; j < g->m; j++)
			g->resp[i * g->m + j] = exp(lp[j] - lse);
		sum += lse;
	}
	*lower = sum / (double)g->n;
	return 0;
}

/* sklearn's fit loop from one-hot responsibilities, then the final E-step's posteriors. */
static int fit(struct gmm *g, int *iters, struct xf_err *err)
{
	double lower = -INFINITY, prev;

	if (m_step(g, err) < 0)
		return -1;
	for (*iters = 1; *iters <= NLEEP_MAX_ITER; ++*iters) {
		prev = lower;
		if (e_step(g, &lower, err) < 0 || m_step(g, err) < 0)
			return -1;
		if (fabs(lower - prev) < NLEEP_TOL)
			break;
	}
	if (*iters > NLEEP_MAX_ITER)
		*iters = NLEEP_MAX_ITER;
	return e_step(g, &lower, err);
}

/* One-hot responsibilities from the farthest-point initialisation. */
static int init_resp(struct gmm *g, struct xf_err *err)
{
	int64_t *idx = malloc((size_t)(g->n + g->m) * sizeof(*idx));
	double *mind = malloc((size_t)(g->n + g->k) * sizeof(*mind));

	if (!idx || !mind) {
		free(idx), free(mind);
		return xf_err_nomem(err, (size_t)(2 * g->n + g->m + g->k) * sizeof(*idx));
	}
	xf_score_nleep_init(g->x, g->n, g->k, g->m, mind, idx + g->n, idx);
	memset(g->resp, 0, (size_t)(g->n * g->m) * sizeof(*g->resp));
	for (int64_t i = 0; i < g->n; i++)
		g->resp[i * g->m + idx[i]] = 1;
	free(idx), free(mind);
	return 0;
}

static void gmm_free(struct gmm *g)
{
	free(g->resp), free(g->logp), free(g->w), free(g->mu), free(g->linv), free(g->logdet);
	free(g->diff), free(g->proj);
}

static int gmm_alloc(struct gmm *g, struct xf_err *err)
{
	int64_t n = g->n, k = g->k, m = g->m;

	if (n > INT64_MAX / 8 / (m > k ? m : k))
		return xf_err_set(err, XF_E_LIMIT, "N-LEEP: %lld rows are too many", (long long)n);
	g->resp = malloc((size_t)(n * m) * sizeof(double));
	g->logp = malloc((size_t)(n * m) * sizeof(double));
	g->w = malloc((size_t)m * sizeof(double));
	g->mu = malloc((size_t)(m * k) * sizeof(double));
	g->linv = malloc((size_t)(m * k * k) * sizeof(double));
	g->logdet = malloc((size_t)m * sizeof(double));
	g->diff = malloc((size_t)(n * k) * sizeof(double));
	g->proj = malloc((size_t)(n * k) * sizeof(double));
	if (!g->resp || !g->logp || !g->w || !g->mu || !g->linv || !g->logdet || !g->diff || !g->proj)
		return xf_err_nomem(err, (size_t)(2 * n * m + m * k * k + 2 * n * k) * sizeof(double));
	return 0;
}

int xf_score_nleep_posteriors(const double *x, int64_t n, int64_t k, int64_t m, double *post, int *iters,
			      struct xf_err *err)
{
	struct gmm g = { .n = n, .k = k, .m = m, .x = x };
	int rc = -1;

	if (m * k > NLEEP_MAX_COV / k) {
		xf_err_set(err, XF_E_LIMIT, "N-LEEP: %lld components of %lld x %lld covariances exceed %lld doubles; "
			   "reduce the features first (fewer dimensions, e.g. by PCA)", (long long)m, (long long)k,
			   (long long)k, (long long)NLEEP_MAX_COV);
	} else if (n < m) {
		xf_err_set(err, XF_E_FORMAT, "N-LEEP: %lld rows cannot fit %lld mixture components (5 per class)",
			   (long long)n, (long long)m);
	} else if (gmm_alloc(&g, err) == 0 && init_resp(&g, err) == 0 && fit(&g, iters, err) == 0) {
		memcpy(post, g.resp, (size_t)(n * m) * sizeof(*post));
		rc = 0;
	}
	gmm_free(&g);
	return rc;
}

/* The centred features on the top *k eigenvectors of the scatter (n x *k, allocated here). */
static double *pca_scores(const struct xf_score_data *data, struct xf_score_cache *cache, int64_t *k,
			  struct xf_err *err)
{
	const double *w, *v, *fc = xf_score_centred(cache, err);
	double *vk, *x;
	int64_t d = data->d;

	if (!fc || xf_score_scatter_eig(cache, &w, &v, err) < 0)
		return NULL;
	if (!(w[d - 1] > 0)) {
		xf_err_set(err, XF_E_FORMAT, "N-LEEP: every feature is constant");
		return NULL;
	}
	*k = xf_score_pca_keep(w, d);
	vk = malloc((size_t)(d * *k) * sizeof(*vk));
	x = malloc((size_t)(data->n * *k) * sizeof(*x));
	if (!vk || !x) {
		free(vk), free(x);
		xf_err_nomem(err, (size_t)((d + data->n) * *k) * sizeof(*x));
		return NULL;
	}
	for (int64_t r = 0; r < d; r++)
		for (int64_t j = 0; j < *k; j++)
			vk[r * *k + j] = v[r * d + (d - 1 - j)];
	if (xf_linalg_gemm(false, false, data->n, *k, d, 1.0, fc, d, vk, *k, 0.0, x, *k, err) < 0) {
		free(x);
		x = NULL;
	}
	free(vk);
	return x;
}

XF_METRIC_FN(xf_metric_nleep)
{
	int64_t k = 0, m = NLEEP_PER_CLASS * data->c;
	double *x = pca_scores(data, cache, &k, err), *post = NULL, *eep = NULL, sum = 0;
	struct xf_score_data on_post = *data;
	int iters, rc = -1;

	if (!x)
		return -1;
	post = malloc((size_t)(data->n * m) * sizeof(*post));
	eep = malloc((size_t)data->n * sizeof(*eep));
	if (!post || !eep) {
		xf_err_nomem(err, (size_t)(data->n * (m + 1)) * sizeof(double));
		goto out;
	}
	if (xf_score_nleep_posteriors(x, data->n, k, m, post, &iters, err) < 0)
		goto out;
	on_post.p = post;
	on_post.cs = m;
	if (xf_score_leep_eep(&on_post, eep, err) < 0)
		goto out;
	for (int64_t i = 0; i < data->n; i++)
		sum += log(eep[i]);
	*out = sum / (double)data->n;
	rc = 0;
out:
	free(x), free(post), free(eep);
	return rc;
}
