/*
 * bench_sflow: sFlow v5 decode rate from memory, one thread.
 *
 *   bench_sflow [--runs N] [--min-time SECONDS] [--samples K]
 *
 * A pool of 64 datagrams is built in memory, each like a switch sends
 * them: K flow samples (default 7) of 1:1024 sampling, each with a
 * 128-byte raw header (Ethernet, 802.1Q tag, IPv4, TCP; addresses and
 * ports vary) and an extended switch record. The pool is fed to
 * decoder_packet() pass after pass into a 1024-record sink that is
 * emptied when full. Between passes, untimed, the datagram sequence
 * numbers are advanced so the decoder sees an orderly stream. A run
 * lasts at least --min-time seconds (default 1); several runs (default
 * 7) give the median and the spread. Before timing, one pass checks that
 * the decoder gives K flows per datagram, the expected byte total and no
 * loss counters; a mismatch exits 1. Figures only, no pass/fail on time.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "node/decode/decode.h"

#define POOL		64
#define MAX_SAMPLES	9
#define HDR_LEN		128
#define RATE		1024
#define MAX_RUNS	101
#define DG_MAX		(28 + MAX_SAMPLES * (8 + 32 + 8 + 16 + HDR_LEN + \
			    8 + 16))

struct dg {
	uint8_t b[DG_MAX];
	size_t n;
	uint64_t ip_bytes;	/* sum of the sampled IPv4 total lengths */
};

static struct dg pool[POOL];
static store_flow_t slots[1024];

static size_t
w32(uint8_t *p, size_t n, uint32_t v)
{
	put_be32(p + n, v);
	return n + 4;
}

