/*
 * flowfleet: the command-line interface to the fleet controller, over
 * its local control socket. The commands and the global options are
 * listed once, here; the usage text, "help COMMAND" and the dispatch
 * come from these tables (common/cmd.h).
 */
#include "common/cmd.h"
#include "common/version.h"
#include "cli.h"

static const cmd_t commands[] = {
	{ "nodes add", "NAME ADDRESS [--label L]... [--fingerprint FP] "
	    "[--ttl DUR]",
	    "enroll a node; without --fingerprint print a join token for it",
	    cli_nodes_add, cli_nodes_add_usage },
	{ "nodes list", "", "the inventory: addresses, keys, labels, state",
	    cli_nodes_list, cli_nodes_list_usage },
	{ "nodes show", "NAME", "everything known about one node",
	    cli_nodes_show, cli_nodes_show_usage },
	{ "nodes remove", "NAME", "forget a node and its key",
	    cli_nodes_remove, cli_nodes_remove_usage },
	{ "status", "", "the fleet at a glance: up/down, versions, last "
	    "seen, clock offsets, flows/s, drops", cli_status,
	    cli_status_usage },
	{ "query", "[OPTIONS]", "ask every node (or some) one question: "
	    "totals, top N, series, listing, distinct count; exact merged "
	    "answer with its coverage ('flowfleet help query')", cli_query,
	    cli_query_usage },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_opt_t options[] = {
	{ "-s", "SOCKET", "the controller's socket (default: "
	    "$FLOWFLEET_SOCKET, else " WIRE_CTL_SOCKET_DEFAULT ")",
	    &cli.socket, NULL },
	{ "--json", NULL, "print the controller's answer as JSON", NULL,
	    &cli.json },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_prog_t prog = {
	.name = CLI_PROG,
	.version = FF_VERSION,
	.synopsis = "[-s SOCKET] [--json] COMMAND [ARGS]",
	.about = "Manage a flowfleet fleet through its controller's control "
	    "socket.\n",
	.cmds = commands,
	.opts = options,
	.opts_title = "Options (before or after the command)",
	.footer =
"Exit status:\n"
"  0  success (status: every node is up)\n"
"  1  the controller refused or failed the request (message on stderr)\n"
"  2  usage error\n"
"  3  the controller cannot be reached, or did not answer in time\n"
"  4  status: at least one node is not up\n"
"  5  no such node (nodes show, nodes remove, query --nodes)\n"
"  6  query: partial answer, some node did not answer\n"
"  130 query: interrupted (cancelled on every node)\n",
};

int
main(int argc, char **argv)
{
	cli_globals_init();
	return cmd_main(&prog, argc - 1, argv + 1);
}
