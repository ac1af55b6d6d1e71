/*
 * tsne_fft: FFT-accelerated interpolation of t-SNE's repulsion; see tsne_fft.h and tsne.md
 * section 5. One call:
 *
 *   1. grid: a square of n_b boxes per dimension over [min, max] of all coordinates, p
 *      equispaced interpolation nodes per box, m = p n_b nodes per dimension;
 *   2. points (parallel): coordinates relative to the grid centre, box, Lagrange weights;
 *      then a stable counting sort of the points by box (serial);
 *   3. grids (parallel): the charges spread onto the nodes, one box row per work item, so
 *      each node has one writer that adds its points in index order; the kernels' spectra;
 *   4. convolution (parallel, see below): each charge grid zero-padded to 2m x 2m, times
 *      the kernel's spectrum: a linear convolution thanks to the padding; Z's share of
 *      each spectrum column;
 *   5. gather (parallel over points): interpolate the potentials back to each point and
 *      assemble its force.
 *
 * Every work item writes only its own outputs and sums in a fixed order, and Z is summed
 * serially, so results do not depend on how items are spread over threads. The threads are
 * helpers that the workspace keeps for its lifetime, woken for each phase.
 *
 * Terms. Charge 0 is 1, charges 1..dim the coordinates; output o convolves charge o with
 * K_{dof+1}(r^2) = (1 + r^2/dof)^-(dof+1), which gives the forces. Z is the sum over points of
 * charge 0 convolved with K_dof, interpolated: that is <W_0, K_dof * W_0> over the nodes, W_0
 * the spread unit charge (interpolating and spreading use the same weights), which Parseval
 * turns into sum_k K_dof^(k) |W_0^(k)|^2 over the padded spectrum. So Z comes from charge 0's
 * forward transform and a second kernel spectrum, with no grid of its own: FIt-SNE and
 * openTSNE spend a fourth charge (|y|^2, dof = 1) or a fourth output (dof != 1) on it. The
 * sum includes each point with itself, and like theirs, Z takes K(0) = 1 off for each. The
 * interpolated self terms (s = sum over node pairs of L(a) L(b) K(a - b)) were subtracted
 * instead for a while: Z was then right to 1e-3 on sparse points where it is now off by
 * up to tens of percent, but the embeddings came out worse (3 blobs of 100 points: exact
 * KL 0.578 against 0.549 now and 0.555 with exact repulsion), apparently because the too
 * small Z makes up for the near-field repulsion that interpolation blunts.
 *
 * The 2-D convolution skips the padding. Only the m x m quadrant [0, m)^2 of a padded
 * charge grid is nonzero, and only that quadrant of the result is read (the kernel is in
 * circulant order, centred on node 0, and nodes are less than m apart). So a grid keeps m
 * rows of ld >= 2(m + 1) doubles, and (a) its m rows get real-to-complex transforms of length
 * 2m (their second halves zero), ROW_CHUNK rows at a time, transposed on the way into spec,
 * the spectra stored column by column (m + 1 columns of m); (b) the columns, FFT_COLS at a
 * time, are copied into a worker's buffer zero-padded to 2m, transformed, multiplied by the
 * kernel's spectrum, transformed back, and their first m entries copied back; (c) the rows
 * are transposed back and get complex-to-real transforms into the grid. Against one 2m x 2m
 * transform each way this skips half the row transforms and every pass over the padding,
 * all copies are blocked or contiguous, and each column block's round trip stays in cache.
 * Every transform is out of place (FFTW's in-place plans add a copy of their own). The
 * FFTW_ESTIMATE plans are made once per size; they only run in worker threads.
 *
 * The kernel's spectrum. The 2m x 2m kernel grid in circulant order, K(s^2 (di^2 + dj^2))
 * with di = min(i, 2m - i) and zero at distance m, is real and even in both axes, so its DFT
 * is real, even and (the kernel being symmetric in di and dj) symmetric. Each pass packs two
 * real even sequences into one complex transform (the real and imaginary parts of the result
 * are their two spectra, exactly the DFT of each): rows di = 0..m two at a time, then the
 * resulting columns two at a time. kern[q] holds the spectrum for bins 0..m in each axis,
 * which is all the folded r2c layout needs: bin kx > m equals bin 2m - kx.
 */
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsne_fft.h"

#define INLINE static inline __attribute__((always_inline))

/*
 * fn(..., p) with p the compile-time constant 3 when nodes_per_box is 3 (the default), so
 * that the per-point loops over p nodes unroll; any other p runs the same code with it
 * read at run time.
 */
#define WITH_P(ws, fn, ...) \
	((ws)->par.nodes_per_box == 3 ? fn(__VA_ARGS__, 3) : fn(__VA_ARGS__, (ws)->par.nodes_per_box))

#define FFT_MAX_THREADS 64
#define PLAN_CACHE 8          /* grid sizes whose plans are kept; the extent drifts slowly */
#define MAX_TERMS 3           /* dim + 1 charges and outputs */
#define POINT_CHUNK 512       /* points per work claim */
#define ROW_CHUNK 16          /* grid rows per work item of a row transform phase */
#define FFT_COLS 8            /* complex columns per block of the column phase */
/*
 * A worker's scratch, in columns of 2m complex values: two blocks of FFT_COLS columns, which
 * also hold a ROW_CHUNK x (m + 1) tile (16 (m + 1) <= 32 m) or a kernel line and its spectrum.
 */
#define WORK_COLS (2 * FFT_COLS)
_Static_assert(ROW_CHUNK <= WORK_COLS, "a tile of ROW_CHUNK rows fits a worker's scratch");
#define ALIGN_DOUBLES 8       /* grid rows start on 64-byte boundaries, like the buffers */
#define SPIN 1000             /* polls (pause instructions) of an idle helper before it sleeps */

struct plan_entry {
	int m2;                   /* padded FFT size per dimension; 0: unused slot */
	unsigned long last_use;   /* for evicting the least recently used */
	fftw_plan row_fwd, row_inv;   /* one row: r2c and c2r of length m2, out of place */
	fftw_plan col_fwd, col_inv;   /* 2-D: FFT_COLS contiguous complex columns of length m2 */
	fftw_plan one;            /* one complex forward transform of length m2 (the kernel) */
};

struct xf_tsne_fft;
typedef void (*item_fn)(struct xf_tsne_fft *ws, int64_t item, int worker);

