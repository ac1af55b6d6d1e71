/* nn_elementwise: activations, add, softmax, layernorm and batchnorm; see nn_elementwise.h. */
#include <math.h>
#include <string.h>

#include "nn_elementwise.h"
#include "parallel.h"

#define MIN_CHUNK 16384   /* elements per worker: below that, starting a thread costs more than it saves */
#define ADD_TILE 256      /* elements summed in a local buffer, so that y may alias any input */
#define LANES 16          /* floats per fixed-size block in the simple loops (one AVX-512 vector) */

static int64_t rows_per_chunk(int64_t row_len)
{
	int64_t n = MIN_CHUNK / (row_len > 0 ? row_len : 1);

	return n > 1 ? n : 1;
}

enum unary_op { RELU, TANH, SIGMOID, GELU_ERF, GELU_TANH };

struct unary_job {
	enum unary_op op;
	const float *x;
	float *y;
};

static float gelu_tanh(float x)
{
	float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);   /* sqrt(2 / pi) (x + 0.044715 x^3) */

	return x / (1.0f + expf(-2.0f * u));
}

/*
 * y[i] = x[i] > 0 ? x[i] : 0, NaN kept. Fixed blocks of LANES through a local array: at -O2
 * GCC vectorises only loops whose trip count it knows, and the copy also makes y == x safe.
 */
static void relu_range(const float *x, float *y, int64_t begin, int64_t end)
{
	int64_t i = begin;

	for (; i + LANES <= end; i += LANES) {
		float t[LANES];

		memcpy(t, x + i, sizeof(t));
		for (int k = 0; k < LANES; k++)
			t[k] = t[k] < 0.0f ? 0.0f : t[k];
		memcpy(y + i, t, sizeof(t));
	}
	for (; i < end; i++)
		y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* One switch per chunk; the transcendental ones are libm calls, which no layout speeds up. */
static void unary_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct unary_job *job = ctx;
	const float *x = job->x;
	float *y = job->y;

	switch (job->op) {
	case RELU:
		relu_range(x, y, begin, end);
		break;
	case TANH:
		for (int64_t i = begin; i < end; i++)
			y[i] = tanhf(x[i]);
		break;
	case SIGMOID:
		for (int64_t i = begin; i < end; i++)
			y[i] = 1.0f / (1.0f + expf(-x[i]));
		break;
	case GELU_ERF:
		for (int64_t i = begin; i < end; i++)
			y[i] = 0.5f * x[i] * erfcf(-x[i] * (float)M_SQRT1_2);
		break;
	case GELU_TANH:
		for (int64_t i = begin; i < end; i++)
			y[i] = gelu_tanh(x[i]);
		break;
	}
}

static void unary(enum unary_op op, const float *x, int64_t n, float *y, int threads)
{
	struct unary_job job = { op, x, y };

	xf_parallel_for(n, threads, MIN_CHUNK, unary_chunk, &job);
}

void xf_relu_forward(const float *x, int64_t n, float *y, int threads)
{
	unary(RELU, x, n, y, threads);
}

void xf_tanh_forward(const float *x, int64_t n, float *y, int threads)
{
	unary(TANH, x, n, y, threads);
}

void xf_sigmoid_forward(const float *x, int64_t n, float *y, int threads)
{
	unary(SIGMOID, x, n, y, threads);
}

void xf_gelu_forward(const float *x, int64_t n, bool tanh_approx, float *y, int threads)
{
	unary(tanh_approx ? GELU_TANH : GELU_ERF, x, n, y, threads);
}

struct add_job {
	int n_inputs;
	const float *const *x;
	float *y;
};

/* len floats of the sum at i into out; a fixed len lets -O2 vectorise (see relu_range). */
static void add_tile(const struct add_job *job, int64_t i, int len, float *out)
{
	memcpy(out, job->x[0] + i, len * sizeof(float));
	for (int k = 1; k < job->n_inputs; k++) {
		const float *x = job->x[k] + i;

		if (len == ADD_TILE)
			for (int j = 0; j < ADD_TILE; j++)
				out[j] += x[j];
		else
			for (int j = 0; j < len; j++)
				out[j] += x[j];
	}
}

static void add_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct add_job *job = ctx;
	float sum[ADD_TILE];

	for (int64_t i = begin; i < end; i += ADD_TILE) {
		int len = end - i < ADD_TILE ? (int)(end - i) : ADD_TILE;

		add_tile(job, i, len, sum);
		memcpy(job->y + i, sum, len * sizeof(float));
	}
}

