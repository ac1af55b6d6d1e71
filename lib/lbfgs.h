/*
 * lbfgs: limited-memory BFGS minimisation of a smooth function of n doubles, with a line
 * search that meets the strong Wolfe conditions (Nocedal and Wright, Numerical Optimization,
 * algorithms 7.4, 3.5 and 3.6). Used for softmax regression (train_linear.h).
 *
 *	double f(void *ctx, const double *x, double *grad);    value at x, gradient into grad
 *	struct xf_lbfgs_opts o = XF_LBFGS_OPTS_INIT;
 *	struct xf_lbfgs_result r;
 *	if (xf_lbfgs(n, x, f, ctx, &o, &r, &err) < 0) ...      x: start in, minimiser out
 */
#ifndef XF_LBFGS_H
#define XF_LBFGS_H

#include <stdint.h>

#include "err.h"

typedef double (*xf_lbfgs_fn)(void *ctx, const double *x, double *grad);

struct xf_lbfgs_opts {
	int memory;          /* correction pairs kept (default 10) */
	int max_iter;        /* iterations (default 1000) */
	double gtol;         /* stop when max |gradient| <= gtol (default 1e-5) */
	double ftol;         /* ... or when f decreases by less than ftol max(|f|, 1) (default 1e-10) */
	void (*report)(void *ctx, int iter, double f, double gmax);  /* after each iteration, or NULL */
	void *report_ctx;
};

#define XF_LBFGS_OPTS_INIT { 10, 1000, 1e-5, 1e-10, NULL, NULL }

enum xf_lbfgs_stop { XF_LBFGS_GTOL, XF_LBFGS_FTOL, XF_LBFGS_MAX_ITER, XF_LBFGS_NO_PROGRESS };

struct xf_lbfgs_result {
	int iterations;
	int evaluations;       /* calls of f */
	double f;              /* value at the returned x */
	double gmax;           /* max |gradient| there */
	enum xf_lbfgs_stop stop;
};

/*
 * Minimise f from x (overwritten by the best point found). -1 with err: XF_E_NOMEM, or
 * XF_E_FORMAT when f or its gradient is not finite at the start. A line search that finds
 * no decrease ends the run with stop = XF_LBFGS_NO_PROGRESS (not an error: at float
 * precision's floor this is where it ends).
 */
int xf_lbfgs(int64_t n, double *x, xf_lbfgs_fn f, void *ctx, const struct xf_lbfgs_opts *o,
	     struct xf_lbfgs_result *res, struct xf_err *err);

/* Why a run stopped, for logs: "gradient below tolerance", ... */
const char *xf_lbfgs_stop_name(enum xf_lbfgs_stop stop);

#endif
