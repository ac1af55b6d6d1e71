/*
 * optim: the optimisers and learning-rate schedule of xfer-train, with torch.optim's update
 * rules, over a set of float32 parameter tensors updated in place.
 *
 *	struct xf_optim *o;
 *	xf_optim_new(&opts, n_tensors, sizes, decay, &o, &err);     decay[i]: weight decay applies
 *	per step: xf_optim_step(o, params, grads, lr);             grads NULL for a frozen tensor
 */
#ifndef XF_OPTIM_H
#define XF_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum xf_optim_kind { XF_OPTIM_SGD, XF_OPTIM_ADAMW };

struct xf_optim_opts {
	enum xf_optim_kind kind;
	double momentum;      /* sgd (torch.optim.SGD, dampening 0); default 0.9 */
	bool nesterov;        /* sgd */
	double beta1, beta2;  /* adamw; defaults 0.9, 0.999 */
	double eps;           /* adamw; default 1e-8 */
	double weight_decay;  /* sgd: added to the gradient (L2); adamw: decoupled, p -= lr wd p */
	int threads;          /* 0 or less: all cores; every element is updated alike, whatever the split */
};

#define XF_OPTIM_OPTS_INIT { XF_OPTIM_SGD, 0.9, false, 0.9, 0.999, 1e-8, 0, 0 }

struct xf_optim;

/*
 * State for n tensors of sizes[i] floats; decay[i] says whether weight decay applies to tensor
 * i (NULL: to all); lr_scale[i] multiplies the learning rate of tensor i (NULL: 1), for
 * layer-wise learning-rate decay. -1 with err (XF_E_NOMEM).
 */
int xf_optim_new(const struct xf_optim_opts *opts, int n, const int64_t *sizes, const bool *decay,
		 const double *lr_scale, struct xf_optim **out, struct xf_err *err);

/*
 * One update of every tensor i with grads[i] non-NULL, at learning rate lr:
 *   sgd:   g += wd p; b = momentum b + g (b = g at the first step); p -= lr (nesterov ? g + momentum b : b)
 *   adamw: p -= lr wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *          p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * t counts this optimiser's steps from 1. Arithmetic in float as torch's.
 */
void xf_optim_step(struct xf_optim *o, float *const *params, float *const *grads, double lr);

void xf_optim_free(struct xf_optim *o);

/*
 * The learning rate at step t (0-based) of `total`: a linear warm-up from base/warmup to base
 * over the first `warmup` steps, then cosine annealing to 0 at `total` (constant when cosine is
 * false).
 */
double xf_lr_at(double base, int64_t t, int64_t warmup, int64_t total, bool cosine);

#endif