struct phase {
	item_fn fn;
	int64_t count, chunk;
	atomic_llong next;        /* first unclaimed item */
};

struct helper {
	struct xf_tsne_fft *ws;
	int id;                   /* worker number, 1.. (the caller is 0) */
};

struct xf_tsne_fft {
	int dim, threads;
	double dof;
	struct xf_tsne_fft_params par;
	int nterms;               /* charges and outputs: dim + 1 */
	double node[XF_TSNE_FFT_MAX_NODES];  /* local node positions t_k = (k + 1/2)/p */
	double inv_den[XF_TSNE_FFT_MAX_NODES];   /* Lagrange 1 / prod_{l != k} (t_k - t_l) */

	/* this call */
	const double *y;
	double *frep;
	int64_t n;
	int nb, m, m2;            /* boxes and nodes per dimension, padded FFT size 2m */
	size_t ld;                /* row stride of the grids in doubles: >= 2(m + 1) */
	double x0, h;             /* grid start (relative to its centre) and box width */
	double centre;            /* subtracted from every coordinate */

	/*
	 * Per point, capacity cap_n. Only box is indexed by point; the rest by sorted position,
	 * so that spreading and gathering, which go box by box, read memory in order.
	 */
	int64_t cap_n;
	int32_t *box;             /* box id of each point: row-major over boxes */
	int64_t *order;           /* points sorted by box, stable */
	int32_t *sbox;            /* box id of order[t] */
	double *yr;               /* n x dim coordinates relative to the centre */
	double *lw;               /* n x dim x p Lagrange weights */
	int64_t *start;           /* nb^dim + 1 offsets into order */
	int64_t cap_box;

	/*
	 * Buffers, capacities in doubles: grid[o] (2-D: m rows of ld; 1-D: one line of ld) and
	 * 2-D spec[o] (m + 1 columns of m complex values); kern[q] and half[q] ((m + 1)^2, 1-D:
	 * m + 1): the spectrum of kernel q (0: K_{dof+1}, 1: K_dof), and its rows' spectra
	 * half-way through; work[w]: worker w's complex scratch, WORK_COLS columns of 2m.
	 */
	size_t cap_grid, cap_kern, cap_work;
	double *grid[MAX_TERMS];
	fftw_complex *spec[MAX_TERMS];
	double *zcol;             /* Z's share of each spectrum column (1-D: one) */
	double *kern[2], *half[2];
	fftw_complex *work[FFT_MAX_THREADS];
	struct plan_entry plans[PLAN_CACHE];
	unsigned long uses;
	struct plan_entry *plan;  /* this call's, from the cache */

	/* helper threads, started with the workspace, parked between phases */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	atomic_ulong gen;         /* phases started: a change sends the helpers to ph */
	int busy;                 /* helpers that joined the current phase and are in it */
	bool closed;              /* the current phase takes no more helpers */
	bool quit, pool;          /* pool: mu, go and done are initialised */
	int n_helpers;
	pthread_t tid[FFT_MAX_THREADS];
	struct helper helpers[FFT_MAX_THREADS];
	struct phase *ph;
};

/* ---- threads ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void drain(struct xf_tsne_fft *ws, struct phase *ph, int worker)
{
	long long b;

	while ((b = atomic_fetch_add(&ph->next, ph->chunk)) < ph->count) {
		int64_t e = b + ph->chunk < ph->count ? b + ph->chunk : ph->count;

		for (int64_t i = b; i < e; i++)
			ph->fn(ws, i, worker);
	}
}

/*
 * A helper polls for the next phase for a while (phases follow each other within
 * microseconds), then sleeps on `go`; gen only changes under mu, so a sleeper that checks
 * it under mu cannot miss one. It joins a phase only while the phase is open: one that
 * wakes after the caller has claimed every item (the machine being busy) is not waited for.
 */
static void *helper_main(void *arg)
{
	struct helper *h = arg;
	struct xf_tsne_fft *ws = h->ws;
	unsigned long seen = 0;

	for (;;) {
		struct phase *ph = NULL;

		for (int k = 0; k < SPIN && atomic_load(&ws->gen) == seen; k++)
			cpu_relax();
		pthread_mutex_lock(&ws->mu);
		while (atomic_load(&ws->gen) == seen && !ws->quit)
			pthread_cond_wait(&ws->go, &ws->mu);
		if (ws->quit) {
			pthread_mutex_unlock(&ws->mu);
			return NULL;
		}
		seen = atomic_load(&ws->gen);
		if (!ws->closed) {
			ph = ws->ph;
			ws->busy++;
		}
		pthread_mutex_unlock(&ws->mu);
		if (!ph)
			continue;
		drain(ws, ph, h->id);
		pthread_mutex_lock(&ws->mu);
		if (--ws->busy == 0 && ws->closed)
			pthread_cond_signal(&ws->done);
		pthread_mutex_unlock(&ws->mu);
	}
}

/* Helpers for threads - 1 more workers; fewer if some cannot start (the caller does their share). */
static void start_pool(struct xf_tsne_fft *ws)
{
	if (ws->threads < 2 || pthread_mutex_init(&ws->mu, NULL))
		return;
	if (pthread_cond_init(&ws->go, NULL)) {
		pthread_mutex_destroy(&ws->mu);
		return;
	}
	if (pthread_cond_init(&ws->done, NULL)) {
		pthread_cond_destroy(&ws->go);
		pthread_mutex_destroy(&ws->mu);
		return;
	}
	ws->pool = true;
	ws->closed = true;
	atomic_init(&ws->gen, 0);
	for (int t = 1; t < ws->threads; t++) {
		ws->helpers[ws->n_helpers] = (struct helper){ ws, ws->n_helpers + 1 };
		if (pthread_create(&ws->tid[ws->n_helpers], NULL, helper_main, &ws->helpers[ws->n_helpers]))
			break;
		ws->n_helpers++;
	}
}

static void stop_pool(struct xf_tsne_fft *ws)
{
	if (!ws->pool)
		return;
	pthread_mutex_lock(&ws->mu);
	ws->quit = true;
	pthread_cond_broadcast(&ws->go);
	pthread_mutex_unlock(&ws->mu);
	for (int t = 0; t < ws->n_helpers; t++)
		pthread_join(ws->tid[t], NULL);
	pthread_cond_destroy(&ws->done);
	pthread_cond_destroy(&ws->go);
	pthread_mutex_destroy(&ws->mu);
}

