/*
 * Per-thread aggregation: feeds the selected rows of column batches into
 * the partial of one scan thread, with a fast path per key type, and folds
 * the partial into a result at the end.
 *
 *   ports, protocol     direct arrays indexed by the value (65536 / 256)
 *   IPv4 addresses and  32-bit open-addressing table, whether the batch
 *   prefixes            holds the column in IPv4 form or 16-byte rows
 *                       that are IPv4-mapped
 *   interfaces, AS      32-bit table
 *   IPv6 addresses and  16-byte table
 *   prefixes
 *
 * Nothing is allocated per row: tables, arrays and the listing heap grow
 * by doubling, and every byte is accounted on the run's memacct_t.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "agg.h"

enum {
	AGG_TOTALS = 1,
	AGG_SERIES,
	AGG_LIST,
	AGG_DIR,		/* direct array */
	AGG_ADDR,		/* address or prefix: utab + ktab */
	AGG_NUM			/* 32-bit number: utab */
};

/*
 * Run BODY for every selected row index i of cb (sel NULL: every row).
 * BODY may use `continue` (next row) and `return`.
 */
#define ROWS(cb, sel, ...) do {						\
	if ((sel) == NULL) {						\
		for (size_t i_ = 0; i_ < (cb)->n; i_++) {		\
			const size_t i = i_;				\
			__VA_ARGS__					\
		}							\
	} else {							\
		size_t nw_ = ((cb)->n + 63) / 64;			\
		for (size_t w_ = 0; w_ < nw_; w_++) {			\
			uint64_t m_ = (sel)[w_];			\
			while (m_ != 0) {				\
				const size_t i = w_ * 64 +		\
				    (size_t)__builtin_ctzll(m_);	\
				m_ &= m_ - 1;				\
				__VA_ARGS__				\
			}						\
		}							\
	}								\
} while (0)

#define ADDV(v, i) do {							\
	(v).flows++;							\
	(v).bytes = sat_add((v).bytes, by[i]);				\
	(v).packets = sat_add((v).packets, pk[i]);			\
} while (0)

/*
 * Hash aggregation is bound by cache misses on the table. Rows go in
 * chunks: the selected row indexes and their keys are gathered first,
 * then each row's slot is probed while the slot of a row PF_DIST ahead is
 * prefetched.
 */
#define CHUNK		256
#define PF_DIST		16

/* Gather up to CHUNK selected row indexes from row *pos on into idx. */
static size_t
gather(const store_colbatch_t *cb, const uint64_t *sel, size_t *pos, uint32_t *idx)
{
	size_t n = 0, i = *pos;

	if (sel == NULL) {
		while (i < cb->n && n < CHUNK)
			idx[n++] = (uint32_t)i++;
	} else {
		while (i < cb->n && n < CHUNK) {
			uint64_t m = sel[i / 64] >> (i % 64);

			if (m == 0) {
				i = (i / 64 + 1) * 64;
				continue;
			}
			i += (size_t)__builtin_ctzll(m);
			if (i >= cb->n)
				break;
			idx[n++] = (uint32_t)i++;
		}
	}
	*pos = i;
	return n;
}

static inline void
utab_prefetch(const utab_t *t, uint32_t k)
{
	if (t->cap != 0)
		__builtin_prefetch(&t->e[((uint64_t)k *
		    0x9e3779b97f4a7c15ULL) >> t->shift]);
}

static inline void
ktab_prefetch(const ktab_t *t, uint64_t hi, uint64_t lo)
{
	if (t->cap != 0)
		__builtin_prefetch(&t->e[ktab_hash(t, hi, lo)]);
}

/* Aggregate the selected rows by 32-bit key col[i] & mask. */
static int
add_u32(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel,
    const uint32_t *col, uint32_t mask)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets;
	uint32_t idx[CHUNK], key[CHUNK];
	size_t pos = 0, m;
	int err = 0;

	while ((m = gather(cb, sel, &pos, idx)) > 0) {
		for (size_t j = 0; j < m; j++)
			key[j] = col[idx[j]] & mask;
		for (size_t j = 0; j < m; j++) {
			uent_t *e;
			size_t i = idx[j];

			if (j + PF_DIST < m)
				utab_prefetch(&a->u, key[j + PF_DIST]);
			if ((e = utab_get(&a->u, key[j], &err)) == NULL)
				return err;
			ADDV(e->v, i);
		}
	}
	return 0;
}

