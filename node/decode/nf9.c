/*
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoder: walks the sets of an
 * export packet, hands template records to the template cache, runs the
 * compiled field programs over data records, applies sampling from
 * options records, and holds data that arrived before its template.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "packet.h"
#include "template.h"

#define NF9_HDR_LEN	20
#define IPFIX_HDR_LEN	16

/* What decoding one packet (or one held set) needs to know. */
struct pkt {
	decoder_t *d;
	struct exporter *e;
	struct nf9_state *s;
	flow_sink_t *sink;
	uint64_t now_ms;
	flow_bounds_t fb;	/* flow_clamp()'s, for now_ms */
	uint64_t export_ms;
	uint32_t sys_uptime;
	unsigned version;
	uint8_t flow_flags;	/* STORE_FLOW_F_FROM_V9 or _IPFIX */
	unsigned flows;		/* flow records produced */
	unsigned records;	/* data records read from this packet */
	int unknown;		/* a set could not be decoded */
};

/* Values of a record that need more than a store into the flow. */
struct rec {
	uint64_t first;
	uint64_t last;
	uint64_t sysinit;
	uint64_t sampler_id;
	uint64_t samp_interval;
	uint64_t samp_pkt_interval;
	uint64_t samp_pkt_space;
	uint64_t samp_size;
	uint64_t samp_population;
	uint16_t icmp_tc;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t src_mask6;	/* TPL_F_MASK6 */
	uint8_t dst_mask6;
	uint8_t has_sta;	/* TPL_F_STA: the station is in f->src */
	uint8_t direction;	/* flowDirection: 0 ingress, 1 egress */
	/* no more: 80 bytes are zeroed with vector stores, 88 with a
	   "rep stosq" per record (-15% on bench_decode v9 and IPFIX) */
};

static void
count_malformed(struct pkt *k)
{
	k->e->st.malformed++;
	k->d->st.malformed++;
	k->unknown = 1;
}

/* Read an unsigned integer of 1..8 bytes (reduced-size encoding). */
static inline uint64_t
rd(const uint8_t *p, unsigned len)
{
	switch (len) {
	case 1:
		return p[0];
	case 2:
		return be16(p);
	case 4:
		return be32(p);
	case 8:
		return be64(p);
	default:
		return beN(p, len);
	}
}

static inline int
zero16(const uint8_t *p)
{
	uint64_t a, b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	return (a | b) == 0;
}

static inline uint32_t
clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* A prefix length, saturated: flow_clamp() then sees it out of range. */
static inline uint8_t
clamp8(uint64_t v)
{
	return v > UINT8_MAX ? UINT8_MAX : (uint8_t)v;
}

/* Run one step of a field program over the field at p. */
static inline void
apply(uint8_t op, const uint8_t *p, unsigned len, store_flow_t *f,
    struct rec *r)
{
	uint64_t v;

