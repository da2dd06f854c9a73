/*
 * query: the query engine over the flow storage. A query is described by
 * a query_spec_t, compiled once (query_compile: checks the spec and
 * parses the filter) and run over a store (query_run) into a partial
 * result. Partial results of the same compiled query merge
 * associatively and regardless of order (query_result_merge), serialize
 * with msgpack (query_result_pack/unpack) and print as a table, JSON or
 * CSV (query_result_print). A node's complete top-N aggregate also gives
 * the selections of an exact distributed top-N (TPUT). Besides: the
 * query options of a command line (query_args_*), a query's identity in
 * msgpack (query_spec_*), and the text and JSON forms of a flow.
 *
 * Prefix query_. Functions return 0 or a negative ff_err code. Only
 * query_run reads the storage: a program that merges, packs and prints
 * results (the controller, the CLI) needs no store.
 */
#ifndef FF_QUERY_H
#define FF_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "store/store.h"

typedef enum query_kind {
	QUERY_TOTALS = 1,	/* flows, bytes, packets */
	QUERY_TOPN,		/* top N keys by an order metric */
	QUERY_SERIES,		/* totals per time step */
	QUERY_LIST,		/* raw flows ordered by time, limited */
	QUERY_DISTINCT		/* number of distinct keys */
} query_kind_t;

typedef enum query_key {
	QUERY_KEY_SRCIP = 1,
	QUERY_KEY_DSTIP,
	QUERY_KEY_SRCPORT,
	QUERY_KEY_DSTPORT,
	QUERY_KEY_PROTO,
	QUERY_KEY_SRCNET,	/* source prefix of prefix4/prefix6 bits */
	QUERY_KEY_DSTNET,
	QUERY_KEY_EXPORTER,
	QUERY_KEY_INIF,
	QUERY_KEY_OUTIF,
	QUERY_KEY_SRCAS,
	QUERY_KEY_DSTAS
} query_key_t;

typedef enum query_order {
	QUERY_ORDER_BYTES = 1,
	QUERY_ORDER_PACKETS,
	QUERY_ORDER_FLOWS
} query_order_t;

typedef struct query_spec {
	query_kind_t kind;
	uint64_t t0, t1;	/* window: flows with t0 <= first_ms < t1;
				   t1 = UINT64_MAX: no end */
	const char *filter;	/* nfdump-style filter text, NULL = all */
	query_key_t key;	/* TOPN, DISTINCT */
	uint8_t prefix4;	/* SRCNET/DSTNET: IPv4 prefix length */
	uint8_t prefix6;	/* SRCNET/DSTNET: IPv6 prefix length */
	query_order_t order;	/* TOPN */
	uint32_t n;		/* TOPN: how many keys to show */
	uint64_t step_ms;	/* SERIES */
	uint32_t limit;		/* LIST: max flows */
	uint64_t max_ms;	/* run-time limit, 0 = none */
	uint64_t max_mem;	/* result memory limit in bytes, 0 = none */
	uint64_t max_rows;	/* max rows (keys/flows) in a result, 0 = none */
	int threads;		/* scan threads, 0 = all cores */
} query_spec_t;

typedef struct query query_t;
typedef struct query_result query_result_t;

/*
 * Compile spec (copied; spec->filter need not outlive the call). On a
 * filter syntax error returns FF_ESYNTAX with a message in err naming the
 * offending token and its column. Free with query_free().
 */
int query_compile(const query_spec_t *spec, query_t **out,
    char *err, size_t errlen);
/* Free a compiled query. Accepts NULL. */
void query_free(query_t *q);

/*
 * Run q over store s into a new partial result *out (caller frees with
 * query_result_free). *cancel, if not NULL, is polled between blocks;
 * non-zero cancels (FF_ECANCELED). A limit hit returns FF_ELIMIT or
 * FF_ETIMEDOUT with a message in err. Any thread; many at once.
 */
int query_run(store_t *s, const query_t *q,
    const volatile int *cancel, query_result_t **out, char *err,
    size_t errlen);

