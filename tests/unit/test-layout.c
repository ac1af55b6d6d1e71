/*
 * Unit tests for lib/hull.c and lib/layout.c (deepinsight.md section 4): hulls and rectangles
 * checked by hand, calipers against a brute-force search, small layouts and transforms
 * worked out by hand, degenerate and bad input, the flat description, and the fixtures of
 * tests/data/layout (make-fixtures.py there, values from tests/ref/ref_layout.py), whose pixel
 * maps must match exactly. Fixtures are found under $XF_TEST_DATA (default tests/data).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hull.h"
#include "layout.h"
#include "npy.h"
#include "tap.h"

#define ARRAY_SIZE(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers ---- */

static const char *data_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("XF_TEST_DATA");

	snprintf(path, sizeof(path), "%s/layout/%s", dir ? dir : "tests/data", name);
	return path;
}

/* A fixture array of the given dtype and element count (any shape); NULL with a diagnostic. */
static void *load(const char *name, enum xf_dtype dtype, int64_t count)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	int64_t have = 1;
	void *out;

	if (xf_npy_load_file(data_path(name), &t, &err) < 0) {
		printf("# %s: %s\n", name, err.msg);
		return NULL;
	}
	for (int k = 0; k < t.ndim; k++)
		have *= t.shape[k];
	if (t.dtype != dtype || have != count) {
		printf("# %s: unexpected dtype or size %lld\n", name, (long long)have);
		xf_tensor_release(&t);
		return NULL;
	}
	out = malloc((size_t)count * xf_dtype_table[dtype].size);
	memcpy(out, t.data, (size_t)count * xf_dtype_table[dtype].size);
	xf_tensor_release(&t);
	return out;
}

static int same_i32(const int32_t *a, const int32_t *b, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
		if (a[k] != b[k]) {
			printf("#   first difference at %lld: %d vs %d\n", (long long)k, (int)a[k], (int)b[k]);
			return 0;
		}
	return 1;
}

/* Images equal to tol, printing the first difference. */
static int near_f32(const float *a, const float *b, int64_t n, double tol)
{
	for (int64_t k = 0; k < n; k++)
		if (!(fabs((double)a[k] - b[k]) <= tol)) {
			printf("#   first difference at %lld: %.9g vs %.9g\n", (long long)k, a[k], b[k]);
			return 0;
		}
	return 1;
}

