/*
 * prune_select: the row-selection methods of prune.h that need no clustering -- random,
 * herding, k-center greedy and moderate coreset -- plus the budget rule and the checks that
 * every method shares (prune_common.h). The methods and their sources: docs/prune.md
 * sections 3.1-3.3 and 3.7.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "prune.h"
#include "prune_common.h"
#include "rng.h"

#define KCENTER_BLOCK 2048     /* candidates per task of a k-center pass; fixed, so the reduction order is too */
#define MEDIAN_BLOCK 64        /* features whose class values are gathered together for the medians */
#define KCENTER_SKETCH_MIN 16  /* picks from which k-center builds its bfloat16 copy of the rows */
#define LANES 8                /* floats per vector in the distance kernel */

typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));

int64_t xf_prune_budget(double fraction, int64_t n)
{
	double rounded;

	if (!(fraction > 0) || n <= 0)
		return 0;
	rounded = nearbyint(fraction * (double)n);    /* the default rounding mode: half to even */
	if (rounded < 1)
		return 1;
	return rounded >= (double)n ? n : (int64_t)rounded;
}

/* ---- checks shared by every method (prune_common.h) ---- */

static int check_features(const struct xf_prune_data *p, const char *method, struct xf_err *err)
{
	if (!p->x && p->n > 0)
		return xf_err_set(err, XF_E_USAGE, "%s: no feature rows given", method);
	if (p->d < 0 || (p->d == 0 && p->n > 0))
		return xf_err_set(err, XF_E_USAGE, "%s: rows need at least one feature (d = %lld)", method,
				  (long long)p->d);
	for (int64_t i = 0; i < p->n; i++) {
		const float *row = p->x + i * p->d;

		for (int64_t k = 0; k < p->d; k++)
			if (!isfinite(row[k]))
				return xf_err_set(err, XF_E_FORMAT, "%s: row %lld: feature %lld is %s", method,
						  (long long)i, (long long)k, isnan(row[k]) ? "NaN" : "infinite");
	}
	return 0;
}

static int check_labels(const struct xf_prune_data *p, const char *method, struct xf_err *err)
{
	if (p->n > 0 && p->classes <= 0)
		return xf_err_set(err, XF_E_USAGE, "%s: labels given with %d classes", method, p->classes);
	for (int64_t i = 0; i < p->n; i++)
		if (p->y[i] < 0 || p->y[i] >= p->classes)
			return xf_err_set(err, XF_E_FORMAT, "%s: row %lld: label %lld is outside 0..%d", method,
					  (long long)i, (long long)p->y[i], p->classes - 1);
	return 0;
}

int xf_prune_begin(struct xf_prune_data *p, const char *method, bool need_x, bool need_labels, struct xf_err *err)
{
	if (p->n < 0)
		return xf_err_set(err, XF_E_USAGE, "%s: negative row count %lld", method, (long long)p->n);
	if (!p->keep && p->n > 0)
		return xf_err_set(err, XF_E_USAGE, "%s: no keep array given", method);
	if (need_labels && !p->y)
		return xf_err_set(err, XF_E_USAGE, "%s: needs labels", method);
	if (need_x && check_features(p, method, err) < 0)
		return -1;
	if (p->y && check_labels(p, method, err) < 0)
		return -1;
	for (int64_t i = 0; i < p->n; i++)
		xf_prune_mark(p, i, false, -1, NAN);
	return 0;
}

int xf_prune_resolve_budget(const char *method, int64_t count, double fraction, int64_t n, int64_t *out,
			    struct xf_err *err)
{
	if (count > 0) {
		if (count > n)
			return xf_err_set(err, XF_E_USAGE, "%s: cannot keep %lld of %lld rows", method,
					  (long long)count, (long long)n);
		*out = count;
		return 0;
	}
	if (!(fraction > 0 && fraction <= 1))
		return xf_err_set(err, XF_E_USAGE, "%s: needs a row count or a fraction in (0, 1], got %g", method,
				  fraction);
	*out = xf_prune_budget(fraction, n);
	return 0;
}

/* A counting sort of the rows by label: stable, so each group's rows stay ascending. */
int xf_prune_group_rows(const int64_t *label, int64_t n, int64_t groups, int64_t **rows, int64_t **start,
			struct xf_err *err)
{
	int64_t *r = malloc((size_t)(n > 0 ? n : 1) * sizeof(*r));
	int64_t *s = calloc((size_t)groups + 2, sizeof(*s));

	if (!r || !s) {
		free(r);
		free(s);
		return xf_err_nomem(err, (size_t)(n + groups + 2) * sizeof(*r));
	}
	for (int64_t i = 0; i < n; i++)
		s[label[i] + 2]++;
	for (int64_t g = 0; g < groups; g++)
		s[g + 2] += s[g + 1];
	/* s[g + 1] is now where group g starts; filling advances it to where g ends = g + 1 starts */
	for (int64_t i = 0; i < n; i++)
		r[s[label[i] + 1]++] = i;
	*rows = r;
	*start = s;
	return 0;
}

