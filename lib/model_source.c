/*
 * model_source: one interface over model streams and safetensors files; see model_source.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_source.h"
#include "parallel.h"
#include "reader.h"
#include "safetensors.h"

struct xf_model_source {
	char *path;
	struct xf_safetensors *st;   /* safetensors input, or NULL */
	void *raw;                   /* safetensors: bytes of a tensor that is not float32 */
	size_t raw_size;
	struct xf_safetensors_map map; /* safetensors: the float32 tensor last handed out */
	int threads;
	struct xf_reader *r;         /* stream input, or NULL */
	struct xf_header h;          /* stream: the model segment's header */
	struct xf_tensor *pending;   /* stream: frames that arrived before they were asked for */
	bool *done;                  /* stream: tensors delivered in this pass */
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int open_stream_header(struct xf_model_source *src, struct xf_err *err)
{
	struct xf_frame f = XF_FRAME_INIT;
	int rc = xf_reader_next(src->r, &f, err);

	xf_frame_release(&f);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return xf_err_set(err, XF_E_FORMAT, "%s: empty input: expected a model", xf_reader_name(src->r));
	if (xf_reader_header(src->r)->kind != XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "%s: a %s stream, not a model", xf_reader_name(src->r),
				  xf_kind_name(xf_reader_header(src->r)->kind));
	return 0;
}

static int open_stream(struct xf_model_source *src, struct xf_err *err)
{
	int n;

	src->r = xf_reader_open(src->path, err);
	if (!src->r || open_stream_header(src, err) < 0)
		return -1;
	if (xf_header_copy(xf_reader_header(src->r), &src->h, err) < 0)
		return -1;
	n = src->h.n_fields;
	src->pending = calloc(n ? n : 1, sizeof(*src->pending));
	src->done = calloc(n ? n : 1, sizeof(*src->done));
	if (!src->pending || !src->done)
		return xf_err_nomem(err, (size_t)n * sizeof(*src->pending));
	return 0;
}

int xf_model_source_open(const char *path, struct xf_model_source **out, struct xf_err *err)
{
	struct xf_model_source *src = calloc(1, sizeof(*src));
	int rc;

	*out = NULL;
	if (!src || !(src->path = strdup(path))) {
		free(src);
		return xf_err_nomem(err, sizeof(*src));
	}
	src->threads = 1;
	if (has_suffix(path, ".safetensors"))
		rc = xf_safetensors_open(path, &src->st, err);
	else
		rc = open_stream(src, err); /* the reader's messages name the input */
	if (rc < 0) {
		xf_model_source_close(src);
		return -1;
	}
	*out = src;
	return 0;
}

int xf_model_source_count(const struct xf_model_source *src)
{
	return src->st ? xf_safetensors_count(src->st) : src->h.n_fields;
}

const char *xf_model_source_name(const struct xf_model_source *src, int i)
{
	return src->st ? xf_safetensors_name(src->st, i) : src->h.fields[i].name;
}

void xf_model_source_info(const struct xf_model_source *src, int i, enum xf_dtype *dtype, int *ndim,
			  int64_t *shape)
{
	const struct xf_field *f;

	if (src->st) {
		xf_safetensors_info(src->st, i, dtype, ndim, shape);
		return;
	}
	f = &src->h.fields[i];
	if (dtype)
		*dtype = f->dtype;
	if (ndim)
		*ndim = f->ndim;
	if (shape)
		memcpy(shape, f->shape, sizeof(f->shape));
}

int64_t xf_model_source_count_of(const struct xf_model_source *src, int i)
{
	int64_t shape[XF_MAX_DIMS], count = 1;
	int ndim;

	xf_model_source_info(src, i, NULL, &ndim, shape);
	for (int d = 0; d < ndim; d++)
		count *= shape[d];
	return count;
}

int xf_model_source_find(const struct xf_model_source *src, const char *name)
{
	return src->st ? xf_safetensors_find(src->st, name) : xf_header_find(&src->h, name);
}

const char *xf_model_source_path(const struct xf_model_source *src)
{
	return strcmp(src->path, "-") ? src->path : "stdin";
}

const struct xf_header *xf_model_source_header(const struct xf_model_source *src)
{
	return src->st ? NULL : &src->h;
}

json_t *xf_model_source_metadata(const struct xf_model_source *src)
{
	return src->st ? xf_safetensors_metadata(src->st) : NULL;
}

