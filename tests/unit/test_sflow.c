/*
 * sFlow v5 decoder tests. Datagrams are built here, field by field, from
 * the XDR definitions of sflow.org "sFlow Version 5" (July 2004); every
 * expected value is derived from what the test wrote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"

#define NOW_MS		1700000000123ull

/* ---- a sink that keeps every flow ------------------------------------- */

#define MAX_FLOWS	64

static store_flow_t got[MAX_FLOWS];
static size_t ngot;
static store_flow_t slots[3];	/* small, so that flush() runs */

static void
keep_flush(flow_sink_t *s)
{
	for (size_t i = 0; i < s->n && ngot < MAX_FLOWS; i++)
		got[ngot++] = s->flows[i];
	s->n = 0;
}

static flow_sink_t sink = { slots, 0, 3, keep_flush, NULL };

static void
sink_reset(void)
{
	sink.n = 0;
	ngot = 0;
	memset(got, 0, sizeof(got));
}

/* Collect what the sink holds into got[]; returns how many flows. */
static size_t
sink_drain(void)
{
	keep_flush(&sink);
	return ngot;
}

/* The UDP source address of every test datagram: 192.0.2.7. */
static const uint8_t src_addr[16] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 };

/* The agent address in the test datagrams' headers: 10.0.0.1. */
static const uint8_t agent_addr[16] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 };
/* ... and the agent address of type "unknown". */
static const uint8_t zero16[16];

/* ---- exporter counters ------------------------------------------------- */

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

	if (version == DECODER_VERSION_SFLOW && domain == f->domain &&
	    memcmp(addr, src_addr, 16) == 0 &&
	    memcmp(st->agent, f->addr, 16) == 0) {
		f->found++;
		f->st = *st;
	}
}

/* Counters of the sFlow exporter (src_addr, agent, sub-agent); fails if
   there is not exactly one. */
static exporter_stats_t
stats_of_agent(decoder_t *d, const uint8_t agent[16], uint32_t sub_agent)
{
	struct find f;

	memset(&f, 0, sizeof(f));
	f.addr = agent;
	f.domain = sub_agent;
	decoder_foreach_exporter(d, find_cb, &f);
	assert_int_equal(f.found, 1);
	return f.st;
}

/* Counters of the sFlow exporter (agent_addr, sub-agent). */
static exporter_stats_t
stats_of(decoder_t *d, uint32_t sub_agent)
{
	return stats_of_agent(d, agent_addr, sub_agent);
}

static int
exporter_count(decoder_t *d)
{
	struct find f;
	int n = 0;

	for (uint32_t dom = 0; dom < 8; dom++) {
		memset(&f, 0, sizeof(f));
		f.addr = agent_addr;
		f.domain = dom;
		decoder_foreach_exporter(d, find_cb, &f);
		n += f.found;
	}
	return n;
}

/* ---- the datagram builder --------------------------------------------- */

struct sb {
	uint8_t b[4096];
	size_t n;
	size_t nsamples_at;	/* where the sample count goes */
	uint32_t nsamples;
};

static void
u32(struct sb *b, uint32_t v)
{
	assert_true(b->n + 4 <= sizeof(b->b));
	put_be32(b->b + b->n, v);
	b->n += 4;
}

/* Append len bytes, then zero padding to a multiple of 4 (XDR opaque). */
static void
raw(struct sb *b, const void *p, size_t len)
{
	assert_true(b->n + len + 3 <= sizeof(b->b));
	memcpy(b->b + b->n, p, len);
	b->n += len;
	while (b->n % 4)
		b->b[b->n++] = 0;
}

/* Datagram header with an IPv4 agent address; samples counted later. */
static void
dg_begin(struct sb *b, uint32_t sub_agent, uint32_t seq)
{
	static const uint8_t agent[4] = { 10, 0, 0, 1 };

	memset(b, 0, sizeof(*b));
	u32(b, 5);		/* version */
	u32(b, 1);		/* agent address type: IPv4 */
	raw(b, agent, 4);
	u32(b, sub_agent);
	u32(b, seq);
	u32(b, 123456);		/* uptime, ms */
	b->nsamples_at = b->n;
	u32(b, 0);
}

/* Open a tagged container (sample or record); returns its length slot. */
static size_t
tlv_begin(struct sb *b, uint32_t enterprise, uint32_t format)
{
	size_t at;

	u32(b, enterprise << 12 | format);
	at = b->n;
	u32(b, 0);
	return at;
}

static void
tlv_end(struct sb *b, size_t at)
{
	put_be32(b->b + at, (uint32_t)(b->n - at - 4));
}

static size_t
sample_begin(struct sb *b, uint32_t enterprise, uint32_t format)
{
	b->nsamples++;
	put_be32(b->b + b->nsamples_at, b->nsamples);
	return tlv_begin(b, enterprise, format);
}

/* Compact flow sample header (format 0:1) up to the record count. */
static void
flow_sample_hdr(struct sb *b, uint32_t rate, uint32_t in, uint32_t out,
    uint32_t nrec)
{
	u32(b, 77);		/* sequence number */
	u32(b, 3);		/* source id: class 0, index 3 */
	u32(b, rate);
	u32(b, 1000000);	/* sample pool */
	u32(b, 0);		/* drops */
	u32(b, in);
	u32(b, out);
	u32(b, nrec);
}

/* Expanded flow sample header (format 0:3) up to the record count. */
static void
flow_sample_exp_hdr(struct sb *b, uint32_t rate, uint32_t in_fmt,
    uint32_t in, uint32_t out_fmt, uint32_t out, uint32_t nrec)
{
	u32(b, 78);		/* sequence number */
	u32(b, 0);		/* source id type */
	u32(b, 70000000);	/* source id index */
	u32(b, rate);
	u32(b, 1000000);
	u32(b, 0);
	u32(b, in_fmt);
	u32(b, in);
	u32(b, out_fmt);
	u32(b, out);
	u32(b, nrec);
}

/* Raw packet header record (0:1). */
static void
rec_header(struct sb *b, uint32_t proto, uint32_t frame_len,
    uint32_t stripped, const uint8_t *hdr, size_t hlen)
{
	size_t r = tlv_begin(b, 0, 1);

	u32(b, proto);
	u32(b, frame_len);
	u32(b, stripped);
	u32(b, (uint32_t)hlen);
	raw(b, hdr, hlen);
	tlv_end(b, r);
}

