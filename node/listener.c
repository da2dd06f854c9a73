/*
 * UDP listeners on libuv with recvmmsg.
 *
 * libuv (1.44, src/unix/udp.c) reads with recvmmsg when the handle was
 * created with UV_UDP_RECVMMSG: it calls alloc_cb once per receive batch,
 * splits the buffer into chunks of 64 KiB (at most 20 of them, its
 * UV__MMSG_MAXWIDTH), calls recv_cb once per datagram with
 * UV_UDP_MMSG_CHUNK set and then once more with nread 0, addr NULL and
 * UV_UDP_MMSG_FREE, the point where a per-batch buffer may be freed. All
 * of this happens inside one call from the loop, so every socket of the
 * loop can share one buffer that lives as long as the set: alloc_cb hands
 * it out, nothing is allocated or freed per batch, and the clock is read
 * once per batch, in alloc_cb.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "listener.h"

#define DGRAM_MAX	(64 * 1024)	/* libuv's chunk size */
#define MMSG_WIDTH	20		/* libuv's datagrams per recvmmsg */

struct listener {
	uv_udp_t h;
	listeners_t *set;
	struct config_listen cl;
	uint64_t datagrams;
	uint64_t bytes;
	uint64_t truncated;
	uint64_t errors;
	uint64_t refused;	/* from addresses exporter-allow leaves out */
	uint64_t inode;		/* socket inode, to find it in /proc */
	int rcvbuf;		/* granted */
};

/* An exporter-allow prefix as two masked halves of the address. */
struct allow {
	uint64_t hi, lo;	/* the prefix, bits past its length zero */
	uint64_t mhi, mlo;	/* its mask */
};

struct listeners {
	struct listener **l;	/* open sockets */
	size_t n;
	size_t handles;		/* handles not yet through their close cb */
	int closing;
	uint8_t *buf;		/* shared receive buffer */
	size_t buflen;
	uint64_t batch_ms;	/* receive time of the current batch */
	struct allow *allow;	/* exporter-allow; none: all allowed */
	size_t nallow;
	listener_recv_cb cb;
	void *arg;
};

static void
set_free_if_done(listeners_t *ls)
{
	if (!ls->closing || ls->handles > 0)
		return;
	free(ls->buf);
	free(ls->allow);
	free(ls->l);
	free(ls);
}

/* 1 if a (16 bytes) is in one of the exporter-allow prefixes. */
static int
allowed(const listeners_t *ls, const uint8_t a[16])
{
	uint64_t hi, lo;

	memcpy(&hi, a, 8);
	memcpy(&lo, a + 8, 8);
	for (size_t i = 0; i < ls->nallow; i++) {
		const struct allow *p = &ls->allow[i];

		if ((hi & p->mhi) == p->hi && (lo & p->mlo) == p->lo)
			return 1;
	}
	return 0;
}

static void
allow_from_config(struct allow *p, const struct config_prefix *c)
{
	uint8_t m[16];

	memset(m, 0, sizeof(m));
	for (unsigned i = 0; i < c->len; i++)
		m[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	memcpy(&p->mhi, m, 8);
	memcpy(&p->mlo, m + 8, 8);
	memcpy(&p->hi, c->addr, 8);
	memcpy(&p->lo, c->addr + 8, 8);
	p->hi &= p->mhi;
	p->lo &= p->mlo;
}

static void
on_close(uv_handle_t *h)
{
	struct listener *l = h->data;
	listeners_t *ls = l->set;

	free(l);
	ls->handles--;
	set_free_if_done(ls);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct listener *l = h->data;
	listeners_t *ls = l->set;

	(void)suggested;
	ls->batch_ms = now_ms();
	buf->base = (char *)ls->buf;
	buf->len = ls->buflen;
}

static void
on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *addr, unsigned flags)
{
	struct listener *l = h->data;
	listeners_t *ls = l->set;
	uint8_t a[16];
	uint16_t port;

	if (nread < 0) {
		if (l->errors++ == 0) {
			char b[CONF_ADDR_STRLEN];

			log_warnx("receive error on %s: %s (counted; further "
			    "errors are only counted)",
			    conf_addr_fmt(&l->cl.ss, b, sizeof(b)),
			    uv_strerror((int)nread));
		}
		return;
	}
	/* nread 0 without a sender: nothing read, or the end of a batch
	   (UV_UDP_MMSG_FREE); the shared buffer stays. */
	if (addr == NULL)
		return;
	l->datagrams++;
	l->bytes += (uint64_t)nread;
	if (flags & UV_UDP_PARTIAL) {
		/* The kernel cut it to fit the chunk: never decode a part. */
		l->truncated++;
		return;
	}
	addr_from_sockaddr(addr, a, &port);
	if (ls->nallow > 0 && !allowed(ls, a)) {
		l->refused++;
		return;
	}
	ls->cb(ls->arg, a, port, (const uint8_t *)buf->base, (size_t)nread,
	    ls->batch_ms);
}

