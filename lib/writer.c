/* writer: xfer stream frames out, rows re-batched; see writer.h and schemas/stream.md. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mp.h"
#include "ndarray.h"
#include "writer.h"

/* Rows waiting to be written, one per field: numeric ones in a tensor, strings in a text buffer. */
struct pending_col {
	struct xf_tensor rows;      /* numeric: capacity batch_rows */
	char *text;                 /* str: the strings, each NUL-terminated */
	size_t text_len, text_cap;
	size_t *offsets;            /* str: start of each string in text */
};

struct xf_writer {
	struct xf_sink *sink;
	msgpack_packer pk;
	struct xf_err sink_err;     /* what the sink said when a packer write failed */
	size_t batch_bytes;
	struct xf_header header;    /* the open segment's header (fields only needed) */
	bool in_segment;
	int64_t count;              /* rows or tensors written in the segment */
	int64_t batch_rows;         /* rows per batch frame */
	int64_t n_pending;          /* rows buffered in cols */
	struct pending_col *cols;
	struct xf_tensor *views;    /* scratch: one row-slice view per field */
	bool failed;
};

static int sink_write(void *data, const char *buf, size_t len)
{
	struct xf_writer *w = data;

	return xf_sink_write(w->sink, buf, len, &w->sink_err);
}

/* The packer failed: report what the sink said. */
static int write_failed(struct xf_writer *w, struct xf_err *err)
{
	w->failed = true;
	if (err)
		*err = w->sink_err;
	return -1;
}

struct xf_writer *xf_writer_new(struct xf_sink *sink, struct xf_err *err)
{
	struct xf_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		xf_err_nomem(err, sizeof(*w));
		return NULL;
	}
	w->sink = sink;
	w->batch_bytes = XF_BATCH_BYTES;
	msgpack_packer_init(&w->pk, w, sink_write);
	return w;
}

void xf_writer_set_batch_bytes(struct xf_writer *w, size_t bytes)
{
	w->batch_bytes = bytes ? bytes : 1;
}

static void free_pending(struct xf_writer *w)
{
	for (int i = 0; w->cols && i < w->header.n_fields; i++) {
		xf_tensor_release(&w->cols[i].rows);
		free(w->cols[i].text);
		free(w->cols[i].offsets);
	}
	free(w->cols);
	free(w->views);
	w->cols = NULL;
	w->views = NULL;
	w->n_pending = 0;
}

static int pack_shape(msgpack_packer *pk, const struct xf_field *f)
{
	int rc = msgpack_pack_array(pk, f->ndim);

	for (int i = 0; i < f->ndim && !rc; i++)
		rc = msgpack_pack_uint64(pk, (uint64_t)f->shape[i]);
	return rc;
}

static int pack_header(struct xf_writer *w, const struct xf_header *h)
{
	msgpack_packer *pk = &w->pk;
	const char *key;
	json_t *v;
	int rc;

	rc = msgpack_pack_map(pk, 5 + (h->graph != NULL) + (h->extra ? json_object_size(h->extra) : 0));
	rc = rc ? rc : xf_mp_pack_str(pk, "t");
	rc = rc ? rc : xf_mp_pack_str(pk, "header");
	rc = rc ? rc : xf_mp_pack_str(pk, "xfer");
	rc = rc ? rc : msgpack_pack_int(pk, h->graph ? xf_graph_format_version(h->graph) : XF_FORMAT_OLDEST);
	rc = rc ? rc : xf_mp_pack_str(pk, "kind");
	rc = rc ? rc : xf_mp_pack_str(pk, xf_kind_name(h->kind));
	rc = rc ? rc : xf_mp_pack_str(pk, "fields");
	rc = rc ? rc : msgpack_pack_map(pk, h->n_fields);
	for (int i = 0; i < h->n_fields && !rc; i++) {
		rc = xf_mp_pack_str(pk, h->fields[i].name);
		rc = rc ? rc : msgpack_pack_map(pk, 2);
		rc = rc ? rc : xf_mp_pack_str(pk, "dtype");
		rc = rc ? rc : xf_mp_pack_str(pk, xf_dtype_name(h->fields[i].dtype));
		rc = rc ? rc : xf_mp_pack_str(pk, "shape");
		rc = rc ? rc : pack_shape(pk, &h->fields[i]);
	}
	rc = rc ? rc : xf_mp_pack_str(pk, "meta");
	if (!rc && h->meta)
		rc = xf_mp_pack_json(pk, h->meta);
	else if (!rc)
		rc = msgpack_pack_map(pk, 0);
	if (h->graph) {
		rc = rc ? rc : xf_mp_pack_str(pk, "graph");
		rc = rc ? rc : xf_mp_pack_json(pk, h->graph);
	}
	if (h->extra)
		json_object_foreach(h->extra, key, v) {
			rc = rc ? rc : xf_mp_pack_str(pk, key);
			rc = rc ? rc : xf_mp_pack_json(pk, v);
		}
	return rc;
}

