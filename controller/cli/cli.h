/*
 * Internal to the flowfleet CLI: what its files share.
 *
 *   main.c      the command table, the global options, dispatch
 *   options.c   the global options' values; the nodes and status
 *               commands' option parser
 *   request.c   one request to the controller and its reply
 *   client.c    the blocking client of the control socket (client.h)
 *   nodes.c     nodes add, list, show, remove
 *   status.c    status
 *   query.c     query
 *   json.c      msgpack answers as JSON
 *   format.c    reading answer fields; counts and durations as text
 *
 * The files below main.c never call it: main.c reaches the commands
 * through its table, and every command reads the global options from
 * options.c.
 */
#ifndef FF_CLI_H
#define FF_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "wire/wire.h"
#include "client.h"

#define CLI_PROG	"flowfleet"

/* Exit codes (listed in the usage, main.c). */
enum {
	EX_OK = 0,
	EX_FAILED = 1,		/* the controller refused or failed */
	EX_USAGE = 2,
	EX_UNREACHABLE = 3,	/* no controller at the socket, or silent */
	EX_NOTUP = 4,		/* status: some node is not up */
	EX_NOTFOUND = 5,	/* no such node */
	EX_PARTIAL = 6,		/* query: some targeted node did not answer */
	EX_INTERRUPTED = 130	/* query: cancelled with Ctrl-C */
};

/* ---- options.c ---- */

/* How long the nodes and status commands wait for the controller, in
   all (connect, request, answer), unless given --timeout. */
#define CLI_TIMEOUT_MS	15000

/* The options every command takes, before or after its name. */
struct cli_globals {
	const char *socket;	/* -s, else $FLOWFLEET_SOCKET, else default */
	int json;		/* --json */
	uint64_t timeout_ms;	/* nodes, status: --timeout; 0: default */
};
extern struct cli_globals cli;

/* Set cli.socket from $FLOWFLEET_SOCKET (when set and not empty). */
void cli_globals_init(void);

/* What a nodes or status command was given. */
struct cli_args {
	const char *labels[WIRE_LABELS_MAX + 1];	/* --label */
	size_t nlabels;
	const char *fp;		/* --fingerprint */
	const char *ttl;	/* --ttl */
	char *args[4];		/* positional arguments */
	int nargs;
};

/*
 * Parse a nodes or status command's arguments: the global options, -h,
 * with add_opts the options of 'nodes add' (--label, --fingerprint,
 * --ttl), and exactly nargs (at most 4) positional arguments. Errors
 * print the command's usage (usage) to stderr. Returns -1 to go on,
 * else the exit code to end with (EX_OK after -h, EX_USAGE).
 */
int cli_parse(int argc, char **argv, int add_opts, int nargs,
    struct cli_args *a, void (*usage)(FILE *));

/* Print "flowfleet: " and the message, then usage to stderr; returns
   EX_USAGE. */
int cli_usage_error(void (*usage)(FILE *), const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- request.c ---- */

/* A reply and the connection it came on. */
struct cli_reply {
	ctlc_t cc;
	wire_msg_t msg;
};

/*
 * Send the request b holds to the controller (and free b) and wait for
 * the reply with this id. Returns EX_OK with the reply in *r
 * (free it with cli_reply_free()). Otherwise prints why and returns the
 * exit code (EX_UNREACHABLE, EX_NOTFOUND for the controller's
 * FF_ENOENT, EX_FAILED), with nothing left to free.
 */
int cli_request(wire_builder_t *b, uint32_t id, struct cli_reply *r);

/*
 * CTL_NODES_GET: the inventory (name NULL) or one node, and the
 * controller's own status. As cli_request(); on EX_OK r->msg.body has a
 * "nodes" array.
 */
int cli_get_nodes(const char *name, struct cli_reply *r);

/* Close the connection and free the reply. */
void cli_reply_free(struct cli_reply *r);

/*
 * The controller's error code of a WIRE_ERROR reply m, and its message
 * into text ("" when it sent none).
 */
int64_t cli_reply_error(const wire_msg_t *m, char *text, size_t len);

/* ---- json.c ---- */

/*
 * Write msgpack object o as JSON to fp: maps as objects (a key that is
 * not a string as "?"), arrays, strings (json_str), integers, floats,
 * booleans, nil as null, binary as a hex string.
 */
void cli_json_write(FILE *fp, const msgpack_object *o);

/* Print o as JSON and a newline on stdout. Returns EX_OK, or EX_FAILED
   when stdout cannot be written. */
int cli_json_print(const msgpack_object *o);

/* ---- format.c ---- */

/* Field k of map m as a number (0 when absent or not one). */
uint64_t cli_u64(const msgpack_object *m, const char *k);

/* Field k of map m as a boolean (0 when absent or not one). */
int cli_bool(const msgpack_object *m, const char *k);

/*
 * Field k of map m as a string into buf; dflt when absent, not a string
 * or too long. Returns buf.
 */
const char *cli_str(const msgpack_object *m, const char *k,
    const char *dflt, char *buf, size_t len);

/* Field k of map m when it is an array, else NULL. */
const msgpack_object *cli_array(const msgpack_object *m, const char *k);

/* A count for a narrow column: "1234", "12.3k", "4.5M", "6.7G". */
void cli_count(uint64_t v, char *buf, size_t len);

/* A duration in ms, coarsely: "42s", "17m", "5h03m", "3d04h". */
void cli_duration(uint64_t ms, char *buf, size_t len);

/* ---- the commands (nodes.c, status.c, query.c) ---- */

/* Run the command: argv[0] is its last word. Returns the exit code. */
int cli_nodes_add(int argc, char **argv);
int cli_nodes_list(int argc, char **argv);
int cli_nodes_show(int argc, char **argv);
int cli_nodes_remove(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_query(int argc, char **argv);

/* Print the command's usage, with its options, to fp. */
void cli_nodes_add_usage(FILE *fp);
void cli_nodes_list_usage(FILE *fp);
void cli_nodes_show_usage(FILE *fp);
void cli_nodes_remove_usage(FILE *fp);
void cli_status_usage(FILE *fp);
void cli_query_usage(FILE *fp);

#endif
