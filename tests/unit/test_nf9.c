/*
 * Unit tests of the NetFlow v9 / IPFIX decoder (node/nf9.c, template.c,
 * hold.c, tplfile.c) through the public decoder API. Packets are built
 * here by a small builder; every expected value follows from the bytes
 * the test wrote (RFC 3954 / RFC 7011 field semantics). A few shared
 * captures (FF_TESTDATA) are decoded too; that test fails when they are
 * absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "node/decode/pcapfile.h"
#include "testdata.h"

/* ---- packet builder ---------------------------------------------------- */

struct pb {
	uint8_t b[8192];
	size_t len;
	size_t set;		/* start of the open set */
	unsigned version;
};

#define EXPORT_SECS	1700000000u	/* header export time */
#define EXPORT_MS	(EXPORT_SECS * 1000ull)
#define UPTIME		3600000u	/* v9 header sysUptime, ms */
#define NOW_MS		(EXPORT_MS + 500)

static const uint8_t EXP_ADDR[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff, 192, 0, 2, 1 };

static void
pb_u8(struct pb *p, unsigned v)
{
	p->b[p->len++] = (uint8_t)v;
}

static void
pb_u16(struct pb *p, unsigned v)
{
	put_be16(p->b + p->len, (uint16_t)v);
	p->len += 2;
}

static void
pb_u32(struct pb *p, uint32_t v)
{
	put_be32(p->b + p->len, v);
	p->len += 4;
}

static void
pb_u64(struct pb *p, uint64_t v)
{
	put_be64(p->b + p->len, v);
	p->len += 8;
}

static void
pb_bytes(struct pb *p, const void *v, size_t n)
{
	memcpy(p->b + p->len, v, n);
	p->len += n;
}

/* Start a packet: v9 (sysUptime UPTIME) or IPFIX, export time fixed. */
static void
pb_init(struct pb *p, unsigned version, uint32_t seq, uint32_t domain)
{
	memset(p, 0, sizeof(*p));
	p->version = version;
	pb_u16(p, version);
	pb_u16(p, 0);		/* v9 count / IPFIX length: set at the end */
	if (version == 9) {
		pb_u32(p, UPTIME);
		pb_u32(p, EXPORT_SECS);
	} else
		pb_u32(p, EXPORT_SECS);
	pb_u32(p, seq);
	pb_u32(p, domain);
}

static void
pb_set(struct pb *p, unsigned id)
{
	p->set = p->len;
	pb_u16(p, id);
	pb_u16(p, 0);
}

static void
pb_end_set(struct pb *p)
{
	put_be16(p->b + p->set + 2, (uint16_t)(p->len - p->set));
}

static size_t
pb_finish(struct pb *p)
{
	if (p->version == 10)
		put_be16(p->b + 2, (uint16_t)p->len);
	else
		put_be16(p->b + 2, 1);
	return p->len;
}

/* A field specifier: IE type, length, enterprise number (0: IANA). */
struct fs {
	uint16_t type;
	uint16_t len;
	uint32_t pen;
};

/* Write a template record (not the set header). */
static void
pb_tpl(struct pb *p, unsigned id, const struct fs *f, unsigned n)
{
	pb_u16(p, id);
	pb_u16(p, n);
	for (unsigned i = 0; i < n; i++) {
		pb_u16(p, f[i].type | (f[i].pen ? 0x8000 : 0));
		pb_u16(p, f[i].len);
		if (f[i].pen)
			pb_u32(p, f[i].pen);
	}
}

/* A whole template set with one template. */
static void
pb_tpl_set(struct pb *p, unsigned id, const struct fs *f, unsigned n)
{
	pb_set(p, p->version == 9 ? 0 : 2);
	pb_tpl(p, id, f, n);
	pb_end_set(p);
}

/* An options template set: nscope scope fields then the others. */
static void
pb_opt_set(struct pb *p, unsigned id, const struct fs *f, unsigned nscope,
    unsigned n)
{
	pb_set(p, p->version == 9 ? 1 : 3);
	pb_u16(p, id);
	if (p->version == 9) {
		pb_u16(p, nscope * 4);
		pb_u16(p, (n - nscope) * 4);
	} else {
		pb_u16(p, n);
		pb_u16(p, nscope);
	}
	for (unsigned i = 0; i < n; i++) {
		pb_u16(p, f[i].type);
		pb_u16(p, f[i].len);
	}
	pb_end_set(p);
}

/* ---- decoding harness ---------------------------------------------------- */

#define MAXFLOWS 4096

struct harness {
	decoder_t *d;
	flow_sink_t sink;
	store_flow_t out[MAXFLOWS];
	size_t nout;
	store_flow_t buf[8];
};

static void
collect(flow_sink_t *s)
{
	struct harness *h = s->arg;

	for (size_t i = 0; i < s->n && h->nout < MAXFLOWS; i++)
		h->out[h->nout++] = s->flows[i];
	s->n = 0;
}

static struct harness *
h_new(const decoder_opts_t *o)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->d = decoder_new(o);
	assert_non_null(h->d);
	h->sink.flows = h->buf;
	h->sink.cap = FF_NELEM(h->buf);	/* small: flushes happen mid-set */
	h->sink.flush = collect;
	h->sink.arg = h;
	return h;
}

static void
h_free(struct harness *h)
{
	decoder_free(h->d);
	free(h);
}

/* Decode one packet; return decoder_packet()'s result. */
static int
h_feed(struct harness *h, struct pb *p, uint64_t now)
{
	size_t len = pb_finish(p);
	int rc = decoder_packet(h->d, EXP_ADDR, 2055, p->b, len, now,
	    &h->sink);

	collect(&h->sink);
	return rc;
}

struct find {
	unsigned version;
	uint32_t domain;
	exporter_stats_t st;
	int found;
};

static void
find_cb(void *arg, const uint8_t addr[16], unsigned version, uint32_t domain,
    const exporter_stats_t *st)
{
	struct find *f = arg;

	(void)addr;
	if (version == f->version && domain == f->domain) {
		f->st = *st;
		f->found = 1;
	}
}

static exporter_stats_t
h_stats(struct harness *h, unsigned version, uint32_t domain)
{
	struct find f;

	memset(&f, 0, sizeof(f));
	f.version = version;
	f.domain = domain;
	decoder_foreach_exporter(h->d, find_cb, &f);
	assert_true(f.found);
	return f.st;
}

static void
assert_v4(const uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	const uint8_t e[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	    x, y, z, w };

	assert_memory_equal(a, e, 16);
}

/* The typical v9 template of these tests (46-byte records). */
static const struct fs V9_FIELDS[] = {
	{ 8, 4, 0 }, { 12, 4, 0 }, { 7, 2, 0 }, { 11, 2, 0 }, { 4, 1, 0 },
	{ 6, 1, 0 }, { 5, 1, 0 }, { 1, 4, 0 }, { 2, 4, 0 }, { 22, 4, 0 },
	{ 21, 4, 0 }, { 10, 2, 0 }, { 14, 2, 0 }, { 16, 2, 0 }, { 17, 2, 0 },
	{ 9, 1, 0 }, { 13, 1, 0 }, { 15, 4, 0 },
};
#define V9_NF FF_NELEM(V9_FIELDS)

/* One record for V9_FIELDS; i varies addresses, ports and counters. */
static void
pb_v9_rec(struct pb *p, unsigned i)
{
	pb_bytes(p, (const uint8_t[]){ 10, 0, 0, (uint8_t)i }, 4);
	pb_bytes(p, (const uint8_t[]){ 192, 168, 1, (uint8_t)i }, 4);
	pb_u16(p, 40000 + i);	/* sport */
	pb_u16(p, 443);		/* dport */
	pb_u8(p, 6);		/* proto */
	pb_u8(p, 0x1b);		/* flags */
	pb_u8(p, 0x20);		/* tos */
	pb_u32(p, 1000 * (i + 1));	/* bytes */
	pb_u32(p, 10 * (i + 1));	/* packets */
	pb_u32(p, UPTIME - 5000);	/* first: 5 s before export */
	pb_u32(p, UPTIME - 1000);	/* last: 1 s before export */
	pb_u16(p, 3);		/* in_if */
	pb_u16(p, 4);		/* out_if */
	pb_u16(p, 64512);	/* src AS */
	pb_u16(p, 15169);	/* dst AS */
	pb_u8(p, 24);
	pb_u8(p, 16);
	pb_bytes(p, (const uint8_t[]){ 10, 0, 0, 254 }, 4);
}

/* A v9 packet: template 256 + data set with n records. */
static void
pb_v9_tpl_data(struct pb *p, uint32_t seq, unsigned n)
{
	pb_init(p, 9, seq, 7);
	pb_tpl_set(p, 256, V9_FIELDS, V9_NF);
	pb_set(p, 256);
	for (unsigned i = 0; i < n; i++)
		pb_v9_rec(p, i);
	pb_end_set(p);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_v9_template_data(void **state)
{
	struct harness *h = h_new(NULL);
	struct pb p;
	exporter_stats_t st;

	(void)state;
	pb_v9_tpl_data(&p, 1, 3);
	assert_int_equal(h_feed(h, &p, NOW_MS), 3);
	assert_int_equal(h->nout, 3);
	for (unsigned i = 0; i < 3; i++) {
		const store_flow_t *f = &h->out[i];

		assert_v4(f->src, 10, 0, 0, (uint8_t)i);
		assert_v4(f->dst, 192, 168, 1, (uint8_t)i);
		assert_v4(f->nexthop, 10, 0, 0, 254);
		assert_memory_equal(f->exporter, EXP_ADDR, 16);
		assert_int_equal(f->sport, 40000 + i);
		assert_int_equal(f->dport, 443);
		assert_int_equal(f->proto, 6);
		assert_int_equal(f->tcp_flags, 0x1b);
		assert_int_equal(f->tos, 0x20);
		assert_int_equal(f->bytes, 1000 * (i + 1));
		assert_int_equal(f->packets, 10 * (i + 1));
		/* sysUptime stamps relative to the header's clock pair */
		assert_int_equal(f->first_ms, EXPORT_MS - 5000);
		assert_int_equal(f->last_ms, EXPORT_MS - 1000);
		assert_int_equal(f->in_if, 3);
		assert_int_equal(f->out_if, 4);
		assert_int_equal(f->src_as, 64512);
		assert_int_equal(f->dst_as, 15169);
		assert_int_equal(f->src_mask, 24);
		assert_int_equal(f->dst_mask, 16);
		assert_int_equal(f->sampling, 1);
		assert_int_equal(f->flags, STORE_FLOW_F_FROM_V9);
	}
	st = h_stats(h, 9, 7);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.flows, 3);
	assert_int_equal(st.templates, 1);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(decoder_stats(h->d)->flows, 3);
	assert_true(decoder_templates_dirty(h->d));
	h_free(h);
}

static void
test_ipfix_template_data(void **state)
{
	static const struct fs f[] = {
		{ 27, 16, 0 }, { 28, 16, 0 }, { 4, 1, 0 }, { 139, 2, 0 },
		{ 1, 8, 0 }, { 2, 8, 0 }, { 152, 8, 0 }, { 153, 8, 0 },
		{ 62, 16, 0 }, { 29, 1, 0 }, { 30, 1, 0 }, { 6, 2, 0 },
	};
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 2 };
	static const uint8_t nh6[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 9 };
	struct harness *h = h_new(NULL);
	const store_flow_t *o;
	struct pb p;

	(void)state;
	pb_init(&p, 10, 0, 99);
	pb_tpl_set(&p, 300, f, FF_NELEM(f));
	pb_set(&p, 300);
	pb_bytes(&p, s6, 16);
	pb_bytes(&p, d6, 16);
	pb_u8(&p, 58);			/* ICMPv6 */
	pb_u16(&p, 128 << 8 | 0);	/* echo request */
	pb_u64(&p, 5000000000ull);	/* > 32 bits */
	pb_u64(&p, 7);
	pb_u64(&p, EXPORT_MS - 2500);
	pb_u64(&p, EXPORT_MS - 100);
	pb_bytes(&p, nh6, 16);
	pb_u8(&p, 48);
	pb_u8(&p, 64);
	pb_u16(&p, 0x0112);		/* 2-byte flags: keep low 8 bits */
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	o = &h->out[0];
	assert_memory_equal(o->src, s6, 16);
	assert_memory_equal(o->dst, d6, 16);
	assert_memory_equal(o->nexthop, nh6, 16);
	assert_int_equal(o->proto, 58);
	assert_int_equal(o->sport, 0);
	assert_int_equal(o->dport, 128 * 256);
	assert_int_equal(o->bytes, 5000000000ull);
	assert_int_equal(o->packets, 7);
	assert_int_equal(o->first_ms, EXPORT_MS - 2500);
	assert_int_equal(o->last_ms, EXPORT_MS - 100);
	assert_int_equal(o->src_mask, 48);
	assert_int_equal(o->dst_mask, 64);
	assert_int_equal(o->tcp_flags, 0x12);
	assert_int_equal(o->flags, STORE_FLOW_F_FROM_IPFIX | STORE_FLOW_F_V6);
	assert_int_equal(h_stats(h, 10, 99).flows, 1);
	h_free(h);
}

