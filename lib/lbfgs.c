/* lbfgs: L-BFGS with a strong Wolfe line search; see lbfgs.h. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lbfgs.h"

#define C1 1e-4          /* sufficient decrease */
#define C2 0.9           /* curvature (the usual value for quasi-Newton methods) */
#define MAX_EVALS 40     /* function evaluations in one line search */

struct search {
	int64_t n;
	xf_lbfgs_fn f;
	void *ctx;
	const double *x0, *d;   /* start and direction */
	double *x, *g;          /* trial point and its gradient */
	double f0, dg0;         /* value and directional derivative at the start */
	int evals;
};

static double dot(int64_t n, const double *a, const double *b)
{
	double s = 0;

	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double max_abs(int64_t n, const double *a)
{
	double m = 0;

	for (int64_t i = 0; i < n; i++)
		m = fabs(a[i]) > m ? fabs(a[i]) : m;
	return m;
}

/* f and its directional derivative at x0 + t d (x and g then hold that point). */
static double phi(struct search *s, double t, double *dphi)
{
	double v;

	for (int64_t i = 0; i < s->n; i++)
		s->x[i] = s->x0[i] + t * s->d[i];
	v = s->f(s->ctx, s->x, s->g);
	s->evals++;
	*dphi = dot(s->n, s->g, s->d);
	return v;
}

/* Zoom between lo (sufficient decrease) and hi; 1 with the point in s->x, 0 if none found. */
static int zoom(struct search *s, double lo, double f_lo, double hi, double *t_out, double *f_out)
{
	while (s->evals < MAX_EVALS) {
		/* Bisection: L-BFGS nearly always takes the unit step, so zooming is rare. */
		double dt, t = lo + 0.5 * (hi - lo), ft = phi(s, t, &dt);

		if (ft > s->f0 + C1 * t * s->dg0 || ft >= f_lo) {
			hi = t;
		} else {
			if (fabs(dt) <= -C2 * s->dg0) {
				*t_out = t, *f_out = ft;
				return 1;
			}
			if (dt * (hi - lo) >= 0)
				hi = lo;
			lo = t, f_lo = ft;
		}
		if (fabs(hi - lo) < 1e-16 * fmax(1, fabs(lo)))
			break;
	}
	return 0;
}

/* A step t meeting the strong Wolfe conditions, starting from t = 1; 1 on success. */
static int line_search(struct search *s, double t, double *t_out, double *f_out)
{
	double t_prev = 0, f_prev = s->f0;

	while (s->evals < MAX_EVALS) {
		double dt, ft = phi(s, t, &dt);

		if (!isfinite(ft) || ft > s->f0 + C1 * t * s->dg0 || (s->evals > 1 && ft >= f_prev)) {
			if (!isfinite(ft)) {
				t = t_prev + 0.25 * (t - t_prev);
				continue;
			}
			return zoom(s, t_prev, f_prev, t, t_out, f_out);
		}
		if (fabs(dt) <= -C2 * s->dg0) {
			*t_out = t, *f_out = ft;
			return 1;
		}
		if (dt >= 0)
			return zoom(s, t, ft, t_prev, t_out, f_out);
		t_prev = t, f_prev = ft;
		t *= 2;
	}
	return 0;
}

/* d = -H g by the two-loop recursion over the k newest pairs (ring buffer from `newest`). */
static void direction(int64_t n, int m, int k, int newest, double *const *sv, double *const *yv, const double *rho,
		      double *alpha, const double *g, double *d)
{
	for (int64_t i = 0; i < n; i++)
		d[i] = -g[i];
	for (int j = 0; j < k; j++) {
		int p = (newest - j + m) % m;

		alpha[p] = rho[p] * dot(n, sv[p], d);
		for (int64_t i = 0; i < n; i++)
			d[i] -= alpha[p] * yv[p][i];
	}
	if (k > 0) {
		double gamma = dot(n, sv[newest], yv[newest]) / dot(n, yv[newest], yv[newest]);

		for (int64_t i = 0; i < n; i++)
			d[i] *= gamma;
	}
	for (int j = k - 1; j >= 0; j--) {
		int p = (newest - j + m) % m;
		double beta = rho[p] * dot(n, yv[p], d);

		for (int64_t i = 0; i < n; i++)
			d[i] += (alpha[p] - beta) * sv[p][i];
	}
}

const char *xf_lbfgs_stop_name(enum xf_lbfgs_stop stop)
{
	static const char *const names[] = { "gradient below tolerance", "no further decrease", "iteration limit",
					     "line search found no decrease" };

	return names[stop];
}

struct state {
	double *g, *d, *xt, *gt, *rho, *alpha;
	double **sv, **yv;
};

static void free_state(struct state *st, int m)
{
	for (int j = 0; st->sv && j < m; j++)
		free(st->sv[j]), free(st->yv[j]);
	free(st->g), free(st->d), free(st->xt), free(st->gt), free(st->rho), free(st->alpha), free(st->sv), free(st->yv);
}

static int alloc_state(struct state *st, int64_t n, int m, struct xf_err *err)
{
	size_t bytes = (size_t)n * sizeof(double) + 1;
	bool ok;

	*st = (struct state){ malloc(bytes), malloc(bytes), malloc(bytes), malloc(bytes), calloc(m, sizeof(double)),
			      calloc(m, sizeof(double)), calloc(m, sizeof(double *)), calloc(m, sizeof(double *)) };
	ok = st->g && st->d && st->xt && st->gt && st->rho && st->alpha && st->sv && st->yv;
	for (int j = 0; ok && j < m; j++)
		ok = (st->sv[j] = malloc(bytes)) && (st->yv[j] = malloc(bytes));
	return ok ? 0 : xf_err_nomem(err, bytes);
}

/* Keep the pair (s, y) = (x' - x, g' - g) when its curvature is positive; returns the pairs held. */
static int remember(struct state *st, int64_t n, int m, int k, int *newest, const double *x, const double *xt)
{
	int p = (*newest + 1) % m;
	double sy;

	for (int64_t i = 0; i < n; i++)
		st->sv[p][i] = xt[i] - x[i], st->yv[p][i] = st->gt[i] - st->g[i];
	sy = dot(n, st->sv[p], st->yv[p]);
	if (!(sy > 1e-12 * dot(n, st->yv[p], st->yv[p])))
		return k;
	st->rho[p] = 1 / sy;
	*newest = p;
	return k < m ? k + 1 : m;
}

int xf_lbfgs(int64_t n, double *x, xf_lbfgs_fn f, void *ctx, const struct xf_lbfgs_opts *o,
	     struct xf_lbfgs_result *res, struct xf_err *err)
{
	int m = o->memory > 0 ? o->memory : 10, k = 0, newest = m - 1;
	struct state st;
	double fx;

	if (alloc_state(&st, n, m, err) < 0)
		return free_state(&st, m), -1;
	*res = (struct xf_lbfgs_result){ 0, 1, 0, 0, XF_LBFGS_MAX_ITER };
	fx = f(ctx, x, st.g);
	if (!isfinite(fx) || !isfinite(max_abs(n, st.g))) {
		free_state(&st, m);
		return xf_err_set(err, XF_E_FORMAT, "the objective is not finite at the start");
	}
	while (res->iterations < o->max_iter) {
		struct search s = { n, f, ctx, x, st.d, st.xt, st.gt, fx, 0, 0 };
		double t, ft, step0;

		if (max_abs(n, st.g) <= o->gtol) {
			res->stop = XF_LBFGS_GTOL;
			break;
		}
		direction(n, m, k, newest, st.sv, st.yv, st.rho, st.alpha, st.g, st.d);
		s.dg0 = dot(n, st.g, st.d);
		if (!(s.dg0 < 0)) { /* not a descent direction: forget the history and go down the gradient */
			k = 0;
			for (int64_t i = 0; i < n; i++)
				st.d[i] = -st.g[i];
			s.dg0 = dot(n, st.g, st.d);
		}
		step0 = k == 0 ? fmin(1, 1 / max_abs(n, st.g)) : 1;
		if (!line_search(&s, step0, &t, &ft)) {
			res->evaluations += s.evals;
			res->stop = XF_LBFGS_NO_PROGRESS;
			break;
		}
		res->evaluations += s.evals;
		res->iterations++;
		k = remember(&st, n, m, k, &newest, x, st.xt);
		memcpy(x, st.xt, (size_t)n * sizeof(double));
		memcpy(st.g, st.gt, (size_t)n * sizeof(double));
		if (o->report)
			o->report(o->report_ctx, res->iterations, ft, max_abs(n, st.g));
		if (fx - ft <= o->ftol * fmax(fabs(ft), 1)) {
			fx = ft;
			res->stop = XF_LBFGS_FTOL;
			break;
		}
		fx = ft;
	}
	res->f = fx, res->gmax = max_abs(n, st.g);
	free_state(&st, m);
	return 0;
}
