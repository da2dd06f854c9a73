/*
 * flowfleet status: the fleet at a glance, one line per node.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/table.h"
#include "common/util.h"
#include "cli.h"

void
cli_status_usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet status [--timeout DUR] [-s SOCKET] [--json]\n"
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
"  --timeout DUR  how long to wait for the controller, in all (default\n"
"                 15s)\n"
"\n"
"Exit status: 0 every node is up, 4 at least one is not, 3 controller\n"
"unreachable or silent past the deadline.\n");
}

/* The nodes as status prints them. */
struct status_rows {
	const msgpack_object *nodes;	/* array */
	uint64_t now;			/* the controller's clock */
};

static void
status_row(const void *arg, long i, char cells[][TABLE_CELL])
{
	static const char *const hdr[] = { "NAME", "STATE", "QUERY",
	    "VERSION", "LAST-SEEN", "CLOCK", "FLOWS/S", "DROPS/S", "DROPS",
	    "HEALTH" };
	const struct status_rows *s = arg;
	const msgpack_object *n, *k;
	int64_t off;
	int fresh, counted;

	if (i < 0) {
		table_header(cells, hdr, FF_NELEM(hdr));
		return;
	}
	n = &s->nodes->via.array.ptr[i];
	k = wire_get(n, "counters");
	cli_str(n, "name", "", cells[0], TABLE_CELL);
	cli_str(n, "state", "", cells[1], TABLE_CELL);
	cli_str(wire_get(n, "query"), "state", "", cells[2], TABLE_CELL);
	cli_str(n, "version", "", cells[3], TABLE_CELL);
	if (cells[3][0] == '\0')
		snprintf(cells[3], TABLE_CELL, "?");
	age_fmt(s->now, cli_u64(n, "last_seen_ms"), cells[4], TABLE_CELL);
	if (wire_get_i64(n, "clock_offset_ms", &off) == 0)
		snprintf(cells[5], TABLE_CELL, "%s%+" PRId64 "ms",
		    cli_bool(n, "clock_warning") ? "!" : "", off);
	else
		snprintf(cells[5], TABLE_CELL, "?");
	/* rates only mean something while up */
	counted = cli_u64(n, "counters_ms") != 0;
	fresh = strcmp(cells[1], "up") == 0 && counted;
	if (fresh) {
		cli_count(cli_u64(k, "flows_per_s"), cells[6], TABLE_CELL);
		cli_count(cli_u64(k, "drops_per_s"), cells[7], TABLE_CELL);
	} else {
		snprintf(cells[6], TABLE_CELL, "-");
		snprintf(cells[7], TABLE_CELL, "-");
	}
	if (counted)
		cli_count(cli_u64(k, "kernel_drops") + cli_u64(k, "truncated") +
		    cli_u64(k, "store_dropped"), cells[8], TABLE_CELL);
	else
		snprintf(cells[8], TABLE_CELL, "?");
	cli_str(n, "health", "", cells[9], TABLE_CELL);
	if (!fresh || cells[9][0] == '\0')
		snprintf(cells[9], TABLE_CELL, "-");
}

/* The controller's line, the counts, and a line per node. */
static void
print_status(const msgpack_object *body, const msgpack_object *nodes,
    size_t up)
{
	static const int left[] = { 1, 1, 1, 1, 0, 0, 0, 0, 0, 1 };
	const msgpack_object *controller = wire_get(body, "controller");
	struct status_rows s = { nodes, cli_u64(controller, "time_ms") };
	uint32_t total = nodes->via.array.size;
	char nm[64], ver[32], fp[WIRE_FP_LEN], uptime[64];

	cli_duration(cli_u64(controller, "uptime_ms"), uptime, sizeof(uptime));
	printf("controller %s, version %s, up %s, key %s\n",
	    cli_str(controller, "name", "", nm, sizeof(nm)),
	    cli_str(controller, "version", "", ver, sizeof(ver)), uptime,
	    cli_str(controller, "fingerprint", "", fp, sizeof(fp)));
	printf("nodes: %u, up %zu, not up %zu\n\n", total, up, total - up);
	if (total > 0)
		table_print(stdout, &s, total, FF_NELEM(left), status_row,
		    left);
}

int
cli_status(int argc, char **argv)
{
	struct cli_args o;
	struct cli_reply r;
	const msgpack_object *a;
	size_t up = 0;
	char st[32];
	int rc;

	if ((rc = cli_parse(argc, argv, 0, 0, &o, cli_status_usage)) >= 0 ||
	    (rc = cli_get_nodes(NULL, &r)) != EX_OK)
		return rc;
	a = cli_array(&r.msg.body, "nodes");
	for (uint32_t i = 0; i < a->via.array.size; i++)
		if (strcmp(cli_str(&a->via.array.ptr[i], "state", "", st,
		    sizeof(st)), "up") == 0)
			up++;
	if (cli.json)
		rc = cli_json_print(&r.msg.body);
	else
		print_status(&r.msg.body, a, up);
	if (rc == EX_OK && up < a->via.array.size)
		rc = EX_NOTUP;
	cli_reply_free(&r);
	return rc;
}