/* Fit with default options; the layout is released by the caller; -1 on failure (printed). */
static int fit(const double *coords, int64_t d, int h, int w, struct xf_layout *l)
{
	struct xf_err err = XF_ERR_INIT;

	if (xf_layout_fit(coords, d, h, w, l, &err) < 0) {
		printf("#   fit failed: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Fit and compare the pixel map with want (d entries). */
static void check_fit(const double *coords, int64_t d, int h, int w, const int32_t *want, const char *name)
{
	struct xf_layout l = { 0 };

	ok(fit(coords, d, h, w, &l) == 0 && same_i32(l.pixel, want, d), "%s", name);
	xf_layout_release(&l);
}

/* Rotate n points by angle a (counter-clockwise) and shift them. */
static void tilt(double *p, int64_t n, double a, double dx, double dy)
{
	for (int64_t k = 0; k < n; k++) {
		double x = p[2 * k], y = p[2 * k + 1];

		p[2 * k] = cos(a) * x - sin(a) * y + dx;
		p[2 * k + 1] = sin(a) * x + cos(a) * y + dy;
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64* in [0, 1): deterministic test data. */
static double uniform(void)
{
	rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717u) >> 11) / 9007199254740992.0;
}

/* ---- convex hull ---- */

static void test_hull_square(void)
{
	/* corners 0, 3, 5, 7; interior 1, 4; edge midpoints 2, 6; 8 repeats corner 3 */
	const double p[] = { 0, 0, 0.5, 0.5, 0.5, 0, 1, 0, 0.2, 0.7, 1, 1, 1, 0.5, 0, 1, 1, 0 };
	const int64_t want[] = { 0, 3, 5, 7 };
	int64_t idx[9];
	int64_t h = xf_hull_convex(p, 9, idx, NULL);

	is_int(h, 4, "hull of a square with interior and edge points: 4 corners");
	ok(h == 4 && !memcmp(idx, want, sizeof(want)), "hull: counter-clockwise from the lowest x, lowest index of repeats");
}

static void test_hull_degenerate(void)
{
	const double line[] = { 2, 2, 0, 0, 3, 3, 1, 1, 3, 3, -1, -1 };
	const double same[] = { 4, 5, 4, 5, 4, 5 };
	int64_t idx[6];
	struct xf_err err = XF_ERR_INIT;
	double bad[] = { 0, 0, NAN, 1 };

	is_int(xf_hull_convex(line, 6, idx, NULL), 2, "collinear points: a segment of 2 vertices");
	ok(idx[0] == 5 && idx[1] == 2, "collinear points: the two ends, lowest first");
	is_int(xf_hull_convex(same, 3, idx, NULL), 1, "coincident points: 1 vertex");
	is_int(idx[0], 0, "coincident points: the lowest index");
	is_int(xf_hull_convex(same, 0, idx, NULL), 0, "no points: empty hull");
	ok(xf_hull_convex(bad, 2, idx, &err) == -1 && err.code == XF_E_FORMAT, "NaN coordinate: %s", err.msg);
	bad[2] = INFINITY;
	ok(xf_hull_convex(bad, 2, idx, &err) == -1 && err.code == XF_E_FORMAT, "infinite coordinate: %s", err.msg);
	bad[2] = 1e200;
	ok(xf_hull_convex(bad, 2, idx, &err) == -1 && err.code == XF_E_LIMIT, "huge coordinate: %s", err.msg);
	ok(xf_hull_convex(bad, -1, idx, &err) == -1 && err.code == XF_E_USAGE, "negative count refused");
}

static void test_edge_angle(void)
{
	is_near(xf_hull_edge_angle(1, 0), 0, 0, "edge angle: +x is 0");
	is_near(xf_hull_edge_angle(0, 1), 0, 0, "edge angle: +y is 0 (pi/2 mod pi/2)");
	is_near(xf_hull_edge_angle(-1, 0), 0, 0, "edge angle: -x is 0");
	is_near(xf_hull_edge_angle(0, -1), 0, 0, "edge angle: -y is 0");
	is_near(xf_hull_edge_angle(1, 1), M_PI / 4, 1e-15, "edge angle: diagonal is pi/4");
	is_near(xf_hull_edge_angle(-1, -sqrt(3)), M_PI / 3, 1e-15, "edge angle: -120 degrees is pi/3 (floored modulo)");
	is_near(xf_hull_edge_angle(1, -1e-20), 0, 0, "edge angle: a modulo rounding to pi/2 folds to 0");
}

/* ---- minimum-area rectangle ---- */

static void check_rect(double tilt_deg, double want_angle, double want_w0, double want_w1)
{
	double p[] = { 0, 0, 4, 0, 4, 1, 0, 1, 1, 0.5, 3, 0.2 }; /* 4 x 1 rectangle plus interior points */
	int64_t idx[6], h;
	double hull[12];
	struct xf_hull_rect r;
	struct xf_err err = XF_ERR_INIT;

	tilt(p, 6, tilt_deg * M_PI / 180, 3, -2);
	h = xf_hull_convex(p, 6, idx, NULL);
	for (int64_t k = 0; k < h; k++)
		hull[2 * k] = p[2 * idx[k]], hull[2 * k + 1] = p[2 * idx[k] + 1];
	ok(h == 4 && xf_hull_min_rect(hull, h, XF_HULL_ALIGN, &r, &err) == 0, "rectangle tilted %g degrees: fit",
	   tilt_deg);
	is_near(r.angle, want_angle, 1e-12, "  recovers the tilt modulo 90 degrees");
	is_near(r.area, 4, 1e-12, "  area 4");
	is_near(r.hi[0] - r.lo[0], want_w0, 1e-12, "  side along axis 0");
	is_near(r.hi[1] - r.lo[1], want_w1, 1e-12, "  side along axis 1");
	is_near(r.rot[0], cos(want_angle), 1e-15, "  R rotates by -angle (cos)");
	is_near(r.rot[1], sin(want_angle), 1e-15, "  R rotates by -angle (sin)");
}

static void test_rect_tilted(void)
{
	double hull[8] = { 0, 0, 4, 0, 4, 1, 0, 1 };
	struct xf_hull_rect r;

	check_rect(0, 0, 4, 1);
	check_rect(30, M_PI / 6, 4, 1);
	check_rect(120, M_PI / 6, 1, 4);
	check_rect(-50, 40 * M_PI / 180, 1, 4);
	tilt(hull, 4, M_PI / 6, 0, 0);
	ok(xf_hull_min_rect(hull, 4, XF_HULL_PYDEEPINSIGHT, &r, NULL) == 0, "pyDeepInsight's rotation sign: fit");
	/* rotating by +30 degrees leaves the rectangle at 60: box (4 cos 60 + sin 60)(4 sin 60 + cos 60) */
	is_near(r.area, (2 + sqrt(3) / 2) * (2 * sqrt(3) + 0.5), 1e-12,
		"pyDeepInsight's rotation sign: the box of the rectangle at 60 degrees, area 11.36, not 4");
}

static void test_rect_degenerate(void)
{
	const double point[] = { 2, 3 }, segment[] = { 0, 0, 3, 4 };
	struct xf_hull_rect r;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_hull_min_rect(point, 1, XF_HULL_ALIGN, &r, NULL) == 0 && r.angle == 0 && r.area == 0 &&
	   r.rot[0] == 1 && r.rot[1] == 0 && r.lo[0] == 2 && r.hi[1] == 3, "rectangle of a point: identity, area 0");
	ok(xf_hull_min_rect(segment, 2, XF_HULL_ALIGN, &r, NULL) == 0 && fabs(r.area) < 1e-12 &&
	   fabs(r.hi[0] - r.lo[0] - 5) < 1e-12, "rectangle of a segment: area 0, length 5 along axis 0");
	ok(xf_hull_min_rect(point, 0, XF_HULL_ALIGN, &r, &err) == -1 && err.code == XF_E_USAGE,
	   "rectangle of nothing refused");
	ok(xf_hull_min_rect(point, 1, (enum xf_hull_turn)7, &r, &err) == -1 && err.code == XF_E_USAGE,
	   "unknown rotation refused");
}

/* The doc's method literally: every distinct angle ascending, full scans, first minimum. */
static double brute_rect(const double *hull, int64_t h, enum xf_hull_turn turn, double *angle)
{
	double best = INFINITY;

	for (int64_t e = 0; e < h; e++) {
		const double *a = hull + 2 * e, *b = hull + 2 * ((e + 1) % h);
		double t = xf_hull_edge_angle(b[0] - a[0], b[1] - a[1]), c = cos(t), s = sin(t);
		double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY }, area;

		if (turn == XF_HULL_PYDEEPINSIGHT)
			s = -s;
		for (int64_t v = 0; v < h; v++) {
			double x = c * hull[2 * v] + s * hull[2 * v + 1], y = -s * hull[2 * v] + c * hull[2 * v + 1];

			lo[0] = fmin(lo[0], x), hi[0] = fmax(hi[0], x), lo[1] = fmin(lo[1], y), hi[1] = fmax(hi[1], y);
		}
		area = (hi[0] - lo[0]) * (hi[1] - lo[1]);
		if (area < best || (area == best && t < *angle))
			best = area, *angle = t;
	}
	return best;
}

/* A random cloud: a disc, a thin ellipse, or points on a circle (every point a hull vertex). */
static void random_cloud(double *p, int64_t n, int kind)
{
	for (int64_t k = 0; k < n; k++) {
		double a = 2 * M_PI * uniform(), r = kind == 2 ? 1 : sqrt(uniform());

		p[2 * k] = r * cos(a) * (kind == 1 ? 10 : 1) + 7;
		p[2 * k + 1] = r * sin(a);
	}
	if (kind == 1)
		tilt(p, n, 2 * M_PI * uniform(), 0, 0);
}

static int calipers_agree(const double *p, int64_t n, enum xf_hull_turn turn)
{
	int64_t *idx = malloc((size_t)n * sizeof(*idx)), h = xf_hull_convex(p, n, idx, NULL);
	double *hull = malloc((size_t)n * 2 * sizeof(*hull)), angle = 0, area;
	struct xf_hull_rect r;
	int good;

	for (int64_t k = 0; k < h; k++)
		hull[2 * k] = p[2 * idx[k]], hull[2 * k + 1] = p[2 * idx[k] + 1];
	area = brute_rect(hull, h, turn, &angle);
	good = xf_hull_min_rect(hull, h, turn, &r, NULL) == 0 && r.area == area && r.angle == angle;
	if (!good)
		printf("#   h %lld: calipers %.17g at %.17g, brute force %.17g at %.17g\n", (long long)h, r.area,
		       r.angle, area, angle);
	free(idx), free(hull);
	return good;
}

static void test_calipers_vs_brute_force(void)
{
	double p[2 * 500];
	int agree[2] = { 1, 1 };

	for (int trial = 0; trial < 60; trial++) {
		int64_t n = 3 + (int64_t)(uniform() * 497);

		random_cloud(p, n, trial % 3);
		for (int turn = 0; turn < 2; turn++)
			agree[turn] = agree[turn] && calipers_agree(p, n, (enum xf_hull_turn)turn);
	}
	ok(agree[0], "calipers equal the brute-force search exactly on 60 random clouds (align)");
	ok(agree[1], "calipers equal the brute-force search exactly on 60 random clouds (pyDeepInsight sign)");
}

/* ---- layouts by hand ---- */

static void test_layout_square(void)
{
	/* corners of the unit square, then a fifth feature near (0, 0): x gives the row, y the column */
	const double p[] = { 0, 0, 1, 0, 1, 1, 0, 1, 0.1, 0.1, 0.5, 0.5 };
	const int32_t want2[] = { 0, 2, 3, 1, 0 }, want3[] = { 0, 6, 8, 2, 0, 4 };
	const int32_t want_density[] = { 2, 1, 1, 1 };
	struct xf_layout l = { 0 };
	int32_t counts[4], rowcol[10];

	check_fit(p, 4, 2, 2, want2, "square corners on 2x2: one corner per pixel, x -> row, y -> column");
	check_fit(p, 5, 2, 2, want2, "square corners plus (0.1, 0.1) on 2x2: collides with corner 0");
	check_fit(p, 6, 3, 3, want3, "square corners on 3x3: u = 3 moves to 2; centre (0.5, 0.5) -> u = 1.5, pixel 4");
	if (fit(p, 5, 2, 2, &l) == 0) {
		xf_layout_density(&l, counts);
		ok(same_i32(counts, want_density, 4), "density: 2 features on pixel 0, 1 elsewhere");
		xf_layout_rowcol(&l, rowcol);
		ok(rowcol[2] == 1 && rowcol[3] == 0 && rowcol[6] == 0 && rowcol[7] == 1, "rowcol: (row, column) pairs");
		is_near(l.rot[0], 1, 0, "axis-aligned input is not rotated");
	}
	xf_layout_release(&l);
}

static void test_layout_tilted_rectangle(void)
{
	double p[] = { 0, 0, 4, 0, 4, 1, 0, 1 };
	const int32_t want[] = { 0, 2, 3, 1 };
	struct xf_layout l = { 0 };
	struct xf_layout_opts opts = { XF_LAYOUT_BIN, XF_HULL_PYDEEPINSIGHT };

	tilt(p, 4, 0.4, 10, 20);
	check_fit(p, 4, 2, 2, want, "4 x 1 rectangle tilted 0.4 rad on 2x2: rotated back, one corner per pixel");
	ok(xf_layout_fit_opts(p, 4, 2, 2, &opts, &l, NULL) == 0, "pyDeepInsight rotation sign: fits");
	xf_layout_release(&l);
}

static void test_layout_degenerate(void)
{
	const double one[] = { 3, -7 }, same[] = { 1, 1, 1, 1, 1, 1 }, two[] = { 0, 0, 1, 2 };
	const double line[] = { 0, 0, 0.3, 0.6, 0.5, 1, 0.7, 1.4, 1, 2 };
	const double steep[] = { 0, 0, -0.3, 0.3 * sqrt(3), -0.5, 0.5 * sqrt(3), -1, sqrt(3) };
	const double vertical[] = { 2, 0, 2, 1, 2, 3, 2, 4 };
	const int32_t centre[] = { 10, 10, 10 }, ends[] = { 2, 22 }, rows[] = { 2, 7, 12, 17, 22 };
	const int32_t cols[] = { 10, 11, 12, 14 }, vcols[] = { 10, 11, 13, 14 };

	check_fit(one, 1, 5, 4, centre, "d = 1: the middle pixel (2, 2) of 5x4");
	check_fit(same, 3, 5, 4, centre, "all features at one point: all in the middle pixel");
	check_fit(two, 2, 5, 5, ends, "d = 2: the segment lies along the rows of the middle column");
	check_fit(line, 5, 5, 5, rows, "collinear at 63 degrees: rows 0..4 of the middle column");
	check_fit(steep, 4, 5, 5, cols, "collinear at 120 degrees: columns of the middle row");
	check_fit(vertical, 4, 5, 5, vcols, "vertical line: not rotated, columns of the middle row");
}

static void test_layout_errors(void)
{
	double p[] = { 0, 0, 1, 1, 2, 0 };
	struct xf_layout l = { 0 };
	struct xf_layout_opts opts = { (enum xf_layout_discretize)9, XF_HULL_ALIGN };
	struct xf_err err = XF_ERR_INIT;

	ok(xf_layout_fit(p, 0, 4, 4, &l, &err) == -1 && err.code == XF_E_USAGE, "d = 0 refused: %s", err.msg);
	ok(xf_layout_fit(p, 3, 0, 4, &l, &err) == -1 && err.code == XF_E_USAGE, "height 0 refused: %s", err.msg);
	ok(xf_layout_fit(p, 3, 4, -2, &l, &err) == -1 && err.code == XF_E_USAGE, "width -2 refused");
	ok(xf_layout_fit(p, 3, 8193, 8193, &l, &err) == -1 && err.code == XF_E_LIMIT, "8193x8193 refused: %s", err.msg);
	ok(xf_layout_fit(p, 3, 8192, 8192, &l, &err) == 0, "8192x8192 (2^26 pixels) accepted");
	xf_layout_release(&l);
	ok(xf_layout_fit_opts(p, 3, 4, 4, &opts, &l, &err) == -1 && err.code == XF_E_USAGE, "unknown discretisation");
	p[3] = NAN;
	ok(xf_layout_fit(p, 3, 4, 4, &l, &err) == -1 && err.code == XF_E_FORMAT, "NaN coordinate: %s", err.msg);
	p[3] = -INFINITY;
	ok(xf_layout_fit(p, 3, 4, 4, &l, &err) == -1 && err.code == XF_E_FORMAT, "infinite coordinate refused");
	p[3] = 1e300;
	ok(xf_layout_fit(p, 3, 4, 4, &l, &err) == -1 && err.code == XF_E_LIMIT, "huge coordinate refused: %s", err.msg);
	ok(l.pixel == NULL, "failed fits leave nothing to free");
}

static void test_legacy_and_rebin(void)
{
	/* the unit square (not rotated) and two inner points; x -> 3 rows, y -> 4 columns */
	const double p[] = { 0, 0, 1, 0, 1, 1, 0, 1, 0.5, 0.2, 0.99, 0.6 };
	const int32_t legacy[] = { 0, 8, 11, 3, 4, 5 }, bin[] = { 0, 8, 11, 3, 4, 10 };
	struct xf_layout_opts opts = { XF_LAYOUT_BIN_LEGACY, XF_HULL_ALIGN };
	struct xf_layout l = { 0 };
	int32_t pixel[6];

	ok(xf_layout_fit_opts(p, 6, 3, 4, &opts, &l, NULL) == 0 && same_i32(l.pixel, legacy, 6),
	   "bin-legacy on 3x4: floor(u (P - 1)), x = 0.99 stays off the last row");
	ok(xf_layout_bin(l.rotated, 6, 3, 4, XF_LAYOUT_BIN, pixel, NULL) == 0 && same_i32(pixel, bin, 6),
	   "re-binning the rotated coordinates with 'bin'");
	xf_layout_release(&l);
	check_fit(p, 6, 3, 4, bin, "'bin' fit equals the re-binning");
}

/* ---- normalisation and transform ---- */

static void test_norm_minmax(void)
{
	const double train[] = { 0, 10, 5, 2, 20, 5 };
	const double x[] = { 1, 25, 5, -1, 15, 6, NAN, 10, 4 };
	const double want[] = { 0.5, 1, 0, 0, 0.5, 1, 0, 0, 0 };
	struct xf_layout_norm norm;
	double out[9];
	int good = 1;

	ok(xf_layout_norm_fit(train, 2, 3, XF_LAYOUT_NORM_MINMAX, &norm, NULL) == 0 && norm.lo[1] == 10 &&
	   norm.hi[1] == 20, "min-max fit: per-feature minimum and maximum");
	ok(xf_layout_norm_apply(&norm, x, 3, out, NULL) == 0, "min-max apply");
	for (int k = 0; k < 9; k++)
		good = good && out[k] == want[k];
	ok(good, "min-max: clipped to [0, 1], 0/0 and NaN -> 0, above a constant feature -> 1");
	xf_layout_norm_release(&norm);
}

static void test_norm_log(void)
{
	const double train[] = { -1, 0, 3, M_E - 1 };
	const double x[] = { 3, M_E - 1, -3, -0.5, 1e9, 0 };
	double out[6], want[6] = { 1, 1 / log(5), 0, 0, 1, 0 };
	struct xf_layout_norm norm;
	int good = 1;

	ok(xf_layout_norm_fit(train, 2, 2, XF_LAYOUT_NORM_LOG, &norm, NULL) == 0 && norm.lo[0] == -1 &&
	   norm.lo[1] == 0 && norm.hi == NULL, "log fit: per-feature minimum m_j");
	is_near(norm.scale, log(5), 1e-15, "log fit: M = max ln(x + |m| + 1) = ln 5");
	ok(xf_layout_norm_apply(&norm, x, 3, out, NULL) == 0, "log apply");
	for (int k = 0; k < 6; k++)
		good = good && fabs(out[k] - want[k]) < 1e-15;
	ok(good, "log: ln(x + |m| + 1) / M, a log of a negative -> 0, clipped to [0, 1]");
	xf_layout_norm_release(&norm);
}

static void test_norm_errors(void)
{
	const double x[] = { 1, NAN, 3, 4 };
	struct xf_layout_norm norm;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_layout_norm_fit(x, 2, 2, XF_LAYOUT_NORM_MINMAX, &norm, &err) == -1 && err.code == XF_E_FORMAT,
	   "NaN training value refused: %s", err.msg);
	ok(xf_layout_norm_fit(x, 0, 2, XF_LAYOUT_NORM_LOG, &norm, &err) == -1 && err.code == XF_E_USAGE,
	   "no training rows refused");
	ok(xf_layout_norm_fit(x, 0, 2, XF_LAYOUT_NORM_NONE, &norm, &err) == 0 && norm.lo == NULL,
	   "kind NONE needs no rows");
	ok(xf_layout_norm_fit(x, 1, 0, XF_LAYOUT_NORM_MINMAX, &norm, &err) == -1, "d = 0 refused");
	ok(xf_layout_norm_fit(x, 1, 2, (enum xf_layout_norm_kind)5, &norm, &err) == -1 && err.code == XF_E_USAGE,
	   "unknown kind refused");
}

