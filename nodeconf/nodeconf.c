/*
 * Configuration of flowfleet-node: the keyword table, the defaults and
 * the checks across keywords, over the language of common/conf.c. See
 * nodeconf.h and the commented example deploy/flowfleet-node.conf.
 *
 * A new keyword is one line in the table (with a generic handler of
 * common/conf.h when one fits) and its field in struct node_config. The
 * table's order is the order of the normalized print. CONF_LOCAL marks
 * what the node keeps to itself: a controller pushing configuration
 * text must not set it (config_check_pushable()).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/util.h"
#include "wire/wire.h"
#include "nodeconf/nodeconf.h"

/* The control socket STATE_DIR/node.sock must fit in sun_path. */
#define SOCK_NAME	"/node.sock"
#define MAX_STATE_DIR	(sizeof(((struct sockaddr_un *)0)->sun_path) - \
			    sizeof(SOCK_NAME))

const char *
config_proto_name(int proto)
{
	switch (proto) {
	case CONFIG_PROTO_NETFLOW:
		return "netflow";
	case CONFIG_PROTO_SFLOW:
		return "sflow";
	}
	return "any";
}

static int
add_listen(struct node_config *c, const struct config_listen *l)
{
	struct config_listen *n;

	if (c->nlisten >= CONFIG_MAX_LISTEN)
		return FF_ELIMIT;
	n = realloc(c->listen, (c->nlisten + 1) * sizeof(*n));
	if (n == NULL)
		return FF_ENOMEM;
	c->listen = n;
	c->listen[c->nlisten++] = *l;
	return 0;
}

/* --- keyword handlers --------------------------------------------------- */

static int
kw_state_dir(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	if (av[0][0] == '/' && strlen(av[0]) > k->max)
		return conf_err(cf, "state-dir is too long: the control socket "
		    "path STATE_DIR%s must fit in %zu bytes", SOCK_NAME,
		    MAX_STATE_DIR + sizeof(SOCK_NAME) - 1);
	return conf_set_path(cf, k, obj, av, ac);
}

static int
kw_listen(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	struct node_config *c = obj;
	struct config_listen l;
	const char *addr, *why;
	int proto = CONFIG_PROTO_ANY, rc;

	(void)k;
	if (ac == 2) {
		if (strcmp(av[0], "netflow") == 0)
			proto = CONFIG_PROTO_NETFLOW;
		else if (strcmp(av[0], "sflow") == 0)
			proto = CONFIG_PROTO_SFLOW;
		else if (strcmp(av[0], "any") != 0)
			return conf_err(cf, "listen: unknown label '%s' "
			    "(netflow, sflow or any)", av[0]);
		addr = av[1];
	} else if (ac == 1)
		addr = av[0];
	else
		return conf_err(cf, "listen takes [netflow|sflow|any] "
		    "ADDRESS:PORT");
	memset(&l, 0, sizeof(l));
	if (conf_addr_parse(addr, &l.ss, &l.sslen, &why) != 0)
		return conf_err(cf, "listen: '%s': %s", addr, why);
	l.proto = proto;
	l.line = conf_line(cf);
	for (size_t i = 0; i < c->nlisten; i++)
		if (conf_addr_same(&c->listen[i].ss, &l.ss))
			return conf_err(cf, "listen: %s is already listed on "
			    "line %d", addr, c->listen[i].line);
	if ((rc = add_listen(c, &l)) == FF_ELIMIT)
		return conf_err(cf, "listen: more than %d listen addresses",
		    CONFIG_MAX_LISTEN);
	return rc;
}

static void
print_listen(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct node_config *c = obj;
	char b[CONF_ADDR_STRLEN];

	if (c->listen_default)
		fputs("# no listen line: the default listeners\n", fp);
	for (size_t i = 0; i < c->nlisten; i++)
		fprintf(fp, "%s %s %s\n", k->name,
		    config_proto_name(c->listen[i].proto),
		    conf_addr_fmt(&c->listen[i].ss, b, sizeof(b)));
}

/* control-listen, query-listen: a struct config_listen at k->off */
static int
kw_tcp_listen(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct config_listen *l = (void *)((char *)obj + k->off);
	const char *why;

	(void)ac;
	memset(l, 0, sizeof(*l));
	if (conf_addr_parse(av[0], &l->ss, &l->sslen, &why) != 0)
		return conf_err(cf, "%s: '%s': %s", k->name, av[0], why);
	l->line = conf_line(cf);
	return 0;
}

