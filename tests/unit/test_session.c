/*
 * The node's control plane in one process (node/control.c, session.c,
 * qserver.c), driven by a wire_conn client holding the controller's key:
 * HELLO on the query channel, a plugged-in query engine answering QUERY,
 * the same message once the engine is unplugged (ERROR -17, the session
 * stays), a control-channel message on the query channel (ERROR -5, the
 * session closes), STATUS on the control channel, and the cap on the
 * handshakes pending from one address (the oldest makes room).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nodeconf/nodeconf.h"
#include "node/control.h"
#include "wire/wire.h"
#include "tmpdir.h"

#define ADDR	"127.0.43.1"

static char tmpl[] = "/tmp/fftest-sess-XXXXXX";
static char *tmpdir;

struct t {
	uv_loop_t loop;
	uv_timer_t guard;
	control_t *cp;
	qserver_t *q;
	wire_identity_t *ctl_id;
	wire_conn_t *conn;
	int query;		/* this client is on the query channel */
	/* what happened, in order */
	int hello, engine_calls, result_end, err17, err5, closed;
	int status, pong;
	uint64_t status_flows;
	char node_name[64];
};

static struct t T;

static void
send_msg(wire_conn_t *c, unsigned type, uint32_t id, const char *channel)
{
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;

	if (type == WIRE_HELLO) {
		wire_msg_begin(&b, type, id, channel[0] == 'c' ? 9 : 8);
		wire_put_u64(&b, "proto_min", 1);
		wire_put_u64(&b, "proto_max", 1);
		wire_put_str(&b, "role", "controller");
		wire_put_str(&b, "channel", channel);
		wire_put_str(&b, "name", "unit");
		wire_put_str(&b, "version", "0");
		wire_put_key(&b, "features");
		msgpack_pack_array(wire_builder_pk(&b), 0);
		wire_put_u64(&b, "time_ms", now_ms());
		if (channel[0] == 'c')
			wire_put_bool(&b, "enroll", 0);
	} else if (type == WIRE_PING) {
		wire_msg_begin(&b, type, id, 1);
		wire_put_u64(&b, "t1", now_ms());
	} else
		wire_msg_begin(&b, type, id, 0);
	assert_int_equal(wire_msg_end(&b, &f, &flen), 0);
	assert_int_equal(wire_conn_send(c, f, flen), 0);
	wire_builder_free(&b);
}

/* The plugged-in engine: answers QUERY with RESULT_END. */
static int
engine_msg(void *arg, sess_t *s, const wire_msg_t *m)
{
	struct t *t = arg;
	wire_builder_t b;
	const uint8_t *f;
	size_t flen;

	t->engine_calls++;
	if (m->type != WIRE_QUERY)
		return FF_ENOTSUP;
	wire_msg_begin(&b, WIRE_RESULT_END, m->id, 0);
	wire_msg_end(&b, &f, &flen);
	assert_int_equal(sess_send(s, f, flen), 0);
	wire_builder_free(&b);
	return 0;
}

static const qserver_handler_t engine = { .on_msg = engine_msg };

static int
cli_verify(wire_conn_t *c, const char *fp)
{
	(void)c;
	(void)fp;
	return 0;	/* the node's key is not what this test is about */
}

static void
cli_ready(wire_conn_t *c)
{
	send_msg(c, WIRE_HELLO, 0, T.query ? "query" : "control");
}

