/*
 * score_partial: xfer-score's partial statistics on the wire (--partial, --reduce): one table
 * segment per candidate holding a single row of arrays (counts, mean, class means, scatter,
 * class sums of squares, joint label/prediction counts), with meta.xfer_score_partial = 1,
 * meta.candidate and the sizes n, c, d, cs.
 */
#ifndef XF_SCORE_PARTIAL_H
#define XF_SCORE_PARTIAL_H

#include "reader.h"
#include "score.h"
#include "writer.h"

/* Write s as one segment under h (which the caller prepared with meta.history). */
int xf_score_stats_write(struct xf_writer *w, const struct xf_header *h, const char *candidate,
			 const struct xf_score_stats *s, struct xf_err *err);

/* Called for each segment read, with its candidate's name and statistics (freed after the call). */
typedef int (*xf_score_stats_fn)(void *ctx, const char *candidate, struct xf_score_stats *s, struct xf_err *err);
/* Read every partial segment of a stream, checking sizes and shapes against each other. */
int xf_score_stats_read(struct xf_reader *r, xf_score_stats_fn fn, void *ctx, struct xf_err *err);

#endif
