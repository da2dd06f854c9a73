/*
 * The node's side of enrollment: the control-plane keywords of the node
 * configuration (nodeconf/nodeconf.c) and the controller pin with its state
 * file and join token (node/trust.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "nodeconf/nodeconf.h"
#include "node/trust.h"
#include "wire/wire.h"
#include "tmpdir.h"

static char tmpl[] = "/tmp/fftest-trust-XXXXXX";
static char *tmpdir;
static const char *cfp = "sha256:00112233445566778899aabbccddeeff00112233"
    "445566778899aabbccddeeff";
static const char *other = "sha256:ffeeddccbbaa99887766554433221100ffeedd"
    "ccbbaa99887766554433221100";

static struct node_config *
parse(const char *text, char *err, size_t errlen, int *rc)
{
	struct node_config *c = NULL;

	*rc = config_parse("n.conf", text, strlen(text), &c, err, errlen);
	return c;
}

static void
test_config_keywords(void **state)
{
	struct node_config *c;
	char err[512], tok[WIRE_TOKEN_LEN], text[1024];
	uint8_t h[WIRE_TOKEN_HASH_LEN];
	const struct sockaddr_in *sin;
	int rc;
	(void)state;

	/* defaults: *:2210 and *:4210, nothing pinned */
	c = parse("", err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	sin = (const struct sockaddr_in *)&c->control_listen.ss;
	assert_int_equal(ntohs(sin->sin_port), 2210);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	sin = (const struct sockaddr_in *)&c->query_listen.ss;
	assert_int_equal(ntohs(sin->sin_port), 4210);
	assert_null(c->controller_fp);
	assert_null(c->join_token);
	assert_null(c->name);
	config_free(c);

	assert_int_equal(wire_token_make(cfp, tok, h), 0);
	snprintf(text, sizeof(text), "name edge-7\ncontrol-listen "
	    "127.0.9.1:2210\nquery-listen [::1]:4211\n"
	    "controller-fingerprint %s\njoin-token %s\n", "SHA256:"
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:"
	    "66:77:88:99:AA:BB:CC:DD:EE:FF", tok);
	c = parse(text, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(c->name, "edge-7");
	assert_string_equal(c->controller_fp, cfp);	/* canonical */
	assert_string_equal(c->join_token, tok);
	assert_int_equal(c->query_listen.ss.ss_family, AF_INET6);
	{
		/* the normalized print parses back to the same */
		char *out = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&out, &len);
		struct node_config *b;

		assert_int_equal(config_print(fp, c), 0);
		fclose(fp);
		b = parse(out, err, sizeof(err), &rc);
		assert_int_equal(rc, 0);
		assert_string_equal(b->name, "edge-7");
		assert_string_equal(b->controller_fp, cfp);
		assert_string_equal(b->join_token, tok);
		assert_memory_equal(&b->query_listen.ss, &c->query_listen.ss,
		    c->query_listen.sslen);
		config_free(b);
		free(out);
	}
	config_free(c);

	/* a token for another controller than the pinned one */
	snprintf(text, sizeof(text), "join-token %s\n"
	    "controller-fingerprint %s\n", tok, other);
	c = parse(text, err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	assert_null(c);
	assert_non_null(strstr(err, "n.conf:1: join-token names controller "
	    "key"));
	c = parse("join-token ffj1.abc\n", err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	assert_non_null(strstr(err, "n.conf:1: join-token: not a join token"));
	c = parse("controller-fingerprint sha256:12\n", err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	c = parse("name -bad\n", err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	c = parse("control-listen 127.0.0.1:2210\nquery-listen "
	    "127.0.0.1:2210\n", err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	assert_non_null(strstr(err, "n.conf:2: query-listen and "
	    "control-listen are the same address"));
	c = parse("control-listen 127.0.0.1\n", err, sizeof(err), &rc);
	assert_int_equal(rc, FF_ESYNTAX);
	assert_non_null(strstr(err, "missing port"));
}

static void
test_state_parse(void **state)
{
	char fp[WIRE_FP_LEN], joined[TRUST_JOINED_LEN];
	const char *good = "# written by the node\n\ncontroller SHA256:00:11:"
	    "22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:"
	    "88:99:AA:BB:CC:DD:EE:FF\njoined 0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef";	/* no final newline */
	const char *bad = "# c\n\ncontroller sha256:00\n";
	const char *upper = "joined 0123456789ABCDEF0123456789abcdef0123456789"
	    "abcdef0123456789abcdef\n";
	int line;
	(void)state;

	assert_int_equal(trust_state_parse(good, strlen(good), fp, joined,
	    &line), 0);
	assert_string_equal(fp, cfp);		/* canonical form */
	assert_int_equal(strlen(joined), 64);
	assert_int_equal(trust_state_parse("", 0, fp, joined, &line), 0);
	assert_string_equal(fp, "");
	assert_string_equal(joined, "");
	/* blank and comment lines count: the bad line is the third */
	assert_int_equal(trust_state_parse(bad, strlen(bad), fp, joined,
	    &line), FF_EPROTO);
	assert_int_equal(line, 3);
	assert_string_equal(fp, "");
	assert_int_equal(trust_state_parse(upper, strlen(upper), fp, joined,
	    &line), FF_EPROTO);
	assert_int_equal(line, 1);
	assert_int_equal(trust_state_parse("a\0b", 3, fp, joined, &line),
	    FF_EPROTO);
	assert_int_equal(line, 0);
}

static void
subdir(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
	mkdir(out, 0700);
}

static void
read_pin(const char *dir, char *buf, size_t len)
{
	char path[512];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, TRUST_FILE);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_pin_sources(void **state)
{
	node_trust_t *t;
	char dir[256], err[256], pin[1024], path[512];
	(void)state;

	/* nothing pinned: everyone is refused */
	subdir("none", dir, sizeof(dir));
	assert_int_equal(trust_load(dir, NULL, NULL, &t, err, sizeof(err)),
	    0);
	assert_string_equal(trust_fp(t), "");
	assert_int_equal(trust_accepts(t, cfp), -1);
	assert_int_equal(trust_accepts(t, ""), -1);
	trust_free(t);

	/* configured: that key only; no state file written */
	subdir("cfg", dir, sizeof(dir));
	assert_int_equal(trust_load(dir, cfp, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(trust_accepts(t, cfp), 0);
	assert_int_equal(trust_accepts(t, other), -1);
	assert_null(trust_secret(t));
	trust_free(t);
	snprintf(path, sizeof(path), "%s/%s", dir, TRUST_FILE);
	assert_int_equal(access(path, F_OK), -1);

	/* a damaged state file stops the start, naming file and line */
	subdir("damaged", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, TRUST_FILE);
	{
		FILE *fp = fopen(path, "w");

		fputs("# x\ncontroller sha256:zz\n", fp);
		fclose(fp);
	}
	assert_int_equal(trust_load(dir, NULL, NULL, &t, err, sizeof(err)),
	    FF_EPROTO);
	assert_non_null(strstr(err, "controller.pin:2: damaged"));

	/* a token pins its controller, persists the pin, holds the secret
	   until joined, and is then spent for good */
	subdir("tok", dir, sizeof(dir));
	{
		char tok[WIRE_TOKEN_LEN];
		uint8_t h[WIRE_TOKEN_HASH_LEN];
		struct stat st;

		assert_int_equal(wire_token_make(cfp, tok, h), 0);
		assert_int_equal(trust_load(dir, NULL, tok, &t, err,
		    sizeof(err)), 0);
		assert_int_equal(trust_accepts(t, cfp), 0);
		assert_non_null(trust_secret(t));
		assert_string_equal(trust_secret(t), tok + 70);
		read_pin(dir, pin, sizeof(pin));
		assert_non_null(strstr(pin, "controller "));
		assert_null(strstr(pin, "joined"));
		snprintf(path, sizeof(path), "%s/%s", dir, TRUST_FILE);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(trust_joined(t, err, sizeof(err)), 0);
		assert_null(trust_secret(t));
		trust_free(t);
		read_pin(dir, pin, sizeof(pin));
		assert_non_null(strstr(pin, "\njoined "));
		assert_null(strstr(pin, tok + 70));	/* only a hash */

		/* restart with the same token: pinned, secret not held */
		assert_int_equal(trust_load(dir, NULL, tok, &t, err,
		    sizeof(err)), 0);
		assert_null(trust_secret(t));
		assert_int_equal(trust_accepts(t, cfp), 0);
		trust_free(t);
		/* the token may leave the configuration: the file pins */
		assert_int_equal(trust_load(dir, NULL, NULL, &t, err,
		    sizeof(err)), 0);
		assert_int_equal(trust_accepts(t, cfp), 0);
		trust_free(t);
		/* a new token for another controller re-pins */
		assert_int_equal(wire_token_make(other, tok, h), 0);
		assert_int_equal(trust_load(dir, NULL, tok, &t, err,
		    sizeof(err)), 0);
		assert_int_equal(trust_accepts(t, other), 0);
		assert_int_equal(trust_accepts(t, cfp), -1);
		assert_non_null(trust_secret(t));
		trust_free(t);
	}
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_trust", 1, LOG_LVL_WARN);
	tmpdir = tmpdir_make(tmpl);
	return tmpdir == NULL || wire_init() != 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_keywords),
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_pin_sources),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
