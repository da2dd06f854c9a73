/*
 * wire: what crosses the network between the controller and the nodes.
 *
 *  - frames: a 4-byte big-endian length, then that many bytes of payload;
 *    the length is checked against a hard cap before anything is
 *    allocated;
 *  - messages: one msgpack array per frame, [type, request id, body map];
 *  - identity: each daemon's EC P-256 key and self-signed certificate,
 *    made on first start; peers are known by the SHA-256 fingerprint of
 *    their public key (SubjectPublicKeyInfo);
 *  - TLS 1.2 (mbedTLS) with certificates on both sides and pinning: a
 *    peer is accepted only when a callback accepts its key fingerprint;
 *  - connections: a libuv TCP stream carrying TLS and frames.
 *
 * wire/PROTOCOL.md documents every message. Prefix wire_. Functions return
 * 0 or a negative ff_err code; nothing here exits.
 */
#ifndef FF_WIRE_H
#define FF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

/* ---- protocol constants --------------------------------------------------- */

#define WIRE_PROTO_MIN		1	/* protocol versions we speak */
#define WIRE_PROTO_MAX		1

#define WIRE_PORT_CONTROL	2210
#define WIRE_PORT_QUERY		4210

#define WIRE_MAX_FRAME_CONTROL	(1u << 20)	/* 1 MiB on 2210 */
#define WIRE_MAX_FRAME_QUERY	(16u << 20)	/* 16 MiB on 4210 */

/* Message types. See PROTOCOL.md for bodies and channels. */
enum wire_type {
	WIRE_HELLO = 1,
	WIRE_ERROR = 2,
	WIRE_PING = 3,
	WIRE_PONG = 4,
	WIRE_STATUS_GET = 10,
	WIRE_STATUS = 11,
	WIRE_JOIN = 12,
	WIRE_JOIN_OK = 13,
	WIRE_QUERY = 20,
	WIRE_RESULT = 21,
	WIRE_RESULT_END = 22,
	WIRE_CANCEL = 23,
	WIRE_TPUT_TOPK = 24,
	WIRE_TPUT_THRESHOLD = 25,
	WIRE_TPUT_LOOKUP = 26,
	WIRE_QUERY_RELEASE = 27,
	/* local control socket only (CLI <-> controller, no TLS) */
	WIRE_CTL_OK = 100,
	WIRE_CTL_NODES_ADD = 101,
	WIRE_CTL_NODES_REMOVE = 102,
	WIRE_CTL_NODES_GET = 103,
	WIRE_CTL_NODES = 104,
	WIRE_CTL_QUERY = 105,
	WIRE_CTL_QUERY_RESULT = 106,
	WIRE_CTL_QUERY_CANCEL = 107,
	WIRE_CTL_QUERY_DATA = 108
};

#define WIRE_MAX_FRAME_LOCAL	(16u << 20)	/* control socket */

/* The controller's control socket, where the CLI finds it by default. */
#define WIRE_CTL_SOCKET_DEFAULT	"/run/flowfleet/controller.sock"
/* Lifetime of a join token (CTL_NODES_ADD "ttl_ms"), ms. */
#define WIRE_TOKEN_TTL_MIN	1000
#define WIRE_TOKEN_TTL_MAX	(30ull * 86400000)
/* Deadline of a distributed query (CTL_QUERY "timeout_ms"), ms. */
#define WIRE_QUERY_TIMEOUT_MIN	100
#define WIRE_QUERY_TIMEOUT_MAX	3600000

/* Node names, labels and node address texts. */
#define WIRE_NAME_MAX		63	/* node name bytes */
#define WIRE_ADDR_MAX		255	/* node address text bytes */
#define WIRE_LABELS_MAX		32	/* labels of one node */
#define WIRE_LABEL_MAX		63	/* bytes of one label */

/* Name of a message type ("HELLO") or "unknown". */
const char *wire_type_name(unsigned type);

/*
 * Initialize the library (libsodium, used for randomness). Call once per
 * process before anything else here. Returns 0 or FF_ECRYPTO.
 */
int wire_init(void);

/* ---- frames --------------------------------------------------------------- */

/*
 * Incremental frame reader. Bytes go in as they arrive; complete frames
 * come out. A length over max or of zero is a protocol error.
 */
typedef struct wire_framer {
	uint8_t hdr[4];
	size_t hdr_have;
	uint8_t *buf;		/* payload being assembled */
	size_t len;		/* its announced length */
	size_t have;
	size_t max;
} wire_framer_t;

/* Set up a reader that accepts frames of at most max bytes. */
void wire_framer_init(wire_framer_t *f, size_t max);
/* Release the reader's buffer. */
void wire_framer_free(wire_framer_t *f);

