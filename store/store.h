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
#include <stdio.h>

#include <msgpack.h>

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


/* ------------------------------------------------------------------------
 * The store: flows in time-ordered, column-wise compressed blocks in LMDB.
 *
 * Threads: one writer thread calls store_append/store_commit/
 * store_maintain; any number of reader threads run queries at the same
 * time (LMDB MVCC: readers never block the writer). store_open and
 * store_close are called with no other call in flight.
 * ------------------------------------------------------------------------ */

typedef struct store store_t;

typedef struct store_opts {
	const char *path;	/* directory; created if missing */
	uint64_t map_size;	/* LMDB map size in bytes; 0: derived from
				   max_bytes, or 64 GiB */
	uint64_t max_bytes;	/* retention by size, 0 = none */
	uint64_t max_age_ms;	/* retention by age, 0 = none */
	uint32_t block_rows;	/* rows per full block; 0: default 32768 */
	int nosync;		/* 1: don't fsync at commit (survives a process
				   crash, not a power loss) */
	int zstd_level;		/* column compression level; 0: default */
	int readonly;		/* open for queries only */
} store_opts_t;

typedef struct store_stats {
	uint64_t flows;		/* flows stored now */
	uint64_t blocks;	/* blocks stored now */
	uint64_t bytes_used;	/* bytes of the map in use */
	uint64_t map_size;
	uint64_t appended;	/* flows given to store_append, ever */
	uint64_t committed;	/* flows committed, ever (this process) */
	uint64_t commits;	/* write transactions committed */
	uint64_t write_errors;	/* failed writes (disk/map full, I/O) */
	uint64_t dropped;	/* flows lost to failed writes */
	uint64_t expired_blocks;	/* blocks removed by retention */
	uint64_t expired_flows;
	uint64_t compactions;	/* small blocks merged */
	uint64_t oldest_ms;	/* first_ms range of the stored flows */
	uint64_t newest_ms;
	uint64_t pending;	/* flows appended, not yet committed */
	uint64_t damaged_blocks;	/* blocks scans found damaged (skipped) */
} store_stats_t;

/*
 * Open (create) the store described by opts. On failure returns a negative
 * ff_err code and a message in err (errlen bytes); *out is set only on
 * success. The caller owns the store; free it with store_close().
 */
int store_open(const store_opts_t *opts, store_t **out, char *err,
    size_t errlen);

/* Commit what is pending and close the store. Accepts NULL. */
void store_close(store_t *s);

/*
 * Writer thread: add n flows. Rows are buffered; each time block_rows
 * rows are buffered, they are written as one block and committed in one
 * write transaction. Returns 0, or a negative ff_err code when a write
 * failed (counted in write_errors/dropped; the store stays consistent).
 */
int store_append(store_t *s, const store_flow_t *flows, size_t n);

/*
 * Writer thread: write the buffered rows (if any) as one block and commit.
 * Call at least once a second. Returns 0 or a negative ff_err code.
 *
 * Durability: a committed block survives a crash of the process (kill -9)
 * in every mode, so a crash loses at most the flows appended since the
 * last store_commit() (or the last full block), i.e. at most one commit
 * interval of flows; the store itself is never corrupted. Surviving a
 * power loss or OS crash needs the default sync mode (nosync = 0).
 */
int store_commit(store_t *s);

/*
 * Writer thread: enforce retention (age relative to now_ms, size) and
 * merge runs of small blocks, spending about budget_ms at most; also free
 * the reader slots of processes that died while reading. Returns 0 or a
 * negative ff_err code.
 */
int store_maintain(store_t *s, uint64_t now_ms, uint64_t budget_ms);

/* Any thread: a snapshot of the counters. */
void store_get_stats(store_t *s, store_stats_t *st);

/* ------------------------------------------------------------------------
 * Queries. A query is described by a store_qspec_t, compiled once
 * (store_query_compile: parses the filter) and run on a store
 * (store_query_run) into a partial result. Partial results of the same
 * compiled query merge associatively and regardless of order
 * (store_result_merge), serialize with msgpack (store_result_pack/unpack)
 * and print as a table, JSON or CSV (store_result_print).
 * ------------------------------------------------------------------------ */

typedef enum store_qkind {
	STORE_Q_TOTALS = 1,	/* flows, bytes, packets */
	STORE_Q_TOPN,		/* top N keys by an order metric */
	STORE_Q_SERIES,		/* totals per time step */
	STORE_Q_LIST,		/* raw flows ordered by time, limited */
	STORE_Q_DISTINCT	/* number of distinct keys */
} store_qkind_t;

