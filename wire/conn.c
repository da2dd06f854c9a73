/*
 * A connection: libuv TCP stream <-> mbedTLS (TLS 1.2, certificates on
 * both sides, peer key pinned by a callback) <-> frames <-> messages.
 *
 * mbedTLS talks to the socket through two callbacks: bio_recv reads from
 * the chunk libuv just delivered, bio_send appends to an output buffer
 * that is written with uv_write after each TLS operation.
 *
 * Lifetime: a connection is freed only after its TCP handle and timer
 * have both closed. Once closing starts nothing is read or delivered, and
 * on_close runs exactly once, just before the memory is freed.
 */
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/error.h>
#include <mbedtls/version.h>
#include <mbedtls/ssl.h>

#include "common/err.h"
#include "common/util.h"
#include "wire.h"
#include "wire_int.h"

#define DEF_HANDSHAKE_MS	10000
#define DEF_LOW_WATER		(256 * 1024)
#define CLOSE_GRACE_MS		2000
#define READ_CHUNK		(64 * 1024)

enum conn_state {
	CS_CONNECTING = 1,	/* TCP connect in progress */
	CS_HANDSHAKE,
	CS_READY,
	CS_CLOSING
};

struct wire_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;		/* handshake deadline, close grace */
	uv_connect_t connect_req;
	int handles_open;		/* of tcp and timer */
	int is_server;
	enum conn_state state;
	wire_conn_opts_t o;
	wire_conn_cbs_t cbs;

	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	int ssl_inited;

	const uint8_t *in;		/* ciphertext not yet given to TLS */
	size_t in_len;
	uint8_t *out;			/* ciphertext waiting for uv_write */
	size_t out_len, out_cap;
	size_t queued;			/* bytes handed to uv_write, pending */
	int above_low;			/* queued went above low water */

	wire_framer_t framer;
	char peer[64];
	uint8_t peer_addr[16];
	char peer_fp[WIRE_FP_LEN];
	int pin_ok;			/* verify callback accepted the key */
	int close_err;
	char close_why[256];
	int close_reported;
	int in_callback;		/* depth of user callbacks running */
};

struct write_req {
	uv_write_t req;
	wire_conn_t *c;
	size_t len;
	uint8_t data[];
};

static const int ciphersuites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	0
};

static void conn_fail(wire_conn_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_flush(wire_conn_t *c);
static void process_input(wire_conn_t *c);

/* ---- small helpers ---- */

static void
tls_errstr(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
}

static void
on_handle_closed(uv_handle_t *h)
{
	wire_conn_t *c = h->data;

	if (--c->handles_open > 0)
		return;
	if (!c->close_reported && c->cbs.on_close) {
		c->close_reported = 1;
		c->cbs.on_close(c, c->close_err, c->close_why);
	}
	wire_framer_free(&c->framer);
	if (c->ssl_inited) {
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
	}
	free(c->out);
	free(c);
}

static void
close_handles(wire_conn_t *c)
{
	uv_timer_stop(&c->timer);
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	wire_conn_t *c = req->data;

	(void)status;
	free(req);
	close_handles(c);
}

static void
on_close_grace(uv_timer_t *t)
{
	close_handles(t->data);
}

/* Begin closing: record why (first reason wins), flush, shut down. */
static void
conn_begin_close(wire_conn_t *c, int err, const char *why, int graceful)
{
	uv_shutdown_t *req;

	if (c->state == CS_CLOSING)
		return;
	c->close_err = err;
	snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (graceful && c->state == CS_READY) {
		mbedtls_ssl_close_notify(&c->ssl);
		c->state = CS_CLOSING;
		conn_flush(c);
	}
	c->state = CS_CLOSING;
	if (!graceful || c->handles_open < 2 ||
	    uv_is_closing((uv_handle_t *)&c->tcp)) {
		close_handles(c);
		return;
	}
	/* let queued bytes go out, but not forever */
	uv_timer_stop(&c->timer);
	uv_timer_start(&c->timer, on_close_grace, CLOSE_GRACE_MS, 0);
	if ((req = malloc(sizeof(*req))) == NULL) {
		close_handles(c);
		return;
	}
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		free(req);
		close_handles(c);
	}
}