/* An empty result for q, to merge partials into. NULL on ENOMEM. */
query_result_t *query_result_new(const query_t *q);
/* Free a result. Accepts NULL. */
void query_result_free(query_result_t *r);

/*
 * Merge src into dst (both of the same query). Associative and
 * commutative: any grouping and order of merges gives the same result.
 * Returns 0, FF_EINVAL (different queries) or FF_ENOMEM / FF_ELIMIT.
 */
int query_result_merge(query_result_t *dst, const query_result_t *src);

/*
 * Serialize r with msgpack into a new buffer *buf of *len bytes (caller
 * frees with free()). Returns 0 or FF_ENOMEM.
 */
int query_result_pack(const query_result_t *r, uint8_t **buf, size_t *len);

/*
 * Parse a serialized result (untrusted input: every field is validated)
 * into a new *out. Returns 0, FF_EPROTO (malformed, inconsistent, or
 * longer than QUERY_RESULT_MAX_BYTES), FF_EVERSION (a well-formed result
 * of another format version) or FF_ENOMEM. Memory used is bounded by a
 * small multiple of len (series: by QUERY_SERIES_MAX buckets).
 */
int query_result_unpack(const uint8_t *buf, size_t len,
    query_result_t **out);

#define QUERY_RESULT_MAX_BYTES	(512u * 1024 * 1024)
#define QUERY_TOPN_MAX		1000000u	/* largest N of a top-N */
#define QUERY_LIST_MAX		1000000u	/* largest listing limit */
#define QUERY_SERIES_MAX	1000000u	/* most buckets of a series */

/*
 * What a run cost: flows and blocks scanned, time spent. Merging sums
 * every field except elapsed_us, which takes the maximum.
 */
typedef struct query_meta {
	uint64_t flows_scanned;
	uint64_t flows_matched;
	uint64_t blocks_scanned;
	uint64_t blocks_skipped;
	uint64_t elapsed_us;
	uint64_t blocks_damaged;	/* unreadable blocks left out */
} query_meta_t;
void query_result_get_meta(const query_result_t *r, query_meta_t *m);

/*
 * What a result answers. Key order, used for every tie: the 16-byte key
 * compared as unsigned bytes (memcmp). Addresses are IPv4-mapped 16-byte
 * addresses, so IPv4 sorts numerically, after :: and before most IPv6;
 * prefixes are addresses with the host bits cleared; numbers (ports,
 * protocol, interfaces, AS) are big-endian in the last bytes, so they
 * sort numerically.
 */
typedef struct query_info {
	query_kind_t kind;
	query_key_t key;	/* TOPN, DISTINCT; else 0 */
	query_order_t order;	/* TOPN; else 0 */
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
				   query_result_topk/select/lookup (or merged
				   with one), not every key */
	uint64_t rows;		/* keys (TOPN, DISTINCT: the distinct count),
				   buckets (SERIES), flows (LIST); 0 TOTALS */
	uint64_t flows, bytes, packets;	/* totals of the matching flows */
} query_info_t;
void query_result_get_info(const query_result_t *r, query_info_t *inf);

/*
 * What the printed answer of a top N says about its number of distinct
 * keys when r holds a selection of them (a fleet's answer, cut to its
 * first N keys): known, the exact count n ("keys": n, "subset": false,
 * "n distinct KEY" in the table, as one node's answer says it); not
 * known ("keys": null, "subset": true, no count in the table). Only
 * printing reads it: it is neither packed, merged nor compared.
 */
void query_result_set_keys(query_result_t *r, int known, uint64_t n);

/* One key (TOPN, DISTINCT) or time bucket (SERIES) of a result. */
typedef struct query_row {
	uint8_t key[16];	/* see query_info_t; SERIES: zero */
	uint64_t t_ms;		/* SERIES: bucket start t0 + i * step_ms */
	uint64_t flows, bytes, packets;	/* DISTINCT: zero */
} query_row_t;

/*
 * Copy r's rows into a new array *rows of *n rows (caller frees with
 * free()) in answer order: TOPN by the order metric descending, ties by
 * key ascending; DISTINCT by key; SERIES every bucket (empty ones too) in
 * time order. max > 0 keeps only the first max rows (TOPN: selected in
 * O(keys log max)). Returns 0, FF_EINVAL (TOTALS, LIST) or FF_ENOMEM.
 */
