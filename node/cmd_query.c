/*
 * flowfleet-node query: run one query on the node's flow store, read-only
 * (LMDB lets this process read while the daemon writes), and print the
 * answer as a table, JSON or CSV.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"
#include "../store/store.h"
#include "config.h"
#include "node.h"

#define PROG "flowfleet-node query"

/* Exit codes. */
#define EX_ANSWER	0
#define EX_FAIL		1
#define EX_USAGE	2
#define EX_LIMIT	3
#define EX_DAMAGED	4
#define EX_INTR		130

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node query [-c CONF | --store DIR] [--since DUR |\n"
"           --from T --to T] [--filter F] [--top N --by KEY\n"
"           [--order bytes|packets|flows] | --series STEP | --list N |\n"
"           --distinct KEY] [--json | --csv] [--threads N] [--timeout DUR]\n"
"           [--max-rows N] [--max-mem SIZE]\n"
"\n"
"Run one query on the node's flow store (read-only; the daemon may keep\n"
"writing) and print the answer. Without a kind option: totals.\n"
"\n"
"Store:\n"
"  -c, --config CONF  the node's configuration; the store is\n"
"                     STATE_DIR/" NODE_STORE_DIR " (default config "
CONFIG_DEFAULT_PATH ")\n"
"  --store DIR        the store directory itself\n"
"\n"
"Window (a flow is in it when from <= its start < to; default: all):\n"
"  --since DUR        from now - DUR on (DUR: 30s, 15m, 1h, 7d, ...)\n"
"  --from T, --to T   T: ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01 14:00\n"
"                     +02:00), nfdump's 2024/05/01.12:00:00, or @SECONDS;\n"
"                     without a zone, local time (TZ), as nfdump reads it\n"
"\n"
"Kind:\n"
"  --top N            the N keys with most bytes/packets/flows (default 10\n"
"                     when --by is given alone)\n"
"  --by KEY           srcip dstip srcport dstport proto exporter inif outif\n"
"                     srcas dstas srcnet[/L4[/L6]] dstnet[/L4[/L6]]\n"
"                     (prefixes default to /24 and /64)\n"
"  --order M          bytes (default), packets or flows; ties go by key\n"
"  --series STEP      totals per STEP from the window start (e.g. 5m)\n"
"  --list N           the first N flows by start time\n"
"  --distinct KEY     how many different KEY values\n"
"\n"
"Filter and output:\n"
"  -f, --filter F     nfdump filter, e.g. 'proto tcp and dst port 443'\n"
"  --json, --csv      exact numbers as JSON or CSV (default: a table with\n"
"                     human-readable numbers)\n"
"\n"
"Limits:\n"
"  --threads N        scan threads (default: all cores)\n"
"  --timeout DUR      stop after DUR\n"
"  --max-rows N       fail when the answer holds more keys or flows\n"
"  --max-mem SIZE     fail when the scan needs more memory (e.g. 512M)\n"
"\n"
"Exit status: 0 answered; 1 the store could not be read or the query\n"
"failed; 2 usage error (bad option, time, key or filter); 3 a limit was\n"
"hit (time, memory, rows); 4 answered without the blocks of the store\n"
"that could not be read (damaged); 130 interrupted (Ctrl-C).\n");
}

static int
bad(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s: '%s'\n", what, arg);
	return EX_USAGE;
}

/* Round t down to a multiple of step. */
static uint64_t
floor_to(uint64_t t, uint64_t step)
{
	return t - t % step;
}

struct qopts {
	const char *conf, *dir;
	int since_set, from_set, to_set, top_set;
	uint64_t since, from, to;
	store_qspec_t spec;
	int kinds;		/* kind options given */
	store_fmt_t fmt;
};

/*
 * Fill the window of a series that was not given in full: the start
 * aligned to the step (from --since, or the oldest stored flow), the end
 * after the newest stored flow (or now, with --since), so that buckets
 * fall on multiples of the step.
 */
