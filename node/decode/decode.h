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

/*
 * Counters of one exporter (one source address, protocol and observation
 * domain; for sFlow also the agent address).
 */
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
	uint8_t agent[16];	/* sFlow: the agent address the datagrams
				   name (all zero when "unknown"); others:
				   all zero */
} exporter_stats_t;

/* Global counters for packets that never reached an exporter's account. */
typedef struct decoder_stats {
	uint64_t packets;	/* payloads given to decoder_packet() */
	uint64_t flows;		/* flow records produced */
	uint64_t unknown_version;	/* not v5/v9/IPFIX/sFlow v5 */
	uint64_t malformed;	/* malformed, all exporters */
	uint64_t exporters_dropped;	/* new exporters refused, for any
					   reason (the two below, memory) */
	uint64_t exporters_refused_source;	/* ... their source address
						   had max_per_source */
	uint64_t exporters_refused_full;	/* ... the table was full */
	uint64_t exporters_evicted;	/* removed to make room for a new
					   one: had never sent valid data */
	uint64_t exporters_expired;	/* removed after idle_ms idle */
	uint64_t exporters;		/* in the table now */
	uint8_t last_refused[16];	/* source address of the last refusal */
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
	size_t max_per_source;	/* exporters per UDP source address
				   (default 1024) */
	uint64_t idle_ms;	/* remove an exporter after this long
				   without a packet (default 1 h;
				   UINT64_MAX: never) */
	uint32_t max_sampling;	/* larger rates are absurd (default 1<<24) */
	size_t tpl_max_bytes;	/* template memory, all exporters (default
				   DECODER_TPL_MAX_BYTES) */
} decoder_opts_t;

/*
 * The default template memory budget. A template takes about 100 bytes
 * plus 4 to 10 per field (its record as sent, and a step of its field
 * program for each field a flow record uses): 0.4 to 0.7 KiB at 64
 * fields, 4 to 10 KiB at the 1,024 fields the decoder accepts. Real
 * exporters send 2 to 30 templates of 10 to 80 fields, 1 to 20 KiB per
 * exporter, so 64 MiB holds the templates of several thousand exporters.
 */
#define DECODER_TPL_MAX_BYTES	(64u * 1024 * 1024)

/* Template memory and persistence counters (decoder_template_stats()). */
typedef struct decoder_tplstats {
	uint64_t templates;	/* templates in memory now */
	uint64_t bytes;		/* their memory */
	uint64_t max_bytes;	/* the budget (tpl_max_bytes) */
	uint64_t evicted;	/* templates evicted to make room */
	uint64_t evicted_exporters;	/* exporters they belonged to */
	uint64_t refused;	/* new templates refused: no room */
	uint64_t loaded;	/* templates installed by imports */
	uint64_t load_damaged;	/* damaged parts skipped by imports */
} decoder_tplstats_t;

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
 * arrived, and drop what expired; remove exporters idle for
 * opts.idle_ms (with their templates). Call about once a second.
 */
void decoder_tick(decoder_t *d, uint64_t now_ms, flow_sink_t *sink);

/* Give up on all held data now (at shutdown, or end of an offline file). */
void decoder_drop_held(decoder_t *d);

/* Global counters. */
const decoder_stats_t *decoder_stats(const decoder_t *d);

/* Template memory and persistence counters. */
const decoder_tplstats_t *decoder_template_stats(const decoder_t *d);

/*
 * Visit every exporter: its address (the UDP source, as in its flow
 * records), protocol version (5, 9, 10 or the sFlow marker 0x5f),
 * observation domain / source id / sub-agent, and its counters. sFlow
 * exporters are told apart by their agent address too (st->agent), so
 * agents behind one relay are separate exporters of one address. The
 * callback must not call into the decoder.
 */
typedef void (*decoder_exporter_cb)(void *arg, const uint8_t addr[16],
    unsigned version, uint32_t domain, const exporter_stats_t *st);
void decoder_foreach_exporter(const decoder_t *d, decoder_exporter_cb cb,
    void *arg);

#define DECODER_VERSION_SFLOW 0x5f

/*
 * Template persistence. The decoder does no file I/O: the daemon takes a
 * snapshot on its loop thread and seals and writes it elsewhere.
 *
 * decoder_templates_dirty() tells whether templates changed since the
 * last snapshot. decoder_templates_snapshot() serializes every current
 * template (with its exporter's key, clock and samplers) into a new
 * buffer *buf of *len bytes, owned by the caller (free()), and clears the
 * dirty flag; returns 0 or FF_ENOMEM. The buffer is at most about the
 * template memory budget: a copy, no hashing. decoder_templates_seal()
 * then fills in its checksums; it touches only buf and may run on any
 * thread. decoder_templates_export() is the two in one.
 *
 * The format is a header and self-contained records, each with its own
 * length and checksum. decoder_templates_import() loads a sealed buffer
 * (or one of the older format, which is checked whole) into the decoder
 * record by record: a damaged record (or a damaged run of bytes) is
 * skipped and counted in load_damaged, every intact record is loaded,
 * and templates beyond the memory budget are refused as on the network.
 * Returns 0 when nothing was damaged, FF_EPROTO when something was (what
 * was intact is loaded), FF_ENOMEM or FF_ECRYPTO.
 */
int decoder_templates_dirty(const decoder_t *d);
int decoder_templates_snapshot(decoder_t *d, uint8_t **buf, size_t *len);
void decoder_templates_seal(uint8_t *buf, size_t len);
int decoder_templates_export(decoder_t *d, uint8_t **buf, size_t *len);
int decoder_templates_import(decoder_t *d, const uint8_t *buf, size_t len);

#endif
