/*
 * merge_common: the merger's state and the pieces shared by the files that implement merge.h
 * (merge.c: options and dispatch; merge_job.c: running passes; merge_tile.c: the fused
 * per-tile kernels; merge_ties.c, merge_global.c, merge_dare.c, merge_interp.c: the methods).
 * Internal: programs include merge.h only.
 *
 * Work is cut into blocks of XF_MERGE_BLOCK positions (fixed, so per-block partial sums and
 * DARE's random streams do not depend on the thread count) and blocks into tiles of
 * XF_MERGE_TILE positions that stay in L1 while every model passes over them.
 */
#ifndef XF_MERGE_COMMON_H
#define XF_MERGE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "magsel.h"
#include "merge.h"
#include "rng.h"

#define XF_MERGE_BLOCK 4096         /* positions per work unit */
#define XF_MERGE_TILE 512           /* positions per kernel call; divides XF_MERGE_BLOCK */
#define XF_MERGE_SAMPLE 16384       /* |δ| keys sampled per model to guess a TIES threshold, */
#define XF_MERGE_SAMPLE_RUN 16      /* this many consecutive ones at a time (a cache line), */
#define XF_MERGE_SAMPLE_SEED 0x7469657373616dULL  /* at positions from xf_rng stream n of this seed */
#define XF_MERGE_MAX_SLOTS 256      /* worker scratch areas (parallel.c starts at most 256 threads) */
#define XF_MERGE_HIST_SLOTS 16      /* workers with global-scope histograms (512 KiB per model each) */

/*
 * Kernels are multiversioned: x86 machines with AVX-512 or AVX2 run them 16 or 8 floats wide;
 * the lanes compute alike (no FMA contraction under -std=c11), so results are the same.
 */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(target_clones)
#define XF_MERGE_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
#endif
#ifndef XF_MERGE_MULTIVERSION
#define XF_MERGE_MULTIVERSION
#endif

/* One worker's scratch, allocated with the merger and reused for every tensor. */
struct xf_merge_slot {
	float *u;               /* n_models x TILE: each model's weighted, trimmed or dropped delta */
	double *sum;            /* TILE: Σ u, the election sum (double, so its sign is right) */
	float *side;            /* TILE: +1 where the positive side is elected, -1 elsewhere */
	float *acc;             /* TILE: sum of the selected (or all) u */
	float *div;             /* TILE: divisor of the disjoint mean */
	uint32_t *keys;         /* TILE: one model's |δ| keys */
	uint32_t *draws;        /* TILE: DARE's random words for one model */
	float *pad;             /* (n_models + 2) x TILE: a partial last tile copied with zero padding */
	float *stage;           /* TILE: output staged for non-temporal stores */
	struct xf_rng *rng;     /* n_models: DARE streams of the current block */
	int64_t *below;         /* n_models: TIES threshold search, keys below the guessed range */
	int64_t *inside;        /* n_models: keys inside it */
	uint64_t *hist;         /* global scope only: n_models x XF_MAGSEL_HIGH counts of this worker */
	int64_t n_pos, n_neg;   /* positions whose election sum is > 0, < 0 */
};

/* One model that has the current tensor, as a kernel sees it. */
struct xf_merge_model {
	const float *x;         /* the model's tensor */
	int index;              /* its position in the merger's models (DARE streams, global state) */
	double w;               /* u = w δ, in float32 as the references do it */
	double dw;              /* its part of the disjoint mean's divisor: 1 (official) or w (mergekit) */
	float rescale_mul;      /* DARE: survivors become (δ rescale_mul) / rescale_div (mergekit, official) */
	float rescale_div;
	uint32_t lo;            /* TIES trim: keep keys >= lo before position cut, */
	uint32_t lo_after;      /* and keys >= lo_after from cut on (exactly-k tie breaking) */
	int64_t cut;
	uint32_t sel_lo;        /* threshold search: the guessed key range [sel_lo, sel_hi] */
	uint32_t sel_hi;
	bool searching;         /* threshold search: this model takes part in the collect pass */
	bool found;             /* threshold search: lo, n_less and n_equal are known */
	bool complete;          /* threshold search: cand holds every key of the range, in order */
	uint32_t *cand;         /* its candidate keys: one region per worker */
	uint32_t *cand_copy;    /* as many keys, the select's scratch (so cand keeps position order) */
	int32_t *block_count;   /* its candidates in each block (stride: the present models) */
	int64_t *cand_off;      /* n_slots + 1 region bounds into cand */
	int64_t rank;           /* the wanted key's rank (1-based, smallest first) */
	int64_t n_less;         /* after the search: keys below the threshold */
	int64_t n_equal;        /* and equal to it */
};

