/*
 * merge_global: TIES trimmed over the whole model, as the official code does
 * (../shared/docs/merge.md §3a, §3c), in passes over the tensors with O(2^16) memory per model:
 * pass "high" counts the high 16 bits of every |δ| key, pass "low" the low 15 bits inside the
 * bucket of the wanted rank (so the threshold is exact), and for official compat pass "signs"
 * counts the signs of the election sums for the majority fallback. See merge.h for the counts.
 */
#include <stdlib.h>
#include <string.h>

#include "merge_common.h"

enum role { PASS_HIGH, PASS_LOW, PASS_SIGNS };

struct xf_merge_global {
	enum role roles[3];
	int64_t *seen;                  /* n_models: entries of each model over the model */
	int64_t *kept;                  /* n_models: mergekit's k = int(density * seen) */
	bool *trim;                     /* n_models: the model is trimmed at all */
	struct xf_magsel_radix *r;      /* n_models: the threshold search */
	int64_t *quota;                 /* n_models, mergekit: entries equal to the threshold still to keep */
	int64_t *equal_left;            /* n_models, mergekit: entries equal to it not yet merged */
	int majority;                   /* official: sign of #(sum > 0) - #(sum < 0) over the model */
	int64_t *sizes;                 /* tensor sizes seen by the first pass */
	int64_t n_sizes, cap_sizes;
	int64_t at;                     /* tensors seen so far in this pass (or in the merge) */
};

/* Workers that have histograms: the histogram passes use no more. */
static int hist_slots(const struct xf_merger *m)
{
	return m->n_slots < XF_MERGE_HIST_SLOTS ? m->n_slots : XF_MERGE_HIST_SLOTS;
}

int xf_merge_global_create(struct xf_merger *m, struct xf_err *err)
{
	struct xf_merge_global *g;
	size_t t = (size_t)m->o.n_models;
	bool official = m->o.compat == XF_MERGE_OFFICIAL, trims = m->o.density < 1;

	if (!official && !trims)
		return 0;       /* mergekit at density 1: nothing global to find */
	g = calloc(1, sizeof(*g));
	if (!g)
		return xf_err_nomem(err, sizeof(*g));
	m->global = g;
	g->seen = calloc(t, sizeof(int64_t));
	g->kept = calloc(t, sizeof(int64_t));
	g->trim = calloc(t, sizeof(bool));
	g->r = calloc(t, sizeof(*g->r));
	g->quota = calloc(t, sizeof(int64_t));
	g->equal_left = calloc(t, sizeof(int64_t));
	if (!g->seen || !g->kept || !g->trim || !g->r || !g->quota || !g->equal_left)
		return xf_err_nomem(err, t * 64);
	if (trims) {
		g->roles[m->n_passes++] = PASS_HIGH;
		g->roles[m->n_passes++] = PASS_LOW;
	}
	if (official)
		g->roles[m->n_passes++] = PASS_SIGNS;
	for (int s = 0; s < hist_slots(m); s++)
		memset(m->slots[s].hist, 0, t * XF_MAGSEL_HIGH * sizeof(uint64_t));
	return 0;
}

void xf_merge_global_free(struct xf_merger *m)
{
	struct xf_merge_global *g = m->global;

	if (!g)
		return;
	free(g->seen);
	free(g->kept);
	free(g->trim);
	free(g->r);
	free(g->quota);
	free(g->equal_left);
	free(g->sizes);
	free(g);
	m->global = NULL;
}

/* The first pass records the tensor sizes; later passes and the merge must see the same. */
static int check_size(struct xf_merger *m, const char *what, int64_t n, struct xf_err *err)
{
	struct xf_merge_global *g = m->global;
	int64_t at = g->at++;

	if (m->pass > 0 || !strcmp(what, "merge")) {
		if (at >= g->n_sizes || g->sizes[at] != n)
			return xf_err_set(err, XF_E_USAGE,
					  "%s: tensor %lld has %lld entries where the first pass saw %lld (give every "
					  "pass the same tensors in the same order)", what, (long long)at, (long long)n,
					  at < g->n_sizes ? (long long)g->sizes[at] : -1LL);
		return 0;
	}
	if (g->n_sizes == g->cap_sizes) {
		int64_t cap = g->cap_sizes ? 2 * g->cap_sizes : 256;
		int64_t *p = realloc(g->sizes, (size_t)cap * sizeof(int64_t));

		if (!p)
			return xf_err_nomem(err, (size_t)cap * sizeof(int64_t));
		g->sizes = p;
		g->cap_sizes = cap;
	}
	g->sizes[g->n_sizes++] = n;
	return 0;
}

