/*
 * Unit tests for lib/prune_select.c and lib/prune_cluster.c (prune.h, except the DP4TL
 * methods): the budget rule; each method on small cases worked out by hand (herding and
 * k-center on points on a line, moderate's median band, codebook's evenly spaced members of
 * two obvious clusters, SemDeDup's duplicates and near-duplicates in a known order and its
 * choice of eps for a count); per-class budgets; k-center against a brute-force reference and
 * SemDeDup's tiles against all pairs; seeds and thread counts; errors.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"
#include "rng.h"
#include "tap.h"

/* The answer arrays of one run, with the data they describe. */
struct run {
	struct xf_prune_data p;
	struct xf_err err;
	char kept[512];       /* the kept rows, ascending, space-separated */
};

static void run_init(struct run *r, const float *x, int64_t n, int64_t d, const int64_t *y, int classes)
{
	size_t rows = (size_t)(n > 0 ? n : 1);

	memset(r, 0, sizeof(*r));
	r->p = (struct xf_prune_data){ x, n, d, y, classes, calloc(rows, sizeof(bool)), calloc(rows, sizeof(int64_t)),
				       calloc(rows, sizeof(double)) };
	r->err = (struct xf_err)XF_ERR_INIT;
}

static void run_release(struct run *r)
{
	free(r->p.keep);
	free(r->p.group);
	free(r->p.score);
}

/* The kept rows as text, for is_str. */
static const char *kept(struct run *r)
{
	size_t len = 0;

	r->kept[0] = '\0';
	for (int64_t i = 0; i < r->p.n && len + 24 < sizeof(r->kept); i++)
		if (r->p.keep[i])
			len += (size_t)snprintf(r->kept + len, sizeof(r->kept) - len, len ? " %lld" : "%lld",
						(long long)i);
	return r->kept;
}

static int64_t kept_count(const struct run *r)
{
	int64_t count = 0;

	for (int64_t i = 0; i < r->p.n; i++)
		count += r->p.keep[i];
	return count;
}

static bool same_answer(const struct run *a, const struct run *b)
{
	size_t n = (size_t)a->p.n;

	return !memcmp(a->p.keep, b->p.keep, n * sizeof(bool)) &&
	       !memcmp(a->p.group, b->p.group, n * sizeof(int64_t)) &&
	       !memcmp(a->p.score, b->p.score, n * sizeof(double));
}

/* n x d floats: Gaussian, plus `blobs` > 0 well-separated centres (row i in blob i % blobs). */
static float *make_data(int64_t n, int64_t d, int blobs, uint64_t seed)
{
	float *x = malloc((size_t)(n * d) * sizeof(*x));
	struct xf_rng rng;

	xf_rng_init(&rng, seed, 0);
	for (int64_t i = 0; i < n; i++)
		for (int64_t k = 0; k < d; k++)
			x[i * d + k] = (float)xf_rng_normal(&rng) + (blobs ? (float)(20 * ((i % blobs + k) % 5)) : 0);
	return x;
}

static void test_budget(void)
{
	is_int(xf_prune_budget(0.5, 5), 2, "budget: 2.5 rounds to 2 (half to even)");
	is_int(xf_prune_budget(0.5, 7), 4, "budget: 3.5 rounds to 4 (half to even)");
	is_int(xf_prune_budget(0.25, 10), 2, "budget: 2.5 rounds to 2");
	is_int(xf_prune_budget(0.26, 10), 3, "budget: 2.6 rounds to 3");
	is_int(xf_prune_budget(0.01, 10), 1, "budget: at least 1 for a positive fraction");
	is_int(xf_prune_budget(0, 10), 0, "budget: fraction 0 keeps none");
	is_int(xf_prune_budget(1, 10), 10, "budget: fraction 1 keeps all");
	is_int(xf_prune_budget(1.5, 10), 10, "budget: never more than n");
	is_int(xf_prune_budget(0.5, 0), 0, "budget: no rows, none kept");
	is_int(xf_prune_budget(NAN, 10), 0, "budget: NaN fraction keeps none");
}