static void
cli_msg(wire_conn_t *c, wire_msg_t *m)
{
	int64_t code = 0;

	if (m->type == WIRE_ERROR)
		assert_int_equal(wire_get_i64(&m->body, "code", &code), 0);
	if (m->type == WIRE_HELLO) {
		T.hello++;
		assert_int_equal(wire_get_strbuf(&m->body, "name", T.node_name,
		    sizeof(T.node_name)), 0);
		if (T.query)
			send_msg(c, WIRE_QUERY, 5, NULL);
		else
			send_msg(c, WIRE_STATUS_GET, 9, NULL);
	} else if (m->type == WIRE_RESULT_END && m->id == 5) {
		T.result_end++;
		qserver_set_handler(T.q, NULL, NULL);	/* unplug */
		send_msg(c, WIRE_QUERY, 6, NULL);
	} else if (m->type == WIRE_ERROR && m->id == 6 && code == FF_ENOTSUP) {
		T.err17++;
		/* a control message on the query channel */
		send_msg(c, WIRE_STATUS_GET, 7, NULL);
	} else if (m->type == WIRE_ERROR && m->id == 7 && code == FF_EPROTO) {
		T.err5++;
	} else if (m->type == WIRE_STATUS && m->id == 9) {
		const msgpack_object *in = wire_get(&m->body, "intake");

		T.status++;
		assert_non_null(in);
		assert_int_equal(wire_get_u64(in, "flows", &T.status_flows), 0);
		assert_null(wire_get(&m->body, "store"));
		send_msg(c, WIRE_PING, 10, NULL);
	} else if (m->type == WIRE_PONG && m->id == 10) {
		T.pong++;
		wire_conn_close(c, "done");
	} else
		fail_msg("unexpected %s id %u", wire_type_name(m->type), m->id);
}

static void
cli_close(wire_conn_t *c, int err, const char *why)
{
	(void)c;
	(void)err;
	(void)why;
	T.closed++;
	T.conn = NULL;
	control_stop(T.cp);
	uv_close((uv_handle_t *)&T.guard, NULL);
}

static const wire_conn_cbs_t cli_cbs = {
	.on_ready = cli_ready,
	.on_msg = cli_msg,
	.on_close = cli_close,
};

static int
fixed_status(void *arg, control_status_t *out)
{
	(void)arg;
	out->st.now_ms = now_ms();
	out->st.start_ms = out->st.now_ms;
	out->st.totals.flows = 4242;
	return 0;
}

static void
on_guard(uv_timer_t *timer)
{
	(void)timer;
	fail_msg("the session test did not finish in time");
}

static void
set_addr(struct config_listen *l, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

	memset(l, 0, sizeof(*l));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ADDR, &sin->sin_addr);
	l->sslen = sizeof(*sin);
	l->line = 1;
}

/* Two TCP ports free on ADDR now (the kernel's picks, held together so
   that they differ), so that the test does not need 2210/4210 free. */
static void
free_ports(uint16_t *a, uint16_t *b)
{
	int fd[2];

	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);

		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd[i] >= 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		inet_pton(AF_INET, ADDR, &sa.sin_addr);
		assert_int_equal(bind(fd[i], (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
		assert_int_equal(getsockname(fd[i], (struct sockaddr *)&sa,
		    &len), 0);
		*(i ? b : a) = ntohs(sa.sin_port);
	}
	close(fd[0]);
	close(fd[1]);
}

/* Run one client session against a fresh node control plane. */
static void
run_session(int query)
{
	struct node_config cfg;
	wire_conn_opts_t o;
	struct sockaddr_in sa;
	char dir[256], err[256];
	uint16_t cport, qport;
	int created;

	memset(&T, 0, sizeof(T));
	T.query = query;
	snprintf(dir, sizeof(dir), "%s/ctl", tmpdir);
	mkdir(dir, 0700);
	assert_int_equal(wire_identity_load(dir, "ctl", &T.ctl_id, &created,
	    err, sizeof(err)), 0);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(dir, sizeof(dir), "%s/node", tmpdir);
	mkdir(dir, 0700);
	cfg.state_dir = dir;
	cfg.name = (char *)(uintptr_t)"unit-node";
	cfg.controller_fp = (char *)(uintptr_t)wire_identity_fp(T.ctl_id);
	free_ports(&cport, &qport);
	set_addr(&cfg.control_listen, cport);
	set_addr(&cfg.query_listen, qport);

	assert_int_equal(uv_loop_init(&T.loop), 0);
	if (control_start(&T.loop, &cfg, fixed_status, NULL, &T.cp, err,
	    sizeof(err)) != 0)
		fail_msg("control_start: %s", err);
	T.q = control_qserver(T.cp);
	qserver_set_handler(T.q, &engine, &T);
	uv_timer_init(&T.loop, &T.guard);
	uv_timer_start(&T.guard, on_guard, 20000, 0);

	memset(&o, 0, sizeof(o));
	o.id = T.ctl_id;
	o.verify = cli_verify;
	o.max_frame = WIRE_MAX_FRAME_QUERY;
	o.cbs = &cli_cbs;
	uv_ip4_addr(ADDR, query ? qport : cport, &sa);
	assert_int_equal(wire_conn_connect(&T.loop, (struct sockaddr *)&sa,
	    &o, &T.conn), 0);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&T.loop), 0);
	wire_identity_free(T.ctl_id);
}

