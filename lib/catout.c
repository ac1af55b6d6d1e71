/* catout: xfer-cat's output side (stream, info, check, export); see catout.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catout.h"
#include "export.h"
#include "textout.h"
#include "writer.h"

struct xf_catout {
	struct xf_catout_opts o;
	struct xf_sink *sink;
	struct xf_writer *writer;     /* stream mode */
	struct xf_header out;         /* the header of what goes out (selected fields) */
	bool open;                    /* an output segment (or export table) has begun */
	int *index;                   /* out field k comes from input field index[k] */
	struct xf_tensor *views;      /* scratch: one slice view per out field */
	struct xf_stats *stats;       /* info mode: per out field */
	int64_t seg_rows, seg_batches;
	struct xf_tensor_list *held;  /* npy/npz: per out field, copies of each batch's slice */
	int64_t segments_in, rows_out;
};

int xf_catout_parse_format(const char *name, enum xf_catout_mode *out)
{
	static const struct { const char *name; enum xf_catout_mode mode; } formats[] = {
		{ "npy", XF_CATOUT_NPY }, { "npz", XF_CATOUT_NPZ }, { "csv", XF_CATOUT_CSV }, { "jsonl", XF_CATOUT_JSONL },
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(name, formats[i].name)) {
			*out = formats[i].mode;
			return 0;
		}
	return -1;
}

bool xf_catout_is_binary(enum xf_catout_mode mode)
{
	return mode == XF_CATOUT_STREAM || mode == XF_CATOUT_NPY || mode == XF_CATOUT_NPZ;
}

struct xf_catout *xf_catout_new(const struct xf_catout_opts *opts, struct xf_sink *sink, struct xf_err *err)
{
	struct xf_catout *c = calloc(1, sizeof(*c));

	if (!c) {
		xf_err_nomem(err, sizeof(*c));
		return NULL;
	}
	c->o = *opts;
	c->sink = sink;
	if (opts->mode == XF_CATOUT_STREAM && !(c->writer = xf_writer_new(sink, err))) {
		free(c);
		return NULL;
	}
	return c;
}

static bool same_classes(const struct xf_header *a, const struct xf_header *b)
{
	return json_equal(json_object_get(a->meta, "classes"), json_object_get(b->meta, "classes")) ||
	       (!json_object_get(a->meta, "classes") && !json_object_get(b->meta, "classes"));
}

/* Whether a segment with header sel continues the current output rather than starting anew (models never do). */
static bool continues(const struct xf_catout *c, const struct xf_header *sel)
{
	return c->open && sel->kind != XF_KIND_MODEL && xf_header_compatible(&c->out, sel) && same_classes(&c->out, sel);
}

static int begin_stream_segment(struct xf_catout *c, struct xf_header *sel, struct xf_err *err)
{
	if (c->open && xf_writer_end(c->writer, err) < 0)
		return -1;
	if (xf_header_add_history(sel, c->o.prog, c->o.argc, c->o.argv, err) < 0 ||
	    xf_writer_begin(c->writer, sel, err) < 0)
		return -1;
	return 0;
}

static int begin_export(struct xf_catout *c, const struct xf_header *sel, struct xf_err *err)
{
	bool text = c->o.mode == XF_CATOUT_CSV || c->o.mode == XF_CATOUT_JSONL;

	if (c->open && sel->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "segment %lld is a second model: an export holds one",
				  (long long)c->segments_in);
	if (c->open)
		return xf_err_set(err, XF_E_FORMAT, "segment %lld has other fields than the first: an export holds one table",
				  (long long)c->segments_in);
	if (text && sel->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_USAGE, "a model exports to npz or npy, not csv or jsonl");
	if (c->o.mode == XF_CATOUT_NPY && sel->n_fields != 1)
		return xf_err_set(err, XF_E_USAGE, "npy holds one array: choose a field with --fields (the stream has %d)",
				  sel->n_fields);
	if (!text) {
		c->held = calloc(sel->n_fields + 1, sizeof(*c->held));
		return c->held ? 0 : xf_err_nomem(err, 0);
	}
	return c->o.mode == XF_CATOUT_CSV ? xf_csv_write_header(c->sink, sel, err) : 0;
}

/* Replace the per-segment scratch (field index, views, stats) for a header of n fields. */
static int reset_scratch(struct xf_catout *c, int n, struct xf_err *err)
{
	free(c->index);
	free(c->views);
	free(c->stats);
	c->index = calloc(n + 1, sizeof(*c->index));
	c->views = calloc(n + 1, sizeof(*c->views));
	c->stats = calloc(n + 1, sizeof(*c->stats));
	if (!c->index || !c->views || !c->stats)
		return xf_err_nomem(err, (n + 1) * sizeof(*c->views));
	for (int i = 0; i < n; i++)
		xf_stats_init(&c->stats[i]);
	c->seg_rows = c->seg_batches = 0;
	return 0;
}

