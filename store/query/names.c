/*
 * The names of query kinds, keys and orders, and their parsing from a
 * command line.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- names -------------------------------------------------------------- */

static const struct {
	const char *name;
	int key;
} key_names[] = {
	{ "srcip", QUERY_KEY_SRCIP },
	{ "dstip", QUERY_KEY_DSTIP },
	{ "srcport", QUERY_KEY_SRCPORT },
	{ "dstport", QUERY_KEY_DSTPORT },
	{ "proto", QUERY_KEY_PROTO },
	{ "srcnet", QUERY_KEY_SRCNET },
	{ "dstnet", QUERY_KEY_DSTNET },
	{ "exporter", QUERY_KEY_EXPORTER },
	{ "inif", QUERY_KEY_INIF },
	{ "outif", QUERY_KEY_OUTIF },
	{ "srcas", QUERY_KEY_SRCAS },
	{ "dstas", QUERY_KEY_DSTAS },
	{ "router", QUERY_KEY_EXPORTER },
};

const char *
qkey_name(int key)
{
	for (size_t i = 0; i < FF_NELEM(key_names); i++)
		if (key_names[i].key == key)
			return key_names[i].name;
	return "?";
}

const char *
query_key_name(query_key_t key)
{
	return qkey_name((int)key);
}

const char *
qkind_name(int kind)
{
	switch (kind) {
	case QUERY_TOTALS:
		return "totals";
	case QUERY_TOPN:
		return "topn";
	case QUERY_SERIES:
		return "series";
	case QUERY_LIST:
		return "list";
	case QUERY_DISTINCT:
		return "distinct";
	}
	return "?";
}

const char *
query_kind_name(query_kind_t kind)
{
	return qkind_name((int)kind);
}

const char *
qorder_name(int order)
{
	switch (order) {
	case QUERY_ORDER_BYTES:
		return "bytes";
	case QUERY_ORDER_PACKETS:
		return "packets";
	case QUERY_ORDER_FLOWS:
		return "flows";
	}
	return "?";
}

const char *
query_order_name(query_order_t order)
{
	return qorder_name((int)order);
}

static int
parse_len(const char *s, unsigned max, uint8_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return FF_EINVAL;
	v = strtoul(s, &end, 10);
	if (end == s || v > max || (*end != '\0' && *end != '/'))
		return FF_EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int
query_key_parse(const char *s, query_key_t *key, uint8_t *prefix4,
    uint8_t *prefix6)
{
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint8_t p4 = 24, p6 = 64;

	for (size_t i = 0; i < FF_NELEM(key_names); i++) {
		if (strlen(key_names[i].name) != len ||
		    strncmp(key_names[i].name, s, len) != 0)
			continue;
		if (key_names[i].key == QUERY_KEY_SRCNET ||
		    key_names[i].key == QUERY_KEY_DSTNET) {
			if (slash != NULL) {
				const char *s2;

				if (parse_len(slash + 1, 32, &p4) != 0)
					return FF_EINVAL;
				if ((s2 = strchr(slash + 1, '/')) != NULL &&
				    parse_len(s2 + 1, 128, &p6) != 0)
					return FF_EINVAL;
				if (s2 != NULL && strchr(s2 + 1, '/') != NULL)
					return FF_EINVAL;
			}
			*prefix4 = p4;
			*prefix6 = p6;
		} else if (slash != NULL)
			return FF_EINVAL;
		*key = (query_key_t)key_names[i].key;
		return 0;
	}
	return FF_EINVAL;
}

int
query_order_parse(const char *s, query_order_t *order)
{
	if (strcmp(s, "bytes") == 0)
		*order = QUERY_ORDER_BYTES;
	else if (strcmp(s, "packets") == 0 || strcmp(s, "pkts") == 0)
		*order = QUERY_ORDER_PACKETS;
	else if (strcmp(s, "flows") == 0)
		*order = QUERY_ORDER_FLOWS;
	else
		return FF_EINVAL;
	return 0;
}
