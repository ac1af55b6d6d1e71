/* nn_gemm: packed-A GEMM with an AVX2/FMA 6x16 register kernel; see nn_gemm.h. */
#include <stdbool.h>
#include <string.h>

#include "nn_gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_KERNEL 1
#include <immintrin.h>
#endif

static enum xf_nn_kernel chosen = XF_NN_KERNEL_AUTO;

static bool cpu_has_avx2(void)
{
#ifdef HAVE_AVX2_KERNEL
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

enum xf_nn_kernel xf_nn_set_kernel(enum xf_nn_kernel kernel)
{
	bool avx2 = cpu_has_avx2();

	chosen = kernel == XF_NN_KERNEL_BLAS || !avx2 ? XF_NN_KERNEL_BLAS : XF_NN_KERNEL_AVX2;
	return chosen;
}

enum xf_nn_kernel xf_nn_gemm_kernel(void)
{
	return chosen == XF_NN_KERNEL_AUTO ? xf_nn_set_kernel(XF_NN_KERNEL_AUTO) : chosen;
}

size_t xf_nn_gemm_packed_size(int64_t m, int64_t k)
{
	return (size_t)((m + XF_NN_GEMM_MR - 1) / XF_NN_GEMM_MR * XF_NN_GEMM_MR * k);
}

void xf_nn_gemm_pack(const float *a, int64_t m, int64_t k, float *packed)
{
	for (int64_t i0 = 0; i0 < m; i0 += XF_NN_GEMM_MR, packed += XF_NN_GEMM_MR * k)
		for (int r = 0; r < XF_NN_GEMM_MR; r++)
			for (int64_t p = 0; p < k; p++)   /* reads along a row of a */
				packed[p * XF_NN_GEMM_MR + r] = i0 + r < m ? a[(i0 + r) * k + p] : 0.0f;
}

#ifdef HAVE_AVX2_KERNEL

#define TARGET __attribute__((target("avx2,fma")))

/* Lanes [0, 8) of a mask that enables the first n of them (n may be <= 0 or >= 8). */
TARGET static inline __m256i lane_mask(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* One row of the tile: plus what C holds (later K passes), or plus the bias (the first). */
TARGET static inline void store_row(float *c, __m256 v0, __m256 v1, int nr, __m256i m0, __m256i m1, bool first,
				    float bias)
{
	if (nr == XF_NN_GEMM_NR) {
		__m256 add0 = first ? _mm256_set1_ps(bias) : _mm256_loadu_ps(c);
		__m256 add1 = first ? _mm256_set1_ps(bias) : _mm256_loadu_ps(c + 8);

		_mm256_storeu_ps(c, _mm256_add_ps(v0, add0));
		_mm256_storeu_ps(c + 8, _mm256_add_ps(v1, add1));
	} else {
		__m256 add0 = first ? _mm256_set1_ps(bias) : _mm256_maskload_ps(c, m0);
		__m256 add1 = first ? _mm256_set1_ps(bias) : _mm256_maskload_ps(c + 8, m1);

		_mm256_maskstore_ps(c, m0, _mm256_add_ps(v0, add0));
		_mm256_maskstore_ps(c + 8, m1, _mm256_add_ps(v1, add1));
	}
}

/* Row r of the 6 x 16 accumulator tile gains a[r] times the two vectors of the B row. */
#define ROW_FMA(r)                                                     \
	do {                                                           \
		__m256 t_ = _mm256_broadcast_ss(a + (r));              \
		c##r##0 = _mm256_fmadd_ps(t_, b0, c##r##0);            \
		c##r##1 = _mm256_fmadd_ps(t_, b1, c##r##1);            \
	} while (0)

#define ALL_ROWS_FMA() \
	do { ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4); ROW_FMA(5); } while (0)

#define STORE(r) \
	if ((r) < mr) \
		store_row(c + (r) * ldc, c##r##0, c##r##1, nr, m0, m1, first, bias ? bias[r] : 0.0f)

/*
 * C tile [mr, nr] (mr <= 6, nr <= 16) from kc steps of packed A (6 floats a step) and B
 * rows (ldb apart). The 12 accumulators, two B vectors and a broadcast fill the 16 ymm
 * registers, as in BLIS's Haswell kernel. A narrow tile of unpadded B (rows with fewer
 * than 16 readable floats) uses masked loads, so that no element past column nr is touched.
 */
TARGET static void tile(int64_t kc, const float *a, const float *b, int64_t ldb, int mr, int nr, bool padded,
			const float *bias, bool first, float *c, int64_t ldc)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
	__m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
	__m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);

	if (nr == XF_NN_GEMM_NR || padded) {
		for (int64_t p = 0; p < kc; p++, a += XF_NN_GEMM_MR, b += ldb) {
			__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);

			ALL_ROWS_FMA();
		}
	} else {
		for (int64_t p = 0; p < kc; p++, a += XF_NN_GEMM_MR, b += ldb) {
			__m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);

			ALL_ROWS_FMA();
		}
	}
	STORE(0);
	STORE(1);
	STORE(2);
	STORE(3);
	STORE(4);
	STORE(5);
}

