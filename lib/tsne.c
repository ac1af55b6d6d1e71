/* tsne: the gradient descent of t-SNE; see tsne.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "tsne.h"
#include "tsne_fft.h"
#include "tsne_forces.h"

#define MAX_STEP_NORM 5.0   /* per-point step clip of FIt-SNE and openTSNE */
#define MIN_GAIN 0.01
#define REPORT_EVERY 50

/*
 * Barnes-Hut up to BH_MAX_POINTS: with the grouped walk of tsne_forces.c it took 0.6 times
 * the CPU time of FFT interpolation for a whole run on MNIST (10,000 points, 2 cores), with
 * a lower KL; on 30,000 points of a Gaussian mixture FFT was 1.15 times faster.
 */
#define BH_MAX_POINTS 20000

enum xf_tsne_method xf_tsne_choose_method(int64_t n, int dim)
{
	if (n <= 1000)
		return XF_TSNE_EXACT;
	return n < BH_MAX_POINTS || dim == 3 ? XF_TSNE_BH : XF_TSNE_FFT;
}

int xf_tsne_iterations(const struct xf_tsne_opts *o)
{
	return o->iters > 0 ? o->iters : o->profile == XF_TSNE_SKLEARN ? 1000 : 750;
}

/* The learning rates, momenta and habits of each profile (tsne.md sections 0 and 3). */
struct schedule {
	double eta_ee, eta, mu_ee, mu;
	bool reset_at_switch;   /* scikit-learn restarts gains and momentum after exaggeration */
	bool recentre, clip;
	bool product_gains;     /* scikit-learn's u.g < 0 test instead of comparing signs */
};

static struct schedule schedule_of(const struct xf_tsne_opts *o, int64_t n)
{
	double rows = (double)n, ee = o->exaggeration > 0 ? o->exaggeration : 1;
	struct schedule s = { rows / ee, rows, 0.8, 0.8, false, true, true, false };

	if (o->profile == XF_TSNE_FITSNE) {
		s.eta_ee = s.eta = fmax(200, rows / ee);
		s.mu_ee = 0.5;
	} else if (o->profile == XF_TSNE_SKLEARN) {
		/* scikit-learn's max(N / ee / 4, 50) applies to a gradient 4 times ours */
		s.eta_ee = s.eta = 4 * fmax(rows / ee / 4, 50);
		s.mu_ee = 0.5;
		s = (struct schedule){ s.eta_ee, s.eta, s.mu_ee, s.mu, true, false, false, true };
	}
	if (o->learning_rate > 0)
		s.eta_ee = s.eta = o->learning_rate;
	return s;
}

struct repulsion {
	enum xf_tsne_method method;
	struct xf_tsne_fft *fft;
	const struct xf_tsne_opts *o;
	double plogp;           /* sum p ln p: the part of KL that does not move */
};

static int repulse(struct repulsion *r, const double *y, int64_t n, double *frep, double *z, struct xf_err *err)
{
	const struct xf_tsne_opts *o = r->o;

	switch (r->method) {
	case XF_TSNE_EXACT: return xf_tsne_repulsion_exact(y, n, o->dim, o->dof, o->threads, frep, z, err);
	case XF_TSNE_BH: return xf_tsne_repulsion_bh(y, n, o->dim, o->dof, o->theta, o->threads, frep, z, err);
	default: return xf_tsne_fft_repulsion(r->fft, y, n, frep, z, err);
	}
}

static double sign(double x)
{
	return (x > 0) - (x < 0);
}

