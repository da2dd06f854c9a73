/*
 * controller/config.c: defaults, every keyword, ranges, errors with
 * file:line, and the normalized print parsing back to the same values;
 * plus the join token format (wire/token.c) the CLI and nodes share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "controller/config.h"
#include "wire/wire.h"

static struct controller_config *
parse_ok(const char *text)
{
	struct controller_config *c = NULL;
	char err[512] = "";
	int rc = controller_config_parse("t.conf", text, strlen(text), &c,
	    err, sizeof(err));

	if (rc != 0)
		fail_msg("parse failed: %s", err);
	return c;
}

static void
parse_err(const char *text, const char *want)
{
	struct controller_config *c = NULL;
	char err[512] = "";

	assert_int_equal(controller_config_parse("t.conf", text, strlen(text),
	    &c, err, sizeof(err)), FF_ESYNTAX);
	assert_null(c);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void
test_defaults(void **state)
{
	struct controller_config *c = parse_ok("");
	(void)state;

	/* the documented defaults (config.h, deploy/...controller.conf) */
	assert_string_equal(c->state_dir, CONTROLLER_CONFIG_DEFAULT_STATE);
	assert_string_equal(c->socket, WIRE_CTL_SOCKET_DEFAULT);
	assert_null(c->name);
	assert_int_equal(c->ping_interval_ms, 2000);
	assert_int_equal(c->ping_misses, 3);
	assert_int_equal(c->status_interval_ms, 5000);
	assert_int_equal(c->clock_warn_ms, 1000);
	assert_int_equal(c->reconnect_min_ms, 500);
	assert_int_equal(c->reconnect_max_ms, 5000);
	assert_int_equal(c->connect_timeout_ms, 10000);
	assert_int_equal(c->token_ttl_ms, 86400000);
	assert_int_equal(c->flush_interval_ms, 30000);
	assert_int_equal(c->query_timeout_ms, 30000);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	controller_config_free(c);
}

static void
test_every_keyword(void **state)
{
	struct controller_config *c = parse_ok(
	    "# a comment\n"
	    "state-dir \"/srv/ff ctl/\"   # trailing comment\n"
	    "socket /run/ff/c.sock\r\n"
	    "name ctl-1.ams\n"
	    "\n"
	    "ping-interval 250ms\n"
	    "ping-misses 5\n"
	    "status-interval 1m\n"
	    "clock-warn 20ms\n"
	    "reconnect-min 1s\n"
	    "reconnect-max 1h\n"
	    "connect-timeout 3s\n"
	    "token-ttl 7d\n"
	    "flush-interval 10s\n"
	    "query-timeout 2m\n"
	    "log-level debug\n");
	(void)state;

	assert_string_equal(c->state_dir, "/srv/ff ctl");
	assert_string_equal(c->socket, "/run/ff/c.sock");
	assert_string_equal(c->name, "ctl-1.ams");
	assert_int_equal(c->ping_interval_ms, 250);
	assert_int_equal(c->ping_misses, 5);
	assert_int_equal(c->status_interval_ms, 60000);
	assert_int_equal(c->clock_warn_ms, 20);
	assert_int_equal(c->reconnect_min_ms, 1000);
	assert_int_equal(c->reconnect_max_ms, 3600000);
	assert_int_equal(c->connect_timeout_ms, 3000);
	assert_int_equal(c->token_ttl_ms, 7ull * 86400000);
	assert_int_equal(c->flush_interval_ms, 10000);
	assert_int_equal(c->query_timeout_ms, 120000);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	controller_config_free(c);
}

static void
test_errors(void **state)
{
	(void)state;
	parse_err("bogus 1\n", "t.conf:1: unknown keyword 'bogus'");
	parse_err("\nstate-dir relative\n", "t.conf:2: state-dir must be an "
	    "absolute path");
	parse_err("ping-interval 50ms\n", "t.conf:1: ping-interval: 50ms is "
	    "out of range (100ms to 1m)");
	parse_err("ping-interval 2 s\n", "t.conf:1: ping-interval takes one "
	    "argument");
	parse_err("ping-interval\n", "t.conf:1: ping-interval: missing "
	    "argument");
	parse_err("ping-misses 0\n", "t.conf:1: ping-misses: expected a "
	    "number from 1 to 100");
	parse_err("ping-misses 3x\n", "ping-misses: expected a number");
	parse_err("name -x\n", "t.conf:1: name: '-x' is not a valid name");
	parse_err("log-level loud\n", "log-level: expected warn, info or "
	    "debug");
	parse_err("clock-warn 1s\nclock-warn 2s\n", "t.conf:2: clock-warn is "
	    "already set on line 1");
	parse_err("reconnect-max 1s\nreconnect-min 2s\n", "t.conf:2: "
	    "reconnect-max is shorter than reconnect-min");
	parse_err("socket /run/\n", "socket must name a file");
	parse_err("name \"unterminated\n", "unterminated quoted string");
	parse_err("name a\001b\n", "control character 0x01");
	parse_err("state-dir /a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/"
	    "y/z/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0123456789"
	    "\n", "state-dir is longer than 107 bytes");
	{
		char nul[] = "name a\0b\n";
		struct controller_config *c = NULL;
		char err[256];

		assert_int_equal(controller_config_parse("t.conf", nul,
		    sizeof(nul) - 1, &c, err, sizeof(err)), FF_ESYNTAX);
	}
}