	switch (op) {
	case OP_SKIP:
		break;
	case OP_BYTES:
		f->bytes = rd(p, len);
		break;
	case OP_PACKETS:
		f->packets = rd(p, len);
		break;
	case OP_PROTO:
		f->proto = (uint8_t)rd(p, len);
		break;
	case OP_TOS:
		f->tos = (uint8_t)rd(p, len);
		break;
	case OP_TCP_FLAGS:
		f->tcp_flags = (uint8_t)rd(p, len);
		break;
	case OP_SPORT:
		f->sport = (uint16_t)rd(p, len);
		break;
	case OP_DPORT:
		f->dport = (uint16_t)rd(p, len);
		break;
	case OP_SRC4_NZ:
		if (be32(p) == 0)
			break;
		/* FALLTHROUGH */
	case OP_SRC4:
		addr_from_v4(f->src, p);
		break;
	case OP_DST4_NZ:
		if (be32(p) == 0)
			break;
		/* FALLTHROUGH */
	case OP_DST4:
		addr_from_v4(f->dst, p);
		break;
	case OP_SRC6_NZ:
		if (zero16(p))
			break;
		/* FALLTHROUGH */
	case OP_SRC6:
		memcpy(f->src, p, 16);
		f->flags |= STORE_FLOW_F_V6;
		break;
	case OP_DST6_NZ:
		if (zero16(p))
			break;
		/* FALLTHROUGH */
	case OP_DST6:
		memcpy(f->dst, p, 16);
		f->flags |= STORE_FLOW_F_V6;
		break;
	case OP_NH4:
		if (be32(p) != 0)
			addr_from_v4(f->nexthop, p);
		break;
	case OP_NH6:
		if (!zero16(p))
			memcpy(f->nexthop, p, 16);
		break;
	case OP_SRC_MASK:
		if ((v = rd(p, len)) != 0)
			f->src_mask = clamp8(v);
		break;
	case OP_DST_MASK:
		if ((v = rd(p, len)) != 0)
			f->dst_mask = clamp8(v);
		break;
	case OP_SRC_MASK6:
		r->src_mask6 = clamp8(rd(p, len));
		break;
	case OP_DST_MASK6:
		r->dst_mask6 = clamp8(rd(p, len));
		break;
	case OP_STA4:
		/* the template has no other address (TPL_F_STA): finish_rare()
		   moves it to dst for egress records */
		addr_from_v4(f->src, p);
		r->has_sta = 1;
		break;
	case OP_DIRECTION:
		r->direction = (uint8_t)rd(p, len);
		break;
	case OP_IN_IF:
		f->in_if = clamp32(rd(p, len));
		break;
	case OP_OUT_IF:
		f->out_if = clamp32(rd(p, len));
		break;
	case OP_SRC_AS:
		f->src_as = clamp32(rd(p, len));
		break;
	case OP_DST_AS:
		f->dst_as = clamp32(rd(p, len));
		break;
	case OP_FIRST:
		r->first = rd(p, len);
		break;
	case OP_LAST:
		r->last = rd(p, len);
		break;
	case OP_ICMP_TC:
		r->icmp_tc = (uint16_t)rd(p, len);
		break;
	case OP_ICMP_TYPE:
		r->icmp_type = (uint8_t)rd(p, len);
		break;
	case OP_ICMP_CODE:
		r->icmp_code = (uint8_t)rd(p, len);
		break;
	case OP_SYSINIT:
		r->sysinit = rd(p, len);
		break;
	case OP_SAMP_INTERVAL:
		r->samp_interval = rd(p, len);
		break;
	case OP_SAMP_PKT_INTERVAL:
		r->samp_pkt_interval = rd(p, len);
		break;
	case OP_SAMP_PKT_SPACE:
		r->samp_pkt_space = rd(p, len);
		break;
	case OP_SAMP_SIZE:
		r->samp_size = rd(p, len);
		break;
	case OP_SAMP_POPULATION:
		r->samp_population = rd(p, len);
		break;
	case OP_SAMPLER_ID:
		r->sampler_id = rd(p, len);
		break;
	case OP_SECTION:	/* run_var() takes it */
		break;
	}
}

/*
 * Fill the fields of f that template t leaves to its packet section: the
 * len bytes at p, a captured packet of link type t->sect_link. A section
 * that holds no IP header fills nothing. Counters (SECT_F_COUNTERS): the
 * record reports this one packet, so packets = 1 and bytes = its IP
 * length (IPv4 total length, IPv6 payload length + 40) as the header
 * states it, or, when that length is not usable (0 for TSO, an IPv6
 * jumbogram), the bytes of it the section holds.
 */
