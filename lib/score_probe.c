/*
 * score_probe: task similarity as the accuracy of a simple classifier on the features, the
 * metrics that choose the nearest source model (DistillNearest) or weight the sources
 * (DistillWeighted) in docs/train.md section 6. Both are accuracies in [0, 1], higher is
 * better, and need every row at once (not reducible).
 *
 * knn: leave-one-out k-nearest-neighbour accuracy, k = 5. Each row is predicted by the
 *   majority label among its 5 nearest other rows in Euclidean distance (xf_knn_exact;
 *   equal distances: the lower row index is nearer; a duplicate of the row counts as a
 *   neighbour). A tie between labels goes to the tied label whose nearest member comes
 *   first. Value: the fraction of rows predicted correctly. Needs n >= 6.
 *
 * linprobe: 5-fold cross-validated accuracy of a ridge-regression probe on one-hot labels
 *   (C = max(y) + 1 columns). Row i is in fold i mod 5. For each fold, on the other n_t rows:
 *   Xc = the rows minus their mean mu, Yc = their one-hot labels minus its mean ybar (an
 *   unpenalised intercept), lambda = 1e-3 tr(Xc^T Xc) / d (so the probe does not depend on
 *   the scale of the features), W = (Xc^T Xc + lambda I)^-1 Xc^T Yc. W is solved by Cholesky
 *   in the primal (d x d) when d <= n_t and in the dual, (Xc Xc^T + lambda I) alpha = Yc,
 *   W = Xc^T alpha, otherwise; the two are the same W. A held-out row x scores
 *   (x - mu) W + ybar and is predicted as its first argmax. When the training rows are all
 *   equal (tr = 0), W = 0 and the most frequent training label (the first on ties) is
 *   predicted. Value: the fraction of all rows predicted correctly. Needs n >= 5.
 *
 * Both work on the features centred by their overall mean (the cache's), which changes no
 * distance or probe but keeps the arithmetic away from cancellation when the features share
 * a large offset. linprobe builds each fold's system from quantities computed once: the
 * primal from the cached scatter S = Xm^T Xm of all rows, since the training rows' centred
 * Gram is S - Xm_f^T Xm_f - n_t v v^T (Xm_f the held-out rows, every fifth row, so a strided
 * matrix for BLAS; v the training rows' mean of Xm); the dual from K = Xm Xm^T, whose
 * training block, centred on both sides, is Xc Xc^T. Costs: knn O(n^2 d) in GEMM; linprobe
 * O(n d^2 + 5 d^3) in the primal, O(n^2 d + 5 n^3) in the dual.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "linalg.h"
#include "score_metrics.h"

#define KNN_K 5                /* neighbours that vote */
#define PROBE_FOLDS 5
#define PROBE_RIDGE 1e-3       /* lambda = PROBE_RIDGE * tr(Xc^T Xc) / d */

/* A rows x cols array of doubles (uninitialised), or NULL with err. */
static double *alloc_doubles(int64_t rows, int64_t cols, struct xf_err *err)
{
	double *p = NULL;

	if (rows < 0 || cols < 0 || (cols > 0 && (uint64_t)rows > SIZE_MAX / sizeof(double) / (uint64_t)cols))
		xf_err_set(err, XF_E_LIMIT, "a %lld x %lld matrix is too large", (long long)rows, (long long)cols);
	else if (!(p = malloc((size_t)rows * (size_t)cols * sizeof(double) + 1)))
		xf_err_nomem(err, (size_t)rows * (size_t)cols * sizeof(double));
	return p;
}

/* ---- knn ---- */

/* The majority label of the neighbours nb[0..KNN_K) (nearest first); the first one met wins a tie. */
static int64_t vote(const int64_t *nb, const int64_t *y)
{
	int64_t label = y[nb[0]];
	int best = 0;

	for (int t = 0; t < KNN_K; t++) {
		int count = 0;

		for (int s = 0; s < KNN_K; s++)
			count += y[nb[s]] == y[nb[t]];
		if (count > best) {
			best = count;
			label = y[nb[t]];
		}
	}
	return label;
}

XF_METRIC_FN(xf_metric_knn)
{
	const double *x;
	int64_t n = data->n, *idx, correct = 0;
	double *dist;
	int rc;

	if (n <= KNN_K)
		return xf_err_set(err, XF_E_FORMAT, "%lld rows: the %d nearest other rows of each need at least %d",
				  (long long)n, KNN_K, KNN_K + 1);
	if (!(x = xf_score_centred(cache, err)))
		return -1;
	idx = malloc((size_t)n * KNN_K * sizeof(*idx));
	dist = malloc((size_t)n * KNN_K * sizeof(*dist));
	rc = idx && dist ? xf_knn_exact(x, n, data->d, KNN_K, data->threads, idx, dist, err)
			 : xf_err_nomem(err, (size_t)n * KNN_K * 16);
	for (int64_t i = 0; rc == 0 && i < n; i++)
		correct += vote(idx + i * KNN_K, data->y) == data->y[i];
	free(idx);
	free(dist);
	if (rc == 0)
		*out = (double)correct / (double)n;
	return rc;
}

