/*
 * flowfleet-node stats [-c FILE | -s SOCKET] [--json]
 *
 * Ask a running node for its counters over its local control socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmd.h"
#include "nodeconf/nodeconf.h"
#include "localsock.h"
#include "node.h"

#define PROG			"flowfleet-node stats"

#define STATS_TIMEOUT_MS	10000

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node stats [-c FILE | -s SOCKET] [--json]\n"
"\n"
"Print a running node's counters: uptime; totals (datagrams, flows, bytes,\n"
"packets); per socket (address, label, datagrams, bytes, kernel drops,\n"
"truncated datagrams, receive errors, receive buffer granted); per\n"
"exporter (address, protocol, domain, packets, flows, malformed packets,\n"
"data without template and what became of it, sequence gaps and missing\n"
"units, templates, options records, counter samples, bad sampling rates,\n"
"last seen); the decoder's global counters; and the flow store (flows and\n"
"blocks stored, bytes used, commits, rows pending, the writer's queue,\n"
"flows dropped because the queue was full or a write failed, retention).\n"
"\n"
"  -c FILE     find the node's control socket through this configuration\n"
"              (STATE_DIR/" LOCALSOCK_NAME "; default " CONFIG_DEFAULT_PATH
")\n"
"  -s SOCKET   the control socket itself\n"
"  --json      one JSON object instead of tables\n"
"  -h, --help  this text\n"
"\n"
"Exit status: 0 when the counters were printed, 1 when the node cannot be\n"
"reached (or the configuration cannot be read), 2 on a usage error.\n");
}

int
cmd_stats(int argc, char **argv)
{
	const char *conf = NULL, *sock = NULL;
	int json = 0, rc;
	const cmd_opt_t opts[] = {
		{ "-c", "FILE", "the node's configuration", &conf, NULL },
		{ "-s", "SOCKET", "the node's control socket", &sock, NULL },
		{ "--json", NULL, "one JSON object", NULL, &json },
		{ NULL, NULL, NULL, NULL, NULL }
	};
	char err[1024], path[4096];
	char *reply = NULL;
	size_t rlen = 0;
	FILE *fp;

	if ((rc = cmd_getopt(argc, argv, opts, usage, 0, 0, NULL)) != CMD_GO)
		return rc;
	if (conf != NULL && sock != NULL) {
		usage(stderr);
		return CMD_EX_USAGE;
	}
	if (sock == NULL) {
		if (node_state_path(PROG, conf, LOCALSOCK_NAME, path,
		    sizeof(path)) != 0)
			return 1;
		sock = path;
	}
	if ((fp = open_memstream(&reply, &rlen)) == NULL)
		return cmd_fail(PROG, "out of memory");
	rc = localsock_request(sock, json ? "stats json" : "stats", fp,
	    STATS_TIMEOUT_MS, err, sizeof(err));
	fclose(fp);
	if (rc != 0) {
		free(reply);
		return cmd_fail(PROG, "%s", err);
	}
	if (rlen == 0 || strncmp(reply, "error:", 6) == 0) {
		fprintf(stderr, PROG ": %s: %s", sock, rlen ? reply :
		    "empty reply\n");
		free(reply);
		return 1;
	}
	fwrite(reply, 1, rlen, stdout);
	free(reply);
	return fflush(stdout) == 0 ? 0 : 1;
}