static void test_transform_by_hand(void)
{
	/* 2x2 layout: features 0 and 4 on pixel 0, 1 on 2, 2 on 3, 3 on 1; a 3x3 layout leaves pixels empty */
	const double p[] = { 0, 0, 1, 0, 1, 1, 0, 1, 0.1, 0.1 };
	const double x[] = { 0.2, 0.4, 0.6, 0.8, 1.0, 1, 2, 3, 4, 5 };
	const float want[] = { 0.6f, 0.8f, 0.4f, 0.6f, 3, 4, 2, 3 };
	const float want3[] = { 0.6f, 0, 0.8f, 0, 0, 0, 0.4f, 0, 0.6f };
	const double train[] = { 0, 0, 0, 0, 0, 4, 4, 4, 4, 4 };
	const float want_mm[] = { 0.625f, 1, 0.5f, 0.75f };
	struct xf_layout l = { 0 };
	struct xf_layout_norm norm;
	float img[18];
	struct xf_err err = XF_ERR_INIT;

	if (fit(p, 5, 2, 2, &l) < 0)
		return;
	ok(xf_layout_transform(&l, x, 2, img, NULL) == 0 && near_f32(img, want, 8, 1e-7),
	   "transform: collisions averaged, (0.2 + 1.0) / 2 on pixel 0");
	ok(xf_layout_norm_fit(train, 2, 5, XF_LAYOUT_NORM_MINMAX, &norm, NULL) == 0 &&
	   xf_layout_set_norm(&l, &norm, NULL) == 0 && norm.lo == NULL, "layout takes over a min-max norm");
	ok(xf_layout_transform(&l, x + 5, 1, img, NULL) == 0 && near_f32(img, want_mm, 4, 1e-7),
	   "transform normalises first: (1, 2, 3, 4, 5) / 4 clipped, pixel 0 = (0.25 + 1) / 2");
	ok(xf_layout_transform(&l, x, 0, img, NULL) == 0, "zero samples: nothing to do");
	ok(xf_layout_transform(&l, x, -1, img, &err) == -1 && err.code == XF_E_USAGE, "negative count refused");
	xf_layout_release(&l);
	if (fit(p, 5, 3, 3, &l) < 0)
		return;
	ok(xf_layout_transform(&l, x, 1, img, NULL) == 0 && near_f32(img, want3, 9, 1e-7),
	   "transform on 3x3: pixels without features are 0");
	ok(xf_layout_norm_fit(train, 2, 4, XF_LAYOUT_NORM_MINMAX, &norm, NULL) == 0 &&
	   xf_layout_set_norm(&l, &norm, &err) == -1 && err.code == XF_E_USAGE, "norm of the wrong width refused");
	xf_layout_norm_release(&norm);
	xf_layout_release(&l);
}

