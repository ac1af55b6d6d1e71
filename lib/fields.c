/* fields: whole fields into memory; see fields.h. */
#include <stdlib.h>
#include <string.h>

#include "fields.h"

struct parts {
	struct xf_tensor_list batches;
	struct xf_field decl;   /* the field as the first segment declared it */
	int index;              /* its column in the current segment */
};

static int on_header(const struct xf_reader *r, int n, const char *const *names, struct parts *p,
		     bool first, struct xf_err *err)
{
	const struct xf_header *h = xf_reader_header(r);

	if (h->kind == XF_KIND_MODEL)
		return xf_err_set(err, XF_E_FORMAT, "%s: expected rows, got a model segment", xf_reader_name(r));
	for (int i = 0; i < n; i++) {
		int k = xf_header_find(h, names[i]);
		const struct xf_field *f;

		if (k < 0)
			return xf_err_set(err, XF_E_FORMAT, "%s: no field \"%s\" in segment %lld", xf_reader_name(r),
					  names[i], (long long)xf_reader_segments(r));
		f = &h->fields[k];
		if (!first && (f->dtype != p[i].decl.dtype || f->ndim != p[i].decl.ndim ||
			       memcmp(f->shape, p[i].decl.shape, f->ndim * sizeof(f->shape[0]))))
			return xf_err_set(err, XF_E_FORMAT, "field \"%s\" changes dtype or shape between segments", names[i]);
		p[i].decl = *f;
		p[i].index = k;
	}
	return 0;
}

static int stack(struct parts *p, enum xf_dtype dtype, struct xf_tensor *out, struct xf_err *err)
{
	struct xf_tensor all = XF_TENSOR_INIT;
	int64_t shape[XF_MAX_DIMS] = { 0 };
	char *text;
	int rc;

	memcpy(shape + 1, p->decl.shape, p->decl.ndim * sizeof(shape[0]));
	if (p->batches.n)
		rc = xf_tensor_concat_rows(p->batches.items, p->batches.n, &all, err);
	else if (p->decl.dtype == XF_DTYPE_STR)
		rc = xf_tensor_alloc_str(&all, 0, 0, &text, err);
	else
		rc = xf_tensor_alloc(&all, p->decl.dtype, p->decl.ndim + 1, shape, err);
	if (rc < 0 || dtype == XF_DTYPE_COUNT || dtype == all.dtype) {
		*out = all;
		return rc;
	}
	rc = xf_tensor_convert(&all, dtype, out, err);
	xf_tensor_release(&all);
	return rc < 0 ? xf_err_prefix(err, "field \"%s\"", p->decl.name) : 0;
}

static void free_parts(struct parts *p, int n)
{
	for (int i = 0; i < n; i++)
		xf_tensor_list_release(&p[i].batches);
	free(p);
}

int xf_read_fields(struct xf_reader *r, int n, const char *const *names, const enum xf_dtype *dtypes,
		   struct xf_tensor *out, struct xf_err *err)
{
	struct parts *p = calloc(n + 1, sizeof(*p));
	struct xf_frame f;
	bool seen_header = false;
	int rc = p ? 0 : xf_err_nomem(err, 0), got = 0;

	for (int i = 0; i < n; i++)
		xf_tensor_init(&out[i]);
	if (rc == 0 && xf_reader_header(r)) /* the caller has read the header frame already */
		rc = on_header(r, n, names, p, true, err), seen_header = true;
	while (rc == 0 && (got = xf_reader_next(r, &f, err)) > 0) {
		if (f.type == XF_FRAME_HEADER)
			rc = on_header(r, n, names, p, !seen_header, err), seen_header = true;
		for (int i = 0; f.type == XF_FRAME_BATCH && rc == 0 && i < n; i++)
			rc = xf_tensor_list_take(&p[i].batches, &f.cols[p[i].index], err);
		xf_frame_release(&f);
	}
	if (rc == 0 && got < 0)
		rc = -1;
	if (rc == 0 && !seen_header)
		rc = xf_err_set(err, XF_E_FORMAT, "%s: empty input (no stream)", xf_reader_name(r));
	for (int i = 0; rc == 0 && i < n; i++)
		rc = stack(&p[i], dtypes ? dtypes[i] : XF_DTYPE_COUNT, &out[i], err);
	if (rc < 0)
		for (int i = 0; i < n; i++)
			xf_tensor_release(&out[i]);
	free_parts(p, p ? n : 0);
	return rc;
}
