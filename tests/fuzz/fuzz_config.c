/*
 * libFuzzer target: the node's config parser, config_parse().
 *
 * The input is the configuration text. What the parser promises is
 * checked, else the target aborts:
 *  - an error is FF_ESYNTAX with a message "fuzz.conf:LINE: ..." whose
 *    LINE lies within the text, and no configuration;
 *  - a configuration has every value within its documented range (the
 *    store's retention-size below store-map-size when both are set), an
 *    absolute state-dir, at least one listener with a port, and its
 *    normalized print parses back to the same configuration;
 *  - config_check_pushable() refuses it exactly when the text sets a
 *    keyword of the node's own (CONF_LOCAL), with "fuzz.conf:LINE: ..."
 *    on a line within the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "common/err.h"
#include "nodeconf/nodeconf.h"
#include "tests/fuzz/conf_check.h"

#define FNAME	"fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_config(const struct node_config *c)
{
	if (c->state_dir == NULL || c->state_dir[0] != '/')
		abort();
	if (c->nlisten == 0 || c->nlisten > CONFIG_MAX_LISTEN)
		abort();
	if (c->rcvbuf < CONFIG_MIN_RCVBUF || c->rcvbuf > CONFIG_MAX_RCVBUF)
		abort();
	if (c->hold_time_ms < CONFIG_MIN_HOLD_MS ||
	    c->hold_time_ms > CONFIG_MAX_HOLD_MS)
		abort();
	if (c->hold_unknown != 0 && c->hold_unknown != 1)
		abort();
	if (c->log_level < 0 || c->log_level > 2)
		abort();
	if (c->retention_age_ms != 0 &&
	    (c->retention_age_ms < CONFIG_MIN_RETENTION_AGE_MS ||
	    c->retention_age_ms > CONFIG_MAX_RETENTION_AGE_MS))
		abort();
	if (c->retention_size != 0 &&
	    (c->retention_size < CONFIG_MIN_STORE_SIZE ||
	    c->retention_size > CONFIG_MAX_STORE_SIZE))
		abort();
	if (c->store_map_size != 0 &&
	    (c->store_map_size < CONFIG_MIN_STORE_SIZE ||
	    c->store_map_size > CONFIG_MAX_STORE_SIZE ||
	    c->retention_size >= c->store_map_size))
		abort();
	if (c->store_sync != 0 && c->store_sync != 1)
		abort();
	if (c->store_queue < 1 || c->store_queue > CONFIG_MAX_STORE_QUEUE)
		abort();
	for (size_t i = 0; i < c->nlisten; i++) {
		const struct config_listen *l = &c->listen[i];

		if (l->ss.ss_family == AF_INET) {
			if (l->sslen != sizeof(struct sockaddr_in) ||
			    ((const struct sockaddr_in *)&l->ss)->sin_port == 0)
				abort();
		} else if (l->ss.ss_family == AF_INET6) {
			if (l->sslen != sizeof(struct sockaddr_in6) ||
			    ((const struct sockaddr_in6 *)&l->ss)->sin6_port ==
			    0)
				abort();
		} else
			abort();
	}
}

static void
check_roundtrip(const struct node_config *a)
{
	struct node_config *b = NULL;
	char *out = NULL, err[512];
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&out, &len)) == NULL)
		return;
	if (config_print(fp, a) != 0)
		abort();
	fclose(fp);
	if (config_parse(FNAME, out, len, &b, err, sizeof(err)) != 0)
		abort();
	if (strcmp(a->state_dir, b->state_dir) != 0 ||
	    a->rcvbuf != b->rcvbuf || a->hold_unknown != b->hold_unknown ||
	    a->hold_time_ms != b->hold_time_ms ||
	    a->log_level != b->log_level || a->nlisten != b->nlisten ||
	    a->retention_age_ms != b->retention_age_ms ||
	    a->retention_size != b->retention_size ||
	    a->store_map_size != b->store_map_size ||
	    a->store_sync != b->store_sync ||
	    a->store_queue != b->store_queue)
		abort();
	for (size_t i = 0; i < a->nlisten; i++)
		if (a->listen[i].proto != b->listen[i].proto ||
		    a->listen[i].sslen != b->listen[i].sslen ||
		    memcmp(&a->listen[i].ss, &b->listen[i].ss,
		    a->listen[i].sslen) != 0)
			abort();
	config_free(b);
	free(out);
}

static void
check_pushable(const struct node_config *c, const uint8_t *data,
    size_t size)
{
	char err[512] = "";
	int rc = config_check_pushable(c, err, sizeof(err));

	if (c->local_keyword == NULL) {
		if (rc != 0 || c->local_line != 0)
			abort();
		return;
	}
	if (rc != FF_EINVAL || config_keyword_local(c->local_keyword) != 1)
		abort();
	conf_check_error(FNAME, data, size, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config *c = NULL;
	char err[512] = "";
	int rc;

	rc = config_parse(FNAME, (const char *)data, size, &c, err,
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
	check_pushable(c, data, size);
	config_free(c);
	return 0;
}
