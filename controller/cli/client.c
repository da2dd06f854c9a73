/*
 * Blocking client for the control socket; see client.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "client.h"

int
ctlc_open(ctlc_t *cc, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;

	memset(cc, 0, sizeof(*cc));
	cc->fd = -1;
	wire_framer_init(&cc->fr, WIRE_MAX_FRAME_LOCAL);
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return FF_EIO;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((cc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return FF_EIO;
	}
	if (connect(cc->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot reach the controller at %s: %s%s",
		    path, strerror(errno), errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is flowfleet-controller "
		    "running? -s picks another socket)" : errno == EACCES ?
		    " (the socket is mode 0600: run as its owner)" : "");
		close(cc->fd);
		cc->fd = -1;
		return FF_EIO;
	}
	return 0;
}

void
ctlc_close(ctlc_t *cc)
{
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
	free(cc->frame);
	cc->frame = NULL;
	wire_framer_free(&cc->fr);
}

int
ctlc_send(ctlc_t *cc, const uint8_t *frame, size_t len, char *err,
    size_t errlen)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(cc->fd, frame + off, len - off, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "send to the controller: %s",
			    strerror(errno));
			return FF_EIO;
		}
		off += (size_t)n;
	}
	return 0;
}

int
ctlc_recv(ctlc_t *cc, wire_msg_t *m, int timeout_ms, char *err,
    size_t errlen)
{
	uint64_t deadline = timeout_ms >= 0 ? mono_ms() + (uint64_t)timeout_ms :
	    0;

	free(cc->frame);
	cc->frame = NULL;
	for (;;) {
		uint8_t *frame;
		size_t used, flen;
		int rc;

		while (cc->roff < cc->rlen) {
			rc = wire_framer_feed(&cc->fr, cc->rbuf + cc->roff,
			    cc->rlen - cc->roff, &used, &frame, &flen);
			cc->roff += used;
			if (rc < 0) {
				snprintf(err, errlen, "bad frame from the "
				    "controller: %s", ff_strerror(rc));
				return FF_EPROTO;
			}
			if (rc == 1) {
				if (wire_msg_decode(frame, flen, m) != 0) {
					free(frame);
					snprintf(err, errlen, "undecodable "
					    "message from the controller");
					return FF_EPROTO;
				}
				cc->frame = frame;
				return 0;
			}
		}
		cc->roff = cc->rlen = 0;
		{
			struct pollfd pfd = { .fd = cc->fd, .events = POLLIN };
			int wait = -1;
			ssize_t n;

			if (timeout_ms >= 0) {
				uint64_t now = mono_ms();

				if (now >= deadline) {
					snprintf(err, errlen, "no answer from "
					    "the controller within %d ms",
					    timeout_ms);
					return FF_ETIMEDOUT;
				}
				wait = (int)FF_MIN(deadline - now, 1u << 30);
			}
			rc = poll(&pfd, 1, wait);
			if (rc == -1 && errno == EINTR)
				continue;
			if (rc == -1) {
				snprintf(err, errlen, "poll: %s",
				    strerror(errno));
				return FF_EIO;
			}
			if (rc == 0)
				continue;	/* the deadline check above */
			n = read(cc->fd, cc->rbuf, sizeof(cc->rbuf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(err, errlen, "the controller closed "
				    "the connection%s%s", n < 0 ? ": " : "",
				    n < 0 ? strerror(errno) : "");
				return FF_EIO;
			}
			cc->rlen = (size_t)n;
		}
	}
}
