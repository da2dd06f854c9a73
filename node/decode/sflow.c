/*
 * sFlow version 5 decoder (sflow.org, "sFlow Version 5", July 2004).
 *
 * A datagram is XDR: a header (version, agent address, sub-agent id,
 * sequence number, uptime) and a list of samples, each tagged with a data
 * format (enterprise << 12 | format) and a length. Flow samples (0:1) and
 * expanded flow samples (0:3) carry flow records, of which we use the
 * raw packet header (0:1), Ethernet frame data (0:2), IPv4 data (0:3),
 * IPv6 data (0:4), extended switch (0:1001), extended router (0:1002) and
 * extended gateway (0:1003). Counter samples (0:2, 0:4) are walked and
 * counted. Everything else is skipped by its length.
 *
 * Every flow sample gives exactly one flow record:
 *   - first_ms = last_ms = the time the datagram was received;
 *   - packets = sampling rate; bytes = layer 3 length of the sampled
 *     packet times the sampling rate (see sf_fill());
 *   - addresses, ports, protocol, ToS and TCP flags from the raw header
 *     when it holds IP, otherwise from an IPv4/IPv6 data record (whose
 *     port fields carry the ICMP type and code for ICMP);
 *   - interfaces: only plain ifIndex values; "discarded", "multiple
 *     interfaces" and the "internal to the agent" value (0x3FFFFFFF
 *     compact, 0xFFFFFFFF or 0x3FFFFFFF expanded) become 0, as akvorado
 *     does: 0 is "unknown" in the flow record;
 *   - next hop from the extended router record, else the BGP next hop of
 *     the extended gateway record; masks from the router record; source
 *     AS as the gateway reports it, destination AS the last AS of its
 *     destination AS path (0 when the path is empty);
 *   - a sample without IP (no IP raw header, no IPv4/IPv6 data) has no
 *     addresses, one without router or gateway record no next hop: the
 *     record says so (STORE_FLOW_F_NO_SRC, _NO_DST, _NO_NH);
 *   - prefix lengths out of their family's range are unknown (0; the
 *     clamp step, decode_int.h flow_clamp, counts them in "clamped").
 *
 * The exporter's packets counter counts datagrams whose header was
 * valid; sequence numbers count datagrams (exporter_seq advance 1).
 *
 * The exporter is (UDP source address, sFlow, agent address, sub-agent
 * id): agents behind one relay arrive from one address, often all with
 * sub-agent 0, and keyed by the source alone they would merge into one
 * sequence stream full of false gaps. The exporter of the flow records
 * (what the "router" filter field matches, the EXPORTER column) is the
 * UDP source, as for the other protocols; the agent address is in the
 * exporter's counters (agent), for the displays.
 *
 * Errors. A datagram too short to name its sub-agent is counted only in
 * the decoder's global malformed counter. A header that is inconsistent
 * (sample count beyond what the datagram can hold) rejects the datagram.
 * A malformed sample (lengths or counts past their container) stops the
 * datagram there: the flows of the samples before it are kept, and the
 * datagram counts once as malformed, on the exporter and globally.
 * Samples with a sampling rate of 0 or above the configured maximum are
 * counted in sampling_bad and dropped; the datagram goes on.
 */
#include "common/err.h"
#include "common/util.h"
#include "decode_int.h"
#include "packet.h"

#define SF_ADDR_UNKNOWN	0
#define SF_ADDR_IP4	1
#define SF_ADDR_IP6	2

/* Sample formats (enterprise 0). */
#define SF_FLOW_SAMPLE		1
#define SF_COUNTER_SAMPLE	2
#define SF_FLOW_SAMPLE_EXP	3
#define SF_COUNTER_SAMPLE_EXP	4

/* Flow record formats (enterprise 0). */
#define SF_REC_RAW_HEADER	1
#define SF_REC_ETHERNET		2
#define SF_REC_IPV4		3
#define SF_REC_IPV6		4
#define SF_REC_EXT_SWITCH	1001
#define SF_REC_EXT_ROUTER	1002
#define SF_REC_EXT_GATEWAY	1003

/* Raw header protocols we parse. */
#define SF_HDR_ETHERNET		1
#define SF_HDR_IPV4		11
#define SF_HDR_IPV6		12

#define SF_IF_FMT_IFINDEX	0
/* Interface value of the agent itself: compact, then expanded format. */
#define SF_IF_LOCAL		0x3fffffffu
#define SF_IF_LOCAL_EXP		0xffffffffu

#define SF_ETH_HDR_LEN		14
#define SF_ETH_FCS_LEN		4

