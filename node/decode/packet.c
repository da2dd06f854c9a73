#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "packet.h"

#define ETH_P_IPV4	0x0800
#define ETH_P_IPV6	0x86dd
#define ETH_P_VLAN	0x8100
#define ETH_P_QINQ	0x88a8
#define ETH_P_QINQ_OLD	0x9100
#define ETH_P_MPLS	0x8847
#define ETH_P_MPLS_MC	0x8848

static int parse_ip(const uint8_t *p, size_t len, pkt_info_t *pi);
static int parse_ethertype(uint16_t type, const uint8_t *p, size_t len,
    pkt_info_t *pi, int depth);

/* An EtherType that parse_ethertype() follows. */
static int
known_ethertype(uint16_t type)
{
	switch (type) {
	case ETH_P_IPV4:
	case ETH_P_IPV6:
	case ETH_P_VLAN:
	case ETH_P_QINQ:
	case ETH_P_QINQ_OLD:
	case ETH_P_MPLS:
	case ETH_P_MPLS_MC:
		return 1;
	}
	return 0;
}

/*
 * What follows the bottom of an MPLS label stack: IPv4 or IPv6 by the
 * version nibble, else an Ethernet pseudowire (RFC 4448), with the PW
 * control word (RFC 4385: first nibble 0, 4 bytes) or without. The label
 * stack does not say which, so a frame is taken where its EtherType is
 * one we follow, the control word tried first. depth counts the
 * pseudowires already entered: only one is, so nesting stays bounded.
 */
static int
parse_mpls_payload(const uint8_t *p, size_t len, pkt_info_t *pi, int depth)
{
	const uint8_t *q = NULL;

	if (len < 1)
		return FF_EPROTO;
	switch (p[0] >> 4) {
	case 4:
	case 6:
		return parse_ip(p, len, pi);
	}
	if (depth == 0) {
		if ((p[0] >> 4) == 0 && len >= 4 + 14 &&
		    known_ethertype(be16(p + 4 + 12)))
			q = p + 4;
		else if (len >= 14 && known_ethertype(be16(p + 12)))
			q = p;
	}
	if (q == NULL) {
		pi->l3 = p;	/* not IP; link headers end here */
		return FF_EPROTO;
	}
	len -= (size_t)(q - p);
	return parse_ethertype(be16(q + 12), q + 14, len - 14, pi, depth + 1);
}

static int
parse_mpls(const uint8_t *p, size_t len, pkt_info_t *pi, int depth)
{
	/* Skip the label stack up to the bottom-of-stack label. */
	for (int i = 0; i < 16; i++) {
		if (len < 4)
			return FF_EPROTO;
		int bos = p[2] & 1;

		p += 4;
		len -= 4;
		if (bos)
			return parse_mpls_payload(p, len, pi, depth);
	}
	return FF_EPROTO;
}

static int
parse_ethertype(uint16_t type, const uint8_t *p, size_t len, pkt_info_t *pi,
    int depth)
{
	for (int tags = 0; tags < 4; tags++) {
		switch (type) {
		case ETH_P_IPV4:
		case ETH_P_IPV6:
			return parse_ip(p, len, pi);
		case ETH_P_VLAN:
		case ETH_P_QINQ:
		case ETH_P_QINQ_OLD:
			if (len < 4)
				return FF_EPROTO;
			if (pi->vlan == 0)
				pi->vlan = be16(p) & 0x0fff;
			type = be16(p + 2);
			p += 4;
			len -= 4;
			break;
		case ETH_P_MPLS:
		case ETH_P_MPLS_MC:
			return parse_mpls(p, len, pi, depth);
		default:
			pi->l3 = p;	/* not IP; link headers end here */
			return FF_EPROTO;
		}
	}
	return FF_EPROTO;
}

static void
parse_l4(const uint8_t *p, size_t len, pkt_info_t *pi)
{
	switch (pi->proto) {
	case 6:		/* TCP */
		if (len < 20)
			return;
		pi->sport = be16(p);
		pi->dport = be16(p + 2);
		pi->tcp_flags = p[13];
		{
			size_t off = (size_t)(p[12] >> 4) * 4;

			if (off >= 20 && off <= len) {
				pi->payload = p + off;
				pi->payload_len = len - off;
			}
		}
		pi->l4_ok = 1;
		break;
	case 17:	/* UDP */
	case 136:	/* UDP-Lite */
		if (len < 8)
			return;
		pi->sport = be16(p);
		pi->dport = be16(p + 2);
		pi->payload = p + 8;
		pi->payload_len = len - 8;
		/* The UDP length bounds the payload when it is sane. */
		if (pi->proto == 17) {
			uint16_t ulen = be16(p + 4);

			if (ulen >= 8 && (size_t)ulen - 8 < pi->payload_len)
				pi->payload_len = (size_t)ulen - 8;
		}
		pi->l4_ok = 1;
		break;
	case 1:		/* ICMP */
	case 58:	/* ICMPv6 */
		if (len < 2)
			return;
		pi->sport = 0;
		pi->dport = (uint16_t)(p[0] << 8 | p[1]);
		pi->l4_ok = 1;
		break;
	case 132:	/* SCTP */
		if (len < 4)
			return;
		pi->sport = be16(p);
		pi->dport = be16(p + 2);
		pi->l4_ok = 1;
		break;
	default:
		break;
	}
}

