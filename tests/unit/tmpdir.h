/*
 * A unit test's temporary directory: tmpdir_make() makes it from a
 * mkdtemp() template ("/tmp/fftest-NAME-XXXXXX", rewritten in place),
 * tmpdir_remove() removes it and everything in it (without a shell).
 */
#ifndef FF_TESTS_TMPDIR_H
#define FF_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* The directory made from tmpl, or NULL (errno says why). */
static inline char *
tmpdir_make(char *tmpl)
{
	return mkdtemp(tmpl);
}

static inline int
tmpdir_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and its contents. Returns 0, or -1 when something stayed.
   Accepts NULL. */
static inline int
tmpdir_remove(const char *dir)
{
	if (dir == NULL)
		return 0;
	return nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ?
	    0 : -1;
}

#endif
