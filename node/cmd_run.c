/*
 * flowfleet-node run [-c FILE] [-f] [-n] [-v]
 *
 * The node daemon: UDP listeners -> ingest (decoder, batches, template
 * persistence) -> the store writer thread -> the flow store in
 * STATE_DIR/flows; the local control socket and the control plane
 * (2210/4210), on one libuv loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/cmd.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nodeconf/nodeconf.h"
#include "control.h"
#include "ingest.h"
#include "listener.h"
#include "localsock.h"
#include "node.h"
#include "qengine.h"
#include "stats.h"
#include "writer.h"

#define PROG		"flowfleet-node"
#define PID_FILE	"node.pid"

struct node {
	daemon_t *d;		/* state directory, pid file, loop, signals */
	uv_loop_t *loop;
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
	ctlsock_t *sock;	/* STATE_DIR/node.sock (localsock.c) */
	control_t *cp;		/* control plane: 2210/4210 (control.c) */
	qengine_t *qe;		/* queries on 4210 on n->store (qengine.c) */
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

/* A request on node.sock (a localsock_fn). */
static void
sock_request(void *arg, const char *req, FILE *fp)
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
	qo.max_queued = n->cfg->query_max_queued == 0 ? -1 :
	    (int)n->cfg->query_max_queued;
	qo.threads = (int)n->cfg->query_threads;
	qo.max_ms = n->cfg->query_max_ms;
	qo.max_mem = n->cfg->query_max_mem;
	qo.max_rows = n->cfg->query_max_rows;
	qo.max_result = n->cfg->query_max_result;
	if ((n->qe = qengine_new(n->loop, n->store, &qo)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	qserver_set_handler(control_qserver(n->cp), qengine_handler(), n->qe);
	return 0;
}

/* Close every handle so the loop ends (a daemon_stop_fn). */
static void
node_stop(void *arg, const char *why)
{
	struct node *n = arg;
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
	ctlsock_close(n->sock, "the node is stopping");
	n->sock = NULL;
	if (n->d != NULL)
		daemon_signals_close(n->d);
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

	if (daemon_path(path, sizeof(path), c->state_dir, NODE_STORE_DIR)
	    != 0) {
		snprintf(err, errlen, "%s: path too long", c->state_dir);
		return -1;
	}
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

/*
 * Start everything after the shell (daemon_start): on failure return -1
 * with a message in err.
 */
static int
node_start(struct node *n, char *err, size_t errlen)
{
	char path[4096];

	if (node_open_store(n, err, errlen) != 0)
		return -1;
	if ((n->ing = ingest_new(n->loop, n->cfg, n->writer)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (listeners_open(n->loop, n->cfg, ingest_datagram, n->ing, &n->ls,
	    err, errlen) != 0)
		return -1;
	if (daemon_path(path, sizeof(path), n->cfg->state_dir,
	    LOCALSOCK_NAME) != 0) {
		snprintf(err, errlen, "%s: path too long", n->cfg->state_dir);
		return -1;
	}
	if (localsock_open(n->loop, path, sock_request, n, &n->sock, err,
	    errlen) != 0)
		return -1;
	if (control_start(n->loop, n->cfg, node_status, n, &n->cp, err,
	    errlen) != 0)
		return -1;
	if (node_plug_queries(n, err, errlen) != 0)
		return -1;
	if (ingest_start(n->ing) != 0) {
		snprintf(err, errlen, "cannot start the housekeeping timer");
		return -1;
	}
	return 0;
}

/* Close what is open, drain the loop, free everything. Returns 0 when the
   loop closed cleanly. */
static int
node_finish(struct node *n)
{
	int rc = 0;

	if (n->d != NULL) {
		node_stop(n, NULL);
		rc = daemon_drain(n->d);
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
	daemon_free(n->d);
	n->d = NULL;
	return rc == 0 ? 0 : -1;
}

int
cmd_run(int argc, char **argv)
{
	daemon_args_t a;
	daemon_opts_t o;
	struct node n;
	char err[1024];
	int rc;

	if ((rc = daemon_args(argc, argv, usage, &a)) != CMD_GO)
		return rc;
	memset(&n, 0, sizeof(n));
	if (node_config_read(PROG, a.conf, &n.cfg) != 0)
		return 1;
	if (a.check) {
		if (a.verbose)
			config_print(stdout, n.cfg);
		fprintf(stderr, "%s: configuration OK\n", n.cfg->file);
		config_free(n.cfg);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	o.prog = PROG;
	o.who = PROG;
	o.state_dir = n.cfg->state_dir;
	o.pid_file = PID_FILE;
	o.foreground = a.foreground;
	o.log_level = a.verbose ? LOG_LVL_DEBUG : n.cfg->log_level;
	o.stop = node_stop;
	o.arg = &n;
	n.start_ms = now_ms();
	if ((rc = daemon_start(&o, &n.d, err, sizeof(err))) == 0) {
		n.loop = daemon_loop(n.d);
		rc = node_start(&n, err, sizeof(err));
	}
	if (rc != 0) {
		cmd_fail(PROG, "%s", err);
		node_finish(&n);
		config_free(n.cfg);
		return 1;
	}
	daemon_ready(n.d);
	log_info("started: pid %ld, %zu sockets, state directory %s",
	    (long)getpid(), listeners_count(n.ls), n.cfg->state_dir);
	uv_run(n.loop, UV_RUN_DEFAULT);
	rc = node_finish(&n);
	log_info("stopped%s", rc == 0 ? "" : " (event loop not clean)");
	config_free(n.cfg);
	return rc == 0 ? 0 : 1;
}
