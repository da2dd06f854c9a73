/*
 * Query engine tests: every query kind aggregated from hand-built column
 * batches (both address forms, with and without a row selection) and run
 * end to end on a real store (windows, filters, threads), against the
 * brute-force reference of qtest.h computed over the same rows; ties,
 * prefixes, listing limits, cancellation and the time, memory and row
 * limits; the command-line parsers of keys and times. Values written out
 * by hand state how they were derived.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtest.h"
#include "tmpdir.h"

/* --- comparing a result with the reference ---------------------------------- */

static void
check_totals(const query_result_t *r, const aggv_t *tot)
{
	query_info_t inf;

	query_result_get_info(r, &inf);
	assert_int_equal(inf.flows, tot->flows);
	assert_int_equal(inf.bytes, tot->bytes);
	assert_int_equal(inf.packets, tot->packets);
}

static void
check_rows(const query_row_t *got, size_t ngot, const query_row_t *want,
    size_t nwant)
{
	assert_int_equal(ngot, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_memory_equal(got[i].key, want[i].key, 16);
		assert_int_equal(got[i].flows, want[i].flows);
		assert_int_equal(got[i].bytes, want[i].bytes);
		assert_int_equal(got[i].packets, want[i].packets);
	}
}

/*
 * Check r (identity id) against the reference over flows f[0..n) with
 * selection sel.
 */
static void
check_result(const query_result_t *r, const qident_t *id,
    const store_flow_t *f, size_t n, const uint8_t *sel)
{
	query_info_t inf;
	aggv_t tot;

	query_result_get_info(r, &inf);
	assert_int_equal(inf.qid, id->qid);
	switch (id->kind) {
	case QUERY_TOTALS: {
		query_row_t *ref;

		free((qt_ref_keyed(id, f, n, sel, &ref, &tot), ref));
		check_totals(r, &tot);
		break;
	}
	case QUERY_TOPN:
	case QUERY_DISTINCT: {
		query_row_t *ref, *rows;
		size_t nref = qt_ref_keyed(id, f, n, sel, &ref, &tot), nr;

		check_totals(r, &tot);
		assert_int_equal(inf.rows, nref);
		assert_int_equal(query_result_rows(r, 0, &rows, &nr), 0);
		check_rows(rows, nr, ref, nref);
		free(rows);
		if (id->kind == QUERY_TOPN) {
			assert_int_equal(query_result_rows(r, id->n, &rows,
			    &nr), 0);
			check_rows(rows, nr, ref, FF_MIN(nref, id->n));
			free(rows);
		}
		free(ref);
		break;
	}
	case QUERY_SERIES: {
		aggv_t *bk = qt_ref_series(id, f, n, sel, &tot);
		query_row_t *rows;
		size_t nr;

		check_totals(r, &tot);
		assert_int_equal(query_result_rows(r, 0, &rows, &nr), 0);
		assert_int_equal(nr, id->nbuckets);
		for (size_t i = 0; i < nr; i++) {
			assert_int_equal(rows[i].t_ms, id->t0 + i * id->step_ms);
			assert_int_equal(rows[i].flows, bk[i].flows);
			assert_int_equal(rows[i].bytes, bk[i].bytes);
			assert_int_equal(rows[i].packets, bk[i].packets);
		}
		free(rows);
		free(bk);
		break;
	}
	case QUERY_LIST: {
		store_flow_t *ref;
		size_t nref = qt_ref_list(id, f, n, sel, &ref, &tot), nl;
		const store_flow_t *l = query_result_flows(r, &nl);

		check_totals(r, &tot);
		assert_int_equal(nl, nref);
		for (size_t i = 0; i < nl; i++)
			assert_int_equal(qt_flowcmp(&l[i], &ref[i]), 0);
		free(ref);
		break;
	}
	}
}

static void
make_id(const struct qt_case *c, qident_t *id)
{
	query_spec_t s = qt_spec(c->kind, c->key, c->order);
	char err[128];

	assert_int_equal(qident_from_spec(&s, id, err, sizeof(err)), 0);
}

/* --- every kind over hand-built batches ------------------------------------- */

static void
test_kinds_batches(void **state)
{
	(void)state;
	qt_rng = 11;
	for (unsigned v6 = 0; v6 <= 30; v6 += 30) {
		size_t n = 3000;
		store_flow_t *f = qt_flows(n, v6);
		uint8_t *sel = malloc(n);

		for (size_t i = 0; i < n; i++)
			sel[i] = qt_below(3) != 0;
		for (size_t c = 0; c < FF_NELEM(qt_cases); c++) {
			for (int mode = 0; mode < 4; mode++) {
				qident_t id;
				query_result_t *r;
				int err;
				/* v4form x {all rows, a selection}; sizes
				   that split the flows unevenly */
				int v4form = mode & 1;
				const uint8_t *s = (mode & 2) ? sel : NULL;

				make_id(&qt_cases[c], &id);
				r = qt_agg(&id, f, n, s, mode == 3 ? 1 : 257,
				    v4form, &err);
				assert_non_null(r);
				check_result(r, &id, f, n, s);
				query_result_free(r);
				qident_clear(&id);
			}
		}
		free(sel);
		free(f);
	}
}