/* The keys of every present (and, in the low pass, trimmed) model into this worker's histograms. */
static void hist_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	struct xf_merge_global *g = job->m->global;
	enum role role = *(const enum role *)job->ctx;
	int64_t end = (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n;

	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += XF_MERGE_TILE) {
		int64_t len = end - p0 < XF_MERGE_TILE ? end - p0 : XF_MERGE_TILE;

		for (int i = 0; i < job->n_present; i++) {
			int idx = job->mod[i].index;
			uint64_t *hist = s->hist + (size_t)idx * XF_MAGSEL_HIGH;

			if (role == PASS_LOW && !g->trim[idx])
				continue;
			xf_merge_keys(job->base + p0, job->mod[i].x + p0, len, s->keys);
			if (role == PASS_HIGH)
				xf_magsel_hist_high(hist, s->keys, len);
			else
				xf_magsel_hist_low(hist, s->keys, len, g->r[idx].bucket);
		}
	}
}

/* Official trimming from the thresholds (signs pass and merge): keep |δ| >= the key. */
static void official_trim(struct xf_merger *m, int n_present)
{
	for (int i = 0; i < n_present; i++) {
		int idx = m->mod[i].index;

		if (m->global->trim[idx])
			m->mod[i].lo = m->mod[i].lo_after = m->global->r[idx].key;
	}
}

int xf_merge_global_scan(struct xf_merger *m, int pass, const float *base, const float *const *models, int64_t n,
			 struct xf_err *err)
{
	struct xf_merge_global *g = m->global;
	enum role role = g->roles[pass];
	int n_present = xf_merge_present(m, models);
	struct xf_merge_job job = xf_merge_job_init(m, base, NULL, n, 0, n_present);

	if (check_size(m, "scan", n, err) < 0)
		return -1;
	if (role == PASS_SIGNS) {
		for (int s = 0; g->at == 1 && s < m->n_slots; s++)      /* the pass's first tensor */
			m->slots[s].n_pos = m->slots[s].n_neg = 0;
		official_trim(m, n_present);
		job.elect = true;
		job.count_signs = true;
		xf_merge_for_blocks(&job, xf_merge_elect_block);
		return 0;
	}
	for (int i = 0; i < n_present && role == PASS_HIGH; i++)
		g->seen[m->mod[i].index] += n;
	job.ctx = &role;
	job.max_parts = hist_slots(m);
	xf_merge_for_blocks(&job, hist_block);
	return 0;
}

/* Every worker's histograms summed into worker 0's, the others cleared for the next pass. */
static void sum_histograms(struct xf_merger *m, int64_t buckets)
{
	size_t t = (size_t)m->o.n_models;
	uint64_t *h0 = m->slots[0].hist;

	for (int s = 1; s < hist_slots(m); s++) {
		uint64_t *h = m->slots[s].hist;

		for (size_t i = 0; i < t; i++)
			for (int64_t b = 0; b < buckets; b++)
				h0[i * XF_MAGSEL_HIGH + (size_t)b] += h[i * XF_MAGSEL_HIGH + (size_t)b];
		memset(h, 0, t * XF_MAGSEL_HIGH * sizeof(uint64_t));
	}
}

/*
 * The rank each model's threshold has, over the whole model: official n - int(d n) (keep
 * |δ| >= it), mergekit n - k + 1 for k = int(d n) kept (refused when k = 0).
 */
static int end_high(struct xf_merger *m, struct xf_err *err)
{
	struct xf_merge_global *g = m->global;
	bool mergekit = m->o.compat == XF_MERGE_MERGEKIT, any = false;

	sum_histograms(m, XF_MAGSEL_HIGH);
	for (int i = 0; i < m->o.n_models; i++) {
		int64_t n = g->seen[i], k = (int64_t)(m->o.density * (double)n);

		any |= n > 0;
		if (n == 0 || k >= n)
			continue;
		if (mergekit && k == 0)
			return xf_err_set(err, XF_E_USAGE,
					  "model %d: mergekit refuses to trim %lld entries at density %g "
					  "(int(density * n) = 0)", i + 1, (long long)n, m->o.density);
		g->trim[i] = true;
		g->kept[i] = k;
		g->r[i].rank = mergekit ? n - k + 1 : n - k;
		if (xf_magsel_radix_high(&g->r[i], m->slots[0].hist + (size_t)i * XF_MAGSEL_HIGH) < 0)
			return xf_err_set(err, XF_E_USAGE, "model %d: the passes saw fewer entries than the first", i + 1);
	}
	memset(m->slots[0].hist, 0, (size_t)m->o.n_models * XF_MAGSEL_HIGH * sizeof(uint64_t));
	return any ? 0 : xf_err_set(err, XF_E_USAGE, "ties: the first pass saw no tensor of any model");
}

