/*
 * The client side of a local control socket (see ctlsock.h), blocking:
 * for the programs that ask a daemon something and wait for the answer.
 * No event loop is needed.
 */
#ifndef FF_CTLCLIENT_H
#define FF_CTLCLIENT_H

#include <stddef.h>

/*
 * Connect to the Unix stream socket at path. Returns the connected
 * descriptor (close-on-exec; the caller closes it), FF_EINVAL when the
 * path is too long for a socket address, or FF_EIO with errno telling
 * why (ENOENT: no socket there; ECONNREFUSED: nobody listens on it;
 * EACCES: not ours to use).
 */
int ctlclient_connect(const char *path);

/*
 * As ctlclient_connect(), waiting at most timeout_ms (-1: no limit) for
 * room in the listener's backlog (a stopped or stuck server lets it
 * fill): FF_ETIMEDOUT then. The descriptor keeps timeout_ms as its send
 * timeout (see ctlclient_set_timeout()).
 */
int ctlclient_connect_within(const char *path, int timeout_ms);

/*
 * How long ctlclient_send() on fd may wait for the peer to read
 * (timeout_ms; -1: no limit). Returns 0, or FF_EIO.
 */
int ctlclient_set_timeout(int fd, int timeout_ms);

/*
 * Write all of buf[0..len) to fd, waiting as needed (a peer that went
 * away gives EPIPE, never SIGPIPE). Returns 0, FF_ETIMEDOUT when the
 * send timeout passed, or FF_EIO with errno telling why.
 */
int ctlclient_send(int fd, const void *buf, size_t len);

#endif
