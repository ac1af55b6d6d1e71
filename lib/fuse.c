/*
 * fuse: prediction fusion (mean, logit-mean, dynamic) for xfer-merge --fuse; the contract and
 * the maths of the dynamic method are in fuse.h. Rows are independent: the inputs are checked
 * first (so that an error leaves the outputs untouched), then rows are fused in parallel.
 */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "parallel.h"

/* Everything a chunk of rows needs; shared read-only except for the flag. */
struct fuse_job {
	enum xf_fuse_method method;
	enum xf_fuse_kind kind;
	int m;                       /* models */
	const float *const *inputs;  /* m pointers to n x c */
	const double *a;             /* m normalised model weights */
	int64_t c;                   /* classes */
	float *out_logits;           /* n x c or NULL */
	float *out_probs;            /* n x c or NULL */
	float *row_weights;          /* n x m or NULL */
	atomic_int nomem;            /* a chunk could not allocate its scratch */
};

/* Per-thread scratch, sized for the dynamic method (the others use a part of it). */
struct scratch {
	double *z;     /* m x c: each model's logits for the row (shifted to max 0 for dynamic) */
	double *shift; /* m: what was subtracted from each model's logits */
	double *pbar;  /* c: Σ a_i p_i */
	double *p;     /* c: one model's probabilities */
	double *y;     /* c: the fused logits */
	double *q;     /* c: softmax(y) */
	double *d;     /* c: Z dir, the line searched along */
	double *g;     /* m: gradient of F */
	double *w;     /* m: the row's weights */
	double *dir;   /* m: step direction in weight space (Σ dir = 0) */
	double *x1;    /* m: solves and per-model sums */
	double *x2;    /* m */
	double *x3;    /* m: the Newton model's step on the free set */
	double *x4;    /* m: the Newton model's gradient */
	double *h;     /* m x m: the Hessian of F (plus a ridge) */
	double *l;     /* m x m: its Cholesky factor on the free set */
	int *idx;      /* m: the free models */
	int *movable;  /* m: model j may move in the Newton model (else held at weight 0) */
	double *mem;
};

static const char *const method_names[] = { "mean", "logit-mean", "dynamic" };

int xf_fuse_method_parse(const char *name)
{
	for (int k = 0; k < (int)(sizeof(method_names) / sizeof(method_names[0])); k++)
		if (!strcmp(name, method_names[k]))
			return k;
	return -1;
}

const char *xf_fuse_method_name(enum xf_fuse_method method)
{
	return (unsigned)method < sizeof(method_names) / sizeof(method_names[0]) ? method_names[method] : "?";
}

/* ---- row arithmetic, in double ---- */

/* p = softmax(z), stable: the maximum is subtracted before exp, so the largest term is 1. */
static void softmax(const double *z, int64_t c, double *p)
{
	double mx = z[0], sum = 0;

	for (int64_t k = 1; k < c; k++)
		mx = z[k] > mx ? z[k] : mx;
	for (int64_t k = 0; k < c; k++)
		sum += p[k] = exp(z[k] - mx);
	for (int64_t k = 0; k < c; k++)
		p[k] /= sum;
}

static double floored_log(double p)
{
	double v = log(p);

	return v > XF_FUSE_LOG_FLOOR ? v : XF_FUSE_LOG_FLOOR;
}

/*
 * Model i's row r as logits z and/or probabilities p (either may be NULL). Probability rows are
 * divided by their sum, which the check allowed to be off by XF_FUSE_SUM_TOL, so that p̄ is a
 * distribution (the dynamic objective's shift invariance needs Σ p̄ = 1).
 */
static void load_row(const struct fuse_job *job, int i, int64_t r, double *z, double *p)
{
	const float *x = job->inputs[i] + r * job->c;
	int64_t c = job->c;

	if (job->kind == XF_FUSE_LOGITS) {
		double *zz = z ? z : p;   /* softmax can run in place */

		for (int64_t k = 0; k < c; k++)
			zz[k] = x[k];
		if (p)
			softmax(zz, c, p);
		return;
	}
	double sum = 0;

	for (int64_t k = 0; k < c; k++)
		sum += x[k];
	for (int64_t k = 0; k < c; k++) {
		double v = x[k] / sum;

		if (p)
			p[k] = v;
		if (z)
			z[k] = floored_log(v);
	}
}