/* Decode one IPFIX record of template f (record bytes rec) and return it. */
static store_flow_t
ipfix_one(const struct fs *f, unsigned n, const uint8_t *rec, size_t len,
    const decoder_opts_t *o)
{
	struct harness *h = h_new(o);
	store_flow_t out;
	struct pb p;

	pb_init(&p, 10, 0, 1);
	pb_tpl_set(&p, 256, f, n);
	pb_set(&p, 256);
	pb_bytes(&p, rec, len);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	out = h->out[0];
	h_free(h);
	return out;
}

static void
test_ipfix_time_encodings(void **state)
{
	struct pb r;
	store_flow_t f;

	(void)state;
	/* flowStart/EndSeconds (150/151) */
	memset(&r, 0, sizeof(r));
	pb_u32(&r, EXPORT_SECS - 60);
	pb_u32(&r, EXPORT_SECS - 30);
	f = ipfix_one((const struct fs[]){ { 150, 4, 0 }, { 151, 4, 0 } }, 2,
	    r.b, r.len, NULL);
	assert_int_equal(f.first_ms, EXPORT_MS - 60000);
	assert_int_equal(f.last_ms, EXPORT_MS - 30000);

	/* NTP timestamps (154/155): seconds since 1900, half a second */
	memset(&r, 0, sizeof(r));
	pb_u32(&r, EXPORT_SECS + 2208988800u);
	pb_u32(&r, 0x80000000u);
	pb_u32(&r, EXPORT_SECS + 2208988800u + 1);
	pb_u32(&r, 0);
	f = ipfix_one((const struct fs[]){ { 154, 8, 0 }, { 155, 8, 0 } }, 2,
	    r.b, r.len, NULL);
	assert_int_equal(f.first_ms, EXPORT_MS + 500);
	assert_int_equal(f.last_ms, EXPORT_MS + 1000);

	/* delta microseconds before the export time (158/159) */
	memset(&r, 0, sizeof(r));
	pb_u32(&r, 3000000);
	pb_u32(&r, 250000);
	f = ipfix_one((const struct fs[]){ { 158, 4, 0 }, { 159, 4, 0 } }, 2,
	    r.b, r.len, NULL);
	assert_int_equal(f.first_ms, EXPORT_MS - 3000);
	assert_int_equal(f.last_ms, EXPORT_MS - 250);

	/* no time at all: the export time */
	memset(&r, 0, sizeof(r));
	pb_u32(&r, 1234);
	f = ipfix_one((const struct fs[]){ { 1, 4, 0 } }, 1, r.b, r.len, NULL);
	assert_int_equal(f.first_ms, EXPORT_MS);
	assert_int_equal(f.last_ms, EXPORT_MS);
	assert_int_equal(f.bytes, 1234);

	/* only an end time: start = end */
	memset(&r, 0, sizeof(r));
	pb_u64(&r, EXPORT_MS - 7);
	f = ipfix_one((const struct fs[]){ { 153, 8, 0 } }, 1, r.b, r.len,
	    NULL);
	assert_int_equal(f.first_ms, EXPORT_MS - 7);
	assert_int_equal(f.last_ms, EXPORT_MS - 7);
}

static void
test_ipfix_sysuptime_with_init_time(void **state)
{
	static const struct fs opt[] = { { 149, 4, 0 }, { 160, 8, 0 } };
	static const struct fs f[] = { { 22, 4, 0 }, { 21, 4, 0 },
	    { 1, 4, 0 } };
	struct harness *h = h_new(NULL);
	struct pb p;

	(void)state;
	pb_init(&p, 10, 0, 1);
	pb_opt_set(&p, 400, opt, 1, 2);
	pb_set(&p, 400);
	pb_u32(&p, 1);
	pb_u64(&p, EXPORT_MS - 100000);	/* booted 100 s before export */
	pb_end_set(&p);
	pb_tpl_set(&p, 256, f, 3);
	pb_set(&p, 256);
	pb_u32(&p, 90000);
	pb_u32(&p, 95000);
	pb_u32(&p, 1);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	assert_int_equal(h->out[0].first_ms, EXPORT_MS - 10000);
	assert_int_equal(h->out[0].last_ms, EXPORT_MS - 5000);
	assert_int_equal(h_stats(h, 10, 1).options_records, 1);
	h_free(h);
}

static void
test_reduced_size_and_fallbacks(void **state)
{
	/* totals instead of deltas, physical interfaces, BGP next hop,
	 * counters in 3 and 2 bytes, interfaces in 2 bytes */
	static const struct fs f[] = {
		{ 85, 3, 0 }, { 86, 2, 0 }, { 252, 2, 0 }, { 253, 1, 0 },
		{ 18, 4, 0 }, { 16, 4, 0 }, { 17, 4, 0 }, { 4, 1, 0 },
		{ 32, 2, 0 },
	};
	static const struct fs g[] = { { 23, 4, 0 }, { 24, 4, 0 },
	    { 10, 4, 0 }, { 252, 4, 0 }, { 176, 1, 0 }, { 177, 1, 0 },
	    { 4, 1, 0 } };
	struct pb r;
	store_flow_t o;

	(void)state;
	memset(&r, 0, sizeof(r));
	pb_bytes(&r, (const uint8_t[]){ 0x01, 0x02, 0x03 }, 3);
	pb_u16(&r, 0x0405);
	pb_u16(&r, 700);
	pb_u8(&r, 9);
	pb_bytes(&r, (const uint8_t[]){ 203, 0, 113, 1 }, 4);
	pb_u32(&r, 4200000000u);	/* 4-byte AS */
	pb_u32(&r, 65536);
	pb_u8(&r, 1);			/* ICMP */
	pb_u16(&r, 3 << 8 | 1);		/* unreachable/host */
	o = ipfix_one(f, FF_NELEM(f), r.b, r.len, NULL);
	assert_int_equal(o.bytes, 0x010203);
	assert_int_equal(o.packets, 0x0405);
	assert_int_equal(o.in_if, 700);
	assert_int_equal(o.out_if, 9);
	assert_v4(o.nexthop, 203, 0, 113, 1);
	assert_int_equal(o.src_as, 4200000000u);
	assert_int_equal(o.dst_as, 65536);
	assert_int_equal(o.sport, 0);
	assert_int_equal(o.dport, 3 * 256 + 1);

	/* post counters; the logical interface wins over the physical one;
	 * ICMP type and code as separate elements */
	memset(&r, 0, sizeof(r));
	pb_u32(&r, 777);
	pb_u32(&r, 3);
	pb_u32(&r, 11);
	pb_u32(&r, 99);
	pb_u8(&r, 8);
	pb_u8(&r, 0);
	pb_u8(&r, 1);
	o = ipfix_one(g, FF_NELEM(g), r.b, r.len, NULL);
	assert_int_equal(o.bytes, 777);
	assert_int_equal(o.packets, 3);
	assert_int_equal(o.in_if, 11);
	assert_int_equal(o.dport, 8 * 256);
}

/* v9: sampler options (scope system; sampler id, random interval). */
static void
test_v9_options_sampling(void **state)
{
	static const struct fs opt[] = { { 1, 4, 0 }, { 48, 1, 0 },
	    { 50, 4, 0 } };
	static const struct fs f[] = { { 8, 4, 0 }, { 1, 4, 0 }, { 2, 4, 0 },
	    { 48, 1, 0 } };
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	pb_init(&p, 9, 1, 0);
	pb_opt_set(&p, 257, opt, 1, 3);
	pb_set(&p, 257);
	pb_u32(&p, 0);
	pb_u8(&p, 1);
	pb_u32(&p, 100);
	pb_u32(&p, 0);
	pb_u8(&p, 2);
	pb_u32(&p, 1000);
	pb_end_set(&p);
	pb_tpl_set(&p, 258, f, 4);
	pb_set(&p, 258);
	for (unsigned sid = 1; sid <= 3; sid++) {
		pb_bytes(&p, (const uint8_t[]){ 10, 0, 0, (uint8_t)sid }, 4);
		pb_u32(&p, 50);
		pb_u32(&p, 2);
		pb_u8(&p, sid);
	}
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 3);
	assert_int_equal(h->out[0].sampling, 100);
	assert_int_equal(h->out[0].bytes, 5000);
	assert_int_equal(h->out[0].packets, 200);
	assert_int_equal(h->out[1].sampling, 1000);
	assert_int_equal(h->out[1].bytes, 50000);
	/* sampler 3 was never announced and there is no default */
	assert_int_equal(h->out[2].sampling, 1);
	assert_int_equal(h->out[2].bytes, 50);
	st = h_stats(h, 9, 0);
	assert_int_equal(st.options_records, 2);
	assert_int_equal(st.flows, 3);
	assert_int_equal(st.templates, 2);
	h_free(h);
}

/* IPFIX: selector options with packet interval/space; record rates. */
static void
test_ipfix_sampling(void **state)
{
	static const struct fs opt[] = { { 302, 8, 0 }, { 305, 4, 0 },
	    { 306, 4, 0 } };
	static const struct fs dflt[] = { { 149, 4, 0 }, { 34, 4, 0 } };
	static const struct fs f[] = { { 1, 4, 0 }, { 302, 8, 0 } };
	static const struct fs g[] = { { 1, 4, 0 }, { 34, 4, 0 } };
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	pb_init(&p, 10, 0, 5);
	pb_opt_set(&p, 260, opt, 1, 3);
	pb_set(&p, 260);
	pb_u64(&p, 77);
	pb_u32(&p, 1);
	pb_u32(&p, 999);		/* 1 in 1000 */
	pb_u64(&p, 78);
	pb_u32(&p, 0);			/* absurd: nothing selected */
	pb_u32(&p, 10);
	pb_end_set(&p);
	pb_opt_set(&p, 261, dflt, 1, 2);
	pb_set(&p, 261);
	pb_u32(&p, 5);
	pb_u32(&p, 1u << 25);		/* above max_sampling (1 << 24) */
	pb_u32(&p, 5);
	pb_u32(&p, 64);			/* exporter default 64 */
	pb_end_set(&p);
	pb_tpl_set(&p, 262, f, 2);
	pb_tpl_set(&p, 263, g, 2);
	pb_set(&p, 262);
	pb_u32(&p, 10);
	pb_u64(&p, 77);
	pb_u32(&p, 10);
	pb_u64(&p, 78);			/* not installed: default applies */
	pb_end_set(&p);
	pb_set(&p, 263);
	pb_u32(&p, 10);
	pb_u32(&p, 0);			/* 0 means unsampled */
	pb_u32(&p, 10);
	pb_u32(&p, 8);
	pb_u32(&p, 10);
	pb_u32(&p, 0xffffffffu);	/* absurd: counted, default used */
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 5);
	assert_int_equal(h->out[0].sampling, 1000);
	assert_int_equal(h->out[0].bytes, 10000);
	assert_int_equal(h->out[1].sampling, 64);
	assert_int_equal(h->out[2].sampling, 1);
	assert_int_equal(h->out[2].bytes, 10);
	assert_int_equal(h->out[3].sampling, 8);
	assert_int_equal(h->out[3].bytes, 80);
	assert_int_equal(h->out[4].sampling, 64);
	st = h_stats(h, 10, 5);
	assert_int_equal(st.options_records, 4);
	assert_int_equal(st.sampling_bad, 3);
	assert_int_equal(st.flows, 5);
	h_free(h);
}

static void
test_ipfix_withdrawal(void **state)
{
	static const struct fs f[] = { { 1, 4, 0 } };
	static const struct fs opt[] = { { 149, 4, 0 }, { 34, 4, 0 } };
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	pb_init(&p, 10, 0, 1);
	pb_tpl_set(&p, 256, f, 1);
	pb_tpl_set(&p, 257, f, 1);
	pb_opt_set(&p, 258, opt, 1, 2);
	pb_set(&p, 256);
	pb_u32(&p, 5);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);

	/* withdraw 256 (field count 0), then data for it is unknown */
	pb_init(&p, 10, 1, 1);
	pb_set(&p, 2);
	pb_u16(&p, 256);
	pb_u16(&p, 0);
	pb_end_set(&p);
	pb_set(&p, 256);
	pb_u32(&p, 5);
	pb_end_set(&p);
	pb_set(&p, 257);
	pb_u32(&p, 6);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	assert_int_equal(h->out[1].bytes, 6);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.templates_withdrawn, 1);
	assert_int_equal(st.no_template, 1);

	/* withdraw all data templates (id 2): the options one stays */
	decoder_drop_held(h->d);
	pb_init(&p, 10, 2, 1);
	pb_set(&p, 2);
	pb_u16(&p, 2);
	pb_u16(&p, 0);
	pb_end_set(&p);
	pb_set(&p, 257);
	pb_u32(&p, 6);
	pb_end_set(&p);
	pb_set(&p, 258);
	pb_u32(&p, 1);
	pb_u32(&p, 10);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 0);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.templates_withdrawn, 2);
	assert_int_equal(st.no_template, 2);
	assert_int_equal(st.options_records, 1);

	/* withdraw all options templates (id 3) */
	decoder_drop_held(h->d);
	pb_init(&p, 10, 3, 1);
	pb_set(&p, 3);
	pb_u16(&p, 3);
	pb_u16(&p, 0);
	pb_end_set(&p);
	pb_set(&p, 258);
	pb_u32(&p, 1);
	pb_u32(&p, 10);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.templates_withdrawn, 3);
	assert_int_equal(st.no_template, 3);
	assert_int_equal(st.options_records, 1);
	assert_int_equal(st.malformed, 0);
	/* nothing is left, and no memory is counted for it */
	assert_int_equal(decoder_template_stats(h->d)->templates, 0);
	assert_int_equal(decoder_template_stats(h->d)->bytes, 0);
	h_free(h);
}

