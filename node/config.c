/*
 * Configuration parser for flowfleet-node. See config.h and the commented
 * example deploy/flowfleet-node.conf for the syntax.
 *
 * A line is split into words at blanks; a word may be double-quoted (with
 * \" and \\ escapes) to hold blanks or '#'. The first word is the keyword;
 * each keyword has a handler in the table below, which is where later
 * keywords go.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "wire/wire.h"
#include "config.h"

#define MAX_WORDS	8

/* The control socket STATE_DIR/node.sock must fit in sun_path. */
#define SOCK_NAME	"/node.sock"
#define MAX_STATE_DIR	(sizeof(((struct sockaddr_un *)0)->sun_path) - \
			    sizeof(SOCK_NAME))

struct parse {
	const char *fname;
	int line;
	struct node_config *c;
	char *err;
	size_t errlen;
	/* line of the first occurrence of each single-use keyword */
	int seen[32];
};

struct keyword {
	const char *name;
	int (*fn)(struct parse *p, char **av, int ac);
	int once;		/* may appear only once */
	const char *usage;
};

static int perr(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->fname, p->line, msg);
	return FF_ESYNTAX;
}

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

char *
config_addr_fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "?");
	return buf;
}

/* Parse a decimal port 1..65535. */
static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * Parse "1.2.3.4:PORT" or "[v6]:PORT" into l. Returns 0, or -1 with a
 * reason in why.
 */
static int
parse_listen_addr(const char *s, struct config_listen *l, const char **why)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *colon, *port;
	uint16_t pnum;
	size_t hlen;

	memset(l, 0, sizeof(*l));
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			*why = "missing ']' after an IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*why = "missing port (write [ADDRESS]:PORT)";
			return -1;
		}
		hlen = (size_t)(close - (s + 1));
		port = close + 2;
		if (hlen == 0 || hlen >= sizeof(host)) {
			*why = "bad IPv6 address";
			return -1;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (strchr(host, '%') != NULL) {
			*why = "scoped (zone) IPv6 addresses are not supported";
			return -1;
		}
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "bad IPv6 address";
			return -1;
		}
		if (parse_port(port, &pnum) != 0) {
			*why = "bad port (1 to 65535)";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(pnum);
		l->sslen = sizeof(*sin6);
		return 0;
	}
	if ((colon = strchr(s, ':')) == NULL) {
		*why = "missing port (write ADDRESS:PORT)";
		return -1;
	}
	if (strchr(colon + 1, ':') != NULL) {
		*why = "IPv6 addresses go in brackets: [ADDRESS]:PORT";
		return -1;
	}
	hlen = (size_t)(colon - s);
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "bad IPv4 address";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		*why = "bad IPv4 address";
		return -1;
	}
	if (parse_port(colon + 1, &pnum) != 0) {
		*why = "bad port (1 to 65535)";
		return -1;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(pnum);
	l->sslen = sizeof(*sin);
	return 0;
}

