/*
 * Store writer tests (node/writer.c) on a real store in a temporary
 * directory: the buffer exchange, the accounting (every submitted flow is
 * either taken into the queue or counted as dropped, and every taken flow
 * is committed), the commit timer without any block filling, stopping
 * with batches still queued, failing from a failed write (no room) until
 * a block is written, and bad arguments. Waits are bounded polls
 * of the counters; nothing depends on timing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "node/writer.h"
#include "store/query/query.h"

#define BATCH	64

struct fixture {
	char dir[64];
	store_t *s;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	store_opts_t so;
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_writer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&so, 0, sizeof(so));
	so.path = f->dir;
	so.nosync = 1;
	so.map_size = 64u << 20;
	assert_int_equal(store_open(&so, &f->s, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static struct rlimit fsize_saved;

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	/* what test_failing_until_written changed, also when it failed */
	setrlimit(RLIMIT_FSIZE, &fsize_saved);
	signal(SIGXFSZ, SIG_DFL);

	store_close(f->s);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
fill(store_flow_t *b, size_t n, uint64_t k)
{
	for (size_t i = 0; i < n; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].first_ms = b[i].last_ms = 1700000000000ull + k * 1000 + i;
		b[i].bytes = 100 + k;
		b[i].packets = 1;
		b[i].proto = 6;
		b[i].src[10] = b[i].src[11] = 0xff;
		b[i].src[15] = (uint8_t)k;
	}
}

/* Poll until pred holds for the writer's counters (at most ~10 s). */
static void
wait_stats(writer_t *w, writer_stats_t *st,
    int (*pred)(const writer_stats_t *))
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 1000; i++) {
		writer_get_stats(w, st);
		if (pred(st))
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("the writer's counters never got there");
}

static int
settled(const writer_stats_t *st)
{
	return st->queued == 0 && st->appended == st->flows &&
	    st->store.pending == 0 && st->store.committed == st->flows;
}

static void
test_accounting(void **state)
{
	struct fixture *f = *state;
	writer_opts_t o = { .batch = BATCH, .queue = 2 };
	store_flow_t *buf, *next;
	writer_stats_t st;
	writer_t *w;
	uint64_t sum = 0, given = 0, kept = 0;

	assert_int_equal(writer_start(f->s, &o, &w), 0);
	buf = malloc(BATCH * sizeof(*buf));
	assert_non_null(buf);
	for (uint64_t k = 0; k < 500; k++) {
		fill(buf, BATCH, k);
		next = writer_submit(w, buf, BATCH);
		given += BATCH;
		if (next == buf)
			kept++;		/* dropped: the same buffer back */
		else
			sum += BATCH * (100 + k);
		buf = next;
	}
	wait_stats(w, &st, settled);
	/* Every flow is taken or counted as dropped, exactly. */
	assert_int_equal(st.flows + st.dropped, given);
	assert_int_equal(st.dropped, kept * BATCH);
	assert_int_equal(st.dropped_batches, kept);
	assert_int_equal(st.batches, 500 - kept);
	assert_int_equal(st.queue_cap, 2);
	assert_true(st.queue_peak <= 2);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.store.dropped, 0);
	assert_int_equal(st.store.flows, st.flows);
	assert_true(st.last_commit_ms != 0);
	writer_stop(w);
	free(buf);

	/* What was taken is in the store: a query over it. */
	{
		query_spec_t q = { .kind = QUERY_TOTALS, .t1 = UINT64_MAX };
		query_t *cq;
		query_result_t *r;
		query_info_t inf;
		char err[128];

		assert_int_equal(query_compile(&q, &cq, err,
		    sizeof(err)), 0);
		assert_int_equal(query_run(f->s, cq, NULL, &r, err,
		    sizeof(err)), 0);
		query_result_get_info(r, &inf);
		assert_int_equal(inf.flows, given - kept * BATCH);
		assert_int_equal(inf.bytes, sum);
		query_result_free(r);
		query_free(cq);
	}
}

static int
committed_10(const writer_stats_t *st)
{
	return st->store.committed == 10 && st->store.pending == 0;
}

/* Ten flows, far from filling a block, are committed by the timer. */
static void
test_commit_timer(void **state)
{
	struct fixture *f = *state;
	writer_opts_t o = { .batch = BATCH, .queue = 4 };
	store_flow_t *buf = malloc(BATCH * sizeof(*buf));
	writer_stats_t st;
	writer_t *w;

	assert_non_null(buf);
	assert_int_equal(writer_start(f->s, &o, &w), 0);
	fill(buf, 10, 1);
	buf = writer_submit(w, buf, 10);
	wait_stats(w, &st, committed_10);
	assert_int_equal(st.store.commits, 1);
	assert_int_equal(st.store.flows, 10);
	writer_stop(w);
	free(buf);
}

