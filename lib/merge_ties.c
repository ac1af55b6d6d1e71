/*
 * merge_ties: TIES-merging per tensor, trim + elect + disjoint merge (../shared/docs/merge.md
 * §3). Each model's magnitude threshold is found without sorting: a sample of |δ| guesses a
 * narrow key range, one pass counts the keys below it and keeps those inside (a few per cent),
 * and an exact select among those gives the threshold; a wrong guess costs one more exact pass.
 * Then one fused pass trims, elects and merges (merge_tile.c).
 */
#include <string.h>

#include "merge_common.h"
#include "parallel.h"

#define SMALL_TENSOR (4 * (int64_t)XF_MERGE_SAMPLE)  /* below this every key is a candidate */

/*
 * The block's keys of every searching model: counted below the range, kept inside it. Tile by
 * tile across the models, so that all inputs stream together (the prefetchers keep up).
 */
static void collect_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	int64_t p0 = block * XF_MERGE_BLOCK, end = p0 + XF_MERGE_BLOCK < job->n ? p0 + XF_MERGE_BLOCK : job->n;
	int slot = (int)(s - job->m->slots);

	for (int i = 0; i < job->n_present; i++)
		if (job->mod[i].searching)
			job->mod[i].block_count[block * job->n_present] = 0;
	for (int64_t t0 = p0; t0 < end; t0 += XF_MERGE_TILE) {
		int64_t len = end - t0 < XF_MERGE_TILE ? end - t0 : XF_MERGE_TILE;

		for (int i = 0; i < job->n_present; i++) {
			struct xf_merge_model *md = &job->mod[i];
			int64_t cap = md->cand_off[slot + 1] - md->cand_off[slot], have = s->inside[i], got;

			if (!md->searching)
				continue;
			have = have < cap ? have : cap;
			got = xf_magsel_collect_diff(job->base + t0, md->x + t0, len, md->sel_lo, md->sel_hi,
						     md->cand + md->cand_off[slot] + have, cap - have, &s->below[i]);
			s->inside[i] += got;
			md->block_count[block * job->n_present] += (int32_t)got;
		}
	}
}

/* Positions held by worker p out of parts for an n-position tensor. */
static int64_t part_size(int64_t n, int64_t parts, int64_t p)
{
	int64_t nb = xf_merge_blocks(n), b0 = nb * p / parts, b1 = nb * (p + 1) / parts;
	int64_t end = b1 * XF_MERGE_BLOCK < n ? b1 * XF_MERGE_BLOCK : n;

	return end - b0 * XF_MERGE_BLOCK;
}

/*
 * Candidate regions: cap[p] keys for worker p of model i (cap given per worker in cand_off[p + 1]
 * on entry), laid out model after model in the merger's candidate buffer, then as much again
 * for the select's copies.
 */
static int layout_candidates(struct xf_merger *m, int n_present, int64_t parts, struct xf_err *err)
{
	int64_t total = 0;
	uint32_t *cand;

	for (int i = 0; i < n_present; i++) {
		struct xf_merge_model *md = &m->mod[i];

		md->cand_off[0] = md->searching ? total : 0;
		for (int64_t p = 0; p < parts && md->searching; p++)
			md->cand_off[p + 1] += md->cand_off[p];
		total = md->searching ? md->cand_off[parts] : total;
	}
	cand = xf_merge_scratch(m, XF_MERGE_CAND, (size_t)total * 2 * sizeof(uint32_t), err);
	if (!cand)
		return -1;
	for (int i = 0; i < n_present; i++) {
		m->mod[i].cand = cand;
		m->mod[i].cand_copy = cand + total;
	}
	return 0;
}

/*
 * A sample of XF_MERGE_SAMPLE keys per model, XF_MERGE_SAMPLE_RUN consecutive positions at a
 * time (cheap to read, and adjacent entries of a weight matrix are as good as independent), at
 * positions drawn from a fixed stream: the result is exact anyway, only the speed depends on
 * the guess.
 */
