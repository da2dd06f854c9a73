/*
 * Messages: one msgpack array per frame, [type, id, body map].
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mpcheck.h"
#include "common/util.h"
#include "wire.h"

#define MSG_MAX_DEPTH	16
#define MSG_MAX_OBJECTS	(1u << 20)

const char *
wire_type_name(unsigned type)
{
	switch (type) {
	case WIRE_HELLO:		return "HELLO";
	case WIRE_ERROR:		return "ERROR";
	case WIRE_PING:			return "PING";
	case WIRE_PONG:			return "PONG";
	case WIRE_STATUS_GET:		return "STATUS_GET";
	case WIRE_STATUS:		return "STATUS";
	case WIRE_JOIN:			return "JOIN";
	case WIRE_JOIN_OK:		return "JOIN_OK";
	case WIRE_QUERY:		return "QUERY";
	case WIRE_RESULT:		return "RESULT";
	case WIRE_RESULT_END:		return "RESULT_END";
	case WIRE_CANCEL:		return "CANCEL";
	case WIRE_TPUT_TOPK:		return "TPUT_TOPK";
	case WIRE_TPUT_THRESHOLD:	return "TPUT_THRESHOLD";
	case WIRE_TPUT_LOOKUP:		return "TPUT_LOOKUP";
	case WIRE_QUERY_RELEASE:	return "QUERY_RELEASE";
	case WIRE_CTL_OK:		return "CTL_OK";
	case WIRE_CTL_NODES_ADD:	return "CTL_NODES_ADD";
	case WIRE_CTL_NODES_REMOVE:	return "CTL_NODES_REMOVE";
	case WIRE_CTL_NODES_GET:	return "CTL_NODES_GET";
	case WIRE_CTL_NODES:		return "CTL_NODES";
	case WIRE_CTL_QUERY:		return "CTL_QUERY";
	case WIRE_CTL_QUERY_RESULT:	return "CTL_QUERY_RESULT";
	case WIRE_CTL_QUERY_CANCEL:	return "CTL_QUERY_CANCEL";
	case WIRE_CTL_QUERY_DATA:	return "CTL_QUERY_DATA";
	}
	return "unknown";
}

int
wire_msg_decode(const uint8_t *buf, size_t len, wire_msg_t *m)
{
	msgpack_object obj;
	msgpack_unpack_return ur;
	size_t used, off = 0;
	const msgpack_object *a;

	memset(m, 0, sizeof(*m));
	if (mp_check(buf, len, MSG_MAX_DEPTH, MSG_MAX_OBJECTS, &used) != 0 ||
	    used != len)
		return FF_EPROTO;
	if (!msgpack_zone_init(&m->zone, 2048))
		return FF_ENOMEM;
	ur = msgpack_unpack((const char *)buf, len, &off, &m->zone, &obj);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
		goto bad;
	if (obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 3)
		goto bad;
	a = obj.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[0].via.u64 > 0xffff ||
	    a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[1].via.u64 > UINT32_MAX ||
	    a[2].type != MSGPACK_OBJECT_MAP)
		goto bad;
	m->type = (unsigned)a[0].via.u64;
	m->id = (uint32_t)a[1].via.u64;
	m->len = len;
	m->body = a[2];
	return 0;
bad:
	msgpack_zone_destroy(&m->zone);
	memset(m, 0, sizeof(*m));
	return FF_EPROTO;
}

void
wire_msg_free(wire_msg_t *m)
{
	if (m == NULL)
		return;
	msgpack_zone_destroy(&m->zone);
	memset(m, 0, sizeof(*m));
}

const msgpack_object *
wire_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

int
wire_get_u64(const msgpack_object *map, const char *key, uint64_t *v)
{
	const msgpack_object *o = wire_get(map, key);

	if (o == NULL)
		return FF_ENOENT;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return FF_EPROTO;
	*v = o->via.u64;
	return 0;
}

int
wire_get_i64(const msgpack_object *map, const char *key, int64_t *v)
{
	const msgpack_object *o = wire_get(map, key);

	if (o == NULL)
		return FF_ENOENT;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*v = o->via.i64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX)
		*v = (int64_t)o->via.u64;
	else
		return FF_EPROTO;
	return 0;
}

int
wire_get_bool(const msgpack_object *map, const char *key, int *v)
{
	const msgpack_object *o = wire_get(map, key);

	if (o == NULL)
		return FF_ENOENT;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return FF_EPROTO;
	*v = o->via.boolean ? 1 : 0;
	return 0;
}

int
wire_get_str(const msgpack_object *map, const char *key, const char **s,
    size_t *len)
{
	const msgpack_object *o = wire_get(map, key);

	if (o == NULL)
		return FF_ENOENT;
	if (o->type != MSGPACK_OBJECT_STR)
		return FF_EPROTO;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

int
wire_str_is(const msgpack_object *map, const char *key, const char *want)
{
	const char *v;
	size_t len;

	return wire_get_str(map, key, &v, &len) == 0 &&
	    len == strlen(want) && memcmp(v, want, len) == 0;
}

int
wire_get_strbuf(const msgpack_object *map, const char *key, char *buf,
    size_t buflen)
{
	const char *s;
	size_t len;
	int rc;

	if ((rc = wire_get_str(map, key, &s, &len)) != 0)
		return rc;
	if (len >= buflen || memchr(s, '\0', len) != NULL)
		return FF_ELIMIT;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

int
wire_get_bin(const msgpack_object *map, const char *key, const uint8_t **p,
    size_t *len)
{
	const msgpack_object *o = wire_get(map, key);

	if (o == NULL)
		return FF_ENOENT;
	if (o->type != MSGPACK_OBJECT_BIN)
		return FF_EPROTO;
	*p = (const uint8_t *)o->via.bin.ptr;
	*len = o->via.bin.size;
	return 0;
}

/* Like msgpack_sbuffer_write, but remembers a failure. */
static int
builder_write(void *data, const char *buf, size_t len)
{
	wire_builder_t *b = data;

	if (b->err)
		return -1;
	if (msgpack_sbuffer_write(&b->sb, buf, len) != 0) {
		b->err = 1;
		return -1;
	}
	return 0;
}