/* ---- flat description ---- */

static void test_from_arrays(void)
{
	const double p[] = { 0, 0, 1, 0, 1, 1, 0, 1, 0.1, 0.1 }, x[] = { 0.2, 0.4, 0.6, 0.8, 1.0 };
	const double lo[] = { 0, 0 }, hi[] = { 1, -1 }, rot[] = { 1, 0, NAN, 1 };
	const int32_t rowcol[] = { 0, 0, 1, 1 };
	struct xf_layout l = { 0 }, back = { 0 };
	struct xf_layout_norm norm = { XF_LAYOUT_NORM_MINMAX, 2, (double *)lo, (double *)lo, 0 };
	int32_t rc[10];
	float a[4], b[4];
	struct xf_err err = XF_ERR_INIT;

	if (fit(p, 5, 2, 2, &l) < 0)
		return;
	xf_layout_rowcol(&l, rc);
	ok(xf_layout_from_arrays(5, 2, 2, rc, l.rot, l.rotated, &l.norm, &back, &err) == 0 &&
	   same_i32(back.pixel, l.pixel, 5), "from_arrays: the fitted layout's arrays give it back");
	ok(xf_layout_transform(&l, x, 1, a, NULL) == 0 && xf_layout_transform(&back, x, 1, b, NULL) == 0 &&
	   !memcmp(a, b, sizeof(a)), "from_arrays: same images");
	xf_layout_release(&back);
	rc[4] = 2;
	ok(xf_layout_from_arrays(5, 2, 2, rc, NULL, NULL, NULL, &back, &err) == -1 && err.code == XF_E_FORMAT,
	   "row out of range refused: %s", err.msg);
	rc[4] = 1, rc[9] = -1;
	ok(xf_layout_from_arrays(5, 2, 2, rc, NULL, NULL, NULL, &back, &err) == -1 && err.code == XF_E_FORMAT,
	   "negative column refused");
	ok(xf_layout_from_arrays(2, 0, 2, rowcol, NULL, NULL, NULL, &back, &err) == -1, "height 0 refused");
	ok(xf_layout_from_arrays(2, 1 << 14, 1 << 13, rowcol, NULL, NULL, NULL, &back, &err) == -1 &&
	   err.code == XF_E_LIMIT, "2^27 pixels refused");
	ok(xf_layout_from_arrays(0, 2, 2, rowcol, NULL, NULL, NULL, &back, &err) == -1, "d = 0 refused");
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, rot, NULL, NULL, &back, &err) == -1, "NaN rotation refused");
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, NULL, NULL, &norm, &back, &err) == 0 && back.rot[0] == 1 &&
	   back.rotated == NULL && back.norm.hi[1] == 0, "norm copied; no rotation given means identity");
	xf_layout_release(&back);
	norm.hi = (double *)hi;
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, NULL, NULL, &norm, &back, &err) == -1, "min above max refused: %s",
	   err.msg);
	norm.hi = NULL;
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, NULL, NULL, &norm, &back, &err) == -1, "missing max refused");
	norm.kind = XF_LAYOUT_NORM_LOG, norm.scale = -1;
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, NULL, NULL, &norm, &back, &err) == -1, "negative log scale refused");
	norm.scale = 2, norm.d = 3;
	ok(xf_layout_from_arrays(2, 2, 2, rowcol, NULL, NULL, &norm, &back, &err) == -1, "norm width mismatch refused");
	ok(back.pixel == NULL, "failed rebuilds leave nothing to free");
	xf_layout_release(&l);
}

