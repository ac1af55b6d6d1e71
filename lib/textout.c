/* textout: CSV and JSON lines output, and column statistics; see textout.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textout.h"

/* A growable line; every append is checked once at flush through `failed`. */
struct line {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->cap ? l->cap * 2 : 4096) + n;
		char *p = realloc(l->p, cap);

		if (!p) {
			l->failed = true;
			return;
		}
		l->p = p, l->cap = cap;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static int flush_line(struct line *l, struct xf_sink *out, struct xf_err *err)
{
	int rc = l->failed ? xf_err_nomem(err, l->cap) : xf_sink_write(out, l->p, l->len, err);

	l->len = 0;
	return rc;
}

static void put_number(struct line *l, const struct xf_tensor *t, int64_t i, bool json)
{
	char buf[40];
	const void *p = (const char *)t->data + i * xf_dtype_size(t->dtype);
	double v;

	switch (t->dtype) {
	case XF_DTYPE_I64: snprintf(buf, sizeof(buf), "%lld", (long long)*(const int64_t *)p); break;
	case XF_DTYPE_U64: snprintf(buf, sizeof(buf), "%llu", (unsigned long long)*(const uint64_t *)p); break;
	case XF_DTYPE_BOOL:
		snprintf(buf, sizeof(buf), "%s", json ? (*(const uint8_t *)p ? "true" : "false") : (*(const uint8_t *)p ? "1" : "0"));
		break;
	default:
		v = xf_tensor_get_f64(t, i);
		if (!xf_dtype_table[t->dtype].is_float)
			snprintf(buf, sizeof(buf), "%.0f", v);
		else if (isnan(v) || isinf(v))
			snprintf(buf, sizeof(buf), "%s", json ? "null" : isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		else
			snprintf(buf, sizeof(buf), t->dtype == XF_DTYPE_F64 ? "%.17g" : "%.9g", v);
	}
	puts_(l, buf);
}

static void put_csv_string(struct line *l, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		puts_(l, s);
		return;
	}
	put(l, "\"", 1);
	for (; *s; s++) {
		put(l, s, 1);
		if (*s == '"')
			put(l, s, 1); /* a quote inside quotes is doubled */
	}
	put(l, "\"", 1);
}

static void put_json_string(struct line *l, const char *s)
{
	char buf[8];

	put(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(l, "\\", 1), put(l, s, 1);
		else if (c < 0x20)
			snprintf(buf, sizeof(buf), "\\u%04x", c), puts_(l, buf);
		else
			put(l, s, 1);
	}
	put(l, "\"", 1);
}

int xf_csv_write_header(struct xf_sink *out, const struct xf_header *h, struct xf_err *err)
{
	struct line l = { 0 };
	char buf[XF_MAX_NAME + 24];
	int64_t col = 0;             /* a field of per-row size 0 has no column */
	int rc;

	for (int i = 0; i < h->n_fields; i++) {
		const struct xf_field *f = &h->fields[i];
		int64_t n = xf_shape_count(f->ndim, f->shape);

		for (int64_t k = 0; k < n; k++) {
			if (col++)
				put(&l, ",", 1);
			if (f->ndim)
				snprintf(buf, sizeof(buf), "%s_%lld", f->name, (long long)k);
			else
				snprintf(buf, sizeof(buf), "%s", f->name);
			put_csv_string(&l, buf);
		}
	}
	put(&l, "\n", 1);
	rc = flush_line(&l, out, err);
	free(l.p);
	return rc;
}

int xf_csv_write_rows(struct xf_sink *out, const struct xf_header *h, const struct xf_tensor *cols,
		      int64_t from, int64_t n, struct xf_err *err)
{
	struct line l = { 0 };
	int rc = 0;

	for (int64_t r = from; r < from + n && rc == 0; r++) {
		int64_t col = 0;

		for (int i = 0; i < h->n_fields; i++) {
			int64_t per_row = xf_shape_count(h->fields[i].ndim, h->fields[i].shape);

			for (int64_t k = 0; k < per_row; k++) {
				if (col++)
					put(&l, ",", 1);
				if (cols[i].dtype == XF_DTYPE_STR)
					put_csv_string(&l, ((char **)cols[i].data)[r]);
				else
					put_number(&l, &cols[i], r * per_row + k, false);
			}
		}
		put(&l, "\n", 1);
		rc = flush_line(&l, out, err);
	}
	free(l.p);
	return rc;
}

/* A row's value of a shaped field as nested JSON arrays, starting at flat element *at. */
static void put_json_value(struct line *l, const struct xf_tensor *t, const struct xf_field *f, int dim,
			   int64_t *at)
{
	if (dim == f->ndim) {
		put_number(l, t, (*at)++, true);
		return;
	}
	put(l, "[", 1);
	for (int64_t k = 0; k < f->shape[dim]; k++) {
		if (k)
			put(l, ",", 1);
		put_json_value(l, t, f, dim + 1, at);
	}
	put(l, "]", 1);
}

int xf_jsonl_write_rows(struct xf_sink *out, const struct xf_header *h, const struct xf_tensor *cols,
			int64_t from, int64_t n, struct xf_err *err)
{
	struct line l = { 0 };
	int rc = 0;

	for (int64_t r = from; r < from + n && rc == 0; r++) {
		put(&l, "{", 1);
		for (int i = 0; i < h->n_fields; i++) {
			const struct xf_field *f = &h->fields[i];
			int64_t at = r * xf_shape_count(f->ndim, f->shape);

			if (i)
				put(&l, ",", 1);
			put_json_string(&l, f->name);
			put(&l, ":", 1);
			if (cols[i].dtype == XF_DTYPE_STR)
				put_json_string(&l, ((char **)cols[i].data)[r]);
			else
				put_json_value(&l, &cols[i], f, 0, &at);
		}
		put(&l, "}\n", 2);
		rc = flush_line(&l, out, err);
	}
	free(l.p);
	return rc;
}

void xf_stats_init(struct xf_stats *s)
{
	*s = (struct xf_stats){ 0, 0, 0, INFINITY, -INFINITY, 0 };
}

void xf_stats_add(struct xf_stats *s, const struct xf_tensor *col)
{
	int64_t n = xf_tensor_count(col);

	if (col->dtype == XF_DTYPE_STR)
		return;
	for (int64_t i = 0; i < n; i++) {
		double v = xf_tensor_get_f64(col, i);

		if (isnan(v)) {
			s->n_nan++;
		} else if (isinf(v)) {
			s->n_inf++;
		} else {
			s->min = v < s->min ? v : s->min;
			s->max = v > s->max ? v : s->max;
			s->sum += v;
		}
	}
	s->count += n;
}
