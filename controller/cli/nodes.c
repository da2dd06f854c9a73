/*
 * flowfleet nodes add | list | show | remove: the controller's
 * inventory of nodes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/table.h"
#include "common/util.h"
#include "cli.h"

void
cli_nodes_add_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes add NAME ADDRESS [--label L]... [--fingerprint FP]\n"
"                           [--ttl DURATION] [--timeout DUR] [-s SOCKET]\n"
"                           [--json]\n"
"\n"
"Add a node to the inventory; the controller starts dialing it.\n"
"\n"
"  NAME       1 to 63 letters, digits, '.', '_' or '-'\n"
"  ADDRESS    HOST[:CONTROL_PORT[:QUERY_PORT]] (defaults 2210 and 4210;\n"
"             IPv6 in brackets: [2001:db8::1]:2210:4210)\n"
"  --label L  a label or group (repeat for more): letters, digits and\n"
"             . _ : = / -\n"
"  --fingerprint FP\n"
"             pin the node's key now ('flowfleet-node fingerprint' on the\n"
"             node prints it)\n"
"  --ttl DURATION\n"
"             lifetime of the join token (default 24h; 1s to 30d)\n"
"  --timeout DUR\n"
"             how long to wait for the controller, in all (default 15s)\n"
"\n"
"Without --fingerprint, a one-time join token is printed on stdout: put\n"
"it in the node's configuration ('join-token TOKEN'). The node then\n"
"trusts this controller's key, and proves itself once with the token;\n"
"its key is pinned. A used or expired token is refused.\n"
"\n"
"Exit status: 0 added, 1 refused (name, address or key already in use,\n"
"bad value), 2 usage, 3 controller unreachable or silent.\n");
}

void
cli_nodes_list_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes list [--timeout DUR] [-s SOCKET] [--json]\n"
"\n"
"List the inventory: name, address, state, pinned key (shortened; 'nodes\n"
"show' prints it whole), labels and when each node was added.\n"
"\n"
"  --timeout DUR  how long to wait for the controller, in all (default\n"
"                 15s)\n"
"\n"
"Exit status: 0, or 3 when the controller cannot be reached or did not\n"
"answer in time.\n");
}

void
cli_nodes_show_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes show NAME [--timeout DUR] [-s SOCKET] [--json]\n"
"\n"
"Everything the controller knows about one node: address and ports, key,\n"
"labels, both channels' state and last error, version, last seen, clock\n"
"offset, health, counters and join token.\n"
"\n"
"  --timeout DUR  how long to wait for the controller, in all (default\n"
"                 15s)\n"
"\n"
"Exit status: 0, 3 controller unreachable or silent, 5 no such node.\n");
}

void
cli_nodes_remove_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes remove NAME [--timeout DUR] [-s SOCKET] [--json]\n"
"\n"
"Close the node's sessions and delete it, its pinned key and its join\n"
"token from the inventory. To enroll it again, 'nodes add' it again.\n"
"\n"
"  --timeout DUR  how long to wait for the controller, in all (default\n"
"                 15s)\n"
"\n"
"Exit status: 0 removed, 1 failed, 3 controller unreachable or silent,\n"
"5 no such"
"node.\n");
}

/* "sha256:0123456789abcdef..." */
static void
short_fp(const char *fp, char *buf, size_t len)
{
	if (fp[0] == '\0')
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.23s...", fp);
}

