/*
 * The local control socket server; see ctlsock.h.
 *
 * A client has one handle, its pipe. Closing a client: reading stops,
 * and the pipe is closed at once, or (orderly) once its queued writes
 * are done; the server's timer closes it anyway when that takes longer
 * than grace_ms. The client is unlinked and on_close runs in the pipe's
 * close callback; its memory goes when that has happened and no hold is
 * left. The server's memory goes when its own two handles (listener,
 * timer) have closed and no client memory is left.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ctlsock.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define READ_CHUNK	(64 * 1024)
#define BACKLOG		16
#define DEF_GRACE_MS	2000

enum cl_state {
	CL_OPEN = 1,	/* reading and writing */
	CL_CLOSING,	/* its writes going out, or its pipe closing */
	CL_CLOSED	/* the pipe has closed */
};

struct ctlsock_client {
	ctlsock_t *s;
	uv_pipe_t pipe;
	enum cl_state state;
	int opened;		/* on_open accepted it: on_close is due */
	int holds;		/* replies pending */
	int err;		/* why it closed */
	char why[128];
	uint64_t last_ms;	/* mono: connect, last request or reply */
	uint64_t close_by;	/* mono: closing: the pipe closes by then */
	size_t writes;		/* uv_write requests not yet done */
	int have_cred;
	ctlsock_cred_t cred;
	char peer[64];
	ctlsock_client_t *next;	/* connected clients */
	alignas(max_align_t) unsigned char data[];
};

struct ctlsock {
	uv_loop_t *loop;
	const ctlsock_proto_t *p;
	uint32_t grace_ms;
	char *path;
	uv_pipe_t pipe;
	uv_timer_t timer;	/* idle clients, closing clients */
	uint64_t tick_ms;
	int handles;		/* of pipe and timer, not yet closed */
	int timer_closing;
	dev_t dev;		/* the socket file we made */
	ino_t ino;
	ctlsock_client_t *clients;
	size_t nclients;	/* connected (not yet closed) */
	size_t nalive;		/* client structs not yet freed */
	int closing;
	char rbuf[READ_CHUNK];	/* one read at a time on the loop */
	alignas(max_align_t) unsigned char state[];
};

/* A write and the bytes it writes, freed together when it is done. */
struct wreq {
	uv_write_t req;
	ctlsock_client_t *cl;
	char data[];
};

static void client_close(ctlsock_client_t *cl, int err, const char *why,
    int orderly);
static void on_timer(uv_timer_t *t);

/* ---- lifetimes ---- */

static void
server_free_if_done(ctlsock_t *s)
{
	if (s->closing && s->handles == 0 && s->nalive == 0) {
		free(s->path);
		free(s);
	}
}

static void
client_free_if_done(ctlsock_client_t *cl)
{
	ctlsock_t *s = cl->s;

	if (cl->state != CL_CLOSED || cl->holds > 0)
		return;
	free(cl);
	s->nalive--;
	server_free_if_done(s);
}

static void
server_handle_closed(uv_handle_t *h)
{
	ctlsock_t *s = h->data;

	s->handles--;
	server_free_if_done(s);
}

/* Closing, once no client is left to time out: the timer can go. */
static void
server_timer_close_if_idle(ctlsock_t *s)
{
	if (!s->closing || s->nclients > 0 || s->timer_closing)
		return;
	s->timer_closing = 1;
	uv_close((uv_handle_t *)&s->timer, server_handle_closed);
}

