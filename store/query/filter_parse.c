/*
 * The filter parser: nfdump's filter syntax (nfdump 1.7, see nfdump(1)
 * section FILTER and docs/FILTER.md), parsed by recursive descent over
 * the tokens of filter_lex.c into a tree of leaves, which
 * filter_normalize (filter_norm.c) then shapes for column-wise
 * evaluation (filter_eval.c).
 *
 * Precedence as in nfdump: 'not' binds tighter than 'and', which binds
 * tighter than 'or'; parentheses group. Keywords are case-insensitive.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "filter.h"
#include "filter_lex.h"

struct parser {
	struct flexer lx;	/* lx.tok: the current token */
	struct token term;	/* first token of the current term */
	query_filter_t *f;
	unsigned depth;
	unsigned nodes;
	char *err;
	size_t errlen;
	int rc;			/* first error */
};

static void
lex(struct parser *p)
{
	filter_lex(&p->lx);
}

/*
 * Record the first error: "column N: what near 'token'" (with "line L, "
 * in front when the filter spans lines), or "... at end of input".
 */
static void
fail(struct parser *p, const struct token *t, const char *fmt, ...)
{
	char msg[160], tb[128], where[48] = "";
	size_t k = 0;
	va_list ap;

	if (p->rc != 0)
		return;
	p->rc = FF_ESYNTAX;
	if (p->err == NULL || p->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < t->len && k + 5 < sizeof(tb); i++) {
		unsigned char c = (unsigned char)t->s[i];

		if (i == 40) {
			memcpy(tb + k, "...", 3);
			k += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'')
			tb[k++] = (char)c;
		else
			k += (size_t)snprintf(tb + k, sizeof(tb) - k,
			    "\\x%02x", c);
	}
	tb[k] = '\0';
	if (memchr(p->lx.text, '\n', p->lx.len) != NULL)
		snprintf(where, sizeof(where), "line %u, ", t->line);
	if (t->t == T_END)
		snprintf(p->err, p->errlen, "%scolumn %zu: %s at end of input",
		    where, t->col, msg);
	else
		snprintf(p->err, p->errlen, "%scolumn %zu: %s near '%s'", where,
		    t->col, msg, tb);
}

static void
fail_mem(struct parser *p)
{
	if (p->rc != 0)
		return;
	if (p->f->over) {
		fail(p, &p->lx.tok, "filter too large (compiled form over %u "
		    "MiB)", FILTER_MAX_MEM >> 20);
		return;
	}
	p->rc = FF_ENOMEM;
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "out of memory");
}

static void *
palloc(struct parser *p, size_t n)
{
	void *v;

	if (p->rc != 0)
		return NULL;
	if ((v = filter_alloc(p->f, n)) == NULL)
		fail_mem(p);
	return v;
}

/*
 * Expect a number in 0..max; what names it in the messages ("a port
 * number"). Consumes the token on success.
 */
static int
expect_number(struct parser *p, const char *what, uint64_t max,
    uint64_t *out)
{
	int r = filter_tok_number(&p->lx.tok, out);

	if (r == -1) {
		fail(p, &p->lx.tok, "expected %s", what);
		return -1;
	}
	if (r == -2 || *out > max) {
		/* "a port number" -> "port number out of range ..." */
		if (strncmp(what, "a ", 2) == 0)
			what += 2;
		else if (strncmp(what, "an ", 3) == 0)
			what += 3;
		fail(p, &p->lx.tok, "%s out of range 0..%llu", what,
		    (unsigned long long)max);
		return -1;
	}
	lex(p);
	return 0;
}

static void
prefix_mask(unsigned len, uint8_t m[16])
{
	for (unsigned i = 0; i < 16; i++) {
		if (len >= 8) {
			m[i] = 0xff;
			len -= 8;
		} else {
			m[i] = (uint8_t)(0xff00 >> len);
			len = 0;
		}
	}
}

/* ---------------------------------------------------------------------
 * Nodes
 * --------------------------------------------------------------------- */

