/*
 * Decoder front: options, version dispatch, housekeeping of every
 * exporter (the table itself is exporter.c).
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
#define DEF_MAX_PER_SOURCE	1024
#define DEF_IDLE_MS		(3600u * 1000)
#define DEF_MAX_SAMPLING	(1u << 24)

/* The protocol state of an exporter leaving the table. */
static void
proto_free(decoder_t *d, struct exporter *e)
{
	nf9_drop_held(d, e);
	nf9_exporter_free(e);
}

decoder_t *
decoder_new(const decoder_opts_t *opts)
{
	decoder_t *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (opts)
		d->opts = *opts;
	FF_DEFAULT(d->opts.hold_unknown, 1);
	FF_DEFAULT(d->opts.hold_max_ms, DEF_HOLD_MS);
	FF_DEFAULT(d->opts.hold_max_bytes, DEF_HOLD_BYTES);
	FF_DEFAULT(d->opts.hold_max_total, DEF_HOLD_TOTAL);
	FF_DEFAULT(d->opts.max_exporters, DEF_MAX_EXPORTERS);
	FF_DEFAULT(d->opts.max_per_source, DEF_MAX_PER_SOURCE);
	FF_DEFAULT(d->opts.idle_ms, DEF_IDLE_MS);
	FF_DEFAULT(d->opts.max_sampling, DEF_MAX_SAMPLING);
	TAILQ_INIT(&d->probation);
	d->proto_free = proto_free;
	FF_DEFAULT(d->opts.tpl_max_bytes, DECODER_TPL_MAX_BYTES);
	d->tst.max_bytes = d->opts.tpl_max_bytes;
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
	exporter_free_all(d);
	free(d);
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
	exporter_expire(d, now_ms);
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

const decoder_tplstats_t *
decoder_template_stats(const decoder_t *d)
{
	return &d->tst;
}

int
decoder_templates_dirty(const decoder_t *d)
{
	return d->templates_dirty;
}