int query_result_rows(const query_result_t *r, size_t max,
    query_row_t **rows, size_t *n);

/* LIST: r's flows in listing order (*n of them), valid while r lives. */
const store_flow_t *query_result_flows(const query_result_t *r, size_t *n);

/*
 * 1 if a and b hold the same answer: same query, totals, subset flag and
 * rows (DISTINCT: same key set). The cost fields (meta) are ignored.
 */
int query_result_equal(const query_result_t *a, const query_result_t *b);

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
 * query_result_topk: the first k keys of r in answer order.
 * query_result_select: every key whose order metric is >= min.
 * query_result_lookup: those of the nkeys keys (16-byte form) r holds.
 */
int query_result_topk(const query_result_t *r, uint32_t k,
    query_result_t **out);
int query_result_select(const query_result_t *r, uint64_t min,
    query_result_t **out);
int query_result_lookup(const query_result_t *r, const uint8_t (*keys)[16],
    size_t nkeys, query_result_t **out);

/*
 * Command-line helpers shared by the node's and the controller's query
 * commands.
 *
 * query_key_parse: "srcip", "dstip", "srcport", "dstport", "proto",
 * "srcnet[/L4[/L6]]", "dstnet[/L4[/L6]]" (default /24 and /64),
 * "exporter" (also nfdump's "router"), "inif", "outif", "srcas",
 * "dstas". Sets *key and, for the prefix keys, *prefix4 and *prefix6 (left
 * alone otherwise). Returns 0 or FF_EINVAL.
 */
int query_key_parse(const char *s, query_key_t *key, uint8_t *prefix4,
    uint8_t *prefix6);
/* "bytes", "packets", "flows" (also "pkts"). Returns 0 or FF_EINVAL. */
int query_order_parse(const char *s, query_order_t *order);
/* Canonical names ("srcip", "bytes", "topn"...), "?" when unknown. */
const char *query_key_name(query_key_t key);
const char *query_order_name(query_order_t order);
const char *query_kind_name(query_kind_t kind);

/*
 * Parse a point in time into ms since the epoch: ISO 8601
 * ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00.250+02:00",
 * "2024-05-01"), nfdump's "2024/05/01.12:00:00" (seconds optional), or
 * "@SECONDS" since the epoch. Without a zone designator the time is
 * local (TZ), as nfdump reads it. Returns 0 or FF_EINVAL.
 */
int query_time_parse(const char *s, uint64_t *ms);

typedef enum query_fmt {
	QUERY_FMT_TABLE = 1,	/* aligned, human-readable sizes */
	QUERY_FMT_JSON,
	QUERY_FMT_CSV
} query_fmt_t;

/*
 * A query's identity as msgpack map entries, as the query messages carry
 * it (wire/PROTOCOL.md: QUERY, CTL_QUERY): "kind", "t0", "t1", "filter",
 * "key", "p4", "p6", "order", "n", "step", "limit".
 *
 * query_spec_write: pack those QUERY_SPEC_FIELDS entries of q with pk
 * (the caller counts them in its map header). Returns 0 or FF_ENOMEM.
 * query_spec_read: read them from map m (untrusted input: every field
 * checked; other keys ignored) into *q, the filter text copied into
 * filter (filterlen bytes; q->filter points there, NULL for none). The
 * run-time limits of *q are zero. Returns 0, or FF_EPROTO with a
 * message in err.
 */
#define QUERY_SPEC_FIELDS	11
int query_spec_write(msgpack_packer *pk, const query_spec_t *q);
int query_spec_read(const msgpack_object *m, query_spec_t *q,
    char *filter, size_t filterlen, char *err, size_t errlen);

/*
 * Query options of a command line, shared by the node's and the
 * controller's query commands. A command initializes a query_args_t,
 * passes each query option it meets to query_args_opt() (name without
 * the dashes: "since", "from", "to", "filter" or "f", "top", "by",
 * "order", "series", "list", "distinct", "json", "csv", "threads",
 * "timeout", "max-rows", "max-mem"), then calls query_args_finish().
 * Strings given (the filter) must outlive the spec.
 */
