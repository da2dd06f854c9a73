/*
 * Internal to store/: the column batch every scan produces and every
 * filter and aggregation consumes, the block scan interface, and the
 * compiled filter interface. Nothing outside store/ includes this.
 */
#ifndef FF_STORE_INT_H
#define FF_STORE_INT_H

#include "store.h"

/* Column ids; STORE_COLBIT(c) is the column's bit in a column mask. */
enum store_col {
	COL_FIRST = 0,		/* first_ms */
	COL_LAST,		/* last_ms */
	COL_BYTES,
	COL_PACKETS,
	COL_SRC,
	COL_DST,
	COL_NEXTHOP,
	COL_EXPORTER,
	COL_IN_IF,
	COL_OUT_IF,
	COL_SRC_AS,
	COL_DST_AS,
	COL_SAMPLING,
	COL_TAGS,
	COL_SPORT,
	COL_DPORT,
	COL_PROTO,
	COL_TCP_FLAGS,
	COL_TOS,
	COL_SRC_MASK,
	COL_DST_MASK,
	COL_FLAGS,
	COL_COUNT
};
#define STORE_COLBIT(c)	((uint32_t)1 << (c))
#define STORE_COLS_ALL	((uint32_t)((1u << COL_COUNT) - 1))

/*
 * Most rows one block (and so one colbatch_t) can hold; blocks hold
 * store_opts_t.block_rows rows (default 32768) or fewer.
 */
#define STORE_BLOCK_ROWS_MAX	(1u << 20)

/* Most entries of an address column in dictionary form (codes: 16 bits). */
#define STORE_DICT_MAX	65536u

/*
 * An address column in dictionary form: row i holds entry code[i]
 * (code[i] < n, always). Entries 0 .. n4 - 1 are IPv4 addresses, e4[j]
 * in host order; entries n4 .. n - 1 are IPv6 addresses (never
 * IPv4-mapped), e16[j - n4]. Entries need not be distinct.
 */
typedef struct coldict {
	const uint16_t *code;
	uint32_t n, n4;
	const uint32_t *e4;
	const uint8_t (*e16)[16];
} coldict_t;

/*
 * One block's rows (or a slice of them) decoded into typed column arrays.
 * Only the columns in `cols` are valid; the others may be NULL. Arrays are
 * owned by the scan and valid until the next scan_next() or scan_close().
 *
 * Address columns come in one of three forms: when the column's bit is
 * set in `dict`, dicts[c] holds it (coldict_t) and its arrays are NULL;
 * else when its bit is set in `v4`, every row is IPv4 and a4[] holds
 * host-order IPv4 addresses; otherwise a16[] holds 16-byte addresses
 * (IPv4-mapped for IPv4 rows). Only a reader that asked for a column in
 * dictionary form (blk_dec_set_dict, scan_set_dict) gets that form.
 */
typedef struct colbatch {
	size_t n;			/* rows */
	uint32_t cols;			/* valid columns */
	uint32_t v4;			/* address columns in IPv4 form */
	uint32_t dict;			/* address columns in dictionary form */
	coldict_t dicts[COL_COUNT];	/* indexed by column */
	int fits;			/* 1: the bytes of all rows sum to less
					   than 2^64, and so do the packets
					   (no sum of them saturates); 0: not
					   known */
	uint64_t min_first, max_first;	/* first_ms range of these rows */
	uint64_t min_last, max_last;
	const uint64_t *first_ms, *last_ms, *bytes, *packets;
	const uint32_t *src4, *dst4, *nexthop4, *exporter4;
	const uint8_t (*src16)[16], (*dst16)[16];
	const uint8_t (*nexthop16)[16], (*exporter16)[16];
	const uint32_t *in_if, *out_if, *src_as, *dst_as, *sampling, *tags;
	const uint16_t *sport, *dport;
	const uint8_t *proto, *tcp_flags, *tos, *src_mask, *dst_mask, *flags;
} colbatch_t;

/* Rebuild row i of a batch that holds every column (STORE_COLS_ALL). */
void colbatch_row(const colbatch_t *cb, size_t i, store_flow_t *f);

