/*
 * The controller's sessions with its nodes: each node has a control
 * channel (2210) and a query channel (4210), dialed by the controller,
 * each with its own state machine:
 *
 *   WAIT --dial--> [RESOLVING] --> CONNECTING --TLS+pin--> HELLO --> UP
 *     ^                                                     |
 *     +------ close (backoff: exponential, with jitter) ----+
 *
 * The key is pinned inside the TLS handshake (verify()): only the node's
 * enrolled key is accepted, except on the control channel of a node that
 * has a join token, where any key gets an enrollment session (HELLO
 * with enroll: true) that accepts nothing but JOIN.
 *
 * A ready channel is PINGed every ping-interval; ping-misses intervals
 * without a PONG close it (on the control channel: both channels, the
 * node is down). PONGs give the clock offset; the control channel also
 * polls STATUS every status-interval.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "controller.h"

static const wire_conn_cbs_t conn_cbs;

static const char *
chname(const struct chan *ch)
{
	return ch->query ? "query" : "control";
}

/* ---- lifetime ---- */

static int
chan_busy(const struct chan *ch)
{
	return ch->state == CH_RESOLVING || ch->state == CH_CONNECTING ||
	    ch->state == CH_HELLO || ch->state == CH_ENROLL ||
	    ch->state == CH_UP || ch->state == CH_CLOSING;
}

/* Free a removed node once nothing refers to it. Returns 1 if freed. */
static int
peer_maybe_free(struct peer *p)
{
	if (!p->stopping || !p->n->removed || p->pending > 0 ||
	    chan_busy(&p->ch[0]) || chan_busy(&p->ch[1]))
		return 0;
	free(p->n);
	return 1;
}

/* ---- failures and backoff ---- */

/* Log a channel's failure, once per distinct reason. */
static void
log_failure(struct chan *ch, int warn)
{
	fnode_t *n = ch->p->n;

	if (strcmp(ch->err, ch->logged) == 0) {
		log_debug("node %s: %s channel: %s (again)", n->rec.name,
		    chname(ch), ch->err);
		return;
	}
	snprintf(ch->logged, sizeof(ch->logged), "%s", ch->err);
	if (warn)
		log_warnx("node %s: %s channel: %s", n->rec.name, chname(ch),
		    ch->err);
	else
		log_info("node %s: %s channel: %s (retrying)", n->rec.name,
		    chname(ch), ch->err);
}

static void ch_err(struct chan *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ch_err(struct chan *ch, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ch->err, sizeof(ch->err), fmt, ap);
	va_end(ap);
}

/* Next attempt: reconnect-min doubling to reconnect-max, times a
   random factor in [0.5, 1]. */
static void
ch_schedule(struct chan *ch)
{
	const struct controller_config *cfg = ch->p->c->cfg;
	uint64_t d = cfg->reconnect_min_ms;

	ch->state = CH_WAIT;
	if (ch->failures > 0 && ch->since_ms == 0)
		ch->since_ms = now_ms();	/* down since then */
	if (ch->reconnect_now) {
		ch->reconnect_now = 0;
		ch->backoff_ms = 0;
		ch->next_at = mono_ms();
		return;
	}
	for (unsigned i = 1; i < ch->failures && d < cfg->reconnect_max_ms;
	    i++)
		d *= 2;
	d = FF_MIN(d, cfg->reconnect_max_ms);
	d = d / 2 + randombytes_uniform((uint32_t)FF_MIN(d / 2 + 1,
	    UINT32_MAX));
	ch->backoff_ms = d;
	ch->next_at = mono_ms() + d;
}

/* Close the channel's connection (on_close schedules the retry). */
static void
ch_close(struct chan *ch, const char *why)
{
	if (ch->conn == NULL || ch->state == CH_CLOSING)
		return;
	ch->state = CH_CLOSING;
	wire_conn_close(ch->conn, why);
}

/* Send ERROR, record why, close. */
static void
ch_abort(struct chan *ch, uint32_t id, int code, const char *msg)
{
	if (ch->conn != NULL && ch->state != CH_CLOSING)
		wire_conn_send_error(ch->conn, id, code, msg);
	ch_err(ch, "%s", msg);
	ch_close(ch, msg);
}

/* ---- sending ---- */

static int
send_built(struct chan *ch, wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = wire_msg_end(b, &f, &flen)) == 0)
		rc = wire_conn_send(ch->conn, f, flen);
	wire_builder_free(b);
	return rc;
}

static uint32_t
next_id(struct chan *ch)
{
	if (++ch->next_id == 0)
		ch->next_id = 1;
	return ch->next_id;
}

