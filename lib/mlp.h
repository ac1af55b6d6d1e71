/*
 * mlp: a multilayer perceptron as a model (model.h) with PyTorch's default initialisation,
 * for xfer-train: graph input "x" of the data's per-row shape, "flatten" when that shape is not
 * one-dimensional, then linear layers with an activation between them. One layer is named
 * "fc"; several are "fc1" ... "fcK", with activations "relu1" ... (or "gelu1" ...). The last
 * linear layer's output (the logits) is the graph's output.
 */
#ifndef XF_MLP_H
#define XF_MLP_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

#define XF_MLP_MAX_LAYERS 64

/*
 * Build the MLP [d] -> hidden[0] -> ... -> hidden[n_hidden - 1] -> classes (d the product of
 * shape) into m, its weights and biases drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as
 * torch.nn.Linear's reset_parameters, from seed. -1 with err.
 */
int xf_mlp_build(int ndim, const int64_t *shape, const int64_t *hidden, int n_hidden, bool gelu, int classes,
		 uint64_t seed, struct xf_model *m, struct xf_err *err);

/* The node names of the activations (for dropout): node indices into *nodes, their count returned. */
int xf_mlp_activations(const struct xf_model *m, int *nodes);

#endif
