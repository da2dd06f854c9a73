/*
 * Read UDP datagrams from a capture file (pcap or pcapng, via libpcap).
 */
#ifndef FF_NODE_PCAPFILE_H
#define FF_NODE_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

/* One UDP datagram found in a capture. */
typedef struct pcap_udp {
	uint8_t src[16];	/* IPv4-mapped for IPv4 */
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	const uint8_t *payload;	/* valid only during the callback */
	size_t len;
	uint64_t ts_ms;		/* capture time, ms since the epoch */
} pcap_udp_t;

typedef struct pcapfile_stats {
	uint64_t frames;	/* frames read */
	uint64_t udp;		/* UDP datagrams handed to the callback */
	uint64_t other;		/* not UDP (TCP, ARP, ...): skipped */
	uint64_t fragments;	/* IP fragments: skipped */
	uint64_t short_frames;	/* captured length cut the datagram */
	int truncated;		/* the file ended in the middle of a frame */
} pcapfile_stats_t;

/* Return 0 to go on, non-zero to stop reading. */
typedef int (*pcapfile_cb)(void *arg, const pcap_udp_t *d);

/*
 * Read the capture at path and call cb for every complete UDP datagram, in
 * file order. A file truncated mid-frame is not an error: what came before
 * is delivered and st->truncated is set. Returns 0, or FF_EIO / FF_EPROTO
 * with a message in err (errlen bytes) when the file cannot be read or its
 * link type is not supported.
 */
int pcapfile_read(const char *path, pcapfile_cb cb, void *arg,
    pcapfile_stats_t *st, char *err, size_t errlen);

#endif
