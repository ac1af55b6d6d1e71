/*
 * linalg: the few dense linear-algebra operations the algorithms need, in double precision,
 * row-major, over OpenBLAS and LAPACKE; plus naive reference kernels that the tests compare
 * the BLAS paths with. Sizes are int64_t here and converted to the BLAS integer type in one
 * place, with an overflow check.
 */
#ifndef XF_LINALG_H
#define XF_LINALG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Threads OpenBLAS may use (0 or less: leave its default). */
void xf_linalg_set_threads(int threads);

/*
 * C = alpha op(A) op(B) + beta C, op = transpose when the flag is set; A is m x k after op,
 * B is k x n after op, C is m x n; lda/ldb/ldc are row strides in elements.
 */
int xf_linalg_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
		   const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
		   int64_t ldc, struct xf_err *err);

/* G = alpha A^T A + beta G for A n x d (row stride lda); G is d x d, both triangles filled. */
int xf_linalg_gram(int64_t n, int64_t d, double alpha, const double *a, int64_t lda, double beta, double *g,
		   struct xf_err *err);

/*
 * Symmetric eigendecomposition of the d x d matrix a: eigenvalues ascending in w, and a
 * overwritten by the eigenvectors as COLUMNS (a[i * d + j] is component i of vector j).
 */
int xf_linalg_eigh(double *a, int64_t d, double *w, struct xf_err *err);

/*
 * Eigenvalues of the symmetric d x d matrix a (destroyed) ascending in w, and the projection
 * out = V^T b of the d x c matrix b onto its eigenvectors, without forming V: tridiagonal
 * reduction, the tridiagonal problem's vectors, and the reflectors applied to b alone. Costs
 * about half of xf_linalg_eigh when c is much smaller than d.
 */
int xf_linalg_eigh_project(double *a, int64_t d, double *w, const double *b, int64_t c, double *out,
			   struct xf_err *err);

/*
 * Generalised symmetric-definite problem A v = w B v (B positive definite): w ascending,
 * a overwritten by eigenvectors as columns, normalised so that V^T B V = I; b is destroyed.
 */
int xf_linalg_eigh_general(double *a, double *b, int64_t d, double *w, struct xf_err *err);

/*
 * Thin SVD of the m x n matrix a (destroyed): k = min(m, n) singular values s descending,
 * u (m x k) and vt (k x n), row-major.
 */
int xf_linalg_svd(double *a, int64_t m, int64_t n, double *s, double *u, double *vt, struct xf_err *err);

/* Cholesky A = L L^T in place (lower triangle); XF_E_FORMAT if A is not positive definite. */
int xf_linalg_cholesky(double *a, int64_t d, struct xf_err *err);
/*
 * Cholesky as above, plus LAPACK's estimate of the reciprocal condition number (1-norm) in
 * *rcond; a matrix that is not positive definite gives *rcond = 0 and returns 0 (no error).
 */
int xf_linalg_cholesky_rcond(double *a, int64_t d, double *rcond, struct xf_err *err);
/* Solve A X = B for the n_rhs columns of B (d x n_rhs, row-major) given the Cholesky factor L. */
int xf_linalg_cholesky_solve(const double *l, int64_t d, double *b, int64_t n_rhs, struct xf_err *err);

/* Reference kernels (plain loops) for the tests. */
void xf_linalg_ref_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
			const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
			int64_t ldc);

#endif