/* ---- linprobe ---- */

struct probe {
	const double *xm;        /* n x d: the features minus their overall mean */
	const int64_t *y;
	int64_t n, d, c;
	const double *scatter;   /* xm^T xm (d x d), when some fold is solved in the primal */
	double *kernel;          /* xm xm^T (n x n), when some fold is solved in the dual */
	int64_t *train;          /* n_t: the training rows' indices */
	double *v;               /* d: the training rows' mean of xm */
	double *ybar;            /* c: the training rows' label frequencies */
	double *w;               /* d x c: the probe */
	double *a;               /* the system: d x d (primal) or n_t x n_t (dual) */
	double *yc;              /* n_t x c: the dual's Yc, then alpha */
	double *alpha;           /* n x c: alpha at the training rows, 0 at the others */
	double *r;               /* n_t: the dual's kernel row means */
	double *score;           /* c */
};

/* Rows of fold f: i = f, f + 5, ... < n. */
static int64_t fold_rows(int64_t n, int f)
{
	return (n - f + PROBE_FOLDS - 1) / PROBE_FOLDS;
}

/* The training rows of fold f (every row i with i % 5 != f) into p->train, their mean v and label frequencies. */
static int64_t train_stats(struct probe *p, int f)
{
	int64_t d = p->d, nt = 0;

	memset(p->v, 0, (size_t)d * sizeof(*p->v));
	memset(p->ybar, 0, (size_t)p->c * sizeof(*p->ybar));
	for (int64_t i = 0; i < p->n; i++)
		if (i % PROBE_FOLDS != f) {
			p->train[nt++] = i;
			p->ybar[p->y[i]] += 1;
			for (int64_t j = 0; j < d; j++)
				p->v[j] += p->xm[i * d + j];
		}
	for (int64_t j = 0; j < d; j++)
		p->v[j] /= (double)nt;
	for (int64_t k = 0; k < p->c; k++)
		p->ybar[k] /= (double)nt;
	return nt;
}

/*
 * Solve (A + lambda I) X = B in place for the m x m matrix a and the m x c matrix b, with
 * lambda = PROBE_RIDGE tr(A) / d; X = 0 when tr(A) = 0 (every training row the same).
 */
static int ridge_solve(double *a, int64_t m, double *b, int64_t c, int64_t d, struct xf_err *err)
{
	double tr = 0;

	for (int64_t i = 0; i < m; i++)
		tr += a[i * m + i];
	if (!(tr > 0)) {
		memset(b, 0, (size_t)(m * c) * sizeof(*b));
		return 0;
	}
	for (int64_t i = 0; i < m; i++)
		a[i * m + i] += PROBE_RIDGE * tr / (double)d;
	if (xf_linalg_cholesky(a, m, err) < 0)
		return -1;
	return xf_linalg_cholesky_solve(a, m, b, c, err);
}

/*
 * Primal: W solves (Xc^T Xc + lambda I) W = Xc^T Yc, where Xc^T Xc = S - Xm_f^T Xm_f - n_t v v^T
 * (the held-out rows Xm_f are every fifth row) and Xc^T Yc = Xc^T Y, Xc's columns summing to 0.
 */
static int solve_primal(struct probe *p, int f, int64_t nt, struct xf_err *err)
{
	int64_t d = p->d, c = p->c;

	memset(p->w, 0, (size_t)(d * c) * sizeof(*p->w));
	for (int64_t t = 0; t < nt; t++) {
		const double *row = p->xm + p->train[t] * d;
		double *col = p->w + p->y[p->train[t]];

		for (int64_t j = 0; j < d; j++)
			col[j * c] += row[j] - p->v[j];
	}
	memcpy(p->a, p->scatter, (size_t)(d * d) * sizeof(*p->a));
	if (xf_linalg_gram(fold_rows(p->n, f), d, -1.0, p->xm + f * d, PROBE_FOLDS * d, 1.0, p->a, err) < 0)
		return -1;
	for (int64_t j = 0; j < d; j++)
		for (int64_t l = 0; l < d; l++)
			p->a[j * d + l] -= (double)nt * p->v[j] * p->v[l];
	return ridge_solve(p->a, d, p->w, c, d, err);
}

/* Xc Xc^T: the training block of K minus its row means and column means, plus their mean. */
static void centred_kernel(struct probe *p, int64_t nt)
{
	double q = 0;

	for (int64_t s = 0; s < nt; s++) {
		const double *krow = p->kernel + p->train[s] * p->n;

		p->r[s] = 0;
		for (int64_t t = 0; t < nt; t++)
			p->r[s] += krow[p->train[t]];
		p->r[s] /= (double)nt;
		q += p->r[s];
	}
	q /= (double)nt;
	for (int64_t s = 0; s < nt; s++)
		for (int64_t t = 0; t < nt; t++)
			p->a[s * nt + t] = p->kernel[p->train[s] * p->n + p->train[t]] - p->r[s] - p->r[t] + q;
}

