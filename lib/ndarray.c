/* ndarray: msgpack-numpy array maps; see ndarray.h and schemas/stream.md. */
#include <string.h>

#include "mp.h"
#include "ndarray.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "xfer assumes a little-endian host");

/* Parse a numpy type string into a dtype and whether its bytes need swapping. */
static int parse_type(const msgpack_object *type, const msgpack_object *xfer_dtype, enum xf_dtype *dtype,
		      bool *swap, struct xf_err *err)
{
	char name[16];

	if (!type || xf_mp_str_copy(type, name, sizeof(name)) < 0)
		return xf_err_set(err, XF_E_FORMAT, "ndarray 'type' is missing or not a dtype string");
	*swap = name[0] == '>';
	if (*swap)
		name[0] = '<';
	if (!strcmp(name, "<V2") || xf_dtype_parse(name, dtype) < 0 || *dtype == XF_DTYPE_STR ||
	    *dtype == XF_DTYPE_BF16)
		return xf_err_set(err, XF_E_FORMAT, "ndarray has unsupported dtype '%s'", name);
	if (xfer_dtype) {
		if (!xf_mp_str_eq(xfer_dtype, "bf16") || *dtype != XF_DTYPE_U16)
			return xf_err_set(err, XF_E_FORMAT, "ndarray has an unknown xfer_dtype");
		*dtype = XF_DTYPE_BF16;
	}
	return 0;
}

static int parse_shape(const msgpack_object *shape, int *ndim, int64_t *dims, struct xf_err *err)
{
	if (!shape || shape->type != MSGPACK_OBJECT_ARRAY)
		return xf_err_set(err, XF_E_FORMAT, "ndarray 'shape' is missing or not an array");
	if (shape->via.array.size > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_LIMIT, "ndarray has %u dimensions (at most %d)",
				  shape->via.array.size, XF_MAX_DIMS);
	*ndim = (int)shape->via.array.size;
	for (int i = 0; i < *ndim; i++) {
		uint64_t d;

		if (xf_mp_uint(&shape->via.array.ptr[i], &d) < 0 || d > INT64_MAX)
			return xf_err_set(err, XF_E_FORMAT, "ndarray shape[%d] is not a non-negative integer", i);
		dims[i] = (int64_t)d;
	}
	return 0;
}

int xf_ndarray_parse(const msgpack_object *o, struct xf_tensor *out, struct xf_err *err)
{
	const msgpack_object *nd = xf_mp_get(o, "nd"), *kind = xf_mp_get(o, "kind"), *data = xf_mp_get(o, "data");
	int64_t dims[XF_MAX_DIMS];
	enum xf_dtype dtype;
	size_t bytes;
	bool swap = false;
	int ndim = 0;

	if (o->type != MSGPACK_OBJECT_MAP || !nd || nd->type != MSGPACK_OBJECT_BOOLEAN || !nd->via.boolean)
		return xf_err_set(err, XF_E_FORMAT, "expected an ndarray map (with nd: true), got %s",
				  xf_mp_type_name(o));
	if (kind && !(kind->type == MSGPACK_OBJECT_BIN || kind->type == MSGPACK_OBJECT_STR))
		return xf_err_set(err, XF_E_FORMAT, "ndarray 'kind' is not a string");
	if (kind && (kind->type == MSGPACK_OBJECT_BIN ? kind->via.bin.size : kind->via.str.size) != 0)
		return xf_err_set(err, XF_E_FORMAT, "ndarray of object or structured kind is not supported");
	if (parse_type(xf_mp_get(o, "type"), xf_mp_get(o, "xfer_dtype"), &dtype, &swap, err) < 0 ||
	    parse_shape(xf_mp_get(o, "shape"), &ndim, dims, err) < 0)
		return -1;
	if (!data || data->type != MSGPACK_OBJECT_BIN)
		return xf_err_set(err, XF_E_FORMAT, "ndarray 'data' is missing or not bin");
	if (xf_shape_bytes(dtype, ndim, dims, SIZE_MAX, &bytes, err) < 0)
		return -1;
	if (bytes != data->via.bin.size) {
		char s[160];

		return xf_err_set(err, XF_E_FORMAT, "ndarray shape %s of %s needs %zu bytes, data has %u",
				  xf_shape_str(ndim, dims, s, sizeof(s)), xf_dtype_name(dtype), bytes,
				  data->via.bin.size);
	}
	if (xf_tensor_alloc_uninit(out, dtype, ndim, dims, err) < 0)
		return -1;
	memcpy(out->data, data->via.bin.ptr, bytes);
	if (swap)
		xf_byteswap(out->data, xf_tensor_count(out), xf_dtype_size(dtype));
	return 0;
}

int xf_ndarray_pack(msgpack_packer *pk, const struct xf_tensor *t)
{
	bool bf16 = t->dtype == XF_DTYPE_BF16;
	size_t bytes = xf_tensor_bytes(t);
	int rc;

	rc = msgpack_pack_map(pk, bf16 ? 6 : 5);
	rc = rc ? rc : xf_mp_pack_bin_str(pk, "nd");
	rc = rc ? rc : msgpack_pack_true(pk);
	rc = rc ? rc : xf_mp_pack_bin_str(pk, "type");
	rc = rc ? rc : xf_mp_pack_str(pk, bf16 ? "<u2" : xf_dtype_name(t->dtype));
	rc = rc ? rc : xf_mp_pack_bin_str(pk, "kind");
	rc = rc ? rc : msgpack_pack_bin(pk, 0);
	rc = rc ? rc : xf_mp_pack_bin_str(pk, "shape");
	rc = rc ? rc : msgpack_pack_array(pk, t->ndim);
	for (int i = 0; i < t->ndim && !rc; i++)
		rc = msgpack_pack_uint64(pk, (uint64_t)t->shape[i]);
	rc = rc ? rc : xf_mp_pack_bin_str(pk, "data");
	rc = rc ? rc : msgpack_pack_bin(pk, bytes);
	rc = rc ? rc : msgpack_pack_bin_body(pk, t->data, bytes);
	if (bf16) {
		rc = rc ? rc : xf_mp_pack_bin_str(pk, "xfer_dtype");
		rc = rc ? rc : xf_mp_pack_str(pk, "bf16");
	}
	return rc;
}
