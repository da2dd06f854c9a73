/*
 * bench_filter: filter_eval throughput, one thread.
 *
 *   bench_filter [--runs N] [--min-time SECONDS] [--rows N]
 *
 * Builds batches of --rows rows (default 32768, a full store block) of
 * seeded random flows: one with every address column in IPv4 form (all
 * rows IPv4) and one in 16-byte form (a quarter of the rows IPv6). For
 * each filter below, filter_eval runs over the batch again and again for
 * at least --min-time seconds (default 0.3) per run; several runs
 * (default 7) give the median and the spread in rows per second. Before
 * timing, each filter's selection is checked against filter_match on
 * every row (a mismatch exits 1). Figures only, no pass/fail on time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "store/query/filter.h"

#define MAX_RUNS	101

static const char *const filters[] = {
	"proto tcp",
	"dst port 443",
	"port 443",
	"bytes > 1000",
	"src net 10.0.0.0/8",
	"ip 10.1.2.3",
	"proto tcp and dst port 443 and bytes > 1000",
	"not (port 80 or port 443)",
	"port in [ 22 53 80 443 8080 ]",
	"flags S and not flags AFRPU",
	"src net 10.0.0.0/8 and (dst port 53 or dst port 443) and inet",
	"ip in [ 10.0.0.0/12 10.32.0.0/12 192.168.0.0/16 172.16.0.0/12 "
	    "2001:db8::/32 1.1.1.1 8.8.8.8 9.9.9.9 ]",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct cols {
	uint64_t *bytes, *packets;
	uint32_t *a4[4];
	uint8_t (*a16[4])[16];
	uint32_t *in_if, *out_if, *src_as, *dst_as, *tags;
	uint16_t *sport, *dport;
	uint8_t *proto, *tcp_flags, *tos, *src_mask, *dst_mask, *flags;
};

static void *
xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static void
gen_flow(store_flow_t *f, int v6)
{
	static const uint16_t ports[] = { 22, 53, 80, 443, 8080, 123, 1024,
	    40000, 51515, 65535 };
	uint8_t *addrs[4] = { f->src, f->dst, f->nexthop, f->exporter };

	memset(f, 0, sizeof(*f));
	for (int k = 0; k < 4; k++) {
		uint8_t v4[4];
		uint32_t a = (uint32_t)rng();

		if (k < 2 && rng() % 2)
			a = 0x0a000000u | (a & 0x00ffffffu);	/* 10/8 */
		put_be32(v4, a);
		addr_from_v4(addrs[k], v4);
		if (v6 && k < 2) {
			put_be64(addrs[k], 0x20010db800000000ULL |
			    (rng() & 0xffff));
			put_be64(addrs[k] + 8, rng());
		}
	}
	f->flags = v6 ? STORE_FLOW_F_V6 : 0;
	f->bytes = rng() % 3000;
	f->packets = 1 + rng() % 20;
	f->proto = (uint8_t)((const uint8_t[]){ 6, 6, 6, 17, 17, 1 })[rng() %
	    6];
	f->sport = ports[rng() % FF_NELEM(ports)];
	f->dport = ports[rng() % FF_NELEM(ports)];
	f->tcp_flags = (uint8_t)rng();
	f->tos = (uint8_t)(rng() % 4 * 8);
	f->in_if = (uint32_t)(rng() % 8);
	f->out_if = (uint32_t)(rng() % 8);
	f->src_as = (uint32_t)(rng() % 70000);
	f->dst_as = (uint32_t)(rng() % 70000);
	f->src_mask = 24;
	f->dst_mask = 24;
	f->tags = (uint32_t)rng() & 0x7;
	f->sampling = 1;
}

