/*
 * fields: read whole fields into memory, for algorithms that need every row at once
 * (scores, projections, heads). Rows of all remaining segments are stacked; each segment
 * must declare the fields with the same dtype and shape.
 */
#ifndef XF_FIELDS_H
#define XF_FIELDS_H

#include "reader.h"

/*
 * Read fields names[0..n) to the end of the stream into out[i], a contiguous tensor of shape
 * (starting from the current segment when the caller has already read its header frame)
 * [rows, field shape] converted to dtypes[i] (XF_DTYPE_COUNT: keep the stream's dtype).
 * Errors: a field missing from a segment, differing declarations between segments, a model
 * segment, a conversion that does not fit, and every reader error. On error out[] is empty.
 */
int xf_read_fields(struct xf_reader *r, int n, const char *const *names, const enum xf_dtype *dtypes,
		   struct xf_tensor *out, struct xf_err *err);

#endif
