/*
 * scratch: a unit test's own directory for the files it writes, under $TMPDIR (default /tmp),
 * removed with all it holds when the test ends unless KEEP is set in the environment.
 */
#ifndef XF_SCRATCH_H
#define XF_SCRATCH_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Make DIR_SIZE-byte dir into a new directory named after the test; false if it cannot. */
__attribute__((unused)) static bool scratch_make(char *dir, size_t dir_size, const char *test)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(dir, dir_size, "%s/xf-%s.XXXXXX", base, test);
	return mkdtemp(dir) != NULL;
}

static int scratch_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

__attribute__((unused)) static void scratch_remove(const char *dir)
{
	if (!getenv("KEEP"))
		nftw(dir, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
