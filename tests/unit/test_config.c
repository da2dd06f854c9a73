/*
 * Config parser tests (nodeconf/nodeconf.c). The expected values come
 * from the configuration text each test writes and from the documented
 * defaults (nodeconf.h, deploy/flowfleet-node.conf): state-dir
 * /var/lib/flowfleet, rcvbuf 32M, hold-unknown yes, hold-time 30s,
 * log-level info, listeners 0.0.0.0 and [::] on UDP 2055, 3000, 9996
 * (netflow) and 6343 (sflow); retention-age 30d, retention-size 16G,
 * store-map-size auto, store-sync yes, store-queue 256.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nodeconf/nodeconf.h"

static struct node_config *
parse_ok(const char *text)
{
	struct node_config *c = NULL;
	char err[512] = "";
	int rc;

	rc = config_parse("t.conf", text, strlen(text), &c, err, sizeof(err));
	if (rc != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	return c;
}

/* Parse text that must fail with exactly the message want. */
static void
parse_fails(const char *text, const char *want)
{
	struct node_config *c = NULL;
	char err[512] = "";
	int rc;

	rc = config_parse("t.conf", text, strlen(text), &c, err, sizeof(err));
	assert_int_equal(rc, FF_ESYNTAX);
	assert_null(c);
	assert_string_equal(err, want);
}

static const char *
addr_of(const struct node_config *c, size_t i)
{
	static char b[CONF_ADDR_STRLEN];

	assert_true(i < c->nlisten);
	return conf_addr_fmt(&c->listen[i].ss, b, sizeof(b));
}

static void
test_defaults(void **state)
{
	static const char *want[] = {
		"0.0.0.0:2055", "[::]:2055", "0.0.0.0:3000", "[::]:3000",
		"0.0.0.0:9996", "[::]:9996", "0.0.0.0:6343", "[::]:6343"
	};
	struct node_config *c = parse_ok("");

	(void)state;
	assert_string_equal(c->state_dir, "/var/lib/flowfleet");
	assert_int_equal(c->rcvbuf, 32 * 1024 * 1024);
	assert_int_equal(c->hold_unknown, 1);
	assert_int_equal(c->hold_time_ms, 30000);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->listen_default, 1);
	assert_int_equal(c->retention_age_ms, 30ull * 86400 * 1000);
	assert_int_equal(c->retention_size, 16ull << 30);
	assert_int_equal(c->store_map_size, 0);
	assert_int_equal(c->store_sync, 1);
	assert_int_equal(c->store_queue, 256);
	assert_int_equal(c->query_max_running, 4);
	assert_int_equal(c->query_max_queued, 64);
	assert_int_equal(c->query_threads, 0);
	assert_int_equal(c->query_max_ms, 600000);
	assert_int_equal(c->query_max_mem, 1ull << 30);
	assert_int_equal(c->query_max_rows, 20000000);
	assert_int_equal(c->query_max_result, 256ull << 20);
	assert_int_equal(c->nlisten, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(addr_of(c, i), want[i]);
		assert_int_equal(c->listen[i].proto, i < 6 ?
		    CONFIG_PROTO_NETFLOW : CONFIG_PROTO_SFLOW);
		assert_int_equal(c->listen[i].line, 0);
	}
	config_free(c);

	/* Comments and blank lines only: still all defaults. */
	c = parse_ok("# nothing here\n\n   \t# indented comment\n");
	assert_int_equal(c->nlisten, 8);
	config_free(c);
}

static void
test_full(void **state)
{
	const char *text =
	    "# a complete configuration\r\n"
	    "state-dir /srv/flow/state/   # trailing slash is dropped\r\n"
	    "listen netflow 192.0.2.1:2055\n"
	    "\tlisten\tsflow  [2001:db8::7]:6343\n"
	    "listen any 0.0.0.0:9995\n"
	    "listen [::1]:4739\n"
	    "rcvbuf 64M\n"
	    "hold-unknown no\n"
	    "hold-time 1500ms\n"
	    "log-level debug";		/* no final newline */
	struct node_config *c = parse_ok(text);
	struct sockaddr_in6 *sin6;

	(void)state;
	assert_string_equal(c->state_dir, "/srv/flow/state");
	assert_int_equal(c->nlisten, 4);
	assert_int_equal(c->listen_default, 0);
	assert_string_equal(addr_of(c, 0), "192.0.2.1:2055");
	assert_int_equal(c->listen[0].proto, CONFIG_PROTO_NETFLOW);
	assert_int_equal(c->listen[0].line, 3);
	assert_int_equal(c->listen[0].ss.ss_family, AF_INET);
	assert_string_equal(addr_of(c, 1), "[2001:db8::7]:6343");
	assert_int_equal(c->listen[1].proto, CONFIG_PROTO_SFLOW);
	assert_int_equal(c->listen[1].line, 4);
	assert_int_equal(c->listen[1].ss.ss_family, AF_INET6);
	sin6 = (struct sockaddr_in6 *)&c->listen[1].ss;
	assert_int_equal(ntohs(sin6->sin6_port), 6343);
	assert_int_equal(c->listen[1].sslen, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_of(c, 2), "0.0.0.0:9995");
	assert_int_equal(c->listen[2].proto, CONFIG_PROTO_ANY);
	assert_string_equal(addr_of(c, 3), "[::1]:4739");
	assert_int_equal(c->listen[3].proto, CONFIG_PROTO_ANY);
	assert_int_equal(c->rcvbuf, 64 * 1024 * 1024);
	assert_int_equal(c->hold_unknown, 0);
	assert_int_equal(c->hold_time_ms, 1500);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	config_free(c);
}