/* What one pass over one tensor does; the kernels read it, workers write only their slot. */
struct xf_merge_job {
	struct xf_merger *m;
	const float *base;
	float *out;             /* NULL: only count the election signs */
	int64_t n;              /* positions */
	int64_t index;          /* the tensor's index (DARE streams) */
	int n_present;          /* models that have the tensor: mod[0..n_present) */
	struct xf_merge_model *mod;
	bool elect;             /* TIES election and disjoint merge; else the weighted sum */
	bool drop;              /* DARE: drop entries where the draw >= keep_below */
	uint32_t keep_below;    /* 2^32 density */
	bool zero_pos;          /* an election sum of exactly 0 elects the positive side */
	bool count_signs;       /* add to the slots' n_pos, n_neg */
	bool normalize;         /* elect: divide by the divisor (0 becomes 1) */
	double lambda;          /* out = base + lambda * merged delta */
	double divisor;         /* sum: the merged delta is Σ u / divisor */
	uint8_t *flags;         /* per block: 1 if a zero election sum had selected entries */
	const int64_t *blocks;  /* NULL: all blocks; else the block numbers to run (fix-ups) */
	int64_t n_blocks;       /* blocks to run */
	int64_t max_parts;      /* at most this many workers (0: as many as there are slots) */
	bool stream;            /* out takes non-temporal stores (a big, 16-byte aligned output) */
	bool descending;        /* each worker runs its blocks last to first: a second pass over a
				   tensor then starts on what the first left in the cache */
	void *ctx;              /* method-specific data for other block functions */
};

struct xf_merge_global;

struct xf_merger {
	struct xf_merge_opts o;
	double *w;              /* n_models weights (copied; 1 when o.weights is NULL) */
	int threads;            /* resolved thread count */
	int n_slots;
	struct xf_merge_slot *slots;
	struct xf_merge_model *mod;  /* n_models: the present models of the current tensor */
	int64_t *cand_off;      /* n_models x (n_slots + 1) */
	uint32_t *sample;       /* (n_models + 1) x XF_MERGE_SAMPLE keys: samples and select scratch */
	void *grow[4];          /* grow-only scratch reused across tensors, see xf_merge_scratch */
	size_t grow_size[4];
	struct xf_merge_global *global;  /* global TIES state, or NULL */
	int pass;               /* passes completed */
	int64_t retries;        /* TIES threshold searches whose guessed range failed (for the tests) */
	int n_passes;
};

enum xf_merge_scratch_id {
	XF_MERGE_CAND,          /* TIES candidate keys, all models */
	XF_MERGE_BLOCKS,        /* per-block partial sums or counts */
	XF_MERGE_FLAGS,         /* per-block flags and fix-up block lists */
	XF_MERGE_MISC,          /* method-specific */
};

/* A buffer of at least `bytes` that stays with the merger (grows, never shrinks); NULL: NOMEM in err. */
void *xf_merge_scratch(struct xf_merger *m, enum xf_merge_scratch_id id, size_t bytes, struct xf_err *err);

/*
 * keys[j] = the key of |x[j] - b[j]|, δ taken in float32 as everywhere else. A full tile has a
 * constant trip count, which GCC vectorises at -O2.
 */
static inline __attribute__((always_inline)) void xf_merge_keys_n(const float *restrict b, const float *restrict x,
								   int64_t len, uint32_t *restrict keys)
{
	for (int64_t j = 0; j < len; j++)
		keys[j] = xf_magsel_key(x[j] - b[j]);
}

static inline void xf_merge_keys(const float *restrict b, const float *restrict x, int64_t len, uint32_t *restrict keys)
{
	if (len == XF_MERGE_TILE)
		xf_merge_keys_n(b, x, XF_MERGE_TILE, keys);
	else
		xf_merge_keys_n(b, x, len, keys);
}

/* Blocks of an n-position tensor. */
static inline int64_t xf_merge_blocks(int64_t n)
{
	return (n + XF_MERGE_BLOCK - 1) / XF_MERGE_BLOCK;
}

