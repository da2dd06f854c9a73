/*
 * The node's local control socket: one request line per connection, the
 * reply, then the node closes; see localsock.h.
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
#include "localsock.h"

/* What the node keeps with the socket: who answers. */
struct answerer {
	localsock_fn fn;
	void *arg;
};

/* A client's request line, as it comes. */
struct line {
	size_t len;
	int answered;
	char buf[LOCALSOCK_MAX_REQUEST];
};

/* Answer request (NULL: it was too long), then close. */
static void
answer(ctlsock_client_t *cl, const char *request)
{
	struct answerer *a = ctlsock_state(ctlsock_server(cl));
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctlsock_close_client(cl, FF_ENOMEM, "out of memory");
		return;
	}
	if (request != NULL)
		a->fn(a->arg, request, fp);
	else
		fputs("error: request too long\n", fp);
	if (fclose(fp) == 0 && len > 0)
		ctlsock_write(cl, buf, len);
	free(buf);
	ctlsock_close_client(cl, 0, "answered");
}

static void
line_data(ctlsock_client_t *cl, const uint8_t *data, size_t len)
{
	struct line *l = ctlsock_data(cl);
	size_t n = len < sizeof(l->buf) - l->len ? len : sizeof(l->buf) -
	    l->len;
	char *nl;

	if (l->answered)
		return;
	memcpy(l->buf + l->len, data, n);
	l->len += n;
	if ((nl = memchr(l->buf, '\n', l->len)) != NULL) {
		*nl = '\0';
		if (nl > l->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		l->answered = 1;
		answer(cl, l->buf);
	} else if (l->len == sizeof(l->buf)) {
		l->answered = 1;
		answer(cl, NULL);
	}
}

static const ctlsock_proto_t line_proto = {
	.who = "flowfleet-node",
	.max_clients = LOCALSOCK_MAX_CLIENTS,
	.idle_ms = LOCALSOCK_IDLE_MS,
	.grace_ms = LOCALSOCK_GRACE_MS,
	.state_size = sizeof(struct answerer),
	.client_size = sizeof(struct line),
	.on_data = line_data,
};

int
localsock_open(uv_loop_t *loop, const char *path, localsock_fn fn,
    void *arg, ctlsock_t **out, char *err, size_t errlen)
{
	struct answerer *a;
	int rc;

	if ((rc = ctlsock_open(loop, path, &line_proto, out, err, errlen)) !=
	    0)
		return rc;
	a = ctlsock_state(*out);
	a->fn = fn;
	a->arg = arg;
	return 0;
}

int
localsock_request(const char *path, const char *request, FILE *out,
    int timeout_ms, char *err, size_t errlen)
{
	char buf[8192];
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	int fd;

	/* one deadline for connect, send and reply: a stopped node lets
	 * its listen queue fill, and a connect would then wait for ever */
	if ((fd = ctlclient_connect_within(path, timeout_ms)) == FF_EINVAL) {
		snprintf(err, errlen, "control socket path %s is too long",
		    path);
		return FF_EIO;
	}
	if (fd == FF_ETIMEDOUT) {
		snprintf(err, errlen, "%s: the node did not take the "
		    "connection within %d ms (is it stopped or stuck?)", path,
		    timeout_ms);
		return FF_EIO;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s (is the node "
		    "running?)", path, strerror(errno));
		return FF_EIO;
	}
	if (ctlclient_send(fd, request, strlen(request)) != 0 ||
	    ctlclient_send(fd, "\n", 1) != 0) {
		snprintf(err, errlen, "%s: send: %s", path, strerror(errno));
		close(fd);
		return FF_EIO;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = mono_ms();
		ssize_t n;
		int pr = now >= deadline ? 0 :
		    poll(&pfd, 1, (int)(deadline - now));

		if (pr == -1 && errno == EINTR)
			continue;
		if (pr <= 0) {
			snprintf(err, errlen, "%s: no reply within %d ms",
			    path, timeout_ms);
			close(fd);
			return FF_EIO;
		}
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: read: %s", path,
			    strerror(errno));
			close(fd);
			return FF_EIO;
		}
		if (n == 0 || fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	}
	close(fd);
	return 0;
}
