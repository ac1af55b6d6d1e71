/*
 * pack_csv: CSV/TSV with a header row into a samples segment (see pack.h). Two passes over
 * the file: the first checks the shape of the table and collects label names, the second
 * converts rows in blocks, so memory does not grow with the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "pack.h"

#define BLOCK_ROWS 4096

struct table {
	const char *path;
	char delimiter;
	int64_t n_cols, label_col, id_col, n_features;
	bool int_labels;            /* every label parses as an integer */
	char **classes;             /* sorted distinct label names, when not int_labels */
	int64_t n_classes, cap_classes;
};

static int open_csv(struct table *t, struct xf_source **src, struct xf_csv **csv, struct xf_err *err)
{
	if (!(*src = xf_source_open(t->path, err)))
		return -1;
	return xf_csv_open(xf_source_read_fn, *src, t->delimiter, t->path, csv, err);
}

static int64_t find_column(const struct xf_csv_row *head, const char *name)
{
	for (int64_t i = 0; name && i < head->n; i++)
		if (!strcmp(head->cells[i], name))
			return i;
	return -1;
}

static int read_head(struct table *t, struct xf_csv *csv, const struct xf_pack_csv_opts *o, struct xf_err *err)
{
	struct xf_csv_row head;
	int rc = xf_csv_next(csv, &head, err);

	if (rc <= 0)
		return rc < 0 ? -1 : xf_err_set(err, XF_E_FORMAT, "%s: empty file (no header row)", t->path);
	t->n_cols = head.n;
	t->label_col = find_column(&head, o->label_column);
	t->id_col = find_column(&head, o->id_column);
	if (o->label_column && t->label_col < 0)
		return xf_err_set(err, XF_E_USAGE, "%s: no column '%s' for --label-column", t->path, o->label_column);
	if (o->id_column && t->id_col < 0)
		return xf_err_set(err, XF_E_USAGE, "%s: no column '%s' for --id-column", t->path, o->id_column);
	/* One column cannot be both: a row is converted cell by cell, each cell to one field. */
	if (t->label_col >= 0 && t->label_col == t->id_col)
		return xf_err_set(err, XF_E_USAGE, "%s: --label-column and --id-column both name '%s'", t->path,
				  o->label_column);
	t->n_features = t->n_cols - (t->label_col >= 0) - (t->id_col >= 0);
	if (t->n_features < 1)
		return xf_err_set(err, XF_E_FORMAT, "%s: no feature columns left", t->path);
	return 0;
}

