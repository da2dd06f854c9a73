/*
 * Running a compiled query over a store: a parallel scan of the store. The threads share one view of the blocks
 * (store_scan_open_parts: each takes the next unvisited block), select the
 * rows in the window that match the filter, and aggregate them into their
 * own partials; the partials are merged into one result at the end. Cancellation, the deadline and the
 * memory and row limits are checked between blocks (memory and rows also
 * whenever a table grows).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "agg.h"

#define QUERY_MAX_THREADS	64

/* --- running -------------------------------------------------------------- */

struct run {
	store_t *s;
	const query_t *q;
	const volatile int *cancel;
	uint64_t deadline;		/* mono_ms; 0: none */
	memacct_t ma;			/* the partials' memory */
	atomic_int stop;		/* a thread failed: all stop */
	unsigned nparts;
};

struct worker {
	struct run *run;
	store_scan_t *sc;	/* this thread's part of the scan */
	agg_t agg;
	query_meta_t meta;
	uint64_t *sel, *scratch;
	size_t selwords;
	int err;
	pthread_t th;
	int started;
};

/* Make room for a selection of n rows. */
static int
worker_sel(struct worker *w, size_t n)
{
	size_t words = (n + 63) / 64;
	size_t sw = filter_scratch_words(w->run->q->filter);
	uint64_t *sel, *scr = NULL;

	if (words <= w->selwords)
		return 0;
	if (sw != 0 && words > SIZE_MAX / sizeof(uint64_t) / sw)
		return FF_ENOMEM;
	if ((sel = malloc(words * sizeof(uint64_t))) == NULL)
		return FF_ENOMEM;
	if (sw != 0 && (scr = malloc(words * sw * sizeof(uint64_t))) == NULL) {
		free(sel);
		return FF_ENOMEM;
	}
	free(w->sel);
	free(w->scratch);
	w->sel = sel;
	w->scratch = scr;
	w->selwords = words;
	return 0;
}

/* 1 if every row of cb is in q's window, by the batch's time range. */
static int
in_window(const query_t *q, const store_colbatch_t *cb)
{
	return cb->min_first >= q->id.t0 &&
	    (q->id.t1 == UINT64_MAX || cb->max_first < q->id.t1);
}

/* 1 if no row of cb is in q's window (or the window is empty). */
static int
out_of_window(const query_t *q, const store_colbatch_t *cb)
{
	return cb->max_first < q->id.t0 || (q->id.t1 != UINT64_MAX &&
	    (cb->min_first >= q->id.t1 || q->id.t0 >= q->id.t1));
}

/*
 * Select the rows of cb in the window that match the filter. Returns the
 * number selected and sets *selp to the bitmap, or to NULL when every row
 * is selected. Negative on error.
 */
