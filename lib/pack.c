/* pack: arrays, CSV, image datasets and safetensors into xfer streams; see pack.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "graph.h"
#include "npy.h"
#include "pack.h"
#include "safetensors.h"

/* One field's rows: streamed from an .npy reader, or held whole (npz members). */
struct column_source {
	char name[XF_MAX_NAME + 1];
	const char *path;            /* the .npy or .npz it comes from, for messages */
	struct xf_source *src;
	struct xf_npy_reader *npy;
	struct xf_tensor whole;
	int64_t rows, pos;
};

struct npz_collect {
	struct column_source *cols;
	int n, cap;
	const char *prefix;
	const char *path;
};

static int add_npz_member(void *ctx, const char *name, struct xf_tensor *t, struct xf_err *err)
{
	struct npz_collect *c = ctx;
	struct column_source *s;

	if (c->n == c->cap) {
		void *p = realloc(c->cols, (c->cap * 2 + 4) * sizeof(*c->cols));

		if (!p) {
			xf_tensor_release(t);
			return xf_err_nomem(err, 0);
		}
		c->cols = p, c->cap = c->cap * 2 + 4;
	}
	s = memset(&c->cols[c->n++], 0, sizeof(*s));
	s->whole = *t;
	s->rows = t->ndim ? t->shape[0] : -1;
	s->path = c->path;
	snprintf(s->name, sizeof(s->name), "%s%s%s", c->prefix ? c->prefix : "", c->prefix ? "." : "", name);
	return 0;
}

static bool is_npz(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && !strcmp(path + n - 4, ".npz");
}

static int open_npy(struct column_source *s, const char *name, const char *path, struct xf_err *err)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->path = path;
	if (!(s->src = xf_source_open(path, err)) || !(s->npy = xf_npy_reader_open(xf_source_read_fn, s->src, path, err)))
		return -1;
	s->rows = xf_npy_reader_info(s->npy)->ndim ? xf_npy_reader_info(s->npy)->shape[0] : -1;
	return 0;
}

static void close_sources(struct column_source *cols, int n)
{
	for (int i = 0; i < n; i++) {
		xf_npy_reader_close(cols[i].npy);
		xf_source_close(cols[i].src);
		xf_tensor_release(&cols[i].whole);
	}
	free(cols);
}

static int open_sources(const struct xf_pack_array *arrays, int n, struct npz_collect *c, struct xf_err *err)
{
	for (int i = 0; i < n; i++) {
		if (is_npz(arrays[i].path)) {
			c->prefix = arrays[i].name;
			c->path = arrays[i].path;
			if (xf_npz_read(arrays[i].path, add_npz_member, c, err) < 0)
				return -1;
			continue;
		}
		if (add_npz_member(c, "", &(struct xf_tensor)XF_TENSOR_INIT, err) < 0 ||
		    open_npy(&c->cols[c->n - 1], arrays[i].name, arrays[i].path, err) < 0)
			return -1;
	}
	return 0;
}

/* Declare each source as a field; all must have the same number of rows. */
static int declare(struct column_source *cols, int n, struct xf_header *h, struct xf_err *err)
{
	for (int i = 0; i < n; i++) {
		const struct xf_npy_info *info = cols[i].npy ? xf_npy_reader_info(cols[i].npy) : NULL;
		enum xf_dtype dtype = info ? info->dtype : cols[i].whole.dtype;
		int ndim = info ? info->ndim : cols[i].whole.ndim;
		const int64_t *shape = info ? info->shape : cols[i].whole.shape;

		if (cols[i].rows < 0)
			return xf_err_set(err, XF_E_FORMAT, "field \"%s\" is a 0-d array: it has no rows", cols[i].name);
		if (cols[i].rows != cols[0].rows)
			return xf_err_set(err, XF_E_FORMAT, "'%s': field \"%s\" has %lld rows, \"%s\" has %lld",
					  cols[i].path, cols[i].name, (long long)cols[i].rows, cols[0].name,
					  (long long)cols[0].rows);
		if (dtype == XF_DTYPE_STR && ndim != 1)
			return xf_err_set(err, XF_E_FORMAT, "field \"%s\": string arrays must be 1-D", cols[i].name);
		if (xf_header_add_field(h, cols[i].name, dtype, ndim - 1, shape + 1, err) < 0)
			return -1;
	}
	return n ? 0 : xf_err_set(err, XF_E_USAGE, "no arrays to pack");
}

/* The next k rows of a source: a view of a held array, or a block read from the .npy. */
static int next_rows(struct column_source *s, int64_t k, struct xf_tensor *out, struct xf_err *err)
{
	if (!s->npy) {
		xf_tensor_rows(&s->whole, s->pos, s->pos + k, out);
	} else if (xf_npy_read_rows(s->npy, k, out, err) != k) {
		xf_tensor_release(out);
		return err && err->code ? -1 : xf_err_set(err, XF_E_FORMAT, "field \"%s\" ended early", s->name);
	}
	s->pos += k;
	return 0;
}

