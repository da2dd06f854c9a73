/*
 * flowfleet: the command-line interface to the fleet controller, over
 * its local control socket.
 *
 *   flowfleet [-s SOCKET] [--json] nodes add NAME ADDRESS [--label L]...
 *             [--fingerprint FP] [--ttl DURATION]
 *   flowfleet [-s SOCKET] [--json] nodes list | nodes show NAME |
 *             nodes remove NAME
 *   flowfleet [-s SOCKET] [--json] status
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "common/version.h"
#include "wire/wire.h"
#include "cli.h"
#include "client.h"

#define REQ_TIMEOUT_MS	15000
#define CELL		160
#define MAX_COLS	12

const char *cli_sock_path;
int cli_json;

static void
usage_main(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet [-s SOCKET] [--json] COMMAND [ARGS]\n"
"\n"
"Manage a flowfleet fleet through its controller's control socket.\n"
"\n"
"Commands:\n"
"  nodes add NAME ADDRESS [--label L]... [--fingerprint FP] [--ttl DUR]\n"
"                     enroll a node; without --fingerprint print a join\n"
"                     token for it\n"
"  nodes list         the inventory: addresses, keys, labels, state\n"
"  nodes show NAME    everything known about one node\n"
"  nodes remove NAME  forget a node and its key\n"
"  status             the fleet at a glance: up/down, versions, last seen,\n"
"                     clock offsets, flows/s, drops\n"
"  query [OPTIONS]    ask every node (or some) one question: totals, top N,\n"
"                     series, listing, distinct count; exact merged answer\n"
"                     with its coverage ('flowfleet help query')\n"
"  help [COMMAND]     this text, or a command's\n"
"\n"
"Options (before or after the command):\n"
"  -s SOCKET   the controller's socket (default: $FLOWFLEET_SOCKET, else\n"
"              " WIRE_CTL_SOCKET_DEFAULT ")\n"
"  --json      print the controller's answer as JSON\n"
"  -h, --help  help\n"
"\n"
"Exit status:\n"
"  0  success (status: every node is up)\n"
"  1  the controller refused or failed the request (message on stderr)\n"
"  2  usage error\n"
"  3  the controller cannot be reached, or did not answer in time\n"
"  4  status: at least one node is not up\n"
"  5  no such node (nodes show, nodes remove, query --nodes)\n"
"  6  query: partial answer, some node did not answer\n"
"  130 query: interrupted (cancelled on every node)\n");
}

static void
usage_add(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes add NAME ADDRESS [--label L]... [--fingerprint FP]\n"
"                           [--ttl DURATION] [-s SOCKET] [--json]\n"
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
"\n"
"Without --fingerprint, a one-time join token is printed on stdout: put\n"
"it in the node's configuration ('join-token TOKEN'). The node then\n"
"trusts this controller's key, and proves itself once with the token;\n"
"its key is pinned. A used or expired token is refused.\n"
"\n"
"Exit status: 0 added, 1 refused (name, address or key already in use,\n"
"bad value), 2 usage, 3 controller unreachable.\n");
}

static void
usage_list(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes list [-s SOCKET] [--json]\n"
"\n"
"List the inventory: name, address, state, pinned key (shortened; 'nodes\n"
"show' prints it whole), labels and when each node was added.\n"
"\n"
"Exit status: 0, or 3 when the controller cannot be reached.\n");
}

static void
usage_show(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes show NAME [-s SOCKET] [--json]\n"
"\n"
"Everything the controller knows about one node: address and ports, key,\n"
"labels, both channels' state and last error, version, last seen, clock\n"
"offset, health, counters and join token.\n"
"\n"
"Exit status: 0, 3 controller unreachable, 5 no such node.\n");
}

static void
usage_remove(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet nodes remove NAME [-s SOCKET] [--json]\n"
"\n"
"Close the node's sessions and delete it, its pinned key and its join\n"
"token from the inventory. To enroll it again, 'nodes add' it again.\n"
"\n"
"Exit status: 0 removed, 1 failed, 3 controller unreachable, 5 no such\n"
"node.\n");
}

static void
usage_status(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet status [-s SOCKET] [--json]\n"
"\n"
"The fleet at a glance, one line per node:\n"
"  STATE     up, down, connecting, pending (waiting for its join token),\n"
"            token-expired, enrolling\n"
"  QUERY     the query channel (4210): up or down\n"
"  VERSION   the node's software version\n"
"  LAST-SEEN when the node last answered (PONG or STATUS)\n"
"  CLOCK     the node's clock offset from the controller's (+: ahead);\n"
"            '!' marks an offset over the controller's clock-warn\n"
"  FLOWS/S   flows received per second over the node's last 10 s\n"
"  DROPS/S   datagrams and flows lost per second, same window\n"
"  DROPS     all lost since the node started (kernel socket drops,\n"
"            truncated datagrams, store write failures)\n"
"  HEALTH    ok, or degraded (see 'nodes show' for why)\n"
"\n"
"Exit status: 0 every node is up, 4 at least one is not, 3 controller\n"
"unreachable.\n");
}

static int
errx_usage(void (*u)(FILE *), const char *fmt, ...)
{
	va_list ap;

	fputs("flowfleet: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	u(stderr);
	return EX_USAGE;
}

/* ---- talking to the controller ---- */

