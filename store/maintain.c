/*
 * Maintenance: retention by age and by size (oldest blocks first) and
 * compaction of runs of small blocks, in short write transactions. Every
 * transaction that deletes or rewrites blocks holds view_lock, so the
 * scans of a store_scan_open_parts() group all see the same blocks; a
 * compaction writes the merged block and deletes its parts in one
 * transaction, so a reader sees every flow exactly once.
 */
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

#define DEL_BATCH	256	/* blocks deleted per transaction at most */
#define MERGE_MAX	1024	/* blocks merged into one at most */
#define COMPACT_AGE_MS	5000	/* leave blocks younger than this alone */

struct victim {
	uint64_t id;
	uint32_t rows;
};

static int
past(uint64_t deadline)
{
	return deadline != 0 && mono_ms() >= deadline;
}

static void
key_val(MDB_val *k, uint8_t buf[8], uint64_t id)
{
	storage_key(buf, id);
	k->mv_data = buf;
	k->mv_size = 8;
}

/*
 * One retention transaction: pick up to limit victims starting at block
 * *from (by age: max_last < cutoff; by size: oldest first while the used
 * size exceeds max_bytes), delete them and commit. Sets *done when there
 * is nothing left to do. Returns 0 or a negative ff_err code.
 */
static int
expire_txn(store_t *s, int by_size, uint64_t cutoff, uint64_t *from,
    size_t limit, int *done)
{
	struct victim vic[DEL_BATCH];
	uint8_t kb[8];
	struct idx_ent e;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t next = *from, flows = 0, est = 0;
	size_t nv = 0;
	int rc, end = 0;

	pthread_mutex_lock(&s->view_lock);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		pthread_mutex_unlock(&s->view_lock);
		return storage_err(rc);
	}
	if (by_size) {
		est = storage_used_pages(s, txn) * s->psize;
		if (est <= s->max_bytes)
			end = 1;
	}
	if ((rc = mdb_cursor_open(txn, s->dbi_idx, &cur)) != 0)
		goto abort;
	key_val(&k, kb, next);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && !end && nv < limit;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t id = storage_key_id(&k);
		int ok = idx_unpack(&v, &e) == 0;

		next = id + 1;
		if (by_size) {
			/* A damaged entry is deleted like any other. */
			vic[nv].id = id;
			vic[nv++].rows = ok ? e.rows : 0;
			est -= FF_MIN(est, ((ok ? e.enc_size : 0) + 16 +
			    (uint64_t)s->psize - 1) / s->psize * s->psize);
			if (est <= s->max_bytes)
				end = 1;
		} else if (ok && e.max_last < cutoff) {
			vic[nv].id = id;
			vic[nv++].rows = e.rows;
		}
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		end = 1;
	else if (rc != 0)
		goto abort;
	for (size_t i = 0; i < nv; i++) {
		if ((rc = storage_del_block(s, txn, vic[i].id)) != 0) {
			mdb_txn_abort(txn);
			pthread_mutex_unlock(&s->view_lock);
			return rc;
		}
		flows += vic[i].rows;
	}
	if (nv == 0) {
		mdb_txn_abort(txn);
	} else if ((rc = mdb_txn_commit(txn)) != 0) {
		pthread_mutex_unlock(&s->view_lock);
		return storage_err(rc);
	}
	pthread_mutex_unlock(&s->view_lock);
	if (nv > 0) {
		CNT_ADD(s, commits, 1);
		CNT_ADD(s, expired_blocks, nv);
		CNT_ADD(s, expired_flows, flows);
	}
	*from = next;
	*done = end;
	return 0;

abort:
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&s->view_lock);
	return storage_err(rc);
}

/*
 * Run retention (by age or by size) until done or past the deadline.
 * A transaction that runs out of map space is retried one block at a
 * time. Sets *changed when blocks were deleted.
 */
static int
expire(store_t *s, int by_size, uint64_t cutoff, uint64_t deadline,
    int *changed)
{
	uint64_t from = 0, before = CNT_GET(s, expired_blocks);
	size_t limit = DEL_BATCH;
	int rc = 0, done = 0;

	while (!done) {
		rc = expire_txn(s, by_size, cutoff, &from, limit, &done);
		if (rc == FF_ENOSPC && limit > 1) {
			limit = 1;
			continue;
		}
		if (rc != 0) {
			CNT_ADD(s, write_errors, 1);
			break;
		}
		if (past(deadline))
			break;
	}
	if (CNT_GET(s, expired_blocks) != before)
		*changed = 1;
	return rc;
}

/*
 * One compaction transaction: find, from block *from on, the first run
 * of at least two adjacent small blocks older than COMPACT_AGE_MS whose
 * rows fit in one block, and merge it into one block with the id of its
 * first block. Sets *done when no such run is left. Returns 0 or a
 * negative ff_err code; FF_ENOSPC means the map has no room for the
 * merged block (nothing changed).
 */
