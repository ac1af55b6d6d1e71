/* reader: frames of an xfer stream with bounded memory; see reader.h and schemas/stream.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mp.h"
#include "mpscan.h"
#include "ndarray.h"
#include "reader.h"

#define READ_CHUNK (1u << 20)

struct xf_reader {
	struct xf_source *src;
	unsigned char *buf;         /* buffered input; the current frame starts at buf + start */
	size_t cap, start, end;
	size_t max_frame;
	bool eof;                   /* the source is exhausted */
	uint64_t offset;            /* stream bytes before buf + start */
	int64_t frames, segments;
	struct xf_header header;    /* current segment's header */
	bool in_segment;            /* a header was read and its end frame not yet */
	int64_t tally;              /* rows or tensors seen in the segment */
	unsigned char *seen;        /* model segments: which declared tensors arrived */
	msgpack_unpacked unpacked;  /* the current frame as msgpack-c objects */
};

void xf_frame_release(struct xf_frame *f)
{
	for (int i = 0; i < f->n_cols; i++)
		xf_tensor_release(&f->cols[i]);
	free(f->cols);
	xf_tensor_release(&f->tensor);
	*f = (struct xf_frame)XF_FRAME_INIT;
}

/* An error at the current frame: "<name>: frame N (byte B): what". */
__attribute__((format(printf, 4, 5)))
static int fail(const struct xf_reader *r, struct xf_err *err, int code, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return xf_err_set(err, code, "%s: frame %lld (byte %llu): %s", xf_source_name(r->src),
			  (long long)r->frames + 1, (unsigned long long)r->offset, what);
}

static int locate(const struct xf_reader *r, struct xf_err *err)
{
	return xf_err_prefix(err, "%s: frame %lld (byte %llu)", xf_source_name(r->src),
			     (long long)r->frames + 1, (unsigned long long)r->offset);
}

struct xf_reader *xf_reader_from_source(struct xf_source *src, struct xf_err *err)
{
	struct xf_reader *r = calloc(1, sizeof(*r));

	if (!r) {
		xf_source_close(src);
		xf_err_nomem(err, sizeof(*r));
		return NULL;
	}
	r->src = src;
	r->max_frame = XF_MAX_FRAME;
	msgpack_unpacked_init(&r->unpacked);
	return r;
}

struct xf_reader *xf_reader_open(const char *path, struct xf_err *err)
{
	struct xf_source *src = xf_source_open(path, err);

	return src ? xf_reader_from_source(src, err) : NULL;
}

void xf_reader_set_max_frame(struct xf_reader *r, size_t bytes)
{
	r->max_frame = bytes;
}

/* Make room for `need` bytes from start: move the frame to the front, grow if needed. */
static int make_room(struct xf_reader *r, size_t need, struct xf_err *err)
{
	size_t have = r->end - r->start, cap = r->cap ? r->cap : READ_CHUNK;
	unsigned char *p;

	if (r->start && (r->cap - r->start < need || r->cap - r->end < READ_CHUNK / 4)) {
		memmove(r->buf, r->buf + r->start, have);
		r->start = 0, r->end = have;
	}
	while (cap < need)
		cap *= 2;
	if (cap == r->cap)
		return 0;
	p = realloc(r->buf, cap);
	if (!p)
		return xf_err_nomem(err, cap);
	r->buf = p, r->cap = cap;
	return 0;
}

/* Read until `need` bytes are buffered from start, or input ends; -1 on a read error. */
static int fill(struct xf_reader *r, size_t need, struct xf_err *err)
{
	if (make_room(r, need, err) < 0)
		return -1;
	while (r->end - r->start < need && !r->eof) {
		long got = xf_source_read(r->src, r->buf + r->end, r->cap - r->end, err);

		if (got < 0)
			return -1;
		r->eof = got == 0;
		r->end += (size_t)got;
	}
	return 0;
}

/* Buffer one whole frame: 1 with its size in *len, 0 at end of input before it, -1 on error. */
static int buffer_frame(struct xf_reader *r, size_t *len, struct xf_err *err)
{
	struct xf_mpscan scan;
	size_t need = 1;
	const char *why;

	xf_mpscan_init(&scan);
	for (;;) {
		if (fill(r, need, err) < 0)
			return -1;
		if (r->end == r->start && r->eof)
			return 0;
		switch (xf_mpscan_feed(&scan, r->buf + r->start, r->end - r->start, r->max_frame, &need, &why)) {
		case XF_MPSCAN_DONE:
			*len = scan.pos;
			return 1;
		case XF_MPSCAN_BAD:
			return fail(r, err, XF_E_FORMAT, "%s", why);
		case XF_MPSCAN_LIMIT:
			return fail(r, err, XF_E_LIMIT, "%s", why);
		}
		if (r->end - r->start < need && r->eof)
			return fail(r, err, XF_E_FORMAT, "truncated stream: input ends inside a frame");
	}
}

