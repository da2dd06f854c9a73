/*
 * flowfleet-node's commands, one file each (main.c lists them), and what
 * they share.
 */
#ifndef FF_NODE_NODE_H
#define FF_NODE_NODE_H

#include <stddef.h>

/* flowfleet-node decode: decode capture files offline (cmd_decode.c). */
int cmd_decode(int argc, char **argv);
/* flowfleet-node run: the node daemon (cmd_run.c). */
int cmd_run(int argc, char **argv);
/* flowfleet-node stats: a running node's counters (cmd_stats.c). */
int cmd_stats(int argc, char **argv);
/* flowfleet-node query: query the local flow store (cmd_query.c). */
int cmd_query(int argc, char **argv);
/* flowfleet-node fingerprint: the node's key fingerprint (cmd_fingerprint.c). */
int cmd_fingerprint(int argc, char **argv);

/* The flow store's directory inside the state directory. */
#define NODE_STORE_DIR	"flows"

/* ---- what the commands share (cmd_common.c) ---- */

struct node_config;

/*
 * Read the node's configuration for command prog: file (-c FILE), or
 * the default file, whose absence means that every setting takes its
 * default. Returns 0 and *out (config_free() it), or the exit status 1
 * after "prog: why" on stderr.
 */
int node_config_read(const char *prog, const char *file,
    struct node_config **out);

/*
 * The path of name inside the state directory that the configuration
 * file (as node_config_read() reads it) names, into path (len bytes).
 * Returns 0, or the exit status 1 after "prog: why" on stderr.
 */
int node_state_path(const char *prog, const char *file, const char *name,
    char *path, size_t len);

#endif
