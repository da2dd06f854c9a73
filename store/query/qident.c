/*
 * The identity of a query (qident_t): what a query asks, normalized and
 * checked, with its fingerprint; and the keys that are valid for it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- query identity ----------------------------------------------------- */

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
qident_hash(const qident_t *id)
{
	uint8_t b[40];
	uint64_t h = 0xcbf29ce484222325ULL;

	b[0] = 'f';
	b[1] = 'q';
	b[2] = '1';
	b[3] = (uint8_t)id->kind;
	b[4] = (uint8_t)id->key;
	b[5] = (uint8_t)id->order;
	b[6] = id->prefix4;
	b[7] = id->prefix6;
	put_be32(b + 8, id->n);
	put_be32(b + 12, id->limit);
	put_be64(b + 16, id->t0);
	put_be64(b + 24, id->t1);
	put_be64(b + 32, id->step_ms);
	h = fnv(h, b, sizeof(b));
	return fnv(h, id->filter, strlen(id->filter) + 1);
}

/*
 * Check the fields that apply to id->kind and compute nbuckets. Returns
 * 0 or FF_EINVAL with a message.
 */
static int
qident_validate(qident_t *id, char *err, size_t errlen)
{
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); \
		return FF_EINVAL; } while (0)
	if (id->kind < QUERY_TOTALS || id->kind > QUERY_DISTINCT)
		BAD("unknown query kind %d", id->kind);
	if (id->t0 > id->t1)
		BAD("the window starts after it ends");
	if (strlen(id->filter) > QRY_FILTER_MAX)
		BAD("filter longer than %d bytes", QRY_FILTER_MAX);
	if (qident_keyed(id)) {
		if (id->key < QUERY_KEY_SRCIP || id->key > QUERY_KEY_DSTAS)
			BAD("unknown key %d", id->key);
		if ((id->key == QUERY_KEY_SRCNET ||
		    id->key == QUERY_KEY_DSTNET) &&
		    (id->prefix4 > 32 || id->prefix6 > 128))
			BAD("prefix length out of range (IPv4 0-32, IPv6 "
			    "0-128)");
	}
	switch (id->kind) {
	case QUERY_TOPN:
		if (id->order < QUERY_ORDER_BYTES || id->order > QUERY_ORDER_FLOWS)
			BAD("unknown order %d", id->order);
		if (id->n < 1 || id->n > QUERY_TOPN_MAX)
			BAD("top N must be 1 to %u", QUERY_TOPN_MAX);
		break;
	case QUERY_SERIES:
		if (id->step_ms < 1)
			BAD("series step must be at least 1 ms");
		if (id->t1 <= id->t0 || id->t1 == UINT64_MAX)
			BAD("a series needs a non-empty window with an end");
		id->nbuckets = (id->t1 - id->t0) / id->step_ms +
		    ((id->t1 - id->t0) % id->step_ms != 0);
		if (id->nbuckets > QUERY_SERIES_MAX)
			BAD("series of %" PRIu64 " buckets; at most %u (use "
			    "a larger step or a shorter window)",
			    id->nbuckets, QUERY_SERIES_MAX);
		break;
	case QUERY_LIST:
		if (id->limit < 1 || id->limit > QUERY_LIST_MAX)
			BAD("listing limit must be 1 to %u", QUERY_LIST_MAX);
		break;
	}
	return 0;
#undef BAD
}

int
qident_from_spec(const query_spec_t *spec, qident_t *id, char *err,
    size_t errlen)
{
	const char *f = spec->filter != NULL ? spec->filter : "";
	int rc;

	memset(id, 0, sizeof(*id));
	id->kind = (int)spec->kind;
	id->t0 = spec->t0;
	id->t1 = spec->t1;
	if (qident_keyed(id)) {
		id->key = (int)spec->key;
		if (spec->key == QUERY_KEY_SRCNET ||
		    spec->key == QUERY_KEY_DSTNET) {
			id->prefix4 = spec->prefix4;
			id->prefix6 = spec->prefix6;
		}
	}
	if (id->kind == QUERY_TOPN) {
		id->order = (int)spec->order;
		id->n = spec->n;
	}
	if (id->kind == QUERY_SERIES)
		id->step_ms = spec->step_ms;
	if (id->kind == QUERY_LIST)
		id->limit = spec->limit;
	if (strlen(f) > QRY_FILTER_MAX) {
		snprintf(err, errlen, "filter longer than %d bytes",
		    QRY_FILTER_MAX);
		return FF_EINVAL;
	}
	if ((id->filter = strdup(f)) == NULL)
		return FF_ENOMEM;
	if ((rc = qident_validate(id, err, errlen)) != 0) {
		qident_clear(id);
		return rc;
	}
	id->qid = qident_hash(id);
	return 0;
}

