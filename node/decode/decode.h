/*
 * Flow export decoding: NetFlow v5, NetFlow v9 (RFC 3954), IPFIX
 * (RFC 7011) and sFlow v5, from one UDP payload to normalized flow records.
 *
 * A decoder_t holds all the state that decoding needs across packets:
 * the exporter table with its counters and sequence trackers, the template
 * cache, and data held while its template is missing. It is used by one
 * thread at a time.
 */
#ifndef FF_NODE_DECODE_H
#define FF_NODE_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store.h"

/*
 * Where decoded flows go. Decoders append to flows[n]; when n reaches cap
 * they call flush(), which must consume the records and reset n to 0.
 */
typedef struct flow_sink {
	store_flow_t *flows;
	size_t n;
	size_t cap;
	void (*flush)(struct flow_sink *sink);
	void *arg;
} flow_sink_t;

/* Append slot: return a zeroed record to fill in. */
static inline store_flow_t *
sink_next(flow_sink_t *s)
{
	store_flow_t *f;

	if (s->n == s->cap)
		s->flush(s);
	f = &s->flows[s->n++];
	/* a struct copy, not memset: gcc turns a 128-byte memset into
	 * "rep stosq", which dominated the decoders' profile */
	*f = (store_flow_t){ 0 };
	return f;
}

/* Counters of one exporter (one source address and observation domain). */
typedef struct exporter_stats {
	uint64_t packets;	/* export packets accepted */
	uint64_t flows;		/* flow records decoded */
	uint64_t malformed;	/* packets or sets rejected as malformed */
	uint64_t no_template;	/* data sets that arrived without template */
	uint64_t no_template_dropped;	/* ... and were dropped in the end */
	uint64_t held_replayed;	/* held data sets decoded later */
	uint64_t templates;	/* template records accepted */
	uint64_t templates_withdrawn;
	uint64_t options_records;	/* options data records (not flows) */
	uint64_t seq_gaps;	/* sequence gaps seen */
	uint64_t seq_missing;	/* units missing in those gaps */
	uint64_t seq_resets;	/* sequence went backwards or jumped far */
	uint64_t counter_samples;	/* sFlow counter samples */
	uint64_t sampling_bad;	/* absurd sampling rates rejected */
	uint64_t clamped;	/* flow records with a field out of range,
				   brought within it (decode_int.h
				   flow_clamp) */
	uint64_t last_seen_ms;
} exporter_stats_t;

/* Global counters for packets that never reached an exporter's account. */
typedef struct decoder_stats {
	uint64_t packets;	/* payloads given to decoder_packet() */
	uint64_t flows;		/* flow records produced */
	uint64_t unknown_version;	/* not v5/v9/IPFIX/sFlow v5 */
	uint64_t malformed;	/* malformed, all exporters */
	uint64_t exporters_dropped;	/* new exporters refused: table full */
	uint64_t clamped;	/* flow records clamped, all exporters */
} decoder_stats_t;

typedef struct decoder decoder_t;

/* Options for decoder_new(). Zero means the default. */
typedef struct decoder_opts {
	int hold_unknown;	/* hold data sets without template: 1 (default)
				   or -1 to drop at once */
	uint32_t hold_max_ms;	/* how long to hold (default 30000) */
	size_t hold_max_bytes;	/* per exporter (default 256 KiB) */
	size_t hold_max_total;	/* all exporters together (default 64 MiB) */
	size_t max_exporters;	/* default 65536 */
	uint32_t max_sampling;	/* larger rates are absurd (default 1<<24) */
} decoder_opts_t;

/* Create a decoder; opts may be NULL. Returns NULL on allocation failure. */
decoder_t *decoder_new(const decoder_opts_t *opts);
/* Free a decoder and everything it holds. Accepts NULL. */
void decoder_free(decoder_t *d);

/*
 * Decode one UDP payload received at now_ms (ms since the epoch) from the
 * exporter at addr (16 bytes, IPv4-mapped for IPv4) and port. Flow records
 * are appended to sink. Malformed input is counted and dropped.
 * Returns the number of flow records produced, or a negative ff_err code
 * when the whole packet was rejected (already counted).
 */
int decoder_packet(decoder_t *d, const uint8_t addr[16], uint16_t port,
    const uint8_t *buf, size_t len, uint64_t now_ms, flow_sink_t *sink);

/*
 * Decode held data whose hold time has passed or whose template has since
 * arrived, and drop what expired. Call about once a second.
 */
void decoder_tick(decoder_t *d, uint64_t now_ms, flow_sink_t *sink);

/* Give up on all held data now (at shutdown, or end of an offline file). */
void decoder_drop_held(decoder_t *d);

/* Global counters. */
const decoder_stats_t *decoder_stats(const decoder_t *d);

/*
 * Visit every exporter: its address, protocol version (5, 9, 10 or the
 * sFlow marker 0x5f), observation domain / source id / sub-agent, and its
 * counters. The callback must not call into the decoder.
 */
typedef void (*decoder_exporter_cb)(void *arg, const uint8_t addr[16],
    unsigned version, uint32_t domain, const exporter_stats_t *st);
void decoder_foreach_exporter(const decoder_t *d, decoder_exporter_cb cb,
    void *arg);

#define DECODER_VERSION_SFLOW 0x5f

/*
 * Template persistence. The decoder does no file I/O: the daemon takes a
 * snapshot on its loop thread and writes it elsewhere.
 *
 * decoder_templates_dirty() tells whether templates changed since the last
 * export. decoder_templates_export() serializes every current template
 * (with its exporter key) into a new buffer *buf of *len bytes, owned by
 * the caller (free()), and clears the dirty flag; returns 0 or FF_ENOMEM.
 * decoder_templates_import() loads such a buffer into the decoder; a
 * damaged buffer is rejected with FF_EPROTO, keeping whatever records
 * before the damage were valid. Returns 0 or a negative ff_err code.
 */
int decoder_templates_dirty(const decoder_t *d);
int decoder_templates_export(decoder_t *d, uint8_t **buf, size_t *len);
int decoder_templates_import(decoder_t *d, const uint8_t *buf, size_t len);

#endif
