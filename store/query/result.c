/*
 * Query results: the identity of a query, the key tables, the result
 * structure of every kind, merge, equality, top-N selection with
 * deterministic ties, the accessors, and the selections a TPUT
 * distributed top-N needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/err.h"
#include "common/util.h"
#include "agg.h"

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

/* --- names -------------------------------------------------------------- */

static const struct {
	const char *name;
	int key;
} key_names[] = {
	{ "srcip", STORE_KEY_SRCIP },
	{ "dstip", STORE_KEY_DSTIP },
	{ "srcport", STORE_KEY_SRCPORT },
	{ "dstport", STORE_KEY_DSTPORT },
	{ "proto", STORE_KEY_PROTO },
	{ "srcnet", STORE_KEY_SRCNET },
	{ "dstnet", STORE_KEY_DSTNET },
	{ "exporter", STORE_KEY_EXPORTER },
	{ "inif", STORE_KEY_INIF },
	{ "outif", STORE_KEY_OUTIF },
	{ "srcas", STORE_KEY_SRCAS },
	{ "dstas", STORE_KEY_DSTAS },
	{ "router", STORE_KEY_EXPORTER },
};

const char *
qkey_name(int key)
{
	for (size_t i = 0; i < FF_NELEM(key_names); i++)
		if (key_names[i].key == key)
			return key_names[i].name;
	return "?";
}

const char *
store_key_name(store_key_t key)
{
	return qkey_name((int)key);
}

const char *
qkind_name(int kind)
{
	switch (kind) {
	case STORE_Q_TOTALS:
		return "totals";
	case STORE_Q_TOPN:
		return "topn";
	case STORE_Q_SERIES:
		return "series";
	case STORE_Q_LIST:
		return "list";
	case STORE_Q_DISTINCT:
		return "distinct";
	}
	return "?";
}

const char *
store_qkind_name(store_qkind_t kind)
{
	return qkind_name((int)kind);
}

const char *
qorder_name(int order)
{
	switch (order) {
	case STORE_ORD_BYTES:
		return "bytes";
	case STORE_ORD_PACKETS:
		return "packets";
	case STORE_ORD_FLOWS:
		return "flows";
	}
	return "?";
}

const char *
store_order_name(store_order_t order)
{
	return qorder_name((int)order);
}

