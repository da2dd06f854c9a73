/*
 * Aligned text tables; see table.h.
 */
#include <string.h>

#include "err.h"
#include "table.h"

void
table_header(char cells[][TABLE_CELL], const char *const *names, size_t n)
{
	for (size_t c = 0; c < n; c++)
		snprintf(cells[c], TABLE_CELL, "%s", names[c]);
}

int
table_print(FILE *fp, const void *arg, size_t nrows, size_t ncols,
    table_row_fn row, const int *left)
{
	char cells[TABLE_MAX_COLS][TABLE_CELL];
	size_t w[TABLE_MAX_COLS] = { 0 };

	if (ncols == 0 || ncols > TABLE_MAX_COLS)
		return FF_EINVAL;
	/* first pass: the width of each column */
	for (long i = -1; i < (long)nrows; i++) {
		row(arg, i, cells);
		for (size_t c = 0; c < ncols; c++)
			if (strlen(cells[c]) > w[c])
				w[c] = strlen(cells[c]);
	}
	for (long i = -1; i < (long)nrows; i++) {
		row(arg, i, cells);
		for (size_t c = 0; c < ncols; c++) {
			int width = (int)w[c];

			if (left[c])
				width = c + 1 == ncols ? 0 : -width;
			fprintf(fp, "%s%*s", c ? "  " : "", width, cells[c]);
		}
		fputc('\n', fp);
	}
	return 0;
}
