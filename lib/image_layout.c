/* image_layout: fitting DeepInsight layouts and keeping them as streams; see image_layout.h. */
#include <stdlib.h>
#include <string.h>

#include "file_atomic.h"
#include "image_layout.h"
#include "samples.h"

static const char *const norm_names[] = { "none", "minmax", "log" };

/* The d x n transpose of the n x d matrix x. */
static double *transpose(const double *x, int64_t n, int64_t d, struct xf_err *err)
{
	double *t = malloc((size_t)(n * d) * sizeof(double) + 1);

	if (!t) {
		xf_err_nomem(err, (size_t)(n * d) * sizeof(double));
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++)
			t[j * n + i] = x[i * d + j];
	return t;
}

/* Each feature as a 2-D point: t-SNE or PCA of the features' normalised columns. */
static int feature_points(const double *xn, int64_t n, int64_t d, const struct xf_image_opts *o, double *coords,
			  struct xf_err *err)
{
	struct xf_project_opts p = o->project;
	struct xf_project_result res;
	double *t;
	int rc;

	if (d == 1) { /* one feature: nothing to arrange */
		coords[0] = coords[1] = 0;
		return 0;
	}
	if (!(t = transpose(xn, n, d, err)))
		return -1;
	p.method = o->embedding == XF_FEATURES_PCA ? XF_PROJECT_PCA : XF_PROJECT_TSNE;
	p.dim = 2;
	if (p.method == XF_PROJECT_PCA && n < 2) /* a single sample has one direction: a line */
		for (int64_t j = 0; j < d; j++)
			coords[2 * j] = t[j], coords[2 * j + 1] = 0;
	rc = p.method == XF_PROJECT_PCA && n < 2 ? 0 : xf_project(t, d, n, &p, coords, &res, err);
	free(t);
	return rc;
}

int xf_image_fit(const double *x, int64_t n, int64_t d, const struct xf_image_opts *o, struct xf_layout *out,
		 struct xf_err *err)
{
	struct xf_layout_norm norm = { 0 };
	double *xn = malloc((size_t)(n * d) * sizeof(double) + 1), *coords = malloc((size_t)(2 * d) * sizeof(double) + 1);
	int rc = xn && coords ? 0 : xf_err_nomem(err, (size_t)(n * d) * sizeof(double));

	memset(out, 0, sizeof(*out));
	rc = rc ? rc : xf_layout_norm_fit(x, n, d, o->norm, &norm, err);
	rc = rc ? rc : xf_layout_norm_apply(&norm, x, n, xn, err);
	rc = rc ? rc : feature_points(xn, n, d, o, coords, err);
	rc = rc ? rc : xf_layout_fit(coords, d, o->height, o->width, out, err);
	rc = rc ? rc : xf_layout_set_norm(out, &norm, err);
	if (rc < 0) {
		xf_layout_release(out);
		xf_layout_norm_release(&norm);
	}
	free(xn), free(coords);
	return rc;
}

static int column(struct xf_tensor *t, enum xf_dtype dtype, int64_t d, int64_t width, const void *data,
		  struct xf_err *err)
{
	int64_t shape[2] = { d, width };

	if (xf_tensor_alloc(t, dtype, width > 1 ? 2 : 1, shape, err) < 0)
		return -1;
	memcpy(t->data, data, xf_tensor_bytes(t));
	return 0;
}

static json_t *layout_meta(const struct xf_layout *l)
{
	return json_pack("{s:i, s:i, s:i, s:[f,f,f,f], s:s, s:f}", "version", 1, "height", l->height, "width", l->width,
			 "rot", l->rot[0], l->rot[1], l->rot[2], l->rot[3], "norm", norm_names[l->norm.kind], "scale",
			 l->norm.scale);
}

/* Columns row, col, rotated, lo, hi (the last two when the normaliser has them). */
static int layout_columns(const struct xf_layout *l, struct xf_samples *s, struct xf_err *err)
{
	int32_t *rowcol = malloc((size_t)(2 * l->d) * sizeof(int32_t) + 1), *part = malloc((size_t)l->d * 4 + 1);
	const char *names[5] = { "row", "col", "rotated", "lo", "hi" };
	int rc = rowcol && part ? 0 : xf_err_nomem(err, 0);

	if (rc == 0)
		xf_layout_rowcol(l, rowcol);
	for (int f = 0; rc == 0 && f < 5; f++) {
		struct xf_tensor t = XF_TENSOR_INIT;

		if (f < 2)
			for (int64_t j = 0; j < l->d; j++)
				part[j] = rowcol[2 * j + f];
		if (f >= 3 && !(f == 3 ? l->norm.lo : l->norm.hi))
			continue;
		rc = f < 2 ? column(&t, XF_DTYPE_I32, l->d, 1, part, err)
			   : column(&t, XF_DTYPE_F64, l->d, f == 2 ? 2 : 1, f == 2 ? l->rotated : f == 3 ? l->norm.lo
											    : l->norm.hi, err);
		rc = rc ? rc : xf_samples_put(s, names[f], &t, err);
		xf_tensor_release(&t);
	}
	free(rowcol), free(part);
	return rc;
}

int xf_image_layout_write(struct xf_writer *w, const struct xf_header *base, const struct xf_layout *l,
			  struct xf_err *err)
{
	struct xf_samples s = XF_SAMPLES_INIT;
	json_t *meta = layout_meta(l);
	int rc = 0;