static void
test_ipv6(void **state)
{
	struct node_config *c = parse_ok(
	    "listen [::]:1\n"
	    "listen [::ffff:192.0.2.9]:65535\n"
	    "listen [fe80::1:2:3:4]:2055\n"
	    "listen [2001:DB8:0:0:0:0:0:1]:2055\n");

	(void)state;
	assert_int_equal(c->nlisten, 4);
	assert_string_equal(addr_of(c, 0), "[::]:1");
	/* An IPv4-mapped address stays an IPv6 socket address. */
	assert_int_equal(c->listen[1].ss.ss_family, AF_INET6);
	assert_string_equal(addr_of(c, 1), "[::ffff:192.0.2.9]:65535");
	assert_string_equal(addr_of(c, 2), "[fe80::1:2:3:4]:2055");
	/* inet_ntop's normalized form */
	assert_string_equal(addr_of(c, 3), "[2001:db8::1]:2055");
	config_free(c);
}

static void
test_sizes_durations(void **state)
{
	struct node_config *c;

	(void)state;
	c = parse_ok("rcvbuf 4096\nhold-time 100ms\n");
	assert_int_equal(c->rcvbuf, 4096);
	assert_int_equal(c->hold_time_ms, 100);
	config_free(c);
	c = parse_ok("rcvbuf 1G\nhold-time 1h\n");
	assert_int_equal(c->rcvbuf, 1024ull * 1024 * 1024);
	assert_int_equal(c->hold_time_ms, 3600000);
	config_free(c);
	c = parse_ok("rcvbuf 512KiB\nhold-time 2m\n");
	assert_int_equal(c->rcvbuf, 512 * 1024);
	assert_int_equal(c->hold_time_ms, 120000);
	config_free(c);
	c = parse_ok("hold-time 45\n");	/* no suffix: seconds */
	assert_int_equal(c->hold_time_ms, 45000);
	config_free(c);
}

static void
test_store_keywords(void **state)
{
	struct node_config *c;

	(void)state;
	c = parse_ok("retention-age 7d\nretention-size 500M\n"
	    "store-map-size 1G\nstore-sync no\nstore-queue 8\n");
	assert_int_equal(c->retention_age_ms, 7ull * 86400 * 1000);
	assert_int_equal(c->retention_size, 500ull << 20);
	assert_int_equal(c->store_map_size, 1ull << 30);
	assert_int_equal(c->store_sync, 0);
	assert_int_equal(c->store_queue, 8);
	config_free(c);
	c = parse_ok("retention-age none\nretention-size none\n"
	    "store-map-size auto\nstore-sync yes\n");
	assert_int_equal(c->retention_age_ms, 0);
	assert_int_equal(c->retention_size, 0);
	assert_int_equal(c->store_map_size, 0);
	assert_int_equal(c->store_sync, 1);
	config_free(c);
	/* The range ends. */
	c = parse_ok("retention-age 1m\nretention-size 1M\n"
	    "store-map-size 64T\nstore-queue 1\n");
	assert_int_equal(c->retention_age_ms, 60000);
	assert_int_equal(c->retention_size, 1ull << 20);
	assert_int_equal(c->store_map_size, 64ull << 40);
	assert_int_equal(c->store_queue, 1);
	config_free(c);
	c = parse_ok("retention-age 3660d\nstore-queue 1024\n");
	assert_int_equal(c->retention_age_ms, 3660ull * 86400 * 1000);
	assert_int_equal(c->store_queue, 1024);
	config_free(c);
}

