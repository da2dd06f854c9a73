/*
 * The daemons' shell (common/daemon.c) and the commands' option tables
 * (common/cmd.c cmd_getopt): the state directory's mode (made 0700;
 * refused when another user could change it), the lock and
 * pid file (a second daemon on one state directory is refused, the pid
 * file goes at the end), SIGTERM reaching the stop function, the loop
 * closing cleanly, detaching (the starting process exits 0 once the
 * daemon is ready, or with its status when start-up fails), and the run
 * command's options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cmd.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "tmpdir.h"

static char tmpl[] = "/tmp/fftest-daemon-XXXXXX";
static char *tmpdir;

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static long
read_long(const char *path)
{
	char buf[64] = "";
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

/* ---- the stop function ---- */

struct stopper {
	daemon_t *d;
	uv_timer_t t;
	int stops;
	char why[32];
};

static void
stop(void *arg, const char *why)
{
	struct stopper *st = arg;

	st->stops++;
	snprintf(st->why, sizeof(st->why), "%s", why ? why : "(none)");
	uv_close((uv_handle_t *)&st->t, NULL);
	daemon_signals_close(st->d);
}

static void
opts_for(daemon_opts_t *o, const char *dir, struct stopper *st)
{
	memset(o, 0, sizeof(*o));
	o->prog = "test_daemon";
	o->who = "test daemon";
	o->state_dir = dir;
	o->pid_file = "test.pid";
	o->foreground = 1;
	o->log_level = LOG_LVL_WARN;
	o->stop = stop;
	o->arg = st;
}

/* ---- tests ---- */

static void
test_state_dir(void **state)
{
	struct stat st;
	char dir[512], file[512], err[256], buf[16];

	(void)state;
	path_of(dir, sizeof(dir), "state");
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* there already: fine */
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), 0);
	/* a file in its place */
	path_of(file, sizeof(file), "afile");
	fclose(fopen(file, "w"));
	assert_int_equal(daemon_state_dir(file, err, sizeof(err)), FF_EIO);
	assert_non_null(strstr(err, "is not a directory"));
	/* its parent missing */
	path_of(dir, sizeof(dir), "no/such");
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), FF_EIO);
	assert_non_null(strstr(err, "cannot create state directory"));
	/* paths in it */
	assert_int_equal(daemon_path(buf, sizeof(buf), "/a", "b.sock"), 0);
	assert_string_equal(buf, "/a/b.sock");
	assert_int_equal(daemon_path(buf, sizeof(buf), "/a/b/c/d",
	    "node.sock"), FF_ELIMIT);
	unlink(file);
}

/* A state directory another user could change is refused, with the
   chmod or chown that fixes it. */
static void
test_state_dir_strict(void **state)
{
	char dir[512], sub[600], want[1400], err[1024];

	(void)state;
	path_of(dir, sizeof(dir), "strict");
	assert_int_equal(mkdir(dir, 0700), 0);
	/* chmod, as mkdir's mode goes through the umask */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), FF_EAUTH);
	snprintf(want, sizeof(want), "%s is writable by everyone (mode 0777)"
	    ": other users could change what this daemon trusts (chmod go-w "
	    "%s)", dir, dir);
	assert_string_equal(err, want);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), FF_EAUTH);
	assert_non_null(strstr(err, "writable by its group (mode 0770)"));
	/* readable by others is fine: nothing in it is theirs to change */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(daemon_state_dir(dir, err, sizeof(err)), 0);

	/* a directory inside one that others may write into: refused */
	snprintf(sub, sizeof(sub), "%s/state", dir);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(daemon_state_dir(sub, err, sizeof(err)), FF_EAUTH);
	snprintf(want, sizeof(want), "%s, above state directory %s, is "
	    "writable by everyone (mode 0777) and not sticky", dir, sub);
	assert_non_null(strstr(err, want));
	/* ... unless it is sticky, like /tmp */
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(daemon_state_dir(sub, err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0700), 0);

	/* not ours (root can give it away to try) */
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, (gid_t)-1), 0);
		assert_int_equal(daemon_state_dir(sub, err, sizeof(err)),
		    FF_EAUTH);
		assert_non_null(strstr(err, "(uid 65534), not by "));
		snprintf(want, sizeof(want), "(chown root %s)", sub);
		assert_non_null(strstr(err, want));
	}
	rmdir(sub);
	rmdir(dir);
}

