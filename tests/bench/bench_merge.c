/*
 * bench_merge: what a node and the controller do with big keyed partial
 * results, one thread: pack, unpack, merge and TPUT selection of a top N
 * (by src ip) holding K random IPv6 keys (default 4M, one flow each: a
 * distinct count or a complete aggregate of a busy site).
 *
 *   bench_merge [--keys K] [--runs N]
 *
 * Figures, each the median of --runs runs (default 5) in ns per key, with
 * the wall time of one operation:
 *   pack               query_result_pack (what a node sends)
 *   unpack             query_result_unpack (the controller, per answer)
 *   merge into empty   the controller's first answer of a query
 *   merge, same keys   a second node holding the same keys
 *   merge, other keys  a second node holding different keys
 *   select all         TPUT round 2 with a threshold of 0 (every key)
 * Each run checks what it made (key counts, totals, equality after the
 * round trip); a mismatch exits 1. Figures only, no pass/fail on time.
 *
 * Every table of keys hashes alike and a table's slots are in hash
 * order, so filling one table from another's slots without room made
 * first piles the keys into one probe run: before that was fixed, the
 * merge into an empty result took over a minute for 4M keys (a 4-million
 * -key distinct count held the controller's loop that long).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "store/query/query_int.h"

#define MAX_RUNS	31

static uint64_t rng = 20261204;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_merge: %s\n", what);
	exit(1);
}

/* K random IPv6 src addresses (prefix 2001:db8::/32), one flow each. */
static query_result_t *
make(const qident_t *id, size_t k, uint64_t seed)
{
	query_result_t *r = result_new_id(id, 0, 0);

	if (r == NULL)
		die("out of memory");
	rng = seed;
	for (size_t i = 0; i < k; i++) {
		aggv_t v = { 1, 1, 100 + (rnd() & 1023) };

		if (result_add_key(r, 0x20010db800000000ULL | (rnd() >> 32),
		    rnd(), &v) != 0)
			die("cannot add a key");
		aggv_add(&r->tot, &v);
	}
	if (r->tab.n != k)
		die("random keys repeated (change the seed)");
	return r;
}

enum { OP_PACK, OP_UNPACK, OP_EMPTY, OP_SAME, OP_OTHER, OP_SELECT, NOPS };

static const char *const op_names[NOPS] = {
	"pack", "unpack", "merge into empty", "merge, same keys",
	"merge, other keys", "select all (TPUT T=0)"
};

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "runs", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	size_t k = 4000000;
	int runs = 5, c;
	double t[NOPS][MAX_RUNS];
	query_spec_t s;
	qident_t id;
	char err[128];
	query_result_t *a, *b;

	while ((c = getopt_long(argc, argv, "k:r:", lopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			k = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_merge [--keys K] "
			    "[--runs N]\n");
			return 2;
		}
	}
	if (k == 0 || k > 100000000 || runs < 1 || runs > MAX_RUNS)
		die("--keys: 1 to 100000000; --runs: 1 to 31");
	memset(&s, 0, sizeof(s));
	s.kind = QUERY_TOPN;
	s.key = QUERY_KEY_SRCIP;
	s.order = QUERY_ORDER_FLOWS;
	s.n = 10;
	s.t0 = 0;
	s.t1 = UINT64_MAX;
	if (qident_from_spec(&s, &id, err, sizeof(err)) != 0)
		die(err);
	a = make(&id, k, 1);
	b = make(&id, k, 2);
	printf("bench_merge: top-N partial results of %zu random IPv6 src ip "
	    "keys, %d runs, median ns/key (wall of one operation)\n", k,
	    runs);
	for (int run = 0; run < runs; run++) {
		query_result_t *u = NULL, *m, *sel = NULL;
		uint8_t *buf;
		size_t len;
		double t0;

		t0 = now_s();
		if (query_result_pack(a, &buf, &len) != 0)
			die("pack failed");
		t[OP_PACK][run] = now_s() - t0;
		t0 = now_s();
		if (query_result_unpack(buf, len, &u) != 0)
			die("unpack failed");
		t[OP_UNPACK][run] = now_s() - t0;
		free(buf);
		if (!query_result_equal(a, u))
			die("the unpacked result differs");
		if ((m = result_new_id(&id, 0, 0)) == NULL)
			die("out of memory");
		t0 = now_s();
		if (query_result_merge(m, u) != 0)
			die("merge failed");
		t[OP_EMPTY][run] = now_s() - t0;
		if (!query_result_equal(m, a))
			die("the merge into empty differs");
		t0 = now_s();
		if (query_result_merge(m, a) != 0)
			die("merge failed");
		t[OP_SAME][run] = now_s() - t0;
		if (m->tab.n != k || m->tot.flows != 2 * k)
			die("the merge of the same keys is wrong");
		query_result_free(m);
		if ((m = result_new_id(&id, 0, 0)) == NULL ||
		    query_result_merge(m, a) != 0)
			die("merge failed");
		t0 = now_s();
		if (query_result_merge(m, b) != 0)
			die("merge failed");
		t[OP_OTHER][run] = now_s() - t0;
		if (m->tab.n != 2 * k || m->tot.flows != 2 * k)
			die("the merge of other keys is wrong");
		query_result_free(m);
		t0 = now_s();
		if (query_result_select(u, 0, &sel) != 0)
			die("select failed");
		t[OP_SELECT][run] = now_s() - t0;
		if (sel->tab.n != k)
			die("the selection is wrong");
		query_result_free(sel);
		query_result_free(u);
	}
	for (int op = 0; op < NOPS; op++) {
		double med = median(t[op], runs);

		printf("  %-24s %7.1f ns/key  (%.3f s)\n", op_names[op],
		    med * 1e9 / (double)k, med);
	}
	query_result_free(a);
	query_result_free(b);
	return 0;
}