/*
 * Aggregate the selected rows by 16-byte address col[i] (masked):
 * IPv4-mapped ones in the 32-bit table, the others in the 16-byte one.
 * Each chunk is split into its IPv4 and IPv6 rows first, so that both
 * probe loops are tight and prefetch the right table.
 */
static int
add_a16(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel,
    const uint8_t (*col)[16], uint32_t m4, uint64_t mhi, uint64_t mlo)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets;
	uint32_t idx[CHUNK], i4[CHUNK], i6[CHUNK], k4[CHUNK];
	uint64_t khi[CHUNK], klo[CHUNK];
	size_t pos = 0, m;
	int err = 0;

	while ((m = gather(cb, sel, &pos, idx)) > 0) {
		size_t n4 = 0, n6 = 0;

		for (size_t j = 0; j < m; j++) {
			const uint8_t *p = col[idx[j]];

			/* ::ffff:a.b.c.d: ten zero bytes, then ff ff */
			if (be64(p) == 0 && be32(p + 8) == 0xffff) {
				i4[n4] = idx[j];
				k4[n4++] = be32(p + 12) & m4;
			} else {
				i6[n6] = idx[j];
				khi[n6] = be64(p) & mhi;
				klo[n6++] = be64(p + 8) & mlo;
			}
		}
		for (size_t j = 0; j < n4; j++) {
			uent_t *e;
			size_t i = i4[j];

			if (j + PF_DIST < n4)
				utab_prefetch(&a->u, k4[j + PF_DIST]);
			if ((e = utab_get(&a->u, k4[j], &err)) == NULL)
				return err;
			ADDV(e->v, i);
		}
		for (size_t j = 0; j < n6; j++) {
			kent_t *e;
			size_t i = i6[j];

			if (j + PF_DIST < n6)
				ktab_prefetch(&a->k, khi[j + PF_DIST],
				    klo[j + PF_DIST]);
			if ((e = ktab_get(&a->k, khi[j], klo[j], &err)) == NULL)
				return err;
			ADDV(e->v, i);
		}
	}
	return 0;
}

/* Make room for n dictionary codes in a->dacc. */
static int
dacc_room(agg_t *a, size_t n)
{
	size_t cap = a->dcap == 0 ? 1024 : a->dcap;
	aggv_t *p;
	int err;

	while (cap < n)
		cap *= 2;
	if ((err = mem_take(a->ma, cap * sizeof(aggv_t))) != 0)
		return err;
	if ((p = big_calloc(cap * sizeof(aggv_t))) == NULL) {
		mem_give(a->ma, cap * sizeof(aggv_t));
		return FF_ENOMEM;
	}
	if (a->dacc != NULL) {
		big_free(a->dacc, a->dcap * sizeof(aggv_t));
		mem_give(a->ma, a->dcap * sizeof(aggv_t));
	}
	a->dacc = p;
	a->dcap = cap;
	return 0;
}

/*
 * Aggregate the selected rows of an address column in dictionary form:
 * each row into its code's slot of a->dacc, then each entry that got
 * rows into the tables, masked (IPv4 entries into the 32-bit one) and
 * its slot emptied again. One probe per entry instead of one per row.
 */
static int
add_adict(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel,
    const store_coldict_t *d, uint32_t m4, uint64_t mhi, uint64_t mlo)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets;
	const uint16_t *code = d->code;
	aggv_t *acc;
	int err = 0;

	if (d->n > a->dcap && (err = dacc_room(a, d->n)) != 0)
		return err;
	acc = a->dacc;
	/* a batch whose sums cannot reach 2^64 need not saturate */
	if (cb->fits)
		ROWS(cb, sel,
			aggv_t *v = &acc[code[i]];

			v->flows++;
			v->bytes += by[i];
			v->packets += pk[i];
		);
	else
		ROWS(cb, sel, ADDV(acc[code[i]], i););
	for (uint32_t j = 0; j < d->n4; j++) {
		uent_t *e;

		if (j + PF_DIST < d->n4 && acc[j + PF_DIST].flows != 0)
			utab_prefetch(&a->u, d->e4[j + PF_DIST] & m4);
		if (acc[j].flows == 0)
			continue;
		if ((e = utab_get(&a->u, d->e4[j] & m4, &err)) == NULL)
			return err;
		aggv_add(&e->v, &acc[j]);
		memset(&acc[j], 0, sizeof(acc[j]));
	}
	for (uint32_t j = d->n4; j < d->n; j++) {
		const uint8_t *p = d->e16[j - d->n4];
		kent_t *e;

		if (j + PF_DIST < d->n && acc[j + PF_DIST].flows != 0) {
			const uint8_t *q = d->e16[j + PF_DIST - d->n4];

			ktab_prefetch(&a->k, be64(q) & mhi, be64(q + 8) & mlo);
		}
		if (acc[j].flows == 0)
			continue;
		if ((e = ktab_get(&a->k, be64(p) & mhi, be64(p + 8) & mlo,
		    &err)) == NULL)
			return err;
		aggv_add(&e->v, &acc[j]);
		memset(&acc[j], 0, sizeof(acc[j]));
	}
	return 0;
}

