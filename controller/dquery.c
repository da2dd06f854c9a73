/*
 * Distributed queries (see dquery.h).
 *
 * A query moves through rounds; every node taking part has at most one
 * request outstanding, and a round ends when none has:
 *
 *   round 1  QUERY to every target: the complete partial result, or for
 *            a top N with many keys at that node its first N keys (the
 *            node keeps its aggregate: a TPUT node)
 *   round 2  TPUT only: tau1 = the N-th largest sum of round 1 (lower
 *            bounds), T = tau1 / (TPUT nodes); TPUT_THRESHOLD T: every
 *            key >= T from each TPUT node
 *            (T = 0: every key from every TPUT node, so the sums are
 *            exact and the query ends here)
 *   round 3  tau2 = the N-th largest sum of round 2 (lower bounds);
 *            candidates: keys whose upper bound (round-2 sum plus T - 1
 *            for each TPUT node that did not report the key) reaches
 *            tau2; TPUT_LOOKUP of the candidates at every TPUT node
 *
 * Every key outside the candidates has a true sum below tau2, and tau2
 * is at most the true N-th value, so the N largest of round 3 (exact
 * sums of every candidate) are the exact top N, ties included (they are
 * broken by key, as everywhere). A TPUT node that fails after round 1
 * makes rounds 2 and 3 start again without it (its first N keys bound
 * what it could have added).
 *
 * The arithmetic of rounds 2 and 3 (thresholds, bounds, candidates) is
 * tput.c's; this file runs the rounds over the query channels.
 *
 * Deadlines: round 1 may take until 3/4 of the query's time, so that the
 * short rounds 2 and 3 fit in the rest; a node past its round's deadline
 * is reported as timed out and its request cancelled.
 *
 * Threads: the loop thread only collects the nodes' answers (RESULT
 * pieces) and talks to the nodes and the CLI. The heavy steps (decoding
 * an answer and merging it, the rounds' arithmetic, cutting and packing
 * the final answer) run as work on libuv's thread pool, one piece of
 * work at a time per query (so the query's results need no lock: while
 * its work runs, the loop leaves them alone) and at most DQ_WORKERS
 * pieces at a time for the whole controller (the pool also resolves
 * node names and writes the inventory); the rest wait in order. The
 * work's end comes back to the loop, which moves the query on. A query
 * that ends (cancelled, its client gone, the controller stopping)
 * while its work runs is detached at once (nodes cancelled, client
 * answered) and its memory freed when the work ends.
 *
 * Distinct keys of a top N: exact when every key reached the controller
 * (every node answered in full, or every TPUT node sent all its keys by
 * round 2 — the nodes tell how many keys they hold in RESULT_END) or when
 * one node holds them all; otherwise unknown, with bounds: at least the
 * most any one node holds (or the keys seen), at most the sum of the
 * nodes' counts.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "dquery.h"
#include "tput.h"

#define FILTER_MAX	DQUERY_FILTER_MAX
#define DATA_CHUNK	(1u << 20)	/* answer bytes per CTL frame */
#define DQ_MAX_BUFFERED	(2ull << 30)	/* answers held for one query */
#define DQ_WORKERS	2		/* pieces of work on the pool at once */

/* The work a query hands to the thread pool. */
enum dq_op {
	OP_ANSWER = 1,	/* decode a node's answer, merge or keep it */
	OP_ROUND2,	/* TPUT's threshold */
	OP_ROUND3,	/* TPUT's candidates */
	OP_ALL2,	/* threshold 0: round 2's keys are the answer */
	OP_LONE,	/* one TPUT node: its first N keys are the answer */
	OP_FINISH	/* the final answer cut and packed */
};

enum dqn_st {
	DQN_PENDING = 0,
	DQN_ANSWERED,
	DQN_OFFLINE,
	DQN_TIMEOUT,
	DQN_ERROR,
	DQN_CANCELLED
};

static const char *const st_names[] = {
	"pending", "answered", "offline", "timeout", "error", "cancelled"
};

struct dquery;

struct dqn {
	struct dquery *dq;
	fnode_t *n;		/* NULL once its channel is gone */
	char name[WIRE_NAME_MAX + 1];
	enum dqn_st st;
	char reason[256];
	uint32_t ref;		/* request id of the QUERY */
	uint32_t req;		/* outstanding request, 0: none */
	int kept;		/* the node keeps an aggregate */
	int tput;		/* takes part in rounds 2 and 3 */
	int full;		/* answered with its complete partial */
	uint8_t *buf;		/* answer being assembled */
	size_t len, cap;
	uint64_t seq;
	query_result_t *r1;	/* TPUT: its first N keys */
	query_result_t *r2;	/* TPUT: its keys >= T */
	uint64_t top1;		/* TPUT: its largest value (from r1) */
	uint64_t bytes_in, bytes_out;
	uint64_t flows_scanned;
	uint64_t sent_at, done_at;	/* mono ms */
	int ready;		/* buf holds a whole answer, to decode */
	uint64_t queued_ms;	/* its QUERY waited in the node's queue */
	uint64_t keys;		/* top N: keys the node holds, ... */
	int has_keys;		/* ... when it said (RESULT_END "keys") */
	int allkeys;		/* its round-2 answer held every key it has */
};

struct dquery {
	controller_t *c;
	ctlsock_client_t *cl;
	uint32_t cl_id;
	query_spec_t spec;
	char filter[FILTER_MAX];
	query_t *q;
	query_info_t inf;	/* identity: kind, n, order, qid */
	char method[8];			/* asked: auto, full, tput */
	int round;
	int restart;			/* a TPUT node failed in round 2/3 */
	int aborted;			/* deadline hit with rounds unfinished */
	unsigned rounds;		/* rounds made (restarts included) */
	uint64_t start, deadline, r1_deadline;	/* mono ms */
	uint64_t start_ns;
	uint64_t T, tau1, tau2;
	size_t nn;
	struct dqn *nodes;
	query_result_t *accf;		/* complete partials, merged */
	query_result_t *acc3;		/* accf + round-3 lookups */
	size_t ncands;
	uint64_t buffered;		/* bytes of answers being assembled */
	uint64_t union_rows;		/* round 3: keys of round 2's union */
	int union_exact;		/* every key is in accf + round 2 */
	LIST_ENTRY(dquery) entry;	/* in the controller's queries */
	/* the work in progress (dq_work_start) */
	uv_work_t work;
	enum dq_op op;
	int working;			/* queued or running: hands off */
	int waiting;			/* queued for a pool slot */
	int dead;			/* ended: free when the work ends */
	TAILQ_ENTRY(dquery) wentry;	/* in c->dq_wait */
	struct dqn *wd;			/* OP_ANSWER: whose answer */
	uint8_t *wbuf;			/* OP_ANSWER: the answer; OP_FINISH:
					   the packed final answer */
	size_t wlen;
	int wrc;
	char werr[160];
	query_result_t *wres;		/* OP_ANSWER: a result to keep */
	uint64_t wrows, wtop1, wscanned;
	const query_result_t **parts;	/* rounds: the TPUT nodes' parts */
	size_t nparts;
	uint8_t (*cand)[16];		/* OP_ROUND3 */
	const query_result_t *final;	/* OP_FINISH: the answer, ... */
	/* ... and what goes with it to the CLI */
	int f_complete, f_bound_known, f_keys_exact, f_kmax_known;
	uint64_t f_bound, f_keys, f_kmin, f_kmax;
	const char *f_method;
	uint64_t f_len, f_chunks;	/* the packed answer, its frames */
};