/*
 * Send the built request and wait for the reply with its id. On success
 * returns EX_OK with the reply in *m (valid until ctlc_close). Prints
 * the error and returns the exit code otherwise.
 */
static int
call(ctlc_t *cc, wire_builder_t *b, uint32_t id, wire_msg_t *m)
{
	const uint8_t *f;
	size_t flen;
	char err[512];
	int rc;

	/* a closed client, so that the caller's ctlc_close() always works */
	memset(cc, 0, sizeof(*cc));
	cc->fd = -1;
	if (wire_msg_end(b, &f, &flen) != 0) {
		fprintf(stderr, "flowfleet: out of memory\n");
		return EX_FAILED;
	}
	if (ctlc_open(cc, cli_sock_path, err, sizeof(err)) != 0 ||
	    ctlc_send(cc, f, flen, err, sizeof(err)) != 0) {
		fprintf(stderr, "flowfleet: %s\n", err);
		return EX_UNREACHABLE;
	}
	for (;;) {
		if ((rc = ctlc_recv(cc, m, REQ_TIMEOUT_MS, err, sizeof(err)))
		    != 0) {
			fprintf(stderr, "flowfleet: %s\n", err);
			return rc == FF_EPROTO ? EX_FAILED : EX_UNREACHABLE;
		}
		if (m->id == id)
			break;
		wire_msg_free(m);
	}
	if (m->type == WIRE_ERROR) {
		int64_t code = 0;
		char text[512] = "";

		(void)wire_get_i64(&m->body, "code", &code);
		(void)wire_get_strbuf(&m->body, "msg", text, sizeof(text));
		fprintf(stderr, "flowfleet: %s\n", text[0] ? text :
		    ff_strerror((int)code));
		wire_msg_free(m);
		return code == FF_ENOENT ? EX_NOTFOUND : EX_FAILED;
	}
	return EX_OK;
}

/* ---- JSON ---- */

void
cli_json_obj(FILE *fp, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", fp);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", fp);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(fp, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(fp, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		fprintf(fp, "%.17g", o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		json_str(fp, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		fputc('"', fp);
		for (uint32_t i = 0; i < o->via.bin.size; i++)
			fprintf(fp, "%02x", (unsigned char)o->via.bin.ptr[i]);
		fputc('"', fp);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', fp);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', fp);
			cli_json_obj(fp, &o->via.array.ptr[i]);
		}
		fputc(']', fp);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', fp);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];

			if (i)
				fputc(',', fp);
			if (kv->key.type == MSGPACK_OBJECT_STR)
				json_str(fp, kv->key.via.str.ptr,
				    kv->key.via.str.size);
			else
				json_str(fp, "?", 1);
			fputc(':', fp);
			cli_json_obj(fp, &kv->val);
		}
		fputc('}', fp);
		break;
	default:
		fputs("null", fp);
	}
}

static int
print_json(const msgpack_object *o)
{
	cli_json_obj(stdout, o);
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? EX_OK : EX_FAILED;
}

/* ---- field access for printing ---- */

static uint64_t
u64f(const msgpack_object *m, const char *k)
{
	uint64_t v = 0;

	(void)wire_get_u64(m, k, &v);
	return v;
}

/* A string field into buf ("" when absent or too long). */
static const char *
strf(const msgpack_object *m, const char *k, char *buf, size_t len)
{
	if (wire_get_strbuf(m, k, buf, len) != 0)
		buf[0] = '\0';
	return buf;
}

