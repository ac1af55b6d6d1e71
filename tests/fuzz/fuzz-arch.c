/*
 * libFuzzer target: an architecture file (xfer-train --model ARCH.json): JSON, the "tensors"
 * map, and the graph's validation and shape inference (graph.h), from a memory file. Files
 * whose tensors declare more than MAX_WEIGHTS values in all are not loaded: their weights
 * would really be allocated (every tensor is bounded by the frame limit, not by the file).
 */
#include <jansson.h>

#include "arch.h"
#include "fuzz.h"

#define MAX_WEIGHTS ((int64_t)1 << 24)

/* Values the "tensors" map declares, or 0 when it does not parse (the loader says why). */
static int64_t declared(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL), *dims, *v;
	int64_t total = 0;
	const char *name;
	size_t k;

	json_object_foreach(json_object_get(root, "tensors"), name, dims) {
		int64_t n = 1;

		json_array_foreach(dims, k, v)
			if (json_is_integer(v) && json_integer_value(v) > 0)
				n = json_integer_value(v) > MAX_WEIGHTS / n ? MAX_WEIGHTS + 1 : n * json_integer_value(v);
		total += n;
		if (total > MAX_WEIGHTS)
			break;
	}
	json_decref(root);
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_model m;
	char path[32];

	if (declared(data, size) > MAX_WEIGHTS)
		return 0;
	fuzz_file(data, size, path);
	if (xf_arch_load(path, 1, &m, &err) == 0)
		xf_model_release(&m);
	return 0;
}