static struct fnode *
new_node(struct parser *p, enum fn_kind kind)
{
	struct fnode *n;

	if (++p->nodes > FILTER_MAX_NODES) {
		fail(p, &p->term, "too many terms (limit %u)",
		    FILTER_MAX_NODES);
		return NULL;
	}
	if ((n = palloc(p, sizeof(*n))) == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	return n;
}

static struct fnode *
new_leaf(struct parser *p, enum store_col col, enum fn_op op)
{
	struct fnode *n = new_node(p, FN_LEAF);

	if (n != NULL) {
		n->col = (uint8_t)col;
		n->op = (uint8_t)op;
	}
	return n;
}

/* An AND/OR/NOT node over the given children (copied). */
static struct fnode *
new_op(struct parser *p, enum fn_kind kind, struct fnode **kids, size_t n)
{
	struct fnode *nd;

	for (size_t i = 0; i < n; i++)
		if (kids[i] == NULL)
			return NULL;
	if ((nd = new_node(p, kind)) == NULL)
		return NULL;
	if ((nd->kids = palloc(p, n * sizeof(*kids))) == NULL)
		return NULL;
	memcpy(nd->kids, kids, n * sizeof(*kids));
	nd->nkids = n;
	return nd;
}

static struct fnode *
new_op2(struct parser *p, enum fn_kind kind, struct fnode *a,
    struct fnode *b)
{
	struct fnode *k[2] = { a, b };

	return new_op(p, kind, k, 2);
}

/* A comparison of col with v as a RANGE leaf (constant when trivial). */
static struct fnode *
leaf_cmp(struct parser *p, enum store_col col, enum tok cmp, uint64_t v)
{
	uint64_t max = filter_col_max(col), lo = v, hi = v;
	struct fnode *n;

	switch (cmp) {
	case T_LT:
		if (v == 0)
			return new_node(p, FN_FALSE);
		lo = 0;
		hi = v - 1;
		break;
	case T_GT:
		if (v >= max)
			return new_node(p, FN_FALSE);
		lo = v + 1;
		hi = max;
		break;
	case T_LE:
		lo = 0;
		break;
	case T_GE:
		hi = max;
		break;
	default:
		break;
	}
	if ((n = new_leaf(p, col, FOP_RANGE)) == NULL)
		return NULL;
	n->u.range.lo = lo;
	n->u.range.hi = hi;
	return n;
}

static struct fnode *
leaf_mask(struct parser *p, enum store_col col, uint64_t m, uint64_t v,
    enum fn_style style)
{
	struct fnode *n = new_leaf(p, col, FOP_MASK);

	if (n != NULL) {
		n->u.mask.m = m;
		n->u.mask.v = v & m;
		n->style = (uint8_t)style;
	}
	return n;
}

static struct fnode *
leaf_set(struct parser *p, enum store_col col, const struct fset *set)
{
	struct fnode *n = new_leaf(p, col, FOP_SET);

	if (n != NULL)
		n->u.set = set;
	return n;
}

/* Fill in the native-order and IPv4-form views of an address test. */
static void
faddr_derive(struct faddr *fa)
{
	static const uint8_t mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	for (int i = 0; i < 16; i++)
		fa->val[i] &= fa->mask[i];
	memcpy(&fa->m64[0], fa->mask, 8);
	memcpy(&fa->m64[1], fa->mask + 8, 8);
	memcpy(&fa->v64[0], fa->val, 8);
	memcpy(&fa->v64[1], fa->val + 8, 8);
	fa->v4any = 1;
	for (int i = 0; i < 12; i++)
		if ((mapped[i] & fa->mask[i]) != fa->val[i])
			fa->v4any = 0;
	fa->m4 = be32(fa->mask + 12);
	fa->v4 = be32(fa->val + 12);
}

static struct fnode *
leaf_addr(struct parser *p, enum store_col col, const uint8_t a[16],
    const uint8_t mask[16])
{
	struct fnode *n = new_leaf(p, col, FOP_ADDR);

	if (n != NULL) {
		memcpy(n->u.addr.val, a, 16);
		memcpy(n->u.addr.mask, mask, 16);
		faddr_derive(&n->u.addr);
	}
	return n;
}

static struct fnode *
leaf_list(struct parser *p, enum store_col col, const struct flist *l)
{
	struct fnode *n = new_leaf(p, col, FOP_ADDR_LIST);

	if (n != NULL)
		n->u.list = l;
	return n;
}

/* ---------------------------------------------------------------------
 * Direction qualifiers
 * --------------------------------------------------------------------- */

enum dq {
	DQ_NONE = 0,		/* either: src or dst, in or out */
	DQ_SRC,
	DQ_DST,
	DQ_OR,			/* src or dst */
	DQ_AND,			/* src and dst */
	DQ_IN,
	DQ_OUT
};

static const char *
dq_text(enum dq dq)
{
	switch (dq) {
	case DQ_SRC: return "src";
	case DQ_DST: return "dst";
	case DQ_OR: return "src or dst";
	case DQ_AND: return "src and dst";
	case DQ_IN: return "in";
	case DQ_OUT: return "out";
	default: return "";
	}
}

/* Combine the source and destination forms of a term per qualifier. */
static struct fnode *
by_dq(struct parser *p, enum dq dq, struct fnode *s, struct fnode *d)
{
	switch (dq) {
	case DQ_SRC:
		return s;
	case DQ_DST:
		return d;
	case DQ_AND:
		return new_op2(p, FN_AND, s, d);
	default:
		return new_op2(p, FN_OR, s, d);
	}
}

/* src/dst/src or dst/src and dst apply; in/out do not. */
static int
dq_srcdst(struct parser *p, enum dq dq, const struct token *field)
{
	if (dq == DQ_IN || dq == DQ_OUT) {
		fail(p, field, "'%s' does not go with '%.*s'", dq_text(dq),
		    (int)field->len, field->s);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Lists
 * --------------------------------------------------------------------- */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* "[ n n, n ]" of numbers in 0..max into a set for a column of width w. */
static const struct fset *
parse_num_list(struct parser *p, const char *what, uint64_t max, unsigned w)
{
	struct token open = p->lx.tok;
	struct fset *set;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	if (p->lx.tok.t != T_LBRACK) {
		fail(p, &p->lx.tok, "expected '['");
		return NULL;
	}
	lex(p);
	while (p->rc == 0 && p->lx.tok.t != T_RBRACK) {
		uint64_t x;

		if (n > 0 && p->lx.tok.t == T_COMMA)
			lex(p);
		if (n >= FILTER_MAX_LIST) {
			fail(p, &p->lx.tok, "list too long (limit %u entries)",
			    FILTER_MAX_LIST);
			break;
		}
		if (expect_number(p, what, max, &x) != 0)
			break;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			uint32_t *nv = realloc(v, nc * sizeof(*v));

			if (nv == NULL) {
				fail_mem(p);
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = (uint32_t)x;
	}
	if (p->rc == 0 && n == 0)
		fail(p, &open, "empty list");
	if (p->rc != 0) {
		free(v);
		return NULL;
	}
	lex(p);			/* ']' */
	qsort(v, n, sizeof(*v), cmp_u32);
	{
		size_t u = 0;

		for (size_t i = 0; i < n; i++)
			if (u == 0 || v[u - 1] != v[i])
				v[u++] = v[i];
		n = u;
	}
	if ((set = palloc(p, sizeof(*set))) == NULL ||
	    (set->vals = palloc(p, n * sizeof(*v))) == NULL) {
		free(v);
		return NULL;
	}
	memcpy(set->vals, v, n * sizeof(*v));
	set->n = n;
	set->bits = NULL;
	free(v);
	if (w <= 2) {
		size_t words = (size_t)1 << (w * 8 - 6);

		if ((set->bits = palloc(p, words * 8)) == NULL)
			return NULL;
		memset(set->bits, 0, words * 8);
		for (size_t i = 0; i < n; i++)
			set->bits[set->vals[i] >> 6] |=
			    (uint64_t)1 << (set->vals[i] & 63);
	}
	return set;
}

static int
cmp_iv6(const void *a, const void *b)
{
	const struct fiv6 *x = a, *y = b;

	if (x->lo_hi != y->lo_hi)
		return x->lo_hi < y->lo_hi ? -1 : 1;
	if (x->lo_lo != y->lo_lo)
		return x->lo_lo < y->lo_lo ? -1 : 1;
	return 0;
}

/* 128-bit a <= b */
static int
u128_le(uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl)
{
	return ah < bh || (ah == bh && al <= bl);
}

/* Build the interval forms of a prefix list. */
static int
flist_build(struct parser *p, struct flist *l)
{
	/* ::ffff:0.0.0.0 .. ::ffff:255.255.255.255 */
	const uint64_t v4lo = 0x0000ffff00000000ULL;
	const uint64_t v4hi = 0x0000ffffffffffffULL;
	struct fiv6 *iv;
	size_t m = 0;

	if ((iv = palloc(p, l->n * sizeof(*iv))) == NULL ||
	    (l->nat = palloc(p, l->n * sizeof(*l->nat))) == NULL ||
	    (l->nat6 = palloc(p, l->n * sizeof(*l->nat6))) == NULL)
		return -1;
	l->nnat6 = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint8_t mk[16];
		uint64_t mh, ml;

		prefix_mask(l->pfx[i].len, mk);
		memcpy(&l->nat[i].m[0], mk, 8);
		memcpy(&l->nat[i].m[1], mk + 8, 8);
		memcpy(&l->nat[i].v[0], l->pfx[i].a, 8);
		memcpy(&l->nat[i].v[1], l->pfx[i].a + 8, 8);
		if (l->pfx[i].len < 96 || !addr_is_v4(l->pfx[i].a))
			l->nat6[l->nnat6++] = l->nat[i];
		mh = be64(mk);
		ml = be64(mk + 8);
		iv[i].lo_hi = be64(l->pfx[i].a);
		iv[i].lo_lo = be64(l->pfx[i].a + 8);
		iv[i].hi_hi = iv[i].lo_hi | ~mh;
		iv[i].hi_lo = iv[i].lo_lo | ~ml;
	}
	qsort(iv, l->n, sizeof(*iv), cmp_iv6);
	for (size_t i = 0; i < l->n; i++) {
		if (m > 0) {
			struct fiv6 *last = &iv[m - 1];
			uint64_t nh = last->hi_hi, nl = last->hi_lo + 1;

			if (nl == 0)
				nh++;
			/* overlapping or adjacent: extend */
			if ((last->hi_hi == UINT64_MAX &&
			    last->hi_lo == UINT64_MAX) ||
			    u128_le(iv[i].lo_hi, iv[i].lo_lo, nh, nl)) {
				if (!u128_le(iv[i].hi_hi, iv[i].hi_lo,
				    last->hi_hi, last->hi_lo)) {
					last->hi_hi = iv[i].hi_hi;
					last->hi_lo = iv[i].hi_lo;
				}
				continue;
			}
		}
		iv[m++] = iv[i];
	}
	l->iv6 = iv;
	l->n6 = m;
	l->n4 = 0;
	if ((l->iv4 = palloc(p, (m ? m : 1) * sizeof(*l->iv4))) == NULL)
		return -1;
	for (size_t i = 0; i < m; i++) {
		uint64_t lo, hi;

		/* intersect with [0:v4lo, 0:v4hi] */
		if (!u128_le(iv[i].lo_hi, iv[i].lo_lo, 0, v4hi) ||
		    !u128_le(0, v4lo, iv[i].hi_hi, iv[i].hi_lo))
			continue;
		lo = iv[i].lo_hi == 0 && iv[i].lo_lo > v4lo ?
		    iv[i].lo_lo : v4lo;
		hi = iv[i].hi_hi == 0 && iv[i].hi_lo < v4hi ?
		    iv[i].hi_lo : v4hi;
		l->iv4[l->n4].lo = (uint32_t)lo;
		l->iv4[l->n4].hi = (uint32_t)hi;
		l->n4++;
	}
	return 0;
}

/* "[ addr addr/len, ... ]" into a prefix list. */
static const struct flist *
parse_addr_list(struct parser *p)
{
	struct token open = p->lx.tok;
	struct fprefix *v = NULL;
	struct flist *l;
	size_t n = 0, cap = 0;

	if (p->lx.tok.t != T_LBRACK) {
		fail(p, &p->lx.tok, "expected '['");
		return NULL;
	}
	lex(p);
	while (p->rc == 0 && p->lx.tok.t != T_RBRACK) {
		struct token at;
		uint8_t a[16], mk[16];
		unsigned bits, len;
		uint64_t x;
		int is4;

		if (n > 0 && p->lx.tok.t == T_COMMA)
			lex(p);
		at = p->lx.tok;
		if (n >= FILTER_MAX_LIST) {
			fail(p, &at, "list too long (limit %u entries)",
			    FILTER_MAX_LIST);
			break;
		}
		if (filter_tok_addr(&at, 0, a, &is4, &bits) != 0) {
			fail(p, &at, "expected an IP address or prefix");
			break;
		}
		lex(p);
		len = 128;
		if (p->lx.tok.t == T_SLASH) {
			lex(p);
			if (expect_number(p, "a prefix length", is4 ? 32 : 128,
			    &x) != 0)
				break;
			len = (unsigned)x + (is4 ? 96 : 0);
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct fprefix *nv = realloc(v, nc * sizeof(*v));

			if (nv == NULL) {
				fail_mem(p);
				break;
			}
			v = nv;
			cap = nc;
		}
		prefix_mask(len, mk);
		for (int i = 0; i < 16; i++)
			v[n].a[i] = a[i] & mk[i];
		v[n].len = (uint8_t)len;
		n++;
	}
	if (p->rc == 0 && n == 0)
		fail(p, &open, "empty list");
	if (p->rc != 0) {
		free(v);
		return NULL;
	}
	lex(p);			/* ']' */
	if ((l = palloc(p, sizeof(*l))) == NULL ||
	    (l->pfx = palloc(p, n * sizeof(*v))) == NULL) {
		free(v);
		return NULL;
	}
	memcpy(l->pfx, v, n * sizeof(*v));
	l->n = n;
	free(v);
	if (flist_build(p, l) != 0)
		return NULL;
	return l;
}

/* ---------------------------------------------------------------------
 * Terms
 * --------------------------------------------------------------------- */

static enum tok
parse_cmp(struct parser *p)
{
	enum tok t = p->lx.tok.t;

	if (t == T_EQ || t == T_LT || t == T_GT || t == T_LE || t == T_GE) {
		lex(p);
		return t;
	}
	return T_EQ;
}

/* ip ADDR, ip in [ LIST ] on the column pair (or one column). */
static struct fnode *
parse_ip(struct parser *p, enum dq dq, enum store_col cs, enum store_col cd)
{
	uint8_t a[16], ones[16];
	unsigned bits;
	int is4;

	if (p->lx.tok.t == T_WORD && p->lx.tok.kw == KW_IN) {
		const struct flist *l;

		lex(p);
		if ((l = parse_addr_list(p)) == NULL)
			return NULL;
		if (cs == cd)
			return leaf_list(p, cs, l);
		return by_dq(p, dq, leaf_list(p, cs, l), leaf_list(p, cd, l));
	}
	if (filter_tok_addr(&p->lx.tok, 0, a, &is4, &bits) != 0) {
		fail(p, &p->lx.tok, "expected an IP address (host names are "
		    "not looked up)");
		return NULL;
	}
	lex(p);
	if (p->lx.tok.t == T_SLASH) {
		fail(p, &p->lx.tok, "'ip' takes one address; use 'net' for a "
		    "prefix");
		return NULL;
	}
	memset(ones, 0xff, sizeof(ones));
	if (cs == cd)
		return leaf_addr(p, cs, a, ones);
	return by_dq(p, dq, leaf_addr(p, cs, a, ones),
	    leaf_addr(p, cd, a, ones));
}

/* net ADDR/LEN, net A.B.C.D M.M.M.M */
static struct fnode *
parse_net(struct parser *p, enum dq dq)
{
	struct token at = p->lx.tok;
	uint8_t a[16], mk[16];
	unsigned bits;
	uint64_t len;
	int is4;

	if (filter_tok_addr(&at, 1, a, &is4, &bits) != 0) {
		fail(p, &at, "expected a network address");
		return NULL;
	}
	lex(p);
	if (p->lx.tok.t == T_SLASH) {
		lex(p);
		if (filter_tok_number(&p->lx.tok, &len) == 0 && len > bits &&
		    len <= (is4 ? 32 : 128)) {
			fail(p, &p->lx.tok, "prefix length longer than the "
			    "address given");
			return NULL;
		}
		if (expect_number(p, "a prefix length", is4 ? 32 : 128,
		    &len) != 0)
			return NULL;
		prefix_mask((unsigned)len + (is4 ? 96 : 0), mk);
	} else {
		uint8_t m4[16];
		unsigned mbits;
		int m4is4;

		if (!is4 || bits != 32) {
			fail(p, &at, !is4 ? "a netmask needs an IPv4 network; "
			    "use ADDR/LEN for IPv6" : "expected a complete "
			    "IPv4 address before a netmask");
			return NULL;
		}
		if (filter_tok_addr(&p->lx.tok, 0, m4, &m4is4, &mbits) != 0 || !m4is4) {
			fail(p, &p->lx.tok, "expected '/' and a prefix length, "
			    "or an IPv4 netmask");
			return NULL;
		}
		lex(p);
		memset(mk, 0xff, 12);
		memcpy(mk + 12, m4 + 12, 4);
	}
	for (int i = 0; i < 16; i++)
		a[i] &= mk[i];
	return by_dq(p, dq, leaf_addr(p, STORE_COL_SRC, a, mk),
	    leaf_addr(p, STORE_COL_DST, a, mk));
}

/* port CMP N, port in [ LIST ] */
static struct fnode *
parse_port_as(struct parser *p, enum dq dq, enum store_col cs,
    enum store_col cd, const char *what, uint64_t max)
{
	uint64_t v;
	enum tok cmp;

	if (p->lx.tok.t == T_WORD && p->lx.tok.kw == KW_IN) {
		const struct fset *set;

		lex(p);
		if ((set = parse_num_list(p, what, max,
		    store_col_width(cs))) == NULL)
			return NULL;
		return by_dq(p, dq, leaf_set(p, cs, set), leaf_set(p, cd, set));
	}
	cmp = parse_cmp(p);
	if (expect_number(p, what, max, &v) != 0)
		return NULL;
	return by_dq(p, dq, leaf_cmp(p, cs, cmp, v), leaf_cmp(p, cd, cmp, v));
}

static struct fnode *
parse_proto(struct parser *p)
{
	uint64_t v;
	int r;

	if (p->lx.tok.t != T_WORD) {
		fail(p, &p->lx.tok, "expected a protocol name or number");
		return NULL;
	}
	if ((r = filter_tok_number(&p->lx.tok, &v)) != -1) {
		if (expect_number(p, "a protocol number", 255, &v) != 0)
			return NULL;
	} else if ((r = filter_proto_lookup(p->lx.tok.s, p->lx.tok.len)) >= 0) {
		v = (uint64_t)r;
		lex(p);
	} else {
		fail(p, &p->lx.tok, "unknown protocol");
		return NULL;
	}
	return leaf_cmp(p, STORE_COL_PROTO, T_EQ, v);
}

/* flags LETTERS (all given flags set) or flags CMP N; implies proto tcp */
static struct fnode *
parse_flags(struct parser *p)
{
	struct fnode *tcp, *fl;
	uint64_t v;

	if (p->lx.tok.t != T_WORD && p->lx.tok.t != T_EQ && p->lx.tok.t != T_LT &&
	    p->lx.tok.t != T_GT && p->lx.tok.t != T_LE && p->lx.tok.t != T_GE) {
		fail(p, &p->lx.tok, "expected TCP flags (letters of UAPRSF, or "
		    "X) or a number");
		return NULL;
	}
	if (p->lx.tok.t != T_WORD || filter_tok_number(&p->lx.tok, &v) != -1) {
		enum tok cmp = parse_cmp(p);

		if (expect_number(p, "a TCP flags value", 255, &v) != 0)
			return NULL;
		fl = leaf_cmp(p, STORE_COL_TCP_FLAGS, cmp, v);
	} else {
		unsigned m = 0;

		for (size_t i = 0; i < p->lx.tok.len; i++) {
			unsigned b;

			switch (toupper((unsigned char)p->lx.tok.s[i])) {
			case 'F': b = 0x01; break;
			case 'S': b = 0x02; break;
			case 'R': b = 0x04; break;
			case 'P': b = 0x08; break;
			case 'A': b = 0x10; break;
			case 'U': b = 0x20; break;
			case 'X': b = 0x3f; break;
			default:
				fail(p, &p->lx.tok, "expected TCP flags (letters "
				    "of UAPRSF, or X)");
				return NULL;
			}
			if ((m & b) == b && b != 0x3f) {
				fail(p, &p->lx.tok, "repeated TCP flag");
				return NULL;
			}
			m |= b;
		}
		lex(p);
		fl = leaf_mask(p, STORE_COL_TCP_FLAGS, m, m, FST_FLAGS_LETTERS);
	}
	tcp = leaf_cmp(p, STORE_COL_PROTO, T_EQ, 6);
	return new_op2(p, FN_AND, tcp, fl);
}

/* icmp-type N / icmp-code N: proto icmp or icmp6 and dport byte */
static struct fnode *
parse_icmp(struct parser *p, int code)
{
	struct fnode *proto, *t;
	uint64_t v;

	if (expect_number(p, code ? "an ICMP code" : "an ICMP type", 255,
	    &v) != 0)
		return NULL;
	proto = new_op2(p, FN_OR, leaf_cmp(p, STORE_COL_PROTO, T_EQ, 1),
	    leaf_cmp(p, STORE_COL_PROTO, T_EQ, 58));
	if (code)
		t = leaf_mask(p, STORE_COL_DPORT, 0x00ff, v, FST_ICMP_CODE);
	else
		t = leaf_mask(p, STORE_COL_DPORT, 0xff00, v << 8, FST_ICMP_TYPE);
	return new_op2(p, FN_AND, proto, t);
}

static struct fnode *
parse_tag(struct parser *p)
{
	uint64_t v;

	if (p->lx.tok.t == T_WORD && filter_tok_number(&p->lx.tok, &v) == -1) {
		fail(p, &p->lx.tok, "unknown reputation category");
		return NULL;
	}
	if (expect_number(p, "a reputation category", 31, &v) != 0)
		return NULL;
	return leaf_mask(p, STORE_COL_TAGS, (uint64_t)1 << v, (uint64_t)1 << v,
	    FST_TAG);
}

/*
 * The integer column whose filter field (columns.def) is the single
 * word t, or -1.
 */
static int
field_column(const struct token *t)
{
	static const struct {
		const char *name;
		int col;
	} fields[] = {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	{ filter, STORE_ISADDR_##type ? -1 : STORE_COL_##id },
#include "store/columns.def"
#undef STORE_COLUMN
	};

	for (size_t i = 0; i < FF_NELEM(fields); i++)
		if (fields[i].name != NULL && fields[i].col >= 0 &&
		    filter_word_eq(t, fields[i].name))
			return fields[i].col;
	return -1;
}

/* FIELD [CMP] N, FIELD in [ LIST ] on an integer column of the table. */
static struct fnode *
parse_field(struct parser *p, int col)
{
	uint64_t max = filter_col_max((unsigned)col), v;
	const struct fset *set;
	enum tok cmp;

	if (p->lx.tok.t == T_WORD && p->lx.tok.kw == KW_IN) {
		if (store_col_width((unsigned)col) > 4) {
			fail(p, &p->lx.tok, "no list of values for this field");
			return NULL;
		}
		lex(p);
		if ((set = parse_num_list(p, "a number", max,
		    store_col_width((unsigned)col))) == NULL)
			return NULL;
		return leaf_set(p, (enum store_col)col, set);
	}
	cmp = parse_cmp(p);
	if (expect_number(p, "a number", max, &v) != 0)
		return NULL;
	return leaf_cmp(p, (enum store_col)col, cmp, v);
}

static struct fnode *
parse_term(struct parser *p)
{
	struct token t = p->lx.tok, field;
	enum dq dq = DQ_NONE;
	uint64_t v;
	enum tok cmp;
	int col;

	p->term = t;
	if (t.t != T_WORD) {
		fail(p, &t, "expected a filter term");
		return NULL;
	}
	switch (t.kw) {
	case KW_ANY:
		lex(p);
		return new_node(p, FN_TRUE);
	case KW_INET:
	case KW_INET6:
		lex(p);
		return leaf_mask(p, STORE_COL_FLAGS, STORE_FLOW_F_V6,
		    t.kw == KW_INET6 ? STORE_FLOW_F_V6 : 0, FST_INET);
	case KW_PROTO:
		lex(p);
		return parse_proto(p);
	case KW_FLAGS:
		lex(p);
		return parse_flags(p);
	case KW_ICMP_TYPE:
	case KW_ICMP_CODE:
		lex(p);
		return parse_icmp(p, t.kw == KW_ICMP_CODE);
	case KW_TAG:
		lex(p);
		return parse_tag(p);
	case KW_NEXT:
	case KW_ROUTER:
		lex(p);
		if (p->lx.tok.t != T_WORD || p->lx.tok.kw != KW_IP) {
			fail(p, &p->lx.tok, t.kw == KW_NEXT && p->lx.tok.kw == KW_AS ?
			    "'next as' is not stored by flowfleet" :
			    "expected 'ip'");
			return NULL;
		}
		lex(p);
		if (t.kw == KW_NEXT)
			return parse_ip(p, DQ_NONE, STORE_COL_NEXTHOP, STORE_COL_NEXTHOP);
		return parse_ip(p, DQ_NONE, STORE_COL_EXPORTER, STORE_COL_EXPORTER);
	case KW_SRC:
	case KW_DST:
		lex(p);
		dq = t.kw == KW_SRC ? DQ_SRC : DQ_DST;
		if (p->lx.tok.t == T_OR || p->lx.tok.t == T_AND) {
			enum tok op = p->lx.tok.t;

			lex(p);
			if (p->lx.tok.t != T_WORD || p->lx.tok.kw != (t.kw == KW_SRC ?
			    KW_DST : KW_SRC)) {
				fail(p, &p->lx.tok, "expected '%s'",
				    t.kw == KW_SRC ? "dst" : "src");
				return NULL;
			}
			lex(p);
			dq = op == T_OR ? DQ_OR : DQ_AND;
		}
		break;
	case KW_IN:
	case KW_OUT:
		lex(p);
		dq = t.kw == KW_IN ? DQ_IN : DQ_OUT;
		break;
	case KW_UNSUPPORTED:
		fail(p, &t, "nfdump term not supported by flowfleet");
		return NULL;
	default:
		break;
	}

	field = p->lx.tok;
	if (field.t != T_WORD) {
		fail(p, &field, dq == DQ_NONE ? "expected a filter term" :
		    "expected a field after '%s'", dq_text(dq));
		return NULL;
	}
	switch (field.kw) {
	case KW_IP:
		if (dq_srcdst(p, dq, &field) != 0)
			return NULL;
		lex(p);
		return parse_ip(p, dq, STORE_COL_SRC, STORE_COL_DST);
	case KW_NET:
		if (dq_srcdst(p, dq, &field) != 0)
			return NULL;
		lex(p);
		return parse_net(p, dq);
	case KW_PORT:
		if (dq_srcdst(p, dq, &field) != 0)
			return NULL;
		lex(p);
		return parse_port_as(p, dq, STORE_COL_SPORT, STORE_COL_DPORT,
		    "a port number", UINT16_MAX);
	case KW_AS:
		if (dq_srcdst(p, dq, &field) != 0)
			return NULL;
		lex(p);
		return parse_port_as(p, dq, STORE_COL_SRC_AS, STORE_COL_DST_AS,
		    "an AS number", UINT32_MAX);
	case KW_MASK:
		if (dq_srcdst(p, dq, &field) != 0)
			return NULL;
		lex(p);
		cmp = parse_cmp(p);
		if (expect_number(p, "a mask length", 255, &v) != 0)
			return NULL;
		return by_dq(p, dq, leaf_cmp(p, STORE_COL_SRC_MASK, cmp, v),
		    leaf_cmp(p, STORE_COL_DST_MASK, cmp, v));
	case KW_TOS:
		if (dq != DQ_NONE && dq != DQ_SRC) {
			fail(p, &field, dq == DQ_IN || dq == DQ_OUT ?
			    "'%s' does not go with 'tos'" : "'%s tos' is not "
			    "stored by flowfleet (only the source ToS)",
			    dq_text(dq));
			return NULL;
		}
		lex(p);
		cmp = parse_cmp(p);
		if (expect_number(p, "a ToS value", 255, &v) != 0)
			return NULL;
		return leaf_cmp(p, STORE_COL_TOS, cmp, v);
	case KW_IF:
		if (dq != DQ_NONE && dq != DQ_IN && dq != DQ_OUT) {
			fail(p, &field, "'%s' does not go with 'if' (use 'in "
			    "if' or 'out if')", dq_text(dq));
			return NULL;
		}
		lex(p);
		cmp = parse_cmp(p);
		if (expect_number(p, "an interface number", UINT32_MAX,
		    &v) != 0)
			return NULL;
		if (dq == DQ_IN)
			return leaf_cmp(p, STORE_COL_IN_IF, cmp, v);
		if (dq == DQ_OUT)
			return leaf_cmp(p, STORE_COL_OUT_IF, cmp, v);
		return new_op2(p, FN_OR, leaf_cmp(p, STORE_COL_IN_IF, cmp, v),
		    leaf_cmp(p, STORE_COL_OUT_IF, cmp, v));
	case KW_BYTES:
	case KW_PACKETS:
		if (dq == DQ_OUT) {
			fail(p, &field, "'out %.*s' (reverse direction) is not "
			    "stored by flowfleet", (int)field.len, field.s);
			return NULL;
		}
		if (dq != DQ_NONE && dq != DQ_IN) {
			fail(p, &field, "'%s' does not go with '%.*s'",
			    dq_text(dq), (int)field.len, field.s);
			return NULL;
		}
		lex(p);
		cmp = parse_cmp(p);
		if (expect_number(p, field.kw == KW_BYTES ? "a byte count" :
		    "a packet count", UINT64_MAX, &v) != 0)
			return NULL;
		return leaf_cmp(p, field.kw == KW_BYTES ? STORE_COL_BYTES :
		    STORE_COL_PACKETS, cmp, v);
	case KW_UNSUPPORTED:
		fail(p, &field, "nfdump term not supported by flowfleet");
		return NULL;
	default:
		if (dq == DQ_NONE && field.kw == KW_NONE &&
		    (col = field_column(&field)) >= 0) {
			lex(p);
			return parse_field(p, col);
		}
		if (dq == DQ_NONE)
			fail(p, &field, "expected a filter term");
		else
			fail(p, &field, "expected a field after '%s'",
			    dq_text(dq));
		return NULL;
	}
}

/* ---------------------------------------------------------------------
 * Expressions: or_expr := and_expr { or and_expr }
 *              and_expr := unary { and unary }
 *              unary := not unary | ( or_expr ) | term
 * --------------------------------------------------------------------- */

static struct fnode *parse_or(struct parser *);

static struct fnode *
parse_unary(struct parser *p)
{
	struct token t = p->lx.tok;
	struct fnode *e;

	if (t.t == T_NOT || t.t == T_LPAREN) {
		if (p->depth >= FILTER_MAX_DEPTH) {
			fail(p, &t, "nesting too deep (limit %u)",
			    FILTER_MAX_DEPTH);
			return NULL;
		}
		p->depth++;
		lex(p);
		if (t.t == T_NOT) {
			e = parse_unary(p);
			e = e == NULL ? NULL : new_op(p, FN_NOT, &e, 1);
		} else {
			e = parse_or(p);
			if (e != NULL && p->lx.tok.t != T_RPAREN) {
				fail(p, &p->lx.tok, "expected ')'");
				e = NULL;
			}
			if (e != NULL)
				lex(p);
		}
		p->depth--;
		return e;
	}
	return parse_term(p);
}

static struct fnode *
parse_chain(struct parser *p, enum tok op)
{
	struct fnode *first, **kids = NULL, *n = NULL;
	size_t nk = 0, cap = 0;

	first = op == T_OR ? parse_chain(p, T_AND) : parse_unary(p);
	if (first == NULL || p->lx.tok.t != op)
		return first;
	for (;;) {
		struct fnode *e;

		if (nk == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct fnode **nkd = realloc(kids, nc * sizeof(*kids));

			if (nkd == NULL) {
				fail_mem(p);
				goto out;
			}
			kids = nkd;
			cap = nc;
		}
		kids[nk++] = first;
		if (p->lx.tok.t != op)
			break;
		lex(p);
		e = op == T_OR ? parse_chain(p, T_AND) : parse_unary(p);
		if (e == NULL)
			goto out;
		first = e;
	}
	n = new_op(p, op == T_OR ? FN_OR : FN_AND, kids, nk);
out:
	free(kids);
	return n;
}

static struct fnode *
parse_or(struct parser *p)
{
	return parse_chain(p, T_OR);
}

/* ---------------------------------------------------------------------
 * The entry point
 * --------------------------------------------------------------------- */

int
filter_compile(const char *text, query_filter_t **out, char *err,
    size_t errlen)
{
	struct parser p;
	size_t len;
	int rc;
	query_filter_t *f;
	struct fnode *root;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	if (text == NULL)
		text = "";
	len = strlen(text);
	p.f = f;
	p.err = err;
	p.errlen = errlen;
	if (len > FILTER_MAX_TEXT) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "filter too long (%zu bytes, "
			    "limit %u)", len, FILTER_MAX_TEXT);
		filter_free(f);
		return FF_ESYNTAX;
	}
	filter_lex_start(&p.lx, text, len);
	if (p.lx.tok.t == T_END)
		root = new_node(&p, FN_TRUE);
	else {
		root = parse_or(&p);
		if (root != NULL && p.lx.tok.t != T_END) {
			if (p.lx.tok.t == T_RPAREN)
				fail(&p, &p.lx.tok, "unbalanced ')'");
			else
				fail(&p, &p.lx.tok, "expected 'and', 'or' or "
				    "the end of the filter");
		}
	}
	if (p.rc != 0 || root == NULL) {
		if (p.rc == 0)
			fail_mem(&p);
		filter_free(f);
		return p.rc;
	}
	if ((rc = filter_normalize(f, &root)) != 0) {
		if (err != NULL && errlen > 0 && f->over)
			snprintf(err, errlen, "filter too large (compiled form "
			    "over %u MiB)", FILTER_MAX_MEM >> 20);
		else if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		filter_free(f);
		return rc;
	}
	f->root = root;
	*out = f;
	return 0;
}
