/*
 * Text and JSON forms of a flow record, shared by the node's decode and
 * query commands and the controller's CLI.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "query_int.h"

const char *
query_proto_name(uint8_t p, char buf[8])
{
	switch (p) {
	case 1:   return "ICMP";
	case 2:   return "IGMP";
	case 6:   return "TCP";
	case 17:  return "UDP";
	case 41:  return "IPv6";
	case 47:  return "GRE";
	case 50:  return "ESP";
	case 51:  return "AH";
	case 58:  return "ICMP6";
	case 89:  return "OSPF";
	case 103: return "PIM";
	case 132: return "SCTP";
	}
	snprintf(buf, 8, "%u", p);
	return buf;
}

const char *
query_tcp_flags_str(uint8_t flags, char buf[9])
{
	static const char names[] = "CEUAPRSF";

	for (int i = 0; i < 8; i++)
		buf[i] = (flags & (0x80 >> i)) ? names[i] : '.';
	buf[8] = '\0';
	return buf;
}

const char *
flow_addr(const store_flow_t *f, int col, char *buf, size_t len)
{
	static const uint8_t zero[16];
	const uint8_t *a;
	uint8_t none;

	switch (col) {
	case STORE_COL_SRC:
		a = f->src;
		none = STORE_FLOW_F_NO_SRC;
		break;
	case STORE_COL_DST:
		a = f->dst;
		none = STORE_FLOW_F_NO_DST;
		break;
	default:
		a = f->nexthop;
		none = STORE_FLOW_F_NO_NH;
		break;
	}
	if (f->flags & none)
		return NULL;
	if (col == STORE_COL_NEXTHOP && !(f->flags & STORE_FLOW_F_V6) &&
	    memcmp(a, zero, 16) == 0) {
		snprintf(buf, len, "0.0.0.0");
		return buf;
	}
	return addr_fmt(a, buf, len);
}

/* "a.b.c.d:port", "[v6]:port"; "-" for no address ("-:port"). */
static void
endpoint_fmt(const store_flow_t *f, int col, uint16_t port, char *buf,
    size_t len)
{
	char ab[ADDR_STRLEN];
	const char *a = flow_addr(f, col, ab, sizeof(ab));

	if (a == NULL && port == 0)
		snprintf(buf, len, "-");
	else if (a == NULL)
		snprintf(buf, len, "-:%u", port);
	else if (strchr(a, ':') == NULL)
		snprintf(buf, len, "%s:%u", a, port);
	else
		snprintf(buf, len, "[%s]:%u", a, port);
}

/* An address as a JSON value: "text", or null for none. */
static const char *
json_addr(const store_flow_t *f, int col, char *buf, size_t len)
{
	char ab[ADDR_STRLEN];
	const char *a = flow_addr(f, col, ab, sizeof(ab));

	if (a == NULL)
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "\"%s\"", a);
	return buf;
}

/*
 * The columns listings print after their fixed fields (columns.def: list
 * 1), with where each is in a flow record.
 */
static const struct {
	const char *name;
	size_t off;
	unsigned width;
	int list;
} extra_cols[] = {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	{ #name, offsetof(store_flow_t, name), STORE_WIDTH_##type, list },
#include "store/columns.def"
#undef STORE_COLUMN
};

size_t
flow_fmt_extra(const store_flow_t *f, int form, char *buf, size_t len)
{
	size_t k = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t c = 0; c < FF_NELEM(extra_cols) && k + 1 < len; c++) {
		const uint8_t *x;
		char v[ADDR_STRLEN];
		uint64_t u = 0;
		int n;

		if (!extra_cols[c].list)
			continue;
		if (form == FLOW_EXTRA_CSV_HEADER) {
			n = snprintf(buf + k, len - k, ",%s",
			    extra_cols[c].name);
			if (n < 0)
				break;
			k += (size_t)n;
			continue;
		}
		x = (const uint8_t *)f + extra_cols[c].off;
		switch (extra_cols[c].width) {
		case 1: u = *x; break;
		case 2: { uint16_t w; memcpy(&w, x, 2); u = w; break; }
		case 4: { uint32_t w; memcpy(&w, x, 4); u = w; break; }
		case 8: memcpy(&u, x, 8); break;
		}
		if (extra_cols[c].width == 16)
			addr_fmt(x, v, sizeof(v));
		else
			snprintf(v, sizeof(v), "%" PRIu64, u);
		switch (form) {
		case FLOW_EXTRA_LINE:
			n = snprintf(buf + k, len - k, " %s %s",
			    extra_cols[c].name, v);
			break;
		case FLOW_EXTRA_JSON:
			n = snprintf(buf + k, len - k, extra_cols[c].width == 16 ?
			    ",\"%s\":\"%s\"" : ",\"%s\":%s", extra_cols[c].name, v);
			break;
		default:
			n = snprintf(buf + k, len - k, ",%s", v);
			break;
		}
		if (n < 0)
			break;
		k += (size_t)n;
	}
	return k < len ? k : (len > 0 ? len - 1 : 0);
}