static void
print_tcp_listen(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct config_listen *l =
	    (const void *)((const char *)obj + k->off);
	char b[CONF_ADDR_STRLEN];

	fprintf(fp, "%s %s\n", k->name, conf_addr_fmt(&l->ss, b, sizeof(b)));
}

/*
 * Parse one exporter-allow prefix "ADDRESS[/LEN]" (IPv4 or IPv6; no
 * length: one address) into *p. Returns 0 or FF_ESYNTAX after conf_err().
 */
static int
parse_prefix(conf_t *cf, const char *word, struct config_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned max, off;
	uint64_t len;

	if (strlen(word) >= sizeof(buf))
		return conf_err(cf, "exporter-allow: '%.60s...' is not an "
		    "address or prefix", word);
	snprintf(buf, sizeof(buf), "%s", word);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	memset(p, 0, sizeof(*p));
	if (addr_parse(buf, p->addr) != 0)
		return conf_err(cf, "exporter-allow: '%s' is not an IPv4 or "
		    "IPv6 address or prefix (like 192.0.2.0/24 or "
		    "2001:db8::/32)", word);
	/* IPv4 written as such: its length counts from bit 96 */
	off = strchr(buf, ':') == NULL ? 96 : 0;
	max = 128 - off;
	len = max;
	if (slash != NULL && conf_uint(slash + 1, 0, max, &len) != 0)
		return conf_err(cf, "exporter-allow: '%s': the prefix length "
		    "must be a number from 0 to %u", word, max);
	p->len = off + (unsigned)len;
	for (unsigned i = p->len; i < 128; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			char fix[INET6_ADDRSTRLEN];

			for (; i < 128; i++)
				p->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
			return conf_err(cf, "exporter-allow: '%s' has bits set "
			    "past its prefix length (did you mean %s/%u?)",
			    word, addr_fmt(p->addr, fix, sizeof(fix)),
			    (unsigned)len);
		}
	p->line = conf_line(cf);
	return 0;
}

static int
kw_exporter_allow(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct node_config *c = obj;
	struct config_prefix p, *n;
	int rc;

	(void)k;
	for (int i = 0; i < ac; i++) {
		if ((rc = parse_prefix(cf, av[i], &p)) != 0)
			return rc;
		if (c->nallow >= CONFIG_MAX_ALLOW)
			return conf_err(cf, "exporter-allow: more than %d "
			    "prefixes", CONFIG_MAX_ALLOW);
		if ((n = realloc(c->allow, (c->nallow + 1) *
		    sizeof(*n))) == NULL)
			return FF_ENOMEM;
		c->allow = n;
		c->allow[c->nallow++] = p;
	}
	return 0;
}

static void
print_exporter_allow(FILE *fp, const struct conf_keyword *k,
    const void *obj)
{
	const struct node_config *c = obj;
	char b[INET6_ADDRSTRLEN];

	if (c->nallow == 0)
		fputs("# no exporter-allow line: datagrams from every address "
		    "are decoded\n", fp);
	for (size_t i = 0; i < c->nallow; i++) {
		const struct config_prefix *p = &c->allow[i];
		int v4 = addr_is_v4(p->addr) && p->len >= 96;

		fprintf(fp, "%s %s/%u\n", k->name,
		    v4 ? addr_fmt(p->addr, b, sizeof(b)) :
		    inet_ntop(AF_INET6, p->addr, b, sizeof(b)),
		    v4 ? p->len - 96 : p->len);
	}
}

static int
kw_controller_fp(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct node_config *c = obj;
	char fp[WIRE_FP_LEN];

	(void)k;
	(void)ac;
	if (wire_fp_parse(av[0], fp) != 0)
		return conf_err(cf, "controller-fingerprint: '%.80s' is not a "
		    "key fingerprint (sha256: and 64 hex digits, as "
		    "'flowfleet-controller fingerprint' prints it)", av[0]);
	free(c->controller_fp);
	if ((c->controller_fp = strdup(fp)) == NULL)
		return FF_ENOMEM;
	return 0;
}

static int
kw_join_token(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct node_config *c = obj;
	char fp[WIRE_FP_LEN], secret[WIRE_TOKEN_SECRET_LEN + 1];
	int rc;

	(void)k;
	(void)ac;
	rc = wire_token_parse(av[0], fp, secret);
	memset(secret, 0, sizeof(secret));
	if (rc != 0)
		return conf_err(cf, "join-token: not a join token (ffj1. and "
		    "108 more characters, as 'flowfleet nodes add' prints "
		    "it)");
	free(c->join_token);
	if ((c->join_token = strdup(av[0])) == NULL)
		return FF_ENOMEM;
	return 0;
}