static int on_header(struct xf_catout *c, const struct xf_header *h, struct xf_err *err)
{
	struct xf_header sel;
	int rc = 0;

	c->segments_in++;
	if (reset_scratch(c, h->n_fields, err) < 0 || xf_header_select(h, c->o.fields, &sel, c->index, err) < 0)
		return -1;
	if (!continues(c, &sel)) {
		if (c->o.mode == XF_CATOUT_STREAM)
			rc = begin_stream_segment(c, &sel, err);
		else if (c->o.mode != XF_CATOUT_INFO && c->o.mode != XF_CATOUT_CHECK)
			rc = begin_export(c, &sel, err);
		if (rc == 0) {
			xf_header_release(&c->out);
			c->out = sel;
			c->open = true;
			return 0;
		}
	}
	xf_header_release(&sel);
	return rc;
}

static int hold(struct xf_catout *c, int k, const struct xf_tensor *t, struct xf_err *err)
{
	struct xf_tensor copy;

	if (xf_tensor_copy(t, &copy, err) < 0)
		return -1;
	if (xf_tensor_list_take(&c->held[k], &copy, err) < 0) {
		xf_tensor_release(&copy);
		return -1;
	}
	return 0;
}

static int rows_out(struct xf_catout *c, int64_t n, struct xf_err *err)
{
	const struct xf_header *h = &c->out;

	c->rows_out += n;
	switch (c->o.mode) {
	case XF_CATOUT_STREAM: return xf_writer_rows(c->writer, n, c->views, err);
	case XF_CATOUT_CSV: return xf_csv_write_rows(c->sink, h, c->views, 0, n, err);
	case XF_CATOUT_JSONL: return xf_jsonl_write_rows(c->sink, h, c->views, 0, n, err);
	case XF_CATOUT_INFO:
		for (int k = 0; k < h->n_fields; k++)
			xf_stats_add(&c->stats[k], &c->views[k]);
		return 0;
	case XF_CATOUT_CHECK: return 0;
	default:
		for (int k = 0; k < h->n_fields; k++)
			if (hold(c, k, &c->views[k], err) < 0)
				return -1;
		return 0;
	}
}

static int on_batch(struct xf_catout *c, const struct xf_frame *f, struct xf_err *err)
{
	int64_t from, n = xf_rowsel_take(&c->o.rows, f->n_rows, &from);

	c->seg_batches++;
	c->seg_rows += n;
	if (n == 0)
		return 0;
	for (int k = 0; k < c->out.n_fields; k++)
		xf_tensor_rows(&f->cols[c->index[k]], from, from + n, &c->views[k]);
	return rows_out(c, n, err);
}

static int on_tensor(struct xf_catout *c, const struct xf_frame *f, struct xf_err *err)
{
	for (int k = 0; k < c->out.n_fields; k++) {
		if (c->index[k] != f->field)
			continue;
		c->rows_out++;
		switch (c->o.mode) {
		case XF_CATOUT_STREAM: return xf_writer_tensor(c->writer, k, &f->tensor, err);
		case XF_CATOUT_INFO: xf_stats_add(&c->stats[k], &f->tensor); return 0;
		case XF_CATOUT_CHECK: return 0;
		default: return hold(c, k, &f->tensor, err);
		}
	}
	return 0;
}

static void format_shape(const struct xf_field *f, char *buf, size_t size)
{
	xf_shape_str(f->ndim, f->shape, buf, size);
}

static int info_fields(struct xf_catout *c, const struct xf_header *h, struct xf_err *err)
{
	int rc = xf_sink_printf(c->sink, err, "  %-20s %-6s %-16s %12s %12s %12s %8s %8s\n", "field", "dtype", "shape", "min", "mean",
		     "max", "nan", "inf");

	for (int k = 0; k < h->n_fields && rc == 0; k++) {
		const struct xf_stats *s = &c->stats[k];
		int64_t finite = s->count - s->n_nan - s->n_inf;
		char shape[64];

		format_shape(&h->fields[k], shape, sizeof(shape));
		if (h->fields[k].dtype == XF_DTYPE_STR || finite == 0)
			rc = xf_sink_printf(c->sink, err, "  %-20s %-6s %-16s %12s %12s %12s %8lld %8lld\n", h->fields[k].name,
				 xf_dtype_name(h->fields[k].dtype), shape, "-", "-", "-", (long long)s->n_nan,
				 (long long)s->n_inf);
		else
			rc = xf_sink_printf(c->sink, err, "  %-20s %-6s %-16s %12.6g %12.6g %12.6g %8lld %8lld\n", h->fields[k].name,
				 xf_dtype_name(h->fields[k].dtype), shape, s->min, s->sum / finite, s->max,
				 (long long)s->n_nan, (long long)s->n_inf);
	}
	return rc;
}

static const char *str_or(const json_t *s, const char *fallback)
{
	return json_is_string(s) ? json_string_value(s) : fallback;
}

