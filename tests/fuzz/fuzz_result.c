/*
 * libFuzzer target: query_result_unpack(), the parser of partial query
 * results that nodes send to the controller (untrusted input).
 *
 * Whatever it accepts must be a usable result: it packs again, and that
 * unpacks to an equal result (pack(unpack(x)) round-trips); it merges
 * with itself and with an empty result of its query; its rows can be
 * listed and printed in every format; for a top-N the TPUT selections
 * work on it. Anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "store/query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void
check(const query_result_t *r)
{
	query_result_t *r2 = NULL, *sel = NULL;
	query_info_t inf;
	query_row_t *rows = NULL;
	uint8_t *buf = NULL;
	size_t len, n;
	int rc;

	if (query_result_pack(r, &buf, &len) != 0)
		abort();
	if (query_result_unpack(buf, len, &r2) != 0 ||
	    !query_result_equal(r, r2))
		abort();
	free(buf);
	/* Merging doubles it and keeps it valid. */
	if ((rc = query_result_merge(r2, r)) != 0 && rc != FF_ENOMEM)
		abort();
	query_result_get_info(r, &inf);
	/* A long series costs time, not coverage. */
	if (inf.kind == QUERY_SERIES && inf.rows > 10000) {
		query_result_free(r2);
		return;
	}
	if (inf.kind == QUERY_TOPN || inf.kind == QUERY_DISTINCT ||
	    inf.kind == QUERY_SERIES) {
		if (query_result_rows(r, inf.n, &rows, &n) != 0)
			abort();
		if (inf.kind == QUERY_TOPN) {
			if (n > inf.n || n > inf.rows)
				abort();
			if (query_result_topk(r, 3, &sel) != 0)
				abort();
			query_result_free(sel);
			if (query_result_select(r, n > 0 ? rows[n - 1].bytes :
			    0, &sel) != 0)
				abort();
			query_result_free(sel);
			if (n > 0 && (query_result_lookup(r,
			    (const uint8_t (*)[16])rows[0].key, 1, &sel) != 0))
				abort();
			query_result_free(sel);
		}
		free(rows);
	}
	if (query_result_print(r, devnull, QUERY_FMT_TABLE) != 0 ||
	    query_result_print(r, devnull, QUERY_FMT_JSON) != 0 ||
	    query_result_print(r, devnull, QUERY_FMT_CSV) != 0)
		abort();
	query_result_free(r2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	query_result_t *r = NULL;
	int rc;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	rc = query_result_unpack(data, size, &r);
	if (rc != 0) {
		if (r != NULL || (rc != FF_EPROTO && rc != FF_EVERSION &&
		    rc != FF_ENOMEM))
			abort();
		return 0;
	}
	check(r);
	query_result_free(r);
	return 0;
}
