/*
 * The store writer thread and its bounded queue of batch buffers.
 *
 * One mutex guards the queue (a ring of full batches), the stack of free
 * buffers, the queue counters and the published stats; it is never held
 * across a store call. The condition variable (CLOCK_MONOTONIC) wakes
 * the thread for a new batch, for stopping, or at its next deadline
 * (commit, maintenance).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "writer.h"

struct wbatch {
	store_flow_t *flows;
	size_t n;
};

struct writer {
	store_t *s;
	size_t batch;
	pthread_t thr;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wbatch *ring;	/* queue of full batches, qcap slots */
	size_t qcap, qhead, qlen;
	store_flow_t **free;	/* free buffers, a stack of nfree */
	size_t nbufs, nfree;
	int stopping;
	/* the counters, under mu: the submitting side's kept here as they
	   change, the thread's published at every commit */
	writer_stats_t pub;

	/* thread only */
	uint64_t commit_due;	/* mono ms; 0: nothing appended since */
	uint64_t maint_due;
	uint64_t appended, errors, last_commit_ms;
	uint64_t committed;	/* the store's committed flows last seen */
	int failing;
	uint64_t last_log;	/* mono ms of the last error message */
	uint64_t unlogged;	/* failures since that message */
	int told;		/* a failure was logged, no recovery since */
	uint64_t dropped_told;	/* the store's dropped flows then */
	uint64_t room_log;	/* mono ms of the last make-room message */
	uint64_t maint_log;	/* mono ms of the last maintenance error */
	uint64_t room_told, room_flows;	/* the store's room_* then */
};

static void
free_all(writer_t *w)
{
	if (w->ring != NULL)
		for (size_t i = 0; i < w->qlen; i++)
			free(w->ring[(w->qhead + i) % w->qcap].flows);
	if (w->free != NULL)
		for (size_t i = 0; i < w->nfree; i++)
			free(w->free[i]);
	free(w->ring);
	free(w->free);
	free(w);
}

/* "store full: PATH: ...sizes..." into buf. */
static void
full_fmt(writer_t *w, const store_stats_t *st, char *buf, size_t len)
{
	char used[32], file[32], map[32], fs[32];
	struct rlimit rl;
	int n;

	size_fmt(st->bytes_used, used, sizeof(used));
	size_fmt(st->file_bytes, file, sizeof(file));
	size_fmt(st->map_size, map, sizeof(map));
	if (st->fs_free != UINT64_MAX)
		size_fmt(st->fs_free, fs, sizeof(fs));
	else
		snprintf(fs, sizeof(fs), "unknown");
	n = snprintf(buf, len, "store full: %s: %s used (data file %s) of a "
	    "%s map, %s free on its filesystem", store_path(w->s), used, file,
	    map, fs);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", file size limit %s",
		    size_fmt((uint64_t)rl.rlim_cur, fs, sizeof(fs)));
}

/*
 * Record a failed store call; log at most once every WRITER_LOG_MS.
 * write: flows were dropped (an append or a commit), so writes are
 * failing until one succeeds.
 */