/* --- ties, prefixes and limits, by hand ----------------------------------------- */

static void
flow_at(store_flow_t *f, const char *src, uint16_t dport, uint64_t bytes,
    uint64_t first)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(addr_parse(src, f->src), 0);
	assert_int_equal(addr_parse("192.0.2.1", f->dst), 0);
	assert_int_equal(addr_parse("127.0.0.1", f->exporter), 0);
	f->dport = dport;
	f->bytes = bytes;
	f->packets = 1;
	f->proto = 6;
	f->first_ms = f->last_ms = first;
}

static void
row_key_is(const query_row_t *row, const char *addr)
{
	uint8_t a[16];

	assert_int_equal(addr_parse(addr, a), 0);
	assert_memory_equal(row->key, a, 16);
}

static void
test_ties(void **state)
{
	store_flow_t f[6];
	query_spec_t s;
	qident_t id;
	query_result_t *r;
	query_row_t *rows;
	size_t n;
	int err;
	char e[128];

	(void)state;
	/*
	 * 10.0.0.2 has 300 bytes in two flows; four keys tie at 100 bytes.
	 * Key order is 16-byte order, so ::1 < ::ffff:10.0.0.1 <
	 * ::ffff:10.0.0.3 < 2001:db8::1.
	 */
	flow_at(&f[0], "10.0.0.3", 443, 100, QT_T0);
	flow_at(&f[1], "10.0.0.1", 443, 100, QT_T0);
	flow_at(&f[2], "10.0.0.2", 80, 200, QT_T0);
	flow_at(&f[3], "10.0.0.2", 22, 100, QT_T0);
	flow_at(&f[4], "2001:db8::1", 443, 100, QT_T0);
	flow_at(&f[5], "::1", 53, 100, QT_T0);
	for (int v4form = 0; v4form <= 1; v4form++) {
		s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES);
		s.n = 3;
		assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
		r = qt_agg(&id, f, 6, NULL, 4, v4form, &err);
		assert_non_null(r);
		assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
		assert_int_equal(n, 5);
		row_key_is(&rows[0], "10.0.0.2");
		assert_int_equal(rows[0].bytes, 300);
		assert_int_equal(rows[0].flows, 2);
		row_key_is(&rows[1], "::1");
		row_key_is(&rows[2], "10.0.0.1");
		row_key_is(&rows[3], "10.0.0.3");
		row_key_is(&rows[4], "2001:db8::1");
		free(rows);
		/* The top 3 is the first 3 of that order. */
		assert_int_equal(query_result_rows(r, 3, &rows, &n), 0);
		assert_int_equal(n, 3);
		row_key_is(&rows[1], "::1");
		row_key_is(&rows[2], "10.0.0.1");
		free(rows);
		query_result_free(r);
		qident_clear(&id);
	}
	/*
	 * dst ports: 443 has 3 flows and 300 bytes, 80 and 22 200 and 100
	 * bytes, 53 100 bytes. By bytes: 443, 80, then 22 and 53 tie at 100
	 * and go by number. By flows: 443 (3), then 22, 53, 80 (1 each).
	 */
	s = qt_spec(QUERY_TOPN, QUERY_KEY_DSTPORT, QUERY_ORDER_BYTES);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 6, NULL, 6, 1, &err);
	assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(be16(rows[0].key + 14), 443);
	assert_int_equal(rows[0].bytes, 300);
	assert_int_equal(be16(rows[1].key + 14), 80);
	assert_int_equal(be16(rows[2].key + 14), 22);
	assert_int_equal(be16(rows[3].key + 14), 53);
	free(rows);
	query_result_free(r);
	qident_clear(&id);
	s.order = QUERY_ORDER_FLOWS;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 6, NULL, 6, 1, &err);
	assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
	assert_int_equal(be16(rows[0].key + 14), 443);
	assert_int_equal(rows[0].flows, 3);
	assert_int_equal(be16(rows[1].key + 14), 22);
	assert_int_equal(be16(rows[2].key + 14), 53);
	assert_int_equal(be16(rows[3].key + 14), 80);
	free(rows);
	query_result_free(r);
	qident_clear(&id);
}

