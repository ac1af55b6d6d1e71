/*
 * parallel: a parallel loop over [0, n) in contiguous chunks, one per thread. The split is
 * fixed by n and the thread count alone, and each index is handled by exactly one call, so
 * work that writes only its own indices gives the same result for any number of threads.
 */
#ifndef XF_PARALLEL_H
#define XF_PARALLEL_H

#include <stdint.h>

/* Online processors (at least 1). */
int xf_cores(void);

/*
 * fn(ctx, begin, end) over [0, n) split into up to `threads` chunks (0 or less: all cores;
 * never more chunks than n / min_chunk). The calling thread runs the first chunk; when a
 * thread cannot be started its chunk runs in the caller, so the loop always completes.
 */
void xf_parallel_for(int64_t n, int threads, int64_t min_chunk, void (*fn)(void *ctx, int64_t begin, int64_t end),
		     void *ctx);

#endif
