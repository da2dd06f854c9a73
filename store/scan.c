/*
 * Block scans: walk idx inside one read transaction, skip blocks by their
 * first_ms range, decode the wanted columns of the others into scratch
 * arrays reused from block to block.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

#define SCAN_PARTS_MAX	256

/* A block chosen by its idx entry. */
struct cand {
	uint64_t id;
	struct idx_ent e;
	int bad;		/* idx entry damaged */
};

/* The shared block list of a store_scan_open_parts() group. */
struct scan_group {
	_Atomic size_t next;	/* next candidate to hand out */
	_Atomic unsigned refs;	/* scans still open */
	size_t n;
	struct cand *c;
};

struct store_scan {
	store_t *s;
	MDB_txn *txn;
	MDB_cursor *cur;	/* single scans: position in idx */
	int started;
	uint64_t t0, t1;
	uint32_t cols;
	uint32_t ecols;		/* of cols: only for blocks the window cuts */
	unsigned part, nparts;
	uint64_t ncand;		/* candidates seen (partition numbering) */
	uint64_t nskip;		/* time-skipped blocks seen */
	uint64_t skipped;	/* ... of which this partition reports */
	struct scan_group *g;
	blk_dec_t *dec;
};

/* Whether block e cannot hold flows in [t0, t1) (t1 = UINT64_MAX: none). */
static int
time_skip(const store_scan_t *sc, const struct idx_ent *e)
{
	return e->rows == 0 || e->max_first < sc->t0 ||
	    (sc->t1 != UINT64_MAX && e->min_first >= sc->t1);
}

/* Whether every flow of block e lies in [t0, t1). */
static int
inside(const store_scan_t *sc, const struct idx_ent *e)
{
	return e->min_first >= sc->t0 &&
	    (sc->t1 == UINT64_MAX || e->max_first < sc->t1);
}

static store_scan_t *
scan_new(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned part, unsigned nparts)
{
	store_scan_t *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	if ((sc->dec = blk_dec_new()) == NULL) {
		free(sc);
		return NULL;
	}
	sc->s = s;
	sc->t0 = t0;
	sc->t1 = t1;
	sc->cols = cols & STORE_COLS_ALL;
	sc->part = part;
	sc->nparts = nparts;
	return sc;
}

int
store_scan_open(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned part, unsigned nparts, store_scan_t **out)
{
	store_scan_t *sc;
	int rc;

	if (nparts == 0 || part >= nparts)
		return FF_EINVAL;
	if ((sc = scan_new(s, t0, t1, cols, part, nparts)) == NULL)
		return FF_ENOMEM;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &sc->txn)) != 0) {
		sc->txn = NULL;
		store_scan_close(sc);
		return storage_err(rc);
	}
	if ((rc = mdb_cursor_open(sc->txn, s->dbi_idx, &sc->cur)) != 0) {
		sc->cur = NULL;
		store_scan_close(sc);
		return storage_err(rc);
	}
	*out = sc;
	return 0;
}

int
store_scan_open_parts(store_t *s, uint64_t t0, uint64_t t1, uint32_t cols,
    unsigned nparts, store_scan_t **out)
{
	struct scan_group *g;
	struct cand *c;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t cap = 0;
	unsigned i, opened = 0;
	int rc = 0;

	if (nparts == 0 || nparts > SCAN_PARTS_MAX)
		return FF_EINVAL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return FF_ENOMEM;
	atomic_init(&g->next, 0);
	atomic_init(&g->refs, nparts);
	for (i = 0; i < nparts; i++) {
		if ((out[i] = scan_new(s, t0, t1, cols, i, nparts)) == NULL) {
			rc = FF_ENOMEM;
			break;
		}
		out[i]->g = g;
	}
	if (rc == 0) {
		/* No block deleted or rewritten while the group starts. */
		pthread_mutex_lock(&s->view_lock);
		for (; opened < nparts; opened++) {
			rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY,
			    &out[opened]->txn);
			if (rc != 0) {
				out[opened]->txn = NULL;
				rc = storage_err(rc);
				break;
			}
		}
		pthread_mutex_unlock(&s->view_lock);
	}
	if (rc == 0 && (rc = mdb_cursor_open(out[0]->txn, s->dbi_idx,
	    &cur)) != 0)
		rc = storage_err(rc);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct idx_ent e;
			int bad = idx_unpack(&v, &e) != 0 || k.mv_size != 8;

			if (!bad && time_skip(out[0], &e)) {
				out[0]->skipped++;
				continue;
			}
			if (g->n == cap) {
				size_t ncap = cap == 0 ? 256 : cap * 2;

				c = realloc(g->c, ncap * sizeof(*c));
				if (c == NULL)
					break;
				g->c = c;
				cap = ncap;
			}
			c = &g->c[g->n++];
			c->id = storage_key_id(&k);
			c->bad = bad;
			if (!bad)
				c->e = e;
		}
		mdb_cursor_close(cur);
		rc = rc == MDB_NOTFOUND ? 0 : rc == 0 ? FF_ENOMEM :
		    storage_err(rc);
	}
	if (rc != 0) {
		for (i = 0; i < nparts && out[i] != NULL; i++) {
			if (out[i]->txn != NULL)
				mdb_txn_abort(out[i]->txn);
			blk_dec_free(out[i]->dec);
			free(out[i]);
			out[i] = NULL;
		}
		for (; i < nparts; i++)
			out[i] = NULL;
		free(g->c);
		free(g);
	}
	return rc;
}