/* Bytes of one row: numeric fields exactly, strings guessed at 32 bytes. */
static size_t row_bytes(const struct xf_header *h)
{
	size_t bytes = 0;

	for (int i = 0; i < h->n_fields; i++) {
		const struct xf_field *f = &h->fields[i];

		bytes += f->dtype == XF_DTYPE_STR ? 32 : (size_t)xf_shape_count(f->ndim, f->shape) * xf_dtype_size(f->dtype);
	}
	return bytes ? bytes : 1;
}

static int alloc_pending(struct xf_writer *w, struct xf_err *err)
{
	const struct xf_header *h = &w->header;
	size_t per_row = row_bytes(h);

	w->batch_rows = per_row >= w->batch_bytes ? 1 : (int64_t)(w->batch_bytes / per_row);
	w->cols = calloc(h->n_fields + 1, sizeof(*w->cols));
	w->views = calloc(h->n_fields + 1, sizeof(*w->views));
	if (!w->cols || !w->views)
		return xf_err_nomem(err, (h->n_fields + 1) * sizeof(*w->cols));
	for (int i = 0; i < h->n_fields; i++) {
		const struct xf_field *f = &h->fields[i];
		int64_t shape[XF_MAX_DIMS];

		if (f->dtype == XF_DTYPE_STR) {
			w->cols[i].offsets = malloc(w->batch_rows * sizeof(size_t));
			if (!w->cols[i].offsets)
				return xf_err_nomem(err, w->batch_rows * sizeof(size_t));
			continue;
		}
		shape[0] = w->batch_rows;
		memcpy(shape + 1, f->shape, f->ndim * sizeof(shape[0]));
		if (xf_tensor_alloc(&w->cols[i].rows, f->dtype, f->ndim + 1, shape, err) < 0)
			return -1;
	}
	return 0;
}

int xf_writer_begin(struct xf_writer *w, const struct xf_header *h, struct xf_err *err)
{
	if (w->failed)
		return xf_err_set(err, XF_E_USAGE, "writer used after a failure");
	if (h->n_fields > XF_MAX_FIELDS)
		return xf_err_set(err, XF_E_LIMIT, "%d fields (at most %d)", h->n_fields, XF_MAX_FIELDS);
	if (h->kind != XF_KIND_MODEL && h->n_fields == 0)
		return xf_err_set(err, XF_E_USAGE, "a %s segment needs at least one field", xf_kind_name(h->kind));
	if (h->graph && xf_graph_check(h->graph, h, err) < 0)
		return -1;
	if (w->in_segment && xf_writer_end(w, err) < 0)
		return -1;
	free_pending(w);
	xf_header_release(&w->header);
	if (xf_header_copy(h, &w->header, err) < 0)
		return -1;
	if (pack_header(w, h))
		return write_failed(w, err);
	w->in_segment = true;
	w->count = 0;
	return h->kind == XF_KIND_MODEL ? 0 : alloc_pending(w, err);
}

static int pack_str_array(msgpack_packer *pk, int64_t n, const char *const *s, int64_t stride)
{
	int rc = msgpack_pack_array(pk, (size_t)n);

	for (int64_t i = 0; i < n && !rc; i++)
		rc = xf_mp_pack_str(pk, s[i * stride]);
	return rc;
}