static void
conn_fail(wire_conn_t *c, int err, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_begin_close(c, err, why, 0);
}

/* ---- TLS I/O callbacks ---- */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	wire_conn_t *c = ctx;

	if (len > INT_MAX || c->out_len > SIZE_MAX / 2 - len)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 16384;
		uint8_t *n;

		while (cap < c->out_len + len)
			cap *= 2;
		if ((n = realloc(c->out, cap)) == NULL)
			return MBEDTLS_ERR_SSL_ALLOC_FAILED;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return (int)len;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	wire_conn_t *c = ctx;
	size_t n;

	if (c->in_len == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	n = FF_MIN(len, c->in_len);
	memcpy(buf, c->in, n);
	c->in += n;
	c->in_len -= n;
	return (int)n;
}

static int
verify_peer(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	wire_conn_t *c = ctx;

	if (depth != 0)
		return 0;	/* we pin leaf keys; chains are not used */
	if (wire_pk_fingerprint(&crt->pk, c->peer_fp) != 0) {
		*flags |= MBEDTLS_X509_BADCERT_OTHER;
		return 0;
	}
	if (c->o.verify(c, c->peer_fp) == 0) {
		c->pin_ok = 1;
		*flags = 0;	/* the pin is the trust decision */
	} else {
		c->pin_ok = 0;
		*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	}
	return 0;
}

/* ---- writing ---- */

static void
on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	wire_conn_t *c = w->c;

	c->queued -= w->len;
	free(w);
	if (status < 0 && c->state != CS_CLOSING) {
		conn_fail(c, FF_EIO, "write: %s", uv_strerror(status));
		return;
	}
	if (c->above_low && c->queued <= c->o.low_water &&
	    c->state == CS_READY) {
		c->above_low = 0;
		if (c->cbs.on_drain)
			c->cbs.on_drain(c);
	}
}

/* Hand buffered ciphertext to libuv. */
static void
conn_flush(wire_conn_t *c)
{
	struct write_req *w;
	uv_buf_t b;
	int rc;

	if (c->out_len == 0 || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if ((w = malloc(sizeof(*w) + c->out_len)) == NULL) {
		conn_fail(c, FF_ENOMEM, "out of memory");
		return;
	}
	w->c = c;
	w->len = c->out_len;
	memcpy(w->data, c->out, c->out_len);
	c->out_len = 0;
	b = uv_buf_init((char *)w->data, (unsigned)w->len);
	if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
	    on_written)) != 0) {
		free(w);
		conn_fail(c, FF_EIO, "write: %s", uv_strerror(rc));
		return;
	}
	c->queued += w->len;
	if (c->queued > c->o.low_water)
		c->above_low = 1;
}

int
wire_conn_send(wire_conn_t *c, const uint8_t *frame, size_t len)
{
	size_t off = 0;

	if (c->state != CS_READY)
		return FF_EINVAL;
	while (off < len) {
		int n = mbedtls_ssl_write(&c->ssl, frame + off, len - off);

		if (n < 0) {
			char eb[128];

			tls_errstr(n, eb, sizeof(eb));
			conn_fail(c, FF_EIO, "TLS write: %s", eb);
			return FF_EIO;
		}
		off += (size_t)n;
	}
	conn_flush(c);
	return 0;
}

int
wire_conn_send_error(wire_conn_t *c, uint32_t id, int code, const char *msg)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = wire_msg_error(&b, id, code, msg, &f, &flen)) == 0)
		rc = wire_conn_send(c, f, flen);
	wire_builder_free(&b);
	return rc;
}

/* ---- reading ---- */

static void
deliver(wire_conn_t *c, const uint8_t *plain, size_t len)
{
	size_t off = 0;

	while (off < len && c->state == CS_READY) {
		uint8_t *frame;
		size_t used, flen;
		int rc;

		rc = wire_framer_feed(&c->framer, plain + off, len - off,
		    &used, &frame, &flen);
		off += used;
		if (rc == 0)
			break;
		if (rc < 0) {
			conn_fail(c, rc, rc == FF_ELIMIT ?
			    "frame of %zu bytes is over the %zu-byte cap" :
			    "bad frame (%zu/%zu)", c->framer.len,
			    c->framer.max);
			return;
		} else {
			wire_msg_t m;

			if (wire_msg_decode(frame, flen, &m) != 0) {
				free(frame);
				conn_fail(c, FF_EPROTO, "undecodable message "
				    "(%zu bytes)", flen);
				return;
			}
			c->in_callback++;
			c->cbs.on_msg(c, &m);
			c->in_callback--;
			wire_msg_free(&m);
			free(frame);	/* m pointed into it */
		}
	}
}

