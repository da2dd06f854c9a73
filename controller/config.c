/*
 * Configuration of flowfleet-controller: the keyword table, the defaults
 * and the checks across keywords, over the language of common/conf.c.
 * See config.h and the commented example deploy/flowfleet-controller.conf.
 * The table's order is the order of the normalized print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/util.h"
#include "wire/wire.h"
#include "config.h"

/* ---- keyword handlers ---- */

static int
kw_socket(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	size_t n = strlen(av[0]);

	if (n > 0 && av[0][n - 1] == '/')
		return conf_err(cf, "socket must name a file, not a directory");
	return conf_set_path(cf, k, obj, av, ac);
}

static void
print_name(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct controller_config *c = obj;

	if (c->name == NULL)
		fputs("# name: the host name\n", fp);
	else
		conf_print_str(fp, k, obj);
}

static int
kw_misses(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	struct controller_config *c = obj;
	uint64_t v;

	(void)ac;
	if (conf_uint(av[0], k->min, k->max, &v) != 0)
		return conf_err(cf, "%s: expected a number from 1 to %d, not "
		    "'%.32s'", k->name, CONTROLLER_CONFIG_MISSES_MAX, av[0]);
	c->ping_misses = (unsigned)v;
	return 0;
}

/* ---- the keyword table ---- */

#define F(field)	CONF_FIELD(struct controller_config, field)
#define DUR(kw, field, lo, hi, dflt) \
	{ kw, conf_set_duration, conf_print_duration, "DURATION", 0, \
	  F(field), .min = lo, .max = hi, .def = dflt, \
	  .hint = "a number with an ms, s, m, h or d suffix" }

static const struct conf_keyword keywords[] = {
	{ "state-dir", conf_set_path, conf_print_str, "PATH", CONF_STR,
	  F(state_dir), .max = CONTROLLER_CONFIG_MAX_PATH,
	  .def = CONTROLLER_CONFIG_DEFAULT_STATE },
	{ "socket", kw_socket, conf_print_str, "PATH", CONF_STR, F(socket),
	  .max = CONTROLLER_CONFIG_MAX_PATH, .def = WIRE_CTL_SOCKET_DEFAULT },
	{ "name", conf_set_name, print_name, "NAME", CONF_STR, F(name),
	  .max = CONTROLLER_CONFIG_MAX_NAME },
	DUR("ping-interval", ping_interval_ms, CONTROLLER_CONFIG_PING_MIN,
	    CONTROLLER_CONFIG_PING_MAX, "2s"),
	DUR("status-interval", status_interval_ms,
	    CONTROLLER_CONFIG_STATUS_MIN, CONTROLLER_CONFIG_STATUS_MAX, "5s"),
	DUR("clock-warn", clock_warn_ms, CONTROLLER_CONFIG_CLOCK_MIN,
	    CONTROLLER_CONFIG_CLOCK_MAX, "1s"),
	DUR("reconnect-min", reconnect_min_ms,
	    CONTROLLER_CONFIG_RECONNECT_MIN, CONTROLLER_CONFIG_RECONNECT_MAX,
	    "500ms"),
	DUR("reconnect-max", reconnect_max_ms,
	    CONTROLLER_CONFIG_RECONNECT_MIN, CONTROLLER_CONFIG_RECONNECT_MAX,
	    "5s"),
	DUR("connect-timeout", connect_timeout_ms,
	    CONTROLLER_CONFIG_CONNECT_MIN, CONTROLLER_CONFIG_CONNECT_MAX,
	    "10s"),
	DUR("token-ttl", token_ttl_ms, WIRE_TOKEN_TTL_MIN, WIRE_TOKEN_TTL_MAX,
	    "1d"),
	DUR("flush-interval", flush_interval_ms, CONTROLLER_CONFIG_FLUSH_MIN,
	    CONTROLLER_CONFIG_FLUSH_MAX, "30s"),
	DUR("query-timeout", query_timeout_ms, WIRE_QUERY_TIMEOUT_MIN,
	    WIRE_QUERY_TIMEOUT_MAX, "30s"),
	{ "ping-misses", kw_misses, conf_print_count, "COUNT", 0,
	  F(ping_misses), .min = 1, .max = CONTROLLER_CONFIG_MISSES_MAX,
	  .def = "3" },
	{ "log-level", conf_set_log_level, conf_print_log_level,
	  "warn|info|debug", 0, F(log_level), .def = "info" },
};

/* Checks across keywords, after the last line. */
static int
finish(conf_t *cf, void *obj)
{
	const struct controller_config *c = obj;
	int lmin = conf_seen(cf, "reconnect-min");
	int lmax = conf_seen(cf, "reconnect-max");

	/* report it on whichever of the two lines came last */
	if (c->reconnect_max_ms < c->reconnect_min_ms)
		return conf_err_at(cf, FF_MAX(lmin, lmax), "reconnect-max is "
		    "shorter than reconnect-min");
	return 0;
}

/*
 * controller_config_syntax; controller_config_parse(), _load(), _free(),
 * _print() (config.h)
 */
CONF_API(controller_config, struct controller_config, keywords,
    CONTROLLER_CONFIG_MAX_SIZE, finish, NULL)
