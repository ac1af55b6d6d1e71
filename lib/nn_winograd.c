/* nn_winograd: 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) over nn_gemm.h's kernel; see nn_winograd.h. */
#include <stdatomic.h>
#include <stdint.h>

#include "nn_gemm.h"
#include "nn_winograd.h"
#include "parallel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_TRANSFORMS 1
#include <immintrin.h>
#define TARGET __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))  /* helpers that pass vectors through pointers */
#endif

#define POINTS 16                         /* transform points of a tile, 4x4: one GEMM each */
#define LANES 8                           /* tiles per vector in the transforms */
#define BLOCK XF_NN_GEMM_NR               /* tiles per block of V and M: one GEMM strip */
#define CHANNEL_ROW (POINTS * BLOCK + 16) /* floats per channel in a block; the extra cache line avoids 4K aliasing */
#define SMALL_ROW (2 * LANES)             /* a gathered input row of a narrow image: 2 columns a tile (< 8), 2 more */
#define ITEM_FLOATS (192 * 1024)          /* V and M of a work item, about: 3/4 of a 1 MiB L2 */
#define ITEM_TILES_MAX 256
#define DEEP_ITEM_TILES 128               /* tiles per item when not even one strip's V and M fit ITEM_FLOATS */
#define PACK_KC 32                        /* input channels per weight-transform block */
#define MIN_IN_C 8                        /* fewer input channels: the transforms cost more than the GEMMs save */
#define BIAS_POINT 5                      /* (1, 1): A^T e A is all ones, so its GEMM adds the bias */

static bool enabled = true;

/*
 * How one call splits its work: items of item_tiles consecutive tiles of the batch (in
 * sample, tile row, tile column order). Everything but the worker count derives from the
 * geometry and the batch, so the GEMMs and their rounding do not depend on the threads.
 *
 * An item's V and M are stored in blocks of BLOCK tiles, [block][channel][point][tile]:
 * V[xi] of a block is then a GEMM operand of row stride CHANNEL_ROW, and the 16 points
 * of a channel that a transform reads or writes together are one contiguous KiB rather
 * than 16 streams far apart, which cost an L1 miss each.
 */
struct plan {
	int oh, ow;             /* output size */
	int tiles_y, tiles_x;   /* 2x2 tiles per sample, down and across (edge tiles may hang over) */
	int64_t tiles;          /* tiles in the batch */
	int64_t item_tiles;     /* tiles per work item; the last may have fewer */
	int64_t n_items;        /* work items */
	int workers;            /* items run concurrently */
	int64_t packed_floats;  /* weights transformed into the scratch (c->packed NULL), else 0 */
	int64_t v_block;        /* floats of a block of V: in_c CHANNEL_ROW */
	int64_t m_block;        /* floats of a block of M: out_c CHANNEL_ROW */
	int64_t work_floats;    /* per worker: the blocks of V, then of M, the gathered rows (narrow), slack to align */
	bool narrow;            /* fewer tiles across than LANES: vectors gather tiles of several rows */
};

/* Tiles of one tile row that are consecutive in an item and in one block: the unit of gathering and scattering. */
struct run {
	int64_t sample;  /* in the batch */
	int ty, tx;      /* the first tile's row and column in the sample's tile grid */
	int len;         /* tiles, 1..BLOCK */
	int block, lane; /* where the first tile is in V and M */
};

/* Per tile of an item of a narrow image (plan.narrow): where its patch comes from and its outputs go. */
struct tile_map {
	int16_t run[ITEM_TILES_MAX];   /* the run it belongs to */
	int64_t out[ITEM_TILES_MAX];   /* its top-left output in y, for output channel 0 */
	uint8_t cols[ITEM_TILES_MAX];  /* its outputs across inside y: 1 or 2 */
	uint8_t rows[ITEM_TILES_MAX];  /* and down */
};

