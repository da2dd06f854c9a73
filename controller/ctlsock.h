/*
 * The controller's local control socket: a Unix stream socket (mode 0600)
 * that the flowfleet CLI talks to with the wire protocol's frames and
 * messages, without TLS (wire_conn_accept_plain). Requests are dispatched
 * by message type to registered handlers (ctlnodes.c registers the node
 * requests; the query requests plug in the same way). A handler replies
 * with the request's id, at once or later: ctlsock_hold() keeps the
 * client's memory while a reply is pending, even if the CLI went away.
 */
#ifndef FF_CTL_CTLSOCK_H
#define FF_CTL_CTLSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "controller.h"

#define CTLSOCK_MAX_CLIENTS	64
#define CTLSOCK_IDLE_MS		60000	/* idle client, nothing pending */
#define CTLSOCK_MAX_TYPES	64	/* handlers for types 100..163 */

typedef struct ctlsock ctlsock_t;
typedef struct ctlclient ctlclient_t;

/* Handle request m from client cl (m is valid during the call only). */
typedef void (*ctlsock_fn)(controller_t *c, ctlclient_t *cl, const wire_msg_t *m);

/*
 * Listen on path: its directory is made (mode 0700) if missing; a stale
 * socket nobody answers on is replaced; a live one, or anything that is
 * not a socket, is an error. The socket is created with mode 0600.
 * Returns 0 and *out, or a negative ff_err code with a message in err.
 */
int ctlsock_open(controller_t *c, const char *path, ctlsock_t **out, char *err,
    size_t errlen);

/* Close the socket and every client; remove the file if it is still ours.
   Accepts NULL. */
void ctlsock_close(ctlsock_t *s);

/*
 * Route requests of type (WIRE_CTL_OK < type < WIRE_CTL_OK +
 * CTLSOCK_MAX_TYPES) to fn. Returns 0 or FF_EINVAL.
 */
int ctlsock_register(ctlsock_t *s, unsigned type, ctlsock_fn fn);

/* Send a frame / an ERROR to the client; no-ops once it is gone.
   Return 0 or a negative ff_err code. */
int ctlsock_send(ctlclient_t *cl, const uint8_t *frame, size_t len);
int ctlsock_send_error(ctlclient_t *cl, uint32_t id, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A reply will come later: keep cl until ctlsock_release(). */
void ctlsock_hold(ctlclient_t *cl);
void ctlsock_release(ctlclient_t *cl);

/* Is the client still connected? */
int ctlsock_alive(const ctlclient_t *cl);

/* "unix:pid P uid U" of the client, for logs. */
const char *ctlsock_peer(const ctlclient_t *cl);

#endif