int
qident_check(qident_t *id)
{
	char err[128];

	if (qident_validate(id, err, sizeof(err)) != 0)
		return FF_EPROTO;
	/* What does not apply to the kind must be zero. */
	if (!qident_keyed(id) && id->key != 0)
		return FF_EPROTO;
	if (id->key != QUERY_KEY_SRCNET && id->key != QUERY_KEY_DSTNET &&
	    (id->prefix4 != 0 || id->prefix6 != 0))
		return FF_EPROTO;
	if (id->kind != QUERY_TOPN && (id->order != 0 || id->n != 0))
		return FF_EPROTO;
	if (id->kind != QUERY_SERIES && id->step_ms != 0)
		return FF_EPROTO;
	if (id->kind != QUERY_LIST && id->limit != 0)
		return FF_EPROTO;
	id->qid = qident_hash(id);
	return 0;
}

int
qident_copy(qident_t *dst, const qident_t *src)
{
	*dst = *src;
	if ((dst->filter = strdup(src->filter)) == NULL)
		return FF_ENOMEM;
	return 0;
}

int
qident_equal(const qident_t *a, const qident_t *b)
{
	return a->qid == b->qid && a->kind == b->kind && a->key == b->key &&
	    a->order == b->order && a->prefix4 == b->prefix4 &&
	    a->prefix6 == b->prefix6 && a->n == b->n &&
	    a->limit == b->limit && a->t0 == b->t0 && a->t1 == b->t1 &&
	    a->step_ms == b->step_ms && strcmp(a->filter, b->filter) == 0;
}

void
qident_clear(qident_t *id)
{
	free(id->filter);
	id->filter = NULL;
}

/* --- keys --------------------------------------------------------------- */

uint64_t
key_max(int key)
{
	switch (key) {
	case QUERY_KEY_SRCPORT:
	case QUERY_KEY_DSTPORT:
		return 65535;
	case QUERY_KEY_PROTO:
		return 255;
	default:
		return UINT32_MAX;
	}
}

int
key_valid(const qident_t *id, uint64_t hi, uint64_t lo)
{
	uint32_t m4;
	uint64_t mhi, mlo;

	if (!key_is_addr(id->key))
		return hi == 0 && lo <= key_max(id->key);
	if (id->key != QUERY_KEY_SRCNET && id->key != QUERY_KEY_DSTNET)
		return 1;
	key_masks(id, &m4, &mhi, &mlo);
	if (key_is_v4(hi, lo))
		return ((uint32_t)lo & ~m4) == 0;
	return (hi & ~mhi) == 0 && (lo & ~mlo) == 0;
}

int
key_column(int key)
{
	switch (key) {
	case QUERY_KEY_SRCIP:
	case QUERY_KEY_SRCNET:
		return STORE_COL_SRC;
	case QUERY_KEY_DSTIP:
	case QUERY_KEY_DSTNET:
		return STORE_COL_DST;
	case QUERY_KEY_SRCPORT:
		return STORE_COL_SPORT;
	case QUERY_KEY_DSTPORT:
		return STORE_COL_DPORT;
	case QUERY_KEY_PROTO:
		return STORE_COL_PROTO;
	case QUERY_KEY_EXPORTER:
		return STORE_COL_EXPORTER;
	case QUERY_KEY_INIF:
		return STORE_COL_IN_IF;
	case QUERY_KEY_OUTIF:
		return STORE_COL_OUT_IF;
	case QUERY_KEY_SRCAS:
		return STORE_COL_SRC_AS;
	default:
		return STORE_COL_DST_AS;
	}
}