static void dq_step(struct dquery *dq);
static void dq_finish(struct dquery *dq);

/* ---- small helpers ---- */

static int
merge_into(query_result_t **acc, const query_t *q,
    const query_result_t *r)
{
	if (*acc == NULL && (*acc = query_result_new(q)) == NULL)
		return FF_ENOMEM;
	return query_result_merge(*acc, r);
}

/* A fresh acc3 holding the complete partials (accf) to build on. */
static int
acc3_start(struct dquery *dq)
{
	query_result_free(dq->acc3);
	if ((dq->acc3 = query_result_new(dq->q)) == NULL)
		return FF_ENOMEM;
	return dq->accf != NULL ? query_result_merge(dq->acc3, dq->accf) : 0;
}

static int
alive(const struct dqn *d)
{
	return d->st == DQN_PENDING || d->st == DQN_ANSWERED;
}

static void
node_fail(struct dqn *d, enum dqn_st st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
node_fail(struct dqn *d, enum dqn_st st, const char *fmt, ...)
{
	struct dquery *dq = d->dq;
	va_list ap;

	if (!alive(d))
		return;
	d->st = st;
	d->req = 0;
	d->done_at = mono_ms();
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	dq->buffered -= d->len;
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
	d->ready = 0;
	if (d->tput && dq->round >= 2)
		dq->restart = 1;
	log_info("query %u: node %s: %s: %s", dq->cl_id, d->name,
	    st_names[st], d->reason);
}

/* ---- sending to nodes ---- */

static int
send_frame(struct dqn *d, wire_builder_t *b)
{
	struct dquery *dq = d->dq;
	const uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = wire_msg_end(b, &f, &flen)) == 0) {
		if (d->n == NULL)
			rc = FF_EINVAL;
		else
			rc = dq->c->qt->send(d->n, f, flen);
	}
	if (rc == 0)
		d->bytes_out += flen;
	wire_builder_free(b);
	return rc;
}

static uint64_t
remaining(uint64_t until)
{
	uint64_t now = mono_ms();

	return until > now ? until - now : 1;
}

static int
send_query(struct dqn *d)
{
	struct dquery *dq = d->dq;
	const query_spec_t *q = &dq->spec;
	wire_builder_t b;

	d->ref = d->req = dq->c->qt->next_id(d->n);
	if (wire_msg_begin(&b, WIRE_QUERY, d->ref, QUERY_SPEC_FIELDS + 3) !=
	    0 || query_spec_write(wire_builder_pk(&b), q) != 0) {
		wire_builder_free(&b);
		return FF_ENOMEM;
	}
	wire_put_u64(&b, "qid", dq->inf.qid);
	wire_put_str(&b, "method", dq->method);
	wire_put_u64(&b, "max_ms", remaining(dq->r1_deadline));
	d->sent_at = mono_ms();
	return send_frame(d, &b);
}

static int
send_ref(struct dqn *d, unsigned type, const char *k, uint64_t v,
    const void *bin, size_t binlen, int reply)
{
	wire_builder_t b;
	uint32_t id = d->dq->c->qt->next_id(d->n);

	if (wire_msg_begin(&b, type, id, k != NULL ? 2 : 1) != 0) {
		wire_builder_free(&b);
		return FF_ENOMEM;
	}
	wire_put_u64(&b, "ref", d->ref);
	if (k != NULL && bin != NULL)
		wire_put_bin(&b, k, bin, binlen);
	else if (k != NULL)
		wire_put_u64(&b, k, v);
	if (reply)
		d->req = id;
	return send_frame(d, &b);
}

/* Stop whatever the node does for this query and forget its aggregate. */
static void
node_cancel(struct dqn *d)
{
	if (d->n != NULL && (d->req != 0 || d->kept))
		(void)send_ref(d, WIRE_CANCEL, NULL, 0, NULL, 0, 0);
	d->req = 0;
	d->kept = 0;
}

/* ---- the CLI's side ---- */

