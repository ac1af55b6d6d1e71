/*
 * merge_plan: which tensors a merge writes and where each comes from, decided from the
 * inputs' declarations before any data is read, so a missing tensor or a shape mismatch is
 * reported at once rather than after hours of merging.
 */
#ifndef XF_MERGE_PLAN_H
#define XF_MERGE_PLAN_H

#include "model_source.h"

enum xf_merge_partial {
	XF_PARTIAL_ERROR,     /* every tensor in every input, same shapes (default) */
	XF_PARTIAL_INTERSECT, /* only tensors that every input has, with the same shape */
	XF_PARTIAL_UNION,     /* every tensor; inputs that lack it, or whose shape differs, sit it out */
};

struct xf_merge_entry {
	const char *name;            /* borrowed from the first input that has it */
	enum xf_dtype dtype;         /* that input's dtype */
	int ndim;
	int64_t shape[XF_MAX_DIMS];
	int64_t count;               /* elements */
	int *index;                  /* per input, the tensor's index there, or -1 when it sits out */
	int n_left_out;              /* inputs that have the tensor with another shape (union) */
};

struct xf_merge_plan {
	int n_inputs;
	int n;                       /* tensors to write, in the order of the first input, then new names */
	struct xf_merge_entry *entries;
	int n_dropped;               /* tensors left out (intersect) */
	int64_t max_count;           /* elements of the largest tensor */
	int64_t total;               /* elements of all tensors */
};

#define XF_MERGE_PLAN_INIT { 0, 0, NULL, 0, 0, 0 }

/*
 * Plan a merge of inputs[0..n) (the base first, when there is one). With XF_PARTIAL_ERROR a
 * tensor missing from an input, or declared with another shape, is an error (XF_E_FORMAT)
 * naming the tensor and both inputs; the other policies follow enum xf_merge_partial.
 * required_input >= 0: that input (the base) must have every tensor written (XF_E_FORMAT).
 */
int xf_merge_plan_build(int n, struct xf_model_source *const *inputs, enum xf_merge_partial partial,
			int required_input, struct xf_merge_plan *plan, struct xf_err *err);

void xf_merge_plan_release(struct xf_merge_plan *plan);

#endif
