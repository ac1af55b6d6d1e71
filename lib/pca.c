/*
 * pca: exact (scatter or Gram eigenproblem) and randomized (Halko et al.) principal
 * components; contracts in pca.h, methods in docs tsne.md §8.
 */
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "pca.h"
#include "rng.h"

#define BLOCK_DOUBLES ((int64_t)1 << 20) /* elements of one centred block copy (8 MiB) */
#define MIN_BLOCK 64                     /* rows or columns of a block, so BLAS has work to do */
#define OVERSAMPLE 10                    /* extra columns of the randomized range finder */
#define AUTO_EXACT_MAX_D 1000            /* XF_PCA_AUTO: exact up to this many columns */

/* ---- small helpers ---- */

static double *alloc_doubles(int64_t count, struct xf_err *err)
{
	double *p;

	if (count < 0 || (uint64_t)count > SIZE_MAX / sizeof(double)) {
		xf_err_set(err, XF_E_LIMIT, "PCA: %lld doubles are too many to allocate", (long long)count);
		return NULL;
	}
	p = malloc(count > 0 ? (size_t)count * sizeof(double) : 1);
	if (!p)
		xf_err_nomem(err, (size_t)count * sizeof(double));
	return p;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Rows (or columns) per block: about BLOCK_DOUBLES elements of `width`, within 1..total. */
static int64_t block_len(int64_t total, int64_t width)
{
	int64_t len = BLOCK_DOUBLES / width;

	return min64(total, len < MIN_BLOCK ? MIN_BLOCK : len);
}

static int lapack_fits(int64_t v, struct xf_err *err)
{
	if (v > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "PCA: dimension %lld is too large for LAPACK", (long long)v);
	return 0;
}

static int lapack_status(int info, const char *what, struct xf_err *err)
{
	if (info == 0)
		return 0;
	if (info < 0)
		return xf_err_set(err, XF_E_USAGE, "PCA: %s: argument %d is invalid", what, -info);
	return xf_err_set(err, XF_E_FORMAT, "PCA: %s failed to converge (%d)", what, info);
}

/* Column means of a (rows x d, row stride d) into mean. */
static void column_means(const double *a, int64_t rows, int64_t d, double *mean)
{
	memset(mean, 0, d * sizeof(double));
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < d; j++)
			mean[j] += a[i * d + j];
	for (int64_t j = 0; j < d; j++)
		mean[j] /= (double)rows;
}

/* out = rows of x minus mean (a block copy that BLAS can multiply without cancellation). */
static void copy_centred(const double *x, int64_t rows, int64_t d, const double *mean, double *out)
{
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < d; j++)
			out[i * d + j] = x[i * d + j] - mean[j];
}

/* outT (nc x n) = columns j0..j0+nc of x minus their means, transposed. */
static void copy_centred_cols(const double *x, int64_t n, int64_t d, int64_t j0, int64_t nc, const double *mean,
			      double *outT)
{
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < nc; j++)
			outT[j * n + i] = x[i * d + j0 + j] - mean[j0 + j];
}

/*
 * Column means and the total variance (ddof = 1) by the corrected two-pass algorithm: the
 * second pass sums deviations from the first mean and corrects both, so an offset of 1e6
 * costs no digits. dev and sq are d doubles of scratch.
 */
static void column_moments(const double *x, int64_t n, int64_t d, double *mean, double *total, double *dev,
			   double *sq)
{
	column_means(x, n, d, mean);
	memset(dev, 0, d * sizeof(double));
	memset(sq, 0, d * sizeof(double));
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++) {
			double t = x[i * d + j] - mean[j];

			dev[j] += t, sq[j] += t * t;
		}
	*total = 0;
	for (int64_t j = 0; j < d; j++) {
		mean[j] += dev[j] / (double)n;
		*total += sq[j] - dev[j] * dev[j] / (double)n;
	}
	*total /= (double)(n - 1);
}

/* Make the largest-|.| entry (the first of equals) of each of the k rows positive. */
static void flip_signs(double *v, int64_t k, int64_t d)
{
	for (int64_t i = 0; i < k; i++) {
		double *row = v + i * d;
		int64_t best = 0;

		for (int64_t j = 1; j < d; j++)
			if (fabs(row[j]) > fabs(row[best]))
				best = j;
		if (row[best] < 0)
			for (int64_t j = 0; j < d; j++)
				row[j] = -row[j];
	}
}

