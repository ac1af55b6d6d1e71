/*
 * score-fixtures: what the xfer-score unit tests share: paths of the fixtures under
 * tests/data/scores/SET (XF_TEST_DATA overrides tests/data), loading a fixture array as
 * doubles or int64, the class count of labels, and running one metric of the table.
 */
#ifndef XF_SCORE_FIXTURES_H
#define XF_SCORE_FIXTURES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy.h"
#include "score.h"

/* tests/data/scores/SET/NAME (a static buffer, valid until the next call). */
__attribute__((unused))
static const char *fixture_path(const char *set, const char *name)
{
	static char path[512];
	const char *dir = getenv("XF_TEST_DATA");

	snprintf(path, sizeof(path), "%s/scores/%s/%s", dir ? dir : "tests/data", set, name);
	return path;
}

/* CASE-SUFFIX.npy of SET as doubles (float32 arrays) or int64; NULL with a diagnostic. */
__attribute__((unused))
static void *fixture_load(const char *set, const char *case_name, const char *suffix, int64_t *rows, int64_t *cols)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	char name[128];
	int64_t count;
	void *out;

	snprintf(name, sizeof(name), "%s-%s.npy", case_name, suffix);
	if (xf_npy_load_file(fixture_path(set, name), &t, &err) < 0) {
		printf("# %s: %s\n", name, err.msg);
		return NULL;
	}
	if (t.dtype != XF_DTYPE_F32 && t.dtype != XF_DTYPE_I64) {
		printf("# %s: unexpected dtype\n", name);
		xf_tensor_release(&t);
		return NULL;
	}
	*rows = t.shape[0];
	*cols = t.ndim > 1 ? t.shape[1] : 1;
	count = *rows * *cols;
	out = malloc((size_t)count * 8 + 1);
	for (int64_t i = 0; out && i < count; i++)
		if (t.dtype == XF_DTYPE_F32)
			((double *)out)[i] = ((const float *)t.data)[i];
		else
			((int64_t *)out)[i] = ((const int64_t *)t.data)[i];
	xf_tensor_release(&t);
	return out;
}

/* max(y) + 1. */
__attribute__((unused))
static int64_t fixture_classes(const int64_t *y, int64_t n)
{
	int64_t c = 0;

	for (int64_t i = 0; i < n; i++)
		c = y[i] > c ? y[i] : c;
	return c + 1;
}

/* Check and run one metric of the table on data; NAN (with the message printed) on failure. */
__attribute__((unused))
static double fixture_run(const char *metric, const struct xf_score_data *data)
{
	const struct xf_metric *m = xf_metric_find(metric);
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_cache *cache;
	double out = NAN;

	if (!m) {
		printf("# no metric '%s'\n", metric);
		return NAN;
	}
	if (xf_score_check(data, m->needs, &err) < 0 || !(cache = xf_score_cache_new(data, &err))) {
		printf("# %s: %s\n", metric, err.msg);
		return NAN;
	}
	if (m->compute(data, cache, &out, &err) < 0) {
		printf("# %s: %s\n", metric, err.msg);
		out = NAN;
	}
	xf_score_cache_free(cache);
	return out;
}

#endif
