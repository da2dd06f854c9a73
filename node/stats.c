/*
 * Counters snapshot and its two printed forms.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/table.h"
#include "common/util.h"
#include "stats.h"

#define CELL	TABLE_CELL

const char *
node_stats_proto_name(unsigned version)
{
	switch (version) {
	case 5:
		return "netflow5";
	case 9:
		return "netflow9";
	case 10:
		return "ipfix";
	case DECODER_VERSION_SFLOW:
		return "sflow5";
	}
	return "unknown";
}

struct exp_acc {
	node_exporter_t *v;
	size_t n;
	size_t cap;
	int err;
};

static void
collect_exporter(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	struct exp_acc *a = arg;
	node_exporter_t *e;

	if (a->err)
		return;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;

		if (cap > SIZE_MAX / sizeof(*a->v) ||
		    (e = realloc(a->v, cap * sizeof(*a->v))) == NULL) {
			a->err = FF_ENOMEM;
			return;
		}
		a->v = e;
		a->cap = cap;
	}
	e = &a->v[a->n++];
	memcpy(e->addr, addr, 16);
	e->version = version;
	e->domain = domain;
	e->st = *st;
}

static int
cmp_exporter(const void *x, const void *y)
{
	const node_exporter_t *a = x, *b = y;
	int c;

	/* IPv4-mapped addresses sort before native IPv6 by their bytes. */
	if ((c = memcmp(a->addr, b->addr, 16)) != 0)
		return c;
	if (a->version != b->version)
		return a->version < b->version ? -1 : 1;
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	return 0;
}

int
node_stats_collect(const listeners_t *ls, const ingest_t *ing,
    writer_t *w, uint64_t start_ms, node_stats_t *st)
{
	struct exp_acc acc;

	memset(st, 0, sizeof(*st));
	memset(&acc, 0, sizeof(acc));
	st->now_ms = now_ms();
	st->start_ms = start_ms;
	st->pid = (long)getpid();
	st->totals = *ingest_totals(ing);
	st->decoder = *decoder_stats(ingest_decoder(ing));
	st->templates = *ingest_tplstats(ing);
	st->templates.mem = *decoder_template_stats(ingest_decoder(ing));
	if (w != NULL) {
		st->have_store = 1;
		writer_get_stats(w, &st->store);
	}
	if (ls != NULL && listeners_count(ls) > 0) {
		st->nsockets = listeners_count(ls);
		if ((st->sockets = calloc(st->nsockets,
		    sizeof(*st->sockets))) == NULL)
			return FF_ENOMEM;
		listeners_stats(ls, st->sockets);
	}
	decoder_foreach_exporter(ingest_decoder(ing), collect_exporter, &acc);
	if (acc.err) {
		free(acc.v);
		node_stats_release(st);
		return acc.err;
	}
	if (acc.n > 1)
		qsort(acc.v, acc.n, sizeof(*acc.v), cmp_exporter);
	st->exporters = acc.v;
	st->nexporters = acc.n;
	return 0;
}

void
node_stats_release(node_stats_t *st)
{
	if (st == NULL)
		return;
	free(st->sockets);
	free(st->exporters);
	st->sockets = NULL;
	st->exporters = NULL;
	st->nsockets = st->nexporters = 0;
}

/* --- JSON ----------------------------------------------------------------- */

