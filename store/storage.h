/*
 * Internal to the storage (store.c, write.c, maintain.c, scan.c,
 * storage.c, columns.c): the store structure, the LMDB layout and the
 * helpers they share.
 *
 * LMDB layout, one environment in the store directory:
 *	"meta"	"version" -> u32 LE STORAGE_VERSION; "next_id" -> u64 LE
 *	"idx"	block id (u64 big-endian) -> idx entry (IDX_ENT_LEN bytes)
 *	"blk"	block id (u64 big-endian) -> encoded block (block.h)
 * Block ids grow with commit order, so idx and blk iterate oldest first.
 * A compacted block keeps the id of the first block merged into it.
 */
#ifndef FF_STORE_STORAGE_H
#define FF_STORE_STORAGE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "block.h"
#include "store/store.h"

#define STORAGE_VERSION	1

/*
 * idx entry: u32 rows, u32 flags, u64 min_first, max_first, min_last,
 * max_last, u32 encoded size, u32 committed_span_ms, u64 committed_ms
 * (LE). committed_ms is the wall clock when the block's rows were stored
 * (a compacted block: when the newest of its parts was, and
 * committed_span_ms how much earlier the oldest was, saturating; 0 in
 * blocks written before it was kept); retention by age goes by
 * committed_ms. committed_ms 0 means not known (this code always sets
 * it): retention then goes by max_last, the flows' own end.
 */
#define IDX_ENT_LEN	56
#define IDX_F_COMPACTED	0x01	/* made by merging small blocks */

struct idx_ent {
	uint32_t rows;
	uint32_t flags;
	uint64_t min_first, max_first;
	uint64_t min_last, max_last;
	uint32_t enc_size;
	uint32_t committed_span_ms;
	uint64_t committed_ms;	/* wall clock when written */
};

/*
 * Where the store's bytes can go (storage_space): the map, and the data
 * file with the free space of its filesystem (and the process's file size
 * limit, RLIMIT_FSIZE).
 */
struct space {
	uint64_t used;		/* bytes of the pages in use */
	uint64_t file;		/* bytes of the data file */
	uint64_t fs_free;	/* bytes free on its filesystem (UINT64_MAX:
				   not known) */
	uint64_t map;		/* map size */
	uint64_t cap;		/* most bytes the pages in use can reach:
				   min(map, file + fs_free, file size limit) */
};

/* Row buffer of the writer: one array per column, 16-byte addresses. */
#define COLBUF_MEMBER_U8(n)	uint8_t *n;
#define COLBUF_MEMBER_U16(n)	uint16_t *n;
#define COLBUF_MEMBER_U32(n)	uint32_t *n;
#define COLBUF_MEMBER_U64(n)	uint64_t *n;
#define COLBUF_MEMBER_ADDR(n)	uint8_t (*n)[16];
struct colbuf {
	size_t n, cap;
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	COLBUF_MEMBER_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN
};

struct store {
	char *path;		/* the store directory */
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_idx, dbi_blk;
	int readonly;
	unsigned psize;		/* LMDB page size */
	uint32_t block_rows;
	uint64_t max_bytes, max_age_ms;
	uint64_t next_id;	/* writer only */
	uint64_t block_bytes;	/* writer only: bytes of the largest block
				   written (room kept free for the next) */

	struct colbuf wb;	/* rows appended, not yet written */
	blk_enc_t *enc;		/* writer only */
	blk_dec_t *mdec;	/* maintenance decoder, writer only */
	struct colbuf mbuf;	/* compaction buffer, writer only */

	/*
	 * Held by maintenance from the start to the end of every write
	 * transaction that deletes or rewrites blocks, and by
	 * store_scan_open_parts while it starts its read transactions, so the
	 * scans of one group all see the same old blocks.
	 */
	pthread_mutex_t view_lock;

	/* Counters (store_stats_t); written by the writer, read by all. */
	_Atomic uint64_t flows, blocks, oldest_ms, newest_ms;
	_Atomic uint64_t appended, committed, commits, write_errors, dropped;
	_Atomic uint64_t expired_blocks, expired_flows, compactions;
	_Atomic uint64_t damaged_blocks, pending;
	_Atomic uint64_t full;	/* 1 from a write that found no room to the
				   next write that succeeds */
	_Atomic uint64_t file_bytes, fs_free;	/* as last seen */
	_Atomic uint64_t room_blocks, room_flows;	/* deleted to make
							   room */
};

#define CNT_ADD(s, f, v) \
	atomic_fetch_add_explicit(&(s)->f, (uint64_t)(v), memory_order_relaxed)
#define CNT_SUB(s, f, v) \
	atomic_fetch_sub_explicit(&(s)->f, (uint64_t)(v), memory_order_relaxed)
#define CNT_GET(s, f) \
	atomic_load_explicit(&(s)->f, memory_order_relaxed)