/* Extended switch record (0:1001). */
static void
rec_switch(struct sb *b)
{
	size_t r = tlv_begin(b, 0, 1001);

	u32(b, 10);		/* src vlan */
	u32(b, 0);
	u32(b, 20);		/* dst vlan */
	u32(b, 0);
	tlv_end(b, r);
}

/* ---- sampled packets -------------------------------------------------- */

/* Ethernet header; vlan != 0 adds an 802.1Q tag. Returns its length. */
static size_t
pk_eth(uint8_t *p, uint16_t vlan, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1,
	    0x02, 0, 0, 0, 0, 2 };
	size_t n = 12;

	memcpy(p, macs, 12);
	if (vlan) {
		put_be16(p + n, 0x8100);
		put_be16(p + n + 2, vlan);
		n += 4;
	}
	put_be16(p + n, type);
	return n + 2;
}

/* IPv4 header (20 bytes) with total length tot. */
static size_t
pk_ipv4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4],
    uint8_t proto, uint8_t tos, uint16_t tot)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[1] = tos;
	put_be16(p + 2, tot);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	return 20;
}

/* IPv6 header (40 bytes) with payload length plen. */
static size_t
pk_ipv6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16],
    uint8_t nh, uint8_t tclass, uint16_t plen)
{
	memset(p, 0, 40);
	put_be32(p, 6u << 28 | (uint32_t)tclass << 20);
	put_be16(p + 4, plen);
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40;
}

static size_t
pk_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	memset(p, 0, 20);
	put_be16(p, sport);
	put_be16(p + 2, dport);
	p[12] = 5 << 4;
	p[13] = flags;
	return 20;
}

static size_t
pk_udp(uint8_t *p, uint16_t sport, uint16_t dport, uint16_t len)
{
	memset(p, 0, 8);
	put_be16(p, sport);
	put_be16(p + 2, dport);
	put_be16(p + 4, len);
	return 8;
}

static const uint8_t A4[4] = { 198, 51, 100, 10 };
static const uint8_t B4[4] = { 203, 0, 113, 20 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0x0a };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
    0, 0, 0, 0, 0, 0, 0, 0x0b };

/* Ethernet/VLAN 42/IPv4/TCP 40000 -> 443, flags ACK|PSH, ToS 0x28. */
static size_t
pk_eth_vlan_ipv4_tcp(uint8_t *p, uint16_t tot)
{
	size_t n = pk_eth(p, 42, 0x0800);

	n += pk_ipv4(p + n, A4, B4, 6, 0x28, tot);
	n += pk_tcp(p + n, 40000, 443, 0x18);
	return n;
}

static void
assert_v4(const uint8_t a[16], const uint8_t v4[4])
{
	uint8_t m[16];

	addr_from_v4(m, v4);
	assert_memory_equal(a, m, 16);
}

static decoder_t *
dec_new(void)
{
	decoder_t *d = decoder_new(NULL);

	assert_non_null(d);
	sink_reset();
	return d;
}

static int
feed(decoder_t *d, const struct sb *b)
{
	return decoder_packet(d, src_addr, 6343, b->b, b->n, NOW_MS, &sink);
}

/* ---- tests ------------------------------------------------------------- */

/* A compact flow sample of an Ethernet/VLAN/IPv4/TCP packet. */
static void
test_flow_sample_ipv4_tcp(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, plen = pk_eth_vlan_ipv4_tcp(pkt, 1400);
	exporter_stats_t st;

	(void)state;
	dg_begin(&b, 0, 100);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 512, 7, 9, 2);
	/* frame 1400 + 18 (Ethernet + tag) + 4 FCS; FCS stripped */
	rec_header(&b, 1, 1422, 4, pkt, plen);
	rec_switch(&b);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_v4(got[0].src, A4);
	assert_v4(got[0].dst, B4);
	assert_int_equal(got[0].sport, 40000);
	assert_int_equal(got[0].dport, 443);
	assert_int_equal(got[0].proto, 6);
	assert_int_equal(got[0].tos, 0x28);
	assert_int_equal(got[0].tcp_flags, 0x18);
	/* IPv4 total length 1400 times the rate 512 */
	assert_int_equal(got[0].bytes, 1400 * 512);
	assert_int_equal(got[0].packets, 512);
	assert_int_equal(got[0].sampling, 512);
	assert_int_equal(got[0].in_if, 7);
	assert_int_equal(got[0].out_if, 9);
	assert_int_equal(got[0].first_ms, NOW_MS);
	assert_int_equal(got[0].last_ms, NOW_MS);
	/* the exporter of an sFlow flow is the UDP source, as for NetFlow */
	assert_memory_equal(got[0].exporter, src_addr, 16);
	assert_int_equal(got[0].flags, STORE_FLOW_F_FROM_SFLOW |
	    STORE_FLOW_F_NO_NH);	/* no router or gateway record */
	st = stats_of(d, 0);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(decoder_stats(d)->flows, 1);
	decoder_free(d);
}

/* An expanded flow sample of an IPv6/UDP packet, 32-bit ifIndex values. */
static void
test_expanded_ipv6_udp(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, n;

	(void)state;
	n = pk_eth(pkt, 0, 0x86dd);
	n += pk_ipv6(pkt + n, A6, B6, 17, 0xb8, 108);
	n += pk_udp(pkt + n, 5353, 53, 108);
	dg_begin(&b, 3, 1);
	s = sample_begin(&b, 0, 3);
	flow_sample_exp_hdr(&b, 1000, 0, 0x40000001, 0, 0x7ffffffe, 1);
	rec_header(&b, 1, 14 + 148 + 4, 4, pkt, n);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_memory_equal(got[0].src, A6, 16);
	assert_memory_equal(got[0].dst, B6, 16);
	assert_int_equal(got[0].sport, 5353);
	assert_int_equal(got[0].dport, 53);
	assert_int_equal(got[0].proto, 17);
	assert_int_equal(got[0].tos, 0xb8);
	/* payload length 108 + the 40-byte IPv6 header, times 1000 */
	assert_int_equal(got[0].bytes, 148 * 1000);
	assert_int_equal(got[0].packets, 1000);
	/* expanded interfaces carry values beyond 30 bits */
	assert_int_equal(got[0].in_if, 0x40000001);
	assert_int_equal(got[0].out_if, 0x7ffffffe);
	assert_int_equal(got[0].flags,
	    STORE_FLOW_F_FROM_SFLOW | STORE_FLOW_F_V6 | STORE_FLOW_F_NO_NH);
	assert_int_equal(stats_of(d, 3).flows, 1);
	decoder_free(d);
}