static size_t
clamp(int n, size_t len)
{
	if (n < 0)
		return 0;
	return (size_t)n >= len ? len - 1 : (size_t)n;
}

size_t
query_flow_fmt_line(const store_flow_t *f, char *buf, size_t len)
{
	char tb[32], sb[64], db[64], nh[ADDR_STRLEN], ex[ADDR_STRLEN];
	char pb[8], fb[9];
	const char *nhs;
	uint64_t dur = f->last_ms >= f->first_ms ? f->last_ms - f->first_ms : 0;
	size_t k;

	time_fmt_ms(f->first_ms, tb, sizeof(tb));
	endpoint_fmt(f, STORE_COL_SRC, f->sport, sb, sizeof(sb));
	endpoint_fmt(f, STORE_COL_DST, f->dport, db, sizeof(db));
	if ((nhs = flow_addr(f, STORE_COL_NEXTHOP, nh, sizeof(nh))) == NULL)
		nhs = "-";
	k = clamp(snprintf(buf, len,
	    "%s %" PRIu64 ".%03" PRIu64 "s %-5s %s -> %s %s %" PRIu64
	    " pkts %" PRIu64 " bytes if %u->%u as %u->%u tos %u nh %s"
	    " rate %u exp %s",
	    tb, dur / 1000, dur % 1000, query_proto_name(f->proto, pb), sb, db,
	    query_tcp_flags_str(f->tcp_flags, fb), f->packets, f->bytes,
	    f->in_if, f->out_if, f->src_as, f->dst_as, f->tos, nhs,
	    f->sampling, addr_fmt(f->exporter, ex, sizeof(ex))), len);
	return k + flow_fmt_extra(f, FLOW_EXTRA_LINE, buf + k, len - k);
}

size_t
query_flow_fmt_json(const store_flow_t *f, char *buf, size_t len)
{
	char t1[32], t2[32], sa[ADDR_STRLEN + 2], da[ADDR_STRLEN + 2];
	char nh[ADDR_STRLEN + 2], ex[ADDR_STRLEN];
	size_t k;

	k = clamp(snprintf(buf, len,
	    "{\"first\":\"%s\",\"last\":\"%s\",\"first_ms\":%" PRIu64
	    ",\"last_ms\":%" PRIu64 ",\"proto\":%u,\"src\":%s,"
	    "\"dst\":%s,\"sport\":%u,\"dport\":%u,\"bytes\":%" PRIu64
	    ",\"packets\":%" PRIu64 ",\"tcp_flags\":%u,\"tos\":%u,"
	    "\"in_if\":%u,\"out_if\":%u,\"src_as\":%u,\"dst_as\":%u,"
	    "\"src_mask\":%u,\"dst_mask\":%u,\"nexthop\":%s,"
	    "\"exporter\":\"%s\",\"sampling\":%u,\"tags\":%u",
	    time_fmt_ms(f->first_ms, t1, sizeof(t1)),
	    time_fmt_ms(f->last_ms, t2, sizeof(t2)), f->first_ms, f->last_ms,
	    f->proto, json_addr(f, STORE_COL_SRC, sa, sizeof(sa)),
	    json_addr(f, STORE_COL_DST, da, sizeof(da)), f->sport, f->dport,
	    f->bytes,
	    f->packets, f->tcp_flags, f->tos, f->in_if, f->out_if, f->src_as,
	    f->dst_as, f->src_mask, f->dst_mask,
	    json_addr(f, STORE_COL_NEXTHOP, nh, sizeof(nh)),
	    addr_fmt(f->exporter, ex, sizeof(ex)), f->sampling, f->tags), len);
	k += flow_fmt_extra(f, FLOW_EXTRA_JSON, buf + k, len - k);
	return k + clamp(snprintf(buf + k, len - k, "}"), len - k);
}
