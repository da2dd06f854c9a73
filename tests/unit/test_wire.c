/*
 * wire/: frames, messages, msgpack bounds, fingerprints, and TLS with key
 * pinning between two real endpoints on loopback in one libuv loop.
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

#include <cmocka.h>

#include "common/err.h"
#include "common/mpcheck.h"
#include "common/util.h"
#include "wire/wire.h"
#include "tmpdir.h"

/* ---- frames ---- */

static void
test_framer_split_everywhere(void **state)
{
	uint8_t stream[4 + 5 + 4 + 3];
	(void)state;

	put_be32(stream, 5);
	memcpy(stream + 4, "hello", 5);
	put_be32(stream + 9, 3);
	memcpy(stream + 13, "abc", 3);
	/* feed the same stream cut at every possible point */
	for (size_t cut = 0; cut <= sizeof(stream); cut++) {
		wire_framer_t f;
		size_t off = 0, nframes = 0;
		const size_t parts[2] = { cut, sizeof(stream) - cut };

		wire_framer_init(&f, 16);
		for (int p = 0; p < 2; p++) {
			size_t end = off + parts[p];

			while (off < end) {
				uint8_t *fr;
				size_t used, flen;
				int rc = wire_framer_feed(&f, stream + off,
				    end - off, &used, &fr, &flen);

				assert_true(rc >= 0);
				off += used;
				if (rc == 1) {
					if (nframes == 0)
						assert_memory_equal(fr,
						    "hello", 5);
					else
						assert_memory_equal(fr,
						    "abc", 3);
					free(fr);
					nframes++;
				}
			}
		}
		assert_int_equal(nframes, 2);
		wire_framer_free(&f);
	}
}

static void
test_framer_limits(void **state)
{
	wire_framer_t f;
	uint8_t hdr[4];
	uint8_t *fr = NULL;
	size_t used, flen;
	(void)state;

	wire_framer_init(&f, 1024);
	put_be32(hdr, 1025);
	assert_int_equal(wire_framer_feed(&f, hdr, 4, &used, &fr, &flen),
	    FF_ELIMIT);
	assert_null(f.buf);	/* nothing allocated for it */
	wire_framer_free(&f);

	wire_framer_init(&f, 1024);
	put_be32(hdr, 0xffffffffu);
	assert_int_equal(wire_framer_feed(&f, hdr, 4, &used, &fr, &flen),
	    FF_ELIMIT);
	wire_framer_free(&f);

	wire_framer_init(&f, 1024);
	put_be32(hdr, 0);
	assert_int_equal(wire_framer_feed(&f, hdr, 4, &used, &fr, &flen),
	    FF_EPROTO);
	wire_framer_free(&f);
}

/* ---- messages ---- */