/* ICMP echo request (type 8 code 0) in a raw IPv4 header (protocol 11). */
static void
test_icmp_raw_ipv4(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[64];
	size_t s, n;

	(void)state;
	n = pk_ipv4(pkt, A4, B4, 1, 0, 84);
	pkt[n] = 8;		/* type: echo request */
	pkt[n + 1] = 0;		/* code */
	memset(pkt + n + 2, 0, 6);
	n += 8;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 1, 2, 3, 1);
	rec_header(&b, 11, 84, 0, pkt, n);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_int_equal(got[0].proto, 1);
	/* as in nfdump: sport 0, dport type * 256 + code */
	assert_int_equal(got[0].sport, 0);
	assert_int_equal(got[0].dport, 8 * 256 + 0);
	assert_int_equal(got[0].bytes, 84);
	decoder_free(d);
}

/* ICMPv6 echo reply (129/0) in a raw IPv6 header (protocol 12). */
static void
test_icmpv6_raw_ipv6(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[64];
	size_t s, n;

	(void)state;
	n = pk_ipv6(pkt, A6, B6, 58, 0, 16);
	memset(pkt + n, 0, 8);
	pkt[n] = 129;
	n += 8;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 2, 2, 3, 1);
	rec_header(&b, 12, 56, 0, pkt, n);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_int_equal(got[0].proto, 58);
	assert_int_equal(got[0].sport, 0);
	assert_int_equal(got[0].dport, 129 * 256);
	/* (16 + 40) * 2 */
	assert_int_equal(got[0].bytes, 112);
	decoder_free(d);
}

/* QinQ (802.1ad outer tag, 802.1Q inner tag) and an MPLS label stack. */
static void
test_qinq_and_mpls(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t q[128], m[128];
	size_t s, nq, nm;

	(void)state;
	nq = pk_eth(q, 0, 0x88a8);
	put_be16(q + nq, 100);			/* outer tag TCI */
	put_be16(q + nq + 2, 0x8100);
	put_be16(q + nq + 4, 200);		/* inner tag TCI */
	put_be16(q + nq + 6, 0x0800);
	nq += 8;
	nq += pk_ipv4(q + nq, A4, B4, 6, 0, 60);
	nq += pk_tcp(q + nq, 1111, 2222, 0x02);

	nm = pk_eth(m, 0, 0x8847);
	put_be32(m + nm, 16u << 12 | 0 << 8 | 64);	/* label 16 */
	put_be32(m + nm + 4, 17u << 12 | 1 << 8 | 64);	/* 17, BoS */
	nm += 8;
	nm += pk_ipv4(m + nm, B4, A4, 17, 0, 28);
	nm += pk_udp(m + nm, 3333, 4444, 8);

	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 10, 1, 2, 1);
	rec_header(&b, 1, 90, 4, q, nq);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 10, 1, 2, 1);
	rec_header(&b, 1, 64, 4, m, nm);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 2);
	assert_int_equal(sink_drain(), 2);
	assert_v4(got[0].src, A4);
	assert_int_equal(got[0].sport, 1111);
	assert_int_equal(got[0].dport, 2222);
	assert_int_equal(got[0].tcp_flags, 0x02);
	assert_int_equal(got[0].bytes, 600);
	assert_v4(got[1].src, B4);
	assert_int_equal(got[1].proto, 17);
	assert_int_equal(got[1].sport, 3333);
	assert_int_equal(got[1].dport, 4444);
	assert_int_equal(got[1].bytes, 280);
	decoder_free(d);
}

/* Only an IPv4 data record (0:3), and only an IPv6 data record (0:4). */
static void
test_ip_data_records(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	size_t s, r;

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 100, 4, 5, 1);
	r = tlv_begin(&b, 0, 3);
	u32(&b, 576);		/* IP length */
	u32(&b, 6);		/* protocol */
	raw(&b, A4, 4);
	raw(&b, B4, 4);
	u32(&b, 12345);
	u32(&b, 80);
	u32(&b, 0x11);		/* FIN|ACK */
	u32(&b, 0x10);		/* ToS */
	tlv_end(&b, r);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 100, 4, 5, 1);
	r = tlv_begin(&b, 0, 4);
	u32(&b, 1280);
	u32(&b, 58);		/* ICMPv6 */
	raw(&b, A6, 16);
	raw(&b, B6, 16);
	u32(&b, 128);		/* agents put the ICMP type ... */
	u32(&b, 0);		/* ... and code in the port fields */
	u32(&b, 0);
	u32(&b, 0);
	tlv_end(&b, r);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 2);
	assert_int_equal(sink_drain(), 2);
	assert_v4(got[0].src, A4);
	assert_v4(got[0].dst, B4);
	assert_int_equal(got[0].proto, 6);
	assert_int_equal(got[0].sport, 12345);
	assert_int_equal(got[0].dport, 80);
	assert_int_equal(got[0].tcp_flags, 0x11);
	assert_int_equal(got[0].tos, 0x10);
	assert_int_equal(got[0].bytes, 576 * 100);
	assert_int_equal(got[0].flags, STORE_FLOW_F_FROM_SFLOW |
	    STORE_FLOW_F_NO_NH);
	assert_memory_equal(got[1].src, A6, 16);
	assert_int_equal(got[1].proto, 58);
	assert_int_equal(got[1].sport, 0);
	assert_int_equal(got[1].dport, 128 * 256);
	assert_int_equal(got[1].bytes, 1280 * 100);
	assert_int_equal(got[1].flags,
	    STORE_FLOW_F_FROM_SFLOW | STORE_FLOW_F_V6 | STORE_FLOW_F_NO_NH);
	decoder_free(d);
}

