/*
 * textout: rows as text for people and other tools (xfer-cat --to csv|jsonl), and per-field
 * statistics (xfer-cat --info). Floats are printed with enough digits to read back exactly
 * (%.9g for f2/bf16/f4, %.17g for f8); NaN and infinities are nan/inf/-inf in CSV and null in
 * JSON, which has no spelling for them.
 */
#ifndef XF_TEXTOUT_H
#define XF_TEXTOUT_H

#include "header.h"
#include "io.h"

/* CSV header line: a field of per-row shape [] is one column; others are flattened as name_0, name_1, ... */
int xf_csv_write_header(struct xf_sink *out, const struct xf_header *h, struct xf_err *err);
/* Rows [from, from + n) of a batch's columns as CSV lines, or as JSON objects one per line. */
int xf_csv_write_rows(struct xf_sink *out, const struct xf_header *h, const struct xf_tensor *cols,
		      int64_t from, int64_t n, struct xf_err *err);
int xf_jsonl_write_rows(struct xf_sink *out, const struct xf_header *h, const struct xf_tensor *cols,
			int64_t from, int64_t n, struct xf_err *err);

struct xf_stats {
	int64_t count;        /* values seen (finite or not) */
	int64_t n_nan, n_inf; /* non-finite values */
	double min, max, sum; /* over finite values */
};

void xf_stats_init(struct xf_stats *s);
/* Add every element of a numeric column (STR columns are ignored). */
void xf_stats_add(struct xf_stats *s, const struct xf_tensor *col);

#endif
