/*
 * score_ncti: NCTI (Wang et al. 2023), docs/scores.md section 10; the API is in score_ncti.h.
 * One model's parts: PCA to k = min(64, N, D) components, scikit-learn 1.2.1's LDA on them
 * (solver 'eigen' with shrinkage, or 'svd'), the nuclear norm of its centred projection (seli),
 * the mean true-class probability (ncc) and the log of the summed per-class nuclear norms of
 * the probabilities (vc). Classes are the populated labels, numbered as np.unique does.
 *
 * Numerical choices (each exact in exact arithmetic):
 *  - The PCA scores come from the cache's eigendecomposition of the centred scatter rather than
 *    an SVD of the rows: the same subspace, and the components' signs do not matter (both
 *    solvers are invariant under sign flips of their input columns).
 *  - Eigen solver: Sb is shrunk from the between-class scatter itself, (1-s) Sb + s tr(Sb)/k I,
 *    which is scikit-learn's St' - Sw' without the cancellation of that difference; Sw' is the
 *    pooled within-class scatter shrunk once, equal to the sum of prior-weighted shrunk ones.
 *  - SVD solver: the decision function is taken in the centred frame, ((Z - xbar) S) coef^T,
 *    which is scikit-learn's Z coef_^T + intercept_ with the xbar term folded in.
 *  - Nuclear norms are sums of singular values from an SVD, not square roots of Gram
 *    eigenvalues: a well-separated class's probability rows are nearly rank one, and the Gram
 *    route would leave errors of sqrt(eps) on its small singular values.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "score_ncti.h"

#define NCTI_PCA_DIMS 64          /* PCA(n_components=64) */
#define NCTI_TEMP_DIMS 32         /* explained_variance_[:32] */
#define NCTI_TEMP_FLOOR 1e-10     /* temp = max(exp(-sum), 1e-10); at the floor, the svd solver */
#define NCTI_SVD_TOL 1e-4         /* LinearDiscriminantAnalysis(tol=1e-4) */

