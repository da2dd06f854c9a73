/*
 * flowfleet-node: the collector node daemon and its local commands. The
 * commands are listed once, here; the usage text comes from the table.
 */
#include <stdio.h>

#include "common/cmd.h"
#include "common/log.h"
#include "common/version.h"
#include "node.h"

static const cmd_t commands[] = {
	{ "run", "[-c FILE] [-f] [-n] [-v]",
	    "run the collector node daemon", cmd_run, NULL },
	{ "stats", "[-c FILE | -s SOCKET] [--json]",
	    "print a running node's counters", cmd_stats, NULL },
	{ "query", "[-c FILE | --store DIR] [OPTIONS]",
	    "query the node's flow store", cmd_query, NULL },
	{ "fingerprint", "[-c FILE]",
	    "print the node's key fingerprint (for enrollment)",
	    cmd_fingerprint, NULL },
	{ "decode", "[--json] [--no-hold] [--exporters] FILE...",
	    "decode flow exports in capture files and print flows",
	    cmd_decode, NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_prog_t prog = {
	.name = "flowfleet-node",
	.version = FF_VERSION,
	.synopsis = "COMMAND [ARGS]",
	.cmds = commands,
	.footer = "Run 'flowfleet-node COMMAND --help' for a command's "
	    "options.\n",
};

int
main(int argc, char **argv)
{
	log_init("flowfleet-node", 1, LOG_LVL_INFO);
	return cmd_main(&prog, argc - 1, argv + 1);
}