static int
alloc_acct(memacct_t *ma, size_t n, size_t size, void **out)
{
	int err;

	if (n != 0 && n > SIZE_MAX / size)
		return FF_ENOMEM;
	if ((err = mem_take(ma, n * size)) != 0)
		return err;
	if ((*out = big_calloc(n * size)) == NULL) {
		mem_give(ma, n * size);
		return FF_ENOMEM;
	}
	return 0;
}

int
agg_init(agg_t *a, const qident_t *id, memacct_t *ma, uint64_t max_rows)
{
	int err = 0;

	memset(a, 0, sizeof(*a));
	a->id = id;
	a->ma = ma;
	a->max_rows = max_rows;
	utab_init(&a->u, ma, max_rows);
	ktab_init(&a->k, ma, max_rows);
	switch (id->kind) {
	case QUERY_TOTALS:
		a->mode = AGG_TOTALS;
		break;
	case QUERY_SERIES:
		a->mode = AGG_SERIES;
		err = alloc_acct(ma, (size_t)id->nbuckets, sizeof(aggv_t),
		    (void **)&a->bk);
		break;
	case QUERY_LIST:
		a->mode = AGG_LIST;
		break;
	default:
		switch (id->key) {
		case QUERY_KEY_SRCPORT:
		case QUERY_KEY_DSTPORT:
		case QUERY_KEY_PROTO:
			a->mode = AGG_DIR;
			a->ndir = id->key == QUERY_KEY_PROTO ? 256 : 65536;
			err = alloc_acct(ma, a->ndir, sizeof(aggv_t),
			    (void **)&a->dir);
			break;
		case QUERY_KEY_INIF:
		case QUERY_KEY_OUTIF:
		case QUERY_KEY_SRCAS:
		case QUERY_KEY_DSTAS:
			a->mode = AGG_NUM;
			break;
		default:
			a->mode = AGG_ADDR;
			break;
		}
	}
	if (err != 0)
		agg_free(a);
	return err;
}

void
agg_free(agg_t *a)
{
	if (a->dir != NULL) {
		big_free(a->dir, a->ndir * sizeof(aggv_t));
		mem_give(a->ma, a->ndir * sizeof(aggv_t));
	}
	if (a->bk != NULL) {
		big_free(a->bk, (size_t)a->id->nbuckets * sizeof(aggv_t));
		mem_give(a->ma, (size_t)a->id->nbuckets * sizeof(aggv_t));
	}
	if (a->heap != NULL) {
		free(a->heap);
		mem_give(a->ma, a->heapcap * sizeof(store_flow_t));
	}
	if (a->dacc != NULL) {
		big_free(a->dacc, a->dcap * sizeof(aggv_t));
		mem_give(a->ma, a->dcap * sizeof(aggv_t));
	}
	if (a->keep != NULL) {
		free(a->keep);
		mem_give(a->ma, a->keepwords * sizeof(uint64_t));
	}
	a->keep = NULL;
	a->keepwords = 0;
	a->dacc = NULL;
	a->dcap = 0;
	a->dir = NULL;
	a->bk = NULL;
	a->heap = NULL;
	a->nheap = a->heapcap = 0;
	utab_free(&a->u);
	ktab_free(&a->k);
}

/* --- the fast paths ------------------------------------------------------ */

static int
add_totals(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets;
	aggv_t t = a->tot;

	ROWS(cb, sel, ADDV(t, i););
	a->tot = t;
	return 0;
}

static int
add_dir(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets;
	aggv_t *d = a->dir;

	if (a->id->key == QUERY_KEY_PROTO) {
		const uint8_t *c = cb->proto;

		ROWS(cb, sel, ADDV(d[c[i]], i););
	} else {
		const uint16_t *c = a->id->key == QUERY_KEY_SRCPORT ?
		    cb->sport : cb->dport;

		ROWS(cb, sel, ADDV(d[c[i]], i););
	}
	return 0;
}

