/*
 * The filter language: nfdump's filter syntax (nfdump 1.7, see nfdump(1)
 * section FILTER and docs/FILTER.md), parsed by recursive descent into a
 * tree that is then normalized for column-wise evaluation (filter_eval.c).
 *
 * Precedence as in nfdump: 'not' binds tighter than 'and', which binds
 * tighter than 'or'; parentheses group. Keywords are case-insensitive.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "filter.h"

/* ---------------------------------------------------------------------
 * Arena: every piece of a compiled filter lives in its chunks, so that
 * filter_free releases it at once and FILTER_MAX_MEM bounds it.
 * --------------------------------------------------------------------- */

struct farena_chunk {
	struct farena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK	4096

static void *
arena_alloc(query_filter_t *f, size_t n)
{
	struct farena_chunk *c = f->chunks;
	size_t sz;

	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (c != NULL && c->size - c->used >= n) {
		void *p = c->data + c->used;

		c->used += n;
		return p;
	}
	sz = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	if (n > FILTER_MAX_MEM ||
	    f->mem + sz + sizeof(*c) > FILTER_MAX_MEM) {
		f->over = 1;
		return NULL;
	}
	if ((c = malloc(sizeof(*c) + sz)) == NULL)
		return NULL;
	f->mem += sizeof(*c) + sz;
	c->size = sz;
	c->used = n;
	/* Keep a big one-off allocation from hiding the current chunk. */
	if (n > ARENA_CHUNK && f->chunks != NULL) {
		c->next = f->chunks->next;
		f->chunks->next = c;
	} else {
		c->next = f->chunks;
		f->chunks = c;
	}
	return c->data;
}

/* ---------------------------------------------------------------------
 * Tokens
 * --------------------------------------------------------------------- */

enum tok {
	T_END = 0,
	T_WORD,			/* [A-Za-z0-9_:.-]+ */
	T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_SLASH,
	T_AND, T_OR, T_NOT,	/* and &&, or ||, not ! */
	T_EQ, T_LT, T_GT, T_LE, T_GE,	/* = == eq, < lt, > gt, <= le, >= ge */
	T_BAD			/* any other character */
};

enum kw {
	KW_NONE = 0,
	KW_ANY, KW_IP, KW_NET, KW_PORT, KW_PROTO, KW_SRC, KW_DST, KW_IN,
	KW_OUT, KW_AS, KW_IF, KW_TOS, KW_MASK, KW_BYTES, KW_PACKETS,
	KW_FLAGS, KW_NEXT, KW_ROUTER, KW_INET, KW_INET6, KW_ICMP_TYPE,
	KW_ICMP_CODE, KW_TAG,
	KW_UNSUPPORTED		/* an nfdump keyword we do not implement */
};

static const struct {
	const char *name;
	enum kw kw;
} keywords[] = {
	{ "any", KW_ANY },
	{ "ip", KW_IP },
	{ "host", KW_IP },
	{ "net", KW_NET },
	{ "port", KW_PORT },
	{ "proto", KW_PROTO },
	{ "src", KW_SRC },
	{ "dst", KW_DST },
	{ "in", KW_IN },
	{ "out", KW_OUT },
	{ "as", KW_AS },
	{ "if", KW_IF },
	{ "tos", KW_TOS },
	{ "mask", KW_MASK },
	{ "bytes", KW_BYTES },
	{ "packets", KW_PACKETS },
	{ "flags", KW_FLAGS },
	{ "next", KW_NEXT },
	{ "router", KW_ROUTER },
	{ "inet", KW_INET },
	{ "ipv4", KW_INET },
	{ "inet6", KW_INET6 },
	{ "ipv6", KW_INET6 },
	{ "icmp-type", KW_ICMP_TYPE },
	{ "icmp-code", KW_ICMP_CODE },
	{ "tag", KW_TAG },
	/* nfdump 1.7 terms for fields the flow store does not keep */
	{ "tunip", KW_UNSUPPORTED }, { "tun", KW_UNSUPPORTED },
	{ "mac", KW_UNSUPPORTED }, { "mpls", KW_UNSUPPORTED },
	{ "ident", KW_UNSUPPORTED }, { "nfversion", KW_UNSUPPORTED },
	{ "count", KW_UNSUPPORTED }, { "dir", KW_UNSUPPORTED },
	{ "flowdir", KW_UNSUPPORTED }, { "geo", KW_UNSUPPORTED },
	{ "flowlabel", KW_UNSUPPORTED }, { "flows", KW_UNSUPPORTED },
	{ "bpp", KW_UNSUPPORTED }, { "bps", KW_UNSUPPORTED },
	{ "pps", KW_UNSUPPORTED }, { "duration", KW_UNSUPPORTED },
	{ "engine-type", KW_UNSUPPORTED }, { "engine-id", KW_UNSUPPORTED },
	{ "prev", KW_UNSUPPORTED }, { "previous", KW_UNSUPPORTED },
	{ "ingress", KW_UNSUPPORTED }, { "egress", KW_UNSUPPORTED },
	{ "bgpnext", KW_UNSUPPORTED }, { "vlan", KW_UNSUPPORTED },
	{ "fwdstat", KW_UNSUPPORTED }, { "client", KW_UNSUPPORTED },
	{ "server", KW_UNSUPPORTED }, { "app", KW_UNSUPPORTED },
	{ "latency", KW_UNSUPPORTED }, { "sysid", KW_UNSUPPORTED },
	{ "observation", KW_UNSUPPORTED }, { "asa", KW_UNSUPPORTED },
	{ "event", KW_UNSUPPORTED }, { "xevent", KW_UNSUPPORTED },
	{ "xip", KW_UNSUPPORTED }, { "xnet", KW_UNSUPPORTED },
	{ "xport", KW_UNSUPPORTED }, { "nip", KW_UNSUPPORTED },
	{ "nport", KW_UNSUPPORTED }, { "nat", KW_UNSUPPORTED },
	{ "vrf", KW_UNSUPPORTED }, { "pblock", KW_UNSUPPORTED },
	{ "payload", KW_UNSUPPORTED },
};

struct token {
	enum tok t;
	enum kw kw;		/* T_WORD only */
	const char *s;		/* text in the input */
	size_t len;
	unsigned line;		/* 1-based */
	size_t col;		/* 1-based byte column within the line */
};

struct parser {
	const char *text;
	size_t len, pos;
	unsigned line;
	size_t line_start;
	struct token tok;	/* current token */
	struct token term;	/* first token of the current term */
	query_filter_t *f;
	unsigned depth;
	unsigned nodes;
	char *err;
	size_t errlen;
	int rc;			/* first error */
};

static int
word_char(int c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
}

static int
word_eq(const struct token *t, const char *s)
{
	size_t n = strlen(s);

	return t->len == n && strncasecmp(t->s, s, n) == 0;
}

static void
lex(struct parser *p)
{
	struct token *t = &p->tok;
	const char *s = p->text;
	size_t n = p->len, i = p->pos;

	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n' || s[i] == '\f' || s[i] == '\v')) {
			if (s[i] == '\n') {
				p->line++;
				p->line_start = i + 1;
			}
			i++;
		}
		if (i < n && s[i] == '#') {
			while (i < n && s[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	t->s = s + i;
	t->line = p->line;
	t->col = i - p->line_start + 1;
	t->kw = KW_NONE;
	t->len = 1;
	if (i >= n) {
		t->t = T_END;
		t->len = 0;
		p->pos = i;
		return;
	}
	switch (s[i]) {
	case '(': t->t = T_LPAREN; break;
	case ')': t->t = T_RPAREN; break;
	case '[': t->t = T_LBRACK; break;
	case ']': t->t = T_RBRACK; break;
	case ',': t->t = T_COMMA; break;
	case '/': t->t = T_SLASH; break;
	case '!': t->t = T_NOT; break;
	case '&':
	case '|':
		if (i + 1 < n && s[i + 1] == s[i]) {
			t->t = s[i] == '&' ? T_AND : T_OR;
			t->len = 2;
		} else
			t->t = T_BAD;
		break;
	case '=':
		t->t = T_EQ;
		if (i + 1 < n && s[i + 1] == '=')
			t->len = 2;
		break;
	case '<':
	case '>':
		t->t = s[i] == '<' ? T_LT : T_GT;
		if (i + 1 < n && s[i + 1] == '=') {
			t->t = s[i] == '<' ? T_LE : T_GE;
			t->len = 2;
		}
		break;
	default:
		if (!word_char((unsigned char)s[i])) {
			t->t = T_BAD;
			break;
		}
		while (i + t->len < n &&
		    word_char((unsigned char)s[i + t->len]))
			t->len++;
		t->t = T_WORD;
		if (word_eq(t, "and"))
			t->t = T_AND;
		else if (word_eq(t, "or"))
			t->t = T_OR;
		else if (word_eq(t, "not"))
			t->t = T_NOT;
		else if (word_eq(t, "eq"))
			t->t = T_EQ;
		else if (word_eq(t, "lt"))
			t->t = T_LT;
		else if (word_eq(t, "gt"))
			t->t = T_GT;
		else if (word_eq(t, "le"))
			t->t = T_LE;
		else if (word_eq(t, "ge"))
			t->t = T_GE;
		else {
			for (size_t k = 0; k < FF_NELEM(keywords); k++)
				if (word_eq(t, keywords[k].name)) {
					t->kw = keywords[k].kw;
					break;
				}
		}
		break;
	}
	p->pos = i + t->len;
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
	if (memchr(p->text, '\n', p->len) != NULL)
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
		fail(p, &p->tok, "filter too large (compiled form over %u "
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
	if ((v = arena_alloc(p->f, n)) == NULL)
		fail_mem(p);
	return v;
}

/* ---------------------------------------------------------------------
 * Numbers and addresses
 * --------------------------------------------------------------------- */

/*
 * Parse a number token as nfdump does: decimal, 0x hex, or decimal with
 * one k/m/g/t suffix (powers of 1000). Returns 0, -1 (not a number) or
 * -2 (does not fit in 64 bits).
 */
static int
tok_number(const struct token *t, uint64_t *out)
{
	const char *s = t->s;
	size_t n = t->len, i = 0;
	uint64_t v = 0, scale = 1;

	if (t->t != T_WORD || n == 0)
		return -1;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++) {
			int c = (unsigned char)s[i], d;

			if (!isxdigit(c))
				return -1;
			d = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
			if (v > (UINT64_MAX >> 4))
				return -2;
			v = v << 4 | (uint64_t)d;
		}
		*out = v;
		return 0;
	}
	switch (s[n - 1]) {
	case 'k': case 'K': scale = 1000ULL; n--; break;
	case 'm': case 'M': scale = 1000000ULL; n--; break;
	case 'g': case 'G': scale = 1000000000ULL; n--; break;
	case 't': case 'T': scale = 1000000000000ULL; n--; break;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
	}
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	if (v > UINT64_MAX / scale)
		return -2;
	*out = v * scale;
	return 0;
}

/*
 * Expect a number in 0..max; what names it in the messages ("a port
 * number"). Consumes the token on success.
 */
static int
expect_number(struct parser *p, const char *what, uint64_t max,
    uint64_t *out)
{
	int r = tok_number(&p->tok, out);

	if (r == -1) {
		fail(p, &p->tok, "expected %s", what);
		return -1;
	}
	if (r == -2 || *out > max) {
		/* "a port number" -> "port number out of range ..." */
		if (strncmp(what, "a ", 2) == 0)
			what += 2;
		else if (strncmp(what, "an ", 3) == 0)
			what += 3;
		fail(p, &p->tok, "%s out of range 0..%llu", what,
		    (unsigned long long)max);
		return -1;
	}
	lex(p);
	return 0;
}

/*
 * Dotted IPv4 with 1 to 4 parts of decimal octets (leading zeros are
 * decimal, as in nfdump). Returns the number of parts, 0 if invalid.
 */
static int
parse_v4(const char *s, size_t n, uint8_t out[4])
{
	int parts = 0;
	size_t i = 0;

	memset(out, 0, 4);
	while (parts < 4) {
		unsigned v = 0;
		size_t digits = 0;

		while (i < n && isdigit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return 0;
		out[parts++] = (uint8_t)v;
		if (i == n)
			return parts;
		if (s[i] != '.')
			return 0;
		i++;
	}
	return 0;
}

/*
 * Parse an address word into 16-byte form. With partial, an IPv4 network
 * may leave out trailing octets ("172.16"). *is4 tells whether the text
 * was IPv4; *bits is how many bits of its own family the text fixes (8
 * per IPv4 octet given, 128 for IPv6). Returns 0 or -1.
 */
static int
tok_addr(const struct token *t, int partial, uint8_t a[16], int *is4,
    unsigned *bits)
{
	char buf[64];
	uint8_t v4[4];
	int parts;

	if (t->t != T_WORD || t->len == 0 || t->len >= sizeof(buf))
		return -1;
	if (memchr(t->s, ':', t->len) != NULL) {
		memcpy(buf, t->s, t->len);
		buf[t->len] = '\0';
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		*is4 = 0;
		*bits = 128;
		return 0;
	}
	parts = parse_v4(t->s, t->len, v4);
	if (parts == 0 || (parts < 4 && (!partial || parts < 2)))
		return -1;
	addr_from_v4(a, v4);
	*is4 = 1;
	*bits = 8 * (unsigned)parts;
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

static uint64_t
col_max(enum store_col col)
{
	switch (filter_col_width(col)) {
	case 1: return UINT8_MAX;
	case 2: return UINT16_MAX;
	case 4: return UINT32_MAX;
	default: return UINT64_MAX;
	}
}

/* A comparison of col with v as a RANGE leaf (constant when trivial). */
static struct fnode *
leaf_cmp(struct parser *p, enum store_col col, enum tok cmp, uint64_t v)
{
	uint64_t max = col_max(col), lo = v, hi = v;
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
	struct token open = p->tok;
	struct fset *set;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	if (p->tok.t != T_LBRACK) {
		fail(p, &p->tok, "expected '['");
		return NULL;
	}
	lex(p);
	while (p->rc == 0 && p->tok.t != T_RBRACK) {
		uint64_t x;

		if (n > 0 && p->tok.t == T_COMMA)
			lex(p);
		if (n >= FILTER_MAX_LIST) {
			fail(p, &p->tok, "list too long (limit %u entries)",
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
	struct token open = p->tok;
	struct fprefix *v = NULL;
	struct flist *l;
	size_t n = 0, cap = 0;

	if (p->tok.t != T_LBRACK) {
		fail(p, &p->tok, "expected '['");
		return NULL;
	}
	lex(p);
	while (p->rc == 0 && p->tok.t != T_RBRACK) {
		struct token at;
		uint8_t a[16], mk[16];
		unsigned bits, len;
		uint64_t x;
		int is4;

		if (n > 0 && p->tok.t == T_COMMA)
			lex(p);
		at = p->tok;
		if (n >= FILTER_MAX_LIST) {
			fail(p, &at, "list too long (limit %u entries)",
			    FILTER_MAX_LIST);
			break;
		}
		if (tok_addr(&at, 0, a, &is4, &bits) != 0) {
			fail(p, &at, "expected an IP address or prefix");
			break;
		}
		lex(p);
		len = 128;
		if (p->tok.t == T_SLASH) {
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
	enum tok t = p->tok.t;

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

	if (p->tok.t == T_WORD && p->tok.kw == KW_IN) {
		const struct flist *l;

		lex(p);
		if ((l = parse_addr_list(p)) == NULL)
			return NULL;
		if (cs == cd)
			return leaf_list(p, cs, l);
		return by_dq(p, dq, leaf_list(p, cs, l), leaf_list(p, cd, l));
	}
	if (tok_addr(&p->tok, 0, a, &is4, &bits) != 0) {
		fail(p, &p->tok, "expected an IP address (host names are "
		    "not looked up)");
		return NULL;
	}
	lex(p);
	if (p->tok.t == T_SLASH) {
		fail(p, &p->tok, "'ip' takes one address; use 'net' for a "
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
	struct token at = p->tok;
	uint8_t a[16], mk[16];
	unsigned bits;
	uint64_t len;
	int is4;

	if (tok_addr(&at, 1, a, &is4, &bits) != 0) {
		fail(p, &at, "expected a network address");
		return NULL;
	}
	lex(p);
	if (p->tok.t == T_SLASH) {
		lex(p);
		if (tok_number(&p->tok, &len) == 0 && len > bits &&
		    len <= (is4 ? 32 : 128)) {
			fail(p, &p->tok, "prefix length longer than the "
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
		if (tok_addr(&p->tok, 0, m4, &m4is4, &mbits) != 0 || !m4is4) {
			fail(p, &p->tok, "expected '/' and a prefix length, "
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

	if (p->tok.t == T_WORD && p->tok.kw == KW_IN) {
		const struct fset *set;

		lex(p);
		if ((set = parse_num_list(p, what, max,
		    filter_col_width(cs))) == NULL)
			return NULL;
		return by_dq(p, dq, leaf_set(p, cs, set), leaf_set(p, cd, set));
	}
	cmp = parse_cmp(p);
	if (expect_number(p, what, max, &v) != 0)
		return NULL;
	return by_dq(p, dq, leaf_cmp(p, cs, cmp, v), leaf_cmp(p, cd, cmp, v));
}

/*
 * IP protocol names as nfdump 1.7 knows them (its protoList): a name
 * stands for its index; matching is case-insensitive and the first
 * entry wins where names repeat.
 */
static const char *const proto_names[] = {
	"0", "ICMP", "IGMP", "GGP", "IPIP", "ST", "TCP", "CBT", "EGP", "IGP",
	"BBN", "NVPII", "PUP", "ARGUS", "ENCOM", "XNET", "CHAOS", "UDP", "MUX",
	"DCN", "HMP", "PRM", "XNS", "Trnk1", "Trnk2", "Leaf1", "Leaf2", "RDP",
	"IRTP", "ISO-4", "NETBK", "MFESP", "MEINP", "DCCP", "3PC", "IDPR",
	"XTP", "DDP", "IDPR", "TP++", "IL", "IPv6", "SDRP", "Rte6", "Frag6",
	"IDRP", "RSVP", "GRE", "MHRP", "BNA", "ESP", "AH", "INLSP", "SWIPE",
	"NARP", "MOBIL", "TLSP", "SKIP", "ICMP6", "NOHE6", "OPTS6", "HOST",
	"CFTP", "NET", "SATNT", "KLAN", "RVD", "IPPC", "FS", "SATM", "VISA",
	"IPCV", "CPNX", "CPHB", "WSN", "PVP", "BSATM", "SUNND", "WBMON",
	"WBEXP", "ISOIP", "VMTP", "SVMTP", "VINES", "TTP", "NSIGP", "DGP",
	"TCF", "EIGRP", "OSPF", "S-RPC", "LARP", "MTP", "AX.25", "IPIP",
	"MICP", "SCCSP", "ETHIP", "ENCAP", "99", "GMTP", "IFMP", "PNNI", "PIM",
	"ARIS", "SCPS", "QNX", "A/N", "IPcmp", "SNP", "CpqPP", "IPXIP", "VRRP",
	"PGM", "0hop", "L2TP", "DDX", "IATP", "STP", "SRP", "UTI", "SMP", "SM",
	"PTP", "ISIS4", "FIRE", "CRTP", "CRUDP", "128", "IPLT", "SPS", "PIPE",
	"SCTP", "FC", "134", "MHEAD", "UDP-L", "MPLS",
};

static int
proto_lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < FF_NELEM(proto_names); i++)
		if (strlen(proto_names[i]) == n &&
		    strncasecmp(proto_names[i], s, n) == 0)
			return (int)i;
	return -1;
}

const char *
filter_proto_name(unsigned p)
{
	const char *s;
	size_t n;

	if (p >= FF_NELEM(proto_names))
		return NULL;
	s = proto_names[p];
	n = strlen(s);
	if (isdigit((unsigned char)s[0]) || proto_lookup(s, n) != (int)p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!word_char((unsigned char)s[i]))
			return NULL;
	return s;
}

static struct fnode *
parse_proto(struct parser *p)
{
	uint64_t v;
	int r;

	if (p->tok.t != T_WORD) {
		fail(p, &p->tok, "expected a protocol name or number");
		return NULL;
	}
	if ((r = tok_number(&p->tok, &v)) != -1) {
		if (expect_number(p, "a protocol number", 255, &v) != 0)
			return NULL;
	} else if ((r = proto_lookup(p->tok.s, p->tok.len)) >= 0) {
		v = (uint64_t)r;
		lex(p);
	} else {
		fail(p, &p->tok, "unknown protocol");
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

	if (p->tok.t != T_WORD && p->tok.t != T_EQ && p->tok.t != T_LT &&
	    p->tok.t != T_GT && p->tok.t != T_LE && p->tok.t != T_GE) {
		fail(p, &p->tok, "expected TCP flags (letters of UAPRSF, or "
		    "X) or a number");
		return NULL;
	}
	if (p->tok.t != T_WORD || tok_number(&p->tok, &v) != -1) {
		enum tok cmp = parse_cmp(p);

		if (expect_number(p, "a TCP flags value", 255, &v) != 0)
			return NULL;
		fl = leaf_cmp(p, STORE_COL_TCP_FLAGS, cmp, v);
	} else {
		unsigned m = 0;

		for (size_t i = 0; i < p->tok.len; i++) {
			unsigned b;

			switch (toupper((unsigned char)p->tok.s[i])) {
			case 'F': b = 0x01; break;
			case 'S': b = 0x02; break;
			case 'R': b = 0x04; break;
			case 'P': b = 0x08; break;
			case 'A': b = 0x10; break;
			case 'U': b = 0x20; break;
			case 'X': b = 0x3f; break;
			default:
				fail(p, &p->tok, "expected TCP flags (letters "
				    "of UAPRSF, or X)");
				return NULL;
			}
			if ((m & b) == b && b != 0x3f) {
				fail(p, &p->tok, "repeated TCP flag");
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

	if (p->tok.t == T_WORD && tok_number(&p->tok, &v) == -1) {
		fail(p, &p->tok, "unknown reputation category");
		return NULL;
	}
	if (expect_number(p, "a reputation category", 31, &v) != 0)
		return NULL;
	return leaf_mask(p, STORE_COL_TAGS, (uint64_t)1 << v, (uint64_t)1 << v,
	    FST_TAG);
}

static struct fnode *
parse_term(struct parser *p)
{
	struct token t = p->tok, field;
	enum dq dq = DQ_NONE;
	uint64_t v;
	enum tok cmp;

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
		if (p->tok.t != T_WORD || p->tok.kw != KW_IP) {
			fail(p, &p->tok, t.kw == KW_NEXT && p->tok.kw == KW_AS ?
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
		if (p->tok.t == T_OR || p->tok.t == T_AND) {
			enum tok op = p->tok.t;

			lex(p);
			if (p->tok.t != T_WORD || p->tok.kw != (t.kw == KW_SRC ?
			    KW_DST : KW_SRC)) {
				fail(p, &p->tok, "expected '%s'",
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

	field = p->tok;
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
	struct token t = p->tok;
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
			if (e != NULL && p->tok.t != T_RPAREN) {
				fail(p, &p->tok, "expected ')'");
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
	if (first == NULL || p->tok.t != op)
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
		if (p->tok.t != op)
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
 * Normalization: push NOT into the leaves, fold constants, merge nested
 * AND/AND and OR/OR, drop repeated children, order children by cost.
 * --------------------------------------------------------------------- */

unsigned
filter_col_width(unsigned col)
{
	switch (col) {
	case STORE_COL_FIRST: case STORE_COL_LAST: case STORE_COL_BYTES: case STORE_COL_PACKETS:
		return 8;
	case STORE_COL_SRC: case STORE_COL_DST: case STORE_COL_NEXTHOP: case STORE_COL_EXPORTER:
		return 16;
	case STORE_COL_IN_IF: case STORE_COL_OUT_IF: case STORE_COL_SRC_AS: case STORE_COL_DST_AS:
	case STORE_COL_SAMPLING: case STORE_COL_TAGS:
		return 4;
	case STORE_COL_SPORT: case STORE_COL_DPORT:
		return 2;
	default:
		return 1;
	}
}

static uint32_t
leaf_cost(const struct fnode *n)
{
	unsigned w = filter_col_width(n->col);

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
		else if (n->u.range.lo == 0 && n->u.range.hi >= col_max(n->col))
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
		struct fnode **kids = arena_alloc(c->f, nv * sizeof(*kids));

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

/* ---------------------------------------------------------------------
 * Public entry points
 * --------------------------------------------------------------------- */

int
filter_compile(const char *text, query_filter_t **out, char *err,
    size_t errlen)
{
	struct parser p;
	struct normctx nc;
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
	p.text = text != NULL ? text : "";
	p.len = strlen(p.text);
	p.line = 1;
	p.f = f;
	p.err = err;
	p.errlen = errlen;
	if (p.len > FILTER_MAX_TEXT) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "filter too long (%zu bytes, "
			    "limit %u)", p.len, FILTER_MAX_TEXT);
		filter_free(f);
		return FF_ESYNTAX;
	}
	lex(&p);
	if (p.tok.t == T_END)
		root = new_node(&p, FN_TRUE);
	else {
		root = parse_or(&p);
		if (root != NULL && p.tok.t != T_END) {
			if (p.tok.t == T_RPAREN)
				fail(&p, &p.tok, "unbalanced ')'");
			else
				fail(&p, &p.tok, "expected 'and', 'or' or "
				    "the end of the filter");
		}
	}
	if (p.rc != 0 || root == NULL) {
		if (p.rc == 0)
			fail_mem(&p);
		filter_free(f);
		return p.rc;
	}
	nc.f = f;
	nc.rc = 0;
	root = norm(&nc, root, 0);
	if (nc.rc != 0) {
		if (f->over)
			nc.rc = FF_ESYNTAX;
		if (err != NULL && errlen > 0 && f->over)
			snprintf(err, errlen, "filter too large (compiled form "
			    "over %u MiB)", FILTER_MAX_MEM >> 20);
		else if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		filter_free(f);
		return nc.rc;
	}
	f->root = root;
	f->cols = cols_of(root);
	f->scratch = scratch_need(root);
	*out = f;
	return 0;
}

void
filter_free(query_filter_t *f)
{
	struct farena_chunk *c, *next;

	if (f == NULL)
		return;
	for (c = f->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(f);
}

uint32_t
filter_columns(const query_filter_t *f)
{
	return f->cols;
}

int
filter_is_any(const query_filter_t *f)
{
	return f->root->kind == FN_TRUE;
}

size_t
filter_scratch_words(const query_filter_t *f)
{
	return f->scratch;
}

/* ---------------------------------------------------------------------
 * Normalized printing
 * --------------------------------------------------------------------- */

struct pbuf {
	char *buf;
	size_t len, need;
};

static void
pr(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->need < b->len ? b->buf + b->need : NULL,
	    b->need < b->len ? b->len - b->need : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->need += (size_t)n;
}

/* An address with its prefix length, IPv4 where it is IPv4-mapped. */
static void
pr_prefix(struct pbuf *b, const uint8_t a[16], unsigned len)
{
	char s[INET6_ADDRSTRLEN];

	if (len >= 96 && addr_is_v4(a)) {
		inet_ntop(AF_INET, a + 12, s, sizeof(s));
		if (len == 128)
			pr(b, "%s", s);
		else
			pr(b, "%s/%u", s, len - 96);
		return;
	}
	inet_ntop(AF_INET6, a, s, sizeof(s));
	if (len == 128)
		pr(b, "%s", s);
	else
		pr(b, "%s/%u", s, len);
}

/* Length of the prefix mask m, or -1 when m is not a prefix mask. */
static int
mask_len(const uint8_t m[16])
{
	int len = 0, i = 0;

	while (i < 16 && m[i] == 0xff) {
		len += 8;
		i++;
	}
	if (i < 16) {
		unsigned x = m[i];

		while (x & 0x80) {
			len++;
			x = (x << 1) & 0xff;
		}
		if (x != 0)
			return -1;
		for (i++; i < 16; i++)
			if (m[i] != 0)
				return -1;
	}
	return len;
}

static const char *
col_name(unsigned col)
{
	switch (col) {
	case STORE_COL_BYTES: return "bytes";
	case STORE_COL_PACKETS: return "packets";
	case STORE_COL_SRC: return "src";
	case STORE_COL_DST: return "dst";
	case STORE_COL_NEXTHOP: return "next";
	case STORE_COL_EXPORTER: return "router";
	case STORE_COL_IN_IF: return "in if";
	case STORE_COL_OUT_IF: return "out if";
	case STORE_COL_SRC_AS: return "src as";
	case STORE_COL_DST_AS: return "dst as";
	case STORE_COL_TAGS: return "tag";
	case STORE_COL_SPORT: return "src port";
	case STORE_COL_DPORT: return "dst port";
	case STORE_COL_PROTO: return "proto";
	case STORE_COL_TCP_FLAGS: return "flags";
	case STORE_COL_TOS: return "tos";
	case STORE_COL_SRC_MASK: return "src mask";
	case STORE_COL_DST_MASK: return "dst mask";
	default: return "?";
	}
}

static void
pr_list(struct pbuf *b, const struct flist *l)
{
	pr(b, "[");
	for (size_t i = 0; i < l->n; i++) {
		pr(b, " ");
		pr_prefix(b, l->pfx[i].a, l->pfx[i].len);
	}
	pr(b, " ]");
}

static void
pr_leaf(struct pbuf *b, const struct fnode *n)
{
	const char *name = col_name(n->col);
	unsigned long long lo, hi;

	if (n->neg)
		pr(b, "not ");
	switch (n->op) {
	case FOP_RANGE:
		lo = n->u.range.lo;
		hi = n->u.range.hi;
		if (n->col == STORE_COL_PROTO && lo == hi &&
		    filter_proto_name((unsigned)lo) != NULL) {
			const char *pn = filter_proto_name((unsigned)lo);

			pr(b, "proto ");
			for (size_t i = 0; pn[i] != '\0'; i++)
				pr(b, "%c", tolower((unsigned char)pn[i]));
		} else if (lo == hi)
			pr(b, "%s %llu", name, lo);
		else if (lo == 0)
			pr(b, "%s <= %llu", name, hi);
		else if (hi >= col_max(n->col))
			pr(b, "%s >= %llu", name, lo);
		else
			pr(b, "(%s >= %llu and %s <= %llu)", name, lo, name,
			    hi);
		break;
	case FOP_MASK:
		switch (n->style) {
		case FST_FLAGS_LETTERS: {
			static const char letters[] = "UAPRSF";

			pr(b, n->u.mask.v == 0 ? "not flags " : "flags ");
			for (int i = 0; i < 6; i++)
				if (n->u.mask.m & (0x20u >> i))
					pr(b, "%c", letters[i]);
			break;
		}
		case FST_ICMP_TYPE:
			pr(b, "icmp-type %llu",
			    (unsigned long long)(n->u.mask.v >> 8));
			break;
		case FST_ICMP_CODE:
			pr(b, "icmp-code %llu",
			    (unsigned long long)n->u.mask.v);
			break;
		case FST_INET:
			pr(b, n->u.mask.v ? "inet6" : "inet");
			break;
		default: {
			unsigned bit = 0;

			while (bit < 31 && !(n->u.mask.m & (1ULL << bit)))
				bit++;
			pr(b, "tag %u", bit);
			break;
		}
		}
		break;
	case FOP_SET:
		pr(b, "%s in [", name);
		for (size_t i = 0; i < n->u.set->n; i++)
			pr(b, " %u", n->u.set->vals[i]);
		pr(b, " ]");
		break;
	case FOP_ADDR: {
		int len = mask_len(n->u.addr.mask);

		if (len == 128)
			pr(b, "%s ip ", name);
		else if (n->col != STORE_COL_SRC && n->col != STORE_COL_DST) {
			/* not produced by the parser; print as a list */
			struct fprefix pf;
			struct flist l = { 1, &pf, NULL, 0, NULL, 0, NULL, 0,
			    NULL };

			memcpy(pf.a, n->u.addr.val, 16);
			pf.len = (uint8_t)len;
			pr(b, "%s ip in ", name);
			pr_list(b, &l);
			break;
		} else
			pr(b, "%s net ", name);
		if (len >= 0)
			pr_prefix(b, n->u.addr.val, (unsigned)len);
		else {
			char s[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, n->u.addr.val + 12, s, sizeof(s));
			inet_ntop(AF_INET, n->u.addr.mask + 12, m, sizeof(m));
			pr(b, "%s %s", s, m);
		}
		break;
	}
	default:
		pr(b, "%s ip in ", name);
		pr_list(b, n->u.list);
		break;
	}
}

static void
pr_node(struct pbuf *b, const struct fnode *n)
{
	switch (n->kind) {
	case FN_TRUE:
		pr(b, "any");
		break;
	case FN_FALSE:
		pr(b, "not any");
		break;
	case FN_LEAF:
		pr_leaf(b, n);
		break;
	default:
		pr(b, "(");
		for (size_t i = 0; i < n->nkids; i++) {
			if (i > 0)
				pr(b, n->kind == FN_AND ? " and " : " or ");
			pr_node(b, n->kids[i]);
		}
		pr(b, ")");
		break;
	}
}

size_t
filter_print(const query_filter_t *f, char *buf, size_t len)
{
	struct pbuf b = { buf, len, 0 };

	if (len > 0)
		buf[0] = '\0';
	pr_node(&b, f->root);
	return b.need;
}
