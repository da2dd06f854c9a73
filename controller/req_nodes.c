/*
 * The CLI's node requests on the control socket (PROTOCOL.md, "Local
 * control socket"): CTL_NODES_ADD, CTL_NODES_REMOVE and CTL_NODES_GET
 * (nodes list, nodes show, status).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "req_nodes.h"

/* A request waiting for its write to the inventory. */
struct pending {
	ctlsock_client_t *cl;
	uint32_t id;
	char name[WIRE_NAME_MAX + 1];
	char token[WIRE_TOKEN_LEN];	/* add: the token to print */
};

static int
reply(ctlsock_client_t *cl, wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = wire_msg_end(b, &f, &flen)) == 0)
		rc = clisock_send(cl, f, flen);
	wire_builder_free(b);
	return rc;
}

/* ---- the node entries of CTL_NODES ---- */

/* The node's overall state, as the CLI shows it. */
static const char *
node_state(const fnode_t *n)
{
	const struct chan *ch = &n->peer.ch[0];

	if (ch->state == CH_UP)
		return "up";
	if (ch->state == CH_ENROLL)
		return "enrolling";
	if (n->rec.fp[0] == '\0') {
		if (n->has_tok && n->tok.used_ms == 0 &&
		    now_ms() >= n->tok.expires_ms)
			return "token-expired";
		return "pending";
	}
	/* not failed yet since the controller started: first attempt */
	return ch->failures == 0 ? "connecting" : "down";
}

static const char *
token_state(const inv_token_t *t)
{
	if (t->used_ms != 0)
		return "used";
	if (now_ms() >= t->expires_ms)
		return "expired";
	return "unused";
}

static void
pack_chan(msgpack_packer *pk, const fnode_t *n, int q)
{
	const struct chan *ch = &n->peer.ch[q];
	int haserr = ch->state != CH_UP && ch->err[0] != '\0';

	msgpack_pack_map(pk, 4 + haserr);
	wire_pack_kv_str(pk, "state", peer_state_name(n, q));
	wire_pack_kv_u64(pk, "since_ms", ch->since_ms);
	wire_pack_kv_u64(pk, "failures", ch->failures);
	wire_pack_kv_str(pk, "key", ch->state == CH_UP ? ch->fp : "");
	if (haserr)
		wire_pack_kv_str(pk, "error", ch->err);
}

static void
pack_node(msgpack_packer *pk, const controller_t *c, const fnode_t *n)
{
	const inv_node_t *r = &n->rec;
	const inv_counters_t *k = &r->counters;
	const struct peer *p = &n->peer;
	uint32_t nf = 15;

	nf += r->have_offset ? 2 : 0;
	nf += p->rtt_ms >= 0 ? 1 : 0;
	nf += n->has_tok ? 1 : 0;
	msgpack_pack_map(pk, nf);
	wire_pack_kv_str(pk, "name", r->name);
	wire_pack_kv_str(pk, "address", r->address);
	wire_pack_kv_str(pk, "fingerprint", r->fp);
	wire_pack_str(pk, "labels");
	msgpack_pack_array(pk, (uint32_t)r->nlabels);
	for (size_t i = 0; i < r->nlabels; i++)
		wire_pack_str(pk, r->labels[i]);
	wire_pack_kv_u64(pk, "added_ms", r->added_ms);
	wire_pack_kv_u64(pk, "enrolled_ms", r->enrolled_ms);
	wire_pack_kv_str(pk, "state", node_state(n));
	wire_pack_str(pk, "control");
	pack_chan(pk, n, 0);
	wire_pack_str(pk, "query");
	pack_chan(pk, n, 1);
	wire_pack_kv_u64(pk, "last_seen_ms", r->last_seen_ms);
	wire_pack_kv_str(pk, "version", r->version);
	if (r->have_offset) {
		uint64_t mag = r->clock_offset_ms < 0 ?
		    (uint64_t)-r->clock_offset_ms :
		    (uint64_t)r->clock_offset_ms;

		wire_pack_kv_i64(pk, "clock_offset_ms",
		    r->clock_offset_ms);
		wire_pack_kv_bool(pk, "clock_warning",
		    mag > c->cfg->clock_warn_ms);
	}
	if (p->rtt_ms >= 0)
		wire_pack_kv_i64(pk, "rtt_ms", p->rtt_ms);
	wire_pack_kv_str(pk, "health", r->health);
	wire_pack_str(pk, "problems");
	msgpack_pack_array(pk, (uint32_t)(peer_up(n, 0) ? p->nproblems : 0));
	for (size_t i = 0; peer_up(n, 0) && i < p->nproblems; i++)
		wire_pack_str(pk, p->problems[i]);
	wire_pack_kv_u64(pk, "counters_ms", r->counters_ms);
	wire_pack_str(pk, "counters");
	inv_counters_pack(pk, k, "store");
	if (n->has_tok) {
		wire_pack_str(pk, "token");
		msgpack_pack_map(pk, 5);
		wire_pack_kv_str(pk, "state", token_state(&n->tok));
		wire_pack_kv_u64(pk, "created_ms", n->tok.created_ms);
		wire_pack_kv_u64(pk, "expires_ms", n->tok.expires_ms);
		wire_pack_kv_u64(pk, "used_ms", n->tok.used_ms);
		wire_pack_kv_str(pk, "used_by", n->tok.used_by);
	}
}