static void
client_closed(uv_handle_t *h)
{
	ctlsock_client_t *cl = h->data;
	ctlsock_t *s = cl->s;
	ctlsock_client_t **pp;

	cl->state = CL_CLOSED;
	for (pp = &s->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	s->nclients--;
	if (cl->err != 0)
		log_info("control socket: %s: %s", cl->peer, cl->why);
	if (cl->opened && s->p->on_close != NULL)
		s->p->on_close(cl, cl->err, cl->why);
	server_timer_close_if_idle(s);
	client_free_if_done(cl);
}

static void
client_close_now(ctlsock_client_t *cl)
{
	if (!uv_is_closing((uv_handle_t *)&cl->pipe))
		uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

/*
 * Start closing: record why (the first reason counts) and stop reading;
 * close at once, or (orderly) when the queued writes are done.
 */
static void
client_close(ctlsock_client_t *cl, int err, const char *why, int orderly)
{
	if (cl->state != CL_OPEN)
		return;
	cl->state = CL_CLOSING;
	cl->err = err;
	snprintf(cl->why, sizeof(cl->why), "%s", why ? why : "closed");
	cl->close_by = mono_ms() + cl->s->grace_ms;
	uv_read_stop((uv_stream_t *)&cl->pipe);
	if (!orderly || cl->writes == 0)
		client_close_now(cl);
}

/* ---- the protocol's side ---- */

void *
ctlsock_state(ctlsock_t *s)
{
	return s->state;
}

ctlsock_t *
ctlsock_server(const ctlsock_client_t *cl)
{
	return cl->s;
}

void *
ctlsock_data(ctlsock_client_t *cl)
{
	return cl->data;
}

static void
on_written(uv_write_t *req, int status)
{
	ctlsock_client_t *cl = ((struct wreq *)req)->cl;

	free(req);
	cl->writes--;
	if (status < 0 && cl->state == CL_OPEN) {
		char why[96];

		snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
		client_close(cl, FF_EIO, why, 0);
	} else if (cl->state == CL_CLOSING && cl->writes == 0)
		client_close_now(cl);
}

int
ctlsock_write(ctlsock_client_t *cl, const void *data, size_t len)
{
	struct wreq *w;
	uv_buf_t b;
	int rc;

	if (cl->state != CL_OPEN)
		return FF_EINVAL;
	if (len == 0)
		return 0;
	if (len > UINT_MAX || (w = malloc(sizeof(*w) + len)) == NULL) {
		client_close(cl, FF_ENOMEM, "out of memory", 0);
		return FF_ENOMEM;
	}
	w->cl = cl;
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned)len);
	if ((rc = uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1,
	    on_written)) != 0) {
		char why[96];

		free(w);
		snprintf(why, sizeof(why), "write: %s", uv_strerror(rc));
		client_close(cl, FF_EIO, why, 0);
		return FF_EIO;
	}
	cl->writes++;
	cl->last_ms = mono_ms();
	return 0;
}

void
ctlsock_close_client(ctlsock_client_t *cl, int err, const char *why)
{
	client_close(cl, err, why, err == 0);
}

void
ctlsock_touch(ctlsock_client_t *cl)
{
	cl->last_ms = mono_ms();
}

void
ctlsock_hold(ctlsock_client_t *cl)
{
	cl->holds++;
}

void
ctlsock_release(ctlsock_client_t *cl)
{
	cl->holds--;
	cl->last_ms = mono_ms();
	client_free_if_done(cl);
}

int
ctlsock_alive(const ctlsock_client_t *cl)
{
	return cl->state == CL_OPEN;
}

const char *
ctlsock_peer(const ctlsock_client_t *cl)
{
	return cl->peer;
}

int
ctlsock_peer_cred(const ctlsock_client_t *cl, ctlsock_cred_t *out)
{
	if (!cl->have_cred)
		return FF_ENOENT;
	*out = cl->cred;
	return 0;
}

/* ---- connections ---- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	ctlsock_client_t *cl = h->data;

	(void)suggested;
	buf->base = cl->s->rbuf;
	buf->len = sizeof(cl->s->rbuf);
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	ctlsock_client_t *cl = st->data;
	char why[96];

	if (nread == UV_EOF) {
		client_close(cl, 0, "closed by peer", 1);
	} else if (nread < 0) {
		snprintf(why, sizeof(why), "read: %s",
		    uv_strerror((int)nread));
		client_close(cl, FF_EIO, why, 0);
	} else if (nread > 0 && cl->state == CL_OPEN) {
		cl->s->p->on_data(cl, (const uint8_t *)buf->base,
		    (size_t)nread);
	}
}

/* "unix:pid 123 uid 0" from the peer's credentials. */
static void
peer_cred(ctlsock_client_t *cl)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&cl->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) {
		cl->have_cred = 1;
		cl->cred.pid = cr.pid;
		cl->cred.uid = cr.uid;
		cl->cred.gid = cr.gid;
		snprintf(cl->peer, sizeof(cl->peer), "unix:pid %ld uid %lu",
		    (long)cr.pid, (unsigned long)cr.uid);
	} else
		snprintf(cl->peer, sizeof(cl->peer), "unix");
}

static void
on_connection(uv_stream_t *server, int status)
{
	ctlsock_t *s = server->data;
	ctlsock_client_t *cl;

	if (status != 0) {
		log_warnx("control socket: accept: %s", uv_strerror(status));
		return;
	}
	if ((cl = calloc(1, sizeof(*cl) + s->p->client_size)) == NULL) {
		log_warnx("control socket: out of memory");
		return;
	}
	cl->s = s;
	cl->pipe.data = cl;
	cl->state = CL_OPEN;
	cl->last_ms = mono_ms();
	uv_pipe_init(s->loop, &cl->pipe, 0);
	s->nalive++;
	s->nclients++;
	cl->next = s->clients;
	s->clients = cl;
	if (!uv_is_active((uv_handle_t *)&s->timer))
		uv_timer_start(&s->timer, on_timer, s->tick_ms, s->tick_ms);
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
		client_close(cl, FF_EIO, "accept failed", 0);
		return;
	}
	peer_cred(cl);
	if (s->nclients > s->p->max_clients) {
		log_warnx("control socket: %s refused: already %zu clients",
		    cl->peer, s->p->max_clients);
		if (s->p->on_busy != NULL)
			s->p->on_busy(cl);
		client_close(cl, 0, "too many clients", 1);
		return;
	}
	if (s->p->on_open != NULL && s->p->on_open(cl) != 0) {
		client_close(cl, 0, "refused", 0);
		return;
	}
	cl->opened = 1;
	if (uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0)
		client_close(cl, FF_EIO, "read failed", 0);
}

