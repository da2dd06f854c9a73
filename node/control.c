/*
 * The node's control plane: identity, pin, the 2210 control channel
 * (PING with health, STATUS, JOIN), and the 4210 query listener.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "control.h"
#include "session.h"
#include "trust.h"

#define NSAMPLES	(CONTROL_RATE_WINDOW + 1)
#define JOIN_ID		1	/* request id of our JOIN */

/* Counters sampled once a second, for rates and health. */
struct sample {
	uint64_t t;		/* monotonic ms; 0: empty slot */
	uint64_t flows;
	uint64_t drops;		/* kernel + truncated + store drops */
	uint64_t save_errors;
	uint64_t exporters_dropped;
	uint64_t store_errors;
};

struct control {
	uv_loop_t *loop;
	wire_identity_t *id;
	node_trust_t *trust;
	char name[64];
	sess_server_t *srv;
	qserver_t *q;
	uv_timer_t tick;
	int tick_open;
	int srv_open;		/* the control listener is not freed yet */
	int stopping;
	control_status_fn fn;
	void *fn_arg;
	uint64_t start_ms;
	struct sample ring[NSAMPLES];
	size_t ring_pos;	/* next slot to write */
};

/* Session marker: this session sent our JOIN and waits for the answer. */
static int joining_marker;

/* ---- counters, rates, health ---- */

static void
status_sums(const control_status_t *cs, struct sample *sm, uint64_t *kdrops,
    uint64_t *truncated)
{
	const node_stats_t *st = &cs->st;

	*kdrops = *truncated = 0;
	for (size_t i = 0; i < st->nsockets; i++) {
		if (st->sockets[i].drops_known)
			*kdrops += st->sockets[i].drops;
		*truncated += st->sockets[i].truncated;
	}
	sm->flows = st->totals.flows;
	sm->drops = *kdrops + *truncated + (cs->have_store ?
	    cs->store.dropped + cs->store_queue_dropped : 0);
	sm->save_errors = st->templates.save_errors;
	sm->exporters_dropped = st->decoder.exporters_dropped;
	sm->store_errors = cs->have_store ? cs->store.write_errors : 0;
}

/* Take a snapshot; 0 or an error (then nothing to release). */
static int
snapshot(struct control *c, control_status_t *cs)
{
	memset(cs, 0, sizeof(*cs));
	return c->fn(c->fn_arg, cs);
}

static void
on_tick(uv_timer_t *t)
{
	struct control *c = t->data;
	control_status_t cs;
	struct sample sm;
	uint64_t kd, tr;

	if (snapshot(c, &cs) != 0)
		return;
	memset(&sm, 0, sizeof(sm));
	status_sums(&cs, &sm, &kd, &tr);
	sm.t = mono_ms();
	node_stats_release(&cs.st);
	c->ring[c->ring_pos] = sm;
	c->ring_pos = (c->ring_pos + 1) % NSAMPLES;
}

/* Oldest and newest samples of the window; 0 when fewer than two. */
static int
window(const struct control *c, const struct sample **old,
    const struct sample **new)
{
	size_t last = (c->ring_pos + NSAMPLES - 1) % NSAMPLES;

	*new = &c->ring[last];
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &c->ring[(c->ring_pos + i) % NSAMPLES];

		if (s->t != 0 && s != *new) {
			*old = s;
			return (*new)->t != 0;
		}
	}
	return 0;
}

