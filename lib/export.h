/*
 * export: whole tables out as NumPy files (xfer-cat --to npy|npz), written straight to a
 * file descriptor. numpy has no bfloat16: bf16 arrays are written as their uint16 bits.
 */
#ifndef XF_EXPORT_H
#define XF_EXPORT_H

#include "header.h"

/* Stack a field's held parts into one array ([0, shape...] when there are none). */
int xf_export_stack(const struct xf_header *h, int field, const struct xf_tensor *parts, int n,
		    struct xf_tensor *out, struct xf_err *err);
/* One .npy file on fd. */
int xf_export_npy(int fd, const char *name, const struct xf_tensor *t, struct xf_err *err);
/* An .npz on fd with one member FIELD.npy per field of h (stored, not deflated). */
int xf_export_npz(int fd, const char *name, const struct xf_header *h, const struct xf_tensor *arrays,
		  struct xf_err *err);

#endif