static int
same_addr(const struct config_listen *a, const struct config_listen *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;

	return x->sin6_port == y->sin6_port &&
	    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
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

/* --- keyword handlers -------------------------------------------------- */

static int
kw_state_dir(struct parse *p, char **av, int ac)
{
	char *s;

	if (ac != 1)
		return perr(p, "state-dir takes one argument: PATH");
	if (av[0][0] != '/')
		return perr(p, "state-dir must be an absolute path, not '%s'",
		    av[0]);
	if (strlen(av[0]) > MAX_STATE_DIR)
		return perr(p, "state-dir is too long: the control socket "
		    "path STATE_DIR%s must fit in %zu bytes", SOCK_NAME,
		    MAX_STATE_DIR + sizeof(SOCK_NAME) - 1);
	if ((s = strdup(av[0])) == NULL)
		return FF_ENOMEM;
	/* Drop trailing slashes, keeping "/" itself. */
	for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
		s[n - 1] = '\0';
	free(p->c->state_dir);
	p->c->state_dir = s;
	return 0;
}

static int
kw_listen(struct parse *p, char **av, int ac)
{
	struct config_listen l;
	const char *addr, *why;
	int proto = CONFIG_PROTO_ANY, rc;

	if (ac == 2) {
		if (strcmp(av[0], "netflow") == 0)
			proto = CONFIG_PROTO_NETFLOW;
		else if (strcmp(av[0], "sflow") == 0)
			proto = CONFIG_PROTO_SFLOW;
		else if (strcmp(av[0], "any") != 0)
			return perr(p, "listen: unknown label '%s' (netflow, "
			    "sflow or any)", av[0]);
		addr = av[1];
	} else if (ac == 1)
		addr = av[0];
	else
		return perr(p, "listen takes [netflow|sflow|any] "
		    "ADDRESS:PORT");
	if (parse_listen_addr(addr, &l, &why) != 0)
		return perr(p, "listen: '%s': %s", addr, why);
	l.proto = proto;
	l.line = p->line;
	for (size_t i = 0; i < p->c->nlisten; i++)
		if (same_addr(&p->c->listen[i], &l))
			return perr(p, "listen: %s is already listed on line "
			    "%d", addr, p->c->listen[i].line);
	if ((rc = add_listen(p->c, &l)) == FF_ELIMIT)
		return perr(p, "listen: more than %d listen addresses",
		    CONFIG_MAX_LISTEN);
	return rc;
}

static int
kw_rcvbuf(struct parse *p, char **av, int ac)
{
	uint64_t v;

	if (ac != 1)
		return perr(p, "rcvbuf takes one argument: SIZE");
	if (parse_size(av[0], &v) != 0)
		return perr(p, "rcvbuf: bad size '%s' (a number with an "
		    "optional K, M or G suffix)", av[0]);
	if (v < CONFIG_MIN_RCVBUF || v > CONFIG_MAX_RCVBUF)
		return perr(p, "rcvbuf: %s is out of range (4K to 1G)",
		    av[0]);
	p->c->rcvbuf = v;
	return 0;
}

static int
kw_hold_unknown(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "hold-unknown takes one argument: yes or no");
	if (strcmp(av[0], "yes") == 0)
		p->c->hold_unknown = 1;
	else if (strcmp(av[0], "no") == 0)
		p->c->hold_unknown = 0;
	else
		return perr(p, "hold-unknown: expected yes or no, not '%s'",
		    av[0]);
	return 0;
}

static int
kw_hold_time(struct parse *p, char **av, int ac)
{
	uint64_t v;

	if (ac != 1)
		return perr(p, "hold-time takes one argument: DURATION");
	if (parse_duration_ms(av[0], &v) != 0)
		return perr(p, "hold-time: bad duration '%s' (a number with "
		    "an optional ms, s, m or h suffix)", av[0]);
	if (v < CONFIG_MIN_HOLD_MS || v > CONFIG_MAX_HOLD_MS)
		return perr(p, "hold-time: %s is out of range (100ms to 1h)",
		    av[0]);
	p->c->hold_time_ms = v;
	return 0;
}

static int
kw_log_level(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "log-level takes one argument: warn, info or "
		    "debug");
	if (strcmp(av[0], "warn") == 0)
		p->c->log_level = LOG_LVL_WARN;
	else if (strcmp(av[0], "info") == 0)
		p->c->log_level = LOG_LVL_INFO;
	else if (strcmp(av[0], "debug") == 0)
		p->c->log_level = LOG_LVL_DEBUG;
	else
		return perr(p, "log-level: expected warn, info or debug, not "
		    "'%s'", av[0]);
	return 0;
}

/* --- control plane keywords (node/control.c) ---------------------------- */