static int
parse_len(const char *s, unsigned max, uint8_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return FF_EINVAL;
	v = strtoul(s, &end, 10);
	if (end == s || v > max || (*end != '\0' && *end != '/'))
		return FF_EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int
store_key_parse(const char *s, store_key_t *key, uint8_t *prefix4,
    uint8_t *prefix6)
{
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint8_t p4 = 24, p6 = 64;

	for (size_t i = 0; i < FF_NELEM(key_names); i++) {
		if (strlen(key_names[i].name) != len ||
		    strncmp(key_names[i].name, s, len) != 0)
			continue;
		if (key_names[i].key == STORE_KEY_SRCNET ||
		    key_names[i].key == STORE_KEY_DSTNET) {
			if (slash != NULL) {
				const char *s2;

				if (parse_len(slash + 1, 32, &p4) != 0)
					return FF_EINVAL;
				if ((s2 = strchr(slash + 1, '/')) != NULL &&
				    parse_len(s2 + 1, 128, &p6) != 0)
					return FF_EINVAL;
				if (s2 != NULL && strchr(s2 + 1, '/') != NULL)
					return FF_EINVAL;
			}
			*prefix4 = p4;
			*prefix6 = p6;
		} else if (slash != NULL)
			return FF_EINVAL;
		*key = (store_key_t)key_names[i].key;
		return 0;
	}
	return FF_EINVAL;
}

int
store_order_parse(const char *s, store_order_t *order)
{
	if (strcmp(s, "bytes") == 0)
		*order = STORE_ORD_BYTES;
	else if (strcmp(s, "packets") == 0 || strcmp(s, "pkts") == 0)
		*order = STORE_ORD_PACKETS;
	else if (strcmp(s, "flows") == 0)
		*order = STORE_ORD_FLOWS;
	else
		return FF_EINVAL;
	return 0;
}

/* --- keys --------------------------------------------------------------- */

uint64_t
key_max(int key)
{
	switch (key) {
	case STORE_KEY_SRCPORT:
	case STORE_KEY_DSTPORT:
		return 65535;
	case STORE_KEY_PROTO:
		return 255;
	default:
		return UINT32_MAX;
	}
}

int
key_valid(const qident_t *id, uint64_t hi, uint64_t lo)
{
	uint32_t m4;
	uint64_t mhi, mlo;

	if (!key_is_addr(id->key))
		return hi == 0 && lo <= key_max(id->key);
	if (id->key != STORE_KEY_SRCNET && id->key != STORE_KEY_DSTNET)
		return 1;
	key_masks(id, &m4, &mhi, &mlo);
	if (key_is_v4(hi, lo))
		return ((uint32_t)lo & ~m4) == 0;
	return (hi & ~mhi) == 0 && (lo & ~mlo) == 0;
}

/* --- query identity ----------------------------------------------------- */

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
qident_hash(const qident_t *id)
{
	uint8_t b[40];
	uint64_t h = 0xcbf29ce484222325ULL;

	b[0] = 'f';
	b[1] = 'q';
	b[2] = '1';
	b[3] = (uint8_t)id->kind;
	b[4] = (uint8_t)id->key;
	b[5] = (uint8_t)id->order;
	b[6] = id->prefix4;
	b[7] = id->prefix6;
	put_be32(b + 8, id->n);
	put_be32(b + 12, id->limit);
	put_be64(b + 16, id->t0);
	put_be64(b + 24, id->t1);
	put_be64(b + 32, id->step_ms);
	h = fnv(h, b, sizeof(b));
	return fnv(h, id->filter, strlen(id->filter) + 1);
}

/*
 * Check the fields that apply to id->kind and compute nbuckets. Returns
 * 0 or FF_EINVAL with a message.
 */
static int
qident_validate(qident_t *id, char *err, size_t errlen)
{
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); \
		return FF_EINVAL; } while (0)
	if (id->kind < STORE_Q_TOTALS || id->kind > STORE_Q_DISTINCT)
		BAD("unknown query kind %d", id->kind);
	if (id->t0 > id->t1)
		BAD("the window starts after it ends");
	if (strlen(id->filter) > QRY_FILTER_MAX)
		BAD("filter longer than %d bytes", QRY_FILTER_MAX);
	if (qident_keyed(id)) {
		if (id->key < STORE_KEY_SRCIP || id->key > STORE_KEY_DSTAS)
			BAD("unknown key %d", id->key);
		if ((id->key == STORE_KEY_SRCNET ||
		    id->key == STORE_KEY_DSTNET) &&
		    (id->prefix4 > 32 || id->prefix6 > 128))
			BAD("prefix length out of range (IPv4 0-32, IPv6 "
			    "0-128)");
	}
	switch (id->kind) {
	case STORE_Q_TOPN:
		if (id->order < STORE_ORD_BYTES || id->order > STORE_ORD_FLOWS)
			BAD("unknown order %d", id->order);
		if (id->n < 1 || id->n > STORE_TOPN_MAX)
			BAD("top N must be 1 to %u", STORE_TOPN_MAX);
		break;
	case STORE_Q_SERIES:
		if (id->step_ms < 1)
			BAD("series step must be at least 1 ms");
		if (id->t1 <= id->t0 || id->t1 == UINT64_MAX)
			BAD("a series needs a non-empty window with an end");
		id->nbuckets = (id->t1 - id->t0) / id->step_ms +
		    ((id->t1 - id->t0) % id->step_ms != 0);
		if (id->nbuckets > STORE_SERIES_MAX)
			BAD("series of %" PRIu64 " buckets; at most %u (use "
			    "a larger step or a shorter window)",
			    id->nbuckets, STORE_SERIES_MAX);
		break;
	case STORE_Q_LIST:
		if (id->limit < 1 || id->limit > STORE_LIST_MAX)
			BAD("listing limit must be 1 to %u", STORE_LIST_MAX);
		break;
	}
	return 0;
