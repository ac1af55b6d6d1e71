/*
 * csr: a sparse n x n matrix in compressed sparse rows, as t-SNE's affinities use it: 64-bit
 * row pointers (nnz can pass 2^31 at a million points) and 32-bit columns. Row i holds
 * col[rowptr[i] .. rowptr[i+1]) ascending, with values val[] at the same positions.
 */
#ifndef XF_CSR_H
#define XF_CSR_H

#include <stdint.h>

struct xf_csr {
	int64_t n;          /* rows (= columns) */
	int64_t *rowptr;    /* n + 1 */
	int32_t *col;       /* rowptr[n] */
	double *val;        /* rowptr[n] */
};

#define XF_CSR_INIT { 0, NULL, NULL, NULL }

void xf_csr_release(struct xf_csr *m);

#endif