static void
test_redefinition(void **state)
{
	static const struct fs a[] = { { 1, 4, 0 }, { 2, 4, 0 } };
	static const struct fs b[] = { { 2, 2, 0 }, { 7, 2, 0 }, { 1, 8, 0 } };
	unsigned versions[] = { 9, 10 };

	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct harness *h = h_new(NULL);
		struct pb p;

		pb_init(&p, versions[v], 0, 0);
		pb_tpl_set(&p, 300, a, 2);
		pb_set(&p, 300);
		pb_u32(&p, 100);
		pb_u32(&p, 2);
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS), 1);
		pb_init(&p, versions[v], 1, 0);
		pb_tpl_set(&p, 300, b, 3);
		pb_set(&p, 300);
		pb_u16(&p, 3);
		pb_u16(&p, 8080);
		pb_u64(&p, 123456);
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS), 1);
		assert_int_equal(h->out[0].bytes, 100);
		assert_int_equal(h->out[0].packets, 2);
		assert_int_equal(h->out[1].bytes, 123456);
		assert_int_equal(h->out[1].packets, 3);
		assert_int_equal(h->out[1].sport, 8080);
		assert_int_equal(h_stats(h, versions[v], 0).templates, 2);
		h_free(h);
	}
}

static void
test_variable_length(void **state)
{
	/* string (varlen), ports, another varlen, bytes */
	static const struct fs f[] = { { 82, 65535, 0 }, { 7, 2, 0 },
	    { 11, 2, 0 }, { 83, 65535, 0 }, { 1, 4, 0 } };
	unsigned versions[] = { 10, 9 };	/* v9: H3C NetStream does it */
	uint8_t big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	for (unsigned v = 0; v < 2; v++) {
		struct harness *h = h_new(NULL);
		struct pb p;

		pb_init(&p, versions[v], 0, 0);
		pb_tpl_set(&p, 256, f, FF_NELEM(f));
		pb_set(&p, 256);
		/* record 1: short form lengths (5, 0) */
		pb_u8(&p, 5);
		pb_bytes(&p, "eth0/", 5);
		pb_u16(&p, 1111);
		pb_u16(&p, 2222);
		pb_u8(&p, 0);
		pb_u32(&p, 333);
		/* record 2: long form (255, then 2-byte length 300) */
		pb_u8(&p, 255);
		pb_u16(&p, 300);
		pb_bytes(&p, big, 300);
		pb_u16(&p, 4444);
		pb_u16(&p, 5555);
		pb_u8(&p, 1);
		pb_u8(&p, 'y');
		pb_u32(&p, 666);
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS), 2);
		assert_int_equal(h->out[0].sport, 1111);
		assert_int_equal(h->out[0].dport, 2222);
		assert_int_equal(h->out[0].bytes, 333);
		assert_int_equal(h->out[1].sport, 4444);
		assert_int_equal(h->out[1].dport, 5555);
		assert_int_equal(h->out[1].bytes, 666);

		/* a varlen field that runs past the set: malformed */
		pb_init(&p, versions[v], 1, 0);
		pb_set(&p, 256);
		pb_u8(&p, 200);		/* 200 bytes announced, 17 there */
		pb_bytes(&p, "short-not-200-b..", 17);
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS), 0);
		assert_int_equal(h_stats(h, versions[v], 0).malformed, 1);
		h_free(h);
	}
}

/* ---- packet sections (IE 315, 104, 313, 317) ---------------------------- */

/*
 * Frames for the section tests, written byte by byte after the RFCs:
 * Ethernet II (dst, src, EtherType), 802.1Q tag (TCI, EtherType), MPLS
 * label entries (RFC 3032: label << 12 | TC << 9 | S << 8 | TTL), IPv4
 * (RFC 791, no options, checksum 0: no decoder checks it), IPv6 (RFC
 * 8200), UDP (RFC 768), TCP (RFC 9293, data offset 5), ICMP (RFC 792).
 */
static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t V6_S[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0x11 };
static const uint8_t V6_D[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0x22 };

static void
fr_eth(struct pb *p, unsigned type)
{
	pb_bytes(p, MAC_A, 6);
	pb_bytes(p, MAC_B, 6);
	pb_u16(p, type);
}

static void
fr_ipv4(struct pb *p, unsigned tos, unsigned total, unsigned proto,
    const uint8_t src[4], const uint8_t dst[4])
{
	pb_u8(p, 0x45);		/* version 4, IHL 5 */
	pb_u8(p, tos);
	pb_u16(p, total);
	pb_u16(p, 0x1234);	/* identification */
	pb_u16(p, 0x4000);	/* DF, offset 0 */
	pb_u8(p, 64);		/* TTL */
	pb_u8(p, proto);
	pb_u16(p, 0);		/* checksum */
	pb_bytes(p, src, 4);
	pb_bytes(p, dst, 4);
}

static void
fr_ipv6(struct pb *p, unsigned tclass, unsigned plen, unsigned next)
{
	pb_u32(p, 6u << 28 | tclass << 20 | 0x12345);	/* flow label */
	pb_u16(p, plen);
	pb_u8(p, next);
	pb_u8(p, 64);		/* hop limit */
	pb_bytes(p, V6_S, 16);
	pb_bytes(p, V6_D, 16);
}

static void
fr_udp(struct pb *p, unsigned sport, unsigned dport, unsigned len)
{
	pb_u16(p, sport);
	pb_u16(p, dport);
	pb_u16(p, len);
	pb_u16(p, 0);
}

static void
fr_tcp(struct pb *p, unsigned sport, unsigned dport, unsigned flags)
{
	pb_u16(p, sport);
	pb_u16(p, dport);
	pb_u32(p, 1000);	/* seq */
	pb_u32(p, 2000);	/* ack */
	pb_u8(p, 5 << 4);	/* data offset 5 words */
	pb_u8(p, flags);
	pb_u16(p, 512);		/* window */
	pb_u32(p, 0);		/* checksum, urgent pointer */
}

/* Write a variable-length field: short form below 255, else long form. */
static void
pb_varlen(struct pb *p, const struct pb *v)
{
	if (v->len < 255)
		pb_u8(p, (unsigned)v->len);
	else {
		pb_u8(p, 255);
		pb_u16(p, (unsigned)v->len);
	}
	pb_bytes(p, v->b, v->len);
}

/*
 * IPFIX dataLinkFrameSection (RFC 7133), variable-length, as akvorado's
 * datalink capture has it: the template (ingressInterface, egressInterface,
 * flowDirection, dataLinkFrameSize, dataLinkFrameSection) carries no
 * address, port or counter, so all of them come from the frame, and the
 * record counts that one packet (packets 1, bytes = the IP length the
 * frame's IP header states, not the bytes captured).
 */
static void
test_ipfix_datalink_section(void **state)
{
	static const struct fs f[] = { { 10, 4, 0 }, { 14, 4, 0 },
	    { 61, 1, 0 }, { 312, 2, 0 }, { 315, 65535, 0 } };
	static const uint8_t s4[4] = { 198, 51, 100, 1 };
	static const uint8_t d4[4] = { 198, 51, 100, 2 };
	struct harness *h = h_new(NULL);
	struct pb p, fr;
	exporter_stats_t st;
	const store_flow_t *o;

	(void)state;
	pb_init(&p, 10, 0, 5);
	pb_tpl_set(&p, 400, f, FF_NELEM(f));
	pb_set(&p, 400);

	/* 1: Ethernet, VLAN 231, IPv4 (ToS 0x28, total length 96, of
	 * which 28 captured), UDP 55501 -> 11777; short-form length 46 */
	memset(&fr, 0, sizeof(fr));
	fr_eth(&fr, 0x8100);
	pb_u16(&fr, 231);
	pb_u16(&fr, 0x0800);
	fr_ipv4(&fr, 0x28, 96, 17, s4, d4);
	fr_udp(&fr, 55501, 11777, 76);
	pb_u32(&p, 582);
	pb_u32(&p, 0);
	pb_u8(&p, 0);
	pb_u16(&p, 114);
	pb_varlen(&p, &fr);

	/* 2: Ethernet, IPv6 (traffic class 0xb8, payload length 1400),
	 * TCP 443 -> 50000 SYN|ACK, then 300 bytes of payload: the section
	 * is 374 bytes, so its length takes the long form (255, 2 bytes) */
	memset(&fr, 0, sizeof(fr));
	fr_eth(&fr, 0x86dd);
	fr_ipv6(&fr, 0xb8, 1400, 6);
	fr_tcp(&fr, 443, 50000, 0x12);
	memset(fr.b + fr.len, 0xee, 300);
	fr.len += 300;
	assert_true(fr.len >= 255);
	pb_u32(&p, 7);
	pb_u32(&p, 8);
	pb_u8(&p, 1);
	pb_u16(&p, 1454);
	pb_varlen(&p, &fr);

	/* 3: an ARP frame (EtherType 0x0806): no IP, nothing to fill */
	memset(&fr, 0, sizeof(fr));
	fr_eth(&fr, 0x0806);
	memset(fr.b + fr.len, 0x01, 28);
	fr.len += 28;
	pb_u32(&p, 9);
	pb_u32(&p, 0);
	pb_u8(&p, 0);
	pb_u16(&p, 42);
	pb_varlen(&p, &fr);

	/* 4: an empty section (length 0), 5: a frame cut inside its IPv4
	 * header (Ethernet + 10 bytes): neither fills anything */
	pb_u32(&p, 10);
	pb_u32(&p, 0);
	pb_u8(&p, 0);
	pb_u16(&p, 0);
	pb_u8(&p, 0);
	memset(&fr, 0, sizeof(fr));
	fr_eth(&fr, 0x0800);
	fr_ipv4(&fr, 0, 60, 6, s4, d4);
	fr.len = 14 + 10;
	pb_u32(&p, 11);
	pb_u32(&p, 0);
	pb_u8(&p, 0);
	pb_u16(&p, 60);
	pb_varlen(&p, &fr);
	pb_end_set(&p);

	assert_int_equal(h_feed(h, &p, NOW_MS), 5);
	assert_int_equal(h->nout, 5);

	o = &h->out[0];
	assert_v4(o->src, 198, 51, 100, 1);
	assert_v4(o->dst, 198, 51, 100, 2);
	assert_int_equal(o->proto, 17);
	assert_int_equal(o->sport, 55501);
	assert_int_equal(o->dport, 11777);
	assert_int_equal(o->tos, 0x28);
	assert_int_equal(o->bytes, 96);
	assert_int_equal(o->packets, 1);
	assert_int_equal(o->in_if, 582);
	assert_int_equal(o->flags, STORE_FLOW_F_FROM_IPFIX |
	    STORE_FLOW_F_NO_NH);	/* the frame gave both addresses */
	/* no time in the record: the export time */
	assert_int_equal(o->first_ms, EXPORT_MS);

	o = &h->out[1];
	assert_memory_equal(o->src, V6_S, 16);
	assert_memory_equal(o->dst, V6_D, 16);
	assert_int_equal(o->proto, 6);
	assert_int_equal(o->sport, 443);
	assert_int_equal(o->dport, 50000);
	assert_int_equal(o->tcp_flags, 0x12);
	assert_int_equal(o->tos, 0xb8);
	assert_int_equal(o->bytes, 1400 + 40);
	assert_int_equal(o->packets, 1);
	assert_int_equal(o->in_if, 7);
	assert_int_equal(o->out_if, 8);
	assert_int_equal(o->flags, STORE_FLOW_F_FROM_IPFIX | STORE_FLOW_F_V6 |
	    STORE_FLOW_F_NO_NH);

	for (unsigned i = 2; i < 5; i++) {
		static const uint8_t zero[16];

		o = &h->out[i];
		assert_int_equal(o->in_if, 9 + i - 2);
		assert_memory_equal(o->src, zero, 16);
		assert_memory_equal(o->dst, zero, 16);
		assert_int_equal(o->proto, 0);
		assert_int_equal(o->sport, 0);
		assert_int_equal(o->bytes, 0);
		assert_int_equal(o->packets, 0);
	}
	st = h_stats(h, 10, 5);
	assert_int_equal(st.flows, 5);
	assert_int_equal(st.malformed, 0);
	h_free(h);
}

/*
 * A fixed-length template with a dataLinkFrameSection of 64 bytes (the
 * exporter pads short frames with zeros) that also carries its own
 * addresses, protocol and counters: those win, the frame fills only the
 * ports, ToS and TCP flags the template lacks. Sampling still scales the
 * template's counters.
 */
