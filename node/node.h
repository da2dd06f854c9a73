/*
 * flowfleet-node subcommands, one file each.
 */
#ifndef FF_NODE_NODE_H
#define FF_NODE_NODE_H

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

#endif
