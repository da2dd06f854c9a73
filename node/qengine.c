/*
 * The node's query engine (see qengine.h and wire/PROTOCOL.md, "Query
 * channel").
 *
 * Threads: the loop thread owns every structure here. Each piece of work
 * (a scan, or a selection from a kept aggregate) is a job run on a
 * thread of its own; the job touches only its own fields, the store and
 * the query's read-only compiled form and kept aggregate, then puts
 * itself on the done list (under the mutex) and wakes the loop, which
 * joins the thread and sends the answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "qengine.h"

#define DEF_MAX_RUNNING	4
#define DEF_MAX_QUEUED	64
#define DEF_MAX_MS	(10 * 60 * 1000)
#define DEF_MAX_MEM	(1ull << 30)
#define DEF_MAX_ROWS	20000000ull
#define DEF_MAX_RESULT	(256ull << 20)
#define DEF_NICE	10
#define DEF_KEEP_MS	60000
#define TICK_MS		1000
#define CHUNK		(1u << 20)	/* RESULT data per frame */
#define PUMP_HIGH	(2u << 20)	/* stop queueing above this */
#define FULL_ROWS_MIN	4096		/* see full_rows() */
#define FILTER_MAX	QENGINE_FILTER_MAX

enum method { M_AUTO = 0, M_FULL, M_TPUT };
enum op { OP_RUN, OP_TOPK, OP_SELECT, OP_LOOKUP };

struct qe_sess;
struct qe_query;

struct job {
	qengine_t *qe;
	struct qe_query *qq;
	uint32_t id;		/* the request this answers */
	enum op op;
	uint64_t arg;		/* TOPK: k; SELECT: the threshold */
	uint8_t (*keys)[16];	/* LOOKUP */
	size_t nkeys;
	pthread_t th;
	int joined;
	/* results, written by the job's thread */
	int rc;
	char err[256];
	uint8_t *buf;
	size_t len;
	const char *mode;
	query_result_t *agg;	/* RUN: the aggregate to keep */
	uint64_t scanned;
	uint64_t nkeys_agg;	/* top N: keys of the whole aggregate */
	int has_keys;
	struct job *next_done;	/* done list (under the mutex) */
	struct job *next;	/* every job not yet joined (loop thread) */
};

struct qe_query {
	qengine_t *qe;
	struct qe_sess *qs;	/* NULL once the session closed */
	uint32_t ref;		/* request id of the QUERY */
	enum method method;
	query_t *q;
	query_result_t *agg;	/* kept aggregate (TOPN) */
	volatile int cancel;
	int jobs;		/* in flight */
	int run_done;		/* the scan finished */
	int released;
	uint64_t last_use;	/* mono ms */
	/* waiting for a slot (query-max-queued): the spec, to compile
	   again with the time left when it starts */
	int queued;
	query_spec_t spec;
	char *filter;
	uint64_t enq_at, deadline;	/* mono ms */
	uint64_t waited;	/* ms it waited before its scan started */
	TAILQ_ENTRY(qe_query) wq;
	struct qe_query *next;
};

/* One answer being streamed. */
struct out {
	uint32_t id;
	uint8_t *buf;
	size_t len, off;
	unsigned seq;
	const char *mode;
	int kept;
	uint64_t queued_ms;
	uint64_t keys;
	int has_keys;
	STAILQ_ENTRY(out) entry;
};

struct qe_sess {
	qengine_t *qe;
	sess_t *s;
	STAILQ_HEAD(, out) outq;	/* answers being sent, in order */
	struct qe_sess *next;
};

struct qengine {
	uv_loop_t *loop;
	store_t *store;
	qengine_opts_t o;
	uv_async_t async;
	uv_timer_t timer;
	pthread_mutex_t mu;
	struct job *done;	/* under mu */
	struct job *jobs;	/* not yet joined */
	struct qe_query *queries;
	struct qe_sess *sessions;
	unsigned slots;		/* queries holding a slot */
	TAILQ_HEAD(, qe_query) waitq;	/* queries waiting for one, FIFO */
	int stopping;
	int handles_open;
	qengine_stats_t st;
};