/*
 * fn over items [0, count), claimed in chunks by the caller (worker 0) and the helpers.
 * Items are independent, so the claiming order does not matter. Once the caller finds no
 * item left, it closes the phase and waits only for the helpers still working in it.
 */
static void run_phase(struct xf_tsne_fft *ws, item_fn fn, int64_t count, int64_t chunk)
{
	struct phase ph = { .fn = fn, .count = count, .chunk = chunk };

	atomic_init(&ph.next, 0);
	if (ws->n_helpers == 0 || count <= chunk) {
		drain(ws, &ph, 0);
		return;
	}
	pthread_mutex_lock(&ws->mu);
	ws->ph = &ph;
	ws->closed = false;
	atomic_fetch_add(&ws->gen, 1);
	pthread_cond_broadcast(&ws->go);
	pthread_mutex_unlock(&ws->mu);
	drain(ws, &ph, 0);
	pthread_mutex_lock(&ws->mu);
	ws->closed = true;
	while (ws->busy > 0)
		pthread_cond_wait(&ws->done, &ws->mu);
	pthread_mutex_unlock(&ws->mu);
}

/* ---- grid ---- */

/*
 * Whether FFTW's estimated plans are fast for transforms of length n: no prime factor above
 * 7 (its codelets), and at most one factor 3. On an AMD EPYC (Zen 4), lengths 6 nb with 9 | 6 nb
 * (nb = 54, 72, 90, 108, 135, 150, 162 ...) ran 1.2 to 2 times slower per n log n than their
 * neighbours without, so a slightly larger grid is cheaper.
 */
static bool fast_size(int n)
{
	static const int primes[] = { 2, 3, 5, 7 };
	int threes = 0;

	for (int i = 0; i < 4; i++)
		while (n % primes[i] == 0) {
			n /= primes[i];
			threes += primes[i] == 3;
		}
	return n == 1 && threes <= 1;
}

/* Boxes per dimension for a span: extent / box_width, at least min_boxes, rounded up so that
 * the FFT length 2 p n_b is fast_size, at most max_boxes (any size: FFTW takes any). */
static int box_count(const struct xf_tsne_fft_params *par, double extent)
{
	double want = floor(extent / par->box_width);
	int nb;

	if (!(want < par->max_boxes))
		return par->max_boxes;
	nb = want > par->min_boxes ? (int)want : par->min_boxes;
	while (!fast_size(2 * par->nodes_per_box * nb) && nb < par->max_boxes)
		nb++;
	return nb < par->max_boxes ? nb : par->max_boxes;
}

/*
 * Min and max over all coordinates, each tracked on its own (FIt-SNE's and openTSNE's
 * if/else-if can miss the minimum), and every value checked for finiteness on the way.
 */
static int coord_range(const double *y, int64_t count, double *lo, double *hi, struct xf_err *err)
{
	double a = INFINITY, b = -INFINITY;

	for (int64_t i = 0; i < count; i++) {
		double v = y[i];

		if (!isfinite(v))
			return xf_err_set(err, XF_E_FORMAT, "tsne fft: coordinate %lld is %g", (long long)i, v);
		if (v < a)
			a = v;
		if (v > b)
			b = v;
	}
	*lo = a;
	*hi = b;
	return 0;
}

/*
 * Grid geometry for this call, in coordinates relative to the centre of [lo, hi] (Z and the
 * forces are translation invariant). All points equal (or within rounding of it): a grid of
 * one box width around them, so that h > 0 and the interpolation stays accurate.
 *
 * The grid fits the points exactly, so it stretches with the embedding from one iteration
 * to the next and each point keeps about the same place among the nodes: its interpolation
 * error changes slowly. Grids that stay put while the points move (box widths rounded to a
 * ladder, so that kernel spectra could be reused) or that are shifted at random left
 * MNIST's final KL 0.04 to 0.05 worse: the same error size, but as noise.
 */
static int set_geometry(struct xf_tsne_fft *ws, struct xf_err *err)
{
	double lo = 0, hi = 0, extent;

	if (coord_range(ws->y, ws->n * ws->dim, &lo, &hi, err) < 0)
		return -1;
	extent = hi - lo;
	if (!isfinite(extent))
		return xf_err_set(err, XF_E_FORMAT, "tsne fft: coordinates span [%g, %g], too wide", lo, hi);
	ws->centre = lo / 2 + hi / 2;
	if (extent < 1e6 * DBL_MIN)   /* also keeps h a normal number */
		extent = ws->par.box_width;
	ws->nb = box_count(&ws->par, extent);
	ws->m = ws->par.nodes_per_box * ws->nb;
	ws->m2 = 2 * ws->m;
	ws->ld = (2 * ((size_t)ws->m + 1) + ALIGN_DOUBLES - 1) / ALIGN_DOUBLES * ALIGN_DOUBLES;
	ws->h = extent / ws->nb;
	ws->x0 = -extent / 2;
	return 0;
}

/* ---- buffers and plans ---- */

static void free_grids(struct xf_tsne_fft *ws)
{
	for (int i = 0; i < MAX_TERMS; i++) {
		fftw_free(ws->grid[i]), ws->grid[i] = NULL;
		fftw_free(ws->spec[i]), ws->spec[i] = NULL;
	}
	fftw_free(ws->zcol), ws->zcol = NULL;
	for (int i = 0; i < 2; i++) {
		fftw_free(ws->kern[i]), ws->kern[i] = NULL;
		fftw_free(ws->half[i]), ws->half[i] = NULL;
	}
	for (int i = 0; i < FFT_MAX_THREADS; i++)
		fftw_free(ws->work[i]), ws->work[i] = NULL;
	ws->cap_grid = ws->cap_kern = ws->cap_work = 0;
}

/* Allocate count buffers of `bytes` into bufs; false (and nothing kept) if one fails. */
static bool alloc_all(void **bufs, int count, size_t bytes)
{
	for (int i = 0; i < count; i++)
		if (!(bufs[i] = fftw_malloc(bytes)))
			return false;
	return true;
}

/*
 * Buffers for this call's size, grown (never shrunk) as the embedding spreads out. Cached
 * plans stay valid: they run through FFTW's new-array interface, which only needs the
 * alignment that fftw_malloc and the row stride ld guarantee.
 */
