/*
 * catout: the output side of xfer-cat. Frames come in from any number of inputs; rows and
 * fields are selected (select.h) and go out as one stream (consecutive compatible segments
 * merged), as a text description (--info), nowhere (--check), or exported (--to).
 */
#ifndef XF_CATOUT_H
#define XF_CATOUT_H

#include "reader.h"
#include "select.h"

enum xf_catout_mode {
	XF_CATOUT_STREAM, XF_CATOUT_INFO, XF_CATOUT_CHECK,
	XF_CATOUT_NPY, XF_CATOUT_NPZ, XF_CATOUT_CSV, XF_CATOUT_JSONL
};

struct xf_catout_opts {
	enum xf_catout_mode mode;
	const char *fields;        /* comma-separated field names, NULL = all */
	struct xf_rowsel rows;     /* rows kept */
	const char *prog;          /* recorded in meta.history of stream output */
	int argc;
	char **argv;
	int export_fd;             /* npy/npz are written here directly, not through the sink */
	const char *export_name;
};

#define XF_CATOUT_OPTS_INIT { XF_CATOUT_STREAM, NULL, { 0, INT64_MAX, 0 }, "xfer-cat", 0, NULL, -1, NULL }

struct xf_catout;

int xf_catout_parse_format(const char *name, enum xf_catout_mode *out);
/* Whether the mode writes binary data (refused on a terminal). */
bool xf_catout_is_binary(enum xf_catout_mode mode);

/* sink may be NULL for XF_CATOUT_CHECK; it is not owned. */
struct xf_catout *xf_catout_new(const struct xf_catout_opts *opts, struct xf_sink *sink, struct xf_err *err);
/*
 * One frame read under header h. Returns true to go on; false either with err filled (an
 * error) or with err untouched (all selected rows are out, the rest of the input is not needed).
 */
bool xf_catout_frame(struct xf_catout *c, const struct xf_header *h, const struct xf_frame *f, struct xf_err *err);
/* Write what was held back (the end frame, an export). */
int xf_catout_finish(struct xf_catout *c, struct xf_err *err);
void xf_catout_free(struct xf_catout *c);
int64_t xf_catout_segments_in(const struct xf_catout *c);
int64_t xf_catout_rows_out(const struct xf_catout *c);

#endif
