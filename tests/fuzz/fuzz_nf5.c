/*
 * libFuzzer target: the NetFlow v5 decoder, through decoder_packet().
 *
 * The input is one or more export packets separated by the 4 bytes
 * "NXTP", fed in order to one decoder. Each packet is copied into a
 * buffer of its exact size (so that a read past its end is caught) with
 * the version forced to 5. The flows produced must be as the decoder
 * promises: one per return count, each with the v5 origin flag, a
 * sampling rate of 1..16383 and counters scaled by it; otherwise the
 * target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "node/decode/decode.h"

#define SEP		"NXTP"
#define SEP_LEN		4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store_flow_t slots[7];
static size_t flushed;

static void
check_flows(flow_sink_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const store_flow_t *f = &s->flows[i];

		if (f->sampling == 0 || f->sampling > 0x3fff ||
		    f->packets % f->sampling != 0 ||
		    f->bytes % f->sampling != 0 ||
		    f->flags != STORE_FLOW_F_FROM_V5)
			abort();
	}
	flushed += s->n;
	s->n = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t addr[16] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2 };
	flow_sink_t sink = { slots, 0, FF_NELEM(slots), check_flows, NULL };
	decoder_opts_t o;
	decoder_t *d;
	size_t off = 0;

	memset(&o, 0, sizeof(o));
	o.max_exporters = 16;
	if ((d = decoder_new(&o)) == NULL)
		return 0;
	while (off <= size) {
		const uint8_t *end = size - off >= SEP_LEN ?
		    memmem(data + off, size - off, SEP, SEP_LEN) : NULL;
		size_t len = end ? (size_t)(end - (data + off)) : size - off;
		uint8_t *p = malloc(len ? len : 1);
		size_t before;
		int rc;

		if (p == NULL)
			break;
		memcpy(p, data + off, len);
		if (len >= 2)
			put_be16(p, 5);
		flushed = 0;
		before = sink.n;
		rc = decoder_packet(d, addr, 2055, p, len, 1700000000000ull,
		    &sink);
		if (rc >= 0 && flushed + sink.n - before != (size_t)rc)
			abort();
		free(p);
		if (end == NULL)
			break;
		off += len + SEP_LEN;
	}
	check_flows(&sink);
	decoder_free(d);
	return 0;
}