static void
on_get(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	wire_builder_t b;
	msgpack_packer *pk;
	char name[WIRE_NAME_MAX + 2];
	const fnode_t *one = NULL;
	uint32_t cnt = 0;
	int rc;

	rc = wire_get_strbuf(&m->body, "name", name, sizeof(name));
	if (rc == 0) {
		if ((one = fleet_find(c, name)) == NULL || one->adding) {
			clisock_send_error(cl, m->id, FF_ENOENT, "no node "
			    "named '%s'", name);
			return;
		}
	} else if (rc != FF_ENOENT) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad node name");
		return;
	}
	for (const fnode_t *n = c->nodes; n != NULL; n = n->next)
		if (!n->adding && (one == NULL || n == one))
			cnt++;
	if (wire_msg_begin(&b, WIRE_CTL_NODES, m->id, 2) != 0) {
		wire_builder_free(&b);
		return;
	}
	pk = wire_builder_pk(&b);
	wire_pack_str(pk, "controller");
	msgpack_pack_map(pk, 8);
	wire_pack_kv_str(pk, "name", c->name);
	wire_pack_kv_str(pk, "version", FF_VERSION);
	wire_pack_kv_str(pk, "fingerprint", wire_identity_fp(c->id));
	wire_pack_kv_u64(pk, "uptime_ms", now_ms() - c->start_ms);
	wire_pack_kv_u64(pk, "time_ms", now_ms());
	wire_pack_kv_u64(pk, "clock_warn_ms", c->cfg->clock_warn_ms);
	wire_pack_kv_u64(pk, "ping_interval_ms",
	    c->cfg->ping_interval_ms);
	wire_pack_kv_u64(pk, "ping_misses", c->cfg->ping_misses);
	wire_pack_str(pk, "nodes");
	msgpack_pack_array(pk, cnt);
	for (const fnode_t *n = c->nodes; n != NULL; n = n->next)
		if (!n->adding && (one == NULL || n == one))
			pack_node(pk, c, n);
	if (b.err || b.sb.size - 4 > WIRE_MAX_FRAME_LOCAL) {
		wire_builder_free(&b);
		clisock_send_error(cl, m->id, FF_ELIMIT, "the answer is too "
		    "large; ask for one node");
		return;
	}
	reply(cl, &b);
}

/* ---- add ---- */