static void
test_query_keywords(void **state)
{
	struct node_config *c;

	(void)state;
	c = parse_ok("query-max-running 64\nquery-threads 2\n"
	    "query-max-time 100ms\nquery-max-mem 1M\nquery-max-rows 1000\n"
	    "query-max-result 512M\nquery-max-queued none\n");
	assert_int_equal(c->query_max_running, 64);
	assert_int_equal(c->query_max_queued, 0);
	assert_int_equal(c->query_threads, 2);
	assert_int_equal(c->query_max_ms, 100);
	assert_int_equal(c->query_max_mem, 1u << 20);
	assert_int_equal(c->query_max_rows, 1000);
	assert_int_equal(c->query_max_result, 512u << 20);
	config_free(c);
	c = parse_ok("query-threads auto\nquery-max-time 24h\n"
	    "query-max-mem 1T\n");
	assert_int_equal(c->query_threads, 0);
	assert_int_equal(c->query_max_ms, 24ull * 3600000);
	assert_int_equal(c->query_max_mem, 1ull << 40);
	config_free(c);
}

static void
test_quotes(void **state)
{
	struct node_config *c;

	(void)state;
	c = parse_ok("state-dir \"/var/lib/flow fleet/#1\" # comment\n");
	assert_string_equal(c->state_dir, "/var/lib/flow fleet/#1");
	config_free(c);
	c = parse_ok("state-dir \"/a\\\"b\\\\c\"\n");
	assert_string_equal(c->state_dir, "/a\"b\\c");
	config_free(c);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "bogus 1\n", "t.conf:1: unknown keyword 'bogus'" },
		{ "query-max-running 65\n", "t.conf:1: query-max-running: "
		  "'65' is not a number from 1 to 64" },
		{ "query-max-queued 4097\n", "t.conf:1: query-max-queued: "
		  "'4097' is not a number from 1 to 4096" },
		{ "query-threads x\n", "t.conf:1: query-threads: 'x' is not a "
		  "number from 1 to 256" },
		{ "query-max-time 1d1\n", "t.conf:1: query-max-time: '1d1' is "
		  "not a duration from 100ms to 24h" },
		{ "query-max-time 25h\n", "t.conf:1: query-max-time: '25h' is "
		  "not a duration from 100ms to 24h" },
		{ "query-max-mem 1K\n", "t.conf:1: query-max-mem: '1K' is not a "
		  "size from 1M to 1T" },
		{ "query-max-result 1G\n", "t.conf:1: query-max-result: at most "
		  "512M (what the controller accepts of one node)" },
		{ "query-max-rows 999\n", "t.conf:1: query-max-rows: '999' is "
		  "not a number from 1000 to 1000000000000" },
		{ "# c\n\nlisten\n",
		  "t.conf:3: listen: missing argument (listen "
		  "[netflow|sflow|any] ADDRESS:PORT)" },
		{ "listen 1.2.3.4\n", "t.conf:1: listen: '1.2.3.4': missing "
		  "port (write ADDRESS:PORT)" },
		{ "listen 1.2.3.4:0\n", "t.conf:1: listen: '1.2.3.4:0': bad "
		  "port (1 to 65535)" },
		{ "listen 1.2.3.4:65536\n", "t.conf:1: listen: "
		  "'1.2.3.4:65536': bad port (1 to 65535)" },
		{ "listen 1.2.3.4:20x\n", "t.conf:1: listen: '1.2.3.4:20x': "
		  "bad port (1 to 65535)" },
		{ "listen 1.2.3:2055\n", "t.conf:1: listen: '1.2.3:2055': "
		  "bad IPv4 address" },
		{ "listen host.example:2055\n", "t.conf:1: listen: "
		  "'host.example:2055': bad IPv4 address" },
		{ "listen ::1:2055\n", "t.conf:1: listen: '::1:2055': IPv6 "
		  "addresses go in brackets: [ADDRESS]:PORT" },
		{ "listen [::1]\n", "t.conf:1: listen: '[::1]': missing port "
		  "(write [ADDRESS]:PORT)" },
		{ "listen [::1:2055\n", "t.conf:1: listen: '[::1:2055': "
		  "missing ']' after an IPv6 address" },
		{ "listen [::g]:2055\n", "t.conf:1: listen: '[::g]:2055': bad "
		  "IPv6 address" },
		{ "listen []:2055\n", "t.conf:1: listen: '[]:2055': bad IPv6 "
		  "address" },
		{ "listen [fe80::1%eth0]:2055\n", "t.conf:1: listen: "
		  "'[fe80::1%eth0]:2055': scoped (zone) IPv6 addresses are "
		  "not supported" },
		{ "listen ipfix 1.2.3.4:2055\n", "t.conf:1: listen: unknown "
		  "label 'ipfix' (netflow, sflow or any)" },
		{ "listen netflow 1.2.3.4:2055 extra\n", "t.conf:1: listen "
		  "takes [netflow|sflow|any] ADDRESS:PORT" },
		{ "listen 1.2.3.4:2055\nlisten sflow 1.2.3.4:2055\n",
		  "t.conf:2: listen: 1.2.3.4:2055 is already listed on "
		  "line 1" },
		{ "listen [::1]:2055\n\nlisten [0::1]:2055\n",
		  "t.conf:3: listen: [0::1]:2055 is already listed on line 1" },
		{ "state-dir relative/dir\n", "t.conf:1: state-dir must be an "
		  "absolute path, not 'relative/dir'" },
		{ "state-dir /a /b\n", "t.conf:1: state-dir takes one "
		  "argument: PATH" },
		{ "state-dir /a\nstate-dir /b\n", "t.conf:2: state-dir is "
		  "already set on line 1" },
		{ "rcvbuf lots\n", "t.conf:1: rcvbuf: bad size 'lots' (a "
		  "number with an optional K, M or G suffix)" },
		{ "rcvbuf 4095\n", "t.conf:1: rcvbuf: 4095 is out of range "
		  "(4K to 1G)" },
		{ "rcvbuf 2G\n", "t.conf:1: rcvbuf: 2G is out of range (4K to "
		  "1G)" },
		{ "rcvbuf -1\n", "t.conf:1: rcvbuf: bad size '-1' (a number "
		  "with an optional K, M or G suffix)" },
		{ "hold-unknown maybe\n", "t.conf:1: hold-unknown: expected "
		  "yes or no, not 'maybe'" },
		{ "hold-time soon\n", "t.conf:1: hold-time: bad duration "
		  "'soon' (a number with an optional ms, s, m or h suffix)" },
		{ "hold-time 99ms\n", "t.conf:1: hold-time: 99ms is out of "
		  "range (100ms to 1h)" },
		{ "hold-time 2h\n", "t.conf:1: hold-time: 2h is out of range "
		  "(100ms to 1h)" },
		{ "log-level loud\n", "t.conf:1: log-level: expected warn, "
		  "info or debug, not 'loud'" },
		{ "log-level info\nlog-level warn\n", "t.conf:2: log-level is "
		  "already set on line 1" },
		{ "state-dir \"/a\n", "t.conf:1: unterminated quoted string" },
		{ "state-dir \"/a\"b\n", "t.conf:1: text right after a "
		  "closing quote" },
		{ "state-dir /a\"b\"\n", "t.conf:1: quote in the middle of a "
		  "word" },
		{ "listen a b c d e f g h i\n", "t.conf:1: too many words on "
		  "the line (at most 8)" },
		{ "retention-age forever\n", "t.conf:1: retention-age: bad "
		  "duration 'forever' (a number with an optional s, m, h, d or "
		  "w suffix, or none)" },
		{ "retention-age 59s\n", "t.conf:1: retention-age: 59s is out "
		  "of range (1m to 3660d, or none)" },
		{ "retention-age 3661d\n", "t.conf:1: retention-age: 3661d is "
		  "out of range (1m to 3660d, or none)" },
		{ "retention-age 1d\nretention-age 2d\n", "t.conf:2: "
		  "retention-age is already set on line 1" },
		{ "retention-size lots\n", "t.conf:1: retention-size: bad "
		  "size 'lots' (a number with an optional K, M, G or T "
		  "suffix, or none)" },
		{ "retention-size 1023K\n", "t.conf:1: retention-size: 1023K "
		  "is out of range (1M to 64T, or none)" },
		{ "retention-size auto\n", "t.conf:1: retention-size: bad "
		  "size 'auto' (a number with an optional K, M, G or T "
		  "suffix, or none)" },
		{ "store-map-size none\n", "t.conf:1: store-map-size: bad "
		  "size 'none' (a number with an optional K, M, G or T "
		  "suffix, or auto)" },
		{ "store-map-size 65T\n", "t.conf:1: store-map-size: 65T is "
		  "out of range (1M to 64T, or auto)" },
		{ "store-sync maybe\n", "t.conf:1: store-sync: expected yes "
		  "or no, not 'maybe'" },
		{ "store-queue 0\n", "t.conf:1: store-queue: '0' is not a "
		  "number of batches from 1 to 1024" },
		{ "store-queue 1025\n", "t.conf:1: store-queue: '1025' is not "
		  "a number of batches from 1 to 1024" },
		{ "store-queue -3\n", "t.conf:1: store-queue: '-3' is not a "
		  "number of batches from 1 to 1024" },
		{ "store-queue\n", "t.conf:1: store-queue: missing argument "
		  "(store-queue BATCHES)" },
		{ "store-map-size 1G\n# c\nretention-size 1G\n", "t.conf:3: "
		  "retention-size must be smaller than store-map-size (leave "
		  "room: the store needs some free pages to delete old blocks; "
		  "'store-map-size auto' leaves a quarter more)" },
		{ "retention-size 2G\nstore-map-size 1G\n", "t.conf:2: "
		  "retention-size must be smaller than store-map-size (leave "
		  "room: the store needs some free pages to delete old blocks; "
		  "'store-map-size auto' leaves a quarter more)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_fails(cases[i].text, cases[i].err);
}

