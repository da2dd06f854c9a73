/*
 * Memory accounting and the hash tables of 16-byte and 32-bit keys that
 * hold per-key aggregates (ktab.h): below the aggregation and the
 * results, which both fill them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/err.h"
#include "common/util.h"
#include "ktab.h"

/* --- memory ---------------------------------------------------------------- */

#define HUGE_PAGE	(2u * 1024 * 1024)

/* Bytes mapped for a big allocation of n bytes. */
static size_t
big_size(size_t n)
{
	return (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

void *
big_calloc(size_t n)
{
	uint8_t *p, *a;
	size_t sz, head;

	if (n < HUGE_PAGE / 2)
		return calloc(1, n);
	if (n > SIZE_MAX - 2 * HUGE_PAGE)
		return NULL;
	sz = big_size(n);
	/* Map one huge page more and trim to a 2 MiB boundary. */
	p = mmap(NULL, sz + HUGE_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) &
	    ~(uintptr_t)(HUGE_PAGE - 1));
	head = (size_t)(a - p);
	if (head > 0)
		munmap(p, head);
	if (HUGE_PAGE - head > 0)
		munmap(a + sz, HUGE_PAGE - head);
	/* Advice only: without THP the pages are just 4 KiB ones. */
	(void)madvise(a, sz, MADV_HUGEPAGE);
	return a;
}

void
big_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	if (n < HUGE_PAGE / 2)
		free(p);
	else
		munmap(p, big_size(n));
}

int
mem_take(memacct_t *m, size_t n)
{
	uint64_t u;

	if (m == NULL)
		return 0;
	u = atomic_fetch_add(&m->used, (uint64_t)n) + n;
	if (m->max != 0 && u > m->max) {
		atomic_fetch_sub(&m->used, (uint64_t)n);
		return FF_ELIMIT;
	}
	return 0;
}

void
mem_give(memacct_t *m, size_t n)
{
	if (m != NULL)
		atomic_fetch_sub(&m->used, (uint64_t)n);
}

/* --- hash tables ---------------------------------------------------------- */

#define TAB_MIN_CAP	256

void
ktab_init(ktab_t *t, memacct_t *ma, uint64_t max_rows)
{
	memset(t, 0, sizeof(*t));
	t->ma = ma;
	t->max_rows = max_rows;
}

void
ktab_free(ktab_t *t)
{
	if (t->e != NULL) {
		big_free(t->e, t->cap * sizeof(kent_t));
		mem_give(t->ma, t->cap * sizeof(kent_t));
	}
	t->e = NULL;
	t->cap = t->n = 0;
}

static unsigned
log2_pow2(size_t cap)
{
	unsigned b = 0;

	while (((size_t)1 << b) < cap)
		b++;
	return b;
}

/* Rehash t into ncap slots. */
static int
ktab_resize(ktab_t *t, size_t ncap)
{
	kent_t *ne;
	unsigned nshift;
	size_t mask = ncap - 1;
	int err;

	if (ncap > SIZE_MAX / sizeof(kent_t))
		return FF_ENOMEM;
	if ((err = mem_take(t->ma, ncap * sizeof(kent_t))) != 0)
		return err;
	if ((ne = big_calloc(ncap * sizeof(kent_t))) == NULL) {
		mem_give(t->ma, ncap * sizeof(kent_t));
		return FF_ENOMEM;
	}
	nshift = 64 - log2_pow2(ncap);
	for (size_t i = 0; i < t->cap; i++) {
		const kent_t *o = &t->e[i];
		uint64_t x;
		size_t j;

		if (o->v.flows == 0)
			continue;
		x = o->lo ^ (o->hi * 0xc2b2ae3d27d4eb4fULL);
		x ^= x >> 31;
		j = (size_t)((x * 0x9e3779b97f4a7c15ULL) >> nshift);
		while (ne[j].v.flows != 0)
			j = (j + 1) & mask;
		ne[j] = *o;
	}
	if (t->e != NULL) {
		big_free(t->e, t->cap * sizeof(kent_t));
		mem_give(t->ma, t->cap * sizeof(kent_t));
	}
	t->e = ne;
	t->cap = ncap;
	t->shift = nshift;
	return 0;
}

/* The slots a table of cap slots needs for n keys at a load of at most
   1/2 (cap itself when it has them). 0: too many. */
static size_t
cap_for(size_t cap, size_t n)
{
	if (n > SIZE_MAX / 4)
		return 0;
	if (cap == 0)
		cap = TAB_MIN_CAP;
	while (cap < n * 2)
		cap *= 2;
	return cap;
}

int
ktab_grow_(ktab_t *t)
{
	if (t->cap > SIZE_MAX / 2)
		return FF_ENOMEM;
	return ktab_resize(t, t->cap == 0 ? TAB_MIN_CAP : t->cap * 2);
}

int
ktab_reserve(ktab_t *t, size_t n)
{
	size_t cap = cap_for(t->cap, n);

	if (cap == 0)
		return FF_ENOMEM;
	return cap == t->cap ? 0 : ktab_resize(t, cap);
}