/* The peer ended the stream: orderly, unless a frame was left unfinished. */
static void
peer_closed(wire_conn_t *c)
{
	char why[128];

	if (c->framer.hdr_have > 0) {
		snprintf(why, sizeof(why), "closed by peer in the middle of a "
		    "frame (%zu of %zu bytes)", c->framer.hdr_have < 4 ?
		    c->framer.hdr_have : 4 + c->framer.have,
		    c->framer.hdr_have < 4 ? (size_t)4 : 4 + c->framer.len);
		conn_begin_close(c, FF_ETRUNC, why, 0);
	} else
		conn_begin_close(c, 0, "closed by peer", 1);
}

static void
handshake_done(wire_conn_t *c)
{
	uint32_t vr = mbedtls_ssl_get_verify_result(&c->ssl);

	if (!c->pin_ok || vr != 0 || mbedtls_ssl_get_peer_cert(&c->ssl) ==
	    NULL) {
		conn_fail(c, FF_EAUTH, "peer key %s is not trusted",
		    c->peer_fp[0] ? c->peer_fp : "(none)");
		return;
	}
	uv_timer_stop(&c->timer);
	c->state = CS_READY;
	c->in_callback++;
	if (c->cbs.on_ready)
		c->cbs.on_ready(c);
	c->in_callback--;
}

/*
 * The handshake ended on a fatal alert from the peer: an alert about our
 * certificate is a trust failure (FF_EAUTH), any other a protocol one.
 * mbedTLS 2 leaves the alert's record in in_msg.
 */
static void
alert_failed(wire_conn_t *c)
{
	static const struct {
		int code;
		const char *name;
	} alerts[] = {
		{ MBEDTLS_SSL_ALERT_MSG_BAD_CERT, "bad certificate" },
		{ MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT,
		    "unsupported certificate" },
		{ MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, "certificate revoked" },
		{ MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED, "certificate expired" },
		{ MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN, "certificate unknown" },
		{ MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA, "unknown CA" },
		{ MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED, "access denied" },
	};
	int code = -1;

#if MBEDTLS_VERSION_NUMBER < 0x03000000
	if (c->ssl.in_msg != NULL && c->ssl.in_msgtype ==
	    MBEDTLS_SSL_MSG_ALERT && c->ssl.in_msglen >= 2)
		code = c->ssl.in_msg[1];
#endif
	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (alerts[i].code == code) {
			conn_fail(c, FF_EAUTH, "TLS handshake: the peer "
			    "refused our certificate (TLS alert %d, %s)", code,
			    alerts[i].name);
			return;
		}
	if (code >= 0)
		conn_fail(c, FF_EPROTO, "TLS handshake: the peer ended it "
		    "with TLS alert %d", code);
	else
		conn_fail(c, FF_EPROTO, "TLS handshake: the peer ended it "
		    "with a TLS alert");
}