/* ---- argument checks ---- */

static int check_shape(int64_t n, int64_t d, int64_t k, struct xf_err *err)
{
	int64_t m = min64(n, d);

	if (n < 2)
		return xf_err_set(err, XF_E_USAGE, "PCA needs at least 2 rows, got %lld", (long long)n);
	if (d < 1)
		return xf_err_set(err, XF_E_USAGE, "PCA needs at least 1 column, got %lld", (long long)d);
	if (k < 1 || k > m)
		return xf_err_set(err, XF_E_USAGE,
				  "cannot keep %lld principal components of %lld rows x %lld columns (need 1 <= k <= %lld)",
				  (long long)k, (long long)n, (long long)d, (long long)m);
	if (n > INT64_MAX / d)
		return xf_err_set(err, XF_E_LIMIT, "PCA: %lld rows x %lld columns are too many", (long long)n,
				  (long long)d);
	return lapack_fits(m, err);
}

static int check_finite(const double *x, int64_t n, int64_t d, struct xf_err *err)
{
	for (int64_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return xf_err_set(err, XF_E_FORMAT, "PCA input: row %lld column %lld is %s", (long long)(i / d),
					  (long long)(i % d), isnan(x[i]) ? "NaN" : "infinite");
	return 0;
}

/* ---- exact solver ---- */

/*
 * The k largest eigenpairs of the symmetric m x m matrix a (both triangles set; destroyed) by
 * dsyevr's range 'I': eigenvalues descending in w (m doubles of room), unit eigenvectors as
 * the ROWS of vt (k x m). A symmetric matrix reads the same in either layout, so LAPACK gets
 * it column-major and LAPACKE makes no transposed copies.
 */
static int top_eigen(double *a, int64_t m, int64_t k, double *w, double *vt, struct xf_err *err)
{
	double *z = alloc_doubles(m * k, err);
	lapack_int *isuppz = malloc(2 * (size_t)k * sizeof(lapack_int)), found = 0;
	int rc = -1;

	if (!z || !isuppz) {
		if (z)
			xf_err_nomem(err, 2 * (size_t)k * sizeof(lapack_int));
		goto done;
	}
	rc = lapack_status(LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'I', 'U', (lapack_int)m, a, (lapack_int)m, 0, 0,
					  (lapack_int)(m - k + 1), (lapack_int)m, LAPACKE_dlamch('S'), &found, w, z,
					  (lapack_int)m, isuppz), "eigendecomposition", err);
	if (rc == 0 && found != k)
		rc = xf_err_set(err, XF_E_FORMAT, "PCA: eigendecomposition found %d of %lld eigenpairs", (int)found,
				(long long)k);
	for (int64_t i = 0; rc == 0 && i < k; i++) /* dsyevr sorts ascending: reverse */
		memcpy(vt + i * m, z + (k - 1 - i) * m, m * sizeof(double));
	for (int64_t i = 0; rc == 0 && i < k / 2; i++) {
		double t = w[i];

		w[i] = w[k - 1 - i], w[k - 1 - i] = t;
	}
done:
	free(z), free(isuppz);
	return rc;
}

/* variance = max(lambda, 0) / (n - 1): rounding can make the smallest ones negative. */
static void set_variances(struct xf_pca *p, const double *lambda)
{
	for (int64_t i = 0; i < p->k; i++)
		p->variance[i] = fmax(lambda[i], 0) / (double)(p->n - 1);
}

/*
 * Centre a block on its own mean, with a second pass removing what rounding left of the mean,
 * so that the Gram product never sees the block's offset. resid is d doubles of scratch.
 */
static void centre_block(const double *xb, int64_t rows, int64_t d, double *buf, double *bmean, double *resid)
{
	column_means(xb, rows, d, bmean);
	copy_centred(xb, rows, d, bmean, buf);
	column_means(buf, rows, d, resid);
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < d; j++)
			buf[i * d + j] -= resid[j];
	for (int64_t j = 0; j < d; j++)
		bmean[j] += resid[j];
}

/*
 * Chan et al.'s pairwise update, merging a block of nb rows (mean bmean, its centred Gram
 * already added to g) into n rows seen so far: g += n nb / (n + nb) delta delta^T and the mean
 * moves by nb / (n + nb) delta, where delta = bmean - mean. delta is d doubles of scratch.
 */
