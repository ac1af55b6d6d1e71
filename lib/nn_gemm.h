/*
 * nn_gemm: the matrix product at the heart of nn_conv.c, C = A B + bias, for x86-64 CPUs
 * with AVX2 and FMA: A (the weights) packed once into panels of 6 rows, B (the column
 * matrix, or the input itself for 1x1 convolutions) read in place or copied 16 columns
 * at a time into an L1-sized strip, and a 6 x 16 register kernel with K in passes of
 * XF_NN_GEMM_KC. Against SGEMM it saves repacking the weights for every GEMM, the separate
 * pass that adds the bias, and SGEMM's copy of the whole B block; on other CPUs callers
 * use SGEMM (xf_nn_gemm_kernel says which). Two more products serve the softmax head,
 * whose weights are a few rows: xf_nn_gemm_nt (logits, dot products of rows) and
 * xf_nn_gemm_tn_acc (the gradient from a few rows), both reading the data in place.
 *
 *	if (xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2) {
 *		xf_nn_gemm_pack(w, m, k, packed);          (xf_nn_gemm_packed_size(m, k) floats)
 *		xf_nn_gemm(packed, m, n, k, b, ldb, bias, c, ldc);
 *	}
 */
#ifndef XF_NN_GEMM_H
#define XF_NN_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define XF_NN_GEMM_MR 6     /* rows of C per kernel call */
#define XF_NN_GEMM_NR 16    /* columns of C per kernel call */
#define XF_NN_GEMM_KC 256   /* depth per pass, so that a 16-column strip of B stays in L1 */

/* The kernel behind the GEMM-based convolutions. */
enum xf_nn_kernel {
	XF_NN_KERNEL_AUTO,  /* AVX2 when the CPU has AVX2 and FMA, else BLAS */
	XF_NN_KERNEL_BLAS,  /* OpenBLAS SGEMM after im2col */
	XF_NN_KERNEL_AVX2,  /* xf_nn_gemm */
};

/*
 * Choose the kernel (process-wide; for tests and benchmarks: AUTO is the right choice
 * otherwise). Asking for AVX2 on a CPU without it gives BLAS. Returns the kernel now in
 * effect. Not thread-safe: set it before running convolutions.
 */
enum xf_nn_kernel xf_nn_set_kernel(enum xf_nn_kernel kernel);

/* The kernel in effect: XF_NN_KERNEL_BLAS or XF_NN_KERNEL_AVX2. */
enum xf_nn_kernel xf_nn_gemm_kernel(void);

/* Floats that xf_nn_gemm_pack writes for an m x k matrix (m rounded up to MR). */
size_t xf_nn_gemm_packed_size(int64_t m, int64_t k);

/*
 * Pack the m x k row-major matrix a (row stride k) into panels of MR rows, k-major within
 * each panel, the last panel padded with zero rows.
 */
void xf_nn_gemm_pack(const float *a, int64_t m, int64_t k, float *packed);

/*
 * C [m, n] = A [m, k] B [k, n] + bias (bias[i] added to row i; NULL for none), where A was
 * packed by xf_nn_gemm_pack, B is row-major with row stride ldb and C with row stride ldc.
 * Reads no element of B outside the n columns of its k rows. Only with the AVX2 kernel in
 * effect; k >= 1.
 */
void xf_nn_gemm(const float *packed, int64_t m, int64_t n, int64_t k, const float *b, int64_t ldb,
		const float *bias, float *c, int64_t ldc);

/*
 * C [m, n] = A [m, k] B [n, k]^T + bias (bias[j] added to column j; NULL for none), A and B
 * row-major (row strides lda, ldb): each entry a dot product of two rows, read in place. For
 * a narrow B (the c rows of a linear head) this needs no packing of A, which a GEMM would
 * copy on every call. Only with the AVX2 kernel in effect; k >= 1.
 */
void xf_nn_gemm_nt(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		   const float *bias, float *c, int64_t ldc);

/*
 * C [n, k] += A [m, n]^T B [m, k], all row-major (strides lda, ldb, ldc), B read in place:
 * the gradient of a linear head from a few rows while they are still in L1, eight rows at a
 * time. Only with the AVX2 kernel in effect.
 */
void xf_nn_gemm_tn_acc(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		       float *c, int64_t ldc);

#endif
