/*
 * The local control socket server (common/ctlsock.c) with real Unix
 * sockets in a temporary directory and a small echo protocol on top:
 * the socket file's rules (directory 0700, mode 0600, a stale socket
 * replaced, a live one or a plain file refused, removed at close only
 * while it is ours), replies and the peer's credentials, the client
 * cap, idle timeouts, held clients outliving their connection, replies
 * queued before the server closes, every loop closing cleanly, and the
 * blocking client's side (common/ctlclient.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctlclient.h"
#include "common/ctlsock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "tmpdir.h"

static char tmpl[] = "/tmp/fftest-ctlsock-XXXXXX";
static char *tmpdir;

/* ---- the echo protocol ---- */

/* What the tests see of the server's side. */
struct seen {
	int opened, closed, busy;
	int close_err;
	char close_why[128];
	ctlsock_client_t *held;		/* a client kept with ctlsock_hold */
	ctlsock_client_t *last;		/* the last client that sent data */
};

static struct seen S;

struct echo_state {
	int hold;		/* hold the next client that sends data */
	int replies;		/* replies written */
};

struct echo_client {
	int requests;
};

static int
echo_open(ctlsock_client_t *cl)
{
	(void)cl;
	S.opened++;
	return 0;
}

static void
echo_busy(ctlsock_client_t *cl)
{
	S.busy++;
	ctlsock_write(cl, "busy\n", 5);
}

/* "quit": orderly close; "hold": keep the client; else the bytes back,
   upper-cased. */
