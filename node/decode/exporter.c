/*
 * The exporter table of a decoder: one entry per (address, protocol
 * version, domain), found or made by every decoder for every packet,
 * with its sequence-number tracking and counters.
 *
 * The table is bounded three ways, none of which costs the per-packet
 * lookup of a known exporter more than a flag test:
 *   - each UDP source address may make at most opts.max_per_source
 *     exporters; more are refused (a flood of made-up source ids or
 *     sub-agents from one address stays within its share);
 *   - the table holds at most opts.max_exporters. An exporter is on
 *     probation until it sends valid data (flows, templates, sFlow
 *     counter samples); probation exporters sit in a list, least
 *     recently seen first, and when the table is full the head of that
 *     list is evicted for the new exporter. An exporter that has sent
 *     valid data is never evicted: with no probation exporter to evict,
 *     the new one is refused;
 *   - exporter_expire(), from the tick, removes exporters idle for
 *     opts.idle_ms.
 * Refusals are counted by reason, with the last refused source address
 * for the daemon's log.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "decode_int.h"

#define SEQ_MAX_GAP		(1u << 24)	/* larger jumps are resets */

/* Mix 16 address bytes into h, a word at a time (per packet for sFlow). */
static uint64_t
addr_hash(const uint8_t addr[16], uint64_t h)
{
	uint64_t w[2];

	memcpy(w, addr, 16);
	h = (h ^ w[0]) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 32;
	h = (h ^ w[1]) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

/* agent: the sFlow agent address, or NULL */
static size_t
exporter_hash(const uint8_t addr[16], const uint8_t *agent, unsigned version,
    uint32_t domain)
{
	uint64_t h = addr_hash(addr, 0xcbf29ce484222325ull);

	if (agent != NULL)
		h = addr_hash(agent, h);
	h = (h ^ version) * 0x100000001b3ull;
	h = (h ^ domain) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t
source_hash(const uint8_t addr[16])
{
	uint64_t h = addr_hash(addr, 0xcbf29ce484222325ull);

	return (size_t)(h ^ (h >> 29));
}

/* The agent address that is part of e's key, or NULL. */
static const uint8_t *
key_agent(const struct exporter *e)
{
	return e->version == DECODER_VERSION_SFLOW ? e->st.agent : NULL;
}

static int
exporter_grow(decoder_t *d)
{
	size_t n = d->nbuckets * 2;
	struct exporter **b;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return FF_ENOMEM;
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct exporter *e = d->buckets[i], *next;

		for (; e != NULL; e = next) {
			size_t h = exporter_hash(e->addr, key_agent(e),
			    e->version, e->domain) & (n - 1);

			next = e->hnext;
			e->hnext = b[h];
			b[h] = e;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = n;
	return 0;
}

/* --- sources ------------------------------------------------------------- */

static struct source *
source_find(const decoder_t *d, const uint8_t addr[16])
{
	struct source *s;

	if (d->sbuckets == NULL)
		return NULL;
	s = d->sbuckets[source_hash(addr) & (d->nsbuckets - 1)];
	for (; s != NULL; s = s->hnext)
		if (memcmp(s->addr, addr, 16) == 0)
			return s;
	return NULL;
}

static int
source_grow(decoder_t *d)
{
	size_t n = d->nsbuckets ? d->nsbuckets * 2 : 64;
	struct source **b;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return FF_ENOMEM;
	for (size_t i = 0; i < d->nsbuckets; i++) {
		struct source *s = d->sbuckets[i], *next;

		for (; s != NULL; s = next) {
			size_t h = source_hash(s->addr) & (n - 1);

			next = s->hnext;
			s->hnext = b[h];
			b[h] = s;
		}
	}
	free(d->sbuckets);
	d->sbuckets = b;
	d->nsbuckets = n;
	return 0;
}

static struct source *
source_new(decoder_t *d, const uint8_t addr[16])
{
	struct source *s;
	size_t h;

	if (d->nsources >= d->nsbuckets && source_grow(d) != 0 &&
	    d->sbuckets == NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->addr, addr, 16);
	h = source_hash(addr) & (d->nsbuckets - 1);
	s->hnext = d->sbuckets[h];
	d->sbuckets[h] = s;
	d->nsources++;
	return s;
}

/* One exporter fewer on s; the source goes with its last exporter. */
static void
source_put(decoder_t *d, struct source *s)
{
	struct source **pp;

	if (--s->n > 0)
		return;
	pp = &d->sbuckets[source_hash(s->addr) & (d->nsbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	d->nsources--;
	free(s);
}

/* --- removal ------------------------------------------------------------- */

static void
exporter_remove(decoder_t *d, struct exporter *e)
{
	struct exporter **pp;

	pp = &d->buckets[exporter_hash(e->addr, key_agent(e), e->version,
	    e->domain) & (d->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	if (!e->valid)
		TAILQ_REMOVE(&d->probation, e, probe);
	source_put(d, e->src);
	if (d->last == e)
		d->last = NULL;
	if (e->proto != NULL) {
		/* its templates leave the saved set */
		if (e->valid)
			d->templates_dirty = 1;
		d->proto_free(d, e);
	}
	free(e);
	d->nexporters--;
	d->st.exporters = d->nexporters;
}

void
exporter_promote(decoder_t *d, struct exporter *e)
{
	TAILQ_REMOVE(&d->probation, e, probe);
	e->valid = 1;
}

/* Seen again while on probation: to the back of the queue. */
static void
probation_touch(decoder_t *d, struct exporter *e)
{
	if (TAILQ_NEXT(e, probe) != NULL) {
		TAILQ_REMOVE(&d->probation, e, probe);
		TAILQ_INSERT_TAIL(&d->probation, e, probe);
	}
}

static struct exporter *
refuse(decoder_t *d, const uint8_t src[16], uint64_t *why)
{
	d->st.exporters_dropped++;
	if (why != NULL)
		(*why)++;
	memcpy(d->st.last_refused, src, 16);
	return NULL;
}

/*
 * Make room for a new exporter from src: refuse it when src has its
 * share; evict a probation exporter when the table is full. Returns 0,
 * or -1 after counting the refusal.
 */
static int
make_room(decoder_t *d, const uint8_t src[16])
{
	struct source *s = source_find(d, src);
	struct exporter *victim;

	if (s != NULL && s->n >= d->opts.max_per_source) {
		refuse(d, src, &d->st.exporters_refused_source);
		return -1;
	}
	if (d->nexporters >= d->opts.max_exporters) {
		if ((victim = TAILQ_FIRST(&d->probation)) == NULL) {
			refuse(d, src, &d->st.exporters_refused_full);
			return -1;
		}
		exporter_remove(d, victim);
		d->st.exporters_evicted++;
	}
	return 0;
}

/* agent: NULL but for sFlow, where it is part of the key */
struct exporter *
exporter_get(decoder_t *d, const uint8_t addr[16], const uint8_t *agent,
    unsigned version, uint32_t domain, uint64_t now_ms)
{
	struct exporter *e = d->last;
	struct source *s;
	size_t h;

	if (e != NULL && e->domain == domain && e->version == version &&
	    memcmp(e->addr, addr, 16) == 0 &&
	    (agent == NULL || memcmp(e->st.agent, agent, 16) == 0))
		goto found;
	h = exporter_hash(addr, agent, version, domain) & (d->nbuckets - 1);
	for (e = d->buckets[h]; e != NULL; e = e->hnext)
		if (e->domain == domain && e->version == version &&
		    memcmp(e->addr, addr, 16) == 0 &&
		    (agent == NULL || memcmp(e->st.agent, agent, 16) == 0))
			goto found;

	/* A new exporter: off the per-packet path from here on. */
	if (make_room(d, addr) != 0)
		return NULL;
	if ((s = source_find(d, addr)) == NULL &&
	    (s = source_new(d, addr)) == NULL)
		return refuse(d, addr, NULL);
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		if (s->n == 0) {
			s->n = 1;
			source_put(d, s);
		}
		return refuse(d, addr, NULL);
	}
	if (d->nexporters >= d->nbuckets)
		exporter_grow(d);
	h = exporter_hash(addr, agent, version, domain) & (d->nbuckets - 1);
	memcpy(e->addr, addr, 16);
	if (agent != NULL)
		memcpy(e->st.agent, agent, 16);
	e->version = (uint8_t)version;
	e->domain = domain;
	e->created_ms = now_ms;
	e->src = s;
	s->n++;
	TAILQ_INSERT_TAIL(&d->probation, e, probe);
	e->hnext = d->buckets[h];
	d->buckets[h] = e;
	d->nexporters++;
	d->st.exporters = d->nexporters;
	d->last = e;
	e->st.last_seen_ms = now_ms;
	return e;
found:
	d->last = e;
	e->st.last_seen_ms = now_ms;
	if (__builtin_expect(!e->valid, 0))
		probation_touch(d, e);
	return e;
}

void
exporter_expire(decoder_t *d, uint64_t now_ms)
{
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct exporter *e = d->buckets[i], *next;

		for (; e != NULL; e = next) {
			uint64_t seen = e->st.last_seen_ms;

			next = e->hnext;
			if (e->created_ms == 0)
				e->created_ms = now_ms;
			if (e->created_ms > seen)
				seen = e->created_ms;
			if (d->opts.idle_ms != UINT64_MAX && now_ms > seen &&
			    now_ms - seen >= d->opts.idle_ms) {
				exporter_remove(d, e);
				d->st.exporters_expired++;
			}
		}
	}
}

void
exporter_free_all(decoder_t *d)
{
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct exporter *e = d->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->hnext;
			if (e->proto != NULL)
				d->proto_free(d, e);
			free(e);
		}
	}
	for (size_t i = 0; i < d->nsbuckets; i++) {
		struct source *s = d->sbuckets[i], *next;

		for (; s != NULL; s = next) {
			next = s->hnext;
			free(s);
		}
	}
	free(d->buckets);
	free(d->sbuckets);
}

void
exporter_seq(struct exporter *e, uint32_t seq, uint32_t advance, int forget)
{
	if (e->seq_valid && seq != e->seq_next) {
		uint32_t diff = seq - e->seq_next;

		if (diff < SEQ_MAX_GAP) {
			e->st.seq_gaps++;
			e->st.seq_missing += diff;
		} else {
			/* backwards (reordering, restart) or a wild jump */
			e->st.seq_resets++;
		}
	}
	e->seq_next = seq + advance;
	e->seq_valid = !forget;
}