/* ---- jobs (their own threads) ---- */

/* Above this many keys a top N answers by TPUT; below, shipping the
   complete aggregate costs about what TPUT's three rounds would. */
static uint64_t
full_rows(uint32_t n)
{
	uint64_t r = 4ull * n;

	return r > FULL_ROWS_MIN ? r : FULL_ROWS_MIN;
}

static void
job_pack(struct job *j, query_result_t *r)
{
	int rc;

	if ((rc = query_result_pack(r, &j->buf, &j->len)) != 0) {
		j->rc = rc;
		snprintf(j->err, sizeof(j->err), "cannot pack the answer: %s",
		    ff_strerror(rc));
		return;
	}
	if (j->len > j->qe->o.max_result) {
		j->rc = FF_ELIMIT;
		snprintf(j->err, sizeof(j->err), "the answer is %zu bytes, "
		    "over the node's query-max-result of %" PRIu64 " bytes",
		    j->len, j->qe->o.max_result);
		free(j->buf);
		j->buf = NULL;
		j->len = 0;
	}
}

static void
job_run(struct job *j)
{
	struct qe_query *qq = j->qq;
	query_result_t *r = NULL, *sel = NULL;
	query_info_t inf;
	query_meta_t meta;

	j->rc = query_run(j->qe->store, qq->q, &qq->cancel, &r, j->err,
	    sizeof(j->err));
	if (j->rc != 0)
		return;
	query_result_get_meta(r, &meta);
	query_result_get_info(r, &inf);
	j->scanned = meta.flows_scanned;
	if (inf.kind == QUERY_TOPN) {
		j->nkeys_agg = inf.rows;
		j->has_keys = 1;
	}
	if (inf.kind == QUERY_TOPN && qq->method != M_FULL &&
	    (qq->method == M_TPUT || inf.rows > full_rows(inf.n))) {
		if ((j->rc = query_result_topk(r, inf.n, &sel)) != 0) {
			snprintf(j->err, sizeof(j->err), "out of memory");
			query_result_free(r);
			return;
		}
		j->mode = "topk";
		job_pack(j, sel);
		query_result_free(sel);
		if (j->rc == 0)
			j->agg = r;
		else
			query_result_free(r);
		return;
	}
	j->mode = "full";
	job_pack(j, r);
	query_result_free(r);
}

static void
job_select(struct job *j)
{
	const query_result_t *agg = j->qq->agg;
	query_result_t *r = NULL;
	query_info_t inf;

	query_result_get_info(agg, &inf);
	j->nkeys_agg = inf.rows;
	j->has_keys = 1;
	switch (j->op) {
	case OP_TOPK:
		j->rc = query_result_topk(agg, (uint32_t)j->arg, &r);
		j->mode = "topk";
		break;
	case OP_SELECT:
		j->rc = query_result_select(agg, j->arg, &r);
		j->mode = "select";
		break;
	default:
		j->rc = query_result_lookup(agg, (const uint8_t (*)[16])
		    j->keys, j->nkeys, &r);
		j->mode = "lookup";
		break;
	}
	if (j->rc != 0) {
		snprintf(j->err, sizeof(j->err), "%s", ff_strerror(j->rc));
		return;
	}
	job_pack(j, r);
	query_result_free(r);
}

static void *
job_main(void *arg)
{
	struct job *j = arg;
	qengine_t *qe = j->qe;

	/* Niced: a heavy query must not take intake's CPU. On Linux the
	   niceness is per thread and the scan threads inherit it. */
	if (qe->o.nice > 0) {
		id_t tid = (id_t)syscall(SYS_gettid);

		errno = 0;
		int cur = getpriority(PRIO_PROCESS, tid);
		if (errno == 0)
			(void)setpriority(PRIO_PROCESS, tid,
			    cur + qe->o.nice > 19 ? 19 : cur + qe->o.nice);
	}
	if (j->op == OP_RUN)
		job_run(j);
	else
		job_select(j);
	pthread_mutex_lock(&qe->mu);
	j->next_done = qe->done;
	qe->done = j;
	pthread_mutex_unlock(&qe->mu);
	uv_async_send(&qe->async);
	return NULL;
}

