/*
 * Helpers shared by test_query.c and test_result.c: a seeded random flow
 * set, column batches built from flows (in both address forms), and a
 * brute-force reference of every query kind. The reference is written
 * independently of store/query/agg.c and result.c: keys are built byte
 * by byte from the flow record, aggregated by sorting, and ordered with
 * memcmp; listings are ordered by memcmp of a canonical byte encoding.
 * Every expected value in the tests comes from it, over the same rows.
 */
#ifndef FF_TESTS_QTEST_H
#define FF_TESTS_QTEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "store/query/agg.h"

/* --- random numbers (splitmix64) ------------------------------------------ */

static uint64_t qt_rng = 1;

static inline uint64_t
qt_rand(void)
{
	uint64_t z = (qt_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t
qt_below(uint64_t n)
{
	return n == 0 ? 0 : qt_rand() % n;
}

/* --- flows ------------------------------------------------------------------ */

#define QT_T0	1700000000000ULL	/* 2023-11-14T22:13:20Z */
#define QT_SPAN	100000ULL		/* first_ms in [QT_T0, QT_T0 + SPAN) */

static inline void
qt_v4(uint8_t a[16], uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	addr_from_v4(a, b);
}

static inline void
qt_v6(uint8_t a[16], uint32_t v)
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[6] = (uint8_t)(v >> 8);	/* varies inside the /64 and across */
	a[7] = (uint8_t)v;
	put_be32(a + 12, v * 2654435761u);
}

/*
 * n random flows. Small value domains make keys repeat and metrics tie:
 * addresses from pools of 40 (v6_pct percent IPv6), ports from 12 common
 * ones or random, bytes and packets from small sets.
 */
static inline store_flow_t *
qt_flows(size_t n, unsigned v6_pct)
{
	static const uint16_t ports[] = { 53, 80, 123, 443, 22, 25, 8080,
	    3389, 993, 5060, 1194, 0 };
	static const uint8_t protos[] = { 6, 6, 6, 17, 17, 1, 47, 58 };
	store_flow_t *fl = calloc(n ? n : 1, sizeof(*fl));

	for (size_t i = 0; i < n; i++) {
		store_flow_t *f = &fl[i];
		int v6 = qt_below(100) < v6_pct;
		uint32_t s = (uint32_t)qt_below(40), d = (uint32_t)qt_below(40);

		f->first_ms = QT_T0 + qt_below(QT_SPAN);
		f->last_ms = f->first_ms + qt_below(5000);
		f->bytes = 40 * (1 + qt_below(20));
		f->packets = 1 + qt_below(8);
		if (v6) {
			qt_v6(f->src, s);
			qt_v6(f->dst, 1000 + d);
			f->flags = STORE_FLOW_F_V6;
		} else {
			qt_v4(f->src, 0x0a000000u | s << 6 | (uint32_t)qt_below(3));
			qt_v4(f->dst, 0xc0a80000u | d << 3);
		}
		qt_v4(f->exporter, 0x7f000001u + (uint32_t)qt_below(3));
		qt_v4(f->nexthop, 0x0a0000feu);
		f->proto = protos[qt_below(FF_NELEM(protos))];
		f->sport = qt_below(3) == 0 ? ports[qt_below(FF_NELEM(ports))] :
		    (uint16_t)(1024 + qt_below(200));
		f->dport = ports[qt_below(FF_NELEM(ports))];
		f->in_if = (uint32_t)qt_below(5);
		f->out_if = 100 + (uint32_t)qt_below(3);
		f->src_as = qt_below(2) ? 64512 + (uint32_t)qt_below(4) : 0;
		f->dst_as = 4200000000u + (uint32_t)qt_below(3);
		f->tcp_flags = f->proto == 6 ? (uint8_t)qt_below(64) : 0;
		f->tos = (uint8_t)(qt_below(4) * 8);
		f->src_mask = 24;
		f->dst_mask = v6 ? 64 : 29;
		f->sampling = 1;
		f->flags |= STORE_FLOW_F_FROM_V9;
	}
	return fl;
}

/* --- column batches ---------------------------------------------------------- */

/* A batch built from flows, owning its arrays (from store/columns.def). */
typedef struct qt_batch {
	store_colbatch_t cb;
	void *arr[STORE_COL_COUNT];	/* rows; 16-byte rows for addresses */
	uint32_t *a4[STORE_COL_COUNT];	/* address columns in IPv4 form */
} qt_batch_t;

/* Integer column `name` of the flows into b (valid when in cols). */
#define QT_FILL_INT(id, name, T) do {					\
	T *a_ = calloc(m, sizeof(T));					\
									\
	for (size_t i = 0; i < n; i++)					\
		a_[i] = f[i].name;					\
	b->arr[STORE_COL_##id] = a_;					\
	if (cols & STORE_COLBIT(STORE_COL_##id))			\
		b->cb.name = a_;					\
} while (0);
#define QT_FILL_U8(id, name)	QT_FILL_INT(id, name, uint8_t)
#define QT_FILL_U16(id, name)	QT_FILL_INT(id, name, uint16_t)
#define QT_FILL_U32(id, name)	QT_FILL_INT(id, name, uint32_t)
#define QT_FILL_U64(id, name)	QT_FILL_INT(id, name, uint64_t)
/*
 * Address column `name`: in IPv4 form when asked for in v4mask and every
 * row is IPv4, else 16-byte rows; the other form is left unreadable.
 */
#define QT_FILL_ADDR(id, name) do {					\
	const uint32_t bit_ = STORE_COLBIT(STORE_COL_##id);		\
	uint8_t (*a16_)[16] = calloc(m, 16);				\
	uint32_t *a4_ = calloc(m, 4);					\
	int all4_ = 1;							\
									\
	for (size_t i = 0; i < n; i++) {				\
		memcpy(a16_[i], f[i].name, 16);				\
		a4_[i] = be32(f[i].name + 12);				\
		all4_ &= addr_is_v4(f[i].name);				\
	}								\
	b->arr[STORE_COL_##id] = a16_;					\
	b->a4[STORE_COL_##id] = a4_;					\
	if (all4_ && (v4mask & bit_))					\
		b->cb.v4 |= bit_;					\
	if ((cols & bit_) && (b->cb.v4 & bit_))				\
		b->cb.name##4 = a4_;					\
	else if (cols & bit_)						\
		b->cb.name##16 = (const uint8_t (*)[16])a16_;		\
} while (0);

/*
 * Build a batch of flows f[0..n) holding the columns in cols (the others
 * NULL). The address columns in v4mask whose rows are all IPv4 are given
 * in IPv4 form, as the store does.
 */
static inline qt_batch_t *
qt_batch_cols(const store_flow_t *f, size_t n, uint32_t v4mask,
    uint32_t cols)
{
	qt_batch_t *b = calloc(1, sizeof(*b));
	size_t m = n ? n : 1;

	b->cb.n = n;
	b->cb.cols = cols;
	b->cb.min_first = UINT64_MAX;
	b->cb.min_last = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		b->cb.min_first = FF_MIN(b->cb.min_first, f[i].first_ms);
		b->cb.max_first = FF_MAX(b->cb.max_first, f[i].first_ms);
		b->cb.min_last = FF_MIN(b->cb.min_last, f[i].last_ms);
		b->cb.max_last = FF_MAX(b->cb.max_last, f[i].last_ms);
	}
#define STORE_COLUMN(id, name, type, rank, filter, list) QT_FILL_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	return b;
}

/*
 * A batch of every column of flows f[0..n). With v4form, every address
 * column whose rows are all IPv4 is given in IPv4 form, as the store does.
 */
static inline qt_batch_t *
qt_batch(const store_flow_t *f, size_t n, int v4form)
{
	return qt_batch_cols(f, n, v4form ? STORE_COLS_ADDR : 0,
	    STORE_COLS_ALL);
}

static inline void
qt_batch_free(qt_batch_t *b)
{
	if (b == NULL)
		return;
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		free(b->arr[c]);
		free(b->a4[c]);
	}
	free(b);
}

/* --- query identities ----------------------------------------------------- */

static inline query_spec_t
qt_spec(query_kind_t kind, query_key_t key, query_order_t order)
{
	query_spec_t s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.t0 = 0;
	s.t1 = UINT64_MAX;
	s.key = key;
	s.prefix4 = 24;
	s.prefix6 = 48;
	s.order = order;
	s.n = 10;
	s.limit = 25;
	if (kind == QUERY_SERIES) {
		s.t0 = QT_T0;
		s.t1 = QT_T0 + QT_SPAN;
		s.step_ms = 7000;	/* the last bucket is short */
	}
	return s;
}

/* Every kind, key and order the engine knows. */
static const struct qt_case {
	query_kind_t kind;
	query_key_t key;
	query_order_t order;
} qt_cases[] = {
	{ QUERY_TOTALS, 0, 0 },
	{ QUERY_SERIES, 0, 0 },
	{ QUERY_LIST, 0, 0 },
	{ QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_PACKETS },
	{ QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_FLOWS },
	{ QUERY_TOPN, QUERY_KEY_DSTIP, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_SRCPORT, QUERY_ORDER_FLOWS },
	{ QUERY_TOPN, QUERY_KEY_DSTPORT, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_DSTPORT, QUERY_ORDER_PACKETS },
	{ QUERY_TOPN, QUERY_KEY_PROTO, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_SRCNET, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_DSTNET, QUERY_ORDER_FLOWS },
	{ QUERY_TOPN, QUERY_KEY_EXPORTER, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_INIF, QUERY_ORDER_PACKETS },
	{ QUERY_TOPN, QUERY_KEY_OUTIF, QUERY_ORDER_BYTES },
	{ QUERY_TOPN, QUERY_KEY_SRCAS, QUERY_ORDER_FLOWS },
	{ QUERY_TOPN, QUERY_KEY_DSTAS, QUERY_ORDER_BYTES },
	{ QUERY_DISTINCT, QUERY_KEY_SRCIP, 0 },
	{ QUERY_DISTINCT, QUERY_KEY_DSTPORT, 0 },
	{ QUERY_DISTINCT, QUERY_KEY_PROTO, 0 },
	{ QUERY_DISTINCT, QUERY_KEY_DSTNET, 0 },
	{ QUERY_DISTINCT, QUERY_KEY_SRCAS, 0 },
};

/* --- the reference ------------------------------------------------------------ */

/* Clear the bits of p[0..nbits/8) from bit keep on. */
static inline void
qt_mask(uint8_t *p, unsigned nbits, unsigned keep)
{
	for (unsigned b = keep; b < nbits; b++)
		p[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
}

/* The key of flow f for id, byte by byte. */
static inline void
qt_key(const qident_t *id, const store_flow_t *f, uint8_t k[16])
{
	uint32_t v = 0;

	memset(k, 0, 16);
	switch (id->key) {
	case QUERY_KEY_SRCIP:
		memcpy(k, f->src, 16);
		return;
	case QUERY_KEY_DSTIP:
		memcpy(k, f->dst, 16);
		return;
	case QUERY_KEY_EXPORTER:
		memcpy(k, f->exporter, 16);
		return;
	case QUERY_KEY_SRCNET:
	case QUERY_KEY_DSTNET:
		memcpy(k, id->key == QUERY_KEY_SRCNET ? f->src : f->dst, 16);
		if (addr_is_v4(k))
			qt_mask(k + 12, 32, id->prefix4);
		else
			qt_mask(k, 128, id->prefix6);
		return;
	case QUERY_KEY_SRCPORT:
		v = f->sport;
		break;
	case QUERY_KEY_DSTPORT:
		v = f->dport;
		break;
	case QUERY_KEY_PROTO:
		v = f->proto;
		break;
	case QUERY_KEY_INIF:
		v = f->in_if;
		break;
	case QUERY_KEY_OUTIF:
		v = f->out_if;
		break;
	case QUERY_KEY_SRCAS:
		v = f->src_as;
		break;
	case QUERY_KEY_DSTAS:
		v = f->dst_as;
		break;
	}
	put_be32(k + 12, v);
}

static int qt_order;	/* the order metric of qt_rowcmp */

static inline uint64_t
qt_metric(const query_row_t *r)
{
	return qt_order == QUERY_ORDER_PACKETS ? r->packets :
	    qt_order == QUERY_ORDER_FLOWS ? r->flows : r->bytes;
}

/* Answer order: metric descending, then key ascending (memcmp). */
static inline int
qt_rowcmp(const void *x, const void *y)
{
	const query_row_t *a = x, *b = y;

	if (qt_metric(a) != qt_metric(b))
		return qt_metric(a) > qt_metric(b) ? -1 : 1;
	return memcmp(a->key, b->key, 16);
}

static inline int
qt_keycmp(const void *x, const void *y)
{
	return memcmp(((const query_row_t *)x)->key,
	    ((const query_row_t *)y)->key, 16);
}

/*
 * Reference aggregate of the flows with sel[i] set (sel NULL: all) into
 * rows in answer order (DISTINCT: key order, metrics zero). Returns the
 * row count; *tot gets the totals.
 */
static inline size_t
qt_ref_keyed(const qident_t *id, const store_flow_t *f, size_t n,
    const uint8_t *sel, query_row_t **out, aggv_t *tot)
{
	query_row_t *r = calloc(n ? n : 1, sizeof(*r));
	size_t m = 0, k = 0;

	memset(tot, 0, sizeof(*tot));
	for (size_t i = 0; i < n; i++) {
		if (sel != NULL && !sel[i])
			continue;
		qt_key(id, &f[i], r[m].key);
		r[m].flows = 1;
		r[m].bytes = f[i].bytes;
		r[m].packets = f[i].packets;
		tot->flows++;
		tot->bytes += f[i].bytes;
		tot->packets += f[i].packets;
		m++;
	}
	qsort(r, m, sizeof(*r), qt_keycmp);
	for (size_t i = 0; i < m; i++) {
		if (k > 0 && memcmp(r[k - 1].key, r[i].key, 16) == 0) {
			r[k - 1].flows += r[i].flows;
			r[k - 1].bytes += r[i].bytes;
			r[k - 1].packets += r[i].packets;
		} else
			r[k++] = r[i];
	}
	if (id->kind == QUERY_DISTINCT) {
		for (size_t i = 0; i < k; i++)
			r[i].flows = r[i].bytes = r[i].packets = 0;
	} else {
		qt_order = id->order;
		qsort(r, k, sizeof(*r), qt_rowcmp);
	}
	*out = r;
	return k;
}

/* Bytes of a flow's canonical form: every column, packed. */
enum {
	QT_FLOW_LEN = 0
#define STORE_COLUMN(id, name, type, rank, filter, list) + STORE_WIDTH_##type
#include "store/columns.def"
#undef STORE_COLUMN
};

/*
 * Canonical bytes of a flow in listing order (see flow_cmp), as a listed
 * flow goes on the wire: the columns by rank (store/columns.def), each
 * big-endian in its width, addresses as their 16 bytes.
 */
static inline void
qt_flow_bytes(const store_flow_t *f, uint8_t b[QT_FLOW_LEN])
{
	uint8_t field[STORE_COL_COUNT][16];
	unsigned width[STORE_COL_COUNT] = { 0 }, pos = 0;
	int rank[STORE_COL_COUNT];
	size_t c = 0;

#define QT_BE(v, w) do {						\
	for (unsigned j_ = 0; j_ < (w); j_++)				\
		field[c][j_] = (uint8_t)((uint64_t)(v) >>		\
		    (8 * ((w) - 1 - j_)));				\
} while (0)
#define QT_BYTES_U8(name)	QT_BE(f->name, 1);
#define QT_BYTES_U16(name)	QT_BE(f->name, 2);
#define QT_BYTES_U32(name)	QT_BE(f->name, 4);
#define QT_BYTES_U64(name)	QT_BE(f->name, 8);
#define QT_BYTES_ADDR(name)	memcpy(field[c], f->name, 16);
#define STORE_COLUMN(id, name, type, rk, filter, list)			\
	QT_BYTES_##type(name)						\
	width[c] = STORE_WIDTH_##type;					\
	rank[c++] = rk;
#include "store/columns.def"
#undef STORE_COLUMN
#undef QT_BE
	for (int r = 0; r < STORE_COL_COUNT; r++)
		for (c = 0; c < STORE_COL_COUNT; c++)
			if (rank[c] == r) {
				memcpy(b + pos, field[c], width[c]);
				pos += width[c];
			}
}

static inline int
qt_flowcmp(const void *x, const void *y)
{
	uint8_t a[QT_FLOW_LEN], b[QT_FLOW_LEN];

	qt_flow_bytes(x, a);
	qt_flow_bytes(y, b);
	return memcmp(a, b, sizeof(a));
}

/* Reference listing: the selected flows sorted, first limit kept. */
static inline size_t
qt_ref_list(const qident_t *id, const store_flow_t *f, size_t n,
    const uint8_t *sel, store_flow_t **out, aggv_t *tot)
{
	store_flow_t *l = calloc(n ? n : 1, sizeof(*l));
	size_t m = 0;

	memset(tot, 0, sizeof(*tot));
	for (size_t i = 0; i < n; i++) {
		if (sel != NULL && !sel[i])
			continue;
		l[m++] = f[i];
		tot->flows++;
		tot->bytes += f[i].bytes;
		tot->packets += f[i].packets;
	}
	qsort(l, m, sizeof(*l), qt_flowcmp);
	*out = l;
	return m < id->limit ? m : id->limit;
}

/* Reference series: nbuckets buckets of the selected flows. */
static inline aggv_t *
qt_ref_series(const qident_t *id, const store_flow_t *f, size_t n,
    const uint8_t *sel, aggv_t *tot)
{
	aggv_t *bk = calloc(id->nbuckets, sizeof(*bk));

	memset(tot, 0, sizeof(*tot));
	for (size_t i = 0; i < n; i++) {
		uint64_t b;

		if (sel != NULL && !sel[i])
			continue;
		b = (f[i].first_ms - id->t0) / id->step_ms;
		bk[b].flows++;
		bk[b].bytes += f[i].bytes;
		bk[b].packets += f[i].packets;
		tot->flows++;
		tot->bytes += f[i].bytes;
		tot->packets += f[i].packets;
	}
	return bk;
}

/*
 * Aggregate flows f[0..n) for id through agg_add in batches of bsize rows
 * (alternating between two partials, as two scan threads would), with
 * the rows selected by sel (NULL: all; the bitmaps are built from it),
 * then fold both into a new result. NULL on error (*err set).
 */
static inline query_result_t *
qt_agg(const qident_t *id, const store_flow_t *f, size_t n,
    const uint8_t *sel, size_t bsize, int v4form, int *err)
{
	agg_t a[2];
	query_result_t *r;
	memacct_t ma;

	atomic_init(&ma.used, 0);
	ma.max = 0;
	*err = 0;
	if ((*err = agg_init(&a[0], id, &ma, 0)) != 0)
		return NULL;
	if ((*err = agg_init(&a[1], id, &ma, 0)) != 0) {
		agg_free(&a[0]);
		return NULL;
	}
	for (size_t off = 0, bi = 0; off < n && *err == 0; off += bsize,
	    bi++) {
		size_t m = FF_MIN(bsize, n - off);
		qt_batch_t *b = qt_batch(f + off, m, v4form);
		uint64_t *bits = NULL;

		if (sel != NULL) {
			bits = calloc((m + 63) / 64, 8);
			for (size_t i = 0; i < m; i++)
				if (sel[off + i])
					bits[i / 64] |= 1ULL << (i % 64);
		}
		*err = agg_add(&a[bi % 2], &b->cb, bits);
		free(bits);
		qt_batch_free(b);
	}
	r = *err == 0 ? result_new_id(id, 0, 0) : NULL;
	if (r != NULL && ((*err = agg_finish(&a[0], r)) != 0 ||
	    (*err = agg_finish(&a[1], r)) != 0)) {
		query_result_free(r);
		r = NULL;
	}
	agg_free(&a[0]);
	agg_free(&a[1]);
	if (r == NULL && *err == 0)
		*err = FF_ENOMEM;
	return r;
}

#endif
