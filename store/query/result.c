/*
 * Query results of every kind: new, free, adding a key, merge, equality,
 * the accessors, and the rows of an answer in answer order.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- results -------------------------------------------------------------- */

query_result_t *
result_new_id(const qident_t *id, uint64_t max_mem, uint64_t max_rows)
{
	query_result_t *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (qident_copy(&r->id, id) != 0) {
		free(r);
		return NULL;
	}
	atomic_init(&r->ma.used, 0);
	r->ma.max = max_mem;
	r->max_rows = max_rows;
	ktab_init(&r->tab, &r->ma, max_rows);
	if (id->kind == QUERY_SERIES) {
		size_t sz = (size_t)id->nbuckets * sizeof(aggv_t);

		if (mem_take(&r->ma, sz) != 0 ||
		    (r->bk = big_calloc(sz)) == NULL) {
			qident_clear(&r->id);
			free(r);
			return NULL;
		}
	}
	return r;
}

query_result_t *
query_result_new(const query_t *q)
{
	return result_new_id(&q->id, q->max_mem, q->max_rows);
}

void
query_result_free(query_result_t *r)
{
	if (r == NULL)
		return;
	ktab_free(&r->tab);
	if (r->bk != NULL)
		big_free(r->bk, (size_t)r->id.nbuckets * sizeof(aggv_t));
	free(r->fl);
	qident_clear(&r->id);
	free(r);
}

int
result_add_key(query_result_t *r, uint64_t hi, uint64_t lo, const aggv_t *v)
{
	kent_t *e;
	int err = 0;

	if (v->flows == 0 && r->id.kind == QUERY_TOPN)
		return 0;
	if ((e = ktab_get(&r->tab, hi, lo, &err)) == NULL)
		return err;
	if (r->id.kind == QUERY_DISTINCT) {
		e->v.flows = 1;
		e->v.bytes = e->v.packets = 0;
	} else
		aggv_add(&e->v, v);
	return 0;
}

static void
meta_add(query_meta_t *a, const query_meta_t *b)
{
	a->flows_scanned = sat_add(a->flows_scanned, b->flows_scanned);
	a->flows_matched = sat_add(a->flows_matched, b->flows_matched);
	a->blocks_scanned = sat_add(a->blocks_scanned, b->blocks_scanned);
	a->blocks_skipped = sat_add(a->blocks_skipped, b->blocks_skipped);
	a->blocks_damaged = sat_add(a->blocks_damaged, b->blocks_damaged);
	if (b->elapsed_us > a->elapsed_us)
		a->elapsed_us = b->elapsed_us;
}

int
query_result_merge(query_result_t *dst, const query_result_t *src)
{
	int err;

	if (!qident_equal(&dst->id, &src->id))
		return FF_EINVAL;
	switch (dst->id.kind) {
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		ktab_reserve_fill(&dst->tab, &src->tab);
		for (size_t i = 0; i < src->tab.cap; i++) {
			const kent_t *e = &src->tab.e[i];

			if (e->v.flows == 0)
				continue;
			if ((err = result_add_key(dst, e->hi, e->lo,
			    &e->v)) != 0)
				return err;
		}
		break;
	case QUERY_SERIES:
		for (uint64_t i = 0; i < dst->id.nbuckets; i++)
			aggv_add(&dst->bk[i], &src->bk[i]);
		break;
	case QUERY_LIST: {
		store_flow_t *m;
		size_t nm;

		if ((err = flows_merge(dst->fl, dst->nfl, src->fl, src->nfl,
		    dst->id.limit, &dst->ma, &m, &nm)) != 0)
			return err;
		free(dst->fl);
		mem_give(&dst->ma, dst->nfl * sizeof(store_flow_t));
		dst->fl = m;
		dst->nfl = nm;
		break;
	}
	}
	aggv_add(&dst->tot, &src->tot);
	meta_add(&dst->meta, &src->meta);
	dst->subset |= src->subset;
	return 0;
}

