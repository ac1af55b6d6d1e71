/* score_input: candidates for xfer-score from streams; see score_input.h. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "score_input.h"

/* Read the header frame, so the fields are known before choosing what to read. */
static int first_header(struct xf_reader *r, struct xf_err *err)
{
	struct xf_frame f;
	int rc = xf_reader_next(r, &f, err);

	if (rc == 0)
		return xf_err_set(err, XF_E_FORMAT, "%s: empty input (no stream)", xf_reader_name(r));
	xf_frame_release(&f);
	if (rc > 0 && xf_reader_header(r)->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "%s: a model stream; samples expected", xf_reader_name(r));
	return rc < 0 ? -1 : 0;
}

/* Names to read: labels and probabilities if declared, then the matching feature fields. */
static int choose_fields(const struct xf_header *h, const struct xf_score_inputs *in, const char **names,
			 int *n_names, int *first_feature)
{
	int n = 0;

	if (xf_header_find(h, in->labels) >= 0)
		names[n++] = in->labels;
	if (xf_header_find(h, in->probs) >= 0)
		names[n++] = in->probs;
	*first_feature = n;
	for (int i = 0; i < h->n_fields; i++) {
		const struct xf_field *f = &h->fields[i];

		if (f->dtype != XF_DTYPE_STR && !fnmatch(in->pattern, f->name, 0) && strcmp(f->name, in->labels) &&
		    strcmp(f->name, in->probs))
			names[n++] = f->name;
	}
	*n_names = n;
	return n;
}

static void view_data(struct xf_score_candidate *c)
{
	struct xf_score_data *d = &c->data;
	int64_t maxy = -1;

	memset(d, 0, sizeof(*d));
	d->n = c->y.data ? c->y.shape[0] : c->f.data ? c->f.shape[0] : c->p.data ? c->p.shape[0] : 0;
	if (c->f.data) {
		d->f = c->f.data;
		d->d = xf_tensor_count(&c->f) / (d->n ? d->n : 1);
	}
	if (c->p.data) {
		d->p = c->p.data;
		d->cs = xf_tensor_count(&c->p) / (d->n ? d->n : 1);
	}
	if (c->y.data) {
		d->y = c->y.data;
		for (int64_t i = 0; i < d->n; i++)
			maxy = d->y[i] > maxy ? d->y[i] : maxy;
		d->c = maxy + 1;
	}
}

/* Flatten a feature field to n x d and make each candidate own copies of labels and probs. */
static int make_candidate(struct xf_tensor *vals, int n_shared, int k, const char *name,
			  struct xf_score_candidate *c, struct xf_err *err)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	for (int i = 0; i < n_shared; i++) {
		struct xf_tensor *dst = i == 0 && vals[i].dtype == XF_DTYPE_I64 ? &c->y : &c->p;

		if (xf_tensor_copy(&vals[i], dst, err) < 0)
			return -1;
	}
	if (k >= 0) {
		c->f = vals[k];
		xf_tensor_init(&vals[k]);
		c->f.shape[1] = c->f.shape[0] ? xf_tensor_count(&c->f) / c->f.shape[0] : 0;
		c->f.ndim = 2;
		xf_tensor_set_contiguous_strides(&c->f);
	}
	view_data(c);
	return 0;
}

static int append(struct xf_score_candidate **cands, int *n, struct xf_err *err)
{
	struct xf_score_candidate *p = realloc(*cands, (*n + 1) * sizeof(*p));

	if (!p)
		return xf_err_nomem(err, 0);
	*cands = p;
	(*n)++;
	return 0;
}

static int read_values(struct xf_reader *r, const char **names, int n_names, const char *labels,
		       struct xf_tensor *vals, struct xf_err *err)
{
	enum xf_dtype dtypes[XF_MAX_FIELDS];

	for (int i = 0; i < n_names; i++)
		dtypes[i] = !strcmp(names[i], labels) ? XF_DTYPE_I64 : XF_DTYPE_F64;
	return xf_read_fields(r, n_names, names, dtypes, vals, err);
}

