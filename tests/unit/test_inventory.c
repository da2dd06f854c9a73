/*
 * controller/inventory.c: record encoding round trips, rejection of
 * damaged records, names/labels/addresses, and the LMDB store (writes in
 * one transaction, reload after reopening).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "controller/inventory.h"
#include "tmpdir.h"

static char tmpl[] = "/tmp/fftest-inv-XXXXXX";
static char *tmpdir;

static void
sample_node(inv_node_t *n, const char *name)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->address, sizeof(n->address), "[2001:db8::7]:2211:4211");
	snprintf(n->fp, sizeof(n->fp), "sha256:%064d", 7);
	snprintf(n->labels[0], sizeof(n->labels[0]), "site=ams");
	snprintf(n->labels[1], sizeof(n->labels[1]), "edge");
	n->nlabels = 2;
	n->added_ms = 1700000000000ull;
	n->enrolled_ms = 1700000000500ull;
	n->last_seen_ms = 1700000100000ull;
	snprintf(n->version, sizeof(n->version), "0.1.0");
	n->clock_offset_ms = -1234;
	n->have_offset = 1;
	snprintf(n->health, sizeof(n->health), "degraded");
	n->counters.datagrams = 10;
	n->counters.flows = 300;
	n->counters.bytes = 1ull << 40;
	n->counters.kernel_drops = 3;
	n->counters.flows_per_s = 30;
	n->counters.uptime_ms = 99;
	n->counters.have_store = 1;
	n->counters.store_flows = 299;
	n->counters_ms = 1700000100001ull;
}

static void
test_node_roundtrip(void **state)
{
	inv_node_t a, b;
	char *buf;
	size_t len;
	(void)state;

	sample_node(&a, "web-1.ams");
	assert_int_equal(inv_node_encode(&a, &buf, &len), 0);
	assert_int_equal(inv_node_decode(buf, len, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(buf);

	/* no offset, no fingerprint yet, no labels, small numbers */
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "n");
	snprintf(a.address, sizeof(a.address), "10.0.0.1");
	a.clock_offset_ms = 5;
	a.have_offset = 1;
	assert_int_equal(inv_node_encode(&a, &buf, &len), 0);
	assert_int_equal(inv_node_decode(buf, len, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(buf);
}

static void
test_token_roundtrip(void **state)
{
	inv_token_t a, b;
	char *buf;
	size_t len;
	(void)state;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "n1");
	memset(a.hash, 0xa5, sizeof(a.hash));
	a.created_ms = 1;
	a.expires_ms = 86400001;
	a.used_ms = 5;
	snprintf(a.used_by, sizeof(a.used_by), "sha256:%064d", 1);
	assert_int_equal(inv_token_encode(&a, &buf, &len), 0);
	assert_int_equal(inv_token_decode(buf, len, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(buf);
}

static void
test_damaged_records(void **state)
{
	inv_node_t a, b;
	inv_token_t t;
	char *buf;
	size_t len;
	/* {"v": 1, "name": "x"}: no address */
	static const uint8_t noaddr[] = { 0x82, 0xa1, 'v', 0x01, 0xa4, 'n',
	    'a', 'm', 'e', 0xa1, 'x' };
	/* an array header claiming 2^32-1 elements */
	static const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	(void)state;

	assert_int_equal(inv_node_decode(noaddr, sizeof(noaddr), &b),
	    FF_EPROTO);
	assert_int_equal(inv_node_decode(huge, sizeof(huge), &b), FF_EPROTO);
	assert_int_equal(inv_node_decode("", 0, &b), FF_EPROTO);
	assert_int_equal(inv_token_decode(noaddr, sizeof(noaddr), &t),
	    FF_EPROTO);
	sample_node(&a, "ok");
	assert_int_equal(inv_node_encode(&a, &buf, &len), 0);
	/* every truncation of a good record is refused */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(inv_node_decode(buf, cut, &b), 0);
	/* a record with a bad name inside */
	a.name[0] = '-';
	free(buf);
	assert_int_equal(inv_node_encode(&a, &buf, &len), 0);
	assert_int_equal(inv_node_decode(buf, len, &b), FF_EPROTO);
	free(buf);
	/* a fingerprint that is not canonical */
	sample_node(&a, "ok");
	a.fp[10] = 'G';
	assert_int_equal(inv_node_encode(&a, &buf, &len), 0);
	assert_int_equal(inv_node_decode(buf, len, &b), FF_EPROTO);
	free(buf);
}

static void
test_names_labels_addresses(void **state)
{
	char host[64];
	uint16_t cp, qp;
	(void)state;

	assert_true(wire_name_ok("web-1.ams_2"));
	assert_false(wire_name_ok(""));
	assert_false(wire_name_ok("-x"));
	assert_false(wire_name_ok(".x"));
	assert_false(wire_name_ok("a b"));
	assert_false(wire_name_ok("0123456789012345678901234567890123456789"
	    "012345678901234567890123"));	/* 64 bytes */
	assert_true(wire_label_ok("site=ams/rack:4"));
	assert_false(wire_label_ok("a,b"));
	assert_false(wire_label_ok(""));

	assert_int_equal(wire_node_addr_parse("10.1.2.3", host, sizeof(host), &cp,
	    &qp), 0);
	assert_string_equal(host, "10.1.2.3");
	assert_int_equal(cp, 2210);	/* the defaults: PROTOCOL.md */
	assert_int_equal(qp, 4210);
	assert_int_equal(wire_node_addr_parse("site.example:9000", host,
	    sizeof(host), &cp, &qp), 0);
	assert_string_equal(host, "site.example");
	assert_int_equal(cp, 9000);
	assert_int_equal(qp, 4210);
	assert_int_equal(wire_node_addr_parse("[2001:db8::1]:1:2", host,
	    sizeof(host), &cp, &qp), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(cp, 1);
	assert_int_equal(qp, 2);
	assert_int_equal(wire_node_addr_parse("2001:db8::1", host, sizeof(host),
	    &cp, &qp), FF_EINVAL);	/* IPv6 needs brackets */
	assert_int_equal(wire_node_addr_parse("h:0", host, sizeof(host), &cp, &qp),
	    FF_EINVAL);
	assert_int_equal(wire_node_addr_parse("h:65536", host, sizeof(host), &cp,
	    &qp), FF_EINVAL);
	assert_int_equal(wire_node_addr_parse("h:1:2:3", host, sizeof(host), &cp,
	    &qp), FF_EINVAL);
	assert_int_equal(wire_node_addr_parse("h:", host, sizeof(host), &cp, &qp),
	    FF_EINVAL);
	assert_int_equal(wire_node_addr_parse("[::1", host, sizeof(host), &cp,
	    &qp), FF_EINVAL);
	assert_int_equal(wire_node_addr_parse("a/b", host, sizeof(host), &cp, &qp),
	    FF_EINVAL);
}

struct seen {
	inv_node_t nodes[4];
	size_t nnodes;
	inv_token_t toks[4];
	size_t ntoks;
};

static void
seen_node(void *arg, const inv_node_t *n)
{
	struct seen *s = arg;

	assert_true(s->nnodes < 4);
	s->nodes[s->nnodes++] = *n;
}

static void
seen_tok(void *arg, const inv_token_t *t)
{
	struct seen *s = arg;

	assert_true(s->ntoks < 4);
	s->toks[s->ntoks++] = *t;
}

static void
test_lmdb_store(void **state)
{
	inventory_t *inv;
	inv_op_t ops[3];
	struct seen s;
	char err[256];
	(void)state;

	assert_int_equal(inv_open(tmpdir, &inv, err, sizeof(err)), 0);
	memset(ops, 0, sizeof(ops));
	ops[0].kind = INV_PUT_NODE;
	sample_node(&ops[0].node, "b");
	ops[1].kind = INV_PUT_NODE;
	sample_node(&ops[1].node, "a");
	ops[2].kind = INV_PUT_TOKEN;
	snprintf(ops[2].token.name, sizeof(ops[2].token.name), "a");
	ops[2].token.expires_ms = 42;
	assert_int_equal(inv_write(inv, ops, 3, err, sizeof(err)), 0);
	inv_close(inv);

	/* reopened: everything is there, in name order */
	assert_int_equal(inv_open(tmpdir, &inv, err, sizeof(err)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(inv_load(inv, seen_node, seen_tok, &s, err,
	    sizeof(err)), 0);
	assert_int_equal(s.nnodes, 2);
	assert_string_equal(s.nodes[0].name, "a");
	assert_string_equal(s.nodes[1].name, "b");
	assert_memory_equal(&s.nodes[1], &ops[0].node, sizeof(inv_node_t));
	assert_int_equal(s.ntoks, 1);
	assert_int_equal(s.toks[0].expires_ms, 42);

	/* deletes, including of what does not exist */
	memset(ops, 0, sizeof(ops));
	ops[0].kind = INV_DEL_NODE;
	snprintf(ops[0].name, sizeof(ops[0].name), "a");
	ops[1].kind = INV_DEL_TOKEN;
	snprintf(ops[1].name, sizeof(ops[1].name), "a");
	ops[2].kind = INV_DEL_NODE;
	snprintf(ops[2].name, sizeof(ops[2].name), "nothere");
	assert_int_equal(inv_write(inv, ops, 3, err, sizeof(err)), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(inv_load(inv, seen_node, seen_tok, &s, err,
	    sizeof(err)), 0);
	assert_int_equal(s.nnodes, 1);
	assert_string_equal(s.nodes[0].name, "b");
	assert_int_equal(s.ntoks, 0);
	inv_close(inv);
}

static int
setup(void **state)
{
	(void)state;
	tmpdir = tmpdir_make(tmpl);
	return tmpdir == NULL;
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
		cmocka_unit_test(test_node_roundtrip),
		cmocka_unit_test(test_token_roundtrip),
		cmocka_unit_test(test_damaged_records),
		cmocka_unit_test(test_names_labels_addresses),
		cmocka_unit_test(test_lmdb_store),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
