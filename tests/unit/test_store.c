/*
 * Store tests (store/store.c, write.c, maintain.c, scan.c) on real LMDB
 * environments in throwaway directories: every appended and committed
 * flow comes back exactly once and in order (also after a reopen and
 * after kill -9), time-range selection and partitions, retention by age
 * (by when blocks were stored) and by size, compaction, a full map, a
 * full filesystem (a file size limit, RLIMIT_FSIZE, stands for it),
 * damaged blocks, read-only opens,
 * and a reader scanning while the writer appends and compacts. Each
 * flow carries its sequence number in `packets`, so what a scan returns
 * is compared with what the test appended.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "store/store.h"
#include "store/storage.h"	/* storage_readers() */

#define T0	1700000000000ull	/* a base time, ms */

/* ---- seeded flows ------------------------------------------------------ */

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Flow number seq: packets = seq + 1 (unique), first_ms at t + a random
 * offset below spread ms, the rest random (noisy: incompressible).
 */
static void
mk_flow(store_flow_t *f, uint64_t seq, uint64_t t, uint64_t spread,
    int noisy)
{
	uint8_t b[4];

	memset(f, 0, sizeof(*f));
	f->packets = seq + 1;
	f->first_ms = t + (spread > 0 ? rnd() % spread : 0);
	f->last_ms = f->first_ms + rnd() % 1000;
	f->bytes = noisy ? rnd() : 40 + rnd() % 1500;
	put_be32(b, noisy ? (uint32_t)rnd() : 0x0a000000u +
	    (uint32_t)(rnd() % 4096));
	addr_from_v4(f->src, b);
	if (seq % 17 == 3) {
		f->dst[0] = 0x20;
		f->dst[1] = 0x01;
		for (int i = 2; i < 16; i++)
			f->dst[i] = (uint8_t)rnd();
		f->flags = STORE_FLOW_F_V6;
	} else {
		put_be32(b, (uint32_t)rnd());
		addr_from_v4(f->dst, b);
	}
	put_be32(b, 0xc0000201);
	addr_from_v4(f->exporter, b);
	f->in_if = (uint32_t)(rnd() % 8);
	f->out_if = noisy ? (uint32_t)rnd() : (uint32_t)(rnd() % 8);
	f->src_as = noisy ? (uint32_t)rnd() : 0;
	f->sampling = 1;
	f->sport = (uint16_t)rnd();
	f->dport = noisy ? (uint16_t)rnd() : 443;
	f->proto = 6;
	f->tcp_flags = (uint8_t)rnd();
	f->flags |= STORE_FLOW_F_FROM_V9;
}

/* ---- throwaway store directories --------------------------------------- */

static char dir[64];

static void
dir_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ff-test-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void
dir_remove(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
	dir[0] = '\0';
}

/* Teardown: remove what a failed test left behind. */
static int
cleanup(void **state)
{
	char p[128];

	(void)state;
	if (dir[0] == '\0')
		return 0;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
	dir[0] = '\0';
	return 0;
}

static store_t *
open_with(const store_opts_t *o)
{
	store_opts_t opts = *o;
	store_t *s = NULL;
	char err[256];
	int rc;

	opts.path = dir;
	rc = store_open(&opts, &s, err, sizeof(err));
	if (rc != 0)
		fail_msg("store_open: %d %s", rc, err);
	return s;
}

static store_stats_t
stats(store_t *s)
{
	store_stats_t st;

	store_get_stats(s, &st);
	return st;
}

/* ---- scanning everything ------------------------------------------------ */

struct got {
	store_flow_t *f;
	size_t n, cap;
	size_t blocks;
	int errors;	/* FF_EPROTO results */
};

static void
got_add(struct got *g, const store_colbatch_t *cb)
{
	if (g->n + cb->n > g->cap) {
		g->cap = (g->n + cb->n) * 2;
		g->f = realloc(g->f, g->cap * sizeof(*g->f));
		assert_non_null(g->f);
	}
	for (size_t i = 0; i < cb->n; i++)
		store_colbatch_row(cb, i, &g->f[g->n++]);
	g->blocks++;
}

/* Drain sc into g; FF_EPROTO results are counted and the scan goes on. */
static void
drain(store_scan_t *sc, struct got *g)
{
	store_colbatch_t cb;
	int rc;

	for (int guard = 0; guard < 1000000; guard++) {
		rc = store_scan_next(sc, &cb);
		if (rc == 0)
			return;
		if (rc == FF_EPROTO) {
			g->errors++;
			continue;
		}
		assert_int_equal(rc, 1);
		assert_int_equal(cb.cols, STORE_COLS_ALL);
		got_add(g, &cb);
	}
	fail_msg("scan did not end");
}

static struct got
scan_all(store_t *s)
{
	struct got g = { 0 };
	store_scan_t *sc;

	assert_int_equal(store_scan_open(s, 0, UINT64_MAX, STORE_COLS_ALL, 0, 1,
	    &sc), 0);
	drain(sc, &g);
	assert_int_equal(store_scan_skipped(sc), 0);
	store_scan_close(sc);
	return g;
}

/* g holds exactly flows want[0..n), in order. */
static void
expect_flows(const struct got *g, const store_flow_t *want, size_t n)
{
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++)
		if (memcmp(&g->f[i], &want[i], sizeof(*want)) != 0)
			fail_msg("flow %zu differs (packets %llu vs %llu)", i,
			    (unsigned long long)g->f[i].packets,
			    (unsigned long long)want[i].packets);
}

static int
cmp_flow(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(store_flow_t));
}

/* g holds the same multiset of flows as want[0..n). */
static void
expect_multiset(struct got *g, store_flow_t *want, size_t n)
{
	assert_int_equal(g->n, n);
	qsort(g->f, g->n, sizeof(*g->f), cmp_flow);
	qsort(want, n, sizeof(*want), cmp_flow);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(&g->f[i], &want[i], sizeof(*want));
}

/* ---- tests --------------------------------------------------------------- */