static void
duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 120)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRIu64 "m", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
		    s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
		    s / 3600 % 24);
}

/* "1.2k", "3.4M": counts for narrow columns. */
void
cli_count(uint64_t v, char *buf, size_t len)
{
	if (v < 10000)
		snprintf(buf, len, "%" PRIu64, v);
	else if (v < 10000000)
		snprintf(buf, len, "%.1fk", (double)v / 1e3);
	else if (v < 10000000000ull)
		snprintf(buf, len, "%.1fM", (double)v / 1e6);
	else
		snprintf(buf, len, "%.1fG", (double)v / 1e9);
}

/* ---- tables ---- */

struct table {
	size_t ncols, nrows;
	const int *left;	/* per column: left-aligned */
	char (*cells)[MAX_COLS][CELL];
};

static int
table_init(struct table *t, size_t ncols, size_t nrows, const int *left,
    const char *const *hdr)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->left = left;
	if ((t->cells = calloc(nrows + 1, sizeof(*t->cells))) == NULL)
		return -1;
	for (size_t c = 0; c < ncols; c++)
		snprintf(t->cells[0][c], CELL, "%s", hdr[c]);
	t->nrows = 1;
	return 0;
}

static void
table_print(struct table *t)
{
	size_t w[MAX_COLS] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			w[c] = FF_MAX(w[c], strlen(t->cells[r][c]));
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			int last = c + 1 == t->ncols;

			printf("%s%*s", c ? "  " : "", t->left[c] ?
			    (last ? 0 : -(int)w[c]) : (int)w[c],
			    t->cells[r][c]);
		}
		putchar('\n');
	}
	free(t->cells);
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

static const msgpack_object *
nodes_of(const wire_msg_t *m)
{
	const msgpack_object *a = wire_get(&m->body, "nodes");

	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	return a;
}

/* ---- commands ---- */

struct opts {
	const char *labels[WIRE_LABELS_MAX + 1];
	size_t nlabels;
	const char *fp;
	const char *ttl;
	char *args[4];
	int nargs;
};

/*
 * Parse a command's options (-s, --json, -h and, for add, --label,
 * --fingerprint, --ttl) and its positional arguments (at most max).
 * Returns -1 to go on, else an exit code.
 */
static int
parse_opts(int argc, char **argv, int add, int max, struct opts *o,
    void (*u)(FILE *))
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "label", required_argument, NULL, 'l' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:h", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			cli_sock_path = optarg;
			break;
		case 'j':
			cli_json = 1;
			break;
		case 'h':
			u(stdout);
			return EX_OK;
		case 'l':
		case 'f':
		case 't':
			if (!add)
				return errx_usage(u, "--%s is an option of "
				    "'nodes add'", ch == 'l' ? "label" :
				    ch == 'f' ? "fingerprint" : "ttl");
			if (ch == 'l') {
				if (o->nlabels == WIRE_LABELS_MAX)
					return errx_usage(u, "at most %d "
					    "labels", WIRE_LABELS_MAX);
				o->labels[o->nlabels++] = optarg;
			} else if (ch == 'f')
				o->fp = optarg;
			else
				o->ttl = optarg;
			break;
		default:
			u(stderr);
			return EX_USAGE;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (o->nargs == max)
			return errx_usage(u, "unexpected argument '%s'",
			    argv[i]);
		o->args[o->nargs++] = argv[i];
	}
	if (o->nargs < max)
		return errx_usage(u, "missing argument");
	return -1;
}