int xf_score_read_candidates(struct xf_reader *r, const struct xf_score_inputs *in, const char *prefix,
			     struct xf_score_candidate **cands, int *n, struct xf_err *err)
{
	const char **names;
	struct xf_tensor *vals;
	int n_names = 0, first = 0, rc = first_header(r, err);

	if (rc < 0)
		return -1;
	names = calloc(xf_reader_header(r)->n_fields + 2, sizeof(*names));
	vals = calloc(xf_reader_header(r)->n_fields + 2, sizeof(*vals));
	if (!names || !vals)
		rc = xf_err_nomem(err, 0);
	if (rc == 0 && choose_fields(xf_reader_header(r), in, names, &n_names, &first) == 0)
		rc = xf_err_set(err, XF_E_FORMAT, "%s: no field matches '%s' and no '%s' field", xf_reader_name(r),
				in->pattern, in->probs);
	if (rc == 0)
		rc = read_values(r, names, n_names, in->labels, vals, err);
	for (int k = first; rc == 0 && k < (n_names > first ? n_names : first + 1); k++) {
		char name[512];

		snprintf(name, sizeof(name), n_names - first > 1 ? "%s:%s" : "%s", prefix, k < n_names ? names[k] : "");
		rc = append(cands, n, err);
		if (rc == 0 && (rc = make_candidate(vals, first, k < n_names ? k : -1, name, &(*cands)[*n - 1], err)) < 0)
			(*n)--;
	}
	for (int i = 0; vals && i < n_names; i++)
		xf_tensor_release(&vals[i]);
	free(vals);
	free(names);
	return rc;
}

int xf_score_read_source(struct xf_reader *r, const struct xf_score_inputs *in, struct xf_score_candidate *c,
			 struct xf_err *err)
{
	struct xf_score_inputs features_only = { in->pattern, in->labels, "" };
	struct xf_score_candidate *got = NULL;
	int n = 0, rc = xf_score_read_candidates(r, &features_only, "", &got, &n, err);

	if (rc == 0 && (n != 1 || !got[0].f.data))
		rc = xf_err_set(err, XF_E_FORMAT, "%s: source features: %d fields match '%s'; want one", xf_reader_name(r),
				n, in->pattern);
	else if (rc == 0 && got[0].data.d != c->data.d)
		rc = xf_err_set(err, XF_E_FORMAT, "%s: source features have %lld columns, candidate '%s' has %lld",
				xf_reader_name(r), (long long)got[0].data.d, c->name, (long long)c->data.d);
	if (rc == 0) {
		xf_tensor_release(&c->source);
		c->source = got[0].f;
		xf_tensor_init(&got[0].f);
	}
	xf_score_candidates_free(got, n);
	return rc;
}

static bool same_labels(const struct xf_score_data *a, const struct xf_score_data *b)
{
	if (!a->y || !b->y)
		return a->y == b->y;
	return !memcmp(a->y, b->y, a->n * sizeof(*a->y));
}

int xf_score_check_candidates(const struct xf_score_candidate *cands, int n, struct xf_err *err)
{
	for (int i = 1; i < n; i++) {
		if (cands[i].data.n != cands[0].data.n)
			return xf_err_set(err, XF_E_FORMAT, "candidate '%s' has %lld rows, '%s' has %lld", cands[i].name,
					  (long long)cands[i].data.n, cands[0].name, (long long)cands[0].data.n);
		if (!same_labels(&cands[i].data, &cands[0].data))
			return xf_err_set(err, XF_E_FORMAT, "candidates '%s' and '%s' have different labels",
					  cands[i].name, cands[0].name);
	}
	return 0;
}

void xf_score_candidates_free(struct xf_score_candidate *cands, int n)
{
	for (int i = 0; i < n; i++) {
		xf_tensor_release(&cands[i].f);
		xf_tensor_release(&cands[i].y);
		xf_tensor_release(&cands[i].p);
		xf_tensor_release(&cands[i].source);
	}
	free(cands);
}