static int parse_field(struct xf_reader *r, const msgpack_object *key, const msgpack_object *val,
		       struct xf_err *err)
{
	char name[XF_MAX_NAME + 1], dtype_name[16];
	const msgpack_object *dtype = xf_mp_get(val, "dtype"), *shape = xf_mp_get(val, "shape");
	int64_t dims[XF_MAX_DIMS], count;
	enum xf_dtype dt;
	int max_ndim = r->header.kind == XF_KIND_MODEL ? XF_MAX_DIMS : XF_MAX_DIMS - 1;

	if (xf_mp_str_copy(key, name, sizeof(name)) < 0 || !name[0])
		return fail(r, err, XF_E_FORMAT, "field name is not a str of 1 to %d bytes", XF_MAX_NAME);
	if (!dtype || xf_mp_str_copy(dtype, dtype_name, sizeof(dtype_name)) < 0)
		return fail(r, err, XF_E_FORMAT, "field '%s': dtype missing or not a short str", name);
	if (xf_dtype_parse(dtype_name, &dt) < 0 || dtype_name[0] == '>')
		return fail(r, err, XF_E_FORMAT, "field '%s': unknown dtype '%s'", name, dtype_name);
	if (!shape || shape->type != MSGPACK_OBJECT_ARRAY || shape->via.array.size > (uint32_t)max_ndim)
		return fail(r, err, XF_E_FORMAT, "field '%s': shape must be an array of at most %d sizes",
			    name, max_ndim);
	for (uint32_t i = 0; i < shape->via.array.size; i++) {
		uint64_t d;

		if (xf_mp_uint(&shape->via.array.ptr[i], &d) < 0 || d > INT64_MAX)
			return fail(r, err, XF_E_FORMAT, "field '%s': shape[%u] is not a size", name, i);
		dims[i] = (int64_t)d;
	}
	if (dt == XF_DTYPE_STR && (r->header.kind == XF_KIND_MODEL || shape->via.array.size))
		return fail(r, err, XF_E_FORMAT, "field '%s': str fields have shape [] and no model has them", name);
	count = xf_shape_count((int)shape->via.array.size, dims);
	if (count < 0)
		return fail(r, err, XF_E_LIMIT, "field '%s': shape is too large", name);
	/* a row (or a model tensor) must fit in one frame: never size buffers from a header that can't */
	if (dt != XF_DTYPE_STR && (uint64_t)count > r->max_frame / xf_dtype_size(dt))
		return fail(r, err, XF_E_LIMIT, "field '%s': %s of %lld elements of %s is more than a frame holds "
			    "(%zu bytes)", name, r->header.kind == XF_KIND_MODEL ? "a tensor" : "a row",
			    (long long)count, dtype_name, r->max_frame);
	if (xf_header_add_field(&r->header, name, dt, (int)shape->via.array.size, dims, err) < 0)
		return locate(r, err);
	return 0;
}

static int parse_fields(struct xf_reader *r, const msgpack_object *fields, struct xf_err *err)
{
	if (!fields || fields->type != MSGPACK_OBJECT_MAP)
		return fail(r, err, XF_E_FORMAT, "header has no 'fields' map");
	if (fields->via.map.size > XF_MAX_FIELDS)
		return fail(r, err, XF_E_LIMIT, "header declares %u fields (at most %d)",
			    fields->via.map.size, XF_MAX_FIELDS);
	for (uint32_t i = 0; i < fields->via.map.size; i++)
		if (parse_field(r, &fields->via.map.ptr[i].key, &fields->via.map.ptr[i].val, err) < 0)
			return -1;
	return 0;
}

static int json_of(struct xf_reader *r, const msgpack_object *o, const char *what, json_t **out,
		   struct xf_err *err)
{
	if (xf_mp_to_json(o, out, err) < 0) {
		xf_err_prefix(err, "%s", what);
		return locate(r, err);
	}
	return 0;
}