static int stream_rows(struct column_source *cols, int n, struct xf_writer *w, struct xf_err *err)
{
	struct xf_tensor *block = calloc(n, sizeof(*block));
	int64_t total = cols[0].rows, step = 65536;
	int rc = 0;

	if (!block)
		return xf_err_nomem(err, n * sizeof(*block));
	for (int64_t done = 0; done < total && rc == 0; done += step) {
		int64_t k = total - done < step ? total - done : step;

		for (int i = 0; i < n && rc == 0; i++)
			rc = next_rows(&cols[i], k, &block[i], err);
		if (rc == 0)
			rc = xf_writer_rows(w, k, block, err);
		for (int i = 0; i < n; i++)
			xf_tensor_release(&block[i]);
	}
	free(block);
	return rc;
}

int xf_pack_arrays(const struct xf_pack_array *arrays, int n, struct xf_header *h, struct xf_writer *w,
		   struct xf_err *err)
{
	struct npz_collect c = { NULL, 0, 0, NULL, NULL };
	int rc = open_sources(arrays, n, &c, err);

	if (rc == 0)
		rc = declare(c.cols, c.n, h, err);
	if (rc == 0)
		rc = xf_writer_begin(w, h, err);
	if (rc == 0)
		rc = stream_rows(c.cols, c.n, w, err);
	if (rc == 0)
		rc = xf_writer_end(w, err);
	close_sources(c.cols, c.n);
	return rc;
}

/* The graph JSON of --arch. Opened here: json_load_file reports a missing file as "line -1". */
static int load_arch(const char *path, json_t **graph, struct xf_err *err)
{
	json_error_t jerr;
	FILE *f = fopen(path, "r");

	if (!f)
		return xf_err_set(err, XF_E_IO, "cannot open '%s': %s", path, strerror(errno));
	*graph = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (!*graph && ferror(f))   /* a read error (a directory, say) reads as "end of file" to jansson */
		xf_err_set(err, XF_E_IO, "cannot read '%s': %s", path, strerror(errno));
	else if (!*graph)
		xf_err_set(err, XF_E_FORMAT, "%s: line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
	fclose(f);
	return *graph ? 0 : -1;
}

int xf_pack_safetensors(const char *path, const char *arch_path, struct xf_header *h, struct xf_writer *w,
			struct xf_err *err)
{
	struct xf_safetensors *st;
	int rc = 0;

	if (xf_safetensors_open(path, &st, err) < 0)
		return -1;
	h->kind = XF_KIND_MODEL;
	for (int i = 0; i < xf_safetensors_count(st) && rc == 0; i++) {
		int64_t shape[XF_MAX_DIMS];
		enum xf_dtype dtype;
		int ndim;

		xf_safetensors_info(st, i, &dtype, &ndim, shape);
		rc = xf_header_add_field(h, xf_safetensors_name(st, i), dtype, ndim, shape, err);
	}
	if (rc == 0 && arch_path)
		rc = load_arch(arch_path, &h->graph, err);
	if (rc == 0 && h->graph && xf_graph_check(h->graph, h, err) < 0)
		rc = xf_err_prefix(err, "%s", arch_path);
	if (rc == 0)
		rc = xf_writer_begin(w, h, err);
	for (int i = 0; i < xf_safetensors_count(st) && rc == 0; i++) {
		struct xf_tensor t;

		rc = xf_safetensors_read(st, i, &t, err);
		if (rc == 0)
			rc = xf_writer_tensor(w, i, &t, err);
		xf_tensor_release(&t);
	}
	if (rc == 0)
		rc = xf_writer_end(w, err);
	xf_safetensors_close(st);
	return rc;
}

static int write_image(struct xf_writer *w, const struct xf_tensor *img, int64_t label, const char *id,
		       struct xf_err *err)
{
	int64_t shape[4] = { 1, img->shape[2], img->shape[0], img->shape[1] }, one = 1;
	struct xf_tensor cols[3] = { XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT };
	char *text;
	int rc = xf_tensor_alloc(&cols[0], XF_DTYPE_U8, 4, shape, err);

	rc = rc ? rc : xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, &one, err);
	rc = rc ? rc : xf_tensor_alloc_str(&cols[2], 1, strlen(id) + 1, &text, err);
	if (rc == 0) {
		xf_image_to_chw(img, cols[0].data);
		*(int64_t *)cols[1].data = label;
		((char **)cols[2].data)[0] = strcpy(text, id);
		rc = xf_writer_rows(w, 1, cols, err);
	}
	for (int i = 0; i < 3; i++)
		xf_tensor_release(&cols[i]);
	return rc;
}

int xf_pack_images(const char *path, const struct xf_imgset_opts *o, struct xf_header *h, struct xf_writer *w,
		   struct xf_err *err)
{
	struct xf_imgset *s;
	struct xf_tensor img;
	const char *id;
	int64_t label;
	int rc, got;

	if (xf_imgset_open(path, o, &s, err) < 0)
		return -1;
	got = xf_imgset_next(s, &img, &label, &id, err);
	rc = got < 0 ? -1 : 0;
	if (got > 0) {
		rc = xf_imgset_declare(s, h, err);
		rc = rc ? rc : xf_writer_begin(w, h, err);
	}
	while (got > 0 && rc == 0) {
		rc = write_image(w, &img, label, id, err);
		xf_tensor_release(&img);
		if (rc == 0 && (got = xf_imgset_next(s, &img, &label, &id, err)) < 0)
			rc = -1;
	}
	if (got > 0)
		xf_tensor_release(&img);
	if (rc == 0)
		rc = xf_writer_end(w, err);
	xf_imgset_close(s);
	return rc;
}
