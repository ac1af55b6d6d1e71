/*
 * test-kmeans: lib/kmeans.c on hand-checked cases, against a naive Lloyd written here (same
 * initial centres: same labels, iterations and centres), against scikit-learn fixtures in
 * tests/data/kmeans (made by tests/ref/ref_kmeans.py; XF_TEST_DATA overrides tests/data),
 * determinism across seeds and thread counts, empty clusters, spherical and mini-batch
 * modes, and bad input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "npy.h"
#include "rng.h"
#include "tap.h"

struct run {
	float *c;
	int64_t *a;
	struct xf_kmeans_result r;
	int rc;
	struct xf_err err;
};

/* xf_kmeans into fresh buffers; c starts as a copy of init (k x d) when given. */
static struct run kmeans(const float *x, int64_t n, int64_t d, const struct xf_kmeans_opts *o, const float *init)
{
	struct run r = { calloc((size_t)(o->k > 0 ? o->k * d : 1), sizeof(float)), calloc((size_t)n, sizeof(int64_t)),
			 { 0, 0, 0 }, 0, XF_ERR_INIT };

	if (init)
		memcpy(r.c, init, (size_t)(o->k * d) * sizeof(float));
	r.rc = xf_kmeans(x, n, d, o, r.c, r.a, &r.r, &r.err);
	if (r.rc < 0)
		printf("# xf_kmeans: %s\n", r.err.msg);
	return r;
}

static void run_free(struct run *r)
{
	free(r->c);
	free(r->a);
}

static bool same_run(const struct run *p, const struct run *q, int64_t n, int64_t k, int64_t d)
{
	return p->rc == 0 && q->rc == 0 && !memcmp(p->c, q->c, (size_t)(k * d) * sizeof(float)) &&
	       !memcmp(p->a, q->a, (size_t)n * sizeof(int64_t)) && p->r.inertia == q->r.inertia &&
	       p->r.iterations == q->r.iterations && p->r.empty_reseeded == q->r.empty_reseeded;
}

/* Seeded Gaussian blobs: `groups` centres N(0, spread^2), unit noise, rows in random order of groups. */
static float *blobs(int64_t n, int64_t d, int groups, double spread, uint64_t seed)
{
	float *x = malloc((size_t)(n * d) * sizeof(float));
	double *c = malloc((size_t)(groups * d) * sizeof(double));
	struct xf_rng r;

	xf_rng_init(&r, seed, 0);
	for (int64_t t = 0; t < groups * d; t++)
		c[t] = spread * xf_rng_normal(&r);
	for (int64_t i = 0; i < n; i++) {
		int64_t g = (int64_t)xf_rng_below(&r, (uint64_t)groups);

		for (int64_t t = 0; t < d; t++)
			x[i * d + t] = (float)(c[g * d + t] + xf_rng_normal(&r));
	}
	free(c);
	return x;
}

