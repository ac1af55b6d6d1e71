/*
 * merge_tile: the fused per-tile kernels of merge (../shared/docs/merge.md §2-4). Each tile of
 * XF_MERGE_TILE positions is read once from the base and every model; δ is taken on the fly,
 * trimmed or dropped, weighted, then summed (task arithmetic, DARE) or elected and merged
 * disjointly (TIES), and written out. No full-size temporaries.
 */
#include <math.h>
#include <string.h>

#include "merge_common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_STREAM_STORES 1
#include <immintrin.h>
#endif

#define TILE XF_MERGE_TILE
#define INLINE static inline __attribute__((always_inline))

/*
 * v where keep, else +0.0, by masking the bits: a branch-free select that the compiler
 * vectorises even under -ftrapping-math (which stops it from if-converting a ?: on floats).
 */
INLINE float keep_if(float v, int keep)
{
	uint32_t bits;

	memcpy(&bits, &v, sizeof(bits));
	bits &= -(uint32_t)(keep != 0);
	memcpy(&v, &bits, sizeof(v));
	return v;
}

/*
 * The loops below take their arrays as restrict parameters of inlined helpers: GCC honours
 * restrict there (not on local pointers), so at -O2 it vectorises them without alias checks.
 * Arithmetic is float32 as in the references (δ, w δ, the disjoint sum, base + λ τ); the
 * election's sign is that of the double sum of the u.
 */

/* u = w δ. */
INLINE void prep_plain(float w, const float *restrict b, const float *restrict x, float *restrict u)
{
	for (int j = 0; j < TILE; j++)
		u[j] = w * (x[j] - b[j]);
}

/* u = w δ where |δ| survives the trim: key >= lo before position cut of the tile, >= lo_after from it. */
INLINE void prep_trim(float w, const float *restrict b, const float *restrict x, int cut, uint32_t lo,
		      uint32_t lo_after, float *restrict u)
{
	for (int j = 0; j < TILE; j++) {
		float d = x[j] - b[j];
		uint32_t bound = j < cut ? lo : lo_after;

		u[j] = keep_if(w * d, xf_magsel_key(d) >= bound);
	}
}

/* u = w ((δ mul) / div) where the draw keeps δ: DARE's survivors, rescaled. */
INLINE void prep_drop(float w, float mul, float div, const float *restrict b, const float *restrict x,
		      const uint32_t *restrict draws, uint32_t keep_below, float *restrict u)
{
	for (int j = 0; j < TILE; j++)
		u[j] = keep_if(w * ((x[j] - b[j]) * mul / div), draws[j] < keep_below);
}

/* One tile's pointers: into the tensors, or into the slot's zero-padded copy of a last partial tile. */
struct tile {
	int64_t p0;
	int len;
	const float *b;
	float *o;        /* NULL: no output */
	bool padded;
};

static struct tile tile_open(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t p0)
{
	int64_t left = job->n - p0;
	struct tile t = { p0, left < TILE ? (int)left : TILE, job->base + p0, job->out ? job->out + p0 : NULL, false };

	if (t.len == TILE)
		return t;
	t.padded = true;
	memset(s->pad, 0, (size_t)(job->n_present + 2) * TILE * sizeof(float));
	memcpy(s->pad, job->base + p0, (size_t)t.len * sizeof(float));
	for (int i = 0; i < job->n_present; i++)
		memcpy(s->pad + (size_t)(i + 1) * TILE, job->mod[i].x + p0, (size_t)t.len * sizeof(float));
	t.b = s->pad;
	t.o = job->out ? s->pad + (size_t)(job->n_present + 1) * TILE : NULL;
	return t;
}

static void tile_close(struct xf_merge_job *job, const struct tile *t)
{
	if (t->padded && t->o)
		memcpy(job->out + t->p0, t->o, (size_t)t->len * sizeof(float));
}

static const float *tile_model(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t, int i)
{
	return t->padded ? s->pad + (size_t)(i + 1) * TILE : job->mod[i].x + t->p0;
}

/*
 * Outputs of big tensors go out with non-temporal stores from a staging tile in L1: the
 * output is not read again soon, and a normal store would first read each line from memory
 * (a quarter more traffic for a 3-model merge). job->stream says so: out is 16-byte aligned.
 */
static float *tile_target(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	return job->stream && !t->padded ? s->stage : t->o;
}