static void
section(const struct tpl *t, store_flow_t *f, const uint8_t *p, size_t len)
{
	pkt_info_t pi;
	uint8_t fill = t->sect_fill;

	if (packet_parse(p, len, (enum pkt_link)t->sect_link, &pi) != 0)
		return;
	if (fill & SECT_F_SRC) {
		memcpy(f->src, pi.src, 16);
		f->flags &= (uint8_t)~STORE_FLOW_F_NO_SRC;
	}
	if (fill & SECT_F_DST) {
		memcpy(f->dst, pi.dst, 16);
		f->flags &= (uint8_t)~STORE_FLOW_F_NO_DST;
	}
	if ((fill & (SECT_F_SRC | SECT_F_DST)) && pi.is_v6)
		f->flags |= STORE_FLOW_F_V6;
	if (fill & SECT_F_PROTO)
		f->proto = pi.proto;
	/* for ICMP: sport 0, dport type * 256 + code, as finish() wants */
	if (fill & SECT_F_SPORT)
		f->sport = pi.sport;
	if (fill & SECT_F_DPORT)
		f->dport = pi.dport;
	if (fill & SECT_F_TOS)
		f->tos = pi.tos;
	if (fill & SECT_F_TCP_FLAGS)
		f->tcp_flags = pi.tcp_flags;
	if (fill & SECT_F_COUNTERS) {
		f->packets = 1;
		if (pi.ip_len >= (pi.is_v6 ? 41u : 20u))
			f->bytes = pi.ip_len;
		else if (pi.l3 != NULL)
			f->bytes = (uint64_t)(len - (size_t)(pi.l3 - p));
	}
}

/*
 * Run the program of a variable-length template over the record at p,
 * which must end by end; *sect and *sect_len locate its packet section,
 * if it has one. Returns the position after it, or NULL when a field runs
 * past end.
 */
static const uint8_t *
run_var(const struct tpl *t, const uint8_t *p, const uint8_t *end,
    store_flow_t *f, struct rec *r, const uint8_t **sect, size_t *sect_len)
{
	for (unsigned i = 0; i < t->nops; i++) {
		const struct tpl_op *o = &t->ops[i];
		size_t l = o->len;

		if (l == TPL_VARLEN) {
			if (p >= end)
				return NULL;
			l = *p++;
			if (l == 255) {
				if (end - p < 2)
					return NULL;
				l = be16(p);
				p += 2;
			}
		}
		if ((size_t)(end - p) < l)
			return NULL;
		if (o->op == OP_SECTION) {
			*sect = p;
			*sect_len = l;
		} else if (o->op != OP_SKIP)
			apply(o->op, p, (unsigned)l, f, r);
		p += l;
	}
	return p;
}

/* A time field's value in ms since the epoch, 0 when unknown. */
static uint64_t
time_ms(const struct pkt *k, uint8_t kind, uint64_t v, const struct rec *r,
    const struct tpl *t)
{
	uint64_t init;

	switch (kind) {
	case TK_UPTIME:
		if (k->version == 9)
			return uptime_to_ms(k->export_ms, k->sys_uptime,
			    (uint32_t)v);
		/* IPFIX has no sysUptime: count from systemInitTime */
		init = (t->flags & TPL_F_SYSINIT) && r->sysinit ? r->sysinit :
		    k->s->sys_init_ms;
		return init ? init + v : 0;
	case TK_SEC:
		return v * 1000;
	case TK_MS:
		return v;
	case TK_NTP:
		return ntp_to_ms(v);
	case TK_DELTA_US:
		v /= 1000;
		return v < k->export_ms ? k->export_ms - v : 0;
	}
	return 0;
}

/*
 * The sampling rate that record r states by itself: 0 when it states
 * none, -1 when the rate is absurd.
 */