struct ncti {
	int64_t n, k, nc;         /* rows, PCA components, populated classes */
	int64_t m;                /* transform dimensions: min(nc - 1, k) */
	int64_t r;                /* columns of proj; the transform keeps the first min(r, m) */
	int64_t *cls;             /* n: class index of each row, 0..nc-1 in label order */
	int64_t *size;            /* nc: rows per class */
	double *prior;            /* nc: size / n */
	double *z;                /* n x k: PCA scores */
	double *means;            /* nc x k: class means of z */
	double *zbar;             /* k: prior-weighted mean of the class means (the mean of z) */
	double *resid;            /* n x k: z minus its class mean */
	double *proj;             /* n x r: the solver's projection (allocated by the solver) */
	double *prob;             /* n x nc: decision function, then probabilities */
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void ncti_free(struct ncti *s)
{
	free(s->cls), free(s->size), free(s->prior), free(s->z), free(s->means);
	free(s->zbar), free(s->resid), free(s->proj), free(s->prob);
}

static int ncti_alloc(struct ncti *s, struct xf_err *err)
{
	int64_t n = s->n, k = s->k, nc = s->nc;

	s->cls = malloc(n * sizeof(*s->cls));
	s->size = calloc(nc, sizeof(*s->size));
	s->prior = malloc(nc * sizeof(double));
	s->z = malloc(n * k * sizeof(double));
	s->means = malloc(nc * k * sizeof(double));
	s->zbar = malloc(k * sizeof(double));
	s->resid = malloc(n * k * sizeof(double));
	s->prob = malloc(n * nc * sizeof(double));
	if (s->cls && s->size && s->prior && s->z && s->means && s->zbar && s->resid && s->prob)
		return 0;
	return xf_err_nomem(err, (size_t)(n + nc) * (size_t)(2 * k + nc) * sizeof(double));
}

/* Number the populated labels 0..nc-1 in increasing order (np.unique) and size everything. */
static int ncti_init(struct ncti *s, const struct xf_score_data *data, const int64_t *counts, struct xf_err *err)
{
	int64_t *rank = malloc(data->c * sizeof(*rank));

	if (!rank)
		return xf_err_nomem(err, data->c * sizeof(*rank));
	s->n = data->n, s->nc = 0;
	for (int64_t c = 0; c < data->c; c++)
		rank[c] = counts[c] ? s->nc++ : -1;
	s->k = min64(NCTI_PCA_DIMS, min64(data->n, data->d));
	s->m = min64(s->nc - 1, s->k);
	if (s->n <= s->nc) {
		free(rank);
		return xf_err_set(err, XF_E_FORMAT, "ncti: %lld rows for %lld classes: LDA needs more rows than classes",
				  (long long)s->n, (long long)s->nc);
	}
	if (ncti_alloc(s, err) < 0) {
		free(rank);
		return -1;
	}
	for (int64_t i = 0; i < s->n; i++)
		s->size[s->cls[i] = rank[data->y[i]]]++;
	for (int64_t c = 0; c < s->nc; c++)
		s->prior[c] = (double)s->size[c] / (double)s->n;
	free(rank);
	return 0;
}

/*
 * z = Fc V_k with the scatter's top k eigenvectors, largest first, and the official shrinkage
 * from the explained variances (eigenvalues / (n - 1), ddof 1) of the first 32 components.
 */
static int pca_scores(struct ncti *s, struct xf_score_cache *cache, int64_t d, double *temp, struct xf_err *err)
{
	const double *w, *v, *fc = xf_score_centred(cache, err);
	int64_t k = s->k;
	double *top, sum = 0;
	int rc;

	if (!fc || xf_score_scatter_eig(cache, &w, &v, err) < 0)
		return -1;
	if (!(top = malloc(d * k * sizeof(double))))
		return xf_err_nomem(err, d * k * sizeof(double));
	for (int64_t i = 0; i < d; i++)
		for (int64_t j = 0; j < k; j++)
			top[i * k + j] = v[i * d + d - 1 - j];
	for (int64_t j = 0; j < min64(NCTI_TEMP_DIMS, k); j++)
		sum += fmax(w[d - 1 - j], 0) / (double)(s->n - 1);
	*temp = fmax(exp(-sum), NCTI_TEMP_FLOOR);
	rc = xf_linalg_gemm(false, false, s->n, k, d, 1.0, fc, d, top, k, 0.0, s->z, k, err);
	free(top);
	return rc;
}

/* Class means, their prior-weighted mean, and the rows' residuals from their class mean. */
static void class_stats(const struct ncti *s)
{
	int64_t k = s->k;

	memset(s->means, 0, s->nc * k * sizeof(double));
	memset(s->zbar, 0, k * sizeof(double));
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < k; j++)
			s->means[s->cls[i] * k + j] += s->z[i * k + j];
	for (int64_t c = 0; c < s->nc; c++)
		for (int64_t j = 0; j < k; j++) {
			s->means[c * k + j] /= (double)s->size[c];
			s->zbar[j] += s->prior[c] * s->means[c * k + j];
		}
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < k; j++)
			s->resid[i * k + j] = s->z[i * k + j] - s->means[s->cls[i] * k + j];
}

/* Rows sqrt(w_c) (m_c - zbar) of the class means, scaled by w_c = weight * prior_c. */
static double *centred_means(const struct ncti *s, double weight, struct xf_err *err)
{
	double *out = malloc(s->nc * s->k * sizeof(double));

	if (!out) {
		xf_err_nomem(err, s->nc * s->k * sizeof(double));
		return NULL;
	}
	for (int64_t c = 0; c < s->nc; c++)
		for (int64_t j = 0; j < s->k; j++)
			out[c * s->k + j] = sqrt(weight * s->prior[c]) * (s->means[c * s->k + j] - s->zbar[j]);
	return out;
}