void xf_model_source_set_threads(struct xf_model_source *src, int threads)
{
	src->threads = threads;
}

/* Widen or round raw elements [b, e) of `dtype` into buf. */
static void convert_range(const void *raw, enum xf_dtype dtype, float *buf, int64_t b, int64_t e)
{
	const uint16_t *h = raw;
	const double *d = raw;

	if (dtype == XF_DTYPE_F64)
		for (int64_t j = b; j < e; j++)
			buf[j] = (float)d[j];
	else if (dtype == XF_DTYPE_F16)
		for (int64_t j = b; j < e; j++)
			buf[j] = xf_f16_to_f32(h[j]);
	else if (dtype == XF_DTYPE_BF16)
		for (int64_t j = b; j < e; j++)
			buf[j] = xf_bf16_to_f32(h[j]);
}

/* Whether any of x[0..64) is NaN or infinite: the exponent's carry into the sign bit, a fixed
 * trip count and integer ORs, so that -O2 vectorises it. */
static bool any_non_finite64(const float *x)
{
	uint32_t acc = 0;

	for (int k = 0; k < 64; k++) {
		uint32_t u;

		memcpy(&u, &x[k], sizeof(u));
		acc |= ((u & 0x7f800000u) + 0x00800000u) & 0x80000000u;
	}
	return acc != 0;
}

/* The first non-finite position of x[b, e), or -1. */
static int64_t first_non_finite(const float *x, int64_t b, int64_t e)
{
	int64_t j = b;

	while (j + 64 <= e && !any_non_finite64(x + j))
		j += 64;
	for (; j < e; j++)
		if (!isfinite(x[j]))
			return j;
	return -1;
}

/* Conversion (when the values go to buf from other raw bytes) and the check, in parallel over blocks. */
struct prepare {
	const void *raw;
	enum xf_dtype dtype;
	float *buf;
	const float *values;  /* buf, or the mapped raw bytes themselves */
	int64_t n;
	int64_t *first_bad;   /* per block */
};

#define PREPARE_BLOCK (1 << 16)

static void prepare_blocks(void *ctx, int64_t begin, int64_t end)
{
	struct prepare *p = ctx;

	for (int64_t k = begin; k < end; k++) {
		int64_t b = k * PREPARE_BLOCK, e = b + PREPARE_BLOCK < p->n ? b + PREPARE_BLOCK : p->n;

		if (p->values == p->buf && p->raw != p->buf)
			convert_range(p->raw, p->dtype, p->buf, b, e);
		p->first_bad[k] = first_non_finite(p->values, b, e);
	}
}

static int prepare(const struct xf_model_source *src, int i, struct prepare *p, struct xf_err *err)
{
	int64_t blocks = (p->n + PREPARE_BLOCK - 1) / PREPARE_BLOCK, bad = -1;

	if (!(p->first_bad = malloc((size_t)(blocks ? blocks : 1) * sizeof(int64_t))))
		return xf_err_nomem(err, (size_t)blocks * sizeof(int64_t));
	xf_parallel_for(blocks, src->threads, 4, prepare_blocks, p);
	for (int64_t k = 0; k < blocks && bad < 0; k++)
		bad = p->first_bad[k];
	free(p->first_bad);
	if (bad < 0)
		return 0;
	return xf_err_set(err, XF_E_FORMAT, "%s: tensor '%s' has %s at element %lld", xf_model_source_path(src),
			  xf_model_source_name(src, i), isnan(p->values[bad]) ? "NaN" : "infinity", (long long)bad);
}

static int not_float(const struct xf_model_source *src, int i, enum xf_dtype dtype, struct xf_err *err)
{
	return xf_err_set(err, XF_E_FORMAT, "%s: tensor '%s' is %s, not a float tensor", xf_model_source_path(src),
			  xf_model_source_name(src, i), xf_dtype_name(dtype));
}

static bool little_endian(void)
{
	const uint16_t one = 1;

	return *(const unsigned char *)&one == 1;
}

/* The raw bytes of tensor i: mapped when float32 on a little-endian host, else read into raw. */
static int get_safetensors(struct xf_model_source *src, int i, enum xf_dtype dtype, float *buf, const void **raw,
			   struct xf_err *err)
{
	size_t bytes = (size_t)xf_model_source_count_of(src, i) * xf_dtype_size(dtype);