static void
print_store_json(const node_stats_t *st, FILE *fp)
{
	const writer_stats_t *w = &st->store;
	const store_stats_t *s = &w->store;

	fprintf(fp, "\"store\":{\"flows\":%" PRIu64 ",\"blocks\":%" PRIu64
	    ",\"bytes_used\":%" PRIu64 ",\"map_size\":%" PRIu64
	    ",\"oldest_ms\":%" PRIu64 ",\"newest_ms\":%" PRIu64
	    ",\"appended\":%" PRIu64 ",\"committed\":%" PRIu64
	    ",\"commits\":%" PRIu64 ",\"pending\":%" PRIu64
	    ",\"last_commit_ms\":%" PRIu64 ",\"write_errors\":%" PRIu64
	    ",\"write_dropped\":%" PRIu64 ",\"failing\":%s"
	    ",\"queue_batches\":%" PRIu64 ",\"queue_flows\":%" PRIu64
	    ",\"queued\":%" PRIu64 ",\"queue_capacity\":%" PRIu64
	    ",\"queue_peak\":%" PRIu64 ",\"queue_dropped\":%" PRIu64
	    ",\"queue_dropped_batches\":%" PRIu64 ",\"dropped\":%" PRIu64
	    ",\"expired_flows\":%" PRIu64 ",\"expired_blocks\":%" PRIu64
	    ",\"compactions\":%" PRIu64 ",\"damaged_blocks\":%" PRIu64
	    ",\"retention_age_ms\":%" PRIu64 ",\"retention_size\":%" PRIu64
	    ",\"store_full\":%s,\"file_bytes\":%" PRIu64
	    ",\"room_expired_flows\":%" PRIu64
	    ",\"room_expired_blocks\":%" PRIu64 ",\"fs_free\":",
	    s->flows, s->blocks, s->bytes_used, s->map_size,
	    s->oldest_ms, s->newest_ms, s->appended, s->committed, s->commits,
	    s->pending, w->last_commit_ms, s->write_errors, s->dropped,
	    w->failing ? "true" : "false", w->batches, w->flows, w->queued,
	    w->queue_cap, w->queue_peak, w->dropped, w->dropped_batches,
	    w->dropped + s->dropped, s->expired_flows, s->expired_blocks,
	    s->compactions, s->damaged_blocks, st->retention_age_ms,
	    st->retention_size, s->full ? "true" : "false", s->file_bytes,
	    s->room_flows, s->room_blocks);
	if (s->fs_free != UINT64_MAX)
		fprintf(fp, "%" PRIu64 "},", s->fs_free);
	else
		fputs("null},", fp);
}

/* The query engine's counters (qengine.h). */
static void
print_queries_json(const qengine_stats_t *q, FILE *fp)
{
	fprintf(fp, "\"queries\":{\"received\":%" PRIu64 ",\"answered\":%"
	    PRIu64 ",\"failed\":%" PRIu64 ",\"cancelled\":%" PRIu64
	    ",\"busy\":%" PRIu64 ",\"queued\":%" PRIu64
	    ",\"queue_expired\":%" PRIu64 ",\"running\":%" PRIu64
	    ",\"kept\":%" PRIu64 ",\"expired\":%" PRIu64
	    ",\"flows_scanned\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
	    ",\"tput_requests\":%" PRIu64 "},",
	    q->received, q->answered, q->failed, q->cancelled, q->busy,
	    q->queued, q->queue_expired, q->running, q->kept, q->expired,
	    q->flows_scanned, q->bytes_sent, q->tput_requests);
}

static void
print_queries_table(const qengine_stats_t *q, FILE *fp)
{
	char b[32];

	fprintf(fp, "queries    %" PRIu64 " received, %" PRIu64 " answered, %"
	    PRIu64 " failed, %" PRIu64 " cancelled, %" PRIu64 " refused busy;"
	    " running %" PRIu64 ", queued %" PRIu64 " (timed out waiting %"
	    PRIu64 "), kept %" PRIu64 " (expired %" PRIu64 "); %"
	    PRIu64 " flows scanned, %s sent\n", q->received, q->answered,
	    q->failed, q->cancelled, q->busy, q->running, q->queued,
	    q->queue_expired, q->kept, q->expired,
	    q->flows_scanned, size_fmt(q->bytes_sent, b, sizeof(b)));
}

