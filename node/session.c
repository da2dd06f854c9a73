/*
 * TLS listeners for the controller's channels: accept, pin, refuse and
 * log, HELLO, PING; see session.h.
 *
 * Lifetime: a sess_t is created at accept and freed in its connection's
 * on_close. The listener is freed when its TCP handle, its timer and
 * every session are gone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "session.h"

#define SWEEP_MS	1000
#define LOG_WINDOW_MS	10000	/* refusals logged: LOG_BUDGET ... */
#define LOG_BUDGET	20	/* ... per window and listener */

enum sess_state {
	SS_TLS = 1,		/* TLS handshake under way */
	SS_HELLO,		/* TLS up, waiting for the controller's HELLO */
	SS_READY,
	SS_CLOSING
};

struct sess {
	sess_server_t *srv;
	wire_conn_t *conn;
	enum sess_state state;
	int opened;		/* the handler's on_open ran */
	int in_handshake;	/* counted in nhandshake */
	int counted;		/* counted in nready */
	uint64_t since_ms;	/* monotonic: state entered */
	uint8_t addr[16];	/* the peer's address */
	uint64_t last_rx_ms;	/* monotonic: last message */
	sess_hello_t hello;
	void *udata;
	sess_t *prev, *next;
};

struct sess_server {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t sweep;
	int handles;		/* tcp and sweep */
	sess_server_opts_t o;
	char where[64];		/* "control 127.0.1.1:2210" */
	sess_t *sessions;
	size_t nhandshake;	/* in SS_TLS */
	size_t nready;		/* in SS_HELLO or SS_READY */
	size_t nalive;		/* sess_t not yet freed */
	int closing;
	uint64_t log_window;	/* start of the refusal log window */
	unsigned log_used;
	uint64_t log_suppressed;
};

static const wire_conn_cbs_t conn_cbs;

/* ---- refusal logging, rate-limited ---- */

static void refusal(sess_server_t *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
refusal(sess_server_t *srv, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	uint64_t now = mono_ms();

	if (now - srv->log_window >= LOG_WINDOW_MS) {
		if (srv->log_suppressed > 0)
			log_warnx("%s: %llu more refusals were not logged",
			    srv->where,
			    (unsigned long long)srv->log_suppressed);
		srv->log_window = now;
		srv->log_used = 0;
		srv->log_suppressed = 0;
	}
	if (srv->log_used >= LOG_BUDGET) {
		srv->log_suppressed++;
		return;
	}
	srv->log_used++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", srv->where, msg);
}

/* ---- freeing ---- */

static void
server_free_if_done(sess_server_t *srv)
{
	if (srv->closing && srv->handles == 0 && srv->nalive == 0) {
		void (*freed)(void *) = srv->o.h->on_server_freed;
		void *arg = srv->o.arg;

		free(srv);
		if (freed != NULL)
			freed(arg);
	}
}

static void
server_handle_closed(uv_handle_t *h)
{
	sess_server_t *srv = h->data;

	srv->handles--;
	server_free_if_done(srv);
}

/* ---- sending ---- */

int
sess_send(sess_t *s, const uint8_t *frame, size_t len)
{
	if (s->state == SS_CLOSING || s->conn == NULL)
		return FF_EINVAL;
	if (len < 4 || len - 4 > s->srv->o.max_frame)
		return FF_ELIMIT;
	return wire_conn_send(s->conn, frame, len);
}

int
sess_send_error(sess_t *s, uint32_t id, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (s->state == SS_CLOSING || s->conn == NULL)
		return FF_EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return wire_conn_send_error(s->conn, id, code, msg);
}

void
sess_close(sess_t *s, const char *why)
{
	if (s->state == SS_CLOSING || s->conn == NULL)
		return;
	s->state = SS_CLOSING;
	wire_conn_close(s->conn, why);
}

/* Send ERROR, log it, and close. */
static void
sess_abort(sess_t *s, uint32_t id, int code, const char *msg)
{
	log_warnx("%s: closing the session with %s (key %s): %s",
	    s->srv->where, wire_conn_peer(s->conn), wire_conn_peer_fp(s->conn),
	    msg);
	sess_send_error(s, id, code, "%s", msg);
	sess_close(s, msg);
}

/* ---- HELLO ---- */

static int
send_hello(sess_t *s)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = wire_msg_begin(&b, WIRE_HELLO, 0, 8)) == 0) {
		wire_put_u64(&b, "proto_min", WIRE_PROTO_MIN);
		wire_put_u64(&b, "proto_max", WIRE_PROTO_MAX);
		wire_put_str(&b, "role", "node");
		wire_put_str(&b, "channel", s->srv->o.channel);
		wire_put_str(&b, "name", s->srv->o.name);
		wire_put_str(&b, "version", FF_VERSION);
		wire_put_key(&b, "features");
		msgpack_pack_array(wire_builder_pk(&b), 0);
		wire_put_u64(&b, "time_ms", now_ms());
		if ((rc = wire_msg_end(&b, &f, &flen)) == 0)
			rc = sess_send(s, f, flen);
	}
	wire_builder_free(&b);
	return rc;
}