static void take_sample(struct xf_merger *m, const float *base, int n_present, int64_t n)
{
	struct xf_rng r;

	xf_rng_init(&r, XF_MERGE_SAMPLE_SEED, (uint64_t)n);
	for (int64_t q = 0; q < XF_MERGE_SAMPLE; q += XF_MERGE_SAMPLE_RUN) {
		int64_t p = (int64_t)xf_rng_below(&r, (uint64_t)(n / XF_MERGE_SAMPLE_RUN)) * XF_MERGE_SAMPLE_RUN;

		for (int i = 0; i < n_present; i++)
			xf_merge_keys(base + p, m->mod[i].x + p, XF_MERGE_SAMPLE_RUN,
				  m->sample + (size_t)i * XF_MERGE_SAMPLE + (size_t)q);
	}
}

/* First attempt: a guessed range per model (every key for small tensors) and room for 1.5x the expected. */
static void first_ranges(struct xf_merger *m, const float *base, int n_present, int64_t n, int64_t parts)
{
	uint32_t *tmp = m->sample + (size_t)n_present * XF_MERGE_SAMPLE;

	if (n >= SMALL_TENSOR)
		take_sample(m, base, n_present, n);
	for (int i = 0; i < n_present; i++) {
		struct xf_merge_model *md = &m->mod[i];
		double f = 1.0;

		if (!md->searching)
			continue;
		md->sel_lo = 0;
		md->sel_hi = UINT32_MAX;
		if (n >= SMALL_TENSOR)
			f = xf_magsel_guess(m->sample + (size_t)i * XF_MERGE_SAMPLE, tmp, XF_MERGE_SAMPLE, n, md->rank,
					    &md->sel_lo, &md->sel_hi);
		for (int64_t p = 0; p < parts; p++) {
			int64_t size = part_size(n, parts, p), cap = (int64_t)(1.5 * f * (double)size) + 1024;

			md->cand_off[p + 1] = cap < size ? cap : size;
		}
	}
}

/*
 * After a collect pass: a model whose rank fell outside its range, or whose candidates
 * overflowed, gets the range that holds it and exact room (the counts per worker are known
 * now); the others stop searching. The rank stays: the next pass counts everything below the
 * new range again. Returns whether any model searches again.
 */
static bool retry_ranges(struct xf_merger *m, int n_present, int64_t n, int64_t parts)
{
	bool again = false;

	for (int i = 0; i < n_present; i++) {
		struct xf_merge_model *md = &m->mod[i];
		int64_t below = 0, inside = 0;

		if (!md->searching || md->found) {
			md->searching = false;
			continue;
		}
		for (int64_t p = 0; p < parts; p++) {
			below += m->slots[p].below[i];
			inside += m->slots[p].inside[i];
		}
		for (int64_t p = 0; p < parts; p++) {
			struct xf_merge_slot *s = &m->slots[p];

			int64_t above = part_size(n, parts, p) - s->below[i] - s->inside[i];

			md->cand_off[p + 1] = md->rank <= below ? s->below[i] : md->rank > below + inside ? above : s->inside[i];
		}
		if (md->rank <= below) {
			md->sel_hi = md->sel_lo - 1;
			md->sel_lo = 0;
		} else if (md->rank > below + inside) {
			md->sel_lo = md->sel_hi + 1;
			md->sel_hi = UINT32_MAX;
		}
		again = true;
		m->retries++;
	}
	return again;
}

struct resolve {
	struct xf_merger *m;
	int64_t parts;
};

/*
 * Model i: if its rank is among its candidates, compact them and select the threshold. A
 * range of one key that holds the rank is the answer even when its candidates overflowed
 * (heavy ties, as in bf16 deltas); then they are incomplete.
 */
static void resolve_one(void *ctx, int64_t begin, int64_t end)
{
	struct resolve *r = ctx;

	for (int64_t i = begin; i < end; i++) {
		struct xf_merge_model *md = &r->m->mod[i];
		int64_t below = 0, inside = 0;
		bool overflow = false;

		if (!md->searching)
			continue;
		for (int64_t p = 0; p < r->parts; p++) {
			int64_t got = r->m->slots[p].inside[i], cap = md->cand_off[p + 1] - md->cand_off[p];

			overflow |= got > cap;
			if (!overflow)
				memmove(md->cand + md->cand_off[0] + inside, md->cand + md->cand_off[p], (size_t)got * 4);
			below += r->m->slots[p].below[i];
			inside += got;
		}
		md->found = md->rank > below && md->rank <= below + inside && (!overflow || md->sel_lo == md->sel_hi);
		md->complete = !overflow;
		if (!md->found || overflow) {   /* a range of one key that holds the rank needs no select */
			md->lo = md->sel_lo;
			md->n_less = below;
			md->n_equal = inside;
			continue;
		}
		memcpy(md->cand_copy + md->cand_off[0], md->cand + md->cand_off[0], (size_t)inside * 4);
		md->lo = xf_magsel_select(md->cand_copy + md->cand_off[0], inside, md->rank - below, &md->n_less,
					  &md->n_equal);
		md->n_less += below;
	}
}