#undef BAD
}

int
qident_from_spec(const store_qspec_t *spec, qident_t *id, char *err,
    size_t errlen)
{
	const char *f = spec->filter != NULL ? spec->filter : "";
	int rc;

	memset(id, 0, sizeof(*id));
	id->kind = (int)spec->kind;
	id->t0 = spec->t0;
	id->t1 = spec->t1;
	if (qident_keyed(id)) {
		id->key = (int)spec->key;
		if (spec->key == STORE_KEY_SRCNET ||
		    spec->key == STORE_KEY_DSTNET) {
			id->prefix4 = spec->prefix4;
			id->prefix6 = spec->prefix6;
		}
	}
	if (id->kind == STORE_Q_TOPN) {
		id->order = (int)spec->order;
		id->n = spec->n;
	}
	if (id->kind == STORE_Q_SERIES)
		id->step_ms = spec->step_ms;
	if (id->kind == STORE_Q_LIST)
		id->limit = spec->limit;
	if (strlen(f) > QRY_FILTER_MAX) {
		snprintf(err, errlen, "filter longer than %d bytes",
		    QRY_FILTER_MAX);
		return FF_EINVAL;
	}
	if ((id->filter = strdup(f)) == NULL)
		return FF_ENOMEM;
	if ((rc = qident_validate(id, err, errlen)) != 0) {
		qident_clear(id);
		return rc;
	}
	id->qid = qident_hash(id);
	return 0;
}

int
qident_check(qident_t *id)
{
	char err[128];

	if (qident_validate(id, err, sizeof(err)) != 0)
		return FF_EPROTO;
	/* What does not apply to the kind must be zero. */
	if (!qident_keyed(id) && id->key != 0)
		return FF_EPROTO;
	if (id->key != STORE_KEY_SRCNET && id->key != STORE_KEY_DSTNET &&
	    (id->prefix4 != 0 || id->prefix6 != 0))
		return FF_EPROTO;
	if (id->kind != STORE_Q_TOPN && (id->order != 0 || id->n != 0))
		return FF_EPROTO;
	if (id->kind != STORE_Q_SERIES && id->step_ms != 0)
		return FF_EPROTO;
	if (id->kind != STORE_Q_LIST && id->limit != 0)
		return FF_EPROTO;
	id->qid = qident_hash(id);
	return 0;
}

int
qident_copy(qident_t *dst, const qident_t *src)
{
	*dst = *src;
	if ((dst->filter = strdup(src->filter)) == NULL)
		return FF_ENOMEM;
	return 0;
}

int
qident_equal(const qident_t *a, const qident_t *b)
{
	return a->qid == b->qid && a->kind == b->kind && a->key == b->key &&
	    a->order == b->order && a->prefix4 == b->prefix4 &&
	    a->prefix6 == b->prefix6 && a->n == b->n &&
	    a->limit == b->limit && a->t0 == b->t0 && a->t1 == b->t1 &&
	    a->step_ms == b->step_ms && strcmp(a->filter, b->filter) == 0;
}

void
qident_clear(qident_t *id)
{
	free(id->filter);
	id->filter = NULL;
}

/* --- flows of a listing --------------------------------------------------- */

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

int
flow_cmp(const store_flow_t *a, const store_flow_t *b)
{
	int c;

	CMP(a->first_ms, b->first_ms);
	CMP(a->last_ms, b->last_ms);
	if ((c = memcmp(a->src, b->src, 16)) != 0)
		return c;
	if ((c = memcmp(a->dst, b->dst, 16)) != 0)
		return c;
	CMP(a->sport, b->sport);
	CMP(a->dport, b->dport);
	CMP(a->proto, b->proto);
	CMP(a->bytes, b->bytes);
	CMP(a->packets, b->packets);
	if ((c = memcmp(a->exporter, b->exporter, 16)) != 0)
		return c;
	if ((c = memcmp(a->nexthop, b->nexthop, 16)) != 0)
		return c;
	CMP(a->in_if, b->in_if);
	CMP(a->out_if, b->out_if);
	CMP(a->src_as, b->src_as);
	CMP(a->dst_as, b->dst_as);
	CMP(a->tcp_flags, b->tcp_flags);
	CMP(a->tos, b->tos);
	CMP(a->src_mask, b->src_mask);
	CMP(a->dst_mask, b->dst_mask);
	CMP(a->sampling, b->sampling);
	CMP(a->tags, b->tags);
	CMP(a->flags, b->flags);
	return 0;
}

