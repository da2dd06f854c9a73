/*
 * flowfleet-controller: the fleet controller daemon.
 *
 *   flowfleet-controller run [-c FILE] [-f] [-n] [-v]
 *   flowfleet-controller fingerprint [-c FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "controller.h"
#include "ctlnodes.h"
#include "dquery.h"
#include "ctlsock.h"

#define PID_FILE	"controller.pid"

struct daemon {
	controller_t c;
	uv_loop_t loop;
	int loop_init;
	uv_signal_t sig[2];
	int nsig;
	int tick_open;
	int pidfd;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-controller COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  run [-c FILE] [-f] [-n] [-v]\n"
"        run the controller: keep the fleet inventory, dial every node on\n"
"        its control (2210) and query (4210) ports over mutual TLS, and\n"
"        answer the flowfleet CLI on the control socket\n"
"          -c FILE  configuration (default "
    CONTROLLER_CONFIG_DEFAULT_PATH ";\n"
"                   when that file does not exist, the defaults)\n"
"          -f       stay in the foreground, log to stderr\n"
"          -n       check the configuration and exit (-v: print it)\n"
"          -v       log debug messages too\n"
"  fingerprint [-c FILE]\n"
"        print the controller's key fingerprint (the key is made in the\n"
"        state directory if there is none yet); nodes pin it with\n"
"        'controller-fingerprint'\n"
"  help, --help      this text\n"
"  version, --version\n"
"\n"
"Exit status: 0 on a clean stop or success, 1 when the configuration is\n"
"bad or start-up fails, 2 on a usage error.\n");
}

/* Read the options shared by both commands. */
static int
get_opts(int argc, char **argv, const char *optstr, const char **conf,
    int *fg, int *check, int *verbose)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, optstr, opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*conf = optarg;
			break;
		case 'f':
			*fg = 1;
			break;
		case 'n':
			*check = 1;
			break;
		case 'v':
			*verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

static int
make_state_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "flowfleet-controller: cannot create state "
		    "directory %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "flowfleet-controller: %s is not a "
		    "directory\n", dir);
		return -1;
	}
	return 0;
}

