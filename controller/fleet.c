/*
 * The fleet in memory, and the serial queue that writes it to the
 * inventory on libuv's thread pool.
 *
 * A job's records are copied from memory when the job starts, not when
 * it is queued, so a job never writes older state than a job before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "controller.h"

enum wkind { WJ_PUT = 1, WJ_DEL, WJ_FLUSH };

struct wjob {
	uv_work_t req;
	controller_t *c;
	enum wkind kind;
	char name[WIRE_NAME_MAX + 1];
	inv_op_t *ops;
	size_t nops;
	fleet_done_fn done;
	void *arg;
	int rc;
	char err[256];
	struct wjob *next;
};

/* ---- the list ---- */

fnode_t *
fleet_find(controller_t *c, const char *name)
{
	for (fnode_t *n = c->nodes; n != NULL; n = n->next)
		if (strcmp(n->rec.name, name) == 0)
			return n;
	return NULL;
}

void
fleet_insert(controller_t *c, fnode_t *n)
{
	fnode_t **pp = &c->nodes;

	while (*pp != NULL && strcmp((*pp)->rec.name, n->rec.name) < 0)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	c->nnodes++;
}

void
fleet_unlink(controller_t *c, fnode_t *n)
{
	for (fnode_t **pp = &c->nodes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			n->removed = 1;
			c->nnodes--;
			return;
		}
}

static void
load_node(void *arg, const inv_node_t *rec)
{
	controller_t *c = arg;
	fnode_t *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		log_warnx("inventory: out of memory loading %s", rec->name);
		return;
	}
	n->rec = *rec;
	fleet_insert(c, n);
}

static void
load_token(void *arg, const inv_token_t *t)
{
	controller_t *c = arg;
	fnode_t *n = fleet_find(c, t->name);

	if (n == NULL) {
		log_warnx("inventory: join token of unknown node %s ignored",
		    t->name);
		return;
	}
	n->tok = *t;
	n->has_tok = 1;
}

int
fleet_load(controller_t *c, char *err, size_t errlen)
{
	return inv_load(c->inv, load_node, load_token, c, err, errlen);
}

