/*
 * What every configuration parser promises about an error, checked by
 * the config fuzz targets: the message is "FNAME:LINE: ..." and LINE lies
 * within the size bytes of text data. Aborts when it is not so.
 */
#ifndef FF_FUZZ_CONF_CHECK_H
#define FF_FUZZ_CONF_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void
conf_check_error(const char *fname, const uint8_t *data, size_t size,
    const char *err)
{
	size_t n = strlen(fname);
	const char *p = err + n + 1;
	unsigned long line, lines = 1;
	char *end;

	if (strncmp(err, fname, n) != 0 || err[n] != ':')
		abort();
	line = strtoul(p, &end, 10);
	if (end == p || strncmp(end, ": ", 2) != 0 || line == 0)
		abort();
	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			lines++;
	if (line > lines)
		abort();
}

#endif
