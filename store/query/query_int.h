/*
 * Internal to the query engine: the identity of a query, the result
 * structure, listed flows, keys, names, the answer order, and the
 * compiled query.
 */
#ifndef FF_QUERY_INT_H
#define FF_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "ktab.h"
#include "query.h"

/* Hard limits besides QUERY_TOPN_MAX, QUERY_LIST_MAX, QUERY_SERIES_MAX. */
#define QRY_FILTER_MAX		65536		/* bytes of filter text */

/*
 * What a query asks, normalized: fields that do not apply to the kind are
 * zero. Two partial results merge only when their identities are equal.
 * qid is a 64-bit FNV-1a hash over all the fields and the filter text.
 */
typedef struct qident {
	int kind;		/* query_kind_t */
	int key;		/* query_key_t, TOPN/DISTINCT */
	int order;		/* query_order_t, TOPN */
	uint8_t prefix4, prefix6;	/* SRCNET/DSTNET */
	uint32_t n;		/* TOPN */
	uint32_t limit;		/* LIST */
	uint64_t t0, t1;
	uint64_t step_ms;	/* SERIES */
	uint64_t nbuckets;	/* SERIES: ceil((t1 - t0) / step_ms) */
	uint64_t qid;
	char *filter;		/* owned; "" for none */
} qident_t;

/*
 * Validate spec and fill *id (normalizing what does not apply to the
 * kind; id->filter is a copy of the filter text). Returns 0, FF_EINVAL
 * with a message in err, or FF_ENOMEM.
 */
int qident_from_spec(const query_spec_t *spec, qident_t *id, char *err,
    size_t errlen);

/*
 * Check the fields of an identity read from the wire and compute its qid
 * (the filter text is not parsed). Returns 0 or FF_EPROTO.
 */
int qident_check(qident_t *id);

/* Copy src into dst (duplicating the filter). Returns 0 or FF_ENOMEM. */
int qident_copy(qident_t *dst, const qident_t *src);

/* 1 if a and b describe the same query. */
int qident_equal(const qident_t *a, const qident_t *b);

/* Free what id owns. */
void qident_clear(qident_t *id);

/* 1 if kind/key take per-key aggregates (TOPN, DISTINCT). */
static inline int
qident_keyed(const qident_t *id)
{
	return id->kind == QUERY_TOPN || id->kind == QUERY_DISTINCT;
}


/* --- the result ------------------------------------------------------- */

struct query_result {
	qident_t id;
	int subset;		/* TOPN: keys are a selection (TPUT) */
	aggv_t tot;		/* every matching flow */
	query_meta_t meta;
	memacct_t ma;		/* this result's own memory */
	uint64_t max_rows;	/* 0: no limit */
	ktab_t tab;		/* TOPN, DISTINCT (DISTINCT: v = {1,0,0}) */
	aggv_t *bk;		/* SERIES: id.nbuckets buckets */
	store_flow_t *fl;	/* LIST: sorted by flow_cmp, at most limit */
	size_t nfl;
	/* query_result_set_keys: printing only */
	int keys_given, keys_known;
	uint64_t keys;
};

/*
 * A new empty result of identity id (copied), its memory limited to
 * max_mem bytes and max_rows rows (0: no limit). NULL on ENOMEM or when
 * the series buckets alone exceed max_mem.
 */
query_result_t *result_new_id(const qident_t *id, uint64_t max_mem,
    uint64_t max_rows);

/*
 * Add to r's table key (hi, lo) with metrics v (DISTINCT: the key only).
 * Returns 0, FF_ENOMEM or FF_ELIMIT.
 */
int result_add_key(query_result_t *r, uint64_t hi, uint64_t lo,
    const aggv_t *v);

/*
 * Merge the sorted flows a[0..na) and b[0..nb) keeping the first limit
 * into a new array *out of *nout flows (accounted on ma). Returns 0,
 * FF_ENOMEM or FF_ELIMIT.
 */
int flows_merge(const store_flow_t *a, size_t na, const store_flow_t *b,
    size_t nb, size_t limit, memacct_t *ma, store_flow_t **out,
    size_t *nout);

/* A field of a flow record: where it is, how wide (16: an address). */
struct flow_field {
	size_t off;
	unsigned width;
};

/*
 * The fields of store_flow_t by rank (columns.def): the total order of
 * listings, and the order of a listed flow's fields on the wire.
 */
extern const struct flow_field flow_fields[STORE_COL_COUNT];

/*
 * The total order of listings: the fields by rank (columns.def: first_ms,
 * then last_ms, src, dst, sport, dport, proto, bytes, packets, exporter,
 * nexthop, in_if, out_if, src_as, dst_as, tcp_flags, tos, src_mask,
 * dst_mask, sampling, tags, flags), addresses as 16 bytes, numbers
 * numerically. <0, 0, >0.
 */