static void
put_strarr(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* The answer (packed in dq->wbuf by OP_FINISH) and its coverage. */
static int
send_reply(struct dquery *dq)
{
	wire_builder_t b;
	msgpack_packer *pk;
	const uint8_t *f;
	size_t flen, answered = 0;
	uint8_t *buf = dq->wbuf;
	size_t blen = dq->wlen;
	uint64_t scanned = 0, bin = 0, bout = 0, chunks = 0, queued = 0;
	int topn = dq->inf.kind == QUERY_TOPN;

	dq->wbuf = NULL;
	dq->wlen = 0;
	if (!ctlsock_alive(dq->cl)) {
		free(buf);
		return 0;
	}
	if (dq->wrc != 0) {
		free(buf);
		clisock_send_error(dq->cl, dq->cl_id, dq->wrc, "cannot pack the "
		    "merged answer: %s", ff_strerror(dq->wrc));
		return dq->wrc;
	}
	/* the answer first: its CTL_QUERY_DATA frames, made by OP_FINISH */
	if (blen > 0)
		clisock_send(dq->cl, buf, blen);
	free(buf);
	buf = NULL;
	blen = dq->f_len;
	chunks = dq->f_chunks;
	for (size_t i = 0; i < dq->nn; i++) {
		answered += dq->nodes[i].st == DQN_ANSWERED;
		scanned += dq->nodes[i].flows_scanned;
		bin += dq->nodes[i].bytes_in;
		bout += dq->nodes[i].bytes_out;
		queued = FF_MAX(queued, dq->nodes[i].queued_ms);
	}
	if (wire_msg_begin(&b, WIRE_CTL_QUERY_RESULT, dq->cl_id, 18 +
	    (topn ? 4 : 0)) != 0)
		goto oom;
	wire_put_u64(&b, "len", blen);
	wire_put_u64(&b, "chunks", chunks);
	wire_put_bool(&b, "complete", dq->f_complete);
	wire_put_str(&b, "method", dq->f_method);
	wire_put_u64(&b, "rounds", dq->rounds);
	wire_put_u64(&b, "candidates", dq->ncands);
	wire_put_u64(&b, "threshold", dq->T);
	wire_put_bool(&b, "bound_known", dq->f_bound_known);
	wire_put_u64(&b, "bound", dq->f_bound);
	wire_put_u64(&b, "queued_ms", queued);
	if (topn) {
		/* distinct keys: exact, or unknown within bounds */
		wire_put_bool(&b, "keys_exact", dq->f_keys_exact);
		wire_put_key(&b, "keys");
		if (dq->f_keys_exact)
			msgpack_pack_uint64(wire_builder_pk(&b), dq->f_keys);
		else
			msgpack_pack_nil(wire_builder_pk(&b));
		wire_put_u64(&b, "keys_min", dq->f_kmin);
		wire_put_key(&b, "keys_max");
		if (dq->f_kmax_known)
			msgpack_pack_uint64(wire_builder_pk(&b), dq->f_kmax);
		else
			msgpack_pack_nil(wire_builder_pk(&b));
	}
	wire_put_u64(&b, "targeted", dq->nn);
	wire_put_u64(&b, "answered", answered);
	wire_put_u64(&b, "flows_scanned", scanned);
	wire_put_u64(&b, "wire_bytes_in", bin);
	wire_put_u64(&b, "wire_bytes_out", bout);
	wire_put_u64(&b, "elapsed_ms", mono_ms() - dq->start);
	wire_put_u64(&b, "elapsed_us", (mono_ns() - dq->start_ns) / 1000);
	pk = wire_builder_pk(&b);
	put_strarr(pk, "nodes");
	msgpack_pack_array(pk, dq->nn);
	for (size_t i = 0; i < dq->nn; i++) {
		const struct dqn *d = &dq->nodes[i];

		msgpack_pack_map(pk, 9 + (d->has_keys != 0));
		wire_put_str(&b, "name", d->name);
		wire_put_str(&b, "status", st_names[d->st]);
		wire_put_str(&b, "reason", d->reason);
		wire_put_str(&b, "method", d->full ? "full" : d->tput ?
		    "tput" : "-");
		wire_put_u64(&b, "flows_scanned", d->flows_scanned);
		wire_put_u64(&b, "elapsed_ms", d->done_at > d->sent_at &&
		    d->sent_at != 0 ? d->done_at - d->sent_at : 0);
		wire_put_u64(&b, "bytes_in", d->bytes_in);
		wire_put_u64(&b, "bytes_out", d->bytes_out);
		wire_put_u64(&b, "queued_ms", d->queued_ms);
		if (d->has_keys)
			wire_put_u64(&b, "keys", d->keys);
	}
	if (wire_msg_end(&b, &f, &flen) != 0)
		goto oom;
	clisock_send(dq->cl, f, flen);
	wire_builder_free(&b);
	return 0;
oom:
	free(buf);
	wire_builder_free(&b);
	clisock_send_error(dq->cl, dq->cl_id, FF_ENOMEM, "out of memory");
	return FF_ENOMEM;
}

/* ---- life of a query ---- */

/* Free everything the query holds (no work of it runs). */
static void
dq_release_mem(struct dquery *dq)
{
	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		free(d->buf);
		query_result_free(d->r1);
		query_result_free(d->r2);
	}
	free(dq->nodes);
	free(dq->wbuf);
	query_result_free(dq->wres);
	free(dq->parts);
	free(dq->cand);
	query_result_free(dq->accf);
	query_result_free(dq->acc3);
	query_free(dq->q);
	free(dq);
}

/*
 * The query is over: stop whatever the nodes do for it, let the client
 * go, and free it, or, while its work runs, leave that to the work's
 * end.
 */
static void
dq_free(struct dquery *dq)
{
	controller_t *c = dq->c;

	LIST_REMOVE(dq, entry);
	for (size_t i = 0; i < dq->nn; i++)
		node_cancel(&dq->nodes[i]);
	ctlsock_release(dq->cl);
	dq->cl = NULL;
	if (dq->waiting) {
		TAILQ_REMOVE(&c->dq_wait, dq, wentry);
		dq->waiting = dq->working = 0;
	}
	if (dq->working) {
		dq->dead = 1;
		return;
	}
	dq_release_mem(dq);
}

/* End with an error for the CLI (cancelled, out of memory...). */
static void
dq_abort(struct dquery *dq, int code, const char *why)
{
	for (size_t i = 0; i < dq->nn; i++)
		if (dq->nodes[i].st == DQN_PENDING) {
			node_cancel(&dq->nodes[i]);	/* while req is set */
			node_fail(&dq->nodes[i], DQN_CANCELLED, "%s", why);
		}
	if (ctlsock_alive(dq->cl))
		clisock_send_error(dq->cl, dq->cl_id, code, "%s", why);
	log_info("query %u from %s: %s", dq->cl_id, ctlsock_peer(dq->cl),
	    why);
	dq_free(dq);
}

/* ---- work off the loop ---- */

static void work_run(uv_work_t *w);
static void work_done(uv_work_t *w, int status);

static void
work_launch(struct dquery *dq)
{
	controller_t *c = dq->c;

	c->dq_working++;
	dq->work.data = dq;
	if (uv_queue_work(c->loop, &dq->work, work_run, work_done) != 0) {
		/* only without callbacks: never; run it here then */
		work_run(&dq->work);
		work_done(&dq->work, 0);
	}
}

/*
 * Hand op to the thread pool, or queue it for a slot there. Until the
 * work ends (work_done) the query's results are the work's: the loop
 * thread reads and writes none of them. The caller must not use dq
 * after this call.
 */
static void
dq_work_start(struct dquery *dq, enum dq_op op)
{
	controller_t *c = dq->c;

	dq->op = op;
	dq->working = 1;
	dq->wrc = 0;
	dq->werr[0] = '\0';
	if (c->dq_working >= DQ_WORKERS) {
		dq->waiting = 1;
		TAILQ_INSERT_TAIL(&c->dq_wait, dq, wentry);
		return;
	}
	work_launch(dq);
}

