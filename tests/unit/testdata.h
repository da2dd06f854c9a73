/*
 * The shared captures (../shared/testdata/flows) for the unit tests that
 * decode them. FF_TESTDATA names their directory (make passes it); when
 * it is unset, ../shared/testdata/flows from the current directory (the
 * top of the tree, where make runs the tests). A test that needs the
 * captures fails, naming the path, when they are absent: it never passes
 * by skipping them. Include after <cmocka.h>.
 */
#ifndef FF_TESTS_TESTDATA_H
#define FF_TESTS_TESTDATA_H

#include <stdlib.h>
#include <sys/stat.h>

#define TESTDATA_DEFAULT	"../shared/testdata/flows"

/* The captures' directory; fails the running test when there is none. */
static inline const char *
testdata_dir(void)
{
	const char *dir = getenv("FF_TESTDATA");
	struct stat st;

	if (dir == NULL || *dir == '\0')
		dir = TESTDATA_DEFAULT;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		fail_msg("the shared captures are missing: %s is not a "
		    "directory (FF_TESTDATA names it; default %s)", dir,
		    TESTDATA_DEFAULT);
	return dir;
}

#endif