/* Top-level header keys other than the known ones are kept in header.extra. */
static int keep_extra(struct xf_reader *r, const msgpack_object *frame, struct xf_err *err)
{
	static const char *const known[] = { "t", "xfer", "kind", "fields", "meta", "graph" };

	for (uint32_t i = 0; i < frame->via.map.size; i++) {
		const msgpack_object_kv *kv = &frame->via.map.ptr[i];
		bool is_known = false;
		json_t *v;
		char key[256];

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			is_known |= xf_mp_str_eq(&kv->key, known[k]);
		if (is_known)
			continue;
		if (xf_mp_str_copy(&kv->key, key, sizeof(key)) < 0)
			return fail(r, err, XF_E_FORMAT, "header key is not a str");
		if (json_of(r, &kv->val, key, &v, err) < 0)
			return -1;
		if (!r->header.extra)
			r->header.extra = json_object();
		json_object_set_new(r->header.extra, key, v);
	}
	return 0;
}

static int parse_header(struct xf_reader *r, const msgpack_object *frame, struct xf_err *err)
{
	const msgpack_object *version = xf_mp_get(frame, "xfer"), *kind = xf_mp_get(frame, "kind");
	const msgpack_object *meta = xf_mp_get(frame, "meta"), *graph = xf_mp_get(frame, "graph");
	char kind_name[16];
	uint64_t v;

	if (r->in_segment)
		return fail(r, err, XF_E_FORMAT, "header inside segment %lld: its end frame is missing",
			    (long long)r->segments);
	xf_header_release(&r->header);
	if (!version || xf_mp_uint(version, &v) < 0 || v == 0)
		return fail(r, err, XF_E_FORMAT, "header has no valid 'xfer' version");
	if (v > XF_FORMAT_VERSION)
		return fail(r, err, XF_E_FORMAT, "stream format version %llu is newer than this program's (%d)",
			    (unsigned long long)v, XF_FORMAT_VERSION);
	if (!kind || xf_mp_str_copy(kind, kind_name, sizeof(kind_name)) < 0 ||
	    xf_kind_parse(kind_name, &r->header.kind) < 0)
		return fail(r, err, XF_E_FORMAT, "header 'kind' must be samples, model or table");
	if (meta && meta->type != MSGPACK_OBJECT_MAP)
		return fail(r, err, XF_E_FORMAT, "header 'meta' is not a map");
	if (graph && r->header.kind != XF_KIND_MODEL)
		return fail(r, err, XF_E_FORMAT, "only model headers have a 'graph'");
	if (parse_fields(r, xf_mp_get(frame, "fields"), err) < 0)
		return -1;
	if (r->header.kind != XF_KIND_MODEL && r->header.n_fields == 0)
		return fail(r, err, XF_E_FORMAT, "a %s header must declare at least one field", kind_name);
	if (meta ? json_of(r, meta, "meta", &r->header.meta, err) < 0 : !(r->header.meta = json_object()))
		return -1;
	if (graph && json_of(r, graph, "graph", &r->header.graph, err) < 0)
		return -1;
	if (graph && xf_graph_check(r->header.graph, &r->header, err) < 0)
		return locate(r, err);
	if (graph && xf_graph_format_version(r->header.graph) > (int)v)
		return fail(r, err, XF_E_FORMAT, "the graph uses ops of format version %d, the header declares version %llu",
			    xf_graph_format_version(r->header.graph), (unsigned long long)v);
	if (keep_extra(r, frame, err) < 0)
		return -1;
	free(r->seen);
	r->seen = calloc(r->header.n_fields + 1, 1);
	if (!r->seen)
		return xf_err_nomem(err, r->header.n_fields + 1);
	r->in_segment = true;
	r->tally = 0;
	r->segments++;
	return 0;
}

static bool shape_is(const struct xf_tensor *t, int64_t lead, const struct xf_field *f)
{
	int off = lead >= 0;

	if (t->dtype != f->dtype || t->ndim != f->ndim + off || (off && t->shape[0] != lead))
		return false;
	return !memcmp(t->shape + off, f->shape, f->ndim * sizeof(f->shape[0]));
}

static int parse_str_column(struct xf_reader *r, const msgpack_object *o, int64_t n, const char *name,
			    struct xf_tensor *out, struct xf_err *err)
{
	size_t bytes = 0;
	char *text;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != (uint64_t)n)
		return fail(r, err, XF_E_FORMAT, "column '%s' must be an array of %lld str", name, (long long)n);
	for (int64_t i = 0; i < n; i++) {
		const msgpack_object *s = &o->via.array.ptr[i];

		if (s->type != MSGPACK_OBJECT_STR || memchr(s->via.str.ptr, 0, s->via.str.size))
			return fail(r, err, XF_E_FORMAT, "column '%s' row %lld is not a str", name, (long long)i);
		bytes += s->via.str.size + 1;
	}
	if (xf_tensor_alloc_str(out, n, bytes, &text, err) < 0)
		return locate(r, err);
	for (int64_t i = 0; i < n; i++) {
		const msgpack_object *s = &o->via.array.ptr[i];

		memcpy(text, s->via.str.ptr, s->via.str.size);
		text[s->via.str.size] = '\0';
		((char **)out->data)[i] = text;
		text += s->via.str.size + 1;
	}
	return 0;
}