static void tile_flush(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	if (!job->stream || t->padded)
		return;
#ifdef HAVE_STREAM_STORES
	for (int j = 0; j < TILE; j += 4)
		_mm_stream_ps(t->o + j, _mm_load_ps(s->stage + j));
#else
	memcpy(t->o, s->stage, TILE * sizeof(float));
#endif
}

/* After a block's non-temporal stores: they are weakly ordered, so fence before others read. */
static void block_fence(const struct xf_merge_job *job)
{
#ifdef HAVE_STREAM_STORES
	if (job->stream)
		_mm_sfence();
#else
	(void)job;
#endif
}

/* Where model i's trim switches from lo to lo_after, within the tile: 0..TILE. */
static int tile_cut(const struct xf_merge_model *md, int64_t p0)
{
	int64_t c = md->cut - p0;

	return c < 0 ? 0 : c > TILE ? TILE : (int)c;
}

/* Model i's u for the tile, from its trim or its DARE draws. */
INLINE void prep(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t, int i, float *restrict u)
{
	const struct xf_merge_model *md = &job->mod[i];
	const float *x = tile_model(job, s, t, i);

	if (job->drop) {
		xf_merge_dare_draws(&s->rng[i], s->draws);
		prep_drop((float)md->w, md->rescale_mul, md->rescale_div, t->b, x, s->draws, job->keep_below, u);
	} else if (md->lo == 0 && md->lo_after == 0) {
		prep_plain((float)md->w, t->b, x, u);
	} else {
		prep_trim((float)md->w, t->b, x, tile_cut(md, t->p0), md->lo, md->lo_after, u);
	}
}

INLINE void add_into(float *restrict acc, const float *restrict u)
{
	for (int j = 0; j < TILE; j++)
		acc[j] += u[j];
}

INLINE void add_into_double(double *restrict sum, const float *restrict u)
{
	for (int j = 0; j < TILE; j++)
		sum[j] += (double)u[j];
}

/* out = base + λ τ with τ = acc / div, a zero div counting as 1. */
INLINE void write_out(float *restrict o, const float *restrict b, const float *restrict acc,
		      const float *restrict div, float lambda)
{
	for (int j = 0; j < TILE; j++)
		o[j] = b[j] + lambda * (acc[j] / (div[j] + (float)(div[j] == 0)));
}

/* Model-generic sum: out = base + λ Σ u / divisor. */
XF_MERGE_MULTIVERSION
static void sum_tile_any(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	memset(s->acc, 0, TILE * sizeof(float));
	for (int i = 0; i < job->n_present; i++) {
		prep(job, s, t, i, s->u);
		add_into(s->acc, s->u);
	}
	for (int j = 0; j < TILE; j++)
		s->div[j] = (float)job->divisor;
	write_out(tile_target(job, s, t), t->b, s->acc, s->div, (float)job->lambda);
	tile_flush(job, s, t);
}

/* Up to FUSED models in one loop over the tile, everything in registers: task arithmetic's sum. */
#define FUSED 4

INLINE void sum_fused_loop(const float *restrict b, const float *restrict x0, const float *restrict x1,
			   const float *restrict x2, const float *restrict x3, float *restrict o, const float *w,
			   float lambda, float divisor, const int n)
{
	const float *x[FUSED] = { x0, x1, x2, x3 };

	for (int j = 0; j < TILE; j++) {
		float acc = 0;

#pragma GCC unroll 4
		for (int i = 0; i < n; i++)
			acc += w[i] * (x[i][j] - b[j]);
		o[j] = b[j] + lambda * (acc / divisor);
	}
}

XF_MERGE_MULTIVERSION
static void sum_tile(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	const float *x[FUSED] = { t->b, t->b, t->b, t->b };   /* the unused ones are read-only stand-ins */
	float w[FUSED], lambda = (float)job->lambda, divisor = (float)job->divisor, *o = tile_target(job, s, t);
	int n = job->n_present;

	if (n > FUSED || job->drop) {
		sum_tile_any(job, s, t);
		return;
	}
	for (int i = 0; i < n; i++) {
		x[i] = tile_model(job, s, t, i);
		w[i] = (float)job->mod[i].w;
	}
	switch (n) {
	case 1: sum_fused_loop(t->b, x[0], x[1], x[2], x[3], o, w, lambda, divisor, 1); break;
	case 2: sum_fused_loop(t->b, x[0], x[1], x[2], x[3], o, w, lambda, divisor, 2); break;
	case 3: sum_fused_loop(t->b, x[0], x[1], x[2], x[3], o, w, lambda, divisor, 3); break;
	default: sum_fused_loop(t->b, x[0], x[1], x[2], x[3], o, w, lambda, divisor, 4); break;
	}
	tile_flush(job, s, t);
}