struct job {
	const struct xf_conv2d *c;
	const struct plan *p;
	const float *x;
	int h, w;
	float *y;
	const float *packed;   /* the 16 U[xi], from c->packed or the scratch */
	float *work;           /* per-worker scratch: work_floats each */
	atomic_int next_slot;  /* hands each concurrent chunk its own slice of work */
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

bool xf_winograd_supports(const struct xf_conv2d *c)
{
	return c->kh == 3 && c->kw == 3 && c->stride[0] == 1 && c->stride[1] == 1 && c->dilation[0] == 1 &&
	       c->dilation[1] == 1 && c->groups == 1 && c->in_c >= 1 && c->out_c >= 1 && c->pad[0] >= 0 &&
	       c->pad[0] <= 2 && c->pad[1] >= 0 && c->pad[1] <= 2 && xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2;
}

/*
 * The threshold on the input channels is measured (Zen 4, 32x32, batch 64): a 1 -> 64 stem
 * takes 2.5 times as long as im2col, 3 -> 64 1.7 times, 8 -> 64 0.9 times.
 */
bool xf_winograd_applies(const struct xf_conv2d *c)
{
	return enabled && c->in_c >= MIN_IN_C && xf_winograd_supports(c);
}

bool xf_winograd_set_enabled(bool on)
{
	bool was = enabled;

	enabled = on;
	return was;
}

size_t xf_winograd_packed_size(const struct xf_conv2d *c)
{
	return POINTS * xf_nn_gemm_packed_size(c->out_c, c->in_c);
}

/* U = G g G^T of one 3x3 kernel g (row-major), as u[4 i + j]: in double, rounded once. */
static void transform_kernel(const float *g, float *u)
{
	double gg[4][3];

	for (int j = 0; j < 3; j++) {
		double a = g[j], b = g[3 + j], c = g[6 + j];

		gg[0][j] = a, gg[1][j] = (a + b + c) / 2, gg[2][j] = (a - b + c) / 2, gg[3][j] = c;
	}
	for (int i = 0; i < 4; i++) {
		double a = gg[i][0], b = gg[i][1], c = gg[i][2];

		u[4 * i] = (float)a, u[4 * i + 1] = (float)((a + b + c) / 2);
		u[4 * i + 2] = (float)((a - b + c) / 2), u[4 * i + 3] = (float)c;
	}
}

/*
 * Row panels [first, end) (XF_NN_GEMM_MR output channels each) of the 16 packed U[xi]. A
 * panel is k-major (nn_gemm.h), so a block of PACK_KC input channels of it is contiguous
 * and xf_nn_gemm_pack can write it from a small block on the stack: no allocation.
 */
static void pack_panels(const struct xf_conv2d *c, float *packed, int64_t first, int64_t end)
{
	int64_t k = c->in_c, size = (int64_t)xf_nn_gemm_packed_size(c->out_c, k);
	float block[POINTS][XF_NN_GEMM_MR * PACK_KC], u[POINTS];

	for (int64_t panel = first; panel < end; panel++) {
		int64_t o0 = panel * XF_NN_GEMM_MR;
		int rows = (int)min64(XF_NN_GEMM_MR, c->out_c - o0);

		for (int64_t i0 = 0; i0 < k; i0 += PACK_KC) {
			int kc = (int)min64(PACK_KC, k - i0);

			for (int r = 0; r < rows; r++)
				for (int i = 0; i < kc; i++) {
					transform_kernel(c->weight + ((o0 + r) * k + i0 + i) * 9, u);
					for (int xi = 0; xi < POINTS; xi++)
						block[xi][r * kc + i] = u[xi];
				}
			for (int xi = 0; xi < POINTS; xi++)
				xf_nn_gemm_pack(block[xi], rows, kc, packed + xi * size + o0 * k + i0 * XF_NN_GEMM_MR);
		}
	}
}

static int64_t n_panels(const struct xf_conv2d *c)
{
	return (c->out_c + XF_NN_GEMM_MR - 1) / XF_NN_GEMM_MR;
}

void xf_winograd_pack(const struct xf_conv2d *c, float *packed)
{
	pack_panels(c, packed, 0, n_panels(c));
}

struct pack_job {
	const struct xf_conv2d *c;
	float *packed;
};

static void pack_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct pack_job *job = ctx;

	pack_panels(job->c, job->packed, begin, end);
}

/*
 * Tiles per work item: as many as keep the item's V and M within ITEM_FLOATS, in whole GEMM
 * strips. When not even one strip fits (about 400 channels in and out), V and M live in L3
 * whatever we do, and what counts is that each pass over the weights (16 MiB for 512
 * channels) serves many tiles: DEEP_ITEM_TILES.
 */
static int64_t tiles_per_item(const struct xf_conv2d *c, int64_t tiles)
{
	int64_t n = ITEM_FLOATS / (POINTS * ((int64_t)c->in_c + c->out_c)) / XF_NN_GEMM_NR * XF_NN_GEMM_NR;

	n = n == 0 ? DEEP_ITEM_TILES : n > ITEM_TILES_MAX ? ITEM_TILES_MAX : n;
	return tiles < 1 ? 1 : min64(n, tiles);
}