	xf_safetensors_unmap(&src->map);
	if (dtype == XF_DTYPE_F32 && little_endian()) {
		if (xf_safetensors_map(src->st, i, &src->map, err) < 0)
			return -1;
		*raw = src->map.data ? src->map.data : buf;
		return 0;
	}
	if (dtype != XF_DTYPE_F32 && bytes > src->raw_size) {
		free(src->raw);
		src->raw_size = 0;
		if (!(src->raw = malloc(bytes)))
			return xf_err_nomem(err, bytes);
		src->raw_size = bytes;
	}
	*raw = dtype == XF_DTYPE_F32 ? (void *)buf : src->raw;
	return xf_safetensors_read_into(src->st, i, (void *)*raw, err);
}

/* Frames up to field i's, keeping the others for later; 0 when i arrived (in *t). */
static int next_stream_tensor(struct xf_model_source *src, int i, struct xf_tensor *t, struct xf_err *err)
{
	if (src->pending[i].data) {
		*t = src->pending[i];
		src->pending[i] = (struct xf_tensor)XF_TENSOR_INIT;
		return 0;
	}
	for (;;) {
		struct xf_frame f = XF_FRAME_INIT;
		int rc = xf_reader_next(src->r, &f, err);

		if (rc <= 0 || f.type != XF_FRAME_TENSOR) {
			xf_frame_release(&f);
			if (rc < 0)
				return -1; /* the reader's message names the input */
			return xf_err_set(err, XF_E_FORMAT, "%s: the model ended before tensor '%s'",
					  xf_model_source_path(src), src->h.fields[i].name);
		}
		if (f.field == i) {
			*t = f.tensor;
			return 0;
		}
		src->pending[f.field] = f.tensor;
	}
}

/* A stream's tensor i, converted into buf (its frame is freed at once). */
static int get_stream(struct xf_model_source *src, int i, enum xf_dtype dtype, float *buf, struct xf_err *err)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	struct prepare p = { NULL, dtype, buf, buf, 0, NULL };
	int rc;

	if (src->done[i])
		return xf_err_set(err, XF_E_USAGE, "%s: tensor '%s' read twice in one pass", xf_model_source_path(src),
				  src->h.fields[i].name);
	if (next_stream_tensor(src, i, &t, err) < 0)
		return -1;
	src->done[i] = true;
	if (dtype == XF_DTYPE_F32)
		memcpy(buf, t.data, xf_tensor_bytes(&t));
	p.raw = dtype == XF_DTYPE_F32 ? (const void *)buf : t.data;
	p.n = xf_tensor_count(&t);
	rc = prepare(src, i, &p, err);
	xf_tensor_release(&t);
	return rc;
}

int xf_model_source_get(struct xf_model_source *src, int i, float *buf, const float **data, struct xf_err *err)
{
	enum xf_dtype dtype;
	struct prepare p = { NULL, 0, buf, buf, xf_model_source_count_of(src, i), NULL };

	xf_model_source_info(src, i, &dtype, NULL, NULL);
	*data = buf;
	if (!xf_dtype_table[dtype].is_float)
		return not_float(src, i, dtype, err);
	if (!src->st)
		return get_stream(src, i, dtype, buf, err);
	p.dtype = dtype;
	if (get_safetensors(src, i, dtype, buf, &p.raw, err) < 0)
		return -1;
	if (dtype == XF_DTYPE_F32)
		p.values = p.raw;
	*data = p.values;
	return prepare(src, i, &p, err);
}

int xf_model_source_rewind(struct xf_model_source *src, struct xf_err *err)
{
	if (src->st)
		return 0;
	for (int i = 0; i < src->h.n_fields; i++) {
		xf_tensor_release(&src->pending[i]);
		src->done[i] = false;
	}
	if (!strcmp(src->path, "-"))
		return xf_err_set(err, XF_E_USAGE, "stdin cannot be read twice: give the model as a file");
	if (xf_reader_rewind(src->r, err) < 0)
		return xf_err_prefix(err, "%s", src->path);
	return open_stream_header(src, err);
}

void xf_model_source_close(struct xf_model_source *src)
{
	if (!src)
		return;
	xf_safetensors_unmap(&src->map);
	xf_safetensors_close(src->st);
	free(src->raw);
	for (int i = 0; src->pending && i < src->h.n_fields; i++)
		xf_tensor_release(&src->pending[i]);
	free(src->pending);
	free(src->done);
	xf_header_release(&src->h);
	if (src->r)
		xf_reader_close(src->r);
	free(src->path);
	free(src);
}
