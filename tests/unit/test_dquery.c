/*
 * controller/dquery.c, the distributed queries, with the nodes played by
 * this file and no network.
 *
 * The fan-out is given a transport of its own (qtransport_t) that
 * captures every request dquery sends to a node (QUERY, TPUT_TOPK,
 * TPUT_THRESHOLD, TPUT_LOOKUP, CANCEL, QUERY_RELEASE) and answers it as a
 * node's query engine does (node/qengine.c): from that node's real store
 * in a temporary directory, with the real query engine, in RESULT pieces
 * and RESULT_END, or with ERROR, delivered through the callbacks dquery
 * registered on the transport. Each test decides when every node
 * answers, fails, or loses its channel. The CLI's side is the
 * controller's real control socket in the same directory: CTL_QUERY and
 * CTL_QUERY_CANCEL in; CTL_QUERY_DATA, CTL_QUERY_RESULT or ERROR out.
 *
 * Every expected value is computed here from the nodes' data, apart from
 * dquery.c's rounds: the exact answer is each node's complete result
 * (query_run over its store) merged, then its first N rows (ties
 * by key, as everywhere); the TPUT figures (tau1, the threshold T, which
 * key sits where) follow the definitions of docs/QUERY.md "Distributed
 * queries" and wire/PROTOCOL.md "Query channel", from the same complete
 * results.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "controller/controller.h"
#include "controller/clisock.h"
#include "controller/dquery.h"
#include "store/store.h"
#include "wire/wire.h"
#include "tmpdir.h"

#define NODES_MAX	4
#define REQS_MAX	512
#define PIECE		512	/* RESULT data per piece: answers come in
				   several pieces */
#define PUMP_MAX	10000	/* loop turns (none waits) per pump() */
#define QUERY_ID	7	/* the CLI's request ids */
#define CANCEL_ID	8
#define T0_MS		1700000000000ull
#define FULL_ROWS_MIN	4096	/* node/qengine.c: a node with more keys
				   than max(4096, 4 N) answers its top N */

/* ---- the nodes --------------------------------------------------------- */

/* One request a node received. */
struct req {
	unsigned type;
	uint32_t id;
	uint64_t ref;		/* all but QUERY */
	uint64_t arg;		/* TPUT_TOPK: k; TPUT_THRESHOLD: min */
	uint8_t (*keys)[16];	/* TPUT_LOOKUP */
	size_t nkeys;
	query_spec_t spec;	/* QUERY */
	char filter[256];
	char method[8];
	uint64_t qid;
	int done;		/* answered, or needs no answer */
};

struct hnode {
	char name[16];
	fnode_t *fn;		/* the controller's record of it */
	store_t *store;
	int up;			/* its query channel */
	const char *why;	/* why not up */
	uint32_t next_id;
	struct req reqs[REQS_MAX];
	size_t nreqs;
	query_result_t *agg;	/* the aggregate it keeps */
	uint32_t agg_ref;
	/* a failure to play: answer requests of this type with ERROR */
	unsigned fail_type;
	int fail_code;
	const char *fail_msg;
	unsigned dropped;	/* answer frames dquery did not take */
	unsigned refused;	/* sends while its channel was down */
	int tell_keys;		/* RESULT_END says how many keys it holds */
};

/* What the CLI got. */
struct reply {
	int done;		/* CTL_QUERY_RESULT or ERROR came */
	int64_t err_code;	/* ERROR */
	char err_msg[256];
	uint8_t *data;		/* CTL_QUERY_DATA pieces, joined */
	size_t len;
	uint64_t chunks;
	int complete, bound_known;
	uint64_t bound, rounds, candidates, threshold, targeted, answered;
	int keys_exact, has_kmax;	/* top N: distinct keys */
	uint64_t keys, kmin, kmax;
	char method[16];
	struct {
		char name[16], status[16], method[8], reason[256];
	} nodes[NODES_MAX];
	size_t nnodes;
	int cancel_ok;		/* CTL_OK to CTL_QUERY_CANCEL */
};

static struct {
	char dir[64];
	uv_loop_t loop;
	struct controller_config cfg;
	controller_t c;
	struct hnode nodes[NODES_MAX];
	size_t nn;
	qtransport_msg_fn on_msg;
	qtransport_down_fn on_down;
	int fd;			/* the CLI's connection */
	wire_framer_t fr;
	struct reply rep;
	int no_settle;		/* deliver() leaves dquery's work running */
} H;

static void pool_release(void);
static int status_fd;

/*
 * dquery decodes and merges the nodes' answers as work on libuv's
 * thread pool and moves on when the work comes back to the loop: run
 * the loop until no work of it is left, so that a test sees what the
 * fan-out did next (the next round's requests, the CLI's answer).
 */
static void
settle(void)
{
	for (int i = 0; i < 100000; i++) {
		if (H.c.dq_working == 0 && TAILQ_EMPTY(&H.c.dq_wait))
			return;
		uv_run(&H.loop, UV_RUN_ONCE);
	}
	fail_msg("dquery's work did not end");
}

static struct hnode *
hnode_of(const fnode_t *n)
{
	for (size_t i = 0; i < H.nn; i++)
		if (H.nodes[i].fn == n)
			return &H.nodes[i];
	fail_msg("a node the harness does not know");
	return NULL;
}

/* ---- the transport dquery is given ---- */

static uint32_t
h_next_id(fnode_t *n)
{
	struct hnode *h = hnode_of(n);

	if (++h->next_id == 0)
		h->next_id = 1;
	return h->next_id;
}

static void
drop_agg(struct hnode *h, uint64_t ref)
{
	if (h->agg != NULL && h->agg_ref == ref) {
		query_result_free(h->agg);
		h->agg = NULL;
	}
}

static int
h_send(fnode_t *n, const uint8_t *frame, size_t len)
{
	struct hnode *h = hnode_of(n);
	struct req *r;
	wire_msg_t m;
	const uint8_t *keys;
	size_t klen;
	char err[256];

	if (!h->up) {
		h->refused++;
		return FF_EINVAL;
	}
	assert_true(len > 4);
	assert_int_equal(wire_msg_decode(frame + 4, len - 4, &m), 0);
	assert_true(h->nreqs < REQS_MAX);
	r = &h->reqs[h->nreqs++];
	memset(r, 0, sizeof(*r));
	r->type = m.type;
	r->id = m.id;
	if (m.type != WIRE_QUERY)
		assert_int_equal(wire_get_u64(&m.body, "ref", &r->ref), 0);
	switch (m.type) {
	case WIRE_QUERY:
		if (query_spec_read(&m.body, &r->spec, r->filter,
		    sizeof(r->filter), err, sizeof(err)) != 0)
			fail_msg("QUERY: %s", err);
		assert_int_equal(wire_get_strbuf(&m.body, "method", r->method,
		    sizeof(r->method)), 0);
		assert_int_equal(wire_get_u64(&m.body, "qid", &r->qid), 0);
		break;
	case WIRE_TPUT_TOPK:
		assert_int_equal(wire_get_u64(&m.body, "k", &r->arg), 0);
		break;
	case WIRE_TPUT_THRESHOLD:
		assert_int_equal(wire_get_u64(&m.body, "min", &r->arg), 0);
		break;
	case WIRE_TPUT_LOOKUP:
		assert_int_equal(wire_get_bin(&m.body, "keys", &keys, &klen),
		    0);
		assert_int_equal(klen % 16, 0);
		r->nkeys = klen / 16;
		r->keys = malloc(klen ? klen : 1);
		assert_non_null(r->keys);
		memcpy(r->keys, keys, klen);
		break;
	case WIRE_CANCEL:
	case WIRE_QUERY_RELEASE:
		/* no reply: the node drops what it keeps for ref */
		r->done = 1;
		drop_agg(h, r->ref);
		break;
	default:
		fail_msg("dquery sent a message of type %u", m.type);
	}
	wire_msg_free(&m);
	return 0;
}