static int
read_rmem_max(void)
{
	FILE *fp;
	int v = -1;

	if ((fp = fopen("/proc/sys/net/core/rmem_max", "re")) == NULL)
		return -1;
	if (fscanf(fp, "%d", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/*
 * Ask for want bytes of receive buffer on fd; return what the kernel
 * granted (as getsockopt reports it: twice the usable size), or -1.
 */
static int
set_rcvbuf(int fd, uint64_t want)
{
	int v = (int)want, got = -1;
	socklen_t sl = sizeof(got);

	/* SO_RCVBUFFORCE ignores rmem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) == -1 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == -1)
		log_warn("setsockopt SO_RCVBUF %d", v);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &sl) == -1)
		return -1;
	return got;
}

static void
fail(char *err, size_t errlen, const struct config_listen *cl,
    const char *what, int uverr)
{
	char b[CONF_ADDR_STRLEN];
	char where[32] = "";

	if (cl->line > 0)
		snprintf(where, sizeof(where), ", config line %d", cl->line);
	snprintf(err, errlen, "cannot listen on UDP %s (%s%s): %s: %s",
	    conf_addr_fmt(&cl->ss, b, sizeof(b)), config_proto_name(cl->proto),
	    where, what, uv_strerror(uverr));
}

/*
 * Open one socket. Returns 0, 1 when a default IPv6 listener was skipped
 * because the host has no IPv6, or -1 with err set.
 */
static int
open_one(uv_loop_t *loop, listeners_t *ls, const struct config_listen *cl,
    uint64_t rcvbuf, char *err, size_t errlen)
{
	struct listener *l;
	struct stat st;
	uv_os_fd_t fd;
	int rc;
	unsigned bflags = 0;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->set = ls;
	l->cl = *cl;
	l->h.data = l;
	rc = uv_udp_init_ex(loop, &l->h,
	    (unsigned)cl->ss.ss_family | UV_UDP_RECVMMSG);
	if (rc != 0) {
		free(l);
		if (cl->line == 0 && cl->ss.ss_family == AF_INET6 &&
		    rc == UV_EAFNOSUPPORT) {
			log_warnx("no IPv6 on this host: default listener on "
			    "[::] skipped");
			return 1;
		}
		fail(err, errlen, cl, "socket", rc);
		return -1;
	}
	ls->handles++;
	if ((rc = uv_fileno((uv_handle_t *)&l->h, &fd)) != 0) {
		fail(err, errlen, cl, "fileno", rc);
		goto bad;
	}
	if (cl->ss.ss_family == AF_INET6)
		bflags |= UV_UDP_IPV6ONLY;	/* so 0.0.0.0 and [::] coexist */
	l->rcvbuf = set_rcvbuf(fd, rcvbuf);
	rc = uv_udp_bind(&l->h, (const struct sockaddr *)&cl->ss, bflags);
	if (rc != 0) {
		if (cl->line == 0 && cl->ss.ss_family == AF_INET6 &&
		    (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT)) {
			log_warnx("no IPv6 on this host: default listener on "
			    "[::] skipped");
			uv_close((uv_handle_t *)&l->h, on_close);
			return 1;
		}
		fail(err, errlen, cl, "bind", rc);
		goto bad;
	}
	if (fstat(fd, &st) == 0)
		l->inode = (uint64_t)st.st_ino;
	if ((rc = uv_udp_recv_start(&l->h, on_alloc, on_recv)) != 0) {
		fail(err, errlen, cl, "receive", rc);
		goto bad;
	}
	ls->l[ls->n++] = l;
	return 0;
bad:
	uv_close((uv_handle_t *)&l->h, on_close);
	return -1;
}

int
listeners_open(uv_loop_t *loop, const struct node_config *c,
    listener_recv_cb cb, void *arg, listeners_t **out, char *err,
    size_t errlen)
{
	listeners_t *ls;
	size_t short_n = 0;
	int first_short = -1, want2;

	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    (ls->l = calloc(c->nlisten ? c->nlisten : 1,
	    sizeof(*ls->l))) == NULL ||
	    (ls->buf = malloc(DGRAM_MAX * MMSG_WIDTH)) == NULL) {
		if (ls)
			free(ls->l);
		free(ls);
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	ls->buflen = DGRAM_MAX * MMSG_WIDTH;
	if (c->nallow > 0) {
		if ((ls->allow = calloc(c->nallow, sizeof(*ls->allow))) ==
		    NULL) {
			free(ls->buf);
			free(ls->l);
			free(ls);
			snprintf(err, errlen, "out of memory");
			return FF_ENOMEM;
		}
		for (size_t i = 0; i < c->nallow; i++)
			allow_from_config(&ls->allow[i], &c->allow[i]);
		ls->nallow = c->nallow;
	}
	ls->cb = cb;
	ls->arg = arg;
	for (size_t i = 0; i < c->nlisten; i++) {
		if (open_one(loop, ls, &c->listen[i], c->rcvbuf, err,
		    errlen) < 0) {
			listeners_close(ls);
			return FF_EIO;
		}
	}
	if (ls->n == 0) {
		snprintf(err, errlen, "no listen address could be opened");
		listeners_close(ls);
		return FF_EIO;
	}
	/* The kernel doubles the request (bookkeeping overhead) and caps
	   SO_RCVBUF at net.core.rmem_max: less than double is less than
	   asked. */
	want2 = c->rcvbuf <= INT32_MAX / 2 ? (int)c->rcvbuf * 2 : INT32_MAX;
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->l[i]->rcvbuf >= want2)
			continue;
		if (first_short < 0)
			first_short = (int)i;
		short_n++;
	}
	if (first_short >= 0) {
		struct listener *l = ls->l[first_short];
		char b[CONF_ADDR_STRLEN];

		log_warnx("rcvbuf: asked for %" PRIu64 " bytes on %s, the "
		    "kernel granted %d (%d usable; it reports twice the "
		    "usable size and caps SO_RCVBUF at net.core.rmem_max = %d); "
		    "%zu of %zu sockets are short; raise net.core.rmem_max "
		    "or give the node CAP_NET_ADMIN", c->rcvbuf,
		    conf_addr_fmt(&l->cl.ss, b, sizeof(b)), l->rcvbuf,
		    l->rcvbuf / 2, read_rmem_max(), short_n, ls->n);
	}
	for (size_t i = 0; i < ls->n; i++) {
		char b[CONF_ADDR_STRLEN];

		log_info("listening on UDP %s (%s), rcvbuf %d",
		    conf_addr_fmt(&ls->l[i]->cl.ss, b, sizeof(b)),
		    config_proto_name(ls->l[i]->cl.proto), ls->l[i]->rcvbuf);
	}
	*out = ls;
	return 0;
}

size_t
listeners_count(const listeners_t *ls)
{
	return ls->n;
}

/*
 * Read one /proc/net/udp{,6} file and set the drop count of every socket
 * whose inode matches. Columns: sl local rem st tx:rx tr:tm retrnsmt uid
 * timeout inode ref pointer drops.
 */
static void
read_drops(const char *path, const listeners_t *ls, listener_stats_t *st)
{
	char line[512];
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) == NULL) {	/* header */
		fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tok[14], *save = NULL, *s = line;
		int nt = 0;
		uint64_t ino, drops;

		while (nt < (int)FF_NELEM(tok) &&
		    (tok[nt] = strtok_r(s, " \t\n", &save)) != NULL) {
			nt++;
			s = NULL;
		}
		if (nt < 13)
			continue;
		ino = strtoull(tok[9], NULL, 10);
		drops = strtoull(tok[12], NULL, 10);
		for (size_t i = 0; i < ls->n; i++)
			if (ls->l[i]->inode != 0 && ls->l[i]->inode == ino) {
				st[i].drops = drops;
				st[i].drops_known = 1;
			}
	}
	fclose(fp);
}