static int
kw_store_queue(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct node_config *c = obj;
	uint64_t v;

	(void)ac;
	if (strlen(av[0]) > 5 || conf_uint(av[0], k->min, k->max, &v) != 0)
		return conf_err(cf, "store-queue: '%s' is not a number of "
		    "batches from 1 to %d", av[0], CONFIG_MAX_STORE_QUEUE);
	c->store_queue = (unsigned)v;
	return 0;
}

static int
kw_query_max_time(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	struct node_config *c = obj;
	uint64_t v;

	(void)ac;
	if (parse_duration_ms(av[0], &v) != 0 || v < k->min || v > k->max)
		return conf_err(cf, "query-max-time: '%s' is not a duration "
		    "from 100ms to 24h", av[0]);
	c->query_max_ms = v;
	return 0;
}

static int
kw_query_max_result(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	const struct node_config *c = obj;
	int rc = conf_set_size(cf, k, obj, av, ac);

	if (rc == 0 && c->query_max_result > 512u << 20)
		return conf_err(cf, "query-max-result: at most 512M (what the "
		    "controller accepts of one node)");
	return rc;
}

/* --- the keyword table -------------------------------------------------- */

#define F(field)	CONF_FIELD(struct node_config, field)
#define HINT(units)	"a number with an optional " units " suffix"

