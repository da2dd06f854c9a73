/*
 * The store's LMDB environment: open, close, counters, and the helpers
 * the writer, maintenance and scans share (layout in storage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

#define MIB			((uint64_t)1 << 20)
#define GIB			((uint64_t)1 << 30)
#define DEFAULT_MAP_SIZE	(64 * GIB)
#define DEFAULT_BLOCK_ROWS	32768
#define MIN_MAP_SIZE		(256 * 1024)
#define MAX_READERS		254

/* Pages kept free so that maintenance can always delete blocks. */
#define RESERVE_PAGES		64

int
storage_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
	case ENOSPC:
		return FF_ENOSPC;
	case ENOMEM:
		return FF_ENOMEM;
	case EIO:
		return FF_EIO;
	case MDB_VERSION_MISMATCH:
		return FF_EVERSION;
	case ENOENT:
	case MDB_NOTFOUND:
		return FF_ENOENT;
	}
	return FF_ESTORE;
}

void
storage_key(uint8_t k[8], uint64_t id)
{
	put_be64(k, id);
}

uint64_t
storage_key_id(const MDB_val *k)
{
	if (k->mv_size != 8)
		return UINT64_MAX;
	return be64(k->mv_data);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
le_n(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
idx_pack(const struct idx_ent *e, uint8_t out[IDX_ENT_LEN])
{
	put_le32(out, e->rows);
	put_le32(out + 4, e->flags);
	put_le64(out + 8, e->min_first);
	put_le64(out + 16, e->max_first);
	put_le64(out + 24, e->min_last);
	put_le64(out + 32, e->max_last);
	put_le32(out + 40, e->enc_size);
	put_le32(out + 44, 0);
	put_le64(out + 48, e->committed_ms);
}

int
idx_unpack(const MDB_val *v, struct idx_ent *e)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size != IDX_ENT_LEN)
		return FF_EPROTO;
	e->rows = (uint32_t)le_n(p, 4);
	e->flags = (uint32_t)le_n(p + 4, 4);
	e->min_first = le_n(p + 8, 8);
	e->max_first = le_n(p + 16, 8);
	e->min_last = le_n(p + 24, 8);
	e->max_last = le_n(p + 32, 8);
	e->enc_size = (uint32_t)le_n(p + 40, 4);
	e->committed_ms = le_n(p + 48, 8);
	if (e->rows > STORE_BLOCK_ROWS_MAX || e->min_first > e->max_first ||
	    e->min_last > e->max_last)
		return FF_EPROTO;
	return 0;
}

int
storage_recount(store_t *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct idx_ent e;
	uint64_t flows = 0, blocks = 0, oldest = UINT64_MAX, newest = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->dbi_idx, &cur)) != 0)
		return storage_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (idx_unpack(&v, &e) != 0)
			continue;
		blocks++;
		flows += e.rows;
		if (e.rows > 0) {
			oldest = FF_MIN(oldest, e.min_first);
			newest = FF_MAX(newest, e.max_first);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return storage_err(rc);
	CNT_SET(s, flows, flows);
	CNT_SET(s, blocks, blocks);
	CNT_SET(s, oldest_ms, oldest == UINT64_MAX ? 0 : oldest);
	CNT_SET(s, newest_ms, newest);
	return 0;
}

uint64_t
storage_used_pages(store_t *s, MDB_txn *txn)
{
	MDB_dbi dbis[5] = { 0, 1, s->dbi_meta, s->dbi_idx, s->dbi_blk };
	MDB_stat st;
	uint64_t used = 2;	/* the two meta pages */

	for (size_t i = 0; i < FF_NELEM(dbis); i++) {
		if (mdb_stat(txn, dbis[i], &st) != 0)
			continue;
		used += st.ms_branch_pages + st.ms_leaf_pages +
		    st.ms_overflow_pages;
	}
	return used;
}

int
storage_room(store_t *s, MDB_txn *txn, size_t need)
{
	MDB_envinfo info;
	uint64_t map_pages, need_pages;

	if (mdb_env_info(s->env, &info) != 0)
		return FF_ESTORE;
	map_pages = info.me_mapsize / s->psize;
	/* the value's overflow pages, plus the tree pages it touches */
	need_pages = (need + 16 + s->psize - 1) / s->psize + 16;
	if (storage_used_pages(s, txn) + need_pages + RESERVE_PAGES >
	    map_pages)
		return FF_ENOSPC;
	return 0;
}

/* --- open / close -------------------------------------------------------- */

static int
fail(char *err, size_t errlen, int code, const char *path, const char *what,
    const char *detail)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s%s%s", path, what,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	return code;
}

