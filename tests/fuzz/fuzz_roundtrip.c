/*
 * libFuzzer target: whatever datagrams a node receives, what it stores
 * answers every query in a form the controller accepts.
 *
 * Input: one option byte, then datagrams, each as a 2-byte big-endian
 * length and that many bytes (the last one may be short): NetFlow v5, v9,
 * IPFIX or sFlow v5, whatever their first bytes say (decoder_packet()).
 * They go in order to one decoder (from two exporter addresses, option
 * bit 0x01), which is then ticked and drops what it still holds. Every
 * flow record must be within what the store and the wire accept (the
 * decoders' clamp step: prefix lengths within the family, first <= last).
 *
 * The flows go into a store of their own (a small LMDB map in a fresh
 * directory under TMPDIR or /tmp, removed after the run; option bit 0x02:
 * blocks of 7 rows, so that a query spans several blocks), and every
 * query kind runs over it: totals, a listing, a series, and top N and
 * distinct by every key kind. Each partial result must pack, unpack (the
 * controller's parser, which takes nothing on trust), merge into an empty
 * result of its query and equal the original, and print in every format.
 * Anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "store/query/query.h"
#include "store/store.h"
#include "../unit/tmpdir.h"

#define NOW_MS		1700000000000ull
#define MAX_FLOWS	4096
#define SINK_CAP	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static store_flow_t flows[MAX_FLOWS];
static size_t nflows;
static store_flow_t slots[SINK_CAP];

static void
keep(flow_sink_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const store_flow_t *f = &s->flows[i];
		unsigned max = (f->flags & STORE_FLOW_F_V6) ? 128 : 32;

		/* the clamp step: what the store holds, the wire takes */
		if (f->src_mask > max || f->dst_mask > max ||
		    f->first_ms > f->last_ms || f->first_ms == 0)
			abort();
		if (nflows < MAX_FLOWS)
			flows[nflows++] = *f;
	}
	s->n = 0;
}

/* pack -> unpack -> merge into an empty result: equal to r. */
static void
round_trip(const query_t *q, const query_result_t *r)
{
	query_result_t *r2 = NULL, *m;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (query_result_pack(r, &buf, &len) != 0)
		abort();
	if ((rc = query_result_unpack(buf, len, &r2)) != 0) {
		fprintf(stderr, "a stored flow's answer does not unpack: "
		    "%s\n", ff_strerror(rc));
		abort();
	}
	free(buf);
	if (!query_result_equal(r, r2))
		abort();
	if ((m = query_result_new(q)) == NULL)
		abort();
	if (query_result_merge(m, r2) != 0 || !query_result_equal(m, r))
		abort();
	if (query_result_print(r2, devnull, QUERY_FMT_TABLE) != 0 ||
	    query_result_print(r2, devnull, QUERY_FMT_JSON) != 0 ||
	    query_result_print(r2, devnull, QUERY_FMT_CSV) != 0)
		abort();
	query_result_free(m);
	query_result_free(r2);
}

static void
run_one(store_t *s, const query_spec_t *spec)
{
	query_t *q = NULL;
	query_result_t *r = NULL;
	char err[256];

	if (query_compile(spec, &q, err, sizeof(err)) != 0)
		abort();
	if (query_run(s, q, NULL, &r, err, sizeof(err)) != 0)
		abort();
	round_trip(q, r);
	query_result_free(r);
	query_free(q);
}

static void
run_queries(store_t *s)
{
	query_spec_t spec;

	memset(&spec, 0, sizeof(spec));
	spec.t1 = UINT64_MAX;
	spec.threads = 1;
	spec.kind = QUERY_TOTALS;
	run_one(s, &spec);
	spec.kind = QUERY_LIST;
	spec.limit = 1000;
	run_one(s, &spec);
	spec.limit = 0;
	/* a day either side of the receive times: what the clamp lets
	   through lies far wider, and the window cuts it */
	spec.kind = QUERY_SERIES;
	spec.t0 = NOW_MS - 86400000;
	spec.t1 = NOW_MS + 86400000;
	spec.step_ms = 600000;
	run_one(s, &spec);
	spec.t0 = 0;
	spec.t1 = UINT64_MAX;
	spec.step_ms = 0;
	for (int key = QUERY_KEY_SRCIP; key <= QUERY_KEY_DSTAS; key++) {
		spec.key = (query_key_t)key;
		spec.prefix4 = 24;
		spec.prefix6 = 64;
		spec.kind = QUERY_TOPN;
		spec.order = QUERY_ORDER_BYTES;
		spec.n = 10;
		run_one(s, &spec);
		spec.kind = QUERY_DISTINCT;
		spec.order = 0;
		spec.n = 0;
		run_one(s, &spec);
	}
}

static void
store_and_query(int small_blocks)
{
	static unsigned seq;
	const char *tmp = getenv("TMPDIR");
	char dir[512], err[256];
	store_opts_t o;
	store_t *s;

	snprintf(dir, sizeof(dir), "%s/ffroundtrip-%ld-%u-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid(), seq++);
	if (tmpdir_make(dir) == NULL)
		abort();
	memset(&o, 0, sizeof(o));
	o.path = dir;
	o.map_size = 8u << 20;		/* a small map opens fast */
	o.nosync = 1;
	o.block_rows = small_blocks ? 7 : 0;
	if (store_open(&o, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	if (store_append(s, flows, nflows) != 0 || store_commit(s) != 0)
		abort();
	run_queries(s);
	store_close(s);
	if (tmpdir_remove(dir) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t a1[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2,
	    1 };
	static const uint8_t a2[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	flow_sink_t sink = { slots, 0, SINK_CAP, keep, NULL };
	decoder_t *d;
	uint8_t opt;
	uint64_t now = NOW_MS;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	if (size < 1)
		return 0;
	opt = data[0];
	data++;
	size--;
	if ((d = decoder_new(NULL)) == NULL)
		abort();
	nflows = 0;
	for (unsigned i = 0; size >= 2; i++) {
		size_t len = be16(data);
		uint8_t *p;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* a copy of its exact size: a read past it is caught */
		if ((p = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(p, data, len);
		decoder_packet(d, (opt & 0x01) && (i & 1) ? a2 : a1, 2055, p,
		    len, now, &sink);
		free(p);
		data += len;
		size -= len;
		now += 1000;
	}
	decoder_tick(d, now + 60000, &sink);
	decoder_drop_held(d);
	if (sink.n > 0)
		keep(&sink);
	decoder_free(d);
	if (nflows > 0)
		store_and_query(opt & 0x02);
	return 0;
}