static void
add_done(controller_t *c, void *arg, int rc, const char *err)
{
	struct pending *pd = arg;
	fnode_t *n = fleet_find(c, pd->name);
	wire_builder_t b;

	if (rc != 0) {
		if (n != NULL && n->adding) {
			fleet_unlink(c, n);
			free(n);
		}
		clisock_send_error(pd->cl, pd->id, rc, "cannot store the "
		    "node: %s", err);
	} else if (n != NULL) {
		n->adding = 0;
		peer_start(c, n);
		log_info("node %s added (%s, %s)", n->rec.name,
		    n->rec.address, n->rec.fp[0] ? n->rec.fp :
		    "waiting for its join token");
		if (wire_msg_begin(&b, WIRE_CTL_OK, pd->id, pd->token[0] ? 4 :
		    2) == 0) {
			wire_put_str(&b, "name", n->rec.name);
			if (pd->token[0]) {
				wire_put_str(&b, "token", pd->token);
				wire_put_u64(&b, "expires_ms",
				    n->tok.expires_ms);
				wire_put_str(&b, "controller_fingerprint",
				    wire_identity_fp(c->id));
			} else
				wire_put_str(&b, "fingerprint", n->rec.fp);
			reply(pd->cl, &b);
		} else
			wire_builder_free(&b);
	}
	ctlsock_release(pd->cl);
	sodium_memzero(pd, sizeof(*pd));
	free(pd);
}

static void
on_add(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	fnode_t *n;
	struct pending *pd;
	const msgpack_object *labels;
	char host[WIRE_ADDR_MAX + 1], fpt[200];
	uint16_t cp, qp;
	uint64_t ttl = c->cfg->token_ttl_ms;
	int rc;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (pd = calloc(1, sizeof(*pd))) == NULL) {
		free(n);
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	if (wire_get_strbuf(&m->body, "name", n->rec.name,
	    sizeof(n->rec.name)) != 0 || !wire_name_ok(n->rec.name)) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad node name (1 to "
		    "%d letters, digits, '.', '_' or '-', not starting with "
		    "'.' or '-')", WIRE_NAME_MAX);
		goto fail;
	}
	if (wire_get_strbuf(&m->body, "address", n->rec.address,
	    sizeof(n->rec.address)) != 0 || wire_node_addr_parse(n->rec.address,
	    host, sizeof(host), &cp, &qp) != 0) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad address: write "
		    "HOST[:CONTROL_PORT[:QUERY_PORT]], IPv6 in brackets");
		goto fail;
	}
	if ((labels = wire_get(&m->body, "labels")) != NULL) {
		if (labels->type != MSGPACK_OBJECT_ARRAY ||
		    labels->via.array.size > WIRE_LABELS_MAX) {
			clisock_send_error(cl, m->id, FF_EINVAL, "at most %d "
			    "labels", WIRE_LABELS_MAX);
			goto fail;
		}
		for (uint32_t i = 0; i < labels->via.array.size; i++) {
			const msgpack_object *l = &labels->via.array.ptr[i];
			char *dst = n->rec.labels[n->rec.nlabels];
			int dup = 0;

			if (l->type != MSGPACK_OBJECT_STR ||
			    l->via.str.size > WIRE_LABEL_MAX ||
			    memchr(l->via.str.ptr, '\0', l->via.str.size) !=
			    NULL) {
				clisock_send_error(cl, m->id, FF_EINVAL,
				    "bad label");
				goto fail;
			}
			memcpy(dst, l->via.str.ptr, l->via.str.size);
			dst[l->via.str.size] = '\0';
			if (!wire_label_ok(dst)) {
				clisock_send_error(cl, m->id, FF_EINVAL, "bad "
				    "label '%s' (1 to %d of letters, digits "
				    "and . _ : = / -)", dst, WIRE_LABEL_MAX);
				goto fail;
			}
			for (size_t j = 0; j < n->rec.nlabels; j++)
				dup |= strcmp(n->rec.labels[j], dst) == 0;
			if (!dup)
				n->rec.nlabels++;
		}
	}
	rc = wire_get_strbuf(&m->body, "fingerprint", fpt, sizeof(fpt));
	if (rc == 0 && wire_fp_parse(fpt, n->rec.fp) != 0) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad fingerprint "
		    "(sha256: and 64 hex digits, as 'flowfleet-node "
		    "fingerprint' prints it)");
		goto fail;
	} else if (rc != 0 && rc != FF_ENOENT) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad fingerprint");
		goto fail;
	}
	rc = wire_get_u64(&m->body, "ttl_ms", &ttl);
	if ((rc != 0 && rc != FF_ENOENT) || ttl < WIRE_TOKEN_TTL_MIN ||
	    ttl > WIRE_TOKEN_TTL_MAX) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad token lifetime "
		    "(1s to 30d)");
		goto fail;
	}
	if (fleet_find(c, n->rec.name) != NULL) {
		clisock_send_error(cl, m->id, FF_EEXIST, "node %s exists "
		    "already", n->rec.name);
		goto fail;
	}
	for (const fnode_t *o = c->nodes; o != NULL; o = o->next) {
		if (strcmp(o->rec.address, n->rec.address) == 0) {
			clisock_send_error(cl, m->id, FF_EEXIST, "node %s has "
			    "that address already", o->rec.name);
			goto fail;
		}
		if (n->rec.fp[0] && strcmp(o->rec.fp, n->rec.fp) == 0) {
			clisock_send_error(cl, m->id, FF_EEXIST, "node %s has "
			    "that key already", o->rec.name);
			goto fail;
		}
	}
	n->rec.added_ms = now_ms();
	if (n->rec.fp[0]) {
		n->rec.enrolled_ms = n->rec.added_ms;
	} else {
		if (wire_token_make(wire_identity_fp(c->id), pd->token,
		    n->tok.hash) != 0) {
			clisock_send_error(cl, m->id, FF_ECRYPTO, "cannot make "
			    "a token");
			goto fail;
		}
		memcpy(n->tok.name, n->rec.name, sizeof(n->tok.name));
		n->tok.created_ms = n->rec.added_ms;
		n->tok.expires_ms = n->rec.added_ms + ttl;
		n->has_tok = 1;
	}
	n->adding = 1;
	fleet_insert(c, n);
	pd->cl = cl;
	pd->id = m->id;
	memcpy(pd->name, n->rec.name, sizeof(pd->name));
	if (fleet_put(c, n->rec.name, add_done, pd) != 0) {
		fleet_unlink(c, n);
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		goto fail;
	}
	ctlsock_hold(cl);
	return;
