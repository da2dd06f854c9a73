/*
 * Decoder front: version dispatch, the exporter table, sequence tracking.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "decode_int.h"

#define DEF_HOLD_MS		30000
#define DEF_HOLD_BYTES		(256 * 1024)
#define DEF_HOLD_TOTAL		(64u * 1024 * 1024)
#define DEF_MAX_EXPORTERS	65536
#define DEF_MAX_SAMPLING	(1u << 24)
#define SEQ_MAX_GAP		(1u << 24)	/* larger jumps are resets */

decoder_t *
decoder_new(const decoder_opts_t *opts)
{
	decoder_t *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (opts)
		d->opts = *opts;
	if (d->opts.hold_unknown == 0)
		d->opts.hold_unknown = 1;
	if (d->opts.hold_max_ms == 0)
		d->opts.hold_max_ms = DEF_HOLD_MS;
	if (d->opts.hold_max_bytes == 0)
		d->opts.hold_max_bytes = DEF_HOLD_BYTES;
	if (d->opts.hold_max_total == 0)
		d->opts.hold_max_total = DEF_HOLD_TOTAL;
	if (d->opts.max_exporters == 0)
		d->opts.max_exporters = DEF_MAX_EXPORTERS;
	if (d->opts.max_sampling == 0)
		d->opts.max_sampling = DEF_MAX_SAMPLING;
	d->nbuckets = 256;
	if ((d->buckets = calloc(d->nbuckets, sizeof(*d->buckets))) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
decoder_free(decoder_t *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct exporter *e = d->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->hnext;
			nf9_exporter_free(e);
			free(e);
		}
	}
	free(d->buckets);
	free(d);
}

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

int
decoder_packet(decoder_t *d, const uint8_t addr[16], uint16_t port,
    const uint8_t *buf, size_t len, uint64_t now_ms, flow_sink_t *sink)
{
	int rc;

	(void)port;
	d->st.packets++;
	if (len < 4) {
		d->st.malformed++;
		return FF_ETRUNC;
	}
	switch (be16(buf)) {
	case 5:
		rc = nf5_decode(d, addr, buf, len, now_ms, sink);
		break;
	case 9:
	case 10:
		rc = nf9_decode(d, addr, buf, len, now_ms, sink);
		break;
	case 0:
		if (be32(buf) == 5) {
			rc = sflow_decode(d, addr, buf, len, now_ms, sink);
			break;
		}
		/* FALLTHROUGH */
	default:
		d->st.unknown_version++;
		return FF_EVERSION;
	}
	if (rc > 0)
		d->st.flows += (uint64_t)rc;
	else if (rc < 0 && rc != FF_ENOMEM && rc != FF_ELIMIT)
		d->st.malformed++;
	return rc;
}

void
decoder_tick(decoder_t *d, uint64_t now_ms, flow_sink_t *sink)
{
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext)
			if (e->proto != NULL)
				nf9_tick(d, e, now_ms, sink);
}

void
decoder_drop_held(decoder_t *d)
{
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext)
			if (e->proto != NULL)
				nf9_drop_held(d, e);
}

const decoder_stats_t *
decoder_stats(const decoder_t *d)
{
	return &d->st;
}

void
decoder_foreach_exporter(const decoder_t *d, decoder_exporter_cb cb,
    void *arg)
{
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext)
			cb(arg, e->addr, e->version, e->domain, &e->st);
}

int
decoder_templates_dirty(const decoder_t *d)
{
	return d->templates_dirty;
}