int
node_stats_print_json(const node_stats_t *st, FILE *fp)
{
	const ingest_totals_t *t = &st->totals;
	const decoder_stats_t *d = &st->decoder;
	const ingest_tplstats_t *tp = &st->templates;
	char b[CONF_ADDR_STRLEN];

	fprintf(fp, "{\"pid\":%ld,\"now_ms\":%" PRIu64 ",\"start_ms\":%"
	    PRIu64 ",\"uptime_ms\":%" PRIu64 ",", st->pid, st->now_ms,
	    st->start_ms, st->now_ms > st->start_ms ?
	    st->now_ms - st->start_ms : 0);
	fprintf(fp, "\"totals\":{\"datagrams\":%" PRIu64
	    ",\"datagram_bytes\":%" PRIu64 ",\"flows\":%" PRIu64
	    ",\"bytes\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"batches\":%"
	    PRIu64 "},", t->datagrams, t->datagram_bytes, t->flows, t->bytes,
	    t->packets, t->batches);
	fprintf(fp, "\"decoder\":{\"packets\":%" PRIu64 ",\"flows\":%" PRIu64
	    ",\"unknown_version\":%" PRIu64 ",\"malformed\":%" PRIu64
	    ",\"exporters\":%" PRIu64 ",\"exporters_dropped\":%" PRIu64
	    ",\"exporters_refused_source\":%" PRIu64
	    ",\"exporters_refused_full\":%" PRIu64
	    ",\"exporters_evicted\":%" PRIu64 ",\"exporters_expired\":%"
	    PRIu64 ",\"clamped\":%" PRIu64 "},", d->packets, d->flows,
	    d->unknown_version, d->malformed, d->exporters,
	    d->exporters_dropped, d->exporters_refused_source,
	    d->exporters_refused_full, d->exporters_evicted,
	    d->exporters_expired, d->clamped);
	fprintf(fp, "\"templates\":{\"saves\":%" PRIu64 ",\"save_errors\":%"
	    PRIu64 ",\"last_save_ms\":%" PRIu64 ",\"loaded_bytes\":%" PRIu64
	    ",\"loaded_templates\":%" PRIu64 ",\"load_damaged\":%" PRIu64
	    ",\"load_failed\":%s,\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"max_bytes\":%" PRIu64 ",\"evicted\":%" PRIu64
	    ",\"evicted_exporters\":%" PRIu64 ",\"refused\":%" PRIu64 "},",
	    tp->saves, tp->save_errors, tp->last_save_ms, tp->loaded_bytes,
	    tp->loaded_templates, tp->load_damaged,
	    tp->load_failed ? "true" : "false", tp->mem.templates,
	    tp->mem.bytes, tp->mem.max_bytes, tp->mem.evicted,
	    tp->mem.evicted_exporters, tp->mem.refused);
	if (st->have_store)
		print_store_json(st, fp);
	if (st->have_queries)
		print_queries_json(&st->queries, fp);
	fputs("\"sockets\":[", fp);
	for (size_t i = 0; i < st->nsockets; i++) {
		const listener_stats_t *s = &st->sockets[i];

		fprintf(fp, "%s{\"address\":\"%s\",\"proto\":\"%s\","
		    "\"datagrams\":%" PRIu64 ",\"bytes\":%" PRIu64
		    ",\"truncated\":%" PRIu64 ",\"errors\":%" PRIu64
		    ",\"refused\":%" PRIu64 ",\"rcvbuf\":%d,\"drops\":",
		    i ? "," : "", conf_addr_fmt(&s->ss, b, sizeof(b)),
		    config_proto_name(s->proto), s->datagrams, s->bytes,
		    s->truncated, s->errors, s->refused, s->rcvbuf);
		if (s->drops_known)
			fprintf(fp, "%" PRIu64 "}", s->drops);
		else
			fputs("null}", fp);
	}
	fputs("],\"exporters\":[", fp);
	for (size_t i = 0; i < st->nexporters; i++) {
		const node_exporter_t *e = &st->exporters[i];
		const exporter_stats_t *x = &e->st;
		char ab[ADDR_STRLEN + 16] = "";

		/* sFlow: the agent the datagrams name (one relay address
		   may carry many agents) */
		if (e->version == DECODER_VERSION_SFLOW)
			snprintf(ab, sizeof(ab), ",\"agent\":\"%s\"",
			    addr_fmt(x->agent, b, sizeof(b)));
		fprintf(fp, "%s{\"address\":\"%s\"%s,\"protocol\":\"%s\","
		    "\"version\":%u,\"domain\":%" PRIu32 ",\"packets\":%" PRIu64
		    ",\"flows\":%" PRIu64 ",\"malformed\":%" PRIu64
		    ",\"no_template\":%" PRIu64 ",\"no_template_dropped\":%"
		    PRIu64 ",\"held_replayed\":%" PRIu64 ",\"seq_gaps\":%"
		    PRIu64 ",\"seq_missing\":%" PRIu64 ",\"seq_resets\":%"
		    PRIu64 ",\"templates\":%" PRIu64 ",\"templates_withdrawn\":%"
		    PRIu64 ",\"options_records\":%" PRIu64
		    ",\"counter_samples\":%" PRIu64 ",\"sampling_bad\":%" PRIu64
		    ",\"clamped\":%" PRIu64 ",\"last_seen_ms\":%" PRIu64 "}",
		    i ? "," : "", addr_fmt(e->addr, b, sizeof(b)), ab,
		    node_stats_proto_name(e->version),
		    e->version == DECODER_VERSION_SFLOW ? 5 : e->version,
		    e->domain, x->packets, x->flows, x->malformed,
		    x->no_template, x->no_template_dropped, x->held_replayed,
		    x->seq_gaps, x->seq_missing, x->seq_resets, x->templates,
		    x->templates_withdrawn, x->options_records,
		    x->counter_samples, x->sampling_bad, x->clamped,
		    x->last_seen_ms);
	}
	fputs("]}\n", fp);
	fflush(fp);
	return ferror(fp) ? FF_EIO : 0;
}

