/*
 * Printing a compiled filter back as text, in normalized form (fully
 * parenthesized, NOT pushed into the terms, constants folded).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "filter.h"

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

/* The field of column col as the language prints it (columns.def). */
static const char *
col_name(unsigned col)
{
	switch (col) {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	case STORE_COL_##id: return (filter) != NULL ? (filter) : "?";
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return "?";
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
		else if (hi >= filter_col_max(n->col))
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