static void
send_hello(struct chan *ch, int enroll)
{
	controller_t *c = ch->p->c;
	wire_builder_t b;

	if (wire_msg_begin(&b, WIRE_HELLO, 0, ch->query ? 8 : 9) != 0) {
		wire_builder_free(&b);
		return;
	}
	wire_put_u64(&b, "proto_min", WIRE_PROTO_MIN);
	wire_put_u64(&b, "proto_max", WIRE_PROTO_MAX);
	wire_put_str(&b, "role", "controller");
	wire_put_str(&b, "channel", chname(ch));
	wire_put_str(&b, "name", c->name);
	wire_put_str(&b, "version", FF_VERSION);
	wire_put_key(&b, "features");
	msgpack_pack_array(wire_builder_pk(&b), 0);
	wire_put_u64(&b, "time_ms", now_ms());
	if (!ch->query)
		wire_put_bool(&b, "enroll", enroll);
	send_built(ch, &b);
}

static void
send_ping(struct chan *ch)
{
	wire_builder_t b;

	if (wire_msg_begin(&b, WIRE_PING, next_id(ch), 1) != 0) {
		wire_builder_free(&b);
		return;
	}
	wire_put_u64(&b, "t1", now_ms());
	send_built(ch, &b);
}

static void
send_status_get(struct chan *ch)
{
	wire_builder_t b;

	if (wire_msg_begin(&b, WIRE_STATUS_GET, next_id(ch), 0) != 0) {
		wire_builder_free(&b);
		return;
	}
	send_built(ch, &b);
}

/* ---- dialing ---- */

static int
chan_verify(wire_conn_t *conn, const char *fp)
{
	struct chan *ch = wire_conn_udata(conn);
	fnode_t *n = ch->p->n;

	snprintf(ch->fp, sizeof(ch->fp), "%s", fp);
	ch->enroll = 0;
	if (n->rec.fp[0] != '\0' && wire_fp_equal(n->rec.fp, fp)) {
		ch->err[0] = '\0';
		return 0;
	}
	if (!ch->query && n->has_tok && !ch->p->stopping) {
		/* a join token may vouch for this key: enrollment session */
		ch->enroll = 1;
		return 0;
	}
	if (n->rec.fp[0] != '\0')
		ch_err(ch, "refused %s: its key %s is not the enrolled key "
		    "%s", wire_conn_peer(conn), fp, n->rec.fp);
	else
		ch_err(ch, "refused %s: its key %s is not enrolled (no key is "
		    "pinned for this node and it has no join token)",
		    wire_conn_peer(conn), fp);
	return -1;
}

static void
ch_connect(struct chan *ch, const struct sockaddr *sa)
{
	controller_t *c = ch->p->c;
	wire_conn_opts_t o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.id = c->id;
	o.verify = chan_verify;
	o.max_frame = ch->query ? WIRE_MAX_FRAME_QUERY :
	    WIRE_MAX_FRAME_CONTROL;
	o.handshake_ms = (uint32_t)c->cfg->connect_timeout_ms;
	o.cbs = &conn_cbs;
	o.udata = ch;
	ch->gen++;
	ch->err[0] = '\0';
	ch->fp[0] = '\0';
	if ((rc = wire_conn_connect(c->loop, sa, &o, &ch->conn)) != 0) {
		ch->conn = NULL;
		ch->failures++;
		ch_err(ch, "cannot connect: %s", ff_strerror(rc));
		log_failure(ch, 0);
		ch_schedule(ch);
		return;
	}
	ch->state = CH_CONNECTING;
}

struct gai_req {
	uv_getaddrinfo_t req;
	struct chan *ch;
	uint16_t port;
	char host[WIRE_ADDR_MAX + 1];
};

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct gai_req *g = (struct gai_req *)req;
	struct chan *ch = g->ch;
	struct peer *p = ch->p;

	p->pending--;
	if (p->stopping) {
		ch->state = CH_WAIT;
		uv_freeaddrinfo(res);
		free(g);
		peer_maybe_free(p);
		return;
	}
	if (status != 0 || res == NULL) {
		ch->failures++;
		ch_err(ch, "cannot resolve %s: %s", g->host,
		    uv_strerror(status));
		log_failure(ch, 0);
		ch_schedule(ch);
	} else {
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, res->ai_addr, FF_MIN(res->ai_addrlen,
		    sizeof(ss)));
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(g->port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    htons(g->port);
		ch_connect(ch, (struct sockaddr *)&ss);
	}
	uv_freeaddrinfo(res);
	free(g);
}