/* Appends in odd chunks, commits, reopens: each flow once, in order. */
static void
test_reopen_exactly_once(void **state)
{
	store_opts_t o = { .block_rows = 4096 };
	const size_t n = 50000;
	store_flow_t *fl = calloc(n, sizeof(*fl));
	size_t done = 0, blocks = 0, pending = 0;
	store_stats_t st;
	struct got g;
	store_t *s;

	(void)state;
	assert_non_null(fl);
	dir_make();
	rng = 1;
	for (size_t i = 0; i < n; i++)
		mk_flow(&fl[i], i, T0 + i * 10, 5000, 0);
	s = open_with(&o);
	while (done < n) {
		size_t k = FF_MIN(n - done, 1 + rnd() % 3000);

		assert_int_equal(store_append(s, fl + done, k), 0);
		done += k;
		blocks += (pending + k) / 4096;
		pending = (pending + k) % 4096;
		assert_int_equal(stats(s).pending, pending);
		if (rnd() % 3 == 0) {
			assert_int_equal(store_commit(s), 0);
			blocks += pending > 0;
			pending = 0;
		}
	}
	assert_int_equal(store_commit(s), 0);
	blocks += pending > 0;
	/* nothing pending: a commit writes nothing */
	assert_int_equal(store_commit(s), 0);
	st = stats(s);
	assert_int_equal(st.flows, n);
	assert_int_equal(st.blocks, blocks);
	assert_int_equal(st.appended, n);
	assert_int_equal(st.committed, n);
	assert_int_equal(st.commits, blocks);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.write_errors, 0);
	assert_true(st.oldest_ms >= T0 && st.oldest_ms < T0 + 5000);
	assert_true(st.newest_ms >= T0 + (n - 1) * 10);
	assert_true(st.bytes_used > 0 && st.bytes_used < st.map_size);
	g = scan_all(s);
	expect_flows(&g, fl, n);
	free(g.f);
	store_close(s);

	s = open_with(&o);
	st = stats(s);
	assert_int_equal(st.flows, n);
	assert_int_equal(st.blocks, blocks);
	assert_int_equal(st.appended, 0);
	g = scan_all(s);
	expect_multiset(&g, fl, n);
	free(g.f);
	/* ids go on after a reopen: new rows come after the old ones */
	mk_flow(&fl[0], n, T0, 0, 0);
	assert_int_equal(store_append(s, fl, 1), 0);
	assert_int_equal(store_commit(s), 0);
	g = scan_all(s);
	assert_int_equal(g.n, n + 1);
	assert_int_equal(g.f[n].packets, n + 1);
	free(g.f);
	store_close(s);
	dir_remove();
	free(fl);
}

/* 20 blocks of 1000 rows; block b holds first_ms in [T0 + 10000 b, +9999]. */
static store_t *
twenty_blocks(uint64_t mins[20], uint64_t maxs[20])
{
	store_opts_t o = { .block_rows = 1000, .nosync = 1 };
	store_flow_t f[1000];
	store_t *s;

	dir_make();
	s = open_with(&o);
	rng = 2;
	for (int b = 0; b < 20; b++) {
		mins[b] = UINT64_MAX;
		maxs[b] = 0;
		for (int i = 0; i < 1000; i++) {
			mk_flow(&f[i], (uint64_t)b * 1000 + i,
			    T0 + (uint64_t)b * 10000, 10000, 0);
			mins[b] = FF_MIN(mins[b], f[i].first_ms);
			maxs[b] = FF_MAX(maxs[b], f[i].first_ms);
		}
		assert_int_equal(store_append(s, f, 1000), 0);
	}
	assert_int_equal(stats(s).blocks, 20);
	return s;
}

/*
 * Scan [t0, t1): the blocks that overlap by their first_ms range. With
 * edge, first_ms is asked for only where the window cuts a block.
 */