static void
test_section_fills_only_missing(void **state)
{
	static const struct fs f[] = { { 8, 4, 0 }, { 12, 4, 0 },
	    { 4, 1, 0 }, { 1, 4, 0 }, { 2, 4, 0 }, { 315, 64, 0 },
	    { 34, 4, 0 } };
	static const uint8_t s4[4] = { 10, 1, 1, 1 };
	static const uint8_t d4[4] = { 10, 2, 2, 2 };
	struct harness *h = h_new(NULL);
	struct pb p, fr;
	const store_flow_t *o;

	(void)state;
	pb_init(&p, 10, 0, 6);
	pb_tpl_set(&p, 401, f, FF_NELEM(f));
	pb_set(&p, 401);
	for (unsigned i = 0; i < 2; i++) {
		pb_bytes(&p, (const uint8_t[]){ 192, 0, 2, 10 }, 4);
		pb_bytes(&p, (const uint8_t[]){ 192, 0, 2, 20 }, 4);
		pb_u8(&p, 6);
		pb_u32(&p, 5000 + i);	/* octets */
		pb_u32(&p, 4);		/* packets */
		/* frame: Ethernet, IPv4 ToS 0x10 proto 6 (the record says
		 * 6 too), TCP 1024+i -> 22 PSH|ACK; 54 bytes, 10 of
		 * zero padding */
		memset(&fr, 0, sizeof(fr));
		fr_eth(&fr, 0x0800);
		fr_ipv4(&fr, 0x10, 1500, 6, s4, d4);
		fr_tcp(&fr, 1024 + i, 22, 0x18);
		assert_int_equal(fr.len, 54);
		fr.len = 64;
		pb_bytes(&p, fr.b, 64);
		pb_u32(&p, 10);		/* samplingInterval 1 in 10 */
	}
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 2);
	for (unsigned i = 0; i < 2; i++) {
		o = &h->out[i];
		assert_v4(o->src, 192, 0, 2, 10);
		assert_v4(o->dst, 192, 0, 2, 20);
		assert_int_equal(o->proto, 6);
		assert_int_equal(o->sport, 1024 + i);
		assert_int_equal(o->dport, 22);
		assert_int_equal(o->tos, 0x10);
		assert_int_equal(o->tcp_flags, 0x18);
		assert_int_equal(o->bytes, (5000 + i) * 10);
		assert_int_equal(o->packets, 4 * 10);
		assert_int_equal(o->sampling, 10);
	}
	h_free(h);
}

/*
 * NetFlow v9 layer2packetSectionData (IE 104), fixed length 96, beside
 * inputSnmp: an Ethernet frame with two MPLS labels (300012, then 17
 * with S set) carrying an Ethernet pseudowire. Record 1 has the RFC
 * 4385 control word (4 zero bytes) before the inner Ethernet header
 * (whose destination MAC 44:4c:a8:98:a5:0d begins like an IPv4 header:
 * the control word is what tells them apart), record 2 has none (RFC
 * 4448 allows both; its MAC 02:00:00:00:00:0b cannot be taken for IP);
 * both carry IPv4 TCP
 * 198.51.100.3:443 -> 198.51.100.4:28911 ACK, total length 1500. The
 * flow is the inner packet's, as tshark's "PW Ethernet Control Word"
 * decode of akvorado's ethernet-over-mpls-with-control-word capture
 * shows it. Record 3: MPLS then IPv6 directly (version nibble 6) with a
 * UDP header.
 */
static void
test_v9_layer2_section_mpls(void **state)
{
	static const struct fs f[] = { { 10, 2, 0 }, { 104, 96, 0 } };
	static const uint8_t s4[4] = { 198, 51, 100, 3 };
	static const uint8_t d4[4] = { 198, 51, 100, 4 };
	struct harness *h = h_new(NULL);
	struct pb p, fr;
	const store_flow_t *o;

	(void)state;
	pb_init(&p, 9, 0, 8);
	pb_tpl_set(&p, 300, f, FF_NELEM(f));
	pb_set(&p, 300);
	for (unsigned i = 0; i < 3; i++) {
		memset(&fr, 0, sizeof(fr));
		fr_eth(&fr, 0x8847);
		pb_u32(&fr, 300012u << 12 | 1 << 9 | 255);
		pb_u32(&fr, 17u << 12 | 1 << 9 | 1 << 8 | 255);
		if (i < 2) {
			if (i == 0) {
				pb_u32(&fr, 0);	/* control word */
				pb_bytes(&fr, (const uint8_t[]){ 0x44, 0x4c,
				    0xa8, 0x98, 0xa5, 0x0d }, 6);
			} else
				pb_bytes(&fr, MAC_B, 6);
			pb_bytes(&fr, MAC_A, 6);
			pb_u16(&fr, 0x0800);
			fr_ipv4(&fr, 0x20, 1500, 6, s4, d4);
			fr_tcp(&fr, 443, 28911, 0x10);
		} else {
			fr_ipv6(&fr, 0, 200, 17);
			fr_udp(&fr, 5353, 53, 200);
		}
		assert_true(fr.len <= 96);
		fr.len = 96;
		pb_u16(&p, 1022 + i);
		pb_bytes(&p, fr.b, 96);
	}
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 3);
	for (unsigned i = 0; i < 2; i++) {
		o = &h->out[i];
		assert_int_equal(o->in_if, 1022 + i);
		assert_v4(o->src, 198, 51, 100, 3);
		assert_v4(o->dst, 198, 51, 100, 4);
		assert_int_equal(o->proto, 6);
		assert_int_equal(o->sport, 443);
		assert_int_equal(o->dport, 28911);
		assert_int_equal(o->tcp_flags, 0x10);
		assert_int_equal(o->tos, 0x20);
		assert_int_equal(o->bytes, 1500);
		assert_int_equal(o->packets, 1);
		assert_int_equal(o->flags, STORE_FLOW_F_FROM_V9 |
		    STORE_FLOW_F_NO_NH);
	}
	o = &h->out[2];
	assert_memory_equal(o->src, V6_S, 16);
	assert_memory_equal(o->dst, V6_D, 16);
	assert_int_equal(o->proto, 17);
	assert_int_equal(o->sport, 5353);
	assert_int_equal(o->dport, 53);
	assert_int_equal(o->bytes, 240);
	assert_int_equal(o->flags, STORE_FLOW_F_FROM_V9 | STORE_FLOW_F_V6 |
	    STORE_FLOW_F_NO_NH);
	h_free(h);
}

/*
 * ipHeaderPacketSection (IE 313, RFC 5477): the packet from its IP
 * header on. Record 1: IPv4 ICMP echo request (type 8, code 0) ->
 * sport 0, dport 8 * 256. Record 2: SRv6, an outer IPv6 header (next
 * header 43) with a segment routing header (RFC 8754: next header 41,
 * length 2 = one segment, routing type 4) before an inner IPv6 packet:
 * the flow reports the outer addresses and protocol 41 (IPv6 in IPv6),
 * as tshark shows the outer header of akvorado's ipfix-srv6 capture.
 * Record 3: mplsPayloadPacketSection (IE 317) in a template of its own,
 * an IPv4 UDP packet right after the label stack.
 */
static void
test_ip_header_sections(void **state)
{
	static const struct fs f[] = { { 313, 65535, 0 } };
	static const struct fs g[] = { { 317, 65535, 0 }, { 2, 4, 0 } };
	static const uint8_t s4[4] = { 8, 8, 8, 8 };
	static const uint8_t d4[4] = { 213, 36, 140, 100 };
	static const uint8_t seg[16] = { 0xfc, 0x30, 0x22, 0, 0, 0x23, 0xe0,
	    0x09 };
	struct harness *h = h_new(NULL);
	struct pb p, fr;
	const store_flow_t *o;

	(void)state;
	pb_init(&p, 10, 0, 9);
	pb_tpl_set(&p, 402, f, FF_NELEM(f));
	pb_tpl_set(&p, 403, g, FF_NELEM(g));
	pb_set(&p, 402);
	memset(&fr, 0, sizeof(fr));
	fr_ipv4(&fr, 0, 84, 1, s4, d4);
	pb_bytes(&fr, (const uint8_t[]){ 8, 0, 0, 0, 0, 1, 0, 1 }, 8);
	pb_varlen(&p, &fr);
	memset(&fr, 0, sizeof(fr));
	fr_ipv6(&fr, 0, 24 + 40 + 8, 43);
	pb_bytes(&fr, (const uint8_t[]){ 41, 2, 4, 0, 0, 0, 0, 0 }, 8);
	pb_bytes(&fr, seg, 16);
	fr_ipv6(&fr, 0, 8, 17);
	fr_udp(&fr, 1000, 2000, 8);
	pb_varlen(&p, &fr);
	pb_end_set(&p);
	pb_set(&p, 403);
	memset(&fr, 0, sizeof(fr));
	fr_ipv4(&fr, 0, 28, 17, d4, s4);
	fr_udp(&fr, 53, 33000, 8);
	pb_varlen(&p, &fr);
	pb_u32(&p, 3);		/* packetDeltaCount: the template's own */
	pb_end_set(&p);

	assert_int_equal(h_feed(h, &p, NOW_MS), 3);
	o = &h->out[0];
	assert_v4(o->src, 8, 8, 8, 8);
	assert_v4(o->dst, 213, 36, 140, 100);
	assert_int_equal(o->proto, 1);
	assert_int_equal(o->sport, 0);
	assert_int_equal(o->dport, 8 * 256);
	assert_int_equal(o->bytes, 84);
	assert_int_equal(o->packets, 1);

	o = &h->out[1];
	assert_memory_equal(o->src, V6_S, 16);
	assert_memory_equal(o->dst, V6_D, 16);
	assert_int_equal(o->proto, 41);
	assert_int_equal(o->sport, 0);
	assert_int_equal(o->dport, 0);
	assert_int_equal(o->bytes, 40 + 24 + 40 + 8);

	/* a packet counter but no byte counter: neither is filled */
	o = &h->out[2];
	assert_v4(o->src, 213, 36, 140, 100);
	assert_v4(o->dst, 8, 8, 8, 8);
	assert_int_equal(o->proto, 17);
	assert_int_equal(o->sport, 53);
	assert_int_equal(o->dport, 33000);
	assert_int_equal(o->packets, 3);
	assert_int_equal(o->bytes, 0);
	h_free(h);
}

static void
test_enterprise_fields(void **state)
{
	/* enterprise element numbered 8 (would be sourceIPv4Address if it
	 * were IANA's) with PEN 9, 4 bytes, then IANA 8, then an
	 * enterprise varlen element and IANA 1 */
	static const struct fs f[] = { { 8, 4, 9 }, { 8, 4, 0 },
	    { 12, 65535, 29305 }, { 1, 4, 0 } };
	struct pb r;
	store_flow_t o;

	(void)state;
	memset(&r, 0, sizeof(r));
	pb_bytes(&r, (const uint8_t[]){ 1, 1, 1, 1 }, 4);
	pb_bytes(&r, (const uint8_t[]){ 2, 2, 2, 2 }, 4);
	pb_u8(&r, 3);
	pb_bytes(&r, "abc", 3);
	pb_u32(&r, 4242);
	o = ipfix_one(f, FF_NELEM(f), r.b, r.len, NULL);
	assert_v4(o.src, 2, 2, 2, 2);
	assert_int_equal(o.bytes, 4242);
}

static void
test_padding(void **state)
{
	static const struct fs f[] = { { 1, 4, 0 }, { 4, 1, 0 } };
	unsigned versions[] = { 9, 10 };

	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct harness *h = h_new(NULL);
		struct pb p;

		pb_init(&p, versions[v], 0, 0);
		pb_set(&p, versions[v] == 9 ? 0 : 2);
		pb_tpl(&p, 256, f, 2);
		pb_u16(&p, 0);		/* 2 bytes of padding */
		pb_end_set(&p);
		pb_set(&p, 256);
		pb_u32(&p, 10);
		pb_u8(&p, 17);
		pb_u32(&p, 20);
		pb_u8(&p, 6);
		pb_u16(&p, 0);		/* pad to 4: shorter than a record */
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS), 2);
		assert_int_equal(h->out[1].bytes, 20);
		assert_int_equal(h_stats(h, versions[v], 0).malformed, 0);
		h_free(h);
	}
}

/* v9: zero-filled bytes after the last flowset (Palo Alto) are padding. */
static void
test_v9_zero_tail(void **state)
{
	struct harness *h = h_new(NULL);
	struct pb p;

	(void)state;
	pb_v9_tpl_data(&p, 0, 1);
	memset(p.b + p.len, 0, 200);
	p.len += 200;
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	assert_int_equal(h_stats(h, 9, 7).malformed, 0);
	h_free(h);
}

static void
test_several_sets_any_order(void **state)
{
	static const struct fs f[] = { { 1, 4, 0 } };
	static const struct fs g[] = { { 2, 4, 0 } };
	static const struct fs opt[] = { { 149, 4, 0 }, { 34, 4, 0 } };
	struct harness *h = h_new(NULL);
	struct pb p;

	(void)state;
	pb_init(&p, 10, 0, 0);
	pb_tpl_set(&p, 256, f, 1);
	pb_set(&p, 256);
	pb_u32(&p, 1);
	pb_end_set(&p);
	pb_opt_set(&p, 258, opt, 1, 2);
	pb_set(&p, 258);
	pb_u32(&p, 0);
	pb_u32(&p, 10);
	pb_end_set(&p);
	pb_tpl_set(&p, 257, g, 1);
	pb_set(&p, 257);
	pb_u32(&p, 2);
	pb_u32(&p, 3);
	pb_end_set(&p);
	pb_set(&p, 256);
	pb_u32(&p, 4);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 4);
	/* the first record came before the options record: unsampled */
	assert_int_equal(h->out[0].bytes, 1);
	assert_int_equal(h->out[1].packets, 20);
	assert_int_equal(h->out[2].packets, 30);
	assert_int_equal(h->out[3].bytes, 40);
	assert_int_equal(h_stats(h, 10, 0).options_records, 1);
	h_free(h);
}

