/*
 * model_sink: model tensors out, one at a time; see model_sink.h.
 */
#include <stdlib.h>
#include <string.h>

#include "model_sink.h"
#include "safetensors.h"

struct xf_model_sink {
	struct xf_writer *w;        /* stream output, or NULL */
	int fd;                     /* safetensors output */
	struct xf_header h;         /* the declared tensors */
	int next;                   /* the tensor expected next */
	void *narrow;               /* f16/bf16/f64 copy of a tensor */
	size_t narrow_size;
};

static int sink_new(const struct xf_header *h, struct xf_model_sink **out, struct xf_err *err)
{
	struct xf_model_sink *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return xf_err_nomem(err, sizeof(*s));
	s->fd = -1;
	if (xf_header_copy(h, &s->h, err) < 0) {
		free(s);
		return -1;
	}
	for (int i = 0; i < h->n_fields; i++)
		if (!xf_dtype_table[h->fields[i].dtype].is_float) {
			xf_err_set(err, XF_E_USAGE, "tensor '%s': output dtype %s is not a float", h->fields[i].name,
				   xf_dtype_name(h->fields[i].dtype));
			xf_model_sink_free(s);
			return -1;
		}
	*out = s;
	return 0;
}

int xf_model_sink_stream(struct xf_writer *w, const struct xf_header *h, struct xf_model_sink **out,
			 struct xf_err *err)
{
	if (sink_new(h, out, err) < 0)
		return -1;
	(*out)->w = w;
	return xf_writer_begin(w, h, err);
}

/* A tensor with field i's dtype and shape, data NULL: the safetensors header's spec. */
static struct xf_tensor field_spec(const struct xf_field *f)
{
	struct xf_tensor t = XF_TENSOR_INIT;

	t.dtype = f->dtype;
	t.ndim = f->ndim;
	memcpy(t.shape, f->shape, sizeof(t.shape));
	xf_tensor_set_contiguous_strides(&t);
	return t;
}

int xf_model_sink_safetensors(int fd, const struct xf_header *h, json_t *metadata,
			      struct xf_model_sink **out, struct xf_err *err)
{
	int n = h->n_fields, rc = -1;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	struct xf_tensor *specs = calloc(n ? n : 1, sizeof(*specs));

	if (!names || !specs)
		xf_err_nomem(err, (size_t)n * sizeof(*specs));
	else if (sink_new(h, out, err) == 0) {
		for (int i = 0; i < n; i++) {
			names[i] = h->fields[i].name;
			specs[i] = field_spec(&h->fields[i]);
		}
		(*out)->fd = fd;
		rc = xf_safetensors_write_header(fd, n, names, specs, metadata, err);
	}
	free(names);
	free(specs);
	return rc;
}

/* data as the field's dtype: data itself for f32, else a rounded copy in s->narrow. */
static int narrow_to(struct xf_model_sink *s, const struct xf_field *f, const float *data, int64_t n,
		     void **out, struct xf_err *err)
{
	size_t bytes = (size_t)n * xf_dtype_size(f->dtype);

	*out = (void *)data;
	if (f->dtype == XF_DTYPE_F32)
		return 0;
	if (bytes > s->narrow_size) {
		free(s->narrow);
		s->narrow_size = 0;
		if (!(s->narrow = malloc(bytes)))
			return xf_err_nomem(err, bytes);
		s->narrow_size = bytes;
	}
	*out = s->narrow;
	if (f->dtype == XF_DTYPE_F64)
		for (int64_t j = 0; j < n; j++)
			((double *)s->narrow)[j] = data[j];
	else if (f->dtype == XF_DTYPE_F16)
		for (int64_t j = 0; j < n; j++)
			((uint16_t *)s->narrow)[j] = xf_f32_to_f16(data[j]);
	else
		for (int64_t j = 0; j < n; j++)
			((uint16_t *)s->narrow)[j] = xf_f32_to_bf16(data[j]);
	return 0;
}

int xf_model_sink_put(struct xf_model_sink *s, int i, const float *data, struct xf_err *err)
{
	const struct xf_field *f = &s->h.fields[i];
	struct xf_tensor t = field_spec(f);

	if (i != s->next)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s' written out of order", f->name);
	if (narrow_to(s, f, data, xf_tensor_count(&t), &t.data, err) < 0)
		return -1;
	s->next++;
	if (s->w)
		return xf_writer_tensor(s->w, i, &t, err);
	return xf_safetensors_write_data(s->fd, f->name, &t, err);
}

int xf_model_sink_end(struct xf_model_sink *s, struct xf_err *err)
{
	if (s->next != s->h.n_fields)
		return xf_err_set(err, XF_E_USAGE, "%d of %d tensors written", s->next, s->h.n_fields);
	return s->w ? xf_writer_end(s->w, err) : 0;
}

void xf_model_sink_free(struct xf_model_sink *s)
{
	if (!s)
		return;
	xf_header_release(&s->h);
	free(s->narrow);
	free(s);
}
