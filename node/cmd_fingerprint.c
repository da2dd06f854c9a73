/*
 * flowfleet-node fingerprint [-c FILE]
 *
 * Print the node's key fingerprint, the text an operator gives
 * 'flowfleet nodes add --fingerprint'. The key lives in the state
 * directory; when there is none yet it is made now (as the first start
 * would), so a node can be enrolled before it ever runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "wire/wire.h"
#include "config.h"
#include "node.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node fingerprint [-c FILE]\n"
"\n"
"Print this node's key fingerprint (sha256:...), which the controller\n"
"pins: 'flowfleet nodes add NAME ADDRESS --fingerprint FP'. The key is\n"
"STATE_DIR/key.pem; when it does not exist yet it is made now, as the\n"
"node's first start would.\n"
"\n"
"  -c FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
"  -h, --help  this text\n"
"\n"
"Exit status: 0 with the fingerprint on stdout, 1 when the configuration\n"
"or the key cannot be read (or made), 2 on a usage error.\n");
}

int
cmd_fingerprint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = NULL;
	struct node_config *cfg = NULL;
	wire_identity_t *id = NULL;
	char err[1024] = "";
	int c, created, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
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
	if (config_load(conf ? conf : CONFIG_DEFAULT_PATH, conf == NULL, &cfg,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-node: %s\n", err);
		return 1;
	}
	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "flowfleet-node: cannot create state directory "
		    "%s: %s\n", cfg->state_dir, strerror(errno));
		goto out;
	}
	if (wire_init() != 0) {
		fprintf(stderr, "flowfleet-node: cannot initialize "
		    "libsodium\n");
		goto out;
	}
	if (wire_identity_load(cfg->state_dir, cfg->name ? cfg->name : "node",
	    &id, &created, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet-node: %s\n", err);
		goto out;
	}
	if (created)
		fprintf(stderr, "flowfleet-node: made a new key in "
		    "%s/key.pem\n",
		    cfg->state_dir);
	printf("%s\n", wire_identity_fp(id));
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	wire_identity_free(id);
	config_free(cfg);
	return rc;
}