/*
 * Copy the kc x nr strip of B (row stride ldb) into dst, 16 floats a row, zero past nr: the
 * kernel then reads one contiguous L1-resident block, whatever ldb does to the cache sets.
 */
TARGET static void pack_strip(const float *b, int64_t ldb, int64_t kc, int nr, float *dst)
{
	__m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);

	for (int64_t p = 0; p < kc; p++, b += ldb, dst += XF_NN_GEMM_NR) {
		_mm256_storeu_ps(dst, _mm256_maskload_ps(b, m0));
		_mm256_storeu_ps(dst + 8, _mm256_maskload_ps(b + 8, m1));
	}
}

/*
 * K in passes of KC (the first one adds the bias, later ones accumulate into C); within a
 * pass, each 16-column strip of B meets every row panel of A. When there are several
 * panels the strip is first packed (pack_strip); with one, reading B in place is cheaper.
 */
void xf_nn_gemm(const float *packed, int64_t m, int64_t n, int64_t k, const float *b, int64_t ldb,
		const float *bias, float *c, int64_t ldc)
{
	float strip[XF_NN_GEMM_KC * XF_NN_GEMM_NR] __attribute__((aligned(64)));
	bool pack = m > XF_NN_GEMM_MR;

	for (int64_t k0 = 0; k0 < k; k0 += XF_NN_GEMM_KC) {
		int64_t kc = k - k0 < XF_NN_GEMM_KC ? k - k0 : XF_NN_GEMM_KC;

		for (int64_t j = 0; j < n; j += XF_NN_GEMM_NR) {
			int nr = n - j < XF_NN_GEMM_NR ? (int)(n - j) : XF_NN_GEMM_NR;
			const float *bs = b + k0 * ldb + j;

			if (pack)
				pack_strip(bs, ldb, kc, nr, strip);
			for (int64_t i = 0; i < m; i += XF_NN_GEMM_MR)
				tile(kc, packed + i * k + k0 * XF_NN_GEMM_MR, pack ? strip : bs, pack ? XF_NN_GEMM_NR : ldb,
				     m - i < XF_NN_GEMM_MR ? (int)(m - i) : XF_NN_GEMM_MR, nr, pack,
				     bias ? bias + i : NULL, k0 == 0, c + i * ldc + j, ldc);
		}
	}
}

