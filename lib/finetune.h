/*
 * finetune: what fine-tuning a model needs beyond training it (xfer-train --init): a new head
 * for a new label set, freezing the first layers, layer-wise learning-rate decay and
 * re-initialising the top layers, the practices of the fine-tuning-stability literature
 * (Howard and Ruder 2018; Zhang et al. 2021; Mosbach et al. 2021).
 *
 * Layers: the linear and conv2d nodes, numbered 0.. in graph order; a batchnorm or layernorm
 * node belongs to the layer before it (layer 0 if none).
 */
#ifndef XF_FINETUNE_H
#define XF_FINETUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* Per node: its layer. Returns the number of layers (0 when the graph has none). */
int xf_finetune_layers(const struct xf_model *m, int *layer_of_node);

/*
 * Replace the head, the linear node whose output is the logits (the first graph output, or its
 * input when that is a softmax), by a fresh one for `classes` outputs initialised as PyTorch
 * does (arch.h). -1 with err (XF_E_FORMAT when the logits do not come from a linear node).
 */
int xf_finetune_new_head(struct xf_model *m, int classes, uint64_t seed, struct xf_err *err);

/*
 * Freeze the weights of every node up to and including node `last` (by name) in graph order:
 * trainable[f] = false for their fields, true for the others. -1 with err (XF_E_USAGE for an
 * unknown node, or one that leaves nothing to train).
 */
int xf_finetune_freeze(const struct xf_model *m, const char *last, bool *trainable, struct xf_err *err);

/* Re-initialise the weights of the top `count` layers (arch.h's initialisation, from seed). */
int xf_finetune_reinit(struct xf_model *m, int count, uint64_t seed, struct xf_err *err);

/* lr_scale[f] = decay^(L - 1 - layer) for the fields of each layer's nodes (1 for the head). */
int xf_finetune_layer_decay(const struct xf_model *m, double decay, double *lr_scale, struct xf_err *err);

#endif
