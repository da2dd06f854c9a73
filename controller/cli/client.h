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
	wire_framer_t fr;
	uint8_t *frame;		/* payload of the last message received */
	uint8_t rbuf[65536];
	size_t rlen, roff;	/* bytes read and not yet framed */
} ctlc_t;

/*
 * Connect to the socket at path. Returns 0, or FF_EIO with a message in
 * err (no such socket, permission denied, nobody listening).
 */
int ctlc_open(ctlc_t *cc, const char *path, char *err, size_t errlen);

/* Close and free. */
void ctlc_close(ctlc_t *cc);

/* Send a frame (from wire_msg_end). Returns 0 or FF_EIO (message in
   err). */
int ctlc_send(ctlc_t *cc, const uint8_t *frame, size_t len, char *err,
    size_t errlen);

/*
 * Wait up to timeout_ms (-1: no limit) for the next message into *m,
 * valid until the next ctlc_recv() or ctlc_close() (free it with
 * wire_msg_free()). Returns 0, FF_ETIMEDOUT, FF_EIO (closed or failed)
 * or FF_EPROTO (a bad frame), with a message in err.
 */
int ctlc_recv(ctlc_t *cc, wire_msg_t *m, int timeout_ms, char *err,
    size_t errlen);

#endif
