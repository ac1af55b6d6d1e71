/*
 * samples: a whole samples stream in memory, for programs that need every row at once and
 * pass the other fields through (project, train, prune): the first segment's header and one
 * column per field, the rows of every segment stacked. Fields can be replaced or added, and
 * the result written as one segment.
 */
#ifndef XF_SAMPLES_H
#define XF_SAMPLES_H

#include "reader.h"
#include "writer.h"

struct xf_samples {
	struct xf_header h;        /* fields and meta of the stream (kind samples or table) */
	struct xf_tensor *cols;    /* h.n_fields columns, [n, field shape], the stream's dtypes */
	int64_t n;                 /* rows */
};

#define XF_SAMPLES_INIT { XF_HEADER_INIT, NULL, 0 }

/* Read every field of every remaining segment of r (samples or table; empty input is an error). */
int xf_samples_read(struct xf_reader *r, struct xf_samples *s, struct xf_err *err);

/* Field `name` as doubles, n x d row-major (d = the product of its shape; a new array). */
int xf_samples_f64(const struct xf_samples *s, const char *name, double **out, int64_t *d, struct xf_err *err);
/* Labels `name` as int64 (n values; a new array): an integer field of one value per row. */
int xf_samples_labels(const struct xf_samples *s, const char *name, int64_t **out, struct xf_err *err);

/*
 * Replace field `name` by t (rows = s->n), or add it at the end if absent; takes t over
 * (emptied) on success.
 */
int xf_samples_put(struct xf_samples *s, const char *name, struct xf_tensor *t, struct xf_err *err);

/* One segment with every field, under s->h (its meta and history as they are). */
int xf_samples_write(struct xf_writer *w, const struct xf_samples *s, struct xf_err *err);

void xf_samples_release(struct xf_samples *s);

#endif
