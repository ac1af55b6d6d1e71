/*
 * fuse_stream: the streams side of prediction fusion; see fuse_stream.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fuse_stream.h"
#include "reader.h"

/* One input, read batch by batch. */
struct cursor {
	struct xf_reader *r;
	const char *path;
	struct xf_frame batch;   /* the current batch (n_rows 0 when none) */
	int64_t at;              /* its rows already used */
	int field;               /* the predictions in the current header */
	int64_t rows;            /* rows used so far */
	bool has_batch, ended;
};

struct fusion {
	const struct xf_fuse_stream_opts *o;
	int n;
	struct cursor *in;
	const char *field;       /* the predictions' name */
	enum xf_fuse_kind kind;
	int64_t classes;
	struct xf_header first;  /* the first input's header */
	struct xf_header out;    /* the output's header */
	int out_probs, out_logits, out_weights; /* their fields in out (-1: absent) */
};

static int find_field(struct fusion *fu, struct cursor *c, struct xf_err *err)
{
	const struct xf_header *h = xf_reader_header(c->r);
	const struct xf_field *f;

	if (h->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "%s: a model, not predictions", c->path);
	if (!fu->field) {
		fu->field = xf_header_find(h, "probs") >= 0 ? "probs" : "logits";
		fu->kind = strstr(fu->field, "logit") ? XF_FUSE_LOGITS : XF_FUSE_PROBS;
	}
	c->field = xf_header_find(h, fu->field);
	if (c->field < 0)
		return xf_err_set(err, XF_E_FORMAT, "%s: no field '%s'%s", c->path, fu->field,
				  fu->o->field ? "" : " or 'probs' (--field names the predictions)");
	f = &h->fields[c->field];
	if (!xf_dtype_table[f->dtype].is_float || f->ndim != 1)
		return xf_err_set(err, XF_E_FORMAT, "%s: field '%s' is not a float vector per row", c->path, fu->field);
	if (fu->classes && f->shape[0] != fu->classes)
		return xf_err_set(err, XF_E_FORMAT, "%s: field '%s' has %lld classes, %s has %lld", c->path, fu->field,
				  (long long)f->shape[0], fu->in[0].path, (long long)fu->classes);
	fu->classes = f->shape[0];
	return 0;
}

static int64_t available(const struct cursor *c)
{
	return c->has_batch ? c->batch.n_rows - c->at : 0;
}

/* A header frame of input c: the first input's later segments must declare the same fields. */
static int on_header(struct fusion *fu, struct cursor *c, struct xf_err *err)
{
	if (c == fu->in && fu->first.n_fields && !xf_header_compatible(xf_reader_header(c->r), &fu->first))
		return xf_err_set(err, XF_E_FORMAT, "%s: a later segment declares other fields than the first",
				  c->path);
	return find_field(fu, c, err);
}

/* Make the cursor hold unused rows, or reach the end of its input. */
static int advance(struct fusion *fu, struct cursor *c, struct xf_err *err)
{
	while (!c->ended && available(c) == 0) {
		int rc;

		xf_frame_release(&c->batch);
		c->has_batch = false;
		c->at = 0;
		rc = xf_reader_next(c->r, &c->batch, err);
		if (rc < 0)
			return xf_err_prefix(err, "%s", c->path);
		c->ended = rc == 0;
		if (rc > 0 && c->batch.type == XF_FRAME_HEADER && on_header(fu, c, err) < 0)
			return -1;
		c->has_batch = rc > 0 && c->batch.type == XF_FRAME_BATCH;
	}
	return 0;
}

static int open_inputs(struct fusion *fu, const char *const *paths, struct xf_err *err)
{
	if (!(fu->in = calloc((size_t)fu->n, sizeof(*fu->in))))
		return xf_err_nomem(err, (size_t)fu->n * sizeof(*fu->in));
	for (int i = 0; i < fu->n; i++) {
		struct cursor *c = &fu->in[i];

		c->batch = (struct xf_frame)XF_FRAME_INIT;
		c->path = strcmp(paths[i], "-") ? paths[i] : "stdin";
		if (!(c->r = xf_reader_open(paths[i], err)) || advance(fu, c, err) < 0)
			return -1;
		if (!xf_reader_header(c->r))
			return xf_err_set(err, XF_E_FORMAT, "%s: empty input: expected predictions", c->path);
		if (i == 0 && xf_header_copy(xf_reader_header(c->r), &fu->first, err) < 0)
			return -1;
	}
	return 0;
}