typedef struct query_args {
	query_spec_t spec;	/* the query so far */
	query_fmt_t fmt;	/* --json, --csv; default table */
	int since_set, from_set, to_set, top_set, by_set, distinct_set;
	uint64_t since, from, to;	/* as given */
	int kinds;		/* query kind options given */
} query_args_t;

/* Defaults: totals over all time, top 10 by bytes, a table. */
void query_args_init(query_args_t *a);

/* 1 if option name takes a value, 0 if not, -1 if it is no query option. */
int query_args_takes_value(const char *name);

/*
 * Apply option name with value val (NULL for those without). Returns 0,
 * FF_ENOENT when name is not a query option, or FF_EINVAL with a message
 * in err ("--top: wants 1 to 1000000: 'x'").
 */
int query_args_opt(query_args_t *a, const char *name, const char *val,
    char *err, size_t errlen);

/*
 * Check the options together and set the kind and window (--since
 * counts back from now, ms since the epoch). Returns 0 or FF_EINVAL with
 * a message in err.
 */
int query_args_finish(query_args_t *a, uint64_t now, char *err,
    size_t errlen);

/*
 * Walk a command's arguments (argv[1..argc-1]): each query_args_next()
 * call takes one option, "--name", "--name value", "--name=value" or
 * "-x value", and sets name (without dashes) and val (NULL for an option
 * without value). Which options take a value: those in valued, not those
 * in flags (both NULL-terminated lists of the command's own options, or
 * NULL), else query_args_takes_value(). Returns 1 with an option, 0 at
 * the end, FF_EINVAL with a message in err (an unknown option, a missing
 * or an unwanted value, an argument that is no option).
 */
typedef struct query_args_iter {
	int argc;
	char **argv;
	const char *const *valued;
	const char *const *flags;
	int i;			/* next argument; start at 1 */
	const char *arg;	/* the argument as given */
	const char *name;
	const char *val;
	char nbuf[32];
} query_args_iter_t;
int query_args_next(query_args_iter_t *it, char *err, size_t errlen);

/*
 * A series whose window was not given in full: start at the window's
 * start (--since, --from) or else at the oldest flow, rounded down to the
 * step; end with --to, or after now (--since) or the newest flow, so
 * that buckets fall on multiples of the step. have_flows says whether
 * oldest_ms/newest_ms are known. No-op for other kinds.
 */
void query_args_series_window(query_args_t *a, uint64_t now,
    int have_flows, uint64_t oldest_ms, uint64_t newest_ms);

/*
 * Print the final answer of r (top N sorted by the order metric, ties by
 * key ascending; series in time order; listing by time) to fp.
 * Returns 0, FF_EIO or FF_ENOMEM.
 */
int query_result_print(const query_result_t *r, FILE *fp,
    query_fmt_t fmt);

/* Buffer sizes that always suffice for the formatters below. */
#define QUERY_FLOW_LINE_MAX 384
#define QUERY_FLOW_JSON_MAX 768

/*
 * Format flow f as one human-readable line (no newline) into buf of len
 * bytes: start time, duration, protocol, src:port -> dst:port, TCP flags,
 * packets, bytes, interfaces, AS, ToS, next hop, sampling, exporter, then
 * " name value" for each column store/columns.def marks for listings.
 * Returns the length written (truncated to len - 1).
 */
size_t query_flow_fmt_line(const store_flow_t *f, char *buf, size_t len);

/*
 * Format flow f as one JSON object (no newline; the columns marked for
 * listings last). Returns the length.
 */
size_t query_flow_fmt_json(const store_flow_t *f, char *buf, size_t len);

/* Name of IP protocol p ("TCP", "UDP", ...) or its number in buf. */
const char *query_proto_name(uint8_t p, char buf[8]);

/* TCP flags as nfdump writes them ("..AP.SF" style, 8 chars CEUAPRSF). */
const char *query_tcp_flags_str(uint8_t flags, char buf[9]);

#endif
