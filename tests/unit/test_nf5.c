/*
 * NetFlow v5 decoder tests. Packets are built here from Cisco's "NetFlow
 * Export Datagram Format" (version 5: 24-byte header, 48-byte records);
 * every expected value is derived from what the test wrote. The two
 * malformed captures of the shared test data (FF_TESTDATA) are checked
 * too (the test fails when they are absent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "node/decode/pcapfile.h"
#include "testdata.h"

#define NOW_MS		1800000000000ull	/* receive time */
#define EXPORT_S	1700000000u
#define EXPORT_NS	500000000u
#define EXPORT_MS	(EXPORT_S * 1000ull + EXPORT_NS / 1000000)

/* ---- a sink that keeps every flow ------------------------------------- */

#define MAX_FLOWS	128

static store_flow_t got[MAX_FLOWS];
static size_t ngot;
static store_flow_t slots[4];

static void
keep_flush(flow_sink_t *s)
{
	for (size_t i = 0; i < s->n && ngot < MAX_FLOWS; i++)
		got[ngot++] = s->flows[i];
	s->n = 0;
}

static flow_sink_t sink = { slots, 0, 4, keep_flush, NULL };

static size_t
sink_drain(void)
{
	keep_flush(&sink);
	return ngot;
}

static const uint8_t src_addr[16] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 5 };

struct find {
	const uint8_t *addr;
	uint32_t domain;
	int found;
	exporter_stats_t st;
};

static void
find_cb(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	struct find *f = arg;

	if (version == 5 && domain == f->domain &&
	    memcmp(addr, f->addr, 16) == 0) {
		f->found = 1;
		f->st = *st;
	}
}

static exporter_stats_t
stats_of(decoder_t *d, const uint8_t addr[16], uint32_t domain)
{
	struct find f;

	memset(&f, 0, sizeof(f));
	f.addr = addr;
	f.domain = domain;
	decoder_foreach_exporter(d, find_cb, &f);
	assert_true(f.found);
	return f.st;
}

static void
count_cb(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	(void)addr;
	(void)version;
	(void)domain;
	(void)st;
	(*(int *)arg)++;
}

static int
exporter_count(decoder_t *d)
{
	int n = 0;

	decoder_foreach_exporter(d, count_cb, &n);
	return n;
}

/* ---- the packet builder ----------------------------------------------- */

struct v5 {
	uint8_t b[24 + 48 * 40];
	size_t n;
};

static void
v5_header(struct v5 *p, uint16_t count, uint32_t uptime, uint32_t seq,
    uint8_t engine_type, uint8_t engine_id, uint16_t sampling)
{
	memset(p, 0, sizeof(*p));
	put_be16(p->b, 5);
	put_be16(p->b + 2, count);
	put_be32(p->b + 4, uptime);
	put_be32(p->b + 8, EXPORT_S);
	put_be32(p->b + 12, EXPORT_NS);
	put_be32(p->b + 16, seq);
	p->b[20] = engine_type;
	p->b[21] = engine_id;
	put_be16(p->b + 22, sampling);
	p->n = 24;
}

struct rec {
	uint8_t src[4], dst[4], nh[4];
	uint16_t in, out;
	uint32_t pkts, octets, first, last;
	uint16_t sport, dport;
	uint8_t flags, proto, tos;
	uint16_t src_as, dst_as;
	uint8_t src_mask, dst_mask;
};

static void
v5_record(struct v5 *p, const struct rec *r)
{
	uint8_t *q = p->b + p->n;

	assert_true(p->n + 48 <= sizeof(p->b));
	memset(q, 0, 48);
	memcpy(q, r->src, 4);
	memcpy(q + 4, r->dst, 4);
	memcpy(q + 8, r->nh, 4);
	put_be16(q + 12, r->in);
	put_be16(q + 14, r->out);
	put_be32(q + 16, r->pkts);
	put_be32(q + 20, r->octets);
	put_be32(q + 24, r->first);
	put_be32(q + 28, r->last);
	put_be16(q + 32, r->sport);
	put_be16(q + 34, r->dport);
	q[37] = r->flags;
	q[38] = r->proto;
	q[39] = r->tos;
	put_be16(q + 40, r->src_as);
	put_be16(q + 42, r->dst_as);
	q[44] = r->src_mask;
	q[45] = r->dst_mask;
	p->n += 48;
}

