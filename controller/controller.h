/*
 * Internal to flowfleet-controller: the daemon's state shared by its
 * files.
 *
 *   main.c      the command table: run (start-up, the loop) and
 *               fingerprint
 *   config.c    the configuration file
 *   inventory.c the LMDB inventory
 *   fleet.c     the nodes in memory and the serial write queue that
 *               persists them to the inventory off the loop thread
 *   peer.c      the sessions with each node on 2210 and 4210: dialing,
 *               backoff, HELLO, PING and clock offset, STATUS, JOIN
 *               (the join-token check itself: wire/token.c)
 *   dquery.c    distributed queries: the fan-out over the query
 *               channels (through a qtransport_t), the TPUT rounds,
 *               the merge
 *   tput.c      the arithmetic of TPUT's rounds: threshold, candidates
 *   clisock.c   the control socket the CLI talks to (frames and
 *               messages on common/ctlsock.c), dispatch by request type
 *   req_nodes.c the CLI's node requests (add, remove, list/show/status)
 *
 * Everything runs on the loop thread except inv_write() in the queue
 * and dquery.c's decoding, merging and packing of query answers (work
 * on libuv's thread pool, handed back to the loop when done).
 */
#ifndef FF_CONTROLLER_CONTROLLER_H
#define FF_CONTROLLER_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "wire/wire.h"
#include "config.h"
#include "inventory.h"

#define CLOCK_SAMPLES	8	/* PONG samples kept for the offset */
#define MAX_PROBLEMS	4	/* of a node's health, kept for display */

typedef struct controller controller_t;
typedef struct fnode fnode_t;

/*
 * What a node's query channel delivers upward (peer.c calls them; the
 * fan-out registers them through qtransport_t.listen): a message of the
 * query channel (m valid during the call; returns 1 when it was taken,
 * 0 when nobody wanted it), and the channel's loss (why: for people).
 */
typedef int (*qtransport_msg_fn)(controller_t *c, fnode_t *n,
    const wire_msg_t *m);
typedef void (*qtransport_down_fn)(controller_t *c, fnode_t *n,
    const char *why);

/*
 * How the fan-out (dquery.c) reaches the nodes' query channels: peer.c
 * provides peer_qtransport; a test may give one of its own.
 */
typedef struct qtransport {
	/* A fresh request id on n's query channel (never 0). */
	uint32_t (*next_id)(fnode_t *n);
	/* Send a frame (copied) on n's query channel. Returns 0, FF_EINVAL
	   when the channel is not up, or another negative ff_err code. */
	int (*send)(fnode_t *n, const uint8_t *frame, size_t len);
	/* Is n's query channel up? */
	int (*up)(const fnode_t *n);
	/* Why n's query channel is not up, for people (valid until the
	   channel changes). */
	const char *(*why)(const fnode_t *n);
	/* From now on deliver c's query channels' messages and losses to
	   on_msg and on_down. */
	void (*listen)(controller_t *c, qtransport_msg_fn on_msg,
	    qtransport_down_fn on_down);
} qtransport_t;

enum chan_state {
	CH_IDLE = 0,	/* not dialing (query channel before the pin) */
	CH_WAIT,	/* backing off until next_at */
	CH_RESOLVING,	/* looking the host name up */
	CH_CONNECTING,	/* TCP connect and TLS handshake */
	CH_HELLO,	/* TLS up, our HELLO sent, waiting for theirs */
	CH_ENROLL,	/* enrollment session: waiting for JOIN */
	CH_UP,
	CH_CLOSING	/* closing; on_close will follow */
};

/* One channel (control or query) to a node. */
struct chan {
	struct peer *p;
	int query;			/* 0: control 2210, 1: query 4210 */
	enum chan_state state;
	wire_conn_t *conn;
	uint32_t gen;			/* connection attempt number */
	uint64_t next_at;		/* mono ms: next attempt (CH_WAIT) */
	uint64_t backoff_ms;		/* last delay chosen */
	unsigned failures;		/* consecutive failed attempts */
	uint64_t since_ms;		/* wall ms: up since / down since */
	uint64_t deadline;		/* mono ms: HELLO or JOIN due */
	uint64_t last_pong;		/* mono ms */
	uint64_t next_ping;		/* mono ms */
	uint64_t next_status;		/* mono ms (control) */
	uint32_t next_id;		/* request ids */
	int reconnect_now;		/* skip the backoff once */
	int enroll;			/* enrollment session (control) */
	int was_up;			/* reached CH_UP on this connection */
	char fp[WIRE_FP_LEN];		/* key of the current connection */
	char err[256];			/* why the last attempt failed */
	char logged[256];		/* last failure logged (no repeats) */
};