/* shrunk_covariance: (1 - s) A + s tr(A)/k I, in place. */
static void shrink(double *a, int64_t k, double shrinkage)
{
	double trace = 0;

	for (int64_t j = 0; j < k; j++)
		trace += a[j * k + j];
	for (int64_t j = 0; j < k * k; j++)
		a[j] *= 1 - shrinkage;
	for (int64_t j = 0; j < k; j++)
		a[j * k + j] += shrinkage * trace / (double)k;
}

/* Shrunk Sw (within, biased) and Sb (between) of the eigen solver, k x k each. */
static int eigen_scatters(const struct ncti *s, double shrinkage, double *sw, double *sb, struct xf_err *err)
{
	double *weighted = centred_means(s, 1.0, err);
	int rc;

	if (!weighted)
		return -1;
	rc = xf_linalg_gram(s->n, s->k, 1.0 / (double)s->n, s->resid, s->k, 0.0, sw, err);
	if (rc == 0)
		rc = xf_linalg_gram(s->nc, s->k, 1.0, weighted, s->k, 0.0, sb, err);
	free(weighted);
	shrink(sw, s->k, shrinkage);
	shrink(sb, s->k, shrinkage);
	return rc;
}

/*
 * Decision function into s->prob: x coef^T (x n x cols, coef nc x cols) plus the intercept
 * log p_c - quad[c] / 2, where quad[c] is m_c . coef_c (eigen) or |coef_c|^2 (svd).
 */
static int decision(const struct ncti *s, const double *x, const double *coef, int64_t cols, const double *quad,
		    struct xf_err *err)
{
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t c = 0; c < s->nc; c++)
			s->prob[i * s->nc + c] = -0.5 * quad[c] + log(s->prior[c]);
	if (cols == 0)  /* no direction kept: the priors alone (BLAS rejects an empty inner dimension) */
		return 0;
	return xf_linalg_gemm(false, true, s->n, s->nc, cols, 1.0, x, cols, coef, cols, 1.0, s->prob, s->nc, err);
}

/*
 * _solve_eigen with shrinkage: V from eigh(Sb', Sw') sorted descending, transform Z V[:, :m],
 * coef = means V V^T, intercept -diag(means coef^T)/2 + log priors.
 */
static int solve_eigen(struct ncti *s, double shrinkage, struct xf_err *err)
{
	int64_t k = s->k, nc = s->nc, m = s->m;
	double *sw = malloc(k * k * sizeof(double)), *v = malloc(k * k * sizeof(double));
	double *w = malloc(k * sizeof(double)), *mv = malloc(nc * k * sizeof(double));
	double *coef = malloc(nc * k * sizeof(double)), *vm = malloc(k * m * sizeof(double));
	double *quad = malloc(nc * sizeof(double));
	int rc = -1;

	s->r = m;
	if (!sw || !v || !w || !mv || !coef || !vm || !quad || !(s->proj = malloc(s->n * m * sizeof(double)))) {
		xf_err_nomem(err, (size_t)(2 * k + 2 * nc) * (size_t)k * sizeof(double));
		goto done;
	}
	if (eigen_scatters(s, shrinkage, sw, v, err) < 0)
		goto done;
	if (xf_linalg_eigh_general(v, sw, k, w, err) < 0) {
		xf_err_prefix(err, "ncti: shrunk within-class covariance (shrinkage %g)", shrinkage);
		goto done;
	}
	for (int64_t i = 0; i < k; i++)  /* eigenvalues come ascending: the largest m, largest first */
		for (int64_t j = 0; j < m; j++)
			vm[i * m + j] = v[i * k + k - 1 - j];
	if (xf_linalg_gemm(false, false, s->n, m, k, 1.0, s->z, k, vm, m, 0.0, s->proj, m, err) < 0 ||
	    xf_linalg_gemm(false, false, nc, k, k, 1.0, s->means, k, v, k, 0.0, mv, k, err) < 0 ||
	    xf_linalg_gemm(false, true, nc, k, k, 1.0, mv, k, v, k, 0.0, coef, k, err) < 0)
		goto done;
	for (int64_t c = 0; c < nc; c++) {
		quad[c] = 0;
		for (int64_t j = 0; j < k; j++)
			quad[c] += s->means[c * k + j] * coef[c * k + j];
	}
	rc = decision(s, s->z, coef, k, quad, err);
done:
	free(sw), free(v), free(w), free(mv), free(coef), free(vm), free(quad);
	return rc;
}