/* Top keys of srcnet with the given lengths over f[0..n). */
static query_row_t *
nets(const store_flow_t *f, size_t n, uint8_t p4, uint8_t p6, size_t *nr)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCNET,
	    QUERY_ORDER_FLOWS);
	qident_t id;
	query_result_t *r;
	query_row_t *rows;
	char e[128];
	int err;

	s.prefix4 = p4;
	s.prefix6 = p6;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, n, NULL, 2, 1, &err);
	assert_non_null(r);
	assert_int_equal(query_result_rows(r, 0, &rows, nr), 0);
	query_result_free(r);
	qident_clear(&id);
	return rows;
}

static void
test_prefixes(void **state)
{
	store_flow_t f[5];
	query_row_t *rows;
	size_t n;

	(void)state;
	flow_at(&f[0], "10.1.2.3", 1, 1, QT_T0);
	flow_at(&f[1], "10.1.2.200", 1, 1, QT_T0);
	flow_at(&f[2], "10.1.3.1", 1, 1, QT_T0);
	flow_at(&f[3], "2001:db8:1:2::5", 1, 1, QT_T0);
	flow_at(&f[4], "2001:db8:1:3::5", 1, 1, QT_T0);
	/* /24: 10.1.2.0 (2 flows), 10.1.3.0; /48: 2001:db8:1:: (2). */
	rows = nets(f, 5, 24, 48, &n);
	assert_int_equal(n, 3);
	row_key_is(&rows[0], "10.1.2.0");
	assert_int_equal(rows[0].flows, 2);
	row_key_is(&rows[1], "2001:db8:1::");
	assert_int_equal(rows[1].flows, 2);
	row_key_is(&rows[2], "10.1.3.0");
	free(rows);
	/* /16 and /64: 10.1.0.0 (3); 2001:db8:1:2:: and :3:: apart. */
	rows = nets(f, 5, 16, 64, &n);
	assert_int_equal(n, 3);
	row_key_is(&rows[0], "10.1.0.0");
	assert_int_equal(rows[0].flows, 3);
	row_key_is(&rows[1], "2001:db8:1:2::");
	row_key_is(&rows[2], "2001:db8:1:3::");
	free(rows);
	/* /0: every IPv4 in 0.0.0.0 (::ffff:0.0.0.0), every IPv6 in ::. */
	rows = nets(f, 5, 0, 0, &n);
	assert_int_equal(n, 2);
	row_key_is(&rows[0], "0.0.0.0");
	assert_int_equal(rows[0].flows, 3);
	row_key_is(&rows[1], "::");
	assert_int_equal(rows[1].flows, 2);
	free(rows);
	/* /32 and /128: every address its own key. */
	rows = nets(f, 5, 32, 128, &n);
	assert_int_equal(n, 5);
	free(rows);
}

static void
test_list_order(void **state)
{
	store_flow_t f[5];
	query_spec_t s = qt_spec(QUERY_LIST, 0, 0);
	qident_t id;
	query_result_t *r;
	const store_flow_t *l;
	size_t n;
	char e[128];
	int err;

	(void)state;
	/* Same start for three flows: then last_ms, then src decide. */
	flow_at(&f[0], "10.0.0.9", 1, 1, QT_T0 + 5);
	flow_at(&f[1], "10.0.0.2", 1, 1, QT_T0 + 5);
	flow_at(&f[2], "10.0.0.1", 1, 1, QT_T0 + 5);
	f[2].last_ms = QT_T0 + 6;
	flow_at(&f[3], "10.0.0.7", 1, 1, QT_T0 + 1);
	flow_at(&f[4], "10.0.0.8", 1, 1, QT_T0 + 9);
	s.limit = 3;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	r = qt_agg(&id, f, 5, NULL, 2, 1, &err);
	l = query_result_flows(r, &n);
	/* By hand: .7 (t+1), then of the three at t+5 the two ending at
	   t+5 by src (.2, .9); .1 ends later. */
	assert_int_equal(n, 3);
	assert_int_equal(l[0].src[15], 7);
	assert_int_equal(l[1].src[15], 2);
	assert_int_equal(l[2].src[15], 9);
	check_result(r, &id, f, 5, NULL);
	query_result_free(r);
	qident_clear(&id);
}

static void
test_agg_limits(void **state)
{
	query_spec_t s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
	    QUERY_ORDER_BYTES);
	store_flow_t *f;
	qt_batch_t *b;
	qident_t id;
	memacct_t ma;
	agg_t a;
	char e[128];

	(void)state;
	qt_rng = 5;
	f = qt_flows(500, 0);	/* 40 * 3 source addresses */
	b = qt_batch(f, 500, 1);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	/* Rows: at most 5 keys. */
	atomic_init(&ma.used, 0);
	ma.max = 0;
	assert_int_equal(agg_init(&a, &id, &ma, 5), 0);
	assert_int_equal(agg_add(&a, &b->cb, NULL), FF_ELIMIT);
	agg_free(&a);
	assert_int_equal(atomic_load(&ma.used), 0);
	/* Memory: 1000 bytes do not hold the first table. */
	ma.max = 1000;
	assert_int_equal(agg_init(&a, &id, &ma, 0), 0);
	assert_int_equal(agg_add(&a, &b->cb, NULL), FF_ELIMIT);
	agg_free(&a);
	/* Ports take a direct array of 65536 * 24 bytes. */
	qident_clear(&id);
	s.key = QUERY_KEY_DSTPORT;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	ma.max = 65536 * sizeof(aggv_t) - 1;
	assert_int_equal(agg_init(&a, &id, &ma, 0), FF_ELIMIT);
	qident_clear(&id);
	qt_batch_free(b);
	free(f);
}