int
flows_merge(const store_flow_t *a, size_t na, const store_flow_t *b,
    size_t nb, size_t limit, memacct_t *ma, store_flow_t **out,
    size_t *nout)
{
	size_t n = na + nb, i = 0, j = 0, k = 0;
	store_flow_t *m;
	int err;

	if (n > limit)
		n = limit;
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(store_flow_t))
		return FF_ENOMEM;
	if ((err = mem_take(ma, n * sizeof(store_flow_t))) != 0)
		return err;
	if ((m = malloc(n * sizeof(store_flow_t))) == NULL) {
		mem_give(ma, n * sizeof(store_flow_t));
		return FF_ENOMEM;
	}
	while (k < n) {
		if (j >= nb || (i < na && flow_cmp(&a[i], &b[j]) <= 0))
			m[k++] = a[i++];
		else
			m[k++] = b[j++];
	}
	*out = m;
	*nout = n;
	return 0;
}

/* --- results -------------------------------------------------------------- */

store_result_t *
result_new_id(const qident_t *id, uint64_t max_mem, uint64_t max_rows)
{
	store_result_t *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (qident_copy(&r->id, id) != 0) {
		free(r);
		return NULL;
	}
	atomic_init(&r->ma.used, 0);
	r->ma.max = max_mem;
	r->max_rows = max_rows;
	ktab_init(&r->tab, &r->ma, max_rows);
	if (id->kind == STORE_Q_SERIES) {
		size_t sz = (size_t)id->nbuckets * sizeof(aggv_t);

		if (mem_take(&r->ma, sz) != 0 ||
		    (r->bk = big_calloc(sz)) == NULL) {
			qident_clear(&r->id);
			free(r);
			return NULL;
		}
	}
	return r;
}

store_result_t *
store_result_new(const store_query_t *q)
{
	return result_new_id(&q->id, q->max_mem, q->max_rows);
}

void
store_result_free(store_result_t *r)
{
	if (r == NULL)
		return;
	ktab_free(&r->tab);
	if (r->bk != NULL)
		big_free(r->bk, (size_t)r->id.nbuckets * sizeof(aggv_t));
	free(r->fl);
	qident_clear(&r->id);
	free(r);
}

int
result_add_key(store_result_t *r, uint64_t hi, uint64_t lo, const aggv_t *v)
{
	kent_t *e;
	int err = 0;

	if (v->flows == 0 && r->id.kind == STORE_Q_TOPN)
		return 0;
	if ((e = ktab_get(&r->tab, hi, lo, &err)) == NULL)
		return err;
	if (r->id.kind == STORE_Q_DISTINCT) {
		e->v.flows = 1;
		e->v.bytes = e->v.packets = 0;
	} else
		aggv_add(&e->v, v);
	return 0;
}

static void
meta_add(store_result_meta_t *a, const store_result_meta_t *b)
{
	a->flows_scanned = sat_add(a->flows_scanned, b->flows_scanned);
	a->flows_matched = sat_add(a->flows_matched, b->flows_matched);
	a->blocks_scanned = sat_add(a->blocks_scanned, b->blocks_scanned);
	a->blocks_skipped = sat_add(a->blocks_skipped, b->blocks_skipped);
	a->blocks_damaged = sat_add(a->blocks_damaged, b->blocks_damaged);
	if (b->elapsed_us > a->elapsed_us)
		a->elapsed_us = b->elapsed_us;
}