typedef enum store_key {
	STORE_KEY_SRCIP = 1,
	STORE_KEY_DSTIP,
	STORE_KEY_SRCPORT,
	STORE_KEY_DSTPORT,
	STORE_KEY_PROTO,
	STORE_KEY_SRCNET,	/* source prefix of prefix4/prefix6 bits */
	STORE_KEY_DSTNET,
	STORE_KEY_EXPORTER,
	STORE_KEY_INIF,
	STORE_KEY_OUTIF,
	STORE_KEY_SRCAS,
	STORE_KEY_DSTAS
} store_key_t;

typedef enum store_order {
	STORE_ORD_BYTES = 1,
	STORE_ORD_PACKETS,
	STORE_ORD_FLOWS
} store_order_t;

typedef struct store_qspec {
	store_qkind_t kind;
	uint64_t t0, t1;	/* window: flows with t0 <= first_ms < t1;
				   t1 = UINT64_MAX: no end */
	const char *filter;	/* nfdump-style filter text, NULL = all */
	store_key_t key;	/* TOPN, DISTINCT */
	uint8_t prefix4;	/* SRCNET/DSTNET: IPv4 prefix length */
	uint8_t prefix6;	/* SRCNET/DSTNET: IPv6 prefix length */
	store_order_t order;	/* TOPN */
	uint32_t n;		/* TOPN: how many keys to show */
	uint64_t step_ms;	/* SERIES */
	uint32_t limit;		/* LIST: max flows */
	uint64_t max_ms;	/* run-time limit, 0 = none */
	uint64_t max_mem;	/* result memory limit in bytes, 0 = none */
	uint64_t max_rows;	/* max rows (keys/flows) in a result, 0 = none */
	int threads;		/* scan threads, 0 = all cores */
} store_qspec_t;

typedef struct store_query store_query_t;
typedef struct store_result store_result_t;

/*
 * Compile spec (copied; spec->filter need not outlive the call). On a
 * filter syntax error returns FF_ESYNTAX with a message in err naming the
 * offending token and its column. Free with store_query_free().
 */
int store_query_compile(const store_qspec_t *spec, store_query_t **out,
    char *err, size_t errlen);
void store_query_free(store_query_t *q);

/*
 * Run q over store s into a new partial result *out (caller frees with
 * store_result_free). *cancel, if not NULL, is polled between blocks;
 * non-zero cancels (FF_ECANCELED). A limit hit returns FF_ELIMIT or
 * FF_ETIMEDOUT with a message in err. Any thread; many at once.
 */
int store_query_run(store_t *s, const store_query_t *q,
    const volatile int *cancel, store_result_t **out, char *err,
    size_t errlen);

/* An empty result for q, to merge partials into. NULL on ENOMEM. */
store_result_t *store_result_new(const store_query_t *q);
void store_result_free(store_result_t *r);

/*
 * Merge src into dst (both of the same query). Associative and
 * commutative: any grouping and order of merges gives the same result.
 * Returns 0, FF_EINVAL (different queries) or FF_ENOMEM / FF_ELIMIT.
 */
int store_result_merge(store_result_t *dst, const store_result_t *src);

/*
 * Serialize r with msgpack into a new buffer *buf of *len bytes (caller
 * frees with free()). Returns 0 or FF_ENOMEM.
 */
int store_result_pack(const store_result_t *r, uint8_t **buf, size_t *len);

/*
 * Parse a serialized result (untrusted input: every field is validated)
 * into a new *out. Returns 0, FF_EPROTO (malformed, inconsistent, or
 * longer than STORE_RESULT_MAX_BYTES), FF_EVERSION (a well-formed result
 * of another format version) or FF_ENOMEM. Memory used is bounded by a
 * small multiple of len (series: by STORE_SERIES_MAX buckets).
 */
int store_result_unpack(const uint8_t *buf, size_t len,
    store_result_t **out);

#define STORE_RESULT_MAX_BYTES	(512u * 1024 * 1024)
#define STORE_TOPN_MAX		1000000u	/* largest N of a top-N */
#define STORE_LIST_MAX		1000000u	/* largest listing limit */
#define STORE_SERIES_MAX	1000000u	/* most buckets of a series */

/*
 * What a run cost: flows and blocks scanned, time spent. Merging sums
 * every field except elapsed_us, which takes the maximum.
 */
typedef struct store_result_meta {
	uint64_t flows_scanned;
	uint64_t flows_matched;
	uint64_t blocks_scanned;
	uint64_t blocks_skipped;
	uint64_t elapsed_us;
	uint64_t blocks_damaged;	/* unreadable blocks left out */
} store_result_meta_t;
void store_result_get_meta(const store_result_t *r, store_result_meta_t *m);

/*
 * What a result answers. Key order, used for every tie: the 16-byte key
 * compared as unsigned bytes (memcmp). Addresses are IPv4-mapped 16-byte
 * addresses, so IPv4 sorts numerically, after :: and before most IPv6;
 * prefixes are addresses with the host bits cleared; numbers (ports,
 * protocol, interfaces, AS) are big-endian in the last bytes, so they
 * sort numerically.
 */
