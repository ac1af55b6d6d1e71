/*
 * model: a model segment in memory, ready to run: its header, the parsed and validated
 * graph (graph.h) and every tensor as contiguous float32, whatever its dtype on the wire.
 *
 *	struct xf_model m = XF_MODEL_INIT;
 *	if (xf_model_read(reader, &m, &err) < 0) return -1;
 *	... m.g->nodes[i].weights[XF_ROLE_WEIGHT] indexes m.weights ...
 *	xf_model_release(&m);
 */
#ifndef XF_MODEL_H
#define XF_MODEL_H

#include "graph.h"
#include "reader.h"
#include "writer.h"

struct xf_model {
	struct xf_header h;     /* the segment's header; h.graph is the architecture */
	struct xf_graph *g;     /* parsed from h.graph; owned */
	float **weights;        /* h.n_fields arrays, C order, in field order; owned */
};

#define XF_MODEL_INIT { XF_HEADER_INIT, NULL, NULL }

/*
 * Read the first segment of r, which must be a model with a graph, and convert its tensors
 * to float32 (f64 rounded, f16 and bf16 widened). -1 with err: XF_E_FORMAT for a samples
 * stream, a model without a graph (xfer-pack --arch adds one), an invalid graph (the
 * message names the node: see xf_graph_parse), a tensor that never arrives (naming it and
 * the first node that uses it) or a non-finite weight; the reader's errors; XF_E_NOMEM.
 */
int xf_model_read(struct xf_reader *r, struct xf_model *m, struct xf_err *err);

/*
 * Write m as one model segment: its header (meta included) with every field declared as
 * float32, then its tensors. -1 with err (the writer's errors).
 */
int xf_model_write(struct xf_writer *w, const struct xf_model *m, struct xf_err *err);

/*
 * Make m a model of graph `graph` (taken over) and fields `names` with shapes (float32, zero),
 * parsing and validating the graph; meta starts empty. -1 with err (m released).
 */
int xf_model_create(json_t *graph, int n, const char *const *names, const int *ndims, int64_t (*shapes)[XF_MAX_DIMS],
		    struct xf_model *m, struct xf_err *err);

/* The node that first uses field `field` as a weight, or -1. */
int xf_model_user(const struct xf_model *m, int field);

/* Frees everything and resets to XF_MODEL_INIT. */
void xf_model_release(struct xf_model *m);

#endif