static void
test_print_roundtrip(void **state)
{
	struct controller_config *a = parse_ok("name x\nping-interval 1500ms\n"
	    "token-ttl 36h\nstate-dir \"/a b\"\nlog-level warn\n"), *b;
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	(void)state;

	assert_non_null(fp);
	assert_int_equal(controller_config_print(fp, a), 0);
	fclose(fp);
	b = parse_ok(out);
	assert_string_equal(a->state_dir, b->state_dir);
	assert_string_equal(a->socket, b->socket);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->ping_interval_ms, b->ping_interval_ms);
	assert_int_equal(a->token_ttl_ms, b->token_ttl_ms);
	assert_int_equal(a->log_level, b->log_level);
	assert_non_null(strstr(out, "ping-interval 1500ms\n"));
	assert_non_null(strstr(out, "token-ttl 36h\n"));
	free(out);
	controller_config_free(a);
	controller_config_free(b);
}

static void
test_tokens(void **state)
{
	char tok[WIRE_TOKEN_LEN], fp[WIRE_FP_LEN];
	char secret[WIRE_TOKEN_SECRET_LEN + 1], bad[WIRE_TOKEN_LEN];
	uint8_t h1[WIRE_TOKEN_HASH_LEN], h2[WIRE_TOKEN_HASH_LEN];
	const char *cfp = "sha256:00112233445566778899aabbccddeeff0011223344"
	    "5566778899aabbccddeeff";
	(void)state;

	assert_int_equal(wire_init(), 0);
	assert_int_equal(wire_token_make(cfp, tok, h1), 0);
	assert_int_equal(strlen(tok), WIRE_TOKEN_LEN - 1);
	assert_memory_equal(tok, "ffj1.00112233", 13);
	assert_int_equal(wire_token_parse(tok, fp, secret), 0);
	assert_string_equal(fp, cfp);
	assert_int_equal(strlen(secret), WIRE_TOKEN_SECRET_LEN);
	assert_int_equal(wire_token_hash(secret, strlen(secret), h2), 0);
	assert_memory_equal(h1, h2, sizeof(h1));	/* what JOIN checks */
	/* two tokens never share a secret */
	assert_int_equal(wire_token_make(cfp, bad, h2), 0);
	assert_memory_not_equal(h1, h2, sizeof(h1));

	memcpy(bad, tok, sizeof(bad));
	bad[3] = '2';				/* ffj2 */
	assert_int_equal(wire_token_parse(bad, fp, secret), FF_EINVAL);
	memcpy(bad, tok, sizeof(bad));
	bad[10] = 'A';				/* uppercase hex */
	assert_int_equal(wire_token_parse(bad, fp, secret), FF_EINVAL);
	memcpy(bad, tok, sizeof(bad));
	bad[80] = '+';				/* not base64url */
	assert_int_equal(wire_token_parse(bad, fp, secret), FF_EINVAL);
	memcpy(bad, tok, sizeof(bad));
	bad[WIRE_TOKEN_LEN - 2] = '\0';		/* one short */
	assert_int_equal(wire_token_parse(bad, fp, secret), FF_EINVAL);
	assert_int_equal(wire_token_hash("abc", 3, h2), FF_EINVAL);
	/* 43 characters whose last one has low bits set: not canonical */
	memset(secret, 'A', WIRE_TOKEN_SECRET_LEN);
	secret[WIRE_TOKEN_SECRET_LEN - 1] = 'B';
	assert_int_equal(wire_token_hash(secret, WIRE_TOKEN_SECRET_LEN, h2),
	    FF_EINVAL);
	secret[WIRE_TOKEN_SECRET_LEN - 1] = 'E';
	assert_int_equal(wire_token_hash(secret, WIRE_TOKEN_SECRET_LEN, h2),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_keyword),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
