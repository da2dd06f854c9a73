/*
 * flowfleet-node run [-c FILE] [-f] [-n] [-v]
 *
 * The node daemon: UDP listeners -> ingest (decoder, batches, template
 * persistence) -> the store writer thread -> the flow store in
 * STATE_DIR/flows; the local control socket and the control plane
 * (2210/4210), on one libuv loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "config.h"
#include "control.h"
#include "ctl.h"
#include "ingest.h"
#include "listener.h"
#include "node.h"
#include "qengine.h"
#include "stats.h"
#include "writer.h"

#define PID_FILE	"node.pid"

struct node {
	uv_loop_t loop;
	struct node_config *cfg;
	/*
	 * The flow store, open read-write from before control_start() until
	 * after the loop (and with it the query channel) has closed. Any
	 * thread may run queries on it (query_run); only the writer
	 * writes.
	 */
	store_t *store;
	writer_t *writer;	/* the store's writer thread */
	listeners_t *ls;
	ingest_t *ing;
	ctl_t *ctl;
	control_t *cp;		/* control plane: 2210/4210 (control.c) */
	qengine_t *qe;		/* queries on 4210 on n->store (qengine.c) */
	uv_signal_t sig[2];
	int nsig;
	int pidfd;
	int loop_init;		/* the loop needs draining and closing */
	uint64_t start_ms;
	int stopping;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node run [-f] [-n] [-v] [-c FILE]\n"
"\n"
"Run the collector node: receive NetFlow v5/v9, IPFIX and sFlow v5 on UDP,\n"
"decode it, store the flows in STATE_DIR/" NODE_STORE_DIR " (see 'flowfleet-node\n"
"query') and count everything (see 'flowfleet-node stats').\n"
"\n"
"  -c FILE   configuration file (default " CONFIG_DEFAULT_PATH "; when\n"
"            that file does not exist, every setting takes its default)\n"
"  -f        stay in the foreground and log to stderr (default: detach\n"
"            and log to syslog)\n"
"  -n        check the configuration and exit; with -v print it back in\n"
"            normalized form\n"
"  -v        log debug messages too\n"
"  -h, --help  this text\n"
"\n"
"Stop the node with SIGTERM or SIGINT: it flushes, commits every flow it\n"
"has decoded to the store, saves its templates in the state directory and\n"
"exits 0.\n"
"\n"
"Exit status: 0 on a clean stop (or a good configuration with -n), 1 when\n"
"the configuration is bad or start-up fails, 2 on a usage error.\n");
}

static void
ctl_handle(void *arg, const char *req, FILE *fp)
{
	struct node *n = arg;
	node_stats_t st;
	int json;

	if (strcmp(req, "stats") == 0)
		json = 0;
	else if (strcmp(req, "stats json") == 0)
		json = 1;
	else {
		fprintf(fp, "error: unknown request '%.64s' (known: stats, "
		    "stats json)\n", req);
		return;
	}
	/* Count the partial batch too: stats show every decoded flow. */
	ingest_flush(n->ing);
	if (node_stats_collect(n->ls, n->ing, n->writer, n->start_ms,
	    &st) != 0) {
		fputs("error: out of memory\n", fp);
		return;
	}
	st.retention_age_ms = n->cfg->retention_age_ms;
	st.retention_size = n->cfg->retention_size;
	if (n->qe != NULL) {
		st.have_queries = 1;
		qengine_get_stats(n->qe, &st.queries);
	}
	if (json)
		node_stats_print_json(&st, fp);
	else
		node_stats_print_table(&st, fp);
	node_stats_release(&st);
}

/* Counters for the controller's STATUS (a control_status_fn). */
static int
node_status(void *arg, control_status_t *out)
{
	struct node *n = arg;
	int rc;

	if ((rc = node_stats_collect(n->ls, n->ing, n->writer, n->start_ms,
	    &out->st)) != 0)
		return rc;
	if (out->st.have_store) {
		out->have_store = 1;
		out->store = out->st.store.store;
		out->store_queue_dropped = out->st.store.dropped;
	}
	if (n->qe != NULL) {
		out->st.have_queries = 1;
		qengine_get_stats(n->qe, &out->st.queries);
	}
	return 0;
}

/*
 * The query engine plugs in here, once the control plane is up: the
 * query channel's server gets the engine (qengine.c), which runs
 * queries on n->store off the loop thread. The engine is stopped in
 * node_stop() before the query listener closes and freed in
 * node_finish() after the loop has run dry, before the store closes.
 */