/* --- tables ---------------------------------------------------------------- */

#define NUM(cell, v)	snprintf((cell), CELL, "%" PRIu64, (uint64_t)(v))

static void
socket_row(const void *arg, long i, char cells[][CELL])
{
	static const char *hdr[] = { "SOCKET", "PROTO", "DATAGRAMS", "BYTES",
	    "KERNEL-DROPS", "TRUNCATED", "ERRORS", "REFUSED", "RCVBUF" };
	const node_stats_t *st = arg;
	const listener_stats_t *s;

	if (i < 0) {
		for (size_t c = 0; c < FF_NELEM(hdr); c++)
			snprintf(cells[c], CELL, "%s", hdr[c]);
		return;
	}
	s = &st->sockets[i];
	conf_addr_fmt(&s->ss, cells[0], CELL);
	snprintf(cells[1], CELL, "%s", config_proto_name(s->proto));
	NUM(cells[2], s->datagrams);
	NUM(cells[3], s->bytes);
	if (s->drops_known)
		NUM(cells[4], s->drops);
	else
		snprintf(cells[4], CELL, "?");
	NUM(cells[5], s->truncated);
	NUM(cells[6], s->errors);
	NUM(cells[7], s->refused);
	snprintf(cells[8], CELL, "%d", s->rcvbuf);
}