static int pack_pending_strs(msgpack_packer *pk, const struct pending_col *c, int64_t n)
{
	int rc = msgpack_pack_array(pk, (size_t)n);

	for (int64_t i = 0; i < n && !rc; i++)
		rc = xf_mp_pack_str(pk, c->text + c->offsets[i]);
	return rc;
}

/* One batch frame from columns given as views, or (cols NULL) from the pending rows. */
static int pack_batch(struct xf_writer *w, int64_t n, const struct xf_tensor *cols)
{
	msgpack_packer *pk = &w->pk;
	int rc;

	rc = msgpack_pack_map(pk, 3);
	rc = rc ? rc : xf_mp_pack_str(pk, "t");
	rc = rc ? rc : xf_mp_pack_str(pk, "batch");
	rc = rc ? rc : xf_mp_pack_str(pk, "n");
	rc = rc ? rc : msgpack_pack_int64(pk, n);
	rc = rc ? rc : xf_mp_pack_str(pk, "cols");
	rc = rc ? rc : msgpack_pack_map(pk, w->header.n_fields);
	for (int i = 0; i < w->header.n_fields && !rc; i++) {
		struct xf_tensor view;

		rc = xf_mp_pack_str(pk, w->header.fields[i].name);
		if (rc)
			break;
		if (cols && cols[i].dtype == XF_DTYPE_STR)
			rc = pack_str_array(pk, n, cols[i].data, cols[i].stride[0]);
		else if (!cols && w->header.fields[i].dtype == XF_DTYPE_STR)
			rc = pack_pending_strs(pk, &w->cols[i], n);
		else {
			xf_tensor_rows(cols ? &cols[i] : &w->cols[i].rows, 0, n, &view);
			rc = xf_ndarray_pack(pk, &view);
		}
	}
	return rc;
}

static int flush_pending(struct xf_writer *w, struct xf_err *err)
{
	if (w->n_pending == 0)
		return 0;
	if (pack_batch(w, w->n_pending, NULL))
		return write_failed(w, err);
	for (int i = 0; i < w->header.n_fields; i++)
		w->cols[i].text_len = 0;
	w->n_pending = 0;
	return 0;
}

static int append_strs(struct pending_col *c, int64_t at, const struct xf_tensor *t, int64_t from, int64_t n,
		       struct xf_err *err)
{
	for (int64_t i = 0; i < n; i++) {
		const char *s = ((char *const *)t->data)[(from + i) * t->stride[0]];
		size_t len = strlen(s) + 1;

		if (c->text_len + len > c->text_cap) {
			size_t cap = (c->text_cap ? c->text_cap * 2 : 4096) + len;
			char *p = realloc(c->text, cap);

			if (!p)
				return xf_err_nomem(err, cap);
			c->text = p, c->text_cap = cap;
		}
		memcpy(c->text + c->text_len, s, len);
		c->offsets[at + i] = c->text_len;
		c->text_len += len;
	}
	return 0;
}

/* Copy rows [from, from + n) of cols into the pending batch. */
static int append_rows(struct xf_writer *w, const struct xf_tensor *cols, int64_t from, int64_t n,
		       struct xf_err *err)
{
	for (int i = 0; i < w->header.n_fields; i++) {
		struct pending_col *c = &w->cols[i];
		size_t row;

		if (cols[i].dtype == XF_DTYPE_STR) {
			if (append_strs(c, w->n_pending, &cols[i], from, n, err) < 0)
				return -1;
			continue;
		}
		row = (size_t)c->rows.stride[0] * xf_dtype_size(c->rows.dtype);
		memcpy((char *)c->rows.data + w->n_pending * row, (const char *)cols[i].data + from * row, n * row);
	}
	w->n_pending += n;
	return 0;
}

static int check_columns(const struct xf_writer *w, int64_t n, const struct xf_tensor *cols, struct xf_err *err)
{
	for (int i = 0; i < w->header.n_fields; i++) {
		const struct xf_field *f = &w->header.fields[i];
		const struct xf_tensor *t = &cols[i];
		bool same = t->dtype == f->dtype && t->ndim == f->ndim + 1 && t->shape[0] == n &&
			    !memcmp(t->shape + 1, f->shape, f->ndim * sizeof(f->shape[0]));

		if (!same)
			return xf_err_set(err, XF_E_USAGE, "rows for field '%s' do not match its declared dtype and shape",
					  f->name);
		if (f->dtype != XF_DTYPE_STR && n > 1 && !xf_tensor_is_contiguous(t))
			return xf_err_set(err, XF_E_USAGE, "rows for field '%s' are not contiguous", f->name);
	}
	return 0;
}

