/*
 * Internal to the decoders (decode.c, exporter.c, nf5.c, nf9.c, sflow.c):
 * the exporter table and the per-protocol entry points. Nothing outside
 * the decoders includes this.
 */
#ifndef FF_NODE_DECODE_INT_H
#define FF_NODE_DECODE_INT_H

#include <sys/queue.h>

#include "decode.h"

struct source;

/*
 * One exporter: UDP source address + protocol version + domain, and for
 * sFlow the agent address of the datagrams (st.agent), so that agents
 * behind one relay stay apart.
 */
struct exporter {
	struct exporter *hnext;		/* hash chain */
	uint8_t addr[16];
	uint32_t domain;		/* source id / obs. domain / sub-agent */
	uint8_t version;		/* 5, 9, 10, DECODER_VERSION_SFLOW */
	uint8_t seq_valid;		/* seq_next holds an expectation */
	uint8_t valid;			/* has sent flows, templates or
					   counter samples */
	uint32_t seq_next;		/* next expected sequence number */
	exporter_stats_t st;
	void *proto;			/* protocol state (nf9.c owns it) */
	/* table management, off the per-packet path */
	struct source *src;		/* the UDP source it counts against */
	uint64_t created_ms;		/* 0: loaded from a file, not yet
					   stamped by a tick */
	TAILQ_ENTRY(exporter) probe;	/* in d->probation while !valid */
};

TAILQ_HEAD(exporter_list, exporter);

/* A UDP source address and the number of exporters it made. */
struct source {
	struct source *hnext;		/* hash chain */
	uint8_t addr[16];
	uint32_t n;			/* exporters */
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
	struct source **sbuckets;	/* sources by address */
	size_t nsbuckets;		/* power of two */
	size_t nsources;
	struct exporter_list probation;	/* every !valid exporter, least
					   recently seen first */
	/* Free e->proto and what it holds (decode.c sets it: the table
	   knows no protocol) */
	void (*proto_free)(decoder_t *d, struct exporter *e);
	/* template memory (template.c) */
	decoder_tplstats_t tst;
	uint64_t tpl_floor;		/* no exporter with templates ranks
					   lower (see template.c) */
};

/*
 * The exporter table (exporter.c).
 *
 * Find or create the exporter (addr, version, domain), with agent the
 * sFlow agent address (16 bytes; NULL for the other protocols), and note
 * now_ms as its last packet. A new exporter is counted against its source
 * address addr. It is refused when addr already has opts.max_per_source exporters; when the table has
 * opts.max_exporters, the least recently seen exporter that never sent
 * valid data is evicted to make room, and with none the new exporter is
 * refused. A refusal returns NULL and is counted (exporters_dropped and
 * the reason). Also NULL when memory is short.
 */
struct exporter *exporter_get(decoder_t *d, const uint8_t addr[16],
    const uint8_t *agent, unsigned version, uint32_t domain,
    uint64_t now_ms);

/* Take e off probation: it sent valid data (exporter_valid()). */
void exporter_promote(decoder_t *d, struct exporter *e);

/* Mark e as having sent valid data (flows, templates, counter samples):
   it can no longer be evicted for a new exporter, only expire. */
static inline void
exporter_valid(decoder_t *d, struct exporter *e)
{
	if (!e->valid)
		exporter_promote(d, e);
}

/*
 * Remove exporters idle for opts.idle_ms (counted in exporters_expired);
 * stamp the creation time of exporters loaded from a file. Called by
 * decoder_tick().
 */
void exporter_expire(decoder_t *d, uint64_t now_ms);

/* Free every exporter and source (decoder_free()). */
void exporter_free_all(decoder_t *d);

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