static int
kw_name(struct parse *p, char **av, int ac)
{
	const char *s = av[0];
	size_t n = strlen(s);

	if (ac != 1)
		return perr(p, "name takes one argument: NAME");
	if (n == 0 || n > CONFIG_MAX_NAME ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != n || s[0] == '.' || s[0] == '-')
		return perr(p, "name: '%.64s' is not a valid name (1 to %d "
		    "letters, digits, '.', '_' or '-', not starting with '.' "
		    "or '-')", s, CONFIG_MAX_NAME);
	free(p->c->name);
	if ((p->c->name = strdup(s)) == NULL)
		return FF_ENOMEM;
	return 0;
}

static int
kw_tcp_listen(struct parse *p, char **av, int ac, const char *kw,
    struct config_listen *l)
{
	const char *why;

	if (ac != 1)
		return perr(p, "%s takes one argument: ADDRESS:PORT", kw);
	if (parse_listen_addr(av[0], l, &why) != 0)
		return perr(p, "%s: '%s': %s", kw, av[0], why);
	l->line = p->line;
	return 0;
}

static int
kw_control_listen(struct parse *p, char **av, int ac)
{
	return kw_tcp_listen(p, av, ac, "control-listen",
	    &p->c->control_listen);
}

static int
kw_query_listen(struct parse *p, char **av, int ac)
{
	return kw_tcp_listen(p, av, ac, "query-listen", &p->c->query_listen);
}

static int
kw_controller_fp(struct parse *p, char **av, int ac)
{
	char fp[WIRE_FP_LEN];

	if (ac != 1)
		return perr(p, "controller-fingerprint takes one argument: "
		    "FINGERPRINT");
	if (wire_fp_parse(av[0], fp) != 0)
		return perr(p, "controller-fingerprint: '%.80s' is not a key "
		    "fingerprint (sha256: and 64 hex digits, as "
		    "'flowfleet-controller fingerprint' prints it)", av[0]);
	free(p->c->controller_fp);
	if ((p->c->controller_fp = strdup(fp)) == NULL)
		return FF_ENOMEM;
	return 0;
}

static int
kw_join_token(struct parse *p, char **av, int ac)
{
	char fp[WIRE_FP_LEN], secret[WIRE_TOKEN_SECRET_LEN + 1];
	int rc;

	if (ac != 1)
		return perr(p, "join-token takes one argument: TOKEN");
	rc = wire_token_parse(av[0], fp, secret);
	memset(secret, 0, sizeof(secret));
	if (rc != 0)
		return perr(p, "join-token: not a join token (ffj1. and 108 "
		    "more characters, as 'flowfleet nodes add' prints it)");
	free(p->c->join_token);
	if ((p->c->join_token = strdup(av[0])) == NULL)
		return FF_ENOMEM;
	return 0;
}

/* --- flow store keywords (node/writer.c) -------------------------------- */

static int
kw_retention_age(struct parse *p, char **av, int ac)
{
	uint64_t v;

	if (ac != 1)
		return perr(p, "retention-age takes one argument: DURATION or "
		    "none");
	if (strcmp(av[0], "none") == 0) {
		p->c->retention_age_ms = 0;
		return 0;
	}
	if (parse_duration_ms(av[0], &v) != 0)
		return perr(p, "retention-age: bad duration '%s' (a number "
		    "with an optional s, m, h, d or w suffix, or none)", av[0]);
	if (v < CONFIG_MIN_RETENTION_AGE_MS || v > CONFIG_MAX_RETENTION_AGE_MS)
		return perr(p, "retention-age: %s is out of range (1m to "
		    "3660d, or none)", av[0]);
	p->c->retention_age_ms = v;
	return 0;
}

static int
parse_store_size(struct parse *p, const char *kw, const char *s,
    const char *word, uint64_t *out)
{
	uint64_t v;

	if (strcmp(s, word) == 0) {
		*out = 0;
		return 0;
	}
	if (parse_size(s, &v) != 0)
		return perr(p, "%s: bad size '%s' (a number with an optional "
		    "K, M, G or T suffix, or %s)", kw, s, word);
	if (v < CONFIG_MIN_STORE_SIZE || v > CONFIG_MAX_STORE_SIZE)
		return perr(p, "%s: %s is out of range (1M to 64T, or %s)", kw,
		    s, word);
	*out = v;
	return 0;
}

