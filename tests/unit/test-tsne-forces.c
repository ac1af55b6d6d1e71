/*
 * Unit tests for lib/tsne_forces.c and lib/bhtree.c: exact repulsion by hand, the KL gradient
 * against finite differences, Barnes-Hut against exact, thread-count independence, duplicates,
 * tiny n, and the sparse KL against the dense one. Measured errors and timings are printed as
 * TAP comments.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "tap.h"
#include "bhtree.h"
#include "tsne_forces.h"

static double max_abs_diff(const double *a, const double *b, int64_t n)
{
	double m = 0;

	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i] - b[i]));
	return m;
}

/* |a - b| / |b| over the whole array (the force field's norm over all points). */
static double rel_err(const double *a, const double *b, int64_t n)
{
	double num = 0, den = 0;

	for (int64_t i = 0; i < n; i++) {
		num += (a[i] - b[i]) * (a[i] - b[i]);
		den += b[i] * b[i];
	}
	return sqrt(num / den);
}

/* Gaussian clusters of unequal spread with centres in [-span, span]^dim, like a t-SNE embedding. */
static double *clustered(int64_t n, int dim, int n_clusters, double span, uint64_t seed)
{
	struct xf_rng r;
	double *y = malloc((size_t)(n * dim) * sizeof(double)), centre[64][3], spread[64];

	xf_rng_init(&r, seed, 0);
	for (int k = 0; k < n_clusters; k++) {
		for (int d = 0; d < dim; d++)
			centre[k][d] = span * (2 * xf_rng_uniform(&r) - 1);
		spread[k] = 0.5 + 2.5 * xf_rng_uniform(&r);
	}
	for (int64_t i = 0; i < n; i++) {
		int k = (int)xf_rng_below(&r, (uint64_t)n_clusters);

		for (int d = 0; d < dim; d++)
			y[i * dim + d] = centre[k][d] + spread[k] * xf_rng_normal(&r);
	}
	return y;
}

/* Random symmetric P with a zero diagonal, about `zeros` of the off-diagonal pairs 0, summing to 1. */
static double *random_p(int64_t n, double zeros, uint64_t seed)
{
	struct xf_rng r;
	double *p = calloc((size_t)(n * n), sizeof(double)), sum = 0;

	xf_rng_init(&r, seed, 1);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = i + 1; j < n; j++) {
			double v = xf_rng_uniform(&r) < zeros ? 0 : xf_rng_uniform(&r);

			p[i * n + j] = p[j * n + i] = v;
			sum += 2 * v;
		}
	for (int64_t i = 0; i < n * n; i++)
		p[i] /= sum;
	return p;
}

/* The dense P as CSR: every off-diagonal entry, or only the nonzero ones. */
static struct xf_csr dense_to_csr(const double *p, int64_t n, int keep_zeros)
{
	struct xf_csr m = { n, malloc((size_t)(n + 1) * sizeof(int64_t)), malloc((size_t)(n * n) * sizeof(int32_t)),
			    malloc((size_t)(n * n) * sizeof(double)) };
	int64_t e = 0;