/* --- spec validation ------------------------------------------------------------ */

static void
test_spec_checks(void **state)
{
	query_spec_t s;
	qident_t id, id2;
	char e[256];

	(void)state;
	s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES);
	s.n = 0;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	s.n = QUERY_TOPN_MAX + 1;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	s = qt_spec(QUERY_TOPN, QUERY_KEY_SRCNET, QUERY_ORDER_BYTES);
	s.prefix4 = 33;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	s = qt_spec(QUERY_SERIES, 0, 0);
	s.step_ms = 1;
	s.t1 = s.t0 + QUERY_SERIES_MAX + 1;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	assert_non_null(strstr(e, "buckets"));
	s.t1 = s.t0;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	s = qt_spec(QUERY_LIST, 0, 0);
	s.limit = 0;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	s = qt_spec(QUERY_TOTALS, 0, 0);
	s.t0 = 10;
	s.t1 = 9;
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), FF_EINVAL);
	/* What does not apply to the kind does not change the query. */
	s = qt_spec(QUERY_TOTALS, 0, 0);
	assert_int_equal(qident_from_spec(&s, &id, e, sizeof(e)), 0);
	s.key = QUERY_KEY_DSTAS;
	s.n = 77;
	s.limit = 3;
	s.step_ms = 9;
	assert_int_equal(qident_from_spec(&s, &id2, e, sizeof(e)), 0);
	assert_true(qident_equal(&id, &id2));
	qident_clear(&id2);
	/* A different filter is a different query. */
	s.filter = "proto tcp";
	assert_int_equal(qident_from_spec(&s, &id2, e, sizeof(e)), 0);
	assert_false(qident_equal(&id, &id2));
	assert_true(id.qid != id2.qid);
	qident_clear(&id2);
	qident_clear(&id);
}

/* --- end to end on a store -------------------------------------------------- */

static char store_dir[64];