static void
on_timer(uv_timer_t *t)
{
	ctlsock_t *s = t->data;
	uint64_t now = mono_ms();
	ctlsock_client_t *cl, *next;

	if (s->clients == NULL) {
		uv_timer_stop(t);	/* until the next client */
		return;
	}
	for (cl = s->clients; cl != NULL; cl = next) {
		next = cl->next;
		if (cl->state == CL_OPEN && cl->holds == 0 &&
		    now - cl->last_ms >= s->p->idle_ms)
			client_close(cl, 0, "idle", 1);
		else if (cl->state == CL_CLOSING && now >= cl->close_by)
			client_close_now(cl);
	}
}

/* ---- the socket file ---- */

/* Make the socket's directory if it is missing (one level, mode 0700). */
static int
make_dir(const char *path, char *err, size_t errlen)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], *dir;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is not a directory", dir);
			return FF_EIO;
		}
		return 0;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return FF_EIO;
	}
	return 0;
}

/* Make way for the socket: nothing there, or a dead socket (removed). */
static int
clear_stale(const char *path, const char *who, char *err, size_t errlen)
{
	struct stat st;
	int fd;

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
	if ((fd = ctlclient_connect(path)) >= 0) {
		close(fd);
		snprintf(err, errlen, "another %s is running (%s answers)",
		    who, path);
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

/*
 * Bind and listen on s->path. The socket is made here and handed to
 * libuv (which would remove a path it bound itself at close, whoever's
 * file is there by then); it has mode 0600 from the start: no window
 * with a wider one.
 */
static int
listen_on(ctlsock_t *s, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return FF_EIO;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "control socket %s: %s", s->path,
		    strerror(errno));
		close(fd);
		return FF_EIO;
	}
	if (lstat(s->path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    (st.st_mode & 0777) != 0600) {
		snprintf(err, errlen, "control socket %s: not made with mode "
		    "0600", s->path);
		close(fd);
		unlink(s->path);
		return FF_EIO;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if ((rc = uv_pipe_open(&s->pipe, fd)) != 0) {
		close(fd);
	} else
		rc = uv_listen((uv_stream_t *)&s->pipe, BACKLOG,
		    on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "control socket %s: %s", s->path,
		    uv_strerror(rc));
		return FF_EIO;
	}
	return 0;
}

int
ctlsock_open(uv_loop_t *loop, const char *path, const ctlsock_proto_t *p,
    ctlsock_t **out, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	ctlsock_t *s;
	int rc;

	if (p->on_data == NULL || p->max_clients == 0 || p->idle_ms == 0) {
		snprintf(err, errlen, "control socket: bad protocol limits");
		return FF_EINVAL;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long",
		    path);
		return FF_EINVAL;
	}
	if ((rc = make_dir(path, err, errlen)) != 0 ||
	    (rc = clear_stale(path, p->who ? p->who : "daemon", err,
	    errlen)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s) + p->state_size)) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	s->loop = loop;
	s->p = p;
	s->grace_ms = p->grace_ms ? p->grace_ms : DEF_GRACE_MS;
	/* the timer runs while there are clients, often enough for the
	   shorter of the two deadlines */
	s->tick_ms = FF_MIN(FF_MIN(p->idle_ms, s->grace_ms) / 4, 1000);
	s->tick_ms = s->tick_ms < 10 ? 10 : s->tick_ms;
	uv_pipe_init(loop, &s->pipe, 0);
	uv_timer_init(loop, &s->timer);
	s->pipe.data = s;
	s->timer.data = s;
	s->handles = 2;
	if ((rc = listen_on(s, err, errlen)) != 0) {
		ctlsock_close(s, NULL);
		return rc;
	}
	*out = s;
	return 0;
}

void
ctlsock_close(ctlsock_t *s, const char *why)
{
	ctlsock_client_t *cl, *next;
	struct stat st;

	if (s == NULL || s->closing)
		return;
	s->closing = 1;
	/* remove the file only if it is still the socket we made */
	if (s->ino != 0 && lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	uv_close((uv_handle_t *)&s->pipe, server_handle_closed);
	for (cl = s->clients; cl != NULL; cl = next) {
		next = cl->next;
		client_close(cl, 0, why ? why : "closing", 1);
	}
	server_timer_close_if_idle(s);
}