static void
on_hello(sess_t *s, const wire_msg_t *m)
{
	sess_hello_t *h = &s->hello;
	uint64_t pmin, pmax;
	char msg[256];
	int enroll = 0, rc;

	memset(h, 0, sizeof(*h));
	if (m->type != WIRE_HELLO) {
		snprintf(msg, sizeof(msg), "%s before HELLO",
		    wire_type_name(m->type));
		sess_abort(s, m->id, FF_EPROTO, msg);
		return;
	}
	if (wire_get_u64(&m->body, "proto_min", &pmin) != 0 ||
	    wire_get_u64(&m->body, "proto_max", &pmax) != 0 ||
	    wire_get_strbuf(&m->body, "name", h->name, sizeof(h->name)) != 0 ||
	    wire_get_strbuf(&m->body, "version", h->version,
	    sizeof(h->version)) != 0 ||
	    wire_get_u64(&m->body, "time_ms", &h->time_ms) != 0 ||
	    pmin > pmax) {
		sess_abort(s, m->id, FF_EPROTO, "malformed HELLO");
		return;
	}
	if (!wire_str_is(&m->body, "role", "controller")) {
		sess_abort(s, m->id, FF_EPROTO, "HELLO: role must be "
		    "\"controller\"");
		return;
	}
	if (!wire_str_is(&m->body, "channel", s->srv->o.channel)) {
		snprintf(msg, sizeof(msg), "HELLO: this is the %s channel",
		    s->srv->o.channel);
		sess_abort(s, m->id, FF_EPROTO, msg);
		return;
	}
	if (pmax < WIRE_PROTO_MIN || pmin > WIRE_PROTO_MAX) {
		snprintf(msg, sizeof(msg), "unsupported version: peer speaks "
		    "%llu..%llu, we speak %u..%u", (unsigned long long)pmin,
		    (unsigned long long)pmax, WIRE_PROTO_MIN, WIRE_PROTO_MAX);
		sess_abort(s, m->id, FF_EVERSION, msg);
		return;
	}
	rc = wire_get_bool(&m->body, "enroll", &enroll);
	if (rc == FF_EPROTO) {
		sess_abort(s, m->id, FF_EPROTO, "HELLO: enroll must be a "
		    "boolean");
		return;
	}
	h->enroll = enroll && strcmp(s->srv->o.channel, "control") == 0;
	h->proto = (unsigned)FF_MIN(pmax, (uint64_t)WIRE_PROTO_MAX);
	if (send_hello(s) != 0) {
		sess_close(s, "cannot send HELLO");
		return;
	}
	s->state = SS_READY;
	s->opened = 1;
	log_info("%s: controller %s (%s, version %s, key %s) connected%s",
	    s->srv->where, h->name, wire_conn_peer(s->conn), h->version,
	    wire_conn_peer_fp(s->conn), h->enroll ? " to enroll us" : "");
	if (s->srv->o.h->on_open)
		s->srv->o.h->on_open(s->srv->o.arg, s, h);
}

static void
send_pong(sess_t *s, const wire_msg_t *m)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	uint64_t t1, t2 = now_ms();

	if (wire_get_u64(&m->body, "t1", &t1) != 0) {
		sess_send_error(s, m->id, FF_EPROTO, "PING without t1");
		return;
	}
	if (wire_msg_begin(&b, WIRE_PONG, m->id, 3) == 0) {
		wire_put_u64(&b, "t1", t1);
		wire_put_u64(&b, "t2", t2);
		wire_put_u64(&b, "t3", now_ms());
		if (wire_msg_end(&b, &f, &flen) == 0)
			sess_send(s, f, flen);
	}
	wire_builder_free(&b);
}

