/*
 * bench_decode: decode rate from memory, one thread, per protocol.
 *
 * For each case flowgen builds a pool of export datagrams (the v9/IPFIX
 * template datagrams interleaved as a router sends them); the bench feeds
 * them to decoder_packet() pass after pass into a flow sink of 1024
 * records that is emptied when full (no store behind it). Between passes,
 * untimed, the datagram headers get their next sequence numbers so the
 * decoder sees an orderly stream. Each run decodes for at least
 * --min-time seconds of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID,
 * so that other work preempting the bench on a shared machine does not
 * count against the decoder); the figure is flows decoded per second of
 * that time. Several runs give the median and the spread (min..max). The
 * "cpu" column is CPU time over wall time: well below 100% means the
 * machine was busy and the figures are less trustworthy.
 *
 * Before timing, one untimed check pass per case compares what the
 * decoder produced (flow count, bytes and packets summed over the flows)
 * and its loss counters with what flowgen encoded; a mismatch is printed
 * and makes the exit status 1, since a rate of wrong answers means
 * nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "node/decode/decode.h"
#include "flowgen.h"

#define SINK_CAP	1024
#define MAX_RUNS	101

struct bcase {
	const char *name;
	fg_proto_t proto;
	unsigned v6_pct;
	const char *what;
};

static const struct bcase cases[] = {
	{ "v5", FG_V5, 0, "30 records/datagram" },
	{ "v9", FG_V9, 0, "IPv4 template, 45-byte records" },
	{ "ipfix", FG_IPFIX, 0, "IPv4 template, 69-byte records" },
	{ "sflow", FG_SFLOW, 0, "flow samples, 128-byte raw headers" },
	{ "v9-v6mix", FG_V9, 20, "20% of datagrams IPv6 (81-byte records)" },
	{ "ipfix-v6mix", FG_IPFIX, 20, "20% IPv6 (105-byte records)" },
};

/* A sink that only empties itself; the decoder does the work. */
static void
sink_drop(flow_sink_t *s)
{
	s->n = 0;
}

/* A sink that sums what a collector would report. */
struct sums {
	uint64_t flows, bytes, packets;
};

static void
sink_sum(flow_sink_t *s)
{
	struct sums *m = s->arg;

	for (size_t i = 0; i < s->n; i++) {
		m->flows++;
		m->bytes += s->flows[i].bytes;
		m->packets += s->flows[i].packets;
	}
	s->n = 0;
}

struct loss {
	uint64_t malformed, no_template, seq_gaps, seq_resets, exporters;
};

static void
sum_exporter(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	struct loss *l = arg;

	(void)addr;
	(void)version;
	(void)domain;
	l->malformed += st->malformed;
	l->no_template += st->no_template;
	l->seq_gaps += st->seq_gaps;
	l->seq_resets += st->seq_resets;
	l->exporters++;
}

/* One pass: the next n datagrams of the stream. */
struct pass {
	fg_dgram_t *dg;
	unsigned n;
	fg_totals_t t;
};

static void
pass_fill(fg_t *g, struct pass *p, uint64_t now)
{
	memset(&p->t, 0, sizeof(p->t));
	for (unsigned i = 0; i < p->n; i++) {
		fg_next(g, now, &p->dg[i]);
		fg_totals_add(&p->t, &p->dg[i].t);
	}
}

/* Decode a pass; returns the flows produced. */
static uint64_t
pass_decode(decoder_t *d, const struct pass *p, uint64_t now,
    flow_sink_t *sink)
{
	static const uint8_t addr[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 127, 0, 0, 1 };
	uint64_t flows = 0;

	for (unsigned i = 0; i < p->n; i++) {
		int rc = decoder_packet(d, addr, 50000, p->dg[i].buf,
		    p->dg[i].len, now, sink);

		if (rc > 0)
			flows += (uint64_t)rc;
	}
	return flows;
}

/* CPU time of this thread in ns. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	uint64_t flows, dgrams;	/* decoded in all, check pass included */
	double med, min, max;	/* flows/s */
	double cpu_share;	/* CPU time / wall time of the timed part */
	double dgram_len, flows_per_dgram;
	int ok;
};

