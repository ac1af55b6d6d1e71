/*
 * layout: fit, normalisation, transform and flat storage of the DeepInsight feature layout;
 * see layout.h for the contracts and the choices, deepinsight.md section 4 for the method.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

/* count * size in bytes, refusing what size_t cannot hold (checked before any allocation). */
static int array_bytes(int64_t count, size_t size, const char *what, size_t *bytes, struct xf_err *err)
{
	if (count < 0 || (uint64_t)count > SIZE_MAX / size)
		return xf_err_set(err, XF_E_LIMIT, "%s: %lld elements is too many", what, (long long)count);
	*bytes = (size_t)count * size;
	return 0;
}

/* malloc for count elements of size, at least one byte, with err filled on failure. */
static void *alloc_array(int64_t count, size_t size, const char *what, struct xf_err *err)
{
	size_t bytes = 0;
	void *p;

	if (array_bytes(count, size, what, &bytes, err) < 0)
		return NULL;
	p = malloc(bytes ? bytes : 1);
	if (!p)
		xf_err_nomem(err, bytes);
	return p;
}

static int check_features(int64_t d, struct xf_err *err)
{
	if (d < 1)
		return xf_err_set(err, XF_E_USAGE, "layout of %lld features: need at least one", (long long)d);
	return 0;
}

static int check_grid(int height, int width, int code, struct xf_err *err)
{
	if (height < 1 || width < 1)
		return xf_err_set(err, code, "image size %dx%d: both sides must be at least 1", height, width);
	if ((int64_t)height * width > XF_LAYOUT_MAX_PIXELS)
		return xf_err_set(err, XF_E_LIMIT, "image size %dx%d: more than %lld pixels", height, width,
				  (long long)XF_LAYOUT_MAX_PIXELS);
	return 0;
}

/* ---- binning (deepinsight.md 4.1 step 5) ---- */

/* Largest |z| over the d points, the scale against which an axis counts as flat. */
static double magnitude(const double *z, int64_t d)
{
	double m = 0;

	for (int64_t k = 0; k < 2 * d; k++)
		m = fmax(m, fabs(z[k]));
	return m;
}

/*
 * Cells along axis k (0: rows, 1: columns) for the d rotated points, p cells: the doc's
 * u = (z - min)/(max - min) * P with floor and P -> P - 1, or * (P - 1) for the legacy bins,
 * computed in that order (as numpy does) so that cells agree to the last bit. A flat axis
 * (see layout.h) puts every point in the middle cell instead of dividing noise by noise.
 */
static int bin_axis(const double *z, int64_t d, int k, int p, enum xf_layout_discretize how, double flat,
		    int32_t *cell, struct xf_err *err)
{
	double lo = z[k], hi = z[k], span = how == XF_LAYOUT_BIN ? p : p - 1;

	for (int64_t j = 1; j < d; j++)
		lo = fmin(lo, z[2 * j + k]), hi = fmax(hi, z[2 * j + k]);
	if (!isfinite(hi - lo))
		return xf_err_set(err, XF_E_LIMIT, "rotated coordinates span %g to %g: too wide", lo, hi);
	for (int64_t j = 0; j < d; j++) {
		double u = hi - lo <= flat ? p / 2 : floor((z[2 * j + k] - lo) / (hi - lo) * span);

		cell[j] = u < 0 ? 0 : u > p - 1 ? p - 1 : (int32_t)u;
	}
	return 0;
}

static int check_rotated(const double *z, int64_t d, struct xf_err *err)
{
	for (int64_t k = 0; k < 2 * d; k++)
		if (!isfinite(z[k]))
			return xf_err_set(err, XF_E_FORMAT, "feature %lld: rotated coordinate is %s", (long long)(k / 2),
					  isnan(z[k]) ? "NaN" : "infinite");
	return 0;
}

int xf_layout_bin(const double *rotated, int64_t d, int height, int width, enum xf_layout_discretize how,
		  int32_t *pixel, struct xf_err *err)
{
	double flat;
	int32_t *col;

	if (check_features(d, err) < 0 || check_grid(height, width, XF_E_USAGE, err) < 0)
		return -1;
	if (how != XF_LAYOUT_BIN && how != XF_LAYOUT_BIN_LEGACY)
		return xf_err_set(err, XF_E_USAGE, "unknown discretisation %d", (int)how);
	if (check_rotated(rotated, d, err) < 0 || !(col = alloc_array(d, sizeof(*col), "pixel map", err)))
		return -1;
	flat = XF_LAYOUT_FLAT_REL * magnitude(rotated, d);
	if (bin_axis(rotated, d, 0, height, how, flat, pixel, err) < 0 ||
	    bin_axis(rotated, d, 1, width, how, flat, col, err) < 0) {
		free(col);
		return -1;
	}
	for (int64_t j = 0; j < d; j++)
		pixel[j] = pixel[j] * width + col[j];
	free(col);
	return 0;
}

