/*
 * Ingest: datagram -> decoder -> batch of flow records -> the node's
 * totals and the store writer (writer.c), which takes each full batch
 * buffer whole. Also the housekeeping tick (the partial batch goes to
 * the writer every INGEST_FLUSH_MS; held data and template persistence
 * in STATE_DIR/templates.bin once a second).
 *
 * Everything here runs on the loop thread, except the template file
 * write, which runs in libuv's thread pool, and the store writes, which
 * run in the writer's thread.
 */
#ifndef FF_NODE_INGEST_H
#define FF_NODE_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "nodeconf/nodeconf.h"
#include "node/decode/decode.h"
#include "writer.h"

#define INGEST_BATCH		4096	/* flow records per batch */
#define INGEST_FLUSH_MS		250	/* longest a partial batch waits */
#define INGEST_TEMPLATES_FILE	"templates.bin"
#define INGEST_TEMPLATES_MAX	(1024u * 1024 * 1024)	/* bytes read of the
							   file at most */

typedef struct ingest ingest_t;

/* Node totals, counted when a batch is handed on (to the writer, which
   may still drop it: see writer_stats_t). */
typedef struct ingest_totals {
	uint64_t datagrams;	/* datagrams given to the decoder */
	uint64_t datagram_bytes;
	uint64_t flows;		/* flow records decoded and handed on */
	uint64_t bytes;		/* sum of the flows' bytes */
	uint64_t packets;	/* sum of the flows' packets */
	uint64_t batches;	/* batches consumed */
} ingest_totals_t;

/* Template persistence counters. */
typedef struct ingest_tplstats {
	uint64_t saves;		/* successful writes of templates.bin */
	uint64_t save_errors;	/* failed writes */
	uint64_t last_save_ms;	/* time of the last successful write */
	uint64_t loaded_bytes;	/* size of the file loaded at start */
	uint64_t loaded_templates;	/* templates loaded from it */
	uint64_t load_damaged;	/* damaged parts of it skipped */
	int load_failed;	/* the file at start was damaged through:
				   nothing loaded, moved aside */
	decoder_tplstats_t mem;	/* template memory (filled by stats.c) */
} ingest_tplstats_t;

/*
 * Create the ingest state for configuration c: a decoder with c's hold
 * options, the batch, and the templates loaded from
 * c->state_dir/templates.bin (a missing file is normal; what is intact
 * of a damaged one is loaded, the damage logged and counted, and the
 * file kept as templates.bin.damaged; never fatal). Full
 * batches go to writer w (batch size INGEST_BATCH; NULL: they are only
 * counted), which must outlive the ingest state. Returns NULL on
 * allocation failure.
 */
ingest_t *ingest_new(uv_loop_t *loop, const struct node_config *c,
    writer_t *w);

/*
 * Start the tick: every INGEST_FLUSH_MS the partial batch goes to the
 * writer; once a second held data is replayed or expired and changed
 * templates are written to the state directory. Returns 0 or a negative
 * ff_err code.
 */
int ingest_start(ingest_t *ing);

/* Decode one datagram (a listener_recv_cb; arg is the ingest_t). */
void ingest_datagram(void *arg, const uint8_t addr[16], uint16_t port,
    const uint8_t *buf, size_t len, uint64_t now_ms);

/* Hand the partial batch to the writer now. */
void ingest_flush(ingest_t *ing);

/*
 * Stop: flush, stop the tick and close its handle. A template write in
 * flight completes in the loop. Call ingest_free() after the loop has
 * run dry.
 */
void ingest_close(ingest_t *ing);

/*
 * Write the templates once more if they changed since the last write
 * (synchronously: for shutdown, with the loop stopped), then free
 * everything. Accepts NULL.
 */
void ingest_free(ingest_t *ing);

/* Read access for the counters snapshot. */
const decoder_t *ingest_decoder(const ingest_t *ing);
const ingest_totals_t *ingest_totals(const ingest_t *ing);
const ingest_tplstats_t *ingest_tplstats(const ingest_t *ing);

#endif
