/*
 * kmeans-driver: times xf_kmeans on raw float32 rows and prints one line of figures;
 * tests/bench/kmeans.sh builds and runs it.
 *
 * usage: kmeans-driver X.f32 D K THREADS TOL MAX_ITER INIT BATCH REPEAT OUT
 *
 * X.f32 holds the rows (n x D, native float32); INIT is a file of K x D float32 initial
 * centres (XF_KMEANS_GIVEN) or "pp" for k-means++ with seed 0; BATCH > 0 is mini-batch. The
 * best wall time of REPEAT runs is printed as "seconds inertia iterations empty_reseeded",
 * and the last run's labels (int64) and centres (float32) go to OUT.labels and OUT.centres.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmeans.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The whole file; its size in *bytes. Exits on failure. */
static void *slurp(const char *path, size_t *bytes)
{
	FILE *f = fopen(path, "rb");
	void *p;
	long size;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "kmeans-driver: cannot read '%s'\n", path);
		exit(1);
	}
	p = malloc((size_t)size + 1);
	if (!p || fread(p, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "kmeans-driver: cannot read '%s'\n", path);
		exit(1);
	}
	fclose(f);
	*bytes = (size_t)size;
	return p;
}

static void spill(const char *prefix, const char *suffix, const void *p, size_t bytes)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%s", prefix, suffix);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0) {
		fprintf(stderr, "kmeans-driver: cannot write '%s'\n", path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
	struct xf_kmeans_result r = { 0, 0, 0 };
	struct xf_err err = XF_ERR_INIT;
	size_t bytes, init_bytes = 0;
	float *x, *init = NULL, *c;
	int64_t n, d, *assign;
	double best = 1e300;
	int repeat;

	if (argc != 11) {
		fprintf(stderr, "usage: kmeans-driver X.f32 D K THREADS TOL MAX_ITER INIT BATCH REPEAT OUT\n");
		return 2;
	}
	x = slurp(argv[1], &bytes);
	d = atoll(argv[2]);
	n = (int64_t)(bytes / sizeof(float)) / d;
	o.k = atoll(argv[3]);
	o.threads = atoi(argv[4]);
	o.tol = atof(argv[5]);
	o.max_iter = atoi(argv[6]);
	if (strcmp(argv[7], "pp")) {
		init = slurp(argv[7], &init_bytes);
		o.init = XF_KMEANS_GIVEN;
		if (init_bytes != (size_t)(o.k * d) * sizeof(float)) {
			fprintf(stderr, "kmeans-driver: '%s' is not %lld x %lld float32\n", argv[7], (long long)o.k,
				(long long)d);
			return 1;
		}
	}
	o.batch = atoll(argv[8]);
	repeat = atoi(argv[9]);
	c = malloc((size_t)(o.k * d) * sizeof(float));
	assign = malloc((size_t)n * sizeof(int64_t));
	if (!c || !assign)
		return 1;
	for (int rep = 0; rep < repeat; rep++) {
		double t;

		if (init)
			memcpy(c, init, init_bytes);
		t = now();
		if (xf_kmeans(x, n, d, &o, c, assign, &r, &err) < 0) {
			fprintf(stderr, "kmeans-driver: %s\n", err.msg);
			return 1;
		}
		t = now() - t;
		best = t < best ? t : best;
	}
	spill(argv[10], "labels", assign, (size_t)n * sizeof(int64_t));
	spill(argv[10], "centres", c, (size_t)(o.k * d) * sizeof(float));
	printf("%.4f %.15g %d %lld\n", best, r.inertia, r.iterations, (long long)r.empty_reseeded);
	free(x);
	free(init);
	free(c);
	free(assign);
	return 0;
}
