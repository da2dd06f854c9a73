/*
 * The selections of an exact distributed top-N (TPUT, Cao & Wang 2004)
 * that a node makes from the complete top-N aggregate it kept: its first
 * k keys, every key at or above a threshold, and the keys asked for.
 * The merge of the selections is query_result_merge.
 */
#include <stdlib.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- selections for TPUT ------------------------------------------------- */

static query_result_t *
subset_new(const query_result_t *r)
{
	query_result_t *o;

	if ((o = result_new_id(&r->id, 0, 0)) == NULL)
		return NULL;
	o->subset = 1;
	o->tot = r->tot;
	o->meta = r->meta;
	return o;
}

int
query_result_topk(const query_result_t *r, uint32_t k, query_result_t **out)
{
	query_result_t *o;
	kent_t *top;
	size_t nt;
	int err;

	*out = NULL;
	if (r->id.kind != QUERY_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	if (k > 0) {
		if ((err = kents_top(&r->tab, r->id.order, 0, k, &top,
		    &nt)) != 0) {
			query_result_free(o);
			return err;
		}
		for (size_t i = 0; i < nt && err == 0; i++)
			err = result_add_key(o, top[i].hi, top[i].lo,
			    &top[i].v);
		free(top);
		if (err != 0) {
			query_result_free(o);
			return err;
		}
	}
	*out = o;
	return 0;
}

int
query_result_select(const query_result_t *r, uint64_t min,
    query_result_t **out)
{
	query_result_t *o;
	size_t n = 0;
	int err = 0;

	*out = NULL;
	if (r->id.kind != QUERY_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	for (size_t i = 0; i < r->tab.cap; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 && aggv_metric(&e->v, r->id.order) >= min)
			n++;
	}
	/* room for every key first: filled in r's slot order (ktab.h) */
	if (n > 0 && (err = ktab_reserve(&o->tab, n)) != 0) {
		query_result_free(o);
		return err == FF_ELIMIT ? FF_ENOMEM : err;
	}
	for (size_t i = 0; i < r->tab.cap && err == 0; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 && aggv_metric(&e->v, r->id.order) >= min)
			err = result_add_key(o, e->hi, e->lo, &e->v);
	}
	if (err != 0) {
		query_result_free(o);
		return err;
	}
	*out = o;
	return 0;
}

int
query_result_lookup(const query_result_t *r, const uint8_t (*keys)[16],
    size_t nkeys, query_result_t **out)
{
	query_result_t *o;
	int err = 0;

	*out = NULL;
	if (r->id.kind != QUERY_TOPN)
		return FF_EINVAL;
	if ((o = subset_new(r)) == NULL)
		return FF_ENOMEM;
	if (nkeys > 0 && r->tab.n > 0)
		(void)ktab_reserve(&o->tab, FF_MIN(nkeys, r->tab.n));
	for (size_t i = 0; i < nkeys && err == 0; i++) {
		const kent_t *e;
		uint64_t hi, lo;

		key_from_bytes(keys[i], &hi, &lo);
		/* A key asked twice is taken once. */
		if ((e = ktab_find(&r->tab, hi, lo)) != NULL &&
		    ktab_find(&o->tab, hi, lo) == NULL)
			err = result_add_key(o, hi, lo, &e->v);
	}
	if (err != 0) {
		query_result_free(o);
		return err;
	}
	*out = o;
	return 0;
}