/* The sum of the 8 lanes. */
TARGET static inline float lane_sum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Row r of A against the three B vectors, its 8 floats read by LOAD. */
#define NT_ROW(r, LOAD)                                                \
	do {                                                           \
		__m256 t_ = LOAD(a##r + p);                            \
		c##r##0 = _mm256_fmadd_ps(t_, b0, c##r##0);            \
		c##r##1 = _mm256_fmadd_ps(t_, b1, c##r##1);            \
		c##r##2 = _mm256_fmadd_ps(t_, b2, c##r##2);            \
	} while (0)

#define NT_STEP(LOAD)                                                                             \
	do {                                                                                      \
		__m256 b0 = LOAD(bb0 + p), b1 = LOAD(bb1 + p), b2 = LOAD(bb2 + p);                \
		NT_ROW(0, LOAD); NT_ROW(1, LOAD); NT_ROW(2, LOAD); NT_ROW(3, LOAD);               \
	} while (0)

#define LOAD_ALL(x) _mm256_loadu_ps(x)
#define LOAD_TAIL(x) _mm256_maskload_ps(x, tail)

/* Row r of the tile: the sums of its nr accumulators, plus the bias. */
#define NT_STORE(r)                                                                              \
	for (int j = 0; (r) < mr && j < nr; j++)                                                \
		c[(r) * ldc + j] = lane_sum(j == 0 ? c##r##0 : j == 1 ? c##r##1 : c##r##2) + \
				   (bias ? bias[j] : 0.0f)

/*
 * C tile [mr, nr] (mr <= 4, nr <= 3): dot products of A rows with B rows over k, 8 lanes
 * at a time, the last partial step masked. Rows past mr or nr repeat the last one (computed,
 * not stored), so that the loop has no branches. Meanwhile the four rows at address `next`
 * (the rows after this tile, lda apart; prefetches do not fault, so they may lie past the
 * end of A) are fetched towards L1: while the tile's own rows sit in L1 for the later column
 * tiles, memory is busy with the next ones (from memory on one core, best of 6 runs: 56
 * against 39 GFLOPS; tests/bench/head.sh measures it against SGEMM).
 */
TARGET static void nt_tile(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k, int mr, int nr,
			   const float *bias, float *c, int64_t ldc, uintptr_t next)
{
	const float *a0 = a, *a1 = a + (mr > 1) * lda, *a2 = a + (mr > 2 ? 2 : mr - 1) * lda, *a3 = a + (mr - 1) * lda;
	const float *bb0 = b, *bb1 = b + (nr > 1) * ldb, *bb2 = b + (nr - 1) * ldb;
	__m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
	__m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
	__m256i tail = lane_mask((int)(k % 8));
	int64_t p = 0;

	for (; p + 8 <= k; p += 8) {
		if ((p & 15) == 0)   /* a cache line of each of the next four rows */
			for (int r = 0; r < 4; r++)
				_mm_prefetch((const char *)(next + (uintptr_t)(r * lda + p) * sizeof(float)), _MM_HINT_T0);
		NT_STEP(LOAD_ALL);
	}
	if (p < k)
		NT_STEP(LOAD_TAIL);
	NT_STORE(0);
	NT_STORE(1);
	NT_STORE(2);
	NT_STORE(3);
}

void xf_nn_gemm_nt(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		   const float *bias, float *c, int64_t ldc)
{
	for (int64_t i = 0; i < m; i += 4)
		for (int64_t j = 0; j < n; j += 3)
			nt_tile(a + i * lda, lda, b + j * ldb, ldb, k, m - i < 4 ? (int)(m - i) : 4,
				n - j < 3 ? (int)(n - j) : 3, bias ? bias + j : NULL, c + i * ldc + j, ldc,
				(uintptr_t)(a + i * lda) + (uintptr_t)(4 * lda) * sizeof(float));
}

/* B row r (past mr: the last one again, with weight 0) and its weight from column j of A. */
#define TN_ROW(r) const float *b##r = b + ((r) < mr ? (r) : mr - 1) * ldb
#define TN_WEIGHT(r) __m256 w##r = _mm256_set1_ps((r) < mr ? a[(r) * lda + j] : 0.0f)
#define TN_SUM(LOAD, s)                                                                              \
	do {                                                                                         \
		__m256 u_ = _mm256_fmadd_ps(w0, LOAD(b0 + p), s), v_ = _mm256_mul_ps(w1, LOAD(b1 + p)); \
		u_ = _mm256_fmadd_ps(w2, LOAD(b2 + p), u_), v_ = _mm256_fmadd_ps(w3, LOAD(b3 + p), v_); \
		u_ = _mm256_fmadd_ps(w4, LOAD(b4 + p), u_), v_ = _mm256_fmadd_ps(w5, LOAD(b5 + p), v_); \
		u_ = _mm256_fmadd_ps(w6, LOAD(b6 + p), u_), v_ = _mm256_fmadd_ps(w7, LOAD(b7 + p), v_); \
		s = _mm256_add_ps(u_, v_);                                                           \
	} while (0)

/*
 * C [n, k] += A [mr, n]^T B [mr, k] for mr <= 8 rows: row j of C gains the B rows weighted
 * by column j of A, each C row read and written once for all eight.
 */
TARGET static void tn_rows(const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int64_t n, int64_t k,
			   float *c, int64_t ldc)
{
	TN_ROW(0); TN_ROW(1); TN_ROW(2); TN_ROW(3); TN_ROW(4); TN_ROW(5); TN_ROW(6); TN_ROW(7);
	__m256i tail = lane_mask((int)(k % 8));

	for (int64_t j = 0; j < n; j++) {
		TN_WEIGHT(0); TN_WEIGHT(1); TN_WEIGHT(2); TN_WEIGHT(3); TN_WEIGHT(4); TN_WEIGHT(5); TN_WEIGHT(6); TN_WEIGHT(7);
		float *cj = c + j * ldc;
		int64_t p = 0;

		for (; p + 8 <= k; p += 8) {
			__m256 s = _mm256_loadu_ps(cj + p);

			TN_SUM(LOAD_ALL, s);
			_mm256_storeu_ps(cj + p, s);
		}
		if (p < k) {
			__m256 s = LOAD_TAIL(cj + p);

			TN_SUM(LOAD_TAIL, s);
			_mm256_maskstore_ps(cj + p, tail, s);
		}
	}
}

void xf_nn_gemm_tn_acc(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		       float *c, int64_t ldc)
{
	for (int64_t i = 0; i < m; i += 8)
		tn_rows(a + i * lda, lda, b + i * ldb, ldb, m - i < 8 ? (int)(m - i) : 8, n, k, c, ldc);
}

#else

/* Never called: xf_nn_gemm_kernel() reports BLAS on these machines. */
void xf_nn_gemm(const float *packed, int64_t m, int64_t n, int64_t k, const float *b, int64_t ldb,
		const float *bias, float *c, int64_t ldc)
{
	(void)packed, (void)m, (void)n, (void)k, (void)b, (void)ldb, (void)bias, (void)c, (void)ldc;
}

void xf_nn_gemm_nt(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		   const float *bias, float *c, int64_t ldc)
{
	(void)a, (void)lda, (void)b, (void)ldb, (void)m, (void)n, (void)k, (void)bias, (void)c, (void)ldc;
}

void xf_nn_gemm_tn_acc(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
		       float *c, int64_t ldc)
{
	(void)a, (void)lda, (void)b, (void)ldb, (void)m, (void)n, (void)k, (void)c, (void)ldc;
}

#endif
