/*
 * Client side of the controller's control socket, for the CLI: blocking
 * I/O with timeouts, the wire protocol's frames and messages without TLS.
 */
#ifndef FF_CLI_CLIENT_H
#define FF_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

typedef struct ctlc {
	int fd;
	uint64_t deadline;	/* monotonic ms; 0: none */
	uint64_t budget_ms;	/* what the deadline allowed, for messages */
	wire_framer_t fr;
	uint8_t *frame;		/* payload of the last message received */
	uint8_t rbuf[65536];
	size_t rlen, roff;	/* bytes read and not yet framed */
} ctlc_t;

/*
 * Connect to the socket at path, and give everything on this connection
 * (the connect, every send and receive) one deadline, timeout_ms from
 * now (-1: none). Returns 0, FF_ETIMEDOUT (the controller did not take
 * the connection in time) or FF_EIO (no such socket, permission denied,
 * nobody listening) with a message in err.
 */
int ctlc_open(ctlc_t *cc, const char *path, int64_t timeout_ms, char *err,
    size_t errlen);

/* 1 when the connection's deadline has passed. */
int ctlc_expired(const ctlc_t *cc);

/* Move the deadline to timeout_ms from now. */
void ctlc_extend(ctlc_t *cc, uint64_t timeout_ms);

/* Close and free. */
void ctlc_close(ctlc_t *cc);

/* Send a frame (from wire_msg_end). Returns 0, FF_ETIMEDOUT (the
   deadline passed) or FF_EIO (message in err). */
int ctlc_send(ctlc_t *cc, const uint8_t *frame, size_t len, char *err,
    size_t errlen);

/*
 * Wait up to timeout_ms (-1: no limit), and never past the deadline, for
 * the next message into *m, valid until the next ctlc_recv() or
 * ctlc_close() (free it with wire_msg_free()). Returns 0, FF_ETIMEDOUT
 * (ctlc_expired() tells whether the deadline passed: the message says
 * "the controller did not answer within ..."), FF_EIO (closed or
 * failed) or FF_EPROTO (a bad frame), with a message in err.
 */
int ctlc_recv(ctlc_t *cc, wire_msg_t *m, int timeout_ms, char *err,
    size_t errlen);

#endif