static int
add_num(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint32_t *c;

	switch (a->id->key) {
	case QUERY_KEY_INIF:
		c = cb->in_if;
		break;
	case QUERY_KEY_OUTIF:
		c = cb->out_if;
		break;
	case QUERY_KEY_SRCAS:
		c = cb->src_as;
		break;
	default:
		c = cb->dst_as;
		break;
	}
	return add_u32(a, cb, sel, c, UINT32_MAX);
}

/*
 * The selection sel of cb less the rows whose flags have bit absent (the
 * flow has no such address): sel itself when no row has it, else a->keep.
 * *none is set when nothing is left. Returns 0 or FF_ENOMEM / FF_ELIMIT.
 */
static int
drop_absent(agg_t *a, const store_colbatch_t *cb, const uint64_t **sel,
    uint8_t absent, int *none)
{
	const uint8_t *fl = cb->flags;
	size_t words = (cb->n + 63) / 64;
	uint8_t any = 0;
	uint64_t left = 0;
	int err;

	*none = 0;
	for (size_t i = 0; i < cb->n; i++)
		any |= fl[i];
	if (!(any & absent))
		return 0;
	if (words > a->keepwords) {
		uint64_t *k;

		if ((err = mem_take(a->ma, words * sizeof(uint64_t))) != 0)
			return err;
		if ((k = malloc(words * sizeof(uint64_t))) == NULL) {
			mem_give(a->ma, words * sizeof(uint64_t));
			return FF_ENOMEM;
		}
		if (a->keep != NULL) {
			free(a->keep);
			mem_give(a->ma, a->keepwords * sizeof(uint64_t));
		}
		a->keep = k;
		a->keepwords = words;
	}
	for (size_t w = 0; w < words; w++) {
		size_t base = w * 64, lim = cb->n - base;
		uint64_t m = 0;

		if (lim > 64)
			lim = 64;
		for (size_t b = 0; b < lim; b++)
			m |= (uint64_t)((fl[base + b] & absent) == 0) << b;
		if (*sel != NULL)
			m &= (*sel)[w];
		a->keep[w] = m;
		left |= m;
	}
	*sel = a->keep;
	*none = left == 0;
	return 0;
}

static int
add_addr(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint32_t *c4;
	const uint8_t (*c16)[16];
	uint32_t bit, m4;
	uint64_t mhi, mlo;
	uint8_t absent;
	int err, none;

	switch (a->id->key) {
	case QUERY_KEY_SRCIP:
	case QUERY_KEY_SRCNET:
		c4 = cb->src4;
		c16 = cb->src16;
		bit = STORE_COLBIT(STORE_COL_SRC);
		absent = STORE_FLOW_F_NO_SRC;
		break;
	case QUERY_KEY_DSTIP:
	case QUERY_KEY_DSTNET:
		c4 = cb->dst4;
		c16 = cb->dst16;
		bit = STORE_COLBIT(STORE_COL_DST);
		absent = STORE_FLOW_F_NO_DST;
		break;
	default:
		c4 = cb->exporter4;
		c16 = cb->exporter16;
		bit = STORE_COLBIT(STORE_COL_EXPORTER);
		absent = 0;
		break;
	}
	/* a flow without the address has no key: it is left out */
	if (absent != 0 && (cb->cols & STORE_COLBIT(STORE_COL_FLAGS))) {
		if ((err = drop_absent(a, cb, &sel, absent, &none)) != 0)
			return err;
		if (none)
			return 0;
	}
	key_masks(a->id, &m4, &mhi, &mlo);
	if (cb->dict & bit)
		return add_adict(a, cb, sel, &cb->dicts[key_column(a->id->key)],
		    m4, mhi, mlo);
	if (cb->v4 & bit)
		return add_u32(a, cb, sel, c4, m4);
	return add_a16(a, cb, sel, c16, m4, mhi, mlo);
}

static int
add_series(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets, *f = cb->first_ms;
	const uint64_t t0 = a->id->t0, step = a->id->step_ms;
	const uint64_t nb = a->id->nbuckets;
	uint64_t blo = 1, bhi = 0;
	aggv_t *d = NULL;

	/* Rows come roughly in time order: divide only on a bucket change. */
	ROWS(cb, sel,
		uint64_t t = f[i];

		if (t < blo || t >= bhi) {
			uint64_t b;

			if (t < t0 || (b = (t - t0) / step) >= nb)
				continue;
			d = &a->bk[b];
			blo = t0 + b * step;
			bhi = step > UINT64_MAX - blo ? UINT64_MAX :
			    blo + step;
		}
		ADDV(*d, i);
	);
	return 0;
}