/* ---- queries (loop thread) ---- */

static void start_queued(qengine_t *qe);
static void queue_expire(qengine_t *qe, struct qe_query *qq, uint64_t now);

static void
qe_free(struct qe_query *qq)
{
	qengine_t *qe = qq->qe;
	struct qe_query **pp;

	for (pp = &qe->queries; *pp != NULL; pp = &(*pp)->next)
		if (*pp == qq) {
			*pp = qq->next;
			break;
		}
	if (qq->agg != NULL) {
		query_result_free(qq->agg);
		qe->st.kept--;
	}
	query_free(qq->q);
	if (qq->queued) {
		TAILQ_REMOVE(&qe->waitq, qq, wq);
		qe->st.queued--;
	} else
		qe->slots--;
	free(qq->filter);
	free(qq);
}

/* Free qq once nothing needs it: no job in flight, and either no
   aggregate to keep or nobody left to ask for it. */
static void
qe_maybe_free(struct qe_query *qq)
{
	if (qq->queued) {
		if (qq->cancel || qq->qs == NULL)
			qe_free(qq);
		return;
	}
	if (qq->jobs > 0 || !qq->run_done)
		return;
	if (qq->agg != NULL && qq->qs != NULL && !qq->released &&
	    !qq->cancel)
		return;
	qe_free(qq);
}

static struct qe_query *
qe_find(struct qe_sess *qs, uint32_t ref)
{
	for (struct qe_query *qq = qs->qe->queries; qq != NULL; qq = qq->next)
		if (qq->qs == qs && qq->ref == ref)
			return qq;
	return NULL;
}

static int
job_start(qengine_t *qe, struct qe_query *qq, uint32_t id, enum op op,
    uint64_t arg, uint8_t (*keys)[16], size_t nkeys)
{
	struct job *j;
	int rc;

	if ((j = malloc(sizeof(*j))) == NULL) {
		free(keys);
		return FF_ENOMEM;
	}
	*j = (struct job){ .qe = qe, .qq = qq, .id = id, .op = op,
	    .arg = arg, .keys = keys, .nkeys = nkeys };
	if ((rc = pthread_create(&j->th, NULL, job_main, j)) != 0) {
		log_warnx("query engine: cannot start a thread: %s",
		    strerror(rc));
		free(keys);
		free(j);
		return FF_ENOMEM;
	}
	j->next = qe->jobs;
	qe->jobs = j;
	qq->jobs++;
	qq->last_use = mono_ms();
	if (op == OP_RUN)
		qe->st.running++;
	return 0;
}

/* ---- sending ---- */

static void
pump(struct qe_sess *qs)
{
	qengine_t *qe = qs->qe;
	wire_builder_t b;
	const uint8_t *f;
	size_t flen, n;

	while (!STAILQ_EMPTY(&qs->outq) && qs->s != NULL &&
	    sess_queued(qs->s) < PUMP_HIGH) {
		struct out *o = STAILQ_FIRST(&qs->outq);

		if (o->off < o->len) {
			n = o->len - o->off > CHUNK ? CHUNK : o->len - o->off;
			if (wire_msg_begin(&b, WIRE_RESULT, o->id, 2) != 0)
				goto fail;
			wire_put_u64(&b, "seq", o->seq);
			wire_put_bin(&b, "data", o->buf + o->off, n);
			o->off += n;
			o->seq++;
			qe->st.bytes_sent += n;
		} else {
			if (wire_msg_begin(&b, WIRE_RESULT_END, o->id,
			    5 + (o->has_keys != 0)) != 0)
				goto fail;
			wire_put_u64(&b, "len", o->len);
			wire_put_u64(&b, "chunks", o->seq);
			wire_put_str(&b, "mode", o->mode);
			wire_put_bool(&b, "kept", o->kept);
			wire_put_u64(&b, "queued_ms", o->queued_ms);
			if (o->has_keys)
				wire_put_u64(&b, "keys", o->keys);
			STAILQ_REMOVE_HEAD(&qs->outq, entry);
			free(o->buf);
			free(o);
		}
		if (wire_msg_end(&b, &f, &flen) != 0)
			goto fail;
		(void)sess_send(qs->s, f, flen);
		wire_builder_free(&b);
	}
	return;
fail:
	wire_builder_free(&b);
	sess_close(qs->s, "out of memory while sending a query answer");
}