/* A raw header that holds IP wins over an IPv4 data record. */
static void
test_header_wins_over_ip_data(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, r, n = pk_eth_vlan_ipv4_tcp(pkt, 300);
	static const uint8_t other[4] = { 192, 0, 2, 99 };

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 4, 1, 2, 2);
	r = tlv_begin(&b, 0, 3);	/* before the header on purpose */
	u32(&b, 999);
	u32(&b, 17);
	raw(&b, other, 4);
	raw(&b, other, 4);
	u32(&b, 1);
	u32(&b, 2);
	u32(&b, 0);
	u32(&b, 0);
	tlv_end(&b, r);
	rec_header(&b, 1, 322, 4, pkt, n);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_v4(got[0].src, A4);
	assert_int_equal(got[0].dport, 443);
	assert_int_equal(got[0].bytes, 300 * 4);
	decoder_free(d);
}

/* Bytes when the header has no usable IP length. */
static void
test_bytes_fallbacks(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t tso[128], arp[64];
	size_t s, r, ntso, narp;

	(void)state;
	/* IPv4 total length 0, as TSO-offloaded packets show it */
	ntso = pk_eth_vlan_ipv4_tcp(tso, 0);
	/* ARP request: not IP */
	narp = pk_eth(arp, 0, 0x0806);
	memset(arp + narp, 0, 28);
	narp += 28;

	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 3, 1, 2, 1);
	/* 9018-byte frame, 4 stripped, 18 bytes of Ethernet + tag */
	rec_header(&b, 1, 9018, 4, tso, ntso);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 3, 1, 2, 1);
	rec_header(&b, 1, 64, 4, arp, narp);
	tlv_end(&b, s);
	/* Ethernet frame data only (0:2): length, 2 MACs, type */
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 3, 1, 2, 1);
	r = tlv_begin(&b, 0, 2);
	u32(&b, 1518);
	raw(&b, arp, 6);
	raw(&b, arp + 6, 6);
	u32(&b, 0x0800);
	tlv_end(&b, r);
	tlv_end(&b, s);
	/* IPv6 payload length 0 (a jumbogram): the frame length counts */
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 3, 1, 2, 1);
	{
		uint8_t j[128];
		size_t nj = pk_eth(j, 0, 0x86dd);

		nj += pk_ipv6(j + nj, A6, B6, 17, 0, 0);
		nj += pk_udp(j + nj, 1, 2, 0);
		rec_header(&b, 1, 70022, 4, j, nj);
	}
	tlv_end(&b, s);
	/* no records at all: a flow of packets without bytes */
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 3, 1, 2, 0);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 5);
	assert_int_equal(sink_drain(), 5);
	assert_int_equal(got[0].proto, 6);
	assert_int_equal(got[0].bytes, (9018 - 4 - 18) * 3);
	assert_int_equal(got[1].proto, 0);
	assert_int_equal(got[1].bytes, (64 - 4 - 14) * 3);
	assert_int_equal(got[1].packets, 3);
	/* 1518 less 14 header and 4 FCS */
	assert_int_equal(got[2].bytes, 1500 * 3);
	/* 70022 less 4 stripped and 14 of Ethernet */
	assert_int_equal(got[3].bytes, 70004 * 3);
	assert_int_equal(got[3].sport, 1);
	assert_int_equal(got[3].dport, 2);
	assert_int_equal(got[3].flags,
	    STORE_FLOW_F_FROM_SFLOW | STORE_FLOW_F_V6 | STORE_FLOW_F_NO_NH);
	assert_int_equal(got[4].bytes, 0);
	assert_int_equal(got[4].packets, 3);
	assert_int_equal(stats_of(d, 0).malformed, 0);
	decoder_free(d);
}

static void
rec_router(struct sb *b, const uint8_t nh[4], uint32_t sm, uint32_t dm)
{
	size_t r = tlv_begin(b, 0, 1002);

	u32(b, 1);
	raw(b, nh, 4);
	u32(b, sm);
	u32(b, dm);
	tlv_end(b, r);
}

/* Gateway with an IPv6 next hop, src AS, and a 2-segment AS path. */
static void
rec_gateway(struct sb *b, uint32_t src_as)
{
	size_t r = tlv_begin(b, 0, 1003);

	u32(b, 2);
	raw(b, B6, 16);
	u32(b, 65000);		/* the router's AS */
	u32(b, src_as);
	u32(b, 64999);		/* source peer AS */
	u32(b, 2);		/* segments */
	u32(b, 2);		/* AS_SEQUENCE */
	u32(b, 2);
	u32(b, 64510);
	u32(b, 64511);
	u32(b, 2);		/* AS_SEQUENCE */
	u32(b, 2);
	u32(b, 64512);
	u32(b, 4200000000u);
	u32(b, 1);		/* communities */
	u32(b, 0xfde80001);
	u32(b, 100);		/* local preference */
	tlv_end(b, r);
}

static void
test_extended_router_gateway(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, n = pk_eth_vlan_ipv4_tcp(pkt, 40);
	static const uint8_t nh[4] = { 192, 0, 2, 254 };
	uint8_t nh6[16];

	(void)state;
	memcpy(nh6, B6, 16);
	dg_begin(&b, 0, 1);
	/* gateway before router: the router's next hop still wins */
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 1, 1, 2, 3);
	rec_header(&b, 1, 62, 4, pkt, n);
	rec_gateway(&b, 64496);
	rec_router(&b, nh, 24, 16);
	tlv_end(&b, s);
	/* gateway only: its BGP next hop is used */
	s = sample_begin(&b, 0, 3);
	flow_sample_exp_hdr(&b, 1, 0, 1, 0, 2, 2);
	rec_header(&b, 1, 62, 4, pkt, n);
	rec_gateway(&b, 64497);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 2);
	assert_int_equal(sink_drain(), 2);
	assert_v4(got[0].nexthop, nh);
	assert_int_equal(got[0].src_mask, 24);
	assert_int_equal(got[0].dst_mask, 16);
	assert_int_equal(got[0].src_as, 64496);
	/* the last AS of the last segment of the destination path */
	assert_int_equal(got[0].dst_as, 4200000000u);
	assert_memory_equal(got[1].nexthop, nh6, 16);
	assert_int_equal(got[1].src_as, 64497);
	assert_int_equal(got[1].dst_as, 4200000000u);
	assert_int_equal(got[1].src_mask, 0);
	decoder_free(d);
}