/* Dual: (Xc Xc^T + lambda I) alpha = Yc, then W = Xc^T alpha = Xm_t^T alpha - v (1^T alpha). */
static int solve_dual(struct probe *p, int64_t nt, struct xf_err *err)
{
	int64_t n = p->n, d = p->d, c = p->c;

	centred_kernel(p, nt);
	for (int64_t t = 0; t < nt; t++)
		for (int64_t k = 0; k < c; k++)
			p->yc[t * c + k] = (p->y[p->train[t]] == k) - p->ybar[k];
	if (ridge_solve(p->a, nt, p->yc, c, d, err) < 0)
		return -1;
	memset(p->alpha, 0, (size_t)(n * c) * sizeof(*p->alpha));
	for (int64_t t = 0; t < nt; t++)
		memcpy(p->alpha + p->train[t] * c, p->yc + t * c, (size_t)c * sizeof(*p->alpha));
	if (xf_linalg_gemm(true, false, d, c, n, 1.0, p->xm, d, p->alpha, c, 0.0, p->w, c, err) < 0)
		return -1;
	for (int64_t k = 0; k < c; k++) {
		double sum = 0;

		for (int64_t t = 0; t < nt; t++)
			sum += p->yc[t * c + k];
		for (int64_t j = 0; j < d; j++)
			p->w[j * c + k] -= p->v[j] * sum;
	}
	return 0;
}

/* Held-out rows of fold f predicted correctly: the first argmax of (x - mu) W + ybar. */
static int64_t fold_correct(struct probe *p, int f)
{
	int64_t d = p->d, c = p->c, correct = 0;

	for (int64_t i = f; i < p->n; i += PROBE_FOLDS) {
		memcpy(p->score, p->ybar, (size_t)c * sizeof(*p->score));
		for (int64_t j = 0; j < d; j++) {
			double x = p->xm[i * d + j] - p->v[j];

			for (int64_t k = 0; k < c; k++)
				p->score[k] += x * p->w[j * c + k];
		}
		correct += xf_score_argmax(p->score, c) == p->y[i];
	}
	return correct;
}

static void probe_free(struct probe *p)
{
	free(p->kernel);
	free(p->train);
	free(p->v);
	free(p->ybar);
	free(p->w);
	free(p->a);
	free(p->yc);
	free(p->alpha);
	free(p->r);
	free(p->score);
}

/*
 * Buffers, the scatter when a fold has d <= n_t (the primal) and the kernel when one has
 * d > n_t (the dual). Fold 0 has the most held-out rows, fold 4 the fewest.
 */
static int probe_alloc(struct probe *p, struct xf_score_cache *cache, struct xf_err *err)
{
	int64_t n = p->n, d = p->d, c = p->c, nt_min = n - fold_rows(n, 0), nt_max = n - fold_rows(n, 4);
	bool primal = d <= nt_max, dual = d > nt_min;
	int64_t side = primal ? d : 0;

	side = dual && nt_max > side ? nt_max : side;
	if (primal && !(p->scatter = xf_score_scatter(cache, err)))
		return -1;
	if (!(p->train = malloc((size_t)n * sizeof(*p->train) + 1)))
		return xf_err_nomem(err, (size_t)n * sizeof(*p->train));
	if (!(p->v = alloc_doubles(d, 1, err)) || !(p->ybar = alloc_doubles(c, 1, err)) ||
	    !(p->w = alloc_doubles(d, c, err)) || !(p->a = alloc_doubles(side, side, err)) ||
	    !(p->score = alloc_doubles(c, 1, err)))
		return -1;
	if (!dual)
		return 0;
	if (!(p->yc = alloc_doubles(nt_max, c, err)) || !(p->alpha = alloc_doubles(n, c, err)) ||
	    !(p->r = alloc_doubles(nt_max, 1, err)) || !(p->kernel = alloc_doubles(n, n, err)))
		return -1;
	return xf_linalg_gemm(false, true, n, n, d, 1.0, p->xm, d, p->xm, d, 0.0, p->kernel, n, err);
}

XF_METRIC_FN(xf_metric_linprobe)
{
	struct probe p = { .y = data->y, .n = data->n, .d = data->d, .c = data->c };
	int64_t correct = 0;
	int rc = 0;

	if (p.n < PROBE_FOLDS)
		return xf_err_set(err, XF_E_FORMAT, "%lld rows: %d-fold cross-validation needs at least %d",
				  (long long)p.n, PROBE_FOLDS, PROBE_FOLDS);
	if (!(p.xm = xf_score_centred(cache, err)) || probe_alloc(&p, cache, err) < 0)
		rc = -1;
	for (int f = 0; rc == 0 && f < PROBE_FOLDS; f++) {
		int64_t nt = train_stats(&p, f);

		rc = p.d <= nt ? solve_primal(&p, f, nt, err) : solve_dual(&p, nt, err);
		if (rc < 0)
			xf_err_prefix(err, "fold %d", f);
		else
			correct += fold_correct(&p, f);
	}
	probe_free(&p);
	if (rc == 0)
		*out = (double)correct / (double)p.n;
	return rc;
}