static void write_row(const struct fuse_job *job, int64_t r, const double *logits, const double *probs,
		      const double *w)
{
	int64_t c = job->c;

	if (job->out_logits)
		for (int64_t k = 0; k < c; k++)
			job->out_logits[r * c + k] = (float)logits[k];
	if (job->out_probs)
		for (int64_t k = 0; k < c; k++)
			job->out_probs[r * c + k] = (float)probs[k];
	if (job->row_weights)
		for (int i = 0; i < job->m; i++)
			job->row_weights[r * job->m + i] = (float)w[i];
}

static void mean_row(const struct fuse_job *job, int64_t r, struct scratch *s)
{
	memset(s->pbar, 0, (size_t)job->c * sizeof(double));
	for (int i = 0; i < job->m; i++) {
		if (job->a[i] == 0)
			continue;
		load_row(job, i, r, NULL, s->p);
		for (int64_t k = 0; k < job->c; k++)
			s->pbar[k] += job->a[i] * s->p[k];
	}
	for (int64_t k = 0; k < job->c; k++)
		s->y[k] = floored_log(s->pbar[k]);
	write_row(job, r, s->y, s->pbar, job->a);
}

static void logit_mean_row(const struct fuse_job *job, int64_t r, struct scratch *s)
{
	memset(s->y, 0, (size_t)job->c * sizeof(double));
	for (int i = 0; i < job->m; i++) {
		if (job->a[i] == 0)
			continue;
		load_row(job, i, r, s->z, NULL);
		for (int64_t k = 0; k < job->c; k++)
			s->y[k] += job->a[i] * s->z[k];
	}
	softmax(s->y, job->c, s->q);
	write_row(job, r, s->y, s->q, job->a);
}

/* ---- dynamic: projected Newton on the simplex for F(w) = −p̄ᵀ Z w + lse(Z w) ---- */

/* y = Z w, q = softmax(y), g = Zᵀ (q − p̄). */
static void gradient(int m, int64_t c, struct scratch *s)
{
	memset(s->y, 0, (size_t)c * sizeof(double));
	for (int i = 0; i < m; i++)
		for (int64_t k = 0; k < c; k++)
			s->y[k] += s->w[i] * s->z[i * c + k];
	softmax(s->y, c, s->q);
	for (int i = 0; i < m; i++) {
		const double *zi = s->z + i * c;
		double gi = 0;

		for (int64_t k = 0; k < c; k++)
			gi += zi[k] * (s->q[k] - s->pbar[k]);
		s->g[i] = gi;
	}
}

/*
 * The most violating pair: i minimises g over all models, j maximises g over the support
 * (lowest index on ties, for determinism). Returns g_j − g_i, the KKT violation (0 when the
 * support is {i}).
 */
static double worst_pair(int m, const struct scratch *s, int *pi, int *pj)
{
	int i = 0, j = -1;

	for (int k = 1; k < m; k++)
		if (s->g[k] < s->g[i])
			i = k;
	for (int k = 0; k < m; k++)
		if (s->w[k] > 0 && (j < 0 || s->g[k] > s->g[j]))
			j = k;
	*pi = i, *pj = j;
	return s->g[j] - s->g[i];
}

/*
 * A = Zᵀ (diag q − q qᵀ) Z + λ I, computed as Σ_l q_l u_a u_b with u_a = z_a − (z_aᵀ q) 1 (no
 * cancellation between two large terms). The ridge λ, 1e-11 of the mean diagonal, makes A
 * positive definite where F is flat (identical models, more models than classes). It must be
 * small: where a model's probabilities hold zeros, its floored logits make A's diagonal huge
 * next to the curvature along the directions that matter, and a larger ridge shortens those
 * Newton steps into a crawl (1e-9 took hundreds of steps on such rows; 1e-13 starts to lose
 * the factorisation to rounding).
 */