static int make_plan(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads, struct plan *p,
		     struct xf_err *err)
{
	int cores = threads > 0 ? threads : xf_cores();

	if (xf_conv2d_out_size(c, h, w, &p->oh, &p->ow, err) < 0)
		return -1;
	p->tiles_y = (p->oh + 1) / 2, p->tiles_x = (p->ow + 1) / 2;
	p->tiles = batch > 0 ? batch * p->tiles_y * p->tiles_x : 0;
	p->item_tiles = tiles_per_item(c, p->tiles);
	p->n_items = (p->tiles + p->item_tiles - 1) / p->item_tiles;
	p->workers = (int)min64(cores, p->n_items > 0 ? p->n_items : 1);
	p->packed_floats = c->packed ? 0 : (int64_t)xf_winograd_packed_size(c);
	p->v_block = c->in_c * CHANNEL_ROW, p->m_block = c->out_c * CHANNEL_ROW;
	p->narrow = p->tiles_x < LANES;
	p->work_floats = (p->item_tiles + BLOCK - 1) / BLOCK * (p->v_block + p->m_block) + 16 +
			 (p->narrow ? 2 * p->item_tiles * 4 * SMALL_ROW : 0);
	return 0;
}

size_t xf_winograd_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads)
{
	struct plan p;

	if (make_plan(c, h, w, batch, threads, &p, NULL) < 0)
		return 0;
	return (size_t)(p.packed_floats + p.work_floats * p.workers);
}

/* Cut tiles [t0, t0 + n) of the batch into runs along tile rows and within blocks; returns how many (at most n). */
static int split_runs(const struct plan *p, int64_t t0, int64_t n, struct run *runs)
{
	int64_t per_sample = (int64_t)p->tiles_y * p->tiles_x;
	int count = 0;

	for (int64_t t = t0; t < t0 + n; count++) {
		int64_t r = t % per_sample;
		struct run *u = &runs[count];

		u->sample = t / per_sample, u->ty = (int)(r / p->tiles_x), u->tx = (int)(r % p->tiles_x);
		u->block = (int)((t - t0) / BLOCK), u->lane = (int)((t - t0) % BLOCK);
		u->len = (int)min64(min64(p->tiles_x - u->tx, t0 + n - t), BLOCK - u->lane);
		t += u->len;
	}
	return count;
}

#ifdef HAVE_AVX2_TRANSFORMS

/* Lanes [0, 8) of a mask that enables the first n of them (n may be <= 0 or >= 8). */
TARGET static INLINE __m256i lane_mask(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * row[x .. x + 8) with zeros outside [0, w) (the padding), or zeros when row is NULL (a
 * padding row); no element outside the row is read. Left of the row (x < 0, at most the
 * padding), the lanes are loaded from row[0] and moved up by -x.
 */
TARGET static INLINE __m256 load_cols(const float *row, int w, int x)
{
	__m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), from;

	if (!row || x >= w)
		return _mm256_setzero_ps();
	if (x >= 0)
		return x + LANES <= w ? _mm256_loadu_ps(row + x) : _mm256_maskload_ps(row + x, lane_mask(w - x));
	from = _mm256_add_epi32(lane, _mm256_set1_epi32(x));
	return _mm256_and_ps(_mm256_permutevar8x32_ps(w >= LANES ? _mm256_loadu_ps(row) :
								   _mm256_maskload_ps(row, lane_mask(w)),
						      from),
			     _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(from, _mm256_set1_epi32(-1)),
								 _mm256_cmpgt_epi32(_mm256_set1_epi32(w), from))));
}

/* Lanes 0, 2, ..., 14 of the 16 floats a, b. */
TARGET static INLINE __m256 even_lanes(__m256 a, __m256 b)
{
	__m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   /* a0 a2 b0 b2 | a4 a6 b4 b6 */

	return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Lanes 1, 3, ..., 15 of the 16 floats a, b. */
TARGET static INLINE __m256 odd_lanes(__m256 a, __m256 b)
{
	__m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));

	return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/*
 * Columns 0..3 of one row of the 4x4 patches of 8 tiles side by side, tile k's column j
 * being row[x + 2 k + j] (zero outside the row, as load_cols).
 */
