/*
 * The controller's fleet inventory, kept in LMDB (STATE_DIR/inventory/):
 * one record per node (name, address, pinned key, labels, dates, and the
 * last known version, clock offset and counters) and the join tokens
 * (only the hash of each secret).
 *
 * Records are msgpack maps with string keys, so that later versions can
 * add fields; a record that does not decode is reported, not trusted.
 * Writes go in one transaction per call (inv_write), which may run on a
 * worker thread; reads happen once, at start (inv_load).
 */
#ifndef FF_CONTROLLER_INVENTORY_H
#define FF_CONTROLLER_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "wire/wire.h"

#define INV_DIR			"inventory"
#define INV_MAP_SIZE		(256u << 20)
#define INV_MAX_VERSION		31
#define INV_RECORD_MAX		(64u << 10)	/* bytes of one record */

/*
 * The counters of a node the controller keeps (from its last STATUS),
 * in the order they are stored and shown: X(name) for each.
 */
#define INV_COUNTERS(X) \
	X(datagrams) X(flows) X(bytes) X(packets) X(kernel_drops) \
	X(truncated) X(malformed) X(no_template) X(seq_missing) \
	X(exporters) X(store_flows) X(store_dropped) X(flows_per_s) \
	X(drops_per_s) X(uptime_ms)

typedef struct inv_counters {
#define INV_COUNTER_FIELD(name) uint64_t name;
	INV_COUNTERS(INV_COUNTER_FIELD)
#undef INV_COUNTER_FIELD
	int have_store;		/* the node has a flow store */
} inv_counters_t;

/*
 * Pack c as a map of its counters and the have_store flag under the key
 * store_key (the record says "have_store", the CLI's answers "store").
 * Returns 0, or non-zero when a write failed.
 */
int inv_counters_pack(msgpack_packer *pk, const inv_counters_t *c,
    const char *store_key);

typedef struct inv_node {
	char name[WIRE_NAME_MAX + 1];
	char address[WIRE_ADDR_MAX + 1];	/* host[:cport[:qport]] */
	char fp[WIRE_FP_LEN];		/* pinned key; "" until the join */
	char labels[WIRE_LABELS_MAX][WIRE_LABEL_MAX + 1];
	size_t nlabels;
	uint64_t added_ms;
	uint64_t enrolled_ms;		/* when the key was pinned */
	/* last known, from the node's sessions */
	uint64_t last_seen_ms;		/* 0: never */
	char version[INV_MAX_VERSION + 1];
	int64_t clock_offset_ms;
	int have_offset;
	char health[16];		/* "ok", "degraded" or "" */
	inv_counters_t counters;
	uint64_t counters_ms;		/* when reported; 0: never */
} inv_node_t;

/* A join token, kept under its node's name. */
typedef struct inv_token {
	char name[WIRE_NAME_MAX + 1];
	uint8_t hash[WIRE_TOKEN_HASH_LEN];
	uint64_t created_ms;
	uint64_t expires_ms;
	uint64_t used_ms;		/* 0: unused */
	char used_by[WIRE_FP_LEN];	/* the key that used it */
} inv_token_t;

typedef struct inventory inventory_t;

/*
 * Open (create) the inventory in dir/INV_DIR (made with mode 0700).
 * Returns 0 and *out, or a negative ff_err code with a message in err.
 */
int inv_open(const char *dir, inventory_t **out, char *err, size_t errlen);

/* Close. Accepts NULL. */
void inv_close(inventory_t *inv);

/*
 * Call node_cb for every node record and tok_cb for every token (either
 * may be NULL), in name order, in one read transaction. A record that
 * does not decode stops the load: returns FF_EPROTO with the name in err.
 * Returns 0, FF_ESTORE or FF_EPROTO.
 */
int inv_load(inventory_t *inv, void (*node_cb)(void *, const inv_node_t *),
    void (*tok_cb)(void *, const inv_token_t *), void *arg, char *err,
    size_t errlen);

/* One change in a write. */
typedef struct inv_op {
	enum { INV_PUT_NODE = 1, INV_DEL_NODE, INV_PUT_TOKEN, INV_DEL_TOKEN }
	    kind;
	inv_node_t node;	/* INV_PUT_NODE */
	inv_token_t token;	/* INV_PUT_TOKEN */
	char name[WIRE_NAME_MAX + 1];	/* INV_DEL_* */
} inv_op_t;

/*
 * Apply ops[0..n) in one write transaction (all or nothing). Deleting
 * what does not exist is not an error. Safe to call from one thread at a
 * time (any thread). Returns 0, FF_ENOSPC (map full), FF_ELIMIT (a record
 * over INV_RECORD_MAX) or FF_ESTORE, with a message in err.
 */
int inv_write(inventory_t *inv, const inv_op_t *ops, size_t n, char *err,
    size_t errlen);

/*
 * Encode a node / token record into a new buffer *buf of *len bytes
 * (free()). Returns 0 or FF_ENOMEM.
 */
int inv_node_encode(const inv_node_t *n, char **buf, size_t *len);
int inv_token_encode(const inv_token_t *t, char **buf, size_t *len);

/*
 * Decode a record from untrusted bytes (size and structure checked first).
 * Returns 0 or FF_EPROTO.
 */
int inv_node_decode(const void *buf, size_t len, inv_node_t *n);
int inv_token_decode(const void *buf, size_t len, inv_token_t *t);

#endif
