/*
 * The writer: rows are buffered column by column; a full buffer (or
 * store_commit) becomes one block, written with its idx entry in one
 * write transaction. A write that finds no room (the map or the
 * filesystem full) first lets retention by size make room; a failed
 * write drops that block's rows (counted) and leaves the store as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

/* Tries to make room for one block before its rows are dropped. */
#define ROOM_TRIES	3

/* Write the buffered rows as block next_id in one transaction. */
static int
write_block(store_t *s, struct idx_ent *ent)
{
	store_colbatch_t cb;
	MDB_txn *txn;
	int rc;

	memset(ent, 0, sizeof(*ent));
	colbuf_view(&s->wb, &cb);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return storage_err(rc);
	if ((rc = storage_put_block(s, txn, s->next_id, &cb, 0, now_ms(), 0,
	    ent)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = storage_meta_put(s, txn, "next_id", s->next_id + 1,
	    8)) != 0) {
		rc = storage_write_err(s, txn, rc, ent->enc_size);
		mdb_txn_abort(txn);
		return rc;
	}
	/* mdb_txn_commit frees txn on failure as on success */
	if ((rc = mdb_txn_commit(txn)) != 0)
		return storage_write_err(s, NULL, rc, ent->enc_size);
	return 0;
}

/* Write the buffered rows; make room and try again when there is none. */
static int
write_pending(store_t *s)
{
	struct idx_ent ent;
	size_t rows = s->wb.n;
	int rc;

	rc = write_block(s, &ent);
	for (int i = 0; i < ROOM_TRIES && rc == FF_ENOSPC &&
	    maintain_make_room(s, ent.enc_size, i); i++)
		rc = write_block(s, &ent);
	s->wb.n = 0;
	CNT_SET(s, pending, 0);
	if (rc != 0) {
		CNT_SET(s, full, rc == FF_ENOSPC);
		CNT_ADD(s, write_errors, 1);
		CNT_ADD(s, dropped, rows);
		return rc;
	}

	s->next_id++;
	s->block_bytes = FF_MAX(s->block_bytes, ent.enc_size);
	CNT_SET(s, full, 0);
	CNT_ADD(s, committed, rows);
	CNT_ADD(s, commits, 1);
	if (CNT_ADD(s, blocks, 1) == 0 || ent.min_first < CNT_GET(s, oldest_ms))
		CNT_SET(s, oldest_ms, ent.min_first);
	if (ent.max_first > CNT_GET(s, newest_ms))
		CNT_SET(s, newest_ms, ent.max_first);
	CNT_ADD(s, flows, rows);
	return 0;
}

int
store_append(store_t *s, const store_flow_t *flows, size_t n)
{
	int rc = 0, rc2;

	if (s->readonly)
		return FF_ENOTSUP;
	CNT_ADD(s, appended, n);
	for (size_t i = 0; i < n; i++) {
		colbuf_add(&s->wb, &flows[i]);
		if (s->wb.n >= s->block_rows) {
			rc2 = write_pending(s);
			if (rc == 0)
				rc = rc2;
		}
	}
	CNT_SET(s, pending, s->wb.n);
	return rc;
}

int
store_commit(store_t *s)
{
	if (s->readonly)
		return FF_ENOTSUP;
	if (s->wb.n == 0)
		return 0;
	return write_pending(s);
}