static void
check_window_edge(store_t *s, const uint64_t *mins, const uint64_t *maxs,
    uint64_t t0, uint64_t t1, int edge)
{
	store_scan_t *sc;
	store_colbatch_t cb;
	int want[20], nwant = 0, seen = 0, rc;

	for (int b = 0; b < 20; b++) {
		want[b] = maxs[b] >= t0 && mins[b] < t1;
		nwant += want[b];
	}
	assert_int_equal(store_scan_open(s, t0, t1, STORE_COLBIT(STORE_COL_PACKETS) |
	    STORE_COLBIT(STORE_COL_FIRST), 0, 1, &sc), 0);
	if (edge)
		store_scan_set_edge(sc, STORE_COLBIT(STORE_COL_FIRST));
	while ((rc = store_scan_next(sc, &cb)) == 1) {
		int b = (int)((cb.packets[0] - 1) / 1000);
		int cut = mins[b] < t0 || maxs[b] >= t1;

		assert_true(want[b]);
		want[b] = 0;
		seen++;
		assert_int_equal(cb.n, 1000);
		assert_int_equal(cb.cols, STORE_COLBIT(STORE_COL_PACKETS) |
		    (!edge || cut ? STORE_COLBIT(STORE_COL_FIRST) : 0));
		if (edge && !cut)
			assert_null(cb.first_ms);
		/* min/max come from the block's idx entry */
		assert_true(cb.min_first == mins[b] && cb.max_first == maxs[b]);
		assert_true(cb.min_last >= cb.min_first);
		assert_null(cb.bytes);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(seen, nwant);
	assert_int_equal(store_scan_skipped(sc), 20 - nwant);
	store_scan_close(sc);
}

static void
check_window(store_t *s, const uint64_t *mins, const uint64_t *maxs,
    uint64_t t0, uint64_t t1)
{
	check_window_edge(s, mins, maxs, t0, t1, 0);
	check_window_edge(s, mins, maxs, t0, t1, 1);
}

static void
test_time_selection(void **state)
{
	uint64_t mins[20], maxs[20];
	store_t *s = twenty_blocks(mins, maxs);

	(void)state;
	check_window(s, mins, maxs, 0, UINT64_MAX);
	check_window(s, mins, maxs, T0 + 25000, T0 + 55000);
	/* t1 is exclusive, t0 inclusive */
	check_window(s, mins, maxs, maxs[1], mins[3]);
	check_window(s, mins, maxs, maxs[1] + 1, mins[3] + 1);
	/* before, after, empty */
	check_window(s, mins, maxs, 0, T0);
	check_window(s, mins, maxs, T0 + 300000, UINT64_MAX);
	check_window(s, mins, maxs, T0 + 50000, T0 + 50000);
	store_close(s);
	dir_remove();
}

/* t1 = UINT64_MAX has no end: even first_ms = UINT64_MAX is inside. */
static void
test_time_no_end(void **state)
{
	store_opts_t o = { .block_rows = 10, .nosync = 1 };
	store_flow_t f[2];
	store_scan_t *sc;
	store_colbatch_t cb;
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 13;
	mk_flow(&f[0], 0, T0, 0, 0);
	mk_flow(&f[1], 1, T0, 0, 0);
	f[1].first_ms = f[1].last_ms = UINT64_MAX;
	assert_int_equal(store_append(s, f + 1, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_append(s, f, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_scan_open(s, T0, UINT64_MAX,
	    STORE_COLBIT(STORE_COL_FIRST), 0, 1, &sc), 0);
	assert_int_equal(store_scan_next(sc, &cb), 1);
	assert_true(cb.first_ms[0] == UINT64_MAX);
	assert_int_equal(store_scan_next(sc, &cb), 1);
	assert_true(cb.first_ms[0] == T0);
	assert_int_equal(store_scan_next(sc, &cb), 0);
	store_scan_close(sc);
	/* a finite end leaves it out */
	assert_int_equal(store_scan_open(s, T0, UINT64_MAX - 1,
	    STORE_COLBIT(STORE_COL_FIRST), 0, 1, &sc), 0);
	assert_int_equal(store_scan_next(sc, &cb), 1);
	assert_true(cb.first_ms[0] == T0);
	assert_int_equal(store_scan_next(sc, &cb), 0);
	assert_int_equal(store_scan_skipped(sc), 1);
	store_scan_close(sc);
	store_close(s);
	dir_remove();
}

static void
test_partitions(void **state)
{
	uint64_t mins[20], maxs[20];
	store_t *s = twenty_blocks(mins, maxs);
	store_scan_t *sc, *parts[5];
	uint64_t t0 = T0 + 35000, t1 = T0 + 165000;
	store_colbatch_t cb;
	int want = 0;

	(void)state;
	for (int b = 0; b < 20; b++)
		want += maxs[b] >= t0 && mins[b] < t1;
	assert_int_equal(store_scan_open(s, 0, 1, 0, 1, 1, &sc), FF_EINVAL);
	assert_int_equal(store_scan_open(s, 0, 1, 0, 0, 0, &sc), FF_EINVAL);
	assert_int_equal(store_scan_open_parts(s, 0, 1, 0, 0, parts), FF_EINVAL);

	for (unsigned np = 1; np <= 5; np++) {
		int hits[20] = { 0 }, seen = 0;
		uint64_t skipped = 0;

		/* separate scans, one per partition */
		for (unsigned p = 0; p < np; p++) {
			assert_int_equal(store_scan_open(s, t0, t1,
			    STORE_COLBIT(STORE_COL_PACKETS), p, np, &sc), 0);
			while (store_scan_next(sc, &cb) == 1) {
				hits[(cb.packets[0] - 1) / 1000]++;
				seen++;
			}
			skipped += store_scan_skipped(sc);
			store_scan_close(sc);
		}
		assert_int_equal(seen, want);
		assert_int_equal(skipped, 20 - want);
		for (int b = 0; b < 20; b++)
			assert_int_equal(hits[b],
			    maxs[b] >= t0 && mins[b] < t1);

		/* a group, drained in turns */
		memset(hits, 0, sizeof(hits));
		seen = 0;
		assert_int_equal(store_scan_open_parts(s, t0, t1,
		    STORE_COLBIT(STORE_COL_PACKETS), np, parts), 0);
		for (int active = (int)np; active > 0;) {
			active = 0;
			for (unsigned p = 0; p < np; p++) {
				if (parts[p] == NULL)
					continue;
				if (store_scan_next(parts[p], &cb) == 1) {
					hits[(cb.packets[0] - 1) / 1000]++;
					seen++;
					active++;
				} else {
					if (p == 0)
						assert_int_equal(
						    store_scan_skipped(parts[p]),
						    20 - want);
					else
						assert_int_equal(
						    store_scan_skipped(parts[p]), 0);
					store_scan_close(parts[p]);
					parts[p] = NULL;
				}
			}
		}
		for (unsigned p = 0; p < np; p++)
			store_scan_close(parts[p]);
		assert_int_equal(seen, want);
		for (int b = 0; b < 20; b++)
			assert_int_equal(hits[b],
			    maxs[b] >= t0 && mins[b] < t1);
	}
	store_close(s);
	dir_remove();
}

/*
 * Ten blocks; block b ends (last_ms) near T0 + b minutes, plus an eleventh
 * written last that holds old flows (ends near T0).
 */
/* Wait until the wall clock is past t (ms): a few ms at most. */
static void
after(uint64_t t)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 1000 && now_ms() <= t; i++)
		nanosleep(&ts, NULL);
	assert_true(now_ms() > t);
}

/*
 * Retention by age goes by when blocks were stored, not by the flows'
 * own times: flows dated two years back (an exporter whose clock is
 * behind) and flows from the future are kept for max_age_ms after they
 * were stored, each block by its own write time, whatever its neighbours
 * carry.
 */
static void
test_retention_age(void **state)
{
	const uint64_t age = 5 * 60000, old = 2 * 365 * 86400000ull;
	store_opts_t o = { .block_rows = 100, .nosync = 1, .max_age_ms = age };
	store_flow_t f[1000];
	uint64_t a0, a1, b0, b1, now;
	store_stats_t st;
	struct got g;
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 3;
	now = now_ms();
	/*
	 * 10 blocks of 100 rows: in each, flows that ended two years ago,
	 * flows from now, and flows an hour in the future, interleaved.
	 */
	for (int i = 0; i < 1000; i++) {
		uint64_t t = i % 3 == 0 ? now - old : i % 3 == 1 ? now :
		    now + 3600000;

		mk_flow(&f[i], (uint64_t)i, t - 30000, 30000, 0);
	}
	/* the first 5 blocks stored at a0..a1, the last 5 at b0..b1 */
	a0 = now_ms();
	assert_int_equal(store_append(s, f, 500), 0);
	a1 = now_ms();
	after(a1);
	b0 = now_ms();
	assert_int_equal(store_append(s, f + 500, 500), 0);
	b1 = now_ms();
	assert_int_equal(stats(s).blocks, 10);

	/* now, and until max_age_ms after the first write: all kept */
	assert_int_equal(store_maintain(s, now_ms(), 0), 0);
	assert_int_equal(store_maintain(s, a0 + age, 0), 0);
	st = stats(s);
	assert_int_equal(st.expired_blocks, 0);
	assert_int_equal(st.flows, 1000);
	g = scan_all(s);
	expect_flows(&g, f, 1000);
	free(g.f);

	/* past max_age_ms after the first five were stored: they go */
	assert_int_equal(store_maintain(s, a1 + age + 1, 0), 0);
	st = stats(s);
	assert_true(a1 + 1 <= b0);
	assert_int_equal(st.expired_blocks, 5);
	assert_int_equal(st.expired_flows, 500);
	assert_int_equal(st.flows, 500);
	g = scan_all(s);
	expect_flows(&g, f + 500, 500);
	free(g.f);
	/* nothing more at the same time, however old the flows' times */
	assert_int_equal(store_maintain(s, a1 + age + 1, 0), 0);
	assert_int_equal(stats(s).expired_blocks, 5);

	/* and the rest past max_age_ms after they were stored */
	assert_int_equal(store_maintain(s, b1 + age + 1, 0), 0);
	st = stats(s);
	assert_int_equal(st.blocks, 0);
	assert_int_equal(st.flows, 0);
	assert_int_equal(st.oldest_ms, 0);
	store_close(s);
	dir_remove();
}

/*
 * Rewrite the committed_ms (and committed_span_ms) of block id's idx
 * entry (store/storage.h: u32 at 44, u64 LE at 48).
 */
static void
raw_set_committed(uint64_t id, uint64_t ms, uint32_t span)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8], val[56];
	MDB_val k = { 8, key }, v;

	put_be64(key, id);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "idx", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(val));
	memcpy(val, v.mv_data, sizeof(val));
	for (int i = 0; i < 4; i++)
		val[44 + i] = (uint8_t)(span >> (8 * i));
	for (int i = 0; i < 8; i++)
		val[48 + i] = (uint8_t)(ms >> (8 * i));
	v.mv_data = val;
	v.mv_size = sizeof(val);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * A block whose write time is not known (0) goes by the old rule, by the
 * end of its newest flow; the others by their write time.
 */
