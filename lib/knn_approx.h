/*
 * knn_approx: approximate k nearest neighbours for large n (t-SNE input similarities at
 * 10^5..10^6 rows after PCA to <= 50 dimensions), as docs/tsne.md section 2 pins it: a
 * random-projection forest seeds a k-neighbour graph, and NN-descent refines it. Below a
 * few 10^4 rows exact search (knn.h) costs little more, so callers switch there.
 *
 *	if (xf_knn_approx(x, n, d, 90, seed, threads, idx, dist2, &err) < 0)
 *		return -1;
 *	if (xf_knn_recall(x, n, d, 90, idx, 1000, seed) < 0.90)
 *		warn(...);
 */
#ifndef XF_KNN_APPROX_H
#define XF_KNN_APPROX_H

#include <stdint.h>

#include "err.h"

/*
 * The approximate k nearest neighbours of each row of x (n x d, row-major doubles) among
 * the other rows, with xf_knn_exact's output contract: idx[i*k + j] ascending by squared
 * Euclidean distance dist2[i*k + j], ties by lower index; a row is never its own neighbour
 * (exact duplicates of it are), and a row's k indices are distinct. The distances are exact
 * (computed in double from x for the selected pairs). The search itself ranks pairs on a
 * centred, rescaled float copy of x, so among rows whose distances agree to float precision
 * (or are tied at the k-th place) which ones are kept is not specified.
 *
 * Algorithm (docs/tsne.md section 2): n_trees = min(64, 5 + round(sqrt(n) / 20))
 * random-projection trees with leaves of max(60, min(256, 5k)) rows, every pair within a
 * leaf offered to both rows' lists; then rounds of NN-descent, at most max(5, round(log2 n)):
 * each row samples up to 60 new and 60 old candidates among its forward and reverse
 * neighbours by random priority, and joins new x new and new x old; a round that changes
 * at most 0.001 k n list entries is the last. Work: about n (n_trees * leaf / 2 + 2000 *
 * rounds) distances of d floats, typically with 3 or 4 rounds.
 *
 * Memory beyond x and the output: about n (4 * round_up(d, 8) + 975) bytes, plus 4 n bytes
 * per thread while the trees are built and the proposals of 4096 rows per join block.
 *
 * `threads` workers (0 or less: all cores). The result depends on the seed only: not on the
 * thread count, nor on timing.
 *
 * Requires 2 <= n < 2^30, 1 <= k < n, d >= 0, and finite x whose squared distances fit a
 * double. Returns 0, or -1 with err (XF_E_USAGE for k, n and d, XF_E_LIMIT for n,
 * XF_E_FORMAT for the data, XF_E_NOMEM); idx and dist2 are undefined after a failure.
 */
int xf_knn_approx(const double *x, int64_t n, int64_t d, int64_t k, uint64_t seed, int threads, int64_t *idx,
		  double *dist2, struct xf_err *err);

/*
 * Mean recall@k of the neighbour lists idx (n x k, as xf_knn_approx or xf_knn_exact give
 * them) on min(sample, n) distinct query rows drawn with `seed`, against brute force in
 * double for those rows only: a listed neighbour counts when it is no farther than the
 * query's exact k-th nearest other row, so ties (duplicate rows) cannot cost recall. Costs
 * sample * n * d, on all cores. Returns a value in [0, 1], or NaN when 1 <= k < n or
 * sample >= 1 does not hold, or memory runs out.
 */
double xf_knn_recall(const double *x, int64_t n, int64_t d, int64_t k, const int64_t *idx, int64_t sample,
		     uint64_t seed);

#endif
