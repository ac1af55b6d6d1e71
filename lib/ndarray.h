/*
 * ndarray: tensors <-> the msgpack-numpy array map {nd, type, kind, shape, data}
 * (schemas/stream.md, "ndarray"). bfloat16 adds the key xfer_dtype = "bf16" to a "<u2" array.
 */
#ifndef XF_NDARRAY_H
#define XF_NDARRAY_H

#include <msgpack.h>

#include "tensor.h"

/*
 * Decode an ndarray map into a new owned tensor (byte-swapped if big-endian). The data
 * length is checked against the shape before anything is allocated.
 */
int xf_ndarray_parse(const msgpack_object *o, struct xf_tensor *out, struct xf_err *err);

/* Pack a tensor (not STR) as an ndarray map; returns 0 or -1 when the packer's write failed. */
int xf_ndarray_pack(msgpack_packer *pk, const struct xf_tensor *t);

#endif
