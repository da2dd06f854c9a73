/*
 * Fleet inventory in LMDB; see inventory.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <msgpack.h>

#include "common/err.h"
#include "common/mpcheck.h"
#include "common/strict.h"
#include "common/util.h"
#include "inventory.h"

#define REC_VERSION	1
#define REC_MAX_DEPTH	4
#define REC_MAX_OBJECTS	4096

struct inventory {
	MDB_env *env;
	MDB_dbi nodes;
	MDB_dbi tokens;
};


/* ---- record encoding ---- */

int
inv_counters_pack(msgpack_packer *pk, const inv_counters_t *c,
    const char *store_key)
{
#define INV_COUNTER_ONE(name) + 1
	int rc = msgpack_pack_map(pk, 1 INV_COUNTERS(INV_COUNTER_ONE));
#undef INV_COUNTER_ONE

#define INV_COUNTER_PACK(name) \
	rc = rc || wire_pack_kv_u64(pk, #name, c->name);
	INV_COUNTERS(INV_COUNTER_PACK)
#undef INV_COUNTER_PACK
	return rc || wire_pack_kv_bool(pk, store_key, c->have_store);
}

/* The record built in b as a new buffer. */
static int
take(wire_builder_t *b, char **buf, size_t *len)
{
	uint8_t *p;
	int rc;

	rc = wire_value_take(b, &p, len);
	*buf = (char *)p;
	return rc;
}

int
inv_node_encode(const inv_node_t *n, char **buf, size_t *len)
{
	wire_builder_t b;
	msgpack_packer *pk = wire_builder_pk(&b);
	const inv_counters_t *c = &n->counters;

	wire_value_begin(&b);
	msgpack_pack_map(pk, n->have_offset ? 13 : 12);
	wire_pack_kv_u64(pk, "v", REC_VERSION);
	wire_pack_kv_str(pk, "name", n->name);
	wire_pack_kv_str(pk, "address", n->address);
	wire_pack_kv_str(pk, "fingerprint", n->fp);
	wire_pack_str(pk, "labels");
	msgpack_pack_array(pk, (uint32_t)n->nlabels);
	for (size_t i = 0; i < n->nlabels; i++)
		wire_pack_str(pk, n->labels[i]);
	wire_pack_kv_u64(pk, "added_ms", n->added_ms);
	wire_pack_kv_u64(pk, "enrolled_ms", n->enrolled_ms);
	wire_pack_kv_u64(pk, "last_seen_ms", n->last_seen_ms);
	wire_pack_kv_str(pk, "version", n->version);
	if (n->have_offset)
		wire_pack_kv_i64(pk, "clock_offset_ms", n->clock_offset_ms);
	wire_pack_kv_str(pk, "health", n->health);
	wire_pack_kv_u64(pk, "counters_ms", n->counters_ms);
	wire_pack_str(pk, "counters");
	inv_counters_pack(pk, c, "have_store");
	return take(&b, buf, len);
}

int
inv_token_encode(const inv_token_t *t, char **buf, size_t *len)
{
	wire_builder_t b;
	msgpack_packer *pk = wire_builder_pk(&b);

	wire_value_begin(&b);
	msgpack_pack_map(pk, 7);
	wire_pack_kv_u64(pk, "v", REC_VERSION);
	wire_pack_kv_str(pk, "name", t->name);
	wire_pack_kv_bin(pk, "hash", t->hash, sizeof(t->hash));
	wire_pack_kv_u64(pk, "created_ms", t->created_ms);
	wire_pack_kv_u64(pk, "expires_ms", t->expires_ms);
	wire_pack_kv_u64(pk, "used_ms", t->used_ms);
	wire_pack_kv_str(pk, "used_by", t->used_by);
	return take(&b, buf, len);
}

/* ---- record decoding ---- */

/* Unpack a record map into obj (in zone) after the structure check. */
static int
unpack_map(const void *buf, size_t len, msgpack_zone *zone,
    msgpack_object *obj)
{
	size_t used, off = 0;
	uint64_t v;

	if (len == 0 || len > INV_RECORD_MAX ||
	    mp_check(buf, len, REC_MAX_DEPTH, REC_MAX_OBJECTS, &used) != 0 ||
	    used != len)
		return FF_EPROTO;
	if (!msgpack_zone_init(zone, 1024))
		return FF_ENOMEM;
	if (msgpack_unpack(buf, len, &off, zone, obj) !=
	    MSGPACK_UNPACK_SUCCESS || off != len ||
	    obj->type != MSGPACK_OBJECT_MAP ||
	    wire_get_u64(obj, "v", &v) != 0 || v != REC_VERSION) {
		msgpack_zone_destroy(zone);
		return FF_EPROTO;
	}
	return 0;
}

/* An optional u64 field: absent is 0. */
static int
opt_u64(const msgpack_object *m, const char *k, uint64_t *v)
{
	int rc = wire_get_u64(m, k, v);

	if (rc == FF_ENOENT) {
		*v = 0;
		return 0;
	}
	return rc;
}

/* An optional string field: absent is "". */
static int
opt_str(const msgpack_object *m, const char *k, char *buf, size_t len)
{
	int rc = wire_get_strbuf(m, k, buf, len);

	if (rc == FF_ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return rc;
}

static int
fp_field_ok(const char *fp)
{
	char canon[WIRE_FP_LEN];

	return fp[0] == '\0' || (wire_fp_parse(fp, canon) == 0 &&
	    strcmp(canon, fp) == 0);
}

static int
decode_counters(const msgpack_object *m, inv_counters_t *c)
{
	memset(c, 0, sizeof(*c));
	if (m == NULL)
		return 0;
	if (m->type != MSGPACK_OBJECT_MAP)
		return FF_EPROTO;
#define INV_COUNTER_READ(name) \
	if (opt_u64(m, #name, &c->name) != 0) \
		return FF_EPROTO;
	INV_COUNTERS(INV_COUNTER_READ)
#undef INV_COUNTER_READ
	if (wire_get_bool(m, "have_store", &c->have_store) == FF_EPROTO)
		return FF_EPROTO;
	return 0;
}

int
inv_node_decode(const void *buf, size_t len, inv_node_t *n)
{
	msgpack_zone zone;
	msgpack_object obj;
	const msgpack_object *labels;
	int64_t off;
	int rc;

	memset(n, 0, sizeof(*n));
	if ((rc = unpack_map(buf, len, &zone, &obj)) != 0)
		return rc == FF_ENOMEM ? rc : FF_EPROTO;
	rc = FF_EPROTO;
	if (wire_get_strbuf(&obj, "name", n->name, sizeof(n->name)) != 0 ||
	    !wire_name_ok(n->name) ||
	    wire_get_strbuf(&obj, "address", n->address,
	    sizeof(n->address)) != 0 ||
	    opt_str(&obj, "fingerprint", n->fp, sizeof(n->fp)) != 0 ||
	    !fp_field_ok(n->fp) ||
	    opt_u64(&obj, "added_ms", &n->added_ms) != 0 ||
	    opt_u64(&obj, "enrolled_ms", &n->enrolled_ms) != 0 ||
	    opt_u64(&obj, "last_seen_ms", &n->last_seen_ms) != 0 ||
	    opt_str(&obj, "version", n->version, sizeof(n->version)) != 0 ||
	    opt_str(&obj, "health", n->health, sizeof(n->health)) != 0 ||
	    opt_u64(&obj, "counters_ms", &n->counters_ms) != 0 ||
	    decode_counters(wire_get(&obj, "counters"), &n->counters) != 0)
		goto out;
	{
		char h[WIRE_NAME_MAX + 1];
		uint16_t cp, qp;

		if (wire_node_addr_parse(n->address, h, sizeof(h), &cp,
		    &qp) != 0)
			goto out;
	}
	switch (wire_get_i64(&obj, "clock_offset_ms", &off)) {
	case 0:
		n->clock_offset_ms = off;
		n->have_offset = 1;
		break;
	case FF_ENOENT:
		break;
	default:
		goto out;
	}
	if ((labels = wire_get(&obj, "labels")) != NULL) {
		if (labels->type != MSGPACK_OBJECT_ARRAY ||
		    labels->via.array.size > WIRE_LABELS_MAX)
			goto out;
		for (uint32_t i = 0; i < labels->via.array.size; i++) {
			const msgpack_object *l = &labels->via.array.ptr[i];

			if (l->type != MSGPACK_OBJECT_STR ||
			    l->via.str.size > WIRE_LABEL_MAX ||
			    memchr(l->via.str.ptr, '\0', l->via.str.size) !=
			    NULL)
				goto out;
			memcpy(n->labels[i], l->via.str.ptr, l->via.str.size);
			n->labels[i][l->via.str.size] = '\0';
			if (!wire_label_ok(n->labels[i]))
				goto out;
		}
		n->nlabels = labels->via.array.size;
	}
	rc = 0;
out:
	msgpack_zone_destroy(&zone);
	if (rc != 0)
		memset(n, 0, sizeof(*n));
	return rc;
}

int
inv_token_decode(const void *buf, size_t len, inv_token_t *t)
{
	msgpack_zone zone;
	msgpack_object obj;
	const uint8_t *h;
	size_t hl;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = unpack_map(buf, len, &zone, &obj)) != 0)
		return rc == FF_ENOMEM ? rc : FF_EPROTO;
	rc = FF_EPROTO;
	if (wire_get_strbuf(&obj, "name", t->name, sizeof(t->name)) != 0 ||
	    !wire_name_ok(t->name) ||
	    wire_get_bin(&obj, "hash", &h, &hl) != 0 ||
	    hl != sizeof(t->hash) ||
	    opt_u64(&obj, "created_ms", &t->created_ms) != 0 ||
	    wire_get_u64(&obj, "expires_ms", &t->expires_ms) != 0 ||
	    opt_u64(&obj, "used_ms", &t->used_ms) != 0 ||
	    opt_str(&obj, "used_by", t->used_by, sizeof(t->used_by)) != 0 ||
	    !fp_field_ok(t->used_by))
		goto out;
	memcpy(t->hash, h, hl);
	rc = 0;
out:
	msgpack_zone_destroy(&zone);
	if (rc != 0)
		memset(t, 0, sizeof(*t));
	return rc;
}

/* ---- LMDB ---- */

int
inv_open(const char *dir, inventory_t **out, char *err, size_t errlen)
{
	inventory_t *inv;
	MDB_txn *txn = NULL;
	char path[4200];
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, INV_DIR) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return FF_EINVAL;
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	/* the node keys the controller trusts: ours alone to change */
	for (int i = 0; i < 2; i++) {
		char file[sizeof(path) + 16];
		struct stat st;

		snprintf(file, sizeof(file), "%s%s", path, i ? "/data.mdb" :
		    "");
		if (stat(file, &st) == -1) {
			if (errno == ENOENT && i > 0)
				break;
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			return FF_EIO;
		}
		if (strict_check(file, &st, err, errlen) != 0)
			return FF_EAUTH;
	}
	if ((inv = calloc(1, sizeof(*inv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	if ((rc = mdb_env_create(&inv->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(inv->env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(inv->env, INV_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_open(inv->env, path, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(inv->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "nodes", MDB_CREATE, &inv->nodes)) != 0 ||
	    (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &inv->tokens))
	    != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		if (txn != NULL && rc != 0)
			mdb_txn_abort(txn);
		inv_close(inv);
		return FF_ESTORE;
	}
	*out = inv;
	return 0;
}

void
inv_close(inventory_t *inv)
{
	if (inv == NULL)
		return;
	if (inv->env != NULL)
		mdb_env_close(inv->env);
	free(inv);
}

int
inv_load(inventory_t *inv, void (*node_cb)(void *, const inv_node_t *),
    void (*tok_cb)(void *, const inv_token_t *), void *arg, char *err,
    size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	inv_node_t *n = NULL;
	inv_token_t t;
	int rc, ret = 0;

	if ((rc = mdb_txn_begin(inv->env, NULL, MDB_RDONLY, &txn)) != 0) {
		snprintf(err, errlen, "inventory: %s", mdb_strerror(rc));
		return FF_ESTORE;
	}
	if ((n = malloc(sizeof(*n))) == NULL) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	for (int db = 0; db < 2 && ret == 0; db++) {
		if ((rc = mdb_cursor_open(txn, db ? inv->tokens : inv->nodes,
		    &cur)) != 0) {
			snprintf(err, errlen, "inventory: %s",
			    mdb_strerror(rc));
			ret = FF_ESTORE;
			break;
		}
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			int bad = db ? inv_token_decode(v.mv_data, v.mv_size,
			    &t) : inv_node_decode(v.mv_data, v.mv_size, n);

			if (bad == 0 && strlen(db ? t.name : n->name) ==
			    k.mv_size && memcmp(db ? t.name : n->name,
			    k.mv_data, k.mv_size) == 0) {
				if (db && tok_cb)
					tok_cb(arg, &t);
				else if (!db && node_cb)
					node_cb(arg, n);
				continue;
			}
			snprintf(err, errlen, "inventory: the %s record '%.*s' "
			    "is damaged", db ? "token" : "node",
			    (int)FF_MIN(k.mv_size, 64),
			    (const char *)k.mv_data);
			ret = FF_EPROTO;
			break;
		}
		if (ret == 0 && rc != MDB_NOTFOUND) {
			snprintf(err, errlen, "inventory: %s",
			    mdb_strerror(rc));
			ret = FF_ESTORE;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	free(n);
	return ret;
}

int
inv_write(inventory_t *inv, const inv_op_t *ops, size_t n, char *err,
    size_t errlen)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(inv->env, NULL, 0, &txn)) != 0) {
		snprintf(err, errlen, "inventory: %s", mdb_strerror(rc));
		return FF_ESTORE;
	}
	for (size_t i = 0; i < n; i++) {
		const inv_op_t *op = &ops[i];
		MDB_dbi dbi = (op->kind == INV_PUT_NODE ||
		    op->kind == INV_DEL_NODE) ? inv->nodes : inv->tokens;
		const char *name = op->kind == INV_PUT_NODE ? op->node.name :
		    op->kind == INV_PUT_TOKEN ? op->token.name : op->name;
		MDB_val k = { strlen(name), (void *)(uintptr_t)name }, v;
		char *buf = NULL;
		size_t len = 0;

		if (op->kind == INV_DEL_NODE || op->kind == INV_DEL_TOKEN) {
			rc = mdb_del(txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			int e = op->kind == INV_PUT_NODE ?
			    inv_node_encode(&op->node, &buf, &len) :
			    inv_token_encode(&op->token, &buf, &len);

			if (e != 0 || len > INV_RECORD_MAX) {
				free(buf);
				mdb_txn_abort(txn);
				snprintf(err, errlen, "inventory: cannot "
				    "encode the record of %s", name);
				return e != 0 ? e : FF_ELIMIT;
			}
			v.mv_size = len;
			v.mv_data = buf;
			rc = mdb_put(txn, dbi, &k, &v, 0);
			free(buf);
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			snprintf(err, errlen, "inventory: %s: %s", name,
			    mdb_strerror(rc));
			return rc == MDB_MAP_FULL ? FF_ENOSPC : FF_ESTORE;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "inventory: commit: %s",
		    mdb_strerror(rc));
		return rc == MDB_MAP_FULL ? FF_ENOSPC : FF_ESTORE;
	}
	return 0;
}
