/*
 * flowfleet-node: the collector node daemon and its local commands.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "node.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  run              run the collector node daemon\n"
"  stats            print a running node's counters\n"
"  query            query the node's flow store\n"
"  fingerprint      print the node's key fingerprint (for enrollment)\n"
"  decode FILE...   decode flow exports in capture files and print flows\n"
"  help [COMMAND]   this text, or a command's options\n"
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
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (strcmp(cmd, "decode") == 0)
		return cmd_decode(argc - 1, argv + 1);
	if (strcmp(cmd, "query") == 0)
		return cmd_query(argc - 1, argv + 1);
	if (strcmp(cmd, "fingerprint") == 0)
		return cmd_fingerprint(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 && argc > 2) {
		/* help COMMAND: that command's own --help */
		char *hargv[] = { argv[2], (char *)"--help", NULL };

		if (strcmp(argv[2], "run") == 0)
			return cmd_run(2, hargv);
		if (strcmp(argv[2], "stats") == 0)
			return cmd_stats(2, hargv);
		if (strcmp(argv[2], "decode") == 0)
			return cmd_decode(2, hargv);
		if (strcmp(argv[2], "query") == 0)
			return cmd_query(2, hargv);
		if (strcmp(argv[2], "fingerprint") == 0)
			return cmd_fingerprint(2, hargv);
		fprintf(stderr, "flowfleet-node: unknown command '%s'\n",
		    argv[2]);
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "flowfleet-node: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
