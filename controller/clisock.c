/*
 * The controller's socket for the CLI: frames and messages on the local
 * control socket; see clisock.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "clisock.h"

/* What the controller keeps with the socket: the handlers. */
struct clisock {
	controller_t *c;
	clisock_fn fns[CLISOCK_MAX_TYPES];
};

/* What the controller keeps of each client: its frame reader. */
struct cli {
	wire_framer_t framer;
};

int
clisock_send(ctlsock_client_t *cl, const uint8_t *frame, size_t len)
{
	return ctlsock_write(cl, frame, len);
}

int
clisock_send_error(ctlsock_client_t *cl, uint32_t id, int code,
    const char *fmt, ...)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	char msg[512];
	va_list ap;
	int rc;

	if (!ctlsock_alive(cl))
		return FF_EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((rc = wire_msg_error(&b, id, code, msg, &f, &flen)) == 0)
		rc = ctlsock_write(cl, f, flen);
	wire_builder_free(&b);
	return rc;
}

/* One request: dispatch it by type. */
static void
dispatch(struct clisock *s, ctlsock_client_t *cl, const wire_msg_t *m)
{
	unsigned t = m->type;

	ctlsock_touch(cl);
	if (t > WIRE_CTL_OK && t < WIRE_CTL_OK + CLISOCK_MAX_TYPES &&
	    s->fns[t - WIRE_CTL_OK] != NULL) {
		s->fns[t - WIRE_CTL_OK](s->c, cl, m);
		return;
	}
	log_debug("control socket: %s sent a message of type %u (%s): not a "
	    "request", ctlsock_peer(cl), t, wire_type_name(t));
	clisock_send_error(cl, m->id, FF_ENOTSUP, "not supported: message "
	    "type %u is not a request this controller answers", t);
}

static int
cli_open(ctlsock_client_t *cl)
{
	struct cli *d = ctlsock_data(cl);

	wire_framer_init(&d->framer, WIRE_MAX_FRAME_LOCAL);
	return 0;
}

static void
cli_busy(ctlsock_client_t *cl)
{
	clisock_send_error(cl, 0, FF_EBUSY, "too many clients");
}

/* Bytes from the CLI: frames out of them, messages out of the frames. */
static void
cli_data(ctlsock_client_t *cl, const uint8_t *data, size_t len)
{
	struct clisock *s = ctlsock_state(ctlsock_server(cl));
	struct cli *d = ctlsock_data(cl);
	char why[128];
	size_t off = 0;

	while (off < len && ctlsock_alive(cl)) {
		uint8_t *frame;
		size_t used, flen;
		wire_msg_t m;
		int rc;

		rc = wire_framer_feed(&d->framer, data + off, len - off, &used,
		    &frame, &flen);
		off += used;
		if (rc == 0)
			break;
		if (rc < 0) {
			snprintf(why, sizeof(why), rc == FF_ELIMIT ?
			    "frame of %zu bytes is over the %zu-byte cap" :
			    "bad frame (%zu/%zu)", d->framer.len,
			    d->framer.max);
			ctlsock_close_client(cl, rc, why);
			return;
		}
		if (wire_msg_decode(frame, flen, &m) != 0) {
			free(frame);
			snprintf(why, sizeof(why), "undecodable message (%zu "
			    "bytes)", flen);
			ctlsock_close_client(cl, FF_EPROTO, why);
			return;
		}
		dispatch(s, cl, &m);
		wire_msg_free(&m);
		free(frame);	/* m pointed into it */
	}
}

static void
cli_close(ctlsock_client_t *cl, int err, const char *why)
{
	struct cli *d = ctlsock_data(cl);
	wire_framer_t *f = &d->framer;

	(void)why;
	if (err == 0 && f->hdr_have > 0)
		log_info("control socket: %s: closed in the middle of a frame "
		    "(%zu of %zu bytes)", ctlsock_peer(cl), f->hdr_have < 4 ?
		    f->hdr_have : 4 + f->have, f->hdr_have < 4 ? (size_t)4 :
		    4 + f->len);
	wire_framer_free(f);
}

static const ctlsock_proto_t cli_proto = {
	.who = "controller",
	.max_clients = CLISOCK_MAX_CLIENTS,
	.idle_ms = CLISOCK_IDLE_MS,
	.grace_ms = CLISOCK_GRACE_MS,
	.state_size = sizeof(struct clisock),
	.client_size = sizeof(struct cli),
	.on_open = cli_open,
	.on_busy = cli_busy,
	.on_data = cli_data,
	.on_close = cli_close,
};

int
clisock_open(controller_t *c, const char *path, ctlsock_t **out, char *err,
    size_t errlen)
{
	struct clisock *s;
	int rc;

	if ((rc = ctlsock_open(c->loop, path, &cli_proto, out, err, errlen))
	    != 0)
		return rc;
	s = ctlsock_state(*out);
	s->c = c;
	return 0;
}

int
clisock_register(ctlsock_t *sock, unsigned type, clisock_fn fn)
{
	struct clisock *s = ctlsock_state(sock);

	if (type <= WIRE_CTL_OK || type >= WIRE_CTL_OK + CLISOCK_MAX_TYPES)
		return FF_EINVAL;
	s->fns[type - WIRE_CTL_OK] = fn;
	return 0;
}