static void
heap_down(store_flow_t *h, size_t n, size_t root)
{
	size_t child;
	store_flow_t tmp;

	for (; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && flow_cmp(&h[child], &h[child + 1]) < 0)
			child++;
		if (flow_cmp(&h[root], &h[child]) >= 0)
			break;
		tmp = h[root];
		h[root] = h[child];
		h[child] = tmp;
	}
}

static int
heap_room(agg_t *a)
{
	size_t ncap = a->heapcap == 0 ? 64 : a->heapcap * 2;
	store_flow_t *nh;
	int err;

	if (ncap > a->id->limit)
		ncap = a->id->limit;
	if ((err = mem_take(a->ma, (ncap - a->heapcap) *
	    sizeof(store_flow_t))) != 0)
		return err;
	if ((nh = realloc(a->heap, ncap * sizeof(store_flow_t))) == NULL) {
		mem_give(a->ma, (ncap - a->heapcap) * sizeof(store_flow_t));
		return FF_ENOMEM;
	}
	a->heap = nh;
	a->heapcap = ncap;
	return 0;
}

static int
add_list(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	const uint64_t *by = cb->bytes, *pk = cb->packets, *f = cb->first_ms;
	const size_t limit = a->id->limit;
	aggv_t t = a->tot;
	store_flow_t fl;
	int err;

	ROWS(cb, sel,
		ADDV(t, i);
		/* Past the last kept flow: it cannot enter the listing. */
		if (a->nheap == limit && f[i] > a->heap[0].first_ms)
			continue;
		store_colbatch_row(cb, i, &fl);
		/* flows stored before the decoders' clamp may hold what
		   the wire form of a listing rejects */
		store_flow_fix_masks(&fl);
		if (a->nheap < limit) {
			size_t c;

			if (a->nheap == a->heapcap &&
			    (err = heap_room(a)) != 0) {
				a->tot = t;
				return err;
			}
			c = a->nheap++;
			a->heap[c] = fl;
			while (c > 0 &&
			    flow_cmp(&a->heap[(c - 1) / 2], &a->heap[c]) < 0) {
				store_flow_t tmp = a->heap[c];

				a->heap[c] = a->heap[(c - 1) / 2];
				a->heap[(c - 1) / 2] = tmp;
				c = (c - 1) / 2;
			}
		} else if (flow_cmp(&fl, &a->heap[0]) < 0) {
			a->heap[0] = fl;
			heap_down(a->heap, a->nheap, 0);
		}
	);
	a->tot = t;
	return 0;
}

int
agg_add(agg_t *a, const store_colbatch_t *cb, const uint64_t *sel)
{
	switch (a->mode) {
	case AGG_TOTALS:
		return add_totals(a, cb, sel);
	case AGG_SERIES:
		return add_series(a, cb, sel);
	case AGG_LIST:
		return add_list(a, cb, sel);
	case AGG_DIR:
		return add_dir(a, cb, sel);
	case AGG_NUM:
		return add_num(a, cb, sel);
	default:
		return add_addr(a, cb, sel);
	}
}

/* --- folding a partial into a result --------------------------------------- */

static int
flow_qcmp(const void *x, const void *y)
{
	return flow_cmp(x, y);
}

static int
finish_list(agg_t *a, query_result_t *r)
{
	store_flow_t *m;
	size_t nm;
	int err;

	if (a->nheap > 1)
		qsort(a->heap, a->nheap, sizeof(store_flow_t), flow_qcmp);
	if ((err = flows_merge(r->fl, r->nfl, a->heap, a->nheap,
	    r->id.limit, &r->ma, &m, &nm)) != 0)
		return err;
	free(r->fl);
	mem_give(&r->ma, r->nfl * sizeof(store_flow_t));
	r->fl = m;
	r->nfl = nm;
	aggv_add(&r->tot, &a->tot);
	return 0;
}