static void
ch_dial(struct chan *ch)
{
	struct peer *p = ch->p;
	char host[WIRE_ADDR_MAX + 1];
	uint16_t cport, qport, port;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct addrinfo hints;
	struct gai_req *g;
	int rc;

	if (wire_node_addr_parse(p->n->rec.address, host, sizeof(host), &cport,
	    &qport) != 0) {
		ch->failures++;
		ch_err(ch, "bad address '%s'", p->n->rec.address);
		log_failure(ch, 1);
		ch_schedule(ch);
		return;
	}
	port = ch->query ? qport : cport;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ch_connect(ch, (struct sockaddr *)&ss);
		return;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ch_connect(ch, (struct sockaddr *)&ss);
		return;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		ch->failures++;
		ch_err(ch, "out of memory");
		ch_schedule(ch);
		return;
	}
	g->ch = ch;
	g->port = port;
	memcpy(g->host, host, sizeof(g->host));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = uv_getaddrinfo(p->c->loop, &g->req, on_resolved, host,
	    NULL, &hints)) != 0) {
		free(g);
		ch->failures++;
		ch_err(ch, "cannot resolve %s: %s", host, uv_strerror(rc));
		log_failure(ch, 0);
		ch_schedule(ch);
		return;
	}
	p->pending++;
	ch->state = CH_RESOLVING;
}

/* ---- going up and down ---- */

static void
ch_up(struct chan *ch)
{
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	uint64_t now = mono_ms();

	ch->state = CH_UP;
	ch->was_up = 1;
	ch->failures = 0;
	ch->err[0] = '\0';
	ch->logged[0] = '\0';
	ch->since_ms = now_ms();
	ch->last_pong = now;
	ch->next_ping = now;		/* a clock sample at once */
	ch->next_status = now;
	if (!ch->query) {
		n->rec.last_seen_ms = now_ms();
		n->dirty = 1;
	}
	log_info("node %s: %s channel up (%s, key %s)", n->rec.name,
	    chname(ch), wire_conn_peer(ch->conn), ch->fp);
}

static void
clock_sample(struct peer *p, uint64_t t1, uint64_t t2, uint64_t t3,
    uint64_t t4)
{
	const struct controller_config *cfg = p->c->cfg;
	fnode_t *n = p->n;
	int64_t rtt, off, best_rtt = INT64_MAX, best_off = 0;
	uint64_t mag;

	/* t1 and t4 are ours: an echo from the future or older than a
	   minute is not a sample */
	if (t1 > t4 || t4 - t1 > 60000 || t2 > INT64_MAX || t3 > INT64_MAX ||
	    t1 > INT64_MAX || t4 > INT64_MAX)
		return;
	rtt = ((int64_t)t4 - (int64_t)t1) - ((int64_t)t3 - (int64_t)t2);
	if (rtt < 0)
		rtt = 0;
	off = (((int64_t)t2 - (int64_t)t1) + ((int64_t)t3 - (int64_t)t4)) / 2;
	p->samples[p->spos].rtt = rtt;
	p->samples[p->spos].offset = off;
	p->spos = (p->spos + 1) % CLOCK_SAMPLES;
	if (p->nsamples < CLOCK_SAMPLES)
		p->nsamples++;
	for (size_t i = 0; i < p->nsamples; i++)
		if (p->samples[i].rtt < best_rtt) {
			best_rtt = p->samples[i].rtt;
			best_off = p->samples[i].offset;
		}
	p->rtt_ms = best_rtt;
	if (!n->rec.have_offset || n->rec.clock_offset_ms != best_off)
		n->dirty = 1;
	n->rec.clock_offset_ms = best_off;
	n->rec.have_offset = 1;
	mag = best_off < 0 ? (uint64_t)-best_off : (uint64_t)best_off;
	if (mag > cfg->clock_warn_ms && !p->clock_warned) {
		p->clock_warned = 1;
		log_warnx("node %s: its clock is %" PRIu64 " ms %s the "
		    "controller's (more than clock-warn, %" PRIu64 " ms): time "
		    "windows of queries will be off on this node", n->rec.name,
		    mag, best_off > 0 ? "ahead of" : "behind",
		    cfg->clock_warn_ms);
	} else if (mag <= cfg->clock_warn_ms && p->clock_warned) {
		p->clock_warned = 0;
		log_info("node %s: its clock is back within %" PRIu64 " ms of "
		    "the controller's (offset %" PRId64 " ms)", n->rec.name,
		    cfg->clock_warn_ms, best_off);
	}
}