static int
kw_retention_size(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "retention-size takes one argument: SIZE or "
		    "none");
	return parse_store_size(p, "retention-size", av[0], "none",
	    &p->c->retention_size);
}

static int
kw_store_map_size(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "store-map-size takes one argument: SIZE or "
		    "auto");
	return parse_store_size(p, "store-map-size", av[0], "auto",
	    &p->c->store_map_size);
}

static int
kw_store_sync(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "store-sync takes one argument: yes or no");
	if (strcmp(av[0], "yes") == 0)
		p->c->store_sync = 1;
	else if (strcmp(av[0], "no") == 0)
		p->c->store_sync = 0;
	else
		return perr(p, "store-sync: expected yes or no, not '%s'",
		    av[0]);
	return 0;
}

static int
kw_store_queue(struct parse *p, char **av, int ac)
{
	unsigned long v = 0;
	const char *s = av[0];

	if (ac != 1)
		return perr(p, "store-queue takes one argument: BATCHES");
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 5 || (v = strtoul(s, NULL, 10)) < 1 ||
	    v > CONFIG_MAX_STORE_QUEUE)
		return perr(p, "store-queue: '%s' is not a number of batches "
		    "from 1 to %d", s, CONFIG_MAX_STORE_QUEUE);
	p->c->store_queue = (unsigned)v;
	return 0;
}

/* --- query keywords (node/qengine.c) ------------------------------------ */

/* A decimal count in [lo, hi], or FF_ESYNTAX with a message. */
static int
parse_count(struct parse *p, const char *kw, const char *s, uint64_t lo,
    uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 19 || (v = strtoull(s, NULL, 10)) < lo || v > hi)
		return perr(p, "%s: '%s' is not a number from %" PRIu64 " to %"
		    PRIu64, kw, s, lo, hi);
	*out = v;
	return 0;
}

static int
kw_query_max_running(struct parse *p, char **av, int ac)
{
	uint64_t v;
	int rc;

	if (ac != 1)
		return perr(p, "query-max-running takes one argument: COUNT");
	if ((rc = parse_count(p, "query-max-running", av[0], 1,
	    CONFIG_MAX_QUERY_RUNNING, &v)) != 0)
		return rc;
	p->c->query_max_running = (unsigned)v;
	return 0;
}

static int
kw_query_threads(struct parse *p, char **av, int ac)
{
	uint64_t v;
	int rc;

	if (ac != 1)
		return perr(p, "query-threads takes one argument: COUNT or "
		    "auto");
	if (strcmp(av[0], "auto") == 0) {
		p->c->query_threads = 0;
		return 0;
	}
	if ((rc = parse_count(p, "query-threads", av[0], 1,
	    CONFIG_MAX_QUERY_THREADS, &v)) != 0)
		return rc;
	p->c->query_threads = (unsigned)v;
	return 0;
}

static int
kw_query_max_time(struct parse *p, char **av, int ac)
{
	uint64_t v;

	if (ac != 1)
		return perr(p, "query-max-time takes one argument: DURATION");
	if (parse_duration_ms(av[0], &v) != 0 || v < 100 ||
	    v > 24ull * 3600000)
		return perr(p, "query-max-time: '%s' is not a duration from "
		    "100ms to 24h", av[0]);
	p->c->query_max_ms = v;
	return 0;
}

static int
kw_query_size(struct parse *p, const char *kw, char **av, int ac,
    uint64_t *out)
{
	uint64_t v;

	if (ac != 1)
		return perr(p, "%s takes one argument: SIZE", kw);
	if (parse_size(av[0], &v) != 0 || v < (1u << 20) ||
	    v > (1ull << 40))
		return perr(p, "%s: '%s' is not a size from 1M to 1T", kw,
		    av[0]);
	*out = v;
	return 0;
}

