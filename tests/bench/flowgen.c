/*
 * flowgen: synthetic flow set and export encoders (see flowgen.h).
 *
 * Wire formats, from the specifications, not from the decoders:
 *   NetFlow v5   Cisco "NetFlow Export Datagram Format": 24-byte header,
 *                48-byte records, at most 30 per datagram.
 *   NetFlow v9   RFC 3954: 20-byte header; template FlowSet (id 0); data
 *                FlowSets padded to 4 bytes; header count = records.
 *   IPFIX        RFC 7011: 16-byte header; template Set (id 2); sequence
 *                number = data records sent before this message.
 *   sFlow v5     sflow_version_5.txt: XDR; flow_sample (0:1) with raw
 *                packet header (0:1), extended switch (0:1001) and
 *                extended router (0:1002) records; counters_sample (0:2)
 *                with generic interface counters (0:1).
 *
 * The flow set: hosts on an inside and an outside side, each picked with
 * Zipf(s) popularity over a shuffled address list; services from a
 * weighted table (HTTPS, HTTP, QUIC, DNS, NTP, SSH, SMTP, ... ICMP, ESP,
 * high ports); half the flows outbound (client inside), half the replies;
 * Pareto-tailed packet counts; bytes per packet by service and direction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "flowgen.h"

#define DEF_POOL	4096
#define DEF_MAX_SIZE	1400
#define DEF_HOSTS	65536
#define DEF_ZIPF	1.1
#define DEF_TPL_EVERY	1000
#define DEF_SFLOW_RATE	1000
#define DEF_COUNTERS	10
#define MAX_EXPORTERS	256
#define MAX_UDP		65507
#define UPTIME_BASE_MS	(7u * 86400u * 1000u)	/* exporter up a week */

#define V5_HDR		24
#define V5_REC		48
#define V5_MAX		30
#define V9_HDR		20
#define IPFIX_HDR	16
#define SET_HDR		4
#define SF_HDR		28	/* IPv4 agent */
#define SF_RAW_MAX	128	/* captured header bytes */

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded with splitmix64. */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_u64(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, 1). */
static double
rng_unit(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [lo, hi]. */
static uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_u64(r) % ((uint64_t)hi - lo + 1));
}

/* ------------------------------------------------------------------ */
/* The flow set. */

struct gflow {
	uint8_t v6;
	uint8_t src[16], dst[16], nh[16];	/* v4: first 4 bytes */
	uint16_t sport, dport;
	uint8_t proto, tcp_flags, tos, src_mask, dst_mask;
	uint16_t in_if, out_if;
	uint32_t src_as, dst_as;
	uint32_t packets, bytes;		/* unsampled */
	uint32_t end_age_ms;			/* end before export */
	uint32_t dur_ms;
};

struct host {
	uint8_t a[16];
	uint32_t as;
};

/* A side (inside or outside) of hosts with Zipf popularity. */
struct side {
	struct host *h4, *h6;
	double *cdf;
	unsigned n;
};

struct service {
	uint8_t proto;
	uint16_t port;		/* 0: a random high port */
	unsigned weight;
	uint16_t req_size;	/* bytes per packet client -> server */
	uint16_t resp_size;	/* server -> client */
};

static const struct service services[] = {
	{ 6, 443, 340, 120, 1150 },	/* HTTPS */
	{ 6, 80, 110, 180, 1050 },	/* HTTP */
	{ 17, 443, 90, 300, 1200 },	/* QUIC */
	{ 17, 53, 120, 72, 140 },	/* DNS */
	{ 17, 123, 30, 76, 76 },	/* NTP */
	{ 6, 22, 25, 140, 200 },	/* SSH */
	{ 6, 25, 15, 300, 90 },		/* SMTP */
	{ 6, 993, 15, 150, 600 },	/* IMAPS */
	{ 6, 8080, 20, 200, 900 },
	{ 6, 3389, 10, 160, 700 },	/* RDP */
	{ 17, 5353, 10, 120, 120 },	/* mDNS */
	{ 17, 51820, 10, 700, 700 },	/* WireGuard */
	{ 6, 0, 60, 400, 900 },		/* TCP high ports */
	{ 17, 0, 45, 500, 500 },	/* UDP high ports */
	{ 1, 0, 30, 84, 84 },		/* ICMP echo */
	{ 50, 0, 10, 900, 900 },	/* ESP */
};

struct pdg {
	size_t off;		/* in fg.mem */
	uint16_t len;
	uint16_t exp;		/* exporter index */
	fg_totals_t t;
};

struct exporter_state {
	uint32_t seq;		/* v9: datagrams; IPFIX/v5: records; sFlow:
				   datagrams */
	uint32_t since_tpl;	/* data datagrams since the last template */
	uint8_t *tpl;		/* template datagram (v9/IPFIX) */
	uint16_t tpl_len;
	uint16_t tpl_count;	/* templates in it */
};

struct fg {
	fg_opts_t o;
	struct rng rng;
	struct side in, out;
	uint64_t base_ms;	/* build time: IPFIX absolute times */
	uint8_t *mem;		/* pool datagrams, back to back */
	size_t memlen, memcap;
	struct pdg *pool;
	unsigned npool;
	unsigned next;		/* next pool index */
	int tpl_pending;	/* exporter whose template goes next, -1 */
	struct exporter_state *ex;
	uint64_t start_ms;	/* first fg_next() now_ms */
	uint64_t data_flows;	/* flows in the pool */
};