static void
test_hold_then_replay(void **state)
{
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p, t;

	(void)state;
	/* data first (v9, template 256 unknown) */
	pb_init(&p, 9, 0, 7);
	pb_set(&p, 256);
	pb_v9_rec(&p, 1);
	pb_v9_rec(&p, 2);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 0);
	st = h_stats(h, 9, 7);
	assert_int_equal(st.no_template, 1);
	assert_int_equal(st.held_replayed, 0);

	/* the template comes in the next packet, 20 s later (within the
	 * default hold time of 30 s): the held set is decoded with its own
	 * packet's clock */
	pb_init(&t, 9, 1, 7);
	put_be32(t.b + 4, UPTIME + 20000);
	put_be32(t.b + 8, EXPORT_SECS + 20);
	pb_tpl_set(&t, 256, V9_FIELDS, V9_NF);
	assert_int_equal(h_feed(h, &t, NOW_MS + 20000), 2);
	assert_int_equal(h->nout, 2);
	assert_int_equal(h->out[0].bytes, 2000);
	assert_int_equal(h->out[1].bytes, 3000);
	assert_int_equal(h->out[0].first_ms, EXPORT_MS - 5000);
	st = h_stats(h, 9, 7);
	assert_int_equal(st.held_replayed, 1);
	assert_int_equal(st.no_template_dropped, 0);
	assert_int_equal(st.flows, 2);
	assert_int_equal(decoder_stats(h->d)->flows, 2);

	/* another exporter (source id 8) whose template comes 60 s after
	 * its data: the hold time runs in the packets' clock, so the held
	 * set has expired when the template packet arrives and is dropped,
	 * not replayed */
	pb_init(&p, 9, 0, 8);
	pb_set(&p, 256);
	pb_v9_rec(&p, 1);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 0);
	pb_init(&t, 9, 1, 8);
	put_be32(t.b + 4, UPTIME + 60000);
	put_be32(t.b + 8, EXPORT_SECS + 60);
	pb_tpl_set(&t, 256, V9_FIELDS, V9_NF);
	assert_int_equal(h_feed(h, &t, NOW_MS + 60000), 0);
	assert_int_equal(h->nout, 2);
	st = h_stats(h, 9, 8);
	assert_int_equal(st.no_template, 1);
	assert_int_equal(st.held_replayed, 0);
	assert_int_equal(st.no_template_dropped, 1);

	/* data before its template in the same packet */
	pb_init(&p, 10, 0, 3);
	pb_set(&p, 400);
	pb_u32(&p, 77);
	pb_end_set(&p);
	pb_tpl_set(&p, 400, (const struct fs[]){ { 1, 4, 0 } }, 1);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	assert_int_equal(h->out[2].bytes, 77);
	st = h_stats(h, 10, 3);
	assert_int_equal(st.no_template, 1);
	assert_int_equal(st.held_replayed, 1);
	h_free(h);
}

static void
test_hold_expiry_and_limits(void **state)
{
	decoder_opts_t o;
	struct harness *h;
	exporter_stats_t st;
	struct pb p;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.hold_max_ms = 1000;
	h = h_new(&o);
	pb_init(&p, 10, 0, 1);
	pb_set(&p, 999);
	pb_u32(&p, 1);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	decoder_tick(h->d, NOW_MS + 1000, &h->sink);	/* not yet */
	assert_int_equal(h_stats(h, 10, 1).no_template_dropped, 0);
	decoder_tick(h->d, NOW_MS + 1001, &h->sink);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.no_template, 1);
	assert_int_equal(st.no_template_dropped, 1);
	/* the template now comes too late */
	pb_init(&p, 10, 1, 1);
	pb_tpl_set(&p, 999, (const struct fs[]){ { 1, 4, 0 } }, 1);
	assert_int_equal(h_feed(h, &p, NOW_MS + 2000), 0);
	assert_int_equal(h_stats(h, 10, 1).held_replayed, 0);
	h_free(h);

	/* a byte bound of ~2 sets: the oldest is dropped for a third */
	memset(&o, 0, sizeof(o));
	o.hold_max_bytes = 2 * (64 + 100);
	h = h_new(&o);
	for (unsigned i = 0; i < 3; i++) {
		pb_init(&p, 10, i, 1);
		pb_set(&p, 500);
		for (unsigned j = 0; j < 25; j++)
			pb_u32(&p, i);
		pb_end_set(&p);
		h_feed(h, &p, NOW_MS);
	}
	st = h_stats(h, 10, 1);
	assert_int_equal(st.no_template, 3);
	assert_int_equal(st.no_template_dropped, 1);
	pb_init(&p, 10, 3, 1);
	pb_tpl_set(&p, 500, (const struct fs[]){ { 1, 4, 0 } }, 1);
	assert_int_equal(h_feed(h, &p, NOW_MS), 50);
	assert_int_equal(h->out[0].bytes, 1);	/* set 0 was dropped */
	assert_int_equal(h->out[49].bytes, 2);
	assert_int_equal(h_stats(h, 10, 1).held_replayed, 2);

	/* decoder_drop_held() counts what it drops */
	pb_init(&p, 10, 4, 1);
	pb_set(&p, 501);
	pb_u32(&p, 1);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	decoder_drop_held(h->d);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.no_template, 4);
	assert_int_equal(st.no_template_dropped, 2);
	h_free(h);
}

/* The decoder-wide bound on held bytes, across exporters. */
static void
test_hold_global_limit(void **state)
{
	decoder_opts_t o;
	struct harness *h;
	struct pb p;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.hold_max_total = 250;		/* two 100-byte sets fit, not three */
	h = h_new(&o);
	for (uint32_t dom = 1; dom <= 3; dom++) {
		pb_init(&p, 10, 0, dom);
		pb_set(&p, 700);
		for (unsigned j = 0; j < 25; j++)
			pb_u32(&p, j);
		pb_end_set(&p);
		h_feed(h, &p, NOW_MS);
	}
	assert_int_equal(h_stats(h, 10, 1).no_template_dropped, 0);
	assert_int_equal(h_stats(h, 10, 2).no_template_dropped, 0);
	assert_int_equal(h_stats(h, 10, 3).no_template, 1);
	assert_int_equal(h_stats(h, 10, 3).no_template_dropped, 1);
	/* dropping what is held frees the global budget again */
	decoder_drop_held(h->d);
	pb_init(&p, 10, 1, 4);
	pb_set(&p, 700);
	for (unsigned j = 0; j < 25; j++)
		pb_u32(&p, j);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	assert_int_equal(h_stats(h, 10, 4).no_template_dropped, 0);
	pb_init(&p, 10, 2, 4);
	pb_tpl_set(&p, 700, (const struct fs[]){ { 1, 4, 0 } }, 1);
	assert_int_equal(h_feed(h, &p, NOW_MS), 25);
	assert_int_equal(h_stats(h, 10, 4).held_replayed, 1);
	h_free(h);
}

static void
test_no_hold(void **state)
{
	decoder_opts_t o;
	struct harness *h;
	exporter_stats_t st;
	struct pb p;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.hold_unknown = -1;
	h = h_new(&o);
	pb_init(&p, 9, 0, 7);
	pb_set(&p, 256);
	pb_v9_rec(&p, 0);
	pb_end_set(&p);
	pb_tpl_set(&p, 256, V9_FIELDS, V9_NF);
	pb_set(&p, 256);
	pb_v9_rec(&p, 1);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	assert_int_equal(h->out[0].bytes, 2000);
	st = h_stats(h, 9, 7);
	assert_int_equal(st.no_template, 1);
	assert_int_equal(st.no_template_dropped, 1);
	assert_int_equal(st.held_replayed, 0);
	h_free(h);
}

static void
test_bad_template_ids_and_counts(void **state)
{
	static const struct fs f[] = { { 1, 4, 0 } };
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	/* id 255: malformed and skipped; the next template is fine */
	pb_init(&p, 9, 0, 0);
	pb_set(&p, 0);
	pb_tpl(&p, 255, f, 1);
	pb_tpl(&p, 256, f, 1);
	pb_end_set(&p);
	pb_set(&p, 256);
	pb_u32(&p, 9);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 1);
	st = h_stats(h, 9, 0);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.templates, 1);

	/* v9 field count 0 */
	pb_init(&p, 9, 1, 0);
	pb_set(&p, 0);
	pb_u16(&p, 300);
	pb_u16(&p, 0);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	assert_int_equal(h_stats(h, 9, 0).malformed, 2);

	/* huge field count: more than the set holds, and more than the cap */
	pb_init(&p, 9, 2, 0);
	pb_set(&p, 0);
	pb_u16(&p, 301);
	pb_u16(&p, 65535);
	pb_u32(&p, 0x00010004);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	assert_int_equal(h_stats(h, 9, 0).malformed, 3);
	pb_init(&p, 10, 0, 0);
	pb_set(&p, 2);
	pb_u16(&p, 302);
	pb_u16(&p, 2000);
	for (unsigned i = 0; i < 2000; i++)
		pb_u32(&p, 0x00010004);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	st = h_stats(h, 10, 0);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.templates, 0);

	/* IPFIX withdrawal of an id < 256 that is not 2/3 */
	pb_init(&p, 10, 0, 0);
	pb_set(&p, 2);
	pb_u16(&p, 17);
	pb_u16(&p, 0);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	assert_int_equal(h_stats(h, 10, 0).malformed, 2);

	/* enterprise bit on the last field but no room for its PEN */
	pb_init(&p, 10, 0, 0);
	pb_set(&p, 2);
	pb_u16(&p, 303);
	pb_u16(&p, 1);
	pb_u16(&p, 0x8001);
	pb_u16(&p, 4);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	assert_int_equal(h_stats(h, 10, 0).malformed, 3);
	h_free(h);
}

static void
test_zero_length_template(void **state)
{
	/* every field 0 bytes long: records would be empty */
	static const struct fs z[] = { { 1, 0, 0 }, { 2, 0, 0 } };
	/* some 0-length fields among real ones are fine */
	static const struct fs mixed[] = { { 1, 4, 0 }, { 2, 0, 0 },
	    { 4, 1, 0 }, { 95, 0, 0 } };
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	pb_init(&p, 9, 0, 0);
	pb_tpl_set(&p, 256, z, 2);
	pb_set(&p, 256);
	pb_u32(&p, 0);
	pb_end_set(&p);
	pb_tpl_set(&p, 257, mixed, 4);
	pb_set(&p, 257);
	pb_u32(&p, 10);
	pb_u8(&p, 17);
	pb_u32(&p, 11);
	pb_u8(&p, 6);
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS), 2);
	assert_int_equal(h->out[0].bytes, 10);
	assert_int_equal(h->out[0].proto, 17);
	assert_int_equal(h->out[1].bytes, 11);
	st = h_stats(h, 9, 0);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.templates, 1);
	assert_int_equal(st.no_template, 1);
	h_free(h);
}

static void
test_truncated(void **state)
{
	struct harness *h = h_new(NULL);
	struct pb p;
	size_t len;
	int rc;

	(void)state;
	/* v9 header cut */
	pb_v9_tpl_data(&p, 0, 1);
	rc = decoder_packet(h->d, EXP_ADDR, 2055, p.b, 19, NOW_MS, &h->sink);
	assert_int_equal(rc, FF_ETRUNC);
	/* IPFIX header cut, and a message length past the datagram */
	pb_init(&p, 10, 0, 0);
	rc = decoder_packet(h->d, EXP_ADDR, 2055, p.b, 15, NOW_MS, &h->sink);
	assert_int_equal(rc, FF_ETRUNC);
	pb_tpl_set(&p, 256, (const struct fs[]){ { 1, 4, 0 } }, 1);
	len = pb_finish(&p);
	rc = decoder_packet(h->d, EXP_ADDR, 2055, p.b, len - 1, NOW_MS,
	    &h->sink);
	assert_int_equal(rc, FF_ETRUNC);
	assert_int_equal(h_stats(h, 10, 0).malformed, 1);
	assert_int_equal(h_stats(h, 10, 0).packets, 0);
	assert_int_equal(decoder_stats(h->d)->malformed, 3);

	/* a set whose length runs past the packet: dropped, counted */
	pb_v9_tpl_data(&p, 1, 2);
	len = pb_finish(&p);
	rc = decoder_packet(h->d, EXP_ADDR, 2055, p.b, len - 10, NOW_MS,
	    &h->sink);
	assert_int_equal(rc, 0);
	assert_int_equal(h_stats(h, 9, 7).malformed, 1);
	assert_int_equal(h_stats(h, 9, 7).templates, 1);
	/* a set length below 4 */
	pb_init(&p, 9, 2, 7);
	pb_u16(&p, 256);
	pb_u16(&p, 2);
	pb_u32(&p, 0xdeadbeef);
	assert_int_equal(h_feed(h, &p, NOW_MS), 0);
	assert_int_equal(h_stats(h, 9, 7).malformed, 2);
	h_free(h);
}