struct peer {
	controller_t *c;
	fnode_t *n;
	struct chan ch[2];
	int stopping;			/* removed: closing, then freed */
	int pending;			/* write jobs that will call back */
	int join_busy;			/* a JOIN is being made durable */
	char hello_name[64];		/* the name the node gives itself */
	/* clock offset from PING/PONG */
	struct {
		int64_t offset;
		int64_t rtt;
	} samples[CLOCK_SAMPLES];
	size_t nsamples, spos;
	int64_t rtt_ms;			/* of the sample used; -1: none */
	int clock_warned;
	char problems[MAX_PROBLEMS][128];
	size_t nproblems;
};

struct fnode {
	inv_node_t rec;			/* what the inventory keeps */
	inv_token_t tok;		/* join token, when has_tok */
	int has_tok;
	int dirty;			/* runtime fields not yet persisted */
	int adding;			/* not yet durable: not dialed */
	int removed;			/* out of the list; freed by peer.c */
	struct peer peer;
	fnode_t *next;
};

/* The write queue's jobs (fleet.c). */
struct wjob;

struct ctlsock;
struct dquery;

struct controller {
	uv_loop_t *loop;
	const struct controller_config *cfg;
	wire_identity_t *id;
	char name[64];
	uint64_t start_ms;
	inventory_t *inv;
	fnode_t *nodes;			/* in name order */
	size_t nnodes;
	struct wjob *wq_head, *wq_tail;
	int wq_busy;
	int flush_queued;
	uint64_t next_flush;		/* mono ms */
	uv_timer_t tick;
	struct ctlsock *sock;		/* the CLI's socket (clisock.c) */
	LIST_HEAD(dquery_list, dquery) queries;	/* distributed queries
						   (dquery.c) */
	const qtransport_t *qt;		/* how dquery.c reaches the nodes */
	qtransport_msg_fn on_qmsg;	/* peer.c delivers query channel */
	qtransport_down_fn on_qdown;	/* messages and losses to these */
	unsigned dq_working;		/* dquery.c's work on the pool */
	TAILQ_HEAD(dq_waitq, dquery) dq_wait;	/* ... and waiting for it */
	uint64_t queries_run;		/* since start */
	uint64_t last_tick;		/* mono ms of peer_tick's last run */
	int stopping;
};

/* ---- fleet.c ---- */

/* A write finished: rc 0 or an ff_err code with text in err. */
typedef void (*fleet_done_fn)(controller_t *c, void *arg, int rc,
    const char *err);

/*
 * Load the inventory into c->nodes. Returns 0 or an ff_err code with a
 * message in err.
 */
int fleet_load(controller_t *c, char *err, size_t errlen);

/* The node named name (not removed), or NULL. */
fnode_t *fleet_find(controller_t *c, const char *name);

/* Insert n (allocated by the caller) into the list, in name order. */
void fleet_insert(controller_t *c, fnode_t *n);

/* Take n out of the list (n->removed is set; peer.c frees it). */
void fleet_unlink(controller_t *c, fnode_t *n);

/*
 * Queue writes: fleet_put() stores the node named name as it is in memory
 * when the job starts (with its token, if any); fleet_del() deletes the
 * node and token named name; fleet_flush() stores every dirty node. done
 * (may be NULL) runs on the loop thread when the transaction committed or
 * failed. Jobs run one at a time, in order. Returns 0 or FF_ENOMEM (done
 * will not run).
 */
int fleet_put(controller_t *c, const char *name, fleet_done_fn done, void *arg);
int fleet_del(controller_t *c, const char *name, fleet_done_fn done, void *arg);
int fleet_flush(controller_t *c);

/* Store every dirty node now, synchronously (at exit, loop stopped). */
void fleet_flush_sync(controller_t *c);

/* Free every node (at exit, after the loop stopped). */
void fleet_free(controller_t *c);

/* ---- peer.c ---- */

/* Start dialing n (its channels begin at once). */
void peer_start(controller_t *c, fnode_t *n);

/*
 * Stop n's sessions; n must have been unlinked (n->removed): it is freed
 * once its connections are closed and its writes have called back.
 */
void peer_stop(fnode_t *n, const char *why);

/* Stop every peer (controller shutdown); nodes stay in the list. */
void peer_stop_all(controller_t *c);

/* Timers: connect, HELLO/JOIN deadlines, PING, STATUS, dead peers.
   Called every PEER_TICK_MS. */
#define PEER_TICK_MS	100
void peer_tick(controller_t *c);

/* Is the channel up? */
int peer_up(const fnode_t *n, int query);

/* Name of a channel state for people ("up", "connecting", ...). */
const char *peer_state_name(const fnode_t *n, int query);

/* The nodes' query channels as a transport for the fan-out. */
extern const qtransport_t peer_qtransport;

#endif