/* ---- running a method on the whole data set or class by class ---- */

/* One run of a method: the rows it chooses among (ascending), how many to keep, and the class (-1: all rows). */
struct subset {
	const int64_t *rows;
	int64_t n_rows;
	int64_t budget;
	int64_t group;
};

typedef int (*subset_fn)(struct xf_prune_data *p, const struct subset *s, void *ctx, struct xf_err *err);

static int run_whole(struct xf_prune_data *p, const char *method, int64_t count, double fraction, subset_fn fn,
		     void *ctx, struct xf_err *err)
{
	struct subset s = { NULL, p->n, 0, -1 };
	int64_t *rows;
	int rc;

	if (xf_prune_resolve_budget(method, count, fraction, p->n, &s.budget, err) < 0)
		return -1;
	if (p->n == 0)
		return 0;
	rows = malloc((size_t)p->n * sizeof(*rows));
	if (!rows)
		return xf_err_nomem(err, (size_t)p->n * sizeof(*rows));
	for (int64_t i = 0; i < p->n; i++)
		rows[i] = i;
	s.rows = rows;
	rc = fn(p, &s, ctx, err);
	free(rows);
	return rc;
}

/* Each class on its own with round(fraction n_c) rows; a count has no per-class meaning, so it is refused. */
static int run_per_class(struct xf_prune_data *p, const char *method, int64_t count, double fraction,
			 subset_fn fn, void *ctx, struct xf_err *err)
{
	int64_t *rows, *start;
	int rc = 0;

	if (!p->y)
		return xf_err_set(err, XF_E_USAGE, "%s: per-class selection needs labels", method);
	if (count > 0)
		return xf_err_set(err, XF_E_USAGE, "%s: per-class selection takes a fraction, not a count", method);
	if (!(fraction > 0 && fraction <= 1))
		return xf_err_set(err, XF_E_USAGE, "%s: needs a fraction in (0, 1], got %g", method, fraction);
	if (xf_prune_group_rows(p->y, p->n, p->classes, &rows, &start, err) < 0)
		return -1;
	for (int64_t c = 0; c < p->classes && rc == 0; c++) {
		struct subset s = { rows + start[c], start[c + 1] - start[c], 0, c };

		if (s.n_rows == 0)
			continue;
		s.budget = xf_prune_budget(fraction, s.n_rows);
		for (int64_t r = 0; r < s.n_rows && p->group; r++)
			p->group[s.rows[r]] = c;
		rc = fn(p, &s, ctx, err);
	}
	free(rows);
	free(start);
	return rc;
}

static int run_subsets(struct xf_prune_data *p, const char *method, int64_t count, double fraction, bool per_class,
		       subset_fn fn, void *ctx, struct xf_err *err)
{
	if (per_class)
		return run_per_class(p, method, count, fraction, fn, ctx, err);
	return run_whole(p, method, count, fraction, fn, ctx, err);
}

/* ---- random ---- */

/*
 * A partial Fisher-Yates shuffle of the candidates: the first `budget` places are a uniform
 * sample. Each class draws from its own stream (class c: stream c + 1; all rows: stream 0),
 * so a class's sample does not depend on the others.
 */
static int random_subset(struct xf_prune_data *p, const struct subset *s, void *ctx, struct xf_err *err)
{
	const uint64_t *seed = ctx;
	int64_t *pool = malloc((size_t)s->n_rows * sizeof(*pool));
	struct xf_rng rng;

	if (!pool)
		return xf_err_nomem(err, (size_t)s->n_rows * sizeof(*pool));
	memcpy(pool, s->rows, (size_t)s->n_rows * sizeof(*pool));
	xf_rng_init(&rng, *seed, (uint64_t)(s->group + 1));
	for (int64_t i = 0; i < s->budget; i++) {
		int64_t j = i + (int64_t)xf_rng_below(&rng, (uint64_t)(s->n_rows - i)), t = pool[j];

		pool[j] = pool[i];
		pool[i] = t;
		p->keep[t] = true;
	}
	free(pool);
	return 0;
}

int xf_prune_random(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, uint64_t seed,
		    struct xf_err *err)
{
	if (xf_prune_begin(p, "random", false, false, err) < 0)
		return -1;
	return run_subsets(p, "random", count, fraction, per_class, random_subset, &seed, err);
}

/* ---- herding ---- */