static int
parse_ipv4(const uint8_t *p, size_t len, pkt_info_t *pi)
{
	size_t ihl, tot;

	if (len < 20 || (p[0] >> 4) != 4)
		return FF_EPROTO;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > len)
		return FF_EPROTO;
	pi->is_v6 = 0;
	pi->tos = p[1];
	pi->ttl = p[8];
	pi->proto = p[9];
	tot = be16(p + 2);
	pi->ip_len = (uint32_t)tot;
	addr_from_v4(pi->src, p + 12);
	addr_from_v4(pi->dst, p + 16);
	/* Bound the rest by the IP total length when it is sane. */
	if (tot >= ihl && tot < len)
		len = tot;
	if ((be16(p + 6) & 0x1fff) != 0) {	/* not the first fragment */
		pi->is_frag = 1;
		return 0;
	}
	if (be16(p + 6) & 0x2000)
		pi->is_frag = 1;
	parse_l4(p + ihl, len - ihl, pi);
	return 0;
}

static int
parse_ipv6(const uint8_t *p, size_t len, pkt_info_t *pi)
{
	uint8_t nh;
	size_t off = 40, plen;

	if (len < 40 || (p[0] >> 4) != 6)
		return FF_EPROTO;
	pi->is_v6 = 1;
	pi->tos = (uint8_t)((be16(p) >> 4) & 0xff);
	pi->ttl = p[7];
	plen = be16(p + 4);
	pi->ip_len = (uint32_t)plen + 40;
	memcpy(pi->src, p + 8, 16);
	memcpy(pi->dst, p + 24, 16);
	/* Payload length 0 is a jumbogram (RFC 2675): no bound then. */
	if (plen != 0 && plen + 40 < len)
		len = plen + 40;
	nh = p[6];
	/* Walk extension headers, a bounded number of them. */
	for (int i = 0; i < 8; i++) {
		switch (nh) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (off + 8 > len)
				goto out;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			break;
		case 51:	/* AH */
			if (off + 8 > len)
				goto out;
			nh = p[off];
			off += ((size_t)p[off + 1] + 2) * 4;
			break;
		case 44:	/* fragment */
			if (off + 8 > len)
				goto out;
			nh = p[off];
			pi->is_frag = 1;
			if ((be16(p + off + 2) & 0xfff8) != 0) {
				pi->proto = nh;
				return 0;
			}
			off += 8;
			break;
		default:
			goto out;
		}
	}
out:
	pi->proto = nh;
	if (off <= len)
		parse_l4(p + off, len - off, pi);
	return 0;
}

static int
parse_ip(const uint8_t *p, size_t len, pkt_info_t *pi)
{
	pi->l3 = p;
	if (len < 1)
		return FF_EPROTO;
	switch (p[0] >> 4) {
	case 4:
		return parse_ipv4(p, len, pi);
	case 6:
		return parse_ipv6(p, len, pi);
	}
	return FF_EPROTO;
}

int
packet_parse(const uint8_t *p, size_t len, enum pkt_link link,
    pkt_info_t *pi)
{
	static const pkt_info_t zero;

	/* A copy, not memset(): GCC makes that "rep stosq", slow here. */
	*pi = zero;
	switch (link) {
	case PKT_LINK_ETHER:
		if (len < 14)
			return FF_EPROTO;
		memcpy(pi->dst_mac, p, 6);
		memcpy(pi->src_mac, p + 6, 6);
		if (be16(p + 12) < 0x0600) {
			/* 802.3 length: only LLC/SNAP-encapsulated IP */
			if (len < 22 || p[14] != 0xaa || p[15] != 0xaa)
				return FF_EPROTO;
			return parse_ethertype(be16(p + 20), p + 22, len - 22,
			    pi, 0);
		}
		return parse_ethertype(be16(p + 12), p + 14, len - 14, pi, 0);
	case PKT_LINK_RAW:
		return parse_ip(p, len, pi);
	case PKT_LINK_IPV4:
		pi->l3 = p;
		return parse_ipv4(p, len, pi);
	case PKT_LINK_IPV6:
		pi->l3 = p;
		return parse_ipv6(p, len, pi);
	case PKT_LINK_SLL:
		if (len < 16)
			return FF_EPROTO;
		return parse_ethertype(be16(p + 14), p + 16, len - 16, pi, 0);
	case PKT_LINK_NULL:
		if (len < 4)
			return FF_EPROTO;
		return parse_ip(p + 4, len - 4, pi);
	}
	return FF_EPROTO;
}