int
store_result_merge(store_result_t *dst, const store_result_t *src)
{
	int err;

	if (!qident_equal(&dst->id, &src->id))
		return FF_EINVAL;
	switch (dst->id.kind) {
	case STORE_Q_TOPN:
	case STORE_Q_DISTINCT:
		ktab_reserve_fill(&dst->tab, &src->tab);
		for (size_t i = 0; i < src->tab.cap; i++) {
			const kent_t *e = &src->tab.e[i];

			if (e->v.flows == 0)
				continue;
			if ((err = result_add_key(dst, e->hi, e->lo,
			    &e->v)) != 0)
				return err;
		}
		break;
	case STORE_Q_SERIES:
		for (uint64_t i = 0; i < dst->id.nbuckets; i++)
			aggv_add(&dst->bk[i], &src->bk[i]);
		break;
	case STORE_Q_LIST: {
		store_flow_t *m;
		size_t nm;

		if ((err = flows_merge(dst->fl, dst->nfl, src->fl, src->nfl,
		    dst->id.limit, &dst->ma, &m, &nm)) != 0)
			return err;
		free(dst->fl);
		mem_give(&dst->ma, dst->nfl * sizeof(store_flow_t));
		dst->fl = m;
		dst->nfl = nm;
		break;
	}
	}
	aggv_add(&dst->tot, &src->tot);
	meta_add(&dst->meta, &src->meta);
	dst->subset |= src->subset;
	return 0;
}

int
store_result_equal(const store_result_t *a, const store_result_t *b)
{
	if (!qident_equal(&a->id, &b->id) || a->subset != b->subset ||
	    memcmp(&a->tot, &b->tot, sizeof(a->tot)) != 0)
		return 0;
	switch (a->id.kind) {
	case STORE_Q_TOPN:
	case STORE_Q_DISTINCT:
		if (a->tab.n != b->tab.n)
			return 0;
		for (size_t i = 0; i < a->tab.cap; i++) {
			const kent_t *e = &a->tab.e[i], *f;

			if (e->v.flows == 0)
				continue;
			if ((f = ktab_find(&b->tab, e->hi, e->lo)) == NULL ||
			    memcmp(&e->v, &f->v, sizeof(e->v)) != 0)
				return 0;
		}
		return 1;
	case STORE_Q_SERIES:
		return memcmp(a->bk, b->bk,
		    (size_t)a->id.nbuckets * sizeof(aggv_t)) == 0;
	case STORE_Q_LIST:
		if (a->nfl != b->nfl)
			return 0;
		for (size_t i = 0; i < a->nfl; i++)
			if (flow_cmp(&a->fl[i], &b->fl[i]) != 0)
				return 0;
		return 1;
	}
	return 1;
}

void
store_result_get_meta(const store_result_t *r, store_result_meta_t *m)
{
	*m = r->meta;
}

void
store_result_get_info(const store_result_t *r, store_result_info_t *inf)
{
	memset(inf, 0, sizeof(*inf));
	inf->kind = (store_qkind_t)r->id.kind;
	inf->key = (store_key_t)r->id.key;
	inf->order = (store_order_t)r->id.order;
	inf->prefix4 = r->id.prefix4;
	inf->prefix6 = r->id.prefix6;
	inf->n = r->id.n;
	inf->limit = r->id.limit;
	inf->t0 = r->id.t0;
	inf->t1 = r->id.t1;
	inf->step_ms = r->id.step_ms;
	inf->qid = r->id.qid;
	inf->filter = r->id.filter;
	inf->subset = r->subset;
	switch (r->id.kind) {
	case STORE_Q_TOPN:
	case STORE_Q_DISTINCT:
		inf->rows = r->tab.n;
		break;
	case STORE_Q_SERIES:
		inf->rows = r->id.nbuckets;
		break;
	case STORE_Q_LIST:
		inf->rows = r->nfl;
		break;
	}
	inf->flows = r->tot.flows;
	inf->bytes = r->tot.bytes;
	inf->packets = r->tot.packets;
}

const store_flow_t *
store_result_flows(const store_result_t *r, size_t *n)
{
	*n = r->id.kind == STORE_Q_LIST ? r->nfl : 0;
	return r->id.kind == STORE_Q_LIST ? r->fl : NULL;
}

/* --- answer order and top-N selection ------------------------------------ */