static void hessian(int m, int64_t c, struct scratch *s)
{
	double trace = 0;

	for (int a = 0; a < m; a++) {
		const double *za = s->z + a * c;
		double zq = 0;

		for (int64_t l = 0; l < c; l++)
			zq += za[l] * s->q[l];
		s->x1[a] = zq;
	}
	for (int a = 0; a < m; a++)
		for (int b = 0; b <= a; b++) {
			const double *za = s->z + a * c, *zb = s->z + b * c;
			double h = 0;

			for (int64_t l = 0; l < c; l++)
				h += s->q[l] * (za[l] - s->x1[a]) * (zb[l] - s->x1[b]);
			s->h[a * m + b] = s->h[b * m + a] = h;
		}
	for (int a = 0; a < m; a++)
		trace += s->h[a * m + a];
	for (int a = 0; a < m; a++)
		s->h[a * m + a] += 1e-11 * trace / m + DBL_MIN;
}

/* In-place Cholesky of the k x k matrix a (lower triangle used); -1 if not positive definite. */
static int cholesky(double *a, int k)
{
	for (int j = 0; j < k; j++) {
		for (int l = 0; l < j; l++)
			a[j * k + j] -= a[j * k + l] * a[j * k + l];
		if (!(a[j * k + j] > 0))
			return -1;
		a[j * k + j] = sqrt(a[j * k + j]);
		for (int i = j + 1; i < k; i++) {
			for (int l = 0; l < j; l++)
				a[i * k + j] -= a[i * k + l] * a[j * k + l];
			a[i * k + j] /= a[j * k + j];
		}
	}
	return 0;
}

/* x = (L Lᵀ)⁻¹ x for the factor from cholesky(). */
static void chol_solve(const double *l, int k, double *x)
{
	for (int i = 0; i < k; i++) {
		for (int j = 0; j < i; j++)
			x[i] -= l[i * k + j] * x[j];
		x[i] /= l[i * k + i];
	}
	for (int i = k - 1; i >= 0; i--) {
		for (int j = i + 1; j < k; j++)
			x[i] -= l[j * k + i] * x[j];
		x[i] /= l[i * k + i];
	}
}

/*
 * The Newton model's minimiser with the k free models in s->idx moving and the others held at
 * d_j = −w_j (their weight at 0): minimise ½ dᵀ A d + gᵀ d subject to Σ d = 0, which gives
 * d_S = ν x2 − x1 with x1 = A_SS⁻¹ r, x2 = A_SS⁻¹ 1, r = g_S + A_SN d_N and ν set by Σ d = 0.
 * A constant added to r changes ν but not d, so r's mean is taken out first: near the optimum g
 * is nearly constant and ν x2 − x1 would otherwise cancel away all its digits. Writes d_S to
 * s->x3; -1 if A_SS does not factor.
 */
static int qp_face_step(int m, struct scratch *s, int k)
{
	double rmean = 0, fixed = 0, s1 = 0, s2 = 0, nu;

	for (int a = 0; a < k; a++) {
		int ja = s->idx[a];
		double r = s->g[ja];

		for (int j = 0; j < m; j++)
			if (!s->movable[j])
				r += s->h[ja * m + j] * s->dir[j];
		s->x1[a] = r;
		rmean += r / k;
		for (int b = 0; b < k; b++)
			s->l[a * k + b] = s->h[ja * m + s->idx[b]];
	}
	for (int j = 0; j < m; j++)
		if (!s->movable[j])
			fixed += s->w[j];
	for (int a = 0; a < k; a++) {
		s->x1[a] -= rmean;
		s->x2[a] = 1;
	}
	if (cholesky(s->l, k) < 0)
		return -1;
	chol_solve(s->l, k, s->x1);
	chol_solve(s->l, k, s->x2);
	for (int a = 0; a < k; a++)
		s1 += s->x1[a], s2 += s->x2[a];
	nu = (fixed + s1) / s2;
	for (int a = 0; a < k; a++)
		s->x3[a] = nu * s->x2[a] - s->x1[a];
	return 0;
}

/*
 * Free the held model whose model gradient (A d + g)_j is lowest, if it is below the free
 * models' common value (a KKT violation of the model problem). Returns 1 if one was freed.
 */
static int qp_free_one(int m, struct scratch *s)
{
	double nu = 0;
	int k = 0, best = -1;

	for (int j = 0; j < m; j++) {
		double gj = s->g[j];

		for (int l = 0; l < m; l++)
			gj += s->h[j * m + l] * s->dir[l];
		s->x4[j] = gj;
	}
	for (int j = 0; j < m; j++)
		if (s->movable[j])
			nu += s->x4[j], k++;
	nu /= k;
	for (int j = 0; j < m; j++)
		if (!s->movable[j] && s->x4[j] < nu - 1e-3 * XF_FUSE_TOL && (best < 0 || s->x4[j] < s->x4[best]))
			best = j;
	if (best < 0)
		return 0;
	s->movable[best] = 1;
	return 1;
}