	for (int64_t i = 0; i < n; i++) {
		m.rowptr[i] = e;
		for (int64_t j = 0; j < n; j++)
			if (j != i && (keep_zeros || p[i * n + j] != 0)) {
				m.col[e] = (int32_t)j;
				m.val[e++] = p[i * n + j];
			}
	}
	m.rowptr[n] = e;
	return m;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * y0 = (0,0), y1 = (1,0), y2 = (0,2), dof = 1: squared distances d01 = 1, d02 = 4, d12 = 5, so
 * w01 = 1/2, w02 = 1/5, w12 = 1/6 and z = 2 (1/2 + 1/5 + 1/6) = 26/15. The force weights are w^2:
 *   frep0 = 1/4 (-1, 0) + 1/25 (0, -2)          = (-1/4, -2/25)
 *   frep1 = 1/4 (1, 0)  + 1/36 (1, -2)          = (1/4 + 1/36, -1/18)
 *   frep2 = 1/25 (0, 2) + 1/36 (-1, 2)          = (-1/36, 2/25 + 1/18)
 * dof = 1/2: w = (1 + 2 d)^-1/2 and the force weight (1 + 2 d)^-3/2, so with d = 1, 4, 5 the
 * bases are 3, 9, 11: z = 2 (1/sqrt 3 + 1/3 + 1/sqrt 11), frep0 = 3^-1.5 (-1, 0) + 9^-1.5 (0, -2).
 */
static void test_hand_three_points(void)
{
	const double y[6] = { 0, 0, 1, 0, 0, 2 };
	const double want[6] = { -0.25, -0.08, 0.25 + 1.0 / 36, -1.0 / 18, -1.0 / 36, 0.08 + 1.0 / 18 };
	double f[6], fbh[6], z, zbh;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_tsne_repulsion_exact(y, 3, 2, 1.0, 1, f, &z, &err) == 0, "exact repulsion, 3 points");
	is_near(z, 26.0 / 15, 1e-15, "3 points: z = 26/15");
	ok(max_abs_diff(f, want, 6) < 1e-15, "3 points: forces by hand");
	ok(xf_tsne_repulsion_bh(y, 3, 2, 1.0, 0.5, 1, fbh, &zbh, &err) == 0 && fabs(zbh - z) < 1e-15 &&
	   max_abs_diff(fbh, f, 6) < 1e-15, "3 points: Barnes-Hut agrees");

	ok(xf_tsne_repulsion_exact(y, 3, 2, 0.5, 1, f, &z, &err) == 0, "exact repulsion, dof 0.5");
	is_near(z, 2 * (1 / sqrt(3) + 1.0 / 3 + 1 / sqrt(11)), 1e-15, "3 points, dof 0.5: z by hand");
	ok(fabs(f[0] + pow(3, -1.5)) < 1e-15 && fabs(f[1] + 2 * pow(9, -1.5)) < 1e-15,
	   "3 points, dof 0.5: force on y0 by hand");
}

/*
 * The KL gradient 4 (fattr - frep / z) against central differences of xf_tsne_kl_exact with
 * h = 1e-5: truncation ~h^2 |KL'''| ~ 1e-10 and rounding ~1e-16 KL / h ~ 1e-11, so we assert
 * max |g - g_fd| <= 1e-7 max |g| (the gradient entries are ~1e-2 here).
 */
static void test_gradient(int dim, double dof)
{
	const int64_t n = 20;
	const double h = 1e-5;
	double *y = clustered(n, dim, 3, 2.0, 10 + dim), *p = random_p(n, 0, 20 + dim);
	double frep[60], fattr[60], g[60], z, worst = 0, gmax = 0;
	struct xf_csr csr = dense_to_csr(p, n, 0);
	struct xf_err err = XF_ERR_INIT;

	ok(xf_tsne_repulsion_exact(y, n, dim, dof, 1, frep, &z, &err) == 0 &&
	   xf_tsne_attraction(&csr, y, dim, dof, 1.0, 1, fattr, &err) == 0,
	   "gradient terms, dim %d dof %g", dim, dof);
	for (int64_t k = 0; k < n * dim; k++) {
		double keep = y[k], up, down;

		g[k] = 4 * (fattr[k] - frep[k] / z);
		y[k] = keep + h;
		up = xf_tsne_kl_exact(p, y, n, dim, dof);
		y[k] = keep - h;
		down = xf_tsne_kl_exact(p, y, n, dim, dof);
		y[k] = keep;
		worst = fmax(worst, fabs(g[k] - (up - down) / (2 * h)));
		gmax = fmax(gmax, fabs(g[k]));
	}
	printf("# dim %d dof %g: max |grad - finite difference| = %.3g, max |grad| = %.3g\n", dim, dof, worst, gmax);
	ok(worst <= 1e-7 * gmax, "KL gradient = 4 (fattr - frep/z) within 1e-7 max|g|, dim %d dof %g", dim, dof);
	xf_csr_release(&csr);
	free(y), free(p);
}

