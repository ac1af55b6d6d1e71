/*
 * file_atomic: write a file that appears whole or not at all, for outputs a library function
 * produces itself (plots, image archives): through PATH.tmp.<6 random characters> in the same directory,
 * synced and renamed over PATH once complete, as prog.c does for -o. A symbolic link is
 * followed (its target is replaced); a device such as /dev/null is written in place.
 */
#ifndef XF_FILE_ATOMIC_H
#define XF_FILE_ATOMIC_H

#include <stdio.h>

#include "err.h"

/* The temporary's suffix: mkstemp(3) replaces the six X's of its template by random characters. */
#define XF_TEMP_SUFFIX ".tmp." "XXXXXX"

/* The mode open(2) gives a new file, 0666 less the umask (mkstemp(3) gives 0600). */
unsigned xf_new_file_mode(void);

/* Writes the content to fp; returns 0 or -1 with err. */
typedef int (*xf_file_emit_fn)(FILE *fp, void *ctx, struct xf_err *err);

/* Returns 0, or -1 with err naming path; on failure no file (and no temporary) is left. */
int xf_file_write_atomic(const char *path, xf_file_emit_fn emit, void *ctx, struct xf_err *err);

#endif
