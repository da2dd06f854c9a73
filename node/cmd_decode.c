/*
 * flowfleet-node decode [--json] [--no-hold] [--exporters] FILE...
 *
 * Decode the UDP flow exports in capture files, offline, with one decoder
 * across all files (so a template file can precede its data file), and
 * print one line (or JSON object) per flow on stdout and a summary on
 * stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cmd.h"
#include "common/err.h"
#include "common/util.h"
#include "node/decode/decode.h"
#include "store/query/query.h"
#include "node.h"
#include "node/decode/pcapfile.h"

struct decode_run {
	decoder_t *dec;
	flow_sink_t sink;
	int json;
	uint64_t last_ts;
};

static void
print_flush(flow_sink_t *s)
{
	struct decode_run *r = s->arg;
	char buf[QUERY_FLOW_JSON_MAX];

	for (size_t i = 0; i < s->n; i++) {
		if (r->json)
			query_flow_fmt_json(&s->flows[i], buf, sizeof(buf));
		else
			query_flow_fmt_line(&s->flows[i], buf, sizeof(buf));
		puts(buf);
	}
	s->n = 0;
}

static int
on_datagram(void *arg, const pcap_udp_t *d)
{
	struct decode_run *r = arg;

	r->last_ts = d->ts_ms;
	decoder_packet(r->dec, d->src, d->sport, d->payload, d->len, d->ts_ms,
	    &r->sink);
	return 0;
}

static void
print_exporter(void *arg, const uint8_t addr[16], unsigned version,
    uint32_t domain, const exporter_stats_t *st)
{
	int json = *(int *)arg;
	char ab[ADDR_STRLEN], gb[ADDR_STRLEN], agent[ADDR_STRLEN + 16] = "";
	char label[16];

	addr_fmt(addr, ab, sizeof(ab));
	/* sFlow: the agent too (a relay's address may carry many) */
	if (version == DECODER_VERSION_SFLOW) {
		snprintf(label, sizeof(label), "sflow");
		addr_fmt(st->agent, gb, sizeof(gb));
		snprintf(agent, sizeof(agent), json ? ",\"agent\":\"%s\"" :
		    " agent %s", gb);
	} else
		snprintf(label, sizeof(label), "v%u", version);
	if (json)
		fprintf(stderr, "{\"exporter\":\"%s\"%s,"
		    "\"protocol\":\"%s\",\"version\":%u,"
		    "\"domain\":%u,\"packets\":%" PRIu64 ",\"flows\":%" PRIu64
		    ",\"malformed\":%" PRIu64 ",\"no_template\":%" PRIu64
		    ",\"no_template_dropped\":%" PRIu64
		    ",\"held_replayed\":%" PRIu64 ",\"templates\":%" PRIu64
		    ",\"templates_withdrawn\":%" PRIu64
		    ",\"options_records\":%" PRIu64 ",\"seq_gaps\":%" PRIu64
		    ",\"seq_missing\":%" PRIu64 ",\"seq_resets\":%" PRIu64
		    ",\"counter_samples\":%" PRIu64 ",\"sampling_bad\":%" PRIu64
		    ",\"clamped\":%" PRIu64 "}\n", ab, agent, label, version,
		    domain, st->packets, st->flows,
		    st->malformed, st->no_template, st->no_template_dropped,
		    st->held_replayed, st->templates, st->templates_withdrawn,
		    st->options_records, st->seq_gaps, st->seq_missing,
		    st->seq_resets, st->counter_samples, st->sampling_bad,
		    st->clamped);
	else
		fprintf(stderr, "exporter %s %s%s domain %u: packets %" PRIu64
		    " flows %" PRIu64 " malformed %" PRIu64 " no-template %"
		    PRIu64 " (dropped %" PRIu64 ", replayed %" PRIu64
		    ") templates %" PRIu64 " withdrawn %" PRIu64
		    " options-records %" PRIu64 " seq-gaps %" PRIu64
		    " (missing %" PRIu64 ") seq-resets %" PRIu64
		    " counter-samples %" PRIu64 " bad-sampling %" PRIu64
		    " clamped %" PRIu64 "\n", ab, label, agent, domain,
		    st->packets, st->flows, st->malformed, st->no_template,
		    st->no_template_dropped, st->held_replayed, st->templates,
		    st->templates_withdrawn, st->options_records, st->seq_gaps,
		    st->seq_missing, st->seq_resets, st->counter_samples,
		    st->sampling_bad, st->clamped);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: flowfleet-node decode [--json] [--no-hold] [--exporters] FILE...\n"
