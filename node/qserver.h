/*
 * The query channel's server (TCP 4210): the node side of the
 * controller's query sessions. The listener (session.c) does TLS,
 * pinning, HELLO and PING; this file routes the query messages (QUERY,
 * CANCEL, TPUT_*, QUERY_RELEASE) to a pluggable query handler. Without a
 * handler they are answered with ERROR -17 ("not supported") and the
 * session stays up; control-channel messages close the session (-5).
 */
#ifndef FF_NODE_QSERVER_H
#define FF_NODE_QSERVER_H

#include <uv.h>

#include "session.h"

typedef struct qserver qserver_t;

/*
 * A query engine. on_msg gets the query messages of a ready session
 * (types WIRE_QUERY .. WIRE_QUERY_RELEASE) and returns 0 when it handled
 * them or FF_ENOTSUP. on_open, on_drain and on_close (optional) follow
 * the sessions' lives, so that the engine can stream results under
 * back-pressure (sess_queued(), on_drain) and cancel the work of a
 * session that closed.
 */
typedef struct qserver_handler {
	void (*on_open)(void *arg, sess_t *s);
	int (*on_msg)(void *arg, sess_t *s, const wire_msg_t *m);
	void (*on_drain)(void *arg, sess_t *s);
	void (*on_close)(void *arg, sess_t *s);
} qserver_handler_t;

/*
 * Listen for query sessions with the options in o (o->channel, o->h and
 * o->arg are set here; o->max_frame defaults to WIRE_MAX_FRAME_QUERY).
 * Returns 0 and *out, or a negative ff_err code with a message in err.
 */
int qserver_open(uv_loop_t *loop, const sess_server_opts_t *o,
    qserver_t **out, char *err, size_t errlen);

/*
 * Plug in (or, with h NULL, remove) the query engine. h and arg must
 * outlive the server or the next call.
 */
void qserver_set_handler(qserver_t *q, const qserver_handler_t *h,
    void *arg);

/* Close every query session and the listener. Accepts NULL. */
void qserver_close(qserver_t *q);

#endif