static void chan_merge(double *g, double *mean, int64_t n, const double *bmean, int64_t nb, int64_t d, double *delta)
{
	double w = (double)nb / (double)(n + nb), c = (double)n * w;

	for (int64_t j = 0; j < d; j++)
		delta[j] = bmean[j] - mean[j];
	for (int64_t i = 0; c != 0 && i < d; i++)
		for (int64_t j = 0; j < d; j++)
			g[i * d + j] += c * delta[i] * delta[j];
	for (int64_t j = 0; j < d; j++)
		mean[j] += w * delta[j];
}

/* Scatter matrix g = sum (x_i - mean)(x_i - mean)^T (d x d) and the mean, in one pass over row blocks. */
static int primal_scatter(const double *x, int64_t n, int64_t d, double *mean, double *g, struct xf_err *err)
{
	int64_t rows = block_len(n, d);
	double *buf = alloc_doubles(rows * d, err), *scratch = alloc_doubles(2 * d, err);
	int rc = -1;

	if (!buf || !scratch)
		goto done;
	memset(g, 0, d * d * sizeof(double));
	memset(mean, 0, d * sizeof(double));
	for (int64_t i0 = 0; i0 < n; i0 += rows) {
		int64_t nb = min64(rows, n - i0);

		centre_block(x + i0 * d, nb, d, buf, scratch, scratch + d);
		if (xf_linalg_gram(nb, d, 1.0, buf, d, 1.0, g, err) < 0)
			goto done;
		chan_merge(g, mean, i0, scratch, nb, d, scratch + d);
	}
	rc = 0;
done:
	free(buf), free(scratch);
	return rc;
}

/* n >= d: the top eigenpairs of the scatter matrix are the variances and components. */
static int fit_exact_primal(const double *x, struct xf_pca *p, struct xf_err *err)
{
	int64_t d = p->d;
	double *g = alloc_doubles(d * d, err), *w = alloc_doubles(d, err);
	int rc = -1;

	if (!g || !w || primal_scatter(x, p->n, d, p->mean, g, err) < 0)
		goto done;
	p->total_variance = 0;
	for (int64_t j = 0; j < d; j++)
		p->total_variance += g[j * d + j];
	p->total_variance /= (double)(p->n - 1);
	if (top_eigen(g, d, p->k, w, p->components, err) < 0)
		goto done;
	set_variances(p, w);
	rc = 0;
done:
	free(g), free(w);
	return rc;
}

/* Gram matrix kmat = X_c X_c^T (n x n) of the centred rows, over blocks of columns. */
static int dual_gram(const double *x, int64_t n, int64_t d, const double *mean, double *kmat, struct xf_err *err)
{
	int64_t cols = block_len(d, n);
	double *bufT = alloc_doubles(cols * n, err);
	int rc = 0;

	if (!bufT)
		return -1;
	memset(kmat, 0, n * n * sizeof(double));
	for (int64_t j0 = 0; rc == 0 && j0 < d; j0 += cols) {
		int64_t nc = min64(cols, d - j0);

		copy_centred_cols(x, n, d, j0, nc, mean, bufT);
		rc = xf_linalg_gram(nc, n, 1.0, bufT, n, 1.0, kmat, err);
	}
	free(bufT);
	return rc;
}

/* comps (k x d) = ut X_c for the k x n eigenvector rows ut: unnormalised components. */
static int dual_components(const double *x, int64_t n, int64_t d, const double *mean, const double *ut, int64_t k,
			   double *comps, struct xf_err *err)
{
	int64_t cols = block_len(d, n);
	double *bufT = alloc_doubles(cols * n, err);
	int rc = 0;

	if (!bufT)
		return -1;
	for (int64_t j0 = 0; rc == 0 && j0 < d; j0 += cols) {
		int64_t nc = min64(cols, d - j0);

		copy_centred_cols(x, n, d, j0, nc, mean, bufT);
		rc = xf_linalg_gemm(false, true, k, nc, n, 1.0, ut, n, bufT, n, 0.0, comps + j0, d, err);
	}
	free(bufT);
	return rc;
}

/* Remove from row i of v its parts along rows 0..i-1 (assumed orthonormal), twice ("twice is enough"). */
static void project_out(double *v, int64_t i, int64_t d)
{
	double *row = v + i * d;

	for (int pass = 0; pass < 2; pass++)
		for (int64_t r = 0; r < i; r++) {
			double dot = 0;

			for (int64_t j = 0; j < d; j++)
				dot += row[j] * v[r * d + j];
			for (int64_t j = 0; j < d; j++)
				row[j] -= dot * v[r * d + j];
		}
}