static void
labels_text(const msgpack_object *node, char *buf, size_t len)
{
	const msgpack_object *l = wire_get(node, "labels");
	size_t off = 0;

	buf[0] = '\0';
	if (l == NULL || l->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (uint32_t i = 0; i < l->via.array.size && off < len; i++) {
		const msgpack_object *s = &l->via.array.ptr[i];

		if (s->type != MSGPACK_OBJECT_STR)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s",
		    off ? "," : "", (int)s->via.str.size, s->via.str.ptr);
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
}

int
cli_nodes_add(int argc, char **argv)
{
	void (*usage)(FILE *) = cli_nodes_add_usage;
	struct cli_args o;
	struct cli_reply r;
	wire_builder_t b;
	uint64_t ttl = 0;
	char fp[WIRE_FP_LEN], buf[WIRE_TOKEN_LEN + 8], when[32];
	int rc;

	if ((rc = cli_parse(argc, argv, 1, 2, &o, usage)) >= 0)
		return rc;
	if (!wire_name_ok(o.args[0]))
		return cli_usage_error(usage, "bad node name '%s'", o.args[0]);
	if (o.fp != NULL && wire_fp_parse(o.fp, fp) != 0)
		return cli_usage_error(usage, "bad fingerprint '%s'", o.fp);
	if (o.ttl != NULL && o.fp != NULL)
		return cli_usage_error(usage, "--ttl is for join tokens: not "
		    "with --fingerprint");
	if (o.ttl != NULL && (parse_duration_ms(o.ttl, &ttl) != 0 ||
	    ttl < WIRE_TOKEN_TTL_MIN || ttl > WIRE_TOKEN_TTL_MAX))
		return cli_usage_error(usage, "bad --ttl '%s' (1s to 30d)",
		    o.ttl);
	for (size_t i = 0; i < o.nlabels; i++)
		if (!wire_label_ok(o.labels[i]))
			return cli_usage_error(usage, "bad label '%s'",
			    o.labels[i]);
	wire_msg_begin(&b, WIRE_CTL_NODES_ADD, 1, 3 + (o.fp != NULL) +
	    (o.ttl != NULL));
	wire_put_str(&b, "name", o.args[0]);
	wire_put_str(&b, "address", o.args[1]);
	wire_put_key(&b, "labels");
	msgpack_pack_array(wire_builder_pk(&b), (uint32_t)o.nlabels);
	for (size_t i = 0; i < o.nlabels; i++) {
		size_t n = strlen(o.labels[i]);

		msgpack_pack_str(wire_builder_pk(&b), n);
		msgpack_pack_str_body(wire_builder_pk(&b), o.labels[i], n);
	}
	if (o.fp != NULL)
		wire_put_str(&b, "fingerprint", fp);
	if (o.ttl != NULL)
		wire_put_u64(&b, "ttl_ms", ttl);
	if ((rc = cli_request(&b, 1, &r)) != EX_OK)
		return rc;
	if (cli.json)
		rc = cli_json_print(&r.msg.body);
	else if (wire_get_strbuf(&r.msg.body, "token", buf, sizeof(buf)) == 0) {
		time_fmt_ms(cli_u64(&r.msg.body, "expires_ms"), when,
		    sizeof(when));
		printf("%s\n", buf);
		fprintf(stderr, CLI_PROG ": node %s added; configure it with "
		    "the join token above ('join-token TOKEN'); it can be "
		    "used once, until %s\n", o.args[0], when);
	} else
		printf("node %s added with key %s\n", o.args[0],
		    cli_str(&r.msg.body, "fingerprint", "", buf, sizeof(buf)));
	cli_reply_free(&r);
	return rc;
}

int
cli_nodes_remove(int argc, char **argv)
{
	struct cli_args o;
	struct cli_reply r;
	wire_builder_t b;
	int rc;

	if ((rc = cli_parse(argc, argv, 0, 1, &o, cli_nodes_remove_usage))
	    >= 0)
		return rc;
	wire_msg_begin(&b, WIRE_CTL_NODES_REMOVE, 1, 1);
	wire_put_str(&b, "name", o.args[0]);
	if ((rc = cli_request(&b, 1, &r)) != EX_OK)
		return rc;
	if (cli.json)
		rc = cli_json_print(&r.msg.body);
	else
		printf("node %s removed\n", o.args[0]);
	cli_reply_free(&r);
	return rc;
}

/* The inventory as list prints it. */
struct list_rows {
	const msgpack_object *nodes;	/* array */
	uint64_t now;			/* the controller's clock */
};

static void
list_row(const void *arg, long i, char cells[][TABLE_CELL])
{
	static const char *const hdr[] = { "NAME", "ADDRESS", "STATE", "KEY",
	    "LABELS", "ADDED" };
	const struct list_rows *l = arg;
	const msgpack_object *n;
	char fp[WIRE_FP_LEN];

	if (i < 0) {
		table_header(cells, hdr, FF_NELEM(hdr));
		return;
	}
	n = &l->nodes->via.array.ptr[i];
	cli_str(n, "name", "", cells[0], TABLE_CELL);
	cli_str(n, "address", "", cells[1], TABLE_CELL);
	cli_str(n, "state", "", cells[2], TABLE_CELL);
	short_fp(cli_str(n, "fingerprint", "", fp, sizeof(fp)), cells[3],
	    TABLE_CELL);
	labels_text(n, cells[4], TABLE_CELL);
	age_fmt(l->now, cli_u64(n, "added_ms"), cells[5], TABLE_CELL);
}

int
cli_nodes_list(int argc, char **argv)
{
	static const int left[] = { 1, 1, 1, 1, 1, 1 };
	struct cli_args o;
	struct cli_reply r;
	struct list_rows l;
	int rc;

	if ((rc = cli_parse(argc, argv, 0, 0, &o, cli_nodes_list_usage)) >= 0 ||
	    (rc = cli_get_nodes(NULL, &r)) != EX_OK)
		return rc;
	l.nodes = cli_array(&r.msg.body, "nodes");
	l.now = cli_u64(wire_get(&r.msg.body, "controller"), "time_ms");
	if (cli.json)
		rc = cli_json_print(&r.msg.body);
	else if (l.nodes->via.array.size == 0)
		printf("no nodes (add one with 'flowfleet nodes add')\n");
	else
		table_print(stdout, &l, l.nodes->via.array.size,
		    FF_NELEM(left), list_row, left);
	cli_reply_free(&r);
	return rc;
}

static void
chan_line(const char *label, const msgpack_object *node, const char *k,
    uint64_t now)
{
	const msgpack_object *ch = wire_get(node, k);
	char st[32], err[256], when[32], ago[32];
	uint64_t since;

	if (ch == NULL || ch->type != MSGPACK_OBJECT_MAP)
		return;
	cli_str(ch, "state", "", st, sizeof(st));
	since = cli_u64(ch, "since_ms");
	age_fmt(now, since, ago, sizeof(ago));
	printf("%-12s%s", label, st);
	if (since != 0)
		printf(" since %s (%s)", time_fmt_ms(since, when,
		    sizeof(when)), ago);
	if (cli_u64(ch, "failures") > 0)
		printf(", %" PRIu64 " failed attempts", cli_u64(ch,
		    "failures"));
	putchar('\n');
	if (cli_str(ch, "error", "", err, sizeof(err))[0] != '\0')
		printf("%-12s%s\n", "", err);
}

static void
show_node(const msgpack_object *n, uint64_t now)
{
	const msgpack_object *k = wire_get(n, "counters");
	const msgpack_object *tok = wire_get(n, "token");
	const msgpack_object *pr = wire_get(n, "problems");
	char b[512], b2[64], h[WIRE_ADDR_MAX + 1];
	uint16_t cp = 0, qp = 0;
	int64_t off;

	printf("%-12s%s\n", "name", cli_str(n, "name", "", b, sizeof(b)));
	cli_str(n, "address", "", b, sizeof(b));
	if (wire_node_addr_parse(b, h, sizeof(h), &cp, &qp) == 0)
		printf("%-12s%s (control %s:%u, query %s:%u)\n", "address", b,
		    h, cp, h, qp);
	else
		printf("%-12s%s\n", "address", b);
	printf("%-12s%s\n", "state", cli_str(n, "state", "", b, sizeof(b)));
	cli_str(n, "fingerprint", "", b, sizeof(b));
	printf("%-12s%s\n", "key", b[0] ? b : "none pinned yet (waiting "
	    "for the node's join token)");
	labels_text(n, b, sizeof(b));
	printf("%-12s%s\n", "labels", b);
	printf("%-12s%s\n", "added", time_fmt_ms(cli_u64(n, "added_ms"), b2,
	    sizeof(b2)));
	if (cli_u64(n, "enrolled_ms") != 0)
		printf("%-12s%s\n", "enrolled", time_fmt_ms(cli_u64(n,
		    "enrolled_ms"), b2, sizeof(b2)));
	chan_line("control", n, "control", now);
	chan_line("query", n, "query", now);
	cli_str(n, "version", "", b, sizeof(b));
	printf("%-12s%s\n", "version", b[0] ? b : "?");
	age_fmt(now, cli_u64(n, "last_seen_ms"), b, sizeof(b));
	printf("%-12s%s\n", "last seen", b);
	if (wire_get_i64(n, "clock_offset_ms", &off) == 0) {
		int warn = cli_bool(n, "clock_warning");
		int64_t rtt = -1;

		(void)wire_get_i64(n, "rtt_ms", &rtt);
		printf("%-12s%+" PRId64 " ms (the node's clock %s; round trip "
		    "%" PRId64 " ms)%s\n", "clock", off, off > 0 ? "is ahead" :
		    off < 0 ? "is behind" : "agrees", rtt, warn ?
		    "  WARNING: over clock-warn" : "");
	} else
		printf("%-12s%s\n", "clock", "not measured yet");
	cli_str(n, "health", "", b, sizeof(b));
	printf("%-12s%s\n", "health", b[0] ? b : "?");
	if (pr != NULL && pr->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < pr->via.array.size; i++)
			if (pr->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
				printf("%-12s- %.*s\n", "",
				    (int)pr->via.array.ptr[i].via.str.size,
				    pr->via.array.ptr[i].via.str.ptr);
	if (k != NULL && cli_u64(n, "counters_ms") != 0) {
		age_fmt(now, cli_u64(n, "counters_ms"), b2, sizeof(b2));
		cli_duration(cli_u64(k, "uptime_ms"), b, sizeof(b));
		printf("%-12snode up %s; reported %s\n", "counters", b, b2);
		printf("%-12sdatagrams %" PRIu64 ", flows %" PRIu64 ", bytes %"
		    PRIu64 ", packets %" PRIu64 ", exporters %" PRIu64 "\n",
		    "intake", cli_u64(k, "datagrams"), cli_u64(k, "flows"),
		    cli_u64(k, "bytes"), cli_u64(k, "packets"), cli_u64(k,
		    "exporters"));
		printf("%-12skernel %" PRIu64 ", truncated %" PRIu64
		    ", store %" PRIu64 "; malformed %" PRIu64 ", no template %"
		    PRIu64 ", sequence gaps %" PRIu64 "\n", "losses",
		    cli_u64(k, "kernel_drops"), cli_u64(k, "truncated"),
		    cli_u64(k, "store_dropped"), cli_u64(k, "malformed"),
		    cli_u64(k, "no_template"), cli_u64(k, "seq_missing"));
		printf("%-12s%" PRIu64 " flows/s, %" PRIu64 " drops/s\n",
		    "rates", cli_u64(k, "flows_per_s"), cli_u64(k,
		    "drops_per_s"));
		if (cli_bool(k, "store"))
			printf("%-12s%" PRIu64 " flows stored\n", "store",
			    cli_u64(k, "store_flows"));
	} else
		printf("%-12s%s\n", "counters", "none reported yet");
	if (tok != NULL && tok->type == MSGPACK_OBJECT_MAP) {
		cli_str(tok, "state", "", b, sizeof(b));
		if (strcmp(b, "used") == 0)
			printf("%-12sused %s by key %s\n", "join token",
			    time_fmt_ms(cli_u64(tok, "used_ms"), b2,
			    sizeof(b2)),
			    cli_str(tok, "used_by", "", b, sizeof(b)));
		else
			printf("%-12s%s, %s %s\n", "join token", b,
			    strcmp(b, "expired") == 0 ? "expired" : "expires",
			    time_fmt_ms(cli_u64(tok, "expires_ms"), b2,
			    sizeof(b2)));
	}
}

int
cli_nodes_show(int argc, char **argv)
{
	struct cli_args o;
	struct cli_reply r;
	const msgpack_object *a;
	int rc;

	if ((rc = cli_parse(argc, argv, 0, 1, &o, cli_nodes_show_usage)) >= 0 ||
	    (rc = cli_get_nodes(o.args[0], &r)) != EX_OK)
		return rc;
	a = cli_array(&r.msg.body, "nodes");
	if (a->via.array.size != 1) {
		fprintf(stderr, CLI_PROG ": no node named '%s'\n", o.args[0]);
		rc = EX_NOTFOUND;
	} else if (cli.json)
		rc = cli_json_print(&a->via.array.ptr[0]);
	else
		show_node(&a->via.array.ptr[0], cli_u64(wire_get(&r.msg.body,
		    "controller"), "time_ms"));
	cli_reply_free(&r);
	return rc;
}