/* Start decoding the next whole answer of a node, unless work runs. */
static void
dq_pump(struct dquery *dq)
{
	if (dq->working)
		return;
	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (!d->ready)
			continue;
		d->ready = 0;
		dq->wd = d;
		dq->wbuf = d->buf;
		dq->wlen = d->len;	/* still counted in dq->buffered */
		d->buf = NULL;
		d->len = d->cap = 0;
		dq->wres = NULL;
		dq->wrows = dq->wtop1 = dq->wscanned = 0;
		dq_work_start(dq, OP_ANSWER);
		return;
	}
}

/* (pool) Decode a node's answer; merge a complete one, keep the rest. */
static void
run_answer(struct dquery *dq)
{
	query_result_t *r = NULL;
	query_info_t inf;
	query_meta_t meta;
	query_row_t *rows;
	size_t n;
	int rc;

	rc = query_result_unpack(dq->wbuf, dq->wlen, &r);
	free(dq->wbuf);
	dq->wbuf = NULL;
	if (rc != 0) {
		dq->wrc = rc;
		snprintf(dq->werr, sizeof(dq->werr), "its answer does not "
		    "decode: %s", ff_strerror(rc));
		return;
	}
	query_result_get_info(r, &inf);
	if (inf.qid != dq->inf.qid || inf.kind != dq->inf.kind) {
		dq->wrc = FF_EPROTO;
		snprintf(dq->werr, sizeof(dq->werr), "answered another query");
		query_result_free(r);
		return;
	}
	query_result_get_meta(r, &meta);
	dq->wscanned = meta.flows_scanned;
	dq->wrows = inf.rows;
	switch (dq->round) {
	case 1:
		if (inf.kind == QUERY_TOPN && inf.subset) {
			/* its first N keys: a TPUT node (if it kept them) */
			if (query_result_rows(r, 1, &rows, &n) == 0) {
				dq->wtop1 = n > 0 ? tput_metric(&rows[0],
				    dq->inf.order) : 0;
				free(rows);
			}
			dq->wres = r;
			return;
		}
		rc = merge_into(&dq->accf, dq->q, r);
		break;
	case 2:
		dq->wres = r;
		return;
	default:
		rc = query_result_merge(dq->acc3, r);
		break;
	}
	query_result_free(r);
	if (rc != 0) {
		dq->wrc = rc;
		snprintf(dq->werr, sizeof(dq->werr), "its answer does not "
		    "merge: %s", ff_strerror(rc));
	}
}

/* (loop) A node's answer is decoded: account it, move on. */
static void
done_answer(struct dquery *dq)
{
	struct dqn *d = dq->wd;
	query_result_t *r = dq->wres;

	dq->wres = NULL;
	dq->wd = NULL;
	dq->buffered -= dq->wlen;
	dq->wlen = 0;
	if (!alive(d)) {
		query_result_free(r);
	} else if (dq->wrc != 0) {
		node_fail(d, DQN_ERROR, "%s", dq->werr);
		query_result_free(r);
	} else if (dq->round == 1 && r != NULL && !d->kept) {
		node_fail(d, DQN_ERROR, "sent a top N without keeping its "
		    "aggregate");
		query_result_free(r);
	} else {
		switch (dq->round) {
		case 1:
			d->flows_scanned = dq->wscanned;
			if (r != NULL) {
				d->tput = 1;
				d->r1 = r;
				d->top1 = dq->wtop1;
			} else
				d->full = 1;
			break;
		case 2:
			query_result_free(d->r2);
			d->r2 = r;
			/* every key it holds is at least T */
			d->allkeys = d->has_keys && dq->wrows == d->keys;
			break;
		}
		d->st = DQN_ANSWERED;
	}
	dq_pump(dq);
	dq_step(dq);
}

/* The answer is merged (rc 0): finish; or merging failed: abort. */
static void
finish_merged(struct dquery *dq, int rc)
{
	if (rc != 0)
		dq_abort(dq, rc, "out of memory while merging");
	else
		dq_finish(dq);
}

/*
 * (pool) The packed answer buf[0..len) as CTL_QUERY_DATA frames (the
 * socket's frames are capped), back to back in dq->wbuf.
 */
static int
data_frames(struct dquery *dq, const uint8_t *buf, size_t len)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen, off = 0, cap, n;
	uint8_t *out;

	dq->f_len = len;
	dq->f_chunks = 0;
	/* the frames' headers are well under 64 bytes each */
	cap = len + (len / DATA_CHUNK + 1) * 64;
	if ((out = malloc(cap)) == NULL)
		return FF_ENOMEM;
	dq->wlen = 0;
	while (off < len) {
		n = FF_MIN(len - off, DATA_CHUNK);
		if (wire_msg_begin(&b, WIRE_CTL_QUERY_DATA, dq->cl_id, 2) != 0)
			goto oom;
		wire_put_u64(&b, "seq", dq->f_chunks);
		wire_put_bin(&b, "data", buf + off, n);
		if (wire_msg_end(&b, &f, &flen) != 0 || dq->wlen + flen > cap)
			goto oom;
		memcpy(out + dq->wlen, f, flen);
		dq->wlen += flen;
		wire_builder_free(&b);
		off += n;
		dq->f_chunks++;
	}
	dq->wbuf = out;
	return 0;
oom:
	wire_builder_free(&b);
	free(out);
	dq->wlen = 0;
	return FF_ENOMEM;
}

/* (pool) Cut the final answer to its first N keys (top N), pack it. */
static void
run_finish(struct dquery *dq)
{
	const query_result_t *final = dq->final;
	query_result_t *shown = NULL, *empty = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (dq->f_method == NULL)
		return;	/* nobody answered: nothing to send */
	if (final == NULL)
		final = empty = query_result_new(dq->q);
	/* a top N travels to the CLI as its first N keys only */
	if (final != NULL && dq->inf.kind == QUERY_TOPN &&
	    query_result_topk(final, dq->inf.n, &shown) == 0)
		final = shown;
	if (final == NULL)
		dq->wrc = FF_ENOMEM;
	else
		dq->wrc = query_result_pack(final, &buf, &len);
	query_result_free(shown);
	query_result_free(empty);
	if (dq->wrc == 0)
		dq->wrc = data_frames(dq, buf, len);
	free(buf);
}

static void
done_finish(struct dquery *dq)
{
	if (dq->f_method == NULL)
		dq->f_method = "none";
	send_reply(dq);
	dq->c->queries_run++;
	dq_free(dq);
}

/*
 * The distinct keys of a top N's answer (see the top of this file):
 * final is the merged answer, ntput the TPUT nodes in it.
 */
