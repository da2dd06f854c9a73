/*
 * The controller's socket for the CLI: the local control socket
 * (common/ctlsock.h, mode 0600) carrying the wire protocol's frames and
 * messages without TLS. Requests are dispatched by message type to
 * registered handlers (req_nodes.c registers the node requests, dquery.c
 * the queries). A handler replies with the request's id, at once or
 * later: ctlsock_hold() keeps the client while a reply is pending, even
 * if the CLI went away (ctlsock_alive() says whether it is still there).
 */
#ifndef FF_CONTROLLER_CLISOCK_H
#define FF_CONTROLLER_CLISOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctlsock.h"
#include "controller.h"

#define CLISOCK_MAX_CLIENTS	64
#define CLISOCK_IDLE_MS		60000	/* idle client, nothing pending */
#define CLISOCK_GRACE_MS	2000	/* closing: replies still going out */
#define CLISOCK_MAX_TYPES	64	/* handlers for types 100..163 */

/* Handle request m from client cl (m is valid during the call only). */
typedef void (*clisock_fn)(controller_t *c, ctlsock_client_t *cl,
    const wire_msg_t *m);

/*
 * Listen on path for the CLI (see ctlsock_open() for the socket file's
 * rules). Returns 0 and *out (owned by the caller until ctlsock_close()),
 * or a negative ff_err code with a message in err.
 */
int clisock_open(controller_t *c, const char *path, ctlsock_t **out,
    char *err, size_t errlen);

/*
 * Route requests of type (WIRE_CTL_OK < type < WIRE_CTL_OK +
 * CLISOCK_MAX_TYPES) to fn. Returns 0 or FF_EINVAL.
 */
int clisock_register(ctlsock_t *s, unsigned type, clisock_fn fn);

/*
 * Send a frame (as made by wire_msg_end) / an ERROR reply to request id.
 * No-ops once the client is gone. Return 0 or a negative ff_err code
 * (FF_EINVAL: the client is gone or closing).
 */
int clisock_send(ctlsock_client_t *cl, const uint8_t *frame, size_t len);
int clisock_send_error(ctlsock_client_t *cl, uint32_t id, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
