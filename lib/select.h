/*
 * select: which rows and fields of a stream a program keeps (xfer-cat --rows/--head/--shard/--fields).
 * Rows are counted across all segments and inputs in order; a range is [begin, end).
 */
#ifndef XF_SELECT_H
#define XF_SELECT_H

#include "header.h"

struct xf_rowsel {
	int64_t begin, end;   /* rows kept: begin <= i < end (end = INT64_MAX: to the end) */
	int64_t seen;         /* rows passed so far */
};

/* Parse "A:B", "A:", ":B" or "A" (one row); -1 with err on junk or B < A. */
int xf_rowsel_parse(const char *spec, struct xf_rowsel *out, struct xf_err *err);
/* Parse "I/N" (0 <= I < N) into *index and *count. */
int xf_shard_parse(const char *spec, int64_t *index, int64_t *count, struct xf_err *err);
/* Rows of shard I of N when there are total rows: contiguous, sizes differ by at most one. */
void xf_shard_range(int64_t index, int64_t count, int64_t total, struct xf_rowsel *out);

/* Of a batch of n rows arriving next, the slice to keep: *from and return value = count. */
int64_t xf_rowsel_take(struct xf_rowsel *s, int64_t n, int64_t *from);
/* Whether no later row can be kept. */
bool xf_rowsel_done(const struct xf_rowsel *s);

/*
 * A header with only the named fields, in the order named (names is a comma-separated list,
 * NULL = all); index[k] receives the source field of output field k. An unknown name is a
 * format error, a name given twice or an empty list a usage error. A model's graph is kept
 * only when every tensor is: it would name tensors that are no longer there.
 */
int xf_header_select(const struct xf_header *h, const char *names, struct xf_header *out, int *index,
		     struct xf_err *err);

#endif
