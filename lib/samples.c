/* samples: a whole samples stream in memory; see samples.h. */
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "samples.h"

/* Read the header frame so that the fields are known before reading them. */
static int first_header(struct xf_reader *r, struct xf_err *err)
{
	struct xf_frame f = XF_FRAME_INIT;
	int rc = xf_reader_next(r, &f, err);

	xf_frame_release(&f);
	if (rc == 0)
		return xf_err_set(err, XF_E_FORMAT, "%s: empty input (no stream)", xf_reader_name(r));
	if (rc > 0 && xf_reader_header(r)->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "%s: a model stream; samples expected", xf_reader_name(r));
	return rc < 0 ? -1 : 0;
}

int xf_samples_read(struct xf_reader *r, struct xf_samples *s, struct xf_err *err)
{
	const struct xf_header *h;
	const char **names = NULL;
	enum xf_dtype *keep = NULL;
	int rc = first_header(r, err);

	*s = (struct xf_samples)XF_SAMPLES_INIT;
	if (rc < 0)
		return -1;
	h = xf_reader_header(r);
	names = calloc((size_t)h->n_fields + 1, sizeof(*names));
	keep = calloc((size_t)h->n_fields + 1, sizeof(*keep));
	s->cols = calloc((size_t)h->n_fields + 1, sizeof(*s->cols));
	rc = names && keep && s->cols ? xf_header_copy(h, &s->h, err) : xf_err_nomem(err, 0);
	for (int i = 0; rc == 0 && i < h->n_fields; i++) {
		names[i] = s->h.fields[i].name;
		keep[i] = XF_DTYPE_COUNT;
	}
	if (rc == 0)
		rc = xf_read_fields(r, s->h.n_fields, names, keep, s->cols, err);
	if (rc == 0)
		s->n = s->h.n_fields ? s->cols[0].shape[0] : 0;
	free(names), free(keep);
	if (rc < 0)
		xf_samples_release(s);
	return rc;
}

static int field_of(const struct xf_samples *s, const char *name, struct xf_err *err)
{
	int i = xf_header_find(&s->h, name);

	if (i < 0)
		return xf_err_set(err, XF_E_USAGE, "no field '%s'", name);
	if (s->h.fields[i].dtype == XF_DTYPE_STR)
		return xf_err_set(err, XF_E_FORMAT, "field '%s' holds strings, not numbers", name);
	return i;
}

/* The tensor's contiguous data as a malloc'd array the caller frees; t is emptied. */
static void *take_data(struct xf_tensor *t, struct xf_err *err)
{
	void *data = t->data;

	if (t->data != t->owner) {
		size_t bytes = xf_tensor_bytes(t);

		if ((data = malloc(bytes + 1)))
			memcpy(data, t->data, bytes);
		else
			xf_err_nomem(err, bytes);
		xf_tensor_release(t);
	}
	xf_tensor_init(t);
	return data;
}

int xf_samples_f64(const struct xf_samples *s, const char *name, double **out, int64_t *d, struct xf_err *err)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	int i = field_of(s, name, err);

	if (i < 0 || xf_tensor_convert(&s->cols[i], XF_DTYPE_F64, &t, err) < 0)
		return -1;
	*d = xf_shape_count(s->h.fields[i].ndim, s->h.fields[i].shape);
	return (*out = take_data(&t, err)) ? 0 : -1;
}

int xf_samples_labels(const struct xf_samples *s, const char *name, int64_t **out, struct xf_err *err)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	int i = field_of(s, name, err);

	if (i < 0)
		return -1;
	if (xf_shape_count(s->h.fields[i].ndim, s->h.fields[i].shape) != 1)
		return xf_err_set(err, XF_E_FORMAT, "field '%s' has more than one value per row: not labels", name);
	if (xf_tensor_convert(&s->cols[i], XF_DTYPE_I64, &t, err) < 0)
		return xf_err_prefix(err, "labels '%s'", name);
	return (*out = take_data(&t, err)) ? 0 : -1;
}

int xf_samples_put(struct xf_samples *s, const char *name, struct xf_tensor *t, struct xf_err *err)
{
	int i = xf_header_find(&s->h, name);
	struct xf_tensor *cols;

	if (t->ndim < 1 || t->shape[0] != s->n)
		return xf_err_set(err, XF_E_USAGE, "field '%s': %lld rows for %lld", name,
				  (long long)(t->ndim ? t->shape[0] : 0), (long long)s->n);
	if (i < 0) {
		if (xf_header_add_field(&s->h, name, t->dtype, t->ndim - 1, t->shape + 1, err) < 0)
			return -1;
		if (!(cols = realloc(s->cols, (size_t)(s->h.n_fields + 1) * sizeof(*cols))))
			return xf_err_nomem(err, 0);
		s->cols = cols;
		i = s->h.n_fields - 1;
		xf_tensor_init(&s->cols[i]);
	} else {
		struct xf_field *f = &s->h.fields[i];

		f->dtype = t->dtype;
		f->ndim = t->ndim - 1;
		memcpy(f->shape, t->shape + 1, (size_t)f->ndim * sizeof(int64_t));
	}
	xf_tensor_release(&s->cols[i]);
	s->cols[i] = *t;
	xf_tensor_init(t);
	return 0;
}

int xf_samples_write(struct xf_writer *w, const struct xf_samples *s, struct xf_err *err)
{
	if (xf_writer_begin(w, &s->h, err) < 0 || xf_writer_rows(w, s->n, s->cols, err) < 0)
		return -1;
	return xf_writer_end(w, err);
}

void xf_samples_release(struct xf_samples *s)
{
	for (int i = 0; s->cols && i < s->h.n_fields; i++)
		xf_tensor_release(&s->cols[i]);
	free(s->cols);
	xf_header_release(&s->h);
	*s = (struct xf_samples)XF_SAMPLES_INIT;
}