static const struct rec R1 = {
	{ 198, 51, 100, 1 }, { 203, 0, 113, 2 }, { 192, 0, 2, 254 },
	3, 4, 10, 14600, 40000, 99000, 51000, 443, 0x1b, 6, 0x20,
	64500, 64501, 24, 16
};

static decoder_t *
dec_new(void)
{
	decoder_t *d = decoder_new(NULL);

	assert_non_null(d);
	sink.n = 0;
	ngot = 0;
	return d;
}

static int
feed(decoder_t *d, const struct v5 *p)
{
	return decoder_packet(d, src_addr, 2055, p->b, p->n, NOW_MS, &sink);
}

static void
assert_v4(const uint8_t a[16], const uint8_t v4[4])
{
	uint8_t m[16];

	addr_from_v4(m, v4);
	assert_memory_equal(a, m, 16);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_fields(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	exporter_stats_t st;

	(void)state;
	v5_header(&p, 1, 100000, 7, 1, 2, 0);
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	assert_int_equal(sink_drain(), 1);
	assert_v4(got[0].src, R1.src);
	assert_v4(got[0].dst, R1.dst);
	assert_v4(got[0].nexthop, R1.nh);
	assert_memory_equal(got[0].exporter, src_addr, 16);
	assert_int_equal(got[0].in_if, 3);
	assert_int_equal(got[0].out_if, 4);
	assert_int_equal(got[0].packets, 10);
	assert_int_equal(got[0].bytes, 14600);
	assert_int_equal(got[0].sport, 51000);
	assert_int_equal(got[0].dport, 443);
	assert_int_equal(got[0].tcp_flags, 0x1b);
	assert_int_equal(got[0].proto, 6);
	assert_int_equal(got[0].tos, 0x20);
	assert_int_equal(got[0].src_as, 64500);
	assert_int_equal(got[0].dst_as, 64501);
	assert_int_equal(got[0].src_mask, 24);
	assert_int_equal(got[0].dst_mask, 16);
	/* no sampling in the header: rate 1 */
	assert_int_equal(got[0].sampling, 1);
	assert_int_equal(got[0].flags, STORE_FLOW_F_FROM_V5);
	/* uptime 100000 at export; the flow ran from 40000 to 99000 */
	assert_int_equal(got[0].first_ms, EXPORT_MS - 60000);
	assert_int_equal(got[0].last_ms, EXPORT_MS - 1000);
	/* the exporter key: engine type 1, engine id 2 */
	st = stats_of(d, src_addr, 1 << 8 | 2);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(decoder_stats(d)->flows, 1);
	decoder_free(d);
}

/*
 * Fields out of the range the store and the wire accept are clamped and
 * counted (node/decode/decode_int.h flow_clamp): a prefix length over 32
 * of an IPv4 flow is unknown (0); an end before the start becomes the
 * start; times from an exporter whose clock says 1970 (before 1990)
 * become the receive time.
 */
static void
test_clamp(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	struct rec r = R1;
	exporter_stats_t st;

	(void)state;
	v5_header(&p, 3, 100000, 0, 0, 0, 0);
	v5_record(&p, &R1);		/* nothing out of range */
	r.src_mask = 33;
	r.dst_mask = 200;
	v5_record(&p, &r);
	r = R1;
	r.first = 99000;		/* starts after it ends */
	r.last = 40000;
	v5_record(&p, &r);
	assert_int_equal(feed(d, &p), 3);
	v5_header(&p, 1, 100000, 3, 0, 0, 0);
	v5_record(&p, &R1);
	put_be32(p.b + 8, 1000);	/* export time: 1970-01-01 00:16:40 */
	put_be32(p.b + 12, 0);
	assert_int_equal(feed(d, &p), 1);
	assert_int_equal(sink_drain(), 4);

	assert_int_equal(got[0].src_mask, 24);
	assert_int_equal(got[0].dst_mask, 16);
	assert_int_equal(got[0].first_ms, EXPORT_MS - 60000);
	assert_int_equal(got[0].last_ms, EXPORT_MS - 1000);
	assert_int_equal(got[1].src_mask, 0);
	assert_int_equal(got[1].dst_mask, 0);
	assert_int_equal(got[2].first_ms, EXPORT_MS - 1000);
	assert_int_equal(got[2].last_ms, EXPORT_MS - 1000);
	assert_int_equal(got[3].first_ms, NOW_MS);
	assert_int_equal(got[3].last_ms, NOW_MS);
	st = stats_of(d, src_addr, 0);
	assert_int_equal(st.flows, 4);
	assert_int_equal(st.clamped, 3);
	assert_int_equal(decoder_stats(d)->clamped, 3);
	decoder_free(d);
}

/* sysUptime wrapped (49.7 days) between a flow's start and the export. */
static void
test_uptime_wrap(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	struct rec r = R1;

	(void)state;
	v5_header(&p, 2, 1000, 0, 0, 0, 0);
	r.first = 0xfffffc18;	/* 1000 ms before the wrap */
	r.last = 500;		/* 500 ms after it */
	v5_record(&p, &r);
	r.first = 900;
	r.last = 1200;		/* 200 ms after the export stamp */
	v5_record(&p, &r);
	assert_int_equal(feed(d, &p), 2);
	assert_int_equal(sink_drain(), 2);
	assert_int_equal(got[0].first_ms, EXPORT_MS - 2000);
	assert_int_equal(got[0].last_ms, EXPORT_MS - 500);
	assert_int_equal(got[1].first_ms, EXPORT_MS - 100);
	assert_int_equal(got[1].last_ms, EXPORT_MS + 200);
	decoder_free(d);
}

/* The header's sampling interval (low 14 bits) scales the counters. */
static void
test_sampling(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;

	(void)state;
	/* mode 01 (deterministic), interval 100 */
	v5_header(&p, 1, 100000, 0, 0, 0, 0x4000 | 100);
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	/* mode bits alone, interval 0: unsampled */
	v5_header(&p, 1, 100000, 1, 0, 0, 0x4000);
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	assert_int_equal(sink_drain(), 2);
	assert_int_equal(got[0].packets, 10 * 100);
	assert_int_equal(got[0].bytes, 14600 * 100);
	assert_int_equal(got[0].sampling, 100);
	assert_int_equal(got[1].packets, 10);
	assert_int_equal(got[1].sampling, 1);
	decoder_free(d);
}

/* A count that does not match the records present is rejected. */
static void
test_count_mismatch(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;

	(void)state;
	v5_header(&p, 3, 100000, 0, 0, 0, 0);
	v5_record(&p, &R1);
	v5_record(&p, &R1);		/* 2 records for a count of 3 */
	assert_int_equal(feed(d, &p), FF_EPROTO);
	v5_header(&p, 0, 100000, 0, 0, 0, 0);
	v5_record(&p, &R1);		/* a record for a count of 0 */
	assert_int_equal(feed(d, &p), FF_EPROTO);
	assert_int_equal(sink_drain(), 0);
	assert_int_equal(stats_of(d, src_addr, 0).malformed, 2);
	assert_int_equal(stats_of(d, src_addr, 0).packets, 0);
	assert_int_equal(decoder_stats(d)->malformed, 2);

	/* bytes after the last record are tolerated */
	v5_header(&p, 1, 100000, 0, 0, 0, 0);
	v5_record(&p, &R1);
	p.n += 8;
	assert_int_equal(feed(d, &p), 1);
	decoder_free(d);
}

/* Every cut of a good two-record packet is rejected, nothing decoded. */
static void
test_truncated(void **state)
{
	struct v5 p;

	(void)state;
	v5_header(&p, 2, 100000, 0, 0, 0, 0);
	v5_record(&p, &R1);
	v5_record(&p, &R1);
	for (size_t len = 0; len < p.n; len++) {
		decoder_t *d = dec_new();

		assert_true(decoder_packet(d, src_addr, 2055, p.b, len,
		    NOW_MS, &sink) < 0);
		assert_int_equal(sink_drain(), 0);
		assert_int_equal(decoder_stats(d)->malformed, 1);
		/* a header cut short names no exporter */
		assert_int_equal(exporter_count(d), len < 24 ? 0 : 1);
		decoder_free(d);
	}
}

/* The v5 sequence number counts flows: gaps are missing flows. */
static void
test_sequence(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	exporter_stats_t st;

	(void)state;
	v5_header(&p, 2, 100000, 100, 0, 0, 0);
	v5_record(&p, &R1);
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 2);
	v5_header(&p, 1, 100000, 102, 0, 0, 0);	/* as expected */
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	v5_header(&p, 1, 100000, 110, 0, 0, 0);	/* 103..109 lost */
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	v5_header(&p, 1, 100000, 5, 0, 0, 0);	/* exporter restarted */
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	/* another engine of the same router keeps its own sequence */
	v5_header(&p, 1, 100000, 9000, 0, 1, 0);
	v5_record(&p, &R1);
	assert_int_equal(feed(d, &p), 1);
	st = stats_of(d, src_addr, 0);
	assert_int_equal(st.packets, 4);
	assert_int_equal(st.flows, 5);
	assert_int_equal(st.seq_gaps, 1);
	assert_int_equal(st.seq_missing, 7);
	assert_int_equal(st.seq_resets, 1);
	st = stats_of(d, src_addr, 1);
	assert_int_equal(st.seq_gaps + st.seq_resets, 0);
	decoder_free(d);
}