/* Build datagram i of the pool with k flow samples. */
static void
build(struct dg *g, unsigned i, unsigned k)
{
	uint8_t *p = g->b;
	size_t n = 0;

	n = w32(p, n, 5);
	n = w32(p, n, 1);		/* agent IPv4 */
	n = w32(p, n, 0x0a000001);
	n = w32(p, n, 0);		/* sub-agent */
	n = w32(p, n, 0);		/* sequence, set per pass */
	n = w32(p, n, 3600000);		/* uptime */
	n = w32(p, n, k);
	g->ip_bytes = 0;
	for (unsigned s = 0; s < k; s++) {
		unsigned id = i * MAX_SAMPLES + s;
		uint16_t tot = (uint16_t)(64 + (id * 97) % 1437);
		size_t slen_at, h;

		n = w32(p, n, 1);	/* flow sample */
		slen_at = n;
		n = w32(p, n, 0);
		n = w32(p, n, id);	/* sample sequence */
		n = w32(p, n, 7);	/* source id */
		n = w32(p, n, RATE);
		n = w32(p, n, id * RATE);
		n = w32(p, n, 0);
		n = w32(p, n, 1 + id % 48);	/* input ifIndex */
		n = w32(p, n, 1 + (id + 5) % 48);
		n = w32(p, n, 2);	/* records */
		n = w32(p, n, 1);	/* raw packet header */
		n = w32(p, n, 16 + HDR_LEN);
		n = w32(p, n, 1);	/* Ethernet */
		n = w32(p, n, (uint32_t)tot + 18 + 4);
		n = w32(p, n, 4);
		n = w32(p, n, HDR_LEN);
		h = n;
		memset(p + h, 0, HDR_LEN);
		memcpy(p + h, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x81\0", 14);
		put_be16(p + h + 14, (uint16_t)(100 + id % 4));
		put_be16(p + h + 16, 0x0800);
		h += 18;
		p[h] = 0x45;
		put_be16(p + h + 2, tot);
		p[h + 8] = 64;
		p[h + 9] = 6;
		put_be32(p + h + 12, 0xc6336400 | (id % 251));
		put_be32(p + h + 16, 0xcb007100 | ((id * 7) % 253));
		h += 20;
		put_be16(p + h, (uint16_t)(1024 + id * 13));
		put_be16(p + h + 2, id % 3 ? 443 : 80);
		p[h + 12] = 5 << 4;
		p[h + 13] = 0x10;
		n += HDR_LEN;
		n = w32(p, n, 1001);	/* extended switch */
		n = w32(p, n, 16);
		n = w32(p, n, 100 + id % 4);
		n = w32(p, n, 0);
		n = w32(p, n, 100 + id % 4);
		n = w32(p, n, 0);
		put_be32(p + slen_at, (uint32_t)(n - slen_at - 4));
		g->ip_bytes += tot;
	}
	g->n = n;
}

static void
sink_drop(flow_sink_t *s)
{
	s->n = 0;
}

struct sums {
	uint64_t flows, bytes, packets;
};

static void
sink_sum(flow_sink_t *s)
{
	struct sums *t = s->arg;

	for (size_t i = 0; i < s->n; i++) {
		t->flows++;
		t->bytes += s->flows[i].bytes;
		t->packets += s->flows[i].packets;
	}
	s->n = 0;
}

static void
set_seq(uint32_t *seq)
{
	for (unsigned i = 0; i < POOL; i++)
		put_be32(pool[i].b + 16, (*seq)++);
}

struct lossq {
	uint64_t bad;
};

static void
loss_cb(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	struct lossq *q = arg;

	(void)addr;
	(void)version;
	(void)domain;
	q->bad += st->malformed + st->seq_gaps + st->seq_resets +
	    st->sampling_bad;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "min-time", required_argument, NULL, 't' },
		{ "samples", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	static const uint8_t addr[16] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	unsigned runs = 7, k = 7;
	double min_time = 1.0, rate[MAX_RUNS];
	uint64_t want_bytes = 0, now = 1700000000000ull;
	uint32_t seq = 1;
	struct sums sums = { 0, 0, 0 };
	struct lossq lq = { 0 };
	flow_sink_t sink = { slots, 0, FF_NELEM(slots), sink_sum, &sums };
	decoder_t *d;
	size_t dgbytes = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			min_time = strtod(optarg, NULL);
			break;
		case 'k':
			k = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_sflow [--runs N] "
			    "[--min-time SECONDS] [--samples K]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || k < 1 || k > MAX_SAMPLES ||
	    !(min_time > 0)) {
		fprintf(stderr, "bench_sflow: runs 1..%d, samples 1..%d, "
		    "min-time > 0\n", MAX_RUNS, MAX_SAMPLES);
		return 2;
	}
	for (unsigned i = 0; i < POOL; i++) {
		build(&pool[i], i, k);
		want_bytes += pool[i].ip_bytes * RATE;
		dgbytes += pool[i].n;
	}
	if ((d = decoder_new(NULL)) == NULL)
		return 1;

	/* Untimed check pass. */
	set_seq(&seq);
	for (unsigned i = 0; i < POOL; i++)
		decoder_packet(d, addr, 6343, pool[i].b, pool[i].n, now,
		    &sink);
	sink_sum(&sink);
	decoder_foreach_exporter(d, loss_cb, &lq);
	if (sums.flows != (uint64_t)POOL * k || sums.bytes != want_bytes ||
	    sums.packets != (uint64_t)POOL * k * RATE || lq.bad != 0) {
		printf("sflow check FAILED: flows %" PRIu64 " (want %u) bytes %"
		    PRIu64 " (want %" PRIu64 ") packets %" PRIu64
		    " loss counters %" PRIu64 "\n", sums.flows, POOL * k,
		    sums.bytes, want_bytes, sums.packets, lq.bad);
		decoder_free(d);
		return 1;
	}

	sink.flush = sink_drop;
	sink.arg = NULL;
	for (unsigned r = 0; r < runs; r++) {
		uint64_t ns = 0, flows = 0;

		while (ns < (uint64_t)(min_time * 1e9)) {
			uint64_t t0;

			set_seq(&seq);
			t0 = mono_ns();
			for (unsigned i = 0; i < POOL; i++)
				flows += (uint64_t)decoder_packet(d, addr,
				    6343, pool[i].b, pool[i].n, now, &sink);
			ns += mono_ns() - t0;
		}
		rate[r] = (double)flows / ((double)ns / 1e9);
	}
	lq.bad = 0;
	decoder_foreach_exporter(d, loss_cb, &lq);
	decoder_free(d);
	if (lq.bad != 0) {
		printf("sflow check FAILED: loss counters %" PRIu64
		    " after timing\n", lq.bad);
		return 1;
	}
	qsort(rate, runs, sizeof(rate[0]), cmp_dbl);
	printf("sflow decode: %u flow samples/datagram (%zu-byte datagrams, "
	    "%d-byte Ethernet/VLAN/IPv4/TCP headers), %u runs of >= %.1f s\n",
	    k, dgbytes / POOL, HDR_LEN, runs, min_time);
	printf("  median %.2f M flows/s  (min %.2f, max %.2f)  = %.2f M "
	    "datagrams/s, %.1f ns/flow\n", rate[runs / 2] / 1e6,
	    rate[0] / 1e6, rate[runs - 1] / 1e6, rate[runs / 2] / k / 1e6,
	    1e9 / rate[runs / 2]);
	return 0;
}
