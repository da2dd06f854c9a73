/*
 * The CLI's node requests on the controller's socket: CTL_NODES_ADD,
 * CTL_NODES_REMOVE, CTL_NODES_GET (see PROTOCOL.md).
 */
#ifndef FF_CONTROLLER_REQ_NODES_H
#define FF_CONTROLLER_REQ_NODES_H

#include "clisock.h"

/* Register the node request handlers on s. Returns 0 or FF_EINVAL. */
int req_nodes_register(ctlsock_t *s);

#endif