static void
count_keys(struct dquery *dq, const query_result_t *final, size_t ntput)
{
	query_info_t inf;
	uint64_t full_rows = 0, sum = 0, most = 0;
	struct dqn *one = NULL;
	size_t nkeys = 0, all2 = 0;

	if (dq->accf != NULL) {
		query_result_get_info(dq->accf, &inf);
		full_rows = inf.rows;
	}
	dq->f_keys_exact = 0;
	dq->f_kmax_known = 1;
	if (ntput == 0) {	/* every key of every node that answered */
		dq->f_keys_exact = 1;
		dq->f_keys = dq->f_kmin = dq->f_kmax = full_rows;
		return;
	}
	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (d->st != DQN_ANSWERED || !d->tput)
			continue;
		one = d;
		if (!d->has_keys) {	/* a node that does not tell */
			dq->f_kmax_known = 0;
			continue;
		}
		nkeys++;
		all2 += d->allkeys;
		sum += d->keys;
		most = FF_MAX(most, d->keys);
	}
	if (ntput == 1 && nkeys == 1 && full_rows == 0) {
		/* one node holds every key */
		dq->f_keys_exact = 1;
		dq->f_keys = dq->f_kmin = dq->f_kmax = one->keys;
		return;
	}
	if (dq->union_exact || (dq->round == 3 && all2 == ntput &&
	    nkeys == ntput)) {
		/* every key reached us in round 2 */
		dq->f_keys_exact = 1;
		dq->f_keys = dq->f_kmin = dq->f_kmax = dq->union_rows;
		return;
	}
	inf.rows = 0;
	if (final != NULL)
		query_result_get_info(final, &inf);
	dq->f_kmin = FF_MAX(FF_MAX(inf.rows, full_rows), most);
	dq->f_kmin = FF_MAX(dq->f_kmin, dq->union_rows);
	dq->f_kmax = full_rows + sum;
}

static void
dq_finish(struct dquery *dq)
{
	const query_result_t *final;
	size_t answered = 0, nfull = 0, ntput = 0;
	int complete, bound_known = 1;
	uint64_t bound = 0;

	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (d->st == DQN_ANSWERED) {
			answered++;
			nfull += d->full;
			ntput += d->tput;
			if (d->kept && d->n != NULL)
				(void)send_ref(d, WIRE_QUERY_RELEASE, NULL, 0,
				    NULL, 0, 0);
			d->kept = 0;
		} else if (d->r1 != NULL)
			bound += d->top1;	/* answered round 1 only */
		else
			bound_known = 0;	/* sent nothing we can use */
	}
	if (dq->aborted && dq->acc3 == NULL && ntput > 0) {
		/* the deadline cut TPUT short before its last round: only
		   the complete partials are exact */
		for (size_t i = 0; i < dq->nn; i++) {
			struct dqn *d = &dq->nodes[i];

			if (d->st == DQN_ANSWERED && d->tput) {
				d->st = DQN_TIMEOUT;
				snprintf(d->reason, sizeof(d->reason), "the "
				    "query's deadline passed before the last "
				    "TPUT round");
				answered--;
			}
		}
		ntput = 0;
	}
	complete = answered == dq->nn;
	if (dq->aborted)
		bound_known = 0;
	final = dq->inf.kind == QUERY_TOPN && ntput > 0 ? dq->acc3 :
	    dq->accf;
	dq->f_complete = complete;
	dq->f_bound_known = bound_known;
	dq->f_bound = bound;
	dq->f_method = answered == 0 ? NULL :
	    dq->inf.kind != QUERY_TOPN ? "full" :
	    ntput == 0 ? "full" : nfull == 0 ? "tput" : "tput+full";
	if (dq->inf.kind == QUERY_TOPN && answered > 0)
		count_keys(dq, final, ntput);
	dq->final = final;
	dq_work_start(dq, OP_FINISH);
}

/*
 * The TPUT nodes still taking part: their first N keys (round 1) into
 * r1, or their keys >= T (round 2) into r2, when not NULL. Returns how
 * many there are.
 */
static size_t
tput_parts(struct dquery *dq, const query_result_t **r1,
    const query_result_t **r2)
{
	size_t m = 0;

	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (!d->tput || !alive(d))
			continue;
		if (r1 != NULL)
			r1[m] = d->r1;
		if (r2 != NULL)
			r2[m] = d->r2;
		m++;
	}
	return m;
}

/* dq->parts: round 1's (r1) or round 2's parts of the TPUT nodes. */
static int
take_parts(struct dquery *dq, int r1)
{
	free(dq->parts);
	dq->nparts = 0;
	if ((dq->parts = calloc(dq->nn ? dq->nn : 1, sizeof(*dq->parts))) ==
	    NULL)
		return FF_ENOMEM;
	dq->nparts = tput_parts(dq, r1 ? dq->parts : NULL,
	    r1 ? NULL : dq->parts);
	return 0;
}

/*
 * Start round `round`: send every TPUT node still taking part the
 * request type (with key k: v, or the keys bytes when keys is set), then
 * move on as dq_step() decides.
 */
static void
start_round(struct dquery *dq, int round, unsigned type, const char *k,
    uint64_t v, const void *keys, size_t keyslen)
{
	dq->round = round;
	dq->rounds++;
	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (!d->tput || !alive(d))
			continue;
		d->st = DQN_PENDING;
		if (send_ref(d, type, k, v, keys, keyslen, 1) != 0)
			node_fail(d, DQN_ERROR, "cannot send %s",
			    wire_type_name(type));
	}
	dq_step(dq);
}

/* Round 2: the threshold, from round 1 (or again, after a failure). */
static void
round2(struct dquery *dq)
{
	dq->restart = 0;
	dq->union_exact = 0;
	dq->union_rows = 0;
	if (take_parts(dq, 1) != 0) {
		dq_abort(dq, FF_ENOMEM, "out of memory while merging");
		return;
	}
	dq_work_start(dq, OP_ROUND2);
}

/* (pool) */
static void
run_round2(struct dquery *dq)
{
	query_result_free(dq->acc3);
	dq->acc3 = NULL;
	for (size_t i = 0; i < dq->nn; i++) {
		query_result_free(dq->nodes[i].r2);
		dq->nodes[i].r2 = NULL;
	}
	dq->wrc = tput_threshold(dq->q, dq->accf, dq->parts, dq->nparts,
	    dq->inf.n, dq->inf.order, &dq->tau1, &dq->T);
}

static void
done_round2(struct dquery *dq)
{
	for (size_t i = 0; i < dq->nn; i++)
		dq->nodes[i].allkeys = 0;
	if (dq->wrc != 0) {
		dq_abort(dq, dq->wrc, "out of memory while merging");
		return;
	}
	if (dq->nparts == 0) {		/* every TPUT node failed */
		dq_finish(dq);
		return;
	}
	start_round(dq, 2, WIRE_TPUT_THRESHOLD, "min", dq->T, NULL, 0);
}

