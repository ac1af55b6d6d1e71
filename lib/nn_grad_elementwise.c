/*
 * nn_grad_elementwise: the backward pass of the activations, softmax and concat (nn_grad.h).
 * Every dx element is written by one worker from its own inputs, so any split over threads
 * gives the same bits.
 */
#include <math.h>
#include <string.h>

#include "nn_grad.h"
#include "parallel.h"

#define MIN_CHUNK 16384          /* elements per worker, as the forward kernels */
#define MIN_CHUNK_FLOATS 65536   /* concat: floats added per worker */
#define GELU_K 0.7978845608028654   /* sqrt(2 / pi), as xf_gelu_forward */
#define GELU_C 0.044715
#define INV_SQRT_2PI 0.3989422804014327

static int64_t rows_per_chunk(int64_t row_len, int64_t min_elems)
{
	int64_t n = min_elems / (row_len > 0 ? row_len : 1);

	return n > 1 ? n : 1;
}

enum act_op { RELU, TANH, SIGMOID, GELU_ERF, GELU_TANH };

struct act_job {
	enum act_op op;
	const float *v;   /* x (relu, gelu) or y (tanh, sigmoid) */
	const float *dy;
	float *dx;
};

/* d/dx 0.5 x (1 + erf(x / sqrt 2)) = Phi(x) + x phi(x), with Phi as 0.5 erfc(-x / sqrt 2) (no cancellation). */
static double gelu_erf_grad(double x)
{
	return 0.5 * erfc(-x * M_SQRT1_2) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}

/*
 * d/dx 0.5 x (1 + tanh u), u = k (x + c x^3): 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u',
 * written with s = 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)) and 1 - tanh^2 u = 4 s (1 - s) so
 * that neither term cancels for negative x.
 */
static double gelu_tanh_grad(double x)
{
	double u = GELU_K * (x + GELU_C * x * x * x);
	double s = 1.0 / (1.0 + exp(-2.0 * u)), s1 = 1.0 / (1.0 + exp(2.0 * u));

	return s + 2.0 * x * s * s1 * GELU_K * (1.0 + 3.0 * GELU_C * x * x);
}

static void act_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct act_job *job = ctx;
	const float *v = job->v, *dy = job->dy;
	float *dx = job->dx;

	switch (job->op) {
	case RELU:
		for (int64_t i = begin; i < end; i++)
			dx[i] += v[i] > 0.0f ? dy[i] : 0.0f;
		break;
	case TANH:
		for (int64_t i = begin; i < end; i++)
			dx[i] += dy[i] * (1.0f - v[i] * v[i]);
		break;
	case SIGMOID:
		for (int64_t i = begin; i < end; i++)
			dx[i] += dy[i] * (1.0f - v[i]) * v[i];
		break;
	case GELU_ERF:
		for (int64_t i = begin; i < end; i++)
			dx[i] += (float)(dy[i] * gelu_erf_grad(v[i]));
		break;
	case GELU_TANH:
		for (int64_t i = begin; i < end; i++)
			dx[i] += (float)(dy[i] * gelu_tanh_grad(v[i]));
		break;
	}
}

static void act_backward(enum act_op op, const float *v, const float *dy, int64_t n, float *dx, int threads)
{
	struct act_job job = { op, v, dy, dx };

	if (dx)
		xf_parallel_for(n, threads, MIN_CHUNK, act_chunk, &job);
}

void xf_relu_backward(const float *x, const float *dy, int64_t n, float *dx, int threads)
{
	act_backward(RELU, x, dy, n, dx, threads);
}

void xf_tanh_backward(const float *y, const float *dy, int64_t n, float *dx, int threads)
{
	act_backward(TANH, y, dy, n, dx, threads);
}

void xf_sigmoid_backward(const float *y, const float *dy, int64_t n, float *dx, int threads)
{
	act_backward(SIGMOID, y, dy, n, dx, threads);
}

void xf_gelu_backward(const float *x, const float *dy, int64_t n, bool tanh_approx, float *dx, int threads)
{
	act_backward(tanh_approx ? GELU_TANH : GELU_ERF, x, dy, n, dx, threads);
}

struct softmax_job {
	const float *y, *dy;
	int64_t dim, inner;
	float *dx;
};

/* Slice t of [outer, dim, inner], as the forward: dx += y (dy - sum(dy y)), the sum in double. */
static void softmax_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct softmax_job *job = ctx;
	int64_t st = job->inner;

	for (int64_t t = begin; t < end; t++) {
		int64_t base = t / st * job->dim * st + t % st;
		const float *y = job->y + base, *dy = job->dy + base;
		float *dx = job->dx + base;
		double dot = 0;

		for (int64_t d = 0; d < job->dim; d++)
			dot += (double)dy[d * st] * y[d * st];
		for (int64_t d = 0; d < job->dim; d++)
			dx[d * st] += (float)(y[d * st] * (dy[d * st] - dot));
	}
}

void xf_softmax_backward(const float *y, const float *dy, int64_t outer, int64_t dim, int64_t inner, float *dx,
			 int threads)
{
	struct softmax_job job = { y, dy, dim, inner, dx };

	if (dx)
		xf_parallel_for(outer * inner, threads, rows_per_chunk(dim, MIN_CHUNK), softmax_chunk, &job);
}

struct concat_job {
	int n_inputs;
	float *const *dx;
	const int64_t *width;
	int64_t total;  /* floats per row of dy */
	const float *dy;
};

static void concat_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct concat_job *job = ctx;

	for (int64_t r = begin; r < end; r++) {
		const float *src = job->dy + r * job->total;

		for (int k = 0; k < job->n_inputs; k++) {
			float *dst = job->dx[k] ? job->dx[k] + r * job->width[k] : NULL;

			for (int64_t j = 0; dst && j < job->width[k]; j++)
				dst[j] += src[j];
			src += job->width[k];
		}
	}
}

void xf_concat_backward(int n_inputs, float *const *dx, const int64_t *width, int64_t rows, const float *dy,
			int threads)
{
	struct concat_job job = { n_inputs, dx, width, 0, dy };

	for (int k = 0; k < n_inputs; k++)
		job.total += width[k];
	xf_parallel_for(rows, threads, rows_per_chunk(job.total, MIN_CHUNK_FLOATS), concat_chunk, &job);
}
