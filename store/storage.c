/*
 * The LMDB side of the storage (layout in storage.h): block keys, idx
 * entries, error codes, page accounting, and putting and deleting a
 * block with its idx entry.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

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
	case EDQUOT:
	case EFBIG:
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

static uint64_t
le_n(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int
storage_meta_get(store_t *s, MDB_txn *txn, const char *name, uint64_t *out)
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

int
storage_meta_put(store_t *s, MDB_txn *txn, const char *name, uint64_t val,
    size_t width)
{
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, v;
	uint8_t buf[8];

	for (size_t i = 0; i < width && i < sizeof(buf); i++)
		buf[i] = (uint8_t)(val >> (8 * i));
	v.mv_data = buf;
	v.mv_size = width < sizeof(buf) ? width : sizeof(buf);
	return mdb_put(txn, s->dbi_meta, &k, &v, 0);
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
	put_le32(out + 44, e->committed_span_ms);
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
	e->committed_span_ms = (uint32_t)le_n(p + 44, 4);
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

void
storage_space(store_t *s, MDB_txn *txn, struct space *sp)
{
	MDB_envinfo info;
	struct statvfs vfs;
	struct rlimit rl;
	struct stat sb;
	mdb_filehandle_t fd;
	uint64_t lim;

	memset(sp, 0, sizeof(*sp));
	sp->used = storage_used_pages(s, txn) * s->psize;
	if (mdb_env_info(s->env, &info) == 0)
		sp->map = info.me_mapsize;
	if (mdb_env_get_fd(s->env, &fd) == 0 && fstat(fd, &sb) == 0)
		sp->file = (uint64_t)sb.st_size;
	else
		sp->file = ((uint64_t)info.me_last_pgno + 1) * s->psize;
	sp->fs_free = UINT64_MAX;
	if (statvfs(s->path, &vfs) == 0)
		sp->fs_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	sp->cap = sp->map;
	if (sp->fs_free != UINT64_MAX)
		sp->cap = FF_MIN(sp->cap, sp->file + sp->fs_free);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		lim = (uint64_t)rl.rlim_cur / s->psize * s->psize;
		sp->cap = FF_MIN(sp->cap, FF_MAX(lim, sp->file));
	}
	CNT_SET(s, file_bytes, sp->file);
	CNT_SET(s, fs_free, sp->fs_free);
}

uint64_t
storage_need(store_t *s, size_t need)
{
	/* the value's overflow pages, plus the tree pages it touches */
	return ((need + 16 + s->psize - 1) / s->psize + 16 + RESERVE_PAGES) *
	    (uint64_t)s->psize;
}

int
storage_room(store_t *s, MDB_txn *txn, size_t need)
{
	struct space sp;

	storage_space(s, txn, &sp);
	if (sp.used + storage_need(s, need) > sp.cap)
		return FF_ENOSPC;
	return 0;
}

int
storage_write_err(store_t *s, MDB_txn *txn, int rc, size_t need)
{
	struct space sp;
	MDB_txn *rtxn = NULL;

	rc = storage_err(rc);
	if (rc != FF_EIO)
		return rc;
	/* LMDB reports a short write as EIO: is the filesystem full? */
	if (txn == NULL) {
		if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rtxn) != 0)
			return rc;
		txn = rtxn;
	}
	storage_space(s, txn, &sp);
	if (rtxn != NULL)
		mdb_txn_abort(rtxn);
	if (sp.file + storage_need(s, need) > sp.cap ||
	    sp.used + storage_need(s, need) > sp.cap)
		return FF_ENOSPC;
	return rc;
}

int
storage_put_block(store_t *s, MDB_txn *txn, uint64_t id,
    const store_colbatch_t *cb, uint32_t flags, uint64_t committed_ms,
    uint64_t committed_span_ms, struct idx_ent *ent)
{
	uint8_t key[8], ibuf[IDX_ENT_LEN];
	const uint8_t *blk;
	blk_info_t info;
	MDB_val k, v;
	size_t len;
	int rc;

	memset(ent, 0, sizeof(*ent));
	if ((rc = blk_encode(s->enc, cb, &blk, &len, &info)) != 0)
		return rc;
	if (len > UINT32_MAX)
		return FF_EINVAL;
	ent->enc_size = (uint32_t)len;
	if ((rc = storage_room(s, txn, len)) != 0)
		return rc;
	ent->rows = info.rows;
	ent->flags = flags;
	ent->min_first = info.min_first;
	ent->max_first = info.max_first;
	ent->min_last = info.min_last;
	ent->max_last = info.max_last;
	ent->committed_ms = committed_ms;
	ent->committed_span_ms = (uint32_t)FF_MIN(committed_span_ms,
	    UINT32_MAX);

	storage_key(key, id);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)(uintptr_t)blk;
	v.mv_size = len;
	if ((rc = mdb_put(txn, s->dbi_blk, &k, &v, 0)) != 0)
		return storage_write_err(s, txn, rc, len);
	idx_pack(ent, ibuf);
	v.mv_data = ibuf;
	v.mv_size = sizeof(ibuf);
	if ((rc = mdb_put(txn, s->dbi_idx, &k, &v, 0)) != 0)
		return storage_write_err(s, txn, rc, len);
	return 0;
}

/* mdb_reader_list line: "PID THREAD TXNID", TXNID "-" for a free slot. */
static int
count_reader(const char *line, void *arg)
{
	int *n = arg;
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (line[0] != '(' && strstr(line, "pid") == NULL && len > 0 &&
	    line[len - 1] != '-')
		(*n)++;
	return 0;
}

int
storage_readers(store_t *s)
{
	int n = 0;

	(void)mdb_reader_list(s->env, count_reader, &n);
	return n;
}

int
storage_del_block(store_t *s, MDB_txn *txn, uint64_t id)
{
	uint8_t key[8];
	MDB_val k;
	int rc;

	storage_key(key, id);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	rc = mdb_del(txn, s->dbi_idx, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return storage_err(rc);
	rc = mdb_del(txn, s->dbi_blk, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return storage_err(rc);
	return 0;
}
