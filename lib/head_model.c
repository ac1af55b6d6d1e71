/* head_model: a linear head written as a model segment; see head_model.h. */
#include <stdlib.h>

#include "graph.h"
#include "head_model.h"

static json_t *head_graph(int ndim, const int64_t *shape)
{
	json_t *dims = json_array(), *nodes = json_array();
	const char *into_fc = ndim == 1 ? "x" : "flatten";

	for (int i = 0; dims && i < ndim; i++)
		json_array_append_new(dims, json_integer(shape[i]));
	if (ndim != 1)
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s]}", "name", "flatten", "op", "flatten", "inputs", "x"));
	json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "name", "fc", "op", "linear", "inputs",
					       into_fc, "weights", "weight", "fc.weight", "bias", "fc.bias"));
	return json_pack("{s:{s:{s:o}}, s:o, s:[s]}", "inputs", "x", "shape", dims, "nodes", nodes, "outputs", "fc");
}

static int write_tensor(struct xf_writer *wr, int field, int ndim, const int64_t *shape, const double *v,
			struct xf_err *err)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	int64_t n = xf_shape_count(ndim, shape);
	int rc = xf_tensor_alloc(&t, XF_DTYPE_F32, ndim, shape, err);

	for (int64_t i = 0; rc == 0 && i < n; i++)
		((float *)t.data)[i] = (float)v[i];
	rc = rc ? rc : xf_writer_tensor(wr, field, &t, err);
	xf_tensor_release(&t);
	return rc;
}

int xf_head_model_write(struct xf_writer *wr, int ndim, const int64_t *shape, const double *w, const double *b,
			int64_t d, int c, const json_t *meta, struct xf_err *err)
{
	struct xf_header h = XF_HEADER_INIT;
	int64_t wshape[2] = { c, d }, bshape[1] = { c };
	int rc;

	h.kind = XF_KIND_MODEL;
	h.graph = head_graph(ndim, shape);
	h.meta = meta ? json_deep_copy(meta) : json_object();
	rc = h.graph && h.meta ? 0 : xf_err_nomem(err, 0);
	rc = rc ? rc : xf_header_add_field(&h, "fc.weight", XF_DTYPE_F32, 2, wshape, err);
	rc = rc ? rc : xf_header_add_field(&h, "fc.bias", XF_DTYPE_F32, 1, bshape, err);
	rc = rc ? rc : xf_graph_check(h.graph, &h, err);
	rc = rc ? rc : xf_writer_begin(wr, &h, err);
	rc = rc ? rc : write_tensor(wr, 0, 2, wshape, w, err);
	rc = rc ? rc : write_tensor(wr, 1, 1, bshape, b, err);
	rc = rc ? rc : xf_writer_end(wr, err);
	xf_header_release(&h);
	return rc;
}
