/*
 * Answer order: the first entries of a key table by the order metric
 * (ties by key), or by key, without sorting the whole table.
 */
#include <stdlib.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/* --- answer order and top-N selection ------------------------------------ */

/* <0 when a comes before b: metric descending, then key ascending. */
static int
answer_cmp(const kent_t *a, const kent_t *b, int order)
{
	uint64_t ma = aggv_metric(&a->v, order), mb = aggv_metric(&b->v, order);

	if (ma != mb)
		return ma > mb ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static int
key_cmp(const kent_t *a, const kent_t *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* Does a come before b (bykey: in key order, else in answer order)? */
static inline int
before(const kent_t *a, const kent_t *b, int order, int bykey)
{
	return bykey ? key_cmp(a, b) < 0 : answer_cmp(a, b, order) < 0;
}

/*
 * Move h[root] down the n-entry heap h until no child comes after it:
 * the entry that comes last stays at the root.
 */
static inline void
sift_down(kent_t *h, size_t root, size_t n, int order, int bykey)
{
	size_t child;
	kent_t tmp;

	for (; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && before(&h[child], &h[child + 1], order,
		    bykey))
			child++;
		if (!before(&h[root], &h[child], order, bykey))
			break;
		tmp = h[root];
		h[root] = h[child];
		h[child] = tmp;
	}
}

/* Sort v in answer order (bykey: key order); qsort has no context. */
static void
kents_sort(kent_t *v, size_t n, int order, int bykey)
{
	/* Heapsort: O(n log n), no recursion, no allocation. */
	kent_t tmp;

	if (n < 2)
		return;
	/* Build a max-heap by answer order (the last row at the root). */
	for (size_t start = n / 2; start-- > 0;)
		sift_down(v, start, n, order, bykey);
	for (size_t end = n - 1; end > 0; end--) {
		tmp = v[0];
		v[0] = v[end];
		v[end] = tmp;
		sift_down(v, 0, end, order, bykey);
	}
}

int
kents_top(const ktab_t *t, int order, int bykey, size_t max, kent_t **out,
    size_t *nout)
{
	kent_t *h, tmp;
	size_t n = 0, cap;

	cap = (max == 0 || max > t->n) ? t->n : max;
	*out = NULL;
	*nout = 0;
	if (cap == 0)
		return 0;
	if (cap > SIZE_MAX / sizeof(kent_t) ||
	    (h = malloc(cap * sizeof(kent_t))) == NULL)
		return FF_ENOMEM;
	/*
	 * h is a heap whose root is the entry that comes last in answer
	 * order; a new entry replaces the root when it comes before it.
	 */
	for (size_t i = 0; i < t->cap; i++) {
		const kent_t *e = &t->e[i];

		if (e->v.flows == 0)
			continue;
		if (n < cap) {
			size_t c = n++;

			h[c] = *e;
			while (c > 0 && before(&h[(c - 1) / 2], &h[c], order,
			    bykey)) {
				tmp = h[c];
				h[c] = h[(c - 1) / 2];
				h[(c - 1) / 2] = tmp;
				c = (c - 1) / 2;
			}
			continue;
		}
		if (!before(e, &h[0], order, bykey))
			continue;
		h[0] = *e;
		sift_down(h, 0, n, order, bykey);
	}
	kents_sort(h, n, order, bykey);
	*out = h;
	*nout = n;
	return 0;
}