static int
meta_get_u64(store_t *s, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, v;
	int rc;

	if ((rc = mdb_get(txn, s->dbi_meta, &k, &v)) != 0)
		return rc;
	if (v.mv_size != 4 && v.mv_size != 8)
		return MDB_CORRUPTED;
	*out = le_n(v.mv_data, (int)v.mv_size);
	return 0;
}

/* Open the named databases, check or write the format version. */
static int
open_dbs(store_t *s, MDB_txn *txn, const char *path, char *err,
    size_t errlen)
{
	unsigned flags = s->readonly ? 0 : MDB_CREATE;
	uint64_t version = 0, next = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t buf[4];
	int rc;

	if ((rc = mdb_dbi_open(txn, "meta", flags, &s->dbi_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idx", flags, &s->dbi_idx)) != 0 ||
	    (rc = mdb_dbi_open(txn, "blk", flags, &s->dbi_blk)) != 0) {
		if (rc == MDB_NOTFOUND)
			return fail(err, errlen, FF_ENOENT, path,
			    "not a flow store", NULL);
		return fail(err, errlen, storage_err(rc), path,
		    "cannot open databases", mdb_strerror(rc));
	}
	rc = meta_get_u64(s, txn, "version", &version);
	if (rc == MDB_NOTFOUND) {
		if (s->readonly)
			return fail(err, errlen, FF_ENOENT, path,
			    "not a flow store", NULL);
		put_le32(buf, STORAGE_VERSION);
		k.mv_data = (void *)(uintptr_t)"version";
		k.mv_size = 7;
		v.mv_data = buf;
		v.mv_size = 4;
		if ((rc = mdb_put(txn, s->dbi_meta, &k, &v, 0)) != 0)
			return fail(err, errlen, storage_err(rc), path,
			    "cannot initialize", mdb_strerror(rc));
		version = STORAGE_VERSION;
	} else if (rc != 0) {
		return fail(err, errlen, FF_ESTORE, path, "bad meta",
		    mdb_strerror(rc));
	}
	if (version != STORAGE_VERSION)
		return fail(err, errlen, FF_EVERSION, path,
		    "unsupported store format version", NULL);

	rc = meta_get_u64(s, txn, "next_id", &next);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return fail(err, errlen, FF_ESTORE, path, "bad meta",
		    mdb_strerror(rc));
	/* Never reuse an id, even if meta lags behind idx. */
	if ((rc = mdb_cursor_open(txn, s->dbi_idx, &cur)) != 0)
		return fail(err, errlen, storage_err(rc), path, "idx",
		    mdb_strerror(rc));
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
		next = FF_MAX(next, storage_key_id(&k) + 1);
	mdb_cursor_close(cur);
	s->next_id = next;

	if ((rc = storage_recount(s, txn)) != 0)
		return fail(err, errlen, rc, path, "cannot read idx", NULL);
	return 0;
}

int
store_open(const store_opts_t *opts, store_t **out, char *err,
    size_t errlen)
{
	const char *path;
	store_t *s;
	MDB_txn *txn = NULL;
	MDB_stat st;
	struct stat sb;
	uint64_t map_size;
	unsigned flags;
	long pg;
	int rc, dead;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (opts == NULL || opts->path == NULL || opts->path[0] == '\0')
		return fail(err, errlen, FF_EINVAL, "store", "no path", NULL);
	path = opts->path;
	if (opts->block_rows > STORE_BLOCK_ROWS_MAX)
		return fail(err, errlen, FF_EINVAL, path,
		    "block_rows too large", NULL);
	if (opts->zstd_level != 0 && (opts->zstd_level < ZSTD_minCLevel() ||
	    opts->zstd_level > ZSTD_maxCLevel()))
		return fail(err, errlen, FF_EINVAL, path,
		    "zstd level out of range", NULL);

	if (stat(path, &sb) != 0) {
		if (errno != ENOENT || opts->readonly)
			return fail(err, errlen, errno == ENOENT ? FF_ENOENT :
			    FF_EIO, path, "cannot open", strerror(errno));
		if (mkdir(path, 0750) != 0)
			return fail(err, errlen, FF_EIO, path,
			    "cannot create directory", strerror(errno));
	} else if (!S_ISDIR(sb.st_mode)) {
		return fail(err, errlen, FF_EINVAL, path, "not a directory",
		    NULL);
	}

	map_size = opts->map_size;
	if (map_size == 0)
		map_size = opts->max_bytes != 0 ?
		    opts->max_bytes / 4 * 5 + 256 * MIB : DEFAULT_MAP_SIZE;
	if (map_size < MIN_MAP_SIZE)
		map_size = MIN_MAP_SIZE;
	pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		pg = 4096;
	map_size = (map_size + (uint64_t)pg - 1) / (uint64_t)pg * (uint64_t)pg;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return fail(err, errlen, FF_ENOMEM, path, "out of memory",
		    NULL);
	s->readonly = opts->readonly != 0;
	s->block_rows = opts->block_rows != 0 ? opts->block_rows :
	    DEFAULT_BLOCK_ROWS;
	s->max_bytes = opts->max_bytes;
	s->max_age_ms = opts->max_age_ms;
	if (pthread_mutex_init(&s->view_lock, NULL) != 0) {
		free(s);
		return fail(err, errlen, FF_ENOMEM, path, "mutex", NULL);
	}

	if ((rc = mdb_env_create(&s->env)) != 0) {
		rc = fail(err, errlen, storage_err(rc), path, "lmdb",
		    mdb_strerror(rc));
		s->env = NULL;
		goto bad;
	}
	mdb_env_set_maxdbs(s->env, 4);
	mdb_env_set_maxreaders(s->env, MAX_READERS);
	if (!s->readonly || opts->map_size != 0)
		mdb_env_set_mapsize(s->env, (size_t)map_size);
	flags = MDB_NOTLS;
	if (opts->nosync)
		flags |= MDB_NOSYNC;
	if (s->readonly)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_open(s->env, path, flags, 0640)) != 0) {
		rc = fail(err, errlen, storage_err(rc), path,
		    "cannot open store", mdb_strerror(rc));
		goto bad;
	}
	/* Free the reader slots of a process that died (kill -9). */
	mdb_reader_check(s->env, &dead);
	mdb_env_stat(s->env, &st);
	s->psize = st.ms_psize;

	if ((rc = mdb_txn_begin(s->env, NULL,
	    s->readonly ? MDB_RDONLY : 0, &txn)) != 0) {
		rc = fail(err, errlen, storage_err(rc), path,
		    "cannot begin transaction", mdb_strerror(rc));
		goto bad;
	}
	if ((rc = open_dbs(s, txn, path, err, errlen)) != 0) {
		mdb_txn_abort(txn);
		goto bad;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		rc = fail(err, errlen, storage_err(rc), path,
		    "cannot commit", mdb_strerror(rc));
		goto bad;
	}

	if (!s->readonly) {
		if (colbuf_init(&s->wb, s->block_rows) != 0 ||
		    colbuf_init(&s->mbuf, s->block_rows) != 0 ||
		    (s->enc = blk_enc_new(opts->zstd_level)) == NULL ||
		    (s->mdec = blk_dec_new()) == NULL) {
			rc = fail(err, errlen, FF_ENOMEM, path,
			    "out of memory", NULL);
			goto bad;
		}
	}
	*out = s;
	return 0;

bad:
	colbuf_free(&s->wb);
	colbuf_free(&s->mbuf);
	blk_enc_free(s->enc);
	blk_dec_free(s->mdec);
	if (s->env != NULL)
		mdb_env_close(s->env);
	pthread_mutex_destroy(&s->view_lock);
	free(s);
	return rc;
}