static void test_random(void)
{
	static const int64_t y[16] = { 0, 1, 0, 2, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0 };
	struct run a, b, c;
	int64_t per_class[3] = { 0, 0, 0 }, hits[10] = { 0 };
	bool uniform = true, group_ok = true, score_nan = true;

	run_init(&a, NULL, 10, 0, NULL, 0);
	run_init(&b, NULL, 10, 0, NULL, 0);
	ok(xf_prune_random(&a.p, 4, 0, false, 1, &a.err) == 0 && kept_count(&a) == 4, "random: keeps count rows");
	xf_prune_random(&b.p, 4, 0, false, 1, &b.err);
	ok(same_answer(&a, &b), "random: the same seed gives the same rows");
	xf_prune_random(&b.p, 4, 0, false, 2, &b.err);
	ok(!same_answer(&a, &b), "random: another seed gives other rows (%s)", kept(&b));
	for (int64_t i = 0; i < 10; i++) {
		group_ok &= a.p.group[i] == -1;
		score_nan &= isnan(a.p.score[i]);
	}
	ok(group_ok && score_nan, "random: group -1 and score NAN for every row");
	xf_prune_random(&a.p, 0, 0.35, false, 3, &a.err);
	is_int(kept_count(&a), 4, "random: fraction 0.35 of 10 keeps round(3.5) = 4");
	for (uint64_t seed = 0; seed < 3000; seed++) {
		xf_prune_random(&a.p, 3, 0, false, seed, &a.err);
		for (int64_t i = 0; i < 10; i++)
			hits[i] += a.p.keep[i];
	}
	for (int64_t i = 0; i < 10; i++)
		uniform &= hits[i] > 900 - 90 && hits[i] < 900 + 90;
	ok(uniform, "random: over 3000 seeds every row is kept about 900 times (row 0: %lld)", (long long)hits[0]);
	run_release(&a);
	run_release(&b);

	/* classes of 10, 5 and 1 rows: round(3) = 3, round(1.5) = 2, round(0.3) = 0 -> at least 1 */
	run_init(&c, NULL, 16, 0, y, 3);
	ok(xf_prune_random(&c.p, 0, 0.3, true, 5, &c.err) == 0, "random per class: runs");
	group_ok = true;
	for (int64_t i = 0; i < 16; i++) {
		per_class[y[i]] += c.p.keep[i];
		group_ok &= c.p.group[i] == y[i];
	}
	ok(per_class[0] == 3 && per_class[1] == 2 && per_class[2] == 1,
	   "random per class: round(0.3 n_c) per class, at least 1 (%lld %lld %lld)", (long long)per_class[0],
	   (long long)per_class[1], (long long)per_class[2]);
	ok(group_ok, "random per class: group is the class");
	run_release(&c);
}

static void test_herding(void)
{
	static const float line[5] = { 0, 1, 2, 3, 10 };
	static const float alternating[4] = { 1, -1, 1, -1 };
	static const int64_t y[8] = { 0, 0, 0, 0, 0, 1, 1, 1 };
	static const float two_classes[8] = { 0, 1, 2, 3, 10, 5, 6, 100 };
	struct run r;

	/* mean 3.2: t = 3.2 -> 3; t = 6.4 - 3 = 3.4 -> 2; t = 9.6 - 5 = 4.6 -> 1; t = 12.8 - 6 = 6.8 -> 10 */
	run_init(&r, line, 5, 1, NULL, 0);
	ok(xf_prune_herding(&r.p, 3, 0, false, false, &r.err) == 0, "herding: runs");
	is_str(kept(&r), "1 2 3", "herding (iCaRL): picks 3, 2, 1 (not the outlier 10, DeepCore's argmax pick)");
	ok(r.p.score[3] == 1 && r.p.score[2] == 2 && r.p.score[1] == 3 && isnan(r.p.score[0]) && isnan(r.p.score[4]),
	   "herding: score is the pick order, NAN when not picked");
	xf_prune_herding(&r.p, 4, 0, false, false, &r.err);
	is_str(kept(&r), "1 2 3 4", "herding: the fourth pick is 10 (t = 6.8)");
	/* Welling: maximise t x; t = 3.2 -> 10; t = 6.4 - 10 < 0 -> 0; t = 9.6 - 10 < 0 -> 1 */
	xf_prune_herding(&r.p, 3, 0, false, true, &r.err);
	is_str(kept(&r), "0 1 4", "herding (Welling): picks 10, 0, 1");
	run_release(&r);

	/* mean 0: all four at distance 1 -> row 0; then t = -1: rows 1 and 3 tie -> row 1 */
	run_init(&r, alternating, 4, 1, NULL, 0);
	xf_prune_herding(&r.p, 2, 0, false, false, &r.err);
	is_str(kept(&r), "0 1", "herding: ties go to the lower row");
	run_release(&r);

	/* per class, 0.6: class 0 as above, 3 rows; class 1 {5, 6, 100}, mean 37, 2 rows: 6, then t = 68 -> 100 */
	run_init(&r, two_classes, 8, 1, y, 2);
	ok(xf_prune_herding(&r.p, 0, 0.6, true, false, &r.err) == 0, "herding per class: runs");
	is_str(kept(&r), "1 2 3 6 7", "herding per class: 3, 2, 1 in class 0; 6, 100 in class 1");
	ok(r.p.group[0] == 0 && r.p.group[7] == 1 && r.p.score[6] == 1 && r.p.score[7] == 2,
	   "herding per class: group is the class, score the pick order within it");
	run_release(&r);
}

