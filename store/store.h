/*
 * store: the node's flow storage (LMDB): the normalized flow record every
 * decoder produces, the column table, appending and committing flows,
 * maintenance (retention, compaction), and the block scans a query
 * engine reads the flows back with (column batches).
 *
 * Prefix store_. Functions return 0 or a negative ff_err code.
 */
#ifndef FF_STORE_H
#define FF_STORE_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * The columns (store/columns.def): every per-column list below is
 * generated from that table.
 * ------------------------------------------------------------------------ */

/* Column ids, in storage order; STORE_COLBIT(c) is c's bit in a mask. */
enum store_col {
#define STORE_COLUMN(id, name, type, rank, filter, list) STORE_COL_##id,
#include "store/columns.def"
#undef STORE_COLUMN
	STORE_COL_COUNT
};
#define STORE_COLBIT(c)	((uint32_t)1 << (c))
#define STORE_COLS_ALL	((uint32_t)((1ull << STORE_COL_COUNT) - 1))

_Static_assert(STORE_COL_COUNT <= 32, "column masks are 32 bits");

/* Per column type: 1 for an address column, else 0 (ADDR_OF). */
#define STORE_ISADDR_U8		0
#define STORE_ISADDR_U16	0
#define STORE_ISADDR_U32	0
#define STORE_ISADDR_U64	0
#define STORE_ISADDR_ADDR	1

/* Per column type: bytes of one value (16 for an address). */
#define STORE_WIDTH_U8		1
#define STORE_WIDTH_U16		2
#define STORE_WIDTH_U32		4
#define STORE_WIDTH_U64		8
#define STORE_WIDTH_ADDR	16