static int
h_up(const fnode_t *n)
{
	return hnode_of(n)->up;
}

static const char *
h_why(const fnode_t *n)
{
	return hnode_of(n)->why;
}

static void
h_listen(controller_t *c, qtransport_msg_fn on_msg,
    qtransport_down_fn on_down)
{
	assert_ptr_equal(c, &H.c);
	H.on_msg = on_msg;
	H.on_down = on_down;
}

static const qtransport_t htransport = {
	.next_id = h_next_id,
	.send = h_send,
	.up = h_up,
	.why = h_why,
	.listen = h_listen,
};

/* ---- answering as a node does ---- */

/* Deliver a frame from node h through dquery's callback. */
static void
deliver(struct hnode *h, wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;
	wire_msg_t m;

	assert_int_equal(wire_msg_end(b, &f, &flen), 0);
	assert_int_equal(wire_msg_decode(f + 4, flen - 4, &m), 0);
	if (!H.on_msg(&H.c, h->fn, &m))
		h->dropped++;
	wire_msg_free(&m);
	wire_builder_free(b);
	if (!H.no_settle)
		settle();
}

static void
send_error(struct hnode *h, uint32_t id, int code, const char *msg)
{
	wire_builder_t b;

	assert_int_equal(wire_msg_begin(&b, WIRE_ERROR, id, 2), 0);
	wire_put_i64(&b, "code", code);
	wire_put_str(&b, "msg", msg);
	deliver(h, &b);
}

/* The keys of the aggregate h keeps, as a node says in RESULT_END. */
static uint64_t
agg_keys(const struct hnode *h)
{
	query_info_t inf;

	query_result_get_info(h->agg, &inf);
	return inf.rows;
}

/* r packed, in RESULT pieces of PIECE bytes, then RESULT_END (with
   "keys" unless keys is -1). */
static void
send_result_keys(struct hnode *h, uint32_t id, const query_result_t *r,
    const char *mode, int kept, int64_t keys)
{
	wire_builder_t b;
	uint8_t *buf;
	size_t len, off, seq = 0;

	assert_int_equal(query_result_pack(r, &buf, &len), 0);
	for (off = 0; off < len; off += PIECE, seq++) {
		assert_int_equal(wire_msg_begin(&b, WIRE_RESULT, id, 2), 0);
		wire_put_u64(&b, "seq", seq);
		wire_put_bin(&b, "data", buf + off, FF_MIN(PIECE, len - off));
		deliver(h, &b);
	}
	assert_int_equal(wire_msg_begin(&b, WIRE_RESULT_END, id,
	    4 + (keys >= 0)), 0);
	wire_put_u64(&b, "len", len);
	wire_put_u64(&b, "chunks", seq);
	wire_put_str(&b, "mode", mode);
	wire_put_bool(&b, "kept", kept);
	if (keys >= 0)
		wire_put_u64(&b, "keys", (uint64_t)keys);
	deliver(h, &b);
	free(buf);
}

/* A node of the version before "keys" (dquery must not need it). */
static void
send_result(struct hnode *h, uint32_t id, const query_result_t *r,
    const char *mode, int kept)
{
	send_result_keys(h, id, r, mode, kept, -1);
}