static void
build(store_colbatch_t *cb, struct cols *c, const store_flow_t *fl, size_t n,
    int v4form)
{
	memset(cb, 0, sizeof(*cb));
	c->bytes = xmalloc(n * 8);
	c->packets = xmalloc(n * 8);
	c->in_if = xmalloc(n * 4);
	c->out_if = xmalloc(n * 4);
	c->src_as = xmalloc(n * 4);
	c->dst_as = xmalloc(n * 4);
	c->tags = xmalloc(n * 4);
	c->sport = xmalloc(n * 2);
	c->dport = xmalloc(n * 2);
	c->proto = xmalloc(n);
	c->tcp_flags = xmalloc(n);
	c->tos = xmalloc(n);
	c->src_mask = xmalloc(n);
	c->dst_mask = xmalloc(n);
	c->flags = xmalloc(n);
	for (int k = 0; k < 4; k++) {
		c->a4[k] = xmalloc(n * 4);
		c->a16[k] = xmalloc(n * 16);
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *addrs[4] = { fl[i].src, fl[i].dst,
		    fl[i].nexthop, fl[i].exporter };

		c->bytes[i] = fl[i].bytes;
		c->packets[i] = fl[i].packets;
		c->in_if[i] = fl[i].in_if;
		c->out_if[i] = fl[i].out_if;
		c->src_as[i] = fl[i].src_as;
		c->dst_as[i] = fl[i].dst_as;
		c->tags[i] = fl[i].tags;
		c->sport[i] = fl[i].sport;
		c->dport[i] = fl[i].dport;
		c->proto[i] = fl[i].proto;
		c->tcp_flags[i] = fl[i].tcp_flags;
		c->tos[i] = fl[i].tos;
		c->src_mask[i] = fl[i].src_mask;
		c->dst_mask[i] = fl[i].dst_mask;
		c->flags[i] = fl[i].flags;
		for (int k = 0; k < 4; k++) {
			c->a4[k][i] = be32(addrs[k] + 12);
			memcpy(c->a16[k][i], addrs[k], 16);
		}
	}
	cb->n = n;
	cb->cols = STORE_COLS_ALL & ~(STORE_COLBIT(STORE_COL_FIRST) |
	    STORE_COLBIT(STORE_COL_LAST) | STORE_COLBIT(STORE_COL_SAMPLING));
	cb->bytes = c->bytes;
	cb->packets = c->packets;
	cb->in_if = c->in_if;
	cb->out_if = c->out_if;
	cb->src_as = c->src_as;
	cb->dst_as = c->dst_as;
	cb->tags = c->tags;
	cb->sport = c->sport;
	cb->dport = c->dport;
	cb->proto = c->proto;
	cb->tcp_flags = c->tcp_flags;
	cb->tos = c->tos;
	cb->src_mask = c->src_mask;
	cb->dst_mask = c->dst_mask;
	cb->flags = c->flags;
	if (v4form) {
		cb->v4 = STORE_COLBIT(STORE_COL_SRC) | STORE_COLBIT(STORE_COL_DST) |
		    STORE_COLBIT(STORE_COL_NEXTHOP) | STORE_COLBIT(STORE_COL_EXPORTER);
		cb->src4 = c->a4[0];
		cb->dst4 = c->a4[1];
		cb->nexthop4 = c->a4[2];
		cb->exporter4 = c->a4[3];
	} else {
		cb->src16 = (const uint8_t (*)[16])c->a16[0];
		cb->dst16 = (const uint8_t (*)[16])c->a16[1];
		cb->nexthop16 = (const uint8_t (*)[16])c->a16[2];
		cb->exporter16 = (const uint8_t (*)[16])c->a16[3];
	}
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Check eval against match; then time. Returns 0, or 1 on a mismatch. */
static int
bench_one(const char *text, const char *form, const store_colbatch_t *cb,
    const store_flow_t *fl, int runs, double min_time)
{
	query_filter_t *f;
	char err[256];
	size_t nw = (cb->n + 63) / 64, cnt, want = 0;
	uint64_t *sel, *scratch;
	double rates[MAX_RUNS];

	if (filter_compile(text, &f, err, sizeof(err)) != 0) {
		fprintf(stderr, "'%s': %s\n", text, err);
		return 1;
	}
	sel = xmalloc(nw * 8);
	scratch = xmalloc((filter_scratch_words(f) + 1) * nw * 8);
	cnt = filter_eval(f, cb, sel, scratch);
	for (size_t i = 0; i < cb->n; i++) {
		int m = filter_match(f, &fl[i]);

		want += (size_t)m;
		if (m != (int)((sel[i / 64] >> (i % 64)) & 1)) {
			fprintf(stderr, "'%s' (%s): filter_eval and "
			    "filter_match differ on row %zu\n", text, form, i);
			return 1;
		}
	}
	if (cnt != want) {
		fprintf(stderr, "'%s': count %zu, want %zu\n", text, cnt, want);
		return 1;
	}
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = mono_ns(), t1, iters = 0;

		do {
			for (int k = 0; k < 16; k++)
				cnt += filter_eval(f, cb, sel, scratch);
			iters += 16;
			t1 = mono_ns();
		} while ((double)(t1 - t0) < min_time * 1e9);
		rates[r] = (double)iters * (double)cb->n /
		    ((double)(t1 - t0) / 1e9);
	}
	qsort(rates, (size_t)runs, sizeof(rates[0]), cmp_dbl);
	printf("%-62.62s %-7s %5.1f%% %8.0f %8.0f %8.0f\n", text, form,
	    100.0 * (double)want / (double)cb->n, rates[runs / 2] / 1e6,
	    rates[0] / 1e6, rates[runs - 1] / 1e6);
	free(sel);
	free(scratch);
	filter_free(f);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "min-time", required_argument, NULL, 't' },
		{ "rows", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	int runs = 7, c, status = 0;
	double min_time = 0.3;
	size_t n = 32768;
	store_flow_t *fl4, *fl6;
	store_colbatch_t cb4, cb16;
	struct cols c4, c16;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 't':
			min_time = atof(optarg);
			break;
		case 'n':
			n = (size_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_filter [--runs N] "
			    "[--min-time SECONDS] [--rows N]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || n == 0 || min_time <= 0) {
		fprintf(stderr, "bench_filter: bad arguments\n");
		return 2;
	}
	fl4 = xmalloc(n * sizeof(*fl4));
	fl6 = xmalloc(n * sizeof(*fl6));
	for (size_t i = 0; i < n; i++) {
		gen_flow(&fl4[i], 0);
		gen_flow(&fl6[i], rng() % 4 == 0);
	}
	build(&cb4, &c4, fl4, n, 1);
	build(&cb16, &c16, fl6, n, 0);
	printf("filter_eval over %zu-row batches, one thread; rows/s in "
	    "millions: median, min, max of %d runs of >= %.2f s\n", n, runs,
	    min_time);
	printf("%-62s %-7s %6s %8s %8s %8s\n", "filter", "addrs", "match",
	    "median", "min", "max");
	for (size_t k = 0; k < FF_NELEM(filters); k++) {
		status |= bench_one(filters[k], "ipv4", &cb4, fl4, runs,
		    min_time);
		if (strstr(filters[k], "net") || strstr(filters[k], "ip"))
			status |= bench_one(filters[k], "16-byte", &cb16, fl6,
			    runs, min_time);
	}
	return status;
}
