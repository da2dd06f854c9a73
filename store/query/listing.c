/*
 * Listed flows (QUERY_LIST): their total order and the merge of two
 * sorted listings.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- flows of a listing --------------------------------------------------- */

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

int
flow_cmp(const store_flow_t *a, const store_flow_t *b)
{
	int c;

	CMP(a->first_ms, b->first_ms);
	CMP(a->last_ms, b->last_ms);
	if ((c = memcmp(a->src, b->src, 16)) != 0)
		return c;
	if ((c = memcmp(a->dst, b->dst, 16)) != 0)
		return c;
	CMP(a->sport, b->sport);
	CMP(a->dport, b->dport);
	CMP(a->proto, b->proto);
	CMP(a->bytes, b->bytes);
	CMP(a->packets, b->packets);
	if ((c = memcmp(a->exporter, b->exporter, 16)) != 0)
		return c;
	if ((c = memcmp(a->nexthop, b->nexthop, 16)) != 0)
		return c;
	CMP(a->in_if, b->in_if);
	CMP(a->out_if, b->out_if);
	CMP(a->src_as, b->src_as);
	CMP(a->dst_as, b->dst_as);
	CMP(a->tcp_flags, b->tcp_flags);
	CMP(a->tos, b->tos);
	CMP(a->src_mask, b->src_mask);
	CMP(a->dst_mask, b->dst_mask);
	CMP(a->sampling, b->sampling);
	CMP(a->tags, b->tags);
	CMP(a->flags, b->flags);
	return 0;
}

int
flows_merge(const store_flow_t *a, size_t na, const store_flow_t *b,
    size_t nb, size_t limit, memacct_t *ma, store_flow_t **out,
    size_t *nout)
{
	size_t n = na + nb, i = 0, j = 0, k = 0;
	store_flow_t *m;
	int err;

	if (n > limit)
		n = limit;
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(store_flow_t))
		return FF_ENOMEM;
	if ((err = mem_take(ma, n * sizeof(store_flow_t))) != 0)
		return err;
	if ((m = malloc(n * sizeof(store_flow_t))) == NULL) {
		mem_give(ma, n * sizeof(store_flow_t));
		return FF_ENOMEM;
	}
	while (k < n) {
		if (j >= nb || (i < na && flow_cmp(&a[i], &b[j]) <= 0))
			m[k++] = a[i++];
		else
			m[k++] = b[j++];
	}
	*out = m;
	*nout = n;
	return 0;
}