/*
 * Consume bytes from data[0..len). When a frame completes, stop and
 * return 1 with *frame (owned by the caller: free()) and *frame_len set;
 * *consumed says how many bytes were used. Returns 0 when all bytes were
 * consumed without completing a frame, FF_ELIMIT for a frame over the
 * cap, FF_EPROTO for a zero-length frame, FF_ENOMEM.
 */
int wire_framer_feed(wire_framer_t *f, const uint8_t *data, size_t len,
    size_t *consumed, uint8_t **frame, size_t *frame_len);

/* ---- messages ------------------------------------------------------------- */

/*
 * A decoded message. body is a msgpack map (possibly empty); the object
 * and everything it points to live until wire_msg_free().
 */
typedef struct wire_msg {
	unsigned type;
	uint32_t id;		/* request id; replies carry the request's */
	size_t len;		/* payload bytes (the frame is 4 more) */
	msgpack_object body;
	msgpack_zone zone;
} wire_msg_t;

/*
 * Decode one frame payload into *m (untrusted input: the structure is
 * checked before msgpack-c sees it; nesting, counts and sizes are
 * bounded). Strings and binaries in m point into buf, which must outlive
 * m. Returns 0, FF_EPROTO or FF_ENOMEM. On success the caller frees with
 * wire_msg_free().
 */
int wire_msg_decode(const uint8_t *buf, size_t len, wire_msg_t *m);
void wire_msg_free(wire_msg_t *m);

/*
 * Body field access. Each returns 0 and the value, FF_ENOENT when the key
 * is absent, FF_EPROTO when it has another type. Strings and binaries
 * point into the message.
 */
int wire_get_u64(const msgpack_object *map, const char *key, uint64_t *v);
int wire_get_i64(const msgpack_object *map, const char *key, int64_t *v);
int wire_get_bool(const msgpack_object *map, const char *key, int *v);
int wire_get_str(const msgpack_object *map, const char *key,
    const char **s, size_t *len);
int wire_get_bin(const msgpack_object *map, const char *key,
    const uint8_t **p, size_t *len);
/* Any object (map, array, ...) by key; NULL when absent. */
const msgpack_object *wire_get(const msgpack_object *map, const char *key);
/* 1 if the string field key is present and equal to want, else 0. */
int wire_str_is(const msgpack_object *map, const char *key,
    const char *want);
/* Copy a string field into buf (NUL-terminated); FF_ELIMIT if too long. */
int wire_get_strbuf(const msgpack_object *map, const char *key, char *buf,
    size_t buflen);

/*
 * Packing onto any msgpack packer (a nested map of a message, a stored
 * record): a string, and map entries whose key is a string and whose
 * value is an unsigned or signed integer, a boolean, a string or bytes.
 * Each returns 0, or non-zero when the packer's write failed (out of
 * memory; a builder's packer also remembers it for wire_msg_end()).
 */
int wire_pack_str(msgpack_packer *pk, const char *s);
int wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
int wire_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
int wire_pack_kv_bool(msgpack_packer *pk, const char *key, int v);
int wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *s);
int wire_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p,
    size_t len);

/*
 * Message builder. wire_msg_begin() starts [type, id, {...}] with nfields
 * body entries; write each entry with the wire_put_* helpers (or a key
 * with wire_put_key and a value through wire_builder_pk); wire_msg_end()
 * returns the complete frame (length prefix included) ready to send.
 */
typedef struct wire_builder {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err;		/* a write failed (out of memory) */
} wire_builder_t;

int wire_msg_begin(wire_builder_t *b, unsigned type, uint32_t id,
    uint32_t nfields);
void wire_put_key(wire_builder_t *b, const char *key);
void wire_put_u64(wire_builder_t *b, const char *key, uint64_t v);
void wire_put_i64(wire_builder_t *b, const char *key, int64_t v);
void wire_put_bool(wire_builder_t *b, const char *key, int v);
void wire_put_str(wire_builder_t *b, const char *key, const char *s);
void wire_put_bin(wire_builder_t *b, const char *key, const void *p,
    size_t len);
static inline msgpack_packer *
wire_builder_pk(wire_builder_t *b)
{
	return &b->pk;
}
/*
 * Finish the message: *frame points at the frame (4-byte length then
 * payload) of *frame_len bytes, owned by the builder. Returns 0 or
 * FF_ENOMEM.
 */
int wire_msg_end(wire_builder_t *b, const uint8_t **frame,
    size_t *frame_len);
/* Release the builder. Accepts a builder that was never begun. */
void wire_builder_free(wire_builder_t *b);