static void
put_addr(uint8_t *p, const uint8_t *a, int v6)
{
	memcpy(p, a, v6 ? 16 : 4);
}

/* A 32-bit mix used to scatter host indexes over address space. */
static uint32_t
mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/*
 * Hosts of popularity rank 0..n-1. Every side has the same n addresses
 * whatever rot is; rot rotates which of them are the popular ones.
 */
static int
side_init(struct side *s, unsigned n, double zs, int inside, uint32_t salt,
    uint32_t rot)
{
	double sum = 0;

	s->n = n;
	s->h4 = calloc(n, sizeof(*s->h4));
	s->h6 = calloc(n, sizeof(*s->h6));
	s->cdf = calloc(n, sizeof(*s->cdf));
	if (s->h4 == NULL || s->h6 == NULL || s->cdf == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		uint32_t j = (uint32_t)(((uint64_t)i + (uint64_t)rot * 7919) %
		    n);
		uint32_t h = mix32(j * 2654435761u ^ salt);
		uint32_t g = mix32(h ^ 0x5bd1e995u);
		struct host *a4 = &s->h4[i], *a6 = &s->h6[i];

		if (inside) {
			/* 10.0.0.0/8, AS 65001; 2001:db8:1000::/36 */
			a4->a[0] = 10;
			a4->a[1] = (uint8_t)(h >> 16);
			a4->a[2] = (uint8_t)(h >> 8);
			a4->a[3] = (uint8_t)(h | 1);
			a4->as = 65001;
			a6->a[0] = 0x20;
			a6->a[1] = 0x01;
			a6->a[2] = 0x0d;
			a6->a[3] = 0xb8;
			a6->a[4] = (uint8_t)(0x10 | ((h >> 28) & 0x0f));
			a6->as = 65001;
		} else {
			/* public-looking unicast, AS by /16 */
			uint8_t o1 = (uint8_t)(11 + (h >> 24) % 212);

			if (o1 == 127 || o1 == 172 || o1 == 192 || o1 == 100)
				o1++;
			a4->a[0] = o1;
			a4->a[1] = (uint8_t)(h >> 16);
			a4->a[2] = (uint8_t)(h >> 8);
			a4->a[3] = (uint8_t)(h | 1);
			a4->as = 1000 + ((uint32_t)o1 << 8 | a4->a[1]) % 60000;
			a6->a[0] = 0x2a;
			a6->a[1] = (uint8_t)(h >> 24);
			a6->a[4] = (uint8_t)(h >> 16);
			a6->as = a4->as;
		}
		for (int k = 5; k < 16; k++)
			a6->a[k] = (uint8_t)((k & 1 ? g : h) >> (k % 4 * 8));
		a6->a[2] = inside ? a6->a[2] : (uint8_t)(g >> 8);
		a6->a[3] = inside ? a6->a[3] : (uint8_t)g;
		sum += 1.0 / pow((double)i + 1, zs);
		s->cdf[i] = sum;
	}
	for (unsigned i = 0; i < n; i++)
		s->cdf[i] /= sum;
	return 0;
}

static void
side_free(struct side *s)
{
	free(s->h4);
	free(s->h6);
	free(s->cdf);
}

