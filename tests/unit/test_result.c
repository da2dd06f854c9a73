/*
 * Result tests: merge (a property test over many random 4-way splits of
 * a flow set, for every query kind, in random merge orders and
 * groupings, some partials passed through pack/unpack), msgpack round
 * trips, the strict unpacker against damaged and inconsistent buffers,
 * the TPUT selections (and a whole TPUT run built on them), and the
 * table, JSON and CSV output. Expected answers come from the reference
 * in qtest.h or, where written out, are derived by hand in a comment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>
#include <cmocka.h>

#include "qtest.h"

static void
make_id(const struct qt_case *c, qident_t *id)
{
	query_spec_t s = qt_spec(c->kind, c->key, c->order);
	char err[128];

	assert_int_equal(qident_from_spec(&s, id, err, sizeof(err)), 0);
}

/* pack r, unpack it into a new result; the old one is freed. */
static query_result_t *
wire(query_result_t *r)
{
	query_result_t *o = NULL;
	uint8_t *buf;
	size_t len;

	assert_int_equal(query_result_pack(r, &buf, &len), 0);
	assert_int_equal(query_result_unpack(buf, len, &o), 0);
	free(buf);
	assert_true(query_result_equal(r, o));
	query_result_free(r);
	return o;
}

/* --- merge: property test over random 4-way splits ---------------------- */

static void
test_merge_property(void **state)
{
	(void)state;
	qt_rng = 77;
	for (size_t c = 0; c < FF_NELEM(qt_cases); c++) {
		for (int iter = 0; iter < 40; iter++) {
			size_t n = 50 + qt_below(600), np[4] = { 0 };
			store_flow_t *f = qt_flows(n, (unsigned)qt_below(60));
			store_flow_t *part[4];
			query_result_t *whole, *pool[4];
			qident_t id;
			int err, npool = 4;

			/* Some flows twice: equal records in a listing. */
			for (size_t i = 0; i < n / 20; i++)
				f[qt_below(n)] = f[qt_below(n)];
			make_id(&qt_cases[c], &id);
			whole = qt_agg(&id, f, n, NULL, 1 + qt_below(200),
			    (int)qt_below(2), &err);
			assert_non_null(whole);
			for (int p = 0; p < 4; p++)
				part[p] = calloc(n, sizeof(store_flow_t));
			for (size_t i = 0; i < n; i++) {
				int p = (int)qt_below(4);

				part[p][np[p]++] = f[i];
			}
			for (int p = 0; p < 4; p++) {
				pool[p] = qt_agg(&id, part[p], np[p], NULL,
				    1 + qt_below(100), (int)qt_below(2), &err);
				assert_non_null(pool[p]);
				if (qt_below(2))
					pool[p] = wire(pool[p]);
				free(part[p]);
			}
			/* Merge two random members until one is left: every
			   grouping and order turns up. */
			while (npool > 1) {
				int a = (int)qt_below((uint64_t)npool), b;

				do
					b = (int)qt_below((uint64_t)npool);
				while (b == a);
				assert_int_equal(query_result_merge(pool[a],
				    pool[b]), 0);
				query_result_free(pool[b]);
				pool[b] = pool[--npool];
			}
			if (!query_result_equal(whole, pool[0]))
				fail_msg("case %zu iteration %d: merged "
				    "partials differ from the whole", c, iter);
			query_result_free(pool[0]);
			query_result_free(whole);
			qident_clear(&id);
			free(f);
		}
	}
}

static void
test_merge_mismatch(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
	    QUERY_ORDER_BYTES);
	query_spec_t variants[6];
	qident_t id, id2;
	query_result_t *a, *b;
	char e[128];

	(void)state;
	for (int i = 0; i < 6; i++)
		variants[i] = s;
	variants[0].order = QUERY_ORDER_FLOWS;
	variants[1].n = 11;
	variants[2].t1 = 12345;
	variants[3].filter = "proto tcp";
	variants[4].key = QUERY_KEY_DSTIP;
	variants[5].kind = QUERY_DISTINCT;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	a = result_new_id(&id, 0, 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(qident_from_spec(&variants[i], &id2, e,
		    sizeof(e)), 0);
		b = result_new_id(&id2, 0, 0);
		assert_int_equal(query_result_merge(a, b), FF_EINVAL);
		assert_int_equal(query_result_merge(b, a), FF_EINVAL);
		assert_false(query_result_equal(a, b));
		query_result_free(b);
		qident_clear(&id2);
	}
	query_result_free(a);
	qident_clear(&id);
}

static void
test_merge_limits(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
	    QUERY_ORDER_BYTES);
	query_result_t *dst, *src;
	store_flow_t *f;
	qident_t id;
	char e[128];
	int err;

	(void)state;
	qt_rng = 4;
	f = qt_flows(400, 0);	/* up to 120 source addresses */
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	src = qt_agg(&id, f, 400, NULL, 100, 1, &err);
	dst = result_new_id(&id, 0, 10);	/* at most 10 rows */
	assert_int_equal(query_result_merge(dst, src), FF_ELIMIT);
	query_result_free(dst);
	dst = result_new_id(&id, 1024, 0);	/* at most 1 KiB */
	assert_int_equal(query_result_merge(dst, src), FF_ELIMIT);
	query_result_free(dst);
	query_result_free(src);
	qident_clear(&id);
	free(f);
}

