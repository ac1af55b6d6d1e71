/* Unit tests for lib/linalg.c: the BLAS/LAPACK paths against naive kernels and residuals. */
#include <stdlib.h>

#include "linalg.h"
#include "tap.h"

static double rnd(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static double *random_matrix(int64_t n, uint64_t *s)
{
	double *m = malloc(n * sizeof(double));

	for (int64_t i = 0; i < n; i++)
		m[i] = rnd(s);
	return m;
}

static double max_diff(const double *a, const double *b, int64_t n)
{
	double m = 0;

	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i] - b[i]));
	return m;
}

static void test_gemm(void)
{
	const int64_t m = 4, n = 3, k = 5;
	uint64_t s = 7;
	double *a = random_matrix(m * k, &s), *b = random_matrix(k * n, &s), *c0 = random_matrix(m * n, &s);
	double c1[12], c2[12];
	struct xf_err err = XF_ERR_INIT;

	for (int t = 0; t < 4; t++) {
		bool ta = t & 1, tb = t & 2;

		for (int i = 0; i < m * n; i++)
			c1[i] = c2[i] = c0[i];
		/* A is stored m x k, or k x m when transposed; B k x n, or n x k */
		xf_linalg_gemm(ta, tb, m, n, k, 0.5, a, ta ? m : k, b, tb ? k : n, 2.0, c1, n, &err);
		xf_linalg_ref_gemm(ta, tb, m, n, k, 0.5, a, ta ? m : k, b, tb ? k : n, 2.0, c2, n);
		ok(max_diff(c1, c2, m * n) < 1e-13, "gemm trans_a=%d trans_b=%d", ta, tb);
	}
	free(a), free(b), free(c0);
}

static void test_gram_and_eigh(void)
{
	uint64_t s = 11;
	int64_t n = 40, d = 6;
	double *a = random_matrix(n * d, &s), g[36], ref[36], v[36], w[6], av[36];
	struct xf_err err = XF_ERR_INIT;
	double worst = 0;

	ok(xf_linalg_gram(n, d, 1.0, a, d, 0.0, g, &err) == 0, "gram");
	xf_linalg_ref_gemm(true, false, d, d, n, 1.0, a, d, a, d, 0.0, ref, d);
	ok(max_diff(g, ref, 36) < 1e-12, "gram equals A^T A, both triangles");
	for (int i = 0; i < 36; i++)
		v[i] = g[i];
	ok(xf_linalg_eigh(v, d, w, &err) == 0, "eigh");
	ok(w[0] <= w[1] && w[4] <= w[5], "eigenvalues ascending");
	xf_linalg_ref_gemm(false, false, d, d, d, 1.0, g, d, v, d, 0.0, av, d);
	for (int i = 0; i < d; i++)
		for (int j = 0; j < d; j++)
			worst = fmax(worst, fabs(av[i * d + j] - w[j] * v[i * d + j]));
	ok(worst < 1e-12, "G V = V diag(w) (eigenvectors in columns): %.3g", worst);
	free(a);
}

/* The projection equals V^T b from the full eigendecomposition, up to each vector's sign. */
static void test_eigh_project(void)
{
	uint64_t st = 13;
	int64_t n = 50, d = 9, c = 3;
	double *a = random_matrix(n * d, &st), *b = random_matrix(d * c, &st), g[81], v[81], w[9], w2[9], full[27], proj[27];
	struct xf_err err = XF_ERR_INIT;
	double worst = 0;

	xf_linalg_gram(n, d, 1.0, a, d, 0.0, g, &err);
	for (int i = 0; i < 81; i++)
		v[i] = g[i];
	xf_linalg_eigh(v, d, w, &err);
	xf_linalg_gemm(true, false, d, c, d, 1.0, v, d, b, c, 0.0, full, c, &err);
	ok(xf_linalg_eigh_project(g, d, w2, b, c, proj, &err) == 0, "eigh_project");
	ok(max_diff(w, w2, d) < 1e-12, "same eigenvalues");
	for (int i = 0; i < d * c; i++)
		worst = fmax(worst, fabs(fabs(full[i]) - fabs(proj[i])));
	ok(worst < 1e-11, "same projections up to sign: %.3g", worst);
	free(a), free(b);
}

static void test_cholesky_and_general(void)
{
	/* A = [[4,2],[2,3]]: L = [[2,0],[1,sqrt(2)]]; A x = [2,5] has x = [-0.5, 2] */
	double a[4] = { 4, 2, 2, 3 }, b[2] = { 2, 5 };
	double ga[4] = { 2, 1, 1, 2 }, gb[4] = { 4, 0, 0, 1 }, w[2], bt[4] = { 4, 0, 0, 1 }, t[4], vtbv[4];
	double bad[4] = { 1, 2, 2, 1 };
	struct xf_err err = XF_ERR_INIT;

	ok(xf_linalg_cholesky(a, 2, &err) == 0 && a[0] == 2 && a[2] == 1 && fabs(a[3] - sqrt(2)) < 1e-15,
	   "Cholesky of [[4,2],[2,3]]");
	ok(xf_linalg_cholesky_solve(a, 2, b, 1, &err) == 0 && fabs(b[0] + 0.5) < 1e-15 && fabs(b[1] - 2) < 1e-15,
	   "solve gives [-0.5, 2]");
	ok(xf_linalg_cholesky(bad, 2, &err) < 0 && err.code == XF_E_FORMAT, "an indefinite matrix is refused");
	ok(xf_linalg_eigh_general(ga, gb, 2, w, &err) == 0, "generalised eigenproblem");
	/* det(A - w B) = (2-4w)(2-w) - 1 = 4w^2 - 10w + 3: w = (10 -+ sqrt(52)) / 8 */
	is_near(w[0], (10 - sqrt(52)) / 8, 1e-14, "smallest generalised eigenvalue");
	is_near(w[1], (10 + sqrt(52)) / 8, 1e-14, "largest generalised eigenvalue");
	xf_linalg_ref_gemm(false, false, 2, 2, 2, 1.0, bt, 2, ga, 2, 0.0, t, 2);
	xf_linalg_ref_gemm(true, false, 2, 2, 2, 1.0, ga, 2, t, 2, 0.0, vtbv, 2);
	ok(fabs(vtbv[0] - 1) < 1e-14 && fabs(vtbv[1]) < 1e-14 && fabs(vtbv[3] - 1) < 1e-14, "V^T B V = I");
}

static void test_svd(void)
{
	uint64_t st = 5;
	int64_t m = 4, n = 7, k = 4;
	double *a = random_matrix(m * n, &st), copy[28], s[4], u[16], vt[28], us[16], back[28];
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < m * n; i++)
		copy[i] = a[i];
	ok(xf_linalg_svd(copy, m, n, s, u, vt, &err) == 0, "thin SVD of a 4 x 7 matrix");
	ok(s[0] >= s[1] && s[2] >= s[3] && s[3] > 0, "singular values descending");
	for (int i = 0; i < m; i++)
		for (int j = 0; j < k; j++)
			us[i * k + j] = u[i * k + j] * s[j];
	xf_linalg_ref_gemm(false, false, m, n, k, 1.0, us, k, vt, n, 0.0, back, n);
	ok(max_diff(back, a, m * n) < 1e-13, "U diag(s) V^T gives the matrix back");
	free(a);
}

int main(void)
{
	xf_linalg_set_threads(1);
	test_gemm();
	test_gram_and_eigh();
	test_cholesky_and_general();
	test_svd();
	test_eigh_project();
	return done_testing();
}