/* ---- fit (deepinsight.md 4.1 steps 2 to 5) ---- */

/* The minimum-area rectangle of the points' convex hull (steps 2 and 3). */
static int enclosing_rect(const double *coords, int64_t d, enum xf_hull_turn turn, struct xf_hull_rect *rect,
			  struct xf_err *err)
{
	int64_t *idx = alloc_array(d, sizeof(*idx), "convex hull", err), h;
	double *hull = NULL;
	int rc = -1;

	if (!idx)
		return -1;
	h = xf_hull_convex(coords, d, idx, err);
	if (h > 0 && (hull = alloc_array(h, 2 * sizeof(*hull), "convex hull", err))) {
		for (int64_t k = 0; k < h; k++)
			hull[2 * k] = coords[2 * idx[k]], hull[2 * k + 1] = coords[2 * idx[k] + 1];
		rc = xf_hull_min_rect(hull, h, turn, rect, err);
	}
	free(idx), free(hull);
	return rc;
}

static int check_opts(const struct xf_layout_opts *opts, struct xf_err *err)
{
	if (opts->discretize != XF_LAYOUT_BIN && opts->discretize != XF_LAYOUT_BIN_LEGACY)
		return xf_err_set(err, XF_E_USAGE, "unknown discretisation %d", (int)opts->discretize);
	if (opts->turn != XF_HULL_ALIGN && opts->turn != XF_HULL_PYDEEPINSIGHT)
		return xf_err_set(err, XF_E_USAGE, "unknown rectangle rotation %d", (int)opts->turn);
	return 0;
}

int xf_layout_fit_opts(const double *coords, int64_t d, int height, int width, const struct xf_layout_opts *opts,
		       struct xf_layout *out, struct xf_err *err)
{
	static const struct xf_layout_opts defaults = XF_LAYOUT_OPTS_INIT;
	struct xf_layout l = { .d = d, .height = height, .width = width, .norm = { .d = d } };
	struct xf_hull_rect rect;

	if (!opts)
		opts = &defaults;
	if (check_features(d, err) < 0 || check_grid(height, width, XF_E_USAGE, err) < 0 || check_opts(opts, err) < 0)
		return -1;
	if (enclosing_rect(coords, d, opts->turn, &rect, err) < 0)
		return xf_err_prefix(err, "layout");
	memcpy(l.rot, rect.rot, sizeof(l.rot));
	l.rotated = alloc_array(d, 2 * sizeof(double), "rotated coordinates", err);
	l.pixel = l.rotated ? alloc_array(d, sizeof(int32_t), "pixel map", err) : NULL;
	if (!l.pixel) {
		xf_layout_release(&l);
		return -1;
	}
	xf_hull_rotate(&rect, coords, d, l.rotated);
	if (xf_layout_bin(l.rotated, d, height, width, opts->discretize, l.pixel, err) < 0) {
		xf_layout_release(&l);
		return -1;
	}
	*out = l;
	return 0;
}

int xf_layout_fit(const double *coords, int64_t d, int height, int width, struct xf_layout *out, struct xf_err *err)
{
	return xf_layout_fit_opts(coords, d, height, width, NULL, out, err);
}

/* ---- value normalisation (deepinsight.md 4.3) ---- */

static double clip01(double v)
{
	return isnan(v) || v < 0 ? 0 : v > 1 ? 1 : v;
}

/* The normalised value of feature j (see layout.h for the NaN and clipping rules). */
static double norm_value(const struct xf_layout_norm *norm, int64_t j, double v)
{
	switch (norm->kind) {
	case XF_LAYOUT_NORM_MINMAX:
		return clip01((v - norm->lo[j]) / (norm->hi[j] - norm->lo[j]));
	case XF_LAYOUT_NORM_LOG:
		v = log(v + fabs(norm->lo[j]) + 1);
		return clip01((v < 0 ? 0 : v) / norm->scale);
	default:
		return v;
	}
}