	s.n = l->d;
	s.h.kind = XF_KIND_TABLE;
	s.h.meta = base->meta ? json_deep_copy(base->meta) : json_object(); /* the base's fields are not the layout's */
	if (!meta || !s.h.meta || json_object_set(s.h.meta, "xfer_layout", meta) < 0)
		rc = xf_err_nomem(err, 0);
	rc = rc ? rc : layout_columns(l, &s, err);
	rc = rc ? rc : xf_samples_write(w, &s, err);
	json_decref(meta);
	xf_samples_release(&s);
	return rc;
}

static int parse_norm(const char *name, enum xf_layout_norm_kind *kind)
{
	for (int k = 0; k < 3; k++)
		if (name && !strcmp(name, norm_names[k])) {
			*kind = (enum xf_layout_norm_kind)k;
			return 0;
		}
	return -1;
}

/* meta.xfer_layout: sizes, rotation and the normaliser's kind and scale. */
static int read_meta(const struct xf_samples *s, int *height, int *width, double *rot, struct xf_layout_norm *norm,
		     struct xf_err *err)
{
	json_t *m = json_object_get(s->h.meta, "xfer_layout");
	json_int_t h = 0, w = 0;
	const char *name = NULL;

	if (!m || json_unpack(m, "{s:I, s:I, s:[F,F,F,F], s:s, s:F}", "height", &h, "width", &w, "rot", &rot[0], &rot[1],
			      &rot[2], &rot[3], "norm", &name, "scale", &norm->scale) < 0)
		return xf_err_set(err, XF_E_FORMAT, "not a layout (meta.xfer_layout with height, width, rot, norm, "
				  "scale; written by xfer-project --save-layout)");
	if (h < 1 || w < 1 || h > XF_LAYOUT_MAX_PIXELS || w > XF_LAYOUT_MAX_PIXELS)
		return xf_err_set(err, XF_E_FORMAT, "layout of %lld x %lld pixels", (long long)h, (long long)w);
	if (parse_norm(name, &norm->kind) < 0)
		return xf_err_set(err, XF_E_FORMAT, "layout normalisation '%s' is not none, minmax or log", name);
	*height = (int)h, *width = (int)w;
	return 0;
}

/* Pixels as d x 2 int32 (row, col), from the row and col fields. */
static int32_t *read_rowcol(const struct xf_samples *s, struct xf_err *err)
{
	int64_t *row = NULL, *col = NULL;
	int32_t *rowcol = malloc((size_t)(2 * s->n) * sizeof(int32_t) + 1);
	int rc = rowcol ? 0 : xf_err_nomem(err, 0);

	rc = rc ? rc : xf_samples_labels(s, "row", &row, err);
	rc = rc ? rc : xf_samples_labels(s, "col", &col, err);
	for (int64_t j = 0; rc == 0 && j < s->n; j++) {
		if (row[j] < 0 || col[j] < 0 || row[j] > INT32_MAX || col[j] > INT32_MAX)
			rc = xf_err_set(err, XF_E_FORMAT, "feature %lld has pixel (%lld, %lld)", (long long)j,
					(long long)row[j], (long long)col[j]);
		else
			rowcol[2 * j] = (int32_t)row[j], rowcol[2 * j + 1] = (int32_t)col[j];
	}
	free(row), free(col);
	if (rc < 0) {
		free(rowcol);
		return NULL;
	}
	return rowcol;
}

int xf_image_layout_read(struct xf_reader *r, struct xf_layout *out, struct xf_err *err)
{
	struct xf_samples s;
	struct xf_layout_norm norm = { 0 };
	double rot[4], *rotated = NULL;
	int32_t *rowcol = NULL;
	int height = 0, width = 0, rc = xf_samples_read(r, &s, err);
	int64_t cols;

	rc = rc ? rc : read_meta(&s, &height, &width, rot, &norm, err);
	rc = rc || (rowcol = read_rowcol(&s, err)) ? rc : -1;
	rc = rc ? rc : xf_samples_f64(&s, "rotated", &rotated, &cols, err);
	norm.d = s.n;
	if (rc == 0 && norm.kind != XF_LAYOUT_NORM_NONE)
		rc = xf_samples_f64(&s, "lo", &norm.lo, &cols, err);
	if (rc == 0 && norm.kind == XF_LAYOUT_NORM_MINMAX)
		rc = xf_samples_f64(&s, "hi", &norm.hi, &cols, err);
	rc = rc ? rc : xf_layout_from_arrays(s.n, height, width, rowcol, rot, rotated, &norm, out, err);
	free(norm.lo), free(norm.hi), free(rotated), free(rowcol);
	xf_samples_release(&s);
	return rc < 0 ? xf_err_prefix(err, "%s", xf_reader_name(r)) : 0;
}

struct save_job {
	const struct xf_header *base;
	const struct xf_layout *layout;
};

static int write_fp(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	return fwrite(buf, 1, n, ctx) == n ? 0 : xf_err_set(err, XF_E_IO, "write failed");
}

static int emit_layout(FILE *fp, void *ctx, struct xf_err *err)
{
	struct save_job *job = ctx;
	struct xf_sink_opts opts = { 0, 0 };
	struct xf_sink *sink = xf_sink_callback(write_fp, fp, "layout", &opts, err);
	struct xf_writer *w = sink ? xf_writer_new(sink, err) : NULL;
	int rc = w ? xf_image_layout_write(w, job->base, job->layout, err) : -1;

	xf_writer_free(w);
	if (rc == 0)
		rc = xf_sink_close(sink, err);
	else if (sink)
		xf_sink_abort(sink);
	return rc;
}

int xf_image_layout_save(const char *path, const struct xf_header *base, const struct xf_layout *l,
			 struct xf_err *err)
{
	struct save_job job = { base, l };

	return xf_file_write_atomic(path, emit_layout, &job, err);
}