/* sum_k (t_k - row_k)^2 in double, four partial sums. */
static double distance2_to_target(const double *t, const float *row, int64_t d)
{
	double s[4] = { 0, 0, 0, 0 };
	int64_t k = 0;

	for (; k + 4 <= d; k += 4)
		for (int l = 0; l < 4; l++)
			s[l] += (t[k + l] - row[k + l]) * (t[k + l] - row[k + l]);
	for (; k < d; k++)
		s[0] += (t[k] - row[k]) * (t[k] - row[k]);
	return (s[0] + s[1]) + (s[2] + s[3]);
}

static double dot_with_target(const double *t, const float *row, int64_t d)
{
	double s[4] = { 0, 0, 0, 0 };
	int64_t k = 0;

	for (; k + 4 <= d; k += 4)
		for (int l = 0; l < 4; l++)
			s[l] += t[k + l] * row[k + l];
	for (; k < d; k++)
		s[0] += t[k] * row[k];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

/*
 * The unpicked candidate with the smallest cost: iCaRL's ||t - x||^2, or, for Welling's rule,
 * -<t, x> (so that the largest inner product wins). Strict comparison: ties go to the first
 * candidate, i.e. the lower row.
 */
static int64_t herding_pick(const struct xf_prune_data *p, const struct subset *s, const bool *picked,
			    const double *target, bool welling)
{
	int64_t best = -1;
	double best_cost = 0;

	for (int64_t r = 0; r < s->n_rows; r++) {
		const float *row = p->x + s->rows[r] * p->d;
		double cost;

		if (picked[r])
			continue;
		cost = welling ? -dot_with_target(target, row, p->d) : distance2_to_target(target, row, p->d);
		if (best < 0 || cost < best_cost) {
			best = r;
			best_cost = cost;
		}
	}
	return best;
}

/*
 * Herding as in iCaRL: with mu the candidates' mean and S the sum of the i - 1 rows picked so
 * far, pick i is the row x minimising ||i mu - (S + x)|| = ||t - x|| with t = i mu - S, so the
 * running mean of the picks tracks mu. DeepCore (herding.py @74ec709) takes the argmax of that
 * distance instead, which drives the mean away from mu; we do not copy that quirk (prune.md
 * 3.2). Welling's rule maximises <t, x> with the same t. Sums in double; O(budget n_rows d).
 */
static int herding_subset(struct xf_prune_data *p, const struct subset *s, void *ctx, struct xf_err *err)
{
	const bool *welling = ctx;
	int64_t d = p->d;
	double *mean = calloc((size_t)d, sizeof(*mean)), *sum = calloc((size_t)d, sizeof(*sum));
	double *target = malloc((size_t)d * sizeof(*target));
	bool *picked = calloc((size_t)s->n_rows, sizeof(*picked));

	if (!mean || !sum || !target || !picked) {
		free(mean), free(sum), free(target), free(picked);
		return xf_err_nomem(err, (size_t)(3 * d) * sizeof(*mean) + (size_t)s->n_rows);
	}
	for (int64_t r = 0; r < s->n_rows; r++)
		for (int64_t k = 0; k < d; k++)
			mean[k] += p->x[s->rows[r] * d + k];
	for (int64_t k = 0; k < d; k++)
		mean[k] /= (double)s->n_rows;
	for (int64_t i = 1; i <= s->budget; i++) {
		int64_t r, row;

		for (int64_t k = 0; k < d; k++)
			target[k] = (double)i * mean[k] - sum[k];
		r = herding_pick(p, s, picked, target, *welling);
		row = s->rows[r];
		picked[r] = true;
		for (int64_t k = 0; k < d; k++)
			sum[k] += p->x[row * d + k];
		p->keep[row] = true;
		if (p->score)
			p->score[row] = (double)i;
	}
	free(mean), free(sum), free(target), free(picked);
	return 0;
}

int xf_prune_herding(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, bool welling,
		     struct xf_err *err)
{
	if (xf_prune_begin(p, "herding", true, false, err) < 0)
		return -1;
	return run_subsets(p, "herding", count, fraction, per_class, herding_subset, &welling, err);
}

/* ---- k-center greedy ---- */

/*
 * The passes of k-center greedy read every candidate row once per centre, so they are bound
 * by memory bandwidth. Two screens avoid reading a row's float features when its nearest-
 * centre distance provably cannot shrink: the triangle inequality with the centre-to-centre
 * distances (works on clustered data), and a bfloat16 copy of the rows, half the bytes, whose
 * distance minus its proven error still exceeds the current one (works on any data). Rows that
 * pass neither get the exact float distance, so the answer is the brute-force one bit for bit.
 */

typedef uint32_t v8u __attribute__((vector_size(LANES * sizeof(uint32_t))));

/*
 * A generous bound on the relative rounding error of the float sums of squares below (d terms
 * in 32 partial sums, then 40 more additions): (d / 32 + 44) units in the last place, with a
 * factor 4 on the d term and some more on the constant.
 */
static double float_sum_error(int64_t d)
{
	return (double)(d / 8 + 64) * 0x1p-24;
}

/*
 * Squared Euclidean distance between two float rows, in float: four 8-lane partial sums over
 * the dimensions, then the lanes and the tail in a fixed order. Every caller gets the same
 * bits for the same pair, whichever thread or instruction set runs it (no fused multiply-add:
 * ISO C mode keeps -ffp-contract=off, and the AVX2 build is the same lane arithmetic).
 */
static inline __attribute__((always_inline)) float distance2_body(const float *a, const float *b, int64_t d)
{
	v8f s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, e0, e1, e2, e3, f0, f1, f2, f3;
	float lanes = 0, tail = 0;
	int64_t k = 0;

	for (; k + 4 * LANES <= d; k += 4 * LANES) {
		memcpy(&e0, a + k, sizeof(e0));
		memcpy(&e1, a + k + LANES, sizeof(e1));
		memcpy(&e2, a + k + 2 * LANES, sizeof(e2));
		memcpy(&e3, a + k + 3 * LANES, sizeof(e3));
		memcpy(&f0, b + k, sizeof(f0));
		memcpy(&f1, b + k + LANES, sizeof(f1));
		memcpy(&f2, b + k + 2 * LANES, sizeof(f2));
		memcpy(&f3, b + k + 3 * LANES, sizeof(f3));
		e0 -= f0;
		e1 -= f1;
		e2 -= f2;
		e3 -= f3;
		s0 += e0 * e0;
		s1 += e1 * e1;
		s2 += e2 * e2;
		s3 += e3 * e3;
	}
	s0 = (s0 + s1) + (s2 + s3);
	for (int l = 0; l < LANES; l++)
		lanes += s0[l];
	for (; k < d; k++)
		tail += (a[k] - b[k]) * (a[k] - b[k]);
	return lanes + tail;
}

/* bfloat16 (the top half of a float's bits) to float. */
static inline __attribute__((always_inline)) float widen_one(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/*
 * The 16 bfloat16 values at h as floats without shuffles: each 32-bit word holds values 2i
 * (low half) and 2i + 1 (high half), so a shift gives the even ones and a mask the odd ones.
 */
static inline __attribute__((always_inline)) void widen_pairs(const uint16_t *h, v8f *even, v8f *odd)
{
	v8u words, bits;

	memcpy(&words, h, sizeof(words));
	bits = words << 16;
	memcpy(even, &bits, sizeof(*even));
	bits = words & 0xffff0000u;
	memcpy(odd, &bits, sizeof(*odd));
}

/*
 * The centre b laid out for widen_pairs: in each block of 16 values, the 8 even ones, then
 * the 8 odd ones (up to the last multiple of 32; the rest is read from b itself).
 */
static void split_pairs(const float *b, int64_t d, float *out)
{
	for (int64_t k = 0; k + 4 * LANES <= d; k += 4 * LANES)
		for (int64_t half = 0; half < 4 * LANES; half += 2 * LANES)
			for (int l = 0; l < LANES; l++) {
				out[k + half + l] = b[k + half + 2 * l];
				out[k + half + LANES + l] = b[k + half + 2 * l + 1];
			}
}

/* distance2_body with the first row in bfloat16 and the second as split_pairs gives it (b: as is). */
static inline __attribute__((always_inline)) float sketch_distance2_body(const uint16_t *a, const float *split,
									  const float *b, int64_t d)
{
	v8f s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, e0, e1, e2, e3, f0, f1, f2, f3;
	float lanes = 0, tail = 0;
	int64_t k = 0;

	for (; k + 4 * LANES <= d; k += 4 * LANES) {
		widen_pairs(a + k, &e0, &e1);
		widen_pairs(a + k + 2 * LANES, &e2, &e3);
		memcpy(&f0, split + k, sizeof(f0));
		memcpy(&f1, split + k + LANES, sizeof(f1));
		memcpy(&f2, split + k + 2 * LANES, sizeof(f2));
		memcpy(&f3, split + k + 3 * LANES, sizeof(f3));
		e0 -= f0;
		e1 -= f1;
		e2 -= f2;
		e3 -= f3;
		s0 += e0 * e0;
		s1 += e1 * e1;
		s2 += e2 * e2;
		s3 += e3 * e3;
	}
	s0 = (s0 + s1) + (s2 + s3);
	for (int l = 0; l < LANES; l++)
		lanes += s0[l];
	for (; k < d; k++)
		tail += (widen_one(a[k]) - b[k]) * (widen_one(a[k]) - b[k]);
	return lanes + tail;
}

/* float to bfloat16, rounding to nearest even; a value that would round up to infinity is truncated. */
static uint16_t to_bfloat16(float v)
{
	uint32_t bits, rounded;

	memcpy(&bits, &v, sizeof(bits));
	rounded = bits + 0x7fff + ((bits >> 16) & 1);
	if ((rounded & 0x7f800000) == 0x7f800000)
		rounded = bits;
	return (uint16_t)(rounded >> 16);
}

/* One k-center greedy run over a set of candidates; arrays are indexed by candidate. */
struct kcenter_run {
	const float *x;
	int64_t d;
	const int64_t *rows;      /* the candidates' rows, ascending */
	int64_t n_rows;
	float *min_d2;            /* squared distance to the nearest centre (+inf before any); -1 once picked */
	int64_t *owner;           /* which centre (pick number) that nearest one is */
	const float *centre;      /* the newest centre's features */
	float *centre_split;      /* and as split_pairs lays them out for the sketch */
	int64_t newest;           /* its pick number */
	float *centre_d2;         /* squared distance from the newest centre to centre t, t < newest */
	float skip_factor;        /* see can_skip */
	uint16_t *sketch;         /* n_rows x d: the candidates in bfloat16, or NULL (too few picks, or no memory) */
	float *sketch_err;        /* per candidate: an upper bound on ||row - its sketch|| */
	float *sketch_bar;        /* per candidate: a sketch distance^2 at least this proves min_d2 stays */
	double rounding;          /* float_sum_error(d) */
	float *block_max;         /* per block of KCENTER_BLOCK candidates: the largest min_d2 */
	int64_t *block_arg;       /* and its first candidate (-1: all picked) */
	bool use_avx2;
};

/*
 * Whether the newest centre c cannot be nearer to candidate x than x's current centre a: by
 * the triangle inequality |xc| >= |ca| - |xa| >= |xa| once |ca| >= 2 |xa|, i.e. centre_d2[a]
 * >= 4 min_d2. skip_factor (> 4) covers float rounding in both distances, so the computed
 * distance of a skipped row would not have been smaller either.
 */
static inline __attribute__((always_inline)) bool can_skip(const struct kcenter_run *run, int64_t r)
{
	return run->newest > 0 && run->centre_d2[run->owner[r]] >= run->skip_factor * run->min_d2[r];
}

/*
 * The sketch's bar for a candidate at squared distance m from its centre, with sketch error e
 * and rounding error rho: if the computed sketch distance^2 s >= bar, then the true distance
 * is at least sqrt(s (1 - rho)) - e >= sqrt(m / (1 - rho)), so the computed float distance^2
 * is at least m: no update. Rounded up to the next float.
 */
static float sketch_bar(float m, float e, double rho)
{
	double root = sqrt((double)m / (1 - rho)) + e;

	return nextafterf((float)(root * root / (1 - rho)), INFINITY);
}

static inline __attribute__((always_inline)) bool sketch_rules_out(const struct kcenter_run *run, int64_t r)
{
	const uint16_t *row;

	if (!run->sketch || run->newest == 0)
		return false;
	row = run->sketch + r * run->d;
	return sketch_distance2_body(row, run->centre_split, run->centre, run->d) >= run->sketch_bar[r];
}

static inline __attribute__((always_inline)) void kcenter_block_body(struct kcenter_run *run, int64_t block)
{
	int64_t begin = block * KCENTER_BLOCK, end = begin + KCENTER_BLOCK, arg = -1;
	float best = -1;

	end = end > run->n_rows ? run->n_rows : end;
	for (int64_t r = begin; r < end; r++) {
		float m = run->min_d2[r];

		if (m >= 0 && !can_skip(run, r) && !sketch_rules_out(run, r)) {
			float d2 = distance2_body(run->x + run->rows[r] * run->d, run->centre, run->d);

			if (d2 < m) {
				m = run->min_d2[r] = d2;
				run->owner[r] = run->newest;
				if (run->sketch)
					run->sketch_bar[r] = sketch_bar(d2, run->sketch_err[r], run->rounding);
			}
		}
		if (m > best) {
			best = m;
			arg = r;
		}
	}
	run->block_max[block] = best;
	run->block_arg[block] = arg;
}

/*
 * x86 machines with AVX2 run the passes with 8-wide vectors natively (with the same results:
 * the lanes compute alike); chosen per call, as in knn_approx.c.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_KERNEL 1
__attribute__((target("avx2"))) static void kcenter_block_avx2(struct kcenter_run *run, int64_t block)
{
	kcenter_block_body(run, block);
}
#endif

static void kcenter_block_generic(struct kcenter_run *run, int64_t block)
{
	kcenter_block_body(run, block);
}

static void kcenter_blocks(void *ctx, int64_t begin, int64_t end)
{
	struct kcenter_run *run = ctx;

	for (int64_t b = begin; b < end; b++) {
#ifdef HAVE_AVX2_KERNEL
		if (run->use_avx2) {
			kcenter_block_avx2(run, b);
			continue;
		}
#endif
		kcenter_block_generic(run, b);
	}
}

/*
 * Bring min_d2 up to date with the newest centre and return the candidate farthest from all
 * centres (-1 if every one is picked). Blocks are fixed and reduced in order with a strict
 * comparison, so ties go to the lower row for any thread count.
 */
static int64_t kcenter_pass(struct kcenter_run *run, int threads)
{
	int64_t blocks = (run->n_rows + KCENTER_BLOCK - 1) / KCENTER_BLOCK, arg = -1;
	float best = -1;

	xf_parallel_for(blocks, threads, 1, kcenter_blocks, run);
	for (int64_t b = 0; b < blocks; b++)
		if (run->block_max[b] > best) {
			best = run->block_max[b];
			arg = run->block_arg[b];
		}
	return arg;
}

/* Make candidate r the centre with pick number `pick`, and measure it against the earlier centres. */
static void kcenter_add_centre(struct kcenter_run *run, const int64_t *centres, int64_t pick, int64_t r)
{
	run->centre = run->x + run->rows[r] * run->d;
	if (run->sketch)
		split_pairs(run->centre, run->d, run->centre_split);
	run->newest = pick;
	run->min_d2[r] = -1;
	for (int64_t t = 0; t < pick; t++)
		run->centre_d2[t] = distance2_body(run->centre, run->x + run->rows[centres[t]] * run->d, run->d);
}

/* Candidates [begin, end): their bfloat16 rows and a bound on each one's error, in double. */
static void sketch_rows(void *ctx, int64_t begin, int64_t end)
{
	struct kcenter_run *run = ctx;

	for (int64_t r = begin; r < end; r++) {
		const float *row = run->x + run->rows[r] * run->d;
		uint16_t *out = run->sketch + r * run->d;
		double err2 = 0;

		for (int64_t k = 0; k < run->d; k++) {
			double diff;

			out[k] = to_bfloat16(row[k]);
			diff = (double)row[k] - widen_one(out[k]);
			err2 += diff * diff;
		}
		run->sketch_err[r] = nextafterf((float)(sqrt(err2) * (1 + 1e-9)), INFINITY);
	}
}

/* The sketch costs about two passes to build, so it pays only for enough picks; without the memory, do without. */
static void kcenter_sketch(struct kcenter_run *run, int64_t budget, int threads)
{
	size_t n = (size_t)run->n_rows;

	if (budget < KCENTER_SKETCH_MIN || run->d > INT64_MAX / run->n_rows)
		return;
	run->sketch = malloc(n * (size_t)run->d * sizeof(*run->sketch));
	run->sketch_err = malloc(n * sizeof(*run->sketch_err));
	run->sketch_bar = malloc(n * sizeof(*run->sketch_bar));
	run->centre_split = malloc((size_t)run->d * sizeof(*run->centre_split));
	if (!run->sketch || !run->sketch_err || !run->sketch_bar || !run->centre_split) {
		free(run->sketch), free(run->sketch_err), free(run->sketch_bar), free(run->centre_split);
		run->sketch = NULL;
		run->sketch_err = run->sketch_bar = run->centre_split = NULL;
		return;
	}
	xf_parallel_for(run->n_rows, threads, 256, sketch_rows, run);
}

struct kcenter_opts {
	uint64_t seed;
	int threads;
};

static int kcenter_alloc(struct kcenter_run *run, int64_t budget, int64_t **centres, struct xf_err *err)
{
	int64_t n = run->n_rows, blocks = (n + KCENTER_BLOCK - 1) / KCENTER_BLOCK;

	run->min_d2 = malloc((size_t)n * sizeof(*run->min_d2));
	run->owner = calloc((size_t)n, sizeof(*run->owner));
	run->centre_d2 = malloc((size_t)budget * sizeof(*run->centre_d2));
	run->block_max = malloc((size_t)blocks * sizeof(*run->block_max));
	run->block_arg = malloc((size_t)blocks * sizeof(*run->block_arg));
	*centres = malloc((size_t)budget * sizeof(**centres));
	if (run->min_d2 && run->owner && run->centre_d2 && run->block_max && run->block_arg && *centres)
		return 0;
	return xf_err_nomem(err, (size_t)n * 12 + (size_t)budget * 12 + (size_t)blocks * 12);
}

static void kcenter_free(struct kcenter_run *run, int64_t *centres)
{
	free(run->min_d2), free(run->owner), free(run->centre_d2), free(run->block_max), free(run->block_arg);
	free(run->sketch), free(run->sketch_err), free(run->sketch_bar), free(run->centre_split);
	free(centres);
}

/*
 * k-center greedy (Sener and Savarese; DeepCore kcentergreedy.py without its k x n matrix):
 * a seeded random first centre (stream as in random_subset), then repeatedly the candidate
 * farthest from its nearest centre. score: that distance when picked (NAN for the first
 * centre, which has none). O(budget n_rows d) time at worst; O(n_rows) memory, plus the
 * sketch's n_rows d bfloat16 values.
 */
static int kcenter_subset(struct xf_prune_data *p, const struct subset *s, void *ctx, struct xf_err *err)
{
	const struct kcenter_opts *o = ctx;
	struct kcenter_run run = { .x = p->x, .d = p->d, .rows = s->rows, .n_rows = s->n_rows };
	int64_t *centres = NULL, r;
	struct xf_rng rng;

	if (s->budget == 0)
		return 0;
	if (kcenter_alloc(&run, s->budget, &centres, err) < 0) {
		kcenter_free(&run, centres);
		return -1;
	}
	run.rounding = float_sum_error(p->d);
	run.skip_factor = (float)(4 * (1 + 4 * run.rounding));
#ifdef HAVE_AVX2_KERNEL
	run.use_avx2 = __builtin_cpu_supports("avx2");
#endif
	kcenter_sketch(&run, s->budget, o->threads);
	for (int64_t i = 0; i < s->n_rows; i++)
		run.min_d2[i] = INFINITY;
	xf_rng_init(&rng, o->seed, (uint64_t)(s->group + 1));
	r = (int64_t)xf_rng_below(&rng, (uint64_t)s->n_rows);
	for (int64_t pick = 0; pick < s->budget; pick++) {
		if (pick > 0)
			r = kcenter_pass(&run, o->threads);
		if (p->score)
			p->score[s->rows[r]] = pick > 0 ? sqrt((double)run.min_d2[r]) : NAN;
		p->keep[s->rows[r]] = true;
		kcenter_add_centre(&run, centres, pick, r);
		centres[pick] = r;
	}
	kcenter_free(&run, centres);
	return 0;
}

int xf_prune_kcenter(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, uint64_t seed,
		     int threads, struct xf_err *err)
{
	struct kcenter_opts o = { seed, threads };

	if (xf_prune_begin(p, "kcenter", true, false, err) < 0)
		return -1;
	return run_subsets(p, "kcenter", count, fraction, per_class, kcenter_subset, &o, err);
}

/* ---- moderate coreset ---- */

static void swap_floats(float *a, float *b)
{
	float t = *a;

	*a = *b;
	*b = t;
}

static float median_of_three(float a, float b, float c)
{
	if (a > b)
		swap_floats(&a, &b);
	if (b > c)
		b = c;
	return a > b ? a : b;
}

static int compare_floats(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/*
 * Put the k-th smallest of v[0..m) at v[k], smaller-or-equal values before it and
 * greater-or-equal ones after (Hoare partitions around a median of three, which stay balanced
 * on runs of equal values, common in ReLU features). After 2 log2(m) + 8 rounds the rest is
 * sorted, to bound the worst case.
 */
static void select_kth(float *v, int64_t m, int64_t k)
{
	int64_t lo = 0, hi = m - 1, rounds = 8;

	for (int64_t t = m; t > 1; t >>= 1)
		rounds += 2;
	while (lo < hi) {
		float pivot = median_of_three(v[lo], v[lo + (hi - lo) / 2], v[hi]);
		int64_t i = lo, j = hi;

		if (rounds-- == 0) {
			qsort(v + lo, (size_t)(hi - lo + 1), sizeof(*v), compare_floats);
			return;
		}
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
				swap_floats(&v[i++], &v[j--]);
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/* numpy.median of v[0..m) (reordered): the middle value, or the mean of the two middle ones (in double). */
static double median(float *v, int64_t m)
{
	int64_t k = m / 2;
	float lower;

	select_kth(v, m, k);
	if (m % 2)
		return v[k];
	lower = v[0];
	for (int64_t i = 1; i < k; i++)
		lower = v[i] > lower ? v[i] : lower;
	return ((double)lower + (double)v[k]) / 2;
}

/*
 * The coordinate-wise median of the rows rows[0..m), MEDIAN_BLOCK features at a time: the
 * block's values are gathered feature-major into buf (MEDIAN_BLOCK x m), so x is read once
 * in row order however many features there are.
 */
static void class_median(const float *x, int64_t d, const int64_t *rows, int64_t m, float *buf, double *out)
{
	for (int64_t k0 = 0; k0 < d; k0 += MEDIAN_BLOCK) {
		int64_t width = d - k0 < MEDIAN_BLOCK ? d - k0 : MEDIAN_BLOCK;

		for (int64_t r = 0; r < m; r++) {
			const float *row = x + rows[r] * d + k0;

			for (int64_t l = 0; l < width; l++)
				buf[l * m + r] = row[l];
		}
		for (int64_t l = 0; l < width; l++)
			out[k0 + l] = median(buf + l * m, m);
	}
}

static double distance_to(const float *row, const double *centre, int64_t d)
{
	double s = 0;

	for (int64_t k = 0; k < d; k++)
		s += (row[k] - centre[k]) * (row[k] - centre[k]);
	return sqrt(s);
}

/* score = Euclidean distance to the median of the row's class; group = the class. */
static int moderate_scores(struct xf_prune_data *p, struct xf_err *err)
{
	int64_t *rows, *start, largest = 0;
	double *centre = NULL;
	float *buf = NULL;

	if (p->n == 0)
		return 0;
	if (xf_prune_group_rows(p->y, p->n, p->classes, &rows, &start, err) < 0)
		return -1;
	for (int64_t c = 0; c < p->classes; c++)
		largest = start[c + 1] - start[c] > largest ? start[c + 1] - start[c] : largest;
	centre = malloc((size_t)p->d * sizeof(*centre));
	buf = malloc((size_t)(largest * MEDIAN_BLOCK) * sizeof(*buf));
	if (!centre || !buf) {
		free(rows), free(start), free(centre), free(buf);
		return xf_err_nomem(err, (size_t)(largest * MEDIAN_BLOCK) * sizeof(*buf));
	}
	for (int64_t c = 0; c < p->classes; c++) {
		const int64_t *members = rows + start[c];
		int64_t m = start[c + 1] - start[c];

		if (m == 0)
			continue;
		class_median(p->x, p->d, members, m, buf, centre);
		for (int64_t r = 0; r < m; r++)
			xf_prune_mark(p, members[r], false, c, distance_to(p->x + members[r] * p->d, centre, p->d));
	}
	free(rows), free(start), free(centre), free(buf);
	return 0;
}

struct scored_row {
	double score;
	int64_t row;
};

static int by_score_then_row(const void *a, const void *b)
{
	const struct scored_row *u = a, *v = b;

	if (u->score != v->score)
		return u->score < v->score ? -1 : 1;
	return (u->row > v->row) - (u->row < v->row);
}

/*
 * The official code (selection.py) keeps the ranks [round(N (0.5 - r/2)), round(N (0.5 + r/2)))
 * of the scores sorted ascending, with Python's round (half to even). With r = k / N the lower
 * edge is round((N - k) / 2), computed here exactly in integers, and we keep the k ranks from
 * there, so exactly k rows are always kept. That is the official band whenever N - k is even
 * or k is even. When N - k and k are both odd (N even), both official edges are x.5 values
 * rounded to even on their own, and the official band holds k - 1 or k + 1 rows; ours holds k,
 * from the same lower edge. (The official edges are also floating-point products, which can
 * move an edge by one when N r / 2 lies within rounding of a .5.)
 */
static int64_t band_start(int64_t n_rows, int64_t k)
{
	int64_t twice = n_rows - k, half = twice / 2;

	if (twice % 2 == 0)
		return half;
	return half % 2 == 0 ? half : half + 1;
}

static int moderate_band(struct xf_prune_data *p, const struct subset *s, void *ctx, struct xf_err *err)
{
	struct scored_row *sorted = malloc((size_t)s->n_rows * sizeof(*sorted));
	int64_t lo = band_start(s->n_rows, s->budget);

	(void)ctx;
	if (!sorted)
		return xf_err_nomem(err, (size_t)s->n_rows * sizeof(*sorted));
	for (int64_t r = 0; r < s->n_rows; r++)
		sorted[r] = (struct scored_row){ p->score[s->rows[r]], s->rows[r] };
	qsort(sorted, (size_t)s->n_rows, sizeof(*sorted), by_score_then_row);
	for (int64_t r = lo; r < lo + s->budget; r++)
		p->keep[sorted[r].row] = true;
	free(sorted);
	return 0;
}

int xf_prune_moderate(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, struct xf_err *err)
{
	double *own_score = NULL, *given_score = p->score;
	int rc;

	if (xf_prune_begin(p, "moderate", true, true, err) < 0)
		return -1;
	if (!p->score) {    /* the band needs the scores even when the caller does not */
		own_score = malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof(*own_score));
		if (!own_score)
			return xf_err_nomem(err, (size_t)p->n * sizeof(*own_score));
		p->score = own_score;
	}
	rc = moderate_scores(p, err);
	if (rc == 0)
		rc = run_subsets(p, "moderate", count, fraction, per_class, moderate_band, NULL, err);
	p->score = given_score;
	free(own_score);
	return rc;
}