/*
 * The projected Newton direction: d minimising ½ dᵀ A d + gᵀ d over w + d on the simplex,
 * by a primal active-set method (m is small, so each pass is cheap next to one gradient). From
 * d = 0 with the support free: solve on the free set; if that crosses a bound, stop at the
 * first one and hold that model at 0; otherwise free the most violating held model, or finish.
 * Unlike a step on the current face alone, this can move weight onto new models and to the
 * boundary in one step, which is what saturated rows (q ≈ one-hot, A ≈ 0 along directions
 * where g is not constant) need. Fills s->dir; -1 if a face did not factor.
 */
static int qp_direction(int m, struct scratch *s)
{
	memset(s->dir, 0, (size_t)m * sizeof(double));
	for (int j = 0; j < m; j++)
		s->movable[j] = s->w[j] > 0;
	for (int pass = 0; pass < 3 * m + 10; pass++) {
		int k = 0, block = -1;
		double alpha = 1;

		for (int j = 0; j < m; j++)
			if (s->movable[j])
				s->idx[k++] = j;
		if (qp_face_step(m, s, k) < 0)
			return -1;
		for (int a = 0; a < k; a++) {
			int j = s->idx[a];

			if (s->x3[a] < -s->w[j] && (s->w[j] + s->dir[j]) / (s->dir[j] - s->x3[a]) < alpha)
				alpha = (s->w[j] + s->dir[j]) / (s->dir[j] - s->x3[a]), block = j;
		}
		for (int a = 0; a < k; a++)
			s->dir[s->idx[a]] += alpha * (s->x3[a] - s->dir[s->idx[a]]);
		if (block >= 0) {
			s->dir[block] = -s->w[block];
			s->movable[block] = 0;
		} else if (!qp_free_one(m, s)) {
			break;
		}
	}
	return 0;
}

/* The pair direction e_i − e_j: always a descent direction when g_i < g_j; blocked by w_j. */
static double pair_direction(int m, struct scratch *s, int i, int j, int *block)
{
	memset(s->dir, 0, (size_t)m * sizeof(double));
	s->dir[i] = 1;
	s->dir[j] = -1;
	*block = j;
	return s->w[j];
}

/*
 * Along w + t·dir: f'(t) = Dᵀ (q_t − p̄) with D = Z dir, q_t = softmax(y + t D), and
 * f''(t) = Var_{q_t}(D) ≥ 0. s->q is used as scratch (gradient() recomputes it afterwards).
 */
static double line_slope(int64_t c, struct scratch *s, double t, double dp, double *curv)
{
	double md = 0, var = 0;

	for (int64_t k = 0; k < c; k++)
		s->q[k] = s->y[k] + t * s->d[k];
	softmax(s->q, c, s->q);
	for (int64_t k = 0; k < c; k++)
		md += s->d[k] * s->q[k];
	for (int64_t k = 0; k < c; k++)
		var += s->q[k] * (s->d[k] - md) * (s->d[k] - md);
	*curv = var;
	return md - dp;
}

/*
 * The step t in [0, t_max] minimising F(w + t·dir); s->q must still be softmax(y), which gives
 * f'(0) without an exp, and 0 is returned when f'(0) ≥ 0. f' is non-decreasing, so if
 * f'(t_max) ≤ 0 the answer is t_max; otherwise the root is bracketed and found by Newton steps
 * from t_max (where the Newton direction's own step ends, so usually close), with bisection
 * whenever a step would leave the bracket.
 */