static uint64_t
delta(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

/* Per-second rate of a counter over the window. */
static uint64_t
rate(const struct sample *o, const struct sample *n, uint64_t vo,
    uint64_t vn)
{
	uint64_t dt = n->t - o->t;

	return dt ? delta(vo, vn) * 1000 / dt : 0;
}

/*
 * Problems seen over the last window, as text lines into probs (up to
 * max); returns how many.
 */
static size_t
health(const struct control *c, char probs[][128], size_t max)
{
	const struct sample *o, *n;
	size_t np = 0;
	uint64_t d;

	if (!window(c, &o, &n))
		return 0;
	if ((d = delta(o->drops, n->drops)) > 0 && np < max)
		snprintf(probs[np++], 128, "%" PRIu64 " datagrams or flows "
		    "lost in the last %" PRIu64 " s", d, (n->t - o->t) / 1000);
	if ((d = delta(o->save_errors, n->save_errors)) > 0 && np < max)
		snprintf(probs[np++], 128, "template file writes failing "
		    "(%" PRIu64 " errors)", d);
	if ((d = delta(o->exporters_dropped, n->exporters_dropped)) > 0 &&
	    np < max)
		snprintf(probs[np++], 128, "%" PRIu64 " new exporters "
		    "refused (table full or per-source limit; see the node's "
		    "log)", d);
	if ((d = delta(o->store_errors, n->store_errors)) > 0 && np < max)
		snprintf(probs[np++], 128, "store write errors (%" PRIu64 ")",
		    d);
	return np;
}

/* ---- messages ---- */

static void
send_frame(sess_t *s, wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;

	if (wire_msg_end(b, &f, &flen) == 0)
		sess_send(s, f, flen);
	wire_builder_free(b);
}

static void
reply_pong(struct control *c, sess_t *s, const wire_msg_t *m)
{
	wire_builder_t b;
	char probs[4][128];
	uint64_t t1, t2 = now_ms();

	if (wire_get_u64(&m->body, "t1", &t1) != 0) {
		sess_send_error(s, m->id, FF_EPROTO, "PING without t1");
		return;
	}
	if (wire_msg_begin(&b, WIRE_PONG, m->id, 4) != 0) {
		wire_builder_free(&b);
		return;
	}
	wire_put_u64(&b, "t1", t1);
	wire_put_u64(&b, "t2", t2);
	wire_put_str(&b, "health", health(c, probs, 4) ? "degraded" : "ok");
	wire_put_u64(&b, "t3", now_ms());
	send_frame(s, &b);
}

static void
reply_status(struct control *c, sess_t *s, const wire_msg_t *m)
{
	control_status_t cs;
	wire_builder_t b;
	msgpack_packer *pk;
	const struct sample *o, *n;
	char probs[4][128];
	size_t np;
	uint64_t kd, tr, noT = 0, seqm = 0, now = now_ms();
	struct sample cur;
	int haverates;

	if (snapshot(c, &cs) != 0) {
		sess_send_error(s, m->id, FF_ENOMEM, "cannot take a counters "
		    "snapshot");
		return;
	}
	memset(&cur, 0, sizeof(cur));
	status_sums(&cs, &cur, &kd, &tr);
	for (size_t i = 0; i < cs.st.nexporters; i++) {
		noT += cs.st.exporters[i].st.no_template;
		seqm += cs.st.exporters[i].st.seq_missing;
	}
	np = health(c, probs, 4);
	haverates = window(c, &o, &n);
	if (wire_msg_begin(&b, WIRE_STATUS, m->id, 8 + (cs.have_store != 0) +
	    (cs.st.have_queries != 0)) != 0) {
		wire_builder_free(&b);
		node_stats_release(&cs.st);
		return;
	}
	pk = wire_builder_pk(&b);
	wire_put_str(&b, "name", c->name);
	wire_put_str(&b, "version", FF_VERSION);
	wire_put_u64(&b, "uptime_ms", now > c->start_ms ? now - c->start_ms :
	    0);
	wire_put_u64(&b, "time_ms", now);
	wire_put_str(&b, "health", np ? "degraded" : "ok");
	wire_put_key(&b, "problems");
	msgpack_pack_array(pk, (uint32_t)np);
	for (size_t i = 0; i < np; i++) {
		size_t l = strlen(probs[i]);

		msgpack_pack_str(pk, l);
		msgpack_pack_str_body(pk, probs[i], l);
	}
	wire_put_key(&b, "intake");
	msgpack_pack_map(pk, 11);
	wire_pack_kv_u64(pk, "datagrams", cs.st.totals.datagrams);
	wire_pack_kv_u64(pk, "flows", cs.st.totals.flows);
	wire_pack_kv_u64(pk, "bytes", cs.st.totals.bytes);
	wire_pack_kv_u64(pk, "packets", cs.st.totals.packets);
	wire_pack_kv_u64(pk, "kernel_drops", kd);
	wire_pack_kv_u64(pk, "truncated", tr);
	wire_pack_kv_u64(pk, "malformed", cs.st.decoder.malformed);
	wire_pack_kv_u64(pk, "no_template", noT);
	wire_pack_kv_u64(pk, "unknown_version",
	    cs.st.decoder.unknown_version);
	wire_pack_kv_u64(pk, "seq_missing", seqm);
	wire_pack_kv_u64(pk, "exporters", cs.st.nexporters);
	if (cs.have_store) {
		wire_put_key(&b, "store");
		msgpack_pack_map(pk, 9);
		wire_pack_kv_u64(pk, "flows", cs.store.flows);
		wire_pack_kv_u64(pk, "blocks", cs.store.blocks);
		wire_pack_kv_u64(pk, "bytes_used", cs.store.bytes_used);
		wire_pack_kv_u64(pk, "committed", cs.store.committed);
		wire_pack_kv_u64(pk, "write_errors",
		    cs.store.write_errors);
		wire_pack_kv_u64(pk, "dropped", cs.store.dropped +
		    cs.store_queue_dropped);
		wire_pack_kv_u64(pk, "queue_dropped",
		    cs.store_queue_dropped);
		wire_pack_kv_u64(pk, "oldest_ms", cs.store.oldest_ms);
		wire_pack_kv_u64(pk, "newest_ms", cs.store.newest_ms);
	}
	if (cs.st.have_queries) {
		const qengine_stats_t *q = &cs.st.queries;

		wire_put_key(&b, "queries");
		msgpack_pack_map(pk, 8);
		wire_pack_kv_u64(pk, "received", q->received);
		wire_pack_kv_u64(pk, "answered", q->answered);
		wire_pack_kv_u64(pk, "failed", q->failed);
		wire_pack_kv_u64(pk, "cancelled", q->cancelled);
		wire_pack_kv_u64(pk, "busy", q->busy);
		wire_pack_kv_u64(pk, "queued", q->queued);
		wire_pack_kv_u64(pk, "running", q->running);
		wire_pack_kv_u64(pk, "flows_scanned", q->flows_scanned);
	}
	wire_put_key(&b, "rates");
	msgpack_pack_map(pk, 3);
	wire_pack_kv_u64(pk, "window_ms", haverates ? n->t - o->t : 0);
	wire_pack_kv_u64(pk, "flows_per_s", haverates ?
	    rate(o, n, o->flows, n->flows) : 0);
	wire_pack_kv_u64(pk, "drops_per_s", haverates ?
	    rate(o, n, o->drops, n->drops) : 0);
	node_stats_release(&cs.st);
	send_frame(s, &b);
}

static void
send_join(struct control *c, sess_t *s, const char *secret)
{
	wire_builder_t b;

	if (wire_msg_begin(&b, WIRE_JOIN, JOIN_ID, 2) != 0) {
		wire_builder_free(&b);
		return;
	}
	wire_put_str(&b, "secret", secret);
	wire_put_str(&b, "name", c->name);
	/* the builder's buffer held the secret: wipe before freeing */
	{
		const uint8_t *f;
		size_t flen;

		if (wire_msg_end(&b, &f, &flen) == 0)
			sess_send(s, f, flen);
		if (b.sb.data != NULL)
			sodium_memzero(b.sb.data, b.sb.size);
		wire_builder_free(&b);
	}
	sess_set_udata(s, &joining_marker);
	log_info("control: sent our join token to controller %s",
	    sess_peer(s));
}

static void
joined(struct control *c, const char *how)
{
	char err[256];

	if (trust_secret(c->trust) == NULL)
		return;
	if (trust_joined(c->trust, err, sizeof(err)) != 0)
		log_warnx("cannot record the join: %s", err);
	log_info("enrolled: %s; the join token is used up and forgotten", how);
}

static void
chan_open(void *arg, sess_t *s, const sess_hello_t *h)
{
	struct control *c = arg;
	const char *secret = trust_secret(c->trust);

	if (!h->enroll) {
		if (secret != NULL)
			joined(c, "the controller already trusts our key");
		return;
	}
	if (secret == NULL) {
		log_warnx("control: controller %s wants to enroll us, but this "
		    "node holds no unused join token", sess_peer(s));
		sess_send_error(s, 0, FF_EAUTH, "this node holds no unused "
		    "join token");
		sess_close(s, "no join token");
		return;
	}
	send_join(c, s, secret);
}

static int
chan_msg(void *arg, sess_t *s, const wire_msg_t *m)
{
	struct control *c = arg;
	char text[256] = "", name[64] = "";
	int64_t code = 0;

	switch (m->type) {
	case WIRE_PING:
		reply_pong(c, s, m);
		return 0;
	case WIRE_STATUS_GET:
		reply_status(c, s, m);
		return 0;
	case WIRE_JOIN_OK:
		if (sess_udata(s) != &joining_marker || m->id != JOIN_ID) {
			sess_send_error(s, m->id, FF_EPROTO, "unexpected "
			    "JOIN_OK");
			sess_close(s, "unexpected JOIN_OK");
			return 0;
		}
		sess_set_udata(s, NULL);
		(void)wire_get_strbuf(&m->body, "name", name, sizeof(name));
		log_info("control: controller %s accepted our join token: "
		    "enrolled as %s", sess_peer(s), name[0] ? name : "?");
		joined(c, "JOIN_OK");
		sess_close(s, "enrolled");
		return 0;
	case WIRE_ERROR:
		if (sess_udata(s) != &joining_marker || m->id != JOIN_ID)
			return FF_ENOTSUP;	/* the listener logs it */
		(void)wire_get_i64(&m->body, "code", &code);
		(void)wire_get_strbuf(&m->body, "msg", text, sizeof(text));
		log_warnx("control: controller %s refused our join token "
		    "(%lld): %s", sess_peer(s), (long long)code, text);
		sess_set_udata(s, NULL);
		sess_close(s, "join refused");
		return 0;
	}
	return FF_ENOTSUP;
}

static void
chan_freed(void *arg)
{
	struct control *c = arg;

	c->srv_open = 0;
	if (c->stopping && !c->tick_open) {
		trust_free(c->trust);
		wire_identity_free(c->id);
		free(c);
	}
}

/* The control channel's sessions (2210). */
static const sess_handler_t chan_handler = {
	.on_open = chan_open,
	.on_msg = chan_msg,
	.on_server_freed = chan_freed,
};

static void
tick_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->tick_open = 0;
	if (c->stopping && !c->srv_open) {
		trust_free(c->trust);
		wire_identity_free(c->id);
		free(c);
	}
}