/* The k-center picks the slow way, in double, from a given first row: the rows in pick order. */
static void kcenter_reference(const float *x, int64_t n, int64_t d, int64_t count, int64_t first, int64_t *picks)
{
	double *md = malloc((size_t)n * sizeof(*md));

	for (int64_t i = 0; i < n; i++)
		md[i] = INFINITY;
	picks[0] = first;
	for (int64_t t = 0; t < count; t++) {
		int64_t best = -1;

		if (t > 0) {
			for (int64_t i = 0; i < n; i++)
				if (md[i] >= 0 && (best < 0 || md[i] > md[best]))
					best = i;
			picks[t] = best;
		}
		md[picks[t]] = -1;
		for (int64_t i = 0; i < n; i++) {
			double s = 0;

			for (int64_t k = 0; k < d; k++) {
				double diff = (double)x[i * d + k] - x[picks[t] * d + k];

				s += diff * diff;
			}
			md[i] = md[i] >= 0 && s < md[i] ? s : md[i];
		}
	}
	free(md);
}

static void test_kcenter_line(void)
{
	static const float line[6] = { 0, 1, 2, 3, 4, 10 };
	static const int64_t y[6] = { 0, 0, 0, 1, 1, 1 };
	struct run r;
	int64_t first = -1;
	uint64_t seed = 0;

	run_init(&r, line, 6, 1, NULL, 0);
	/* find a seed whose random first centre is row 2 (the value 2) */
	for (seed = 0; seed < 100 && first != 2; seed++) {
		xf_prune_kcenter(&r.p, 1, 0, false, seed, 1, &r.err);
		first = -1;
		for (int64_t i = 0; i < 6; i++)
			first = r.p.keep[i] ? i : first;
	}
	seed--;
	is_int(first, 2, "kcenter: some seed starts from row 2");
	/* from 2: 10 is farthest (8); then 0 and 4 are both 2 from their nearest centre -> row 0 */
	ok(xf_prune_kcenter(&r.p, 3, 0, false, seed, 1, &r.err) == 0, "kcenter: runs");
	is_str(kept(&r), "0 2 5", "kcenter: 2, then 10, then 0 (ties with 4: lower row)");
	ok(isnan(r.p.score[2]) && r.p.score[5] == 8 && r.p.score[0] == 2 && isnan(r.p.score[1]),
	   "kcenter: score is the distance when picked (NAN for the first centre and unpicked rows)");
	xf_prune_kcenter(&r.p, 6, 0, false, seed, 1, &r.err);
	is_int(kept_count(&r), 6, "kcenter: count n keeps every row");
	run_release(&r);

	run_init(&r, line, 6, 1, y, 2);
	ok(xf_prune_kcenter(&r.p, 0, 0.6, true, 9, 2, &r.err) == 0, "kcenter per class: runs");
	ok(r.p.keep[0] + r.p.keep[1] + r.p.keep[2] == 2 && r.p.keep[3] + r.p.keep[4] + r.p.keep[5] == 2 &&
	   r.p.group[1] == 0 && r.p.group[4] == 1, "kcenter per class: round(0.6 * 3) = 2 per class, group = class");
	ok(r.p.keep[5] && r.p.keep[3] + r.p.keep[4] == 1, "kcenter per class: class 1 {3, 4, 10} keeps 10 and 3 or 4");
	run_release(&r);
}