static int
kw_query_max_mem(struct parse *p, char **av, int ac)
{
	return kw_query_size(p, "query-max-mem", av, ac,
	    &p->c->query_max_mem);
}

static int
kw_query_max_result(struct parse *p, char **av, int ac)
{
	int rc = kw_query_size(p, "query-max-result", av, ac,
	    &p->c->query_max_result);

	if (rc == 0 && p->c->query_max_result > 512u << 20)
		return perr(p, "query-max-result: at most 512M (what the "
		    "controller accepts of one node)");
	return rc;
}

static int
kw_query_max_rows(struct parse *p, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "query-max-rows takes one argument: COUNT");
	return parse_count(p, "query-max-rows", av[0], 1000,
	    1000000000000ull, &p->c->query_max_rows);
}

static const struct keyword keywords[] = {
	{ "state-dir", kw_state_dir, 1, "PATH" },
	{ "listen", kw_listen, 0, "[netflow|sflow|any] ADDRESS:PORT" },
	{ "rcvbuf", kw_rcvbuf, 1, "SIZE" },
	{ "hold-unknown", kw_hold_unknown, 1, "yes|no" },
	{ "hold-time", kw_hold_time, 1, "DURATION" },
	{ "log-level", kw_log_level, 1, "warn|info|debug" },
	{ "name", kw_name, 1, "NAME" },
	{ "control-listen", kw_control_listen, 1, "ADDRESS:PORT" },
	{ "query-listen", kw_query_listen, 1, "ADDRESS:PORT" },
	{ "controller-fingerprint", kw_controller_fp, 1, "FINGERPRINT" },
	{ "join-token", kw_join_token, 1, "TOKEN" },
	{ "retention-age", kw_retention_age, 1, "DURATION|none" },
	{ "retention-size", kw_retention_size, 1, "SIZE|none" },
	{ "store-map-size", kw_store_map_size, 1, "SIZE|auto" },
	{ "store-sync", kw_store_sync, 1, "yes|no" },
	{ "store-queue", kw_store_queue, 1, "BATCHES" },
	{ "query-max-running", kw_query_max_running, 1, "COUNT" },
	{ "query-threads", kw_query_threads, 1, "COUNT|auto" },
	{ "query-max-time", kw_query_max_time, 1, "DURATION" },
	{ "query-max-mem", kw_query_max_mem, 1, "SIZE" },
	{ "query-max-rows", kw_query_max_rows, 1, "COUNT" },
	{ "query-max-result", kw_query_max_result, 1, "SIZE" },
};
_Static_assert(FF_NELEM(keywords) <= FF_NELEM(((struct parse *)0)->seen),
    "struct parse: seen[] is too small for the keyword table");

/* --- lexer ------------------------------------------------------------- */

/*
 * Split line (NUL-terminated, modified in place) into words. Returns the
 * number of words, or -1 after reporting an error.
 */
