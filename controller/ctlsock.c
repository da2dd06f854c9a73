/*
 * The Unix control socket; see ctlsock.h.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "ctlsock.h"

struct ctlclient {
	ctlsock_t *s;
	wire_conn_t *conn;
	char peer[64];
	int holds;		/* replies pending */
	int closed;		/* the connection is gone */
	uint64_t last_ms;	/* mono: last request or reply */
	ctlclient_t *prev, *next;
};

struct ctlsock {
	controller_t *c;
	uv_pipe_t pipe;
	uv_timer_t timer;
	int handles;
	char *path;
	dev_t dev;
	ino_t ino;
	ctlsock_fn fns[CTLSOCK_MAX_TYPES];
	ctlclient_t *clients;
	size_t nclients;	/* connected */
	size_t nalive;		/* not yet freed */
	int closing;
};

static const wire_conn_cbs_t cl_cbs;

static void
sock_free_if_done(ctlsock_t *s)
{
	if (s->closing && s->handles == 0 && s->nalive == 0) {
		free(s->path);
		free(s);
	}
}

static void
client_free_if_done(ctlclient_t *cl)
{
	ctlsock_t *s = cl->s;

	if (!cl->closed || cl->holds > 0)
		return;
	free(cl);
	s->nalive--;
	sock_free_if_done(s);
}

/* ---- client side of the API ---- */

int
ctlsock_send(ctlclient_t *cl, const uint8_t *frame, size_t len)
{
	if (cl->closed || cl->conn == NULL)
		return FF_EINVAL;
	cl->last_ms = mono_ms();
	return wire_conn_send(cl->conn, frame, len);
}

int
ctlsock_send_error(ctlclient_t *cl, uint32_t id, int code, const char *fmt,
    ...)
{
	char msg[512];
	va_list ap;

	if (cl->closed || cl->conn == NULL)
		return FF_EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cl->last_ms = mono_ms();
	return wire_conn_send_error(cl->conn, id, code, msg);
}

void
ctlsock_hold(ctlclient_t *cl)
{
	cl->holds++;
}

void
ctlsock_release(ctlclient_t *cl)
{
	cl->holds--;
	cl->last_ms = mono_ms();
	client_free_if_done(cl);
}

int
ctlsock_alive(const ctlclient_t *cl)
{
	return !cl->closed && cl->conn != NULL;
}

const char *
ctlsock_peer(const ctlclient_t *cl)
{
	return cl->peer;
}

/* ---- connections ---- */

static void
cl_msg(wire_conn_t *conn, wire_msg_t *m)
{
	ctlclient_t *cl = wire_conn_udata(conn);
	ctlsock_t *s = cl->s;
	unsigned t = m->type;

	cl->last_ms = mono_ms();
	if (s->closing)
		return;
	if (t > WIRE_CTL_OK && t < WIRE_CTL_OK + CTLSOCK_MAX_TYPES &&
	    s->fns[t - WIRE_CTL_OK] != NULL) {
		s->fns[t - WIRE_CTL_OK](s->c, cl, m);
		return;
	}
	log_debug("control socket: %s sent a message of type %u (%s): not a "
	    "request", cl->peer, t, wire_type_name(t));
	ctlsock_send_error(cl, m->id, FF_ENOTSUP, "not supported: message "
	    "type %u is not a request this controller answers", t);
}

static void
cl_close(wire_conn_t *conn, int err, const char *why)
{
	ctlclient_t *cl = wire_conn_udata(conn);
	ctlsock_t *s = cl->s;

	if (err != 0)
		log_info("control socket: %s: %s", cl->peer, why);
	cl->closed = 1;
	cl->conn = NULL;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		s->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	s->nclients--;
	client_free_if_done(cl);
}

static const wire_conn_cbs_t cl_cbs = {
	.on_msg = cl_msg,
	.on_close = cl_close,
};

