/*
 * The node's TLS listeners for the controller's two channels (2210
 * control, 4210 query). A listener binds, accepts with caps on the
 * connections still in their TLS handshake (per listener and per peer
 * address; a new connection always gets its chance: over a cap the
 * oldest pending handshake of the address holding the most is closed),
 * pins the controller's key
 * inside the handshake, logs every refusal with the peer's address and
 * key, runs the HELLO exchange (the controller speaks first), answers
 * PING, and hands every other message of a ready session to its
 * channel's handler (node/control.c, node/qserver.c).
 *
 * Replies to messages the handler does not take (PROTOCOL.md): an
 * unknown type gets ERROR -17 and the session stays; a known type that
 * does not belong on this channel, or anything before HELLO, gets ERROR
 * -5 and the session is closed. A peer that sends garbage, a frame over
 * the cap or a truncated frame loses its own connection only.
 *
 * Everything runs on the loop thread.
 */
#ifndef FF_NODE_SESSION_H
#define FF_NODE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "wire/wire.h"

#define SESS_MAX_HANDSHAKES	32	/* per listener, default */
#define SESS_MAX_HANDSHAKES_SOURCE 8	/* per listener and address */
#define SESS_MAX_SESSIONS	16	/* ready sessions per listener */
#define SESS_HELLO_MS		10000	/* HELLO due after TLS */
#define SESS_IDLE_MS		30000	/* silence that ends a session */

typedef struct sess_server sess_server_t;
typedef struct sess sess_t;

/* What the controller said in its HELLO. */
typedef struct sess_hello {
	char name[64];		/* the controller's name */
	char version[32];	/* its software version */
	unsigned proto;		/* the agreed protocol version */
	uint64_t time_ms;	/* its clock when it sent HELLO */
	int enroll;		/* it dialed us to receive a JOIN */
} sess_hello_t;

/*
 * A channel's handler. Every callback gets the handler's arg. All are
 * optional except on_msg.
 */
typedef struct sess_handler {
	/* HELLO exchanged: s is ready for this channel's messages. */
	void (*on_open)(void *arg, sess_t *s, const sess_hello_t *h);
	/*
	 * One message of a ready session (m valid during the call only).
	 * Return 0 when handled (replies, errors and closing included), or
	 * FF_ENOTSUP to let the listener answer as PROTOCOL.md says.
	 */
	int (*on_msg)(void *arg, sess_t *s, const wire_msg_t *m);
	/* Queued output fell below the low-water mark. */
	void (*on_drain)(void *arg, sess_t *s);
	/* s is gone (only for sessions that were opened); s is freed
	   after this returns. */
	void (*on_close)(void *arg, sess_t *s);
	/* The listener closed and every session is gone: arg may be freed
	   now. */
	void (*on_server_freed)(void *arg);
} sess_handler_t;

/* Decide on a peer's key fingerprint: return 0 to accept it. */
typedef int (*sess_trust_fn)(void *arg, const char *fp);

typedef struct sess_server_opts {
	const char *channel;		/* "control" or "query" (static) */
	const struct sockaddr *addr;	/* where to listen */
	size_t max_frame;		/* WIRE_MAX_FRAME_CONTROL/_QUERY */
	const wire_identity_t *id;	/* the node's key */
	sess_trust_fn trust;		/* required */
	void *trust_arg;
	const char *name;		/* the node's name, for HELLO */
	unsigned max_handshakes;	/* 0: SESS_MAX_HANDSHAKES */
	unsigned max_handshakes_source;	/* 0: SESS_MAX_HANDSHAKES_SOURCE */
	unsigned max_sessions;		/* 0: SESS_MAX_SESSIONS */
	uint32_t handshake_ms;		/* 0: wire's default (10 s) */
	uint32_t hello_ms;		/* 0: SESS_HELLO_MS */
	uint32_t idle_ms;		/* 0: SESS_IDLE_MS */
	const sess_handler_t *h;	/* required */
	void *arg;
} sess_server_opts_t;

/*
 * Bind and listen on o->addr. The strings in o must outlive the
 * listener. Returns 0 and *out (owned by the caller until
 * sess_server_close()), or FF_EIO / FF_ENOMEM / FF_EINVAL with a message
 * in err; on failure o->h->on_server_freed still runs (at once, or from
 * the loop when handles were opened).
 */
int sess_server_open(uv_loop_t *loop, const sess_server_opts_t *o,
    sess_server_t **out, char *err, size_t errlen);

/*
 * Stop listening and close every session (their handlers' on_close run
 * from the loop). The listener is freed once the loop has run the close
 * callbacks. Accepts NULL.
 */
void sess_server_close(sess_server_t *srv);

/* Number of ready sessions. */
size_t sess_server_sessions(const sess_server_t *srv);

/*
 * Send a complete frame (from wire_msg_end) on s. Returns 0, or FF_EINVAL
 * when s is closing, FF_ELIMIT when the frame is over the channel's cap.
 */
int sess_send(sess_t *s, const uint8_t *frame, size_t len);

/* Send ERROR {code, msg} about request id. Returns as sess_send(). */
int sess_send_error(sess_t *s, uint32_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Close s (orderly); the handler's on_close follows. Idempotent. */
void sess_close(sess_t *s, const char *why);

/* Bytes queued on s and not yet written. */
size_t sess_queued(const sess_t *s);

/* The peer's "address:port" and key fingerprint. */
const char *sess_peer(const sess_t *s);
const char *sess_peer_fp(const sess_t *s);
/* The controller's HELLO. */
const sess_hello_t *sess_hello(const sess_t *s);

/* A pointer for the handler's own use; NULL until set. */
void *sess_udata(const sess_t *s);
void sess_set_udata(sess_t *s, void *udata);

#endif