fail:
	sodium_memzero(pd, sizeof(*pd));
	free(pd);
	free(n);
}

/* ---- remove ---- */

static void
remove_done(controller_t *c, void *arg, int rc, const char *err)
{
	struct pending *pd = arg;
	wire_builder_t b;

	(void)c;
	if (rc != 0)
		clisock_send_error(pd->cl, pd->id, rc, "the node is stopped, "
		    "but removing it from the inventory failed (it will be "
		    "back at the next start): %s", err);
	else if (wire_msg_begin(&b, WIRE_CTL_OK, pd->id, 1) == 0) {
		wire_put_str(&b, "name", pd->name);
		reply(pd->cl, &b);
	} else
		wire_builder_free(&b);
	ctlsock_release(pd->cl);
	free(pd);
}

static void
on_remove(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	char name[WIRE_NAME_MAX + 2];
	struct pending *pd;
	fnode_t *n;

	if (wire_get_strbuf(&m->body, "name", name, sizeof(name)) != 0) {
		clisock_send_error(cl, m->id, FF_EINVAL, "bad node name");
		return;
	}
	if ((n = fleet_find(c, name)) == NULL || n->adding) {
		clisock_send_error(cl, m->id, FF_ENOENT, "no node named '%s'",
		    name);
		return;
	}
	if ((pd = calloc(1, sizeof(*pd))) == NULL) {
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	pd->cl = cl;
	pd->id = m->id;
	memcpy(pd->name, n->rec.name, sizeof(pd->name));
	if (fleet_del(c, name, remove_done, pd) != 0) {
		free(pd);
		clisock_send_error(cl, m->id, FF_ENOMEM, "out of memory");
		return;
	}
	ctlsock_hold(cl);
	log_info("node %s removed (key %s)", name, n->rec.fp[0] ? n->rec.fp :
	    "none");
	fleet_unlink(c, n);
	peer_stop(n, "the node was removed from the inventory");
}

int
req_nodes_register(ctlsock_t *s)
{
	int rc;

	if ((rc = clisock_register(s, WIRE_CTL_NODES_ADD, on_add)) != 0 ||
	    (rc = clisock_register(s, WIRE_CTL_NODES_REMOVE, on_remove)) != 0 ||
	    (rc = clisock_register(s, WIRE_CTL_NODES_GET, on_get)) != 0)
		return rc;
	return 0;
}
