/*
 * net_train: a model graph (model.h) run forward in training mode and backward, for
 * xfer-train. Beside net.h's inference engine rather than inside it, because training keeps
 * every activation (the backward pass reads them), never folds batchnorm (it normalises with
 * batch statistics and updates the running ones) and never works in place.
 *
 *	struct xf_trainer *t;
 *	xf_trainer_new(&model, trainable, max_batch, threads, seed, &t, &err);
 *	per batch:
 *		xf_trainer_forward(t, inputs, batch, true, &err);
 *		logits = xf_trainer_output(t);  ... the loss writes xf_trainer_output_grad(t) ...
 *		xf_trainer_zero_grad(t); xf_trainer_backward(t, batch, &err);
 *		optimiser step on the model's weights with xf_trainer_param_grad(t, field)
 *
 * The model's weights are the parameters (updated in place by the caller's optimiser) and its
 * running statistics are updated by training-mode forward passes.
 */
#ifndef XF_NET_TRAIN_H
#define XF_NET_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct xf_trainer;

/*
 * Ready m (borrowed, modified by training) for batches of up to max_batch samples.
 * trainable[f] says whether field f gets a gradient (NULL: every weight and bias; running
 * statistics never do); a batchnorm with neither weight nor bias trained is frozen: it runs in
 * inference form in training passes too, its running statistics unchanged. The first graph
 * output (or the input of that output when it is a softmax) is what the loss reads. -1 with err.
 */
int xf_trainer_new(struct xf_model *m, const bool *trainable, int64_t max_batch, int threads, uint64_t seed,
		   struct xf_trainer **out, struct xf_err *err);

/*
 * Dropout with probability p on node `node`'s output during training-mode passes (inverted
 * dropout: kept values scaled by 1 / (1 - p)), masks drawn from the seed's stream.
 */
void xf_trainer_set_dropout(struct xf_trainer *t, int node, double p);

/*
 * Forward over `batch` samples (inputs[i]: graph input i, float32 [batch, shape]; kept by
 * pointer until the backward). training: batchnorm on batch statistics (running ones updated)
 * and dropout on; else inference semantics. -1 with err naming the node.
 */
int xf_trainer_forward(struct xf_trainer *t, const float *const *inputs, int64_t batch, bool training,
		       struct xf_err *err);

/* The first graph output of the last forward, [batch, shape], and its per-sample size. */
const float *xf_trainer_output(const struct xf_trainer *t, int64_t *count);
/* Where the loss puts d(loss)/d(output) before the backward ([max_batch, shape]). */
float *xf_trainer_output_grad(struct xf_trainer *t);

/* Zero every parameter gradient. */
void xf_trainer_zero_grad(struct xf_trainer *t);
/*
 * Backward from xf_trainer_output_grad after a training-mode forward of the same batch:
 * parameter gradients accumulate (so several backward passes sum). -1 with err naming the node.
 */
int xf_trainer_backward(struct xf_trainer *t, int64_t batch, struct xf_err *err);

/* The gradient of field f (same size as m->weights[f]), or NULL when it has none. */
float *xf_trainer_param_grad(const struct xf_trainer *t, int f);

void xf_trainer_free(struct xf_trainer *t);

#endif