struct equal_count {
	const struct xf_merge_model *md;
	uint32_t key;
	int64_t *counts;    /* per block */
};

static void count_equal_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	struct equal_count *c = job->ctx;
	int64_t end = (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n, count = 0;

	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += XF_MERGE_TILE) {
		int64_t len = end - p0 < XF_MERGE_TILE ? end - p0 : XF_MERGE_TILE;

		xf_merge_keys(job->base + p0, c->md->x + p0, len, s->keys);
		for (int64_t j = 0; j < len; j++)
			count += s->keys[j] == c->key;
	}
	c->counts[block] = count;
}

/* Position of the entry equal to key that has `skip` equal ones before it in block b. */
static int64_t nth_equal(const float *base, const float *x, int64_t n, int64_t b, uint32_t key, int64_t skip)
{
	int64_t end = (b + 1) * XF_MERGE_BLOCK < n ? (b + 1) * XF_MERGE_BLOCK : n, j = b * XF_MERGE_BLOCK;

	for (; j < end; j++)
		if (xf_magsel_key(x[j] - base[j]) == key && skip-- == 0)
			break;
	return j;
}

int64_t xf_merge_equal_cut(struct xf_merger *m, const float *base, const struct xf_merge_model *md, int64_t n,
			   uint32_t key, int64_t q, int64_t *cut, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, base, NULL, n, 0, 0);
	struct equal_count c = { md, key, xf_merge_scratch(m, XF_MERGE_BLOCKS, (size_t)job.n_blocks * 8, err) };
	int64_t total = 0;

	if (!c.counts)
		return -1;
	job.ctx = &c;
	xf_merge_for_blocks(&job, count_equal_block);
	*cut = n;
	for (int64_t b = 0; b < job.n_blocks; b++) {
		if (*cut == n && total + c.counts[b] > q)
			*cut = nth_equal(base, md->x, n, b, key, q - total);
		total += c.counts[b];
	}
	return total;
}

/*
 * After the search, the position of model md's entry equal to its threshold that has q equal
 * ones before it: the candidates are in position order, so the (q+1)-th equal one is found
 * there, its block from the per-block counts, and its place by scanning that block only.
 */
static int64_t cut_from_candidates(const struct xf_merge_model *md, const float *base, int64_t n, int n_present,
				   int64_t q)
{
	const uint32_t *cand = md->cand + md->cand_off[0];
	int64_t c = 0, block = 0, p0, end;

	for (int64_t seen = 0;; c++)
		if (cand[c] == md->lo && seen++ == q)
			break;
	for (; c >= md->block_count[block * n_present]; block++)
		c -= md->block_count[block * n_present];
	p0 = block * XF_MERGE_BLOCK;
	end = p0 + XF_MERGE_BLOCK < n ? p0 + XF_MERGE_BLOCK : n;
	for (; p0 < end; p0++) {
		uint32_t k = xf_magsel_key(md->x[p0] - base[p0]);

		if (k - md->sel_lo <= md->sel_hi - md->sel_lo && c-- == 0)
			break;
	}
	return p0;
}

/*
 * A model whose threshold was just found: official keeps every key >= it; mergekit keeps
 * exactly k, so where the quota ends among the keys equal to the threshold, a cut position
 * (from its candidates while the buffer still holds them, else by a scan).
 */