#define CNT_SET(s, f, v) \
	atomic_store_explicit(&(s)->f, (uint64_t)(v), memory_order_relaxed)

/* --- storage.c: the LMDB layout -------------------------------------- */

/* Map an LMDB (or errno) code to an ff_err code. */
int storage_err(int rc);

/* Block id <-> 8-byte big-endian key. */
void storage_key(uint8_t k[8], uint64_t id);
uint64_t storage_key_id(const MDB_val *k);

/*
 * Read meta value name (4 or 8 bytes, little-endian) in txn into *out.
 * Returns 0 or an LMDB code (MDB_NOTFOUND, MDB_CORRUPTED for another
 * length).
 */
int storage_meta_get(store_t *s, MDB_txn *txn, const char *name,
    uint64_t *out);
/* Put meta value name as width (4 or 8) bytes LE. Returns an LMDB code. */
int storage_meta_put(store_t *s, MDB_txn *txn, const char *name,
    uint64_t val, size_t width);

/* An idx entry <-> its IDX_ENT_LEN bytes. */
void idx_pack(const struct idx_ent *e, uint8_t out[IDX_ENT_LEN]);
/* Parse an idx value. Returns 0 or FF_EPROTO. */
int idx_unpack(const MDB_val *v, struct idx_ent *e);

/*
 * Recount flows, blocks and the first_ms range from idx in txn (any
 * kind) and store them in the counters.
 */
int storage_recount(store_t *s, MDB_txn *txn);

/*
 * Pages in use by the trees in txn (data, indexes, free list, the two
 * meta pages); the rest of the file below its high-water mark is free.
 */
uint64_t storage_used_pages(store_t *s, MDB_txn *txn);

/*
 * Fill *sp for txn (any kind); also update the file_bytes and fs_free
 * counters.
 */
void storage_space(store_t *s, MDB_txn *txn, struct space *sp);

/*
 * Bytes a write of a value of need bytes takes at most, with the reserve
 * that maintenance needs to delete blocks afterwards.
 */
uint64_t storage_need(store_t *s, size_t need);

/*
 * Check that the map and the filesystem have room for a value of need
 * bytes in write txn (storage_need). Returns 0 or FF_ENOSPC.
 */
int storage_room(store_t *s, MDB_txn *txn, size_t need);

/*
 * The ff_err code of a failed write of a value of need bytes, from the
 * LMDB (or errno) code rc: FF_ENOSPC also when a write came up short
 * (EIO) on a filesystem that has no room left for it. txn: the write
 * transaction if one is open, else NULL.
 */
int storage_write_err(store_t *s, MDB_txn *txn, int rc, size_t need);

/*
 * Encode cb as block `id` and put it and its idx entry in write txn,
 * and the next block id in meta. Fills *ent. Returns 0 or a negative
 * ff_err code (the caller aborts txn).
 */
int storage_put_block(store_t *s, MDB_txn *txn, uint64_t id,
    const store_colbatch_t *cb, uint32_t flags, uint64_t committed_ms,
    uint64_t committed_span_ms, struct idx_ent *ent);

/* Readers holding a snapshot now (any process). */
int storage_readers(store_t *s);

/* Delete block id (blk and idx) in write txn. Returns 0 or an error. */
int storage_del_block(store_t *s, MDB_txn *txn, uint64_t id);

/* --- maintain.c: room for the writer --------------------------------- */

/*
 * Writer: try `attempt` (0, 1, ...) of a write of a value of need bytes
 * found no room. When the map and the filesystem lack room for it and
 * retention by size is on (max_bytes), delete the oldest blocks until
 * they have room, but nothing when even an empty store would not fit.
 * When they have room by the count and the write failed all the same:
 * at the first attempt only commit a transaction so that LMDB reuses the
 * pages freed by the last one; later, with retention by size and no
 * reader holding older pages, delete need bytes of the oldest blocks
 * (free pages too scattered for one run). After deleting, commit one
 * more transaction so that the next reuses the freed pages. Returns 1
 * when the write may be tried again, else 0.
 */
int maintain_make_room(store_t *s, size_t need, int attempt);

/* --- columns.c: the writer's row buffers ------------------------------- */

/*
 * Allocate b for cap rows (1 .. STORE_BLOCK_ROWS_MAX). Returns 0,
 * FF_EINVAL or FF_ENOMEM (b is then empty).
 */
int colbuf_init(struct colbuf *b, size_t cap);
/* Free b's arrays; b is left empty. */
void colbuf_free(struct colbuf *b);
/* Append flow f (the caller checks that b->n < b->cap). */
void colbuf_add(struct colbuf *b, const store_flow_t *f);
/* A batch (all columns, 16-byte addresses) over the buffered rows. */
void colbuf_view(const struct colbuf *b, store_colbatch_t *cb);

#endif