static int ensure_grids(struct xf_tsne_fft *ws, struct xf_err *err)
{
	size_t m1 = (size_t)ws->m + 1, rows = ws->dim == 2 ? (size_t)ws->m : 1;
	size_t ngrid = rows * ws->ld, nkern = ws->dim == 2 ? m1 * m1 : m1;
	size_t nwork = WORK_COLS * (size_t)ws->m2 * 2;
	int workers = ws->n_helpers + 1;
	bool ok;

	if (ngrid <= ws->cap_grid && nkern <= ws->cap_kern && nwork <= ws->cap_work)
		return 0;
	free_grids(ws);
	if (ngrid > SIZE_MAX / sizeof(double) / 8)
		return xf_err_set(err, XF_E_NOMEM, "tsne fft: a %d x %d grid does not fit in memory", ws->m2, ws->m2);
	ok = alloc_all((void **)ws->grid, ws->nterms, ngrid * sizeof(double)) &&
	     (ws->dim == 1 || alloc_all((void **)ws->spec, ws->nterms, ngrid * sizeof(double))) &&
	     alloc_all((void **)ws->kern, 2, nkern * sizeof(double)) &&
	     alloc_all((void **)ws->half, 2, nkern * sizeof(double)) &&
	     alloc_all((void **)&ws->zcol, 1, m1 * sizeof(double)) &&
	     alloc_all((void **)ws->work, workers, nwork * sizeof(double));
	if (!ok) {
		free_grids(ws);
		return xf_err_nomem(err, (2 * ngrid * ws->nterms + 4 * nkern + nwork * workers) * sizeof(double));
	}
	ws->cap_grid = ngrid;
	ws->cap_kern = nkern;
	ws->cap_work = nwork;
	return 0;
}

static void destroy_plans(struct plan_entry *e)
{
	fftw_plan *all[] = { &e->row_fwd, &e->row_inv, &e->col_fwd, &e->col_inv, &e->one };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (*all[i])
			fftw_destroy_plan(*all[i]);
	memset(e, 0, sizeof(*e));
}

/*
 * The plans for padded size m2, made on the current buffers (grid row 0, worker 0's scratch),
 * all out of place between a grid row or scratch column 0 and scratch column FFT_COLS (1-D:
 * in place on the line, which is tiny).
 */
static bool make_plans(struct xf_tsne_fft *ws, struct plan_entry *e, int m2)
{
	unsigned flags = FFTW_ESTIMATE;
	double *g = ws->grid[0];
	fftw_complex *w = ws->work[0], *w2 = w + (size_t)FFT_COLS * m2, *c = ws->dim == 2 ? w2 : (fftw_complex *)g;
	int n = m2;

	e->row_fwd = fftw_plan_dft_r2c_1d(m2, g, c, flags);
	e->row_inv = fftw_plan_dft_c2r_1d(m2, c, g, flags);
	e->one = fftw_plan_dft_1d(m2, w, w2, FFTW_FORWARD, flags);
	if (ws->dim == 2) {
		e->col_fwd = fftw_plan_many_dft(1, &n, FFT_COLS, w, NULL, 1, m2, w2, NULL, 1, m2, FFTW_FORWARD, flags);
		e->col_inv = fftw_plan_many_dft(1, &n, FFT_COLS, w2, NULL, 1, m2, w, NULL, 1, m2, FFTW_BACKWARD, flags);
	}
	return e->row_fwd && e->row_inv && e->one && (ws->dim == 1 || (e->col_fwd && e->col_inv));
}

/*
 * Plans for this call's size, from the cache or made now (in the calling thread: the planner
 * is not thread-safe), evicting the least recently used. FFTW_ESTIMATE picks the algorithm
 * without timing anything, so it is the same every run.
 */
static int get_plans(struct xf_tsne_fft *ws, struct xf_err *err)
{
	struct plan_entry *e = &ws->plans[0];
	int m2 = ws->m2;

	for (int i = 0; i < PLAN_CACHE; i++) {
		if (ws->plans[i].m2 == m2) {
			e = &ws->plans[i];
			goto found;
		}
		if (ws->plans[i].last_use < e->last_use)
			e = &ws->plans[i];
	}
	destroy_plans(e);
	if (!make_plans(ws, e, m2)) {
		destroy_plans(e);
		return xf_err_set(err, XF_E_LIMIT, "tsne fft: FFTW cannot plan a transform of size %d", m2);
	}
	e->m2 = m2;
found:
	e->last_use = ++ws->uses;
	ws->plan = e;
	return 0;
}

static void free_points(struct xf_tsne_fft *ws)
{
	free(ws->box), free(ws->order), free(ws->sbox), free(ws->yr), free(ws->lw);
	ws->box = ws->sbox = NULL;
	ws->order = NULL;
	ws->yr = ws->lw = NULL;
	ws->cap_n = 0;
}

/* Point buffers for n points and nb^dim boxes, grown as needed. */
static int ensure_points(struct xf_tsne_fft *ws, struct xf_err *err)
{
	int64_t n = ws->n, nbox = ws->dim == 2 ? (int64_t)ws->nb * ws->nb : ws->nb;
	size_t d = (size_t)ws->dim, p = (size_t)ws->par.nodes_per_box;

	if (n > ws->cap_n) {
		size_t un = (size_t)n;

		free_points(ws);
		ws->box = malloc(un * sizeof(int32_t));
		ws->order = malloc(un * sizeof(int64_t));
		ws->sbox = malloc(un * sizeof(int32_t));
		ws->yr = malloc(un * d * sizeof(double));
		ws->lw = malloc(un * d * p * sizeof(double));
		ws->cap_n = ws->box && ws->order && ws->sbox && ws->yr && ws->lw ? n : 0;
		if (!ws->cap_n)
			return xf_err_nomem(err, un * (d * (p + 1) * sizeof(double) + 20));
	}
	if (nbox + 1 > ws->cap_box) {
		free(ws->start);
		ws->start = malloc((size_t)(nbox + 1) * sizeof(int64_t));
		ws->cap_box = ws->start ? nbox + 1 : 0;
		if (!ws->start)
			return xf_err_nomem(err, (size_t)(nbox + 1) * sizeof(int64_t));
	}
	return 0;
}

/* ---- step 2: points ---- */

