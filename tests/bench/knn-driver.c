/*
 * knn-driver: times xf_knn_approx (or xf_knn_exact) on a seeded Gaussian mixture and
 * prints one line of figures; tests/bench/knn.sh builds and runs it.
 *
 * usage: knn-driver N D K THREADS SAMPLE [approx|exact] [pca|iso]
 *
 * The mixture has 20 clusters with centres N(0, 4^2) in every coordinate. Inside a cluster
 * coordinate j has standard deviation 1 / sqrt(1 + j / 5), a decaying spectrum like PCA
 * scores' ("pca", the default), or 1 ("iso": the whole space, the harder case). Recall is
 * xf_knn_recall on SAMPLE rows (0: skip it).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "knn.h"
#include "knn_approx.h"
#include "rng.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* User plus system time of the process so far: CPU work, whatever else runs on the machine. */
static double cpu_seconds(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static void *alloc(size_t bytes)
{
	void *p = malloc(bytes);

	if (!p) {
		fprintf(stderr, "knn-driver: out of memory (%zu bytes)\n", bytes);
		exit(1);
	}
	return p;
}

static double *mixture(int64_t n, int64_t d, int clusters, int isotropic, uint64_t seed)
{
	double *x = alloc((size_t)(n * d) * sizeof(*x)), *centre = alloc((size_t)(clusters * d) * sizeof(*centre));
	struct xf_rng r;

	xf_rng_init(&r, seed, 0);
	for (int64_t i = 0; i < clusters * d; i++)
		centre[i] = 4 * xf_rng_normal(&r);
	for (int64_t i = 0; i < n; i++) {
		int64_t c = (int64_t)xf_rng_below(&r, (uint64_t)clusters);

		for (int64_t j = 0; j < d; j++)
			x[i * d + j] = centre[c * d + j] + xf_rng_normal(&r) / (isotropic ? 1 : sqrt(1 + (double)j / 5));
	}
	free(centre);
	return x;
}

int main(int argc, char **argv)
{
	int64_t n, d, k, sample, *idx;
	int threads, exact, iso, rc;
	double *x, *dist2, t0, t1, c0, c1, recall = NAN;
	struct xf_err err = XF_ERR_INIT;

	if (argc < 6) {
		fprintf(stderr, "usage: knn-driver N D K THREADS SAMPLE [approx|exact] [pca|iso]\n");
		return 2;
	}
	n = atoll(argv[1]);
	d = atoll(argv[2]);
	k = atoll(argv[3]);
	threads = atoi(argv[4]);
	sample = atoll(argv[5]);
	exact = argc > 6 && !strcmp(argv[6], "exact");
	iso = argc > 7 && !strcmp(argv[7], "iso");
	x = mixture(n, d, 20, iso, 42);
	idx = alloc((size_t)(n * k) * sizeof(*idx));
	dist2 = alloc((size_t)(n * k) * sizeof(*dist2));
	t0 = now();
	c0 = cpu_seconds();
	rc = exact ? xf_knn_exact(x, n, d, k, threads, idx, dist2, &err)
		   : xf_knn_approx(x, n, d, k, 1, threads, idx, dist2, &err);
	t1 = now();
	c1 = cpu_seconds();
	if (rc < 0) {
		fprintf(stderr, "knn-driver: %s\n", err.msg);
		return 1;
	}
	if (sample > 0)
		recall = xf_knn_recall(x, n, d, k, idx, sample, 7);
	printf("%s N=%" PRId64 " D=%" PRId64 " (%s) k=%" PRId64 " threads=%d: %.2f s wall, %.2f s CPU; recall@k %.4f on %"
	       PRId64 " rows (%.1f s)\n",
	       exact ? "exact " : "approx", n, d, iso ? "iso" : "pca", k, threads, t1 - t0, c1 - c0, recall, sample,
	       now() - t1);
	free(x);
	free(idx);
	free(dist2);
	return 0;
}
