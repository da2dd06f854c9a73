/*
 * The exporter table of a decoder: one entry per (source address,
 * protocol version, domain), found or made by every decoder for every
 * packet, with its sequence-number tracking and counters.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "decode_int.h"

#define SEQ_MAX_GAP		(1u << 24)	/* larger jumps are resets */

static size_t
exporter_hash(const uint8_t addr[16], unsigned version, uint32_t domain)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 0x100000001b3ull;
	h = (h ^ version) * 0x100000001b3ull;
	h = (h ^ domain) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
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
			size_t h = exporter_hash(e->addr, e->version,
			    e->domain) & (n - 1);

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

struct exporter *
exporter_get(decoder_t *d, const uint8_t addr[16], unsigned version,
    uint32_t domain, uint64_t now_ms)
{
	struct exporter *e = d->last;
	size_t h;

	if (e != NULL && e->domain == domain && e->version == version &&
	    memcmp(e->addr, addr, 16) == 0)
		goto found;
	h = exporter_hash(addr, version, domain) & (d->nbuckets - 1);
	for (e = d->buckets[h]; e != NULL; e = e->hnext)
		if (e->domain == domain && e->version == version &&
		    memcmp(e->addr, addr, 16) == 0)
			goto found;
	if (d->nexporters >= d->opts.max_exporters) {
		d->st.exporters_dropped++;
		return NULL;
	}
	if (d->nexporters >= d->nbuckets && exporter_grow(d) == 0)
		h = exporter_hash(addr, version, domain) & (d->nbuckets - 1);
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		d->st.exporters_dropped++;
		return NULL;
	}
	memcpy(e->addr, addr, 16);
	e->version = (uint8_t)version;
	e->domain = domain;
	e->hnext = d->buckets[h];
	d->buckets[h] = e;
	d->nexporters++;
found:
	d->last = e;
	e->st.last_seen_ms = now_ms;
	return e;
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
