/*
 * Internal to the decoders (decode.c, exporter.c, nf5.c, nf9.c, sflow.c):
 * the exporter table and the per-protocol entry points. Nothing outside
 * the decoders includes this.
 */
#ifndef FF_NODE_DECODE_INT_H
#define FF_NODE_DECODE_INT_H

#include "decode.h"

/* One exporter: source address + protocol version + domain. */
struct exporter {
	struct exporter *hnext;		/* hash chain */
	uint8_t addr[16];
	uint32_t domain;		/* source id / obs. domain / sub-agent */
	uint8_t version;		/* 5, 9, 10, DECODER_VERSION_SFLOW */
	uint8_t seq_valid;		/* seq_next holds an expectation */
	uint32_t seq_next;		/* next expected sequence number */
	exporter_stats_t st;
	void *proto;			/* protocol state (nf9.c owns it) */
};

struct decoder {
	decoder_opts_t opts;
	decoder_stats_t st;
	struct exporter **buckets;
	size_t nbuckets;		/* power of two */
	size_t nexporters;
	struct exporter *last;		/* lookup cache */
	int templates_dirty;
	size_t held_total;		/* bytes held, all exporters */
	/* template memory (template.c) */
	decoder_tplstats_t tst;
	uint64_t tpl_floor;		/* no exporter with templates ranks
					   lower (see template.c) */
};

/*
 * The exporter table (exporter.c).
 *
 * Find or create the exporter (addr, version, domain). Returns NULL (and
 * counts exporters_dropped) when the table is full or memory is short.
 */
struct exporter *exporter_get(decoder_t *d, const uint8_t addr[16],
    unsigned version, uint32_t domain, uint64_t now_ms);

/*
 * Check sequence number seq against the expectation; the packet carries
 * advance units (flows for v5 and IPFIX, 1 for v9 and sFlow). Counts gaps,
 * missing units and resets. advance 0 with forget=1 means the count of
 * units is unknown: the next packet is not checked.
 */
void exporter_seq(struct exporter *e, uint32_t seq, uint32_t advance,
    int forget);

/* Per-protocol decoders; same contract as decoder_packet(). */
int nf5_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink);
int nf9_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink);
int sflow_decode(decoder_t *d, const uint8_t addr[16], const uint8_t *buf,
    size_t len, uint64_t now_ms, flow_sink_t *sink);

/* NetFlow v9 / IPFIX housekeeping (nf9.c). */
void nf9_tick(decoder_t *d, struct exporter *e, uint64_t now_ms,
    flow_sink_t *sink);
void nf9_drop_held(decoder_t *d, struct exporter *e);
void nf9_exporter_free(struct exporter *e);

/*
 * Absolute time (ms since the epoch) of a sysUptime stamp, given the
 * export packet's clock pair (export time and sysUptime at export).
 * Handles uptime wrap-around.
 */
static inline uint64_t
uptime_to_ms(uint64_t export_ms, uint32_t sys_uptime, uint32_t stamp)
{
	int64_t delta = (int32_t)(sys_uptime - stamp);	/* ms before export */

	if (delta > 0 && (uint64_t)delta > export_ms)
		return 0;
	return (uint64_t)((int64_t)export_ms - delta);
}

/* 1 if the n bytes at p are all zero (padding), else 0. */
static inline int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Scale a counter by a sampling rate, saturating. */
static inline uint64_t
scale_sat(uint64_t v, uint32_t rate)
{
	if (rate > 1 && v > UINT64_MAX / rate)
		return UINT64_MAX;
	return v * (rate ? rate : 1);
}

#endif
