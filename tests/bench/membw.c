/*
 * Memory bandwidth for tests/bench/merge.sh: THREADS threads each memcpy their slice of a
 * MIB-mebibyte array into a second array (both touched before timing, so no page faults are
 * timed), best of 5. Prints the traffic in GB/s (1e9 bytes): 2 x bytes copied per second, one
 * read and one write per byte (glibc copies blocks this large with non-temporal stores, so
 * there is no extra read of the destination).
 * usage: membw [THREADS [MIB]]   (defaults 2, 1024)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slice {
	char *dst;
	const char *src;
	size_t n;
};

static void *copy(void *arg)
{
	struct slice *s = arg;
	memcpy(s->dst, s->src, s->n);
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	size_t bytes = (size_t)(argc > 2 ? atol(argv[2]) : 1024) << 20;
	if (threads < 1 || threads > 256 || bytes == 0) {
		fprintf(stderr, "usage: membw [THREADS [MIB]]\n");
		return 2;
	}
	char *src = malloc(bytes), *dst = malloc(bytes);
	if (!src || !dst) {
		fprintf(stderr, "membw: out of memory\n");
		return 1;
	}
	memset(src, 1, bytes);
	memset(dst, 2, bytes);
	pthread_t tid[256];
	struct slice s[256];
	size_t per = bytes / threads / 64 * 64;
	double best = 1e30;
	for (int rep = 0; rep < 5; rep++) {
		double t = now();
		for (int i = 0; i < threads; i++) {
			size_t off = per * i, n = i == threads - 1 ? bytes - off : per;
			s[i] = (struct slice){ dst + off, src + off, n };
			if (pthread_create(&tid[i], NULL, copy, &s[i]) != 0) {
				fprintf(stderr, "membw: cannot start a thread\n");
				return 1;
			}
		}
		for (int i = 0; i < threads; i++)
			pthread_join(tid[i], NULL);
		t = now() - t;
		if (t < best)
			best = t;
	}
	printf("%.2f\n", 2.0 * bytes / best / 1e9);
	free(src);
	free(dst);
	return 0;
}
