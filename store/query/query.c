/*
 * The query engine: compile a query spec, then run it as a parallel scan
 * of the store. The threads share one view of the blocks
 * (scan_open_parts: each takes the next unvisited block), select the
 * rows in the window that match the filter, and aggregate them into their
 * own partials; the partials are merged into one result at the end. Cancellation, the deadline and the
 * memory and row limits are checked between blocks (memory and rows also
 * whenever a table grows).
 */
#include <ctype.h>
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

int
store_query_compile(const store_qspec_t *spec, store_query_t **out,
    char *err, size_t errlen)
{
	store_query_t *q;
	int rc;

	*out = NULL;
	if (spec->threads < 0) {
		snprintf(err, errlen, "threads must be 0 (all cores) or more");
		return FF_EINVAL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return FF_ENOMEM;
	if ((rc = qident_from_spec(spec, &q->id, err, errlen)) != 0) {
		free(q);
		return rc;
	}
	if ((rc = filter_compile(q->id.filter, &q->filter, err,
	    errlen)) != 0) {
		qident_clear(&q->id);
		free(q);
		return rc;
	}
	/* first_ms decides a bounded window (and the series bucket). */
	q->cols = agg_columns(&q->id) | filter_columns(q->filter);
	/* the filter reads rows: its columns are decoded into rows */
	q->dcols = agg_dict_columns(&q->id) & ~filter_columns(q->filter);
	/* a block inside the window does not need first_ms to be cut */
	if ((q->id.t0 != 0 || q->id.t1 != UINT64_MAX) &&
	    !(q->cols & STORE_COLBIT(COL_FIRST)))
		q->ecols = STORE_COLBIT(COL_FIRST);
	q->cols |= q->ecols;
	q->max_ms = spec->max_ms;
	q->max_mem = spec->max_mem;
	q->max_rows = spec->max_rows;
	q->threads = spec->threads;
	q->clock_ms = mono_ms;
	*out = q;
	return 0;
}

void
store_query_free(store_query_t *q)
{
	if (q == NULL)
		return;
	filter_free(q->filter);
	qident_clear(&q->id);
	free(q);
}

/* --- running -------------------------------------------------------------- */

struct run {
	store_t *s;
	const store_query_t *q;
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
	store_result_meta_t meta;
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
in_window(const store_query_t *q, const colbatch_t *cb)
{
	return cb->min_first >= q->id.t0 &&
	    (q->id.t1 == UINT64_MAX || cb->max_first < q->id.t1);
}

/* 1 if no row of cb is in q's window (or the window is empty). */
static int
out_of_window(const store_query_t *q, const colbatch_t *cb)
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
select_rows(struct worker *w, const colbatch_t *cb, const uint64_t **selp)
{
	const store_query_t *q = w->run->q;
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
	const store_query_t *q = run->q;
	store_scan_t *sc = w->sc;
	colbatch_t cb;
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
		if ((rc = scan_next(sc, &cb)) == 0)
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
	w->meta.blocks_skipped = scan_skipped(sc);
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
limit_msg(const store_query_t *q, int rc, const struct worker *w,
    unsigned n, const store_result_t *res, char *err, size_t errlen)
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
store_query_run(store_t *s, const store_query_t *q,
    const volatile int *cancel, store_result_t **out, char *err,
    size_t errlen)
{
	struct run run;
	struct worker *w;
	store_scan_t *scans[QUERY_MAX_THREADS];
	store_result_t *res = NULL;
	uint64_t t_start = mono_ns();
	unsigned n;
	int rc = 0;

	*out = NULL;
	if (q->max_rows != 0 && ((q->id.kind == STORE_Q_LIST &&
	    q->id.limit > q->max_rows) || (q->id.kind == STORE_Q_SERIES &&
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
	if ((rc = scan_open_parts(s, q->id.t0, q->id.t1, q->cols, n,
	    scans)) != 0) {
		free(w);
		snprintf(err, errlen, "cannot read the store: %s",
		    ff_strerror(rc));
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		w[i].run = &run;
		w[i].sc = scans[i];
		scan_set_dict(scans[i], q->dcols);
		scan_set_edge(scans[i], q->ecols);
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
		scan_close(w[i].sc);
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
		scan_close(w[i].sc);
		agg_free(&w[i].agg);
		free(w[i].sel);
		free(w[i].scratch);
	}
	free(w);
	if (rc != 0) {
		store_result_free(res);
		return rc;
	}
	res->meta.elapsed_us = (mono_ns() - t_start) / 1000;
	*out = res;
	return 0;
}

/* --- time parsing ---------------------------------------------------------- */

/* Exactly n digits at *p. */
static int
digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int
store_time_parse(const char *s, uint64_t *ms)
{
	struct tm tm, chk;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, zone = 0, off = 0;
	char dsep, tsep;
	time_t t;

	if (*p == '@') {
		char *end;
		unsigned long long v;

		if (!isdigit((unsigned char)p[1]))
			return FF_EINVAL;
		v = strtoull(p + 1, &end, 10);
		if (*end != '\0' || v > UINT64_MAX / 1000)
			return FF_EINVAL;
		*ms = v * 1000;
		return 0;
	}
	if (digits(&p, 4, &y) != 0 || (*p != '-' && *p != '/'))
		return FF_EINVAL;
	dsep = *p++;
	if (digits(&p, 2, &mo) != 0 || *p++ != dsep || digits(&p, 2, &d) != 0)
		return FF_EINVAL;
	/* nfdump: YYYY/MM/DD.hh:mm:ss; ISO: YYYY-MM-DD[T ]hh:mm:ss */
	tsep = dsep == '/' ? '.' : 'T';
	if (*p == tsep || (dsep == '-' && *p == ' ')) {
		p++;
		if (digits(&p, 2, &h) != 0)
			return FF_EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &mi) != 0)
				return FF_EINVAL;
			if (*p == ':') {
				p++;
				if (digits(&p, 2, &sec) != 0)
					return FF_EINVAL;
				if (*p == '.' && dsep == '-') {
					int nd = 0;

					for (p++; isdigit((unsigned char)*p);
					    p++, nd++)
						if (nd < 3)
							frac = frac * 10 +
							    (*p - '0');
					if (nd == 0)
						return FF_EINVAL;
					for (; nd < 3; nd++)
						frac *= 10;
				}
			}
		} else if (dsep == '-')
			return FF_EINVAL;
	}
	if (dsep == '-' && *p != '\0') {
		int oh, om = 0, sign;

		if (*p == 'Z' || *p == 'z') {
			zone = 1;
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &oh) != 0)
				return FF_EINVAL;
			if (*p == ':')
				p++;
			if (*p != '\0' && digits(&p, 2, &om) != 0)
				return FF_EINVAL;
			if (oh > 23 || om > 59)
				return FF_EINVAL;
			zone = 1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59 || y < 1970)
		return FF_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	chk = tm;
	t = zone ? timegm(&tm) : mktime(&tm);
	/* A day the month does not have (April 31) moves the date. */
	if (t == (time_t)-1 || tm.tm_mday != chk.tm_mday ||
	    tm.tm_mon != chk.tm_mon)
		return FF_EINVAL;
	t -= off;
	if (t < 0)
		return FF_EINVAL;
	*ms = (uint64_t)t * 1000 + (uint64_t)frac;
	return 0;
}
