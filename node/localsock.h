/*
 * The node's local control socket, STATE_DIR/node.sock: the local
 * control socket (common/ctlsock.h, mode 0600) with a line protocol. A
 * client sends one request line and reads the reply until the node
 * closes the connection. Requests (answered in cmd_run.c): "stats",
 * "stats json".
 */
#ifndef FF_NODE_LOCALSOCK_H
#define FF_NODE_LOCALSOCK_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#include "common/ctlsock.h"

#define LOCALSOCK_NAME		"node.sock"
#define LOCALSOCK_MAX_REQUEST	512	/* bytes, newline included */
#define LOCALSOCK_MAX_CLIENTS	32
#define LOCALSOCK_IDLE_MS	5000	/* the request must come by then */
#define LOCALSOCK_GRACE_MS	10000	/* and the reply be read by then */

/*
 * Answer one request line (without its newline) by writing the reply to
 * fp. Runs on the loop thread.
 */
typedef void (*localsock_fn)(void *arg, const char *request, FILE *fp);

/*
 * Listen on the Unix socket path (see ctlsock_open() for the socket
 * file's rules) and answer each request with fn(arg, ...). Returns 0
 * with *out owned by the caller until ctlsock_close(), or a negative
 * ff_err code (FF_EEXIST: a node is running, or the path is not a
 * socket) with a message in err.
 */
int localsock_open(uv_loop_t *loop, const char *path, localsock_fn fn,
    void *arg, ctlsock_t **out, char *err, size_t errlen);

/*
 * Client side: connect to the socket at path, send request, and copy the
 * reply to out until the node closes the connection. Waits at most
 * timeout_ms for each read. Returns 0, or FF_EIO with a message in err
 * (errlen bytes) when the socket cannot be reached.
 */
int localsock_request(const char *path, const char *request, FILE *out,
    int timeout_ms, char *err, size_t errlen);

#endif