/* Declare field name as float32 [width] in the output: in place of a field so named, or added. */
static int declare(struct xf_header *h, const char *name, int64_t width, struct xf_err *err)
{
	int j = xf_header_find(h, name);

	if (j < 0) {
		if (xf_header_add_field(h, name, XF_DTYPE_F32, 1, &width, err) < 0)
			return -1;
		return h->n_fields - 1;
	}
	h->fields[j].dtype = XF_DTYPE_F32;
	h->fields[j].ndim = 1;
	h->fields[j].shape[0] = width;
	return j;
}

static int output_header(struct fusion *fu, struct xf_err *err)
{
	struct xf_header *h = &fu->out;

	if (xf_header_copy(&fu->first, h, err) < 0)
		return -1;
	h->kind = XF_KIND_SAMPLES;
	fu->out_weights = -1;
	if ((fu->out_probs = declare(h, "probs", fu->classes, err)) < 0 ||
	    (fu->out_logits = declare(h, "logits", fu->classes, err)) < 0)
		return -1;
	if (fu->o->method == XF_FUSE_DYNAMIC && (fu->out_weights = declare(h, "fuse_weights", fu->n, err)) < 0)
		return -1;
	if (json_object_set_new(h->meta, "fuse", json_pack("{s:s, s:s, s:i}", "method",
							   xf_fuse_method_name(fu->o->method), "field", fu->field,
							   "models", fu->n)) < 0)
		return xf_err_nomem(err, 0);
	if (fu->o->on_header)
		fu->o->on_header(h);
	return 0;
}

/* m rows of input c's predictions as float32: a view, or a converted copy in *tmp. */
static const float *predictions(const struct cursor *c, int64_t m, struct xf_tensor *tmp, struct xf_err *err)
{
	struct xf_tensor rows;

	xf_tensor_rows(&c->batch.cols[c->field], c->at, c->at + m, &rows);
	if (rows.dtype == XF_DTYPE_F32 && xf_tensor_is_contiguous(&rows))
		return rows.data;
	if (xf_tensor_convert(&rows, XF_DTYPE_F32, tmp, err) < 0)
		return NULL;
	return tmp->data;
}

/* Output columns for m rows: computed ones from out[], the first input's others as views. */
static void output_columns(const struct fusion *fu, int64_t m, struct xf_tensor *out, struct xf_tensor *cols)
{
	const struct cursor *first = &fu->in[0];

	for (int j = 0; j < fu->out.n_fields; j++) {
		if (j == fu->out_probs || j == fu->out_logits || j == fu->out_weights)
			cols[j] = out[j == fu->out_probs ? 0 : j == fu->out_logits ? 1 : 2];
		else
			xf_tensor_rows(&first->batch.cols[j], first->at, first->at + m, &cols[j]);
	}
}

static int alloc_outputs(const struct fusion *fu, int64_t m, struct xf_tensor *out, struct xf_err *err)
{
	int64_t probs_shape[2] = { m, fu->classes }, weights_shape[2] = { m, fu->n };

	if (xf_tensor_alloc_uninit(&out[0], XF_DTYPE_F32, 2, probs_shape, err) < 0 ||
	    xf_tensor_alloc_uninit(&out[1], XF_DTYPE_F32, 2, probs_shape, err) < 0)
		return -1;
	return fu->out_weights < 0 ? 0 : xf_tensor_alloc_uninit(&out[2], XF_DTYPE_F32, 2, weights_shape, err);
}