static int settle(struct xf_merger *m, struct xf_merge_model *md, const float *base, int64_t n, int n_present,
		  int64_t k, struct xf_err *err)
{
	int64_t q = k - (n - md->n_less - md->n_equal);

	md->lo_after = md->lo;
	if (m->o.compat != XF_MERGE_MERGEKIT || md->lo == 0 || q >= md->n_equal)
		return 0;
	if (md->complete)
		md->cut = cut_from_candidates(md, base, n, n_present, q);
	else if (xf_merge_equal_cut(m, base, md, n, md->lo, q, &md->cut, err) < 0)
		return -1;
	md->lo_after = md->lo + 1;
	return 0;
}

/*
 * The threshold of each searching model (mod[i].lo, the rank-th smallest key, with n_less and
 * n_equal), then its trim settled for mergekit's k. The second round, if any, has exact ranges
 * and room, so two rounds always suffice.
 */
static int search(struct xf_merger *m, const float *base, int n_present, int64_t n, int64_t k, struct xf_err *err)
{
	struct xf_merge_job job = xf_merge_job_init(m, base, NULL, n, 0, n_present);
	int64_t parts = xf_merge_parts(m, job.n_blocks, 0);
	struct resolve r = { m, parts };
	int32_t *counts = xf_merge_scratch(m, XF_MERGE_MISC, (size_t)job.n_blocks * (size_t)n_present * 4, err);
	bool again = true;

	if (!counts)
		return -1;
	for (int i = 0; i < n_present; i++)
		m->mod[i].block_count = counts + i;
	first_ranges(m, base, n_present, n, parts);
	while (again) {
		if (layout_candidates(m, n_present, parts, err) < 0)
			return -1;
		for (int64_t p = 0; p < parts; p++) {
			memset(m->slots[p].below, 0, (size_t)n_present * sizeof(int64_t));
			memset(m->slots[p].inside, 0, (size_t)n_present * sizeof(int64_t));
		}
		xf_merge_for_blocks(&job, collect_block);
		xf_parallel_for(n_present, m->threads, 1, resolve_one, &r);
		for (int i = 0; i < n_present; i++)
			if (m->mod[i].searching && m->mod[i].found && settle(m, &m->mod[i], base, n, n_present, k, err) < 0)
				return -1;
		again = retry_ranges(m, n_present, n, parts);
	}
	return 0;
}

/*
 * Per-tensor trim: official keeps |δ| >= the (n - int(d n))-th smallest (ties included, so at
 * least int(d n) + 1 entries); mergekit keeps exactly k = int(d n), the largest first and,
 * among equal magnitudes, the lower positions (a threshold plus a cut position), and refuses
 * k = 0. A zero threshold keeps everything: zeros take no part in the election either way.
 */
int xf_merge_ties_thresholds(struct xf_merger *m, const char *name, const float *base, int n_present, int64_t n,
			     struct xf_err *err)
{
	bool mergekit = m->o.compat == XF_MERGE_MERGEKIT;
	int64_t k = (int64_t)(m->o.density * (double)n);

	if (m->o.density >= 1 || n == 0)
		return 0;
	if (mergekit && k == 0)
		return xf_err_set(err, XF_E_USAGE,
				  "tensor '%s': mergekit refuses to trim %lld entries at density %g (int(density * n) = 0)",
				  name, (long long)n, m->o.density);
	if (k >= n)
		return 0;
	for (int i = 0; i < n_present; i++) {
		m->mod[i].searching = true;
		m->mod[i].rank = mergekit ? n - k + 1 : n - k;
	}
	return search(m, base, n_present, n, k, err);
}

int xf_merge_ties(struct xf_merger *m, const char *name, const float *base, const float *const *models, int64_t n,
		  float *out, struct xf_err *err)
{
	int n_present = xf_merge_present(m, models);
	bool mergekit = m->o.compat == XF_MERGE_MERGEKIT, zero_pos = mergekit;
	struct xf_merge_job job;

	if (m->global ? xf_merge_global_trim(m, name, base, n_present, n, &zero_pos, err) < 0 :
			xf_merge_ties_thresholds(m, name, base, n_present, n, err) < 0)
		return -1;
	job = xf_merge_job_init(m, base, out, n, 0, n_present);
	job.elect = true;
	job.zero_pos = zero_pos;
	job.descending = true;
	return xf_merge_run_elect(&job, !mergekit && !m->global, err);
}