static void test_kcenter_reference(void)
{
	static const int64_t shapes[3][3] = { { 3000, 37, 0 }, { 2500, 64, 7 }, { 5000, 5, 3 } };

	for (int s = 0; s < 3; s++) {
		int64_t n = shapes[s][0], d = shapes[s][1], count = 60, first = -1;
		float *x = make_data(n, d, (int)shapes[s][2], 100 + (uint64_t)s);
		int64_t *picks = malloc((size_t)count * sizeof(*picks));
		struct run r[3];
		bool same_picks = true, same_threads;

		for (int t = 0; t < 3; t++) {
			run_init(&r[t], x, n, d, NULL, 0);
			xf_prune_kcenter(&r[t].p, count, 0, false, 42, t + 1, &r[t].err);
		}
		same_threads = same_answer(&r[0], &r[1]) && same_answer(&r[0], &r[2]);
		ok(same_threads, "kcenter %lld x %lld (%s): the same answer with 1, 2 and 3 threads", (long long)n,
		   (long long)d, shapes[s][2] ? "blobs" : "gaussian");
		for (int64_t i = 0; i < n; i++)
			first = r[0].p.keep[i] && isnan(r[0].p.score[i]) ? i : first;
		kcenter_reference(x, n, d, count, first >= 0 ? first : 0, picks);
		for (int64_t t = 1; t < count; t++)
			same_picks &= r[0].p.keep[picks[t]];
		ok(first >= 0 && kept_count(&r[0]) == count && same_picks,
		   "kcenter %lld x %lld: the rows a brute-force search in double picks", (long long)n, (long long)d);
		for (int t = 0; t < 3; t++)
			run_release(&r[t]);
		free(picks);
		free(x);
	}
}

static void test_moderate(void)
{
	static const float ten[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 100 };
	static const int64_t one_class[10] = { 0 };
	static const float plane[10] = { 0, 0, 1, 5, 2, 1, 9, 9, 3, 2 };
	static const float two[11] = { 0, 1, 2, 3, 10, 100, 101, 102, 103, 104, 105 };
	static const int64_t two_y[11] = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1 };
	struct run r;

	/* median (4 + 5) / 2 = 4.5; by (distance, row): 4 5 3 6 2 7 1 8 0 9 */
	run_init(&r, ten, 10, 1, one_class, 1);
	ok(xf_prune_moderate(&r.p, 4, 0, false, &r.err) == 0, "moderate: runs");
	is_str(kept(&r), "1 2 6 7", "moderate: 4 of 10 keep ranks 3..6 (official band [3, 7))");
	ok(r.p.score[9] == 95.5 && r.p.score[4] == 0.5 && r.p.group[9] == 0, "moderate: score = distance to median");
	xf_prune_moderate(&r.p, 3, 0, false, &r.err);
	is_str(kept(&r), "1 2 7", "moderate: 3 of 10 keep ranks 4..6 (official [4, 6) would keep 2)");
	xf_prune_moderate(&r.p, 0, 0.5, false, &r.err);
	is_str(kept(&r), "1 2 3 6 7", "moderate: fraction 0.5 keeps ranks 2..6 (official [2, 8) would keep 6)");
	run_release(&r);

	/* coordinate-wise median of (0,0) (1,5) (2,1) (9,9) (3,2): (2, 2), not a row */
	run_init(&r, plane, 5, 2, one_class, 1);
	xf_prune_moderate(&r.p, 1, 0, false, &r.err);
	ok(fabs(r.p.score[0] - sqrt(8)) < 1e-12 && fabs(r.p.score[1] - sqrt(10)) < 1e-12 && r.p.score[2] == 1 &&
	   fabs(r.p.score[3] - sqrt(98)) < 1e-12 && r.p.score[4] == 1, "moderate: coordinate-wise median (2, 2)");
	is_str(kept(&r), "0", "moderate: 1 of 5 keeps rank 2 (scores 1 1 sqrt8 sqrt10 sqrt98)");
	run_release(&r);

	/*
	 * class 0 {0 1 2 3 10}: median 2, distances 2 1 0 1 8; class 1 {100..105}: median 102.5,
	 * distances 2.5 1.5 .5 .5 1.5 2.5. All 11 by (score, row): 2 7 8 1 3 6 9 0 5 10 4.
	 */
	run_init(&r, two, 11, 1, two_y, 2);
	xf_prune_moderate(&r.p, 4, 0, false, &r.err);
	is_str(kept(&r), "0 3 6 9", "moderate, global band: ranks 4..7 of all rows");
	ok(xf_prune_moderate(&r.p, 0, 0.5, true, &r.err) == 0, "moderate per class: runs");
	is_str(kept(&r), "0 3 5 6 9", "moderate per class: ranks 2..3 of class 0 (2 rows), 2..4 of class 1 (3 rows)");
	ok(r.p.group[4] == 0 && r.p.group[5] == 1 && r.p.score[5] == 2.5, "moderate per class: group and score");
	run_release(&r);
}

