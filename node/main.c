/*
 * flowfleet-node: the collector node daemon and its local commands.
 */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "node.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  decode FILE...   decode flow exports in capture files and print flows\n"
"  help             this text\n"
"\n"
"Run 'flowfleet-node COMMAND --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
	const char *cmd;

	log_init("flowfleet-node", 1, LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "decode") == 0)
		return cmd_decode(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "flowfleet-node: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
