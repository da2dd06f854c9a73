/*
 * Compiling a query: check the spec into the query's identity, compile
 * its filter, and choose the columns a scan of the store decodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* The columns the aggregation of identity id reads. */
static uint32_t
agg_columns(const qident_t *id)
{
	uint32_t c = STORE_COLBIT(STORE_COL_BYTES) | STORE_COLBIT(STORE_COL_PACKETS);

	switch (id->kind) {
	case QUERY_SERIES:
		return c | STORE_COLBIT(STORE_COL_FIRST);
	case QUERY_LIST:
		return STORE_COLS_ALL;
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		/* an address key reads the flags: flows without the
		   address are left out (STORE_FLOW_F_NO_SRC, _NO_DST) */
		if (key_column(id->key) == STORE_COL_SRC ||
		    key_column(id->key) == STORE_COL_DST)
			c |= STORE_COLBIT(STORE_COL_FLAGS);
		return c | STORE_COLBIT(key_column(id->key));
	}
	return c;
}

/*
 * The columns among agg_columns() that the aggregation also takes in
 * dictionary form (store_colbatch_t.dict): the address column of an
 * address key.
 */
static uint32_t
agg_dict_columns(const qident_t *id)
{
	if ((id->kind != QUERY_TOPN && id->kind != QUERY_DISTINCT) ||
	    !key_is_addr(id->key))
		return 0;
	return STORE_COLBIT(key_column(id->key));
}

int
query_compile(const query_spec_t *spec, query_t **out,
    char *err, size_t errlen)
{
	query_t *q;
	int rc;

	*out = NULL;
	if (spec->threads < 0) {
		snprintf(err, errlen, "threads must be 0 (all cores) or more");
		return FF_EINVAL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return FF_ENOMEM;
	if ((rc = qident_from_spec(spec, &q->id, err, errlen)) != 0) {
		free(q);
		return rc;
	}
	if ((rc = filter_compile(q->id.filter, &q->filter, err,
	    errlen)) != 0) {
		qident_clear(&q->id);
		free(q);
		return rc;
	}
	/* first_ms decides a bounded window (and the series bucket). */
	q->cols = agg_columns(&q->id) | filter_columns(q->filter);
	/* the filter reads rows: its columns are decoded into rows */
	q->dcols = agg_dict_columns(&q->id) & ~filter_columns(q->filter);
	/* a block inside the window does not need first_ms to be cut */
	if ((q->id.t0 != 0 || q->id.t1 != UINT64_MAX) &&
	    !(q->cols & STORE_COLBIT(STORE_COL_FIRST)))
		q->ecols = STORE_COLBIT(STORE_COL_FIRST);
	q->cols |= q->ecols;
	q->max_ms = spec->max_ms;
	q->max_mem = spec->max_mem;
	q->max_rows = spec->max_rows;
	q->threads = spec->threads;
	q->clock_ms = mono_ms;
	*out = q;
	return 0;
}

void
query_free(query_t *q)
{
	if (q == NULL)
		return;
	filter_free(q->filter);
	qident_clear(&q->id);
	free(q);
}