/* Interface formats: discarded, multiple, and the agent itself give 0. */
static void
test_interface_formats(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	size_t s;

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 1, 27, 1u << 30 | 1, 0);	/* discarded */
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 1, 27, 2u << 30 | 7, 0);	/* 7 interfaces */
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 1, 0x3fffffff, 28, 0);	/* from the agent */
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 3);
	flow_sample_exp_hdr(&b, 1, 0, 0xffffffff, 1, 258, 0);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 3);
	flow_sample_exp_hdr(&b, 1, 0, 5, 2, 0, 0);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 5);
	assert_int_equal(sink_drain(), 5);
	assert_int_equal(got[0].in_if, 27);
	assert_int_equal(got[0].out_if, 0);
	assert_int_equal(got[1].in_if, 27);
	assert_int_equal(got[1].out_if, 0);
	assert_int_equal(got[2].in_if, 0);
	assert_int_equal(got[2].out_if, 28);
	assert_int_equal(got[3].in_if, 0);
	assert_int_equal(got[3].out_if, 0);
	assert_int_equal(got[4].in_if, 5);
	assert_int_equal(got[4].out_if, 0);
	decoder_free(d);
}

/* Counter samples (0:2 and 0:4) are walked and counted, not flows. */
static void
test_counter_samples(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	size_t s, r;
	exporter_stats_t st;

	(void)state;
	dg_begin(&b, 1, 1);
	s = sample_begin(&b, 0, 2);
	u32(&b, 1);		/* sequence */
	u32(&b, 5);		/* source id */
	u32(&b, 2);		/* records */
	r = tlv_begin(&b, 0, 1);	/* generic interface counters */
	for (int i = 0; i < 22; i++)
		u32(&b, (uint32_t)i);
	tlv_end(&b, r);
	r = tlv_begin(&b, 0, 2);	/* ethernet interface counters */
	for (int i = 0; i < 13; i++)
		u32(&b, 0);
	tlv_end(&b, r);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 4);
	u32(&b, 2);
	u32(&b, 0);		/* source id type */
	u32(&b, 5);		/* source id index */
	u32(&b, 1);
	r = tlv_begin(&b, 0, 1001);	/* processor */
	for (int i = 0; i < 7; i++)
		u32(&b, 0);
	tlv_end(&b, r);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 0);
	assert_int_equal(sink_drain(), 0);
	st = stats_of(d, 1);
	assert_int_equal(st.counter_samples, 2);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(decoder_stats(d)->malformed, 0);

	/* a counter record longer than its sample is malformed */
	dg_begin(&b, 1, 2);
	s = sample_begin(&b, 0, 2);
	u32(&b, 3);
	u32(&b, 5);
	u32(&b, 1);
	u32(&b, 1);		/* record format */
	u32(&b, 400);		/* record length, past the sample */
	u32(&b, 0);
	tlv_end(&b, s);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	st = stats_of(d, 1);
	assert_int_equal(st.counter_samples, 2);
	assert_int_equal(st.malformed, 1);
	decoder_free(d);
}

/* Unknown samples and records are skipped by their length. */
static void
test_unknown_skipped(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, r, n = pk_eth_vlan_ipv4_tcp(pkt, 100);

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 4413, 1);	/* enterprise sample */
	u32(&b, 0xdeadbeef);
	u32(&b, 0xffffffff);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 5);	/* discarded-packet sample */
	for (int i = 0; i < 9; i++)
		u32(&b, 0xffffffff);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 4);
	r = tlv_begin(&b, 0, 2100);	/* an unknown standard record */
	raw(&b, "\xff\xff\xff\xff\xff\xff", 6);
	put_be32(b.b + r, 6);		/* 6 bytes, then 2 of padding */
	r = tlv_begin(&b, 9, 1);	/* enterprise record, format 1 */
	u32(&b, 0xffffffff);
	u32(&b, 0xffffffff);
	tlv_end(&b, r);
	rec_header(&b, 1, 122, 4, pkt, n);
	r = tlv_begin(&b, 0, 1005);	/* ext. user: skipped */
	tlv_end(&b, r);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_int_equal(got[0].bytes, 800);
	assert_int_equal(stats_of(d, 0).malformed, 0);
	assert_int_equal(stats_of(d, 0).counter_samples, 0);
	decoder_free(d);
}

/* Sampling rates 0 and above max_sampling are counted and dropped. */
static void
test_sampling_bad(void **state)
{
	decoder_opts_t o;
	decoder_t *d;
	struct sb b;
	size_t s;
	exporter_stats_t st;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_sampling = 4096;
	d = decoder_new(&o);
	assert_non_null(d);
	sink_reset();
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 0, 1, 2, 0);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 3);
	flow_sample_exp_hdr(&b, 4097, 0, 1, 0, 2, 0);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 4096, 1, 2, 0);	/* the maximum is fine */
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_int_equal(got[0].sampling, 4096);
	st = stats_of(d, 0);
	assert_int_equal(st.sampling_bad, 2);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.malformed, 0);
	decoder_free(d);

	/* the default maximum is 1 << 24 */
	d = dec_new();
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 0xffffffff, 1, 2, 0);
	tlv_end(&b, s);
	assert_int_equal(feed(d, &b), 0);
	assert_int_equal(stats_of(d, 0).sampling_bad, 1);
	decoder_free(d);
}

/*
 * A good datagram with two flow samples (two flows): the first has only
 * an extended switch record, the second a raw header.
 */
static void
build_two(struct sb *b)
{
	uint8_t pkt[128];
	size_t s, n = pk_eth_vlan_ipv4_tcp(pkt, 100);

	dg_begin(b, 0, 1);
	s = sample_begin(b, 0, 1);
	flow_sample_hdr(b, 8, 1, 2, 1);
	rec_switch(b);
	tlv_end(b, s);
	s = sample_begin(b, 0, 1);
	flow_sample_hdr(b, 8, 1, 2, 1);
	rec_header(b, 1, 122, 4, pkt, n);
	tlv_end(b, s);
}