/* Stopping appends and commits what is still queued. */
static void
test_stop_drains(void **state)
{
	struct fixture *f = *state;
	writer_opts_t o = { .batch = BATCH, .queue = 8 };
	store_flow_t *buf = malloc(BATCH * sizeof(*buf));
	store_stats_t ss;
	writer_stats_t st;
	writer_t *w;

	assert_non_null(buf);
	assert_int_equal(writer_start(f->s, &o, &w), 0);
	for (uint64_t k = 0; k < 8; k++) {
		fill(buf, BATCH, k);
		buf = writer_submit(w, buf, BATCH);
	}
	writer_get_stats(w, &st);
	writer_stop(w);
	free(buf);
	store_get_stats(f->s, &ss);
	assert_int_equal(ss.committed, st.flows);
	assert_int_equal(ss.pending, 0);
	assert_int_equal(st.flows + st.dropped, 8 * BATCH);
}

static uint64_t want;	/* for the predicates below */

static int
errors_want(const writer_stats_t *st)
{
	return st->errors >= want;
}

static int
appended_want(const writer_stats_t *st)
{
	return st->appended >= want;
}

static int
committed_want(const writer_stats_t *st)
{
	return st->store.committed >= want && st->store.pending == 0;
}

/* Let this process's files grow no larger than bytes (EFBIG past it). */
static void
fsize(rlim_t bytes)
{
	struct rlimit rl = fsize_saved;

	rl.rlim_cur = bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/*
 * The store full (its file may not grow): the writer is failing from
 * the first failed write until a block is written for real; appends that
 * only buffer rows do not count as success.
 */
static void
test_failing_until_written(void **state)
{
	struct fixture *f = *state;
	writer_opts_t o = { .batch = BATCH, .queue = 4 };
	store_flow_t *buf = malloc(BATCH * sizeof(*buf));
	writer_stats_t st;
	struct stat sb;
	char path[128];
	writer_t *w;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	fsize((rlim_t)sb.st_size);
	assert_int_equal(writer_start(f->s, &o, &w), 0);

	/* ten flows: the timer's commit finds no room */
	fill(buf, 10, 1);
	buf = writer_submit(w, buf, 10);
	want = 1;
	wait_stats(w, &st, errors_want);
	assert_int_equal(st.failing, 1);
	assert_int_equal(st.store.full, 1);
	assert_int_equal(st.store.dropped, 10);

	/* ten more, appended (buffered): still failing */
	fill(buf, 10, 2);
	buf = writer_submit(w, buf, 10);
	want = 20;
	wait_stats(w, &st, appended_want);
	assert_int_equal(st.failing, 1);
	assert_int_equal(st.store.pending, 10);
	/* and their commit fails too */
	want = 2;
	wait_stats(w, &st, errors_want);
	assert_int_equal(st.failing, 1);
	assert_int_equal(st.store.dropped, 20);

	/* room again: the next commit writes a block, failing ends */
	fsize(fsize_saved.rlim_cur);
	fill(buf, 10, 3);
	buf = writer_submit(w, buf, 10);
	want = 10;
	wait_stats(w, &st, committed_want);
	assert_int_equal(st.failing, 0);
	assert_int_equal(st.store.full, 0);
	assert_int_equal(st.store.flows, 10);
	assert_int_equal(st.errors, 2);
	writer_stop(w);
	signal(SIGXFSZ, SIG_DFL);
	free(buf);
}

static void
test_args(void **state)
{
	struct fixture *f = *state;
	writer_opts_t o = { .batch = BATCH, .queue = 1 };
	store_flow_t *buf = malloc(BATCH * sizeof(*buf)), *b2;
	writer_t *w;

	assert_non_null(buf);
	writer_stop(NULL);
	o.queue = 0;
	assert_int_equal(writer_start(f->s, &o, &w), FF_EINVAL);
	o.queue = 1;
	o.batch = 0;
	assert_int_equal(writer_start(f->s, &o, &w), FF_EINVAL);
	assert_int_equal(writer_start(NULL, &o, &w), FF_EINVAL);
	o.batch = BATCH;
	assert_int_equal(writer_start(f->s, &o, &w), 0);
	/* Nothing to hand over: the same buffer, nothing counted. */
	assert_ptr_equal(writer_submit(w, buf, 0), buf);
	/* queue 1: the one pool buffer comes back in exchange */
	fill(buf, 3, 0);
	b2 = writer_submit(w, buf, 3);
	assert_ptr_not_equal(b2, buf);
	writer_stop(w);
	free(b2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accounting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commit_timer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_drains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failing_until_written,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
	};

	if (getrlimit(RLIMIT_FSIZE, &fsize_saved) != 0)
		return 1;
	log_init("test_writer", 1, LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
