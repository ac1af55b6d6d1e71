/*
 * Unit tests for lib/arch.c (and xf_model_create under it): a small architecture file loads with
 * PyTorch's initialisation bounds, and tensors too large for a frame are refused before any
 * allocation, including shapes whose element count overflows int64 (they used to load with a
 * one-value buffer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "scratch.h"
#include "tap.h"

static char tmpdir[64];

static const char *put_file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	return path;
}

static void test_small(void)
{
	static const char json[] =
		"{\"graph\": {\"inputs\": {\"x\": {\"shape\": [4]}},\n"
		" \"nodes\": [{\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"x\"],\n"
		"              \"weights\": {\"weight\": \"fc.weight\", \"bias\": \"fc.bias\"}},\n"
		"            {\"name\": \"ln\", \"op\": \"layernorm\", \"inputs\": [\"fc\"], \"weights\": {\"weight\": \"ln.weight\"}}],\n"
		" \"outputs\": [\"ln\"]},\n"
		" \"tensors\": {\"fc.weight\": [3, 4], \"fc.bias\": [3], \"ln.weight\": [3]}}\n";
	struct xf_err err = XF_ERR_INIT;
	struct xf_model m;
	int in_bounds = 1;

	if (!ok(xf_arch_load(put_file("small.json", json), 1, &m, &err) == 0, "a small architecture loads")) {
		printf("# %s\n", err.msg);
		return;
	}
	is_int(m.h.n_fields, 3, "with its 3 tensors");
	for (int i = 0; i < 12; i++)
		in_bounds &= fabsf(m.weights[0][i]) <= 0.5f;   /* U(-1/sqrt(4), 1/sqrt(4)) */
	ok(in_bounds && m.weights[0][0] != m.weights[0][1], "linear weights drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in))");
	ok(m.weights[2][0] == 1 && m.weights[2][2] == 1, "layernorm weights are 1");
	xf_model_release(&m);
}

static void check_refused(const char *name, const char *json, const char *want)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_model m;
	int rc = xf_arch_load(put_file(name, json), 1, &m, &err);

	if (rc == 0)
		xf_model_release(&m);
	ok(rc < 0 && err.code == XF_E_LIMIT && strstr(err.msg, want), "%s: refused as too large", name);
	if (rc == 0 || !strstr(err.msg, want))
		printf("#   got rc %d, '%s'\n", rc, err.msg);
}

static void test_too_large(void)
{
	/* 2^31-1 x 2^60 values: the count overflows int64 */
	check_refused("overflow.json",
		      "{\"graph\": {\"inputs\": {\"x\": {\"shape\": [1048576, 1048576, 1048576]}},"
		      " \"nodes\": [{\"name\": \"c\", \"op\": \"conv2d\", \"inputs\": [\"x\"], \"weights\": {\"weight\": \"w\"}}],"
		      " \"outputs\": [\"c\"]},"
		      " \"tensors\": {\"w\": [2147483647, 1048576, 1048576, 1048576]}}",
		      "tensor 'w' of shape [2147483647, 1048576, 1048576, 1048576] does not fit in a frame");
	/* 2^62 values: a valid graph whose weight no stream can hold */
	check_refused("huge.json",
		      "{\"graph\": {\"inputs\": {\"x\": {\"shape\": [2147483647]}},"
		      " \"nodes\": [{\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"x\"], \"weights\": {\"weight\": \"w\"}}],"
		      " \"outputs\": [\"fc\"]},"
		      " \"tensors\": {\"w\": [2147483647, 2147483647]}}",
		      "tensor 'w' of shape [2147483647, 2147483647] does not fit in a frame");
}

int main(void)
{
	if (!scratch_make(tmpdir, sizeof(tmpdir), "test-arch"))
		return 99;
	test_small();
	test_too_large();
	scratch_remove(tmpdir);
	return done_testing();
}
