/*
 * bench_nf9: NetFlow v9 and IPFIX decode rate from memory, one core.
 *
 * Builds one export packet per protocol with a typical 18-field template
 * (addresses, next hop, interfaces, counters, times, ports, flags,
 * protocol, ToS, AS numbers, masks) and as many data records as fit in
 * 1400 bytes, then decodes it over and over into a sink that only sums
 * the bytes. Prints the median of several runs in flows per second of
 * this thread's CPU time (the rate of one core, whatever else runs on
 * the machine) and in flows per wall-clock second; it does not pass or
 * fail.
 *
 * Build: cc -O2 -Inode tests/bench/bench_nf9.c BUILD/lib/libnode.a
 *        BUILD/lib/libstore.a BUILD/lib/libcommon.a -lsodium -lpcap
 * Usage: bench_nf9 [seconds_per_run]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "node/decode/decode.h"

#define RUNS	7
#define PKT_MAX	1400

static uint64_t sum_bytes;

static void
sum_flush(flow_sink_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		sum_bytes += s->flows[i].bytes;
	s->n = 0;
}

struct field {
	uint16_t type, len;
};

/* 18 fields; IPFIX uses 8-byte counters and ms timestamps. */
static const struct field v9_fields[] = {
	{ 8, 4 }, { 12, 4 }, { 15, 4 }, { 10, 4 }, { 14, 4 }, { 2, 4 },
	{ 1, 4 }, { 22, 4 }, { 21, 4 }, { 7, 2 }, { 11, 2 }, { 6, 1 },
	{ 4, 1 }, { 5, 1 }, { 16, 4 }, { 17, 4 }, { 9, 1 }, { 13, 1 },
};
static const struct field ipfix_fields[] = {
	{ 8, 4 }, { 12, 4 }, { 15, 4 }, { 10, 4 }, { 14, 4 }, { 2, 8 },
	{ 1, 8 }, { 152, 8 }, { 153, 8 }, { 7, 2 }, { 11, 2 }, { 6, 1 },
	{ 4, 1 }, { 5, 1 }, { 16, 4 }, { 17, 4 }, { 9, 1 }, { 13, 1 },
};
#define NFIELDS 18

static size_t
header(uint8_t *p, unsigned version, uint32_t seq)
{
	if (version == 9) {
		put_be16(p, 9);
		put_be16(p + 2, 1);
		put_be32(p + 4, 3600000);
		put_be32(p + 8, 1700000000);
		put_be32(p + 12, seq);
		put_be32(p + 16, 1);
		return 20;
	}
	put_be16(p, 10);
	put_be32(p + 4, 1700000000);
	put_be32(p + 8, seq);
	put_be32(p + 12, 1);
	return 16;
}

static size_t
template_pkt(uint8_t *p, unsigned version, const struct field *fl)
{
	size_t off = header(p, version, 0), set = off;

	put_be16(p + off, version == 9 ? 0 : 2);
	off += 4;
	put_be16(p + off, 256);
	put_be16(p + off + 2, NFIELDS);
	off += 4;
	for (int i = 0; i < NFIELDS; i++, off += 4) {
		put_be16(p + off, fl[i].type);
		put_be16(p + off + 2, fl[i].len);
	}
	put_be16(p + set + 2, (uint16_t)(off - set));
	if (version == 10)
		put_be16(p + 2, (uint16_t)off);
	return off;
}

static size_t
data_pkt(uint8_t *p, unsigned version, const struct field *fl, int *nrec)
{
	size_t off = header(p, version, 1), set = off, rlen = 0;
	int n = 0;

	for (int i = 0; i < NFIELDS; i++)
		rlen += fl[i].len;
	put_be16(p + off, 256);
	off += 4;
	while (off + rlen <= PKT_MAX) {
		for (int i = 0; i < NFIELDS; i++) {
			uint64_t v = (uint64_t)(n + 1) * 1000 + (uint64_t)i;

			if (fl[i].type == 152 || fl[i].type == 153)
				v = 1700000000000ull - 1000 + (uint64_t)n;
			for (int b = fl[i].len - 1; b >= 0; b--, v >>= 8)
				p[off + (size_t)b] = (uint8_t)v;
			off += fl[i].len;
		}
		n++;
	}
	put_be16(p + set + 2, (uint16_t)(off - set));
	if (version == 10)
		put_be16(p + 2, (uint16_t)off);
	*nrec = n;
	return off;
}

/* This thread's CPU time in ns. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
bench(const char *name, unsigned version, const struct field *fl,
    double secs)
{
	static const uint8_t addr[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 192, 0, 2, 1 };
	uint8_t tpl[PKT_MAX], data[PKT_MAX];
	size_t tlen, dlen;
	double rates[RUNS], wall[RUNS];
	flow_sink_t sink;
	decoder_t *d;
	int nrec;

	tlen = template_pkt(tpl, version, fl);
	dlen = data_pkt(data, version, fl, &nrec);
	memset(&sink, 0, sizeof(sink));
	sink.cap = 1024;
	sink.flows = calloc(sink.cap, sizeof(store_flow_t));
	sink.flush = sum_flush;
	if (sink.flows == NULL || (d = decoder_new(NULL)) == NULL) {
		fprintf(stderr, "bench_nf9: out of memory\n");
		exit(1);
	}
	decoder_packet(d, addr, 2055, tpl, tlen, 1700000000000ull, &sink);
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = mono_ns(), c0 = cpu_ns(), t1, flows = 0;

		do {
			for (int i = 0; i < 1000; i++) {
				int rc = decoder_packet(d, addr, 2055, data,
				    dlen, 1700000000000ull, &sink);

				if (rc != nrec) {
					fprintf(stderr, "bench_nf9: decoded %d "
					    "of %d records\n", rc, nrec);
					exit(1);
				}
				flows += (uint64_t)rc;
			}
			t1 = mono_ns();
		} while ((double)(t1 - t0) < secs * 1e9);
		rates[r] = (double)flows / ((double)(cpu_ns() - c0) / 1e9);
		wall[r] = (double)flows / ((double)(t1 - t0) / 1e9);
	}
	qsort(rates, RUNS, sizeof(rates[0]), cmp_double);
	qsort(wall, RUNS, sizeof(wall[0]), cmp_double);
	printf("%-6s decode: %2d records/packet, %zu-byte packets: median "
	    "%.2f M flows/s per CPU second (min %.2f, max %.2f), "
	    "%.2f M flows/s wall clock; %d runs\n", name, nrec, dlen,
	    rates[RUNS / 2] / 1e6, rates[0] / 1e6, rates[RUNS - 1] / 1e6,
	    wall[RUNS / 2] / 1e6, RUNS);
	sum_flush(&sink);
	free(sink.flows);
	decoder_free(d);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;

	if (secs <= 0 || secs > 60)
		secs = 0.5;
	bench("v9", 9, v9_fields, secs);
	bench("IPFIX", 10, ipfix_fields, secs);
	printf("(checksum %" PRIu64 ")\n", sum_bytes);
	return 0;
}