/* --- pack and unpack -------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	(void)state;
	qt_rng = 99;
	for (size_t c = 0; c < FF_NELEM(qt_cases); c++) {
		for (unsigned v6 = 0; v6 <= 50; v6 += 50) {
			store_flow_t *f = qt_flows(700, v6);
			query_result_t *r, *o;
			query_meta_t m1, m2;
			query_info_t i1, i2;
			msgpack_unpacked u;
			uint8_t *buf;
			size_t len, off = 0;
			qident_t id;
			int err;

			make_id(&qt_cases[c], &id);
			r = qt_agg(&id, f, 700, NULL, 64, 1, &err);
			r->meta.flows_scanned = 1000;
			r->meta.flows_matched = 700;
			r->meta.blocks_scanned = 3;
			r->meta.blocks_skipped = 2;
			r->meta.elapsed_us = 1234;
			r->meta.blocks_damaged = 1;
			assert_int_equal(query_result_pack(r, &buf, &len), 0);
			/* msgpack-c itself reads it as one map. */
			msgpack_unpacked_init(&u);
			assert_int_equal(msgpack_unpack_next(&u, (const char *)
			    buf, len, &off), MSGPACK_UNPACK_SUCCESS);
			assert_int_equal(off, len);
			assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
			msgpack_unpacked_destroy(&u);
			assert_int_equal(query_result_unpack(buf, len, &o), 0);
			assert_true(query_result_equal(r, o));
			query_result_get_meta(r, &m1);
			query_result_get_meta(o, &m2);
			assert_memory_equal(&m1, &m2, sizeof(m1));
			query_result_get_info(r, &i1);
			query_result_get_info(o, &i2);
			assert_int_equal(i1.qid, i2.qid);
			assert_int_equal(i1.rows, i2.rows);
			assert_string_equal(i1.filter, i2.filter);
			/* Truncated anywhere, or with a byte more: refused. */
			for (size_t l = 0; l < len; l++) {
				query_result_t *t = NULL;

				assert_int_not_equal(query_result_unpack(buf,
				    l, &t), 0);
				assert_null(t);
			}
			query_result_free(o);
			buf = realloc(buf, len + 1);
			buf[len] = 0;
			assert_int_equal(query_result_unpack(buf, len + 1, &o),
			    FF_EPROTO);
			assert_null(o);
			free(buf);
			query_result_free(r);
			qident_clear(&id);
			free(f);
		}
	}
}

/*
 * Change every byte of a packed TOPN result in turn. A changed count,
 * key or metric either breaks the format or the totals check, and a
 * changed identity breaks the fingerprint; only the cost fields (meta)
 * and the order of equal-sized uints may change unnoticed. Whatever is
 * accepted must be a valid result: it packs and unpacks to itself.
 */
static void
test_damaged(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_DSTNET,
	    QUERY_ORDER_PACKETS);
	store_flow_t *f;
	query_result_t *r;
	qident_t id;
	uint8_t *buf;
	size_t len, refused = 0, accepted = 0;
	char e[128];
	int err;

	(void)state;
	qt_rng = 12;
	s.filter = "proto tcp";
	f = qt_flows(300, 30);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 300, NULL, 50, 1, &err);
	r->meta.flows_matched = r->tot.flows;
	r->meta.flows_scanned = r->tot.flows;
	assert_int_equal(query_result_pack(r, &buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int d = 1; d <= 2; d++) {
			uint8_t save = buf[i];
			query_result_t *o = NULL;

			buf[i] = (uint8_t)(d == 1 ? save ^ 0xff : save + 1);
			if (query_result_unpack(buf, len, &o) != 0) {
				assert_null(o);
				refused++;
			} else {
				accepted++;
				query_result_free(wire(o));
			}
			buf[i] = save;
		}
	}
	/* Most changes are caught. */
	assert_true(refused > accepted * 4);
	free(buf);
	query_result_free(r);
	qident_clear(&id);
	free(f);
}

/* --- crafted buffers: each inconsistency on its own ------------------------- */