/*
 * The same builder for a msgpack value that is not a message (a stored
 * record, a query result): wire_value_begin() starts it empty; pack
 * onto wire_builder_pk(b); wire_value_take() hands the bytes over as a
 * new buffer *buf of *len bytes (the caller frees it with free()), or
 * returns FF_ENOMEM when any write failed or nothing was written. b
 * needs no wire_builder_free() after wire_value_take().
 */
void wire_value_begin(wire_builder_t *b);
int wire_value_take(wire_builder_t *b, uint8_t **buf, size_t *len);
/*
 * Build, in b, an ERROR reply to request id: {code, msg}. Returns 0 with
 * *frame (owned by b) and *frame_len as wire_msg_end() gives them, or
 * FF_ENOMEM. Free b with wire_builder_free() in either case.
 */
int wire_msg_error(wire_builder_t *b, uint32_t id, int code,
    const char *msg, const uint8_t **frame, size_t *frame_len);

/* ---- identity ------------------------------------------------------------- */

#define WIRE_FP_LEN 72	/* "sha256:" + 64 hex digits + NUL */

typedef struct wire_identity wire_identity_t;

/*
 * Load the key and certificate from dir/key.pem and dir/cert.pem, or, when
 * neither exists, create them (key file mode 0600, common name cn) and set
 * *created. A half-present pair, a key file readable by others, or an
 * unparsable file is an error with a message in err. Returns 0 or a
 * negative ff_err code.
 */
int wire_identity_load(const char *dir, const char *cn,
    wire_identity_t **out, int *created, char *err, size_t errlen);
void wire_identity_free(wire_identity_t *id);

/* Our own public-key fingerprint ("sha256:<hex>"). */
const char *wire_identity_fp(const wire_identity_t *id);

/*
 * Normalize a fingerprint text given by an operator (with or without the
 * "sha256:" prefix, upper or lower case, with or without colons) into
 * canonical form in out (WIRE_FP_LEN bytes). Returns 0 or FF_EINVAL.
 */
int wire_fp_parse(const char *text, char out[WIRE_FP_LEN]);

/* Compare two canonical fingerprints in constant time: 1 if equal. */
int wire_fp_equal(const char *a, const char *b);

/* ---- join tokens ---------------------------------------------------------- */

#define WIRE_TOKEN_SECRET_LEN	43	/* base64url of 32 random bytes */
#define WIRE_TOKEN_LEN		114	/* "ffj1." 64 hex "." 43, NUL */
#define WIRE_TOKEN_HASH_LEN	32	/* SHA-256 of the secret's bytes */

/*
 * Make a new join token for the controller key controller_fp (any form
 * wire_fp_parse() takes): token receives "ffj1.<hex>.<secret>" and hash
 * the SHA-256 the controller keeps. Call wire_init() first. Returns 0 or
 * FF_EINVAL (bad fingerprint).
 */
int wire_token_make(const char *controller_fp, char token[WIRE_TOKEN_LEN],
    uint8_t hash[WIRE_TOKEN_HASH_LEN]);

/*
 * Split a token text into the controller fingerprint (canonical form) and
 * the secret (NUL-terminated). Only the exact format is accepted. Returns
 * 0 or FF_EINVAL.
 */
int wire_token_parse(const char *text, char fp[WIRE_FP_LEN],
    char secret[WIRE_TOKEN_SECRET_LEN + 1]);

/*
 * Hash the secret secret[0..len) (as sent in JOIN) into hash. Returns 0,
 * or FF_EINVAL when it is not a well-formed secret.
 */
int wire_token_hash(const char *secret, size_t len,
    uint8_t hash[WIRE_TOKEN_HASH_LEN]);

/*
 * The join-token check: may the secret a node sent in JOIN
 * (secret[0..len)) enroll it, given the token the controller issued for
 * that node (hash, when have is set; used_ms, 0 while unused;
 * expires_ms) at time now_ms? The secret is checked first, and in
 * constant time, so that only its holder learns whether the token is
 * used or expired. Returns NULL when it may, else why not: "wrong" (no
 * token, a malformed secret, or not the token's), "used" or "expired".
 */
const char *wire_token_check(const char *secret, size_t len, int have,
    const uint8_t hash[WIRE_TOKEN_HASH_LEN], uint64_t used_ms,
    uint64_t expires_ms, uint64_t now_ms);

/* ---- connections ---------------------------------------------------------- */

typedef struct wire_conn wire_conn_t;

/*
 * Decide whether to accept a peer after its TLS handshake, from its key
 * fingerprint. Return 0 to accept, non-zero to refuse (the connection is
 * closed and on_close says why).
 */
