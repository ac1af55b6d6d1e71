/*
 * err: error values filled by library functions (git's strbuf *err pattern, fixed buffer).
 * A failing function returns -1 (or NULL) and fills the caller's struct xf_err; nothing in
 * lib/ except prog.c prints or exits.
 */
#ifndef XF_ERR_H
#define XF_ERR_H

#include <stddef.h>

enum xf_errcode {
	XF_E_OK = 0,
	XF_E_IO = 1,      /* a read or write failed; errno text is in the message */
	XF_E_FORMAT = 2,  /* malformed, truncated or inconsistent input */
	XF_E_NOMEM = 3,   /* an allocation failed */
	XF_E_USAGE = 4,   /* the caller asked for something that cannot be done (bad field name...) */
	XF_E_LIMIT = 5,   /* input exceeds a documented limit (frame size, ndim, ...) */
	XF_E_PIPE = 6,    /* the reader of our output went away (EPIPE) */
};

struct xf_err {
	int code;       /* enum xf_errcode; XF_E_OK while untouched */
	char msg[512];  /* one line, no program name, no final full stop */
};

#define XF_ERR_INIT { XF_E_OK, "" }

/* Fill err (if not NULL) with a printf-style message; returns -1 so callers can `return xf_err_set(...)`. */
int xf_err_set(struct xf_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Put "prefix: " in front of an existing message, to add context as an error travels up. */
int xf_err_prefix(struct xf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill err for a failed allocation of `bytes` (0: not known, left out of the message); returns -1. */
int xf_err_nomem(struct xf_err *err, size_t bytes);

#endif