static int
run_case(const struct bcase *c, unsigned runs, double min_time,
    unsigned pool, unsigned exporters, struct result *res)
{
	fg_opts_t o = { .proto = c->proto, .seed = 1, .pool = pool,
	    .v6_pct = c->v6_pct, .exporters = exporters };
	char err[256];
	fg_t *g;
	decoder_t *d;
	store_flow_t *recs;
	flow_sink_t sink;
	struct pass p;
	struct sums sums = { 0 };
	fg_totals_t want = { 0 };
	struct loss loss = { 0 };
	double rates[MAX_RUNS];
	uint64_t now = now_ms(), cpu_all = 0, wall_all = 0;

	memset(res, 0, sizeof(*res));
	if ((g = fg_new(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_decode: %s: %s\n", c->name, err);
		return -1;
	}
	d = decoder_new(NULL);
	recs = calloc(SINK_CAP, sizeof(*recs));
	p.n = fg_max_batch(g);
	p.dg = calloc(p.n, sizeof(*p.dg));
	if (d == NULL || recs == NULL || p.dg == NULL) {
		fprintf(stderr, "bench_decode: out of memory\n");
		return -1;
	}

	/* Check pass: two passes through a summing sink. */
	sink = (flow_sink_t){ .flows = recs, .cap = SINK_CAP,
	    .flush = sink_sum, .arg = &sums };
	for (int i = 0; i < 2; i++) {
		pass_fill(g, &p, now);
		fg_totals_add(&want, &p.t);
		res->flows += pass_decode(d, &p, now, &sink);
		res->dgrams += p.n;
	}
	sink.flush(&sink);
	decoder_foreach_exporter(d, sum_exporter, &loss);
	res->ok = sums.flows == want.flows && sums.bytes == want.bytes &&
	    sums.packets == want.flow_packets && loss.malformed == 0 &&
	    loss.no_template == 0 && loss.seq_gaps == 0 &&
	    loss.seq_resets == 0 && decoder_stats(d)->malformed == 0;
	if (!res->ok)
		fprintf(stderr, "bench_decode: %s: CHECK FAILED: decoded "
		    "flows %" PRIu64 " bytes %" PRIu64 " packets %" PRIu64
		    "; encoded flows %" PRIu64 " bytes %" PRIu64 " packets %"
		    PRIu64 "; malformed %" PRIu64 " no-template %" PRIu64
		    " seq-gaps %" PRIu64 " seq-resets %" PRIu64
		    " unknown-version %" PRIu64 "\n", c->name, sums.flows,
		    sums.bytes, sums.packets, want.flows, want.bytes,
		    want.flow_packets, loss.malformed, loss.no_template,
		    loss.seq_gaps, loss.seq_resets,
		    decoder_stats(d)->unknown_version);
	res->dgram_len = (double)want.octets / (double)want.packets;
	res->flows_per_dgram = fg_flows_per_dgram(g);

	/* Timed runs. */
	sink = (flow_sink_t){ .flows = recs, .cap = SINK_CAP,
	    .flush = sink_drop };
	for (unsigned r = 0; r < runs; r++) {
		uint64_t ns = 0, wall = 0, flows = 0, want_flows = 0;

		while (ns < (uint64_t)(min_time * 1e9)) {
			uint64_t t0, t1, w0, w1;

			pass_fill(g, &p, now);
			w0 = mono_ns();
			t0 = cpu_ns();
			flows += pass_decode(d, &p, now, &sink);
			t1 = cpu_ns();
			w1 = mono_ns();
			ns += t1 - t0;
			wall += w1 - w0;
			want_flows += p.t.flows;
			res->dgrams += p.n;
		}
		res->flows += flows;
		cpu_all += ns;
		wall_all += wall;
		if (flows != want_flows) {
			fprintf(stderr, "bench_decode: %s: run %u decoded %"
			    PRIu64 " flows of %" PRIu64 "\n", c->name, r,
			    flows, want_flows);
			res->ok = 0;
		}
		rates[r] = (double)flows / ((double)ns / 1e9);
	}
	qsort(rates, runs, sizeof(rates[0]), cmp_double);
	res->min = rates[0];
	res->max = rates[runs - 1];
	res->med = runs % 2 ? rates[runs / 2] :
	    (rates[runs / 2 - 1] + rates[runs / 2]) / 2;
	res->cpu_share = wall_all ? (double)cpu_all / (double)wall_all : 0;

	free(p.dg);
	free(recs);
	decoder_free(d);
	fg_free(g);
	return 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: bench_decode [--runs N] [--min-time S] [--pool N] [--exporters N]\n"
"                    [--verbose] [CASE...]\n"
"\n"
"Decode rate from memory on one thread. Cases: v5 v9 ipfix sflow\n"
"v9-v6mix ipfix-v6mix (default: all). Defaults: 7 runs of at least\n"
"0.3 s; a pool of 256 datagrams (about 350 KiB, so the input is cache\n"
"resident as after recvmmsg); 4 exporters (source ids / domains).\n"
"--verbose prints how many flows and datagrams each case decoded in all\n"
"(for instructions per flow under valgrind --tool=callgrind\n"
"--toggle-collect=decoder_packet).\n"
"Exit status 1 when a decoder's output does not match what was encoded.\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "min-time", required_argument, NULL, 't' },
		{ "pool", required_argument, NULL, 'p' },
		{ "exporters", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned runs = 7, pool = 256, exporters = 4;
	double min_time = 0.3;
	int c, failed = 0, verbose = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "r:t:p:e:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			runs = (unsigned)strtoul(optarg, &end, 10);
			if (*end || runs == 0 || runs > MAX_RUNS)
				goto bad;
			break;
		case 't':
			min_time = strtod(optarg, &end);
			if (*end || min_time <= 0 || min_time > 60)
				goto bad;
			break;
		case 'p':
			pool = (unsigned)strtoul(optarg, &end, 10);
			if (*end || pool < 2 || pool > 1000000)
				goto bad;
			break;
		case 'e':
			exporters = (unsigned)strtoul(optarg, &end, 10);
			if (*end || exporters == 0 || exporters > 256)
				goto bad;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		continue;
bad:
		fprintf(stderr, "bench_decode: bad value: %s\n", optarg);
		return 2;
	}

	printf("decode rate from memory, one thread: %u runs of >= %.2f s "
	    "of CPU time per case, flowgen seed 1, pool %u datagrams, %u "
	    "exporters\n",
	    runs, min_time, pool, exporters);
	printf("%-12s %6s %6s %9s %7s %7s %7s %8s %5s  %s\n", "case",
	    "B/dgm", "fl/dgm", "Mflows/s", "min", "max", "spread",
	    "ns/flow", "cpu", "check / traffic");
	for (size_t i = 0; i < FF_NELEM(cases); i++) {
		const struct bcase *bc = &cases[i];
		struct result r;
		int want = optind == argc;

		for (int a = optind; a < argc; a++)
			if (strcmp(argv[a], bc->name) == 0)
				want = 1;
		if (!want)
			continue;
		if (run_case(bc, runs, min_time, pool, exporters, &r) == -1)
			return 1;
		printf("%-12s %6.0f %6.2f %9.2f %7.2f %7.2f %6.1f%% %8.1f "
		    "%4.0f%%  %s / %s\n", bc->name, r.dgram_len,
		    r.flows_per_dgram, r.med / 1e6, r.min / 1e6, r.max / 1e6,
		    100.0 * (r.max - r.min) / r.med, 1e9 / r.med,
		    100.0 * r.cpu_share, r.ok ? "ok" : "MISMATCH", bc->what);
		if (verbose)
			fprintf(stderr, "%s: decoded %" PRIu64 " flows in %"
			    PRIu64 " datagrams (all passes)\n", bc->name,
			    r.flows, r.dgrams);
		fflush(stdout);
		if (!r.ok)
			failed = 1;
	}
	for (int a = optind; a < argc; a++) {
		int known = 0;

		for (size_t i = 0; i < FF_NELEM(cases); i++)
			if (strcmp(argv[a], cases[i].name) == 0)
				known = 1;
		if (!known) {
			fprintf(stderr, "bench_decode: unknown case %s\n",
			    argv[a]);
			failed = 1;
		}
	}
	return failed;
}
