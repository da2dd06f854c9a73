/*
 * Normalization of a parsed filter (the shape filter.h describes): push
 * NOT into the leaves, fold constants, merge nested AND/AND and OR/OR,
 * drop repeated children, order children by cost; then the columns the
 * filter reads and the scratch bitmaps its evaluation needs.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter.h"

static uint32_t
leaf_cost(const struct fnode *n)
{
	unsigned w = store_col_width(n->col);

	switch (n->op) {
	case FOP_RANGE:
	case FOP_MASK:
		return w <= 2 ? 2 : w == 4 ? 3 : 4;
	case FOP_SET:
		return w <= 2 ? 4 : 8;
	case FOP_ADDR:
		return 6;
	default:
		return 16;
	}
}

/* Fold a leaf whose outcome does not depend on the row. */
static struct fnode *
fold_leaf(struct fnode *n)
{
	int k = -1;

	switch (n->op) {
	case FOP_RANGE:
		if (n->u.range.lo > n->u.range.hi)
			k = 0;
		else if (n->u.range.lo == 0 && n->u.range.hi >= filter_col_max(n->col))
			k = 1;
		break;
	case FOP_MASK:
		if (n->u.mask.m == 0)
			k = 1;
		break;
	case FOP_ADDR: {
		static const uint8_t zero[16];

		if (memcmp(n->u.addr.mask, zero, 16) == 0)
			k = 1;
		break;
	}
	default:
		break;
	}
	if (k < 0)
		return n;
	n->kind = (uint8_t)((k ^ n->neg) ? FN_TRUE : FN_FALSE);
	return n;
}

#define CMP3(x, y)	do {						\
	if ((x) != (y))							\
		return (x) < (y) ? -1 : 1;				\
} while (0)

/*
 * A total order on normalized nodes (0 only for equal ones), so that the
 * children of an AND/OR have one canonical order whatever order they
 * were written in.
 */
static int
node_cmp(const struct fnode *a, const struct fnode *b)
{
	int c;

	CMP3(a->cost, b->cost);
	CMP3(a->kind, b->kind);
	if (a->kind == FN_AND || a->kind == FN_OR) {
		CMP3(a->nkids, b->nkids);
		for (size_t i = 0; i < a->nkids; i++)
			if ((c = node_cmp(a->kids[i], b->kids[i])) != 0)
				return c;
		return 0;
	}
	if (a->kind != FN_LEAF)
		return 0;
	CMP3(a->col, b->col);
	CMP3(a->op, b->op);
	CMP3(a->style, b->style);
	CMP3(a->neg, b->neg);
	switch (a->op) {
	case FOP_RANGE:
		CMP3(a->u.range.lo, b->u.range.lo);
		CMP3(a->u.range.hi, b->u.range.hi);
		return 0;
	case FOP_MASK:
		CMP3(a->u.mask.m, b->u.mask.m);
		CMP3(a->u.mask.v, b->u.mask.v);
		return 0;
	case FOP_SET:
		CMP3(a->u.set->n, b->u.set->n);
		for (size_t i = 0; i < a->u.set->n; i++)
			CMP3(a->u.set->vals[i], b->u.set->vals[i]);
		return 0;
	case FOP_ADDR:
		if ((c = memcmp(a->u.addr.mask, b->u.addr.mask, 16)) != 0)
			return c < 0 ? -1 : 1;
		c = memcmp(a->u.addr.val, b->u.addr.val, 16);
		return c < 0 ? -1 : c > 0;
	default:
		CMP3(a->u.list->n, b->u.list->n);
		for (size_t i = 0; i < a->u.list->n; i++) {
			const struct fprefix *x = &a->u.list->pfx[i];
			const struct fprefix *y = &b->u.list->pfx[i];

			CMP3(x->len, y->len);
			if ((c = memcmp(x->a, y->a, 16)) != 0)
				return c < 0 ? -1 : 1;
		}
		return 0;
	}
}

static int
cmp_kid(const void *a, const void *b)
{
	return node_cmp(*(struct fnode *const *)a, *(struct fnode *const *)b);
}

struct normctx {
	query_filter_t *f;
	int rc;
};