static int
node_plug_queries(struct node *n, char *err, size_t errlen)
{
	qengine_opts_t qo;

	memset(&qo, 0, sizeof(qo));
	qo.max_running = n->cfg->query_max_running;
	qo.threads = (int)n->cfg->query_threads;
	qo.max_ms = n->cfg->query_max_ms;
	qo.max_mem = n->cfg->query_max_mem;
	qo.max_rows = n->cfg->query_max_rows;
	qo.max_result = n->cfg->query_max_result;
	if ((n->qe = qengine_new(&n->loop, n->store, &qo)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	qserver_set_handler(control_qserver(n->cp), qengine_handler(), n->qe);
	return 0;
}

static void
node_stop(struct node *n, const char *why)
{
	const ingest_totals_t *t;

	if (n->stopping)
		return;
	n->stopping = 1;
	qengine_stop(n->qe);	/* before its listener goes */
	control_stop(n->cp);
	n->cp = NULL;
	listeners_close(n->ls);
	n->ls = NULL;
	if (n->ing != NULL) {
		ingest_close(n->ing);
		t = ingest_totals(n->ing);
		if (why != NULL)
			log_info("stopping (%s): %" PRIu64 " datagrams, %"
			    PRIu64 " flows, %" PRIu64 " bytes, %" PRIu64
			    " packets; committing to the store", why,
			    t->datagrams, t->flows, t->bytes, t->packets);
	}
	ctl_close(n->ctl);
	n->ctl = NULL;
	for (int i = 0; i < n->nsig; i++)
		uv_close((uv_handle_t *)&n->sig[i], NULL);
	n->nsig = 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	node_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Create the state directory (mode 0700) if it is missing. */
static int
make_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state directory %s: %s",
		    dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s is not a directory",
		    dir);
		return -1;
	}
	return 0;
}

/*
 * Take the state directory for this process: an flock()ed pid file, so
 * two nodes never share one directory. Returns the fd or -1.
 */
static int
lock_state_dir(const char *dir, char *err, size_t errlen)
{
	char path[512];		/* config.c bounds state-dir far below */
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, PID_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "another flowfleet-node is "
			    "running with state directory %s (%s is locked)",
			    dir, path);
		else
			snprintf(err, errlen, "%s: flock: %s", path,
			    strerror(errno));
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

/*
 * Detach before start-up, so that every thread and the store's LMDB
 * environment belong to the process that runs (neither survives a
 * fork): fork, and the parent waits on a pipe until the child reports
 * that it started (the parent exits 0) or the child exits (the parent
 * exits with its status; the child printed why on the terminal's stderr,
 * which it keeps until then). Returns, in the child, the pipe's write
 * end for detach_done(), or -1 when the fork failed.
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

/* In the started child: stdio to /dev/null, then release the parent. */
static void
detach_done(int fd)
{
	int nfd;

	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((nfd = open("/dev/null", O_RDWR)) != -1) {
		dup2(nfd, STDIN_FILENO);
		dup2(nfd, STDOUT_FILENO);
		dup2(nfd, STDERR_FILENO);
		if (nfd > STDERR_FILENO)
			close(nfd);
	}
	if (write(fd, "", 1) != 1)
		log_warn("cannot tell the starting process");
	close(fd);
}

/* Open the flow store in STATE_DIR/flows and start its writer. */
static int
node_open_store(struct node *n, char *err, size_t errlen)
{
	const struct node_config *c = n->cfg;
	store_opts_t so;
	writer_opts_t wo;
	char path[4096], msg[512];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", c->state_dir, NODE_STORE_DIR);
	memset(&so, 0, sizeof(so));
	so.path = path;
	so.map_size = c->store_map_size;
	so.max_bytes = c->retention_size;
	so.max_age_ms = c->retention_age_ms;
	so.nosync = !c->store_sync;
	if ((rc = store_open(&so, &n->store, msg, sizeof(msg))) != 0) {
		snprintf(err, errlen, "cannot open the flow store: %s", msg);
		return -1;
	}
	memset(&wo, 0, sizeof(wo));
	wo.batch = INGEST_BATCH;
	wo.queue = c->store_queue;
	if ((rc = writer_start(n->store, &wo, &n->writer)) != 0) {
		snprintf(err, errlen, "cannot start the store writer: %s",
		    ff_strerror(rc));
		return -1;
	}
	return 0;
}

