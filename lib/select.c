/* select: row ranges, shards and field lists; see select.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

static int parse_count(const char *s, const char *end, int64_t *out)
{
	char *stop;
	long long v;

	if (s == end)
		return -1;
	errno = 0;
	v = strtoll(s, &stop, 10);
	if (stop != end || errno || v < 0 || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	*out = v;
	return 0;
}

int xf_rowsel_parse(const char *spec, struct xf_rowsel *out, struct xf_err *err)
{
	const char *colon = strchr(spec, ':'), *end = spec + strlen(spec);

	out->begin = 0, out->end = INT64_MAX, out->seen = 0;
	if (!colon) {
		if (parse_count(spec, end, &out->begin) < 0 || out->begin == INT64_MAX)
			goto bad;
		out->end = out->begin + 1;
		return 0;
	}
	if ((colon > spec && parse_count(spec, colon, &out->begin) < 0) ||
	    (colon + 1 < end && parse_count(colon + 1, end, &out->end) < 0) || out->end < out->begin)
		goto bad;
	return 0;
bad:
	return xf_err_set(err, XF_E_USAGE, "bad row range '%s' (want A:B with 0 <= A <= B)", spec);
}

int xf_shard_parse(const char *spec, int64_t *index, int64_t *count, struct xf_err *err)
{
	const char *slash = strchr(spec, '/');

	if (!slash || parse_count(spec, slash, index) < 0 || parse_count(slash + 1, spec + strlen(spec), count) < 0 ||
	    *count < 1 || *count > INT32_MAX || *index >= *count)
		return xf_err_set(err, XF_E_USAGE, "bad shard '%s' (want I/N with 0 <= I < N)", spec);
	return 0;
}

void xf_shard_range(int64_t index, int64_t count, int64_t total, struct xf_rowsel *out)
{
	/* floor(i * total / count) without overflow for any int64 total */
	int64_t q = total / count, r = total % count;

	out->begin = index * q + index * r / count;
	out->end = (index + 1) * q + (index + 1) * r / count;
	out->seen = 0;
}

int64_t xf_rowsel_take(struct xf_rowsel *s, int64_t n, int64_t *from)
{
	int64_t lo = s->seen > s->begin ? s->seen : s->begin;
	int64_t hi = s->end - s->seen < n ? s->end : s->seen + n;

	s->seen += n;
	*from = lo - (s->seen - n);
	return hi > lo ? hi - lo : 0;
}

bool xf_rowsel_done(const struct xf_rowsel *s)
{
	return s->seen >= s->end;
}

/* Add the field called name to out, unless it is unknown or already there. */
static int select_one(const struct xf_header *h, const char *name, struct xf_header *out, int *index,
		      struct xf_err *err)
{
	int k = xf_header_find(h, name);
	const struct xf_field *f;

	if (k < 0)
		return xf_err_set(err, XF_E_FORMAT, "no field '%s' (the stream has %d fields)", name, h->n_fields);
	for (int i = 0; i < out->n_fields; i++)
		if (index[i] == k)
			return xf_err_set(err, XF_E_USAGE, "field '%s' is named twice", name);
	f = &h->fields[k];
	if (xf_header_add_field(out, f->name, f->dtype, f->ndim, f->shape, err) < 0)
		return -1;
	index[out->n_fields - 1] = k;
	return 0;
}

int xf_header_select(const struct xf_header *h, const char *names, struct xf_header *out, int *index,
		     struct xf_err *err)
{
	struct xf_header all = *h;
	char *list, *tok, *save = NULL;
	int rc = 0;

	all.n_fields = 0, all.fields = NULL;
	if (xf_header_copy(&all, out, err) < 0)
		return -1;
	if (!names) {
		for (int i = 0; i < h->n_fields; i++)
			index[i] = i;
		out->fields = malloc((h->n_fields + 1) * sizeof(*out->fields));
		if (!out->fields)
			return xf_err_nomem(err, 0);
		memcpy(out->fields, h->fields, h->n_fields * sizeof(*h->fields));
		out->n_fields = h->n_fields;
		return 0;
	}
	if (!(list = strdup(names)))
		return xf_err_nomem(err, strlen(names));
	for (tok = strtok_r(list, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save))
		rc = select_one(h, tok, out, index, err);
	if (rc == 0 && out->n_fields == 0)
		rc = xf_err_set(err, XF_E_USAGE, "no field named in '%s'", names);
	free(list);
	if (rc < 0) {
		xf_header_release(out);
		return -1;
	}
	/* a graph whose weights are not all kept no longer describes the tensors */
	if (out->n_fields < h->n_fields && out->graph) {
		json_decref(out->graph);
		out->graph = NULL;
	}
	return 0;
}
