/*
 * flowfleet-node stats [-c FILE | -s SOCKET] [--json]
 *
 * Ask a running node for its counters over its local control socket.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config.h"
#include "ctl.h"
#include "node.h"

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
"              (STATE_DIR/" CTL_SOCK_NAME "; default " CONFIG_DEFAULT_PATH
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
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = NULL, *sock = NULL;
	struct node_config *cfg = NULL;
	char err[1024], path[4096];
	char *reply = NULL;
	size_t rlen = 0;
	FILE *fp;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (conf != NULL && sock != NULL)) {
		usage(stderr);
		return 2;
	}
	if (sock == NULL) {
		if (config_load(conf ? conf : CONFIG_DEFAULT_PATH, conf == NULL,
		    &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "flowfleet-node stats: %s\n", err);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir,
		    CTL_SOCK_NAME);
		config_free(cfg);
		sock = path;
	}
	if ((fp = open_memstream(&reply, &rlen)) == NULL) {
		fprintf(stderr, "flowfleet-node stats: out of memory\n");
		return 1;
	}
	rc = ctl_request(sock, json ? "stats json" : "stats", fp,
	    STATS_TIMEOUT_MS, err, sizeof(err));
	fclose(fp);
	if (rc != 0) {
		fprintf(stderr, "flowfleet-node stats: %s\n", err);
		free(reply);
		return 1;
	}
	if (rlen == 0 || strncmp(reply, "error:", 6) == 0) {
		fprintf(stderr, "flowfleet-node stats: %s: %s", sock,
		    rlen ? reply : "empty reply\n");
		free(reply);
		return 1;
	}
	fwrite(reply, 1, rlen, stdout);
	free(reply);
	return fflush(stdout) == 0 ? 0 : 1;
}