/* The address columns (STORE_COLBIT mask). */
enum {
	STORE_COLS_ADDR_ = 0
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	| (STORE_ISADDR_##type << STORE_COL_##id)
#include "store/columns.def"
#undef STORE_COLUMN
};
#define STORE_COLS_ADDR	((uint32_t)STORE_COLS_ADDR_)

/* Bytes of one value of column c: 1, 2, 4, 8, or 16 (an address). */
static inline unsigned
store_col_width(unsigned c)
{
	switch (c) {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	case STORE_COL_##id: return STORE_WIDTH_##type;
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return 0;
}

/*
 * One normalized flow record: a member per column (columns.def tells
 * what each holds). Addresses are 16 bytes; IPv4 addresses are stored
 * IPv4-mapped (::ffff:a.b.c.d). Byte and packet counts are already
 * multiplied by the sampling rate that was applied (sampling; 1 when the
 * exporter reported no sampling). For ICMP and ICMPv6, as in nfdump,
 * sport is 0 and dport is type * 256 + code.
 */
#define STORE_FLOW_MEMBER_U8(n)		uint8_t n;
#define STORE_FLOW_MEMBER_U16(n)	uint16_t n;
#define STORE_FLOW_MEMBER_U32(n)	uint32_t n;
#define STORE_FLOW_MEMBER_U64(n)	uint64_t n;
#define STORE_FLOW_MEMBER_ADDR(n)	uint8_t n[16];
typedef struct store_flow {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	STORE_FLOW_MEMBER_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN
} store_flow_t;

#define STORE_FLOW_F_V6		0x01	/* src/dst are IPv6 */
#define STORE_FLOW_F_FROM_V5	0x02
#define STORE_FLOW_F_FROM_V9	0x04
#define STORE_FLOW_F_FROM_IPFIX	0x08
#define STORE_FLOW_F_FROM_SFLOW	0x10
/*
 * The export reported no such address (a template without the field, an
 * sFlow sample without IP): the column holds ::, which is not an address
 * seen on the wire. Listings print it as "-" (JSON null), and top N and
 * distinct counts by that address leave the flow out. Flows stored
 * before these bits existed have them clear.
 */
#define STORE_FLOW_F_NO_SRC	0x20
#define STORE_FLOW_F_NO_DST	0x40
#define STORE_FLOW_F_NO_NH	0x80	/* no next hop */

/*
 * Bring the prefix lengths of f within its address family (IPv4 0-32,
 * IPv6 0-128; STORE_FLOW_F_V6 tells the family): a length out of range
 * says nothing and becomes 0, "unknown". Returns 1 if f changed. Decoders
 * apply it to every record; listings apply it to the flows they read, so
 * that flows stored before it existed pack as the wire accepts.
 */
static inline int
store_flow_fix_masks(store_flow_t *f)
{
	unsigned max = (f->flags & STORE_FLOW_F_V6) ? 128 : 32;

	if (__builtin_expect(f->src_mask <= max && f->dst_mask <= max, 1))
		return 0;
	if (f->src_mask > max)
		f->src_mask = 0;
	if (f->dst_mask > max)
		f->dst_mask = 0;
	return 1;
}

/*
 * Most rows one block (and so one store_colbatch_t) can hold; blocks
 * hold store_opts_t.block_rows rows (default 32768) or fewer.
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
typedef struct store_coldict {
	const uint16_t *code;
	uint32_t n, n4;
	const uint32_t *e4;
	const uint8_t (*e16)[16];
} store_coldict_t;

/*
 * One block's rows (or a slice of them) decoded into typed column arrays,
 * one member per column (columns.def), named as in store_flow_t. Only the
 * columns in `cols` are valid; the others may be NULL. Arrays are owned
 * by the scan and valid until the next store_scan_next() or
 * store_scan_close().
 *
 * Address columns come in one of three forms: when the column's bit is
 * set in `dict`, dicts[c] holds it (store_coldict_t) and its arrays are
 * NULL; else when its bit is set in `v4`, every row is IPv4 and NAME4[]
 * holds host-order IPv4 addresses; otherwise NAME16[] holds 16-byte
 * addresses (IPv4-mapped for IPv4 rows). Only a reader that asked for a
 * column in dictionary form (store_scan_set_dict) gets that form.
 */
#define STORE_CB_MEMBER_U8(n)		const uint8_t *n;
#define STORE_CB_MEMBER_U16(n)		const uint16_t *n;
#define STORE_CB_MEMBER_U32(n)		const uint32_t *n;
#define STORE_CB_MEMBER_U64(n)		const uint64_t *n;
#define STORE_CB_MEMBER_ADDR(n)		const uint32_t *n##4; \
					const uint8_t (*n##16)[16];
typedef struct store_colbatch {
	size_t n;			/* rows */
	uint32_t cols;			/* valid columns */
	uint32_t v4;			/* address columns in IPv4 form */
	uint32_t dict;			/* address columns in dictionary form */
	store_coldict_t dicts[STORE_COL_COUNT];	/* indexed by column */
	int fits;			/* 1: the bytes of all rows sum to less
					   than 2^64, and so do the packets
					   (no sum of them saturates); 0: not
					   known */
	uint64_t min_first, max_first;	/* first_ms range of these rows */
	uint64_t min_last, max_last;
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	STORE_CB_MEMBER_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN
} store_colbatch_t;

/*
 * Rebuild row i of a batch that holds every column (STORE_COLS_ALL;
 * address columns in row form) into *f.
 */
void store_colbatch_row(const store_colbatch_t *cb, size_t i,
    store_flow_t *f);

/* ------------------------------------------------------------------------
 * The store: flows in time-ordered, column-wise compressed blocks in LMDB.
 *
 * Threads: one writer thread calls store_append/store_commit/
 * store_maintain; any number of reader threads scan at the same time
 * (LMDB MVCC: readers never block the writer). store_open and
 * store_close are called with no other call in flight.
 * ------------------------------------------------------------------------ */

typedef struct store store_t;
typedef struct store_opts {
	const char *path;	/* directory; created if missing */
	uint64_t map_size;	/* LMDB map size in bytes; 0: derived from
				   max_bytes, or 64 GiB */
	uint64_t max_bytes;	/* retention by size, 0 = none */
	uint64_t max_age_ms;	/* retention by age, 0 = none */
	uint32_t block_rows;	/* rows per full block; 0: default 32768 */
	int nosync;		/* 1: don't fsync at commit (survives a process
				   crash, not a power loss) */
	int zstd_level;		/* column compression level; 0: default */
	int readonly;		/* open for queries only */
} store_opts_t;

typedef struct store_stats {
	uint64_t flows;		/* flows stored now */
	uint64_t blocks;	/* blocks stored now */
	uint64_t bytes_used;	/* bytes of the map in use */
	uint64_t map_size;
	uint64_t appended;	/* flows given to store_append, ever */
	uint64_t committed;	/* flows committed, ever (this process) */
	uint64_t commits;	/* write transactions committed */
	uint64_t write_errors;	/* failed writes (disk/map full, I/O) */
	uint64_t dropped;	/* flows lost to failed writes */
	uint64_t expired_blocks;	/* blocks removed by retention */
	uint64_t expired_flows;
	uint64_t compactions;	/* small blocks merged */
	uint64_t oldest_ms;	/* first_ms range of the stored flows */
	uint64_t newest_ms;
	uint64_t pending;	/* flows appended, not yet committed */
	uint64_t damaged_blocks;	/* blocks scans found damaged (skipped) */
	int full;		/* the last write found no room (the map or
				   the filesystem full); 0 again once a
				   write succeeds */
	uint64_t file_bytes;	/* size of the data file (data.mdb) */
	uint64_t fs_free;	/* bytes free on its filesystem, as last
				   seen; UINT64_MAX: not known */
	uint64_t max_bytes;	/* retention by size (store_opts_t) */
	uint64_t room_blocks;	/* of expired_*: deleted because the */
	uint64_t room_flows;	/* filesystem (or map) had no room */
} store_stats_t;

/*
 * Open (create) the store described by opts. On failure returns a negative
 * ff_err code and a message in err (errlen bytes); *out is set only on
 * success. The caller owns the store; free it with store_close().
 */
int store_open(const store_opts_t *opts, store_t **out, char *err,
    size_t errlen);

/* Commit what is pending and close the store. Accepts NULL. */
void store_close(store_t *s);

/*
 * Writer thread: add n flows. Rows are buffered; each time block_rows
 * rows are buffered, they are written as one block and committed in one
 * write transaction. Returns 0, or a negative ff_err code when a write
 * failed (counted in write_errors/dropped; the store stays consistent):
 * FF_ENOSPC when the map or the filesystem has no room (the store is
 * full).
 *
 * Room: a block is written only when the map and the filesystem (and the
 * process's file size limit) have room for it. When they have not and
 * retention by size is on (max_bytes), the oldest blocks are deleted
 * until they have, and the write is tried again: the space that really
 * exists caps the store as max_bytes does (counted in room_blocks and
 * room_flows). Nothing is deleted when even an empty store would not
 * fit; the rows are then dropped.
 */
int store_append(store_t *s, const store_flow_t *flows, size_t n);

/*
 * Writer thread: write the buffered rows (if any) as one block and commit.
 * Call at least once a second. Returns 0 or a negative ff_err code.
 *
 * Durability: a committed block survives a crash of the process (kill -9)
 * in every mode, so a crash loses at most the flows appended since the
 * last store_commit() (or the last full block), i.e. at most one commit
 * interval of flows; the store itself is never corrupted. Surviving a
 * power loss or OS crash needs the default sync mode (nosync = 0).
 */
int store_commit(store_t *s);

/*
 * Writer thread: enforce retention (age relative to now_ms, size) and
 * merge runs of small blocks, spending about budget_ms at most; also free
 * the reader slots of processes that died while reading. Returns 0 or a
 * negative ff_err code.
 *
 * Retention by age goes by when the flows were stored, not by their own
 * timestamps: a block is deleted once it was written more than max_age_ms
 * before now_ms (a compacted block: its newest part), whatever times its
 * flows carry, so no flow is deleted less than max_age_ms after it was
 * stored. Retention by size deletes the oldest blocks while the store
 * uses more than max_bytes, or more than the filesystem leaves room for
 * (keeping room for the next block).
 */
int store_maintain(store_t *s, uint64_t now_ms, uint64_t budget_ms);

/* Any thread: a snapshot of the counters. */
void store_get_stats(store_t *s, store_stats_t *st);

/* Any thread: the flows committed so far (store_stats_t.committed). */
uint64_t store_committed(store_t *s);

/* The store's directory (store_opts_t.path). */
const char *store_path(const store_t *s);

/* ------------------------------------------------------------------------
 * Block scans: how a query engine reads the flows back. A scan visits,
 * in block order (oldest first), every block that may hold flows with
 * t0 <= first_ms < t1 (t1 = UINT64_MAX: no end, first_ms = UINT64_MAX
 * included), decoding only the columns in `cols` into a column batch.
 * Partition part of nparts (0 <= part < nparts) takes every nparts-th
 * block, so nparts threads together visit each block once. A scan reads
 * inside one LMDB read transaction opened when it opens.
 * ------------------------------------------------------------------------ */

typedef struct store_scan store_scan_t;

/* Returns 0 or a negative ff_err code; *out set on success. */
int store_scan_open(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned part, unsigned nparts, store_scan_t **out);

/*
 * Decode the next block into *cb. Returns 1 when a block was produced,
 * 0 at the end, or a negative ff_err code (a damaged block is FF_EPROTO
 * and is counted, then skipped by the next call).
 */
int store_scan_next(store_scan_t *sc, store_colbatch_t *cb);

/*
 * Open nparts scans (out[0] .. out[nparts - 1], 1 <= nparts <= 256) over
 * one view of the store, for nparts threads: together they visit every
 * block that was committed before the call and may hold flows in
 * [t0, t1) exactly once, whatever maintenance (retention, compaction)
 * does meanwhile; blocks committed later are not visited. They share one
 * list of blocks and each store_scan_next() takes the next unvisited
 * one, so a slower thread simply takes fewer blocks. Use each scan from
 * one thread at a time (any thread) and close each with
 * store_scan_close(). The blocks skipped by time are reported by
 * out[0]'s store_scan_skipped(). Returns 0 or a negative ff_err code
 * (then no scan is open).
 *
 * Prefer this to nparts separate store_scan_open() calls: their read
 * transactions start at different times, and a compaction or retention
 * commit in between could make them visit a flow twice or not at all.
 */
int store_scan_open_parts(store_t *s, uint64_t t0, uint64_t t1,
    uint32_t cols, unsigned nparts, store_scan_t **out);

/*
 * Let the scan give the address columns in dcols (a subset of its cols)
 * in dictionary form (store_colbatch_t.dict) for the blocks that store
 * them as a dictionary; the caller then handles both forms. Call before
 * the first store_scan_next().
 */
void store_scan_set_dict(store_scan_t *sc, uint32_t dcols);

/*
 * Let the scan leave out the columns in ecols (of its cols) for the
 * blocks whose first_ms range lies wholly inside [t0, t1): the caller
 * needs them only to cut the window (the batch's cols then lack them).
 * Call before the first store_scan_next().
 */
void store_scan_set_edge(store_scan_t *sc, uint32_t ecols);

/*
 * Blocks the scan skipped by their metadata alone (time range). Summed
 * over the nparts partitions of one range it counts each such block once.
 */
uint64_t store_scan_skipped(const store_scan_t *sc);

/* End the scan and its read transaction. Accepts NULL. */
void store_scan_close(store_scan_t *sc);

#endif
