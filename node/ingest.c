/*
 * Ingest: from datagrams to batches of flow records, the housekeeping
 * tick, and template persistence.
 *
 * The per-datagram path is ingest_datagram() -> decoder_packet() ->
 * sink_next(): no system call, no allocation, no clock read (the
 * listener reads the clock once per receive batch).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "ingest.h"

#define TICK_MS		INGEST_FLUSH_MS
#define SLOW_TICKS	(1000 / TICK_MS)	/* once-a-second work */
#define EXPORTER_LOG_MS	60000	/* at most one line a minute */

struct save_work {
	uv_work_t req;
	ingest_t *ing;
	uint8_t *buf;
	size_t len;
	int failed;
	char msg[256];
};

struct ingest {
	uv_loop_t *loop;
	decoder_t *dec;
	writer_t *w;		/* NULL: batches are only counted */
	flow_sink_t sink;
	ingest_totals_t tot;
	ingest_tplstats_t tps;
	uv_timer_t tick;
	unsigned ticks;
	int tick_init;
	int closing;
	char *dir;		/* state directory */
	char *path;		/* dir/templates.bin */
	char *tmp;		/* dir/templates.bin.tmp */
	char *damaged;		/* dir/templates.bin.damaged */
	struct save_work *saving;	/* write in flight */
	int save_retry;		/* last write failed: write again */
	/* refused and evicted exporters, as last logged */
	unsigned max_per_source;
	uint64_t log_ms;
	uint64_t logged_source, logged_full, logged_other, logged_evicted;
	int save_needed;	/* the file at start was partly damaged:
				   write what was loaded */
};

/*
 * The consumer of full (and, every INGEST_FLUSH_MS, partial) batches: the
 * node's totals, then the buffer itself goes to the store writer, which
 * gives back an empty one (or, when its queue is full, drops the flows,
 * counts them and leaves us the buffer).
 */
static void
ingest_batch(ingest_t *ing, flow_sink_t *s)
{
	const store_flow_t *flows = s->flows;
	uint64_t bytes = 0, packets = 0;
	size_t n = s->n;

	for (size_t i = 0; i < n; i++) {
		bytes += flows[i].bytes;
		packets += flows[i].packets;
	}
	ing->tot.flows += n;
	ing->tot.bytes += bytes;
	ing->tot.packets += packets;
	ing->tot.batches++;
	if (ing->w != NULL)
		s->flows = writer_submit(ing->w, s->flows, n);
}

static void
sink_flush(flow_sink_t *s)
{
	ingest_batch(s->arg, s);
	s->n = 0;
}

void
ingest_flush(ingest_t *ing)
{
	if (ing->sink.n > 0)
		sink_flush(&ing->sink);
}

void
ingest_datagram(void *arg, const uint8_t addr[16], uint16_t port,
    const uint8_t *buf, size_t len, uint64_t now)
{
	ingest_t *ing = arg;

	ing->tot.datagrams++;
	ing->tot.datagram_bytes += len;
	decoder_packet(ing->dec, addr, port, buf, len, now, &ing->sink);
}

/* --- template file ------------------------------------------------------ */

static char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p;

	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/*
 * Write buf to path atomically: tmp file, fsync, rename, fsync of the
 * directory. Returns 0 or -1 with a message in msg.
 */