static struct fnode *
norm(struct normctx *c, struct fnode *n, int neg)
{
	struct fnode **v = NULL;
	size_t nv = 0, cap = 0, u;
	enum fn_kind kind;

	switch (n->kind) {
	case FN_TRUE:
	case FN_FALSE:
		if (neg)
			n->kind = n->kind == FN_TRUE ? FN_FALSE : FN_TRUE;
		return n;
	case FN_LEAF:
		/*
		 * As in nfdump, a negated 'flags LETTERS' means none of the
		 * flags is set (not: not all of them), so that nfdump's own
		 * idiom 'flags S and not flags AFRPU' selects SYN-only flows.
		 */
		if (n->style == FST_FLAGS_LETTERS && neg)
			n->u.mask.v = 0;
		else
			n->neg ^= (uint8_t)neg;
		n->cost = leaf_cost(n);
		return fold_leaf(n);
	case FN_NOT:
		return norm(c, n->kids[0], !neg);
	default:
		break;
	}
	kind = n->kind;
	if (neg)
		kind = kind == FN_AND ? FN_OR : FN_AND;
	for (size_t i = 0; i < n->nkids; i++) {
		struct fnode *k = norm(c, n->kids[i], neg);
		struct fnode **add = &k;
		size_t nadd = 1;

		if (c->rc != 0)
			goto out;
		/* absorbing constant: AND(false) / OR(true) */
		if ((kind == FN_AND && k->kind == FN_FALSE) ||
		    (kind == FN_OR && k->kind == FN_TRUE)) {
			free(v);
			return k;
		}
		if (k->kind == FN_TRUE || k->kind == FN_FALSE)
			continue;
		if (k->kind == kind) {
			add = k->kids;
			nadd = k->nkids;
		}
		if (nv + nadd > cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct fnode **nn;

			while (nc < nv + nadd)
				nc *= 2;
			if ((nn = realloc(v, nc * sizeof(*v))) == NULL) {
				c->rc = FF_ENOMEM;
				goto out;
			}
			v = nn;
			cap = nc;
		}
		memcpy(v + nv, add, nadd * sizeof(*v));
		nv += nadd;
	}
	/* canonical order, cheap terms first; drop repeated children */
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_kid);
	for (size_t i = u = 0; i < nv; i++)
		if (u == 0 || node_cmp(v[u - 1], v[i]) != 0)
			v[u++] = v[i];
	nv = u;
	if (nv == 0) {
		free(v);
		n->kind = (uint8_t)(kind == FN_AND ? FN_TRUE : FN_FALSE);
		n->nkids = 0;
		return n;
	}
	if (nv == 1) {
		struct fnode *k = v[0];

		free(v);
		return k;
	}
	if (nv > n->nkids) {
		struct fnode **kids = filter_alloc(c->f, nv * sizeof(*kids));

		if (kids == NULL) {
			c->rc = FF_ENOMEM;
			goto out;
		}
		n->kids = kids;
	}
	n->kind = (uint8_t)kind;
	n->nkids = nv;
	n->cost = 1;
	for (size_t i = 0; i < nv; i++) {
		n->kids[i] = v[i];
		n->cost += v[i]->cost;
	}
out:
	free(v);
	return n;
}

/* Scratch bitmaps the evaluation of n needs (see filter_eval.c). */
static size_t
scratch_need(const struct fnode *n)
{
	size_t need = 0;

	if (n->kind != FN_AND && n->kind != FN_OR)
		return 0;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct fnode *k = n->kids[i];

		if (k->kind == FN_AND || k->kind == FN_OR) {
			size_t s = 1 + scratch_need(k);

			if (s > need)
				need = s;
		}
	}
	return need;
}

static uint32_t
cols_of(const struct fnode *n)
{
	uint32_t c = 0;

	if (n->kind == FN_LEAF)
		return STORE_COLBIT(n->col);
	for (size_t i = 0; i < n->nkids; i++)
		c |= cols_of(n->kids[i]);
	return c;
}

int
filter_normalize(query_filter_t *f, struct fnode **root)
{
	struct normctx nc;
	struct fnode *r;

	nc.f = f;
	nc.rc = 0;
	r = norm(&nc, *root, 0);
	if (nc.rc != 0)
		return f->over ? FF_ESYNTAX : nc.rc;
	*root = r;
	f->cols = cols_of(r);
	f->scratch = scratch_need(r);
	return 0;
}
