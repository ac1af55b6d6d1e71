/*
 * Unit tests for lib/score_probe.c: the knn and linprobe metrics on cases worked by hand
 * (points on a line), their invariances (translation, scale, zero columns that send
 * linprobe to its dual solve), thread-count independence of knn, and their errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "score-fixtures.h"
#include "tap.h"

/* ---- knn ---- */

/*
 * Six points on a line, x = 0 1 2 3 10 11, labels 0 0 0 0 1 1. With n = 6 each row's 5
 * nearest other rows are all the others, so the vote is that of the other five rows:
 * rows 0..3 see three 0s and two 1s (right), rows 4 and 5 see four 0s and one 1 (wrong):
 * 4/6. The row itself never votes: with labels 0 0 0 1 1 1 every row sees 2 against 3: 0.
 */
static void test_knn_six(void)
{
	double x[] = { 0, 1, 2, 3, 10, 11 };
	int64_t y[] = { 0, 0, 0, 0, 1, 1 };
	struct xf_score_data d = { .n = 6, .d = 1, .f = x, .y = y, .c = 2 };

	is_near(fixture_run("knn", &d), 4.0 / 6, 0, "knn: six points on a line by hand");
	y[3] = 1;
	is_near(fixture_run("knn", &d), 0, 0, "knn: leave-one-out, the row does not vote for itself");
}

/*
 * Eight points on a line, x = 2 7 8 8 8 9 12 13, labels 0 0 1 2 0 2 1 0 (rows r0..r7).
 * Nearest five (distance), their labels, prediction:
 *   r0: r1(5) r2(6) r3(6) r4(6) r5(7)   0 1 2 0 2  0 and 2 tie, r1's 0 met first  -> 0 right
 *   r1: r2(1) r3(1) r4(1) r5(2) r0(5)   1 2 0 2 0  2 and 0 tie, r3's 2 first       -> 2 wrong
 *       (r0 and r6 are both at 5: r0, the lower index, takes the fifth place; r6's
 *       label 1 instead would have made 1 2 0 2 1 -> 1)
 *   r2: r3(0) r4(0) r1(1) r5(1) r6(4)   2 0 0 2 1  2 first                          -> 2 wrong
 *   r3: r2(0) r4(0) r1(1) r5(1) r6(4)   1 0 0 2 1  1 first                          -> 1 wrong
 *   r4: r2(0) r3(0) r1(1) r5(1) r6(4)   1 2 0 2 1  1 first                          -> 1 wrong
 *   r5: r2(1) r3(1) r4(1) r1(2) r6(3)   1 2 0 0 1  1 first                          -> 1 wrong
 *   r6: r7(1) r5(3) r2(4) r3(4) r4(4)   0 2 1 2 0  0 first                          -> 0 wrong
 *   r7: r6(1) r5(4) r2(5) r3(5) r4(5)   1 2 1 2 0  1 first                          -> 1 wrong
 * The duplicates r2, r3, r4 are each other's nearest. Accuracy 1/8.
 */
static void test_knn_ties(void)
{
	double x[] = { 2, 7, 8, 8, 8, 9, 12, 13 };
	int64_t y[] = { 0, 0, 1, 2, 0, 2, 1, 0 };
	struct xf_score_data d = { .n = 8, .d = 1, .f = x, .y = y, .c = 3 };

	is_near(fixture_run("knn", &d), 1.0 / 8, 0, "knn: distance ties, label ties and duplicates by hand");
	/* r6's label 1 -> 3, leaving label value 1 to r2 alone: the votes change (r3: 1 0 0 2 3 -> 0, r7: 3 2 1 2 0 -> 2)
	 * but only r0 is still right */
	y[6] = 3;
	d.c = 4;
	is_near(fixture_run("knn", &d), 1.0 / 8, 0, "knn: the same with a gap in the label values");
}