/*
 * Barnes-Hut against exact on 2000 clustered points. The bounds are the errors measured with
 * this data (printed) times about 3; theta = 0 opens every cell, so only the order of the sum
 * differs from exact.
 */
static void test_bh_accuracy(int dim, double dof, const double *bound_z, const double *bound_f)
{
	const int64_t n = 2000;
	const double thetas[3] = { 0.5, 0.2, 0 };
	double *y = clustered(n, dim, 10, 30, 100 + dim), *fex = malloc((size_t)(n * dim) * sizeof(double));
	double *fbh = malloc((size_t)(n * dim) * sizeof(double)), zex, zbh;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_tsne_repulsion_exact(y, n, dim, dof, 0, fex, &zex, &err) == 0, "exact, %d-D, dof %g", dim, dof);
	for (int t = 0; t < 3; t++) {
		double ez, ef;

		if (xf_tsne_repulsion_bh(y, n, dim, dof, thetas[t], 0, fbh, &zbh, &err) < 0) {
			ok(0, "Barnes-Hut, theta %g: %s", thetas[t], err.msg);
			continue;
		}
		ez = fabs(zbh - zex) / zex;
		ef = rel_err(fbh, fex, n * dim);
		printf("# %d-D dof %g theta %g: relative error of z %.3g, of the forces %.3g\n", dim, dof, thetas[t],
		       ez, ef);
		ok(ez <= bound_z[t] && ef <= bound_f[t], "Barnes-Hut %d-D dof %g theta %g: z within %g, forces within %g",
		   dim, dof, thetas[t], bound_z[t], bound_f[t]);
	}
	free(y), free(fex), free(fbh);
}

static void test_thread_independence(void)
{
	const int64_t n = 2000;
	double *y = clustered(n, 2, 10, 30, 7), *p = random_p(200, 0.7, 8);
	double *f[3], *fe[3], fa[3][400], z[3], ze[3];
	struct xf_csr csr = dense_to_csr(p, 200, 0);
	struct xf_err err = XF_ERR_INIT;
	int same = 1;

	for (int t = 0; t < 3; t++) {
		f[t] = malloc((size_t)(2 * n) * sizeof(double));
		fe[t] = malloc((size_t)(2 * n) * sizeof(double));
		xf_tsne_repulsion_bh(y, n, 2, 1.0, 0.5, t + 1, f[t], &z[t], &err);
		xf_tsne_repulsion_exact(y, n, 2, 0.7, t + 1, fe[t], &ze[t], &err);
		xf_tsne_attraction(&csr, y, 2, 1.0, 12.0, t + 1, fa[t], &err);
	}
	for (int t = 1; t < 3; t++)
		same &= z[t] == z[0] && !memcmp(f[t], f[0], (size_t)(2 * n) * sizeof(double));
	ok(same, "Barnes-Hut: 1, 2 and 3 threads give identical bits");
	same = 1;
	for (int t = 1; t < 3; t++)
		same &= ze[t] == ze[0] && !memcmp(fe[t], fe[0], (size_t)(2 * n) * sizeof(double));
	ok(same, "exact: 1, 2 and 3 threads give identical bits");
	ok(!memcmp(fa[1], fa[0], sizeof(fa[0])) && !memcmp(fa[2], fa[0], sizeof(fa[0])),
	   "attraction: 1, 2 and 3 threads give identical bits");
	for (int t = 0; t < 3; t++)
		free(f[t]), free(fe[t]);
	xf_csr_release(&csr);
	free(y), free(p);
}

/*
 * Barnes-Hut (theta 0 and 0.5) against exact for y: twins must count in z on both paths. At
 * theta 0, z and the forces (relative to max(1, largest force)) must agree within tol0.
 */