static void
exporter_row(const void *arg, long i, char cells[][CELL])
{
	static const char *hdr[] = { "EXPORTER", "PROTO", "DOMAIN", "PACKETS",
	    "FLOWS", "MALFORMED", "NO-TEMPLATE", "DROPPED", "REPLAYED",
	    "SEQ-GAPS", "MISSING", "TEMPLATES", "OPTIONS", "COUNTERS",
	    "BAD-SAMPLING", "CLAMPED", "LAST-SEEN" };
	const node_stats_t *st = arg;
	const node_exporter_t *e;

	if (i < 0) {
		for (size_t c = 0; c < FF_NELEM(hdr); c++)
			snprintf(cells[c], CELL, "%s", hdr[c]);
		return;
	}
	e = &st->exporters[i];
	addr_fmt(e->addr, cells[0], CELL);
	if (e->version == DECODER_VERSION_SFLOW &&
	    memcmp(e->addr, e->st.agent, 16) != 0) {
		char ag[ADDR_STRLEN];

		/* an sFlow agent behind a relay (or not naming itself) */
		snprintf(cells[0] + strlen(cells[0]), CELL - strlen(cells[0]),
		    " agent %s", addr_fmt(e->st.agent, ag, sizeof(ag)));
	}
	snprintf(cells[1], CELL, "%s", node_stats_proto_name(e->version));
	NUM(cells[2], e->domain);
	NUM(cells[3], e->st.packets);
	NUM(cells[4], e->st.flows);
	NUM(cells[5], e->st.malformed);
	NUM(cells[6], e->st.no_template);
	NUM(cells[7], e->st.no_template_dropped);
	NUM(cells[8], e->st.held_replayed);
	NUM(cells[9], e->st.seq_gaps);
	NUM(cells[10], e->st.seq_missing);
	NUM(cells[11], e->st.templates);
	NUM(cells[12], e->st.options_records);
	NUM(cells[13], e->st.counter_samples);
	NUM(cells[14], e->st.sampling_bad);
	NUM(cells[15], e->st.clamped);
	age_fmt(st->now_ms, e->st.last_seen_ms, cells[16], CELL);
}

/* A duration in its largest whole unit ("30d", "90m", "1500ms"). */
static void
dur_fmt(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} u[] = { { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" },
	    { 1000, "s" }, { 1, "ms" } };

	for (size_t i = 0; i < FF_NELEM(u); i++)
		if (ms % u[i].ms == 0 || u[i].ms == 1) {
			snprintf(buf, len, "%" PRIu64 "%s", ms / u[i].ms,
			    u[i].unit);
			return;
		}
}

static void
print_store_table(const node_stats_t *st, FILE *fp)
{
	const writer_stats_t *w = &st->store;
	const store_stats_t *s = &w->store;
	char used[32], map[32], last[32], age[32], size[32];

	size_fmt(s->bytes_used, used, sizeof(used));
	size_fmt(s->map_size, map, sizeof(map));
	age_fmt(st->now_ms, w->last_commit_ms, last, sizeof(last));
	if (st->retention_age_ms != 0)
		dur_fmt(st->retention_age_ms, age, sizeof(age));
	else
		snprintf(age, sizeof(age), "none");
	if (st->retention_size != 0)
		size_fmt(st->retention_size, size, sizeof(size));
	else
		snprintf(size, sizeof(size), "none");
	fprintf(fp, "store      flows %" PRIu64 " in %" PRIu64 " blocks, %s "
	    "used of a %s map; committed %" PRIu64 " in %" PRIu64
	    " commits (last %s), pending %" PRIu64 "%s%s\n", s->flows,
	    s->blocks, used, map, s->committed, s->commits, last, s->pending,
	    w->failing ? " (WRITES FAILING)" : "",
	    s->full ? " (STORE FULL)" : "");
	size_fmt(s->file_bytes, used, sizeof(used));
	if (s->fs_free != UINT64_MAX)
		size_fmt(s->fs_free, map, sizeof(map));
	else
		snprintf(map, sizeof(map), "unknown");
	fprintf(fp, "           data file %s, %s free on its filesystem\n",
	    used, map);
	fprintf(fp, "           queue %" PRIu64 "/%" PRIu64 " batches (peak %"
	    PRIu64 "), dropped: queue full %" PRIu64 " flows, write errors %"
	    PRIu64 " (%" PRIu64 " flows)\n", w->queued, w->queue_cap,
	    w->queue_peak, w->dropped, s->write_errors, s->dropped);
	fprintf(fp, "           retention age %s, size %s: expired %" PRIu64
	    " flows in %" PRIu64 " blocks (for room: %" PRIu64 " flows in %"
	    PRIu64 " blocks); compactions %" PRIu64 "\n", age, size,
	    s->expired_flows, s->expired_blocks, s->room_flows,
	    s->room_blocks, s->compactions);
}