/* Pick a host index by popularity; popular ranks map to scattered hosts. */
static unsigned
side_pick(const struct side *s, struct rng *r)
{
	double u = rng_unit(r);
	unsigned lo = 0, hi = s->n - 1;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (s->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (unsigned)(mix32(lo + 0x9e37u) % s->n);
}

static const struct service *
pick_service(struct rng *r)
{
	unsigned total = 0, x;

	for (size_t i = 0; i < FF_NELEM(services); i++)
		total += services[i].weight;
	x = (unsigned)(rng_u64(r) % total);
	for (size_t i = 0; i < FF_NELEM(services); i++) {
		if (x < services[i].weight)
			return &services[i];
		x -= services[i].weight;
	}
	return &services[0];
}

static void
gen_flow(fg_t *g, int v6, struct gflow *f)
{
	struct rng *r = &g->rng;
	const struct service *sv = pick_service(r);
	const struct host *hi, *ho;
	int outbound = (rng_u64(r) & 1) == 0;
	uint16_t client_port = (uint16_t)rng_range(r, 32768, 60999);
	uint16_t server_port = sv->port ? sv->port :
	    (uint16_t)rng_range(r, 1024, 65535);
	double u, per;
	uint64_t pk, by;
	unsigned uplink = rng_range(r, 1, 4), lan = rng_range(r, 10, 41);

	memset(f, 0, sizeof(*f));
	f->v6 = (uint8_t)v6;
	hi = v6 ? &g->in.h6[side_pick(&g->in, r)] :
	    &g->in.h4[side_pick(&g->in, r)];
	ho = v6 ? &g->out.h6[side_pick(&g->out, r)] :
	    &g->out.h4[side_pick(&g->out, r)];
	f->proto = sv->proto;
	if (v6 && f->proto == 1)
		f->proto = 58;
	if (outbound) {
		memcpy(f->src, hi->a, 16);
		memcpy(f->dst, ho->a, 16);
		f->src_as = hi->as;
		f->dst_as = ho->as;
		f->sport = client_port;
		f->dport = server_port;
		f->in_if = (uint16_t)lan;
		f->out_if = (uint16_t)uplink;
		f->src_mask = v6 ? 48 : 24;
		f->dst_mask = v6 ? 32 : (uint8_t)rng_range(r, 16, 24);
		if (v6) {
			static const uint8_t nh6[16] = { 0x20, 0x01, 0x0d,
			    0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

			memcpy(f->nh, nh6, 16);
			f->nh[15] = (uint8_t)uplink;
		} else {
			f->nh[0] = 192;
			f->nh[1] = 0;
			f->nh[2] = 2;
			f->nh[3] = (uint8_t)uplink;
		}
	} else {
		memcpy(f->src, ho->a, 16);
		memcpy(f->dst, hi->a, 16);
		f->src_as = ho->as;
		f->dst_as = hi->as;
		f->sport = server_port;
		f->dport = client_port;
		f->in_if = (uint16_t)uplink;
		f->out_if = (uint16_t)lan;
		f->src_mask = v6 ? 32 : (uint8_t)rng_range(r, 16, 24);
		f->dst_mask = v6 ? 48 : 24;
		if (v6) {
			f->nh[0] = 0xfe;
			f->nh[1] = 0x80;
			f->nh[15] = (uint8_t)lan;
		} else {
			f->nh[0] = 10;
			f->nh[1] = 255;
			f->nh[3] = (uint8_t)lan;
		}
	}
	if (f->proto == 1 || f->proto == 58) {
		/* echo request out, reply in; type/code in dport */
		uint8_t type = f->proto == 1 ? (outbound ? 8 : 0) :
		    (outbound ? 128 : 129);

		f->sport = 0;
		f->dport = (uint16_t)(type << 8);
	} else if (f->proto == 50) {
		f->sport = f->dport = 0;
	}
	/* Pareto(alpha 1.2) packets: most flows tiny, a few elephants. */
	u = 1.0 - rng_unit(r);
	pk = (uint64_t)(1.0 / pow(u, 1.0 / 1.2));
	if (pk < 1)
		pk = 1;
	if (pk > 2000000)
		pk = 2000000;
	per = outbound ? sv->req_size : sv->resp_size;
	per *= 0.6 + 0.8 * rng_unit(r);
	if (per < (v6 ? 60 : 40))
		per = v6 ? 60 : 40;
	if (per > 1500)
		per = 1500;
	by = (uint64_t)(per * (double)pk);
	f->packets = (uint32_t)pk;
	f->bytes = by > UINT32_MAX ? UINT32_MAX : (uint32_t)by;
	if (f->proto == 6) {
		uint64_t x = rng_u64(r) % 100;

		if (pk == 1)
			f->tcp_flags = x < 60 ? 0x02 : 0x14;	/* S, RA */
		else if (x < 70)
			f->tcp_flags = 0x1b;			/* FSPA */
		else if (x < 95)
			f->tcp_flags = 0x18;			/* PA */
		else
			f->tcp_flags = 0x12;			/* SA */
	}
	{
		uint64_t x = rng_u64(r) % 100;

		f->tos = x < 90 ? 0 : x < 95 ? 0x28 : 0xb8;
	}
	f->end_age_ms = rng_range(r, 0, 15000);
	if (pk > 1) {
		double d = -log(1.0 - rng_unit(r)) * 4000.0 *
		    log2((double)pk + 1);

		f->dur_ms = d > 1800000 ? 1800000 : (uint32_t)d;
	}
}

/* ------------------------------------------------------------------ */
/* Encoders. Each writes at p (room is checked by the caller). */

static size_t
enc_v5_rec(const fg_t *g, uint8_t *p, const struct gflow *f)
{
	uint32_t last = UPTIME_BASE_MS - f->end_age_ms;

	(void)g;
	memset(p, 0, V5_REC);
	put_addr(p, f->src, 0);
	put_addr(p + 4, f->dst, 0);
	put_addr(p + 8, f->nh, 0);
	put_be16(p + 12, f->in_if);
	put_be16(p + 14, f->out_if);
	put_be32(p + 16, f->packets);
	put_be32(p + 20, f->bytes);
	put_be32(p + 24, last - f->dur_ms);
	put_be32(p + 28, last);
	put_be16(p + 32, f->sport);
	put_be16(p + 34, f->dport);
	p[37] = f->tcp_flags;
	p[38] = f->proto;
	p[39] = f->tos;
	put_be16(p + 40, (uint16_t)f->src_as);
	put_be16(p + 42, (uint16_t)f->dst_as);
	p[44] = f->src_mask;
	p[45] = f->dst_mask;
	return V5_REC;
}

/* v9 templates 256 (IPv4) and 257 (IPv6): Cisco IOS-like, 45/81 bytes. */
static const uint16_t v9_tpl4[][2] = {
	{ 1, 4 }, { 2, 4 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 2 },
	{ 8, 4 }, { 9, 1 }, { 10, 2 }, { 11, 2 }, { 12, 4 }, { 13, 1 },
	{ 14, 2 }, { 15, 4 }, { 16, 2 }, { 17, 2 }, { 22, 4 }, { 21, 4 },
};
static const uint16_t v9_tpl6[][2] = {
	{ 1, 4 }, { 2, 4 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 2 },
	{ 27, 16 }, { 29, 1 }, { 10, 2 }, { 11, 2 }, { 28, 16 }, { 30, 1 },
	{ 14, 2 }, { 62, 16 }, { 16, 2 }, { 17, 2 }, { 22, 4 }, { 21, 4 },
};
/* IPFIX templates 256/257: 8-byte counters, 4-byte ifindex and AS,
   absolute millisecond times; 69/105 bytes. */
static const uint16_t ipfix_tpl4[][2] = {
	{ 1, 8 }, { 2, 8 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 2 },
	{ 8, 4 }, { 9, 1 }, { 10, 4 }, { 11, 2 }, { 12, 4 }, { 13, 1 },
	{ 14, 4 }, { 15, 4 }, { 16, 4 }, { 17, 4 }, { 152, 8 }, { 153, 8 },
};
static const uint16_t ipfix_tpl6[][2] = {
	{ 1, 8 }, { 2, 8 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 2 },
	{ 27, 16 }, { 29, 1 }, { 10, 4 }, { 11, 2 }, { 28, 16 }, { 30, 1 },
	{ 14, 4 }, { 62, 16 }, { 16, 4 }, { 17, 4 }, { 152, 8 }, { 153, 8 },
};
#define TPL_NFIELDS	FF_NELEM(v9_tpl4)

static size_t
tpl_reclen(const uint16_t (*t)[2])
{
	size_t n = 0;

	for (size_t i = 0; i < TPL_NFIELDS; i++)
		n += t[i][1];
	return n;
}

static const uint16_t (*
tpl_of(fg_proto_t p, int v6))[2]
{
	if (p == FG_V9)
		return v6 ? v9_tpl6 : v9_tpl4;
	return v6 ? ipfix_tpl6 : ipfix_tpl4;
}

/* Encode one field of flow f per information element id, len bytes. */
static void
enc_field(const fg_t *g, uint8_t *p, uint16_t id, uint16_t len,
    const struct gflow *f)
{
	uint32_t last = UPTIME_BASE_MS - f->end_age_ms;
	uint64_t end_ms = g->base_ms - f->end_age_ms;
	uint64_t v;

	switch (id) {
	case 1: v = f->bytes; break;
	case 2: v = f->packets; break;
	case 4: v = f->proto; break;
	case 5: v = f->tos; break;
	case 6: v = f->tcp_flags; break;
	case 7: v = f->sport; break;
	case 9: case 29: v = f->src_mask; break;
	case 10: v = f->in_if; break;
	case 11: v = f->dport; break;
	case 13: case 30: v = f->dst_mask; break;
	case 14: v = f->out_if; break;
	case 16: v = f->src_as; break;
	case 17: v = f->dst_as; break;
	case 21: v = last; break;
	case 22: v = last - f->dur_ms; break;
	case 152: v = end_ms - f->dur_ms; break;
	case 153: v = end_ms; break;
	case 8: case 27: put_addr(p, f->src, len == 16); return;
	case 12: case 28: put_addr(p, f->dst, len == 16); return;
	case 15: case 62: put_addr(p, f->nh, len == 16); return;
	default: v = 0; break;
	}
	for (int i = len - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static size_t
enc_tpl_rec(const fg_t *g, uint8_t *p, const struct gflow *f)
{
	const uint16_t (*t)[2] = tpl_of(g->o.proto, f->v6);
	size_t off = 0;

	for (size_t i = 0; i < TPL_NFIELDS; i++) {
		enc_field(g, p + off, t[i][0], t[i][1], f);
		off += t[i][1];
	}
	return off;
}

/* The template datagram of one exporter (both templates). */
static size_t
enc_tpl_dgram(const fg_t *g, uint8_t *p, unsigned exp)
{
	size_t off = g->o.proto == FG_V9 ? V9_HDR : IPFIX_HDR;
	size_t set = off;

	off += SET_HDR;
	for (int v6 = 0; v6 < 2; v6++) {
		const uint16_t (*t)[2] = tpl_of(g->o.proto, v6);

		put_be16(p + off, (uint16_t)(256 + v6));
		put_be16(p + off + 2, TPL_NFIELDS);
		off += 4;
		for (size_t i = 0; i < TPL_NFIELDS; i++, off += 4) {
			put_be16(p + off, t[i][0]);
			put_be16(p + off + 2, t[i][1]);
		}
	}
	put_be16(p + set, g->o.proto == FG_V9 ? 0 : 2);
	put_be16(p + set + 2, (uint16_t)(off - set));
	if (g->o.proto == FG_V9) {
		put_be16(p, 9);
		put_be16(p + 2, 2);
		put_be32(p + 4, UPTIME_BASE_MS);
		put_be32(p + 16, exp);
	} else {
		put_be16(p, 10);
		put_be16(p + 2, (uint16_t)off);
		put_be32(p + 12, exp);
	}
	return off;
}

/* sFlow: the sampled packet's IP length (one packet of flow f). */
static uint32_t
sf_ip_len(const struct gflow *f)
{
	uint32_t l = f->bytes / f->packets;
	uint32_t min = f->v6 ? 48 : 28;

	if (f->proto == 6)
		min += 12;
	return l < min ? min : l > 1500 ? 1500 : l;
}

/* Ethernet + IP + L4 header of one packet of f, hdrlen bytes at p. */
static void
sf_frame(uint8_t *p, size_t hdrlen, const struct gflow *f, uint32_t ip_len,
    uint32_t id)
{
	uint8_t *ip = p + 14, *l4;

	memset(p, 0, hdrlen);
	p[0] = 0x00; p[1] = 0x1b; p[2] = 0x21; p[5] = (uint8_t)f->out_if;
	p[6] = 0x00; p[7] = 0x1c; p[8] = 0x73; p[11] = (uint8_t)f->in_if;
	if (f->v6) {
		put_be16(p + 12, 0x86dd);
		put_be32(ip, 0x60000000u | (uint32_t)f->tos << 20);
		put_be16(ip + 4, (uint16_t)(ip_len - 40));
		ip[6] = f->proto;
		ip[7] = 64;
		memcpy(ip + 8, f->src, 16);
		memcpy(ip + 24, f->dst, 16);
		l4 = ip + 40;
	} else {
		uint32_t sum = 0;

		put_be16(p + 12, 0x0800);
		ip[0] = 0x45;
		ip[1] = f->tos;
		put_be16(ip + 2, (uint16_t)ip_len);
		put_be16(ip + 4, (uint16_t)id);
		ip[6] = 0x40;	/* DF */
		ip[8] = 64;
		ip[9] = f->proto;
		memcpy(ip + 12, f->src, 4);
		memcpy(ip + 16, f->dst, 4);
		for (int i = 0; i < 20; i += 2)
			sum += be16(ip + i);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		put_be16(ip + 10, (uint16_t)~sum);
		l4 = ip + 20;
	}
	switch (f->proto) {
	case 6:
		put_be16(l4, f->sport);
		put_be16(l4 + 2, f->dport);
		put_be32(l4 + 4, id * 1448u);
		put_be32(l4 + 8, id * 977u);
		l4[12] = 0x50;
		l4[13] = f->tcp_flags ? f->tcp_flags : 0x10;
		put_be16(l4 + 14, 64240);
		break;
	case 17:
		put_be16(l4, f->sport);
		put_be16(l4 + 2, f->dport);
		put_be16(l4 + 4, (uint16_t)(ip_len - (f->v6 ? 40 : 20)));
		break;
	case 1:
	case 58:
		l4[0] = (uint8_t)(f->dport >> 8);
		l4[1] = (uint8_t)f->dport;
		put_be16(l4 + 4, (uint16_t)id);
		break;
	default:
		put_be32(l4, 0x1000u + id);	/* ESP SPI */
		break;
	}
}

/* Size of f's sFlow flow sample. */
static size_t
sf_flow_sample_len(const struct gflow *f)
{
	size_t frame = 14 + sf_ip_len(f) + 4;
	size_t hdr = FF_MIN(frame - 4, (size_t)SF_RAW_MAX);

	return 8 + 32 +			/* sample header */
	    8 + 16 + ((hdr + 3) & ~(size_t)3) +	/* raw packet header */
	    8 + 16 +			/* extended switch */
	    8 + (f->v6 ? 28 : 16);	/* extended router */
}

static size_t
enc_sf_flow_sample(const fg_t *g, uint8_t *p, const struct gflow *f,
    uint32_t seq)
{
	uint32_t ip_len = sf_ip_len(f), frame = 14 + ip_len + 4;
	uint32_t hdr = FF_MIN(frame - 4, (uint32_t)SF_RAW_MAX);
	uint32_t hpad = (hdr + 3) & ~3u;
	size_t len = sf_flow_sample_len(f), o = 0;

	put_be32(p, 1);			/* flow_sample */
	put_be32(p + 4, (uint32_t)(len - 8));
	put_be32(p + 8, seq);
	put_be32(p + 12, f->in_if);	/* source id: ifIndex, type 0 */
	put_be32(p + 16, g->o.sampling);
	put_be32(p + 20, seq * g->o.sampling);
	put_be32(p + 24, 0);		/* drops */
	put_be32(p + 28, f->in_if);
	put_be32(p + 32, f->out_if);
	put_be32(p + 36, 3);		/* records */
	o = 40;
	put_be32(p + o, 1);		/* raw packet header */
	put_be32(p + o + 4, 16 + hpad);
	put_be32(p + o + 8, 1);		/* ethernet */
	put_be32(p + o + 12, frame);
	put_be32(p + o + 16, 4);	/* FCS stripped */
	put_be32(p + o + 20, hdr);
	sf_frame(p + o + 24, hpad, f, ip_len, seq);
	o += 24 + hpad;
	put_be32(p + o, 1001);		/* extended switch */
	put_be32(p + o + 4, 16);
	put_be32(p + o + 8, 100 + f->in_if);
	put_be32(p + o + 12, 0);
	put_be32(p + o + 16, 100 + f->out_if);
	put_be32(p + o + 20, 0);
	o += 24;
	put_be32(p + o, 1002);		/* extended router */
	put_be32(p + o + 4, f->v6 ? 28 : 16);
	put_be32(p + o + 8, f->v6 ? 2 : 1);
	put_addr(p + o + 12, f->nh, f->v6);
	o += 12 + (f->v6 ? 16 : 4);
	put_be32(p + o, f->src_mask);
	put_be32(p + o + 4, f->dst_mask);
	o += 8;
	return o;
}

#define SF_CSAMPLE_LEN	(8 + 12 + 8 + 88)

static size_t
enc_sf_counter_sample(uint8_t *p, uint32_t seq, uint32_t ifindex)
{
	uint8_t *c = p + 28;

	memset(p, 0, SF_CSAMPLE_LEN);
	put_be32(p, 2);			/* counters_sample */
	put_be32(p + 4, SF_CSAMPLE_LEN - 8);
	put_be32(p + 8, seq);
	put_be32(p + 12, ifindex);
	put_be32(p + 16, 1);
	put_be32(p + 20, 1);		/* generic interface counters */
	put_be32(p + 24, 88);
	put_be32(c, ifindex);
	put_be32(c + 4, 6);		/* ethernetCsmacd */
	put_be64(c + 8, 10000000000ull);
	put_be32(c + 16, 1);		/* full duplex */
	put_be32(c + 20, 3);		/* admin and oper up */
	put_be64(c + 24, (uint64_t)seq * 123456789u);
	put_be32(c + 32, seq * 98765u);
	put_be64(c + 56, (uint64_t)seq * 23456789u);
	put_be32(c + 64, seq * 54321u);
	return SF_CSAMPLE_LEN;
}

/* ------------------------------------------------------------------ */
/* Pool construction. */

static uint8_t *
mem_room(fg_t *g, size_t need)
{
	if (g->memcap - g->memlen < need) {
		size_t cap = g->memcap ? g->memcap : 1 << 20;
		uint8_t *m;

		while (cap - g->memlen < need)
			cap *= 2;
		if ((m = realloc(g->mem, cap)) == NULL)
			return NULL;
		g->mem = m;
		g->memcap = cap;
	}
	return g->mem + g->memlen;
}

static size_t
hdr_len(fg_proto_t p)
{
	switch (p) {
	case FG_V5: return V5_HDR;
	case FG_V9: return V9_HDR + SET_HDR;
	case FG_IPFIX: return IPFIX_HDR + SET_HDR;
	case FG_SFLOW: return SF_HDR;
	}
	return 0;
}

static size_t
rec_len(const fg_t *g, int v6)
{
	if (g->o.proto == FG_V5)
		return V5_REC;
	return tpl_reclen(tpl_of(g->o.proto, v6));
}

/* Records per datagram for the family v6 (fixed-size formats). */
static unsigned
fit(const fg_t *g, int v6)
{
	size_t room, n;

	if (g->o.per_packet)
		return g->o.per_packet;
	if (g->o.proto == FG_V5)
		return V5_MAX;		/* 1464 bytes, as routers send */
	room = g->o.max_size > hdr_len(g->o.proto) ?
	    g->o.max_size - hdr_len(g->o.proto) : 0;
	/* sFlow samples vary in size: an upper bound, the fill loop
	   stops at max_size */
	n = room / (g->o.proto == FG_SFLOW ? 64 : rec_len(g, v6));
	return n ? (unsigned)n : 1;
}

static void
flow_totals(const fg_t *g, const struct gflow *f, fg_totals_t *t)
{
	uint32_t rate;

	t->flows++;
	if (g->o.proto == FG_SFLOW) {
		t->flow_packets += g->o.sampling;
		t->bytes += (uint64_t)sf_ip_len(f) * g->o.sampling;
		return;
	}
	rate = g->o.proto == FG_V5 && g->o.sampling ? g->o.sampling : 1;
	t->flow_packets += (uint64_t)f->packets * rate;
	t->bytes += (uint64_t)f->bytes * rate;
}

static int
build_dgram(fg_t *g, unsigned idx, char *err, size_t errlen)
{
	struct pdg *d = &g->pool[idx];
	unsigned exp = idx % g->o.exporters;
	int v6 = g->o.proto != FG_V5 &&
	    rng_u64(&g->rng) % 100 < g->o.v6_pct;
	unsigned n = fit(g, v6), i;
	size_t maxlen, off, sample_room = 0;
	uint8_t *p;
	struct gflow f;
	int counters = 0;

	memset(d, 0, sizeof(*d));
	if (g->o.proto == FG_SFLOW) {
		counters = g->o.counters_every &&
		    idx % g->o.counters_every == 0;
		maxlen = SF_HDR + (size_t)n * 512 + SF_CSAMPLE_LEN;
	} else {
		maxlen = hdr_len(g->o.proto) + (size_t)n * rec_len(g, v6) + 3;
	}
	if (maxlen > MAX_UDP + 512) {
		snprintf(err, errlen, "%u records do not fit a datagram", n);
		return -1;
	}
	if ((p = mem_room(g, maxlen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(p, 0, maxlen);
	d->off = g->memlen;
	d->exp = (uint16_t)exp;
	d->t.packets = 1;
	off = hdr_len(g->o.proto);
	if (g->o.proto == FG_SFLOW) {
		/* Fill flow samples while they fit in max_size (at least
		   one), then the counter sample if due. */
		sample_room = g->o.per_packet ? MAX_UDP : g->o.max_size;
		for (i = 0; i < n; i++) {
			gen_flow(g, v6, &f);
			if (i > 0 && off + sf_flow_sample_len(&f) +
			    (counters ? SF_CSAMPLE_LEN : 0) > sample_room)
				break;
			off += enc_sf_flow_sample(g, p + off, &f,
			    (uint32_t)(idx * 64 + i));
			flow_totals(g, &f, &d->t);
		}
		if (counters)
			off += enc_sf_counter_sample(p + off, idx,
			    1 + idx % 4);
		put_be32(p, 5);
		put_be32(p + 4, 1);			/* IPv4 agent */
		p[8] = 192; p[9] = 0; p[10] = 2; p[11] = 1;
		put_be32(p + 12, exp);			/* sub-agent */
		put_be32(p + 24, i + (counters ? 1 : 0));
		if (off > MAX_UDP) {
			snprintf(err, errlen, "sFlow datagram too large");
			return -1;
		}
	} else {
		for (i = 0; i < n; i++) {
			gen_flow(g, v6, &f);
			if (g->o.proto == FG_V5)
				off += enc_v5_rec(g, p + off, &f);
			else
				off += enc_tpl_rec(g, p + off, &f);
			flow_totals(g, &f, &d->t);
		}
		switch (g->o.proto) {
		case FG_V5:
			put_be16(p, 5);
			put_be16(p + 2, (uint16_t)n);
			put_be32(p + 4, UPTIME_BASE_MS);
			p[20] = 0;			/* engine type */
			p[21] = (uint8_t)exp;		/* engine id */
			if (g->o.sampling)
				put_be16(p + 22, (uint16_t)(0x4000 |
				    (g->o.sampling & 0x3fff)));
			break;
		case FG_V9:
			while ((off - V9_HDR) % 4)
				off++;
			put_be16(p, 9);
			put_be16(p + 2, (uint16_t)n);
			put_be32(p + 4, UPTIME_BASE_MS);
			put_be32(p + 16, exp);
			put_be16(p + V9_HDR, (uint16_t)(256 + v6));
			put_be16(p + V9_HDR + 2, (uint16_t)(off - V9_HDR));
			break;
		case FG_IPFIX:
			put_be16(p, 10);
			put_be16(p + 2, (uint16_t)off);
			put_be32(p + 12, exp);
			put_be16(p + IPFIX_HDR, (uint16_t)(256 + v6));
			put_be16(p + IPFIX_HDR + 2,
			    (uint16_t)(off - IPFIX_HDR));
			break;
		case FG_SFLOW:
			break;
		}
		if (off > MAX_UDP) {
			snprintf(err, errlen, "datagram too large");
			return -1;
		}
	}
	d->len = (uint16_t)off;
	d->t.octets = off;
	g->memlen += off;
	g->data_flows += d->t.flows;
	return 0;
}

fg_t *
fg_new(const fg_opts_t *opts, char *err, size_t errlen)
{
	fg_t *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->o = *opts;
	if (g->o.seed == 0)
		g->o.seed = 1;
	if (g->o.pool == 0)
		g->o.pool = DEF_POOL;
	if (g->o.max_size == 0)
		g->o.max_size = DEF_MAX_SIZE;
	if (g->o.hosts == 0)
		g->o.hosts = DEF_HOSTS;
	if (g->o.zipf_s == 0)
		g->o.zipf_s = DEF_ZIPF;
	if (g->o.exporters == 0)
		g->o.exporters = 1;
	if (g->o.tpl_every == 0)
		g->o.tpl_every = DEF_TPL_EVERY;
	if (g->o.sampling == 0 && g->o.proto == FG_SFLOW)
		g->o.sampling = DEF_SFLOW_RATE;
	if (g->o.counters_every == 0)
		g->o.counters_every = DEF_COUNTERS;
	if (g->o.proto > FG_SFLOW || g->o.v6_pct > 100 ||
	    g->o.exporters > MAX_EXPORTERS || g->o.pool > (1u << 24) ||
	    g->o.hosts > (1u << 24) || g->o.max_size > MAX_UDP ||
	    g->o.zipf_s < 0 || g->o.zipf_s > 10 ||
	    (g->o.proto == FG_V5 && (g->o.per_packet > V5_MAX ||
	    g->o.sampling > 0x3fff))) {
		snprintf(err, errlen, "option out of range");
		fg_free(g);
		return NULL;
	}
	rng_seed(&g->rng, g->o.seed);
	g->base_ms = now_ms();
	if (side_init(&g->in, g->o.hosts, g->o.zipf_s, 1, 0x1234567,
	    g->o.host_salt) == -1 ||
	    side_init(&g->out, g->o.hosts, g->o.zipf_s, 0, 0x7654321,
	    g->o.host_salt) == -1 ||
	    (g->pool = calloc(g->o.pool, sizeof(*g->pool))) == NULL ||
	    (g->ex = calloc(g->o.exporters, sizeof(*g->ex))) == NULL) {
		snprintf(err, errlen, "out of memory");
		fg_free(g);
		return NULL;
	}
	for (unsigned i = 0; i < g->o.pool; i++) {
		if (build_dgram(g, i, err, errlen) == -1) {
			fg_free(g);
			return NULL;
		}
		g->npool++;
	}
	if (g->o.proto == FG_V9 || g->o.proto == FG_IPFIX) {
		for (unsigned e = 0; e < g->o.exporters; e++) {
			struct exporter_state *x = &g->ex[e];

			if ((x->tpl = calloc(1, 512)) == NULL) {
				snprintf(err, errlen, "out of memory");
				fg_free(g);
				return NULL;
			}
			x->tpl_len = (uint16_t)enc_tpl_dgram(g, x->tpl, e);
			x->tpl_count = 2;
			x->since_tpl = g->o.tpl_every;	/* due at once */
		}
	}
	g->tpl_pending = -1;
	/* The pool's gen state is not needed any more. */
	side_free(&g->in);
	side_free(&g->out);
	memset(&g->in, 0, sizeof(g->in));
	memset(&g->out, 0, sizeof(g->out));
	return g;
}

void
fg_free(fg_t *g)
{
	if (g == NULL)
		return;
	side_free(&g->in);
	side_free(&g->out);
	if (g->ex)
		for (unsigned e = 0; e < g->o.exporters; e++)
			free(g->ex[e].tpl);
	free(g->ex);
	free(g->pool);
	free(g->mem);
	free(g);
}

/* ------------------------------------------------------------------ */
/* The stream. */

void
fg_next(fg_t *g, uint64_t now, fg_dgram_t *d)
{
	struct pdg *pd = &g->pool[g->next];
	struct exporter_state *x = &g->ex[pd->exp];
	uint8_t *p;
	uint32_t secs = (uint32_t)(now / 1000);

	if (g->start_ms == 0)
		g->start_ms = now;
	memset(d, 0, sizeof(*d));
	if (x->tpl != NULL && x->since_tpl >= g->o.tpl_every) {
		/* Template refresh for this exporter before its data. */
		p = x->tpl;
		if (g->o.proto == FG_V9) {
			put_be32(p + 8, secs);
			put_be32(p + 12, x->seq++);
		} else {
			put_be32(p + 4, secs);
			put_be32(p + 8, x->seq);
		}
		x->since_tpl = 0;
		d->buf = p;
		d->len = x->tpl_len;
		d->t.packets = 1;
		d->t.tpl_packets = 1;
		d->t.octets = x->tpl_len;
		return;
	}
	p = g->mem + pd->off;
	switch (g->o.proto) {
	case FG_V5:
		put_be32(p + 8, secs);
		put_be32(p + 12, (uint32_t)(now % 1000) * 1000000u);
		put_be32(p + 16, x->seq);
		x->seq += (uint32_t)pd->t.flows;
		break;
	case FG_V9:
		put_be32(p + 8, secs);
		put_be32(p + 12, x->seq++);
		break;
	case FG_IPFIX:
		put_be32(p + 4, secs);
		put_be32(p + 8, x->seq);
		x->seq += (uint32_t)pd->t.flows;
		break;
	case FG_SFLOW:
		put_be32(p + 16, x->seq++);
		put_be32(p + 20, (uint32_t)(UPTIME_BASE_MS +
		    (now - g->start_ms)));
		break;
	}
	x->since_tpl++;
	d->buf = p;
	d->len = pd->len;
	d->t = pd->t;
	if (++g->next == g->npool)
		g->next = 0;
}

unsigned
fg_max_batch(const fg_t *g)
{
	if (g->o.proto == FG_V9 || g->o.proto == FG_IPFIX)
		return FF_MIN(g->npool, g->o.tpl_every);
	return g->npool;
}

const fg_opts_t *
fg_opts(const fg_t *g)
{
	return &g->o;
}

double
fg_flows_per_dgram(const fg_t *g)
{
	return g->npool ? (double)g->data_flows / g->npool : 0;
}

const char *
fg_proto_name(fg_proto_t p)
{
	switch (p) {
	case FG_V5: return "v5";
	case FG_V9: return "v9";
	case FG_IPFIX: return "ipfix";
	case FG_SFLOW: return "sflow";
	}
	return "?";
}

int
fg_proto_parse(const char *s, fg_proto_t *p)
{
	static const char *names[] = { "v5", "v9", "ipfix", "sflow" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*p = (fg_proto_t)i;
			return 0;
		}
	if (strcmp(s, "v10") == 0) {
		*p = FG_IPFIX;
		return 0;
	}
	return -1;
}

void
fg_totals_add(fg_totals_t *a, const fg_totals_t *b)
{
	a->packets += b->packets;
	a->tpl_packets += b->tpl_packets;
	a->flows += b->flows;
	a->bytes += b->bytes;
	a->flow_packets += b->flow_packets;
	a->octets += b->octets;
}