static void
test_sequence(void **state)
{
	struct harness *h = h_new(NULL);
	exporter_stats_t st;
	struct pb p;

	(void)state;
	/* v9 counts packets */
	pb_v9_tpl_data(&p, 10, 1);
	h_feed(h, &p, NOW_MS);
	pb_v9_tpl_data(&p, 11, 1);
	h_feed(h, &p, NOW_MS);
	pb_v9_tpl_data(&p, 14, 1);
	h_feed(h, &p, NOW_MS);
	st = h_stats(h, 9, 7);
	assert_int_equal(st.seq_gaps, 1);
	assert_int_equal(st.seq_missing, 2);

	/* IPFIX counts data records (options records too) */
	for (unsigned i = 0; i < 3; i++) {
		static const uint32_t seqs[] = { 100, 103, 107 };

		pb_init(&p, 10, seqs[i], 1);
		pb_tpl_set(&p, 256, (const struct fs[]){ { 1, 4, 0 } }, 1);
		pb_set(&p, 256);
		for (unsigned j = 0; j < 3; j++)
			pb_u32(&p, j);
		pb_end_set(&p);
		h_feed(h, &p, NOW_MS);
	}
	st = h_stats(h, 10, 1);
	assert_int_equal(st.seq_gaps, 1);
	assert_int_equal(st.seq_missing, 1);

	/* a set that could not be decoded: the next packet is not judged */
	pb_init(&p, 10, 110, 1);
	pb_set(&p, 999);
	pb_u32(&p, 1);
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS);
	pb_init(&p, 10, 150, 1);
	h_feed(h, &p, NOW_MS);
	st = h_stats(h, 10, 1);
	assert_int_equal(st.seq_gaps, 1);
	h_free(h);
}

/* Template state of the persistence tests: v9 + IPFIX + sampling. */
static void
feed_state(struct harness *h)
{
	static const struct fs opt[] = { { 1, 4, 0 }, { 48, 1, 0 },
	    { 50, 4, 0 } };
	static const struct fs f[] = { { 1, 4, 0 }, { 48, 1, 0 } };
	static const struct fs g[] = { { 82, 65535, 0 }, { 1, 8, 0 },
	    { 5, 4, 3054 } };
	struct pb p;

	pb_init(&p, 9, 0, 42);
	pb_opt_set(&p, 257, opt, 1, 3);
	pb_set(&p, 257);
	pb_u32(&p, 0);
	pb_u8(&p, 3);
	pb_u32(&p, 500);
	pb_end_set(&p);
	pb_tpl_set(&p, 258, f, 2);
	h_feed(h, &p, NOW_MS);
	pb_init(&p, 10, 0, 43);
	pb_tpl_set(&p, 1000, g, 3);
	h_feed(h, &p, NOW_MS);
}

/* Data for feed_state()'s templates; returns flows decoded. */
static int
feed_data(struct harness *h)
{
	struct pb p;
	int n;

	pb_init(&p, 9, 1, 42);
	pb_set(&p, 258);
	pb_u32(&p, 7);
	pb_u8(&p, 3);
	pb_end_set(&p);
	n = h_feed(h, &p, NOW_MS);
	pb_init(&p, 10, 0, 43);
	pb_set(&p, 1000);
	pb_u8(&p, 2);
	pb_bytes(&p, "ab", 2);
	pb_u64(&p, 9);
	pb_u32(&p, 0);
	pb_end_set(&p);
	return n + h_feed(h, &p, NOW_MS);
}

/* ---- the exporter table: bounds, eviction, expiry ---------------------- */

/* 192.0.2.N, IPv4-mapped. */
static void
addr_n(uint8_t a[16], unsigned n)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 192;
	a[14] = 2;
	a[15] = (uint8_t)n;
}

/* A bare v9 header (count 0, no sets) from 192.0.2.src, source id dom. */
static int
junk(struct harness *h, unsigned src, uint32_t dom, uint64_t now)
{
	uint8_t a[16];
	struct pb p;

	addr_n(a, src);
	pb_init(&p, 9, 0, dom);
	put_be16(p.b + 2, 0);
	return decoder_packet(h->d, a, 2055, p.b, p.len, now, &h->sink);
}

/* A v9 template and 2 records from 192.0.2.src, source id dom. */
static int
real(struct harness *h, unsigned src, uint32_t dom, uint64_t now)
{
	uint8_t a[16];
	struct pb p;
	int rc;

	addr_n(a, src);
	pb_v9_tpl_data(&p, 1, 2);
	put_be32(p.b + 16, dom);
	rc = decoder_packet(h->d, a, 2055, p.b, pb_finish(&p), now,
	    &h->sink);
	collect(&h->sink);
	return rc;
}

struct has {
	uint8_t addr[16];
	uint32_t domain;
	int found;
	size_t n;
};

static void
has_cb(void *arg, const uint8_t addr[16], unsigned version, uint32_t domain,
    const exporter_stats_t *st)
{
	struct has *f = arg;

	(void)st;
	f->n++;
	if (version == 9 && domain == f->domain && memcmp(addr, f->addr,
	    16) == 0)
		f->found = 1;
}

/* 1 if the exporter (192.0.2.src, v9, dom) is in the table. */
static int
has(struct harness *h, unsigned src, uint32_t dom)
{
	struct has f;

	memset(&f, 0, sizeof(f));
	addr_n(f.addr, src);
	f.domain = dom;
	decoder_foreach_exporter(h->d, has_cb, &f);
	assert_int_equal(f.n, decoder_stats(h->d)->exporters);
	return f.found;
}

/*
 * A flood of made-up source ids from one address takes at most
 * max_per_source slots: the rest is refused and counted, with the
 * address; other addresses are not bound by its share, and idle junk
 * expires, making room again.
 */
static void
test_exporter_flood_one_source(void **state)
{
	decoder_opts_t o = { .max_per_source = 4, .max_exporters = 100,
	    .idle_ms = 1000 };
	struct harness *h;
	const decoder_stats_t *st;
	uint8_t a[16];

	(void)state;
	h = h_new(&o);
	st = decoder_stats(h->d);
	assert_int_equal(real(h, 1, 1000, NOW_MS), 2);
	for (uint32_t i = 0; i < 40; i++)
		assert_int_equal(junk(h, 1, i, NOW_MS + i),
		    i < 3 ? 0 : FF_ELIMIT);
	assert_int_equal(st->exporters, 4);
	assert_int_equal(st->exporters_dropped, 37);
	assert_int_equal(st->exporters_refused_source, 37);
	assert_int_equal(st->exporters_refused_full, 0);
	assert_int_equal(st->exporters_evicted, 0);
	addr_n(a, 1);
	assert_memory_equal(st->last_refused, a, 16);
	assert_true(has(h, 1, 1000) && has(h, 1, 0) && has(h, 1, 2));
	/* the known exporters of the address go on */
	assert_int_equal(real(h, 1, 1000, NOW_MS + 50), 2);
	assert_int_equal(junk(h, 1, 2, NOW_MS + 50), 0);
	/* another address is not bound by this one's share */
	assert_int_equal(real(h, 2, 1000, NOW_MS + 60), 2);
	assert_int_equal(st->exporters, 5);
	/* idle junk goes: room for a new exporter of the address */
	decoder_tick(h->d, NOW_MS + 1049, &h->sink);
	assert_int_equal(st->exporters_expired, 2);	/* ids 0 and 1 */
	assert_int_equal(real(h, 1, 2000, NOW_MS + 1050), 2);
	assert_int_equal(st->exporters, 4);
	h_free(h);
}

/*
 * A full table evicts the least recently seen exporter that never sent
 * valid data; with none, the new exporter is refused.
 */
static void
test_exporter_table_full_evicts_lru(void **state)
{
	decoder_opts_t o = { .max_per_source = 100, .max_exporters = 4 };
	struct harness *h;
	const decoder_stats_t *st;

	(void)state;
	h = h_new(&o);
	st = decoder_stats(h->d);
	assert_int_equal(real(h, 1, 1, NOW_MS), 2);
	assert_int_equal(junk(h, 2, 1, NOW_MS + 1), 0);
	assert_int_equal(junk(h, 3, 1, NOW_MS + 2), 0);
	assert_int_equal(junk(h, 4, 1, NOW_MS + 3), 0);
	/* 192.0.2.2 is seen again: 192.0.2.3 is now the least recent */
	assert_int_equal(junk(h, 2, 1, NOW_MS + 4), 0);
	assert_int_equal(junk(h, 5, 1, NOW_MS + 5), 0);
	assert_int_equal(st->exporters_evicted, 1);
	assert_false(has(h, 3, 1));
	assert_true(has(h, 2, 1) && has(h, 4, 1) && has(h, 5, 1));
	/* a probation exporter that sends data is kept from then on */
	assert_int_equal(real(h, 4, 1, NOW_MS + 6), 2);
	assert_int_equal(real(h, 6, 1, NOW_MS + 7), 2);	/* evicts .2 */
	assert_int_equal(real(h, 7, 1, NOW_MS + 8), 2);	/* evicts .5 */
	assert_true(has(h, 1, 1) && has(h, 4, 1) && has(h, 6, 1) &&
	    has(h, 7, 1));
	assert_int_equal(junk(h, 8, 1, NOW_MS + 9), FF_ELIMIT);
	assert_int_equal(st->exporters_refused_full, 1);
	assert_int_equal(st->exporters_refused_source, 0);
	assert_int_equal(st->exporters_evicted, 3);
	assert_int_equal(st->exporters, 4);
	h_free(h);
}

/*
 * The tick removes exporters idle for idle_ms, and with them their
 * templates from the saved set; an exporter loaded from the template
 * file counts its idle time from the first tick after the load.
 */
static void
test_exporter_idle_expiry(void **state)
{
	decoder_opts_t o = { .idle_ms = 60000 };
	struct harness *h, *g;
	const decoder_stats_t *st;
	uint8_t *buf;
	size_t len;

	(void)state;
	h = h_new(&o);
	st = decoder_stats(h->d);
	assert_int_equal(real(h, 1, 1, NOW_MS), 2);
	assert_int_equal(junk(h, 2, 1, NOW_MS), 0);
	assert_int_equal(real(h, 3, 1, NOW_MS + 30000), 2);
	assert_int_equal(decoder_templates_export(h->d, &buf, &len), 0);
	free(buf);
	decoder_tick(h->d, NOW_MS + 59999, &h->sink);
	assert_int_equal(st->exporters, 3);
	decoder_tick(h->d, NOW_MS + 60000, &h->sink);
	assert_int_equal(st->exporters, 1);
	assert_int_equal(st->exporters_expired, 2);
	assert_true(has(h, 3, 1));
	/* 192.0.2.1's templates must leave the file */
	assert_true(decoder_templates_dirty(h->d));
	assert_int_equal(decoder_templates_export(h->d, &buf, &len), 0);
	g = h_new(&o);
	assert_int_equal(decoder_templates_import(g->d, buf, len), 0);
	free(buf);
	assert_int_equal(decoder_stats(g->d)->exporters, 1);
	assert_true(has(g, 3, 1));
	/* loaded at some time T; the first tick stamps it */
	decoder_tick(g->d, NOW_MS + 1000000, &g->sink);
	decoder_tick(g->d, NOW_MS + 1059999, &g->sink);
	assert_int_equal(decoder_stats(g->d)->exporters, 1);
	decoder_tick(g->d, NOW_MS + 1060000, &g->sink);
	assert_int_equal(decoder_stats(g->d)->exporters, 0);
	h_free(g);
	/* no expiry at all */
	o.idle_ms = UINT64_MAX;
	g = h_new(&o);
	assert_int_equal(real(g, 1, 1, NOW_MS), 2);
	decoder_tick(g->d, NOW_MS + 400ull * 86400 * 1000, &g->sink);
	assert_int_equal(decoder_stats(g->d)->exporters, 1);
	h_free(g);
	h_free(h);
}

/* Saved exporters load whatever the per-source limit is now. */
static void
test_exporter_import_over_share(void **state)
{
	decoder_opts_t small = { .max_per_source = 2 };
	struct harness *h = h_new(NULL), *g = h_new(&small);
	uint8_t *buf;
	size_t len;

	(void)state;
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(real(h, 1, i, NOW_MS), 2);
	assert_int_equal(decoder_templates_export(h->d, &buf, &len), 0);
	assert_int_equal(decoder_templates_import(g->d, buf, len), 0);
	free(buf);
	assert_int_equal(decoder_stats(g->d)->exporters, 5);
	/* new ones from that address are refused */
	assert_int_equal(junk(g, 1, 99, NOW_MS), FF_ELIMIT);
	assert_int_equal(decoder_stats(g->d)->exporters_refused_source, 1);
	assert_int_equal(real(g, 1, 3, NOW_MS), 2);	/* a known one */
	h_free(g);
	h_free(h);
}

/* Exporters that never sent a template or data are not saved. */
static void
test_exporter_probation_not_saved(void **state)
{
	struct harness *h = h_new(NULL), *g = h_new(NULL);
	uint8_t *buf;
	size_t len;

	(void)state;
	for (uint32_t i = 0; i < 100; i++)
		assert_int_equal(junk(h, 1, i, NOW_MS), 0);
	assert_int_equal(real(h, 2, 5, NOW_MS), 2);
	assert_int_equal(decoder_stats(h->d)->exporters, 101);
	assert_int_equal(decoder_templates_export(h->d, &buf, &len), 0);
	assert_int_equal(decoder_templates_import(g->d, buf, len), 0);
	free(buf);
	assert_int_equal(decoder_stats(g->d)->exporters, 1);
	assert_true(has(g, 2, 5));
	h_free(g);
	h_free(h);
}