static double line_search(int m, int64_t c, struct scratch *s, double t_max)
{
	double dp = 0, f0 = 0, lo = 0, hi = t_max, t = t_max, curv, f1;

	memset(s->d, 0, (size_t)c * sizeof(double));
	for (int j = 0; j < m; j++)
		if (s->dir[j] != 0)
			for (int64_t k = 0; k < c; k++)
				s->d[k] += s->dir[j] * s->z[j * c + k];
	for (int64_t k = 0; k < c; k++) {
		dp += s->d[k] * s->pbar[k];
		f0 += s->d[k] * s->q[k];
	}
	if (!(f0 - dp < 0))   /* rounding has eaten the slope: no step (the caller tries a pair) */
		return 0;
	f1 = line_slope(c, s, t, dp, &curv);
	if (f1 <= 0)
		return t_max;
	for (int it = 0; it < 100 && f1 != 0; it++) {
		double next;

		if (f1 < 0)
			lo = t;
		else
			hi = t;
		next = curv > 0 ? t - f1 / curv : lo;
		if (!(next > lo && next < hi))
			next = lo + (hi - lo) / 2;
		if (fabs(next - t) <= 4 * DBL_EPSILON * next || hi - lo <= 4 * DBL_EPSILON * hi)
			return next;
		t = next;
		f1 = line_slope(c, s, t, dp, &curv);
	}
	return t;
}

/*
 * w += t·dir, keeping w on the simplex against rounding. At a full step the models the
 * direction empties (dir_j = −w_j, or the pair's j) land on exactly 0.
 */
static void take_step(int m, struct scratch *s, double t, double t_max, int block)
{
	double sum = 0;

	for (int j = 0; j < m; j++) {
		s->w[j] += t * s->dir[j];
		s->w[j] = s->w[j] > 0 ? s->w[j] : 0;
	}
	if (t >= t_max && block >= 0)
		s->w[block] = 0;
	for (int j = 0; j < m; j++)
		sum += s->w[j];
	for (int j = 0; j < m; j++)
		s->w[j] /= sum;
}

/* gᵀdir, with g's common part taken out (Σ dir = 0, so it does not count, but it costs digits). */
static double slope_of(int m, const struct scratch *s, int i)
{
	double slope = 0;

	for (int j = 0; j < m; j++)
		slope += (s->g[j] - s->g[i]) * s->dir[j];
	return slope;
}

/*
 * Minimise F from w = a: each step takes the projected Newton direction with an exact line
 * search over [0, 1] (w + d is on the simplex; beyond it the Newton model is not trusted), or
 * the most violating pair when that direction makes no progress (its slope is lost in rounding
 * near the optimum, where the pair's slope, −violation, is not). The pair's line search needs
 * s->q = softmax(y) intact, which holds because the first search only returns 0 before it
 * evaluates anything. Leaves w in s->w, Z w in s->y and its softmax in s->q.
 */
static void solve_weights(int m, int64_t c, struct scratch *s)
{
	for (int step = 0;; step++) {
		int i, j, block = -1;
		double t_max, t;

		gradient(m, c, s);
		if (worst_pair(m, s, &i, &j) <= XF_FUSE_TOL || step == XF_FUSE_MAX_STEPS)
			return;
		hessian(m, c, s);
		t = 0;
		if (qp_direction(m, s) == 0 && slope_of(m, s, i) < 0) {
			t_max = 1;
			t = line_search(m, c, s, t_max);
		}
		if (!(t > 0)) {
			t_max = pair_direction(m, s, i, j, &block);
			t = line_search(m, c, s, t_max);
		}
		if (!(t > 0))   /* no representable progress: w is as good as double makes it */
			return;
		take_step(m, s, t, t_max, block);
	}
}

/*
 * Load every model's logits shifted to a maximum of 0 (F does not change, and the gradient
 * loses no digits to large common offsets), solve for w, and put the shifts back into the
 * output: Σ w_i z_i = Σ w_i (z_i − s_i) + Σ w_i s_i.
 */
static void dynamic_row(const struct fuse_job *job, int64_t r, struct scratch *s)
{
	int m = job->m;
	int64_t c = job->c;
	double offset = 0;

	memset(s->pbar, 0, (size_t)c * sizeof(double));
	for (int i = 0; i < m; i++) {
		double *zi = s->z + i * c, mx;

		load_row(job, i, r, zi, s->p);
		mx = zi[0];
		for (int64_t k = 1; k < c; k++)
			mx = zi[k] > mx ? zi[k] : mx;
		for (int64_t k = 0; k < c; k++) {
			zi[k] -= mx;
			s->pbar[k] += job->a[i] * s->p[k];
		}
		s->shift[i] = mx;
		s->w[i] = job->a[i];
	}
	solve_weights(m, c, s);
	for (int i = 0; i < m; i++)
		offset += s->w[i] * s->shift[i];
	for (int64_t k = 0; k < c; k++)
		s->y[k] += offset;
	write_row(job, r, s->y, s->q, s->w);
}