static int
load_identity(const struct controller_config *cfg, const char *cn,
    wire_identity_t **id, int *created)
{
	char err[1024] = "";

	if (wire_init() != 0) {
		fprintf(stderr, "flowfleet-controller: cannot initialize "
		    "libsodium\n");
		return -1;
	}
	if (wire_identity_load(cfg->state_dir, cn, id, created, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-controller: %s\n", err);
		return -1;
	}
	return 0;
}

static int
cmd_fingerprint(int argc, char **argv)
{
	const char *conf = NULL;
	struct controller_config *cfg;
	wire_identity_t *id;
	char err[1024];
	int fg = 0, check = 0, verbose = 0, rc, created;

	if ((rc = get_opts(argc, argv, "c:h", &conf, &fg, &check, &verbose))
	    >= 0)
		return rc;
	if (controller_config_load(conf ? conf : CONTROLLER_CONFIG_DEFAULT_PATH,
	    conf == NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-controller: %s\n", err);
		return 1;
	}
	rc = 1;
	if (make_state_dir(cfg->state_dir) == 0 &&
	    load_identity(cfg, cfg->name ? cfg->name : "controller", &id,
	    &created) == 0) {
		if (created)
			fprintf(stderr, "flowfleet-controller: made a new key "
			    "in %s/key.pem\n", cfg->state_dir);
		printf("%s\n", wire_identity_fp(id));
		rc = fflush(stdout) == 0 ? 0 : 1;
		wire_identity_free(id);
	}
	controller_config_free(cfg);
	return rc;
}

/* ---- run ---- */

static int
lock_state_dir(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, PID_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		fprintf(stderr, "flowfleet-controller: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		fprintf(stderr, "flowfleet-controller: %s\n", errno ==
		    EWOULDBLOCK ? "another controller is running with this "
		    "state directory" : strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
write_pid(int fd)
{
	char b[32];
	int len = snprintf(b, sizeof(b), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == -1 || pwrite(fd, b, (size_t)len, 0) != len)
		log_warn("cannot write the pid file");
}

static void
on_tick(uv_timer_t *t)
{
	controller_t *c = t->data;
	uint64_t now = mono_ms();

	peer_tick(c);
	dquery_tick(c);
	if (now >= c->next_flush) {
		fleet_flush(c);
		c->next_flush = now + c->cfg->flush_interval_ms;
	}
}

static void
daemon_stop(struct daemon *d, const char *why)
{
	controller_t *c = &d->c;

	if (c->stopping)
		return;
	c->stopping = 1;
	if (why != NULL)
		log_info("stopping (%s)", why);
	dquery_stop_all(c, "the controller is stopping");
	ctlsock_close(c->sock);
	c->sock = NULL;
	peer_stop_all(c);
	if (d->tick_open) {
		uv_close((uv_handle_t *)&c->tick, NULL);
		d->tick_open = 0;
	}
	for (int i = 0; i < d->nsig; i++)
		uv_close((uv_handle_t *)&d->sig[i], NULL);
	d->nsig = 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	daemon_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int
daemon_start(struct daemon *d)
{
	static const int sigs[2] = { SIGTERM, SIGINT };
	controller_t *c = &d->c;
	char err[1024];
	int rc, created;

	if (make_state_dir(c->cfg->state_dir) != 0 ||
	    (d->pidfd = lock_state_dir(c->cfg->state_dir)) < 0)
		return -1;
	write_pid(d->pidfd);
	if (load_identity(c->cfg, c->name, &c->id, &created) != 0)
		return -1;
	log_info("%s controller key %s (%s/key.pem)", created ? "made a new" :
	    "using", wire_identity_fp(c->id), c->cfg->state_dir);
	if (inv_open(c->cfg->state_dir, &c->inv, err, sizeof(err)) != 0 ||
	    fleet_load(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-controller: %s\n", err);
		return -1;
	}
	if ((rc = uv_loop_init(&d->loop)) != 0) {
		fprintf(stderr, "flowfleet-controller: uv_loop_init: %s\n",
		    uv_strerror(rc));
		return -1;
	}
	d->loop_init = 1;
	c->loop = &d->loop;
	dquery_init(c, &peer_qtransport);
	if (ctlsock_open(c, c->cfg->socket, &c->sock, err, sizeof(err)) != 0 ||
	    ctlnodes_register(c->sock) != 0 ||
	    dquery_register(c->sock) != 0) {
		fprintf(stderr, "flowfleet-controller: %s\n", err);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		uv_signal_init(&d->loop, &d->sig[i]);
		d->sig[i].data = d;
		d->nsig++;
		if ((rc = uv_signal_start(&d->sig[i], on_signal, sigs[i]))
		    != 0) {
			fprintf(stderr, "flowfleet-controller: signal: %s\n",
			    uv_strerror(rc));
			return -1;
		}
	}
	for (fnode_t *n = c->nodes; n != NULL; n = n->next)
		peer_start(c, n);
	uv_timer_init(&d->loop, &c->tick);
	c->tick.data = c;
	d->tick_open = 1;
	c->next_flush = mono_ms() + c->cfg->flush_interval_ms;
	uv_timer_start(&c->tick, on_tick, PEER_TICK_MS, PEER_TICK_MS);
	return 0;
}

static int
daemonize(struct daemon *d)
{
	pid_t pid;
	int fd, rc;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if ((rc = uv_loop_fork(&d->loop)) != 0) {
		log_warnx("uv_loop_fork: %s", uv_strerror(rc));
		return -1;
	}
	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	write_pid(d->pidfd);
	return 0;
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_warnx("handle left open at exit: %s",
	    uv_handle_type_name(h->type));
}

static int
daemon_finish(struct daemon *d)
{
	controller_t *c = &d->c;
	int rc = 0;

	if (d->loop_init) {
		daemon_stop(d, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if ((rc = uv_loop_close(&d->loop)) != 0) {
			uv_walk(&d->loop, walk_cb, NULL);
			log_warnx("event loop not closed cleanly: %s",
			    uv_strerror(rc));
		}
	}
	if (c->inv != NULL) {
		fleet_flush_sync(c);
		inv_close(c->inv);
	}
	fleet_free(c);
	wire_identity_free(c->id);
	if (d->pidfd >= 0) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/%s", c->cfg->state_dir,
		    PID_FILE);
		unlink(path);
		close(d->pidfd);
	}
	return rc == 0 ? 0 : -1;
}

static int
cmd_run(int argc, char **argv)
{
	const char *conf = NULL;
	struct controller_config *cfg;
	struct daemon d;
	char err[1024];
	int fg = 0, check = 0, verbose = 0, rc;

	if ((rc = get_opts(argc, argv, "c:fnvh", &conf, &fg, &check,
	    &verbose)) >= 0)
		return rc;
	if (controller_config_load(conf ? conf : CONTROLLER_CONFIG_DEFAULT_PATH,
	    conf == NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-controller: %s\n", err);
		return 1;
	}
	if (check) {
		if (verbose)
			controller_config_print(stdout, cfg);
		fprintf(stderr, "%s: configuration OK\n", cfg->file);
		controller_config_free(cfg);
		return 0;
	}
	log_init("flowfleet-controller", 1, verbose ? LOG_LVL_DEBUG :
	    cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	d.pidfd = -1;
	d.c.cfg = cfg;
	d.c.start_ms = now_ms();
	if (cfg->name != NULL)
		snprintf(d.c.name, sizeof(d.c.name), "%s", cfg->name);
	else if (gethostname(d.c.name, sizeof(d.c.name)) != 0 ||
	    d.c.name[0] == '\0')
		snprintf(d.c.name, sizeof(d.c.name), "controller");
	d.c.name[sizeof(d.c.name) - 1] = '\0';
	if (daemon_start(&d) != 0) {
		daemon_finish(&d);
		controller_config_free(cfg);
		return 1;
	}
	if (!fg) {
		log_init("flowfleet-controller", 0, verbose ? LOG_LVL_DEBUG :
		    cfg->log_level);
		if (daemonize(&d) != 0) {
			daemon_finish(&d);
			controller_config_free(cfg);
			return 1;
		}
	}
	log_info("started: pid %ld, version %s, %zu nodes, control socket "
	    "%s", (long)getpid(), FF_VERSION, d.c.nnodes, cfg->socket);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	rc = daemon_finish(&d);
	log_info("stopped%s", rc == 0 ? "" : " (event loop not clean)");
	controller_config_free(cfg);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	log_init("flowfleet-controller", 1, LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "fingerprint") == 0)
		return cmd_fingerprint(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("flowfleet-controller %s\n", FF_VERSION);
		return 0;
	}
	fprintf(stderr, "flowfleet-controller: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