/* ---- fixtures from the numpy reference ---- */

static void test_fixture_hull(const char *name, const double *coords, int64_t d)
{
	char file[64];
	int64_t idx[200], h = xf_hull_convex(coords, d, idx, NULL), *want, hits = 0, turns = 0, n_want = 0;
	struct xf_tensor t = XF_TENSOR_INIT;

	snprintf(file, sizeof(file), "hull-%s.npy", name);
	if (xf_npy_load_file(data_path(file), &t, NULL) < 0 || t.dtype != XF_DTYPE_I64)
		return (void)ok(0, "%s: hull fixture loads", file);
	want = t.data, n_want = t.shape[0];
	for (int64_t k = 0; k < h; k++) {
		const double *a = coords + 2 * idx[k], *b = coords + 2 * idx[(k + 1) % h], *c = coords + 2 * idx[(k + 2) % h];

		for (int64_t j = 0; j < n_want; j++)
			hits += want[j] == idx[k];
		turns += (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) > 0;
	}
	ok(h == n_want && hits == h, "%s: hull vertices are scipy's (%lld)", name, (long long)n_want);
	ok(turns == h, "%s: hull is counter-clockwise", name);
	xf_tensor_release(&t);
}

static void test_fixture_maps(const char *name, const double *coords, json_t *ref)
{
	static const struct { const char *variant; struct xf_layout_opts opts; } variants[] = {
		{ "align", { XF_LAYOUT_BIN, XF_HULL_ALIGN } },
		{ "legacy", { XF_LAYOUT_BIN_LEGACY, XF_HULL_ALIGN } },
		{ "pydeepinsight", { XF_LAYOUT_BIN, XF_HULL_PYDEEPINSIGHT } },
	};
	static const int grids[][2] = { { 16, 16 }, { 7, 11 } };

	for (int v = 0; v < 3; v++)
		for (int g = 0; g < 2; g++) {
			char file[96];
			int32_t *want;
			struct xf_layout l = { 0 };
			struct xf_err err = XF_ERR_INIT;

			snprintf(file, sizeof(file), "pixel-%s-%dx%d-%s.npy", name, grids[g][0], grids[g][1], variants[v].variant);
			want = load(file, XF_DTYPE_I32, 200);
			ok(want && xf_layout_fit_opts(coords, 200, grids[g][0], grids[g][1], &variants[v].opts, &l, &err) == 0 &&
			   same_i32(l.pixel, want, 200), "%s: pixel map equals the numpy reference exactly", file);
			if (g == 0 && v != 1) {
				json_t *r = json_object_get(json_object_get(ref, name), variants[v].variant);
				json_t *rot = json_object_get(r, "rot");

				for (int k = 0; k < 4; k++)
					is_near(l.rot[k], json_real_value(json_array_get(rot, (size_t)k)), 0, "  same rotation");
			}
			xf_layout_release(&l);
			free(want);
		}
}