static double row_norm(const double *row, int64_t d)
{
	double s = 0;

	for (int64_t j = 0; j < d; j++)
		s += row[j] * row[j];
	return sqrt(s);
}

static void scale_row(double *row, int64_t d, double f)
{
	for (int64_t j = 0; j < d; j++)
		row[j] *= f;
}

/*
 * Row i of v becomes a unit vector orthogonal to rows 0..i-1: the first axis e_j that keeps
 * more than half its length after projection (one exists unless i is close to d), else the
 * one that keeps most. Used for components of zero variance, which X_c^T u cannot give.
 */
static void complete_basis(double *v, int64_t i, int64_t d)
{
	double *row = v + i * d, best_norm = -1;
	int64_t best = 0;

	for (int64_t j = 0; j < d; j++) {
		double len;

		memset(row, 0, d * sizeof(double));
		row[j] = 1;
		project_out(v, i, d);
		len = row_norm(row, d);
		if (len > 0.5) {
			scale_row(row, d, 1 / len);
			return;
		}
		if (len > best_norm)
			best_norm = len, best = j;
	}
	memset(row, 0, d * sizeof(double));
	row[best] = 1;
	project_out(v, i, d);
	scale_row(row, d, 1 / row_norm(row, d));
}

/*
 * Normalise the rows X_c^T u_i into components. A component whose eigenvalue is at the
 * rounding level of the largest (rows spanning fewer than k dimensions) carries no direction,
 * so it is replaced by a completion of the orthonormal basis.
 */
static void dual_normalise(double *comps, int64_t k, int64_t d, const double *lambda, int64_t n)
{
	double tiny = 64 * (double)n * DBL_EPSILON * lambda[0];

	for (int64_t i = 0; i < k; i++) {
		double len = 0;

		if (lambda[i] > tiny) {
			project_out(comps, i, d);
			len = row_norm(comps + i * d, d);
		}
		if (len > 0)
			scale_row(comps + i * d, d, 1 / len);
		else
			complete_basis(comps, i, d);
	}
}

/* n < d: eigenpairs of the n x n Gram matrix give the variances; components are X_c^T u / s. */
static int fit_exact_dual(const double *x, struct xf_pca *p, struct xf_err *err)
{
	int64_t n = p->n, d = p->d, k = p->k;
	double *kmat = alloc_doubles(n * n, err), *w = alloc_doubles(n + 2 * d, err), *ut = alloc_doubles(k * n, err);
	int rc = -1;

	if (!kmat || !w || !ut)
		goto done;
	column_moments(x, n, d, p->mean, &p->total_variance, w + n, w + n + d);
	if (dual_gram(x, n, d, p->mean, kmat, err) < 0 || top_eigen(kmat, n, k, w, ut, err) < 0 ||
	    dual_components(x, n, d, p->mean, ut, k, p->components, err) < 0)
		goto done;
	set_variances(p, w);
	dual_normalise(p->components, k, d, w, n);
	rc = 0;
done:
	free(kmat), free(w), free(ut);
	return rc;
}

/* ---- randomized solver ---- */

/*
 * The centred matrix A = X - 1 mean^T, never formed: A b = X b - 1 (mean^T b) and
 * A^T c = X^T c - mean (1^T c). The range finder works on M = A, or on M = A^T when
 * `transposed` (n < d, as sklearn does). Panels of l vectors are stored transposed (l rows
 * of length n or d), which is LAPACK's column-major layout: QR needs no copies.
 */
struct centred_op {
	const double *x;    /* n x d rows */
	const double *mean; /* d column means */
	int64_t n, d;
	bool transposed;    /* M = A^T */
	double *scratch;    /* l doubles: mean^T b or 1^T c per vector */
};

/* outT (l x n) = (A in)^T for the l vectors of length d in inT (l x d). */
static int apply_a(const struct centred_op *op, const double *inT, int64_t l, double *outT, struct xf_err *err)
{
	if (xf_linalg_gemm(false, true, l, op->n, op->d, 1.0, inT, op->d, op->x, op->d, 0.0, outT, op->n, err) < 0 ||
	    xf_linalg_gemm(false, false, l, 1, op->d, 1.0, inT, op->d, op->mean, 1, 0.0, op->scratch, 1, err) < 0)
		return -1;
	for (int64_t c = 0; c < l; c++)
		for (int64_t i = 0; i < op->n; i++)
			outT[c * op->n + i] -= op->scratch[c];
	return 0;
}