/*
 * Workers for a tensor of n_blocks blocks (at most max_parts unless 0): worker p takes blocks
 * [n_blocks p / parts, n_blocks (p + 1) / parts).
 */
int64_t xf_merge_parts(const struct xf_merger *m, int64_t n_blocks, int64_t max_parts);

/*
 * fn(job, slot, block) for every block of the job (job->blocks, or all of them), in parallel:
 * workers take contiguous runs of blocks and each owns one slot.
 */
void xf_merge_for_blocks(struct xf_merge_job *job,
			 void (*fn)(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block));

/* Kernel block functions (merge_tile.c): out for the positions of one block. */
void xf_merge_sum_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block);
void xf_merge_elect_block(struct xf_merge_job *job, struct xf_merge_slot *s, int64_t block);

/* DARE: the random stream of (seed, tensor, model, block), and the block's draws for one tile. */
void xf_merge_dare_stream(struct xf_rng *r, uint64_t seed, int64_t tensor, int model, int64_t block);
void xf_merge_dare_draws(struct xf_rng *r, uint32_t *draws);

/*
 * Present models of the tensor into m->mod with trimming off; returns how many. The weight
 * and divisor weight follow the options (dw: 1 for official, w for mergekit).
 */
int xf_merge_present(struct xf_merger *m, const float *const *models);

/* Σw of the job's models for a normalized sum; a near-zero sum (|Σw| < 1e-8) gives 1, as in mergekit. */
double xf_merge_sum_divisor(const struct xf_merge_job *job);

/* A job over all blocks of an n-position tensor, everything else off. */
struct xf_merge_job xf_merge_job_init(struct xf_merger *m, const float *base, float *out, int64_t n,
				      int64_t index, int n_present);

/*
 * The elect job, then the official majority fallback for a tensor-scope election: if more
 * sums were > 0 than < 0, redo the blocks where a zero sum selected entries.
 */
int xf_merge_run_elect(struct xf_merge_job *job, bool tensor_majority, struct xf_err *err);

/* Methods (merge_ties.c, merge_global.c, merge_dare.c, merge_interp.c). */
int xf_merge_ties(struct xf_merger *m, const char *name, const float *base, const float *const *models, int64_t n,
		  float *out, struct xf_err *err);
int xf_merge_dare(struct xf_merger *m, int64_t index, const float *base, const float *const *models, int64_t n,
		  float *out, struct xf_err *err);
int xf_merge_linear(struct xf_merger *m, const char *name, const float *const *models, int64_t n, float *out,
		    struct xf_err *err);
int xf_merge_task_arithmetic(struct xf_merger *m, const float *base, const float *const *models, int64_t n,
			     float *out, struct xf_err *err);
int xf_merge_slerp(struct xf_merger *m, const char *name, const float *base, const float *const *models, int64_t n,
		   float *out, struct xf_err *err);
int xf_merge_model_stock(struct xf_merger *m, const char *name, const float *base, const float *const *models,
			 int64_t n, float *out, struct xf_err *err);

/* TIES thresholds of one tensor for the present models (merge_ties.c): mod[i].lo and friends. */
int xf_merge_ties_thresholds(struct xf_merger *m, const char *name, const float *base, int n_present, int64_t n,
			     struct xf_err *err);
/*
 * Positions of model md's keys equal to key in the tensor: the count, and if it exceeds q the
 * position just after the q-th (*cut; else *cut = n).
 */
int64_t xf_merge_equal_cut(struct xf_merger *m, const float *base, const struct xf_merge_model *md, int64_t n,
			   uint32_t key, int64_t q, int64_t *cut, struct xf_err *err);

/* Global scope (merge_global.c). */
int xf_merge_global_create(struct xf_merger *m, struct xf_err *err);
void xf_merge_global_free(struct xf_merger *m);
int xf_merge_global_scan(struct xf_merger *m, int pass, const float *base, const float *const *models, int64_t n,
			 struct xf_err *err);
int xf_merge_global_end_pass(struct xf_merger *m, int pass, struct xf_err *err);
/* The output pass's trimming for one tensor (mod[] already filled by xf_merge_present). */
int xf_merge_global_trim(struct xf_merger *m, const char *name, const float *base, int n_present, int64_t n,
			 bool *zero_pos, struct xf_err *err);

#endif
