/* score_partial: partial statistics as table segments; see score_partial.h. */
#include <stdlib.h>
#include <string.h>

#include "score_partial.h"

/* The arrays of a stats segment, in field order; which exist depends on d and cs. */
struct part {
	const char *name;
	enum xf_dtype dtype;
	int ndim;
	char rows, cols;  /* 'c', 'd', 's' (cs), '1' (one value) or 0 */
};

static const struct part parts[] = {
	{ "counts", XF_DTYPE_I64, 1, 'c', 0 },      { "mean", XF_DTYPE_F64, 1, 'd', 0 },
	{ "class_means", XF_DTYPE_F64, 2, 'c', 'd' }, { "scatter", XF_DTYPE_F64, 2, 'd', 'd' },
	{ "class_m2", XF_DTYPE_F64, 2, 'c', 'd' },  { "joint", XF_DTYPE_I64, 2, 'c', 's' },
	{ "nll_sum", XF_DTYPE_F64, 1, '1', 0 },
};
#define N_PARTS (int)(sizeof(parts) / sizeof(parts[0]))

static int64_t size_of(char which, const struct xf_score_stats *s)
{
	return which == 'c' ? s->c : which == 'd' ? s->d : which == '1' ? 1 : s->cs;
}

static bool present(const struct part *p, const struct xf_score_stats *s)
{
	if (p->rows == '1') /* the probabilities' sums */
		return s->cs > 0;
	return (p->rows != 'd' && p->cols != 'd' && p->cols != 's') || (p->cols == 's' ? s->cs > 0 : s->d > 0);
}

static void **slot(struct xf_score_stats *s, int i)
{
	void **slots[N_PARTS] = { (void **)&s->counts, (void **)&s->mean, (void **)&s->class_means,
				  (void **)&s->scatter, (void **)&s->class_m2, (void **)&s->joint, (void **)&s->nll_sum };

	return slots[i];
}

int xf_score_stats_write(struct xf_writer *w, const struct xf_header *base, const char *candidate,
			 const struct xf_score_stats *s, struct xf_err *err)
{
	struct xf_score_stats copy = *s;
	struct xf_tensor cols[N_PARTS];
	struct xf_header h;
	int n = 0, rc = xf_header_copy(base, &h, err);
	json_t *sizes = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I}", "xfer_score_partial", 1, "candidate", candidate, "n",
				  (json_int_t)s->n, "c", (json_int_t)s->c, "d", (json_int_t)s->d, "cs", (json_int_t)s->cs);

	h.kind = XF_KIND_TABLE;
	if (rc == 0 && (!sizes || json_object_update(h.meta, sizes) < 0))
		rc = xf_err_nomem(err, 0);
	json_decref(sizes);
	for (int i = 0; rc == 0 && i < N_PARTS; i++) {
		int64_t shape[3] = { 1, size_of(parts[i].rows, s), parts[i].cols ? size_of(parts[i].cols, s) : 0 };

		if (!present(&parts[i], s))
			continue;
		rc = xf_header_add_field(&h, parts[i].name, parts[i].dtype, parts[i].ndim, shape + 1, err);
		cols[n] = (struct xf_tensor)XF_TENSOR_INIT;
		cols[n].dtype = parts[i].dtype, cols[n].ndim = parts[i].ndim + 1, cols[n].data = *slot(&copy, i);
		memcpy(cols[n].shape, shape, sizeof(shape));
		xf_tensor_set_contiguous_strides(&cols[n++]);
	}
	rc = rc ? rc : xf_writer_begin(w, &h, err);
	rc = rc ? rc : xf_writer_rows(w, 1, cols, err);
	rc = rc ? rc : xf_writer_end(w, err);
	xf_header_release(&h);
	return rc;
}

static int meta_size(const struct xf_header *h, const char *key, int64_t *out, struct xf_err *err)
{
	json_t *v = json_object_get(h->meta, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((int64_t)1 << 40))
		return xf_err_set(err, XF_E_FORMAT, "partial statistics: meta.%s is missing or invalid", key);
	*out = json_integer_value(v);
	return 0;
}