static void
on_connection(uv_stream_t *server, int status)
{
	ctlsock_t *s = server->data;
	ctlclient_t *cl;
	wire_conn_opts_t o;

	if (status != 0) {
		log_warnx("control socket: accept: %s", uv_strerror(status));
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warnx("control socket: out of memory");
		return;
	}
	cl->s = s;
	memset(&o, 0, sizeof(o));
	o.max_frame = WIRE_MAX_FRAME_LOCAL;
	o.cbs = &cl_cbs;
	o.udata = cl;
	if (wire_conn_accept_plain(server, &o, &cl->conn) != 0) {
		free(cl);
		return;
	}
	snprintf(cl->peer, sizeof(cl->peer), "%s", wire_conn_peer(cl->conn));
	cl->last_ms = mono_ms();
	s->nalive++;
	s->nclients++;
	cl->next = s->clients;
	if (cl->next)
		cl->next->prev = cl;
	s->clients = cl;
	if (s->nclients > CTLSOCK_MAX_CLIENTS || s->closing) {
		log_warnx("control socket: %s refused: already %d clients",
		    cl->peer, CTLSOCK_MAX_CLIENTS);
		wire_conn_send_error(cl->conn, 0, FF_EBUSY, "too many "
		    "clients");
		wire_conn_close(cl->conn, "too many clients");
	}
}

static void
on_timer(uv_timer_t *t)
{
	ctlsock_t *s = t->data;
	uint64_t now = mono_ms();

	for (ctlclient_t *cl = s->clients; cl != NULL; cl = cl->next)
		if (cl->holds == 0 && cl->conn != NULL &&
		    now - cl->last_ms > CTLSOCK_IDLE_MS)
			wire_conn_close(cl->conn, "idle");
}

/* ---- the socket file ---- */

/* Make the socket's directory if it is missing (one level, mode 0700). */
static int
make_dir(const char *path, char *err, size_t errlen)
{
	char buf[CONTROLLER_CONFIG_MAX_PATH + 2], *dir;
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
		snprintf(err, errlen, "another controller is running (%s "
		    "answers)", path);
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

static void
handle_closed(uv_handle_t *h)
{
	ctlsock_t *s = h->data;

	s->handles--;
	sock_free_if_done(s);
}

int
ctlsock_open(controller_t *c, const char *path, ctlsock_t **out, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	ctlsock_t *s;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long",
		    path);
		return FF_EINVAL;
	}
	if ((rc = make_dir(path, err, errlen)) != 0 ||
	    (rc = clear_stale(path, err, errlen)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	s->c = c;
	uv_pipe_init(c->loop, &s->pipe, 0);
	uv_timer_init(c->loop, &s->timer);
	s->pipe.data = s;
	s->timer.data = s;
	s->handles = 2;
	/* created with 0600 from the start: no window with a wider mode */
	old = umask(0177);
	rc = uv_pipe_bind(&s->pipe, path);
	umask(old);
	if (rc == 0 && (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    (st.st_mode & 0777) != 0600))
		rc = UV_EACCES;
	if (rc == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		rc = uv_listen((uv_stream_t *)&s->pipe, 16, on_connection);
	}
	if (rc != 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
		    uv_strerror(rc));
		ctlsock_close(s);
		return FF_EIO;
	}
	uv_timer_start(&s->timer, on_timer, 1000, 1000);
	*out = s;
	return 0;
}

void
ctlsock_close(ctlsock_t *s)
{
	struct stat st;

	if (s == NULL || s->closing)
		return;
	s->closing = 1;
	for (ctlclient_t *cl = s->clients; cl != NULL; cl = cl->next)
		wire_conn_close(cl->conn, "the controller is stopping");
	if (s->ino != 0 && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	uv_close((uv_handle_t *)&s->pipe, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
}

int
ctlsock_register(ctlsock_t *s, unsigned type, ctlsock_fn fn)
{
	if (type <= WIRE_CTL_OK || type >= WIRE_CTL_OK + CTLSOCK_MAX_TYPES)
		return FF_EINVAL;
	s->fns[type - WIRE_CTL_OK] = fn;
	return 0;
}