int
node_stats_print_table(const node_stats_t *st, FILE *fp)
{
	static const int sock_left[9] = { 1, 1 };
	static const int exp_left[17] = { 1, 1, [16] = 1 };
	const ingest_totals_t *t = &st->totals;
	const decoder_stats_t *d = &st->decoder;
	const ingest_tplstats_t *tp = &st->templates;
	uint64_t up = st->now_ms > st->start_ms ?
	    (st->now_ms - st->start_ms) / 1000 : 0;
	char since[32], last[32], used[32], budget[32];

	time_fmt_ms(st->start_ms, since, sizeof(since));
	fprintf(fp, "node       pid %ld, up %" PRIu64 "d %02" PRIu64 ":%02"
	    PRIu64 ":%02" PRIu64 " (since %s)\n", st->pid, up / 86400,
	    up / 3600 % 24, up / 60 % 60, up % 60, since);
	fprintf(fp, "totals     datagrams %" PRIu64 ", flows %" PRIu64
	    ", bytes %" PRIu64 ", packets %" PRIu64 "\n", t->datagrams,
	    t->flows, t->bytes, t->packets);
	fprintf(fp, "decoder    unknown-version %" PRIu64 ", malformed %"
	    PRIu64 ", clamped %" PRIu64 "\n", d->unknown_version,
	    d->malformed, d->clamped);
	fprintf(fp, "exporters  %" PRIu64 " known; new ones refused %" PRIu64
	    " (per-source limit %" PRIu64 ", table full %" PRIu64 "), "
	    "evicted %" PRIu64 ", expired %" PRIu64 "\n", d->exporters,
	    d->exporters_dropped, d->exporters_refused_source,
	    d->exporters_refused_full, d->exporters_evicted,
	    d->exporters_expired);
	if (tp->last_save_ms)
		time_fmt_ms(tp->last_save_ms, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "never");
	fprintf(fp, "templates  %" PRIu64 " in %s of %s; evicted %" PRIu64
	    " (of %" PRIu64 " exporters), refused %" PRIu64 "\n",
	    tp->mem.templates, size_fmt(tp->mem.bytes, used, sizeof(used)),
	    size_fmt(tp->mem.max_bytes, budget, sizeof(budget)),
	    tp->mem.evicted, tp->mem.evicted_exporters, tp->mem.refused);
	fprintf(fp, "           saved %" PRIu64 " times (last %s), save "
	    "errors %" PRIu64 ", loaded at start %" PRIu64 " bytes (%" PRIu64
	    " templates, %" PRIu64 " damaged parts skipped)%s\n",
	    tp->saves, last, tp->save_errors, tp->loaded_bytes,
	    tp->loaded_templates, tp->load_damaged,
	    tp->load_failed ? " (file was damaged: moved aside)" : "");
	if (st->have_store)
		print_store_table(st, fp);
	if (st->have_queries)
		print_queries_table(&st->queries, fp);
	fputc('\n', fp);
	if (st->nsockets > 0)
		table_print(fp, st, st->nsockets, 9, socket_row, sock_left);
	else
		fputs("no sockets\n", fp);
	fputc('\n', fp);
	if (st->nexporters > 0)
		table_print(fp, st, st->nexporters, 17, exporter_row,
		    exp_left);
	else
		fputs("no exporters yet\n", fp);
	fflush(fp);
	return ferror(fp) ? FF_EIO : 0;
}