static void check_against_exact(const double *y, int64_t n, int dim, double tol0, double tol_bh,
				const char *what)
{
	double *fex = malloc((size_t)(n * dim) * sizeof(double)), *fbh = malloc((size_t)(n * dim) * sizeof(double));
	double zex, z0, zh, fscale = 0, df;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_tsne_repulsion_exact(y, n, dim, 1.0, 0, fex, &zex, &err);

	for (int64_t i = 0; i < n * dim; i++)
		fscale = fmax(fscale, fabs(fex[i]));
	rc |= xf_tsne_repulsion_bh(y, n, dim, 1.0, 0, 0, fbh, &z0, &err);
	df = max_abs_diff(fbh, fex, n * dim) / fmax(fscale, 1);
	printf("# %s: theta 0: z off by %.3g, forces by %.3g (relative)\n", what, fabs(z0 - zex) / zex, df);
	ok(rc == 0 && fabs(z0 - zex) <= tol0 * zex && df <= tol0, "%s: theta 0 = exact within %g", what, tol0);
	rc = xf_tsne_repulsion_bh(y, n, dim, 1.0, 0.5, 0, fbh, &zh, &err);
	printf("# %s: theta 0.5: z off by %.3g\n", what, fabs(zh - zex) / zex);
	ok(rc == 0 && fabs(zh - zex) <= tol_bh * zex, "%s: theta 0.5 z within %g", what, tol_bh);
	free(fex), free(fbh);
}

static void test_duplicates(void)
{
	const int64_t n = 1500;
	double *y = clustered(n, 2, 3, 5, 9), f[2000], z;
	struct xf_err err = XF_ERR_INIT;
	int zero = 1;

	for (int64_t i = 0; i < 1000; i++) {     /* 600 twins at (1, 1), 400 at (-2, 3) */
		y[2 * i] = i < 600 ? 1 : -2;
		y[2 * i + 1] = i < 600 ? 1 : 3;
	}
	check_against_exact(y, n, 2, 1e-12, 3e-3, "1000 duplicates among 1500");

	for (int64_t i = 0; i < 1000; i++)
		y[2 * i] = y[2 * i + 1] = 0.25;
	ok(xf_tsne_repulsion_bh(y, 1000, 2, 1.0, 0.5, 0, f, &z, &err) == 0 && z == 1000.0 * 999,
	   "1000 identical points: z = n (n - 1)");
	for (int i = 0; i < 2000; i++)
		zero &= f[i] == 0;
	ok(zero, "1000 identical points: no force");
	ok(xf_tsne_repulsion_exact(y, 1000, 2, 1.0, 0, f, &z, &err) == 0 && z == 1000.0 * 999,
	   "1000 identical points, exact: z = n (n - 1)");

	/*
	 * Twins one ulp apart; then points at 1e10 that differ only in their last bits (ulp 2e-6),
	 * which the tree can separate only to within a few ulps: those share leaves, so the forces
	 * (about 1e-3 here) are off by up to ~1e-4 there. Nothing of the kind at t-SNE's scales.
	 */
	for (int64_t i = 0; i < 200; i++) {
		y[2 * i] = i % 2 ? nextafter(1.0, 2.0) : 1.0;
		y[2 * i + 1] = i % 3 ? 0.5 : nextafter(0.5, 0.0);
		y[400 + 2 * i] = 1e10 + (double)(i % 7) * 2e-6;
		y[400 + 2 * i + 1] = (i % 5) * 1e-300;
	}
	check_against_exact(y, 200, 2, 1e-12, 1e-12, "points one ulp apart");
	check_against_exact(y + 400, 200, 2, 1e-4, 1e-4, "points apart by rounding resolution");
	free(y);
}