TARGET static INLINE void patch_columns(const float *row, int w, int x, __m256 *c0, __m256 *c1, __m256 *c2,
					__m256 *c3)
{
	__m256 a = load_cols(row, w, x), b = load_cols(row, w, x + 8);
	__m256 c = load_cols(row, w, x + 2), d = load_cols(row, w, x + 10);

	*c0 = even_lanes(a, b), *c1 = odd_lanes(a, b), *c2 = even_lanes(c, d), *c3 = odd_lanes(c, d);
}

/* A 4x4 transpose in each half of a, b, c, d: lane j of output i is lane i of input j (per half). */
TARGET static INLINE void transpose_halves(__m256 a, __m256 b, __m256 c, __m256 d, __m256 *o0, __m256 *o1,
					   __m256 *o2, __m256 *o3)
{
	__m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);   /* a0 b0 a1 b1, a2 b2 a3 b3 */
	__m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);

	*o0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), *o1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
	*o2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), *o3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/* The 4 floats at p and at q, as the two halves of a vector. */
TARGET static INLINE __m256 load_halves(const float *p, const float *q)
{
	return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(q), 1);
}

/*
 * Columns 0..3 of patch row r of 8 tiles gathered one by one, tile k's row being tile[k] +
 * r SMALL_ROW: tiles k and k + 4 side by side, transposed.
 */
TARGET static INLINE void gathered_columns(const float *const tile[LANES], int r, __m256 *c0, __m256 *c1,
					   __m256 *c2, __m256 *c3)
{
	int off = r * SMALL_ROW;

	transpose_halves(load_halves(tile[0] + off, tile[4] + off), load_halves(tile[1] + off, tile[5] + off),
			 load_halves(tile[2] + off, tile[6] + off), load_halves(tile[3] + off, tile[7] + off), c0, c1,
			 c2, c3);
}

/* The patches of 8 tiles: side by side in 4 input rows (tile NULL), or gathered one by one. */
struct patches {
	const float *const *rows;   /* 4 input rows, NULL for padding rows */
	int w, x;                   /* their width, and the first tile's first column */
	const float *const *tile;   /* or: the 8 tiles' gathered patches, rows SMALL_ROW apart */
};

TARGET static INLINE void patch_row(const struct patches *d, int r, __m256 *c0, __m256 *c1, __m256 *c2, __m256 *c3)
{
	if (d->tile)
		gathered_columns(d->tile, r, c0, c1, c2, c3);
	else
		patch_columns(d->rows[r], d->w, d->x, c0, c1, c2, c3);
}

TARGET static INLINE void store_tiles(float *dst, __m256 v, int valid, __m256i mask)
{
	if (valid == LANES)
		_mm256_storeu_ps(dst, v);
	else
		_mm256_maskstore_ps(dst, mask, v);
}

/* A row of V = t B from the row t0..t3 of B^T d: 4 points, xi_stride apart from v. */
TARGET static INLINE void store_v_row(__m256 t0, __m256 t1, __m256 t2, __m256 t3, float *v, int64_t xi_stride,
				      int valid, __m256i mask)
{
	store_tiles(v, _mm256_sub_ps(t0, t2), valid, mask);
	store_tiles(v + xi_stride, _mm256_add_ps(t1, t2), valid, mask);
	store_tiles(v + 2 * xi_stride, _mm256_sub_ps(t2, t1), valid, mask);
	store_tiles(v + 3 * xi_stride, _mm256_sub_ps(t1, t3), valid, mask);
}

/*
 * V = B^T d B of the 8 patches d (`valid` tiles stored: a masked store is slow, so only the
 * ragged end of a tile row has fewer). B^T's rows are d0 - d2, d1 + d2, d2 - d1 and
 * d1 - d3; the rows of d are loaded in the order that keeps the fewest registers live
 * (named variables rather than arrays, which the compiler would keep on the stack).
 */
TARGET static INLINE void input_points(const struct patches *d, float *v, int64_t xi_stride, int valid)
{
	__m256i mask = lane_mask(valid);
	__m256 a0, a1, a2, a3, b0, b1, b2, b3;

	patch_row(d, 0, &a0, &a1, &a2, &a3);
	patch_row(d, 2, &b0, &b1, &b2, &b3);
	store_v_row(_mm256_sub_ps(a0, b0), _mm256_sub_ps(a1, b1), _mm256_sub_ps(a2, b2), _mm256_sub_ps(a3, b3), v,
		    xi_stride, valid, mask);
	patch_row(d, 1, &a0, &a1, &a2, &a3);
	store_v_row(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3),
		    v + 4 * xi_stride, xi_stride, valid, mask);
	store_v_row(_mm256_sub_ps(b0, a0), _mm256_sub_ps(b1, a1), _mm256_sub_ps(b2, a2), _mm256_sub_ps(b3, a3),
		    v + 8 * xi_stride, xi_stride, valid, mask);
	patch_row(d, 3, &b0, &b1, &b2, &b3);
	store_v_row(_mm256_sub_ps(a0, b0), _mm256_sub_ps(a1, b1), _mm256_sub_ps(a2, b2), _mm256_sub_ps(a3, b3),
		    v + 12 * xi_stride, xi_stride, valid, mask);
}

