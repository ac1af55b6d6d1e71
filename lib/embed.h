/*
 * embed: a model run over a samples stream, batch by batch (xfer-embed). Rows are bound to
 * the graph's inputs (preprocess.h), gathered into batches of opts->batch rows whatever the
 * input's frames, run (net.h), and written as a samples segment: the other input fields
 * carried through, then the requested outputs as float32 fields:
 *   - each requested layer (a node, or a graph input) as "x" when there is one and
 *     "x.NAME" otherwise, flattened, or averaged over all but its first dimension
 *     (opts->pool_avg: [C, H, W] -> [C]); no layers, logits or probs asked: the graph's
 *     outputs, as layers;
 *   - "logits": the first graph output (or the input of that output when it is a softmax);
 *   - "probs": softmax of the logits over their last dimension.
 * An input field of the same name as an output is replaced; the bound input fields are
 * dropped. Memory: one batch of activations, of inputs and of carried rows.
 *
 *	struct xf_embedder *e;
 *	if (xf_embedder_new(&model, &opts, input_header, &e, &err) < 0) return -1;
 *	xf_writer_begin(w, xf_embedder_header(e), &err);
 *	for each batch frame: xf_embedder_rows(e, f.n_rows, f.cols, w, &err);
 *	xf_embedder_flush(e, w, &err); xf_writer_end(w, &err); xf_embedder_free(e);
 */
#ifndef XF_EMBED_H
#define XF_EMBED_H

#include <stdbool.h>

#include "model.h"
#include "preprocess.h"
#include "writer.h"

struct xf_embed_opts {
	const char *const *layers;  /* node (or graph input) names to emit */
	int n_layers;
	bool logits, probs;         /* also emit these */
	bool pool_avg;              /* layers averaged over all but their first dimension */
	int64_t batch;              /* rows per run, >= 1 */
	int threads;                /* 0 or less: all cores */
	const char *field;          /* the field feeding a one-input graph (NULL: the input's name if a
				       field has it, else "x"); graphs with several inputs bind by name */
	struct xf_prep prep;        /* the asked-for part: colour, size, mean, std */
	void (*on_batch)(void *ctx, int64_t rows_done);  /* after each run (progress), or NULL */
	void *ctx;
};

#define XF_EMBED_OPTS_INIT { NULL, 0, false, false, false, 64, 0, NULL, XF_PREP_INIT, NULL, NULL }

struct xf_embedder;

/*
 * Ready m (borrowed) to run over a segment with header `in` (samples or table). -1 with err:
 * XF_E_USAGE for an unknown layer name (listing the nodes) or bad settings, XF_E_FORMAT for
 * a field that cannot feed its input (see xf_prep_bind) or a missing one, XF_E_NOMEM.
 */
int xf_embedder_new(const struct xf_model *m, const struct xf_embed_opts *o, const struct xf_header *in,
		    struct xf_embedder **out, struct xf_err *err);

/* The output segment's header (meta copied from the input; add history before writing it). */
struct xf_header *xf_embedder_header(struct xf_embedder *e);

/* Take n rows (cols as a batch frame's, in the input header's field order); full batches are run and written. */
int xf_embedder_rows(struct xf_embedder *e, int64_t n, const struct xf_tensor *cols, struct xf_writer *w,
		     struct xf_err *err);

/* Run and write the rows still waiting. */
int xf_embedder_flush(struct xf_embedder *e, struct xf_writer *w, struct xf_err *err);

/* Activation memory of the net, in bytes. */
size_t xf_embedder_memory(const struct xf_embedder *e);

void xf_embedder_free(struct xf_embedder *e);

#endif