static store_t *
store_with(const store_flow_t *f, size_t n, uint32_t block_rows)
{
	store_opts_t o;
	store_t *s;
	char err[256];

	snprintf(store_dir, sizeof(store_dir), "/tmp/ff-test-query-XXXXXX");
	assert_non_null(mkdtemp(store_dir));
	memset(&o, 0, sizeof(o));
	o.path = store_dir;
	o.map_size = 1ull << 30;
	o.block_rows = block_rows;
	o.nosync = 1;
	if (store_open(&o, &s, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	assert_int_equal(store_append(s, f, n), 0);
	assert_int_equal(store_commit(s), 0);
	return s;
}

static void
store_gone(store_t *s)
{
	store_close(s);
	(void)tmpdir_remove(store_dir);
}

static query_result_t *
run_spec(store_t *s, const query_spec_t *spec, int *rc, char *err,
    size_t errlen)
{
	query_t *q;
	query_result_t *r = NULL;

	*rc = query_compile(spec, &q, err, errlen);
	if (*rc != 0)
		fail_msg("compile: %s", err);
	*rc = query_run(s, q, NULL, &r, err, errlen);
	query_free(q);
	return r;
}

/*
 * Flows as a store may hold them: one stored by a version before the
 * decoders clamped prefix lengths (dst mask 200 on an IPv4 flow), and
 * flows without a source or destination address (STORE_FLOW_F_NO_SRC,
 * _NO_DST). The listing packs into what unpacks (the mask reads 0, as
 * the decoders now store it), prints the absent addresses as "-" and
 * null; top N and distinct by srcip and dstip leave the absent ones out,
 * and their totals count only the flows that have the address.
 */
static void
test_store_fields(void **state)
{
	static const uint8_t a[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
	static const uint8_t b[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 2 };
	store_flow_t f[4];
	query_spec_t spec;
	query_result_t *r, *r2;
	query_row_t *rows;
	query_info_t inf;
	uint8_t *buf;
	size_t len, n;
	char err[256], *text = NULL;
	FILE *mem;
	store_t *s;
	int rc;

	(void)state;
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 4; i++) {
		f[i].first_ms = f[i].last_ms = QT_T0 + (uint64_t)i;
		f[i].bytes = 100 * (uint64_t)(i + 1);
		f[i].packets = 1;
		f[i].sampling = 1;
		memcpy(f[i].src, a, 16);
		memcpy(f[i].dst, b, 16);
		memcpy(f[i].exporter, a, 16);
	}
	f[0].dst_mask = 200;			/* stored before the clamp */
	f[0].src_mask = 24;
	memset(f[1].src, 0, 16);		/* no source address */
	f[1].flags = STORE_FLOW_F_NO_SRC;
	memset(f[2].dst, 0, 16);		/* no destination address */
	f[2].flags = STORE_FLOW_F_NO_DST | STORE_FLOW_F_NO_NH;
	s = store_with(f, 4, 0);

	spec = qt_spec(QUERY_LIST, 0, 0);
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(query_result_pack(r, &buf, &len), 0);
	assert_int_equal(query_result_unpack(buf, len, &r2), 0);
	free(buf);
	assert_true(query_result_equal(r, r2));
	assert_int_equal(query_result_flows(r2, &n)[0].dst_mask, 0);
	assert_int_equal(query_result_flows(r2, &n)[0].src_mask, 24);
	assert_non_null(mem = open_memstream(&text, &len));
	assert_int_equal(query_result_print(r2, mem, QUERY_FMT_JSON), 0);
	fclose(mem);
	assert_non_null(strstr(text, "\"src\":null,\"dst\":\"10.0.0.2\""));
	assert_non_null(strstr(text, "\"src\":\"10.0.0.1\",\"dst\":null"));
	assert_non_null(strstr(text, "\"nexthop\":null"));
	/* the next hop of an IPv4 flow stored as :: is 0.0.0.0 */
	assert_non_null(strstr(text, "\"nexthop\":\"0.0.0.0\""));
	assert_null(strstr(text, "\"::\""));
	free(text);
	query_result_free(r);
	query_result_free(r2);

	for (int k = 0; k < 4; k++) {
		static const query_key_t keys[] = { QUERY_KEY_SRCIP,
		    QUERY_KEY_DSTIP, QUERY_KEY_SRCNET, QUERY_KEY_DSTNET };
		int src = keys[k] == QUERY_KEY_SRCIP ||
		    keys[k] == QUERY_KEY_SRCNET;

		spec = qt_spec(QUERY_TOPN, keys[k], QUERY_ORDER_BYTES);
		r = run_spec(s, &spec, &rc, err, sizeof(err));
		assert_int_equal(rc, 0);
		assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
		assert_int_equal(n, 1);		/* 10.0.0.x only, no :: */
		assert_int_equal(rows[0].flows, 3);
		assert_int_equal(rows[0].bytes, src ? 100 + 300 + 400 :
		    100 + 200 + 400);
		query_result_get_info(r, &inf);
		assert_int_equal(inf.flows, 3);
		free(rows);
		assert_int_equal(query_result_pack(r, &buf, &len), 0);
		assert_int_equal(query_result_unpack(buf, len, &r2), 0);
		free(buf);
		assert_true(query_result_equal(r, r2));
		query_result_free(r2);
		query_result_free(r);
		spec = qt_spec(QUERY_DISTINCT, keys[k], 0);
		r = run_spec(s, &spec, &rc, err, sizeof(err));
		assert_int_equal(rc, 0);
		query_result_get_info(r, &inf);
		assert_int_equal(inf.rows, 1);
		query_result_free(r);
	}
	store_gone(s);
}

static void
test_store_kinds(void **state)
{
	static const char *filters[] = { NULL, "proto tcp",
	    "dst port 443 or src net 10.0.0.0/26",
	    "not proto udp and bytes > 200",
	    "dst port > 1000 and dst port < 9000" };
	const size_t n = 20000;
	store_flow_t *f;
	store_t *s;
	uint8_t *sel = malloc(n);

	(void)state;
	qt_rng = 23;
	f = qt_flows(n, 20);
	s = store_with(f, n, 700);
	for (size_t fi = 0; fi < FF_NELEM(filters); fi++) {
		query_filter_t *flt;
		char err[256];

		assert_int_equal(filter_compile(filters[fi], &flt, err,
		    sizeof(err)), 0);
		for (size_t c = 0; c < FF_NELEM(qt_cases); c++) {
			query_spec_t spec = qt_spec(qt_cases[c].kind,
			    qt_cases[c].key, qt_cases[c].order);
			qident_t id;
			query_result_t *r;
			query_meta_t m;
			query_info_t inf;
			int rc;

			spec.filter = filters[fi];
			/* A window cutting blocks, but not for totals. */
			if (qt_cases[c].kind != QUERY_TOTALS) {
				spec.t0 = QT_T0 + 20000;
				spec.t1 = QT_T0 + 70000;
			}
			for (size_t i = 0; i < n; i++)
				sel[i] = f[i].first_ms >= spec.t0 &&
				    f[i].first_ms < spec.t1 &&
				    filter_match(flt, &f[i]);
			assert_int_equal(qident_from_spec(&spec, &id, err,
			    sizeof(err)), 0);
			for (int th = 1; th <= 3; th += 2) {
				spec.threads = th;
				r = run_spec(s, &spec, &rc, err, sizeof(err));
				if (rc != 0)
					fail_msg("run %zu/%zu: %s", fi, c, err);
				check_result(r, &id, f, n, sel);
				/* Matched flows are the totals' flows. */
				query_result_get_meta(r, &m);
				query_result_get_info(r, &inf);
				assert_int_equal(m.flows_matched, inf.flows);
				assert_true(m.flows_scanned <= n);
				assert_int_equal(m.blocks_damaged, 0);
				query_result_free(r);
			}
			qident_clear(&id);
		}
		filter_free(flt);
	}
	store_gone(s);
	free(sel);
	free(f);
}

/*
 * Address keys over blocks whose address columns are dictionaries of
 * IPv4 entries only (more than 256 distinct per block: ADICT in the
 * IPv4 form), the aggregation taking them per code or, when the filter
 * reads the key's column, as rows; and sums that saturate inside one
 * block.
 */
static void
test_store_dict(void **state)
{
	static const char *filters[] = { NULL, "proto tcp",
	    "src net 10.0.0.0/9" };
	static const struct qt_case cases[] = {
		{ QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES },
		{ QUERY_TOPN, QUERY_KEY_SRCNET, QUERY_ORDER_FLOWS },
		{ QUERY_TOPN, QUERY_KEY_DSTIP, QUERY_ORDER_PACKETS },
		{ QUERY_DISTINCT, QUERY_KEY_SRCIP, 0 },
	};
	const size_t n = 8000;
	store_flow_t *f;
	store_t *s;
	uint8_t *sel = malloc(n);
	query_spec_t spec;
	query_result_t *r;
	query_row_t *rows;
	size_t nrows;
	char err[256];
	int rc;

	(void)state;
	qt_rng = 41;
	f = qt_flows(n, 0);
	for (size_t i = 0; i < n; i++) {
		qt_v4(f[i].src, 0x0a000000u | (uint32_t)qt_below(1000) << 14);
		qt_v4(f[i].dst, 0xc0000000u | (uint32_t)qt_below(700) << 12);
	}
	s = store_with(f, n, 4000);
	for (size_t fi = 0; fi < FF_NELEM(filters); fi++) {
		query_filter_t *flt;

		assert_int_equal(filter_compile(filters[fi], &flt, err,
		    sizeof(err)), 0);
		for (size_t i = 0; i < n; i++)
			sel[i] = filter_match(flt, &f[i]);
		for (size_t c = 0; c < FF_NELEM(cases); c++) {
			qident_t id;

			spec = qt_spec(cases[c].kind, cases[c].key,
			    cases[c].order);
			spec.filter = filters[fi];
			assert_int_equal(qident_from_spec(&spec, &id, err,
			    sizeof(err)), 0);
			for (int th = 1; th <= 2; th++) {
				spec.threads = th;
				r = run_spec(s, &spec, &rc, err, sizeof(err));
				if (rc != 0)
					fail_msg("run %zu/%zu: %s", fi, c, err);
				check_result(r, &id, f, n, sel);
				query_result_free(r);
			}
			qident_clear(&id);
		}
		filter_free(flt);
	}
	store_gone(s);

	/* 2^63 bytes three times for one source: its sum saturates. */
	f[0].bytes = f[1].bytes = f[2].bytes = 1ull << 63;
	memcpy(f[1].src, f[0].src, 16);
	memcpy(f[2].src, f[0].src, 16);
	s = store_with(f, n, 4000);
	spec = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES);
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(query_result_rows(r, 1, &rows, &nrows), 0);
	assert_int_equal(nrows, 1);
	assert_memory_equal(rows[0].key, f[0].src, 16);
	assert_true(rows[0].bytes == UINT64_MAX);
	free(rows);
	query_result_free(r);
	store_gone(s);
	free(sel);
	free(f);
}

static void
test_store_meta(void **state)
{
	query_spec_t spec = qt_spec(QUERY_TOTALS, 0, 0);
	store_flow_t *f;
	query_meta_t m;
	query_result_t *r;
	store_t *s;
	char err[256];
	int rc;

	(void)state;
	qt_rng = 3;
	f = qt_flows(4000, 0);
	/* Flows in time order, 10 ms apart: block b holds [500b, 500b+500). */
	for (size_t i = 0; i < 4000; i++)
		f[i].first_ms = f[i].last_ms = QT_T0 + 10 * i;
	s = store_with(f, 4000, 500);
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	query_result_get_meta(r, &m);
	/* Every flow is scanned and matches; 8 blocks of 500. */
	assert_int_equal(m.flows_scanned, 4000);
	assert_int_equal(m.flows_matched, 4000);
	assert_int_equal(m.blocks_scanned, 8);
	assert_int_equal(m.blocks_skipped, 0);
	query_result_free(r);
	/* A window from f[500] on skips the first block by its metadata
	   alone. */
	spec.t0 = f[500].first_ms;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	query_result_get_meta(r, &m);
	assert_int_equal(m.blocks_skipped, 1);
	assert_int_equal(m.blocks_scanned, 7);
	assert_int_equal(m.flows_scanned, 3500);
	assert_int_equal(m.flows_matched, 3500);
	query_result_free(r);
	/* A window inside block 2 matches 100 flows of the 500 scanned. */
	spec.t0 = f[1200].first_ms;
	spec.t1 = f[1300].first_ms;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	query_result_get_meta(r, &m);
	assert_int_equal(m.blocks_scanned, 1);
	assert_int_equal(m.blocks_skipped, 7);
	assert_int_equal(m.flows_scanned, 500);
	assert_int_equal(m.flows_matched, 100);
	query_result_free(r);
	/* An empty window inside block 2: scanned, nothing matches. */
	spec.t1 = spec.t0;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	query_result_get_meta(r, &m);
	assert_int_equal(m.flows_matched, 0);
	query_result_free(r);
	/* No end: t1 = UINT64_MAX takes everything from t0 on. */
	spec.t0 = f[3999].first_ms;
	spec.t1 = UINT64_MAX;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	query_result_get_meta(r, &m);
	assert_int_equal(m.flows_matched, 1);
	query_result_free(r);
	store_gone(s);
	free(f);
}

static void
test_store_limits(void **state)
{
	query_spec_t spec = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP,
	    QUERY_ORDER_BYTES);
	query_t *q;
	query_result_t *r = NULL;
	store_flow_t *f;
	store_t *s;
	volatile int cancel = 1;
	char err[256];
	int rc;

	(void)state;
	qt_rng = 8;
	f = qt_flows(3000, 0);
	s = store_with(f, 3000, 300);
	/* Cancelled before it starts. */
	assert_int_equal(query_compile(&spec, &q, err, sizeof(err)), 0);
	assert_int_equal(query_run(s, q, &cancel, &r, err, sizeof(err)),
	    FF_ECANCELED);
	assert_null(r);
	assert_string_equal(err, "query cancelled");
	cancel = 0;
	assert_int_equal(query_run(s, q, &cancel, &r, err, sizeof(err)),
	    0);
	query_result_free(r);
	query_free(q);
	/* 120 source addresses against a limit of 5 rows. */
	spec.max_rows = 5;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, FF_ELIMIT);
	assert_null(r);
	assert_non_null(strstr(err, "limit of 5 rows"));
	/* A listing asking for more rows than allowed fails at once. */
	spec = qt_spec(QUERY_LIST, 0, 0);
	spec.max_rows = 5;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, FF_ELIMIT);
	/* Memory: 4 KiB hold no table. */
	spec = qt_spec(QUERY_TOPN, QUERY_KEY_SRCIP, QUERY_ORDER_BYTES);
	spec.max_mem = 4096;
	r = run_spec(s, &spec, &rc, err, sizeof(err));
	assert_int_equal(rc, FF_ELIMIT);
	assert_non_null(strstr(err, "memory limit of 4096 bytes"));
	store_gone(s);
	free(f);
}