/* V of up to 8 tiles side by side in rows[0..3] (NULL for padding rows) from column x, of width w. */
TARGET static void input_tiles(const float *const rows[4], int w, int x, float *v, int64_t xi_stride, int valid)
{
	struct patches d = { rows, w, x, NULL };

	input_points(&d, v, xi_stride, valid);
}

/* V of 8 tiles gathered one by one (narrow images), tile k's patch at tile[k], rows SMALL_ROW apart. */
TARGET static void input_gathered(const float *const tile[LANES], float *v, int64_t xi_stride)
{
	struct patches d = { NULL, 0, 0, tile };

	input_points(&d, v, xi_stride, LANES);
}

/*
 * Columns [x, x + 16) of the 4 rows of a run of a narrow image (NULL: padding rows), with
 * zeros outside the plane, into dst (rows SMALL_ROW apart): all that a run of up to 7
 * tiles reads.
 */
TARGET static void gather_run(const float *const rows[4], int w, int x, float *dst)
{
	for (int i = 0; i < 4; i++, dst += SMALL_ROW) {
		_mm256_storeu_ps(dst, load_cols(rows[i], w, x));
		_mm256_storeu_ps(dst + LANES, load_cols(rows[i], w, x + LANES));
	}
}

/* The 2 x 8 outputs of one output row of 8 tiles (a: left, b: right column), first n of them, into dst. */
TARGET static INLINE void store_output_row(float *dst, __m256 a, __m256 b, int n)
{
	__m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);   /* a0 b0 a1 b1 | a4 b4 a5 b5 */
	__m256 first = _mm256_permute2f128_ps(lo, hi, 0x20), second = _mm256_permute2f128_ps(lo, hi, 0x31);

	if (n == 2 * LANES) {
		_mm256_storeu_ps(dst, first);
		_mm256_storeu_ps(dst + LANES, second);
	} else {
		_mm256_maskstore_ps(dst, lane_mask(n), first);
		_mm256_maskstore_ps(dst + LANES, lane_mask(n - LANES), second);
	}
}

TARGET static INLINE __m256 load_tiles(const float *src, int valid, __m256i mask)
{
	return valid == LANES ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask);
}

/* Column j of A^T M for 8 tiles, from the points j, 4 + j, 8 + j, 12 + j at m: m0 + m1 + m2 and m1 - m2 - m3. */
TARGET static INLINE void m_column(const float *m, int64_t xi_stride, int valid, __m256i mask, __m256 *top,
				   __m256 *bottom)
{
	__m256 m0 = load_tiles(m, valid, mask), m1 = load_tiles(m + 4 * xi_stride, valid, mask);
	__m256 m2 = load_tiles(m + 8 * xi_stride, valid, mask), m3 = load_tiles(m + 12 * xi_stride, valid, mask);

	*top = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
	*bottom = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
}

/*
 * Y = A^T M A of up to 8 tiles side by side (`valid` of them read), A^T's rows being
 * (1, 1, 1, 0) and (0, 1, -1, -1). The first n_cols outputs of the tiles' top row go to y0,
 * of their bottom row to y1 (NULL when it lies below the output).
 */
TARGET static void output_tiles(const float *m, int64_t xi_stride, int valid, float *y0, float *y1, int n_cols)
{
	__m256i mask = lane_mask(valid);
	__m256 t0, t1, t2, t3, b0, b1, b2, b3;

	m_column(m, xi_stride, valid, mask, &t0, &b0);
	m_column(m + xi_stride, xi_stride, valid, mask, &t1, &b1);
	m_column(m + 2 * xi_stride, xi_stride, valid, mask, &t2, &b2);
	m_column(m + 3 * xi_stride, xi_stride, valid, mask, &t3, &b3);
	store_output_row(y0, _mm256_add_ps(_mm256_add_ps(t0, t1), t2), _mm256_sub_ps(_mm256_sub_ps(t1, t2), t3),
			 n_cols);
	if (y1)
		store_output_row(y1, _mm256_add_ps(_mm256_add_ps(b0, b1), b2),
				 _mm256_sub_ps(_mm256_sub_ps(b1, b2), b3), n_cols);
}

