/*
 * flowfleet query: one question to every selected node, answered by the
 * controller with the exact merged answer and its coverage.
 *
 * The query options are the node's (query_args_*); the CLI adds the
 * node selection, the deadline, --allow-partial, --verbose and --method.
 * Ctrl-C sends CTL_QUERY_CANCEL, so the controller cancels the scans on
 * every node, and exits 130.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "store/query/query.h"
#include "wire/wire.h"
#include "cli.h"
#include "client.h"

#define PROG		CLI_PROG " query"
#define QUERY_ID	1
#define CANCEL_ID	2
#define POLL_MS		200
#define ANSWER_MS	1000	/* the controller answers by the deadline:
				   this long for the answer to arrive */
#define CANCEL_WAIT_MS	3000
#define MAX_SEL		64

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

void
cli_query_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet [-s SOCKET] query [--since DUR | --from T [--to T]]\n"
"           [-f FILTER]\n"
"           [--top N --by KEY [--order bytes|packets|flows] | --series STEP\n"
"           | --list N | --distinct KEY] [--nodes N1,N2...] [--label L]...\n"
"           [--timeout DUR] [--allow-partial] [--verbose] [--json | --csv]\n"
"           [--method auto|tput|full]\n"
"\n"
"Ask every selected node the same question and print the exact merged\n"
"answer, with how complete it is. Without a kind option: totals (flows,\n"
"bytes, packets).\n"
"\n"
"Window (a flow counts when its start is inside it):\n"
"  --since DUR        from now - DUR on (30s, 15m, 1h, 7d, ...)\n"
"  --from T, --to T   T: ISO 8601 (2024-05-01T12:00:00Z), nfdump's\n"
"                     2024/05/01.12:00:00 or @SECONDS; --to defaults to\n"
"                     no end (a series: now)\n"
"Kinds:\n"
"  --top N --by KEY   the N keys with the most bytes/packets/flows;\n"
"                     KEY: srcip dstip srcport dstport proto exporter\n"
"                     inif outif srcas dstas srcnet[/L4[/L6]] dstnet[/..]\n"
"  --order M          bytes (default), packets or flows; ties go by key\n"
"  --series STEP      totals per STEP (needs --since or --from)\n"
"  --list N           the first N flows by start time\n"
"  --distinct KEY     how many different KEY values\n"
"Filter:\n"
"  -f, --filter F     nfdump filter, e.g. 'proto tcp and dst port 443'\n"
"Nodes (default: all):\n"
"  --nodes LIST       these nodes (names, comma-separated; repeatable)\n"
"  --label L          nodes carrying label L (repeatable: all of them)\n"
"Completeness:\n"
"  --timeout DUR      the query's deadline (default: the controller's\n"
"                     query-timeout, 30s)\n"
"  --allow-partial    print the answer even when nodes are missing\n"
"  -v, --verbose      a line per node: status, flows scanned, time, bytes\n"
"  --method M         top N: auto (default: TPUT where a node has many\n"
"                     keys, complete aggregates where it has few), tput,\n"
"                     or full (ship every key)\n"
"Output:\n"
"  --json, --csv      exact numbers as JSON or CSV (default: a table with\n"
"                     human-readable sizes); the coverage goes to stderr\n"
"                     with --csv\n"
"\n"
"Exit status: 0 complete answer; 6 partial: some node did not answer\n"
"(the answer is printed only with --allow-partial); 1 the query failed\n"
"(bad filter, no node answered); 2 usage; 3 controller unreachable;\n"
"5 no such node; 130 interrupted (the query was cancelled).\n");
}

struct cliq {
	query_args_t a;
	const char *nodes[MAX_SEL];
	size_t nnodes;
	char *nodebuf[MAX_SEL];
	size_t nbufs;
	const char *labels[MAX_SEL];
	size_t nlabels;
	uint64_t timeout_ms;
	int allow_partial;
	int verbose;
	const char *method;
};

static int
bad(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	cli_query_usage(stderr);
	return EX_USAGE;
}

static int
add_nodes(struct cliq *o, const char *list)
{
	char *copy, *tok, *save = NULL;

	if (o->nbufs == MAX_SEL || (copy = strdup(list)) == NULL)
		return -1;
	o->nodebuf[o->nbufs++] = copy;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->nnodes == MAX_SEL)
			return -1;
		o->nodes[o->nnodes++] = tok;
	}
	return 0;
}