static void
test_limits(void **state)
{
	char *big, line[64];
	size_t off = 0, cap = (CONFIG_MAX_LISTEN + 1) * 40;
	struct node_config *c = NULL;
	char err[512];

	(void)state;
	/* CONFIG_MAX_LISTEN listeners are fine, one more is not. */
	big = calloc(1, cap);
	assert_non_null(big);
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
		snprintf(line, sizeof(line), "listen 127.0.%d.%d:2055\n",
		    i / 250, i % 250 + 1);
		memcpy(big + off, line, strlen(line));
		off += strlen(line);
	}
	assert_int_equal(config_parse("t.conf", big, off, &c, err,
	    sizeof(err)), FF_ESYNTAX);
	snprintf(line, sizeof(line), "t.conf:%d: listen: more than %d listen "
	    "addresses", CONFIG_MAX_LISTEN + 1, CONFIG_MAX_LISTEN);
	assert_string_equal(err, line);
	off -= strlen("listen 127.0.1.7:2055\n");	/* drop line 257 */
	assert_int_equal(config_parse("t.conf", big, off, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c->nlisten, CONFIG_MAX_LISTEN);
	config_free(c);
	free(big);

	/* A line longer than CONF_MAX_LINE bytes. */
	big = malloc(CONF_MAX_LINE + 16);
	assert_non_null(big);
	memcpy(big, "# ok\n# ", 7);
	memset(big + 7, 'x', CONF_MAX_LINE);
	c = NULL;
	assert_int_equal(config_parse("t.conf", big, CONF_MAX_LINE + 7, &c,
	    err, sizeof(err)), FF_ESYNTAX);
	assert_null(c);
	assert_string_equal(err, "t.conf:2: line is longer than 1024 bytes");
	free(big);

	/* A NUL byte inside a line. */
	assert_int_equal(config_parse("t.conf", "rcvbuf 8M\nlog\0-level",
	    21, &c, err, sizeof(err)), FF_ESYNTAX);
	assert_string_equal(err, "t.conf:2: NUL byte in the line");

	/* Control characters (a CR before the newline is not one). */
	assert_int_equal(config_parse("t.conf", "rcvbuf 8M\r\nlog-level\r "
	    "info\n", 27, &c, err, sizeof(err)), FF_ESYNTAX);
	assert_string_equal(err, "t.conf:2: control character 0x0d in the "
	    "line");

	/* The buffer need not be NUL-terminated: len rules. */
	c = parse_ok("rcvbuf 8M\n");
	config_free(c);
	assert_int_equal(config_parse("t.conf", "rcvbuf 8Mjunk", 9, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c->rcvbuf, 8 * 1024 * 1024);
	config_free(c);
}

/* exporter-allow, exporter-idle-time, exporter-max-per-source. */
static void
test_exporters(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "exporter-allow 10.0.0.0/33\n", "t.conf:1: exporter-allow: "
		  "'10.0.0.0/33': the prefix length must be a number from 0 "
		  "to 32" },
		{ "exporter-allow 2001:db8::/129\n", "t.conf:1: "
		  "exporter-allow: '2001:db8::/129': the prefix length must "
		  "be a number from 0 to 128" },
		{ "exporter-allow 10.0.0.0/\n", "t.conf:1: exporter-allow: "
		  "'10.0.0.0/': the prefix length must be a number from 0 to "
		  "32" },
		{ "\nexporter-allow 192.0.2.0/24 10.0.0.300/8\n", "t.conf:2: "
		  "exporter-allow: '10.0.0.300/8' is not an IPv4 or IPv6 "
		  "address or prefix (like 192.0.2.0/24 or 2001:db8::/32)" },
		{ "exporter-allow router.example\n", "t.conf:1: "
		  "exporter-allow: 'router.example' is not an IPv4 or IPv6 "
		  "address or prefix (like 192.0.2.0/24 or 2001:db8::/32)" },
		{ "exporter-allow 10.1.2.3/8\n", "t.conf:1: exporter-allow: "
		  "'10.1.2.3/8' has bits set past its prefix length (did you "
		  "mean 10.0.0.0/8?)" },
		{ "exporter-allow 2001:db8::1/64\n", "t.conf:1: "
		  "exporter-allow: '2001:db8::1/64' has bits set past its "
		  "prefix length (did you mean 2001:db8::/64?)" },
		{ "exporter-allow\n", "t.conf:1: exporter-allow: missing "
		  "argument (exporter-allow PREFIX...)" },
		{ "exporter-idle-time 500ms\n", "t.conf:1: exporter-idle-time: "
		  "500ms is out of range (1s to 30d, or none)" },
		{ "exporter-max-per-source 0\n", "t.conf:1: "
		  "exporter-max-per-source: '0' is not a number from 1 to "
		  "65536" },
	};
	struct node_config *c;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	c = parse_ok("");
	assert_int_equal(c->nallow, 0);
	assert_int_equal(c->exporter_idle_ms, 3600000);
	assert_int_equal(c->exporter_max_per_source, 1024);
	config_free(c);

	c = parse_ok("exporter-allow 127.0.0.2/32 10.0.0.0/8\n"
	    "exporter-allow 2001:DB8::/32 192.0.2.9 ::1\n"
	    "exporter-idle-time none\nexporter-max-per-source 5000\n");
	assert_int_equal(c->nallow, 5);
	assert_int_equal(c->allow[0].len, 128);
	assert_int_equal(c->allow[0].line, 1);
	assert_int_equal(c->allow[1].len, 96 + 8);
	assert_int_equal(c->allow[2].len, 32);
	assert_int_equal(c->allow[2].line, 2);
	assert_int_equal(c->allow[3].len, 128);	/* one address */
	assert_int_equal(c->allow[4].len, 128);
	{
		uint8_t a[16];

		assert_int_equal(addr_parse("10.0.0.0", a), 0);
		assert_memory_equal(c->allow[1].addr, a, 16);
		assert_int_equal(addr_parse("2001:db8::", a), 0);
		assert_memory_equal(c->allow[2].addr, a, 16);
	}
	assert_int_equal(c->exporter_idle_ms, 0);
	assert_int_equal(c->exporter_max_per_source, 5000);
	fp = open_memstream(&out, &len);
	assert_non_null(fp);
	assert_int_equal(config_print(fp, c), 0);
	fclose(fp);
	assert_non_null(strstr(out, "exporter-allow 127.0.0.2/32\n"
	    "exporter-allow 10.0.0.0/8\nexporter-allow 2001:db8::/32\n"
	    "exporter-allow 192.0.2.9/32\nexporter-allow ::1/128\n"));
	assert_non_null(strstr(out, "exporter-idle-time none\n"));
	assert_non_null(strstr(out, "exporter-max-per-source 5000\n"));
	config_free(c);
	c = parse_ok(out);
	assert_int_equal(c->nallow, 5);
	config_free(c);
	free(out);

	for (size_t i = 0; i < FF_NELEM(bad); i++)
		parse_fails(bad[i].text, bad[i].want);
}