static int check_training(const double *x, int64_t n, int64_t d, struct xf_err *err)
{
	for (int64_t k = 0; k < n * d; k++)
		if (!isfinite(x[k]))
			return xf_err_set(err, XF_E_FORMAT, "row %lld, feature %lld: training value is %s",
					  (long long)(k / d), (long long)(k % d), isnan(x[k]) ? "NaN" : "infinite");
	return 0;
}

/* Per-feature minimum (and maximum, if hi) over the n rows. */
static void column_range(const double *x, int64_t n, int64_t d, double *lo, double *hi)
{
	for (int64_t j = 0; j < d; j++) {
		lo[j] = x[j];
		if (hi)
			hi[j] = x[j];
	}
	for (int64_t i = 1; i < n; i++)
		for (int64_t j = 0; j < d; j++) {
			lo[j] = fmin(lo[j], x[i * d + j]);
			if (hi)
				hi[j] = fmax(hi[j], x[i * d + j]);
		}
}

/* Norm-2's M: the largest ln(x + |m_j| + 1) of the training matrix. */
static int log_scale(const double *x, int64_t n, int64_t d, struct xf_layout_norm *norm, struct xf_err *err)
{
	norm->scale = 0;
	for (int64_t k = 0; k < n * d; k++)
		norm->scale = fmax(norm->scale, log(x[k] + fabs(norm->lo[k % d]) + 1));
	if (!isfinite(norm->scale))
		return xf_err_set(err, XF_E_LIMIT, "log normalisation: training values too large");
	return 0;
}

static int check_norm_args(int64_t n, int64_t d, enum xf_layout_norm_kind kind, struct xf_err *err)
{
	size_t bytes = 0;

	if (check_features(d, err) < 0)
		return -1;
	if (kind != XF_LAYOUT_NORM_NONE && kind != XF_LAYOUT_NORM_MINMAX && kind != XF_LAYOUT_NORM_LOG)
		return xf_err_set(err, XF_E_USAGE, "unknown normalisation %d", (int)kind);
	if (n < 0 || (kind != XF_LAYOUT_NORM_NONE && n == 0))
		return xf_err_set(err, XF_E_USAGE, "normalisation fitted on %lld rows", (long long)n);
	if (n > 0 && d > INT64_MAX / n)
		return xf_err_set(err, XF_E_LIMIT, "normalisation: %lld x %lld values is too many", (long long)n,
				  (long long)d);
	return array_bytes(d, 2 * sizeof(double), "normalisation", &bytes, err);
}

int xf_layout_norm_fit(const double *x, int64_t n, int64_t d, enum xf_layout_norm_kind kind,
		       struct xf_layout_norm *out, struct xf_err *err)
{
	struct xf_layout_norm norm = { .kind = kind, .d = d };

	if (check_norm_args(n, d, kind, err) < 0)
		return -1;
	if (kind == XF_LAYOUT_NORM_NONE) {
		*out = norm;
		return 0;
	}
	if (check_training(x, n, d, err) < 0 || !(norm.lo = alloc_array(d, sizeof(double), "normalisation", err)))
		return -1;
	if (kind == XF_LAYOUT_NORM_MINMAX && !(norm.hi = alloc_array(d, sizeof(double), "normalisation", err))) {
		xf_layout_norm_release(&norm);
		return -1;
	}
	column_range(x, n, d, norm.lo, norm.hi);
	if (kind == XF_LAYOUT_NORM_LOG && log_scale(x, n, d, &norm, err) < 0) {
		xf_layout_norm_release(&norm);
		return -1;
	}
	*out = norm;
	return 0;
}

int xf_layout_norm_apply(const struct xf_layout_norm *norm, const double *x, int64_t n, double *out,
			 struct xf_err *err)
{
	if (n < 0 || (n > 0 && norm->d > INT64_MAX / n))
		return xf_err_set(err, XF_E_USAGE, "normalising %lld rows of %lld features", (long long)n,
				  (long long)norm->d);
	for (int64_t k = 0; k < n * norm->d; k++)
		out[k] = norm_value(norm, k % norm->d, x[k]);
	return 0;
}

void xf_layout_norm_release(struct xf_layout_norm *norm)
{
	free(norm->lo), free(norm->hi);
	*norm = (struct xf_layout_norm){ .kind = XF_LAYOUT_NORM_NONE };
}

