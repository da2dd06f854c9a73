/*
 * Internal to the filter parser: the tokens of the filter language and
 * the lexer that makes them (filter_lex.c), with the values a token can
 * stand for (numbers, addresses, protocol names).
 */
#ifndef FF_FILTER_LEX_H
#define FF_FILTER_LEX_H

#include <stddef.h>
#include <stdint.h>

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

struct token {
	enum tok t;
	enum kw kw;		/* T_WORD only */
	const char *s;		/* text in the input */
	size_t len;
	unsigned line;		/* 1-based */
	size_t col;		/* 1-based byte column within the line */
};


/* The lexer's state over one filter text; tok is the current token. */
struct flexer {
	const char *text;
	size_t len, pos;
	unsigned line;
	size_t line_start;
	struct token tok;
};

/* Start lx on text (len bytes) and read the first token into lx->tok. */
void filter_lex_start(struct flexer *lx, const char *text, size_t len);

/* Read the next token into lx->tok (T_END at the end, again and again). */
void filter_lex(struct flexer *lx);

/* 1 if c may appear in a word token. */
int filter_word_char(int c);

/* 1 if t is the word s, in any case. */
int filter_word_eq(const struct token *t, const char *s);

/*
 * The number token t stands for, as nfdump reads it: decimal, 0x hex, or
 * decimal with one k/m/g/t suffix (powers of 1000). Returns 0, -1 (not
 * a number) or -2 (does not fit in 64 bits).
 */
int filter_tok_number(const struct token *t, uint64_t *out);

/*
 * The address word t stands for, in 16-byte form. With partial, an IPv4
 * network may leave out trailing octets ("172.16"). *is4 tells whether
 * the text was IPv4; *bits is how many bits of its own family the text
 * fixes (8 per IPv4 octet given, 128 for IPv6). Returns 0 or -1.
 */
int filter_tok_addr(const struct token *t, int partial, uint8_t a[16],
    int *is4, unsigned *bits);

/*
 * The IP protocol number the name s (n bytes; nfdump's names, any case)
 * stands for, or -1.
 */
int filter_proto_lookup(const char *s, size_t n);

#endif
