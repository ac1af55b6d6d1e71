/* train_data: labelled rows for network training, with teachers and a validation split; see train_data.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "train_data.h"

static int features(struct xf_samples *s, const char *field, struct xf_train_data *d, struct xf_err *err)
{
	int f = xf_header_find(&s->h, field);
	double *x;
	int64_t count;
	double scale;

	if (xf_samples_f64(s, field, &x, &count, err) < 0)
		return -1;
	scale = s->h.fields[f].dtype == XF_DTYPE_U8 ? 1.0 / 255 : 1;
	d->ndim = s->h.fields[f].ndim ? s->h.fields[f].ndim : 1;
	memcpy(d->shape, s->h.fields[f].shape, sizeof(d->shape));
	if (!s->h.fields[f].ndim)
		d->shape[0] = 1;
	d->set.count = count;
	if (!(d->x = malloc((size_t)(s->n * count) * sizeof(float) + 1)))
		return free(x), xf_err_nomem(err, (size_t)(s->n * count) * sizeof(float));
	for (int64_t i = 0; i < s->n * count; i++) {
		d->x[i] = (float)(x[i] * scale);
		if (!isfinite(d->x[i])) {
			free(x);
			return xf_err_set(err, XF_E_FORMAT, "field '%s': row %lld holds NaN or infinity", field,
					  (long long)(i / count));
		}
	}
	free(x);
	return 0;
}

static int labels_of(struct xf_samples *s, const char *labels, struct xf_train_data *d, struct xf_err *err)
{
	if (xf_samples_labels(s, labels, &d->y, err) < 0)
		return -1;
	for (int64_t i = 0; i < s->n; i++) {
		if (d->y[i] < 0 || d->y[i] >= (1 << 20))
			return xf_err_set(err, XF_E_FORMAT, "label %lld of row %lld is out of range (0 to 2^20-1)",
					  (long long)d->y[i], (long long)i);
		d->classes = d->y[i] + 1 > d->classes ? (int)d->y[i] + 1 : d->classes;
	}
	return 0;
}

/* Add weight w times teacher field `name`'s rows (renormalised) into d->teacher [n, classes]. */
static int add_teacher(struct xf_samples *s, const char *name, double w, struct xf_train_data *d, struct xf_err *err)
{
	double *p;
	int64_t c;

	if (xf_samples_f64(s, name, &p, &c, err) < 0)
		return -1;
	for (int64_t i = 0; i < s->n && c == d->classes; i++) {
		double sum = 0;

		for (int64_t k = 0; k < c; k++) {
			if (!(p[i * c + k] >= 0) || !isfinite(p[i * c + k]))
				return free(p), xf_err_set(err, XF_E_FORMAT, "teacher '%s': row %lld is not a distribution "
							   "(negative or not finite)", name, (long long)i);
			sum += p[i * c + k];
		}
		for (int64_t k = 0; k < c && sum > 0; k++)
			d->teacher[i * c + k] += (float)(w * p[i * c + k] / sum);
	}
	free(p);
	if (c != d->classes)
		return xf_err_set(err, XF_E_FORMAT, "teacher '%s' has %lld classes, the labels %d", name, (long long)c,
				  d->classes);
	return 0;
}

static int teachers_of(struct xf_samples *s, const struct xf_teachers *t, struct xf_train_data *d, struct xf_err *err)
{
	double total = 0;

	for (int k = 0; k < t->n; k++)
		total += t->weights[k];
	if (!(total > 0))
		return xf_err_set(err, XF_E_USAGE, "teacher weights must sum to more than 0");
	if (!(d->teacher = calloc((size_t)(s->n * d->classes) + 1, sizeof(float))))
		return xf_err_nomem(err, 0);
	for (int k = 0; k < t->n; k++)
		if (add_teacher(s, t->fields[k], t->weights[k] / total, d, err) < 0)
			return -1;
	return 0;
}

int xf_train_data_read(struct xf_reader *r, const char *field, const char *labels, const struct xf_teachers *teachers,
		       struct xf_train_data *d, struct xf_err *err)
{
	struct xf_samples s = XF_SAMPLES_INIT;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = xf_samples_read(r, &s, err);
	rc = rc ? rc : features(&s, field, d, err);
	rc = rc ? rc : labels_of(&s, labels, d, err);
	if (rc == 0 && teachers && teachers->n)
		rc = teachers_of(&s, teachers, d, err);
	if (rc == 0 && !(d->meta = json_deep_copy(s.h.meta)))
		rc = xf_err_nomem(err, 0);
	d->set = (struct xf_dataset){ d->x, s.n, d->set.count, d->y, d->teacher };
	xf_samples_release(&s);
	if (rc < 0)
		xf_train_data_release(d);
	return rc;
}

/* Rows idx[0..k) of src into new arrays of dst. */
static int take_rows(const struct xf_train_data *src, const int64_t *idx, int64_t k, struct xf_train_data *dst,
		     struct xf_err *err)
{
	int64_t count = src->set.count, c = src->classes;

	memset(dst, 0, sizeof(*dst));
	dst->ndim = src->ndim, dst->classes = src->classes;
	memcpy(dst->shape, src->shape, sizeof(dst->shape));
	dst->x = malloc((size_t)(k * count) * sizeof(float) + 1);
	dst->y = malloc((size_t)k * sizeof(int64_t) + 1);
	dst->teacher = src->teacher ? malloc((size_t)(k * c) * sizeof(float) + 1) : NULL;
	if (!dst->x || !dst->y || (src->teacher && !dst->teacher))
		return xf_err_nomem(err, 0);
	for (int64_t i = 0; i < k; i++) {
		memcpy(dst->x + i * count, src->x + idx[i] * count, (size_t)count * sizeof(float));
		dst->y[i] = src->y[idx[i]];
		if (src->teacher)
			memcpy(dst->teacher + i * c, src->teacher + idx[i] * c, (size_t)c * sizeof(float));
	}
	dst->set = (struct xf_dataset){ dst->x, k, count, dst->y, dst->teacher };
	return 0;
}

int xf_train_data_split(struct xf_train_data *d, double fraction, uint64_t seed, struct xf_train_data *valid,
			struct xf_err *err)
{
	int64_t n = d->set.n, nv = (int64_t)llround(fraction * (double)n), *idx = malloc((size_t)n * sizeof(int64_t) + 1);
	struct xf_train_data rest = { 0 };
	struct xf_rng rng;
	int rc;

	memset(valid, 0, sizeof(*valid));
	if (!idx)
		return xf_err_nomem(err, 0);
	if (nv < 1 || nv >= n) {
		free(idx);
		return xf_err_set(err, XF_E_USAGE, "a validation split of %g leaves no rows on one side (%lld rows)",
				  fraction, (long long)n);
	}
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	xf_rng_init(&rng, seed, 0x76616c69);
	xf_rng_shuffle(&rng, idx, n);
	rc = take_rows(d, idx, nv, valid, err);
	rc = rc ? rc : take_rows(d, idx + nv, n - nv, &rest, err);
	free(idx);
	if (rc < 0) {
		xf_train_data_release(&rest);
		xf_train_data_release(valid);
		return -1;
	}
	rest.meta = d->meta, d->meta = NULL;
	xf_train_data_release(d);
	*d = rest;
	return 0;
}

void xf_train_data_release(struct xf_train_data *d)
{
	free(d->x), free(d->teacher), free(d->y);
	json_decref(d->meta);
	memset(d, 0, sizeof(*d));
}
