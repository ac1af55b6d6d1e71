/*
 * layout: the DeepInsight feature-to-image layout behind `xfer-project --image HxW`
 * (deepinsight.md section 4, after pyDeepInsight's ImageTransformer): each of d features gets
 * a pixel of an H x W grid from its 2-D coordinates, and a sample becomes an image whose
 * pixels are the means of the (normalised) values of the features placed there.
 *
 *	struct xf_layout_norm norm;                 training matrix x: n x d
 *	xf_layout_norm_fit(x, n, d, XF_LAYOUT_NORM_MINMAX, &norm, &err);
 *	xf_layout_norm_apply(&norm, x, n, xn, &err);        xn: n x d, values in [0, 1]
 *	... coords (d x 2) = t-SNE or PCA of the d rows of xn transposed (the caller's job) ...
 *	xf_layout_fit(coords, d, 50, 50, &layout, &err);
 *	xf_layout_set_norm(&layout, &norm, &err);         layout takes norm's arrays
 *	xf_layout_transform(&layout, x_new, n_new, images, &err);   images: n_new x 50 x 50 float
 *	xf_layout_release(&layout);
 *
 * Fit (xf_layout_fit_opts), as deepinsight.md 4.1 steps 2 to 5 pin it:
 *  2. convex hull of the d points (lib/hull.h);
 *  3. minimum-area rectangle over the candidate angles: every hull edge, the closing edge
 *     included (the doc's choice; pyDeepInsight omits it), |atan2 mod pi/2|, de-duplicated and
 *     ascending; the first minimum area wins (rotating calipers, exact same choice as a full
 *     search);
 *  4. all d points rotated by the chosen R and kept in `rotated`, for re-binning;
 *  5. rotated axis 0 gives the row (H), axis 1 the column (W), each binned independently:
 *     u = (z - min z) / (max z - min z) * P, pixel = floor(u), P itself moved to P - 1
 *     (XF_LAYOUT_BIN, the doc's default 'bin'); or floor((z - min)/(max - min) * (P - 1))
 *     (XF_LAYOUT_BIN_LEGACY, pyDeepInsight up to 2022).
 *
 * Choices where the doc is ambiguous or silent:
 *  - Rotation sign. The doc copies pyDeepInsight's R = [[cos, -sin], [sin, cos]] applied with
 *    the edge angle theta, which rotates by +theta and so does NOT make the edge axis-aligned:
 *    the box found is generally not the minimum (a 4 x 1 rectangle tilted by 30 degrees gets a
 *    box of area 11.36, not 4). The default, XF_HULL_ALIGN, rotates by -theta, giving the true
 *    minimum-area rectangle of the doc's heading (and of MATLAB's minboundrect);
 *    opts.turn = XF_HULL_PYDEEPINSIGHT reproduces pyDeepInsight's rotation.
 *  - Orientation: the chosen edge ends up along axis 0 (rows). No attempt is made to put the
 *    rectangle's long side along the larger image side; neither pyDeepInsight nor the doc does.
 *  - An angle whose modulo rounds to pi/2 is taken as 0 (xf_hull_edge_angle).
 *  - Degenerate layouts. An axis whose rotated extent is at most XF_LAYOUT_FLAT_REL times the
 *    largest |rotated coordinate| (0/0 in pyDeepInsight, which then crashes or yields garbage)
 *    is "flat": all features go to its middle pixel, floor(P / 2). So d = 1, or all features
 *    at one point, gives the single middle pixel (H/2, W/2); collinear features (hull = a
 *    segment, which XF_HULL_ALIGN turns onto axis 0, or onto axis 1 when the segment's angle
 *    mod pi is >= pi/2) lie on the middle column (or row), spread over the rows (or columns).
 *  - bin-legacy puts only the exact maximum in the last row/column. The two ends of the edge
 *    the rectangle is aligned with tie for an extreme up to rounding, so which of them gets the
 *    last row (or column) is decided by the last bit of R; 'bin' has no such edge case.
 *  - d = 0 is refused (nothing to lay out), as are NaN or infinite coordinates, coordinates
 *    beyond XF_HULL_MAX_COORD, H or W < 1 and H * W > XF_LAYOUT_MAX_PIXELS.
 *
 * Values (deepinsight.md 4.2, 4.3): the transform normalises each value with the training
 * parameters, then each pixel is the mean of its features' values (in double, features added
 * in index order, stored as float), and pixels without features are 0.
 *  - XF_LAYOUT_NORM_NONE: values pass through unchanged (pyDeepInsight expects [0, 1] input;
 *    NaN propagates to its pixel).
 *  - XF_LAYOUT_NORM_MINMAX (Norm-1): (x - min_j) / (max_j - min_j) in IEEE arithmetic, NaN
 *    made 0, clipped to [0, 1], as MATLAB's case 1. A feature constant in training thus maps
 *    to 0, except later values above (below) the constant, which give +inf (-inf), clipped to
 *    1 (0). A NaN value maps to 0.
 *  - XF_LAYOUT_NORM_LOG (Norm-2, pyDeepInsight's Norm2Scaler.transform): ln(x + |m_j| + 1)
 *    clipped to >= 0, divided by the global training maximum M, clipped to [0, 1]; NaN (a
 *    log of a negative number, a NaN value, 0/0 when M = 0) is made 0. MATLAB's variant (raise
 *    x to m_j first) is not offered.
 *  Training values must be finite; the same function serves fit time (where the clips are
 *  no-ops) and test time.
 *
 * Storage: the struct fields are the flat description a program writes as tensors: `pixel`
 * (or xf_layout_rowcol's d x 2 (row, column) int32, the doc's artifact form), height, width,
 * `rot` (2 x 2), `rotated` (d x 2) and the norm's kind, lo, hi and scale. xf_layout_from_arrays
 * rebuilds and validates a layout from them.
 * Ownership: a layout owns its arrays (xf_layout_release frees them); functions taking arrays
 * copy them.
 */