/* Fuse the next m rows, available in every input, and write them. */
static int fuse_rows(struct fusion *fu, int64_t m, const float **preds, struct xf_tensor *tmp,
		     struct xf_tensor *cols, struct xf_writer *w, struct xf_err *err)
{
	struct xf_tensor out[3] = { XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT };
	int rc = alloc_outputs(fu, m, out, err);

	for (int i = 0; i < fu->n && rc == 0; i++)
		if (!(preds[i] = predictions(&fu->in[i], m, &tmp[i], err)))
			rc = -1;
	if (rc == 0 && xf_fuse(fu->o->method, fu->kind, fu->n, preds, fu->o->weights, m, fu->classes, fu->o->threads,
			       out[1].data, out[0].data, out[2].data, err) < 0)
		rc = xf_err_prefix(err, "rows from %lld", (long long)fu->in[0].rows);
	if (rc == 0) {
		output_columns(fu, m, out, cols);
		rc = xf_writer_rows(w, m, cols, err);
	}
	for (int i = 0; i < fu->n; i++) {
		xf_tensor_release(&tmp[i]);
		fu->in[i].at += m;
		fu->in[i].rows += m;
	}
	for (int k = 0; k < 3; k++)
		xf_tensor_release(&out[k]);
	return rc;
}

/* The fewest rows ready in every input; 0 at the end, which must be the end of all of them. */
static int64_t ready_rows(struct fusion *fu, struct xf_err *err)
{
	int64_t m = INT64_MAX;

	for (int i = 0; i < fu->n; i++) {
		if (advance(fu, &fu->in[i], err) < 0)
			return -1;
		if (available(&fu->in[i]) < m)
			m = available(&fu->in[i]);
	}
	for (int i = 0; m == 0 && i < fu->n; i++)
		if (!fu->in[i].ended)
			return xf_err_set(err, XF_E_FORMAT, "%s has more rows than %s (%lld)", fu->in[i].path,
					  fu->in[i ? 0 : 1].path, (long long)fu->in[i ? 0 : 1].rows);
	return m;
}

static int fuse_all(struct fusion *fu, struct xf_writer *w, struct xf_err *err)
{
	const float **preds = calloc((size_t)fu->n, sizeof(*preds));
	struct xf_tensor *tmp = calloc((size_t)fu->n, sizeof(*tmp));
	struct xf_tensor *cols = calloc((size_t)fu->out.n_fields, sizeof(*cols));
	int64_t m;
	int rc = 0;

	if (!preds || !tmp || !cols)
		rc = xf_err_nomem(err, (size_t)fu->n * sizeof(*tmp));
	while (rc == 0 && (m = ready_rows(fu, err)) > 0)
		rc = fuse_rows(fu, m, preds, tmp, cols, w, err);
	if (rc == 0 && m < 0)
		rc = -1;
	free(preds);
	free(tmp);
	free(cols);
	return rc;
}

static void release(struct fusion *fu)
{
	for (int i = 0; fu->in && i < fu->n; i++) {
		xf_frame_release(&fu->in[i].batch);
		if (fu->in[i].r)
			xf_reader_close(fu->in[i].r);
	}
	free(fu->in);
	xf_header_release(&fu->first);
	xf_header_release(&fu->out);
}

int xf_fuse_streams(const struct xf_fuse_stream_opts *o, int n, const char *const *paths, struct xf_writer *w,
		    struct xf_err *err)
{
	struct fusion fu = { o, n, NULL, o->field, XF_FUSE_PROBS, 0, XF_HEADER_INIT, XF_HEADER_INIT, -1, -1, -1 };
	int rc;

	if (o->field)
		fu.kind = strstr(o->field, "logit") ? XF_FUSE_LOGITS : XF_FUSE_PROBS;
	rc = open_inputs(&fu, paths, err);
	if (rc == 0)
		rc = output_header(&fu, err);
	if (rc == 0)
		rc = xf_writer_begin(w, &fu.out, err);
	if (rc == 0)
		rc = fuse_all(&fu, w, err);
	if (rc == 0)
		rc = xf_writer_end(w, err);
	release(&fu);
	return rc;
}