/* A clock that advances 1 ms each time it is read. */
static _Atomic uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return atomic_fetch_add(&fake_now, 1);
}

static void
test_store_timeout(void **state)
{
	query_spec_t spec = qt_spec(QUERY_TOPN, QUERY_KEY_DSTIP,
	    QUERY_ORDER_BYTES);
	query_t *q;
	query_result_t *r = NULL;
	store_flow_t *f;
	store_t *s;
	char err[256];

	(void)state;
	qt_rng = 9;
	f = qt_flows(1000, 0);
	s = store_with(f, 1000, 100);
	spec.threads = 1;
	spec.max_ms = 3;
	assert_int_equal(query_compile(&spec, &q, err, sizeof(err)), 0);
	/*
	 * The deadline is read once (now 0: deadline 3), then before each
	 * block: 1, 2, 3 pass, so blocks 1 to 3 are scanned, and at 4 the
	 * query stops, though 10 blocks were there.
	 */
	q->clock_ms = fake_clock;
	atomic_store(&fake_now, 0);
	assert_int_equal(query_run(s, q, NULL, &r, err, sizeof(err)),
	    FF_ETIMEDOUT);
	assert_null(r);
	assert_non_null(strstr(err, "time limit of 3 ms"));
	assert_int_equal(atomic_load(&fake_now), 5);
	query_free(q);
	store_gone(s);
	free(f);
}

