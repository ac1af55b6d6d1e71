/*
 * merge_interp: the methods that interpolate instead of trimming (../shared/docs/merge.md
 * §1, 2, 7, 8): linear (weighted average), task arithmetic, slerp and model stock. Dot products
 * and norms are summed in double per block and the blocks combined in order, so threads do not
 * change the result.
 */
#include <math.h>
#include <string.h>

#include "merge_common.h"

#define TILE XF_MERGE_TILE
#define INLINE static inline __attribute__((always_inline))

static int64_t block_end(const struct xf_merge_job *job, int64_t block)
{
	return (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n;
}

/* out = Σ w x / divisor over one tile (float32, as mergekit), len a constant TILE for full tiles so it vectorises. */
INLINE void linear_loop(const struct xf_merge_job *job, float *restrict acc, float *restrict o, int64_t p0,
			int64_t len)
{
	float divisor = (float)job->divisor;

	for (int64_t j = 0; j < len; j++)
		acc[j] = 0.0f;
	for (int i = 0; i < job->n_present; i++) {
		const float *restrict x = job->mod[i].x + p0;
		float w = (float)job->mod[i].w;

		for (int64_t j = 0; j < len; j++)
			acc[j] += w * x[j];
	}
	for (int64_t j = 0; j < len; j++)
		o[j] = acc[j] / divisor;
}

XF_MERGE_MULTIVERSION
static void linear_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	int64_t end = block_end(job, block);

	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += TILE) {
		if (end - p0 >= TILE)
			linear_loop(job, s->acc, job->out + p0, p0, TILE);
		else
			linear_loop(job, s->acc, job->out + p0, p0, end - p0);
	}
}

int xf_merge_linear(struct xf_merger *m, const char *name, const float *const *models, int64_t n, float *out,
		    struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, NULL, out, n, 0, xf_merge_present(m, models));
	double sum = 0.0;

	for (int i = 0; i < job.n_present; i++)
		sum += job.mod[i].w;
	if (m->o.normalize && fabs(sum) < 1e-8)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': the weights of the models that have it sum to %g", name,
				  sum);
	job.divisor = m->o.normalize ? sum : 1.0;
	xf_merge_for_blocks(&job, linear_block);
	return 0;
}

int xf_merge_task_arithmetic(struct xf_merger *m, const float *base, const float *const *models, int64_t n,
			     float *out, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, base, out, n, 0, xf_merge_present(m, models));

	(void)err;
	if (m->o.normalize)
		job.divisor = xf_merge_sum_divisor(&job);
	xf_merge_for_blocks(&job, xf_merge_sum_block);
	return 0;
}

/* Per-block sums of products: slerp's ⟨v0,v1⟩, ‖v0‖², ‖v1‖²; model stock's ‖δᵢ‖² and ⟨δᵢ,δⱼ⟩. */
struct dots {
	const float *v0, *v1;   /* slerp */
	double *part;           /* per block: n_dots sums */
	int n_dots;
	double c0, c1;          /* slerp: out = c0 v0 + c1 v1; model stock: out = c0 mean(θ) + c1 θ₀ */
};

static void slerp_dots_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	struct dots *d = job->ctx;
	double dot = 0.0, n0 = 0.0, n1 = 0.0;

	(void)s;
	for (int64_t j = block * XF_MERGE_BLOCK; j < block_end(job, block); j++) {
		double a = d->v0[j], b = d->v1[j];

		dot += a * b;
		n0 += a * a;
		n1 += b * b;
	}
	d->part[3 * block] = dot;
	d->part[3 * block + 1] = n0;
	d->part[3 * block + 2] = n1;
}

static void slerp_mix_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	const struct dots *d = job->ctx;

	(void)s;
	for (int64_t j = block * XF_MERGE_BLOCK; j < block_end(job, block); j++)
		job->out[j] = (float)(d->c0 * d->v0[j] + d->c1 * d->v1[j]);
}

/* The per-block sums of d->part added in block order into sum[0..n_dots). */
static void sum_parts(const struct dots *d, int64_t n_blocks, double *sum)
{
	for (int k = 0; k < d->n_dots; k++)
		sum[k] = 0.0;
	for (int64_t b = 0; b < n_blocks; b++)
		for (int k = 0; k < d->n_dots; k++)
			sum[k] += d->part[b * d->n_dots + k];
}

/*
 * mergekit's slerp: a tensor of norm > 1e-8 is normalised for the cosine; |cos| > 0.9995 falls
 * back to lerp; otherwise the sine weights apply to the tensors as they are (so an all-zero
 * tensor, left un-normalised, gives cos 0 and weights cos(tπ/2), sin(tπ/2)).
 */
static void slerp_weights(const double *sum, double t, double *c0, double *c1)
{
	double n0 = sqrt(sum[1]), n1 = sqrt(sum[2]);
	double c = sum[0] / ((n0 > 1e-8 ? n0 : 1.0) * (n1 > 1e-8 ? n1 : 1.0)), theta, theta_t, s;

	if (fabs(c) > 0.9995) {
		*c0 = 1.0 - t;
		*c1 = t;
		return;
	}
	theta = acos(c);
	s = sin(theta);
	theta_t = theta * t;
	*c0 = sin(theta - theta_t) / s;
	*c1 = sin(theta_t) / s;
}