/* The complete result of spec over h's store (caller frees). */
static query_result_t *
run_on(struct hnode *h, const query_spec_t *spec)
{
	query_spec_t s = *spec;
	query_t *q;
	query_result_t *r;
	char err[256];

	s.threads = 1;
	if (query_compile(&s, &q, err, sizeof(err)) != 0 ||
	    query_run(h->store, q, NULL, &r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", h->name, err);
	query_free(q);
	return r;
}

static void
answer_query(struct hnode *h, struct req *r)
{
	query_result_t *res = run_on(h, &r->spec), *sel;
	query_info_t inf;
	uint64_t full_rows;

	query_result_get_info(res, &inf);
	if (inf.qid != r->qid) {
		query_result_free(res);
		send_error(h, r->id, FF_EPROTO, "another query");
		return;
	}
	full_rows = FF_MAX(FULL_ROWS_MIN, 4ull * inf.n);
	if (inf.kind == QUERY_TOPN && strcmp(r->method, "full") != 0 &&
	    (strcmp(r->method, "tput") == 0 || inf.rows > full_rows)) {
		/* its first N keys; it keeps the aggregate (before the answer
		   goes: dquery may release it at once) */
		assert_int_equal(query_result_topk(res, inf.n, &sel), 0);
		assert_null(h->agg);
		h->agg = res;
		h->agg_ref = r->id;
		send_result_keys(h, r->id, sel, "topk", 1, h->tell_keys ?
		    (int64_t)inf.rows : -1);
		query_result_free(sel);
		return;
	}
	send_result_keys(h, r->id, res, "full", 0, h->tell_keys &&
	    inf.kind == QUERY_TOPN ? (int64_t)inf.rows : -1);
	query_result_free(res);
}

/* Answer h's oldest request still unanswered, if any, of type (0: any).
   Returns 1 when there was one. */
static int
node_answer(struct hnode *h, unsigned type)
{
	query_result_t *sel = NULL;
	struct req *r = NULL;
	const char *mode;
	int rc;

	for (size_t i = 0; i < h->nreqs && r == NULL; i++)
		if (!h->reqs[i].done && (type == 0 || h->reqs[i].type == type))
			r = &h->reqs[i];
	if (r == NULL || !h->up)
		return 0;
	r->done = 1;
	if (r->type == h->fail_type) {
		send_error(h, r->id, h->fail_code, h->fail_msg);
		return 1;
	}
	if (r->type == WIRE_QUERY) {
		answer_query(h, r);
		return 1;
	}
	if (h->agg == NULL || h->agg_ref != r->ref) {
		send_error(h, r->id, FF_ENOENT, "no aggregate is kept for "
		    "this query");
		return 1;
	}
	switch (r->type) {
	case WIRE_TPUT_TOPK:
		rc = query_result_topk(h->agg, (uint32_t)r->arg, &sel);
		mode = "topk";
		break;
	case WIRE_TPUT_THRESHOLD:
		rc = query_result_select(h->agg, r->arg, &sel);
		mode = "select";
		break;
	default:
		rc = query_result_lookup(h->agg,
		    (const uint8_t (*)[16])r->keys, r->nkeys, &sel);
		mode = "lookup";
		break;
	}
	assert_int_equal(rc, 0);
	send_result_keys(h, r->id, sel, mode, 1, h->tell_keys ?
	    (int64_t)agg_keys(h) : -1);
	query_result_free(sel);
	return 1;
}

/* Every node answers whatever it is asked, round after round. */
static void
answer_all(void)
{
	int any;

	do {
		any = 0;
		for (size_t i = 0; i < H.nn; i++)
			while (node_answer(&H.nodes[i], 0))
				any = 1;
	} while (any);
}

/* Every node answers its outstanding requests of type, once. */
static void
answer_each(unsigned type)
{
	for (size_t i = 0; i < H.nn; i++)
		(void)node_answer(&H.nodes[i], type);
}

/* Requests of type node h received, and the last of them. */
static size_t
count_reqs(const struct hnode *h, unsigned type, const struct req **last)
{
	size_t k = 0;

	for (size_t i = 0; i < h->nreqs; i++)
		if (h->reqs[i].type == type) {
			k++;
			if (last != NULL)
				*last = &h->reqs[i];
		}
	return k;
}

/* The id of h's QUERY (the ref of everything after it). */
static uint32_t
query_ref(const struct hnode *h)
{
	const struct req *q = NULL;

	assert_int_equal(count_reqs(h, WIRE_QUERY, &q), 1);
	return q->id;
}

/* ---- the nodes' data ---------------------------------------------------- */

static void
flow(store_flow_t *f, uint32_t src, uint32_t dst, uint16_t dport,
    uint64_t bytes, uint64_t packets, uint64_t t)
{
	uint8_t a[4];

	memset(f, 0, sizeof(*f));
	f->first_ms = T0_MS + t;
	f->last_ms = f->first_ms + 10;
	f->bytes = bytes;
	f->packets = packets;
	put_be32(a, src);
	addr_from_v4(f->src, a);
	put_be32(a, dst);
	addr_from_v4(f->dst, a);
	addr_from_v4(f->exporter, (const uint8_t []){ 127, 0, 0, 1 });
	f->proto = 6;
	f->sport = 40000;
	f->dport = dport;
	f->sampling = 1;
	f->flags = STORE_FLOW_F_FROM_V9;
}

/* The srcip of key k in the hand-made tables: 10.0.0.k (10.0.x.y for k
   over 255), so that keys sort as k does. */
static uint32_t
src_of(uint32_t k)
{
	return 0x0a000000u + k;
}

/* A node with its store of n flows, up, in the controller's list. */
static struct hnode *
node_add(const store_flow_t *f, size_t n)
{
	struct hnode *h = &H.nodes[H.nn];
	store_opts_t o;
	char path[128], err[256];

	assert_true(H.nn < NODES_MAX);
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "n%zu", H.nn + 1);
	snprintf(path, sizeof(path), "%s/%s", H.dir, h->name);
	memset(&o, 0, sizeof(o));
	o.path = path;
	o.map_size = 64ull << 20;
	o.nosync = 1;
	if (store_open(&o, &h->store, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(store_append(h->store, f, n), 0);
	assert_int_equal(store_commit(h->store), 0);
	h->fn = calloc(1, sizeof(*h->fn));
	assert_non_null(h->fn);
	snprintf(h->fn->rec.name, sizeof(h->fn->rec.name), "%s", h->name);
	fleet_insert(&H.c, h->fn);
	h->up = 1;
	h->why = "up";
	H.nn++;
	return h;
}

/* A node from a table of (key, bytes): one flow each, one packet. */
struct kb {
	uint32_t key;
	uint64_t bytes;
};

static struct hnode *
node_table(const struct kb *t, size_t n)
{
	store_flow_t *f = calloc(n, sizeof(*f));
	struct hnode *h;

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		flow(&f[i], src_of(t[i].key), 0xc0a80001u, 443, t[i].bytes, 1,
		    i);
	h = node_add(f, n);
	free(f);
	return h;
}

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * A node of n random flows: hosts drawn from a pool of 300 with a skew
 * (the square of a uniform draw: small indexes are heavy), shifted by
 * salt so that every node has heavy hitters of its own and shares the
 * rest; bytes, packets and ports from small sets, so that metrics tie.
 */
static struct hnode *
node_random(size_t n, unsigned salt)
{
	static const uint16_t ports[] = { 22, 53, 80, 123, 443, 993, 8080 };
	store_flow_t *f = calloc(n, sizeof(*f));
	struct hnode *h;

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = rnd() % 1000;
		uint32_t s = (uint32_t)((u * u / 1000 / 3 + salt * 37) % 300);
		uint32_t d = (uint32_t)(rnd() % 50);

		flow(&f[i], src_of(1 + s), 0xc0a80000u + d,
		    ports[rnd() % FF_NELEM(ports)], 40 * (1 + rnd() % 25),
		    1 + rnd() % 6, rnd() % 100000);
	}
	h = node_add(f, n);
	free(f);
	return h;
}

/* ---- expected answers, computed from the nodes' complete results ------- */

#define ALL	0xffu

/* The merge of the complete results of the nodes in mask (bit i: node
   i). Caller frees. */
static query_result_t *
merged(const query_spec_t *spec, unsigned mask)
{
	query_result_t *acc = NULL;

	for (size_t i = 0; i < H.nn; i++) {
		query_result_t *r;

		if (!(mask & (1u << i)))
			continue;
		r = run_on(&H.nodes[i], spec);
		if (acc == NULL)
			acc = r;
		else {
			assert_int_equal(query_result_merge(acc, r), 0);
			query_result_free(r);
		}
	}
	assert_non_null(acc);
	return acc;
}

static uint64_t
metric(const query_row_t *r, query_order_t o)
{
	return o == QUERY_ORDER_PACKETS ? r->packets :
	    o == QUERY_ORDER_FLOWS ? r->flows : r->bytes;
}

/* The k-th largest metric of r (0 when r has fewer than k keys). */
static uint64_t
kth(const query_result_t *r, uint32_t k, query_order_t o)
{
	query_row_t *rows;
	size_t n;
	uint64_t v = 0;

	assert_int_equal(query_result_rows(r, k, &rows, &n), 0);
	if (n == k && k > 0)
		v = metric(&rows[k - 1], o);
	free(rows);
	return v;
}

/* Node i's value for key (16 bytes) in its complete result, 0 if none. */
static uint64_t
value_at(size_t i, const query_spec_t *spec, const uint8_t key[16])
{
	query_result_t *r = run_on(&H.nodes[i], spec);
	query_row_t *rows;
	size_t n;
	uint64_t v = 0;

	assert_int_equal(query_result_rows(r, 0, &rows, &n), 0);
	for (size_t j = 0; j < n; j++)
		if (memcmp(rows[j].key, key, 16) == 0)
			v = metric(&rows[j], spec->order);
	free(rows);
	query_result_free(r);
	return v;
}

/* Is key among node i's first N keys (its round-1 answer)? */
static int
in_local_top(size_t i, const query_spec_t *spec, const uint8_t key[16])
{
	query_result_t *r = run_on(&H.nodes[i], spec);
	query_row_t *rows;
	size_t n;
	int in = 0;

	assert_int_equal(query_result_rows(r, spec->n, &rows, &n), 0);
	for (size_t j = 0; j < n; j++)
		in |= memcmp(rows[j].key, key, 16) == 0;
	free(rows);
	query_result_free(r);
	return in;
}

/*
 * tau1 of the nodes in mask: the N-th largest of the sums of their first
 * N keys (round 1's lower bounds). The threshold is tau1 / (their count).
 */
static uint64_t
tau1_of(const query_spec_t *spec, unsigned mask)
{
	query_result_t *acc = NULL;
	uint64_t v;

	for (size_t i = 0; i < H.nn; i++) {
		query_result_t *r, *top;

		if (!(mask & (1u << i)))
			continue;
		r = run_on(&H.nodes[i], spec);
		assert_int_equal(query_result_topk(r, spec->n, &top), 0);
		query_result_free(r);
		if (acc == NULL)
			acc = top;
		else {
			assert_int_equal(query_result_merge(acc, top), 0);
			query_result_free(top);
		}
	}
	v = kth(acc, spec->n, spec->order);
	query_result_free(acc);
	return v;
}

/* The largest value node i holds (its first row). */
static uint64_t
top1_of(size_t i, const query_spec_t *spec)
{
	query_result_t *r = run_on(&H.nodes[i], spec);
	uint64_t v = kth(r, 1, spec->order);

	query_result_free(r);
	return v;
}

static unsigned
popcount(unsigned m)
{
	unsigned k = 0;

	for (; m != 0; m &= m - 1)
		k++;
	return k;
}

/*
 * The answer the CLI got is the exact top N of the nodes in mask: the
 * rows (keys, every metric, in order) and totals of their merged
 * complete results' first N keys.
 */
static void
assert_answer(const query_spec_t *spec, unsigned mask)
{
	query_result_t *want = merged(spec, mask), *want_top, *got;
	query_info_t wi, gi;
	query_row_t *wr, *gr;
	size_t wn, gn;

	assert_true(H.rep.done);
	assert_int_equal(H.rep.err_code, 0);
	assert_int_equal(query_result_unpack(H.rep.data, H.rep.len, &got), 0);
	assert_int_equal(query_result_rows(want, spec->n, &wr, &wn), 0);
	assert_int_equal(query_result_rows(got, 0, &gr, &gn), 0);
	assert_int_equal(gn, wn);
	for (size_t i = 0; i < wn; i++) {
		assert_memory_equal(gr[i].key, wr[i].key, 16);
		assert_int_equal(gr[i].bytes, wr[i].bytes);
		assert_int_equal(gr[i].packets, wr[i].packets);
		assert_int_equal(gr[i].flows, wr[i].flows);
	}
	query_result_get_info(want, &wi);
	query_result_get_info(got, &gi);
	assert_int_equal(gi.flows, wi.flows);
	assert_int_equal(gi.bytes, wi.bytes);
	assert_int_equal(gi.packets, wi.packets);
	assert_int_equal(query_result_topk(want, spec->n, &want_top), 0);
	assert_true(query_result_equal(got, want_top));
	free(wr);
	free(gr);
	query_result_free(want);
	query_result_free(want_top);
	query_result_free(got);
}

/*
 * The distinct keys the controller reported for the answer of the nodes
 * in mask: the true count (their merged complete results' keys) when it
 * says exact, else bounds that hold it.
 */
static void
assert_keys(const query_spec_t *spec, unsigned mask)
{
	query_result_t *want = merged(spec, mask);
	query_info_t wi;

	query_result_get_info(want, &wi);
	query_result_free(want);
	if (H.rep.keys_exact) {
		assert_int_equal(H.rep.keys, wi.rows);
		assert_int_equal(H.rep.kmin, wi.rows);
		assert_int_equal(H.rep.kmax, wi.rows);
		return;
	}
	assert_true(H.rep.kmin <= wi.rows);
	if (H.rep.has_kmax)
		assert_true(H.rep.kmax >= wi.rows);
}

/* After a query: no node keeps an aggregate, none has a request left
   unanswered. */
static void
assert_nodes_clean(void)
{
	for (size_t i = 0; i < H.nn; i++) {
		assert_null(H.nodes[i].agg);
		for (size_t j = 0; j < H.nodes[i].nreqs; j++)
			assert_true(H.nodes[i].reqs[j].done);
	}
}

/* ---- the CLI ------------------------------------------------------------ */

static void
cli_frame(const uint8_t *frame, size_t len)
{
	wire_msg_t m;
	const msgpack_object *nodes;
	const uint8_t *data;
	size_t dlen;
	uint64_t seq;
	struct reply *p = &H.rep;

	assert_int_equal(wire_msg_decode(frame, len, &m), 0);
	switch (m.type) {
	case WIRE_CTL_QUERY_DATA:
		assert_int_equal(m.id, QUERY_ID);
		assert_int_equal(wire_get_u64(&m.body, "seq", &seq), 0);
		assert_int_equal(seq, p->chunks);
		assert_int_equal(wire_get_bin(&m.body, "data", &data, &dlen),
		    0);
		p->data = realloc(p->data, p->len + dlen);
		assert_non_null(p->data);
		memcpy(p->data + p->len, data, dlen);
		p->len += dlen;
		p->chunks++;
		break;
	case WIRE_CTL_QUERY_RESULT:
		assert_int_equal(m.id, QUERY_ID);
		p->done = 1;
		assert_int_equal(wire_get_bool(&m.body, "complete",
		    &p->complete), 0);
		assert_int_equal(wire_get_bool(&m.body, "bound_known",
		    &p->bound_known), 0);
		assert_int_equal(wire_get_u64(&m.body, "bound", &p->bound), 0);
		assert_int_equal(wire_get_u64(&m.body, "rounds", &p->rounds),
		    0);
		assert_int_equal(wire_get_u64(&m.body, "candidates",
		    &p->candidates), 0);
		assert_int_equal(wire_get_u64(&m.body, "threshold",
		    &p->threshold), 0);
		assert_int_equal(wire_get_u64(&m.body, "targeted",
		    &p->targeted), 0);
		assert_int_equal(wire_get_u64(&m.body, "answered",
		    &p->answered), 0);
		assert_int_equal(wire_get_strbuf(&m.body, "method", p->method,
		    sizeof(p->method)), 0);
		if (wire_get(&m.body, "keys_exact") != NULL) {
			assert_int_equal(wire_get_bool(&m.body, "keys_exact",
			    &p->keys_exact), 0);
			assert_int_equal(wire_get_u64(&m.body, "keys_min",
			    &p->kmin), 0);
			(void)wire_get_u64(&m.body, "keys", &p->keys);
			p->has_kmax = wire_get_u64(&m.body, "keys_max",
			    &p->kmax) == 0;
			/* nil when not known */
			assert_int_equal(wire_get_u64(&m.body, "keys", &p->keys)
			    == 0, p->keys_exact);
		}
		nodes = wire_get(&m.body, "nodes");
		assert_non_null(nodes);
		assert_int_equal(nodes->type, MSGPACK_OBJECT_ARRAY);
		assert_true(nodes->via.array.size <= NODES_MAX);
		p->nnodes = nodes->via.array.size;
		for (size_t i = 0; i < p->nnodes; i++) {
			const msgpack_object *o = &nodes->via.array.ptr[i];

			assert_int_equal(wire_get_strbuf(o, "name",
			    p->nodes[i].name, sizeof(p->nodes[i].name)), 0);
			assert_int_equal(wire_get_strbuf(o, "status",
			    p->nodes[i].status, sizeof(p->nodes[i].status)), 0);
			assert_int_equal(wire_get_strbuf(o, "method",
			    p->nodes[i].method, sizeof(p->nodes[i].method)), 0);
			assert_int_equal(wire_get_strbuf(o, "reason",
			    p->nodes[i].reason, sizeof(p->nodes[i].reason)), 0);
		}
		break;
	case WIRE_CTL_OK:
		assert_int_equal(m.id, CANCEL_ID);
		p->cancel_ok = 1;
		break;
	case WIRE_ERROR:
		assert_int_equal(m.id, QUERY_ID);
		p->done = 1;
		assert_int_equal(wire_get_i64(&m.body, "code", &p->err_code),
		    0);
		(void)wire_get_strbuf(&m.body, "msg", p->err_msg,
		    sizeof(p->err_msg));
		break;
	default:
		fail_msg("the controller sent the CLI a message of type %u",
		    m.type);
	}
	wire_msg_free(&m);
}

/* Take in whatever the controller has written to the CLI so far. */
static void
cli_read(void)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = recv(H.fd, buf, sizeof(buf), 0)) > 0) {
		size_t off = 0;

		while (off < (size_t)n) {
			uint8_t *frame;
			size_t used, flen;
			int rc = wire_framer_feed(&H.fr, buf + off,
			    (size_t)n - off, &used, &frame, &flen);

			assert_true(rc >= 0);
			off += used;
			if (rc == 1) {
				cli_frame(frame, flen);
				free(frame);
			}
		}
	}
}

