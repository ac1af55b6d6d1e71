/*
 * fuse_stream: prediction fusion over streams (xfer-merge --fuse): several samples streams
 * with predictions for the same rows, read in step batch by batch (bounded memory), written
 * as the first stream's rows with the fused fields "probs" and "logits" (replacing fields of
 * those names) and, for the dynamic method, "fuse_weights" (the per-row model weights).
 */
#ifndef XF_FUSE_STREAM_H
#define XF_FUSE_STREAM_H

#include "fuse.h"
#include "writer.h"

struct xf_fuse_stream_opts {
	enum xf_fuse_method method;
	const char *field;        /* the predictions; NULL: "probs", else "logits" */
	const double *weights;    /* one per input, or NULL */
	int threads;
	void (*on_header)(struct xf_header *h); /* may adjust the output header (history); may be NULL */
};

/*
 * Fuse the predictions of paths[0..n) ("-" is stdin) into w. A field whose name contains
 * "logit" holds logits, any other probabilities (checked: rows summing to 1). -1 with err:
 * a missing field, different class counts, streams with different numbers of rows (naming
 * both), and the readers', the fusion's and the writer's errors.
 */
int xf_fuse_streams(const struct xf_fuse_stream_opts *o, int n, const char *const *paths, struct xf_writer *w,
		    struct xf_err *err);

#endif