/* Doubles of scratch for m models and c classes (check_shape() keeps this from overflowing). */
static size_t scratch_doubles(int m, int64_t c)
{
	return ((size_t)m + 5) * (size_t)c + 9 * (size_t)m + 2 * (size_t)m * (size_t)m;
}

/* Whether scratch_doubles(m, c) doubles and 2m ints fit in half of the address space. */
static int scratch_fits(int m, int64_t c)
{
	uint64_t room = SIZE_MAX / sizeof(double) / 2 - 10 * (uint64_t)m - 2 * (uint64_t)m * (uint64_t)m;

	return (uint64_t)c <= room / ((uint64_t)m + 5);
}

static int scratch_alloc(struct scratch *s, int m, int64_t c)
{
	size_t mc = (size_t)m * (size_t)c;
	double *mem = malloc(scratch_doubles(m, c) * sizeof(double) + 2 * (size_t)m * sizeof(int));

	if (!mem)
		return -1;
	*s = (struct scratch){ .mem = mem };
	s->z = mem;
	s->pbar = s->z + mc;
	s->p = s->pbar + c;
	s->y = s->p + c;
	s->q = s->y + c;
	s->d = s->q + c;
	s->shift = s->d + c;
	s->g = s->shift + m;
	s->w = s->g + m;
	s->dir = s->w + m;
	s->x1 = s->dir + m;
	s->x2 = s->x1 + m;
	s->x3 = s->x2 + m;
	s->x4 = s->x3 + m;
	s->h = s->x4 + m;
	s->l = s->h + (size_t)m * (size_t)m;
	s->idx = (int *)(s->l + (size_t)m * (size_t)m);
	s->movable = s->idx + m;
	return 0;
}

static void fuse_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct fuse_job *job = ctx;
	struct scratch s;

	if (scratch_alloc(&s, job->m, job->c) < 0) {
		atomic_store(&job->nomem, 1);
		return;
	}
	for (int64_t r = begin; r < end; r++) {
		if (job->method == XF_FUSE_MEAN)
			mean_row(job, r, &s);
		else if (job->method == XF_FUSE_LOGIT_MEAN)
			logit_mean_row(job, r, &s);
		else
			dynamic_row(job, r, &s);
	}
	free(s.mem);
}

/* ---- checks ---- */

static int check_shape(enum xf_fuse_method method, enum xf_fuse_kind kind, int m, const float *const *inputs,
		       int64_t n, int64_t c, struct xf_err *err)
{
	if ((unsigned)method > XF_FUSE_DYNAMIC || (unsigned)kind > XF_FUSE_LOGITS)
		return xf_err_set(err, XF_E_USAGE, "unknown fusion method %d or input kind %d", (int)method, (int)kind);
	if (m < 1)
		return xf_err_set(err, XF_E_USAGE, "fusion needs at least 1 model, got %d", m);
	if (m > XF_FUSE_MAX_MODELS)
		return xf_err_set(err, XF_E_LIMIT, "fusion of %d models: at most %d", m, XF_FUSE_MAX_MODELS);
	if (n < 0 || c < 1)
		return xf_err_set(err, XF_E_USAGE, "bad fusion shape %lld x %lld", (long long)n, (long long)c);
	if (n > 0 && (n > INT64_MAX / c || n > INT64_MAX / m || !scratch_fits(m, c)))
		return xf_err_set(err, XF_E_LIMIT, "%lld rows x %lld classes x %d models is too large to fuse",
				  (long long)n, (long long)c, m);
	if (n > 0 && !inputs)
		return xf_err_set(err, XF_E_USAGE, "no inputs to fuse");
	for (int i = 0; n > 0 && i < m; i++)
		if (!inputs[i])
			return xf_err_set(err, XF_E_USAGE, "model %d has no input", i);
	return 0;
}

/*
 * a = weights / Σ weights. Dividing by the largest weight first keeps the sum finite for any
 * finite weights.
 */