int flow_cmp(const store_flow_t *a, const store_flow_t *b);

/*
 * Address column col (STORE_COL_SRC, _DST or _NEXTHOP) of flow f as
 * text in buf (len bytes, ADDR_STRLEN will do). NULL when the export
 * reported no such address (STORE_FLOW_F_NO_SRC, _NO_DST, _NO_NH):
 * listings print "-", JSON null, CSV an empty field. The next hop of an
 * IPv4 flow reads "0.0.0.0" when it is zero (NetFlow's "none"), however
 * it was stored.
 */
const char *flow_addr(const store_flow_t *f, int col, char *buf,
    size_t len);

/*
 * The columns listings print after their fixed fields (columns.def: list
 * 1) of flow f, appended to buf (len bytes; truncated, NUL-terminated):
 * FLOW_EXTRA_LINE " name value" (the flow line), FLOW_EXTRA_JSON
 * ",\"name\":value", FLOW_EXTRA_CSV ",value", FLOW_EXTRA_CSV_HEADER
 * ",name" (f may be NULL). Returns the length written.
 */
enum {
	FLOW_EXTRA_LINE = 1,
	FLOW_EXTRA_JSON,
	FLOW_EXTRA_CSV,
	FLOW_EXTRA_CSV_HEADER
};
size_t flow_fmt_extra(const store_flow_t *f, int form, char *buf,
    size_t len);

/* Key <-> bytes. */
static inline void
key_to_bytes(uint64_t hi, uint64_t lo, uint8_t out[16])
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(hi >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}

static inline void
key_from_bytes(const uint8_t in[16], uint64_t *hi, uint64_t *lo)
{
	uint64_t h = 0, l = 0;

	for (int i = 0; i < 8; i++) {
		h = h << 8 | in[i];
		l = l << 8 | in[8 + i];
	}
	*hi = h;
	*lo = l;
}

#define KEY_V4MAPPED	0x0000ffff00000000ULL

/* 1 if key (hi, lo) is an IPv4-mapped address. */
static inline int
key_is_v4(uint64_t hi, uint64_t lo)
{
	return hi == 0 && (lo >> 32) == 0xffff;
}

/* 1 if the key type is an address (or a prefix). */
static inline int
key_is_addr(int key)
{
	return key == QUERY_KEY_SRCIP || key == QUERY_KEY_DSTIP ||
	    key == QUERY_KEY_SRCNET || key == QUERY_KEY_DSTNET ||
	    key == QUERY_KEY_EXPORTER;
}

/*
 * Masks of id's key: the prefix lengths of SRCNET/DSTNET (m4 applies to
 * the IPv4 address in the low 32 bits), all ones for other keys.
 */
static inline void
key_masks(const qident_t *id, uint32_t *m4, uint64_t *mhi, uint64_t *mlo)
{
	unsigned p6 = id->prefix6;

	*m4 = UINT32_MAX;
	*mhi = *mlo = UINT64_MAX;
	if (id->key != QUERY_KEY_SRCNET && id->key != QUERY_KEY_DSTNET)
		return;
	*m4 = id->prefix4 == 0 ? 0 : UINT32_MAX << (32 - id->prefix4);
	if (p6 <= 64) {
		*mhi = p6 == 0 ? 0 : UINT64_MAX << (64 - p6);
		*mlo = 0;
	} else
		*mlo = p6 == 128 ? UINT64_MAX : UINT64_MAX << (128 - p6);
}

/* The column key type key reads (an address key: its address column). */
int key_column(int key);

/* Largest value of a numeric key type. */
uint64_t key_max(int key);

/*
 * Check that (hi, lo) is a valid key of identity id (range of numbers,
 * host bits of prefixes clear). 1 if valid.
 */
int key_valid(const qident_t *id, uint64_t hi, uint64_t lo);

/* Names, for printing and the command line. */
const char *qkind_name(int kind);
const char *qkey_name(int key);
const char *qorder_name(int order);

/*
 * The first max entries of t in answer order (max 0: all): by the order
 * metric descending, ties by key ascending (bykey: by key ascending),
 * into a new array *out of *nout entries (caller frees with free()).
 * Returns 0 or FF_ENOMEM.
 */
int kents_top(const ktab_t *t, int order, int bykey, size_t max,
    kent_t **out, size_t *nout);

/* --- compiled query ---------------------------------------------------- */

struct query {
	qident_t id;
	query_filter_t *filter;
	uint32_t cols;		/* columns a scan decodes */
	uint32_t dcols;		/* ... of which it may give as dictionaries */
	uint32_t ecols;		/* ... of which only blocks the window cuts
				   need */
	uint64_t max_ms, max_mem, max_rows;
	int threads;
	uint64_t (*clock_ms)(void);	/* mono_ms; a test may fake it */
};

#endif