/* Start everything; on failure return -1 with a message in err. */
static int
node_start(struct node *n, char *err, size_t errlen)
{
	static const int sigs[2] = { SIGTERM, SIGINT };
	char path[4096];
	int rc;

	if (make_state_dir(n->cfg->state_dir, err, errlen) != 0)
		return -1;
	if ((n->pidfd = lock_state_dir(n->cfg->state_dir, err, errlen)) < 0)
		return -1;
	write_pid(n->pidfd);
	if ((rc = uv_loop_init(&n->loop)) != 0) {
		snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
		return -1;
	}
	n->loop_init = 1;
	if (node_open_store(n, err, errlen) != 0)
		return -1;
	if ((n->ing = ingest_new(&n->loop, n->cfg, n->writer)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (listeners_open(&n->loop, n->cfg, ingest_datagram, n->ing, &n->ls,
	    err, errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", n->cfg->state_dir,
	    CTL_SOCK_NAME);
	if (ctl_open(&n->loop, path, ctl_handle, n, &n->ctl, err,
	    errlen) != 0)
		return -1;
	if (control_start(&n->loop, n->cfg, node_status, n, &n->cp, err,
	    errlen) != 0)
		return -1;
	if (node_plug_queries(n, err, errlen) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		uv_signal_init(&n->loop, &n->sig[i]);
		n->sig[i].data = n;
		n->nsig++;
		if ((rc = uv_signal_start(&n->sig[i], on_signal,
		    sigs[i])) != 0) {
			snprintf(err, errlen, "signal: %s", uv_strerror(rc));
			return -1;
		}
	}
	if (ingest_start(n->ing) != 0) {
		snprintf(err, errlen, "cannot start the housekeeping timer");
		return -1;
	}
	return 0;
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_warnx("handle left open at exit: %s", uv_handle_type_name(h->type));
}

/* Close what is open, drain the loop, free everything. Returns 0 when the
   loop closed cleanly. */
static int
node_finish(struct node *n)
{
	int rc = 0;

	if (n->loop_init) {
		node_stop(n, NULL);
		uv_run(&n->loop, UV_RUN_DEFAULT);
		if ((rc = uv_loop_close(&n->loop)) != 0) {
			uv_walk(&n->loop, walk_cb, NULL);
			log_warnx("event loop not closed cleanly: %s",
			    uv_strerror(rc));
		}
	}
	/* With the loop stopped: final template save, then free. */
	ingest_free(n->ing);
	n->ing = NULL;
	qengine_free(n->qe);
	n->qe = NULL;
	/* Every batch is with the writer now: drain, commit, close. */
	if (n->writer != NULL) {
		store_stats_t ss;

		writer_stop(n->writer);
		n->writer = NULL;
		store_get_stats(n->store, &ss);
		log_info("flow store: %" PRIu64 " flows committed, %" PRIu64
		    " stored", ss.committed, ss.flows);
	}
	store_close(n->store);
	n->store = NULL;
	if (n->pidfd >= 0) {
		/* Still holding the lock: the file is ours to remove. */
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", n->cfg->state_dir,
		    PID_FILE);
		unlink(path);
		close(n->pidfd);
	}
	return rc == 0 ? 0 : -1;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = NULL;
	struct node n;
	char err[1024];
	int c, fg = 0, check = 0, verbose = 0, rc, readyfd = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:fnvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
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
	memset(&n, 0, sizeof(n));
	n.pidfd = -1;
	if (config_load(conf ? conf : CONFIG_DEFAULT_PATH, conf == NULL,
	    &n.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-node: %s\n", err);
		return 1;
	}
	if (check) {
		if (verbose)
			config_print(stdout, n.cfg);
		fprintf(stderr, "%s: configuration OK\n", n.cfg->file);
		config_free(n.cfg);
		return 0;
	}
	/* stderr until start-up is over, so its errors reach the operator */
	log_init("flowfleet-node", 1, verbose ? LOG_LVL_DEBUG :
	    n.cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (!fg && (readyfd = detach_begin()) == -1) {
		config_free(n.cfg);
		return 1;
	}
	n.start_ms = now_ms();

	if (node_start(&n, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-node: %s\n", err);
		node_finish(&n);
		config_free(n.cfg);
		return 1;
	}
	if (!fg) {
		log_init("flowfleet-node", 0, verbose ? LOG_LVL_DEBUG :
		    n.cfg->log_level);
		detach_done(readyfd);
	}
	log_info("started: pid %ld, %zu sockets, state directory %s",
	    (long)getpid(), listeners_count(n.ls), n.cfg->state_dir);
	uv_run(&n.loop, UV_RUN_DEFAULT);
	rc = node_finish(&n);
	log_info("stopped%s", rc == 0 ? "" : " (event loop not clean)");
	config_free(n.cfg);
	return rc == 0 ? 0 : 1;
}
