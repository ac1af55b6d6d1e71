/*
 * nn_grad_norm: layernorm's backward, and batchnorm's training forward and backward
 * (nn_grad.h). Sums over the batch are kept in double by one worker each, in row order:
 * layernorm's parameter gradients are split over columns, batchnorm over channels, so the
 * thread count never changes the order of a sum.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_grad.h"
#include "parallel.h"

#define MIN_CHUNK 16384   /* elements per worker: below that, starting a thread costs more than it saves */
#define LN_COLS 64        /* layernorm parameter columns summed together: 256 contiguous bytes of each row */

static int64_t per_chunk(int64_t elems_per_item)
{
	int64_t n = MIN_CHUNK / (elems_per_item > 0 ? elems_per_item : 1);

	return n > 1 ? n : 1;
}

/* ---- layernorm ---- */

struct ln_job {
	const struct xf_layernorm *ln;
	const float *x, *dy;
	int64_t rows;
	float *dx, *dweight, *dbias;
	double *stats;   /* [rows, 2]: mean and 1 / sqrt(var + eps) per row; NULL: recomputed where needed */
};

/* The row's mean and 1 / sqrt(var + eps), as xf_layernorm_forward (double, two passes). */
static void ln_stats(const struct xf_layernorm *ln, const float *x, double *mean, double *rstd)
{
	double m = 0, var = 0;

	for (int64_t i = 0; i < ln->n; i++)
		m += x[i];
	m /= ln->n;
	for (int64_t i = 0; i < ln->n; i++)
		var += (x[i] - m) * (x[i] - m);
	*mean = m, *rstd = 1.0 / sqrt(var / ln->n + ln->eps);
}

/*
 * With g = dy weight and xhat = (x - mean) rstd: dx += rstd (g - mean(g) - xhat mean(g xhat)),
 * the means in double.
 */
static void ln_row_dx(const struct xf_layernorm *ln, const float *x, const float *dy, double mean, double rstd,
		      float *dx)
{
	double sg = 0, sgx = 0;

	for (int64_t i = 0; i < ln->n; i++) {
		double g = (double)dy[i] * ln->weight[i];

		sg += g, sgx += g * ((x[i] - mean) * rstd);
	}
	sg /= ln->n, sgx /= ln->n;
	for (int64_t i = 0; i < ln->n; i++) {
		double g = (double)dy[i] * ln->weight[i], xhat = (x[i] - mean) * rstd;

		dx[i] += (float)(rstd * (g - sg - xhat * sgx));
	}
}

/* Rows [begin, end): their statistics (kept in job->stats when there) and dx. */
static void ln_rows_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct ln_job *job = ctx;
	int64_t n = job->ln->n;

	for (int64_t r = begin; r < end; r++) {
		double mean, rstd;

		ln_stats(job->ln, job->x + r * n, &mean, &rstd);
		if (job->stats)
			job->stats[2 * r] = mean, job->stats[2 * r + 1] = rstd;
		if (job->dx)
			ln_row_dx(job->ln, job->x + r * n, job->dy + r * n, mean, rstd, job->dx + r * n);
	}
}

/* Column blocks [begin, end) of LN_COLS: dweight += sum over rows of dy xhat, dbias += sum of dy. */
static void ln_params_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct ln_job *job = ctx;
	int64_t n = job->ln->n;

	for (int64_t b = begin; b < end; b++) {
		int64_t j0 = b * LN_COLS, nj = n - j0 < LN_COLS ? n - j0 : LN_COLS;
		double sw[LN_COLS] = { 0 }, sb[LN_COLS] = { 0 };

		for (int64_t r = 0; r < job->rows; r++) {
			const float *x = job->x + r * n + j0, *dy = job->dy + r * n + j0;
			double mean, rstd;

			if (job->stats)
				mean = job->stats[2 * r], rstd = job->stats[2 * r + 1];
			else
				ln_stats(job->ln, job->x + r * n, &mean, &rstd);
			for (int64_t j = 0; j < nj; j++) {
				sw[j] += dy[j] * ((x[j] - mean) * rstd);
				sb[j] += dy[j];
			}
		}
		for (int64_t j = 0; j < nj; j++) {
			if (job->dweight)
				job->dweight[j0 + j] += (float)sw[j];
			if (job->dbias)
				job->dbias[j0 + j] += (float)sb[j];
		}
	}
}

/*
 * Two passes: rows (statistics and dx), then parameter columns. The statistics are kept
 * between them; if that small allocation fails, the second pass recomputes them (slower,
 * same bits), since this function has no error return.
 */
void xf_layernorm_backward(const struct xf_layernorm *ln, const float *x, const float *dy, int64_t rows, float *dx,
			   float *dweight, float *dbias, int threads)
{
	struct ln_job job = { ln, x, dy, rows, dx, dweight, dbias, NULL };
	bool params = dweight || dbias;

	if (rows <= 0 || ln->n <= 0 || (!dx && !params))
		return;
	if (params)
		job.stats = malloc(2 * rows * sizeof(double));
	if (dx || job.stats)
		xf_parallel_for(rows, threads, per_chunk(ln->n), ln_rows_chunk, &job);
	if (params)
		xf_parallel_for((ln->n + LN_COLS - 1) / LN_COLS, threads, per_chunk(rows * LN_COLS), ln_params_chunk,
				&job);
	free(job.stats);
}

/* ---- batchnorm ---- */