void
store_close(store_t *s)
{
	if (s == NULL)
		return;
	if (!s->readonly) {
		(void)store_commit(s);
		mdb_env_sync(s->env, 1);
	}
	mdb_env_close(s->env);
	colbuf_free(&s->wb);
	colbuf_free(&s->mbuf);
	blk_enc_free(s->enc);
	blk_dec_free(s->mdec);
	pthread_mutex_destroy(&s->view_lock);
	free(s);
}

void
store_get_stats(store_t *s, store_stats_t *st)
{
	MDB_envinfo info;
	MDB_txn *txn;

	memset(st, 0, sizeof(*st));
	st->flows = CNT_GET(s, flows);
	st->blocks = CNT_GET(s, blocks);
	st->appended = CNT_GET(s, appended);
	st->committed = CNT_GET(s, committed);
	st->commits = CNT_GET(s, commits);
	st->write_errors = CNT_GET(s, write_errors);
	st->dropped = CNT_GET(s, dropped);
	st->expired_blocks = CNT_GET(s, expired_blocks);
	st->expired_flows = CNT_GET(s, expired_flows);
	st->compactions = CNT_GET(s, compactions);
	st->oldest_ms = CNT_GET(s, oldest_ms);
	st->newest_ms = CNT_GET(s, newest_ms);
	st->pending = CNT_GET(s, pending);
	st->damaged_blocks = CNT_GET(s, damaged_blocks);
	if (mdb_env_info(s->env, &info) == 0)
		st->map_size = info.me_mapsize;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
		st->bytes_used = storage_used_pages(s, txn) * s->psize;
		mdb_txn_abort(txn);
	}
}