/* One tile's outputs q = (y00, y01, y10, y11) into dst (row stride ow): cols x rows of them, 1 or 2 each. */
TARGET static INLINE void store_tile(float *dst, __m128 q, int cols, int rows, int ow)
{
	if (cols == 2)
		_mm_storel_pi((__m64 *)dst, q);
	else
		_mm_store_ss(dst, q);
	if (rows == 2 && cols == 2)
		_mm_storeh_pi((__m64 *)(dst + ow), q);
	else if (rows == 2)
		_mm_store_ss(dst + ow, _mm_movehl_ps(q, q));
}

/*
 * Y = A^T M A of 8 tiles (narrow images), transposed to 4 outputs per tile and stored tile
 * by tile: tile k's to dst[k] (k < valid), cols[k] x rows[k] of them (row stride ow).
 */
TARGET static void output_scattered(const float *m, int64_t xi_stride, float *const dst[LANES], const uint8_t *cols,
				    const uint8_t *rows, int ow, int valid)
{
	__m256i mask = lane_mask(LANES);
	__m256 t0, t1, t2, t3, b0, b1, b2, b3, q0, q1, q2, q3;

	m_column(m, xi_stride, LANES, mask, &t0, &b0);
	m_column(m + xi_stride, xi_stride, LANES, mask, &t1, &b1);
	m_column(m + 2 * xi_stride, xi_stride, LANES, mask, &t2, &b2);
	m_column(m + 3 * xi_stride, xi_stride, LANES, mask, &t3, &b3);
	transpose_halves(_mm256_add_ps(_mm256_add_ps(t0, t1), t2), _mm256_sub_ps(_mm256_sub_ps(t1, t2), t3),
			 _mm256_add_ps(_mm256_add_ps(b0, b1), b2), _mm256_sub_ps(_mm256_sub_ps(b1, b2), b3), &q0, &q1,
			 &q2, &q3);   /* y00, y01, y10, y11 of each tile together */
	store_tile(dst[0], _mm256_castps256_ps128(q0), cols[0], rows[0], ow);   /* q_k: tiles k and k + 4 */
	if (valid > 1)
		store_tile(dst[1], _mm256_castps256_ps128(q1), cols[1], rows[1], ow);
	if (valid > 2)
		store_tile(dst[2], _mm256_castps256_ps128(q2), cols[2], rows[2], ow);
	if (valid > 3)
		store_tile(dst[3], _mm256_castps256_ps128(q3), cols[3], rows[3], ow);
	if (valid > 4)
		store_tile(dst[4], _mm256_extractf128_ps(q0, 1), cols[4], rows[4], ow);
	if (valid > 5)
		store_tile(dst[5], _mm256_extractf128_ps(q1, 1), cols[5], rows[5], ow);
	if (valid > 6)
		store_tile(dst[6], _mm256_extractf128_ps(q2, 1), cols[6], rows[6], ow);
	if (valid > 7)
		store_tile(dst[7], _mm256_extractf128_ps(q3, 1), cols[7], rows[7], ow);
}

#else

/* Never called: xf_winograd_supports needs the AVX2 kernel, which these machines do not have. */
static void input_tiles(const float *const rows[4], int w, int x, float *v, int64_t xi_stride, int valid)
{
	(void)rows, (void)w, (void)x, (void)v, (void)xi_stride, (void)valid;
}

static void input_gathered(const float *const tile[LANES], float *v, int64_t xi_stride)
{
	(void)tile, (void)v, (void)xi_stride;
}

static void gather_run(const float *const rows[4], int w, int x, float *dst)
{
	(void)rows, (void)w, (void)x, (void)dst;
}

static void output_scattered(const float *m, int64_t xi_stride, float *const dst[LANES], const uint8_t *cols,
			     const uint8_t *rows, int ow, int valid)
{
	(void)m, (void)xi_stride, (void)dst, (void)cols, (void)rows, (void)ow, (void)valid;
}

static void output_tiles(const float *m, int64_t xi_stride, int valid, float *y0, float *y1, int n_cols)
{
	(void)m, (void)xi_stride, (void)valid, (void)y0, (void)y1, (void)n_cols;
}

#endif