/*
 * v0 is the base (with one model, which then needs it) or the first model (with two, where a
 * tensor only one of them has is copied, as mergekit does).
 */
int xf_merge_slerp(struct xf_merger *m, const char *name, const float *base, const float *const *models, int64_t n,
		   float *out, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, NULL, out, n, 0, 0);
	struct dots d = { m->o.n_models == 1 ? base : models[0], m->o.n_models == 1 ? models[0] : models[1], NULL, 3,
			  0, 0 };
	double sum[3];

	if (m->o.n_models == 2 && base)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': slerp of two models takes no base", name);
	if (m->o.n_models == 1 && !base)
		return xf_err_set(err, XF_E_USAGE,
				  "tensor '%s': the base model lacks it (slerp of one model needs the base)", name);
	if (!d.v0 || !d.v1) {
		memcpy(out, d.v0 ? d.v0 : d.v1, (size_t)n * sizeof(float));
		return 0;
	}
	d.part = xf_merge_scratch(m, XF_MERGE_BLOCKS, (size_t)job.n_blocks * 3 * sizeof(double), err);
	if (!d.part)
		return -1;
	job.ctx = &d;
	xf_merge_for_blocks(&job, slerp_dots_block);
	sum_parts(&d, job.n_blocks, sum);
	slerp_weights(sum, m->o.t, &d.c0, &d.c1);
	job.descending = true;
	xf_merge_for_blocks(&job, slerp_mix_block);
	return 0;
}

/* The block's ‖δᵢ‖² (first n_present sums) and ⟨δᵢ,δⱼ⟩ for i < j (then, row by row). */
static void stock_dots_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	struct dots *d = job->ctx;
	double *part = d->part + block * d->n_dots;
	int np = job->n_present;
	int64_t end = block_end(job, block);

	for (int k = 0; k < d->n_dots; k++)
		part[k] = 0.0;
	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += TILE) {
		int64_t len = end - p0 < TILE ? end - p0 : TILE;
		int k = np;

		for (int i = 0; i < np; i++)
			for (int64_t j = 0; j < len; j++)
				s->pad[(size_t)i * TILE + (size_t)j] = job->mod[i].x[p0 + j] - job->base[p0 + j];
		for (int i = 0; i < np; i++) {
			for (int q = i; q < np; q++) {
				const float *a = s->pad + (size_t)i * TILE, *b = s->pad + (size_t)q * TILE;
				double dot = 0.0;

				for (int64_t j = 0; j < len; j++)
					dot += (double)a[j] * (double)b[j];
				part[q == i ? i : k++] += dot;
			}
		}
	}
}

static void stock_mix_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	const struct dots *d = job->ctx;
	int np = job->n_present;

	(void)s;
	for (int64_t j = block * XF_MERGE_BLOCK; j < block_end(job, block); j++) {
		double mean = 0.0;

		for (int i = 0; i < np; i++)
			mean += job->mod[i].x[j];
		job->out[j] = (float)(d->c0 * (mean / np) + d->c1 * (double)job->base[j]);
	}
}

/*
 * mergekit's model stock: c = the mean over pairs of cos(δᵢ, δⱼ) = ⟨δᵢ,δⱼ⟩ / max(‖δᵢ‖‖δⱼ‖, 1e-6)
 * clamped to [-1, 1]; t = N c / (1 + (N - 1) c); out = t mean(θ) + (1 - t) θ₀.
 */
static int stock_weights(const double *sum, int np, const char *name, double *c0, double *c1, struct xf_err *err)
{
	double c = 0.0, denom;
	int k = np;

	for (int i = 0; i < np; i++) {
		for (int q = i + 1; q < np; q++) {
			double norms = sqrt(sum[i]) * sqrt(sum[q]), cos = sum[k++] / (norms > 1e-6 ? norms : 1e-6);

			c += cos < -1 ? -1 : cos > 1 ? 1 : cos;
		}
	}
	c /= (double)np * (np - 1) / 2;
	denom = 1 + (np - 1) * c;
	if (denom == 0)
		return xf_err_set(err, XF_E_USAGE,
				  "tensor '%s': model stock's mean cosine is -1/(N-1) = %g, its t divides by zero",
				  name, c);
	*c0 = np * c / denom;
	*c1 = 1 - *c0;
	return 0;
}

int xf_merge_model_stock(struct xf_merger *m, const char *name, const float *base, const float *const *models,
			 int64_t n, float *out, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, base, out, n, 0, xf_merge_present(m, models));
	int np = job.n_present;
	struct dots d = { NULL, NULL, NULL, np + np * (np - 1) / 2, 0, 0 };
	double *sum;

	if (np < 2)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': model stock needs it in at least 2 models (%d have it)",
				  name, np);
	d.part = xf_merge_scratch(m, XF_MERGE_BLOCKS, (size_t)(job.n_blocks + 1) * (size_t)d.n_dots * sizeof(double),
				  err);
	if (!d.part)
		return -1;
	sum = d.part + job.n_blocks * d.n_dots;
	job.ctx = &d;
	xf_merge_for_blocks(&job, stock_dots_block);
	sum_parts(&d, job.n_blocks, sum);
	if (stock_weights(sum, np, name, &d.c0, &d.c1, err) < 0)
		return -1;
	job.descending = true;
	xf_merge_for_blocks(&job, stock_mix_block);
	return 0;
}