static int
parse(int argc, char **argv, struct cliq *o)
{
	static const char *const valued[] = { "nodes", "label", "method",
	    "timeout", "s", NULL };
	static const char *const flags[] = { "h", "help", "v", "verbose",
	    "allow-partial", NULL };
	query_args_iter_t it = { .argc = argc, .argv = argv,
	    .valued = valued, .flags = flags, .i = 1 };
	char err[256];
	uint64_t now = now_ms();
	int rc;

	memset(o, 0, sizeof(*o));
	query_args_init(&o->a);
	o->method = "auto";
	if (cli.json)
		o->a.fmt = QUERY_FMT_JSON;
	while ((rc = query_args_next(&it, err, sizeof(err))) == 1) {
		const char *name = it.name, *val = it.val;

		if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) {
			cli_query_usage(stdout);
			return -1;
		} else if (strcmp(name, "v") == 0 ||
		    strcmp(name, "verbose") == 0) {
			o->verbose = 1;
		} else if (strcmp(name, "allow-partial") == 0) {
			o->allow_partial = 1;
		} else if (strcmp(name, "s") == 0) {
			cli.socket = val;	/* as before the command */
		} else if (strcmp(name, "nodes") == 0) {
			if (add_nodes(o, val) != 0)
				return bad("too many nodes in '%s'", val);
		} else if (strcmp(name, "label") == 0) {
			if (o->nlabels == MAX_SEL)
				return bad("too many labels ('%s')", val);
			o->labels[o->nlabels++] = val;
		} else if (strcmp(name, "method") == 0) {
			if (strcmp(val, "auto") != 0 &&
			    strcmp(val, "tput") != 0 &&
			    strcmp(val, "full") != 0)
				return bad("--method is auto, tput or full, "
				    "not '%s'", val);
			o->method = val;
		} else if (strcmp(name, "timeout") == 0) {
			if (parse_duration_ms(val, &o->timeout_ms) != 0 ||
			    o->timeout_ms == 0)
				return bad("--timeout: bad duration '%s'", val);
		} else if (strcmp(name, "threads") == 0 ||
		    strcmp(name, "max-rows") == 0 ||
		    strcmp(name, "max-mem") == 0) {
			return bad("--%s is a node's setting (query-... in its "
			    "configuration)", name);
		} else if (query_args_opt(&o->a, name, val, err,
		    sizeof(err)) != 0)
			return bad("%s", err);
	}
	if (rc != 0)
		return bad("%s", err);
	if (query_args_finish(&o->a, now, err, sizeof(err)) != 0)
		return bad("%s", err);
	if (o->a.spec.kind == QUERY_SERIES) {
		if (!o->a.since_set && !o->a.from_set)
			return bad("%s", "a series needs a window: --since DUR "
			    "or --from T [--to T]");
		/* the window's end: --to, else now */
		query_args_series_window(&o->a, now, 1, 0, now);
	}
	return 0;
}

static void
put_strs(wire_builder_t *b, const char *k, const char *const *v, size_t n)
{
	msgpack_packer *pk = wire_builder_pk(b);

	wire_put_key(b, k);
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_str_with_body(pk, v[i], strlen(v[i]));
}

static int
build(const struct cliq *o, wire_builder_t *b)
{
	const query_spec_t *q = &o->a.spec;
	uint32_t nf = QUERY_SPEC_FIELDS + 1 + (o->nnodes > 0) +
	    (o->nlabels > 0) + (o->timeout_ms > 0);

	if (wire_msg_begin(b, WIRE_CTL_QUERY, QUERY_ID, nf) != 0 ||
	    query_spec_write(wire_builder_pk(b), q) != 0)
		return -1;
	wire_put_str(b, "method", o->method);
	if (o->nnodes > 0)
		put_strs(b, "nodes", o->nodes, o->nnodes);
	if (o->nlabels > 0)
		put_strs(b, "labels", o->labels, o->nlabels);
	if (o->timeout_ms > 0)
		wire_put_u64(b, "timeout_ms", o->timeout_ms);
	return b->err ? -1 : 0;
}

static int
send_msg(ctlc_t *cc, wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;
	char err[256];
	int rc;

	if (wire_msg_end(b, &f, &flen) != 0)
		return FF_ENOMEM;
	rc = ctlc_send(cc, f, flen, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, PROG ": %s\n", err);
	return rc;
}

static int
send_cancel(ctlc_t *cc)
{
	wire_builder_t b;
	int rc = FF_ENOMEM;

	if (wire_msg_begin(&b, WIRE_CTL_QUERY_CANCEL, CANCEL_ID, 1) == 0) {
		wire_put_u64(&b, "id", QUERY_ID);
		rc = send_msg(cc, &b);
	}
	wire_builder_free(&b);
	return rc;
}