static void
series_window(struct qopts *o, store_t *s)
{
	store_qspec_t *q = &o->spec;
	uint64_t step = q->step_ms, now = now_ms(), end;
	store_stats_t st;

	store_get_stats(s, &st);
	if (o->since_set) {
		q->t0 = floor_to(now > o->since ? now - o->since : 0, step);
		end = now;
	} else {
		if (!o->from_set)
			q->t0 = floor_to(st.flows > 0 ? st.oldest_ms : now,
			    step);
		end = st.flows > 0 ? st.newest_ms : q->t0;
	}
	if (o->to_set)
		q->t1 = o->to;
	else if (end < q->t0)
		q->t1 = q->t0 + step;
	else
		q->t1 = q->t0 + ((end - q->t0) / step + 1) * step;
}

static int
parse_args(int argc, char **argv, struct qopts *o)
{
	enum { O_STORE = 256, O_SINCE, O_FROM, O_TO, O_TOP, O_BY, O_ORDER,
	    O_SERIES, O_LIST, O_DISTINCT, O_JSON, O_CSV, O_THREADS,
	    O_TIMEOUT, O_MAXROWS, O_MAXMEM };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, O_STORE },
		{ "since", required_argument, NULL, O_SINCE },
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "filter", required_argument, NULL, 'f' },
		{ "top", required_argument, NULL, O_TOP },
		{ "by", required_argument, NULL, O_BY },
		{ "order", required_argument, NULL, O_ORDER },
		{ "series", required_argument, NULL, O_SERIES },
		{ "list", required_argument, NULL, O_LIST },
		{ "distinct", required_argument, NULL, O_DISTINCT },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-rows", required_argument, NULL, O_MAXROWS },
		{ "max-mem", required_argument, NULL, O_MAXMEM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	store_qspec_t *q = &o->spec;
	int c, by_set = 0, distinct = 0;
	uint64_t v;
	char *end;

	memset(o, 0, sizeof(*o));
	q->kind = STORE_Q_TOTALS;
	q->t1 = UINT64_MAX;
	q->order = STORE_ORD_BYTES;
	q->n = 10;
	o->fmt = STORE_FMT_TABLE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->conf = optarg;
			break;
		case O_STORE:
			o->dir = optarg;
			break;
		case O_SINCE:
			if (parse_duration_ms(optarg, &o->since) != 0)
				return bad("bad duration", optarg);
			o->since_set = 1;
			break;
		case O_FROM:
			if (store_time_parse(optarg, &o->from) != 0)
				return bad("bad time", optarg);
			o->from_set = 1;
			break;
		case O_TO:
			if (store_time_parse(optarg, &o->to) != 0)
				return bad("bad time", optarg);
			o->to_set = 1;
			break;
		case 'f':
			q->filter = optarg;
			break;
		case O_TOP:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    v < 1 || v > STORE_TOPN_MAX)
				return bad("--top wants 1 to 1000000", optarg);
			q->n = (uint32_t)v;
			o->top_set = 1;
			break;
		case O_BY:
			if (store_key_parse(optarg, &q->key, &q->prefix4,
			    &q->prefix6) != 0)
				return bad("unknown key", optarg);
			by_set = 1;
			break;
		case O_ORDER:
			if (store_order_parse(optarg, &q->order) != 0)
				return bad("--order is bytes, packets or flows",
				    optarg);
			break;
		case O_SERIES:
			if (parse_duration_ms(optarg, &q->step_ms) != 0 ||
			    q->step_ms == 0)
				return bad("bad step", optarg);
			q->kind = STORE_Q_SERIES;
			o->kinds++;
			break;
		case O_LIST:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    v < 1 || v > STORE_LIST_MAX)
				return bad("--list wants 1 to 1000000", optarg);
			q->limit = (uint32_t)v;
			q->kind = STORE_Q_LIST;
			o->kinds++;
			break;
		case O_DISTINCT:
			if (store_key_parse(optarg, &q->key, &q->prefix4,
			    &q->prefix6) != 0)
				return bad("unknown key", optarg);
			q->kind = STORE_Q_DISTINCT;
			distinct = 1;
			o->kinds++;
			break;
		case O_JSON:
			o->fmt = STORE_FMT_JSON;
			break;
		case O_CSV:
			o->fmt = STORE_FMT_CSV;
			break;
		case O_THREADS:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    v < 1 || v > 256)
				return bad("--threads wants 1 to 256", optarg);
			q->threads = (int)v;
			break;
		case O_TIMEOUT:
			if (parse_duration_ms(optarg, &q->max_ms) != 0 ||
			    q->max_ms == 0)
				return bad("bad duration", optarg);
			break;
		case O_MAXROWS:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    v < 1)
				return bad("bad row count", optarg);
			q->max_rows = v;
			break;
		case O_MAXMEM:
			if (parse_size(optarg, &q->max_mem) != 0 ||
			    q->max_mem == 0)
				return bad("bad size", optarg);
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind]);
	if (o->top_set || by_set) {
		if (!by_set) {
			fprintf(stderr, PROG ": --top needs --by KEY\n");
			return EX_USAGE;
		}
		if (distinct) {
			fprintf(stderr, PROG ": --by and --distinct both "
			    "name a key; use one\n");
			return EX_USAGE;
		}
		q->kind = STORE_Q_TOPN;
		o->kinds++;
	}
	if (o->kinds > 1) {
		fprintf(stderr, PROG ": use one of --top/--by, --series, "
		    "--list, --distinct\n");
		return EX_USAGE;
	}
	if (o->conf != NULL && o->dir != NULL) {
		fprintf(stderr, PROG ": use -c or --store, not both\n");
		return EX_USAGE;
	}
	if (o->since_set && (o->from_set || o->to_set)) {
		fprintf(stderr, PROG ": use --since or --from/--to, not "
		    "both\n");
		return EX_USAGE;
	}
	if (o->since_set)
		q->t0 = now_ms() > o->since ? now_ms() - o->since : 0;
	if (o->from_set)
		q->t0 = o->from;
	if (o->to_set)
		q->t1 = o->to;
	if (q->t0 > q->t1) {
		fprintf(stderr, PROG ": the window ends before it starts\n");
		return EX_USAGE;
	}
	return 0;
}

