/*
 * UDP intake: one libuv UDP handle per configured listen address, reading
 * with recvmmsg into one large buffer shared by all sockets of the loop,
 * with a large SO_RCVBUF and per-socket counters (kernel drops read on
 * demand from /proc/net/udp and /proc/net/udp6).
 */
#ifndef FF_NODE_LISTENER_H
#define FF_NODE_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "nodeconf/nodeconf.h"

typedef struct listeners listeners_t;

/*
 * Called for every datagram received: the sender's address (16 bytes,
 * IPv4-mapped for IPv4) and port, the payload (valid during the call
 * only) and the receive time in ms since the epoch (one clock read per
 * receive batch).
 */
typedef void (*listener_recv_cb)(void *arg, const uint8_t addr[16],
    uint16_t port, const uint8_t *buf, size_t len, uint64_t now_ms);

/* Counters of one socket. */
typedef struct listener_stats {
	struct sockaddr_storage ss;	/* bound address */
	int proto;		/* enum config_proto label */
	uint64_t datagrams;	/* datagrams received */
	uint64_t bytes;		/* payload bytes received */
	uint64_t truncated;	/* datagrams cut by the buffer: dropped */
	uint64_t errors;	/* receive errors */
	uint64_t refused;	/* from an address exporter-allow leaves
				   out: dropped before decoding */
	uint64_t drops;		/* the kernel's drop count for the socket */
	int drops_known;	/* drops was read from /proc */
	int rcvbuf;		/* SO_RCVBUF as the kernel reports it */
} listener_stats_t;

/*
 * Open, bind and start receiving on every listen address of c, asking for
 * c->rcvbuf bytes of receive buffer on each socket (SO_RCVBUFFORCE when
 * permitted, else SO_RCVBUF; a warning names the numbers when the kernel
 * grants less). A default listener ([::] when the host has no IPv6) that
 * cannot be opened is skipped with a warning; any other failure returns
 * FF_EIO with a message in err naming the address, after closing what was
 * opened (the loop must run to finish those closes). cb receives every
 * datagram from an address in c->allow (all of them when that is empty;
 * the others are counted per socket as refused and dropped). On success *out is owned by the caller until
 * listeners_close().
 */
int listeners_open(uv_loop_t *loop, const struct node_config *c,
    listener_recv_cb cb, void *arg, listeners_t **out, char *err,
    size_t errlen);

/* Number of open sockets. */
size_t listeners_count(const listeners_t *ls);

/*
 * Fill st[0 .. listeners_count() - 1] with each socket's counters,
 * reading the kernel drop counts from /proc now.
 */
void listeners_stats(const listeners_t *ls, listener_stats_t *st);

/*
 * Stop receiving and close every socket. The set is freed once the loop
 * has run the close callbacks; do not use ls afterwards. Accepts NULL.
 */
void listeners_close(listeners_t *ls);

#endif