static void
test_compile_errors(void **state)
{
	query_spec_t spec = qt_spec(QUERY_TOTALS, 0, 0);
	query_t *q = NULL;
	char err[256];

	(void)state;
	spec.filter = "proto tcp and and";
	assert_int_equal(query_compile(&spec, &q, err, sizeof(err)),
	    FF_ESYNTAX);
	assert_null(q);
	assert_non_null(strstr(err, "column"));
	spec.filter = NULL;
	spec.threads = -1;
	assert_int_equal(query_compile(&spec, &q, err, sizeof(err)),
	    FF_EINVAL);
}

/* --- command-line parsers ------------------------------------------------------ */

static void
test_key_parse(void **state)
{
	query_key_t k;
	uint8_t p4 = 99, p6 = 99;

	(void)state;
	assert_int_equal(query_key_parse("srcip", &k, &p4, &p6), 0);
	assert_int_equal(k, QUERY_KEY_SRCIP);
	assert_int_equal(p4, 99);	/* left alone */
	assert_int_equal(query_key_parse("dstnet", &k, &p4, &p6), 0);
	assert_int_equal(k, QUERY_KEY_DSTNET);
	assert_int_equal(p4, 24);
	assert_int_equal(p6, 64);
	assert_int_equal(query_key_parse("srcnet/16", &k, &p4, &p6), 0);
	assert_int_equal(p4, 16);
	assert_int_equal(p6, 64);
	assert_int_equal(query_key_parse("srcnet/8/32", &k, &p4, &p6), 0);
	assert_int_equal(p4, 8);
	assert_int_equal(p6, 32);
	assert_int_equal(query_key_parse("router", &k, &p4, &p6), 0);
	assert_int_equal(k, QUERY_KEY_EXPORTER);
	assert_int_equal(query_key_parse("srcnet/33", &k, &p4, &p6),
	    FF_EINVAL);
	assert_int_equal(query_key_parse("srcnet/8/129", &k, &p4, &p6),
	    FF_EINVAL);
	assert_int_equal(query_key_parse("srcnet/8/32/1", &k, &p4, &p6),
	    FF_EINVAL);
	assert_int_equal(query_key_parse("srcip/8", &k, &p4, &p6), FF_EINVAL);
	assert_int_equal(query_key_parse("src", &k, &p4, &p6), FF_EINVAL);
	assert_int_equal(query_key_parse("srcipx", &k, &p4, &p6), FF_EINVAL);
	assert_string_equal(query_key_name(QUERY_KEY_INIF), "inif");
}

