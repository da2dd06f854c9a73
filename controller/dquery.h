/*
 * Distributed queries: the CLI's CTL_QUERY on the control socket, fanned
 * out to the selected nodes over their query channels (4210), the
 * partial answers merged into one exact answer, with its coverage.
 *
 * The target set is frozen when the query starts. Totals, series,
 * listings and distinct counts merge the nodes' complete partials as
 * they arrive. A top N asks every node for its first N keys; a node with
 * few keys answers with its complete aggregate instead, the others take
 * part in the three rounds of TPUT (Cao and Wang, 2004): the threshold
 * round and the lookup of the candidates, from the aggregate each node
 * kept. Every query has a deadline; nodes that miss it, fail, or lose
 * their channel are named with their reason, and their scans are
 * cancelled. Answers are decoded and merged on libuv's thread pool,
 * off the loop thread. See wire/PROTOCOL.md ("Query channel", CTL_QUERY) and
 * docs/QUERY.md ("Distributed queries").
 */
#ifndef FF_CONTROLLER_DQUERY_H
#define FF_CONTROLLER_DQUERY_H

#include "controller.h"
#include "clisock.h"
#include "store/query/query.h"

#define DQUERY_FILTER_MAX	4096	/* filter text bytes, NUL included */

/*
 * Read a CTL_QUERY body into *q (its filter points into filter), the
 * method ("auto", "full", "tput") and the deadline (default_timeout
 * when none is given). Returns 0, or FF_EINVAL with a message in err.
 */
int dquery_parse_request(const msgpack_object *b, uint64_t default_timeout,
    query_spec_t *q, char filter[DQUERY_FILTER_MAX], char method[8],
    uint64_t *timeout, char *err, size_t errlen);

/*
 * Reach c's nodes through qt (peer_qtransport in the daemon; qt must
 * outlive c's queries) and listen to it: the nodes' RESULT, RESULT_END
 * and ERROR answer the queries' requests (an answer that belongs to no
 * request, as a late one to a cancelled request, is left to the
 * transport), and a query channel that closes fails its node's
 * outstanding requests with the transport's reason. Call once, before
 * dquery_register().
 */
void dquery_init(controller_t *c, const qtransport_t *qt);

/* Register CTL_QUERY and CTL_QUERY_CANCEL on s. Returns 0 or FF_EINVAL. */
int dquery_register(ctlsock_t *s);

/* Deadlines, cancelled and vanished clients. Call every PEER_TICK_MS. */
void dquery_tick(controller_t *c);

/* Fail every query (controller shutdown). */
void dquery_stop_all(controller_t *c, const char *why);

#endif
