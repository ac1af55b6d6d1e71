/*
 * libFuzzer target: safetensors (header length, JSON header, dtypes, shapes, data offsets,
 * __metadata__), then every tensor read, read into a buffer and mapped, from a memory file.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_safetensors *st;
	char path[32];

	fuzz_file(data, size, path);
	if (xf_safetensors_open(path, &st, &err) < 0)
		return 0;
	xf_safetensors_metadata(st);
	for (int i = 0; i < xf_safetensors_count(st); i++) {
		struct xf_tensor t;
		struct xf_safetensors_map map;
		void *buf;

		if (xf_safetensors_find(st, xf_safetensors_name(st, i)) < 0)
			abort();
		if (xf_safetensors_read(st, i, &t, &err) < 0)
			continue;
		buf = malloc(xf_tensor_bytes(&t) + 1);
		xf_tensor_release(&t);
		if (buf && xf_safetensors_read_into(st, i, buf, &err) < 0)
			abort();   /* read just worked */
		free(buf);
		if (xf_safetensors_map(st, i, &map, &err) == 0)
			xf_safetensors_unmap(&map);
	}
	xf_safetensors_close(st);
	return 0;
}
