/*
 * libFuzzer target: the NetFlow v9 decoder (and, built from fuzz_ipfix.c
 * with FUZZ_VERSION 10, the IPFIX decoder) through decoder_packet().
 *
 * Input: one option byte, then packets, each as a 2-byte big-endian
 * length and that many bytes (the last one may be short). The packets go
 * in order to one decoder so templates, options and held data interact.
 * Each is copied into a buffer of its exact size (a read past its end is
 * caught) with the version forced to FUZZ_VERSION; for IPFIX, option bit
 * 0x04 also forces the message length to the datagram's. Option bits
 * 0x01: drop data without template at once; 0x02: a small hold bound.
 *
 * Checked: the sink receives exactly the number of flows each call
 * returns, every flow has a sampling rate in 1..max_sampling and the
 * protocol's origin flag; at the end (tick, drop held) every data set
 * without template was either replayed or dropped; and the template
 * state exports and imports again into a new decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "node/decode/decode.h"

#ifndef FUZZ_VERSION
#define FUZZ_VERSION 9
#endif
#define MAX_SAMPLING	100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store_flow_t slots[4];
static size_t flushed;

static void
check_flows(flow_sink_t *s)
{
	uint8_t origin = FUZZ_VERSION == 9 ? STORE_FLOW_F_FROM_V9 :
	    STORE_FLOW_F_FROM_IPFIX;

	for (size_t i = 0; i < s->n; i++) {
		const store_flow_t *f = &s->flows[i];

		if (f->sampling == 0 || f->sampling > MAX_SAMPLING ||
		    !(f->flags & origin))
			abort();
	}
	flushed += s->n;
	s->n = 0;
}

static void
check_exporter(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	(void)arg;
	(void)addr;
	(void)domain;
	if (version != FUZZ_VERSION ||
	    st->no_template != st->held_replayed + st->no_template_dropped)
		abort();
}

/* Export d's templates, import them into a new decoder, export again. */
static void
round_trip(decoder_t *d)
{
	decoder_opts_t o;
	uint8_t *buf, *buf2;
	size_t len, len2;
	decoder_t *d2;

	if (decoder_templates_export(d, &buf, &len) != 0)
		return;
	memset(&o, 0, sizeof(o));
	o.max_sampling = MAX_SAMPLING;
	if ((d2 = decoder_new(&o)) == NULL) {
		free(buf);
		return;
	}
	if (decoder_templates_import(d2, buf, len) != 0)
		abort();
	if (decoder_templates_dirty(d2))
		abort();
	if (decoder_templates_export(d2, &buf2, &len2) != 0)
		abort();
	if (len2 != len)
		abort();
	free(buf2);
	free(buf);
	decoder_free(d2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t addr[16] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	flow_sink_t sink = { slots, 0, FF_NELEM(slots), check_flows, NULL };
	uint64_t now = 1700000000000ull;
	decoder_opts_t o;
	decoder_t *d;
	size_t off = 1;
	uint8_t opt;

	if (size < 1)
		return 0;
	opt = data[0];
	memset(&o, 0, sizeof(o));
	o.max_sampling = MAX_SAMPLING;
	o.max_exporters = 16;
	o.hold_max_ms = 5000;
	if (opt & 0x01)
		o.hold_unknown = -1;
	if (opt & 0x02)
		o.hold_max_bytes = 512;
	if ((d = decoder_new(&o)) == NULL)
		return 0;
	while (off < size) {
		size_t len = size - off >= 2 ? be16(data + off) : 0;
		uint8_t *p;
		size_t before;
		int rc;

		off += 2;
		if (off > size)
			break;
		if (len > size - off)
			len = size - off;
		if ((p = malloc(len ? len : 1)) == NULL)
			break;
		memcpy(p, data + off, len);
		if (len >= 2)
			put_be16(p, FUZZ_VERSION);
		if (FUZZ_VERSION == 10 && (opt & 0x04) && len >= 4)
			put_be16(p + 2, (uint16_t)len);
		flushed = 0;
		before = sink.n;
		rc = decoder_packet(d, addr, 2055, p, len, now, &sink);
		if (rc >= 0 && flushed + sink.n - before != (size_t)rc)
			abort();
		free(p);
		off += len;
		now += 1000;
		decoder_tick(d, now, &sink);
	}
	decoder_tick(d, now + 60000, &sink);
	decoder_drop_held(d);
	check_flows(&sink);
	decoder_foreach_exporter(d, check_exporter, NULL);
	round_trip(d);
	decoder_free(d);
	return 0;
}
