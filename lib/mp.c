/* mp: msgpack-c helpers and msgpack <-> jansson conversion; see mp.h. */
#include <math.h>
#include <string.h>

#include "mp.h"

static bool raw_eq(const char *ptr, uint32_t size, const char *s)
{
	return strlen(s) == size && !memcmp(ptr, s, size);
}

bool xf_mp_str_eq(const msgpack_object *o, const char *s)
{
	if (o->type == MSGPACK_OBJECT_STR)
		return raw_eq(o->via.str.ptr, o->via.str.size, s);
	if (o->type == MSGPACK_OBJECT_BIN)
		return raw_eq(o->via.bin.ptr, o->via.bin.size, s);
	return false;
}

const msgpack_object *xf_mp_get(const msgpack_object *o, const char *key)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < o->via.map.size; i++)
		if (xf_mp_str_eq(&o->via.map.ptr[i].key, key))
			return &o->via.map.ptr[i].val;
	return NULL;
}

int xf_mp_str_copy(const msgpack_object *o, char *buf, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size ||
	    memchr(o->via.str.ptr, 0, o->via.str.size))
		return -1;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

int xf_mp_uint(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*out = o->via.u64;
	return 0;
}

const char *xf_mp_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
	case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	default: return "ext";
	}
}

static json_t *scalar_to_json(const msgpack_object *o, struct xf_err *err)
{
	json_t *j = NULL;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return json_null();
	case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			break;
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			break;
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		j = json_stringn(o->via.str.ptr, o->via.str.size);
		if (!j)
			xf_err_set(err, XF_E_FORMAT, "string is not valid UTF-8");
		return j;
	default:
		break;
	}
	xf_err_set(err, XF_E_FORMAT, "%s value cannot be represented (meta values must be JSON-like)",
		   xf_mp_type_name(o));
	return NULL;
}

static int map_to_json(const msgpack_object *o, json_t *obj, struct xf_err *err)
{
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		json_t *v;

		if (k->type != MSGPACK_OBJECT_STR)
			return xf_err_set(err, XF_E_FORMAT, "map key is %s, not str", xf_mp_type_name(k));
		if (xf_mp_to_json(&o->via.map.ptr[i].val, &v, err) < 0)
			return xf_err_prefix(err, "'%.*s'", (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
					     k->via.str.ptr);
		if (json_object_setn_new(obj, k->via.str.ptr, k->via.str.size, v) < 0)
			return xf_err_set(err, XF_E_FORMAT, "map key is not valid UTF-8 or holds a NUL");
	}
	return 0;
}

int xf_mp_to_json(const msgpack_object *o, json_t **out, struct xf_err *err)
{
	json_t *j;

	if (o->type == MSGPACK_OBJECT_MAP) {
		j = json_object();
		if (j && map_to_json(o, j, err) < 0) {
			json_decref(j);
			return -1;
		}
	} else if (o->type == MSGPACK_OBJECT_ARRAY) {
		j = json_array();
		for (uint32_t i = 0; j && i < o->via.array.size; i++) {
			json_t *v;

			if (xf_mp_to_json(&o->via.array.ptr[i], &v, err) < 0) {
				json_decref(j);
				return xf_err_prefix(err, "[%u]", i);
			}
			json_array_append_new(j, v);
		}
	} else if (!(j = scalar_to_json(o, err))) {
		return -1;
	}
	if (!j)
		return xf_err_nomem(err, sizeof(json_t));
	*out = j;
	return 0;
}

int xf_mp_pack_json(msgpack_packer *pk, const json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;
	int rc = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		rc = msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach((json_t *)j, key, v) {
			if (rc == 0)
				rc = xf_mp_pack_str(pk, key);
			if (rc == 0)
				rc = xf_mp_pack_json(pk, v);
		}
		return rc;
	case JSON_ARRAY:
		rc = msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
			if (rc == 0)
				rc = xf_mp_pack_json(pk, v);
		return rc;
	case JSON_STRING:
		rc = msgpack_pack_str(pk, json_string_length(j));
		return rc ? rc : msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(j));
	case JSON_REAL: return msgpack_pack_double(pk, json_real_value(j));
	case JSON_TRUE: return msgpack_pack_true(pk);
	case JSON_FALSE: return msgpack_pack_false(pk);
	default: return msgpack_pack_nil(pk);
	}
}

int xf_mp_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_str(pk, n) ? -1 : msgpack_pack_str_body(pk, s, n);
}

int xf_mp_pack_bin_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_bin(pk, n) ? -1 : msgpack_pack_bin_body(pk, s, n);
}
