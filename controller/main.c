/*
 * flowfleet-controller: the fleet controller daemon. Its commands are
 * listed once, in the table below; the usage text comes from it.
 *
 *   flowfleet-controller run [-c FILE] [-f] [-n] [-v]
 *   flowfleet-controller fingerprint [-c FILE]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cmd.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "clisock.h"
#include "controller.h"
#include "dquery.h"
#include "req_nodes.h"

#define PROG		"flowfleet-controller"
#define PID_FILE	"controller.pid"

static void
usage_config(FILE *fp)
{
	fprintf(fp,
"  -c FILE     configuration (default " CONTROLLER_CONFIG_DEFAULT_PATH ";\n"
"              when that file does not exist, the defaults)\n");
}

static void
usage_footer(FILE *fp)
{
	fprintf(fp,
"  -h, --help  this text\n"
"\n"
"Exit status: 0 on a clean stop or success, 1 when the configuration is\n"
"bad or start-up fails, 2 on a usage error.\n");
}

static void
usage_run(FILE *fp)
{
	fprintf(fp,
"usage: " PROG " run [-c FILE] [-f] [-n] [-v]\n"
"\n"
"Run the controller: keep the fleet inventory, dial every node on its\n"
"control (2210) and query (4210) ports over mutual TLS, and answer the\n"
"flowfleet CLI on the control socket.\n"
"\n");
	usage_config(fp);
	fprintf(fp,
"  -f          stay in the foreground, log to stderr (default: detach\n"
"              and log to syslog)\n"
"  -n          check the configuration and exit (-v: print it)\n"
"  -v          log debug messages too\n");
	usage_footer(fp);
}

static void
usage_fingerprint(FILE *fp)
{
	fprintf(fp,
"usage: " PROG " fingerprint [-c FILE]\n"
"\n"
"Print the controller's key fingerprint (the key is made in the state\n"
"directory if there is none yet); nodes pin it with\n"
"'controller-fingerprint'.\n"
"\n");
	usage_config(fp);
	usage_footer(fp);
}

/* Read the configuration: file (-c), or the default, which may be
   absent. 0, or the exit status 1 with the reason on stderr. */
static int
read_config(const char *file, struct controller_config **cfg)
{
	char err[1024];

	if (controller_config_load(file ? file :
	    CONTROLLER_CONFIG_DEFAULT_PATH, file == NULL, cfg, err,
	    sizeof(err)) != 0)
		return cmd_fail(PROG, "%s", err);
	return 0;
}

/* ---- fingerprint ---- */

static int
cmd_fingerprint(int argc, char **argv)
{
	const char *conf = NULL;
	const cmd_opt_t opts[] = {
		{ "-c", "FILE", "configuration file", &conf, NULL },
		{ NULL, NULL, NULL, NULL, NULL }
	};
	struct controller_config *cfg;
	wire_identity_t *id = NULL;
	char err[1024] = "";
	int rc, created;

	if ((rc = cmd_getopt(argc, argv, opts, usage_fingerprint, 0, 0,
	    NULL)) != CMD_GO)
		return rc;
	if (read_config(conf, &cfg) != 0)
		return 1;
	if ((rc = daemon_state_dir(cfg->state_dir, err, sizeof(err))) == 0 &&
	    (rc = wire_init()) == 0)
		rc = wire_identity_load(cfg->state_dir, cfg->name ? cfg->name :
		    "controller", &id, &created, err, sizeof(err));
	if (rc == 0)
		rc = daemon_print_fp(PROG, cfg->state_dir, wire_identity_fp(id),
		    created);
	else
		rc = cmd_fail(PROG, "%s", err[0] ? err : "cannot initialize "
		    "libsodium");
	wire_identity_free(id);
	controller_config_free(cfg);
	return rc;
}

/* ---- run ---- */

struct run {
	controller_t c;
	daemon_t *d;
	int tick_open;
};

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

/* Close every handle so the loop ends (a daemon_stop_fn). */
static void
run_stop(void *arg, const char *why)
{
	struct run *r = arg;
	controller_t *c = &r->c;

	if (c->stopping)
		return;
	c->stopping = 1;
	if (why != NULL)
		log_info("stopping (%s)", why);
	dquery_stop_all(c, "the controller is stopping");
	ctlsock_close(c->sock, "the controller is stopping");
	c->sock = NULL;
	peer_stop_all(c);
	if (r->tick_open) {
		uv_close((uv_handle_t *)&c->tick, NULL);
		r->tick_open = 0;
	}
	daemon_signals_close(r->d);
}

/* Start everything after the shell (daemon_start): on failure return -1
   with a message in err. */
