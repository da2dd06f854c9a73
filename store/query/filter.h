/*
 * Internal to the query engine and the filter's tests: the filter API and
 * the compiled form of a filter.
 *
 * A filter compiles to a tree of AND/OR nodes over leaves; NOT is pushed
 * down into the leaves (De Morgan), nested AND/AND and OR/OR are merged,
 * and constant parts are folded away, so after compilation:
 *   - the root is FN_TRUE, FN_FALSE, a leaf, or an AND/OR node;
 *   - FN_TRUE/FN_FALSE occur only as the root;
 *   - the children of an AND are leaves or ORs, those of an OR leaves or
 *     ANDs, and every AND/OR has at least two children.
 * A leaf tests one column of a row and may be negated.
 *
 * Every address is handled in its 16-byte form (IPv4 as ::ffff:a.b.c.d);
 * each address leaf also carries the equivalent test on the host-order
 * IPv4 form of a column (store_colbatch_t's a4 arrays), derived at compile time.
 */
#ifndef FF_FILTER_INT_H
#define FF_FILTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * Compiled filters (language reference in docs/FILTER.md): lexed by filter_lex.c,
 * parsed by filter_parse.c, normalized by filter_norm.c, evaluated by
 * filter_eval.c, printed back by filter_print.c; filter.c holds the
 * compiled form's memory. A filter is parsed once and evaluated per batch into
 * a selection bitmap, without per-row allocation. A compiled filter is
 * read-only: any number of threads may evaluate it at once.
 */
typedef struct query_filter query_filter_t;

/*
 * Parse nfdump filter text. Returns 0 and *out, or FF_ESYNTAX with
 * "column N: what is wrong near 'token'" in err, or FF_ENOMEM. An empty
 * or NULL text compiles to "any".
 */
int filter_compile(const char *text, query_filter_t **out, char *err,
    size_t errlen);
void filter_free(query_filter_t *f);

/* The columns the filter reads (STORE_COLBIT mask). */
uint32_t filter_columns(const query_filter_t *f);

/* 1 if the filter matches every row ("any"). */
int filter_is_any(const query_filter_t *f);

/*
 * Evaluate f over cb->n rows, writing bit i of sel (sel holds
 * (cb->n + 63) / 64 words) for row i. scratch holds as many words as sel
 * times filter_scratch_words(f). Returns the number of matching rows.
 * cb must hold every column in filter_columns(f); bits past cb->n are 0.
 */
size_t filter_eval(const query_filter_t *f, const store_colbatch_t *cb,
    uint64_t *sel, uint64_t *scratch);
size_t filter_scratch_words(const query_filter_t *f);

/* Evaluate f on one flow record (for tests and small inputs). */
int filter_match(const query_filter_t *f, const store_flow_t *flow);

/* Limits that keep a hostile filter text from exhausting memory or stack. */
#define FILTER_MAX_TEXT		65536	/* bytes of filter text */
#define FILTER_MAX_DEPTH	64	/* nested parentheses and 'not's */
#define FILTER_MAX_NODES	4096	/* terms and operators */
#define FILTER_MAX_LIST		8192	/* entries in one [ list ] */
#define FILTER_MAX_MEM		(8u << 20)	/* bytes of compiled form */

enum fn_kind {
	FN_FALSE = 0,
	FN_TRUE,
	FN_LEAF,
	FN_AND,
	FN_OR,
	FN_NOT			/* only before normalization */
};

enum fn_op {
	FOP_RANGE = 1,		/* lo <= x <= hi (integer column) */
	FOP_MASK,		/* (x & m) == v (integer column) */
	FOP_SET,		/* x is in a set of values (integer column) */
	FOP_ADDR,		/* (a & mask) == value (address column) */
	FOP_ADDR_LIST		/* a lies in one of a list of prefixes */
};

/* How a leaf prints when its column alone does not say it. */
enum fn_style {
	FST_PLAIN = 0,
	FST_FLAGS_LETTERS,	/* FOP_MASK on tcp_flags: "flags SA" (v == m,
				   all set) or "not flags SA" (v == 0, none
				   set); never negated */
	FST_ICMP_TYPE,		/* FOP_MASK on dport: "icmp-type 8" */
	FST_ICMP_CODE,		/* FOP_MASK on dport: "icmp-code 0" */
	FST_INET,		/* FOP_MASK on flags: "inet"/"inet6" */
	FST_TAG			/* FOP_MASK on tags: "tag 3" */
};

