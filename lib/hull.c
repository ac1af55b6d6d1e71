/*
 * hull: convex hull by Andrew's monotone chain and the minimum-area enclosing rectangle by
 * rotating calipers; see hull.h for the contracts and deepinsight.md section 4.1 for where
 * the candidate angles and the tie rule come from.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "hull.h"

struct point {
	double x, y;
	int64_t i; /* index in the caller's array */
};

static int check_points(const double *pts, int64_t n, struct xf_err *err)
{
	for (int64_t k = 0; k < 2 * n; k++) {
		if (!isfinite(pts[k]))
			return xf_err_set(err, XF_E_FORMAT, "point %lld has a %s coordinate", (long long)(k / 2),
					  isnan(pts[k]) ? "NaN" : "infinite");
		if (fabs(pts[k]) > XF_HULL_MAX_COORD)
			return xf_err_set(err, XF_E_LIMIT, "point %lld: coordinate %g exceeds %g in magnitude",
					  (long long)(k / 2), pts[k], XF_HULL_MAX_COORD);
	}
	return 0;
}

/* x, then y, then index: a total order, so coincident points sort lowest index first. */
static int point_cmp(const void *pa, const void *pb)
{
	const struct point *a = pa, *b = pb;

	if (a->x != b->x)
		return a->x < b->x ? -1 : 1;
	if (a->y != b->y)
		return a->y < b->y ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* Twice the signed area of o, a, b: positive when o -> a -> b turns counter-clockwise. */
static double cross(const struct point *o, const struct point *a, const struct point *b)
{
	return (a->x - o->x) * (b->y - o->y) - (a->y - o->y) * (b->x - o->x);
}

/* Sorted copy of the points with coincident ones dropped (the lowest index kept); returns the count. */
static int64_t sorted_unique(const double *pts, int64_t n, struct point *p)
{
	int64_t m = 0;

	for (int64_t k = 0; k < n; k++)
		p[k] = (struct point){ pts[2 * k], pts[2 * k + 1], k };
	qsort(p, (size_t)n, sizeof(*p), point_cmp);
	for (int64_t k = 0; k < n; k++)
		if (m == 0 || p[k].x != p[m - 1].x || p[k].y != p[m - 1].y)
			p[m++] = p[k];
	return m;
}

/*
 * Andrew's monotone chain over m >= 2 sorted distinct points: the lower chain left to right,
 * then the upper chain back; "<= 0" pops collinear middle points, so only corners remain.
 * chain needs room for 2 m entries; returns the vertex count (the start is not repeated).
 */
static int64_t monotone_chain(const struct point *p, int64_t m, const struct point **chain)
{
	int64_t k = 0, lower;

	for (int64_t i = 0; i < m; i++) {
		while (k >= 2 && cross(chain[k - 2], chain[k - 1], &p[i]) <= 0)
			k--;
		chain[k++] = &p[i];
	}
	lower = k + 1;
	for (int64_t i = m - 2; i >= 0; i--) {
		while (k >= lower && cross(chain[k - 2], chain[k - 1], &p[i]) <= 0)
			k--;
		chain[k++] = &p[i];
	}
	return k - 1;
}

int64_t xf_hull_convex(const double *pts, int64_t n, int64_t *idx, struct xf_err *err)
{
	const struct point **chain;
	struct point *p;
	int64_t m, h;

	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "convex hull of %lld points", (long long)n);
	if (n == 0)
		return 0;
	if (check_points(pts, n, err) < 0)
		return -1;
	if ((uint64_t)n > SIZE_MAX / (sizeof(*p) + 2 * sizeof(*chain)))
		return xf_err_set(err, XF_E_LIMIT, "convex hull of %lld points: too many", (long long)n);
	p = malloc((size_t)n * sizeof(*p));
	chain = malloc((size_t)n * 2 * sizeof(*chain));
	if (!p || !chain) {
		free(p), free(chain);
		return xf_err_nomem(err, (size_t)n * (sizeof(*p) + 2 * sizeof(*chain)));
	}
	m = sorted_unique(pts, n, p);
	if (m == 1)
		idx[0] = p[0].i, h = 1;
	else
		h = monotone_chain(p, m, chain);
	for (int64_t k = 0; m > 1 && k < h; k++)
		idx[k] = chain[k]->i;
	free(p), free(chain);
	return h;
}

double xf_hull_edge_angle(double dx, double dy)
{
	const double quarter = M_PI / 2;
	double a = fmod(atan2(dy, dx), quarter);

	/* numpy's np.mod: a floored modulo, with an exact zero made +0 */
	if (a < 0)
		a += quarter;
	else if (a == 0)
		a = 0;
	return a >= quarter ? 0 : fabs(a);
}

/* The rotation a candidate angle stands for (see enum xf_hull_turn), written as the R of hull.h. */
static void rotation(double theta, enum xf_hull_turn turn, double rot[4])
{
	double c = cos(theta), s = sin(theta);

	if (turn == XF_HULL_ALIGN)
		rot[0] = c, rot[1] = s, rot[2] = -s, rot[3] = c;
	else
		rot[0] = c, rot[1] = -s, rot[2] = s, rot[3] = c;
}

/*
 * Side k of the rotated point, as a quantity to maximise: 0 = x', 1 = y', 2 = -x', 3 = -y'.
 * Negation is exact, so the box's max - min is (side 0) + (side 2) with no extra rounding.
 */
static double side(const double rot[4], const double *p, int k)
{
	double v = k % 2 == 0 ? rot[0] * p[0] + rot[1] * p[1] : rot[2] * p[0] + rot[3] * p[1];

	return k < 2 ? v : -v;
}