static int64_t
record_rate(const decoder_t *d, const struct tpl *t, const struct rec *r)
{
	uint64_t rate;

	if ((t->flags & TPL_F_POP_RATE) && r->samp_size != 0) {
		/* n-out-of-N (RFC 5477): population / size */
		rate = r->samp_population / r->samp_size;
		if (rate == 0)
			return -1;
	} else if (t->flags & TPL_F_PKT_RATE) {
		if (r->samp_pkt_interval == 0)
			return -1;
		rate = (r->samp_pkt_interval + r->samp_pkt_space) /
		    r->samp_pkt_interval;
	} else if (t->flags & TPL_F_RATE)
		rate = r->samp_interval ? r->samp_interval : 1;
	else
		return 0;
	if (rate > d->opts.max_sampling)
		return -1;
	return (int64_t)rate;
}

/*
 * What only some templates need: IPv6 prefix lengths for IPv6 flows (an
 * IPv4 flow keeps those of sourceIPv4PrefixLength and its kin), and the
 * station address of a template without any other (Cisco WLC): the
 * client is the source of what the access point received from it
 * (flowDirection ingress, or no direction) and the destination of what
 * it sent to it (egress).
 */
static void
finish_rare(const struct tpl *t, store_flow_t *f, const struct rec *r)
{
	if ((t->flags & TPL_F_MASK6) && (f->flags & STORE_FLOW_F_V6)) {
		f->src_mask = r->src_mask6;
		f->dst_mask = r->dst_mask6;
	}
	if ((t->flags & TPL_F_STA) && r->has_sta) {
		if (r->direction == 1) {
			memcpy(f->dst, f->src, 16);
			memset(f->src, 0, 16);
			f->flags &= (uint8_t)~STORE_FLOW_F_NO_DST;
		} else
			f->flags &= (uint8_t)~STORE_FLOW_F_NO_SRC;
	}
}

/* Complete a flow record after its fields were stored. */
static void
finish(struct pkt *k, const struct tpl *t, store_flow_t *f,
    const struct rec *r)
{
	uint32_t rate;

	f->first_ms = t->start_kind ? time_ms(k, t->start_kind, r->first, r,
	    t) : 0;
	f->last_ms = t->end_kind ? time_ms(k, t->end_kind, r->last, r, t) : 0;
	if (f->first_ms == 0)
		f->first_ms = f->last_ms ? f->last_ms : k->export_ms;
	if (f->last_ms == 0)
		f->last_ms = f->first_ms;

	if (f->proto == 1 || f->proto == 58) {
		if (t->flags & TPL_F_ICMP_TC)
			f->dport = r->icmp_tc;
		else if (t->flags & TPL_F_ICMP_SEP)
			f->dport = (uint16_t)(r->icmp_type << 8 | r->icmp_code);
		else if (f->dport == 0)
			f->dport = f->sport;
		f->sport = 0;
	}

	rate = k->s->default_rate;
	if (t->flags & TPL_F_SAMPLER)
		rate = sampler_rate(k->s, 1, r->sampler_id);
	if (t->flags & TPL_F_ANY_RATE) {
		int64_t rr = record_rate(k->d, t, r);

		if (rr < 0)
			k->e->st.sampling_bad++;
		else if (rr > 0)
			rate = (uint32_t)rr;
	}
	if (rate > 1) {
		f->bytes = scale_sat(f->bytes, rate);
		f->packets = scale_sat(f->packets, rate);
	} else
		rate = 1;
	f->sampling = rate;
	memcpy(f->exporter, k->e->addr, 16);
	f->flags |= k->flow_flags;
	if (__builtin_expect(t->flags & (TPL_F_MASK6 | TPL_F_STA), 0))
		finish_rare(t, f, r);
	flow_done(k->d, k->e, f, &k->fb);
}

/* Learn sampling and clock facts from an options data record. */
static void
options_record(struct pkt *k, const struct tpl *t, const struct rec *r)
{
	int64_t rate;
	int rc;

	k->e->st.options_records++;
	if ((t->flags & TPL_F_SYSINIT) && r->sysinit != 0 &&
	    k->s->sys_init_ms != r->sysinit) {
		k->s->sys_init_ms = r->sysinit;
		k->d->templates_dirty = 1;
	}
	if (!(t->flags & TPL_F_ANY_RATE))
		return;
	if ((rate = record_rate(k->d, t, r)) <= 0) {
		k->e->st.sampling_bad++;
		return;
	}
	rc = sampler_set(k->s, !!(t->flags & TPL_F_SAMPLER), r->sampler_id,
	    (uint32_t)rate);
	if (rc == 1)
		k->d->templates_dirty = 1;
	else if (rc < 0)
		k->e->st.sampling_bad++;
}