static int add_class(struct table *t, const char *name, struct xf_err *err)
{
	for (int64_t i = 0; i < t->n_classes; i++)
		if (!strcmp(t->classes[i], name))
			return 0;
	if (t->n_classes == t->cap_classes) {
		void *p = realloc(t->classes, (t->cap_classes * 2 + 16) * sizeof(char *));

		if (!p)
			return xf_err_nomem(err, 0);
		t->classes = p, t->cap_classes = t->cap_classes * 2 + 16;
	}
	if (!(t->classes[t->n_classes] = strdup(name)))
		return xf_err_nomem(err, strlen(name));
	t->n_classes++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pass 1: every row has n_cols cells; labels are integers, or names collected as classes. */
static int survey(struct table *t, struct xf_csv *csv, struct xf_err *err)
{
	struct xf_csv_row row;
	int64_t v;
	int rc;

	t->int_labels = true;
	while ((rc = xf_csv_next(csv, &row, err)) > 0) {
		if (row.n != t->n_cols)
			return xf_err_set(err, XF_E_FORMAT, "%s: line %lld has %lld cells, the header has %lld", t->path,
					  (long long)xf_csv_line(csv), (long long)row.n, (long long)t->n_cols);
		if (t->label_col < 0)
			continue;
		if (add_class(t, row.cells[t->label_col], err) < 0)
			return -1;
		t->int_labels &= xf_parse_int64(row.cells[t->label_col], &v) == 0;
		if (t->n_classes > 100000)
			return xf_err_set(err, XF_E_LIMIT, "%s: more than 100000 distinct labels", t->path);
	}
	if (t->n_classes)   /* classes is NULL without labels, and qsort's base must not be */
		qsort(t->classes, t->n_classes, sizeof(char *), cmp_str);
	return rc;
}

static int label_of(const struct table *t, const char *cell, int64_t *out)
{
	char *const *hit;

	if (t->int_labels)
		return xf_parse_int64(cell, out);
	hit = bsearch(&cell, t->classes, t->n_classes, sizeof(char *), cmp_str);
	*out = hit ? hit - t->classes : -1;
	return hit ? 0 : -1;
}

/* Convert one row into row k of the block's columns. */
static int convert_row(const struct table *t, const struct xf_csv_row *row, int64_t line, struct xf_tensor *cols,
		       int64_t k, char ***ids, struct xf_err *err)
{
	float *x = (float *)cols[0].data + k * t->n_features;
	int64_t f = 0;

	for (int64_t c = 0; c < t->n_cols; c++) {
		double v;

		if (c == t->label_col) {
			label_of(t, row->cells[c], &((int64_t *)cols[1].data)[k]);
		} else if (c == t->id_col) {
			if (!((*ids)[k] = strdup(row->cells[c])))
				return xf_err_nomem(err, row->lens[c]);
		} else if (xf_parse_double(row->cells[c], &v) < 0) {
			return xf_err_set(err, XF_E_FORMAT, "%s: line %lld, column %lld: '%.40s' is not a number", t->path,
					  (long long)line, (long long)c + 1, row->cells[c]);
		} else {
			x[f++] = (float)v;
		}
	}
	return 0;
}

/* Write k rows held in cols (ids as separately allocated strings). */
static int flush_block(const struct table *t, struct xf_tensor *cols, char **ids, int64_t k, struct xf_writer *w,
		       struct xf_err *err)
{
	struct xf_tensor out[3];
	int n = 0, rc;

	xf_tensor_rows(&cols[0], 0, k, &out[n++]);
	if (t->label_col >= 0)
		xf_tensor_rows(&cols[1], 0, k, &out[n++]);
	if (t->id_col >= 0) {
		out[n] = (struct xf_tensor)XF_TENSOR_INIT;
		out[n].dtype = XF_DTYPE_STR, out[n].ndim = 1, out[n].shape[0] = k, out[n].stride[0] = 1;
		out[n++].data = ids;
	}
	rc = xf_writer_rows(w, k, out, err);
	for (int64_t i = 0; i < k; i++)
		free(ids[i]), ids[i] = NULL;
	return rc;
}

/* Rows converted at a time: BLOCK_ROWS, or fewer so that a block of a wide table stays within a batch's bytes. */
static int64_t block_rows(int64_t n_features)
{
	int64_t rows = (int64_t)(XF_BATCH_BYTES / sizeof(float)) / n_features;

	return rows < 1 ? 1 : rows > BLOCK_ROWS ? BLOCK_ROWS : rows;
}

static int convert_all(const struct table *t, struct xf_csv *csv, struct xf_writer *w, struct xf_err *err)
{
	int64_t xshape[2] = { block_rows(t->n_features), t->n_features }, k = 0;
	struct xf_tensor cols[2] = { XF_TENSOR_INIT, XF_TENSOR_INIT };
	char **ids = calloc(xshape[0], sizeof(char *));
	struct xf_csv_row row;
	int rc = ids ? xf_csv_next(csv, &row, err) : xf_err_nomem(err, 0); /* the header row */

	if (rc >= 0)
		rc = xf_tensor_alloc(&cols[0], XF_DTYPE_F32, 2, xshape, err);
	if (rc >= 0)
		rc = xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, xshape, err);
	while (rc >= 0 && (rc = xf_csv_next(csv, &row, err)) > 0) {
		rc = convert_row(t, &row, xf_csv_line(csv), cols, k++, &ids, err);
		if (rc == 0 && k == xshape[0])
			rc = flush_block(t, cols, ids, k, w, err), k = 0;
	}
	if (rc == 0 && k)
		rc = flush_block(t, cols, ids, k, w, err);
	for (int64_t i = 0; ids && i < xshape[0]; i++)
		free(ids[i]);
	free(ids);
	xf_tensor_release(&cols[0]);
	xf_tensor_release(&cols[1]);
	return rc;
}

static int declare(struct table *t, struct xf_header *h, struct xf_err *err)
{
	int rc = xf_header_add_field(h, "x", XF_DTYPE_F32, 1, &t->n_features, err);

	if (rc == 0 && t->label_col >= 0)
		rc = xf_header_add_field(h, "y", XF_DTYPE_I64, 0, NULL, err);
	if (rc == 0 && t->id_col >= 0)
		rc = xf_header_add_field(h, "id", XF_DTYPE_STR, 0, NULL, err);
	if (rc == 0 && t->label_col >= 0 && !t->int_labels)
		rc = xf_header_set_classes(h, (int)t->n_classes, t->classes, err);
	return rc;
}

int xf_pack_csv(const char *path, const struct xf_pack_csv_opts *o, struct xf_header *h, struct xf_writer *w,
		struct xf_err *err)
{
	struct table t = { path, o->delimiter, 0, -1, -1, 0, true, NULL, 0, 0 };
	struct xf_source *src = NULL;
	struct xf_csv *csv = NULL;
	int rc = open_csv(&t, &src, &csv, err);

	rc = rc ? rc : read_head(&t, csv, o, err);
	rc = rc ? rc : survey(&t, csv, err);
	xf_csv_close(csv);
	csv = NULL;
	rc = rc ? rc : xf_source_rewind(src, err);
	rc = rc ? rc : xf_csv_open(xf_source_read_fn, src, t.delimiter, path, &csv, err);
	rc = rc ? rc : declare(&t, h, err);
	rc = rc ? rc : xf_writer_begin(w, h, err);
	rc = rc ? rc : convert_all(&t, csv, w, err);
	rc = rc ? rc : xf_writer_end(w, err);
	xf_csv_close(csv);
	xf_source_close(src);
	for (int64_t i = 0; i < t.n_classes; i++)
		free(t.classes[i]);
	free(t.classes);
	return rc;
}
