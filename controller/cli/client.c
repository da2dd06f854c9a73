/*
 * Blocking client for the control socket; see client.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctlclient.h"
#include "common/err.h"
#include "common/util.h"
#include "client.h"

/* "15 s", "3.5 s", "200 ms" */
static const char *
dur(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%llu ms", (unsigned long long)ms);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	return buf;
}

/* The time left before the deadline, in ms for poll (-1: no deadline). */
static int
remaining(const ctlc_t *cc)
{
	uint64_t now = mono_ms();

	if (cc->deadline == 0)
		return -1;
	return now >= cc->deadline ? 0 :
	    (int)FF_MIN(cc->deadline - now, 1u << 30);
}

static int
too_late(const ctlc_t *cc, char *err, size_t errlen)
{
	char b[32];

	snprintf(err, errlen, "the controller did not answer within %s (is "
	    "it stopped or stuck?)", dur(cc->budget_ms, b, sizeof(b)));
	return FF_ETIMEDOUT;
}

int
ctlc_expired(const ctlc_t *cc)
{
	return remaining(cc) == 0;
}

void
ctlc_extend(ctlc_t *cc, uint64_t timeout_ms)
{
	cc->deadline = mono_ms() + timeout_ms;
	cc->budget_ms = timeout_ms;
}

int
ctlc_open(ctlc_t *cc, const char *path, int64_t timeout_ms, char *err,
    size_t errlen)
{
	int fd;

	memset(cc, 0, sizeof(*cc));
	cc->fd = -1;
	if (timeout_ms >= 0)
		ctlc_extend(cc, (uint64_t)timeout_ms);
	wire_framer_init(&cc->fr, WIRE_MAX_FRAME_LOCAL);
	fd = ctlclient_connect_within(path, remaining(cc));
	if (fd == FF_EINVAL) {
		snprintf(err, errlen, "%s: path too long", path);
		return FF_EIO;
	}
	if (fd == FF_ETIMEDOUT)
		return too_late(cc, err, errlen);
	if (fd < 0) {
		snprintf(err, errlen, "cannot reach the controller at %s: %s%s",
		    path, strerror(errno), errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is flowfleet-controller "
		    "running? -s picks another socket)" : errno == EACCES ?
		    " (the socket is mode 0600: run as its owner)" : "");
		return FF_EIO;
	}
	cc->fd = fd;
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
	int rc;

	if (cc->deadline != 0 && (ctlc_expired(cc) ||
	    ctlclient_set_timeout(cc->fd, remaining(cc)) != 0))
		return too_late(cc, err, errlen);
	if ((rc = ctlclient_send(cc->fd, frame, len)) == FF_ETIMEDOUT)
		return too_late(cc, err, errlen);
	if (rc != 0) {
		snprintf(err, errlen, "send to the controller: %s",
		    strerror(errno));
		return FF_EIO;
	}
	return 0;
}

int
ctlc_recv(ctlc_t *cc, wire_msg_t *m, int timeout_ms, char *err,
    size_t errlen)
{
	uint64_t deadline = timeout_ms >= 0 ? mono_ms() + (uint64_t)timeout_ms :
	    0;

	if (cc->deadline != 0 && (deadline == 0 || deadline > cc->deadline))
		deadline = cc->deadline;

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

			if (deadline != 0) {
				uint64_t now = mono_ms();

				if (ctlc_expired(cc))
					return too_late(cc, err, errlen);
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