/* First tile of a run: its column in the item. */
static int run_start(const struct run *r)
{
	return r->block * BLOCK + r->lane;
}

/* Run r's 4 input rows in channel ch: pointers into x, NULL for the padding rows above and below. */
static void run_rows(const struct job *job, const struct run *r, int ch, const float *rows[4])
{
	const struct xf_conv2d *c = job->c;
	const float *src = job->x + (r->sample * c->in_c + ch) * (int64_t)job->h * job->w;

	for (int i = 0; i < 4; i++) {
		int iy = 2 * r->ty - c->pad[0] + i;

		rows[i] = iy >= 0 && iy < job->h ? src + (int64_t)iy * job->w : NULL;
	}
}

/* The 4 input rows of each run of channel ch of a narrow image, with their padding, 4 SMALL_ROW floats a run. */
static void gather_runs(const struct job *job, const struct run *runs, int n_runs, int ch, float *gathered)
{
	for (int u = 0; u < n_runs; u++) {
		const float *rows[4];

		run_rows(job, &runs[u], ch, rows);
		gather_run(rows, job->w, 2 * runs[u].tx - job->c->pad[1], gathered + u * 4 * SMALL_ROW);
	}
}

/*
 * V of the n tiles of an item of a narrow image, 8 at a time: the rows of all runs of a
 * channel are gathered with their padding, then the tiles' patches read from there one by
 * one. The gathering runs a channel ahead into the other half of `gathered`, so that no
 * load waits for the stores it reads (they would not forward, being of other sizes).
 * Groups of 8 stay inside a block, so stores are whole vectors; past n they store what the
 * first tile repeated gives, never read.
 */
static void input_narrow(const struct job *job, const struct run *runs, int n_runs, const struct tile_map *map,
			 int64_t n, float *v, float *gathered)
{
	int64_t half = job->p->item_tiles * 4 * SMALL_ROW;

	gather_runs(job, runs, n_runs, 0, gathered);
	for (int ch = 0; ch < job->c->in_c; ch++) {
		const float *cur = gathered + (ch % 2) * half;

		if (ch + 1 < job->c->in_c)
			gather_runs(job, runs, n_runs, ch + 1, gathered + ((ch + 1) % 2) * half);
		for (int64_t g = 0; g < n; g += LANES) {
			const float *tile[LANES];

			for (int k = 0; k < LANES; k++) {
				int64_t t = g + k < n ? g + k : g;
				int u = map->run[t];

				tile[k] = cur + u * 4 * SMALL_ROW + 2 * (t - run_start(&runs[u]));
			}
			input_gathered(tile, v + g / BLOCK * job->p->v_block + ch * CHANNEL_ROW + g % BLOCK, BLOCK);
		}
	}
}

/* V of an item's runs, channel by channel so that x is read a plane at a time. */
static void input_transform(const struct job *job, const struct run *runs, int n_runs, const struct tile_map *map,
			    int64_t n, float *v, float *gathered)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;

	if (p->narrow) {
		input_narrow(job, runs, n_runs, map, n, v, gathered);
		return;
	}
	for (int ch = 0; ch < c->in_c; ch++)
		for (int u = 0; u < n_runs; u++) {
			const struct run *r = &runs[u];
			const float *rows[4];
			int x0 = 2 * r->tx - c->pad[1];

			run_rows(job, r, ch, rows);
			for (int k = 0; k < r->len; k += LANES)
				input_tiles(rows, job->w, x0 + 2 * k,
					    v + r->block * p->v_block + ch * CHANNEL_ROW + r->lane + k, BLOCK,
					    (int)min64(LANES, r->len - k));
		}
}

/* Output channel o of the n tiles of an item of a narrow image, 8 at a time, scattered tile by tile. */
static void output_narrow(const struct job *job, const struct tile_map *map, int64_t n, int o, const float *m)
{
	const struct plan *p = job->p;
	int64_t plane_o = o * (int64_t)p->oh * p->ow;

	for (int64_t g = 0; g < n; g += LANES) {
		int valid = (int)min64(LANES, n - g);
		float *dst[LANES];

		for (int k = 0; k < valid; k++)
			dst[k] = job->y + map->out[g + k] + plane_o;
		output_scattered(m + g / BLOCK * p->m_block + o * CHANNEL_ROW + g % BLOCK, BLOCK, dst, map->cols + g,
				 map->rows + g, p->ow, valid);
	}
}