/*
 * Decode n records of fixed-length template t (not an options template)
 * at p. with_sect is a constant at each call: the records' packet
 * section at t->sect_off is parsed only in the copy that has one.
 */
static inline __attribute__((always_inline)) void
run_fixed(struct pkt *k, const struct tpl *t, const uint8_t *p, size_t n,
    int with_sect)
{
	const struct tpl_op *o, *oend = t->ops + t->nops;
	store_flow_t *f;
	struct rec r;

	for (size_t i = 0; i < n; i++, p += t->rec_len) {
		f = sink_next(k->sink);
		memset(&r, 0, sizeof(r));
		for (o = t->ops; o < oend; o++)
			apply(o->op, p + o->off, o->len, f, &r);
		/* after the fields (no field op sets these bits): a store
		 * right after sink_next()'s zeroing turns it into rep stosq */
		f->flags |= TPL_ABSENT(t);
		if (with_sect)
			section(t, f, p + t->sect_off, t->sect_len);
		finish(k, t, f, &r);
	}
}

/*
 * Decode the records of a data set body (p, len) with template t.
 * Returns 0, or -1 when a record was malformed (counted; the records
 * before it were decoded).
 */
static int
decode_set(struct pkt *k, const struct tpl *t, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	store_flow_t tmp, *f;
	struct rec r;

	if ((t->flags & (TPL_F_FIXED | TPL_F_OPTIONS)) == TPL_F_FIXED) {
		/* fast path: fixed offsets; what is left over is padding */
		size_t n = len / t->rec_len;

		/* two copies of the loop: none tests for a section per record */
		if (t->sect_link == 0)
			run_fixed(k, t, p, n, 0);
		else
			run_fixed(k, t, p, n, 1);
		k->flows += (unsigned)n;
		k->records += (unsigned)n;
		k->e->st.flows += n;
		return 0;
	}
	while ((size_t)(end - p) >= t->rec_len) {
		const uint8_t *next, *sect = NULL;
		size_t sect_len = 0;

		memset(&tmp, 0, sizeof(tmp));
		tmp.flags = TPL_ABSENT(t);
		memset(&r, 0, sizeof(r));
		if (t->flags & TPL_F_FIXED) {
			for (unsigned i = 0; i < t->nops; i++)
				apply(t->ops[i].op, p + t->ops[i].off,
				    t->ops[i].len, &tmp, &r);
			next = p + t->rec_len;
		} else if ((next = run_var(t, p, end, &tmp, &r, &sect,
		    &sect_len)) == NULL) {
			size_t i;

			for (i = 0; p + i < end && p[i] == 0; i++)
				;
			if (p + i == end)
				return 0;	/* zero padding */
			count_malformed(k);
			return -1;
		}
		p = next;
		k->records++;
		if (t->flags & TPL_F_OPTIONS) {
			options_record(k, t, &r);
			continue;
		}
		f = sink_next(k->sink);
		*f = tmp;
		if (sect != NULL)
			section(t, f, sect, sect_len);
		finish(k, t, f, &r);
		k->flows++;
		k->e->st.flows++;
	}
	return 0;
}

/* Carry a change of one exporter's held bytes into the decoder total. */
static void
held_account(decoder_t *d, size_t before, size_t after)
{
	d->held_total = d->held_total - before + after;
}