static void
test_persistence_round_trip(void **state)
{
	struct harness *a = h_new(NULL), *b = h_new(NULL), *c;
	uint8_t *buf, *buf2;
	size_t len, len2;

	(void)state;
	feed_state(a);
	assert_true(decoder_templates_dirty(a->d));
	assert_int_equal(decoder_templates_export(a->d, &buf, &len), 0);
	assert_false(decoder_templates_dirty(a->d));

	assert_int_equal(decoder_templates_import(b->d, buf, len), 0);
	assert_false(decoder_templates_dirty(b->d));
	assert_int_equal(feed_data(b), 2);
	assert_int_equal(b->out[0].bytes, 3500);	/* sampler 3: 1:500 */
	assert_int_equal(b->out[0].sampling, 500);
	assert_int_equal(b->out[1].bytes, 9);
	assert_int_equal(b->out[1].flags, STORE_FLOW_F_FROM_IPFIX |
	    STORE_FLOW_F_NO_SRC | STORE_FLOW_F_NO_DST | STORE_FLOW_F_NO_NH);
	assert_int_equal(h_stats(b, 9, 42).no_template, 0);
	assert_int_equal(h_stats(b, 10, 43).no_template, 0);
	/* imported, not received: no template was counted */
	assert_int_equal(h_stats(b, 9, 42).templates, 0);

	/* export of the imported state imports again, same size */
	assert_int_equal(decoder_templates_export(b->d, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	c = h_new(NULL);
	assert_int_equal(decoder_templates_import(c->d, buf2, len2), 0);
	assert_int_equal(feed_data(c), 2);
	assert_int_equal(c->out[0].sampling, 500);
	free(buf);
	free(buf2);
	h_free(a);
	h_free(b);
	h_free(c);
}

/* One record of a template file (format 2, node/decode/tplfile.c). */
struct rec_at {
	size_t off;
	size_t len;
	unsigned type;		/* 1 exporter, 2 template */
};

/* The records of a sealed template file, by their length fields. */
static size_t
file_records(const uint8_t *buf, size_t len, struct rec_at *r, size_t max)
{
	size_t off = 16, n = 0;

	assert_memory_equal(buf, "FFTPLSET\0\2", 10);
	while (off + 24 <= len && n < max) {
		r[n].off = off;
		r[n].len = 24 + be32(buf + off + 20);
		r[n].type = buf[off + 24];
		off += r[n++].len;
	}
	assert_int_equal(off, len);
	return n;
}

static void
test_persistence_damaged(void **state)
{
	struct harness *a = h_new(NULL), *b;
	const decoder_tplstats_t *ts;
	struct rec_at r[8];
	uint8_t *buf, *bad;
	size_t len, n, ntpl = 0;

	(void)state;
	feed_state(a);
	assert_int_equal(decoder_templates_export(a->d, &buf, &len), 0);
	assert_non_null(bad = malloc(len));
	/* two exporters and their three templates, a record each */
	n = file_records(buf, len, r, FF_NELEM(r));
	assert_int_equal(n, 5);
	for (size_t k = 0; k < n; k++)
		ntpl += r[k].type == 2;
	assert_int_equal(ntpl, 3);

	/* a flipped bit anywhere: only the record it is in is lost */
	for (size_t i = 0; i < len; i++) {
		size_t lost = 0;

		for (size_t k = 0; k < n; k++)
			if (i >= r[k].off && i < r[k].off + r[k].len &&
			    r[k].type == 2)
				lost = 1;
		memcpy(bad, buf, len);
		bad[i] ^= 0x10;
		b = h_new(NULL);
		assert_int_equal(decoder_templates_import(b->d, bad, len),
		    FF_EPROTO);
		ts = decoder_template_stats(b->d);
		assert_int_equal(ts->templates, ntpl - lost);
		assert_int_equal(ts->loaded, ntpl - lost);
		assert_int_equal(ts->load_damaged, 1);
		h_free(b);
	}

	/* cut short anywhere: the records before the cut load; a cut on a
	   record boundary is no damage */
	for (size_t cut = 0; cut < len; cut++) {
		size_t whole = 0;
		int boundary = cut == 16;

		for (size_t k = 0; k < n; k++) {
			if (r[k].off + r[k].len <= cut)
				whole += r[k].type == 2;
			if (r[k].off + r[k].len == cut)
				boundary = 1;
		}
		b = h_new(NULL);
		assert_int_equal(decoder_templates_import(b->d, buf, cut),
		    boundary ? 0 : FF_EPROTO);
		assert_int_equal(decoder_template_stats(b->d)->templates,
		    whole);
		h_free(b);
	}

	/* a valid checksum over bad content (a template record of an
	   exporter version 5): that record is skipped, the rest loads */
	for (size_t k = 0; k < n; k++)
		if (r[k].type == 2) {
			memcpy(bad, buf, len);
			bad[r[k].off + 24 + 1] = 5;
			decoder_templates_seal(bad, len);
			b = h_new(NULL);
			assert_int_equal(decoder_templates_import(b->d, bad,
			    len), FF_EPROTO);
			ts = decoder_template_stats(b->d);
			assert_int_equal(ts->templates, ntpl - 1);
			assert_int_equal(ts->load_damaged, 1);
			h_free(b);
			break;
		}

	/* garbage between records is skipped as one damaged run */
	{
		size_t k = n - 1, glen = len + 100;
		uint8_t *g = malloc(glen);

		assert_non_null(g);
		memcpy(g, buf, r[k].off);
		for (size_t i = 0; i < 100; i++)
			g[r[k].off + i] = (uint8_t)("FFTR"[i % 4] + i / 4 % 2);
		memcpy(g + r[k].off + 100, buf + r[k].off, len - r[k].off);
		b = h_new(NULL);
		assert_int_equal(decoder_templates_import(b->d, g, glen),
		    FF_EPROTO);
		ts = decoder_template_stats(b->d);
		assert_int_equal(ts->templates, ntpl);
		assert_int_equal(ts->load_damaged, 1);
		assert_int_equal(feed_data(b), 2);
		h_free(b);
		free(g);
	}
	b = h_new(NULL);
	assert_int_equal(decoder_templates_import(b->d, buf, 0), FF_EPROTO);
	h_free(b);
	free(bad);
	free(buf);
	h_free(a);
}

/*
 * A file in the older format (1: one block checked whole by a BLAKE2b-256
 * trailer) still loads; a damaged one loads nothing.
 */
static void
test_persistence_format1(void **state)
{
	static const struct fs g[] = { { 82, 65535, 0 }, { 1, 8, 0 },
	    { 5, 4, 3054 } };
	struct harness *b;
	struct pb t, f;
	struct pb p;

	(void)state;
	/* the IPFIX template record of feed_state(), as sent */
	memset(&t, 0, sizeof(t));
	pb_tpl(&t, 1000, g, 3);
	memset(&f, 0, sizeof(f));
	pb_bytes(&f, "FFTPLSET", 8);
	pb_u16(&f, 1);
	pb_u16(&f, 0);
	pb_u32(&f, 1);			/* exporters */
	pb_bytes(&f, EXP_ADDR, 16);
	pb_u8(&f, 10);
	pb_u8(&f, 0);
	pb_u16(&f, 0);			/* samplers */
	pb_u32(&f, 43);			/* domain */
	pb_u64(&f, 0);			/* systemInitTime */
	pb_u32(&f, 0);			/* default rate */
	pb_u32(&f, 1);			/* templates */
	pb_u8(&f, 0);
	pb_u8(&f, 0);
	pb_u16(&f, t.len);
	pb_bytes(&f, t.b, t.len);
	crypto_generichash(f.b + f.len, 32, f.b, f.len, NULL, 0);
	f.len += 32;

	b = h_new(NULL);
	assert_int_equal(decoder_templates_import(b->d, f.b, f.len), 0);
	assert_int_equal(decoder_template_stats(b->d)->loaded, 1);
	pb_init(&p, 10, 0, 43);
	pb_set(&p, 1000);
	pb_u8(&p, 2);
	pb_bytes(&p, "ab", 2);
	pb_u64(&p, 9);
	pb_u32(&p, 0);
	pb_end_set(&p);
	assert_int_equal(h_feed(b, &p, NOW_MS), 1);
	assert_int_equal(b->out[0].bytes, 9);
	h_free(b);

	f.b[40] ^= 1;
	b = h_new(NULL);
	assert_int_equal(decoder_templates_import(b->d, f.b, f.len),
	    FF_EPROTO);
	assert_int_equal(decoder_template_stats(b->d)->templates, 0);
	assert_int_equal(decoder_template_stats(b->d)->load_damaged, 1);
	h_free(b);
}

/* ---- the template memory budget ----------------------------------------- */

/* 1,024 fields, every one a counter: a step each, the most a template
   can cost (4,100 bytes as sent). */
static struct fs WIDE[1024];

static void
wide_fields(void)
{
	for (unsigned i = 0; i < FF_NELEM(WIDE); i++) {
		WIDE[i].type = i % 2 ? 1 : 2;
		WIDE[i].len = 4;
		WIDE[i].pen = 0;
	}
}

/* A template-only packet: template 256 = WIDE from source id domain. */
static void
feed_wide_template(struct harness *h, uint32_t domain, uint64_t now)
{
	struct pb p;

	pb_init(&p, 9, 0, domain);
	pb_tpl_set(&p, 256, WIDE, FF_NELEM(WIDE));
	assert_int_equal(h_feed(h, &p, now), 0);
}

/* Data for pb_v9_tpl_data()'s template 256 of source id 7: n records. */
static int
feed_v9_data(struct harness *h, uint32_t seq, unsigned n, uint64_t now)
{
	struct pb p;

	pb_init(&p, 9, seq, 7);
	pb_set(&p, 256);
	for (unsigned i = 0; i < n; i++)
		pb_v9_rec(&p, i);
	pb_end_set(&p);
	return h_feed(h, &p, now);
}

/*
 * A flood of 1,024-field templates from 300 source ids that send no data
 * stays within a 256 KiB budget by evicting its own oldest; the exporter
 * that sends data keeps its template. Its snapshot is no larger than the
 * budget, and loads into a smaller budget keeping the exporter with data.
 */
static void
test_template_budget_flood(void **state)
{
	const decoder_tplstats_t *ts;
	decoder_opts_t o;
	struct harness *h, *b;
	struct pb p;
	uint8_t *buf;
	size_t len;

	(void)state;
	wide_fields();
	memset(&o, 0, sizeof(o));
	o.hold_unknown = -1;
	o.tpl_max_bytes = 256 * 1024;
	h = h_new(&o);
	ts = decoder_template_stats(h->d);
	assert_int_equal(ts->max_bytes, 256 * 1024);
	pb_v9_tpl_data(&p, 0, 3);
	assert_int_equal(h_feed(h, &p, NOW_MS), 3);
	assert_int_equal(ts->templates, 1);
	assert_true(ts->bytes > 0 && ts->bytes < 1024);

	for (uint32_t i = 0; i < 300; i++) {
		feed_wide_template(h, 1000 + i, NOW_MS + i);
		assert_true(ts->bytes <= o.tpl_max_bytes);
		/* data keeps coming from source id 7 */
		if (i % 50 == 0)
			assert_int_equal(feed_v9_data(h, 1 + i, 2,
			    NOW_MS + i), 2);
	}
	/* each wide template takes more than its 4,100 bytes as sent */
	assert_true(ts->evicted > 0);
	assert_int_equal(ts->evicted, ts->evicted_exporters);
	assert_int_equal(ts->templates, 1 + 300 - ts->evicted);
	assert_true((ts->templates - 1) * 4100 < ts->bytes);
	assert_int_equal(ts->refused, 0);
	assert_int_equal(feed_v9_data(h, 400, 3, NOW_MS + 400), 3);
	assert_int_equal(h_stats(h, 9, 7).no_template, 0);
	/* the newest flood templates are there, the oldest are not */
	assert_int_equal(h_stats(h, 9, 1000).no_template, 0);
	pb_init(&p, 9, 1, 1000 + 299);
	pb_set(&p, 256);
	memset(p.b + p.len, 0, 4096);
	p.len += 4096;
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS + 400), 1);
	pb_init(&p, 9, 1, 1000);
	pb_set(&p, 256);
	memset(p.b + p.len, 0, 4096);
	p.len += 4096;
	pb_end_set(&p);
	assert_int_equal(h_feed(h, &p, NOW_MS + 400), 0);
	assert_int_equal(h_stats(h, 9, 1000).no_template, 1);

	/* the snapshot is bounded by the budget */
	assert_int_equal(decoder_templates_export(h->d, &buf, &len), 0);
	assert_true(len <= o.tpl_max_bytes);

	/* loaded under a budget of half: the exporter with data ranks
	   first, what does not fit is refused */
	o.tpl_max_bytes = 128 * 1024;
	b = h_new(&o);
	decoder_templates_import(b->d, buf, len);
	ts = decoder_template_stats(b->d);
	assert_true(ts->bytes <= o.tpl_max_bytes);
	assert_true(ts->refused + ts->evicted > 0);
	assert_int_equal(feed_v9_data(b, 500, 3, NOW_MS + 500), 3);
	assert_int_equal(h_stats(b, 9, 7).no_template, 0);
	free(buf);
	h_free(b);
	h_free(h);
}

/*
 * Ranks: an exporter whose data stopped more than TPL_DATA_CREDIT_MS (an
 * hour) ago is evicted before templates-only newcomers; when everything
 * in memory ranks higher than a newcomer, the newcomer is refused and
 * nothing is evicted.
 */