static int
compact_txn(store_t *s, uint64_t now, uint64_t *from, int *done)
{
	uint64_t ids[MERGE_MAX], last_committed = 0;
	uint32_t rows[MERGE_MAX];
	uint32_t small = s->block_rows / 4;
	uint8_t kb[8];
	struct idx_ent e, ent;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	store_colbatch_t cb;
	store_flow_t f;
	size_t ng = 0, sum = 0;
	int rc;

	*done = 0;
	pthread_mutex_lock(&s->view_lock);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		pthread_mutex_unlock(&s->view_lock);
		return storage_err(rc);
	}
	if ((rc = mdb_cursor_open(txn, s->dbi_idx, &cur)) != 0)
		goto abort;
	key_val(&k, kb, *from);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t id = storage_key_id(&k);
		int small_old = idx_unpack(&v, &e) == 0 && e.rows < small &&
		    e.committed_ms + COMPACT_AGE_MS <= now;

		if (small_old && ng > 0 &&
		    (sum + e.rows > s->block_rows || ng == MERGE_MAX)) {
			if (ng >= 2)
				break;
			ng = sum = 0;
		}
		if (!small_old) {
			if (ng >= 2)
				break;
			ng = sum = 0;
			continue;
		}
		if (ng == 0 || e.committed_ms > last_committed)
			last_committed = e.committed_ms;
		ids[ng] = id;
		rows[ng++] = e.rows;
		sum += e.rows;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	if (ng < 2) {
		*done = 1;
		mdb_txn_abort(txn);
		pthread_mutex_unlock(&s->view_lock);
		return 0;
	}

	/* Decode every part before the first write moves pages. */
	s->mbuf.n = 0;
	for (size_t i = 0; i < ng; i++) {
		key_val(&k, kb, ids[i]);
		rc = mdb_get(txn, s->dbi_blk, &k, &v);
		if (rc == 0)
			rc = blk_decode(s->mdec, v.mv_data, v.mv_size,
			    STORE_COLS_ALL, &cb);
		if (rc == 0 && (cb.n != rows[i] ||
		    s->mbuf.n + cb.n > s->mbuf.cap))
			rc = FF_EPROTO;
		if (rc != 0) {
			/* Leave a damaged block alone; go on after it. */
			mdb_txn_abort(txn);
			pthread_mutex_unlock(&s->view_lock);
			if (rc == FF_ENOMEM)
				return rc;
			CNT_ADD(s, damaged_blocks, 1);
			*from = ids[i] + 1;
			return 0;
		}
		for (size_t r = 0; r < cb.n; r++) {
			store_colbatch_row(&cb, r, &f);
			colbuf_add(&s->mbuf, &f);
		}
	}
	colbuf_view(&s->mbuf, &cb);
	if ((rc = storage_put_block(s, txn, ids[0], &cb, IDX_F_COMPACTED,
	    last_committed, &ent)) != 0) {
		mdb_txn_abort(txn);
		pthread_mutex_unlock(&s->view_lock);
		return rc;
	}
	for (size_t i = 1; i < ng; i++) {
		if ((rc = storage_del_block(s, txn, ids[i])) != 0) {
			mdb_txn_abort(txn);
			pthread_mutex_unlock(&s->view_lock);
			return rc;
		}
	}
	rc = mdb_txn_commit(txn);
	pthread_mutex_unlock(&s->view_lock);
	if (rc != 0)
		return storage_err(rc);
	CNT_ADD(s, commits, 1);
	CNT_ADD(s, compactions, ng);
	CNT_SUB(s, blocks, ng - 1);
	*from = ids[ng - 1] + 1;
	return 0;

abort:
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&s->view_lock);
	return storage_err(rc);
}

static int
compact(store_t *s, uint64_t now, uint64_t deadline)
{
	uint64_t from = 0;
	int rc, done = 0;

	if (s->block_rows / 4 < 2)
		return 0;
	while (!done && !past(deadline)) {
		rc = compact_txn(s, now, &from, &done);
		/* no room to merge: the blocks stay as they are */
		if (rc == FF_ENOSPC)
			return 0;
		if (rc != 0) {
			CNT_ADD(s, write_errors, 1);
			return rc;
		}
	}
	return 0;
}

int
store_maintain(store_t *s, uint64_t now, uint64_t budget_ms)
{
	uint64_t deadline = budget_ms != 0 ? mono_ms() + budget_ms : 0;
	MDB_txn *txn;
	int rc = 0, rc2, changed = 0, dead;

	if (s->readonly)
		return FF_ENOTSUP;
	/*
	 * Free the reader slots of processes that died while reading (a
	 * killed query command): a stale slot would keep its snapshot's
	 * pages from being reused, and the file growing.
	 */
	mdb_reader_check(s->env, &dead);
	if (s->max_age_ms != 0 && now > s->max_age_ms)
		rc = expire(s, 0, now - s->max_age_ms, deadline, &changed);
	if (s->max_bytes != 0 && !past(deadline)) {
		rc2 = expire(s, 1, 0, deadline, &changed);
		if (rc == 0)
			rc = rc2;
	}
	if (changed && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
		rc2 = storage_recount(s, txn);
		mdb_txn_abort(txn);
		if (rc == 0)
			rc = rc2;
	}
	if (!past(deadline)) {
		rc2 = compact(s, now, deadline);
		if (rc == 0)
			rc = rc2;
	}
	return rc;
}
