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

#include "common/err.h"
#include "common/util.h"
#include "store/query/query.h"
#include "nodeconf/nodeconf.h"
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

struct qopts {
	const char *conf, *dir;
	query_args_t a;	/* the query options (query_args_*) */
};

/*
 * -c/--config and --store here; every other option is a query option
 * (query_args_opt), as for flowfleet query. --name=value and --name
 * value both work; -f is --filter.
 */
static int
parse_args(int argc, char **argv, struct qopts *o)
{
	static const char *const valued[] = { "c", "config", "store", NULL };
	static const char *const flags[] = { "h", "help", NULL };
	query_args_iter_t it = { .argc = argc, .argv = argv,
	    .valued = valued, .flags = flags, .i = 1 };
	char err[256];
	int rc;

	memset(o, 0, sizeof(*o));
	query_args_init(&o->a);
	while ((rc = query_args_next(&it, err, sizeof(err))) == 1) {
		if (strcmp(it.name, "h") == 0 || strcmp(it.name, "help") == 0) {
			usage(stdout);
			return -1;
		}
		if (strcmp(it.name, "c") == 0 || strcmp(it.name, "config") == 0)
			o->conf = it.val;
		else if (strcmp(it.name, "store") == 0)
			o->dir = it.val;
		else if (query_args_opt(&o->a, it.name, it.val, err,
		    sizeof(err)) != 0)
			break;
	}
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		usage(stderr);
		return EX_USAGE;
	}
	if (o->conf != NULL && o->dir != NULL) {
		fprintf(stderr, PROG ": use -c or --store, not both\n");
		return EX_USAGE;
	}
	if (query_args_finish(&o->a, now_ms(), err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_USAGE;
	}
	return 0;
}

/* The store directory: --store, or STATE_DIR/flows of the config. */
static int
store_dir(const struct qopts *o, char *path, size_t len)
{
	if (o->dir == NULL)
		return node_state_path(PROG, o->conf, NODE_STORE_DIR, path,
		    len);
	snprintf(path, len, "%s", o->dir);
	return 0;
}

int
cmd_query(int argc, char **argv)
{
	struct qopts o;
	struct sigaction sa;
	store_opts_t so;
	store_t *s = NULL;
	query_t *q = NULL;
	query_result_t *r = NULL;
	query_meta_t meta;
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
	if (o.a.spec.kind == QUERY_SERIES) {
		store_stats_t st;

		/* the window, where not given: the stored flows' */
		store_get_stats(s, &st);
		query_args_series_window(&o.a, now_ms(), st.flows > 0,
		    st.oldest_ms, st.newest_ms);
	}
	if ((rc = query_compile(&o.a.spec, &q, err, sizeof(err))) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		store_close(s);
		return rc == FF_ENOMEM ? EX_FAIL : EX_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = query_run(s, q, (const volatile int *)&interrupted, &r,
	    err, sizeof(err));
	query_free(q);
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
	rc = query_result_print(r, stdout, o.a.fmt);
	query_result_get_meta(r, &meta);
	query_result_free(r);
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