/* Set of integers: sorted unique values; a bitmap for 8/16-bit columns. */
struct fset {
	size_t n;
	uint32_t *vals;
	uint64_t *bits;		/* 2^width bits, NULL for 32-bit columns */
};

/* One prefix of an address list (address masked to len bits). */
struct fprefix {
	uint8_t a[16];
	uint8_t len;		/* 0..128 */
};

/* An address interval [lo, hi] as 128-bit big-endian numbers. */
struct fiv6 {
	uint64_t lo_hi, lo_lo;
	uint64_t hi_hi, hi_lo;
};

struct fiv4 {
	uint32_t lo, hi;
};

/* A prefix as mask and value in native-order 64-bit loads. */
struct fnat {
	uint64_t m[2], v[2];
};

/* A list of prefixes, with equivalent lookup forms. */
struct flist {
	size_t n;		/* prefixes as written (masked), for printing */
	struct fprefix *pfx;	/* and for filter_match */
	struct fnat *nat;	/* the same as native-order masks */
	size_t nnat6;		/* those of them that hold an address out- */
	struct fnat *nat6;	/* side ::ffff:0:0/96 (for non-IPv4 rows) */
	size_t n6;		/* sorted, disjoint, merged 128-bit intervals */
	struct fiv6 *iv6;
	size_t n4;		/* the same restricted to ::ffff:0:0/96, as */
	struct fiv4 *iv4;	/* host-order IPv4 intervals */
};

/* (a & mask) == value, with the equivalent IPv4-form test. */
struct faddr {
	uint8_t mask[16];
	uint8_t val[16];	/* val == val & mask */
	uint64_t m64[2];	/* mask and val as two native-order loads */
	uint64_t v64[2];
	int v4any;		/* 0: no IPv4 address matches */
	uint32_t m4, v4;	/* else: IPv4 a matches iff (a & m4) == v4 */
};

struct fnode {
	uint8_t kind;		/* enum fn_kind */
	uint8_t op;		/* enum fn_op (leaves) */
	uint8_t col;		/* enum store_col (leaves) */
	uint8_t neg;		/* leaves: result inverted */
	uint8_t style;		/* enum fn_style (leaves) */
	uint32_t cost;		/* estimated evaluation cost, for ordering */
	size_t nkids;		/* AND/OR/NOT */
	struct fnode **kids;
	union {
		struct { uint64_t lo, hi; } range;
		struct { uint64_t m, v; } mask;
		const struct fset *set;
		struct faddr addr;
		const struct flist *list;
	} u;
};

struct farena_chunk;

struct query_filter {
	struct fnode *root;
	uint32_t cols;		/* columns read (STORE_COLBIT mask) */
	size_t scratch;		/* scratch bitmaps filter_eval needs */
	size_t mem;		/* bytes allocated for the compiled form */
	int over;		/* an allocation hit FILTER_MAX_MEM */
	struct farena_chunk *chunks;
};

/* The largest value of integer column col. */
static inline uint64_t
filter_col_max(unsigned col)
{
	switch (store_col_width(col)) {
	case 1: return UINT8_MAX;
	case 2: return UINT16_MAX;
	case 4: return UINT32_MAX;
	default: return UINT64_MAX;
	}
}

/*
 * n bytes (16-aligned) of f's compiled form (filter.c), freed with f.
 * NULL when out of memory or past FILTER_MAX_MEM (then f->over is set).
 */
void *filter_alloc(query_filter_t *f, size_t n);

/*
 * Normalize the parsed tree *root of f in place (filter_norm.c) into the
 * shape described above, and set f's columns and scratch needs. Returns
 * 0, FF_ENOMEM, or FF_ESYNTAX when the compiled form grew past
 * FILTER_MAX_MEM.
 */
int filter_normalize(query_filter_t *f, struct fnode **root);

/*
 * Print the compiled filter f in normalized form (fully parenthesized,
 * NOT pushed into the terms, constants folded) into buf of len bytes.
 * The text compiles back to an equivalent filter that prints the same,
 * unless it exceeds a FILTER_MAX_* limit (the print of a filter near the
 * limits can be longer, deeper, or have more terms). Returns the length
 * the full text needs (like snprintf); the output is truncated to
 * len - 1 (buf may be NULL when len is 0).
 */
size_t filter_print(const query_filter_t *f, char *buf, size_t len);

/*
 * Name of IP protocol p as the filter language knows it (nfdump's names,
 * "TCP"), or NULL when p has no name that parses back to p.
 */
const char *filter_proto_name(unsigned p);

#endif