static void
test_lock_pid_signals(void **state)
{
	struct stopper st, st2;
	daemon_opts_t o, o2;
	daemon_t *d2;
	char dir[512], pid[600], err[512];

	(void)state;
	memset(&st, 0, sizeof(st));
	path_of(dir, sizeof(dir), "run");
	snprintf(pid, sizeof(pid), "%s/test.pid", dir);
	opts_for(&o, dir, &st);
	assert_int_equal(daemon_start(&o, &st.d, err, sizeof(err)), 0);
	assert_int_equal(read_long(pid), (long)getpid());
	/* a second daemon on the same state directory is refused */
	opts_for(&o2, dir, &st2);
	assert_int_equal(daemon_start(&o2, &d2, err, sizeof(err)),
	    FF_EEXIST);
	assert_null(d2);
	assert_non_null(strstr(err, "another test daemon is running with "
	    "state directory"));
	assert_non_null(strstr(err, dir));
	/* ... and leaves the first one's pid file alone */
	assert_int_equal(read_long(pid), (long)getpid());
	/* SIGTERM reaches the stop function once the loop runs */
	uv_timer_init(daemon_loop(st.d), &st.t);
	daemon_ready(st.d);
	raise(SIGTERM);
	uv_run(daemon_loop(st.d), UV_RUN_DEFAULT);
	assert_int_equal(st.stops, 1);
	assert_string_equal(st.why, "SIGTERM");
	assert_int_equal(daemon_drain(st.d), 0);
	assert_int_equal(daemon_drain(st.d), 0);
	daemon_free(st.d);
	assert_int_equal(access(pid, F_OK), -1);
	/* the lock went with it */
	memset(&st, 0, sizeof(st));
	assert_int_equal(daemon_start(&o, &st.d, err, sizeof(err)), 0);
	uv_timer_init(daemon_loop(st.d), &st.t);
	raise(SIGINT);
	uv_run(daemon_loop(st.d), UV_RUN_DEFAULT);
	assert_string_equal(st.why, "SIGINT");
	daemon_free(st.d);
	/* daemon_free also drains what the caller did not */
	memset(&st, 0, sizeof(st));
	assert_int_equal(daemon_start(&o, &st.d, err, sizeof(err)), 0);
	daemon_free(st.d);
	daemon_free(NULL);
}

/*
 * In a child: start detached with state directory dir; the daemon (the
 * grandchild) writes "PID SID" to out and ends. The child's exit status
 * is the starting process's.
 */
static int
detach_child(const char *dir, const char *out)
{
	struct stopper st;
	daemon_opts_t o;
	char err[512];
	pid_t pid;
	int ws;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		char tmp[600];
		FILE *fp;

		memset(&st, 0, sizeof(st));
		opts_for(&o, dir, &st);
		o.foreground = 0;
		if (daemon_start(&o, &st.d, err, sizeof(err)) != 0)
			_exit(3);
		daemon_ready(st.d);
		snprintf(tmp, sizeof(tmp), "%s.tmp", out);
		if ((fp = fopen(tmp, "w")) != NULL) {
			fprintf(fp, "%ld %ld\n", (long)getpid(),
			    (long)getsid(0));
			fclose(fp);
			rename(tmp, out);
		}
		daemon_free(st.d);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	return WEXITSTATUS(ws);
}