static void test_tiny_n(void)
{
	const double y2[4] = { 0, 0, 3, 4 };
	double f[4] = { 9, 9, 9, 9 }, z = 9;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_tsne_repulsion_exact(y2, 1, 2, 1.0, 0, f, &z, &err) == 0 && z == 0 && f[0] == 0 && f[1] == 0,
	   "n = 1, exact: z = 0, no force");
	z = 9, f[0] = 9;
	ok(xf_tsne_repulsion_bh(y2, 1, 2, 1.0, 0.5, 0, f, &z, &err) == 0 && z == 0 && f[0] == 0 && f[1] == 0,
	   "n = 1, Barnes-Hut: z = 0, no force");
	ok(xf_tsne_repulsion_bh(y2, 0, 2, 1.0, 0.5, 0, f, &z, &err) == 0 && z == 0, "n = 0: z = 0");
	/* distance 5: w = 1/26, force (1/26)^2 (-3, -4) on y0 */
	ok(xf_tsne_repulsion_bh(y2, 2, 2, 1.0, 0.5, 0, f, &z, &err) == 0 && fabs(z - 2.0 / 26) < 1e-16 &&
	   fabs(f[0] + 3.0 / 676) < 1e-16 && fabs(f[1] + 4.0 / 676) < 1e-16 && f[2] == -f[0] && f[3] == -f[1],
	   "n = 2, Barnes-Hut by hand");
	ok(xf_tsne_repulsion_exact(y2, 2, 2, 1.0, 0, f, &z, &err) == 0 && fabs(z - 2.0 / 26) < 1e-16 &&
	   fabs(f[0] + 3.0 / 676) < 1e-16, "n = 2, exact by hand");
}

static void test_one_d(void)
{
	double *y = clustered(500, 1, 5, 20, 3);
	const double bz[3] = { 2e-2, 3e-3, 1e-12 }, bf[3] = { 5e-2, 8e-3, 1e-12 };

	check_against_exact(y, 500, 1, 1e-12, 2e-2, "1-D");
	free(y);
	test_bh_accuracy(1, 1.0, bz, bf);
}

static void test_kl(void)
{
	const int64_t n = 30;
	double *y = clustered(n, 2, 3, 3, 4), *p = random_p(n, 0.3, 5), f[60], z;
	struct xf_csr all = dense_to_csr(p, n, 1), nz = dense_to_csr(p, n, 0);
	struct xf_err err = XF_ERR_INIT;

	for (int k = 0; k < 2; k++) {
		double dof = k ? 0.6 : 1, dense = xf_tsne_kl_exact(p, y, n, 2, dof);

		xf_tsne_repulsion_exact(y, n, 2, dof, 0, f, &z, &err);
		printf("# KL dof %g: dense %.17g, sparse %.17g\n", dof, dense, xf_tsne_kl(&nz, y, 2, dof, 1, z));
		ok(fabs(xf_tsne_kl(&all, y, 2, dof, 1, z) - dense) <= 1e-12 * dense,
		   "KL dense-in-CSR = dense, dof %g", dof);
		ok(fabs(xf_tsne_kl(&nz, y, 2, dof, 1, z) - dense) <= 1e-12 * dense,
		   "KL over the nonzeros = dense, dof %g", dof);
		ok(fabs(xf_tsne_kl(&nz, y, 2, dof, 12, z) - dense) <= 1e-12 * dense,
		   "KL reported under exaggeration 12 = unexaggerated, dof %g", dof);
		ok(fabs(xf_tsne_kl_threads(&nz, xf_tsne_plogp(&nz), y, 2, dof, 12, z, 2) - dense) <= 1e-12 * dense,
		   "KL in two parts, on 2 threads = dense, dof %g", dof);
	}
	ok(isnan(xf_tsne_kl(&nz, y, 2, 1, 1, 0)), "KL with z = 0 is NaN");
	xf_csr_release(&all), xf_csr_release(&nz);
	free(y), free(p);
}