static void
cli_send(wire_builder_t *b)
{
	const uint8_t *f;
	size_t flen;

	assert_int_equal(wire_msg_end(b, &f, &flen), 0);
	assert_int_equal(send(H.fd, f, flen, 0), (ssize_t)flen);
	wire_builder_free(b);
}

static int
replied(void)
{
	return H.rep.done;
}

static int
cancel_answered(void)
{
	return H.rep.cancel_ok && H.rep.done;
}

static size_t
total_reqs(void)
{
	size_t k = 0;

	for (size_t i = 0; i < H.nn; i++)
		k += H.nodes[i].nreqs;
	return k;
}

static size_t reqs_before;

static int
sent_or_replied(void)
{
	return H.rep.done || total_reqs() > reqs_before;
}

/* Turn the controller's loop (never waiting) until cond() holds. */
static void
pump(int (*cond)(void), const char *what)
{
	for (int i = 0; i < PUMP_MAX; i++) {
		cli_read();
		if (cond())
			return;
		uv_run(&H.loop, UV_RUN_NOWAIT);
	}
	fail_msg("the controller did not %s", what);
}

/* The CLI asks spec with method; returns once dquery sent its requests
   (or answered). */
static void
start_query(const query_spec_t *spec, const char *method)
{
	wire_builder_t b;

	free(H.rep.data);
	memset(&H.rep, 0, sizeof(H.rep));
	assert_int_equal(wire_msg_begin(&b, WIRE_CTL_QUERY, QUERY_ID,
	    QUERY_SPEC_FIELDS + 2), 0);
	assert_int_equal(query_spec_write(wire_builder_pk(&b), spec), 0);
	wire_put_str(&b, "method", method);
	wire_put_u64(&b, "timeout_ms", 60000);
	reqs_before = total_reqs();
	cli_send(&b);
	pump(sent_or_replied, "send the query to the nodes");
}