static int end_low(struct xf_merger *m, struct xf_err *err)
{
	struct xf_merge_global *g = m->global;

	sum_histograms(m, XF_MAGSEL_LOW);
	for (int i = 0; i < m->o.n_models; i++) {
		struct xf_magsel_radix *r = &g->r[i];

		if (!g->trim[i])
			continue;
		if (xf_magsel_radix_low(r, m->slots[0].hist + (size_t)i * XF_MAGSEL_HIGH) < 0)
			return xf_err_set(err, XF_E_USAGE, "model %d: the passes saw different entries", i + 1);
		g->quota[i] = g->kept[i] - (g->seen[i] - r->n_less - r->n_equal);
		g->equal_left[i] = r->n_equal;
	}
	memset(m->slots[0].hist, 0, (size_t)m->o.n_models * XF_MAGSEL_HIGH * sizeof(uint64_t));
	return 0;
}

int xf_merge_global_end_pass(struct xf_merger *m, int pass, struct xf_err *err)
{
	struct xf_merge_global *g = m->global;
	int64_t n_pos = 0, n_neg = 0, seen = g->at;

	g->at = 0;
	if (pass > 0 && seen != g->n_sizes)
		return xf_err_set(err, XF_E_USAGE, "pass %d saw %lld tensors, the first pass %lld", pass, (long long)seen,
				  (long long)g->n_sizes);
	switch (g->roles[pass]) {
	case PASS_HIGH:
		return end_high(m, err);
	case PASS_LOW:
		return end_low(m, err);
	case PASS_SIGNS:
		for (int s = 0; s < m->n_slots; s++) {
			n_pos += m->slots[s].n_pos;
			n_neg += m->slots[s].n_neg;
		}
		g->majority = (n_pos > n_neg) - (n_pos < n_neg);
		return seen > 0 ? 0 : xf_err_set(err, XF_E_USAGE, "ties: the pass saw no tensor");
	}
	return 0;
}

/*
 * mergekit over the whole model keeps exactly k: everything above the threshold, then the
 * entries equal to it in tensor order (the order of the passes), lower positions first,
 * while the quota lasts. Counting them costs a read, so only when the quota ends somewhere
 * in the middle of them.
 */
static int mergekit_trim(struct xf_merger *m, struct xf_merge_model *md, const float *base, int64_t n,
			 struct xf_err *err)
{
	struct xf_merge_global *g = m->global;
	int idx = md->index;
	uint32_t key = g->r[idx].key;
	int64_t count, cut;

	md->lo = md->lo_after = key;
	if (key == 0 || g->quota[idx] == g->equal_left[idx])
		return 0;
	if (g->quota[idx] == 0) {
		md->lo = md->lo_after = key + 1;
		return 0;
	}
	count = xf_merge_equal_cut(m, base, md, n, key, g->quota[idx], &cut, err);
	if (count < 0)
		return -1;
	g->equal_left[idx] -= count;
	if (count <= g->quota[idx]) {
		g->quota[idx] -= count;
		return 0;
	}
	g->quota[idx] = 0;
	md->cut = cut;
	md->lo_after = key + 1;
	return 0;
}

int xf_merge_global_trim(struct xf_merger *m, const char *name, const float *base, int n_present, int64_t n,
			 bool *zero_pos, struct xf_err *err)
{
	struct xf_merge_global *g = m->global;

	if (check_size(m, "merge", n, err) < 0)
		return xf_err_prefix(err, "tensor '%s'", name);
	if (m->o.compat == XF_MERGE_OFFICIAL) {
		official_trim(m, n_present);
		*zero_pos = g->majority > 0;
		return 0;
	}
	for (int i = 0; i < n_present; i++)
		if (g->trim[m->mod[i].index] && mergekit_trim(m, &m->mod[i], base, n, err) < 0)
			return -1;
	*zero_pos = true;
	return 0;
}