static const store_flow_t sf_zero_flow;

/* A bounded XDR reader over one container (datagram, sample, record). */
struct xdr {
	const uint8_t *p;
	size_t n;		/* bytes left */
};

static int
xdr_u32(struct xdr *x, uint32_t *v)
{
	if (x->n < 4)
		return -1;
	*v = be32(x->p);
	x->p += 4;
	x->n -= 4;
	return 0;
}

static int
xdr_skip(struct xdr *x, size_t len)
{
	if (x->n < len)
		return -1;
	x->p += len;
	x->n -= len;
	return 0;
}

/*
 * Take an opaque of len bytes (padded to 4 as XDR requires) from x into
 * sub. Returns -1 when it does not fit.
 */
static int
xdr_opaque(struct xdr *x, uint32_t len, struct xdr *sub)
{
	size_t padded = ((size_t)len + 3) & ~(size_t)3;

	if (x->n < padded)
		return -1;
	sub->p = x->p;
	sub->n = len;
	x->p += padded;
	x->n -= padded;
	return 0;
}

/*
 * Read an sFlow address (type, then 0, 4 or 16 bytes) into a (16 bytes,
 * IPv4-mapped; all zero for the unknown type). Returns 0, -1 if cut
 * short, -2 for an unknown address type.
 */
static int
xdr_address(struct xdr *x, uint8_t a[16])
{
	uint32_t type;

	if (xdr_u32(x, &type) == -1)
		return -1;
	switch (type) {
	case SF_ADDR_UNKNOWN:
		memset(a, 0, 16);
		return 0;
	case SF_ADDR_IP4:
		if (x->n < 4)
			return -1;
		addr_from_v4(a, x->p);
		return xdr_skip(x, 4);
	case SF_ADDR_IP6:
		if (x->n < 16)
			return -1;
		memcpy(a, x->p, 16);
		return xdr_skip(x, 16);
	}
	return -2;
}

/*
 * What the records of one flow sample told us. Not zeroed as a whole
 * (sf_flow_sample() sets the flags and defaults): hdr, eth_len,
 * router_nh and gw_nh are valid only when their has_ flag is set.
 */
struct sf_sample {
	uint32_t rate;
	uint32_t in_if, out_if;
	/* raw packet header (0:1), if any */
	int has_hdr;
	uint32_t hdr_proto, frame_len, stripped;
	struct xdr hdr;
	/* IPv4/IPv6 data (0:3, 0:4), if any: points at the record body */
	const uint8_t *ip4;
	const uint8_t *ip6;
	/* Ethernet frame data (0:2): frame length */
	int has_eth;
	uint32_t eth_len;
	/* extended router / gateway */
	int has_router_nh, has_gw_nh;
	uint8_t router_nh[16], gw_nh[16];
	uint8_t src_mask, dst_mask;
	uint32_t src_as, dst_as;
};

/*
 * Interface value of a sample: the ifIndex for format 0, else 0 (packet
 * discarded, multiple output interfaces, or the agent itself).
 */
static uint32_t
sf_ifindex(uint32_t format, uint32_t value, uint32_t local)
{
	if (format != SF_IF_FMT_IFINDEX || value == local ||
	    value == SF_IF_LOCAL)
		return 0;
	return value;
}

/* Extended gateway (0:1003). Returns -1 if malformed. */
static int
sf_gateway(struct xdr *r, struct sf_sample *s)
{
	uint32_t v, nseg, nas, ncomm, last = 0;
	int have_last = 0;

	if (xdr_address(r, s->gw_nh) != 0)
		return -1;
	s->has_gw_nh = 1;
	if (xdr_u32(r, &v) == -1)		/* the router's own AS */
		return -1;
	if (xdr_u32(r, &s->src_as) == -1)
		return -1;
	if (xdr_u32(r, &v) == -1)		/* source peer AS */
		return -1;
	if (xdr_u32(r, &nseg) == -1 || nseg > r->n / 8)
		return -1;
	for (uint32_t i = 0; i < nseg; i++) {
		if (xdr_u32(r, &v) == -1)	/* segment type: set/seq */
			return -1;
		if (xdr_u32(r, &nas) == -1 || nas > r->n / 4)
			return -1;
		if (nas > 0) {
			last = be32(r->p + ((size_t)nas - 1) * 4);
			have_last = 1;
		}
		r->p += (size_t)nas * 4;
		r->n -= (size_t)nas * 4;
	}
	if (xdr_u32(r, &ncomm) == -1 || xdr_skip(r, (size_t)ncomm * 4) == -1)
		return -1;
	if (xdr_u32(r, &v) == -1)		/* local preference */
		return -1;
	s->dst_as = have_last ? last : 0;
	return 0;
}