static void
echo_data(ctlsock_client_t *cl, const uint8_t *data, size_t len)
{
	struct echo_state *st = ctlsock_state(ctlsock_server(cl));
	struct echo_client *ec = ctlsock_data(cl);
	char buf[256];

	ec->requests++;
	ctlsock_touch(cl);
	S.last = cl;
	if (len >= 4 && memcmp(data, "quit", 4) == 0) {
		ctlsock_write(cl, "bye\n", 4);
		ctlsock_close_client(cl, 0, "quit");
		return;
	}
	if (len >= 4 && memcmp(data, "hold", 4) == 0) {
		ctlsock_hold(cl);
		S.held = cl;
		return;
	}
	len = len < sizeof(buf) ? len : sizeof(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(data[i] >= 'a' && data[i] <= 'z' ?
		    data[i] - 32 : data[i]);
	assert_int_equal(ctlsock_write(cl, buf, len), 0);
	st->replies++;
}

static void
echo_close(ctlsock_client_t *cl, int err, const char *why)
{
	(void)cl;
	S.closed++;
	S.close_err = err;
	snprintf(S.close_why, sizeof(S.close_why), "%s", why);
}

static ctlsock_proto_t echo = {
	.who = "echo server",
	.max_clients = 4,
	.idle_ms = 60000,
	.grace_ms = 2000,
	.state_size = sizeof(struct echo_state),
	.client_size = sizeof(struct echo_client),
	.on_open = echo_open,
	.on_busy = echo_busy,
	.on_data = echo_data,
	.on_close = echo_close,
};

/* ---- helpers ---- */

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Run the loop a little: until cond(arg) holds or ms pass. */
static int
run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;

	while (mono_ms() < end) {
		if (cond != NULL && cond(arg))
			return 1;
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	return cond != NULL && cond(arg);
}

static int
fd_readable(void *arg)
{
	struct pollfd p = { .fd = *(int *)arg, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static int
int_set(void *arg)
{
	return *(int *)arg != 0;
}

/* Read what is there from fd (the loop runs meanwhile); "" at EOF. */
static ssize_t
read_reply(uv_loop_t *loop, int fd, char *buf, size_t len)
{
	ssize_t n;

	if (!run_until(loop, fd_readable, &fd, 2000))
		return -1;
	n = read(fd, buf, len - 1);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Close the server, run the loop dry, close it: nothing may be left. */
static void
finish(uv_loop_t *loop, ctlsock_t *s)
{
	ctlsock_close(s, "test over");
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static int
open_echo(uv_loop_t *loop, const char *path, ctlsock_t **s)
{
	char err[256] = "";
	int rc;

	memset(&S, 0, sizeof(S));
	rc = ctlsock_open(loop, path, &echo, s, err, sizeof(err));
	if (rc != 0)
		print_message("ctlsock_open: %s\n", err);
	return rc;
}

/* ---- tests ---- */

static void
test_socket_file(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	struct stat st;
	char dir[512], path[600];

	(void)state;
	uv_loop_init(&loop);
	/* the missing directory is made 0700, the socket is 0600 */
	snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	assert_int_equal(open_echo(&loop, path, &s), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	finish(&loop, s);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	rmdir(dir);
}

static void
test_stale_live_and_not_a_socket(void **state)
{
	struct sockaddr_un sun;
	uv_loop_t loop;
	ctlsock_t *s, *s2;
	struct stat st;
	char path[512], err[256];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "stale.sock");
	/* a socket bound and never listened on: its owner died */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(open_echo(&loop, path, &s), 0);
	/* a second server on the same path: someone answers there */
	assert_int_equal(ctlsock_open(&loop, path, &echo, &s2, err,
	    sizeof(err)), FF_EEXIST);
	assert_non_null(strstr(err, "another echo server is running"));
	assert_non_null(strstr(err, path));
	finish(&loop, s);

	/* a plain file is never touched */
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "file.sock");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(ctlsock_open(&loop, path, &echo, &s, err,
	    sizeof(err)), FF_EEXIST);
	assert_non_null(strstr(err, "exists and is not a socket"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1);
	unlink(path);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_replaced_file_is_left(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	struct stat st;
	char path[512];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "moved.sock");
	assert_int_equal(open_echo(&loop, path, &s), 0);
	/* someone put another file there: it is not ours to remove */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	finish(&loop, s);
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
}

static void
test_reply_and_credentials(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	ctlsock_cred_t cr;
	struct echo_state *st;
	char path[512], buf[256], want[64];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "echo.sock");
	assert_int_equal(open_echo(&loop, path, &s), 0);
	st = ctlsock_state(s);
	fd = ctlclient_connect(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	assert_int_equal(read_reply(&loop, fd, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "HELLO");
	assert_int_equal(st->replies, 1);
	assert_int_equal(S.opened, 1);
	/* who is on the other end */
	assert_non_null(S.last);
	assert_true(ctlsock_alive(S.last));
	assert_int_equal(ctlsock_peer_cred(S.last, &cr), 0);
	assert_int_equal(cr.pid, getpid());
	assert_int_equal(cr.uid, getuid());
	assert_int_equal(cr.gid, getgid());
	snprintf(want, sizeof(want), "unix:pid %ld uid %lu", (long)getpid(),
	    (unsigned long)getuid());
	assert_string_equal(ctlsock_peer(S.last), want);
	assert_int_equal(((struct echo_client *)ctlsock_data(S.last))->
	    requests, 1);
	/* an orderly close: the reply first, then EOF */
	assert_int_equal(write(fd, "quit", 4), 4);
	assert_int_equal(read_reply(&loop, fd, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "bye\n");
	assert_int_equal(read_reply(&loop, fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_true(run_until(&loop, int_set, &S.closed, 2000));
	assert_int_equal(S.close_err, 0);
	assert_string_equal(S.close_why, "quit");
	/* and a client that just goes away */
	fd = ctlclient_connect(path);
	assert_true(fd >= 0);
	assert_true(run_until(&loop, NULL, NULL, 20) == 0);
	close(fd);
	assert_true(run_until(&loop, NULL, NULL, 50) == 0);
	assert_int_equal(S.closed, 2);
	assert_string_equal(S.close_why, "closed by peer");
	finish(&loop, s);
}

static void
test_client_cap(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	char path[512], buf[64];
	int fds[5];

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "cap.sock");
	assert_int_equal(open_echo(&loop, path, &s), 0);
	for (int i = 0; i < 4; i++) {
		fds[i] = ctlclient_connect(path);
		assert_true(fds[i] >= 0);
	}
	assert_true(run_until(&loop, NULL, NULL, 50) == 0);
	assert_int_equal(S.opened, 4);
	/* one more is refused with the protocol's last words */
	fds[4] = ctlclient_connect(path);
	assert_true(fds[4] >= 0);
	assert_int_equal(read_reply(&loop, fds[4], buf, sizeof(buf)), 5);
	assert_string_equal(buf, "busy\n");
	assert_int_equal(read_reply(&loop, fds[4], buf, sizeof(buf)), 0);
	assert_int_equal(S.busy, 1);
	assert_int_equal(S.opened, 4);
	/* the others are still served */
	assert_int_equal(write(fds[0], "x", 1), 1);
	assert_int_equal(read_reply(&loop, fds[0], buf, sizeof(buf)), 1);
	assert_string_equal(buf, "X");
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	finish(&loop, s);
	/* closed at the end; the refused one never opened */
	assert_int_equal(S.closed, 4);
}

static void
test_idle_timeout(void **state)
{
	ctlsock_proto_t quick = echo;
	uv_loop_t loop;
	ctlsock_t *s;
	char path[512], buf[64], err[256];
	int fd, fd2;

	(void)state;
	quick.idle_ms = 100;
	uv_loop_init(&loop);
	memset(&S, 0, sizeof(S));
	path_of(path, sizeof(path), "idle.sock");
	assert_int_equal(ctlsock_open(&loop, path, &quick, &s, err,
	    sizeof(err)), 0);
	fd = ctlclient_connect(path);
	fd2 = ctlclient_connect(path);
	assert_true(fd >= 0 && fd2 >= 0);
	/* fd2 holds a pending reply: never idle */
	assert_int_equal(write(fd2, "hold", 4), 4);
	assert_int_equal(read_reply(&loop, fd, buf, sizeof(buf)), 0);
	assert_int_equal(S.closed, 1);
	assert_int_equal(S.close_err, 0);
	assert_string_equal(S.close_why, "idle");
	assert_non_null(S.held);
	assert_true(ctlsock_alive(S.held));
	assert_true(run_until(&loop, NULL, NULL, 300) == 0);
	assert_true(ctlsock_alive(S.held));
	/* the late reply, then the client can idle out */
	assert_int_equal(ctlsock_write(S.held, "late", 4), 0);
	ctlsock_release(S.held);
	assert_int_equal(read_reply(&loop, fd2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "late");
	assert_int_equal(read_reply(&loop, fd2, buf, sizeof(buf)), 0);
	close(fd);
	close(fd2);
	finish(&loop, s);
}

static void
test_held_client_outlives_connection(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	ctlsock_client_t *cl;
	char path[512];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "hold.sock");
	assert_int_equal(open_echo(&loop, path, &s), 0);
	fd = ctlclient_connect(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hold", 4), 4);
	assert_true(run_until(&loop, NULL, NULL, 30) == 0);
	assert_non_null(cl = S.held);
	close(fd);
	assert_true(run_until(&loop, int_set, &S.closed, 2000));
	/* gone, but its memory is still there for the late reply */
	assert_false(ctlsock_alive(cl));
	assert_int_equal(ctlsock_write(cl, "late", 4), FF_EINVAL);
	assert_int_equal(((struct echo_client *)ctlsock_data(cl))->requests,
	    1);
	/* the server closes while the client is still held... */
	ctlsock_close(s, "test over");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_false(ctlsock_alive(cl));
	/* ...and both go with the last release */
	ctlsock_release(cl);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_close_lets_replies_out(void **state)
{
	uv_loop_t loop;
	ctlsock_t *s;
	char path[512], buf[64];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	path_of(path, sizeof(path), "stop.sock");
	assert_int_equal(open_echo(&loop, path, &s), 0);
	fd = ctlclient_connect(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hold", 4), 4);
	assert_true(run_until(&loop, NULL, NULL, 30) == 0);
	assert_non_null(S.held);
	/* the reply goes out before the server's close closes the client */
	assert_int_equal(ctlsock_write(S.held, "stopping", 8), 0);
	ctlsock_release(S.held);
	ctlsock_close(s, "stopping");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(S.closed, 1);
	assert_string_equal(S.close_why, "stopping");
	close(fd);
}

static void
test_connect_errors(void **state)
{
	char path[512], longp[200];

	(void)state;
	path_of(path, sizeof(path), "nobody.sock");
	assert_int_equal(ctlclient_connect(path), FF_EIO);
	assert_int_equal(errno, ENOENT);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(ctlclient_connect(longp), FF_EINVAL);
}

static void
test_client_send(void **state)
{
	char buf[16];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctlclient_send(sv[0], "stats\n", 6), 0);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "stats\n", 6);
	/* the peer is gone: an error, not SIGPIPE */
	close(sv[1]);
	assert_int_equal(ctlclient_send(sv[0], "x", 1), FF_EIO);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_ctlsock", 1, LOG_LVL_WARN);
	tmpdir = tmpdir_make(tmpl);
	return tmpdir == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_file),
		cmocka_unit_test(test_stale_live_and_not_a_socket),
		cmocka_unit_test(test_replaced_file_is_left),
		cmocka_unit_test(test_reply_and_credentials),
		cmocka_unit_test(test_client_cap),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_held_client_outlives_connection),
		cmocka_unit_test(test_close_lets_replies_out),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_client_send),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