/* ---- connection callbacks ---- */

static int
conn_verify(wire_conn_t *c, const char *fp)
{
	sess_t *s = wire_conn_udata(c);

	return s->srv->o.trust(s->srv->o.trust_arg, fp);
}

static void
conn_ready(wire_conn_t *c)
{
	sess_t *s = wire_conn_udata(c);
	sess_server_t *srv = s->srv;

	srv->nhandshake--;
	s->in_handshake = 0;
	if (srv->nready >= srv->o.max_sessions) {
		refusal(srv, "refused %s (key %s): already %zu sessions",
		    wire_conn_peer(c), wire_conn_peer_fp(c), srv->nready);
		s->state = SS_CLOSING;
		wire_conn_close(c, "too many sessions");
		return;
	}
	srv->nready++;
	s->counted = 1;
	s->state = SS_HELLO;
	s->since_ms = s->last_rx_ms = mono_ms();
}

static void
conn_msg(wire_conn_t *c, wire_msg_t *m)
{
	sess_t *s = wire_conn_udata(c);
	sess_server_t *srv = s->srv;
	char msg[128];
	int rc;

	if (s->state == SS_CLOSING)
		return;
	s->last_rx_ms = mono_ms();
	if (s->state == SS_HELLO) {
		on_hello(s, m);
		return;
	}
	rc = srv->o.h->on_msg(srv->o.arg, s, m);
	if (rc != FF_ENOTSUP || s->state == SS_CLOSING)
		return;
	switch (m->type) {
	case WIRE_PING:
		send_pong(s, m);
		return;
	case WIRE_HELLO:
		sess_abort(s, m->id, FF_EPROTO, "HELLO was already exchanged");
		return;
	case WIRE_ERROR: {
		int64_t code = 0;
		char text[256] = "";

		(void)wire_get_i64(&m->body, "code", &code);
		(void)wire_get_strbuf(&m->body, "msg", text, sizeof(text));
		log_warnx("%s: controller %s reports error %lld about request "
		    "%u: %s", srv->where, wire_conn_peer(c), (long long)code,
		    m->id, text);
		return;
	}
	}
	if (strcmp(wire_type_name(m->type), "unknown") == 0) {
		log_info("%s: %s sent a message of unknown type %u: answered "
		    "with an error", srv->where, wire_conn_peer(c), m->type);
		sess_send_error(s, m->id, FF_ENOTSUP, "not supported: message "
		    "type %u", m->type);
		return;
	}
	snprintf(msg, sizeof(msg), "%s is not allowed on the %s channel",
	    wire_type_name(m->type), srv->o.channel);
	sess_abort(s, m->id, FF_EPROTO, msg);
}

static void
conn_drain(wire_conn_t *c)
{
	sess_t *s = wire_conn_udata(c);

	if (s->opened && s->state != SS_CLOSING && s->srv->o.h->on_drain)
		s->srv->o.h->on_drain(s->srv->o.arg, s);
}

