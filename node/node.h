/*
 * flowfleet-node subcommands, one file each.
 */
#ifndef FF_NODE_NODE_H
#define FF_NODE_NODE_H

/* flowfleet-node decode: decode capture files offline (cmd_decode.c). */
int cmd_decode(int argc, char **argv);

#endif
