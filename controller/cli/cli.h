/*
 * Internal to the flowfleet CLI: what cli.c (the node and status
 * commands, option handling, JSON) shares with cliquery.c (the query
 * command).
 */
#ifndef FF_CTL_CLI_H
#define FF_CTL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

/* Exit codes (documented in cli.c's usage). */
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

/* The controller's socket (-s, $FLOWFLEET_SOCKET or the default). */
extern const char *cli_sock_path;
/* --json before the command. */
extern int cli_json;

/* Write msgpack object o as JSON to fp. */
void cli_json_obj(FILE *fp, const msgpack_object *o);

/* A count for a narrow column: "1234", "12.3k", "4.5M", "6.7G". */
void cli_count(uint64_t v, char *buf, size_t len);

/* flowfleet query (cliquery.c). */
int cmd_query(int argc, char **argv);
/* Its usage text. */
void usage_query(FILE *fp);

#endif