/* Read and decode block id of entry e into cb. */
static int
load(store_scan_t *sc, uint64_t id, const struct idx_ent *e, store_colbatch_t *cb)
{
	store_t *s = sc->s;
	uint8_t kb[8];
	MDB_val k, v;
	int rc;

	storage_key(kb, id);
	k.mv_data = kb;
	k.mv_size = 8;
	rc = mdb_get(sc->txn, s->dbi_blk, &k, &v);
	if (rc == MDB_NOTFOUND) {
		rc = FF_EPROTO;
	} else if (rc != 0) {
		return storage_err(rc);
	} else {
		uint32_t rows;

		/* rows must agree before the decoder sizes its arrays */
		rc = blk_describe(v.mv_data, v.mv_size, &rows, NULL);
		if (rc == 0 && rows != e->rows)
			rc = FF_EPROTO;
		if (rc == 0)
			rc = blk_decode(sc->dec, v.mv_data, v.mv_size,
			    inside(sc, e) ? sc->cols & ~sc->ecols : sc->cols,
			    cb);
	}
	if (rc == FF_EPROTO)
		CNT_ADD(s, damaged_blocks, 1);
	if (rc != 0)
		return rc;
	cb->min_first = e->min_first;
	cb->max_first = e->max_first;
	cb->min_last = e->min_last;
	cb->max_last = e->max_last;
	return 1;
}

int
store_scan_next(store_scan_t *sc, store_colbatch_t *cb)
{
	struct idx_ent e;
	MDB_val k, v;
	int rc;

	if (sc->g != NULL) {
		size_t i = atomic_fetch_add(&sc->g->next, 1);
		const struct cand *c;

		if (i >= sc->g->n)
			return 0;
		c = &sc->g->c[i];
		if (c->bad) {
			CNT_ADD(sc->s, damaged_blocks, 1);
			return FF_EPROTO;
		}
		return load(sc, c->id, &c->e, cb);
	}

	for (;;) {
		rc = mdb_cursor_get(sc->cur, &k, &v,
		    sc->started ? MDB_NEXT : MDB_FIRST);
		sc->started = 1;
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc != 0)
			return storage_err(rc);
		if (idx_unpack(&v, &e) != 0 || k.mv_size != 8) {
			if (sc->ncand++ % sc->nparts != sc->part)
				continue;
			CNT_ADD(sc->s, damaged_blocks, 1);
			return FF_EPROTO;
		}
		if (time_skip(sc, &e)) {
			if (sc->nskip++ % sc->nparts == sc->part)
				sc->skipped++;
			continue;
		}
		if (sc->ncand++ % sc->nparts != sc->part)
			continue;
		return load(sc, storage_key_id(&k), &e, cb);
	}
}

void
store_scan_set_dict(store_scan_t *sc, uint32_t dcols)
{
	blk_dec_set_dict(sc->dec, dcols & sc->cols);
}

void
store_scan_set_edge(store_scan_t *sc, uint32_t ecols)
{
	sc->ecols = ecols & sc->cols;
}

uint64_t
store_scan_skipped(const store_scan_t *sc)
{
	return sc->skipped;
}

void
store_scan_close(store_scan_t *sc)
{
	if (sc == NULL)
		return;
	if (sc->cur != NULL)
		mdb_cursor_close(sc->cur);
	if (sc->txn != NULL)
		mdb_txn_abort(sc->txn);
	if (sc->g != NULL && atomic_fetch_sub(&sc->g->refs, 1) == 1) {
		free(sc->g->c);
		free(sc->g);
	}
	blk_dec_free(sc->dec);
	free(sc);
}
