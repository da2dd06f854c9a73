/*
 * ctlpeers: many node-side control-plane endpoints in one process,
 * for tests/bench/bench_control.sh.
 *
 *   ctlpeers -n N -a PREFIX -d DIR -c CONTROLLER_FP -o FILE
 *
 * Endpoint i (1..N) is the node's own control-plane code (node/control.c:
 * session.c's TLS listeners with pinning, HELLO, PING/PONG, STATUS, the
 * query listener) with its own key in DIR/peer-i, listening on
 * PREFIX.i:2210 and PREFIX.i:4210 and trusting CONTROLLER_FP. What it
 * leaves out of a real node is the UDP intake and the store: STATUS
 * reports zero counters. FILE receives one line per endpoint, "NAME
 * ADDRESS FINGERPRINT", then the program prints "ready" on stdout and
 * serves until SIGTERM or SIGINT.
 *
 * With -q each endpoint also runs the node's query engine
 * (node/qengine.c) on an empty flow store of its own (DIR/peer-i/flows),
 * for the fan-out benchmark (tests/bench/bench_dquery.sh): the
 * controller's queries then take the full path of a real node's, less
 * the scanning of flows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nodeconf/nodeconf.h"
#include "node/control.h"
#include "node/qengine.h"
#include "store/store.h"
#include "wire/wire.h"

#define MAX_PEERS	254

static control_t *peers[MAX_PEERS + 1];
static store_t *stores[MAX_PEERS + 1];
static qengine_t *engines[MAX_PEERS + 1];
static struct node_config *cfgs[MAX_PEERS + 1];
static int npeers;
static uv_signal_t sigs[2];

static int
zero_status(void *arg, control_status_t *out)
{
	(void)arg;
	out->st.now_ms = now_ms();
	out->st.start_ms = out->st.now_ms;
	out->st.pid = (long)getpid();
	return 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	(void)signum;
	for (int i = 1; i <= npeers; i++) {
		qengine_stop(engines[i]);
		control_stop(peers[i]);
	}
	uv_close((uv_handle_t *)&sigs[0], NULL);
	uv_close((uv_handle_t *)&sigs[1], NULL);
}

static void
set_addr(struct config_listen *l, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

	memset(l, 0, sizeof(*l));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	l->sslen = sizeof(*sin);
	l->line = 1;
}

int
main(int argc, char **argv)
{
	const char *prefix = "127.0.1", *dir = NULL, *ctlfp = NULL;
	const char *outpath = NULL;
	uv_loop_t loop;
	FILE *out;
	char err[1024], canon[WIRE_FP_LEN];
	int ch, n = 100, rc = 0, query = 0;

	while ((ch = getopt(argc, argv, "n:a:d:c:o:q")) != -1) {
		switch (ch) {
		case 'q':
			query = 1;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'a':
			prefix = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			ctlfp = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (n < 1 || n > MAX_PEERS || dir == NULL || ctlfp == NULL ||
	    outpath == NULL || wire_fp_parse(ctlfp, canon) != 0)
		goto usage;
	log_init("ctlpeers", 1, LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (wire_init() != 0 || uv_loop_init(&loop) != 0) {
		fprintf(stderr, "ctlpeers: cannot initialize\n");
		return 1;
	}
	if ((out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "ctlpeers: %s: %s\n", outpath,
		    strerror(errno));
		return 1;
	}
	for (int i = 1; i <= n; i++) {
		struct node_config *c = calloc(1, sizeof(*c));
		char path[512], ip[64], name[32];
		wire_identity_t *id;
		int created;

		if (c == NULL)
			return 1;
		cfgs[i] = c;
		snprintf(path, sizeof(path), "%s/peer-%d", dir, i);
		snprintf(ip, sizeof(ip), "%s.%d", prefix, i);
		snprintf(name, sizeof(name), "peer-%d", i);
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			fprintf(stderr, "ctlpeers: %s: %s\n", path,
			    strerror(errno));
			return 1;
		}
		c->state_dir = strdup(path);
		c->name = strdup(name);
		c->controller_fp = strdup(canon);
		set_addr(&c->control_listen, ip, WIRE_PORT_CONTROL);
		set_addr(&c->query_listen, ip, WIRE_PORT_QUERY);
		/* the key first, to print its fingerprint */
		if (wire_identity_load(path, name, &id, &created, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "ctlpeers: %s\n", err);
			return 1;
		}
		fprintf(out, "%s %s %s\n", name, ip, wire_identity_fp(id));
		wire_identity_free(id);
		if (control_start(&loop, c, zero_status, NULL, &peers[i], err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "ctlpeers: %s: %s\n", name, err);
			rc = 1;
			break;
		}
		npeers = i;
		if (query) {
			store_opts_t so = { 0 };
			char sp[600];

			snprintf(sp, sizeof(sp), "%s/flows", path);
			so.path = sp;
			so.map_size = 64u << 20;
			if (store_open(&so, &stores[i], err, sizeof(err)) != 0 ||
			    (engines[i] = qengine_new(&loop, stores[i],
			    NULL)) == NULL) {
				fprintf(stderr, "ctlpeers: %s: %s\n", name, err);
				rc = 1;
				break;
			}
			qserver_set_handler(control_qserver(peers[i]),
			    qengine_handler(), engines[i]);
		}
	}
	fclose(out);
	for (int i = 0; i < 2; i++) {
		uv_signal_init(&loop, &sigs[i]);
		uv_signal_start(&sigs[i], on_signal, i ? SIGINT : SIGTERM);
	}
	if (rc != 0) {
		on_signal(&sigs[0], SIGTERM);
	} else {
		printf("ready\n");
		fflush(stdout);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		rc = 1;
	for (int i = 1; i <= n; i++) {
		qengine_free(engines[i]);
		store_close(stores[i]);
		config_free(cfgs[i]);
	}
	return rc;
usage:
	fprintf(stderr, "usage: ctlpeers -n N (1..%d) -a PREFIX -d DIR "
	    "-c CONTROLLER_FP -o FILE [-q]\n", MAX_PEERS);
	return 2;
}
