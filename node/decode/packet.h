/*
 * Parse a captured packet (a pcap frame, or the header an sFlow agent
 * sampled, or a packet section of an IPFIX / NetFlow v9 record) down to
 * the transport header: Ethernet with VLAN/QinQ tags and MPLS (IP, or an
 * Ethernet pseudowire with or without control word, after the label
 * stack), Linux cooked capture, BSD loopback, raw IPv4/IPv6; IPv6
 * extension headers; TCP, UDP, ICMP, ICMPv6. For a tunnel (IP in IP,
 * SRv6) the outer IP header is the one reported.
 */
#ifndef FF_NODE_PACKET_H
#define FF_NODE_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum pkt_link {
	PKT_LINK_ETHER = 1,	/* Ethernet II / 802.3 */
	PKT_LINK_RAW,		/* IPv4 or IPv6 by version nibble */
	PKT_LINK_IPV4,
	PKT_LINK_IPV6,
	PKT_LINK_SLL,		/* Linux cooked capture v1 */
	PKT_LINK_NULL,		/* BSD loopback, host-order family */
};

typedef struct pkt_info {
	uint8_t src[16];	/* IPv4-mapped for IPv4 */
	uint8_t dst[16];
	uint16_t sport;		/* 0 when there is no port */
	uint16_t dport;		/* for ICMP/ICMPv6: type * 256 + code */
	uint8_t proto;		/* IP protocol of the transport header */
	uint8_t tos;		/* ToS / traffic class */
	uint8_t tcp_flags;
	uint8_t ttl;
	uint8_t is_v6;
	uint8_t is_frag;	/* a fragment: later fragments carry no L4 */
	uint8_t l4_ok;		/* the transport header was parsed */
	uint8_t src_mac[6];	/* Ethernet only */
	uint8_t dst_mac[6];
	uint16_t vlan;		/* outer VLAN id, 0 if none */
	uint32_t ip_len;	/* IP datagram length from the IP header */
	const uint8_t *l3;	/* start of the network header after the link
				   headers (Ethernet, VLAN tags, MPLS labels,
				   a pseudowire's control word and Ethernet
				   header), set even when it is not IP; NULL
				   when the link headers are cut */
	const uint8_t *payload;	/* transport payload (UDP/TCP data) */
	size_t payload_len;	/* bounded by what was captured */
} pkt_info_t;

/*
 * Parse len bytes of packet p with link type link into *pi. Returns 0 when
 * an IP header was found (pi->l4_ok says whether the transport header was
 * too), FF_EPROTO when the packet is not IP or is cut before the IP header.
 */
int packet_parse(const uint8_t *p, size_t len, enum pkt_link link,
    pkt_info_t *pi);

#endif