static void
test_detach(void **state)
{
	char dir[512], out[512], file[512];
	long p = 0, sid = 0;
	FILE *fp;

	(void)state;
	path_of(dir, sizeof(dir), "detached");
	path_of(out, sizeof(out), "detached.out");
	assert_int_equal(detach_child(dir, out), 0);
	/* the starting process left when the daemon was ready */
	for (int i = 0; i < 500 && access(out, F_OK) != 0; i++)
		usleep(10000);
	assert_non_null(fp = fopen(out, "r"));
	assert_int_equal(fscanf(fp, "%ld %ld", &p, &sid), 2);
	fclose(fp);
	assert_true(p > 0);
	assert_int_equal(sid, p);	/* a session of its own */
	/* start-up fails: the starting process exits with its status */
	path_of(file, sizeof(file), "notadir");
	fclose(fopen(file, "w"));
	assert_int_equal(detach_child(file, out), 3);
	unlink(file);
	unlink(out);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: test\n");
}

static void
test_run_args(void **state)
{
	char a0[] = "run", c[] = "-c", f[] = "/etc/x.conf", fg[] = "-f",
	    n[] = "-n", v[] = "-v", bogus[] = "--bogus", extra[] = "extra",
	    help[] = "--help";
	char *ok[] = { a0, c, f, fg, n, v, NULL };
	char *bad[] = { a0, bogus, NULL };
	char *more[] = { a0, extra, NULL };
	char *h[] = { a0, help, NULL };
	char *none[] = { a0, NULL };
	daemon_args_t a;

	(void)state;
	assert_int_equal(daemon_args(6, ok, usage, &a), CMD_GO);
	assert_string_equal(a.conf, "/etc/x.conf");
	assert_true(a.foreground && a.check && a.verbose);
	assert_int_equal(daemon_args(1, none, usage, &a), CMD_GO);
	assert_null(a.conf);
	assert_false(a.foreground || a.check || a.verbose);
	assert_int_equal(daemon_args(2, bad, usage, &a), CMD_EX_USAGE);
	assert_int_equal(daemon_args(2, more, usage, &a), CMD_EX_USAGE);
	assert_int_equal(daemon_args(2, h, usage, &a), 0);
}

static void
test_getopt_long_only_and_operands(void **state)
{
	char a0[] = "decode", j[] = "--json", x[] = "--exporters",
	    f1[] = "a.pcap", f2[] = "b.pcap", s[] = "-s", sv[] = "/x.sock";
	char *argv[] = { a0, j, f1, x, f2, NULL };
	char *argv2[] = { a0, s, sv, NULL };
	char *argv3[] = { a0, j, NULL };
	const char *sock = NULL;
	int json = 0, exporters = 0, first = 0;
	const cmd_opt_t opts[] = {
		{ "--json", NULL, "JSON", NULL, &json },
		{ "--exporters", NULL, "exporters", NULL, &exporters },
		{ "-s", "SOCKET", "the socket", &sock, NULL },
		{ NULL, NULL, NULL, NULL, NULL }
	};

	(void)state;
	/* options and operands mixed; operands counted */
	assert_int_equal(cmd_getopt(5, argv, opts, usage, 1, -1, &first),
	    CMD_GO);
	assert_true(json && exporters);
	assert_string_equal(argv[first], "a.pcap");
	assert_string_equal(argv[first + 1], "b.pcap");
	assert_int_equal(cmd_getopt(5, argv, opts, usage, 0, 1, NULL),
	    CMD_EX_USAGE);
	assert_int_equal(cmd_getopt(3, argv2, opts, usage, 0, 0, NULL),
	    CMD_GO);
	assert_string_equal(sock, "/x.sock");
	assert_int_equal(cmd_getopt(2, argv3, opts, usage, 1, -1, NULL),
	    CMD_EX_USAGE);
	assert_int_equal(cmd_fail("test_daemon", "shown on %s", "stderr"),
	    1);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_daemon", 1, LOG_LVL_WARN);
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
		cmocka_unit_test(test_state_dir),
		cmocka_unit_test(test_state_dir_strict),
		cmocka_unit_test(test_lock_pid_signals),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_run_args),
		cmocka_unit_test(test_getopt_long_only_and_operands),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
