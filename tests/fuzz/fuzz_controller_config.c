/*
 * libFuzzer target: the controller's config parser,
 * controller_config_parse().
 *
 * The input is the configuration text. What the parser promises is
 * checked, else the target aborts:
 *  - an error is FF_ESYNTAX with "fuzz.conf:LINE: ..." where LINE lies
 *    within the text, and no configuration;
 *  - a configuration has every value in its documented range, absolute
 *    paths that fit a socket address, and its normalized print parses
 *    back to the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "controller/config.h"
#include "wire/wire.h"
#include "tests/fuzz/conf_check.h"

#define FNAME	"fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
	if (v < lo || v > hi)
		abort();
}

static void
check_config(const struct controller_config *c)
{
	if (c->state_dir == NULL || c->state_dir[0] != '/' ||
	    strlen(c->state_dir) > CONTROLLER_CONFIG_MAX_PATH)
		abort();
	if (c->socket == NULL || c->socket[0] != '/' ||
	    strlen(c->socket) > CONTROLLER_CONFIG_MAX_PATH)
		abort();
	in_range(c->ping_interval_ms, CONTROLLER_CONFIG_PING_MIN,
	    CONTROLLER_CONFIG_PING_MAX);
	in_range(c->ping_misses, 1, CONTROLLER_CONFIG_MISSES_MAX);
	in_range(c->status_interval_ms, CONTROLLER_CONFIG_STATUS_MIN,
	    CONTROLLER_CONFIG_STATUS_MAX);
	in_range(c->clock_warn_ms, CONTROLLER_CONFIG_CLOCK_MIN,
	    CONTROLLER_CONFIG_CLOCK_MAX);
	in_range(c->reconnect_min_ms, CONTROLLER_CONFIG_RECONNECT_MIN,
	    CONTROLLER_CONFIG_RECONNECT_MAX);
	in_range(c->reconnect_max_ms, c->reconnect_min_ms,
	    CONTROLLER_CONFIG_RECONNECT_MAX);
	in_range(c->connect_timeout_ms, CONTROLLER_CONFIG_CONNECT_MIN,
	    CONTROLLER_CONFIG_CONNECT_MAX);
	in_range(c->token_ttl_ms, WIRE_TOKEN_TTL_MIN, WIRE_TOKEN_TTL_MAX);
	in_range(c->flush_interval_ms, CONTROLLER_CONFIG_FLUSH_MIN,
	    CONTROLLER_CONFIG_FLUSH_MAX);
	in_range((uint64_t)c->log_level, 0, 2);
	if (c->name != NULL && (c->name[0] == '\0' ||
	    strlen(c->name) > CONTROLLER_CONFIG_MAX_NAME))
		abort();
}

static void
check_roundtrip(const struct controller_config *a)
{
	struct controller_config *b = NULL;
	char *out = NULL, err[512];
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&out, &len)) == NULL)
		return;
	if (controller_config_print(fp, a) != 0)
		abort();
	fclose(fp);
	if (controller_config_parse(FNAME, out, len, &b, err, sizeof(err)) != 0)
		abort();
	if (strcmp(a->state_dir, b->state_dir) != 0 ||
	    strcmp(a->socket, b->socket) != 0 ||
	    (a->name == NULL) != (b->name == NULL) ||
	    (a->name != NULL && strcmp(a->name, b->name) != 0) ||
	    a->ping_interval_ms != b->ping_interval_ms ||
	    a->ping_misses != b->ping_misses ||
	    a->status_interval_ms != b->status_interval_ms ||
	    a->clock_warn_ms != b->clock_warn_ms ||
	    a->reconnect_min_ms != b->reconnect_min_ms ||
	    a->reconnect_max_ms != b->reconnect_max_ms ||
	    a->connect_timeout_ms != b->connect_timeout_ms ||
	    a->token_ttl_ms != b->token_ttl_ms ||
	    a->flush_interval_ms != b->flush_interval_ms ||
	    a->log_level != b->log_level)
		abort();
	controller_config_free(b);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct controller_config *c = NULL;
	char err[512] = "";
	int rc;

	rc = controller_config_parse(FNAME, (const char *)data, size, &c, err,
	    sizeof(err));
	if (rc == FF_ENOMEM)
		return 0;
	if (rc != 0) {
		if (rc != FF_ESYNTAX || c != NULL)
			abort();
		conf_check_error(FNAME, data, size, err);
		return 0;
	}
	check_config(c);
	check_roundtrip(c);
	controller_config_free(c);
	return 0;
}