/*
 * Walk the flow records of a flow sample into s. Returns -1 if a record
 * is malformed.
 */
static int
sf_flow_records(struct xdr *x, struct sf_sample *s)
{
	uint32_t nrec, fmt, rlen, v;
	struct xdr r;

	if (xdr_u32(x, &nrec) == -1 || nrec > x->n / 8)
		return -1;
	for (uint32_t i = 0; i < nrec; i++) {
		if (xdr_u32(x, &fmt) == -1 || xdr_u32(x, &rlen) == -1 ||
		    xdr_opaque(x, rlen, &r) == -1)
			return -1;
		if (fmt >> 12 != 0)
			continue;	/* enterprise-specific: skip */
		switch (fmt & 0xfff) {
		case SF_REC_RAW_HEADER:
			if (xdr_u32(&r, &s->hdr_proto) == -1 ||
			    xdr_u32(&r, &s->frame_len) == -1 ||
			    xdr_u32(&r, &s->stripped) == -1 ||
			    xdr_u32(&r, &v) == -1 ||
			    xdr_opaque(&r, v, &s->hdr) == -1)
				return -1;
			s->has_hdr = 1;
			break;
		case SF_REC_ETHERNET:
			/* length, src MAC, dst MAC (each padded to 8), type */
			if (r.n < 24)
				return -1;
			s->eth_len = be32(r.p);
			s->has_eth = 1;
			break;
		case SF_REC_IPV4:
			/* length, protocol, src, dst, sport, dport, flags,
			   tos */
			if (r.n < 32)
				return -1;
			s->ip4 = r.p;
			break;
		case SF_REC_IPV6:
			/* length, protocol, src[16], dst[16], sport, dport,
			   flags, priority */
			if (r.n < 56)
				return -1;
			s->ip6 = r.p;
			break;
		case SF_REC_EXT_SWITCH:
			/* src vlan, src priority, dst vlan, dst priority */
			if (r.n < 16)
				return -1;
			break;
		case SF_REC_EXT_ROUTER:
			if (xdr_address(&r, s->router_nh) != 0)
				return -1;
			s->has_router_nh = 1;
			if (xdr_u32(&r, &v) == -1)
				return -1;
			/* saturated: flow_clamp() judges the range */
			s->src_mask = v <= 255 ? (uint8_t)v : 255;
			if (xdr_u32(&r, &v) == -1)
				return -1;
			s->dst_mask = v <= 255 ? (uint8_t)v : 255;
			break;
		case SF_REC_EXT_GATEWAY:
			if (sf_gateway(&r, s) == -1)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Map an sFlow ICMP type/code (carried in the port fields) to dport. */
static void
sf_ports(store_flow_t *f, uint32_t sport, uint32_t dport)
{
	if (f->proto == 1 || f->proto == 58) {
		/* agents put the ICMP type and code in the port fields */
		f->sport = 0;
		f->dport = (uint16_t)((sport & 0xff) << 8 | (dport & 0xff));
	} else {
		f->sport = (uint16_t)sport;
		f->dport = (uint16_t)dport;
	}
}

/*
 * Fill f from the sample's records. Bytes are layer 3 bytes, consistent
 * with NetFlow octet counts: the IP length of the sampled packet (IPv4
 * total length, IPv6 payload length + 40) when the raw header holds IP;
 * else the length of an IPv4/IPv6 data record; else the frame length less
 * the stripped bytes and the link headers (Ethernet frame data: less
 * header and FCS). All of it times the sampling rate.
 */
static void
sf_fill(store_flow_t *f, struct sf_sample *s)
{
	pkt_info_t pi;
	uint64_t l3 = 0;
	int ip = 0;

	if (s->has_hdr) {
		enum pkt_link link = 0;
		size_t l2 = 0;

		switch (s->hdr_proto) {
		case SF_HDR_ETHERNET:
			link = PKT_LINK_ETHER;
			l2 = SF_ETH_HDR_LEN;
			break;
		case SF_HDR_IPV4:
			link = PKT_LINK_IPV4;
			break;
		case SF_HDR_IPV6:
			link = PKT_LINK_IPV6;
			break;
		}
		if (link != 0) {
			ip = packet_parse(s->hdr.p, s->hdr.n, link, &pi) == 0;
			if (pi.l3 != NULL)
				l2 = (size_t)(pi.l3 - s->hdr.p);
		}
		if (ip) {
			memcpy(f->src, pi.src, 16);
			memcpy(f->dst, pi.dst, 16);
			f->proto = pi.proto;
			f->sport = pi.sport;
			f->dport = pi.dport;
			f->tos = pi.tos;
			f->tcp_flags = pi.tcp_flags;
			if (pi.is_v6)
				f->flags |= STORE_FLOW_F_V6;
			/* IPv4 total length below the header size (0 for
			   TSO) or IPv6 payload length 0 (jumbogram): no */
			if (pi.ip_len >= (pi.is_v6 ? 41u : 20u))
				l3 = pi.ip_len;
		}
		if (l3 == 0 && (uint64_t)s->frame_len > (uint64_t)s->stripped +
		    l2)
			l3 = s->frame_len - s->stripped - l2;
	}
	if (!ip && s->ip4 != NULL) {
		const uint8_t *r = s->ip4;

		l3 = be32(r);
		f->proto = (uint8_t)be32(r + 4);
		addr_from_v4(f->src, r + 8);
		addr_from_v4(f->dst, r + 12);
		sf_ports(f, be32(r + 16), be32(r + 20));
		f->tcp_flags = (uint8_t)be32(r + 24);
		f->tos = (uint8_t)be32(r + 28);
	} else if (!ip && s->ip6 != NULL) {
		const uint8_t *r = s->ip6;

		l3 = be32(r);
		f->proto = (uint8_t)be32(r + 4);
		memcpy(f->src, r + 8, 16);
		memcpy(f->dst, r + 24, 16);
		sf_ports(f, be32(r + 40), be32(r + 44));
		f->tcp_flags = (uint8_t)be32(r + 48);
		f->tos = (uint8_t)be32(r + 52);
		f->flags |= STORE_FLOW_F_V6;
	} else if (!ip) {
		/* no IP: the sample tells no addresses */
		f->flags |= STORE_FLOW_F_NO_SRC | STORE_FLOW_F_NO_DST;
		if (!s->has_hdr && s->has_eth &&
		    s->eth_len > SF_ETH_HDR_LEN + SF_ETH_FCS_LEN)
			l3 = s->eth_len - SF_ETH_HDR_LEN - SF_ETH_FCS_LEN;
	}

	f->packets = s->rate;
	f->bytes = scale_sat(l3, s->rate);
	f->sampling = s->rate;
	f->in_if = s->in_if;
	f->out_if = s->out_if;
	f->src_mask = s->src_mask;
	f->dst_mask = s->dst_mask;
	f->src_as = s->src_as;
	f->dst_as = s->dst_as;
	/* The router's next hop; else the BGP next hop of the gateway. */
	if (s->has_router_nh)
		memcpy(f->nexthop, s->router_nh, 16);
	else if (s->has_gw_nh)
		memcpy(f->nexthop, s->gw_nh, 16);
	else
		f->flags |= STORE_FLOW_F_NO_NH;
	f->flags |= STORE_FLOW_F_FROM_SFLOW;
}

/*
 * Decode a flow sample (expanded or not) into one flow record. Returns 1
 * if a record was produced, 0 if the sample was dropped for its sampling
 * rate, -1 if it is malformed.
 */
static int
sf_flow_sample(decoder_t *d, struct exporter *e, struct xdr *x,
    int expanded, const uint8_t addr[16], uint64_t now_ms, flow_sink_t *sink)
{
	struct sf_sample s;
	uint32_t v, in_fmt, in_val, out_fmt, out_val, local;
	store_flow_t *f;
	flow_bounds_t fb;

	/* No memset (see below): only the flags and defaults are set. */
	s.has_hdr = s.has_eth = s.has_router_nh = s.has_gw_nh = 0;
	s.ip4 = s.ip6 = NULL;
	s.src_mask = s.dst_mask = 0;
	s.src_as = s.dst_as = 0;
	/* sequence number, source id (1 word compact, 2 expanded) */
	if (xdr_skip(x, expanded ? 12 : 8) == -1 ||
	    xdr_u32(x, &s.rate) == -1 ||
	    xdr_u32(x, &v) == -1 ||		/* sample pool */
	    xdr_u32(x, &v) == -1)		/* drops */
		return -1;
	if (expanded) {
		if (xdr_u32(x, &in_fmt) == -1 || xdr_u32(x, &in_val) == -1 ||
		    xdr_u32(x, &out_fmt) == -1 || xdr_u32(x, &out_val) == -1)
			return -1;
		local = SF_IF_LOCAL_EXP;
	} else {
		if (xdr_u32(x, &in_val) == -1 || xdr_u32(x, &out_val) == -1)
			return -1;
		in_fmt = in_val >> 30;
		in_val &= 0x3fffffff;
		out_fmt = out_val >> 30;
		out_val &= 0x3fffffff;
		local = SF_IF_LOCAL;
	}
	if (s.rate == 0 || s.rate > d->opts.max_sampling) {
		e->st.sampling_bad++;
		return 0;
	}
	s.in_if = sf_ifindex(in_fmt, in_val, local);
	s.out_if = sf_ifindex(out_fmt, out_val, local);
	if (sf_flow_records(x, &s) == -1)
		return -1;
	/*
	 * sink_next(), but zeroing the record by copying a zero record:
	 * GCC turns memset() of this size into "rep stosq", which costs
	 * more than the rest of the decoding here (bench_sflow).
	 */
	if (sink->n == sink->cap)
		sink->flush(sink);
	f = &sink->flows[sink->n++];
	*f = sf_zero_flow;
	f->first_ms = f->last_ms = now_ms;
	memcpy(f->exporter, addr, 16);
	sf_fill(f, &s);
	fb = flow_bounds(now_ms);
	flow_done(d, e, f, &fb);
	return 1;
}

/* Walk a counter sample's records. Returns -1 if malformed. */
static int
sf_counter_sample(struct xdr *x, int expanded)
{
	uint32_t nrec, fmt, rlen;
	struct xdr r;

	/* sequence number, source id (1 word compact, 2 expanded) */
	if (xdr_skip(x, expanded ? 12 : 8) == -1 ||
	    xdr_u32(x, &nrec) == -1 || nrec > x->n / 8)
		return -1;
	for (uint32_t i = 0; i < nrec; i++)
		if (xdr_u32(x, &fmt) == -1 || xdr_u32(x, &rlen) == -1 ||
		    xdr_opaque(x, rlen, &r) == -1)
			return -1;
	return 0;
}

int
sflow_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink)
{
	struct xdr x = { buf, len }, s;
	struct exporter *e;
	uint32_t version, sub_agent, seq, nsamples, fmt, slen;
	uint8_t agent[16];
	int n = 0, rc;

	if (xdr_u32(&x, &version) == -1 || version != 5)
		return FF_EVERSION;
	if ((rc = xdr_address(&x, agent)) != 0)
		return rc == -1 ? FF_ETRUNC : FF_EPROTO;
	if (xdr_u32(&x, &sub_agent) == -1)
		return FF_ETRUNC;
	/* a relay may send for many agents: the agent is part of the key */
	if ((e = exporter_get(d, addr, agent, DECODER_VERSION_SFLOW,
	    sub_agent, now_ms)) == NULL)
		return FF_ELIMIT;
	/* Each sample takes at least its format and length words. */
	if (xdr_u32(&x, &seq) == -1 ||
	    xdr_skip(&x, 4) == -1 ||		/* uptime */
	    xdr_u32(&x, &nsamples) == -1 || nsamples > x.n / 8) {
		e->st.malformed++;
		return FF_EPROTO;
	}
	exporter_seq(e, seq, 1, 0);
	e->st.packets++;

	for (uint32_t i = 0; i < nsamples; i++) {
		if (xdr_u32(&x, &fmt) == -1 || xdr_u32(&x, &slen) == -1 ||
		    xdr_opaque(&x, slen, &s) == -1)
			goto malformed;
		if (fmt >> 12 != 0)
			continue;	/* enterprise-specific: skip */
		switch (fmt & 0xfff) {
		case SF_FLOW_SAMPLE:
		case SF_FLOW_SAMPLE_EXP:
			rc = sf_flow_sample(d, e, &s,
			    (fmt & 0xfff) == SF_FLOW_SAMPLE_EXP, addr, now_ms,
			    sink);
			if (rc == -1)
				goto malformed;
			n += rc;
			break;
		case SF_COUNTER_SAMPLE:
		case SF_COUNTER_SAMPLE_EXP:
			if (sf_counter_sample(&s,
			    (fmt & 0xfff) == SF_COUNTER_SAMPLE_EXP) == -1)
				goto malformed;
			e->st.counter_samples++;
			exporter_valid(d, e);
			break;
		default:
			break;
		}
	}
	e->st.flows += (uint64_t)n;
	if (n > 0)
		exporter_valid(d, e);
	return n;

malformed:
	e->st.malformed++;
	e->st.flows += (uint64_t)n;
	if (n == 0)
		return FF_EPROTO;
	exporter_valid(d, e);
	/* The caller counts globally only what it sees rejected. */
	d->st.malformed++;
	return n;
}