/* outT (l x d) = (A^T in)^T for the l vectors of length n in inT (l x n). */
static int apply_at(const struct centred_op *op, const double *inT, int64_t l, double *outT, struct xf_err *err)
{
	if (xf_linalg_gemm(false, false, l, op->d, op->n, 1.0, inT, op->n, op->x, op->d, 0.0, outT, op->d, err) < 0)
		return -1;
	for (int64_t c = 0; c < l; c++) {
		op->scratch[c] = 0;
		for (int64_t i = 0; i < op->n; i++)
			op->scratch[c] += inT[c * op->n + i];
		for (int64_t j = 0; j < op->d; j++)
			outT[c * op->d + j] -= op->mean[j] * op->scratch[c];
	}
	return 0;
}

/* outT = (M in)^T, or (M^T in)^T when `adjoint`, for l vectors stored as the rows of inT. */
static int apply_m(const struct centred_op *op, bool adjoint, const double *inT, int64_t l, double *outT,
		   struct xf_err *err)
{
	return op->transposed != adjoint ? apply_at(op, inT, l, outT, err) : apply_a(op, inT, l, outT, err);
}

/* Orthonormalise the l vectors of length len stored as the rows of aT: thin QR, keep Q. */
static int orthonormalise(double *aT, int64_t len, int64_t l, double *tau, struct xf_err *err)
{
	if (lapack_fits(len, err) < 0)
		return -1;
	if (lapack_status(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)len, (lapack_int)l, aT, (lapack_int)len, tau),
			  "QR factorisation", err) < 0)
		return -1;
	return lapack_status(LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)len, (lapack_int)l, (lapack_int)l, aT,
					    (lapack_int)len, tau), "forming Q", err);
}

/*
 * Halko et al.'s randomized range finder with q power iterations: omegaT (l x cols_m) starts
 * Gaussian and is then scratch; qT (l x rows_m) ends with orthonormal rows spanning about the
 * top-l left singular space of M.
 */
static int range_finder(const struct centred_op *op, int64_t l, int q, uint64_t seed, double *omegaT, double *qT,
			double *tau, struct xf_err *err)
{
	int64_t rows_m = op->transposed ? op->d : op->n, cols_m = op->transposed ? op->n : op->d;
	struct xf_rng rng;

	xf_rng_init(&rng, seed, 0);
	for (int64_t i = 0; i < l * cols_m; i++)
		omegaT[i] = xf_rng_normal(&rng);
	for (int it = 0; it < q; it++)
		if (apply_m(op, false, omegaT, l, qT, err) < 0 || orthonormalise(qT, rows_m, l, tau, err) < 0 ||
		    apply_m(op, true, qT, l, omegaT, err) < 0 || orthonormalise(omegaT, cols_m, l, tau, err) < 0)
			return -1;
	if (apply_m(op, false, omegaT, l, qT, err) < 0)
		return -1;
	return orthonormalise(qT, rows_m, l, tau, err);
}

/*
 * With Q from the range finder, B = Q^T M (l x cols_m) = U S V^T by a small SVD, so that
 * M ~ (Q U) S V^T. The components (right singular vectors of A) are the rows of V^T, or the
 * columns of Q U when M = A^T. b is l x cols_m of scratch (the range finder's omegaT).
 */
static int components_from_range(const struct centred_op *op, struct xf_pca *p, int64_t l, const double *qT,
				 double *b, double *s, struct xf_err *err)
{
	int64_t cols_m = op->transposed ? op->n : op->d, d = p->d;
	double *u = alloc_doubles(l * l, err), *vt = alloc_doubles(l * cols_m, err);
	int rc = -1;

	if (!u || !vt || apply_m(op, true, qT, l, b, err) < 0 || xf_linalg_svd(b, l, cols_m, s, u, vt, err) < 0)
		goto done;
	rc = 0;
	if (op->transposed)
		rc = xf_linalg_gemm(true, false, p->k, d, l, 1.0, u, l, qT, d, 0.0, p->components, d, err);
	else
		memcpy(p->components, vt, p->k * d * sizeof(double));
	for (int64_t i = 0; i < p->k; i++)
		s[i] *= s[i];
	set_variances(p, s);
done:
	free(u), free(vt);
	return rc;
}