static int parse_column(struct xf_reader *r, const msgpack_object *o, int64_t n, const struct xf_field *f,
			struct xf_tensor *out, struct xf_err *err)
{
	char want[160], got[160];

	if (f->dtype == XF_DTYPE_STR)
		return parse_str_column(r, o, n, f->name, out, err);
	if (xf_ndarray_parse(o, out, err) < 0) {
		xf_err_prefix(err, "column '%s'", f->name);
		return locate(r, err);
	}
	if (shape_is(out, n, f))
		return 0;
	snprintf(want, sizeof(want), "%s ", xf_dtype_name(f->dtype));
	if (n < 0) { /* a model tensor: its declared shape */
		xf_shape_str(f->ndim, f->shape, want + strlen(want), sizeof(want) - strlen(want));
	} else {
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "[%lld", (long long)n);
		for (int i = 0; i < f->ndim; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), ", %lld", (long long)f->shape[i]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "]");
	}
	snprintf(got, sizeof(got), "%s ", xf_dtype_name(out->dtype));
	xf_shape_str(out->ndim, out->shape, got + strlen(got), sizeof(got) - strlen(got));
	xf_tensor_release(out);
	return fail(r, err, XF_E_FORMAT, "%s '%s' is %s, the header declares %s", n < 0 ? "tensor" : "column",
		    f->name, got, want);
}

static int parse_batch(struct xf_reader *r, const msgpack_object *frame, struct xf_frame *f, struct xf_err *err)
{
	const msgpack_object *n = xf_mp_get(frame, "n"), *cols = xf_mp_get(frame, "cols");
	const struct xf_header *h = &r->header;
	uint64_t rows;

	if (h->kind == XF_KIND_MODEL)
		return fail(r, err, XF_E_FORMAT, "batch frame in a model segment");
	if (!n || xf_mp_uint(n, &rows) < 0 || rows > INT64_MAX - (uint64_t)r->tally)
		return fail(r, err, XF_E_FORMAT, "batch has no valid row count 'n'");
	if (!cols || cols->type != MSGPACK_OBJECT_MAP || cols->via.map.size != (uint32_t)h->n_fields)
		return fail(r, err, XF_E_FORMAT, "batch 'cols' must be a map with the %d declared fields", h->n_fields);
	f->cols = calloc(h->n_fields + 1, sizeof(*f->cols));
	if (!f->cols)
		return xf_err_nomem(err, (h->n_fields + 1) * sizeof(*f->cols));
	f->type = XF_FRAME_BATCH;
	f->n_rows = (int64_t)rows;
	for (uint32_t i = 0; i < cols->via.map.size; i++) {
		char name[XF_MAX_NAME + 1];
		int k = xf_mp_str_copy(&cols->via.map.ptr[i].key, name, sizeof(name)) < 0 ? -1 : xf_header_find(h, name);

		if (k < 0 || f->cols[k].data)
			return fail(r, err, XF_E_FORMAT, "batch column %u is not a declared field or repeats one", i);
		if (parse_column(r, &cols->via.map.ptr[i].val, f->n_rows, &h->fields[k], &f->cols[k], err) < 0)
			return -1;
		f->n_cols = h->n_fields;
	}
	r->tally += f->n_rows;
	return 0;
}

static int parse_tensor(struct xf_reader *r, const msgpack_object *frame, struct xf_frame *f, struct xf_err *err)
{
	const msgpack_object *name = xf_mp_get(frame, "name"), *data = xf_mp_get(frame, "data");
	char s[XF_MAX_NAME + 1];
	int k;

	if (r->header.kind != XF_KIND_MODEL)
		return fail(r, err, XF_E_FORMAT, "tensor frame in a %s segment", xf_kind_name(r->header.kind));
	if (!name || xf_mp_str_copy(name, s, sizeof(s)) < 0 || (k = xf_header_find(&r->header, s)) < 0)
		return fail(r, err, XF_E_FORMAT, "tensor frame does not name a declared tensor");
	if (r->seen[k])
		return fail(r, err, XF_E_FORMAT, "tensor '%s' appears twice", s);
	if (!data || parse_column(r, data, -1, &r->header.fields[k], &f->tensor, err) < 0)
		return data ? -1 : fail(r, err, XF_E_FORMAT, "tensor '%s' has no data", s);
	r->seen[k] = 1;
	f->type = XF_FRAME_TENSOR;
	f->field = k;
	r->tally++;
	return 0;
}

