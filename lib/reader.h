/*
 * reader: frames of an xfer stream (schemas/stream.md), one at a time, with bounded memory.
 *
 *	struct xf_reader *r = xf_reader_open("-", &err);
 *	struct xf_frame f = XF_FRAME_INIT;
 *	while ((rc = xf_reader_next(r, &f, &err)) > 0) {
 *		if (f.type == XF_FRAME_BATCH) ... f.cols[i] belongs to field xf_reader_header(r)->fields[i]
 *		xf_frame_release(&f);
 *	}
 *
 * The reader checks everything the spec requires as it goes: frame order, kinds, dtypes and
 * shapes against the header, counts in end frames. Input that stops anywhere but right after
 * an end frame is an error ("truncated"); it is never passed on as a shorter stream.
 */
#ifndef XF_READER_H
#define XF_READER_H

#include "header.h"
#include "io.h"

#define XF_MAX_FRAME (1u << 30)   /* bytes of msgpack in one frame */

enum xf_frame_type { XF_FRAME_HEADER = 1, XF_FRAME_BATCH = 2, XF_FRAME_TENSOR = 3, XF_FRAME_END = 4 };

/* A frame; its tensors belong to the caller, who calls xf_frame_release. */
struct xf_frame {
	enum xf_frame_type type;
	int64_t n_rows;            /* batch: rows in it */
	int n_cols;                /* batch: columns, one per field of the header */
	struct xf_tensor *cols;    /* batch: cols[i] holds field i, shape [n_rows, field shape] */
	int field;                 /* tensor: index of the declared field */
	struct xf_tensor tensor;   /* tensor: the data */
	int64_t count;             /* end: rows (samples, table) or tensors (model) of the segment */
};

#define XF_FRAME_INIT { XF_FRAME_HEADER, 0, 0, NULL, -1, XF_TENSOR_INIT, 0 }

void xf_frame_release(struct xf_frame *f);

struct xf_reader;

/* Open a file or "-" (stdin); zstd input is detected. */
struct xf_reader *xf_reader_open(const char *path, struct xf_err *err);
/* A reader over an open source, which it takes over (closed by xf_reader_close). */
struct xf_reader *xf_reader_from_source(struct xf_source *src, struct xf_err *err);
/* Lower the frame size limit (tests, fuzzing). */
void xf_reader_set_max_frame(struct xf_reader *r, size_t bytes);

/* 1: a frame in *f; 0: clean end of input (after an end frame, or empty input); -1: error. */
int xf_reader_next(struct xf_reader *r, struct xf_frame *f, struct xf_err *err);

/* The current segment's header (NULL before the first); valid until the next header frame. */
const struct xf_header *xf_reader_header(const struct xf_reader *r);
/* Segments started so far; frames read so far. */
int64_t xf_reader_segments(const struct xf_reader *r);
int64_t xf_reader_frames(const struct xf_reader *r);
const char *xf_reader_name(const struct xf_reader *r);
bool xf_reader_is_zstd(const struct xf_reader *r);
/* Decompressed bytes consumed so far. */
uint64_t xf_reader_offset(const struct xf_reader *r);
/* Read again from the start (files only). */
int xf_reader_rewind(struct xf_reader *r, struct xf_err *err);
void xf_reader_close(struct xf_reader *r);

#endif
