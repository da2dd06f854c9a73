/*
 * Maintenance: retention by age (by when blocks were stored) and by size
 * (oldest blocks first; also when the filesystem leaves no room), room
 * for a write that found none, and compaction of runs of small blocks,
 * in short write transactions. Every
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
/*
 * A merged block is stored (for retention by age) when its newest part
 * was: merge only parts stored within max_age_ms / COMPACT_SPAN_DIV of
 * each other, so that no flow is kept much longer than retention-age.
 */
#define COMPACT_SPAN_DIV	16

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

/* What one retention run deletes. */
struct expire {
	int by_size;
	uint64_t cutoff;	/* by age: blocks stored before this go */
	uint64_t headroom;	/* by size: bytes to keep free for the next
				   write when the filesystem (or the map) is
				   the limit */
	uint64_t most;		/* by size: bytes the store may use at most
				   (UINT64_MAX: no such bound) */
};

/*
 * Bytes of pages the blocks in txn take (idx enc_size, rounded up to
 * pages): what deleting every block would free, about.
 */
static uint64_t
blocks_bytes(store_t *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct idx_ent e;
	uint64_t sum = 0;
	int rc;

	if (mdb_cursor_open(txn, s->dbi_idx, &cur) != 0)
		return 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (idx_unpack(&v, &e) == 0)
			sum += (e.enc_size + 16 + (uint64_t)s->psize - 1) /
			    s->psize * s->psize;
	mdb_cursor_close(cur);
	return sum;
}

/*
 * The bytes retention by size keeps the store below in txn: max_bytes,
 * or less when the filesystem (or the map) leaves less room than that
 * plus x->headroom and deleting blocks can make that room (not when even
 * an empty store would not fit), or x->most. *room: the target is below
 * max_bytes.
 */
static uint64_t
size_target(store_t *s, MDB_txn *txn, const struct expire *x, int *room)
{
	struct space sp;
	uint64_t target = s->max_bytes, fit;

	*room = 0;
	storage_space(s, txn, &sp);
	fit = sp.cap > x->headroom ? sp.cap - x->headroom : 0;
	if (fit < target && sp.used > fit &&
	    sp.used - FF_MIN(sp.used, blocks_bytes(s, txn)) <= fit)
		target = fit;
	if (x->most < target)
		target = x->most;
	*room = target < s->max_bytes;
	return target;
}

/*
 * One retention transaction: pick up to limit victims starting at block
 * *from (by age: stored before x->cutoff; by size: oldest first while
 * the used size exceeds size_target()), delete them and commit. Sets
 * *done when there is nothing left to do. Returns 0 or a negative ff_err
 * code.
 */