/* One update of every coordinate: gains, momentum step, per-point clip. */
static void step(double *y, double *u, double *gains, const double *g, int64_t n, int dim, double eta, double mu,
		 const struct schedule *s)
{
	for (int64_t i = 0; i < n; i++) {
		double norm = 0;

		for (int c = 0; c < dim; c++) {
			int64_t t = i * dim + c;
			bool grow = s->product_gains ? u[t] * g[t] < 0 : sign(g[t]) != sign(u[t]);

			gains[t] = grow ? gains[t] + 0.2 : fmax(gains[t] * 0.8, MIN_GAIN);
			u[t] = mu * u[t] - eta * gains[t] * g[t];
			norm += u[t] * u[t];
		}
		norm = sqrt(norm);
		for (int c = 0; s->clip && norm > MAX_STEP_NORM && c < dim; c++)
			u[i * dim + c] *= MAX_STEP_NORM / norm;
		for (int c = 0; c < dim; c++)
			y[i * dim + c] += u[i * dim + c];
	}
}

/* Subtract the column means, summed serially in index order. */
static void recentre(double *y, int64_t n, int dim)
{
	for (int c = 0; c < dim; c++) {
		double sum = 0;

		for (int64_t i = 0; i < n; i++)
			sum += y[i * dim + c];
		for (int64_t i = 0; i < n; i++)
			y[i * dim + c] -= sum / (double)n;
	}
}

struct work {
	double *fattr, *frep, *u, *gains;
	float *p32;             /* P's values as float for the attraction, or NULL: P's own */
};

static int gradient(const struct xf_csr *p, const double *y, int64_t n, double exaggeration, struct repulsion *r,
		    struct work *w, struct xf_err *err)
{
	const struct xf_tsne_opts *o = r->o;
	double z;

	if (xf_tsne_attraction_f32(p, w->p32, y, o->dim, o->dof, exaggeration, o->threads, w->fattr, err) < 0 ||
	    repulse(r, y, n, w->frep, &z, err) < 0)
		return -1;
	for (int64_t t = 0; t < n * o->dim; t++)
		w->fattr[t] -= w->frep[t] / z; /* fattr becomes the gradient (a quarter of KL's) */
	return 0;
}

static int divergence(const struct xf_csr *p, const double *y, int64_t n, double exaggeration, struct repulsion *r,
		      struct work *w, double *kl, struct xf_err *err)
{
	double z;

	if (repulse(r, y, n, w->frep, &z, err) < 0)
		return -1;
	*kl = xf_tsne_kl_threads(p, r->plogp, y, r->o->dim, r->o->dof, exaggeration, z, r->o->threads);
	return 0;
}

static int descend(const struct xf_csr *p, double *y, int64_t n, struct repulsion *r, struct work *w, double *kl,
		   struct xf_err *err)
{
	const struct xf_tsne_opts *o = r->o;
	struct schedule s = schedule_of(o, n);
	int iters = xf_tsne_iterations(o), rc = 0;

	for (int it = 0; it < iters && rc == 0; it++) {
		bool ee = it < o->exag_iters;
		double exaggeration = ee ? o->exaggeration : 1;

		if (it == o->exag_iters && it > 0 && s.reset_at_switch)
			for (int64_t t = 0; t < n * o->dim; t++)
				w->u[t] = 0, w->gains[t] = 1;
		if ((rc = gradient(p, y, n, exaggeration, r, w, err)) < 0)
			break;
		step(y, w->u, w->gains, w->fattr, n, o->dim, ee ? s.eta_ee : s.eta, ee ? s.mu_ee : s.mu, &s);
		if (s.recentre)
			recentre(y, n, o->dim);
		if (o->report && (it + 1) % REPORT_EVERY == 0 && it + 1 < iters &&
		    (rc = divergence(p, y, n, exaggeration, r, w, kl, err)) == 0)
			o->report(o->ctx, it + 1, *kl);
	}
	if (rc == 0 && (rc = divergence(p, y, n, iters <= o->exag_iters ? o->exaggeration : 1, r, w, kl, err)) == 0 &&
	    o->report)
		o->report(o->ctx, iters, *kl);
	return rc;
}

/*
 * P's values as float for the attraction (tsne.md section 9 allows float32 P): it reads all
 * of P every iteration, memory bandwidth bounds it at large n, and this reads 8 bytes a
 * nonzero instead of 12, for 4 more held. NULL if memory is short: then P's own values.
 */