/* <0 when a comes before b: metric descending, then key ascending. */
static int
answer_cmp(const kent_t *a, const kent_t *b, int order)
{
	uint64_t ma = aggv_metric(&a->v, order), mb = aggv_metric(&b->v, order);

	if (ma != mb)
		return ma > mb ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static int
key_cmp(const kent_t *a, const kent_t *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* Sort v in answer order (bykey: key order); qsort has no context. */
static void
kents_sort(kent_t *v, size_t n, int order, int bykey)
{
	/* Heapsort: O(n log n), no recursion, no allocation. */
	size_t start, end, root, child;
	kent_t tmp;

#define BEFORE(x, y) (bykey ? key_cmp((x), (y)) < 0 : \
	answer_cmp((x), (y), order) < 0)
	if (n < 2)
		return;
	/* Build a max-heap by answer order (the last row at the root). */
	for (start = n / 2; start-- > 0;) {
		for (root = start; (child = 2 * root + 1) < n; root = child) {
			if (child + 1 < n && BEFORE(&v[child], &v[child + 1]))
				child++;
			if (!BEFORE(&v[root], &v[child]))
				break;
			tmp = v[root];
			v[root] = v[child];
			v[child] = tmp;
		}
	}
	for (end = n - 1; end > 0; end--) {
		tmp = v[0];
		v[0] = v[end];
		v[end] = tmp;
		for (root = 0; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && BEFORE(&v[child], &v[child + 1]))
				child++;
			if (!BEFORE(&v[root], &v[child]))
				break;
			tmp = v[root];
			v[root] = v[child];
			v[child] = tmp;
		}
	}
#undef BEFORE
}

/*
 * The first max entries of t in answer order (max 0: all) into a new
 * array *out of *nout entries.
 */
static int
kents_top(const ktab_t *t, int order, int bykey, size_t max, kent_t **out,
    size_t *nout)
{
	kent_t *h, tmp;
	size_t n = 0, cap;

	cap = (max == 0 || max > t->n) ? t->n : max;
	*out = NULL;
	*nout = 0;
	if (cap == 0)
		return 0;
	if (cap > SIZE_MAX / sizeof(kent_t) ||
	    (h = malloc(cap * sizeof(kent_t))) == NULL)
		return FF_ENOMEM;
#define BEFORE(x, y) (bykey ? key_cmp((x), (y)) < 0 : \
	answer_cmp((x), (y), order) < 0)
	/*
	 * h is a heap whose root is the entry that comes last in answer
	 * order; a new entry replaces the root when it comes before it.
	 */
	for (size_t i = 0; i < t->cap; i++) {
		const kent_t *e = &t->e[i];
		size_t root, child;

		if (e->v.flows == 0)
			continue;
		if (n < cap) {
			size_t c = n++;

			h[c] = *e;
			while (c > 0 && BEFORE(&h[(c - 1) / 2], &h[c])) {
				tmp = h[c];
				h[c] = h[(c - 1) / 2];
				h[(c - 1) / 2] = tmp;
				c = (c - 1) / 2;
			}
			continue;
		}
		if (!BEFORE(e, &h[0]))
			continue;
		h[0] = *e;
		for (root = 0; (child = 2 * root + 1) < n; root = child) {
			if (child + 1 < n && BEFORE(&h[child], &h[child + 1]))
				child++;
			if (!BEFORE(&h[root], &h[child]))
				break;
			tmp = h[root];
			h[root] = h[child];
			h[child] = tmp;
		}
	}
#undef BEFORE
	kents_sort(h, n, order, bykey);
	*out = h;
	*nout = n;
	return 0;
}

