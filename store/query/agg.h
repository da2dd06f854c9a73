/*
 * Internal to the query engine (query.c, agg.c, result*.c): the identity
 * of a query, the hash tables that hold per-key aggregates, the per-thread
 * aggregation state a scan feeds, and the result structure.
 *
 * Keys. Every aggregation key is 16 bytes, handled as two 64-bit words
 * (hi = bytes 0..7 big-endian, lo = bytes 8..15 big-endian), so that
 * comparing (hi, lo) numerically is the same as comparing the 16 bytes
 * with memcmp. Addresses are 16-byte IPv4-mapped addresses; prefixes are
 * addresses with the host bits cleared (the IPv4 length for IPv4-mapped
 * addresses, the IPv6 length otherwise); numbers (ports, protocol,
 * interfaces, AS) are big-endian in the last bytes, so key order is
 * numeric order.
 */
#ifndef FF_STORE_AGG_H
#define FF_STORE_AGG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/store_int.h"

/* Hard limits besides STORE_TOPN_MAX, STORE_LIST_MAX, STORE_SERIES_MAX. */
#define QRY_FILTER_MAX		65536		/* bytes of filter text */

/* The three metrics of a key, a bucket or a total. */
typedef struct aggv {
	uint64_t flows;
	uint64_t bytes;
	uint64_t packets;
} aggv_t;

/* Saturating addition: associative and commutative, like the merge. */
static inline uint64_t
sat_add(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;

	return s < a ? UINT64_MAX : s;
}

static inline void
aggv_add(aggv_t *a, const aggv_t *b)
{
	a->flows = sat_add(a->flows, b->flows);
	a->bytes = sat_add(a->bytes, b->bytes);
	a->packets = sat_add(a->packets, b->packets);
}

/* The order metric of v. */
static inline uint64_t
aggv_metric(const aggv_t *v, int order)
{
	switch (order) {
	case STORE_ORD_PACKETS:
		return v->packets;
	case STORE_ORD_FLOWS:
		return v->flows;
	default:
		return v->bytes;
	}
}

/*
 * What a query asks, normalized: fields that do not apply to the kind are
 * zero. Two partial results merge only when their identities are equal.
 * qid is a 64-bit FNV-1a hash over all the fields and the filter text.
 */