/* Round 3: the candidates, and their exact values from every TPUT node. */
static void
round3(struct dquery *dq)
{
	if (take_parts(dq, 0) != 0) {
		dq_abort(dq, FF_ENOMEM, "out of memory while merging");
		return;
	}
	dq_work_start(dq, OP_ROUND3);
}

/* (pool) */
static void
run_round3(struct dquery *dq)
{
	free(dq->cand);
	dq->cand = NULL;
	dq->wrc = tput_candidates(dq->q, dq->accf, dq->parts, dq->nparts,
	    dq->T, dq->inf.n, dq->inf.order, &dq->tau2, &dq->cand,
	    &dq->ncands, &dq->union_rows);
	if (dq->wrc == 0)
		dq->wrc = acc3_start(dq);
}

static void
done_round3(struct dquery *dq)
{
	uint8_t (*cand)[16] = dq->cand;

	dq->cand = NULL;
	if (dq->wrc != 0) {
		free(cand);
		dq_abort(dq, dq->wrc, "out of memory while merging");
		return;
	}
	start_round(dq, 3, WIRE_TPUT_LOOKUP, "keys", 0, cand, dq->ncands * 16);
	free(cand);
}

/*
 * Round 2 with a threshold of 0 (tau1 below the number of TPUT nodes):
 * every TPUT node sent every key it holds, so their sums are exact and
 * round 3 would only ship them all again. Returns 1 when it took dq
 * over.
 */
static int
all_in_round2(struct dquery *dq)
{
	if (dq->T != 0)
		return 0;
	if (take_parts(dq, 0) != 0)
		finish_merged(dq, FF_ENOMEM);
	else
		dq_work_start(dq, OP_ALL2);
	return 1;
}

/* (pool) OP_ALL2 and OP_LONE: acc3 = accf + the parts. */
static void
run_sum(struct dquery *dq)
{
	int rc = acc3_start(dq);

	for (size_t i = 0; rc == 0 && i < dq->nparts; i++)
		rc = query_result_merge(dq->acc3, dq->parts[i]);
	dq->wrc = rc;
	if (rc == 0 && dq->op == OP_ALL2) {
		query_info_t inf;

		query_result_get_info(dq->acc3, &inf);
		dq->union_rows = inf.rows;
		dq->union_exact = 1;
	}
}

/*
 * One TPUT node and no complete partial with a key: its first N keys are
 * the answer, no further round is needed. Returns 1 when it took dq
 * over.
 */
static int
lone_tput(struct dquery *dq)
{
	query_info_t inf;
	struct dqn *one = NULL;

	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		if (!d->tput || !alive(d))
			continue;
		if (one != NULL)
			return 0;
		one = d;
	}
	if (one == NULL)
		return 0;
	if (dq->accf != NULL) {
		query_result_get_info(dq->accf, &inf);
		if (inf.rows > 0)
			return 0;
	}
	if (take_parts(dq, 1) != 0)
		finish_merged(dq, FF_ENOMEM);
	else
		dq_work_start(dq, OP_LONE);
	return 1;
}

static void
work_run(uv_work_t *w)
{
	struct dquery *dq = w->data;

	switch (dq->op) {
	case OP_ANSWER:
		run_answer(dq);
		break;
	case OP_ROUND2:
		run_round2(dq);
		break;
	case OP_ROUND3:
		run_round3(dq);
		break;
	case OP_ALL2:
	case OP_LONE:
		run_sum(dq);
		break;
	case OP_FINISH:
		run_finish(dq);
		break;
	}
}

static void
work_done(uv_work_t *w, int status)
{
	struct dquery *dq = w->data;
	controller_t *c = dq->c;
	struct dquery *next;

	(void)status;	/* 0: the work is never cancelled (no uv_cancel) */
	c->dq_working--;
	if ((next = TAILQ_FIRST(&c->dq_wait)) != NULL) {
		TAILQ_REMOVE(&c->dq_wait, next, wentry);
		next->waiting = 0;
		work_launch(next);
	}
	dq->working = 0;
	if (dq->dead) {			/* it ended while the work ran */
		dq_release_mem(dq);
		return;
	}
	switch (dq->op) {
	case OP_ANSWER:
		done_answer(dq);
		break;
	case OP_ROUND2:
		free(dq->parts);
		dq->parts = NULL;
		done_round2(dq);
		break;
	case OP_ROUND3:
		free(dq->parts);
		dq->parts = NULL;
		done_round3(dq);
		break;
	case OP_ALL2:
	case OP_LONE:
		free(dq->parts);
		dq->parts = NULL;
		finish_merged(dq, dq->wrc);
		break;
	case OP_FINISH:
		done_finish(dq);
		break;
	}
}

/* After every event: move on when no request is outstanding. */
static void
dq_step(struct dquery *dq)
{
	int tput = 0;

	if (dq->working)
		return;
	for (size_t i = 0; i < dq->nn; i++) {
		if (dq->nodes[i].req != 0 || dq->nodes[i].ready)
			return;
		tput |= dq->nodes[i].tput && alive(&dq->nodes[i]);
	}
	if (dq->inf.kind != QUERY_TOPN || !tput) {
		dq_finish(dq);
		return;
	}
	/* no time left for another round: answer with what is exact */
	if (dq->round >= 2 && (dq->aborted || mono_ms() >= dq->deadline)) {
		dq->aborted = 1;
		dq_finish(dq);
		return;
	}
	if (dq->round == 1 && lone_tput(dq))
		return;
	if (dq->round == 1 || dq->restart)
		round2(dq);
	else if (dq->round == 2) {
		if (!all_in_round2(dq))
			round3(dq);
	}
	else
		dq_finish(dq);
}

static struct dqn *
find_req(controller_t *c, fnode_t *n, uint32_t id)
{
	struct dquery *dq;

	LIST_FOREACH(dq, &c->queries, entry)
		for (size_t i = 0; i < dq->nn; i++)
			if (dq->nodes[i].n == n && dq->nodes[i].req == id &&
			    id != 0)
				return &dq->nodes[i];
	return NULL;
}

/*
 * A RESULT, RESULT_END or ERROR from n's query channel (m valid during
 * the call). Returns 1 when it answered a query's request, 0 when it
 * belongs to none (a late answer to a cancelled request, say).
 */