/* The normalized print parses back to the same configuration. */
static void
test_print_roundtrip(void **state)
{
	const char *texts[] = {
		"",
		"state-dir \"/x y/#z\"\nlisten sflow [::1]:6343\n"
		"listen 10.0.0.1:2055\nrcvbuf 12345\nhold-time 90s\n"
		"hold-unknown no\nlog-level warn\n"
		"retention-age 36h\nretention-size 3T\nstore-map-size 4T\n"
		"store-sync no\nstore-queue 3\n",
		"retention-age none\nretention-size none\n",
	};

	(void)state;
	for (size_t t = 0; t < FF_NELEM(texts); t++) {
		struct node_config *a = parse_ok(texts[t]), *b;
		char *out = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&out, &len);

		assert_non_null(fp);
		assert_int_equal(config_print(fp, a), 0);
		fclose(fp);
		b = parse_ok(out);
		assert_string_equal(a->state_dir, b->state_dir);
		assert_int_equal(a->rcvbuf, b->rcvbuf);
		assert_int_equal(a->hold_unknown, b->hold_unknown);
		assert_int_equal(a->hold_time_ms, b->hold_time_ms);
		assert_int_equal(a->log_level, b->log_level);
		assert_int_equal(a->nlisten, b->nlisten);
		assert_int_equal(a->retention_age_ms, b->retention_age_ms);
		assert_int_equal(a->retention_size, b->retention_size);
		assert_int_equal(a->store_map_size, b->store_map_size);
		assert_int_equal(a->store_sync, b->store_sync);
		assert_int_equal(a->store_queue, b->store_queue);
		for (size_t i = 0; i < a->nlisten; i++) {
			char x[CONF_ADDR_STRLEN];

			snprintf(x, sizeof(x), "%s", addr_of(a, i));
			assert_string_equal(x, addr_of(b, i));
			assert_int_equal(a->listen[i].proto,
			    b->listen[i].proto);
		}
		if (t == 1) {
			assert_non_null(strstr(out, "rcvbuf 12345\n"));
			assert_non_null(strstr(out, "hold-time 90s\n"));
			assert_non_null(strstr(out,
			    "state-dir \"/x y/#z\"\n"));
			assert_non_null(strstr(out,
			    "listen any 10.0.0.1:2055\n"));
			assert_non_null(strstr(out, "retention-age 36h\n"));
			assert_non_null(strstr(out, "retention-size 3T\n"));
			assert_non_null(strstr(out, "store-map-size 4T\n"));
			assert_non_null(strstr(out, "store-sync no\n"));
			assert_non_null(strstr(out, "store-queue 3\n"));
		}
		if (t == 0) {
			assert_non_null(strstr(out, "retention-age 30d\n"));
			assert_non_null(strstr(out, "retention-size 16G\n"));
			assert_non_null(strstr(out, "store-map-size auto\n"));
			assert_non_null(strstr(out, "store-sync yes\n"));
			assert_non_null(strstr(out, "store-queue 256\n"));
		}
		if (t == 2) {
			assert_non_null(strstr(out, "retention-age none\n"));
			assert_non_null(strstr(out, "retention-size none\n"));
		}
		free(out);
		config_free(a);
		config_free(b);
	}
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[128], err[512];
	struct node_config *c = NULL;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.conf", dir);

	/* Absent file: the defaults when missing_ok, an error otherwise. */
	assert_int_equal(config_load(path, 1, &c, err, sizeof(err)), 0);
	assert_int_equal(c->nlisten, 8);
	config_free(c);
	c = NULL;
	assert_int_equal(config_load(path, 0, &c, err, sizeof(err)), FF_EIO);
	assert_null(c);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("rcvbuf 1M\n\nhold-time never\n", fp);
	fclose(fp);
	assert_int_equal(config_load(path, 1, &c, err, sizeof(err)),
	    FF_ESYNTAX);
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:3: hold-time: bad duration "
		    "'never' (a number with an optional ms, s, m or h "
		    "suffix)", path);
		assert_string_equal(err, want);
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("rcvbuf 1M\n", fp);
	fclose(fp);
	assert_int_equal(config_load(path, 0, &c, err, sizeof(err)), 0);
	assert_int_equal(c->rcvbuf, 1024 * 1024);
	assert_string_equal(c->file, path);
	config_free(c);

	/* A directory is not a configuration file. */
	assert_int_equal(config_load(dir, 0, &c, err, sizeof(err)), FF_EIO);
	unlink(path);
	rmdir(dir);
}