typedef struct qident {
	int kind;		/* store_qkind_t */
	int key;		/* store_key_t, TOPN/DISTINCT */
	int order;		/* store_order_t, TOPN */
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
int qident_from_spec(const store_qspec_t *spec, qident_t *id, char *err,
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
	return id->kind == STORE_Q_TOPN || id->kind == STORE_Q_DISTINCT;
}

/*
 * Memory accounting shared by the threads of a run (or owned by a
 * result): every table, array and heap takes its bytes here before it
 * allocates them. max 0 = no limit.
 */
typedef struct memacct {
	_Atomic uint64_t used;
	uint64_t max;
} memacct_t;

/*
 * Allocate n zeroed bytes (n > 0) for a table or array, NULL on failure;
 * free with big_free(p, n). From 1 MiB on the memory is mapped apart,
 * 2 MiB-aligned and advised for transparent huge pages: filling a large
 * table then faults once per 2 MiB instead of once per 4 KiB page (page
 * faults dominate the cost of a fresh table on virtual machines), and
 * the kernel's zeroing is the only one.
 */
void *big_calloc(size_t n);
/* Free p of n bytes from big_calloc(). Accepts NULL. */
void big_free(void *p, size_t n);

/* Reserve n bytes on m (NULL: no accounting). 0 or FF_ELIMIT. */
int mem_take(memacct_t *m, size_t n);
/* Return n bytes to m. */
void mem_give(memacct_t *m, size_t n);

/* --- hash table of 16-byte keys -------------------------------------- */

/* One slot; v.flows == 0 marks an empty slot (every key has a flow). */
typedef struct kent {
	uint64_t hi, lo;
	aggv_t v;
} kent_t;

typedef struct ktab {
	kent_t *e;
	size_t cap;		/* power of two, or 0 before the first add */
	size_t n;		/* keys held */
	unsigned shift;		/* 64 - log2(cap) */
	memacct_t *ma;		/* NULL: no accounting */
	uint64_t max_rows;	/* 0: no limit */
} ktab_t;

/* An empty table accounting on ma, holding at most max_rows keys. */
void ktab_init(ktab_t *t, memacct_t *ma, uint64_t max_rows);
/* Free the slots (returning their bytes to t->ma). */
void ktab_free(ktab_t *t);
/* Make room for at least n keys. Returns 0, FF_ENOMEM or FF_ELIMIT. */
int ktab_reserve(ktab_t *t, size_t n);

int ktab_grow_(ktab_t *t);
/*
 * Before the keys of src are added to t in src's slot order (a merge):
 * room for all the keys the merge will hold (estimated from a sample of
 * src's keys, see result.c), in at least as many slots as src has. Every
 * table hashes alike, so a table's slots are in hash order, and keys
 * added in that order to a table that has to grow on the way pile up in
 * its front: one probe run that lengthens with every key, a quadratic
 * fill (a 4-million-key distinct count held the controller's loop for
 * over a minute). With room made first they fall in order across the
 * whole table and the fill runs in address order. Best effort: without
 * the memory the adds go on and report the shortage. (A fill sized for
 * its keys up front, like a selection, does not grow.)
 */
void ktab_reserve_fill(ktab_t *t, const ktab_t *src);

static inline size_t
ktab_hash(const ktab_t *t, uint64_t hi, uint64_t lo)
{
	uint64_t x = lo ^ (hi * 0xc2b2ae3d27d4eb4fULL);

	x ^= x >> 31;
	return (size_t)((x * 0x9e3779b97f4a7c15ULL) >> t->shift);
}

/* The slot holding (hi, lo), or NULL. */
static inline kent_t *
ktab_find(const ktab_t *t, uint64_t hi, uint64_t lo)
{
	size_t i, mask = t->cap - 1;

	if (t->cap == 0)
		return NULL;
	for (i = ktab_hash(t, hi, lo);; i = (i + 1) & mask) {
		kent_t *e = &t->e[i];

		if (e->v.flows == 0)
			return NULL;
		if (e->hi == hi && e->lo == lo)
			return e;
	}
}

/*
 * The slot of (hi, lo), added (with zero metrics: the caller adds at
 * least one flow at once) if missing. NULL when the table cannot grow:
 * *err is then FF_ENOMEM or FF_ELIMIT.
 */
static inline kent_t *
ktab_get(ktab_t *t, uint64_t hi, uint64_t lo, int *err)
{
	size_t i, mask;

	for (;;) {
		mask = t->cap - 1;
		if (t->cap != 0) {
			for (i = ktab_hash(t, hi, lo);; i = (i + 1) & mask) {
				kent_t *e = &t->e[i];

				if (e->v.flows == 0)
					break;
				if (e->hi == hi && e->lo == lo)
					return e;
			}
			/* Load factor at most 1/2. */
			if ((t->n + 1) * 2 <= t->cap) {
				if (t->max_rows != 0 && t->n >= t->max_rows) {
					*err = FF_ELIMIT;
					return NULL;
				}
				t->n++;
				t->e[i].hi = hi;
				t->e[i].lo = lo;
				return &t->e[i];
			}
		}
		if ((*err = ktab_grow_(t)) != 0)
			return NULL;
	}
}

/* --- hash table of 32-bit keys (IPv4 addresses, interfaces, AS) ------ */

typedef struct uent {
	uint32_t k;
	uint32_t pad_;
	aggv_t v;		/* v.flows == 0: empty */
} uent_t;

typedef struct utab {
	uent_t *e;
	size_t cap, n;
	unsigned shift;
	memacct_t *ma;
	uint64_t max_rows;
} utab_t;

void utab_init(utab_t *t, memacct_t *ma, uint64_t max_rows);
void utab_free(utab_t *t);
int utab_grow_(utab_t *t);
/* Make room for at least n keys. Returns 0, FF_ENOMEM or FF_ELIMIT. */
int utab_reserve(utab_t *t, size_t n);
/* As ktab_reserve_fill. */
void utab_reserve_fill(utab_t *t, const utab_t *src);

static inline size_t
utab_hash(const utab_t *t, uint32_t k)
{
	return (size_t)(((uint64_t)k * 0x9e3779b97f4a7c15ULL) >> t->shift);
}

/* The slot holding k, or NULL. */
static inline const uent_t *
utab_find(const utab_t *t, uint32_t k)
{
	size_t i, mask = t->cap - 1;

	if (t->cap == 0)
		return NULL;
	for (i = utab_hash(t, k);; i = (i + 1) & mask) {
		const uent_t *e = &t->e[i];

		if (e->v.flows == 0)
			return NULL;
		if (e->k == k)
			return e;
	}
}

static inline uent_t *
utab_get(utab_t *t, uint32_t k, int *err)
{
	size_t i, mask;

	for (;;) {
		mask = t->cap - 1;
		if (t->cap != 0) {
			for (i = utab_hash(t, k);; i = (i + 1) & mask) {
				uent_t *e = &t->e[i];

				if (e->v.flows == 0)
					break;
				if (e->k == k)
					return e;
			}
			if ((t->n + 1) * 2 <= t->cap) {
				if (t->max_rows != 0 && t->n >= t->max_rows) {
					*err = FF_ELIMIT;
					return NULL;
				}
				t->n++;
				t->e[i].k = k;
				return &t->e[i];
			}
		}
		if ((*err = utab_grow_(t)) != 0)
			return NULL;
	}
}

/* --- the result ------------------------------------------------------- */

struct store_result {
	qident_t id;
	int subset;		/* TOPN: keys are a selection (TPUT) */
	aggv_t tot;		/* every matching flow */
	store_result_meta_t meta;
	memacct_t ma;		/* this result's own memory */
	uint64_t max_rows;	/* 0: no limit */
	ktab_t tab;		/* TOPN, DISTINCT (DISTINCT: v = {1,0,0}) */
	aggv_t *bk;		/* SERIES: id.nbuckets buckets */
	store_flow_t *fl;	/* LIST: sorted by flow_cmp, at most limit */
	size_t nfl;
};

/*
 * A new empty result of identity id (copied), its memory limited to
 * max_mem bytes and max_rows rows (0: no limit). NULL on ENOMEM or when
 * the series buckets alone exceed max_mem.
 */
store_result_t *result_new_id(const qident_t *id, uint64_t max_mem,
    uint64_t max_rows);

/*
 * Add to r's table key (hi, lo) with metrics v (DISTINCT: the key only).
 * Returns 0, FF_ENOMEM or FF_ELIMIT.
 */
int result_add_key(store_result_t *r, uint64_t hi, uint64_t lo,
    const aggv_t *v);

/*
 * Merge the sorted flows a[0..na) and b[0..nb) keeping the first limit
 * into a new array *out of *nout flows (accounted on ma). Returns 0,
 * FF_ENOMEM or FF_ELIMIT.
 */
int flows_merge(const store_flow_t *a, size_t na, const store_flow_t *b,
    size_t nb, size_t limit, memacct_t *ma, store_flow_t **out,
    size_t *nout);

/*
 * The total order of listings: first_ms, then last_ms, src, dst, sport,
 * dport, proto, bytes, packets, exporter, nexthop, in_if, out_if, src_as,
 * dst_as, tcp_flags, tos, src_mask, dst_mask, sampling, tags, flags
 * (addresses as 16 bytes, numbers numerically). <0, 0, >0.
 */
int flow_cmp(const store_flow_t *a, const store_flow_t *b);

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
	return key == STORE_KEY_SRCIP || key == STORE_KEY_DSTIP ||
	    key == STORE_KEY_SRCNET || key == STORE_KEY_DSTNET ||
	    key == STORE_KEY_EXPORTER;
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
	if (id->key != STORE_KEY_SRCNET && id->key != STORE_KEY_DSTNET)
		return;
	*m4 = id->prefix4 == 0 ? 0 : UINT32_MAX << (32 - id->prefix4);
	if (p6 <= 64) {
		*mhi = p6 == 0 ? 0 : UINT64_MAX << (64 - p6);
		*mlo = 0;
	} else
		*mlo = p6 == 128 ? UINT64_MAX : UINT64_MAX << (128 - p6);
}

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