/* Random blobs: translation changes nothing; 1 thread and all cores agree. */
static void test_knn_invariance(void)
{
	int64_t n = 400, dim = 6;
	double *x = malloc((size_t)(n * dim) * sizeof(*x)), a, b;
	int64_t *y = malloc((size_t)n * sizeof(*y));
	struct xf_score_data d = { .n = n, .d = dim, .f = x, .y = y, .c = 3, .threads = 1 };

	srand(3);
	for (int64_t i = 0; i < n; i++) {
		y[i] = i % 3;
		for (int64_t j = 0; j < dim; j++)
			x[i * dim + j] = (double)rand() / RAND_MAX + 0.4 * (double)y[i] * (j == 0);
	}
	a = fixture_run("knn", &d);
	d.threads = 0;
	ok(a > 0.4 && a < 1 && fixture_run("knn", &d) == a, "knn: 1 thread and all cores agree (%g)", a);
	for (int64_t i = 0; i < n * dim; i++)
		x[i] += 1000;
	b = fixture_run("knn", &d);
	ok(b == a, "knn: an offset of 1000 changes nothing (%g)", b);
	free(x);
	free(y);
}

/* ---- linprobe ---- */

/*
 * x = 0 1 2 3 4, labels 0 0 0 1 1: five folds of one row, n_t = 4 >= d = 1 (primal).
 * With two classes W's columns are opposite (Yc's rows sum to 0), so
 * score0 - score1 = 2 (x - mu) W0 + ybar0 - ybar1, W0 = S_xy0 / ((1 + 1e-3) S_xx),
 * S_xy0 = sum over training rows of class 0 of (x - mu):
 *   fold 0: mu 2.5,  S_xx 5,    S_xy0 -2,    ybar .5 .5   diff 2(-2.5)(-2/5.005)        > 0 -> 0 right
 *   fold 1: mu 2.25, S_xx 8.75, S_xy0 -2.5,  ybar .5 .5   diff 2(-1.25)(-2.5/8.75875)   > 0 -> 0 right
 *   fold 2: mu 2,    x - mu = 0,               ybar .5 .5   diff 0: a tie, the first    -> 0 right
 *   fold 3: mu 1.75, S_xx 8.75, S_xy0 -2.25, ybar .75 .25 diff 2(1.25)(-.2569) + .5   < 0 -> 1 right
 *   fold 4: mu 1.5,  S_xx 5,    S_xy0 -1.5,  ybar .75 .25 diff 2(2.5)(-.2997) + .5    < 0 -> 1 right
 * Labels 1 1 0 1 0 (class 0 at x = 2 and 4), S_xy0 now summing x - mu over those:
 *   fold 0: mu 2.5,  S_xy0 1,   ybar .5 .5    diff 2(-2.5)(1/5.005)             < 0 -> 1 right
 *   fold 1: mu 2.25, S_xy0 1.5, ybar .5 .5    diff 2(-1.25)(1.5/8.75875)        < 0 -> 1 right
 *   fold 2: x - mu = 0,         ybar .25 .75  diff -.5                              -> 1 wrong
 *   fold 3: mu 1.75, S_xy0 2.5, ybar .5 .5    diff 2(1.25)(2.5/8.75875)         > 0 -> 0 wrong
 *   fold 4: mu 1.5,  S_xy0 .5,  ybar .25 .75  diff 2(2.5)(.5/5.005) - .5 = .5/1.001 - .5 < 0 -> 1 wrong
 * 2/5; without the ridge fold 4 would tie and go to class 0, right: 3/5.
 */
static void test_linprobe_line(void)
{
	double x[] = { 0, 1, 2, 3, 4 };
	int64_t y[] = { 0, 0, 0, 1, 1 }, y2[] = { 1, 1, 0, 1, 0 };
	struct xf_score_data d = { .n = 5, .d = 1, .f = x, .y = y, .c = 2 };

	is_near(fixture_run("linprobe", &d), 1, 0, "linprobe: five points on a line by hand (and an exact tie)");
	d.y = y2;
	is_near(fixture_run("linprobe", &d), 0.4, 0, "linprobe: the ridge decides fold 4");
}

