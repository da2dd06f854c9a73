/*
 * Query channel (4210): routes query messages to the plugged-in engine.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "qserver.h"

struct qserver {
	sess_server_t *srv;
	const qserver_handler_t *h;
	void *arg;
};

static int
is_query_type(unsigned type)
{
	return type >= WIRE_QUERY && type <= WIRE_QUERY_RELEASE;
}

static void
q_open(void *arg, sess_t *s, const sess_hello_t *hello)
{
	qserver_t *q = arg;

	(void)hello;
	if (q->h != NULL && q->h->on_open != NULL)
		q->h->on_open(q->arg, s);
}

static int
q_msg(void *arg, sess_t *s, const wire_msg_t *m)
{
	qserver_t *q = arg;
	int rc;

	if (!is_query_type(m->type))
		return FF_ENOTSUP;	/* the listener answers */
	if (q->h != NULL && q->h->on_msg != NULL &&
	    (rc = q->h->on_msg(q->arg, s, m)) != FF_ENOTSUP)
		return rc;
	sess_send_error(s, m->id, FF_ENOTSUP, "not supported: %s (this node "
	    "has no query engine)", wire_type_name(m->type));
	return 0;
}

static void
q_drain(void *arg, sess_t *s)
{
	qserver_t *q = arg;

	if (q->h != NULL && q->h->on_drain != NULL)
		q->h->on_drain(q->arg, s);
}

static void
q_close(void *arg, sess_t *s)
{
	qserver_t *q = arg;

	if (q->h != NULL && q->h->on_close != NULL)
		q->h->on_close(q->arg, s);
}

static void
q_freed(void *arg)
{
	free(arg);
}

static const sess_handler_t q_handler = {
	.on_open = q_open,
	.on_msg = q_msg,
	.on_drain = q_drain,
	.on_close = q_close,
	.on_server_freed = q_freed,
};

int
qserver_open(uv_loop_t *loop, const sess_server_opts_t *o, qserver_t **out,
    char *err, size_t errlen)
{
	sess_server_opts_t so = *o;
	qserver_t *q;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	so.channel = "query";
	so.h = &q_handler;
	so.arg = q;
	FF_DEFAULT(so.max_frame, WIRE_MAX_FRAME_QUERY);
	/* on failure the listener is closed and q_freed frees q */
	if ((rc = sess_server_open(loop, &so, &q->srv, err, errlen)) != 0)
		return rc;
	*out = q;
	return 0;
}

void
qserver_set_handler(qserver_t *q, const qserver_handler_t *h, void *arg)
{
	q->h = h;
	q->arg = arg;
}

void
qserver_close(qserver_t *q)
{
	if (q == NULL)
		return;
	/* sessions close from the loop; their on_close must not reach an
	   engine that is going away with us */
	q->h = NULL;
	sess_server_close(q->srv);	/* q is freed with it (q_freed) */
}