/* Decode the held data sets (a detached list) now that they can be. */
static void
replay(struct pkt *k, struct held *h)
{
	struct held *next;

	for (; h != NULL; h = next) {
		struct pkt hk = *k;
		const struct tpl *t;

		next = h->next;
		hk.export_ms = h->export_ms;
		hk.sys_uptime = h->sys_uptime;
		hk.flows = 0;
		if ((t = tpl_find(k->s, h->set_id)) != NULL) {
			decode_set(&hk, t, h->data, h->len);
			k->e->st.held_replayed++;
			k->flows += hk.flows;
		} else
			k->e->st.no_template_dropped++;
		free(h);
	}
}

/* A data set (or options data set) body with set id sid. */
static void
data_set(struct pkt *k, uint16_t sid, const uint8_t *p, size_t len)
{
	const struct tpl *t;
	size_t before;
	int rc;

	k->s->used_ms = k->now_ms;	/* the LRU touch: one store */
	if ((t = tpl_find(k->s, sid)) != NULL) {
		decode_set(k, t, p, len);
		return;
	}
	k->e->st.no_template++;
	k->unknown = 1;
	if (k->d->opts.hold_unknown < 0) {
		k->e->st.no_template_dropped++;
		return;
	}
	/* the per-exporter bound is hold_push's; this is the global one */
	if (k->d->held_total + len > k->d->opts.hold_max_total) {
		k->e->st.no_template_dropped++;
		return;
	}
	before = k->s->hold_bytes;
	rc = hold_push(k->s, k->d->opts.hold_max_bytes, sid, p, len,
	    k->now_ms, k->export_ms, k->sys_uptime);
	held_account(k->d, before, k->s->hold_bytes);
	if (rc < 0)
		k->e->st.no_template_dropped++;
	else
		k->e->st.no_template_dropped += (unsigned)rc;
}

/*
 * A template set (options = 0) or options template set body. Returns 0,
 * or -1 after a malformed record that ends the set (counted).
 */
static int
template_set(struct pkt *k, int options, const uint8_t *p, size_t len)
{
	while (len >= 4) {
		size_t used;
		uint16_t id;
		int rc;

		rc = tpl_record(k->s, k->version, options, p, len, k->now_ms,
		    &used, &id);
		switch (rc) {
		case TPL_END:
			return 0;
		case TPL_BAD:
			count_malformed(k);
			break;
		case TPL_REFUSED:
			/* no room: counted by the cache; data will wait */
			break;
		case TPL_ADDED:
			k->d->templates_dirty = 1;
			/* FALLTHROUGH */
		case TPL_REFRESHED:
			k->e->st.templates++;
			exporter_valid(k->d, k->e);
			size_t before = k->s->hold_bytes;

			replay(k, hold_take(k->s, id));
			held_account(k->d, before, k->s->hold_bytes);
			break;
		case TPL_WITHDRAWN:
		case TPL_WITHDRAWN_ALL:
			k->e->st.templates_withdrawn++;
			k->d->templates_dirty = 1;
			break;
		default:
			/* FF_EPROTO, FF_ENOMEM: the rest is unreadable */
			count_malformed(k);
			return -1;
		}
		p += used;
		len -= used;
	}
	return 0;
}