typedef struct store_result_info {
	store_qkind_t kind;
	store_key_t key;	/* TOPN, DISTINCT; else 0 */
	store_order_t order;	/* TOPN; else 0 */
	uint8_t prefix4, prefix6;	/* SRCNET/DSTNET; else 0 */
	uint32_t n;		/* TOPN */
	uint32_t limit;		/* LIST */
	uint64_t t0, t1;
	uint64_t step_ms;	/* SERIES */
	uint64_t qid;		/* fingerprint of the query (all the above
				   and the filter text) */
	const char *filter;	/* filter text, "" for none; valid while the
				   result lives */
	int subset;		/* TOPN: keys are a selection made by
				   store_result_topk/select/lookup (or merged
				   with one), not every key */
	uint64_t rows;		/* keys (TOPN, DISTINCT: the distinct count),
				   buckets (SERIES), flows (LIST); 0 TOTALS */
	uint64_t flows, bytes, packets;	/* totals of the matching flows */
} store_result_info_t;
void store_result_get_info(const store_result_t *r, store_result_info_t *inf);

/* One key (TOPN, DISTINCT) or time bucket (SERIES) of a result. */
typedef struct store_row {
	uint8_t key[16];	/* see store_result_info_t; SERIES: zero */
	uint64_t t_ms;		/* SERIES: bucket start t0 + i * step_ms */
	uint64_t flows, bytes, packets;	/* DISTINCT: zero */
} store_row_t;

/*
 * Copy r's rows into a new array *rows of *n rows (caller frees with
 * free()) in answer order: TOPN by the order metric descending, ties by
 * key ascending; DISTINCT by key; SERIES every bucket (empty ones too) in
 * time order. max > 0 keeps only the first max rows (TOPN: selected in
 * O(keys log max)). Returns 0, FF_EINVAL (TOTALS, LIST) or FF_ENOMEM.
 */
int store_result_rows(const store_result_t *r, size_t max,
    store_row_t **rows, size_t *n);

/* LIST: r's flows in listing order (*n of them), valid while r lives. */
const store_flow_t *store_result_flows(const store_result_t *r, size_t *n);

/*
 * 1 if a and b hold the same answer: same query, totals, subset flag and
 * rows (DISTINCT: same key set). The cost fields (meta) are ignored.
 */
int store_result_equal(const store_result_t *a, const store_result_t *b);

/*
 * Building blocks of an exact distributed top-N (TPUT, Cao & Wang 2004),
 * run by a node against the complete TOPN aggregate it kept. Each makes
 * a new result *out of the same query holding a selection of r's keys
 * with their exact metrics, marked subset, with r's totals and meta; the
 * caller frees it. Merging two selections made from the same aggregate
 * counts shared keys and the totals twice: merge selections of
 * different nodes only. Return 0, FF_EINVAL (r is not TOPN) or
 * FF_ENOMEM.
 *
 * store_result_topk: the first k keys of r in answer order.
 * store_result_select: every key whose order metric is >= min.
 * store_result_lookup: those of the nkeys keys (16-byte form) r holds.
 */
int store_result_topk(const store_result_t *r, uint32_t k,
    store_result_t **out);
int store_result_select(const store_result_t *r, uint64_t min,
    store_result_t **out);
int store_result_lookup(const store_result_t *r, const uint8_t (*keys)[16],
    size_t nkeys, store_result_t **out);

/*
 * Command-line helpers shared by the node's and the controller's query
 * commands.
 *
 * store_key_parse: "srcip", "dstip", "srcport", "dstport", "proto",
 * "srcnet[/L4[/L6]]", "dstnet[/L4[/L6]]" (default /24 and /64),
 * "exporter" (also nfdump's "router"), "inif", "outif", "srcas",
 * "dstas". Sets *key and, for the prefix keys, *prefix4 and *prefix6 (left
 * alone otherwise). Returns 0 or FF_EINVAL.
 */
int store_key_parse(const char *s, store_key_t *key, uint8_t *prefix4,
    uint8_t *prefix6);
/* "bytes", "packets", "flows" (also "pkts"). Returns 0 or FF_EINVAL. */
int store_order_parse(const char *s, store_order_t *order);
/* Canonical names ("srcip", "bytes", "topn"...), "?" when unknown. */
const char *store_key_name(store_key_t key);
const char *store_order_name(store_order_t order);
const char *store_qkind_name(store_qkind_t kind);

/*
 * Parse a point in time into ms since the epoch: ISO 8601
 * ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00.250+02:00",
 * "2024-05-01"), nfdump's "2024/05/01.12:00:00" (seconds optional), or
 * "@SECONDS" since the epoch. Without a zone designator the time is
 * local (TZ), as nfdump reads it. Returns 0 or FF_EINVAL.
 */