enum fault {
	F_NONE = 0,
	F_VERSION,	/* version 2 */
	F_QID,		/* fingerprint of another query */
	F_MAPCOUNT,	/* one key more announced */
	F_KEYORDER,	/* "t1" before "t0" */
	F_UNKNOWN,	/* "extra" field */
	F_SUM,		/* totals one byte more than the rows */
	F_DUPKEY,	/* a key twice */
	F_PORT,		/* port 70000 */
	F_KW16,		/* 16-byte keys for a port */
	F_ZEROFLOWS,	/* a key with no flow */
	F_HUGEARRAY,	/* array header of 2^32-1 elements */
	F_MATCHED,	/* meta: more flows matched than scanned */
	F_SUBSET_TOT,	/* subset flag on TOTALS */
	F_NUL,		/* NUL in the filter */
	F_IRRELEVANT,	/* TOTALS with a key */
	F_NEGATIVE,	/* a negative fixint for a uint */
	F_HOSTBITS,	/* srcnet key 10.1.2.3 with /24 */
	F_LISTORDER,	/* listing not in order */
	F_LISTCOUNT,	/* listing shorter than min(limit, flows) */
	F_LISTWINDOW,	/* listed flow outside the window */
	F_SERIESORDER,	/* bucket indexes not ascending */
	F_SERIESRANGE,	/* bucket index past the last */
	F_SERIESSIZE,	/* a window of too many buckets */
	F_STR_AS_BIN,	/* filter as bin, not str */
};

static void
kv(msgpack_packer *pk, const char *k, uint64_t v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_uint64(pk, v);
}

static void
key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
}

static void
uints(msgpack_packer *pk, const char *name, const uint64_t *v, size_t n)
{
	key(pk, name);
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_uint64(pk, v[i]);
}

/*
 * Write a result of the given kind by hand, with one fault. TOPN: dst
 * ports 53 (2 flows, 200 bytes, 3 packets) and 443 (1, 100, 1); SRCNET
 * top-N: 10.1.2.0/24 (1, 10, 1); TOTALS: 3 flows, 300 bytes, 4 packets;
 * LIST: two flows at t0 + 1 and t0 + 2; SERIES: buckets 0 and 2 of 3.
 */
static int
craft(query_kind_t kind, query_key_t qkey, enum fault fault,
    query_result_t **out)
{
	query_spec_t s = qt_spec(kind, qkey, QUERY_ORDER_BYTES);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	qident_t id;
	aggv_t tot = { 3, 300, 4 };
	size_t extra = 0;
	char e[128];
	int rc;

	s.filter = "port 53";
	if (kind == QUERY_TOPN && qkey == QUERY_KEY_SRCNET)
		tot = (aggv_t){ 1, 10, 1 };
	if (kind == QUERY_LIST) {
		tot = (aggv_t){ 2, 200, 2 };
		s.t0 = 1000;
		s.t1 = 2000;
	}
	if (kind == QUERY_SERIES) {
		s.t0 = 0;
		s.t1 = 3000;
		s.step_ms = 1000;
		if (fault == F_SERIESSIZE) {
			s.step_ms = 1;
			s.t1 = 999999;
		}
	}
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	if (fault == F_SERIESSIZE) {
		id.t1 = (uint64_t)QUERY_SERIES_MAX + 1;
		assert_int_equal(qident_check(&id), FF_EPROTO);
		id.qid = 1;
	}
	if (fault == F_QID)
		id.qid ^= 1;
	if (fault == F_SUM)
		tot.bytes++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	switch (kind) {
	case QUERY_TOPN:
		extra = 5;
		break;
	case QUERY_LIST:
		extra = 1;
		break;
	case QUERY_SERIES:
		extra = 4;
		break;
	default:
		break;
	}
	msgpack_pack_map(&pk, 16 + extra + (fault == F_MAPCOUNT) +
	    (fault == F_UNKNOWN));
	kv(&pk, "v", fault == F_VERSION ? 2 : 1);
	kv(&pk, "kind", kind);
	kv(&pk, "qid", id.qid);
	if (fault == F_KEYORDER) {
		kv(&pk, "t1", id.t1);
		kv(&pk, "t0", id.t0);
	} else {
		kv(&pk, "t0", id.t0);
		kv(&pk, "t1", id.t1);
	}
	key(&pk, "filter");
	if (fault == F_NUL)
		msgpack_pack_str_with_body(&pk, "port\0 53", 8);
	else if (fault == F_STR_AS_BIN)
		msgpack_pack_bin_with_body(&pk, id.filter, strlen(id.filter));
	else
		msgpack_pack_str_with_body(&pk, id.filter, strlen(id.filter));
	kv(&pk, "key", fault == F_IRRELEVANT ? 1 : (uint64_t)id.key);
	kv(&pk, "p4", id.prefix4);
	kv(&pk, "p6", id.prefix6);
	kv(&pk, "order", id.order);
	kv(&pk, "n", id.n);
	kv(&pk, "step", id.step_ms);
	kv(&pk, "limit", id.limit);
	key(&pk, "subset");
	if (fault == F_SUBSET_TOT)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	key(&pk, "tot");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, tot.flows);
	if (fault == F_NEGATIVE)
		msgpack_pack_int64(&pk, -1);
	else
		msgpack_pack_uint64(&pk, tot.bytes);
	msgpack_pack_uint64(&pk, tot.packets);
	key(&pk, "meta");
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, 10);
	msgpack_pack_uint64(&pk, fault == F_MATCHED ? 11 : tot.flows);
	for (int i = 0; i < 4; i++)
		msgpack_pack_uint64(&pk, 1);
	if (kind == QUERY_TOPN && qkey == QUERY_KEY_SRCNET) {
		uint8_t k[4] = { 10, 1, 2, fault == F_HOSTBITS ? 3 : 0 };
		uint64_t one = 1, ten = 10;

		kv(&pk, "kw", 4);
		key(&pk, "keys");
		msgpack_pack_bin_with_body(&pk, k, 4);
		uints(&pk, "flows", &one, 1);
		uints(&pk, "bytes", &ten, 1);
		uints(&pk, "packets", &one, 1);
	} else if (kind == QUERY_TOPN) {
		uint8_t k[32] = { 0 };
		uint64_t fl[2] = { 2, 1 }, by[2] = { 200, 100 };
		uint64_t pa[2] = { 3, 1 };
		unsigned kw = fault == F_KW16 ? 16 : 4;

		put_be16(k + kw - 2, 53);
		put_be16(k + 2 * kw - 2, fault == F_DUPKEY ? 53 : 443);
		if (fault == F_PORT)
			put_be32(k + kw - 4, 70000);
		if (fault == F_ZEROFLOWS)
			fl[1] = 0;
		kv(&pk, "kw", kw);
		key(&pk, "keys");
		msgpack_pack_bin_with_body(&pk, k, 2 * kw);
		if (fault == F_HUGEARRAY) {
			key(&pk, "flows");
			msgpack_pack_array(&pk, 0xffffffffu);
		} else
			uints(&pk, "flows", fl, 2);
		uints(&pk, "bytes", by, 2);
		uints(&pk, "packets", pa, 2);
	} else if (kind == QUERY_LIST) {
		uint8_t w[2][QT_FLOW_LEN];
		store_flow_t fl;

		key(&pk, "fl");
		msgpack_pack_array(&pk, fault == F_LISTCOUNT ? 1 : 2);
		for (int i = 0; i < 2; i++) {
			memset(&fl, 0, sizeof(fl));
			fl.first_ms = id.t0 + 1 + (uint64_t)i;
			if (fault == F_LISTORDER)
				fl.first_ms = id.t0 + 2 - (uint64_t)i;
			if (fault == F_LISTWINDOW && i == 1)
				fl.first_ms = id.t1;
			fl.bytes = 100;
			fl.packets = 1;
			qt_flow_bytes(&fl, w[i]);
			if (fault != F_LISTCOUNT || i == 0)
				msgpack_pack_bin_with_body(&pk, w[i],
				    QT_FLOW_LEN);
		}
	} else if (kind == QUERY_SERIES) {
		uint64_t idx[2] = { 0, 2 }, fl[2] = { 1, 2 };
		uint64_t by[2] = { 100, 200 }, pa[2] = { 1, 3 };

		if (fault == F_SERIESORDER) {
			idx[0] = 2;
			idx[1] = 0;
		}
		if (fault == F_SERIESRANGE)
			idx[1] = 3;
		uints(&pk, "idx", idx, 2);
		uints(&pk, "flows", fl, 2);
		uints(&pk, "bytes", by, 2);
		uints(&pk, "packets", pa, 2);
	}
	if (fault == F_UNKNOWN)
		kv(&pk, "extra", 0);
	*out = NULL;
	rc = query_result_unpack((const uint8_t *)sb.data, sb.size, out);
	msgpack_sbuffer_destroy(&sb);
	qident_clear(&id);
	return rc;
}

