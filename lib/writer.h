/*
 * writer: xfer streams out (schemas/stream.md). Rows given in any amounts leave as batch
 * frames of about XF_BATCH_BYTES; model tensors leave one frame each.
 *
 *	struct xf_writer *w = xf_writer_new(sink, &err);
 *	xf_writer_begin(w, &header, &err);           header frame
 *	xf_writer_rows(w, n, cols, &err);            any number of times
 *	xf_writer_end(w, &err);                      flushes rows, writes the end frame
 *	xf_writer_free(w);
 * Every call returns 0 or -1 with err filled; after a failure the writer only frees.
 * The writer never takes ownership of headers or tensors.
 */
#ifndef XF_WRITER_H
#define XF_WRITER_H

#include "header.h"
#include "io.h"

#define XF_BATCH_BYTES (4u << 20)

struct xf_writer;

struct xf_writer *xf_writer_new(struct xf_sink *sink, struct xf_err *err);
/* Rows per batch are chosen so a batch holds about this many bytes (default XF_BATCH_BYTES). */
void xf_writer_set_batch_bytes(struct xf_writer *w, size_t bytes);

/* Write a header frame and start a segment (copies what it needs from h). */
int xf_writer_begin(struct xf_writer *w, const struct xf_header *h, struct xf_err *err);

/*
 * Add n rows: cols[i] is field i's column with shape [n, field shape] and the field's dtype
 * (row-contiguous). Rows are copied or written before this returns.
 */
int xf_writer_rows(struct xf_writer *w, int64_t n, const struct xf_tensor *cols, struct xf_err *err);

/* Model segments: write declared tensor `field` (index into the header's fields). */
int xf_writer_tensor(struct xf_writer *w, int field, const struct xf_tensor *t, struct xf_err *err);

/* Flush buffered rows and write the end frame. */
int xf_writer_end(struct xf_writer *w, struct xf_err *err);

/* Rows (or tensors) written in the current or last segment. */
int64_t xf_writer_count(const struct xf_writer *w);

void xf_writer_free(struct xf_writer *w);

#endif