/*
 * The first case again with five zero columns added: d = 6 > n_t = 4, so the dual solve,
 * with lambda = 1e-3 S_xx / 6; the margins above do not depend on it. Then the features
 * scaled by 1000 and moved by 1e6: lambda scales with them, the intercept absorbs the move.
 */
static void test_linprobe_dual_and_scale(void)
{
	double wide[30] = { 0 }, x[] = { 0, 1, 2, 3, 4 };
	int64_t y[] = { 0, 0, 0, 1, 1 }, y2[] = { 1, 1, 0, 1, 0 };
	struct xf_score_data d = { .n = 5, .d = 6, .f = wide, .y = y, .c = 2 };

	for (int i = 0; i < 5; i++)
		wide[i * 6 + 2] = i;
	is_near(fixture_run("linprobe", &d), 1, 0, "linprobe: the dual solve (d > n_t) by hand");
	for (int i = 0; i < 5; i++)
		x[i] = 1e6 + 1e3 * x[i];
	d = (struct xf_score_data){ .n = 5, .d = 1, .f = x, .y = y2, .c = 2 };
	is_near(fixture_run("linprobe", &d), 0.4, 0, "linprobe: scaled by 1000 and moved by 1e6, the same");
}

/* All training rows equal: W = 0, the most frequent training label (the first on ties) is predicted. */
static void test_linprobe_constant(void)
{
	double x[] = { 7, 7, 7, 7, 7, 7 };
	int64_t y[] = { 1, 1, 0, 1, 0, 0 };
	struct xf_score_data d = { .n = 6, .d = 1, .f = x, .y = y, .c = 2 };

	/* folds: {0, 5} {1} {2} {3} {4}. Fold 0 trains on rows 1..4 (1 0 1 0: a tie -> 0): row 0 wrong, row 5 right;
	 * fold 1 on 0 2 3 4 5 (1 0 1 0 0 -> 0), fold 2 on 0 1 3 4 5 (1 1 1 0 0 -> 1), fold 3 on 0 1 2 4 5
	 * (1 1 0 0 0 -> 0), fold 4 on 0 1 2 3 5 (1 1 0 1 0 -> 1): all wrong. 1/6. */
	is_near(fixture_run("linprobe", &d), 1.0 / 6, 0, "linprobe: constant features predict the training majority");
}

static void test_errors(void)
{
	double x[] = { 0, 1, 2, 3, 4 };
	int64_t y[] = { 0, 1, 0, 1, 0 };
	struct xf_score_data d = { .n = 5, .d = 1, .f = x, .y = y, .c = 2 };
	const struct xf_metric *m = xf_metric_find("knn");
	struct xf_err err = XF_ERR_INIT;
	double out;

	ok(m && m->compute(&d, NULL, &out, &err) < 0 && strstr(err.msg, "at least 6"),
	   "knn with 5 rows fails: %s", err.msg);
	d.n = 4;
	err = (struct xf_err)XF_ERR_INIT;
	m = xf_metric_find("linprobe");
	ok(m && m->compute(&d, NULL, &out, &err) < 0 && strstr(err.msg, "at least 5"),
	   "linprobe with 4 rows fails: %s", err.msg);
	ok(xf_metric_find("knn")->higher_is_better && !xf_metric_find("knn")->reducible &&
	   xf_metric_find("linprobe")->needs == (XF_NEEDS_F | XF_NEEDS_Y), "table entries: needs, direction, reducible");
}

int main(void)
{
	test_knn_six();
	test_knn_ties();
	test_knn_invariance();
	test_linprobe_line();
	test_linprobe_dual_and_scale();
	test_linprobe_constant();
	test_errors();
	return done_testing();
}