/* --- per-thread aggregation ------------------------------------------ */

/*
 * The partial of one scan thread. It is fed column batches with a row
 * selection and folded into a result at the end. No allocation per row:
 * tables grow by doubling.
 */
typedef struct agg {
	const qident_t *id;
	memacct_t *ma;
	uint64_t max_rows;
	int mode;		/* AGG_* in agg.c */
	aggv_t tot;
	aggv_t *dir;		/* ports: 65536 slots, protocol: 256 */
	size_t ndir;
	utab_t u;		/* 32-bit keys; IPv4 addresses and prefixes */
	ktab_t k;		/* 16-byte keys (IPv6 addresses and prefixes) */
	aggv_t *bk;		/* SERIES */
	store_flow_t *heap;	/* LIST: max-heap by flow_cmp */
	size_t nheap, heapcap;
	aggv_t *dacc;		/* per dictionary code of a batch; zero
				   between batches */
	size_t dcap;
} agg_t;

/*
 * Prepare a for identity id, accounting memory on ma, at most max_rows
 * keys (0: no limit). Returns 0, FF_ENOMEM or FF_ELIMIT.
 */
int agg_init(agg_t *a, const qident_t *id, memacct_t *ma, uint64_t max_rows);

/* Free what a holds. */
void agg_free(agg_t *a);