/* Lagrange weights at local position u in [0, 1] (slightly beyond at the grid's edges). */
INLINE void lagrange(const struct xf_tsne_fft *ws, double u, double *w, int p)
{
	for (int k = 0; k < p; k++) {
		double num = ws->inv_den[k];

		for (int l = 0; l < p; l++)
			if (l != k)
				num *= u - ws->node[l];
		w[k] = num;
	}
}

/* Position of coordinate v (absolute) in box units from the grid's start, and its box. */
static int box_of(const struct xf_tsne_fft *ws, double v, double *pos)
{
	int b;

	*pos = (v - ws->centre - ws->x0) / ws->h;
	b = (int)floor(*pos);
	return b < 0 ? 0 : b >= ws->nb ? ws->nb - 1 : b;   /* the max lands on the edge nb */
}

/* The box of point i. */
static void locate_point(struct xf_tsne_fft *ws, int64_t i, int worker)
{
	int box = 0;
	double pos;

	(void)worker;
	for (int d = 0; d < ws->dim; d++)
		box = box * ws->nb + box_of(ws, ws->y[i * ws->dim + d], &pos);
	ws->box[i] = box;
}

/* Relative coordinates and weights of the point at sorted position t. */
INLINE void prepare_point_p(struct xf_tsne_fft *ws, int64_t t, int p)
{
	int dim = ws->dim;
	int64_t j = ws->order[t];

	for (int d = 0; d < dim; d++) {
		double v = ws->y[j * dim + d], pos;
		int b = box_of(ws, v, &pos);

		ws->yr[t * dim + d] = v - ws->centre;
		lagrange(ws, pos - b, ws->lw + (t * dim + d) * p, p);
	}
	ws->sbox[t] = ws->box[j];
}

static void prepare_point(struct xf_tsne_fft *ws, int64_t t, int worker)
{
	(void)worker;
	WITH_P(ws, prepare_point_p, ws, t);
}

/* Stable counting sort by box: each box's points in index order, for a fixed summation order. */
static void sort_by_box(struct xf_tsne_fft *ws)
{
	int64_t nbox = ws->dim == 2 ? (int64_t)ws->nb * ws->nb : ws->nb, *start = ws->start;

	memset(start, 0, (size_t)(nbox + 1) * sizeof(*start));
	for (int64_t i = 0; i < ws->n; i++)
		start[ws->box[i] + 1]++;
	for (int64_t b = 0; b < nbox; b++)
		start[b + 1] += start[b];
	for (int64_t i = 0; i < ws->n; i++)
		ws->order[start[ws->box[i]]++] = i;
	/* the scatter advanced each start to the next box's; shift back */
	memmove(start + 1, start, (size_t)nbox * sizeof(*start));
	start[0] = 0;
}

/* ---- step 3: charge grids and the kernel's spectrum ---- */

/*
 * The kernels at squared distance r2, divided by the FFT's unnormalised scale so that the
 * c2r output needs no rescaling: k[0] = K_{dof+1}, k[1] = K_dof.
 */
static void kernels(const struct xf_tsne_fft *ws, double r2, double scale, double *k)
{
	double t = 1 + (ws->dof == 1 ? r2 : r2 / ws->dof), inv = 1 / t;

	k[1] = ws->dof == 1 ? scale * inv : scale * pow(t, -ws->dof);
	k[0] = k[1] * inv;
}

/*
 * Kernel q's row di (0..m) in circulant order, as the real or imaginary part (part 0 or 1)
 * of the complex line z of length 2m: K(s^2 (di^2 + dj^2)) at dj and 2m - dj, and 0 at
 * distance m in either axis (in the circulant that entry pairs nodes m apart, which never
 * interact). 1-D: the line itself (di = 0, no scale of the second axis).
 */
static void kernel_line(const struct xf_tsne_fft *ws, int di, fftw_complex *z, int part, double *k2)
{
	int m = ws->m, m2 = ws->m2;
	double s = ws->h / ws->par.nodes_per_box, k[2] = { 0, 0 };
	double scale = ws->dim == 2 ? 1.0 / ((double)m2 * m2) : 1.0 / m2;

	for (int dj = 0; dj < m; dj++) {
		if (di < m)
			kernels(ws, s * s * ((double)di * di + (double)dj * dj), scale, k);
		z[dj][part] = di < m ? k[0] : 0;
		k2[dj] = di < m ? k[1] : 0;
	}
	z[m][part] = 0;
	k2[m] = 0;
	for (int dj = m + 1; dj < m2; dj++)
		z[dj][part] = z[m2 - dj][part];
}

/* The same for kernel 1 from its values k2[0..m]. */
static void mirror_line(const struct xf_tsne_fft *ws, const double *k2, fftw_complex *z, int part)
{
	for (int dj = 0; dj <= ws->m; dj++)
		z[dj][part] = k2[dj];
	for (int dj = ws->m + 1; dj < ws->m2; dj++)
		z[dj][part] = k2[ws->m2 - dj];
}

/*
 * Rows 2 pair and 2 pair + 1 of each kernel's first pass (half[q][di][kx], kx = 0..m), from
 * one complex transform of the two real even rows. 1-D (pair 0): the whole spectrum.
 */
static void kernel_rows(struct xf_tsne_fft *ws, int pair, int worker)
{
	fftw_complex *z = ws->work[worker], *zo = z + (size_t)FFT_COLS * ws->m2;
	double *k2 = (double *)(z + ws->m2), *k2b = k2 + ws->m + 1;
	size_t m1 = (size_t)ws->m + 1;
	int di = 2 * pair;

	kernel_line(ws, di, z, 0, k2);
	if (ws->dim == 2) {
		kernel_line(ws, di + 1 <= ws->m ? di + 1 : ws->m, z, 1, k2b);
	} else {   /* one line: an empty imaginary part */
		memset(k2b, 0, m1 * sizeof(double));
		mirror_line(ws, k2b, z, 1);
	}
	for (int q = 0; q < 2; q++) {
		double *out = ws->dim == 2 ? ws->half[q] : ws->kern[q];

		if (q == 1) {
			mirror_line(ws, k2, z, 0);
			mirror_line(ws, k2b, z, 1);
		}
		fftw_execute_dft(ws->plan->one, z, zo);
		for (size_t kx = 0; kx < m1; kx++) {
			out[di * m1 + kx] = zo[kx][0];
			if (ws->dim == 2 && di + 1 <= ws->m)
				out[(di + 1) * m1 + kx] = zo[kx][1];
		}
	}
}

