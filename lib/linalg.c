/* linalg: OpenBLAS/LAPACKE wrappers and reference kernels; see linalg.h. */
#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"

/* Every size passed to BLAS or LAPACK goes through here. */
static int fits(struct xf_err *err, int n, ...)
{
	va_list ap;
	int ok = 1;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int64_t v = va_arg(ap, int64_t);

		ok &= v >= 0 && v <= INT_MAX;
	}
	va_end(ap);
	return ok ? 0 : xf_err_set(err, XF_E_LIMIT, "matrix too large for the BLAS integer type");
}

void xf_linalg_set_threads(int threads)
{
	if (threads > 0)
		openblas_set_num_threads(threads);
}

int xf_linalg_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
		   const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
		   int64_t ldc, struct xf_err *err)
{
	if (fits(err, 6, m, n, k, lda, ldb, ldc) < 0)
		return -1;
	if (m == 0 || n == 0)
		return 0;
	cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
		    (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
	return 0;
}

int xf_linalg_gram(int64_t n, int64_t d, double alpha, const double *a, int64_t lda, double beta, double *g,
		   struct xf_err *err)
{
	if (fits(err, 3, n, d, lda) < 0)
		return -1;
	if (d == 0)
		return 0;
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)n, alpha, a, (int)lda, beta, g, (int)d);
	for (int64_t i = 0; i < d; i++)
		for (int64_t j = 0; j < i; j++)
			g[i * d + j] = g[j * d + i];
	return 0;
}

static int lapack_status(int info, const char *what, struct xf_err *err)
{
	if (info == 0)
		return 0;
	if (info < 0)
		return xf_err_set(err, XF_E_USAGE, "%s: argument %d is invalid", what, -info);
	return xf_err_set(err, XF_E_FORMAT, "%s did not converge or the matrix is not positive definite (%d)",
			  what, info);
}

int xf_linalg_eigh(double *a, int64_t d, double *w, struct xf_err *err)
{
	if (fits(err, 1, d) < 0)
		return -1;
	if (d == 0)
		return 0;
	return lapack_status(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (int)d, a, (int)d, w), "eigendecomposition",
			     err);
}

int xf_linalg_eigh_project(double *a, int64_t d, double *w, const double *b, int64_t c, double *out,
			   struct xf_err *err)
{
	double *e = NULL, *tau = NULL, *z = NULL, *qb = NULL;
	int rc;

	if (fits(err, 2, d, c) < 0)
		return -1;
	if (d == 0)
		return 0;
	e = malloc(d * sizeof(double)), tau = malloc(d * sizeof(double));
	z = malloc(d * d * sizeof(double)), qb = malloc((d * c + 1) * sizeof(double));
	if (!e || !tau || !z || !qb) {
		rc = xf_err_nomem(err, d * d * sizeof(double));
		goto done;
	}
	memcpy(qb, b, d * c * sizeof(double));
	rc = lapack_status(LAPACKE_dsytrd(LAPACK_ROW_MAJOR, 'U', (int)d, a, (int)d, w, e, tau), "tridiagonal reduction",
			   err);
	if (rc == 0 && c > 0) /* qb = Q^T b */
		rc = lapack_status(LAPACKE_dormtr(LAPACK_ROW_MAJOR, 'L', 'U', 'T', (int)d, (int)c, a, (int)d, tau, qb,
						  (int)c), "applying reflectors", err);
	if (rc == 0)
		rc = lapack_status(LAPACKE_dstedc(LAPACK_ROW_MAJOR, 'I', (int)d, w, e, z, (int)d), "tridiagonal eigenproblem",
				   err);
	if (rc == 0) /* V = Q Z, so V^T b = Z^T (Q^T b) */
		rc = xf_linalg_gemm(true, false, d, c, d, 1.0, z, d, qb, c, 0.0, out, c, err);
done:
	free(e), free(tau), free(z), free(qb);
	return rc;
}

int xf_linalg_eigh_general(double *a, double *b, int64_t d, double *w, struct xf_err *err)
{
	if (fits(err, 1, d) < 0)
		return -1;
	if (d == 0)
		return 0;
	return lapack_status(LAPACKE_dsygvd(LAPACK_ROW_MAJOR, 1, 'V', 'U', (int)d, a, (int)d, b, (int)d, w),
			     "generalised eigendecomposition", err);
}

int xf_linalg_svd(double *a, int64_t m, int64_t n, double *s, double *u, double *vt, struct xf_err *err)
{
	int64_t k = m < n ? m : n;

	if (fits(err, 3, m, n, k) < 0)
		return -1;
	if (k == 0)
		return 0;
	return lapack_status(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (int)m, (int)n, a, (int)n, s, u, (int)k, vt, (int)n),
			     "singular value decomposition", err);
}

int xf_linalg_cholesky(double *a, int64_t d, struct xf_err *err)
{
	if (fits(err, 1, d) < 0)
		return -1;
	if (d == 0)
		return 0;
	return lapack_status(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (int)d, a, (int)d), "Cholesky factorisation", err);
}

int xf_linalg_cholesky_rcond(double *a, int64_t d, double *rcond, struct xf_err *err)
{
	double anorm = 0;
	int info;

	*rcond = 0;
	if (fits(err, 1, d) < 0)
		return -1;
	for (int64_t j = 0; j < d; j++) {
		double col = 0;

		for (int64_t i = 0; i < d; i++)
			col += fabs(a[i * d + j]);
		anorm = fmax(anorm, col);
	}
	if (d == 0 || LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (int)d, a, (int)d) != 0)
		return 0;
	info = LAPACKE_dpocon(LAPACK_ROW_MAJOR, 'L', (int)d, a, (int)d, anorm, rcond);
	if (info != 0)
		*rcond = 0;
	return 0;
}

int xf_linalg_cholesky_solve(const double *l, int64_t d, double *b, int64_t n_rhs, struct xf_err *err)
{
	if (fits(err, 2, d, n_rhs) < 0)
		return -1;
	if (d == 0 || n_rhs == 0)
		return 0;
	return lapack_status(LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', (int)d, (int)n_rhs, l, (int)d, b, (int)n_rhs),
			     "Cholesky solve", err);
}

void xf_linalg_ref_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
			const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
			int64_t ldc)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			for (int64_t p = 0; p < k; p++)
				s += (trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
			c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
		}
}