#ifndef XF_LAYOUT_H
#define XF_LAYOUT_H

#include <stdint.h>

#include "err.h"
#include "hull.h"

#define XF_LAYOUT_MAX_PIXELS ((int64_t)1 << 26) /* largest H * W accepted */
#define XF_LAYOUT_FLAT_REL 1e-12                /* an axis this thin (relative) is a point */

enum xf_layout_norm_kind {
	XF_LAYOUT_NORM_NONE = 0,   /* values used as given */
	XF_LAYOUT_NORM_MINMAX = 1, /* Norm-1: per-feature training min/max */
	XF_LAYOUT_NORM_LOG = 2,    /* Norm-2: log shift by per-feature training min, global max */
};

/* Value normalisation parameters (deepinsight.md 4.3). */
struct xf_layout_norm {
	enum xf_layout_norm_kind kind; /* which normalisation; NONE leaves values as they are */
	int64_t d;     /* features */
	double *lo;    /* d values: MINMAX training minimum, LOG m_j (training minimum); NULL for NONE */
	double *hi;    /* d values: MINMAX training maximum; NULL otherwise */
	double scale;  /* LOG: M, the largest ln(x + |m_j| + 1) over the training matrix; else 0 */
};

enum xf_layout_discretize {
	XF_LAYOUT_BIN = 0,        /* floor(u * P), P -> P - 1: pyDeepInsight 'bin' (default) */
	XF_LAYOUT_BIN_LEGACY = 1, /* floor(u * (P - 1)): pyDeepInsight up to 2022 */
};

struct xf_layout_opts {
	enum xf_layout_discretize discretize; /* binning rule (deepinsight.md 4.1 step 5) */
	enum xf_hull_turn turn;   /* XF_HULL_ALIGN (minimum-area rectangle) or XF_HULL_PYDEEPINSIGHT */
};

#define XF_LAYOUT_OPTS_INIT { XF_LAYOUT_BIN, XF_HULL_ALIGN }

/* A fitted layout: which pixel each of the d features lands on. */
struct xf_layout {
	int64_t d;                  /* features */
	int height, width;          /* grid: H rows, W columns */
	int32_t *pixel;             /* d values: row * width + col */
	double rot[4];              /* R, row-major, that turned the coordinates: rotated = R p */
	double *rotated;            /* d x 2 rotated coordinates (row axis, column axis); NULL if unknown */
	struct xf_layout_norm norm; /* applied by xf_layout_transform; kind NONE until set */
};

