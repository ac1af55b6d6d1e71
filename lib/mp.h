/*
 * mp: small helpers over msgpack-c objects and packers, and the conversion between msgpack
 * values and jansson values used for meta and graph (which are JSON-representable by rule).
 */
#ifndef XF_MP_H
#define XF_MP_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>

#include "err.h"

/* The value of key in map o, where the key may be msgpack str or bin; NULL if absent or o is not a map. */
const msgpack_object *xf_mp_get(const msgpack_object *o, const char *key);
/* Whether o is a str (or bin) equal to s. */
bool xf_mp_str_eq(const msgpack_object *o, const char *s);
/* Copy a str into buf (NUL-terminated); -1 if o is not a str, too long, or holds a NUL byte. */
int xf_mp_str_copy(const msgpack_object *o, char *buf, size_t size);
/* A non-negative integer; -1 if o is anything else. */
int xf_mp_uint(const msgpack_object *o, uint64_t *out);
/* Name of o's type for messages ("map", "str", ...). */
const char *xf_mp_type_name(const msgpack_object *o);

/* msgpack -> jansson. Refuses bin, ext, non-str keys, invalid UTF-8, uint above INT64_MAX. */
int xf_mp_to_json(const msgpack_object *o, json_t **out, struct xf_err *err);
/* jansson -> msgpack; returns msgpack-c's status (0, or -1 when the packer's write failed). */
int xf_mp_pack_json(msgpack_packer *pk, const json_t *j);

/* Pack a NUL-terminated string as str, or as bin (msgpack-numpy's map keys are bin). */
int xf_mp_pack_str(msgpack_packer *pk, const char *s);
int xf_mp_pack_bin_str(msgpack_packer *pk, const char *s);

#endif
