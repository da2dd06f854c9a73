/*
 * The node's side of the control plane: its identity (key and
 * certificate in the state directory, made on first start), the
 * controller pin and join token (trust.c), the control channel server
 * (TCP 2210: PING/PONG with health, STATUS_GET/STATUS with the node's
 * counters, JOIN for enrollment) and the query channel server (TCP
 * 4210, qserver.c).
 */
#ifndef FF_NODE_CONTROL_H
#define FF_NODE_CONTROL_H

#include <stddef.h>
#include <uv.h>

#include "store/store.h"
#include "nodeconf/nodeconf.h"
#include "qserver.h"
#include "stats.h"

#define CONTROL_RATE_WINDOW	10	/* seconds of samples for rates */

/* What STATUS reports: the counters snapshot and, when the node has a
   store, the store's counters and the flows its writer dropped because
   its queue was full (back-pressure; store.dropped counts the flows lost
   to failed writes). */
typedef struct control_status {
	node_stats_t st;	/* from node_stats_collect() */
	int have_store;
	store_stats_t store;
	uint64_t store_queue_dropped;
} control_status_t;

/*
 * Fill *out (zeroed by the caller) with a fresh snapshot; return 0 or a
 * negative ff_err code. Called on the loop thread, once a second for the
 * rates and on each STATUS_GET; control.c releases out->st.
 */
typedef int (*control_status_fn)(void *arg, control_status_t *out);

typedef struct control control_t;

/*
 * Load (or make) the node's identity in cfg->state_dir and log its
 * fingerprint, work out the controller pin (taking cfg->join_token: the
 * configuration's copy is wiped and freed), and listen on
 * cfg->control_listen and cfg->query_listen. fn/arg give the counters.
 * Returns 0 and *out (until control_stop()), or a negative ff_err code
 * with a message in err; the loop must then run to finish closing.
 */
int control_start(uv_loop_t *loop, struct node_config *cfg,
    control_status_fn fn, void *arg, control_t **out, char *err,
    size_t errlen);

/* Close both listeners and every session. Memory is freed from the loop.
   Accepts NULL. */
void control_stop(control_t *c);

/* The query channel's server, to plug a query engine into. */
qserver_t *control_qserver(control_t *c);

#endif
