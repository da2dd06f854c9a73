/*
 * The daemons' shell: state directory, lock and pid file, detaching,
 * signals, the loop's end; see daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "strict.h"

#define NSIG_CAUGHT	2

struct daemon {
	daemon_opts_t o;
	uv_loop_t loop;
	int loop_open;		/* initialized and not yet closed */
	uv_signal_t sig[NSIG_CAUGHT];
	int nsig;		/* signal handles open */
	int pidfd;
	int readyfd;		/* detached: tells the starting process */
	char pidpath[PATH_MAX];
};

int
daemon_args(int argc, char **argv, void (*usage)(FILE *fp),
    daemon_args_t *a)
{
	const cmd_opt_t opts[] = {
		{ "-c", "FILE", "configuration file", &a->conf, NULL },
		{ "-f", NULL, "stay in the foreground", NULL, &a->foreground },
		{ "-n", NULL, "check the configuration and exit", NULL,
		    &a->check },
		{ "-v", NULL, "log debug messages too", NULL, &a->verbose },
		{ NULL, NULL, NULL, NULL, NULL }
	};

	memset(a, 0, sizeof(*a));
	return cmd_getopt(argc, argv, opts, usage, 0, 0, NULL);
}

int
daemon_print_fp(const char *prog, const char *state_dir, const char *fp,
    int created)
{
	if (created)
		fprintf(stderr, "%s: made a new key in %s/key.pem\n", prog,
		    state_dir);
	printf("%s\n", fp);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
daemon_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? FF_ELIMIT : 0;
}

int
daemon_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state directory %s: %s",
		    dir, strerror(errno));
		return FF_EIO;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s is not a directory",
		    dir);
		return FF_EIO;
	}
	if ((rc = strict_check(dir, &st, err, errlen)) != 0)
		return rc;
	return strict_check_parents(dir, err, errlen);
}

/*
 * Take the state directory for this process: an flock()ed pid file, so
 * two daemons never share one directory.
 */
static int
lock_state_dir(daemon_t *d, char *err, size_t errlen)
{
	if (daemon_path(d->pidpath, sizeof(d->pidpath), d->o.state_dir,
	    d->o.pid_file) != 0) {
		snprintf(err, errlen, "state directory %s: path too long",
		    d->o.state_dir);
		return FF_EINVAL;
	}
	d->pidfd = open(d->pidpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (d->pidfd == -1) {
		snprintf(err, errlen, "%s: %s", d->pidpath, strerror(errno));
		return FF_EIO;
	}
	if (flock(d->pidfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "another %s is running with "
			    "state directory %s (%s is locked)", d->o.who,
			    d->o.state_dir, d->pidpath);
		else
			snprintf(err, errlen, "%s: flock: %s", d->pidpath,
			    strerror(errno));
		close(d->pidfd);
		d->pidfd = -1;
		return errno == EWOULDBLOCK ? FF_EEXIST : FF_EIO;
	}
	return 0;
}

static void
write_pid(daemon_t *d)
{
	char b[32];
	int len = snprintf(b, sizeof(b), "%ld\n", (long)getpid());

	if (ftruncate(d->pidfd, 0) == -1 ||
	    pwrite(d->pidfd, b, (size_t)len, 0) != len)
		log_warn("cannot write the pid file %s", d->pidpath);
}

/*
 * Detach before start-up, so that every thread and every database
 * environment belong to the process that runs (neither survives a
 * fork): fork, and the parent waits on a pipe until the child reports
 * that it started (the parent exits 0) or the child exits (the parent
 * exits with its status; the child printed why on the terminal's stderr,
 * which it keeps until then). Returns, in the child, the pipe's write
 * end for daemon_ready(), or -1 when the fork failed.
 */
static int
detach_begin(void)
{
	int p[2], st;
	pid_t pid;
	char c;

	fflush(NULL);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		ssize_t r;

		close(p[1]);
		while ((r = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (r == 1)
			_exit(0);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		_exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ?
		    WEXITSTATUS(st) : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void
on_signal(uv_signal_t *s, int signum)
{
	daemon_t *d = s->data;

	d->o.stop(d->o.arg, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int
catch_signals(daemon_t *d, char *err, size_t errlen)
{
	static const int sigs[NSIG_CAUGHT] = { SIGTERM, SIGINT };
	int rc;

	for (int i = 0; i < NSIG_CAUGHT; i++) {
		uv_signal_init(&d->loop, &d->sig[i]);
		d->sig[i].data = d;
		d->nsig++;
		if ((rc = uv_signal_start(&d->sig[i], on_signal, sigs[i]))
		    != 0) {
			snprintf(err, errlen, "signal: %s", uv_strerror(rc));
			return FF_EIO;
		}
	}
	return 0;
}

int
daemon_start(const daemon_opts_t *o, daemon_t **out, char *err,
    size_t errlen)
{
	daemon_t *d;
	int rc;

	*out = NULL;
	log_init(o->prog, 1, o->log_level);
	signal(SIGPIPE, SIG_IGN);
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	d->o = *o;
	d->pidfd = -1;
	d->readyfd = -1;
	if (!o->foreground && (d->readyfd = detach_begin()) == -1) {
		snprintf(err, errlen, "cannot detach: %s", strerror(errno));
		free(d);
		return FF_EIO;
	}
	if ((rc = daemon_state_dir(o->state_dir, err, errlen)) != 0 ||
	    (rc = lock_state_dir(d, err, errlen)) != 0) {
		daemon_free(d);
		return rc;
	}
	write_pid(d);
	if ((rc = uv_loop_init(&d->loop)) != 0) {
		snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
		daemon_free(d);
		return FF_EIO;
	}
	d->loop_open = 1;
	if ((rc = catch_signals(d, err, errlen)) != 0) {
		daemon_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

uv_loop_t *
daemon_loop(daemon_t *d)
{
	return &d->loop;
}

void
daemon_signals_close(daemon_t *d)
{
	for (int i = 0; i < d->nsig; i++)
		uv_close((uv_handle_t *)&d->sig[i], NULL);
	d->nsig = 0;
}

void
daemon_ready(daemon_t *d)
{
	int nfd;

	if (d->o.foreground)
		return;
	log_init(d->o.prog, 0, d->o.log_level);
	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((nfd = open("/dev/null", O_RDWR)) != -1) {
		dup2(nfd, STDIN_FILENO);
		dup2(nfd, STDOUT_FILENO);
		dup2(nfd, STDERR_FILENO);
		if (nfd > STDERR_FILENO)
			close(nfd);
	}
	if (write(d->readyfd, "", 1) != 1)
		log_warn("cannot tell the starting process");
	close(d->readyfd);
	d->readyfd = -1;
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_warnx("handle left open at exit: %s",
	    uv_handle_type_name(h->type));
}

int
daemon_drain(daemon_t *d)
{
	int rc;

	if (!d->loop_open)
		return 0;
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if ((rc = uv_loop_close(&d->loop)) != 0) {
		uv_walk(&d->loop, walk_cb, NULL);
		log_warnx("event loop not closed cleanly: %s",
		    uv_strerror(rc));
		return FF_EBUSY;
	}
	d->loop_open = 0;
	return 0;
}

void
daemon_free(daemon_t *d)
{
	if (d == NULL)
		return;
	if (d->loop_open) {
		daemon_signals_close(d);
		daemon_drain(d);
	}
	if (d->pidfd >= 0) {
		/* still holding the lock: the file is ours to remove */
		unlink(d->pidpath);
		close(d->pidfd);
	}
	if (d->readyfd >= 0)
		close(d->readyfd);
	free(d);
}