int
nf9_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink)
{
	struct pkt k;
	uint32_t seq, domain;
	size_t off, end;
	unsigned tset, oset;

	memset(&k, 0, sizeof(k));
	k.d = d;
	k.sink = sink;
	k.now_ms = now_ms;
	k.fb = flow_bounds(now_ms);
	k.version = be16(buf);
	if (k.version == 9) {
		if (len < NF9_HDR_LEN)
			return FF_ETRUNC;
		k.sys_uptime = be32(buf + 4);
		k.export_ms = (uint64_t)be32(buf + 8) * 1000;
		seq = be32(buf + 12);
		domain = be32(buf + 16);
		off = NF9_HDR_LEN;
		end = len;
		k.flow_flags = STORE_FLOW_F_FROM_V9;
		tset = 0;
		oset = 1;
	} else {
		if (len < IPFIX_HDR_LEN)
			return FF_ETRUNC;
		k.export_ms = (uint64_t)be32(buf + 4) * 1000;
		seq = be32(buf + 8);
		domain = be32(buf + 12);
		off = IPFIX_HDR_LEN;
		end = be16(buf + 2);	/* message length; the rest is ignored */
		k.flow_flags = STORE_FLOW_F_FROM_IPFIX;
		tset = 2;
		oset = 3;
	}
	if ((k.e = exporter_get(d, addr, NULL, k.version, domain,
	    now_ms)) == NULL)
		return FF_ELIMIT;
	if (k.version == 10 && (end < IPFIX_HDR_LEN || end > len)) {
		k.e->st.malformed++;
		return end > len ? FF_ETRUNC : FF_EPROTO;
	}
	if ((k.s = nf9_state_get(d, k.e)) == NULL)
		return FF_ENOMEM;
	k.e->st.packets++;
	/* Held sets past the hold time are dropped before this packet's
	 * templates could replay them: the hold time is measured in the
	 * packets' own clock (capture time offline), not only at ticks. */
	if (k.s->hold_head != NULL && now_ms > d->opts.hold_max_ms) {
		size_t before = k.s->hold_bytes;

		k.e->st.no_template_dropped += hold_expire(k.s,
		    now_ms - d->opts.hold_max_ms);
		held_account(d, before, k.s->hold_bytes);
	}

	while (end - off >= 4) {
		const uint8_t *p = buf + off;
		uint16_t sid = be16(p);
		size_t slen = be16(p + 2);

		if (slen < 4 || slen > end - off) {
			/* a zero-filled tail is padding, anything else is not */
			if (!all_zero(p, end - off))
				count_malformed(&k);
			break;
		}
		if (sid == tset)
			template_set(&k, 0, p + 4, slen - 4);
		else if (sid == oset)
			template_set(&k, 1, p + 4, slen - 4);
		else if (sid >= 256)
			data_set(&k, sid, p + 4, slen - 4);
		off += slen;
	}

	if (k.version == 9)
		exporter_seq(k.e, seq, 1, 0);
	else
		exporter_seq(k.e, seq, k.records, k.unknown);
	if (k.flows > 0)
		exporter_valid(d, k.e);
	return (int)k.flows;
}

void
nf9_tick(decoder_t *d, struct exporter *e, uint64_t now_ms,
    flow_sink_t *sink)
{
	struct nf9_state *s = e->proto;
	struct pkt k;
	size_t before;

	if (s == NULL || s->hold_head == NULL)
		return;
	/* templates may have come by other ways (an import) */
	memset(&k, 0, sizeof(k));
	k.d = d;
	k.e = e;
	k.s = s;
	k.sink = sink;
	k.now_ms = now_ms;
	k.fb = flow_bounds(now_ms);
	k.version = e->version;
	k.flow_flags = e->version == 9 ? STORE_FLOW_F_FROM_V9 :
	    STORE_FLOW_F_FROM_IPFIX;
	before = s->hold_bytes;
	replay(&k, hold_take_known(s));
	d->st.flows += k.flows;
	if (k.flows > 0)
		exporter_valid(d, e);
	if (now_ms > d->opts.hold_max_ms)
		e->st.no_template_dropped += hold_expire(s,
		    now_ms - d->opts.hold_max_ms);
	held_account(d, before, s->hold_bytes);
}

void
nf9_drop_held(decoder_t *d, struct exporter *e)
{
	struct nf9_state *s = e->proto;
	size_t before;

	if (s == NULL)
		return;
	before = s->hold_bytes;
	e->st.no_template_dropped += hold_clear(s);
	held_account(d, before, s->hold_bytes);
}

void
nf9_exporter_free(struct exporter *e)
{
	nf9_state_free(e->proto);
	e->proto = NULL;
}