static void
test_retention_age_unknown_write_time(void **state)
{
	const uint64_t age = 5 * 60000;
	store_opts_t o = { .block_rows = 100, .nosync = 1, .max_age_ms = age };
	store_flow_t f[300];
	store_stats_t st;
	struct got g;
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 13;
	/* three blocks of flows that ended on T0 (years ago) */
	for (int i = 0; i < 300; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 30000, 0);
	assert_int_equal(store_append(s, f, 300), 0);
	store_close(s);
	/* block 1 as a store that did not record write times has it */
	raw_set_committed(1, 0, 0);
	s = open_with(&o);
	assert_int_equal(store_maintain(s, now_ms(), 0), 0);
	st = stats(s);
	assert_int_equal(st.expired_blocks, 1);
	assert_int_equal(st.flows, 200);
	g = scan_all(s);
	assert_int_equal(g.n, 200);
	assert_memory_equal(g.f, f, 100 * sizeof(*f));
	assert_memory_equal(g.f + 100, f + 200, 100 * sizeof(*f));
	free(g.f);
	store_close(s);
	dir_remove();
}

/*
 * Compaction merges only small blocks stored within max_age_ms / 16 of
 * each other, and the merged block is stored when its newest part was:
 * no flow outlives its retention by much.
 */
static void
test_compaction_write_time_span(void **state)
{
	const uint64_t age = 30 * 86400000ull, h = 3600000;
	store_opts_t o = { .block_rows = 400, .nosync = 1, .max_age_ms = age };
	store_flow_t f[8 * 50];
	uint64_t c1, c2;
	store_stats_t st;
	struct got g;
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 14;
	for (size_t i = 0; i < FF_NELEM(f); i++)
		mk_flow(&f[i], i, T0, 1000, 0);
	for (int b = 0; b < 8; b++) {
		assert_int_equal(store_append(s, f + b * 50, 50), 0);
		assert_int_equal(store_commit(s), 0);
	}
	store_close(s);
	/*
	 * Blocks 0-3 stored at c1 .. c1 + 3 h, blocks 4-7 50 hours later:
	 * more than 30 d / 16 (45 h) apart.
	 */
	c1 = now_ms() - 10 * 86400000ull;
	c2 = c1 + 50 * h;
	for (int b = 0; b < 8; b++)
		raw_set_committed((uint64_t)b, (b < 4 ? c1 : c2) +
		    (uint64_t)(b % 4) * h, 0);
	s = open_with(&o);
	assert_int_equal(store_maintain(s, now_ms(), 0), 0);
	st = stats(s);
	assert_int_equal(st.blocks, 2);
	assert_int_equal(st.compactions, 8);
	assert_int_equal(st.expired_blocks, 0);
	g = scan_all(s);
	expect_flows(&g, f, FF_NELEM(f));
	free(g.f);
	/* each merged block goes when its newest part passes max_age_ms */
	assert_int_equal(store_maintain(s, c1 + 3 * h + age, 0), 0);
	assert_int_equal(stats(s).blocks, 2);
	assert_int_equal(store_maintain(s, c1 + 3 * h + age + 1, 0), 0);
	st = stats(s);
	assert_int_equal(st.blocks, 1);
	g = scan_all(s);
	expect_flows(&g, f + 200, 200);
	free(g.f);
	assert_int_equal(store_maintain(s, c2 + 3 * h + age + 1, 0), 0);
	assert_int_equal(stats(s).blocks, 0);
	store_close(s);
	dir_remove();
}

static uint64_t
file_size(void)
{
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	assert_int_equal(stat(p, &sb), 0);
	return (uint64_t)sb.st_size;
}

static void
test_retention_size(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1,
	    .max_bytes = 1 << 20 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	store_stats_t st;
	struct got g;
	uint64_t seq = 0, hw = 0;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	rng = 4;
	for (int b = 0; b < 40; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		assert_int_equal(store_append(s, f, 2000), 0);
	}
	st = stats(s);
	/* about 35 random bytes per flow: well over max_bytes */
	assert_true(st.bytes_used > 2 * o.max_bytes);
	assert_int_equal(store_maintain(s, T0, 0), 0);
	st = stats(s);
	assert_true(st.bytes_used <= o.max_bytes);
	assert_true(st.blocks >= 1);
	assert_int_equal(st.expired_blocks, 40 - st.blocks);
	assert_int_equal(st.expired_flows, st.expired_blocks * 2000);
	/* what is left is the newest blocks, whole and in order */
	g = scan_all(s);
	assert_int_equal(g.n, st.blocks * 2000);
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.f[i].packets,
		    (40 - st.blocks) * 2000 + i + 1);
	free(g.f);

	/* steady state: the freed pages are reused, the file stops growing */
	for (int b = 0; b < 60; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		assert_int_equal(store_append(s, f, 2000), 0);
		assert_int_equal(store_maintain(s, T0, 0), 0);
		assert_true(stats(s).bytes_used <= o.max_bytes);
		/*
		 * LMDB reuses pages freed by transaction N from N + 2 on,
		 * so the first cycles may still extend the file a little.
		 */
		if (b == 2)
			hw = file_size();
	}
	assert_true(file_size() <= hw);
	g = scan_all(s);
	assert_int_equal(g.f[g.n - 1].packets, seq);
	free(g.f);
	store_close(s);
	dir_remove();
	free(f);
}