/* The store directory: --store, or STATE_DIR/flows of the config. */
static int
store_dir(const struct qopts *o, char *path, size_t len)
{
	struct node_config *cfg;
	char err[512];

	if (o->dir != NULL) {
		snprintf(path, len, "%s", o->dir);
		return 0;
	}
	if (config_load(o->conf ? o->conf : CONFIG_DEFAULT_PATH,
	    o->conf == NULL, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_FAIL;
	}
	snprintf(path, len, "%s/%s", cfg->state_dir, NODE_STORE_DIR);
	config_free(cfg);
	return 0;
}

int
cmd_query(int argc, char **argv)
{
	struct qopts o;
	struct sigaction sa;
	store_opts_t so;
	store_t *s = NULL;
	store_query_t *q = NULL;
	store_result_t *r = NULL;
	store_result_meta_t meta;
	char path[4096], err[512];
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? EX_ANSWER : rc;
	if ((rc = store_dir(&o, path, sizeof(path))) != 0)
		return rc;
	memset(&so, 0, sizeof(so));
	so.path = path;
	so.readonly = 1;
	if (store_open(&so, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_FAIL;
	}
	if (o.spec.kind == STORE_Q_SERIES)
		series_window(&o, s);
	if ((rc = store_query_compile(&o.spec, &q, err, sizeof(err))) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		store_close(s);
		return rc == FF_ENOMEM ? EX_FAIL : EX_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = store_query_run(s, q, (const volatile int *)&interrupted, &r,
	    err, sizeof(err));
	store_query_free(q);
	store_close(s);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		switch (rc) {
		case FF_ECANCELED:
			return EX_INTR;
		case FF_ETIMEDOUT:
		case FF_ELIMIT:
			return EX_LIMIT;
		default:
			return EX_FAIL;
		}
	}
	rc = store_result_print(r, stdout, o.fmt);
	store_result_get_meta(r, &meta);
	store_result_free(r);
	if (rc != 0) {
		fprintf(stderr, PROG ": cannot write the answer: %s\n",
		    ff_strerror(rc));
		return EX_FAIL;
	}
	if (meta.blocks_damaged != 0) {
		fprintf(stderr, PROG ": %" PRIu64 " damaged block%s of the "
		    "store could not be read: the answer leaves them out\n",
		    meta.blocks_damaged, meta.blocks_damaged > 1 ? "s" : "");
		return EX_DAMAGED;
	}
	return EX_ANSWER;
}