/* Every truncation of a good datagram is rejected or partly decoded. */
static void
test_truncated_everywhere(void **state)
{
	struct sb b;

	(void)state;
	build_two(&b);
	for (size_t len = 0; len < b.n; len++) {
		decoder_t *d = dec_new();
		int rc = decoder_packet(d, src_addr, 6343, b.b, len, NOW_MS,
		    &sink);

		/* the first sample ends at byte 28 + 8 + 32 + 24 = 92 */
		if (len >= 92) {
			assert_int_equal(rc, 1);
			assert_int_equal(stats_of(d, 0).malformed, 1);
		} else
			assert_true(rc < 0);
		assert_int_equal(decoder_stats(d)->malformed, 1);
		decoder_free(d);
	}
}

/* A sample length past the datagram rejects it. */
static void
test_truncated_sample(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;

	(void)state;
	build_two(&b);
	/* the first sample's length word is at 28 + 4 */
	put_be32(b.b + 32, 0x10000);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	assert_int_equal(stats_of(d, 0).malformed, 1);
	assert_int_equal(stats_of(d, 0).flows, 0);
	assert_int_equal(decoder_stats(d)->malformed, 1);
	assert_int_equal(sink_drain(), 0);
	decoder_free(d);
}

/*
 * A malformed second sample keeps the flow of the first one, and the
 * datagram counts once as malformed, on the exporter and globally.
 */
static void
test_malformed_second_sample(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, r, n = pk_eth_vlan_ipv4_tcp(pkt, 100);

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 1);
	rec_header(&b, 1, 122, 4, pkt, n);
	tlv_end(&b, s);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 1);
	r = tlv_begin(&b, 0, 1);
	u32(&b, 1);
	u32(&b, 122);
	u32(&b, 4);
	u32(&b, 1000);		/* header length past the record */
	raw(&b, pkt, n);
	tlv_end(&b, r);
	tlv_end(&b, s);
	/* a third, good sample is not reached */
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 0);
	tlv_end(&b, s);

	assert_int_equal(feed(d, &b), 1);
	assert_int_equal(sink_drain(), 1);
	assert_v4(got[0].src, A4);
	assert_int_equal(stats_of(d, 0).malformed, 1);
	assert_int_equal(stats_of(d, 0).flows, 1);
	assert_int_equal(decoder_stats(d)->malformed, 1);
	assert_int_equal(decoder_stats(d)->flows, 1);
	decoder_free(d);
}

/* A record length past its sample. */
static void
test_truncated_record(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	size_t s;

	(void)state;
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 1);
	u32(&b, 1001);
	u32(&b, 20);		/* record length: 4 more than there is */
	for (int i = 0; i < 4; i++)
		u32(&b, 0);
	tlv_end(&b, s);
	/* 4 bytes after the sample: the record must fit its sample, not
	   just the datagram */
	u32(&b, 0);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	assert_int_equal(stats_of(d, 0).malformed, 1);

	/* a known record too short for its fixed fields */
	dg_begin(&b, 0, 2);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 1);
	u32(&b, 3);		/* IPv4 data */
	u32(&b, 28);		/* needs 32 */
	for (int i = 0; i < 7; i++)
		u32(&b, 0);
	tlv_end(&b, s);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	assert_int_equal(stats_of(d, 0).malformed, 2);
	decoder_free(d);
}

/* Counts larger than the bytes that follow could hold. */
static void
test_huge_counts(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	size_t s, r;

	(void)state;
	/* sample count */
	build_two(&b);
	put_be32(b.b + b.nsamples_at, 0xffffffff);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	/* one more than the bytes can hold: 2 samples in 64 + 88 bytes */
	put_be32(b.b + b.nsamples_at, (uint32_t)((b.n - 28) / 8 + 1));
	assert_int_equal(feed(d, &b), FF_EPROTO);
	assert_int_equal(stats_of(d, 0).malformed, 2);
	/* rejected headers do not advance the sequence tracking */
	assert_int_equal(stats_of(d, 0).packets, 0);

	/* record count */
	dg_begin(&b, 0, 1);
	s = sample_begin(&b, 0, 1);
	flow_sample_hdr(&b, 8, 1, 2, 0x7fffffff);
	rec_switch(&b);
	tlv_end(&b, s);
	assert_int_equal(feed(d, &b), FF_EPROTO);
	assert_int_equal(stats_of(d, 0).malformed, 3);

	/* AS path: segment count, then AS count, then communities */
	for (int which = 0; which < 3; which++) {
		dg_begin(&b, 0, 2 + (uint32_t)which);
		s = sample_begin(&b, 0, 1);
		flow_sample_hdr(&b, 8, 1, 2, 1);
		r = tlv_begin(&b, 0, 1003);
		u32(&b, 1);
		raw(&b, A4, 4);
		u32(&b, 1);
		u32(&b, 2);
		u32(&b, 3);
		u32(&b, which == 0 ? 0x20000000 : 1);	/* segments */
		u32(&b, 2);
		u32(&b, which == 1 ? 0x40000000 : 1);	/* ASes */
		u32(&b, 64500);
		u32(&b, which == 2 ? 0xffffffff : 0);	/* communities */
		u32(&b, 100);
		tlv_end(&b, r);
		tlv_end(&b, s);
		assert_int_equal(feed(d, &b), FF_EPROTO);
		assert_int_equal(stats_of(d, 0).malformed, 4 + (uint64_t)which);
	}
	assert_int_equal(sink_drain(), 0);
	decoder_free(d);
}

/*
 * Every strict prefix of a known record's body, or of a sample's body, is
 * malformed: each of these structures ends with a field it needs.
 */
enum cut_kind {
	CUT_HEADER, CUT_ETHERNET, CUT_IPV4, CUT_IPV6, CUT_SWITCH, CUT_ROUTER,
	CUT_GATEWAY, CUT_FLOW_SAMPLE, CUT_FLOW_SAMPLE_EXP, CUT_COUNTERS,
	CUT_COUNTERS_EXP, CUT_NKINDS
};

