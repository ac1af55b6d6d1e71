/*
 * nn-helpers: what the neural-network kernel tests share: a seeded uniform generator, random
 * arrays, bit comparison, the normwise relative error against a double reference, and
 * conv2d by its definition (cross-correlation) in double.
 */
#ifndef XF_NN_HELPERS_H
#define XF_NN_HELPERS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn_conv.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static uint64_t rng_state = 88172645463325252ULL;

/* Uniform in [-1, 1), from xorshift64. */
__attribute__((unused)) static double urand(void)
{
	rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

__attribute__((unused)) static float *random_floats(int64_t n, double scale, double offset)
{
	float *a = malloc((n > 0 ? n : 1) * sizeof(float));

	for (int64_t i = 0; i < n; i++)
		a[i] = (float)(offset + scale * urand());
	return a;
}

__attribute__((unused)) static double *doubles(int64_t n)
{
	return calloc(n > 0 ? n : 1, sizeof(double));
}

__attribute__((unused)) static bool same_bits(const float *a, const float *b, int64_t n)
{
	return !memcmp(a, b, n * sizeof(float));
}

/* max |got - ref| / max |ref| (NaN wins). */
__attribute__((unused)) static double rel_error(const float *got, const double *ref, int64_t n)
{
	double num = 0, den = 0;

	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - ref[i]);

		num = d > num || isnan(d) ? d : num;
		den = fmax(den, fabs(ref[i]));
	}
	return den > 0 ? num / den : num;
}

/* Output (b, o, oy, ox) of c on x [batch, in_c, h, w], from the definition of cross-correlation. */
__attribute__((unused)) static double ref_conv_at(const struct xf_conv2d *c, const float *x, int h, int w, int64_t b,
						  int o, int oy, int ox)
{
	int cg = c->in_c / c->groups, g = o / (c->out_c / c->groups);
	double s = c->bias ? c->bias[o] : 0;

	for (int ci = 0; ci < cg; ci++)
		for (int i = 0; i < c->kh; i++)
			for (int j = 0; j < c->kw; j++) {
				int iy = oy * c->stride[0] - c->pad[0] + i * c->dilation[0];
				int ix = ox * c->stride[1] - c->pad[1] + j * c->dilation[1];

				if (iy < 0 || iy >= h || ix < 0 || ix >= w)
					continue;
				s += (double)c->weight[((int64_t)(o * cg + ci) * c->kh + i) * c->kw + j] *
				     x[((b * c->in_c + g * cg + ci) * h + iy) * w + ix];
			}
	return s;
}

__attribute__((unused)) static void ref_conv(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w,
					     int oh, int ow, double *y)
{
	for (int64_t b = 0; b < batch; b++)
		for (int o = 0; o < c->out_c; o++)
			for (int oy = 0; oy < oh; oy++)
				for (int ox = 0; ox < ow; ox++)
					*y++ = ref_conv_at(c, x, h, w, b, o, oy, ox);
}

#endif