int xf_writer_rows(struct xf_writer *w, int64_t n, const struct xf_tensor *cols, struct xf_err *err)
{
	int64_t done = 0;

	if (w->failed || !w->in_segment || w->header.kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_USAGE, "rows written outside a samples or table segment");
	if (check_columns(w, n, cols, err) < 0)
		return -1;
	while (done < n) {
		int64_t take = n - done;

		if (w->n_pending == 0 && take >= w->batch_rows) {
			for (int i = 0; i < w->header.n_fields; i++)
				xf_tensor_rows(&cols[i], done, done + w->batch_rows, &w->views[i]);
			if (pack_batch(w, w->batch_rows, w->views))
				return write_failed(w, err);
			done += w->batch_rows;
			continue;
		}
		if (take > w->batch_rows - w->n_pending)
			take = w->batch_rows - w->n_pending;
		if (append_rows(w, cols, done, take, err) < 0)
			return -1;
		done += take;
		if (w->n_pending == w->batch_rows && flush_pending(w, err) < 0)
			return -1;
	}
	w->count += n;
	return 0;
}

int xf_writer_tensor(struct xf_writer *w, int field, const struct xf_tensor *t, struct xf_err *err)
{
	const struct xf_field *f;
	msgpack_packer *pk = &w->pk;
	struct xf_tensor tmp = XF_TENSOR_INIT;
	int rc;

	if (w->failed || !w->in_segment || w->header.kind != XF_KIND_MODEL || field < 0 || field >= w->header.n_fields)
		return xf_err_set(err, XF_E_USAGE, "tensor written outside a model segment");
	f = &w->header.fields[field];
	if (t->dtype != f->dtype || t->ndim != f->ndim || memcmp(t->shape, f->shape, f->ndim * sizeof(f->shape[0])))
		return xf_err_set(err, XF_E_USAGE, "tensor '%s' does not match its declared dtype and shape", f->name);
	if (!xf_tensor_is_contiguous(t) && xf_tensor_copy(t, &tmp, err) < 0)
		return -1;
	rc = msgpack_pack_map(pk, 3);
	rc = rc ? rc : xf_mp_pack_str(pk, "t");
	rc = rc ? rc : xf_mp_pack_str(pk, "tensor");
	rc = rc ? rc : xf_mp_pack_str(pk, "name");
	rc = rc ? rc : xf_mp_pack_str(pk, f->name);
	rc = rc ? rc : xf_mp_pack_str(pk, "data");
	rc = rc ? rc : xf_ndarray_pack(pk, tmp.data ? &tmp : t);
	xf_tensor_release(&tmp);
	if (rc)
		return write_failed(w, err);
	w->count++;
	return 0;
}

int xf_writer_end(struct xf_writer *w, struct xf_err *err)
{
	bool model = w->header.kind == XF_KIND_MODEL;
	int rc;

	if (w->failed || !w->in_segment)
		return xf_err_set(err, XF_E_USAGE, "end written outside a segment");
	if (flush_pending(w, err) < 0)
		return -1;
	rc = msgpack_pack_map(&w->pk, 2);
	rc = rc ? rc : xf_mp_pack_str(&w->pk, "t");
	rc = rc ? rc : xf_mp_pack_str(&w->pk, "end");
	rc = rc ? rc : xf_mp_pack_str(&w->pk, model ? "tensors" : "rows");
	rc = rc ? rc : msgpack_pack_int64(&w->pk, w->count);
	if (rc)
		return write_failed(w, err);
	w->in_segment = false;
	return 0;
}

int64_t xf_writer_count(const struct xf_writer *w)
{
	return w->count;
}

void xf_writer_free(struct xf_writer *w)
{
	if (!w)
		return;
	free_pending(w);
	xf_header_release(&w->header);
	free(w);
}
