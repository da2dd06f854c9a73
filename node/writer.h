/*
 * The store writer: one thread that owns the write side of the node's
 * flow store (store_append, store_commit, store_maintain), so that no
 * LMDB write ever runs on the loop thread.
 *
 * The loop thread hands it full batches through a bounded queue of batch
 * buffers: writer_submit() gives the writer a buffer of decoded flows and
 * takes an empty one back in exchange, so nothing is allocated or copied
 * per batch or per flow. When every buffer is waiting (the store is
 * slower than the intake), the batch is dropped and counted instead: the
 * loop thread never waits for the store.
 *
 * The thread appends each batch; commits at most WRITER_COMMIT_MS after
 * the first row it appended since the last commit (store_append itself
 * commits whenever a block fills); and runs retention and compaction
 * every WRITER_MAINT_MS for at most WRITER_MAINT_BUDGET_MS. A failed
 * write (map or disk full, I/O error) is counted by the store, logged at
 * most once every WRITER_LOG_MS ("store full: PATH: ..." with the sizes
 * when there was no room), and the thread goes on; the writer is
 * failing from then until a block is written. Blocks deleted to make
 * room on a full filesystem are logged at most once every WRITER_LOG_MS.
 */
#ifndef FF_NODE_WRITER_H
#define FF_NODE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define WRITER_COMMIT_MS	1000	/* longest a row waits to be committed */
#define WRITER_MAINT_MS		1000	/* retention/compaction period */
#define WRITER_MAINT_BUDGET_MS	50	/* time per maintenance pass */
#define WRITER_LOG_MS		60000	/* one write-error message per */

typedef struct writer writer_t;

typedef struct writer_opts {
	size_t batch;		/* flows per batch buffer (> 0) */
	unsigned queue;		/* batches the writer may hold, waiting or
				   being written (>= 1) */
} writer_opts_t;

/* What the writer did; a snapshot from writer_get_stats(). */
typedef struct writer_stats {
	uint64_t batches;	/* batches taken into the queue */
	uint64_t flows;		/* flows taken into the queue */
	uint64_t dropped;	/* flows dropped because the queue was full */
	uint64_t dropped_batches;
	uint64_t queued;	/* batches waiting now */
	uint64_t queue_cap;	/* most batches the writer holds (queue) */
	uint64_t queue_peak;	/* most batches that waited at once */
	uint64_t appended;	/* flows the thread gave to store_append */
	uint64_t errors;	/* failed appends, commits, maintenance */
	uint64_t last_commit_ms;	/* wall clock of the last commit, 0 */
	int failing;		/* a write failed (flows were dropped) and
				   none has succeeded since: rows only
				   buffered do not count */
	store_stats_t store;	/* the store's counters after the thread's
				   latest step */
} writer_stats_t;

/*
 * Start the writer thread on store s (open read-write; the caller keeps
 * ownership and closes it after writer_stop()). Allocates o->queue
 * batch buffers of o->batch flows: the writer holds at most o->queue
 * batches, the one it writes included. Returns 0 and *out, or a negative
 * ff_err code (FF_ENOMEM, FF_EINVAL, FF_EIO when the thread cannot be
 * created).
 */
int writer_start(store_t *s, const writer_opts_t *o, writer_t **out);

/*
 * Hand the n flows in buf (a malloc'ed buffer of the writer's batch size)
 * to the writer. Returns the buffer the caller fills next, which it owns
 * (free with free()): an empty one from the writer's pool, in exchange
 * for buf, which the writer now owns; or buf itself when the queue is
 * full or the writer is stopping, and then the n flows are dropped and
 * counted. n == 0 returns buf. Never blocks on the store. Call from one
 * thread (the loop thread).
 */
store_flow_t *writer_submit(writer_t *w, store_flow_t *buf, size_t n);

/* Any thread: a snapshot of the counters into *st. */
void writer_get_stats(writer_t *w, writer_stats_t *st);

/*
 * Stop: the thread appends every batch still queued, commits, and exits;
 * then free everything but the store. Blocks until done. Accepts NULL.
 */
void writer_stop(writer_t *w);

#endif