static void
test_compaction(void **state)
{
	store_opts_t o = { .block_rows = 4000, .nosync = 1 };
	store_flow_t *f = calloc(10000, sizeof(*f));
	store_stats_t st;
	struct got g;
	size_t n = 0;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	rng = 5;
	for (size_t i = 0; i < 10000; i++)
		mk_flow(&f[i], i, T0 + i, 100, 0);
	/* 10 small blocks, one full block, 10 small blocks */
	for (int b = 0; b < 10; b++, n += 100) {
		assert_int_equal(store_append(s, f + n, 100), 0);
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(store_append(s, f + n, 4000), 0);
	n += 4000;
	for (int b = 0; b < 10; b++, n += 100) {
		assert_int_equal(store_append(s, f + n, 100), 0);
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(stats(s).blocks, 21);
	/* blocks younger than a few seconds are left alone */
	assert_int_equal(store_maintain(s, now_ms(), 0), 0);
	assert_int_equal(stats(s).blocks, 21);
	assert_int_equal(stats(s).compactions, 0);
	/* a minute later each run of small blocks becomes one block */
	assert_int_equal(store_maintain(s, now_ms() + 60000, 0), 0);
	st = stats(s);
	assert_int_equal(st.blocks, 3);
	assert_int_equal(st.compactions, 20);
	assert_int_equal(st.flows, n);
	g = scan_all(s);
	assert_int_equal(g.blocks, 3);
	expect_flows(&g, f, n);
	free(g.f);
	/* merged blocks are no longer small: nothing more to do */
	assert_int_equal(store_maintain(s, now_ms() + 120000, 0), 0);
	assert_int_equal(stats(s).blocks, 3);
	/* and the result survives a reopen */
	store_close(s);
	s = open_with(&o);
	g = scan_all(s);
	expect_flows(&g, f, n);
	free(g.f);
	store_close(s);
	dir_remove();
	free(f);
}

/* A run of small blocks larger than one block is merged into several. */
static void
test_compaction_split(void **state)
{
	store_opts_t o = { .block_rows = 400, .nosync = 1 };
	store_flow_t f[90 * 30];
	store_stats_t st;
	struct got g;
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 6;
	for (size_t i = 0; i < FF_NELEM(f); i++)
		mk_flow(&f[i], i, T0, 1000, 0);
	for (int b = 0; b < 30; b++) {
		assert_int_equal(store_append(s, f + b * 90, 90), 0);
		assert_int_equal(store_commit(s), 0);
	}
	assert_int_equal(store_maintain(s, now_ms() + 60000, 0), 0);
	st = stats(s);
	/*
	 * 90-row blocks are small (< 400 / 4); merging is greedy, 4 blocks
	 * (360 rows) per merged block of at most 400: 7 x 4 + 1 x 2.
	 */
	assert_int_equal(st.blocks, 8);
	assert_int_equal(st.compactions, 30);
	assert_int_equal(st.flows, FF_NELEM(f));
	g = scan_all(s);
	expect_flows(&g, f, FF_NELEM(f));
	free(g.f);
	store_close(s);
	dir_remove();
}

/* A full map is an error and a counter; retention makes room again. */
static void
test_map_full(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1,
	    .map_size = 1 << 20, .max_age_ms = 3600000 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	store_flow_t *ok = calloc(2000 * 40, sizeof(*f));
	size_t nok = 0, lost = 0;
	store_stats_t st;
	struct got g;
	uint64_t seq = 0;
	store_t *s;
	int rc = 0, b;

	(void)state;
	assert_non_null(f);
	assert_non_null(ok);
	dir_make();
	s = open_with(&o);
	rng = 7;
	for (b = 0; b < 40; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		rc = store_append(s, f, 2000);
		if (rc != 0)
			break;
		memcpy(ok + nok, f, 2000 * sizeof(*f));
		nok += 2000;
	}
	assert_int_equal(rc, FF_ENOSPC);
	assert_true(nok > 0);
	lost = 2000;
	/* a second try fails the same way, and is counted again */
	assert_int_equal(store_append(s, f, 2000), FF_ENOSPC);
	lost += 2000;
	st = stats(s);
	assert_int_equal(st.write_errors, 2);
	assert_int_equal(st.dropped, lost);
	assert_int_equal(st.appended, st.committed + st.dropped + st.pending);
	assert_int_equal(st.flows, nok);
	/* what was committed is intact */
	g = scan_all(s);
	expect_flows(&g, ok, nok);
	free(g.f);

	/* retention by age frees the map; writing works again */
	assert_int_equal(store_maintain(s, now_ms() + 2 * 3600000, 0), 0);
	st = stats(s);
	assert_int_equal(st.blocks, 0);
	for (int i = 0; i < 2000; i++, seq++)
		mk_flow(&f[i], seq, T0 + 2 * 3600000, 60000, 1);
	assert_int_equal(store_append(s, f, 2000), 0);
	g = scan_all(s);
	expect_flows(&g, f, 2000);
	free(g.f);
	st = stats(s);
	assert_int_equal(st.write_errors, 2);
	assert_int_equal(st.flows, 2000);
	store_close(s);
	dir_remove();
	free(f);
	free(ok);
}

/*
 * A full map with small blocks: compaction has no room for a merged block
 * and leaves the blocks as they are, without an error.
 */
static void
test_map_full_compaction(void **state)
{
	store_opts_t o = { .block_rows = 4000, .nosync = 1,
	    .map_size = 1 << 20 };
	store_flow_t *f = calloc(500, sizeof(*f));
	store_flow_t *ok = calloc(500 * 100, sizeof(*f));
	size_t nok = 0;
	store_stats_t st;
	struct got g;
	uint64_t seq = 0;
	store_t *s;
	int rc = 0;

	(void)state;
	assert_non_null(f);
	assert_non_null(ok);
	dir_make();
	s = open_with(&o);
	rng = 12;
	for (int b = 0; b < 100 && rc == 0; b++) {
		for (int i = 0; i < 500; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		rc = store_append(s, f, 500);
		if (rc == 0)
			rc = store_commit(s);
		if (rc == 0) {
			memcpy(ok + nok, f, 500 * sizeof(*f));
			nok += 500;
		}
	}
	assert_int_equal(rc, FF_ENOSPC);
	st = stats(s);
	assert_int_equal(st.write_errors, 1);
	/*
	 * 500 random flows take about 5 pages; the merge of eight such
	 * blocks (4000 rows) needs about 35 pages more than the 64-page
	 * reserve leaves, so nothing is merged.
	 */
	assert_int_equal(store_maintain(s, now_ms() + 60000, 0), 0);
	st = stats(s);
	assert_int_equal(st.compactions, 0);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.flows, nok);
	g = scan_all(s);
	expect_flows(&g, ok, nok);
	free(g.f);
	store_close(s);
	dir_remove();
	free(f);
	free(ok);
}

/* Size retention on a small map keeps ingest going without errors. */
static void
test_small_map_with_size_retention(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1,
	    .map_size = 2 << 20, .max_bytes = 1 << 20 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	uint64_t seq = 0;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	rng = 8;
	for (int b = 0; b < 100; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		assert_int_equal(store_append(s, f, 2000), 0);
		assert_int_equal(store_maintain(s, T0, 0), 0);
	}
	assert_int_equal(stats(s).write_errors, 0);
	assert_true(stats(s).expired_blocks > 50);
	store_close(s);
	dir_remove();
	free(f);
}

/* ---- a full filesystem, as a file size limit (RLIMIT_FSIZE) ------------- */

static struct rlimit fsize_saved;
static int fsize_set;

/* Let this process's files grow to at most bytes (EFBIG past it). */
static void
fsize_limit(uint64_t bytes)
{
	struct rlimit rl;

	if (!fsize_set) {
		assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
		signal(SIGXFSZ, SIG_IGN);
		fsize_set = 1;
	}
	rl = fsize_saved;
	rl.rlim_cur = (rlim_t)bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
fsize_restore(void)
{
	if (fsize_set) {
		setrlimit(RLIMIT_FSIZE, &fsize_saved);
		signal(SIGXFSZ, SIG_DFL);
		fsize_set = 0;
	}
}

static int
cleanup_fsize(void **state)
{
	fsize_restore();
	return cleanup(state);
}

/*
 * The filesystem is the limit, far below retention by size: the store
 * deletes its oldest blocks to make room, keeps within the space that
 * exists and reuses the freed pages, and no write fails.
 */
static void
test_full_fs_makes_room(void **state)
{
	const uint64_t lim = 2 << 20;
	store_opts_t o = { .block_rows = 2000, .nosync = 1,
	    .max_bytes = 64 << 20 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	store_stats_t st;
	struct got g;
	uint64_t seq = 0;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	fsize_limit(lim);
	rng = 15;
	/* 100 blocks of about 70 KiB: 7 MiB through a 2 MiB file */
	for (int b = 0; b < 100; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		assert_int_equal(store_append(s, f, 2000), 0);
		if (b % 10 == 9)
			assert_int_equal(store_maintain(s, now_ms(), 0), 0);
	}
	st = stats(s);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.full, 0);
	assert_int_equal(st.committed, 100 * 2000);
	/* deleted for room only: the store never reached max_bytes */
	assert_true(st.room_blocks > 50);
	assert_int_equal(st.room_blocks, st.expired_blocks);
	assert_int_equal(st.room_flows, st.expired_flows);
	assert_int_equal(st.flows + st.expired_flows, st.committed);
	assert_true(file_size() <= lim);
	assert_true(st.file_bytes <= lim);
	/* what is left is the newest blocks, whole and in order */
	g = scan_all(s);
	assert_int_equal(g.n, st.flows);
	assert_true(g.n >= 10 * 2000);
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.f[i].packets, seq - g.n + i + 1);
	free(g.f);
	store_close(s);
	fsize_restore();
	dir_remove();
	free(f);
}

/*
 * Without retention by size nothing is deleted to make room: a write
 * that does not fit fails as "no space" (the store is full), its rows
 * are dropped and counted, what was stored stays; once there is room
 * again the next write succeeds and the store is no longer full.
 */
static void
test_full_fs_without_size_retention(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	store_stats_t st;
	uint64_t seq = 0;
	store_t *s;
	int rc = 0, b;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	fsize_limit(1 << 20);
	rng = 16;
	for (b = 0; b < 40 && rc == 0; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		rc = store_append(s, f, 2000);
	}
	assert_int_equal(rc, FF_ENOSPC);
	st = stats(s);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.dropped, 2000);
	assert_int_equal(st.expired_blocks, 0);
	assert_int_equal(st.flows, (uint64_t)(b - 1) * 2000);
	assert_true(file_size() <= 1 << 20);
	assert_int_equal(st.file_bytes, file_size());
	assert_true(st.fs_free > 0);
	/* rows only buffered do not end it; a block written does (10 rows
	   fit in the pages left) */
	assert_int_equal(store_append(s, f, 10), 0);
	assert_int_equal(stats(s).full, 1);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(stats(s).full, 0);
	/* a full block does not fit, again */
	assert_int_equal(store_append(s, f, 2000), FF_ENOSPC);
	st = stats(s);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.dropped, 4000);
	/* room again: the next write succeeds */
	fsize_restore();
	assert_int_equal(store_append(s, f, 2000), 0);
	st = stats(s);
	assert_int_equal(st.full, 0);
	assert_int_equal(st.write_errors, 2);
	assert_int_equal(st.flows, (uint64_t)(b - 1) * 2000 + 2010);
	store_close(s);
	dir_remove();
	free(f);
}