/* The columns agg_add() reads for identity id (STORE_COLBIT mask). */
uint32_t agg_columns(const qident_t *id);

/*
 * The columns among agg_columns() that agg_add() also takes in
 * dictionary form (colbatch_t.dict): the address column of an address
 * key.
 */
uint32_t agg_dict_columns(const qident_t *id);

/*
 * Add the rows of cb selected by sel (bit i of sel[i / 64] for row i;
 * NULL: every row) to a. cb holds at least agg_columns(). Returns 0,
 * FF_ENOMEM or FF_ELIMIT (a is then unusable but can be freed).
 */
int agg_add(agg_t *a, const colbatch_t *cb, const uint64_t *sel);

/*
 * Move the keys of src (TOPN, DISTINCT) into dst (same identity), so
 * that the threads' partials reach the result as one: its table is then
 * sized and filled once. Returns 0, FF_ENOMEM or FF_ELIMIT (dst is then
 * unusable but can be freed). Other kinds: no-op.
 */
int agg_merge(agg_t *dst, agg_t *src);

/*
 * Fold a into r (same identity) and empty a. Returns 0, FF_ENOMEM or
 * FF_ELIMIT.
 */
int agg_finish(agg_t *a, store_result_t *r);

/* --- compiled query ---------------------------------------------------- */

struct store_query {
	qident_t id;
	store_filter_t *filter;
	uint32_t cols;		/* columns a scan decodes */
	uint32_t dcols;		/* ... of which it may give as dictionaries */
	uint32_t ecols;		/* ... of which only blocks the window cuts
				   need */
	uint64_t max_ms, max_mem, max_rows;
	int threads;
	uint64_t (*clock_ms)(void);	/* mono_ms; a test may fake it */
};

#endif