static float *float_values(const struct xf_csr *p)
{
	int64_t nnz = p->rowptr[p->n];
	float *v = malloc((size_t)nnz * sizeof(float) + 1);

	for (int64_t e = 0; v && e < nnz; e++)
		v[e] = (float)p->val[e];
	return v;
}

static int check_opts(const struct xf_csr *p, int64_t n, const struct xf_tsne_opts *o, struct xf_err *err)
{
	if (o->dim < 1 || o->dim > 3)
		return xf_err_set(err, XF_E_USAGE, "t-SNE: %d output dimensions; 1, 2 or 3", o->dim);
	if (p->n != n || n < 2)
		return xf_err_set(err, XF_E_USAGE, "t-SNE: %lld points (P has %lld rows); at least 2", (long long)n,
				  (long long)p->n);
	if (!(o->dof > 0) || !(o->theta >= 0) || !(o->exaggeration > 0) || o->exag_iters < 0)
		return xf_err_set(err, XF_E_USAGE, "t-SNE: dof and exaggeration must be positive, theta >= 0");
	if (o->method == XF_TSNE_FFT && o->dim == 3)
		return xf_err_set(err, XF_E_USAGE, "t-SNE: the FFT method is for 1-D and 2-D output; use Barnes-Hut in 3-D");
	return 0;
}

int xf_tsne_optimize(const struct xf_csr *p, double *y, int64_t n, const struct xf_tsne_opts *o, double *kl,
		     struct xf_err *err)
{
	struct xf_tsne_fft_params params = XF_TSNE_FFT_PARAMS_DEFAULT;
	struct repulsion r = { o->method == XF_TSNE_AUTO ? xf_tsne_choose_method(n, o->dim) : o->method, NULL, o, 0 };
	size_t bytes = (size_t)(n * o->dim) * sizeof(double) + 1;
	struct work w = { malloc(bytes), malloc(bytes), calloc(1, bytes), malloc(bytes), NULL };
	int rc = check_opts(p, n, o, err);

	if (rc == 0 && (!w.fattr || !w.frep || !w.u || !w.gains))
		rc = xf_err_nomem(err, 4 * bytes);
	if (rc == 0 && r.method == XF_TSNE_FFT && !(r.fft = xf_tsne_fft_new(o->dim, o->dof, &params, o->threads, err)))
		rc = -1;
	for (int64_t t = 0; rc == 0 && t < n * o->dim; t++)
		w.gains[t] = 1;
	if (rc == 0)
		r.plogp = xf_tsne_plogp(p);
	if (rc == 0)
		w.p32 = float_values(p);
	if (rc == 0)
		rc = descend(p, y, n, &r, &w, kl, err);
	xf_tsne_fft_free(r.fft);
	free(w.fattr), free(w.frep), free(w.u), free(w.gains), free(w.p32);
	return rc;
}

void xf_tsne_scale_init(double *y, int64_t n, int dim, uint64_t seed)
{
	struct xf_rng rng;
	double mean = 0, var = 0, scale;

	for (int64_t i = 0; i < n; i++)
		mean += y[i * dim];
	mean /= (double)n;
	for (int64_t i = 0; i < n; i++)
		var += (y[i * dim] - mean) * (y[i * dim] - mean);
	scale = var > 0 ? 1e-4 / sqrt(var / (double)n) : 1;
	xf_rng_init(&rng, seed, 0x1a17);
	for (int64_t t = 0; t < n * dim; t++)
		y[t] = y[t] * scale + 1e-6 * xf_rng_normal(&rng);
}

void xf_tsne_random_init(double *y, int64_t n, int dim, uint64_t seed)
{
	struct xf_rng rng;

	xf_rng_init(&rng, seed, 0x1a17);
	for (int64_t t = 0; t < n * dim; t++)
		y[t] = 1e-4 * xf_rng_normal(&rng);
}