/* Move a's 16-byte table into r's empty one. */
static int
steal_ktab(agg_t *a, query_result_t *r)
{
	size_t bytes = a->k.cap * sizeof(kent_t);
	int err;

	if (r->max_rows != 0 && a->k.n > r->max_rows)
		return FF_ELIMIT;
	if ((err = mem_take(&r->ma, bytes)) != 0)
		return err;
	mem_give(a->ma, bytes);
	ktab_free(&r->tab);
	r->tab.e = a->k.e;
	r->tab.cap = a->k.cap;
	r->tab.n = a->k.n;
	r->tab.shift = a->k.shift;
	a->k.e = NULL;
	a->k.cap = a->k.n = 0;
	for (size_t i = 0; i < r->tab.cap; i++) {
		kent_t *e = &r->tab.e[i];

		if (e->v.flows == 0)
			continue;
		aggv_add(&r->tot, &e->v);
		if (r->id.kind == QUERY_DISTINCT) {
			e->v.flows = 1;
			e->v.bytes = e->v.packets = 0;
		}
	}
	return 0;
}

static int
finish_keyed(agg_t *a, query_result_t *r)
{
	int err;

	if (a->k.n > 0) {
		if (r->tab.n == 0) {
			if ((err = steal_ktab(a, r)) != 0)
				return err;
		} else {
			for (size_t i = 0; i < a->k.cap; i++) {
				const kent_t *e = &a->k.e[i];

				if (e->v.flows == 0)
					continue;
				aggv_add(&r->tot, &e->v);
				if ((err = result_add_key(r, e->hi, e->lo,
				    &e->v)) != 0)
					return err;
			}
		}
	}
	if (a->u.n > 0) {
		uint64_t base = a->mode == AGG_ADDR ? KEY_V4MAPPED : 0;

		if ((err = ktab_reserve(&r->tab, r->tab.n + a->u.n)) != 0)
			return err;
		for (size_t i = 0; i < a->u.cap; i++) {
			const uent_t *e = &a->u.e[i];

			if (e->v.flows == 0)
				continue;
			aggv_add(&r->tot, &e->v);
			if ((err = result_add_key(r, 0, base | e->k,
			    &e->v)) != 0)
				return err;
		}
	}
	for (size_t i = 0; i < a->ndir; i++) {
		if (a->dir[i].flows == 0)
			continue;
		aggv_add(&r->tot, &a->dir[i]);
		if ((err = result_add_key(r, 0, i, &a->dir[i])) != 0)
			return err;
	}
	return 0;
}

int
agg_merge(agg_t *dst, agg_t *src)
{
	int err = 0;

	if (dst->mode != AGG_ADDR && dst->mode != AGG_NUM &&
	    dst->mode != AGG_DIR)
		return 0;
	utab_reserve_fill(&dst->u, &src->u);
	ktab_reserve_fill(&dst->k, &src->k);
	for (size_t i = 0; i < src->u.cap; i++) {
		const uent_t *o = &src->u.e[i];
		uent_t *e;

		if (o->v.flows == 0)
			continue;
		if ((e = utab_get(&dst->u, o->k, &err)) == NULL)
			return err;
		aggv_add(&e->v, &o->v);
	}
	for (size_t i = 0; i < src->k.cap; i++) {
		const kent_t *o = &src->k.e[i];
		kent_t *e;

		if (o->v.flows == 0)
			continue;
		if ((e = ktab_get(&dst->k, o->hi, o->lo, &err)) == NULL)
			return err;
		aggv_add(&e->v, &o->v);
	}
	for (size_t i = 0; i < src->ndir && i < dst->ndir; i++)
		aggv_add(&dst->dir[i], &src->dir[i]);
	if (src->dir != NULL)
		memset(src->dir, 0, src->ndir * sizeof(aggv_t));
	utab_free(&src->u);
	ktab_free(&src->k);
	return 0;
}

int
agg_finish(agg_t *a, query_result_t *r)
{
	int err = 0;

	switch (a->mode) {
	case AGG_TOTALS:
		aggv_add(&r->tot, &a->tot);
		break;
	case AGG_SERIES:
		for (uint64_t b = 0; b < a->id->nbuckets; b++) {
			if (a->bk[b].flows == 0)
				continue;
			aggv_add(&r->bk[b], &a->bk[b]);
			aggv_add(&r->tot, &a->bk[b]);
		}
		break;
	case AGG_LIST:
		err = finish_list(a, r);
		break;
	default:
		err = finish_keyed(a, r);
		break;
	}
	a->tot.flows = a->tot.bytes = a->tot.packets = 0;
	agg_free(a);
	return err;
}