/*
 * Columns 2 pair and 2 pair + 1 of each kernel's second pass: the spectrum along di of the
 * first pass's even columns. Stored as kern[q][ky][kx] (by symmetry also [kx][ky]), so that
 * the column phase reads a column's factors in order.
 */
static void kernel_cols(struct xf_tsne_fft *ws, int pair, int worker)
{
	fftw_complex *z = ws->work[worker], *zo = z + (size_t)FFT_COLS * ws->m2;
	size_t m1 = (size_t)ws->m + 1;
	int ky = 2 * pair, ky1 = ky + 1 <= ws->m ? ky + 1 : ws->m;

	for (int q = 0; q < 2; q++) {
		const double *half = ws->half[q];

		for (size_t di = 0; di < m1; di++) {
			z[di][0] = half[di * m1 + ky];
			z[di][1] = half[di * m1 + ky1];
		}
		for (int di = ws->m + 1; di < ws->m2; di++) {
			z[di][0] = z[ws->m2 - di][0];
			z[di][1] = z[ws->m2 - di][1];
		}
		fftw_execute_dft(ws->plan->one, z, zo);
		for (size_t kx = 0; kx < m1; kx++) {
			ws->kern[q][ky * m1 + kx] = zo[kx][0];
			ws->kern[q][ky1 * m1 + kx] = zo[kx][1];
		}
	}
}

/* The charges of the point at sorted position t: 1 and its coordinates. */
static void charges(const struct xf_tsne_fft *ws, int64_t t, double *q)
{
	q[0] = 1;
	for (int d = 0; d < ws->dim; d++)
		q[1 + d] = ws->yr[t * ws->dim + d];
}

/* Spread the points of 2-D box row bx onto its p node rows (zeroed first, padding included). */
INLINE void spread_row_p(struct xf_tsne_fft *ws, int bx, int p)
{
	int nc = ws->nterms;
	size_t ld = ws->ld, row0 = (size_t)bx * p * ld;

	for (int c = 0; c < nc; c++)
		memset(ws->grid[c] + row0, 0, (size_t)p * ld * sizeof(double));
	for (int by = 0; by < ws->nb; by++) {
		int64_t b = (int64_t)bx * ws->nb + by;

		for (int64_t t = ws->start[b]; t < ws->start[b + 1]; t++) {
			const double *lx = ws->lw + t * 2 * p, *ly = lx + p;
			double q[MAX_TERMS];

			charges(ws, t, q);
			for (int k = 0; k < p; k++)
				for (int l = 0; l < p; l++) {
					size_t at = row0 + (size_t)k * ld + (size_t)by * p + l;
					double w = lx[k] * ly[l];

					for (int c = 0; c < nc; c++)
						ws->grid[c][at] += w * q[c];
				}
		}
	}
}

static void spread_row(struct xf_tsne_fft *ws, int bx)
{
	WITH_P(ws, spread_row_p, ws, bx);
}

/* Spread the points of 1-D box b onto its p nodes; box 0 also zeroes the padding. */
static void spread_box(struct xf_tsne_fft *ws, int b)
{
	int p = ws->par.nodes_per_box, nc = ws->nterms;
	size_t at = (size_t)b * p;

	for (int c = 0; c < nc; c++) {
		memset(ws->grid[c] + at, 0, (size_t)p * sizeof(double));
		if (b == 0)
			memset(ws->grid[c] + ws->m, 0, (ws->ld - ws->m) * sizeof(double));
	}
	for (int64_t t = ws->start[b]; t < ws->start[b + 1]; t++) {
		double q[MAX_TERMS];

		charges(ws, t, q);
		for (int k = 0; k < p; k++)
			for (int c = 0; c < nc; c++)
				ws->grid[c][at + k] += ws->lw[t * p + k] * q[c];
	}
}

/* Items 0..nb - 1: box rows (1-D: boxes) to spread; then pairs of kernel rows. */
static void grid_item(struct xf_tsne_fft *ws, int64_t item, int worker)
{
	if (item >= ws->nb)
		kernel_rows(ws, (int)(item - ws->nb), worker);
	else if (ws->dim == 2)
		spread_row(ws, (int)item);
	else
		spread_box(ws, (int)item);
}

/* ---- step 4: convolution ---- */

static int64_t row_items(const struct xf_tsne_fft *ws)
{
	return (ws->m + ROW_CHUNK - 1) / ROW_CHUNK;
}

/* Items: ROW_CHUNK rows of one charge grid, charge-major, to r2c; then kernel column pairs. */
static void rows_forward(struct xf_tsne_fft *ws, int64_t item, int worker)
{
	int64_t per = row_items(ws);
	int c = (int)(item / per), r0 = (int)(item % per) * ROW_CHUNK, rows, m = ws->m;
	fftw_complex *tile = ws->work[worker];
	size_t m1 = (size_t)m + 1;

	if (c >= ws->nterms) {
		kernel_cols(ws, (int)(item - ws->nterms * per), worker);
		return;
	}
	rows = m - r0 < ROW_CHUNK ? m - r0 : ROW_CHUNK;
	for (int r = 0; r < rows; r++)
		fftw_execute_dft_r2c(ws->plan->row_fwd, ws->grid[c] + (size_t)(r0 + r) * ws->ld, tile + r * m1);
	for (size_t ky = 0; ky < m1; ky++) {
		fftw_complex *col = ws->spec[c] + ky * m + r0;

		for (int r = 0; r < rows; r++) {
			col[r][0] = tile[r * m1 + ky][0];
			col[r][1] = tile[r * m1 + ky][1];
		}
	}
}

/* Items: ROW_CHUNK rows of one output's spectra, transposed back and c2r into its grid. */
static void rows_inverse(struct xf_tsne_fft *ws, int64_t item, int worker)
{
	int64_t per = row_items(ws);
	int o = (int)(item / per), r0 = (int)(item % per) * ROW_CHUNK, rows, m = ws->m;
	fftw_complex *tile = ws->work[worker];
	size_t m1 = (size_t)m + 1;

	rows = m - r0 < ROW_CHUNK ? m - r0 : ROW_CHUNK;
	for (size_t ky = 0; ky < m1; ky++) {
		const fftw_complex *col = ws->spec[o] + ky * m + r0;

		for (int r = 0; r < rows; r++) {
			tile[r * m1 + ky][0] = col[r][0];
			tile[r * m1 + ky][1] = col[r][1];
		}
	}
	for (int r = 0; r < rows; r++)
		fftw_execute_dft_c2r(ws->plan->row_inv, tile + r * m1, ws->grid[o] + (size_t)(r0 + r) * ws->ld);
}

