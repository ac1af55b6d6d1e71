/*
 * plot: scatter plots of 2-D points coloured by class, written as PNG (libpng) or SVG, for
 * `xfer-project --plot FILE`. Made to stay readable with 10^5 points: small anti-aliased,
 * alpha-blended dots (dense regions read as dense), a 20-colour categorical palette, a
 * fixed shuffled drawing order so that no class is always on top, equal aspect ratio, a
 * legend, an optional title and a one-line footer with the point count. Text is drawn
 * with the built-in font of font.h.
 *
 *	struct xf_plot_opts opts = XF_PLOT_OPTS_INIT;
 *	opts.title = "PCA of cifar10 features";
 *	int skipped = xf_plot_file("pca.png", xy, n, labels, 10, names, &opts, &err);
 *	if (skipped < 0) die_err(&err);
 */
#ifndef XF_PLOT_H
#define XF_PLOT_H

#include <stdint.h>

#include "err.h"

struct xf_plot_opts {
	int width, height;   /* image size in pixels (SVG: user units); 0 = 1600; else 64..8192 */
	const char *title;   /* drawn above the plot; NULL or "" for none; UTF-8 */
	double point_size;   /* dot diameter in pixels, 0..64; 0 = automatic, shrinking as n grows */
};

#define XF_PLOT_OPTS_INIT { 0, 0, NULL, 0.0 }

/* Number of colours in the categorical palette; class k gets colour k % XF_PLOT_COLOURS. */
#define XF_PLOT_COLOURS 20

/* The colour of class k (k >= 0) as 0xRRGGBB. */
uint32_t xf_plot_colour(int64_t k);

/*
 * Draw n points and write a PNG to path.
 *
 * xy holds n rows of (x, y), row-major; y grows upwards. labels holds n class indices in
 * 0..c-1, or is NULL to draw every point in the first colour with no legend (c and names
 * are then ignored). names holds c UTF-8 strings (a NULL entry, or names NULL, reads as the
 * class index). opts may be NULL for the defaults. n = 0 is allowed: an empty frame with
 * the legend.
 *
 * Points with a NaN or infinite coordinate are skipped and counted; the count is returned
 * and shown in the footer. The legend lists at most 40 entries (the first 39 classes and
 * "...and N more" when c > 40), wrapped into columns, with names shortened to fit.
 *
 * The file is written to a temporary PATH.tmp.<6 random characters> in the same directory and renamed
 * over path once complete, so a failed call leaves no partial file (a process killed in
 * the middle may leave the temporary).
 *
 * Returns the number of skipped points (>= 0, capped at INT_MAX), or -1 with err set:
 * XF_E_USAGE for bad arguments (a label outside 0..c-1, a size outside 64..8192, a
 * point_size outside 0..64 or NaN, n < 0, coordinates whose range overflows a double),
 * XF_E_IO when the file cannot be created, written or renamed, XF_E_NOMEM. Nothing is
 * written when the arguments are bad.
 */
int xf_plot_png(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err);

/*
 * The same plot as SVG 1.1, same contract as xf_plot_png. One <circle> per drawn point
 * (coordinates rounded to 0.1), grouped in <g> elements that set the colour once; the
 * drawing order is kept shuffled by emitting the points in rounds, each round holding one
 * group per class in a round-specific class order. Legend, title and footer are <text>.
 */
int xf_plot_svg(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err);

/* xf_plot_png or xf_plot_svg by the suffix of path (".png" or ".svg", any case); else XF_E_USAGE. */
int xf_plot_file(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		 const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err);

#endif