static void test_codebook(void)
{
	/* cluster A (centre 0,0): rows 0 1 3 4 6 8; cluster B (centre 10,10): rows 2 5 7 9 */
	static const float x[20] = { 1, 0, -1, 0, 11, 10, 0, 1, 0, -1, 9, 10, 0, 0, 10, 11, 0, 0, 10, 9 };
	struct xf_kmeans_opts km = XF_KMEANS_OPTS_INIT;
	float line[30];
	struct run r;
	bool same_groups = true;

	km.k = 2;
	km.seed = 3;
	run_init(&r, x, 10, 2, NULL, 0);
	ok(xf_prune_codebook(&r.p, 0.5, &km, &r.err) == 0, "codebook: runs (%s)", r.err.msg);
	is_str(kept(&r), "0 2 3 6 7", "codebook: A keeps positions 0 2 4 of 6, B positions 0 2 of 4");
	for (int i = 0; i < 10; i++)
		same_groups &= (r.p.group[i] == r.p.group[0]) == (i != 2 && i != 5 && i != 7 && i != 9);
	ok(same_groups && r.p.group[0] >= 0 && r.p.group[0] < 2 && r.p.group[2] >= 0 && r.p.group[2] < 2,
	   "codebook: group is the cluster");
	ok(r.p.score[0] == 1 && r.p.score[6] == 0 && r.p.score[2] == 1 && r.p.score[8] == 0,
	   "codebook: score is the distance to the centre");
	xf_prune_codebook(&r.p, 0.3, &km, &r.err);
	is_str(kept(&r), "0 2 4 7", "codebook: ceil(1.8) = 2 of A (positions 0 3), ceil(1.2) = 2 of B (0 2)");
	run_release(&r);

	for (int i = 0; i < 30; i++)
		line[i] = (float)i;
	km.k = 1;
	run_init(&r, line, 30, 1, NULL, 0);
	xf_prune_codebook(&r.p, 0.1, &km, &r.err);
	is_str(kept(&r), "0 10 20", "codebook: 0.1 x 30 keeps 3, not ceil(3.0000000000000004)");
	run_release(&r);
}

/* Unit vector at `degrees` in the plane, times scale. */
static void at_angle(float *row, double degrees, float scale)
{
	row[0] = scale * (float)cos(degrees * M_PI / 180);
	row[1] = scale * (float)sin(degrees * M_PI / 180);
}