static void
process_input(wire_conn_t *c)
{
	unsigned char plain[16384];
	char eb[160];
	int rc;

	if (c->state == CS_HANDSHAKE) {
		rc = mbedtls_ssl_handshake(&c->ssl);
		conn_flush(c);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return;
		if (rc != 0) {
			tls_errstr(rc, eb, sizeof(eb));
			if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
				conn_fail(c, FF_EAUTH, "TLS handshake: peer "
				    "key %s is not trusted", c->peer_fp[0] ?
				    c->peer_fp : "(none)");
			else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
				alert_failed(c);
			else if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE ||
			    rc == MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED)
				conn_fail(c, FF_EAUTH, "TLS handshake: %s "
				    "(no certificate)", eb);
			else
				conn_fail(c, FF_EAUTH, "TLS handshake: %s", eb);
			return;
		}
		handshake_done(c);
	}
	while (c->state == CS_READY) {
		rc = mbedtls_ssl_read(&c->ssl, plain, sizeof(plain));
		if (rc > 0) {
			deliver(c, plain, (size_t)rc);
			continue;
		}
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			peer_closed(c);
			break;
		}
		tls_errstr(rc, eb, sizeof(eb));
		conn_fail(c, FF_EIO, "TLS read: %s", eb);
		break;
	}
	conn_flush(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(READ_CHUNK);
	buf->len = buf->base ? READ_CHUNK : 0;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	wire_conn_t *c = s->data;

	if (nread < 0) {
		if (nread == UV_EOF && c->state == CS_READY)
			peer_closed(c);
		else if ((nread == UV_EOF || nread == UV_ECONNRESET) &&
		    c->state == CS_HANDSHAKE)
			conn_begin_close(c, FF_ETRUNC, nread == UV_EOF ?
			    "the peer closed the connection during the TLS "
			    "handshake, without a TLS alert" : "the peer reset "
			    "the connection during the TLS handshake, without "
			    "a TLS alert", 0);
		else
			conn_fail(c, FF_EIO, "read: %s",
			    uv_strerror((int)nread));
		free(buf->base);
		return;
	}
	if (nread > 0 && c->state != CS_CLOSING) {
		c->in = (const uint8_t *)buf->base;
		c->in_len = (size_t)nread;
		process_input(c);
		c->in = NULL;
		c->in_len = 0;
	}
	free(buf->base);
}

static void
on_handshake_timeout(uv_timer_t *t)
{
	wire_conn_t *c = t->data;

	conn_fail(c, FF_ETIMEDOUT, "TLS handshake did not finish in %u ms",
	    c->o.handshake_ms);
}

/* ---- set-up ---- */

static wire_conn_t *
conn_new(uv_loop_t *loop, const wire_conn_opts_t *o, int is_server)
{
	wire_conn_t *c;

	if (o->cbs == NULL || o->cbs->on_msg == NULL || o->verify == NULL ||
	    o->id == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->o = *o;
	c->cbs = *o->cbs;
	FF_DEFAULT(c->o.handshake_ms, DEF_HANDSHAKE_MS);
	FF_DEFAULT(c->o.low_water, DEF_LOW_WATER);
	FF_DEFAULT(c->o.max_frame, WIRE_MAX_FRAME_CONTROL);
	c->is_server = is_server;
	wire_framer_init(&c->framer, c->o.max_frame);
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	((uv_handle_t *)&c->tcp)->data = c;
	c->timer.data = c;
	c->handles_open = 2;
	return c;
}

static int
tls_setup(wire_conn_t *c)
{
	wire_identity_t *id = (wire_identity_t *)(uintptr_t)c->o.id;

	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	c->ssl_inited = 1;
	if (mbedtls_ssl_config_defaults(&c->conf, c->is_server ?
	    MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return FF_ECRYPTO;
	mbedtls_ssl_conf_rng(&c->conf, wire_rng, NULL);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&c->conf, ciphersuites);
	/* certificates on both sides; trust is the pin, decided in
	 * verify_peer; our own certificate stands in as the CA list so the
	 * verification step runs at all */
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &id->cert, NULL);
	if (mbedtls_ssl_conf_own_cert(&c->conf, &id->cert, &id->key) != 0)
		return FF_ECRYPTO;
	if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0)
		return FF_ECRYPTO;
	mbedtls_ssl_set_verify(&c->ssl, verify_peer, c);
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return 0;
}

static void
peer_name(wire_conn_t *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uint8_t a[16];
	uint16_t port;
	char ab[ADDR_STRLEN];

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(c->peer, sizeof(c->peer), "?");
		return;
	}
	addr_from_sockaddr((struct sockaddr *)&ss, a, &port);
	memcpy(c->peer_addr, a, sizeof(c->peer_addr));
	addr_fmt(a, ab, sizeof(ab));
	snprintf(c->peer, sizeof(c->peer), addr_is_v4(a) ? "%s:%u" :
	    "[%s]:%u", ab, port);
}