static void
on_pong(struct chan *ch, const wire_msg_t *m)
{
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	uint64_t t1, t2, t3, t4 = now_ms();
	char health[16];

	if (wire_get_u64(&m->body, "t1", &t1) != 0 ||
	    wire_get_u64(&m->body, "t2", &t2) != 0 ||
	    wire_get_u64(&m->body, "t3", &t3) != 0) {
		ch_abort(ch, m->id, FF_EPROTO, "malformed PONG");
		return;
	}
	ch->last_pong = mono_ms();
	if (ch->query)
		return;
	n->rec.last_seen_ms = t4;
	n->dirty = 1;
	clock_sample(p, t1, t2, t3, t4);
	if (wire_get_strbuf(&m->body, "health", health, sizeof(health)) == 0 &&
	    strcmp(health, n->rec.health) != 0) {
		if (n->rec.health[0] != '\0')
			log_info("node %s: health %s (was %s)", n->rec.name,
			    health, n->rec.health);
		snprintf(n->rec.health, sizeof(n->rec.health), "%s", health);
	}
}

static void
map_u64(const msgpack_object *map, const char *k, uint64_t *v)
{
	uint64_t x;

	if (wire_get_u64(map, k, &x) == 0)
		*v = x;
}

static void
on_status(struct chan *ch, const wire_msg_t *m)
{
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	inv_counters_t *k = &n->rec.counters;
	const msgpack_object *in, *st, *rt, *pr;
	char health[16], version[INV_MAX_VERSION + 1];

	if ((in = wire_get(&m->body, "intake")) == NULL ||
	    in->type != MSGPACK_OBJECT_MAP ||
	    wire_get_strbuf(&m->body, "health", health, sizeof(health)) != 0 ||
	    wire_get_strbuf(&m->body, "version", version,
	    sizeof(version)) != 0) {
		ch_abort(ch, m->id, FF_EPROTO, "malformed STATUS");
		return;
	}
	memset(k, 0, sizeof(*k));
	map_u64(in, "datagrams", &k->datagrams);
	map_u64(in, "flows", &k->flows);
	map_u64(in, "bytes", &k->bytes);
	map_u64(in, "packets", &k->packets);
	map_u64(in, "kernel_drops", &k->kernel_drops);
	map_u64(in, "truncated", &k->truncated);
	map_u64(in, "malformed", &k->malformed);
	map_u64(in, "no_template", &k->no_template);
	map_u64(in, "seq_missing", &k->seq_missing);
	map_u64(in, "exporters", &k->exporters);
	if ((st = wire_get(&m->body, "store")) != NULL &&
	    st->type == MSGPACK_OBJECT_MAP) {
		k->have_store = 1;
		map_u64(st, "flows", &k->store_flows);
		map_u64(st, "dropped", &k->store_dropped);
	}
	if ((rt = wire_get(&m->body, "rates")) != NULL &&
	    rt->type == MSGPACK_OBJECT_MAP) {
		map_u64(rt, "flows_per_s", &k->flows_per_s);
		map_u64(rt, "drops_per_s", &k->drops_per_s);
	}
	map_u64(&m->body, "uptime_ms", &k->uptime_ms);
	p->nproblems = 0;
	if ((pr = wire_get(&m->body, "problems")) != NULL &&
	    pr->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < pr->via.array.size &&
		    p->nproblems < MAX_PROBLEMS; i++) {
			const msgpack_object *s = &pr->via.array.ptr[i];

			if (s->type != MSGPACK_OBJECT_STR)
				continue;
			snprintf(p->problems[p->nproblems++],
			    sizeof(p->problems[0]), "%.*s",
			    (int)FF_MIN(s->via.str.size, 127), s->via.str.ptr);
		}
	snprintf(n->rec.health, sizeof(n->rec.health), "%s", health);
	snprintf(n->rec.version, sizeof(n->rec.version), "%s", version);
	n->rec.counters_ms = now_ms();
	n->rec.last_seen_ms = n->rec.counters_ms;
	n->dirty = 1;
}

/* ---- enrollment ---- */

struct join_ctx {
	struct chan *ch;
	uint32_t gen;
	uint32_t id;
	char fp[WIRE_FP_LEN];
	/* what the node record and token were, to put back on failure */
	char old_fp[WIRE_FP_LEN];
	uint64_t old_enrolled;
	inv_token_t old_tok;
};

static void
send_join_ok(struct chan *ch, uint32_t id)
{
	wire_builder_t b;

	if (wire_msg_begin(&b, WIRE_JOIN_OK, id, 1) != 0) {
		wire_builder_free(&b);
		return;
	}
	wire_put_str(&b, "name", ch->p->n->rec.name);
	send_built(ch, &b);
}