static int fit_randomized(const double *x, uint64_t seed, struct xf_pca *p, struct xf_err *err)
{
	int64_t n = p->n, d = p->d, m = min64(n, d), l = min64(p->k + OVERSAMPLE, m);
	int q = 10 * p->k < m ? 7 : 4;
	struct centred_op op = { x, p->mean, n, d, n < d, NULL };
	int64_t rows_m = op.transposed ? d : n, cols_m = op.transposed ? n : d;
	double *omegaT = alloc_doubles(l * cols_m, err), *qT = alloc_doubles(l * rows_m, err);
	double *small = alloc_doubles(3 * l + 2 * d, err);
	int rc = -1;

	if (!omegaT || !qT || !small)
		goto done;
	op.scratch = small + 2 * l;
	column_moments(x, n, d, p->mean, &p->total_variance, small + 3 * l, small + 3 * l + d);
	if (range_finder(&op, l, q, seed, omegaT, qT, small, err) < 0 ||
	    components_from_range(&op, p, l, qT, omegaT, small + l, err) < 0)
		goto done;
	rc = 0;
done:
	free(omegaT), free(qT), free(small);
	return rc;
}

/* ---- public ---- */

static bool want_exact(enum xf_pca_solver solver, int64_t n, int64_t d, int64_t k)
{
	if (solver != XF_PCA_AUTO)
		return solver == XF_PCA_EXACT;
	return d <= AUTO_EXACT_MAX_D || 5 * k >= 4 * min64(n, d);
}

static int alloc_result(struct xf_pca *p, int64_t n, int64_t d, int64_t k, struct xf_err *err)
{
	p->n = n, p->d = d, p->k = k;
	if (!(p->mean = alloc_doubles(d, err)) || !(p->components = alloc_doubles(k * d, err)) ||
	    !(p->variance = alloc_doubles(k, err)))
		return -1;
	return 0;
}

int xf_pca_fit(const double *x, int64_t n, int64_t d, int64_t k, enum xf_pca_solver solver, uint64_t seed,
	       struct xf_pca *out, struct xf_err *err)
{
	struct xf_pca p = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (check_shape(n, d, k, err) < 0 || check_finite(x, n, d, err) < 0 || alloc_result(&p, n, d, k, err) < 0) {
		xf_pca_release(&p);
		return -1;
	}
	if (!want_exact(solver, n, d, k))
		rc = fit_randomized(x, seed, &p, err);
	else if (n >= d)
		rc = fit_exact_primal(x, &p, err);
	else
		rc = fit_exact_dual(x, &p, err);
	if (rc < 0) {
		xf_pca_release(&p);
		return -1;
	}
	flip_signs(p.components, k, d);
	*out = p;
	return 0;
}

int xf_pca_transform(const struct xf_pca *p, const double *x, int64_t n, double *out, struct xf_err *err)
{
	int64_t d, rows;
	double *buf;
	int rc = 0;

	if (!p || !p->components || !p->mean || p->d < 1 || p->k < 1)
		return xf_err_set(err, XF_E_USAGE, "PCA transform: the PCA is not fitted");
	d = p->d;
	if (n < 0 || n > INT64_MAX / d)
		return xf_err_set(err, XF_E_USAGE, "PCA transform: bad row count %lld", (long long)n);
	if (n == 0)
		return 0;
	if (check_finite(x, n, d, err) < 0)
		return -1;
	rows = block_len(n, d);
	if (!(buf = alloc_doubles(rows * d, err)))
		return -1;
	for (int64_t i0 = 0; rc == 0 && i0 < n; i0 += rows) {
		int64_t nb = min64(rows, n - i0);

		copy_centred(x + i0 * d, nb, d, p->mean, buf);
		rc = xf_linalg_gemm(false, true, nb, p->k, d, 1.0, buf, d, p->components, d, 0.0, out + i0 * p->k, p->k,
				    err);
	}
	free(buf);
	return rc;
}

void xf_pca_release(struct xf_pca *p)
{
	if (!p)
		return;
	free(p->mean), free(p->components), free(p->variance);
	memset(p, 0, sizeof(*p));
}