/*
 * Fit the normalisation `kind` on the n x d training matrix x (n >= 1 unless kind is NONE).
 * out is overwritten (not released first). Errors: d < 1, n < 0, unknown kind (XF_E_USAGE);
 * n = 0 for MINMAX/LOG (XF_E_USAGE); a NaN or infinite value (XF_E_FORMAT, naming row and
 * feature); LOG values so large that M overflows (XF_E_LIMIT); n x d overflowing, no memory.
 */
int xf_layout_norm_fit(const double *x, int64_t n, int64_t d, enum xf_layout_norm_kind kind,
		       struct xf_layout_norm *out, struct xf_err *err);

/* Normalise the n x d matrix x (d = norm->d) into out as the header describes; out may be x. */
int xf_layout_norm_apply(const struct xf_layout_norm *norm, const double *x, int64_t n, double *out,
			 struct xf_err *err);

/* Free the arrays and reset to kind NONE with d = 0; safe on a released or zeroed struct. */
void xf_layout_norm_release(struct xf_layout_norm *norm);

/*
 * Fit from the 2-D coordinates of the d features (d x 2) onto a height x width grid, with
 * XF_LAYOUT_OPTS_INIT. out is overwritten; on success it owns pixel and rotated, and its norm
 * is kind NONE (see xf_layout_set_norm). Errors as the header lists; nothing to free on failure.
 */
int xf_layout_fit(const double *coords, int64_t d, int height, int width, struct xf_layout *out,
		  struct xf_err *err);
/* The same with options (opts NULL: the defaults); unknown option values are XF_E_USAGE. */
int xf_layout_fit_opts(const double *coords, int64_t d, int height, int width, const struct xf_layout_opts *opts,
		       struct xf_layout *out, struct xf_err *err);

/*
 * Discretisation alone (deepinsight.md 4.1 step 5): bin d rotated coordinates (d x 2) onto a
 * height x width grid into pixel (d entries), flat axes to their middle; for re-binning a
 * layout at a new size from its `rotated` array. Errors: as for fitting, plus XF_E_LIMIT for
 * coordinates spanning more than a double can hold.
 */
int xf_layout_bin(const double *rotated, int64_t d, int height, int width, enum xf_layout_discretize how,
		  int32_t *pixel, struct xf_err *err);

/*
 * Give the layout the normalisation norm (norm->d must equal l->d: XF_E_USAGE otherwise). The
 * layout takes over norm's arrays and releases its previous ones; norm is left released.
 */
int xf_layout_set_norm(struct xf_layout *l, struct xf_layout_norm *norm, struct xf_err *err);

/*
 * Turn the n x d matrix x (d = l->d) into n images, n x height x width float, row-major:
 * each value normalised by l->norm, each pixel the mean of its features, empty pixels 0.
 * n = 0 writes nothing. Errors: n < 0 (XF_E_USAGE), sizes overflowing (XF_E_LIMIT), no memory.
 */
int xf_layout_transform(const struct xf_layout *l, const double *x, int64_t n, float *images, struct xf_err *err);

/* The features per pixel (feature_density_matrix), height x width, into counts. */
void xf_layout_density(const struct xf_layout *l, int32_t *counts);

/* Each feature's (row, column), d x 2, into rowcol: the artifact form of deepinsight.md 4.5. */
void xf_layout_rowcol(const struct xf_layout *l, int32_t *rowcol);

/*
 * Rebuild a layout from its flat description (copies everything): rowcol d x 2 (row, column),
 * rot 2 x 2 (NULL: identity), rotated d x 2 (NULL: unknown), norm (NULL: kind NONE; otherwise
 * borrowed and copied, and norm->d must be d). Checks, all XF_E_FORMAT unless noted: d >= 1,
 * height and width >= 1 and H * W <= XF_LAYOUT_MAX_PIXELS (XF_E_LIMIT); every row in
 * [0, height) and column in [0, width) (naming the feature); rot and rotated finite; a known
 * norm kind whose arrays are present (lo for MINMAX and LOG, hi for MINMAX), finite, with
 * lo <= hi (MINMAX) and a finite scale >= 0 (LOG). out is untouched on failure.
 */
int xf_layout_from_arrays(int64_t d, int height, int width, const int32_t *rowcol, const double *rot,
			  const double *rotated, const struct xf_layout_norm *norm, struct xf_layout *out,
			  struct xf_err *err);

/* Free the arrays (and the norm's) and zero the struct; safe on a released or zeroed struct. */
void xf_layout_release(struct xf_layout *l);

#endif