static void
test_query_channel(void **state)
{
	(void)state;
	run_session(1);
	assert_int_equal(T.hello, 1);
	assert_string_equal(T.node_name, "unit-node");
	assert_int_equal(T.engine_calls, 1);	/* QUERY 5 only */
	assert_int_equal(T.result_end, 1);
	assert_int_equal(T.err17, 1);		/* QUERY 6, unplugged */
	assert_int_equal(T.err5, 1);		/* STATUS_GET on 4210 */
	assert_int_equal(T.closed, 1);		/* ... and the close */
}

static void
test_control_channel(void **state)
{
	(void)state;
	run_session(0);
	assert_int_equal(T.hello, 1);
	assert_int_equal(T.status, 1);
	assert_int_equal(T.status_flows, 4242);	/* from fixed_status */
	assert_int_equal(T.pong, 1);
	assert_int_equal(T.closed, 1);
}

/* ---- handshake slots ---- */

#define IDLE	9	/* one over SESS_MAX_HANDSHAKES_SOURCE */

static int idle_fd[IDLE];
static int idle_state[IDLE];	/* 0 open, 1 closed by the node */

static void
on_look(uv_timer_t *timer)
{
	for (int i = 0; i < IDLE; i++) {
		char b;
		ssize_t n = recv(idle_fd[i], &b, 1, MSG_DONTWAIT);

		idle_state[i] = n == 0 || (n == -1 && errno == ECONNRESET);
	}
	control_stop(T.cp);
	uv_close((uv_handle_t *)timer, NULL);
}

/*
 * Connections from one address that send nothing: the node keeps at most
 * SESS_MAX_HANDSHAKES_SOURCE of them in the handshake, and one more
 * closes the oldest, not itself.
 */
static void
test_handshake_slots_per_address(void **state)
{
	struct node_config cfg;
	struct sockaddr_in sa;
	char dir[256], err[256];
	uint16_t cport, qport;
	uv_timer_t look;

	(void)state;
	memset(&T, 0, sizeof(T));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(dir, sizeof(dir), "%s/slots", tmpdir);
	mkdir(dir, 0700);
	cfg.state_dir = dir;
	cfg.name = (char *)(uintptr_t)"unit-node";
	cfg.controller_fp = (char *)(uintptr_t)"sha256:"
	    "abababababababababababababababababababababababababababababababab";
	free_ports(&cport, &qport);
	set_addr(&cfg.control_listen, cport);
	set_addr(&cfg.query_listen, qport);
	assert_int_equal(uv_loop_init(&T.loop), 0);
	if (control_start(&T.loop, &cfg, fixed_status, NULL, &T.cp, err,
	    sizeof(err)) != 0)
		fail_msg("control_start: %s", err);
	uv_ip4_addr(ADDR, cport, &sa);
	/* the kernel completes each TCP handshake; the node accepts them in
	   this order once the loop runs */
	for (int i = 0; i < IDLE; i++) {
		idle_fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(idle_fd[i] >= 0);
		assert_int_equal(connect(idle_fd[i], (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
	}
	uv_timer_init(&T.loop, &look);
	uv_timer_start(&look, on_look, 500, 0);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&T.loop), 0);
	for (int i = 0; i < IDLE; i++)
		close(idle_fd[i]);
	assert_int_equal(idle_state[0], 1);	/* the oldest made room */
	for (int i = 1; i < IDLE; i++)		/* the others still wait */
		assert_int_equal(idle_state[i], 0);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_session", 1, LOG_LVL_WARN);
	tmpdir = tmpdir_make(tmpl);
	return tmpdir == NULL || wire_init() != 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_channel),
		cmocka_unit_test(test_control_channel),
		cmocka_unit_test(test_handshake_slots_per_address),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