static int
cmd_add(int argc, char **argv)
{
	struct opts o;
	ctlc_t cc;
	wire_builder_t b;
	wire_msg_t m;
	uint64_t ttl = 0;
	char fp[WIRE_FP_LEN], buf[WIRE_TOKEN_LEN + 8], when[32];
	int rc;

	if ((rc = parse_opts(argc, argv, 1, 2, &o, usage_add)) >= 0)
		return rc;
	if (!wire_name_ok(o.args[0]))
		return errx_usage(usage_add, "bad node name '%s'", o.args[0]);
	if (o.fp != NULL && wire_fp_parse(o.fp, fp) != 0)
		return errx_usage(usage_add, "bad fingerprint '%s'", o.fp);
	if (o.ttl != NULL && o.fp != NULL)
		return errx_usage(usage_add, "--ttl is for join tokens: not "
		    "with --fingerprint");
	if (o.ttl != NULL && (parse_duration_ms(o.ttl, &ttl) != 0 ||
	    ttl < WIRE_TOKEN_TTL_MIN || ttl > WIRE_TOKEN_TTL_MAX))
		return errx_usage(usage_add, "bad --ttl '%s' (1s to 30d)",
		    o.ttl);
	for (size_t i = 0; i < o.nlabels; i++)
		if (!wire_label_ok(o.labels[i]))
			return errx_usage(usage_add, "bad label '%s'",
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
	rc = call(&cc, &b, 1, &m);
	wire_builder_free(&b);
	if (rc == EX_OK) {
		if (cli_json)
			rc = print_json(&m.body);
		else if (wire_get_strbuf(&m.body, "token", buf, sizeof(buf))
		    == 0) {
			time_fmt_ms(u64f(&m.body, "expires_ms"), when,
			    sizeof(when));
			printf("%s\n", buf);
			fprintf(stderr, "flowfleet: node %s added; configure "
			    "it with the join token above ('join-token "
			    "TOKEN'); it can be used once, until %s\n",
			    o.args[0], when);
		} else
			printf("node %s added with key %s\n", o.args[0],
			    strf(&m.body, "fingerprint", buf, sizeof(buf)));
		wire_msg_free(&m);
	}
	ctlc_close(&cc);
	return rc;
}

static int
cmd_remove(int argc, char **argv)
{
	struct opts o;
	ctlc_t cc;
	wire_builder_t b;
	wire_msg_t m;
	int rc;

	if ((rc = parse_opts(argc, argv, 0, 1, &o, usage_remove)) >= 0)
		return rc;
	wire_msg_begin(&b, WIRE_CTL_NODES_REMOVE, 1, 1);
	wire_put_str(&b, "name", o.args[0]);
	rc = call(&cc, &b, 1, &m);
	wire_builder_free(&b);
	if (rc == EX_OK) {
		if (cli_json)
			rc = print_json(&m.body);
		else
			printf("node %s removed\n", o.args[0]);
		wire_msg_free(&m);
	}
	ctlc_close(&cc);
	return rc;
}

/* CTL_NODES_GET, for one node (name) or all. */
static int
get_nodes(ctlc_t *cc, const char *name, wire_msg_t *m)
{
	wire_builder_t b;
	int rc;

	wire_msg_begin(&b, WIRE_CTL_NODES_GET, 1, name ? 1 : 0);
	if (name != NULL)
		wire_put_str(&b, "name", name);
	rc = call(cc, &b, 1, m);
	wire_builder_free(&b);
	if (rc == EX_OK && nodes_of(m) == NULL) {
		fprintf(stderr, "flowfleet: malformed answer from the "
		    "controller\n");
		wire_msg_free(m);
		return EX_FAILED;
	}
	return rc;
}

static int
cmd_list(int argc, char **argv)
{
	static const char *const hdr[] = { "NAME", "ADDRESS", "STATE", "KEY",
	    "LABELS", "ADDED" };
	static const int left[] = { 1, 1, 1, 1, 1, 1 };
	struct opts o;
	struct table t;
	ctlc_t cc;
	wire_msg_t m;
	const msgpack_object *a;
	uint64_t now;
	int rc;

	if ((rc = parse_opts(argc, argv, 0, 0, &o, usage_list)) >= 0)
		return rc;
	if ((rc = get_nodes(&cc, NULL, &m)) != EX_OK) {
		ctlc_close(&cc);
		return rc;
	}
	a = nodes_of(&m);
	now = u64f(wire_get(&m.body, "controller"), "time_ms");
	if (cli_json)
		rc = print_json(&m.body);
	else if (a->via.array.size == 0)
		printf("no nodes (add one with 'flowfleet nodes add')\n");
	else if (table_init(&t, 6, a->via.array.size, left, hdr) != 0)
		rc = EX_FAILED;
	else {
		for (uint32_t i = 0; i < a->via.array.size; i++) {
			const msgpack_object *n = &a->via.array.ptr[i];
			char (*row)[CELL] = t.cells[t.nrows++];
			char fp[WIRE_FP_LEN];

			strf(n, "name", row[0], CELL);
			strf(n, "address", row[1], CELL);
			strf(n, "state", row[2], CELL);
			short_fp(strf(n, "fingerprint", fp, sizeof(fp)),
			    row[3], CELL);
			labels_text(n, row[4], CELL);
			age_fmt(now, u64f(n, "added_ms"), row[5], CELL);
		}
		table_print(&t);
	}
	wire_msg_free(&m);
	ctlc_close(&cc);
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
	strf(ch, "state", st, sizeof(st));
	since = u64f(ch, "since_ms");
	age_fmt(now, since, ago, sizeof(ago));
	printf("%-12s%s", label, st);
	if (since != 0)
		printf(" since %s (%s)", time_fmt_ms(since, when,
		    sizeof(when)), ago);
	if (u64f(ch, "failures") > 0)
		printf(", %" PRIu64 " failed attempts", u64f(ch, "failures"));
	putchar('\n');
	if (strf(ch, "error", err, sizeof(err))[0] != '\0')
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

	printf("%-12s%s\n", "name", strf(n, "name", b, sizeof(b)));
	strf(n, "address", b, sizeof(b));
	if (wire_node_addr_parse(b, h, sizeof(h), &cp, &qp) == 0)
		printf("%-12s%s (control %s:%u, query %s:%u)\n", "address", b,
		    h, cp, h, qp);
	else
		printf("%-12s%s\n", "address", b);
	printf("%-12s%s\n", "state", strf(n, "state", b, sizeof(b)));
	strf(n, "fingerprint", b, sizeof(b));
	printf("%-12s%s\n", "key", b[0] ? b : "none pinned yet (waiting "
	    "for the node's join token)");
	labels_text(n, b, sizeof(b));
	printf("%-12s%s\n", "labels", b);
	printf("%-12s%s\n", "added", time_fmt_ms(u64f(n, "added_ms"), b2,
	    sizeof(b2)));
	if (u64f(n, "enrolled_ms") != 0)
		printf("%-12s%s\n", "enrolled", time_fmt_ms(u64f(n,
		    "enrolled_ms"), b2, sizeof(b2)));
	chan_line("control", n, "control", now);
	chan_line("query", n, "query", now);
	printf("%-12s%s\n", "version", strf(n, "version", b, sizeof(b))[0] ?
	    b : "?");
	age_fmt(now, u64f(n, "last_seen_ms"), b, sizeof(b));
	printf("%-12s%s\n", "last seen", b);
	if (wire_get_i64(n, "clock_offset_ms", &off) == 0) {
		int warn = 0;
		int64_t rtt = -1;

		(void)wire_get_bool(n, "clock_warning", &warn);
		(void)wire_get_i64(n, "rtt_ms", &rtt);
		printf("%-12s%+" PRId64 " ms (the node's clock %s; round trip "
		    "%" PRId64 " ms)%s\n", "clock", off, off > 0 ? "is ahead" :
		    off < 0 ? "is behind" : "agrees", rtt, warn ?
		    "  WARNING: over clock-warn" : "");
	} else
		printf("%-12s%s\n", "clock", "not measured yet");
	printf("%-12s%s\n", "health", strf(n, "health", b, sizeof(b))[0] ?
	    b : "?");
	if (pr != NULL && pr->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < pr->via.array.size; i++)
			if (pr->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
				printf("%-12s- %.*s\n", "",
				    (int)pr->via.array.ptr[i].via.str.size,
				    pr->via.array.ptr[i].via.str.ptr);
	if (k != NULL && u64f(n, "counters_ms") != 0) {
		age_fmt(now, u64f(n, "counters_ms"), b2, sizeof(b2));
		duration(u64f(k, "uptime_ms"), b, sizeof(b));
		printf("%-12snode up %s; reported %s\n", "counters", b, b2);
		printf("%-12sdatagrams %" PRIu64 ", flows %" PRIu64 ", bytes %"
		    PRIu64 ", packets %" PRIu64 ", exporters %" PRIu64 "\n",
		    "intake", u64f(k, "datagrams"), u64f(k, "flows"),
		    u64f(k, "bytes"), u64f(k, "packets"), u64f(k,
		    "exporters"));
		printf("%-12skernel %" PRIu64 ", truncated %" PRIu64
		    ", store %" PRIu64 "; malformed %" PRIu64 ", no template %"
		    PRIu64 ", sequence gaps %" PRIu64 "\n", "losses",
		    u64f(k, "kernel_drops"), u64f(k, "truncated"), u64f(k,
		    "store_dropped"), u64f(k, "malformed"), u64f(k,
		    "no_template"), u64f(k, "seq_missing"));
		printf("%-12s%" PRIu64 " flows/s, %" PRIu64 " drops/s\n",
		    "rates", u64f(k, "flows_per_s"), u64f(k, "drops_per_s"));
		{
			int st = 0;

			(void)wire_get_bool(k, "store", &st);
			if (st)
				printf("%-12s%" PRIu64 " flows stored\n",
				    "store", u64f(k, "store_flows"));
		}
	} else
		printf("%-12s%s\n", "counters", "none reported yet");
	if (tok != NULL && tok->type == MSGPACK_OBJECT_MAP) {
		strf(tok, "state", b, sizeof(b));
		if (strcmp(b, "used") == 0)
			printf("%-12sused %s by key %s\n", "join token",
			    time_fmt_ms(u64f(tok, "used_ms"), b2, sizeof(b2)),
			    strf(tok, "used_by", b, sizeof(b)));
		else
			printf("%-12s%s, %s %s\n", "join token", b,
			    strcmp(b, "expired") == 0 ? "expired" : "expires",
			    time_fmt_ms(u64f(tok, "expires_ms"), b2,
			    sizeof(b2)));
	}
}

static int
cmd_show(int argc, char **argv)
{
	struct opts o;
	ctlc_t cc;
	wire_msg_t m;
	const msgpack_object *a;
	int rc;

	if ((rc = parse_opts(argc, argv, 0, 1, &o, usage_show)) >= 0)
		return rc;
	if ((rc = get_nodes(&cc, o.args[0], &m)) != EX_OK) {
		ctlc_close(&cc);
		return rc;
	}
	a = nodes_of(&m);
	if (a->via.array.size != 1) {
		fprintf(stderr, "flowfleet: no node named '%s'\n", o.args[0]);
		rc = EX_NOTFOUND;
	} else if (cli_json)
		rc = print_json(&a->via.array.ptr[0]);
	else
		show_node(&a->via.array.ptr[0], u64f(wire_get(&m.body,
		    "controller"), "time_ms"));
	wire_msg_free(&m);
	ctlc_close(&cc);
	return rc;
}

static int
cmd_status(int argc, char **argv)
{
	static const char *const hdr[] = { "NAME", "STATE", "QUERY",
	    "VERSION", "LAST-SEEN", "CLOCK", "FLOWS/S", "DROPS/S", "DROPS",
	    "HEALTH" };
	static const int left[] = { 1, 1, 1, 1, 0, 0, 0, 0, 0, 1 };
	struct opts o;
	struct table t;
	ctlc_t cc;
	wire_msg_t m;
	const msgpack_object *a, *ctl;
	uint64_t now;
	size_t up = 0;
	char b[256], b2[64], nm[64], ver[32], fp[WIRE_FP_LEN];
	int rc;

	if ((rc = parse_opts(argc, argv, 0, 0, &o, usage_status)) >= 0)
		return rc;
	if ((rc = get_nodes(&cc, NULL, &m)) != EX_OK) {
		ctlc_close(&cc);
		return rc;
	}
	a = nodes_of(&m);
	ctl = wire_get(&m.body, "controller");
	now = u64f(ctl, "time_ms");
	for (uint32_t i = 0; i < a->via.array.size; i++)
		if (strcmp(strf(&a->via.array.ptr[i], "state", b, sizeof(b)),
		    "up") == 0)
			up++;
	if (cli_json)
		rc = print_json(&m.body);
	else {
		duration(u64f(ctl, "uptime_ms"), b2, sizeof(b2));
		printf("controller %s, version %s, up %s, key %s\n",
		    strf(ctl, "name", nm, sizeof(nm)), strf(ctl, "version",
		    ver, sizeof(ver)), b2, strf(ctl, "fingerprint", fp,
		    sizeof(fp)));
		printf("nodes: %u, up %zu, not up %zu\n\n", a->via.array.size,
		    up, a->via.array.size - up);
		if (a->via.array.size > 0 &&
		    table_init(&t, 10, a->via.array.size, left, hdr) == 0) {
			for (uint32_t i = 0; i < a->via.array.size; i++) {
				const msgpack_object *n = &a->via.array.ptr[i];
				const msgpack_object *k = wire_get(n,
				    "counters");
				const msgpack_object *q = wire_get(n, "query");
				char (*row)[CELL] = t.cells[t.nrows++];
				int64_t off;
				int warn = 0, fresh;

				strf(n, "name", row[0], CELL);
				strf(n, "state", row[1], CELL);
				strf(q, "state", row[2], CELL);
				strf(n, "version", row[3], CELL);
				if (row[3][0] == '\0')
					snprintf(row[3], CELL, "?");
				age_fmt(now, u64f(n, "last_seen_ms"), row[4], CELL);
				if (wire_get_i64(n, "clock_offset_ms", &off) ==
				    0) {
					(void)wire_get_bool(n, "clock_warning",
					    &warn);
					snprintf(row[5], CELL, "%s%+" PRId64
					    "ms", warn ? "!" : "", off);
				} else
					snprintf(row[5], CELL, "?");
				/* rates only mean something while up */
				fresh = strcmp(row[1], "up") == 0 &&
				    u64f(n, "counters_ms") != 0;
				if (fresh) {
					cli_count(u64f(k, "flows_per_s"), row[6],
					    CELL);
					cli_count(u64f(k, "drops_per_s"), row[7],
					    CELL);
				} else {
					snprintf(row[6], CELL, "-");
					snprintf(row[7], CELL, "-");
				}
				if (u64f(n, "counters_ms") != 0)
					cli_count(u64f(k, "kernel_drops") + u64f(k,
					    "truncated") + u64f(k,
					    "store_dropped"), row[8], CELL);
				else
					snprintf(row[8], CELL, "?");
				strf(n, "health", row[9], CELL);
				if (!fresh || row[9][0] == '\0')
					snprintf(row[9], CELL, "-");
			}
			table_print(&t);
		}
	}
	if (rc == EX_OK && up < a->via.array.size)
		rc = EX_NOTUP;
	wire_msg_free(&m);
	ctlc_close(&cc);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd, *sub;
	int i = 1;

	if ((cli_sock_path = getenv("FLOWFLEET_SOCKET")) == NULL ||
	    cli_sock_path[0] == '\0')
		cli_sock_path = WIRE_CTL_SOCKET_DEFAULT;
	/* options before the command */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			cli_sock_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli_json = 1;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage_main(stdout);
			return EX_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("flowfleet %s\n", FF_VERSION);
			return EX_OK;
		} else
			return errx_usage(usage_main, "unknown option '%s'",
			    argv[i]);
	}
	if (i >= argc)
		return errx_usage(usage_main, "no command");
	cmd = argv[i];
	sub = i + 1 < argc ? argv[i + 1] : NULL;
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - i, argv + i);
	if (strcmp(cmd, "query") == 0)
		return cmd_query(argc - i, argv + i);
	if (strcmp(cmd, "nodes") == 0) {
		if (sub == NULL)
			return errx_usage(usage_main, "nodes: add, list, show "
			    "or remove?");
		if (strcmp(sub, "add") == 0)
			return cmd_add(argc - i - 1, argv + i + 1);
		if (strcmp(sub, "list") == 0)
			return cmd_list(argc - i - 1, argv + i + 1);
		if (strcmp(sub, "show") == 0)
			return cmd_show(argc - i - 1, argv + i + 1);
		if (strcmp(sub, "remove") == 0)
			return cmd_remove(argc - i - 1, argv + i + 1);
		if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
			usage_main(stdout);
			return EX_OK;
		}
		return errx_usage(usage_main, "nodes: unknown command '%s'",
		    sub);
	}
	if (strcmp(cmd, "help") == 0) {
		if (sub == NULL)
			usage_main(stdout);
		else if (strcmp(sub, "status") == 0)
			usage_status(stdout);
		else if (strcmp(sub, "query") == 0)
			usage_query(stdout);
		else if (strcmp(sub, "nodes") == 0 && i + 2 < argc) {
			const char *s2 = argv[i + 2];

			if (strcmp(s2, "add") == 0)
				usage_add(stdout);
			else if (strcmp(s2, "list") == 0)
				usage_list(stdout);
			else if (strcmp(s2, "show") == 0)
				usage_show(stdout);
			else if (strcmp(s2, "remove") == 0)
				usage_remove(stdout);
			else
				return errx_usage(usage_main, "help: unknown "
				    "command 'nodes %s'", s2);
		} else if (strcmp(sub, "nodes") == 0)
			usage_main(stdout);
		else
			return errx_usage(usage_main, "help: unknown command "
			    "'%s'", sub);
		return EX_OK;
	}
	return errx_usage(usage_main, "unknown command '%s'", cmd);
}
