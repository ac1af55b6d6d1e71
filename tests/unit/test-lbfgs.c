/* lbfgs: known minima of smooth functions, the stopping rules, and a bad start. */
#include <math.h>
#include <stdlib.h>

#include "lbfgs.h"
#include "tap.h"

/* Rosenbrock in n dimensions (chained): minimum 0 at (1, ..., 1). */
static double rosenbrock(void *ctx, const double *x, double *g)
{
	int64_t n = *(int64_t *)ctx;
	double f = 0;

	for (int64_t i = 0; i < n; i++)
		g[i] = 0;
	for (int64_t i = 0; i + 1 < n; i++) {
		double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];

		f += 100 * a * a + b * b;
		g[i] += -400 * a * x[i] - 2 * b;
		g[i + 1] += 200 * a;
	}
	return f;
}

/* An ill-conditioned quadratic sum_i (i + 1) (x_i - i)^2 / 2: minimum at x_i = i. */
static double quadratic(void *ctx, const double *x, double *g)
{
	int64_t n = *(int64_t *)ctx;
	double f = 0;

	for (int64_t i = 0; i < n; i++) {
		double e = x[i] - (double)i;

		f += 0.5 * (double)(i + 1) * e * e;
		g[i] = (double)(i + 1) * e;
	}
	return f;
}

static double not_finite(void *ctx, const double *x, double *g)
{
	(void)ctx, (void)x;
	g[0] = 0;
	return NAN;
}

static double max_error(const double *x, int64_t n, double (*want)(int64_t))
{
	double m = 0;

	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i] - want(i)));
	return m;
}

static double one(int64_t i)
{
	(void)i;
	return 1;
}

static double index_value(int64_t i)
{
	return (double)i;
}

int main(void)
{
	struct xf_lbfgs_opts o = XF_LBFGS_OPTS_INIT;
	struct xf_lbfgs_result r;
	struct xf_err err = XF_ERR_INIT;
	int64_t n = 2;
	double x2[2] = { -1.2, 1 }, *x;

	o.gtol = 1e-9, o.ftol = 0;
	ok(xf_lbfgs(2, x2, rosenbrock, &n, &o, &r, &err) == 0, "rosenbrock 2-D from (-1.2, 1)");
	is_near(max_error(x2, 2, one), 0, 1e-7, "... reaches (1, 1)");
	is_int(r.stop, XF_LBFGS_GTOL, "... by the gradient tolerance");
	ok(r.iterations < 100, "... in %d iterations (under 100)", r.iterations);

	n = 100;
	x = calloc(100, sizeof(double));
	for (int i = 0; i < 100; i++)
		x[i] = i % 2 ? -1 : 0.5;
	ok(xf_lbfgs(n, x, rosenbrock, &n, &o, &r, &err) == 0 && r.stop == XF_LBFGS_GTOL, "rosenbrock 100-D converges");
	is_near(max_error(x, n, one), 0, 1e-6, "... to (1, ..., 1)");

	for (int i = 0; i < 100; i++)
		x[i] = 0;
	ok(xf_lbfgs(n, x, quadratic, &n, &o, &r, &err) == 0, "a quadratic with condition number 100");
	is_near(max_error(x, n, index_value), 0, 1e-8, "... reaches its minimum");
	ok(r.evaluations <= r.iterations + 15, "... nearly always with the unit step (%d evaluations, %d iterations)",
	   r.evaluations, r.iterations);

	for (int i = 0; i < 100; i++)
		x[i] = 0;
	o.max_iter = 3;
	ok(xf_lbfgs(n, x, quadratic, &n, &o, &r, &err) == 0 && r.stop == XF_LBFGS_MAX_ITER && r.iterations == 3,
	   "--max-iter stops the run");
	o = (struct xf_lbfgs_opts)XF_LBFGS_OPTS_INIT;
	o.gtol = 0, o.ftol = 1e-3;
	for (int i = 0; i < 100; i++)
		x[i] = 0;
	ok(xf_lbfgs(n, x, quadratic, &n, &o, &r, &err) == 0 && r.stop == XF_LBFGS_FTOL, "a small decrease stops the run");

	ok(xf_lbfgs(1, x, not_finite, NULL, &o, &r, &err) == -1 && err.code == XF_E_FORMAT,
	   "a NaN objective at the start is an error");
	free(x);
	return done_testing();
}