/*
 * Block scans. A scan visits, in block order (oldest first), every block
 * that may hold flows with t0 <= first_ms < t1 (t1 = UINT64_MAX: no end,
 * first_ms = UINT64_MAX included), decoding only the columns
 * in `cols`. Partition part of nparts (0 <= part < nparts) takes every
 * nparts-th block, so nparts threads together visit each block once.
 * It reads inside one LMDB read transaction opened by scan_open.
 */
typedef struct store_scan store_scan_t;

/* Returns 0 or a negative ff_err code; *out set on success. */
int scan_open(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned part, unsigned nparts, store_scan_t **out);

/*
 * Decode the next block into *cb. Returns 1 when a block was produced,
 * 0 at the end, or a negative ff_err code (a damaged block is FF_EPROTO
 * and is counted, then skipped by the next call).
 */
int scan_next(store_scan_t *sc, colbatch_t *cb);

/*
 * Open nparts scans (out[0] .. out[nparts - 1], 1 <= nparts <= 256) over
 * one view of the store, for nparts threads: together they visit every
 * block that was committed before the call and may hold flows in
 * [t0, t1) exactly once, whatever maintenance (retention, compaction)
 * does meanwhile; blocks committed later are not visited. They share one
 * list of blocks and each scan_next() takes the next unvisited one, so a
 * slower thread simply takes fewer blocks. Use each scan from one thread
 * at a time (any thread) and close each with scan_close(). The blocks
 * skipped by time are reported by out[0]'s scan_skipped(). Returns 0 or a
 * negative ff_err code (then no scan is open).
 *
 * Prefer this to nparts separate scan_open() calls: their read
 * transactions start at different times, and a compaction or retention
 * commit in between could make them visit a flow twice or not at all.
 */
int scan_open_parts(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned nparts, store_scan_t **out);

/*
 * Let the scan give the address columns in dcols (a subset of its cols)
 * in dictionary form (colbatch_t.dict) for the blocks that store them
 * as a dictionary; the caller then handles both forms. Call before the
 * first scan_next().
 */
void scan_set_dict(store_scan_t *sc, uint32_t dcols);

/*
 * Let the scan leave out the columns in ecols (of its cols) for the
 * blocks whose first_ms range lies wholly inside [t0, t1): the caller
 * needs them only to cut the window (the batch's cols then lack them).
 * Call before the first scan_next().
 */
void scan_set_edge(store_scan_t *sc, uint32_t ecols);

/*
 * Blocks the scan skipped by their metadata alone (time range). Summed
 * over the nparts partitions of one range it counts each such block once.
 */
uint64_t scan_skipped(const store_scan_t *sc);

/* End the scan and its read transaction. Accepts NULL. */
void scan_close(store_scan_t *sc);

/*
 * Compiled filters (filter_parse.c, filter_eval.c; language reference in
 * docs/FILTER.md). A filter is parsed once and evaluated per batch into
 * a selection bitmap, without per-row allocation. A compiled filter is
 * read-only: any number of threads may evaluate it at once.
 */
typedef struct store_filter store_filter_t;

/*
 * Parse nfdump filter text. Returns 0 and *out, or FF_ESYNTAX with
 * "column N: what is wrong near 'token'" in err, or FF_ENOMEM. An empty
 * or NULL text compiles to "any".
 */
int filter_compile(const char *text, store_filter_t **out, char *err,
    size_t errlen);
void filter_free(store_filter_t *f);

/* The columns the filter reads (STORE_COLBIT mask). */
uint32_t filter_columns(const store_filter_t *f);

/* 1 if the filter matches every row ("any"). */
int filter_is_any(const store_filter_t *f);

/*
 * Evaluate f over cb->n rows, writing bit i of sel (sel holds
 * (cb->n + 63) / 64 words) for row i. scratch holds as many words as sel
 * times filter_scratch_words(f). Returns the number of matching rows.
 * cb must hold every column in filter_columns(f); bits past cb->n are 0.
 */
size_t filter_eval(const store_filter_t *f, const colbatch_t *cb,
    uint64_t *sel, uint64_t *scratch);
size_t filter_scratch_words(const store_filter_t *f);

/* Evaluate f on one flow record (for tests and small inputs). */
int filter_match(const store_filter_t *f, const store_flow_t *flow);

#endif