static int parse_end(struct xf_reader *r, const msgpack_object *frame, struct xf_frame *f, struct xf_err *err)
{
	bool model = r->header.kind == XF_KIND_MODEL;
	const char *key = model ? "tensors" : "rows";
	const msgpack_object *count = xf_mp_get(frame, key);
	uint64_t n;

	if (!count || xf_mp_uint(count, &n) < 0)
		return fail(r, err, XF_E_FORMAT, "end frame has no '%s' count", key);
	if (n != (uint64_t)r->tally)
		return fail(r, err, XF_E_FORMAT, "end frame counts %llu %s, the segment has %lld", (unsigned long long)n,
			    key, (long long)r->tally);
	if (model && r->tally != r->header.n_fields)
		return fail(r, err, XF_E_FORMAT, "model segment has %lld of its %d declared tensors",
			    (long long)r->tally, r->header.n_fields);
	f->type = XF_FRAME_END;
	f->count = r->tally;
	r->in_segment = false;
	return 0;
}

static int parse_frame(struct xf_reader *r, const msgpack_object *frame, struct xf_frame *f, struct xf_err *err)
{
	const msgpack_object *t = xf_mp_get(frame, "t");

	if (!t)
		return fail(r, err, XF_E_FORMAT, "frame is %s without a 't' key", xf_mp_type_name(frame));
	if (xf_mp_str_eq(t, "header")) {
		f->type = XF_FRAME_HEADER;
		return parse_header(r, frame, err);
	}
	if (!r->in_segment)
		return fail(r, err, XF_E_FORMAT, "expected a header frame");
	if (xf_mp_str_eq(t, "batch"))
		return parse_batch(r, frame, f, err);
	if (xf_mp_str_eq(t, "tensor"))
		return parse_tensor(r, frame, f, err);
	if (xf_mp_str_eq(t, "end"))
		return parse_end(r, frame, f, err);
	return fail(r, err, XF_E_FORMAT, "unknown frame type");
}

int xf_reader_next(struct xf_reader *r, struct xf_frame *f, struct xf_err *err)
{
	size_t len, off = 0;
	int rc;

	*f = (struct xf_frame)XF_FRAME_INIT;
	rc = buffer_frame(r, &len, err);
	if (rc <= 0) {
		if (rc == 0 && r->in_segment)
			return fail(r, err, XF_E_FORMAT, "truncated stream: segment %lld has no end frame",
				    (long long)r->segments);
		return rc;
	}
	if (msgpack_unpack_next(&r->unpacked, (const char *)r->buf + r->start, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len)
		return fail(r, err, XF_E_FORMAT, "invalid msgpack");
	rc = parse_frame(r, &r->unpacked.data, f, err);
	msgpack_unpacked_destroy(&r->unpacked);
	msgpack_unpacked_init(&r->unpacked);
	if (rc < 0) {
		xf_frame_release(f);
		return -1;
	}
	r->start += len;
	r->offset += len;
	r->frames++;
	return 1;
}

const struct xf_header *xf_reader_header(const struct xf_reader *r)
{
	return r->segments ? &r->header : NULL;
}

int64_t xf_reader_segments(const struct xf_reader *r)
{
	return r->segments;
}

int64_t xf_reader_frames(const struct xf_reader *r)
{
	return r->frames;
}

const char *xf_reader_name(const struct xf_reader *r)
{
	return xf_source_name(r->src);
}

bool xf_reader_is_zstd(const struct xf_reader *r)
{
	return xf_source_is_zstd(r->src);
}

uint64_t xf_reader_offset(const struct xf_reader *r)
{
	return r->offset;
}

int xf_reader_rewind(struct xf_reader *r, struct xf_err *err)
{
	if (xf_source_rewind(r->src, err) < 0)
		return -1;
	r->start = r->end = 0;
	r->eof = false;
	r->offset = 0;
	r->frames = r->segments = 0;
	r->in_segment = false;
	xf_header_release(&r->header);
	return 0;
}

void xf_reader_close(struct xf_reader *r)
{
	if (!r)
		return;
	xf_source_close(r->src);
	xf_header_release(&r->header);
	msgpack_unpacked_destroy(&r->unpacked);
	free(r->seen);
	free(r->buf);
	free(r);
}
