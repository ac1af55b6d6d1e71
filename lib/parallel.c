/* parallel: chunked parallel loops over pthreads; see parallel.h. */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "parallel.h"

#define MAX_THREADS 256

struct chunk {
	void (*fn)(void *ctx, int64_t begin, int64_t end);
	void *ctx;
	int64_t begin, end;
};

int xf_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static void *run_chunk(void *arg)
{
	struct chunk *c = arg;

	c->fn(c->ctx, c->begin, c->end);
	return NULL;
}

void xf_parallel_for(int64_t n, int threads, int64_t min_chunk, void (*fn)(void *ctx, int64_t begin, int64_t end),
		     void *ctx)
{
	struct chunk chunks[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	int64_t parts = threads > 0 ? threads : xf_cores();

	if (n <= 0)
		return;
	if (min_chunk < 1)
		min_chunk = 1;
	parts = parts > MAX_THREADS ? MAX_THREADS : parts;
	parts = parts > n / min_chunk ? (n / min_chunk > 0 ? n / min_chunk : 1) : parts;
	for (int64_t t = 0; t < parts; t++)
		chunks[t] = (struct chunk){ fn, ctx, n * t / parts, n * (t + 1) / parts };
	for (int64_t t = 1; t < parts; t++)
		started[t] = !pthread_create(&tid[t], NULL, run_chunk, &chunks[t]);
	run_chunk(&chunks[0]);
	for (int64_t t = 1; t < parts; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			run_chunk(&chunks[t]);
	}
}
