/*
 * merge_run: drive a merge over its inputs, tensor by tensor: the merger's passes (global
 * TIES), then the output pass into a model sink. Memory: one float32 buffer per input and
 * two for results (one is written while the next is merged), each the size of the largest tensor.
 */
#ifndef XF_MERGE_RUN_H
#define XF_MERGE_RUN_H

#include "merge.h"
#include "merge_plan.h"
#include "model_sink.h"

struct xf_merge_run {
	struct xf_merger *merger;
	const struct xf_merge_plan *plan;
	struct xf_model_source *const *inputs; /* plan->n_inputs: the base first when has_base */
	bool has_base;
	struct xf_model_sink *sink;            /* receives the plan's tensors in order */
	void (*progress)(void *ctx, int64_t elements_done); /* may be NULL; counts every pass */
	void *progress_ctx;
};

/* -1 with err (an input's, the merger's or the sink's error, naming the tensor). */
int xf_merge_run(const struct xf_merge_run *run, struct xf_err *err);

#endif