static void
test_crafted(void **state)
{
	static const struct {
		query_kind_t kind;
		query_key_t key;
		enum fault fault;
		int rc;
	} t[] = {
		{ QUERY_TOTALS, 0, F_NONE, 0 },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_NONE, 0 },
		{ QUERY_TOPN, QUERY_KEY_SRCNET, F_NONE, 0 },
		{ QUERY_LIST, 0, F_NONE, 0 },
		{ QUERY_SERIES, 0, F_NONE, 0 },
		{ QUERY_TOTALS, 0, F_VERSION, FF_EVERSION },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_VERSION, FF_EVERSION },
		{ QUERY_TOTALS, 0, F_QID, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_QID, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_MAPCOUNT, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_KEYORDER, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_UNKNOWN, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_SUM, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_DUPKEY, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_PORT, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_KW16, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_ZEROFLOWS, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_DSTPORT, F_HUGEARRAY, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_MATCHED, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_SUBSET_TOT, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_NUL, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_IRRELEVANT, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_NEGATIVE, FF_EPROTO },
		{ QUERY_TOTALS, 0, F_STR_AS_BIN, FF_EPROTO },
		{ QUERY_TOPN, QUERY_KEY_SRCNET, F_HOSTBITS, FF_EPROTO },
		{ QUERY_LIST, 0, F_LISTORDER, FF_EPROTO },
		{ QUERY_LIST, 0, F_LISTCOUNT, FF_EPROTO },
		{ QUERY_LIST, 0, F_LISTWINDOW, FF_EPROTO },
		{ QUERY_SERIES, 0, F_SERIESORDER, FF_EPROTO },
		{ QUERY_SERIES, 0, F_SERIESRANGE, FF_EPROTO },
		{ QUERY_SERIES, 0, F_SERIESSIZE, FF_EPROTO },
	};
	query_result_t *r;

	(void)state;
	for (size_t i = 0; i < FF_NELEM(t); i++) {
		int rc = craft(t[i].kind, t[i].key, t[i].fault, &r);

		if (rc != t[i].rc)
			fail_msg("case %zu (fault %d): %d, expected %d", i,
			    t[i].fault, rc, t[i].rc);
		if (rc == 0)
			assert_non_null(r);
		else
			assert_null(r);
		query_result_free(r);
	}
	/* The good TOPN as it was written. */
	assert_int_equal(craft(QUERY_TOPN, QUERY_KEY_DSTPORT, F_NONE, &r), 0);
	{
		query_row_t *rows;
		size_t n;

		assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
		assert_int_equal(n, 2);
		assert_int_equal(be16(rows[0].key + 14), 53);
		assert_int_equal(rows[0].bytes, 200);
		assert_int_equal(rows[0].packets, 3);
		assert_int_equal(be16(rows[1].key + 14), 443);
		free(rows);
	}
	query_result_free(r);
	/* Nothing but junk and the empty buffer. */
	assert_int_equal(query_result_unpack((const uint8_t *)"", 0, &r),
	    FF_EPROTO);
	assert_int_equal(query_result_unpack((const uint8_t *)"\xdf\xff\xff"
	    "\xff\xff", 5, &r), FF_EPROTO);
}