static void
cancel_query(void)
{
	wire_builder_t b;

	assert_int_equal(wire_msg_begin(&b, WIRE_CTL_QUERY_CANCEL, CANCEL_ID,
	    1), 0);
	wire_put_u64(&b, "id", QUERY_ID);
	cli_send(&b);
	pump(cancel_answered, "answer the cancel");
}

/* Every node answers until the query ends; the CLI reads the answer. */
static void
run_to_end(void)
{
	answer_all();
	pump(replied, "answer the CLI");
}

static query_spec_t
topn(query_key_t key, query_order_t order, uint32_t n)
{
	query_spec_t q;

	memset(&q, 0, sizeof(q));
	q.kind = QUERY_TOPN;
	q.t0 = 0;
	q.t1 = UINT64_MAX;
	q.key = key;
	q.order = order;
	q.n = n;
	if (key == QUERY_KEY_SRCNET || key == QUERY_KEY_DSTNET) {
		q.prefix4 = 24;
		q.prefix6 = 64;
	}
	return q;
}

/* The 16-byte srcip key of table key k. */
static void
key_of(uint32_t k, uint8_t key[16])
{
	uint8_t a[4];

	put_be32(a, src_of(k));
	addr_from_v4(key, a);
}

static int
has_key(const struct req *r, const uint8_t key[16])
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (memcmp(r->keys[i], key, 16) == 0)
			return 1;
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int
setup(void **state)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path)], err[512];

	(void)state;
	memset(&H, 0, sizeof(H));
	snprintf(H.dir, sizeof(H.dir), "/tmp/fftest-dq-XXXXXX");
	if (mkdtemp(H.dir) == NULL)
		return -1;
	if (uv_loop_init(&H.loop) != 0)
		return -1;
	H.cfg.query_timeout_ms = 60000;
	H.c.loop = &H.loop;
	H.c.cfg = &H.cfg;
	snprintf(H.c.name, sizeof(H.c.name), "unit");
	dquery_init(&H.c, &htransport);
	if (H.on_msg == NULL || H.on_down == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/ctl.sock", H.dir);
	if (clisock_open(&H.c, path, &H.c.sock, err, sizeof(err)) != 0 ||
	    dquery_register(H.c.sock) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((H.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(H.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    fcntl(H.fd, F_SETFL, O_NONBLOCK) == -1)
		return -1;
	wire_framer_init(&H.fr, WIRE_MAX_FRAME_LOCAL);
	rng = 42;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pool_release();
	H.no_settle = 0;
	if (status_fd >= 0) {
		close(status_fd);
		status_fd = -1;
	}
	dquery_stop_all(&H.c, "the test is over");
	close(H.fd);
	wire_framer_free(&H.fr);
	ctlsock_close(H.c.sock, "test over");
	uv_run(&H.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&H.loop) != 0)
		return -1;
	for (size_t i = 0; i < H.nn; i++) {
		struct hnode *h = &H.nodes[i];

		for (size_t j = 0; j < h->nreqs; j++)
			free(h->reqs[j].keys);
		query_result_free(h->agg);
		store_close(h->store);
	}
	fleet_free(&H.c);
	free(H.rep.data);
	(void)tmpdir_remove(H.dir);
	return 0;
}

/* ---- the tests ---------------------------------------------------------- */

/*
 * TPUT over four nodes of random flows, for several keys, orders and N:
 * the answer is the exact top N of the merged complete results; the
 * threshold dquery sent is tau1 / 4 from the nodes' first N keys; a
 * query ends after round 3, or after round 2 when the threshold is 0
 * (no lookup then); round 3 looks every true top-N key up; each node
 * gets QUERY_RELEASE for its query at the end. The same questions asked
 * with --method full give the same answers in one round.
 */
static void
test_tput_exact(void **state)
{
	static const query_key_t keys[] = { QUERY_KEY_SRCIP, QUERY_KEY_DSTIP,
	    QUERY_KEY_DSTPORT, QUERY_KEY_SRCNET };
	static const query_order_t orders[] = { QUERY_ORDER_BYTES,
	    QUERY_ORDER_PACKETS, QUERY_ORDER_FLOWS };
	static const uint32_t ns[] = { 1, 3, 10, 40 };
	unsigned three_rounds = 0, two_rounds = 0;

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		node_random(1500, i)->tell_keys = 1;
	for (size_t a = 0; a < FF_NELEM(keys); a++)
	for (size_t b = 0; b < FF_NELEM(orders); b++)
	for (size_t c = 0; c < FF_NELEM(ns); c++) {
		query_spec_t q = topn(keys[a], orders[b], ns[c]);
		uint64_t T = tau1_of(&q, ALL) / H.nn;
		query_result_t *want = merged(&q, ALL);
		query_row_t *rows;
		size_t nrows;

		start_query(&q, "tput");
		run_to_end();
		assert_answer(&q, ALL);
		assert_keys(&q, ALL);
		/* threshold 0: every key came in round 2 */
		if (T == 0)
			assert_true(H.rep.keys_exact);
		else if (!H.rep.keys_exact)
			assert_true(H.rep.has_kmax);
		assert_true(H.rep.complete);
		assert_string_equal(H.rep.method, "tput");
		assert_int_equal(H.rep.answered, H.nn);
		assert_int_equal(H.rep.threshold, T);
		assert_int_equal(H.rep.rounds, T == 0 ? 2 : 3);
		three_rounds += T != 0;
		two_rounds += T == 0;
		assert_int_equal(query_result_rows(want, q.n, &rows, &nrows),
		    0);
		for (size_t i = 0; i < H.nn; i++) {
			struct hnode *h = &H.nodes[i];
			const struct req *th = NULL, *lk = NULL, *rel = NULL;
			uint32_t ref = h->reqs[h->nreqs - 1].ref;

			/* this query's requests are the node's last ones */
			assert_int_equal(count_reqs(h, WIRE_TPUT_THRESHOLD,
			    &th) > 0, 1);
			assert_int_equal(th->ref, ref);
			assert_int_equal(th->arg, T);
			(void)count_reqs(h, WIRE_QUERY_RELEASE, &rel);
			assert_non_null(rel);
			assert_int_equal(rel->ref, ref);
			assert_int_equal(h->reqs[h->nreqs - 1].type,
			    WIRE_QUERY_RELEASE);
			if (T == 0) {
				assert_int_equal(h->reqs[h->nreqs - 2].type,
				    WIRE_TPUT_THRESHOLD);
				continue;
			}
			(void)count_reqs(h, WIRE_TPUT_LOOKUP, &lk);
			assert_non_null(lk);
			assert_int_equal(lk->ref, ref);
			assert_int_equal(lk->nkeys, H.rep.candidates);
			for (size_t r = 0; r < nrows; r++)
				assert_true(has_key(lk, rows[r].key));
		}
		free(rows);
		query_result_free(want);
		assert_nodes_clean();

		start_query(&q, "full");
		run_to_end();
		assert_answer(&q, ALL);
		assert_true(H.rep.keys_exact);
		assert_keys(&q, ALL);
		assert_int_equal(H.rep.rounds, 1);
		assert_string_equal(H.rep.method, "full");
		assert_nodes_clean();
	}
	/* both endings were met */
	assert_true(three_rounds > 0);
	assert_true(two_rounds > 0);
}

/*
 * A key that is in no node's first N but first overall by its sum (H),
 * and one that is second overall though one node holds it below the
 * threshold (G): its sum from round 2 is below tau2 (X's), so only the
 * bound on what the silent node may hold makes it a candidate, and only
 * the lookup of round 3 makes it exact. A key below the threshold on
 * every node (L) sums to less than tau1: it is no candidate, and not in
 * the answer.
 */
static void
test_tput_hidden_keys(void **state)
{
	enum { A = 1, B, C, D, E, F, L, G, HK, X };
	static const struct kb n1[] = { { A, 100 }, { B, 90 }, { X, 85 },
	    { G, 55 }, { HK, 50 }, { L, 32 } };
	static const struct kb n2[] = { { C, 100 }, { D, 90 }, { G, 55 },
	    { HK, 50 }, { X, 35 }, { L, 32 } };
	static const struct kb n3[] = { { E, 100 }, { F, 90 }, { HK, 50 },
	    { G, 32 }, { L, 32 } };
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 2);
	uint8_t kh[16], kg[16], kl[16], kx[16];
	query_result_t *want;
	query_row_t *rows;
	size_t nrows;
	uint64_t T, g2 = 0, x2 = 0;

	(void)state;
	node_table(n1, FF_NELEM(n1));
	node_table(n2, FF_NELEM(n2));
	node_table(n3, FF_NELEM(n3));
	key_of(HK, kh);
	key_of(G, kg);
	key_of(L, kl);
	key_of(X, kx);
	T = tau1_of(&q, ALL) / H.nn;
	/* the tables say what the test is about */
	want = merged(&q, ALL);
	assert_int_equal(query_result_rows(want, q.n, &rows, &nrows), 0);
	assert_int_equal(nrows, 2);
	assert_memory_equal(rows[0].key, kh, 16);
	assert_memory_equal(rows[1].key, kg, 16);
	for (size_t i = 0; i < H.nn; i++) {
		assert_false(in_local_top(i, &q, kh));
		assert_false(in_local_top(i, &q, kg));
		assert_true(value_at(i, &q, kl) < T);
	}
	assert_true(value_at(2, &q, kg) < T);
	/* round 2's sums (the values >= T): G's is below X's, which is
	   below G's true sum */
	for (size_t i = 0; i < H.nn; i++) {
		uint64_t g = value_at(i, &q, kg), x = value_at(i, &q, kx);

		g2 += g >= T ? g : 0;
		x2 += x >= T ? x : 0;
	}
	assert_true(g2 < x2);
	assert_true(x2 < rows[1].bytes);
	assert_true(value_at(0, &q, kl) + value_at(1, &q, kl) +
	    value_at(2, &q, kl) < tau1_of(&q, ALL));
	free(rows);
	query_result_free(want);

	start_query(&q, "tput");
	run_to_end();
	assert_answer(&q, ALL);
	assert_true(H.rep.complete);
	assert_int_equal(H.rep.rounds, 3);
	assert_int_equal(H.rep.threshold, T);
	for (size_t i = 0; i < H.nn; i++) {
		const struct req *lk = NULL;

		assert_int_equal(count_reqs(&H.nodes[i], WIRE_TPUT_LOOKUP,
		    &lk), 1);
		assert_true(has_key(lk, kh));
		assert_true(has_key(lk, kg));
		assert_false(has_key(lk, kl));
	}
	assert_nodes_clean();
}

/*
 * Four keys tie at the N-th place; the two that are small on every node
 * win by key order over the two that lead their nodes' lists.
 */
static void
test_tput_ties(void **state)
{
	enum { K1 = 1, K2, K3, K4, K5, K6 };
	static const struct kb n1[] = { { K4, 150 }, { K1, 100 }, { K2, 65 },
	    { K3, 65 }, { K6, 60 }, { K5, 50 } };
	static const struct kb n2[] = { { K5, 150 }, { K1, 100 }, { K2, 65 },
	    { K3, 65 }, { K6, 60 }, { K4, 50 } };
	static const struct kb n3[] = { { K1, 100 }, { K2, 70 }, { K3, 70 },
	    { K6, 60 } };
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 3);
	query_result_t *want;
	query_row_t *rows;
	size_t nrows;
	uint8_t k4[16], k5[16];

	(void)state;
	node_table(n1, FF_NELEM(n1));
	node_table(n2, FF_NELEM(n2));
	node_table(n3, FF_NELEM(n3));
	key_of(K4, k4);
	key_of(K5, k5);
	/* a tie at the N-th place, between keys that lead their nodes
	   (K4, K5) and keys that lead none (the winners) */
	want = merged(&q, ALL);
	assert_int_equal(query_result_rows(want, q.n + 2, &rows, &nrows), 0);
	assert_int_equal(nrows, q.n + 2);
	assert_int_equal(rows[q.n - 2].bytes, rows[q.n - 1].bytes);
	assert_int_equal(rows[q.n - 1].bytes, rows[q.n].bytes);
	assert_int_equal(rows[q.n].bytes, rows[q.n + 1].bytes);
	assert_memory_equal(rows[q.n].key, k4, 16);
	assert_memory_equal(rows[q.n + 1].key, k5, 16);
	assert_true(in_local_top(0, &q, k4));
	assert_true(in_local_top(1, &q, k5));
	free(rows);
	query_result_free(want);

	start_query(&q, "tput");
	run_to_end();
	assert_answer(&q, ALL);
	assert_true(H.rep.complete);
	assert_int_equal(H.rep.threshold, tau1_of(&q, ALL) / H.nn);
	assert_nodes_clean();
}