static int
on_node_msg(controller_t *c, fnode_t *n, const wire_msg_t *m)
{
	struct dqn *d = find_req(c, n, m->id);
	struct dquery *dq;
	const uint8_t *data;
	size_t dlen;
	uint64_t seq, len;
	char text[256] = "", mode[16] = "";
	int64_t code = 0;
	int kept = 0;
	uint64_t v;

	if (d == NULL)
		return 0;
	dq = d->dq;
	d->bytes_in += m->len + 4;
	switch (m->type) {
	case WIRE_ERROR:
		(void)wire_get_i64(&m->body, "code", &code);
		(void)wire_get_strbuf(&m->body, "msg", text, sizeof(text));
		node_fail(d, DQN_ERROR, "%s", text[0] ? text :
		    ff_strerror((int)code));
		break;
	case WIRE_RESULT:
		if (wire_get_u64(&m->body, "seq", &seq) != 0 ||
		    seq != d->seq ||
		    wire_get_bin(&m->body, "data", &data, &dlen) != 0) {
			node_fail(d, DQN_ERROR, "RESULT out of order or "
			    "without data");
			break;
		}
		if (d->len + dlen > QUERY_RESULT_MAX_BYTES) {
			node_fail(d, DQN_ERROR, "its answer is over %u bytes",
			    QUERY_RESULT_MAX_BYTES);
			break;
		}
		if (dq->buffered + dlen > DQ_MAX_BUFFERED) {
			node_fail(d, DQN_ERROR, "the answers of this query "
			    "passed %llu bytes at the controller",
			    (unsigned long long)DQ_MAX_BUFFERED);
			break;
		}
		if (d->len + dlen > d->cap) {
			size_t ncap = FF_MAX(d->cap * 2, d->len + dlen);
			uint8_t *nb = realloc(d->buf, ncap);

			if (nb == NULL) {
				node_fail(d, DQN_ERROR, "out of memory for its "
				    "answer");
				break;
			}
			d->buf = nb;
			d->cap = ncap;
		}
		memcpy(d->buf + d->len, data, dlen);
		d->len += dlen;
		dq->buffered += dlen;
		d->seq++;
		return 1;	/* more to come */
	case WIRE_RESULT_END:
		(void)wire_get_strbuf(&m->body, "mode", mode, sizeof(mode));
		(void)wire_get_bool(&m->body, "kept", &kept);
		if (wire_get_u64(&m->body, "len", &len) != 0 ||
		    len != d->len) {
			node_fail(d, DQN_ERROR, "RESULT_END says %" PRIu64
			    " bytes, %zu came", len, d->len);
			break;
		}
		/* decoded and merged off the loop (dq_pump) */
		d->seq = 0;
		d->req = 0;
		d->done_at = mono_ms();
		if (kept)
			d->kept = 1;
		if (wire_get_u64(&m->body, "keys", &v) == 0) {
			d->keys = v;
			d->has_keys = 1;
		}
		if (dq->round == 1 &&
		    wire_get_u64(&m->body, "queued_ms", &v) == 0)
			d->queued_ms = v;
		d->ready = 1;
		dq_pump(dq);
		break;
	default:
		return 0;
	}
	dq_step(dq);
	return 1;
}

/* n's query channel closed: its outstanding requests fail with why. */
static void
on_chan_down(controller_t *c, fnode_t *n, const char *why)
{
	struct dquery *dq, *next;

	for (dq = LIST_FIRST(&c->queries); dq != NULL; dq = next) {
		int touched = 0;

		next = LIST_NEXT(dq, entry);
		for (size_t i = 0; i < dq->nn; i++) {
			struct dqn *d = &dq->nodes[i];

			if (d->n != n)
				continue;
			d->n = NULL;
			d->kept = 0;	/* the node dropped it with us */
			if (d->req != 0) {
				node_fail(d, DQN_ERROR, "query channel closed: "
				    "%s", why);
				touched = 1;
			}
		}
		/* dq_step may free dq: next was read before */
		if (touched)
			dq_step(dq);
	}
}

void
dquery_tick(controller_t *c)
{
	struct dquery *dq, *next;
	uint64_t now = mono_ms();

	for (dq = LIST_FIRST(&c->queries); dq != NULL; dq = next) {
		uint64_t until = dq->round == 1 ? dq->r1_deadline :
		    dq->deadline;
		int late = 0;

		next = LIST_NEXT(dq, entry);
		if (!ctlsock_alive(dq->cl)) {
			dq_abort(dq, FF_ECANCELED, "the client went away: "
			    "query cancelled");
			continue;
		}
		if (now < until)
			continue;
		for (size_t i = 0; i < dq->nn; i++) {
			struct dqn *d = &dq->nodes[i];

			if (d->req == 0)
				continue;
			node_cancel(d);
			node_fail(d, DQN_TIMEOUT, "no answer within %" PRIu64
			    " ms (round %d of the query)", now - dq->start,
			    dq->round);
			late = 1;
		}
		if (late) {
			if (dq->round > 1)
				dq->aborted = 1;
			dq_step(dq);
		}
	}
}

void
dquery_stop_all(controller_t *c, const char *why)
{
	while (!LIST_EMPTY(&c->queries))
		dq_abort(LIST_FIRST(&c->queries), FF_ECANCELED, why);
}

/* ---- the CLI's requests ---- */

/* Does node n carry label l? */
static int
has_label(const fnode_t *n, const char *l, size_t len)
{
	for (size_t i = 0; i < n->rec.nlabels; i++)
		if (strlen(n->rec.labels[i]) == len &&
		    memcmp(n->rec.labels[i], l, len) == 0)
			return 1;
	return 0;
}

/*
 * The targets: every node, or those named in "nodes", and of those the
 * ones carrying every label in "labels". Returns the count, or -1 with
 * a message in err.
 */