/* --- TPUT selections ---------------------------------------------------------- */

static void
test_selections(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_DSTIP,
	    QUERY_ORDER_BYTES);
	query_result_t *r, *o;
	query_row_t *ref, *rows;
	query_info_t inf;
	store_flow_t *f;
	uint8_t (*keys)[16];
	qident_t id;
	aggv_t tot;
	size_t nref, n, want;
	char e[128];
	int err;

	(void)state;
	qt_rng = 31;
	f = qt_flows(900, 25);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 900, NULL, 100, 1, &err);
	nref = qt_ref_keyed(&id, f, 900, NULL, &ref, &tot);
	/* topk: the first k of the answer, exact, marked subset. */
	assert_int_equal(query_result_topk(r, 7, &o), 0);
	query_result_get_info(o, &inf);
	assert_int_equal(inf.subset, 1);
	assert_int_equal(inf.rows, 7);
	assert_int_equal(inf.flows, tot.flows);	/* totals of the whole */
	assert_int_equal(query_result_rows(o, 0, &rows, &n), 0);
	assert_int_equal(n, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_memory_equal(rows[i].key, ref[i].key, 16);
		assert_int_equal(rows[i].bytes, ref[i].bytes);
		assert_int_equal(rows[i].flows, ref[i].flows);
	}
	free(rows);
	/* A subset survives the wire. */
	o = wire(o);
	query_result_free(o);
	assert_int_equal(query_result_topk(r, 0, &o), 0);
	query_result_get_info(o, &inf);
	assert_int_equal(inf.rows, 0);
	query_result_free(o);
	/* select: every key whose bytes >= the 10th key's. */
	assert_int_equal(query_result_select(r, ref[9].bytes, &o), 0);
	want = 0;
	for (size_t i = 0; i < nref; i++)
		want += ref[i].bytes >= ref[9].bytes;
	assert_true(want >= 10);
	query_result_get_info(o, &inf);
	assert_int_equal(inf.rows, want);
	assert_int_equal(query_result_rows(o, 0, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(rows[i].key, ref[i].key, 16);
	free(rows);
	query_result_free(o);
	/* lookup: keys 3 and 5, key 3 again, and one that is not there. */
	keys = calloc(4, 16);
	memcpy(keys[0], ref[3].key, 16);
	memcpy(keys[1], ref[5].key, 16);
	memcpy(keys[2], ref[3].key, 16);
	qt_v4(keys[3], 0x01020304);
	assert_int_equal(query_result_lookup(r, (const uint8_t (*)[16])keys,
	    4, &o), 0);
	assert_int_equal(query_result_rows(o, 0, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(rows[0].key, ref[3].key, 16);
	assert_int_equal(rows[0].bytes, ref[3].bytes);
	assert_memory_equal(rows[1].key, ref[5].key, 16);
	free(rows);
	query_result_free(o);
	free(keys);
	free(ref);
	free(f);
	query_result_free(r);
	qident_clear(&id);
	/* Only for top-N. */
	s = qt_spec(QUERY_DISTINCT, QUERY_KEY_DSTIP, 0);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = result_new_id(&id, 0, 0);
	assert_int_equal(query_result_topk(r, 3, &o), FF_EINVAL);
	assert_int_equal(query_result_select(r, 3, &o), FF_EINVAL);
	assert_int_equal(query_result_lookup(r, NULL, 0, &o), FF_EINVAL);
	assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
	query_result_free(r);
	qident_clear(&id);
	s = qt_spec(QUERY_TOTALS, 0, 0);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = result_new_id(&id, 0, 0);
	assert_int_equal(query_result_rows(r, 0, &rows, &n), FF_EINVAL);
	query_result_free(r);
	qident_clear(&id);
}

static uint64_t
metric(const query_row_t *r, int order)
{
	return order == QUERY_ORDER_PACKETS ? r->packets :
	    order == QUERY_ORDER_FLOWS ? r->flows : r->bytes;
}

/*
 * A whole TPUT run (three-phase uniform threshold, Cao & Wang 2004) over
 * four nodes built on the selections, as the controller will do it: its
 * top-k equals the top-k of the merged complete aggregates.
 */
static void
test_tput(void **state)
{
	(void)state;
	qt_rng = 2024;
	for (int iter = 0; iter < 30; iter++) {
		const int m = 4;
		const uint32_t k = 5;
		int order = 1 + (int)qt_below(3);
		query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
		    (query_order_t)order);
		query_result_t *node[4], *all, *p1, *p2, *p3, *sel[4];
		query_row_t *rows, *want, *cand;
		size_t n, nw, nc;
		qident_t id;
		uint64_t tau1, tau2, T;
		char e[128];
		int err;

		s.n = k;
		assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
		all = result_new_id(&id, 0, 0);
		p1 = result_new_id(&id, 0, 0);
		p2 = result_new_id(&id, 0, 0);
		p3 = result_new_id(&id, 0, 0);
		for (int i = 0; i < m; i++) {
			store_flow_t *f = qt_flows(300, 10);
			query_result_t *t;

			node[i] = qt_agg(&id, f, 300, NULL, 64, 1, &err);
			assert_int_equal(query_result_merge(all, node[i]), 0);
			/* Phase 1: each node's top k. */
			assert_int_equal(query_result_topk(node[i], k, &t), 0);
			assert_int_equal(query_result_merge(p1, t), 0);
			query_result_free(t);
			free(f);
		}
		/* tau1: k-th largest partial sum; T = tau1 / m. */
		assert_int_equal(query_result_rows(p1, k, &rows, &n), 0);
		tau1 = n == k ? metric(&rows[k - 1], order) : 0;
		free(rows);
		T = tau1 / m;
		/* Phase 2: every key >= T from every node. */
		for (int i = 0; i < m; i++) {
			assert_int_equal(query_result_select(node[i], T,
			    &sel[i]), 0);
			assert_int_equal(query_result_merge(p2, sel[i]), 0);
		}
		assert_int_equal(query_result_rows(p2, k, &rows, &n), 0);
		tau2 = n == k ? metric(&rows[k - 1], order) : 0;
		free(rows);
		/* Candidates: keys whose upper bound (exact where a node
		   reported it, T - 1 where it did not) reaches tau2. */
		assert_int_equal(query_result_rows(p2, 0, &cand, &nc), 0);
		{
			uint8_t (*ck)[16] = calloc(nc ? nc : 1, 16);
			size_t ncand = 0;

			for (size_t c = 0; c < nc; c++) {
				uint64_t ub = metric(&cand[c], order);

				for (int i = 0; i < m; i++) {
					query_result_t *one;
					query_info_t inf;

					assert_int_equal(query_result_lookup(
					    sel[i], (const uint8_t (*)[16])
					    &cand[c].key, 1, &one), 0);
					query_result_get_info(one, &inf);
					if (inf.rows == 0 && T > 0)
						ub += T - 1;
					query_result_free(one);
				}
				if (ub >= tau2)
					memcpy(ck[ncand++], cand[c].key, 16);
			}
			/* Phase 3: exact values of the candidates. */
			for (int i = 0; i < m; i++) {
				query_result_t *t;

				assert_int_equal(query_result_lookup(node[i],
				    (const uint8_t (*)[16])ck, ncand, &t), 0);
				assert_int_equal(query_result_merge(p3, t), 0);
				query_result_free(t);
			}
			free(ck);
		}
		free(cand);
		assert_int_equal(query_result_rows(p3, k, &rows, &n), 0);
		assert_int_equal(query_result_rows(all, k, &want, &nw), 0);
		assert_int_equal(n, nw);
		for (size_t i = 0; i < n; i++) {
			assert_memory_equal(rows[i].key, want[i].key, 16);
			assert_int_equal(rows[i].flows, want[i].flows);
			assert_int_equal(rows[i].bytes, want[i].bytes);
			assert_int_equal(rows[i].packets, want[i].packets);
		}
		free(rows);
		free(want);
		for (int i = 0; i < m; i++) {
			query_result_free(node[i]);
			query_result_free(sel[i]);
		}
		query_result_free(all);
		query_result_free(p1);
		query_result_free(p2);
		query_result_free(p3);
		qident_clear(&id);
	}
}

/* --- printing ---------------------------------------------------------------- */

static char *
print(const query_result_t *r, query_fmt_t fmt)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	assert_int_equal(query_result_print(r, fp, fmt), 0);
	fclose(fp);
	return out;
}

static void
flow(store_flow_t *f, const char *src, uint16_t dport, uint64_t bytes,
    uint64_t packets, uint64_t first)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(addr_parse(src, f->src), 0);
	assert_int_equal(addr_parse("192.0.2.1", f->dst), 0);
	assert_int_equal(addr_parse("127.0.0.1", f->exporter), 0);
	assert_int_equal(addr_parse("0.0.0.0", f->nexthop), 0);
	f->sport = 40000;
	f->dport = dport;
	f->bytes = bytes;
	f->packets = packets;
	f->proto = 6;
	f->tcp_flags = 0x1b;
	f->first_ms = first;
	f->last_ms = first + 1500;
	f->sampling = 1;
}