void xf_add_forward(int n_inputs, const float *const *x, int64_t n, float *y, int threads)
{
	struct add_job job = { n_inputs, x, y };

	xf_parallel_for(n, threads, MIN_CHUNK, add_chunk, &job);
}

struct softmax_job {
	const float *x;
	int64_t dim, inner;
	float *y;
};

/* Slice t of [outer, dim, inner]: outer index t / inner, inner index t % inner. */
static void softmax_slice(const struct softmax_job *job, int64_t t)
{
	int64_t base = t / job->inner * job->dim * job->inner + t % job->inner, st = job->inner;
	const float *x = job->x + base;
	float *y = job->y + base, m = -INFINITY;
	double sum = 0;

	for (int64_t d = 0; d < job->dim; d++)
		m = x[d * st] > m || isnan(x[d * st]) ? x[d * st] : m;
	for (int64_t d = 0; d < job->dim; d++) {
		y[d * st] = expf(x[d * st] - m);
		sum += y[d * st];
	}
	for (int64_t d = 0; d < job->dim; d++)
		y[d * st] = (float)(y[d * st] / sum);
}

static void softmax_chunk(void *ctx, int64_t begin, int64_t end)
{
	for (int64_t t = begin; t < end; t++)
		softmax_slice(ctx, t);
}

void xf_softmax_forward(const float *x, int64_t outer, int64_t dim, int64_t inner, float *y, int threads)
{
	struct softmax_job job = { x, dim, inner, y };

	xf_parallel_for(outer * inner, threads, rows_per_chunk(dim), softmax_chunk, &job);
}

struct layernorm_job {
	const struct xf_layernorm *ln;
	const float *x;
	float *y;
};

static void layernorm_row(const struct xf_layernorm *ln, const float *x, float *y)
{
	double mean = 0, var = 0;
	float m, rstd;

	for (int64_t i = 0; i < ln->n; i++)
		mean += x[i];
	mean /= ln->n;
	for (int64_t i = 0; i < ln->n; i++)
		var += (x[i] - mean) * (x[i] - mean);
	m = (float)mean, rstd = (float)(1.0 / sqrt(var / ln->n + ln->eps));
	for (int64_t i = 0; i < ln->n; i++)
		y[i] = (x[i] - m) * rstd * ln->weight[i] + (ln->bias ? ln->bias[i] : 0.0f);
}

static void layernorm_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct layernorm_job *job = ctx;
	int64_t n = job->ln->n;

	for (int64_t r = begin; r < end; r++)
		layernorm_row(job->ln, job->x + r * n, job->y + r * n);
}

void xf_layernorm_forward(const struct xf_layernorm *ln, const float *x, int64_t rows, float *y, int threads)
{
	struct layernorm_job job = { ln, x, y };

	xf_parallel_for(rows, threads, rows_per_chunk(ln->n), layernorm_chunk, &job);
}

struct batchnorm_job {
	const struct xf_batchnorm *bn;
	const float *x;
	int64_t inner;
	float *y;
};

void xf_scale_shift(const float *x, float *y, int64_t n, float scale, float shift)
{
	int64_t i = 0;

	for (; i + LANES <= n; i += LANES) {
		float t[LANES];

		memcpy(t, x + i, sizeof(t));
		for (int k = 0; k < LANES; k++)
			t[k] = t[k] * scale + shift;
		memcpy(y + i, t, sizeof(t));
	}
	for (; i < n; i++)
		y[i] = x[i] * scale + shift;
}

/* Plane t = (sample, channel) of inner elements. */
static void batchnorm_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct batchnorm_job *job = ctx;
	const struct xf_batchnorm *bn = job->bn;

	for (int64_t t = begin; t < end; t++) {
		int64_t ch = t % bn->c;
		double s = bn->weight[ch] / sqrt((double)bn->var[ch] + bn->eps);
		float scale = (float)s, shift = (float)(bn->bias[ch] - bn->mean[ch] * s);
		const float *x = job->x + t * job->inner;
		float *y = job->y + t * job->inner;

		xf_scale_shift(x, y, job->inner, scale, shift);
	}
}

void xf_batchnorm_forward(const struct xf_batchnorm *bn, const float *x, int64_t batch, int64_t inner, float *y,
			  int threads)
{
	struct batchnorm_job job = { bn, x, inner, y };

	xf_parallel_for(batch * bn->c, threads, rows_per_chunk(inner), batchnorm_chunk, &job);
}