/*
 * Pages freed by the last transaction are not reusable in the next one
 * (LMDB): a write right after retention deleted every block finds the
 * file full by the count of free pages, fails to grow the file, and
 * succeeds on the retry after one more commit, in the freed pages.
 */
static void
test_full_fs_reuses_freed_pages(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1,
	    .max_age_ms = 3600000 };
	store_flow_t *f = calloc(2000, sizeof(*f));
	store_stats_t st;
	struct got g;
	uint64_t seq = 0, size;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	rng = 18;
	for (int b = 0; b < 10; b++) {
		for (int i = 0; i < 2000; i++, seq++)
			mk_flow(&f[i], seq, T0, 60000, 1);
		assert_int_equal(store_append(s, f, 2000), 0);
	}
	size = file_size();
	fsize_limit(size);
	/* an hour later every block goes, by age, in one transaction */
	assert_int_equal(store_maintain(s, now_ms() + 2 * 3600000, 0), 0);
	assert_int_equal(stats(s).blocks, 0);
	for (int i = 0; i < 2000; i++, seq++)
		mk_flow(&f[i], seq, T0, 60000, 1);
	assert_int_equal(store_append(s, f, 2000), 0);
	st = stats(s);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(st.full, 0);
	assert_int_equal(st.expired_blocks, 10);
	assert_int_equal(st.room_blocks, 0);
	assert_int_equal(file_size(), size);
	g = scan_all(s);
	expect_flows(&g, f, 2000);
	free(g.f);
	store_close(s);
	fsize_restore();
	dir_remove();
	free(f);
}

/* Readers holding a snapshot, as the writer counts them before it deletes
   blocks for a write that failed with room by the count. */
