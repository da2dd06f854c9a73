/*
 * Internal to the query engine: the three metrics of a key, memory
 * accounting, and the hash tables that hold per-key aggregates (ktab.c;
 * filled by the aggregation, agg.c, and by the results, result.c).
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
#ifndef FF_QUERY_KTAB_H
#define FF_QUERY_KTAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "query.h"

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
	case QUERY_ORDER_PACKETS:
		return v->packets;
	case QUERY_ORDER_FLOWS:
		return v->flows;
	default:
		return v->bytes;
	}
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
 * src's keys, see ktab.c), in at least as many slots as src has. Every
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

#endif