static void
test_template_budget_ranks(void **state)
{
	const uint64_t hour = 3600 * 1000;
	const decoder_tplstats_t *ts;
	decoder_opts_t o;
	struct harness *h;
	struct pb p;

	(void)state;
	wide_fields();
	memset(&o, 0, sizeof(o));
	o.hold_unknown = -1;
	o.tpl_max_bytes = 64 * 1024;
	h = h_new(&o);
	ts = decoder_template_stats(h->d);

	/* exporters 1..5 send a wide template and then data */
	for (uint32_t i = 1; i <= 5; i++) {
		feed_wide_template(h, i, NOW_MS);
		pb_init(&p, 9, 1, i);
		pb_set(&p, 256);
		memset(p.b + p.len, 0, 4096);
		p.len += 4096;
		pb_end_set(&p);
		assert_int_equal(h_feed(h, &p, NOW_MS + 1), 1);
	}
	assert_int_equal(ts->templates, 5);
	/* newcomers without data: refused while the five rank higher */
	for (uint32_t i = 100; i < 110; i++)
		feed_wide_template(h, i, NOW_MS + 10 * 60 * 1000);
	assert_int_equal(ts->evicted, 0);
	assert_true(ts->refused > 0);
	assert_int_equal(ts->templates + ts->refused, 15);
	/* refused again within TPL_RESCAN_MS without a scan: same count */
	feed_wide_template(h, 200, NOW_MS + 10 * 60 * 1000 + 1);
	assert_int_equal(ts->templates + ts->refused, 16);

	/* two hours on, the five are idle: a newcomer evicts them,
	   lowest rank first */
	feed_wide_template(h, 300, NOW_MS + 2 * hour);
	assert_true(ts->evicted >= 1);
	pb_init(&p, 9, 2, 1);
	pb_set(&p, 256);
	memset(p.b + p.len, 0, 4096);
	p.len += 4096;
	pb_end_set(&p);
	h_feed(h, &p, NOW_MS + 2 * hour);
	assert_int_equal(h_stats(h, 9, 300).templates, 1);
	assert_true(ts->bytes <= o.tpl_max_bytes);
	h_free(h);
}

/* A v9 options template without scope fields (its scope length, where
   IPFIX has its field count, is 0) is saved and loaded like any. */
static void
test_persistence_v9_options_no_scope(void **state)
{
	static const struct fs opt[] = { { 34, 4, 0 } };
	struct harness *a = h_new(NULL), *b = h_new(NULL);
	uint8_t *buf;
	size_t len;
	struct pb p;

	(void)state;
	pb_init(&p, 9, 0, 5);
	pb_opt_set(&p, 260, opt, 0, 1);
	h_feed(a, &p, NOW_MS);
	assert_int_equal(h_stats(a, 9, 5).templates, 1);
	assert_int_equal(decoder_templates_export(a->d, &buf, &len), 0);
	assert_int_equal(decoder_templates_import(b->d, buf, len), 0);
	assert_int_equal(decoder_template_stats(b->d)->loaded, 1);
	free(buf);
	h_free(a);
	h_free(b);
}

/* An import that brings a held set's template decodes it at the tick. */
static void
test_import_replays_held(void **state)
{
	struct harness *a = h_new(NULL), *b = h_new(NULL);
	uint8_t *buf;
	size_t len;

	(void)state;
	feed_state(a);
	assert_int_equal(decoder_templates_export(a->d, &buf, &len), 0);
	assert_int_equal(feed_data(b), 0);
	assert_int_equal(decoder_templates_import(b->d, buf, len), 0);
	decoder_tick(b->d, NOW_MS + 10, &b->sink);
	collect(&b->sink);
	assert_int_equal(b->nout, 2);
	assert_int_equal(h_stats(b, 10, 43).held_replayed, 1);
	free(buf);
	h_free(a);
	h_free(b);
}

/* ---- shared captures (FF_TESTDATA) ------------------------------------ */

static int
on_udp(void *arg, const pcap_udp_t *u)
{
	struct harness *h = arg;

	decoder_packet(h->d, u->src, u->sport, u->payload, u->len, u->ts_ms,
	    &h->sink);
	collect(&h->sink);
	return 0;
}

/* Decode files (in order) with --no-hold semantics. */
static struct harness *
decode_files(const char *const *files, int hold)
{
	const char *dir = testdata_dir();
	decoder_opts_t o;
	struct harness *h;

	memset(&o, 0, sizeof(o));
	o.hold_unknown = hold ? 1 : -1;
	h = h_new(&o);
	for (; *files != NULL; files++) {
		char path[1024], err[256];
		pcapfile_stats_t st;

		snprintf(path, sizeof(path), "%s/%s", dir, *files);
		if (pcapfile_read(path, on_udp, h, &st, err, sizeof(err)) != 0)
			fail_msg("%s", err);
	}
	decoder_drop_held(h->d);
	return h;
}

/*
 * Cisco WLC template 261 (tshark -V): staMacAddress, staIPv4Address (366),
 * applicationId, wlanSSID, flowDirection (61), bytes, packets, two DSCP,
 * wtpMacAddress; 19 records, all of station 192.168.20.121, the first
 * ingress (83 packets, 3320 bytes) then egress (the same counts). No
 * source, destination or next-hop field: the station is the source of
 * what it sent (ingress) and the destination of what it received
 * (egress); the other addresses are absent, not ::.
 */
static void
test_wlc_station(void **state)
{
	static const char *const wlc[] = {
		"logstash-codec-netflow/wrapped/netflow9_cisco_wlc.pcap", NULL };
	static const uint8_t zero[16];
	struct harness *h;
	unsigned in = 0, out = 0;

	(void)state;
	h = decode_files(wlc, 0);
	assert_int_equal(h->nout, 19);
	assert_v4(h->out[0].src, 192, 168, 20, 121);
	assert_int_equal(h->out[0].packets, 83);
	assert_int_equal(h->out[0].bytes, 3320);
	assert_v4(h->out[1].dst, 192, 168, 20, 121);
	for (size_t i = 0; i < h->nout; i++) {
		const store_flow_t *f = &h->out[i];

		assert_true(f->flags & STORE_FLOW_F_NO_NH);
		if (f->flags & STORE_FLOW_F_NO_DST) {
			in++;
			assert_false(f->flags & STORE_FLOW_F_NO_SRC);
			assert_v4(f->src, 192, 168, 20, 121);
			assert_memory_equal(f->dst, zero, 16);
		} else {
			out++;
			assert_true(f->flags & STORE_FLOW_F_NO_SRC);
			assert_v4(f->dst, 192, 168, 20, 121);
			assert_memory_equal(f->src, zero, 16);
		}
	}
	assert_int_equal(in + out, 19);
	assert_true(in > 0 && out > 0);
	h_free(h);
}

static void
test_captures(void **state)
{
	static const char *const msr[] = {
		"akvorado/netflow/multiplesamplingrates-options-template.pcap",
		"akvorado/netflow/multiplesamplingrates-options-data.pcap",
		"akvorado/netflow/multiplesamplingrates-template.pcap",
		"akvorado/netflow/multiplesamplingrates-data.pcap", NULL };
	static const char *const phys[] = {
		"akvorado/netflow/physicalinterfaces.pcap", NULL };
	static const char *const zero[] = {
		"logstash-codec-netflow/wrapped/netflow9_0length_fields.pcap",
		NULL };
	static const char *const nsc[] = {
		"logstash-codec-netflow/wrapped/ipfix_netscaler_varlen.pcap",
		NULL };
	static const char *const nprobe[] = {
		"graylog-plugin-netflow/nprobe-netflow9-3.pcap", NULL };
	static const char *const eompls[] = {
		"akvorado/netflow/ethernet-over-mpls-with-control-word-"
		"template.pcap",
		"akvorado/netflow/ethernet-over-mpls-with-control-word-"
		"data.pcap", NULL };
	struct harness *h;
	unsigned r2000 = 0, r4000 = 0;

	(void)state;
	h = decode_files(msr, 0);
	/* README (tshark): 12 data records, 2 options records */
	assert_int_equal(h->nout, 12);
	for (size_t i = 0; i < h->nout; i++) {
		r2000 += h->out[i].sampling == 2000;
		r4000 += h->out[i].sampling == 4000;
	}
	/* every record names one of the two announced samplers */
	assert_int_equal(r2000 + r4000, 12);
	assert_true(r4000 > 0);
	h_free(h);

	/* tshark -V, first record: 147.53.240.75:55629 -> 212.82.101.24:993
	 * packets 3, octets 4506, ingressPhysicalInterface 1342177291,
	 * start 2025-01-24 17:18:01.621 UTC; options: 1 in (1 + 999) */
	h = decode_files(phys, 0);
	assert_int_equal(h->nout, 8);
	assert_v4(h->out[0].src, 147, 53, 240, 75);
	assert_v4(h->out[0].dst, 212, 82, 101, 24);
	assert_int_equal(h->out[0].sport, 55629);
	assert_int_equal(h->out[0].dport, 993);
	assert_int_equal(h->out[0].packets, 3000);
	assert_int_equal(h->out[0].bytes, 4506000);
	assert_int_equal(h->out[0].sampling, 1000);
	assert_int_equal(h->out[0].in_if, 1342177291u);
	assert_int_equal(h->out[0].first_ms, 1737739081621ull);
	h_free(h);

	/* README: 10 data records, 2 templates */
	h = decode_files(zero, 0);
	assert_int_equal(h->nout, 10);
	assert_int_equal(h_stats(h, 9, 0).malformed, 0);
	h_free(h);

	/* README: 3 data records (1 data set without template in file) */
	h = decode_files(nsc, 0);
	assert_int_equal(h->nout, 3);
	h_free(h);

	/* README: 72 export packets, 892 data records, 6 options records */
	h = decode_files(nprobe, 0);
	assert_int_equal(h->nout, 892);
	assert_int_equal(decoder_stats(h->d)->packets, 72);
	h_free(h);

	/*
	 * dataLinkFrameSection records, 10 (tshark). tshark -V, flow 3:
	 * MPLS 300012, 17 (S), "PW Ethernet Control Word", Ethernet, IPv4
	 * 198.51.100.3 -> 198.51.100.4, total length 1500, ToS 0x20, TCP
	 * 443 -> 28911, flags ACK, InputInt 1022. Flow 4 has the same
	 * labels and a control word too, but tshark 4.0 reads an Ethernet
	 * header without it (destination 00:00:00:00:02:00, type 0x0000)
	 * and shows the rest as Data; its dump, read with the control word
	 * (RFC 4385), holds IPv4 (45 20 05d4 ... c6336401 c6336402) and TCP
	 * (01bb d883, flags 0x10): 198.51.100.1:443 -> 198.51.100.2:55427,
	 * 1492 bytes.
	 */
	h = decode_files(eompls, 0);
	assert_int_equal(h->nout, 10);
	assert_v4(h->out[2].src, 198, 51, 100, 3);
	assert_v4(h->out[2].dst, 198, 51, 100, 4);
	assert_int_equal(h->out[2].sport, 443);
	assert_int_equal(h->out[2].dport, 28911);
	assert_int_equal(h->out[2].proto, 6);
	assert_int_equal(h->out[2].tos, 0x20);
	assert_int_equal(h->out[2].tcp_flags, 0x10);
	assert_int_equal(h->out[2].bytes, 1500);
	assert_int_equal(h->out[2].packets, 1);
	assert_int_equal(h->out[2].in_if, 1022);
	assert_v4(h->out[3].src, 198, 51, 100, 1);
	assert_v4(h->out[3].dst, 198, 51, 100, 2);
	assert_int_equal(h->out[3].sport, 443);
	assert_int_equal(h->out[3].dport, 55427);
	assert_int_equal(h->out[3].bytes, 1492);
	assert_int_equal(h_stats(h, 10, 16842752).malformed, 0);
	h_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v9_template_data),
		cmocka_unit_test(test_ipfix_template_data),
		cmocka_unit_test(test_ipfix_time_encodings),
		cmocka_unit_test(test_ipfix_sysuptime_with_init_time),
		cmocka_unit_test(test_reduced_size_and_fallbacks),
		cmocka_unit_test(test_v9_options_sampling),
		cmocka_unit_test(test_ipfix_sampling),
		cmocka_unit_test(test_ipfix_withdrawal),
		cmocka_unit_test(test_redefinition),
		cmocka_unit_test(test_variable_length),
		cmocka_unit_test(test_ipfix_datalink_section),
		cmocka_unit_test(test_section_fills_only_missing),
		cmocka_unit_test(test_v9_layer2_section_mpls),
		cmocka_unit_test(test_ip_header_sections),
		cmocka_unit_test(test_enterprise_fields),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_v9_zero_tail),
		cmocka_unit_test(test_several_sets_any_order),
		cmocka_unit_test(test_hold_then_replay),
		cmocka_unit_test(test_hold_expiry_and_limits),
		cmocka_unit_test(test_hold_global_limit),
		cmocka_unit_test(test_no_hold),
		cmocka_unit_test(test_bad_template_ids_and_counts),
		cmocka_unit_test(test_zero_length_template),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_persistence_round_trip),
		cmocka_unit_test(test_persistence_damaged),
		cmocka_unit_test(test_exporter_flood_one_source),
		cmocka_unit_test(test_exporter_table_full_evicts_lru),
		cmocka_unit_test(test_exporter_idle_expiry),
		cmocka_unit_test(test_exporter_probation_not_saved),
		cmocka_unit_test(test_exporter_import_over_share),
		cmocka_unit_test(test_persistence_format1),
		cmocka_unit_test(test_persistence_v9_options_no_scope),
		cmocka_unit_test(test_template_budget_flood),
		cmocka_unit_test(test_template_budget_ranks),
		cmocka_unit_test(test_import_replays_held),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_wlc_station),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