/* Columns j0..j0 + w of spectrum s into buf, FFT_COLS columns of m2, zero-padded. */
static void load_columns(const struct xf_tsne_fft *ws, const fftw_complex *s, int j0, int w, fftw_complex *buf)
{
	size_t m = (size_t)ws->m, m2 = (size_t)ws->m2;

	for (int j = 0; j < FFT_COLS; j++) {
		if (j < w)
			memcpy(buf + j * m2, s + (j0 + j) * m, m * sizeof(fftw_complex));
		memset(buf + j * m2 + (j < w ? m : 0), 0, (j < w ? m : m2) * sizeof(fftw_complex));
	}
}

/* The first m entries of buf's w columns back into spectrum s's columns j0.. */
static void store_columns(const struct xf_tsne_fft *ws, const fftw_complex *buf, int j0, int w, fftw_complex *s)
{
	size_t m = (size_t)ws->m, m2 = (size_t)ws->m2;

	for (int j = 0; j < w; j++)
		memcpy(s + (j0 + j) * m, buf + j * m2, m * sizeof(fftw_complex));
}

/*
 * out = in times kernel q's spectrum for columns j0 + j (j < w): bin kx is bin
 * min(kx, m2 - kx). in and out may be the same.
 */
static void multiply_columns(const struct xf_tsne_fft *ws, int q, int j0, int w, const fftw_complex *in,
			     fftw_complex *out)
{
	size_t m1 = (size_t)ws->m + 1;

	for (int j = 0; j < w; j++) {
		const double *kh = ws->kern[q] + (size_t)(j0 + j) * m1;
		const fftw_complex *a = in + (size_t)j * ws->m2;
		fftw_complex *b = out + (size_t)j * ws->m2;

		for (int kx = 0; kx <= ws->m; kx++) {
			b[kx][0] = a[kx][0] * kh[kx];
			b[kx][1] = a[kx][1] * kh[kx];
		}
		for (int kx = ws->m + 1; kx < ws->m2; kx++) {
			b[kx][0] = a[kx][0] * kh[ws->m2 - kx];
			b[kx][1] = a[kx][1] * kh[ws->m2 - kx];
		}
	}
}

/*
 * Z's share of the unit charge's spectrum column ky (in b, all 2m bins): sum K_dof^ |W^|^2,
 * twice for the columns 0 < ky < m that stand for their mirror 2m - ky too.
 */
static double z_column(const struct xf_tsne_fft *ws, int ky, const fftw_complex *b)
{
	const double *kh = ws->kern[1] + (size_t)ky * (ws->m + 1);
	double sum = 0;

	for (int kx = 0; kx < ws->m2; kx++)
		sum += kh[kx <= ws->m ? kx : ws->m2 - kx] * (b[kx][0] * b[kx][0] + b[kx][1] * b[kx][1]);
	return ky == 0 || ky == ws->m ? sum : 2 * sum;
}

/*
 * Item: the spectrum columns FFT_COLS item.. of every charge: forward, times the kernel's
 * spectrum, back; and the unit charge's share of Z.
 */
static void column_block(struct xf_tsne_fft *ws, int64_t item, int worker)
{
	int j0 = (int)item * FFT_COLS, w = ws->m + 1 - j0 < FFT_COLS ? ws->m + 1 - j0 : FFT_COLS;
	size_t cols = (size_t)FFT_COLS * ws->m2;
	fftw_complex *a = ws->work[worker], *b = a + cols;

	for (int q = 0; q < ws->nterms; q++) {
		load_columns(ws, ws->spec[q], j0, w, a);
		fftw_execute_dft(ws->plan->col_fwd, a, b);
		for (int j = 0; q == 0 && j < w; j++)
			ws->zcol[j0 + j] = z_column(ws, j0 + j, b + (size_t)j * ws->m2);
		multiply_columns(ws, 0, j0, w, b, b);
		fftw_execute_dft(ws->plan->col_inv, b, a);
		store_columns(ws, a, j0, w, ws->spec[q]);
	}
}

/* 2-D: rows, columns, rows; the kernel's second pass rides along with the first row phase. */
static void convolve_2d(struct xf_tsne_fft *ws)
{
	int64_t per = row_items(ws), kcols = (ws->m + 2) / 2;

	run_phase(ws, rows_forward, ws->nterms * per + kcols, 1);
	run_phase(ws, column_block, (ws->m + FFT_COLS) / FFT_COLS, 1);
	run_phase(ws, rows_inverse, ws->nterms * per, 1);
}

/*
 * 1-D term j: r2c of its charge line, times the kernel's spectrum, c2r; the unit charge also
 * gives Z (as z_column, bins 0 < k < m standing for their mirrors 2m - k too).
 */
static void convolve_line(struct xf_tsne_fft *ws, int64_t j, int worker)
{
	fftw_complex *c = (fftw_complex *)ws->grid[j];
	const double *kh = ws->kern[0], *kz = ws->kern[1];

	(void)worker;
	fftw_execute_dft_r2c(ws->plan->row_fwd, ws->grid[j], c);
	if (j == 0) {
		double sum = 0;

		for (int k = 0; k <= ws->m; k++)
			sum += (k == 0 || k == ws->m ? 1 : 2) * kz[k] * (c[k][0] * c[k][0] + c[k][1] * c[k][1]);
		ws->zcol[0] = sum;
	}
	for (int k = 0; k <= ws->m; k++) {
		c[k][0] *= kh[k];
		c[k][1] *= kh[k];
	}
	fftw_execute_dft_c2r(ws->plan->row_inv, c, ws->grid[j]);
}

/* ---- step 5: gather and assemble ---- */