int xf_layout_set_norm(struct xf_layout *l, struct xf_layout_norm *norm, struct xf_err *err)
{
	if (norm->d != l->d)
		return xf_err_set(err, XF_E_USAGE, "normalisation for %lld features given to a layout of %lld",
				  (long long)norm->d, (long long)l->d);
	xf_layout_norm_release(&l->norm);
	l->norm = *norm;
	*norm = (struct xf_layout_norm){ .kind = XF_LAYOUT_NORM_NONE };
	return 0;
}

/* ---- transform (deepinsight.md 4.2) ---- */

struct member {
	int32_t pixel;
	int64_t feature;
};

/* By pixel, then feature: each pixel's features become one run, summed in index order. */
static int member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;

	if (a->pixel != b->pixel)
		return a->pixel < b->pixel ? -1 : 1;
	return (a->feature > b->feature) - (a->feature < b->feature);
}

/* Write each run's mean of values into its pixel of image (already zeroed). */
static void paint(const struct member *m, int64_t d, const double *values, float *image)
{
	for (int64_t a = 0, b; a < d; a = b) {
		double sum = 0;

		for (b = a; b < d && m[b].pixel == m[a].pixel; b++)
			sum += values[m[b].feature];
		image[m[a].pixel] = (float)(sum / (double)(b - a));
	}
}

int xf_layout_transform(const struct xf_layout *l, const double *x, int64_t n, float *images, struct xf_err *err)
{
	int64_t pixels = (int64_t)l->height * l->width;
	struct member *m;
	double *values;

	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "transforming %lld samples", (long long)n);
	if (n == 0)
		return 0;
	if (n > INT64_MAX / pixels || l->d > INT64_MAX / n || (uint64_t)(n * pixels) > SIZE_MAX / sizeof(float))
		return xf_err_set(err, XF_E_LIMIT, "%lld images of %dx%d: too many", (long long)n, l->height, l->width);
	m = alloc_array(l->d, sizeof(*m), "transform", err);
	values = m ? alloc_array(l->d, sizeof(*values), "transform", err) : NULL;
	if (!values) {
		free(m);
		return -1;
	}
	for (int64_t j = 0; j < l->d; j++)
		m[j] = (struct member){ l->pixel[j], j };
	qsort(m, (size_t)l->d, sizeof(*m), member_cmp);
	for (int64_t i = 0; i < n; i++) {
		float *image = images + i * pixels;

		for (int64_t j = 0; j < l->d; j++)
			values[j] = norm_value(&l->norm, j, x[i * l->d + j]);
		memset(image, 0, (size_t)pixels * sizeof(*image));
		paint(m, l->d, values, image);
	}
	free(m), free(values);
	return 0;
}

void xf_layout_density(const struct xf_layout *l, int32_t *counts)
{
	memset(counts, 0, (size_t)l->height * (size_t)l->width * sizeof(*counts));
	for (int64_t j = 0; j < l->d; j++)
		counts[l->pixel[j]]++;
}

void xf_layout_rowcol(const struct xf_layout *l, int32_t *rowcol)
{
	for (int64_t j = 0; j < l->d; j++)
		rowcol[2 * j] = l->pixel[j] / l->width, rowcol[2 * j + 1] = l->pixel[j] % l->width;
}

/* ---- flat description ---- */

static int check_rowcol(const int32_t *rowcol, int64_t d, int height, int width, struct xf_err *err)
{
	for (int64_t j = 0; j < d; j++)
		if (rowcol[2 * j] < 0 || rowcol[2 * j] >= height || rowcol[2 * j + 1] < 0 || rowcol[2 * j + 1] >= width)
			return xf_err_set(err, XF_E_FORMAT, "layout: feature %lld: pixel (%d, %d) outside the %dx%d grid",
					  (long long)j, (int)rowcol[2 * j], (int)rowcol[2 * j + 1], height, width);
	return 0;
}

static int check_finite(const double *v, int64_t count, const char *what, struct xf_err *err)
{
	for (int64_t k = 0; k < count; k++)
		if (!isfinite(v[k]))
			return xf_err_set(err, XF_E_FORMAT, "layout: %s[%lld] is %s", what, (long long)k,
					  isnan(v[k]) ? "NaN" : "infinite");
	return 0;
}