static const struct conf_keyword keywords[] = {
	{ "state-dir", kw_state_dir, conf_print_str, "PATH",
	  CONF_STR | CONF_LOCAL, F(state_dir), .max = MAX_STATE_DIR,
	  .def = CONFIG_DEFAULT_STATE },
	{ "rcvbuf", conf_set_size, conf_print_size, "SIZE", 0, F(rcvbuf),
	  .min = CONFIG_MIN_RCVBUF, .max = CONFIG_MAX_RCVBUF,
	  .hint = HINT("K, M or G"), .def = "32M" },
	{ "hold-unknown", conf_set_bool, conf_print_bool, "yes|no", 0,
	  F(hold_unknown), .def = "yes" },
	{ "hold-time", conf_set_duration, conf_print_duration, "DURATION", 0,
	  F(hold_time_ms), .min = CONFIG_MIN_HOLD_MS,
	  .max = CONFIG_MAX_HOLD_MS, .hint = HINT("ms, s, m or h"),
	  .def = "30s" },
	/* DECODER_TPL_MAX_BYTES (node/decode/decode.h) */
	{ "template-memory", conf_set_size, conf_print_size, "SIZE", 0,
	  F(template_memory), .min = CONFIG_MIN_TPL_MEMORY,
	  .max = CONFIG_MAX_TPL_MEMORY, .hint = HINT("K, M or G"),
	  .def = "64M" },
	/* control plane (node/control.c) */
	{ "name", conf_set_name, conf_print_str, "NAME",
	  CONF_STR | CONF_LOCAL, F(name), .max = CONFIG_MAX_NAME },
	{ "control-listen", kw_tcp_listen, print_tcp_listen, "ADDRESS:PORT",
	  CONF_LOCAL, F(control_listen), .def = "0.0.0.0:2210" },
	{ "query-listen", kw_tcp_listen, print_tcp_listen, "ADDRESS:PORT",
	  CONF_LOCAL, F(query_listen), .def = "0.0.0.0:4210" },
	{ "controller-fingerprint", kw_controller_fp, conf_print_str,
	  "FINGERPRINT", CONF_STR | CONF_LOCAL, F(controller_fp) },
	{ "join-token", kw_join_token, conf_print_str, "TOKEN",
	  CONF_STR | CONF_SECRET | CONF_LOCAL, F(join_token) },
	/* flow store (node/writer.c) */
	{ "retention-age", conf_set_duration, conf_print_duration,
	  "DURATION|none", 0, F(retention_age_ms),
	  .min = CONFIG_MIN_RETENTION_AGE_MS,
	  .max = CONFIG_MAX_RETENTION_AGE_MS, .word = "none",
	  .hint = HINT("s, m, h, d or w"), .def = "30d" },
	{ "retention-size", conf_set_size, conf_print_size, "SIZE|none", 0,
	  F(retention_size), .min = CONFIG_MIN_STORE_SIZE,
	  .max = CONFIG_MAX_STORE_SIZE, .word = "none",
	  .hint = HINT("K, M, G or T"), .def = "16G" },
	{ "store-map-size", conf_set_size, conf_print_size, "SIZE|auto", 0,
	  F(store_map_size), .min = CONFIG_MIN_STORE_SIZE,
	  .max = CONFIG_MAX_STORE_SIZE, .word = "auto",
	  .hint = HINT("K, M, G or T"), .def = "auto" },
	{ "store-sync", conf_set_bool, conf_print_bool, "yes|no", 0,
	  F(store_sync), .def = "yes" },
	/* 256 batches: ~1M flows, ~140 MiB at most */
	{ "store-queue", kw_store_queue, conf_print_count, "BATCHES", 0,
	  F(store_queue), .min = 1, .max = CONFIG_MAX_STORE_QUEUE,
	  .def = "256" },
	/* queries from the controller (node/qengine.c) */
	{ "query-max-running", conf_set_count, conf_print_count, "COUNT", 0,
	  F(query_max_running), .min = 1, .max = CONFIG_MAX_QUERY_RUNNING,
	  .def = "4" },
	{ "query-max-queued", conf_set_count, conf_print_count,
	  "COUNT|none", 0, F(query_max_queued), .min = 1,
	  .max = CONFIG_MAX_QUERY_QUEUED, .word = "none", .def = "64" },
	{ "query-threads", conf_set_count, conf_print_count, "COUNT|auto", 0,
	  F(query_threads), .min = 1, .max = CONFIG_MAX_QUERY_THREADS,
	  .word = "auto", .def = "auto" },
	{ "query-max-time", kw_query_max_time, conf_print_duration,
	  "DURATION", 0, F(query_max_ms), .min = 100,
	  .max = 24ull * 3600000, .def = "10m" },
	{ "query-max-mem", conf_set_size, conf_print_size, "SIZE", 0,
	  F(query_max_mem), .min = 1u << 20, .max = 1ull << 40,
	  .def = "1G" },
	{ "query-max-rows", conf_set_count, conf_print_count, "COUNT", 0,
	  F(query_max_rows), .min = 1000, .max = 1000000000000ull,
	  .def = "20000000" },
	{ "query-max-result", kw_query_max_result, conf_print_size, "SIZE", 0,
	  F(query_max_result), .min = 1u << 20, .max = 1ull << 40,
	  .def = "256M" },
	{ "log-level", conf_set_log_level, conf_print_log_level,
	  "warn|info|debug", 0, F(log_level), .def = "info" },
	/* exporters (node/decode/exporter.c, node/listener.c) */
	{ "exporter-idle-time", conf_set_duration, conf_print_duration,
	  "DURATION|none", 0, F(exporter_idle_ms),
	  .min = CONFIG_MIN_EXPORTER_IDLE_MS,
	  .max = CONFIG_MAX_EXPORTER_IDLE_MS, .word = "none",
	  .hint = HINT("s, m, h or d"), .def = "1h" },
	{ "exporter-max-per-source", conf_set_count, conf_print_count,
	  "COUNT", 0, F(exporter_max_per_source), .min = 1,
	  .max = CONFIG_MAX_EXPORTERS_PER_SOURCE, .def = "1024" },
	{ "exporter-allow", kw_exporter_allow, print_exporter_allow,
	  "PREFIX...", CONF_MANY | CONF_ARGS, F(allow) },
	/* listeners last: the print ends with them */
	{ "listen", kw_listen, print_listen,
	  "[netflow|sflow|any] ADDRESS:PORT", CONF_MANY | CONF_ARGS,
	  F(listen) },
};

/* --- defaults and checks across keywords -------------------------------- */

static int
add_default_listeners(struct node_config *c)
{
	static const struct {
		uint16_t port;
		int proto;
	} def[] = {
		{ 2055, CONFIG_PROTO_NETFLOW },
		{ 3000, CONFIG_PROTO_NETFLOW },
		{ 9996, CONFIG_PROTO_NETFLOW },
		{ 6343, CONFIG_PROTO_SFLOW },
	};
	struct config_listen l;
	int rc;

	for (size_t i = 0; i < FF_NELEM(def); i++) {
		struct sockaddr_in *sin;
		struct sockaddr_in6 *sin6;

		memset(&l, 0, sizeof(l));
		sin = (struct sockaddr_in *)&l.ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(def[i].port);
		l.sslen = sizeof(*sin);
		l.proto = def[i].proto;
		if ((rc = add_listen(c, &l)) != 0)
			return rc;
		memset(&l, 0, sizeof(l));
		sin6 = (struct sockaddr_in6 *)&l.ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(def[i].port);
		l.sslen = sizeof(*sin6);
		l.proto = def[i].proto;
		if ((rc = add_listen(c, &l)) != 0)
			return rc;
	}
	return 0;
}