static void test_semdedup_order(void)
{
	struct xf_kmeans_opts km = XF_KMEANS_OPTS_INIT;
	float x[10];
	struct run r;
	double eps = 0, eps_again = 0;

	/*
	 * One cluster whose centre lies a hair above angle 0. Farthest first: row 2 (-40), rows 1
	 * and 3 (40; row 3 is row 1 doubled, an exact tie, so row 1 first), row 4 (-39), row 0 (0).
	 * Scores: row 1 cos 80, row 3 1 (row 1), row 4 cos 1 (row 2), row 0 cos 39.
	 */
	at_angle(x + 0, 0, 1);
	at_angle(x + 2, 40, 1);
	at_angle(x + 4, -40, 1);
	x[6] = 2 * x[2];
	x[7] = 2 * x[3];
	at_angle(x + 8, -39, 1);
	km.k = 1;
	run_init(&r, x, 5, 2, NULL, 0);
	ok(xf_prune_semdedup(&r.p, 1e-3, 0, &km, &eps, &r.err) == 0, "semdedup: runs (%s)", r.err.msg);
	is_str(kept(&r), "0 1 2", "semdedup eps 1e-3: the duplicate (row 3) and the near-duplicate (row 4) go");
	ok(isnan(r.p.score[2]) && fabs(r.p.score[1] - cos(80 * M_PI / 180)) < 1e-6 && fabs(r.p.score[3] - 1) < 1e-6 &&
	   fabs(r.p.score[4] - cos(1 * M_PI / 180)) < 1e-6 && fabs(r.p.score[0] - cos(39 * M_PI / 180)) < 1e-6,
	   "semdedup: scores are the largest similarity to an earlier member (NAN for the farthest)");
	ok(eps == 1e-3 && r.p.group[0] == 0 && r.p.group[4] == 0, "semdedup: eps_used = eps; group = the cluster");
	xf_prune_semdedup(&r.p, 1e-5, 0, &km, &eps, &r.err);
	is_str(kept(&r), "0 1 2 4", "semdedup eps 1e-5: only the exact duplicate goes");
	xf_prune_semdedup(&r.p, 0.3, 0, &km, &eps, &r.err);
	is_str(kept(&r), "1 2", "semdedup eps 0.3: row 0 goes too (cos 39 > 0.7)");

	ok(xf_prune_semdedup(&r.p, -1, 3, &km, &eps, &r.err) == 0, "semdedup count 3: runs");
	is_str(kept(&r), "0 1 2", "semdedup count 3: keeps 3");
	ok(eps > 1 - cos(1 * M_PI / 180) && eps < 1 - cos(39 * M_PI / 180),
	   "semdedup count 3: eps %g lies between the scores it separates", eps);
	xf_prune_semdedup(&r.p, eps, 0, &km, &eps_again, &r.err);
	is_str(kept(&r), "0 1 2", "semdedup: running again with eps_used keeps the same rows");
	xf_prune_semdedup(&r.p, -1, 4, &km, &eps, &r.err);
	is_str(kept(&r), "0 1 2 4", "semdedup count 4: keeps 4");
	xf_prune_semdedup(&r.p, -1, 5, &km, &eps, &r.err);
	ok(!strcmp(kept(&r), "0 1 2 3 4") && eps == 0, "semdedup count 5: keeps all with eps 0");
	xf_prune_semdedup(&r.p, -1, 1, &km, &eps, &r.err);
	is_str(kept(&r), "2", "semdedup count 1: only the first member stays");
	run_release(&r);
}

static void test_semdedup_ties(void)
{
	/* rows 0 1 2 are (1, 0), row 3 is (0, 1): scores exactly 1 1 (two copies), and 0 or NAN */
	static const float x[8] = { 1, 0, 1, 0, 1, 0, 0, 1 };
	static const float blobs[16] = { 1, 0, 0, 5, 1, 0, 0, 3, 2, 0, 0.01f, 1, 3, 0.02f, 0, 2 };
	struct xf_kmeans_opts km = XF_KMEANS_OPTS_INIT;
	struct run r;
	double eps;

	km.k = 1;
	run_init(&r, x, 4, 2, NULL, 0);
	xf_prune_semdedup(&r.p, -1, 3, &km, &eps, &r.err);
	is_int(kept_count(&r), 2, "semdedup count 3: two exact copies tie, so the fewest removals reaching 3 keep 2");
	ok(r.p.keep[0] && r.p.keep[3], "semdedup: the first copy and the other direction stay");
	xf_prune_semdedup(&r.p, 0, 0, &km, &eps, &r.err);
	is_int(kept_count(&r), 4, "semdedup eps 0: exact copies (similarity 1) are not above 1 - 0");
	run_release(&r);

	/* two clusters: rows 0 2 4 6 along x (4 and 6: copies of 0 and near it), rows 1 3 5 7 along y */
	km.k = 2;
	run_init(&r, blobs, 8, 2, NULL, 0);
	ok(xf_prune_semdedup(&r.p, 1e-3, 0, &km, &eps, &r.err) == 0, "semdedup, 2 clusters: runs");
	ok(r.p.group[0] == r.p.group[2] && r.p.group[0] == r.p.group[4] && r.p.group[0] == r.p.group[6] &&
	   r.p.group[1] == r.p.group[3] && r.p.group[1] == r.p.group[5] && r.p.group[1] == r.p.group[7] &&
	   r.p.group[0] != r.p.group[1], "semdedup, 2 clusters: the clusters are the two directions");
	/* farthest from each centre: row 6 (0.38 degrees off x), row 5 (0.57 off y); the rest are copies within 1e-3 */
	is_str(kept(&r), "5 6", "semdedup, 2 clusters: one row of each group of near-copies");
	run_release(&r);
}

