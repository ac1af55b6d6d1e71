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

#else

/* Never called: xf_nn_gemm_kernel() reports BLAS on these machines. */
void xf_nn_gemm(const float *packed, int64_t m, int64_t n, int64_t k, const float *b, int64_t ldb,
		const float *bias, float *c, int64_t ldc)
{
	(void)packed, (void)m, (void)n, (void)k, (void)b, (void)ldb, (void)bias, (void)c, (void)ldc;
}

#endif