static int info_meta(struct xf_catout *c, const struct xf_header *h, struct xf_err *err)
{
	json_t *history = json_object_get(h->meta, "history"), *rec, *classes = json_object_get(h->meta, "classes");
	char *text;
	size_t i;
	int rc = 0;

	if (json_is_array(classes)) {
		text = json_dumps(classes, JSON_COMPACT);
		rc = xf_sink_printf(c->sink, err, "  classes (%zu): %.900s\n", json_array_size(classes), text ? text : "?");
		free(text);
	}
	if (h->graph) {
		text = json_dumps(json_object_get(h->graph, "outputs"), JSON_COMPACT);
		rc = rc ? rc : xf_sink_printf(c->sink, err, "  graph: %zu nodes, outputs %.200s\n",
				   json_array_size(json_object_get(h->graph, "nodes")), text ? text : "?");
		free(text);
	}
	if (json_is_array(history) && rc == 0)
		rc = xf_sink_printf(c->sink, err, "  history:\n");
	json_array_foreach(history, i, rec) {
		text = json_dumps(json_object_get(rec, "args"), JSON_COMPACT);
		rc = rc ? rc : xf_sink_printf(c->sink, err, "    %s %s %.900s\n", str_or(json_object_get(rec, "prog"), "?"),
				   str_or(json_object_get(rec, "version"), "?"), text ? text : "");
		free(text);
	}
	return rc;
}

static int on_end(struct xf_catout *c, const struct xf_header *h, const struct xf_frame *f, struct xf_err *err)
{
	if (c->o.mode != XF_CATOUT_INFO)
		return 0;
	if (h->kind == XF_KIND_MODEL && xf_sink_printf(c->sink, err, "segment %lld: model, %lld tensors\n", (long long)c->segments_in,
					    (long long)f->count) < 0)
		return -1;
	if (h->kind != XF_KIND_MODEL &&
	    xf_sink_printf(c->sink, err, "segment %lld: %s, %lld rows in %lld batches%s\n", (long long)c->segments_in, xf_kind_name(h->kind),
		(long long)f->count, (long long)c->seg_batches,
		c->seg_rows == f->count ? "" : " (statistics over the selected rows)") < 0)
		return -1;
	return info_fields(c, &c->out, err) < 0 ? -1 : info_meta(c, h, err);
}

bool xf_catout_frame(struct xf_catout *c, const struct xf_header *h, const struct xf_frame *f, struct xf_err *err)
{
	int rc = 0;

	switch (f->type) {
	case XF_FRAME_HEADER: rc = on_header(c, h, err); break;
	case XF_FRAME_BATCH: rc = on_batch(c, f, err); break;
	case XF_FRAME_TENSOR: rc = on_tensor(c, f, err); break;
	case XF_FRAME_END: rc = on_end(c, h, f, err); break;
	}
	if (rc < 0)
		return false;
	/* info and check read to the end: they describe and validate all of it; rows do not
	 * select a model's tensors, so a model segment once begun is finished */
	return c->o.mode == XF_CATOUT_INFO || c->o.mode == XF_CATOUT_CHECK || !xf_rowsel_done(&c->o.rows) ||
	       (h->kind == XF_KIND_MODEL && f->type != XF_FRAME_END);
}

static int export_held(struct xf_catout *c, struct xf_err *err)
{
	struct xf_tensor *all = calloc(c->out.n_fields + 1, sizeof(*all));
	int rc = 0;

	if (!all)
		return xf_err_nomem(err, 0);
	for (int k = 0; k < c->out.n_fields && rc == 0; k++)
		rc = xf_export_stack(&c->out, k, c->held[k].items, c->held[k].n, &all[k], err);
	if (rc == 0)
		rc = c->o.mode == XF_CATOUT_NPY ? xf_export_npy(c->o.export_fd, c->o.export_name, &all[0], err)
						 : xf_export_npz(c->o.export_fd, c->o.export_name, &c->out, all, err);
	for (int k = 0; k < c->out.n_fields; k++)
		xf_tensor_release(&all[k]);
	free(all);
	return rc;
}

int xf_catout_finish(struct xf_catout *c, struct xf_err *err)
{
	if (c->o.mode == XF_CATOUT_STREAM && c->open)
		return xf_writer_end(c->writer, err);
	if ((c->o.mode == XF_CATOUT_NPY || c->o.mode == XF_CATOUT_NPZ) && c->open)
		return export_held(c, err);
	return 0;
}

int64_t xf_catout_segments_in(const struct xf_catout *c)
{
	return c->segments_in;
}

int64_t xf_catout_rows_out(const struct xf_catout *c)
{
	return c->rows_out;
}

void xf_catout_free(struct xf_catout *c)
{
	if (!c)
		return;
	for (int k = 0; c->held && k < c->out.n_fields; k++)
		xf_tensor_list_release(&c->held[k]);
	free(c->held);
	xf_writer_free(c->writer);
	xf_header_release(&c->out);
	free(c->index);
	free(c->views);
	free(c->stats);
	free(c);
}