static int
expire_txn(store_t *s, const struct expire *x, uint64_t *from, size_t limit,
    int *done)
{
	struct victim vic[DEL_BATCH];
	uint8_t kb[8];
	struct idx_ent e;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t next = *from, flows = 0, est = 0, target = 0, rblocks = 0;
	uint64_t rflows = 0;
	size_t nv = 0;
	int rc, end = 0, room = 0;

	pthread_mutex_lock(&s->view_lock);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		pthread_mutex_unlock(&s->view_lock);
		return storage_err(rc);
	}
	if (x->by_size) {
		target = size_target(s, txn, x, &room);
		est = storage_used_pages(s, txn) * s->psize;
		if (est <= target)
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
		if (x->by_size) {
			/* A damaged entry is deleted like any other. */
			vic[nv].id = id;
			vic[nv++].rows = ok ? e.rows : 0;
			/* beyond max_bytes: for want of room */
			if (room && est <= s->max_bytes) {
				rblocks++;
				rflows += ok ? e.rows : 0;
			}
			est -= FF_MIN(est, ((ok ? e.enc_size : 0) + 16 +
			    (uint64_t)s->psize - 1) / s->psize * s->psize);
			if (est <= target)
				end = 1;
		} else if (ok && (e.committed_ms != 0 ? e.committed_ms :
		    e.max_last) < x->cutoff) {
			/* by when it was stored; by the flows' end when that
			   is not known */
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
		CNT_ADD(s, room_blocks, rblocks);
		CNT_ADD(s, room_flows, rflows);
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
expire(store_t *s, const struct expire *x, uint64_t deadline, int *changed)
{
	uint64_t from = 0, before = CNT_GET(s, expired_blocks);
	size_t limit = DEL_BATCH;
	int rc = 0, done = 0;

	while (!done) {
		rc = expire_txn(s, x, &from, limit, &done);
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
 * After blocks were deleted: with reuse, commit one small transaction
 * (next_id, unchanged) so that the next one may reuse their pages (LMDB
 * reuses the pages freed by transaction N from N + 2 on); recount.
 */
static int
settle(store_t *s, int reuse)
{
	MDB_txn *txn;
	int rc;

	/* best effort: without it the pages are reused one write later */
	if (reuse && mdb_txn_begin(s->env, NULL, 0, &txn) == 0) {
		if (storage_meta_put(s, txn, "next_id", s->next_id, 8) == 0)
			(void)mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return storage_err(rc);
	rc = storage_recount(s, txn);
	mdb_txn_abort(txn);
	return rc;
}

/* Bytes kept free for the next block when space is the limit. */
static uint64_t
headroom(store_t *s)
{
	return storage_need(s, s->block_bytes);
}

int
maintain_make_room(store_t *s, size_t need, int attempt)
{
	struct expire x = { .by_size = 1, .most = UINT64_MAX };
	struct space sp;
	MDB_txn *txn;
	uint64_t want = storage_need(s, need), own;
	int changed = 0;

	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	storage_space(s, txn, &sp);
	mdb_txn_abort(txn);
	if (sp.used + want <= sp.cap) {
		/*
		 * It fits by the count and failed all the same. First let
		 * LMDB reuse the pages freed by the last transaction. Then,
		 * unless a reader holds older pages (deleting more would not
		 * help while it reads), the free pages are too scattered for
		 * the block's run of pages: free its size more.
		 */
		if (attempt == 0) {
			(void)settle(s, 1);
			return 1;
		}
		if (s->max_bytes == 0 || storage_readers(s) != 0)
			return 0;
		own = (need + 16 + (uint64_t)s->psize - 1) / s->psize *
		    s->psize;
		x.most = sp.used - FF_MIN(sp.used, own);
	} else if (s->max_bytes == 0) {
		return 0;
	}
	x.headroom = FF_MAX(want, headroom(s));
	(void)expire(s, &x, 0, &changed);
	if (!changed)
		return 0;
	(void)settle(s, 1);
	return 1;
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
	uint64_t ids[MERGE_MAX], last_committed = 0, first_committed = 0;
	uint64_t span = s->max_age_ms != 0 ? s->max_age_ms /
	    COMPACT_SPAN_DIV : UINT64_MAX, emin;
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

		emin = e.committed_ms - FF_MIN(e.committed_ms,
		    e.committed_span_ms);
		if (small_old && ng > 0 &&
		    (sum + e.rows > s->block_rows || ng == MERGE_MAX ||
		    FF_MAX(last_committed, e.committed_ms) -
		    FF_MIN(first_committed, emin) > span)) {
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
		if (ng == 0 || emin < first_committed)
			first_committed = emin;
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
	    last_committed, last_committed - first_committed, &ent)) != 0) {
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
	uint64_t room = CNT_GET(s, room_blocks);
	int rc = 0, rc2, changed = 0, dead;

	if (s->readonly)
		return FF_ENOTSUP;
	/*
	 * Free the reader slots of processes that died while reading (a
	 * killed query command): a stale slot would keep its snapshot's
	 * pages from being reused, and the file growing.
	 */
	mdb_reader_check(s->env, &dead);
	if (s->max_age_ms != 0 && now > s->max_age_ms) {
		struct expire x = { .cutoff = now - s->max_age_ms };

		rc = expire(s, &x, deadline, &changed);
	}
	if (s->max_bytes != 0 && !past(deadline)) {
		struct expire x = { .by_size = 1, .headroom = headroom(s),
		    .most = UINT64_MAX };

		rc2 = expire(s, &x, deadline, &changed);
		if (rc == 0)
			rc = rc2;
	}
	if (changed) {
		/*
		 * Deleted for want of room: the next write needs the pages
		 * now. Otherwise a recount is enough.
		 */
		rc2 = CNT_GET(s, room_blocks) != room ? settle(s, 1) :
		    settle(s, 0);
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