/* KL in two parts: thread counts give the same bits, over more rows than one block. */
static void test_kl_threads(void)
{
	const int64_t n = 3000;
	double *y = clustered(n, 2, 5, 20, 6), f[6000], z, kl[3];
	struct xf_csr p = { .n = n, .rowptr = malloc((size_t)(n + 1) * sizeof(int64_t)),
			    .col = malloc((size_t)(8 * n) * sizeof(int32_t)),
			    .val = malloc((size_t)(8 * n) * sizeof(double)) };
	struct xf_rng r;
	struct xf_err err = XF_ERR_INIT;

	xf_rng_init(&r, 31, 0);
	for (int64_t i = 0; i <= n; i++)
		p.rowptr[i] = 8 * i;
	for (int64_t e = 0; e < 8 * n; e++) {
		p.col[e] = (int32_t)((e / 8 + 1 + e % 8 * 37) % n);
		p.val[e] = xf_rng_uniform(&r) / (8.0 * n);
	}
	xf_tsne_repulsion_exact(y, n, 2, 1.0, 0, f, &z, &err);
	for (int t = 0; t < 3; t++)
		kl[t] = xf_tsne_kl_threads(&p, xf_tsne_plogp(&p), y, 2, 1.0, 1, z, t + 1);
	ok(kl[1] == kl[0] && kl[2] == kl[0], "KL in two parts: 1, 2 and 3 threads give identical bits");
	{
		double *fa = malloc((size_t)(2 * n) * sizeof(double)), *ff[2];
		float *v = malloc((size_t)(8 * n) * sizeof(float));

		for (int64_t e = 0; e < 8 * n; e++)
			v[e] = (float)p.val[e];
		xf_tsne_attraction(&p, y, 2, 1.0, 1, 1, fa, &err);
		for (int t = 0; t < 2; t++) {
			ff[t] = malloc((size_t)(2 * n) * sizeof(double));
			xf_tsne_attraction_f32(&p, v, y, 2, 1.0, 1, t + 1, ff[t], &err);
		}
		printf("# attraction with float P: relative difference %.2e\n", rel_err(ff[0], fa, 2 * n));
		ok(rel_err(ff[0], fa, 2 * n) < 1e-6 && !memcmp(ff[0], ff[1], (size_t)(2 * n) * sizeof(double)),
		   "attraction with float P: within 1e-6 of double, 1 and 2 threads identical");
		free(fa), free(ff[0]), free(ff[1]), free(v);
	}
	printf("# KL in two parts %.17g, in one %.17g\n", kl[0], xf_tsne_kl(&p, y, 2, 1.0, 1, z));
	ok(fabs(kl[0] - xf_tsne_kl(&p, y, 2, 1.0, 1, z)) <= 1e-12 * fabs(kl[0]), "KL in two parts = KL in one");
	xf_csr_release(&p);
	free(y);
}

/* Whether two trees have the same nodes (field by field: the structs have padding) and leaves. */
static bool same_tree(const struct xf_bhtree *a, const struct xf_bhtree *b)
{
	if (a->n_nodes != b->n_nodes || a->n != b->n ||
	    memcmp(a->leaf_of, b->leaf_of, (size_t)a->n * sizeof(*a->leaf_of)) ||
	    memcmp(a->order, b->order, (size_t)a->n * sizeof(*a->order)))
		return false;
	for (int64_t k = 0; k < a->n_nodes; k++) {
		const struct xf_bhnode *x = &a->nodes[k], *y = &b->nodes[k];

		if (memcmp(x->com, y->com, sizeof(x->com)) || x->width2 != y->width2 || x->count != y->count ||
		    x->skip != y->skip || x->first != y->first)
			return false;
	}
	return true;
}

