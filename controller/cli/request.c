/*
 * One request to the controller and its reply, for the commands that
 * ask and print (nodes, status): connect, send, wait for the answer
 * with the request's id, all within one deadline (--timeout, else
 * CLI_TIMEOUT_MS), and turn what went wrong into an exit code.
 */
#include <string.h>

#include "common/err.h"
#include "cli.h"


int64_t
cli_reply_error(const wire_msg_t *m, char *text, size_t len)
{
	int64_t code = 0;

	text[0] = '\0';
	(void)wire_get_i64(&m->body, "code", &code);
	(void)wire_get_strbuf(&m->body, "msg", text, len);
	return code;
}

void
cli_reply_free(struct cli_reply *r)
{
	wire_msg_free(&r->msg);
	ctlc_close(&r->cc);
}

/* The exchange itself; on failure the caller closes r->cc. */
static int
exchange(wire_builder_t *b, uint32_t id, struct cli_reply *r)
{
	const uint8_t *f;
	size_t flen;
	char err[512];
	int64_t code;
	int rc;

	if (wire_msg_end(b, &f, &flen) != 0) {
		fprintf(stderr, CLI_PROG ": out of memory\n");
		return EX_FAILED;
	}
	/* one deadline for the connect, the send and the answer */
	if (ctlc_open(&r->cc, cli.socket, (int64_t)(cli.timeout_ms ?
	    cli.timeout_ms : CLI_TIMEOUT_MS), err, sizeof(err)) != 0 ||
	    ctlc_send(&r->cc, f, flen, err, sizeof(err)) != 0) {
		fprintf(stderr, CLI_PROG ": %s\n", err);
		return EX_UNREACHABLE;
	}
	for (;;) {
		rc = ctlc_recv(&r->cc, &r->msg, -1, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, CLI_PROG ": %s\n", err);
			return rc == FF_EPROTO ? EX_FAILED : EX_UNREACHABLE;
		}
		if (r->msg.id == id)
			break;
		wire_msg_free(&r->msg);
	}
	if (r->msg.type != WIRE_ERROR)
		return EX_OK;
	code = cli_reply_error(&r->msg, err, sizeof(err));
	fprintf(stderr, CLI_PROG ": %s\n", err[0] ? err :
	    ff_strerror((int)code));
	wire_msg_free(&r->msg);
	return code == FF_ENOENT ? EX_NOTFOUND : EX_FAILED;
}

int
cli_request(wire_builder_t *b, uint32_t id, struct cli_reply *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->cc.fd = -1;
	if ((rc = exchange(b, id, r)) != EX_OK)
		ctlc_close(&r->cc);
	wire_builder_free(b);
	return rc;
}

int
cli_get_nodes(const char *name, struct cli_reply *r)
{
	wire_builder_t b;
	int rc;

	wire_msg_begin(&b, WIRE_CTL_NODES_GET, 1, name ? 1 : 0);
	if (name != NULL)
		wire_put_str(&b, "name", name);
	rc = cli_request(&b, 1, r);
	if (rc == EX_OK && cli_array(&r->msg.body, "nodes") == NULL) {
		fprintf(stderr, CLI_PROG ": malformed answer from the "
		    "controller\n");
		cli_reply_free(r);
		return EX_FAILED;
	}
	return rc;
}
