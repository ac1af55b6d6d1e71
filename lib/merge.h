/*
 * merge: model merging without training, tensor by tensor (docs/merge.md; the exact rules
 * and where the TIES code, the paper and mergekit differ are in ../shared/docs/merge.md).
 * No I/O here: the caller reads each tensor of the base and of every model as float32 and
 * hands them over in the same order on every pass.
 *
 *	struct xf_merger *m;
 *	if (xf_merger_create(&opts, &m, &err) < 0) return -1;
 *	for (int p = 0; p < xf_merger_passes(m); p++) {       only global TIES has passes
 *		for each tensor: xf_merger_scan(m, p, base, models, n, &err);
 *		xf_merger_end_pass(m, p, &err);
 *	}
 *	for each tensor i: xf_merger_tensor(m, name, i, base, models, n, out, &err);
 *	xf_merger_free(m);
 *
 * Arithmetic is float32 as the references do it: δ = θ − θ₀, w δ, the merged sum or disjoint
 * mean and θ₀ + λ τ, with the weights and λ rounded to float. Reductions are exact or double:
 * TIES's election sign is that of the double sum Σ w δ; norms, dot products and L1 norms are
 * summed in double per block of positions and the blocks combined in order. So the result does
 * not depend on the thread count, and DARE's drops depend only on the seed, the tensor's index,
 * the model and the position.
 *
 * Ownership: the merger keeps no pointer to the caller's arrays after a call returns; weights
 * are copied at create. Scratch is allocated once and grows with the largest tensor.
 */
#ifndef XF_MERGE_H
#define XF_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum xf_merge_method {
	XF_MERGE_LINEAR,          /* Σ wᵢθᵢ / Σ wᵢ (or the sum without normalize) */
	XF_MERGE_TASK_ARITHMETIC, /* θ₀ + λ Σ wᵢδᵢ (divided by Σ wᵢ with normalize) */
	XF_MERGE_TIES,            /* trim, elect, disjoint mean, θ₀ + λ τ */
	XF_MERGE_DARE,            /* drop and rescale, then task arithmetic or (elect) TIES election */
	XF_MERGE_SLERP,           /* spherical interpolation of two tensors */
	XF_MERGE_MODEL_STOCK,     /* mergekit's model stock over ≥ 2 models and a base */
};

enum xf_merge_compat {
	XF_MERGE_OFFICIAL,  /* the papers' code: TIES keeps |δ| ≥ the threshold, zero sum → majority sign,
			       unweighted disjoint mean; DARE rescales by 1/density */
	XF_MERGE_MERGEKIT,  /* mergekit ≥ 0.1: exactly k kept, zero sum → +1, weighted disjoint mean,
			       DARE L1 rescale, tensors with int(d·n) = 0 refused */
};

enum xf_merge_scope {
	XF_MERGE_SCOPE_TENSOR, /* TIES trims each tensor on its own */
	XF_MERGE_SCOPE_GLOBAL, /* TIES trims over the whole model (official code); needs passes */
};

struct xf_merge_opts {
	enum xf_merge_method method;
	enum xf_merge_compat compat;
	enum xf_merge_scope scope;
	int n_models;            /* fine-tuned models (the base is separate) */
	const double *weights;   /* n_models weights, or NULL for all 1; copied at create; slerp and
				    model stock ignore them */
	double lambda;           /* task-arithmetic, ties, dare: scale of the merged task vector */
	double density;          /* ties: fraction kept by magnitude; dare: 1 − drop rate; in (0, 1] */
	bool normalize;          /* linear: divide by Σw (else the sum); task-arithmetic, dare without
				    elect: by Σw (|Σw| < 1e-8 divides by 1); ties, dare with elect:
				    disjoint mean (official: by the count, mergekit: by Σw of the
				    selected), else their sum (mergekit dare_ties: false) */
	bool elect;              /* dare: TIES sign election and disjoint merge after the drop */
	double t;                /* slerp: 0 gives the base (or the first model), 1 the other */
	uint64_t seed;           /* dare */
	int threads;             /* 0 (or less): all cores; the result is the same for any count */
};

