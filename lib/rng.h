/*
 * rng: seeded pseudo-random numbers that are the same on every platform (libc's rand() is
 * not): SplitMix64 to expand a seed, xoshiro256** for the stream. Independent streams for
 * threads, trees or stages come from xf_rng_init(seed, stream), so results do not depend on
 * how work is split. State lives in the caller's struct; nothing is global.
 */
#ifndef XF_RNG_H
#define XF_RNG_H

#include <stdint.h>

struct xf_rng {
	uint64_t s[4];
	double spare;       /* the second normal of a Box-Muller pair */
	int has_spare;
};

/* Stream `stream` of seed `seed`: distinct (seed, stream) pairs give unrelated sequences. */
void xf_rng_init(struct xf_rng *r, uint64_t seed, uint64_t stream);
uint64_t xf_rng_next(struct xf_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double xf_rng_uniform(struct xf_rng *r);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t xf_rng_below(struct xf_rng *r, uint64_t n);
/* Standard normal (Box-Muller, polar form). */
double xf_rng_normal(struct xf_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void xf_rng_shuffle(struct xf_rng *r, int64_t *idx, int64_t n);

#endif