/* ---- printing ---- */

/* The coverage footer (to fp): one line, the missing nodes, and with
   verbose a line per node. */
static void
print_footer(FILE *fp, const msgpack_object *body, const query_spec_t *q,
    int verbose)
{
	const msgpack_object *nodes = cli_array(body, "nodes");
	uint64_t in = cli_u64(body, "wire_bytes_in");
	uint64_t out = cli_u64(body, "wire_bytes_out");
	char method[16], b1[32], b2[32];
	int complete = cli_bool(body, "complete");

	cli_str(body, "method", "?", method, sizeof(method));
	cli_count(cli_u64(body, "flows_scanned"), b1, sizeof(b1));
	size_fmt(in + out, b2, sizeof(b2));
	fprintf(fp, "-- %s: %" PRIu64 "/%" PRIu64 " nodes answered, %s flows "
	    "scanned, %" PRIu64 " ms, %s on the wire", complete ? "complete" :
	    "PARTIAL", cli_u64(body, "answered"), cli_u64(body, "targeted"), b1,
	    cli_u64(body, "elapsed_ms"), b2);
	if (q->kind == QUERY_TOPN)
		fprintf(fp, ", %s%s", method, strcmp(method, "full") == 0 ?
		    " aggregates" : "");
	if (q->kind == QUERY_TOPN && strncmp(method, "tput", 4) == 0) {
		if (cli_u64(body, "rounds") > 1)
			fprintf(fp, " (%" PRIu64 " rounds, threshold %" PRIu64
			    ", %" PRIu64 " candidates)",
			    cli_u64(body, "rounds"),
			    cli_u64(body, "threshold"),
			    cli_u64(body, "candidates"));
		else
			fprintf(fp, " (1 round: one node holds keys)");
	}
	if (cli_u64(body, "queued_ms") > 0)
		fprintf(fp, ", queued up to %" PRIu64 " ms on a busy node",
		    cli_u64(body, "queued_ms"));
	fputs("\n", fp);
	if (q->kind == QUERY_TOPN && cli_u64(body, "answered") > 0 &&
	    !cli_bool(body, "keys_exact")) {
		const msgpack_object *kmax = wire_get(body, "keys_max");

		fprintf(fp, "-- distinct %s: not known (TPUT ships a selection "
		    "of the keys): ", query_key_name(q->key));
		if (kmax != NULL && kmax->type ==
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
			fprintf(fp, "between %" PRIu64 " and %" PRIu64 "\n",
			    cli_u64(body, "keys_min"), kmax->via.u64);
		else
			fprintf(fp, "at least %" PRIu64 "\n",
			    cli_u64(body, "keys_min"));
	}
	for (uint32_t i = 0; nodes != NULL && i < nodes->via.array.size;
	    i++) {
		const msgpack_object *n = &nodes->via.array.ptr[i];
		char name[64], st[16], reason[256], m[8];

		cli_str(n, "name", "?", name, sizeof(name));
		cli_str(n, "status", "?", st, sizeof(st));
		cli_str(n, "reason", "?", reason, sizeof(reason));
		cli_str(n, "method", "?", m, sizeof(m));
		if (verbose) {
			cli_count(cli_u64(n, "flows_scanned"), b1, sizeof(b1));
			size_fmt(cli_u64(n, "bytes_in") +
			    cli_u64(n, "bytes_out"), b2, sizeof(b2));
			fprintf(fp, "--   %-16s %-9s %8s flows %6" PRIu64
			    " ms (queued %" PRIu64 " ms) %10s %-4s %s\n", name,
			    st, b1, cli_u64(n, "elapsed_ms"),
			    cli_u64(n, "queued_ms"), b2, m, reason);
		} else if (strcmp(st, "answered") != 0)
			fprintf(fp, "--   missing %s: %s: %s\n", name, st,
			    reason);
	}
	if (complete)
		return;
	if (q->kind == QUERY_TOPN) {
		if (cli_bool(body, "bound_known")) {
			uint64_t bound = cli_u64(body, "bound");

			if (q->order == QUERY_ORDER_BYTES)
				size_fmt(bound, b1, sizeof(b1));
			else
				cli_count(bound, b1, sizeof(b1));
			fprintf(fp, "-- error bound: the missing nodes could "
			    "add at most %" PRIu64 " %s (%s) to any key\n",
			    bound, query_order_name(q->order), b1);
		} else
			fprintf(fp, "-- the ranking is not guaranteed: no "
			    "bound on what the missing nodes hold\n");
	} else
		fprintf(fp, "-- the missing nodes' flows are not counted\n");
}

/* JSON: the answer (the store's form) and every coverage field. */
static int
print_json_all(const query_result_t *r, const msgpack_object *body,
    int show)
{
	fputs("{\"answer\":", stdout);
	if (r != NULL && show) {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);

		if (mem == NULL)
			return -1;
		if (query_result_print(r, mem, QUERY_FMT_JSON) != 0) {
			fclose(mem);
			free(text);
			return -1;
		}
		fclose(mem);
		/* one object: without the newline that ends it */
		while (len > 0 && text[len - 1] == '\n')
			len--;
		fwrite(text, 1, len, stdout);
		free(text);
	} else
		fputs("null", stdout);
	for (uint32_t i = 0; i < body->via.map.size; i++) {
		const msgpack_object_kv *kv = &body->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    (kv->key.via.str.size == 3 &&
		    memcmp(kv->key.via.str.ptr, "len", 3) == 0) ||
		    (kv->key.via.str.size == 6 &&
		    memcmp(kv->key.via.str.ptr, "chunks", 6) == 0))
			continue;
		fputc(',', stdout);
		cli_json_write(stdout, &kv->key);
		fputc(':', stdout);
		cli_json_write(stdout, &kv->val);
	}
	fprintf(stdout, ",\"wire_bytes\":%" PRIu64 "}\n",
	    cli_u64(body, "wire_bytes_in") + cli_u64(body, "wire_bytes_out"));
	return fflush(stdout) == 0 ? 0 : -1;
}