static void
test_print(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
	    QUERY_ORDER_BYTES);
	store_flow_t f[3];
	query_result_t *r;
	qident_t id;
	char e[128], *out;
	int err;

	(void)state;
	/*
	 * 10.0.0.1: 2 flows, 1536 + 1073741824 bytes (1.0 GiB), 3000
	 * packets; 2001:db8::7: 1 flow, 512 bytes, 2 packets. Totals: 3
	 * flows, 3002 packets, 1073743872 bytes (1.0 GiB). Shares of the
	 * first row: 2/3 = 66.7%, 3000/3002 = 99.9%, bytes 100.0%.
	 */
	flow(&f[0], "10.0.0.1", 443, 1536, 1000, 1700000000000ull);
	flow(&f[1], "10.0.0.1", 443, 1073741824ull, 2000, 1700000000500ull);
	flow(&f[2], "2001:db8::7", 53, 512, 2, 1700000001000ull);
	s.n = 5;
	s.t0 = 1700000000000ull;
	s.t1 = 1700000060000ull;
	s.filter = "dst port 443 or dst port 53";
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 3, NULL, 3, 0, &err);
	r->meta.flows_scanned = 1234567;
	r->meta.flows_matched = 3;
	r->meta.blocks_scanned = 40;
	r->meta.blocks_skipped = 2;
	r->meta.elapsed_us = 1500000;
	out = print(r, QUERY_FMT_TABLE);
	assert_string_equal(out,
	    "Top 5 srcip by bytes, 2023-11-14T22:13:20.000Z .. "
	    "2023-11-14T22:14:20.000Z, filter 'dst port 443 or dst port 53'\n"
	    "rank  srcip        flows      %  packets      %    bytes       %\n"
	    "   1  10.0.0.1         2  66.7%    3.0 K  99.9%  1.0 GiB  100.0%\n"
	    "   2  2001:db8::7      1  33.3%        2   0.1%    512 B    0.0%\n"
	    "Total: 3 flows, 3.0 K packets, 1.0 GiB; 2 distinct srcip\n"
	    "Scanned 1.2 M flows in 40 blocks (2 skipped) in 1.500 s\n");
	free(out);
	out = print(r, QUERY_FMT_CSV);
	assert_string_equal(out,
	    "rank,srcip,flows,packets,bytes\n"
	    "1,10.0.0.1,2,3000,1073743360\n"
	    "2,2001:db8::7,1,2,512\n");
	free(out);
	out = print(r, QUERY_FMT_JSON);
	{
		static const char head[] =
		    "{\"query\":{\"kind\":\"topn\",\"key\":\"srcip\","
		    "\"order\":\"bytes\",\"n\":5,\"t0\":1700000000000,"
		    "\"t1\":1700000060000,\"from\":"
		    "\"2023-11-14T22:13:20.000Z\",\"to\":"
		    "\"2023-11-14T22:14:20.000Z\",\"filter\":"
		    "\"dst port 443 or dst port 53\",\"qid\":\"";
		char tail[1024];

		assert_int_equal(strncmp(out, head, sizeof(head) - 1), 0);
		snprintf(tail, sizeof(tail), "%016" PRIx64 "\"},"
		    "\"totals\":{\"flows\":3,\"packets\":3002,"
		    "\"bytes\":1073743872},\"keys\":2,\"subset\":false,"
		    "\"rows\":[{\"rank\":1,\"key\":\"10.0.0.1\","
		    "\"flows\":2,\"packets\":3000,\"bytes\":1073743360},"
		    "{\"rank\":2,\"key\":\"2001:db8::7\",\"flows\":1,"
		    "\"packets\":2,\"bytes\":512}],\"meta\":{"
		    "\"flows_scanned\":1234567,\"flows_matched\":3,"
		    "\"blocks_scanned\":40,\"blocks_skipped\":2,"
		    "\"blocks_damaged\":0,\"elapsed_us\":1500000}}\n",
		    id.qid);
		assert_string_equal(out + sizeof(head) - 1, tail);
	}
	free(out);
	query_result_free(r);
	qident_clear(&id);
}