struct bn_job {
	const struct xf_batchnorm *bn;
	double momentum;
	const float *x, *dy;
	int64_t batch, inner;
	float *y, *running_mean, *running_var, *save_mean, *save_invstd;   /* forward */
	const float *mean, *invstd;                                        /* backward */
	float *dx, *dweight, *dbias;                                       /* backward */
};

/* Channel ch's mean and biased variance over batch x inner, in double, two passes. */
static void bn_stats(const struct bn_job *job, int64_t ch, double *mean, double *var)
{
	int64_t c = job->bn->c, inner = job->inner, n = job->batch * inner;
	double m = 0, v = 0;

	for (int64_t b = 0; b < job->batch; b++) {
		const float *x = job->x + (b * c + ch) * inner;

		for (int64_t i = 0; i < inner; i++)
			m += x[i];
	}
	m /= n;
	for (int64_t b = 0; b < job->batch; b++) {
		const float *x = job->x + (b * c + ch) * inner;

		for (int64_t i = 0; i < inner; i++)
			v += (x[i] - m) * (x[i] - m);
	}
	*mean = m, *var = v / n;
}

/*
 * Channels [begin, end): statistics, y as the inference forward (scale and shift in double,
 * applied in float, as torch's CPU kernel), the saved statistics and the running ones.
 */
static void bn_forward_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct bn_job *job = ctx;
	const struct xf_batchnorm *bn = job->bn;
	int64_t n = job->batch * job->inner;

	double m = job->momentum;

	for (int64_t ch = begin; ch < end; ch++) {
		double mean, var, invstd, scale;
		float shift;

		bn_stats(job, ch, &mean, &var);
		invstd = 1.0 / sqrt(var + bn->eps);
		scale = bn->weight[ch] * invstd;
		shift = (float)(bn->bias[ch] - mean * scale);
		for (int64_t b = 0; b < job->batch; b++) {
			int64_t off = (b * bn->c + ch) * job->inner;

			xf_scale_shift(job->x + off, job->y + off, job->inner, (float)scale, shift);
		}
		if (job->save_mean)
			job->save_mean[ch] = (float)mean;
		if (job->save_invstd)
			job->save_invstd[ch] = (float)invstd;
		if (job->running_mean)
			job->running_mean[ch] = (float)((1 - m) * job->running_mean[ch] + m * mean);
		if (job->running_var && n > 1)
			job->running_var[ch] = (float)((1 - m) * job->running_var[ch] + m * var * n / (n - 1));
	}
}

void xf_batchnorm_train_forward(const struct xf_batchnorm *bn, double momentum, const float *x, int64_t batch,
				int64_t inner, float *y, float *running_mean, float *running_var, float *save_mean,
				float *save_invstd, int threads)
{
	struct bn_job job = { bn, momentum, x, NULL, batch, inner, y, running_mean, running_var, save_mean,
			      save_invstd, NULL, NULL, NULL, NULL, NULL };

	if (batch <= 0 || inner <= 0)
		return;
	xf_parallel_for(bn->c, threads, per_chunk(batch * inner), bn_forward_chunk, &job);
}

/*
 * Channels [begin, end): with xhat = (x - mean) invstd, sum(dy) and sum(dy xhat) over
 * batch x inner (N values) in double; they are dbias and dweight, and
 * dx = invstd weight / N (N dy - sum(dy) - xhat sum(dy xhat)).
 */
static void bn_backward_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct bn_job *job = ctx;
	const struct xf_batchnorm *bn = job->bn;
	int64_t inner = job->inner;
	double n = (double)job->batch * inner;

	for (int64_t ch = begin; ch < end; ch++) {
		double mean = job->mean[ch], invstd = job->invstd[ch], sdy = 0, sdyx = 0, k;

		for (int64_t b = 0; b < job->batch; b++) {
			const float *x = job->x + (b * bn->c + ch) * inner, *dy = job->dy + (b * bn->c + ch) * inner;

			for (int64_t i = 0; i < inner; i++)
				sdy += dy[i], sdyx += dy[i] * ((x[i] - mean) * invstd);
		}
		if (job->dweight)
			job->dweight[ch] += (float)sdyx;
		if (job->dbias)
			job->dbias[ch] += (float)sdy;
		if (!job->dx)
			continue;
		k = invstd * bn->weight[ch] / n;
		for (int64_t b = 0; b < job->batch; b++) {
			int64_t off = (b * bn->c + ch) * inner;
			const float *x = job->x + off, *dy = job->dy + off;
			float *dx = job->dx + off;

			for (int64_t i = 0; i < inner; i++)
				dx[i] += (float)(k * (n * dy[i] - sdy - (x[i] - mean) * invstd * sdyx));
		}
	}
}

void xf_batchnorm_train_backward(const struct xf_batchnorm *bn, const float *x, const float *dy, int64_t batch,
				 int64_t inner, const float *save_mean, const float *save_invstd, float *dx,
				 float *dweight, float *dbias, int threads)
{
	struct bn_job job = { bn, 0, x, dy, batch, inner, NULL, NULL, NULL, NULL, NULL, save_mean, save_invstd,
			      dx, dweight, dbias };

	if (batch <= 0 || inner <= 0 || (!dx && !dweight && !dbias))
		return;
	xf_parallel_for(bn->c, threads, per_chunk(batch * inner), bn_backward_chunk, &job);
}