static int
split_words(struct parse *p, char *line, char **av)
{
	char *s = line, *w;
	int ac = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (ac == MAX_WORDS) {
			perr(p, "too many words on the line (at most %d)",
			    MAX_WORDS);
			return -1;
		}
		if (*s == '"') {
			/* Quoted word: unescape in place. */
			w = ++s;
			av[ac++] = w;
			for (;;) {
				if (*s == '\0') {
					perr(p, "unterminated quoted string");
					return -1;
				}
				if (*s == '"')
					break;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*w++ = *s++;
			}
			s++;
			if (*s != '\0' && *s != ' ' && *s != '\t' &&
			    *s != '#') {
				perr(p, "text right after a closing quote");
				return -1;
			}
			*w = '\0';
			continue;
		}
		av[ac++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#') {
			if (*s == '"') {
				perr(p, "quote in the middle of a word");
				return -1;
			}
			s++;
		}
		if (*s == '#') {
			*s = '\0';
			break;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
	return ac;
}

static int
parse_line(struct parse *p, char *line)
{
	char *av[MAX_WORDS];
	const struct keyword *k = NULL;
	int ac;

	if ((ac = split_words(p, line, av)) < 0)
		return FF_ESYNTAX;
	if (ac == 0)
		return 0;
	for (size_t i = 0; i < FF_NELEM(keywords); i++)
		if (strcmp(av[0], keywords[i].name) == 0) {
			k = &keywords[i];
			if (k->once) {
				if (p->seen[i])
					return perr(p, "%s is already set on "
					    "line %d", k->name, p->seen[i]);
				p->seen[i] = p->line;
			}
			break;
		}
	if (k == NULL)
		return perr(p, "unknown keyword '%.64s'", av[0]);
	if (ac == 1)
		return perr(p, "%s: missing argument (%s %s)", k->name,
		    k->name, k->usage);
	return k->fn(p, av + 1, ac - 1);
}

/* --- defaults, parse, load, free, print --------------------------------- */

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

static void
default_tcp_listen(struct config_listen *l, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

	memset(l, 0, sizeof(*l));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = htons(port);
	l->sslen = sizeof(*sin);
}

/* Line of the first use of a single-use keyword, 0 if absent. */
static int
seen_line(const struct parse *p, const char *kw)
{
	for (size_t i = 0; i < FF_NELEM(keywords); i++)
		if (strcmp(keywords[i].name, kw) == 0)
			return p->seen[i];
	return 0;
}

/* Checks across the control plane keywords, after the last line. */
static int
check_control(struct parse *p)
{
	struct node_config *c = p->c;
	char fp[WIRE_FP_LEN], secret[WIRE_TOKEN_SECRET_LEN + 1];

	if (c->control_listen.line == 0)
		default_tcp_listen(&c->control_listen,
		    CONFIG_DEFAULT_CONTROL_PORT);
	if (c->query_listen.line == 0)
		default_tcp_listen(&c->query_listen,
		    CONFIG_DEFAULT_QUERY_PORT);
	if (same_addr(&c->control_listen, &c->query_listen)) {
		p->line = c->query_listen.line ? c->query_listen.line :
		    c->control_listen.line;
		return perr(p, "query-listen and control-listen are the same "
		    "address");
	}
	if (c->join_token != NULL && c->controller_fp != NULL) {
		int same;

		if (wire_token_parse(c->join_token, fp, secret) != 0) {
			p->line = seen_line(p, "join-token");
			return perr(p, "join-token: not a join token");
		}
		memset(secret, 0, sizeof(secret));
		same = strcmp(fp, c->controller_fp) == 0;
		if (!same) {
			p->line = seen_line(p, "join-token");
			return perr(p, "join-token names controller key %s, "
			    "but controller-fingerprint (line %d) says %s",
			    fp, seen_line(p, "controller-fingerprint"),
			    c->controller_fp);
		}
	}
	return 0;
}

/* Checks across the store keywords, after the last line. */
static int
check_store(struct parse *p)
{
	struct node_config *c = p->c;

	if (c->store_map_size != 0 && c->retention_size != 0 &&
	    c->retention_size >= c->store_map_size) {
		p->line = seen_line(p, "retention-size");
		if (seen_line(p, "store-map-size") > p->line)
			p->line = seen_line(p, "store-map-size");
		return perr(p, "retention-size must be smaller than "
		    "store-map-size (leave room: the store needs some free "
		    "pages to delete old blocks; 'store-map-size auto' leaves "
		    "a quarter more)");
	}
	return 0;
}

void
config_free(struct node_config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->state_dir);
	free(c->listen);
	free(c->name);
	free(c->controller_fp);
	if (c->join_token != NULL) {
		memset(c->join_token, 0, strlen(c->join_token));
		free(c->join_token);
	}
	free(c);
}