static void
conn_close(wire_conn_t *c, int err, const char *why)
{
	sess_t *s = wire_conn_udata(c);
	sess_server_t *srv = s->srv;
	const char *fp = wire_conn_peer_fp(c);

	if (s->in_handshake) {
		srv->nhandshake--;
		if (!srv->closing)
			refusal(srv, "refused %s (key %s): %s",
			    wire_conn_peer(c), fp[0] ? fp : "none presented",
			    why);
	} else if (s->counted) {
		srv->nready--;
		if (err != 0)
			log_warnx("%s: session with %s (key %s) lost: %s",
			    srv->where, wire_conn_peer(c), fp, why);
		else
			log_info("%s: session with %s closed: %s", srv->where,
			    wire_conn_peer(c), why);
	}
	if (s->opened && srv->o.h->on_close) {
		s->state = SS_CLOSING;
		srv->o.h->on_close(srv->o.arg, s);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	srv->nalive--;
	server_free_if_done(srv);
}

static const wire_conn_cbs_t conn_cbs = {
	.on_ready = conn_ready,
	.on_msg = conn_msg,
	.on_drain = conn_drain,
	.on_close = conn_close,
};

/* ---- accepting ---- */

/* Pending TLS handshakes from address a. */
static size_t
pending_from(const sess_server_t *srv, const uint8_t a[16])
{
	size_t n = 0;

	for (const sess_t *s = srv->sessions; s != NULL; s = s->next)
		if (s->in_handshake && memcmp(s->addr, a, 16) == 0)
			n++;
	return n;
}

/* Close v, a pending handshake, to make room for a new connection. */
static void
evict(sess_server_t *srv, sess_t *v, const char *why)
{
	v->in_handshake = 0;
	srv->nhandshake--;
	v->state = SS_CLOSING;
	refusal(srv, "closed %s (key none presented) after %llu ms in the TLS "
	    "handshake, to make room for a new connection: %s",
	    wire_conn_peer(v->conn),
	    (unsigned long long)(mono_ms() - v->since_ms), why);
	wire_conn_close(v->conn, "evicted from the TLS handshake");
}

/*
 * New is a just-accepted connection (counted). Keep the caps by closing
 * an older pending handshake, never new: the oldest from new's address
 * when that address is over its cap, else, over the listener's cap, the
 * oldest of the address that holds the most. So a source that keeps
 * connections idle in the handshake only pushes out its own, and one
 * new connection always gets its chance.
 */
static void
make_room(sess_server_t *srv, sess_t *new)
{
	sess_t *v = NULL;
	size_t most = 0, n;
	char why[160], ab[ADDR_STRLEN];

	if ((n = pending_from(srv, new->addr)) > srv->o.max_handshakes_source) {
		/* the list is newest first: the last match is the oldest */
		for (sess_t *s = new->next; s != NULL; s = s->next)
			if (s->in_handshake && memcmp(s->addr, new->addr, 16)
			    == 0)
				v = s;
		snprintf(why, sizeof(why), "%zu connections from %s in TLS "
		    "handshake (at most %u per address)", n,
		    addr_fmt(new->addr, ab, sizeof(ab)),
		    srv->o.max_handshakes_source);
	} else if (srv->nhandshake > srv->o.max_handshakes) {
		for (sess_t *s = new->next; s != NULL; s = s->next) {
			if (!s->in_handshake)
				continue;
			n = pending_from(srv, s->addr);
			if (n >= most) {
				most = n;
				v = s;
			}
		}
		snprintf(why, sizeof(why), "%zu connections in TLS handshake "
		    "(at most %u)", srv->nhandshake, srv->o.max_handshakes);
	}
	if (v != NULL)
		evict(srv, v, why);
}

/* Accept and close at once: no memory for the session. */
static void
drop_pending(sess_server_t *srv)
{
	uv_tcp_t *tmp;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uint8_t a[16];
	uint16_t port = 0;
	char ab[ADDR_STRLEN] = "?";

	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return;
	uv_tcp_init(srv->loop, tmp);
	if (uv_accept((uv_stream_t *)&srv->tcp, (uv_stream_t *)tmp) == 0 &&
	    uv_tcp_getpeername(tmp, (struct sockaddr *)&ss, &len) == 0) {
		addr_from_sockaddr((struct sockaddr *)&ss, a, &port);
		addr_fmt(a, ab, sizeof(ab));
	}
	refusal(srv, "refused %s:%u (key none presented): out of memory", ab,
	    port);
	uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

static void
on_connection(uv_stream_t *server, int status)
{
	sess_server_t *srv = server->data;
	wire_conn_opts_t co;
	sess_t *s;

	if (status != 0) {
		log_warnx("%s: accept: %s", srv->where, uv_strerror(status));
		return;
	}
	if (srv->closing)
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		drop_pending(srv);
		return;
	}
	s->srv = srv;
	s->state = SS_TLS;
	memset(&co, 0, sizeof(co));
	co.id = srv->o.id;
	co.verify = conn_verify;
	co.max_frame = srv->o.max_frame;
	co.handshake_ms = srv->o.handshake_ms;
	co.cbs = &conn_cbs;
	co.udata = s;
	if (wire_conn_accept(server, &co, &s->conn) != 0) {
		free(s);
		return;
	}
	s->in_handshake = 1;
	s->since_ms = mono_ms();
	memcpy(s->addr, wire_conn_peer_addr(s->conn), sizeof(s->addr));
	srv->nhandshake++;
	srv->nalive++;
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	make_room(srv, s);
}

/* Once a second: HELLO and idle deadlines. */
static void
on_sweep(uv_timer_t *t)
{
	sess_server_t *srv = t->data;
	uint64_t now = mono_ms();

	for (sess_t *s = srv->sessions; s != NULL; s = s->next) {
		if (s->state == SS_HELLO &&
		    now - s->since_ms > srv->o.hello_ms)
			sess_abort(s, 0, FF_ETIMEDOUT, "no HELLO in time");
		else if (s->state == SS_READY &&
		    now - s->last_rx_ms > srv->o.idle_ms)
			sess_abort(s, 0, FF_ETIMEDOUT, "idle for too long");
	}
}

int
sess_server_open(uv_loop_t *loop, const sess_server_opts_t *o,
    sess_server_t **out, char *err, size_t errlen)
{
	sess_server_t *srv;
	char ab[64];
	uint8_t a[16];
	uint16_t port;
	int rc;

	if (o->trust == NULL || o->h == NULL || o->h->on_msg == NULL ||
	    o->id == NULL || o->channel == NULL || o->name == NULL) {
		snprintf(err, errlen, "sess_server_open: missing option");
		if (o->h != NULL && o->h->on_server_freed != NULL)
			o->h->on_server_freed(o->arg);
		return FF_EINVAL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		if (o->h->on_server_freed != NULL)
			o->h->on_server_freed(o->arg);
		return FF_ENOMEM;
	}
	srv->loop = loop;
	srv->o = *o;
	FF_DEFAULT(srv->o.max_handshakes, SESS_MAX_HANDSHAKES);
	FF_DEFAULT(srv->o.max_handshakes_source, SESS_MAX_HANDSHAKES_SOURCE);
	FF_DEFAULT(srv->o.max_sessions, SESS_MAX_SESSIONS);
	FF_DEFAULT(srv->o.hello_ms, SESS_HELLO_MS);
	FF_DEFAULT(srv->o.idle_ms, SESS_IDLE_MS);
	FF_DEFAULT(srv->o.max_frame, WIRE_MAX_FRAME_CONTROL);
	srv->o.addr = NULL;
	addr_from_sockaddr(o->addr, a, &port);
	addr_fmt(a, ab, sizeof(ab));
	snprintf(srv->where, sizeof(srv->where), addr_is_v4(a) ?
	    "%s %s:%u" : "%s [%s]:%u", o->channel, ab, port);
	uv_tcp_init(loop, &srv->tcp);
	uv_timer_init(loop, &srv->sweep);
	srv->tcp.data = srv;
	srv->sweep.data = srv;
	srv->handles = 2;
	srv->log_window = mono_ms();
	if ((rc = uv_tcp_bind(&srv->tcp, o->addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->tcp, 128, on_connection))
	    != 0) {
		snprintf(err, errlen, "%s listener on %s: %s", o->channel,
		    srv->where + strlen(o->channel) + 1, uv_strerror(rc));
		sess_server_close(srv);
		return FF_EIO;
	}
	uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	*out = srv;
	return 0;
}

void
sess_server_close(sess_server_t *srv)
{
	if (srv == NULL || srv->closing)
		return;
	srv->closing = 1;
	for (sess_t *s = srv->sessions; s != NULL; s = s->next)
		sess_close(s, "the node is stopping");
	uv_close((uv_handle_t *)&srv->tcp, server_handle_closed);
	uv_close((uv_handle_t *)&srv->sweep, server_handle_closed);
}

size_t
sess_server_sessions(const sess_server_t *srv)
{
	return srv->nready;
}

size_t
sess_queued(const sess_t *s)
{
	return s->conn ? wire_conn_queued(s->conn) : 0;
}

const char *
sess_peer(const sess_t *s)
{
	return wire_conn_peer(s->conn);
}

const char *
sess_peer_fp(const sess_t *s)
{
	return wire_conn_peer_fp(s->conn);
}

const sess_hello_t *
sess_hello(const sess_t *s)
{
	return &s->hello;
}

void *
sess_udata(const sess_t *s)
{
	return s->udata;
}

void
sess_set_udata(sess_t *s, void *udata)
{
	s->udata = udata;
}
