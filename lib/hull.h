/*
 * hull: plane geometry for the DeepInsight feature layout (lib/layout.h; deepinsight.md section
 * 4.1 steps 2 to 4): the convex hull of a point set (Andrew's monotone chain) and the
 * minimum-area enclosing rectangle of a convex polygon, found with rotating calipers over the
 * hull's edge angles, plus the rotation that makes that rectangle axis-aligned.
 *
 *	int64_t h = xf_hull_convex(pts, n, idx, &err);        (idx: n entries)
 *	for (k = 0; k < h; k++) hull[2k], hull[2k+1] = pts[2 idx[k]], pts[2 idx[k] + 1];
 *	xf_hull_min_rect(hull, h, XF_HULL_ALIGN, &rect, &err);
 *	xf_hull_rotate(&rect, pts, n, rotated);
 *
 * Points are n x 2 row-major doubles (x, y). Coordinates must be finite and at most
 * XF_HULL_MAX_COORD in magnitude, so that no difference or cross product can overflow.
 */
#ifndef XF_HULL_H
#define XF_HULL_H

#include <stdint.h>

#include "err.h"

#define XF_HULL_MAX_COORD 1e100 /* largest |coordinate| accepted */

/*
 * Convex hull of the n points pts: the indices of its vertices go to idx (room for n entries)
 * in counter-clockwise order, starting from the point with the lowest x (lowest y among
 * those). Only corners are kept: points inside or on an edge are not vertices, and of several
 * coincident points the lowest index stands for them all. Returns the vertex count h: 0 for
 * n = 0, 1 when all points coincide, 2 when they are collinear (the two ends of the segment),
 * otherwise 3 or more; -1 with err on failure: n < 0 (XF_E_USAGE), a NaN or infinite
 * coordinate (XF_E_FORMAT, naming the point), one beyond XF_HULL_MAX_COORD (XF_E_LIMIT), no
 * memory. Orientation tests are plain double arithmetic (no exact predicates): points within
 * rounding of an edge may or may not count as corners, as with scipy's qhull.
 */
int64_t xf_hull_convex(const double *pts, int64_t n, int64_t *idx, struct xf_err *err);

/*
 * Which rotation a candidate edge angle theta stands for (deepinsight.md 4.1 step 3):
 *  XF_HULL_ALIGN          rotate by -theta, which lays the edge along an axis: the true
 *                         minimum-area rectangle (what rotating calipers and MATLAB's
 *                         minboundrect find);
 *  XF_HULL_PYDEEPINSIGHT  rotate by +theta with R = [[cos, -sin], [sin, cos]], as pyDeepInsight
 *                         (and the doc's transcription of it) does. That turns an edge at theta
 *                         to 2 theta, so the box is generally not minimal, nor aligned with an
 *                         edge; offered to reproduce pyDeepInsight layouts.
 */
enum xf_hull_turn {
	XF_HULL_ALIGN = 0,
	XF_HULL_PYDEEPINSIGHT = 1,
};

/* The chosen rectangle, described in the rotated frame where it is an axis-aligned box. */
struct xf_hull_rect {
	double angle;       /* theta in [0, pi/2): the hull edge angle, modulo pi/2, it was chosen for */
	double rot[4];      /* R row-major: a point p becomes R p, i.e. x' = rot[0] x + rot[1] y, y' = rot[2] x + rot[3] y */
	double lo[2], hi[2]; /* the box: rotated hull extents along x' and y' */
	double area;        /* (hi[0] - lo[0]) * (hi[1] - lo[1]) */
};

/*
 * An edge's direction angle reduced as deepinsight.md 4.1 step 3 says: |atan2(dy, dx) mod pi/2|
 * with numpy's floored modulo, so the result is in [0, pi/2). Rounding can make the modulo
 * of a tiny negative angle come out as pi/2 itself; that case is folded to 0 (the same box,
 * axes unswapped), keeping the documented range.
 */
double xf_hull_edge_angle(double dx, double dy);

/*
 * Minimum-area enclosing rectangle of the convex polygon hull (h x 2, vertices in
 * counter-clockwise order without repeats, as xf_hull_convex gives them). Candidates are the
 * edge angles of all h edges, the closing edge (last to first) included, reduced by
 * xf_hull_edge_angle and de-duplicated (exact equality), in ascending order; for each, the
 * rotated polygon's box area is computed, and the first minimum wins (smallest angle on
 * ties). Rotating calipers keep the four extreme vertices as the angle grows, so the cost is
 * O(h log h) for sorting the angles plus O(h) for the sweep. h = 1 (a point) gives angle 0,
 * the identity and area 0; h = 2 (a segment) works like any polygon and gives area 0 up to
 * rounding. Errors: h < 1 (XF_E_USAGE), unknown turn (XF_E_USAGE), NaN/infinite/huge
 * coordinates (XF_E_FORMAT / XF_E_LIMIT), no memory.
 */
int xf_hull_min_rect(const double *hull, int64_t h, enum xf_hull_turn turn, struct xf_hull_rect *out,
		     struct xf_err *err);

/* out = R p for each of the n points (n x 2); out may be pts. */
void xf_hull_rotate(const struct xf_hull_rect *rect, const double *pts, int64_t n, double *out);

#endif
