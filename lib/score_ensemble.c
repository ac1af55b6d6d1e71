/* score_ensemble: MS-LEEP, E-LEEP and greedy ensemble selection; see score_ensemble.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score_ensemble.h"

static const char *const names[XF_ENSEMBLE_COUNT] = { "ms_leep", "e_leep" };

const char *xf_ensemble_name(enum xf_ensemble_metric m)
{
	return (unsigned)m < XF_ENSEMBLE_COUNT ? names[m] : "?";
}

int xf_ensemble_parse(const char *name, enum xf_ensemble_metric *out)
{
	for (int i = 0; i < XF_ENSEMBLE_COUNT; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum xf_ensemble_metric)i;
			return 0;
		}
	return -1;
}

/* (1/n) sum_i log((1/k) sum_m eep_{m,i}). */
static int ms_leep(const struct xf_score_data *const *models, int k, double *out, struct xf_err *err)
{
	int64_t n = models[0]->n;
	double *sum = calloc(n + 1, sizeof(double)), *eep = malloc((n + 1) * sizeof(double)), total = 0;
	int rc = sum && eep ? 0 : xf_err_nomem(err, 0);

	for (int m = 0; rc == 0 && m < k; m++) {
		rc = xf_score_leep_eep(models[m], eep, err);
		for (int64_t i = 0; rc == 0 && i < n; i++)
			sum[i] += eep[i];
	}
	for (int64_t i = 0; rc == 0 && i < n; i++)
		total += log(sum[i] / k);
	free(sum), free(eep);
	*out = total / (double)n;
	return rc;
}

/* The product model's probabilities: column (z_0, ..., z_{k-1}) in row-major tuple order. */
static double *product_probabilities(const struct xf_score_data *const *models, int k, int64_t *cs,
				     struct xf_err *err)
{
	int64_t n = models[0]->n, cols = 1;
	double *p;

	for (int m = 0; m < k; m++) {
		if (models[m]->cs > XF_E_LEEP_MAX_CELLS / cols / (n ? n : 1)) {
			xf_err_set(err, XF_E_LIMIT, "e_leep over these models has more than %lld cells (rows x product of "
				   "label counts); use ms_leep", (long long)XF_E_LEEP_MAX_CELLS);
			return NULL;
		}
		cols *= models[m]->cs;
	}
	if (!(p = malloc((size_t)(n * cols + 1) * sizeof(double)))) {
		xf_err_nomem(err, (size_t)(n * cols) * sizeof(double));
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		for (int64_t col = 0; col < cols; col++) {
			int64_t rest = col;
			double v = 1;

			for (int m = k - 1; m >= 0; m--) {
				v *= models[m]->p[i * models[m]->cs + rest % models[m]->cs];
				rest /= models[m]->cs;
			}
			p[i * cols + col] = v;
		}
	*cs = cols;
	return p;
}

static int e_leep(const struct xf_score_data *const *models, int k, double *out, struct xf_err *err)
{
	struct xf_score_data product = *models[0];
	double *eep, total = 0;
	double *p = product_probabilities(models, k, &product.cs, err);
	int rc;

	if (!p)
		return -1;
	product.p = p;
	if (!(eep = malloc((product.n + 1) * sizeof(double)))) {
		free(p);
		return xf_err_nomem(err, 0);
	}
	rc = xf_score_leep_eep(&product, eep, err);
	for (int64_t i = 0; rc == 0 && i < product.n; i++)
		total += log(eep[i]);
	free(p), free(eep);
	*out = total / (double)product.n;
	return rc;
}

int xf_ensemble_score(enum xf_ensemble_metric m, const struct xf_score_data *const *models, int k, double *out,
		      struct xf_err *err)
{
	if (k < 1)
		return xf_err_set(err, XF_E_USAGE, "an ensemble needs at least one model");
	return m == XF_ENSEMBLE_MS_LEEP ? ms_leep(models, k, out, err) : e_leep(models, k, out, err);
}

int xf_ensemble_greedy(enum xf_ensemble_metric m, const struct xf_score_data *const *models, int n, int k,
		       int *chosen, double *out, struct xf_err *err)
{
	const struct xf_score_data **team = calloc(k + 1, sizeof(*team));
	bool *used = calloc(n + 1, sizeof(*used));
	int rc = team && used ? 0 : xf_err_nomem(err, 0);

	if (rc == 0 && (k < 1 || k > n))
		rc = xf_err_set(err, XF_E_USAGE, "cannot choose %d of %d models", k, n);
	for (int size = 0; rc == 0 && size < k; size++) {
		double best = -INFINITY, v;
		int pick = -1;

		for (int j = 0; rc == 0 && j < n; j++) {
			if (used[j])
				continue;
			team[size] = models[j];
			rc = xf_ensemble_score(m, team, size + 1, &v, err);
			if (rc == 0 && (pick < 0 || v > best))
				best = v, pick = j;
		}
		if (rc == 0) {
			used[pick] = true;
			chosen[size] = pick;
			team[size] = models[pick];
			*out = best;
		}
	}
	free(team), free(used);
	return rc;
}