INLINE void count_signs(const double *restrict sum, int64_t *n_pos, int64_t *n_neg)
{
	int32_t pos = 0, neg = 0;

	for (int j = 0; j < TILE; j++) {
		pos += sum[j] > 0;
		neg += sum[j] < 0;
	}
	*n_pos += pos;
	*n_neg += neg;
}

/* +1 where the positive side is elected, -1 elsewhere; an exact zero sum takes zero_pos. */
INLINE void elect_side(float *restrict side, const double *restrict sum, int zero_pos)
{
	for (int j = 0; j < TILE; j++) {
		int pos = (sum[j] > 0) | ((sum[j] == 0) & zero_pos);

		side[j] = (float)(2 * pos - 1);
	}
}

/* Adds the entries of u on the elected side (never 0) to acc, and their divisor weight to div. */
INLINE void select_into(float *restrict acc, float *restrict div, const float *restrict u,
			const float *restrict side, float dw)
{
	for (int j = 0; j < TILE; j++) {
		int sel = u[j] * side[j] > 0;

		acc[j] += keep_if(u[j], sel);
		div[j] += keep_if(dw, sel);
	}
}

/* Whether a zero election sum selected entries somewhere (then the majority may change them). */
INLINE bool any_cancelled(const double *restrict sum, const float *restrict acc)
{
	int cancelled = 0;

	for (int j = 0; j < TILE; j++)
		cancelled |= (sum[j] == 0) & (acc[j] != 0);
	return cancelled;
}

/* The divisor weight of model i: 0 without normalize, so that τ is the plain sum (divided by 1). */
static float divisor_weight(const struct xf_merge_job *job, int i)
{
	return job->normalize ? (float)job->mod[i].dw : 0.0f;
}

/* Model-generic election: Σ u in double, the side, then the selected sum and divisor. */
XF_MERGE_MULTIVERSION
static bool elect_tile_any(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	memset(s->sum, 0, TILE * sizeof(double));
	for (int i = 0; i < job->n_present; i++) {
		float *u = s->u + (size_t)i * TILE;

		prep(job, s, t, i, u);
		add_into_double(s->sum, u);
	}
	if (job->count_signs)
		count_signs(s->sum, &s->n_pos, &s->n_neg);
	if (!t->o)
		return false;
	elect_side(s->side, s->sum, job->zero_pos);
	memset(s->acc, 0, TILE * sizeof(float));
	memset(s->div, 0, TILE * sizeof(float));
	for (int i = 0; i < job->n_present; i++)
		select_into(s->acc, s->div, s->u + (size_t)i * TILE, s->side, divisor_weight(job, i));
	write_out(tile_target(job, s, t), t->b, s->acc, s->div, (float)job->lambda);
	tile_flush(job, s, t);
	return any_cancelled(s->sum, s->acc);
}

/* Per-model constants of the fused election. */
struct fused {
	float w[FUSED], dw[FUSED];
	uint32_t bound[FUSED];     /* keep keys >= bound (the trim is uniform over the tile) */
	float lambda;
	int zero_pos;
};

/*
 * The whole election for up to FUSED trimmed models in one loop over the tile, in registers:
 * δ, trim, Σ u, side, selected sum and divisor, output, and (track) the sign counts and the
 * cancellation flag of the official majority rule. Σ u is summed in float here: its sign is
 * exact unless |Σ u| <= n 2^-23 Σ|u| (the rounding error bound of the sum), and where that
 * fails anywhere (a near or exact cancellation, rare) the caller redoes the tile with double
 * sums. So the sign is the double sum's, at float speed. Returns -1 for that, else whether a
 * zero sum selected entries.
 */