/* Interpolate the output potentials phi[0..nterms) at 1-D sorted point t from its box's nodes. */
static void interpolate_1d(const struct xf_tsne_fft *ws, int64_t t, double *phi)
{
	int p = ws->par.nodes_per_box;
	const double *l = ws->lw + t * p;
	size_t at = (size_t)ws->sbox[t] * p;

	for (int o = 0; o < ws->nterms; o++) {
		phi[o] = 0;
		for (int k = 0; k < p; k++)
			phi[o] += l[k] * ws->grid[o][at + k];
	}
}

/* The same for 2-D sorted point t: p x p nodes, weights lx[k] ly[l]. */
INLINE void interpolate_2d(const struct xf_tsne_fft *ws, int64_t t, double *phi, int p)
{
	int bx = ws->sbox[t] / ws->nb, by = ws->sbox[t] % ws->nb;
	const double *lx = ws->lw + t * 2 * p, *ly = lx + p;

	for (int o = 0; o < ws->nterms; o++)
		phi[o] = 0;
	for (int k = 0; k < p; k++) {
		size_t at = ((size_t)bx * p + k) * ws->ld + (size_t)by * p;

		for (int o = 0; o < ws->nterms; o++) {
			double acc = 0;

			for (int l = 0; l < p; l++)
				acc += ly[l] * ws->grid[o][at + l];
			phi[o] += lx[k] * acc;
		}
	}
}

/* The force y_i phi_0 - (phi_1, ...) on point i = order[t]. */
INLINE void gather_point_p(struct xf_tsne_fft *ws, int64_t t, int p)
{
	int dim = ws->dim;
	const double *r = ws->yr + t * dim;
	int64_t i = ws->order[t];
	double phi[MAX_TERMS];

	if (dim == 2)
		interpolate_2d(ws, t, phi, p);
	else
		interpolate_1d(ws, t, phi);
	for (int d = 0; d < dim; d++)
		ws->frep[i * dim + d] = r[d] * phi[0] - phi[1 + d];
}

static void gather_point(struct xf_tsne_fft *ws, int64_t t, int worker)
{
	(void)worker;
	WITH_P(ws, gather_point_p, ws, t);
}

/* ---- public ---- */

static int check_args(int dim, double dof, const struct xf_tsne_fft_params *p, struct xf_err *err)
{
	if (dim != 1 && dim != 2)
		return xf_err_set(err, XF_E_USAGE, "tsne fft: %d-D embeddings are not supported (only 1-D and 2-D)",
				  dim);
	if (!(dof > 0) || !isfinite(dof))
		return xf_err_set(err, XF_E_USAGE, "tsne fft: degrees of freedom %g is not positive", dof);
	if (p->nodes_per_box < 1 || p->nodes_per_box > XF_TSNE_FFT_MAX_NODES)
		return xf_err_set(err, XF_E_USAGE, "tsne fft: %d nodes per box is not in [1, %d]", p->nodes_per_box,
				  XF_TSNE_FFT_MAX_NODES);
	if (p->min_boxes < 1 || p->max_boxes < p->min_boxes || p->max_boxes > XF_TSNE_FFT_MAX_BOXES)
		return xf_err_set(err, XF_E_USAGE, "tsne fft: box counts %d..%d are not within 1..%d", p->min_boxes,
				  p->max_boxes, XF_TSNE_FFT_MAX_BOXES);
	if (!(p->box_width > 0) || !isfinite(p->box_width))
		return xf_err_set(err, XF_E_USAGE, "tsne fft: box width %g is not positive", p->box_width);
	return 0;
}

struct xf_tsne_fft *xf_tsne_fft_new(int dim, double dof, const struct xf_tsne_fft_params *params, int threads,
				    struct xf_err *err)
{
	static const struct xf_tsne_fft_params defaults = XF_TSNE_FFT_PARAMS_DEFAULT;
	const struct xf_tsne_fft_params *par = params ? params : &defaults;
	struct xf_tsne_fft *ws;
	long t = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	if (check_args(dim, dof, par, err) < 0)
		return NULL;
	if (!(ws = calloc(1, sizeof(*ws)))) {
		xf_err_nomem(err, sizeof(*ws));
		return NULL;
	}
	ws->dim = dim;
	ws->dof = dof;
	ws->par = *par;
	ws->threads = t < 1 ? 1 : t > FFT_MAX_THREADS ? FFT_MAX_THREADS : (int)t;
	ws->nterms = dim + 1;
	for (int k = 0, p = par->nodes_per_box; k < p; k++) {
		double den = 1;

		for (int l = 0; l < p; l++)
			if (l != k)
				den *= (double)(k - l) / p;
		ws->node[k] = (k + 0.5) / p;
		ws->inv_den[k] = 1 / den;
	}
	start_pool(ws);
	return ws;
}

int xf_tsne_fft_repulsion(struct xf_tsne_fft *ws, const double *y, int64_t n, double *frep, double *z,
			  struct xf_err *err)
{
	double sum = 0;

	*z = 0;
	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "tsne fft: %lld points", (long long)n);
	if (n <= 1) {
		for (int64_t i = 0; i < n * ws->dim; i++)
			frep[i] = 0;
		return 0;
	}
	ws->y = y;
	ws->n = n;
	ws->frep = frep;
	if (set_geometry(ws, err) < 0 || ensure_points(ws, err) < 0 || ensure_grids(ws, err) < 0 ||
	    get_plans(ws, err) < 0)
		return -1;
	run_phase(ws, locate_point, n, POINT_CHUNK);
	sort_by_box(ws);
	run_phase(ws, prepare_point, n, POINT_CHUNK);
	run_phase(ws, grid_item, ws->nb + (ws->dim == 2 ? (ws->m + 2) / 2 : 1), 1);
	if (ws->dim == 2)
		convolve_2d(ws);
	else
		run_phase(ws, convolve_line, ws->nterms, 1);
	run_phase(ws, gather_point, n, POINT_CHUNK);
	for (int ky = 0; ky <= (ws->dim == 2 ? ws->m : 0); ky++)   /* in a fixed order: deterministic */
		sum += ws->zcol[ky];
	*z = sum - (double)n;   /* less the self terms K(0) = 1 */
	return 0;
}

void xf_tsne_fft_free(struct xf_tsne_fft *ws)
{
	if (!ws)
		return;
	stop_pool(ws);
	for (int i = 0; i < PLAN_CACHE; i++)
		destroy_plans(&ws->plans[i]);
	free_grids(ws);
	free_points(ws);
	free(ws->start);
	free(ws);
}