/* ---- the command ---- */

struct answer {
	uint8_t *buf;
	size_t len, cap;
	uint64_t seq;
};

static int
take_data(struct answer *a, const wire_msg_t *m)
{
	const uint8_t *d;
	size_t n;
	uint64_t seq;

	if (wire_get_u64(&m->body, "seq", &seq) != 0 || seq != a->seq ||
	    wire_get_bin(&m->body, "data", &d, &n) != 0 ||
	    a->len + n > QUERY_RESULT_MAX_BYTES)
		return -1;
	if (a->len + n > a->cap) {
		size_t nc = FF_MAX(a->cap * 2, a->len + n);
		uint8_t *nb = realloc(a->buf, nc);

		if (nb == NULL)
			return -1;
		a->buf = nb;
		a->cap = nc;
	}
	memcpy(a->buf + a->len, d, n);
	a->len += n;
	a->seq++;
	return 0;
}

/* Wait for the answer, cancelling on Ctrl-C. Returns EX_OK with the
   CTL_QUERY_RESULT in *m, or an exit code (printed why). */
static int
wait_answer(ctlc_t *cc, struct cliq *o, struct answer *a, wire_msg_t *m)
{
	uint64_t cancel_at = 0;
	char err[512];
	int rc;

	for (;;) {
		if (interrupted && cancel_at == 0) {
			fprintf(stderr, PROG ": interrupted: cancelling the "
			    "query on every node\n");
			ctlc_extend(cc, CANCEL_WAIT_MS);
			if (send_cancel(cc) != 0)
				return EX_INTERRUPTED;
			cancel_at = mono_ms();
		}
		rc = ctlc_recv(cc, m, POLL_MS, err, sizeof(err));
		if (rc == FF_ETIMEDOUT && ctlc_expired(cc)) {
			if (cancel_at)
				fprintf(stderr, PROG ": no word from the "
				    "controller after the cancel\n");
			else if (o->timeout_ms) {
				char d[32];

				cli_duration(o->timeout_ms, d, sizeof(d));
				fprintf(stderr, PROG ": %s; it had the query's "
				    "%s and %d s more for its answer\n", err, d,
				    ANSWER_MS / 1000);
			} else
				fprintf(stderr, PROG ": %s\n", err);
			return cancel_at ? EX_INTERRUPTED : EX_UNREACHABLE;
		}
		if (rc == FF_ETIMEDOUT)
			continue;
		if (rc != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return rc == FF_EPROTO ? EX_FAILED : EX_UNREACHABLE;
		}
		if (m->id == CANCEL_ID) {
			wire_msg_free(m);
			continue;
		}
		if (m->id != QUERY_ID) {
			wire_msg_free(m);
			continue;
		}
		if (m->type == WIRE_CTL_QUERY_DATA) {
			rc = take_data(a, m);
			wire_msg_free(m);
			if (rc != 0) {
				fprintf(stderr, PROG ": a bad or oversized "
				    "answer from the controller\n");
				return EX_FAILED;
			}
			continue;
		}
		if (m->type == WIRE_ERROR) {
			char text[512];
			int64_t code = cli_reply_error(m, text, sizeof(text));

			wire_msg_free(m);
			if (cancel_at != 0 || code == FF_ECANCELED) {
				fprintf(stderr, PROG ": %s\n", text);
				return EX_INTERRUPTED;
			}
			fprintf(stderr, PROG ": %s\n", text[0] ? text :
			    ff_strerror((int)code));
			return code == FF_ENOENT ? EX_NOTFOUND :
			    code == FF_ESYNTAX ? EX_USAGE : EX_FAILED;
		}
		if (m->type == WIRE_CTL_QUERY_RESULT)
			return cancel_at ? (wire_msg_free(m), EX_INTERRUPTED) :
			    EX_OK;
		wire_msg_free(m);
	}
}

