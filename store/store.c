/*
 * The store's LMDB environment: open (creating or checking the layout
 * described in storage.h), close, and the counters.
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

/* Open the named databases, check or write the format version. */
static int
open_dbs(store_t *s, MDB_txn *txn, const char *path, char *err,
    size_t errlen)
{
	unsigned flags = s->readonly ? 0 : MDB_CREATE;
	uint64_t version = 0, next = 0;
	MDB_cursor *cur;
	MDB_val k, v;
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
	rc = storage_meta_get(s, txn, "version", &version);
	if (rc == MDB_NOTFOUND) {
		if (s->readonly)
			return fail(err, errlen, FF_ENOENT, path,
			    "not a flow store", NULL);
		if ((rc = storage_meta_put(s, txn, "version",
		    STORAGE_VERSION, 4)) != 0)
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

	rc = storage_meta_get(s, txn, "next_id", &next);
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
	if ((s->path = strdup(path)) == NULL) {
		free(s);
		return fail(err, errlen, FF_ENOMEM, path, "out of memory",
		    NULL);
	}
	if (pthread_mutex_init(&s->view_lock, NULL) != 0) {
		free(s->path);
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
	if (!s->readonly) {
		struct space sp;

		storage_space(s, txn, &sp);
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
	free(s->path);
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
	free(s->path);
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
	st->full = CNT_GET(s, full) != 0;
	st->file_bytes = CNT_GET(s, file_bytes);
	st->fs_free = CNT_GET(s, fs_free);
	st->max_bytes = s->max_bytes;
	st->room_blocks = CNT_GET(s, room_blocks);
	st->room_flows = CNT_GET(s, room_flows);
	if (mdb_env_info(s->env, &info) == 0)
		st->map_size = info.me_mapsize;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
		st->bytes_used = storage_used_pages(s, txn) * s->psize;
		mdb_txn_abort(txn);
	}
}

uint64_t
store_committed(store_t *s)
{
	return CNT_GET(s, committed);
}

const char *
store_path(const store_t *s)
{
	return s->path;
}
