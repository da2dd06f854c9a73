/*
 * A query's identity in a msgpack map, as the controller sends it to the
 * nodes (QUERY) and the CLI to the controller (CTL_QUERY): the fields of
 * query_spec_t that make the query what it is (wire/PROTOCOL.md).
 */
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "common/err.h"
#include "query.h"
#include "wire/wire.h"

static int
put(msgpack_packer *pk, const char *k, uint64_t v)
{
	return msgpack_pack_str_with_body(pk, k, strlen(k)) ||
	    msgpack_pack_uint64(pk, v) ? FF_ENOMEM : 0;
}

int
query_spec_write(msgpack_packer *pk, const query_spec_t *q)
{
	const char *f = q->filter ? q->filter : "";
	int keyed = q->kind == QUERY_TOPN || q->kind == QUERY_DISTINCT;

	if (put(pk, "kind", q->kind) || put(pk, "t0", q->t0) ||
	    put(pk, "t1", q->t1) ||
	    msgpack_pack_str_with_body(pk, "filter", 6) ||
	    msgpack_pack_str_with_body(pk, f, strlen(f)) ||
	    put(pk, "key", keyed ? q->key : 0) ||
	    put(pk, "p4", q->prefix4) || put(pk, "p6", q->prefix6) ||
	    put(pk, "order", q->order) || put(pk, "n", q->n) ||
	    put(pk, "step", q->step_ms) || put(pk, "limit", q->limit))
		return FF_ENOMEM;
	return 0;
}

/* A required unsigned field in [0, max]. */
static int
u64(const msgpack_object *m, const char *k, uint64_t max, uint64_t *v,
    char *err, size_t errlen)
{
	uint64_t x;

	if (wire_get_u64(m, k, &x) != 0 || x > max) {
		snprintf(err, errlen, "the query's '%s' is missing or out of "
		    "range", k);
		return FF_EPROTO;
	}
	*v = x;
	return 0;
}

int
query_spec_read(const msgpack_object *m, query_spec_t *q, char *filter,
    size_t filterlen, char *err, size_t errlen)
{
	uint64_t kind, key, p4, p6, order, n, limit;
	int rc;

	memset(q, 0, sizeof(*q));
	if (u64(m, "kind", QUERY_DISTINCT, &kind, err, errlen) ||
	    u64(m, "t0", UINT64_MAX, &q->t0, err, errlen) ||
	    u64(m, "t1", UINT64_MAX, &q->t1, err, errlen) ||
	    u64(m, "key", QUERY_KEY_DSTAS, &key, err, errlen) ||
	    u64(m, "p4", 32, &p4, err, errlen) ||
	    u64(m, "p6", 128, &p6, err, errlen) ||
	    u64(m, "order", QUERY_ORDER_FLOWS, &order, err, errlen) ||
	    u64(m, "n", QUERY_TOPN_MAX, &n, err, errlen) ||
	    u64(m, "step", UINT64_MAX, &q->step_ms, err, errlen) ||
	    u64(m, "limit", QUERY_LIST_MAX, &limit, err, errlen))
		return FF_EPROTO;
	filter[0] = '\0';
	rc = wire_get_strbuf(m, "filter", filter, filterlen);
	if (rc != 0 && rc != FF_ENOENT) {
		filter[0] = '\0';
		snprintf(err, errlen, "the query's filter is not text of at "
		    "most %zu bytes", filterlen - 1);
		return FF_EPROTO;
	}
	q->kind = (query_kind_t)kind;
	q->key = (query_key_t)key;
	q->prefix4 = (uint8_t)p4;
	q->prefix6 = (uint8_t)p6;
	q->order = (query_order_t)order;
	q->n = (uint32_t)n;
	q->limit = (uint32_t)limit;
	q->filter = filter[0] != '\0' ? filter : NULL;
	return 0;
}