int
config_parse(const char *fname, const char *buf, size_t len,
    struct node_config **out, char *err, size_t errlen)
{
	struct parse p;
	struct node_config *c;
	char line[CONFIG_MAX_LINE + 1];
	size_t pos = 0;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.fname = fname ? fname : "(config)";
	p.err = err;
	p.errlen = errlen;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FF_ENOMEM;
	p.c = c;
	c->rcvbuf = CONFIG_DEFAULT_RCVBUF;
	c->hold_unknown = 1;
	c->hold_time_ms = CONFIG_DEFAULT_HOLD_MS;
	c->log_level = LOG_LVL_INFO;
	c->retention_age_ms = CONFIG_DEFAULT_RETENTION_AGE_MS;
	c->retention_size = CONFIG_DEFAULT_RETENTION_SIZE;
	c->store_sync = 1;
	c->store_queue = CONFIG_DEFAULT_STORE_QUEUE;
	c->query_max_running = CONFIG_DEFAULT_QUERY_RUNNING;
	c->query_max_ms = CONFIG_DEFAULT_QUERY_MS;
	c->query_max_mem = CONFIG_DEFAULT_QUERY_MEM;
	c->query_max_rows = CONFIG_DEFAULT_QUERY_ROWS;
	c->query_max_result = CONFIG_DEFAULT_QUERY_RESULT;
	if ((c->file = strdup(p.fname)) == NULL) {
		config_free(c);
		return FF_ENOMEM;
	}
	if (len > CONFIG_MAX_SIZE) {
		p.line = 1;
		config_free(c);
		return perr(&p, "file is larger than %d bytes",
		    CONFIG_MAX_SIZE);
	}
	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t n = end - pos;