/* Order-free checks of the tiled similarities on a cluster larger than one tile. */
static void test_semdedup_tiles(void)
{
	int64_t n = 1300, d = 12;
	float *x = make_data(n, d, 0, 7);
	struct xf_kmeans_opts km = XF_KMEANS_OPTS_INIT;
	double *norm = malloc((size_t)n * sizeof(*norm)), eps;
	struct run r;
	int64_t firsts = 0, uncovered = 0, unattained = 0;

	for (int64_t i = 0; i < 40; i++)      /* some near-copies of earlier rows */
		for (int64_t k = 0; k < d; k++)
			x[(n - 1 - i * 7) * d + k] = x[(i * 13) * d + k] * 1.5f + (k == 0 ? 1e-4f : 0);
	for (int64_t i = 0; i < n; i++) {
		double s = 0;

		for (int64_t k = 0; k < d; k++)
			s += (double)x[i * d + k] * x[i * d + k];
		norm[i] = sqrt(s);
	}
	km.k = 1;
	run_init(&r, x, n, d, NULL, 0);
	ok(xf_prune_semdedup(&r.p, 0.01, 0, &km, &eps, &r.err) == 0, "semdedup %lld rows: runs", (long long)n);
	for (int64_t j = 0; j < n; j++) {
		bool found = false;

		firsts += isnan(r.p.score[j]);
		for (int64_t i = 0; i < n; i++) {
			double s = 0;

			if (i == j)
				continue;
			for (int64_t k = 0; k < d; k++)
				s += (double)x[i * d + k] * x[j * d + k];
			s /= norm[i] * norm[j];
			/* whichever of the pair comes later has a score of at least their similarity */
			if (i < j && !(r.p.score[i] >= s - 1e-5 || r.p.score[j] >= s - 1e-5))
				uncovered++;
			found |= fabs(s - r.p.score[j]) < 1e-5;
		}
		unattained += !isnan(r.p.score[j]) && !found;
	}
	is_int(firsts, 1, "semdedup tiles: one first member");
	is_int(uncovered, 0, "semdedup tiles: every pair's similarity is covered by the later member's score");
	is_int(unattained, 0, "semdedup tiles: every score is the similarity to some other row");
	ok(kept_count(&r) <= n - 40, "semdedup tiles: the 40 near-copies go (%lld kept)", (long long)kept_count(&r));
	run_release(&r);
	free(norm);
	free(x);
}