/* Checks across the control plane keywords. */
static int
check_control(conf_t *cf, struct node_config *c)
{
	char fp[WIRE_FP_LEN], secret[WIRE_TOKEN_SECRET_LEN + 1];

	if (conf_addr_same(&c->control_listen.ss, &c->query_listen.ss))
		return conf_err_at(cf, c->query_listen.line ?
		    c->query_listen.line : c->control_listen.line,
		    "query-listen and control-listen are the same address");
	if (c->join_token != NULL && c->controller_fp != NULL) {
		int same;

		if (wire_token_parse(c->join_token, fp, secret) != 0)
			return conf_err_at(cf, conf_seen(cf, "join-token"),
			    "join-token: not a join token");
		memset(secret, 0, sizeof(secret));
		same = strcmp(fp, c->controller_fp) == 0;
		if (!same)
			return conf_err_at(cf, conf_seen(cf, "join-token"),
			    "join-token names controller key %s, but "
			    "controller-fingerprint (line %d) says %s", fp,
			    conf_seen(cf, "controller-fingerprint"),
			    c->controller_fp);
	}
	return 0;
}

/* Checks across the store keywords. */
static int
check_store(conf_t *cf, const struct node_config *c)
{
	int line = conf_seen(cf, "retention-size");

	if (c->store_map_size != 0 && c->retention_size != 0 &&
	    c->retention_size >= c->store_map_size) {
		if (conf_seen(cf, "store-map-size") > line)
			line = conf_seen(cf, "store-map-size");
		return conf_err_at(cf, line, "retention-size must be smaller "
		    "than store-map-size (leave room: the store needs some "
		    "free pages to delete old blocks; 'store-map-size auto' "
		    "leaves a quarter more)");
	}
	return 0;
}

/* Note the first keyword of the host's own (CONF_LOCAL) in the text. */
static void
find_local(conf_t *cf, struct node_config *c)
{
	c->local_keyword = NULL;
	c->local_line = 0;
	for (size_t i = 0; i < FF_NELEM(keywords); i++) {
		int line;

		if (!(keywords[i].flags & CONF_LOCAL))
			continue;
		line = conf_seen(cf, keywords[i].name);
		if (line > 0 && (c->local_line == 0 || line < c->local_line)) {
			c->local_keyword = keywords[i].name;
			c->local_line = line;
		}
	}
}

static int
finish(conf_t *cf, void *obj)
{
	struct node_config *c = obj;
	int rc;

	find_local(cf, c);
	if ((rc = check_control(cf, c)) != 0 || (rc = check_store(cf, c)) != 0)
		return rc;
	if (c->nlisten == 0) {
		c->listen_default = 1;
		return add_default_listeners(c);
	}
	return 0;
}

/* --- the configuration -------------------------------------------------- */

static void
cleanup(void *obj)
{
	struct node_config *c = obj;

	free(c->listen);
	free(c->allow);
}

int
config_check_pushable(const struct node_config *c, char *err, size_t errlen)
{
	if (c->local_keyword == NULL)
		return 0;
	if (errlen > 0)
		snprintf(err, errlen, "%s:%d: '%s' is set on the node itself "
		    "and cannot be pushed by the controller",
		    c->file != NULL ? c->file : "(config)", c->local_line,
		    c->local_keyword);
	return FF_EINVAL;
}

int
config_check_push_text(const char *fname, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct node_config *c;
	int rc;

	if ((rc = config_parse(fname, buf, len, &c, err, errlen)) != 0)
		return rc;
	rc = config_check_pushable(c, err, errlen);
	config_free(c);
	return rc;
}

int
config_keyword_local(const char *name)
{
	for (size_t i = 0; i < FF_NELEM(keywords); i++)
		if (strcmp(keywords[i].name, name) == 0)
			return (keywords[i].flags & CONF_LOCAL) != 0;
	return -1;
}

/* config_syntax; config_parse(), _load(), _free(), _print() (nodeconf.h) */
CONF_API(config, struct node_config, keywords, CONFIG_MAX_SIZE, finish,
    cleanup)
