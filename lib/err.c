/* err: fill struct xf_err values; see err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int xf_err_set(struct xf_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int xf_err_prefix(struct xf_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	size_t len, rest;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	len = strlen(prefix);
	if (len > sizeof(err->msg) - 3)
		len = sizeof(err->msg) - 3;
	memcpy(err->msg, prefix, len);
	memcpy(err->msg + len, ": ", 2);
	len += 2;
	rest = strlen(old);
	if (rest > sizeof(err->msg) - 1 - len)
		rest = sizeof(err->msg) - 1 - len;
	memcpy(err->msg + len, old, rest);
	err->msg[len + rest] = '\0';
	return -1;
}

int xf_err_nomem(struct xf_err *err, size_t bytes)
{
	if (!bytes) /* the caller did not say how much */
		return xf_err_set(err, XF_E_NOMEM, "out of memory");
	return xf_err_set(err, XF_E_NOMEM, "out of memory (allocating %zu bytes)", bytes);
}
