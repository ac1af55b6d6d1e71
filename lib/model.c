/* model: a model segment read into memory with its graph; see model.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int xf_model_user(const struct xf_model *m, int field)
{
	for (int i = 0; m->g && i < m->g->n_nodes; i++)
		for (int r = 0; r < XF_ROLE_COUNT; r++)
			if (m->g->nodes[i].weights[r] == field)
				return i;
	return -1;
}

/* "tensor 'conv1.weight' (node 'conv1')": where a message about a field should point. */
static int field_error(const struct xf_model *m, int field, struct xf_err *err, int code, const char *what)
{
	int node = xf_model_user(m, field);

	if (node < 0)
		return xf_err_set(err, code, "tensor '%s' %s", m->h.fields[field].name, what);
	return xf_err_set(err, code, "node '%s' (%s): tensor '%s' %s", m->g->nodes[node].name,
			  xf_op_name(m->g->nodes[node].op), m->h.fields[field].name, what);
}

/* The header frame, checked to be a model with a graph, and the graph parsed. */
static int read_header(struct xf_reader *r, struct xf_model *m, struct xf_err *err)
{
	struct xf_frame f = XF_FRAME_INIT;
	int rc = xf_reader_next(r, &f, err);

	xf_frame_release(&f);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return xf_err_set(err, XF_E_FORMAT, "empty input (no model)");
	if (xf_reader_header(r)->kind != XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "a %s stream, not a model", xf_kind_name(xf_reader_header(r)->kind));
	if (xf_header_copy(xf_reader_header(r), &m->h, err) < 0)
		return -1;
	if (!m->h.graph)
		return xf_err_set(err, XF_E_FORMAT, "the model has no graph (xfer-pack --arch adds one)");
	if (!(m->weights = calloc((size_t)m->h.n_fields + 1, sizeof(*m->weights))))
		return xf_err_nomem(err, 0);
	return xf_graph_parse(m->h.graph, &m->h, &m->g, err);
}

/* Tensor frame f as float32 into m->weights[f->field]. */
static int take_tensor(struct xf_model *m, struct xf_frame *f, struct xf_err *err)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	int64_t n;

	if (xf_tensor_convert(&f->tensor, XF_DTYPE_F32, &t, err) < 0)
		return -1;
	n = xf_tensor_count(&t);
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(((float *)t.data)[i])) {
			xf_tensor_release(&t);
			return field_error(m, f->field, err, XF_E_FORMAT, "holds NaN or infinity");
		}
	free(m->weights[f->field]);
	m->weights[f->field] = t.data; /* contiguous, owned: the tensor's allocation is its data */
	return 0;
}

/*
 * After a reader error: name a tensor that has not arrived, since that is the likely cause. It
 * goes after the reader's message, which begins with the input's name.
 */
static int missing_tensor(struct xf_model *m, struct xf_err *err)
{
	struct xf_err why = XF_ERR_INIT;
	size_t len = strlen(err->msg);

	for (int i = 0; i < m->h.n_fields; i++)
		if (!m->weights[i]) {
			field_error(m, i, &why, XF_E_FORMAT, "never arrives");
			snprintf(err->msg + len, sizeof(err->msg) - len, " (%s)", why.msg);
			return -1;
		}
	return -1;
}

int xf_model_read(struct xf_reader *r, struct xf_model *m, struct xf_err *err)
{
	struct xf_frame f = XF_FRAME_INIT;
	int rc;

	*m = (struct xf_model)XF_MODEL_INIT;
	if (read_header(r, m, err) < 0)
		goto fail;
	while ((rc = xf_reader_next(r, &f, err)) > 0 && f.type != XF_FRAME_END) {
		rc = f.type == XF_FRAME_TENSOR ? take_tensor(m, &f, err) : 0;
		xf_frame_release(&f);
		if (rc < 0)
			goto fail;
	}
	xf_frame_release(&f);
	if (rc > 0)
		return 0;
	if (rc < 0)
		missing_tensor(m, err);
	else
		xf_err_set(err, XF_E_FORMAT, "the model segment has no end");
fail:
	xf_model_release(m);
	return -1;
}

void xf_model_release(struct xf_model *m)
{
	for (int i = 0; m->weights && i < m->h.n_fields; i++)
		free(m->weights[i]);
	free(m->weights);
	xf_graph_free(m->g);
	xf_header_release(&m->h);
	*m = (struct xf_model)XF_MODEL_INIT;
}

int xf_model_write(struct xf_writer *w, const struct xf_model *m, struct xf_err *err)
{
	struct xf_header h = XF_HEADER_INIT;
	int rc = xf_header_copy(&m->h, &h, err);

	for (int i = 0; rc == 0 && i < h.n_fields; i++)
		h.fields[i].dtype = XF_DTYPE_F32;
	rc = rc ? rc : xf_writer_begin(w, &h, err);
	for (int i = 0; rc == 0 && i < h.n_fields; i++) {
		struct xf_tensor t = XF_TENSOR_INIT;

		t.dtype = XF_DTYPE_F32, t.ndim = h.fields[i].ndim, t.data = m->weights[i];
		memcpy(t.shape, h.fields[i].shape, sizeof(t.shape));
		xf_tensor_set_contiguous_strides(&t);
		rc = xf_writer_tensor(w, i, &t, err);
	}
	rc = rc ? rc : xf_writer_end(w, err);
	xf_header_release(&h);
	return rc;
}

int xf_model_create(json_t *graph, int n, const char *const *names, const int *ndims, int64_t (*shapes)[XF_MAX_DIMS],
		    struct xf_model *m, struct xf_err *err)
{
	int rc = 0;

	*m = (struct xf_model)XF_MODEL_INIT;
	m->h.kind = XF_KIND_MODEL;
	m->h.graph = graph;
	if (!graph || !(m->h.meta = json_object()) || !(m->weights = calloc((size_t)n + 1, sizeof(float *))))
		rc = xf_err_nomem(err, 0);
	for (int i = 0; rc == 0 && i < n; i++) {
		size_t bytes = 0;
		char s[160];

		rc = xf_header_add_field(&m->h, names[i], XF_DTYPE_F32, ndims[i], shapes[i], err);
		/* A model tensor is written as one frame, so the frame limit bounds it (schemas/stream.md 5.4). */
		if (rc == 0 && xf_shape_bytes(XF_DTYPE_F32, ndims[i], shapes[i], XF_MAX_FRAME, &bytes, err) < 0)
			rc = xf_err_set(err, XF_E_LIMIT, "tensor '%s' of shape %s does not fit in a frame (%u bytes of float32 at most)",
					names[i], xf_shape_str(ndims[i], shapes[i], s, sizeof(s)), XF_MAX_FRAME);
		if (rc == 0 && !(m->weights[i] = calloc(bytes / sizeof(float) + 1, sizeof(float))))
			rc = xf_err_nomem(err, bytes);
	}
	rc = rc ? rc : xf_graph_parse(m->h.graph, &m->h, &m->g, err);
	if (rc < 0)
		xf_model_release(m);
	return rc;
}