static void
join_done(controller_t *c, void *arg, int rc, const char *err)
{
	struct join_ctx *j = arg;
	struct chan *ch = j->ch;
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	int live;

	(void)c;
	p->pending--;
	p->join_busy = 0;
	live = ch->gen == j->gen && ch->state == CH_ENROLL &&
	    ch->conn != NULL && !p->stopping;
	if (rc != 0) {
		memcpy(n->rec.fp, j->old_fp, sizeof(n->rec.fp));
		n->rec.enrolled_ms = j->old_enrolled;
		n->tok = j->old_tok;
		log_warnx("node %s: cannot record the enrollment of key %s: %s",
		    n->rec.name, j->fp, err);
		if (live)
			ch_abort(ch, j->id, FF_ESTORE, "the controller cannot "
			    "record the enrollment");
	} else {
		log_info("node %s: enrolled with key %s (join token)",
		    n->rec.name, j->fp);
		if (live) {
			send_join_ok(ch, j->id);
			ch->reconnect_now = 1;
			ch_close(ch, "enrolled");
		}
		/* the query channel may start now that a key is pinned */
		if (p->ch[1].state == CH_IDLE) {
			p->ch[1].state = CH_WAIT;
			p->ch[1].next_at = mono_ms();
		}
	}
	free(j);
	peer_maybe_free(p);
}

/* Refuse a JOIN: tell the node, log on our side (once per distinct
   reason and key), close. */
static void
join_refuse(struct chan *ch, uint32_t id, const char *why)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "join token refused: %s", why);
	wire_conn_send_error(ch->conn, id, FF_EAUTH, msg);
	ch_err(ch, "refused %s (key %s): %s", wire_conn_peer(ch->conn), ch->fp,
	    msg);
	log_failure(ch, 1);
	ch_close(ch, msg);
}