/* ICMP type/code: in the destination port, or in the source port. */
static void
test_icmp(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	struct rec r = R1;

	(void)state;
	v5_header(&p, 2, 100000, 0, 0, 0, 0);
	r.proto = 1;
	r.sport = 0;
	r.dport = 3 << 8 | 3;		/* port unreachable */
	v5_record(&p, &r);
	r.sport = 8 << 8;		/* echo request, where some put it */
	r.dport = 0;
	v5_record(&p, &r);
	assert_int_equal(feed(d, &p), 2);
	assert_int_equal(sink_drain(), 2);
	assert_int_equal(got[0].sport, 0);
	assert_int_equal(got[0].dport, 0x0303);
	assert_int_equal(got[1].sport, 0);
	assert_int_equal(got[1].dport, 0x0800);
	decoder_free(d);
}

/* A full packet of 30 records through a 4-slot sink. */
static void
test_thirty(void **state)
{
	decoder_t *d = dec_new();
	struct v5 p;
	struct rec r = R1;

	(void)state;
	v5_header(&p, 30, 100000, 0, 0, 0, 0);
	for (uint16_t i = 0; i < 30; i++) {
		r.sport = (uint16_t)(1000 + i);
		v5_record(&p, &r);
	}
	assert_int_equal(feed(d, &p), 30);
	assert_int_equal(sink_drain(), 30);
	for (uint16_t i = 0; i < 30; i++)
		assert_int_equal(got[i].sport, 1000 + i);
	decoder_free(d);
}

