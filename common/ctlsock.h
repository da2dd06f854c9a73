/*
 * The local control socket: a Unix stream socket (mode 0600) on which a
 * daemon answers the programs of its own host. Both daemons use this one
 * server; what they say on it is a protocol on top:
 *
 *   node/localsock.c     the node's node.sock: one request line, the
 *                        reply, then the node closes
 *   controller/clisock.c the controller's socket for the CLI: the wire
 *                        protocol's frames and messages, dispatched by
 *                        message type
 *
 * The server owns the listening socket and every client connection: the
 * socket file (its directory made 0700 if missing, a stale socket
 * replaced, removed at close only if it is still ours), a cap on clients,
 * idle timeouts, queued writes and the close lifecycle. A protocol sees
 * bytes (on_data) and writes bytes (ctlsock_write).
 *
 * The other side, a blocking client, is in ctlclient.h.
 *
 * Lifetime: a client's memory stays valid until its connection has
 * closed (on_close has run) and every ctlsock_hold() has been released,
 * so a reply that comes later (ctlsock_alive() then says whether anyone
 * is still there) never touches freed memory. Everything runs on the
 * loop thread.
 */
#ifndef FF_CTLSOCK_H
#define FF_CTLSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct ctlsock ctlsock_t;
typedef struct ctlsock_client ctlsock_client_t;

/*
 * A protocol on the socket: its limits and what it does with its
 * clients. Usually a static const of the protocol's file. Of the
 * functions only on_data is required.
 */
typedef struct ctlsock_proto {
	/* Who would answer on a live socket, for "another WHO is running". */
	const char *who;
	size_t max_clients;	/* connected at once; one more is refused */
	/*
	 * Close a client that holds no pending reply (ctlsock_hold) and has
	 * had neither a request (ctlsock_touch) nor a reply for this long.
	 */
	uint32_t idle_ms;
	/* Once a client is closing, its queued replies have this long to
	   go out (0: 2 s). */
	uint32_t grace_ms;
	/* Bytes of the protocol's state kept with the server and with each
	   client (zeroed; see ctlsock_state() and ctlsock_data()). */
	size_t state_size;
	size_t client_size;

	/*
	 * A client connected (within the cap). Return 0 to serve it, or a
	 * negative ff_err code to drop it (on_close then does not run).
	 */
	int (*on_open)(ctlsock_client_t *cl);
	/*
	 * A client over the cap is refused: last words for it (an error
	 * message), written before its connection closes.
	 */
	void (*on_busy)(ctlsock_client_t *cl);
	/* Bytes from the client: data[0..len), valid during the call only. */
	void (*on_data)(ctlsock_client_t *cl, const uint8_t *data, size_t len);
	/*
	 * The connection of a client that on_open accepted is gone; err is
	 * 0 for an orderly close, else an ff_err code; why is text for
	 * logs. Runs exactly once; no write is possible any more.
	 */
	void (*on_close)(ctlsock_client_t *cl, int err, const char *why);
} ctlsock_proto_t;

/* The peer's credentials (SO_PEERCRED). */
typedef struct ctlsock_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
} ctlsock_cred_t;

/*
 * Listen on path for protocol p: the directory is made (mode 0700, one
 * level) if missing; a stale socket nobody answers on is replaced (and
 * logged); a live one, or anything that is not a socket, is left alone
 * and is an error. The socket is created with mode 0600, with no window
 * in which it has a wider one. p must outlive the server. The protocol's
 * state (ctlsock_state()) is zeroed: fill it in before the loop runs.
 *
 * Returns 0 and *out (owned by the caller until ctlsock_close()), or
 * FF_EINVAL (path too long, bad protocol limits), FF_EEXIST (a live
 * socket or not a socket), FF_EIO, FF_ENOMEM, with a message in err.
 */
int ctlsock_open(uv_loop_t *loop, const char *path, const ctlsock_proto_t *p,
    ctlsock_t **out, char *err, size_t errlen);

/*
 * Stop listening, remove the socket file if it is still the one we made,
 * and close every client in an orderly way (why goes to the protocol's
 * on_close; queued replies may still go out for grace_ms). From here on
 * only on_close runs, for the clients still closing. The memory (the
 * protocol's state with it) is freed once every handle has closed and
 * every hold is released. Accepts NULL; idempotent.
 */
void ctlsock_close(ctlsock_t *s, const char *why);

/* The protocol's state kept with the server: state_size bytes, valid
   as long as s. */
void *ctlsock_state(ctlsock_t *s);

/* ---- a client, for the protocol ---- */

/* The server cl is connected to. */
ctlsock_t *ctlsock_server(const ctlsock_client_t *cl);

/* The protocol's state kept with the client: client_size bytes, zeroed
   at connect, valid as long as cl. */
void *ctlsock_data(ctlsock_client_t *cl);

/*
 * Queue data[0..len) to the client (copied). Returns 0, FF_EINVAL when
 * the client is closing or gone, FF_ENOMEM or FF_EIO (the connection is
 * then closed).
 */
int ctlsock_write(ctlsock_client_t *cl, const void *data, size_t len);

/*
 * Close the client's connection. err 0: orderly (reading stops, queued
 * replies go out, then the connection closes); else at once, and why is
 * logged. Idempotent; on_close follows.
 */
void ctlsock_close_client(ctlsock_client_t *cl, int err, const char *why);

/* A request came: the client is not idle. */
void ctlsock_touch(ctlsock_client_t *cl);

/* A reply will come later: keep cl (and its state) until
   ctlsock_release(). A held client is never idle. */
void ctlsock_hold(ctlsock_client_t *cl);
void ctlsock_release(ctlsock_client_t *cl);

/* Is the client still connected (replies can be written)? 1 or 0. */
int ctlsock_alive(const ctlsock_client_t *cl);

/* "unix:pid P uid U" of the client, for logs; valid as long as cl. */
const char *ctlsock_peer(const ctlsock_client_t *cl);

/*
 * The client's credentials as the kernel gave them at connect time.
 * Returns 0, or FF_ENOENT when they could not be read.
 */
int ctlsock_peer_cred(const ctlsock_client_t *cl, ctlsock_cred_t *out);

#endif