/* The full body of a record (fmt set) or of a sample (sfmt set). */
static void
cut_body(struct sb *body, enum cut_kind k, uint32_t *fmt, uint32_t *sfmt)
{
	uint8_t pkt[128];
	size_t n = pk_eth_vlan_ipv4_tcp(pkt, 100), r;
	static const uint8_t nh[4] = { 192, 0, 2, 1 };

	memset(body, 0, sizeof(*body));
	*fmt = *sfmt = 0;
	switch (k) {
	case CUT_HEADER:
		*fmt = 1;
		u32(body, 1);
		u32(body, 122);
		u32(body, 4);
		u32(body, (uint32_t)n);
		raw(body, pkt, n);
		break;
	case CUT_ETHERNET:
		*fmt = 2;
		u32(body, 1518);
		raw(body, pkt, 6);
		raw(body, pkt + 6, 6);
		u32(body, 0x0800);
		break;
	case CUT_IPV4:
		*fmt = 3;
		for (int i = 0; i < 8; i++)
			u32(body, 1);
		break;
	case CUT_IPV6:
		*fmt = 4;
		for (int i = 0; i < 14; i++)
			u32(body, 1);
		break;
	case CUT_SWITCH:
		*fmt = 1001;
		for (int i = 0; i < 4; i++)
			u32(body, 1);
		break;
	case CUT_ROUTER:
		rec_router(body, nh, 24, 24);
		goto strip;
	case CUT_GATEWAY:
		rec_gateway(body, 64496);
	strip:
		/* keep the body, drop the record's format and length */
		*fmt = be32(body->b);
		memmove(body->b, body->b + 8, body->n - 8);
		body->n -= 8;
		break;
	case CUT_FLOW_SAMPLE:
		*sfmt = 1;
		flow_sample_hdr(body, 8, 1, 2, 1);
		rec_switch(body);
		break;
	case CUT_FLOW_SAMPLE_EXP:
		*sfmt = 3;
		flow_sample_exp_hdr(body, 8, 0, 1, 0, 2, 1);
		rec_switch(body);
		break;
	case CUT_COUNTERS:
		*sfmt = 2;
		u32(body, 1);
		u32(body, 5);
		u32(body, 1);
		r = tlv_begin(body, 0, 1);
		u32(body, 0);
		tlv_end(body, r);
		break;
	case CUT_COUNTERS_EXP:
		*sfmt = 4;
		u32(body, 1);
		u32(body, 0);
		u32(body, 5);
		u32(body, 1);
		r = tlv_begin(body, 0, 1);
		u32(body, 0);
		tlv_end(body, r);
		break;
	case CUT_NKINDS:
		break;
	}
}

static void
test_every_prefix_malformed(void **state)
{
	decoder_t *d = dec_new();
	struct sb body, b;
	uint32_t fmt, sfmt;
	uint64_t want = 0;

	(void)state;
	for (int k = 0; k < CUT_NKINDS; k++) {
		cut_body(&body, (enum cut_kind)k, &fmt, &sfmt);
		/* the whole body first: well-formed */
		for (size_t cut = body.n + 1; cut-- > 0;) {
			size_t s, r;
			int rc;

			dg_begin(&b, 0, 1);
			if (sfmt) {
				s = sample_begin(&b, 0, sfmt);
				raw(&b, body.b, cut);
				put_be32(b.b + s, (uint32_t)cut);
			} else {
				s = sample_begin(&b, 0, 1);
				flow_sample_hdr(&b, 8, 1, 2, 1);
				r = tlv_begin(&b, 0, fmt);
				raw(&b, body.b, cut);
				put_be32(b.b + r, (uint32_t)cut);
				tlv_end(&b, s);
			}
			rc = feed(d, &b);
			if (cut == body.n) {
				assert_true(rc >= 0);
				continue;
			}
			assert_int_equal(rc, FF_EPROTO);
			want++;
			assert_int_equal(stats_of(d, 0).malformed, want);
		}
	}
	/* 7 record kinds and 4 sample kinds, each cut at every byte */
	assert_true(want > 300);
	decoder_free(d);
}

/* A full exporter table refuses new sub-agents; known ones go on. */
static void
test_exporter_table_full(void **state)
{
	decoder_opts_t o;
	decoder_t *d;
	struct sb b;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.max_exporters = 1;
	d = decoder_new(&o);
	assert_non_null(d);
	build_two(&b);
	assert_int_equal(feed(d, &b), 2);
	put_be32(b.b + 12, 9);		/* sub-agent 9: a new exporter */
	assert_int_equal(feed(d, &b), FF_ELIMIT);
	assert_int_equal(decoder_stats(d)->exporters_dropped, 1);
	put_be32(b.b + 12, 0);
	assert_int_equal(feed(d, &b), 2);
	decoder_free(d);
}

/* Headers cut before the exporter is known, or with a bad agent type. */
static void
test_bad_header(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;

	(void)state;
	build_two(&b);
	b.b[7] = 3;		/* agent address type 3 does not exist */
	assert_int_equal(feed(d, &b), FF_EPROTO);
	b.b[7] = 1;
	/* cut inside the agent address */
	assert_int_equal(decoder_packet(d, src_addr, 6343, b.b, 10, NOW_MS,
	    &sink), FF_ETRUNC);
	/* no exporter could be named: only the global counter moves */
	assert_int_equal(exporter_count(d), 0);
	assert_int_equal(decoder_stats(d)->malformed, 2);
	decoder_free(d);
}

/* An IPv6 agent address and the unknown (empty) address type. */
static void
test_agent_address_types(void **state)
{
	decoder_t *d = dec_new();
	struct sb b, b6;
	size_t hdr6, hdr0;

	(void)state;
	build_two(&b);
	/* IPv6: 12 more bytes of address after the 4 of IPv4 */
	memcpy(b6.b, b.b, 8);
	put_be32(b6.b + 4, 2);
	memcpy(b6.b + 8, A6, 16);
	memcpy(b6.b + 24, b.b + 12, b.n - 12);
	hdr6 = b.n + 12;
	assert_int_equal(decoder_packet(d, src_addr, 6343, b6.b, hdr6,
	    NOW_MS, &sink), 2);
	/* unknown type 0: no address bytes at all */
	put_be32(b6.b + 4, 0);
	memmove(b6.b + 8, b6.b + 24, b.n - 12);
	hdr0 = b.n - 4;
	assert_int_equal(decoder_packet(d, src_addr, 6343, b6.b, hdr0,
	    NOW_MS, &sink), 2);
	/* two agents, two exporters: the IPv6 one and the unnamed one */
	assert_int_equal(stats_of_agent(d, A6, 0).flows, 2);
	assert_int_equal(stats_of_agent(d, A6, 0).malformed, 0);
	assert_int_equal(stats_of_agent(d, zero16, 0).flows, 2);
	assert_int_equal(stats_of_agent(d, zero16, 0).malformed, 0);
	assert_int_equal(sink_drain(), 4);
	assert_memory_equal(got[0].exporter, src_addr, 16);
	assert_memory_equal(got[3].exporter, src_addr, 16);
	decoder_free(d);
}