/* y from M of an item's runs, an output plane at a time; edge tiles write only their valid outputs. */
static void output_transform(const struct job *job, const struct run *runs, int n_runs, const struct tile_map *map,
			     int64_t n, const float *m)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	int64_t plane = (int64_t)p->oh * p->ow;

	if (p->narrow) {
		for (int o = 0; o < c->out_c; o++)
			output_narrow(job, map, n, o, m);
		return;
	}
	for (int o = 0; o < c->out_c; o++)
		for (int u = 0; u < n_runs; u++) {
			const struct run *r = &runs[u];
			int oy = 2 * r->ty;
			float *row = job->y + (r->sample * c->out_c + o) * plane + (int64_t)oy * p->ow;

			for (int k = 0; k < r->len; k += LANES) {
				int ox = 2 * (r->tx + k), valid = (int)min64(LANES, r->len - k);
				const float *src = m + r->block * p->m_block + o * CHANNEL_ROW + r->lane + k;

				output_tiles(src, BLOCK, valid, row + ox, oy + 1 < p->oh ? row + p->ow + ox : NULL,
					     (int)min64(2 * valid, p->ow - ox));
			}
		}
}

/* The tile map of an item of a narrow image (out_c output channels), from its runs. */
static void map_tiles(const struct plan *p, int out_c, const struct run *runs, int n_runs, struct tile_map *map)
{
	for (int u = 0; u < n_runs; u++) {
		const struct run *r = &runs[u];

		for (int i = 0; i < r->len; i++) {
			int t = run_start(r) + i, ox = 2 * (r->tx + i), oy = 2 * r->ty;

			map->run[t] = (int16_t)u;
			map->out[t] = r->sample * out_c * p->oh * p->ow + (int64_t)oy * p->ow + ox;
			map->cols[t] = ox + 1 < p->ow ? 2 : 1;
			map->rows[t] = oy + 1 < p->oh ? 2 : 1;
		}
	}
}

/*
 * One work item: transform its patches, M[xi] = U[xi] V[xi] for the 16 points (a GEMM
 * per block, point by point so that U[xi] stays in cache), transform back. The bias rides
 * on the GEMM of BIAS_POINT, which A^T . A spreads to all four outputs.
 */
static void run_item(const struct job *job, int64_t item, float *v, float *m)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	struct run runs[ITEM_TILES_MAX];
	struct tile_map map;
	int64_t t0 = item * p->item_tiles, n = min64(p->item_tiles, p->tiles - t0);
	int64_t u_size = (int64_t)xf_nn_gemm_packed_size(c->out_c, c->in_c);
	int n_runs = split_runs(p, t0, n, runs);

	if (p->narrow)
		map_tiles(p, c->out_c, runs, n_runs, &map);
	input_transform(job, runs, n_runs, &map, n, v, m + (p->item_tiles + BLOCK - 1) / BLOCK * p->m_block);
	for (int xi = 0; xi < POINTS; xi++)
		for (int64_t b = 0; b * BLOCK < n; b++)
			xf_nn_gemm(job->packed + xi * u_size, c->out_c, min64(BLOCK, n - b * BLOCK), c->in_c,
				   v + b * p->v_block + xi * BLOCK, CHANNEL_ROW, xi == BIAS_POINT ? c->bias : NULL,
				   m + b * p->m_block + xi * BLOCK, CHANNEL_ROW);
	output_transform(job, runs, n_runs, &map, n, m);
}

static void item_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct job *job = ctx;
	float *slot = job->work + atomic_fetch_add(&job->next_slot, 1) * job->p->work_floats;
	float *v = (float *)(((uintptr_t)slot + 63) & ~(uintptr_t)63);   /* whole cache lines for the 8-float vectors */
	float *m = v + (job->p->item_tiles + BLOCK - 1) / BLOCK * job->p->v_block;

	for (int64_t t = begin; t < end; t++)
		run_item(job, t, v, m);
}

int xf_winograd_forward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
			float *scratch, int threads, struct xf_err *err)
{
	struct plan p;
	struct job job = { c, &p, x, h, w, y, c->packed, scratch, 0 };

	if (make_plan(c, h, w, batch, threads, &p, err) < 0)
		return -1;
	if (batch <= 0)
		return 0;
	if (p.packed_floats) {
		struct pack_job pack = { c, scratch };

		xf_parallel_for(n_panels(c), threads, 1, pack_chunk, &pack);
		job.packed = scratch, job.work = scratch + p.packed_floats;
	}
	xf_parallel_for(p.n_items, p.workers, 1, item_chunk, &job);
	return 0;
}
