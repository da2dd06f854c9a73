/*
 * flowgen: a synthetic flow-export generator for benchmarks.
 *
 * It draws a seeded pseudo-random flow set with a skewed shape (Zipf-like
 * host popularity, a realistic mix of protocols, services and flow sizes)
 * and encodes it as NetFlow v5, NetFlow v9 (templates + data), IPFIX or
 * sFlow v5 export datagrams. The datagrams are built once into a pool and
 * then replayed as an endless stream: each time a datagram goes out its
 * header (sequence number, export time) is rewritten, and the template
 * datagrams of v9/IPFIX are interleaved at start and every tpl_every data
 * datagrams per exporter, as a router refreshes them.
 *
 * The generator encodes on its own (it does not use the decoders), so a
 * decoder bug cannot hide behind a matching generator bug; run.sh checks
 * its output against tshark.
 */
#ifndef FF_BENCH_FLOWGEN_H
#define FF_BENCH_FLOWGEN_H

#include <stddef.h>
#include <stdint.h>

typedef enum fg_proto {
	FG_V5 = 0,
	FG_V9,
	FG_IPFIX,
	FG_SFLOW
} fg_proto_t;

/* Options; zero means the default given in brackets. */
typedef struct fg_opts {
	fg_proto_t proto;
	uint64_t seed;		/* [1] */
	unsigned pool;		/* data datagrams in the pool [4096] */
	unsigned max_size;	/* datagram size budget in bytes [1400] */
	unsigned per_packet;	/* records (sFlow: samples) per datagram
				   [as many as fit in max_size; v5: 30] */
	unsigned v6_pct;	/* percent of datagrams carrying IPv6 flows
				   (not v5) [0] */
	unsigned hosts;		/* addresses per side (inside/outside) [65536] */
	double zipf_s;		/* Zipf exponent of host popularity [1.1] */
	uint32_t host_salt;	/* rotates host popularity over the same
				   addresses; 0: the default */
	unsigned exporters;	/* exporters (v9 source id, IPFIX domain, v5
				   engine id, sFlow sub-agent) [1] */
	unsigned tpl_every;	/* v9/IPFIX: re-send templates every N data
				   datagrams per exporter [1000] */
	unsigned sampling;	/* sFlow sampling rate [1000]; v5 header
				   sampling interval [0 = none] */
	unsigned counters_every; /* sFlow: one counter sample every N
				   datagrams [10] */
} fg_opts_t;

/* What a stretch of the stream holds. */
typedef struct fg_totals {
	uint64_t packets;	/* datagrams */
	uint64_t tpl_packets;	/* ... of which template-only (v9/IPFIX) */
	uint64_t flows;		/* flow records (sFlow: flow samples) */
	uint64_t bytes;		/* sum of the flows' layer 3 bytes, scaled by
				   sampling as a collector reports them */
	uint64_t flow_packets;	/* sum of the flows' packet counts, scaled */
	uint64_t octets;	/* datagram payload bytes (UDP payload) */
} fg_totals_t;

/* One datagram handed out by fg_next(). */
typedef struct fg_dgram {
	const uint8_t *buf;	/* valid until the generator is freed; the
				   header is rewritten when the same pool
				   datagram comes round again */
	size_t len;
	fg_totals_t t;		/* what this datagram holds (packets = 1) */
} fg_dgram_t;

typedef struct fg fg_t;

/*
 * Create a generator and build its pool. Returns NULL with a message in
 * err (errlen bytes) on bad options or allocation failure. Free with
 * fg_free().
 */
fg_t *fg_new(const fg_opts_t *opts, char *err, size_t errlen);

/* Free a generator. Accepts NULL. */
void fg_free(fg_t *g);

/*
 * Hand out the next datagram of the stream into *d, rewriting its header
 * for export time now_ms (ms since the epoch) and the exporter's next
 * sequence number. The v5/v9 sysUptime stays put, so their flows always
 * end up to 15 s before the export; IPFIX flow times are absolute, fixed
 * when the pool was built; the sFlow uptime advances with now_ms.
 * Successive calls return distinct
 * buffers for at least the pool size, so a batch of up to
 * fg_max_batch() datagrams may be sent together.
 */
void fg_next(fg_t *g, uint64_t now_ms, fg_dgram_t *d);

/* Largest number of fg_next() results that may be in flight together. */
unsigned fg_max_batch(const fg_t *g);

/* The options in effect (defaults filled in). */
const fg_opts_t *fg_opts(const fg_t *g);

/* Average flow records per data datagram in the pool. */
double fg_flows_per_dgram(const fg_t *g);

/* Name of a protocol ("v5", "v9", "ipfix", "sflow"). */
const char *fg_proto_name(fg_proto_t p);

/* Parse a protocol name; returns 0 or -1. */
int fg_proto_parse(const char *s, fg_proto_t *p);

/* Add b to a. */
void fg_totals_add(fg_totals_t *a, const fg_totals_t *b);

#endif