int
cli_query(int argc, char **argv)
{
	struct cliq o;
	struct answer a = { 0 };
	struct sigaction sa;
	wire_builder_t b;
	wire_msg_t m;
	ctlc_t cc;
	query_result_t *r = NULL;
	char err[512];
	uint64_t len;
	int rc, complete, show;
	FILE *cov;

	if ((rc = parse(argc, argv, &o)) != 0) {
		rc = rc < 0 ? EX_OK : rc;
		goto out_opts;
	}
	memset(&cc, 0, sizeof(cc));
	cc.fd = -1;
	if (build(&o, &b) != 0) {
		wire_builder_free(&b);
		fprintf(stderr, PROG ": out of memory\n");
		rc = EX_FAILED;
		goto out_opts;
	}
	/* one deadline for everything: the query's, and a little for its
	   answer to arrive (without --timeout the controller's query-timeout
	   applies, which the CLI does not know: the longest allowed) */
	if (ctlc_open(&cc, cli.socket, (int64_t)((o.timeout_ms ? o.timeout_ms :
	    WIRE_QUERY_TIMEOUT_MAX) + ANSWER_MS), err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		wire_builder_free(&b);
		rc = EX_UNREACHABLE;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = send_msg(&cc, &b);
	wire_builder_free(&b);
	if (rc != 0) {
		rc = EX_UNREACHABLE;
		goto out;
	}
	if ((rc = wait_answer(&cc, &o, &a, &m)) != EX_OK)
		goto out;
	if (wire_get_u64(&m.body, "len", &len) != 0 || len != a.len) {
		fprintf(stderr, PROG ": the answer is cut short\n");
		rc = EX_FAILED;
		goto out_msg;
	}
	if (a.len > 0 && (rc = query_result_unpack(a.buf, a.len, &r)) != 0) {
		fprintf(stderr, PROG ": the answer does not decode: %s\n",
		    ff_strerror(rc));
		rc = EX_FAILED;
		goto out_msg;
	}
	/* a top N comes as its first N keys: how many there are in all is
	   the controller's to say (unknown from one that does not) */
	if (r != NULL && o.a.spec.kind == QUERY_TOPN)
		query_result_set_keys(r, cli_bool(&m.body, "keys_exact"),
		    cli_u64(&m.body, "keys"));
	complete = cli_bool(&m.body, "complete");
	show = r != NULL && (complete || o.allow_partial);
	cov = o.a.fmt == QUERY_FMT_TABLE ? stdout : stderr;
	if (o.a.fmt == QUERY_FMT_JSON) {
		rc = print_json_all(r, &m.body, show) == 0 ? 0 : FF_EIO;
	} else {
		rc = show ? query_result_print(r, stdout, o.a.fmt) : 0;
		print_footer(cov, &m.body, &o.a.spec, o.verbose);
		fflush(cov);
	}
	if (rc != 0) {
		fprintf(stderr, PROG ": cannot write the answer\n");
		rc = EX_FAILED;
	} else if (r == NULL) {
		fprintf(stderr, PROG ": no node answered\n");
		rc = EX_FAILED;
	} else if (!complete) {
		if (!o.allow_partial)
			fprintf(stderr, PROG ": the answer is incomplete (see "
			    "above); --allow-partial prints it\n");
		rc = EX_PARTIAL;
	} else
		rc = EX_OK;
out_msg:
	wire_msg_free(&m);
out:
	query_result_free(r);
	free(a.buf);
	ctlc_close(&cc);
out_opts:
	for (size_t i = 0; i < o.nbufs; i++)
		free(o.nodebuf[i]);
	return rc;
}