"\n"
"Decode the NetFlow v5/v9, IPFIX and sFlow v5 exports found in capture\n"
"files (pcap or pcapng; any UDP port) and print one line per flow record.\n"
"All files share one decoder, in the order given, so a file holding\n"
"templates can precede the file holding their data.\n"
"\n"
"  --json        one JSON object per flow; the summary on stderr is JSON\n"
"  --no-hold     drop data that arrives before its template at once\n"
"                (default: hold it for up to 30 s and decode it when the\n"
"                template arrives, as the daemon does)\n"
"  --exporters   print each exporter's counters on stderr at the end:\n"
"                address, protocol (v5, v9, v10 for IPFIX, sflow), for sFlow\n"
"                the agent address, and domain (source id, observation\n"
"                domain, sFlow sub-agent)\n"
"  -h, --help    this text\n"
"\n"
"Exit status: 0 when every file was read, 1 when a file could not be\n"
"read, 2 on a usage error.\n");
}

int
cmd_decode(int argc, char **argv)
{
	struct decode_run r;
	decoder_opts_t dopts;
	pcapfile_stats_t tot, st;
	int exporters = 0, no_hold = 0, ret = 0, first;
	uint64_t truncated = 0;
	const decoder_stats_t *ds;
	const cmd_opt_t opts[] = {
		{ "--json", NULL, "one JSON object per flow", NULL, &r.json },
		{ "--no-hold", NULL, "drop data before its template", NULL,
		    &no_hold },
		{ "--exporters", NULL, "each exporter's counters", NULL,
		    &exporters },
		{ NULL, NULL, NULL, NULL, NULL }
	};

	memset(&r, 0, sizeof(r));
	memset(&dopts, 0, sizeof(dopts));
	memset(&tot, 0, sizeof(tot));
	if ((ret = cmd_getopt(argc, argv, opts, usage, 1, -1, &first)) !=
	    CMD_GO)
		return ret;
	ret = 0;
	if (no_hold)
		dopts.hold_unknown = -1;
	if ((r.dec = decoder_new(&dopts)) == NULL) {
		fprintf(stderr, "flowfleet-node decode: out of memory\n");
		return 1;
	}
	r.sink.cap = 1024;
	if ((r.sink.flows = calloc(r.sink.cap, sizeof(store_flow_t))) == NULL) {
		decoder_free(r.dec);
		fprintf(stderr, "flowfleet-node decode: out of memory\n");
		return 1;
	}
	r.sink.flush = print_flush;
	r.sink.arg = &r;

	for (int i = first; i < argc; i++) {
		char err[512];

		if (pcapfile_read(argv[i], on_datagram, &r, &st, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "flowfleet-node decode: %s\n", err);
			ret = 1;
			continue;
		}
		if (st.truncated) {
			fprintf(stderr, "flowfleet-node decode: %s: file is "
			    "truncated; decoded what came before the cut\n",
			    argv[i]);
			truncated++;
		}
		tot.frames += st.frames;
		tot.udp += st.udp;
		tot.other += st.other;
		tot.fragments += st.fragments;
		tot.short_frames += st.short_frames;
	}
	/* Held data whose template never came is dropped, and counted. */
	decoder_drop_held(r.dec);
	if (r.sink.n > 0)
		r.sink.flush(&r.sink);
	fflush(stdout);

	if (exporters)
		decoder_foreach_exporter(r.dec, print_exporter, &r.json);
	ds = decoder_stats(r.dec);
	if (r.json)
		fprintf(stderr, "{\"summary\":{\"frames\":%" PRIu64
		    ",\"udp\":%" PRIu64 ",\"non_udp\":%" PRIu64
		    ",\"fragments\":%" PRIu64 ",\"short_frames\":%" PRIu64
		    ",\"truncated_files\":%" PRIu64 ",\"packets\":%" PRIu64
		    ",\"flows\":%" PRIu64 ",\"malformed\":%" PRIu64
		    ",\"unknown_version\":%" PRIu64 ",\"clamped\":%" PRIu64
		    "}}\n", tot.frames, tot.udp, tot.other, tot.fragments,
		    tot.short_frames, truncated, ds->packets, ds->flows,
		    ds->malformed, ds->unknown_version, ds->clamped);
	else
		fprintf(stderr, "frames %" PRIu64 " udp %" PRIu64 " non-udp %"
		    PRIu64 " packets %" PRIu64 " flows %" PRIu64 " malformed %"
		    PRIu64 " unknown-version %" PRIu64 "\n", tot.frames,
		    tot.udp, tot.other, ds->packets, ds->flows, ds->malformed,
		    ds->unknown_version);
	free(r.sink.flows);
	decoder_free(r.dec);
	return ret;
}