static void
on_join(struct chan *ch, const wire_msg_t *m)
{
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	char name[64] = "";
	const char *secret, *why;
	size_t slen;
	struct join_ctx *j;

	if (p->join_busy) {
		ch_abort(ch, m->id, FF_EBUSY, "an enrollment is in progress");
		return;
	}
	if (wire_get_str(&m->body, "secret", &secret, &slen) != 0) {
		ch_abort(ch, m->id, FF_EPROTO, "malformed JOIN");
		return;
	}
	(void)wire_get_strbuf(&m->body, "name", name, sizeof(name));
	why = wire_token_check(secret, slen, n->has_tok, n->tok.hash,
	    n->tok.used_ms, n->tok.expires_ms, now_ms());
	if (why != NULL) {
		join_refuse(ch, m->id, why);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		ch_abort(ch, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	j->ch = ch;
	j->gen = ch->gen;
	j->id = m->id;
	memcpy(j->fp, ch->fp, sizeof(j->fp));
	memcpy(j->old_fp, n->rec.fp, sizeof(j->old_fp));
	j->old_enrolled = n->rec.enrolled_ms;
	j->old_tok = n->tok;
	if (name[0] != '\0' && strcmp(name, n->rec.name) != 0)
		log_info("node %s: joins calling itself %s", n->rec.name, name);
	/* in memory now (so no later write stores the old state), durable
	   before JOIN_OK */
	memcpy(n->rec.fp, ch->fp, sizeof(n->rec.fp));
	n->rec.enrolled_ms = now_ms();
	n->tok.used_ms = n->rec.enrolled_ms;
	memcpy(n->tok.used_by, ch->fp, sizeof(n->tok.used_by));
	if (fleet_put(p->c, n->rec.name, join_done, j) != 0) {
		memcpy(n->rec.fp, j->old_fp, sizeof(n->rec.fp));
		n->rec.enrolled_ms = j->old_enrolled;
		n->tok = j->old_tok;
		free(j);
		ch_abort(ch, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	p->pending++;
	p->join_busy = 1;
}

/* ---- messages ---- */

static void
on_hello(struct chan *ch, const wire_msg_t *m)
{
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	uint64_t pmin, pmax, t;
	char name[64], version[INV_MAX_VERSION + 1], msg[160];

	if (wire_get_u64(&m->body, "proto_min", &pmin) != 0 ||
	    wire_get_u64(&m->body, "proto_max", &pmax) != 0 ||
	    wire_get_strbuf(&m->body, "name", name, sizeof(name)) != 0 ||
	    wire_get_strbuf(&m->body, "version", version,
	    sizeof(version)) != 0 ||
	    wire_get_u64(&m->body, "time_ms", &t) != 0 || pmin > pmax ||
	    !wire_str_is(&m->body, "role", "node")) {
		ch_abort(ch, m->id, FF_EPROTO, "malformed HELLO");
		return;
	}
	if (!wire_str_is(&m->body, "channel", chname(ch))) {
		snprintf(msg, sizeof(msg), "HELLO: this is the %s channel",
		    chname(ch));
		ch_abort(ch, m->id, FF_EPROTO, msg);
		return;
	}
	if (pmax < WIRE_PROTO_MIN || pmin > WIRE_PROTO_MAX) {
		snprintf(msg, sizeof(msg), "unsupported version: node speaks "
		    "%" PRIu64 "..%" PRIu64 ", we speak %u..%u", pmin, pmax,
		    WIRE_PROTO_MIN, WIRE_PROTO_MAX);
		ch_abort(ch, m->id, FF_EVERSION, msg);
		return;
	}
	if (strcmp(name, p->hello_name) != 0) {
		if (strcmp(name, n->rec.name) != 0)
			log_info("node %s calls itself %s", n->rec.name, name);
		snprintf(p->hello_name, sizeof(p->hello_name), "%s", name);
	}
	if (!ch->query && strcmp(version, n->rec.version) != 0) {
		snprintf(n->rec.version, sizeof(n->rec.version), "%s",
		    version);
		n->dirty = 1;
	}
	if (ch->enroll) {
		/* only JOIN is accepted now */
		ch->state = CH_ENROLL;
		ch->deadline = mono_ms() + p->c->cfg->connect_timeout_ms;
		return;
	}
	ch_up(ch);
}

static void
chan_ready(wire_conn_t *conn)
{
	struct chan *ch = wire_conn_udata(conn);

	if (ch->p->stopping) {
		ch_close(ch, "the controller is stopping");
		return;
	}
	if (ch->enroll)
		log_info("node %s: %s (key %s) is not enrolled yet: "
		    "enrollment session", ch->p->n->rec.name,
		    wire_conn_peer(conn), ch->fp);
	ch->state = CH_HELLO;
	send_hello(ch, ch->enroll);
	ch->deadline = mono_ms() + ch->p->c->cfg->connect_timeout_ms;
}

/* Hand a query channel's message to its listener: 1 if it took it. */
static int
qdeliver(struct chan *ch, const wire_msg_t *m)
{
	controller_t *c = ch->p->c;

	return c->on_qmsg != NULL && c->on_qmsg(c, ch->p->n, m);
}

static void
chan_msg(wire_conn_t *conn, wire_msg_t *m)
{
	struct chan *ch = wire_conn_udata(conn);
	char msg[128], text[256] = "";
	int64_t code = 0;

	if (ch->state == CH_CLOSING)
		return;
	if (m->type == WIRE_ERROR) {
		(void)wire_get_i64(&m->body, "code", &code);
		(void)wire_get_strbuf(&m->body, "msg", text, sizeof(text));
		if (ch->state == CH_UP && ch->query && qdeliver(ch, m))
			return;
		if (ch->state == CH_UP) {
			log_warnx("node %s: %s channel: the node reports error "
			    "%lld about request %u: %s", ch->p->n->rec.name,
			    chname(ch), (long long)code, m->id, text);
			return;
		}
		ch_err(ch, "the node refused the session: %s", text);
		log_failure(ch, 1);
		ch_close(ch, "refused by the node");
		return;
	}
	if (ch->state == CH_HELLO) {
		if (m->type != WIRE_HELLO) {
			snprintf(msg, sizeof(msg), "%s before HELLO",
			    wire_type_name(m->type));
			ch_abort(ch, m->id, FF_EPROTO, msg);
			return;
		}
		on_hello(ch, m);
		return;
	}
	if (ch->state == CH_ENROLL) {
		if (m->type == WIRE_JOIN)
			on_join(ch, m);
		else if (m->type == WIRE_PONG)
			return;
		else {
			snprintf(msg, sizeof(msg), "%s in an enrollment "
			    "session", wire_type_name(m->type));
			ch_abort(ch, m->id, FF_EPROTO, msg);
		}
		return;
	}
	switch (m->type) {
	case WIRE_PONG:
		on_pong(ch, m);
		return;
	case WIRE_STATUS:
		if (!ch->query) {
			on_status(ch, m);
			return;
		}
		break;
	case WIRE_RESULT:
	case WIRE_RESULT_END:
		if (ch->query) {
			/* a late answer to a cancelled request is dropped */
			(void)qdeliver(ch, m);
			return;
		}
		break;
	}
	if (strcmp(wire_type_name(m->type), "unknown") == 0) {
		log_info("node %s: %s channel: message of unknown type %u: "
		    "answered with an error", ch->p->n->rec.name, chname(ch),
		    m->type);
		wire_conn_send_error(conn, m->id, FF_ENOTSUP, "not supported");
		return;
	}
	snprintf(msg, sizeof(msg), "%s is not allowed here",
	    wire_type_name(m->type));
	log_warnx("node %s: %s channel: %s: closing it", ch->p->n->rec.name,
	    chname(ch), msg);
	ch_abort(ch, m->id, FF_EPROTO, msg);
}

static void
chan_close(wire_conn_t *conn, int err, const char *why)
{
	struct chan *ch = wire_conn_udata(conn);
	struct peer *p = ch->p;
	fnode_t *n = p->n;
	int was_up = ch->was_up;

	(void)conn;
	ch->conn = NULL;
	ch->was_up = 0;
	if (ch->query && was_up && p->c->on_qdown != NULL)
		p->c->on_qdown(p->c, n, ch->err[0] ? ch->err : why);
	if (p->stopping) {
		ch->state = CH_WAIT;
		peer_maybe_free(p);
		return;
	}
	if (was_up) {
		ch->since_ms = now_ms();
		if (ch->err[0] == '\0')
			ch_err(ch, "%s", why);
		log_warnx("node %s: %s channel down: %s", n->rec.name,
		    chname(ch), ch->err);
		snprintf(ch->logged, sizeof(ch->logged), "%s", ch->err);
		ch->failures = 1;
	} else if (ch->reconnect_now) {
		ch->failures = 0;
	} else {
		if (ch->err[0] != '\0')
			;
		else if (err == FF_ETRUNC && ch->state == CH_CONNECTING)
			/* no alert: a cap, a restart, a filter, ... */
			ch_err(ch, "the node closed the connection during the "
			    "TLS handshake without saying why (its log may "
			    "tell)");
		else
			/* FF_EAUTH: it sent an alert about our certificate */
			ch_err(ch, "%s%s", why, err == FF_EAUTH ? " (does the "
			    "node trust this controller's key?)" : "");
		if (ch->since_ms == 0)
			ch->since_ms = now_ms();
		ch->failures++;
		log_failure(ch, err == FF_EAUTH || err == FF_EPROTO);
	}
	ch_schedule(ch);
}

static const wire_conn_cbs_t conn_cbs = {
	.on_ready = chan_ready,
	.on_msg = chan_msg,
	.on_close = chan_close,
};

/* ---- the public side ---- */

void
peer_start(controller_t *c, fnode_t *n)
{
	struct peer *p = &n->peer;

	memset(p, 0, sizeof(*p));
	p->c = c;
	p->n = n;
	p->rtt_ms = -1;
	for (int i = 0; i < 2; i++) {
		p->ch[i].p = p;
		p->ch[i].query = i;
		p->ch[i].since_ms = 0;
	}
	p->ch[0].state = CH_WAIT;
	p->ch[0].next_at = mono_ms();
	/* the query channel waits for a pinned key */
	p->ch[1].state = n->rec.fp[0] ? CH_WAIT : CH_IDLE;
	p->ch[1].next_at = mono_ms();
}

void
peer_stop(fnode_t *n, const char *why)
{
	struct peer *p = &n->peer;

	p->stopping = 1;
	for (int i = 0; i < 2; i++)
		if (p->ch[i].conn != NULL)
			ch_close(&p->ch[i], why);
		else if (!chan_busy(&p->ch[i]))
			p->ch[i].state = CH_IDLE;
	peer_maybe_free(p);
}

void
peer_stop_all(controller_t *c)
{
	for (fnode_t *n = c->nodes; n != NULL; n = n->next) {
		if (n->adding)
			continue;
		n->peer.stopping = 1;
		for (int i = 0; i < 2; i++)
			if (n->peer.ch[i].conn != NULL)
				ch_close(&n->peer.ch[i], "the controller is "
				    "stopping");
	}
}

static void
tick_chan(struct chan *ch, uint64_t now)
{
	struct peer *p = ch->p;
	const struct controller_config *cfg = p->c->cfg;
	uint64_t dead = cfg->ping_interval_ms * cfg->ping_misses;
	char why[96];

	switch (ch->state) {
	case CH_IDLE:
		if (ch->query && p->n->rec.fp[0] != '\0') {
			ch->state = CH_WAIT;
			ch->next_at = now;
		}
		return;
	case CH_WAIT:
		if (now >= ch->next_at)
			ch_dial(ch);
		return;
	case CH_HELLO:
	case CH_ENROLL:
		if (ch->deadline != 0 && now > ch->deadline) {
			ch_err(ch, "%s %s (key %s): no %s within %" PRIu64
			    " ms",
			    ch->state == CH_ENROLL ? "enrollment session with" :
			    "session with", wire_conn_peer(ch->conn), ch->fp,
			    ch->state == CH_ENROLL ? "JOIN" : "HELLO",
			    cfg->connect_timeout_ms);
			ch_close(ch, ch->err);
		}
		return;
	case CH_UP:
		if (now - ch->last_pong > dead) {
			snprintf(why, sizeof(why), "no PONG for %" PRIu64
			    " ms (%u pings)", now - ch->last_pong,
			    cfg->ping_misses);
			ch_err(ch, "%s", why);
			ch_close(ch, why);
			/* a dead control channel means a dead node */
			if (!ch->query && p->ch[1].state == CH_UP) {
				ch_err(&p->ch[1], "%s", "the node is down "
				    "(control channel lost)");
				ch_close(&p->ch[1], "node down");
			}
			return;
		}
		if (now >= ch->next_ping) {
			send_ping(ch);
			ch->next_ping = now + cfg->ping_interval_ms;
		}
		if (!ch->query && now >= ch->next_status) {
			send_status_get(ch);
			ch->next_status = now + cfg->status_interval_ms;
		}
		return;
	default:
		return;
	}
}

/*
 * The loop was held (a long callback, the process stopped or swapped
 * out) for gap ms: that time did not hear the nodes, so it does not
 * count against their heartbeats. Timers run before the loop reads its
 * sockets, so without this every PONG still waiting there would be
 * taken for a dead peer.
 */
static void
forgive_stall(controller_t *c, uint64_t now, uint64_t gap)
{
	log_warn("the controller did not run for %" PRIu64 " ms; that time "
	    "is not counted against the nodes' heartbeats", gap);
	for (fnode_t *n = c->nodes; n != NULL; n = n->next)
		for (int i = 0; i < 2; i++) {
			struct chan *ch = &n->peer.ch[i];

			if (ch->state == CH_UP)
				ch->last_pong = FF_MIN(ch->last_pong + gap, now);
		}
}

void
peer_tick(controller_t *c)
{
	uint64_t now = mono_ms();

	/* a tick a whole second late: the loop was held */
	if (c->last_tick != 0 && now - c->last_tick > PEER_TICK_MS + 1000)
		forgive_stall(c, now, now - c->last_tick - PEER_TICK_MS);
	c->last_tick = now;
	for (fnode_t *n = c->nodes; n != NULL; n = n->next) {
		if (n->adding || n->peer.stopping)
			continue;
		tick_chan(&n->peer.ch[0], now);
		tick_chan(&n->peer.ch[1], now);
	}
}

int
peer_up(const fnode_t *n, int query)
{
	return n->peer.ch[query ? 1 : 0].state == CH_UP;
}

const char *
peer_state_name(const fnode_t *n, int query)
{
	const struct chan *ch = &n->peer.ch[query ? 1 : 0];

	switch (ch->state) {
	case CH_IDLE:
		return query ? "waiting-for-key" : "idle";
	case CH_WAIT:
		return ch->failures ? "down" : "connecting";
	case CH_RESOLVING:
	case CH_CONNECTING:
	case CH_HELLO:
		return ch->failures ? "down" : "connecting";
	case CH_ENROLL:
		return "enrolling";
	case CH_UP:
		return "up";
	case CH_CLOSING:
		return "closing";
	}
	return "?";
}

/* ---- the query channels as a transport (qtransport_t) ---- */

static uint32_t
qnext_id(fnode_t *n)
{
	return next_id(&n->peer.ch[1]);
}

static int
qsend(fnode_t *n, const uint8_t *frame, size_t len)
{
	struct chan *ch = &n->peer.ch[1];

	if (ch->state != CH_UP || ch->conn == NULL)
		return FF_EINVAL;
	return wire_conn_send(ch->conn, frame, len);
}

static int
qup(const fnode_t *n)
{
	return peer_up(n, 1);
}

static const char *
qwhy(const fnode_t *n)
{
	const struct chan *q = &n->peer.ch[1], *c = &n->peer.ch[0];

	if (n->rec.fp[0] == '\0')
		return "not enrolled yet (waiting for its join token)";
	if (q->err[0] != '\0')
		return q->err;
	if (c->err[0] != '\0')
		return c->err;
	return peer_state_name(n, 1);
}

static void
qlisten(controller_t *c, qtransport_msg_fn on_msg,
    qtransport_down_fn on_down)
{
	c->on_qmsg = on_msg;
	c->on_qdown = on_down;
}

const qtransport_t peer_qtransport = {
	.next_id = qnext_id,
	.send = qsend,
	.up = qup,
	.why = qwhy,
	.listen = qlisten,
};