/* Datagram sequence numbers: gaps, per sub-agent. */
static void
test_sequence(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	static const uint32_t seqs[] = { 10, 11, 12, 16, 17 };
	exporter_stats_t st;

	(void)state;
	for (size_t i = 0; i < FF_NELEM(seqs); i++) {
		dg_begin(&b, 0, seqs[i]);
		assert_int_equal(feed(d, &b), 0);
	}
	/* another sub-agent of the same agent has its own sequence */
	dg_begin(&b, 1, 500);
	assert_int_equal(feed(d, &b), 0);
	dg_begin(&b, 1, 501);
	assert_int_equal(feed(d, &b), 0);
	st = stats_of(d, 0);
	assert_int_equal(st.packets, 5);
	assert_int_equal(st.seq_gaps, 1);
	assert_int_equal(st.seq_missing, 3);	/* 13, 14, 15 */
	st = stats_of(d, 1);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.seq_gaps, 0);
	decoder_free(d);
}

/* Sums of every exporter's sequence counters. */
static void
seq_sum_cb(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	uint64_t *sum = arg;

	(void)addr;
	(void)version;
	(void)domain;
	sum[0] += st->seq_gaps + st->seq_resets;
	sum[1]++;
}

/*
 * Two agents behind one relay: one UDP source, the same sub-agent id,
 * each with its own consecutive sequence numbers, interleaved. Keyed by
 * the agent address they are two exporters without a gap; keyed by the
 * UDP source they would be one with a gap or reset at every datagram.
 */
static void
test_agents_behind_relay(void **state)
{
	static const uint8_t agent2[16] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2 };
	decoder_t *d = dec_new();
	uint64_t sum[2] = { 0, 0 };
	exporter_stats_t st;
	struct sb b;

	(void)state;
	for (uint32_t i = 0; i < 10; i++) {
		build_two(&b);
		put_be32(b.b + 16, 100 + i);	/* agent 10.0.0.1 */
		assert_int_equal(feed(d, &b), 2);
		put_be32(b.b + 8, 0x0a000002);	/* agent 10.0.0.2 */
		put_be32(b.b + 16, 5000 + i);
		assert_int_equal(feed(d, &b), 2);
	}
	decoder_foreach_exporter(d, seq_sum_cb, sum);
	assert_int_equal(sum[0], 0);	/* no false gap or reset */
	assert_int_equal(sum[1], 2);	/* two exporters */
	st = stats_of_agent(d, agent_addr, 0);
	assert_int_equal(st.packets, 10);
	assert_int_equal(st.flows, 20);
	st = stats_of_agent(d, agent2, 0);
	assert_int_equal(st.packets, 10);
	assert_int_equal(st.flows, 20);
	/* the flows' exporter is the relay, the UDP source */
	assert_int_equal(sink_drain(), 40);
	assert_memory_equal(got[0].exporter, src_addr, 16);
	assert_memory_equal(got[2].exporter, src_addr, 16);
	/* a real gap of one agent is still seen, on that agent only */
	build_two(&b);
	put_be32(b.b + 16, 112);	/* 110, 111 missing */
	assert_int_equal(feed(d, &b), 2);
	assert_int_equal(stats_of(d, 0).seq_gaps, 1);
	assert_int_equal(stats_of(d, 0).seq_missing, 2);
	assert_int_equal(stats_of_agent(d, agent2, 0).seq_gaps, 0);
	decoder_free(d);
}

/* Many flows through a small sink: flush() runs, order is kept. */
static void
test_many_samples(void **state)
{
	decoder_t *d = dec_new();
	struct sb b;
	uint8_t pkt[128];
	size_t s, n;

	(void)state;
	dg_begin(&b, 0, 1);
	for (uint32_t i = 0; i < 20; i++) {
		n = pk_eth(pkt, 0, 0x0800);
		n += pk_ipv4(pkt + n, A4, B4, 17, 0, (uint16_t)(100 + i));
		n += pk_udp(pkt + n, (uint16_t)(1000 + i), 53, 80);
		s = sample_begin(&b, 0, 1);
		flow_sample_hdr(&b, 2, 1, 2, 1);
		rec_header(&b, 1, 118 + i, 4, pkt, n);
		tlv_end(&b, s);
	}
	assert_int_equal(feed(d, &b), 20);
	assert_int_equal(sink_drain(), 20);
	for (uint32_t i = 0; i < 20; i++) {
		assert_int_equal(got[i].sport, 1000 + i);
		assert_int_equal(got[i].bytes, (100 + i) * 2);
	}
	decoder_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_sample_ipv4_tcp),
		cmocka_unit_test(test_expanded_ipv6_udp),
		cmocka_unit_test(test_icmp_raw_ipv4),
		cmocka_unit_test(test_icmpv6_raw_ipv6),
		cmocka_unit_test(test_qinq_and_mpls),
		cmocka_unit_test(test_ip_data_records),
		cmocka_unit_test(test_header_wins_over_ip_data),
		cmocka_unit_test(test_bytes_fallbacks),
		cmocka_unit_test(test_extended_router_gateway),
		cmocka_unit_test(test_interface_formats),
		cmocka_unit_test(test_counter_samples),
		cmocka_unit_test(test_unknown_skipped),
		cmocka_unit_test(test_sampling_bad),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_truncated_sample),
		cmocka_unit_test(test_malformed_second_sample),
		cmocka_unit_test(test_truncated_record),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_every_prefix_malformed),
		cmocka_unit_test(test_exporter_table_full),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_agent_address_types),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_agents_behind_relay),
		cmocka_unit_test(test_many_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