/*
 * Defaults: linear, official, tensor scope, λ 1, density 0.2 (ties; callers choose 0.5 for dare),
 * normalize true for linear and false for task arithmetic (callers set it per method), t 0.5.
 */
#define XF_MERGE_OPTS_INIT \
	{ XF_MERGE_LINEAR, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, 0, NULL, 1.0, 0.2, true, false, 0.5, 0, 0 }

struct xf_merger;

/*
 * Validate the options against the method and make a merger. -1 with err (and *out NULL):
 * XF_E_USAGE for an unknown method, compat or scope; global scope outside ties; no model;
 * slerp with other than 1 or 2 models (1: the base is v0; 2: models[0] is v0, no base);
 * model stock with fewer than 2; a density outside (0, 1] (ties, dare); a weight, λ or t that
 * is not finite; linear with normalize and |Σw| < 1e-8. XF_E_NOMEM.
 */
int xf_merger_create(const struct xf_merge_opts *o, struct xf_merger **out, struct xf_err *err);

/*
 * Whether the method needs a base tensor (task arithmetic, ties, dare, model stock: yes;
 * linear: no; slerp: only with one model, where the base is its t = 0 end).
 */
bool xf_merge_needs_base(enum xf_merge_method method);

/*
 * Passes over all tensors before the output pass, fixed at create. Global TIES finds each
 * model's exact threshold over the whole model from radix histograms of the float32 bit
 * patterns of |δ| (pass 0: the high 16 bits, pass 1: the low 15 inside the bucket of the wanted
 * rank), in O(2^16) memory per model and worker, never O(model); official compat adds a pass
 * that counts the signs of the election sums for the majority rule. So: official global 3 (1
 * at density 1), mergekit global 2 (0 at density 1), anything else 0.
 */
int xf_merger_passes(const struct xf_merger *m);

/*
 * Pass `pass` over one tensor: base and models[0..n_models) of n floats each (models[i] NULL
 * when model i lacks the tensor). Passes run in order, and every pass, and then the merge,
 * must see the same tensors in the same order: XF_E_USAGE otherwise (a tensor of another size,
 * a pass out of order).
 */
int xf_merger_scan(struct xf_merger *m, int pass, const float *base, const float *const *models, int64_t n,
		   struct xf_err *err);
/*
 * After the last tensor of a pass; -1 with err (XF_E_USAGE) if the pass found nothing to work
 * on, saw other tensors than the first pass, or (mergekit) a model keeps int(d n) = 0 entries.
 */
int xf_merger_end_pass(struct xf_merger *m, int pass, struct xf_err *err);

/*
 * Merge one tensor into out[0..n). index is the tensor's position in the output (DARE's
 * random streams), name is for messages. base may be NULL when the method needs none;
 * models[i] NULL when model i lacks the tensor (its weight then takes no part: sums, counts
 * and divisors are over the models that have it); slerp of two models copies the one that
 * has it, slerp of one model needs the base (xf_merge_needs_base cannot say so). With global
 * scope, tensors come in the order of the passes (mergekit's exactly-k breaks ties at the
 * threshold by position over the whole model). out may not alias an input; n may be 0.
 * -1 with err: XF_E_USAGE naming the tensor when it cannot be merged by this method's rules:
 * no model has it, the base lacks it where needed (slerp of one model too), mergekit refusing
 * int(d n) = 0, linear's weights of the models that have it summing to 0, model stock with
 * fewer than 2 models or a mean cosine of -1/(N-1), slerp of two models given a base; the
 * passes not done; XF_E_NOMEM.
 */
int xf_merger_tensor(struct xf_merger *m, const char *name, int64_t index, const float *base,
		     const float *const *models, int64_t n, float *out, struct xf_err *err);

void xf_merger_free(struct xf_merger *m);

#endif