/*
 * _solve_svd's first step: scale the residuals by their column std (0 -> 1) and 1/sqrt(n - nc),
 * keep the right singular vectors whose singular value exceeds the tolerance, and return the
 * within-whitening scalings (k x rank, Vt[:rank]^T / std / S).
 */
static double *svd_within(const struct ncti *s, int64_t *rank, struct xf_err *err)
{
	int64_t n = s->n, k = s->k;
	double *std = calloc(k, sizeof(double)), *mean = calloc(k, sizeof(double)), *sv = malloc(k * sizeof(double));
	double *x = malloc(n * k * sizeof(double)), *u = malloc(n * k * sizeof(double));
	double *vt = malloc(k * k * sizeof(double)), *scal = NULL;

	*rank = 0;
	if (!std || !mean || !sv || !x || !u || !vt) {
		xf_err_nomem(err, 2 * n * k * sizeof(double));
		goto done;
	}
	for (int64_t i = 0; i < n * k; i++)  /* np.std: about the column mean, which is ~0 here */
		mean[i % k] += s->resid[i];
	for (int64_t i = 0; i < n * k; i++) {
		double dev = s->resid[i] - mean[i % k] / (double)n;

		std[i % k] += dev * dev;
	}
	for (int64_t j = 0; j < k; j++)  /* a constant column keeps scale 1, as std[std == 0] = 1 */
		std[j] = std[j] == 0 ? 1 : sqrt(std[j] / (double)n);
	for (int64_t i = 0; i < n * k; i++)
		x[i] = sqrt(1.0 / (double)(n - s->nc)) * (s->resid[i] / std[i % k]);
	if (xf_linalg_svd(x, n, k, sv, u, vt, err) < 0)
		goto done;
	while (*rank < k && sv[*rank] > NCTI_SVD_TOL)
		++*rank;
	if (*rank == 0) {
		xf_err_set(err, XF_E_FORMAT, "ncti: no within-class variance above the svd solver's tolerance %g",
			   NCTI_SVD_TOL);
		goto done;
	}
	if (!(scal = malloc(k * *rank * sizeof(double)))) {
		xf_err_nomem(err, k * *rank * sizeof(double));
		goto done;
	}
	for (int64_t j = 0; j < k; j++)
		for (int64_t q = 0; q < *rank; q++)
			scal[j * *rank + q] = vt[q * k + j] / std[j] / sv[q];
done:
	free(std), free(mean), free(sv), free(x), free(u), free(vt);
	return scal;
}

/*
 * _solve_svd's second step: the SVD of the class means, centred, weighted by sqrt(n p_c / (nc-1))
 * and whitened; scalings_ = scal Vt[:rank]^T (k x rank) for the singular values above tol S[0].
 */
static double *svd_between(const struct ncti *s, const double *scal, int64_t rank1, int64_t *rank,
			   struct xf_err *err)
{
	int64_t nc = s->nc, q = min64(nc, rank1);
	double *centred = centred_means(s, (double)s->n / (double)(nc - 1), err);
	double *xb = malloc(nc * rank1 * sizeof(double)), *sv = malloc(q * sizeof(double));
	double *u = malloc(nc * q * sizeof(double)), *vt = malloc(q * rank1 * sizeof(double));
	double *out = malloc(s->k * q * sizeof(double));
	int rc = -1;