static int
trust_cb(void *arg, const char *fp)
{
	struct control *c = arg;

	return trust_accepts(c->trust, fp);
}

int
control_start(uv_loop_t *loop, struct node_config *cfg,
    control_status_fn fn, void *arg, control_t **out, char *err,
    size_t errlen)
{
	struct control *c;
	sess_server_opts_t so;
	int created, rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	c->loop = loop;
	c->fn = fn;
	c->fn_arg = arg;
	c->start_ms = now_ms();
	if (cfg->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", cfg->name);
	else if (gethostname(c->name, sizeof(c->name)) != 0 ||
	    c->name[0] == '\0')
		snprintf(c->name, sizeof(c->name), "node");
	c->name[sizeof(c->name) - 1] = '\0';
	if ((rc = wire_init()) != 0 ||
	    (rc = wire_identity_load(cfg->state_dir, c->name, &c->id,
	    &created, err, errlen)) != 0) {
		if (rc == FF_ECRYPTO && err[0] == '\0')
			snprintf(err, errlen, "cannot initialize libsodium");
		free(c);
		return rc;
	}
	log_info("%s node key %s (%s/key.pem)", created ? "made a new" :
	    "using", wire_identity_fp(c->id), cfg->state_dir);
	rc = trust_load(cfg->state_dir, cfg->controller_fp, cfg->join_token,
	    &c->trust, err, errlen);
	if (cfg->join_token != NULL) {
		sodium_memzero(cfg->join_token, strlen(cfg->join_token));
		free(cfg->join_token);
		cfg->join_token = NULL;
	}
	if (rc != 0) {
		wire_identity_free(c->id);
		free(c);
		return rc;
	}
	uv_timer_init(loop, &c->tick);
	c->tick.data = c;
	c->tick_open = 1;
	memset(&so, 0, sizeof(so));
	so.channel = "control";
	so.addr = (const struct sockaddr *)&cfg->control_listen.ss;
	so.max_frame = WIRE_MAX_FRAME_CONTROL;
	so.id = c->id;
	so.trust = trust_cb;
	so.trust_arg = c;
	so.name = c->name;
	so.h = &chan_handler;
	so.arg = c;
	c->srv_open = 1;
	if ((rc = sess_server_open(loop, &so, &c->srv, err, errlen)) != 0) {
		c->srv = NULL;
		control_stop(c);
		return rc;
	}
	so.addr = (const struct sockaddr *)&cfg->query_listen.ss;
	so.max_frame = WIRE_MAX_FRAME_QUERY;
	so.h = NULL;
	so.arg = NULL;
	if ((rc = qserver_open(loop, &so, &c->q, err, errlen)) != 0) {
		c->q = NULL;
		control_stop(c);
		return rc;
	}
	{
		char a1[CONF_ADDR_STRLEN], a2[CONF_ADDR_STRLEN];

		log_info("control plane: node %s, control channel on %s, "
		    "query channel on %s", c->name, conf_addr_fmt(
		    &cfg->control_listen.ss, a1, sizeof(a1)), conf_addr_fmt(
		    &cfg->query_listen.ss, a2, sizeof(a2)));
	}
	on_tick(&c->tick);
	uv_timer_start(&c->tick, on_tick, 1000, 1000);
	*out = c;
	return 0;
}

void
control_stop(control_t *c)
{
	if (c == NULL || c->stopping)
		return;
	c->stopping = 1;
	qserver_close(c->q);
	c->q = NULL;
	uv_timer_stop(&c->tick);
	uv_close((uv_handle_t *)&c->tick, tick_closed);
	if (c->srv != NULL)
		sess_server_close(c->srv);
}

qserver_t *
control_qserver(control_t *c)
{
	return c->q;
}