		p.line++;
		if (n > 0 && buf[end - 1] == '\r')
			n--;
		if (n > CONFIG_MAX_LINE) {
			rc = perr(&p, "line is longer than %d bytes",
			    CONFIG_MAX_LINE);
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		if (strlen(line) != n) {
			rc = perr(&p, "NUL byte in the line");
			break;
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
			    line[i] == 0x7f)
				rc = perr(&p, "control character 0x%02x in the "
				    "line", (unsigned char)line[i]);
		if (rc != 0)
			break;
		rc = parse_line(&p, line);
		pos = end + 1;
	}
	if (rc == 0)
		rc = check_control(&p);
	if (rc == 0)
		rc = check_store(&p);
	if (rc == 0 && c->state_dir == NULL &&
	    (c->state_dir = strdup(CONFIG_DEFAULT_STATE)) == NULL)
		rc = FF_ENOMEM;
	if (rc == 0 && c->nlisten == 0) {
		c->listen_default = 1;
		rc = add_default_listeners(c);
	}
	if (rc != 0) {
		if (rc == FF_ENOMEM)
			snprintf(err, errlen, "%s: out of memory", p.fname);
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
config_load(const char *path, int missing_ok, struct node_config **out,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && missing_ok)
			return config_parse(path, "", 0, out, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return FF_EIO;
	}
	if (st.st_size > CONFIG_MAX_SIZE) {
		snprintf(err, errlen, "%s: file is larger than %d bytes", path,
		    CONFIG_MAX_SIZE);
		close(fd);
		return FF_EIO;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return FF_ENOMEM;
	}
	/* Read what fstat promised, and notice if the file grew. */
	while (got <= (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return FF_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)st.st_size) {
		snprintf(err, errlen, "%s: file changed while being read",
		    path);
		free(buf);
		return FF_EIO;
	}
	rc = config_parse(path, buf, got, out, err, errlen);
	free(buf);
	return rc;
}

static void
fmt_size_exact(uint64_t v, char *buf, size_t len)
{
	if (v != 0 && v % (1024ull << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "T", v >> 40);
	else if (v % (1024ull * 1024 * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "G", v >> 30);
	else if (v % (1024ull * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "M", v >> 20);
	else if (v % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "K", v >> 10);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

static void
fmt_duration_exact(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, len, "%" PRIu64 "d", ms / 86400000);
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* Print a word, quoted when the lexer needs it. */
static void
print_word(FILE *fp, const char *s)
{
	if (*s != '\0' && strpbrk(s, " \t#\"\\") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

int
config_print(FILE *fp, const struct node_config *c)
{
	static const char *levels[] = { "warn", "info", "debug" };
	char b[CONFIG_ADDR_STRLEN];

	fprintf(fp, "# %s, normalized\n", c->file);
	fputs("state-dir ", fp);
	print_word(fp, c->state_dir);
	fputc('\n', fp);
	fmt_size_exact(c->rcvbuf, b, sizeof(b));
	fprintf(fp, "rcvbuf %s\n", b);
	fprintf(fp, "hold-unknown %s\n", c->hold_unknown ? "yes" : "no");
	fmt_duration_exact(c->hold_time_ms, b, sizeof(b));
	fprintf(fp, "hold-time %s\n", b);
	if (c->name != NULL)
		fprintf(fp, "name %s\n", c->name);
	fprintf(fp, "control-listen %s\n", config_addr_fmt(
	    &c->control_listen.ss, b, sizeof(b)));
	fprintf(fp, "query-listen %s\n", config_addr_fmt(&c->query_listen.ss,
	    b, sizeof(b)));
	if (c->controller_fp != NULL)
		fprintf(fp, "controller-fingerprint %s\n", c->controller_fp);
	if (c->join_token != NULL)
		fprintf(fp, "join-token %s\n", c->join_token);
	if (c->retention_age_ms != 0) {
		fmt_duration_exact(c->retention_age_ms, b, sizeof(b));
		fprintf(fp, "retention-age %s\n", b);
	} else
		fputs("retention-age none\n", fp);
	if (c->retention_size != 0) {
		fmt_size_exact(c->retention_size, b, sizeof(b));
		fprintf(fp, "retention-size %s\n", b);
	} else
		fputs("retention-size none\n", fp);
	if (c->store_map_size != 0) {
		fmt_size_exact(c->store_map_size, b, sizeof(b));
		fprintf(fp, "store-map-size %s\n", b);
	} else
		fputs("store-map-size auto\n", fp);
	fprintf(fp, "store-sync %s\n", c->store_sync ? "yes" : "no");
	fprintf(fp, "store-queue %u\n", c->store_queue);
	fprintf(fp, "query-max-running %u\n", c->query_max_running);
	if (c->query_threads != 0)
		fprintf(fp, "query-threads %u\n", c->query_threads);
	else
		fputs("query-threads auto\n", fp);
	fmt_duration_exact(c->query_max_ms, b, sizeof(b));
	fprintf(fp, "query-max-time %s\n", b);
	fmt_size_exact(c->query_max_mem, b, sizeof(b));
	fprintf(fp, "query-max-mem %s\n", b);
	fprintf(fp, "query-max-rows %" PRIu64 "\n", c->query_max_rows);
	fmt_size_exact(c->query_max_result, b, sizeof(b));
	fprintf(fp, "query-max-result %s\n", b);
	fprintf(fp, "log-level %s\n", c->log_level >= 0 &&
	    c->log_level < (int)FF_NELEM(levels) ? levels[c->log_level] :
	    "info");
	if (c->listen_default)
		fputs("# no listen line: the default listeners\n", fp);
	for (size_t i = 0; i < c->nlisten; i++)
		fprintf(fp, "listen %s %s\n",
		    config_proto_name(c->listen[i].proto),
		    config_addr_fmt(&c->listen[i].ss, b, sizeof(b)));
	fflush(fp);
	return ferror(fp) ? FF_EIO : 0;
}
