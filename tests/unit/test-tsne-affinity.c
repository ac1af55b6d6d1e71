/*
 * tsne_affinity: perplexity calibration hits ln(perplexity) to 1e-5 nats on varied
 * distances (tiny, huge, tied, with duplicates), hand-checked cases, and the joint P is
 * symmetric, sums to 1, holds both directions of every neighbour pair and does not depend
 * on the thread count; bad neighbour lists are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "rng.h"
#include "tap.h"
#include "tsne_affinity.h"

static double entropy(const double *w, int64_t k)
{
	double h = 0;

	for (int64_t j = 0; j < k; j++)
		h -= w[j] > 0 ? w[j] * log(w[j]) : 0;
	return h;
}

static void test_calibration(double scale, double perplexity, int dupes)
{
	enum { K = 90 };
	double d2[K], w[K], h, sum = 0, target = log(perplexity);
	struct xf_rng rng;

	xf_rng_init(&rng, 11, (uint64_t)(scale * 1000) + (uint64_t)perplexity);
	for (int j = 0; j < K; j++)
		d2[j] = j < dupes ? 0 : scale * (1 + 10 * xf_rng_uniform(&rng));
	xf_tsne_calibrate(d2, K, perplexity, XF_TSNE_ENTROPY_TOL, XF_TSNE_BISECT_STEPS, w, &h);
	for (int j = 0; j < K; j++)
		sum += w[j];
	if (dupes > perplexity) /* out of reach: the weight spreads evenly over the duplicates */
		target = log(dupes);
	ok(fabs(entropy(w, K) - target) < 1e-5 && fabs(h - entropy(w, K)) < 1e-9 && fabs(sum - 1) < 1e-12,
	   "distances of scale %g, %d duplicates, perplexity %g: entropy %.9f, target %.9f", scale, dupes, perplexity,
	   entropy(w, K), target);
}

/* Two neighbours at the same distance: any precision gives 1/2 each, entropy ln 2. */
static void test_hand(void)
{
	double d2[2] = { 4, 4 }, w[2], h;

	xf_tsne_calibrate(d2, 2, 2, XF_TSNE_ENTROPY_TOL, XF_TSNE_BISECT_STEPS, w, &h);
	ok(w[0] == 0.5 && w[1] == 0.5 && fabs(h - log(2)) < 1e-15, "two equal neighbours: 1/2 each, entropy ln 2");
	/* neighbours at 0 and 1 with perplexity 1: all weight on the nearest (beta runs up) */
	d2[0] = 0, d2[1] = 1;
	xf_tsne_calibrate(d2, 2, 1, XF_TSNE_ENTROPY_TOL, XF_TSNE_BISECT_STEPS, w, &h);
	ok(w[0] > 1 - 1e-6 && h < 1e-5, "perplexity 1 puts the weight on the nearest neighbour (%.3g)", w[0]);
}

static double *points(int64_t n, int64_t d, uint64_t seed)
{
	double *x = malloc((size_t)(n * d) * sizeof(double));
	struct xf_rng rng;

	xf_rng_init(&rng, seed, 0);
	for (int64_t i = 0; i < n * d; i++)
		x[i] = xf_rng_normal(&rng) + (double)(i / d % 3) * 4;
	return x;
}

static double entry(const struct xf_csr *p, int64_t i, int64_t j)
{
	for (int64_t t = p->rowptr[i]; t < p->rowptr[i + 1]; t++)
		if (p->col[t] == j)
			return p->val[t];
	return 0;
}

static void test_joint(void)
{
	enum { N = 400, D = 5, K = 30 };
	double *x = points(N, D, 3), *dist2 = malloc(N * K * sizeof(double)), worst, total = 0, asym = 0;
	int64_t *idx = malloc(N * K * sizeof(int64_t)), missing = 0, unsorted = 0;
	struct xf_csr p = XF_CSR_INIT, q = XF_CSR_INIT;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_exact(x, N, D, K, 1, idx, dist2, &err) == 0, "neighbours: %s", err.msg);
	ok(xf_tsne_affinities(idx, dist2, N, K, 10, 1, &p, &worst, &err) == 0, "P: %s", err.msg);
	ok(worst < 1e-5, "every point within 1e-5 nats of ln 10 (worst %.2g)", worst);
	for (int64_t i = 0; i < N; i++) {
		for (int64_t t = p.rowptr[i]; t < p.rowptr[i + 1]; t++) {
			total += p.val[t];
			asym = fmax(asym, fabs(p.val[t] - entry(&p, p.col[t], i)));
			unsorted += t > p.rowptr[i] && p.col[t] <= p.col[t - 1];
			unsorted += p.col[t] == i;
		}
		for (int j = 0; j < K; j++)
			missing += entry(&p, i, idx[i * K + j]) == 0;
	}
	ok(fabs(total - 1) < 1e-12, "P sums to 1 (%.17g)", total);
	ok(asym == 0, "P is symmetric (largest difference %.3g)", asym);
	ok(!missing && !unsorted, "every neighbour pair present, rows sorted, no diagonal");
	ok(p.rowptr[N] >= N * K && p.rowptr[N] <= 2 * N * K, "%lld non-zeros", (long long)p.rowptr[N]);
	ok(xf_tsne_affinities(idx, dist2, N, K, 10, 3, &q, NULL, &err) == 0 && q.rowptr[N] == p.rowptr[N] &&
	   !memcmp(q.val, p.val, (size_t)p.rowptr[N] * sizeof(double)), "3 threads give the same P");
	idx[5 * K + 2] = 5;
	ok(xf_tsne_affinities(idx, dist2, N, K, 10, 1, &q, NULL, &err) < 0 && strstr(err.msg, "point 5"),
	   "a point listed as its own neighbour is refused: %s", err.msg);
	xf_csr_release(&p), xf_csr_release(&q);
	free(x), free(idx), free(dist2);
}

int main(void)
{
	test_hand();
	for (int dupes = 0; dupes <= 20; dupes += 20) {
		test_calibration(1e-6, 30, dupes);
		test_calibration(1, 30, dupes);
		test_calibration(1e6, 30, dupes);
		test_calibration(1, 5, dupes);
		test_calibration(1, 80, dupes);
	}
	test_joint();
	return done_testing();
}
