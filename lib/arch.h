/*
 * arch: a model to train from an architecture file, without weights: a JSON object
 *   { "graph": { ...the model graph of schemas/stream.md section 9... },
 *     "tensors": { "conv1.weight": [8, 1, 3, 3], "conv1.bias": [8], ... } }
 * that declares each tensor the graph names by its shape. Tensors are initialised as PyTorch
 * initialises the modules of the same ops: linear and conv2d weights and biases from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (fan_in: the weight's size over its first dimension),
 * batchnorm and layernorm weights 1 and biases 0, running means 0 and variances 1.
 */
#ifndef XF_ARCH_H
#define XF_ARCH_H

#include <stdint.h>

#include "model.h"

/* Read path and build m from it, with weights drawn from seed. -1 with err naming what is wrong. */
int xf_arch_load(const char *path, uint64_t seed, struct xf_model *m, struct xf_err *err);

/*
 * Initialise the tensors of m's nodes i with nodes[i] set (NULL: every node) as above; a
 * tensor tied between nodes is drawn once. Used by xf_arch_load, and to re-initialise layers.
 */
void xf_arch_init_nodes(struct xf_model *m, const bool *nodes, uint64_t seed);

#endif