static void
test_msg_roundtrip(void **state)
{
	wire_builder_t b;
	const uint8_t *frame;
	size_t flen, slen;
	wire_msg_t m;
	uint64_t u;
	int64_t i;
	int bo;
	const char *s;
	const uint8_t *bin;
	char sbuf[8];
	(void)state;

	assert_int_equal(wire_msg_begin(&b, WIRE_HELLO, 77, 5), 0);
	wire_put_u64(&b, "proto", 1);
	wire_put_i64(&b, "offset", -42);
	wire_put_bool(&b, "ok", 1);
	wire_put_str(&b, "name", "node-a");
	wire_put_bin(&b, "blob", "\x00\x01\x02", 3);
	assert_int_equal(wire_msg_end(&b, &frame, &flen), 0);
	assert_int_equal(be32(frame), flen - 4);

	assert_int_equal(wire_msg_decode(frame + 4, flen - 4, &m), 0);
	assert_int_equal(m.type, WIRE_HELLO);
	assert_int_equal(m.id, 77);
	assert_int_equal(wire_get_u64(&m.body, "proto", &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(wire_get_i64(&m.body, "offset", &i), 0);
	assert_int_equal(i, -42);
	assert_int_equal(wire_get_bool(&m.body, "ok", &bo), 0);
	assert_int_equal(bo, 1);
	assert_int_equal(wire_get_str(&m.body, "name", &s, &slen), 0);
	assert_int_equal(slen, 6);
	assert_memory_equal(s, "node-a", 6);
	assert_int_equal(wire_get_bin(&m.body, "blob", &bin, &slen), 0);
	assert_int_equal(slen, 3);
	assert_int_equal(wire_get_u64(&m.body, "absent", &u), FF_ENOENT);
	assert_int_equal(wire_get_u64(&m.body, "name", &u), FF_EPROTO);
	assert_int_equal(wire_get_strbuf(&m.body, "name", sbuf, 6),
	    FF_ELIMIT);
	assert_int_equal(wire_get_strbuf(&m.body, "name", sbuf, 7), 0);
	assert_string_equal(sbuf, "node-a");
	wire_msg_free(&m);
	wire_builder_free(&b);
}

static void
test_msg_rejects(void **state)
{
	wire_msg_t m;
	/* an array header declaring 2^32-1 elements in 5 bytes */
	static const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	/* [1, 2] : not the 3-element envelope */
	static const uint8_t two[] = { 0x92, 0x01, 0x02 };
	/* [1, 2, 3]: body is not a map */
	static const uint8_t nomap[] = { 0x93, 0x01, 0x02, 0x03 };
	/* [1, 2, {}] + trailing byte */
	static const uint8_t trailing[] = { 0x93, 0x01, 0x02, 0x80, 0x00 };
	/* 0xc1 is never used */
	static const uint8_t reserved[] = { 0x93, 0x01, 0x02, 0xc1 };
	uint8_t deep[200];
	size_t used;
	(void)state;

	assert_int_equal(wire_msg_decode(huge, sizeof(huge), &m), FF_EPROTO);
	assert_int_equal(wire_msg_decode(two, sizeof(two), &m), FF_EPROTO);
	assert_int_equal(wire_msg_decode(nomap, sizeof(nomap), &m),
	    FF_EPROTO);
	assert_int_equal(wire_msg_decode(trailing, sizeof(trailing), &m),
	    FF_EPROTO);
	assert_int_equal(wire_msg_decode(reserved, sizeof(reserved), &m),
	    FF_EPROTO);
	/* nesting 199 arrays deep, then nil */
	memset(deep, 0x91, sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0xc0;
	assert_int_equal(mp_check(deep, sizeof(deep), 16, 1000, &used),
	    FF_ELIMIT);
	assert_int_equal(mp_check(deep, sizeof(deep), 63, 1000, &used),
	    FF_ELIMIT);
	assert_int_equal(mp_check(deep + 190, 10, 16, 1000, &used), 0);
	assert_int_equal(used, 10);
	assert_int_equal(mp_check(huge, sizeof(huge), 16, 1000, &used),
	    FF_ETRUNC);
}

static void
test_fingerprint_parse(void **state)
{
	char a[WIRE_FP_LEN], b[WIRE_FP_LEN];
	const char *hex =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	(void)state;

	assert_int_equal(wire_fp_parse(hex, a), 0);
	assert_string_equal(a + 7, hex);
	assert_int_equal(wire_fp_parse("SHA256:00:11:22:33:44:55:66:77:88:99:"
	    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
	    b), 0);
	assert_true(wire_fp_equal(a, b));
	assert_int_equal(wire_fp_parse("sha256:0011", b), FF_EINVAL);
	assert_int_equal(wire_fp_parse("zz", b), FF_EINVAL);
	b[10] ^= 1;
	assert_false(wire_fp_equal(a, b));
}

/* ---- TLS between two endpoints ---- */

struct side {
	const char *name;
	wire_identity_t *id;
	char trust[WIRE_FP_LEN];	/* the one key this side accepts */
	int ready, closed, close_err, msgs;
	char why[256];
	wire_conn_t *conn;
	struct tls_test *t;
};

struct tls_test {
	uv_loop_t loop;
	uv_tcp_t server;
	uv_timer_t guard;
	struct side srv, cli;
	int send_big;		/* client sends a frame over the cap */
};

static int
side_verify(wire_conn_t *c, const char *fp)
{
	struct side *s = wire_conn_udata(c);

	return wire_fp_equal(fp, s->trust) ? 0 : -1;
}

static void
side_ready(wire_conn_t *c)
{
	struct side *s = wire_conn_udata(c);
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;

	s->ready = 1;
	if (s == &s->t->cli) {
		if (s->t->send_big) {
			/* a valid frame of 2 MiB against the 1 MiB cap */
			size_t n = 2u << 20;
			uint8_t *big = calloc(1, n + 4);

			put_be32(big, (uint32_t)n);
			assert_int_equal(wire_conn_send(c, big, n + 4), 0);
			free(big);
			return;
		}
		wire_msg_begin(&b, WIRE_PING, 1, 1);
		wire_put_u64(&b, "t1", 12345);
		wire_msg_end(&b, &f, &flen);
		assert_int_equal(wire_conn_send(c, f, flen), 0);
		wire_builder_free(&b);
	}
}

static void
side_msg(wire_conn_t *c, wire_msg_t *m)
{
	struct side *s = wire_conn_udata(c);
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	uint64_t t1;

	s->msgs++;
	if (s == &s->t->srv) {
		assert_int_equal(m->type, WIRE_PING);
		assert_int_equal(wire_get_u64(&m->body, "t1", &t1), 0);
		wire_msg_begin(&b, WIRE_PONG, m->id, 1);
		wire_put_u64(&b, "t1", t1);
		wire_msg_end(&b, &f, &flen);
		wire_conn_send(c, f, flen);
		wire_builder_free(&b);
	} else {
		assert_int_equal(m->type, WIRE_PONG);
		wire_conn_close(c, "done");
	}
}

static void
side_close(wire_conn_t *c, int err, const char *why)
{
	struct side *s = wire_conn_udata(c);

	s->closed = 1;
	s->close_err = err;
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->conn = NULL;
	if (s->t->srv.closed && s->t->cli.closed) {
		uv_close((uv_handle_t *)&s->t->server, NULL);
		uv_close((uv_handle_t *)&s->t->guard, NULL);
	}
}

static const wire_conn_cbs_t side_cbs = {
	.on_ready = side_ready,
	.on_msg = side_msg,
	.on_close = side_close,
};

static void
on_conn(uv_stream_t *server, int status)
{
	struct tls_test *t = server->data;
	wire_conn_opts_t o = {
		.id = t->srv.id, .verify = side_verify,
		.max_frame = WIRE_MAX_FRAME_CONTROL, .cbs = &side_cbs,
		.udata = &t->srv,
	};

	assert_int_equal(status, 0);
	assert_int_equal(wire_conn_accept(server, &o, &t->srv.conn), 0);
}

static void
on_guard(uv_timer_t *timer)
{
	(void)timer;
	fail_msg("TLS test did not finish in time");
}

static char tmpl[] = "/tmp/fftest-wire-XXXXXX";
static char *tmpdir;

static void
load_id(const char *sub, wire_identity_t **id)
{
	char dir[256], err[256];
	int created;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
	mkdir(dir, 0700);
	assert_int_equal(wire_identity_load(dir, sub, id, &created, err,
	    sizeof(err)), 0);
}

/* Run one client/server exchange; trust settings decide the outcome. */
static void
run_tls(struct tls_test *t, int srv_trusts_cli, int cli_trusts_srv,
    int send_big)
{
	struct sockaddr_in sa;
	int namelen = sizeof(sa);
	wire_identity_t *other;
	wire_conn_opts_t o;

	memset(t, 0, sizeof(*t));
	t->srv.t = t->cli.t = t;
	t->send_big = send_big;
	load_id("srv", &t->srv.id);
	load_id("cli", &t->cli.id);
	load_id("other", &other);
	snprintf(t->srv.trust, WIRE_FP_LEN, "%s", srv_trusts_cli ?
	    wire_identity_fp(t->cli.id) : wire_identity_fp(other));
	snprintf(t->cli.trust, WIRE_FP_LEN, "%s", cli_trusts_srv ?
	    wire_identity_fp(t->srv.id) : wire_identity_fp(other));

	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_tcp_init(&t->loop, &t->server);
	t->server.data = t;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&t->server, (struct sockaddr *)&sa, 0),
	    0);
	assert_int_equal(uv_listen((uv_stream_t *)&t->server, 8, on_conn), 0);
	uv_tcp_getsockname(&t->server, (struct sockaddr *)&sa, &namelen);
	uv_timer_init(&t->loop, &t->guard);
	uv_timer_start(&t->guard, on_guard, 20000, 0);

	memset(&o, 0, sizeof(o));
	o.id = t->cli.id;
	o.verify = side_verify;
	o.max_frame = WIRE_MAX_FRAME_CONTROL;
	o.cbs = &side_cbs;
	o.udata = &t->cli;
	assert_int_equal(wire_conn_connect(&t->loop, (struct sockaddr *)&sa,
	    &o, &t->cli.conn), 0);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	wire_identity_free(t->srv.id);
	wire_identity_free(t->cli.id);
	wire_identity_free(other);
}

static void
test_tls_pinned(void **state)
{
	struct tls_test t;
	(void)state;

	run_tls(&t, 1, 1, 0);
	assert_true(t.srv.ready);
	assert_true(t.cli.ready);
	assert_int_equal(t.srv.msgs, 1);
	assert_int_equal(t.cli.msgs, 1);
	assert_int_equal(t.cli.close_err, 0);
}

static void
test_tls_server_refuses_unknown_client(void **state)
{
	struct tls_test t;
	(void)state;

	run_tls(&t, 0, 1, 0);
	assert_false(t.srv.ready);
	assert_int_equal(t.srv.msgs, 0);
	assert_int_equal(t.srv.close_err, FF_EAUTH);
	assert_non_null(strstr(t.srv.why, "not trusted"));
	assert_true(t.cli.closed);
	assert_int_equal(t.cli.msgs, 0);
}

static void
test_tls_client_refuses_wrong_server(void **state)
{
	struct tls_test t;
	(void)state;

	run_tls(&t, 1, 0, 0);
	assert_false(t.cli.ready);
	assert_false(t.srv.ready);
	assert_int_equal(t.cli.close_err, FF_EAUTH);
	assert_non_null(strstr(t.cli.why, "not trusted"));
	assert_int_equal(t.srv.msgs, 0);
}

static void
test_tls_frame_over_cap(void **state)
{
	struct tls_test t;
	(void)state;

	run_tls(&t, 1, 1, 1);
	assert_true(t.srv.ready);
	assert_int_equal(t.srv.msgs, 0);
	assert_int_equal(t.srv.close_err, FF_ELIMIT);
	assert_non_null(strstr(t.srv.why, "cap"));
}

static int
setup_tmp(void **state)
{
	(void)state;
	tmpdir = tmpdir_make(tmpl);
	return tmpdir == NULL || wire_init() != 0;
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

static void
test_identity_persists(void **state)
{
	wire_identity_t *a, *b;
	char dir[256], err[256], path[300];
	struct stat st;
	int created;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/persist", tmpdir);
	mkdir(dir, 0700);
	assert_int_equal(wire_identity_load(dir, "x", &a, &created, err,
	    sizeof(err)), 0);
	assert_int_equal(created, 1);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(wire_identity_load(dir, "x", &b, &created, err,
	    sizeof(err)), 0);
	assert_int_equal(created, 0);
	assert_string_equal(wire_identity_fp(a), wire_identity_fp(b));
	wire_identity_free(b);
	/* a key readable by others is refused */
	chmod(path, 0644);
	assert_int_equal(wire_identity_load(dir, "x", &b, &created, err,
	    sizeof(err)), FF_EAUTH);
	assert_non_null(strstr(err, "chmod 600"));
	/* a lone certificate is refused, not silently replaced */
	unlink(path);
	assert_int_equal(wire_identity_load(dir, "x", &b, &created, err,
	    sizeof(err)), FF_ENOENT);
	wire_identity_free(a);
}

static void
test_hostport(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	(void)state;

	assert_int_equal(wire_parse_hostport("127.0.1.2", 2210, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 2210);
	assert_int_equal(wire_parse_hostport("127.0.1.2:9000", 2210, &ss), 0);
	assert_int_equal(ntohs(sin->sin_port), 9000);
	assert_int_equal(wire_parse_hostport("[::1]:4210", 2210, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 4210);
	assert_int_equal(wire_parse_hostport("::1", 2210, &ss), FF_EINVAL);
	assert_int_equal(wire_parse_hostport("1.2.3.4:0", 2210, &ss),
	    FF_EINVAL);
	assert_int_equal(wire_parse_hostport("1.2.3.4:70000", 2210, &ss),
	    FF_EINVAL);
	assert_int_equal(wire_parse_hostport("", 2210, &ss), FF_EINVAL);
}

/*
 * The packing helpers write map entries that the getters read back as
 * they were given.
 */
static void
test_pack_helpers(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	const msgpack_object *m;
	const char *str;
	const uint8_t *bin;
	size_t len;
	uint64_t u64;
	int64_t i64;
	int b;
	(void)state;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(msgpack_pack_map(&pk, 6), 0);
	assert_int_equal(wire_pack_kv_u64(&pk, "u", UINT64_MAX), 0);
	assert_int_equal(wire_pack_kv_i64(&pk, "i", INT64_MIN), 0);
	assert_int_equal(wire_pack_kv_bool(&pk, "b", 1), 0);
	assert_int_equal(wire_pack_kv_str(&pk, "s", "edge-ams"), 0);
	assert_int_equal(wire_pack_kv_bin(&pk, "x", "\0\1\2", 3), 0);
	assert_int_equal(wire_pack_str(&pk, "k"), 0);
	assert_int_equal(wire_pack_str(&pk, ""), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	m = &u.data;
	assert_int_equal(wire_get_u64(m, "u", &u64), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(wire_get_i64(m, "i", &i64), 0);
	assert_true(i64 == INT64_MIN);
	assert_int_equal(wire_get_bool(m, "b", &b), 0);
	assert_int_equal(b, 1);
	assert_true(wire_str_is(m, "s", "edge-ams"));
	assert_false(wire_str_is(m, "s", "edge-am"));
	assert_int_equal(wire_get_bin(m, "x", &bin, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(bin, "\0\1\2", 3);
	assert_int_equal(wire_get_str(m, "k", &str, &len), 0);
	assert_int_equal(len, 0);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * The join-token check: a token made by wire_token_make() lets its own
 * secret in while unused and unexpired; any other secret, a used or an
 * expired token, or no token at all is refused with its reason.
 */
static void
test_token_check(void **state)
{
	char tok[WIRE_TOKEN_LEN], other[WIRE_TOKEN_LEN];
	char fp[WIRE_FP_LEN], secret[WIRE_TOKEN_SECRET_LEN + 1];
	char osecret[WIRE_TOKEN_SECRET_LEN + 1];
	uint8_t h[WIRE_TOKEN_HASH_LEN], oh[WIRE_TOKEN_HASH_LEN];
	const char *cfp = "sha256:00112233445566778899aabbccddeeff0011223344"
	    "5566778899aabbccddeeff";
	size_t n = WIRE_TOKEN_SECRET_LEN;
	(void)state;

	assert_int_equal(wire_init(), 0);
	assert_int_equal(wire_token_make(cfp, tok, h), 0);
	assert_int_equal(wire_token_parse(tok, fp, secret), 0);
	assert_int_equal(wire_token_make(cfp, other, oh), 0);
	assert_int_equal(wire_token_parse(other, fp, osecret), 0);

	/* its own secret, unused, expiring after now */
	assert_null(wire_token_check(secret, n, 1, h, 0, 2000, 1999));
	/* another token's secret, a secret cut short, garbage */
	assert_string_equal(wire_token_check(osecret, n, 1, h, 0, 2000, 1),
	    "wrong");
	assert_string_equal(wire_token_check(secret, n - 1, 1, h, 0, 2000, 1),
	    "wrong");
	assert_string_equal(wire_token_check("x", 1, 1, h, 0, 2000, 1),
	    "wrong");
	/* no token issued for the node: even its hash's secret is wrong */
	assert_string_equal(wire_token_check(secret, n, 0, h, 0, 2000, 1),
	    "wrong");
	/* used, then expired (at the expiry instant already) */
	assert_string_equal(wire_token_check(secret, n, 1, h, 1500, 2000, 1),
	    "used");
	assert_string_equal(wire_token_check(secret, n, 1, h, 0, 2000, 2000),
	    "expired");
	/* the secret decides first: a wrong secret on a used token is
	   "wrong", so only the holder learns that it was used */
	assert_string_equal(wire_token_check(osecret, n, 1, h, 1500, 2000,
	    3000), "wrong");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_split_everywhere),
		cmocka_unit_test(test_framer_limits),
		cmocka_unit_test(test_msg_roundtrip),
		cmocka_unit_test(test_msg_rejects),
		cmocka_unit_test(test_fingerprint_parse),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_token_check),
		cmocka_unit_test(test_pack_helpers),
		cmocka_unit_test(test_identity_persists),
		cmocka_unit_test(test_tls_pinned),
		cmocka_unit_test(test_tls_server_refuses_unknown_client),
		cmocka_unit_test(test_tls_client_refuses_wrong_server),
		cmocka_unit_test(test_tls_frame_over_cap),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