static int angle_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* The distinct edge angles of the polygon, closing edge included, ascending; returns how many. */
static int64_t edge_angles(const double *hull, int64_t h, double *angles)
{
	int64_t m = 0;

	for (int64_t k = 0; k < h; k++) {
		const double *a = hull + 2 * k, *b = hull + 2 * ((k + 1) % h);

		angles[k] = xf_hull_edge_angle(b[0] - a[0], b[1] - a[1]);
	}
	qsort(angles, (size_t)h, sizeof(*angles), angle_cmp);
	for (int64_t k = 0; k < h; k++)
		if (m == 0 || angles[k] != angles[m - 1])
			angles[m++] = angles[k];
	return m;
}

/*
 * Four calipers, one per side of the box, each resting on the vertex that is extreme for its
 * side. As the angle grows every side's outward direction turns the same way (counter-
 * clockwise for XF_HULL_ALIGN, clockwise for XF_HULL_PYDEEPINSIGHT), so each caliper only ever
 * steps forward along the polygon, a quarter turn in all.
 */
struct calipers {
	const double *hull;
	int64_t h;
	int64_t step;   /* +1 or h - 1: the direction the calipers move along the vertex list */
	int64_t at[4];  /* vertex each caliper rests on */
};

/* Put every caliper on its extreme vertex for rot by scanning the whole polygon. */
static void calipers_start(struct calipers *c, const double rot[4])
{
	for (int k = 0; k < 4; k++) {
		c->at[k] = 0;
		for (int64_t v = 1; v < c->h; v++)
			if (side(rot, c->hull + 2 * v, k) > side(rot, c->hull + 2 * c->at[k], k))
				c->at[k] = v;
	}
}

/*
 * Move caliper k forward while the next vertex is at least as far out, then report the
 * farthest of its vertex and both neighbours: the two ends of an edge parallel to the side
 * differ only by rounding, and the box must take the larger, as a full scan would.
 */
static double calipers_side(struct calipers *c, const double rot[4], int k)
{
	int64_t h = c->h, next = (c->at[k] + c->step) % h, prev;
	double best;

	for (int64_t moved = 0; moved < h; moved++, next = (next + c->step) % h) {
		if (side(rot, c->hull + 2 * next, k) < side(rot, c->hull + 2 * c->at[k], k))
			break;
		c->at[k] = next;
	}
	prev = (c->at[k] + h - c->step) % h;
	next = (c->at[k] + c->step) % h;
	best = side(rot, c->hull + 2 * c->at[k], k);
	best = fmax(best, side(rot, c->hull + 2 * prev, k));
	return fmax(best, side(rot, c->hull + 2 * next, k));
}

/* Index of the first smallest box area over the m ascending candidate angles. */
static int64_t sweep(const double *hull, int64_t h, enum xf_hull_turn turn, const double *angles, int64_t m)
{
	struct calipers c = { hull, h, turn == XF_HULL_ALIGN ? 1 : h - 1, { 0 } };
	double best_area = INFINITY, rot[4], s[4];
	int64_t best = 0;

	for (int64_t a = 0; a < m; a++) {
		double area;

		rotation(angles[a], turn, rot);
		if (a == 0)
			calipers_start(&c, rot);
		for (int k = 0; k < 4; k++)
			s[k] = calipers_side(&c, rot, k);
		area = (s[0] + s[2]) * (s[1] + s[3]);
		if (area < best_area)
			best_area = area, best = a;
	}
	return best;
}

/* Fill out for angle theta from a full scan of the polygon, so the box is exact. */
static void describe(const double *hull, int64_t h, double theta, enum xf_hull_turn turn, struct xf_hull_rect *out)
{
	out->angle = theta;
	rotation(theta, turn, out->rot);
	for (int k = 0; k < 2; k++) {
		out->hi[k] = side(out->rot, hull, k);
		out->lo[k] = -side(out->rot, hull, k + 2);
		for (int64_t v = 1; v < h; v++) {
			out->hi[k] = fmax(out->hi[k], side(out->rot, hull + 2 * v, k));
			out->lo[k] = fmin(out->lo[k], -side(out->rot, hull + 2 * v, k + 2));
		}
	}
	out->area = (out->hi[0] - out->lo[0]) * (out->hi[1] - out->lo[1]);
}

int xf_hull_min_rect(const double *hull, int64_t h, enum xf_hull_turn turn, struct xf_hull_rect *out,
		     struct xf_err *err)
{
	double *angles;
	int64_t m;

	if (h < 1)
		return xf_err_set(err, XF_E_USAGE, "enclosing rectangle of a polygon with %lld vertices", (long long)h);
	if (turn != XF_HULL_ALIGN && turn != XF_HULL_PYDEEPINSIGHT)
		return xf_err_set(err, XF_E_USAGE, "unknown rectangle rotation %d", (int)turn);
	if (check_points(hull, h, err) < 0)
		return -1;
	if (h == 1) {
		describe(hull, h, 0, turn, out);
		return 0;
	}
	if ((uint64_t)h > SIZE_MAX / sizeof(*angles))
		return xf_err_set(err, XF_E_LIMIT, "polygon of %lld vertices: too many", (long long)h);
	angles = malloc((size_t)h * sizeof(*angles));
	if (!angles)
		return xf_err_nomem(err, (size_t)h * sizeof(*angles));
	m = edge_angles(hull, h, angles);
	describe(hull, h, angles[sweep(hull, h, turn, angles, m)], turn, out);
	free(angles);
	return 0;
}

void xf_hull_rotate(const struct xf_hull_rect *rect, const double *pts, int64_t n, double *out)
{
	const double *r = rect->rot;

	for (int64_t k = 0; k < n; k++) {
		double x = pts[2 * k], y = pts[2 * k + 1];

		out[2 * k] = r[0] * x + r[1] * y;
		out[2 * k + 1] = r[2] * x + r[3] * y;
	}
}
