/*
 * The writer: rows are buffered column by column; a full buffer (or
 * store_commit) becomes one block, written with its idx entry in one
 * write transaction. A failed write drops that block's rows (counted)
 * and leaves the store as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

int
colbuf_init(struct colbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0 || cap > STORE_BLOCK_ROWS_MAX)
		return FF_EINVAL;
	b->cap = cap;
	b->first_ms = malloc(cap * sizeof(*b->first_ms));
	b->last_ms = malloc(cap * sizeof(*b->last_ms));
	b->bytes = malloc(cap * sizeof(*b->bytes));
	b->packets = malloc(cap * sizeof(*b->packets));
	b->src = malloc(cap * sizeof(*b->src));
	b->dst = malloc(cap * sizeof(*b->dst));
	b->nexthop = malloc(cap * sizeof(*b->nexthop));
	b->exporter = malloc(cap * sizeof(*b->exporter));
	b->in_if = malloc(cap * sizeof(*b->in_if));
	b->out_if = malloc(cap * sizeof(*b->out_if));
	b->src_as = malloc(cap * sizeof(*b->src_as));
	b->dst_as = malloc(cap * sizeof(*b->dst_as));
	b->sampling = malloc(cap * sizeof(*b->sampling));
	b->tags = malloc(cap * sizeof(*b->tags));
	b->sport = malloc(cap * sizeof(*b->sport));
	b->dport = malloc(cap * sizeof(*b->dport));
	b->proto = malloc(cap);
	b->tcp_flags = malloc(cap);
	b->tos = malloc(cap);
	b->src_mask = malloc(cap);
	b->dst_mask = malloc(cap);
	b->flags = malloc(cap);
	if (!b->first_ms || !b->last_ms || !b->bytes || !b->packets ||
	    !b->src || !b->dst || !b->nexthop || !b->exporter || !b->in_if ||
	    !b->out_if || !b->src_as || !b->dst_as || !b->sampling ||
	    !b->tags || !b->sport || !b->dport || !b->proto ||
	    !b->tcp_flags || !b->tos || !b->src_mask || !b->dst_mask ||
	    !b->flags) {
		colbuf_free(b);
		return FF_ENOMEM;
	}
	return 0;
}

void
colbuf_free(struct colbuf *b)
{
	free(b->first_ms);
	free(b->last_ms);
	free(b->bytes);
	free(b->packets);
	free(b->src);
	free(b->dst);
	free(b->nexthop);
	free(b->exporter);
	free(b->in_if);
	free(b->out_if);
	free(b->src_as);
	free(b->dst_as);
	free(b->sampling);
	free(b->tags);
	free(b->sport);
	free(b->dport);
	free(b->proto);
	free(b->tcp_flags);
	free(b->tos);
	free(b->src_mask);
	free(b->dst_mask);
	free(b->flags);
	memset(b, 0, sizeof(*b));
}

void
colbuf_add(struct colbuf *b, const store_flow_t *f)
{
	size_t i = b->n++;

	b->first_ms[i] = f->first_ms;
	b->last_ms[i] = f->last_ms;
	b->bytes[i] = f->bytes;
	b->packets[i] = f->packets;
	memcpy(b->src[i], f->src, 16);
	memcpy(b->dst[i], f->dst, 16);
	memcpy(b->nexthop[i], f->nexthop, 16);
	memcpy(b->exporter[i], f->exporter, 16);
	b->in_if[i] = f->in_if;
	b->out_if[i] = f->out_if;
	b->src_as[i] = f->src_as;
	b->dst_as[i] = f->dst_as;
	b->sampling[i] = f->sampling;
	b->tags[i] = f->tags;
	b->sport[i] = f->sport;
	b->dport[i] = f->dport;
	b->proto[i] = f->proto;
	b->tcp_flags[i] = f->tcp_flags;
	b->tos[i] = f->tos;
	b->src_mask[i] = f->src_mask;
	b->dst_mask[i] = f->dst_mask;
	b->flags[i] = f->flags;
}

void
colbuf_view(const struct colbuf *b, colbatch_t *cb)
{
	memset(cb, 0, sizeof(*cb));
	cb->n = b->n;
	cb->cols = STORE_COLS_ALL;
	cb->first_ms = b->first_ms;
	cb->last_ms = b->last_ms;
	cb->bytes = b->bytes;
	cb->packets = b->packets;
	cb->src16 = (const uint8_t (*)[16])b->src;
	cb->dst16 = (const uint8_t (*)[16])b->dst;
	cb->nexthop16 = (const uint8_t (*)[16])b->nexthop;
	cb->exporter16 = (const uint8_t (*)[16])b->exporter;
	cb->in_if = b->in_if;
	cb->out_if = b->out_if;
	cb->src_as = b->src_as;
	cb->dst_as = b->dst_as;
	cb->sampling = b->sampling;
	cb->tags = b->tags;
	cb->sport = b->sport;
	cb->dport = b->dport;
	cb->proto = b->proto;
	cb->tcp_flags = b->tcp_flags;
	cb->tos = b->tos;
	cb->src_mask = b->src_mask;
	cb->dst_mask = b->dst_mask;
	cb->flags = b->flags;
}

int
storage_put_block(store_t *s, MDB_txn *txn, uint64_t id,
    const colbatch_t *cb, uint32_t flags, uint64_t committed_ms,
    struct idx_ent *ent)
{
	uint8_t key[8], ibuf[IDX_ENT_LEN];
	const uint8_t *blk;
	blk_info_t info;
	MDB_val k, v;
	size_t len;
	int rc;

	if ((rc = blk_encode(s->enc, cb, &blk, &len, &info)) != 0)
		return rc;
	if (len > UINT32_MAX)
		return FF_EINVAL;
	if ((rc = storage_room(s, txn, len)) != 0)
		return rc;
	memset(ent, 0, sizeof(*ent));
	ent->rows = info.rows;
	ent->flags = flags;
	ent->min_first = info.min_first;
	ent->max_first = info.max_first;
	ent->min_last = info.min_last;
	ent->max_last = info.max_last;
	ent->enc_size = (uint32_t)len;
	ent->committed_ms = committed_ms;

	storage_key(key, id);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)(uintptr_t)blk;
	v.mv_size = len;
	if ((rc = mdb_put(txn, s->dbi_blk, &k, &v, 0)) != 0)
		return storage_err(rc);
	idx_pack(ent, ibuf);
	v.mv_data = ibuf;
	v.mv_size = sizeof(ibuf);
	if ((rc = mdb_put(txn, s->dbi_idx, &k, &v, 0)) != 0)
		return storage_err(rc);
	return 0;
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

/* Write the buffered rows as block next_id in one transaction. */
static int
write_pending(store_t *s)
{
	uint8_t nbuf[8];
	struct idx_ent ent;
	colbatch_t cb;
	MDB_txn *txn;
	MDB_val k, v;
	size_t rows = s->wb.n;
	int rc;

	colbuf_view(&s->wb, &cb);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		rc = storage_err(rc);
		goto failed;
	}
	if ((rc = storage_put_block(s, txn, s->next_id, &cb, 0, now_ms(),
	    &ent)) != 0) {
		mdb_txn_abort(txn);
		goto failed;
	}
	for (int i = 0; i < 8; i++)
		nbuf[i] = (uint8_t)((s->next_id + 1) >> (8 * i));
	k.mv_data = (void *)(uintptr_t)"next_id";
	k.mv_size = 7;
	v.mv_data = nbuf;
	v.mv_size = sizeof(nbuf);
	if ((rc = mdb_put(txn, s->dbi_meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		rc = storage_err(rc);
		goto failed;
	}
	/* mdb_txn_commit frees txn on failure as on success */
	if ((rc = mdb_txn_commit(txn)) != 0) {
		rc = storage_err(rc);
		goto failed;
	}

	s->next_id++;
	s->wb.n = 0;
	CNT_SET(s, pending, 0);
	CNT_ADD(s, committed, rows);
	CNT_ADD(s, commits, 1);
	if (CNT_ADD(s, blocks, 1) == 0 || ent.min_first < CNT_GET(s, oldest_ms))
		CNT_SET(s, oldest_ms, ent.min_first);
	if (ent.max_first > CNT_GET(s, newest_ms))
		CNT_SET(s, newest_ms, ent.max_first);
	CNT_ADD(s, flows, rows);
	return 0;

failed:
	s->wb.n = 0;
	CNT_SET(s, pending, 0);
	CNT_ADD(s, write_errors, 1);
	CNT_ADD(s, dropped, rows);
	return rc;
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