static long
select_rows(struct worker *w, const store_colbatch_t *cb, const uint64_t **selp)
{
	const query_t *q = w->run->q;
	const uint64_t t0 = q->id.t0;
	/* The last ms in the window, minus t0 (t1 = UINT64_MAX: no end). */
	const uint64_t span = (q->id.t1 == UINT64_MAX ? UINT64_MAX :
	    q->id.t1 - 1) - t0;
	int inwin = in_window(q, cb);
	int any = filter_is_any(q->filter);
	size_t words = (cb->n + 63) / 64, count = 0;
	int err;

	*selp = NULL;
	if (any && inwin)
		return (long)cb->n;
	if ((err = worker_sel(w, cb->n)) != 0)
		return err;
	if (!any)
		filter_eval(q->filter, cb, w->sel, w->scratch);
	else
		memset(w->sel, 0xff, words * sizeof(uint64_t));
	if (!inwin) {
		const uint64_t *f = cb->first_ms;

		for (size_t wi = 0; wi < words; wi++) {
			size_t base = wi * 64, lim = cb->n - base;
			uint64_t m = 0;

			if (lim > 64)
				lim = 64;
			for (size_t b = 0; b < lim; b++)
				m |= (uint64_t)(f[base + b] - t0 <= span) << b;
			w->sel[wi] &= m;
		}
	}
	if (cb->n % 64 != 0)
		w->sel[words - 1] &= ((uint64_t)1 << (cb->n % 64)) - 1;
	for (size_t wi = 0; wi < words; wi++)
		count += (size_t)__builtin_popcountll(w->sel[wi]);
	*selp = w->sel;
	return (long)count;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	const query_t *q = run->q;
	store_scan_t *sc = w->sc;
	store_colbatch_t cb;
	int rc;

	for (;;) {
		const uint64_t *sel;
		long nsel;

		if (run->cancel != NULL && *run->cancel != 0) {
			rc = FF_ECANCELED;
			break;
		}
		if (atomic_load(&run->stop) != 0) {
			rc = 0;
			break;
		}
		if (run->deadline != 0 && q->clock_ms() > run->deadline) {
			rc = FF_ETIMEDOUT;
			break;
		}
		memset(&cb, 0, sizeof(cb));
		if ((rc = store_scan_next(sc, &cb)) == 0)
			break;
		if (rc == FF_EPROTO) {
			/* A damaged block: counted, left out, scan goes on. */
			w->meta.blocks_damaged++;
			continue;
		}
		if (rc < 0)
			break;
		rc = 0;
		w->meta.blocks_scanned++;
		w->meta.flows_scanned += cb.n;
		if (cb.n == 0 || out_of_window(q, &cb))
			continue;
		if ((nsel = select_rows(w, &cb, &sel)) < 0) {
			rc = (int)nsel;
			break;
		}
		if (nsel == 0)
			continue;
		w->meta.flows_matched += (uint64_t)nsel;
		if ((rc = agg_add(&w->agg, &cb, sel)) != 0)
			break;
	}
	w->meta.blocks_skipped = store_scan_skipped(sc);
	w->err = rc;
	if (rc != 0)
		atomic_store(&run->stop, 1);
	return NULL;
}

static unsigned
ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > QUERY_MAX_THREADS ? QUERY_MAX_THREADS :
	    (unsigned)n;
}

/* The error to report among the workers': the first that is not a stop. */
static int
run_error(const struct worker *w, unsigned n)
{
	static const int prio[] = { FF_ECANCELED, FF_ETIMEDOUT, FF_ELIMIT };

	for (size_t p = 0; p < FF_NELEM(prio); p++)
		for (unsigned i = 0; i < n; i++)
			if (w[i].err == prio[p])
				return prio[p];
	for (unsigned i = 0; i < n; i++)
		if (w[i].err != 0)
			return w[i].err;
	return 0;
}

static void
limit_msg(const query_t *q, int rc, const struct worker *w,
    unsigned n, const query_result_t *res, char *err, size_t errlen)
{
	uint64_t rows = 0;

	switch (rc) {
	case FF_ECANCELED:
		snprintf(err, errlen, "query cancelled");
		return;
	case FF_ETIMEDOUT:
		snprintf(err, errlen, "query stopped at its time limit of %"
		    PRIu64 " ms", q->max_ms);
		return;
	case FF_ELIMIT:
		for (unsigned i = 0; i < n; i++) {
			uint64_t k = w[i].agg.u.n + w[i].agg.k.n;

			if (k > rows)
				rows = k;
		}
		if (res != NULL && res->tab.n > rows)
			rows = res->tab.n;
		if (q->max_rows != 0 && rows >= q->max_rows)
			snprintf(err, errlen, "query result exceeds its limit "
			    "of %" PRIu64 " rows", q->max_rows);
		else
			snprintf(err, errlen, "query exceeds its memory limit "
			    "of %" PRIu64 " bytes", q->max_mem);
		return;
	default:
		snprintf(err, errlen, "query failed: %s", ff_strerror(rc));
	}
}