static void
send_answer(struct qe_sess *qs, struct job *j, int kept)
{
	struct out *o;

	if ((o = malloc(sizeof(*o))) == NULL) {
		free(j->buf);
		sess_send_error(qs->s, j->id, FF_ENOMEM, "out of memory");
		return;
	}
	*o = (struct out){ .id = j->id, .buf = j->buf, .len = j->len,
	    .mode = j->mode, .kept = kept, .keys = j->nkeys_agg,
	    .has_keys = j->has_keys,
	    .queued_ms = j->op == OP_RUN ? j->qq->waited : 0 };
	j->buf = NULL;
	STAILQ_INSERT_TAIL(&qs->outq, o, entry);
	pump(qs);
}

/* A job finished: account, answer, and free what is no longer needed. */
static void
job_done(qengine_t *qe, struct job *j)
{
	struct qe_query *qq = j->qq;
	struct job **pp;

	if (!j->joined)
		pthread_join(j->th, NULL);
	for (pp = &qe->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	qq->jobs--;
	qq->last_use = mono_ms();
	if (j->op == OP_RUN) {
		qe->st.running--;
		qe->st.flows_scanned += j->scanned;
		qq->run_done = 1;
	} else if (j->rc == 0)
		qe->st.tput_requests++;
	if (qq->qs == NULL || qq->cancel || qe->stopping) {
		if (j->op == OP_RUN)
			qe->st.cancelled++;
		query_result_free(j->agg);
		free(j->buf);
	} else if (j->rc != 0) {
		if (j->rc == FF_ECANCELED)
			qe->st.cancelled++;
		else if (j->op == OP_RUN)
			qe->st.failed++;
		sess_send_error(qq->qs->s, j->id, j->rc, "%s", j->err);
	} else {
		if (j->agg != NULL) {
			qq->agg = j->agg;
			qe->st.kept++;
		}
		if (j->op == OP_RUN)
			qe->st.answered++;
		send_answer(qq->qs, j, qq->agg != NULL);
	}
	free(j->keys);
	free(j);
	qe_maybe_free(qq);
}

static void
on_async(uv_async_t *a)
{
	qengine_t *qe = a->data;
	struct job *j, *next;

	pthread_mutex_lock(&qe->mu);
	j = qe->done;
	qe->done = NULL;
	pthread_mutex_unlock(&qe->mu);
	for (; j != NULL; j = next) {
		next = j->next_done;
		job_done(qe, j);
	}
	start_queued(qe);
}

static void
on_tick(uv_timer_t *t)
{
	qengine_t *qe = t->data;
	uint64_t now = mono_ms();
	struct qe_query *qq, *next;

	for (qq = qe->queries; qq != NULL; qq = next) {
		next = qq->next;
		if (qq->queued && now >= qq->deadline) {
			queue_expire(qe, qq, now);
			continue;
		}
		if (qq->agg != NULL && qq->jobs == 0 &&
		    now - qq->last_use > qe->o.keep_ms) {
			log_info("query engine: query %u of %s: kept aggregate "
			    "unused for %" PRIu64 " ms: dropped", qq->ref,
			    qq->qs ? sess_peer(qq->qs->s) : "a closed session",
			    now - qq->last_use);
			qe->st.expired++;
			qe_free(qq);
		}
	}
	start_queued(qe);
}

/* ---- requests ---- */

static int
parse_method(const msgpack_object *body, enum method *m)
{
	const char *s;
	size_t n;
	int rc;

	*m = M_AUTO;
	if ((rc = wire_get_str(body, "method", &s, &n)) == FF_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	if (n == 4 && memcmp(s, "auto", 4) == 0)
		*m = M_AUTO;
	else if (n == 4 && memcmp(s, "full", 4) == 0)
		*m = M_FULL;
	else if (n == 4 && memcmp(s, "tput", 4) == 0)
		*m = M_TPUT;
	else
		return FF_EINVAL;
	return 0;
}

static int
parse_spec(const msgpack_object *body, query_spec_t *q, char *filter,
    uint64_t *qid, char *err, size_t errlen)
{
	int rc;

	if ((rc = query_spec_read(body, q, filter, FILTER_MAX, err, errlen))
	    != 0)
		return rc;
	if (wire_get_u64(body, "qid", qid) != 0) {
		snprintf(err, errlen, "QUERY without 'qid'");
		return FF_EPROTO;
	}
	return 0;
}

int
qengine_parse_query(const msgpack_object *body, query_spec_t *q,
    char filter[QENGINE_FILTER_MAX], uint64_t *qid, int *method, char *err,
    size_t errlen)
{
	enum method m;
	int rc;

	if ((rc = parse_spec(body, q, filter, qid, err, errlen)) != 0)
		return rc;
	if (parse_method(body, &m) != 0) {
		snprintf(err, errlen, "QUERY: 'method' is auto, full or tput");
		return FF_EPROTO;
	}
	*method = (int)m;
	return 0;
}

static void
on_query(qengine_t *qe, struct qe_sess *qs, const wire_msg_t *m)
{
	query_spec_t spec;
	query_t *q = NULL;
	query_result_t *probe;
	query_info_t inf;
	struct qe_query *qq;
	enum method method;
	uint64_t qid, max_ms;
	char *filter, err[512];
	int rc, mi = 0;

	qe->st.received++;
	if (qe_find(qs, m->id) != NULL) {
		sess_send_error(qs->s, m->id, FF_EEXIST, "query %u is already "
		    "open on this session", m->id);
		return;
	}
	if (qe->slots >= qe->o.max_running &&
	    qe->st.queued >= (uint64_t)qe->o.max_queued) {
		qe->st.busy++;
		sess_send_error(qs->s, m->id, FF_EBUSY, "node busy: %u queries "
		    "running or kept (query-max-running) and %" PRIu64
		    " waiting (query-max-queued)", qe->slots, qe->st.queued);
		return;
	}
	if ((filter = malloc(FILTER_MAX)) == NULL) {
		sess_send_error(qs->s, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	rc = qengine_parse_query(&m->body, &spec, filter, &qid, &mi, err,
	    sizeof(err));
	method = (enum method)mi;
	if (rc != 0) {
		qe->st.failed++;
		sess_send_error(qs->s, m->id, FF_EPROTO, "%s", err);
		free(filter);
		return;
	}
	spec.max_ms = qe->o.max_ms;
	if (wire_get_u64(&m->body, "max_ms", &max_ms) == 0 && max_ms > 0 &&
	    max_ms < spec.max_ms)
		spec.max_ms = max_ms;
	spec.max_mem = qe->o.max_mem;
	spec.max_rows = qe->o.max_rows;
	spec.threads = qe->o.threads;
	rc = query_compile(&spec, &q, err, sizeof(err));
	if (rc != 0) {
		free(filter);
		qe->st.failed++;
		sess_send_error(qs->s, m->id, rc, "%s", err);
		return;
	}
	/* Same identity on both sides, or the partials would not merge. */
	if ((probe = query_result_new(q)) == NULL) {
		query_free(q);
		free(filter);
		sess_send_error(qs->s, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	query_result_get_info(probe, &inf);
	query_result_free(probe);
	if (inf.qid != qid) {
		qe->st.failed++;
		query_free(q);
		free(filter);
		sess_send_error(qs->s, m->id, FF_EPROTO, "QUERY: the query's "
		    "fingerprint is %016" PRIx64 " here, %016" PRIx64 " at the "
		    "controller", inf.qid, qid);
		return;
	}
	if ((qq = calloc(1, sizeof(*qq))) == NULL) {
		query_free(q);
		free(filter);
		sess_send_error(qs->s, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	qq->qe = qe;
	qq->qs = qs;
	qq->ref = m->id;
	qq->method = method;
	qq->q = q;
	qq->next = qe->queries;
	qe->queries = qq;
	if (qe->slots >= qe->o.max_running) {
		/* wait for a slot, in order, until the query's own time
		   limit; it is compiled again with the time left */
		qq->queued = 1;
		qq->spec = spec;
		qq->filter = filter;
		qq->spec.filter = spec.filter != NULL ? filter : NULL;
		qq->enq_at = qq->last_use = mono_ms();
		qq->deadline = qq->enq_at + spec.max_ms;
		TAILQ_INSERT_TAIL(&qe->waitq, qq, wq);
		qe->st.queued++;
		return;
	}
	free(filter);
	qe->slots++;
	if (job_start(qe, qq, m->id, OP_RUN, 0, NULL, 0) != 0) {
		qq->run_done = 1;
		qe_free(qq);
		sess_send_error(qs->s, m->id, FF_ENOMEM, "cannot start the "
		    "query");
	}
}

/* A waiting query whose time ran out in the queue: fail and free it. */
static void
queue_expire(qengine_t *qe, struct qe_query *qq, uint64_t now)
{
	qe->st.failed++;
	qe->st.queue_expired++;
	if (qq->qs != NULL)
		sess_send_error(qq->qs->s, qq->ref, FF_ETIMEDOUT, "the query "
		    "waited %" PRIu64 " ms in the node's queue (all %u slots "
		    "of query-max-running busy) and its time limit of %" PRIu64
		    " ms passed", now - qq->enq_at, qe->o.max_running,
		    qq->spec.max_ms);
	qe_free(qq);
}

/*
 * Start waiting queries, oldest first, while slots are free. A query
 * that waited runs with the time it has left (compiled again).
 */
static void
start_queued(qengine_t *qe)
{
	struct qe_query *qq;
	query_t *q;
	uint64_t now;
	char err[512];
	int rc;

	while (!qe->stopping && qe->slots < qe->o.max_running &&
	    (qq = TAILQ_FIRST(&qe->waitq)) != NULL) {
		now = mono_ms();
		if (now >= qq->deadline) {
			queue_expire(qe, qq, now);
			continue;
		}
		TAILQ_REMOVE(&qe->waitq, qq, wq);
		qe->st.queued--;
		qq->queued = 0;
		qe->slots++;
		qq->waited = now - qq->enq_at;
		qq->spec.max_ms = qq->deadline - now;
		if ((rc = query_compile(&qq->spec, &q, err, sizeof(err))) ==
		    0) {
			query_free(qq->q);
			qq->q = q;
			rc = job_start(qe, qq, qq->ref, OP_RUN, 0, NULL, 0);
		}
		if (rc != 0) {
			qe->st.failed++;
			if (qq->qs != NULL)
				sess_send_error(qq->qs->s, qq->ref, FF_ENOMEM,
				    "cannot start the query");
			qq->run_done = 1;
			qe_free(qq);
		}
	}
}

/* The query a TPUT_* request, CANCEL or QUERY_RELEASE names by "ref". */
static struct qe_query *
ref_query(struct qe_sess *qs, const wire_msg_t *m, int reply)
{
	struct qe_query *qq;
	uint64_t ref;

	if (wire_get_u64(&m->body, "ref", &ref) != 0 || ref > UINT32_MAX) {
		sess_send_error(qs->s, m->id, FF_EPROTO, "%s without 'ref'",
		    wire_type_name(m->type));
		return NULL;
	}
	qq = qe_find(qs, (uint32_t)ref);
	if (qq == NULL && reply)
		sess_send_error(qs->s, m->id, FF_ENOENT, "no query %u on this "
		    "session (finished, released or expired)", (uint32_t)ref);
	return qq;
}

static void
on_tput(qengine_t *qe, struct qe_sess *qs, const wire_msg_t *m)
{
	struct qe_query *qq;
	enum op op;
	uint64_t arg = 0;
	const uint8_t *kp;
	uint8_t (*keys)[16] = NULL;
	size_t klen = 0;

	if ((qq = ref_query(qs, m, 1)) == NULL)
		return;
	if (qq->agg == NULL) {
		sess_send_error(qs->s, m->id, FF_ENOENT, "query %u keeps no "
		    "aggregate (it answered in full, or is still running)",
		    qq->ref);
		return;
	}
	switch (m->type) {
	case WIRE_TPUT_TOPK:
		op = OP_TOPK;
		if (wire_get_u64(&m->body, "k", &arg) != 0 || arg == 0 ||
		    arg > QUERY_TOPN_MAX) {
			sess_send_error(qs->s, m->id, FF_EPROTO, "TPUT_TOPK: "
			    "'k' missing or out of range");
			return;
		}
		break;
	case WIRE_TPUT_THRESHOLD:
		op = OP_SELECT;
		if (wire_get_u64(&m->body, "min", &arg) != 0) {
			sess_send_error(qs->s, m->id, FF_EPROTO,
			    "TPUT_THRESHOLD without 'min'");
			return;
		}
		break;
	default:
		op = OP_LOOKUP;
		if (wire_get_bin(&m->body, "keys", &kp, &klen) != 0 ||
		    klen % 16 != 0) {
			sess_send_error(qs->s, m->id, FF_EPROTO, "TPUT_LOOKUP: "
			    "'keys' must be 16-byte keys back to back");
			return;
		}
		if (klen > 0) {
			if ((keys = malloc(klen)) == NULL) {
				sess_send_error(qs->s, m->id, FF_ENOMEM,
				    "out of memory");
				return;
			}
			memcpy(keys, kp, klen);
		}
		break;
	}
	if (job_start(qe, qq, m->id, op, arg, keys, klen / 16) != 0)
		sess_send_error(qs->s, m->id, FF_ENOMEM, "cannot start a "
		    "thread");
}

static int
h_msg(void *arg, sess_t *s, const wire_msg_t *m)
{
	qengine_t *qe = arg;
	struct qe_sess *qs = sess_udata(s);
	struct qe_query *qq;

	if (qs == NULL || qe->stopping) {
		sess_send_error(s, m->id, FF_EBUSY, "the node is stopping");
		return 0;
	}
	switch (m->type) {
	case WIRE_QUERY:
		on_query(qe, qs, m);
		return 0;
	case WIRE_CANCEL:
		if ((qq = ref_query(qs, m, 0)) != NULL) {
			qq->cancel = 1;
			qe_maybe_free(qq);
			start_queued(qe);
		}
		return 0;
	case WIRE_QUERY_RELEASE:
		if ((qq = ref_query(qs, m, 0)) != NULL) {
			qq->released = 1;
			qe_maybe_free(qq);
			start_queued(qe);
		}
		return 0;
	case WIRE_TPUT_TOPK:
	case WIRE_TPUT_THRESHOLD:
	case WIRE_TPUT_LOOKUP:
		on_tput(qe, qs, m);
		return 0;
	}
	return FF_ENOTSUP;
}

static void
h_open(void *arg, sess_t *s)
{
	qengine_t *qe = arg;
	struct qe_sess *qs;

	if ((qs = calloc(1, sizeof(*qs))) == NULL) {
		sess_close(s, "out of memory");
		return;
	}
	qs->qe = qe;
	qs->s = s;
	STAILQ_INIT(&qs->outq);
	qs->next = qe->sessions;
	qe->sessions = qs;
	sess_set_udata(s, qs);
}

static void
sess_free(struct qe_sess *qs)
{
	struct out *o;

	while ((o = STAILQ_FIRST(&qs->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&qs->outq, entry);
		free(o->buf);
		free(o);
	}
	free(qs);
}

static void
h_close(void *arg, sess_t *s)
{
	qengine_t *qe = arg;
	struct qe_sess *qs = sess_udata(s), **pp;
	struct qe_query *qq, *next;

	if (qs == NULL)
		return;
	sess_set_udata(s, NULL);
	for (pp = &qe->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == qs) {
			*pp = qs->next;
			break;
		}
	/* the controller went away: stop its scans, drop what it kept */
	for (qq = qe->queries; qq != NULL; qq = next) {
		next = qq->next;
		if (qq->qs != qs)
			continue;
		qq->qs = NULL;
		qq->cancel = 1;
		qe_maybe_free(qq);
	}
	sess_free(qs);
	start_queued(qe);
}

static void
h_drain(void *arg, sess_t *s)
{
	struct qe_sess *qs = sess_udata(s);

	(void)arg;
	if (qs != NULL)
		pump(qs);
}

static const qserver_handler_t handler = {
	.on_open = h_open,
	.on_msg = h_msg,
	.on_drain = h_drain,
	.on_close = h_close,
};

const qserver_handler_t *
qengine_handler(void)
{
	return &handler;
}

/* ---- life ---- */

qengine_t *
qengine_new(uv_loop_t *loop, store_t *s, const qengine_opts_t *o)
{
	qengine_t *qe;

	if ((qe = calloc(1, sizeof(*qe))) == NULL)
		return NULL;
	if (o != NULL)
		qe->o = *o;
	FF_DEFAULT(qe->o.max_running, DEF_MAX_RUNNING);
	FF_DEFAULT(qe->o.max_queued, DEF_MAX_QUEUED);
	if (qe->o.max_queued < 0)
		qe->o.max_queued = 0;
	TAILQ_INIT(&qe->waitq);
	FF_DEFAULT(qe->o.max_ms, DEF_MAX_MS);
	FF_DEFAULT(qe->o.max_mem, DEF_MAX_MEM);
	FF_DEFAULT(qe->o.max_rows, DEF_MAX_ROWS);
	FF_DEFAULT(qe->o.max_result, DEF_MAX_RESULT);
	FF_DEFAULT(qe->o.nice, DEF_NICE);
	FF_DEFAULT(qe->o.keep_ms, DEF_KEEP_MS);
	qe->loop = loop;
	qe->store = s;
	if (pthread_mutex_init(&qe->mu, NULL) != 0) {
		free(qe);
		return NULL;
	}
	if (uv_async_init(loop, &qe->async, on_async) != 0) {
		pthread_mutex_destroy(&qe->mu);
		free(qe);
		return NULL;
	}
	qe->async.data = qe;
	qe->handles_open++;
	uv_timer_init(loop, &qe->timer);
	qe->timer.data = qe;
	qe->handles_open++;
	uv_timer_start(&qe->timer, on_tick, TICK_MS, TICK_MS);
	return qe;
}

static void
on_handle_closed(uv_handle_t *h)
{
	qengine_t *qe = h->data;

	qe->handles_open--;
}

void
qengine_stop(qengine_t *qe)
{
	struct qe_query *qq, *next;
	struct qe_sess *qs;

	if (qe == NULL || qe->stopping)
		return;
	qe->stopping = 1;
	for (qq = qe->queries; qq != NULL; qq = qq->next)
		qq->cancel = 1;
	/* A cancelled scan stops within a block; wait for every job here
	   so that no thread signals a closed handle. */
	while (qe->jobs != NULL) {
		pthread_join(qe->jobs->th, NULL);
		qe->jobs->joined = 1;
		/* the thread put its job on the done list before it ended */
		on_async(&qe->async);
	}
	for (qq = qe->queries; qq != NULL; qq = next) {
		next = qq->next;
		qq->run_done = 1;
		qe_free(qq);
	}
	/* the listener closes next, without calling us back: forget the
	   sessions now */
	while ((qs = qe->sessions) != NULL) {
		qe->sessions = qs->next;
		sess_set_udata(qs->s, NULL);
		sess_free(qs);
	}
	uv_close((uv_handle_t *)&qe->async, on_handle_closed);
	uv_close((uv_handle_t *)&qe->timer, on_handle_closed);
}

void
qengine_free(qengine_t *qe)
{
	if (qe == NULL)
		return;
	if (!qe->stopping)
		qengine_stop(qe);
	if (qe->handles_open != 0)
		log_warnx("query engine: freed with %d handles open",
		    qe->handles_open);
	pthread_mutex_destroy(&qe->mu);
	free(qe);
}

void
qengine_get_stats(const qengine_t *qe, qengine_stats_t *st)
{
	*st = qe->st;
}
