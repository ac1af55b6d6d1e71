/* header: segment headers in memory; see header.h. The wire form lives in reader.c/writer.c. */
#include <stdlib.h>
#include <string.h>

#include "header.h"

static const char *const kind_names[XF_KIND_COUNT] = { "samples", "model", "table" };

const char *xf_kind_name(enum xf_kind kind)
{
	return (unsigned)kind < XF_KIND_COUNT ? kind_names[kind] : "?";
}

int xf_kind_parse(const char *name, enum xf_kind *out)
{
	for (int i = 0; i < XF_KIND_COUNT; i++)
		if (!strcmp(name, kind_names[i])) {
			*out = (enum xf_kind)i;
			return 0;
		}
	return -1;
}

int xf_header_find(const struct xf_header *h, const char *name)
{
	for (int i = 0; i < h->n_fields; i++)
		if (!strcmp(h->fields[i].name, name))
			return i;
	return -1;
}

int xf_header_add_field(struct xf_header *h, const char *name, enum xf_dtype dtype, int ndim,
			const int64_t *shape, struct xf_err *err)
{
	struct xf_field *f;
	size_t len = strlen(name);

	if (len == 0 || len > XF_MAX_NAME)
		return xf_err_set(err, XF_E_USAGE, "field name '%.64s' must have 1 to %d bytes", name, XF_MAX_NAME);
	if (xf_header_find(h, name) >= 0)
		return xf_err_set(err, XF_E_USAGE, "field '%s' is declared twice", name);
	if (ndim < 0 || ndim > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_LIMIT, "field '%s' has %d dimensions", name, ndim);
	f = realloc(h->fields, (h->n_fields + 1) * sizeof(*f));
	if (!f)
		return xf_err_nomem(err, (h->n_fields + 1) * sizeof(*f));
	h->fields = f;
	f = &h->fields[h->n_fields++];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, len + 1);
	f->dtype = dtype;
	f->ndim = ndim;
	if (ndim)
		memcpy(f->shape, shape, ndim * sizeof(*shape));
	return 0;
}

static json_t *copy_json(const json_t *j)
{
	return j ? json_deep_copy(j) : NULL;
}

int xf_header_copy(const struct xf_header *src, struct xf_header *out, struct xf_err *err)
{
	*out = (struct xf_header)XF_HEADER_INIT;
	out->kind = src->kind;
	if (src->n_fields) {
		out->fields = malloc(src->n_fields * sizeof(*out->fields));
		if (!out->fields)
			return xf_err_nomem(err, src->n_fields * sizeof(*out->fields));
		memcpy(out->fields, src->fields, src->n_fields * sizeof(*out->fields));
		out->n_fields = src->n_fields;
	}
	out->meta = src->meta ? copy_json(src->meta) : json_object();
	out->graph = copy_json(src->graph);
	out->extra = copy_json(src->extra);
	if (!out->meta || (src->graph && !out->graph) || (src->extra && !out->extra)) {
		xf_header_release(out);
		return xf_err_nomem(err, 0);
	}
	return 0;
}

static bool same_field(const struct xf_field *a, const struct xf_field *b)
{
	return !strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim &&
	       !memcmp(a->shape, b->shape, a->ndim * sizeof(a->shape[0]));
}

bool xf_header_compatible(const struct xf_header *a, const struct xf_header *b)
{
	if (a->kind != b->kind || a->n_fields != b->n_fields)
		return false;
	for (int i = 0; i < a->n_fields; i++)
		if (!same_field(&a->fields[i], &b->fields[i]))
			return false;
	if (a->kind == XF_KIND_MODEL && !json_equal(a->graph, b->graph) && (a->graph || b->graph))
		return false;
	return true;
}

static json_t *meta_of(struct xf_header *h)
{
	if (!h->meta)
		h->meta = json_object();
	return h->meta;
}

int xf_header_add_history(struct xf_header *h, const char *prog, int argc, char **argv,
			  struct xf_err *err)
{
	json_t *meta = meta_of(h), *history, *args = json_array(), *rec;

	if (!meta || !args)
		goto nomem;
	for (int i = 1; i < argc; i++)
		if (json_array_append_new(args, json_string(argv[i])) < 0)
			goto nomem; /* also when an argument is not UTF-8 */
	history = json_object_get(meta, "history");
	if (!json_is_array(history)) {
		history = json_array();
		if (!history || json_object_set_new(meta, "history", history) < 0)
			goto nomem;
	}
	rec = json_pack("{s:s, s:s, s:o}", "prog", prog, "version", XF_VERSION, "args", args);
	if (!rec || json_array_append_new(history, rec) < 0)
		return xf_err_nomem(err, 0);
	return 0;
nomem:
	json_decref(args);
	return xf_err_set(err, XF_E_NOMEM, "cannot record history (out of memory or arguments not UTF-8)");
}

int xf_header_set_classes(struct xf_header *h, int n, char *const *names, struct xf_err *err)
{
	json_t *meta = meta_of(h), *arr = json_array();

	for (int i = 0; meta && arr && i < n; i++)
		if (json_array_append_new(arr, json_string(names[i])) < 0) {
			json_decref(arr);
			return xf_err_set(err, XF_E_FORMAT, "class name '%.64s' is not valid UTF-8", names[i]);
		}
	if (!meta || !arr || json_object_set_new(meta, "classes", arr) < 0)
		return xf_err_nomem(err, 0);
	return 0;
}

void xf_header_release(struct xf_header *h)
{
	free(h->fields);
	json_decref(h->meta);
	json_decref(h->graph);
	json_decref(h->extra);
	*h = (struct xf_header)XF_HEADER_INIT;
}
