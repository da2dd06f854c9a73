/*
 * From the controller's answers to text: reading a field of a msgpack
 * map with a default, counts and durations for narrow columns.
 */
#include <inttypes.h>

#include "cli.h"

uint64_t
cli_u64(const msgpack_object *m, const char *k)
{
	uint64_t v = 0;

	(void)wire_get_u64(m, k, &v);
	return v;
}

int
cli_bool(const msgpack_object *m, const char *k)
{
	int v = 0;

	(void)wire_get_bool(m, k, &v);
	return v;
}

const char *
cli_str(const msgpack_object *m, const char *k, const char *dflt, char *buf,
    size_t len)
{
	if (wire_get_strbuf(m, k, buf, len) != 0)
		snprintf(buf, len, "%s", dflt);
	return buf;
}

const msgpack_object *
cli_array(const msgpack_object *m, const char *k)
{
	const msgpack_object *a = wire_get(m, k);

	return a != NULL && a->type == MSGPACK_OBJECT_ARRAY ? a : NULL;
}

void
cli_count(uint64_t v, char *buf, size_t len)
{
	if (v < 10000)
		snprintf(buf, len, "%" PRIu64, v);
	else if (v < 10000000)
		snprintf(buf, len, "%.1fk", (double)v / 1e3);
	else if (v < 10000000000ull)
		snprintf(buf, len, "%.1fM", (double)v / 1e6);
	else
		snprintf(buf, len, "%.1fG", (double)v / 1e9);
}

void
cli_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 120)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRIu64 "m", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
		    s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
		    s / 3600 % 24);
}