int store_time_parse(const char *s, uint64_t *ms);

typedef enum store_fmt {
	STORE_FMT_TABLE = 1,	/* aligned, human-readable sizes */
	STORE_FMT_JSON,
	STORE_FMT_CSV
} store_fmt_t;

/*
 * A query's identity as msgpack map entries, as the query messages carry
 * it (wire/PROTOCOL.md: QUERY, CTL_QUERY): "kind", "t0", "t1", "filter",
 * "key", "p4", "p6", "order", "n", "step", "limit".
 *
 * store_qspec_write: pack those STORE_QSPEC_FIELDS entries of q with pk
 * (the caller counts them in its map header). Returns 0 or FF_ENOMEM.
 * store_qspec_read: read them from map m (untrusted input: every field
 * checked; other keys ignored) into *q, the filter text copied into
 * filter (filterlen bytes; q->filter points there, NULL for none). The
 * run-time limits of *q are zero. Returns 0, or FF_EPROTO with a
 * message in err.
 */
#define STORE_QSPEC_FIELDS	11
int store_qspec_write(msgpack_packer *pk, const store_qspec_t *q);
int store_qspec_read(const msgpack_object *m, store_qspec_t *q,
    char *filter, size_t filterlen, char *err, size_t errlen);

/*
 * Query options of a command line, shared by the node's and the
 * controller's query commands. A command initializes a store_qargs_t,
 * passes each query option it meets to store_qargs_opt() (name without
 * the dashes: "since", "from", "to", "filter" or "f", "top", "by",
 * "order", "series", "list", "distinct", "json", "csv", "threads",
 * "timeout", "max-rows", "max-mem"), then calls store_qargs_finish().
 * Strings given (the filter) must outlive the spec.
 */
typedef struct store_qargs {
	store_qspec_t spec;	/* the query so far */
	store_fmt_t fmt;	/* --json, --csv; default table */
	int since_set, from_set, to_set, top_set, by_set, distinct_set;
	uint64_t since, from, to;	/* as given */
	int kinds;		/* query kind options given */
} store_qargs_t;

/* Defaults: totals over all time, top 10 by bytes, a table. */
void store_qargs_init(store_qargs_t *a);

/* 1 if option name takes a value, 0 if not, -1 if it is no query option. */
int store_qargs_takes_value(const char *name);

/*
 * Apply option name with value val (NULL for those without). Returns 0,
 * FF_ENOENT when name is not a query option, or FF_EINVAL with a message
 * in err ("--top: wants 1 to 1000000: 'x'").
 */
int store_qargs_opt(store_qargs_t *a, const char *name, const char *val,
    char *err, size_t errlen);

/*
 * Check the options together and set the kind and window (--since
 * counts back from now, ms since the epoch). Returns 0 or FF_EINVAL with
 * a message in err.
 */
int store_qargs_finish(store_qargs_t *a, uint64_t now, char *err,
    size_t errlen);

/*
 * Walk a command's arguments (argv[1..argc-1]): each store_qargs_next()
 * call takes one option, "--name", "--name value", "--name=value" or
 * "-x value", and sets name (without dashes) and val (NULL for an option
 * without value). Which options take a value: those in valued, not those
 * in flags (both NULL-terminated lists of the command's own options, or
 * NULL), else store_qargs_takes_value(). Returns 1 with an option, 0 at
 * the end, FF_EINVAL with a message in err (an unknown option, a missing
 * or an unwanted value, an argument that is no option).
 */
typedef struct store_qargs_iter {
	int argc;
	char **argv;
	const char *const *valued;
	const char *const *flags;
	int i;			/* next argument; start at 1 */
	const char *arg;	/* the argument as given */
	const char *name;
	const char *val;
	char nbuf[32];
} store_qargs_iter_t;
int store_qargs_next(store_qargs_iter_t *it, char *err, size_t errlen);

/*
 * A series whose window was not given in full: start at the window's
 * start (--since, --from) or else at the oldest flow, rounded down to the
 * step; end with --to, or after now (--since) or the newest flow, so
 * that buckets fall on multiples of the step. have_flows says whether
 * oldest_ms/newest_ms are known. No-op for other kinds.
 */
void store_qargs_series_window(store_qargs_t *a, uint64_t now,
    int have_flows, uint64_t oldest_ms, uint64_t newest_ms);

/*
 * Print the final answer of r (top N sorted by the order metric, ties by
 * key ascending; series in time order; listing by time) to fp.
 * Returns 0, FF_EIO or FF_ENOMEM.
 */
int store_result_print(const store_result_t *r, FILE *fp,
    store_fmt_t fmt);

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