static void
note_error(writer_t *w, const char *what, int rc, int write)
{
	uint64_t now = mono_ms();
	store_stats_t st;
	char why[1024];

	w->errors++;
	if (!write) {
		if (w->maint_log != 0 && now - w->maint_log < WRITER_LOG_MS)
			return;
		log_warnx("flow store: %s failed: %s", what,
		    ff_strerror(rc));
		w->maint_log = now;
		return;
	}
	w->failing = 1;
	w->unlogged++;
	if (w->last_log != 0 && now - w->last_log < WRITER_LOG_MS)
		return;
	store_get_stats(w->s, &st);
	if (rc == FF_ENOSPC)
		full_fmt(w, &st, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", ff_strerror(rc));
	log_warnx("flow store: %s failed: %s (%" PRIu64 " failure%s since "
	    "the last message; %" PRIu64 " flows dropped so far); flows are "
	    "dropped and counted until writes succeed again%s", what, why,
	    w->unlogged, w->unlogged == 1 ? "" : "s", st.dropped,
	    rc != FF_ENOSPC ? "" : st.max_bytes != 0 ? "; retention deletes "
	    "the oldest blocks when that makes room" : "; retention-size is "
	    "none: nothing is deleted to make room");
	w->last_log = now;
	w->unlogged = 0;
	w->told = 1;
	w->dropped_told = st.dropped;
}

/* A block was written: writes succeed (again). */
static void
note_ok(writer_t *w)
{
	store_stats_t st;

	w->failing = 0;
	if (!w->told)
		return;
	w->told = 0;
	store_get_stats(w->s, &st);
	log_info("flow store: writes succeed again (%" PRIu64 " flows "
	    "dropped since the failure was logged)",
	    st.dropped - w->dropped_told);
}

/*
 * After a store call that returned rc: a failure, or a success that
 * wrote a block (committed flows grew since `before`); a call that only
 * buffered rows tells nothing.
 */
static void
note_write(writer_t *w, const char *what, int rc, uint64_t before)
{
	if (rc != 0)
		note_error(w, what, rc, 1);
	else if (store_committed(w->s) != before)
		note_ok(w);
}

/* Blocks deleted to make room: say so at most once every WRITER_LOG_MS. */
static void
note_room(writer_t *w, const store_stats_t *st)
{
	uint64_t now = mono_ms();
	char why[1024];

	if (st->room_blocks == w->room_told || (w->room_log != 0 &&
	    now - w->room_log < WRITER_LOG_MS))
		return;
	full_fmt(w, st, why, sizeof(why));
	log_warnx("flow store: %s; deleted the oldest %" PRIu64 " blocks (%"
	    PRIu64 " flows) to make room, before retention-size; the store "
	    "keeps what its filesystem holds", why,
	    st->room_blocks - w->room_told, st->room_flows - w->room_flows);
	w->room_told = st->room_blocks;
	w->room_flows = st->room_flows;
	w->room_log = now;
}

/* Publish the thread's counters and the store's. */
static void
publish(writer_t *w)
{
	store_stats_t st;

	store_get_stats(w->s, &st);
	/* Block-fill commits happen inside store_append: note them here. */
	if (st.committed != w->committed) {
		w->committed = st.committed;
		w->last_commit_ms = now_ms();
	}
	note_room(w, &st);
	pthread_mutex_lock(&w->mu);
	w->pub.store = st;
	w->pub.appended = w->appended;
	w->pub.errors = w->errors;
	w->pub.last_commit_ms = w->last_commit_ms;
	w->pub.failing = w->failing;
	pthread_mutex_unlock(&w->mu);
}

static void
do_commit(writer_t *w)
{
	uint64_t before = store_committed(w->s);

	w->commit_due = 0;
	note_write(w, "commit", store_commit(w->s), before);
}

/* Commit and maintain when due. */
static void
housekeeping(writer_t *w, uint64_t now)
{
	int rc;

	if (w->commit_due != 0 && now >= w->commit_due)
		do_commit(w);
	if (now >= w->maint_due) {
		w->maint_due = now + WRITER_MAINT_MS;
		if ((rc = store_maintain(w->s, now_ms(),
		    WRITER_MAINT_BUDGET_MS)) != 0)
			note_error(w, "retention", rc, 0);
	}
}

static void
append(writer_t *w, const struct wbatch *b)
{
	uint64_t before = store_committed(w->s);

	if (w->commit_due == 0)
		w->commit_due = mono_ms() + WRITER_COMMIT_MS;
	w->appended += b->n;
	note_write(w, "write", store_append(w->s, b->flows, b->n), before);
}

/* Sleep on cv until the absolute monotonic time due_ms (mu held). */
static void
wait_until(writer_t *w, uint64_t due_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(due_ms / 1000),
		.tv_nsec = (long)(due_ms % 1000) * 1000000L
	};

	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static void *
writer_main(void *arg)
{
	writer_t *w = arg;
	struct wbatch b;
	uint64_t now, due;
	int have, done;

	w->maint_due = mono_ms();
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->qlen == 0 && !w->stopping) {
			due = w->maint_due;
			if (w->commit_due != 0 && w->commit_due < due)
				due = w->commit_due;
			if (mono_ms() >= due)
				break;
			wait_until(w, due);
		}
		have = w->qlen > 0;
		if (have) {
			b = w->ring[w->qhead];
			w->qhead = (w->qhead + 1) % w->qcap;
			w->qlen--;
		}
		done = !have && w->stopping;
		pthread_mutex_unlock(&w->mu);
		if (done)
			break;
		if (have) {
			append(w, &b);
			pthread_mutex_lock(&w->mu);
			w->free[w->nfree++] = b.flows;
			pthread_mutex_unlock(&w->mu);
		}
		now = mono_ms();
		housekeeping(w, now);
		publish(w);
	}
	do_commit(w);
	publish(w);
	return NULL;
}

int
writer_start(store_t *s, const writer_opts_t *o, writer_t **out)
{
	pthread_condattr_t ca;
	writer_t *w;
	int rc;

	if (s == NULL || o == NULL || o->batch == 0 || o->queue == 0 ||
	    o->batch > SIZE_MAX / sizeof(store_flow_t))
		return FF_EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return FF_ENOMEM;
	w->s = s;
	w->batch = o->batch;
	w->qcap = w->nbufs = o->queue;
	if ((w->ring = calloc(w->qcap, sizeof(*w->ring))) == NULL ||
	    (w->free = calloc(w->nbufs, sizeof(*w->free))) == NULL) {
		free_all(w);
		return FF_ENOMEM;
	}
	for (size_t i = 0; i < w->nbufs; i++) {
		if ((w->free[i] = malloc(o->batch *
		    sizeof(store_flow_t))) == NULL) {
			free_all(w);
			return FF_ENOMEM;
		}
		w->nfree++;
	}
	w->pub.queue_cap = w->qcap;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free_all(w);
		return FF_ENOMEM;
	}
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&w->cv, &ca) != 0) {
		pthread_mutex_destroy(&w->mu);
		free_all(w);
		return FF_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&w->thr, NULL, writer_main, w)) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free_all(w);
		errno = rc;
		return FF_EIO;
	}
	*out = w;
	return 0;
}

store_flow_t *
writer_submit(writer_t *w, store_flow_t *buf, size_t n)
{
	store_flow_t *next;

	if (n == 0)
		return buf;
	pthread_mutex_lock(&w->mu);
	if (w->nfree == 0 || w->stopping) {
		w->pub.dropped += n;
		w->pub.dropped_batches++;
		pthread_mutex_unlock(&w->mu);
		return buf;
	}
	next = w->free[--w->nfree];
	w->ring[(w->qhead + w->qlen) % w->qcap] = (struct wbatch){ buf, n };
	w->qlen++;
	if (w->qlen > w->pub.queue_peak)
		w->pub.queue_peak = w->qlen;
	w->pub.batches++;
	w->pub.flows += n;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return next;
}

void
writer_get_stats(writer_t *w, writer_stats_t *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->pub;
	st->queued = w->qlen;
	pthread_mutex_unlock(&w->mu);
}

void
writer_stop(writer_t *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thr, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free_all(w);
}
