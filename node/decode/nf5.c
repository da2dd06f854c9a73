/*
 * NetFlow v5 decoder. Header 24 bytes, records 48 bytes (Cisco's
 * "NetFlow Export Datagram Format", version 5).
 */
#include "common/err.h"
#include "common/util.h"
#include "decode_int.h"

#define NF5_HDR_LEN	24
#define NF5_REC_LEN	48
#define NF5_MAX_COUNT	((65535 - NF5_HDR_LEN) / NF5_REC_LEN)

int
nf5_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink)
{
	struct exporter *e;
	uint32_t count, sys_uptime, seq, rate;
	uint64_t export_ms;
	const uint8_t *r;
	flow_bounds_t fb;

	if (len < NF5_HDR_LEN)
		return FF_ETRUNC;
	count = be16(buf + 2);
	e = exporter_get(d, addr, NULL, 5, (uint32_t)buf[20] << 8 | buf[21],
	    now_ms);
	if (e == NULL)
		return FF_ELIMIT;
	/*
	 * The count must be at least 1 and its records must be present;
	 * bytes after them (padding some exporters add) are ignored.
	 */
	if (count == 0 || count > NF5_MAX_COUNT ||
	    len < NF5_HDR_LEN + (size_t)count * NF5_REC_LEN) {
		e->st.malformed++;
		return FF_EPROTO;
	}
	rate = be16(buf + 22) & 0x3fff;
	if (rate == 0)
		rate = 1;
	sys_uptime = be32(buf + 4);
	export_ms = (uint64_t)be32(buf + 8) * 1000 + be32(buf + 12) / 1000000;
	seq = be32(buf + 16);
	exporter_seq(e, seq, count, 0);
	e->st.packets++;

	fb = flow_bounds(now_ms);
	r = buf + NF5_HDR_LEN;
	for (uint32_t i = 0; i < count; i++, r += NF5_REC_LEN) {
		store_flow_t *f = sink_next(sink);

		addr_from_v4(f->src, r);
		addr_from_v4(f->dst, r + 4);
		addr_from_v4(f->nexthop, r + 8);
		memcpy(f->exporter, addr, 16);
		f->in_if = be16(r + 12);
		f->out_if = be16(r + 14);
		f->packets = scale_sat(be32(r + 16), rate);
		f->bytes = scale_sat(be32(r + 20), rate);
		f->first_ms = uptime_to_ms(export_ms, sys_uptime, be32(r + 24));
		f->last_ms = uptime_to_ms(export_ms, sys_uptime, be32(r + 28));
		f->proto = r[38];
		if (f->proto == 1) {
			/* ICMP type/code ride in the destination port */
			f->sport = 0;
			f->dport = be16(r + 34) ? be16(r + 34) : be16(r + 32);
		} else {
			f->sport = be16(r + 32);
			f->dport = be16(r + 34);
		}
		f->tcp_flags = r[37];
		f->tos = r[39];
		f->src_as = be16(r + 40);
		f->dst_as = be16(r + 42);
		f->src_mask = r[44];
		f->dst_mask = r[45];
		f->sampling = rate;
		f->flags = STORE_FLOW_F_FROM_V5;
		flow_done(d, e, f, &fb);
	}
	e->st.flows += count;
	exporter_valid(d, e);
	return (int)count;
}
