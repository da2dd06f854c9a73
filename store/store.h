/*
 * store: the node's flow store and query engine (LMDB), and the normalized
 * flow record every decoder produces.
 *
 * Prefix store_. Functions return 0 or a negative ff_err code.
 */
#ifndef FF_STORE_H
#define FF_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One normalized flow record. Addresses are 16 bytes; IPv4 addresses are
 * stored IPv4-mapped (::ffff:a.b.c.d). Byte and packet counts are already
 * multiplied by the sampling rate that was applied (sampling; 1 when the
 * exporter reported no sampling). For ICMP and ICMPv6, as in nfdump,
 * sport is 0 and dport is type * 256 + code.
 */
typedef struct store_flow {
	uint64_t first_ms;	/* flow start, ms since the epoch, UTC */
	uint64_t last_ms;	/* flow end, ms since the epoch, UTC */
	uint64_t bytes;		/* layer 3 bytes, scaled by sampling */
	uint64_t packets;	/* packets, scaled by sampling */
	uint8_t src[16];	/* source address */
	uint8_t dst[16];	/* destination address */
	uint8_t nexthop[16];	/* next-hop address, :: if unknown */
	uint8_t exporter[16];	/* address the export came from */
	uint32_t in_if;		/* input interface (SNMP index) */
	uint32_t out_if;	/* output interface */
	uint32_t src_as;
	uint32_t dst_as;
	uint32_t sampling;	/* sampling rate applied, 1 = unsampled */
	uint32_t tags;		/* reputation categories (bit set), 0 = none */
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;		/* IP protocol number */
	uint8_t tcp_flags;	/* cumulative TCP flags */
	uint8_t tos;		/* IP ToS / traffic class */
	uint8_t src_mask;	/* source prefix length, 0 if unknown */
	uint8_t dst_mask;	/* destination prefix length, 0 if unknown */
	uint8_t flags;		/* STORE_FLOW_F_* */
	uint8_t pad_[2];
} store_flow_t;

#define STORE_FLOW_F_V6		0x01	/* src/dst are IPv6 */
#define STORE_FLOW_F_FROM_V5	0x02
#define STORE_FLOW_F_FROM_V9	0x04
#define STORE_FLOW_F_FROM_IPFIX	0x08
#define STORE_FLOW_F_FROM_SFLOW	0x10

/* Buffer sizes that always suffice for the formatters below. */
#define STORE_FLOW_LINE_MAX 384
#define STORE_FLOW_JSON_MAX 768

/*
 * Format flow f as one human-readable line (no newline) into buf of len
 * bytes: start time, duration, protocol, src:port -> dst:port, TCP flags,
 * packets, bytes, interfaces, AS, ToS, next hop, sampling, exporter.
 * Returns the length written (truncated to len - 1).
 */
size_t store_flow_fmt_line(const store_flow_t *f, char *buf, size_t len);

/* Format flow f as one JSON object (no newline). Returns the length. */
size_t store_flow_fmt_json(const store_flow_t *f, char *buf, size_t len);

/* Name of IP protocol p ("TCP", "UDP", ...) or its number in buf. */
const char *store_proto_name(uint8_t p, char buf[8]);

/* TCP flags as nfdump writes them ("..AP.SF" style, 8 chars CEUAPRSF). */
const char *store_tcp_flags_str(uint8_t flags, char buf[9]);

#endif