INLINE int elect_fused_loop(const float *restrict b, const float *restrict x0, const float *restrict x1,
			    const float *restrict x2, const float *restrict x3, float *restrict o,
			    const struct fused *f, int64_t *n_pos, int64_t *n_neg, const int n, const bool track)
{
	const float *x[FUSED] = { x0, x1, x2, x3 };
	const float bound = (float)n * 0x1p-23f;
	int32_t pos_count = 0, neg_count = 0;
	int cancelled = 0, hard = 0;

	for (int j = 0; j < TILE; j++) {
		float u[FUSED], sum = 0, mass = 0, acc = 0, div = 0, side;
		int pos;

#pragma GCC unroll 4
		for (int i = 0; i < n; i++) {
			float d = x[i][j] - b[j];

			u[i] = keep_if(f->w[i] * d, xf_magsel_key(d) >= f->bound[i]);
			sum += u[i];
			mass += fabsf(u[i]);
		}
		hard |= (fabsf(sum) <= mass * bound) & (mass != 0);
		pos = (sum > 0) | ((sum == 0) & f->zero_pos);
		side = (float)(2 * pos - 1);
#pragma GCC unroll 4
		for (int i = 0; i < n; i++) {
			int sel = u[i] * side > 0;

			acc += keep_if(u[i], sel);
			div += keep_if(f->dw[i], sel);
		}
		o[j] = b[j] + f->lambda * (acc / (div + (float)(div == 0)));
		if (track) {
			pos_count += sum > 0;
			neg_count += sum < 0;
			cancelled |= (sum == 0) & (acc != 0);
		}
	}
	if (hard)
		return -1;
	*n_pos += pos_count;
	*n_neg += neg_count;
	return cancelled;
}

/* Whether the fused loop applies: few models, a trim uniform over the tile, an output. */
static bool fused_setup(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t, struct fused *f,
			const float **x)
{
	int n = job->n_present;

	if (n > FUSED || job->drop || !t->o)
		return false;
	for (int i = 0; i < n; i++) {
		const struct xf_merge_model *md = &job->mod[i];
		int cut = tile_cut(md, t->p0);

		if (cut > 0 && cut < TILE)
			return false;
		x[i] = tile_model(job, s, t, i);
		f->w[i] = (float)md->w;
		f->dw[i] = divisor_weight(job, i);
		f->bound[i] = cut == 0 ? md->lo_after : md->lo;
	}
	f->lambda = (float)job->lambda;
	f->zero_pos = job->zero_pos;
	return true;
}

XF_MERGE_MULTIVERSION
static bool elect_tile(struct xf_merge_job *job, struct xf_merge_slot *s, const struct tile *t)
{
	struct fused f;
	const float *x[FUSED] = { t->b, t->b, t->b, t->b };   /* the unused ones are read-only stand-ins */
	float *o = tile_target(job, s, t);
	int64_t pos = 0, neg = 0;
	int cancelled = 0;
	bool track = job->count_signs || job->flags;

	if (!fused_setup(job, s, t, &f, x))
		return elect_tile_any(job, s, t);
#define FUSED_CASE(n, tr) \
	case 2 * (n) + (tr): \
		cancelled = elect_fused_loop(t->b, x[0], x[1], x[2], x[3], o, &f, &pos, &neg, n, tr); \
		break
	switch (2 * job->n_present + track) {
	FUSED_CASE(1, false); FUSED_CASE(2, false); FUSED_CASE(3, false); FUSED_CASE(4, false);
	FUSED_CASE(1, true); FUSED_CASE(2, true); FUSED_CASE(3, true); FUSED_CASE(4, true);
	}
#undef FUSED_CASE
	if (cancelled < 0)
		return elect_tile_any(job, s, t);
	tile_flush(job, s, t);
	if (job->count_signs) {
		s->n_pos += pos;
		s->n_neg += neg;
	}
	return cancelled;
}

/* DARE streams restart at every block, so a block's draws are the same whoever runs it. */
static void block_begin(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	if (job->drop)
		for (int i = 0; i < job->n_present; i++)
			xf_merge_dare_stream(&s->rng[i], job->m->o.seed, job->index, job->mod[i].index, block);
}

void xf_merge_sum_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	int64_t end = (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n;

	block_begin(job, s, block);
	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += TILE) {
		struct tile t = tile_open(job, s, p0);

		sum_tile(job, s, &t);
		tile_close(job, &t);
	}
	block_fence(job);
}

void xf_merge_elect_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block)
{
	int64_t end = (block + 1) * XF_MERGE_BLOCK < job->n ? (block + 1) * XF_MERGE_BLOCK : job->n;
	bool cancelled = false;

	block_begin(job, s, block);
	for (int64_t p0 = block * XF_MERGE_BLOCK; p0 < end; p0 += TILE) {
		struct tile t = tile_open(job, s, p0);

		cancelled |= elect_tile(job, s, &t);
		tile_close(job, &t);
	}
	block_fence(job);
	if (job->flags)
		job->flags[block] = cancelled;
}
