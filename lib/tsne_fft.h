/*
 * tsne_fft: t-SNE's repulsion by FFT-accelerated interpolation (FIt-SNE, Linderman et al.
 * 2019; docs: tsne.md section 5), for 1-D and 2-D embeddings. O(N p^2) to spread and gather
 * plus FFTs whose size depends on the extent of the embedding, not on N.
 */
#ifndef XF_TSNE_FFT_H
#define XF_TSNE_FFT_H

#include <stdint.h>

#include "err.h"

/* Workspace reused across iterations: grids, cached FFTW plans, point buffers. Opaque. */
struct xf_tsne_fft;

struct xf_tsne_fft_params {
	int nodes_per_box;   /* p: interpolation nodes per box and dimension; error falls about as h^p */
	int min_boxes;       /* boxes per dimension at least this many, however small the extent */
	double box_width;    /* target box width in embedding units: extent / box_width boxes */
	int max_boxes;       /* cap on boxes per dimension, which bounds the FFT size and memory */
};

#define XF_TSNE_FFT_PARAMS_DEFAULT { 3, 50, 1.0, 1000 }

/*
 * A workspace for dim (1 or 2) dimensional embeddings and the kernel w = (1 + d^2/dof)^-dof,
 * dof > 0. params NULL means the defaults. threads: workers per call, 0 for all cores; the
 * results do not depend on it. threads - 1 helper threads are started here and live, idle
 * between calls, until xf_tsne_fft_free (if some cannot be started, the caller does more).
 * Returns NULL with err (XF_E_USAGE for bad arguments: 1 <= nodes_per_box <=
 * XF_TSNE_FFT_MAX_NODES, 1 <= min_boxes <= max_boxes <= XF_TSNE_FFT_MAX_BOXES, box_width > 0;
 * XF_E_NOMEM).
 */
struct xf_tsne_fft *xf_tsne_fft_new(int dim, double dof, const struct xf_tsne_fft_params *params, int threads,
				    struct xf_err *err);

/*
 * The repulsion of y (n x dim, row-major): with w_ij = (1 + |y_i - y_j|^2/dof)^-dof over all
 * pairs i != j, *z = sum w_ij and frep[i] (n x dim) = sum_j w_ij^((dof+1)/dof) (y_i - y_j),
 * NOT divided by z: the caller divides. Both are approximations, with relative errors of
 * about 1e-4 (z) and 1e-2 (forces, norm over all points) at the default p = 3. z comes from
 * the unit charge's spectrum and K_dof's (Parseval).
 *
 * The grid is square over [min, max] of all coordinates, with coordinates taken relative to
 * its centre, so moving every coordinate by the same amount changes the results only by
 * rounding. n <= 1 gives z = 0 and zero forces. Results are bit-identical for any thread
 * count. Plans are made in the calling thread, because FFTW's planner is not thread-safe: do
 * not plan FFTW transforms in other threads during a call, and use one workspace from one
 * thread at a time.
 *
 * Z subtracts the n interpolated self terms K(0) = 1, so its absolute error grows with n
 * times the interpolation error; that is small next to Z for a t-SNE embedding, not for a
 * handful of far-apart points (11% for 400 points some 5 apart).
 *
 * n_b is extent / box_width, at least min_boxes, rounded up to a size whose FFTs FFTW does
 * fast (tsne_fft.c, fast_size). Cost: spreading and gathering O(n p^2); FFTs of length 2 p n_b,
 * in 2-D p n_b of them along rows each way and p n_b + 1 along columns each way, per term
 * (dim + 1 terms) plus two kernels. Memory, kept between calls: in 2-D about 4 (p n_b)^2
 * doubles per term and 4 (p n_b)^2 for the kernels (about 10 MB at n_b = 100, p = 3;
 * 1 GB at n_b = 1000), plus about 110 bytes a point.
 *
 * Returns 0, or -1 with err: XF_E_FORMAT for a coordinate that is not finite or a span that
 * overflows, XF_E_USAGE for n < 0, XF_E_NOMEM, XF_E_LIMIT if FFTW cannot plan the transform.
 */
int xf_tsne_fft_repulsion(struct xf_tsne_fft *ws, const double *y, int64_t n, double *frep, double *z,
			  struct xf_err *err);

void xf_tsne_fft_free(struct xf_tsne_fft *ws);

#define XF_TSNE_FFT_MAX_NODES 16      /* p beyond this only costs time: the error is at rounding level */
#define XF_TSNE_FFT_MAX_BOXES 16384   /* keeps box ids and FFT sizes in int */

#endif
