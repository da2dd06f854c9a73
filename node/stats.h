/*
 * The node's counters: one snapshot taken on the loop thread (uptime,
 * totals, decoder globals, template persistence, the flow store and its
 * writer, per socket, per exporter), printed as an aligned table or as
 * JSON. The local `stats` command prints it; the controller's STATUS is
 * made from the same snapshot (control.c).
 */
#ifndef FF_NODE_STATS_H
#define FF_NODE_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node/decode/decode.h"
#include "ingest.h"
#include "listener.h"
#include "qengine.h"
#include "writer.h"

/* One exporter's counters. */
typedef struct node_exporter {
	uint8_t addr[16];
	unsigned version;	/* 5, 9, 10 or DECODER_VERSION_SFLOW */
	uint32_t domain;	/* source id / observation domain / sub-agent */
	exporter_stats_t st;
} node_exporter_t;

typedef struct node_stats {
	uint64_t now_ms;	/* when the snapshot was taken */
	uint64_t start_ms;	/* when the node started */
	long pid;
	ingest_totals_t totals;
	decoder_stats_t decoder;
	ingest_tplstats_t templates;
	int have_store;		/* the node writes a flow store */
	writer_stats_t store;	/* ... its writer's and store's counters */
	uint64_t retention_age_ms;	/* the store's settings, 0 = none */
	uint64_t retention_size;
	int have_queries;	/* the query engine runs (set by the daemon) */
	qengine_stats_t queries;	/* ... its counters */
	listener_stats_t *sockets;	/* nsockets entries */
	size_t nsockets;
	node_exporter_t *exporters;	/* sorted by address, version, domain */
	size_t nexporters;
} node_stats_t;

/*
 * Take a snapshot of the counters of listeners ls (may be NULL), ingest
 * ing and store writer w (may be NULL: no store section) into *st
 * (kernel drop counts are read from /proc now). Call on the loop thread.
 * Returns 0 or FF_ENOMEM; on success release the arrays with
 * node_stats_release(). The caller may fill in retention_age_ms and
 * retention_size afterwards, for printing.
 */
int node_stats_collect(const listeners_t *ls, const ingest_t *ing,
    writer_t *w, uint64_t start_ms, node_stats_t *st);

/* Free the arrays of a snapshot. Accepts NULL. */
void node_stats_release(node_stats_t *st);

/* Print st as aligned tables / as one JSON object. Return 0 or FF_EIO. */
int node_stats_print_table(const node_stats_t *st, FILE *fp);
int node_stats_print_json(const node_stats_t *st, FILE *fp);

/* Name of an exporter protocol version: "netflow5", "netflow9", "ipfix",
   "sflow5". */
const char *node_stats_proto_name(unsigned version);

#endif