static int normalise_weights(const double *weights, int m, double *a, struct xf_err *err)
{
	double mx = 0, sum = 0;

	for (int i = 0; i < m; i++) {
		double v = weights ? weights[i] : 1;

		if (!isfinite(v) || v < 0)
			return xf_err_set(err, XF_E_USAGE, "weight of model %d is %g: need a finite value >= 0",
					  i, v);
		mx = v > mx ? v : mx;
	}
	if (mx == 0)
		return xf_err_set(err, XF_E_USAGE, "all %d model weights are zero", m);
	for (int i = 0; i < m; i++)
		sum += a[i] = (weights ? weights[i] : 1) / mx;
	for (int i = 0; i < m; i++)
		a[i] /= sum;
	return 0;
}

static int check_row(const float *x, int64_t c, enum xf_fuse_kind kind, int i, int64_t r, struct xf_err *err)
{
	double sum = 0;

	for (int64_t k = 0; k < c; k++) {
		if (!isfinite(x[k]))
			return xf_err_set(err, XF_E_FORMAT, "model %d row %lld class %lld: value is %s", i,
					  (long long)r, (long long)k, isnan(x[k]) ? "NaN" : "infinite");
		/* float32 softmax can round the top class a little above 1; the sum check bounds it */
		if (kind == XF_FUSE_PROBS && (x[k] < 0 || x[k] > 1 + XF_FUSE_SUM_TOL))
			return xf_err_set(err, XF_E_FORMAT,
					  "model %d row %lld class %lld: probability %g is outside [0, 1]", i,
					  (long long)r, (long long)k, x[k]);
		sum += x[k];
	}
	if (kind == XF_FUSE_PROBS && !(fabs(sum - 1) <= XF_FUSE_SUM_TOL))
		return xf_err_set(err, XF_E_FORMAT, "model %d row %lld: probabilities sum to %.9g, not 1 (within %g)",
				  i, (long long)r, sum, XF_FUSE_SUM_TOL);
	return 0;
}

static int check_values(const float *const *inputs, int m, int64_t n, int64_t c, enum xf_fuse_kind kind,
			struct xf_err *err)
{
	for (int i = 0; i < m; i++)
		for (int64_t r = 0; r < n; r++)
			if (check_row(inputs[i] + r * c, c, kind, i, r, err) < 0)
				return -1;
	return 0;
}

/* The checked inputs, fused row by row in parallel. */
static int fuse_rows(enum xf_fuse_method method, enum xf_fuse_kind kind, int m, const float *const *inputs,
		     const double *a, int64_t n, int64_t c, int threads, float *out_logits, float *out_probs,
		     float *row_weights, struct xf_err *err)
{
	struct fuse_job job = { .method = method, .kind = kind, .m = m, .inputs = inputs, .a = a, .c = c,
				.out_logits = out_logits, .out_probs = out_probs, .row_weights = row_weights };

	atomic_init(&job.nomem, 0);
	/*
	 * Enough work per chunk to pay for a thread (a dynamic row costs some 30 mean rows); the
	 * split never changes a row's result.
	 */
	int64_t work = method == XF_FUSE_DYNAMIC ? 2048 : 65536;

	xf_parallel_for(n, threads, 1 + work / (c * m), fuse_chunk, &job);
	if (atomic_load(&job.nomem))
		return xf_err_nomem(err, scratch_doubles(m, c) * sizeof(double));
	return 0;
}

int xf_fuse(enum xf_fuse_method method, enum xf_fuse_kind kind, int n_models, const float *const *inputs,
	    const double *weights, int64_t n, int64_t c, int threads, float *out_logits, float *out_probs,
	    float *row_weights, struct xf_err *err)
{
	double *a;

	if (check_shape(method, kind, n_models, inputs, n, c, err) < 0)
		return -1;
	a = malloc((size_t)n_models * sizeof(double));
	if (!a)
		return xf_err_nomem(err, (size_t)n_models * sizeof(double));
	if (normalise_weights(weights, n_models, a, err) < 0 || check_values(inputs, n_models, n, c, kind, err) < 0) {
		free(a);
		return -1;
	}
	int rc = n > 0 ? fuse_rows(method, kind, n_models, inputs, a, n, c, threads, out_logits, out_probs,
				   row_weights, err) : 0;

	free(a);
	return rc;
}
