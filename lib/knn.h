/*
 * knn: exact k-nearest-neighbour search in the Euclidean metric, through BLAS. Used by the
 * knn task-similarity metric (score_probe.c) and meant for t-SNE's input similarities.
 */
#ifndef XF_KNN_H
#define XF_KNN_H

#include <stdint.h>

#include "err.h"

/*
 * The k nearest neighbours of each row of x (n x d, row-major doubles) among the other rows:
 * idx[i*k + j] ascending by squared Euclidean distance dist2[i*k + j] (ties: lower index
 * first); a row is never its own neighbour (duplicates of it are).
 *
 * Blocked: the distances of a block of XF_KNN_BLOCK rows to a tile of XF_KNN_TILE columns
 * come from one GEMM (||a||^2 + ||b||^2 - 2 a.b, clipped at 0) and go straight into a
 * bounded heap per row, so memory is O(threads * block * tile) beyond x and the output.
 * `threads` workers share the blocks (0 = all cores), each running single-threaded BLAS:
 * OpenBLAS's own thread count is set to 1 for the duration of the call and restored after,
 * so do not call BLAS concurrently from other threads meanwhile. The blocking does not
 * depend on the thread count, so neither do the results.
 *
 * The formula loses precision to cancellation when the rows share a large offset
 * (||a||^2 >> ||a - b||^2): centre x first if that can happen.
 *
 * Requires 1 <= k < n and finite x whose squared row norms do not overflow; otherwise -1
 * with err (XF_E_USAGE for k, XF_E_FORMAT for the data, XF_E_NOMEM).
 */
int xf_knn_exact(const double *x, int64_t n, int64_t d, int64_t k, int threads, int64_t *idx, double *dist2,
		 struct xf_err *err);

#define XF_KNN_BLOCK 256     /* rows per GEMM */
#define XF_KNN_TILE 2048     /* columns per GEMM */

#endif