static int check_norm(const struct xf_layout_norm *norm, int64_t d, struct xf_err *err)
{
	if (norm->kind != XF_LAYOUT_NORM_NONE && norm->kind != XF_LAYOUT_NORM_MINMAX && norm->kind != XF_LAYOUT_NORM_LOG)
		return xf_err_set(err, XF_E_FORMAT, "layout: unknown normalisation %d", (int)norm->kind);
	if (norm->d != d)
		return xf_err_set(err, XF_E_FORMAT, "layout: normalisation for %lld features, pixel map for %lld",
				  (long long)norm->d, (long long)d);
	if (norm->kind == XF_LAYOUT_NORM_NONE)
		return 0;
	if (!norm->lo || (norm->kind == XF_LAYOUT_NORM_MINMAX && !norm->hi))
		return xf_err_set(err, XF_E_FORMAT, "layout: normalisation parameters missing");
	if (check_finite(norm->lo, d, "norm lo", err) < 0)
		return -1;
	if (norm->kind == XF_LAYOUT_NORM_LOG)
		return isfinite(norm->scale) && norm->scale >= 0 ? 0 :
		       xf_err_set(err, XF_E_FORMAT, "layout: log normalisation scale %g", norm->scale);
	if (check_finite(norm->hi, d, "norm hi", err) < 0)
		return -1;
	for (int64_t j = 0; j < d; j++)
		if (norm->lo[j] > norm->hi[j])
			return xf_err_set(err, XF_E_FORMAT, "layout: feature %lld: minimum %g above maximum %g",
					  (long long)j, norm->lo[j], norm->hi[j]);
	return 0;
}

static int check_arrays(int64_t d, int height, int width, const int32_t *rowcol, const double *rot,
			const double *rotated, const struct xf_layout_norm *norm, struct xf_err *err)
{
	size_t bytes = 0;

	if (d < 1)
		return xf_err_set(err, XF_E_FORMAT, "layout of %lld features", (long long)d);
	if (check_grid(height, width, XF_E_FORMAT, err) < 0 || array_bytes(d, 2 * sizeof(double), "layout", &bytes, err) < 0)
		return -1;
	if (check_rowcol(rowcol, d, height, width, err) < 0)
		return -1;
	if ((rot && check_finite(rot, 4, "rotation", err) < 0) ||
	    (rotated && check_finite(rotated, 2 * d, "rotated", err) < 0))
		return -1;
	return norm ? check_norm(norm, d, err) : 0;
}

/* Copy count doubles of src (NULL stays NULL) into *dst; -1 only when out of memory. */
static int copy_doubles(const double *src, int64_t count, double **dst, struct xf_err *err)
{
	*dst = NULL;
	if (!src)
		return 0;
	if (!(*dst = alloc_array(count, sizeof(double), "layout", err)))
		return -1;
	memcpy(*dst, src, (size_t)count * sizeof(double));
	return 0;
}

int xf_layout_from_arrays(int64_t d, int height, int width, const int32_t *rowcol, const double *rot,
			  const double *rotated, const struct xf_layout_norm *norm, struct xf_layout *out,
			  struct xf_err *err)
{
	struct xf_layout l = { .d = d, .height = height, .width = width, .rot = { 1, 0, 0, 1 }, .norm = { .d = d } };

	if (check_arrays(d, height, width, rowcol, rot, rotated, norm, err) < 0)
		return -1;
	if (rot)
		memcpy(l.rot, rot, sizeof(l.rot));
	if (norm)
		l.norm.kind = norm->kind, l.norm.scale = norm->kind == XF_LAYOUT_NORM_LOG ? norm->scale : 0;
	if (!(l.pixel = alloc_array(d, sizeof(*l.pixel), "layout", err)) ||
	    copy_doubles(rotated, 2 * d, &l.rotated, err) < 0 ||
	    (norm && copy_doubles(norm->kind != XF_LAYOUT_NORM_NONE ? norm->lo : NULL, d, &l.norm.lo, err) < 0) ||
	    (norm && copy_doubles(norm->kind == XF_LAYOUT_NORM_MINMAX ? norm->hi : NULL, d, &l.norm.hi, err) < 0)) {
		xf_layout_release(&l);
		return -1;
	}
	for (int64_t j = 0; j < d; j++)
		l.pixel[j] = rowcol[2 * j] * width + rowcol[2 * j + 1];
	*out = l;
	return 0;
}

void xf_layout_release(struct xf_layout *l)
{
	free(l->pixel), free(l->rotated);
	xf_layout_norm_release(&l->norm);
	*l = (struct xf_layout){ 0 };
}