/* Check the header describes a stats segment and fill s's sizes. */
static int read_sizes(const struct xf_header *h, struct xf_score_stats *s, const char **name, struct xf_err *err)
{
	json_t *tag = json_object_get(h->meta, "xfer_score_partial"), *cand = json_object_get(h->meta, "candidate");

	if (h->kind != XF_KIND_TABLE || !json_is_integer(tag) || json_integer_value(tag) != 1 || !json_is_string(cand))
		return xf_err_set(err, XF_E_FORMAT, "not partial statistics from xfer-score --partial");
	*name = json_string_value(cand);
	if (meta_size(h, "n", &s->n, err) < 0 || meta_size(h, "c", &s->c, err) < 0 || meta_size(h, "d", &s->d, err) < 0 ||
	    meta_size(h, "cs", &s->cs, err) < 0)
		return -1;
	for (int i = 0; i < N_PARTS; i++) {
		int k = xf_header_find(h, parts[i].name);
		const struct xf_field *f = k >= 0 ? &h->fields[k] : NULL;

		if (!present(&parts[i], s))
			continue;
		if (!f || f->dtype != parts[i].dtype || f->ndim != parts[i].ndim || f->shape[0] != size_of(parts[i].rows, s) ||
		    (parts[i].cols && f->shape[1] != size_of(parts[i].cols, s)))
			return xf_err_set(err, XF_E_FORMAT, "partial statistics: field '%s' is missing or has the wrong shape",
					  parts[i].name);
	}
	return 0;
}

/* Copy the single row's arrays into s. */
static int take_row(const struct xf_header *h, const struct xf_frame *f, struct xf_score_stats *s, struct xf_err *err)
{
	int64_t total = 0;

	if (f->n_rows != 1)
		return xf_err_set(err, XF_E_FORMAT, "partial statistics: a segment holds one row, not %lld",
				  (long long)f->n_rows);
	for (int i = 0; i < N_PARTS; i++) {
		int k = xf_header_find(h, parts[i].name);
		size_t bytes = k >= 0 ? xf_tensor_bytes(&f->cols[k]) : 0;

		if (k < 0 || !present(&parts[i], s))
			continue;
		if (!(*slot(s, i) = malloc(bytes ? bytes : 1)))
			return xf_err_nomem(err, bytes);
		memcpy(*slot(s, i), f->cols[k].data, bytes);
	}
	for (int64_t k = 0; k < s->c; k++) {
		if (s->counts[k] < 0 || s->counts[k] > s->n)
			return xf_err_set(err, XF_E_FORMAT, "partial statistics: class %lld has count %lld", (long long)k,
					  (long long)s->counts[k]);
		total += s->counts[k];
	}
	if (total != s->n)
		return xf_err_set(err, XF_E_FORMAT, "partial statistics: class counts add up to %lld, not n = %lld",
				  (long long)total, (long long)s->n);
	return 0;
}

int xf_score_stats_read(struct xf_reader *r, xf_score_stats_fn fn, void *ctx, struct xf_err *err)
{
	struct xf_score_stats s = { 0 };
	const char *name = NULL;
	struct xf_frame f;
	int rc = 0, got;
	bool have = false;

	while (rc == 0 && (got = xf_reader_next(r, &f, err)) > 0) {
		const struct xf_header *h = xf_reader_header(r);
		enum xf_frame_type type = f.type;

		if (f.type == XF_FRAME_HEADER)
			rc = read_sizes(h, &s, &name, err);
		else if (f.type == XF_FRAME_BATCH && f.n_rows > 0)
			rc = have ? xf_err_set(err, XF_E_FORMAT, "partial statistics: more than one row") :
				    (have = true, take_row(h, &f, &s, err));
		else if (f.type == XF_FRAME_END) {
			rc = have ? fn(ctx, name, &s, err) : xf_err_set(err, XF_E_FORMAT, "partial statistics: no row");
			have = false;
		}
		xf_frame_release(&f);
		if (rc < 0 || type == XF_FRAME_END)
			xf_score_stats_release(&s);
	}
	if (rc == 0 && got < 0)
		rc = -1;
	xf_score_stats_release(&s);
	if (rc < 0)
		xf_err_prefix(err, "%s", xf_reader_name(r));
	return rc;
}