static int
run_start(struct run *r, char *err, size_t errlen)
{
	controller_t *c = &r->c;
	int rc, created;

	if ((rc = wire_init()) != 0 ||
	    (rc = wire_identity_load(c->cfg->state_dir, c->name, &c->id,
	    &created, err, errlen)) != 0) {
		if (rc == FF_ECRYPTO && err[0] == '\0')
			snprintf(err, errlen, "cannot initialize libsodium");
		return -1;
	}
	log_info("%s controller key %s (%s/key.pem)", created ? "made a new" :
	    "using", wire_identity_fp(c->id), c->cfg->state_dir);
	if (inv_open(c->cfg->state_dir, &c->inv, err, errlen) != 0 ||
	    fleet_load(c, err, errlen) != 0)
		return -1;
	c->loop = daemon_loop(r->d);
	dquery_init(c, &peer_qtransport);
	if (clisock_open(c, c->cfg->socket, &c->sock, err, errlen) != 0)
		return -1;
	if (req_nodes_register(c->sock) != 0 ||
	    dquery_register(c->sock) != 0) {
		snprintf(err, errlen, "cannot register the CLI's requests");
		return -1;
	}
	for (fnode_t *n = c->nodes; n != NULL; n = n->next)
		peer_start(c, n);
	uv_timer_init(c->loop, &c->tick);
	c->tick.data = c;
	r->tick_open = 1;
	c->next_flush = mono_ms() + c->cfg->flush_interval_ms;
	uv_timer_start(&c->tick, on_tick, PEER_TICK_MS, PEER_TICK_MS);
	return 0;
}

/* Close what is open, drain the loop, free everything. Returns 0 when the
   loop closed cleanly. */
static int
run_finish(struct run *r)
{
	controller_t *c = &r->c;
	int rc = 0;

	if (r->d != NULL) {
		run_stop(r, NULL);
		rc = daemon_drain(r->d);
	}
	if (c->inv != NULL) {
		fleet_flush_sync(c);
		inv_close(c->inv);
	}
	fleet_free(c);
	wire_identity_free(c->id);
	daemon_free(r->d);
	r->d = NULL;
	return rc == 0 ? 0 : -1;
}

static int
cmd_run(int argc, char **argv)
{
	struct controller_config *cfg;
	daemon_args_t a;
	daemon_opts_t o;
	struct run r;
	char err[1024] = "";
	int rc;

	if ((rc = daemon_args(argc, argv, usage_run, &a)) != CMD_GO)
		return rc;
	if (read_config(a.conf, &cfg) != 0)
		return 1;
	if (a.check) {
		if (a.verbose)
			controller_config_print(stdout, cfg);
		fprintf(stderr, "%s: configuration OK\n", cfg->file);
		controller_config_free(cfg);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.c.cfg = cfg;
	r.c.start_ms = now_ms();
	if (cfg->name != NULL)
		snprintf(r.c.name, sizeof(r.c.name), "%s", cfg->name);
	else if (gethostname(r.c.name, sizeof(r.c.name)) != 0 ||
	    r.c.name[0] == '\0')
		snprintf(r.c.name, sizeof(r.c.name), "controller");
	r.c.name[sizeof(r.c.name) - 1] = '\0';
	memset(&o, 0, sizeof(o));
	o.prog = PROG;
	o.who = "controller";
	o.state_dir = cfg->state_dir;
	o.pid_file = PID_FILE;
	o.foreground = a.foreground;
	o.log_level = a.verbose ? LOG_LVL_DEBUG : cfg->log_level;
	o.stop = run_stop;
	o.arg = &r;
	if ((rc = daemon_start(&o, &r.d, err, sizeof(err))) == 0)
		rc = run_start(&r, err, sizeof(err));
	if (rc != 0) {
		cmd_fail(PROG, "%s", err);
		run_finish(&r);
		controller_config_free(cfg);
		return 1;
	}
	daemon_ready(r.d);
	log_info("started: pid %ld, version %s, %zu nodes, control socket "
	    "%s", (long)getpid(), FF_VERSION, r.c.nnodes, cfg->socket);
	uv_run(r.c.loop, UV_RUN_DEFAULT);
	rc = run_finish(&r);
	log_info("stopped%s", rc == 0 ? "" : " (event loop not clean)");
	controller_config_free(cfg);
	return rc == 0 ? 0 : 1;
}

/* ---- the commands ---- */

static const cmd_t commands[] = {
	{ "run", "[-c FILE] [-f] [-n] [-v]",
	    "run the fleet controller daemon",
	    cmd_run, usage_run },
	{ "fingerprint", "[-c FILE]",
	    "print the controller's key fingerprint (nodes pin it)",
	    cmd_fingerprint, usage_fingerprint },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_prog_t prog = {
	.name = PROG,
	.version = FF_VERSION,
	.synopsis = "COMMAND [ARGS]",
	.cmds = commands,
	.footer = "Run '" PROG " COMMAND --help' for a command's options.\n"
	    "\n"
	    "Exit status: 0 on a clean stop or success, 1 when the "
	    "configuration is\nbad or start-up fails, 2 on a usage error.\n",
};

int
main(int argc, char **argv)
{
	log_init(PROG, 1, LOG_LVL_INFO);
	return cmd_main(&prog, argc - 1, argv + 1);
}