int
wire_msg_begin(wire_builder_t *b, unsigned type, uint32_t id,
    uint32_t nfields)
{
	static const char hdr[4];

	msgpack_sbuffer_init(&b->sb);
	b->err = 0;
	msgpack_packer_init(&b->pk, b, builder_write);
	/* room for the frame length, filled in by wire_msg_end */
	if (builder_write(b, hdr, sizeof(hdr)) != 0)
		return FF_ENOMEM;
	msgpack_pack_array(&b->pk, 3);
	msgpack_pack_unsigned_int(&b->pk, type);
	msgpack_pack_uint32(&b->pk, id);
	msgpack_pack_map(&b->pk, nfields);
	return 0;
}

int
wire_pack_str(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	return wire_pack_str(pk, key) || msgpack_pack_uint64(pk, v);
}

int
wire_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
	return wire_pack_str(pk, key) || msgpack_pack_int64(pk, v);
}

int
wire_pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
	return wire_pack_str(pk, key) ||
	    (v ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

int
wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *s)
{
	return wire_pack_str(pk, key) || wire_pack_str(pk, s);
}

int
wire_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p,
    size_t len)
{
	return wire_pack_str(pk, key) || msgpack_pack_bin_with_body(pk, p,
	    len);
}

void
wire_put_key(wire_builder_t *b, const char *key)
{
	(void)wire_pack_str(&b->pk, key);
}

void
wire_put_u64(wire_builder_t *b, const char *key, uint64_t v)
{
	(void)wire_pack_kv_u64(&b->pk, key, v);
}

void
wire_put_i64(wire_builder_t *b, const char *key, int64_t v)
{
	(void)wire_pack_kv_i64(&b->pk, key, v);
}

void
wire_put_bool(wire_builder_t *b, const char *key, int v)
{
	(void)wire_pack_kv_bool(&b->pk, key, v);
}

void
wire_put_str(wire_builder_t *b, const char *key, const char *s)
{
	(void)wire_pack_kv_str(&b->pk, key, s);
}

void
wire_put_bin(wire_builder_t *b, const char *key, const void *p, size_t len)
{
	(void)wire_pack_kv_bin(&b->pk, key, p, len);
}

int
wire_msg_error(wire_builder_t *b, uint32_t id, int code, const char *msg,
    const uint8_t **frame, size_t *frame_len)
{
	int rc;

	if ((rc = wire_msg_begin(b, WIRE_ERROR, id, 2)) != 0)
		return rc;
	wire_put_i64(b, "code", code);
	wire_put_str(b, "msg", msg);
	return wire_msg_end(b, frame, frame_len);
}

int
wire_msg_end(wire_builder_t *b, const uint8_t **frame, size_t *frame_len)
{
	if (b->err || b->sb.data == NULL || b->sb.size < 5 ||
	    b->sb.size - 4 > UINT32_MAX)
		return FF_ENOMEM;
	put_be32((uint8_t *)b->sb.data, (uint32_t)(b->sb.size - 4));
	*frame = (const uint8_t *)b->sb.data;
	*frame_len = b->sb.size;
	return 0;
}

void
wire_builder_free(wire_builder_t *b)
{
	msgpack_sbuffer_destroy(&b->sb);
	memset(b, 0, sizeof(*b));
}

void
wire_value_begin(wire_builder_t *b)
{
	msgpack_sbuffer_init(&b->sb);
	b->err = 0;
	msgpack_packer_init(&b->pk, b, builder_write);
}

int
wire_value_take(wire_builder_t *b, uint8_t **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (b->err || b->sb.data == NULL || b->sb.size == 0) {
		wire_builder_free(b);
		return FF_ENOMEM;
	}
	*len = b->sb.size;
	*buf = (uint8_t *)msgpack_sbuffer_release(&b->sb);
	wire_builder_free(b);
	return 0;
}