void
fleet_free(controller_t *c)
{
	fnode_t *n, *next;

	for (n = c->nodes; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	c->nodes = NULL;
	c->nnodes = 0;
}

/* ---- the write queue ---- */

static void wq_start(controller_t *c);

static void
job_free(struct wjob *j)
{
	free(j->ops);
	free(j);
}

/* The write failed: what it would have stored is still only in memory. */
static void
redirty(controller_t *c, const struct wjob *j)
{
	fnode_t *n;

	for (size_t i = 0; i < j->nops; i++)
		if (j->ops[i].kind == INV_PUT_NODE &&
		    (n = fleet_find(c, j->ops[i].node.name)) != NULL)
			n->dirty = 1;
}

static void
wq_work(uv_work_t *req)
{
	struct wjob *j = req->data;

	j->rc = inv_write(j->c->inv, j->ops, j->nops, j->err,
	    sizeof(j->err));
}

static void
wq_after(uv_work_t *req, int status)
{
	struct wjob *j = req->data;
	controller_t *c = j->c;

	if (status != 0 && j->rc == 0) {
		j->rc = FF_ECANCELED;
		snprintf(j->err, sizeof(j->err), "write cancelled");
	}
	if (j->rc != 0) {
		log_warnx("inventory write failed: %s", j->err);
		redirty(c, j);
	}
	if (j->kind == WJ_FLUSH)
		c->flush_queued = 0;
	if (j->done != NULL)
		j->done(c, j->arg, j->rc, j->err);
	job_free(j);
	c->wq_busy = 0;
	wq_start(c);
}

/* Copy a node's records into ops (1 or 2 entries); returns how many. */
static size_t
node_ops(const fnode_t *n, inv_op_t *ops)
{
	size_t k = 0;

	ops[k].kind = INV_PUT_NODE;
	ops[k++].node = n->rec;
	if (n->has_tok) {
		ops[k].kind = INV_PUT_TOKEN;
		ops[k++].token = n->tok;
	}
	return k;
}

/* Build the job's records from memory, now. Returns 0 or FF_ENOMEM. */
static int
job_prepare(controller_t *c, struct wjob *j)
{
	fnode_t *n;
	size_t cnt = 0;

	switch (j->kind) {
	case WJ_PUT:
		if ((n = fleet_find(c, j->name)) == NULL)
			return 0;	/* removed since: nothing to store */
		if ((j->ops = calloc(2, sizeof(*j->ops))) == NULL)
			return FF_ENOMEM;
		j->nops = node_ops(n, j->ops);
		n->dirty = 0;
		return 0;
	case WJ_DEL:
		if ((j->ops = calloc(2, sizeof(*j->ops))) == NULL)
			return FF_ENOMEM;
		j->ops[0].kind = INV_DEL_NODE;
		j->ops[1].kind = INV_DEL_TOKEN;
		memcpy(j->ops[0].name, j->name, sizeof(j->name));
		memcpy(j->ops[1].name, j->name, sizeof(j->name));
		j->nops = 2;
		return 0;
	case WJ_FLUSH:
		for (n = c->nodes; n != NULL; n = n->next)
			if (n->dirty && !n->adding)
				cnt++;
		if (cnt == 0)
			return 0;
		/* runtime state lives in the node records only: tokens
		   change through WJ_PUT */
		if ((j->ops = calloc(cnt, sizeof(*j->ops))) == NULL)
			return FF_ENOMEM;
		for (n = c->nodes; n != NULL; n = n->next)
			if (n->dirty && !n->adding) {
				j->ops[j->nops].kind = INV_PUT_NODE;
				j->ops[j->nops++].node = n->rec;
				n->dirty = 0;
			}
		return 0;
	}
	return FF_EINVAL;
}

static void
wq_start(controller_t *c)
{
	struct wjob *j;
	int rc;

	while (!c->wq_busy && (j = c->wq_head) != NULL) {
		c->wq_head = j->next;
		if (c->wq_head == NULL)
			c->wq_tail = NULL;
		if ((rc = job_prepare(c, j)) == 0 && j->nops > 0) {
			j->req.data = j;
			if ((rc = uv_queue_work(c->loop, &j->req, wq_work,
			    wq_after)) == 0) {
				c->wq_busy = 1;
				return;
			}
			snprintf(j->err, sizeof(j->err), "uv_queue_work: %s",
			    uv_strerror(rc));
			rc = FF_EIO;
		} else if (rc != 0)
			snprintf(j->err, sizeof(j->err), "out of memory");
		/* nothing to write, or it failed before starting */
		if (rc != 0)
			redirty(c, j);
		if (j->kind == WJ_FLUSH)
			c->flush_queued = 0;
		if (j->done != NULL)
			j->done(c, j->arg, rc, j->err);
		job_free(j);
	}
}

static int
wq_push(controller_t *c, enum wkind kind, const char *name, fleet_done_fn done,
    void *arg)
{
	struct wjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return FF_ENOMEM;
	j->c = c;
	j->kind = kind;
	if (name != NULL)
		snprintf(j->name, sizeof(j->name), "%s", name);
	j->done = done;
	j->arg = arg;
	if (c->wq_tail != NULL)
		c->wq_tail->next = j;
	else
		c->wq_head = j;
	c->wq_tail = j;
	wq_start(c);
	return 0;
}

int
fleet_put(controller_t *c, const char *name, fleet_done_fn done, void *arg)
{
	return wq_push(c, WJ_PUT, name, done, arg);
}

int
fleet_del(controller_t *c, const char *name, fleet_done_fn done, void *arg)
{
	return wq_push(c, WJ_DEL, name, done, arg);
}

int
fleet_flush(controller_t *c)
{
	int rc;

	if (c->flush_queued)
		return 0;
	if ((rc = wq_push(c, WJ_FLUSH, NULL, NULL, NULL)) == 0)
		c->flush_queued = 1;
	return rc;
}

void
fleet_flush_sync(controller_t *c)
{
	struct wjob j;
	char err[256];

	memset(&j, 0, sizeof(j));
	j.kind = WJ_FLUSH;
	if (job_prepare(c, &j) != 0) {
		log_warnx("inventory: out of memory saving the fleet state");
	} else if (j.nops > 0 && inv_write(c->inv, j.ops, j.nops, err,
	    sizeof(err)) != 0)
		log_warnx("inventory write failed: %s", err);
	free(j.ops);
}