static void
test_readers_counted(void **state)
{
	store_opts_t o = { .nosync = 1 };
	store_flow_t f[10];
	store_scan_t *sc[2];
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	for (int i = 0; i < 10; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 1000, 0);
	assert_int_equal(store_append(s, f, 10), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(storage_readers(s), 0);
	assert_int_equal(store_scan_open(s, 0, UINT64_MAX, STORE_COLS_ALL, 0,
	    1, &sc[0]), 0);
	assert_int_equal(storage_readers(s), 1);
	assert_int_equal(store_scan_open(s, 0, UINT64_MAX, STORE_COLS_ALL, 0,
	    1, &sc[1]), 0);
	assert_int_equal(storage_readers(s), 2);
	store_scan_close(sc[0]);
	store_scan_close(sc[1]);
	/* the slots stay, free */
	assert_int_equal(storage_readers(s), 0);
	store_close(s);
	dir_remove();
}

/*
 * When even an empty store would not hold the block, retention deletes
 * nothing for it: the write fails, the stored blocks stay.
 */
static void
test_full_fs_nothing_to_gain(void **state)
{
	store_opts_t o = { .block_rows = 20000, .nosync = 1,
	    .max_bytes = 64 << 20 };
	store_flow_t *f = calloc(20000, sizeof(*f));
	store_stats_t st;
	store_t *s;

	(void)state;
	assert_non_null(f);
	dir_make();
	s = open_with(&o);
	rng = 17;
	for (int i = 0; i < 20000; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 60000, 1);
	/* two small blocks, then no room to grow the file at all */
	assert_int_equal(store_append(s, f, 100), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_append(s, f + 100, 100), 0);
	assert_int_equal(store_commit(s), 0);
	fsize_limit(file_size());
	/* about 700 KiB of random flows: more than the file holds */
	assert_int_equal(store_append(s, f, 20000), FF_ENOSPC);
	st = stats(s);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.expired_blocks, 0);
	assert_int_equal(st.blocks, 2);
	assert_int_equal(st.flows, 200);
	assert_int_equal(st.dropped, 20000);
	store_close(s);
	fsize_restore();
	dir_remove();
	free(f);
}

/* Put raw bytes under a key of one of the store's databases. */
static void
raw_put(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)(uintptr_t)key };
	MDB_val v = { vlen, (void *)(uintptr_t)val };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
test_damaged_blocks(void **state)
{
	store_opts_t o = { .block_rows = 100, .nosync = 1 };
	store_flow_t f[500], want[300];
	uint8_t key[8], junk[40];
	store_scan_t *parts[2];
	store_stats_t st;
	struct got g = { 0 };
	store_t *s;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 9;
	for (int i = 0; i < 500; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 1000, 0);
	assert_int_equal(store_append(s, f, 500), 0);
	store_close(s);

	/* block 1: garbage; block 3: an idx entry of the wrong size */
	memset(junk, 0xa5, sizeof(junk));
	put_be64(key, 1);
	raw_put("blk", key, 8, junk, sizeof(junk));
	put_be64(key, 3);
	raw_put("idx", key, 8, junk, 13);
	memcpy(want, f, 100 * sizeof(*f));
	memcpy(want + 100, f + 200, 100 * sizeof(*f));
	memcpy(want + 200, f + 400, 100 * sizeof(*f));

	s = open_with(&o);
	g = scan_all(s);
	assert_int_equal(g.errors, 2);
	expect_flows(&g, want, 300);
	free(g.f);
	st = stats(s);
	assert_int_equal(st.damaged_blocks, 2);
	/* the damaged idx entry is not counted as stored */
	assert_int_equal(st.blocks, 4);

	memset(&g, 0, sizeof(g));
	assert_int_equal(store_scan_open_parts(s, 0, UINT64_MAX, STORE_COLS_ALL, 2,
	    parts), 0);
	drain(parts[1], &g);
	drain(parts[0], &g);
	store_scan_close(parts[0]);
	store_scan_close(parts[1]);
	assert_int_equal(g.errors, 2);
	expect_multiset(&g, want, 300);
	free(g.f);
	assert_int_equal(stats(s).damaged_blocks, 4);
	/* maintenance does not trip over them either */
	assert_int_equal(store_maintain(s, now_ms() + 60000, 0), 0);
	store_close(s);
	dir_remove();
}

static void
test_readonly_and_open_errors(void **state)
{
	store_opts_t o = { .block_rows = 100, .nosync = 1 };
	store_flow_t f[250];
	uint8_t v2[4] = { 2, 0, 0, 0 };
	store_stats_t st;
	struct got g;
	char err[256], p[128];
	store_t *s;
	int fd;

	(void)state;
	dir_make();
	s = open_with(&o);
	rng = 10;
	for (int i = 0; i < 250; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 1000, 0);
	assert_int_equal(store_append(s, f, 250), 0);
	/* 50 rows pending: written by store_close */
	assert_int_equal(stats(s).pending, 50);
	store_close(s);

	o.readonly = 1;
	s = open_with(&o);
	st = stats(s);
	assert_int_equal(st.flows, 250);
	assert_int_equal(st.blocks, 3);
	g = scan_all(s);
	expect_flows(&g, f, 250);
	free(g.f);
	assert_int_equal(store_append(s, f, 1), FF_ENOTSUP);
	assert_int_equal(store_commit(s), FF_ENOTSUP);
	assert_int_equal(store_maintain(s, T0, 0), FF_ENOTSUP);
	store_close(s);
	store_close(NULL);

	/* a newer format version is refused */
	raw_put("meta", "version", 7, v2, 4);
	o.readonly = 0;
	o.path = dir;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_EVERSION);
	assert_non_null(strstr(err, "version"));
	dir_remove();

	/* missing directory read-only; a file as directory; no path */
	o.readonly = 1;
	o.path = "/tmp/ff-test-store-does-not-exist";
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_ENOENT);
	snprintf(p, sizeof(p), "/tmp/ff-test-store-file-%d", (int)getpid());
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	o.readonly = 0;
	o.path = p;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_EINVAL);
	unlink(p);
	o.path = NULL;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_EINVAL);
	o.path = "/tmp";
	o.block_rows = STORE_BLOCK_ROWS_MAX + 1;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_EINVAL);
	o.block_rows = 0;
	o.zstd_level = 1000;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), FF_EINVAL);
}

/*
 * kill -9 after a commit and more appends: the committed flows are all
 * there, the uncommitted ones (less than a block) are lost, nothing else.
 */
