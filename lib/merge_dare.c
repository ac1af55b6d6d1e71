/*
 * merge_dare: DARE, drop and rescale (../shared/docs/merge.md §4). Each δ entry survives with
 * probability density, drawn from a stream of (seed, tensor index, model, block), so the drops
 * do not depend on threads. Survivors are rescaled by 1/density (official) or by
 * ‖δ‖₁/‖kept δ‖₁ per tensor (mergekit >= 0.1), then summed or elected as in TIES, without
 * TIES's magnitude trim.
 */
#include <math.h>

#include "merge_common.h"

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void xf_merge_dare_stream(struct xf_rng *r, uint64_t seed, int64_t tensor, int model, int64_t block)
{
	xf_rng_init(r, seed, mix64(mix64(mix64((uint64_t)tensor) ^ (uint64_t)model) ^ (uint64_t)block));
}

/* Two 32-bit draws per 64-bit word: position j of the block always gets the same draw. */
void xf_merge_dare_draws(struct xf_rng *r, uint32_t *draws)
{
	for (int j = 0; j < XF_MERGE_TILE; j += 2) {
		uint64_t x = xf_rng_next(r);

		draws[j] = (uint32_t)x;
		draws[j + 1] = (uint32_t)(x >> 32);
	}
}

struct l1 {
	double *part;   /* per block, per present model: ‖δ‖₁ and ‖kept δ‖₁ of the block */
};

#define LANES 16

/*
 * Σ|δ| and Σ|kept δ| of one tile of len positions into sums[0..2), in double. Lane-wise partial
 * sums in a fixed order (so that it vectorises without reassociating anything), then the lanes.
 */
XF_MERGE_MULTIVERSION
static void l1_tile(const float *restrict b, const float *restrict x, const uint32_t *restrict draws,
		    uint32_t keep_below, int64_t len, double *sums)
{
	double all[LANES] = { 0 }, kept[LANES] = { 0 };
	int64_t j = 0;

	for (; j + LANES <= len; j += LANES)
		for (int l = 0; l < LANES; l++) {
			double a = fabsf(x[j + l] - b[j + l]);

			all[l] += a;
			kept[l] += draws[j + l] < keep_below ? a : 0.0;
		}
	for (; j < len; j++) {
		double a = fabsf(x[j] - b[j]);

		all[0] += a;
		kept[0] += draws[j] < keep_below ? a : 0.0;
	}
	for (int l = 0; l < LANES; l++) {
		sums[0] += all[l];
		sums[1] += kept[l];
	}
}

/* The block's L1 norms with the same draws as the merge kernel (one stream per model, tile by tile). */
static void l1_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	struct l1 *c = job->ctx;
	int64_t end = (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n;
	double *part = c->part + (size_t)block * 2 * (size_t)job->n_present;

	for (int i = 0; i < job->n_present; i++) {
		xf_merge_dare_stream(&s->rng[i], job->m->o.seed, job->index, job->mod[i].index, block);
		part[2 * i] = part[2 * i + 1] = 0.0;
	}
	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += XF_MERGE_TILE) {
		int64_t len = end - p0 < XF_MERGE_TILE ? end - p0 : XF_MERGE_TILE;

		for (int i = 0; i < job->n_present; i++) {
			xf_merge_dare_draws(&s->rng[i], s->draws);
			l1_tile(job->base + p0, job->mod[i].x + p0, s->draws, job->keep_below, len, part + 2 * i);
		}
	}
}

/* mergekit's rescale per model: ‖δ‖₁/‖kept‖₁, or none when either is below 1e-7; sums in block order. */
static int l1_scales(struct xf_merge_job *job, struct xf_err *err)
{
	size_t np = (size_t)job->n_present;
	struct l1 c = { xf_merge_scratch(job->m, XF_MERGE_BLOCKS, (size_t)job->n_blocks * 2 * np * sizeof(double), err) };

	if (!c.part)
		return -1;
	job->ctx = &c;
	xf_merge_for_blocks(job, l1_block);
	job->ctx = NULL;
	for (size_t i = 0; i < np; i++) {
		double all = 0.0, kept = 0.0;

		for (int64_t b = 0; b < job->n_blocks; b++) {
			all += c.part[(size_t)b * 2 * np + 2 * i];
			kept += c.part[(size_t)b * 2 * np + 2 * i + 1];
		}
		if (all >= 1e-7 && kept >= 1e-7)
			job->mod[i].rescale_mul = (float)(all / kept);
	}
	return 0;
}

int xf_merge_dare(struct xf_merger *m, int64_t index, const float *base, const float *const *models, int64_t n,
		  float *out, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, base, out, n, index, xf_merge_present(m, models));
	bool official = m->o.compat == XF_MERGE_OFFICIAL;

	job.drop = m->o.density < 1;
	job.keep_below = job.drop ? (uint32_t)(m->o.density * 4294967296.0) : UINT32_MAX;
	if (job.drop && official)
		for (int i = 0; i < job.n_present; i++)
			job.mod[i].rescale_div = (float)m->o.density;
	if (job.drop && !official && l1_scales(&job, err) < 0)
		return -1;
	job.descending = !official;
	if (m->o.elect) {
		job.elect = true;
		return xf_merge_run_elect(&job, official, err);
	}
	if (m->o.normalize)
		job.divisor = xf_merge_sum_divisor(&job);
	xf_merge_for_blocks(&job, xf_merge_sum_block);
	return 0;
}