static int
write_atomic(const char *dir, const char *path, const char *tmp,
    const uint8_t *buf, size_t len, char *msg, size_t msglen)
{
	size_t off = 0;
	int fd, dfd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		snprintf(msg, msglen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(msg, msglen, "%s: write: %s", tmp,
			    strerror(errno));
			goto bad;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		snprintf(msg, msglen, "%s: fsync: %s", tmp, strerror(errno));
		goto bad;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(msg, msglen, "%s: close: %s", tmp, strerror(errno));
		goto bad;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(msg, msglen, "rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto bad;
	}
	/* Make the rename itself durable. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
bad:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

static void
save_done_log(ingest_t *ing, int failed, const char *msg)
{
	if (failed) {
		ing->tps.save_errors++;
		if (!ing->save_retry)
			log_warnx("cannot save templates: %s (retrying every "
			    "second)", msg);
		ing->save_retry = 1;
		return;
	}
	if (ing->save_retry)
		log_info("templates saved to %s again", ing->path);
	ing->save_retry = 0;
	ing->tps.saves++;
	ing->tps.last_save_ms = now_ms();
}

/* In the thread pool: checksum the snapshot, write it. */
static void
save_work(uv_work_t *req)
{
	struct save_work *w = req->data;
	ingest_t *ing = w->ing;

	decoder_templates_seal(w->buf, w->len);
	w->failed = write_atomic(ing->dir, ing->path, ing->tmp, w->buf,
	    w->len, w->msg, sizeof(w->msg)) != 0;
}

static void
save_after(uv_work_t *req, int status)
{
	struct save_work *w = req->data;
	ingest_t *ing = w->ing;

	if (status != 0) {
		w->failed = 1;
		snprintf(w->msg, sizeof(w->msg), "%s", uv_strerror(status));
	}
	save_done_log(ing, w->failed, w->msg);
	if (!w->failed)
		log_debug("templates: wrote %zu bytes to %s", w->len,
		    ing->path);
	ing->saving = NULL;
	free(w->buf);
	free(w);
}

/*
 * Snapshot the templates on the loop thread (a copy of at most about the
 * template memory budget), checksum and write them in a worker. One
 * write at a time: while one is in flight, changes wait for the next
 * tick.
 */
static void
save_async(ingest_t *ing)
{
	struct save_work *w;
	int rc;

	if (ing->saving != NULL)
		return;
	if (!decoder_templates_dirty(ing->dec) && !ing->save_retry &&
	    !ing->save_needed)
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	w->ing = ing;
	w->req.data = w;
	if ((rc = decoder_templates_snapshot(ing->dec, &w->buf,
	    &w->len)) != 0) {
		/* The dirty flag is still set: the next tick tries again. */
		free(w);
		return;
	}
	ing->save_needed = 0;	/* a failed write sets save_retry */
	if ((rc = uv_queue_work(ing->loop, &w->req, save_work,
	    save_after)) != 0) {
		save_done_log(ing, 1, uv_strerror(rc));
		free(w->buf);
		free(w);
		return;
	}
	ing->saving = w;
}

static void
save_sync(ingest_t *ing)
{
	uint8_t *buf;
	size_t len;
	char msg[256];
	int failed;

	if (!decoder_templates_dirty(ing->dec) && !ing->save_retry &&
	    !ing->save_needed)
		return;
	if (decoder_templates_export(ing->dec, &buf, &len) != 0) {
		log_warnx("cannot save templates: out of memory");
		return;
	}
	failed = write_atomic(ing->dir, ing->path, ing->tmp, buf, len, msg,
	    sizeof(msg)) != 0;
	save_done_log(ing, failed, msg);
	if (failed && ing->save_retry)
		log_warnx("templates not saved at shutdown: %s", msg);
	free(buf);
}

/*
 * Load STATE_DIR/templates.bin (mapped, not read into the heap; at most
 * INGEST_TEMPLATES_MAX bytes of it). A file that is partly damaged loads
 * what is intact, keeps a link to itself as templates.bin.damaged and is
 * written again at the next tick; one with nothing intact is moved aside.
 */
static void
load_templates(ingest_t *ing)
{
	const decoder_tplstats_t *ts = decoder_template_stats(ing->dec);
	uint64_t loaded0 = ts->loaded, damaged0 = ts->load_damaged;
	uint64_t refused0 = ts->refused, loaded, damaged;
	struct stat st;
	void *map = MAP_FAILED;
	size_t len = 0;
	int fd, rc;

	if ((fd = open(ing->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("templates: cannot open %s", ing->path);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		log_warnx("templates: %s is not a regular file with content",
		    ing->path);
		close(fd);
		rc = FF_EPROTO;
		goto damaged;
	}
	len = (size_t)st.st_size;
	if (st.st_size > INGEST_TEMPLATES_MAX) {
		log_warnx("templates: %s has %jd bytes; only the first %u are "
		    "read", ing->path, (intmax_t)st.st_size,
		    INGEST_TEMPLATES_MAX);
		len = INGEST_TEMPLATES_MAX;
	}
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		log_warn("templates: cannot map %s", ing->path);
		return;
	}
	rc = decoder_templates_import(ing->dec, map, len);
	munmap(map, len);
	loaded = ts->loaded - loaded0;
	damaged = ts->load_damaged - damaged0;
	ing->tps.loaded_templates = loaded;
	ing->tps.load_damaged = damaged;
	if (ts->refused > refused0)
		log_warnx("templates: %" PRIu64 " templates of %s did not fit "
		    "template-memory and were not loaded",
		    ts->refused - refused0, ing->path);
	if (rc == FF_ENOMEM) {
		log_warnx("templates: out of memory loading %s", ing->path);
		return;
	}
	if (rc == 0 && len == (size_t)st.st_size) {
		ing->tps.loaded_bytes = len;
		log_info("templates: loaded %" PRIu64 " templates (%zu bytes) "
		    "from %s", loaded, len, ing->path);
		return;
	}
	if (rc == 0 || loaded > 0) {
		/* partly damaged (or cut at the size cap): keep what
		   loaded, and the file for a look */
		ing->tps.loaded_bytes = len;
		ing->save_needed = 1;
		unlink(ing->damaged);
		if (link(ing->path, ing->damaged) == -1)
			log_warn("templates: cannot link %s to %s", ing->path,
			    ing->damaged);
		log_warnx("templates: %s is partly damaged: %" PRIu64
		    " damaged parts skipped, %" PRIu64 " templates loaded; "
		    "the file is kept as %s", ing->path, damaged, loaded,
		    ing->damaged);
		return;
	}
damaged:
	ing->tps.load_failed = 1;
	if (rename(ing->path, ing->damaged) == 0)
		log_warnx("templates: %s is damaged (%s); moved aside to %s; "
		    "templates are learned again from the exporters",
		    ing->path, ff_strerror(rc), ing->damaged);
	else
		log_warn("templates: %s is damaged (%s) and cannot be moved "
		    "aside", ing->path, ff_strerror(rc));
}

/* --- lifecycle ----------------------------------------------------------- */

ingest_t *
ingest_new(uv_loop_t *loop, const struct node_config *c, writer_t *w)
{
	decoder_opts_t o;
	ingest_t *ing;

	if ((ing = calloc(1, sizeof(*ing))) == NULL)
		return NULL;
	ing->loop = loop;
	ing->w = w;
	memset(&o, 0, sizeof(o));
	o.hold_unknown = c->hold_unknown ? 1 : -1;
	o.hold_max_ms = (uint32_t)c->hold_time_ms;
	o.max_per_source = c->exporter_max_per_source;
	o.idle_ms = c->exporter_idle_ms ? c->exporter_idle_ms : UINT64_MAX;
	ing->max_per_source = c->exporter_max_per_source;
	o.tpl_max_bytes = (size_t)c->template_memory;
	if ((ing->dec = decoder_new(&o)) == NULL ||
	    (ing->sink.flows = calloc(INGEST_BATCH,
	    sizeof(store_flow_t))) == NULL ||
	    (ing->dir = strdup(c->state_dir)) == NULL ||
	    (ing->path = path_join(c->state_dir,
	    INGEST_TEMPLATES_FILE)) == NULL ||
	    (ing->tmp = path_join(c->state_dir,
	    INGEST_TEMPLATES_FILE ".tmp")) == NULL ||
	    (ing->damaged = path_join(c->state_dir,
	    INGEST_TEMPLATES_FILE ".damaged")) == NULL) {
		ingest_free(ing);
		return NULL;
	}
	ing->sink.cap = INGEST_BATCH;
	ing->sink.flush = sink_flush;
	ing->sink.arg = ing;
	load_templates(ing);
	return ing;
}

/*
 * Say when new exporters were refused or evicted: at once the first time,
 * then at most once every EXPORTER_LOG_MS, with the counts since the last
 * line.
 */
static void
log_exporters(ingest_t *ing, uint64_t now)
{
	const decoder_stats_t *st = decoder_stats(ing->dec);
	uint64_t src = st->exporters_refused_source - ing->logged_source;
	uint64_t full = st->exporters_refused_full - ing->logged_full;
	uint64_t other = st->exporters_dropped -
	    st->exporters_refused_source - st->exporters_refused_full -
	    ing->logged_other;
	uint64_t ev = st->exporters_evicted - ing->logged_evicted;
	char a[ADDR_STRLEN];

	if (src + full + other + ev == 0 ||
	    (ing->log_ms != 0 && now - ing->log_ms < EXPORTER_LOG_MS))
		return;
	ing->log_ms = now;
	ing->logged_source += src;
	ing->logged_full += full;
	ing->logged_other += other;
	ing->logged_evicted += ev;
	if (src + full + other > 0)
		log_warnx("exporters: refused %" PRIu64 " new exporters, "
		    "their datagrams not decoded (%" PRIu64 ": their source "
		    "address had exporter-max-per-source %u; %" PRIu64 ": the "
		    "table was full of exporters that sent valid data; %"
		    PRIu64 ": out of memory), the last from %s; evicted %"
		    PRIu64 " exporters that had sent no valid data",
		    src + full + other, src, ing->max_per_source, full, other,
		    addr_fmt(st->last_refused, a, sizeof(a)), ev);
	else
		log_warnx("exporters: evicted %" PRIu64 " exporters that had "
		    "sent no valid data to make room for new ones (a flood of "
		    "made-up source ids or sub-agents?)", ev);
}

static void
on_tick(uv_timer_t *t)
{
	ingest_t *ing = t->data;

	if (++ing->ticks % SLOW_TICKS == 0) {
		uint64_t now = now_ms();

		decoder_tick(ing->dec, now, &ing->sink);
		log_exporters(ing, now);
	}
	ingest_flush(ing);
	if (ing->ticks % SLOW_TICKS == 0)
		save_async(ing);
}

int
ingest_start(ingest_t *ing)
{
	int rc;

	if ((rc = uv_timer_init(ing->loop, &ing->tick)) != 0)
		return FF_EIO;
	ing->tick_init = 1;
	ing->tick.data = ing;
	if ((rc = uv_timer_start(&ing->tick, on_tick, TICK_MS, TICK_MS)) != 0)
		return FF_EIO;
	return 0;
}

void
ingest_close(ingest_t *ing)
{
	if (ing->closing)
		return;
	ing->closing = 1;
	ingest_flush(ing);
	if (ing->tick_init)
		uv_close((uv_handle_t *)&ing->tick, NULL);
}

void
ingest_free(ingest_t *ing)
{
	if (ing == NULL)
		return;
	if (ing->dec != NULL && ing->path != NULL && ing->saving == NULL)
		save_sync(ing);
	decoder_free(ing->dec);
	free(ing->sink.flows);
	free(ing->dir);
	free(ing->path);
	free(ing->tmp);
	free(ing->damaged);
	free(ing);
}

const decoder_t *
ingest_decoder(const ingest_t *ing)
{
	return ing->dec;
}

const ingest_totals_t *
ingest_totals(const ingest_t *ing)
{
	return &ing->tot;
}

const ingest_tplstats_t *
ingest_tplstats(const ingest_t *ing)
{
	return &ing->tps;
}