static void test_errors(void)
{
	static const float x[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	static const int64_t y[4] = { 0, 1, 0, 1 };
	static const int64_t bad_y[4] = { 0, 1, 2, 1 };
	float with_nan[8] = { 0, 1, 2, 3, 4, 5, NAN, 7 };
	struct xf_kmeans_opts km = XF_KMEANS_OPTS_INIT;
	struct run r;
	double eps;

	run_init(&r, x, 4, 2, NULL, 0);
	ok(xf_prune_random(&r.p, 5, 0, false, 1, &r.err) < 0 && r.err.code == XF_E_USAGE, "random: count > n: usage");
	ok(xf_prune_herding(&r.p, 5, 0, false, false, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "herding: count > n: usage");
	ok(xf_prune_kcenter(&r.p, 5, 0, false, 1, 1, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "kcenter: count > n: usage (%s)", r.err.msg);
	ok(xf_prune_herding(&r.p, 0, 0, false, false, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "herding: neither count nor fraction: usage");
	ok(xf_prune_kcenter(&r.p, 0, 1.5, false, 1, 1, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "kcenter: fraction > 1: usage");
	ok(xf_prune_random(&r.p, 0, 0.5, true, 1, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "random: per class without labels: usage (%s)", r.err.msg);
	ok(xf_prune_kcenter(&r.p, 0, 0.5, true, 1, 1, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "kcenter: per class without labels: usage");
	ok(xf_prune_moderate(&r.p, 2, 0, false, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "moderate: no labels: usage (%s)", r.err.msg);
	ok(xf_prune_codebook(&r.p, 0, &km, &r.err) < 0 && r.err.code == XF_E_USAGE, "codebook: fraction 0: usage");
	km.k = 5;
	ok(xf_prune_codebook(&r.p, 0.5, &km, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "codebook: more clusters than rows: usage");
	km.k = 1;
	ok(xf_prune_semdedup(&r.p, -1, 5, &km, &eps, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "semdedup: count > n: usage");
	ok(xf_prune_semdedup(&r.p, NAN, 0, &km, &eps, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "semdedup: NaN eps: usage");
	run_release(&r);

	run_init(&r, x, 4, 2, y, 2);
	ok(xf_prune_herding(&r.p, 2, 0, true, false, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "herding: per class with a count: usage");
	run_release(&r);

	run_init(&r, x, 4, 2, bad_y, 2);
	ok(xf_prune_moderate(&r.p, 2, 0, false, &r.err) < 0 && r.err.code == XF_E_FORMAT &&
	   strstr(r.err.msg, "row 2"), "moderate: a label out of range names the row (%s)", r.err.msg);
	run_release(&r);

	run_init(&r, with_nan, 4, 2, y, 2);
	ok(xf_prune_kcenter(&r.p, 2, 0, false, 1, 1, &r.err) < 0 && r.err.code == XF_E_FORMAT &&
	   strstr(r.err.msg, "row 3"), "kcenter: NaN names the row (%s)", r.err.msg);
	ok(xf_prune_herding(&r.p, 2, 0, false, false, &r.err) < 0 && strstr(r.err.msg, "row 3"),
	   "herding: NaN names the row");
	ok(xf_prune_moderate(&r.p, 2, 0, false, &r.err) < 0 && strstr(r.err.msg, "row 3"),
	   "moderate: NaN names the row");
	ok(xf_prune_codebook(&r.p, 0.5, &km, &r.err) < 0 && strstr(r.err.msg, "row 3"),
	   "codebook: NaN names the row");
	ok(xf_prune_semdedup(&r.p, 0.1, 0, &km, &eps, &r.err) < 0 && strstr(r.err.msg, "row 3"),
	   "semdedup: NaN names the row");
	ok(xf_prune_random(&r.p, 2, 0, false, 1, &r.err) == 0, "random: needs no features, so NaN is no error");
	run_release(&r);

	run_init(&r, x, 0, 2, y, 2);
	ok(xf_prune_random(&r.p, 0, 0.5, false, 1, &r.err) == 0 &&
	   xf_prune_kcenter(&r.p, 0, 0.5, false, 1, 0, &r.err) == 0 &&
	   xf_prune_moderate(&r.p, 0, 0.5, true, &r.err) == 0 && xf_prune_codebook(&r.p, 0.5, &km, &r.err) == 0 &&
	   xf_prune_semdedup(&r.p, -1, 0, &km, &eps, &r.err) == 0, "no rows: nothing to keep, no error (%s)",
	   r.err.msg);
	ok(xf_prune_herding(&r.p, 1, 0, false, false, &r.err) < 0 && r.err.code == XF_E_USAGE,
	   "no rows: a count of 1 is still too many");
	run_release(&r);
}

int main(void)
{
	test_budget();
	test_random();
	test_herding();
	test_kcenter_line();
	test_kcenter_reference();
	test_moderate();
	test_codebook();
	test_semdedup_order();
	test_semdedup_ties();
	test_semdedup_tiles();
	test_errors();
	return done_testing();
}
