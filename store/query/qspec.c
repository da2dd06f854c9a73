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

int
query_spec_write(msgpack_packer *pk, const query_spec_t *q)
{
	const char *f = q->filter ? q->filter : "";
	int keyed = q->kind == QUERY_TOPN || q->kind == QUERY_DISTINCT;

	if (wire_pack_kv_u64(pk, "kind", q->kind) ||
	    wire_pack_kv_u64(pk, "t0", q->t0) ||
	    wire_pack_kv_u64(pk, "t1", q->t1) ||
	    wire_pack_kv_str(pk, "filter", f) ||
	    wire_pack_kv_u64(pk, "key", keyed ? q->key : 0) ||
	    wire_pack_kv_u64(pk, "p4", q->prefix4) ||
	    wire_pack_kv_u64(pk, "p6", q->prefix6) ||
	    wire_pack_kv_u64(pk, "order", q->order) ||
	    wire_pack_kv_u64(pk, "n", q->n) ||
	    wire_pack_kv_u64(pk, "step", q->step_ms) ||
	    wire_pack_kv_u64(pk, "limit", q->limit))
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