static query_result_t *
result_of(query_spec_t *s, const store_flow_t *f, size_t n, qident_t *id)
{
	char e[128];
	int err;
	query_result_t *r;

	assert_int_equal(qident_from_spec(s, id, e, sizeof(e)), 0);
	r = qt_agg(id, f, n, NULL, 2, 1, &err);
	assert_non_null(r);
	return r;
}

static void
test_print_kinds(void **state)
{
	query_spec_t s;
	store_flow_t f[3];
	query_result_t *r;
	qident_t id;
	char *out;

	(void)state;
	/* Same three flows as test_print. */
	flow(&f[0], "10.0.0.1", 443, 1536, 1000, 1700000000000ull);
	flow(&f[1], "10.0.0.1", 443, 1073741824ull, 2000, 1700000000500ull);
	flow(&f[2], "2001:db8::7", 53, 512, 2, 1700000001000ull);
	s = qt_spec(QUERY_TOTALS, 0, 0);
	r = result_of(&s, f, 3, &id);
	out = print(r, QUERY_FMT_CSV);
	assert_string_equal(out, "flows,packets,bytes\n3,3002,1073743872\n");
	free(out);
	out = print(r, QUERY_FMT_TABLE);
	assert_string_equal(out, "Totals, start .. end\n"
	    "3 flows, 3.0 K packets, 1.0 GiB\n"
	    "Total: 3 flows, 3.0 K packets, 1.0 GiB\n"
	    "Scanned 0 flows in 0 blocks (0 skipped) in 0.000 s\n");
	free(out);
	query_result_free(r);
	qident_clear(&id);
	/* Steps of 600 ms from t0: flows at +0, +500 in bucket 0, +1000 in
	   bucket 1; the 2 s window has 4 buckets, the last short. */
	s = qt_spec(QUERY_SERIES, 0, 0);
	s.t0 = 1700000000000ull;
	s.t1 = 1700000002000ull;
	s.step_ms = 600;
	r = result_of(&s, f, 3, &id);
	out = print(r, QUERY_FMT_CSV);
	assert_string_equal(out, "t_ms,start,flows,packets,bytes\n"
	    "1700000000000,2023-11-14T22:13:20.000Z,2,3000,1073743360\n"
	    "1700000000600,2023-11-14T22:13:20.600Z,1,2,512\n"
	    "1700000001200,2023-11-14T22:13:21.200Z,0,0,0\n"
	    "1700000001800,2023-11-14T22:13:21.800Z,0,0,0\n");
	free(out);
	query_result_free(r);
	qident_clear(&id);
	s = qt_spec(QUERY_DISTINCT, QUERY_KEY_DSTPORT, 0);
	r = result_of(&s, f, 3, &id);
	out = print(r, QUERY_FMT_CSV);
	assert_string_equal(out, "key,distinct,flows\ndstport,2,3\n");
	free(out);
	out = print(r, QUERY_FMT_JSON);
	assert_non_null(strstr(out, "\"distinct\":2,\"meta\""));
	free(out);
	query_result_free(r);
	qident_clear(&id);
	/* Listing: first two flows by start time. */
	s = qt_spec(QUERY_LIST, 0, 0);
	s.limit = 2;
	r = result_of(&s, f, 3, &id);
	out = print(r, QUERY_FMT_TABLE);
	assert_string_equal(out, "Flows (first 2 by start time), start .. end\n"
	    "start                     duration  proto  src       sport  "
	    "dst        dport  flags     packets    bytes\n"
	    "2023-11-14T22:13:20.000Z     1.500  TCP    10.0.0.1  40000  "
	    "192.0.2.1    443  ...AP.SF    1.0 K  1.5 KiB\n"
	    "2023-11-14T22:13:20.500Z     1.500  TCP    10.0.0.1  40000  "
	    "192.0.2.1    443  ...AP.SF    2.0 K  1.0 GiB\n"
	    "Total: 3 flows, 3.0 K packets, 1.0 GiB\n"
	    "Scanned 0 flows in 0 blocks (0 skipped) in 0.000 s\n");
	free(out);
	out = print(r, QUERY_FMT_CSV);
	assert_non_null(strstr(out, "\n1700000000500,1700000002000,6,"
	    "10.0.0.1,40000,192.0.2.1,443,27,2000,1073741824,0,0,0,0,0,0,0,"
	    "0.0.0.0,127.0.0.1,1,0\n"));
	free(out);
	query_result_free(r);
	qident_clear(&id);
}

/*
 * The ranks of the column table (store/columns.def) order every column
 * once: each rank names a field of store_flow_t of its column's width,
 * and no two ranks the same field.
 */
static void
test_column_ranks(void **state)
{
	static const struct {
		size_t off;
		unsigned width;
	} cols[] = {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	{ offsetof(store_flow_t, name), STORE_WIDTH_##type },
#include "store/columns.def"
#undef STORE_COLUMN
	};
	int seen[STORE_COL_COUNT] = { 0 };

	(void)state;
	for (size_t r = 0; r < STORE_COL_COUNT; r++) {
		size_t c;

		for (c = 0; c < STORE_COL_COUNT; c++)
			if (cols[c].off == flow_fields[r].off)
				break;
		assert_true(c < STORE_COL_COUNT);
		assert_int_equal(flow_fields[r].width, cols[c].width);
		assert_int_equal(seen[c], 0);
		seen[c] = 1;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_column_ranks),
		cmocka_unit_test(test_merge_property),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_limits),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_selections),
		cmocka_unit_test(test_tput),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_print_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