int
query_run(store_t *s, const query_t *q,
    const volatile int *cancel, query_result_t **out, char *err,
    size_t errlen)
{
	struct run run;
	struct worker *w;
	store_scan_t *scans[QUERY_MAX_THREADS];
	query_result_t *res = NULL;
	uint64_t t_start = mono_ns();
	unsigned n;
	int rc = 0;

	*out = NULL;
	if (q->max_rows != 0 && ((q->id.kind == QUERY_LIST &&
	    q->id.limit > q->max_rows) || (q->id.kind == QUERY_SERIES &&
	    q->id.nbuckets > q->max_rows))) {
		snprintf(err, errlen, "query asks for more rows than its "
		    "limit of %" PRIu64, q->max_rows);
		return FF_ELIMIT;
	}
	n = q->threads > 0 ? (unsigned)q->threads : ncores();
	if (n > QUERY_MAX_THREADS)
		n = QUERY_MAX_THREADS;
	memset(&run, 0, sizeof(run));
	run.s = s;
	run.q = q;
	run.cancel = cancel;
	run.nparts = n;
	run.ma.max = q->max_mem;
	atomic_init(&run.ma.used, 0);
	atomic_init(&run.stop, 0);
	if (q->max_ms != 0)
		run.deadline = q->clock_ms() + q->max_ms;
	if ((w = calloc(n, sizeof(*w))) == NULL)
		return FF_ENOMEM;
	if ((rc = store_scan_open_parts(s, q->id.t0, q->id.t1, q->cols, n,
	    scans)) != 0) {
		free(w);
		snprintf(err, errlen, "cannot read the store: %s",
		    ff_strerror(rc));
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		w[i].run = &run;
		w[i].sc = scans[i];
		store_scan_set_dict(scans[i], q->dcols);
		store_scan_set_edge(scans[i], q->ecols);
	}
	for (unsigned i = 0; i < n && rc == 0; i++)
		if ((rc = agg_init(&w[i].agg, &q->id, &run.ma,
		    q->max_rows)) != 0)
			w[i].err = rc;
	if (rc == 0) {
		/* Part 0 runs on the calling thread. */
		for (unsigned i = 1; i < n; i++) {
			if (pthread_create(&w[i].th, NULL, worker_main,
			    &w[i]) != 0) {
				w[i].err = FF_ENOMEM;
				atomic_store(&run.stop, 1);
				break;
			}
			w[i].started = 1;
		}
		worker_main(&w[0]);
		for (unsigned i = 1; i < n; i++)
			if (w[i].started)
				pthread_join(w[i].th, NULL);
		rc = run_error(w, n);
	}
	for (unsigned i = 0; i < n; i++) {
		store_scan_close(w[i].sc);
		w[i].sc = NULL;
	}
	if (rc == 0 && n > 1) {
		/* The partials into the one with the most keys, first. */
		unsigned big = 0;

		for (unsigned i = 1; i < n; i++)
			if (w[i].agg.u.n + w[i].agg.k.n >
			    w[big].agg.u.n + w[big].agg.k.n)
				big = i;
		for (unsigned i = 0; i < n && rc == 0; i++)
			if (i != big)
				rc = agg_merge(&w[big].agg, &w[i].agg);
	}
	if (rc == 0 && (res = result_new_id(&q->id, q->max_mem,
	    q->max_rows)) == NULL)
		rc = q->max_mem != 0 ? FF_ELIMIT : FF_ENOMEM;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		if ((rc = agg_finish(&w[i].agg, res)) != 0)
			break;
		res->meta.flows_scanned += w[i].meta.flows_scanned;
		res->meta.flows_matched += w[i].meta.flows_matched;
		res->meta.blocks_scanned += w[i].meta.blocks_scanned;
		res->meta.blocks_skipped += w[i].meta.blocks_skipped;
		res->meta.blocks_damaged += w[i].meta.blocks_damaged;
	}
	if (rc != 0)
		limit_msg(q, rc, w, n, res, err, errlen);
	for (unsigned i = 0; i < n; i++) {
		store_scan_close(w[i].sc);
		agg_free(&w[i].agg);
		free(w[i].sel);
		free(w[i].scratch);
	}
	free(w);
	if (rc != 0) {
		query_result_free(res);
		return rc;
	}
	res->meta.elapsed_us = (mono_ns() - t_start) / 1000;
	*out = res;
	return 0;
}