static void test_two_groups(void)
{
	const float x[] = { 0, 0, 0, 1, 1, 0, 10, 10, 10, 11, 11, 10 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;
	int64_t lo, hi;

	o.k = 2;
	o.seed = 3;
	r = kmeans(x, 6, 2, &o, NULL);
	lo = r.a[0];
	hi = r.a[3];
	ok(r.rc == 0 && lo != hi && r.a[1] == lo && r.a[2] == lo && r.a[4] == hi && r.a[5] == hi,
	   "two groups: rows 0-2 and 3-5 together");
	is_near(r.c[lo * 2], 1.0 / 3, 1e-6, "two groups: first centre x");
	is_near(r.c[lo * 2 + 1], 1.0 / 3, 1e-6, "two groups: first centre y");
	is_near(r.c[hi * 2], 31.0 / 3, 1e-5, "two groups: second centre x");
	is_near(r.c[hi * 2 + 1], 31.0 / 3, 1e-5, "two groups: second centre y");
	is_near(r.r.inertia, 8.0 / 3, 1e-5, "two groups: inertia 8/3");
	ok(r.r.iterations == 2 && r.r.empty_reseeded == 0, "two groups: strict convergence at iteration 2 (%d)",
	   r.r.iterations);
	run_free(&r);
}

static void test_k_equals_n(void)
{
	const float x[] = { 0, 0, 3, 1, -2, 5, 7, 7, 1, -4 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	int seen[5] = { 0 }, good = 1;
	struct run r;

	o.k = 5;
	r = kmeans(x, 5, 2, &o, NULL);
	for (int i = 0; r.rc == 0 && i < 5; i++) {
		seen[r.a[i]]++;
		good &= r.c[r.a[i] * 2] == x[i * 2] && r.c[r.a[i] * 2 + 1] == x[i * 2 + 1];
	}
	ok(r.rc == 0 && good && seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1 && seen[4] == 1,
	   "k = n: every row is its own centre");
	is_near(r.r.inertia, 0, 0, "k = n: inertia 0");
	run_free(&r);
}

static void test_k_one(void)
{
	const int64_t n = 37, d = 3;
	float *x = blobs(n, d, 3, 4, 11);
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	double mean[3] = { 0 }, inertia = 0;
	struct run r;
	int good = 1;

	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			mean[t] += x[i * d + t];
	for (int t = 0; t < d; t++)
		mean[t] /= (double)n;
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			inertia += ((double)x[i * d + t] - (float)mean[t]) * ((double)x[i * d + t] - (float)mean[t]);
	o.k = 1;
	r = kmeans(x, n, d, &o, NULL);
	for (int t = 0; t < d; t++)
		good &= r.c[t] == (float)mean[t];
	for (int64_t i = 0; i < n; i++)
		good &= r.a[i] == 0;
	ok(r.rc == 0 && good, "k = 1: the centre is the mean (rounded to float), every row in cluster 0");
	is_near(r.r.inertia, inertia, 1e-9 * inertia, "k = 1: inertia is the total sum of squares");
	run_free(&r);
	free(x);
}

/* Row 0 (x = 0) is as far from both initial centres: it goes to centre 0, which decides the outcome. */
static void test_ties(void)
{
	const float x[] = { 0, -2, 2 }, init[] = { -1, 1 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;

	o.k = 2;
	o.init = XF_KMEANS_GIVEN;
	r = kmeans(x, 3, 1, &o, init);
	ok(r.rc == 0 && r.a[0] == 0 && r.a[1] == 0 && r.a[2] == 1 && r.c[0] == -1 && r.c[1] == 2,
	   "ties go to the lowest centre index");
	is_near(r.r.inertia, 2, 0, "ties: inertia 2");
	run_free(&r);
}

/*
 * Centre 2 (at 100) gets no row at first. The row farthest from its centre is 3 (distance 2
 * from 1), so it becomes centre 2; then {0, 1} -> 0.5, {10, 11} -> 10.5, {3} -> 3.
 */
static void test_empty_cluster(void)
{
	const float x[] = { 0, 1, 3, 10, 11 }, init[] = { 1, 10.5f, 100 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;

	o.k = 3;
	o.init = XF_KMEANS_GIVEN;
	r = kmeans(x, 5, 1, &o, init);
	ok(r.rc == 0 && r.a[0] == 0 && r.a[1] == 0 && r.a[2] == 2 && r.a[3] == 1 && r.a[4] == 1,
	   "empty cluster: the farthest row moved to it");
	ok(r.c[0] == 0.5f && r.c[1] == 10.5f && r.c[2] == 3, "empty cluster: centres 0.5, 10.5, 3");
	is_int(r.r.empty_reseeded, 1, "empty cluster: counted once");
	is_near(r.r.inertia, 1, 0, "empty cluster: inertia 1");
	run_free(&r);
}

/* Two empty clusters in one iteration get two different rows: the two farthest. */
static void test_two_empty(void)
{
	const float x[] = { 0, 1, 2, 6, 20, 21 }, init[] = { 1, 20.5f, -50, -60 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;

	o.k = 4;
	o.init = XF_KMEANS_GIVEN;
	r = kmeans(x, 6, 1, &o, init);
	/* first assignment: {0, 1, 2, 6} -> 1 and {20, 21} -> 20.5; farthest: 6 (25), then 0 or 2 (1): 0 */
	ok(r.rc == 0 && r.c[2] == 6 && r.a[3] == 2, "two empty clusters: the farthest row to the first");
	ok(r.rc == 0 && r.a[0] == 3 && r.r.empty_reseeded == 2, "two empty clusters: the next farthest to the second");
	run_free(&r);
}

/*
 * Directions near (1, 0) and (0, 1) with very different lengths: cosine k-means groups them by
 * direction, and the mean directions are exactly the axes.
 */
static void test_spherical(void)
{
	const float x[] = { 10, 1, 0.1f, -0.01f, 0.1f, 1, -10, 100 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	double want = 4 * (2 - 2 / sqrt(1.01));
	struct run r;
	int64_t a;

	o.k = 2;
	o.spherical = true;
	o.seed = 5;
	r = kmeans(x, 4, 2, &o, NULL);
	a = r.a[0];
	ok(r.rc == 0 && r.a[1] == a && r.a[2] != a && r.a[3] == r.a[2], "spherical: grouped by direction");
	ok(r.rc == 0 && fabs(r.c[a * 2] - 1) < 1e-6 && fabs(r.c[a * 2 + 1]) < 1e-6 &&
	   fabs(r.c[(1 - a) * 2]) < 1e-6 && fabs(r.c[(1 - a) * 2 + 1] - 1) < 1e-6, "spherical: centres (1, 0) and (0, 1)");
	is_near(r.r.inertia, want, 1e-6, "spherical: inertia = sum of 2 - 2 cos");
	run_free(&r);
}

/* Spherical on blobs: unit centres, and the inertia is the sum of 2 - 2 cos over rows normalised here. */
static void test_spherical_blobs(void)
{
	const int64_t n = 700, d = 6, k = 5;
	float *x = blobs(n, d, 5, 3, 12), *y = malloc((size_t)(n * d) * sizeof(float));
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;
	int good = 1;

	for (int64_t i = 0; i < n; i++) {
		double s = 0;

		for (int64_t t = 0; t < d; t++)
			s += (double)x[i * d + t] * x[i * d + t];
		for (int64_t t = 0; t < d; t++)
			y[i * d + t] = (float)(x[i * d + t] / sqrt(s));
	}
	o.k = k;
	o.spherical = true;
	r = kmeans(x, n, d, &o, NULL);
	for (int64_t j = 0; j < k; j++) {
		double s = 0;

		for (int64_t t = 0; t < d; t++)
			s += (double)r.c[j * d + t] * r.c[j * d + t];
		good &= fabs(s - 1) < 1e-6;
	}
	ok(r.rc == 0 && good, "spherical: centres have unit length");
	{
		double cos_inertia = 0;

		for (int64_t i = 0; i < n; i++) {
			double dot = 0;

			for (int64_t t = 0; t < d; t++)
				dot += (double)y[i * d + t] * r.c[r.a[i] * d + t];
			cos_inertia += 2 - 2 * dot;
		}
		is_near(r.r.inertia, cos_inertia, 1e-6 * cos_inertia, "spherical: inertia = sum of 2 - 2 cos");
	}
	run_free(&r);
	free(x);
	free(y);
}

/*
 * The textbook Lloyd loop with scikit-learn's stopping rule, in double: assign every row to the
 * nearest centre (exact distances, ties to the lowest index), centres = sums / counts rounded
 * to float, stop when no label changed or the squared shift is <= tol * mean variance, then
 * assign again. -1 when a cluster goes empty (the test data must avoid that).
 */
static int naive_lloyd(const float *x, int64_t n, int64_t d, int64_t k, double tol, int max_iter, float *c,
		       int64_t *a, int *iterations, double *inertia)
{
	double *sum = malloc((size_t)(k * d) * sizeof(double)), mvar = 0;
	int64_t *cnt = malloc((size_t)k * sizeof(int64_t)), *old = malloc((size_t)n * sizeof(int64_t));
	int it = 0, strict = 0, rc = 0;

	for (int64_t t = 0; t < d; t++) {
		double m = 0, v = 0;

		for (int64_t i = 0; i < n; i++)
			m += x[i * d + t];
		m /= (double)n;
		for (int64_t i = 0; i < n; i++)
			v += (x[i * d + t] - m) * (x[i * d + t] - m);
		mvar += v / (double)n;
	}
	tol *= mvar / (double)d;
	for (int64_t i = 0; i < n; i++)
		old[i] = -1;
	for (;;) {
		double shift = 0;
		int64_t changed = 0;

		for (int64_t i = 0; i < n; i++) {
			double best = INFINITY;

			for (int64_t j = 0; j < k; j++) {
				double s = 0;

				for (int64_t t = 0; t < d; t++)
					s += ((double)x[i * d + t] - c[j * d + t]) * ((double)x[i * d + t] - c[j * d + t]);
				if (s < best) {
					best = s;
					a[i] = j;
				}
			}
			changed += a[i] != old[i];
			old[i] = a[i];
		}
		it++;
		memset(sum, 0, (size_t)(k * d) * sizeof(double));
		memset(cnt, 0, (size_t)k * sizeof(int64_t));
		for (int64_t i = 0; i < n; i++) {
			cnt[a[i]]++;
			for (int64_t t = 0; t < d; t++)
				sum[a[i] * d + t] += x[i * d + t];
		}
		for (int64_t j = 0; j < k; j++) {
			double p = 0;

			if (!cnt[j])
				rc = -1;
			for (int64_t t = 0; cnt[j] && t < d; t++) {
				float v = (float)(sum[j * d + t] / (double)cnt[j]);

				p += ((double)v - c[j * d + t]) * ((double)v - c[j * d + t]);
				c[j * d + t] = v;
			}
			shift += p;
		}
		if (it > 1 && changed == 0) {
			strict = 1;
			break;
		}
		if (shift <= tol || it >= max_iter)
			break;
	}
	*inertia = 0;
	for (int64_t i = 0; i < n; i++) {
		double best = INFINITY;

		for (int64_t j = 0; !strict && j < k; j++) {
			double s = 0;

			for (int64_t t = 0; t < d; t++)
				s += ((double)x[i * d + t] - c[j * d + t]) * ((double)x[i * d + t] - c[j * d + t]);
			if (s < best) {
				best = s;
				a[i] = j;
			}
		}
		for (int64_t t = 0; t < d; t++)
			*inertia += ((double)x[i * d + t] - c[a[i] * d + t]) * ((double)x[i * d + t] - c[a[i] * d + t]);
	}
	*iterations = it;
	free(sum);
	free(cnt);
	free(old);
	return rc;
}

/*
 * Rows on a grid of 1/16 (blobs plus Gaussian noise, rounded) so that every cluster sum is
 * exact in double whatever the order: Hamerly's path must give the same labels, iteration
 * count and bit-identical centres as the naive loop from the same initial centres.
 */
static void test_against_naive(int64_t n, int64_t d, int64_t k, double tol, int max_iter, int threads)
{
	float *x = blobs(n, d, (int)k, 2.5, 31 + (uint64_t)k), *init = malloc((size_t)(k * d) * sizeof(float));
	float *c = malloc((size_t)(k * d) * sizeof(float));
	int64_t *a = malloc((size_t)n * sizeof(int64_t));
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;
	double inertia;
	int it, rc;

	for (int64_t t = 0; t < n * d; t++)
		x[t] = roundf(x[t] * 16) / 16;
	for (int64_t j = 0; j < k; j++)            /* rows 0, 7, 14...: scattered over the blobs */
		memcpy(init + j * d, x + (j * 7 % n) * d, (size_t)d * sizeof(float));
	memcpy(c, init, (size_t)(k * d) * sizeof(float));
	rc = naive_lloyd(x, n, d, k, tol, max_iter, c, a, &it, &inertia);
	o.k = k;
	o.init = XF_KMEANS_GIVEN;
	o.tol = tol;
	o.max_iter = max_iter;
	o.threads = threads;
	r = kmeans(x, n, d, &o, init);
	ok(rc == 0, "naive n=%lld k=%lld tol=%g: no empty cluster in the reference run", (long long)n, (long long)k, tol);
	ok(r.rc == 0 && r.r.iterations == it, "naive n=%lld k=%lld tol=%g: same iterations (%d, %d)", (long long)n,
	   (long long)k, tol, r.r.iterations, it);
	ok(r.rc == 0 && !memcmp(r.a, a, (size_t)n * sizeof(int64_t)), "naive n=%lld k=%lld tol=%g: same labels",
	   (long long)n, (long long)k, tol);
	ok(r.rc == 0 && !memcmp(r.c, c, (size_t)(k * d) * sizeof(float)),
	   "naive n=%lld k=%lld tol=%g: bit-identical centres", (long long)n, (long long)k, tol);
	is_near(r.r.inertia, inertia, 1e-12 * inertia, "naive: same inertia");
	run_free(&r);
	free(x);
	free(init);
	free(c);
	free(a);
}

/* tests/data/kmeans/NAME (XF_TEST_DATA overrides tests/data) as doubles; NULL with a diagnostic. */
static double *load_fixture(const char *name, int64_t *rows, int64_t *cols)
{
	const char *dir = getenv("XF_TEST_DATA");
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	char path[512];
	double *out;
	int64_t count;

	snprintf(path, sizeof(path), "%s/kmeans/%s", dir ? dir : "tests/data", name);
	if (xf_npy_load_file(path, &t, &err) < 0) {
		printf("# %s: %s\n", path, err.msg);
		return NULL;
	}
	*rows = t.ndim > 0 ? t.shape[0] : 1;
	*cols = t.ndim > 1 ? t.shape[1] : 1;
	count = *rows * *cols;
	out = malloc((size_t)count * sizeof(double) + 1);
	for (int64_t i = 0; out && i < count; i++)
		out[i] = t.dtype == XF_DTYPE_F32 ? ((const float *)t.data)[i]
			 : t.dtype == XF_DTYPE_F64 ? ((const double *)t.data)[i]
						   : (double)((const int64_t *)t.data)[i];
	xf_tensor_release(&t);
	return out;
}

/* scikit-learn's KMeans (lloyd) from the same initial centres: labels, iterations, centres, inertia. */
static void test_sklearn(const char *name)
{
	char f[64];
	int64_t n, d, k, kd, r1, c1;
	double *xd, *initd, *labels, *centres, *info;
	float *x, *init;
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;
	int same = 1;
	double maxdiff = 0;

#define LOAD(var, suffix, rr, cc) (snprintf(f, sizeof(f), "%s-%s.npy", name, suffix), var = load_fixture(f, rr, cc))
	if (!LOAD(xd, "x", &n, &d) || !LOAD(initd, "init", &k, &kd) || !LOAD(labels, "labels", &r1, &c1) ||
	    !LOAD(centres, "centres", &r1, &c1) || !LOAD(info, "info", &r1, &c1)) {
		ok(0, "sklearn %s: fixtures load", name);
		return;
	}
#undef LOAD
	x = malloc((size_t)(n * d) * sizeof(float));
	init = malloc((size_t)(k * d) * sizeof(float));
	for (int64_t t = 0; t < n * d; t++)
		x[t] = (float)xd[t];
	for (int64_t t = 0; t < k * d; t++)
		init[t] = (float)initd[t];
	o.k = k;
	o.init = XF_KMEANS_GIVEN;
	o.tol = info[2];
	o.max_iter = (int)info[3];
	r = kmeans(x, n, d, &o, init);
	for (int64_t i = 0; r.rc == 0 && i < n; i++)
		same &= r.a[i] == (int64_t)labels[i];
	for (int64_t t = 0; r.rc == 0 && t < k * d; t++)
		maxdiff = fmax(maxdiff, fabs(r.c[t] - centres[t]));
	ok(r.rc == 0 && same, "sklearn %s: same labels", name);
	is_int(r.r.iterations, (int)info[1], "sklearn: same number of iterations");
	ok(r.rc == 0 && maxdiff < 1e-5, "sklearn %s: centres within 1e-5 (%.3g)", name, maxdiff);
	is_near(r.r.inertia, info[0], 1e-6 * info[0], "sklearn: inertia within 1e-6 relative");
	run_free(&r);
	free(x);
	free(init);
	free(xd);
	free(initd);
	free(labels);
	free(centres);
	free(info);
}

/* Same seed, same result; 1, 2 and 3 threads bit-identical; a different seed differs. */
static void test_determinism(const char *what, enum xf_kmeans_init init, bool spherical, int64_t batch, int64_t k)
{
	const int64_t n = 2100, d = 10;
	float *x = blobs(n, d, 12, 2, 99);
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r1, r2, r3, again, other;

	o.k = k;
	o.init = init;
	o.spherical = spherical;
	o.batch = batch;
	o.seed = 1234;
	o.threads = 1;
	r1 = kmeans(x, n, d, &o, NULL);
	o.threads = 2;
	r2 = kmeans(x, n, d, &o, NULL);
	o.threads = 3;
	r3 = kmeans(x, n, d, &o, NULL);
	again = kmeans(x, n, d, &o, NULL);
	o.seed = 4321;
	other = kmeans(x, n, d, &o, NULL);
	ok(same_run(&r1, &r2, n, k, d) && same_run(&r1, &r3, n, k, d), "%s: 1, 2 and 3 threads bit-identical", what);
	ok(same_run(&r3, &again, n, k, d), "%s: same seed, same result", what);
	ok(other.rc == 0 && !same_run(&r3, &other, n, k, d), "%s: another seed, another result", what);
	printf("# %s: %d iterations, %lld empty clusters reseeded\n", what, r1.r.iterations,
	       (long long)r1.r.empty_reseeded);
	run_free(&r1);
	run_free(&r2);
	run_free(&r3);
	run_free(&again);
	run_free(&other);
	free(x);
}

/*
 * 23 of 40 given centres lie far from every row, so all of them go empty at once and take
 * the 23 farthest rows: bit-identical for 1, 2 and 3 threads, and no cluster ends empty.
 */
static void test_empty_many(void)
{
	const int64_t n = 2100, d = 10, k = 40;
	float *x = blobs(n, d, 12, 2, 99), *init = malloc((size_t)(k * d) * sizeof(float));
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r[3];
	int64_t count[40] = { 0 }, empty = 0;

	memcpy(init, x, (size_t)(17 * d) * sizeof(float));
	for (int64_t t = 17 * d; t < k * d; t++)
		init[t] = (float)(1000 + 10 * (t / d));
	o.k = k;
	o.init = XF_KMEANS_GIVEN;
	for (int t = 0; t < 3; t++) {
		o.threads = t + 1;
		r[t] = kmeans(x, n, d, &o, init);
	}
	for (int64_t i = 0; r[0].rc == 0 && i < n; i++)
		count[r[0].a[i]]++;
	for (int64_t j = 0; j < k; j++)
		empty += count[j] == 0;
	ok(same_run(&r[0], &r[1], n, k, d) && same_run(&r[0], &r[2], n, k, d),
	   "many empty clusters: 1, 2 and 3 threads bit-identical");
	ok(r[0].rc == 0 && r[0].r.empty_reseeded >= 23 && empty == 0,
	   "many empty clusters: %lld reseeded, none empty at the end", (long long)r[0].r.empty_reseeded);
	for (int t = 0; t < 3; t++)
		run_free(&r[t]);
	free(x);
	free(init);
}

/* k-means++ on four tight, far apart groups finds one centre in each, whatever the seed. */
static void test_plusplus(void)
{
	const int64_t n = 400, d = 3;
	float *x = malloc((size_t)(n * d) * sizeof(float));
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct xf_rng rng;
	int found = 0;

	xf_rng_init(&rng, 5, 0);
	for (int64_t i = 0; i < n; i++)
		for (int64_t t = 0; t < d; t++)
			x[i * d + t] = (float)(100 * (double)((i % 4) == t) - 100 * ((i % 4) == 3) + 0.1 * xf_rng_normal(&rng));
	o.k = 4;
	o.max_iter = 1;
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct run r;
		int groups = 0;

		o.seed = seed;
		r = kmeans(x, n, d, &o, NULL);
		for (int g = 0; g < 4; g++) {
			int same = 1;

			for (int64_t i = g; i < n; i += 4)
				same &= r.a[i] == r.a[g];
			groups += same;
		}
		found += r.rc == 0 && groups == 4 && r.a[0] != r.a[1] && r.a[0] != r.a[2] && r.a[0] != r.a[3] &&
			 r.a[1] != r.a[2] && r.a[1] != r.a[3] && r.a[2] != r.a[3];
		run_free(&r);
	}
	is_int(found, 20, "k-means++: one centre per separated group for 20 seeds");
	free(x);
}

/* Random init picks k distinct rows; with max_iter = 1 on k = n every row keeps its own centre. */
static void test_random_init(void)
{
	const float x[] = { 1, 2, 3, 5, 8, 13, 21 };
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run r;
	int seen[7] = { 0 }, good = 1;

	o.k = 7;
	o.init = XF_KMEANS_RANDOM;
	o.seed = 9;
	r = kmeans(x, 7, 1, &o, NULL);
	for (int i = 0; r.rc == 0 && i < 7; i++) {
		seen[r.a[i]]++;
		good &= r.c[r.a[i]] == x[i];
	}
	for (int j = 0; j < 7; j++)
		good &= seen[j] == 1;
	ok(r.rc == 0 && good && r.r.empty_reseeded == 0, "random init: k = n distinct rows");
	run_free(&r);
}

/* Mini-batch reaches an inertia within 3% of full k-means (same k-means++ start) on blobs. */
static void test_minibatch(void)
{
	const int64_t n = 20000, d = 8, k = 10;
	float *x = blobs(n, d, 10, 4, 7);
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct run full, mb;

	o.k = k;
	o.seed = 2;
	full = kmeans(x, n, d, &o, NULL);
	o.batch = 500;
	o.max_iter = 20;
	mb = kmeans(x, n, d, &o, NULL);
	ok(full.rc == 0 && mb.rc == 0 && mb.r.inertia <= 1.03 * full.r.inertia,
	   "mini-batch: inertia %.6g within 3%% of full k-means %.6g (%d passes)", mb.r.inertia, full.r.inertia,
	   mb.r.iterations);
	ok(mb.r.iterations >= 1 && mb.r.iterations <= 20, "mini-batch: passes within max_iter");
	run_free(&full);
	run_free(&mb);
	free(x);
}

static void test_bad_input(void)
{
	float x[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, c[10];
	int64_t a[5];
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct xf_err err = XF_ERR_INIT;

	o.k = 0;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "k = 0 refused");
	o.k = 6;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "k > n refused: %s", err.msg);
	o.k = 2;
	o.max_iter = 0;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "max_iter 0 refused");
	o.max_iter = 300;
	o.tol = -1;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "negative tol refused");
	o.tol = 1e-4;
	o.batch = -1;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "negative batch refused");
	o.batch = 0;
	x[7] = NAN;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_FORMAT && strstr(err.msg, "row 3"),
	   "NaN refused naming the row: %s", err.msg);
	x[7] = 7;
	x[8] = -INFINITY;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_FORMAT && strstr(err.msg, "row 4"),
	   "infinity refused naming the row: %s", err.msg);
	x[8] = 8;
	o.init = XF_KMEANS_GIVEN;
	c[0] = c[1] = c[3] = 0;
	c[2] = NAN;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, a, NULL, &err) == -1 && err.code == XF_E_USAGE, "NaN given centre refused");
	o.init = XF_KMEANS_PLUSPLUS;
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_kmeans(x, 5, 2, &o, c, NULL, NULL, &err) == 0, "assign and res may be NULL");
}

int main(void)
{
	test_two_groups();
	test_k_equals_n();
	test_k_one();
	test_ties();
	test_empty_cluster();
	test_two_empty();
	test_empty_many();
	test_spherical();
	test_spherical_blobs();
	test_plusplus();
	test_random_init();
	test_against_naive(1000, 5, 8, 0, 300, 2);
	test_against_naive(3000, 12, 40, 1e-4, 300, 3);
	test_against_naive(3000, 12, 40, 1e-4, 4, 1);
	test_against_naive(300, 4, 60, 1e-4, 300, 2);
	test_sklearn("blobs");
	test_sklearn("gauss");
	test_sklearn("gauss3");
	test_sklearn("strict");
	test_determinism("lloyd k-means++", XF_KMEANS_PLUSPLUS, false, 0, 17);
	test_determinism("lloyd random init", XF_KMEANS_RANDOM, false, 0, 17);
	test_determinism("lloyd k > n / 8", XF_KMEANS_RANDOM, false, 0, 400);
	test_determinism("spherical", XF_KMEANS_PLUSPLUS, true, 0, 17);
	test_determinism("mini-batch", XF_KMEANS_PLUSPLUS, false, 300, 17);
	test_minibatch();
	test_bad_input();
	return done_testing();
}
