/*
 * The CLI's node requests on the control socket: CTL_NODES_ADD,
 * CTL_NODES_REMOVE, CTL_NODES_GET (see PROTOCOL.md).
 */
#ifndef FF_CTL_CTLNODES_H
#define FF_CTL_CTLNODES_H

#include "ctlsock.h"

/* Register the node request handlers on s. Returns 0 or FF_EINVAL. */
int ctlnodes_register(ctlsock_t *s);

#endif
