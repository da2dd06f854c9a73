/*
 * The node's query engine on the query channel (TCP 4210): runs the
 * controller's queries on the node's flow store and streams the partial
 * results back (wire/PROTOCOL.md, "Query channel").
 *
 * A QUERY runs on a thread of its own (niced, so that intake keeps its
 * share of the CPU), polled for cancellation between blocks. A top N
 * with many keys keeps its complete aggregate after answering with its
 * first N keys, for the controller's exact distributed top N (TPUT:
 * TPUT_THRESHOLD, TPUT_LOOKUP, QUERY_RELEASE); everything else answers
 * with the complete partial result. Results are packed off the loop
 * thread and sent in RESULT chunks as the session drains.
 *
 * Limits: at most max_running queries (QUERY to answer, or to release
 * when an aggregate is kept), a time limit, a memory limit and a row
 * limit per query, a size limit on one packed result. A QUERY that
 * finds every slot taken waits in a queue of at most max_queued, in
 * order of arrival, until a slot frees or its own time limit passes
 * (the time it waited counts against that limit); only a full queue
 * refuses it ("node busy"). A kept aggregate
 * is dropped after keep_ms without use, and when its session closes.
 */
#ifndef FF_NODE_QENGINE_H
#define FF_NODE_QENGINE_H

#include <stdint.h>
#include <msgpack.h>
#include <uv.h>

#include "store/query/query.h"
#include "qserver.h"

typedef struct qengine qengine_t;

typedef struct qengine_opts {
	unsigned max_running;	/* 0: 4 */
	int max_queued;		/* QUERYs waiting for a slot; 0: 64,
				   -1: none (refuse at once) */
	uint64_t max_ms;	/* per query; 0: 10 minutes */
	uint64_t max_mem;	/* per query; 0: 1 GiB */
	uint64_t max_rows;	/* per query; 0: 20 million */
	uint64_t max_result;	/* bytes of one packed result; 0: 256 MiB */
	int threads;		/* scan threads per query; 0: all cores */
	int nice;		/* added niceness of query threads; 0: 10,
				   -1: none */
	uint64_t keep_ms;	/* kept aggregate idle limit; 0: 60 s */
} qengine_opts_t;

/* Counters, since the node started. */
typedef struct qengine_stats {
	uint64_t received;	/* QUERY messages */
	uint64_t answered;	/* answered (RESULT_END sent) */
	uint64_t failed;	/* answered with an error (limits, syntax) */
	uint64_t cancelled;	/* stopped by CANCEL or a closed session */
	uint64_t busy;		/* refused: max_running reached and
				   max_queued waiting */
	uint64_t queued;	/* waiting for a slot now */
	uint64_t queue_expired;	/* failed: time limit passed waiting */
	uint64_t running;	/* scans in progress now */
	uint64_t kept;		/* aggregates kept now */
	uint64_t expired;	/* kept aggregates dropped unused */
	uint64_t flows_scanned;	/* by finished scans */
	uint64_t bytes_sent;	/* result bytes (RESULT data) */
	uint64_t tput_requests;	/* TPUT_* requests answered */
} qengine_stats_t;

/*
 * Make an engine that queries store s (which must outlive it) with the
 * options in o (NULL: defaults). Returns NULL when out of memory.
 */
qengine_t *qengine_new(uv_loop_t *loop, store_t *s, const qengine_opts_t *o);

/* The handler to give qserver_set_handler() with the engine as arg. */
const qserver_handler_t *qengine_handler(void);

/*
 * Cancel every query and stop taking new ones (before the query
 * listener closes). Threads finish in the background; the loop must run
 * until qengine_free() can join them.
 */
void qengine_stop(qengine_t *qe);

#define QENGINE_FILTER_MAX	4096	/* filter text bytes, NUL included */

/*
 * Read a QUERY body (untrusted: every field is checked) into *q (its
 * filter points into filter), the controller's fingerprint of the query
 * into *qid and the method (0 auto, 1 full, 2 tput) into *method.
 * Returns 0, or FF_EPROTO with a message in err. The query is not
 * compiled yet (query_compile checks the rest).
 */
int qengine_parse_query(const msgpack_object *body, query_spec_t *q,
    char filter[QENGINE_FILTER_MAX], uint64_t *qid, int *method, char *err,
    size_t errlen);

/* Join every thread and free the engine. Accepts NULL. */
void qengine_free(qengine_t *qe);

/* A snapshot of the counters (loop thread). */
void qengine_get_stats(const qengine_t *qe, qengine_stats_t *st);

#endif