int
query_result_equal(const query_result_t *a, const query_result_t *b)
{
	if (!qident_equal(&a->id, &b->id) || a->subset != b->subset ||
	    memcmp(&a->tot, &b->tot, sizeof(a->tot)) != 0)
		return 0;
	switch (a->id.kind) {
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		if (a->tab.n != b->tab.n)
			return 0;
		for (size_t i = 0; i < a->tab.cap; i++) {
			const kent_t *e = &a->tab.e[i], *f;

			if (e->v.flows == 0)
				continue;
			if ((f = ktab_find(&b->tab, e->hi, e->lo)) == NULL ||
			    memcmp(&e->v, &f->v, sizeof(e->v)) != 0)
				return 0;
		}
		return 1;
	case QUERY_SERIES:
		return memcmp(a->bk, b->bk,
		    (size_t)a->id.nbuckets * sizeof(aggv_t)) == 0;
	case QUERY_LIST:
		if (a->nfl != b->nfl)
			return 0;
		for (size_t i = 0; i < a->nfl; i++)
			if (flow_cmp(&a->fl[i], &b->fl[i]) != 0)
				return 0;
		return 1;
	}
	return 1;
}

void
query_result_get_meta(const query_result_t *r, query_meta_t *m)
{
	*m = r->meta;
}

void
query_result_set_keys(query_result_t *r, int known, uint64_t n)
{
	r->keys_given = 1;
	r->keys_known = known;
	r->keys = known ? n : 0;
}

void
query_result_get_info(const query_result_t *r, query_info_t *inf)
{
	memset(inf, 0, sizeof(*inf));
	inf->kind = (query_kind_t)r->id.kind;
	inf->key = (query_key_t)r->id.key;
	inf->order = (query_order_t)r->id.order;
	inf->prefix4 = r->id.prefix4;
	inf->prefix6 = r->id.prefix6;
	inf->n = r->id.n;
	inf->limit = r->id.limit;
	inf->t0 = r->id.t0;
	inf->t1 = r->id.t1;
	inf->step_ms = r->id.step_ms;
	inf->qid = r->id.qid;
	inf->filter = r->id.filter;
	inf->subset = r->subset;
	switch (r->id.kind) {
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		inf->rows = r->tab.n;
		break;
	case QUERY_SERIES:
		inf->rows = r->id.nbuckets;
		break;
	case QUERY_LIST:
		inf->rows = r->nfl;
		break;
	}
	inf->flows = r->tot.flows;
	inf->bytes = r->tot.bytes;
	inf->packets = r->tot.packets;
}

const store_flow_t *
query_result_flows(const query_result_t *r, size_t *n)
{
	*n = r->id.kind == QUERY_LIST ? r->nfl : 0;
	return r->id.kind == QUERY_LIST ? r->fl : NULL;
}

int
query_result_rows(const query_result_t *r, size_t max, query_row_t **rows,
    size_t *n)
{
	query_row_t *out;
	kent_t *top;
	size_t nt;
	int err;

	*rows = NULL;
	*n = 0;
	switch (r->id.kind) {
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		if ((err = kents_top(&r->tab, r->id.order,
		    r->id.kind == QUERY_DISTINCT, max, &top, &nt)) != 0)
			return err;
		if (nt == 0)
			return 0;
		if ((out = calloc(nt, sizeof(*out))) == NULL) {
			free(top);
			return FF_ENOMEM;
		}
		for (size_t i = 0; i < nt; i++) {
			key_to_bytes(top[i].hi, top[i].lo, out[i].key);
			if (r->id.kind == QUERY_TOPN) {
				out[i].flows = top[i].v.flows;
				out[i].bytes = top[i].v.bytes;
				out[i].packets = top[i].v.packets;
			}
		}
		free(top);
		*rows = out;
		*n = nt;
		return 0;
	case QUERY_SERIES:
		nt = (size_t)r->id.nbuckets;
		if (max != 0 && max < nt)
			nt = max;
		if ((out = calloc(nt, sizeof(*out))) == NULL)
			return FF_ENOMEM;
		for (size_t i = 0; i < nt; i++) {
			out[i].t_ms = r->id.t0 + i * r->id.step_ms;
			out[i].flows = r->bk[i].flows;
			out[i].bytes = r->bk[i].bytes;
			out[i].packets = r->bk[i].packets;
		}
		*rows = out;
		*n = nt;
		return 0;
	}
	return FF_EINVAL;
}