static void
crash_once(int nosync)
{
	store_opts_t o = { .block_rows = 1000, .nosync = nosync };
	store_flow_t f[3700];
	store_stats_t st;
	struct got g;
	store_t *s;
	pid_t pid;
	int status;

	dir_make();
	rng = 11;
	for (int i = 0; i < 3700; i++)
		mk_flow(&f[i], (uint64_t)i, T0, 1000, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		store_opts_t co = o;
		store_t *cs;

		co.path = dir;
		if (store_open(&co, &cs, NULL, 0) != 0)
			_exit(1);
		/* 3 full blocks + 200 committed, then 500 not committed */
		if (store_append(cs, f, 3200) != 0 || store_commit(cs) != 0 ||
		    store_append(cs, f + 3200, 500) != 0)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	s = open_with(&o);
	st = stats(s);
	assert_int_equal(st.flows, 3200);
	assert_int_equal(st.blocks, 4);
	g = scan_all(s);
	expect_flows(&g, f, 3200);
	free(g.f);
	/* and the store takes new writes */
	assert_int_equal(store_append(s, f + 3200, 500), 0);
	assert_int_equal(store_commit(s), 0);
	g = scan_all(s);
	expect_flows(&g, f, 3700);
	free(g.f);
	store_close(s);
	dir_remove();
}

static void
test_kill9(void **state)
{
	(void)state;
	crash_once(0);
	crash_once(1);
}

/* ---- a reader scanning while the writer appends and compacts ----------- */

#define CW_BATCHES	300
#define CW_ROWS		250

struct cw {
	store_t *s;
	atomic_int done;
	int failures;
	char why[160];
	atomic_uint scans;
	unsigned nonempty;
};

static void *
cw_writer(void *arg)
{
	struct cw *w = arg;
	store_flow_t f[CW_ROWS];
	uint64_t seq = 0;

	/* start once the reader has its first (empty) view, 10 s at most */
	for (int i = 0; i < 10000 && atomic_load(&w->scans) == 0; i++)
		usleep(1000);
	for (int b = 0; b < CW_BATCHES; b++) {
		for (int i = 0; i < CW_ROWS; i++, seq++) {
			memset(&f[i], 0, sizeof(f[i]));
			f[i].packets = seq + 1;
			f[i].first_ms = T0 + seq;
			f[i].last_ms = T0 + seq;
			f[i].bytes = seq * 3;
		}
		if (store_append(w->s, f, CW_ROWS) != 0 ||
		    store_commit(w->s) != 0)
			w->failures++;
		if (b % 10 == 9 &&
		    store_maintain(w->s, now_ms() + 60000, 0) != 0)
			w->failures++;
	}
	atomic_store(&w->done, 1);
	return NULL;
}

/* What one view held: each flow once, and exactly flows 1..k. */
static int
cw_check(struct cw *w, uint8_t *seen, size_t max, store_scan_t **sc,
    unsigned nsc)
{
	size_t count = 0, top = 0;
	store_colbatch_t cb;
	int rc;

	memset(seen, 0, max);
	for (unsigned p = 0; p < nsc; p++) {
		while ((rc = store_scan_next(sc[p], &cb)) == 1) {
			for (size_t i = 0; i < cb.n; i++) {
				uint64_t q = cb.packets[i];

				if (q == 0 || q > max || seen[q - 1] ||
				    cb.bytes[i] != (q - 1) * 3) {
					snprintf(w->why, sizeof(w->why),
					    "bad or repeated flow %llu",
					    (unsigned long long)q);
					return -1;
				}
				seen[q - 1] = 1;
				count++;
				top = FF_MAX(top, q);
			}
		}
		if (rc != 0) {
			snprintf(w->why, sizeof(w->why), "scan_next %d", rc);
			return -1;
		}
	}
	if (count != top) {
		snprintf(w->why, sizeof(w->why),
		    "view has %zu flows up to %zu", count, top);
		return -1;
	}
	w->nonempty += count > 0;
	return 0;
}

static void *
cw_reader(void *arg)
{
	struct cw *w = arg;
	size_t max = (size_t)CW_BATCHES * CW_ROWS;
	uint8_t *seen = malloc(max);
	store_scan_t *sc[3];
	uint32_t cols = STORE_COLBIT(STORE_COL_PACKETS) | STORE_COLBIT(STORE_COL_BYTES);

	if (seen == NULL) {
		w->failures++;
		return NULL;
	}
	for (unsigned it = 0; it < 100000 && !atomic_load(&w->done); it++) {
		unsigned np = 1 + it % 3;
		int rc;

		if (it % 2 == 0) {
			rc = store_scan_open(w->s, 0, UINT64_MAX, cols, 0, 1, sc);
			np = 1;
		} else
			rc = store_scan_open_parts(w->s, 0, UINT64_MAX, cols, np, sc);
		if (rc != 0) {
			w->failures++;
			break;
		}
		if (cw_check(w, seen, max, sc, np) != 0)
			w->failures++;
		for (unsigned p = 0; p < np; p++)
			store_scan_close(sc[p]);
		w->scans++;
		if (w->failures)
			break;
	}
	free(seen);
	return NULL;
}

static void
test_concurrent_reader(void **state)
{
	store_opts_t o = { .block_rows = 2000, .nosync = 1 };
	struct cw w;
	pthread_t tw, tr;
	store_stats_t st;
	struct got g;

	(void)state;
	dir_make();
	memset(&w, 0, sizeof(w));
	w.s = open_with(&o);
	assert_int_equal(pthread_create(&tr, NULL, cw_reader, &w), 0);
	assert_int_equal(pthread_create(&tw, NULL, cw_writer, &w), 0);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	if (w.failures)
		fail_msg("concurrent: %d failures: %s", w.failures, w.why);
	assert_true(w.scans > 0);
	st = stats(w.s);
	assert_int_equal(st.flows, CW_BATCHES * CW_ROWS);
	assert_true(st.compactions > 0);
	g = scan_all(w.s);
	assert_int_equal(g.n, CW_BATCHES * CW_ROWS);
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.f[i].packets, i + 1);
	free(g.f);
	store_close(w.s);
	dir_remove();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_reopen_exactly_once, cleanup),
		cmocka_unit_test_teardown(test_time_selection, cleanup),
		cmocka_unit_test_teardown(test_time_no_end, cleanup),
		cmocka_unit_test_teardown(test_partitions, cleanup),
		cmocka_unit_test_teardown(test_retention_age, cleanup),
		cmocka_unit_test_teardown(test_retention_age_unknown_write_time,
		    cleanup),
		cmocka_unit_test_teardown(test_compaction_write_time_span,
		    cleanup),
		cmocka_unit_test_teardown(test_retention_size, cleanup),
		cmocka_unit_test_teardown(test_compaction, cleanup),
		cmocka_unit_test_teardown(test_compaction_split, cleanup),
		cmocka_unit_test_teardown(test_map_full, cleanup),
		cmocka_unit_test_teardown(test_map_full_compaction,
		    cleanup),
		cmocka_unit_test_teardown(test_full_fs_makes_room,
		    cleanup_fsize),
		cmocka_unit_test_teardown(test_full_fs_without_size_retention,
		    cleanup_fsize),
		cmocka_unit_test_teardown(test_full_fs_reuses_freed_pages,
		    cleanup_fsize),
		cmocka_unit_test_teardown(test_full_fs_nothing_to_gain,
		    cleanup_fsize),
		cmocka_unit_test_teardown(test_readers_counted, cleanup),
		cmocka_unit_test_teardown(test_small_map_with_size_retention,
		    cleanup),
		cmocka_unit_test_teardown(test_damaged_blocks, cleanup),
		cmocka_unit_test_teardown(test_readonly_and_open_errors,
		    cleanup),
		cmocka_unit_test_teardown(test_kill9, cleanup),
		cmocka_unit_test_teardown(test_concurrent_reader, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
