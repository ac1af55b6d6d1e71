/* file_atomic: files written through a temporary and renamed; see file_atomic.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_atomic.h"

/* Flush, sync and close; a full disk shows up here, before the rename. */
static int close_file(FILE *fp, bool ok, struct xf_err *err)
{
	if (ok && (fflush(fp) != 0 || ferror(fp) || (fsync(fileno(fp)) < 0 && errno != EINVAL)))
		ok = xf_err_set(err, XF_E_IO, "%s", strerror(errno)) == 0;
	if (fclose(fp) != 0 && ok)
		ok = xf_err_set(err, XF_E_IO, "%s", strerror(errno)) == 0;
	return ok ? 0 : -1;
}

unsigned xf_new_file_mode(void)
{
	mode_t mask = umask(0);   /* reading the umask means setting it: put it back at once */

	umask(mask);
	return 0666 & ~mask;
}

/* Create the temporary from the mkstemp template `temp` and write the content into it. */
static int write_temp(char *temp, bool *created, xf_file_emit_fn emit, void *ctx, struct xf_err *err)
{
	int fd = mkstemp(temp), saved;
	FILE *fp;

	if (fd < 0)
		return xf_err_set(err, XF_E_IO, "%s", strerror(errno));
	*created = true;
	fchmod(fd, xf_new_file_mode());
	fp = fdopen(fd, "wb");
	if (!fp) {
		saved = errno;
		close(fd);
		return xf_err_set(err, XF_E_IO, "%s", strerror(saved));
	}
	return close_file(fp, emit(fp, ctx, err) == 0, err);
}

/* A device such as /dev/null or /dev/stdout is written in place: renaming would replace it. */
static int write_direct(const char *path, xf_file_emit_fn emit, void *ctx, struct xf_err *err)
{
	FILE *fp = fopen(path, "wb");

	if (!fp)
		return xf_err_set(err, XF_E_IO, "%s", strerror(errno));
	return close_file(fp, emit(fp, ctx, err) == 0, err);
}

int xf_file_write_atomic(const char *path, xf_file_emit_fn emit, void *ctx, struct xf_err *err)
{
	char *real = NULL, *temp = NULL;
	bool created = false;
	struct stat st;
	size_t len;
	int rc;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && (real = realpath(path, NULL)))
		path = real;
	len = strlen(path) + sizeof(XF_TEMP_SUFFIX);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		rc = write_direct(path, emit, ctx, err);
	else if (!(temp = malloc(len)))
		rc = xf_err_nomem(err, len);
	else {
		snprintf(temp, len, "%s" XF_TEMP_SUFFIX, path);
		rc = write_temp(temp, &created, emit, ctx, err);
	}
	if (rc < 0)
		xf_err_prefix(err, "cannot write '%s'", path);
	else if (temp && rename(temp, path) < 0)
		rc = xf_err_set(err, XF_E_IO, "cannot rename '%s' to '%s': %s", temp, path, strerror(errno));
	if (rc < 0 && created)
		unlink(temp);
	free(temp);
	free(real);
	return rc;
}
