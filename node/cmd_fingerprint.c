/*
 * flowfleet-node fingerprint [-c FILE]
 *
 * Print the node's key fingerprint, the text an operator gives
 * 'flowfleet nodes add --fingerprint'. The key lives in the state
 * directory; when there is none yet it is made now (as the first start
 * would), so a node can be enrolled before it ever runs.
 */
#include <stdio.h>

#include "common/cmd.h"
#include "common/daemon.h"
#include "wire/wire.h"
#include "nodeconf/nodeconf.h"
#include "node.h"

#define PROG	"flowfleet-node"

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
	const char *conf = NULL;
	const cmd_opt_t opts[] = {
		{ "-c", "FILE", "configuration file", &conf, NULL },
		{ NULL, NULL, NULL, NULL, NULL }
	};
	struct node_config *cfg = NULL;
	wire_identity_t *id = NULL;
	char err[1024] = "";
	int created, rc;

	if ((rc = cmd_getopt(argc, argv, opts, usage, 0, 0, NULL)) != CMD_GO)
		return rc;
	if (node_config_read(PROG, conf, &cfg) != 0)
		return 1;
	if (daemon_state_dir(cfg->state_dir, err, sizeof(err)) != 0 ||
	    wire_init() != 0 ||
	    wire_identity_load(cfg->state_dir, cfg->name ? cfg->name : "node",
	    &id, &created, err, sizeof(err)) != 0) {
		rc = cmd_fail(PROG, "%s", err[0] ? err : "cannot initialize "
		    "libsodium");
	} else
		rc = daemon_print_fp(PROG, cfg->state_dir, wire_identity_fp(id),
		    created);
	wire_identity_free(id);
	config_free(cfg);
	return rc;
}