static void test_fixture_images(const double *coords)
{
	static const char *kinds[] = { "minmax", "log" };
	double *train = load("train.npy", XF_DTYPE_F64, 12 * 200), *test = load("test.npy", XF_DTYPE_F64, 4 * 200);

	for (int k = 0; k < 2 && train && test; k++) {
		char file[64];
		float *want, got[4 * 77];
		struct xf_layout l = { 0 };
		struct xf_layout_norm norm;

		snprintf(file, sizeof(file), "images-%s.npy", kinds[k]);
		want = load(file, XF_DTYPE_F32, 4 * 77);
		ok(want && fit(coords, 200, 7, 11, &l) == 0 &&
		   xf_layout_norm_fit(train, 12, 200, (enum xf_layout_norm_kind)(k + 1), &norm, NULL) == 0 &&
		   xf_layout_set_norm(&l, &norm, NULL) == 0 && xf_layout_transform(&l, test, 4, got, NULL) == 0 &&
		   near_f32(got, want, 4 * 77, 1e-7), "%s: images equal the numpy reference", file);
		xf_layout_release(&l);
		free(want);
	}
	free(train), free(test);
}

static void test_fixtures(void)
{
	static const char *cases[] = { "gauss", "pca" };
	json_error_t jerr;
	json_t *ref = json_load_file(data_path("ref.json"), 0, &jerr);

	if (!ok(ref != NULL, "ref.json loads"))
		return;
	for (int c = 0; c < 2; c++) {
		char file[64];
		double *coords;

		snprintf(file, sizeof(file), "coords-%s.npy", cases[c]);
		if (!(coords = load(file, XF_DTYPE_F64, 400))) {
			ok(0, "%s loads", file);
			continue;
		}
		test_fixture_hull(cases[c], coords, 200);
		test_fixture_maps(cases[c], coords, ref);
		if (c == 1)
			test_fixture_images(coords);
		free(coords);
	}
	json_decref(ref);
}

int main(void)
{
	test_hull_square();
	test_hull_degenerate();
	test_edge_angle();
	test_rect_tilted();
	test_rect_degenerate();
	test_calipers_vs_brute_force();
	test_layout_square();
	test_layout_tilted_rectangle();
	test_layout_degenerate();
	test_layout_errors();
	test_legacy_and_rebin();
	test_norm_minmax();
	test_norm_log();
	test_norm_errors();
	test_transform_by_hand();
	test_from_arrays();
	test_fixtures();
	return done_testing();
}