void
listeners_stats(const listeners_t *ls, listener_stats_t *st)
{
	int v4 = 0, v6 = 0;

	for (size_t i = 0; i < ls->n; i++) {
		const struct listener *l = ls->l[i];

		memset(&st[i], 0, sizeof(st[i]));
		st[i].ss = l->cl.ss;
		st[i].proto = l->cl.proto;
		st[i].datagrams = l->datagrams;
		st[i].bytes = l->bytes;
		st[i].truncated = l->truncated;
		st[i].errors = l->errors;
		st[i].refused = l->refused;
		st[i].rcvbuf = l->rcvbuf;
		if (l->cl.ss.ss_family == AF_INET6)
			v6 = 1;
		else
			v4 = 1;
	}
	if (v4)
		read_drops("/proc/net/udp", ls, st);
	if (v6)
		read_drops("/proc/net/udp6", ls, st);
}

void
listeners_close(listeners_t *ls)
{
	if (ls == NULL || ls->closing)
		return;
	ls->closing = 1;
	for (size_t i = 0; i < ls->n; i++) {
		uv_udp_recv_stop(&ls->l[i]->h);
		uv_close((uv_handle_t *)&ls->l[i]->h, on_close);
	}
	ls->n = 0;
	set_free_if_done(ls);
}