/* --- what a controller may push ---------------------------------------- */

#define FP64 "00112233445566778899aabbccddeeff" \
	"00112233445566778899aabbccddeeff"

/* The keywords set on the node itself, each with a valid value. */
static const struct {
	const char *keyword, *value;
} local_kw[] = {
	{ "state-dir", "/srv/flowfleet" },
	{ "control-listen", "127.0.0.1:2210" },
	{ "query-listen", "127.0.0.1:4210" },
	{ "controller-fingerprint", "sha256:" FP64 },
	/* "ffj1." 64 hex "." 43 base64url characters (32 zero bytes) */
	{ "join-token", "ffj1." FP64 "."
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
	{ "name", "edge-1" },
};

/* Text with only keywords a controller may push: one of each kind. */
static const char pushable_text[] =
	"# pushed by the controller\n"
	"rcvbuf 8M\n"
	"hold-unknown no\n"
	"hold-time 10s\n"
	"template-memory 32M\n"
	"retention-age 7d\n"
	"retention-size 2G\n"
	"store-map-size 4G\n"
	"store-sync no\n"
	"store-queue 64\n"
	"query-max-running 2\n"
	"query-max-queued 16\n"
	"query-threads 2\n"
	"query-max-time 1m\n"
	"query-max-mem 256M\n"
	"query-max-rows 100000\n"
	"query-max-result 64M\n"
	"log-level debug\n"
	"exporter-idle-time 30m\n"
	"exporter-max-per-source 16\n"
	"exporter-allow 192.0.2.0/24 2001:db8::/32\n"
	"listen netflow 0.0.0.0:2055\n"
	"listen sflow [::]:6343\n";

static void
test_local_flags(void **state)
{
	char *text = NULL;
	size_t len = 0, nlocal = 0, nother = 0;
	struct node_config *c;
	FILE *fp;

	(void)state;
	for (size_t i = 0; i < FF_NELEM(local_kw); i++)
		assert_int_equal(config_keyword_local(local_kw[i].keyword), 1);
	assert_int_equal(config_keyword_local("no-such-keyword"), -1);

	/* Every keyword the normalized print names (all but the unset
	   optional ones) is local exactly when it is one of the six. */
	c = parse_ok(pushable_text);
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	assert_int_equal(config_print(fp, c), 0);
	fclose(fp);
	config_free(c);
	for (char *line = strtok(text, "\n"); line != NULL;
	    line = strtok(NULL, "\n")) {
		char kw[64];
		int local = 0;

		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%63s", kw), 1);
		for (size_t i = 0; i < FF_NELEM(local_kw); i++)
			if (strcmp(kw, local_kw[i].keyword) == 0)
				local = 1;
		assert_int_equal(config_keyword_local(kw), local);
		if (local)
			nlocal++;
		else
			nother++;
	}
	free(text);
	/* state-dir, control-listen and query-listen have defaults */
	assert_int_equal(nlocal, 3);
	assert_true(nother >= 20);
}

static void
test_pushable_ok(void **state)
{
	struct node_config *c;
	char err[512] = "untouched";

	(void)state;
	c = parse_ok(pushable_text);
	assert_null(c->local_keyword);
	assert_int_equal(c->local_line, 0);
	assert_int_equal(config_check_pushable(c, err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
	config_free(c);
	assert_int_equal(config_check_push_text("edge1.conf", pushable_text,
	    strlen(pushable_text), err, sizeof(err)), 0);
	/* empty text: the defaults, nothing the node keeps to itself */
	assert_int_equal(config_check_push_text("edge1.conf", "", 0, err,
	    sizeof(err)), 0);
}

/* Each local keyword, after a few pushable lines, is reported with the
   line it is on. */
static void
test_local_each(void **state)
{
	(void)state;
	for (size_t i = 0; i < FF_NELEM(local_kw); i++) {
		char text[512], want[256], err[512] = "";
		struct node_config *c;

		/* line 4 */
		snprintf(text, sizeof(text), "rcvbuf 8M\n# comment\n\n"
		    "%s %s\nlog-level warn\n", local_kw[i].keyword,
		    local_kw[i].value);
		c = parse_ok(text);
		assert_string_equal(c->local_keyword, local_kw[i].keyword);
		assert_int_equal(c->local_line, 4);
		snprintf(want, sizeof(want), "t.conf:4: '%s' is set on the "
		    "node itself and cannot be pushed by the controller",
		    local_kw[i].keyword);
		assert_int_equal(config_check_pushable(c, err, sizeof(err)),
		    FF_EINVAL);
		assert_string_equal(err, want);
		config_free(c);

		assert_int_equal(config_check_push_text("t.conf", text,
		    strlen(text), err, sizeof(err)), FF_EINVAL);
		assert_string_equal(err, want);
	}
}

/* The first local keyword in the text is reported, not the first of
   the table (state-dir comes before control-listen there). */
static void
test_local_first_by_line(void **state)
{
	static const char text[] = "log-level warn\n"
	    "control-listen 127.0.0.1:2210\n"
	    "rcvbuf 8M\n"
	    "state-dir /srv/flowfleet\n"
	    "name edge-1\n";
	char err[512] = "";

	(void)state;
	assert_int_equal(config_check_push_text("nodes/edge1.conf", text,
	    strlen(text), err, sizeof(err)), FF_EINVAL);
	assert_string_equal(err, "nodes/edge1.conf:2: 'control-listen' is "
	    "set on the node itself and cannot be pushed by the controller");
}

/* Text in memory: its display name and line in every message, and only
   len bytes of the buffer are read. */
static void
test_parse_memory(void **state)
{
	static const char text[] = "rcvbuf 8M\n"
	    "hold-time never\n"
	    "state-dir /srv/flowfleet\n";
	struct node_config *c = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(config_check_push_text("nodes/edge1.conf", text,
	    strlen(text), err, sizeof(err)), FF_ESYNTAX);
	assert_string_equal(err, "nodes/edge1.conf:2: hold-time: bad "
	    "duration 'never' (a number with an optional ms, s, m or h "
	    "suffix)");
	assert_int_equal(config_parse(NULL, text, strlen(text), &c, err,
	    sizeof(err)), FF_ESYNTAX);
	assert_null(c);
	assert_int_equal(strncmp(err, "(config):2: ", 12), 0);

	/* the first line only: no error, nothing local */
	assert_int_equal(config_parse("nodes/edge1.conf", text, 10, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c->rcvbuf, 8u << 20);
	assert_string_equal(c->file, "nodes/edge1.conf");
	assert_int_equal(config_check_pushable(c, err, sizeof(err)), 0);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_sizes_durations),
		cmocka_unit_test(test_store_keywords),
		cmocka_unit_test(test_query_keywords),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_exporters),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_local_flags),
		cmocka_unit_test(test_pushable_ok),
		cmocka_unit_test(test_local_each),
		cmocka_unit_test(test_local_first_by_line),
		cmocka_unit_test(test_parse_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