static int
cap_cb(void *arg, const pcap_udp_t *u)
{
	decoder_t *d = arg;

	decoder_packet(d, u->src, u->sport, u->payload, u->len, u->ts_ms,
	    &sink);
	return 0;
}

/*
 * The shared captures netflow5_invalid01/02 announce 55582 and 163
 * records (README of the test data; tshark: "header counts sum to
 * 55582" / "163") but hold 30: each is rejected, nothing decoded.
 */
static void
test_invalid_captures(void **state)
{
	static const char *files[] = {
		"logstash-codec-netflow/wrapped/netflow5_invalid01.pcap",
		"logstash-codec-netflow/wrapped/netflow5_invalid02.pcap",
	};
	const char *dir = testdata_dir();
	char path[4096], err[256];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(files); i++) {
		decoder_t *d = dec_new();
		pcapfile_stats_t st;

		memset(&st, 0, sizeof(st));
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(pcapfile_read(path, cap_cb, d, &st, err,
		    sizeof(err)), 0);
		assert_int_equal(st.udp, 1);
		assert_int_equal(sink_drain(), 0);
		assert_int_equal(decoder_stats(d)->packets, 1);
		assert_int_equal(decoder_stats(d)->malformed, 1);
		assert_int_equal(decoder_stats(d)->flows, 0);
		decoder_free(d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_uptime_wrap),
		cmocka_unit_test(test_clamp),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_count_mismatch),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_thirty),
		cmocka_unit_test(test_invalid_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