/*
 * tau1 below the number of nodes makes the threshold 0: round 2 brings
 * every key of every node, the sums are exact, and the query ends there
 * (no TPUT_LOOKUP). The answer is made of keys that no node had among
 * its first N.
 */
static void
test_tput_threshold_zero(void **state)
{
	/* flows per key: each node's own keys (1 each) sort first and fill
	   its first N; the shared keys (200...) come after */
	static const struct kb n1[] = { { 11, 1 }, { 12, 1 }, { 13, 1 },
	    { 14, 1 }, { 200, 1 }, { 201, 1 }, { 202, 1 } };
	static const struct kb n2[] = { { 21, 1 }, { 22, 1 }, { 23, 1 },
	    { 24, 1 }, { 200, 1 }, { 201, 1 }, { 203, 1 } };
	static const struct kb n3[] = { { 31, 1 }, { 32, 1 }, { 33, 1 },
	    { 34, 1 }, { 200, 1 }, { 202, 1 } };
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_FLOWS, 4);
	query_result_t *want;
	query_row_t *rows;
	size_t nrows;

	(void)state;
	node_table(n1, FF_NELEM(n1));
	node_table(n2, FF_NELEM(n2));
	node_table(n3, FF_NELEM(n3));
	assert_true(tau1_of(&q, ALL) < H.nn);
	want = merged(&q, ALL);
	assert_int_equal(query_result_rows(want, q.n, &rows, &nrows), 0);
	for (size_t r = 0; r + 1 < nrows; r++)	/* the shared keys lead */
		for (size_t i = 0; i < H.nn; i++)
			assert_false(in_local_top(i, &q, rows[r].key));
	free(rows);
	query_result_free(want);

	start_query(&q, "tput");
	run_to_end();
	assert_answer(&q, ALL);
	assert_true(H.rep.complete);
	assert_int_equal(H.rep.threshold, 0);
	assert_int_equal(H.rep.rounds, 2);
	for (size_t i = 0; i < H.nn; i++) {
		const struct req *th = NULL;

		assert_int_equal(count_reqs(&H.nodes[i], WIRE_TPUT_THRESHOLD,
		    &th), 1);
		assert_int_equal(th->arg, 0);
		assert_int_equal(count_reqs(&H.nodes[i], WIRE_TPUT_LOOKUP,
		    NULL), 0);
		assert_int_equal(count_reqs(&H.nodes[i], WIRE_QUERY_RELEASE,
		    NULL), 1);
	}
	assert_nodes_clean();
}