typedef int (*wire_verify_cb)(wire_conn_t *c, const char *peer_fp);

typedef struct wire_conn_cbs {
	/* TLS is up and the peer's key was accepted. */
	void (*on_ready)(wire_conn_t *c);
	/*
	 * One decoded message; m is valid during the call only. A payload
	 * that does not decode closes the connection instead.
	 */
	void (*on_msg)(wire_conn_t *c, wire_msg_t *m);
	/* Queued output fell below the low-water mark (optional). */
	void (*on_drain)(wire_conn_t *c);
	/*
	 * The connection is gone: refused, failed or closed (err is 0 for
	 * an orderly close, else an ff_err code; why is text for logs). Called
	 * exactly once; the connection is freed after it returns. In the TLS
	 * handshake: FF_EAUTH when a key was refused (by us, or by the peer
	 * with a certificate alert), FF_ETRUNC when the peer closed or reset
	 * the connection without an alert (it did not say why),
	 * FF_ETIMEDOUT when the handshake took too long.
	 */
	void (*on_close)(wire_conn_t *c, int err, const char *why);
} wire_conn_cbs_t;

typedef struct wire_conn_opts {
	const wire_identity_t *id;	/* our key and certificate (TLS) */
	wire_verify_cb verify;		/* required (TLS) */
	size_t max_frame;		/* WIRE_MAX_FRAME_CONTROL or _QUERY */
	uint32_t handshake_ms;		/* TLS must finish within; 0: 10 s */
	size_t low_water;		/* on_drain threshold; 0: 256 KiB */
	const wire_conn_cbs_t *cbs;
	void *udata;
} wire_conn_opts_t;

/*
 * Accept a pending connection on a listening TCP handle and start the
 * TLS server handshake. Returns 0 and *out, or a negative ff_err code
 * (the pending connection is dropped).
 */
int wire_conn_accept(uv_stream_t *server, const wire_conn_opts_t *o,
    wire_conn_t **out);

/*
 * Connect to addr and start the TLS client handshake. Returns 0 and *out
 * (callbacks report success or failure later), or a negative ff_err code
 * with no callback to come.
 */
int wire_conn_connect(uv_loop_t *loop, const struct sockaddr *addr,
    const wire_conn_opts_t *o, wire_conn_t **out);

/*
 * Send a complete frame (as made by wire_msg_end); the bytes are copied.
 * Returns 0, or FF_EINVAL when the connection is not ready or closing.
 */
int wire_conn_send(wire_conn_t *c, const uint8_t *frame, size_t len);

/* Build and send a message in one go: an ERROR reply to request id. */
int wire_conn_send_error(wire_conn_t *c, uint32_t id, int code,
    const char *msg);

/* Start closing (orderly TLS close); on_close follows. Idempotent. */
void wire_conn_close(wire_conn_t *c, const char *why);

/* Bytes queued for sending and not yet written to the socket. */
size_t wire_conn_queued(const wire_conn_t *c);

/* "1.2.3.4:5678" / "[::1]:5678" of the peer. */
const char *wire_conn_peer(const wire_conn_t *c);
/* The peer's address (16 bytes, IPv4 mapped), all zero when unknown. */
const uint8_t *wire_conn_peer_addr(const wire_conn_t *c);
/* The peer's key fingerprint once known (after the handshake), else "". */
const char *wire_conn_peer_fp(const wire_conn_t *c);
void *wire_conn_udata(const wire_conn_t *c);
void wire_conn_set_udata(wire_conn_t *c, void *udata);
/* 1 once on_ready has run and until closing starts. */
int wire_conn_is_ready(const wire_conn_t *c);

/* Is s a valid node name (1..63 of [A-Za-z0-9._-], not starting with '.'
   or '-')? 1 or 0. */
int wire_name_ok(const char *s);

/* Is s a valid label (1..63 of [A-Za-z0-9._:=/-])? 1 or 0. */
int wire_label_ok(const char *s);

/*
 * Split a node address "host[:control_port[:query_port]]" (IPv6 hosts in
 * brackets) into host (hostlen bytes), *cport and *qport (defaults 2210
 * and 4210). The host is not resolved. Returns 0 or FF_EINVAL.
 */
int wire_node_addr_parse(const char *text, char *host, size_t hostlen,
    uint16_t *cport, uint16_t *qport);

/*
 * Resolve "host[:port]" or "[v6]:port" (numeric addresses only; names via
 * getaddrinfo) into *ss with default_port when none is given. Returns 0 or
 * FF_EINVAL.
 */
int wire_parse_hostport(const char *text, uint16_t default_port,
    struct sockaddr_storage *ss);

#endif