	*rank = 0;
	if (!centred || !xb || !sv || !u || !vt || !out)
		xf_err_nomem(err, (size_t)(nc + s->k) * (size_t)rank1 * sizeof(double));
	else if (xf_linalg_gemm(false, false, nc, rank1, s->k, 1.0, centred, s->k, scal, rank1, 0.0, xb, rank1,
				err) == 0 && xf_linalg_svd(xb, nc, rank1, sv, u, vt, err) == 0) {
		while (*rank < q && sv[*rank] > NCTI_SVD_TOL * sv[0])
			++*rank;
		rc = xf_linalg_gemm(false, true, s->k, *rank, rank1, 1.0, scal, rank1, vt, rank1, 0.0, out, *rank, err);
	}
	free(centred), free(xb), free(sv), free(u), free(vt);
	if (rc < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

/*
 * _solve_svd: projection (Z - xbar) scalings_ (n x r) and, in the same frame, coef = (means -
 * xbar) scalings_ with intercept -|coef_c|^2 / 2 + log p_c.
 */
static int solve_svd(struct ncti *s, struct xf_err *err)
{
	int64_t k = s->k, nc = s->nc, rank1 = 0, r = 0;
	double *scal = svd_within(s, &rank1, err), *scalings = scal ? svd_between(s, scal, rank1, &r, err) : NULL;
	double *zc = malloc(s->n * k * sizeof(double)), *mc = malloc(nc * k * sizeof(double));
	double *coef = NULL, *quad = malloc(nc * sizeof(double));
	int rc = -1;

	if (!scalings)
		goto done;
	s->r = r;
	if (!zc || !mc || !quad || !(coef = malloc((nc * r + 1) * sizeof(double))) ||
	    !(s->proj = malloc((s->n * r + 1) * sizeof(double)))) {
		xf_err_nomem(err, s->n * k * sizeof(double));
		goto done;
	}
	for (int64_t i = 0; i < s->n * k; i++)
		zc[i] = s->z[i] - s->zbar[i % k];
	for (int64_t i = 0; i < nc * k; i++)
		mc[i] = s->means[i] - s->zbar[i % k];
	if (xf_linalg_gemm(false, false, s->n, r, k, 1.0, zc, k, scalings, r, 0.0, s->proj, r, err) < 0 ||
	    xf_linalg_gemm(false, false, nc, r, k, 1.0, mc, k, scalings, r, 0.0, coef, r, err) < 0)
		goto done;
	for (int64_t c = 0; c < nc; c++) {
		quad[c] = 0;
		for (int64_t j = 0; j < r; j++)
			quad[c] += coef[c * r + j] * coef[c * r + j];
	}
	rc = decision(s, s->proj, coef, r, quad, err);
done:
	free(scal), free(scalings), free(zc), free(mc), free(coef), free(quad);
	return rc;
}

/* predict_proba: for two classes expit(d) and 1 - expit(d), d = decision_1 - decision_0; else softmax. */
static void probabilities(double *p, int64_t n, int64_t nc)
{
	for (int64_t i = 0; i < n; i++) {
		double *row = p + i * nc, top = row[0], sum = 0;

		if (nc == 2) {
			row[1] = 1 / (1 + exp(-(row[1] - row[0])));
			row[0] = 1 - row[1];
			continue;
		}
		for (int64_t c = 1; c < nc; c++)
			top = fmax(top, row[c]);
		for (int64_t c = 0; c < nc; c++)
			sum += row[c] = exp(row[c] - top);
		for (int64_t c = 0; c < nc; c++)
			row[c] /= sum;
	}
}

/* Sum of the singular values of the rows x cols matrix a (destroyed). */
static int nuclear_norm(double *a, int64_t rows, int64_t cols, double *out, struct xf_err *err)
{
	int64_t q = min64(rows, cols);
	double *sv = malloc((q + 1) * sizeof(double)), *u = malloc((rows * q + 1) * sizeof(double));
	double *vt = malloc((q * cols + 1) * sizeof(double));
	int rc = -1;

	*out = 0;
	if (!sv || !u || !vt)
		xf_err_nomem(err, (size_t)(rows + cols) * (size_t)q * sizeof(double));
	else if ((rc = xf_linalg_svd(a, rows, cols, sv, u, vt, err)) == 0)
		for (int64_t j = 0; j < q; j++)
			*out += sv[j];
	free(sv), free(u), free(vt);
	return rc;
}

/* seli: the nuclear norm of the transform (the first min(r, m) projection columns), centred. */
static int seli(const struct ncti *s, double *out, struct xf_err *err)
{
	int64_t t = min64(s->r, s->m);
	double *l = malloc((s->n * t + 1) * sizeof(double)), *mean = calloc(t + 1, sizeof(double));
	int rc = -1;

	if (!l || !mean)
		xf_err_nomem(err, s->n * t * sizeof(double));
	else {
		for (int64_t i = 0; i < s->n; i++)
			for (int64_t j = 0; j < t; j++)
				mean[j] += s->proj[i * s->r + j] / (double)s->n;
		for (int64_t i = 0; i < s->n; i++)
			for (int64_t j = 0; j < t; j++)
				l[i * t + j] = s->proj[i * s->r + j] - mean[j];
		rc = nuclear_norm(l, s->n, t, out, err);
	}
	free(l), free(mean);
	return rc;
}

/* vc: log of the sum over classes of the nuclear norm of that class's probability rows. */
static int vc(const struct ncti *s, double *out, struct xf_err *err)
{
	int64_t largest = 0, nc = s->nc;
	double *block, total = 0, norm;
	int rc = 0;

	for (int64_t c = 0; c < nc; c++)
		largest = s->size[c] > largest ? s->size[c] : largest;
	if (!(block = malloc(largest * nc * sizeof(double))))
		return xf_err_nomem(err, largest * nc * sizeof(double));
	for (int64_t c = 0; rc == 0 && c < nc; c++) {
		int64_t rows = 0;

		for (int64_t i = 0; i < s->n; i++)
			if (s->cls[i] == c)
				memcpy(block + rows++ * nc, s->prob + i * nc, nc * sizeof(double));
		rc = nuclear_norm(block, rows, nc, &norm, err);
		total += norm;
	}
	free(block);
	*out = log(total);
	return rc;
}

int xf_score_ncti_parts(const struct xf_score_data *data, struct xf_score_cache *cache, struct xf_ncti_parts *out,
			struct xf_err *err)
{
	const int64_t *counts;
	struct ncti s = { 0 };
	double temp = 0, ncc = 0;
	int rc;

	if (xf_score_cache_check(cache, XF_NEEDS_F | XF_NEEDS_Y, err) < 0 || !(counts = xf_score_counts(cache, err)))
		return -1;
	rc = ncti_init(&s, data, counts, err);
	if (rc == 0)
		rc = pca_scores(&s, cache, data->d, &temp, err);
	if (rc == 0) {
		class_stats(&s);
		rc = temp == NCTI_TEMP_FLOOR ? solve_svd(&s, err) : solve_eigen(&s, temp, err);
	}
	if (rc == 0) {
		probabilities(s.prob, s.n, s.nc);
		for (int64_t i = 0; i < s.n; i++)
			ncc += s.prob[i * s.nc + s.cls[i]];
		out->ncc = ncc / (double)s.n;
		rc = seli(&s, &out->seli, err) < 0 || vc(&s, &out->vc, err) < 0 ? -1 : 0;
	}
	ncti_free(&s);
	return rc;
}

static double part_of(const struct xf_ncti_parts *p, int which)
{
	return which == 0 ? p->seli : which == 1 ? p->ncc : p->vc;
}

void xf_score_ncti_combine(const struct xf_ncti_parts *parts, int n, double *scores)
{
	double lo[3], span[3];

	for (int which = 0; n > 0 && which < 3; which++) {
		double hi = lo[which] = part_of(&parts[0], which);

		for (int i = 1; i < n; i++) {
			lo[which] = fmin(lo[which], part_of(&parts[i], which));
			hi = fmax(hi, part_of(&parts[i], which));
		}
		span[which] = hi - lo[which];
	}
	for (int i = 0; i < n; i++) {
		double mm[3];

		for (int which = 0; which < 3; which++)
			mm[which] = span[which] != 0 ? (part_of(&parts[i], which) - lo[which]) / span[which] : 0;
		scores[i] = mm[1] + mm[0] - mm[2];  /* the official order of the sum: ncc + seli - vc */
	}
}