static int
select_nodes(controller_t *c, const msgpack_object *body, fnode_t ***out,
    char *err, size_t errlen)
{
	const msgpack_object *names = wire_get(body, "nodes");
	const msgpack_object *labels = wire_get(body, "labels");
	fnode_t **sel, *n;
	size_t k = 0;

	if ((names != NULL && names->type != MSGPACK_OBJECT_ARRAY) ||
	    (labels != NULL && labels->type != MSGPACK_OBJECT_ARRAY)) {
		snprintf(err, errlen, "'nodes' and 'labels' are arrays");
		return -1;
	}
	if ((sel = calloc(c->nnodes + 1, sizeof(*sel))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; names != NULL && i < names->via.array.size; i++) {
		const msgpack_object *o = &names->via.array.ptr[i];
		char name[WIRE_NAME_MAX + 1];

		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > WIRE_NAME_MAX) {
			snprintf(err, errlen, "bad node name");
			free(sel);
			return -1;
		}
		memcpy(name, o->via.str.ptr, o->via.str.size);
		name[o->via.str.size] = '\0';
		if (fleet_find(c, name) == NULL) {
			snprintf(err, errlen, "no node named '%s'", name);
			free(sel);
			return -2;
		}
	}
	for (n = c->nodes; n != NULL; n = n->next) {
		int want = names == NULL;

		if (n->removed || n->adding)
			continue;
		for (uint32_t i = 0; !want && i < names->via.array.size; i++) {
			const msgpack_object *o = &names->via.array.ptr[i];

			want = strlen(n->rec.name) == o->via.str.size &&
			    memcmp(n->rec.name, o->via.str.ptr,
			    o->via.str.size) == 0;
		}
		for (uint32_t i = 0; want && labels != NULL &&
		    i < labels->via.array.size; i++) {
			const msgpack_object *o = &labels->via.array.ptr[i];

			want = o->type == MSGPACK_OBJECT_STR &&
			    has_label(n, o->via.str.ptr, o->via.str.size);
		}
		if (want)
			sel[k++] = n;
	}
	if (k == 0) {
		snprintf(err, errlen, "no node matches the selection");
		free(sel);
		return -2;
	}
	*out = sel;
	return (int)k;
}

int
dquery_parse_request(const msgpack_object *b, uint64_t default_timeout,
    query_spec_t *q, char filter[DQUERY_FILTER_MAX], char method[8],
    uint64_t *timeout, char *err, size_t errlen)
{
	int rc;

	if (query_spec_read(b, q, filter, DQUERY_FILTER_MAX, err, errlen)
	    != 0)
		return FF_EINVAL;
	rc = wire_get_strbuf(b, "method", method, 8);
	if (rc == FF_ENOENT)
		snprintf(method, 8, "auto");
	else if (rc != 0 || (strcmp(method, "auto") != 0 &&
	    strcmp(method, "full") != 0 && strcmp(method, "tput") != 0)) {
		snprintf(err, errlen, "method is auto, full or tput");
		return FF_EINVAL;
	}
	if (wire_get_u64(b, "timeout_ms", timeout) != 0 || *timeout == 0)
		*timeout = default_timeout;
	if (*timeout > WIRE_QUERY_TIMEOUT_MAX) {
		snprintf(err, errlen, "timeout over %u ms",
		    WIRE_QUERY_TIMEOUT_MAX);
		return FF_EINVAL;
	}
	return 0;
}

static void
on_query(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	struct dquery *dq;
	query_result_t *probe;
	fnode_t **sel = NULL;
	uint64_t timeout;
	char err[512];
	int k, rc;

	if ((dq = calloc(1, sizeof(*dq))) == NULL) {
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	dq->c = c;
	if ((rc = dquery_parse_request(&m->body, c->cfg->query_timeout_ms,
	    &dq->spec, dq->filter, dq->method, &timeout, err, sizeof(err)))
	    != 0 || (rc = query_compile(&dq->spec, &dq->q, err,
	    sizeof(err))) != 0) {
		clisock_send_error(cl, m->id, rc, "%s", err);
		free(dq);
		return;
	}
	if ((probe = query_result_new(dq->q)) == NULL) {
		query_free(dq->q);
		free(dq);
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	query_result_get_info(probe, &dq->inf);
	dq->inf.filter = NULL;	/* points into probe */
	query_result_free(probe);
	if ((k = select_nodes(c, &m->body, &sel, err, sizeof(err))) < 0) {
		clisock_send_error(cl, m->id, k == -2 ? FF_ENOENT : FF_EINVAL,
		    "%s", err);
		query_free(dq->q);
		free(dq);
		return;
	}
	if ((dq->nodes = calloc((size_t)k, sizeof(*dq->nodes))) == NULL) {
		free(sel);
		query_free(dq->q);
		free(dq);
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	dq->cl = cl;
	dq->cl_id = m->id;
	ctlsock_hold(cl);
	dq->nn = (size_t)k;
	dq->start = mono_ms();
	dq->start_ns = mono_ns();
	dq->deadline = dq->start + timeout;
	dq->r1_deadline = dq->start + (timeout * 3) / 4;
	dq->round = 1;
	dq->rounds = 1;
	LIST_INSERT_HEAD(&c->queries, dq, entry);
	log_info("query %u from %s: %s on %d node%s, deadline %" PRIu64
	    " ms", m->id, ctlsock_peer(cl), query_kind_name(dq->spec.kind),
	    k, k > 1 ? "s" : "", timeout);
	for (size_t i = 0; i < dq->nn; i++) {
		struct dqn *d = &dq->nodes[i];

		d->dq = dq;
		snprintf(d->name, sizeof(d->name), "%s", sel[i]->rec.name);
		if (!c->qt->up(sel[i])) {
			d->st = DQN_OFFLINE;
			snprintf(d->reason, sizeof(d->reason), "offline at the "
			    "start: %s", c->qt->why(sel[i]));
			continue;
		}
		d->n = sel[i];
		if (send_query(d) != 0) {
			d->n = NULL;
			node_fail(d, DQN_ERROR, "cannot send the query");
		}
	}
	free(sel);
	dq_step(dq);
}

static void
on_cancel(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	uint64_t id;
	struct dquery *dq;

	if (wire_get_u64(&m->body, "id", &id) != 0) {
		clisock_send_error(cl, m->id, FF_EINVAL, "CTL_QUERY_CANCEL "
		    "needs 'id'");
		return;
	}
	LIST_FOREACH(dq, &c->queries, entry)
		if (dq->cl == cl && dq->cl_id == id)
			break;
	if (dq == NULL) {
		clisock_send_error(cl, m->id, FF_ENOENT, "no query %" PRIu64
		    " is running for this client", id);
		return;
	}
	dq_abort(dq, FF_ECANCELED, "query cancelled by the client");
	if (wire_msg_begin(&b, WIRE_CTL_OK, m->id, 1) == 0) {
		wire_put_u64(&b, "id", id);
		if (wire_msg_end(&b, &f, &flen) == 0)
			clisock_send(cl, f, flen);
	}
	wire_builder_free(&b);
}

void
dquery_init(controller_t *c, const qtransport_t *qt)
{
	c->qt = qt;
	TAILQ_INIT(&c->dq_wait);
	qt->listen(c, on_node_msg, on_chan_down);
}

int
dquery_register(ctlsock_t *s)
{
	if (clisock_register(s, WIRE_CTL_QUERY, on_query) != 0 ||
	    clisock_register(s, WIRE_CTL_QUERY_CANCEL, on_cancel) != 0)
		return FF_EINVAL;
	return 0;
}