/*
 * The clamp step every decoder applies to each flow record it completes
 * (nf5.c, nf9.c finish(), sflow.c), so that whatever a datagram says, the
 * store holds only what every reader of it accepts (the wire form of a
 * listing rejects a prefix length over 128, for one):
 *
 *   - prefix lengths: within the family, IPv4 0-32, IPv6 0-128; out of
 *     range they are unknown, 0 (store_flow_fix_masks);
 *   - times: a time before FLOW_TIME_MIN_MS (1990: an exporter clock
 *     never set, a NetFlow uptime stamp from before 1970, which decodes
 *     as 0) or more than FLOW_TIME_SKEW_MS after the time the datagram
 *     was received (now_ms; a capture's own clock offline) is absurd: it
 *     takes the other time of the flow, or now_ms when both are absurd;
 *     an end before the start becomes the start. So no datagram stretches
 *     a store block's time range to 1970 or into the far future (where
 *     no time window could skip the block and retention by age never
 *     expire it). The bounds are wide on purpose: a probe replaying old
 *     traffic exports its old times (the shared captures: ipfixprobe
 *     sends 2009 flows in 2025), and exporter clocks run ahead (pmacct's
 *     captures: 1.7 years);
 *   - the other fields fit their columns by their widths (ports,
 *     protocol, ToS and TCP flags take any value of theirs).
 *
 * Returns 1 when the record was changed (the caller counts it), else 0.
 * The common case is a few compares and one predictable branch, on the
 * record just written (in cache); the fix is out of line.
 */
#define FLOW_TIME_MIN_MS	631152000000ull	/* 1990-01-01T00:00:00Z */
#define FLOW_TIME_SKEW_MS	(10ull * 366 * 86400 * 1000)	/* ~10 years */

/*
 * The times flow_clamp() accepts for datagrams received at now_ms:
 * lo <= t <= lo + span, lo = FLOW_TIME_MIN_MS; when the receive time is
 * itself before that (a capture taken by a machine whose clock was not
 * set), no floor, since nothing tells which clock is wrong. Once per
 * datagram.
 */
typedef struct flow_bounds {
	uint64_t now_ms, lo, span;
} flow_bounds_t;

static inline flow_bounds_t
flow_bounds(uint64_t now_ms)
{
	flow_bounds_t b;
	uint64_t t = now_ms > FLOW_TIME_MIN_MS ? now_ms : FLOW_TIME_MIN_MS;
	uint64_t hi = t < UINT64_MAX - FLOW_TIME_SKEW_MS ?
	    t + FLOW_TIME_SKEW_MS : UINT64_MAX;

	b.now_ms = now_ms;
	b.lo = now_ms < FLOW_TIME_MIN_MS ? 0 : FLOW_TIME_MIN_MS;
	b.span = hi - b.lo;
	return b;
}

/* The rare path of flow_clamp(): fix what is out of range. */
static __attribute__((noinline, cold)) void
flow_clamp_fix(store_flow_t *f, const flow_bounds_t *b)
{
	int fok = f->first_ms - b->lo <= b->span;
	int lok = f->last_ms - b->lo <= b->span;

	store_flow_fix_masks(f);
	if (!fok && !lok)
		f->first_ms = f->last_ms = b->now_ms;
	else if (!fok)
		f->first_ms = f->last_ms;
	else if (!lok || f->last_ms < f->first_ms)
		f->last_ms = f->first_ms;
}

static inline int
flow_clamp(store_flow_t *f, const flow_bounds_t *b)
{
	unsigned max = 32 + (f->flags & STORE_FLOW_F_V6) * 96;

	/* x - lo > span iff x is out of range */
	if (__builtin_expect(f->src_mask > max || f->dst_mask > max ||
	    f->first_ms - b->lo > b->span || f->last_ms < f->first_ms ||
	    f->last_ms - b->lo > b->span, 0)) {
		flow_clamp_fix(f, b);
		return 1;
	}
	return 0;
}

/* Clamp f (flow_clamp) and count it on exporter e and globally. */
static inline void
flow_done(decoder_t *d, struct exporter *e, store_flow_t *f,
    const flow_bounds_t *b)
{
	if (__builtin_expect(flow_clamp(f, b), 0)) {
		e->st.clamped++;
		d->st.clamped++;
	}
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
