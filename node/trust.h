/*
 * The one controller key a node trusts, and its join token.
 *
 * The pin comes from, in order: the configuration (controller-fingerprint),
 * the join token in the configuration (join-token: its fingerprint part),
 * or STATE_DIR/controller.pin, where the node keeps what it learned from
 * a token so that the token can leave the configuration after use. The
 * token's secret is held until the controller accepts the node (JOIN_OK,
 * or a normal session, which means the controller already pinned our
 * key); then the node records the token as used in controller.pin and
 * wipes the secret. With no pin at all the node refuses every peer.
 */
#ifndef FF_NODE_TRUST_H
#define FF_NODE_TRUST_H

#include <stddef.h>

#include "wire/wire.h"

#define TRUST_FILE	"controller.pin"
#define TRUST_FILE_MAX	4096
#define TRUST_JOINED_LEN	(2 * WIRE_TOKEN_HASH_LEN + 1)

typedef struct node_trust node_trust_t;

/*
 * Work out the pin from cfg_fp (canonical fingerprint or NULL), token
 * (the join-token text or NULL; the caller wipes its own copy) and the
 * state file in state_dir, writing the state file when a token brings a
 * new pin. Logs what it trusts, or that it trusts nobody. Returns 0 and
 * *out (free with trust_free()), or a negative ff_err code with a message
 * in err (a damaged state file, a token that does not parse, I/O).
 */
int trust_load(const char *state_dir, const char *cfg_fp, const char *token,
    node_trust_t **out, char *err, size_t errlen);

/*
 * Parse the text of a state file (len bytes, not NUL-terminated): lines
 * "controller FINGERPRINT" and "joined HEXHASH", comments (#) and blank
 * lines. fp receives the fingerprint in canonical form ("" when none),
 * joined the hash of the used join secret ("" when none). Returns 0, or
 * FF_EPROTO with the first bad line in *badline (0: a NUL byte, or more
 * than TRUST_FILE_MAX bytes).
 */
int trust_state_parse(const char *buf, size_t len, char fp[WIRE_FP_LEN],
    char joined[TRUST_JOINED_LEN], int *badline);

/* Wipe and free. Accepts NULL. */
void trust_free(node_trust_t *t);

/* Does the node trust the key fp? 0 yes, -1 no (constant time). */
int trust_accepts(const node_trust_t *t, const char *fp);

/* The pinned fingerprint, or "" when none. */
const char *trust_fp(const node_trust_t *t);

/* The join secret while the token is unused, else NULL. */
const char *trust_secret(const node_trust_t *t);

/*
 * The controller accepted us: record the token as used in the state file
 * and wipe the secret. A no-op without a secret. Returns 0 or FF_EIO
 * (with a message in err; the secret is wiped anyway).
 */
int trust_joined(node_trust_t *t, char *err, size_t errlen);

#endif