static void
test_time_parse(void **state)
{
	uint64_t t;

	(void)state;
	/* 2024-05-01T12:00:00Z is 1714564800 s (date -u -d ... +%s). */
	assert_int_equal(query_time_parse("2024-05-01T12:00:00Z", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	assert_int_equal(query_time_parse("2024-05-01T12:00:00.25Z", &t), 0);
	assert_int_equal(t, 1714564800250ull);
	assert_int_equal(query_time_parse("2024-05-01 14:00:00+02:00", &t),
	    0);
	assert_int_equal(t, 1714564800000ull);
	assert_int_equal(query_time_parse("2024-05-01T07:30-0430", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	assert_int_equal(query_time_parse("2024-05-01Z", &t), 0);
	assert_int_equal(t, 1714521600000ull);
	assert_int_equal(query_time_parse("@1714564800", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	/* No zone: local time, as nfdump reads it. */
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(query_time_parse("2024/05/01.12:00:00", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	assert_int_equal(query_time_parse("2024/05/01.12:00", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	assert_int_equal(query_time_parse("2024-05-01T12:00:00", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	setenv("TZ", "Europe/Berlin", 1);	/* CEST in May: UTC+2 */
	tzset();
	assert_int_equal(query_time_parse("2024/05/01.14:00:00", &t), 0);
	assert_int_equal(t, 1714564800000ull);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(query_time_parse("2024-04-31T00:00:00Z", &t),
	    FF_EINVAL);
	assert_int_equal(query_time_parse("2024-05-01T24:00:00Z", &t),
	    FF_EINVAL);
	assert_int_equal(query_time_parse("2024/05/01T12:00:00", &t),
	    FF_EINVAL);
	assert_int_equal(query_time_parse("2024-05-01T12", &t), FF_EINVAL);
	assert_int_equal(query_time_parse("2024-05-01T12:00:00Zx", &t),
	    FF_EINVAL);
	assert_int_equal(query_time_parse("yesterday", &t), FF_EINVAL);
	assert_int_equal(query_time_parse("@", &t), FF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_batches),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_agg_limits),
		cmocka_unit_test(test_spec_checks),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_store_kinds),
		cmocka_unit_test(test_store_fields),
		cmocka_unit_test(test_store_dict),
		cmocka_unit_test(test_store_meta),
		cmocka_unit_test(test_store_limits),
		cmocka_unit_test(test_store_timeout),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_time_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
