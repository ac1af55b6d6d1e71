/*
 * head_model: a linear head (train_linear.h) as a model segment that xfer-embed runs: graph
 * input "x" of the training field's per-row shape, a flatten node when that shape is not
 * one-dimensional, and the linear node "fc" whose output (the logits) is the graph's output.
 */
#ifndef XF_HEAD_MODEL_H
#define XF_HEAD_MODEL_H

#include <jansson.h>

#include "writer.h"

/*
 * Write the head w [c, d], b [c] (as float32) for inputs of per-row shape `shape` (ndim
 * dimensions, product d). meta (an object, or NULL) is copied into the header. -1 with err.
 */
int xf_head_model_write(struct xf_writer *wr, int ndim, const int64_t *shape, const double *w, const double *b,
			int64_t d, int c, const json_t *meta, struct xf_err *err);

#endif
