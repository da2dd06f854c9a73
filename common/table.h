/*
 * Aligned text tables for terminals (flowfleet status, flowfleet-node
 * stats): a header line and rows of cells, each column as wide as its
 * widest cell, two spaces between columns.
 *
 * The rows are not stored: the caller's row function fills one row's
 * cells when asked, and is asked twice per row (once to measure the
 * columns, once to print), so it must give the same cells both times.
 */
#ifndef FF_TABLE_H
#define FF_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_CELL	160	/* bytes per cell, NUL included */
#define TABLE_MAX_COLS	24

/*
 * Fill the ncols cells of row i (0 .. nrows - 1) from arg; i == -1: the
 * header. A cell longer than TABLE_CELL - 1 must be cut (snprintf).
 */
typedef void (*table_row_fn)(const void *arg, long i,
    char cells[][TABLE_CELL]);

/* Copy the n header names into cells (for a row function's i == -1). */
void table_header(char cells[][TABLE_CELL], const char *const *names,
    size_t n);

/*
 * Print the header and nrows rows of ncols columns to fp. left[c]
 * non-zero: column c is left-aligned (the last column is then not
 * padded), zero: right-aligned. Returns 0, or FF_EINVAL (nothing
 * printed) when ncols is 0 or over TABLE_MAX_COLS.
 */
int table_print(FILE *fp, const void *arg, size_t nrows, size_t ncols,
    table_row_fn row, const int *left);

#endif
