/*
 * The node-local control socket (STATE_DIR/node.sock, Unix stream, mode
 * 0600). A client sends one request line and reads the reply until the
 * node closes the connection. Requests (see cmd_run.c): "stats",
 * "stats json".
 */
#ifndef FF_NODE_CTL_H
#define FF_NODE_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#define CTL_SOCK_NAME	"node.sock"
#define CTL_MAX_REQUEST	512	/* bytes, newline included */
#define CTL_MAX_CLIENTS	32
#define CTL_IDLE_MS	5000	/* a client must send its request by then */

typedef struct ctl ctl_t;

/*
 * Answer one request line (without its newline) by writing the reply to
 * fp. Runs on the loop thread.
 */
typedef void (*ctl_handler)(void *arg, const char *request, FILE *fp);

/*
 * Listen on the Unix socket path, created with mode 0600. A stale socket
 * left by a node that died is replaced; a socket that still answers (a
 * node is running) or a path that is not a socket is an error. Returns 0
 * with *out owned by the caller until ctl_close(), or FF_EEXIST /
 * FF_EIO / FF_ENOMEM with a message in err.
 */
int ctl_open(uv_loop_t *loop, const char *path, ctl_handler h, void *arg,
    ctl_t **out, char *err, size_t errlen);

/*
 * Close the listening socket and every client connection, and remove
 * the socket file if it is still ours. Memory is freed once the loop has
 * run the close callbacks. Accepts NULL.
 */
void ctl_close(ctl_t *c);

/*
 * Client side: connect to the control socket at path, send request, and
 * copy the reply to out until the node closes the connection. Waits at
 * most timeout_ms for each read. Returns 0, or FF_EIO with a message in
 * err (errlen bytes) when the socket cannot be reached.
 */
int ctl_request(const char *path, const char *request, FILE *out,
    int timeout_ms, char *err, size_t errlen);

#endif