int
store_result_rows(const store_result_t *r, size_t max, store_row_t **rows,
    size_t *n)
{
	store_row_t *out;
	kent_t *top;
	size_t nt;
	int err;

	*rows = NULL;
	*n = 0;
	switch (r->id.kind) {
	case STORE_Q_TOPN:
	case STORE_Q_DISTINCT:
		if ((err = kents_top(&r->tab, r->id.order,
		    r->id.kind == STORE_Q_DISTINCT, max, &top, &nt)) != 0)
			return err;
		if (nt == 0)
			return 0;
		if ((out = calloc(nt, sizeof(*out))) == NULL) {
			free(top);
			return FF_ENOMEM;
		}
		for (size_t i = 0; i < nt; i++) {
			key_to_bytes(top[i].hi, top[i].lo, out[i].key);
			if (r->id.kind == STORE_Q_TOPN) {
				out[i].flows = top[i].v.flows;
				out[i].bytes = top[i].v.bytes;
				out[i].packets = top[i].v.packets;
			}
		}
		free(top);
		*rows = out;
		*n = nt;
		return 0;
	case STORE_Q_SERIES:
		nt = (size_t)r->id.nbuckets;
		if (max != 0 && max < nt)
			nt = max;
		if ((out = calloc(nt, sizeof(*out))) == NULL)
			return FF_ENOMEM;
		for (size_t i = 0; i < nt; i++) {
			out[i].t_ms = r->id.t0 + i * r->id.step_ms;
			out[i].flows = r->bk[i].flows;
			out[i].bytes = r->bk[i].bytes;
			out[i].packets = r->bk[i].packets;
		}
		*rows = out;
		*n = nt;
		return 0;
	}
	return FF_EINVAL;
}

/* --- selections for TPUT ------------------------------------------------- */

static store_result_t *
subset_new(const store_result_t *r)
{
	store_result_t *o;

	if ((o = result_new_id(&r->id, 0, 0)) == NULL)
		return NULL;
	o->subset = 1;
	o->tot = r->tot;
	o->meta = r->meta;
	return o;
}

int
store_result_topk(const store_result_t *r, uint32_t k, store_result_t **out)
{
	store_result_t *o;
	kent_t *top;
	size_t nt;
	int err;

	*out = NULL;
	if (r->id.kind != STORE_Q_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	if (k > 0) {
		if ((err = kents_top(&r->tab, r->id.order, 0, k, &top,
		    &nt)) != 0) {
			store_result_free(o);
			return err;
		}
		for (size_t i = 0; i < nt && err == 0; i++)
			err = result_add_key(o, top[i].hi, top[i].lo,
			    &top[i].v);
		free(top);
		if (err != 0) {
			store_result_free(o);
			return err;
		}
	}
	*out = o;
	return 0;
}

int
store_result_select(const store_result_t *r, uint64_t min,
    store_result_t **out)
{
	store_result_t *o;
	size_t n = 0;
	int err = 0;

	*out = NULL;
	if (r->id.kind != STORE_Q_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	for (size_t i = 0; i < r->tab.cap; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 && aggv_metric(&e->v, r->id.order) >= min)
			n++;
	}
	/* room for every key first: filled in r's slot order (agg.h) */
	if (n > 0 && (err = ktab_reserve(&o->tab, n)) != 0) {
		store_result_free(o);
		return err == FF_ELIMIT ? FF_ENOMEM : err;
	}
	for (size_t i = 0; i < r->tab.cap && err == 0; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 && aggv_metric(&e->v, r->id.order) >= min)
			err = result_add_key(o, e->hi, e->lo, &e->v);
	}
	if (err != 0) {
		store_result_free(o);
		return err;
	}
	*out = o;
	return 0;
}

int
store_result_lookup(const store_result_t *r, const uint8_t (*keys)[16],
    size_t nkeys, store_result_t **out)
{
	store_result_t *o;
	int err = 0;

	*out = NULL;
	if (r->id.kind != STORE_Q_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	if (nkeys > 0 && r->tab.n > 0)
		(void)ktab_reserve(&o->tab, FF_MIN(nkeys, r->tab.n));
	for (size_t i = 0; i < nkeys && err == 0; i++) {
		const kent_t *e;
		uint64_t hi, lo;

		key_from_bytes(keys[i], &hi, &lo);
		/* A key asked twice is taken once. */
		if ((e = ktab_find(&r->tab, hi, lo)) != NULL &&
		    ktab_find(&o->tab, hi, lo) == NULL)
			err = result_add_key(o, hi, lo, &e->v);
	}
	if (err != 0) {
		store_result_free(o);
		return err;
	}
	*out = o;
	return 0;
}