/*
 * --method auto: a node with more keys than max(4096, 4 N) answers its
 * first N and takes part in TPUT; the nodes with few keys answer with
 * their complete aggregates, and are asked nothing more.
 */
static void
test_auto_few_keys_answer_in_full(void **state)
{
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 5);
	size_t nbig = FULL_ROWS_MIN + 100;
	store_flow_t *f = calloc(nbig + 10, sizeof(*f));
	struct kb small[2][10];
	query_result_t *r;
	query_info_t inf;

	(void)state;
	assert_non_null(f);
	/* the big node: nbig keys of 10 bytes, and keys 1..10 with 1..10
	   bytes; the small nodes: keys 1..10 with 100 + k (and 100 - k) */
	for (size_t i = 0; i < nbig; i++)
		flow(&f[i], src_of(1000 + (uint32_t)i), 0xc0a80001u, 443, 10, 1,
		    i);
	for (uint32_t k = 1; k <= 10; k++) {
		flow(&f[nbig + k - 1], src_of(k), 0xc0a80001u, 443, k, 1, k);
		small[0][k - 1] = (struct kb){ k, 100 + k };
		small[1][k - 1] = (struct kb){ k, 100 - k };
	}
	node_add(f, nbig + 10);
	free(f);
	node_table(small[0], 10);
	node_table(small[1], 10);
	r = run_on(&H.nodes[0], &q);
	query_result_get_info(r, &inf);
	assert_true(inf.rows > FF_MAX(FULL_ROWS_MIN, 4 * q.n));
	query_result_free(r);
	for (size_t i = 1; i < 3; i++) {
		r = run_on(&H.nodes[i], &q);
		query_result_get_info(r, &inf);
		assert_true(inf.rows <= FF_MAX(FULL_ROWS_MIN, 4 * q.n));
		query_result_free(r);
	}

	start_query(&q, "auto");
	run_to_end();
	assert_answer(&q, ALL);
	assert_true(H.rep.complete);
	assert_string_equal(H.rep.method, "tput+full");
	assert_string_equal(H.rep.nodes[0].method, "tput");
	assert_string_equal(H.rep.nodes[1].method, "full");
	assert_string_equal(H.rep.nodes[2].method, "full");
	assert_true(count_reqs(&H.nodes[0], WIRE_TPUT_THRESHOLD, NULL) > 0);
	assert_int_equal(count_reqs(&H.nodes[0], WIRE_QUERY_RELEASE, NULL), 1);
	for (size_t i = 1; i < 3; i++)	/* one QUERY, nothing after it */
		assert_int_equal(H.nodes[i].nreqs, 1);
	assert_nodes_clean();
}

/*
 * A node that fails in round 2 (ERROR to TPUT_THRESHOLD): rounds 2 and 3
 * run again without it, from the others' first N keys; the answer is the
 * exact top N of the others, partial, with the node named and its error
 * text, and the bound known: the largest value it sent in round 1.
 */
static void
test_tput_node_fails_in_round2(void **state)
{
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 5);
	const unsigned others = 1u << 0 | 1u << 2;
	struct hnode *bad;
	const struct req *th = NULL;
	uint64_t T1, T2;

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		node_random(1500, i);
	bad = &H.nodes[1];
	T1 = tau1_of(&q, ALL) / 3;
	T2 = tau1_of(&q, others) / popcount(others);

	start_query(&q, "tput");
	answer_each(WIRE_QUERY);
	for (size_t i = 0; i < H.nn; i++) {
		assert_int_equal(count_reqs(&H.nodes[i], WIRE_TPUT_THRESHOLD,
		    &th), 1);
		assert_int_equal(th->arg, T1);
	}
	bad->fail_type = WIRE_TPUT_THRESHOLD;
	bad->fail_code = FF_ELIMIT;
	bad->fail_msg = "the query's memory limit (query-max-mem) was hit";
	run_to_end();

	assert_answer(&q, others);
	assert_false(H.rep.complete);
	assert_int_equal(H.rep.targeted, 3);
	assert_int_equal(H.rep.answered, 2);
	assert_string_equal(H.rep.nodes[1].name, bad->name);
	assert_string_equal(H.rep.nodes[1].status, "error");
	assert_string_equal(H.rep.nodes[1].reason, bad->fail_msg);
	assert_true(H.rep.bound_known);
	assert_int_equal(H.rep.bound, top1_of(1, &q));
	/* round 2 again without it (rounds: 1, 2, 2 again, 3) */
	assert_int_equal(H.rep.rounds, 4);
	assert_int_equal(H.rep.threshold, T2);
	for (size_t i = 0; i < H.nn; i++) {
		if (&H.nodes[i] == bad)
			continue;
		assert_int_equal(count_reqs(&H.nodes[i], WIRE_TPUT_THRESHOLD,
		    &th), 2);
		assert_int_equal(th->arg, T2);
	}
	assert_int_equal(count_reqs(bad, WIRE_TPUT_THRESHOLD, NULL), 1);
	assert_int_equal(count_reqs(bad, WIRE_TPUT_LOOKUP, NULL), 0);
	assert_nodes_clean();
}

/* Node idx's query channel goes down (the transport says so). */
static void
chan_down(size_t idx, const char *why)
{
	struct hnode *h = &H.nodes[idx];

	h->up = 0;
	h->why = why;
	H.on_down(&H.c, h->fn, why);
	settle();
}

/*
 * A node whose query channel goes down in round 2: named with the
 * channel's reason, the answer partial (the exact top N of the others),
 * the bound known from its round-1 answer; nothing more is sent to it.
 * Down in round 1, before it answered: the bound is unknown.
 */
static void
test_tput_channel_down(void **state)
{
	query_spec_t q = topn(QUERY_KEY_DSTIP, QUERY_ORDER_PACKETS, 5);
	const unsigned others = 1u << 0 | 1u << 1;
	const char *why = "connection reset by peer";
	char reason[300];
	size_t sent;

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		node_random(1500, i);
	snprintf(reason, sizeof(reason), "query channel closed: %s", why);

	/* in round 2 */
	start_query(&q, "tput");
	answer_each(WIRE_QUERY);
	assert_int_equal(count_reqs(&H.nodes[2], WIRE_TPUT_THRESHOLD, NULL),
	    1);
	chan_down(2, why);
	sent = H.nodes[2].nreqs;
	run_to_end();
	assert_answer(&q, others);
	assert_false(H.rep.complete);
	assert_int_equal(H.rep.answered, 2);
	assert_string_equal(H.rep.nodes[2].status, "error");
	assert_string_equal(H.rep.nodes[2].reason, reason);
	assert_true(H.rep.bound_known);
	assert_int_equal(H.rep.bound, top1_of(2, &q));
	assert_int_equal(H.nodes[2].nreqs, sent);
	assert_int_equal(H.nodes[2].refused, 0);
	/* the node dropped its aggregate with the session */
	query_result_free(H.nodes[2].agg);
	H.nodes[2].agg = NULL;
	H.nodes[2].reqs[sent - 1].done = 1;
	assert_nodes_clean();

	/* in round 1: up again, then down before it answers */
	H.nodes[2].up = 1;
	start_query(&q, "tput");
	assert_int_equal(H.nodes[2].nreqs, sent + 1);
	chan_down(2, why);
	H.nodes[2].reqs[sent].done = 1;
	run_to_end();
	assert_answer(&q, others);
	assert_false(H.rep.complete);
	assert_string_equal(H.rep.nodes[2].reason, reason);
	assert_false(H.rep.bound_known);
	assert_int_equal(H.nodes[2].refused, 0);
	assert_nodes_clean();
}

/*
 * The CLI cancels in round 2, when one node has answered its threshold
 * and two have not: each of the three, which all keep an aggregate, gets
 * one CANCEL for its query; the CLI gets CTL_OK and the query's ERROR
 * (cancelled); answers that come after are dropped.
 */
