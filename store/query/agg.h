/*
 * Internal to the query engine: the per-thread aggregation a scan feeds
 * (agg.c), folded into a result at the end of a run (run.c).
 */
#ifndef FF_QUERY_AGG_H
#define FF_QUERY_AGG_H

#include "query_int.h"

/* --- per-thread aggregation ------------------------------------------ */

/*
 * The partial of one scan thread. It is fed column batches with a row
 * selection and folded into a result at the end. No allocation per row:
 * tables grow by doubling.
 */
typedef struct agg {
	const qident_t *id;
	memacct_t *ma;
	uint64_t max_rows;
	int mode;		/* AGG_* in agg.c */
	aggv_t tot;
	aggv_t *dir;		/* ports: 65536 slots, protocol: 256 */
	size_t ndir;
	utab_t u;		/* 32-bit keys; IPv4 addresses and prefixes */
	ktab_t k;		/* 16-byte keys (IPv6 addresses and prefixes) */
	aggv_t *bk;		/* SERIES */
	store_flow_t *heap;	/* LIST: max-heap by flow_cmp */
	size_t nheap, heapcap;
	aggv_t *dacc;		/* per dictionary code of a batch; zero
				   between batches */
	size_t dcap;
	uint64_t *keep;		/* ADDR: the selection less the rows
				   without the key's address */
	size_t keepwords;
} agg_t;

/*
 * Prepare a for identity id, accounting memory on ma, at most max_rows
 * keys (0: no limit). Returns 0, FF_ENOMEM or FF_ELIMIT.
 */
int agg_init(agg_t *a, const qident_t *id, memacct_t *ma, uint64_t max_rows);

/* Free what a holds. */
void agg_free(agg_t *a);

/*
 * Add the rows of cb selected by sel (bit i of sel[i / 64] for row i;
 * NULL: every row) to a. cb holds at least agg_columns(). Returns 0,
 * FF_ENOMEM or FF_ELIMIT (a is then unusable but can be freed).
 */
int agg_add(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel);

/*
 * Move the keys of src (TOPN, DISTINCT) into dst (same identity), so
 * that the threads' partials reach the result as one: its table is then
 * sized and filled once. Returns 0, FF_ENOMEM or FF_ELIMIT (dst is then
 * unusable but can be freed). Other kinds: no-op.
 */
int agg_merge(agg_t *dst, agg_t *src);

/*
 * Fold a into r (same identity) and empty a. Returns 0, FF_ENOMEM or
 * FF_ELIMIT.
 */
int agg_finish(agg_t *a, query_result_t *r);

#endif
