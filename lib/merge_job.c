/*
 * merge_job: running a pass over a tensor (merge_common.h): workers over contiguous runs of
 * blocks, the present models of a tensor, and the election job with the official majority
 * fix-up. The per-tile kernels are in merge_tile.c.
 */
#include <math.h>
#include <string.h>

#include "merge_common.h"
#include "parallel.h"

#define MIN_BLOCKS 16   /* blocks per worker at least: smaller tensors are not worth a thread */
#define STREAM_MIN ((int64_t)1 << 21)  /* outputs this long bypass the cache (non-temporal stores) */

struct run {
	struct xf_merge_job *job;
	void (*fn)(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block);
	int64_t parts;
};

static void run_parts(void *ctx, int64_t begin, int64_t end)
{
	struct run *r = ctx;
	struct xf_merge_job *job = r->job;

	for (int64_t p = begin; p < end; p++) {
		int64_t b0 = job->n_blocks * p / r->parts, b1 = job->n_blocks * (p + 1) / r->parts;

		for (int64_t k = b0; k < b1; k++) {
			int64_t b = job->descending ? b1 - 1 - (k - b0) : k;

			r->fn(job, &job->m->slots[p], job->blocks ? job->blocks[b] : b);
		}
	}
}

int64_t xf_merge_parts(const struct xf_merger *m, int64_t n_blocks, int64_t max_parts)
{
	int64_t parts = n_blocks / MIN_BLOCKS, most = max_parts > 0 && max_parts < m->n_slots ? max_parts : m->n_slots;

	return parts < 1 ? 1 : parts > most ? most : parts;
}

void xf_merge_for_blocks(struct xf_merge_job *job,
			 void (*fn)(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block))
{
	struct run r = { job, fn, xf_merge_parts(job->m, job->n_blocks, job->max_parts) };

	if (job->n_blocks > 0)
		xf_parallel_for(r.parts, (int)r.parts, 1, run_parts, &r);
}

struct xf_merge_job xf_merge_job_init(struct xf_merger *m, const float *base, float *out, int64_t n,
				      int64_t index, int n_present)
{
	struct xf_merge_job job = { 0 };

	job.m = m;
	job.base = base;
	job.out = out;
	job.n = n;
	job.index = index;
	job.n_present = n_present;
	job.mod = m->mod;
	job.lambda = m->o.lambda;
	job.divisor = 1.0;
	job.normalize = m->o.normalize;
	job.zero_pos = m->o.compat == XF_MERGE_MERGEKIT;
	job.n_blocks = xf_merge_blocks(n);
	job.stream = out && n >= STREAM_MIN && ((uintptr_t)out & 15) == 0;
	return job;
}

double xf_merge_sum_divisor(const struct xf_merge_job *job)
{
	double sum = 0.0;

	for (int i = 0; i < job->n_present; i++)
		sum += job->m->w[job->mod[i].index];
	return fabs(sum) < 1e-8 ? 1.0 : sum;
}

int xf_merge_present(struct xf_merger *m, const float *const *models)
{
	int k = 0;

	for (int i = 0; i < m->o.n_models; i++) {
		if (!models[i])
			continue;
		m->mod[k] = (struct xf_merge_model){ 0 };
		m->mod[k].x = models[i];
		m->mod[k].index = i;
		m->mod[k].w = m->w[i];
		m->mod[k].dw = m->o.compat == XF_MERGE_MERGEKIT ? m->w[i] : 1.0;
		m->mod[k].cut = INT64_MAX;
		m->mod[k].rescale_mul = m->mod[k].rescale_div = 1.0f;
		m->mod[k].cand_off = m->cand_off + (size_t)i * (size_t)(m->n_slots + 1);
		k++;
	}
	return k;
}

/*
 * The official code replaces a zero election sum by the majority sign of the whole scope,
 * which is known only at the end. The first run elects the negative side there (right for a
 * majority <= 0) and flags the blocks where that selected something; a positive majority
 * reruns just those blocks. Sign counts are integers, so the majority is exact.
 */
int xf_merge_run_elect(struct xf_merge_job *job, bool tensor_majority, struct xf_err *err)
{
	struct xf_merger *m = job->m;
	int64_t n_pos = 0, n_neg = 0, n_redo = 0, nb = job->n_blocks;
	uint8_t *flags;
	int64_t *redo;

	if (!tensor_majority) {
		xf_merge_for_blocks(job, xf_merge_elect_block);
		return 0;
	}
	flags = xf_merge_scratch(m, XF_MERGE_FLAGS, (size_t)nb * (1 + sizeof(int64_t)) + sizeof(int64_t), err);
	if (!flags)
		return -1;
	redo = (int64_t *)(void *)(flags + ((size_t)nb + sizeof(int64_t) - 1) / sizeof(int64_t) * sizeof(int64_t));
	for (int s = 0; s < m->n_slots; s++)
		m->slots[s].n_pos = m->slots[s].n_neg = 0;
	job->flags = flags;
	job->count_signs = true;
	job->zero_pos = false;
	xf_merge_for_blocks(job, xf_merge_elect_block);
	for (int s = 0; s < m->n_slots; s++) {
		n_pos += m->slots[s].n_pos;
		n_neg += m->slots[s].n_neg;
	}
	for (int64_t b = 0; b < nb && n_pos > n_neg; b++)
		if (flags[b])
			redo[n_redo++] = b;
	if (n_redo == 0)
		return 0;
	job->flags = NULL;
	job->count_signs = false;
	job->zero_pos = true;
	job->blocks = redo;
	job->n_blocks = n_redo;
	xf_merge_for_blocks(job, xf_merge_elect_block);
	return 0;
}