/* The threaded tree build gives the serial tree, node for node, for any thread count. */
static void test_tree_threads(void)
{
	const int64_t n = 30000;
	double *y = clustered(n, 2, 12, 40, 12);
	struct xf_bhtree serial = XF_BHTREE_INIT, threaded = XF_BHTREE_INIT;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_bhtree_build(&serial, y, n, 2, &err), same = rc == 0;

	for (int t = 2; t <= 3; t++) {
		rc = xf_bhtree_build_threads(&threaded, y, n, 2, t, &err);
		same &= rc == 0 && same_tree(&threaded, &serial);
		xf_bhtree_release(&threaded);
	}
	ok(same, "tree built by 2 and 3 threads = the serial tree (%lld nodes)", (long long)serial.n_nodes);
	for (int64_t i = 0; i < n; i++)   /* duplicates in one subtree, a big leaf in another */
		if (i % 3 == 0)
			y[2 * i] = y[2 * i + 1] = i < n / 2 ? 1.0 : -7.5;
	xf_bhtree_release(&serial);
	rc = xf_bhtree_build(&serial, y, n, 2, &err);
	same = rc == 0;
	rc = xf_bhtree_build_threads(&threaded, y, n, 2, 2, &err);
	same &= rc == 0 && same_tree(&threaded, &serial);
	ok(same, "with big duplicate leaves too");
	xf_bhtree_release(&serial), xf_bhtree_release(&threaded);
	free(y);
}

static void test_errors(void)
{
	const double y[4] = { 0, 0, 1, NAN };
	double f[4], z;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_tsne_repulsion_exact(y, 1, 4, 1.0, 0, f, &z, &err) < 0 && err.code == XF_E_USAGE, "dim 4 refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_tsne_repulsion_bh(y, 1, 2, 0, 0.5, 0, f, &z, &err) < 0 && err.code == XF_E_USAGE, "dof 0 refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_tsne_repulsion_bh(y, 1, 2, 1, -0.1, 0, f, &z, &err) < 0 && err.code == XF_E_USAGE,
	   "theta < 0 refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_tsne_repulsion_bh(y, 2, 2, 1, 0.5, 0, f, &z, &err) < 0 && err.code == XF_E_FORMAT,
	   "NaN coordinate refused: %s", err.msg);
}

/* Not asserted beyond a loose sanity bound: machines differ. */
static void test_timing(void)
{
	const int64_t n = 70000;
	double *y = clustered(n, 2, 30, 40, 70), *f1 = malloc((size_t)(2 * n) * sizeof(double));
	double *f2 = malloc((size_t)(2 * n) * sizeof(double)), z1, z2, t[3];
	struct xf_err err = XF_ERR_INIT;
	int rc;

	t[0] = now();
	rc = xf_tsne_repulsion_bh(y, n, 2, 1.0, 0.5, 1, f1, &z1, &err);
	t[1] = now();
	rc |= xf_tsne_repulsion_bh(y, n, 2, 1.0, 0.5, 2, f2, &z2, &err);
	t[2] = now();
	printf("# Barnes-Hut, n = 70000, 2-D, theta 0.5: %.3f s on 1 thread, %.3f s on 2 threads\n", t[1] - t[0],
	       t[2] - t[1]);
	ok(rc == 0 && z1 == z2 && !memcmp(f1, f2, (size_t)(2 * n) * sizeof(double)) && t[1] - t[0] < 20,
	   "Barnes-Hut at n = 70000");
	free(y), free(f1), free(f2);
}

int main(void)
{
	/* bounds on the relative errors of z and the forces at theta 0.5, 0.2, 0 */
	const double bz2[3] = { 1.5e-2, 2e-3, 1e-12 }, bf2[3] = { 2.5e-2, 3e-3, 1e-12 };
	const double bz3[3] = { 3e-3, 3e-4, 1e-12 }, bf3[3] = { 2e-2, 1e-3, 1e-12 };

	test_hand_three_points();
	test_gradient(2, 1.0);
	test_gradient(2, 0.5);
	test_gradient(3, 1.0);
	test_gradient(3, 0.5);
	test_bh_accuracy(2, 1.0, bz2, bf2);
	test_bh_accuracy(3, 1.0, bz3, bf3);
	test_bh_accuracy(2, 0.5, bz2, bf2);
	test_thread_independence();
	test_duplicates();
	test_tiny_n();
	test_one_d();
	test_kl();
	test_kl_threads();
	test_tree_threads();
	test_errors();
	test_timing();
	return done_testing();
}