void
utab_init(utab_t *t, memacct_t *ma, uint64_t max_rows)
{
	memset(t, 0, sizeof(*t));
	t->ma = ma;
	t->max_rows = max_rows;
}

void
utab_free(utab_t *t)
{
	if (t->e != NULL) {
		big_free(t->e, t->cap * sizeof(uent_t));
		mem_give(t->ma, t->cap * sizeof(uent_t));
	}
	t->e = NULL;
	t->cap = t->n = 0;
}

/* Rehash t into ncap slots. */
static int
utab_resize(utab_t *t, size_t ncap)
{
	size_t mask = ncap - 1;
	unsigned nshift;
	uent_t *ne;
	int err;

	if (ncap > SIZE_MAX / sizeof(uent_t))
		return FF_ENOMEM;
	if ((err = mem_take(t->ma, ncap * sizeof(uent_t))) != 0)
		return err;
	if ((ne = big_calloc(ncap * sizeof(uent_t))) == NULL) {
		mem_give(t->ma, ncap * sizeof(uent_t));
		return FF_ENOMEM;
	}
	nshift = 64 - log2_pow2(ncap);
	for (size_t i = 0; i < t->cap; i++) {
		const uent_t *o = &t->e[i];
		size_t j;

		if (o->v.flows == 0)
			continue;
		j = (size_t)(((uint64_t)o->k * 0x9e3779b97f4a7c15ULL) >>
		    nshift);
		while (ne[j].v.flows != 0)
			j = (j + 1) & mask;
		ne[j] = *o;
	}
	if (t->e != NULL) {
		big_free(t->e, t->cap * sizeof(uent_t));
		mem_give(t->ma, t->cap * sizeof(uent_t));
	}
	t->e = ne;
	t->cap = ncap;
	t->shift = nshift;
	return 0;
}

int
utab_grow_(utab_t *t)
{
	if (t->cap > SIZE_MAX / 2)
		return FF_ENOMEM;
	return utab_resize(t, t->cap == 0 ? TAB_MIN_CAP : t->cap * 2);
}

int
utab_reserve(utab_t *t, size_t n)
{
	size_t cap = cap_for(t->cap, n);

	if (cap == 0)
		return FF_ENOMEM;
	return cap == t->cap ? 0 : utab_resize(t, cap);
}

/*
 * How many keys a merge of src (src_n keys in src_cap slots) into a
 * table of dst_n keys will hold, estimated from FILL_SAMPLES of src's
 * keys spread over its slots (present(): is slot i's key in the
 * destination already), plus a margin of 1/32 of src_n (about one
 * standard error of the sample), at most dst_n + src_n. Too low by a
 * little only makes the table grow late in the fill, while it is still
 * barely over half full.
 */
#define FILL_SAMPLES	256

static size_t
fill_estimate(size_t dst_n, size_t src_n, size_t src_cap,
    int (*used)(const void *src, size_t i),
    int (*present)(const void *dst, const void *src, size_t i),
    const void *dst, const void *src)
{
	size_t step, seen = 0, fresh = 0, est;

	if (dst_n == 0 || src_n == 0 || src_cap < FILL_SAMPLES)
		return dst_n + src_n;
	step = src_cap / FILL_SAMPLES;
	for (size_t k = 0; k < FILL_SAMPLES; k++)
		for (size_t i = k * step; i < k * step + FF_MIN(step,
		    (size_t)64); i++)		/* a sparse table: skip */
			if (used(src, i)) {
				seen++;
				fresh += !present(dst, src, i);
				break;
			}
	if (seen == 0)
		return dst_n + src_n;
	est = (size_t)((double)src_n * (double)fresh / (double)seen) +
	    src_n / 32;
	return dst_n + FF_MIN(est, src_n);
}

static int
k_used(const void *src, size_t i)
{
	return ((const ktab_t *)src)->e[i].v.flows != 0;
}

static int
k_present(const void *dst, const void *src, size_t i)
{
	const kent_t *e = &((const ktab_t *)src)->e[i];

	return ktab_find(dst, e->hi, e->lo) != NULL;
}

static int
u_used(const void *src, size_t i)
{
	return ((const utab_t *)src)->e[i].v.flows != 0;
}

static int
u_present(const void *dst, const void *src, size_t i)
{
	return utab_find(dst, ((const utab_t *)src)->e[i].k) != NULL;
}

/* The keys to reserve: the estimate (at most max_rows), in at least
   src_cap slots. */
static size_t
fill_keys(size_t est, uint64_t max_rows, size_t src_cap)
{
	if (max_rows != 0 && est > max_rows)
		est = (size_t)max_rows;
	return FF_MAX(est, src_cap / 2);
}

void
ktab_reserve_fill(ktab_t *t, const ktab_t *src)
{
	if (src->n > 0)
		(void)ktab_reserve(t, fill_keys(fill_estimate(t->n, src->n,
		    src->cap, k_used, k_present, t, src), t->max_rows,
		    src->cap));
}

void
utab_reserve_fill(utab_t *t, const utab_t *src)
{
	if (src->n > 0)
		(void)utab_reserve(t, fill_keys(fill_estimate(t->n, src->n,
		    src->cap, u_used, u_present, t, src), t->max_rows,
		    src->cap));
}
