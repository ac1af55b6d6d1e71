/* rng: SplitMix64-seeded xoshiro256**; see rng.h. */
#include <math.h>

#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void xf_rng_init(struct xf_rng *r, uint64_t seed, uint64_t stream)
{
	/* mix the stream in through a second SplitMix round so that nearby pairs diverge */
	uint64_t x = seed, y = stream ^ 0x6a09e667f3bcc909ULL;

	x ^= splitmix64(&y);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->has_spare = 0;
	r->spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t xf_rng_next(struct xf_rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double xf_rng_uniform(struct xf_rng *r)
{
	return (double)(xf_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t xf_rng_below(struct xf_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = xf_rng_next(r);
	while (x >= limit);
	return x % n;
}

double xf_rng_normal(struct xf_rng *r)
{
	double u, v, s;

	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	do {
		u = 2 * xf_rng_uniform(r) - 1;
		v = 2 * xf_rng_uniform(r) - 1;
		s = u * u + v * v;
	} while (s >= 1 || s == 0);
	s = sqrt(-2 * log(s) / s);
	r->spare = v * s;
	r->has_spare = 1;
	return u * s;
}

void xf_rng_shuffle(struct xf_rng *r, int64_t *idx, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)xf_rng_below(r, (uint64_t)i + 1), t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
}
