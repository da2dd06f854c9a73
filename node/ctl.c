/*
 * Node-local control socket: a Unix stream socket, one request line per
 * connection, the reply streamed back, then the node closes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "ctl.h"

struct client {
	uv_pipe_t pipe;
	uv_timer_t timer;
	ctl_t *ctl;
	struct client *next;
	char buf[CTL_MAX_REQUEST];
	size_t len;
	int closing;
	int handles;		/* open handles: pipe and timer */
};

struct ctl {
	uv_pipe_t server;
	uv_loop_t *loop;
	char *path;
	dev_t dev;		/* identity of the socket file we made */
	ino_t ino;
	ctl_handler handler;
	void *arg;
	struct client *clients;
	size_t nclients;
	size_t handles;		/* server + client structs not yet freed */
	int closing;
};

struct wreq {
	uv_write_t w;
	char *buf;
	struct client *cl;
};

static void
ctl_free_if_done(ctl_t *c)
{
	if (!c->closing || c->handles > 0)
		return;
	free(c->path);
	free(c);
}

static void
client_closed(uv_handle_t *h)
{
	struct client *cl = h->data;
	ctl_t *c = cl->ctl;

	if (--cl->handles > 0)
		return;
	free(cl);
	c->handles--;
	ctl_free_if_done(c);
}

static void
client_close(struct client *cl)
{
	ctl_t *c = cl->ctl;
	struct client **pp;

	if (cl->closing)
		return;
	cl->closing = 1;
	for (pp = &c->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	c->nclients--;
	uv_close((uv_handle_t *)&cl->pipe, client_closed);
	uv_close((uv_handle_t *)&cl->timer, client_closed);
}

static void
on_write(uv_write_t *w, int status)
{
	struct wreq *r = (struct wreq *)w;

	(void)status;
	free(r->buf);
	client_close(r->cl);
	free(r);
}

static void
on_idle(uv_timer_t *t)
{
	client_close(t->data);
}

static void
client_reply(struct client *cl, const char *request)
{
	struct wreq *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	uv_buf_t b;

	uv_read_stop((uv_stream_t *)&cl->pipe);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (fp = open_memstream(&buf, &len)) == NULL) {
		free(r);
		client_close(cl);
		return;
	}
	if (request != NULL)
		cl->ctl->handler(cl->ctl->arg, request, fp);
	else
		fputs("error: request too long\n", fp);
	if (fclose(fp) != 0 || len == 0) {
		free(buf);
		free(r);
		client_close(cl);
		return;
	}
	r->buf = buf;
	r->cl = cl;
	b = uv_buf_init(buf, (unsigned)len);
	if (uv_write(&r->w, (uv_stream_t *)&cl->pipe, &b, 1, on_write) != 0) {
		free(buf);
		free(r);
		client_close(cl);
		return;
	}
	/* Give the client time to read a long reply, then give up. */
	uv_timer_start(&cl->timer, on_idle, CTL_IDLE_MS * 2,
	    0);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client *cl = h->data;

	(void)suggested;
	buf->base = cl->buf + cl->len;
	buf->len = sizeof(cl->buf) - cl->len;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *cl = s->data;
	char *nl;

	(void)buf;
	if (nread < 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)nread;
	if ((nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
		*nl = '\0';
		if (nl > cl->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		client_reply(cl, cl->buf);
	} else if (cl->len == sizeof(cl->buf))
		client_reply(cl, NULL);
}

static void
on_connection(uv_stream_t *server, int status)
{
	ctl_t *c = server->data;
	struct client *cl;

	if (status != 0) {
		log_warnx("control socket: %s", uv_strerror(status));
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warnx("control socket: out of memory");
		return;
	}
	cl->ctl = c;
	cl->pipe.data = cl;
	cl->timer.data = cl;
	uv_pipe_init(c->loop, &cl->pipe, 0);
	uv_timer_init(c->loop, &cl->timer);
	cl->handles = 2;
	c->handles++;
	cl->next = c->clients;
	c->clients = cl;
	c->nclients++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0 ||
	    c->nclients > CTL_MAX_CLIENTS ||
	    uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0) {
		client_close(cl);
		return;
	}
	uv_timer_start(&cl->timer, on_idle, CTL_IDLE_MS, 0);
}

/*
 * Make way for our socket at path: nothing there, or a socket nobody
 * answers on (left by a node that died), which is removed.
 */
static int
clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not "
		    "touching it", path);
		return FF_EEXIST;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return FF_EIO;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "another flowfleet-node is running with "
		    "this state directory (%s answers)", path);
		return FF_EEXIST;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale %s: %s", path,
		    strerror(errno));
		return FF_EIO;
	}
	log_info("removed stale control socket %s", path);
	return 0;
}

int
ctl_open(uv_loop_t *loop, const char *path, ctl_handler h, void *arg,
    ctl_t **out, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	ctl_t *c;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long",
		    path);
		return FF_EINVAL;
	}
	if ((rc = clear_stale(path, err, errlen)) != 0)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	c->loop = loop;
	c->handler = h;
	c->arg = arg;
	c->server.data = c;
	uv_pipe_init(loop, &c->server, 0);
	c->handles = 1;
	/* Created with 0600 from the start: no window with a wider mode. */
	old = umask(0177);
	rc = uv_pipe_bind(&c->server, path);
	umask(old);
	if (rc == 0 && lstat(path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    uv_strerror(rc));
		ctl_close(c);
		return FF_EIO;
	}
	*out = c;
	return 0;
}

static void
server_closed(uv_handle_t *h)
{
	ctl_t *c = h->data;

	c->handles--;
	ctl_free_if_done(c);
}

void
ctl_close(ctl_t *c)
{
	struct stat st;

	if (c == NULL || c->closing)
		return;
	c->closing = 1;
	while (c->clients != NULL)
		client_close(c->clients);
	/* Remove the file only if it is still the socket we created. */
	if (c->ino != 0 && lstat(c->path, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino)
		unlink(c->path);
	uv_close((uv_handle_t *)&c->server, server_closed);
}

int
ctl_request(const char *path, const char *request, FILE *out,
    int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char buf[8192];
	size_t rlen = strlen(request), off = 0;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long",
		    path);
		return FF_EIO;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return FF_EIO;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s (is the node "
		    "running?)", path, strerror(errno));
		close(fd);
		return FF_EIO;
	}
	while (off <= rlen) {
		/* The request, then its newline. */
		const char *p = off < rlen ? request + off : "\n";
		size_t n = off < rlen ? rlen - off : 1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: send: %s", path,
			    strerror(errno));
			close(fd);
			return FF_EIO;
		}
		off += (size_t)w;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr = poll(&pfd, 1, timeout_ms);

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
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	}
	close(fd);
	return 0;
}