static void
test_cancel(void **state)
{
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 5);
	uint32_t refs[3];

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		node_random(1500, i);
	start_query(&q, "tput");
	answer_each(WIRE_QUERY);
	for (size_t i = 0; i < H.nn; i++) {
		refs[i] = query_ref(&H.nodes[i]);
		assert_non_null(H.nodes[i].agg);
	}
	assert_int_equal(node_answer(&H.nodes[0], WIRE_TPUT_THRESHOLD), 1);
	cancel_query();
	assert_int_equal(H.rep.err_code, FF_ECANCELED);
	assert_null(H.rep.data);
	for (size_t i = 0; i < H.nn; i++) {
		const struct req *cn = NULL;

		assert_int_equal(count_reqs(&H.nodes[i], WIRE_CANCEL, &cn), 1);
		assert_int_equal(cn->ref, refs[i]);
		assert_int_equal(count_reqs(&H.nodes[i], WIRE_QUERY_RELEASE,
		    NULL), 0);
	}
	/* the two others' answers, sent before the CANCEL reached them */
	for (size_t i = 1; i < H.nn; i++) {
		struct hnode *h = &H.nodes[i];
		size_t sent = h->nreqs;
		const struct req *th = NULL;
		query_result_t *r = run_on(h, &q), *sel;

		assert_int_equal(count_reqs(h, WIRE_TPUT_THRESHOLD, &th), 1);
		assert_false(th->done);
		h->reqs[th - h->reqs].done = 1;
		assert_int_equal(query_result_select(r, th->arg, &sel), 0);
		send_result(h, th->id, sel, "select", 1);
		assert_true(h->dropped > 0);
		assert_int_equal(h->nreqs, sent);
		query_result_free(sel);
		query_result_free(r);
	}
	assert_int_equal(H.nodes[0].dropped, 0);
	assert_nodes_clean();
}

/*
 * The distinct keys of a top N from one node that answers by TPUT (its
 * first N keys, one round): exactly its own count when it says how many
 * it holds; a node that does not say leaves the count unknown (the
 * keys seen as the lower bound, no upper bound), never the N keys it
 * sent.
 */
static void
test_keys_of_one_tput_node(void **state)
{
	query_spec_t q = topn(QUERY_KEY_SRCIP, QUERY_ORDER_BYTES, 10);
	size_t n = FULL_ROWS_MIN + 500;
	store_flow_t *f = calloc(n, sizeof(*f));
	struct hnode *h;

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		flow(&f[i], src_of(1000 + (uint32_t)i), 0xc0a80001u, 443,
		    10 + i % 97, 1, i);
	h = node_add(f, n);
	free(f);

	h->tell_keys = 1;
	start_query(&q, "auto");
	run_to_end();
	assert_answer(&q, ALL);
	assert_int_equal(H.rep.rounds, 1);
	assert_string_equal(H.rep.method, "tput");
	assert_true(H.rep.keys_exact);
	assert_int_equal(H.rep.keys, n);
	assert_keys(&q, ALL);
	assert_nodes_clean();

	h->tell_keys = 0;
	start_query(&q, "auto");
	run_to_end();
	assert_answer(&q, ALL);
	assert_false(H.rep.keys_exact);
	assert_int_equal(H.rep.kmin, q.n);
	assert_false(H.rep.has_kmax);
	assert_nodes_clean();
}

/* ---- the loop while answers are merged ---- */

#define POOL	4	/* libuv's thread pool (UV_THREADPOOL_SIZE, main) */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int held;		/* the pool's threads are held */
	int running;		/* blockers running */
	uv_work_t w[POOL];
} B = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {{0}} };

static void
blocker(uv_work_t *w)
{
	(void)w;
	pthread_mutex_lock(&B.mu);
	B.running++;
	pthread_cond_broadcast(&B.cv);
	while (B.held)
		pthread_cond_wait(&B.cv, &B.mu);
	B.running--;
	pthread_mutex_unlock(&B.mu);
}

static void
blocker_done(uv_work_t *w, int status)
{
	(void)w;
	(void)status;
}

/* Hold every thread of the pool: work queued now waits. */
static void
pool_hold(void)
{
	B.held = 1;
	for (int i = 0; i < POOL; i++)
		assert_int_equal(uv_queue_work(&H.loop, &B.w[i], blocker,
		    blocker_done), 0);
	pthread_mutex_lock(&B.mu);
	while (B.running < POOL)
		pthread_cond_wait(&B.cv, &B.mu);
	pthread_mutex_unlock(&B.mu);
}

static void
pool_release(void)
{
	pthread_mutex_lock(&B.mu);
	B.held = 0;
	pthread_cond_broadcast(&B.cv);
	pthread_mutex_unlock(&B.mu);
}

/* Another client of the controller's socket asks for the nodes list
   (answered on the loop, as req_nodes.c does): CTL_OK. */
static void
h_nodes_get(controller_t *c, ctlsock_client_t *cl, const wire_msg_t *m)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;

	(void)c;
	assert_int_equal(wire_msg_begin(&b, WIRE_CTL_OK, m->id, 0), 0);
	assert_int_equal(wire_msg_end(&b, &f, &flen), 0);
	clisock_send(cl, f, flen);
	wire_builder_free(&b);
}

static int status_fd = -1;
static int status_answered;

static int
status_replied(void)
{
	uint8_t buf[256];

	if (recv(status_fd, buf, sizeof(buf), 0) > 0)
		status_answered = 1;
	return status_answered;
}

/*
 * The nodes' answers (a listing from each) are decoded and merged off
 * the loop: with the thread pool held, every answer in, the query is
 * not answered yet and another client's request is answered at once;
 * once the pool runs, the query's answer is the exact merge.
 */
static void
test_merge_leaves_the_loop_free(void **state)
{
	query_spec_t q;
	struct sockaddr_un sun;
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;
	query_result_t *want, *got;

	(void)state;
	for (unsigned i = 0; i < 2; i++)
		node_random(3000, i);
	memset(&q, 0, sizeof(q));
	q.kind = QUERY_LIST;
	q.t1 = UINT64_MAX;
	q.limit = 5000;
	assert_int_equal(clisock_register(H.c.sock, WIRE_CTL_NODES_GET,
	    h_nodes_get), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctl.sock", H.dir);
	status_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(status_fd >= 0);
	assert_int_equal(connect(status_fd, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	assert_int_equal(fcntl(status_fd, F_SETFL, O_NONBLOCK), 0);

	start_query(&q, "auto");
	pool_hold();
	H.no_settle = 1;
	answer_all();
	/* every answer is in; the status request comes after them */
	assert_int_equal(wire_msg_begin(&b, WIRE_CTL_NODES_GET, 1, 0), 0);
	assert_int_equal(wire_msg_end(&b, &f, &flen), 0);
	assert_int_equal(send(status_fd, f, flen, MSG_NOSIGNAL),
	    (ssize_t)flen);
	wire_builder_free(&b);
	status_answered = 0;
	pump(status_replied, "answer the status request");
	cli_read();
	assert_false(H.rep.done);
	assert_int_equal(H.c.dq_working, 1);

	pool_release();
	settle();
	pump(replied, "answer the CLI");
	H.no_settle = 0;
	assert_true(H.rep.complete);
	want = merged(&q, ALL);
	assert_int_equal(query_result_unpack(H.rep.data, H.rep.len, &got), 0);
	assert_true(query_result_equal(got, want));
	query_result_free(got);
	query_result_free(want);
	close(status_fd);
	status_fd = -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tput_exact, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tput_hidden_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tput_ties, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tput_threshold_zero, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auto_few_keys_answer_in_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tput_node_fails_in_round2,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tput_channel_down, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_of_one_tput_node,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_merge_leaves_the_loop_free, setup, teardown),
	};

	/* the pool's size, which test_merge_leaves_the_loop_free holds */
	setenv("UV_THREADPOOL_SIZE", "4", 1);
	signal(SIGPIPE, SIG_IGN);	/* as the daemon: EPIPE, not a signal */

	log_init("test_dquery", 1, LOG_LVL_WARN);
	if (wire_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