static int
start_tls(wire_conn_t *c)
{
	int rc;

	uv_tcp_nodelay(&c->tcp, 1);
	uv_tcp_keepalive(&c->tcp, 1, 30);
	if ((rc = tls_setup(c)) != 0) {
		conn_fail(c, rc, "TLS set-up failed");
		return rc;
	}
	c->state = CS_HANDSHAKE;
	uv_timer_start(&c->timer, on_handshake_timeout, c->o.handshake_ms, 0);
	if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
	    != 0) {
		conn_fail(c, FF_EIO, "read: %s", uv_strerror(rc));
		return FF_EIO;
	}
	if (!c->is_server)
		process_input(c);	/* send ClientHello */
	return 0;
}

int
wire_conn_accept(uv_stream_t *server, const wire_conn_opts_t *o,
    wire_conn_t **out)
{
	wire_conn_t *c;
	int rc;

	if ((c = conn_new(server->loop, o, 1)) == NULL) {
		/* accept and drop, so the backlog does not fill */
		uv_tcp_t *tmp = malloc(sizeof(*tmp));

		if (tmp != NULL) {
			uv_tcp_init(server->loop, tmp);
			if (uv_accept(server, (uv_stream_t *)tmp) == 0)
				uv_close((uv_handle_t *)tmp,
				    (uv_close_cb)free);
			else
				uv_close((uv_handle_t *)tmp,
				    (uv_close_cb)free);
		}
		return FF_ENOMEM;
	}
	if ((rc = uv_accept(server, (uv_stream_t *)&c->tcp)) != 0) {
		c->close_reported = 1;	/* nobody to tell yet */
		conn_begin_close(c, FF_EIO, "accept failed", 0);
		return FF_EIO;
	}
	peer_name(c);
	*out = c;
	start_tls(c);
	return 0;
}

static void
on_connected(uv_connect_t *req, int status)
{
	wire_conn_t *c = req->data;

	if (c->state == CS_CLOSING)
		return;
	if (status < 0) {
		conn_fail(c, FF_EIO, "connect: %s", uv_strerror(status));
		return;
	}
	peer_name(c);
	start_tls(c);
}

static void
on_connect_timeout(uv_timer_t *t)
{
	wire_conn_t *c = t->data;

	conn_fail(c, FF_ETIMEDOUT, "connect timed out after %u ms",
	    c->o.handshake_ms);
}

int
wire_conn_connect(uv_loop_t *loop, const struct sockaddr *addr,
    const wire_conn_opts_t *o, wire_conn_t **out)
{
	wire_conn_t *c;
	uint8_t a[16];
	uint16_t port;
	char ab[ADDR_STRLEN];
	int rc;

	if ((c = conn_new(loop, o, 0)) == NULL)
		return FF_ENOMEM;
	addr_from_sockaddr(addr, a, &port);
	addr_fmt(a, ab, sizeof(ab));
	snprintf(c->peer, sizeof(c->peer), addr_is_v4(a) ? "%s:%u" :
	    "[%s]:%u", ab, port);
	c->state = CS_CONNECTING;
	c->connect_req.data = c;
	if ((rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr,
	    on_connected)) != 0) {
		c->close_reported = 1;	/* the caller learns it from rc */
		conn_begin_close(c, FF_EIO, "connect failed", 0);
		return FF_EIO;
	}
	uv_timer_start(&c->timer, on_connect_timeout, c->o.handshake_ms, 0);
	*out = c;
	return 0;
}

void
wire_conn_close(wire_conn_t *c, const char *why)
{
	conn_begin_close(c, 0, why ? why : "closed", 1);
}

size_t
wire_conn_queued(const wire_conn_t *c)
{
	return c->queued + c->out_len;
}

const char *
wire_conn_peer(const wire_conn_t *c)
{
	return c->peer;
}

const uint8_t *
wire_conn_peer_addr(const wire_conn_t *c)
{
	return c->peer_addr;
}

const char *
wire_conn_peer_fp(const wire_conn_t *c)
{
	return c->peer_fp;
}

void *
wire_conn_udata(const wire_conn_t *c)
{
	return c->o.udata;
}

void
wire_conn_set_udata(wire_conn_t *c, void *udata)
{
	c->o.udata = udata;
}

int
wire_conn_is_ready(const wire_conn_t *c)
{
	return c->state == CS_READY;
}
